/* Leases and GC across two "nodes": two registries on two distinct stores over one SQLite file and one folder. */
#include "../helpers/helpers.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../helpers/th_image.h"
#include "libecr/engine/engine.h"
#include "libecr/engine/leases.h"

#define HOUR_MS (3600LL * 1000)

typedef struct fixture {
	char *dir;
	_Atomic int64_t clock;
	ecr_registry *a, *b; /* node A, node B */
} fixture;

static int64_t fixture_clock(void *payload)
{
	fixture *f = payload;
	return atomic_load(&f->clock);
}

static ecr_registry *node_open(fixture *f)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_blob_store *blobs;
	ecr_meta_store *meta;
	ecr_registry *reg;
	char path[4200];
	opts.clock_cb = fixture_clock;
	opts.clock_payload = f;
	snprintf(path, sizeof(path), "%s/blobs", f->dir);
	assert_ok(ecr_blob_store_fs_new(&blobs, path, ECR_STORAGE_NOSYNC));
	snprintf(path, sizeof(path), "%s/meta.db", f->dir);
	assert_ok(ecr_meta_store_sqlite_new(&meta, path, ECR_STORAGE_NOSYNC));
	assert_ok(ecr_registry_open_storage(&reg, blobs, meta, &opts));
	return reg;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->dir = th_tmpdir();
	atomic_store(&f->clock, (int64_t)time(NULL) * 1000);
	f->a = node_open(f);
	f->b = node_open(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_registry_free(f->a);
	ecr_registry_free(f->b);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

static bool in_store(ecr_registry *reg, const char *digest)
{
	uint64_t size;
	int rc = reg->store->blobs->stat(reg->store->blobs, digest, &size);
	if (rc != 0 && rc != ECR_ENOTFOUND)
		fail_msg("stat %s: %d", digest, rc);
	return rc == 0;
}

static void test_engine_leases__acquire_renew_release_expire(void **state)
{
	fixture *f = *state;
	char ha[ECR__LEASE_HOLDER_MAX], hb[ECR__LEASE_HOLDER_MAX];
	int64_t now = atomic_load(&f->clock);

	assert_ptr_not_equal(f->a->store, f->b->store);
	ecr__lease_holder(f->a->store, ha);
	ecr__lease_holder(f->b->store, hb);
	assert_string_not_equal(ha, hb);

	assert_ok(ecr__lease_acquire(f->a->store, "job", ha, now, 1000));
	assert_int_equal(ecr__lease_acquire(f->b->store, "job", hb, now + 999, 1000), ECR_EBUSY);
	assert_ok(ecr__lease_acquire(f->a->store, "job", ha, now + 500, 1000)); /* its own: extended to +1500 */
	assert_int_equal(ecr__lease_acquire(f->b->store, "job", hb, now + 1200, 1000), ECR_EBUSY);
	assert_ok(ecr__lease_renew(f->a->store, "job", ha, now + 1400, 1000)); /* to +2400 */
	assert_int_equal(ecr__lease_renew(f->b->store, "job", hb, now + 1400, 1000), ECR_EBUSY);
	/* A stops renewing (it died): the lease expires and B takes it */
	assert_ok(ecr__lease_acquire(f->b->store, "job", hb, now + 2400, 1000));
	assert_int_equal(ecr__lease_renew(f->a->store, "job", ha, now + 2500, 1000), ECR_EBUSY);
	/* A's release does not free B's lease; B's does */
	assert_ok(ecr__lease_release(f->a->store, "job", ha));
	assert_int_equal(ecr__lease_acquire(f->a->store, "job", ha, now + 2600, 1000), ECR_EBUSY);
	assert_ok(ecr__lease_release(f->b->store, "job", hb));
	assert_ok(ecr__lease_acquire(f->a->store, "job", ha, now + 2600, 1000));
	/* another name is independent */
	assert_ok(ecr__lease_acquire(f->b->store, "other", hb, now + 2600, 1000));
	assert_int_equal(ecr__lease_acquire(f->a->store, "job", "", now, 1000), ECR_EINVALID);
	assert_int_equal(ecr__lease_acquire(f->a->store, "job", ha, now, 0), ECR_EINVALID);
}

/* Garbage: a blob put through node n and unlinked. */
static void garbage(ecr_registry *n, const char *repo_name, th_blob *x, uint64_t *rng)
{
	ecr_repository *repo;
	int rc = ecr_repository_open(&repo, n, repo_name);
	if (rc == ECR_EREPOSITORY_NOT_FOUND)
		rc = ecr_repository_create(&repo, n, repo_name, NULL);
	assert_ok(rc);
	assert_ok(th_blob_random(x, rng, 700));
	assert_ok(ecr_blob_put(repo, x->digest, x->data, x->len));
	assert_ok(ecr_blob_delete(repo, x->digest));
	ecr_repository_free(repo);
}

static void test_engine_leases__gc_one_node_at_a_time(void **state)
{
	fixture *f = *state;
	char hb[ECR__LEASE_HOLDER_MAX];
	uint64_t rng = 5;
	th_blob x;
	ecr_gc_stats st = ECR_GC_STATS_INIT;

	garbage(f->a, "team/a", &x, &rng);
	atomic_fetch_add(&f->clock, 2 * HOUR_MS);
	/* node B is collecting (it holds the lease for 10 minutes): A's run does nothing */
	ecr__lease_holder(f->b->store, hb);
	assert_ok(ecr__lease_acquire(f->b->store, "gc", hb, atomic_load(&f->clock), 10 * 60 * 1000));
	assert_ok(ecr_registry_gc(f->a, NULL, &st));
	assert_int_equal(st.blobs_removed, 0);
	assert_true(in_store(f->a, x.digest));
	/* B died: its lease expires, A collects */
	atomic_fetch_add(&f->clock, 10 * 60 * 1000);
	assert_ok(ecr_registry_gc(f->a, NULL, &st));
	assert_int_equal(st.blobs_removed, 1);
	assert_false(in_store(f->b, x.digest));
	/* A released the lease: B runs at once */
	assert_ok(ecr_registry_gc(f->b, NULL, &st));
	assert_int_equal(st.blobs_removed, 0);
	th_blob_dispose(&x);
}

static void put_through(ecr_registry *n, const char *repo_name, const th_blob *x, int expect)
{
	ecr_repository *repo;
	int rc = ecr_repository_open(&repo, n, repo_name);
	if (rc == ECR_EREPOSITORY_NOT_FOUND)
		rc = ecr_repository_create(&repo, n, repo_name, NULL);
	assert_ok(rc);
	assert_int_equal(ecr_blob_put(repo, x->digest, x->data, x->len), expect);
	ecr_repository_free(repo);
}

/*
 * The cross-node race, step by step: node B links a candidate blob (before the claim: GC keeps it), and node B
 * links a blob node A has just claimed and removed (after the claim: the link is refused until the guard
 * passes, then succeeds with the blob stored again). No link ever points to a missing blob.
 */
static void test_engine_leases__gc_against_pushes_on_another_node(void **state)
{
	fixture *f = *state;
	uint64_t rng = 9;
	th_blob x, y;
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	ecr_gc_options opts = ECR_GC_OPTIONS_INIT;
	ecr_repository *repo;

	garbage(f->a, "team/a", &x, &rng);
	garbage(f->a, "team/a", &y, &rng);
	atomic_fetch_add(&f->clock, 2 * HOUR_MS);
	/* B links y (its push saw the blob in the store) before A's GC: y stays */
	put_through(f->b, "team/b", &y, 0);
	assert_ok(ecr_registry_gc(f->a, &opts, &st));
	assert_int_equal(st.blobs_removed, 1);
	assert_false(in_store(f->a, x.digest));
	assert_true(in_store(f->a, y.digest));

	/* x is a tombstone now: B's push that published it before the removal and links it now is refused
	 * (its link is dated before the guard's end) */
	assert_ok(ecr_repository_open(&repo, f->b, "team/b"));
	assert_int_equal(ecr_blob_stat(repo, x.digest, NULL), ECR_ENOTFOUND);
	ecr_repository_free(repo);
	put_through(f->b, "team/b", &x, ECR_EEXISTS);
	assert_non_null(strstr(ecr_error_last()->message, "garbage-collected"));
	/* after the guard (min(grace, 60 s)) the retry succeeds and the blob is there */
	atomic_fetch_add(&f->clock, 61 * 1000);
	put_through(f->b, "team/b", &x, 0);
	assert_true(in_store(f->b, x.digest));
	assert_ok(ecr_repository_open(&repo, f->a, "team/b"));
	assert_ok(ecr_blob_stat(repo, x.digest, NULL));
	ecr_repository_free(repo);
	/* linked but in no image: once their links are stale, a run on B collects both (no tombstone in the way) */
	atomic_fetch_add(&f->clock, 2 * HOUR_MS);
	assert_ok(ecr_registry_gc(f->b, &opts, &st));
	assert_int_equal(st.links_removed, 2);
	assert_int_equal(st.blobs_removed, 2);
	assert_false(in_store(f->a, x.digest) || in_store(f->a, y.digest));
	th_blob_dispose(&x);
	th_blob_dispose(&y);
}

/* A file:// folder is flock'ed by one process: the leases a killed process left in it are gone when it is opened
 * again, so GC and lifecycle do not wait for them to expire. (Stores opened from URLs keep them: other nodes may
 * hold them.) */
static void test_engine_leases__folder_reopen_drops_dead_leases(void **state)
{
	fixture *f = *state;
	ecr_registry *reg = NULL;
	char url[4200];
	int64_t now = atomic_load(&f->clock);
	snprintf(url, sizeof(url), "file://%s/folder", f->dir);
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr__lease_acquire(reg->store, "gc", "dead-process", now, HOUR_MS));
	assert_int_equal(ecr__lease_acquire(reg->store, "gc", "another", now, HOUR_MS), ECR_EBUSY);
	ecr_registry_free(reg);
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr__lease_acquire(reg->store, "gc", "another", now, HOUR_MS));
	ecr_registry_free(reg);

	/* the two nodes of the fixture (one SQLite file opened as a URL) keep theirs */
	assert_ok(ecr__lease_acquire(f->a->store, "x", "node-a", now, HOUR_MS));
	ecr_registry_free(f->b);
	f->b = node_open(f);
	assert_int_equal(ecr__lease_acquire(f->b->store, "x", "node-b", now, HOUR_MS), ECR_EBUSY);
}

