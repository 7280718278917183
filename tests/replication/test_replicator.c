/* The replicator (ecr/replication.h): memory: registries of different accounts
 * and regions (sharing nothing) as source and destinations, and a remote
 * destination served by an in-process ecr_server. */
#include "../helpers/helpers.h"
#include "../helpers/th_image.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libecr/core/digest.h"
#include "libecr/engine/replication_queue.h"

#define ACCT_A "111111111111"
#define ACCT_B "222222222222"
#define REGION_A "us-east-1"
#define REGION_B "eu-west-1"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define DRAIN_MS 20000

typedef struct fixture {
	ecr_registry *a;  /* source: ACCT_A in REGION_A */
	ecr_registry *a2; /* ACCT_A in REGION_B */
	ecr_registry *b;  /* ACCT_B in REGION_B */
	ecr_registry *remote; /* when set, what ACCT_B/REGION_B resolves to */
	ecr_replicator *rep;
	pthread_mutex_t lock;
	int fail_first; /* the destination callback fails this many times first */
	int calls;
	uint64_t rng;
} fixture;

static ecr_registry *open_mem(const char *account, const char *region)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *r = NULL;
	o.account_id = account;
	o.region = region;
	if (ecr_registry_open(&r, "memory:", &o))
		return NULL;
	return r;
}

static int destination(ecr_registry **out, const char *region, const char *registry_id, void *payload)
{
	fixture *f = payload;
	int rc = 0;
	pthread_mutex_lock(&f->lock);
	f->calls++;
	if (f->fail_first != 0) {
		if (f->fail_first > 0)
			f->fail_first--;
		rc = ECR_ENOTFOUND;
	}
	pthread_mutex_unlock(&f->lock);
	if (rc)
		return rc; /* no message: the replicator says which destination */
	*out = NULL;
	if (strcmp(registry_id, ACCT_A) == 0 && strcmp(region, REGION_A) == 0)
		*out = f->a;
	else if (strcmp(registry_id, ACCT_A) == 0 && strcmp(region, REGION_B) == 0)
		*out = f->a2;
	else if (strcmp(registry_id, ACCT_B) == 0 && strcmp(region, REGION_B) == 0)
		*out = f->remote ? f->remote : f->b;
	return *out ? 0 : ECR_ENOTFOUND;
}

static void start(fixture *f, unsigned int max_attempts)
{
	ecr_replicator_options o;
	assert_ok(ecr_replicator_options_init(&o, ECR_REPLICATOR_OPTIONS_VERSION));
	o.destination_cb = destination;
	o.destination_payload = f;
	o.retry_base_ms = 5;
	o.poll_ms = 50;
	o.max_attempts = max_attempts;
	assert_ok(ecr_replicator_new(&f->rep, &o));
	assert_ok(ecr_replicator_attach(f->rep, f->a));
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	pthread_mutex_init(&f->lock, NULL);
	f->rng = 0x7e91ca7eu + (uint64_t)time(NULL);
	f->a = open_mem(ACCT_A, REGION_A);
	f->a2 = open_mem(ACCT_A, REGION_B);
	f->b = open_mem(ACCT_B, REGION_B);
	if (!f->a || !f->a2 || !f->b)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_replicator_free(f->rep);
	ecr_registry_free(f->a);
	ecr_registry_free(f->a2);
	ecr_registry_free(f->b);
	pthread_mutex_destroy(&f->lock);
	free(f);
	return 0;
}

