/* libcurl through the lazy loader (lazy.h): include this instead of <curl/curl.h>
 * and call ecr__lazy_curl() before the first curl function. */
#ifndef ECR_CORE_LAZY_CURL_H
#define ECR_CORE_LAZY_CURL_H

#include "lazy.h"

/* curl's gcc type checks are macros named like the functions: off, the names are ours */
#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK 1
#endif
#include <curl/curl.h>

/* clang-format off */
#define ECR__CURL_FUNCS(X) \
	X(curl_global_init_mem) X(curl_global_cleanup) X(curl_free) X(curl_easy_init) X(curl_easy_cleanup) \
	X(curl_easy_reset) X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_perform) X(curl_easy_pause) \
	X(curl_easy_strerror) X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_add_handle) \
	X(curl_multi_remove_handle) X(curl_multi_perform) X(curl_multi_poll) X(curl_multi_info_read) \
	X(curl_multi_strerror) X(curl_share_init) X(curl_share_cleanup) X(curl_share_setopt) \
	X(curl_slist_append) X(curl_slist_free_all) X(curl_url) X(curl_url_cleanup) X(curl_url_get) \
	X(curl_url_set) X(curl_url_strerror)
/* clang-format on */

#define ECR__LAZY_FIELD(f) __typeof__(&f) f;
struct ecr__curl_api {
	ECR__CURL_FUNCS(ECR__LAZY_FIELD)
};
extern struct ecr__curl_api ecr__curl_api;

/* NULL-tolerant before the load */
void ecr__lazy_curl_free(void *p);
void ecr__lazy_curl_slist_free_all(struct curl_slist *l);
void ecr__lazy_curl_easy_cleanup(CURL *c);
void ecr__lazy_curl_url_cleanup(CURLU *u);

#ifndef ECR__LAZY_IMPL
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#define curl_global_init_mem (*ecr__curl_api.curl_global_init_mem)
#define curl_global_cleanup (*ecr__curl_api.curl_global_cleanup)
#define curl_free ecr__lazy_curl_free
#define curl_easy_init (*ecr__curl_api.curl_easy_init)
#define curl_easy_cleanup ecr__lazy_curl_easy_cleanup
#define curl_easy_reset (*ecr__curl_api.curl_easy_reset)
#define curl_easy_setopt (*ecr__curl_api.curl_easy_setopt)
#define curl_easy_getinfo (*ecr__curl_api.curl_easy_getinfo)
#define curl_easy_perform (*ecr__curl_api.curl_easy_perform)
#define curl_easy_pause (*ecr__curl_api.curl_easy_pause)
#define curl_easy_strerror (*ecr__curl_api.curl_easy_strerror)
#define curl_multi_init (*ecr__curl_api.curl_multi_init)
#define curl_multi_cleanup (*ecr__curl_api.curl_multi_cleanup)
#define curl_multi_add_handle (*ecr__curl_api.curl_multi_add_handle)
#define curl_multi_remove_handle (*ecr__curl_api.curl_multi_remove_handle)
#define curl_multi_perform (*ecr__curl_api.curl_multi_perform)
#define curl_multi_poll (*ecr__curl_api.curl_multi_poll)
#define curl_multi_info_read (*ecr__curl_api.curl_multi_info_read)
#define curl_multi_strerror (*ecr__curl_api.curl_multi_strerror)
#define curl_share_init (*ecr__curl_api.curl_share_init)
#define curl_share_cleanup (*ecr__curl_api.curl_share_cleanup)
#define curl_share_setopt (*ecr__curl_api.curl_share_setopt)
#define curl_slist_append (*ecr__curl_api.curl_slist_append)
#define curl_slist_free_all ecr__lazy_curl_slist_free_all
#define curl_url (*ecr__curl_api.curl_url)
#define curl_url_cleanup ecr__lazy_curl_url_cleanup
#define curl_url_get (*ecr__curl_api.curl_url_get)
#define curl_url_set (*ecr__curl_api.curl_url_set)
#define curl_url_strerror (*ecr__curl_api.curl_url_strerror)
#endif

#endif
