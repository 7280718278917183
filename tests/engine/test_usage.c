/* Usage metering: counters of pushes and pulls, stored bytes, windows, flushes, prices and estimates. */
#include "../helpers/helpers.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/core/digest.h"
#include "libecr/engine/metering.h"

#define DAY 86400000LL
#define T0 (20000 * DAY + 3600000) /* 2024-10-04T01:00Z */

typedef struct fixture {
	char *dir;
	char url[4200];
	int64_t now;
	ecr_registry *reg;
	ecr_repository *a, *b;
} fixture;

static int64_t fake_clock(void *payload)
{
	return __atomic_load_n(&((fixture *)payload)->now, __ATOMIC_RELAXED);
}

static int open_reg(fixture *f, ecr_registry **out)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.flags = ECR_STORAGE_NOSYNC;
	opts.clock_cb = fake_clock;
	opts.clock_payload = f;
	return ecr_registry_open(out, f->url, &opts);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->dir = th_tmpdir();
	snprintf(f->url, sizeof(f->url), "file://%s", f->dir);
	f->now = T0;
	if (open_reg(f, &f->reg) || ecr_repository_create(&f->a, f->reg, "team/a", NULL) ||
		ecr_repository_create(&f->b, f->reg, "team/b", NULL))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_repository_free(f->a);
	ecr_repository_free(f->b);
	ecr_registry_free(f->reg);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

static void reopen(fixture *f)
{
	char a[64], b[64];
	snprintf(a, sizeof(a), "%s", ecr_repository_name(f->a));
	snprintf(b, sizeof(b), "%s", ecr_repository_name(f->b));
	ecr_repository_free(f->a);
	ecr_repository_free(f->b);
	ecr_registry_free(f->reg);
	f->a = f->b = NULL;
	assert_ok(open_reg(f, &f->reg));
	assert_ok(ecr_repository_open(&f->a, f->reg, a));
	assert_ok(ecr_repository_open(&f->b, f->reg, b));
}

typedef struct image {
	char config[ECR__DIGEST_STRLEN_MAX], l1[ECR__DIGEST_STRLEN_MAX], l2[ECR__DIGEST_STRLEN_MAX];
	char manifest[2048];
	size_t manifest_len;
	char digest[ECR__DIGEST_STRLEN_MAX];
} image;

static void blob(char digest[ECR__DIGEST_STRLEN_MAX], size_t len, unsigned seed, unsigned char **data_out)
{
	unsigned char *p = malloc(len);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + seed * 7 + (i >> 8));
	assert_ok(ecr__digest_buf(digest, ECR__DIGEST_STRLEN_MAX, ECR__DIGEST_SHA256, p, len));
	*data_out = p;
}

/* An image: config (100 bytes), layer 1 (1000, ecr_blob_put), layer 2 (2000, through an upload). */
static void make_image(image *img, unsigned seed, size_t l1_len, size_t l2_len)
{
	unsigned char *c, *x, *y;
	blob(img->config, 100, seed, &c);
	blob(img->l1, l1_len, seed + 1, &x);
	blob(img->l2, l2_len, seed + 2, &y);
	free(c);
	free(x);
	free(y);
	int n = snprintf(img->manifest, sizeof(img->manifest),
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":100},"
		"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu},"
		"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%zu}]}",
		img->config, img->l1, l1_len, img->l2, l2_len);
	img->manifest_len = (size_t)n;
	assert_ok(ecr__digest_buf(img->digest, sizeof(img->digest), ECR__DIGEST_SHA256, img->manifest, img->manifest_len));
}

