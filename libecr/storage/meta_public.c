/* Public registries (aliases, display names) and repository catalog data. */
#include "meta.h"

int ecr__meta_public_alias_get(ecr__txn *t, int64_t registry_id, char **alias_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	*alias_out = NULL;
	int rc = ecr__sql(t, "SELECT alias FROM public_registries WHERE registry_id = ?", p, ECR__NPARAMS(p),
	                  ecr__sql_col_str, alias_out, NULL);
	if (!rc && !*alias_out)
		rc = ECR_ENOTFOUND;
	return rc;
}

int ecr__meta_public_alias_set(ecr__txn *t, int64_t registry_id, const char *alias, int64_t now)
{
	ecr_sql_value q[] = {ECR__SQL_S(alias)};
	int64_t owner = 0;
	int rc = ecr__sql(t, "SELECT registry_id FROM public_registries WHERE alias = ?", q, ECR__NPARAMS(q),
	                  ecr__sql_col_int, &owner, NULL);
	if (rc)
		return rc;
	if (owner == registry_id)
		return 0;
	if (owner)
		return ECR_EEXISTS;
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(alias), ECR__SQL_I(now)};
	return ecr__sql(t,
	                "INSERT INTO public_registries (registry_id, alias, created_at) VALUES (?, ?, ?) "
	                "ON CONFLICT (registry_id) DO UPDATE SET alias = excluded.alias",
	                p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

int ecr__meta_public_alias_lookup(ecr__txn *t, const char *alias, char **account_out)
{
	ecr_sql_value p[] = {ECR__SQL_S(alias)};
	*account_out = NULL;
	int rc = ecr__sql(t,
	                  "SELECT r.account_id FROM public_registries p JOIN registries r ON r.id = p.registry_id "
	                  "WHERE p.alias = ?",
	                  p, ECR__NPARAMS(p), ecr__sql_col_str, account_out, NULL);
	if (!rc && !*account_out)
		rc = ECR_ENOTFOUND;
	return rc;
}

typedef struct list_ctx {
	int (*cb)(const char *account, const char *alias, void *payload);
	void *payload;
} list_ctx;

static int list_row(const ecr_sql_value *cols, size_t n, void *payload)
{
	list_ctx *c = payload;
	if (n < 2 || cols[0].type != ECR_SQL_TEXT || cols[1].type != ECR_SQL_TEXT)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "unexpected public registry row");
	return c->cb(cols[0].s, cols[1].s, c->payload);
}

int ecr__meta_public_list(ecr__txn *t, int (*cb)(const char *account, const char *alias, void *payload), void *payload)
{
	list_ctx c = {cb, payload};
	return ecr__sql(t,
	                "SELECT r.account_id, p.alias FROM public_registries p JOIN registries r ON r.id = "
	                "p.registry_id ORDER BY p.alias",
	                NULL, 0, list_row, &c, NULL);
}

int ecr__meta_public_display_name_get(ecr__txn *t, int64_t registry_id, char **name_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	*name_out = NULL;
	int rc = ecr__sql(t, "SELECT display_name FROM public_registries WHERE registry_id = ?", p, ECR__NPARAMS(p),
	                  ecr__sql_col_str, name_out, NULL);
	if (!rc && !*name_out)
		rc = ECR_ENOTFOUND;
	return rc;
}

int ecr__meta_public_display_name_set(ecr__txn *t, int64_t registry_id, const char *name)
{
	ecr_sql_value p[] = {ECR__SQL_S(name), ECR__SQL_I(registry_id)};
	return ecr__sql_change(t, "UPDATE public_registries SET display_name = ? WHERE registry_id = ?", p,
	                       ECR__NPARAMS(p), ECR_ENOTFOUND);
}

int ecr__meta_catalog_put(ecr__txn *t, int64_t repo_id, const char *document, const void *logo, size_t logo_len,
                          int64_t now)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_S(document),
	                     logo ? (ecr_sql_value){ECR_SQL_BLOB, 0, (const char *)logo, logo_len} : ECR__SQL_NULL,
	                     ECR__SQL_I(now)};
	return ecr__sql(t,
	                "INSERT INTO repository_catalog (repository_id, document, logo, updated_at) "
	                "VALUES (?, ?, ?, ?) ON CONFLICT (repository_id) DO UPDATE SET document = excluded.document, "
	                "logo = excluded.logo, updated_at = excluded.updated_at",
	                p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

int ecr__meta_catalog_get(ecr__txn *t, int64_t repo_id, char **doc_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id)};
	*doc_out = NULL;
	int rc = ecr__sql(t, "SELECT document FROM repository_catalog WHERE repository_id = ?", p, ECR__NPARAMS(p),
	                  ecr__sql_col_str, doc_out, NULL);
	if (!rc && !*doc_out)
		rc = ECR_ENOTFOUND;
	return rc;
}

typedef struct logo_ctx {
	ecr_buf *out;
	bool found;
} logo_ctx;

static int logo_row(const ecr_sql_value *cols, size_t n, void *payload)
{
	logo_ctx *c = payload;
	if (n < 1 || cols[0].type != ECR_SQL_BLOB || cols[0].len == 0)
		return 0;
	c->found = true;
	return ecr__buf_put(c->out, cols[0].s, cols[0].len);
}

int ecr__meta_catalog_logo(ecr__txn *t, int64_t repo_id, ecr_buf *out)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id)};
	logo_ctx c = {out, false};
	int rc = ecr__sql(t, "SELECT logo FROM repository_catalog WHERE repository_id = ?", p, ECR__NPARAMS(p),
	                  logo_row, &c, NULL);
	if (!rc && !c.found)
		rc = ECR_ENOTFOUND;
	return rc;
}

int ecr__meta_catalog_delete(ecr__txn *t, int64_t repo_id)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id)};
	return ecr__sql(t, "DELETE FROM repository_catalog WHERE repository_id = ?", p, ECR__NPARAMS(p), NULL, NULL,
	                NULL);
}
