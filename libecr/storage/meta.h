/* The one SQL module: schema, migrations and every query libecr runs, written
 * in the subset of SQL that SQLite and PostgreSQL share ('?' placeholders,
 * ON CONFLICT ... DO ...). A PostgreSQL driver is a second dialect of this
 * module, not a rewrite. Files: meta.c (transactions, schema, registries),
 * meta_repo.c (repositories, resource tags, policies), meta_image.c (images,
 * references, tags), meta_blob.c (blob links, upload sessions, GC queries). */
#ifndef ECR_STORAGE_META_H
#define ECR_STORAGE_META_H

#include "../core/core.h"

/* A transaction on a metadata store. */
typedef struct ecr__txn {
	ecr_meta_store *store;
	ecr_meta_txn *txn; /* NULL once committed or rolled back */
} ecr__txn;

int ecr__txn_begin(ecr__txn *t, ecr_meta_store *store, bool write);
/* Commit; on failure the transaction is rolled back. */
int ecr__txn_commit(ecr__txn *t);
/* Roll back if still open (safe to call after commit). */
void ecr__txn_rollback(ecr__txn *t);

/* Run one statement. */
int ecr__sql(ecr__txn *t, const char *sql, const ecr_sql_value *params, size_t nparams, ecr_sql_row_cb cb,
	void *payload, int64_t *changes_out);
/* Run one statement that changes rows; none_code (e.g. ECR_ENOTFOUND, ECR_EEXISTS) when it changed none. */
int ecr__sql_change(ecr__txn *t, const char *sql, const ecr_sql_value *params, size_t nparams, int none_code);

#define ECR__SQL_I(v) ((ecr_sql_value){ ECR_SQL_INT, (int64_t)(v), NULL, 0 })
#define ECR__SQL_S(v) ((ecr_sql_value){ (v) ? ECR_SQL_TEXT : ECR_SQL_NULL, 0, (v), (v) ? strlen(v) : 0 })
#define ECR__SQL_NULL ((ecr_sql_value){ ECR_SQL_NULL, 0, NULL, 0 })
/* A LIMIT: a size_t above INT64_MAX (SIZE_MAX for "all") would become negative, which SQLite reads as no limit
 * and PostgreSQL refuses. */
#define ECR__SQL_LIMIT(n) ECR__SQL_I((uint64_t)(n) > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)(n))
#define ECR__NPARAMS(arr) (sizeof(arr) / sizeof((arr)[0]))

/* Row callbacks that read one column. */
int ecr__sql_col_int(const ecr_sql_value *cols, size_t n, void *payload);  /* payload: int64_t*, sets it */
int ecr__sql_col_str(const ecr_sql_value *cols, size_t n, void *payload);  /* payload: char**, strdup (frees old) */
/* A column's value: an integer (0 unless ECR_SQL_INT); a copy of text or a blob into *out (its old value freed;
 * NULL for other types). */
int64_t ecr__sql_int(const ecr_sql_value *v);
int ecr__sql_dup(char **out, const ecr_sql_value *v);

/* Schema: create or migrate to the latest version. ECR_EINVALID when the
 * database was made by a newer libecr. */
#define ECR__META_SCHEMA_VERSION 7
int ecr__meta_migrate(ecr_meta_store *store);

/* Registries (account x region). */
int ecr__meta_registry_ensure(ecr__txn *t, const char *account, const char *region, int64_t now, int64_t *id_out);

/* Statistics (meta_stats.c): the registry's image scans (by ecr_scan_status) and replication jobs (by status 0
 * queued, 1 running, 2 complete, 3 failed), counted per state into counts[state] (added); states >= n are added
 * to counts[n - 1]. */
int ecr__meta_stats_scans(ecr__txn *t, int64_t registry_id, uint64_t *counts, size_t n);
int ecr__meta_stats_replication(ecr__txn *t, int64_t registry_id, uint64_t *counts, size_t n);
/* Storage errors in this process: failed metadata calls (counted by meta.c's transaction and statement calls) and
 * failed blob store calls (counted by the wrapper of blob_store.c). Only failures of the storage count (ECR_ERROR,
 * ECR_ENOMEM, ECR_EIO, ECR_EBUSY, ECR_ENETWORK, ECR_ETHROTTLED), not answers such as "not found" or "exists". */
