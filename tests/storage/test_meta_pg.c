/* Tests for the PostgreSQL metadata store (libecr/storage/meta_pg.c): the shared
 * conformance cases (meta_store_cases.h) on a real server, plus migrations from
 * an empty database, concurrent opens, writers against an outside session, a
 * server restart mid-run and an engine smoke test (push, list, delete).
 *
 * The server: ../shared/services/postgres-test-server.sh (path in PG_TEST_SERVER)
 * started in a temporary folder on a free port. A guard process stops it when
 * this process ends, however it ends. Without the script or the server binaries
 * the tests are skipped. */
#define _GNU_SOURCE 1
#include "../helpers/helpers.h"
#include "../helpers/th_image.h"
#include "../helpers/th_pg.h"
#include "libecr/storage/meta.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ecr.h"
#include "ecr/sys/meta_store.h"

typedef struct fixture {
	ecr_meta_store *ms;
} fixture;

static int g_up;

/* A raw connection to the test database (for the tests' own checks). */
static PGconn *raw_conn(void)
{
	PGconn *c = PQconnectdb(th_pg_url());
	assert_non_null(c);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	return c;
}

static void raw_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
}

/* An empty database: the public schema dropped and created again. */
static void reset_db(void)
{
	PGconn *c = raw_conn();
	/* a failed test may have left a transaction open (its store was not rolled back) */
	raw_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		    "WHERE datname = current_database() AND pid <> pg_backend_pid()");
	raw_exec(c, "SET lock_timeout = 20000; SET client_min_messages = warning; "
		    "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	PQfinish(c);
}

static int setup(void **state)
{
	if (!g_up)
		skip();
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	reset_db();
	assert_ok(ecr_meta_store_postgres_new(&f->ms, th_pg_url(), 0));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	if (f) {
		ecr_meta_store_free(f->ms);
		free(f);
	}
	return 0;
}

static int mc_open_other(fixture *f, ecr_meta_store **out)
{
	(void)f;
	return ecr_meta_store_postgres_new(out, th_pg_url(), 0);
}

#define MC_PREFIX test_storage_meta_pg__
#include "meta_store_cases.h"

static void test_storage_meta_pg__dialect_and_open_errors(void **state)
{
	fixture *f = *state;
	assert_string_equal(f->ms->dialect, "postgres");
	assert_int_equal(f->ms->version, ECR_META_STORE_VERSION);
	ecr_meta_store *ms = NULL;
	assert_int_equal(ecr_meta_store_postgres_new(&ms, "", 0), ECR_EINVALID);
	assert_int_equal(ecr_meta_store_postgres_new(&ms, th_pg_url(), 0x80), ECR_EINVALID);
	assert_int_equal(ecr_meta_store_postgres_new(&ms, "nosuchkey=1", 0), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "postgres:"));
	assert_int_equal(ecr_meta_store_postgres_new(&ms, "postgres://[::1", 0), ECR_EINVALID);
	/* nothing listens on port 1 */
	assert_int_equal(ecr_meta_store_postgres_new(&ms, "postgresql://postgres@127.0.0.1:1/x", 0), ECR_ENETWORK);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_STORAGE);
	/* a database that does not exist */
	char url[600];
	snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/no_such_db", th_pg_port());
	assert_int_equal(ecr_meta_store_postgres_new(&ms, url, 0), ECR_ENETWORK);
	assert_non_null(strstr(ecr_error_last()->message, "no_such_db"));
	assert_null(ms);
	/* key=value conninfo and NOSYNC (accepted, ignored) */
	snprintf(url, sizeof(url), "host=127.0.0.1 port=%d user=postgres dbname=libecr_test", th_pg_port());
	assert_ok(ecr_meta_store_postgres_new(&ms, url, ECR_STORAGE_NOSYNC));
	assert_int_equal(query_int(ms, "SELECT count(*) FROM schema_version"), 1);
	ecr_meta_store_free(ms);
}

static const char *const schema_tables[] = { "registries", "repositories", "images", "image_refs", "tags",
	"blob_links", "uploads", "principals", "access_keys", "store_keys", "replication_jobs", "cache_tags",
	"public_registries", "repository_catalog", "leases", "gc_candidates" };

