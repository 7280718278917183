/* The PostgreSQL metadata store (libpq): a second dialect of the SQL module
 * behind the ecr_meta_store vtable (ecr/sys/meta_store.h). The engine's SQL is
 * written for SQLite; this driver translates what can be translated
 * mechanically (placeholders '?' -> '$n'; in CREATE/ALTER TABLE the types
 * INTEGER PRIMARY KEY, INTEGER and BLOB) and runs it.
 *
 * Transactions keep the SQLite store's semantics, which the engine relies on:
 * - a write transaction (SQLite's BEGIN IMMEDIATE: one writer at a time, so a
 *   read-then-write transaction cannot lose an update) takes a session
 *   advisory lock first, then begins REPEATABLE READ: the writers of every
 *   process sharing the database run one after the other, each on a snapshot
 *   taken after the previous writer committed, so among libecr writers no
 *   serialization failure (40001) can abort a read-modify-write half-way
 *   (the engine could not retry it: its logic runs between the statements).
 *   A conflicting write by an outside client is not lost either: it fails
 *   with ECR_EBUSY (40001). The lock is released at commit/rollback, and by
 *   the server when a connection dies;
 * - an atomic write transaction (write == ECR__TXN_ATOMIC: leases, job
 *   claims, renewals and outcomes; statements whose conditions are re-checked
 *   on the row they change) runs READ COMMITTED under the SHARED form of the
 *   same advisory lock, taken for the transaction only: atomic transactions
 *   run side by side on every node (job claims pick rows with FOR UPDATE SKIP
 *   LOCKED), while an ordinary writer still starts only after the atomic
 *   transactions in flight have committed, and none starts while it runs, so
 *   its REPEATABLE READ snapshot never meets a row changed after it was taken;
 * - a read transaction is REPEATABLE READ READ ONLY: one snapshot, never
 *   blocked by the writer (SQLite's WAL readers);
 * - a failed statement is undone and the transaction goes on (SQLite's
 *   statement rollback): write transactions run each statement inside a
 *   savepoint; in a read transaction a failure ends the transaction.
 *
 * Connections come from a small pool (mutex + condvar), checked out per
 * transaction. A connection found broken (the server restarted) is closed;
 * begin() retries on a fresh connection, so after a restart the first requests
 * fail with ECR_ENETWORK while the server is down and succeed once it is back. */
#include "../core/core.h"
#include "meta.h"
#include "meta_lease.h"

#include <errno.h>
#include <inttypes.h>
#include "../core/lazy_pq.h" /* libpq, loaded on first use */
#include "../core/timeutil.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PG_MAX_CONNS 8
#define PG_WAIT_MS 10000
#define PG_STACK_COLS 16
/* the advisory lock of write transactions ("ecrW" "rite") */
#define PG_WRITER_LOCK "7306365559104350565"

/* type OIDs (catalog/pg_type_d.h is a server header) */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

typedef struct pg_conn {
	PGconn *db;
	struct pg_conn *next_idle;
} pg_conn;

typedef struct pg_store {
	ecr_meta_store parent;
	char *conninfo;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pg_conn *idle;
	size_t nconns;
	size_t max_conns;
} pg_store;

struct ecr_meta_txn {
	pg_store *store;
	pg_conn *conn;
	int write;  /* statements run in savepoints */
	int locked; /* holds the session writer lock (ordinary write transactions) */
	int aborted;
};

/* --- errors --- */

static int conn_broken(PGconn *db)
{
	return !db || PQstatus(db) != CONNECTION_OK;
}

static int map_state(const char *state, PGconn *db)
{
	if (conn_broken(db))
		return ECR_ENETWORK;
	if (!state || strlen(state) != 5)
		return ECR_ERROR;
	if (strncmp(state, "23", 2) == 0) /* integrity constraint violation */
		return ECR_EEXISTS;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
		strcmp(state, "57014") == 0)
		return ECR_EBUSY; /* serialization failure, deadlock, lock timeout, statement timeout */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return ECR_ENETWORK; /* connection exception, the server shutting down */
	if (strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0 || strncmp(state, "XX", 2) == 0)
		return ECR_EIO; /* insufficient resources, system error, internal error */
	if (strcmp(state, "25006") == 0)
		return ECR_EIO; /* a write in a read-only transaction */
	return ECR_ERROR;
}