void ecr__meta_count_error(int rc);
uint64_t ecr__meta_errors(void);
uint64_t ecr__blob_errors(void);
/* Whether rc is a storage failure that the counters above count. */
bool ecr__storage_error_counts(int rc);

/* Repositories. */
typedef struct ecr__meta_repo {
	int64_t id;
	int64_t registry_id;
	char *name;
	int64_t created_at;
	int tag_mutability;
	char *exclusions; /* '\n'-separated filters, "" for none */
	int scan_on_push;
	int encryption_type;
	char *kms_key; /* NULL for none */
} ecr__meta_repo;
void ecr__meta_repo_dispose(ecr__meta_repo *r);
/* Insert; sets r->id. ECR_EEXISTS when the name is taken. */
int ecr__meta_repo_insert(ecr__txn *t, ecr__meta_repo *r);
/* ECR_ENOTFOUND */
int ecr__meta_repo_get(ecr__txn *t, int64_t registry_id, const char *name, ecr__meta_repo *out);
int ecr__meta_repo_get_by_id(ecr__txn *t, int64_t id, ecr__meta_repo *out);
typedef int (*ecr__meta_repo_cb)(const ecr__meta_repo *r, void *payload);
/* Repositories with name > after (NULL: from the start), in name order, at most limit. */
int ecr__meta_repo_list(ecr__txn *t, int64_t registry_id, const char *after, size_t limit, ecr__meta_repo_cb cb,
	void *payload);
/* Update mutability, exclusions, scan_on_push. ECR_ENOTFOUND. */
int ecr__meta_repo_update(ecr__txn *t, const ecr__meta_repo *r);
/* Delete with everything in it (images, tags, links, uploads, resource tags, policies). */
int ecr__meta_repo_delete(ecr__txn *t, int64_t repo_id);
int ecr__meta_repo_image_count(ecr__txn *t, int64_t repo_id, int64_t *count_out);

/* Resource tags. */
int ecr__meta_rtag_set(ecr__txn *t, int64_t repo_id, const char *key, const char *value);
int ecr__meta_rtag_delete(ecr__txn *t, int64_t repo_id, const char *key);
int ecr__meta_rtag_count(ecr__txn *t, int64_t repo_id, int64_t *count_out);
/* cb(key, value) in key order. */
int ecr__meta_rtag_list(ecr__txn *t, int64_t repo_id, ecr_resource_tag_cb cb, void *payload);

/* Images. */
typedef struct ecr__meta_image {
	int64_t repo_id;
	char *digest;
	char *media_type;
	char *artifact_type; /* NULL */
	char *subject;       /* NULL */
	int64_t manifest_size;
	int64_t image_size;
	int64_t pushed_at;
	int64_t last_pulled_at;
	int storage_class; /* ecr_storage_class */
	int status;        /* ecr_image_status */
	int64_t last_archived_at;
	int64_t last_activated_at;
} ecr__meta_image;
void ecr__meta_image_dispose(ecr__meta_image *img);
int ecr__meta_image_insert(ecr__txn *t, const ecr__meta_image *img); /* ECR_EEXISTS */
int ecr__meta_image_get(ecr__txn *t, int64_t repo_id, const char *digest, ecr__meta_image *out); /* ECR_ENOTFOUND */
int ecr__meta_image_delete(ecr__txn *t, int64_t repo_id, const char *digest); /* tags and refs go too */
int ecr__meta_image_touch_pull(ecr__txn *t, int64_t repo_id, const char *digest, int64_t now);
typedef int (*ecr__meta_image_cb)(const ecr__meta_image *img, void *payload);
/* Images with digest > after, in digest order, filtered (status_mask: bits 1u << status, 0 for any), at most limit. */
int ecr__meta_image_list(ecr__txn *t, int64_t repo_id, const char *after, ecr_tag_status status,
	uint32_t status_mask, const char *subject, const char *artifact_type, size_t limit, ecr__meta_image_cb cb,
	void *payload);
/* Update storage_class, status, last_archived_at, last_activated_at of (img->repo_id, img->digest). ECR_ENOTFOUND. */
int ecr__meta_image_set_state(ecr__txn *t, const ecr__meta_image *img);

