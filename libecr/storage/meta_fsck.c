/* The queries of the consistency check (meta_fsck.h). */
#include "meta_fsck.h"

/* "registry_id = ? or every registry": the id twice. */
#define REG_FILTER "(? = 0 OR r.registry_id = ?)"
#define REG_PARAMS(id) ECR__SQL_I(id), ECR__SQL_I(id)

typedef struct reg_ctx {
	ecr__meta_fsck_registry_cb cb;
	void *payload;
} reg_ctx;

static int row_registry(const ecr_sql_value *c, size_t n, void *payload)
{
	reg_ctx *x = payload;
	char *account = NULL, *region = NULL;
	int rc;
	if (n != 3)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "registry row has %zu columns", n);
	if (!(rc = ecr__sql_dup(&account, &c[1])) && !(rc = ecr__sql_dup(&region, &c[2])))
		rc = x->cb(ecr__sql_int(&c[0]), account ? account : "", region ? region : "", x->payload);
	ecr__free(account);
	ecr__free(region);
	return rc;
}

int ecr__meta_fsck_registries(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_registry_cb cb, void *payload)
{
	const ecr_sql_value p[] = { ECR__SQL_I(registry_id), ECR__SQL_I(registry_id) };
	reg_ctx x = { cb, payload };
	return ecr__sql(t, "SELECT id, account_id, region FROM registries WHERE (? = 0 OR id = ?) ORDER BY id", p,
		ECR__NPARAMS(p), row_registry, &x, NULL);
}

int ecr__meta_fsck_counts(ecr__txn *t, int64_t registry_id, int64_t *repos, int64_t *images, int64_t *tags)
{
	const ecr_sql_value p[] = { REG_PARAMS(registry_id) };
	int rc;
	*repos = *images = *tags = 0;
	if ((rc = ecr__sql(t, "SELECT COUNT(*) FROM repositories r WHERE " REG_FILTER, p, ECR__NPARAMS(p),
		     ecr__sql_col_int, repos, NULL)))
		return rc;
	if ((rc = ecr__sql(t,
		     "SELECT COUNT(*) FROM images i JOIN repositories r ON r.id = i.repository_id WHERE " REG_FILTER, p,
		     ECR__NPARAMS(p), ecr__sql_col_int, images, NULL)))
		return rc;
	return ecr__sql(t, "SELECT COUNT(*) FROM tags g JOIN repositories r ON r.id = g.repository_id WHERE " REG_FILTER,
		p, ECR__NPARAMS(p), ecr__sql_col_int, tags, NULL);
}

typedef struct row_ctx {
	ecr__meta_fsck_row_cb cb;
	void *payload;
} row_ctx;

static int row_problem(const ecr_sql_value *c, size_t n, void *payload)
{
	row_ctx *x = payload;
	char *repo = NULL, *a = NULL, *b = NULL;
	int rc;
	if (n != 3)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "fsck row has %zu columns", n);
	if (!(rc = ecr__sql_dup(&repo, &c[0])) && !(rc = ecr__sql_dup(&a, &c[1])) && !(rc = ecr__sql_dup(&b, &c[2])))
		rc = x->cb(repo ? repo : "", a ? a : "", b ? b : "", x->payload);
	ecr__free(repo);
	ecr__free(a);
	ecr__free(b);
	return rc;
}

int ecr__meta_fsck_dangling_tags(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_row_cb cb, void *payload)
{
	const ecr_sql_value p[] = { REG_PARAMS(registry_id) };
	row_ctx x = { cb, payload };
	return ecr__sql(t,
		"SELECT r.name, g.name, g.digest FROM tags g JOIN repositories r ON r.id = g.repository_id "
		"WHERE " REG_FILTER " AND NOT EXISTS (SELECT 1 FROM images i "
		"WHERE i.repository_id = g.repository_id AND i.digest = g.digest) ORDER BY r.name, g.name",
		p, ECR__NPARAMS(p), row_problem, &x, NULL);
}

int ecr__meta_fsck_missing_children(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_row_cb cb, void *payload)
{
	const ecr_sql_value p[] = { ECR__SQL_I(ECR__REF_MANIFEST), REG_PARAMS(registry_id) };
	row_ctx x = { cb, payload };
	return ecr__sql(t,
		"SELECT r.name, f.parent, f.child FROM image_refs f JOIN repositories r ON r.id = f.repository_id "
		"WHERE f.kind = ? AND " REG_FILTER " AND NOT EXISTS (SELECT 1 FROM images i "
		"WHERE i.repository_id = f.repository_id AND i.digest = f.child) ORDER BY r.name, f.parent, f.child",
		p, ECR__NPARAMS(p), row_problem, &x, NULL);
}

