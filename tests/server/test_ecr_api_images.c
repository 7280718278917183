/* The ECR control plane's image and layer operations
 * (libecr/server/ecr_api_images.c), over HTTP with libcurl against a server
 * on a memory: registry without authentication (and, for the download URL's
 * token, with SigV4 authentication). */
#include "api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../helpers/th_image.h"
#include "libecr/core/crypto.h"
#include "libecr/core/digest.h"
#include "libecr/core/json.h"

#define REPO "proj/app"
#define MIB (1024 * 1024)

typedef struct fixture {
	ecr_registry *reg;
	ecr_server *srv;
	ecr_repository *repo;
	uint16_t port;
	uint64_t rng;
} fixture;

/* POST / with X-Amz-Target: ...<op> and a JSON body; the reply's JSON is parsed. */
static void call(reply *r, fixture *f, const char *op, const char *body)
{
	api_call(r, f->port, op, body);
}

/* A request body built with the library's JSON writer: pairs of key and
 * string value, then NULL. */
static char *body_of(const char *first, ...)
{
	ecr__jw *w;
	ecr_buf out = ECR_BUF_INIT;
	va_list ap;
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_object_open(w));
	va_start(ap, first);
	for (const char *k = first; k; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		assert_ok(ecr__jw_key(w, k));
		assert_ok(ecr__jw_string(w, v));
	}
	va_end(ap);
	assert_ok(ecr__jw_object_close(w));
	assert_ok(ecr__jw_finish(w, &out));
	ecr__jw_free(w);
	return out.ptr;
}

static void put_image(reply *r, fixture *f, const char *manifest, const char *tag)
{
	char *b = tag ? body_of("repositoryName", REPO, "imageManifest", manifest, "imageTag", tag, NULL)
	              : body_of("repositoryName", REPO, "imageManifest", manifest, NULL);
	call(r, f, "PutImage", b);
	ecr__free(b);
}

/* Push an image's blobs through the library and its manifest through PutImage. */
static void push(fixture *f, th_image *img, size_t layers, const char *tag)
{
	reply r = {0};
	assert_ok(th_image_random(img, &f->rng, layers, NULL));
	assert_ok(th_blob_push(f->repo, &img->config, 0));
	for (size_t i = 0; i < img->layer_count; i++)
		assert_ok(th_blob_push(f->repo, &img->layers[i], 0));
	put_image(&r, f, img->manifest, tag);
	expect_ok(&r);
	assert_string_equal(jstr(jget(jget(r.json, "image"), "imageId"), "imageDigest"), img->digest);
	reply_dispose(&r);
}

static void tag_image(fixture *f, const th_image *img, const char *tag)
{
	reply r = {0};
	put_image(&r, f, img->manifest, tag);
	expect_ok(&r);
	reply_dispose(&r);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->rng = 0x5eed1234u;
	assert_ok(ecr_registry_open(&f->reg, "memory:", NULL));
	assert_ok(ecr_repository_create(&f->repo, f->reg, REPO, NULL));
	f->port = api_server_start(&f->srv, f->reg, ECR_SERVER_NO_AUTH);
	*state = f;
	return 0;
}

