/* Garbage collection: grace periods, what is referenced, dry runs, and GC racing pushes. */
#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../helpers/th_image.h"
#include "libecr/core/digest.h"
#include "libecr/engine/engine.h"

#define HOUR_MS (3600LL * 1000)

typedef struct fixture {
	char *dir; /* NULL for memory: */
	char url[4200];
	_Atomic int64_t clock;
	ecr_registry *reg;
	ecr_repository *a, *b;
} fixture;

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t fixture_clock(void *payload)
{
	fixture *f = payload;
	return atomic_load(&f->clock);
}

static int setup_common(void **state, bool on_disk)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	atomic_store(&f->clock, wall_ms());
	if (on_disk) {
		f->dir = th_tmpdir();
		snprintf(f->url, sizeof(f->url), "file://%s", f->dir);
	} else {
		snprintf(f->url, sizeof(f->url), "memory:");
	}
	opts.flags = ECR_STORAGE_NOSYNC;
	opts.clock_cb = fixture_clock;
	opts.clock_payload = f;
	if (ecr_registry_open(&f->reg, f->url, &opts) || ecr_repository_create(&f->a, f->reg, "team/a", NULL) ||
		ecr_repository_create(&f->b, f->reg, "team/b", NULL))
		return -1;
	*state = f;
	return 0;
}

static int setup_memory(void **state)
{
	return setup_common(state, false);
}

static int setup_fs(void **state)
{
	return setup_common(state, true);
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_repository_free(f->a);
	ecr_repository_free(f->b);
	ecr_registry_free(f->reg);
	if (f->dir)
		th_rmtree(f->dir);
	free(f);
	return 0;
}

/* Whether the blob store holds the digest (whatever links say). */
static bool in_store(ecr_registry *reg, const char *digest)
{
	uint64_t size;
	ecr_blob_store *bs = reg->store->blobs;
	int rc = bs->stat(bs, digest, &size);
	if (rc != 0 && rc != ECR_ENOTFOUND)
		fail_msg("stat %s: %d", digest, rc);
	return rc == 0;
}

static void put_random(ecr_repository *repo, th_blob *blob, uint64_t *rng, size_t len)
{
	assert_ok(th_blob_random(blob, rng, len));
	assert_ok(ecr_blob_put(repo, blob->digest, blob->data, blob->len));
}

static void gc(fixture *f, ecr_gc_stats *st)
{
	ecr_gc_stats s = ECR_GC_STATS_INIT;
	assert_ok(ecr_registry_gc(f->reg, NULL, &s));
	if (st)
		*st = s;
}

