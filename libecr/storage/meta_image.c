/* Images, their references, tags. */
#include "meta.h"

#define IMAGE_COLS "repository_id, digest, media_type, artifact_type, subject, manifest_size, image_size, pushed_at, " \
		   "last_pulled_at, storage_class, status, last_archived_at, last_activated_at"

void ecr__meta_image_dispose(ecr__meta_image *img)
{
	if (!img)
		return;
	ecr__free(img->digest);
	ecr__free(img->media_type);
	ecr__free(img->artifact_type);
	ecr__free(img->subject);
	memset(img, 0, sizeof(*img));
}

static int dup_col(char **out, const ecr_sql_value *v)
{
	*out = NULL;
	if (v->type != ECR_SQL_TEXT)
		return 0;
	*out = ecr__strndup(v->s, v->len);
	return *out ? 0 : ECR_ENOMEM;
}

static int image_from_row(ecr__meta_image *img, const ecr_sql_value *c, size_t n)
{
	memset(img, 0, sizeof(*img));
	if (n < 13)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "image row has %zu columns", n);
	img->repo_id = c[0].i;
	img->manifest_size = c[5].i;
	img->image_size = c[6].i;
	img->pushed_at = c[7].i;
	img->last_pulled_at = c[8].i;
	img->storage_class = (int)c[9].i;
	img->status = (int)c[10].i;
	img->last_archived_at = c[11].i;
	img->last_activated_at = c[12].i;
	int rc;
	if ((rc = dup_col(&img->digest, &c[1])) || (rc = dup_col(&img->media_type, &c[2])) ||
		(rc = dup_col(&img->artifact_type, &c[3])) || (rc = dup_col(&img->subject, &c[4]))) {
		ecr__meta_image_dispose(img);
		return rc;
	}
	return 0;
}

static int one_image_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	ecr__meta_image *img = payload;
	ecr__meta_image_dispose(img);
	return image_from_row(img, c, n);
}

int ecr__meta_image_insert(ecr__txn *t, const ecr__meta_image *img)
{
	ecr_sql_value p[] = { ECR__SQL_I(img->repo_id), ECR__SQL_S(img->digest), ECR__SQL_S(img->media_type),
		ECR__SQL_S(img->artifact_type), ECR__SQL_S(img->subject), ECR__SQL_I(img->manifest_size),
		ECR__SQL_I(img->image_size), ECR__SQL_I(img->pushed_at), ECR__SQL_I(img->last_pulled_at),
		ECR__SQL_I(img->storage_class), ECR__SQL_I(img->status), ECR__SQL_I(img->last_archived_at),
		ECR__SQL_I(img->last_activated_at) };
	return ecr__sql(t, "INSERT INTO images (" IMAGE_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", p,
		ECR__NPARAMS(p), NULL, NULL, NULL);
}

int ecr__meta_image_get(ecr__txn *t, int64_t repo_id, const char *digest, ecr__meta_image *out)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(digest) };
	memset(out, 0, sizeof(*out));
	int rc = ecr__sql(t, "SELECT " IMAGE_COLS " FROM images WHERE repository_id = ? AND digest = ?", p, 2,
		one_image_cb, out, NULL);
	if (rc)
		return rc;
	return out->digest ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_image_delete(ecr__txn *t, int64_t repo_id, const char *digest)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(digest) };
	int rc = ecr__sql(t, "DELETE FROM tags WHERE repository_id = ? AND digest = ?", p, 2, NULL, NULL, NULL);
	if (!rc)
		rc = ecr__sql(t, "DELETE FROM image_refs WHERE repository_id = ? AND parent = ?", p, 2, NULL, NULL, NULL);
	if (!rc)
		rc = ecr__sql(t, "DELETE FROM image_manifests WHERE repository_id = ? AND digest = ?", p, 2, NULL, NULL,
			NULL);
	if (!rc)
		rc = ecr__sql(t, "DELETE FROM image_scans WHERE repository_id = ? AND digest = ?", p, 2, NULL, NULL, NULL);
	if (rc)
		return rc;
	return ecr__sql_change(t, "DELETE FROM images WHERE repository_id = ? AND digest = ?", p, 2, ECR_ENOTFOUND);
}