static int setup_auth(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->rng = 0x5eed1234u;
	assert_ok(ecr_registry_open(&f->reg, "memory:", NULL));
	assert_ok(ecr_repository_create(&f->repo, f->reg, REPO, NULL));
	f->port = api_server_start(&f->srv, f->reg, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_server_free(f->srv);
	ecr_repository_free(f->repo);
	ecr_registry_free(f->reg);
	free(f);
	return 0;
}

/* --- PutImage, BatchGetImage --- */

static void test_server_ecr_api_images__put_image(void **state)
{
	fixture *f = *state;
	reply r = {0};
	th_image img, missing;
	char body[512];

	push(f, &img, 2, "v1");
	/* the same tag on the same manifest */
	put_image(&r, f, img.manifest, "v1");
	expect_error(&r, "ImageAlreadyExistsException");
	/* a second tag is a retag */
	put_image(&r, f, img.manifest, "v2");
	expect_ok(&r);
	const ecr__json *image = jget(r.json, "image");
	assert_string_equal(jstr(image, "registryId"), ecr_repository_registry_id(f->repo));
	assert_string_equal(jstr(image, "repositoryName"), REPO);
	assert_string_equal(jstr(jget(image, "imageId"), "imageTag"), "v2");
	assert_string_equal(jstr(image, "imageManifest"), img.manifest);
	assert_string_equal(jstr(image, "imageManifestMediaType"), "application/vnd.oci.image.manifest.v1+json");
	/* a wrong digest */
	char *b = body_of("repositoryName", REPO, "imageManifest", img.manifest, "imageTag", "v3", "imageDigest",
	                  "sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL);
	call(&r, f, "PutImage", b);
	ecr__free(b);
	expect_error(&r, "ImageDigestDoesNotMatchException");
	/* layers that were never uploaded */
	assert_ok(th_image_random(&missing, &f->rng, 1, NULL));
	put_image(&r, f, missing.manifest, "missing");
	expect_error(&r, "LayersNotFoundException");
	/* not JSON */
	put_image(&r, f, "not a manifest", NULL);
	expect_error(&r, "InvalidParameterException");
	/* an unknown repository; a missing manifest; a tag over 300 characters */
	call(&r, f, "PutImage", "{\"repositoryName\":\"nope\",\"imageManifest\":\"{}\"}");
	expect_error(&r, "RepositoryNotFoundException");
	call(&r, f, "PutImage", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "InvalidParameterException");
	char tag[302];
	memset(tag, 'a', 301);
	tag[301] = '\0';
	put_image(&r, f, img.manifest, tag);
	expect_error(&r, "InvalidParameterException");

	/* BatchGetImage: by tag, by digest, and the failures */
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"v1\"},{\"imageDigest\":\"%s\"},"
	         "{\"imageTag\":\"nope\"},{},{\"imageDigest\":\"bad\"},{\"imageTag\":\"v1\",\"imageDigest\":\"%s\"}]}",
	         img.digest, "sha256:1111111111111111111111111111111111111111111111111111111111111111");
	call(&r, f, "BatchGetImage", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "images"), 2);
	assert_string_equal(jstr(jat(r.json, "images", 0), "imageManifest"), img.manifest);
	assert_string_equal(jstr(jget(jat(r.json, "images", 0), "imageId"), "imageTag"), "v1");
	assert_string_equal(jstr(jget(jat(r.json, "images", 1), "imageId"), "imageDigest"), img.digest);
	assert_null(ecr__json_get(jget(jat(r.json, "images", 1), "imageId"), "imageTag"));
	assert_int_equal(jcount(r.json, "failures"), 4);
	assert_string_equal(jstr(jat(r.json, "failures", 0), "failureCode"), "ImageNotFound");
	assert_string_equal(jstr(jat(r.json, "failures", 0), "failureReason"), "Requested image not found");
	assert_string_equal(jstr(jget(jat(r.json, "failures", 0), "imageId"), "imageTag"), "nope");
	assert_string_equal(jstr(jat(r.json, "failures", 1), "failureCode"), "MissingDigestAndTag");
	assert_string_equal(jstr(jat(r.json, "failures", 2), "failureCode"), "InvalidImageDigest");
	assert_string_equal(jstr(jat(r.json, "failures", 3), "failureCode"), "ImageTagDoesNotMatchDigest");
	/* acceptedMediaTypes: the stored form or a failure */
	call(&r, f, "BatchGetImage",
	     "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"v1\"}],"
	     "\"acceptedMediaTypes\":[\"application/vnd.docker.distribution.manifest.v2+json\"]}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "images"), 0);
	assert_int_equal(jcount(r.json, "failures"), 1);
	call(&r, f, "BatchGetImage",
	     "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"v1\"}],"
	     "\"acceptedMediaTypes\":[\"application/vnd.docker.distribution.manifest.v2+json\","
	     "\"application/vnd.oci.image.manifest.v1+json\"]}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "images"), 1);
	/* limits */
	call(&r, f, "BatchGetImage", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[]}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "BatchGetImage", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "BatchGetImage", "{\"repositoryName\":\"nope\",\"imageIds\":[{\"imageTag\":\"v1\"}]}");
	expect_error(&r, "RepositoryNotFoundException");
	/* the pull was recorded */
	ecr_image *got;
	assert_ok(ecr_image_get(&got, f->repo, "v1", 0));
	assert_true(ecr_image_last_pulled_at(got) > 0);
	ecr_image_free(got);

	reply_dispose(&r);
	th_image_dispose(&img);
	th_image_dispose(&missing);
}

/* --- ListImages --- */

/* Every ImageIdentifier of the repository, page by page; returns the number of pages. */
static size_t list_all(fixture *f, const char *filter, int max, char out[][160], size_t *n_out)
{
	reply r = {0};
	char body[2048];
	char *token = NULL;
	size_t pages = 0, n = 0;
	do {
		int len =
		    snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"maxResults\":%d%s%s%s", max,
		             filter ? ",\"filter\":" : "", filter ? filter : "", token ? ",\"nextToken\":\"" : "");
		if (token)
			len += snprintf(body + len, sizeof(body) - (size_t)len, "%s\"", token);
		snprintf(body + len, sizeof(body) - (size_t)len, "}");
		free(token);
		token = NULL;
		call(&r, f, "ListImages", body);
		expect_ok(&r);
		size_t count = jcount(r.json, "imageIds");
		assert_true(count <= (size_t)max);
		for (size_t i = 0; i < count; i++) {
			const ecr__json *id = jat(r.json, "imageIds", i);
			const ecr__json *tag = ecr__json_get(id, "imageTag");
			snprintf(out[n++], 160, "%s %s", jstr(id, "imageDigest"), tag ? tag->string : "-");
		}
		const char *next = ecr__json_get_string(r.json, "nextToken");
		if (next) {
			assert_int_equal(count, max);
			token = strdup(next);
		}
		pages++;
	} while (token);
	reply_dispose(&r);
	*n_out = n;
	return pages;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_server_ecr_api_images__list_images(void **state)
{
	fixture *f = *state;
	reply r = {0};
	th_image a, b, c;
	char ids[16][160], expect[16][160];
	size_t n, e = 0;

	push(f, &a, 1, "a1");
	tag_image(f, &a, "a2");
	tag_image(f, &a, "a3");
	push(f, &b, 1, "b1");
	push(f, &c, 1, NULL);
	snprintf(expect[e++], 160, "%s a1", a.digest);
	snprintf(expect[e++], 160, "%s a2", a.digest);
	snprintf(expect[e++], 160, "%s a3", a.digest);
	snprintf(expect[e++], 160, "%s b1", b.digest);
	snprintf(expect[e++], 160, "%s -", c.digest);
	qsort(expect, e, sizeof(expect[0]), cmp_str);

	/* every page size gives each tag once and the untagged image once */
	for (int max = 1; max <= 6; max++) {
		size_t pages = list_all(f, NULL, max, ids, &n);
		assert_int_equal(n, 5);
		assert_int_equal(pages, (5 + (size_t)max - 1) / (size_t)max);
		qsort(ids, n, sizeof(ids[0]), cmp_str);
		for (size_t i = 0; i < n; i++)
			assert_string_equal(ids[i], expect[i]);
	}
	list_all(f, "{\"tagStatus\":\"TAGGED\"}", 2, ids, &n);
	assert_int_equal(n, 4);
	list_all(f, "{\"tagStatus\":\"UNTAGGED\"}", 2, ids, &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(ids[0], c.digest));
	list_all(f, "{\"imageStatus\":\"ARCHIVED\"}", 2, ids, &n);
	assert_int_equal(n, 0);
	list_all(f, "{\"tagStatus\":\"ANY\",\"imageStatus\":\"ACTIVE\"}", 100, ids, &n);
	assert_int_equal(n, 5);

	/* the default page holds everything; no token on the last page */
	call(&r, f, "ListImages", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), 5);
	assert_null(ecr__json_get(r.json, "nextToken"));

	/* a token from another query, malformed tokens, bounds, enums */
	call(&r, f, "ListImages",
	     "{\"repositoryName\":\"" REPO "\",\"maxResults\":1,\"filter\":{\"tagStatus\":\"TAGGED\"}}");
	expect_ok(&r);
	char body[1024];
	snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"nextToken\":\"%s\"}",
	         jstr(r.json, "nextToken"));
	call(&r, f, "ListImages", body);
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "ListImages", "{\"repositoryName\":\"" REPO "\",\"nextToken\":\"garbage!\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "ListImages", "{\"repositoryName\":\"" REPO "\",\"nextToken\":\"aGVsbG8\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "ListImages", "{\"repositoryName\":\"" REPO "\",\"maxResults\":0}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "ListImages", "{\"repositoryName\":\"" REPO "\",\"maxResults\":1001}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "ListImages", "{\"repositoryName\":\"" REPO "\",\"filter\":{\"tagStatus\":\"SOME\"}}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "ListImages", "{\"repositoryName\":\"nope\"}");
	expect_error(&r, "RepositoryNotFoundException");

	/* resuming inside an image whose tags changed meanwhile */
	call(&r, f, "ListImages",
	     "{\"repositoryName\":\"" REPO "\",\"maxResults\":1,\"filter\":{\"tagStatus\":\"TAGGED\"}}");
	expect_ok(&r);
	char *token = strdup(jstr(r.json, "nextToken"));
	const char *first = jstr(jat(r.json, "imageIds", 0), "imageTag");
	assert_true(strcmp(first, "a1") == 0 || strcmp(first, "b1") == 0);
	bool a_first = strcmp(first, "a1") == 0;
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"maxResults\":100,\"filter\":{\"tagStatus\":\"TAGGED\"},"
	         "\"nextToken\":\"%s\"}",
	         token);
	free(token);
	if (a_first) /* the next tag is removed before the next page */
		assert_ok(ecr_image_untag(NULL, f->repo, "a2", 0));
	call(&r, f, "ListImages", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), a_first ? 2 : 3);
	if (a_first)
		assert_string_equal(jstr(jat(r.json, "imageIds", 0), "imageTag"), "a3");

	reply_dispose(&r);
	th_image_dispose(&a);
	th_image_dispose(&b);
	th_image_dispose(&c);
}

/* --- DescribeImages --- */

static void test_server_ecr_api_images__describe_images(void **state)
{
	fixture *f = *state;
	reply r = {0};
	th_image a, b, c;
	char body[1024];

	push(f, &a, 2, "a");
	tag_image(f, &a, "z");
	push(f, &b, 1, "b");
	push(f, &c, 1, NULL);

	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"a\"},{\"imageDigest\":\"%s\"}]}",
	         c.digest);
	call(&r, f, "DescribeImages", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageDetails"), 2);
	const ecr__json *d = jat(r.json, "imageDetails", 0);
	assert_string_equal(jstr(d, "imageDigest"), a.digest);
	assert_string_equal(jstr(d, "repositoryName"), REPO);
	assert_string_equal(jstr(d, "registryId"), ecr_repository_registry_id(f->repo));
	assert_int_equal(jcount(d, "imageTags"), 2);
	assert_string_equal(jat(d, "imageTags", 0)->string, "a");
	assert_string_equal(jat(d, "imageTags", 1)->string, "z");
	assert_true(jget(d, "imageSizeInBytes")->integer >= (int64_t)(a.layers[0].len + a.layers[1].len));
	assert_int_equal(jget(d, "imagePushedAt")->type, ECR__JSON_NUMBER);
	assert_string_equal(jstr(d, "imageManifestMediaType"), "application/vnd.oci.image.manifest.v1+json");
	assert_string_equal(jstr(d, "imageStatus"), "ACTIVE");
	assert_null(ecr__json_get(d, "lastRecordedPullTime"));
	assert_null(ecr__json_get(d, "subjectManifestDigest"));
	d = jat(r.json, "imageDetails", 1);
	assert_string_equal(jstr(d, "imageDigest"), c.digest);
	assert_null(ecr__json_get(d, "imageTags"));

	/* any missing image fails the call */
	call(&r, f, "DescribeImages",
	     "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"a\"},{\"imageTag\":\"gone\"}]}");
	expect_error(&r, "ImageNotFoundException");
	assert_non_null(strstr(jstr(r.json, "message"), "imageTag:'gone'"));
	/* imageIds with maxResults or nextToken */
	call(&r, f, "DescribeImages",
	     "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"a\"}],\"maxResults\":5}");
	expect_error(&r, "InvalidParameterException");

	/* paging by one image */
	char *token = NULL;
	size_t seen = 0, pages = 0;
	do {
		if (token)
			snprintf(body, sizeof(body),
			         "{\"repositoryName\":\"" REPO "\",\"maxResults\":1,\"nextToken\":\"%s\"}", token);
		else
			snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"maxResults\":1}");
		free(token);
		token = NULL;
		call(&r, f, "DescribeImages", body);
		expect_ok(&r);
		seen += jcount(r.json, "imageDetails");
		pages++;
		if (ecr__json_get_string(r.json, "nextToken"))
			token = strdup(ecr__json_get_string(r.json, "nextToken"));
	} while (token);
	assert_int_equal(seen, 3);
	assert_int_equal(pages, 3);
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\",\"filter\":{\"tagStatus\":\"UNTAGGED\"}}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageDetails"), 1);
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\",\"nextToken\":\"AAAA\"}");
	expect_error(&r, "InvalidParameterException");

	reply_dispose(&r);
	th_image_dispose(&a);
	th_image_dispose(&b);
	th_image_dispose(&c);
}