/* libpq's messages end with a newline; cut at the first one. */
static int pg_fail_msg(int code, const char *msg, const char *sql)
{
	const char *nl = msg ? strchr(msg, '\n') : NULL;
	int len = msg ? (nl ? (int)(nl - msg) : (int)strlen(msg)) : 0;
	return ecr__fail(code, ECR_ERROR_STORAGE, "postgres: %.*s (in: %.60s)", len, msg ? msg : "", sql ? sql : "");
}

static int pg_fail_res(PGconn *db, PGresult *res, const char *sql)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg || !*msg)
		msg = PQerrorMessage(db);
	if (!res && !conn_broken(db))
		return ecr__fail_oom();
	return pg_fail_msg(map_state(state, db), msg, sql);
}

/* Run a command without parameters or rows; 0 or an error. */
static int simple(PGconn *db, const char *sql)
{
	PGresult *res = PQexec(db, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int error = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		error = pg_fail_res(db, res, sql);
	PQclear(res);
	return error;
}

/* --- time --- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_until(pg_store *st, int64_t deadline)
{
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return ETIMEDOUT;
	struct timespec ts;
	ecr__time_deadline(&ts, CLOCK_MONOTONIC, left);
	return pthread_cond_timedwait(&st->cond, &st->lock, &ts);
}

/* --- connections --- */

static void quiet_notices(void *arg, const char *message)
{
	/* the library never prints: NOTICEs (CREATE TABLE IF NOT EXISTS ...) are dropped */
	(void)arg;
	(void)message;
}

static void conn_close(pg_conn *c)
{
	if (!c)
		return;
	PQfinish(c->db);
	ecr__free(c);
}

static int conn_open(pg_conn **out, pg_store *st)
{
	pg_conn *c = ecr__calloc(1, sizeof(*c));
	if (!c)
		return ECR_ENOMEM;
	int error = 0;
	/* defaults first: the caller's conninfo (expanded from dbname) overrides them */
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const values[] = { "10", "libecr", st->conninfo, NULL };
	c->db = PQconnectdbParams(keys, values, 1);
	if (!c->db) {
		error = ecr__fail_oom();
		goto done;
	}
	if (PQstatus(c->db) != CONNECTION_OK) {
		error = pg_fail_msg(ECR_ENETWORK, PQerrorMessage(c->db), "connect");
		goto done;
	}
	PQsetNoticeProcessor(c->db, quiet_notices, NULL);
	if ((error = simple(c->db, "SET lock_timeout = 10000")) < 0)
		goto done;
	*out = c;
	c = NULL;
done:
	conn_close(c);
	return error;
}

static int pool_acquire(pg_conn **out, pg_store *st)
{
	int64_t deadline = now_ms() + PG_WAIT_MS;
	int error = 0;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		if (st->idle) {
			*out = st->idle;
			st->idle = st->idle->next_idle;
			(*out)->next_idle = NULL;
			break;
		}
		if (st->nconns < st->max_conns) {
			st->nconns++;
			pthread_mutex_unlock(&st->lock);
			pg_conn *c = NULL;
			error = conn_open(&c, st);
			pthread_mutex_lock(&st->lock);
			if (error < 0) {
				st->nconns--;
				pthread_cond_broadcast(&st->cond);
				break;
			}
			*out = c;
			break;
		}
		if (wait_until(st, deadline) == ETIMEDOUT && !st->idle && st->nconns >= st->max_conns) {
			error = ecr__fail(ECR_EBUSY, ECR_ERROR_STORAGE, "postgres: timed out waiting for a free connection");
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return error;
}

/* Give a connection back; one that is broken or still in a transaction is closed. */
static void pool_release(pg_store *st, pg_conn *c)
{
	int broken = c && (conn_broken(c->db) || PQtransactionStatus(c->db) != PQTRANS_IDLE);
	pthread_mutex_lock(&st->lock);
	if (c && !broken) {
		c->next_idle = st->idle;
		st->idle = c;
	} else if (c) {
		st->nconns--;
	}
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	if (broken)
		conn_close(c);
}

/* --- the dialect --- */

static int is_word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* Skip blanks and comments. */
static const char *skip_space(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e ? e + 2 : p + strlen(p);
		} else {
			return p;
		}
	}
}

