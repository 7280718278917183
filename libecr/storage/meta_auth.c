/* Principals, access keys, identity policies, store keys; resource policy documents for authorization. */
#include "meta.h"

#define PRINCIPAL_COLS "id, uid, arn, account_id, admin, created_at"

void ecr__meta_principal_dispose(ecr__meta_principal *p)
{
	if (!p)
		return;
	ecr__free(p->uid);
	ecr__free(p->arn);
	ecr__free(p->account_id);
	memset(p, 0, sizeof(*p));
}

static int dup_text(char **out, const ecr_sql_value *v)
{
	*out = NULL;
	if (v->type != ECR_SQL_TEXT && v->type != ECR_SQL_BLOB)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "principal row has a NULL text column");
	*out = ecr__strndup(v->s, v->len);
	return *out ? 0 : ECR_ENOMEM;
}

static int principal_from_row(ecr__meta_principal *p, const ecr_sql_value *c, size_t n)
{
	memset(p, 0, sizeof(*p));
	if (n < 6)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "principal row has %zu columns", n);
	p->id = c[0].i;
	p->admin = c[4].i ? 1 : 0;
	p->created_at = c[5].i;
	int rc;
	if ((rc = dup_text(&p->uid, &c[1])) || (rc = dup_text(&p->arn, &c[2])) ||
	    (rc = dup_text(&p->account_id, &c[3]))) {
		ecr__meta_principal_dispose(p);
		return rc;
	}
	return 0;
}

static int one_principal_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	ecr__meta_principal *p = payload;
	ecr__meta_principal_dispose(p);
	return principal_from_row(p, c, n);
}

int ecr__meta_principal_insert(ecr__txn *t, ecr__meta_principal *p)
{
	ecr_sql_value v[] = {ECR__SQL_S(p->uid), ECR__SQL_S(p->arn), ECR__SQL_S(p->account_id), ECR__SQL_I(p->admin),
	                     ECR__SQL_I(p->created_at)};
	int rc = ecr__sql(t, "INSERT INTO principals (uid, arn, account_id, admin, created_at) VALUES (?, ?, ?, ?, ?)",
	                  v, ECR__NPARAMS(v), NULL, NULL, NULL);
	if (rc)
		return rc;
	p->id = 0;
	rc = ecr__sql(t, "SELECT id FROM principals WHERE uid = ?", v, 1, ecr__sql_col_int, &p->id, NULL);
	if (!rc && !p->id)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "inserted principal not found");
	return rc;
}

static int principal_get(ecr__txn *t, const char *sql, const ecr_sql_value *param, ecr__meta_principal *out)
{
	memset(out, 0, sizeof(*out));
	int rc = ecr__sql(t, sql, param, 1, one_principal_cb, out, NULL);
	if (rc) {
		ecr__meta_principal_dispose(out);
		return rc;
	}
	return out->id ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_principal_get(ecr__txn *t, const char *arn, ecr__meta_principal *out)
{
	ecr_sql_value v = ECR__SQL_S(arn);
	return principal_get(t, "SELECT " PRINCIPAL_COLS " FROM principals WHERE arn = ?", &v, out);
}

int ecr__meta_principal_get_by_uid(ecr__txn *t, const char *uid, ecr__meta_principal *out)
{
	ecr_sql_value v = ECR__SQL_S(uid);
	return principal_get(t, "SELECT " PRINCIPAL_COLS " FROM principals WHERE uid = ?", &v, out);
}

int ecr__meta_principal_get_by_id(ecr__txn *t, int64_t id, ecr__meta_principal *out)
{
	ecr_sql_value v = ECR__SQL_I(id);
	return principal_get(t, "SELECT " PRINCIPAL_COLS " FROM principals WHERE id = ?", &v, out);
}

struct key_row {
	ecr__meta_principal *p;
	char **secret;
};

static int key_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct key_row *k = payload;
	int rc;
	if (n < 7)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "access key row has %zu columns", n);
	ecr__meta_principal_dispose(k->p);
	ecr__free(*k->secret);
	*k->secret = NULL;
	if ((rc = principal_from_row(k->p, c, 6)))
		return rc;
	return dup_text(k->secret, &c[6]);
}

int ecr__meta_principal_get_by_key(ecr__txn *t, const char *key_id, ecr__meta_principal *out, char **secret_out)
{
	ecr_sql_value v = ECR__SQL_S(key_id);
	struct key_row k = {out, secret_out};
	memset(out, 0, sizeof(*out));
	*secret_out = NULL;
	int rc = ecr__sql(t,
	                  "SELECT p.id, p.uid, p.arn, p.account_id, p.admin, p.created_at, k.secret FROM access_keys k "
	                  "JOIN principals p ON p.id = k.principal_id WHERE k.key_id = ?",
	                  &v, 1, key_row_cb, &k, NULL);
	if (!rc && !out->id)
		rc = ECR_ENOTFOUND;
	if (rc) {
		ecr__meta_principal_dispose(out);
		ecr__free(*secret_out);
		*secret_out = NULL;
	}
	return rc;
}

int ecr__meta_principal_delete(ecr__txn *t, int64_t id)
{
	ecr_sql_value v = ECR__SQL_I(id);
	int64_t changes = 0;
	int rc;
	if ((rc = ecr__sql(t, "DELETE FROM access_keys WHERE principal_id = ?", &v, 1, NULL, NULL, NULL)) ||
	    (rc = ecr__sql(t, "DELETE FROM identity_policies WHERE principal_id = ?", &v, 1, NULL, NULL, NULL)) ||
	    (rc = ecr__sql(t, "DELETE FROM principals WHERE id = ?", &v, 1, NULL, NULL, &changes)))
		return rc;
	return changes ? 0 : ECR_ENOTFOUND;
}

