/* The ARCHIVE storage class: archive and restore, compressed copies at rest, what stays raw, status filters,
 * re-push, GC, invalid transitions, index children and referrers. */
#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../helpers/th_image.h"
#include "libecr/core/digest.h"
#include "libecr/engine/engine.h"

#define HOUR_MS (3600LL * 1000)
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"

typedef struct fixture {
	char *dir; /* NULL for memory: */
	_Atomic int64_t clock;
	ecr_registry *reg;
	ecr_repository *a, *b;
	uint64_t rng;
} fixture;

static int64_t fixture_clock(void *payload)
{
	fixture *f = payload;
	return atomic_load(&f->clock);
}

static int setup_common(void **state, bool on_disk)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	char url[4200];
	struct timespec ts;
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	atomic_store(&f->clock, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	f->rng = 0x5eed;
	if (on_disk) {
		f->dir = th_tmpdir();
		snprintf(url, sizeof(url), "file://%s", f->dir);
	} else {
		snprintf(url, sizeof(url), "memory:");
	}
	opts.flags = ECR_STORAGE_NOSYNC;
	opts.clock_cb = fixture_clock;
	opts.clock_payload = f;
	if (ecr_registry_open(&f->reg, url, &opts) || ecr_repository_create(&f->a, f->reg, "team/a", NULL) ||
	    ecr_repository_create(&f->b, f->reg, "team/b", NULL))
		return -1;
	*state = f;
	return 0;
}

static int setup_memory(void **state)
{
	return setup_common(state, false);
}

static int setup_fs(void **state)
{
	return setup_common(state, true);
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_repository_free(f->a);
	ecr_repository_free(f->b);
	ecr_registry_free(f->reg);
	if (f->dir)
		th_rmtree(f->dir);
	free(f);
	return 0;
}

/* Whether the blob store holds the digest. */
static bool in_store(fixture *f, const char *digest)
{
	uint64_t size;
	ecr_blob_store *bs = f->reg->store->blobs;
	int rc = bs->stat(bs, digest, &size);
	if (rc != 0 && rc != ECR_ENOTFOUND)
		fail_msg("stat %s: %d", digest, rc);
	return rc == 0;
}

/* On a file:// store, whether the blob's file exists (checks the fs layout, not just the vtable). */
static bool file_exists(fixture *f, const char *digest)
{
	char path[4400];
	struct stat st;
	const char *hex = strchr(digest, ':') + 1;
	snprintf(path, sizeof(path), "%s/blobs/sha256/%.2s/%s", f->dir, hex, hex);
	return stat(path, &st) == 0;
}

/* The archived_blobs row of a digest: 0 or ECR_ENOTFOUND. */
static int archived_row(fixture *f, const char *digest, ecr__meta_archived_blob *row)
{
	ecr__txn t;
	assert_ok(ecr__txn_begin(&t, f->reg->store->meta, false));
	int rc = ecr__meta_archived_blob_get(&t, digest, row);
	ecr__txn_rollback(&t);
	return rc;
}

static ecr_image_status status_of(ecr_repository *repo, const char *digest)
{
	ecr_image *img;
	assert_ok(ecr_image_get(&img, repo, digest, ECR_IMAGE_GET_ANY_STATUS));
	ecr_image_status st = ecr_image_status_of(img);
	ecr_image_free(img);
	return st;
}

/* Every blob of img (config and layers) is stored compressed and not raw. */
static void assert_archived_blobs(fixture *f, const th_image *img)
{
	for (size_t i = 0; i <= img->layer_count; i++) {
		const th_blob *b = i < img->layer_count ? &img->layers[i] : &img->config;
		ecr__meta_archived_blob row;
		assert_ok(archived_row(f, b->digest, &row));
		assert_int_equal(row.size, (int64_t)b->len);
		assert_string_not_equal(row.compressed_digest, b->digest);
		assert_true(in_store(f, row.compressed_digest));
		assert_false(in_store(f, b->digest));
		if (f->dir) {
			assert_false(file_exists(f, b->digest));
			assert_true(file_exists(f, row.compressed_digest));
		}
	}
	/* the manifest itself is in the metadata store (schema 6), never archived */
	assert_false(in_store(f, img->digest));
}