static void test_storage_meta_pg__migrations_from_empty(void **state)
{
	fixture *f = *state; /* setup opened the store on an empty database: migrated */
	ecr_meta_store *ms = f->ms;
	assert_int_equal(query_int(ms, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	for (size_t i = 0; i < sizeof(schema_tables) / sizeof(schema_tables[0]); i++) {
		char q[200];
		snprintf(q, sizeof(q), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = '%s'",
			schema_tables[i]);
		if (query_int(ms, q) != 1)
			fail_msg("table %s missing", schema_tables[i]);
	}
	/* INTEGER PRIMARY KEY became an identity: ids are given by the database, 64-bit */
	assert_ok(exec1(ms, "INSERT INTO registries (account_id, region, created_at) VALUES ('1', 'r', 0);"
			    "INSERT INTO registries (account_id, region, created_at) VALUES ('2', 'r', 0);",
		NULL, 0, NULL, NULL, NULL));
	assert_int_equal(query_int(ms, "SELECT max(id) - min(id) FROM registries"), 1);
	assert_int_equal(query_int(ms, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'images' "
				       "AND column_name = 'pushed_at' AND data_type = 'bigint'"),
		1);
	assert_int_equal(query_int(ms, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'store_keys' "
				       "AND column_name = 'value' AND data_type = 'bytea'"),
		1);
	/* opening again changes nothing */
	ecr_meta_store *again = NULL;
	assert_ok(ecr_meta_store_postgres_new(&again, th_pg_url(), 0));
	assert_int_equal(query_int(again, "SELECT count(*) FROM registries"), 2);
	ecr_meta_store_free(again);
	/* a newer schema is refused */
	assert_ok(exec1(ms, "UPDATE schema_version SET version = 999", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(ecr_meta_store_postgres_new(&again, th_pg_url(), 0), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "schema version 999"));
	assert_null(again);
}

static void *open_thread(void *p)
{
	ecr_meta_store *ms = NULL;
	intptr_t rc = ecr_meta_store_postgres_new(&ms, th_pg_url(), 0);
	if (rc == 0)
		rc = query_int(ms, "SELECT version FROM schema_version") == ECR__META_SCHEMA_VERSION ? 0 : -1;
	ecr_meta_store_free(ms);
	return (void *)rc;
}

static void test_storage_meta_pg__concurrent_opens_migrate_once(void **state)
{
	(void)state;
	reset_db(); /* empty again: the threads race to migrate it */
	pthread_t th[6];
	for (int i = 0; i < 6; i++)
		assert_int_equal(pthread_create(&th[i], NULL, open_thread, NULL), 0);
	for (int i = 0; i < 6; i++) {
		void *rc = NULL;
		pthread_join(th[i], &rc);
		if (rc)
			fail_msg("open %d: %d %s", i, (int)(intptr_t)rc, ecr_error_last()->message);
	}
	fixture *f = *state;
	assert_int_equal(query_int(f->ms, "SELECT count(*) FROM schema_version"), 1);
}

static void *late_commit_thread(void *p)
{
	PGconn *c = p;
	usleep(300 * 1000);
	PGresult *r = PQexec(c, "COMMIT");
	PQclear(r);
	return NULL;
}

static void test_storage_meta_pg__writers_wait_for_outside_session(void **state)
{
	/* another client (another node, a DBA) holds the row the writers update: they wait
	 * for it, none fails, no update is lost */
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE counter(id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
			    "INSERT INTO counter VALUES (1, 0);",
		NULL, 0, NULL, NULL, NULL));
	PGconn *outside = raw_conn();
	raw_exec(outside, "BEGIN ISOLATION LEVEL SERIALIZABLE");
	raw_exec(outside, "UPDATE counter SET v = v + 1000 WHERE id = 1");
	pthread_t late;
	assert_int_equal(pthread_create(&late, NULL, late_commit_thread, outside), 0);
	counter_arg args[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].ms = ms;
		args[i].iterations = 25;
		assert_int_equal(pthread_create(&th[i], NULL, counter_thread, &args[i]), 0);
	}
	int64_t done = 0;
	int failures = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		done += args[i].iterations - args[i].failures;
		failures += args[i].failures;
		/* the writer whose snapshot the outside commit made stale: a clean, retryable error */
		if (args[i].failures && !(strstr(args[i].msg, "-20: postgres: could not serialize") == args[i].msg))
			fail_msg("thread %d: %d failures, first %s", i, args[i].failures, args[i].msg);
	}
	pthread_join(late, NULL);
	PQfinish(outside);
	fprintf(stderr, "# %d of %d increments failed with ECR_EBUSY (serialization)\n", failures, 8 * 25);
	assert_true(failures <= 1);
	/* nothing lost, neither the outside update nor a committed increment */
	assert_int_equal(query_int(ms, "SELECT v FROM counter WHERE id = 1"), 1000 + done);
}

