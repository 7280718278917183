/* SQL for blob links, upload sessions and garbage collection (see meta.h). */
#include "meta.h"

/* Longest digest we store ("sha512:" + 128 hex) with room to spare. */
#define DIGEST_BUF 160

/* Read an INT column, accepting NULL as 0. */
int ecr__meta_link_set(ecr__txn *t, int64_t repo_id, const char *digest, int64_t size, int64_t now)
{
	const ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(digest), ECR__SQL_I(size), ECR__SQL_I(now) };
	return ecr__sql(t,
		"INSERT INTO blob_links(repository_id, digest, size, created_at) VALUES(?, ?, ?, ?) "
		"ON CONFLICT(repository_id, digest) "
		"DO UPDATE SET size = excluded.size, created_at = excluded.created_at",
		p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

typedef struct found_int {
	bool found;
	int64_t value;
} found_int;

static int row_found_int(const ecr_sql_value *cols, size_t n, void *payload)
{
	found_int *f = payload;
	f->found = true;
	f->value = n > 0 ? ecr__sql_int(&cols[0]) : 0;
	return 0;
}

int ecr__meta_link_get(ecr__txn *t, int64_t repo_id, const char *digest, int64_t *size_out)
{
	const ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(digest) };
	found_int f = { false, 0 };
	int rc = ecr__sql(t, "SELECT size FROM blob_links WHERE repository_id = ? AND digest = ?", p, ECR__NPARAMS(p),
		row_found_int, &f, NULL);
	if (rc != 0)
		return rc;
	if (!f.found)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "the repository has no blob %.140s", digest);
	if (size_out)
		*size_out = f.value;
	return 0;
}

int ecr__meta_link_delete(ecr__txn *t, int64_t repo_id, const char *digest)
{
	const ecr_sql_value p[] = { ECR__SQL_I(repo_id), ECR__SQL_S(digest) };
	int64_t changes = 0;
	int rc = ecr__sql(t, "DELETE FROM blob_links WHERE repository_id = ? AND digest = ?", p, ECR__NPARAMS(p), NULL,
		NULL, &changes);
	if (rc != 0)
		return rc;
	if (changes == 0)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "the repository has no blob %.140s", digest);
	return 0;
}

int ecr__meta_upload_insert(ecr__txn *t, const ecr__meta_upload *u)
{
	const ecr_sql_value p[] = { ECR__SQL_S(u->id), ECR__SQL_I(u->repo_id), ECR__SQL_I(u->started_at),
		ECR__SQL_I(u->updated_at), ECR__SQL_I(u->size) };
	return ecr__sql(t, "INSERT INTO uploads(id, repository_id, started_at, updated_at, size) VALUES(?, ?, ?, ?, ?)",
		p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

/* Columns: id, repository_id, started_at, updated_at, size. */
static int upload_from_row(ecr__meta_upload *u, const ecr_sql_value *cols, size_t n)
{
	if (n < 5 || cols[0].type != ECR_SQL_TEXT || cols[0].len > ECR_UPLOAD_ID_LEN)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "malformed upload session row");
	memset(u, 0, sizeof(*u));
	memcpy(u->id, cols[0].s, cols[0].len);
	u->id[cols[0].len] = '\0';
	u->repo_id = ecr__sql_int(&cols[1]);
	u->started_at = ecr__sql_int(&cols[2]);
	u->updated_at = ecr__sql_int(&cols[3]);
	u->size = ecr__sql_int(&cols[4]);
	return 0;
}

typedef struct upload_get_ctx {
	bool found;
	ecr__meta_upload *out;
} upload_get_ctx;

static int row_upload_get(const ecr_sql_value *cols, size_t n, void *payload)
{
	upload_get_ctx *c = payload;
	int rc = upload_from_row(c->out, cols, n);
	if (rc == 0)
		c->found = true;
	return rc;
}

int ecr__meta_upload_get(ecr__txn *t, const char *id, ecr__meta_upload *out)
{
	const ecr_sql_value p[] = { ECR__SQL_S(id) };
	upload_get_ctx c = { false, out };
	int rc = ecr__sql(t, "SELECT id, repository_id, started_at, updated_at, size FROM uploads WHERE id = ?", p,
		ECR__NPARAMS(p), row_upload_get, &c, NULL);
	if (rc != 0)
		return rc;
	if (!c.found)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_UPLOAD, "no upload session %.40s", id);
	return 0;
}

