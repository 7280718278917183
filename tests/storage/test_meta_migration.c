/* The metadata store's migrations (libecr/storage/meta.c): databases of each older version, made by hand with
 * sqlite3, opened by the library, migrate to the latest version (ECR__META_SCHEMA_VERSION) and keep their rows. */
#include "../helpers/helpers.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../helpers/th_image.h"
#include "libecr/engine/engine.h"

/* The v1 schema as libecr 1 released it (meta.c's migrations[0], frozen). */
static const char v1_schema[] =
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
	" document TEXT NOT NULL);";

/* A new folder for a test's registry: the path of its database file and its URL into path and url (600 bytes
 * each). */
static char *new_folder(char *path, char *url)
{
	char *dir = th_tmpdir();
	assert_non_null(dir);
	snprintf(path, 600, "%s/metadata.db", dir);
	snprintf(url, 600, "file://%s", dir);
	return dir;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("sqlite3: %s\n(in: %.200s)", err ? err : "?", sql);
}

static int64_t query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int tag_cb(const char *key, const char *value, void *payload)
{
	char *s = payload;
	size_t n = strlen(s);
	snprintf(s + n, 64 - n, "%s=%s;", key, value);
	return 0;
}

static void test_storage_meta_migration__v1_to_v2(void **state)
{
	(void)state;
	char path[600], url[600];
	char *dir = new_folder(path, url);

	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, v1_schema);
	exec_ok(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
		    "INSERT INTO schema_version (version) VALUES (1);"
		    "INSERT INTO registries (id, account_id, region, created_at) VALUES (1, '123456789012', 'us-east-1', "
		    "1700000000000);"
		    "INSERT INTO repositories (id, registry_id, name, created_at, tag_mutability, exclusions, scan_on_push, "
		    "encryption_type, kms_key) VALUES (1, 1, 'team/old', 1700000000001, 1, '', 1, 0, NULL);"
		    "INSERT INTO repositories (id, registry_id, name, created_at, tag_mutability, exclusions, scan_on_push, "
		    "encryption_type, kms_key) VALUES (2, 1, 'team/older', 1700000000002, 0, '', 0, 0, NULL);"
		    "INSERT INTO resource_tags (repository_id, key, value) VALUES (1, 'team', 'blue');");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), 1);

	ecr_registry *reg;
	assert_ok(ecr_registry_open(&reg, url, NULL));
	/* migrated (through v2 to the latest) */
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
					 "('replication_configuration', 'replication_jobs', 'creation_templates', "
					 "'pull_through_cache_rules', 'credentials', 'cache_tags')"),
		6);
	/* the rows survived */
	ecr_repository *repo;
	assert_ok(ecr_repository_open(&repo, reg, "team/old"));
	assert_int_equal(ecr_repository_created_at(repo), 1700000000001LL);
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_IMMUTABLE);
	assert_int_equal(ecr_repository_scan_on_push(repo), 1);
	char tags[64] = "";
	assert_ok(ecr_repository_resource_tags(repo, tag_cb, tags));
	assert_string_equal(tags, "team=blue;");
	ecr_repository_free(repo);
	assert_ok(ecr_repository_open(&repo, reg, "team/older"));
	ecr_repository_free(repo);
	/* and the new tables work */
	assert_ok(ecr_registry_set_replication_configuration(reg,
		"{\"rules\":[{\"destinations\":[{\"region\":\"eu-west-1\",\"registryId\":\"123456789012\"}]}]}"));
	ecr_registry_free(reg);
	assert_int_equal(query_int(path, "SELECT count(*) FROM replication_configuration"), 1);

	/* opening again: no second migration */
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr_repository_open(&repo, reg, "team/old"));
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	th_rmtree(dir);
}

/* What migration 1 -> 2 added, as libecr released it (meta.c's migrations[1], frozen). */
static const char v2_additions[] =
	"CREATE TABLE replication_configuration ("
	" registry_id INTEGER PRIMARY KEY REFERENCES registries(id),"
	" document TEXT NOT NULL,"
	" updated_at BIGINT NOT NULL);"
	"CREATE TABLE replication_jobs ("
	" id INTEGER PRIMARY KEY,"
	" registry_id INTEGER NOT NULL REFERENCES registries(id),"
	" repository TEXT NOT NULL,"
	" digest TEXT NOT NULL,"
	" tags TEXT NOT NULL,"
	" dest_region TEXT NOT NULL,"
	" dest_registry_id TEXT NOT NULL,"
	" status INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL,"
	" next_attempt_at BIGINT NOT NULL,"
	" lease_until BIGINT NOT NULL,"
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
	"CREATE TABLE cache_tags ("
	" repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
	" tag TEXT NOT NULL,"
	" checked_at BIGINT NOT NULL,"
	" PRIMARY KEY (repository_id, tag));";