static void test_engine_gc__grace(void **state)
{
	fixture *f = *state;
	uint64_t rng = 1;
	th_blob x, y;
	ecr_gc_stats st;

	put_random(f->a, &x, &rng, 3000);
	put_random(f->a, &y, &rng, 500);
	assert_ok(ecr_blob_delete(f->a, x.digest));

	/* x is unreferenced but young; y is linked (uploaded, not yet in a manifest) */
	gc(f, &st);
	assert_int_equal(st.blobs_removed, 0);
	assert_int_equal(st.links_removed, 0);
	assert_int_equal(st.blobs_kept, 2);
	assert_true(in_store(f->reg, x.digest));

	atomic_fetch_add(&f->clock, HOUR_MS / 2);
	gc(f, &st);
	assert_int_equal(st.blobs_removed, 0);
	assert_true(in_store(f->reg, x.digest));
	assert_ok(ecr_blob_stat(f->a, y.digest, NULL));

	/* past the grace period both go: x at once, y after its link */
	atomic_fetch_add(&f->clock, HOUR_MS);
	gc(f, &st);
	assert_int_equal(st.links_removed, 1);
	assert_int_equal(st.blobs_removed, 2);
	assert_int_equal(st.bytes_removed, 3500);
	assert_int_equal(st.blobs_kept, 0);
	assert_false(in_store(f->reg, x.digest));
	assert_false(in_store(f->reg, y.digest));
	assert_int_equal(ecr_blob_stat(f->a, y.digest, NULL), ECR_ENOTFOUND);

	gc(f, &st);
	assert_int_equal(st.blobs_removed + st.links_removed + st.uploads_expired, 0);

	/* a custom grace period */
	ecr_gc_options opts = ECR_GC_OPTIONS_INIT;
	th_blob_dispose(&x);
	put_random(f->b, &x, &rng, 100);
	atomic_fetch_add(&f->clock, 10 * 1000);
	opts.grace_seconds = 20;
	assert_ok(ecr_registry_gc(f->reg, &opts, &st));
	assert_int_equal(st.links_removed, 0);
	/* (the blob's mtime is on the wall clock, behind the registry's by now) */
	opts.grace_seconds = 5;
	assert_ok(ecr_registry_gc(f->reg, &opts, &st));
	assert_int_equal(st.links_removed, 1);
	assert_int_equal(st.blobs_removed, 1);

	/* bad options */
	opts.version = 99;
	assert_int_equal(ecr_registry_gc(f->reg, &opts, NULL), ECR_EINVALID);
	assert_int_equal(ecr_gc_options_init(&opts, 99), ECR_EINVALID);
	assert_ok(ecr_gc_options_init(&opts, ECR_GC_OPTIONS_VERSION));
	opts.flags = 0x80;
	assert_int_equal(ecr_registry_gc(f->reg, &opts, NULL), ECR_EINVALID);
	th_blob_dispose(&x);
	th_blob_dispose(&y);
}

static void test_engine_gc__images_stay(void **state)
{
	fixture *f = *state;
	uint64_t rng = 2;
	th_image img;
	ecr_gc_stats st;

	assert_ok(th_image_random(&img, &rng, 3, NULL));
	if (th_image_push(f->a, &img, "v1", 700) != 0)
		fail_msg("push: %s", th_problem());
	if (th_image_push(f->b, &img, NULL, 0) != 0)
		fail_msg("push: %s", th_problem());

	atomic_fetch_add(&f->clock, 5 * HOUR_MS);
	gc(f, &st);
	assert_int_equal(st.blobs_removed, 0);
	assert_int_equal(st.links_removed, 0);
	if (th_image_verify(f->a, "v1", img.digest, NULL) != 0 || th_image_verify(f->b, img.digest, img.digest, NULL))
		fail_msg("verify: %s", th_problem());

	/* held by b only */
	assert_ok(ecr_image_delete(f->a, img.digest));
	gc(f, &st);
	assert_int_equal(st.blobs_removed, 0);
	assert_int_equal(st.links_removed, 4); /* a's config and layers */
	assert_false(in_store(f->reg, img.digest)); /* manifests are in the metadata store (schema 6) */
	if (th_image_verify(f->b, img.digest, img.digest, NULL) != 0)
		fail_msg("verify: %s", th_problem());
	assert_int_equal(ecr_blob_stat(f->a, img.layers[0].digest, NULL), ECR_ENOTFOUND);

	/* held by nothing: the config and the layers go (the manifest went with the image) */
	assert_ok(ecr_image_delete(f->b, img.digest));
	gc(f, &st);
	assert_int_equal(st.blobs_removed, 4);
	assert_false(in_store(f->reg, img.digest));
	assert_false(in_store(f->reg, img.config.digest));
	for (size_t i = 0; i < img.layer_count; i++)
		assert_false(in_store(f->reg, img.layers[i].digest));
	th_image_dispose(&img);
}

/* Delete the manifest row of an image and put its bytes into the blob store: an image pushed before schema 6. */
static void make_legacy(fixture *f, const th_image *img)
{
	ecr__txn t;
	ecr_sql_value p[] = { ECR__SQL_S(img->digest) };
	assert_ok(ecr__blob_store_put(f->reg->store, img->digest, img->manifest, img->manifest_len));
	assert_ok(ecr__txn_begin(&t, f->reg->store->meta, true));
	assert_ok(ecr__sql_change(&t, "DELETE FROM image_manifests WHERE digest = ?", p, 1, ECR_ENOTFOUND));
	assert_ok(ecr__txn_commit(&t));
}