/* Manifests stored in the metadata store (schema 6): the bytes of image (repo_id, digest), inserted in the
 * transaction that inserts the image (an existing row is kept: same digest, same bytes) and deleted with it. */
int ecr__meta_manifest_put(ecr__txn *t, int64_t repo_id, const char *digest, const void *body, size_t len);
/* The bytes appended to out (and NUL-terminated). ECR_ENOTFOUND (no error set) without a row: an image pushed
 * before schema 6, whose manifest is in the blob store. */
int ecr__meta_manifest_get(ecr__txn *t, int64_t repo_id, const char *digest, ecr_buf *out);

/* References from a manifest to what it needs: kind 0 = blob (config, layer), 1 = manifest (index child). */
#define ECR__REF_BLOB 0
#define ECR__REF_MANIFEST 1
int ecr__meta_ref_insert(ecr__txn *t, int64_t repo_id, const char *parent, const char *child, int kind, int64_t size);
/* Number of images of the repository that reference child with kind. */
int ecr__meta_ref_parent_count(ecr__txn *t, int64_t repo_id, const char *child, int kind, int64_t *count_out);

/* Tags. */
/* *digest_out gets a new string (ecr__free). ECR_ENOTFOUND. */
int ecr__meta_tag_get(ecr__txn *t, int64_t repo_id, const char *tag, char **digest_out);
int ecr__meta_tag_set(ecr__txn *t, int64_t repo_id, const char *tag, const char *digest, int64_t now);
int ecr__meta_tag_delete(ecr__txn *t, int64_t repo_id, const char *tag); /* ECR_ENOTFOUND */
typedef int (*ecr__meta_tag_cb)(const char *tag, const char *digest, void *payload);
int ecr__meta_tag_list(ecr__txn *t, int64_t repo_id, const char *after, size_t limit, ecr__meta_tag_cb cb,
	void *payload);
int ecr__meta_tags_of_image(ecr__txn *t, int64_t repo_id, const char *digest, ecr__meta_tag_cb cb, void *payload);

/* Blob links: which repository holds which blob. (meta_blob.c) */
/* Insert or refresh (created_at = now). */
int ecr__meta_link_set(ecr__txn *t, int64_t repo_id, const char *digest, int64_t size, int64_t now);
int ecr__meta_link_get(ecr__txn *t, int64_t repo_id, const char *digest, int64_t *size_out); /* ECR_ENOTFOUND */
int ecr__meta_link_delete(ecr__txn *t, int64_t repo_id, const char *digest);               /* ECR_ENOTFOUND */

/* Upload sessions. (meta_blob.c) */
typedef struct ecr__meta_upload {
	char id[ECR_UPLOAD_ID_LEN + 1];
	int64_t repo_id;
	int64_t started_at;
	int64_t updated_at;
	int64_t size;
} ecr__meta_upload;
int ecr__meta_upload_insert(ecr__txn *t, const ecr__meta_upload *u);
int ecr__meta_upload_get(ecr__txn *t, const char *id, ecr__meta_upload *out); /* ECR_ENOTFOUND */
int ecr__meta_upload_update(ecr__txn *t, const char *id, int64_t size, int64_t now); /* ECR_ENOTFOUND */
int ecr__meta_upload_delete(ecr__txn *t, const char *id);                             /* ECR_ENOTFOUND */
typedef int (*ecr__meta_upload_cb)(const ecr__meta_upload *u, void *payload);
/* Sessions whose updated_at < before (all registries of the store). */
int ecr__meta_upload_list_expired(ecr__txn *t, int64_t before, ecr__meta_upload_cb cb, void *payload);

/* GC queries (meta_blob.c). */
typedef int (*ecr__meta_link_cb)(int64_t repo_id, const char *digest, void *payload);
/* Links created before `before` that no image of their repository references (as a
 * blob, or as the image's own manifest). */
int ecr__meta_gc_stale_links(ecr__txn *t, int64_t before, ecr__meta_link_cb cb, void *payload);
/* Whether any repository of any registry links the blob or has it as a manifest kept in the blob store (an
 * image without a row in image_manifests), or an upload is in progress... (1 / 0 in *out). */