/* --- BatchDeleteImage --- */

static void test_server_ecr_api_images__batch_delete_image(void **state)
{
	fixture *f = *state;
	reply r = {0};
	th_image a, b;
	char body[1024];
	ecr_image *img;

	push(f, &a, 1, "a1");
	tag_image(f, &a, "a2");
	push(f, &b, 1, "b1");
	tag_image(f, &b, "b2");

	/* a tag of an image with two: only the tag goes */
	call(&r, f, "BatchDeleteImage", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"a1\"}]}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), 1);
	assert_string_equal(jstr(jat(r.json, "imageIds", 0), "imageDigest"), a.digest);
	assert_string_equal(jstr(jat(r.json, "imageIds", 0), "imageTag"), "a1");
	assert_int_equal(jcount(r.json, "failures"), 0);
	assert_ok(ecr_image_get(&img, f->repo, a.digest, 0));
	ecr_image_free(img);
	/* its last tag, with the matching digest: the image goes too */
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"a2\",\"imageDigest\":\"%s\"}]}",
	         a.digest);
	call(&r, f, "BatchDeleteImage", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), 1);
	assert_int_equal(ecr_image_get(&img, f->repo, a.digest, 0), ECR_EIMAGE_NOT_FOUND);
	/* by digest: one entry per tag; and the failures */
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"b1\",\"imageDigest\":\"%s\"},"
	         "{\"imageDigest\":\"%s\"},{\"imageTag\":\"gone\"},{},{\"imageDigest\":\"nodigest\"}]}",
	         a.digest, b.digest);
	call(&r, f, "BatchDeleteImage", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), 2);
	assert_string_equal(jstr(jat(r.json, "imageIds", 0), "imageTag"), "b1");
	assert_string_equal(jstr(jat(r.json, "imageIds", 1), "imageTag"), "b2");
	assert_string_equal(jstr(jat(r.json, "imageIds", 1), "imageDigest"), b.digest);
	assert_int_equal(jcount(r.json, "failures"), 4);
	assert_string_equal(jstr(jat(r.json, "failures", 0), "failureCode"), "ImageTagDoesNotMatchDigest");
	assert_string_equal(jstr(jat(r.json, "failures", 1), "failureCode"), "ImageNotFound");
	assert_string_equal(jstr(jat(r.json, "failures", 2), "failureCode"), "MissingDigestAndTag");
	assert_string_equal(jstr(jat(r.json, "failures", 3), "failureCode"), "InvalidImageDigest");
	assert_int_equal(ecr_image_get(&img, f->repo, b.digest, 0), ECR_EIMAGE_NOT_FOUND);
	/* an untagged image by digest: one entry without a tag */
	th_image c;
	push(f, &c, 1, NULL);
	snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageDigest\":\"%s\"}]}",
	         c.digest);
	call(&r, f, "BatchDeleteImage", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), 1);
	assert_null(ecr__json_get(jat(r.json, "imageIds", 0), "imageTag"));
	call(&r, f, "BatchDeleteImage", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[]}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "BatchDeleteImage", "{\"repositoryName\":\"nope\",\"imageIds\":[{\"imageTag\":\"x\"}]}");
	expect_error(&r, "RepositoryNotFoundException");

	reply_dispose(&r);
	th_image_dispose(&a);
	th_image_dispose(&b);
	th_image_dispose(&c);
}

