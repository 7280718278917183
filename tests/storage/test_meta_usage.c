/* The usage_daily queries (libecr/storage/meta_usage.c) on SQLite and, when the throwaway server starts, on
 * PostgreSQL through meta_pg's translation: the UPSERT adding counters, windows, per-repository sums, and the
 * stored-bytes queries (each blob once per repository, once across the registry). */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../helpers/th_image.h"
#include "../helpers/th_pg.h"
#include "libecr/engine/engine.h"

static int g_up;
static int g_seq;

/* A registry on SQLite (memory:) or on the PostgreSQL server (a fresh account, so a fresh registry row). */
static void open_backend(ecr_registry **out, int pg)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	char account[32];
	snprintf(account, sizeof(account), "%06u%06u", (unsigned)getpid() % 1000000u, (unsigned)++g_seq % 1000000u);
	opts.account_id = account;
	opts.flags = ECR_STORAGE_NOSYNC;
	if (pg)
		assert_ok(ecr_registry_open_urls(out, th_pg_url(), "memory:", &opts));
	else
		assert_ok(ecr_registry_open(out, "memory:", &opts));
}

typedef struct row {
	char name[64];
	ecr__meta_usage_counts c;
} row;

typedef struct rows {
	row v[8];
	size_t n;
} rows;

static int collect(const char *repository, const ecr__meta_usage_counts *c, void *payload)
{
	rows *r = payload;
	assert_true(r->n < 8);
	snprintf(r->v[r->n].name, sizeof(r->v[0].name), "%s", repository);
	r->v[r->n++].c = *c;
	return 0;
}

typedef struct stored {
	char name[8][64];
	int64_t images[8], bytes[8];
	size_t n;
} stored;

static int collect_stored(const char *repository, int64_t images, int64_t bytes, void *payload)
{
	stored *s = payload;
	assert_true(s->n < 8);
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", repository);
	s->images[s->n] = images;
	s->bytes[s->n++] = bytes;
	return 0;
}

static void counters(int pg)
{
	ecr_registry *reg;
	ecr__txn t;
	rows r = { 0 };
	open_backend(&reg, pg);
	ecr__meta_usage_counts a = { 10, 20, 1, 2, 3, 4 }, b = { 1, 1, 1, 1, 1, 1 };
	assert_ok(ecr__txn_begin(&t, reg->store->meta, true));
	assert_ok(ecr__meta_usage_add(&t, reg->id, "team/b", 100, &a));
	assert_ok(ecr__meta_usage_add(&t, reg->id, "team/b", 100, &b)); /* adds to the row */
	assert_ok(ecr__meta_usage_add(&t, reg->id, "team/b", 101, &b));
	assert_ok(ecr__meta_usage_add(&t, reg->id, "team/a", 102, &a));
	assert_ok(ecr__txn_commit(&t));

	assert_ok(ecr__txn_begin(&t, reg->store->meta, false));
	assert_ok(ecr__meta_usage_transfer(&t, reg->id, NULL, 0, 1000, collect, &r));
	assert_int_equal(r.n, 2);
	assert_string_equal(r.v[0].name, "team/a");
	assert_string_equal(r.v[1].name, "team/b");
	assert_int_equal(r.v[0].c.pushed_bytes, 10);
	assert_int_equal(r.v[1].c.pushed_bytes, 12);
	assert_int_equal(r.v[1].c.pulled_bytes, 22);
	assert_int_equal(r.v[1].c.image_pushes, 3);
	assert_int_equal(r.v[1].c.image_pulls, 4);
	assert_int_equal(r.v[1].c.blob_uploads, 5);
	assert_int_equal(r.v[1].c.blob_downloads, 6);
	/* a window of day 100 only */
	r.n = 0;
	assert_ok(ecr__meta_usage_transfer(&t, reg->id, NULL, 100, 101, collect, &r));
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].c.pushed_bytes, 11);
	/* one repository, days 101.. */
	r.n = 0;
	assert_ok(ecr__meta_usage_transfer(&t, reg->id, "team/b", 101, 1000, collect, &r));
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].c.blob_downloads, 1);
	r.n = 0;
	assert_ok(ecr__meta_usage_transfer(&t, reg->id, "team/none", 0, 1000, collect, &r));
	assert_int_equal(r.n, 0);
	ecr__txn_rollback(&t);
	ecr_registry_free(reg);
}