int ecr__meta_blob_referenced(ecr__txn *t, const char *digest, bool *out);

/* Principals, access keys, identity policies, store keys (meta_auth.c). */
typedef struct ecr__meta_principal {
	int64_t id;
	char *uid;
	char *arn;
	char *account_id;
	int admin;
	int64_t created_at;
} ecr__meta_principal;
void ecr__meta_principal_dispose(ecr__meta_principal *p);
/* Insert; sets p->id. ECR_EEXISTS when the ARN (or uid) is taken. */
int ecr__meta_principal_insert(ecr__txn *t, ecr__meta_principal *p);
/* ECR_ENOTFOUND */
int ecr__meta_principal_get(ecr__txn *t, const char *arn, ecr__meta_principal *out);
int ecr__meta_principal_get_by_uid(ecr__txn *t, const char *uid, ecr__meta_principal *out);
int ecr__meta_principal_get_by_id(ecr__txn *t, int64_t id, ecr__meta_principal *out);
/* The owner of an access key and the key's secret (*secret_out: ecr__free), in one query. ECR_ENOTFOUND. */
int ecr__meta_principal_get_by_key(ecr__txn *t, const char *key_id, ecr__meta_principal *out, char **secret_out);
/* Delete with its access keys and identity policies. ECR_ENOTFOUND. */
int ecr__meta_principal_delete(ecr__txn *t, int64_t id);
typedef int (*ecr__meta_principal_cb)(const ecr__meta_principal *p, void *payload);
/* Principals with arn > after (NULL: from the start), in ARN order, at most limit. */
int ecr__meta_principal_list(ecr__txn *t, const char *after, size_t limit, ecr__meta_principal_cb cb, void *payload);
/* ECR_EEXISTS when the key id is taken. */
int ecr__meta_access_key_insert(ecr__txn *t, const char *key_id, int64_t principal_id, const char *secret, int64_t now);
/* ECR_ENOTFOUND */
int ecr__meta_access_key_delete(ecr__txn *t, int64_t principal_id, const char *key_id);
/* Insert or replace. */
int ecr__meta_identity_policy_put(ecr__txn *t, int64_t principal_id, const char *name, const char *document);
/* ECR_ENOTFOUND */
int ecr__meta_identity_policy_delete(ecr__txn *t, int64_t principal_id, const char *name);
typedef int (*ecr__meta_identity_policy_cb)(const char *name, const char *document, void *payload);
/* cb(name, document) in name order. */
int ecr__meta_identity_policy_list(ecr__txn *t, int64_t principal_id, ecr__meta_identity_policy_cb cb,
	void *payload);
/* A named secret of the storage (store_keys): value appended to out. ECR_ENOTFOUND. */
int ecr__meta_store_key_get(ecr__txn *t, const char *name, ecr_buf *out);
/* Insert unless the name exists (then the stored value wins: read it back). */
int ecr__meta_store_key_insert(ecr__txn *t, const char *name, const void *value, size_t len, int64_t now);
/* The document of a resource policy (policies table; repository_id 0 = the registry's own), *doc_out
 * ecr__free'd by the caller. ECR_ENOTFOUND. */
int ecr__meta_resource_policy_document(ecr__txn *t, int64_t registry_id, int64_t repository_id, const char *kind,
	char **doc_out);

/* Resource policies and account settings (meta_policy.c). kind: "repository" or "registry";
 * repository_id 0 for the registry's own policy. */
/* *doc_out: the document (ecr__free). ECR_ENOTFOUND. */
int ecr__meta_policy_get(ecr__txn *t, int64_t registry_id, int64_t repository_id, const char *kind, char **doc_out);
/* Insert or replace. */
int ecr__meta_policy_put(ecr__txn *t, int64_t registry_id, int64_t repository_id, const char *kind,
	const char *document, int64_t now);
/* ECR_ENOTFOUND */
int ecr__meta_policy_delete(ecr__txn *t, int64_t registry_id, int64_t repository_id, const char *kind);
/* *value_out: the stored value (ecr__free). ECR_ENOTFOUND when never set. */
int ecr__meta_setting_get(ecr__txn *t, int64_t registry_id, const char *name, char **value_out);
/* Insert or replace. */
int ecr__meta_setting_set(ecr__txn *t, int64_t registry_id, const char *name, const char *value);

