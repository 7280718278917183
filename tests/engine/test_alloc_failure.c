/* engine/alloc_failure: an allocation-failure sweep. An allocator that fails
 * its Nth allocation is installed with ecr_set_allocator() before ecr_init();
 * for each N in 1..total the scenario "open memory:, create a repository,
 * push a small image (chunked upload + manifest), get it back" must either
 * succeed (and then the image verifies) or fail with ECR_ENOMEM and the
 * out-of-memory error set; never crash; and once every handle is freed, every
 * byte allocated through our allocator must be freed (no leak on any error
 * path). yajl's tree parser and SQLite allocate outside our allocator, which
 * is fine (ASan checks those).
 *
 * Environment: ECR_ALLOC_STEP=k sweeps every k-th N only (default 1). */
#include "../helpers/helpers.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/th_image.h"
#include "ecr/sys/alloc.h"

static atomic_ulong alloc_count;
static atomic_ulong fail_at; /* 0: never */
static atomic_ulong failures;
static atomic_long live;

static bool should_fail(void)
{
	unsigned long k = atomic_fetch_add(&alloc_count, 1) + 1;
	unsigned long f = atomic_load(&fail_at);
	if (f && k == f) {
		atomic_fetch_add(&failures, 1);
		return true;
	}
	return false;
}

static void *t_malloc(size_t n, void *payload)
{
	(void)payload;
	if (should_fail())
		return NULL;
	void *p = malloc(n);
	if (p)
		atomic_fetch_add(&live, 1);
	return p;
}

static void *t_realloc(void *ptr, size_t n, void *payload)
{
	(void)payload;
	if (should_fail())
		return NULL;
	void *p = realloc(ptr, n);
	if (p && !ptr)
		atomic_fetch_add(&live, 1);
	return p;
}

static void t_free(void *ptr, void *payload)
{
	(void)payload;
	if (ptr) {
		atomic_fetch_sub(&live, 1);
		free(ptr);
	}
}

typedef struct handles {
	ecr_registry *reg;
	ecr_repository *repo;
	ecr_image *img;
} handles;

/* The scenario; returns the first failing call's code, with *where naming it. */
static int scenario(handles *h, const th_image *img, const char **where)
{
	int rc;
	*where = "ecr_registry_open";
	if ((rc = ecr_registry_open(&h->reg, "memory:", NULL)) != 0)
		return rc;
	*where = "ecr_repository_create";
	if ((rc = ecr_repository_create(&h->repo, h->reg, "alloc/app", NULL)) != 0)
		return rc;
	*where = "th_image_push";
	if ((rc = th_image_push(h->repo, img, "latest", 40)) != 0)
		return rc;
	*where = "ecr_image_get";
	if ((rc = ecr_image_get(&h->img, h->repo, "latest", 0)) != 0)
		return rc;
	const void *man;
	size_t len;
	*where = "ecr_image_manifest";
	if ((rc = ecr_image_manifest(&man, &len, h->img)) != 0)
		return rc;
	/* Listing, retagging, deleting and collecting, on a second image. */
	*where = "ecr_image_put (second tag)";
	if ((rc = ecr_image_put(NULL, h->repo, "v1", NULL, NULL, img->manifest, img->manifest_len, 0)) != 0)
		return rc;
	ecr_tag_iterator *ti = NULL;
	const char *tag, *digest;
	*where = "ecr_tag_iterator";
	if ((rc = ecr_tag_iterator_new(&ti, h->repo, NULL)) != 0)
		return rc;
	while ((rc = ecr_tag_iterator_next(&tag, &digest, ti)) == 0)
		;
	ecr_tag_iterator_free(ti);
	if (rc != ECR_ITEROVER)
		return rc;
	ecr_buf d = ECR_BUF_INIT;
	*where = "ecr_image_untag";
	rc = ecr_image_untag(&d, h->repo, "v1", 0);
	ecr_buf_dispose(&d);
	if (rc != 0)
		return rc;
	*where = "ecr_registry_gc";
	return ecr_registry_gc(h->reg, NULL, NULL);
}

static void handles_free(handles *h)
{
	ecr_image_free(h->img);
	ecr_repository_free(h->repo);
	ecr_registry_free(h->reg);
	memset(h, 0, sizeof(*h));
}

/* One run with a failure at allocation n (0: none). Returns the number of allocations made. */
static unsigned long one_run(unsigned long n, const th_image *img, unsigned long *failed_runs)
{
	handles h = { NULL, NULL, NULL };
	const char *where = "";
	long live_before = atomic_load(&live);

	atomic_store(&alloc_count, 0);
	atomic_store(&failures, 0);
	atomic_store(&fail_at, n);
	ecr_error_clear();
	int rc = scenario(&h, img, &where);
	atomic_store(&fail_at, 0);
	unsigned long count = atomic_load(&alloc_count);

	if (rc != 0) {
		const ecr_error *e = ecr_error_last();
		if (rc != ECR_ENOMEM)
			fail_msg("allocation %lu failed: %s returned %d (%s), not ECR_ENOMEM: %s", n, where, rc,
				ecr_error_name(rc), e->message);
		if (e->code != ECR_ENOMEM || !e->message[0])
			fail_msg("allocation %lu failed: %s returned ECR_ENOMEM but the error is %d: %s", n, where,
				e->code, e->message);
		if (atomic_load(&failures) == 0)
			fail_msg("allocation %lu: %s returned ECR_ENOMEM but no allocation failed", n, where);
		(*failed_runs)++;
	} else {
		/* Success despite the failure: the result must be right. */
		if (th_image_verify_exact(h.repo, img) != 0)
			fail_msg("allocation %lu failed, the scenario succeeded, but: %s", n, th_problem());
	}
	handles_free(&h);
	long leaked = atomic_load(&live) - live_before;
	if (leaked != 0)
		fail_msg("allocation %lu failed (%s returned %d): %ld allocations not freed", n, rc ? where : "nothing",
			rc, leaked);
	return count;
}

static void test_engine_alloc_failure__push_on_memory(void **state)
{
	(void)state;
	th_image img;
	uint64_t rng = 99;
	size_t sizes[2] = { 100, 1 };
	assert_ok(th_image_random(&img, &rng, 2, sizes));

	unsigned long failed_runs = 0;
	unsigned long total = one_run(0, &img, &failed_runs);
	assert_true(total > 0);
	assert_int_equal(failed_runs, 0);
	const char *v = getenv("ECR_ALLOC_STEP");
	unsigned long step = v && *v ? strtoul(v, NULL, 10) : 1;
	if (!step)
		step = 1;
	unsigned long runs = 0;
	for (unsigned long n = 1; n <= total; n += step) {
		one_run(n, &img, &failed_runs);
		runs++;
	}
	print_message("# alloc_failure: %lu allocations in the scenario; %lu failure points swept: %lu returned "
		      "ECR_ENOMEM, %lu succeeded anyway (verified); no leaks\n",
		total, runs, failed_runs, runs - failed_runs);
	th_image_dispose(&img);
}

static int setup(void **state)
{
	(void)state;
	ecr_allocator a = ECR_ALLOCATOR_INIT;
	a.malloc_fn = t_malloc;
	a.realloc_fn = t_realloc;
	a.free_fn = t_free;
	if (ecr_set_allocator(&a) != 0)
		return -1;
	return ecr_init() > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (ecr_shutdown() < 0)
		return -1;
	return ecr_set_allocator(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_alloc_failure__push_on_memory),
	};
	return cmocka_run_group_tests_name("engine/alloc_failure", tests, setup, teardown);
}
