/* Lifecycle policies, archived blobs, and the reference queries that lifecycle and archiving need. */
#include "meta.h"

struct policy_row {
	char *doc;
	int64_t last_evaluated_at;
};

static int policy_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct policy_row *r = payload;
	if (n < 2)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "lifecycle policy row has %zu columns", n);
	r->last_evaluated_at = ecr__sql_int(&c[1]);
	return ecr__sql_col_str(c, n, &r->doc);
}

int ecr__meta_lifecycle_get(ecr__txn *t, int64_t repo_id, char **doc_out, int64_t *last_evaluated_at_out)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id)};
	struct policy_row r = {NULL, 0};
	*doc_out = NULL;
	int rc = ecr__sql(t, "SELECT document, last_evaluated_at FROM lifecycle_policies WHERE repository_id = ?", p,
	                  ECR__NPARAMS(p), policy_row_cb, &r, NULL);
	if (rc) {
		ecr__free(r.doc);
		return rc;
	}
	if (!r.doc)
		return ECR_ENOTFOUND;
	*doc_out = r.doc;
	if (last_evaluated_at_out)
		*last_evaluated_at_out = r.last_evaluated_at;
	return 0;
}

int ecr__meta_lifecycle_put(ecr__txn *t, int64_t repo_id, const char *document)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_S(document)};
	return ecr__sql(t,
	                "INSERT INTO lifecycle_policies (repository_id, document, last_evaluated_at) VALUES (?, ?, 0) "
	                "ON CONFLICT (repository_id) DO UPDATE SET document = excluded.document",
	                p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

int ecr__meta_lifecycle_delete(ecr__txn *t, int64_t repo_id)
{
	ecr_sql_value p[] = {ECR__SQL_I(repo_id)};
	return ecr__sql_change(t, "DELETE FROM lifecycle_policies WHERE repository_id = ?", p, ECR__NPARAMS(p),
	                       ECR_ENOTFOUND);
}

int ecr__meta_lifecycle_evaluated(ecr__txn *t, int64_t repo_id, int64_t now)
{
	ecr_sql_value p[] = {ECR__SQL_I(now), ECR__SQL_I(repo_id)};
	return ecr__sql_change(t, "UPDATE lifecycle_policies SET last_evaluated_at = ? WHERE repository_id = ?", p,
	                       ECR__NPARAMS(p), ECR_ENOTFOUND);
}

struct pair_ctx {
	ecr__meta_ref_cb cb;
	void *payload;
};

static int pair_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct pair_ctx *ctx = payload;
	if (n < 2 || c[0].type != ECR_SQL_TEXT || c[1].type != ECR_SQL_TEXT)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "malformed reference row");
	return ctx->cb(c[0].s, c[1].s, ctx->payload);
}

int ecr__meta_ref_list_kind(ecr__txn *t, int64_t repo_id, int kind, ecr__meta_ref_cb cb, void *payload)
{
	struct pair_ctx ctx = {cb, payload};
	ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_I(kind)};
	return ecr__sql(t,
	                "SELECT parent, child FROM image_refs WHERE repository_id = ? AND kind = ? "
	                "ORDER BY child, parent",
	                p, ECR__NPARAMS(p), pair_row_cb, &ctx, NULL);
}

int ecr__meta_ref_list_of(ecr__txn *t, int64_t repo_id, const char *parent, int kind, ecr__meta_ref_cb cb,
                          void *payload)
{
	struct pair_ctx ctx = {cb, payload};
	ecr_sql_value p[] = {ECR__SQL_I(repo_id), ECR__SQL_S(parent), ECR__SQL_I(kind), ECR__SQL_I(kind)};
	return ecr__sql(t,
	                "SELECT parent, child FROM image_refs WHERE repository_id = ? AND parent = ? "
	                "AND (? < 0 OR kind = ?) ORDER BY child",
	                p, ECR__NPARAMS(p), pair_row_cb, &ctx, NULL);
}

struct tag_all_ctx {
	ecr__meta_tag_cb cb;
	void *payload;
};

static int tag_all_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct tag_all_ctx *ctx = payload;
	if (n < 2 || c[0].type != ECR_SQL_TEXT || c[1].type != ECR_SQL_TEXT)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "malformed tag row");
	return ctx->cb(c[0].s, c[1].s, ctx->payload);
}

int ecr__meta_tag_list_all(ecr__txn *t, int64_t repo_id, ecr__meta_tag_cb cb, void *payload)
{
	struct tag_all_ctx ctx = {cb, payload};
	ecr_sql_value p[] = {ECR__SQL_I(repo_id)};
	return ecr__sql(t, "SELECT name, digest FROM tags WHERE repository_id = ? ORDER BY digest, name", p,
	                ECR__NPARAMS(p), tag_all_row_cb, &ctx, NULL);
}