/* A manifest in the blob store (pushed before schema 6) stays while an image without a manifest row needs it;
 * a copy of it in the blob store that only images with rows name is garbage. */
static void test_engine_gc__manifest_in_blob_store(void **state)
{
	fixture *f = *state;
	uint64_t rng = 12;
	th_image img;
	ecr_gc_stats st;
	const void *bytes;
	size_t len;
	ecr_image *got = NULL;

	assert_ok(th_image_random(&img, &rng, 1, NULL));
	if (th_image_push(f->a, &img, "v1", 0) != 0 || th_image_push(f->b, &img, "v1", 0) != 0)
		fail_msg("push: %s", th_problem());
	assert_false(in_store(f->reg, img.digest)); /* in the metadata store */
	make_legacy(f, &img); /* deletes both rows */
	assert_true(in_store(f->reg, img.digest));

	atomic_fetch_add(&f->clock, 5 * HOUR_MS);
	gc(f, &st);
	assert_int_equal(st.blobs_removed, 0);
	assert_true(in_store(f->reg, img.digest));
	/* read from the blob store (no row) */
	assert_ok(ecr_image_get(&got, f->a, "v1", 0));
	assert_ok(ecr_image_manifest(&bytes, &len, got));
	assert_int_equal(len, img.manifest_len);
	assert_memory_equal(bytes, img.manifest, len);
	ecr_image_free(got);

	/* Pushed again to a (deleted first): a has a row now; b still needs the blob store's copy. */
	assert_ok(ecr_image_delete(f->a, img.digest));
	if (th_image_push(f->a, &img, "v1", 0) != 0)
		fail_msg("push: %s", th_problem());
	gc(f, &st);
	assert_int_equal(st.blobs_removed, 0);
	assert_true(in_store(f->reg, img.digest));
	if (th_image_verify(f->b, "v1", img.digest, NULL) != 0)
		fail_msg("verify: %s", th_problem());

	/* b's image gone: only a's, with its row, names the digest: the blob store's copy is garbage */
	assert_ok(ecr_image_delete(f->b, img.digest));
	gc(f, &st);
	assert_int_equal(st.blobs_removed, 1);
	assert_false(in_store(f->reg, img.digest));
	if (th_image_verify(f->a, "v1", img.digest, NULL) != 0)
		fail_msg("verify: %s", th_problem());
	th_image_dispose(&img);
}

static void test_engine_gc__dry_run(void **state)
{
	fixture *f = *state;
	uint64_t rng = 3;
	th_blob x, y, z;
	ecr_gc_options opts = ECR_GC_OPTIONS_INIT;
	ecr_gc_stats dry = ECR_GC_STATS_INIT, real = ECR_GC_STATS_INIT;
	ecr_upload *up;

	put_random(f->a, &x, &rng, 100);
	put_random(f->a, &y, &rng, 200);
	put_random(f->b, &z, &rng, 300);
	assert_ok(ecr_blob_delete(f->a, x.digest));
	assert_ok(ecr_upload_begin(&up, f->a));
	assert_ok(ecr_upload_write(up, 0, "abc", 3));
	ecr_upload_free(up);
	atomic_fetch_add(&f->clock, 30 * HOUR_MS);

	opts.flags = ECR_GC_DRY_RUN;
	assert_ok(ecr_registry_gc(f->reg, &opts, &dry));
	assert_int_equal(dry.uploads_expired, 1);
	assert_int_equal(dry.links_removed, 2);
	assert_int_equal(dry.blobs_removed, 3);
	assert_int_equal(dry.bytes_removed, 600);
	/* nothing changed */
	assert_true(in_store(f->reg, x.digest));
	assert_ok(ecr_blob_stat(f->a, y.digest, NULL));
	assert_ok(ecr_blob_stat(f->b, z.digest, NULL));

	opts.flags = 0;
	assert_ok(ecr_registry_gc(f->reg, &opts, &real));
	assert_int_equal(real.uploads_expired, dry.uploads_expired);
	assert_int_equal(real.links_removed, dry.links_removed);
	assert_int_equal(real.blobs_removed, dry.blobs_removed);
	assert_int_equal(real.bytes_removed, dry.bytes_removed);
	assert_int_equal(real.blobs_kept, 0);
	assert_false(in_store(f->reg, z.digest));
	th_blob_dispose(&x);
	th_blob_dispose(&y);
	th_blob_dispose(&z);
}