/* --- layers --- */

static char *initiate(fixture *f)
{
	reply r = {0};
	call(&r, f, "InitiateLayerUpload", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	assert_int_equal(jget(r.json, "partSize")->integer, 10485760);
	char *id = strdup(jstr(r.json, "uploadId"));
	assert_int_equal(strlen(id), 36);
	reply_dispose(&r);
	return id;
}

static void upload_part(reply *r, fixture *f, const char *id, int64_t first, int64_t last, const void *data, size_t len)
{
	ecr_buf b64 = ECR_BUF_INIT, body = ECR_BUF_INIT;
	assert_ok(ecr__base64_encode(&b64, data, len));
	assert_ok(ecr__buf_printf(&body,
	                          "{\"repositoryName\":\"" REPO
	                          "\",\"uploadId\":\"%s\",\"partFirstByte\":%lld,\"partLastByte\":%lld,"
	                          "\"layerPartBlob\":\"%s\"}",
	                          id, (long long)first, (long long)last, b64.ptr ? b64.ptr : ""));
	call(r, f, "UploadLayerPart", body.ptr);
	ecr_buf_dispose(&b64);
	ecr_buf_dispose(&body);
}

static void complete(reply *r, fixture *f, const char *id, const char *digest)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"uploadId\":\"%s\",\"layerDigests\":[\"%s\"]}",
	         id, digest);
	call(r, f, "CompleteLayerUpload", body);
}

/* UploadLayerPart keeps to the server's max_blob_size, as the /v2/ uploads do. */
static void test_server_ecr_api_images__upload_part_max_blob_size(void **state)
{
	fixture *f = *state, g = *f;
	reply r = {0};
	unsigned char data[2500];
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.flags = ECR_SERVER_NO_AUTH;
	o.max_blob_size = 4096;
	memset(data, 'x', sizeof(data));
	assert_ok(ecr_server_new(&g.srv, &o));
	assert_ok(ecr_server_add_registry(g.srv, g.reg, NULL));
	assert_ok(ecr_server_start(g.srv));
	g.port = ecr_server_port(g.srv);
	char *id = initiate(&g);
	upload_part(&r, &g, id, 0, 2499, data, sizeof(data));
	expect_ok(&r);
	/* 5000 bytes in all: more than the server accepts in a blob */
	upload_part(&r, &g, id, 2500, 4999, data, sizeof(data));
	expect_error(&r, "LimitExceededException");
	ecr_upload *up = NULL;
	assert_ok(ecr_upload_open(&up, f->repo, id));
	assert_int_equal(ecr_upload_size(up), 2500);
	ecr_upload_free(up);
	reply_dispose(&r);
	free(id);
	ecr_server_free(g.srv);
}

