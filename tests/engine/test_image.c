/* Images: put (ECR's checks in order), get, tags, immutability, delete,
 * untag, listing, indexes, referrers. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/th_image.h"
#include "libecr/engine/engine.h"

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"

typedef struct fixture {
	ecr_registry *reg;
	ecr_repository *repo;
	uint64_t rng;
} fixture;

static int64_t test_now = 1760000000000LL;
static int64_t test_clock(void *payload)
{
	(void)payload;
	return test_now;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.clock_cb = test_clock;
	f->rng = 12345;
	if (!f || ecr_registry_open(&f->reg, "memory:", &opts) || ecr_repository_create(&f->repo, f->reg, "app", NULL))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_repository_free(f->repo);
	ecr_registry_free(f->reg);
	free(f);
	return 0;
}

/* Push only the blobs of an image. */
static void push_blobs(ecr_repository *repo, const th_image *img)
{
	assert_ok(th_blob_push(repo, &img->config, 0));
	for (size_t i = 0; i < img->layer_count; i++)
		assert_ok(th_blob_push(repo, &img->layers[i], 0));
}

static void test_engine_image__put_and_get(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = { 100, 2000, 0 };
	assert_ok(th_image_random(&img, &f->rng, 3, sizes));
	push_blobs(f->repo, &img);

	ecr_image *out;
	assert_ok(ecr_image_put(&out, f->repo, "v1", img.digest, NULL, img.manifest, img.manifest_len, 0));
	assert_string_equal(ecr_image_digest(out), img.digest);
	assert_string_equal(ecr_image_media_type(out), OCI_MANIFEST);
	assert_int_equal(ecr_image_size(out), 2100); /* the layers, as ECR counts them */
	assert_int_equal(ecr_image_manifest_size(out), img.manifest_len);
	assert_int_equal(ecr_image_pushed_at(out), test_now);
	assert_int_equal(ecr_image_last_pulled_at(out), 0);
	assert_int_equal(ecr_image_tag_count(out), 1);
	assert_string_equal(ecr_image_tag(out, 0), "v1");
	assert_null(ecr_image_tag(out, 1));
	assert_null(ecr_image_subject(out));
	ecr_image_free(out);

	/* by tag and by digest; the manifest bytes are exactly as pushed */
	assert_ok(th_image_verify_exact(f->repo, &img));
	assert_ok(th_image_verify(f->repo, "v1", img.digest, NULL));
	assert_ok(ecr_image_get(&out, f->repo, img.digest, 0));
	const void *bytes;
	size_t len;
	assert_ok(ecr_image_manifest(&bytes, &len, out));
	assert_int_equal(len, img.manifest_len);
	assert_memory_equal(bytes, img.manifest, len);
	ecr_image_free(out);

	assert_int_equal(ecr_image_get(&out, f->repo, "nope", 0), ECR_EIMAGE_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message,
		"The image with imageId {imageTag:'nope'} does not exist within the repository with name 'app' in the "
		"registry with id '123456789012'");
	assert_int_equal(ecr_image_get(&out, f->repo, "bad tag!", 0), ECR_EINVALID);
	assert_int_equal(ecr_image_get(&out, f->repo, "sha256:1234", 0), ECR_EINVALID);
	assert_int_equal(
		ecr_image_get(&out, f->repo, "sha256:0000000000000000000000000000000000000000000000000000000000000000", 0),
		ECR_EIMAGE_NOT_FOUND);
	th_image_dispose(&img);
}

/* The manifest's bytes are in the metadata store (schema 6): the same bytes from the handle ecr_image_put returns,
 * from a GET (read in the lookup's transaction) and from a HEAD-style get (read when asked for), none in the blob
 * store; a manifest in two repositories stays in one when the other repository is deleted. */
static void assert_manifest_is(ecr_image *img, const th_image *want)
{
	const void *bytes = NULL;
	size_t len = 0;
	assert_ok(ecr_image_manifest(&bytes, &len, img));
	assert_int_equal(len, want->manifest_len);
	assert_memory_equal(bytes, want->manifest, len);
	assert_int_equal(ecr_image_manifest_size(img), want->manifest_len);
}