/* Upload the blobs of img (seeded as make_image did) into repo and put its manifest with tag. */
static void push_image(ecr_repository *repo, const image *img, unsigned seed, size_t l1_len, size_t l2_len,
	const char *tag)
{
	unsigned char *c, *x, *y;
	char d[ECR__DIGEST_STRLEN_MAX];
	blob(d, 100, seed, &c);
	assert_ok(ecr_blob_put(repo, d, c, 100));
	blob(d, l1_len, seed + 1, &x);
	assert_ok(ecr_blob_put(repo, d, x, l1_len));
	blob(d, l2_len, seed + 2, &y);
	ecr_upload *up;
	assert_ok(ecr_upload_begin(&up, repo));
	assert_ok(ecr_upload_write(up, 0, y, l2_len / 2));
	assert_ok(ecr_upload_write(up, l2_len / 2, y + l2_len / 2, l2_len - l2_len / 2));
	assert_ok(ecr_upload_commit(up, d));
	ecr_upload_free(up);
	free(c);
	free(x);
	free(y);
	assert_ok(ecr_image_put(NULL, repo, tag, NULL, NULL, img->manifest, img->manifest_len, 0));
}

static void check_usage(const ecr_usage *u, uint64_t images, uint64_t stored, uint64_t unique, uint64_t pushed,
	uint64_t pulled, uint64_t image_pushes, uint64_t image_pulls, uint64_t uploads, uint64_t downloads)
{
	assert_int_equal(u->images, images);
	assert_int_equal(u->stored_bytes, stored);
	assert_int_equal(u->stored_bytes_unique, unique);
	assert_int_equal(u->pushed_bytes, pushed);
	assert_int_equal(u->pulled_bytes, pulled);
	assert_int_equal(u->image_pushes, image_pushes);
	assert_int_equal(u->image_pulls, image_pulls);
	assert_int_equal(u->blob_uploads, uploads);
	assert_int_equal(u->blob_downloads, downloads);
}

