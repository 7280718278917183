/* The SQLite metadata store: a generic SQL executor behind the ecr_meta_store
 * vtable (ecr/sys/meta_store.h). The schema and the queries live in the
 * engine's SQL module; this file only runs them, fast and correctly.
 *
 * File databases run in WAL mode with a small pool of connections, created
 * lazily, so that readers run at the same time as the one writer. Writers of
 * this process are serialised by a token taken before BEGIN IMMEDIATE (a fair,
 * fast hand-off instead of SQLite's sleeping busy handler); BEGIN IMMEDIATE
 * plus busy_timeout still guards against other processes.
 * ":memory:" is a single private connection, handed out from begin() to
 * commit()/rollback().
 *
 * Group commit (durable file databases): connections run with synchronous=NORMAL,
 * so COMMIT appends the transaction to the WAL without syncing it; commit() then
 * releases the write token and waits until the WAL is synced up to its
 * transaction. One committer at a time syncs the WAL (fdatasync of our own
 * descriptor on the -wal file) for every transaction committed before it
 * started, so concurrent writers share one fsync while the next writers are
 * already appending. commit() returns 0 only once its transaction is on stable
 * storage (SQLite replays synced WAL frames after a crash or power loss; a
 * checkpoint syncs the WAL before copying it into the database).
 *
 * Connections are opened with SQLITE_OPEN_NOMUTEX: each one is used by one
 * transaction, so by one thread, at a time. Each has a cache of prepared
 * statements keyed by the SQL text's pointer (verified against the text). */
#include "../core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/timeutil.h"
#include "meta_sqlite.h"

#define SQ_MAX_CONNS 4
#define SQ_CACHE_SIZE 64
#define SQ_BUSY_TIMEOUT_MS 10000
#define SQ_STACK_COLS 16
/*
 * Checkpoints (durable file databases): when a commit leaves the WAL this many pages long (32 MiB of 4 KiB
 * pages), the store's checkpoint thread copies it into the database, mostly beside the writers; a writer
 * checkpoints itself, holding the write token, only when the WAL reaches the hard limit (the thread did not
 * keep up). SQLite's default, 1000 pages checkpointed by the committing thread, spent 15-20% of the manifest
 * PUTs' time there: a small database's pages are written again and again, and each checkpoint copies each of
 * them once (docs/performance.md).
 */
#define SQ_CHECKPOINT_PAGES 8000
#define SQ_CHECKPOINT_HARD_PAGES 32000
/*
 * And once no commit came for SQ_CHECKPOINT_IDLE_MS, the thread checkpoints a WAL of SQ_CHECKPOINT_IDLE_PAGES or
 * more, so that the next writer starts it over: a WAL that only grows needs new blocks for every commit, and on a
 * full disk every metadata write would fail where rewriting the WAL's own blocks succeeds.
 */
#define SQ_CHECKPOINT_IDLE_PAGES 1000
#define SQ_CHECKPOINT_IDLE_MS 100

typedef struct sq_cached {
	const char *key; /* the caller's pointer */
	char *sql;       /* our copy of the text, to detect a reused pointer */
	sqlite3_stmt *stmt;
	uint64_t used;   /* LRU clock */
} sq_cached;

typedef struct sq_store sq_store;

typedef struct sq_conn {
	sq_store *st;
	sqlite3 *db;
	sqlite3_stmt *begin_read, *begin_write, *commit, *rollback;
	sq_cached cache[SQ_CACHE_SIZE];
	size_t ncached;
	uint64_t clock;
	int wal_written; /* the last COMMIT appended to the WAL (set by wal_hook) */
	struct sq_conn *next_idle;
} sq_conn;

struct sq_store {
	ecr_meta_store parent;
	char *path;
	uint32_t flags;
	int memory;
	size_t max_conns;
	/* the pool and the write token, under lock; each wait has its own condition, signalled for one waiter
	 * (a broadcast woke every thread waiting for either, to find one of them could go on) */
	pthread_mutex_t lock;
	pthread_cond_t conn_cond;  /* a connection came back, or a slot to open one */
	pthread_cond_t token_cond; /* the write token came back */
	sq_conn *idle;    /* idle connections (a stack) */
	size_t nconns;    /* open connections plus those being opened */
	int writer_busy;  /* the process-wide write token is taken */
	/* group commit (when group is set), under sync_lock: its waiters do not contend with the pool's */
	int group;
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cond;
	uint64_t committed;  /* write transactions committed to the WAL, in order */
	uint64_t synced;     /* ... of which the WAL holds the first this many durably */
	int syncing;         /* a committer is syncing the WAL */
	int wal_fd;          /* our descriptor on the -wal file, -1 until needed */
	/* the checkpoint thread, started on first need; under lock */
	pthread_t ckpt_thread;
	pthread_cond_t ckpt_cond;
	int ckpt_started, ckpt_want, ckpt_stop;
	int ckpt_armed;                      /* the thread waits for the WAL to be idle */
	int ckpt_idle, ckpt_soft, ckpt_hard; /* SQ_CHECKPOINT_IDLE_PAGES, SQ_CHECKPOINT_PAGES, ..._HARD_PAGES */
	uint64_t ckpt_runs;                  /* checkpoints the thread ran */
	/* set by every commit that wrote (atomics): the WAL's length after it, in pages, and when (monotonic ms) */
	int wal_pages;
	int64_t last_commit_ms;
};