static void test_engine_image__manifest_in_metadata(void **state)
{
	fixture *f = *state;
	th_image img;
	ecr_image *got = NULL;
	ecr_repository *other = NULL;
	uint64_t size;
	assert_ok(th_image_random(&img, &f->rng, 2, NULL));
	push_blobs(f->repo, &img);
	assert_ok(ecr_image_put(&got, f->repo, "v1", NULL, NULL, img.manifest, img.manifest_len, 0));
	assert_manifest_is(got, &img);
	/* the handle of a new image is built from the record inserted: the same as a get's */
	ecr_image *again = NULL;
	assert_ok(ecr_image_get(&again, f->repo, "v1", 0));
	assert_string_equal(ecr_image_digest(got), ecr_image_digest(again));
	assert_string_equal(ecr_image_media_type(got), ecr_image_media_type(again));
	assert_int_equal(ecr_image_size(got), ecr_image_size(again));
	assert_int_equal(ecr_image_pushed_at(got), test_now);
	assert_int_equal(ecr_image_last_pulled_at(got), ecr_image_last_pulled_at(again));
	assert_int_equal(ecr_image_status_of(got), ecr_image_status_of(again));
	assert_int_equal(ecr_image_tag_count(got), 1);
	assert_string_equal(ecr_image_tag(got, 0), "v1");
	assert_null(ecr_image_subject(got));
	ecr_image_free(again);
	ecr_image_free(got);
	assert_int_equal(f->reg->store->blobs->stat(f->reg->store->blobs, img.digest, &size), ECR_ENOTFOUND);
	ecr_error_clear();

	for (int i = 0; i < 2; i++) {
		assert_ok(ecr_image_get(&got, f->repo, i ? img.digest : "v1", i ? 0 : ECR_IMAGE_GET_RECORD_PULL));
		assert_manifest_is(got, &img);
		ecr_image_free(got);
	}

	/* the same manifest in a second repository, then the first deleted */
	assert_ok(ecr_repository_create(&other, f->reg, "other", NULL));
	push_blobs(other, &img);
	assert_ok(ecr_image_put(NULL, other, NULL, NULL, NULL, img.manifest, img.manifest_len, 0));
	ecr_repository_free(f->repo);
	f->repo = NULL;
	assert_ok(ecr_repository_delete(f->reg, "app", ECR_REPOSITORY_DELETE_FORCE));
	assert_ok(ecr_image_get(&got, other, img.digest, 0));
	assert_manifest_is(got, &img);
	ecr_image_free(got);
	/* deleted with its image: a handle taken before cannot read it any more */
	assert_ok(ecr_image_get(&got, other, img.digest, 0));
	assert_ok(ecr_image_delete(other, img.digest));
	const void *bytes;
	size_t len;
	assert_int_equal(ecr_image_manifest(&bytes, &len, got), ECR_EIMAGE_NOT_FOUND);
	assert_non_null(strstr(ecr_error_last()->message, "deleted after it was looked up"));
	ecr_error_clear();
	ecr_image_free(got);
	ecr_repository_free(other);
	th_image_dispose(&img);
}

static void test_engine_image__put_checks_in_order(void **state)
{
	fixture *f = *state;
	th_image img;
	assert_ok(th_image_random(&img, &f->rng, 2, NULL));

	/* not JSON / unsupported */
	assert_int_equal(ecr_image_put(NULL, f->repo, "t", NULL, NULL, "{", 1, 0), ECR_EINVALID);
	const char *v1 = "{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"t\",\"fsLayers\":[]}";
	assert_int_equal(ecr_image_put(NULL, f->repo, "t", NULL, "application/vnd.docker.distribution.manifest.v1+json",
				 v1, strlen(v1), 0),
		ECR_EUNSUPPORTED);
	/* a digest that does not match the bytes */
	const char *other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	assert_int_equal(ecr_image_put(NULL, f->repo, "t", other, NULL, img.manifest, img.manifest_len, 0),
		ECR_EIMAGE_DIGEST);
	assert_string_equal(ecr_error_exception(ecr_error_last()->code), "ImageDigestDoesNotMatchException");
	/* blobs missing: LayersNotFound names them */
	assert_int_equal(ecr_image_put(NULL, f->repo, "t", NULL, NULL, img.manifest, img.manifest_len, 0),
		ECR_ELAYERS_NOT_FOUND);
	assert_non_null(strstr(ecr_error_last()->message, img.layers[0].digest));
	assert_non_null(strstr(ecr_error_last()->message, img.config.digest));
	/* one layer missing */
	assert_ok(th_blob_push(f->repo, &img.config, 0));
	assert_ok(th_blob_push(f->repo, &img.layers[0], 0));
	assert_int_equal(ecr_image_put(NULL, f->repo, "t", NULL, NULL, img.manifest, img.manifest_len, 0),
		ECR_ELAYERS_NOT_FOUND);
	assert_null(strstr(ecr_error_last()->message, img.layers[0].digest));
	assert_non_null(strstr(ecr_error_last()->message, img.layers[1].digest));
	/* nothing was recorded by the failures */
	ecr_image *out;
	assert_int_equal(ecr_image_get(&out, f->repo, "t", 0), ECR_EIMAGE_NOT_FOUND);
	/* a bad tag */
	assert_ok(th_blob_push(f->repo, &img.layers[1], 0));
	assert_int_equal(ecr_image_put(NULL, f->repo, ".bad", NULL, NULL, img.manifest, img.manifest_len, 0),
		ECR_EINVALID);
	assert_ok(ecr_image_put(NULL, f->repo, "t", NULL, NULL, img.manifest, img.manifest_len, 0));
	th_image_dispose(&img);
}