static void configure(ecr_registry *reg, const char *region, const char *account, const char *filter)
{
	char json[512];
	if (filter)
		snprintf(json, sizeof(json),
		         "{\"rules\":[{\"destinations\":[{\"region\":\"%s\",\"registryId\":\"%s\"}],"
		         "\"repositoryFilters\":[{\"filter\":\"%s\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		         region, account, filter);
	else
		snprintf(json, sizeof(json), "{\"rules\":[{\"destinations\":[{\"region\":\"%s\",\"registryId\":\"%s\"}]}]}",
		         region, account);
	assert_ok(ecr_registry_set_replication_configuration(reg, json));
}

static ecr_repository *repo_create(ecr_registry *reg, const char *name)
{
	ecr_repository *r = NULL;
	assert_ok(ecr_repository_create(&r, reg, name, NULL));
	return r;
}

static void push_random(fixture *f, ecr_repository *repo, th_image *img, const char *tag)
{
	size_t sizes[] = {3000, 70000};
	assert_ok(th_image_random(img, &f->rng, 2, sizes));
	if (th_image_push(repo, img, tag, 1 << 20))
		fail_msg("push: %s", th_problem());
}

static void drain(fixture *f)
{
	int rc = ecr_replicator_drain(f->rep, DRAIN_MS);
	if (rc)
		fail_msg("drain: %s", ecr_error_last()->message);
}

typedef struct status_rec {
	int n;
	char region[32], account[16];
	ecr_replication_status status;
	char reason[1024];
} status_rec;

static int status_cb(const char *region, const char *registry_id, ecr_replication_status status,
                     const char *failure_reason, void *payload)
{
	status_rec *s = payload;
	s->n++;
	snprintf(s->region, sizeof(s->region), "%s", region);
	snprintf(s->account, sizeof(s->account), "%s", registry_id);
	s->status = status;
	snprintf(s->reason, sizeof(s->reason), "%s", failure_reason ? failure_reason : "");
	return 0;
}

static status_rec status_of(ecr_repository *repo, const char *digest)
{
	status_rec s;
	memset(&s, 0, sizeof(s));
	assert_ok(ecr_image_replication_status(repo, digest, status_cb, &s));
	return s;
}

static void expect_complete(ecr_repository *repo, const char *digest, const char *region, const char *account)
{
	status_rec s = status_of(repo, digest);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.region, region);
	assert_string_equal(s.account, account);
	if (s.status != ECR_REPLICATION_COMPLETE)
		fail_msg("status %d, reason: %s", (int)s.status, s.reason);
}

static ecr_repository *open_repo(ecr_registry *reg, const char *name)
{
	ecr_repository *r = NULL;
	int rc = ecr_repository_open(&r, reg, name);
	if (rc)
		fail_msg("open %s: %s", name, ecr_error_last()->message);
	return r;
}

static void expect_tag(ecr_repository *repo, const char *tag, const char *digest)
{
	ecr_image *img = NULL;
	if (ecr_image_get(&img, repo, tag, 0))
		fail_msg("%s: %s", tag, ecr_error_last()->message);
	assert_string_equal(ecr_image_digest(img), digest);
	ecr_image_free(img);
}

static void expect_no_image(ecr_repository *repo, const char *ref)
{
	ecr_image *img = NULL;
	int rc = ecr_image_get(&img, repo, ref, ECR_IMAGE_GET_ANY_STATUS);
	ecr_image_free(img);
	assert_int_equal(rc, ECR_EIMAGE_NOT_FOUND);
}

static void expect_no_repo(ecr_registry *reg, const char *name)
{
	ecr_repository *r = NULL;
	assert_int_equal(ecr_repository_open(&r, reg, name), ECR_EREPOSITORY_NOT_FOUND);
}

/* --- cases --- */

static void test_replication_replicator__options(void **state)
{
	(void)state;
	ecr_replicator_options o;
	ecr_replicator *r = NULL;
	assert_int_equal(ecr_replicator_options_init(&o, 99), ECR_EINVALID);
	assert_ok(ecr_replicator_options_init(&o, ECR_REPLICATOR_OPTIONS_VERSION));
	assert_int_equal(ecr_replicator_new(&r, &o), ECR_EINVALID); /* no destination callback */
	assert_null(r);
}

static void test_replication_replicator__cross_region_tags(void **state)
{
	fixture *f = *state;
	th_image img;
	ecr_repository *src = repo_create(f->a, "team/app");
	configure(f->a, REGION_B, ACCT_A, "team");
	start(f, 0);
	push_random(f, src, &img, "v1");
	/* a second tag on the same image */
	assert_ok(ecr_image_put(NULL, src, "latest", img.digest, MT_MANIFEST, img.manifest, img.manifest_len, 0));
	drain(f);
	ecr_repository *dst = open_repo(f->a2, "team/app"); /* created by the replicator */
	if (th_image_verify_exact(dst, &img))
		fail_msg("verify: %s", th_problem());
	expect_tag(dst, "v1", img.digest);
	expect_tag(dst, "latest", img.digest);
	expect_complete(src, img.digest, REGION_B, ACCT_A);
	/* a repository the filter does not select does not replicate */
	th_image other;
	ecr_repository *o = repo_create(f->a, "misc");
	push_random(f, o, &other, "x");
	drain(f);
	expect_no_repo(f->a2, "misc");
	assert_int_equal(status_of(o, other.digest).n, 0);
	ecr_repository_free(o);
	ecr_repository_free(dst);
	ecr_repository_free(src);
	th_image_dispose(&img);
	th_image_dispose(&other);
}

