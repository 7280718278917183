/* The durable replication queue (libecr/engine/replication_queue.c): enqueue on push, claim order, due times,
 * leases, complete vs re-queue, fail/retry/final, pending count, and ecr_image_replication_status(). */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/th_image.h"
#include "libecr/engine/replication_queue.h"

#define LEASE 30000

typedef struct fixture {
	ecr_registry *reg;
	ecr_repository *repo;  /* "prod/app": selected by the rule's filter */
	ecr_repository *other; /* "dev/app": not selected */
	uint64_t rng;
} fixture;

static int64_t test_now = 1760000000000LL;
static int64_t test_clock(void *payload)
{
	(void)payload;
	return test_now;
}

#define CONFIG                                                                                                  \
	"{\"rules\":[{\"destinations\":[{\"region\":\"us-west-2\",\"registryId\":\"123456789012\"},"               \
	"{\"region\":\"eu-west-1\",\"registryId\":\"210987654321\"}],"                                            \
	"\"repositoryFilters\":[{\"filter\":\"prod\",\"filterType\":\"PREFIX_MATCH\"}]},"                          \
	"{\"destinations\":[{\"region\":\"eu-west-1\",\"registryId\":\"210987654321\"}],"                          \
	"\"repositoryFilters\":[{\"filter\":\"prod/a\",\"filterType\":\"PREFIX_MATCH\"}]}]}"

static int setup_bare(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.clock_cb = test_clock;
	if (!f)
		return -1;
	f->rng = 777;
	if (ecr_registry_open(&f->reg, "memory:", &opts) || ecr_repository_create(&f->repo, f->reg, "prod/app", NULL) ||
		ecr_repository_create(&f->other, f->reg, "dev/app", NULL))
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	if (setup_bare(state))
		return -1;
	fixture *f = *state;
	return ecr_registry_set_replication_configuration(f->reg, CONFIG) ? -1 : 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_repository_free(f->repo);
	ecr_repository_free(f->other);
	ecr_registry_free(f->reg);
	free(f);
	return 0;
}

static int64_t pending(ecr_registry *reg)
{
	int64_t n = -1;
	assert_ok(ecr__repl_pending(&n, reg));
	return n;
}

/* A random image pushed with tag (may be NULL). */
static void push(fixture *f, ecr_repository *repo, th_image *img, const char *tag)
{
	assert_ok(th_image_random(img, &f->rng, 1, NULL));
	assert_ok(th_image_push(repo, img, tag, 0));
}

/* Put the manifest of img again (same image) with tag and flags. */
static int reput(ecr_repository *repo, const th_image *img, const char *tag, uint32_t flags)
{
	return ecr_image_put(NULL, repo, tag, NULL, NULL, img->manifest, img->manifest_len, flags);
}

typedef struct status_seen {
	char text[1024];
	int calls;
	int stop_at; /* return 7 at this call (1-based), 0: never */
} status_seen;

static int status_cb(const char *region, const char *registry_id, ecr_replication_status st, const char *reason,
	void *payload)
{
	status_seen *s = payload;
	s->calls++;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof(s->text) - len, "%s/%s=%d%s%s;", region, registry_id, (int)st,
		reason ? ":" : "", reason ? reason : "");
	return s->stop_at == s->calls ? 7 : 0;
}

static void status_of(status_seen *s, ecr_repository *repo, const char *digest)
{
	memset(s, 0, sizeof(*s));
	assert_ok(ecr_image_replication_status(repo, digest, status_cb, s));
}

/* Claim every due job and complete it. */
static size_t complete_all(ecr_registry *reg)
{
	size_t n = 0;
	ecr__repl_job job;
	while (ecr__repl_claim(&job, NULL, reg, LEASE) == 0) {
		assert_ok(ecr__repl_complete(reg, &job));
		ecr__repl_job_dispose(&job);
		n++;
	}
	return n;
}