/* An image (alias i) whose manifest is in the blob store: pushed before schema 6, no row in image_manifests. */
#define MANIFEST_IN_BLOBS \
	"NOT EXISTS (SELECT 1 FROM image_manifests m WHERE m.repository_id = i.repository_id AND m.digest = i.digest)"

/* A repository of a pull-through cache rule: its name starts with "<prefix>/". */
#define NOT_CACHE_REPO \
	"NOT EXISTS (SELECT 1 FROM pull_through_cache_rules c WHERE c.registry_id = r.registry_id " \
	"AND substr(r.name, 1, length(c.prefix) + 1) = c.prefix || '/')"

int ecr__meta_fsck_unlinked_refs(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_row_cb cb, void *payload)
{
	const ecr_sql_value p[] = { ECR__SQL_I(ECR__REF_BLOB), REG_PARAMS(registry_id) };
	row_ctx x = { cb, payload };
	return ecr__sql(t,
		"SELECT r.name, f.parent, f.child FROM image_refs f JOIN repositories r ON r.id = f.repository_id "
		"WHERE f.kind = ? AND " REG_FILTER " AND " NOT_CACHE_REPO " AND NOT EXISTS (SELECT 1 FROM blob_links l "
		"WHERE l.repository_id = f.repository_id AND l.digest = f.child) ORDER BY r.name, f.parent, f.child",
		p, ECR__NPARAMS(p), row_problem, &x, NULL);
}

typedef struct blob_ctx {
	ecr__meta_fsck_blob_cb cb;
	void *payload;
} blob_ctx;

static int row_blob(const ecr_sql_value *c, size_t n, void *payload)
{
	blob_ctx *x = payload;
	char *digest = NULL, *repo = NULL;
	int rc;
	if (n != 5)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "fsck blob row has %zu columns", n);
	if (!(rc = ecr__sql_dup(&digest, &c[0])) && !(rc = ecr__sql_dup(&repo, &c[4]))) {
		ecr__meta_fsck_blob b = { digest ? digest : "", ecr__sql_int(&c[1]), ecr__sql_int(&c[2]),
			ecr__sql_int(&c[3]) == 0, repo ? repo : "" };
		rc = x->cb(&b, x->payload);
	}
	ecr__free(digest);
	ecr__free(repo);
	return rc;
}

typedef struct manifest_ctx {
	ecr__meta_fsck_manifest_cb cb;
	void *payload;
} manifest_ctx;

static int row_manifest(const ecr_sql_value *c, size_t n, void *payload)
{
	manifest_ctx *x = payload;
	char *repo = NULL, *digest = NULL;
	int rc;
	if (n != 4 || (c[3].type != ECR_SQL_BLOB && c[3].type != ECR_SQL_TEXT) || (!c[3].s && c[3].len))
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "fsck manifest row is malformed");
	if (!(rc = ecr__sql_dup(&repo, &c[0])) && !(rc = ecr__sql_dup(&digest, &c[1]))) {
		ecr__meta_fsck_manifest m = { repo ? repo : "", digest ? digest : "", ecr__sql_int(&c[2]),
			c[3].s ? c[3].s : "", c[3].len };
		rc = x->cb(&m, x->payload);
	}
	ecr__free(repo);
	ecr__free(digest);
	return rc;
}

int ecr__meta_fsck_manifests(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_manifest_cb cb, void *payload)
{
	const ecr_sql_value p[] = { REG_PARAMS(registry_id) };
	manifest_ctx x = { cb, payload };
	return ecr__sql(t,
		"SELECT r.name, i.digest, i.manifest_size, m.body FROM image_manifests m"
		" JOIN images i ON i.repository_id = m.repository_id AND i.digest = m.digest"
		" JOIN repositories r ON r.id = i.repository_id WHERE " REG_FILTER " ORDER BY r.name, i.digest",
		p, ECR__NPARAMS(p), row_manifest, &x, NULL);
}

