/* The replication configuration and the replication job queue (meta_replication.h). */
#include "meta_replication.h"
#include "meta_lease.h"

/* A new stamp for a row: now, or one past the row's last stamp when the clock has not moved past it. */
#define NEXT_STAMP "CASE WHEN ? > updated_at THEN ? ELSE updated_at + 1 END"
/* The same in an upsert's DO UPDATE: PostgreSQL finds a bare updated_at ambiguous there (the row or excluded) */
#define NEXT_STAMP_UPSERT                                                                                      \
	"CASE WHEN ? > replication_jobs.updated_at THEN ? ELSE replication_jobs.updated_at + 1 END"
#define JOB_COLUMNS                                                                                              \
	"id, repository, digest, tags, dest_region, dest_registry_id, status, attempts, next_attempt_at, "       \
	"lease_until, failure_reason, updated_at"

int ecr__meta_repl_config_get(ecr__txn *t, int64_t registry_id, char **doc_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id) };
	*doc_out = NULL;
	int rc = ecr__sql(t, "SELECT document FROM replication_configuration WHERE registry_id = ?", p,
		ECR__NPARAMS(p), ecr__sql_col_str, doc_out, NULL);
	if (rc)
		return rc;
	return *doc_out ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_repl_config_put(ecr__txn *t, int64_t registry_id, const char *document, int64_t now)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_S(document), ECR__SQL_I(now) };
	return ecr__sql(t,
		"INSERT INTO replication_configuration (registry_id, document, updated_at) VALUES (?, ?, ?) "
		"ON CONFLICT (registry_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
		p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

void ecr__meta_repl_job_dispose(ecr__meta_repl_job *j)
{
	if (!j)
		return;
	ecr__free(j->repository);
	ecr__free(j->digest);
	ecr__free(j->tags);
	ecr__free(j->dest_region);
	ecr__free(j->dest_registry_id);
	ecr__free(j->failure_reason);
	memset(j, 0, sizeof(*j));
}

static int job_from_row(ecr__meta_repl_job *j, const ecr_sql_value *c, size_t n)
{
	int rc;
	memset(j, 0, sizeof(*j));
	if (n < 12)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "replication job row has %zu columns", n);
	j->id = ecr__sql_int(&c[0]);
	j->status = (int)ecr__sql_int(&c[6]);
	j->attempts = (int)ecr__sql_int(&c[7]);
	j->next_attempt_at = ecr__sql_int(&c[8]);
	j->lease_until = ecr__sql_int(&c[9]);
	j->updated_at = ecr__sql_int(&c[11]);
	if ((rc = ecr__sql_dup(&j->repository, &c[1])) || (rc = ecr__sql_dup(&j->digest, &c[2])) ||
		(rc = ecr__sql_dup(&j->tags, &c[3])) || (rc = ecr__sql_dup(&j->dest_region, &c[4])) ||
		(rc = ecr__sql_dup(&j->dest_registry_id, &c[5])) || (rc = ecr__sql_dup(&j->failure_reason, &c[10]))) {
		ecr__meta_repl_job_dispose(j);
		return rc;
	}
	return 0;
}

struct job_one {
	ecr__meta_repl_job *out;
	bool found;
};

static int job_one_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct job_one *o = payload;
	ecr__meta_repl_job_dispose(o->out);
	int rc = job_from_row(o->out, c, n);
	if (!rc)
		o->found = true;
	return rc;
}