struct list_ctx {
	ecr__meta_principal_cb cb;
	void *payload;
};

static int list_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct list_ctx *l = payload;
	ecr__meta_principal p;
	int rc = principal_from_row(&p, c, n);
	if (rc)
		return rc;
	rc = l->cb(&p, l->payload);
	ecr__meta_principal_dispose(&p);
	return rc;
}

int ecr__meta_principal_list(ecr__txn *t, const char *after, size_t limit, ecr__meta_principal_cb cb, void *payload)
{
	struct list_ctx l = {cb, payload};
	ecr_sql_value v[] = {ECR__SQL_S(after ? after : ""),
	                     ECR__SQL_I(limit > INT64_MAX ? INT64_MAX : (int64_t)limit)};
	return ecr__sql(t, "SELECT " PRINCIPAL_COLS " FROM principals WHERE arn > ? ORDER BY arn LIMIT ?", v, 2,
	                list_row_cb, &l, NULL);
}

int ecr__meta_access_key_insert(ecr__txn *t, const char *key_id, int64_t principal_id, const char *secret, int64_t now)
{
	ecr_sql_value v[] = {ECR__SQL_S(key_id), ECR__SQL_I(principal_id), ECR__SQL_S(secret), ECR__SQL_I(now)};
	return ecr__sql(t, "INSERT INTO access_keys (key_id, principal_id, secret, created_at) VALUES (?, ?, ?, ?)", v,
	                ECR__NPARAMS(v), NULL, NULL, NULL);
}

int ecr__meta_access_key_delete(ecr__txn *t, int64_t principal_id, const char *key_id)
{
	ecr_sql_value v[] = {ECR__SQL_I(principal_id), ECR__SQL_S(key_id)};
	int64_t changes = 0;
	int rc =
	    ecr__sql(t, "DELETE FROM access_keys WHERE principal_id = ? AND key_id = ?", v, 2, NULL, NULL, &changes);
	if (rc)
		return rc;
	return changes ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_identity_policy_put(ecr__txn *t, int64_t principal_id, const char *name, const char *document)
{
	ecr_sql_value v[] = {ECR__SQL_I(principal_id), ECR__SQL_S(name), ECR__SQL_S(document)};
	return ecr__sql(t,
	                "INSERT INTO identity_policies (principal_id, name, document) VALUES (?, ?, ?) "
	                "ON CONFLICT (principal_id, name) DO UPDATE SET document = excluded.document",
	                v, ECR__NPARAMS(v), NULL, NULL, NULL);
}

int ecr__meta_identity_policy_delete(ecr__txn *t, int64_t principal_id, const char *name)
{
	ecr_sql_value v[] = {ECR__SQL_I(principal_id), ECR__SQL_S(name)};
	return ecr__sql_change(t, "DELETE FROM identity_policies WHERE principal_id = ? AND name = ?", v, 2,
	                       ECR_ENOTFOUND);
}

struct ipol_ctx {
	ecr__meta_identity_policy_cb cb;
	void *payload;
};

static int ipol_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct ipol_ctx *l = payload;
	if (n < 2 || c[0].type != ECR_SQL_TEXT || c[1].type != ECR_SQL_TEXT)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "malformed identity policy row");
	return l->cb(c[0].s, c[1].s, l->payload);
}

int ecr__meta_identity_policy_list(ecr__txn *t, int64_t principal_id, ecr__meta_identity_policy_cb cb, void *payload)
{
	struct ipol_ctx l = {cb, payload};
	ecr_sql_value v = ECR__SQL_I(principal_id);
	return ecr__sql(t, "SELECT name, document FROM identity_policies WHERE principal_id = ? ORDER BY name", &v, 1,
	                ipol_row_cb, &l, NULL);
}

struct blob_ctx {
	ecr_buf *out;
	bool found;
};

static int blob_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct blob_ctx *b = payload;
	if (n < 1 || (c[0].type != ECR_SQL_BLOB && c[0].type != ECR_SQL_TEXT))
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "malformed store key row");
	b->found = true;
	return ecr__buf_put(b->out, c[0].s, c[0].len);
}

int ecr__meta_store_key_get(ecr__txn *t, const char *name, ecr_buf *out)
{
	struct blob_ctx b = {out, false};
	ecr_sql_value v = ECR__SQL_S(name);
	int rc = ecr__sql(t, "SELECT value FROM store_keys WHERE name = ?", &v, 1, blob_row_cb, &b, NULL);
	if (rc)
		return rc;
	return b.found ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_store_key_insert(ecr__txn *t, const char *name, const void *value, size_t len, int64_t now)
{
	ecr_sql_value v[] = {ECR__SQL_S(name), {ECR_SQL_BLOB, 0, value, len}, ECR__SQL_I(now)};
	return ecr__sql(
	    t, "INSERT INTO store_keys (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING", v,
	    ECR__NPARAMS(v), NULL, NULL, NULL);
}

int ecr__meta_resource_policy_document(ecr__txn *t, int64_t registry_id, int64_t repository_id, const char *kind,
                                       char **doc_out)
{
	ecr_sql_value v[] = {ECR__SQL_I(registry_id), ECR__SQL_I(repository_id), ECR__SQL_S(kind)};
	*doc_out = NULL;
	int rc = ecr__sql(t, "SELECT document FROM policies WHERE registry_id = ? AND repository_id = ? AND kind = ?",
	                  v, ECR__NPARAMS(v), ecr__sql_col_str, doc_out, NULL);
	if (rc) {
		ecr__free(*doc_out);
		*doc_out = NULL;
		return rc;
	}
	return *doc_out ? 0 : ECR_ENOTFOUND;
}