/* The word at p equals w (case-insensitively) and ends there; returns its end or NULL. */
static const char *word_is(const char *p, const char *w)
{
	size_t n = strlen(w);
	if (strncasecmp(p, w, n) != 0 || is_word_char(p[n]))
		return NULL;
	return p + n;
}

/* A statement that defines a table: its column types are translated. */
static int is_ddl(const char *p)
{
	p = skip_space(p);
	const char *q = word_is(p, "CREATE");
	if (!q)
		q = word_is(p, "ALTER");
	return q && word_is(skip_space(q), "TABLE") != NULL;
}

/*
 * SQLite's SQL to PostgreSQL's: '?' -> '$n' outside literals, identifiers and
 * comments; in CREATE/ALTER TABLE: "INTEGER PRIMARY KEY" (SQLite's rowid alias)
 * -> an identity column (BIGINT, unless the key also REFERENCES another table),
 * INTEGER -> BIGINT (SQLite's integers are 64-bit), BLOB -> BYTEA, TEXT -> TEXT COLLATE "C" (byte order, as
 * SQLite's BINARY collation, whatever the database's default collation).
 * *nph gets the number of placeholders, *script 1 when there are several statements.
 */
static int translate(const char *sql, char **out, size_t *nph, int *script)
{
	size_t len = strlen(sql), cap;
	if (ecr__mul_overflow(len, 6, &cap) || ecr__add_overflow(cap, 64, &cap))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "postgres: statement too long");
	char *o = ecr__malloc(cap), *w = o;
	if (!o)
		return ECR_ENOMEM;
	size_t n = 0;
	int ddl = is_ddl(sql);
	*script = 0;
	const char *p = sql;
	while (*p) {
		char ch = *p;
		if (ch == '\'' || ch == '"') {
			/* a literal or a quoted identifier, doubled quotes inside */
			*w++ = *p++;
			while (*p) {
				if (*p == ch && p[1] == ch) {
					*w++ = *p++;
				} else if (*p == ch) {
					break;
				}
				*w++ = *p++;
			}
			if (*p)
				*w++ = *p++;
		} else if ((ch == '-' && p[1] == '-') || (ch == '/' && p[1] == '*')) {
			const char *e = skip_space(p);
			memcpy(w, p, (size_t)(e - p));
			w += e - p;
			p = e;
		} else if (ch == '?') {
			n++;
			w += sprintf(w, "$%zu", n);
			p++;
		} else if (ch == ';') {
			*w++ = *p++;
			const char *next = skip_space(p);
			while (*next == ';')
				next = skip_space(next + 1);
			if (*next) {
				*script = 1;
				ddl = is_ddl(next);
			}
		} else if (is_word_char(ch)) {
			const char *e = p;
			while (is_word_char(*e))
				e++;
			const char *after;
			if (ddl && (after = word_is(p, "INTEGER")) != NULL) {
				const char *k = word_is(skip_space(after), "PRIMARY");
				const char *k2 = k ? word_is(skip_space(k), "KEY") : NULL;
				if (k2 && !word_is(skip_space(k2), "REFERENCES")) {
					w += sprintf(w, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
					e = k2;
				} else {
					w += sprintf(w, "BIGINT");
				}
			} else if (ddl && word_is(p, "BLOB")) {
				w += sprintf(w, "BYTEA");
			} else if (ddl && word_is(p, "TEXT")) {
				/* SQLite compares text byte by byte (BINARY); the database's default collation may
				 * not (en_US, ICU), which would change ORDER BY and the "name > ?" pagination */
				w += sprintf(w, "TEXT COLLATE \"C\"");
			} else {
				memcpy(w, p, (size_t)(e - p));
				w += e - p;
			}
			p = e;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
	*out = o;
	*nph = n;
	return 0;
}

/* --- statements --- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* bytea in text form ("\x0aff..."): decoded in place (the result is ours until PQclear). */
static int decode_bytea(char *s, size_t len, size_t *out_len)
{
	if (len < 2 || s[0] != '\\' || s[1] != 'x' || (len % 2) != 0)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "postgres: unexpected bytea text");
	size_t n = (len - 2) / 2;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "postgres: unexpected bytea text");
		s[i] = (char)(hi << 4 | lo);
	}
	s[n] = '\0';
	*out_len = n;
	return 0;
}

