/* core/crypto: RFC 4231 HMAC vectors, RFC 4648 base64 vectors, base64url,
 * rejection of bad input, hex, random bytes and UUIDs. */
#include "../helpers/helpers.h"

#include <stdlib.h>
#include <string.h>

#include "libecr/core/crypto.h"

static void hexof(char *out, const unsigned char *p, size_t n) { ecr__hex_encode(out, p, n); }

struct hmac_case {
	unsigned char key[131];
	size_t keylen;
	const char *data;
	size_t datalen;
	const char *sha256, *sha512;
	size_t trunc; /* compare only this many bytes (test case 5); 0: all */
};

static void fill(unsigned char *p, unsigned char c, size_t n) { memset(p, c, n); }

static void test_core_crypto__hmac_rfc4231(void **state)
{
	static unsigned char dd[50], cd[50];
	struct hmac_case c[7];
	unsigned char mac256[32], mac512[64];
	char hex[129];
	(void)state;

	memset(c, 0, sizeof(c));
	fill(dd, 0xdd, 50);
	fill(cd, 0xcd, 50);
	fill(c[0].key, 0x0b, c[0].keylen = 20);
	c[0].data = "Hi There";
	c[0].sha256 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
	c[0].sha512 = "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
		      "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854";
	memcpy(c[1].key, "Jefe", c[1].keylen = 4);
	c[1].data = "what do ya want for nothing?";
	c[1].sha256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	c[1].sha512 = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
		      "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
	fill(c[2].key, 0xaa, c[2].keylen = 20);
	c[2].data = (const char *)dd;
	c[2].datalen = 50;
	c[2].sha256 = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe";
	c[2].sha512 = "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
		      "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb";
	for (int i = 0; i < 25; i++)
		c[3].key[i] = (unsigned char)(i + 1);
	c[3].keylen = 25;
	c[3].data = (const char *)cd;
	c[3].datalen = 50;
	c[3].sha256 = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b";
	c[3].sha512 = "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
		      "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd";
	fill(c[4].key, 0x0c, c[4].keylen = 20);
	c[4].data = "Test With Truncation";
	c[4].sha256 = "a3b6167473100ee06e0c796c2955552b";
	c[4].sha512 = "415fad6271580a531d4179bc891d87a6";
	c[4].trunc = 16;
	fill(c[5].key, 0xaa, c[5].keylen = 131);
	c[5].data = "Test Using Larger Than Block-Size Key - Hash Key First";
	c[5].sha256 = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
	c[5].sha512 = "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
		      "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598";
	fill(c[6].key, 0xaa, c[6].keylen = 131);
	c[6].data = "This is a test using a larger than block-size key and a larger than block-size data. "
		    "The key needs to be hashed before being used by the HMAC algorithm.";
	c[6].sha256 = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";
	c[6].sha512 = "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
		      "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58";

	for (int i = 0; i < 7; i++) {
		size_t dl = c[i].datalen ? c[i].datalen : strlen(c[i].data);
		assert_ok(ecr__hmac_sha256(mac256, c[i].key, c[i].keylen, c[i].data, dl));
		hexof(hex, mac256, c[i].trunc ? c[i].trunc : 32);
		assert_string_equal(hex, c[i].sha256);
		assert_ok(ecr__hmac_sha512(mac512, c[i].key, c[i].keylen, c[i].data, dl));
		hexof(hex, mac512, c[i].trunc ? c[i].trunc : 64);
		assert_string_equal(hex, c[i].sha512);
	}
	/* empty key and message are allowed */
	assert_ok(ecr__hmac_sha256(mac256, NULL, 0, NULL, 0));
	hexof(hex, mac256, 32);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_core_crypto__memeq_ct(void **state)
{
	(void)state;
	assert_int_equal(ecr__memeq_ct("abcdef", "abcdef", 6), 0);
	assert_int_not_equal(ecr__memeq_ct("abcdef", "abcdeg", 6), 0);
	assert_int_not_equal(ecr__memeq_ct("xbcdef", "abcdef", 6), 0);
	assert_int_equal(ecr__memeq_ct("abc", "xyz", 0), 0);
	/* only the first len bytes count */
	assert_int_equal(ecr__memeq_ct("abcX", "abcY", 3), 0);
}

static const char *rfc4648[][2] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_core_crypto__base64_rfc4648(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		ecr_buf enc = ECR_BUF_INIT, dec = ECR_BUF_INIT;
		const char *plain = rfc4648[i][0], *b64 = rfc4648[i][1];
		assert_ok(ecr__base64_encode(&enc, plain, strlen(plain)));
		assert_int_equal(enc.size, strlen(b64));
		assert_memory_equal(enc.ptr, b64, enc.size);
		assert_ok(ecr__base64_decode(&dec, b64, strlen(b64)));
		assert_int_equal(dec.size, strlen(plain));
		if (dec.size)
			assert_memory_equal(dec.ptr, plain, dec.size);
		ecr_buf_dispose(&enc);
		ecr_buf_dispose(&dec);
	}
}