static void test_engine_replication_queue__enqueue_on_push(void **state)
{
	fixture *f = *state;
	th_image a, b, c;
	status_seen s;

	/* a new image with a tag: one job per unique destination (eu-west-1 is in both rules) */
	push(f, f->repo, &a, "v1");
	assert_int_equal(pending(f->reg), 2);
	status_of(&s, f->repo, a.digest);
	assert_string_equal(s.text, "eu-west-1/210987654321=0;us-west-2/123456789012=0;");

	ecr__repl_job job;
	assert_ok(ecr__repl_claim(&job, NULL, f->reg, LEASE));
	assert_string_equal(job.repository, "prod/app");
	assert_string_equal(job.digest, a.digest);
	assert_int_equal(job.tags_count, 1);
	assert_string_equal(job.tags[0], "v1");
	assert_int_equal(job.attempts, 0);
	ecr__repl_job_dispose(&job);
	assert_int_equal(pending(f->reg), 2); /* running counts */
	assert_int_equal(complete_all(f->reg), 1);
	/* the claimed one is still running until completed: nothing else due */
	assert_int_equal(pending(f->reg), 1);
	test_now += LEASE + 1; /* the first claim's lease ran out: it is picked up again */
	assert_int_equal(complete_all(f->reg), 1);
	assert_int_equal(pending(f->reg), 0);
	status_of(&s, f->repo, a.digest);
	assert_string_equal(s.text, "eu-west-1/210987654321=1;us-west-2/123456789012=1;");

	/* the same image put again with the same tag: nothing changes, no job */
	assert_ok(reput(f->repo, &a, "v1", 0));
	assert_ok(reput(f->repo, &a, NULL, 0));
	assert_int_equal(pending(f->reg), 0);

	/* a new tag on the image: both destinations queued again, with the tags merged */
	assert_ok(reput(f->repo, &a, "v2", 0));
	assert_int_equal(pending(f->reg), 2);
	assert_ok(ecr__repl_claim(&job, NULL, f->reg, LEASE));
	assert_int_equal(job.tags_count, 2);
	assert_string_equal(job.tags[0], "v1");
	assert_string_equal(job.tags[1], "v2");
	assert_ok(ecr__repl_complete(f->reg, &job));
	ecr__repl_job_dispose(&job);
	assert_int_equal(complete_all(f->reg), 1);

	/* a tag moved to another image: the new image is queued with it */
	push(f, f->repo, &b, "v3");
	assert_int_equal(complete_all(f->reg), 2);
	assert_ok(reput(f->repo, &b, "v1", 0));
	assert_int_equal(pending(f->reg), 2);
	assert_ok(ecr__repl_claim(&job, NULL, f->reg, LEASE));
	assert_string_equal(job.digest, b.digest);
	assert_int_equal(job.tags_count, 2);
	assert_string_equal(job.tags[0], "v3");
	assert_string_equal(job.tags[1], "v1");
	ecr__repl_job_dispose(&job);
	test_now += LEASE + 1;
	assert_int_equal(complete_all(f->reg), 2);

	/* an image that arrives by replication: no job */
	assert_ok(th_image_random(&c, &f->rng, 1, NULL));
	assert_ok(th_blob_push(f->repo, &c.config, 0));
	assert_ok(th_blob_push(f->repo, &c.layers[0], 0));
	assert_ok(reput(f->repo, &c, "replica", ECR_IMAGE_PUT_REPLICA));
	assert_int_equal(pending(f->reg), 0);
	status_of(&s, f->repo, c.digest);
	assert_int_equal(s.calls, 0);
	/* nor a tag it gets by replication */
	assert_ok(reput(f->repo, &c, "replica2", ECR_IMAGE_PUT_REPLICA));
	assert_int_equal(pending(f->reg), 0);

	th_image_dispose(&a);
	th_image_dispose(&b);
	th_image_dispose(&c);
}

