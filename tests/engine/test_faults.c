/* engine/faults: a storage-fault sweep over the engine's operations.
 *
 * A registry is opened with ecr_registry_open_storage() on fault-injecting
 * wrappers (tests/helpers/faulty_storage.h) around a real fs blob store and a
 * real SQLite store in a temporary folder (the file:// layout: blobs in the
 * folder, metadata.db beside them). For each scenario the operation is first
 * run without faults to count its storage calls C; then, for every N in 1..C,
 * on a fresh folder: the preconditions are set up without faults, call N is
 * made to fail (transiently, and separately persistently; ECR_EIO with errno
 * EIO or ENOSPC), and the operation runs. It must succeed or return a negative
 * code with ecr_error_last() describing it. The registry is then closed and
 * REOPENED on plain stores (file://), and checked:
 *   - the registry-wide consistency check (every tag -> an intact image);
 *   - every blob a repository links is readable and matches its digest;
 *   - the operation was all-or-nothing (and done, when it returned 0);
 *   - upload sessions left open that were not before can be resumed;
 *   - retrying the operation without faults succeeds;
 *   - no file descriptor leaked.
 *
 * Scenarios: the foundation's (create repository, push, move tag, delete image,
 * delete repository, GC), then archive an image, restore it, apply a lifecycle
 * policy (10 days on: one image archived, one expired), create a principal with
 * an access key and an identity policy, and delete it. Once archived images
 * exist, the consistency check is archive-aware: ACTIVE images verify end to
 * end, tags of the others are refused with ECR_EIMAGE_ARCHIVED, and every
 * image's config and layer blobs are in the folder raw (hashing to their
 * digest) or compressed (an archived_blobs row whose copy inflates to the
 * blob). Scan on push is not swept: its results are written asynchronously
 * by the scanner, which needs a vulnerability database.
 *
 * Environment: ECR_FAULT_MODES=full runs transient and persistent faults with
 * each errno (4 sweeps per scenario instead of 2). The newer scenarios sweep
 * at most SAMPLE_BUDGET N per mode (every Kth N); ECR_FAULT_SWEEP=full sweeps
 * every N. */
#include "../helpers/helpers.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "../helpers/faulty_storage.h"
#include "../helpers/th_image.h"
#include "libecr/core/digest.h"

#define REPO "faults/app"
#define OTHER "faults/other"

static _Atomic int64_t clock_offset_ms;

static int64_t test_clock(void *payload)
{
	(void)payload;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&clock_offset_ms);
}

static ecr_registry_options reg_options(void)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.clock_cb = test_clock;
	o.flags = ECR_STORAGE_NOSYNC;
	return o;
}

typedef struct fx {
	char *dir;
	char *url;
	th_faults f;
	ecr_registry *reg;
	th_image a, b, c; /* a and b share a layer; the same bytes in every run */
	ecr_gc_stats gc;  /* what gc_run's collection did */
	char *token;      /* a registry token of the principal (principal scenarios) */
} fx;

static void fx_init(fx *x)
{
	uint64_t rng = 42;
	memset(x, 0, sizeof(*x));
	x->dir = th_tmpdir();
	assert_non_null(x->dir);
	assert_true(asprintf(&x->url, "file://%s", x->dir) > 0);
	th_faults_init(&x->f);
	size_t sizes[2] = { 3000, 70000 };
	assert_ok(th_image_random(&x->a, &rng, 2, sizes));
	assert_ok(th_image_with_layers(&x->b, &rng, &x->a.layers[0], 1, 1));
	assert_ok(th_image_random(&x->c, &rng, 1, NULL));
	atomic_store(&clock_offset_ms, 0);
}

static void fx_open_faulty(fx *x)
{
	ecr_blob_store *bs = NULL, *fb = NULL;
	ecr_meta_store *ms = NULL, *fm = NULL;
	char *db = NULL;
	assert_true(asprintf(&db, "%s/metadata.db", x->dir) > 0);
	assert_ok(ecr_blob_store_fs_new(&bs, x->dir, ECR_STORAGE_NOSYNC));
	assert_ok(ecr_meta_store_sqlite_new(&ms, db, ECR_STORAGE_NOSYNC));
	assert_ok(th_faulty_blob_store_new(&fb, bs, &x->f));
	assert_ok(th_faulty_meta_store_new(&fm, ms, &x->f));
	ecr_registry_options o = reg_options();
	assert_ok(ecr_registry_open_storage(&x->reg, fb, fm, &o));
	free(db);
}

static ecr_registry *fx_open_plain(fx *x)
{
	ecr_registry *reg = NULL;
	ecr_registry_options o = reg_options();
	assert_ok(ecr_registry_open(&reg, x->url, &o));
	return reg;
}

static void fx_dispose(fx *x)
{
	ecr_registry_free(x->reg);
	th_image_dispose(&x->a);
	th_image_dispose(&x->b);
	th_image_dispose(&x->c);
	free(x->url);
	free(x->token);
	th_rmtree(x->dir);
	memset(x, 0, sizeof(*x));
}

static ecr_repository *open_repo(ecr_registry *reg, const char *name)
{
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_open(&repo, reg, name));
	return repo;
}

static void push(ecr_registry *reg, const char *name, const th_image *img, const char *tag)
{
	ecr_repository *repo = open_repo(reg, name);
	if (th_image_push(repo, img, tag, 0) != 0)
		fail_msg("push to %s: %s", name, th_problem());
	ecr_repository_free(repo);
}

/* The digest a tag points to, or "" when it does not exist. */
static void tag_digest(ecr_repository *repo, const char *tag, char out[TH_DIGEST_MAX])
{
	ecr_image *img = NULL;
	int rc = ecr_image_get(&img, repo, tag, 0);
	out[0] = '\0';
	if (rc == ECR_EIMAGE_NOT_FOUND)
		return;
	assert_ok(rc);
	snprintf(out, TH_DIGEST_MAX, "%s", ecr_image_digest(img));
	ecr_image_free(img);
}

static bool image_exists(ecr_repository *repo, const char *digest)
{
	ecr_image *img = NULL;
	int rc = ecr_image_get(&img, repo, digest, 0);
	ecr_image_free(img);
	if (rc == ECR_EIMAGE_NOT_FOUND)
		return false;
	assert_ok(rc);
	return true;
}

static void expect_exact(ecr_repository *repo, const th_image *img, const char *what)
{
	if (th_image_verify_exact(repo, img) != 0)
		fail_msg("%s: %s", what, th_problem());
}

static bool repo_exists(ecr_registry *reg, const char *name)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, reg, name);
	ecr_repository_free(repo);
	if (rc == ECR_EREPOSITORY_NOT_FOUND)
		return false;
	assert_ok(rc);
	return true;
}

/* --- the folder's metadata, read directly --- */

typedef struct idlist {
	char **ids;
	char **repos;
	size_t count;
} idlist;

