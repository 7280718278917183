/* The ECR control plane's lifecycle and storage-class operations
 * (libecr/server/ecr_api_lifecycle.c) and the archive statuses in
 * DescribeImages / ListImages / BatchGetImage / the /v2/ manifest route, over
 * HTTP with libcurl against a server on a memory: registry without
 * authentication. */
#include "api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../helpers/th_image.h"
#include "ecr/lifecycle.h"
#include "libecr/core/json.h"

#define REPO "proj/app"

/* Keep the two newest images tagged v*, expire the others (100+ characters, as ECR requires). */
#define POLICY_KEEP2                                                                                                   \
	"{\"rules\":[{\"rulePriority\":1,\"description\":\"keep the two newest v* images\",\"selection\":{"            \
	"\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"v\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":2},"  \
	"\"action\":{\"type\":\"expire\"}}]}"
/* Archive all but the three newest v* images. */
#define POLICY_ARCHIVE                                                                                                 \
	"{\"rules\":[{\"rulePriority\":3,\"description\":\"archive all but three\",\"selection\":{"                    \
	"\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"v\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":3},"  \
	"\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}}]}"

typedef struct fixture {
	ecr_registry *reg;
	ecr_server *srv;
	ecr_repository *repo;
	uint16_t port;
	uint64_t rng;
	th_image imgs[4]; /* v1 (oldest) .. v4 */
} fixture;

/* POST / with X-Amz-Target: ...<op> and a JSON body; the reply's JSON is parsed. */
static void call(reply *r, fixture *f, const char *op, const char *body)
{
	api_call(r, f->port, op, body);
}