/* --- GC in a loop while threads push --- */

/*
 * Workers push images into repositories that stay (fresh layers only), and
 * images with a layer from a shared pool into repositories deleted right
 * after the push is verified. A pool layer is reused just as it passes the
 * grace period after its last publication: it is then exactly the garbage GC
 * is removing while the worker publishes it again.
 */
#define WORKERS 4
#define POOL 48
#define MAX_ITER 1500
#define GRACE_MS 1000

typedef struct pushed {
	char repo[64];
	char digest[TH_DIGEST_MAX];
} pushed;

typedef struct stress {
	ecr_registry *reg;
	const th_blob *pool;
	_Atomic int64_t pool_free_at[POOL]; /* wall ms when the layer was last unreferenced; -1 while in use */
	int64_t deadline;
	atomic_int running;
	atomic_int failed;
	atomic_int recycled; /* pushes of a pool layer that was garbage */
	atomic_int late;     /* pushes slower than the grace period that GC broke (allowed) */
	atomic_int refused;  /* pushes refused by a GC tombstone (allowed, see gc.c) */
	char problem[1200];
	pthread_mutex_t lock;
} stress;

typedef struct worker {
	stress *s;
	int index;
	pushed items[MAX_ITER];
	size_t count;
} worker;

static void stress_fail(stress *s, const char *what, int rc)
{
	pthread_mutex_lock(&s->lock);
	if (!atomic_load(&s->failed))
		snprintf(s->problem, sizeof(s->problem), "%s: %s (%d): %s", what, ecr_error_name(rc), rc, th_problem());
	atomic_store(&s->failed, 1);
	pthread_mutex_unlock(&s->lock);
}

/* A push that failed only because it took longer than the grace period. */
#define LATE 1

/*
 * Push an image. The promise is that GC never breaks a push that completes
 * within the grace period: a push slower than that (the machine is loaded)
 * may find its first layers' links collected, and is only counted.
 */
static int timed_push(stress *s, ecr_repository *repo, const th_image *img, uint64_t *rng)
{
	int64_t t0 = wall_ms();
	int rc = th_image_push(repo, img, "latest", (size_t)th_rand_range(rng, 300, 5000));
	if (rc == ECR_ELAYERS_NOT_FOUND && wall_ms() - t0 >= GRACE_MS) {
		atomic_fetch_add(&s->late, 1);
		return LATE;
	}
	/* a store opened with ecr_registry_open_storage may be shared with other processes: a push that links a
	 * blob GC has just removed is refused (its bytes may have been published before the removal) */
	if (rc == ECR_EEXISTS && strstr(th_problem(), "garbage-collected")) {
		atomic_fetch_add(&s->refused, 1);
		return LATE;
	}
	return rc;
}

/* Claim a pool layer unreferenced for longer than the grace period; -1 when none. */
static int pool_claim(stress *s, uint64_t *rng)
{
	int64_t now = wall_ms();
	for (int tries = 0; tries < 4; tries++) {
		int k = (int)th_rand_range(rng, 0, POOL - 1);
		int64_t at = atomic_load(&s->pool_free_at[k]);
		if (at >= 0 && now - at >= GRACE_MS - 3 && atomic_compare_exchange_strong(&s->pool_free_at[k], &at, -1))
			return k;
	}
	return -1;
}

