/* Leases and the GC's candidates and tombstones (schema version 4). */
#include "meta_lease.h"

int ecr__txn_begin_atomic(ecr__txn *t, ecr_meta_store *store)
{
	t->store = store;
	t->txn = NULL;
	return store->begin(&t->txn, store, ECR__TXN_ATOMIC);
}

bool ecr__meta_is_postgres(const ecr__txn *t)
{
	return t->store && t->store->dialect && strcmp(t->store->dialect, "postgres") == 0;
}

int ecr__meta_lease_acquire(ecr__txn *t, const char *name, const char *holder, int64_t now, int64_t ttl_ms,
	bool *acquired)
{
	int64_t until, changes = 0;
	int rc;
	if (__builtin_add_overflow(now, ttl_ms, &until))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lease %s: time-to-live too long", name);
	const ecr_sql_value p[] = { ECR__SQL_S(name), ECR__SQL_S(holder), ECR__SQL_I(until), ECR__SQL_I(now) };
	/* An existing row is taken over only when it is the holder's own or has expired. */
	rc = ecr__sql(t,
		"INSERT INTO leases(name, holder, expires_at) VALUES(?, ?, ?) "
		"ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
		"WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
		p, ECR__NPARAMS(p), NULL, NULL, &changes);
	if (rc)
		return rc;
	*acquired = changes > 0;
	return 0;
}

int ecr__meta_lease_renew(ecr__txn *t, const char *name, const char *holder, int64_t now, int64_t ttl_ms,
	bool *held)
{
	int64_t until, changes = 0;
	int rc;
	if (__builtin_add_overflow(now, ttl_ms, &until))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lease %s: time-to-live too long", name);
	const ecr_sql_value p[] = { ECR__SQL_I(until), ECR__SQL_S(name), ECR__SQL_S(holder), ECR__SQL_I(now) };
	rc = ecr__sql(t, "UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?", p,
		ECR__NPARAMS(p), NULL, NULL, &changes);
	if (rc)
		return rc;
	*held = changes > 0;
	return 0;
}

