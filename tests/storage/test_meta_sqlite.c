/* Tests for the SQLite metadata store (libecr/storage/meta_sqlite.c). */
#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ecr/sys/meta_store.h"

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

/* Run one statement in its own transaction. */
static int exec1(ecr_meta_store *ms, const char *sql, const ecr_sql_value *p, size_t np, ecr_sql_row_cb cb, void *pl,
	int64_t *changes)
{
	ecr_meta_txn *txn = NULL;
	int rc = ms->begin(&txn, ms, 1);
	if (rc < 0)
		return rc;
	rc = ms->exec(txn, sql, p, np, cb, pl, changes);
	if (rc != 0) {
		ms->rollback(txn);
		return rc;
	}
	return ms->commit(txn);
}

static int get_int_cb(const ecr_sql_value *cols, size_t ncols, void *payload)
{
	if (ncols < 1 || cols[0].type != ECR_SQL_INT)
		return 99;
	*(int64_t *)payload = cols[0].i;
	return 0;
}

/* SELECT returning one integer, in a read transaction; -1 if no row. */
static int64_t query_int(ecr_meta_store *ms, const char *sql)
{
	ecr_meta_txn *txn = NULL;
	int64_t v = -1;
	assert_ok(ms->begin(&txn, ms, 0));
	assert_ok(ms->exec(txn, sql, NULL, 0, get_int_cb, &v, NULL));
	assert_ok(ms->commit(txn));
	return v;
}

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

typedef struct rows {
	int n;
	int64_t id[8];
	int type[8][5];
	char text[8][32];
	size_t text_len[8];
	unsigned char blob[8][16];
	size_t blob_len[8];
	int64_t num[8];
	int text_nul_terminated;
} rows;

static int collect_cb(const ecr_sql_value *cols, size_t ncols, void *payload)
{
	rows *r = payload;
	if (ncols != 5 || r->n >= 8)
		return 77;
	int k = r->n++;
	for (size_t i = 0; i < 5; i++)
		r->type[k][i] = cols[i].type;
	r->id[k] = cols[0].i;
	if (cols[1].type == ECR_SQL_TEXT) {
		r->text_len[k] = cols[1].len;
		memcpy(r->text[k], cols[1].s, cols[1].len < 31 ? cols[1].len : 31);
		if (cols[1].s[cols[1].len] == '\0')
			r->text_nul_terminated++;
	}
	if (cols[2].type == ECR_SQL_BLOB) {
		r->blob_len[k] = cols[2].len;
		memcpy(r->blob[k], cols[2].s, cols[2].len < 16 ? cols[2].len : 16);
	}
	r->num[k] = cols[3].i;
	return 0;
}