static void test_engine_replication_queue__no_job_when_not_selected(void **state)
{
	fixture *f = *state;
	th_image a;
	/* a repository no filter selects */
	push(f, f->other, &a, "v1");
	assert_int_equal(pending(f->reg), 0);
	th_image_dispose(&a);

	/* the second rule's filter alone ("prod/a" selects "prod/app"): a rule without filters selects all */
	assert_ok(ecr_registry_set_replication_configuration(f->reg,
		"{\"rules\":[{\"destinations\":[{\"region\":\"ap-south-1\",\"registryId\":\"123456789012\"}]}]}"));
	push(f, f->other, &a, "v1");
	assert_int_equal(pending(f->reg), 1);
	th_image_dispose(&a);

	/* rules: [] disables */
	assert_ok(complete_all(f->reg) == 1 ? 0 : -1);
	assert_ok(ecr_registry_set_replication_configuration(f->reg, "{\"rules\":[]}"));
	push(f, f->repo, &a, "v1");
	assert_int_equal(pending(f->reg), 0);
	th_image_dispose(&a);
}

static void test_engine_replication_queue__no_config_no_job(void **state)
{
	fixture *f = *state;
	th_image a;
	push(f, f->repo, &a, "v1");
	assert_int_equal(pending(f->reg), 0);
	ecr__repl_job job;
	int64_t next = -1;
	assert_int_equal(ecr__repl_claim(&job, &next, f->reg, LEASE), ECR_ITEROVER);
	assert_int_equal(next, 0);
	status_seen s;
	status_of(&s, f->repo, a.digest);
	assert_int_equal(s.calls, 0);
	th_image_dispose(&a);
}

static void test_engine_replication_queue__claim_order_and_due_times(void **state)
{
	fixture *f = *state;
	th_image a, b;
	ecr__repl_job j1, j2, j3;
	int64_t next = -1;
	int64_t t0 = test_now;

	push(f, f->repo, &a, "a"); /* two jobs due at t0 */
	test_now += 10;
	push(f, f->repo, &b, "b"); /* two jobs due at t0 + 10 */

	/* oldest first: both of a, then b */
	assert_ok(ecr__repl_claim(&j1, NULL, f->reg, LEASE));
	assert_string_equal(j1.digest, a.digest);
	assert_ok(ecr__repl_claim(&j2, NULL, f->reg, LEASE));
	assert_string_equal(j2.digest, a.digest);
	assert_string_not_equal(j1.dest_region, j2.dest_region);
	/* a retry in the future goes behind b */
	assert_ok(ecr__repl_fail(f->reg, &j1, "connection refused", t0 + 5000, false));
	assert_ok(ecr__repl_complete(f->reg, &j2));
	assert_ok(ecr__repl_claim(&j3, NULL, f->reg, LEASE));
	assert_string_equal(j3.digest, b.digest);
	assert_ok(ecr__repl_complete(f->reg, &j3));
	ecr__repl_job_dispose(&j3);
	assert_ok(ecr__repl_claim(&j3, NULL, f->reg, LEASE));
	assert_string_equal(j3.digest, b.digest);
	assert_ok(ecr__repl_complete(f->reg, &j3));
	ecr__repl_job_dispose(&j3);

	/* nothing due before the retry time; next_due tells when */
	assert_int_equal(ecr__repl_claim(&j3, &next, f->reg, LEASE), ECR_ITEROVER);
	assert_int_equal(next, t0 + 5000);
	assert_int_equal(pending(f->reg), 1); /* a failed job waiting for its retry counts */
	test_now = t0 + 4999;
	assert_int_equal(ecr__repl_claim(&j3, &next, f->reg, LEASE), ECR_ITEROVER);
	test_now = t0 + 5000;
	assert_ok(ecr__repl_claim(&j3, &next, f->reg, LEASE));
	assert_int_equal(j3.id, j1.id);
	assert_int_equal(j3.attempts, 1);
	assert_true(j3.claim != j1.claim);
	assert_ok(ecr__repl_complete(f->reg, &j3));
	ecr__repl_job_dispose(&j3);
	assert_int_equal(pending(f->reg), 0);
	assert_int_equal(ecr__repl_claim(&j3, &next, f->reg, LEASE), ECR_ITEROVER);
	assert_int_equal(next, 0);

	ecr__repl_job_dispose(&j1);
	ecr__repl_job_dispose(&j2);
	ecr__repl_job_dispose(&j3);
	th_image_dispose(&a);
	th_image_dispose(&b);
}