/* Known pushes and pulls give exact counters, unflushed, flushed, and after a reopen. */
static void test_engine_usage__exact_counts(void **state)
{
	fixture *f = *state;
	image img;
	ecr_usage u = ECR_USAGE_INIT;
	make_image(&img, 1, 1000, 2000);
	push_image(f->a, &img, 1, 1000, 2000, "v1");
	uint64_t stored = 100 + 1000 + 2000 + img.manifest_len;

	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	check_usage(&u, 1, stored, stored, stored, 0, 1, 0, 3, 0);
	assert_int_equal(u.repositories, 1);

	/* pulls: a manifest GET counts, a HEAD (no RECORD_PULL) does not; blob reads count the range opened */
	ecr_image *im;
	assert_ok(ecr_image_get(&im, f->a, "v1", ECR_IMAGE_GET_RECORD_PULL));
	ecr_image_free(im);
	assert_ok(ecr_image_get(&im, f->a, "v1", 0));
	ecr_image_free(im);
	ecr_blob *b;
	assert_ok(ecr_blob_open(&b, f->a, img.l1, 100, 300));
	ecr_blob_free(b);
	assert_ok(ecr_blob_open(&b, f->a, img.l2, 0, 0));
	ecr_blob_free(b);
	assert_ok(ecr_blob_open(&b, f->a, img.l2, 1500, 0)); /* to the end: 500 bytes */
	ecr_blob_free(b);
	uint64_t pulled = img.manifest_len + 300 + 2000 + 500;

	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	check_usage(&u, 1, stored, stored, stored, pulled, 1, 1, 3, 3);
	assert_ok(ecr_usage_flush(f->reg));
	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	check_usage(&u, 1, stored, stored, stored, pulled, 1, 1, 3, 3);
	assert_ok(ecr_usage_flush(f->reg)); /* nothing left: adds nothing */
	reopen(f);
	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	check_usage(&u, 1, stored, stored, stored, pulled, 1, 1, 3, 3);

	/* the other repository saw nothing; the registry sums both */
	assert_ok(ecr_repository_usage(&u, f->b, 0, 0));
	check_usage(&u, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_ok(ecr_registry_usage(&u, f->reg, 0, 0));
	assert_int_equal(u.repositories, 2);
	check_usage(&u, 1, stored, stored, stored, pulled, 1, 1, 3, 3);
	assert_int_equal(u.from_ms, 0);
	assert_int_equal(u.to_ms, 0);
}

/* Registry-wide: each blob once per repository in stored_bytes, once across the registry in stored_bytes_unique;
 * a mount pushes no bytes. */
static void test_engine_usage__dedup(void **state)
{
	fixture *f = *state;
	image img, img2;
	ecr_usage u = ECR_USAGE_INIT;
	make_image(&img, 1, 1000, 2000);
	push_image(f->a, &img, 1, 1000, 2000, "v1");
	uint64_t one = 100 + 1000 + 2000 + img.manifest_len;
	/* b gets the blobs by mounting, and the same manifest */
	assert_ok(ecr_blob_mount(f->b, f->a, img.config));
	assert_ok(ecr_blob_mount(f->b, f->a, img.l1));
	assert_ok(ecr_blob_mount(f->b, f->a, img.l2));
	assert_ok(ecr_image_put(NULL, f->b, "same", NULL, NULL, img.manifest, img.manifest_len, 0));
	assert_ok(ecr_repository_usage(&u, f->b, 0, 0));
	check_usage(&u, 1, one, one, img.manifest_len, 0, 1, 0, 0, 0);

	/* a second image in a sharing layer 2 (same seed for it) and a new layer 1 of 500 bytes: same l2 digest needs
	 * the same length and seed: make_image(seed 1) l2 = seed 3 of 2000 bytes */
	make_image(&img2, 1, 500, 2000); /* config and l2 equal to img's, l1 differs (500 bytes) */
	push_image(f->a, &img2, 1, 500, 2000, "v2");
	assert_string_equal(img.l2, img2.l2);
	assert_string_equal(img.config, img2.config);
	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	/* a: config + l1 + l1' + l2 once each, and both manifests */
	uint64_t a_stored = 100 + 1000 + 500 + 2000 + img.manifest_len + img2.manifest_len;
	assert_int_equal(u.images, 2);
	assert_int_equal(u.stored_bytes, a_stored);
	assert_int_equal(u.stored_bytes_unique, a_stored);
	assert_ok(ecr_registry_usage(&u, f->reg, 0, 0));
	assert_int_equal(u.images, 3);
	assert_int_equal(u.stored_bytes, a_stored + one);
	assert_int_equal(u.stored_bytes_unique, a_stored); /* b holds nothing a does not */
}

/* Counters per UTC day: windows round out to whole days. */
static void test_engine_usage__windows(void **state)
{
	fixture *f = *state;
	image img;
	ecr_usage u = ECR_USAGE_INIT;
	make_image(&img, 5, 1000, 2000);
	push_image(f->a, &img, 5, 1000, 2000, "v1"); /* day 20000 */
	uint64_t pushed = 100 + 1000 + 2000 + img.manifest_len;
	f->now = T0 + 2 * DAY; /* day 20002 */
	ecr_blob *b;
	assert_ok(ecr_blob_open(&b, f->a, img.l1, 0, 0));
	ecr_blob_free(b);
	assert_ok(ecr_usage_flush(f->reg));
	f->now = T0 + 3 * DAY; /* day 20003 */
	assert_ok(ecr_blob_open(&b, f->a, img.l2, 0, 10));
	ecr_blob_free(b);

	assert_ok(ecr_registry_usage(&u, f->reg, 20000 * DAY, 20001 * DAY));
	check_usage(&u, 1, pushed, pushed, pushed, 0, 1, 0, 3, 0);
	assert_int_equal(u.from_ms, 20000 * DAY);
	assert_int_equal(u.to_ms, 20001 * DAY);
	/* mid-day bounds round out: [20001.5, 20002.5) -> days 20001 and 20002 */
	assert_ok(ecr_registry_usage(&u, f->reg, 20001 * DAY + DAY / 2, 20002 * DAY + DAY / 2));
	check_usage(&u, 1, pushed, pushed, 0, 1000, 0, 0, 0, 1);
	assert_int_equal(u.from_ms, 20001 * DAY);
	assert_int_equal(u.to_ms, 20003 * DAY);
	/* from a day on, no end: includes the unflushed day */
	assert_ok(ecr_repository_usage(&u, f->a, 20002 * DAY, 0));
	check_usage(&u, 1, pushed, pushed, 0, 1010, 0, 0, 0, 2);
	assert_int_equal(ecr_registry_usage(&u, f->reg, 5 * DAY, 4 * DAY), ECR_EINVALID);
	assert_int_equal(ecr_registry_usage(&u, f->reg, -1, 0), ECR_EINVALID);
}

/* A counting call flushes when the last flush is 5 s old; another handle on the folder reads the table. */
static void test_engine_usage__piggyback_flush(void **state)
{
	fixture *f = *state;
	image img;
	ecr_registry *other;
	ecr_repository *oa;
	ecr_usage u = ECR_USAGE_INIT;
	make_image(&img, 7, 1000, 2000);
	assert_ok(ecr_usage_flush(f->reg)); /* the flush clock starts now */
	push_image(f->a, &img, 7, 1000, 2000, "v1");
	assert_ok(open_reg(f, &other));
	assert_ok(ecr_repository_open(&oa, other, "team/a"));
	assert_ok(ecr_repository_usage(&u, oa, 0, 0));
	assert_int_equal(u.pushed_bytes, 0); /* still in f->reg's memory */
	f->now += 4999;
	ecr_blob *b;
	assert_ok(ecr_blob_open(&b, f->a, img.l1, 0, 0));
	ecr_blob_free(b);
	assert_ok(ecr_repository_usage(&u, oa, 0, 0));
	assert_int_equal(u.pushed_bytes, 0);
	f->now += 1;
	assert_ok(ecr_blob_open(&b, f->a, img.l1, 0, 1));
	ecr_blob_free(b);
	assert_ok(ecr_repository_usage(&u, oa, 0, 0));
	uint64_t pushed = 100 + 1000 + 2000 + img.manifest_len;
	check_usage(&u, 1, pushed, pushed, pushed, 1001, 1, 0, 3, 2);
	ecr_repository_free(oa);
	ecr_registry_free(other);
}

/* A deleted repository's transfer stays in the registry's figures; its stored bytes go. */
static void test_engine_usage__deleted_repository(void **state)
{
	fixture *f = *state;
	image img;
	ecr_usage u = ECR_USAGE_INIT;
	make_image(&img, 9, 1000, 2000);
	push_image(f->a, &img, 9, 1000, 2000, "v1");
	uint64_t pushed = 100 + 1000 + 2000 + img.manifest_len;
	assert_ok(ecr_repository_delete(f->reg, "team/a", ECR_REPOSITORY_DELETE_FORCE));
	assert_ok(ecr_registry_usage(&u, f->reg, 0, 0));
	assert_int_equal(u.repositories, 1);
	check_usage(&u, 0, 0, 0, pushed, 0, 1, 0, 3, 0);
	assert_int_equal(ecr_repository_usage(&u, f->a, 0, 0), ECR_EREPOSITORY_NOT_FOUND);
	assert_ok(ecr_usage_flush(f->reg));
	assert_ok(ecr_registry_usage(&u, f->reg, 0, 0));
	check_usage(&u, 0, 0, 0, pushed, 0, 1, 0, 3, 0);
}

typedef struct seen {
	char names[4][64];
	ecr_usage u[4];
	size_t n;
} seen;

static int collect(const char *repository, const ecr_usage *usage, void *payload)
{
	seen *s = payload;
	if (s->n == 4)
		return 99;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", repository);
	s->u[s->n++] = *usage;
	return 0;
}

static int stop_at_first(const char *repository, const ecr_usage *usage, void *payload)
{
	(void)repository;
	(void)usage;
	(*(int *)payload)++;
	return 42;
}

static void test_engine_usage__foreach(void **state)
{
	fixture *f = *state;
	image img;
	seen s = { 0 };
	ecr_repository *c;
	make_image(&img, 11, 1000, 2000);
	assert_ok(ecr_repository_create(&c, f->reg, "aaa", NULL));
	push_image(f->b, &img, 11, 1000, 2000, "v1");
	assert_ok(ecr_registry_usage_foreach(f->reg, 0, 0, collect, &s));
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "aaa");
	assert_string_equal(s.names[1], "team/a");
	assert_string_equal(s.names[2], "team/b");
	uint64_t pushed = 100 + 1000 + 2000 + img.manifest_len;
	check_usage(&s.u[0], 0, 0, 0, 0, 0, 0, 0, 0, 0);
	check_usage(&s.u[2], 1, pushed, pushed, pushed, 0, 1, 0, 3, 0);
	assert_int_equal(s.u[2].repositories, 1);
	int calls = 0;
	assert_int_equal(ecr_registry_usage_foreach(f->reg, 0, 0, stop_at_first, &calls), 42);
	assert_int_equal(calls, 1);
	ecr_repository_free(c);
}