typedef struct writer_arg {
	ecr_meta_store *ms;
	double began_after; /* seconds from the start to its begin() returning */
	double t0;
	int rc;
} writer_arg;

/* An ordinary writer: read-modify-write of counter row 1 (the engine's kind of transaction). */
static void *ordinary_writer(void *p)
{
	writer_arg *w = p;
	ecr_meta_txn *txn = NULL;
	int64_t v = -1, ch = 0;
	int rc = w->ms->begin(&txn, w->ms, 1);
	w->began_after = th_now_s() - w->t0;
	if (rc == 0)
		rc = w->ms->exec(txn, "SELECT v FROM counter WHERE id = 1", NULL, 0, get_int_cb, &v, NULL);
	if (rc == 0) {
		ecr_sql_value nv = { ECR_SQL_INT, v + 10, NULL, 0 };
		rc = w->ms->exec(txn, "UPDATE counter SET v = ? WHERE id = 1", &nv, 1, NULL, NULL, &ch);
	}
	if (rc == 0)
		rc = w->ms->commit(txn);
	else if (txn)
		w->ms->rollback(txn);
	w->rc = rc;
	return NULL;
}

typedef struct atomic_arg {
	ecr_meta_store *ms;
	int iterations, failures;
} atomic_arg;

static void *atomic_incrementer(void *p)
{
	atomic_arg *a = p;
	for (int i = 0; i < a->iterations; i++) {
		ecr_meta_txn *txn = NULL;
		int64_t ch = 0;
		int rc = a->ms->begin(&txn, a->ms, 2);
		if (rc == 0)
			rc = a->ms->exec(txn, "UPDATE counter SET v = v + 1 WHERE id = 3", NULL, 0, NULL, NULL, &ch);
		if (rc == 0 && ch == 1)
			rc = a->ms->commit(txn);
		else if (txn)
			a->ms->rollback(txn);
		if (rc != 0 || ch != 1)
			a->failures++;
	}
	return NULL;
}

/* Atomic write transactions (begin with write == 2: leases, job claims): two of them run at once on two
 * stores (nodes); an ordinary writer waits until the atomic one in flight has committed and then sees its
 * change (nothing lost); concurrent conditional increments lose nothing under READ COMMITTED. */