struct ecr_meta_txn {
	sq_store *store;
	sq_conn *conn;
	int write;
	int aborted; /* SQLite rolled the transaction back by itself */
};

/* --- errors --- */

static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		return ECR_EEXISTS;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_CORRUPT:
	case SQLITE_CANTOPEN:
	case SQLITE_NOTADB:
	case SQLITE_READONLY:
		return ECR_EIO;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ECR_EBUSY;
	case SQLITE_NOMEM:
		return ECR_ENOMEM;
	default:
		return ECR_ERROR;
	}
}

/* Set the error from a failed call on db; msg overrides sqlite3_errmsg when not NULL. */
static int sq_fail(sqlite3 *db, int rc, const char *sql, const char *msg)
{
	if (!msg)
		msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	return ecr__fail(map_rc(rc), ECR_ERROR_STORAGE, "sqlite: %s (in: %.60s)", msg, sql ? sql : "");
}

/* --- time --- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Step a statement that yields no rows (BEGIN, COMMIT, ROLLBACK, PRAGMA ...),
 * retrying SQLITE_BUSY until the busy timeout has passed. Returns the SQLite code. */
static int step_retry(sqlite3_stmt *stmt)
{
	int64_t deadline = now_ms() + SQ_BUSY_TIMEOUT_MS;
	int delay = 1;
	for (;;) {
		int rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc == SQLITE_ROW)
			rc = SQLITE_DONE;
		if ((rc & 0xff) != SQLITE_BUSY || now_ms() >= deadline)
			return rc;
		sleep_ms(delay);
		if (delay < 20)
			delay *= 2;
	}
}

/* --- connections --- */

static void conn_close(sq_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ncached; i++) {
		sqlite3_finalize(c->cache[i].stmt);
		ecr__free(c->cache[i].sql);
	}
	sqlite3_finalize(c->begin_read);
	sqlite3_finalize(c->begin_write);
	sqlite3_finalize(c->commit);
	sqlite3_finalize(c->rollback);
	sqlite3_close(c->db);
	ecr__free(c);
}

/* Run a PRAGMA or other row-less setup statement; the first column of the
 * first row (if any) is copied to out. */
static int conn_setup(sq_conn *c, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(c->db, rc, sql, NULL);
	int64_t deadline = now_ms() + SQ_BUSY_TIMEOUT_MS;
	for (;;) {
		rc = sqlite3_step(stmt);
		if ((rc & 0xff) != SQLITE_BUSY || now_ms() >= deadline)
			break;
		sqlite3_reset(stmt);
		sleep_ms(5);
	}
	if (rc == SQLITE_ROW && out && outlen) {
		const unsigned char *t = sqlite3_column_text(stmt, 0);
		snprintf(out, outlen, "%s", t ? (const char *)t : "");
	}
	int error = 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		error = sq_fail(c->db, rc, sql, NULL);
	sqlite3_finalize(stmt);
	return error;
}

static int conn_prepare(sq_conn *c, const char *sql, sqlite3_stmt **out)
{
	int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(c->db, rc, sql, NULL);
	return 0;
}

static int pool_acquire(sq_conn **out, sq_store *st, int write);
static void pool_release(sq_store *st, sq_conn *c, int write);

/* Whether the checkpoint thread should checkpoint now (under lock); else *wait_ms is how long it may sleep (-1:
 * until signalled). */