static void assert_raw_blobs(fixture *f, const th_image *img)
{
	for (size_t i = 0; i <= img->layer_count; i++) {
		const th_blob *b = i < img->layer_count ? &img->layers[i] : &img->config;
		assert_true(in_store(f, b->digest));
		if (f->dir)
			assert_true(file_exists(f, b->digest));
	}
}

static void test_engine_archive__round_trip(void **state)
{
	fixture *f = *state;
	th_image img;
	size_t sizes[] = {5000, 20000};
	ecr_image *out;

	assert_ok(th_image_random(&img, &f->rng, 2, sizes));
	assert_ok(th_image_push(f->a, &img, "v1", 0));
	int64_t t0 = atomic_load(&f->clock);

	atomic_fetch_add(&f->clock, 1000);
	assert_ok(ecr_image_set_storage_class(&out, f->a, img.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_int_equal(ecr_image_status_of(out), ECR_IMAGE_ARCHIVED);
	assert_int_equal(ecr_image_storage_class(out), ECR_STORAGE_CLASS_ARCHIVE);
	assert_int_equal(ecr_image_last_archived_at(out), t0 + 1000);
	assert_int_equal(ecr_image_last_activated_at(out), 0);
	assert_int_equal(ecr_image_tag_count(out), 1);
	ecr_image_free(out);
	assert_archived_blobs(f, &img);

	/* not gettable (by tag or digest) unless asked for any status */
	assert_int_equal(ecr_image_get(&out, f->a, "v1", 0), ECR_EIMAGE_ARCHIVED);
	assert_null(out);
	assert_non_null(strstr(ecr_error_last()->message, "archived"));
	assert_non_null(strstr(ecr_error_last()->message, "v1"));
	assert_int_equal(ecr_image_get(&out, f->a, img.digest, ECR_IMAGE_GET_RECORD_PULL), ECR_EIMAGE_ARCHIVED);
	assert_ok(ecr_image_get(&out, f->a, "v1", ECR_IMAGE_GET_ANY_STATUS));
	assert_string_equal(ecr_image_digest(out), img.digest);
	ecr_image_free(out);

	/* restore: the raw blobs come back, verified end to end */
	atomic_fetch_add(&f->clock, 1000);
	assert_ok(ecr_image_set_storage_class(&out, f->a, img.digest, ECR_STORAGE_CLASS_STANDARD));
	assert_int_equal(ecr_image_status_of(out), ECR_IMAGE_ACTIVE);
	assert_int_equal(ecr_image_storage_class(out), ECR_STORAGE_CLASS_STANDARD);
	assert_int_equal(ecr_image_last_archived_at(out), t0 + 1000);
	assert_int_equal(ecr_image_last_activated_at(out), t0 + 2000);
	ecr_image_free(out);
	assert_raw_blobs(f, &img);
	assert_ok(th_image_verify(f->a, "v1", img.digest, NULL));
	if (f->dir) {
		size_t n = 0;
		assert_ok(th_fs_blobs_verify(f->dir, &n));
		assert_true(n >= 4);
	}

	/* archive again: the compressed copies are reused */
	ecr__meta_archived_blob before, after;
	assert_ok(archived_row(f, img.layers[0].digest, &before));
	assert_ok(ecr_image_set_storage_class(NULL, f->a, img.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_ok(archived_row(f, img.layers[0].digest, &after));
	assert_string_equal(before.compressed_digest, after.compressed_digest);
	assert_archived_blobs(f, &img);
	th_image_dispose(&img);
}

/* A very compressible layer is stored much smaller while archived. */
static void test_engine_archive__compressible(void **state)
{
	fixture *f = *state;
	th_blob layer;
	th_image img;
	ecr__meta_archived_blob row;
	memset(&layer, 0, sizeof(layer));
	layer.len = 200000;
	layer.data = malloc(layer.len);
	for (size_t i = 0; i < layer.len; i++)
		layer.data[i] = (unsigned char)"abcdefgh"[i % 8];
	assert_ok(ecr__digest_buf(layer.digest, sizeof(layer.digest), ECR__DIGEST_SHA256, layer.data, layer.len));
	assert_ok(th_image_with_layers(&img, &f->rng, &layer, 1, 0));
	assert_ok(th_image_push(f->a, &img, "big", 0));
	assert_ok(ecr_image_set_storage_class(NULL, f->a, img.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_ok(archived_row(f, layer.digest, &row));
	assert_int_equal(row.size, 200000);
	assert_true(row.compressed_size > 0 && row.compressed_size < 5000);
	uint64_t csize = 0;
	assert_ok(f->reg->store->blobs->stat(f->reg->store->blobs, row.compressed_digest, &csize));
	assert_int_equal(csize, (uint64_t)row.compressed_size);
	assert_ok(ecr_image_set_storage_class(NULL, f->a, img.digest, ECR_STORAGE_CLASS_STANDARD));
	assert_ok(th_image_verify(f->a, "big", img.digest, NULL));
	th_image_dispose(&img);
	free(layer.data);
}

static void test_engine_archive__shared_layer(void **state)
{
	fixture *f = *state;
	th_image x, y;
	th_blob shared;

	assert_ok(th_blob_random(&shared, &f->rng, 4000));
	assert_ok(th_image_with_layers(&x, &f->rng, &shared, 1, 1));
	assert_ok(th_image_with_layers(&y, &f->rng, &shared, 1, 1));
	assert_ok(th_image_push(f->a, &x, "x", 0));
	assert_ok(th_image_push(f->b, &y, "y", 0)); /* another repository */

	/* y (active, in b) needs the shared layer: it stays raw; x's own layer goes */
	assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_ARCHIVE));
	ecr__meta_archived_blob row;
	assert_true(in_store(f, shared.digest));
	assert_int_equal(archived_row(f, shared.digest, &row), ECR_ENOTFOUND);
	assert_false(in_store(f, x.layers[1].digest));
	assert_ok(archived_row(f, x.layers[1].digest, &row));
	assert_ok(th_image_verify(f->b, "y", y.digest, NULL));

	/* once y is archived too, nothing active needs it */
	assert_ok(ecr_image_set_storage_class(NULL, f->b, y.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_archived_blobs(f, &x);
	assert_archived_blobs(f, &y);

	/* restoring x brings the shared layer back; y's own layer stays compressed */
	assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_STANDARD));
	assert_raw_blobs(f, &x);
	assert_false(in_store(f, y.layers[1].digest));
	assert_int_equal(status_of(f->b, y.digest), ECR_IMAGE_ARCHIVED);
	assert_ok(th_image_verify(f->a, "x", x.digest, NULL));

	/* a new image in b reusing the archived y's own layer gets it back raw on push */
	th_image z;
	assert_ok(th_image_with_layers(&z, &f->rng, &y.layers[1], 1, 0));
	assert_ok(th_image_push(f->b, &z, "z", 0));
	assert_true(in_store(f, y.layers[1].digest));
	assert_ok(th_image_verify(f->b, "z", z.digest, NULL));

	th_image_dispose(&x);
	th_image_dispose(&y);
	th_image_dispose(&z);
	th_blob_dispose(&shared);
}

static size_t count_listed(ecr_repository *repo, uint32_t mask, const char *expect_one)
{
	ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_image_iterator *it;
	ecr_image *img;
	size_t n = 0;
	lo.status_mask = mask;
	assert_ok(ecr_image_iterator_new(&it, repo, &lo));
	while (ecr_image_iterator_next(&img, it) == 0) {
		if (expect_one)
			assert_string_equal(ecr_image_digest(img), expect_one);
		if (mask)
			assert_true(mask & (1u << ecr_image_status_of(img)));
		n++;
	}
	ecr_image_iterator_free(it);
	return n;
}

static void test_engine_archive__list_filter(void **state)
{
	fixture *f = *state;
	th_image x, y;
	assert_ok(th_image_random(&x, &f->rng, 1, NULL));
	assert_ok(th_image_random(&y, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->a, &x, "x", 0));
	assert_ok(th_image_push(f->a, &y, "y", 0));
	assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_ARCHIVE));

	assert_int_equal(count_listed(f->a, 0, NULL), 2);
	assert_int_equal(count_listed(f->a, 1u << ECR_IMAGE_ARCHIVED, x.digest), 1);
	assert_int_equal(count_listed(f->a, 1u << ECR_IMAGE_ACTIVE, y.digest), 1);
	assert_int_equal(count_listed(f->a, 1u << ECR_IMAGE_ACTIVATING, NULL), 0);
	assert_int_equal(count_listed(f->a, (1u << ECR_IMAGE_ACTIVE) | (1u << ECR_IMAGE_ARCHIVED), NULL), 2);

	ecr_image_list_options bad = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_image_iterator *bad_it = NULL;
	bad.status_mask = 8;
	assert_int_equal(ecr_image_iterator_new(&bad_it, f->a, &bad), ECR_EINVALID);
	assert_null(bad_it);

	/* version 1 options: init clears only the version 1 fields, status_mask is not read */
	unsigned char raw[sizeof(ecr_image_list_options) + 8];
	memset(raw, 0xab, sizeof(raw));
	assert_ok(ecr_image_list_options_init((ecr_image_list_options *)raw, 1));
	for (size_t i = offsetof(ecr_image_list_options, status_mask); i < sizeof(raw); i++)
		assert_int_equal(raw[i], 0xab);
	assert_ok(ecr_image_list_options_init((ecr_image_list_options *)raw, 2));
	assert_int_equal(((ecr_image_list_options *)raw)->status_mask, 0);
	assert_int_equal(((ecr_image_list_options *)raw)->version, 2);

	struct {
		ecr_image_list_options o;
	} v1;
	memset(&v1, 0xff, sizeof(v1));
	v1.o.version = 1;
	v1.o.tag_status = ECR_TAG_STATUS_ANY;
	v1.o.subject = v1.o.artifact_type = v1.o.start_token = NULL;
	ecr_image_iterator *it;
	ecr_image *img;
	size_t n = 0;
	assert_ok(ecr_image_iterator_new(&it, f->a, &v1.o));
	while (ecr_image_iterator_next(&img, it) == 0)
		n++;
	ecr_image_iterator_free(it);
	assert_int_equal(n, 2);
	th_image_dispose(&x);
	th_image_dispose(&y);
}

static void test_engine_archive__repush_restores(void **state)
{
	fixture *f = *state;
	th_image x;
	ecr_image *out;
	assert_ok(th_image_random(&x, &f->rng, 2, NULL));
	assert_ok(th_image_push(f->a, &x, "x", 0));
	assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_archived_blobs(f, &x);

	atomic_fetch_add(&f->clock, 5000);
	assert_ok(ecr_image_put(&out, f->a, "again", NULL, NULL, x.manifest, x.manifest_len, 0));
	assert_int_equal(ecr_image_status_of(out), ECR_IMAGE_ACTIVE);
	assert_int_equal(ecr_image_last_activated_at(out), atomic_load(&f->clock));
	assert_int_equal(ecr_image_tag_count(out), 2);
	ecr_image_free(out);
	assert_raw_blobs(f, &x);
	assert_ok(th_image_verify(f->a, "x", x.digest, NULL));
	assert_ok(th_image_verify(f->a, "again", x.digest, NULL));
	th_image_dispose(&x);
}

static void test_engine_archive__invalid_transitions(void **state)
{
	fixture *f = *state;
	th_image x;
	ecr_image *out = (ecr_image *)1;
	assert_ok(th_image_random(&x, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->a, &x, "x", 0));

	assert_int_equal(ecr_image_set_storage_class(&out, f->a, x.digest, ECR_STORAGE_CLASS_STANDARD),
	                 ECR_ESTORAGE_CLASS_UPDATE);
	assert_null(out);
	assert_non_null(strstr(ecr_error_last()->message, "ACTIVE"));
	assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_int_equal(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_ARCHIVE),
	                 ECR_ESTORAGE_CLASS_UPDATE);
	assert_int_equal(ecr_image_set_storage_class(NULL, f->a, x.digest, (ecr_storage_class)7), ECR_EINVALID);
	assert_int_equal(ecr_image_set_storage_class(
	                     NULL, f->a, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
	                     ECR_STORAGE_CLASS_ARCHIVE),
	                 ECR_EIMAGE_NOT_FOUND);
	assert_int_equal(ecr_image_set_storage_class(NULL, f->a, "x", ECR_STORAGE_CLASS_ARCHIVE), ECR_EINVALID);
	/* the image is in a, not in b */
	assert_int_equal(ecr_image_set_storage_class(NULL, f->b, x.digest, ECR_STORAGE_CLASS_STANDARD),
	                 ECR_EIMAGE_NOT_FOUND);
	assert_int_equal(status_of(f->a, x.digest), ECR_IMAGE_ARCHIVED);
	th_image_dispose(&x);
}

static void test_engine_archive__gc(void **state)
{
	fixture *f = *state;
	th_image x;
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	ecr__meta_archived_blob row;
	assert_ok(th_image_random(&x, &f->rng, 2, NULL));
	assert_ok(th_image_push(f->a, &x, "x", 0));
	assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_ok(archived_row(f, x.layers[0].digest, &row));

	/* well past the grace period: the compressed copies are kept while the archived image needs them */
	atomic_fetch_add(&f->clock, 3 * HOUR_MS);
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	assert_int_equal(st.links_removed, 0);
	assert_archived_blobs(f, &x);
	assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_STANDARD));
	assert_ok(th_image_verify(f->a, "x", x.digest, NULL));

	/* restored: the rows and compressed copies are no longer needed and go */
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	assert_int_equal(archived_row(f, x.layers[0].digest, &row), ECR_ENOTFOUND);
	assert_false(in_store(f, row.compressed_digest));
	assert_raw_blobs(f, &x);
	assert_ok(th_image_verify(f->a, "x", x.digest, NULL));

	/* archived, then deleted: everything of it goes */
	assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_ok(archived_row(f, x.layers[0].digest, &row));
	assert_ok(ecr_image_delete(f->a, x.digest));
	atomic_fetch_add(&f->clock, 3 * HOUR_MS);
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	assert_int_equal(archived_row(f, x.layers[0].digest, &row), ECR_ENOTFOUND);
	assert_false(in_store(f, row.compressed_digest));
	for (size_t i = 0; i < x.layer_count; i++)
		assert_false(in_store(f, x.layers[i].digest));
	assert_false(in_store(f, x.digest));
	th_image_dispose(&x);
}

