/* oci/manifest: parsing and validation of Docker v2 schema 2, Docker
 * manifest lists, OCI image manifests, OCI indexes and OCI artifacts; the
 * rules are listed at the top of libecr/oci/manifest.c. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr/sys/alloc.h"
#include "libecr/oci/oci.h"

#define HEXA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEXB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEXC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HEXD "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define DA "sha256:" HEXA
#define DB "sha256:" HEXB
#define DC "sha256:" HEXC
#define DD "sha256:" HEXD
#define EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

#define DESC(mt, dg, sz) "{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":" #sz "}"
#define DOCKER_CFG DESC("application/vnd.docker.container.image.v1+json", DA, 1469)
#define DOCKER_LAYER(dg) DESC("application/vnd.docker.image.rootfs.diff.tar.gzip", dg, 977)
#define OCI_CFG DESC("application/vnd.oci.image.config.v1+json", DA, 1469)
#define OCI_LAYER(dg) DESC("application/vnd.oci.image.layer.v1.tar+gzip", dg, 977)
#define EMPTY_DESC DESC("application/vnd.oci.empty.v1+json", EMPTY_DIGEST, 2)

#define DOCKER_V2_HEAD "{\"schemaVersion\":2,\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V2 "\","
#define OCI_HEAD "{\"schemaVersion\":2,\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\","
#define OCI_INDEX_HEAD "{\"schemaVersion\":2,\"mediaType\":\"" ECR__MT_OCI_INDEX "\","
#define DOCKER_LIST_HEAD "{\"schemaVersion\":2,\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_LIST "\","
#define PLATFORM "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}"

#define DOCKER_V2 DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[" DOCKER_LAYER(DB) "," DOCKER_LAYER(DC) "]}"
#define OCI_IMAGE OCI_HEAD "\"config\":" OCI_CFG ",\"layers\":[" OCI_LAYER(DB) "]}"

static int parse(ecr__manifest **m, const char *json, const char *ct)
{
	return ecr__manifest_parse(m, json, strlen(json), ct);
}

struct bad_case {
	const char *name;
	const char *json;
	const char *content_type;
	int rc;
	const char *msg_part; /* must appear in the error message; NULL: not checked */
};

static void run_bad(const struct bad_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		ecr__manifest *m = (ecr__manifest *)&m; /* must be reset to NULL */
		int rc = parse(&m, cases[i].json, cases[i].content_type);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d (%s), want %d (%s); message: %s", cases[i].name, rc, ecr_error_name(rc),
				cases[i].rc, ecr_error_name(cases[i].rc), ecr_error_last()->message);
		if (m != NULL)
			fail_msg("%s: out not NULL on failure", cases[i].name);
		if (ecr_error_last()->code != rc)
			fail_msg("%s: last error code %d != %d", cases[i].name, ecr_error_last()->code, rc);
		if (ecr_error_last()->klass != ECR_ERROR_OCI)
			fail_msg("%s: error class %d, want ECR_ERROR_OCI (%s)", cases[i].name,
				ecr_error_last()->klass, ecr_error_last()->message);
		if (cases[i].msg_part && !strstr(ecr_error_last()->message, cases[i].msg_part))
			fail_msg("%s: message '%s' lacks '%s'", cases[i].name, ecr_error_last()->message,
				cases[i].msg_part);
	}
}

/* --- valid manifests ------------------------------------------------------ */

