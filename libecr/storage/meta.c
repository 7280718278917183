/* Transactions, the schema and its migrations, registries. */
#include "meta.h"

int ecr__txn_begin(ecr__txn *t, ecr_meta_store *store, bool write)
{
	t->store = store;
	t->txn = NULL;
	int rc = store->begin(&t->txn, store, write ? 1 : 0);
	if (rc)
		ecr__meta_count_error(rc);
	return rc;
}

int ecr__txn_commit(ecr__txn *t)
{
	if (!t->txn)
		return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "commit of a finished transaction");
	ecr_meta_txn *txn = t->txn;
	t->txn = NULL;
	int rc = t->store->commit(txn);
	if (rc)
		ecr__meta_count_error(rc);
	return rc;
}

void ecr__txn_rollback(ecr__txn *t)
{
	if (t && t->txn) {
		ecr_meta_txn *txn = t->txn;
		t->txn = NULL;
		t->store->rollback(txn);
	}
}

int ecr__sql(ecr__txn *t, const char *sql, const ecr_sql_value *params, size_t nparams, ecr_sql_row_cb cb,
	void *payload, int64_t *changes_out)
{
	if (!t->txn)
		return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "statement outside a transaction");
	int rc = t->store->exec(t->txn, sql, params, nparams, cb, payload, changes_out);
	if (rc)
		ecr__meta_count_error(rc);
	return rc;
}

int ecr__sql_change(ecr__txn *t, const char *sql, const ecr_sql_value *params, size_t nparams, int none_code)
{
	int64_t changes = 0;
	int rc = ecr__sql(t, sql, params, nparams, NULL, NULL, &changes);
	if (rc)
		return rc;
	return changes ? 0 : none_code;
}

int64_t ecr__sql_int(const ecr_sql_value *v)
{
	return v->type == ECR_SQL_INT ? v->i : 0;
}

int ecr__sql_dup(char **out, const ecr_sql_value *v)
{
	ecr__free(*out);
	*out = NULL;
	if (v->type != ECR_SQL_TEXT && v->type != ECR_SQL_BLOB)
		return 0;
	*out = ecr__strndup(v->s, v->len);
	return *out ? 0 : ECR_ENOMEM;
}

int ecr__sql_col_int(const ecr_sql_value *cols, size_t n, void *payload)
{
	if (n < 1)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "query returned no column");
	*(int64_t *)payload = cols[0].type == ECR_SQL_INT ? cols[0].i : 0;
	return 0;
}

int ecr__sql_col_str(const ecr_sql_value *cols, size_t n, void *payload)
{
	char **out = payload;
	if (n < 1)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "query returned no column");
	char *s = NULL;
	if (cols[0].type == ECR_SQL_TEXT || cols[0].type == ECR_SQL_BLOB) {
		s = ecr__strndup(cols[0].s, cols[0].len);
		if (!s)
			return ECR_ENOMEM;
	}
	ecr__free(*out);
	*out = s;
	return 0;
}

/*
 * Migrations: migrations[i] takes the schema from version i to i + 1. Never
 * edit a released migration; add a new one and bump ECR__META_SCHEMA_VERSION.
 */