static void test_core_crypto__base64_appends(void **state)
{
	ecr_buf b = ECR_BUF_INIT;
	(void)state;
	assert_ok(ecr__buf_puts(&b, "Basic "));
	assert_ok(ecr__base64_encode(&b, "AWS:tok", 7));
	assert_string_equal(b.ptr, "Basic QVdTOnRvaw==");
	assert_ok(ecr__base64_decode(&b, "Zm9v", 4));
	assert_string_equal(b.ptr, "Basic QVdTOnRvaw==foo");
	/* a failed decode leaves the buffer as it was */
	assert_int_equal(ecr__base64_decode(&b, "Zm9v!A==", 8), ECR_EINVALID);
	assert_string_equal(b.ptr, "Basic QVdTOnRvaw==foo");
	assert_int_equal(b.size, strlen("Basic QVdTOnRvaw==foo"));
	ecr_buf_dispose(&b);
}

static void test_core_crypto__base64_binary_roundtrip(void **state)
{
	unsigned char data[259];
	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(255 - i);
	for (size_t n = 0; n <= sizeof(data); n++) {
		ecr_buf enc = ECR_BUF_INIT, dec = ECR_BUF_INIT, uenc = ECR_BUF_INIT, udec = ECR_BUF_INIT;
		assert_ok(ecr__base64_encode(&enc, data, n));
		assert_int_equal(enc.size, (n + 2) / 3 * 4);
		assert_ok(ecr__base64_decode(&dec, enc.ptr, enc.size));
		assert_int_equal(dec.size, n);
		if (n)
			assert_memory_equal(dec.ptr, data, n);

		assert_ok(ecr__base64url_encode(&uenc, data, n));
		assert_int_equal(uenc.size, (n * 4 + 2) / 3);
		for (size_t k = 0; k < uenc.size; k++) {
			char ch = uenc.ptr[k];
			assert_true(ch != '+' && ch != '/' && ch != '=');
			/* same text as standard base64 with the alphabet changed */
			char std = ch == '-' ? '+' : ch == '_' ? '/' : ch;
			assert_int_equal(std, enc.ptr[k]);
		}
		assert_ok(ecr__base64url_decode(&udec, uenc.ptr, uenc.size));
		assert_int_equal(udec.size, n);
		if (n)
			assert_memory_equal(udec.ptr, data, n);
		ecr_buf_dispose(&enc);
		ecr_buf_dispose(&dec);
		ecr_buf_dispose(&uenc);
		ecr_buf_dispose(&udec);
	}
}

static void test_core_crypto__base64url(void **state)
{
	const unsigned char d[] = { 0xfb, 0xff };
	const unsigned char e[] = { 0xfb, 0xef, 0xbe };
	ecr_buf b = ECR_BUF_INIT;
	(void)state;
	assert_ok(ecr__base64url_encode(&b, d, sizeof(d)));
	assert_string_equal(b.ptr, "-_8");
	ecr__buf_clear(&b);
	assert_ok(ecr__base64url_encode(&b, e, sizeof(e)));
	assert_string_equal(b.ptr, "----");
	ecr__buf_clear(&b);
	assert_ok(ecr__base64url_decode(&b, "-_8", 3));
	assert_int_equal(b.size, 2);
	assert_memory_equal(b.ptr, d, 2);
	ecr__buf_clear(&b);
	assert_ok(ecr__base64url_encode(&b, "foob", 4));
	assert_string_equal(b.ptr, "Zm9vYg");
	ecr_buf_dispose(&b);
}

