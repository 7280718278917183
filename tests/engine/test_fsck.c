/* engine/fsck: ecr_registry_fsck finds each kind of damage (blob missing, corrupt, wrong size; tag naming no image;
 * a layer not linked to its repository) exactly where it was made, reports unreferenced blobs as notices only, and
 * finds nothing in an intact registry (memory and file://, several registries). */
#include "../helpers/helpers.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../helpers/th_image.h"
#include "../helpers/th_pg.h"
#include "ecr/fsck.h"
#include "libecr/engine/engine.h"

typedef struct fixture {
	char *dir; /* NULL for memory: */
	char url[4200];
	ecr_registry *reg;
	ecr_repository *a, *b;
	th_image img[3]; /* img[0], img[1] in a; img[2] (sharing img[0]'s layers) in b */
} fixture;

typedef struct seen {
	size_t n;
	ecr_fsck_kind kind[32];
	ecr_fsck_severity sev[32];
	char digest[32][TH_DIGEST_MAX];
	char repo[32][64];
	int stop_with; /* returned from the callback when non-zero */
} seen;

static int collect(const ecr_fsck_problem *p, void *payload)
{
	seen *s = payload;
	assert_int_equal(p->version, ECR_FSCK_PROBLEM_VERSION);
	assert_non_null(p->message);
	assert_true(strlen(p->message) > 0);
	if (s->n < 32) {
		s->kind[s->n] = p->kind;
		s->sev[s->n] = p->severity;
		snprintf(s->digest[s->n], TH_DIGEST_MAX, "%s", p->digest ? p->digest : "");
		snprintf(s->repo[s->n], 64, "%s", p->repository ? p->repository : "");
	}
	s->n++;
	return s->stop_with;
}

static int setup_common(void **state, bool on_disk)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	fixture *f = calloc(1, sizeof(*f));
	uint64_t rng = 1234;
	if (!f)
		return -1;
	if (on_disk) {
		f->dir = th_tmpdir();
		snprintf(f->url, sizeof(f->url), "file://%s", f->dir);
	} else {
		snprintf(f->url, sizeof(f->url), "memory:");
	}
	opts.flags = ECR_STORAGE_NOSYNC;
	if (ecr_registry_open(&f->reg, f->url, &opts) || ecr_repository_create(&f->a, f->reg, "team/a", NULL) ||
		ecr_repository_create(&f->b, f->reg, "team/b", NULL))
		return -1;
	size_t sizes[2] = { 5000, 70000 };
	if (th_image_random(&f->img[0], &rng, 2, sizes) || th_image_random(&f->img[1], &rng, 1, NULL) ||
		th_image_with_layers(&f->img[2], &rng, f->img[0].layers, f->img[0].layer_count, 1))
		return -1;
	if (th_image_push(f->a, &f->img[0], "v0", 0) || th_image_push(f->a, &f->img[1], "v1", 0) ||
		th_image_push(f->b, &f->img[2], "v2", 4096))
		return -1;
	*state = f;
	return 0;
}

static int setup_memory(void **state) { return setup_common(state, false); }
static int setup_fs(void **state) { return setup_common(state, true); }

static int teardown(void **state)
{
	fixture *f = *state;
	for (int i = 0; i < 3; i++)
		th_image_dispose(&f->img[i]);
	ecr_repository_free(f->a);
	ecr_repository_free(f->b);
	ecr_registry_free(f->reg);
	if (f->dir)
		th_rmtree(f->dir);
	free(f);
	return 0;
}

/* Distinct blobs of the fixture: 3 manifests, 3 configs, img[0]'s 2 layers (shared by img[2]), img[1]'s layer,
 * img[2]'s extra layer. */
#define FIXTURE_BLOBS 10u
/* In the blob store: the same but the 3 manifests, which are in the metadata store (schema 6). */
#define FIXTURE_STORED (FIXTURE_BLOBS - 3u)