static void test_storage_meta_sqlite__types_roundtrip(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB, n INTEGER, z)", NULL,
		0, NULL, NULL, NULL));

	static const unsigned char bin[] = { 0x00, 0xff, 0x10, 0x00, 0x7f };
	const char *text = "hello world"; /* only "hello" is bound */
	ecr_meta_txn *txn = NULL;
	int64_t changes = -1;
	assert_ok(ms->begin(&txn, ms, 1));
	ecr_sql_value p1[] = {
		{ ECR_SQL_INT, 7, NULL, 0 },
		{ ECR_SQL_TEXT, 0, text, 5 },
		{ ECR_SQL_BLOB, 0, (const char *)bin, sizeof(bin) },
		{ ECR_SQL_INT, -9007199254740993LL, NULL, 0 },
		{ ECR_SQL_NULL, 0, NULL, 0 },
	};
	static const char ins[] = "INSERT INTO t(id, name, data, n, z) VALUES (?, ?, ?, ?, ?)";
	assert_ok(ms->exec(txn, ins, p1, 5, NULL, NULL, &changes));
	assert_int_equal(changes, 1);
	ecr_sql_value p2[] = {
		{ ECR_SQL_INT, 8, NULL, 0 },
		{ ECR_SQL_TEXT, 0, NULL, 0 }, /* empty text, not NULL */
		{ ECR_SQL_BLOB, 0, NULL, 0 }, /* empty blob */
		{ ECR_SQL_INT, INT64_MAX, NULL, 0 },
		{ ECR_SQL_NULL, 0, NULL, 0 },
	};
	assert_ok(ms->exec(txn, ins, p2, 5, NULL, NULL, &changes));
	assert_int_equal(changes, 1);
	assert_ok(ms->commit(txn));

	rows r;
	memset(&r, 0, sizeof(r));
	assert_ok(ms->begin(&txn, ms, 0));
	assert_ok(ms->exec(txn, "SELECT id, name, data, n, z FROM t ORDER BY id", NULL, 0, collect_cb, &r, &changes));
	assert_int_equal(changes, 0);
	assert_ok(ms->commit(txn));

	assert_int_equal(r.n, 2);
	assert_int_equal(r.id[0], 7);
	assert_int_equal(r.type[0][0], ECR_SQL_INT);
	assert_int_equal(r.type[0][1], ECR_SQL_TEXT);
	assert_int_equal(r.text_len[0], 5);
	assert_string_equal(r.text[0], "hello");
	assert_int_equal(r.type[0][2], ECR_SQL_BLOB);
	assert_int_equal(r.blob_len[0], sizeof(bin));
	assert_memory_equal(r.blob[0], bin, sizeof(bin));
	assert_int_equal(r.num[0], -9007199254740993LL);
	assert_int_equal(r.type[0][4], ECR_SQL_NULL);
	assert_int_equal(r.id[1], 8);
	assert_int_equal(r.type[1][1], ECR_SQL_TEXT);
	assert_int_equal(r.text_len[1], 0);
	assert_int_equal(r.type[1][2], ECR_SQL_BLOB);
	assert_int_equal(r.blob_len[1], 0);
	assert_int_equal(r.num[1], INT64_MAX);
	assert_int_equal(r.text_nul_terminated, 2);

	/* a WHERE with a bound TEXT finds the row */
	int64_t id = -1;
	ecr_sql_value key = { ECR_SQL_TEXT, 0, "hello!!", 5 };
	assert_ok(ms->begin(&txn, ms, 0));
	assert_ok(ms->exec(txn, "SELECT id FROM t WHERE name = ?", &key, 1, get_int_cb, &id, NULL));
	ms->rollback(txn);
	assert_int_equal(id, 7);
}

static void test_storage_meta_sqlite__changes(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	int64_t changes = -1;
	assert_ok(exec1(ms, "CREATE TABLE c(x INTEGER)", NULL, 0, NULL, NULL, &changes));
	assert_int_equal(changes, 0);
	assert_ok(exec1(ms, "INSERT INTO c VALUES (1), (2), (3)", NULL, 0, NULL, NULL, &changes));
	assert_int_equal(changes, 3);
	assert_ok(exec1(ms, "UPDATE c SET x = x + 10 WHERE x >= 2", NULL, 0, NULL, NULL, &changes));
	assert_int_equal(changes, 2);
	assert_ok(exec1(ms, "UPDATE c SET x = 0 WHERE x = 999", NULL, 0, NULL, NULL, &changes));
	assert_int_equal(changes, 0);
	assert_ok(exec1(ms, "SELECT * FROM c", NULL, 0, NULL, NULL, &changes));
	assert_int_equal(changes, 0);
	assert_ok(exec1(ms, "DELETE FROM c", NULL, 0, NULL, NULL, &changes));
	assert_int_equal(changes, 3);
}