/* Lifecycle policies and archived blobs (meta_lifecycle.c). */
/* *doc_out: the document (ecr__free); last_evaluated_at_out may be NULL. ECR_ENOTFOUND. */
int ecr__meta_lifecycle_get(ecr__txn *t, int64_t repo_id, char **doc_out, int64_t *last_evaluated_at_out);
/* Insert or replace the document (last_evaluated_at kept; 0 for a new policy). */
int ecr__meta_lifecycle_put(ecr__txn *t, int64_t repo_id, const char *document);
/* ECR_ENOTFOUND */
int ecr__meta_lifecycle_delete(ecr__txn *t, int64_t repo_id);
/* Set last_evaluated_at. ECR_ENOTFOUND when the repository has no policy. */
int ecr__meta_lifecycle_evaluated(ecr__txn *t, int64_t repo_id, int64_t now);

/* cb(parent, child) for every reference of kind in the repository, in (child, parent) order. */
typedef int (*ecr__meta_ref_cb)(const char *parent, const char *child, void *payload);
int ecr__meta_ref_list_kind(ecr__txn *t, int64_t repo_id, int kind, ecr__meta_ref_cb cb, void *payload);
/* cb(parent, child) for the references of one image (kind: -1 for every kind). */
int ecr__meta_ref_list_of(ecr__txn *t, int64_t repo_id, const char *parent, int kind, ecr__meta_ref_cb cb,
	void *payload);
/* cb(tag, digest) for every tag of the repository, in (digest, tag) order. */
int ecr__meta_tag_list_all(ecr__txn *t, int64_t repo_id, ecr__meta_tag_cb cb, void *payload);
/* Whether an image of any repository whose status is not ARCHIVED references the blob (as config or layer) or
 * is that manifest. */
int ecr__meta_blob_needed_active(ecr__txn *t, const char *digest, bool *out);

typedef struct ecr__meta_archived_blob {
	char digest[160];
	char compressed_digest[160];
	int64_t size;
	int64_t compressed_size;
	int64_t archived_at;
} ecr__meta_archived_blob;
/* Insert or replace. */
int ecr__meta_archived_blob_put(ecr__txn *t, const ecr__meta_archived_blob *b);
/* ECR_ENOTFOUND (no error set). */
int ecr__meta_archived_blob_get(ecr__txn *t, const char *digest, ecr__meta_archived_blob *out);
int ecr__meta_archived_blob_delete(ecr__txn *t, const char *digest);
typedef int (*ecr__meta_archived_blob_cb)(const ecr__meta_archived_blob *b, void *payload);
/* Rows that no ARCHIVED or ACTIVATING image of any repository references (as a blob or as its manifest), with
 * whether a blob link still names the digest. */
int ecr__meta_archived_blob_unneeded(ecr__txn *t, ecr__meta_archived_blob_cb cb, void *payload);
/* Whether any blob link names the digest. */
int ecr__meta_blob_linked(ecr__txn *t, const char *digest, bool *out);

/* Image scans and the registry scanning configuration (meta_scan.c). */
typedef struct ecr__meta_scan {
	int status;     /* ecr_scan_status */
	char *reason;   /* or NULL */
	char *report;   /* the serialized report (ecr__scan_report_to_json) of a COMPLETE scan, or NULL */
	int64_t started_at;
	int64_t completed_at;
	int64_t vulndb_at;
} ecr__meta_scan;
void ecr__meta_scan_dispose(ecr__meta_scan *s);
/* ECR_ENOTFOUND (no error set). with_report false leaves out->report NULL. */
int ecr__meta_scan_get(ecr__txn *t, int64_t repo_id, const char *digest, bool with_report, ecr__meta_scan *out);
/* Insert or replace. */
int ecr__meta_scan_put(ecr__txn *t, int64_t repo_id, const char *digest, const ecr__meta_scan *s);
typedef int (*ecr__meta_scan_key_cb)(int64_t repo_id, const char *repo_name, const char *digest, void *payload);
/* cb for every scan of the registry with status, in (repository name, digest) order. */
int ecr__meta_scan_list_status(ecr__txn *t, int64_t registry_id, int status, ecr__meta_scan_key_cb cb,
	void *payload);