int ecr__meta_manifest_put(ecr__txn *t, int64_t repo_id, const char *digest, const void *body, size_t len)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(digest), { ECR_SQL_BLOB, 0, body, len } };
	return ecr__sql(t, "INSERT INTO image_manifests (repository_id, digest, body) VALUES (?, ?, ?) "
			   "ON CONFLICT (repository_id, digest) DO NOTHING",
		p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

typedef struct manifest_ctx {
	ecr_buf *out;
	bool found;
} manifest_ctx;

static int manifest_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	manifest_ctx *x = payload;
	if (n != 1 || (c[0].type != ECR_SQL_BLOB && c[0].type != ECR_SQL_TEXT) || (!c[0].s && c[0].len))
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "malformed manifest row");
	x->found = true;
	return ecr__buf_put(x->out, c[0].s ? c[0].s : "", c[0].len);
}

int ecr__meta_manifest_get(ecr__txn *t, int64_t repo_id, const char *digest, ecr_buf *out)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(digest) };
	manifest_ctx x = { out, false };
	int rc = ecr__sql(t, "SELECT body FROM image_manifests WHERE repository_id = ? AND digest = ?", p, 2,
		manifest_row_cb, &x, NULL);
	if (rc)
		return rc;
	return x.found ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_image_touch_pull(ecr__txn *t, int64_t repo_id, const char *digest, int64_t now)
{
	ecr_sql_value p[] = { ECR__SQL_I(now), ECR__SQL_I(repo_id), ECR__SQL_S(digest) };
	return ecr__sql(t, "UPDATE images SET last_pulled_at = ? WHERE repository_id = ? AND digest = ?", p, 3, NULL, NULL,
		NULL);
}

int ecr__meta_image_set_state(ecr__txn *t, const ecr__meta_image *img)
{
	ecr_sql_value p[] = { ECR__SQL_I(img->storage_class), ECR__SQL_I(img->status), ECR__SQL_I(img->last_archived_at),
		ECR__SQL_I(img->last_activated_at), ECR__SQL_I(img->repo_id), ECR__SQL_S(img->digest) };
	return ecr__sql_change(
	    t,
	    "UPDATE images SET storage_class = ?, status = ?, last_archived_at = ?, last_activated_at = ? "
	    "WHERE repository_id = ? AND digest = ?",
	    p, ECR__NPARAMS(p), ECR_ENOTFOUND);
}

struct image_list_ctx {
	ecr__meta_image_cb cb;
	void *payload;
};

static int image_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct image_list_ctx *ctx = payload;
	ecr__meta_image img;
	int rc = image_from_row(&img, c, n);
	if (rc)
		return rc;
	rc = ctx->cb(&img, ctx->payload);
	ecr__meta_image_dispose(&img);
	return rc;
}

int ecr__meta_image_list(ecr__txn *t, int64_t repo_id, const char *after, ecr_tag_status status,
	uint32_t status_mask, const char *subject, const char *artifact_type, size_t limit, ecr__meta_image_cb cb,
	void *payload)
{
	struct image_list_ctx ctx = { cb, payload };
	/* One statement per filter combination keeps the SQL static (and cacheable). */
	static const char *const by_status[3] = {
		"SELECT " IMAGE_COLS " FROM images i WHERE repository_id = ? AND digest > ? "
		"AND (CAST(? AS TEXT) IS NULL OR subject = ?) AND (CAST(? AS TEXT) IS NULL OR artifact_type = ?) "
		"AND (? = 0 OR ((1 << CAST(status AS INTEGER)) & ?) <> 0) "
		"ORDER BY digest LIMIT ?",
		"SELECT " IMAGE_COLS " FROM images i WHERE repository_id = ? AND digest > ? "
		"AND (CAST(? AS TEXT) IS NULL OR subject = ?) AND (CAST(? AS TEXT) IS NULL OR artifact_type = ?) "
		"AND (? = 0 OR ((1 << CAST(status AS INTEGER)) & ?) <> 0) "
		"AND EXISTS (SELECT 1 FROM tags g WHERE g.repository_id = i.repository_id AND g.digest = i.digest) "
		"ORDER BY digest LIMIT ?",
		"SELECT " IMAGE_COLS " FROM images i WHERE repository_id = ? AND digest > ? "
		"AND (CAST(? AS TEXT) IS NULL OR subject = ?) AND (CAST(? AS TEXT) IS NULL OR artifact_type = ?) "
		"AND (? = 0 OR ((1 << CAST(status AS INTEGER)) & ?) <> 0) "
		"AND NOT EXISTS (SELECT 1 FROM tags g WHERE g.repository_id = i.repository_id AND g.digest = i.digest) "
		"ORDER BY digest LIMIT ?",
	};
	if ((unsigned)status > 2)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid tag status %d", (int)status);
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(after ? after : ""), ECR__SQL_S(subject),
		ECR__SQL_S(subject), ECR__SQL_S(artifact_type), ECR__SQL_S(artifact_type), ECR__SQL_I(status_mask),
		ECR__SQL_I(status_mask), ECR__SQL_LIMIT(limit) };
	return ecr__sql(t, by_status[status], p, ECR__NPARAMS(p), image_row_cb, &ctx, NULL);
}