static void test_core_crypto__base64_rejects(void **state)
{
	static const char *bad_std[] = {
		"Zm9",       /* not a multiple of 4 */
		"Zm9v\n",    /* line break */
		"Zm 9v",     /* space */
		"Zm9v Zm9v", /* space */
		"Z===",      /* three pads */
		"Zg=a",      /* pad in the middle */
		"=Zm9",      /* pad first */
		"Zm-v",      /* url alphabet in standard */
		"Zm_v",
		"Zm9v\xc3\xa9=",
		"====",
	};
	static const char *bad_url[] = {
		"Z",     /* impossible length */
		"Zm9vY", /* 5 chars */
		"Zg==",  /* padding is not base64url */
		"Zm+v",  /* standard alphabet */
		"Zm/v",
		"Zm 9",
		"Zm\n9",
	};
	ecr_buf b = ECR_BUF_INIT;
	(void)state;
	for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
		assert_int_equal(ecr__base64_decode(&b, bad_std[i], strlen(bad_std[i])), ECR_EINVALID);
		assert_int_equal(b.size, 0);
		assert_int_equal(ecr_error_last()->code, ECR_EINVALID);
	}
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++) {
		assert_int_equal(ecr__base64url_decode(&b, bad_url[i], strlen(bad_url[i])), ECR_EINVALID);
		assert_int_equal(b.size, 0);
	}
	/* an embedded NUL is a bad character, not the end */
	assert_int_equal(ecr__base64_decode(&b, "Zm9v\0\0\0\0", 8), ECR_EINVALID);
	ecr_buf_dispose(&b);
}

static void test_core_crypto__hex(void **state)
{
	const unsigned char d[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[13];
	(void)state;
	memset(out, 'x', sizeof(out));
	ecr__hex_encode(out, d, sizeof(d));
	assert_string_equal(out, "00017f80abff");
	ecr__hex_encode(out, d, 0);
	assert_string_equal(out, "");
}

static void test_core_crypto__random(void **state)
{
	unsigned char a[64], b[64], zero[64];
	unsigned char *big;
	size_t counts[256] = { 0 };
	(void)state;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(zero, 0, sizeof(zero));
	assert_ok(ecr__random_bytes(a, sizeof(a)));
	assert_ok(ecr__random_bytes(b, sizeof(b)));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_ok(ecr__random_bytes(a, 0));
	/* more than one getrandom call may be needed for large requests */
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 0, 1 << 20);
	assert_ok(ecr__random_bytes(big, 1 << 20));
	for (size_t i = 0; i < (1 << 20); i++)
		counts[big[i]]++;
	/* each byte value expected 4096 times; a zero-filled tail would blow this */
	for (int v = 0; v < 256; v++)
		assert_in_range(counts[v], 3400, 4800);
	free(big);
}

static bool is_hex_lower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static void test_core_crypto__uuid(void **state)
{
	enum { N = 2000 };
	char(*ids)[37] = calloc(N, 37);
	(void)state;
	assert_non_null(ids);
	for (int i = 0; i < N; i++) {
		char *u = ids[i];
		assert_ok(ecr__uuid_v4(u));
		assert_int_equal(strlen(u), 36);
		for (int k = 0; k < 36; k++) {
			if (k == 8 || k == 13 || k == 18 || k == 23)
				assert_int_equal(u[k], '-');
			else
				assert_true(is_hex_lower(u[k]));
		}
		assert_int_equal(u[14], '4');
		assert_non_null(strchr("89ab", u[19]));
	}
	qsort(ids, N, 37, cmp_str);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	free(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_crypto__hmac_rfc4231),
		cmocka_unit_test(test_core_crypto__memeq_ct),
		cmocka_unit_test(test_core_crypto__base64_rfc4648),
		cmocka_unit_test(test_core_crypto__base64_appends),
		cmocka_unit_test(test_core_crypto__base64_binary_roundtrip),
		cmocka_unit_test(test_core_crypto__base64url),
		cmocka_unit_test(test_core_crypto__base64_rejects),
		cmocka_unit_test(test_core_crypto__hex),
		cmocka_unit_test(test_core_crypto__random),
		cmocka_unit_test(test_core_crypto__uuid),
	};
	return cmocka_run_group_tests_name("core/crypto", tests, NULL, NULL);
}
