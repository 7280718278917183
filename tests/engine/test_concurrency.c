/* engine/concurrency: many threads pushing, moving tags, deleting images and
 * collecting garbage at once, on one shared registry handle and on separate
 * handles (several accounts and regions) over the same data folder; then the
 * registry-wide consistency check, and a garbage collection with the clock
 * moved past the grace period that must not break any image.
 *
 * Environment (for long runs by hand): ECR_STRESS_THREADS (default 8),
 * ECR_STRESS_ITERATIONS (default 40), ECR_STRESS_SEED (default: time). */
#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../helpers/th_image.h"

#define NREPOS 3
#define NTAGS 4
#define NBASE 4
#define MAXREGS 3

static const char *const repo_names[NREPOS] = { "app/web", "app/worker", "base" };
static const char *const tag_names[NTAGS] = { "latest", "stable", "v1", "v2" };

/* The registries' clock: the system's plus an offset the test moves. */
static _Atomic int64_t clock_offset_ms;

static int64_t test_clock(void *payload)
{
	(void)payload;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&clock_offset_ms);
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	long n = strtol(v, NULL, 10);
	return n > 0 ? n : def;
}

static uint64_t run_seed(void)
{
	const char *v = getenv("ECR_STRESS_SEED");
	if (v && *v)
		return strtoull(v, NULL, 0);
	return (uint64_t)time(NULL);
}

/* Digests pushed into each (registry, repository): every image a registry
 * lists must be one of these (registries in one folder are isolated). */
typedef struct pushed_set {
	pthread_mutex_t lock;
	char **digests[MAXREGS][NREPOS];
	size_t count[MAXREGS][NREPOS], cap[MAXREGS][NREPOS];
} pushed_set;

static void pushed_add(pushed_set *p, int reg, int repo, const char *digest)
{
	pthread_mutex_lock(&p->lock);
	if (p->count[reg][repo] == p->cap[reg][repo]) {
		size_t cap = p->cap[reg][repo] ? p->cap[reg][repo] * 2 : 64;
		char **n = realloc(p->digests[reg][repo], cap * sizeof(*n));
		if (!n)
			abort();
		p->digests[reg][repo] = n;
		p->cap[reg][repo] = cap;
	}
	p->digests[reg][repo][p->count[reg][repo]++] = strdup(digest);
	pthread_mutex_unlock(&p->lock);
}

static bool pushed_has(pushed_set *p, int reg, int repo, const char *digest)
{
	for (size_t i = 0; i < p->count[reg][repo]; i++)
		if (strcmp(p->digests[reg][repo][i], digest) == 0)
			return true;
	return false;
}

static void pushed_dispose(pushed_set *p)
{
	for (int r = 0; r < MAXREGS; r++)
		for (int i = 0; i < NREPOS; i++) {
			for (size_t k = 0; k < p->count[r][i]; k++)
				free(p->digests[r][i][k]);
			free(p->digests[r][i]);
		}
	pthread_mutex_destroy(&p->lock);
}

typedef struct shared {
	char *url;
	int nregs; /* 0: every thread uses reg[0]; else thread i opens its own handle on account/region i % nregs */
	ecr_registry *reg[MAXREGS];
	const char *accounts[MAXREGS];
	const char *regions[MAXREGS];
	th_blob base[NBASE]; /* layers shared by many images */
	pushed_set pushed;
	int iterations;
} shared;

typedef struct worker {
	shared *sh;
	int index;
	int reg_index;
	pthread_t thread;
	uint64_t rng;
	char error[1400];
	int failed;
	int pushes, untags, deletes, gets, gcs, not_found;
} worker;

