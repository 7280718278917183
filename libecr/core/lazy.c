/* The lazy loader (lazy.h): dlopen() of libcurl, libpq, libarchive, libcrypto and libmicrohttpd on first use. */
#define ECR__LAZY_IMPL 1
#include "core.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "lazy.h"
#include "lazy_archive.h"
#include "lazy_curl.h"
#include "lazy_pq.h"

struct ecr__curl_api ecr__curl_api;
struct ecr__pq_api ecr__pq_api;
struct ecr__archive_api ecr__archive_api;

typedef struct lazy_lib {
	const char *name;     /* for messages */
	const char *soname;   /* Debian's */
	const char *used_for; /* for messages */
	pthread_once_t once;
	int state; /* 0 not tried, 1 loaded, -1 failed (under once; read with __atomic) */
	char err[512];
	ecr__lazy_resolve_fn resolve; /* a table kept by its module (under soname_lock) */
	ecr__lazy_clear_fn clear;
} lazy_lib;

static lazy_lib libs[ECR__LAZY_COUNT] = {
    [ECR__LAZY_CURL] =
        {"libcurl", "libcurl.so.4", "HTTP transport, S3 blob store and webhooks", PTHREAD_ONCE_INIT, 0, {0}},
    [ECR__LAZY_PQ] = {"libpq", "libpq.so.5", "the PostgreSQL metadata store", PTHREAD_ONCE_INIT, 0, {0}},
    [ECR__LAZY_ARCHIVE] = {"libarchive", "libarchive.so.13", "image scanning", PTHREAD_ONCE_INIT, 0, {0}},
    [ECR__LAZY_CRYPTO] = {"libcrypto", "libcrypto.so.3", "SHA-256/512 digests", PTHREAD_ONCE_INIT, 0, {0},
        ecr__lazy_crypto_resolve, ecr__lazy_crypto_clear},
    [ECR__LAZY_MHD] = {"libmicrohttpd with TLS", "libmicrohttpd.so.12",
        "HTTPS (libecr's own libmicrohttpd has no TLS)", PTHREAD_ONCE_INIT, 0, {0}, NULL, NULL},
};

static pthread_mutex_t soname_lock = PTHREAD_MUTEX_INITIALIZER;
static char soname_override[ECR__LAZY_COUNT][256];

/* Open lib, resolve every name; on failure keep the message and close the library. */
static void load(int which)
{
	lazy_lib *l = &libs[which];
	char soname[256];
	ecr__lazy_resolve_fn resolve;
	ecr__lazy_clear_fn clear;
	pthread_mutex_lock(&soname_lock);
	snprintf(soname, sizeof(soname), "%s", soname_override[which][0] ? soname_override[which] : l->soname);
	resolve = l->resolve;
	clear = l->clear;
	pthread_mutex_unlock(&soname_lock);
	if (which > ECR__LAZY_ARCHIVE && !resolve) { /* resolved by its module */
		snprintf(l->err, sizeof(l->err), "no module resolves %s", soname);
		goto fail;
	}

	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;
	if (!h) {
		const char *e = dlerror();
		snprintf(l->err, sizeof(l->err), "%s", e ? e : soname);
		goto fail;
	}
	dlerror();
#define RESOLVE(api, f)                                                                                                \
	if (!missing && !((api).f = (__typeof__((api).f))dlsym(h, #f)))                                                \
		missing = #f;
#define RESOLVE_CURL(f) RESOLVE(ecr__curl_api, f)
#define RESOLVE_PQ(f) RESOLVE(ecr__pq_api, f)
#define RESOLVE_ARCHIVE(f) RESOLVE(ecr__archive_api, f)
	switch (which) {
	case ECR__LAZY_CURL:
		ECR__CURL_FUNCS(RESOLVE_CURL)
		break;
	case ECR__LAZY_PQ:
		ECR__PQ_FUNCS(RESOLVE_PQ)
		break;
	case ECR__LAZY_ARCHIVE:
		ECR__ARCHIVE_FUNCS(RESOLVE_ARCHIVE)
		break;
	default:
		missing = resolve(h);
		break;
	}
#undef RESOLVE
#undef RESOLVE_CURL
#undef RESOLVE_PQ
#undef RESOLVE_ARCHIVE
	if (missing) {
		snprintf(l->err, sizeof(l->err), "%s: no symbol %s", soname, missing);
		/* the table is not used after a failure; clear it all the same */
		if (which == ECR__LAZY_CURL)
			memset(&ecr__curl_api, 0, sizeof(ecr__curl_api));
		else if (which == ECR__LAZY_PQ)
			memset(&ecr__pq_api, 0, sizeof(ecr__pq_api));
		else if (which == ECR__LAZY_ARCHIVE)
			memset(&ecr__archive_api, 0, sizeof(ecr__archive_api));
		else if (clear)
			clear();
		dlclose(h);
		goto fail;
	}
	/* never closed: the library stays for the life of the process */
	__atomic_store_n(&l->state, 1, __ATOMIC_RELEASE);
	return;
fail:
	__atomic_store_n(&l->state, -1, __ATOMIC_RELEASE);
}

static void load_curl(void)
{
	load(ECR__LAZY_CURL);
}
static void load_pq(void)
{
	load(ECR__LAZY_PQ);
}
static void load_archive(void)
{
	load(ECR__LAZY_ARCHIVE);
}
static void load_crypto(void)
{
	load(ECR__LAZY_CRYPTO);
}
static void load_mhd(void)
{
	load(ECR__LAZY_MHD);
}

int ecr__lazy_load(int which)
{
	static void (*const loaders[ECR__LAZY_COUNT])(void) = {load_curl, load_pq, load_archive, load_crypto, load_mhd};
	if (which < 0 || which >= ECR__LAZY_COUNT)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INTERNAL, "lazy: no library %d", which);
	lazy_lib *l = &libs[which];
	if (__atomic_load_n(&l->state, __ATOMIC_ACQUIRE) == 0)
		pthread_once(&l->once, loaders[which]);
	if (__atomic_load_n(&l->state, __ATOMIC_ACQUIRE) > 0)
		return 0;
	return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INTERNAL, "%s (needed for %s) could not be loaded: %s", l->name,
	                 l->used_for, l->err);
}

int ecr__lazy_load_with(int which, ecr__lazy_resolve_fn resolve, ecr__lazy_clear_fn clear)
{
	if (which <= ECR__LAZY_ARCHIVE || which >= ECR__LAZY_COUNT || !resolve || !clear)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INTERNAL, "lazy: no hooks for library %d", which);
	pthread_mutex_lock(&soname_lock);
	if (!libs[which].resolve) {
		libs[which].resolve = resolve;
		libs[which].clear = clear;
	}
	pthread_mutex_unlock(&soname_lock);
	return ecr__lazy_load(which);
}