static void test_storage_meta_sqlite__constraint_is_eexists(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE u(name TEXT PRIMARY KEY)", NULL, 0, NULL, NULL, NULL));

	ecr_sql_value v = { ECR_SQL_TEXT, 0, "a", 1 };
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 1));
	assert_ok(ms->exec(txn, "INSERT INTO u VALUES (?)", &v, 1, NULL, NULL, NULL));
	ecr_error_clear();
	assert_int_equal(ms->exec(txn, "INSERT INTO u VALUES (?)", &v, 1, NULL, NULL, NULL), ECR_EEXISTS);
	const ecr_error *e = ecr_error_last();
	assert_int_equal(e->code, ECR_EEXISTS);
	assert_int_equal(e->klass, ECR_ERROR_STORAGE);
	assert_non_null(strstr(e->message, "sqlite: UNIQUE constraint failed"));
	assert_non_null(strstr(e->message, "(in: INSERT INTO u VALUES (?))"));
	/* the failed statement is undone, the transaction goes on */
	ecr_sql_value w = { ECR_SQL_TEXT, 0, "b", 1 };
	assert_ok(ms->exec(txn, "INSERT INTO u VALUES (?)", &w, 1, NULL, NULL, NULL));
	assert_ok(ms->commit(txn));
	assert_int_equal(query_int(ms, "SELECT count(*) FROM u"), 2);

	/* NOT NULL and foreign keys (foreign_keys=ON) are constraints too */
	assert_ok(exec1(ms, "CREATE TABLE child(p TEXT NOT NULL REFERENCES u(name))", NULL, 0, NULL, NULL, NULL));
	ecr_sql_value missing = { ECR_SQL_TEXT, 0, "zz", 2 };
	assert_int_equal(exec1(ms, "INSERT INTO child VALUES (?)", &missing, 1, NULL, NULL, NULL), ECR_EEXISTS);
	assert_non_null(strstr(ecr_error_last()->message, "FOREIGN KEY"));
	ecr_sql_value null = { ECR_SQL_NULL, 0, NULL, 0 };
	assert_int_equal(exec1(ms, "INSERT INTO child VALUES (?)", &null, 1, NULL, NULL, NULL), ECR_EEXISTS);
}

static void test_storage_meta_sqlite__bad_sql_and_params(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 1));
	assert_int_equal(ms->exec(txn, "SELEKT 1", NULL, 0, NULL, NULL, NULL), ECR_ERROR);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_STORAGE);
	assert_non_null(strstr(ecr_error_last()->message, "sqlite: near \"SELEKT\""));
	ecr_sql_value v = { ECR_SQL_INT, 1, NULL, 0 };
	assert_int_equal(ms->exec(txn, "SELECT ?, ?", &v, 1, NULL, NULL, NULL), ECR_EINVALID);
	assert_int_equal(ms->exec(txn, "SELECT 1", &v, 1, NULL, NULL, NULL), ECR_EINVALID);
	ecr_sql_value bad = { (ecr_sql_type)42, 0, NULL, 0 };
	assert_int_equal(ms->exec(txn, "SELECT ?", &bad, 1, NULL, NULL, NULL), ECR_EINVALID);
	/* still usable */
	int64_t x = 0;
	assert_ok(ms->exec(txn, "SELECT ?", &v, 1, get_int_cb, &x, NULL));
	assert_int_equal(x, 1);
	/* a long statement is cut to 60 characters in the message */
	assert_int_equal(ms->exec(txn,
				 "SELECT nonexistent_column FROM sqlite_master WHERE 1 = 1 AND 2 = 2 AND 3 = 3 AND 4 = 4",
				 NULL, 0, NULL, NULL, NULL),
		ECR_ERROR);
	assert_non_null(strstr(ecr_error_last()->message, "(in: SELECT nonexistent_column FROM sqlite_master WHERE 1 = 1 AND)"));
	ms->rollback(txn);
}

static void test_storage_meta_sqlite__rollback_undoes(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE r(x INTEGER)", NULL, 0, NULL, NULL, NULL));
	assert_ok(exec1(ms, "INSERT INTO r VALUES (1)", NULL, 0, NULL, NULL, NULL));

	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 1));
	assert_ok(ms->exec(txn, "INSERT INTO r VALUES (2)", NULL, 0, NULL, NULL, NULL));
	assert_ok(ms->exec(txn, "UPDATE r SET x = 100 WHERE x = 1", NULL, 0, NULL, NULL, NULL));
	int64_t n = 0;
	assert_ok(ms->exec(txn, "SELECT sum(x) FROM r", NULL, 0, get_int_cb, &n, NULL));
	assert_int_equal(n, 102); /* the transaction sees its own writes */
	ms->rollback(txn);
	assert_int_equal(query_int(ms, "SELECT sum(x) FROM r"), 1);

	/* rolled-back DDL is gone too */
	assert_ok(ms->begin(&txn, ms, 1));
	assert_ok(ms->exec(txn, "CREATE TABLE gone(x)", NULL, 0, NULL, NULL, NULL));
	ms->rollback(txn);
	assert_int_equal(query_int(ms, "SELECT count(*) FROM sqlite_master WHERE name = 'gone'"), 0);
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
	assert_int_equal(query_int(f->ms, "PRAGMA synchronous"), 2); /* FULL */
}