static int64_t changes_of(PGresult *res)
{
	const char *cmd = PQcmdStatus(res);
	if (!cmd || !(strncmp(cmd, "INSERT", 6) == 0 || strncmp(cmd, "UPDATE", 6) == 0 ||
		strncmp(cmd, "DELETE", 6) == 0 || strncmp(cmd, "MERGE", 5) == 0))
		return 0;
	const char *t = PQcmdTuples(res);
	return t && *t ? strtoll(t, NULL, 10) : 0;
}

/* Deliver the rows of res to cb. */
static int deliver_rows(PGresult *res, const char *sql, ecr_sql_row_cb cb, void *payload)
{
	int nrows = PQntuples(res), ncols = PQnfields(res);
	if (!cb || nrows == 0)
		return 0;
	ecr_sql_value stack_cols[PG_STACK_COLS];
	ecr_sql_value *cols = stack_cols;
	if (ncols > PG_STACK_COLS && !(cols = ecr__calloc((size_t)ncols, sizeof(*cols))))
		return ECR_ENOMEM;
	int error = 0;
	for (int r = 0; r < nrows && !error; r++) {
		for (int i = 0; i < ncols; i++) {
			ecr_sql_value *v = &cols[i];
			memset(v, 0, sizeof(*v));
			if (PQgetisnull(res, r, i)) {
				v->type = ECR_SQL_NULL;
				continue;
			}
			char *s = PQgetvalue(res, r, i);
			size_t len = (size_t)PQgetlength(res, r, i);
			switch (PQftype(res, i)) {
			case OID_INT2:
			case OID_INT4:
			case OID_INT8:
			case OID_NUMERIC: /* sum() of BIGINT; no REAL in the interface: truncated */
			case OID_FLOAT4:
			case OID_FLOAT8:
				v->type = ECR_SQL_INT;
				v->i = strtoll(s, NULL, 10);
				break;
			case OID_BOOL:
				v->type = ECR_SQL_INT;
				v->i = s[0] == 't';
				break;
			case OID_BYTEA:
				/* decoded in place once: a nested exec never sees this result */
				v->type = ECR_SQL_BLOB;
				if ((error = decode_bytea(s, len, &v->len)) < 0) {
					error = pg_fail_msg(ECR_EIO, "unexpected bytea text", sql);
					goto done;
				}
				v->s = s;
				break;
			default:
				v->type = ECR_SQL_TEXT;
				v->s = s;
				v->len = len;
				break;
			}
		}
		error = cb(cols, (size_t)ncols, payload);
	}
done:
	if (cols != stack_cols)
		ecr__free(cols);
	return error;
}

