/* ecr_registry_stats() (libecr/engine/stats.c): garbage collections counted,
 * storage errors counted once per failed call, scans and replication jobs by
 * state from the metadata store. */
#include "../helpers/helpers.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../helpers/faulty_storage.h"
#include "../helpers/th_image.h"
#include "../helpers/th_pg.h"
#include "ecr/stats.h"
#include "libecr/engine/engine.h"

#define HOUR_MS (3600LL * 1000)

typedef struct fixture {
	_Atomic int64_t clock;
	th_faults faults;
	ecr_registry *reg;
	ecr_repository *repo;
} fixture;

static int64_t fixture_clock(void *payload)
{
	fixture *f = payload;
	return atomic_load(&f->clock);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_blob_store *bs = NULL, *fb = NULL;
	ecr_meta_store *ms = NULL, *fm = NULL;
	struct timespec ts;
	if (!f)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	atomic_store(&f->clock, (int64_t)ts.tv_sec * 1000);
	th_faults_init(&f->faults);
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.clock_cb = fixture_clock;
	o.clock_payload = f;
	if (ecr_blob_store_memory_new(&bs) || ecr_meta_store_sqlite_new(&ms, ":memory:", ECR_STORAGE_NOSYNC) ||
	    th_faulty_blob_store_new(&fb, bs, &f->faults) || th_faulty_meta_store_new(&fm, ms, &f->faults) ||
	    ecr_registry_open_storage(&f->reg, fb, fm, &o) || ecr_repository_create(&f->repo, f->reg, "team/app", NULL))
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

static ecr_stats stats(fixture *f)
{
	ecr_stats st = ECR_STATS_INIT;
	assert_ok(ecr_registry_stats(&st, f->reg));
	return st;
}

static void test_engine_stats__arguments(void **state)
{
	fixture *f = *state;
	ecr_stats st = ECR_STATS_INIT;
	assert_int_equal(ecr_registry_stats(NULL, f->reg), ECR_EINVALID);
	assert_int_equal(ecr_registry_stats(&st, NULL), ECR_EINVALID);
	st.version = ECR_STATS_VERSION + 1;
	assert_int_equal(ecr_registry_stats(&st, f->reg), ECR_EINVALID);
	st = stats(f);
	assert_int_equal(st.version, ECR_STATS_VERSION);
	assert_int_equal(st.gc_runs, 0);
	assert_int_equal(st.gc_blobs_deleted, 0);
	assert_int_equal(st.scans_in_progress + st.scans_complete + st.scans_failed, 0);
	assert_int_equal(
	    st.replication_queued + st.replication_running + st.replication_complete + st.replication_failed, 0);
}

static void test_engine_stats__gc(void **state)
{
	fixture *f = *state;
	uint64_t rng = 7;
	th_blob x, y;
	ecr_gc_stats gs = ECR_GC_STATS_INIT;
	ecr_gc_options dry = ECR_GC_OPTIONS_INIT;

	assert_ok(th_blob_random(&x, &rng, 3000));
	assert_ok(th_blob_random(&y, &rng, 1234));
	assert_ok(ecr_blob_put(f->repo, x.digest, x.data, x.len));
	assert_ok(ecr_blob_put(f->repo, y.digest, y.data, y.len));
	assert_ok(ecr_blob_delete(f->repo, x.digest));
	assert_ok(ecr_blob_delete(f->repo, y.digest));

	/* young: nothing removed, but the run counts */
	assert_ok(ecr_registry_gc(f->reg, NULL, &gs));
	ecr_stats st = stats(f);
	assert_int_equal(st.gc_runs, 1);
	assert_int_equal(st.gc_blobs_deleted, 0);
	assert_int_equal(st.gc_bytes_freed, 0);

	/* a dry run is not counted */
	atomic_fetch_add(&f->clock, 2 * HOUR_MS);
	dry.flags = ECR_GC_DRY_RUN;
	assert_ok(ecr_registry_gc(f->reg, &dry, &gs));
	assert_int_equal(gs.blobs_removed, 2);
	assert_int_equal(stats(f).gc_runs, 1);

	assert_ok(ecr_registry_gc(f->reg, NULL, &gs));
	assert_int_equal(gs.blobs_removed, 2);
	st = stats(f);
	assert_int_equal(st.gc_runs, 2);
	assert_int_equal(st.gc_failures, 0);
	assert_int_equal(st.gc_blobs_deleted, 2);
	assert_int_equal(st.gc_bytes_freed, 3000 + 1234);

	/* a failing run is counted as a failure */
	f->faults.only = TH_FAULT_META_BEGIN;
	th_faults_arm(&f->faults, 1, 1);
	assert_int_equal(ecr_registry_gc(f->reg, NULL, &gs), ECR_EIO);
	th_faults_arm(&f->faults, 0, 0);
	st = stats(f);
	assert_int_equal(st.gc_runs, 2);
	assert_int_equal(st.gc_failures, 1);
	th_blob_dispose(&x);
	th_blob_dispose(&y);
}

static void test_engine_stats__storage_errors(void **state)
{
	fixture *f = *state;
	uint64_t rng = 9;
	th_blob x;
	ecr_stats before = stats(f), after;

	/* "not found" is an answer, not a storage failure */
	assert_int_equal(
	    ecr_blob_stat(f->repo, "sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL),
	    ECR_ENOTFOUND);
	after = stats(f);
	assert_int_equal(after.blob_store_errors, before.blob_store_errors);
	assert_int_equal(after.meta_store_errors, before.meta_store_errors);

	/* one injected blob write failure: counted once */
	assert_ok(th_blob_random(&x, &rng, 5000));
	f->faults.only = TH_FAULT_BLOB_WRITE;
	th_faults_arm(&f->faults, 1, 0);
	assert_int_equal(ecr_blob_put(f->repo, x.digest, x.data, x.len), ECR_EIO);
	assert_int_equal(f->faults.failures, 1);
	after = stats(f);
	assert_int_equal(after.blob_store_errors, before.blob_store_errors + 1);

	/* one injected metadata statement failure: counted once */
	f->faults.only = TH_FAULT_META_EXEC;
	th_faults_arm(&f->faults, 1, 0);
	ecr_repository *r = NULL;
	assert_int_equal(ecr_repository_open(&r, f->reg, "team/app"), ECR_EIO);
	assert_int_equal(f->faults.failures, 1);
	th_faults_arm(&f->faults, 0, 0);
	ecr_stats last = stats(f);
	assert_int_equal(last.meta_store_errors, after.meta_store_errors + 1);
	assert_int_equal(last.blob_store_errors, after.blob_store_errors);

	/* the store still works, through the counting wrapper */
	assert_ok(ecr_blob_put(f->repo, x.digest, x.data, x.len));
	assert_ok(th_blob_verify(f->repo, x.digest, x.len));
	assert_int_equal(stats(f).blob_store_errors, last.blob_store_errors);
	th_blob_dispose(&x);
}

static void reg_sql(ecr_registry *reg, const char *text, const ecr_sql_value *p, size_t n)
{
	ecr__txn t = {0};
	assert_ok(ecr__txn_begin(&t, reg->store->meta, true));
	assert_ok(ecr__sql(&t, text, p, n, NULL, NULL, NULL));
	assert_ok(ecr__txn_commit(&t));
}

static void sql(fixture *f, const char *text, const ecr_sql_value *p, size_t n)
{
	reg_sql(f->reg, text, p, n);
}

static void test_engine_stats__scans_and_replication(void **state)
{
	fixture *f = *state;
	int64_t repo_id = f->repo->id;
	static const int scan_states[] = {ECR_SCAN_IN_PROGRESS, ECR_SCAN_IN_PROGRESS, ECR_SCAN_COMPLETE,
	                                  ECR_SCAN_COMPLETE,    ECR_SCAN_COMPLETE,    ECR_SCAN_FAILED};
	for (size_t i = 0; i < sizeof(scan_states) / sizeof(scan_states[0]); i++) {
		char digest[80];
		const char *dp = digest;
		snprintf(digest, sizeof(digest), "sha256:%064zu", i);
		ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_S(dp), ECR__SQL_I(scan_states[i])};
		sql(f,
		    "INSERT INTO image_scans (repository_id, digest, status, reason, report, started_at, completed_at, "
		    "vulndb_at) VALUES (?, ?, ?, NULL, NULL, 0, 0, 0)",
		    p, 3);
	}
	/* jobs: 3 queued, 1 running, 2 complete, 1 failed */
	static const int job_states[] = {0, 0, 0, 1, 2, 2, 3};
	for (size_t i = 0; i < sizeof(job_states) / sizeof(job_states[0]); i++) {
		char digest[80];
		const char *dp = digest;
		snprintf(digest, sizeof(digest), "sha256:%064zu", i);
		ecr_sql_value p[] = {ECR__SQL_I(f->reg->id), ECR__SQL_S(dp), ECR__SQL_I(job_states[i])};
		sql(f,
		    "INSERT INTO replication_jobs (registry_id, repository, digest, tags, dest_region, "
		    "dest_registry_id, "
		    "status, attempts, next_attempt_at, lease_until, failure_reason, created_at, updated_at) "
		    "VALUES (?, 'team/app', ?, '[]', 'eu-west-1', '111122223333', ?, 0, 0, 0, NULL, 0, 0)",
		    p, 3);
	}
	ecr_stats st = stats(f);
	assert_int_equal(st.scans_in_progress, 2);
	assert_int_equal(st.scans_complete, 3);
	assert_int_equal(st.scans_failed, 1);
	assert_int_equal(st.replication_queued, 3);
	assert_int_equal(st.replication_running, 1);
	assert_int_equal(st.replication_complete, 2);
	assert_int_equal(st.replication_failed, 1);

	/* jobs of another registry of the same storage are not this one's */
	ecr__txn t = {0};
	int64_t other_id = 0;
	assert_ok(ecr__txn_begin(&t, f->reg->store->meta, true));
	assert_ok(ecr__meta_registry_ensure(&t, "444455556666", "us-east-1", 0, &other_id));
	assert_ok(ecr__txn_commit(&t));
	assert_true(other_id != f->reg->id);
	ecr_sql_value p[] = {ECR__SQL_I(other_id), ECR__SQL_S("sha256:1"), ECR__SQL_I(0)};
	sql(f,
	    "INSERT INTO replication_jobs (registry_id, repository, digest, tags, dest_region, dest_registry_id, "
	    "status, attempts, next_attempt_at, lease_until, failure_reason, created_at, updated_at) "
	    "VALUES (?, 'team/app', ?, '[]', 'eu-west-1', '111122223333', ?, 0, 0, 0, NULL, 0, 0)",
	    p, 3);
	assert_int_equal(stats(f).replication_queued, 3);
}

/* The grouped queries through the PostgreSQL dialect (run with PG_TEST_SERVER set, as the storage suite does;
 * skipped otherwise). */
static void test_engine_stats__postgres(void **state)
{
	(void)state;
	ecr_registry *reg = NULL;
	ecr_repository *repo = NULL;
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	char blobs_url[4200];

	if (!getenv("PG_TEST_SERVER") || th_pg_start() != 0)
		skip();
	char *dir = th_tmpdir();
	snprintf(blobs_url, sizeof(blobs_url), "file://%s", dir);
	opts.flags = ECR_STORAGE_NOSYNC;
	assert_ok(ecr_registry_open_urls(&reg, th_pg_url(), blobs_url, &opts));
	assert_ok(ecr_repository_create(&repo, reg, "pg/stats", NULL));
	static const int scan_states[] = {ECR_SCAN_IN_PROGRESS, ECR_SCAN_COMPLETE, ECR_SCAN_COMPLETE, ECR_SCAN_FAILED};
	static const int job_states[] = {0, 1, 1, 2, 3, 3};
	for (size_t i = 0; i < 6; i++) {
		char digest[80];
		const char *dp = digest;
		snprintf(digest, sizeof(digest), "sha256:%064zu", i);
		if (i < 4) {
			ecr_sql_value p[] = {ECR__SQL_I(repo->id), ECR__SQL_S(dp), ECR__SQL_I(scan_states[i])};
			reg_sql(reg,
			        "INSERT INTO image_scans (repository_id, digest, status, reason, report, started_at, "
			        "completed_at, vulndb_at) VALUES (?, ?, ?, NULL, NULL, 0, 0, 0)",
			        p, 3);
		}
		ecr_sql_value q[] = {ECR__SQL_I(reg->id), ECR__SQL_S(dp), ECR__SQL_I(job_states[i])};
		reg_sql(reg,
		        "INSERT INTO replication_jobs (registry_id, repository, digest, tags, dest_region, "
		        "dest_registry_id, "
		        "status, attempts, next_attempt_at, lease_until, failure_reason, created_at, updated_at) "
		        "VALUES (?, 'pg/stats', ?, '[]', 'eu-west-1', '111122223333', ?, 0, 0, 0, NULL, 0, 0)",
		        q, 3);
	}
	ecr_stats st = ECR_STATS_INIT;
	assert_ok(ecr_registry_stats(&st, reg));
	assert_int_equal(st.scans_in_progress, 1);
	assert_int_equal(st.scans_complete, 2);
	assert_int_equal(st.scans_failed, 1);
	assert_int_equal(st.replication_queued, 1);
	assert_int_equal(st.replication_running, 2);
	assert_int_equal(st.replication_complete, 1);
	assert_int_equal(st.replication_failed, 2);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	th_rmtree(dir);
	th_pg_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_engine_stats__arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_stats__gc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_stats__storage_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_stats__scans_and_replication, setup, teardown),
	    cmocka_unit_test(test_engine_stats__postgres),
	};
	return cmocka_run_group_tests_name("engine/stats", tests, NULL, NULL);
}