static int id_row(void *p, int n, char **vals, char **cols)
{
	(void)n;
	(void)cols;
	idlist *l = p;
	l->ids = realloc(l->ids, (l->count + 1) * sizeof(char *));
	l->repos = realloc(l->repos, (l->count + 1) * sizeof(char *));
	if (!l->ids || !l->repos)
		return 1;
	l->ids[l->count] = strdup(vals[0] ? vals[0] : "");
	l->repos[l->count] = strdup(vals[1] ? vals[1] : "");
	l->count++;
	return 0;
}

static void idlist_dispose(idlist *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->ids[i]);
		free(l->repos[i]);
	}
	free(l->ids);
	free(l->repos);
	memset(l, 0, sizeof(*l));
}

/* Rows of a two-column query on the folder's metadata.db (read-only). */
static void query(fx *x, const char *sql, idlist *out)
{
	sqlite3 *db = NULL;
	char *db_path = NULL, *err = NULL;
	memset(out, 0, sizeof(*out));
	assert_true(asprintf(&db_path, "%s/metadata.db", x->dir) > 0);
	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, id_row, out, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err ? err : "?");
	sqlite3_close(db);
	free(db_path);
}

/* --- scenarios --- */

typedef struct scenario {
	const char *name;
	void (*setup)(fx *x);
	int (*run)(fx *x);
	/* rc: what run returned; reg: the reopened registry. Asserts all-or-nothing. */
	void (*check)(fx *x, ecr_registry *reg, int rc);
	/* Redo the operation without faults on the reopened registry; must succeed. */
	void (*retry)(fx *x, ecr_registry *reg);
	/* 0: sweep every N; else at most this many N per mode (every Kth), unless ECR_FAULT_SWEEP=full */
	unsigned long budget;
} scenario;

/* create repository */
static void create_setup(fx *x) { assert_ok(ecr_repository_create(NULL, x->reg, OTHER, NULL)); }
static int create_run(fx *x) { return ecr_repository_create(NULL, x->reg, REPO, NULL); }
static void create_check(fx *x, ecr_registry *reg, int rc)
{
	(void)x;
	bool exists = repo_exists(reg, REPO);
	if (rc == 0)
		assert_true(exists);
	if (exists) {
		ecr_repository *repo = open_repo(reg, REPO);
		assert_string_equal(ecr_repository_name(repo), REPO);
		ecr_repository_free(repo);
	}
	assert_true(repo_exists(reg, OTHER));
}
static void create_retry(fx *x, ecr_registry *reg)
{
	(void)x;
	int rc = ecr_repository_create(NULL, reg, REPO, NULL);
	if (rc != ECR_EREPOSITORY_EXISTS)
		assert_ok(rc);
	ecr_repository *repo = open_repo(reg, REPO);
	th_image img;
	uint64_t rng = 7;
	assert_ok(th_image_random(&img, &rng, 1, NULL));
	if (th_image_push(repo, &img, "t", 0) != 0)
		fail_msg("push into the created repository: %s", th_problem());
	th_image_dispose(&img);
	ecr_repository_free(repo);
}

/* push an image (uploads + manifest) with a new tag */
static void push_setup(fx *x)
{
	assert_ok(ecr_repository_create(NULL, x->reg, REPO, NULL));
	push(x->reg, REPO, &x->a, "latest");
}
static int push_run(fx *x)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, x->reg, REPO);
	if (rc == 0)
		rc = th_image_push(repo, &x->b, "new", 0);
	ecr_repository_free(repo);
	return rc;
}
static void push_check(fx *x, ecr_registry *reg, int rc)
{
	ecr_repository *repo = open_repo(reg, REPO);
	char d[TH_DIGEST_MAX];
	expect_exact(repo, &x->a, "the image pushed before");
	tag_digest(repo, "latest", d);
	assert_string_equal(d, x->a.digest);
	tag_digest(repo, "new", d);
	if (rc == 0)
		assert_string_equal(d, x->b.digest);
	if (d[0]) {
		assert_string_equal(d, x->b.digest);
		expect_exact(repo, &x->b, "the pushed image its tag points to");
	}
	if (image_exists(repo, x->b.digest))
		expect_exact(repo, &x->b, "the pushed image");
	ecr_repository_free(repo);
}
static void push_retry(fx *x, ecr_registry *reg)
{
	push(reg, REPO, &x->b, "new");
	ecr_repository *repo = open_repo(reg, REPO);
	expect_exact(repo, &x->b, "the image pushed again");
	ecr_repository_free(repo);
}

/* move a tag */
static void move_setup(fx *x)
{
	push_setup(x);
	push(x->reg, REPO, &x->b, "other");
}
static int move_run(fx *x)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, x->reg, REPO);
	if (rc == 0)
		rc = ecr_image_put(NULL, repo, "latest", x->b.digest, NULL, x->b.manifest, x->b.manifest_len, 0);
	ecr_repository_free(repo);
	return rc;
}
static void move_check(fx *x, ecr_registry *reg, int rc)
{
	ecr_repository *repo = open_repo(reg, REPO);
	char d[TH_DIGEST_MAX];
	expect_exact(repo, &x->a, "image a");
	expect_exact(repo, &x->b, "image b");
	tag_digest(repo, "latest", d);
	if (rc == 0)
		assert_string_equal(d, x->b.digest);
	else if (strcmp(d, x->a.digest) != 0)
		assert_string_equal(d, x->b.digest);
	tag_digest(repo, "other", d);
	assert_string_equal(d, x->b.digest);
	ecr_repository_free(repo);
}
static void move_retry(fx *x, ecr_registry *reg)
{
	ecr_repository *repo = open_repo(reg, REPO);
	char d[TH_DIGEST_MAX];
	assert_ok(ecr_image_put(NULL, repo, "latest", x->b.digest, NULL, x->b.manifest, x->b.manifest_len, 0));
	tag_digest(repo, "latest", d);
	assert_string_equal(d, x->b.digest);
	ecr_repository_free(repo);
}

/* delete an image (with two tags; another image shares a layer) */
static void delete_setup(fx *x)
{
	push_setup(x);
	push(x->reg, REPO, &x->a, "v1");
	push(x->reg, REPO, &x->b, "b");
}
static int delete_run(fx *x)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, x->reg, REPO);
	if (rc == 0)
		rc = ecr_image_delete(repo, x->a.digest);
	ecr_repository_free(repo);
	return rc;
}
static void delete_check(fx *x, ecr_registry *reg, int rc)
{
	ecr_repository *repo = open_repo(reg, REPO);
	char d1[TH_DIGEST_MAX], d2[TH_DIGEST_MAX];
	bool exists = image_exists(repo, x->a.digest);
	tag_digest(repo, "latest", d1);
	tag_digest(repo, "v1", d2);
	if (rc == 0)
		assert_false(exists);
	if (exists) {
		expect_exact(repo, &x->a, "the image not deleted");
		assert_string_equal(d1, x->a.digest);
		assert_string_equal(d2, x->a.digest);
	} else {
		assert_string_equal(d1, "");
		assert_string_equal(d2, "");
	}
	expect_exact(repo, &x->b, "the image sharing a layer");
	tag_digest(repo, "b", d1);
	assert_string_equal(d1, x->b.digest);
	ecr_repository_free(repo);
}
static void delete_retry(fx *x, ecr_registry *reg)
{
	ecr_repository *repo = open_repo(reg, REPO);
	int rc = ecr_image_delete(repo, x->a.digest);
	if (rc != ECR_EIMAGE_NOT_FOUND)
		assert_ok(rc);
	assert_false(image_exists(repo, x->a.digest));
	ecr_repository_free(repo);
}

