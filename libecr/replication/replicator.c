/*
 * The replicator (ecr/replication.h): worker threads that work the durable
 * replication queues (libecr/engine/replication_queue.h) of the registries
 * attached to it, copying each queued image to its destination registry with
 * ecr_image_copy() (manifests, index children, blobs, referrers).
 *
 * A worker claims the next due job of each attached registry's store in turn
 * (every registry of the store: all accounts and regions of its data folder,
 * attached or not; several attached registries of one store are one queue; a
 * 60 s lease, renewed every 20 s from the copy's progress reports), and
 * sleeps until the earliest next due job, poll_ms, or a push to an attached
 * registry that queued jobs (reg->repl_wake) when none is due.
 *
 * A job's source is the registry of its row (account, region): the attached
 * registry when it is that one, else the registry destination_cb gives for
 * (region, account), which must be a local registry of the same store.
 *
 * Outcomes: success completes the job; a failure that may pass (destination
 * unknown or unreachable, storage) queues it again after a jittered backoff
 * (retry_base_ms doubled per attempt, at most 10 minutes) until max_attempts;
 * a failure that cannot pass (source image or repository deleted, denied by
 * the destination's registry policy, an immutable tag) fails it for good.
 *
 * Stopping: ecr_replicator_free() stops a running copy at its next progress
 * report and queues its job again at once (not final; the interrupted
 * attempt counts as one). A process that dies instead leaves the job running
 * with its lease: whoever attaches a registry of the store next claims it
 * again once the lease has run out. Copies are idempotent (blobs present are skipped,
 * putting the same manifest again changes nothing), so a job done twice
 * leaves one image.
 */
#include "../core/core.h"
#include "../core/logging.h"
#include "../core/timeutil.h"
#include "../core/crypto.h"
#include "../engine/replication_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#define LEASE_MS 60000
#define RENEW_MS 20000
#define MAX_BACKOFF_MS 600000
#define MAX_THREADS 64
#define DEFAULT_THREADS 2
#define DEFAULT_ATTEMPTS 8
#define DEFAULT_RETRY_BASE_MS 2000
#define DEFAULT_POLL_MS 1000
#define REASON_MAX 1024
#define ARN_MAX 512

typedef struct attachment {
	ecr_registry *reg;
	unsigned int users; /* workers and drains using reg now */
} attachment;

struct ecr_replicator {
	ecr_replication_destination_cb destination_cb;
	void *destination_payload;
	unsigned int max_attempts;
	uint32_t retry_base_ms;
	uint32_t poll_ms;

	pthread_mutex_t lock;
	pthread_cond_t work; /* jobs were queued, a registry was attached, or stopping */
	pthread_cond_t idle; /* a worker let go of a registry */
	pthread_t *threads;
	unsigned int nthreads, started;
	bool stopping;
	uint64_t wake_seq;
	attachment **atts;
	size_t natts, atts_cap;
	size_t rr; /* where the next round of claims starts */
};

/* What became of a job. */
enum outcome { JOB_DONE, JOB_RETRY, JOB_FINAL, JOB_STOPPED, JOB_LOST };

static bool is_stopping(ecr_replicator *r)
{
	return __atomic_load_n(&r->stopping, __ATOMIC_ACQUIRE);
}

static void wake(void *payload)
{
	ecr_replicator *r = payload;
	pthread_mutex_lock(&r->lock);
	r->wake_seq++;
	pthread_cond_broadcast(&r->work);
	pthread_mutex_unlock(&r->lock);
}

/* The current error's message into reason, else the fallback. */
static void reason_from_error(char *reason, const char *fallback)
{
	const ecr_error *e = ecr_error_last();
	bool set = e && e->code != 0 && e->message && e->message[0];
	snprintf(reason, REASON_MAX, "%s", set ? e->message : fallback);
}