static void test_storage_meta_pg__atomic_transactions(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms, *other = NULL;
	assert_ok(exec1(ms, "CREATE TABLE counter(id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
			    "INSERT INTO counter VALUES (1, 0); INSERT INTO counter VALUES (2, 0); "
			    "INSERT INTO counter VALUES (3, 0);",
		NULL, 0, NULL, NULL, NULL));
	assert_ok(ecr_meta_store_postgres_new(&other, th_pg_url(), 0));

	ecr_meta_txn *a1 = NULL, *a2 = NULL;
	assert_ok(ms->begin(&a1, ms, 2));
	assert_ok(ms->exec(a1, "UPDATE counter SET v = v + 1 WHERE id = 1", NULL, 0, NULL, NULL, NULL));
	double t0 = th_now_s();
	assert_ok(other->begin(&a2, other, 2)); /* not held up by a1 */
	assert_ok(other->exec(a2, "UPDATE counter SET v = v + 1 WHERE id = 2", NULL, 0, NULL, NULL, NULL));
	assert_ok(other->commit(a2));
	double beside = th_now_s() - t0;
	assert_true(beside < 1.0);

	writer_arg w = { other, 0, th_now_s(), -1 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, ordinary_writer, &w), 0);
	usleep(400 * 1000);
	assert_ok(ms->commit(a1));
	pthread_join(th, NULL);
	fprintf(stderr, "# an atomic transaction beside another: %.1f ms; an ordinary writer waited %.0f ms for one\n",
		beside * 1000, w.began_after * 1000);
	assert_ok(w.rc);
	assert_true(w.began_after >= 0.35);
	assert_int_equal(query_int(ms, "SELECT v FROM counter WHERE id = 1"), 11); /* a1's +1, then the writer's +10 */
	assert_int_equal(query_int(ms, "SELECT v FROM counter WHERE id = 2"), 1);

	atomic_arg args[8];
	pthread_t ths[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (atomic_arg){ i % 2 ? ms : other, 25, 0 };
		assert_int_equal(pthread_create(&ths[i], NULL, atomic_incrementer, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(ths[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	assert_int_equal(query_int(ms, "SELECT v FROM counter WHERE id = 3"), 200);
	ecr_meta_store_free(other);
}

static void test_storage_meta_pg__read_only_and_failed_statement(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE ro(x INTEGER)", NULL, 0, NULL, NULL, NULL));
	/* a read transaction cannot write */
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 0));
	assert_int_equal(ms->exec(txn, "INSERT INTO ro VALUES (1)", NULL, 0, NULL, NULL, NULL), ECR_EIO);
	assert_non_null(strstr(ecr_error_last()->message, "read-only"));
	/* PostgreSQL ended it: later statements and the commit say so */
	assert_int_equal(ms->exec(txn, "SELECT 1", NULL, 0, NULL, NULL, NULL), ECR_EIO);
	assert_int_equal(ms->commit(txn), ECR_EIO);
	assert_int_equal(query_int(ms, "SELECT count(*) FROM ro"), 0);
	/* '?' inside literals, identifiers and comments is not a placeholder */
	int64_t n = -1;
	ecr_sql_value p = { ECR_SQL_INT, 5, NULL, 0 };
	assert_ok(ms->begin(&txn, ms, 0));
	assert_ok(ms->exec(txn, "SELECT length('a?b''?') + ? /* ? */ -- ?\n", &p, 1, get_int_cb, &n, NULL));
	assert_int_equal(n, 5 + 5);
	ms->rollback(txn);
}

static void test_storage_meta_pg__server_restart(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE keep(x INTEGER); INSERT INTO keep VALUES (41);", NULL, 0, NULL, NULL, NULL));
	/* several pooled connections, all of which the restart breaks */
	assert_ok(exec1(ms, "UPDATE keep SET x = x + 1", NULL, 0, NULL, NULL, NULL));
	run_counter(ms, 4, 5);

	double t0 = th_now_s();
	assert_int_equal(th_pg_ctl("stop"), 0);
	double t_stop = th_now_s() - t0;
	/* the server is down: requests fail cleanly, and fast */
	for (int i = 0; i < 3; i++) {
		ecr_meta_txn *txn = NULL;
		t0 = th_now_s();
		int rc = ms->begin(&txn, ms, i % 2);
		if (rc == 0) {
			rc = ms->exec(txn, "SELECT x FROM keep", NULL, 0, NULL, NULL, NULL);
			ms->rollback(txn);
		}
		assert_int_equal(rc, ECR_ENETWORK);
		assert_int_equal(ecr_error_last()->klass, ECR_ERROR_STORAGE);
		assert_non_null(strstr(ecr_error_last()->message, "postgres: "));
		assert_true(th_now_s() - t0 < 5.0);
	}
	t0 = th_now_s();
	assert_int_equal(th_pg_ctl("start"), 0);
	double t_start = th_now_s() - t0;
	fprintf(stderr, "# restart: pg_ctl stop %.2f s, start %.2f s\n", t_stop, t_start);
	/* back: the store reconnects by itself; the data is there */
	assert_int_equal(query_int(ms, "SELECT x FROM keep"), 42);
	assert_ok(exec1(ms, "UPDATE keep SET x = x + 1", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(query_int(ms, "SELECT x FROM keep"), 43);
	/* every pooled connection works again */
	assert_ok(exec1(ms, "DROP TABLE counter", NULL, 0, NULL, NULL, NULL));
	run_counter(ms, 8, 10);
}

/* --- the engine on PostgreSQL --- */

typedef struct smoke_step {
	const char *what;
	int rc;
	char msg[300];
} smoke_step;

static int g_smoke_fail;

static int note(const char *what, int rc)
{
	if (rc != 0) {
		fprintf(stderr, "# engine on postgres: %s failed: %d %s\n", what, rc,
			rc == TH_EBROKEN ? th_problem() : ecr_error_last()->message);
		g_smoke_fail++;
	}
	return rc;
}

static void test_storage_meta_pg__engine_smoke(void **state)
{
	fixture *f = *state;
	ecr_blob_store *blobs = NULL;
	ecr_registry *reg = NULL;
	ecr_repository *repo = NULL;
	assert_ok(ecr_blob_store_memory_new(&blobs));
	assert_ok(ecr_registry_open_storage(&reg, blobs, f->ms, NULL));
	f->ms = NULL; /* the registry owns it */
	g_smoke_fail = 0;

	uint64_t rng = 0x5eed;
	th_image img, img2;
	assert_ok(th_image_random(&img, &rng, 2, NULL));
	assert_ok(th_image_random(&img2, &rng, 1, NULL));
	if (note("repository create", ecr_repository_create(&repo, reg, "smoke/app", NULL)) == 0) {
		note("push", th_image_push(repo, &img, "v1", 0));
		note("push 2", th_image_push(repo, &img2, "v2", 0));
		note("verify by tag", th_image_verify(repo, "v1", img.digest, NULL));
		note("verify exact", th_image_verify_exact(repo, &img2));
		th_check_stats stats;
		memset(&stats, 0, sizeof(stats));
		if (note("registry check (lists)", th_registry_check(reg, &stats)) == 0) {
			if (stats.repositories != 1 || stats.images != 2 || stats.tags != 2) {
				fprintf(stderr, "# engine on postgres: listed %zu repositories, %zu images, %zu tags\n",
					stats.repositories, stats.images, stats.tags);
				g_smoke_fail++;
			}
		}
		note("image delete", ecr_image_delete(repo, img.digest));
		ecr_image *gone = NULL;
		if (ecr_image_get(&gone, repo, img.digest, 0) != ECR_EIMAGE_NOT_FOUND) {
			fprintf(stderr, "# engine on postgres: the deleted image is still found\n");
			g_smoke_fail++;
		}
		ecr_image_free(gone);
		ecr_repository_free(repo);
		note("repository delete (force)", ecr_repository_delete(reg, "smoke/app", ECR_REPOSITORY_DELETE_FORCE));
		if (ecr_repository_open(&repo, reg, "smoke/app") != ECR_EREPOSITORY_NOT_FOUND) {
			fprintf(stderr, "# engine on postgres: the deleted repository is still found\n");
			g_smoke_fail++;
		}
		ecr_repository_free(repo);
	}
	th_image_dispose(&img);
	th_image_dispose(&img2);
	ecr_registry_free(reg);
	assert_int_equal(g_smoke_fail, 0);
}

int main(void)
{
	g_up = th_pg_start() == 0;
	if (!g_up)
		fprintf(stderr, "# no PostgreSQL test server (PG_TEST_SERVER unset or the server did not start): skipped\n");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_storage_meta_pg__dialect_and_open_errors, setup, teardown),
		MC_TEST(types_roundtrip, setup, teardown),
		MC_TEST(changes, setup, teardown),
		MC_TEST(constraint_is_eexists, setup, teardown),
		MC_TEST(bad_sql_and_params, setup, teardown),
		MC_TEST(rollback_undoes, setup, teardown),
		MC_TEST(callback_stop_propagates, setup, teardown),
		MC_TEST(nested_exec, setup, teardown),
		MC_TEST(statement_cache, setup, teardown),
		MC_TEST(multi_statement_script, setup, teardown),
		MC_TEST(failed_commit_rolls_back, setup, teardown),
		MC_TEST(threads_counter, setup, teardown),
		MC_TEST(threads_counter_two_handles, setup, teardown),
		MC_TEST(readers_during_write, setup, teardown),
		MC_TEST(second_store_on_same_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_pg__migrations_from_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_pg__concurrent_opens_migrate_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_pg__writers_wait_for_outside_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_pg__atomic_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_pg__read_only_and_failed_statement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_pg__server_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_pg__engine_smoke, setup, teardown),
	};
	int rc = cmocka_run_group_tests_name("storage/meta_pg", tests, NULL, NULL);
	th_pg_finish();
	return rc;
}