static void test_engine_usage__price_table(void **state)
{
	(void)state;
	ecr_price_table p;
	assert_ok(ecr_price_table_default(&p, ECR_PRICE_TABLE_VERSION));
	assert_true(fabs(p.storage_usd_per_gb_month - 0.10) < 1e-12);
	assert_true(p.transfer_in_usd_per_gb == 0);
	assert_int_equal(p.transfer_out_tiers_count, 5);
	assert_true(p.transfer_out[0].up_to_gb == 100 && p.transfer_out[0].usd_per_gb == 0);
	assert_true(p.transfer_out[1].up_to_gb == 10240 && fabs(p.transfer_out[1].usd_per_gb - 0.09) < 1e-12);
	assert_true(p.transfer_out[4].up_to_gb == 0 && fabs(p.transfer_out[4].usd_per_gb - 0.05) < 1e-12);

	const char *ok = "{\"storageUsdPerGbMonth\": 0.2, \"transferOut\": [{\"upToGb\": 10, \"usdPerGb\": 0},"
			 " {\"usdPerGb\": 0.5}]}";
	assert_ok(ecr_price_table_parse(&p, ok, strlen(ok)));
	assert_true(fabs(p.storage_usd_per_gb_month - 0.2) < 1e-12);
	assert_true(p.transfer_in_usd_per_gb == 0); /* the default's */
	assert_int_equal(p.transfer_out_tiers_count, 2);
	assert_true(p.transfer_out[0].up_to_gb == 10 && p.transfer_out[1].up_to_gb == 0);
	assert_true(p.transfer_out[1].usd_per_gb == 0.5);

	const char *partial = "{\"transferInUsdPerGb\": 0.01}";
	assert_ok(ecr_price_table_parse(&p, partial, strlen(partial)));
	assert_true(p.transfer_in_usd_per_gb == 0.01);
	assert_int_equal(p.transfer_out_tiers_count, 5);

	const char *bad[] = {
		"",
		"[]",
		"{\"storageUsdPerGbMonth\": -1}",
		"{\"storageUsdPerGbMonth\": \"0.1\"}",
		"{\"storagePerGb\": 0.1}",
		"{\"transferOut\": []}",
		"{\"transferOut\": [{\"upToGb\": 10, \"usdPerGb\": 0}, {\"upToGb\": 5, \"usdPerGb\": 1}]}",
		"{\"transferOut\": [{\"usdPerGb\": 0}, {\"usdPerGb\": 1}]}",
		"{\"transferOut\": [{\"upToGb\": 10}]}",
		"{\"transferOut\": [{\"usdPerGb\": 1, \"extra\": 2}]}",
		"{\"transferOut\": [1,2,3,4,5,6,7,8,9]}",
		"{\"storageUsdPerGbMonth\": 0.1",
	};
	ecr_price_table before = p;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ecr_price_table_parse(&p, bad[i], strlen(bad[i]));
		if (rc != ECR_EINVALID)
			fail_msg("'%s' gave %d", bad[i], rc);
		assert_non_null(ecr_error_last()->message);
		assert_memory_equal(&p, &before, sizeof(p)); /* untouched */
	}
}