static void test_engine_replication_queue__leases(void **state)
{
	fixture *f = *state;
	th_image a;
	ecr__repl_job j1, j2, other;
	int64_t next = -1;

	push(f, f->repo, &a, "a");
	assert_ok(ecr__repl_claim(&j1, NULL, f->reg, 1000));
	assert_ok(ecr__repl_claim(&other, NULL, f->reg, LEASE)); /* the second destination, out of the way */
	int64_t t0 = test_now;

	/* running with a live lease: not due; due right after the lease */
	test_now = t0 + 500;
	assert_int_equal(ecr__repl_claim(&j2, &next, f->reg, 1000), ECR_ITEROVER);
	assert_int_equal(next, t0 + 1000 + 1);
	/* renewing pushes the lease on */
	assert_ok(ecr__repl_renew(f->reg, &j1, 1000));
	test_now = t0 + 1200;
	assert_int_equal(ecr__repl_claim(&j2, &next, f->reg, 1000), ECR_ITEROVER);
	assert_int_equal(next, t0 + 500 + 1000 + 1);

	/* the worker "died": after the lease another claim takes the job, under a new stamp */
	test_now = t0 + 1501;
	assert_ok(ecr__repl_claim(&j2, NULL, f->reg, 1000));
	assert_int_equal(j2.id, j1.id);
	assert_true(j2.claim != j1.claim);
	assert_int_equal(j2.attempts, 0);

	/* the old claim can neither renew nor end the job */
	assert_int_equal(ecr__repl_renew(f->reg, &j1, 1000), ECR_ENOTFOUND);
	assert_int_equal(ecr__repl_complete(f->reg, &j1), ECR_ENOTFOUND); /* nothing recorded: the claim was lost */
	assert_int_equal(ecr__repl_fail(f->reg, &j1, "late", 0, true), ECR_ENOTFOUND);
	status_seen s;
	status_of(&s, f->repo, a.digest);
	assert_string_equal(s.text, "eu-west-1/210987654321=0;us-west-2/123456789012=0;");
	assert_int_equal(pending(f->reg), 2);

	/* the current claim completes it */
	assert_ok(ecr__repl_complete(f->reg, &j2));
	assert_ok(ecr__repl_complete(f->reg, &other));
	assert_int_equal(pending(f->reg), 0);
	status_of(&s, f->repo, a.digest);
	assert_string_equal(s.text, "eu-west-1/210987654321=1;us-west-2/123456789012=1;");
	/* renew after the end */
	assert_int_equal(ecr__repl_renew(f->reg, &j2, 1000), ECR_ENOTFOUND);

	ecr__repl_job_dispose(&j1);
	ecr__repl_job_dispose(&j2);
	ecr__repl_job_dispose(&other);
	th_image_dispose(&a);
}