static void stored_bytes(int pg)
{
	ecr_registry *reg;
	ecr_repository *x, *y, *z;
	ecr__txn t;
	stored s = { 0 };
	int64_t unique = -1;
	uint64_t rng = 77;
	size_t sizes[2] = { 700, 1300 };
	th_image i1, i2;
	open_backend(&reg, pg);
	assert_ok(ecr_repository_create(&x, reg, "x/one", NULL));
	assert_ok(ecr_repository_create(&y, reg, "x/two", NULL));
	assert_ok(ecr_repository_create(&z, reg, "x/zero", NULL));
	assert_ok(th_image_random(&i1, &rng, 2, sizes));
	assert_ok(th_image_with_layers(&i2, &rng, i1.layers, 2, 0)); /* both layers of i1, another config */
	assert_ok(th_image_push(x, &i1, "a", 0));
	assert_ok(th_image_push(x, &i2, "b", 0));
	assert_ok(th_image_push(y, &i1, "a", 0));
	int64_t one = (int64_t)(i1.manifest_len + i1.config.len) + 2000;
	int64_t both = one + (int64_t)(i2.manifest_len + i2.config.len); /* the layers once */

	assert_ok(ecr__txn_begin(&t, reg->store->meta, false));
	assert_ok(ecr__meta_usage_stored(&t, reg->id, NULL, collect_stored, &s));
	assert_int_equal(s.n, 3);
	assert_string_equal(s.name[0], "x/one");
	assert_int_equal(s.images[0], 2);
	assert_int_equal(s.bytes[0], both);
	assert_string_equal(s.name[1], "x/two");
	assert_int_equal(s.images[1], 1);
	assert_int_equal(s.bytes[1], one);
	assert_string_equal(s.name[2], "x/zero");
	assert_int_equal(s.images[2], 0);
	assert_int_equal(s.bytes[2], 0);
	s.n = 0;
	assert_ok(ecr__meta_usage_stored(&t, reg->id, "x/two", collect_stored, &s));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.bytes[0], one);
	assert_ok(ecr__meta_usage_unique(&t, reg->id, &unique));
	assert_int_equal(unique, both);
	ecr__txn_rollback(&t);

	/* and through the public API, with the counters flushed to this backend */
	ecr_usage u = ECR_USAGE_INIT;
	assert_ok(ecr_usage_flush(reg));
	assert_ok(ecr_registry_usage(&u, reg, 0, 0));
	assert_int_equal(u.stored_bytes, both + one);
	assert_int_equal(u.stored_bytes_unique, both);
	assert_int_equal(u.image_pushes, 3);
	assert_int_equal(u.blob_uploads, 3 + 1 + 3); /* x: 2 layers + 2 configs; y: 3 */
	th_image_dispose(&i1);
	th_image_dispose(&i2);
	ecr_repository_free(x);
	ecr_repository_free(y);
	ecr_repository_free(z);
	ecr_registry_free(reg);
}

static void test_storage_meta_usage__counters_sqlite(void **state)
{
	(void)state;
	counters(0);
}

static void test_storage_meta_usage__counters_pg(void **state)
{
	(void)state;
	if (!g_up)
		skip();
	counters(1);
}

static void test_storage_meta_usage__stored_sqlite(void **state)
{
	(void)state;
	stored_bytes(0);
}

static void test_storage_meta_usage__stored_pg(void **state)
{
	(void)state;
	if (!g_up)
		skip();
	stored_bytes(1);
}

int main(void)
{
	g_up = th_pg_start() == 0;
	if (!g_up)
		fprintf(stderr, "# no PostgreSQL test server: the PostgreSQL cases are skipped\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storage_meta_usage__counters_sqlite),
		cmocka_unit_test(test_storage_meta_usage__counters_pg),
		cmocka_unit_test(test_storage_meta_usage__stored_sqlite),
		cmocka_unit_test(test_storage_meta_usage__stored_pg),
	};
	int rc = cmocka_run_group_tests_name("storage/meta_usage", tests, NULL, NULL);
	th_pg_finish();
	return rc;
}