/* The threads of this process (/proc/self/task). */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* An idle replicator runs one worker (one thread, one metadata connection); the others start with the first job. */
static void test_replication_replicator__workers_start_with_work(void **state)
{
	fixture *f = *state;
	th_image img;
	int before = thread_count();
	ecr_repository *src = repo_create(f->a, "lazy/app");
	configure(f->a, REGION_B, ACCT_A, "lazy");
	start(f, 0); /* the default: 2 threads */
	assert_int_equal(thread_count(), before + 1);
	push_random(f, src, &img, "v1");
	drain(f);
	assert_int_equal(thread_count(), before + 2);
	expect_complete(src, img.digest, REGION_B, ACCT_A);
	ecr_repository_free(src);
	th_image_dispose(&img);
}

/* An index of three images, and a referrer of the index. */
static void test_replication_replicator__index_and_referrers(void **state)
{
	fixture *f = *state;
	th_image kids[3];
	char buf[4096], idx_digest[ECR__DIGEST_STRLEN_MAX], ref_digest[ECR__DIGEST_STRLEN_MAX];
	size_t n = 0;
	ecr_repository *src = repo_create(f->a, "multi");
	configure(f->a, REGION_B, ACCT_A, NULL);
	n += (size_t)snprintf(buf, sizeof(buf), "{\"schemaVersion\":2,\"mediaType\":\"" MT_INDEX "\",\"manifests\":[");
	for (int i = 0; i < 3; i++) {
		static const char *const arch[] = {"amd64", "arm64", "s390x"};
		push_random(f, src, &kids[i], NULL);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		                      "%s{\"mediaType\":\"" MT_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu,"
		                      "\"platform\":{\"architecture\":\"%s\",\"os\":\"linux\"}}",
		                      i ? "," : "", kids[i].digest, kids[i].manifest_len, arch[i]);
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "]}");
	assert_ok(ecr__digest_buf(idx_digest, sizeof(idx_digest), ECR__DIGEST_SHA256, buf, n));
	assert_ok(ecr_image_put(NULL, src, "multi", idx_digest, MT_INDEX, buf, n, 0));
	size_t idx_len = n;

	/* the referrer: an artifact whose subject is the index */
	th_blob sig;
	assert_ok(th_blob_random(&sig, &f->rng, 300));
	assert_ok(th_blob_push(src, &sig, 0));
	assert_ok(ecr_blob_put(src, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "{}", 2));
	n = (size_t)snprintf(buf, sizeof(buf),
	                     "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST
	                     "\",\"artifactType\":\"application/example.sig\","
	                     "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":"
	                     "\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},"
	                     "\"layers\":[{\"mediaType\":\"application/example.sig.v1\",\"digest\":\"%s\",\"size\":%zu}],"
	                     "\"subject\":{\"mediaType\":\"" MT_INDEX "\",\"digest\":\"%s\",\"size\":%zu}}",
	                     sig.digest, sig.len, idx_digest, idx_len);
	assert_ok(ecr__digest_buf(ref_digest, sizeof(ref_digest), ECR__DIGEST_SHA256, buf, n));

	/* the replicator starts after the referrer was pushed: the index's copy brings it along */
	assert_ok(ecr_image_put(NULL, src, NULL, ref_digest, MT_MANIFEST, buf, n, 0));
	start(f, 0);
	drain(f);
	ecr_repository *dst = open_repo(f->a2, "multi");
	expect_tag(dst, "multi", idx_digest);
	for (int i = 0; i < 3; i++) {
		if (th_image_verify_exact(dst, &kids[i]))
			fail_msg("child %d: %s", i, th_problem());
		th_image_dispose(&kids[i]);
	}
	expect_tag(dst, ref_digest, ref_digest);
	assert_ok(th_blob_verify(dst, sig.digest, sig.len));
	expect_complete(src, idx_digest, REGION_B, ACCT_A);
	th_blob_dispose(&sig);
	ecr_repository_free(dst);
	ecr_repository_free(src);
}