static int ckpt_due(sq_store *st, int64_t *wait_ms)
{
	*wait_ms = -1;
	if (st->ckpt_want) {
		st->ckpt_want = 0;
		return 1;
	}
	if (__atomic_load_n(&st->wal_pages, __ATOMIC_RELAXED) < st->ckpt_idle) {
		__atomic_store_n(&st->ckpt_armed, 0, __ATOMIC_RELAXED); /* the next commit past the idle limit signals */
		return 0;
	}
	int64_t left = __atomic_load_n(&st->last_commit_ms, __ATOMIC_RELAXED) + SQ_CHECKPOINT_IDLE_MS - now_ms();
	if (left > 0) {
		*wait_ms = left;
		return 0;
	}
	__atomic_store_n(&st->wal_pages, 0, __ATOMIC_RELAXED); /* checkpointed: nothing to wait for until a commit */
	return 1;
}

/* The checkpoint thread: a PASSIVE checkpoint on a connection of the pool each time one is wanted, or the WAL is
 * idle (ckpt_due). */
static void *ckpt_main(void *payload)
{
	sq_store *st = payload;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		int64_t wait_ms;
		if (st->ckpt_stop)
			break;
		if (!ckpt_due(st, &wait_ms)) {
			if (wait_ms < 0) {
				pthread_cond_wait(&st->ckpt_cond, &st->lock);
			} else {
				struct timespec ts;
				ecr__time_deadline(&ts, CLOCK_MONOTONIC, wait_ms);
				pthread_cond_timedwait(&st->ckpt_cond, &st->lock, &ts);
			}
			continue;
		}
		pthread_mutex_unlock(&st->lock);
		/*
		 * First beside the writers: most of the WAL. Then holding the write token, briefly: what they
		 * appended meanwhile, so that the WAL is all in the database and the next writer starts it over
		 * (SQLite restarts a WAL only when nothing in it is left to copy).
		 */
		for (int write = 0; write <= 1; write++) {
			sq_conn *c = NULL;
			if (pool_acquire(&c, st, write) != 0)
				break; /* no connection this time: the next commit asks again */
			(void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
			pool_release(st, c, write);
		}
		ecr_error_clear();
		__atomic_add_fetch(&st->ckpt_runs, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* Ask the checkpoint thread for a checkpoint now (want) or once the WAL is idle (starting the thread the first
 * time); 0, or -1 when it cannot start. */
static int ckpt_request(sq_store *st, int want)
{
	int rc = 0;
	pthread_mutex_lock(&st->lock);
	if (!st->ckpt_started) {
		if (pthread_create(&st->ckpt_thread, NULL, ckpt_main, st) == 0)
			st->ckpt_started = 1;
		else
			rc = -1;
	}
	if (rc == 0 && ((want && !st->ckpt_want) || !__atomic_load_n(&st->ckpt_armed, __ATOMIC_RELAXED))) {
		st->ckpt_want |= want;
		__atomic_store_n(&st->ckpt_armed, 1, __ATOMIC_RELAXED);
		pthread_cond_signal(&st->ckpt_cond);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

/* Called by SQLite after a commit that appended frames to the WAL: note it (a commit that wrote nothing needs no
 * sync), and have the WAL checkpointed (this hook replaces SQLite's auto-checkpoint; SQ_CHECKPOINT_PAGES). */
static int wal_hook(void *payload, sqlite3 *db, const char *name, int pages)
{
	sq_conn *c = payload;
	sq_store *st = c->st;
	c->wal_written = 1;
	__atomic_store_n(&st->wal_pages, pages, __ATOMIC_RELAXED);
	__atomic_store_n(&st->last_commit_ms, now_ms(), __ATOMIC_RELAXED);
	int rc = 0;
	if (pages >= st->ckpt_soft && pages < st->ckpt_hard)
		rc = ckpt_request(st, 1);
	else if (pages >= st->ckpt_idle && pages < st->ckpt_hard && !__atomic_load_n(&st->ckpt_armed, __ATOMIC_RELAXED))
		rc = ckpt_request(st, 0);
	if (pages >= st->ckpt_hard || rc != 0)
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

static int conn_open(sq_conn **out, sq_store *st, int first)
{
	sq_conn *c = ecr__calloc(1, sizeof(*c));
	if (!c)
		return ECR_ENOMEM;
	c->st = st;
	int error = 0;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE |
		SQLITE_OPEN_EXRESCODE;
	int rc = sqlite3_open_v2(st->path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		if (!c->db) {
			error = ecr__fail_oom();
			goto done;
		}
		error = sq_fail(c->db, rc, st->path, NULL);
		goto done;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, SQ_BUSY_TIMEOUT_MS);

	if (!st->memory) {
		if (first) {
			char mode[16];
			if ((error = conn_setup(c, "PRAGMA journal_mode=WAL", mode, sizeof(mode))) < 0)
				goto done;
			if (strcmp(mode, "wal") != 0) {
				error = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "sqlite: cannot use WAL mode on '%s' (got '%s')",
					st->path, mode);
				goto done;
			}
			/*
			 * The database holds secrets (access key secrets, upstream credentials): owner-only. SQLite gives
			 * its -wal and -shm files the database's mode. Best effort: a file of another owner stays as is.
			 */
			(void)chmod(st->path, 0600);
		}
		/* durable: NORMAL, and commit() syncs the WAL (group commit) */
		const char *sync = (st->flags & ECR_STORAGE_NOSYNC) ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=NORMAL";
		if ((error = conn_setup(c, sync, NULL, 0)) < 0)
			goto done;
		if (st->group)
			sqlite3_wal_hook(c->db, wal_hook, c);
	}
	if ((error = conn_setup(c, "PRAGMA foreign_keys=ON", NULL, 0)) < 0)
		goto done;
	if ((error = conn_prepare(c, "BEGIN", &c->begin_read)) < 0 ||
		(error = conn_prepare(c, "BEGIN IMMEDIATE", &c->begin_write)) < 0 ||
		(error = conn_prepare(c, "COMMIT", &c->commit)) < 0 ||
		(error = conn_prepare(c, "ROLLBACK", &c->rollback)) < 0)
		goto done;
	*out = c;
	c = NULL;
done:
	conn_close(c);
	return error;
}

/* --- the pool --- */

static int wait_until(sq_store *st, pthread_cond_t *cond, int64_t deadline)
{
	int64_t left = deadline - now_ms();
	if (left <= 0)
		return ETIMEDOUT;
	struct timespec ts;
	ecr__time_deadline(&ts, CLOCK_MONOTONIC, left);
	return pthread_cond_timedwait(cond, &st->lock, &ts);
}

/* Take the write token (write != 0) and a connection. */
static int pool_acquire(sq_conn **out, sq_store *st, int write)
{
	int64_t deadline = now_ms() + SQ_BUSY_TIMEOUT_MS;
	int error = 0, have_token = 0;
	pthread_mutex_lock(&st->lock);
	if (write) {
		while (st->writer_busy) {
			if (wait_until(st, &st->token_cond, deadline) == ETIMEDOUT && st->writer_busy) {
				error = ecr__fail(ECR_EBUSY, ECR_ERROR_STORAGE,
					"sqlite: timed out waiting for the write transaction of another thread");
				goto done;
			}
		}
		st->writer_busy = 1;
		have_token = 1;
	}
	for (;;) {
		if (st->idle) {
			*out = st->idle;
			st->idle = st->idle->next_idle;
			(*out)->next_idle = NULL;
			goto done;
		}
		if (st->nconns < st->max_conns) {
			st->nconns++;
			pthread_mutex_unlock(&st->lock);
			sq_conn *c = NULL;
			error = conn_open(&c, st, 0);
			pthread_mutex_lock(&st->lock);
			if (error < 0) {
				st->nconns--;
				pthread_cond_signal(&st->conn_cond); /* another may open it */
				goto done;
			}
			*out = c;
			goto done;
		}
		if (wait_until(st, &st->conn_cond, deadline) == ETIMEDOUT && !st->idle && st->nconns >= st->max_conns) {
			error = ecr__fail(ECR_EBUSY, ECR_ERROR_STORAGE, "sqlite: timed out waiting for a free connection");
			goto done;
		}
	}
done:
	if (error < 0 && have_token) {
		st->writer_busy = 0;
		pthread_cond_signal(&st->token_cond);
	}
	pthread_mutex_unlock(&st->lock);
	return error;
}

/* Give a connection back (or close it when it is unusable) and drop the write token. */
static void pool_release(sq_store *st, sq_conn *c, int write)
{
	int broken = c && !sqlite3_get_autocommit(c->db);
	pthread_mutex_lock(&st->lock);
	if (c && !broken) {
		c->next_idle = st->idle;
		st->idle = c;
	} else if (c) {
		st->nconns--;
	}
	if (c)
		pthread_cond_signal(&st->conn_cond);
	if (write) {
		st->writer_busy = 0;
		pthread_cond_signal(&st->token_cond);
	}
	pthread_mutex_unlock(&st->lock);
	if (broken)
		conn_close(c);
}

/* --- statements --- */

static int only_space(const char *s)
{
	for (; *s; s++) {
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ';')
			return 0;
	}
	return 1;
}

/* A cached statement for sql, or NULL. */
static sq_cached *cache_find(sq_conn *c, const char *sql)
{
	for (size_t i = 0; i < c->ncached; i++) {
		sq_cached *e = &c->cache[i];
		if (e->key == sql && strcmp(e->sql, sql) == 0)
			return e;
	}
	return NULL;
}

/* Put stmt into the cache; returns 1 when it was cached (the cache owns it). */
static int cache_put(sq_conn *c, const char *sql, sqlite3_stmt *stmt)
{
	sq_cached *slot = NULL;
	if (c->ncached < SQ_CACHE_SIZE) {
		slot = &c->cache[c->ncached];
	} else {
		/* evict the least recently used statement that is not running (a
		 * row callback may be running exec() on the same connection) */
		for (size_t i = 0; i < c->ncached; i++) {
			sq_cached *e = &c->cache[i];
			if (!sqlite3_stmt_busy(e->stmt) && (!slot || e->used < slot->used))
				slot = e;
		}
		if (!slot)
			return 0;
	}
	char *copy = ecr__strdup(sql);
	if (!copy) {
		ecr__error_clear(); /* not caching is not an error */
		return 0;
	}
	if (slot == &c->cache[c->ncached]) {
		c->ncached++;
	} else {
		sqlite3_finalize(slot->stmt);
		ecr__free(slot->sql);
	}
	slot->key = sql;
	slot->sql = copy;
	slot->stmt = stmt;
	slot->used = ++c->clock;
	return 1;
}

static int bind_params(sqlite3 *db, sqlite3_stmt *stmt, const char *sql, const ecr_sql_value *params, size_t nparams)
{
	int want = sqlite3_bind_parameter_count(stmt);
	if ((size_t)want != nparams)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "sqlite: %zu parameters given, %d expected (in: %.60s)",
			nparams, want, sql);
	for (size_t i = 0; i < nparams; i++) {
		const ecr_sql_value *p = &params[i];
		int idx = (int)i + 1, rc;
		switch (p->type) {
		case ECR_SQL_NULL:
			rc = sqlite3_bind_null(stmt, idx);
			break;
		case ECR_SQL_INT:
			rc = sqlite3_bind_int64(stmt, idx, p->i);
			break;
		case ECR_SQL_TEXT:
			if (!p->s && p->len)
				goto bad;
			rc = sqlite3_bind_text64(stmt, idx, p->s ? p->s : "", p->len, SQLITE_STATIC, SQLITE_UTF8);
			break;
		case ECR_SQL_BLOB:
			if (!p->s && p->len)
				goto bad;
			rc = sqlite3_bind_blob64(stmt, idx, p->s ? p->s : "", p->len, SQLITE_STATIC);
			break;
		default:
			goto bad;
		}
		if (rc != SQLITE_OK)
			return sq_fail(db, rc, sql, NULL);
		continue;
bad:
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "sqlite: invalid parameter %zu (in: %.60s)", i + 1, sql);
	}
	return 0;
}

/* Step stmt to the end, calling cb per row. *changes gets the rows it changed. */
static int run_stmt(ecr_meta_txn *txn, sqlite3_stmt *stmt, const char *sql, ecr_sql_row_cb cb, void *payload,
	int64_t *changes)
{
	sqlite3 *db = txn->conn->db;
	ecr_sql_value stack_cols[SQ_STACK_COLS];
	ecr_sql_value *cols = stack_cols;
	int error = 0;
	int ncols = sqlite3_column_count(stmt);
	if (ncols > SQ_STACK_COLS && !(cols = ecr__calloc((size_t)ncols, sizeof(*cols))))
		return ECR_ENOMEM;
	sqlite3_int64 total_before = sqlite3_total_changes64(db);

	for (;;) {
		int rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			error = sq_fail(db, rc, sql, NULL);
			break;
		}
		if (!cb)
			continue;
		for (int i = 0; i < ncols; i++) {
			ecr_sql_value *v = &cols[i];
			memset(v, 0, sizeof(*v));
			switch (sqlite3_column_type(stmt, i)) {
			case SQLITE_INTEGER:
			case SQLITE_FLOAT: /* no REAL in the interface: truncated */
				v->type = ECR_SQL_INT;
				v->i = sqlite3_column_int64(stmt, i);
				break;
			case SQLITE_TEXT:
				v->type = ECR_SQL_TEXT;
				v->s = (const char *)sqlite3_column_text(stmt, i);
				if (!v->s) {
					error = ecr__fail_oom();
					goto done;
				}
				v->len = (size_t)sqlite3_column_bytes(stmt, i);
				break;
			case SQLITE_BLOB:
				v->type = ECR_SQL_BLOB;
				v->s = sqlite3_column_blob(stmt, i);
				v->len = (size_t)sqlite3_column_bytes(stmt, i);
				if (!v->s) {
					if (v->len || sqlite3_errcode(db) == SQLITE_NOMEM) {
						error = ecr__fail_oom();
						goto done;
					}
					v->s = "";
				}
				break;
			default:
				v->type = ECR_SQL_NULL;
				break;
			}
		}
		if ((error = cb(cols, (size_t)ncols, payload)) != 0)
			goto done;
	}
	if (error == 0 && changes) {
		/* sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE:
		 * report it only when this statement changed something */
		*changes += sqlite3_total_changes64(db) != total_before ? sqlite3_changes64(db) : 0;
	}
done:
	sqlite3_reset(stmt);
	if (cols != stack_cols)
		ecr__free(cols);
	return error;
}

static void note_abort(ecr_meta_txn *txn, int error)
{
	/* Some errors (I/O, disk full, out of memory, busy) make SQLite roll the
	 * whole transaction back; refuse to run anything after that, which would
	 * otherwise run in autocommit mode. */
	if (error < 0 && sqlite3_get_autocommit(txn->conn->db))
		txn->aborted = 1;
}

static int sq_exec(ecr_meta_txn *txn, const char *sql, const ecr_sql_value *params, size_t nparams, ecr_sql_row_cb cb,
	void *payload, int64_t *changes_out)
{
	if (!txn || !sql || (nparams && !params))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "sqlite: invalid arguments to exec");
	if (txn->aborted)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "sqlite: the transaction was rolled back after an error (in: %.60s)",
			sql);
	sq_conn *c = txn->conn;
	sqlite3_stmt *stmt = NULL;
	int error = 0, owned = 0;
	int64_t changes = 0;
	const char *tail = NULL;

	sq_cached *e = cache_find(c, sql);
	if (e && !sqlite3_stmt_busy(e->stmt)) {
		e->used = ++c->clock;
		stmt = e->stmt;
	} else {
		int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
		if (rc != SQLITE_OK) {
			error = sq_fail(c->db, rc, sql, NULL);
			goto done;
		}
		owned = 1;
		if (tail && !only_space(tail)) {
			/* a script (migrations): no parameters, statements run in turn */
			if (nparams) {
				error = ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE,
					"sqlite: parameters given to several statements (in: %.60s)", sql);
				goto done;
			}
			for (;;) {
				if (stmt && (error = run_stmt(txn, stmt, sql, cb, payload, &changes)) != 0)
					goto done;
				sqlite3_finalize(stmt);
				stmt = NULL;
				if (!tail || only_space(tail))
					break;
				const char *next = tail;
				rc = sqlite3_prepare_v2(c->db, next, -1, &stmt, &tail);
				if (rc != SQLITE_OK) {
					error = sq_fail(c->db, rc, next, NULL);
					goto done;
				}
			}
			goto done;
		}
		if (!stmt) /* only whitespace or comments */
			goto done;
		if (!e && cache_put(c, sql, stmt))
			owned = 0;
	}

	if ((error = bind_params(c->db, stmt, sql, params, nparams)) < 0)
		goto done;
	error = run_stmt(txn, stmt, sql, cb, payload, &changes);
