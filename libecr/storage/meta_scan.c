/* Image scan results and the registry scanning configuration. */
#include "meta.h"
#include "meta_lease.h"
#include "ecr/scan.h"

void ecr__meta_scan_dispose(ecr__meta_scan *s)
{
	if (!s)
		return;
	ecr__free(s->reason);
	ecr__free(s->report);
	memset(s, 0, sizeof(*s));
}

struct scan_row {
	ecr__meta_scan *s;
	bool found;
};

static int scan_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct scan_row *r = payload;
	if (n < 6)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "image scan row has %zu columns", n);
	ecr__meta_scan_dispose(r->s);
	r->found = true;
	r->s->status = (int)ecr__sql_int(&c[0]);
	r->s->started_at = ecr__sql_int(&c[3]);
	r->s->completed_at = ecr__sql_int(&c[4]);
	r->s->vulndb_at = ecr__sql_int(&c[5]);
	int rc = ecr__sql_dup(&r->s->reason, &c[1]);
	if (!rc)
		rc = ecr__sql_dup(&r->s->report, &c[2]);
	return rc;
}

int ecr__meta_scan_get(ecr__txn *t, int64_t repo_id, const char *digest, bool with_report, ecr__meta_scan *out)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_S(digest)};
	struct scan_row r = {out, false};
	memset(out, 0, sizeof(*out));
	int rc = ecr__sql(t,
	                  with_report
	                      ? "SELECT status, reason, report, started_at, completed_at, vulndb_at FROM image_scans "
	                        "WHERE repository_id = ? AND digest = ?"
	                      : "SELECT status, reason, NULL, started_at, completed_at, vulndb_at FROM image_scans "
	                        "WHERE repository_id = ? AND digest = ?",
	                  p, ECR__NPARAMS(p), scan_row_cb, &r, NULL);
	if (rc) {
		ecr__meta_scan_dispose(out);
		return rc;
	}
	return r.found ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_scan_put(ecr__txn *t, int64_t repo_id, const char *digest, const ecr__meta_scan *s)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id),         ECR__SQL_S(digest),      ECR__SQL_I(s->status),
	                     ECR__SQL_S(s->reason),       ECR__SQL_S(s->report),   ECR__SQL_I(s->started_at),
	                     ECR__SQL_I(s->completed_at), ECR__SQL_I(s->vulndb_at)};
	return ecr__sql(
	    t,
	    "INSERT INTO image_scans (repository_id, digest, status, reason, report, started_at, completed_at, "
	    "vulndb_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository_id, digest) DO UPDATE SET "
	    "status = excluded.status, reason = excluded.reason, report = excluded.report, "
	    "started_at = excluded.started_at, completed_at = excluded.completed_at, vulndb_at = excluded.vulndb_at",
	    p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

struct key_list {
	ecr__meta_scan_key_cb cb;
	void *payload;
};

static int key_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct key_list *k = payload;
	char *name = NULL, *digest = NULL;
	if (n < 3)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "image scan key row has %zu columns", n);
	int rc = ecr__sql_dup(&name, &c[1]);
	if (!rc)
		rc = ecr__sql_dup(&digest, &c[2]);
	if (!rc && name && digest)
		rc = k->cb(ecr__sql_int(&c[0]), name, digest, k->payload);
	ecr__free(name);
	ecr__free(digest);
	return rc;
}

int ecr__meta_scan_list_status(ecr__txn *t, int64_t registry_id, int status, ecr__meta_scan_key_cb cb, void *payload)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_I(status)};
	struct key_list k = {cb, payload};
	return ecr__sql(
	    t,
	    "SELECT s.repository_id, r.name, s.digest FROM image_scans s JOIN repositories r ON r.id = s.repository_id "
	    "WHERE r.registry_id = ? AND s.status = ? ORDER BY r.name, s.digest",
	    p, ECR__NPARAMS(p), key_row_cb, &k, NULL);
}

int ecr__meta_scan_list_orphans(ecr__txn *t, int64_t registry_id, int64_t started_before, int64_t now,
                                ecr__meta_scan_key_cb cb, void *payload)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_I(ECR_SCAN_IN_PROGRESS), ECR__SQL_I(started_before),
	                     ECR__SQL_I(now)};
	struct key_list k = {cb, payload};
	/* the lease name is ecr__scan_lease_name()'s: "scan/<repository id>/<digest>" */
	return ecr__sql(
	    t,
	    "SELECT s.repository_id, r.name, s.digest FROM image_scans s JOIN repositories r ON r.id = s.repository_id "
	    "WHERE r.registry_id = ? AND s.status = ? AND s.started_at <= ? AND NOT EXISTS (SELECT 1 FROM leases l "
	    "WHERE l.name = 'scan/' || CAST(s.repository_id AS TEXT) || '/' || s.digest AND l.expires_at > ?) "
	    "ORDER BY s.started_at, r.name, s.digest",
	    p, ECR__NPARAMS(p), key_row_cb, &k, NULL);
}

int ecr__meta_scan_config_get(ecr__txn *t, int64_t registry_id, char **doc_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	*doc_out = NULL;
	int rc = ecr__sql(t, "SELECT document FROM scanning_configuration WHERE registry_id = ?", p, ECR__NPARAMS(p),
	                  ecr__sql_col_str, doc_out, NULL);
	if (rc) {
		ecr__free(*doc_out);
		*doc_out = NULL;
		return rc;
	}
	return *doc_out ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_scan_config_put(ecr__txn *t, int64_t registry_id, const char *document)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(document)};
	return ecr__sql(t,
	                "INSERT INTO scanning_configuration (registry_id, document) VALUES (?, ?) "
	                "ON CONFLICT (registry_id) DO UPDATE SET document = excluded.document",
	                p, ECR__NPARAMS(p), NULL, NULL, NULL);
}