int ecr__lazy_is_loaded(int which)
{
	if (which < 0 || which >= ECR__LAZY_COUNT)
		return 0;
	return __atomic_load_n(&libs[which].state, __ATOMIC_ACQUIRE) > 0;
}

const char *ecr__lazy_error(int which)
{
	if (which < 0 || which >= ECR__LAZY_COUNT || __atomic_load_n(&libs[which].state, __ATOMIC_ACQUIRE) >= 0)
		return "";
	return libs[which].err;
}

int ecr__lazy_set_soname(int which, const char *soname)
{
	if (which < 0 || which >= ECR__LAZY_COUNT || (soname && strlen(soname) >= sizeof(soname_override[0])))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lazy: invalid library or name");
	pthread_mutex_lock(&soname_lock);
	int rc = 0;
	if (__atomic_load_n(&libs[which].state, __ATOMIC_ACQUIRE) != 0)
		rc = ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "lazy: %s was loaded already", libs[which].name);
	else
		snprintf(soname_override[which], sizeof(soname_override[which]), "%s", soname ? soname : "");
	pthread_mutex_unlock(&soname_lock);
	return rc;
}

/* --- libcurl's global init, with libecr's allocator --- */

static pthread_mutex_t curl_lock = PTHREAD_MUTEX_INITIALIZER;
static int curl_inited; /* under curl_lock; also read with __atomic */

static void *mem_malloc(size_t n)
{
	return ecr__alloc_raw_malloc(n);
}
static void mem_free(void *p)
{
	ecr__alloc_raw_free(p);
}
static void *mem_realloc(void *p, size_t n)
{
	return ecr__alloc_raw_realloc(p, n);
}
static char *mem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = ecr__alloc_raw_malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}
static void *mem_calloc(size_t nmemb, size_t size)
{
	size_t total;
	if (ecr__mul_overflow(nmemb, size, &total))
		return NULL;
	void *p = ecr__alloc_raw_malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

int ecr__lazy_curl(void)
{
	int rc = ecr__lazy_load(ECR__LAZY_CURL);
	if (rc < 0)
		return rc;
	if (__atomic_load_n(&curl_inited, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&curl_lock);
	if (!curl_inited) {
		CURLcode cc = ecr__curl_api.curl_global_init_mem(CURL_GLOBAL_DEFAULT, mem_malloc, mem_free, mem_realloc,
		                                                 mem_strdup, mem_calloc);
		if (cc != CURLE_OK)
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "curl_global_init failed: %s",
			               ecr__curl_api.curl_easy_strerror(cc));
		else
			__atomic_store_n(&curl_inited, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&curl_lock);
	return rc;
}

void ecr__lazy_curl_shutdown(void)
{
	pthread_mutex_lock(&curl_lock);
	if (curl_inited) {
		ecr__curl_api.curl_global_cleanup();
		__atomic_store_n(&curl_inited, 0, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&curl_lock);
}

/* --- the NULL-tolerant frees --- */

void ecr__lazy_curl_free(void *p)
{
	if (p)
		ecr__curl_api.curl_free(p);
}
void ecr__lazy_curl_slist_free_all(struct curl_slist *l)
{
	if (l)
		ecr__curl_api.curl_slist_free_all(l);
}
void ecr__lazy_curl_easy_cleanup(CURL *c)
{
	if (c)
		ecr__curl_api.curl_easy_cleanup(c);
}
void ecr__lazy_curl_url_cleanup(CURLU *u)
{
	if (u)
		ecr__curl_api.curl_url_cleanup(u);
}
void ecr__lazy_PQclear(PGresult *r)
{
	if (r)
		ecr__pq_api.PQclear(r);
}
void ecr__lazy_PQfinish(PGconn *c)
{
	if (c)
		ecr__pq_api.PQfinish(c);
}
void ecr__lazy_PQfreemem(void *p)
{
	if (p)
		ecr__pq_api.PQfreemem(p);
}
void ecr__lazy_PQconninfoFree(PQconninfoOption *o)
{
	if (o)
		ecr__pq_api.PQconninfoFree(o);
}
int ecr__lazy_archive_read_free(struct archive *a)
{
	return a ? ecr__archive_api.archive_read_free(a) : ARCHIVE_OK;
}