static void test_engine_replication_queue__complete_vs_requeue(void **state)
{
	fixture *f = *state;
	th_image a;
	ecr__repl_job j1, j2, j3;

	push(f, f->repo, &a, "v1");
	assert_ok(ecr__repl_claim(&j1, NULL, f->reg, LEASE));
	assert_ok(ecr__repl_claim(&j2, NULL, f->reg, LEASE));
	/* while both are being copied, the image gets a new tag: both are queued again */
	assert_ok(reput(f->repo, &a, "v2", 0));
	/* the copies that started before finish: the jobs stay queued (v2 is not at the destination yet) */
	assert_int_equal(ecr__repl_complete(f->reg, &j1), ECR_ENOTFOUND); /* not recorded */
	assert_int_equal(ecr__repl_fail(f->reg, &j2, "boom", test_now + 100000, true), ECR_ENOTFOUND);
	assert_int_equal(pending(f->reg), 2);
	status_seen s;
	status_of(&s, f->repo, a.digest);
	assert_string_equal(s.text, "eu-west-1/210987654321=0;us-west-2/123456789012=0;");
	/* due at once (not at the failed attempt's retry time), with both tags */
	assert_ok(ecr__repl_claim(&j3, NULL, f->reg, LEASE));
	assert_int_equal(j3.tags_count, 2);
	assert_string_equal(j3.tags[1], "v2");
	assert_ok(ecr__repl_complete(f->reg, &j3));
	ecr__repl_job_dispose(&j3);
	assert_ok(ecr__repl_claim(&j3, NULL, f->reg, LEASE));
	assert_ok(ecr__repl_complete(f->reg, &j3));
	assert_int_equal(pending(f->reg), 0);

	ecr__repl_job_dispose(&j1);
	ecr__repl_job_dispose(&j2);
	ecr__repl_job_dispose(&j3);
	th_image_dispose(&a);
}

static void test_engine_replication_queue__fail_retry_final(void **state)
{
	fixture *f = *state;
	th_image a;
	ecr__repl_job j;
	status_seen s;

	push(f, f->repo, &a, "v1");
	assert_int_equal(complete_all(f->reg), 0 + 2);
	assert_ok(reput(f->repo, &a, "v2", 0));
	for (int attempt = 0; attempt < 3; attempt++) {
		ecr__repl_job other;
		assert_ok(ecr__repl_claim(&j, NULL, f->reg, LEASE));
		assert_int_equal(j.attempts, attempt);
		if (attempt == 0) {
			/* the other destination succeeds at once */
			assert_ok(ecr__repl_claim(&other, NULL, f->reg, LEASE));
			assert_ok(ecr__repl_complete(f->reg, &other));
			ecr__repl_job_dispose(&other);
		}
		/* a retry: still IN_PROGRESS, no reason shown */
		assert_ok(ecr__repl_fail(f->reg, &j, "destination unreachable", test_now + 10, attempt == 2));
		ecr__repl_job_dispose(&j);
		test_now += 10;
		if (attempt < 2) {
			status_of(&s, f->repo, a.digest);
			assert_non_null(strstr(s.text, "=0;"));
			assert_null(strstr(s.text, "unreachable"));
		}
	}
	/* final: FAILED with the reason, no longer pending or claimable */
	assert_int_equal(pending(f->reg), 0);
	int64_t next = -1;
	assert_int_equal(ecr__repl_claim(&j, &next, f->reg, LEASE), ECR_ITEROVER);
	assert_int_equal(next, 0);
	status_of(&s, f->repo, a.digest);
	assert_true(strstr(s.text, "=2:destination unreachable;") != NULL);
	assert_true(strstr(s.text, "=1;") != NULL);

	/* a later push re-queues the failed job with fresh attempts */
	assert_ok(reput(f->repo, &a, "v3", 0));
	assert_int_equal(pending(f->reg), 2);
	assert_ok(ecr__repl_claim(&j, NULL, f->reg, LEASE));
	assert_int_equal(j.attempts, 0);
	assert_int_equal(j.tags_count, 3);
	ecr__repl_job_dispose(&j);
	th_image_dispose(&a);
}

