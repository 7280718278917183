/* Repositories, resource tags. */
#include "meta.h"

#define REPO_COLS "id, registry_id, name, created_at, tag_mutability, exclusions, scan_on_push, encryption_type, kms_key"

void ecr__meta_repo_dispose(ecr__meta_repo *r)
{
	if (!r)
		return;
	ecr__free(r->name);
	ecr__free(r->exclusions);
	ecr__free(r->kms_key);
	memset(r, 0, sizeof(*r));
}

static int dup_col(char **out, const ecr_sql_value *v)
{
	*out = NULL;
	if (v->type != ECR_SQL_TEXT)
		return 0;
	*out = ecr__strndup(v->s, v->len);
	return *out ? 0 : ECR_ENOMEM;
}

static int repo_from_row(ecr__meta_repo *r, const ecr_sql_value *c, size_t n)
{
	memset(r, 0, sizeof(*r));
	if (n < 9)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "repository row has %zu columns", n);
	r->id = c[0].i;
	r->registry_id = c[1].i;
	r->created_at = c[3].i;
	r->tag_mutability = (int)c[4].i;
	r->scan_on_push = (int)c[6].i;
	r->encryption_type = (int)c[7].i;
	int rc;
	if ((rc = dup_col(&r->name, &c[2])) || (rc = dup_col(&r->exclusions, &c[5])) || (rc = dup_col(&r->kms_key, &c[8]))) {
		ecr__meta_repo_dispose(r);
		return rc;
	}
	return 0;
}

static int one_repo_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	ecr__meta_repo *r = payload;
	ecr__meta_repo_dispose(r);
	return repo_from_row(r, c, n);
}

int ecr__meta_repo_insert(ecr__txn *t, ecr__meta_repo *r)
{
	ecr_sql_value p[] = { ECR__SQL_I(r->registry_id), ECR__SQL_S(r->name), ECR__SQL_I(r->created_at),
		ECR__SQL_I(r->tag_mutability), ECR__SQL_S(r->exclusions ? r->exclusions : ""), ECR__SQL_I(r->scan_on_push),
		ECR__SQL_I(r->encryption_type), ECR__SQL_S(r->kms_key) };
	int rc = ecr__sql(t, "INSERT INTO repositories (registry_id, name, created_at, tag_mutability, exclusions, "
			     "scan_on_push, encryption_type, kms_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		p, ECR__NPARAMS(p), NULL, NULL, NULL);
	if (rc)
		return rc;
	r->id = 0;
	rc = ecr__sql(t, "SELECT id FROM repositories WHERE registry_id = ? AND name = ?", p, 2, ecr__sql_col_int, &r->id,
		NULL);
	if (!rc && !r->id)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "inserted repository not found");
	return rc;
}

int ecr__meta_repo_get(ecr__txn *t, int64_t registry_id, const char *name, ecr__meta_repo *out)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_S(name) };
	memset(out, 0, sizeof(*out));
	int rc = ecr__sql(t, "SELECT " REPO_COLS " FROM repositories WHERE registry_id = ? AND name = ?", p, 2,
		one_repo_cb, out, NULL);
	if (rc)
		return rc;
	return out->id ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_repo_get_by_id(ecr__txn *t, int64_t id, ecr__meta_repo *out)
{
	ecr_sql_value p[] = { ECR__SQL_I(id) };
	memset(out, 0, sizeof(*out));
	int rc = ecr__sql(t, "SELECT " REPO_COLS " FROM repositories WHERE id = ?", p, 1, one_repo_cb, out, NULL);
	if (rc)
		return rc;
	return out->id ? 0 : ECR_ENOTFOUND;
}

struct list_ctx {
	ecr__meta_repo_cb cb;
	void *payload;
};

static int list_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct list_ctx *ctx = payload;
	ecr__meta_repo r;
	int rc = repo_from_row(&r, c, n);
	if (rc)
		return rc;
	rc = ctx->cb(&r, ctx->payload);
	ecr__meta_repo_dispose(&r);
	return rc;
}

