/* core/digest: known vectors (FIPS 180-2 examples), incremental updates,
 * clone and reset. Built twice: against the configured provider and against
 * a copy of digest.c forced to mbedTLS (ECR_DIGEST_FORCE_MBEDTLS=1). */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr_config.h"
#include "libecr/core/digest.h"

#if defined(ECR_DIGEST_FORCE_MBEDTLS) && ECR_DIGEST_FORCE_MBEDTLS
#define EXPECTED_PROVIDER "mbedtls"
#define GROUP_NAME "core/digest-mbedtls"
#elif ECR_DIGEST_LIBCRYPTO
#define EXPECTED_PROVIDER "libcrypto"
#define GROUP_NAME "core/digest"
#else
#define EXPECTED_PROVIDER "mbedtls"
#define GROUP_NAME "core/digest"
#endif

#define MSG448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define MSG896                                                                                                         \
	"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"

struct vector {
	ecr__digest_alg alg;
	const char *msg;
	const char *expect;
};

static const struct vector vectors[] = {
	{ ECR__DIGEST_SHA256, "", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ ECR__DIGEST_SHA256, "abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ ECR__DIGEST_SHA256, MSG448, "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ ECR__DIGEST_SHA256, MSG896, "sha256:cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	{ ECR__DIGEST_SHA512, "",
	  "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
	{ ECR__DIGEST_SHA512, "abc",
	  "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
	{ ECR__DIGEST_SHA512, MSG448,
	  "sha512:204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
	  "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445" },
	{ ECR__DIGEST_SHA512, MSG896,
	  "sha512:8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
	  "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909" },
};

static const char *million_a[2] = {
	"sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	"sha512:e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
	"de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
};

static void test_core_digest__provider(void **state)
{
	(void)state;
	assert_string_equal(ecr__digest_provider(), EXPECTED_PROVIDER);
}

static void test_core_digest__names(void **state)
{
	ecr__digest_alg alg = ECR__DIGEST_SHA512;
	(void)state;
	assert_ok(ecr__digest_alg_from_name(&alg, "sha256", 6));
	assert_int_equal(alg, ECR__DIGEST_SHA256);
	assert_ok(ecr__digest_alg_from_name(&alg, "sha512:abc", 6));
	assert_int_equal(alg, ECR__DIGEST_SHA512);
	assert_int_equal(ecr__digest_alg_from_name(&alg, "sha384", 6), ECR_EINVALID);
	assert_int_equal(ecr__digest_alg_from_name(&alg, "sha25", 5), ECR_EINVALID);
	assert_int_equal(ecr__digest_alg_from_name(&alg, "SHA256", 6), ECR_EINVALID);
	assert_int_equal(ecr__digest_alg_from_name(&alg, "sha2566", 7), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "sha2566"));
	assert_string_equal(ecr__digest_alg_name(ECR__DIGEST_SHA256), "sha256");
	assert_string_equal(ecr__digest_alg_name(ECR__DIGEST_SHA512), "sha512");
	assert_int_equal(ecr__digest_hex_len(ECR__DIGEST_SHA256), 64);
	assert_int_equal(ecr__digest_hex_len(ECR__DIGEST_SHA512), 128);
}

static void test_core_digest__vectors_oneshot(void **state)
{
	char out[ECR__DIGEST_STRLEN_MAX];
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_ok(ecr__digest_buf(out, sizeof(out), vectors[i].alg, vectors[i].msg, strlen(vectors[i].msg)));
		assert_string_equal(out, vectors[i].expect);
	}
	/* NULL with length 0 is the empty message. */
	assert_ok(ecr__digest_buf(out, sizeof(out), ECR__DIGEST_SHA256, NULL, 0));
	assert_string_equal(out, vectors[0].expect);
}

static void test_core_digest__vectors_incremental(void **state)
{
	char out[ECR__DIGEST_STRLEN_MAX];
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		ecr__digest_ctx *ctx = NULL;
		const char *m = vectors[i].msg;
		assert_ok(ecr__digest_new(&ctx, vectors[i].alg));
		assert_int_equal(ecr__digest_ctx_alg(ctx), vectors[i].alg);
		/* byte by byte, with empty updates in between */
		for (size_t j = 0; m[j]; j++) {
			assert_ok(ecr__digest_update(ctx, m + j, 1));
			assert_ok(ecr__digest_update(ctx, m, 0));
		}
		assert_ok(ecr__digest_final(ctx, out, sizeof(out)));
		assert_string_equal(out, vectors[i].expect);
		ecr__digest_free(ctx);
	}
}