static void test_engine_image__layer_size_mismatch(void **state)
{
	fixture *f = *state;
	th_blob layer, config;
	assert_ok(th_blob_random(&layer, &f->rng, 100));
	assert_ok(th_blob_random(&config, &f->rng, 10));
	assert_ok(th_blob_push(f->repo, &layer, 0));
	assert_ok(th_blob_push(f->repo, &config, 0));
	char m[1024];
	snprintf(m, sizeof(m),
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST "\",\"config\":{\"mediaType\":"
		"\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":10},\"layers\":[{\"mediaType\":"
		"\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":99}]}",
		config.digest, layer.digest);
	assert_int_equal(ecr_image_put(NULL, f->repo, "x", NULL, NULL, m, strlen(m), 0), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "size"));
	th_blob_dispose(&layer);
	th_blob_dispose(&config);
}

static void test_engine_image__tags_move_and_exclusive(void **state)
{
	fixture *f = *state;
	th_image a, b;
	assert_ok(th_image_random(&a, &f->rng, 1, NULL));
	assert_ok(th_image_random(&b, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->repo, &a, "latest", 0));
	/* same image, same tag: a no-op, or ImageAlreadyExists with EXCLUSIVE */
	assert_ok(ecr_image_put(NULL, f->repo, "latest", NULL, NULL, a.manifest, a.manifest_len, 0));
	assert_int_equal(ecr_image_put(NULL, f->repo, "latest", NULL, NULL, a.manifest, a.manifest_len,
				 ECR_IMAGE_PUT_EXCLUSIVE),
		ECR_EIMAGE_EXISTS);
	assert_int_equal(ecr_image_put(NULL, f->repo, NULL, NULL, NULL, a.manifest, a.manifest_len, ECR_IMAGE_PUT_EXCLUSIVE),
		ECR_EIMAGE_EXISTS);
	/* retag: a new tag on an existing image keeps pushed_at */
	int64_t first = test_now;
	test_now += 5000;
	ecr_image *out;
	assert_ok(ecr_image_put(&out, f->repo, "stable", NULL, NULL, a.manifest, a.manifest_len, ECR_IMAGE_PUT_EXCLUSIVE));
	assert_int_equal(ecr_image_pushed_at(out), first);
	assert_int_equal(ecr_image_tag_count(out), 2);
	assert_string_equal(ecr_image_tag(out, 0), "latest");
	assert_string_equal(ecr_image_tag(out, 1), "stable");
	ecr_image_free(out);
	/* a mutable tag moves; the old image stays, untagged by it */
	assert_ok(th_image_push(f->repo, &b, "latest", 0));
	assert_ok(th_image_verify(f->repo, "latest", b.digest, NULL));
	assert_ok(ecr_image_get(&out, f->repo, a.digest, 0));
	assert_int_equal(ecr_image_tag_count(out), 1);
	assert_string_equal(ecr_image_tag(out, 0), "stable");
	ecr_image_free(out);
	th_image_dispose(&a);
	th_image_dispose(&b);
}