int ecr__meta_ref_insert(ecr__txn *t, int64_t repo_id, const char *parent, const char *child, int kind, int64_t size)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(parent), ECR__SQL_S(child), ECR__SQL_I(kind),
		ECR__SQL_I(size) };
	return ecr__sql(t, "INSERT INTO image_refs (repository_id, parent, child, kind, size) VALUES (?, ?, ?, ?, ?) "
			   "ON CONFLICT (repository_id, parent, child) DO NOTHING",
		p, 5, NULL, NULL, NULL);
}

int ecr__meta_ref_parent_count(ecr__txn *t, int64_t repo_id, const char *child, int kind, int64_t *count_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(child), ECR__SQL_I(kind) };
	*count_out = 0;
	return ecr__sql(t, "SELECT COUNT(*) FROM image_refs WHERE repository_id = ? AND child = ? AND kind = ?", p, 3,
		ecr__sql_col_int, count_out, NULL);
}

int ecr__meta_tag_get(ecr__txn *t, int64_t repo_id, const char *tag, char **digest_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(tag) };
	*digest_out = NULL;
	int rc = ecr__sql(t, "SELECT digest FROM tags WHERE repository_id = ? AND name = ?", p, 2, ecr__sql_col_str,
		digest_out, NULL);
	if (rc)
		return rc;
	return *digest_out ? 0 : ECR_ENOTFOUND;
}

int ecr__meta_tag_set(ecr__txn *t, int64_t repo_id, const char *tag, const char *digest, int64_t now)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(tag), ECR__SQL_S(digest), ECR__SQL_I(now) };
	return ecr__sql(t, "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?) "
			   "ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, "
			   "updated_at = excluded.updated_at",
		p, 4, NULL, NULL, NULL);
}

int ecr__meta_tag_delete(ecr__txn *t, int64_t repo_id, const char *tag)
{
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(tag) };
	return ecr__sql_change(t, "DELETE FROM tags WHERE repository_id = ? AND name = ?", p, 2, ECR_ENOTFOUND);
}

struct tag_ctx {
	ecr__meta_tag_cb cb;
	void *payload;
};

static int tag_row_cb(const ecr_sql_value *c, size_t n, void *payload)
{
	struct tag_ctx *ctx = payload;
	if (n < 2 || c[0].type != ECR_SQL_TEXT || c[1].type != ECR_SQL_TEXT)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "malformed tag row");
	return ctx->cb(c[0].s, c[1].s, ctx->payload);
}

int ecr__meta_tag_list(ecr__txn *t, int64_t repo_id, const char *after, size_t limit, ecr__meta_tag_cb cb,
	void *payload)
{
	struct tag_ctx ctx = { cb, payload };
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(after ? after : ""), ECR__SQL_LIMIT(limit) };
	return ecr__sql(t, "SELECT name, digest FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?", p,
		3, tag_row_cb, &ctx, NULL);
}

int ecr__meta_tags_of_image(ecr__txn *t, int64_t repo_id, const char *digest, ecr__meta_tag_cb cb, void *payload)
{
	struct tag_ctx ctx = { cb, payload };
	ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(digest) };
	return ecr__sql(t, "SELECT name, digest FROM tags WHERE repository_id = ? AND digest = ? ORDER BY name", p, 2,
		tag_row_cb, &ctx, NULL);
}