static char *make_index(const th_image *children, size_t n)
{
	size_t cap = 256 + n * 400;
	char *s = malloc(cap);
	size_t len = (size_t)snprintf(s, cap, "{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX "\",\"manifests\":[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
		                        "%s{\"mediaType\":\"" OCI_MANIFEST
		                        "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\","
		                        "\"architecture\":\"arch%zu\"}}",
		                        i ? "," : "", children[i].digest, children[i].manifest_len, i);
	snprintf(s + len, cap - len, "]}");
	return s;
}

static char *make_referrer(const char *config_digest, const char *subject)
{
	char *s = malloc(1024);
	snprintf(s, 1024,
	         "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST "\",\"artifactType\":\"application/spdx+json\","
	         "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\",\"size\":2},"
	         "\"layers\":[],\"subject\":{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":100}}",
	         config_digest, subject);
	return s;
}

static void test_engine_archive__followers(void **state)
{
	fixture *f = *state;
	th_image kids[2], other;
	ecr_image *out;
	assert_ok(th_image_random(&kids[0], &f->rng, 1, NULL));
	assert_ok(th_image_random(&kids[1], &f->rng, 1, NULL));
	assert_ok(th_image_random(&other, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->a, &kids[0], NULL, 0));
	assert_ok(th_image_push(f->a, &kids[1], NULL, 0));
	assert_ok(th_image_push(f->a, &other, "other", 0));
	char *index = make_index(kids, 2);
	assert_ok(ecr_image_put(&out, f->a, "multi", NULL, NULL, index, strlen(index), 0));
	char idx[TH_DIGEST_MAX];
	snprintf(idx, sizeof(idx), "%s", ecr_image_digest(out));
	ecr_image_free(out);
	const char empty[] = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
	assert_ok(ecr_blob_put(f->a, empty, "{}", 2));
	char *ref = make_referrer(empty, idx);
	assert_ok(ecr_image_put(&out, f->a, NULL, NULL, NULL, ref, strlen(ref), 0));
	char ref_digest[TH_DIGEST_MAX];
	snprintf(ref_digest, sizeof(ref_digest), "%s", ecr_image_digest(out));
	ecr_image_free(out);

	assert_ok(ecr_image_set_storage_class(NULL, f->a, idx, ECR_STORAGE_CLASS_ARCHIVE));
	assert_int_equal(status_of(f->a, idx), ECR_IMAGE_ARCHIVED);
	assert_int_equal(status_of(f->a, kids[0].digest), ECR_IMAGE_ARCHIVED);
	assert_int_equal(status_of(f->a, kids[1].digest), ECR_IMAGE_ARCHIVED);
	assert_int_equal(status_of(f->a, ref_digest), ECR_IMAGE_ARCHIVED);
	assert_int_equal(status_of(f->a, other.digest), ECR_IMAGE_ACTIVE);
	assert_archived_blobs(f, &kids[0]);
	assert_archived_blobs(f, &kids[1]);
	assert_raw_blobs(f, &other);
	assert_int_equal(ecr_image_get(&out, f->a, kids[0].digest, 0), ECR_EIMAGE_ARCHIVED);

	assert_ok(ecr_image_set_storage_class(NULL, f->a, idx, ECR_STORAGE_CLASS_STANDARD));
	assert_int_equal(status_of(f->a, kids[0].digest), ECR_IMAGE_ACTIVE);
	assert_int_equal(status_of(f->a, kids[1].digest), ECR_IMAGE_ACTIVE);
	assert_int_equal(status_of(f->a, ref_digest), ECR_IMAGE_ACTIVE);
	assert_ok(th_image_verify(f->a, kids[0].digest, kids[0].digest, NULL));
	assert_ok(th_image_verify(f->a, kids[1].digest, kids[1].digest, NULL));
	assert_ok(th_image_verify(f->a, "multi", idx, NULL));
	free(index);
	free(ref);
	th_image_dispose(&kids[0]);
	th_image_dispose(&kids[1]);
	th_image_dispose(&other);
}