#define POLICY_FMT                                                                                                   \
	"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"repl\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"   \
	"\"arn:aws:iam::" ACCT_A ":root\"},\"Action\":[%s],\"Resource\":\"arn:aws:ecr:" REGION_B ":" ACCT_B            \
	":repository/*\"}]}"

static void set_b_policy(ecr_registry *b, const char *actions)
{
	char json[1024];
	snprintf(json, sizeof(json), POLICY_FMT, actions);
	if (ecr_registry_set_policy(b, json))
		fail_msg("policy: %s", ecr_error_last()->message);
}

static void test_replication_replicator__cross_account_policy(void **state)
{
	fixture *f = *state;
	th_image i1, i2, i3;
	ecr_repository *src = repo_create(f->a, "x/app");
	configure(f->a, REGION_B, ACCT_B, NULL);
	start(f, 0);

	/* no registry policy at the destination: denied for good */
	push_random(f, src, &i1, "one");
	drain(f);
	status_rec s = status_of(src, i1.digest);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.status, ECR_REPLICATION_FAILED);
	assert_non_null(strstr(s.reason, "is not authorized to perform: ecr:ReplicateImage"));
	expect_no_repo(f->b, "x/app");

	/* ReplicateImage alone: the missing repository may not be created */
	set_b_policy(f->b, "\"ecr:ReplicateImage\"");
	push_random(f, src, &i2, "two");
	drain(f);
	s = status_of(src, i2.digest);
	assert_int_equal(s.status, ECR_REPLICATION_FAILED);
	assert_non_null(strstr(s.reason, "ecr:CreateRepository"));
	expect_no_repo(f->b, "x/app");

	/* both: complete */
	set_b_policy(f->b, "\"ecr:ReplicateImage\",\"ecr:CreateRepository\"");
	push_random(f, src, &i3, "three");
	drain(f);
	expect_complete(src, i3.digest, REGION_B, ACCT_B);
	ecr_repository *dst = open_repo(f->b, "x/app");
	if (th_image_verify_exact(dst, &i3))
		fail_msg("verify: %s", th_problem());
	expect_tag(dst, "three", i3.digest);
	expect_no_image(dst, i1.digest);
	ecr_repository_free(dst);
	ecr_repository_free(src);
	th_image_dispose(&i1);
	th_image_dispose(&i2);
	th_image_dispose(&i3);
}

static void test_replication_replicator__retried_then_complete(void **state)
{
	fixture *f = *state;
	th_image img;
	ecr_repository *src = repo_create(f->a, "flaky");
	ecr_repository *pre = repo_create(f->a2, "flaky"); /* the destination repository exists already */
	configure(f->a, REGION_B, ACCT_A, NULL);
	f->fail_first = 3;
	start(f, 0);
	push_random(f, src, &img, "t");
	drain(f);
	assert_int_equal(f->calls, 4);
	expect_complete(src, img.digest, REGION_B, ACCT_A);
	if (th_image_verify_exact(pre, &img))
		fail_msg("verify: %s", th_problem());
	ecr_repository_free(pre);
	ecr_repository_free(src);
	th_image_dispose(&img);
}

static void test_replication_replicator__max_attempts(void **state)
{
	fixture *f = *state;
	th_image img;
	ecr_repository *src = repo_create(f->a, "never");
	configure(f->a, REGION_B, ACCT_A, NULL);
	f->fail_first = -1; /* always */
	start(f, 3);
	push_random(f, src, &img, "t");
	drain(f);
	assert_int_equal(f->calls, 3);
	status_rec s = status_of(src, img.digest);
	assert_int_equal(s.status, ECR_REPLICATION_FAILED);
	assert_non_null(strstr(s.reason, ACCT_A));
	assert_non_null(strstr(s.reason, REGION_B));
	expect_no_repo(f->a2, "never");
	ecr_repository_free(src);
	th_image_dispose(&img);
}