int ecr__meta_repl_job_get(ecr__txn *t, int64_t registry_id, const char *repository, const char *digest,
	const char *dest_region, const char *dest_registry_id, ecr__meta_repl_job *out)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_S(repository), ECR__SQL_S(digest),
		ECR__SQL_S(dest_region), ECR__SQL_S(dest_registry_id) };
	struct job_one o = { out, false };
	memset(out, 0, sizeof(*out));
	int rc = ecr__sql(t,
		"SELECT " JOB_COLUMNS " FROM replication_jobs WHERE registry_id = ? AND repository = ? AND digest = ? "
		"AND dest_region = ? AND dest_registry_id = ?",
		p, ECR__NPARAMS(p), job_one_cb, &o, NULL);
	if (rc)
		return rc;
	return o.found ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_repl_job_queue(ecr__txn *t, int64_t registry_id, const char *repository, const char *digest,
	const char *tags, const char *dest_region, const char *dest_registry_id, int64_t now)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_S(repository), ECR__SQL_S(digest), ECR__SQL_S(tags),
		ECR__SQL_S(dest_region), ECR__SQL_S(dest_registry_id), ECR__SQL_I(now), ECR__SQL_I(now),
		ECR__SQL_I(now), ECR__SQL_I(now), ECR__SQL_I(now) };
	return ecr__sql(t,
		"INSERT INTO replication_jobs (registry_id, repository, digest, tags, dest_region, dest_registry_id, "
		"status, attempts, next_attempt_at, lease_until, failure_reason, created_at, updated_at) "
		"VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, 0, NULL, ?, ?) "
		"ON CONFLICT (registry_id, repository, digest, dest_region, dest_registry_id) DO UPDATE SET "
		"tags = excluded.tags, status = 0, attempts = 0, next_attempt_at = excluded.next_attempt_at, "
		"lease_until = 0, failure_reason = NULL, updated_at = " NEXT_STAMP_UPSERT,
		p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

/* The claim of ecr__meta_repl_job_claim (registry_id > 0) or ecr__meta_repl_job_claim_store (0: any registry). */
static int job_claim(ecr__txn *t, int64_t registry_id, int64_t now, int64_t lease_until, ecr__meta_repl_job *out,
	int64_t *next_due_out)
{
	int64_t id = 0, next = 0, changes = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	if (next_due_out)
		*next_due_out = 0;
	{
		ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_I(registry_id), ECR__SQL_I(now), ECR__SQL_I(now) };
		/* PostgreSQL: the row is locked as it is picked and rows other claimers hold are skipped, so claimers
		 * on several nodes (atomic transactions, READ COMMITTED) each take a different job at once */
		rc = ecr__sql(t,
			ecr__meta_is_postgres(t)
				? "SELECT id FROM replication_jobs WHERE (? = 0 OR registry_id = ?) AND "
				  "((status = 0 AND next_attempt_at <= ?) OR (status = 1 AND lease_until < ?)) "
				  "ORDER BY CASE WHEN status = 0 THEN next_attempt_at ELSE lease_until END, id LIMIT 1 "
				  "FOR UPDATE SKIP LOCKED"
				: "SELECT id FROM replication_jobs WHERE (? = 0 OR registry_id = ?) AND "
				  "((status = 0 AND next_attempt_at <= ?) OR (status = 1 AND lease_until < ?)) "
				  "ORDER BY CASE WHEN status = 0 THEN next_attempt_at ELSE lease_until END, id LIMIT 1",
			p, ECR__NPARAMS(p), ecr__sql_col_int, &id, NULL);
		if (rc)
			return rc;
	}
	if (!id) {
		ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_I(registry_id) };
		rc = ecr__sql(t,
			"SELECT MIN(CASE WHEN status = 0 THEN next_attempt_at ELSE lease_until + 1 END) "
			"FROM replication_jobs WHERE (? = 0 OR registry_id = ?) AND status IN (0, 1)",
			p, ECR__NPARAMS(p), ecr__sql_col_int, &next, NULL);
		if (rc)
			return rc;
		if (next_due_out)
			*next_due_out = next;
		return ECR_ENOTFOUND;
	}
	{
		ecr_sql_value p[] = { ECR__SQL_I(lease_until), ECR__SQL_I(now), ECR__SQL_I(now), ECR__SQL_I(id),
			ECR__SQL_I(now), ECR__SQL_I(now) };
		rc = ecr__sql(t, "UPDATE replication_jobs SET status = 1, lease_until = ?, updated_at = " NEXT_STAMP
				 " WHERE id = ? AND ((status = 0 AND next_attempt_at <= ?) OR (status = 1 AND lease_until < ?))",
			p, ECR__NPARAMS(p), NULL, NULL, &changes);
		if (rc)
			return rc;
	}
	/* The pick and the claim are two statements; the claim checks again that the job is due, so a job that
	 * another claimer took in between (SQLite serialises writers; PostgreSQL locked the row at the pick) is
	 * never claimed twice: the caller tries again in a new transaction. */
	if (changes != 1)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_STORAGE, "replication job %lld was claimed meanwhile: try again",
			(long long)id);
	ecr_sql_value p[] = { ECR__SQL_I(id) };
	struct job_one o = { out, false };
	rc = ecr__sql(t, "SELECT " JOB_COLUMNS " FROM replication_jobs WHERE id = ?", p, ECR__NPARAMS(p), job_one_cb,
		&o, NULL);
	if (!rc && !o.found)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "replication job %lld vanished while claimed", (long long)id);
	return rc;
}

int ecr__meta_repl_job_claim(ecr__txn *t, int64_t registry_id, int64_t now, int64_t lease_until,
	ecr__meta_repl_job *out, int64_t *next_due_out)
{
	if (registry_id <= 0) {
		memset(out, 0, sizeof(*out));
		if (next_due_out)
			*next_due_out = 0;
		return ECR_ENOTFOUND;
	}
	return job_claim(t, registry_id, now, lease_until, out, next_due_out);
}