static void test_server_ecr_api_images__layer_upload_flow(void **state)
{
	fixture *f = *state;
	reply r = {0};
	size_t len = 10 * MIB + 1000;
	unsigned char *data = malloc(len);
	char digest[ECR__DIGEST_STRLEN_MAX], cfg_digest[ECR__DIGEST_STRLEN_MAX], body[4096];
	assert_non_null(data);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)(th_rand(&f->rng) >> 24);
	assert_ok(ecr__digest_buf(digest, sizeof(digest), ECR__DIGEST_SHA256, data, len));

	char *id = initiate(f);
	upload_part(&r, f, id, 0, 5 * MIB - 1, data, 5 * MIB);
	expect_ok(&r);
	assert_int_equal(jget(r.json, "lastByteReceived")->integer, 5 * MIB - 1);
	assert_string_equal(jstr(r.json, "uploadId"), id);
	assert_string_equal(jstr(r.json, "repositoryName"), REPO);
	/* a gap, then a range that does not match the data */
	upload_part(&r, f, id, 5 * MIB + 1, 5 * MIB + 10, data, 10);
	expect_error(&r, "InvalidLayerPartException");
	assert_non_null(strstr(jstr(r.json, "message"), "lastValidByteReceived 5242879"));
	upload_part(&r, f, id, 5 * MIB, 5 * MIB + 10, data, 10);
	expect_error(&r, "InvalidLayerPartException");
	upload_part(&r, f, id, 5 * MIB, 10 * MIB - 1, data + 5 * MIB, 5 * MIB);
	expect_ok(&r);
	upload_part(&r, f, id, 10 * MIB, (int64_t)len - 1, data + 10 * MIB, 1000);
	expect_ok(&r);
	assert_int_equal(jget(r.json, "lastByteReceived")->integer, (int64_t)len - 1);
	complete(&r, f, id, digest);
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "layerDigest"), digest);
	assert_string_equal(jstr(r.json, "uploadId"), id);
	/* the session is gone */
	upload_part(&r, f, id, (int64_t)len, (int64_t)len, data, 1);
	expect_error(&r, "UploadNotFoundException");
	free(id);

	/* the config, in one part */
	const char *config =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	assert_ok(ecr__digest_buf(cfg_digest, sizeof(cfg_digest), ECR__DIGEST_SHA256, config, strlen(config)));
	id = initiate(f);
	upload_part(&r, f, id, 0, (int64_t)strlen(config) - 1, config, strlen(config));
	expect_ok(&r);
	complete(&r, f, id, cfg_digest);
	expect_ok(&r);
	free(id);

	/* availability */
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"layerDigests\":[\"%s\",\"%s\","
	         "\"sha256:2222222222222222222222222222222222222222222222222222222222222222\",\"\",\"nodigest\"]}",
	         digest, cfg_digest);
	call(&r, f, "BatchCheckLayerAvailability", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "layers"), 3);
	assert_string_equal(jstr(jat(r.json, "layers", 0), "layerAvailability"), "AVAILABLE");
	assert_int_equal(jget(jat(r.json, "layers", 0), "layerSize")->integer, (int64_t)len);
	assert_string_equal(jstr(jat(r.json, "layers", 1), "layerAvailability"), "AVAILABLE");
	assert_string_equal(jstr(jat(r.json, "layers", 2), "layerAvailability"), "UNAVAILABLE");
	assert_null(ecr__json_get(jat(r.json, "layers", 2), "layerSize"));
	assert_int_equal(jcount(r.json, "failures"), 2);
	assert_string_equal(jstr(jat(r.json, "failures", 0), "failureCode"), "MissingLayerDigest");
	assert_string_equal(jstr(jat(r.json, "failures", 1), "failureCode"), "InvalidLayerDigest");
	assert_string_equal(jstr(jat(r.json, "failures", 1), "layerDigest"), "nodigest");

	/* not referenced by an image yet: no download URL */
	snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"layerDigest\":\"%s\"}", digest);
	call(&r, f, "GetDownloadUrlForLayer", body);
	expect_error(&r, "LayerInaccessibleException");
	assert_non_null(strstr(jstr(r.json, "message"), "not referenced"));

	/* PutImage, BatchGetImage */
	char manifest[1024];
	snprintf(
	    manifest, sizeof(manifest),
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[{\"mediaType\":\"application/"
	    "vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
	    cfg_digest, strlen(config), digest, len);
	put_image(&r, f, manifest, "flow");
	expect_ok(&r);
	char mdigest[ECR__DIGEST_STRLEN_MAX];
	snprintf(mdigest, sizeof(mdigest), "%s", jstr(jget(jget(r.json, "image"), "imageId"), "imageDigest"));
	call(&r, f, "BatchGetImage", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"flow\"}]}");
	expect_ok(&r);
	assert_string_equal(jstr(jat(r.json, "images", 0), "imageManifest"), manifest);
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"flow\"}]}");
	expect_ok(&r);
	assert_int_equal(jget(jat(r.json, "imageDetails", 0), "imageSizeInBytes")->integer >= (int64_t)len, 1);
	assert_string_equal(jstr(jat(r.json, "imageDetails", 0), "artifactMediaType"),
	                    "application/vnd.oci.image.config.v1+json");
	assert_non_null(ecr__json_get(jat(r.json, "imageDetails", 0), "lastRecordedPullTime"));

	/* the download URL works */
	call(&r, f, "GetDownloadUrlForLayer", body);
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "layerDigest"), digest);
	char *url = strdup(jstr(r.json, "downloadUrl"));
	assert_non_null(strstr(url, "/v2/" REPO "/blobs/"));
	assert_non_null(strstr(url, "X-Amz-Expires=3600"));
	api_get(&r, url, NULL);
	free(url);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, len);
	assert_memory_equal(r.body, data, len);

	/* LayerAlreadyExists: the repository has the blob now */
	id = initiate(f);
	upload_part(&r, f, id, 0, 9, data, 10);
	expect_ok(&r);
	complete(&r, f, id, digest);
	expect_error(&r, "LayerAlreadyExistsException");
	complete(&r, f, id, digest);
	expect_error(&r, "UploadNotFoundException"); /* cancelled */
	free(id);

	/* BatchDeleteImage */
	call(&r, f, "BatchDeleteImage", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"flow\"}]}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "imageIds"), 1);
	assert_string_equal(jstr(jat(r.json, "imageIds", 0), "imageDigest"), mdigest);
	call(&r, f, "BatchGetImage", "{\"repositoryName\":\"" REPO "\",\"imageIds\":[{\"imageTag\":\"flow\"}]}");
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "failures"), 1);

	reply_dispose(&r);
	free(data);
}

