/* oci/reference: repository names, tags, digests and full references,
 * table-driven against the distribution-spec / image-spec grammars. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/oci/oci.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX128 HEX64 HEX64
#define SHA256 "sha256:" HEX64
#define SHA512 "sha512:" HEX128

struct name_case {
	const char *name;
	int rc;
	const char *msg_part; /* expected in the message, or NULL */
};

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void check_rc(int got, int want, const char *what, const char *input)
{
	if (got != want)
		fail_msg("%s('%s') = %d (%s), want %d: %s", what, input, got, ecr_error_name(got), want,
			ecr_error_last()->message);
	if (want != 0 && ecr_error_last()->klass != ECR_ERROR_OCI)
		fail_msg("%s('%s'): error class %d, want ECR_ERROR_OCI", what, input, ecr_error_last()->klass);
}

static void test_oci_reference__names(void **state)
{
	static const struct name_case cases[] = {
		{ "ab", 0, NULL },
		{ "a0", 0, NULL },
		{ "00", 0, NULL },
		{ "library/busybox", 0, NULL },
		{ "a/b", 0, NULL },
		{ "a.b", 0, NULL },
		{ "a_b", 0, NULL },
		{ "a__b", 0, NULL },
		{ "a-b", 0, NULL },
		{ "a--b", 0, NULL },
		{ "a----b", 0, NULL },
		{ "team/sub.project/my-app_v2__x", 0, NULL },
		{ "x/y/z/w/v", 0, NULL },
		{ "a", ECR_EINVALID, "2 to 256" },
		{ "", ECR_EINVALID, "2 to 256" },
		{ "a___b", ECR_EINVALID, "separators" },
		{ "a._b", ECR_EINVALID, "separators" },
		{ "a..b", ECR_EINVALID, "separators" },
		{ "a.-b", ECR_EINVALID, "separators" },
		{ "a-_b", ECR_EINVALID, "separators" },
		{ "_ab", ECR_EINVALID, "start with" },
		{ "-ab", ECR_EINVALID, "start with" },
		{ ".ab", ECR_EINVALID, "start with" },
		{ "ab-", ECR_EINVALID, "end with" },
		{ "ab_", ECR_EINVALID, "end with" },
		{ "ab.", ECR_EINVALID, "end with" },
		{ "ab__", ECR_EINVALID, "end with" },
		{ "a-/b", ECR_EINVALID, "end with" },
		{ "a/-b", ECR_EINVALID, "start with" },
		{ "Ab", ECR_EINVALID, "lowercase" },
		{ "aB", ECR_EINVALID, "lowercase" },
		{ "a/B", ECR_EINVALID, "lowercase" },
		{ "a//b", ECR_EINVALID, "'//'" },
		{ "/ab", ECR_EINVALID, "'/'" },
		{ "ab/", ECR_EINVALID, "'/'" },
		{ "a b", ECR_EINVALID, "only" },
		{ "a:b", ECR_EINVALID, "only" },
		{ "a@b", ECR_EINVALID, "only" },
		{ "a\xc3\xa9", ECR_EINVALID, "only" },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = ecr__oci_validate_name(cases[i].name);
		check_rc(rc, cases[i].rc, "validate_name", cases[i].name);
		if (cases[i].msg_part && !strstr(ecr_error_last()->message, cases[i].msg_part))
			fail_msg("validate_name('%s'): message '%s' lacks '%s'", cases[i].name,
				ecr_error_last()->message, cases[i].msg_part);
	}
	assert_int_equal(ecr__oci_validate_name(NULL), ECR_EINVALID);

	/* length edges: 256 ok, 257 not, also with '/' inside */
	s = repeat('a', 256);
	assert_ok(ecr__oci_validate_name(s));
	s[100] = '/';
	assert_ok(ecr__oci_validate_name(s));
	free(s);
	s = repeat('a', 257);
	check_rc(ecr__oci_validate_name(s), ECR_EINVALID, "validate_name", "a*257");
	assert_non_null(strstr(ecr_error_last()->message, "257 characters"));
	free(s);
}

