/* oci/mediatype: manifest kinds, comparison ignoring parameters, the
 * descriptor media type grammar. */
#include "../helpers/helpers.h"

#include <stdlib.h>
#include <string.h>

#include "libecr/oci/oci.h"

static void test_oci_mediatype__kinds(void **state)
{
	static const struct {
		const char *mt;
		ecr__manifest_kind kind;
	} cases[] = {
		{ ECR__MT_DOCKER_MANIFEST_V2, ECR__MANIFEST_DOCKER_V2 },
		{ ECR__MT_DOCKER_MANIFEST_LIST, ECR__MANIFEST_DOCKER_LIST },
		{ ECR__MT_OCI_MANIFEST, ECR__MANIFEST_OCI },
		{ ECR__MT_OCI_INDEX, ECR__MANIFEST_OCI_INDEX },
		{ "application/vnd.oci.image.manifest.v1+json; charset=utf-8", ECR__MANIFEST_OCI },
		{ "  application/vnd.oci.image.index.v1+json  ;x=y", ECR__MANIFEST_OCI_INDEX },
		{ "Application/VND.docker.distribution.manifest.v2+JSON", ECR__MANIFEST_DOCKER_V2 },
		{ ECR__MT_DOCKER_MANIFEST_V1, ECR__MANIFEST_UNKNOWN },
		{ ECR__MT_DOCKER_MANIFEST_V1_SIGNED, ECR__MANIFEST_UNKNOWN },
		{ ECR__MT_OCI_CONFIG, ECR__MANIFEST_UNKNOWN },
		{ ECR__MT_DOCKER_CONFIG, ECR__MANIFEST_UNKNOWN },
		{ "application/json", ECR__MANIFEST_UNKNOWN },
		{ "application/vnd.oci.image.manifest.v1+jsonx", ECR__MANIFEST_UNKNOWN },
		{ "application/vnd.oci.image.manifest.v1+jso", ECR__MANIFEST_UNKNOWN },
		{ "", ECR__MANIFEST_UNKNOWN },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (ecr__oci_manifest_kind(cases[i].mt) != cases[i].kind)
			fail_msg("kind('%s') = %d, want %d", cases[i].mt, ecr__oci_manifest_kind(cases[i].mt),
				cases[i].kind);
	assert_int_equal(ecr__oci_manifest_kind(NULL), ECR__MANIFEST_UNKNOWN);
}

static void test_oci_mediatype__index_and_canonical(void **state)
{
	(void)state;
	assert_true(ecr__oci_kind_is_index(ECR__MANIFEST_DOCKER_LIST));
	assert_true(ecr__oci_kind_is_index(ECR__MANIFEST_OCI_INDEX));
	assert_false(ecr__oci_kind_is_index(ECR__MANIFEST_OCI));
	assert_false(ecr__oci_kind_is_index(ECR__MANIFEST_DOCKER_V2));
	assert_false(ecr__oci_kind_is_index(ECR__MANIFEST_UNKNOWN));

	assert_string_equal(ecr__oci_kind_media_type(ECR__MANIFEST_DOCKER_V2), ECR__MT_DOCKER_MANIFEST_V2);
	assert_string_equal(ecr__oci_kind_media_type(ECR__MANIFEST_DOCKER_LIST), ECR__MT_DOCKER_MANIFEST_LIST);
	assert_string_equal(ecr__oci_kind_media_type(ECR__MANIFEST_OCI), ECR__MT_OCI_MANIFEST);
	assert_string_equal(ecr__oci_kind_media_type(ECR__MANIFEST_OCI_INDEX), ECR__MT_OCI_INDEX);
	assert_null(ecr__oci_kind_media_type(ECR__MANIFEST_UNKNOWN));
	/* round trip */
	assert_int_equal(ecr__oci_manifest_kind(ecr__oci_kind_media_type(ECR__MANIFEST_OCI)), ECR__MANIFEST_OCI);
}

static void test_oci_mediatype__schema1(void **state)
{
	(void)state;
	assert_true(ecr__oci_media_type_is_schema1(ECR__MT_DOCKER_MANIFEST_V1));
	assert_true(ecr__oci_media_type_is_schema1(ECR__MT_DOCKER_MANIFEST_V1_SIGNED));
	assert_true(ecr__oci_media_type_is_schema1(ECR__MT_DOCKER_MANIFEST_V1 "; charset=utf-8"));
	assert_false(ecr__oci_media_type_is_schema1(ECR__MT_DOCKER_MANIFEST_V2));
	assert_false(ecr__oci_media_type_is_schema1(NULL));
}

static void test_oci_mediatype__equal(void **state)
{
	(void)state;
	assert_true(ecr__oci_media_type_equal("a/b", "a/b"));
	assert_true(ecr__oci_media_type_equal("a/b", "A/B"));
	assert_true(ecr__oci_media_type_equal("a/b; charset=utf-8", "a/b"));
	assert_true(ecr__oci_media_type_equal(" a/b ", "a/b;q=1"));
	assert_false(ecr__oci_media_type_equal("a/b", "a/c"));
	assert_false(ecr__oci_media_type_equal("a/b", "a/bc"));
	assert_false(ecr__oci_media_type_equal("a/b", NULL));
	assert_false(ecr__oci_media_type_equal(NULL, NULL));
}

static void test_oci_mediatype__grammar(void **state)
{
	static const struct {
		const char *mt;
		bool ok;
	} cases[] = {
		{ "application/vnd.oci.image.layer.v1.tar+gzip", true },
		{ "application/vnd.docker.image.rootfs.diff.tar.gzip", true },
		{ "application/vnd.example+type", true },
		{ "a/b", true },
		{ "A0/z!#$&^_.+-", true },
		{ "text/plain; charset=utf-8", false }, /* descriptors carry no parameters */
		{ "application", false },
		{ "application/", false },
		{ "/json", false },
		{ "application//json", false },
		{ "application/json/x", false },
		{ ".application/json", false },
		{ "application/-json", false },
		{ "appli cation/json", false },
		{ "", false },
	};
	char *long_mt;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (ecr__oci_media_type_valid(cases[i].mt) != cases[i].ok)
			fail_msg("media_type_valid('%s') != %d", cases[i].mt, cases[i].ok);
	assert_false(ecr__oci_media_type_valid(NULL));

	/* each part is 1..127 characters */
	long_mt = malloc(300);
	assert_non_null(long_mt);
	memset(long_mt, 'a', 127);
	long_mt[127] = '/';
	memset(long_mt + 128, 'b', 127);
	long_mt[255] = '\0';
	assert_true(ecr__oci_media_type_valid(long_mt));
	memset(long_mt + 128, 'b', 128);
	long_mt[256] = '\0';
	assert_false(ecr__oci_media_type_valid(long_mt));
	memset(long_mt, 'a', 128);
	long_mt[128] = '/';
	long_mt[129] = 'b';
	long_mt[130] = '\0';
	assert_false(ecr__oci_media_type_valid(long_mt));
	free(long_mt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oci_mediatype__kinds),
		cmocka_unit_test(test_oci_mediatype__index_and_canonical),
		cmocka_unit_test(test_oci_mediatype__schema1),
		cmocka_unit_test(test_oci_mediatype__equal),
		cmocka_unit_test(test_oci_mediatype__grammar),
	};
	return cmocka_run_group_tests_name("oci/mediatype", tests, NULL, NULL);
}