static void *worker_fail(worker *w, const char *what, int rc)
{
	snprintf(w->error, sizeof(w->error), "thread %d: %s returned %d (%s): %s | %s", w->index, what, rc,
		ecr_error_name(rc), ecr_error_last()->message, th_problem());
	w->failed = 1;
	return NULL;
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	shared *sh = w->sh;
	ecr_registry *reg = sh->reg[0];
	ecr_registry *own = NULL;
	ecr_repository *repos[NREPOS] = { NULL };
	void *ret = NULL;
	int rc;

	if (sh->nregs) {
		ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
		o.account_id = sh->accounts[w->reg_index];
		o.region = sh->regions[w->reg_index];
		o.clock_cb = test_clock;
		o.flags = ECR_STORAGE_NOSYNC;
		if ((rc = ecr_registry_open(&own, sh->url, &o)) != 0)
			return worker_fail(w, "ecr_registry_open", rc);
		reg = own;
	}
	for (int i = 0; i < NREPOS; i++)
		if ((rc = ecr_repository_open(&repos[i], reg, repo_names[i])) != 0) {
			ret = worker_fail(w, "ecr_repository_open", rc);
			goto done;
		}

	for (int it = 0; it < sh->iterations && !w->failed; it++) {
		int ri = (int)th_rand_range(&w->rng, 0, NREPOS - 1);
		ecr_repository *repo = repos[ri];
		const char *tag = tag_names[th_rand_range(&w->rng, 0, NTAGS - 1)];
		unsigned action = (unsigned)th_rand_range(&w->rng, 0, 39);

		if (action < 22) {
			/* Push: sometimes sharing base layers with other threads' images. */
			th_image img;
			size_t nbase = (size_t)th_rand_range(&w->rng, 0, 2);
			size_t first = (size_t)th_rand_range(&w->rng, 0, NBASE - 1);
			th_blob base[2];
			for (size_t k = 0; k < nbase; k++)
				base[k] = sh->base[(first + k) % NBASE];
			if (th_image_with_layers(&img, &w->rng, base, nbase, (size_t)th_rand_range(&w->rng, 1, 3)) != 0) {
				ret = worker_fail(w, "th_image_with_layers", ECR_ENOMEM);
				break;
			}
			rc = th_image_push(repo, &img, th_rand_range(&w->rng, 0, 4) ? tag : NULL,
				(size_t)th_rand_range(&w->rng, 100, 3000));
			if (rc == 0) {
				pushed_add(&sh->pushed, w->reg_index, ri, img.digest);
				w->pushes++;
				rc = th_image_verify_exact(repo, &img);
				if (rc == ECR_EIMAGE_NOT_FOUND) /* deleted meanwhile by another thread */
					rc = 0;
				if (rc != 0)
					ret = worker_fail(w, "th_image_verify_exact (just pushed)", rc);
			} else {
				ret = worker_fail(w, "th_image_push", rc);
			}
			th_image_dispose(&img);
		} else if (action < 27) {
			ecr_buf d = ECR_BUF_INIT;
			uint32_t flags = th_rand_range(&w->rng, 0, 1) ? ECR_UNTAG_DELETE_UNTAGGED : 0;
			rc = ecr_image_untag(&d, repo, tag, flags);
			if (rc == 0)
				w->untags++;
			else if (rc == ECR_EIMAGE_NOT_FOUND)
				w->not_found++;
			else
				ret = worker_fail(w, "ecr_image_untag", rc);
			ecr_buf_dispose(&d);
		} else if (action < 31) {
			ecr_image *img = NULL;
			rc = ecr_image_get(&img, repo, tag, 0);
			if (rc == 0) {
				char digest[TH_DIGEST_MAX];
				snprintf(digest, sizeof(digest), "%s", ecr_image_digest(img));
				ecr_image_free(img);
				rc = ecr_image_delete(repo, digest);
				if (rc == 0)
					w->deletes++;
				else if (rc == ECR_EIMAGE_NOT_FOUND)
					w->not_found++;
				else
					ret = worker_fail(w, "ecr_image_delete", rc);
			} else if (rc == ECR_EIMAGE_NOT_FOUND) {
				w->not_found++;
			} else {
				ret = worker_fail(w, "ecr_image_get", rc);
			}
		} else if (action < 38) {
			rc = th_image_verify(repo, tag, NULL, NULL);
			if (rc == 0)
				w->gets++;
			else if (rc == ECR_EIMAGE_NOT_FOUND)
				w->not_found++;
			else
				ret = worker_fail(w, "th_image_verify (by tag)", rc);
		} else {
			ecr_gc_stats st = ECR_GC_STATS_INIT;
			rc = ecr_registry_gc(reg, NULL, &st);
			if (rc == 0)
				w->gcs++;
			else
				ret = worker_fail(w, "ecr_registry_gc", rc);
		}
	}
done:
	for (int i = 0; i < NREPOS; i++)
		ecr_repository_free(repos[i]);
	ecr_registry_free(own);
	return ret;
}

