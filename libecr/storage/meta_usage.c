/* Usage metering: the usage_daily counters and the stored-bytes queries. */
#include "meta.h"

int ecr__meta_usage_add(ecr__txn *t, int64_t registry_id, const char *repository, int64_t day,
	const ecr__meta_usage_counts *c)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_S(repository), ECR__SQL_I(day),
		ECR__SQL_I(c->pushed_bytes), ECR__SQL_I(c->pulled_bytes), ECR__SQL_I(c->image_pushes),
		ECR__SQL_I(c->image_pulls), ECR__SQL_I(c->blob_uploads), ECR__SQL_I(c->blob_downloads) };
	return ecr__sql(t,
		"INSERT INTO usage_daily (registry_id, repository, day, pushed_bytes, pulled_bytes, image_pushes, "
		"image_pulls, blob_uploads, blob_downloads) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
		"ON CONFLICT (registry_id, repository, day) DO UPDATE SET "
		"pushed_bytes = usage_daily.pushed_bytes + excluded.pushed_bytes, "
		"pulled_bytes = usage_daily.pulled_bytes + excluded.pulled_bytes, "
		"image_pushes = usage_daily.image_pushes + excluded.image_pushes, "
		"image_pulls = usage_daily.image_pulls + excluded.image_pulls, "
		"blob_uploads = usage_daily.blob_uploads + excluded.blob_uploads, "
		"blob_downloads = usage_daily.blob_downloads + excluded.blob_downloads",
		p, ECR__NPARAMS(p), NULL, NULL, NULL);
}

struct transfer_ctx {
	ecr__meta_usage_transfer_cb cb;
	void *payload;
};

static int transfer_row(const ecr_sql_value *cols, size_t n, void *payload)
{
	struct transfer_ctx *x = payload;
	char *name = NULL;
	if (n < 7)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "usage query returned %zu columns", n);
	int rc = ecr__sql_dup(&name, &cols[0]);
	if (rc)
		return rc;
	ecr__meta_usage_counts c = { ecr__sql_int(&cols[1]), ecr__sql_int(&cols[2]), ecr__sql_int(&cols[3]),
		ecr__sql_int(&cols[4]), ecr__sql_int(&cols[5]), ecr__sql_int(&cols[6]) };
	rc = x->cb(name ? name : "", &c, x->payload);
	ecr__free(name);
	return rc;
}

int ecr__meta_usage_transfer(ecr__txn *t, int64_t registry_id, const char *repository, int64_t from_day,
	int64_t to_day, ecr__meta_usage_transfer_cb cb, void *payload)
{
	struct transfer_ctx x = { cb, payload };
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_I(from_day), ECR__SQL_I(to_day),
		ECR__SQL_S(repository) };
	return ecr__sql(t,
		repository ? "SELECT repository, SUM(pushed_bytes), SUM(pulled_bytes), SUM(image_pushes), SUM(image_pulls), "
			     "SUM(blob_uploads), SUM(blob_downloads) FROM usage_daily "
			     "WHERE registry_id = ? AND day >= ? AND day < ? AND repository = ? GROUP BY repository"
			   : "SELECT repository, SUM(pushed_bytes), SUM(pulled_bytes), SUM(image_pushes), SUM(image_pulls), "
			     "SUM(blob_uploads), SUM(blob_downloads) FROM usage_daily "
			     "WHERE registry_id = ? AND day >= ? AND day < ? GROUP BY repository ORDER BY repository",
		p, repository ? 4 : 3, transfer_row, &x, NULL);
}

struct stored_ctx {
	ecr__meta_usage_stored_cb cb;
	void *payload;
};

static int stored_row(const ecr_sql_value *cols, size_t n, void *payload)
{
	struct stored_ctx *x = payload;
	char *name = NULL;
	if (n < 4)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "usage query returned %zu columns", n);
	int rc = ecr__sql_dup(&name, &cols[0]);
	if (rc)
		return rc;
	rc = x->cb(name ? name : "", ecr__sql_int(&cols[1]), ecr__sql_int(&cols[2]) + ecr__sql_int(&cols[3]),
		x->payload);
	ecr__free(name);
	return rc;
}

/* A repository's blobs once each: of the references to a child, the one from the smallest parent. */
#define STORED_SELECT                                                                                                 \
	"SELECT r.name, "                                                                                              \
	"(SELECT COUNT(*) FROM images i WHERE i.repository_id = r.id), "                                              \
	"(SELECT COALESCE(SUM(i.manifest_size), 0) FROM images i WHERE i.repository_id = r.id), "                     \
	"(SELECT COALESCE(SUM(f.size), 0) FROM image_refs f WHERE f.repository_id = r.id AND f.kind = 0 "              \
	"AND f.parent = (SELECT MIN(g.parent) FROM image_refs g WHERE g.repository_id = f.repository_id "             \
	"AND g.child = f.child AND g.kind = 0)) "                                                                      \
	"FROM repositories r WHERE r.registry_id = ?"

int ecr__meta_usage_stored(ecr__txn *t, int64_t registry_id, const char *repository, ecr__meta_usage_stored_cb cb,
	void *payload)
{
	struct stored_ctx x = { cb, payload };
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_S(repository) };
	return ecr__sql(t, repository ? STORED_SELECT " AND r.name = ?" : STORED_SELECT " ORDER BY r.name", p,
		repository ? 2 : 1, stored_row, &x, NULL);
}

int ecr__meta_usage_unique(ecr__txn *t, int64_t registry_id, int64_t *bytes_out)
{
	ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_I(registry_id) };
	*bytes_out = 0;
	return ecr__sql(t,
		"SELECT COALESCE(SUM(u.size), 0) FROM (SELECT d, MAX(size) AS size FROM ("
		"SELECT i.digest AS d, i.manifest_size AS size FROM images i JOIN repositories r ON r.id = i.repository_id "
		"WHERE r.registry_id = ? "
		"UNION ALL "
		"SELECT f.child AS d, f.size AS size FROM image_refs f JOIN repositories r ON r.id = f.repository_id "
		"WHERE r.registry_id = ? AND f.kind = 0) AS a GROUP BY d) AS u",
		p, 2, ecr__sql_col_int, bytes_out, NULL);
}