/* Several statements without parameters (migrations); their results in turn. */
static int run_script(PGconn *db, const char *sql, const char *orig, ecr_sql_row_cb cb, void *payload,
	int64_t *changes)
{
	if (!PQsendQuery(db, sql))
		return pg_fail_msg(conn_broken(db) ? ECR_ENETWORK : ECR_EIO, PQerrorMessage(db), orig);
	int error = 0;
	PGresult *res;
	while ((res = PQgetResult(db)) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		if (!error) {
			if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
				*changes += changes_of(res);
				error = deliver_rows(res, orig, cb, payload);
			} else {
				error = pg_fail_res(db, res, orig);
			}
		}
		PQclear(res);
	}
	return error;
}

static int run_one(PGconn *db, const char *sql, const char *orig, const ecr_sql_value *params, size_t nparams,
	PGresult **out)
{
	Oid stack_types[PG_STACK_COLS];
	const char *stack_vals[PG_STACK_COLS];
	int stack_lens[PG_STACK_COLS], stack_fmts[PG_STACK_COLS];
	uint64_t stack_ints[PG_STACK_COLS];
	Oid *types = stack_types;
	const char **vals = stack_vals;
	int *lens = stack_lens, *fmts = stack_fmts;
	uint64_t *ints = stack_ints;
	int error = 0;
	*out = NULL;
	if (nparams > 65535)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "postgres: too many parameters (in: %.60s)", orig);
	if (nparams > PG_STACK_COLS) {
		types = ecr__calloc(nparams, sizeof(*types));
		vals = ecr__calloc(nparams, sizeof(*vals));
		lens = ecr__calloc(nparams, sizeof(*lens));
		fmts = ecr__calloc(nparams, sizeof(*fmts));
		ints = ecr__calloc(nparams, sizeof(*ints));
		if (!types || !vals || !lens || !fmts || !ints) {
			error = ECR_ENOMEM;
			goto done;
		}
	}
	for (size_t i = 0; i < nparams; i++) {
		const ecr_sql_value *p = &params[i];
		fmts[i] = 1; /* binary: text and bytea as their bytes, int8 big-endian */
		switch (p->type) {
		case ECR_SQL_NULL:
			types[i] = 0; /* the server infers it */
			vals[i] = NULL;
			lens[i] = 0;
			break;
		case ECR_SQL_INT: {
			uint64_t u = (uint64_t)p->i;
			unsigned char *b = (unsigned char *)&ints[i];
			for (int k = 0; k < 8; k++)
				b[k] = (unsigned char)(u >> (56 - 8 * k));
			types[i] = OID_INT8;
			vals[i] = (const char *)b;
			lens[i] = 8;
			break;
		}
		case ECR_SQL_TEXT:
		case ECR_SQL_BLOB:
			if ((!p->s && p->len) || p->len > INT32_MAX)
				goto bad;
			types[i] = p->type == ECR_SQL_TEXT ? OID_TEXT : OID_BYTEA;
			vals[i] = p->s ? p->s : "";
			lens[i] = (int)p->len;
			break;
		default:
			goto bad;
		}
		continue;
bad:
		error = ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "postgres: invalid parameter %zu (in: %.60s)", i + 1, orig);
		goto done;
	}
	PGresult *res = PQexecParams(db, sql, (int)nparams, types, vals, lens, fmts, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		error = pg_fail_res(db, res, orig);
		PQclear(res);
		goto done;
	}
	*out = res;
done:
	if (types != stack_types) {
		ecr__free(types);
		ecr__free(vals);
		ecr__free(lens);
		ecr__free(fmts);
		ecr__free(ints);
	}
	return error;
}