static void test_oci_manifest__docker_v2(void **state)
{
	ecr__manifest *m = NULL;

	(void)state;
	assert_ok(parse(&m, DOCKER_V2, NULL));
	assert_int_equal(m->kind, ECR__MANIFEST_DOCKER_V2);
	assert_string_equal(m->media_type, ECR__MT_DOCKER_MANIFEST_V2);
	assert_true(m->has_config);
	assert_string_equal(m->config.digest, DA);
	assert_int_equal(m->config.size, 1469);
	assert_string_equal(m->config.media_type, ECR__MT_DOCKER_CONFIG);
	assert_int_equal(m->layers_count, 2);
	assert_string_equal(m->layers[0].digest, DB);
	assert_string_equal(m->layers[1].digest, DC);
	assert_int_equal(m->layers[1].size, 977);
	assert_int_equal(m->manifests_count, 0);
	assert_false(m->has_subject);
	assert_null(m->artifact_type);
	assert_string_equal(ecr__manifest_artifact_type(m), ECR__MT_DOCKER_CONFIG);
	ecr__manifest_free(m);

	/* the same with the matching content type, with parameters */
	assert_ok(parse(&m, DOCKER_V2, ECR__MT_DOCKER_MANIFEST_V2 "; charset=utf-8"));
	assert_int_equal(m->kind, ECR__MANIFEST_DOCKER_V2);
	ecr__manifest_free(m);

	/* no layers: the Docker spec sets no minimum (FROM scratch) */
	assert_ok(parse(&m, DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[]}", NULL));
	assert_int_equal(m->layers_count, 0);
	assert_null(m->layers);
	ecr__manifest_free(m);

	/* without mediaType in the body, from the content type */
	assert_ok(parse(&m, "{\"schemaVersion\":2,\"config\":" DOCKER_CFG ",\"layers\":[" DOCKER_LAYER(DB) "]}",
		ECR__MT_DOCKER_MANIFEST_V2));
	assert_int_equal(m->kind, ECR__MANIFEST_DOCKER_V2);
	ecr__manifest_free(m);

	/* a foreign layer with urls, a sha512 layer, unknown members ignored */
	assert_ok(parse(&m,
		DOCKER_V2_HEAD "\"x-extra\":[1,{\"a\":null}],\"config\":" DOCKER_CFG ",\"layers\":["
		"{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":\"" DB "\","
		"\"size\":5,\"urls\":[\"https://example.com/layer\"]},"
		"{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"sha512:" HEXA HEXB "\","
		"\"size\":0}]}",
		NULL));
	assert_int_equal(m->layers_count, 2);
	assert_string_equal(m->layers[1].digest, "sha512:" HEXA HEXB);
	assert_int_equal(m->layers[1].size, 0);
	ecr__manifest_free(m);
}

static void test_oci_manifest__docker_list(void **state)
{
	ecr__manifest *m = NULL;

	(void)state;
	assert_ok(parse(&m,
		DOCKER_LIST_HEAD "\"manifests\":["
		"{\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V2 "\",\"digest\":\"" DB "\",\"size\":528," PLATFORM "},"
		"{\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V2 "\",\"digest\":\"" DC "\",\"size\":528,"
		"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\",\"features\":[\"sse4\"]}}]}",
		NULL));
	assert_int_equal(m->kind, ECR__MANIFEST_DOCKER_LIST);
	assert_string_equal(m->media_type, ECR__MT_DOCKER_MANIFEST_LIST);
	assert_false(m->has_config);
	assert_int_equal(m->manifests_count, 2);
	assert_string_equal(m->manifests[0].digest, DB);
	assert_string_equal(m->manifests[0].platform_os, "linux");
	assert_string_equal(m->manifests[0].platform_arch, "amd64");
	assert_string_equal(m->manifests[1].platform_arch, "arm");
	assert_int_equal(m->manifests[1].size, 528);
	assert_null(ecr__manifest_artifact_type(m));
	ecr__manifest_free(m);
}

static void test_oci_manifest__oci_image(void **state)
{
	ecr__manifest *m = NULL;

	(void)state;
	assert_ok(parse(&m, OCI_IMAGE, NULL));
	assert_int_equal(m->kind, ECR__MANIFEST_OCI);
	assert_string_equal(m->media_type, ECR__MT_OCI_MANIFEST);
	assert_int_equal(m->layers_count, 1);
	assert_string_equal(ecr__manifest_artifact_type(m), ECR__MT_OCI_CONFIG);
	ecr__manifest_free(m);

	/* mediaType absent, given as content type */
	assert_ok(parse(&m, "{\"schemaVersion\":2,\"config\":" OCI_CFG ",\"layers\":[" OCI_LAYER(DB) "]}",
		ECR__MT_OCI_MANIFEST));
	assert_int_equal(m->kind, ECR__MANIFEST_OCI);
	ecr__manifest_free(m);

	/* mediaType absent, no content type: inferred from config + layers */
	assert_ok(parse(&m, "{\"schemaVersion\":2,\"config\":" OCI_CFG ",\"layers\":[" OCI_LAYER(DB) "]}", NULL));
	assert_int_equal(m->kind, ECR__MANIFEST_OCI);
	assert_string_equal(m->media_type, ECR__MT_OCI_MANIFEST);
	ecr__manifest_free(m);

	/* "" and the generic application/json count as no content type */
	assert_ok(parse(&m, "{\"schemaVersion\":2,\"config\":" OCI_CFG ",\"layers\":[" OCI_LAYER(DB) "]}", ""));
	ecr__manifest_free(m);
	assert_ok(parse(&m, OCI_IMAGE, "application/json"));
	ecr__manifest_free(m);

	/* annotations everywhere, data, descriptor artifactType */
	assert_ok(parse(&m,
		OCI_HEAD "\"annotations\":{\"org.opencontainers.image.created\":\"2024-01-01T00:00:00Z\"},"
		"\"config\":{\"mediaType\":\"" ECR__MT_OCI_CONFIG "\",\"digest\":\"" DA "\",\"size\":2,\"data\":\"e30=\","
		"\"annotations\":{}},"
		"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" DB "\","
		"\"size\":9223372036854775807,\"artifactType\":\"application/vnd.example\",\"annotations\":{\"a\":\"b\"}}]}",
		NULL));
	assert_int_equal(m->layers[0].size, INT64_MAX);
	assert_string_equal(m->layers[0].artifact_type, "application/vnd.example");
	ecr__manifest_free(m);
}

static void test_oci_manifest__oci_index(void **state)
{
	ecr__manifest *m = NULL;

	(void)state;
	assert_ok(parse(&m,
		OCI_INDEX_HEAD "\"manifests\":["
		"{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"" DB "\",\"size\":100," PLATFORM "},"
		"{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"" DC "\",\"size\":100,"
		"\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
		"{\"mediaType\":\"" ECR__MT_OCI_INDEX "\",\"digest\":\"" DD "\",\"size\":100},"
		"{\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V2 "\",\"digest\":\"" DA "\",\"size\":100,"
		"\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.version\":\"10.0.17763.1\","
		"\"os.features\":[\"win32k\"]}}]}",
		NULL));
	assert_int_equal(m->kind, ECR__MANIFEST_OCI_INDEX);
	assert_int_equal(m->manifests_count, 4);
	assert_string_equal(m->manifests[0].platform_os, "linux");
	assert_null(m->manifests[1].platform_os);
	assert_null(m->manifests[2].platform_arch);
	assert_string_equal(m->manifests[3].platform_os, "windows");
	assert_null(ecr__manifest_artifact_type(m));
	ecr__manifest_free(m);

	/* empty manifests, no mediaType: inferred as an index */
	assert_ok(parse(&m, "{\"schemaVersion\":2,\"manifests\":[]}", NULL));
	assert_int_equal(m->kind, ECR__MANIFEST_OCI_INDEX);
	assert_int_equal(m->manifests_count, 0);
	ecr__manifest_free(m);

	/* index with artifactType and subject */
	assert_ok(parse(&m,
		OCI_INDEX_HEAD "\"artifactType\":\"application/vnd.example.sbom\",\"subject\":"
		"{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"" DD "\",\"size\":7},"
		"\"manifests\":[{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"" DB "\",\"size\":1}]}",
		NULL));
	assert_true(m->has_subject);
	assert_string_equal(m->subject.digest, DD);
	assert_string_equal(ecr__manifest_artifact_type(m), "application/vnd.example.sbom");
	ecr__manifest_free(m);
}

static void test_oci_manifest__oci_artifacts(void **state)
{
	ecr__manifest *m = NULL;

	(void)state;
	/* the image-spec's "minimal artifact" with a subject */
	assert_ok(parse(&m,
		OCI_HEAD "\"artifactType\":\"application/vnd.example+type\",\"config\":" EMPTY_DESC ","
		"\"layers\":[" EMPTY_DESC "],\"subject\":{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\","
		"\"digest\":\"" DC "\",\"size\":1234},\"annotations\":{\"com.example.data\":\"payload\"}}",
		NULL));
	assert_int_equal(m->kind, ECR__MANIFEST_OCI);
	assert_string_equal(m->artifact_type, "application/vnd.example+type");
	assert_string_equal(ecr__manifest_artifact_type(m), "application/vnd.example+type");
	assert_true(m->has_subject);
	assert_string_equal(m->subject.digest, DC);
	assert_string_equal(m->subject.media_type, ECR__MT_OCI_MANIFEST);
	assert_int_equal(m->subject.size, 1234);
	assert_string_equal(m->config.digest, EMPTY_DIGEST);
	ecr__manifest_free(m);

	/* artifact with empty layers and artifactType */
	assert_ok(parse(&m, OCI_HEAD "\"artifactType\":\"application/vnd.example+type\",\"config\":" EMPTY_DESC
		",\"layers\":[]}", NULL));
	assert_int_equal(m->layers_count, 0);
	ecr__manifest_free(m);

	/* artifact typed by its config media type, no layers */
	assert_ok(parse(&m, OCI_HEAD "\"config\":" DESC("application/vnd.cncf.helm.config.v1+json", DA, 10)
		",\"layers\":[]}", NULL));
	assert_null(m->artifact_type);
	assert_string_equal(ecr__manifest_artifact_type(m), "application/vnd.cncf.helm.config.v1+json");
	ecr__manifest_free(m);

	/* an image config with no layers is still fine when artifactType says artifact */
	assert_ok(parse(&m, OCI_HEAD "\"artifactType\":\"application/x.t\",\"config\":" OCI_CFG ",\"layers\":[]}",
		NULL));
	ecr__manifest_free(m);
}

static void test_oci_manifest__exact_max_size(void **state)
{
	ecr__manifest *m = NULL;
	size_t n = strlen(OCI_IMAGE);
	char *buf = malloc(ECR_MANIFEST_MAX_SIZE + 1);

	(void)state;
	assert_non_null(buf);
	memcpy(buf, OCI_IMAGE, n);
	memset(buf + n, ' ', ECR_MANIFEST_MAX_SIZE + 1 - n);
	assert_ok(ecr__manifest_parse(&m, buf, ECR_MANIFEST_MAX_SIZE, NULL));
	ecr__manifest_free(m);
	m = NULL;
	assert_int_equal(ecr__manifest_parse(&m, buf, ECR_MANIFEST_MAX_SIZE + 1, NULL), ECR_ELIMIT);
	assert_null(m);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_OCI);
	free(buf);
}