static int get_text_cb(const ecr_sql_value *cols, size_t ncols, void *payload)
{
	if (ncols < 1 || cols[0].type != ECR_SQL_TEXT || cols[0].len >= 32)
		return 99;
	memcpy(payload, cols[0].s, cols[0].len + 1);
	return 0;
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

typedef struct stopper {
	int calls;
	int stop_at;
	int value;
} stopper;

static int stop_cb(const ecr_sql_value *cols, size_t ncols, void *payload)
{
	stopper *s = payload;
	(void)cols;
	(void)ncols;
	return ++s->calls == s->stop_at ? s->value : 0;
}

static void test_storage_meta_sqlite__callback_stop_propagates(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE s(x)", NULL, 0, NULL, NULL, NULL));
	assert_ok(exec1(ms, "INSERT INTO s VALUES (1), (2), (3), (4), (5)", NULL, 0, NULL, NULL, NULL));
	static const char q[] = "SELECT x FROM s ORDER BY x";
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 0));
	stopper st = { 0, 2, 4242 };
	assert_int_equal(ms->exec(txn, q, NULL, 0, stop_cb, &st, NULL), 4242);
	assert_int_equal(st.calls, 2);
	/* negative values too, unchanged (even ones that look like ECR_E* codes) */
	st.calls = 0;
	st.stop_at = 5;
	st.value = ECR_EUSER;
	assert_int_equal(ms->exec(txn, q, NULL, 0, stop_cb, &st, NULL), ECR_EUSER);
	assert_int_equal(st.calls, 5);
	/* the cached statement was reset: it runs in full again */
	st.calls = 0;
	st.stop_at = 100;
	assert_ok(ms->exec(txn, q, NULL, 0, stop_cb, &st, NULL));
	assert_int_equal(st.calls, 5);
	assert_ok(ms->commit(txn));
}

typedef struct nested {
	ecr_meta_store *ms;
	ecr_meta_txn *txn;
	int depth;
	int64_t sum;
	int err;
} nested;

static const char nested_sql[] = "SELECT x FROM s ORDER BY x";

static int nested_cb(const ecr_sql_value *cols, size_t ncols, void *payload)
{
	nested *n = payload;
	(void)ncols;
	if (n->depth == 0 && cols[0].i == 1) {
		/* the same SQL again while it is running: gets its own statement */
		nested inner = { n->ms, n->txn, 1, 0, 0 };
		int rc = n->ms->exec(n->txn, nested_sql, NULL, 0, nested_cb, &inner, NULL);
		if (rc != 0 || inner.sum != 6)
			n->err++;
		/* and a different statement on the same connection */
		int64_t c = 0;
		rc = n->ms->exec(n->txn, "SELECT count(*) FROM s", NULL, 0, get_int_cb, &c, NULL);
		if (rc != 0 || c != 3)
			n->err++;
	}
	/* the outer row is intact after the nested calls */
	n->sum += cols[0].i;
	return 0;
}

static void test_storage_meta_sqlite__nested_exec(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE s(x)", NULL, 0, NULL, NULL, NULL));
	assert_ok(exec1(ms, "INSERT INTO s VALUES (1), (2), (3)", NULL, 0, NULL, NULL, NULL));
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 0));
	nested n = { ms, txn, 0, 0, 0 };
	/* warm the cache first, so the nested call meets a busy cached statement */
	assert_ok(ms->exec(txn, nested_sql, NULL, 0, NULL, NULL, NULL));
	assert_ok(ms->exec(txn, nested_sql, NULL, 0, nested_cb, &n, NULL));
	ms->rollback(txn);
	assert_int_equal(n.sum, 6);
	assert_int_equal(n.err, 0);
}