/* Push an image with pool layer k into a new repository, verify it, delete the repository. */
static int push_recycled(stress *s, uint64_t *rng, int k, const char *name)
{
	ecr_repository *repo = NULL;
	th_image img;
	int64_t published;
	int rc;

	if ((rc = ecr_repository_create(&repo, s->reg, name, NULL))) {
		stress_fail(s, "ecr_repository_create", rc);
		atomic_store(&s->pool_free_at[k], wall_ms());
		return rc;
	}
	if ((rc = th_image_with_layers(&img, rng, &s->pool[k], 1, 1))) {
		ecr_repository_free(repo);
		stress_fail(s, "th_image_with_layers", rc);
		atomic_store(&s->pool_free_at[k], wall_ms());
		return rc;
	}
	rc = timed_push(s, repo, &img, rng);
	if (rc && rc != LATE)
		stress_fail(s, "th_image_push (recycled layer)", rc);
	published = wall_ms(); /* the layer's mtime is at most this */
	if (rc == 0 && (rc = th_image_verify(repo, "latest", img.digest, NULL)))
		stress_fail(s, "th_image_verify (recycled layer)", rc);
	th_image_dispose(&img);
	ecr_repository_free(repo);
	if (rc == LATE)
		rc = 0;
	if (rc == 0 && (rc = ecr_repository_delete(s->reg, name, ECR_REPOSITORY_DELETE_FORCE)))
		stress_fail(s, "ecr_repository_delete", rc);
	atomic_store(&s->pool_free_at[k], published);
	if (rc == 0)
		atomic_fetch_add(&s->recycled, 1);
	return rc;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	stress *s = w->s;
	uint64_t rng = 1000 + (uint64_t)w->index;
	struct timespec pause = { 0, 1000 * 1000 };

	for (size_t i = 0; i < MAX_ITER && wall_ms() < s->deadline && !atomic_load(&s->failed); i++) {
		pushed *p = &w->items[w->count];
		ecr_repository *repo = NULL;
		th_image img;
		th_blob junk;
		char name[64];
		int rc, k;

		if ((k = pool_claim(s, &rng)) >= 0) {
			snprintf(name, sizeof(name), "stress/tmp-w%d-%zu", w->index, i);
			if (push_recycled(s, &rng, k, name))
				break;
		}

		snprintf(p->repo, sizeof(p->repo), "stress/w%d-%zu", w->index, i);
		if ((rc = ecr_repository_create(&repo, s->reg, p->repo, NULL))) {
			stress_fail(s, "ecr_repository_create", rc);
			break;
		}
		if ((rc = th_image_random(&img, &rng, 2, NULL))) {
			ecr_repository_free(repo);
			stress_fail(s, "th_image_random", rc);
			break;
		}
		rc = timed_push(s, repo, &img, &rng);
		if (rc == 0) {
			memcpy(p->digest, img.digest, sizeof(p->digest));
			w->count++;
		} else if (rc == LATE) {
			rc = 0;
		} else {
			stress_fail(s, "th_image_push", rc);
		}
		th_image_dispose(&img);
		/* garbage: a blob uploaded and unlinked at once */
		if (rc == 0 && th_rand(&rng) % 2 == 0 && (rc = th_blob_random(&junk, &rng, 2000)) == 0) {
			rc = th_blob_push(repo, &junk, 700);
			if (rc == 0)
				rc = ecr_blob_delete(repo, junk.digest);
			th_blob_dispose(&junk);
			if (rc)
				stress_fail(s, "garbage blob", rc);
		}
		ecr_repository_free(repo);
		if (rc)
			break;
		nanosleep(&pause, NULL);
	}
	atomic_fetch_sub(&s->running, 1);
	return NULL;
}