static void test_engine_usage__estimate(void **state)
{
	(void)state;
	const double GB = 1024.0 * 1024.0 * 1024.0;
	ecr_price_table p;
	ecr_cost c;
	ecr_usage u = ECR_USAGE_INIT;
	assert_ok(ecr_price_table_default(&p, ECR_PRICE_TABLE_VERSION));
	/* 50 GB stored for 1 month, 1,100 GB out: 100 free + 1,000 at 0.09 = 90; storage 5 */
	u.stored_bytes_unique = (uint64_t)(50 * GB);
	u.stored_bytes = (uint64_t)(80 * GB); /* not what is billed: the blob store holds unique bytes */
	u.pulled_bytes = (uint64_t)(1100 * GB);
	u.pushed_bytes = (uint64_t)(7 * GB);
	assert_ok(ecr_usage_estimate(&c, &u, &p, 1));
	assert_true(fabs(c.storage_usd - 5.0) < 1e-9);
	assert_true(fabs(c.transfer_in_usd) < 1e-12);
	assert_true(fabs(c.transfer_out_usd - 90.0) < 1e-9);
	assert_true(fabs(c.total_usd - 95.0) < 1e-9);
	/* over 2 months: 550 GB a month -> (550 - 100) * 0.09 = 40.5 a month = 81; storage 10 */
	assert_ok(ecr_usage_estimate(&c, &u, &p, 2));
	assert_true(fabs(c.transfer_out_usd - 81.0) < 1e-9);
	assert_true(fabs(c.storage_usd - 10.0) < 1e-9);
	/* 200 TB in one month: 100*0 + 10140*0.09 + 40960*0.085 + 102400*0.07 + 51200*0.05 */
	u.pulled_bytes = (uint64_t)(204800 * GB);
	u.stored_bytes_unique = 0;
	assert_ok(ecr_usage_estimate(&c, &u, &p, 1));
	double want = 10140 * 0.09 + 40960 * 0.085 + 102400 * 0.07 + 51200 * 0.05;
	assert_true(fabs(c.transfer_out_usd - want) < 1e-6);
	assert_true(fabs(want - 14122.2) < 1e-6); /* by hand: 912.6 + 3481.6 + 7168 + 2560 */
	/* a table with transfer in priced, and a last tier with a limit (beyond it: the last tier's price) */
	const char *j = "{\"transferInUsdPerGb\": 0.02, \"storageUsdPerGbMonth\": 0,"
			" \"transferOut\": [{\"upToGb\": 1, \"usdPerGb\": 1}, {\"upToGb\": 2, \"usdPerGb\": 2}]}";
	assert_ok(ecr_price_table_parse(&p, j, strlen(j)));
	u.pulled_bytes = (uint64_t)(5 * GB);
	u.pushed_bytes = (uint64_t)(100 * GB);
	assert_ok(ecr_usage_estimate(&c, &u, &p, 1));
	assert_true(fabs(c.transfer_out_usd - (1 * 1 + 4 * 2)) < 1e-9);
	assert_true(fabs(c.transfer_in_usd - 2.0) < 1e-9);
	assert_true(fabs(c.total_usd - 11.0) < 1e-9);
	assert_int_equal(ecr_usage_estimate(&c, &u, &p, 0), ECR_EINVALID);
	assert_int_equal(ecr_usage_estimate(&c, &u, &p, NAN), ECR_EINVALID);
}