static const char *const migrations[ECR__META_SCHEMA_VERSION] = {
	/* 0 -> 1 */
	"CREATE TABLE registries ("
	" id INTEGER PRIMARY KEY,"
	" account_id TEXT NOT NULL,"
	" region TEXT NOT NULL,"
	" created_at BIGINT NOT NULL,"
	" UNIQUE (account_id, region));"
	"CREATE TABLE repositories ("
	" id INTEGER PRIMARY KEY,"
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" name TEXT NOT NULL,"
	" created_at BIGINT NOT NULL,"
	" tag_mutability INTEGER NOT NULL,"
	" exclusions TEXT NOT NULL,"
	" scan_on_push INTEGER NOT NULL,"
	" encryption_type INTEGER NOT NULL,"
	" kms_key TEXT,"
	" UNIQUE (registry_id, name));"
	"CREATE TABLE resource_tags ("
	" repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (repository_id, key));"
	"CREATE TABLE policies ("
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" repository_id INTEGER NOT NULL,"
	" kind TEXT NOT NULL,"
	" document TEXT NOT NULL,"
	" updated_at BIGINT NOT NULL,"
	" PRIMARY KEY (registry_id, repository_id, kind));"
	"CREATE TABLE images ("
	" repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
	" digest TEXT NOT NULL,"
	" media_type TEXT NOT NULL,"
	" artifact_type TEXT,"
	" subject TEXT,"
	" manifest_size BIGINT NOT NULL,"
	" image_size BIGINT NOT NULL,"
	" pushed_at BIGINT NOT NULL,"
	" last_pulled_at BIGINT NOT NULL,"
	" storage_class INTEGER NOT NULL DEFAULT 0,"
	" status INTEGER NOT NULL DEFAULT 0,"
	" last_archived_at BIGINT NOT NULL DEFAULT 0,"
	" last_activated_at BIGINT NOT NULL DEFAULT 0,"
	" PRIMARY KEY (repository_id, digest));"
	"CREATE INDEX images_subject ON images (repository_id, subject);"
	"CREATE TABLE image_refs ("
	" repository_id INTEGER NOT NULL,"
	" parent TEXT NOT NULL,"
	" child TEXT NOT NULL,"
	" kind INTEGER NOT NULL,"
	" size BIGINT NOT NULL,"
	" PRIMARY KEY (repository_id, parent, child),"
	" FOREIGN KEY (repository_id, parent) REFERENCES images(repository_id, digest) ON DELETE CASCADE);"
	"CREATE INDEX image_refs_child ON image_refs (repository_id, child);"
	"CREATE INDEX image_refs_child_any ON image_refs (child);"
	"CREATE INDEX images_digest ON images (digest);"
	"CREATE TABLE tags ("
	" repository_id INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" digest TEXT NOT NULL,"
	" updated_at BIGINT NOT NULL,"
	" PRIMARY KEY (repository_id, name),"
	" FOREIGN KEY (repository_id, digest) REFERENCES images(repository_id, digest) ON DELETE CASCADE);"
	"CREATE INDEX tags_digest ON tags (repository_id, digest, name);"
	"CREATE TABLE blob_links ("
	" repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
	" digest TEXT NOT NULL,"
	" size BIGINT NOT NULL,"
	" created_at BIGINT NOT NULL,"
	" PRIMARY KEY (repository_id, digest));"
	"CREATE INDEX blob_links_digest ON blob_links (digest);"
	"CREATE TABLE uploads ("
	" id TEXT PRIMARY KEY,"
	" repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
	" started_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL,"
	" size BIGINT NOT NULL);"
	"CREATE INDEX uploads_updated ON uploads (updated_at);"
	"CREATE TABLE principals ("
	" id INTEGER PRIMARY KEY,"
	" uid TEXT NOT NULL UNIQUE,"
	" arn TEXT NOT NULL UNIQUE,"
	" account_id TEXT NOT NULL,"
	" admin INTEGER NOT NULL,"
	" created_at BIGINT NOT NULL);"
	"CREATE TABLE access_keys ("
	" key_id TEXT PRIMARY KEY,"
	" principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,"
	" secret TEXT NOT NULL,"
	" created_at BIGINT NOT NULL);"
	"CREATE INDEX access_keys_principal ON access_keys (principal_id);"
	"CREATE TABLE identity_policies ("
	" principal_id INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" document TEXT NOT NULL,"
	" PRIMARY KEY (principal_id, name));"
	"CREATE TABLE account_settings ("
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" name TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (registry_id, name));"
	"CREATE TABLE store_keys ("
	" name TEXT PRIMARY KEY,"
	" value BLOB NOT NULL,"
	" created_at BIGINT NOT NULL);"
	"CREATE TABLE lifecycle_policies ("
	" repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,"
	" document TEXT NOT NULL,"
	" last_evaluated_at BIGINT NOT NULL);"
	"CREATE TABLE archived_blobs ("
	" digest TEXT PRIMARY KEY,"
	" compressed_digest TEXT NOT NULL,"
	" size BIGINT NOT NULL,"
	" compressed_size BIGINT NOT NULL,"
	" archived_at BIGINT NOT NULL);"
	"CREATE INDEX archived_blobs_compressed ON archived_blobs (compressed_digest);"
	"CREATE TABLE image_scans ("
	" repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
	" digest TEXT NOT NULL,"
	" status INTEGER NOT NULL,"
	" reason TEXT,"
	" report TEXT,"
	" started_at BIGINT NOT NULL,"
	" completed_at BIGINT NOT NULL,"
	" vulndb_at BIGINT NOT NULL,"
	" PRIMARY KEY (repository_id, digest));"
	"CREATE TABLE scanning_configuration ("
	" registry_id INTEGER PRIMARY KEY REFERENCES registries(id),"
	" document TEXT NOT NULL);",
	/* 1 -> 2: replication (configuration, the durable job queue), creation templates, pull-through cache */
	"CREATE TABLE replication_configuration ("
	" registry_id INTEGER PRIMARY KEY REFERENCES registries(id),"
	" document TEXT NOT NULL,"
	" updated_at BIGINT NOT NULL);"
	/* One job per (image, destination): a later push of the image (a new tag) re-queues it. */
	"CREATE TABLE replication_jobs ("
	" id INTEGER PRIMARY KEY,"
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" repository TEXT NOT NULL,"
	" digest TEXT NOT NULL,"
	" tags TEXT NOT NULL,"              /* JSON array: the tags to set at the destination */
	" dest_region TEXT NOT NULL,"
	" dest_registry_id TEXT NOT NULL,"
	" status INTEGER NOT NULL,"         /* 0 queued, 1 running, 2 complete, 3 failed */
	" attempts INTEGER NOT NULL,"
	" next_attempt_at BIGINT NOT NULL,"
	" lease_until BIGINT NOT NULL,"     /* a running job whose lease passed was interrupted: queued again */
	" failure_reason TEXT,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL,"
	" UNIQUE (registry_id, repository, digest, dest_region, dest_registry_id));"
	"CREATE INDEX replication_jobs_due ON replication_jobs (status, next_attempt_at);"
	"CREATE TABLE creation_templates ("
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" prefix TEXT NOT NULL,"
	" document TEXT NOT NULL,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL,"
	" PRIMARY KEY (registry_id, prefix));"
	"CREATE TABLE pull_through_cache_rules ("
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" prefix TEXT NOT NULL,"
	" document TEXT NOT NULL,"
	" created_at BIGINT NOT NULL,"
	" updated_at BIGINT NOT NULL,"
	" PRIMARY KEY (registry_id, prefix));"
	"CREATE TABLE credentials ("
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" arn TEXT NOT NULL,"
	" username TEXT NOT NULL,"
	" secret TEXT NOT NULL,"
	" created_at BIGINT NOT NULL,"
	" PRIMARY KEY (registry_id, arn));"
	/* When a cached tag was last checked upstream. */
	"CREATE TABLE cache_tags ("
	" repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
	" tag TEXT NOT NULL,"
	" checked_at BIGINT NOT NULL,"
	" PRIMARY KEY (repository_id, tag));",
	/* 2 -> 3: public registries (ECR Public): aliases, display names, repository catalog data */
	"CREATE TABLE public_registries ("
	" registry_id INTEGER PRIMARY KEY REFERENCES registries(id),"
	" alias TEXT NOT NULL UNIQUE,"
	" display_name TEXT NOT NULL DEFAULT '',"
	" created_at BIGINT NOT NULL);"
	/* document: the normalised catalog JSON without the logo */
	"CREATE TABLE repository_catalog ("
	" repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,"
	" document TEXT NOT NULL,"
	" logo BLOB,"
	" updated_at BIGINT NOT NULL);",
	/* 3 -> 4: background work across nodes: leases (libecr/engine/leases.c) and GC candidates and tombstones
	 * (libecr/engine/gc.c; their triggers are created per dialect by meta_lease.c) */
	"CREATE TABLE leases ("
	" name TEXT PRIMARY KEY,"
	" holder TEXT NOT NULL,"
	" expires_at BIGINT NOT NULL);"
	"CREATE TABLE gc_candidates ("
	" digest TEXT PRIMARY KEY,"
	" marked_at BIGINT NOT NULL,"
	" deleted_at BIGINT NOT NULL DEFAULT 0,"
	" guard_until BIGINT NOT NULL DEFAULT 0);",
	/* 4 -> 5: usage metering (meta_usage.c): transfer and request counters per registry, repository name and UTC
	 * day (days since the epoch), added to by flushes; no foreign key on the repository: a deleted repository's
	 * history stays (the transfer happened) */
	"CREATE TABLE usage_daily ("
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" repository TEXT NOT NULL,"
	" day BIGINT NOT NULL,"
	" pushed_bytes BIGINT NOT NULL DEFAULT 0,"
	" pulled_bytes BIGINT NOT NULL DEFAULT 0,"
	" image_pushes BIGINT NOT NULL DEFAULT 0,"
	" image_pulls BIGINT NOT NULL DEFAULT 0,"
	" blob_uploads BIGINT NOT NULL DEFAULT 0,"
	" blob_downloads BIGINT NOT NULL DEFAULT 0,"
	" PRIMARY KEY (registry_id, repository, day));"
	"CREATE INDEX usage_daily_day ON usage_daily (registry_id, day);",
	/* 5 -> 6: manifests stored in the metadata store, written in the transaction that inserts their image (one
	 * group-commit fsync covers many pushes) and deleted with it; an image without a row here (pushed before
	 * version 6) has its manifest in the blob store, where readers fall back (meta_image.c, engine/image.c) */
	"CREATE TABLE image_manifests ("
	" repository_id INTEGER NOT NULL,"
	" digest TEXT NOT NULL,"
	" body BLOB NOT NULL,"
	" PRIMARY KEY (repository_id, digest),"
	" FOREIGN KEY (repository_id, digest) REFERENCES images(repository_id, digest) ON DELETE CASCADE);",
	/* 6 -> 7: fewer index pages written per push (each dirty page goes into the WAL that a durable commit syncs).
	 * One index on (child, repository_id) answers both lookups by child, in a repository and in any; and
	 * images_subject went: no query used it (the referrers filter runs on the repository's digest range). */
	"DROP INDEX IF EXISTS image_refs_child;"
	"DROP INDEX IF EXISTS image_refs_child_any;"
	"DROP INDEX IF EXISTS images_subject;"
	"CREATE INDEX image_refs_child ON image_refs (child, repository_id);",
};