/*
 * A blob store in front of a real one whose remove() takes a millisecond
 * before it removes: it widens the window between GC's "unreferenced" check
 * and the removal, where a concurrent publish + link would be lost if GC
 * did not exclude publishers.
 */
typedef struct slow_store {
	ecr_blob_store base;
	ecr_blob_store *inner;
} slow_store;

#define INNER(self) (((slow_store *)(self))->inner)

static int slow_stage_open(ecr_blob_store_writer **out, ecr_blob_store *self, const char *id, int create)
{
	return INNER(self)->stage_open(out, INNER(self), id, create);
}
static int slow_stage_remove(ecr_blob_store *self, const char *id)
{
	return INNER(self)->stage_remove(INNER(self), id);
}
static int slow_stage_list(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload)
{
	return INNER(self)->stage_list(INNER(self), cb, payload);
}
static int slow_read_open(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset)
{
	return INNER(self)->read_open(out, INNER(self), digest, offset);
}
static int slow_stat(ecr_blob_store *self, const char *digest, uint64_t *size_out)
{
	return INNER(self)->stat(INNER(self), digest, size_out);
}
static int slow_remove(ecr_blob_store *self, const char *digest)
{
	struct timespec pause = { 0, 1000 * 1000 };
	nanosleep(&pause, NULL);
	return INNER(self)->remove(INNER(self), digest);
}
static int slow_list(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload)
{
	return INNER(self)->list(INNER(self), cb, payload);
}
static void slow_free(ecr_blob_store *self)
{
	INNER(self)->free(INNER(self));
	free(self);
}

static ecr_blob_store *slow_store_new(ecr_blob_store *inner)
{
	slow_store *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_ok(ecr_blob_store_init(&s->base, ECR_BLOB_STORE_VERSION));
	s->inner = inner;
	s->base.stage_open = slow_stage_open;
	s->base.stage_remove = slow_stage_remove;
	s->base.stage_list = slow_stage_list;
	s->base.read_open = slow_read_open;
	s->base.stat = slow_stat;
	s->base.remove = slow_remove;
	s->base.list = slow_list;
	s->base.free = slow_free;
	return &s->base;
}

static void verify_kept(stress *s, worker *workers)
{
	for (int t = 0; t < WORKERS; t++)
		for (size_t i = 0; i < workers[t].count; i++) {
			pushed *p = &workers[t].items[i];
			ecr_repository *repo;
			assert_ok(ecr_repository_open(&repo, s->reg, p->repo));
			if (th_image_verify(repo, "latest", p->digest, NULL) != 0)
				fail_msg("%s: %s", p->repo, th_problem());
			ecr_repository_free(repo);
		}
}