static void test_core_digest__million_a(void **state)
{
	char out[ECR__DIGEST_STRLEN_MAX];
	size_t n = 1000000;
	char *buf = malloc(n);
	(void)state;
	assert_non_null(buf);
	memset(buf, 'a', n);
	for (int a = 0; a < 2; a++) {
		ecr__digest_alg alg = a ? ECR__DIGEST_SHA512 : ECR__DIGEST_SHA256;
		ecr__digest_ctx *ctx = NULL;

		assert_ok(ecr__digest_buf(out, sizeof(out), alg, buf, n));
		assert_string_equal(out, million_a[a]);

		/* odd-sized chunks that straddle block boundaries */
		assert_ok(ecr__digest_new(&ctx, alg));
		for (size_t off = 0; off < n;) {
			size_t chunk = n - off < 997 ? n - off : 997;
			assert_ok(ecr__digest_update(ctx, buf + off, chunk));
			off += chunk;
		}
		assert_ok(ecr__digest_final(ctx, out, sizeof(out)));
		assert_string_equal(out, million_a[a]);
		ecr__digest_free(ctx);
	}
	free(buf);
}

static void test_core_digest__split_every_position(void **state)
{
	unsigned char data[200];
	char expect[ECR__DIGEST_STRLEN_MAX], out[ECR__DIGEST_STRLEN_MAX];
	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 131 + 7);
	for (int a = 0; a < 2; a++) {
		ecr__digest_alg alg = a ? ECR__DIGEST_SHA512 : ECR__DIGEST_SHA256;
		ecr__digest_ctx *ctx = NULL;
		assert_ok(ecr__digest_buf(expect, sizeof(expect), alg, data, sizeof(data)));
		assert_ok(ecr__digest_new(&ctx, alg));
		for (size_t split = 0; split <= sizeof(data); split++) {
			assert_ok(ecr__digest_update(ctx, data, split));
			assert_ok(ecr__digest_update(ctx, data + split, sizeof(data) - split));
			assert_ok(ecr__digest_final(ctx, out, sizeof(out)));
			assert_string_equal(out, expect);
			assert_ok(ecr__digest_reset(ctx));
		}
		/* and a prefix of the data differs */
		assert_ok(ecr__digest_update(ctx, data, sizeof(data) - 1));
		assert_ok(ecr__digest_final(ctx, out, sizeof(out)));
		assert_string_not_equal(out, expect);
		ecr__digest_free(ctx);
	}
}

static void test_core_digest__final_raw(void **state)
{
	unsigned char raw[64];
	char hex[129];
	size_t n = 0;
	ecr__digest_ctx *ctx = NULL;
	(void)state;

	assert_ok(ecr__digest_new(&ctx, ECR__DIGEST_SHA256));
	assert_ok(ecr__digest_update(ctx, "abc", 3));
	assert_int_equal(ecr__digest_final_raw(ctx, raw, 31, &n), ECR_EBUFS);
	assert_ok(ecr__digest_final_raw(ctx, raw, 32, &n));
	assert_int_equal(n, 32);
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	assert_string_equal(hex, vectors[1].expect + 7);
	ecr__digest_free(ctx);

	assert_ok(ecr__digest_new(&ctx, ECR__DIGEST_SHA512));
	assert_ok(ecr__digest_update(ctx, "abc", 3));
	assert_ok(ecr__digest_final_raw(ctx, raw, sizeof(raw), &n));
	assert_int_equal(n, 64);
	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	assert_string_equal(hex, vectors[5].expect + 7);
	ecr__digest_free(ctx);
}