static void fsck(fixture *f, uint32_t flags, seen *s, ecr_fsck_stats *st)
{
	ecr_fsck_options o = ECR_FSCK_OPTIONS_INIT;
	o.flags = flags;
	st->version = ECR_FSCK_STATS_VERSION;
	assert_ok(ecr_registry_fsck(f->reg, &o, collect, s, st));
}

static void blob_path(fixture *f, const char *digest, char *out, size_t cap)
{
	const char *hex = strchr(digest, ':') + 1;
	snprintf(out, cap, "%s/blobs/sha256/%.2s/%s", f->dir, hex, hex);
}

static void db_exec(fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *path = NULL, *err = NULL;
	assert_true(asprintf(&path, "%s/metadata.db", f->dir) > 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	/* foreign_keys stays off on this connection: the damage is made by hand, as a crash or a bug would */
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
	sqlite3_close(db);
	free(path);
}

static void test_engine_fsck__clean(void **state)
{
	fixture *f = *state;
	seen s = { 0 };
	ecr_fsck_stats st;
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.notices, 0);
	assert_int_equal(st.registries, 1);
	assert_int_equal(st.repositories, 2);
	assert_int_equal(st.images, 3);
	assert_int_equal(st.tags, 3);
	assert_int_equal(st.blobs_checked, FIXTURE_BLOBS);
	uint64_t bytes = 0;
	for (int i = 0; i < 3; i++) {
		bytes += f->img[i].manifest_len + f->img[i].config.len;
		for (size_t k = 0; k < f->img[i].layer_count; k++)
			bytes += i == 2 && k < f->img[0].layer_count ? 0 : f->img[i].layers[k].len;
	}
	assert_int_equal(st.bytes_hashed, bytes);

	/* Without hashing: the same checks, no byte read. */
	fsck(f, ECR_FSCK_NO_HASH, &s, &st);
	assert_int_equal(s.n, 0);
	assert_int_equal(st.blobs_checked, FIXTURE_BLOBS);
	assert_int_equal(st.bytes_hashed, 0);
}

static void test_engine_fsck__all_registries(void **state)
{
	fixture *f = *state;
	ecr_registry *other = NULL;
	ecr_repository *r = NULL;
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	uint64_t rng = 99;
	th_image img;
	seen s = { 0 };
	ecr_fsck_stats st;

	if (!f->dir)
		skip(); /* a memory: registry's storage is its own */
	opts.flags = ECR_STORAGE_NOSYNC;
	opts.account_id = "222222222222";
	assert_ok(ecr_registry_open(&other, f->url, &opts));
	assert_ok(ecr_repository_create(&r, other, "else/where", NULL));
	assert_ok(th_image_random(&img, &rng, 1, NULL));
	assert_ok(th_image_push(r, &img, "x", 0));

	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 0);
	assert_int_equal(st.registries, 1);
	assert_int_equal(st.repositories, 2);
	fsck(f, ECR_FSCK_ALL_REGISTRIES, &s, &st);
	assert_int_equal(s.n, 0);
	assert_int_equal(st.registries, 2);
	assert_int_equal(st.repositories, 3);
	assert_int_equal(st.images, 4);
	assert_int_equal(st.blobs_checked, FIXTURE_BLOBS + 3);
	assert_int_equal(st.blobs_stored, FIXTURE_STORED + 2); /* img's config and layer */

	/* Damage in the other registry is found only when every registry is checked. */
	char path[4400];
	blob_path(f, img.layers[0].digest, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 0);
	fsck(f, ECR_FSCK_ALL_REGISTRIES, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_MISSING);
	assert_string_equal(s.digest[0], img.layers[0].digest);
	assert_string_equal(s.repo[0], "else/where");
	assert_int_equal(st.errors, 1);

	th_image_dispose(&img);
	ecr_repository_free(r);
	ecr_registry_free(other);
}