static void test_storage_meta_migration__v2_to_v3(void **state)
{
	(void)state;
	char path[600], url[600];
	char *dir = new_folder(path, url);

	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, v1_schema);
	exec_ok(db, v2_additions);
	exec_ok(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
		    "INSERT INTO schema_version (version) VALUES (2);"
		    "INSERT INTO registries (id, account_id, region, created_at) VALUES (1, '123456789012', 'us-east-1', "
		    "1700000000000);"
		    "INSERT INTO registries (id, account_id, region, created_at) VALUES (2, '123456789012', 'public', "
		    "1700000000000);"
		    "INSERT INTO repositories (id, registry_id, name, created_at, tag_mutability, exclusions, scan_on_push, "
		    "encryption_type, kms_key) VALUES (1, 1, 'team/app', 1700000000001, 1, '', 0, 0, NULL);"
		    "INSERT INTO repositories (id, registry_id, name, created_at, tag_mutability, exclusions, scan_on_push, "
		    "encryption_type, kms_key) VALUES (2, 2, 'team/app', 1700000000002, 0, '', 0, 0, NULL);"
		    "INSERT INTO resource_tags (repository_id, key, value) VALUES (2, 'team', 'green');"
		    "INSERT INTO replication_configuration (registry_id, document, updated_at) VALUES (1, "
		    "'{\"rules\":[]}', 1700000000003);");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.region = ECR_REGION_PUBLIC;
	ecr_registry *reg;
	assert_ok(ecr_registry_open(&reg, url, &opts));
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
					 "('public_registries', 'repository_catalog')"),
		2);
	/* the v2 rows survived */
	assert_int_equal(query_int(path, "SELECT count(*) FROM replication_configuration"), 1);
	ecr_repository *repo;
	assert_ok(ecr_repository_open(&repo, reg, "team/app"));
	assert_int_equal(ecr_repository_created_at(repo), 1700000000002LL);
	char tags[64] = "";
	assert_ok(ecr_repository_resource_tags(repo, tag_cb, tags));
	assert_string_equal(tags, "team=green;");
	/* the registry that existed before v3 got an alias on first use; the new tables work */
	assert_int_equal(query_int(path, "SELECT count(*) FROM public_registries WHERE registry_id = 2"), 1);
	assert_ok(ecr_public_set_alias(reg, "old-team"));
	assert_ok(ecr_repository_set_catalog_data(repo, "{\"description\":\"kept\"}"));
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	assert_int_equal(query_int(path, "SELECT count(*) FROM repository_catalog WHERE repository_id = 2"), 1);

	/* opening again: no second migration, the data is there */
	assert_ok(ecr_registry_open(&reg, url, &opts));
	ecr_buf b = ECR_BUF_INIT;
	assert_ok(ecr_public_alias(&b, reg));
	assert_string_equal(b.ptr, "old-team");
	ecr_buf_dispose(&b);
	ecr_registry_free(reg);
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	th_rmtree(dir);
}

/* A version 3 database (made by this libecr, then the v4 tables dropped) gets the leases and the GC candidates;
 * its data stays and garbage collection (which uses both) works on it. */
static void test_storage_meta_migration__v3_to_v4(void **state)
{
	(void)state;
	char path[600], url[600];
	char *dir = new_folder(path, url);
	ecr_registry *reg;
	ecr_repository *repo;
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr_repository_create(&repo, reg, "team/v3", NULL));
	ecr_repository_free(repo);
	ecr_registry_free(reg);

	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, "DROP TABLE leases; DROP TABLE gc_candidates; DROP TABLE usage_daily; DROP TABLE image_manifests; "
		    "UPDATE schema_version SET version = 3;");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('leases', 'gc_candidates')"),
		0);

	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
					 "('leases', 'gc_candidates')"),
		2);
	assert_ok(ecr_repository_open(&repo, reg, "team/v3"));
	ecr_repository_free(repo);
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	assert_ok(ecr_registry_gc(reg, NULL, &st));
	ecr_registry_free(reg);
	/* GC took its lease and released it */
	assert_int_equal(query_int(path, "SELECT count(*) FROM leases"), 0);
	th_rmtree(dir);
}