static void test_engine_replication_queue__status_order_and_errors(void **state)
{
	fixture *f = *state;
	th_image a;
	status_seen s;
	assert_ok(ecr_registry_set_replication_configuration(f->reg,
		"{\"rules\":[{\"destinations\":[{\"region\":\"us-west-2\",\"registryId\":\"123456789012\"},"
		"{\"region\":\"eu-west-1\",\"registryId\":\"999999999999\"},"
		"{\"region\":\"eu-west-1\",\"registryId\":\"111111111111\"},"
		"{\"region\":\"ap-south-1\",\"registryId\":\"123456789012\"}]}]}"));
	push(f, f->repo, &a, "v1");
	status_of(&s, f->repo, a.digest);
	assert_string_equal(s.text, "ap-south-1/123456789012=0;eu-west-1/111111111111=0;eu-west-1/999999999999=0;"
				    "us-west-2/123456789012=0;");
	/* a callback's non-zero return stops and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(ecr_image_replication_status(f->repo, a.digest, status_cb, &s), 7);
	assert_int_equal(s.calls, 2);

	/* an image that is not there */
	const char *none = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(ecr_image_replication_status(f->repo, none, status_cb, &s), ECR_EIMAGE_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message,
		"The image with imageId {imageDigest:'sha256:0000000000000000000000000000000000000000000000000000000000000000'"
		", imageTag:'null'} does not exist within the repository with name 'prod/app' in the registry with id "
		"'123456789012'");
	/* a repository deleted through another handle */
	ecr_repository *again;
	assert_ok(ecr_repository_open(&again, f->reg, "prod/app"));
	assert_ok(ecr_repository_delete(f->reg, "prod/app", 1));
	assert_int_equal(ecr_image_replication_status(again, a.digest, status_cb, &s), ECR_EREPOSITORY_NOT_FOUND);
	ecr_repository_free(again);
	th_image_dispose(&a);
}

/*
 * Two registries (accounts) of one file:// store: the store-wide claim takes
 * the jobs of both, oldest first, with their source (account, region);
 * the store-wide pending count covers both while the per-registry one does
 * not; complete/fail through either registry's handle.
 */