/* Is the source account's root allowed action on resource by the destination's registry policy? */
static bool policy_allows(const ecr_policy *pol, const char *account, const char *action, const char *resource)
{
	ecr_policy_request req = ECR_POLICY_REQUEST_INIT;
	ecr_policy_decision d = ECR_POLICY_NOT_APPLICABLE;
	char principal[64];
	if (!pol)
		return false;
	snprintf(principal, sizeof(principal), "arn:aws:iam::%s:root", account);
	req.principal_arn = principal;
	req.principal_account = account;
	req.action = action;
	req.resource = resource;
	return ecr_policy_evaluate(&d, pol, &req) == 0 && d == ECR_POLICY_ALLOW;
}

static void denied(char *reason, const char *account, const char *action, const char *resource)
{
	snprintf(reason, REASON_MAX,
	         "arn:aws:iam::%s:root is not authorized to perform: %s on resource: %s because no registry policy "
	         "of the destination allows the %s action",
	         account, action, resource, action);
}

typedef struct copy_ctx {
	ecr_replicator *r;
	ecr_registry *reg; /* the attached registry whose store holds the job */
	const ecr__repl_job *job;
	int64_t last_renew;
	bool lost;
} copy_ctx;

static int copy_progress(const ecr_copy_progress *p, void *payload)
{
	copy_ctx *c = payload;
	(void)p;
	if (is_stopping(c->r))
		return ECR_EUSER;
	int64_t now = ecr__time_monotonic_ms();
	if (now - c->last_renew >= RENEW_MS) {
		c->last_renew = now;
		if (ecr__repl_renew(c->reg, c->job, LEASE_MS) == ECR_ENOTFOUND) {
			c->lost = true; /* another worker claimed it after our lease ran out */
			return ECR_EUSER;
		}
		ecr__error_clear();
	}
	return 0;
}

/* Open the destination repository, creating it (with the destination's templates) when missing. */
static enum outcome open_destination(ecr_repository **out, ecr_registry *dest, const ecr__repl_job *job,
                                     const ecr_policy *pol, bool cross, const char *src_account,
                                     const char *arn, char *reason)
{
	int rc = ecr_repository_open(out, dest, job->repository);
	if (rc == ECR_EREPOSITORY_NOT_FOUND) {
		if (cross && !policy_allows(pol, src_account, "ecr:CreateRepository", arn)) {
			denied(reason, src_account, "ecr:CreateRepository", arn);
			return JOB_FINAL;
		}
		rc = ecr_repository_create_templated(out, dest, job->repository, ECR_TEMPLATE_REPLICATION);
		if (rc == ECR_ENOTSUPPORTED) /* a destination without creation templates */
			rc = ecr_repository_create(out, dest, job->repository, NULL);
		if (rc == ECR_EREPOSITORY_EXISTS) /* created meanwhile by someone else */
			rc = ecr_repository_open(out, dest, job->repository);
	}
	if (rc) {
		reason_from_error(reason, "cannot open the destination repository");
		return JOB_RETRY;
	}
	return JOB_DONE;
}

/*
 * The job's source registry (borrowed): reg itself when the job is its, else
 * the one destination_cb resolves, a local registry of reg's store.
 */
static int resolve_source(ecr_registry **out, ecr_replicator *r, ecr_registry *reg, const ecr__repl_job *job,
                          char *reason)
{
	ecr_registry *src = NULL;
	*out = NULL;
	if (!job->src_account_id || !job->src_region ||
	    (strcmp(job->src_account_id, reg->account_id) == 0 && strcmp(job->src_region, reg->region) == 0)) {
		*out = reg;
		return 0;
	}
	ecr__error_clear();
	int rc = r->destination_cb(&src, job->src_region, job->src_account_id, r->destination_payload);
	if (rc || !src) {
		char fallback[160];
		snprintf(fallback, sizeof(fallback), "no registry is known for the source account %s in %s",
		         job->src_account_id, job->src_region);
		reason_from_error(reason, fallback);
		return rc ? rc : ECR_ENOTFOUND;
	}
	if (src->store != reg->store || strcmp(src->account_id, job->src_account_id) != 0 ||
	    strcmp(src->region, job->src_region) != 0) {
		snprintf(reason, REASON_MAX,
		         "the registry given for the source account %s in %s is not that registry of this storage",
		         job->src_account_id, job->src_region);
		return ECR_EINVALID;
	}
	*out = src;
	return 0;
}