int ecr__meta_lease_release(ecr__txn *t, const char *name, const char *holder)
{
	const ecr_sql_value p[] = { ECR__SQL_S(name), ECR__SQL_S(holder) };
	return ecr__sql(t, "DELETE FROM leases WHERE name = ? AND holder = ?", p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

typedef struct lease_row {
	bool found;
	char *holder;
	int64_t expires_at;
} lease_row;

static int lease_row_cb(const ecr_sql_value *cols, size_t n, void *payload)
{
	lease_row *r = payload;
	if (n < 2)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "lease query returned %zu columns", n);
	r->found = true;
	r->expires_at = ecr__sql_int(&cols[1]);
	return ecr__sql_dup(&r->holder, &cols[0]);
}

int ecr__meta_lease_get(ecr__txn *t, const char *name, char **holder_out, int64_t *expires_at_out)
{
	const ecr_sql_value p[] = { ECR__SQL_S(name) };
	lease_row r = { false, NULL, 0 };
	int rc = ecr__sql(t, "SELECT holder, expires_at FROM leases WHERE name = ?", p, ECR__NPARAMS(p), lease_row_cb,
		&r, NULL);
	if (rc == 0 && !r.found)
		rc = ECR_ENOTFOUND;
	if (rc == 0) {
		if (holder_out) {
			*holder_out = r.holder;
			r.holder = NULL;
		}
		if (expires_at_out)
			*expires_at_out = r.expires_at;
	}
	ecr__free(r.holder);
	return rc;
}

/* --- GC candidates --- */

/* SQLite: one trigger per event; RAISE(ABORT) fails the statement (SQLITE_CONSTRAINT: ECR_EEXISTS). */
#define SQLITE_GUARD(name, event, table, col) \
	"CREATE TRIGGER IF NOT EXISTS " name " AFTER " event " ON " table " BEGIN " \
	"SELECT RAISE(ABORT, 'the blob was just garbage-collected; upload it again') " \
	"WHERE EXISTS (SELECT 1 FROM gc_candidates WHERE digest = NEW.digest AND deleted_at > 0 " \
	"AND NEW." col " < guard_until); " \
	"DELETE FROM gc_candidates WHERE digest = NEW.digest AND deleted_at = 0; END"

static const char *const sqlite_guard[] = {
	SQLITE_GUARD("ecr_gc_guard_link_insert", "INSERT", "blob_links", "created_at"),
	SQLITE_GUARD("ecr_gc_guard_link_update", "UPDATE", "blob_links", "created_at"),
	SQLITE_GUARD("ecr_gc_guard_image_insert", "INSERT", "images", "pushed_at"),
};

/* PostgreSQL: one function, two triggers; SQLSTATE 23000 (an integrity violation: ECR_EEXISTS, as in SQLite). */
static const char *const pg_guard[] = {
	"CREATE OR REPLACE FUNCTION ecr_gc_guard() RETURNS trigger LANGUAGE plpgsql AS $ecr$ "
	"DECLARE at BIGINT; "
	"BEGIN "
	"IF TG_TABLE_NAME = 'images' THEN at := NEW.pushed_at; ELSE at := NEW.created_at; END IF; "
	"IF EXISTS (SELECT 1 FROM gc_candidates WHERE digest = NEW.digest AND deleted_at > 0 "
	"AND at < guard_until) THEN "
	"RAISE EXCEPTION 'the blob was just garbage-collected; upload it again' USING ERRCODE = '23000'; "
	"END IF; "
	"DELETE FROM gc_candidates WHERE digest = NEW.digest AND deleted_at = 0; "
	"RETURN NEW; "
	"END $ecr$",
	"CREATE OR REPLACE TRIGGER ecr_gc_guard_links AFTER INSERT OR UPDATE ON blob_links "
	"FOR EACH ROW EXECUTE FUNCTION ecr_gc_guard()",
	"CREATE OR REPLACE TRIGGER ecr_gc_guard_images AFTER INSERT ON images "
	"FOR EACH ROW EXECUTE FUNCTION ecr_gc_guard()",
};

int ecr__meta_gc_guard_install(ecr__txn *t)
{
	const char *dialect = t->store->dialect ? t->store->dialect : "sqlite";
	const char *const *sql;
	size_t n;
	int rc = 0;

	if (strcmp(dialect, "sqlite") == 0) {
		sql = sqlite_guard;
		n = ECR__NPARAMS(sqlite_guard);
	} else if (strcmp(dialect, "postgres") == 0) {
		int64_t present = 0;
		/* CREATE OR REPLACE takes strong locks: only when missing */
		rc = ecr__sql(t, "SELECT COUNT(*) FROM pg_trigger WHERE tgname IN ('ecr_gc_guard_links', "
				 "'ecr_gc_guard_images')", NULL, 0, ecr__sql_col_int, &present, NULL);
		if (rc || present == 2)
			return rc;
		sql = pg_guard;
		n = ECR__NPARAMS(pg_guard);
	} else {
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_STORAGE,
			"garbage collection on shared storage needs an SQLite or PostgreSQL metadata store, not %s",
			dialect);
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = ecr__sql(t, sql[i], NULL, 0, NULL, NULL, NULL);
	return rc;
}

int ecr__meta_gc_mark(ecr__txn *t, const char *digest, int64_t marked_at)
{
	const ecr_sql_value p[] = { ECR__SQL_S(digest), ECR__SQL_I(marked_at) };
	return ecr__sql(t,
		"INSERT INTO gc_candidates(digest, marked_at, deleted_at, guard_until) VALUES(?, ?, 0, 0) "
		"ON CONFLICT(digest) DO NOTHING",
		p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

int ecr__meta_gc_claim(ecr__txn *t, const char *digest, int64_t before, int64_t now, int64_t guard_until,
	bool *claimed)
{
	const ecr_sql_value p[] = { ECR__SQL_I(now), ECR__SQL_I(guard_until), ECR__SQL_S(digest), ECR__SQL_I(before) };
	int64_t changes = 0;
	int rc = ecr__sql(t,
		"UPDATE gc_candidates SET deleted_at = ?, guard_until = ? "
		"WHERE digest = ? AND deleted_at = 0 AND marked_at < ?",
		p, ECR__NPARAMS(p), NULL, NULL, &changes);
	if (rc)
		return rc;
	*claimed = changes > 0;
	return 0;
}

int ecr__meta_gc_forget(ecr__txn *t, const char *digest)
{
	const ecr_sql_value p[] = { ECR__SQL_S(digest) };
	return ecr__sql(t, "DELETE FROM gc_candidates WHERE digest = ?", p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

int ecr__meta_gc_prune(ecr__txn *t, int64_t now)
{
	const ecr_sql_value p[] = { ECR__SQL_I(now) };
	return ecr__sql(t, "DELETE FROM gc_candidates WHERE deleted_at > 0 AND guard_until < ?", p, ECR__NPARAMS(p),
		NULL, NULL, NULL);
}

int ecr__meta_gc_count(ecr__txn *t, bool tombstones, int64_t *count_out)
{
	*count_out = 0;
	return ecr__sql(t,
		tombstones ? "SELECT COUNT(*) FROM gc_candidates WHERE deleted_at > 0"
			   : "SELECT COUNT(*) FROM gc_candidates WHERE deleted_at = 0",
		NULL, 0, ecr__sql_col_int, count_out, NULL);
}

int ecr__meta_lease_clear(ecr__txn *t)
{
	/* not a bare DELETE: SQLite would clear the table by rewriting its pages even when empty, and every open would
	 * pay a WAL write and its syncs (cold start) */
	return ecr__sql(t, "DELETE FROM leases WHERE TRUE", NULL, 0, NULL, NULL, NULL);
}