done:
	if (stmt) {
		sqlite3_clear_bindings(stmt);
		if (owned)
			sqlite3_finalize(stmt);
	}
	if (error < 0)
		note_abort(txn, error);
	else if (error == 0 && changes_out)
		*changes_out = changes;
	return error;
}

/* --- transactions --- */

static void txn_end(ecr_meta_txn *txn)
{
	pool_release(txn->store, txn->conn, txn->write);
	ecr__free(txn);
}

static int sq_begin(ecr_meta_txn **out, ecr_meta_store *self, int write)
{
	if (!out || !self)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "sqlite: invalid arguments to begin");
	sq_store *st = (sq_store *)self;
	ecr_meta_txn *txn = ecr__calloc(1, sizeof(*txn));
	if (!txn)
		return ECR_ENOMEM;
	txn->store = st;
	txn->write = write ? 1 : 0;
	int error = pool_acquire(&txn->conn, st, txn->write);
	if (error < 0) {
		ecr__free(txn);
		return error;
	}
	sqlite3_stmt *b = txn->write ? txn->conn->begin_write : txn->conn->begin_read;
	int rc = step_retry(b);
	if (rc != SQLITE_DONE) {
		error = sq_fail(txn->conn->db, rc, txn->write ? "BEGIN IMMEDIATE" : "BEGIN", NULL);
		txn_end(txn);
		return error;
	}
	*out = txn;
	return 0;
}

