/* The pull-through cache's tag freshness (cache_tags). */
#include "meta_cache.h"

struct checked_row {
	int64_t at;
	bool found;
};

static int checked_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct checked_row *r = payload;
	if (n < 1)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "cache tag row has no column");
	r->at = c[0].type == ECR_SQL_INT ? c[0].i : 0;
	r->found = true;
	return 0;
}

int ecr__meta_cache_tag_get(ecr__txn *t, int64_t repo_id, const char *tag, int64_t *checked_at_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_S(tag)};
	struct checked_row r = {0, false};
	int rc = ecr__sql(t, "SELECT checked_at FROM cache_tags WHERE repository_id = ? AND tag = ?", p,
	                  ECR__NPARAMS(p), checked_row_cb, &r, NULL);
	if (rc)
		return rc;
	if (!r.found)
		return ECR_ENOTFOUND;
	*checked_at_out = r.at;
	return 0;
}

int ecr__meta_cache_tag_set(ecr__txn *t, int64_t repo_id, const char *tag, int64_t checked_at)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_S(tag), ECR__SQL_I(checked_at)};
	return ecr__sql(t,
	                "INSERT INTO cache_tags (repository_id, tag, checked_at) VALUES (?, ?, ?) "
	                "ON CONFLICT (repository_id, tag) DO UPDATE SET checked_at = excluded.checked_at",
	                p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

int ecr__meta_cache_tag_delete(ecr__txn *t, int64_t repo_id, const char *tag)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_S(tag)};
	return ecr__sql(t, "DELETE FROM cache_tags WHERE repository_id = ? AND tag = ?", p, ECR__NPARAMS(p), NULL, NULL,
	                NULL);
}