int ecr__meta_repo_list(ecr__txn *t, int64_t registry_id, const char *after, size_t limit, ecr__meta_repo_cb cb,
	void *payload)
{
	struct list_ctx ctx = { cb, payload };
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_S(after ? after : ""), ECR__SQL_LIMIT(limit) };
	return ecr__sql(t, "SELECT " REPO_COLS " FROM repositories WHERE registry_id = ? AND name > ? "
			   "ORDER BY name LIMIT ?",
		p, 3, list_row_cb, &ctx, NULL);
}

int ecr__meta_repo_update(ecr__txn *t, const ecr__meta_repo *r)
{
	int64_t changes = 0;
	ecr_sql_value p[] = { ECR__SQL_I(r->tag_mutability), ECR__SQL_S(r->exclusions ? r->exclusions : ""),
		ECR__SQL_I(r->scan_on_push), ECR__SQL_I(r->id) };
	int rc = ecr__sql(t, "UPDATE repositories SET tag_mutability = ?, exclusions = ?, scan_on_push = ? WHERE id = ?",
		p, 4, NULL, NULL, &changes);
	if (rc)
		return rc;
	return changes ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_repo_delete(ecr__txn *t, int64_t repo_id)
{
	/* Children first, so the result doesn't depend on foreign-key cascades. */
	static const char *const stmts[] = {
		"DELETE FROM tags WHERE repository_id = ?",
		"DELETE FROM image_refs WHERE repository_id = ?",
		"DELETE FROM image_manifests WHERE repository_id = ?",
		"DELETE FROM images WHERE repository_id = ?",
		"DELETE FROM blob_links WHERE repository_id = ?",
		"DELETE FROM uploads WHERE repository_id = ?",
		"DELETE FROM resource_tags WHERE repository_id = ?",
		"DELETE FROM policies WHERE repository_id = ?",
		"DELETE FROM lifecycle_policies WHERE repository_id = ?",
		"DELETE FROM image_scans WHERE repository_id = ?",
	};
	ecr_sql_value p[] = { ECR__SQL_I(repo_id) };
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		int rc = ecr__sql(t, stmts[i], p, 1, NULL, NULL, NULL);
		if (rc)
			return rc;
	}
	return ecr__sql_change(t, "DELETE FROM repositories WHERE id = ?", p, 1, ECR_ENOTFOUND);
}

int ecr__meta_repo_image_count(ecr__txn *t, int64_t repo_id, int64_t *count_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id) };
	*count_out = 0;
	return ecr__sql(t, "SELECT COUNT(*) FROM images WHERE repository_id = ?", p, 1, ecr__sql_col_int, count_out, NULL);
}

int ecr__meta_rtag_set(ecr__txn *t, int64_t repo_id, const char *key, const char *value)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(key), ECR__SQL_S(value) };
	return ecr__sql(t, "INSERT INTO resource_tags (repository_id, key, value) VALUES (?, ?, ?) "
			   "ON CONFLICT (repository_id, key) DO UPDATE SET value = excluded.value",
		p, 3, NULL, NULL, NULL);
}

int ecr__meta_rtag_delete(ecr__txn *t, int64_t repo_id, const char *key)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(key) };
	return ecr__sql(t, "DELETE FROM resource_tags WHERE repository_id = ? AND key = ?", p, 2, NULL, NULL, NULL);
}

int ecr__meta_rtag_count(ecr__txn *t, int64_t repo_id, int64_t *count_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id) };
	*count_out = 0;
	return ecr__sql(t, "SELECT COUNT(*) FROM resource_tags WHERE repository_id = ?", p, 1, ecr__sql_col_int,
		count_out, NULL);
}

struct rtag_ctx {
	ecr_resource_tag_cb cb;
	void *payload;
};

static int rtag_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct rtag_ctx *ctx = payload;
	if (n < 2)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "resource tag row has %zu columns", n);
	return ctx->cb(c[0].s ? c[0].s : "", c[1].s ? c[1].s : "", ctx->payload);
}

int ecr__meta_rtag_list(ecr__txn *t, int64_t repo_id, ecr_resource_tag_cb cb, void *payload)
{
	struct rtag_ctx ctx = { cb, payload };
	ecr_sql_value p[] = { ECR__SQL_I(repo_id) };
	return ecr__sql(t, "SELECT key, value FROM resource_tags WHERE repository_id = ? ORDER BY key", p, 1,
		rtag_row_cb, &ctx, NULL);
}
