/* Tests for the SQLite metadata store (libecr/storage/meta_sqlite.c): the shared
 * conformance cases (meta_store_cases.h) and SQLite's own (files, WAL, :memory:). */
#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ecr/sys/meta_store.h"
#include "libecr/storage/meta_sqlite.h"

typedef struct fixture {
	char *dir;
	char *path;
	ecr_meta_store *ms;
} fixture;

static int setup_file(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = th_tmpdir();
	assert_non_null(f->dir);
	assert_true(asprintf(&f->path, "%s/meta.db", f->dir) > 0);
	assert_ok(ecr_meta_store_sqlite_new(&f->ms, f->path, 0));
	*state = f;
	return 0;
}

static int setup_memory(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_ok(ecr_meta_store_sqlite_new(&f->ms, ":memory:", 0));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_meta_store_free(f->ms);
	free(f->path);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

static int mc_open_other(fixture *f, ecr_meta_store **out)
{
	return ecr_meta_store_sqlite_new(out, f->path, 0);
}

#define MC_PREFIX test_storage_meta_sqlite__
#include "meta_store_cases.h"

static void test_storage_meta_sqlite__dialect_and_init(void **state)
{
	fixture *f = *state;
	assert_string_equal(f->ms->dialect, "sqlite");
	assert_int_equal(f->ms->version, ECR_META_STORE_VERSION);

	ecr_meta_store vt;
	memset(&vt, 0xab, sizeof(vt));
	assert_ok(ecr_meta_store_init(&vt, ECR_META_STORE_VERSION));
	assert_int_equal(vt.version, ECR_META_STORE_VERSION);
	assert_null(vt.begin);
	assert_int_equal(ecr_meta_store_init(&vt, 99), ECR_EINVALID);
	assert_int_equal(ecr_meta_store_init(NULL, 1), ECR_EINVALID);
	ecr_meta_store_free(NULL);

	ecr_meta_store *ms = NULL;
	assert_int_equal(ecr_meta_store_sqlite_new(&ms, "", 0), ECR_EINVALID);
	assert_int_equal(ecr_meta_store_sqlite_new(&ms, ":memory:", 0x80), ECR_EINVALID);
	assert_null(ms);
}

static void test_storage_meta_sqlite__commit_persists_across_reopen(void **state)
{
	fixture *f = *state;
	assert_ok(exec1(f->ms, "CREATE TABLE p(k TEXT PRIMARY KEY, v INTEGER)", NULL, 0, NULL, NULL, NULL));
	ecr_sql_value v[] = { { ECR_SQL_TEXT, 0, "answer", 6 }, { ECR_SQL_INT, 42, NULL, 0 } };
	assert_ok(exec1(f->ms, "INSERT INTO p VALUES (?, ?)", v, 2, NULL, NULL, NULL));
	/* an uncommitted write is lost */
	ecr_meta_txn *txn = NULL;
	assert_ok(f->ms->begin(&txn, f->ms, 1));
	assert_ok(f->ms->exec(txn, "UPDATE p SET v = 0", NULL, 0, NULL, NULL, NULL));
	f->ms->rollback(txn);

	ecr_meta_store_free(f->ms);
	f->ms = NULL;
	assert_ok(ecr_meta_store_sqlite_new(&f->ms, f->path, 0));
	assert_int_equal(query_int(f->ms, "SELECT v FROM p WHERE k = 'answer'"), 42);
	assert_int_equal(query_int(f->ms, "PRAGMA foreign_keys"), 1);
	/* NORMAL: commit() syncs the WAL itself, once for a group of committers */
	assert_int_equal(query_int(f->ms, "PRAGMA synchronous"), 1);
}

typedef struct gc_arg {
	ecr_meta_store *ms;
	int id, n, failed;
} gc_arg;

static void *group_commit_thread(void *p)
{
	gc_arg *a = p;
	for (int i = 0; i < a->n; i++) {
		ecr_sql_value v[] = { { ECR_SQL_INT, a->id, NULL, 0 }, { ECR_SQL_INT, i, NULL, 0 } };
		if (exec1(a->ms, "INSERT INTO g VALUES (?, ?)", v, 2, NULL, NULL, NULL) != 0)
			a->failed++;
	}
	return NULL;
}

/* Concurrent committers share WAL syncs; every commit that returned 0 is there after the process that made
 * it died without closing anything (no checkpoint, no clean shutdown: like kill -9). */
static void test_storage_meta_sqlite__group_commit_survives_exit(void **state)
{
	fixture *f = *state;
	enum { THREADS = 8, EACH = 40 };
	assert_ok(exec1(f->ms, "CREATE TABLE g(t INTEGER, i INTEGER, PRIMARY KEY (t, i))", NULL, 0, NULL, NULL, NULL));
	ecr_meta_store_free(f->ms);
	f->ms = NULL;

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ecr_meta_store *ms = NULL;
		if (ecr_meta_store_sqlite_new(&ms, f->path, 0) != 0)
			_exit(3);
		pthread_t th[THREADS];
		gc_arg args[THREADS];
		for (int t = 0; t < THREADS; t++) {
			args[t] = (gc_arg){ ms, t, EACH, 0 };
			if (pthread_create(&th[t], NULL, group_commit_thread, &args[t]) != 0)
				_exit(4);
		}
		int failed = 0;
		for (int t = 0; t < THREADS; t++) {
			pthread_join(th[t], NULL);
			failed += args[t].failed;
		}
		_exit(failed ? 5 : 0); /* no ecr_meta_store_free: the WAL is left as it is */
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	assert_ok(ecr_meta_store_sqlite_new(&f->ms, f->path, 0));
	assert_int_equal(query_int(f->ms, "SELECT count(*) FROM g"), THREADS * EACH);
	assert_int_equal(query_int(f->ms, "SELECT count(DISTINCT t) FROM g WHERE i = 39"), THREADS);
}

static int get_text_cb(const ecr_sql_value *cols, size_t ncols, void *payload)
{
	if (ncols < 1 || cols[0].type != ECR_SQL_TEXT || cols[0].len >= 32)
		return 99;
	memcpy(payload, cols[0].s, cols[0].len + 1);
	return 0;
}

/* 60 commits of 50 rows of 4 KiB (100 pages each, about 12 MiB) into a new table; the sizes of the WAL and of
 * the database file after them. */
static void commit_rows(fixture *f, off_t *wal_size, off_t *db_size)
{
	enum { COMMITS = 60, ROWS = 50, ROW = 4096 };
	static char blob[ROW];
	memset(blob, 'w', sizeof(blob));
	assert_ok(exec1(f->ms, "CREATE TABLE big(x BLOB)", NULL, 0, NULL, NULL, NULL));
	for (int i = 0; i < COMMITS; i++) {
		ecr_meta_txn *txn = NULL;
		assert_ok(f->ms->begin(&txn, f->ms, 1));
		ecr_sql_value v[] = { { ECR_SQL_BLOB, 0, blob, sizeof(blob) } };
		for (int r = 0; r < ROWS; r++)
			assert_ok(f->ms->exec(txn, "INSERT INTO big VALUES (?)", v, 1, NULL, NULL, NULL));
		assert_ok(f->ms->commit(txn));
	}
	/* a write transaction that changes nothing commits too */
	assert_ok(exec1(f->ms, "DELETE FROM big WHERE 0", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(query_int(f->ms, "SELECT count(*) FROM big"), COMMITS * ROWS);
	char *wal = NULL;
	struct stat sb;
	assert_true(asprintf(&wal, "%s-wal", f->path) > 0);
	assert_int_equal(stat(wal, &sb), 0);
	*wal_size = sb.st_size;
	free(wal);
	assert_int_equal(stat(f->path, &sb), 0);
	*db_size = sb.st_size;
}

/* The store's WAL hook (it notes which commits need a sync) also has the WAL checkpointed, in place of SQLite's
 * auto-checkpoint. Past the soft limit the store's checkpoint thread does it: here the hard limit is out of
 * reach, so the rows in the database file are the thread's work. */
static void test_storage_meta_sqlite__wal_checkpointed_by_thread(void **state)
{
	fixture *f = *state;
	off_t wal_size, db_size;
	ecr__meta_sqlite_checkpoint_pages(f->ms, 1 << 30, 200, 1 << 30);
	commit_rows(f, &wal_size, &db_size);
	assert_true(ecr__meta_sqlite_background_checkpoints(f->ms) > 0);
	assert_true(db_size > 2 * 1024 * 1024);
}

/* Past the hard limit a writer checkpoints itself: with the thread out of the way (an unreachable soft limit)
 * the WAL stays within the hard limit and one commit (100 pages of 4 KiB, in frames of 4,120 bytes), where
 * without checkpoints it would hold all 12 MiB. */
static void test_storage_meta_sqlite__wal_checkpointed_by_writer(void **state)
{
	fixture *f = *state;
	off_t wal_size, db_size;
	ecr__meta_sqlite_checkpoint_pages(f->ms, 1 << 30, 1 << 30, 800);
	commit_rows(f, &wal_size, &db_size);
	assert_true(wal_size <= (800 + 100 + 10) * 4120);
	assert_int_equal(ecr__meta_sqlite_background_checkpoints(f->ms), 0);
	assert_true(db_size > 2 * 1024 * 1024);
}

/* Once commits stop, the thread checkpoints a WAL past the idle limit, and the next writer starts it over: its
 * frames go into the blocks the WAL file has already (a WAL that only grew would need new ones: on a full disk,
 * every metadata write would fail). */
static void test_storage_meta_sqlite__idle_wal_checkpointed_and_reused(void **state)
{
	fixture *f = *state;
	off_t wal_size, db_size;
	struct stat sb;
	char *wal = NULL;
	assert_true(asprintf(&wal, "%s-wal", f->path) > 0);
	ecr__meta_sqlite_checkpoint_pages(f->ms, 200, 1 << 30, 1 << 30);
	commit_rows(f, &wal_size, &db_size);
	usleep(1000 * 1000); /* ten times the idle time */
	assert_true(ecr__meta_sqlite_background_checkpoints(f->ms) > 0);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_true(sb.st_size > 2 * 1024 * 1024);
	/* 20 more commits: written over the start of the WAL, which does not grow */
	for (int i = 0; i < 20; i++)
		assert_ok(exec1(f->ms, "INSERT INTO big VALUES (x'00')", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_size, wal_size);
	free(wal);
}

/* With the store's own limits the WAL stays bounded too. */
static void test_storage_meta_sqlite__wal_checkpointed(void **state)
{
	fixture *f = *state;
	off_t wal_size, db_size;
	commit_rows(f, &wal_size, &db_size);
	assert_true(wal_size < 16 * 1024 * 1024);
}

static void test_storage_meta_sqlite__wal_file_present(void **state)
{
	fixture *f = *state;
	char mode[32] = "";
	ecr_meta_txn *txn = NULL;
	assert_ok(f->ms->begin(&txn, f->ms, 0));
	assert_ok(f->ms->exec(txn, "PRAGMA journal_mode", NULL, 0, get_text_cb, mode, NULL));
	f->ms->rollback(txn);
	assert_string_equal(mode, "wal");

	assert_ok(exec1(f->ms, "CREATE TABLE w(x)", NULL, 0, NULL, NULL, NULL));
	assert_ok(exec1(f->ms, "INSERT INTO w VALUES (1)", NULL, 0, NULL, NULL, NULL));
	char *wal = NULL;
	assert_true(asprintf(&wal, "%s-wal", f->path) > 0);
	struct stat sb;
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);
	/* the database and its WAL hold secrets: owner-only, whatever the umask */
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(wal);
}

static void test_storage_meta_sqlite__nosync_flag(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char *path = NULL;
	assert_true(asprintf(&path, "%s/nosync.db", dir) > 0);
	ecr_meta_store *ms = NULL;
	assert_ok(ecr_meta_store_sqlite_new(&ms, path, ECR_STORAGE_NOSYNC));
	assert_int_equal(query_int(ms, "PRAGMA synchronous"), 0); /* OFF */
	ecr_meta_store_free(ms);
	free(path);
	th_rmtree(dir);
}

static void test_storage_meta_sqlite__open_errors(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char *path = NULL;
	ecr_meta_store *ms = NULL;
	assert_true(asprintf(&path, "%s/no/such/dir/x.db", dir) > 0);
	assert_int_equal(ecr_meta_store_sqlite_new(&ms, path, 0), ECR_EIO);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_STORAGE);
	assert_null(ms);
	free(path);

	/* not a database */
	assert_true(asprintf(&path, "%s/junk.db", dir) > 0);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not an sqlite database file at all. ", fp);
	fclose(fp);
	assert_int_equal(ecr_meta_store_sqlite_new(&ms, path, 0), ECR_EIO);
	assert_null(ms);
	free(path);
	th_rmtree(dir);
}

static void test_storage_meta_sqlite__memory(void **state)
{
	fixture *f = *state;
	ecr_meta_store *other = NULL;
	assert_ok(ecr_meta_store_sqlite_new(&other, ":memory:", 0));
	assert_ok(exec1(f->ms, "CREATE TABLE m(x)", NULL, 0, NULL, NULL, NULL));
	assert_ok(exec1(f->ms, "INSERT INTO m VALUES (5)", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(query_int(f->ms, "SELECT x FROM m"), 5);
	/* each :memory: store is private */
	assert_int_equal(exec1(other, "SELECT x FROM m", NULL, 0, NULL, NULL, NULL), ECR_ERROR);
	assert_non_null(strstr(ecr_error_last()->message, "no such table"));
	assert_int_equal(query_int(f->ms, "PRAGMA foreign_keys"), 1);
	ecr_meta_store_free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__dialect_and_init, setup_memory, teardown),
		MC_TEST(types_roundtrip, setup_file, teardown),
		MC_TEST(changes, setup_file, teardown),
		MC_TEST(constraint_is_eexists, setup_file, teardown),
		MC_TEST(bad_sql_and_params, setup_memory, teardown),
		MC_TEST(rollback_undoes, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__commit_persists_across_reopen, setup_file,
			teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__group_commit_survives_exit, setup_file,
			teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__wal_checkpointed, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__wal_checkpointed_by_thread, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__wal_checkpointed_by_writer, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__idle_wal_checkpointed_and_reused, setup_file,
			teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__wal_file_present, setup_file, teardown),
		cmocka_unit_test(test_storage_meta_sqlite__nosync_flag),
		cmocka_unit_test(test_storage_meta_sqlite__open_errors),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__memory, setup_memory, teardown),
		MC_TEST(callback_stop_propagates, setup_memory, teardown),
		MC_TEST(nested_exec, setup_file, teardown),
		MC_TEST(statement_cache, setup_file, teardown),
		MC_TEST(multi_statement_script, setup_file, teardown),
		MC_TEST(failed_commit_rolls_back, setup_memory, teardown),
		MC_TEST(threads_counter, setup_file, teardown),
		MC_TEST(threads_counter, setup_memory, teardown),
		MC_TEST(threads_counter_two_handles, setup_file, teardown),
		MC_TEST(readers_during_write, setup_file, teardown),
		MC_TEST(second_store_on_same_file, setup_file, teardown),
	};
	return cmocka_run_group_tests_name("storage/meta_sqlite", tests, NULL, NULL);
}