static void test_engine_gc__concurrent_pushes(void **state)
{
	fixture *f = *state;
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_gc_options gopts = ECR_GC_OPTIONS_INIT;
	th_blob pool[POOL];
	worker *workers = calloc(WORKERS, sizeof(*workers));
	pthread_t threads[WORKERS];
	stress s;
	uint64_t rng = 77, gc_runs = 0, removed = 0, pushes = 0;

	assert_non_null(workers);
	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.lock, NULL);
	/* this test runs on the real clock, on stores of its own of the fixture's kind */
	ecr_blob_store *blobs;
	ecr_meta_store *meta;
	if (f->dir) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/stress", f->dir);
		assert_ok(ecr_blob_store_fs_new(&blobs, path, ECR_STORAGE_NOSYNC));
		snprintf(path, sizeof(path), "%s/stress.db", f->dir);
		assert_ok(ecr_meta_store_sqlite_new(&meta, path, ECR_STORAGE_NOSYNC));
	} else {
		assert_ok(ecr_blob_store_memory_new(&blobs));
		assert_ok(ecr_meta_store_sqlite_new(&meta, ":memory:", ECR_STORAGE_NOSYNC));
	}
	assert_ok(ecr_registry_open_storage(&s.reg, slow_store_new(blobs), meta, &opts));
	for (int i = 0; i < POOL; i++)
		assert_ok(th_blob_random(&pool[i], &rng, 1000 + (size_t)i * 100));
	s.pool = pool;
	/* the pool starts as old garbage: its layers become reusable at once */
	for (int i = 0; i < POOL; i++)
		atomic_store(&s.pool_free_at[i], wall_ms() - 2 * GRACE_MS);
	gopts.grace_seconds = GRACE_MS / 1000;
	s.deadline = wall_ms() + 3000;
	atomic_store(&s.running, WORKERS);
	for (int t = 0; t < WORKERS; t++) {
		workers[t].s = &s;
		workers[t].index = t;
		assert_int_equal(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
	}
	int gc_rc = 0;
	struct timespec gc_pause = { 0, 1000 * 1000 };
	while (atomic_load(&s.running) > 0) {
		ecr_gc_stats st = ECR_GC_STATS_INIT;
		if ((gc_rc = ecr_registry_gc(s.reg, &gopts, &st)) != 0)
			break;
		gc_runs++;
		removed += st.blobs_removed;
		nanosleep(&gc_pause, NULL);
	}
	char gc_problem[512];
	snprintf(gc_problem, sizeof(gc_problem), "%s", ecr_error_last()->message);
	for (int t = 0; t < WORKERS; t++)
		pthread_join(threads[t], NULL);
	if (gc_rc)
		fail_msg("ecr_registry_gc: %d: %s", gc_rc, gc_problem);
	if (atomic_load(&s.failed))
		fail_msg("a push broke: %s", s.problem);
	for (int t = 0; t < WORKERS; t++)
		pushes += workers[t].count;
	assert_true(pushes >= WORKERS);
	assert_true(gc_runs > 0);
	assert_true(atomic_load(&s.recycled) > 0);
	verify_kept(&s, workers);
	uint64_t removed_while = removed;

	/* once everything is past the grace period, the garbage goes and the images stay */
	struct timespec pause = { 1, 200 * 1000 * 1000 };
	nanosleep(&pause, NULL);
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	assert_ok(ecr_registry_gc(s.reg, &gopts, &st));
	removed += st.blobs_removed;
	assert_true(removed > 0);
	verify_kept(&s, workers);
	th_check_stats cs;
	if (th_registry_check(s.reg, &cs) != 0)
		fail_msg("registry check: %s", th_problem());
	/* nothing but the images' blobs is left: another pass removes nothing */
	assert_ok(ecr_registry_gc(s.reg, &gopts, &st));
	assert_int_equal(st.blobs_removed, 0);
	assert_int_equal(st.links_removed, 0);
	print_message("# %llu pushes (%d of recycled layers, %d slower than the grace period and broken), "
		      "%llu GC runs, "
		      "%llu blobs removed while pushing, %llu in all, %zu images checked, %d refused by tombstones\n",
		(unsigned long long)pushes, atomic_load(&s.recycled), atomic_load(&s.late), (unsigned long long)gc_runs,
		(unsigned long long)removed_while, (unsigned long long)removed, cs.images, atomic_load(&s.refused));

	ecr_registry_free(s.reg);
	for (int i = 0; i < POOL; i++)
		th_blob_dispose(&pool[i]);
	pthread_mutex_destroy(&s.lock);
	free(workers);
}

/* Each case on the memory storage and on files. */
#define BOTH(name) \
	{ "test_engine_gc__" #name "_memory", test_engine_gc__##name, setup_memory, teardown, NULL }, \
	{ "test_engine_gc__" #name "_fs", test_engine_gc__##name, setup_fs, teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(grace),
		BOTH(images_stay),
		BOTH(manifest_in_blob_store),
		BOTH(dry_run),
		BOTH(concurrent_pushes),
	};
	return cmocka_run_group_tests_name("engine/gc", tests, NULL, NULL);
}
