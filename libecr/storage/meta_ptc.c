/* Pull-through cache rules and upstream credentials (see meta_ptc.h). */
#include "meta_ptc.h"

void ecr__meta_ptc_rule_dispose(ecr__meta_ptc_rule *r)
{
	if (!r)
		return;
	ecr__free(r->prefix);
	ecr__free(r->document);
	memset(r, 0, sizeof(*r));
}

/* Columns: prefix, document, created_at, updated_at. */
static int rule_from_row(ecr__meta_ptc_rule *r, const ecr_sql_value *c, size_t n)
{
	int rc;
	if (n < 4)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "pull through cache rule row has %zu columns", n);
	if ((rc = ecr__sql_dup(&r->prefix, &c[0])) || (rc = ecr__sql_dup(&r->document, &c[1])))
		return rc;
	if (!r->prefix || !r->document)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "pull through cache rule row without prefix or document");
	r->created_at = ecr__sql_int(&c[2]);
	r->updated_at = ecr__sql_int(&c[3]);
	return 0;
}

struct rule_one {
	ecr__meta_ptc_rule *r;
	bool found;
};

static int rule_one_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct rule_one *o = payload;
	o->found = true;
	return rule_from_row(o->r, c, n);
}

int ecr__meta_ptc_rule_get(ecr__txn *t, int64_t registry_id, const char *prefix, ecr__meta_ptc_rule *out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(prefix)};
	struct rule_one o = {out, false};
	memset(out, 0, sizeof(*out));
	int rc = ecr__sql(t,
	                  "SELECT prefix, document, created_at, updated_at FROM pull_through_cache_rules "
	                  "WHERE registry_id = ? AND prefix = ?",
	                  p, ECR__NPARAMS(p), rule_one_cb, &o, NULL);
	if (rc || !o.found) {
		ecr__meta_ptc_rule_dispose(out);
		return rc ? rc : ECR_ENOTFOUND;
	}
	return 0;
}

int ecr__meta_ptc_rule_insert(ecr__txn *t, int64_t registry_id, const char *prefix, const char *document,
	int64_t now)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(prefix), ECR__SQL_S(document), ECR__SQL_I(now),
	                     ECR__SQL_I(now)};
	return ecr__sql_change(
	    t,
	    "INSERT INTO pull_through_cache_rules (registry_id, prefix, document, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (registry_id, prefix) DO NOTHING",
	    p, ECR__NPARAMS(p), ECR_EEXISTS);
}

int ecr__meta_ptc_rule_update(ecr__txn *t, int64_t registry_id, const char *prefix, const char *document,
	int64_t now)
{
	ecr_sql_value p[] = {ECR__SQL_S(document), ECR__SQL_I(now), ECR__SQL_I(registry_id), ECR__SQL_S(prefix)};
	return ecr__sql_change(t,
	                       "UPDATE pull_through_cache_rules SET document = ?, updated_at = ? "
	                       "WHERE registry_id = ? AND prefix = ?",
	                       p, ECR__NPARAMS(p), ECR_ENOTFOUND);
}

int ecr__meta_ptc_rule_delete(ecr__txn *t, int64_t registry_id, const char *prefix)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(prefix)};
	return ecr__sql_change(t, "DELETE FROM pull_through_cache_rules WHERE registry_id = ? AND prefix = ?", p,
	                       ECR__NPARAMS(p), ECR_ENOTFOUND);
}

int ecr__meta_ptc_rule_count(ecr__txn *t, int64_t registry_id, int64_t *count_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	*count_out = 0;
	return ecr__sql(t, "SELECT COUNT(*) FROM pull_through_cache_rules WHERE registry_id = ?", p, ECR__NPARAMS(p),
	                ecr__sql_col_int, count_out, NULL);
}

struct rule_list {
	ecr__meta_ptc_rule_cb cb;
	void *payload;
};

static int rule_list_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct rule_list *l = payload;
	ecr__meta_ptc_rule r = {0};
	int rc = rule_from_row(&r, c, n);
	if (!rc)
		rc = l->cb(&r, l->payload);
	ecr__meta_ptc_rule_dispose(&r);
	return rc;
}

int ecr__meta_ptc_rule_list(ecr__txn *t, int64_t registry_id, ecr__meta_ptc_rule_cb cb, void *payload)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	struct rule_list l = {cb, payload};
	return ecr__sql(t,
	                "SELECT prefix, document, created_at, updated_at FROM pull_through_cache_rules "
	                "WHERE registry_id = ? ORDER BY prefix",
	                p, ECR__NPARAMS(p), rule_list_cb, &l, NULL);
}

int ecr__meta_credential_put(ecr__txn *t, int64_t registry_id, const char *arn, const char *username,
	const char *secret, int64_t now)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(arn), ECR__SQL_S(username), ECR__SQL_S(secret),
	                     ECR__SQL_I(now)};
	return ecr__sql(t,
	                "INSERT INTO credentials (registry_id, arn, username, secret, created_at) VALUES (?, ?, ?, ?, ?) "
	                "ON CONFLICT (registry_id, arn) DO UPDATE SET username = excluded.username, "
	                "secret = excluded.secret, created_at = excluded.created_at",
	                p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

struct cred_row {
	char *username, *secret;
	bool found;
};

static int cred_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct cred_row *r = payload;
	int rc;
	if (n < 2)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "credential row has %zu columns", n);
	r->found = true;
	if ((rc = ecr__sql_dup(&r->username, &c[0])) || (rc = ecr__sql_dup(&r->secret, &c[1])))
		return rc;
	return 0;
}

int ecr__meta_credential_get(ecr__txn *t, int64_t registry_id, const char *arn, char **username_out,
	char **secret_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(arn)};
	struct cred_row r = {NULL, NULL, false};
	int rc = ecr__sql(t, "SELECT username, secret FROM credentials WHERE registry_id = ? AND arn = ?", p,
	                  ECR__NPARAMS(p), cred_row_cb, &r, NULL);
	if (!rc && (!r.found || !r.username || !r.secret))
		rc = ECR_ENOTFOUND;
	if (!rc && username_out) {
		*username_out = r.username;
		r.username = NULL;
	}
	if (!rc && secret_out) {
		*secret_out = r.secret;
		r.secret = NULL;
	}
	ecr__free(r.username);
	if (r.secret) {
		explicit_bzero(r.secret, strlen(r.secret));
		ecr__free(r.secret);
	}
	return rc;
}

int ecr__meta_credential_delete(ecr__txn *t, int64_t registry_id, const char *arn)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(arn)};
	return ecr__sql_change(t, "DELETE FROM credentials WHERE registry_id = ? AND arn = ?", p, ECR__NPARAMS(p),
	                       ECR_ENOTFOUND);
}

struct cred_list {
	ecr__meta_credential_cb cb;
	void *payload;
};

static int cred_list_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct cred_list *l = payload;
	char *arn = NULL, *user = NULL;
	int rc;
	if (n < 2)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "credential row has %zu columns", n);
	if (!(rc = ecr__sql_dup(&arn, &c[0])) && !(rc = ecr__sql_dup(&user, &c[1])) && arn && user)
		rc = l->cb(arn, user, l->payload);
	ecr__free(arn);
	ecr__free(user);
	return rc;
}

int ecr__meta_credential_list(ecr__txn *t, int64_t registry_id, ecr__meta_credential_cb cb, void *payload)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	struct cred_list l = {cb, payload};
	return ecr__sql(t, "SELECT arn, username FROM credentials WHERE registry_id = ? ORDER BY arn", p,
	                ECR__NPARAMS(p), cred_list_cb, &l, NULL);
}