static void test_engine_image__immutable_tags(void **state)
{
	fixture *f = *state;
	ecr_repository_options opts = ECR_REPOSITORY_OPTIONS_INIT;
	const char *excl[] = { "latest" };
	opts.tag_mutability = ECR_TAG_IMMUTABLE_WITH_EXCLUSION;
	opts.exclusions = excl;
	opts.exclusions_count = 1;
	ecr_repository *repo;
	assert_ok(ecr_repository_create(&repo, f->reg, "frozen", &opts));
	th_image a, b;
	assert_ok(th_image_random(&a, &f->rng, 1, NULL));
	assert_ok(th_image_random(&b, &f->rng, 1, NULL));
	assert_ok(th_image_push(repo, &a, "v1", 0));
	assert_ok(th_image_push(repo, &a, "latest", 0));
	push_blobs(repo, &b);
	assert_int_equal(ecr_image_put(NULL, repo, "v1", NULL, NULL, b.manifest, b.manifest_len, 0), ECR_EIMMUTABLE);
	assert_string_equal(ecr_error_last()->message,
		"The image tag 'v1' already exists in the 'frozen' repository and cannot be overwritten because the "
		"repository is immutable.");
	assert_string_equal(ecr_error_exception(ECR_EIMMUTABLE), "ImageTagAlreadyExistsException");
	assert_ok(th_image_verify(repo, "v1", a.digest, NULL));
	/* the excluded tag stays mutable */
	assert_ok(ecr_image_put(NULL, repo, "latest", NULL, NULL, b.manifest, b.manifest_len, 0));
	assert_ok(th_image_verify(repo, "latest", b.digest, NULL));
	/* untagging is always allowed */
	ecr_buf d = ECR_BUF_INIT;
	assert_ok(ecr_image_untag(&d, repo, "v1", 0));
	assert_string_equal(d.ptr, a.digest);
	ecr_buf_dispose(&d);
	ecr_repository_free(repo);
	th_image_dispose(&a);
	th_image_dispose(&b);
}

static void test_engine_image__record_pull(void **state)
{
	fixture *f = *state;
	th_image a;
	assert_ok(th_image_random(&a, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->repo, &a, "p", 0));
	ecr_image *out;
	test_now += 1000;
	assert_ok(ecr_image_get(&out, f->repo, "p", ECR_IMAGE_GET_RECORD_PULL));
	assert_int_equal(ecr_image_last_pulled_at(out), test_now);
	ecr_image_free(out);
	int64_t pulled = test_now;
	test_now += 1000; /* within the refresh interval: not rewritten */
	assert_ok(ecr_image_get(&out, f->repo, a.digest, ECR_IMAGE_GET_RECORD_PULL));
	assert_int_equal(ecr_image_last_pulled_at(out), pulled);
	ecr_image_free(out);
	test_now += 3600 * 1000;
	assert_ok(ecr_image_get(&out, f->repo, a.digest, ECR_IMAGE_GET_RECORD_PULL));
	assert_int_equal(ecr_image_last_pulled_at(out), test_now);
	ecr_image_free(out);
	th_image_dispose(&a);
}

/* Build an OCI index of the given children. */
static char *make_index(const th_image *children, size_t n, const char *subject)
{
	size_t cap = 256 + n * 400 + 300;
	char *s = malloc(cap);
	size_t len = (size_t)snprintf(s, cap, "{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX "\",\"manifests\":[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
			"%s{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\","
			"\"architecture\":\"arch%zu\"}}",
			i ? "," : "", children[i].digest, children[i].manifest_len, i);
	len += (size_t)snprintf(s + len, cap - len, "]");
	if (subject)
		len += (size_t)snprintf(s + len, cap - len,
			",\"subject\":{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1}", subject);
	snprintf(s + len, cap - len, "}");
	return s;
}