struct race_arg {
	fixture *f;
	const th_image *img;
	int rc;
};

static void *race_archive(void *p)
{
	struct race_arg *a = p;
	a->rc = ecr_image_set_storage_class(NULL, a->f->a, a->img->digest, ECR_STORAGE_CLASS_ARCHIVE);
	return NULL;
}

static void *race_push(void *p)
{
	struct race_arg *a = p;
	a->rc = th_image_push(a->f->b, a->img, NULL, 0);
	return NULL;
}

/* Archiving an image while another repository pushes an image that shares its layer: the pushed image always
 * ends up with every blob raw (whichever side wins the race). */
static void test_engine_archive__race_with_push(void **state)
{
	fixture *f = *state;
	for (int round = 0; round < 20; round++) {
		th_blob shared;
		th_image x, y;
		assert_ok(th_blob_random(&shared, &f->rng, 3000));
		assert_ok(th_image_with_layers(&x, &f->rng, &shared, 1, 1));
		assert_ok(th_image_with_layers(&y, &f->rng, &shared, 1, 1));
		assert_ok(th_image_push(f->a, &x, NULL, 0));
		/* b already holds the shared layer (linked): the push only links and puts the manifest */
		assert_ok(th_blob_push(f->b, &shared, 0));
		struct race_arg ax = {f, &x, -1}, ay = {f, &y, -1};
		pthread_t t1, t2;
		assert_int_equal(pthread_create(&t1, NULL, race_archive, &ax), 0);
		assert_int_equal(pthread_create(&t2, NULL, race_push, &ay), 0);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		assert_ok(ax.rc);
		assert_ok(ay.rc);
		assert_true(in_store(f, shared.digest));
		assert_ok(th_image_verify(f->b, y.digest, y.digest, NULL));
		assert_int_equal(status_of(f->a, x.digest), ECR_IMAGE_ARCHIVED);
		assert_false(in_store(f, x.layers[1].digest));
		/* and x restores intact */
		assert_ok(ecr_image_set_storage_class(NULL, f->a, x.digest, ECR_STORAGE_CLASS_STANDARD));
		assert_ok(th_image_verify(f->a, x.digest, x.digest, NULL));
		th_image_dispose(&x);
		th_image_dispose(&y);
		th_blob_dispose(&shared);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_engine_archive__round_trip, setup_fs, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__round_trip, setup_memory, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__compressible, setup_fs, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__shared_layer, setup_fs, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__list_filter, setup_memory, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__repush_restores, setup_fs, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__invalid_transitions, setup_memory, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__gc, setup_fs, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__followers, setup_fs, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_archive__race_with_push, setup_fs, teardown),
	};
	return cmocka_run_group_tests_name("engine/archive", tests, NULL, NULL);
}
