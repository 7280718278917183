/* Resource policies (repository and registry) and account settings. */
#include "meta.h"

int ecr__meta_policy_get(ecr__txn *t, int64_t registry_id, int64_t repository_id, const char *kind, char **doc_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_I(repository_id), ECR__SQL_S(kind)};
	*doc_out = NULL;
	int rc = ecr__sql(t, "SELECT document FROM policies WHERE registry_id = ? AND repository_id = ? AND kind = ?",
	                  p, ECR__NPARAMS(p), ecr__sql_col_str, doc_out, NULL);
	if (rc) {
		ecr__free(*doc_out);
		*doc_out = NULL;
		return rc;
	}
	return *doc_out ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_policy_put(ecr__txn *t, int64_t registry_id, int64_t repository_id, const char *kind,
                         const char *document, int64_t now)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_I(repository_id), ECR__SQL_S(kind), ECR__SQL_S(document),
	                     ECR__SQL_I(now)};
	return ecr__sql(t,
	                "INSERT INTO policies (registry_id, repository_id, kind, document, updated_at) "
	                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (registry_id, repository_id, kind) "
	                "DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
	                p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

int ecr__meta_policy_delete(ecr__txn *t, int64_t registry_id, int64_t repository_id, const char *kind)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_I(repository_id), ECR__SQL_S(kind)};
	return ecr__sql_change(t, "DELETE FROM policies WHERE registry_id = ? AND repository_id = ? AND kind = ?", p,
	                       ECR__NPARAMS(p), ECR_ENOTFOUND);
}

int ecr__meta_setting_get(ecr__txn *t, int64_t registry_id, const char *name, char **value_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(name)};
	*value_out = NULL;
	int rc = ecr__sql(t, "SELECT value FROM account_settings WHERE registry_id = ? AND name = ?", p,
	                  ECR__NPARAMS(p), ecr__sql_col_str, value_out, NULL);
	if (rc) {
		ecr__free(*value_out);
		*value_out = NULL;
		return rc;
	}
	return *value_out ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_setting_set(ecr__txn *t, int64_t registry_id, const char *name, const char *value)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(name), ECR__SQL_S(value)};
	return ecr__sql(t,
	                "INSERT INTO account_settings (registry_id, name, value) VALUES (?, ?, ?) "
	                "ON CONFLICT (registry_id, name) DO UPDATE SET value = excluded.value",
	                p, ECR__NPARAMS(p), NULL, NULL, NULL);
}