int ecr__meta_migrate(ecr_meta_store *store)
{
	ecr__txn t;
	int64_t version = 0;
	int rc = ecr__txn_begin(&t, store, true);
	if (rc)
		return rc;
	rc = ecr__sql(&t, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL, 0, NULL, NULL,
		NULL);
	if (rc)
		goto done;
	rc = ecr__sql(&t, "SELECT version FROM schema_version", NULL, 0, ecr__sql_col_int, &version, NULL);
	if (rc)
		goto done;
	if (version > ECR__META_SCHEMA_VERSION) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE,
			"the metadata store has schema version %lld; this libecr knows up to %d",
			(long long)version, ECR__META_SCHEMA_VERSION);
		goto done;
	}
	if (version == ECR__META_SCHEMA_VERSION)
		goto done;
	for (int64_t v = version; v < ECR__META_SCHEMA_VERSION; v++) {
		rc = ecr__sql(&t, migrations[v], NULL, 0, NULL, NULL, NULL);
		if (rc)
			goto done;
	}
	ecr_sql_value p[] = { ECR__SQL_I(ECR__META_SCHEMA_VERSION) };
	rc = ecr__sql(&t, version ? "UPDATE schema_version SET version = ?" : "INSERT INTO schema_version (version) VALUES (?)",
		p, 1, NULL, NULL, NULL);
done:
	if (rc) {
		ecr__txn_rollback(&t);
		return rc;
	}
	return ecr__txn_commit(&t);
}

int ecr__meta_registry_ensure(ecr__txn *t, const char *account, const char *region, int64_t now, int64_t *id_out)
{
	ecr_sql_value p[] = { ECR__SQL_S(account), ECR__SQL_S(region), ECR__SQL_I(now) };
	int64_t id = 0;
	int rc = ecr__sql(t, "INSERT INTO registries (account_id, region, created_at) VALUES (?, ?, ?) "
			     "ON CONFLICT (account_id, region) DO NOTHING",
		p, 3, NULL, NULL, NULL);
	if (rc)
		return rc;
	rc = ecr__sql(t, "SELECT id FROM registries WHERE account_id = ? AND region = ?", p, 2, ecr__sql_col_int, &id,
		NULL);
	if (rc)
		return rc;
	if (!id)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "registry %s/%s could not be created", account, region);
	*id_out = id;
	return 0;
}