int ecr__meta_upload_update(ecr__txn *t, const char *id, int64_t size, int64_t now)
{
	const ecr_sql_value p[] = { ECR__SQL_I(size), ECR__SQL_I(now), ECR__SQL_S(id) };
	int64_t changes = 0;
	int rc = ecr__sql(t, "UPDATE uploads SET size = ?, updated_at = ? WHERE id = ?", p, ECR__NPARAMS(p), NULL,
		NULL, &changes);
	if (rc != 0)
		return rc;
	if (changes == 0)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_UPLOAD, "no upload session %.40s", id);
	return 0;
}

int ecr__meta_upload_delete(ecr__txn *t, const char *id)
{
	const ecr_sql_value p[] = { ECR__SQL_S(id) };
	int64_t changes = 0;
	int rc = ecr__sql(t, "DELETE FROM uploads WHERE id = ?", p, ECR__NPARAMS(p), NULL, NULL, &changes);
	if (rc != 0)
		return rc;
	if (changes == 0)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_UPLOAD, "no upload session %.40s", id);
	return 0;
}

typedef struct upload_list_ctx {
	ecr__meta_upload_cb cb;
	void *payload;
} upload_list_ctx;

static int row_upload_list(const ecr_sql_value *cols, size_t n, void *payload)
{
	upload_list_ctx *c = payload;
	ecr__meta_upload u;
	int rc = upload_from_row(&u, cols, n);
	if (rc != 0)
		return rc;
	return c->cb(&u, c->payload);
}

int ecr__meta_upload_list_expired(ecr__txn *t, int64_t before, ecr__meta_upload_cb cb, void *payload)
{
	const ecr_sql_value p[] = { ECR__SQL_I(before) };
	upload_list_ctx c = { cb, payload };
	return ecr__sql(t,
		"SELECT id, repository_id, started_at, updated_at, size FROM uploads WHERE updated_at < ? ORDER BY id",
		p, ECR__NPARAMS(p), row_upload_list, &c, NULL);
}

typedef struct link_list_ctx {
	ecr__meta_link_cb cb;
	void *payload;
} link_list_ctx;

static int row_link_list(const ecr_sql_value *cols, size_t n, void *payload)
{
	link_list_ctx *c = payload;
	char digest[DIGEST_BUF];
	if (n < 2 || cols[1].type != ECR_SQL_TEXT || cols[1].len >= sizeof(digest))
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "malformed blob link row");
	memcpy(digest, cols[1].s, cols[1].len);
	digest[cols[1].len] = '\0';
	return c->cb(ecr__sql_int(&cols[0]), digest, c->payload);
}

int ecr__meta_gc_stale_links(ecr__txn *t, int64_t before, ecr__meta_link_cb cb, void *payload)
{
	const ecr_sql_value p[] = { ECR__SQL_I(before) };
	link_list_ctx c = { cb, payload };
	return ecr__sql(t,
		"SELECT l.repository_id, l.digest FROM blob_links l WHERE l.created_at < ? "
		"AND NOT EXISTS (SELECT 1 FROM image_refs r "
		"WHERE r.repository_id = l.repository_id AND r.child = l.digest) "
		"AND NOT EXISTS (SELECT 1 FROM images i "
		"WHERE i.repository_id = l.repository_id AND i.digest = l.digest) "
		"ORDER BY l.repository_id, l.digest",
		p, ECR__NPARAMS(p), row_link_list, &c, NULL);
}

int ecr__meta_blob_referenced(ecr__txn *t, const char *digest, bool *out)
{
	const ecr_sql_value p[] = { ECR__SQL_S(digest), ECR__SQL_S(digest), ECR__SQL_S(digest), ECR__SQL_S(digest) };
	found_int f = { false, 0 };
	/* A compressed copy of an archived blob is kept while its archived_blobs row exists. */
	int rc = ecr__sql(t,
		"SELECT CASE WHEN EXISTS (SELECT 1 FROM blob_links WHERE digest = ?) "
		"OR EXISTS (SELECT 1 FROM images i WHERE i.digest = ? AND NOT EXISTS (SELECT 1 FROM image_manifests m "
		"WHERE m.repository_id = i.repository_id AND m.digest = i.digest)) "
		"OR EXISTS (SELECT 1 FROM image_refs WHERE child = ?) "
		"OR EXISTS (SELECT 1 FROM archived_blobs WHERE compressed_digest = ?) THEN 1 ELSE 0 END",
		p, ECR__NPARAMS(p), row_found_int, &f, NULL);
	if (rc != 0)
		return rc;
	*out = f.found && f.value != 0;
	return 0;
}