/* delete a repository with its images (another repository shares blobs) */
static void rmrepo_setup(fx *x)
{
	delete_setup(x);
	assert_ok(ecr_repository_create(NULL, x->reg, OTHER, NULL));
	push(x->reg, OTHER, &x->a, "x");
}
static int rmrepo_run(fx *x) { return ecr_repository_delete(x->reg, REPO, ECR_REPOSITORY_DELETE_FORCE); }
static void rmrepo_check(fx *x, ecr_registry *reg, int rc)
{
	bool exists = repo_exists(reg, REPO);
	if (rc == 0)
		assert_false(exists);
	if (exists) {
		/* Fully there: everything it held before. */
		ecr_repository *repo = open_repo(reg, REPO);
		char d[TH_DIGEST_MAX];
		expect_exact(repo, &x->a, "image a of the repository not deleted");
		expect_exact(repo, &x->b, "image b of the repository not deleted");
		tag_digest(repo, "latest", d);
		assert_string_equal(d, x->a.digest);
		tag_digest(repo, "b", d);
		assert_string_equal(d, x->b.digest);
		ecr_repository_free(repo);
	}
	ecr_repository *other = open_repo(reg, OTHER);
	expect_exact(other, &x->a, "the other repository's image");
	ecr_repository_free(other);
}
static void rmrepo_retry(fx *x, ecr_registry *reg)
{
	(void)x;
	int rc = ecr_repository_delete(reg, REPO, ECR_REPOSITORY_DELETE_FORCE);
	if (rc != ECR_EREPOSITORY_NOT_FOUND)
		assert_ok(rc);
	assert_false(repo_exists(reg, REPO));
}

/* garbage collection past the grace period: an untagged-and-deleted image's
 * blobs, an abandoned upload, and a live image sharing a layer */
static void gc_setup(fx *x)
{
	delete_setup(x);
	assert_ok(ecr_repository_create(NULL, x->reg, OTHER, NULL));
	push(x->reg, OTHER, &x->c, "c");
	ecr_repository *repo = open_repo(x->reg, REPO);
	assert_ok(ecr_image_delete(repo, x->a.digest)); /* a's own layer becomes garbage; the shared one is b's */
	ecr_upload *up = NULL;
	assert_ok(ecr_upload_begin(&up, repo));
	assert_ok(ecr_upload_write(up, 0, "abandoned", 9));
	ecr_upload_free(up);
	ecr_repository_free(repo);
	repo = open_repo(x->reg, OTHER);
	assert_ok(ecr_image_delete(repo, x->c.digest)); /* c is garbage entirely */
	ecr_repository_free(repo);
}
static int gc_run(fx *x)
{
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	atomic_store(&clock_offset_ms, (int64_t)2 * 3600 * 1000);
	int rc = ecr_registry_gc(x->reg, NULL, &st);
	atomic_store(&clock_offset_ms, 0);
	x->gc = st;
	return rc;
}
static void gc_check(fx *x, ecr_registry *reg, int rc)
{
	if (rc == 0) {
		/* It did collect: a's own layer and config, c's blobs and manifests, their links. */
		assert_true(x->gc.blobs_removed >= 4);
		assert_true(x->gc.links_removed >= 4);
	}
	ecr_repository *repo = open_repo(reg, REPO);
	char d[TH_DIGEST_MAX];
	expect_exact(repo, &x->b, "the live image");
	tag_digest(repo, "b", d);
	assert_string_equal(d, x->b.digest);
	assert_false(image_exists(repo, x->a.digest));
	ecr_repository_free(repo);
}
static void gc_retry(fx *x, ecr_registry *reg)
{
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	atomic_store(&clock_offset_ms, (int64_t)2 * 3600 * 1000);
	int rc = ecr_registry_gc(reg, NULL, &st);
	atomic_store(&clock_offset_ms, 0);
	assert_ok(rc);
	ecr_repository *repo = open_repo(reg, REPO);
	expect_exact(repo, &x->b, "the live image after a second GC");
	ecr_repository_free(repo);
}

/* --- the newer operations: archive, restore, lifecycle, principals --- */

/* N swept per mode by default for these scenarios (ECR_FAULT_SWEEP=full sweeps every N). */
#define SAMPLE_BUDGET 15

/* After the faulted runs of a scenario: the status image a was left in (ACTIVE, ARCHIVED, ACTIVATING, gone). */
static unsigned long outcomes[4];

static void set_offset_days(int days) { atomic_store(&clock_offset_ms, (int64_t)days * 24 * 3600 * 1000); }

/* The status of an image (any status), or -1 when it does not exist. */
static int status_of(ecr_repository *repo, const char *digest)
{
	ecr_image *img = NULL;
	int rc = ecr_image_get(&img, repo, digest, ECR_IMAGE_GET_ANY_STATUS);
	if (rc == ECR_EIMAGE_NOT_FOUND)
		return -1;
	assert_ok(rc);
	int st = (int)ecr_image_status_of(img);
	ecr_image_free(img);
	return st;
}

/* Read a whole file; NULL when it does not exist. */
static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, r;
	if (!f)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			unsigned char *nb = realloc(buf, cap);
			assert_non_null(nb);
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

static void blob_path(fx *x, const char *digest, char *path, size_t cap)
{
	if (strncmp(digest, "sha256:", 7) != 0)
		fail_msg("unexpected digest %s", digest);
	snprintf(path, cap, "%s/blobs/sha256/%.2s/%s", x->dir, digest + 7, digest + 7);
}

/* Whether the raw copy of a blob is in the folder's blob store (its content must then match its digest). */
static bool raw_ok(fx *x, const char *digest)
{
	char path[4400], got[ECR__DIGEST_STRLEN_MAX];
	size_t len = 0;
	blob_path(x, digest, path, sizeof(path));
	unsigned char *data = slurp(path, &len);
	if (!data)
		return false;
	assert_ok(ecr__digest_buf(got, sizeof(got), ECR__DIGEST_SHA256, data, len));
	free(data);
	if (strcmp(got, digest) != 0)
		fail_msg("blob file %s holds bytes of digest %s", digest, got);
	return true;
}