int ecr__meta_fsck_blobs(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_blob_cb cb, void *payload)
{
	const ecr_sql_value p[] = { REG_PARAMS(registry_id), ECR__SQL_I(ECR__REF_BLOB), REG_PARAMS(registry_id),
		REG_PARAMS(registry_id) };
	blob_ctx x = { cb, payload };
	/* need: 0 when an ACTIVE image needs the blob (its raw copy must be there), 1 otherwise. Configs and layers
	 * that are not linked (a pull-through cache's lazy blobs; unlinked_refs reports the others) are left out. */
	return ecr__sql(t,
		"SELECT digest, MIN(size), MAX(size), MIN(need), MIN(repo) FROM ("
		" SELECT i.digest AS digest, i.manifest_size AS size, CASE WHEN i.status = 0 THEN 0 ELSE 1 END AS need,"
		" r.name AS repo FROM images i JOIN repositories r ON r.id = i.repository_id WHERE " REG_FILTER
		" AND " MANIFEST_IN_BLOBS
		" UNION ALL"
		" SELECT f.child, f.size, CASE WHEN i.status = 0 THEN 0 ELSE 1 END, r.name FROM image_refs f"
		" JOIN images i ON i.repository_id = f.repository_id AND i.digest = f.parent"
		" JOIN repositories r ON r.id = f.repository_id WHERE f.kind = ? AND " REG_FILTER
		" AND EXISTS (SELECT 1 FROM blob_links l WHERE l.repository_id = f.repository_id AND l.digest = f.child)"
		" UNION ALL"
		" SELECT l.digest, l.size, 1, r.name FROM blob_links l JOIN repositories r ON r.id = l.repository_id"
		" WHERE " REG_FILTER ") x GROUP BY digest ORDER BY digest",
		p, ECR__NPARAMS(p), row_blob, &x, NULL);
}

typedef struct digest_ctx {
	ecr__meta_fsck_digest_cb cb;
	void *payload;
} digest_ctx;

static int row_digest(const ecr_sql_value *c, size_t n, void *payload)
{
	digest_ctx *x = payload;
	char *d = NULL;
	int rc;
	if (n != 1)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "fsck digest row has %zu columns", n);
	if (!(rc = ecr__sql_dup(&d, &c[0])) && d)
		rc = x->cb(d, x->payload);
	ecr__free(d);
	return rc;
}

int ecr__meta_fsck_referenced(ecr__txn *t, ecr__meta_fsck_digest_cb cb, void *payload)
{
	digest_ctx x = { cb, payload };
	return ecr__sql(t,
		"SELECT digest FROM images i WHERE " MANIFEST_IN_BLOBS " UNION SELECT child FROM image_refs "
		"UNION SELECT digest FROM blob_links "
		"UNION SELECT digest FROM archived_blobs UNION SELECT compressed_digest FROM archived_blobs",
		NULL, 0, row_digest, &x, NULL);
}

int ecr__meta_fsck_uploads(ecr__txn *t, ecr__meta_fsck_digest_cb cb, void *payload)
{
	digest_ctx x = { cb, payload };
	return ecr__sql(t, "SELECT id FROM uploads", NULL, 0, row_digest, &x, NULL);
}

typedef struct archived_ctx {
	ecr__meta_archived_blob_cb cb;
	void *payload;
} archived_ctx;

static int row_archived(const ecr_sql_value *c, size_t n, void *payload)
{
	archived_ctx *x = payload;
	ecr__meta_archived_blob b;
	if (n != 5 || c[0].type != ECR_SQL_TEXT || c[1].type != ECR_SQL_TEXT || c[0].len >= sizeof(b.digest) ||
		c[1].len >= sizeof(b.compressed_digest))
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "malformed archived blob row");
	memset(&b, 0, sizeof(b));
	memcpy(b.digest, c[0].s, c[0].len);
	memcpy(b.compressed_digest, c[1].s, c[1].len);
	b.size = ecr__sql_int(&c[2]);
	b.compressed_size = ecr__sql_int(&c[3]);
	b.archived_at = ecr__sql_int(&c[4]);
	return x->cb(&b, x->payload);
}

int ecr__meta_fsck_archived(ecr__txn *t, ecr__meta_archived_blob_cb cb, void *payload)
{
	archived_ctx x = { cb, payload };
	return ecr__sql(t,
		"SELECT digest, compressed_digest, size, compressed_size, archived_at FROM archived_blobs ORDER BY digest",
		NULL, 0, row_archived, &x, NULL);
}