/* Reopening a folder without leases writes nothing: no WAL frame, so no sync (a bare DELETE of the empty leases
 * table rewrote its pages: a WAL header and three syncs in every ecrd's cold start). */
static void test_engine_leases__folder_reopen_writes_nothing(void **state)
{
	fixture *f = *state;
	ecr_registry *reg = NULL;
	char url[4200], wal[4200];
	struct stat sb;
	snprintf(url, sizeof(url), "file://%s/quiet", f->dir);
	snprintf(wal, sizeof(wal), "%s/quiet/metadata.db-wal", f->dir);
	assert_ok(ecr_registry_open(&reg, url, NULL)); /* creates the schema */
	ecr_registry_free(reg);
	for (int i = 0; i < 2; i++) {
		assert_ok(ecr_registry_open(&reg, url, NULL));
		assert_true(stat(wal, &sb) != 0 || sb.st_size == 0);
		ecr_registry_free(reg);
	}
	/* with a lease left behind, the open still drops it */
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr__lease_acquire(reg->store, "gc", "dead-process", atomic_load(&f->clock), HOUR_MS));
	ecr_registry_free(reg);
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_true(stat(wal, &sb) == 0 && sb.st_size > 0);
	assert_ok(ecr__lease_acquire(reg->store, "gc", "another", atomic_load(&f->clock), HOUR_MS));
	ecr_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_leases__acquire_renew_release_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_leases__gc_one_node_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_leases__gc_against_pushes_on_another_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_leases__folder_reopen_drops_dead_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_leases__folder_reopen_writes_nothing, setup, teardown),
	};
	return cmocka_run_group_tests_name("engine/leases", tests, NULL, NULL);
}