typedef struct worker {
	fixture *f;
	const char *digest;
	int rc;
} worker;

#define WORKERS 4
#define READS 1500

/* Blob reads of 10 bytes while the clock runs 1 s per read: piggybacked flushes race with counting. */
static void *reader(void *arg)
{
	worker *w = arg;
	for (int i = 0; i < READS && !w->rc; i++) {
		ecr_blob *b;
		__atomic_fetch_add(&w->f->now, 1000, __ATOMIC_RELAXED);
		if ((w->rc = ecr_blob_open(&b, w->f->a, w->digest, 5, 10)) == 0)
			ecr_blob_free(b);
	}
	return NULL;
}

/* Counting from several threads with flushes in between loses and doubles nothing. */
static void test_engine_usage__concurrent(void **state)
{
	fixture *f = *state;
	image img;
	ecr_usage u = ECR_USAGE_INIT;
	pthread_t th[WORKERS];
	worker w[WORKERS];
	make_image(&img, 17, 1000, 2000);
	push_image(f->a, &img, 17, 1000, 2000, "v1");
	for (int i = 0; i < WORKERS; i++) {
		w[i] = (worker){ f, img.l1, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, reader, &w[i]), 0);
	}
	for (int i = 0; i < WORKERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_ok(w[i].rc);
	}
	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	assert_int_equal(u.blob_downloads, WORKERS * READS);
	assert_int_equal(u.pulled_bytes, WORKERS * READS * 10);
	reopen(f);
	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	assert_int_equal(u.blob_downloads, WORKERS * READS);
	assert_int_equal(u.pulled_bytes, WORKERS * READS * 10);
	assert_int_equal(u.blob_uploads, 3);
}