static void test_engine_fsck__blob_missing(void **state)
{
	fixture *f = *state;
	char path[4400];
	seen s = { 0 };
	ecr_fsck_stats st;
	if (!f->dir)
		skip();
	/* A layer shared by both repositories: reported once. */
	blob_path(f, f->img[0].layers[1].digest, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	fsck(f, ECR_FSCK_NO_HASH, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_MISSING);
	assert_int_equal(s.sev[0], ECR_FSCK_ERROR);
	assert_string_equal(s.digest[0], f->img[0].layers[1].digest);
	assert_int_equal(st.errors, 1);
}

static void test_engine_fsck__blob_corrupt_and_size(void **state)
{
	fixture *f = *state;
	char path[4400];
	seen s = { 0 };
	ecr_fsck_stats st;
	if (!f->dir)
		skip();
	/* Same size, one byte flipped: only hashing sees it. */
	blob_path(f, f->img[1].layers[0].digest, path, sizeof(path));
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	int c = fgetc(fp);
	assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
	fputc(c ^ 0x5a, fp);
	fclose(fp);
	fsck(f, ECR_FSCK_NO_HASH, &s, &st);
	assert_int_equal(s.n, 0);
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_CORRUPT);
	assert_string_equal(s.digest[0], f->img[1].layers[0].digest);

	/* A truncated config: wrong size (and so wrong content). */
	memset(&s, 0, sizeof(s));
	blob_path(f, f->img[2].config.digest, path, sizeof(path));
	assert_int_equal(truncate(path, (off_t)f->img[2].config.len - 1), 0);
	fsck(f, ECR_FSCK_NO_HASH, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_SIZE);
	assert_string_equal(s.digest[0], f->img[2].config.digest);
	assert_string_equal(s.repo[0], "team/b");
	memset(&s, 0, sizeof(s));
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 3); /* corrupt layer; config: size, corrupt */
	assert_int_equal(st.errors, 3);
}

static void test_engine_fsck__dangling_tag_and_unlinked(void **state)
{
	fixture *f = *state;
	char sql[1024];
	seen s = { 0 };
	ecr_fsck_stats st;
	if (!f->dir)
		skip();
	/* The image row of img[1] gone (its tag and references left behind), a link of img[2] gone. */
	snprintf(sql, sizeof(sql),
		"DELETE FROM images WHERE digest = '%s';"
		"DELETE FROM blob_links WHERE digest = '%s' AND repository_id = "
		"(SELECT id FROM repositories WHERE name = 'team/b');",
		f->img[1].digest, f->img[2].layers[2].digest);
	db_exec(f, sql);
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.kind[0], ECR_FSCK_TAG_DANGLING);
	assert_string_equal(s.repo[0], "team/a");
	assert_string_equal(s.digest[0], f->img[1].digest);
	assert_int_equal(s.kind[1], ECR_FSCK_BLOB_UNLINKED);
	assert_string_equal(s.repo[1], "team/b");
	assert_string_equal(s.digest[1], f->img[2].layers[2].digest);
	assert_int_equal(st.images, 2);
}

/* Manifests stored in the metadata store: a changed byte is found by hashing, a changed length without. */
static void test_engine_fsck__inline_manifest(void **state)
{
	fixture *f = *state;
	char sql[1024];
	seen s = { 0 };
	ecr_fsck_stats st;
	if (!f->dir)
		skip();
	/* the same length, other bytes (the JSON's quotes made apostrophes) */
	snprintf(sql, sizeof(sql),
		"UPDATE image_manifests SET body = CAST(replace(CAST(body AS TEXT), '\"', '''') AS BLOB) "
		"WHERE digest = '%s'",
		f->img[1].digest);
	db_exec(f, sql);
	fsck(f, ECR_FSCK_NO_HASH, &s, &st);
	assert_int_equal(s.n, 0);
	assert_int_equal(st.blobs_checked, FIXTURE_BLOBS);
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_CORRUPT);
	assert_int_equal(s.sev[0], ECR_FSCK_ERROR);
	assert_string_equal(s.digest[0], f->img[1].digest);
	assert_string_equal(s.repo[0], "team/a");
	assert_int_equal(st.errors, 1);

	/* one byte shorter: a size problem, seen without hashing */
	memset(&s, 0, sizeof(s));
	snprintf(sql, sizeof(sql), "UPDATE image_manifests SET body = substr(body, 2) WHERE digest = '%s'",
		f->img[2].digest);
	db_exec(f, sql);
	fsck(f, ECR_FSCK_NO_HASH, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_SIZE);
	assert_string_equal(s.digest[0], f->img[2].digest);
	assert_string_equal(s.repo[0], "team/b");
}