static void test_storage_meta_sqlite__statement_cache(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 0));
	/* one buffer (one pointer) holding different texts: never a stale statement */
	char buf[64];
	for (int i = 0; i < 300; i++) {
		snprintf(buf, sizeof(buf), "SELECT %d", i);
		int64_t v = -1;
		assert_ok(ms->exec(txn, buf, NULL, 0, get_int_cb, &v, NULL));
		assert_int_equal(v, i);
	}
	/* many distinct strings: more than the cache holds, evicted and re-prepared */
	char *sqls[100];
	for (int i = 0; i < 100; i++)
		assert_true(asprintf(&sqls[i], "SELECT %d + ?", i) > 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 100; i++) {
			int64_t v = -1;
			ecr_sql_value p = { ECR_SQL_INT, round, NULL, 0 };
			assert_ok(ms->exec(txn, sqls[i], &p, 1, get_int_cb, &v, NULL));
			assert_int_equal(v, i + round);
		}
	}
	for (int i = 0; i < 100; i++)
		free(sqls[i]);
	ms->rollback(txn);
}

static void test_storage_meta_sqlite__multi_statement_script(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	static const char script[] = "CREATE TABLE a(x INTEGER);\n"
				     "-- a comment\n"
				     "CREATE TABLE b(y TEXT);\n"
				     "INSERT INTO a VALUES (1);\n"
				     "INSERT INTO a VALUES (2);\n"
				     "INSERT INTO b VALUES ('z');\n";
	int64_t changes = -1;
	assert_ok(exec1(ms, script, NULL, 0, NULL, NULL, &changes));
	assert_int_equal(changes, 3);
	assert_int_equal(query_int(ms, "SELECT sum(x) FROM a"), 3);
	assert_int_equal(query_int(ms, "SELECT count(*) FROM b"), 1);

	/* a script with parameters is refused */
	ecr_sql_value v = { ECR_SQL_INT, 1, NULL, 0 };
	assert_int_equal(exec1(ms, "INSERT INTO a VALUES (?); INSERT INTO a VALUES (?)", &v, 1, NULL, NULL, NULL),
		ECR_EINVALID);
	/* a failing statement in the middle: the error comes back, rollback undoes the first part */
	assert_int_equal(exec1(ms, "INSERT INTO a VALUES (10); INSERT INTO nope VALUES (1); INSERT INTO a VALUES (20);",
				 NULL, 0, NULL, NULL, NULL),
		ECR_ERROR);
	assert_non_null(strstr(ecr_error_last()->message, "no such table: nope"));
	assert_int_equal(query_int(ms, "SELECT sum(x) FROM a"), 3);
	/* trailing semicolons and blanks are a single statement */
	assert_ok(exec1(ms, "INSERT INTO a VALUES (?);  \n", &v, 1, NULL, NULL, NULL));
	assert_int_equal(query_int(ms, "SELECT sum(x) FROM a"), 4);
}