static void test_core_digest__clone(void **state)
{
	char a[ECR__DIGEST_STRLEN_MAX], b[ECR__DIGEST_STRLEN_MAX];
	(void)state;
	for (int alg = 0; alg < 2; alg++) {
		ecr__digest_ctx *ctx = NULL, *copy = NULL;
		const struct vector *abc = &vectors[alg ? 5 : 1];
		const struct vector *m448 = &vectors[alg ? 6 : 2];

		assert_ok(ecr__digest_new(&ctx, (ecr__digest_alg)alg));
		assert_ok(ecr__digest_update(ctx, "ab", 2));
		assert_ok(ecr__digest_clone(&copy, ctx));
		assert_int_equal(ecr__digest_ctx_alg(copy), alg);
		/* the copy and the original go on independently */
		assert_ok(ecr__digest_update(copy, "c", 1));
		assert_ok(ecr__digest_update(ctx, MSG448 + 2, strlen(MSG448) - 2));
		assert_ok(ecr__digest_final(copy, a, sizeof(a)));
		assert_ok(ecr__digest_final(ctx, b, sizeof(b)));
		assert_string_equal(a, abc->expect);
		assert_string_equal(b, m448->expect);
		ecr__digest_free(copy);
		ecr__digest_free(ctx);
	}
}

static void test_core_digest__reset(void **state)
{
	char out[ECR__DIGEST_STRLEN_MAX];
	ecr__digest_ctx *ctx = NULL;
	(void)state;

	assert_ok(ecr__digest_new(&ctx, ECR__DIGEST_SHA256));
	/* reset in the middle drops what was fed */
	assert_ok(ecr__digest_update(ctx, "garbage", 7));
	assert_ok(ecr__digest_reset(ctx));
	assert_ok(ecr__digest_update(ctx, "abc", 3));
	assert_ok(ecr__digest_final(ctx, out, sizeof(out)));
	assert_string_equal(out, vectors[1].expect);

	/* no update or second final until reset */
	assert_int_equal(ecr__digest_update(ctx, "abc", 3), ECR_EINVALID);
	assert_int_equal(ecr__digest_final(ctx, out, sizeof(out)), ECR_EINVALID);
	assert_ok(ecr__digest_reset(ctx));
	assert_ok(ecr__digest_final(ctx, out, sizeof(out)));
	assert_string_equal(out, vectors[0].expect);
	ecr__digest_free(ctx);
	ecr__digest_free(NULL);
}

static void test_core_digest__bad_args(void **state)
{
	char out[ECR__DIGEST_STRLEN_MAX];
	ecr__digest_ctx *ctx = (ecr__digest_ctx *)&out;
	(void)state;

	assert_int_equal(ecr__digest_new(&ctx, (ecr__digest_alg)7), ECR_EINVALID);
	assert_null(ctx);
	assert_int_equal(ecr__digest_buf(out, sizeof(out), (ecr__digest_alg)7, "a", 1), ECR_EINVALID);
	/* "sha256:" + 64 + NUL = 72 */
	assert_int_equal(ecr__digest_buf(out, 71, ECR__DIGEST_SHA256, "abc", 3), ECR_EBUFS);
	assert_ok(ecr__digest_buf(out, 72, ECR__DIGEST_SHA256, "abc", 3));
	assert_int_equal(ecr__digest_buf(out, 135, ECR__DIGEST_SHA512, "abc", 3), ECR_EBUFS);
	assert_ok(ecr__digest_buf(out, 136, ECR__DIGEST_SHA512, "abc", 3));
	assert_string_equal(out, vectors[5].expect);

	/* a too-small buffer does not consume the context */
	assert_ok(ecr__digest_new(&ctx, ECR__DIGEST_SHA256));
	assert_ok(ecr__digest_update(ctx, "abc", 3));
	assert_int_equal(ecr__digest_final(ctx, out, 10), ECR_EBUFS);
	assert_ok(ecr__digest_final(ctx, out, sizeof(out)));
	assert_string_equal(out, vectors[1].expect);
	ecr__digest_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_digest__provider),
		cmocka_unit_test(test_core_digest__names),
		cmocka_unit_test(test_core_digest__vectors_oneshot),
		cmocka_unit_test(test_core_digest__vectors_incremental),
		cmocka_unit_test(test_core_digest__million_a),
		cmocka_unit_test(test_core_digest__split_every_position),
		cmocka_unit_test(test_core_digest__final_raw),
		cmocka_unit_test(test_core_digest__clone),
		cmocka_unit_test(test_core_digest__reset),
		cmocka_unit_test(test_core_digest__bad_args),
	};
	return cmocka_run_group_tests_name(GROUP_NAME, tests, NULL, NULL);
}