/* An image pushed before schema 6 has its manifest in the blob store: checked there, and found missing there. */
static void test_engine_fsck__manifest_in_blob_store(void **state)
{
	fixture *f = *state;
	char sql[1024], path[4400];
	seen s = { 0 };
	ecr_fsck_stats st;
	if (!f->dir)
		skip();
	assert_ok(ecr__blob_store_put(f->reg->store, f->img[0].digest, f->img[0].manifest, f->img[0].manifest_len));
	snprintf(sql, sizeof(sql), "DELETE FROM image_manifests WHERE digest = '%s'", f->img[0].digest);
	db_exec(f, sql);
	fsck(f, ECR_FSCK_ALL_REGISTRIES, &s, &st);
	assert_int_equal(s.n, 0); /* the blob is the image's manifest: not unreferenced */
	assert_int_equal(st.blobs_checked, FIXTURE_BLOBS);
	assert_int_equal(st.blobs_stored, FIXTURE_STORED + 1);

	blob_path(f, f->img[0].digest, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_MISSING);
	assert_string_equal(s.digest[0], f->img[0].digest);
	assert_string_equal(s.repo[0], "team/a");
}

static int first_text(void *payload, int n, char **vals, char **cols)
{
	(void)cols;
	if (n > 0 && vals[0] && !*(char *)payload)
		snprintf(payload, TH_DIGEST_MAX, "%s", vals[0]);
	return 0;
}