static void test_storage_meta_sqlite__failed_commit_rolls_back(void **state)
{
	fixture *f = *state; /* :memory:, one connection: release is observable */
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms,
		"CREATE TABLE parent(id INTEGER PRIMARY KEY);"
		"CREATE TABLE kid(p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
		NULL, 0, NULL, NULL, NULL));
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 1));
	assert_ok(ms->exec(txn, "INSERT INTO kid VALUES (7)", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(ms->commit(txn), ECR_EEXISTS);
	assert_non_null(strstr(ecr_error_last()->message, "FOREIGN KEY"));
	/* released (begin would wait 10 s otherwise) and rolled back */
	assert_int_equal(query_int(ms, "SELECT count(*) FROM kid"), 0);
	assert_ok(exec1(ms, "INSERT INTO parent VALUES (7); INSERT INTO kid VALUES (7);", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(query_int(ms, "SELECT count(*) FROM kid"), 1);
}

/* --- threads --- */

typedef struct counter_arg {
	ecr_meta_store *ms;
	int iterations;
	int failures;
	char msg[256];
} counter_arg;

static void *counter_thread(void *p)
{
	counter_arg *a = p;
	for (int i = 0; i < a->iterations; i++) {
		ecr_meta_txn *txn = NULL;
		int64_t v = -1;
		int rc = a->ms->begin(&txn, a->ms, 1);
		if (rc == 0)
			rc = a->ms->exec(txn, "SELECT v FROM counter WHERE id = 1", NULL, 0, get_int_cb, &v, NULL);
		if (rc == 0) {
			ecr_sql_value nv = { ECR_SQL_INT, v + 1, NULL, 0 };
			int64_t ch = 0;
			rc = a->ms->exec(txn, "UPDATE counter SET v = ? WHERE id = 1", &nv, 1, NULL, NULL, &ch);
			if (rc == 0 && ch != 1)
				rc = -1000;
		}
		if (rc == 0) {
			rc = a->ms->commit(txn);
		} else if (txn) {
			a->ms->rollback(txn);
		}
		if (rc != 0) {
			if (!a->failures++)
				snprintf(a->msg, sizeof(a->msg), "%d: %s", rc, ecr_error_last()->message);
		}
	}
	return NULL;
}

static void run_counter(ecr_meta_store *ms, int nthreads, int iterations)
{
	assert_ok(exec1(ms, "CREATE TABLE counter(id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
			    "INSERT INTO counter VALUES (1, 0);",
		NULL, 0, NULL, NULL, NULL));
	pthread_t th[16];
	counter_arg args[16];
	for (int i = 0; i < nthreads; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].ms = ms;
		args[i].iterations = iterations;
		assert_int_equal(pthread_create(&th[i], NULL, counter_thread, &args[i]), 0);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		if (args[i].failures)
			fail_msg("thread %d: %d failures, first %s", i, args[i].failures, args[i].msg);
	}
	assert_int_equal(query_int(ms, "SELECT v FROM counter WHERE id = 1"), (int64_t)nthreads * iterations);
}

static void test_storage_meta_sqlite__threads_counter_file(void **state)
{
	fixture *f = *state;
	run_counter(f->ms, 8, 200);
}

typedef struct two_arg {
	counter_arg a;
	pthread_t th;
} two_arg;

static void test_storage_meta_sqlite__threads_counter_two_handles(void **state)
{
	/* two stores on one file (as two processes would be): only BEGIN IMMEDIATE
	 * plus the busy timeout keep the read-modify-write exact between them */
	fixture *f = *state;
	ecr_meta_store *other = NULL;
	assert_ok(exec1(f->ms, "CREATE TABLE counter(id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
			       "INSERT INTO counter VALUES (1, 0);",
		NULL, 0, NULL, NULL, NULL));
	assert_ok(ecr_meta_store_sqlite_new(&other, f->path, 0));
	two_arg args[6];
	for (int i = 0; i < 6; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].a.ms = i % 2 ? other : f->ms;
		args[i].a.iterations = 50;
		assert_int_equal(pthread_create(&args[i].th, NULL, counter_thread, &args[i].a), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(args[i].th, NULL);
		if (args[i].a.failures)
			fail_msg("thread %d: %d failures, first %s", i, args[i].a.failures, args[i].a.msg);
	}
	assert_int_equal(query_int(other, "SELECT v FROM counter WHERE id = 1"), 300);
	ecr_meta_store_free(other);
}

static void test_storage_meta_sqlite__threads_counter_memory(void **state)
{
	fixture *f = *state;
	run_counter(f->ms, 8, 200);
}

typedef struct reader_arg {
	ecr_meta_store *ms;
	pthread_barrier_t *ready;   /* after the first read */
	pthread_barrier_t *go;      /* after the writer committed */
	int64_t first, second, fresh;
	int rc;
} reader_arg;

static void *reader_thread(void *p)
{
	reader_arg *a = p;
	ecr_meta_txn *txn = NULL;
	a->rc = a->ms->begin(&txn, a->ms, 0);
	if (a->rc == 0)
		a->rc = a->ms->exec(txn, "SELECT v FROM counter WHERE id = 1", NULL, 0, get_int_cb, &a->first, NULL);
	pthread_barrier_wait(a->ready);
	pthread_barrier_wait(a->go);
	if (a->rc == 0)
		a->rc = a->ms->exec(txn, "SELECT v FROM counter WHERE id = 1", NULL, 0, get_int_cb, &a->second, NULL);
	if (txn)
		a->ms->rollback(txn);
	if (a->rc == 0) {
		a->rc = a->ms->begin(&txn, a->ms, 0);
		if (a->rc == 0) {
			a->rc = a->ms->exec(txn, "SELECT v FROM counter WHERE id = 1", NULL, 0, get_int_cb, &a->fresh, NULL);
			a->ms->rollback(txn);
		}
	}
	return NULL;
}

static void test_storage_meta_sqlite__readers_during_write(void **state)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE counter(id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
			    "INSERT INTO counter VALUES (1, 10);",
		NULL, 0, NULL, NULL, NULL));

	/* the writer holds the write lock with an uncommitted change */
	ecr_meta_txn *w = NULL;
	assert_ok(ms->begin(&w, ms, 1));
	assert_ok(ms->exec(w, "UPDATE counter SET v = 11 WHERE id = 1", NULL, 0, NULL, NULL, NULL));

	enum { NREADERS = 3 }; /* the pool has 4 connections, the writer has one */
	pthread_barrier_t ready, go;
	pthread_barrier_init(&ready, NULL, NREADERS + 1);
	pthread_barrier_init(&go, NULL, NREADERS + 1);
	pthread_t th[NREADERS];
	reader_arg args[NREADERS];
	for (int i = 0; i < NREADERS; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].ms = ms;
		args[i].ready = &ready;
		args[i].go = &go;
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &args[i]), 0);
	}
	/* every reader has read (concurrently with the open write transaction) */
	pthread_barrier_wait(&ready);
	assert_ok(ms->commit(w));
	pthread_barrier_wait(&go);
	for (int i = 0; i < NREADERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].rc, 0);
		assert_int_equal(args[i].first, 10);  /* not the uncommitted 11 */
		assert_int_equal(args[i].second, 10); /* the snapshot holds after the commit */
		assert_int_equal(args[i].fresh, 11);  /* a new transaction sees it */
	}
	pthread_barrier_destroy(&ready);
	pthread_barrier_destroy(&go);
}