/* A configured back to A: the replica arriving in A2 is not queued again. */
static void test_replication_replicator__no_loops(void **state)
{
	fixture *f = *state;
	th_image img;
	int64_t pending = -1;
	ecr_repository *src = repo_create(f->a, "loop");
	configure(f->a, REGION_B, ACCT_A, NULL);
	configure(f->a2, REGION_A, ACCT_A, NULL);
	start(f, 0);
	assert_ok(ecr_replicator_attach(f->rep, f->a2));
	assert_ok(ecr_replicator_attach(f->rep, f->a2)); /* twice: no-op */
	push_random(f, src, &img, "t");
	drain(f);
	expect_complete(src, img.digest, REGION_B, ACCT_A);
	ecr_repository *dst = open_repo(f->a2, "loop");
	assert_int_equal(status_of(dst, img.digest).n, 0); /* never queued at A2 */
	assert_int_equal(f->calls, 1);
	assert_ok(ecr__repl_pending(&pending, f->a2));
	assert_int_equal(pending, 0);
	assert_ok(ecr_replicator_detach(f->rep, f->a2));
	assert_int_equal(ecr_replicator_detach(f->rep, f->a2), ECR_ENOTFOUND);
	ecr_repository_free(dst);
	ecr_repository_free(src);
	th_image_dispose(&img);
}

static void test_replication_replicator__deletes(void **state)
{
	fixture *f = *state;
	th_image kept, gone;
	ecr_repository *src = repo_create(f->a, "del");
	configure(f->a, REGION_B, ACCT_A, NULL);
	start(f, 0);
	push_random(f, src, &kept, "kept");
	drain(f);
	/* a delete at the source does not reach the destination */
	assert_ok(ecr_image_delete(src, kept.digest));
	drain(f);
	ecr_repository *dst = open_repo(f->a2, "del");
	expect_tag(dst, "kept", kept.digest);

	/* an image deleted before it was replicated fails for good */
	assert_ok(ecr_replicator_detach(f->rep, f->a));
	push_random(f, src, &gone, "gone");
	assert_ok(ecr_image_delete(src, gone.digest));
	int calls = f->calls;
	assert_ok(ecr_replicator_attach(f->rep, f->a));
	drain(f);
	expect_no_image(dst, gone.digest);
	assert_int_equal(f->calls, calls); /* failed for good at the first attempt, before the destination */
	ecr_repository_free(dst);
	ecr_repository_free(src);
	th_image_dispose(&kept);
	th_image_dispose(&gone);
}

static void test_replication_replicator__attach_errors(void **state)
{
	fixture *f = *state;
	ecr_replicator *other = NULL;
	ecr_replicator_options o = ECR_REPLICATOR_OPTIONS_INIT;
	start(f, 0);
	o.destination_cb = destination;
	o.destination_payload = f;
	assert_ok(ecr_replicator_new(&other, &o));
	assert_int_equal(ecr_replicator_attach(other, f->a), ECR_EBUSY);
	assert_ok(ecr_replicator_attach(other, f->b));
	assert_int_equal(ecr_replicator_drain(other, 1000), 0); /* nothing queued */
	ecr_replicator_free(other);
	/* freeing it let go of b */
	assert_ok(ecr_replicator_attach(f->rep, f->b));
}

/* --- one storage, several accounts: the queue of the whole storage --- */

typedef struct store_fixture {
	char url[600];
	ecr_registry *s1;  /* ACCT_A in REGION_A of the store: the attached one */
	ecr_registry *s2;  /* ACCT_B in REGION_A of the store: opened by the resolver when asked */
	ecr_registry *dst; /* ACCT_B in REGION_B: memory */
	ecr_registry *foreign; /* ACCT_B in REGION_A of ANOTHER storage, returned when wrong is set */
	bool wrong;
	pthread_mutex_t lock;
	int source_calls; /* asked for (REGION_A, ACCT_B): a source (nothing replicates to it) */
} store_fixture;

static ecr_registry *open_store(const char *url, const char *account, const char *region)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *r = NULL;
	o.account_id = account;
	o.region = region;
	if (ecr_registry_open(&r, url, &o))
		fail_msg("open %s %s %s: %s", url, account, region, ecr_error_last()->message);
	return r;
}