static int pg_exec(ecr_meta_txn *txn, const char *sql, const ecr_sql_value *params, size_t nparams, ecr_sql_row_cb cb,
	void *payload, int64_t *changes_out)
{
	if (!txn || !sql || (nparams && !params))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "postgres: invalid arguments to exec");
	if (txn->aborted)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE,
			"postgres: the transaction was rolled back after an error (in: %.60s)", sql);
	PGconn *db = txn->conn->db;
	char *text = NULL;
	size_t nph = 0;
	int script = 0, error = 0, in_savepoint = 0;
	int64_t changes = 0;
	PGresult *res = NULL;

	if ((error = translate(sql, &text, &nph, &script)) < 0)
		return error;
	if (script && nparams) {
		error = ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE,
			"postgres: parameters given to several statements (in: %.60s)", sql);
		goto done;
	}
	if (!script && nph != nparams) {
		error = ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "postgres: %zu parameters given, %zu expected (in: %.60s)",
			nparams, nph, sql);
		goto done;
	}
	if (!*skip_space(text))
		goto done;
	if (txn->write) {
		if ((error = simple(db, "SAVEPOINT ecr_stmt")) < 0)
			goto done;
		in_savepoint = 1;
	}
	if (script) {
		error = run_script(db, text, sql, cb, payload, &changes);
	} else if ((error = run_one(db, text, sql, params, nparams, &res)) == 0) {
		changes = changes_of(res);
	}
	if (in_savepoint) {
		/* a failed statement is undone, the transaction goes on (rows are delivered after this:
		 * a row callback may run statements of its own) */
		int rc = simple(db, error < 0 ? "ROLLBACK TO SAVEPOINT ecr_stmt; RELEASE SAVEPOINT ecr_stmt"
					      : "RELEASE SAVEPOINT ecr_stmt");
		if (rc < 0) {
			if (error == 0)
				error = rc;
			txn->aborted = 1;
			goto done;
		}
	}
	if (error == 0 && res)
		error = deliver_rows(res, sql, cb, payload);
done:
	PQclear(res);
	ecr__free(text);
	if (error < 0 && (conn_broken(db) || PQtransactionStatus(db) != PQTRANS_INTRANS))
		txn->aborted = 1; /* PostgreSQL has ended the transaction */
	else if (error == 0 && changes_out)
		*changes_out = changes;
	return error;
}

/* --- transactions --- */

/* Drop the writer lock of a connection; a connection that cannot is closed (which drops it). */
static void unlock_writer(pg_conn *c)
{
	if (conn_broken(c->db))
		return;
	PGresult *res = PQexec(c->db, "SELECT pg_advisory_unlock(" PG_WRITER_LOCK ")");
	int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	if (!ok) {
		PQfinish(c->db);
		c->db = NULL;
	}
}

static void txn_end(ecr_meta_txn *txn)
{
	if (txn->locked)
		unlock_writer(txn->conn);
	pool_release(txn->store, txn->conn);
	ecr__free(txn);
}

static int pg_begin(ecr_meta_txn **out, ecr_meta_store *self, int write)
{
	if (!out || !self)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "postgres: invalid arguments to begin");
	pg_store *st = (pg_store *)self;
	int atomic = write == ECR__TXN_ATOMIC;
	const char *begin = atomic ? "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock_shared(" PG_WRITER_LOCK ")"
			    : write ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
				    : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	int locked = write && !atomic;
	int error = 0;
	/* idle connections may all be dead after a server restart: try fresh ones */
	for (size_t attempt = 0; attempt <= st->max_conns; attempt++) {
		pg_conn *c = NULL;
		if ((error = pool_acquire(&c, st)) < 0)
			return error;
		/* the writer lock before BEGIN: the snapshot is taken after the previous writer committed */
		error = locked ? simple(c->db, "SELECT pg_advisory_lock(" PG_WRITER_LOCK ")") : 0;
		if (error == 0)
			error = simple(c->db, begin);
		if (error == 0) {
			ecr_meta_txn *txn = ecr__calloc(1, sizeof(*txn));
			if (!txn) {
				simple(c->db, "ROLLBACK");
				if (locked)
					unlock_writer(c);
				pool_release(st, c);
				return ECR_ENOMEM;
			}
			txn->store = st;
			txn->conn = c;
			txn->write = write ? 1 : 0;
			txn->locked = locked;
			*out = txn;
			return 0;
		}
		int broken = conn_broken(c->db);
		if (!broken && PQtransactionStatus(c->db) != PQTRANS_IDLE)
			simple(c->db, "ROLLBACK");
		if (locked)
			unlock_writer(c);
		pool_release(st, c);
		if (!broken)
			break;
	}
	return error;
}