static void test_engine_image__index(void **state)
{
	fixture *f = *state;
	th_image kids[2];
	size_t small[] = { 10 }, big[] = { 3000 };
	assert_ok(th_image_random(&kids[0], &f->rng, 1, small));
	assert_ok(th_image_random(&kids[1], &f->rng, 1, big));
	char *index = make_index(kids, 2, NULL);

	/* the children must be images of the repository first */
	assert_ok(th_image_push(f->repo, &kids[0], NULL, 0));
	assert_int_equal(ecr_image_put(NULL, f->repo, "multi", NULL, NULL, index, strlen(index), 0),
		ECR_EREFERENCED_IMAGES_NOT_FOUND);
	assert_non_null(strstr(ecr_error_last()->message, kids[1].digest));
	assert_ok(th_image_push(f->repo, &kids[1], NULL, 0));
	ecr_image *out;
	assert_ok(ecr_image_put(&out, f->repo, "multi", NULL, NULL, index, strlen(index), 0));
	assert_string_equal(ecr_image_media_type(out), OCI_INDEX);
	assert_int_equal(ecr_image_size(out), 3000); /* the largest child */
	char idx_digest[TH_DIGEST_MAX];
	snprintf(idx_digest, sizeof(idx_digest), "%s", ecr_image_digest(out));
	ecr_image_free(out);

	/* a child of an index cannot be deleted on its own */
	assert_int_equal(ecr_image_delete(f->repo, kids[0].digest), ECR_EIMAGE_REFERENCED);
	assert_ok(th_image_verify(f->repo, kids[0].digest, kids[0].digest, NULL));
	/* deleting the index leaves the children as untagged images */
	assert_ok(ecr_image_delete(f->repo, idx_digest));
	assert_int_equal(ecr_image_get(&out, f->repo, "multi", 0), ECR_EIMAGE_NOT_FOUND);
	assert_ok(ecr_image_delete(f->repo, kids[0].digest));
	assert_ok(th_image_verify(f->repo, kids[1].digest, kids[1].digest, NULL));
	assert_int_equal(ecr_image_delete(f->repo, kids[0].digest), ECR_EIMAGE_NOT_FOUND);
	free(index);
	th_image_dispose(&kids[0]);
	th_image_dispose(&kids[1]);
}

/* An OCI artifact (artifactType, empty layers) referring to a subject. */
static char *make_referrer(const char *config_digest, const char *artifact_type, const char *subject)
{
	char *s = malloc(1024);
	snprintf(s, 1024,
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST "\",\"artifactType\":\"%s\",\"config\":{\"mediaType\":"
		"\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\",\"size\":2},\"layers\":[],\"subject\":{"
		"\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":100}}",
		artifact_type, config_digest, subject);
	return s;
}

static void test_engine_image__referrers(void **state)
{
	fixture *f = *state;
	th_image subject;
	assert_ok(th_image_random(&subject, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->repo, &subject, "app", 0));
	const char empty_digest[] = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
	assert_ok(ecr_blob_put(f->repo, empty_digest, "{}", 2));

	char *sig = make_referrer(empty_digest, "application/vnd.dev.cosign.signature", subject.digest);
	char *sbom = make_referrer(empty_digest, "application/spdx+json", subject.digest);
	ecr_image *out;
	assert_ok(ecr_image_put(&out, f->repo, NULL, NULL, NULL, sig, strlen(sig), 0));
	assert_string_equal(ecr_image_subject(out), subject.digest);
	assert_string_equal(ecr_image_artifact_type(out), "application/vnd.dev.cosign.signature");
	char sig_digest[TH_DIGEST_MAX];
	snprintf(sig_digest, sizeof(sig_digest), "%s", ecr_image_digest(out));
	ecr_image_free(out);
	assert_ok(ecr_image_put(NULL, f->repo, NULL, NULL, NULL, sbom, strlen(sbom), 0));

	/* list referrers of the subject, all and by artifact type */
	ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
	lo.subject = subject.digest;
	ecr_image_iterator *it;
	int n = 0;
	assert_ok(ecr_image_iterator_new(&it, f->repo, &lo));
	while (ecr_image_iterator_next(&out, it) == 0) {
		assert_string_equal(ecr_image_subject(out), subject.digest);
		n++;
	}
	ecr_image_iterator_free(it);
	assert_int_equal(n, 2);
	lo.artifact_type = "application/spdx+json";
	assert_ok(ecr_image_iterator_new(&it, f->repo, &lo));
	assert_ok(ecr_image_iterator_next(&out, it));
	assert_string_equal(ecr_image_artifact_type(out), "application/spdx+json");
	assert_int_equal(ecr_image_iterator_next(&out, it), ECR_ITEROVER);
	ecr_image_iterator_free(it);

	/* the referrers go with their subject */
	ecr_buf d = ECR_BUF_INIT;
	assert_ok(ecr_image_untag(&d, f->repo, "app", ECR_UNTAG_DELETE_UNTAGGED));
	ecr_buf_dispose(&d);
	assert_int_equal(ecr_image_get(&out, f->repo, subject.digest, 0), ECR_EIMAGE_NOT_FOUND);
	assert_int_equal(ecr_image_get(&out, f->repo, sig_digest, 0), ECR_EIMAGE_NOT_FOUND);
	assert_ok(ecr_image_iterator_new(&it, f->repo, NULL));
	assert_int_equal(ecr_image_iterator_next(&out, it), ECR_ITEROVER);
	ecr_image_iterator_free(it);
	free(sig);
	free(sbom);
	th_image_dispose(&subject);
}