static enum outcome run_job(ecr_replicator *r, ecr_registry *reg, const ecr__repl_job *job, char *reason)
{
	ecr_registry *src = NULL, *dest = NULL;
	ecr_repository *src_repo = NULL, *dst_repo = NULL;
	ecr_image *img = NULL;
	ecr_policy *pol = NULL;
	ecr_buf polbuf = ECR_BUF_INIT;
	const char **live = NULL;
	size_t nlive = 0;
	char arn[ARN_MAX];
	const char *src_account = NULL;
	enum outcome res = JOB_RETRY;
	int rc;

	if (resolve_source(&src, r, reg, job, reason))
		goto done;
	src_account = ecr_registry_account_id(src);
	/* The source: deletes do not replicate, so an image gone before it was copied fails for good. */
	rc = ecr_repository_open(&src_repo, src, job->repository);
	if (rc == ECR_EREPOSITORY_NOT_FOUND) {
		snprintf(reason, REASON_MAX, "The source repository %s was deleted before the image was replicated",
		         job->repository);
		res = JOB_FINAL;
		goto done;
	}
	if (rc) {
		reason_from_error(reason, "cannot open the source repository");
		goto done;
	}
	rc = ecr_image_get(&img, src_repo, job->digest, 0);
	if (rc == ECR_EIMAGE_NOT_FOUND || rc == ECR_EIMAGE_ARCHIVED) {
		snprintf(reason, REASON_MAX, "The image %s was %s before it was replicated", job->digest,
		         rc == ECR_EIMAGE_NOT_FOUND ? "deleted" : "archived");
		res = JOB_FINAL;
		goto done;
	}
	if (rc) {
		reason_from_error(reason, "cannot read the source image");
		goto done;
	}

	/* The destination (borrowed). */
	ecr__error_clear();
	rc = r->destination_cb(&dest, job->dest_region, job->dest_registry_id, r->destination_payload);
	if (rc || !dest) {
		char fallback[160];
		snprintf(fallback, sizeof(fallback), "no registry is known for account %s in %s", job->dest_registry_id,
		         job->dest_region);
		reason_from_error(reason, fallback);
		goto done;
	}

	/* A cross-account destination must allow it in its registry policy. */
	bool cross = strcmp(src_account, job->dest_registry_id) != 0;
	snprintf(arn, sizeof(arn), "arn:aws:ecr:%s:%s:repository/%s", job->dest_region, job->dest_registry_id,
	         job->repository);
	if (cross) {
		rc = ecr_registry_policy(&polbuf, dest);
		if (rc == 0 && ecr_policy_parse(&pol, polbuf.ptr ? polbuf.ptr : "", polbuf.size, ECR_POLICY_RESOURCE))
			pol = NULL; /* a policy that does not parse allows nothing */
		if (rc && rc != ECR_EREGISTRY_POLICY_NOT_FOUND) {
			reason_from_error(reason, "cannot read the destination's registry policy");
			goto done;
		}
		if (!policy_allows(pol, src_account, "ecr:ReplicateImage", arn)) {
			denied(reason, src_account, "ecr:ReplicateImage", arn);
			res = JOB_FINAL;
			goto done;
		}
	}
	if ((res = open_destination(&dst_repo, dest, job, pol, cross, src_account, arn, reason)) != JOB_DONE)
		goto done;
	res = JOB_RETRY;

