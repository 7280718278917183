/* libcrypto on first use (libecr/core/lazy_crypto.c): when it cannot be loaded, the digests fail with an error
 * that says why, and nothing is mapped. (Its own process: a library is loaded, or not, once.) */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <string.h>

#include "libecr/core/core.h"
#include "libecr/core/digest.h"
#include "libecr/core/lazy.h"

static void test_core_lazy_crypto__missing_library(void **state)
{
	(void)state;
	char hex[160];
	ecr__digest_ctx *d = NULL;
	if (strcmp(ecr__digest_provider(), "libcrypto") != 0)
		return; /* -Ddigest=mbedtls: no libcrypto to load (not skip(): meson counts TAP's SKIP as a failure) */
	assert_ok(ecr__lazy_set_soname(ECR__LAZY_CRYPTO, "libecr-no-such-crypto.so.3"));
	int rc = ecr__digest_buf(hex, sizeof(hex), ECR__DIGEST_SHA256, "abc", 3);
	assert_true(rc < 0);
	const char *msg = ecr_error_last()->message;
	assert_non_null(strstr(msg, "libecr-no-such-crypto.so.3")); /* dlerror() names the file */
	assert_true(ecr__digest_new(&d, ECR__DIGEST_SHA256) < 0);   /* EVP_MD_CTX_new() answers NULL */
	assert_null(d);
	assert_false(ecr__lazy_is_loaded(ECR__LAZY_CRYPTO));
	assert_non_null(strstr(ecr__lazy_error(ECR__LAZY_CRYPTO), "libecr-no-such-crypto.so.3"));
	assert_int_equal(ecr__lazy_load(ECR__LAZY_CRYPTO), ECR_ENOTSUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_core_lazy_crypto__missing_library),
	};
	return cmocka_run_group_tests_name("core/lazy_crypto", tests, NULL, NULL);
}