struct job_source {
	char **account;
	char **region;
};

static int job_source_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct job_source *s = payload;
	int rc;
	if (n < 2)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "registry row has %zu columns", n);
	ecr__free(*s->account);
	ecr__free(*s->region);
	*s->account = *s->region = NULL;
	if ((rc = ecr__sql_dup(s->account, &c[0])) || (rc = ecr__sql_dup(s->region, &c[1])))
		return rc;
	return 0;
}

int ecr__meta_repl_job_claim_store(ecr__txn *t, int64_t now, int64_t lease_until, ecr__meta_repl_job *out,
	int64_t *next_due_out, char **account_out, char **region_out)
{
	*account_out = *region_out = NULL;
	int rc = job_claim(t, 0, now, lease_until, out, next_due_out);
	if (rc)
		return rc;
	ecr_sql_value p[] = { ECR__SQL_I(out->id) };
	struct job_source s = { account_out, region_out };
	rc = ecr__sql(t,
		"SELECT r.account_id, r.region FROM replication_jobs j JOIN registries r ON r.id = j.registry_id "
		"WHERE j.id = ?",
		p, ECR__NPARAMS(p), job_source_cb, &s, NULL);
	if (!rc && (!*account_out || !*region_out))
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "replication job %lld has no source registry",
			(long long)out->id);
	if (rc) {
		ecr__free(*account_out);
		ecr__free(*region_out);
		*account_out = *region_out = NULL;
		ecr__meta_repl_job_dispose(out);
	}
	return rc;
}

int ecr__meta_repl_job_renew(ecr__txn *t, int64_t id, int64_t claim, int64_t lease_until, bool *changed_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(lease_until), ECR__SQL_I(id), ECR__SQL_I(claim) };
	int64_t changes = 0;
	int rc = ecr__sql(t, "UPDATE replication_jobs SET lease_until = ? WHERE id = ? AND status = 1 AND updated_at = ?",
		p, ECR__NPARAMS(p), NULL, NULL, &changes);
	*changed_out = !rc && changes > 0;
	return rc;
}

int ecr__meta_repl_job_end(ecr__txn *t, int64_t id, int64_t claim, int status, const char *reason,
	int64_t next_attempt_at, int64_t now, bool *changed_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(status), ECR__SQL_I(status == 2 ? 0 : 1), ECR__SQL_I(next_attempt_at),
		ECR__SQL_S(reason), ECR__SQL_I(now), ECR__SQL_I(now), ECR__SQL_I(id), ECR__SQL_I(claim) };
	int64_t changes = 0;
	int rc = ecr__sql(t,
		"UPDATE replication_jobs SET status = ?, attempts = attempts + ?, next_attempt_at = ?, lease_until = 0, "
		"failure_reason = ?, updated_at = " NEXT_STAMP " WHERE id = ? AND status = 1 AND updated_at = ?",
		p, ECR__NPARAMS(p), NULL, NULL, &changes);
	*changed_out = !rc && changes > 0;
	return rc;
}

int ecr__meta_repl_job_pending(ecr__txn *t, int64_t registry_id, int64_t *count_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id) };
	*count_out = 0;
	return ecr__sql(t, "SELECT COUNT(*) FROM replication_jobs WHERE registry_id = ? AND status IN (0, 1)", p,
		ECR__NPARAMS(p), ecr__sql_col_int, count_out, NULL);
}

int ecr__meta_repl_job_pending_store(ecr__txn *t, int64_t *count_out)
{
	*count_out = 0;
	return ecr__sql(t, "SELECT COUNT(*) FROM replication_jobs WHERE status IN (0, 1)", NULL, 0, ecr__sql_col_int,
		count_out, NULL);
}

struct job_list {
	ecr__meta_repl_job_cb cb;
	void *payload;
};

static int job_list_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct job_list *l = payload;
	ecr__meta_repl_job j;
	int rc = job_from_row(&j, c, n);
	if (rc)
		return rc;
	rc = l->cb(&j, l->payload);
	ecr__meta_repl_job_dispose(&j);
	return rc;
}

int ecr__meta_repl_job_list_image(ecr__txn *t, int64_t registry_id, const char *repository, const char *digest,
	ecr__meta_repl_job_cb cb, void *payload)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_S(repository), ECR__SQL_S(digest) };
	struct job_list l = { cb, payload };
	return ecr__sql(t,
		"SELECT " JOB_COLUMNS " FROM replication_jobs WHERE registry_id = ? AND repository = ? AND digest = ? "
		"ORDER BY dest_region, dest_registry_id",
		p, ECR__NPARAMS(p), job_list_cb, &l, NULL);
}