static void rollback_conn(sq_conn *c)
{
	if (!sqlite3_get_autocommit(c->db))
		step_retry(c->rollback);
}

/* fdatasync the WAL (called by one committer at a time, without the lock). */
static int wal_sync(sq_store *st)
{
	struct stat sb;
	/* SQLite deletes the WAL when the last connection closes (a broken one may be closed): reopen then */
	if (st->wal_fd >= 0 && (fstat(st->wal_fd, &sb) != 0 || sb.st_nlink == 0)) {
		close(st->wal_fd);
		st->wal_fd = -1;
	}
	if (st->wal_fd < 0) {
		size_t n = strlen(st->path) + sizeof("-wal");
		char *wal = ecr__malloc(n);
		if (!wal)
			return ECR_ENOMEM;
		snprintf(wal, n, "%s-wal", st->path);
		st->wal_fd = open(wal, O_RDWR | O_CLOEXEC);
		int err = errno;
		ecr__free(wal);
		if (st->wal_fd < 0)
			return ecr__fail_os(ECR_EIO, err, "sqlite: cannot open the WAL of '%s' to sync it", st->path);
	}
	if (fdatasync(st->wal_fd) != 0)
		return ecr__fail_os(ECR_EIO, errno, "sqlite: cannot sync the WAL of '%s'", st->path);
	return 0;
}