static void test_server_ecr_api_images__upload_errors(void **state)
{
	fixture *f = *state;
	reply r = {0};
	unsigned char data[4096];
	char digest[ECR__DIGEST_STRLEN_MAX];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)i;

	/* nothing uploaded */
	char *id = initiate(f);
	complete(&r, f, id, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	expect_error(&r, "EmptyUploadException");
	free(id);
	/* a small part followed by another */
	id = initiate(f);
	upload_part(&r, f, id, 0, 999, data, 1000);
	expect_ok(&r);
	upload_part(&r, f, id, 1000, 1999, data + 1000, 1000);
	expect_ok(&r);
	assert_ok(ecr__digest_buf(digest, sizeof(digest), ECR__DIGEST_SHA256, data, 2000));
	complete(&r, f, id, digest);
	expect_error(&r, "LayerPartTooSmallException");
	free(id);
	/* content that does not match the digest */
	id = initiate(f);
	upload_part(&r, f, id, 0, 999, data, 1000);
	expect_ok(&r);
	complete(&r, f, id, digest);
	expect_error(&r, "InvalidLayerException");
	complete(&r, f, id, digest);
	expect_error(&r, "UploadNotFoundException");
	free(id);
	/* ids: unknown, malformed; ranges; a bad blob */
	id = initiate(f);
	upload_part(&r, f, "01234567-89ab-cdef-0123-456789abcdef", 0, 9, data, 10);
	expect_error(&r, "UploadNotFoundException");
	upload_part(&r, f, "not-an-id", 0, 9, data, 10);
	expect_error(&r, "InvalidParameterException");
	upload_part(&r, f, id, 1, 10, data, 10);
	expect_error(&r, "InvalidLayerPartException");
	upload_part(&r, f, id, 9, 0, data, 10);
	expect_error(&r, "InvalidLayerPartException");
	char body[512];
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"uploadId\":\"%s\",\"partFirstByte\":0,\"partLastByte\":3,"
	         "\"layerPartBlob\":\"!!!!\"}",
	         id);
	call(&r, f, "UploadLayerPart", body);
	expect_error(&r, "InvalidParameterException");
	snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"uploadId\":\"%s\",\"layerPartBlob\":\"AAAA\"}",
	         id);
	call(&r, f, "UploadLayerPart", body);
	expect_error(&r, "InvalidParameterException");
	snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"uploadId\":\"%s\",\"layerDigests\":[\"x\"]}",
	         id);
	call(&r, f, "CompleteLayerUpload", body);
	expect_error(&r, "InvalidParameterException");
	snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"uploadId\":\"%s\",\"layerDigests\":[]}", id);
	call(&r, f, "CompleteLayerUpload", body);
	expect_error(&r, "InvalidParameterException");
	free(id);
	call(&r, f, "InitiateLayerUpload", "{\"repositoryName\":\"nope\"}");
	expect_error(&r, "RepositoryNotFoundException");
	/* an upload of another repository is unknown here */
	assert_ok(ecr_repository_create(NULL, f->reg, "other", NULL));
	call(&r, f, "InitiateLayerUpload", "{\"repositoryName\":\"other\"}");
	expect_ok(&r);
	id = strdup(jstr(r.json, "uploadId"));
	upload_part(&r, f, id, 0, 9, data, 10);
	expect_error(&r, "UploadNotFoundException");
	free(id);

	/* BatchCheckLayerAvailability and GetDownloadUrlForLayer bounds */
	ecr_buf many = ECR_BUF_INIT;
	assert_ok(ecr__buf_puts(&many, "{\"repositoryName\":\"" REPO "\",\"layerDigests\":["));
	for (int i = 0; i < 101; i++)
		assert_ok(ecr__buf_puts(&many, i ? ",\"sha256:00\"" : "\"sha256:00\""));
	assert_ok(ecr__buf_puts(&many, "]}"));
	call(&r, f, "BatchCheckLayerAvailability", many.ptr);
	expect_error(&r, "InvalidParameterException");
	ecr_buf_dispose(&many);
	call(&r, f, "BatchCheckLayerAvailability", "{\"repositoryName\":\"" REPO "\",\"layerDigests\":[]}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "GetDownloadUrlForLayer",
	     "{\"repositoryName\":\"" REPO "\",\"layerDigest\":"
	     "\"sha256:3333333333333333333333333333333333333333333333333333333333333333\"}");
	expect_error(&r, "LayersNotFoundException");
	call(&r, f, "GetDownloadUrlForLayer", "{\"repositoryName\":\"" REPO "\",\"layerDigest\":\"bad\"}");
	expect_error(&r, "InvalidParameterException");
	reply_dispose(&r);
}

/* --- ListImageReferrers --- */

static void push_referrer(fixture *f, const char *empty_digest, const th_image *subject, const char *artifact_type,
                          const char *note)
{
	reply r = {0};
	char manifest[2048];
	snprintf(
	    manifest, sizeof(manifest),
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"artifactType\":\"%s\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\",\"size\":2},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\",\"size\":2}],"
	    "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
	    "\"annotations\":{\"note\":\"%s\"}}",
	    artifact_type, empty_digest, empty_digest, subject->digest, subject->manifest_len, note);
	put_image(&r, f, manifest, NULL);
	expect_ok(&r);
	reply_dispose(&r);
}

