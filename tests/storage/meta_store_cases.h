/* The conformance cases of a metadata store (ecr/sys/meta_store.h), shared by
 * the tests of each driver: test_meta_sqlite.c (SQLite) and test_meta_pg.c
 * (PostgreSQL) include this file. The includer defines, before including it:
 *   MC_PREFIX     the test name prefix, e.g. test_storage_meta_sqlite__
 *   fixture       a struct whose member ms is the store under test (*state)
 *   mc_open_other(fixture *, ecr_meta_store **) a second store on the same database
 * The SQL is the common subset the engine's SQL module uses; messages are
 * checked per dialect. */
#ifndef ECR_TESTS_META_STORE_CASES_H
#define ECR_TESTS_META_STORE_CASES_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr/sys/meta_store.h"

#define MC_CAT2(a, b) a##b
#define MC_CAT(a, b) MC_CAT2(a, b)
/* The name of a shared case, for the includer's test list. */
#define MC_NAME(name) MC_CAT(MC_PREFIX, name)
#define MC_CASE(name) static void MC_NAME(name)(void **state)
#define MC_STR2(x) #x
#define MC_STR(x) MC_STR2(x)
/* A CMUnitTest entry for a shared case (cmocka_unit_test_setup_teardown would print the macro). */
#define MC_TEST(name, setup, teardown) { MC_STR(MC_NAME(name)), MC_NAME(name), setup, teardown, NULL }

static int mc_open_other(fixture *f, ecr_meta_store **out);

static int mc_pg(const ecr_meta_store *ms)
{
	return strcmp(ms->dialect, "postgres") == 0;
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

MC_CASE(types_roundtrip)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE, data BLOB, n INTEGER, z TEXT)", NULL,
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

MC_CASE(changes)
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

MC_CASE(constraint_is_eexists)
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
	assert_non_null(strstr(e->message, mc_pg(ms) ? "postgres: duplicate key value violates unique constraint"
						  : "sqlite: UNIQUE constraint failed"));
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
	assert_non_null(strstr(ecr_error_last()->message, mc_pg(ms) ? "foreign key" : "FOREIGN KEY"));
	ecr_sql_value null = { ECR_SQL_NULL, 0, NULL, 0 };
	assert_int_equal(exec1(ms, "INSERT INTO child VALUES (?)", &null, 1, NULL, NULL, NULL), ECR_EEXISTS);
}

MC_CASE(bad_sql_and_params)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 1));
	assert_int_equal(ms->exec(txn, "SELEKT 1", NULL, 0, NULL, NULL, NULL), ECR_ERROR);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_STORAGE);
	assert_non_null(strstr(ecr_error_last()->message,
		mc_pg(ms) ? "postgres: syntax error at or near \"SELEKT\"" : "sqlite: near \"SELEKT\""));
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
				 "SELECT nonexistent_column FROM no_such_table WHERE 1 = 1 AND 2 = 2 AND 3 = 3 AND 4 = 4",
				 NULL, 0, NULL, NULL, NULL),
		ECR_ERROR);
	assert_non_null(strstr(ecr_error_last()->message, "(in: SELECT nonexistent_column FROM no_such_table WHERE 1 = 1 AND)"));
	ms->rollback(txn);
}

MC_CASE(rollback_undoes)
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
	assert_ok(ms->exec(txn, "CREATE TABLE gone(x INTEGER)", NULL, 0, NULL, NULL, NULL));
	ms->rollback(txn);
	assert_int_equal(query_int(ms, mc_pg(ms) ? "SELECT count(*) FROM pg_tables WHERE tablename = 'gone'"
					  : "SELECT count(*) FROM sqlite_master WHERE name = 'gone'"),
		0);
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

MC_CASE(callback_stop_propagates)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE s(x INTEGER)", NULL, 0, NULL, NULL, NULL));
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

MC_CASE(nested_exec)
{
	fixture *f = *state;
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms, "CREATE TABLE s(x INTEGER)", NULL, 0, NULL, NULL, NULL));
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

MC_CASE(statement_cache)
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

MC_CASE(multi_statement_script)
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
	assert_non_null(strstr(ecr_error_last()->message, mc_pg(ms) ? "relation \"nope\" does not exist" : "no such table: nope"));
	assert_int_equal(query_int(ms, "SELECT sum(x) FROM a"), 3);
	/* trailing semicolons and blanks are a single statement */
	assert_ok(exec1(ms, "INSERT INTO a VALUES (?);  \n", &v, 1, NULL, NULL, NULL));
	assert_int_equal(query_int(ms, "SELECT sum(x) FROM a"), 4);
}

MC_CASE(failed_commit_rolls_back)
{
	fixture *f = *state; /* with one connection (:memory:) the release is observable */
	ecr_meta_store *ms = f->ms;
	assert_ok(exec1(ms,
		"CREATE TABLE parent(id INTEGER PRIMARY KEY);"
		"CREATE TABLE kid(p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
		NULL, 0, NULL, NULL, NULL));
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 1));
	assert_ok(ms->exec(txn, "INSERT INTO kid VALUES (7)", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(ms->commit(txn), ECR_EEXISTS);
	assert_non_null(strstr(ecr_error_last()->message, mc_pg(ms) ? "foreign key" : "FOREIGN KEY"));
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

MC_CASE(threads_counter)
{
	fixture *f = *state;
	run_counter(f->ms, 8, 200);
}

typedef struct two_arg {
	counter_arg a;
	pthread_t th;
} two_arg;

MC_CASE(threads_counter_two_handles)
{
	/* two stores on one file (as two processes would be): only BEGIN IMMEDIATE
	 * plus the busy timeout keep the read-modify-write exact between them */
	fixture *f = *state;
	ecr_meta_store *other = NULL;
	assert_ok(exec1(f->ms, "CREATE TABLE counter(id INTEGER PRIMARY KEY, v INTEGER NOT NULL);"
			       "INSERT INTO counter VALUES (1, 0);",
		NULL, 0, NULL, NULL, NULL));
	assert_ok(mc_open_other(f, &other));
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

MC_CASE(readers_during_write)
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

MC_CASE(second_store_on_same_file)
{
	/* another handle (as another process would) waits for the write lock */
	fixture *f = *state;
	ecr_meta_store *b = NULL;
	assert_ok(exec1(f->ms, "CREATE TABLE x(v INTEGER)", NULL, 0, NULL, NULL, NULL));
	assert_ok(mc_open_other(f, &b));
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

#endif