/* Wait until the WAL is durable up to write transaction number seq, syncing it ourselves when nobody is. */
static int group_sync(sq_store *st, uint64_t seq)
{
	int error = 0;
	pthread_mutex_lock(&st->sync_lock);
	while (st->synced < seq) {
		if (st->syncing) {
			pthread_cond_wait(&st->sync_cond, &st->sync_lock);
			continue;
		}
		uint64_t upto = st->committed;
		st->syncing = 1;
		pthread_mutex_unlock(&st->sync_lock);
		error = wal_sync(st);
		pthread_mutex_lock(&st->sync_lock);
		st->syncing = 0;
		if (error == 0 && upto > st->synced)
			st->synced = upto;
		pthread_cond_broadcast(&st->sync_cond);
		if (error < 0)
			break; /* the others waiting try again themselves */
	}
	pthread_mutex_unlock(&st->sync_lock);
	return error;
}

static int sq_commit(ecr_meta_txn *txn)
{
	if (!txn)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "sqlite: commit without a transaction");
	int error = 0;
	uint64_t seq = 0;
	sq_store *st = txn->store;
	if (txn->aborted) {
		error = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "sqlite: the transaction was rolled back after an error");
	} else {
		txn->conn->wal_written = 0;
		int rc = step_retry(txn->conn->commit);
		if (rc != SQLITE_DONE) {
			error = sq_fail(txn->conn->db, rc, "COMMIT", NULL);
			rollback_conn(txn->conn);
		} else if (txn->write && st->group) {
			/*
			 * Numbered while we still hold the write token: in commit order. A transaction that wrote
			 * nothing waits for the last one committed (what it read may be what it acknowledges),
			 * which is most often synced already.
			 */
			pthread_mutex_lock(&st->sync_lock);
			seq = txn->conn->wal_written ? ++st->committed : st->committed;
			pthread_mutex_unlock(&st->sync_lock);
		}
	}
	txn_end(txn);
	if (seq)
		error = group_sync(st, seq);
	return error;
}