/* --- invalid manifests ---------------------------------------------------- */

static void test_oci_manifest__invalid_document(void **state)
{
	static const struct bad_case cases[] = {
		{ "empty", "", NULL, ECR_EINVALID, "empty" },
		{ "not json", "hello", NULL, ECR_EINVALID, "JSON" },
		{ "truncated", "{\"schemaVersion\":2,", NULL, ECR_EINVALID, "JSON" },
		{ "trailing garbage", OCI_IMAGE "x", NULL, ECR_EINVALID, "JSON" },
		{ "array", "[1,2]", NULL, ECR_EINVALID, "object" },
		{ "string", "\"x\"", NULL, ECR_EINVALID, "object" },
		{ "number", "2", NULL, ECR_EINVALID, "object" },
		{ "null", "null", NULL, ECR_EINVALID, "object" },
		{ "duplicate key", "{\"schemaVersion\":2,\"schemaVersion\":2,\"manifests\":[]}", NULL, ECR_EINVALID,
			NULL },
		{ "duplicate key in descriptor",
			OCI_HEAD "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DA "\",\"digest\":\"" DB "\",\"size\":1},"
			"\"layers\":[]}", NULL, ECR_EINVALID, NULL },
		{ "deeply nested",
			"{\"schemaVersion\":2,\"manifests\":[],\"x\":"
			"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
			NULL, ECR_EINVALID, NULL },
		{ "schema1 media type",
			"{\"schemaVersion\":1,\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V1 "\",\"fsLayers\":[]}", NULL,
			ECR_EUNSUPPORTED, "schema 1" },
		{ "schema1 signed content type", "{\"schemaVersion\":1,\"name\":\"a\",\"fsLayers\":[]}",
			ECR__MT_DOCKER_MANIFEST_V1_SIGNED, ECR_EUNSUPPORTED, "schema 1" },
		{ "schemaVersion 1 only", "{\"schemaVersion\":1,\"name\":\"a\",\"fsLayers\":[]}", NULL,
			ECR_EUNSUPPORTED, "schema 1" },
		{ "schemaVersion missing", "{\"mediaType\":\"" ECR__MT_OCI_INDEX "\",\"manifests\":[]}", NULL,
			ECR_EINVALID, "schemaVersion: missing" },
		{ "schemaVersion string", "{\"schemaVersion\":\"2\",\"manifests\":[]}", NULL, ECR_EINVALID,
			"schemaVersion" },
		{ "schemaVersion 3", "{\"schemaVersion\":3,\"manifests\":[]}", NULL, ECR_EINVALID, "schemaVersion" },
		{ "schemaVersion 2.5", "{\"schemaVersion\":2.5,\"manifests\":[]}", NULL, ECR_EINVALID,
			"schemaVersion" },
		{ "mediaType not a string", "{\"schemaVersion\":2,\"mediaType\":7,\"manifests\":[]}", NULL,
			ECR_EINVALID, "mediaType: must be a string" },
		{ "unknown media type", "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.foo+json\"}", NULL,
			ECR_EUNSUPPORTED, "application/vnd.foo+json" },
		{ "config media type as manifest type",
			"{\"schemaVersion\":2,\"mediaType\":\"" ECR__MT_OCI_CONFIG "\",\"manifests\":[]}", NULL,
			ECR_EUNSUPPORTED, NULL },
		{ "malformed media type", "{\"schemaVersion\":2,\"mediaType\":\"not a type\"}", NULL, ECR_EINVALID,
			"invalid media type" },
		{ "unknown content type", "{\"schemaVersion\":2,\"manifests\":[]}", "application/vnd.foo+json",
			ECR_EUNSUPPORTED, "application/vnd.foo+json" },
		{ "content type mismatch", DOCKER_V2, ECR__MT_OCI_MANIFEST, ECR_EINVALID, "does not match" },
		{ "content type mismatch index", OCI_IMAGE, ECR__MT_OCI_INDEX, ECR_EINVALID, "does not match" },
		{ "ambiguous: both", "{\"schemaVersion\":2,\"manifests\":[],\"config\":" OCI_CFG ",\"layers\":[]}",
			NULL, ECR_EINVALID, "cannot tell" },
		{ "ambiguous: neither", "{\"schemaVersion\":2}", NULL, ECR_EINVALID, "cannot tell" },
		{ "ambiguous: config only", "{\"schemaVersion\":2,\"config\":" OCI_CFG "}", NULL, ECR_EINVALID,
			"cannot tell" },
		{ "NUL in mediaType", "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json"
			"\\u0000x\",\"manifests\":[]}", NULL, ECR_EINVALID, "NUL" },
	};

	(void)state;
	run_bad(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_oci_manifest__invalid_docker_v2(void **state)
{
	static const struct bad_case cases[] = {
		{ "config missing", DOCKER_V2_HEAD "\"layers\":[]}", NULL, ECR_EINVALID, "config: missing" },
		{ "layers missing", DOCKER_V2_HEAD "\"config\":" DOCKER_CFG "}", NULL, ECR_EINVALID,
			"layers: missing" },
		{ "layers object", DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":{}}", NULL, ECR_EINVALID,
			"layers: must be an array" },
		{ "config array", DOCKER_V2_HEAD "\"config\":[],\"layers\":[]}", NULL, ECR_EINVALID,
			"config: must be an object" },
		{ "layer not object", DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[" DOCKER_LAYER(DB) ",3]}",
			NULL, ECR_EINVALID, "layers[1]: must be an object" },
		{ "bad layer digest",
			DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[" DOCKER_LAYER(DB) "," DOCKER_LAYER(DC) ","
			DOCKER_LAYER(DD) "," DOCKER_LAYER("sha256:xyz") "]}",
			NULL, ECR_EINVALID, "layers[3].digest: invalid digest 'sha256:xyz'" },
		{ "uppercase digest",
			DOCKER_V2_HEAD "\"config\":" DESC("a/b", "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1)
			",\"layers\":[]}", NULL, ECR_EINVALID, "config.digest" },
		{ "short digest", DOCKER_V2_HEAD "\"config\":" DESC("a/b", "sha256:abc", 1) ",\"layers\":[]}", NULL,
			ECR_EINVALID, "config.digest" },
		{ "unknown digest algorithm",
			DOCKER_V2_HEAD "\"config\":" DESC("a/b", "md5:d41d8cd98f00b204e9800998ecf8427e", 1) ",\"layers\":[]}",
			NULL, ECR_EUNSUPPORTED, "config.digest" },
		{ "digest not a string", DOCKER_V2_HEAD "\"config\":{\"mediaType\":\"a/b\",\"digest\":1,\"size\":1},"
			"\"layers\":[]}", NULL, ECR_EINVALID, "config.digest: must be a string" },
		{ "digest missing", DOCKER_V2_HEAD "\"config\":{\"mediaType\":\"a/b\",\"size\":1},\"layers\":[]}",
			NULL, ECR_EINVALID, "config.digest: missing" },
		{ "negative size", DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[" DESC("a/b", DB, -1) "]}",
			NULL, ECR_EINVALID, "layers[0].size: must not be negative" },
		{ "fractional size", DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[" DESC("a/b", DB, 1.5) "]}",
			NULL, ECR_EINVALID, "layers[0].size" },
		{ "huge size",
			DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[" DESC("a/b", DB, 9223372036854775808) "]}",
			NULL, ECR_EINVALID, "layers[0].size" },
		{ "string size", DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[" DESC("a/b", DB, "1") "]}",
			NULL, ECR_EINVALID, "layers[0].size" },
		{ "size missing", DOCKER_V2_HEAD "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DA "\"},"
			"\"layers\":[]}", NULL, ECR_EINVALID, "config.size: missing" },
		{ "mediaType missing", DOCKER_V2_HEAD "\"config\":{\"digest\":\"" DA "\",\"size\":1},\"layers\":[]}",
			NULL, ECR_EINVALID, "config.mediaType: missing" },
		{ "mediaType null", DOCKER_V2_HEAD "\"config\":{\"mediaType\":null,\"digest\":\"" DA "\",\"size\":1},"
			"\"layers\":[]}", NULL, ECR_EINVALID, "config.mediaType: must be a string" },
		{ "descriptor mediaType malformed",
			DOCKER_V2_HEAD "\"config\":" DESC("json", DA, 1) ",\"layers\":[]}", NULL, ECR_EINVALID,
			"config.mediaType: invalid media type" },
		{ "urls not strings", DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[{\"mediaType\":\"a/b\","
			"\"digest\":\"" DB "\",\"size\":1,\"urls\":[\"http://x\",2]}]}", NULL, ECR_EINVALID,
			"layers[0].urls[1]: must be a string" },
		{ "urls not array", DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[{\"mediaType\":\"a/b\","
			"\"digest\":\"" DB "\",\"size\":1,\"urls\":\"http://x\"}]}", NULL, ECR_EINVALID,
			"layers[0].urls" },
		{ "annotation value not a string",
			DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[{\"mediaType\":\"a/b\",\"digest\":\"" DB
			"\",\"size\":1,\"annotations\":{\"k\":1}}]}", NULL, ECR_EINVALID, "layers[0].annotations" },
		{ "descriptor artifactType number",
			DOCKER_V2_HEAD "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DA "\",\"size\":1,\"artifactType\":1},"
			"\"layers\":[]}", NULL, ECR_EINVALID, "config.artifactType" },
		{ "data not a string",
			DOCKER_V2_HEAD "\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" DA "\",\"size\":1,\"data\":{}},"
			"\"layers\":[]}", NULL, ECR_EINVALID, "config.data" },
		{ "manifests in an image",
			DOCKER_V2_HEAD "\"config\":" DOCKER_CFG ",\"layers\":[],\"manifests\":[]}", NULL, ECR_EINVALID,
			"manifests: not allowed" },
	};

	(void)state;
	run_bad(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_oci_manifest__invalid_lists_and_indexes(void **state)
{
	static const struct bad_case cases[] = {
		{ "list: platform missing",
			DOCKER_LIST_HEAD "\"manifests\":[{\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V2 "\",\"digest\":\"" DB
			"\",\"size\":1}]}", NULL, ECR_EINVALID, "manifests[0].platform: missing" },
		{ "list: os missing",
			DOCKER_LIST_HEAD "\"manifests\":[{\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V2 "\",\"digest\":\"" DB
			"\",\"size\":1,\"platform\":{\"architecture\":\"amd64\"}}]}", NULL, ECR_EINVALID,
			"manifests[0].platform.os: missing" },
		{ "list: architecture number",
			DOCKER_LIST_HEAD "\"manifests\":[{\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V2 "\",\"digest\":\"" DB
			"\",\"size\":1,\"platform\":{\"architecture\":64,\"os\":\"linux\"}}]}", NULL, ECR_EINVALID,
			"manifests[0].platform.architecture: must be a string" },
		{ "list: platform string",
			DOCKER_LIST_HEAD "\"manifests\":[{\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V2 "\",\"digest\":\"" DB
			"\",\"size\":1,\"platform\":\"linux/amd64\"}]}", NULL, ECR_EINVALID,
			"manifests[0].platform: must be an object" },
		{ "list: entry is a layer",
			DOCKER_LIST_HEAD "\"manifests\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
			"\"digest\":\"" DB "\",\"size\":1," PLATFORM "}]}", NULL, ECR_EINVALID,
			"manifests[0].mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' is not a manifest" },
		{ "list: schema1 entry",
			DOCKER_LIST_HEAD "\"manifests\":[{\"mediaType\":\"" ECR__MT_DOCKER_MANIFEST_V1 "\","
			"\"digest\":\"" DB "\",\"size\":1," PLATFORM "}]}", NULL, ECR_EINVALID, "manifests[0].mediaType" },
		{ "list: manifests missing", DOCKER_LIST_HEAD "\"x\":1}", NULL, ECR_EINVALID, "manifests: missing" },
		{ "list: manifests object", DOCKER_LIST_HEAD "\"manifests\":{}}", NULL, ECR_EINVALID,
			"manifests: must be an array" },
		{ "list: with config", DOCKER_LIST_HEAD "\"config\":" DOCKER_CFG ",\"manifests\":[]}", NULL,
			ECR_EINVALID, "config: not allowed" },
		{ "index: with layers", OCI_INDEX_HEAD "\"layers\":[],\"manifests\":[]}", NULL, ECR_EINVALID,
			"layers: not allowed" },
		{ "index: unknown entry type",
			OCI_INDEX_HEAD "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
			"\"digest\":\"" DB "\",\"size\":1}]}", NULL, ECR_EINVALID, "manifests[0].mediaType" },
		{ "index: bad entry digest",
			OCI_INDEX_HEAD "\"manifests\":[" DESC(ECR__MT_OCI_MANIFEST, DB, 1) "," DESC(ECR__MT_OCI_MANIFEST,
			"sha256:" HEXA "0", 1) "]}", NULL, ECR_EINVALID, "manifests[1].digest" },
		{ "index: platform without architecture",
			OCI_INDEX_HEAD "\"manifests\":[{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"" DB "\","
			"\"size\":1,\"platform\":{\"os\":\"linux\"}}]}", NULL, ECR_EINVALID,
			"manifests[0].platform.architecture: missing" },
		{ "index: os.features not strings",
			OCI_INDEX_HEAD "\"manifests\":[{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"" DB "\","
			"\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"x\",\"os.features\":[true]}}]}",
			NULL, ECR_EINVALID, "manifests[0].platform.os.features[0]" },
		{ "index: subject bad digest",
			OCI_INDEX_HEAD "\"subject\":" DESC(ECR__MT_OCI_MANIFEST, "sha256:1", 1) ",\"manifests\":[]}", NULL,
			ECR_EINVALID, "subject.digest" },
		{ "index: artifactType number", OCI_INDEX_HEAD "\"artifactType\":5,\"manifests\":[]}", NULL,
			ECR_EINVALID, "artifactType: must be a string" },
		{ "index: annotations array", OCI_INDEX_HEAD "\"annotations\":[],\"manifests\":[]}", NULL, ECR_EINVALID,
			"annotations: must be an object" },
	};

	(void)state;
	run_bad(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_oci_manifest__invalid_oci_image(void **state)
{
	static const struct bad_case cases[] = {
		{ "config missing", OCI_HEAD "\"layers\":[" OCI_LAYER(DB) "]}", NULL, ECR_EINVALID, "config: missing" },
		{ "layers missing", OCI_HEAD "\"config\":" OCI_CFG "}", NULL, ECR_EINVALID, "layers: missing" },
		{ "image without layers", OCI_HEAD "\"config\":" OCI_CFG ",\"layers\":[]}", NULL, ECR_EINVALID,
			"layers: empty" },
		{ "empty config without artifactType", OCI_HEAD "\"config\":" EMPTY_DESC ",\"layers\":[" EMPTY_DESC "]}",
			NULL, ECR_EINVALID, "artifactType: missing" },
		{ "artifactType malformed",
			OCI_HEAD "\"artifactType\":\"sbom\",\"config\":" EMPTY_DESC ",\"layers\":[" EMPTY_DESC "]}", NULL,
			ECR_EINVALID, "artifactType: invalid media type" },
		{ "artifactType array",
			OCI_HEAD "\"artifactType\":[],\"config\":" EMPTY_DESC ",\"layers\":[" EMPTY_DESC "]}", NULL,
			ECR_EINVALID, "artifactType: must be a string" },
		{ "subject not an object",
			OCI_HEAD "\"artifactType\":\"a/b\",\"config\":" EMPTY_DESC ",\"layers\":[],\"subject\":\"" DA "\"}",
			NULL, ECR_EINVALID, "subject: must be an object" },
		{ "subject without size",
			OCI_HEAD "\"artifactType\":\"a/b\",\"config\":" EMPTY_DESC ",\"layers\":[],\"subject\":{\"mediaType\":"
			"\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"" DA "\"}}", NULL, ECR_EINVALID, "subject.size: missing" },
		{ "annotations value object",
			OCI_HEAD "\"annotations\":{\"a\":{}},\"config\":" OCI_CFG ",\"layers\":[" OCI_LAYER(DB) "]}", NULL,
			ECR_EINVALID, "annotations: value of 'a' must be a string" },
		{ "mediaType absent, content type says index",
			"{\"schemaVersion\":2,\"config\":" OCI_CFG ",\"layers\":[" OCI_LAYER(DB) "]}", ECR__MT_OCI_INDEX,
			ECR_EINVALID, "config: not allowed" },
		{ "mediaType absent, content type docker but config missing",
			"{\"schemaVersion\":2,\"layers\":[]}", ECR__MT_DOCKER_MANIFEST_V2, ECR_EINVALID, "config: missing" },
	};

	(void)state;
	run_bad(cases, sizeof(cases) / sizeof(cases[0]));
}

static char *many_layers(size_t n)
{
	static const char layer[] = DESC("a/b", DB, 1);
	size_t cap = 256 + n * (sizeof(layer) + 1), len;
	char *s = malloc(cap);
	size_t i;

	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "%s", OCI_HEAD "\"config\":" OCI_CFG ",\"layers\":[");
	for (i = 0; i < n; i++) {
		if (i)
			s[len++] = ',';
		memcpy(s + len, layer, sizeof(layer) - 1);
		len += sizeof(layer) - 1;
	}
	memcpy(s + len, "]}", 3);
	return s;
}

static void test_oci_manifest__descriptor_count_limit(void **state)
{
	ecr__manifest *m = NULL;
	char *s;

	(void)state;
	s = many_layers(ECR__OCI_MAX_DESCRIPTORS);
	assert_ok(parse(&m, s, NULL));
	assert_int_equal(m->layers_count, ECR__OCI_MAX_DESCRIPTORS);
	ecr__manifest_free(m);
	free(s);

	m = NULL;
	s = many_layers(ECR__OCI_MAX_DESCRIPTORS + 1);
	assert_int_equal(parse(&m, s, NULL), ECR_ELIMIT);
	assert_null(m);
	assert_non_null(strstr(ecr_error_last()->message, "layers"));
	free(s);
}

static void test_oci_manifest__arguments(void **state)
{
	ecr__manifest *m = NULL;

	(void)state;
	assert_int_equal(ecr__manifest_parse(NULL, "{}", 2, NULL), ECR_EINVALID);
	assert_int_equal(ecr__manifest_parse(&m, NULL, 0, NULL), ECR_EINVALID);
	assert_null(m);
	ecr__manifest_free(NULL);
	assert_null(ecr__manifest_artifact_type(NULL));
}

/* Every allocation failure is reported as ECR_ENOMEM, with nothing leaked
 * (the ASan build checks the leaks). */
static size_t alloc_budget;
static void *fail_malloc(size_t n, void *p)
{
	(void)p;
	if (alloc_budget == 0)
		return NULL;
	alloc_budget--;
	return malloc(n);
}
static void *fail_realloc(void *ptr, size_t n, void *p)
{
	(void)p;
	if (alloc_budget == 0)
		return NULL;
	alloc_budget--;
	return realloc(ptr, n);
}
static void fail_free(void *ptr, void *p)
{
	(void)p;
	free(ptr);
}

static void test_oci_manifest__out_of_memory(void **state)
{
	static const char *docs[] = {
		DOCKER_V2,
		OCI_HEAD "\"artifactType\":\"application/x.y\",\"config\":" EMPTY_DESC ",\"layers\":[" EMPTY_DESC "],"
		"\"subject\":" DESC(ECR__MT_OCI_MANIFEST, DC, 3) "}",
		OCI_INDEX_HEAD "\"manifests\":[{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"" DB "\","
		"\"size\":1," PLATFORM "}]}",
	};
	ecr_allocator a = { ECR_ALLOCATOR_VERSION, fail_malloc, fail_realloc, fail_free, NULL };
	size_t d;

	(void)state;
	assert_ok(ecr_set_allocator(&a));
	for (d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		size_t budget;
		for (budget = 0; budget < 10000; budget++) {
			ecr__manifest *m = NULL;
			int rc;
			alloc_budget = budget;
			rc = parse(&m, docs[d], NULL);
			if (rc == 0) {
				ecr__manifest_free(m);
				break;
			}
			if (rc != ECR_ENOMEM)
				fail_msg("doc %zu budget %zu: rc %d: %s", d, budget, rc, ecr_error_last()->message);
			assert_null(m);
		}
		assert_true(budget > 0 && budget < 10000);
	}
	assert_ok(ecr_set_allocator(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oci_manifest__docker_v2),
		cmocka_unit_test(test_oci_manifest__docker_list),
		cmocka_unit_test(test_oci_manifest__oci_image),
		cmocka_unit_test(test_oci_manifest__oci_index),
		cmocka_unit_test(test_oci_manifest__oci_artifacts),
		cmocka_unit_test(test_oci_manifest__exact_max_size),
		cmocka_unit_test(test_oci_manifest__invalid_document),
		cmocka_unit_test(test_oci_manifest__invalid_docker_v2),
		cmocka_unit_test(test_oci_manifest__invalid_lists_and_indexes),
		cmocka_unit_test(test_oci_manifest__invalid_oci_image),
		cmocka_unit_test(test_oci_manifest__descriptor_count_limit),
		cmocka_unit_test(test_oci_manifest__arguments),
		cmocka_unit_test(test_oci_manifest__out_of_memory),
	};
	return cmocka_run_group_tests_name("oci/manifest", tests, NULL, NULL);
}