/* The library's own reads (scanner, gallery) open blobs without counting a download. */
static void test_engine_usage__uncounted_open(void **state)
{
	fixture *f = *state;
	image img;
	ecr_usage u = ECR_USAGE_INIT;
	ecr_blob *b;
	make_image(&img, 13, 1000, 2000);
	push_image(f->a, &img, 13, 1000, 2000, "v1");
	assert_ok(ecr__blob_open_uncounted(&b, f->a, img.l2, 10, 20));
	assert_int_equal(ecr_blob_size(b), 2000);
	ecr_blob_free(b);
	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	assert_int_equal(u.blob_downloads, 0);
	assert_int_equal(u.pulled_bytes, 0);
	assert_ok(ecr_blob_open(&b, f->a, img.l2, 10, 20));
	ecr_blob_free(b);
	assert_ok(ecr_repository_usage(&u, f->a, 0, 0));
	assert_int_equal(u.blob_downloads, 1);
	assert_int_equal(u.pulled_bytes, 20);
}

static void test_engine_usage__memory_registry(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_repository *r;
	ecr_usage u = ECR_USAGE_INIT;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_repository_create(&r, reg, "xy", NULL));
	const char data[] = "hello";
	char d[ECR__DIGEST_STRLEN_MAX];
	assert_ok(ecr__digest_buf(d, sizeof(d), ECR__DIGEST_SHA256, data, 5));
	assert_ok(ecr_blob_put(r, d, data, 5));
	assert_ok(ecr_usage_init(&u, ECR_USAGE_VERSION));
	assert_ok(ecr_registry_usage(&u, reg, 0, 0));
	assert_int_equal(u.pushed_bytes, 5);
	assert_int_equal(u.blob_uploads, 1);
	assert_int_equal(u.stored_bytes, 0); /* a blob no image references is not stored usage */
	assert_int_equal(ecr_usage_init(&u, 99), ECR_EINVALID);
	ecr_repository_free(r);
	ecr_registry_free(reg);
}

static int count_cb(const char *repository, const ecr_usage *usage, void *payload)
{
	(void)repository;
	(void)usage;
	(*(int *)payload)++;
	return 0;
}

/* A registry without repositories: zeros, not an error (the per-repository list is empty: nothing to sort). */
static void test_engine_usage__empty_registry(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_usage u = ECR_USAGE_INIT;
	int calls = 0;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_registry_usage(&u, reg, 0, 0));
	assert_int_equal(u.repositories, 0);
	assert_int_equal(u.stored_bytes, 0);
	assert_int_equal(u.stored_bytes_unique, 0);
	assert_int_equal(u.pulled_bytes, 0);
	assert_ok(ecr_registry_usage_foreach(reg, 0, 0, count_cb, &calls));
	assert_int_equal(calls, 0);
	ecr_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_usage__exact_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_usage__dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_usage__windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_usage__piggyback_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_usage__deleted_repository, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_usage__foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_usage__uncounted_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_usage__concurrent, setup, teardown),
		cmocka_unit_test(test_engine_usage__price_table),
		cmocka_unit_test(test_engine_usage__estimate),
		cmocka_unit_test(test_engine_usage__memory_registry),
		cmocka_unit_test(test_engine_usage__empty_registry),
	};
	return cmocka_run_group_tests_name("engine/usage", tests, NULL, NULL);
}