	/* The tags that still name the image at the source (a tag moved since is the later job's). */
	if (job->tags_count && !(live = ecr__calloc(job->tags_count, sizeof(*live)))) {
		reason_from_error(reason, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < job->tags_count; i++) {
		ecr_image *t = NULL;
		if (ecr_image_get(&t, src_repo, job->tags[i], ECR_IMAGE_GET_ANY_STATUS) == 0 &&
		    strcmp(ecr_image_digest(t), ecr_image_digest(img)) == 0)
			live[nlive++] = job->tags[i];
		ecr_image_free(t);
	}
	ecr__error_clear();

	ecr_copy_options co = ECR_COPY_OPTIONS_INIT;
	copy_ctx cc = {r, reg, job, ecr__time_monotonic_ms(), false};
	co.flags = ECR_COPY_REFERRERS | ECR_COPY_REPLICA;
	co.progress_cb = copy_progress;
	co.progress_payload = &cc;
	rc = ecr_image_copy(NULL, dst_repo, nlive ? live[0] : NULL, src_repo, job->digest, &co);
	if (rc == ECR_EUSER && (cc.lost || is_stopping(r))) {
		res = cc.lost ? JOB_LOST : JOB_STOPPED;
		snprintf(reason, REASON_MAX, "interrupted: the replicator stopped");
		goto done;
	}
	if (rc) {
		reason_from_error(reason, "the copy failed");
		if (rc == ECR_EIMMUTABLE)
			res = JOB_FINAL; /* the destination's tag is immutable and names another image */
		goto done;
	}
	const void *manifest = NULL;
	size_t len = 0;
	if (nlive > 1 && (rc = ecr_image_manifest(&manifest, &len, img))) {
		reason_from_error(reason, "cannot read the source manifest");
		goto done;
	}
	for (size_t i = 1; i < nlive; i++) {
		rc = ecr_image_put(NULL, dst_repo, live[i], ecr_image_digest(img), ecr_image_media_type(img), manifest,
		                   len, ECR_IMAGE_PUT_REPLICA);
		if (rc) {
			reason_from_error(reason, "cannot tag the replicated image");
			if (rc == ECR_EIMMUTABLE)
				res = JOB_FINAL;
			goto done;
		}
	}
	res = JOB_DONE;
done:
	ecr__free(live);
	ecr_policy_free(pol);
	ecr_buf_dispose(&polbuf);
	ecr_image_free(img);
	ecr_repository_free(dst_repo);
	ecr_repository_free(src_repo);
	return res;
}

/* The delay before attempt attempts + 1: base * 2^attempts, at most 10 minutes, jittered in [d/2, d]. */
static int64_t backoff_ms(const ecr_replicator *r, int attempts)
{
	int64_t d = r->retry_base_ms;
	for (int i = 0; i < attempts && d < MAX_BACKOFF_MS; i++)
		d *= 2;
	if (d > MAX_BACKOFF_MS)
		d = MAX_BACKOFF_MS;
	uint32_t rnd = 0;
	if (ecr__random_bytes(&rnd, sizeof(rnd)))
		rnd = 0;
	int64_t half = d / 2;
	return half + (half > 0 ? (int64_t)(rnd % (uint64_t)(half + 1)) : 0);
}

/* The "ECR Replication Action" event (events.c): in the destination's account and region, after the outcome was
 * recorded, outside any lock. */
static void raise_replication(ecr_registry *reg, const ecr__repl_job *job, bool ok, const char *reason)
{
	ecr_event ev = { .type = ECR_EVENT_REPLICATION, .repository = job->repository, .digest = job->digest };
	ev.account_id = job->dest_registry_id;
	ev.region = job->dest_region;
	ev.source_account_id = job->src_account_id ? job->src_account_id : reg->account_id;
	ev.source_region = job->src_region ? job->src_region : reg->region;
	ev.tags = (const char *const *)job->tags;
	ev.tags_count = job->tags_count;
	ev.result = ok ? ECR_EVENT_SUCCESS : ECR_EVENT_FAILURE;
	ev.reason = ok ? NULL : reason;
	ecr__event_emit(reg, &ev);
}

static void process(ecr_replicator *r, ecr_registry *reg, const ecr__repl_job *job)
{
	char reason[REASON_MAX] = "";
	enum outcome res = run_job(r, reg, job, reason);
	int rc = 0;
	switch (res) {
	case JOB_DONE:
		rc = ecr__repl_complete(reg, job);
		if (rc == 0)
			raise_replication(reg, job, true, NULL);
		if (rc == 0)
			ecr__log(&reg->log, ECR_LOG_INFO, "replication: %s@%s to account %s in %s: complete",
			         job->repository, job->digest, job->dest_registry_id, job->dest_region);
		else if (rc == ECR_ENOTFOUND) /* copied, but the claim is someone else's now: its outcome counts */
			ecr__log(&reg->log, ECR_LOG_WARN,
			         "replication: %s@%s to account %s in %s: copied, but the claim was lost (the lease ran out "
			         "and another worker claimed the job, or the image was queued again): outcome not recorded",
			         job->repository, job->digest, job->dest_registry_id, job->dest_region);
		break;
	case JOB_STOPPED:
		rc = ecr__repl_fail(reg, job, reason, ecr_registry_now(reg), false);
		break;
	case JOB_LOST:
		ecr__log(&reg->log, ECR_LOG_WARN,
		         "replication: %s@%s to account %s in %s: stopped, the claim was lost (the lease ran out and "
		         "another worker claimed the job)",
		         job->repository, job->digest, job->dest_registry_id, job->dest_region);
		break;
	case JOB_RETRY:
	case JOB_FINAL: {
		bool final = res == JOB_FINAL || (unsigned int)job->attempts + 1 >= r->max_attempts;
		int64_t next = ecr_registry_now(reg) + (final ? 0 : backoff_ms(r, job->attempts));
		rc = ecr__repl_fail(reg, job, reason, next, final);
		if (rc == 0 && final)
			raise_replication(reg, job, false, reason);
		ecr__log(&reg->log, final ? ECR_LOG_ERROR : ECR_LOG_WARN,
		         "replication: %s@%s to account %s in %s: attempt %d failed%s: %s", job->repository, job->digest,
		         job->dest_registry_id, job->dest_region, job->attempts + 1,
		         rc == ECR_ENOTFOUND ? " (not recorded: the claim was lost)"
		                             : final ? " for good" : ", will retry",
		         reason);
		break;
	}
	}
	if (rc && rc != ECR_ENOTFOUND)
		ecr__log(&reg->log, ECR_LOG_ERROR, "replication: cannot record the outcome of job %" PRId64 ": %s",
		         job->id, ecr_error_last()->message);
	ecr__error_clear();
}

/* Whether a is the first attachment of its store (lock held): the one that works the store's queue. */
static bool store_first(const ecr_replicator *r, const attachment *a)
{
	for (size_t i = 0; i < r->natts && r->atts[i] != a; i++)
		if (r->atts[i]->reg->store == a->reg->store)
			return false;
	return true;
}

static int start_locked(ecr_replicator *r, unsigned int n);

static void *worker(void *arg)
{
	ecr_replicator *r = arg;
	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		uint64_t seq = r->wake_seq;
		int64_t wait_ms = r->poll_ms;
		bool did = false;
		size_t n = r->natts, start = r->rr++;
		for (size_t k = 0; k < n && !r->stopping && r->natts; k++) {
			attachment *a = r->atts[(start + k) % r->natts];
			ecr__repl_job job;
			int64_t next_due = 0;
			if (!store_first(r, a))
				continue; /* the queue of the store of an earlier attachment */
			a->users++;
			pthread_mutex_unlock(&r->lock);
			memset(&job, 0, sizeof(job));
			int rc = ecr__repl_claim_store(&job, &next_due, a->reg, LEASE_MS);
			if (rc == 0) {
				process(r, a->reg, &job);
				did = true;
			} else if (rc == ECR_ITEROVER) {
				if (next_due > 0) {
					int64_t d = next_due - ecr_registry_now(a->reg);
					if (d < wait_ms)
						wait_ms = d < 1 ? 1 : d;
				}
			} else {
				ecr__log(&a->reg->log, ECR_LOG_WARN, "replication: cannot claim a job: %s",
				         ecr_error_last()->message);
			}
			ecr__repl_job_dispose(&job);
			ecr__error_clear();
			pthread_mutex_lock(&r->lock);
			a->users--;
			pthread_cond_broadcast(&r->idle);
			if (did && r->started < r->nthreads && !r->stopping && start_locked(r, r->nthreads) < 0)
				ecr__error_clear(); /* no thread: the ones running do the work */
			if (did)
				break;
		}
		if (did || r->stopping || seq != r->wake_seq)
			continue;
		struct timespec deadline;
		ecr__time_deadline(&deadline, CLOCK_REALTIME, wait_ms);
		pthread_cond_timedwait(&r->work, &r->lock, &deadline);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int ecr_replicator_options_init(ecr_replicator_options *opts, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_REPLICATOR_OPTIONS_VERSION, "ecr_replicator_options");
	if (rc)
		return rc;
	if (!opts)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no options");
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

int ecr_replicator_new(ecr_replicator **out, const ecr_replicator_options *opts)
{
	ecr_replicator *r;
	int rc;
	if (!out || !opts)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no replicator or options");
	*out = NULL;
	if ((rc = ecr__check_version(opts->version, ECR_REPLICATOR_OPTIONS_VERSION, "ecr_replicator_options")))
		return rc;
	if (!opts->destination_cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "a replicator needs a destination callback");
	if (opts->threads > MAX_THREADS)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "at most %d replicator threads", MAX_THREADS);
	if (!(r = ecr__calloc(1, sizeof(*r))))
		return ECR_ENOMEM;
	r->destination_cb = opts->destination_cb;
	r->destination_payload = opts->destination_payload;
	r->nthreads = opts->threads ? opts->threads : DEFAULT_THREADS;
	r->max_attempts = opts->max_attempts ? opts->max_attempts : DEFAULT_ATTEMPTS;
	r->retry_base_ms = opts->retry_base_ms ? opts->retry_base_ms : DEFAULT_RETRY_BASE_MS;
	r->poll_ms = opts->poll_ms ? opts->poll_ms : DEFAULT_POLL_MS;
	if (!(r->threads = ecr__calloc(r->nthreads, sizeof(*r->threads)))) {
		ecr__free(r);
		return ECR_ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->work, NULL);
	pthread_cond_init(&r->idle, NULL);
	*out = r;
	return 0;
}

/* Start worker threads up to n (lock held). */
static int start_locked(ecr_replicator *r, unsigned int n)
{
	if (n > r->nthreads)
		n = r->nthreads;
	for (; r->started < n; r->started++) {
		int err = pthread_create(&r->threads[r->started], NULL, worker, r);
		if (err) {
			if (r->started)
				break; /* fewer threads than asked: still working */
			return ecr__fail_os(ECR_ERROR, err, "cannot start a replicator thread");
		}
	}
	return 0;
}

int ecr_replicator_attach(ecr_replicator *r, ecr_registry *reg)
{
	int rc = 0;
	if (!r || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no replicator or registry");
	if (reg->remote || !reg->store)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INVALID,
		                 "Attaching a replicator is not supported on a remote registry: it runs on the "
		                 "registry's own host");
	pthread_mutex_lock(&r->lock);
	void *current = __atomic_load_n(&reg->replicator, __ATOMIC_ACQUIRE);
	if (current == (void *)r)
		goto done;
	if (current) {
		rc = ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the registry is attached to another replicator");
		goto done;
	}
	if (r->stopping) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "the replicator is stopping");
		goto done;
	}
	if (r->natts == r->atts_cap) {
		size_t cap = r->atts_cap ? r->atts_cap * 2 : 4;
		attachment **v = ecr__realloc(r->atts, cap * sizeof(*v));
		if (!v) {
			rc = ECR_ENOMEM;
			goto done;
		}
		r->atts = v;
		r->atts_cap = cap;
	}
	attachment *a = ecr__calloc(1, sizeof(*a));
	if (!a) {
		rc = ECR_ENOMEM;
		goto done;
	}
	/* One worker until there is work: the others (a thread and a metadata connection each) start when it claims a
	 * job, so an idle process does not carry them. */
	if ((rc = start_locked(r, 1))) {
		ecr__free(a);
		goto done;
	}
	a->reg = reg;
	r->atts[r->natts++] = a;
	__atomic_store_n(&reg->replicator, (void *)r, __ATOMIC_RELEASE);
	__atomic_store_n(&reg->repl_wake, wake, __ATOMIC_RELEASE);
	r->wake_seq++; /* jobs left by an earlier process are due now */
	pthread_cond_broadcast(&r->work);
