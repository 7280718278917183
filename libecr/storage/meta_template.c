/* Repository creation templates (meta_template.h). */
#include "meta_template.h"

int ecr__meta_template_insert(ecr__txn *t, int64_t registry_id, const char *prefix, const char *document, int64_t now)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(prefix), ECR__SQL_S(document), ECR__SQL_I(now),
	                     ECR__SQL_I(now)};
	return ecr__sql_change(t,
	                       "INSERT INTO creation_templates (registry_id, prefix, document, created_at, updated_at) "
	                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT (registry_id, prefix) DO NOTHING",
	                       p, ECR__NPARAMS(p), ECR_EEXISTS);
}

int ecr__meta_template_update(ecr__txn *t, int64_t registry_id, const char *prefix, const char *document, int64_t now)
{
	ecr_sql_value p[] = {ECR__SQL_S(document), ECR__SQL_I(now), ECR__SQL_I(registry_id), ECR__SQL_S(prefix)};
	return ecr__sql_change(
	    t, "UPDATE creation_templates SET document = ?, updated_at = ? WHERE registry_id = ? AND prefix = ?", p,
	    ECR__NPARAMS(p), ECR_ENOTFOUND);
}

int ecr__meta_template_delete(ecr__txn *t, int64_t registry_id, const char *prefix)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(prefix)};
	return ecr__sql_change(t, "DELETE FROM creation_templates WHERE registry_id = ? AND prefix = ?", p,
	                       ECR__NPARAMS(p), ECR_ENOTFOUND);
}

int ecr__meta_template_count(ecr__txn *t, int64_t registry_id, int64_t *count_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(registry_id)};
	*count_out = 0;
	return ecr__sql(t, "SELECT COUNT(*) FROM creation_templates WHERE registry_id = ?", p, ECR__NPARAMS(p),
	                ecr__sql_col_int, count_out, NULL);
}

struct list_ctx {
	ecr__meta_template_cb cb;
	void *payload;
	size_t rows;
};

static int list_row(const ecr_sql_value *c, size_t n, void *payload)
{
	struct list_ctx *ctx = payload;
	if (n < 4 || c[0].type != ECR_SQL_TEXT || c[1].type != ECR_SQL_TEXT || c[2].type != ECR_SQL_INT ||
	    c[3].type != ECR_SQL_INT)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "malformed creation template row");
	ctx->rows++;
	return ctx->cb(c[0].s, c[1].s, c[2].i, c[3].i, ctx->payload);
}

int ecr__meta_template_list(ecr__txn *t, int64_t registry_id, const char *prefix, ecr__meta_template_cb cb,
                            void *payload)
{
	struct list_ctx ctx = {cb, payload, 0};
	ecr_sql_value p[] = {ECR__SQL_I(registry_id), ECR__SQL_S(prefix), ECR__SQL_S(prefix)};
	int rc = ecr__sql(t,
	                  "SELECT prefix, document, created_at, updated_at FROM creation_templates "
	                  "WHERE registry_id = ? AND (CAST(? AS TEXT) IS NULL OR prefix = ?) ORDER BY prefix",
	                  p, ECR__NPARAMS(p), list_row, &ctx, NULL);
	if (rc)
		return rc;
	return prefix && !ctx.rows ? ECR_ENOTFOUND : 0;
}