/* Whether a blob has an archived_blobs row whose compressed copy is present and inflates to the blob. */
static bool compressed_ok(fx *x, const char *digest)
{
	char sql[400], path[4400], got[ECR__DIGEST_STRLEN_MAX];
	idlist l;
	bool ok = false;
	snprintf(sql, sizeof(sql), "SELECT compressed_digest, size FROM archived_blobs WHERE digest = '%s'", digest);
	query(x, sql, &l);
	if (l.count == 1) {
		size_t clen = 0;
		uLongf size = (uLongf)strtoull(l.repos[0], NULL, 10);
		blob_path(x, l.ids[0], path, sizeof(path));
		unsigned char *c = slurp(path, &clen);
		if (c) {
			unsigned char *raw = malloc(size ? size : 1);
			uLongf out = size;
			assert_non_null(raw);
			if (uncompress(raw, &out, c, (uLong)clen) == Z_OK && out == size) {
				assert_ok(ecr__digest_buf(got, sizeof(got), ECR__DIGEST_SHA256, raw, out));
				ok = strcmp(got, digest) == 0;
			}
			free(raw);
			free(c);
		}
	}
	idlist_dispose(&l);
	return ok;
}

static bool blob_available(fx *x, const char *digest) { return raw_ok(x, digest) || compressed_ok(x, digest); }

/* The archive-aware consistency check: every ACTIVE image (by digest and by each tag) verifies end to end; a
 * tag of an image that is not ACTIVE resolves with ECR_IMAGE_GET_ANY_STATUS and is refused without it; the
 * config and layer blobs of every image, whatever its status, are available raw or compressed (no blob lost). */
static void check_archive_aware(fx *x, ecr_registry *reg, const char *label)
{
	idlist l;
	query(x, "SELECT i.digest, r.name FROM images i JOIN repositories r ON r.id = i.repository_id "
		 "WHERE i.status = 0", &l);
	for (size_t i = 0; i < l.count; i++) {
		ecr_repository *repo = open_repo(reg, l.repos[i]);
		if (th_image_verify(repo, l.ids[i], l.ids[i], NULL) != 0)
			fail_msg("%s: active image %s@%s: %s", label, l.repos[i], l.ids[i], th_problem());
		ecr_repository_free(repo);
	}
	idlist_dispose(&l);
	query(x, "SELECT t.name || ' ' || i.status || ' ' || i.digest, r.name FROM tags t JOIN images i ON "
		 "i.repository_id = t.repository_id AND i.digest = t.digest JOIN repositories r ON r.id = "
		 "t.repository_id", &l);
	for (size_t i = 0; i < l.count; i++) {
		char tag[300], digest[TH_DIGEST_MAX];
		int status = -1;
		assert_int_equal(sscanf(l.ids[i], "%299s %d %135s", tag, &status, digest), 3);
		ecr_repository *repo = open_repo(reg, l.repos[i]);
		if (status == ECR_IMAGE_ACTIVE) {
			if (th_image_verify(repo, tag, digest, NULL) != 0)
				fail_msg("%s: tag %s:%s: %s", label, l.repos[i], tag, th_problem());
		} else {
			ecr_image *img = NULL;
			int rc = ecr_image_get(&img, repo, tag, 0);
			ecr_image_free(img);
			if (rc != ECR_EIMAGE_ARCHIVED)
				fail_msg("%s: tag %s:%s of an image in status %d: pulled with %d (%s)", label, l.repos[i],
					tag, status, rc, ecr_error_name(rc));
			assert_ok(ecr_image_get(&img, repo, tag, ECR_IMAGE_GET_ANY_STATUS));
			assert_string_equal(ecr_image_digest(img), digest);
			ecr_image_free(img);
		}
		ecr_repository_free(repo);
	}
	idlist_dispose(&l);
	query(x, "SELECT DISTINCT ir.child, ir.parent FROM image_refs ir WHERE ir.kind = 0", &l);
	for (size_t i = 0; i < l.count; i++)
		if (!blob_available(x, l.ids[i]))
			fail_msg("%s: blob %s of image %s is lost: neither raw nor compressed with an archived_blobs row",
				label, l.ids[i], l.repos[i]);
	idlist_dispose(&l);
}

/* archive an image (a shares a layer with b, which stays active; c is in another repository) */
static void archive_setup(fx *x)
{
	assert_ok(ecr_repository_create(NULL, x->reg, REPO, NULL));
	push(x->reg, REPO, &x->a, "latest");
	push(x->reg, REPO, &x->b, "b");
}
static int archive_run(fx *x)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, x->reg, REPO);
	if (rc == 0)
		rc = ecr_image_set_storage_class(NULL, repo, x->a.digest, ECR_STORAGE_CLASS_ARCHIVE);
	ecr_repository_free(repo);
	return rc;
}
/* a is fully archived: its own blobs compressed and not raw (when done is set), the shared layer raw. */
static void expect_archived(fx *x, ecr_repository *repo, bool done, const char *label)
{
	assert_int_equal(status_of(repo, x->a.digest), ECR_IMAGE_ARCHIVED);
	const th_blob *own[2] = { &x->a.config, &x->a.layers[1] };
	for (int i = 0; i < 2; i++) {
		if (!blob_available(x, own[i]->digest))
			fail_msg("%s: blob %s of the archived image is lost", label, own[i]->digest);
		if (done && (raw_ok(x, own[i]->digest) || !compressed_ok(x, own[i]->digest)))
			fail_msg("%s: archived, but blob %s is %s", label, own[i]->digest,
				raw_ok(x, own[i]->digest) ? "still raw" : "not compressed");
	}
	if (!raw_ok(x, x->a.layers[0].digest))
		fail_msg("%s: the layer shared with an active image is not raw", label);
}
static void archive_check(fx *x, ecr_registry *reg, int rc)
{
	ecr_repository *repo = open_repo(reg, REPO);
	int st = status_of(repo, x->a.digest);
	char d[TH_DIGEST_MAX];
	outcomes[st < 0 ? 3 : st]++;
	if (rc == 0 || st != ECR_IMAGE_ACTIVE) {
		expect_archived(x, repo, rc == 0, "archive");
	} else {
		expect_exact(repo, &x->a, "the image not archived");
		for (size_t i = 0; i < x->a.layer_count; i++)
			assert_true(raw_ok(x, x->a.layers[i].digest));
		assert_true(raw_ok(x, x->a.config.digest));
	}
	tag_digest(repo, "b", d);
	assert_string_equal(d, x->b.digest);
	expect_exact(repo, &x->b, "the active image sharing a layer");
	ecr_repository_free(repo);
}
static void archive_retry(fx *x, ecr_registry *reg)
{
	ecr_repository *repo = open_repo(reg, REPO);
	int rc = ecr_image_set_storage_class(NULL, repo, x->a.digest, ECR_STORAGE_CLASS_ARCHIVE);
	if (rc != ECR_ESTORAGE_CLASS_UPDATE)
		assert_ok(rc);
	expect_archived(x, repo, rc == 0, "archive retried");
	/* and it comes back intact */
	assert_ok(ecr_image_set_storage_class(NULL, repo, x->a.digest, ECR_STORAGE_CLASS_STANDARD));
	expect_exact(repo, &x->a, "the image restored after the archive");
	ecr_repository_free(repo);
}