static void test_storage_meta_sqlite__second_store_on_same_file(void **state)
{
	/* another handle (as another process would) waits for the write lock */
	fixture *f = *state;
	ecr_meta_store *b = NULL;
	assert_ok(exec1(f->ms, "CREATE TABLE x(v)", NULL, 0, NULL, NULL, NULL));
	assert_ok(ecr_meta_store_sqlite_new(&b, f->path, 0));
	ecr_meta_txn *t1 = NULL, *t2 = NULL;
	assert_ok(f->ms->begin(&t1, f->ms, 1));
	assert_ok(f->ms->exec(t1, "INSERT INTO x VALUES (1)", NULL, 0, NULL, NULL, NULL));
	/* b can read the committed state meanwhile */
	assert_int_equal(query_int(b, "SELECT count(*) FROM x"), 0);
	assert_ok(f->ms->commit(t1));
	assert_ok(b->begin(&t2, b, 1));
	assert_ok(b->exec(t2, "INSERT INTO x VALUES (2)", NULL, 0, NULL, NULL, NULL));
	assert_ok(b->commit(t2));
	assert_int_equal(query_int(f->ms, "SELECT count(*) FROM x"), 2);
	ecr_meta_store_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__dialect_and_init, setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__types_roundtrip, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__changes, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__constraint_is_eexists, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__bad_sql_and_params, setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__rollback_undoes, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__commit_persists_across_reopen, setup_file,
			teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__wal_file_present, setup_file, teardown),
		cmocka_unit_test(test_storage_meta_sqlite__nosync_flag),
		cmocka_unit_test(test_storage_meta_sqlite__open_errors),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__memory, setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__callback_stop_propagates, setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__nested_exec, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__statement_cache, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__multi_statement_script, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__failed_commit_rolls_back, setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__threads_counter_file, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__threads_counter_memory, setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__threads_counter_two_handles, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__readers_during_write, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_storage_meta_sqlite__second_store_on_same_file, setup_file, teardown),
	};
	return cmocka_run_group_tests_name("storage/meta_sqlite", tests, NULL, NULL);
}