static void run_workers(shared *sh, int nthreads, uint64_t seed)
{
	worker *ws = calloc((size_t)nthreads, sizeof(*ws));
	assert_non_null(ws);
	for (int i = 0; i < nthreads; i++) {
		ws[i].sh = sh;
		ws[i].index = i;
		ws[i].reg_index = sh->nregs ? i % sh->nregs : 0;
		ws[i].rng = seed * 1000003u + (uint64_t)i * 7919u + 1;
		assert_int_equal(pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]), 0);
	}
	int pushes = 0, untags = 0, deletes = 0, gets = 0, gcs = 0, nf = 0, failed = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].thread, NULL);
		pushes += ws[i].pushes;
		untags += ws[i].untags;
		deletes += ws[i].deletes;
		gets += ws[i].gets;
		gcs += ws[i].gcs;
		nf += ws[i].not_found;
		if (ws[i].failed) {
			print_error("%s\n", ws[i].error);
			failed++;
		}
	}
	print_message("# %d threads x %d iterations (seed %llu): %d pushes, %d untags, %d deletes, %d verified gets, "
		      "%d GCs, %d not-found races\n",
		nthreads, sh->iterations, (unsigned long long)seed, pushes, untags, deletes, gets, gcs, nf);
	free(ws);
	if (failed)
		fail_msg("%d of %d threads failed (seed %llu)", failed, nthreads, (unsigned long long)seed);
	assert_true(pushes > 0);
}

static ecr_registry *open_reg(const char *url, const char *account, const char *region)
{
	ecr_registry *reg = NULL;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.account_id = account;
	o.region = region;
	o.clock_cb = test_clock;
	o.flags = ECR_STORAGE_NOSYNC;
	assert_ok(ecr_registry_open(&reg, url, &o));
	return reg;
}

static void shared_init(shared *sh, char *dir, uint64_t seed)
{
	memset(sh, 0, sizeof(*sh));
	assert_int_equal(pthread_mutex_init(&sh->pushed.lock, NULL), 0);
	assert_true(asprintf(&sh->url, "file://%s", dir) > 0);
	sh->iterations = (int)env_long("ECR_STRESS_ITERATIONS", 40);
	uint64_t rng = seed ^ 0xabcdef;
	for (int i = 0; i < NBASE; i++)
		assert_ok(th_blob_random(&sh->base[i], &rng, (size_t)th_rand_range(&rng, 1, 20000)));
}

static void shared_dispose(shared *sh)
{
	for (int i = 0; i < NBASE; i++)
		th_blob_dispose(&sh->base[i]);
	pushed_dispose(&sh->pushed);
	free(sh->url);
}

static void create_repos(ecr_registry *reg)
{
	for (int i = 0; i < NREPOS; i++)
		assert_ok(ecr_repository_create(NULL, reg, repo_names[i], NULL));
}

/* Every image a registry lists was pushed into that registry's repository. */
static void check_isolation(shared *sh, int reg_index, ecr_registry *reg)
{
	for (int i = 0; i < NREPOS; i++) {
		ecr_repository *repo = NULL;
		ecr_image_iterator *it = NULL;
		ecr_image *img = NULL;
		int rc;
		assert_ok(ecr_repository_open(&repo, reg, repo_names[i]));
		assert_ok(ecr_image_iterator_new(&it, repo, NULL));
		while ((rc = ecr_image_iterator_next(&img, it)) == 0)
			if (!pushed_has(&sh->pushed, reg_index, i, ecr_image_digest(img)))
				fail_msg("registry %d, %s lists %s, which was never pushed there", reg_index, repo_names[i],
					ecr_image_digest(img));
		assert_int_equal(rc, ECR_ITEROVER);
		ecr_image_iterator_free(it);
		ecr_repository_free(repo);
	}
}

static void check_all(ecr_registry *reg, const char *label)
{
	th_check_stats st;
	int rc = th_registry_check(reg, &st);
	if (rc != 0)
		fail_msg("%s: consistency check failed (%d): %s", label, rc, th_problem());
	assert_int_equal(st.repositories, NREPOS);
	print_message("# %s: %zu repositories, %zu tags, %zu images consistent\n", label, st.repositories, st.tags,
		st.images);
}

/* A GC with the clock 2 hours ahead (past the default grace period) may
 * remove everything unreferenced, and nothing else. */