/* A version 4 database gets usage_daily; its data stays and metering writes to it. */
static void test_storage_meta_migration__v4_to_v5(void **state)
{
	(void)state;
	char path[600], url[600];
	char *dir = new_folder(path, url);
	ecr_registry *reg;
	ecr_repository *repo;
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr_repository_create(&repo, reg, "team/v4", NULL));
	ecr_repository_free(repo);
	ecr_registry_free(reg);

	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, "DROP TABLE usage_daily; DROP TABLE image_manifests; UPDATE schema_version SET version = 4;");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	assert_ok(ecr_repository_open(&repo, reg, "team/v4"));
	/* sha256 of "abc" */
	assert_ok(ecr_blob_put(repo, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc", 3));
	ecr_repository_free(repo);
	assert_ok(ecr_usage_flush(reg));
	ecr_registry_free(reg);
	assert_int_equal(query_int(path, "SELECT pushed_bytes FROM usage_daily WHERE repository = 'team/v4'"), 3);
	assert_int_equal(query_int(path, "SELECT blob_uploads FROM usage_daily WHERE repository = 'team/v4'"), 1);
	th_rmtree(dir);
}

/* A version 5 database (manifests in the blob store) gets image_manifests: its images' manifests are still read
 * from the blob store, new pushes go to the table, and the blob store's copy stays while an image needs it. */
static void test_storage_meta_migration__v5_to_v6(void **state)
{
	(void)state;
	char path[600], url[600];
	char *dir = new_folder(path, url);
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *reg;
	ecr_repository *repo;
	ecr_image *img = NULL;
	const void *bytes;
	size_t len;
	uint64_t rng = 56, size;
	th_image old, fresh;
	opts.flags = ECR_STORAGE_NOSYNC;
	assert_ok(th_image_random(&old, &rng, 1, NULL));
	assert_ok(th_image_random(&fresh, &rng, 1, NULL));
	/* as libecr with schema 5 stored it: the manifest in the blob store, no image_manifests */
	assert_ok(ecr_registry_open(&reg, url, &opts));
	assert_ok(ecr_repository_create(&repo, reg, "team/v5", NULL));
	if (th_image_push(repo, &old, "old", 0) != 0)
		fail_msg("push: %s", th_problem());
	assert_ok(ecr__blob_store_put(reg->store, old.digest, old.manifest, old.manifest_len));
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, "DROP TABLE image_manifests; UPDATE schema_version SET version = 5;");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	assert_ok(ecr_registry_open(&reg, url, &opts));
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	assert_int_equal(query_int(path, "SELECT count(*) FROM image_manifests"), 0);
	assert_ok(ecr_repository_open(&repo, reg, "team/v5"));
	/* read from the blob store */
	assert_ok(ecr_image_get(&img, repo, "old", ECR_IMAGE_GET_RECORD_PULL));
	assert_ok(ecr_image_manifest(&bytes, &len, img));
	assert_int_equal(len, old.manifest_len);
	assert_memory_equal(bytes, old.manifest, len);
	ecr_image_free(img);
	/* a new push: in the table, not in the blob store */
	if (th_image_push(repo, &fresh, "fresh", 0) != 0 || th_image_verify_exact(repo, &fresh) != 0)
		fail_msg("push: %s", th_problem());
	assert_int_equal(query_int(path, "SELECT count(*) FROM image_manifests"), 1);
	assert_int_equal(reg->store->blobs->stat(reg->store->blobs, fresh.digest, &size), ECR_ENOTFOUND);
	ecr_error_clear();
	/* GC keeps the old manifest (its image has no row) */
	ecr_gc_options gopts = ECR_GC_OPTIONS_INIT;
	gopts.grace_seconds = 1;
	sleep(2);
	assert_ok(ecr_registry_gc(reg, &gopts, NULL));
	assert_ok(reg->store->blobs->stat(reg->store->blobs, old.digest, &size));
	if (th_image_verify_exact(repo, &old) != 0)
		fail_msg("verify: %s", th_problem());
	/* the image deleted (with its repository): its manifest is garbage */
	ecr_repository_free(repo);
	assert_ok(ecr_repository_delete(reg, "team/v5", ECR_REPOSITORY_DELETE_FORCE));
	assert_int_equal(query_int(path, "SELECT count(*) FROM image_manifests"), 0);
	assert_ok(ecr_registry_gc(reg, &gopts, NULL));
	assert_int_equal(reg->store->blobs->stat(reg->store->blobs, old.digest, &size), ECR_ENOTFOUND);
	ecr_error_clear();
	ecr_registry_free(reg);
	th_image_dispose(&old);
	th_image_dispose(&fresh);
	th_rmtree(dir);
}

/* The query plan of sql on path contains want (EXPLAIN QUERY PLAN's "detail" column, all rows). */
static void assert_plan_uses(const char *path, const char *sql, const char *want)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char plan[1024] = "", q[512];
	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		size_t n = strlen(plan);
		snprintf(plan + n, sizeof(plan) - n, "%s; ", (const char *)sqlite3_column_text(st, 3));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (!strstr(plan, want))
		fail_msg("the plan of '%s' is '%s', without '%s'", sql, plan, want);
}

/* A version 6 database (two indexes on image_refs' child, one on images' subject) gets the one index on
 * (child, repository_id): the rows stay, both lookups by child use it, and a referenced blob stays referenced. */