static void test_oci_reference__name_message_is_printable(void **state)
{
	const char bad[] = "ab\x01\xff/c";
	const char *p;

	(void)state;
	assert_int_equal(ecr__oci_validate_name(bad), ECR_EINVALID);
	for (p = ecr_error_last()->message; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_oci_reference__tags(void **state)
{
	static const struct {
		const char *tag;
		int rc;
	} cases[] = {
		{ "latest", 0 },
		{ "v1.2.3", 0 },
		{ "_private", 0 },
		{ "A", 0 },
		{ "0", 0 },
		{ "a-b_c.d", 0 },
		{ "UPPER-lower", 0 },
		{ "", ECR_EINVALID },
		{ ".hidden", ECR_EINVALID },
		{ "-dash", ECR_EINVALID },
		{ "a:b", ECR_EINVALID },
		{ "a/b", ECR_EINVALID },
		{ "a b", ECR_EINVALID },
		{ "sha256:abc", ECR_EINVALID },
		{ "a+b", ECR_EINVALID },
	};
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_rc(ecr__oci_validate_tag(cases[i].tag), cases[i].rc, "validate_tag", cases[i].tag);
	assert_int_equal(ecr__oci_validate_tag(NULL), ECR_EINVALID);

	s = repeat('t', 128);
	assert_ok(ecr__oci_validate_tag(s));
	free(s);
	s = repeat('t', 129);
	check_rc(ecr__oci_validate_tag(s), ECR_EINVALID, "validate_tag", "t*129");
	assert_non_null(strstr(ecr_error_last()->message, "at most 128"));
	free(s);
}

static void test_oci_reference__digests(void **state)
{
	static const struct {
		const char *digest;
		int rc;
		int alg; /* expected alg when rc == 0 */
	} cases[] = {
		{ SHA256, 0, ECR__DIGEST_SHA256 },
		{ SHA512, 0, ECR__DIGEST_SHA512 },
		{ "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", 0, ECR__DIGEST_SHA256 },
		/* registered, wrong encoding */
		{ "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", ECR_EINVALID, 0 },
		{ "sha256:" HEX64 "0", ECR_EINVALID, 0 },
		{ "sha256:0123", ECR_EINVALID, 0 },
		{ "sha256:" HEX128, ECR_EINVALID, 0 },
		{ "sha512:" HEX64, ECR_EINVALID, 0 },
		{ "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", ECR_EINVALID, 0 },
		{ "blake3:" HEX64 "00", ECR_EINVALID, 0 },
		/* grammatical, unsupported algorithms */
		{ "blake3:" HEX64, ECR_EUNSUPPORTED, 0 },
		{ "md5:d41d8cd98f00b204e9800998ecf8427e", ECR_EUNSUPPORTED, 0 },
		{ "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", ECR_EUNSUPPORTED, 0 },
		{ "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", ECR_EUNSUPPORTED, 0 },
		/* ungrammatical */
		{ "", ECR_EINVALID, 0 },
		{ "sha256", ECR_EINVALID, 0 },
		{ ":" HEX64, ECR_EINVALID, 0 },
		{ "sha256:", ECR_EINVALID, 0 },
		{ "SHA256:" HEX64, ECR_EINVALID, 0 },
		{ "sha256+:abc", ECR_EINVALID, 0 },
		{ "+sha256:abc", ECR_EINVALID, 0 },
		{ "sha..256:abc", ECR_EINVALID, 0 },
		{ "sha256:abc/def", ECR_EINVALID, 0 },
		{ "sha256:abc:def", ECR_EINVALID, 0 },
		{ "md5:d41d8cd98f00b204e98+0998ecf8427e", ECR_EINVALID, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecr__digest_alg alg = (ecr__digest_alg)99;
		check_rc(ecr__oci_validate_digest(cases[i].digest, &alg), cases[i].rc, "validate_digest",
			cases[i].digest);
		if (cases[i].rc == 0)
			assert_int_equal(alg, cases[i].alg);
	}
	assert_int_equal(ecr__oci_validate_digest(NULL, NULL), ECR_EINVALID);
	assert_ok(ecr__oci_validate_digest(SHA256, NULL));

	/* the message says why */
	assert_int_equal(ecr__oci_validate_digest("sha256:ABCDEF", NULL), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "lowercase"));

	assert_true(ecr__oci_is_digest(SHA256));
	assert_false(ecr__oci_is_digest("latest"));
	assert_false(ecr__oci_is_digest(NULL));
}

struct ref_case {
	const char *ref;
	int rc;
	const char *host, *name, *tag, *digest;
};

static void expect_str(const char *got, const char *want, const char *field, const char *ref)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(got, want) != 0)
		fail_msg("reference '%s': %s = '%s', want '%s'", ref, field, got ? got : "(null)",
			want ? want : "(null)");
}