/* *doc_out: the stored document (ecr__free). ECR_ENOTFOUND (no error set). */
int ecr__meta_scan_config_get(ecr__txn *t, int64_t registry_id, char **doc_out);
/* Insert or replace. */
int ecr__meta_scan_config_put(ecr__txn *t, int64_t registry_id, const char *document);

/* Public registries and repository catalog data (meta_public.c). */
/* *alias_out (ecr__free): the registry's alias. ECR_ENOTFOUND (no error set). */
int ecr__meta_public_alias_get(ecr__txn *t, int64_t registry_id, char **alias_out);
/* Give the registry alias (insert or update). ECR_EEXISTS (no error set) when another registry has it. */
int ecr__meta_public_alias_set(ecr__txn *t, int64_t registry_id, const char *alias, int64_t now);
/* *account_out (ecr__free): the account of the public registry with alias. ECR_ENOTFOUND (no error set). */
int ecr__meta_public_alias_lookup(ecr__txn *t, const char *alias, char **account_out);
/* cb(account, alias) for every public registry with an alias, by alias. */
int ecr__meta_public_list(ecr__txn *t, int (*cb)(const char *account, const char *alias, void *payload),
	void *payload);
/* *name_out (ecr__free): the display name ("" when unset). ECR_ENOTFOUND (no error set) without an alias row. */
int ecr__meta_public_display_name_get(ecr__txn *t, int64_t registry_id, char **name_out);
/* ECR_ENOTFOUND (no error set) without an alias row. */
int ecr__meta_public_display_name_set(ecr__txn *t, int64_t registry_id, const char *name);
/* Insert or replace a repository's catalog data (logo may be NULL). */
int ecr__meta_catalog_put(ecr__txn *t, int64_t repo_id, const char *document, const void *logo, size_t logo_len,
	int64_t now);
/* *doc_out (ecr__free). ECR_ENOTFOUND (no error set). */
int ecr__meta_catalog_get(ecr__txn *t, int64_t repo_id, char **doc_out);
/* The logo appended to out. ECR_ENOTFOUND (no error set) without catalog data or a logo. */
int ecr__meta_catalog_logo(ecr__txn *t, int64_t repo_id, ecr_buf *out);
/* Remove a repository's catalog data (none is fine). */
int ecr__meta_catalog_delete(ecr__txn *t, int64_t repo_id);

/* Usage metering (meta_usage.c). Days are UTC days since the epoch. */
typedef struct ecr__meta_usage_counts {
	int64_t pushed_bytes, pulled_bytes, image_pushes, image_pulls, blob_uploads, blob_downloads;
} ecr__meta_usage_counts;
/* Add c to the row (registry, repository, day), creating it. */
int ecr__meta_usage_add(ecr__txn *t, int64_t registry_id, const char *repository, int64_t day,
	const ecr__meta_usage_counts *c);
typedef int (*ecr__meta_usage_transfer_cb)(const char *repository, const ecr__meta_usage_counts *c, void *payload);
/* The counters of days [from_day, to_day) summed per repository name (repository NULL: every name, deleted
 * repositories' included; else that one), cb once per name. */
int ecr__meta_usage_transfer(ecr__txn *t, int64_t registry_id, const char *repository, int64_t from_day,
	int64_t to_day, ecr__meta_usage_transfer_cb cb, void *payload);
/* Per existing repository (repository NULL: every one of the registry; else that one): its images and their
 * manifests' bytes plus the bytes of the blobs they reference, each blob once (stored_bytes). */
typedef int (*ecr__meta_usage_stored_cb)(const char *repository, int64_t images, int64_t stored_bytes,
	void *payload);
int ecr__meta_usage_stored(ecr__txn *t, int64_t registry_id, const char *repository, ecr__meta_usage_stored_cb cb,
	void *payload);
/* The bytes of every manifest and blob the registry's images reference, each digest once across the registry. */
int ecr__meta_usage_unique(ecr__txn *t, int64_t registry_id, int64_t *bytes_out);

#endif
