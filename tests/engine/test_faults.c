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
 * Environment: ECR_FAULT_MODES=full runs transient and persistent faults with
 * each errno (4 sweeps per scenario instead of 2). */
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

#include "../helpers/faulty_storage.h"
#include "../helpers/th_image.h"

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

/* --- scenarios --- */

typedef struct scenario {
	const char *name;
	void (*setup)(fx *x);
	int (*run)(fx *x);
	/* rc: what run returned; reg: the reopened registry. Asserts all-or-nothing. */
	void (*check)(fx *x, ecr_registry *reg, int rc);
	/* Redo the operation without faults on the reopened registry; must succeed. */
	void (*retry)(fx *x, ecr_registry *reg);
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

static const scenario scenarios[] = {
	{ "create repository", create_setup, create_run, create_check, create_retry },
	{ "push image", push_setup, push_run, push_check, push_retry },
	{ "move tag", move_setup, move_run, move_check, move_retry },
	{ "delete image", delete_setup, delete_run, delete_check, delete_retry },
	{ "delete repository (force)", rmrepo_setup, rmrepo_run, rmrepo_check, rmrepo_retry },
	{ "garbage collection", gc_setup, gc_run, gc_check, gc_retry },
};

/* --- checks on the reopened folder --- */

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
		if (th_blob_verify(repo, l.ids[i], UINT64_MAX) != 0)
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
	th_check_stats cs;
	if (th_registry_check(reg, &cs) != 0)
		fail_msg("%s: consistency: %s", label, th_problem());
	check_links(&x, reg, label);
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
	if (th_registry_check(reg, &cs) != 0)
		fail_msg("%s: consistency after the retry: %s", label, th_problem());
	check_links(&x, reg, label);

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
		if (th_registry_check(reg, &cs) != 0)
			fail_msg("%s: consistency after the GC of orphaned sessions: %s", label, th_problem());
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
	assert_true(calls > 0);
	st.calls = calls;
	for (int persistent = 0; persistent <= 1; persistent++) {
		for (int e = 0; e < (full ? 2 : 1); e++) {
			for (unsigned long n = 1; n <= calls; n++) {
				/* Without "full", alternate the errno from one N to the next. */
				int err_no = full ? (e ? ENOSPC : EIO) : ((n + (unsigned long)persistent) % 2 ? ENOSPC : EIO);
				one_run(sc, n, persistent, err_no, &st, NULL);
			}
		}
	}
	print_message("# faults: '%s': %lu storage calls; %lu faults injected (transient + persistent): %lu failed "
		      "cleanly, %lu absorbed, all consistent after reopening; %lu leftover upload sessions resumed, "
		      "%lu orphaned by persistent faults and expired by GC\n",
		sc->name, calls, st.runs, st.failed, st.absorbed, st.resumable, st.orphans);
}

static void test_engine_faults__create_repository(void **state) { (void)state; sweep(&scenarios[0]); }
static void test_engine_faults__push_image(void **state) { (void)state; sweep(&scenarios[1]); }
static void test_engine_faults__move_tag(void **state) { (void)state; sweep(&scenarios[2]); }
static void test_engine_faults__delete_image(void **state) { (void)state; sweep(&scenarios[3]); }
static void test_engine_faults__delete_repository(void **state) { (void)state; sweep(&scenarios[4]); }
static void test_engine_faults__gc(void **state) { (void)state; sweep(&scenarios[5]); }

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
	};
	return cmocka_run_group_tests_name("engine/faults", tests, setup, teardown);
}