static void callf(reply *r, fixture *f, const char *op, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void callf(reply *r, fixture *f, const char *op, const char *fmt, ...)
{
	char body[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	call(r, f, op, body);
}

/* A body {"repositoryName": repo, "lifecyclePolicyText": text} (the text JSON-escaped). */
static void call_policy(reply *r, fixture *f, const char *op, const char *repo, const char *text)
{
	ecr__jw *w;
	ecr_buf out = ECR_BUF_INIT;
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_object_open(w));
	assert_ok(ecr__jw_key(w, "repositoryName"));
	assert_ok(ecr__jw_string(w, repo));
	if (text) {
		assert_ok(ecr__jw_key(w, "lifecyclePolicyText"));
		assert_ok(ecr__jw_string(w, text));
	}
	assert_ok(ecr__jw_object_close(w));
	assert_ok(ecr__jw_finish(w, &out));
	ecr__jw_free(w);
	call(r, f, op, out.ptr);
	ecr_buf_dispose(&out);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->rng = 0x11fec7c1u;
	assert_ok(ecr_registry_open(&f->reg, "memory:", NULL));
	assert_ok(ecr_repository_create(&f->repo, f->reg, REPO, NULL));
	f->port = api_server_start(&f->srv, f->reg, ECR_SERVER_NO_AUTH);
	/* v1..v4, pushed in that order, a few ms apart so that their push times differ */
	for (int i = 0; i < 4; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "v%d", i + 1);
		assert_ok(th_image_random(&f->imgs[i], &f->rng, 1, NULL));
		assert_ok(th_image_push(f->repo, &f->imgs[i], tag, 0));
		sleep_ms(15);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_server_free(f->srv);
	ecr_repository_free(f->repo);
	ecr_registry_free(f->reg);
	for (int i = 0; i < 4; i++)
		th_image_dispose(&f->imgs[i]);
	free(f);
	return 0;
}

/* The digests of DescribeImages' imageDetails (with a filter body fragment), as a bit set of f->imgs. */
static unsigned described(fixture *f, const char *extra)
{
	reply r = {0};
	unsigned set = 0;
	callf(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\"%s}", extra);
	expect_ok(&r);
	for (size_t i = 0; i < jcount(r.json, "imageDetails"); i++) {
		const char *d = jstr(jat(r.json, "imageDetails", i), "imageDigest");
		bool known = false;
		for (int k = 0; k < 4; k++)
			if (strcmp(d, f->imgs[k].digest) == 0) {
				set |= 1u << k;
				known = true;
			}
		assert_true(known);
	}
	reply_dispose(&r);
	return set;
}

/* --- PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy --- */

static void test_server_ecr_api_lifecycle__put_get_delete(void **state)
{
	fixture *f = *state;
	reply r = {0};

	call(&r, f, "GetLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "LifecyclePolicyNotFoundException");
	call(&r, f, "DeleteLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "LifecyclePolicyNotFoundException");

	/* validation: length, grammar, a missing member, a missing repository */
	call_policy(&r, f, "PutLifecyclePolicy", REPO, "{\"rules\":[]}");
	expect_error(&r, "InvalidParameterException");
	call_policy(&r, f, "PutLifecyclePolicy", REPO,
	            "{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"bogus\",\"countType\":"
	            "\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}}]}");
	expect_error(&r, "InvalidParameterException");
	assert_non_null(strstr(jstr(r.json, "message"), "Lifecycle policy validation failure"));
	call(&r, f, "PutLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "InvalidParameterException");
	call_policy(&r, f, "PutLifecyclePolicy", "proj/missing", POLICY_KEEP2);
	expect_error(&r, "RepositoryNotFoundException");
	call(&r, f, "GetLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "LifecyclePolicyNotFoundException");

	call_policy(&r, f, "PutLifecyclePolicy", REPO, POLICY_KEEP2);
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "registryId"), ecr_repository_registry_id(f->repo));
	assert_string_equal(jstr(r.json, "repositoryName"), REPO);
	assert_string_equal(jstr(r.json, "lifecyclePolicyText"), POLICY_KEEP2);

	call(&r, f, "GetLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "repositoryName"), REPO);
	assert_string_equal(jstr(r.json, "lifecyclePolicyText"), POLICY_KEEP2);
	assert_null(ecr__json_get(r.json, "lastEvaluatedAt")); /* never applied */

	/* applied through the library: lastEvaluatedAt appears, v1 and v2 are gone */
	int64_t before = (int64_t)time(NULL) - 1;
	assert_ok(ecr_repository_apply_lifecycle(f->repo, NULL, NULL));
	call(&r, f, "GetLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	const ecr__json *t = jget(r.json, "lastEvaluatedAt");
	assert_int_equal(t->type, ECR__JSON_NUMBER);
	int64_t after = (int64_t)time(NULL) + 1;
	if (!(t->number >= (double)before && t->number <= (double)after))
		fail_msg("lastEvaluatedAt %.3f (text '%s') outside [%lld, %lld]", t->number, t->string ? t->string : "",
			(long long)before, (long long)after);
	assert_int_equal(described(f, ""), 0xcu);

	call(&r, f, "DeleteLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "lifecyclePolicyText"), POLICY_KEEP2);
	assert_string_equal(jstr(r.json, "registryId"), ecr_repository_registry_id(f->repo));
	assert_int_equal(jget(r.json, "lastEvaluatedAt")->type, ECR__JSON_NUMBER);
	call(&r, f, "GetLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "LifecyclePolicyNotFoundException");
	call(&r, f, "DeleteLifecyclePolicy", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "LifecyclePolicyNotFoundException");
	call(&r, f, "GetLifecyclePolicy", "{\"repositoryName\":\"proj/missing\"}");
	expect_error(&r, "RepositoryNotFoundException");
	reply_dispose(&r);
}

/* --- StartLifecyclePolicyPreview, GetLifecyclePolicyPreview --- */

static void test_server_ecr_api_lifecycle__preview(void **state)
{
	fixture *f = *state;
	reply r = {0};
	char token[512];

	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "LifecyclePolicyPreviewNotFoundException");
	/* no text and no stored policy */
	call(&r, f, "StartLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "LifecyclePolicyNotFoundException");
	call_policy(&r, f, "StartLifecyclePolicyPreview", REPO,
	            "{\"rules\": \"not a list of rules at all, but long "
	            "enough to pass the length check of lifecyclePolicyText\"}");
	expect_error(&r, "InvalidParameterException");
	call_policy(&r, f, "StartLifecyclePolicyPreview", "proj/missing", POLICY_KEEP2);
	expect_error(&r, "RepositoryNotFoundException");
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "LifecyclePolicyPreviewNotFoundException");

	call_policy(&r, f, "StartLifecyclePolicyPreview", REPO, POLICY_KEEP2);
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "registryId"), ecr_repository_registry_id(f->repo));
	assert_string_equal(jstr(r.json, "repositoryName"), REPO);
	assert_string_equal(jstr(r.json, "lifecyclePolicyText"), POLICY_KEEP2);
	assert_string_equal(jstr(r.json, "status"), "IN_PROGRESS");
	/* a second start while the first is in progress */
	call_policy(&r, f, "StartLifecyclePolicyPreview", REPO, POLICY_KEEP2);
	expect_error(&r, "LifecyclePolicyPreviewInProgressException");
	/* IN_PROGRESS once, then COMPLETE */
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "status"), "IN_PROGRESS");
	assert_string_equal(jstr(r.json, "lifecyclePolicyText"), POLICY_KEEP2);
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "status"), "COMPLETE");
	assert_int_equal(jcount(r.json, "previewResults"), 2);
	unsigned seen = 0;
	for (size_t i = 0; i < 2; i++) {
		const ecr__json *p = jat(r.json, "previewResults", i);
		const char *d = jstr(p, "imageDigest");
		int k = strcmp(d, f->imgs[0].digest) == 0 ? 0 : strcmp(d, f->imgs[1].digest) == 0 ? 1 : -1;
		assert_true(k >= 0);
		seen |= 1u << k;
		assert_int_equal(jcount(p, "imageTags"), 1);
		assert_string_equal(jat(p, "imageTags", 0)->string, k == 0 ? "v1" : "v2");
		assert_int_equal(jget(p, "imagePushedAt")->type, ECR__JSON_NUMBER);
		assert_string_equal(jstr(jget(p, "action"), "type"), "EXPIRE");
		assert_null(ecr__json_get(jget(p, "action"), "targetStorageClass"));
		assert_int_equal(jget(p, "appliedRulePriority")->integer, 1);
		assert_string_equal(jstr(p, "storageClass"), "STANDARD");
	}
	assert_int_equal(seen, 3u);
	const ecr__json *sum = jget(r.json, "summary");
	assert_int_equal(jget(sum, "expiringImageTotalCount")->integer, 2);
	assert_null(ecr__json_get(sum, "transitioningImageTotalCounts"));
	assert_null(ecr__json_get(r.json, "nextToken"));

	/* paging by one */
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\",\"maxResults\":1}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "previewResults"), 1);
	snprintf(token, sizeof(token), "%s", jstr(r.json, "nextToken"));
	char first[100];
	snprintf(first, sizeof(first), "%s", jstr(jat(r.json, "previewResults", 0), "imageDigest"));
	callf(&r, f, "GetLifecyclePolicyPreview",
	      "{\"repositoryName\":\"" REPO "\",\"maxResults\":1,\"nextToken\":\"%s\"}", token);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "previewResults"), 1);
	assert_string_not_equal(jstr(jat(r.json, "previewResults", 0), "imageDigest"), first);
	assert_null(ecr__json_get(r.json, "nextToken"));
	/* the token belongs to its query */
	callf(&r, f, "GetLifecyclePolicyPreview",
	      "{\"repositoryName\":\"" REPO "\",\"nextToken\":\"%s\",\"filter\":{\"tagStatus\":\"TAGGED\"}}", token);
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\",\"nextToken\":\"bm9wZQ\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\",\"maxResults\":101}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\",\"maxResults\":0}");
	expect_error(&r, "InvalidParameterException");

	/* filters */
	call(&r, f, "GetLifecyclePolicyPreview",
	     "{\"repositoryName\":\"" REPO "\",\"filter\":{\"tagStatus\":\"UNTAGGED\"}}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "previewResults"), 0);
	assert_int_equal(jget(jget(r.json, "summary"), "expiringImageTotalCount")->integer, 2);
	call(&r, f, "GetLifecyclePolicyPreview",
	     "{\"repositoryName\":\"" REPO "\",\"filter\":{\"tagStatus\":\"NOPE\"}}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "GetLifecyclePolicyPreview",
	     "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"v2\"},{\"imageTag\":\"v4\"}]}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "previewResults"), 1); /* v4 is kept */
	assert_string_equal(jstr(jat(r.json, "previewResults", 0), "imageDigest"), f->imgs[1].digest);
	call(&r, f, "GetLifecyclePolicyPreview",
	     "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"v2\"}],\"maxResults\":5}");
	expect_error(&r, "InvalidParameterException");

	/* a preview changes nothing */
	assert_int_equal(described(f, ""), 0xfu);

	/* a new preview, of the stored policy, with a transition */
	call_policy(&r, f, "PutLifecyclePolicy", REPO, POLICY_ARCHIVE);
	expect_ok(&r);
	call(&r, f, "StartLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "lifecyclePolicyText"), POLICY_ARCHIVE);
	/* the old token does not work with the new preview */
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "status"), "IN_PROGRESS");
	callf(&r, f, "GetLifecyclePolicyPreview",
	      "{\"repositoryName\":\"" REPO "\",\"maxResults\":1,\"nextToken\":\"%s\"}", token);
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "GetLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "status"), "COMPLETE");
	assert_int_equal(jcount(r.json, "previewResults"), 1);
	const ecr__json *p = jat(r.json, "previewResults", 0);
	assert_string_equal(jstr(p, "imageDigest"), f->imgs[0].digest);
	assert_string_equal(jstr(jget(p, "action"), "type"), "TRANSITION");
	assert_string_equal(jstr(jget(p, "action"), "targetStorageClass"), "ARCHIVE");
	assert_int_equal(jget(p, "appliedRulePriority")->integer, 3);
	sum = jget(r.json, "summary");
	assert_int_equal(jget(sum, "expiringImageTotalCount")->integer, 0);
	assert_int_equal(jcount(sum, "transitioningImageTotalCounts"), 1);
	assert_string_equal(jstr(jat(sum, "transitioningImageTotalCounts", 0), "targetStorageClass"), "ARCHIVE");
	assert_int_equal(jget(jat(sum, "transitioningImageTotalCounts", 0), "imageTotalCount")->integer, 1);
	/* complete: a new start is accepted */
	call(&r, f, "StartLifecyclePolicyPreview", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_int_equal(described(f, ""), 0xfu);
	reply_dispose(&r);
}

/* --- UpdateImageStorageClass and the archive statuses --- */

static void test_server_ecr_api_lifecycle__storage_class(void **state)
{
	fixture *f = *state;
	reply r = {0};
	char url[300];

	/* errors */
	call(&r, f, "UpdateImageStorageClass",
	     "{\"repositoryName\":\"" REPO "\",\"imageId\":{\"imageTag\":\"v1\"},\"targetStorageClass\":\"COLD\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "UpdateImageStorageClass", "{\"repositoryName\":\"" REPO "\",\"targetStorageClass\":\"ARCHIVE\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "UpdateImageStorageClass",
	     "{\"repositoryName\":\"" REPO "\",\"imageId\":{},\"targetStorageClass\":\"ARCHIVE\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "UpdateImageStorageClass",
	     "{\"repositoryName\":\"" REPO
	     "\",\"imageId\":{\"imageTag\":\"gone\"},\"targetStorageClass\":\"ARCHIVE\"}");
	expect_error(&r, "ImageNotFoundException");
	callf(&r, f, "UpdateImageStorageClass",
	      "{\"repositoryName\":\"" REPO "\",\"imageId\":{\"imageTag\":\"v2\",\"imageDigest\":\"%s\"},"
	      "\"targetStorageClass\":\"ARCHIVE\"}",
	      f->imgs[0].digest);
	expect_error(&r, "ImageNotFoundException");
	call(&r, f, "UpdateImageStorageClass",
	     "{\"repositoryName\":\"proj/"
	     "missing\",\"imageId\":{\"imageTag\":\"v1\"},\"targetStorageClass\":\"ARCHIVE\"}");
	expect_error(&r, "RepositoryNotFoundException");

	/* archive v1 by tag */
	call(&r, f, "UpdateImageStorageClass",
	     "{\"repositoryName\":\"" REPO "\",\"imageId\":{\"imageTag\":\"v1\"},\"targetStorageClass\":\"ARCHIVE\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "registryId"), ecr_repository_registry_id(f->repo));
	assert_string_equal(jstr(r.json, "repositoryName"), REPO);
	assert_string_equal(jstr(jget(r.json, "imageId"), "imageDigest"), f->imgs[0].digest);
	assert_string_equal(jstr(jget(r.json, "imageId"), "imageTag"), "v1");
	assert_string_equal(jstr(r.json, "imageStatus"), "ARCHIVED");

	/* DescribeImages: ACTIVE by default, ARCHIVED and ANY on request */
	assert_int_equal(described(f, ""), 0xeu);
	assert_int_equal(described(f, ",\"filter\":{\"imageStatus\":\"ACTIVE\"}"), 0xeu);
	assert_int_equal(described(f, ",\"filter\":{\"imageStatus\":\"ARCHIVED\"}"), 0x1u);
	assert_int_equal(described(f, ",\"filter\":{\"imageStatus\":\"ANY\"}"), 0xfu);
	assert_int_equal(described(f, ",\"filter\":{\"imageStatus\":\"ACTIVATING\"}"), 0u);
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\",\"filter\":{\"imageStatus\":\"COLD\"}}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\",\"filter\":{\"imageStatus\":\"ARCHIVED\"}}");
	expect_ok(&r);
	const ecr__json *d = jat(r.json, "imageDetails", 0);
	assert_string_equal(jstr(d, "imageStatus"), "ARCHIVED");
	assert_int_equal(jget(d, "lastArchivedAt")->type, ECR__JSON_NUMBER);
	assert_null(ecr__json_get(d, "lastActivatedAt"));
	/* by id, whatever its status */
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"v1\"}]}");
	expect_ok(&r);
	assert_string_equal(jstr(jat(r.json, "imageDetails", 0), "imageStatus"), "ARCHIVED");

	/* ListImages */
	call(&r, f, "ListImages", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), 3);
	call(&r, f, "ListImages", "{\"repositoryName\":\"" REPO "\",\"filter\":{\"imageStatus\":\"ARCHIVED\"}}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), 1);
	assert_string_equal(jstr(jat(r.json, "imageIds", 0), "imageTag"), "v1");

	/* not pullable: BatchGetImage fails the item, /v2/ answers 404 */
	call(&r, f, "BatchGetImage",
	     "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"v1\"},"
	     "{\"imageTag\":\"v2\"}]}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "images"), 1);
	assert_int_equal(jcount(r.json, "failures"), 1);
	assert_string_equal(jstr(jat(r.json, "failures", 0), "failureCode"), "ImageNotFound");
	assert_string_equal(jstr(jget(jat(r.json, "failures", 0), "imageId"), "imageTag"), "v1");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v2/" REPO "/manifests/v1", (unsigned)f->port);
	api_get(&r, url, "application/vnd.oci.image.manifest.v1+json");
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "MANIFEST_UNKNOWN"));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v2/" REPO "/manifests/v2", (unsigned)f->port);
	api_get(&r, url, "application/vnd.oci.image.manifest.v1+json");
	assert_int_equal(r.status, 200);

	/* restore by digest */
	callf(&r, f, "UpdateImageStorageClass",
	      "{\"repositoryName\":\"" REPO
	      "\",\"imageId\":{\"imageDigest\":\"%s\"},\"targetStorageClass\":\"STANDARD\"}",
	      f->imgs[0].digest);
	expect_ok(&r);
	assert_null(ecr__json_get(jget(r.json, "imageId"), "imageTag"));
	const char *st = jstr(r.json, "imageStatus");
	assert_true(strcmp(st, "ACTIVATING") == 0 || strcmp(st, "ACTIVE") == 0);
	/* ACTIVE within a few seconds, with lastActivatedAt */
	int tries = 0;
	while (described(f, "") != 0xfu && tries++ < 100)
		sleep_ms(50);
	assert_int_equal(described(f, ""), 0xfu);
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"v1\"}]}");
	expect_ok(&r);
	d = jat(r.json, "imageDetails", 0);
	assert_string_equal(jstr(d, "imageStatus"), "ACTIVE");
	assert_int_equal(jget(d, "lastActivatedAt")->type, ECR__JSON_NUMBER);
	assert_int_equal(jget(d, "lastArchivedAt")->type, ECR__JSON_NUMBER);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v2/" REPO "/manifests/v1", (unsigned)f->port);
	api_get(&r, url, "application/vnd.oci.image.manifest.v1+json");
	assert_int_equal(r.status, 200);
	reply_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_lifecycle__put_get_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_lifecycle__preview, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_lifecycle__storage_class, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ecr_init();
	int rc = cmocka_run_group_tests_name("server/ecr_api_lifecycle", tests, NULL, NULL);
	ecr_shutdown();
	curl_global_cleanup();
	return rc;
}