/* restore an archived image */
static void restore_setup(fx *x)
{
	archive_setup(x);
	assert_ok(archive_run(x));
}
static int restore_run(fx *x)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, x->reg, REPO);
	if (rc == 0)
		rc = ecr_image_set_storage_class(NULL, repo, x->a.digest, ECR_STORAGE_CLASS_STANDARD);
	ecr_repository_free(repo);
	return rc;
}
static void expect_restored(fx *x, ecr_repository *repo, const char *label)
{
	char d[TH_DIGEST_MAX];
	assert_int_equal(status_of(repo, x->a.digest), ECR_IMAGE_ACTIVE);
	expect_exact(repo, &x->a, label);
	tag_digest(repo, "latest", d);
	assert_string_equal(d, x->a.digest);
	for (size_t i = 0; i < x->a.layer_count; i++)
		if (!raw_ok(x, x->a.layers[i].digest))
			fail_msg("%s: layer %zu is not raw", label, i);
	if (!raw_ok(x, x->a.config.digest))
		fail_msg("%s: the config is not raw", label);
}
static void restore_check(fx *x, ecr_registry *reg, int rc)
{
	ecr_repository *repo = open_repo(reg, REPO);
	int st = status_of(repo, x->a.digest);
	outcomes[st < 0 ? 3 : st]++;
	if (rc == 0 || st == ECR_IMAGE_ACTIVE) {
		expect_restored(x, repo, "the restored image");
	} else {
		if (st != ECR_IMAGE_ARCHIVED && st != ECR_IMAGE_ACTIVATING)
			fail_msg("restore failed with %d and left the image in status %d", rc, st);
		/* every blob it needs still there, raw or compressed (checked for all images too) */
		assert_true(blob_available(x, x->a.config.digest));
		for (size_t i = 0; i < x->a.layer_count; i++)
			assert_true(blob_available(x, x->a.layers[i].digest));
	}
	expect_exact(repo, &x->b, "the active image sharing a layer");
	ecr_repository_free(repo);
}
static void restore_retry(fx *x, ecr_registry *reg)
{
	ecr_repository *repo = open_repo(reg, REPO);
	int rc = ecr_image_set_storage_class(NULL, repo, x->a.digest, ECR_STORAGE_CLASS_STANDARD);
	if (rc != ECR_ESTORAGE_CLASS_UPDATE || status_of(repo, x->a.digest) != ECR_IMAGE_ACTIVE)
		assert_ok(rc);
	expect_restored(x, repo, "the image restored by the retry");
	ecr_repository_free(repo);
}

/* apply a lifecycle policy 10 days on: a ("old-a") is archived; of b ("prod-1", older) and c ("prod-2") only
 * the newest prod image is kept, so b (which shares a layer with a) expires. */
static const char LIFECYCLE_POLICY[] =
	"{\"rules\":["
	"{\"rulePriority\":1,\"description\":\"archive old\",\"selection\":{\"tagStatus\":\"tagged\","
	"\"tagPrefixList\":[\"old\"],\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":5},"
	"\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}},"
	"{\"rulePriority\":2,\"description\":\"keep one prod\",\"selection\":{\"tagStatus\":\"tagged\","
	"\"tagPrefixList\":[\"prod\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":1},"
	"\"action\":{\"type\":\"expire\"}}]}";

static void lifecycle_setup(fx *x)
{
	assert_ok(ecr_repository_create(NULL, x->reg, REPO, NULL));
	push(x->reg, REPO, &x->a, "old-a");
	push(x->reg, REPO, &x->b, "prod-1");
	atomic_store(&clock_offset_ms, 60 * 1000);
	push(x->reg, REPO, &x->c, "prod-2");
	atomic_store(&clock_offset_ms, 0);
}
static int lifecycle_apply_at(ecr_registry *reg, int64_t extra_ms)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, reg, REPO);
	if (rc == 0)
		rc = ecr_repository_set_lifecycle_policy(repo, LIFECYCLE_POLICY);
	if (rc == 0) {
		set_offset_days(10);
		atomic_fetch_add(&clock_offset_ms, extra_ms);
		rc = ecr_repository_apply_lifecycle(repo, NULL, NULL);
		atomic_store(&clock_offset_ms, 0);
	}
	ecr_repository_free(repo);
	return rc;
}
static int lifecycle_apply(ecr_registry *reg) { return lifecycle_apply_at(reg, 0); }
static int lifecycle_run(fx *x) { return lifecycle_apply(x->reg); }
static void lifecycle_expect(fx *x, ecr_registry *reg, bool done, const char *label)
{
	ecr_repository *repo = open_repo(reg, REPO);
	char d[TH_DIGEST_MAX];
	int sa = status_of(repo, x->a.digest), sb = status_of(repo, x->b.digest);
	if (done && (sa != ECR_IMAGE_ARCHIVED || sb != -1))
		fail_msg("%s: applied, but a has status %d and b %d", label, sa, sb);
	/* a: archived (its own blobs available) or untouched */
	if (sa == ECR_IMAGE_ACTIVE) {
		expect_exact(repo, &x->a, label);
	} else {
		assert_int_equal(sa, ECR_IMAGE_ARCHIVED);
		assert_true(blob_available(x, x->a.config.digest));
		for (size_t i = 0; i < x->a.layer_count; i++)
			assert_true(blob_available(x, x->a.layers[i].digest));
	}
	tag_digest(repo, "prod-1", d);
	if (sb == -1) {
		assert_string_equal(d, "");
	} else {
		assert_int_equal(sb, ECR_IMAGE_ACTIVE);
		assert_string_equal(d, x->b.digest);
		expect_exact(repo, &x->b, label);
	}
	tag_digest(repo, "prod-2", d);
	assert_string_equal(d, x->c.digest);
	expect_exact(repo, &x->c, label);
	if (done) {
		ecr_buf text = ECR_BUF_INIT;
		int64_t last = 0;
		assert_ok(ecr_repository_lifecycle_policy(&text, &last, repo));
		assert_true(last > 0);
		ecr_buf_dispose(&text);
	}
	ecr_repository_free(repo);
}
static void lifecycle_check(fx *x, ecr_registry *reg, int rc)
{
	ecr_repository *repo = open_repo(reg, REPO);
	int st = status_of(repo, x->a.digest);
	outcomes[st < 0 ? 3 : st]++;
	ecr_repository_free(repo);
	lifecycle_expect(x, reg, rc == 0, "lifecycle");
}
static void lifecycle_retry(fx *x, ecr_registry *reg)
{
	/* a run that failed may have failed to release its lease "lifecycle/<repository>" too: as for a node that
	 * died, the retry (another store, so another holder) is skipped until the lease's 10 minutes are over */
	assert_ok(lifecycle_apply_at(reg, 11 * 60 * 1000));
	lifecycle_expect(x, reg, true, "lifecycle retried");
	/* the archived image comes back intact */
	ecr_repository *repo = open_repo(reg, REPO);
	assert_ok(ecr_image_set_storage_class(NULL, repo, x->a.digest, ECR_STORAGE_CLASS_STANDARD));
	expect_exact(repo, &x->a, "the image archived by the lifecycle policy, restored");
	ecr_repository_free(repo);
}