static int store_resolver(ecr_registry **out, const char *region, const char *registry_id, void *payload)
{
	store_fixture *f = payload;
	int rc = 0;
	*out = NULL;
	pthread_mutex_lock(&f->lock);
	if (strcmp(registry_id, ACCT_A) == 0 && strcmp(region, REGION_A) == 0) {
		*out = f->s1;
	} else if (strcmp(registry_id, ACCT_B) == 0 && strcmp(region, REGION_A) == 0) {
		f->source_calls++;
		if (f->wrong) {
			*out = f->foreign;
		} else {
			ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
			o.account_id = ACCT_B;
			o.region = REGION_A;
			if (!f->s2)
				rc = ecr_registry_open(&f->s2, f->url, &o);
			*out = f->s2;
		}
	} else if (strcmp(registry_id, ACCT_B) == 0 && strcmp(region, REGION_B) == 0) {
		*out = f->dst;
	}
	pthread_mutex_unlock(&f->lock);
	return rc ? rc : *out ? 0 : ECR_ENOTFOUND;
}

/*
 * Jobs queued in a registry of the storage that is not attached (not even
 * open: pushed by an earlier process) are completed by a replicator attached
 * to another account's registry of the storage, their source resolved through
 * the callback; attaching the second registry too is harmless; a resolver
 * that gives a registry of another storage for the source fails the job.
 */
static void test_replication_replicator__store_wide_queue(void **state)
{
	(void)state;
	store_fixture f;
	th_image img, img2, img3;
	uint64_t rng = 0x5703e0u + (uint64_t)time(NULL);
	size_t sizes[] = {4000, 50000};
	ecr_replicator *rep = NULL;
	ecr_replicator_options o;
	char *dir = th_tmpdir(), *dir2 = th_tmpdir(), url2[600];
	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	snprintf(f.url, sizeof(f.url), "file://%s", dir);
	snprintf(url2, sizeof(url2), "file://%s", dir2);

	/* an earlier process: ACCT_B's registry replicates to ACCT_B in REGION_B; a push queues a job; closed */
	ecr_registry *b = open_store(f.url, ACCT_B, REGION_A);
	configure(b, REGION_B, ACCT_B, NULL);
	ecr_repository *src = repo_create(b, "svc/api");
	assert_ok(th_image_random(&img, &rng, 2, sizes));
	if (th_image_push(src, &img, "v1", 1 << 20))
		fail_msg("push: %s", th_problem());
	ecr_repository_free(src);
	ecr_registry_free(b);

	/* this process: only ACCT_A's registry is open and attached */
	f.s1 = open_store(f.url, ACCT_A, REGION_A);
	f.dst = open_mem(ACCT_B, REGION_B);
	f.foreign = open_store(url2, ACCT_B, REGION_A);
	assert_ok(ecr_replicator_options_init(&o, ECR_REPLICATOR_OPTIONS_VERSION));
	o.destination_cb = store_resolver;
	o.destination_payload = &f;
	o.retry_base_ms = 5;
	o.poll_ms = 50;
	o.max_attempts = 1;
	assert_ok(ecr_replicator_new(&rep, &o));
	assert_ok(ecr_replicator_attach(rep, f.s1));
	int rc = ecr_replicator_drain(rep, DRAIN_MS); /* counts the whole storage's jobs */
	if (rc)
		fail_msg("drain: %s", ecr_error_last()->message);
	assert_true(f.source_calls >= 1);
	assert_non_null(f.s2);
	ecr_repository *dst = open_repo(f.dst, "svc/api");
	if (th_image_verify_exact(dst, &img))
		fail_msg("verify: %s", th_problem());
	expect_tag(dst, "v1", img.digest);
	src = open_repo(f.s2, "svc/api");
	expect_complete(src, img.digest, REGION_B, ACCT_B);
	/* ACCT_A's registry queued nothing and has no such repository */
	expect_no_repo(f.s1, "svc/api");

	/* the second registry attached too: harmless, its pushes replicate once */
	assert_ok(ecr_replicator_attach(rep, f.s2));
	assert_ok(th_image_random(&img2, &rng, 2, sizes));
	if (th_image_push(src, &img2, "v2", 1 << 20))
		fail_msg("push: %s", th_problem());
	rc = ecr_replicator_drain(rep, DRAIN_MS);
	if (rc)
		fail_msg("drain: %s", ecr_error_last()->message);
	if (th_image_verify_exact(dst, &img2))
		fail_msg("verify: %s", th_problem());
	expect_tag(dst, "v2", img2.digest);
	expect_complete(src, img2.digest, REGION_B, ACCT_B);
	assert_ok(ecr_replicator_detach(rep, f.s2));

	/* a resolver giving a registry of another storage for the source: the job fails, nothing is copied */
	pthread_mutex_lock(&f.lock);
	f.wrong = true;
	pthread_mutex_unlock(&f.lock);
	assert_ok(th_image_random(&img3, &rng, 1, NULL));
	if (th_image_push(src, &img3, "v3", 0))
		fail_msg("push: %s", th_problem());
	rc = ecr_replicator_drain(rep, DRAIN_MS);
	if (rc)
		fail_msg("drain: %s", ecr_error_last()->message);
	status_rec st = status_of(src, img3.digest);
	assert_int_equal(st.n, 1);
	assert_int_equal(st.status, ECR_REPLICATION_FAILED);
	assert_non_null(strstr(st.reason, "not that registry of this storage"));
	expect_no_image(dst, img3.digest);

	ecr_replicator_free(rep);
	ecr_repository_free(dst);
	ecr_repository_free(src);
	ecr_registry_free(f.s2);
	ecr_registry_free(f.s1);
	ecr_registry_free(f.foreign);
	ecr_registry_free(f.dst);
	pthread_mutex_destroy(&f.lock);
	th_image_dispose(&img);
	th_image_dispose(&img2);
	th_image_dispose(&img3);
	th_rmtree(dir);
	th_rmtree(dir2);
}