static void test_engine_image__untag(void **state)
{
	fixture *f = *state;
	th_image a;
	assert_ok(th_image_random(&a, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->repo, &a, "one", 0));
	assert_ok(ecr_image_put(NULL, f->repo, "two", NULL, NULL, a.manifest, a.manifest_len, 0));
	assert_int_equal(ecr_image_untag(NULL, f->repo, "zero", 0), ECR_EIMAGE_NOT_FOUND);
	/* plain untag (OCI DELETE by tag) leaves the image */
	assert_ok(ecr_image_untag(NULL, f->repo, "one", 0));
	assert_ok(th_image_verify(f->repo, a.digest, a.digest, NULL));
	/* ECR's delete by tag removes the image with its last tag */
	assert_ok(ecr_image_put(NULL, f->repo, "one", NULL, NULL, a.manifest, a.manifest_len, 0));
	assert_ok(ecr_image_untag(NULL, f->repo, "one", ECR_UNTAG_DELETE_UNTAGGED));
	assert_ok(th_image_verify(f->repo, "two", a.digest, NULL)); /* still tagged "two" */
	assert_ok(ecr_image_untag(NULL, f->repo, "two", ECR_UNTAG_DELETE_UNTAGGED));
	ecr_image *out;
	assert_int_equal(ecr_image_get(&out, f->repo, a.digest, 0), ECR_EIMAGE_NOT_FOUND);
	th_image_dispose(&a);
}

static void test_engine_image__tag_listing(void **state)
{
	fixture *f = *state;
	th_image a;
	assert_ok(th_image_random(&a, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->repo, &a, NULL, 0));
	char tag[32];
	/* 230 tags pushed out of order; lexical (byte) order: "T..." before "t..." */
	for (int i = 0; i < 230; i++) {
		snprintf(tag, sizeof(tag), "%c%03d", (i % 2) ? 't' : 'T', (i * 31) % 230);
		assert_ok(ecr_image_put(NULL, f->repo, tag, NULL, NULL, a.manifest, a.manifest_len, 0));
	}
	ecr_tag_iterator *it;
	const char *t, *d, *prev = NULL;
	char prevbuf[32] = "";
	int n = 0;
	assert_ok(ecr_tag_iterator_new(&it, f->repo, NULL));
	while (ecr_tag_iterator_next(&t, &d, it) == 0) {
		if (prev)
			assert_true(strcmp(prevbuf, t) < 0);
		snprintf(prevbuf, sizeof(prevbuf), "%s", t);
		prev = prevbuf;
		assert_string_equal(d, a.digest);
		n++;
	}
	ecr_tag_iterator_free(it);
	assert_int_equal(n, 230);
	/* "last" semantics: strictly after */
	assert_ok(ecr_tag_iterator_new(&it, f->repo, "T228"));
	assert_ok(ecr_tag_iterator_next(&t, NULL, it));
	assert_true(strcmp(t, "T228") > 0);
	ecr_tag_iterator_free(it);
	assert_ok(ecr_tag_iterator_new(&it, f->repo, "zzz"));
	assert_int_equal(ecr_tag_iterator_next(&t, NULL, it), ECR_ITEROVER);
	ecr_tag_iterator_free(it);
	th_image_dispose(&a);
}