static int pg_commit(ecr_meta_txn *txn)
{
	if (!txn)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "postgres: commit without a transaction");
	int error = 0;
	PGconn *db = txn->conn->db;
	if (txn->aborted) {
		error = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "postgres: the transaction was rolled back after an error");
		if (!conn_broken(db))
			simple(db, "ROLLBACK");
	} else {
		PGresult *res = PQexec(db, "COMMIT");
		ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (s != PGRES_COMMAND_OK) {
			error = pg_fail_res(db, res, "COMMIT");
		} else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
			/* COMMIT of a failed transaction answers ROLLBACK */
			error = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "postgres: the transaction was rolled back after an error");
		}
		PQclear(res);
		if (error < 0 && !conn_broken(db) && PQtransactionStatus(db) != PQTRANS_IDLE)
			simple(db, "ROLLBACK");
	}
	txn_end(txn);
	return error;
}

static void pg_rollback(ecr_meta_txn *txn)
{
	if (!txn)
		return;
	PGconn *db = txn->conn->db;
	if (!conn_broken(db) && PQtransactionStatus(db) != PQTRANS_IDLE) {
		PGresult *res = PQexec(db, "ROLLBACK");
		PQclear(res);
	}
	txn_end(txn);
}

/* --- the store --- */

static void pg_free(ecr_meta_store *self)
{
	pg_store *st = (pg_store *)self;
	if (!st)
		return;
	while (st->idle) {
		pg_conn *c = st->idle;
		st->idle = c->next_idle;
		conn_close(c);
	}
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	ecr__free(st->conninfo);
	ecr__free(st);
}

int ecr_meta_store_postgres_new(ecr_meta_store **out, const char *conninfo, uint32_t flags)
{
	if (!out || !conninfo || !*conninfo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "postgres: invalid arguments");
	*out = NULL;
	if (flags & ~ECR_STORAGE_NOSYNC)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "postgres: unknown flags 0x%x", (unsigned)flags);
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	if (!opts) {
		int rc = perr ? pg_fail_msg(ECR_EINVALID, perr, "conninfo") : ecr__fail_oom();
		PQfreemem(perr);
		return rc;
	}
	PQconninfoFree(opts);
	if (!PQisthreadsafe())
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "postgres: libpq was built without thread support");

	int error = 0;
	pg_conn *first = NULL;
	pg_store *st = ecr__calloc(1, sizeof(*st));
	if (!st)
		return ECR_ENOMEM;
	st->max_conns = PG_MAX_CONNS;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int cond_ok = pthread_cond_init(&st->cond, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (!cond_ok) {
		ecr__free(st);
		return ecr__fail(ECR_ERROR, ECR_ERROR_OS, "postgres: pthread_cond_init failed");
	}
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		pthread_cond_destroy(&st->cond);
		ecr__free(st);
		return ecr__fail(ECR_ERROR, ECR_ERROR_OS, "postgres: pthread_mutex_init failed");
	}
	if (!(st->conninfo = ecr__strdup(conninfo))) {
		error = ECR_ENOMEM;
		goto done;
	}
	if ((error = ecr_meta_store_init(&st->parent, ECR_META_STORE_VERSION)) < 0)
		goto done;
	st->parent.dialect = "postgres";
	st->parent.begin = pg_begin;
	st->parent.exec = pg_exec;
	st->parent.commit = pg_commit;
	st->parent.rollback = pg_rollback;
	st->parent.free = pg_free;

	/* connect now (errors show at open) and migrate: the writer lock of
	 * write transactions serialises the migrations of several nodes */
	if ((error = conn_open(&first, st)) < 0)
		goto done;
	st->idle = first;
	st->nconns = 1;
	if ((error = ecr__meta_migrate(&st->parent)) < 0)
		goto done;
	*out = &st->parent;
	st = NULL;
done:
	pg_free(st ? &st->parent : NULL);
	return error;
}
