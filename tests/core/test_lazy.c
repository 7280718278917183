/* The lazy loader (libecr/core/lazy.c): libcurl, libpq and libarchive are not
 * mapped until a module needs them; a library that cannot be loaded is a clear
 * error. The cases run in order in one process (a library is loaded once). */
#include "../helpers/helpers.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/core/core.h"
#include "libecr/core/digest.h"
#include "libecr/core/lazy.h"
#include "libecr/core/lazy_archive.h"
#include "libecr/core/lazy_curl.h"

/* Whether /proc/self/maps names a file whose base name starts with prefix. */
static int mapped(const char *prefix)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];
	int found = 0;
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		const char *slash = strrchr(line, '/');
		if (slash && strncmp(slash + 1, prefix, strlen(prefix)) == 0)
			found = 1;
	}
	fclose(f);
	return found;
}

/* ecr_init, a file:// registry and a running server answering /v2/: none of the three libraries is mapped. */
static void test_core_lazy__nothing_mapped_at_start(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char url[1100];
	ecr_registry *reg = NULL;
	ecr_server *srv = NULL;
	ecr_server_options o;

	assert_true(ecr_init() >= 1);
	snprintf(url, sizeof(url), "file://%s/reg", dir);
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr_server_options_init(&o, ECR_SERVER_OPTIONS_VERSION));
	o.flags = ECR_SERVER_NO_AUTH;
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	char resp[512]; /* GET /v2/ through a plain socket, not curl */
	assert_int_equal(th_http_raw(ecr_server_port(srv), "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
	                             NULL, 0, resp, sizeof(resp)),
	                 200);

	assert_false(mapped("libcurl.so"));
	assert_false(mapped("libpq.so"));
	assert_false(mapped("libarchive.so"));
	if (strcmp(ecr__digest_provider(), "libcrypto") == 0)
		assert_false(mapped("libcrypto.so")); /* no hash yet: OpenSSL neither mapped nor initialised */
	assert_false(ecr__lazy_is_loaded(ECR__LAZY_CURL));
	assert_false(ecr__lazy_is_loaded(ECR__LAZY_PQ));
	assert_false(ecr__lazy_is_loaded(ECR__LAZY_ARCHIVE));
	/* and the test itself is not linked with them (which would hide a regression) */
	assert_false(mapped("libssl.so"));

	assert_ok(ecr_server_stop(srv));
	ecr_server_free(srv);
	ecr_registry_free(reg);
	assert_true(ecr_shutdown() >= 0);
	th_rmtree(dir);
}

/* A library that is missing: ECR_ENOTSUPPORTED naming it and dlerror()'s text, every time, and nothing mapped. */
static void test_core_lazy__missing_library(void **state)
{
	(void)state;
	ecr_meta_store *m = NULL;

	assert_ok(ecr__lazy_set_soname(ECR__LAZY_PQ, "libecr-no-such-library.so.0"));
	for (int i = 0; i < 2; i++) {
		/* the PostgreSQL store's first libpq call loads it */
		assert_int_equal(ecr_meta_store_postgres_new(&m, "postgresql://u@127.0.0.1:1/db", 0),
		                 ECR_ENOTSUPPORTED);
		assert_null(m);
		const char *msg = ecr_error_last()->message;
		assert_non_null(strstr(msg, "libpq"));
		assert_non_null(strstr(msg, "libecr-no-such-library.so.0")); /* dlerror() names the file */
	}
	assert_false(ecr__lazy_is_loaded(ECR__LAZY_PQ));
	assert_false(mapped("libecr-no-such-library"));
	/* the name cannot change after the attempt */
	assert_int_equal(ecr__lazy_set_soname(ECR__LAZY_PQ, NULL), ECR_EBUSY);
	assert_int_equal(ecr__lazy_load(ECR__LAZY_PQ), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr__lazy_load(-1), ECR_EINVALID);
}

/* A library that loads but lacks a function: the missing name in the error, the library closed again. */
static void test_core_lazy__missing_symbol(void **state)
{
	(void)state;
	assert_ok(ecr__lazy_set_soname(ECR__LAZY_ARCHIVE, "libm.so.6")); /* no archive_* functions */
	assert_int_equal(ecr__lazy_load(ECR__LAZY_ARCHIVE), ECR_ENOTSUPPORTED);
	const char *msg = ecr_error_last()->message;
	assert_non_null(strstr(msg, "libarchive"));
	assert_non_null(strstr(msg, "no symbol archive_"));
	assert_false(ecr__lazy_is_loaded(ECR__LAZY_ARCHIVE));
	assert_false(mapped("libarchive.so"));
	/* the NULL-tolerant free works without the library */
	assert_int_equal(archive_read_free(NULL), ARCHIVE_OK);
}

/* A library whose module resolves it (ecr__lazy_load_with): the hook runs once on the opened library; when it
 * names a missing function, the module's clear runs, the error names the function, and later calls fail alike. */