static void test_server_ecr_api_images__list_image_referrers(void **state)
{
	fixture *f = *state;
	reply r = {0};
	th_image subject;
	char empty[ECR__DIGEST_STRLEN_MAX], body[1024];

	push(f, &subject, 1, "s");
	assert_ok(ecr__digest_buf(empty, sizeof(empty), ECR__DIGEST_SHA256, "{}", 2));
	assert_ok(ecr_blob_put(f->repo, empty, "{}", 2));
	push_referrer(f, empty, &subject, "application/vnd.example.sig", "one");
	push_referrer(f, empty, &subject, "application/vnd.example.sig", "two");
	push_referrer(f, empty, &subject, "application/vnd.example.sbom", "three");

	snprintf(body, sizeof(body), "{\"repositoryName\":\"" REPO "\",\"subjectId\":{\"imageDigest\":\"%s\"}}",
	         subject.digest);
	call(&r, f, "ListImageReferrers", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "referrers"), 3);
	assert_null(ecr__json_get(r.json, "nextToken"));
	const ecr__json *ref = jat(r.json, "referrers", 0);
	assert_string_equal(jstr(ref, "mediaType"), "application/vnd.oci.image.manifest.v1+json");
	assert_true(jget(ref, "size")->integer > 0);
	assert_non_null(jstr(ref, "artifactType"));
	assert_non_null(jstr(jget(ref, "annotations"), "note"));
	assert_int_equal(strncmp(jstr(ref, "digest"), "sha256:", 7), 0);

	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"subjectId\":{\"imageDigest\":\"%s\"},"
	         "\"filter\":{\"artifactTypes\":[\"application/vnd.example.sig\"]}}",
	         subject.digest);
	call(&r, f, "ListImageReferrers", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "referrers"), 2);
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"subjectId\":{\"imageDigest\":\"%s\"},"
	         "\"filter\":{\"artifactTypes\":[\"application/vnd.example.sbom\",\"application/x-none\"]}}",
	         subject.digest);
	call(&r, f, "ListImageReferrers", body);
	expect_ok(&r);
	assert_int_equal(jcount(r.json, "referrers"), 1);
	assert_string_equal(jstr(jget(jat(r.json, "referrers", 0), "annotations"), "note"), "three");

	/* pages of one */
	char *token = NULL;
	size_t seen = 0, pages = 0;
	do {
		int n =
		    snprintf(body, sizeof(body),
		             "{\"repositoryName\":\"" REPO "\",\"subjectId\":{\"imageDigest\":\"%s\"},\"maxResults\":1",
		             subject.digest);
		snprintf(body + n, sizeof(body) - (size_t)n, token ? ",\"nextToken\":\"%s\"}" : "}", token);
		free(token);
		token = NULL;
		call(&r, f, "ListImageReferrers", body);
		expect_ok(&r);
		seen += jcount(r.json, "referrers");
		pages++;
		if (ecr__json_get_string(r.json, "nextToken"))
			token = strdup(ecr__json_get_string(r.json, "nextToken"));
	} while (token);
	assert_int_equal(seen, 3);
	assert_int_equal(pages, 3);

	/* errors */
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"subjectId\":{\"imageDigest\":\"%s\"},"
	         "\"filter\":{\"artifactTypes\":[\"a/1\",\"a/2\",\"a/3\",\"a/4\",\"a/5\",\"a/6\"]}}",
	         subject.digest);
	call(&r, f, "ListImageReferrers", body);
	expect_error(&r, "InvalidParameterException");
	snprintf(body, sizeof(body),
	         "{\"repositoryName\":\"" REPO "\",\"subjectId\":{\"imageDigest\":\"%s\"},\"maxResults\":51}",
	         subject.digest);
	call(&r, f, "ListImageReferrers", body);
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "ListImageReferrers", "{\"repositoryName\":\"" REPO "\",\"subjectId\":{\"imageDigest\":\"bad\"}}");
	expect_error(&r, "ValidationException");
	call(&r, f, "ListImageReferrers", "{\"repositoryName\":\"" REPO "\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "ListImageReferrers",
	     "{\"repositoryName\":\"nope\",\"subjectId\":{\"imageDigest\":\"sha256:00\"}}");
	expect_error(&r, "RepositoryNotFoundException");

	reply_dispose(&r);
	th_image_dispose(&subject);
}

/* --- GetDownloadUrlForLayer with authentication: the URL's token --- */

static void hex_sha256(char out[65], const char *data, size_t len)
{
	char d[ECR__DIGEST_STRLEN_MAX];
	assert_ok(ecr__digest_buf(d, sizeof(d), ECR__DIGEST_SHA256, data, len));
	memcpy(out, d + 7, 65);
}

/* The SigV4 headers of POST / with X-Amz-Target ...<op> and body, signed now, as botocore does. */
static struct curl_slist *sign(uint16_t port, const char *key_id, const char *secret, const char *op,
                               const char *body)
{
	char host[64], amzdate[17], date[9], body_hash[65], creq_hash[65], k0[128], sighex[65];
	unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
	const char *region = "us-east-1";
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(amzdate, sizeof(amzdate), "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, amzdate, 8);
	date[8] = '\0';
	snprintf(host, sizeof(host), "127.0.0.1:%u", (unsigned)port);
	hex_sha256(body_hash, body, strlen(body));
	ecr_buf creq = ECR_BUF_INIT, sts = ECR_BUF_INIT, h = ECR_BUF_INIT;
	assert_ok(ecr__buf_printf(&creq,
	                          "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:%s\nx-amz-date:%s\n"
	                          "x-amz-target:AmazonEC2ContainerRegistry_V20150921.%s\n\n"
	                          "content-type;host;x-amz-date;x-amz-target\n%s",
	                          host, amzdate, op, body_hash));
	hex_sha256(creq_hash, creq.ptr, creq.size);
	assert_ok(ecr__buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/ecr/aws4_request\n%s", amzdate, date, region,
	                          creq_hash));
	snprintf(k0, sizeof(k0), "AWS4%s", secret);
	assert_ok(ecr__hmac_sha256(k1, k0, strlen(k0), date, strlen(date)));
	assert_ok(ecr__hmac_sha256(k2, k1, 32, region, strlen(region)));
	assert_ok(ecr__hmac_sha256(k3, k2, 32, "ecr", 3));
	assert_ok(ecr__hmac_sha256(k4, k3, 32, "aws4_request", 12));
	assert_ok(ecr__hmac_sha256(sig, k4, 32, sts.ptr, sts.size));
	ecr__hex_encode(sighex, sig, 32);
	struct curl_slist *list = NULL;
	assert_ok(ecr__buf_printf(&h, "Host: %s", host));
	list = curl_slist_append(list, h.ptr);
	ecr__buf_clear(&h);
	assert_ok(ecr__buf_printf(&h, "X-Amz-Date: %s", amzdate));
	list = curl_slist_append(list, h.ptr);
	ecr__buf_clear(&h);
	assert_ok(ecr__buf_printf(&h,
	                          "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/ecr/aws4_request, "
	                          "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s",
	                          key_id, date, region, sighex));
	list = curl_slist_append(list, h.ptr);
	ecr_buf_dispose(&creq);
	ecr_buf_dispose(&sts);
	ecr_buf_dispose(&h);
	return list;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	ecr_buf *b = ud;
	assert_ok(ecr__buf_put(b, p, sz * n));
	return sz * n;
}