/* principals: one with an access key and an identity policy is created, and deleted */
#define ARN "arn:aws:iam::123456789012:user/faults"
static const char IDENTITY_POLICY[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
				      "\"Action\":\"ecr:*\",\"Resource\":\"*\"}]}";

static int principal_make(ecr_registry *reg)
{
	ecr_principal *p = NULL;
	ecr_buf id = ECR_BUF_INIT, secret = ECR_BUF_INIT;
	int rc = ecr_principal_create(&p, reg, ARN, 0);
	if (rc == 0)
		rc = ecr_principal_access_key_create(&id, &secret, p);
	if (rc == 0)
		rc = ecr_principal_put_policy(p, "ecr-all", IDENTITY_POLICY);
	ecr_buf_dispose(&id);
	ecr_buf_dispose(&secret);
	ecr_principal_free(p);
	return rc;
}

static int policy_seen(const char *name, const char *document, void *payload)
{
	if (strcmp(name, "ecr-all") != 0 || strcmp(document, IDENTITY_POLICY) != 0)
		fail_msg("identity policy %s: %s", name, document);
	(*(int *)payload)++;
	return 0;
}

/* What the reopened registry holds of the principal: -1 nothing; else keys * 10 + policies. Checks that no
 * key or policy outlives its principal and that a token made now verifies. */
static int principal_state(fx *x, ecr_registry *reg)
{
	idlist l;
	query(x, "SELECT key_id, principal_id FROM access_keys WHERE principal_id NOT IN (SELECT id FROM principals) "
		 "UNION ALL SELECT name, principal_id FROM identity_policies WHERE principal_id NOT IN "
		 "(SELECT id FROM principals)", &l);
	if (l.count)
		fail_msg("access key or identity policy %s of a principal (%s) that does not exist", l.ids[0],
			l.repos[0]);
	idlist_dispose(&l);
	ecr_principal *p = NULL;
	int rc = ecr_principal_open(&p, reg, ARN);
	if (rc == ECR_ENOTFOUND)
		return -1;
	assert_ok(rc);
	query(x, "SELECT k.key_id, p.arn FROM access_keys k JOIN principals p ON p.id = k.principal_id", &l);
	int keys = (int)l.count, policies = 0;
	idlist_dispose(&l);
	assert_ok(ecr_principal_policies(p, policy_seen, &policies));
	ecr_buf token = ECR_BUF_INIT;
	int64_t expires = 0;
	ecr_principal *q = NULL;
	assert_ok(ecr_auth_token_create(&token, &expires, reg, p));
	assert_ok(ecr_auth_token_verify(&q, reg, token.ptr));
	assert_string_equal(ecr_principal_arn(q), ARN);
	ecr_principal_free(q);
	ecr_buf_dispose(&token);
	ecr_principal_free(p);
	return keys * 10 + policies;
}

static void principal_create_setup(fx *x) { assert_ok(ecr_repository_create(NULL, x->reg, REPO, NULL)); }
static int principal_create_run(fx *x) { return principal_make(x->reg); }
static void principal_create_check(fx *x, ecr_registry *reg, int rc)
{
	int st = principal_state(x, reg);
	if (rc == 0)
		assert_int_equal(st, 11);
	else if (st != -1 && st != 0 && st != 10 && st != 11)
		fail_msg("principal creation failed with %d and left %d keys, %d policies", rc, st / 10, st % 10);
}
static void principal_create_retry(fx *x, ecr_registry *reg)
{
	/* what a client does: delete what is left, create again */
	int rc = ecr_principal_delete(reg, ARN);
	if (rc != ECR_ENOTFOUND)
		assert_ok(rc);
	assert_int_equal(principal_state(x, reg), -1);
	assert_ok(principal_make(reg));
	assert_int_equal(principal_state(x, reg), 11);
}

static void principal_delete_setup(fx *x)
{
	ecr_principal *p = NULL;
	ecr_buf token = ECR_BUF_INIT;
	int64_t expires = 0;
	principal_create_setup(x);
	assert_ok(principal_make(x->reg));
	assert_ok(ecr_principal_open(&p, x->reg, ARN));
	assert_ok(ecr_auth_token_create(&token, &expires, x->reg, p));
	ecr_principal_free(p);
	x->token = strdup(token.ptr);
	ecr_buf_dispose(&token);
}
static int principal_delete_run(fx *x) { return ecr_principal_delete(x->reg, ARN); }
/* The token made before the deletion works exactly while the principal exists. */
static void expect_token(fx *x, ecr_registry *reg, bool works)
{
	ecr_principal *p = NULL;
	int rc = ecr_auth_token_verify(&p, reg, x->token);
	ecr_principal_free(p);
	if (works)
		assert_ok(rc);
	else
		assert_int_equal(rc, ECR_EUNRECOGNIZED_CLIENT);
}
static void principal_delete_check(fx *x, ecr_registry *reg, int rc)
{
	int st = principal_state(x, reg);
	if (rc == 0)
		assert_int_equal(st, -1);
	else if (st != -1 && st != 11)
		fail_msg("principal deletion failed with %d and left %d keys, %d policies", rc, st / 10, st % 10);
	expect_token(x, reg, st != -1);
}
static void principal_delete_retry(fx *x, ecr_registry *reg)
{
	int rc = ecr_principal_delete(reg, ARN);
	if (rc != ECR_ENOTFOUND)
		assert_ok(rc);
	assert_int_equal(principal_state(x, reg), -1);
	expect_token(x, reg, false);
}

static const scenario scenarios[] = {
	{ "create repository", create_setup, create_run, create_check, create_retry, 0 },
	{ "push image", push_setup, push_run, push_check, push_retry, 0 },
	{ "move tag", move_setup, move_run, move_check, move_retry, 0 },
	{ "delete image", delete_setup, delete_run, delete_check, delete_retry, 0 },
	{ "delete repository (force)", rmrepo_setup, rmrepo_run, rmrepo_check, rmrepo_retry, 0 },
	{ "garbage collection", gc_setup, gc_run, gc_check, gc_retry, 0 },
	{ "archive image", archive_setup, archive_run, archive_check, archive_retry, SAMPLE_BUDGET },
	{ "restore image", restore_setup, restore_run, restore_check, restore_retry, SAMPLE_BUDGET },
	{ "apply lifecycle policy", lifecycle_setup, lifecycle_run, lifecycle_check, lifecycle_retry, SAMPLE_BUDGET },
	{ "create principal (access key, identity policy)", principal_create_setup, principal_create_run,
		principal_create_check, principal_create_retry, SAMPLE_BUDGET },
	{ "delete principal", principal_delete_setup, principal_delete_run, principal_delete_check,
		principal_delete_retry, SAMPLE_BUDGET },
};

/* --- checks on the reopened folder --- */

static void upload_sessions(fx *x, idlist *out)
{
	query(x, "SELECT u.id, r.name FROM uploads u JOIN repositories r ON r.id = u.repository_id ORDER BY u.id", out);
}

/* Every blob a repository links reads back and matches its digest. */
static void check_links(fx *x, ecr_registry *reg, const char *label)
{
	idlist l;
	query(x, "SELECT l.digest, r.name FROM blob_links l JOIN repositories r ON r.id = l.repository_id", &l);
	for (size_t i = 0; i < l.count; i++) {
		ecr_repository *repo = open_repo(reg, l.repos[i]);
		if (th_blob_verify(repo, l.ids[i], UINT64_MAX) != 0 && !compressed_ok(x, l.ids[i]))
			fail_msg("%s: %s links %s, which does not read back: %s", label, l.repos[i], l.ids[i],
				th_problem());
		ecr_repository_free(repo);
	}
	idlist_dispose(&l);
}

static bool idlist_has(const idlist *l, const char *id)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->ids[i], id) == 0)
			return true;
	return false;
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The registry-wide check (th_registry_check pulls every image, so it runs when all are ACTIVE), the
 * archive-aware check, and the blob links. */