static void sq_rollback(ecr_meta_txn *txn)
{
	if (!txn)
		return;
	rollback_conn(txn->conn);
	txn_end(txn);
}

/* --- the store --- */

/* The store's locks and conditions: the waits of the pool and of the checkpoint thread time out (CLOCK_MONOTONIC),
 * the group commit's do not. */
#define LOCKS 6

/* Destroy the first n of them (in the order locks_init makes them). */
static void locks_destroy(sq_store *st, int n)
{
	if (n > 5)
		pthread_cond_destroy(&st->ckpt_cond);
	if (n > 4)
		pthread_cond_destroy(&st->sync_cond);
	if (n > 3)
		pthread_cond_destroy(&st->token_cond);
	if (n > 2)
		pthread_cond_destroy(&st->conn_cond);
	if (n > 1)
		pthread_mutex_destroy(&st->sync_lock);
	if (n > 0)
		pthread_mutex_destroy(&st->lock);
}

static int locks_init(sq_store *st)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int made = 0;
	if (pthread_mutex_init(&st->lock, NULL) == 0 && ++made && pthread_mutex_init(&st->sync_lock, NULL) == 0 &&
		++made && pthread_cond_init(&st->conn_cond, &ca) == 0 && ++made &&
		pthread_cond_init(&st->token_cond, &ca) == 0 && ++made && pthread_cond_init(&st->sync_cond, NULL) == 0 &&
		++made && pthread_cond_init(&st->ckpt_cond, &ca) == 0)
		made++;
	pthread_condattr_destroy(&ca);
	if (made == LOCKS)
		return 0;
	locks_destroy(st, made);
	return -1;
}