static void test_oci_reference__references(void **state)
{
	static const struct ref_case cases[] = {
		{ "busybox", 0, NULL, "busybox", NULL, NULL },
		{ "busybox:latest", 0, NULL, "busybox", "latest", NULL },
		{ "library/busybox:1.36", 0, NULL, "library/busybox", "1.36", NULL },
		{ "docker.io/library/busybox", 0, "docker.io", "library/busybox", NULL, NULL },
		{ "localhost/app", 0, "localhost", "app", NULL, NULL },
		{ "localhost:5000/app:v1", 0, "localhost:5000", "app", "v1", NULL },
		{ "registry:5000/ns/app", 0, "registry:5000", "ns/app", NULL, NULL },
		{ "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:prod", 0,
			"123456789012.dkr.ecr.us-east-1.amazonaws.com", "team/app", "prod", NULL },
		{ "app@" SHA256, 0, NULL, "app", NULL, SHA256 },
		{ "app:v1@" SHA256, 0, NULL, "app", "v1", SHA256 },
		{ "host.example:443/a/b/c:t@" SHA512, 0, "host.example:443", "a/b/c", "t", SHA512 },
		{ "[::1]:5000/app", 0, "[::1]:5000", "app", NULL, NULL },
		{ "Registry/app", 0, "Registry", "app", NULL, NULL }, /* uppercase: a host (Docker) */
		{ "team/app", 0, NULL, "team/app", NULL, NULL },     /* no '.', ':': not a host */
		{ "", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "a", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "App", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "app:", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "app@", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "app:.bad", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "app@sha256:abc", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "app@md5:d41d8cd98f00b204e9800998ecf8427e", ECR_EUNSUPPORTED, NULL, NULL, NULL, NULL },
		{ "host:99999/app", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "host:/app", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "-host.com/app", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "host..com/app", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "[zz]:5000/app", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "docker.io/", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "a//b", ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "@" SHA256, ECR_EINVALID, NULL, NULL, NULL, NULL },
		{ "app@" SHA256 "@" SHA256, ECR_EINVALID, NULL, NULL, NULL, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecr__oci_reference r;
		int rc = ecr__oci_reference_parse(&r, cases[i].ref);
		check_rc(rc, cases[i].rc, "reference_parse", cases[i].ref);
		if (rc == 0) {
			expect_str(r.host, cases[i].host, "host", cases[i].ref);
			expect_str(r.name, cases[i].name, "name", cases[i].ref);
			expect_str(r.tag, cases[i].tag, "tag", cases[i].ref);
			expect_str(r.digest, cases[i].digest, "digest", cases[i].ref);
		} else {
			assert_null(r.host);
			assert_null(r.name);
		}
		ecr__oci_reference_dispose(&r);
		assert_null(r.name);
	}
	ecr__oci_reference_dispose(NULL);
}

static void test_oci_reference__long_reference(void **state)
{
	ecr__oci_reference r;
	char *s = repeat('a', 5000);

	(void)state;
	assert_int_equal(ecr__oci_reference_parse(&r, s), ECR_EINVALID);
	free(s);
	/* a 256-character name with a tag */
	s = malloc(300);
	assert_non_null(s);
	memset(s, 'b', 256);
	strcpy(s + 256, ":v1");
	assert_ok(ecr__oci_reference_parse(&r, s));
	assert_int_equal(strlen(r.name), 256);
	assert_string_equal(r.tag, "v1");
	ecr__oci_reference_dispose(&r);
	free(s);
}

static void test_oci_reference__quote(void **state)
{
	char out[8];

	(void)state;
	assert_string_equal(ecr__oci_quote(out, sizeof(out), "abc", 3), "abc");
	assert_string_equal(ecr__oci_quote(out, sizeof(out), "abcdefg", 7), "abcdefg");
	assert_string_equal(ecr__oci_quote(out, sizeof(out), "abcdefgh", 8), "abcd...");
	assert_string_equal(ecr__oci_quote(out, sizeof(out), "a\nb", 3), "a?b");
	assert_string_equal(ecr__oci_quote(out, sizeof(out), NULL, 3), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oci_reference__names),
		cmocka_unit_test(test_oci_reference__name_message_is_printable),
		cmocka_unit_test(test_oci_reference__tags),
		cmocka_unit_test(test_oci_reference__digests),
		cmocka_unit_test(test_oci_reference__references),
		cmocka_unit_test(test_oci_reference__long_reference),
		cmocka_unit_test(test_oci_reference__quote),
	};
	return cmocka_run_group_tests_name("oci/reference", tests, NULL, NULL);
}