static void consistency(fx *x, ecr_registry *reg, const char *label, const char *when)
{
	idlist l;
	th_check_stats cs;
	char what[400];
	query(x, "SELECT digest, status FROM images WHERE status <> 0", &l);
	size_t inactive = l.count;
	idlist_dispose(&l);
	if (inactive == 0 && th_registry_check(reg, &cs) != 0)
		fail_msg("%s: consistency%s: %s", label, when, th_problem());
	snprintf(what, sizeof(what), "%s%s", label, when);
	check_archive_aware(x, reg, what);
	check_links(x, reg, what);
}

static char alarm_msg[256];

static void on_alarm(int sig)
{
	(void)sig;
	ssize_t r = write(2, alarm_msg, strlen(alarm_msg));
	(void)r;
	_exit(99);
}

/* The method each call of the scenario is (learned from the transient runs), for the messages. */
static const char *call_names[4096];

static const char *call_name(unsigned long n)
{
	return n < 4096 && call_names[n] ? call_names[n] : "?";
}

typedef struct sweep_stats {
	unsigned long calls;       /* storage calls of the scenario without faults */
	unsigned long runs;        /* N swept (all modes) */
	unsigned long failed;      /* runs where the operation returned an error */
	unsigned long absorbed;    /* runs where a fault fired but the operation succeeded */
	unsigned long resumable;   /* upload sessions left behind and resumed */
	unsigned long orphans;     /* left behind by a persistent fault, not resumable, expired by GC */
} sweep_stats;

/* One run: fresh folder, setup, fault at n (0: none), operation, checks. Returns the operation's rc. */
static int one_run(const scenario *sc, unsigned long n, int persistent, int err_no, sweep_stats *st,
	unsigned long *calls_out)
{
	fx x;
	idlist before, after;
	int fds_before = count_fds();

	snprintf(alarm_msg, sizeof(alarm_msg), "engine/faults: '%s' with fault at call %lu (%s, errno %d) hung\n",
		sc->name, n, persistent ? "persistent" : "transient", err_no);
	alarm(60);

	fx_init(&x);
	fx_open_faulty(&x);
	sc->setup(&x);
	upload_sessions(&x, &before);

	x.f.error = ECR_EIO;
	x.f.err_no = err_no;
	th_faults_arm(&x.f, n, persistent);
	ecr_error_clear();
	int rc = sc->run(&x);
	if (rc != 0) {
		const ecr_error *e = ecr_error_last();
		if (rc > 0 || !e->message || !e->message[0] || strcmp(e->message, "no error") == 0)
			fail_msg("'%s', fault at %lu: returned %d without an error message", sc->name, n, rc);
		if (e->code != rc)
			fail_msg("'%s', fault at %lu: returned %d (%s) but ecr_error_last() has code %d: %s", sc->name, n,
				rc, ecr_error_name(rc), e->code, e->message);
	}
	unsigned long failures = x.f.failures;
	if (!persistent && n > 0 && n < 4096 && failures == 1 && x.f.last_failed)
		call_names[n] = x.f.last_failed;
	if (calls_out)
		*calls_out = x.f.calls;
	th_faults_arm(&x.f, 0, 0);
	ecr_registry_free(x.reg);
	x.reg = NULL;
	if (count_fds() != fds_before)
		fail_msg("'%s', fault at %lu: %d file descriptors open after closing the registry, %d before", sc->name,
			n, count_fds(), fds_before);

	/* Reopen on plain stores and check. */
	ecr_registry *reg = fx_open_plain(&x);
	char label[300];
	snprintf(label, sizeof(label), "'%s', %s fault at call %lu of %lu (%s; rc %d %s)", sc->name,
		persistent ? "persistent" : "transient", n, st->calls, call_name(n), rc, ecr_error_name(rc));
	consistency(&x, reg, label, "");
	sc->check(&x, reg, rc);

	upload_sessions(&x, &after);
	size_t orphans = 0;
	for (size_t i = 0; i < after.count; i++) {
		if (idlist_has(&before, after.ids[i]))
			continue;
		/* Left behind by the failed operation: a retry must be able to resume it. */
		ecr_repository *repo = open_repo(reg, after.repos[i]);
		ecr_upload *up = NULL;
		int urc = ecr_upload_open(&up, repo, after.ids[i]);
		if (urc == ECR_EUPLOAD && persistent) {
			/* The operation's cleanup could not run under a persistent fault: the
			 * session was never handed out, and GC must expire it (checked below). */
			ecr_repository_free(repo);
			orphans++;
			continue;
		}
		if (urc != 0)
			fail_msg("%s: upload session %s was left open but cannot be resumed: %d (%s): %s", label,
				after.ids[i], urc, ecr_error_name(urc), ecr_error_last()->message);
		uint64_t size = ecr_upload_size(up);
		assert_ok(ecr_upload_write(up, size, "z", 1));
		assert_int_equal(ecr_upload_size(up), size + 1);
		assert_ok(ecr_upload_cancel(up));
		ecr_upload_free(up);
		ecr_repository_free(repo);
		st->resumable++;
	}

	sc->retry(&x, reg);
	consistency(&x, reg, label, " after the retry");

	if (orphans) {
		/* Sessions left behind that cannot be resumed: GC past the upload expiry removes them. */
		ecr_gc_stats gs = ECR_GC_STATS_INIT;
		idlist final;
		atomic_store(&clock_offset_ms, (int64_t)25 * 3600 * 1000);
		int grc = ecr_registry_gc(reg, NULL, &gs);
		atomic_store(&clock_offset_ms, 0);
		if (grc != 0)
			fail_msg("%s: GC of %zu orphaned upload sessions: %d (%s): %s", label, orphans, grc,
				ecr_error_name(grc), ecr_error_last()->message);
		upload_sessions(&x, &final);
		for (size_t i = 0; i < after.count; i++)
			if (!idlist_has(&before, after.ids[i]) && idlist_has(&final, after.ids[i]))
				fail_msg("%s: orphaned upload session %s survived GC past its expiry", label, after.ids[i]);
		idlist_dispose(&final);
		consistency(&x, reg, label, " after the GC of orphaned sessions");
		st->orphans += orphans;
	}
	idlist_dispose(&before);
	idlist_dispose(&after);
	ecr_registry_free(reg);
	fx_dispose(&x);
	alarm(0);

	if (n > 0) {
		st->runs++;
		if (rc != 0)
			st->failed++;
		else if (failures > 0)
			st->absorbed++;
	}
	return rc;
}