static void test_engine_fsck__archived(void **state)
{
	fixture *f = *state;
	seen s = { 0 };
	ecr_fsck_stats st;
	char raw[TH_DIGEST_MAX] = "", compressed[TH_DIGEST_MAX] = "", path[4400], sql[512];
	if (!f->dir)
		skip();
	/* img[1] archived: its blobs (needed by no active image) are kept compressed only. */
	assert_ok(ecr__image_set_storage_class(f->a, f->img[1].digest, ECR_STORAGE_CLASS_ARCHIVE, NULL));
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 0);
	assert_int_equal(st.errors, 0);

	sqlite3 *db = NULL;
	char *dbp = NULL;
	assert_true(asprintf(&dbp, "%s/metadata.db", f->dir) > 0);
	assert_int_equal(sqlite3_open(dbp, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT digest FROM archived_blobs WHERE digest = '%s'", f->img[1].layers[0].digest);
	assert_int_equal(sqlite3_exec(db, sql, first_text, raw, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT compressed_digest FROM archived_blobs WHERE digest = '%s'",
		f->img[1].layers[0].digest);
	assert_int_equal(sqlite3_exec(db, sql, first_text, compressed, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(dbp);
	assert_string_equal(raw, f->img[1].layers[0].digest);
	assert_true(strncmp(compressed, "sha256:", 7) == 0);

	/* The raw copy gone (archiving removed it, or we do), then the compressed one: archive-missing. */
	blob_path(f, raw, path, sizeof(path));
	(void)unlink(path);
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 0);
	blob_path(f, compressed, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_ARCHIVE_MISSING);
	assert_string_equal(s.digest[0], raw);
	assert_string_equal(s.repo[0], "team/a");
}

static void test_engine_fsck__unreferenced_is_a_notice(void **state)
{
	fixture *f = *state;
	uint64_t rng = 5;
	th_blob extra;
	seen s = { 0 };
	ecr_fsck_stats st;
	/* A blob in the store that no metadata names (what a crash between publish and link leaves). */
	assert_ok(th_blob_random(&extra, &rng, 777));
	assert_ok(ecr__blob_store_put(f->reg->store, extra.digest, extra.data, extra.len));
	fsck(f, 0, &s, &st);
	assert_int_equal(s.n, 0);
	fsck(f, ECR_FSCK_ALL_REGISTRIES, &s, &st);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_UNREFERENCED);
	assert_int_equal(s.sev[0], ECR_FSCK_NOTICE);
	assert_string_equal(s.digest[0], extra.digest);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.notices, 1);
	assert_int_equal(st.blobs_stored, FIXTURE_STORED + 1);
	th_blob_dispose(&extra);
}

static void test_engine_fsck__callback_stops_and_bad_args(void **state)
{
	fixture *f = *state;
	seen s = { 0 };
	ecr_fsck_options o = ECR_FSCK_OPTIONS_INIT;
	ecr_fsck_stats st = ECR_FSCK_STATS_INIT;
	uint64_t rng = 6;
	th_blob extra[2];
	for (int i = 0; i < 2; i++) {
		assert_ok(th_blob_random(&extra[i], &rng, 100 + (size_t)i));
		assert_ok(ecr__blob_store_put(f->reg->store, extra[i].digest, extra[i].data, extra[i].len));
	}
	o.flags = ECR_FSCK_ALL_REGISTRIES;
	s.stop_with = 42;
	assert_int_equal(ecr_registry_fsck(f->reg, &o, collect, &s, &st), 42);
	assert_int_equal(s.n, 1);
	/* No callback: counted only. */
	assert_ok(ecr_registry_fsck(f->reg, &o, NULL, NULL, &st));
	assert_int_equal(st.notices, 2);

	o.version = 99;
	assert_int_equal(ecr_registry_fsck(f->reg, &o, NULL, NULL, NULL), ECR_EINVALID);
	assert_int_equal(ecr_registry_fsck(NULL, NULL, NULL, NULL, NULL), ECR_EINVALID);
	st.version = 0;
	assert_int_equal(ecr_registry_fsck(f->reg, NULL, NULL, NULL, &st), ECR_EINVALID);
	assert_int_equal(ecr_fsck_options_init(&o, 2), ECR_EINVALID);
	assert_ok(ecr_fsck_options_init(&o, ECR_FSCK_OPTIONS_VERSION));
	assert_int_equal(o.flags, 0);
	for (int i = 0; i < 2; i++)
		th_blob_dispose(&extra[i]);
}

/* The queries on PostgreSQL (the second dialect): skipped unless PG_TEST_SERVER names the test server script. */
static void test_engine_fsck__postgres(void **state)
{
	(void)state;
	ecr_registry *r1 = NULL, *r2 = NULL;
	ecr_repository *a = NULL, *b = NULL;
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	char blobs_url[4200], path[4400];
	uint64_t rng = 77;
	th_image img[2];
	seen s = { 0 };
	ecr_fsck_options o = ECR_FSCK_OPTIONS_INIT;
	ecr_fsck_stats st = ECR_FSCK_STATS_INIT;

	if (!getenv("PG_TEST_SERVER") || th_pg_start() != 0)
		skip();
	char *dir = th_tmpdir();
	snprintf(blobs_url, sizeof(blobs_url), "file://%s", dir);
	opts.flags = ECR_STORAGE_NOSYNC;
	assert_ok(ecr_registry_open_urls(&r1, th_pg_url(), blobs_url, &opts));
	opts.account_id = "222222222222";
	assert_ok(ecr_registry_open_urls(&r2, th_pg_url(), blobs_url, &opts));
	assert_ok(ecr_repository_create(&a, r1, "pg/a", NULL));
	assert_ok(ecr_repository_create(&b, r2, "pg/b", NULL));
	assert_ok(th_image_random(&img[0], &rng, 2, NULL));
	assert_ok(th_image_random(&img[1], &rng, 1, NULL));
	assert_ok(th_image_push(a, &img[0], "x", 0));
	assert_ok(th_image_push(b, &img[1], "y", 0));

	o.flags = ECR_FSCK_ALL_REGISTRIES;
	assert_ok(ecr_registry_fsck(r1, &o, collect, &s, &st));
	assert_int_equal(s.n, 0);
	assert_int_equal(st.registries, 2);
	assert_int_equal(st.repositories, 2);
	assert_int_equal(st.images, 2);
	assert_int_equal(st.tags, 2);
	assert_int_equal(st.blobs_checked, 7); /* 2 manifests, 2 configs, 3 layers */
	o.flags = 0;
	assert_ok(ecr_registry_fsck(r2, &o, collect, &s, &st));
	assert_int_equal(st.registries, 1);
	assert_int_equal(st.blobs_checked, 3);

	const char *hex = strchr(img[1].layers[0].digest, ':') + 1;
	snprintf(path, sizeof(path), "%s/blobs/sha256/%.2s/%s", dir, hex, hex);
	assert_int_equal(unlink(path), 0);
	o.flags = ECR_FSCK_ALL_REGISTRIES;
	assert_ok(ecr_registry_fsck(r1, &o, collect, &s, &st));
	assert_int_equal(s.n, 1);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_MISSING);
	assert_string_equal(s.digest[0], img[1].layers[0].digest);
	assert_string_equal(s.repo[0], "pg/b");

	/* A manifest stored in PostgreSQL (bytea) with one byte changed: found by re-hashing the row. */
	char *bad = malloc(img[0].manifest_len);
	assert_non_null(bad);
	memcpy(bad, img[0].manifest, img[0].manifest_len);
	bad[0] = bad[0] == ' ' ? '\n' : ' ';
	ecr__txn t;
	ecr_sql_value p[] = { { ECR_SQL_BLOB, 0, bad, img[0].manifest_len }, ECR__SQL_S(img[0].digest) };
	assert_ok(ecr__txn_begin(&t, r1->store->meta, true));
	assert_ok(ecr__sql_change(&t, "UPDATE image_manifests SET body = ? WHERE digest = ?", p, 2, ECR_ENOTFOUND));
	assert_ok(ecr__txn_commit(&t));
	free(bad);
	memset(&s, 0, sizeof(s));
	assert_ok(ecr_registry_fsck(r1, &o, collect, &s, &st));
	assert_int_equal(s.n, 2);
	assert_int_equal(s.kind[0], ECR_FSCK_BLOB_CORRUPT);
	assert_string_equal(s.digest[0], img[0].digest);
	assert_string_equal(s.repo[0], "pg/a");

	for (int i = 0; i < 2; i++)
		th_image_dispose(&img[i]);
	ecr_repository_free(a);
	ecr_repository_free(b);
	ecr_registry_free(r1);
	ecr_registry_free(r2);
	th_rmtree(dir);
	th_pg_finish();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_fsck__clean, setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__clean, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__inline_manifest, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__manifest_in_blob_store, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__all_registries, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__blob_missing, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__blob_corrupt_and_size, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__dangling_tag_and_unlinked, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__archived, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__unreferenced_is_a_notice, setup_memory, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__unreferenced_is_a_notice, setup_fs, teardown),
		cmocka_unit_test_setup_teardown(test_engine_fsck__callback_stops_and_bad_args, setup_memory, teardown),
		cmocka_unit_test(test_engine_fsck__postgres),
	};
	ecr_init();
	int rc = cmocka_run_group_tests_name("engine/fsck", tests, NULL, NULL);
	ecr_shutdown();
	return rc;
}