static void sq_free(ecr_meta_store *self)
{
	sq_store *st = (sq_store *)self;
	if (!st)
		return;
	if (st->ckpt_started) {
		pthread_mutex_lock(&st->lock);
		st->ckpt_stop = 1;
		pthread_cond_signal(&st->ckpt_cond);
		pthread_mutex_unlock(&st->lock);
		pthread_join(st->ckpt_thread, NULL);
	}
	while (st->idle) {
		sq_conn *c = st->idle;
		st->idle = c->next_idle;
		conn_close(c);
	}
	if (st->wal_fd >= 0)
		close(st->wal_fd);
	locks_destroy(st, LOCKS);
	ecr__free(st->path);
	ecr__free(st);
}

int ecr_meta_store_sqlite_new(ecr_meta_store **out, const char *path, uint32_t flags)
{
	if (!out || !path || !*path)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "sqlite: invalid arguments");
	*out = NULL;
	if (flags & ~ECR_STORAGE_NOSYNC)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "sqlite: unknown flags 0x%x", (unsigned)flags);
	if (!sqlite3_threadsafe())
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "sqlite: the SQLite library was built without thread support");

	int error = 0;
	sq_conn *first = NULL;
	sq_store *st = ecr__calloc(1, sizeof(*st));
	if (!st)
		return ECR_ENOMEM;
	st->memory = strcmp(path, ":memory:") == 0;
	st->max_conns = st->memory ? 1 : SQ_MAX_CONNS;
	st->flags = flags;
	st->group = !st->memory && !(flags & ECR_STORAGE_NOSYNC);
	st->wal_fd = -1;
	st->ckpt_idle = SQ_CHECKPOINT_IDLE_PAGES;
	st->ckpt_soft = SQ_CHECKPOINT_PAGES;
	st->ckpt_hard = SQ_CHECKPOINT_HARD_PAGES;

	if (locks_init(st) != 0) {
		ecr__free(st);
		return ecr__fail(ECR_ERROR, ECR_ERROR_OS, "sqlite: cannot create its locks");
	}
	if (!(st->path = ecr__strdup(path))) {
		error = ECR_ENOMEM;
		goto done;
	}
	if ((error = ecr_meta_store_init(&st->parent, ECR_META_STORE_VERSION)) < 0)
		goto done;
	st->parent.dialect = "sqlite";
	st->parent.begin = sq_begin;
	st->parent.exec = sq_exec;
	st->parent.commit = sq_commit;
	st->parent.rollback = sq_rollback;
	st->parent.free = sq_free;

	/* open the first connection now: errors show at open, and WAL gets set */
	if ((error = conn_open(&first, st, 1)) < 0)
		goto done;
	st->idle = first;
	st->nconns = 1;
	*out = &st->parent;
	st = NULL;
done:
	sq_free(st ? &st->parent : NULL);
	return error;
}

/* --- generic vtable helpers --- */

int ecr_meta_store_init(ecr_meta_store *store, unsigned int version)
{
	if (!store)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_meta_store_init: store is NULL");
	int error = ecr__check_version(version, ECR_META_STORE_VERSION, "ecr_meta_store");
	if (error < 0)
		return error;
	memset(store, 0, sizeof(*store));
	store->version = version;
	return 0;
}

void ecr_meta_store_free(ecr_meta_store *store)
{
	if (store && store->free)
		store->free(store);
}

void ecr__meta_sqlite_checkpoint_pages(ecr_meta_store *ms, int idle, int soft, int hard)
{
	sq_store *st = (sq_store *)ms;
	st->ckpt_idle = idle;
	st->ckpt_soft = soft;
	st->ckpt_hard = hard;
}

uint64_t ecr__meta_sqlite_background_checkpoints(ecr_meta_store *ms)
{
	return __atomic_load_n(&((sq_store *)ms)->ckpt_runs, __ATOMIC_RELAXED);
}