/* --- a remote destination: an in-process server serving ACCT_B's registry --- */

#define ADMIN_ARN "arn:aws:iam::" ACCT_B ":user/admin"

static void test_replication_replicator__remote_destination(void **state)
{
	fixture *f = *state;
	ecr_principal *p = NULL;
	ecr_buf key = ECR_BUF_INIT, secret = ECR_BUF_INIT;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server *srv = NULL;
	char url[64];
	th_image img;

	assert_ok(ecr_principal_create(&p, f->b, ADMIN_ARN, ECR_PRINCIPAL_ADMIN));
	assert_ok(ecr_principal_access_key_create(&key, &secret, p));
	ecr_principal_free(p);
	assert_ok(ecr_server_new(&srv, &so));
	assert_ok(ecr_server_add_registry(srv, f->b, NULL));
	assert_ok(ecr_server_start(srv));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ecr_server_port(srv));
	ro.access_key_id = key.ptr;
	ro.secret_access_key = secret.ptr;
	ro.account_id = ACCT_B;
	ro.region = REGION_B;
	ro.remote_flags = ECR_REMOTE_NO_RETRY;
	if (ecr_registry_open(&f->remote, url, &ro)) {
		print_message("# no HTTP transport: %s\n", ecr_error_last()->message);
		ecr_buf_dispose(&key);
		ecr_buf_dispose(&secret);
		ecr_server_free(srv);
		skip();
	}
	set_b_policy(f->b, "\"ecr:ReplicateImage\",\"ecr:CreateRepository\"");
	ecr_repository *src = repo_create(f->a, "far/app");
	configure(f->a, REGION_B, ACCT_B, NULL);
	start(f, 0);
	push_random(f, src, &img, "v9");
	assert_ok(ecr_image_put(NULL, src, "stable", img.digest, MT_MANIFEST, img.manifest, img.manifest_len, 0));
	drain(f);
	expect_complete(src, img.digest, REGION_B, ACCT_B);
	ecr_repository *dst = open_repo(f->b, "far/app"); /* through the server's own registry */
	if (th_image_verify_exact(dst, &img))
		fail_msg("verify: %s", th_problem());
	expect_tag(dst, "v9", img.digest);
	expect_tag(dst, "stable", img.digest);
	ecr_repository_free(dst);
	ecr_repository_free(src);
	ecr_replicator_free(f->rep);
	f->rep = NULL;
	ecr_registry_free(f->remote);
	f->remote = NULL;
	assert_ok(ecr_server_stop(srv));
	ecr_server_free(srv);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&secret);
	th_image_dispose(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replication_replicator__options),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__cross_region_tags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__index_and_referrers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__cross_account_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__retried_then_complete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__max_attempts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__no_loops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__deletes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__attach_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__remote_destination, setup, teardown),
	    cmocka_unit_test(test_replication_replicator__store_wide_queue),
	    cmocka_unit_test_setup_teardown(test_replication_replicator__workers_start_with_work, setup, teardown),
	};
	return cmocka_run_group_tests_name("replication/replicator", tests, NULL, NULL);
}