static void sweep(const scenario *sc)
{
	sweep_stats st = { 0, 0, 0, 0, 0, 0 };
	unsigned long calls = 0;
	const char *modes_env = getenv("ECR_FAULT_MODES");
	bool full = modes_env && strcmp(modes_env, "full") == 0;

	memset(call_names, 0, sizeof(call_names));
	assert_ok(one_run(sc, 0, 0, EIO, &st, &calls));
	memset(outcomes, 0, sizeof(outcomes));
	assert_true(calls > 0);
	st.calls = calls;
	const char *sweep_env = getenv("ECR_FAULT_SWEEP");
	unsigned long stride = 1;
	if (sc->budget && !(sweep_env && strcmp(sweep_env, "full") == 0) && calls > sc->budget)
		stride = (calls + sc->budget - 1) / sc->budget;
	for (int persistent = 0; persistent <= 1; persistent++) {
		for (int e = 0; e < (full ? 2 : 1); e++) {
			/* Sampled: every stride-th N, the persistent sweep offset by half a stride. */
			for (unsigned long n = 1 + (persistent ? stride / 2 : 0); n <= calls; n += stride) {
				/* Without "full", alternate the errno from one N to the next. */
				int err_no = full ? (e ? ENOSPC : EIO) : ((n + (unsigned long)persistent) % 2 ? ENOSPC : EIO);
				one_run(sc, n, persistent, err_no, &st, NULL);
			}
		}
	}
	print_message("# faults: '%s': %lu storage calls, %s (%lu N per mode); %lu faults injected (transient + persistent): %lu failed "
		      "cleanly, %lu absorbed, all consistent after reopening; %lu leftover upload sessions resumed, "
		      "%lu orphaned by persistent faults and expired by GC\n",
		sc->name, calls, stride > 1 ? "sampled: every Kth N (ECR_FAULT_SWEEP=full for all)" : "every N swept",
		(calls + stride - 1) / stride, st.runs, st.failed, st.absorbed, st.resumable, st.orphans);
	if (outcomes[0] + outcomes[1] + outcomes[2] + outcomes[3])
		print_message("# faults: '%s': the image was left ACTIVE %lu times, ARCHIVED %lu, ACTIVATING %lu, "
			      "gone %lu\n", sc->name, outcomes[0], outcomes[1], outcomes[2], outcomes[3]);
}

static void test_engine_faults__create_repository(void **state) { (void)state; sweep(&scenarios[0]); }
static void test_engine_faults__push_image(void **state) { (void)state; sweep(&scenarios[1]); }
static void test_engine_faults__move_tag(void **state) { (void)state; sweep(&scenarios[2]); }
static void test_engine_faults__delete_image(void **state) { (void)state; sweep(&scenarios[3]); }
static void test_engine_faults__delete_repository(void **state) { (void)state; sweep(&scenarios[4]); }
static void test_engine_faults__gc(void **state) { (void)state; sweep(&scenarios[5]); }
static void test_engine_faults__archive_image(void **state) { (void)state; sweep(&scenarios[6]); }
static void test_engine_faults__restore_image(void **state) { (void)state; sweep(&scenarios[7]); }
static void test_engine_faults__apply_lifecycle(void **state) { (void)state; sweep(&scenarios[8]); }
static void test_engine_faults__create_principal(void **state) { (void)state; sweep(&scenarios[9]); }
static void test_engine_faults__delete_principal(void **state) { (void)state; sweep(&scenarios[10]); }

/* A pull (ecr_image_get with ECR_IMAGE_GET_RECORD_PULL) is served even when its record of the pull time
 * cannot be written (disk full, I/O errors): the record is best effort. Calls to meta.begin: 1 the read
 * transaction, 2 the write transaction of the record (failed here), 3 the read transaction that builds the
 * image. Found by tests/survival/eio.sh (manifest GETs answered 500 while writes failed). */
static void test_engine_faults__pull_when_unwritable(void **state)
{
	(void)state;
	fx x;
	fx_init(&x);
	fx_open_faulty(&x);
	push_setup(&x);
	ecr_repository *repo = open_repo(x.reg, REPO);
	ecr_image *img = NULL;
	x.f.only = TH_FAULT_META_BEGIN;
	th_faults_arm(&x.f, 2, 0);
	int rc = ecr_image_get(&img, repo, "latest", ECR_IMAGE_GET_RECORD_PULL);
	if (rc)
		fail_msg("pull while the record cannot be written: %d %s", rc, ecr_error_last()->message);
	assert_int_equal(x.f.failures, 1);
	assert_int_equal(x.f.calls, 3);
	assert_string_equal(ecr_image_digest(img), x.a.digest);
	assert_int_equal(ecr_image_last_pulled_at(img), 0); /* not recorded */
	ecr_image_free(img);
	img = NULL;

	/* writable again: the next pull records its time */
	th_faults_arm(&x.f, 0, 0);
	assert_ok(ecr_image_get(&img, repo, x.a.digest, ECR_IMAGE_GET_RECORD_PULL));
	assert_true(ecr_image_last_pulled_at(img) > 0);
	ecr_image_free(img);
	ecr_repository_free(repo);
	fx_dispose(&x);
}

static int setup(void **state)
{
	(void)state;
	signal(SIGALRM, on_alarm);
	return ecr_init() > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return ecr_shutdown() >= 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_faults__create_repository),
		cmocka_unit_test(test_engine_faults__push_image),
		cmocka_unit_test(test_engine_faults__move_tag),
		cmocka_unit_test(test_engine_faults__delete_image),
		cmocka_unit_test(test_engine_faults__delete_repository),
		cmocka_unit_test(test_engine_faults__gc),
		cmocka_unit_test(test_engine_faults__archive_image),
		cmocka_unit_test(test_engine_faults__restore_image),
		cmocka_unit_test(test_engine_faults__apply_lifecycle),
		cmocka_unit_test(test_engine_faults__create_principal),
		cmocka_unit_test(test_engine_faults__delete_principal),
		cmocka_unit_test(test_engine_faults__pull_when_unwritable),
	};
	return cmocka_run_group_tests_name("engine/faults", tests, setup, teardown);
}