static void test_storage_meta_migration__v6_to_v7(void **state)
{
	(void)state;
	char path[600], url[600];
	char *dir = new_folder(path, url);
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *reg;
	ecr_repository *repo;
	uint64_t rng = 67;
	th_image one, two;
	opts.flags = ECR_STORAGE_NOSYNC;
	assert_ok(th_image_random(&one, &rng, 2, NULL));
	assert_ok(th_image_random(&two, &rng, 1, NULL));
	assert_ok(ecr_registry_open(&reg, url, &opts));
	assert_ok(ecr_repository_create(&repo, reg, "team/v6", NULL));
	if (th_image_push(repo, &one, "one", 0) != 0)
		fail_msg("push: %s", th_problem());
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	int64_t refs = query_int(path, "SELECT count(*) FROM image_refs");
	assert_int_equal(refs, 3); /* the config and two layers */
	/* the indexes as version 6 made them */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_ok(db, "DROP INDEX image_refs_child;"
		    "CREATE INDEX images_subject ON images (repository_id, subject);"
		    "CREATE INDEX image_refs_child ON image_refs (repository_id, child);"
		    "CREATE INDEX image_refs_child_any ON image_refs (child);"
		    "UPDATE schema_version SET version = 6;");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	assert_ok(ecr_registry_open(&reg, url, &opts));
	assert_int_equal(query_int(path, "SELECT version FROM schema_version"), ECR__META_SCHEMA_VERSION);
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
					 "('image_refs_child_any', 'images_subject')"),
		0);
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'image_refs_child' AND "
					 "sql LIKE '%(child, repository_id)%'"),
		1);
	assert_int_equal(query_int(path, "SELECT count(*) FROM image_refs"), refs);
	assert_plan_uses(path, "SELECT COUNT(*) FROM image_refs WHERE repository_id = 1 AND child = 'x' AND kind = 0",
		"image_refs_child");
	assert_plan_uses(path, "SELECT 1 FROM image_refs WHERE child = 'x'", "image_refs_child");
	/* a new push adds its refs; with a layer's link deleted, GC keeps its bytes while an image references it
	 * (found through the new index), and drops them once the image is gone */
	assert_ok(ecr_repository_open(&repo, reg, "team/v6"));
	if (th_image_push(repo, &two, "two", 0) != 0 || th_image_verify_exact(repo, &two) != 0)
		fail_msg("push: %s", th_problem());
	assert_int_equal(query_int(path, "SELECT count(*) FROM image_refs"), refs + 2);
	assert_ok(ecr_blob_delete(repo, one.layers[0].digest));
	ecr_gc_options gopts = ECR_GC_OPTIONS_INIT;
	gopts.grace_seconds = 1;
	uint64_t size;
	sleep(2);
	assert_ok(ecr_registry_gc(reg, &gopts, NULL));
	assert_ok(reg->store->blobs->stat(reg->store->blobs, one.layers[0].digest, &size));
	assert_int_equal(size, one.layers[0].len);
	assert_ok(ecr_image_delete(repo, one.digest));
	sleep(2);
	assert_ok(ecr_registry_gc(reg, &gopts, NULL));
	assert_int_equal(reg->store->blobs->stat(reg->store->blobs, one.layers[0].digest, &size), ECR_ENOTFOUND);
	ecr_error_clear();
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	th_image_dispose(&one);
	th_image_dispose(&two);
	th_rmtree(dir);
}

static void test_storage_meta_migration__newer_schema_refused(void **state)
{
	(void)state;
	char path[600], url[600];
	char *dir = new_folder(path, url);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char sql[160], want[40];
	snprintf(sql, sizeof(sql), "CREATE TABLE schema_version (version INTEGER NOT NULL); "
				   "INSERT INTO schema_version VALUES (%d);", ECR__META_SCHEMA_VERSION + 1);
	snprintf(want, sizeof(want), "schema version %d", ECR__META_SCHEMA_VERSION + 1);
	exec_ok(db, sql);
	sqlite3_close(db);
	ecr_registry *reg = NULL;
	assert_int_equal(ecr_registry_open(&reg, url, NULL), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, want));
	th_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storage_meta_migration__v1_to_v2),
		cmocka_unit_test(test_storage_meta_migration__v2_to_v3),
		cmocka_unit_test(test_storage_meta_migration__v3_to_v4),
		cmocka_unit_test(test_storage_meta_migration__v4_to_v5),
		cmocka_unit_test(test_storage_meta_migration__v5_to_v6),
		cmocka_unit_test(test_storage_meta_migration__v6_to_v7),
		cmocka_unit_test(test_storage_meta_migration__newer_schema_refused),
	};
	return cmocka_run_group_tests_name("storage/meta_migration", tests, NULL, NULL);
}