int ecr__meta_blob_needed_active(ecr__txn *t, const char *digest, bool *out)
{
	ecr_sql_value p[] = {ECR__SQL_S(digest), ECR__SQL_I(ECR_IMAGE_ARCHIVED), ECR__SQL_S(digest),
	                     ECR__SQL_I(ECR_IMAGE_ARCHIVED)};
	int64_t v = 0;
	int rc = ecr__sql(
	    t,
	    "SELECT CASE WHEN EXISTS (SELECT 1 FROM image_refs r JOIN images i "
	    "ON i.repository_id = r.repository_id AND i.digest = r.parent WHERE r.child = ? AND i.status <> ?) "
	    "OR EXISTS (SELECT 1 FROM images WHERE digest = ? AND status <> ?) THEN 1 ELSE 0 END",
	    p, ECR__NPARAMS(p), ecr__sql_col_int, &v, NULL);
	if (rc)
		return rc;
	*out = v != 0;
	return 0;
}

static int copy_text(char *dst, size_t cap, const ecr_sql_value *v)
{
	if (v->type != ECR_SQL_TEXT || v->len >= cap)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "malformed archived blob row");
	memcpy(dst, v->s, v->len);
	dst[v->len] = '\0';
	return 0;
}

static int archived_from_row(ecr__meta_archived_blob *b, const ecr_sql_value *c, size_t n)
{
	int rc;
	memset(b, 0, sizeof(*b));
	if (n < 5)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "archived blob row has %zu columns", n);
	if ((rc = copy_text(b->digest, sizeof(b->digest), &c[0])) ||
	    (rc = copy_text(b->compressed_digest, sizeof(b->compressed_digest), &c[1])))
		return rc;
	b->size = ecr__sql_int(&c[2]);
	b->compressed_size = ecr__sql_int(&c[3]);
	b->archived_at = ecr__sql_int(&c[4]);
	return 0;
}

#define ARCHIVED_COLS "digest, compressed_digest, size, compressed_size, archived_at"

int ecr__meta_archived_blob_put(ecr__txn *t, const ecr__meta_archived_blob *b)
{
	ecr_sql_value p[] = {ECR__SQL_S(b->digest), ECR__SQL_S(b->compressed_digest), ECR__SQL_I(b->size),
	                     ECR__SQL_I(b->compressed_size), ECR__SQL_I(b->archived_at)};
	return ecr__sql(
	    t,
	    "INSERT INTO archived_blobs (" ARCHIVED_COLS ") VALUES (?, ?, ?, ?, ?) "
	    "ON CONFLICT (digest) DO UPDATE SET compressed_digest = excluded.compressed_digest, "
	    "size = excluded.size, compressed_size = excluded.compressed_size, archived_at = excluded.archived_at",
	    p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

struct archived_one {
	bool found;
	ecr__meta_archived_blob *out;
};

static int archived_one_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct archived_one *a = payload;
	int rc = archived_from_row(a->out, c, n);
	if (!rc)
		a->found = true;
	return rc;
}

int ecr__meta_archived_blob_get(ecr__txn *t, const char *digest, ecr__meta_archived_blob *out)
{
	ecr_sql_value p[] = {ECR__SQL_S(digest)};
	struct archived_one a = {false, out};
	int rc = ecr__sql(t, "SELECT " ARCHIVED_COLS " FROM archived_blobs WHERE digest = ?", p, ECR__NPARAMS(p),
	                  archived_one_cb, &a, NULL);
	if (rc)
		return rc;
	return a.found ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_archived_blob_delete(ecr__txn *t, const char *digest)
{
	ecr_sql_value p[] = {ECR__SQL_S(digest)};
	return ecr__sql(t, "DELETE FROM archived_blobs WHERE digest = ?", p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

struct archived_list {
	ecr__meta_archived_blob_cb cb;
	void *payload;
};

static int archived_list_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct archived_list *l = payload;
	ecr__meta_archived_blob b;
	int rc = archived_from_row(&b, c, n);
	return rc ? rc : l->cb(&b, l->payload);
}

int ecr__meta_archived_blob_unneeded(ecr__txn *t, ecr__meta_archived_blob_cb cb, void *payload)
{
	struct archived_list l = {cb, payload};
	ecr_sql_value p[] = {ECR__SQL_I(ECR_IMAGE_ACTIVE), ECR__SQL_I(ECR_IMAGE_ACTIVE)};
	return ecr__sql(
	    t,
	    "SELECT " ARCHIVED_COLS " FROM archived_blobs a WHERE NOT EXISTS (SELECT 1 FROM image_refs r JOIN images i "
	    "ON i.repository_id = r.repository_id AND i.digest = r.parent WHERE r.child = a.digest AND i.status <> ?) "
	    "AND NOT EXISTS (SELECT 1 FROM images i WHERE i.digest = a.digest AND i.status <> ?) ORDER BY digest",
	    p, ECR__NPARAMS(p), archived_list_cb, &l, NULL);
}

int ecr__meta_blob_linked(ecr__txn *t, const char *digest, bool *out)
{
	ecr_sql_value p[] = {ECR__SQL_S(digest)};
	int64_t v = 0;
	int rc = ecr__sql(t, "SELECT CASE WHEN EXISTS (SELECT 1 FROM blob_links WHERE digest = ?) THEN 1 ELSE 0 END", p,
	                  ECR__NPARAMS(p), ecr__sql_col_int, &v, NULL);
	if (rc)
		return rc;
	*out = v != 0;
	return 0;
}