static void test_engine_replication_queue__store_wide(void **state)
{
	(void)state;
	char *dir = th_tmpdir(), url[600];
	ecr_registry *r1 = NULL, *r2 = NULL;
	ecr_repository *p1 = NULL, *p2 = NULL;
	ecr_registry_options o1 = ECR_REGISTRY_OPTIONS_INIT, o2 = ECR_REGISTRY_OPTIONS_INIT;
	fixture f = { 0 };
	th_image a, b;
	ecr__repl_job j1, j2, j3, none;
	int64_t n = -1, next = -1;
	int64_t t0 = test_now;
	f.rng = 4242;
	snprintf(url, sizeof(url), "file://%s", dir);
	o1.clock_cb = o2.clock_cb = test_clock;
	o1.account_id = "111111111111";
	o1.region = "us-east-1";
	o2.account_id = "222222222222";
	o2.region = "ap-south-1";
	assert_ok(ecr_registry_open(&r1, url, &o1));
	assert_ok(ecr_registry_open(&r2, url, &o2));
	assert_ok(ecr_registry_set_replication_configuration(r1, CONFIG));
	assert_ok(ecr_registry_set_replication_configuration(r2, CONFIG));
	assert_ok(ecr_repository_create(&p1, r1, "prod/app", NULL));
	assert_ok(ecr_repository_create(&p2, r2, "prod/app", NULL));

	push(&f, p2, &b, "b"); /* r2's two jobs, due at t0 */
	test_now += 10;
	push(&f, p1, &a, "a"); /* r1's two jobs, due at t0 + 10 */

	assert_int_equal(pending(r1), 2);
	assert_ok(ecr__repl_pending_store(&n, r1));
	assert_int_equal(n, 4);
	assert_ok(ecr__repl_pending_store(&n, r2));
	assert_int_equal(n, 4);

	/* through r1's handle: r2's jobs come first (older), with their source */
	assert_ok(ecr__repl_claim_store(&j1, NULL, r1, LEASE));
	assert_string_equal(j1.digest, b.digest);
	assert_string_equal(j1.src_account_id, "222222222222");
	assert_string_equal(j1.src_region, "ap-south-1");
	/* the per-registry claim fills the source with the registry itself */
	assert_ok(ecr__repl_claim(&j2, NULL, r1, LEASE));
	assert_string_equal(j2.digest, a.digest);
	assert_string_equal(j2.src_account_id, "111111111111");
	assert_string_equal(j2.src_region, "us-east-1");
	assert_ok(ecr__repl_complete(r1, &j2));
	ecr__repl_job_dispose(&j2);
	/* the second of r2 through r2's handle, then r1's last through r2's handle: each claimed once */
	assert_ok(ecr__repl_claim_store(&j2, NULL, r2, LEASE));
	assert_string_equal(j2.digest, b.digest);
	assert_true(j2.id != j1.id);
	assert_ok(ecr__repl_claim_store(&j3, NULL, r2, LEASE));
	assert_string_equal(j3.digest, a.digest);
	assert_string_equal(j3.src_account_id, "111111111111");
	assert_int_equal(ecr__repl_claim_store(&none, &next, r1, LEASE), ECR_ITEROVER); /* all running, leased */
	assert_null(none.digest);
	assert_int_equal(next, test_now + LEASE + 1);

	/* outcomes through the other registry's handle */
	assert_ok(ecr__repl_complete(r2, &j1));
	assert_ok(ecr__repl_fail(r1, &j2, "connection refused", test_now + 100, false));
	assert_ok(ecr__repl_pending_store(&n, r1));
	assert_int_equal(n, 2); /* j2 waiting for its retry; r1's last one running */
	assert_ok(ecr__repl_pending(&n, r2));
	assert_int_equal(n, 1);
	assert_ok(ecr__repl_pending(&n, r1));
	assert_int_equal(n, 1);
	test_now += 100;
	ecr__repl_job_dispose(&j3);
	assert_ok(ecr__repl_claim_store(&j3, NULL, r1, LEASE));
	assert_int_equal(j3.id, j2.id);
	assert_int_equal(j3.attempts, 1);
	assert_string_equal(j3.src_account_id, "222222222222");
	assert_ok(ecr__repl_complete(r1, &j3));
	ecr__repl_job_dispose(&j3);
	assert_ok(ecr__repl_pending(&n, r2));
	assert_int_equal(n, 0);

	/* a lease that ran out is claimed again store-wide (r1's last job) */
	test_now += LEASE + 1;
	assert_ok(ecr__repl_claim_store(&j3, NULL, r2, LEASE));
	assert_string_equal(j3.digest, a.digest);
	assert_ok(ecr__repl_complete(r2, &j3));
	assert_ok(ecr__repl_pending_store(&n, r1));
	assert_int_equal(n, 0);
	assert_int_equal(ecr__repl_claim_store(&none, &next, r1, LEASE), ECR_ITEROVER);
	assert_int_equal(next, 0);

	test_now = t0;
	ecr__repl_job_dispose(&j1);
	ecr__repl_job_dispose(&j2);
	ecr__repl_job_dispose(&j3);
	th_image_dispose(&a);
	th_image_dispose(&b);
	ecr_repository_free(p1);
	ecr_repository_free(p2);
	ecr_registry_free(r1);
	ecr_registry_free(r2);
	th_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_replication_queue__enqueue_on_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_queue__no_job_when_not_selected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_queue__no_config_no_job, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_queue__claim_order_and_due_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_queue__leases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_queue__complete_vs_requeue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_queue__fail_retry_final, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_queue__status_order_and_errors, setup, teardown),
		cmocka_unit_test(test_engine_replication_queue__store_wide),
	};
	return cmocka_run_group_tests_name("engine/replication_queue", tests, NULL, NULL);
}