static int hook_resolved, hook_cleared;
static const char *hook_resolve(void *h)
{
	hook_resolved++;
	return dlsym(h, "MHD_start_daemon") ? NULL : "MHD_start_daemon";
}
static void hook_clear(void)
{
	hook_cleared++;
}
static const char *hook_other(void *h)
{
	(void)h;
	return NULL;
}

static void test_core_lazy__hooks(void **state)
{
	(void)state;
	assert_int_equal(ecr__lazy_load_with(ECR__LAZY_CURL, hook_resolve, hook_clear), ECR_EINVALID);
	assert_int_equal(ecr__lazy_load_with(ECR__LAZY_MHD, NULL, hook_clear), ECR_EINVALID);
	assert_ok(ecr__lazy_set_soname(ECR__LAZY_MHD, "libm.so.6")); /* no MHD_* functions */
	assert_int_equal(ecr__lazy_load_with(ECR__LAZY_MHD, hook_resolve, hook_clear), ECR_ENOTSUPPORTED);
	const char *msg = ecr_error_last()->message;
	assert_non_null(strstr(msg, "libmicrohttpd"));
	assert_non_null(strstr(msg, "HTTPS"));
	assert_non_null(strstr(msg, "no symbol MHD_start_daemon"));
	assert_int_equal(hook_resolved, 1);
	assert_int_equal(hook_cleared, 1);
	/* once for the process: neither other hooks nor a plain load try again */
	assert_int_equal(ecr__lazy_load_with(ECR__LAZY_MHD, hook_other, hook_clear), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr__lazy_load(ECR__LAZY_MHD), ECR_ENOTSUPPORTED);
	assert_int_equal(hook_resolved, 1);
	assert_false(ecr__lazy_is_loaded(ECR__LAZY_MHD));
	assert_non_null(strstr(ecr__lazy_error(ECR__LAZY_MHD), "MHD_start_daemon"));
}

/* libcurl: loaded by the first use only, initialised again after the last ecr_shutdown(). */
static void test_core_lazy__curl_on_first_use(void **state)
{
	(void)state;
	assert_false(mapped("libcurl.so"));
	curl_free(NULL); /* before the load: nothing to do */
	curl_slist_free_all(NULL);
	assert_true(ecr_init() >= 1);
	assert_ok(ecr__lazy_curl());
	assert_true(ecr__lazy_is_loaded(ECR__LAZY_CURL));
	assert_true(mapped("libcurl.so.4"));
	for (int round = 0; round < 2; round++) {
		assert_ok(ecr__lazy_curl());
		CURL *c = curl_easy_init();
		assert_non_null(c);
		assert_int_equal(curl_easy_setopt(c, CURLOPT_URL, "http://127.0.0.1:1/"), CURLE_OK);
		struct curl_slist *l = curl_slist_append(NULL, "X-Test: 1");
		assert_non_null(l);
		curl_slist_free_all(l);
		curl_easy_cleanup(c);
		assert_true(ecr_shutdown() >= 0); /* the last one: curl_global_cleanup */
		assert_true(ecr_init() >= 1);
	}
	assert_true(ecr_shutdown() >= 0);
	/* the soname is fixed once loaded */
	assert_int_equal(ecr__lazy_set_soname(ECR__LAZY_CURL, "x.so"), ECR_EBUSY);
}

/* The first hash loads libcrypto (the libcrypto provider), and the digests are right. */
static void test_core_lazy__crypto_on_first_hash(void **state)
{
	(void)state;
	char hex[160];
	ecr__digest_ctx *d = NULL;
	int lc = strcmp(ecr__digest_provider(), "libcrypto") == 0;
	if (lc)
		assert_false(mapped("libcrypto.so"));
	assert_ok(ecr__digest_buf(hex, sizeof(hex), ECR__DIGEST_SHA256, "abc", 3));
	assert_string_equal(hex, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_ok(ecr__digest_new(&d, ECR__DIGEST_SHA512));
	assert_ok(ecr__digest_update(d, "a", 1));
	assert_ok(ecr__digest_update(d, "bc", 2));
	assert_ok(ecr__digest_final(d, hex, sizeof(hex)));
	assert_string_equal(hex, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	                         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	ecr__digest_free(d);
	if (lc) {
		assert_true(ecr__lazy_is_loaded(ECR__LAZY_CRYPTO));
		assert_true(mapped("libcrypto.so.3"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_core_lazy__nothing_mapped_at_start),
	    cmocka_unit_test(test_core_lazy__missing_library),
	    cmocka_unit_test(test_core_lazy__missing_symbol),
	    cmocka_unit_test(test_core_lazy__hooks),
	    cmocka_unit_test(test_core_lazy__crypto_on_first_hash), /* before libcurl, which maps libcrypto */
	    cmocka_unit_test(test_core_lazy__curl_on_first_use),
	};
	return cmocka_run_group_tests_name("core/lazy", tests, NULL, NULL);
}