/* One /v2/ request: method on url (absolute, or a path on the server), with
 * "Basic base64(AWS:<token>)" when token is not NULL; the status, and the body into body. */
static long v2_req(ecr_buf *body, fixture *f, const char *method, const char *url, const char *token,
                   const char *data)
{
	char full[4096];
	long status = 0;
	ecr_buf cred = ECR_BUF_INIT, hdr = ECR_BUF_INIT;
	struct curl_slist *h = NULL;
	if (url[0] == '/')
		snprintf(full, sizeof(full), "http://127.0.0.1:%u%s", (unsigned)f->port, url);
	else
		snprintf(full, sizeof(full), "%s", url);
	ecr__buf_clear(body);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	if (token) {
		assert_ok(ecr__buf_printf(&cred, "AWS:%s", token));
		assert_ok(ecr__buf_puts(&hdr, "Authorization: Basic "));
		assert_ok(ecr__base64_encode(&hdr, cred.ptr, cred.size));
		h = curl_slist_append(h, hdr.ptr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	curl_easy_setopt(c, CURLOPT_URL, full);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (data) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	ecr_buf_dispose(&cred);
	ecr_buf_dispose(&hdr);
	return status;
}

static void test_server_ecr_api_images__download_url_token(void **state)
{
	fixture *f = *state;
	reply r = {0};
	th_image img;
	ecr_principal *p = NULL;
	ecr_buf key = ECR_BUF_INIT, secret = ECR_BUF_INIT, body = ECR_BUF_INIT, reg_tok = ECR_BUF_INIT;
	char req_body[512], path[1024];
	assert_ok(ecr_principal_create(&p, f->reg, "arn:aws:iam::123456789012:user/admin", ECR_PRINCIPAL_ADMIN));
	assert_ok(ecr_principal_access_key_create(&key, &secret, p));
	assert_ok(th_image_random(&img, &f->rng, 2, NULL));
	assert_ok(th_image_push(f->repo, &img, "v1", 0));

	snprintf(req_body, sizeof(req_body), "{\"repositoryName\":\"" REPO "\",\"layerDigest\":\"%s\"}",
	         img.layers[0].digest);
	api_send(&r, f->port, "POST", "GetDownloadUrlForLayer", req_body,
	         sign(f->port, key.ptr, secret.ptr, "GetDownloadUrlForLayer", req_body));
	expect_ok(&r);
	char *url = strdup(jstr(r.json, "downloadUrl"));
	assert_non_null(url);
	reply_dispose(&r);
	const char *q = strstr(url, "X-Ecr-Token=");
	assert_non_null(q);
	char *token = strdup(q + strlen("X-Ecr-Token="));
	assert_non_null(token);
	assert_null(strchr(token, '&'));

	/* the URL reads its blob, GET and HEAD */
	assert_int_equal(v2_req(&body, f, "GET", url, NULL, NULL), 200);
	assert_int_equal(body.size, img.layers[0].len);
	assert_memory_equal(body.ptr, img.layers[0].data, img.layers[0].len);
	assert_int_equal(v2_req(&body, f, "HEAD", url, NULL, NULL), 200);
	/* not another blob of the repository */
	snprintf(path, sizeof(path), "/v2/" REPO "/blobs/%s?X-Amz-Expires=3600&X-Ecr-Token=%s", img.layers[1].digest,
	         token);
	assert_int_equal(v2_req(&body, f, "GET", path, NULL, NULL), 401);
	assert_int_equal(v2_req(&body, f, "HEAD", path, NULL, NULL), 401);
	snprintf(path, sizeof(path), "/v2/" REPO "/blobs/%s?X-Ecr-Token=%s", img.config.digest, token);
	assert_int_equal(v2_req(&body, f, "GET", path, NULL, NULL), 401);

	/* its token is no registry token: as Basic AWS:<token> it opens nothing */
	assert_int_equal(v2_req(&body, f, "GET", "/v2/", token, NULL), 401);
	assert_int_equal(v2_req(&body, f, "POST", "/v2/" REPO "/blobs/uploads/", token, NULL), 401);
	assert_int_equal(v2_req(&body, f, "GET", "/v2/" REPO "/manifests/v1", token, NULL), 401);
	snprintf(path, sizeof(path), "/v2/" REPO "/manifests/%s", img.digest);
	assert_int_equal(v2_req(&body, f, "DELETE", path, token, NULL), 401);
	snprintf(path, sizeof(path), "/v2/" REPO "/blobs/%s", img.layers[0].digest);
	assert_int_equal(v2_req(&body, f, "GET", path, token, NULL), 401);
	/* while the principal's registry token does (the 401s are the token's, not the principal's) */
	assert_ok(ecr_auth_token_create(&reg_tok, NULL, f->reg, p));
	assert_int_equal(v2_req(&body, f, "GET", "/v2/" REPO "/manifests/v1", reg_tok.ptr, NULL), 200);
	assert_int_equal(body.size, img.manifest_len);
	/* and the image is still there */
	ecr_image *image = NULL;
	assert_ok(ecr_image_get(&image, f->repo, "v1", 0));
	ecr_image_free(image);

	free(token);
	free(url);
	th_image_dispose(&img);
	ecr_principal_free(p);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&secret);
	ecr_buf_dispose(&body);
	ecr_buf_dispose(&reg_tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__put_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__list_images, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__describe_images, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__batch_delete_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__layer_upload_flow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__upload_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__upload_part_max_blob_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__list_image_referrers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_images__download_url_token, setup_auth, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ecr_init();
	int rc = cmocka_run_group_tests_name("server/ecr_api_images", tests, NULL, NULL);
	ecr_shutdown();
	curl_global_cleanup();
	return rc;
}