done:
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int ecr_replicator_detach(ecr_replicator *r, ecr_registry *reg)
{
	if (!r || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no replicator or registry");
	pthread_mutex_lock(&r->lock);
	size_t i = 0;
	for (; i < r->natts && r->atts[i]->reg != reg; i++)
		;
	if (i == r->natts) {
		pthread_mutex_unlock(&r->lock);
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_INVALID, "the registry is not attached to this replicator");
	}
	attachment *a = r->atts[i];
	memmove(&r->atts[i], &r->atts[i + 1], (r->natts - i - 1) * sizeof(*r->atts));
	r->natts--;
	__atomic_store_n(&reg->repl_wake, (void (*)(void *))NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&reg->replicator, NULL, __ATOMIC_RELEASE);
	while (a->users)
		pthread_cond_wait(&r->idle, &r->lock);
	pthread_mutex_unlock(&r->lock);
	ecr__free(a);
	return 0;
}

int ecr_replicator_drain(ecr_replicator *r, int64_t timeout_ms)
{
	int64_t start = ecr__time_monotonic_ms();
	attachment **held = NULL;
	size_t nheld = 0;
	int rc = 0;
	if (!r)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no replicator");
	for (;;) {
		int64_t total = 0;
		pthread_mutex_lock(&r->lock);
		if (r->natts && !(held = ecr__calloc(r->natts, sizeof(*held)))) {
			pthread_mutex_unlock(&r->lock);
			return ECR_ENOMEM;
		}
		nheld = 0;
		for (size_t i = 0; i < r->natts; i++) {
			if (!store_first(r, r->atts[i]))
				continue; /* counted with the store's first attachment */
			held[nheld] = r->atts[i];
			held[nheld++]->users++;
		}
		pthread_mutex_unlock(&r->lock);
		for (size_t i = 0; i < nheld && !rc; i++) {
			int64_t n = 0;
			rc = ecr__repl_pending_store(&n, held[i]->reg);
			total += n;
		}
		pthread_mutex_lock(&r->lock);
		for (size_t i = 0; i < nheld; i++)
			held[i]->users--;
		pthread_cond_broadcast(&r->idle);
		ecr__free(held);
		held = NULL;
		if (rc || total == 0) {
			pthread_mutex_unlock(&r->lock);
			return rc;
		}
		int64_t elapsed = ecr__time_monotonic_ms() - start;
		if (timeout_ms >= 0 && elapsed >= timeout_ms) {
			pthread_mutex_unlock(&r->lock);
			return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID,
			                 "%" PRId64 " replication jobs are still queued or running after %" PRId64 " ms",
			                 total, timeout_ms);
		}
		/* a worker letting go of a registry (a job done) wakes us; look again at least every 20 ms */
		int64_t w = 20;
		if (timeout_ms >= 0 && timeout_ms - elapsed < w)
			w = timeout_ms - elapsed;
		struct timespec deadline;
		ecr__time_deadline(&deadline, CLOCK_REALTIME, w);
		pthread_cond_timedwait(&r->idle, &r->lock, &deadline);
		pthread_mutex_unlock(&r->lock);
	}
}

void ecr_replicator_free(ecr_replicator *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	__atomic_store_n(&r->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&r->work);
	pthread_cond_broadcast(&r->idle);
	unsigned int started = r->started; /* none starts once stopping is set */
	pthread_mutex_unlock(&r->lock);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(r->threads[i], NULL);
	for (size_t i = 0; i < r->natts; i++) {
		__atomic_store_n(&r->atts[i]->reg->repl_wake, (void (*)(void *))NULL, __ATOMIC_RELEASE);
		__atomic_store_n(&r->atts[i]->reg->replicator, NULL, __ATOMIC_RELEASE);
		ecr__free(r->atts[i]);
	}
	pthread_cond_destroy(&r->work);
	pthread_cond_destroy(&r->idle);
	pthread_mutex_destroy(&r->lock);
	ecr__free(r->atts);
	ecr__free(r->threads);
	ecr__free(r);
}