static void gc_after_grace(ecr_registry *reg, const char *label)
{
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	atomic_store(&clock_offset_ms, (int64_t)2 * 3600 * 1000);
	assert_ok(ecr_registry_gc(reg, NULL, &st));
	atomic_store(&clock_offset_ms, 0);
	print_message("# %s: GC past the grace period: %llu uploads expired, %llu links and %llu blobs (%llu bytes) "
		      "removed, %llu blobs kept\n",
		label, (unsigned long long)st.uploads_expired, (unsigned long long)st.links_removed,
		(unsigned long long)st.blobs_removed, (unsigned long long)st.bytes_removed,
		(unsigned long long)st.blobs_kept);
}

static void test_engine_concurrency__shared_handle(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	uint64_t seed = run_seed();
	shared sh;
	assert_non_null(dir);
	shared_init(&sh, dir, seed);
	sh.reg[0] = open_reg(sh.url, NULL, NULL);
	create_repos(sh.reg[0]);

	run_workers(&sh, (int)env_long("ECR_STRESS_THREADS", 8), seed);
	check_isolation(&sh, 0, sh.reg[0]);
	check_all(sh.reg[0], "shared handle");
	gc_after_grace(sh.reg[0], "shared handle");
	check_all(sh.reg[0], "shared handle, after GC");

	/* Reopen: the same state is read back from the folder. */
	ecr_registry_free(sh.reg[0]);
	sh.reg[0] = open_reg(sh.url, NULL, NULL);
	check_all(sh.reg[0], "shared handle, reopened");
	size_t nblobs = 0;
	if (th_fs_blobs_verify(dir, &nblobs) != 0)
		fail_msg("%s", th_problem());
	print_message("# shared handle: %zu blob files hash to their names\n", nblobs);

	ecr_registry_free(sh.reg[0]);
	shared_dispose(&sh);
	th_rmtree(dir);
}

static void test_engine_concurrency__separate_handles(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	uint64_t seed = run_seed() + 1;
	shared sh;
	assert_non_null(dir);
	shared_init(&sh, dir, seed);
	sh.nregs = 3;
	sh.accounts[0] = "111111111111", sh.regions[0] = "us-east-1";
	sh.accounts[1] = "111111111111", sh.regions[1] = "eu-west-1";
	sh.accounts[2] = "222222222222", sh.regions[2] = "us-east-1";
	for (int r = 0; r < sh.nregs; r++) {
		sh.reg[r] = open_reg(sh.url, sh.accounts[r], sh.regions[r]);
		create_repos(sh.reg[r]);
	}

	run_workers(&sh, (int)env_long("ECR_STRESS_THREADS", 8), seed);
	for (int r = 0; r < sh.nregs; r++) {
		char label[64];
		snprintf(label, sizeof(label), "registry %s/%s", sh.accounts[r], sh.regions[r]);
		assert_string_equal(ecr_registry_account_id(sh.reg[r]), sh.accounts[r]);
		assert_string_equal(ecr_registry_region(sh.reg[r]), sh.regions[r]);
		check_isolation(&sh, r, sh.reg[r]);
		check_all(sh.reg[r], label);
	}
	/* A GC in one registry must keep the blobs that the others reference. */
	gc_after_grace(sh.reg[1], "separate handles");
	for (int r = 0; r < sh.nregs; r++) {
		ecr_registry_free(sh.reg[r]);
		sh.reg[r] = open_reg(sh.url, sh.accounts[r], sh.regions[r]);
		check_all(sh.reg[r], "separate handles, after GC and reopening");
	}
	size_t nblobs = 0;
	if (th_fs_blobs_verify(dir, &nblobs) != 0)
		fail_msg("%s", th_problem());
	print_message("# separate handles: %zu blob files hash to their names\n", nblobs);

	for (int r = 0; r < sh.nregs; r++)
		ecr_registry_free(sh.reg[r]);
	shared_dispose(&sh);
	th_rmtree(dir);
}

static int setup(void **state)
{
	(void)state;
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
		cmocka_unit_test(test_engine_concurrency__shared_handle),
		cmocka_unit_test(test_engine_concurrency__separate_handles),
	};
	return cmocka_run_group_tests_name("engine/concurrency", tests, setup, teardown);
}