static void test_engine_image__image_listing(void **state)
{
	fixture *f = *state;
	enum { N = 150 };
	th_image imgs[N];
	for (int i = 0; i < N; i++) {
		char tag[16];
		snprintf(tag, sizeof(tag), "t%d", i);
		assert_ok(th_image_random(&imgs[i], &f->rng, 1, NULL));
		assert_ok(th_image_push(f->repo, &imgs[i], i % 3 == 0 ? NULL : tag, 0));
	}
	ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_image_iterator *it;
	ecr_image *img;
	int counts[3] = { 0 };
	for (int s = 0; s < 3; s++) {
		lo.tag_status = (ecr_tag_status)s;
		assert_ok(ecr_image_iterator_new(&it, f->repo, &lo));
		char prev[TH_DIGEST_MAX] = "";
		while (ecr_image_iterator_next(&img, it) == 0) {
			assert_true(strcmp(prev, ecr_image_digest(img)) < 0);
			snprintf(prev, sizeof(prev), "%s", ecr_image_digest(img));
			if (s == ECR_TAG_STATUS_TAGGED)
				assert_true(ecr_image_tag_count(img) > 0);
			if (s == ECR_TAG_STATUS_UNTAGGED)
				assert_int_equal(ecr_image_tag_count(img), 0);
			counts[s]++;
		}
		ecr_image_iterator_free(it);
	}
	assert_int_equal(counts[ECR_TAG_STATUS_ANY], N);
	assert_int_equal(counts[ECR_TAG_STATUS_UNTAGGED], 50);
	assert_int_equal(counts[ECR_TAG_STATUS_TAGGED], 100);

	/* pages through tokens: 7 per page */
	lo.tag_status = ECR_TAG_STATUS_ANY;
	ecr_buf token = ECR_BUF_INIT;
	int total = 0;
	for (;;) {
		lo.start_token = token.size ? token.ptr : NULL;
		assert_ok(ecr_image_iterator_new(&it, f->repo, &lo));
		int got = 0;
		while (got < 7 && ecr_image_iterator_next(&img, it) == 0)
			got++;
		ecr_buf_dispose(&token);
		assert_ok(ecr_image_iterator_token(&token, it));
		ecr_image_iterator_free(it);
		total += got;
		if (got < 7)
			break;
	}
	ecr_buf_dispose(&token);
	assert_int_equal(total, N);
	lo.start_token = "not-a-token";
	assert_int_equal(ecr_image_iterator_new(&it, f->repo, &lo), ECR_EINVALID);
	lo.start_token = NULL;
	lo.tag_status = (ecr_tag_status)7;
	assert_int_equal(ecr_image_iterator_new(&it, f->repo, &lo), ECR_EINVALID);
	for (int i = 0; i < N; i++)
		th_image_dispose(&imgs[i]);
}

static void test_engine_image__docker_types(void **state)
{
	fixture *f = *state;
	th_blob config, layer;
	assert_ok(th_blob_random(&config, &f->rng, 50));
	assert_ok(th_blob_random(&layer, &f->rng, 500));
	assert_ok(th_blob_push(f->repo, &config, 0));
	assert_ok(th_blob_push(f->repo, &layer, 0));
	char m[2048];
	snprintf(m, sizeof(m),
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
		"\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":50,\"digest\":"
		"\"%s\"},\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":500,"
		"\"digest\":\"%s\"}]}",
		config.digest, layer.digest);
	ecr_image *img;
	assert_ok(ecr_image_put(&img, f->repo, "docker", NULL, NULL, m, strlen(m), 0));
	assert_string_equal(ecr_image_media_type(img), "application/vnd.docker.distribution.manifest.v2+json");
	assert_string_equal(ecr_image_artifact_type(img), "application/vnd.docker.container.image.v1+json");
	char list[1024];
	snprintf(list, sizeof(list),
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
		"\"manifests\":[{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":%zu,"
		"\"digest\":\"%s\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}",
		strlen(m), ecr_image_digest(img));
	ecr_image_free(img);
	assert_ok(ecr_image_put(&img, f->repo, "docker-list", NULL, NULL, list, strlen(list), 0));
	assert_string_equal(ecr_image_media_type(img), "application/vnd.docker.distribution.manifest.list.v2+json");
	assert_int_equal(ecr_image_size(img), 500);
	ecr_image_free(img);
	/* a Content-Type that contradicts the body */
	assert_int_equal(ecr_image_put(NULL, f->repo, "x", NULL, OCI_MANIFEST, m, strlen(m), 0), ECR_EINVALID);
	th_blob_dispose(&config);
	th_blob_dispose(&layer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_image__put_and_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__manifest_in_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__put_checks_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__layer_size_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__tags_move_and_exclusive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__immutable_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__record_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__referrers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__untag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__tag_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__image_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_image__docker_types, setup, teardown),
	};
	return cmocka_run_group_tests_name("engine/image", tests, NULL, NULL);
}
