/* The scanning service of a registry: a bounded pool of worker threads that
 * scans pushed images (scan on push) and images asked for (StartImageScan),
 * stores the results in the metadata store (image_scans), and matches stored
 * reports again when the vulnerability database changes (CONTINUOUS_SCAN).
 * Also the registry scanning configuration and a repository's frequency. */
#include "../core/json.h"
#include "../engine/engine.h"
#include "scan_internal.h"
#include "../remote/remote_repo.h"
#include "../core/digest.h"
#include "../core/timeutil.h"
#include "../engine/leases.h"
#include "../storage/meta_lease.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#define DAY_MS (24LL * 60 * 60 * 1000)
#define QUEUE_CAP_DEFAULT 1024
#define MAX_THREADS 64
/* Cluster coordination: a scan runs under the lease "scan/<repository id>/<digest>" (one node at a time; a
 * dead node's lease expires); every SWEEP_MS an idle worker queues the registry's orphaned scans (IN_PROGRESS
 * for SWEEP_GRACE_MS with no live lease: their node died or stopped before running them). */
#define SCAN_LEASE_TTL_MS (10 * 60 * 1000)
#define SWEEP_MS_DEFAULT (30 * 1000)
#define SWEEP_GRACE_MS_DEFAULT (60 * 1000)

enum job_kind { JOB_SCAN = 1, JOB_REMATCH = 2, JOB_SWEEP = 3 };

struct job {
	struct job *next;
	enum job_kind kind;
	ecr_registry *reg;
	char *repo_name; /* JOB_SCAN */
	char *digest;    /* JOB_SCAN */
};

struct ecr_scanner {
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stopping, or unpaused */
	pthread_cond_t idle; /* a job finished */
	pthread_t *threads;
	unsigned int nthreads, started;
	ecr_registry **current; /* per worker: the registry of the job it runs, or NULL */
	struct job *head, *tail;
	size_t queued, cap;
	unsigned int running;
	bool stopping, paused;
	ecr_vulndb *db;
	ecr_registry **regs;
	size_t nregs, regs_cap;
	int64_t sweep_ms, sweep_grace_ms; /* the orphan sweep (0: none) */
	int64_t next_sweep;               /* monotonic ms */
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	ecr__free(j->repo_name);
	ecr__free(j->digest);
	ecr__free(j);
}

static const char *last_message(void)
{
	const ecr_error *e = ecr_error_last();
	return e && e->message && *e->message ? e->message : "the scan failed";
}

/* --- stored results --- */

/* Write a scan row for (repo, digest), unless the image is gone. */
static int store_scan(ecr_repository *repo, const char *digest, const ecr__meta_scan *row)
{
	ecr__txn t = {0};
	ecr__meta_image img = {0};
	int rc = ecr__txn_begin(&t, repo->reg->store->meta, true);
	if (rc)
		return rc;
	rc = ecr__meta_image_get(&t, repo->id, digest, &img);
	if (rc == ECR_ENOTFOUND) { /* deleted meanwhile: no row for it */
		ecr__error_clear();
		rc = 0;
		goto done;
	}
	if (rc || (rc = ecr__meta_scan_put(&t, repo->id, digest, row)))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__meta_image_dispose(&img);
	ecr__txn_rollback(&t);
	return rc;
}

static int get_scan(ecr_repository *repo, const char *digest, bool with_report, ecr__meta_scan *out)
{
	ecr__txn t = {0};
	int rc = ecr__txn_begin(&t, repo->reg->store->meta, false);
	if (rc)
		return rc;
	rc = ecr__meta_scan_get(&t, repo->id, digest, with_report, out);
	ecr__txn_rollback(&t);
	return rc;
}

/* --- the queue --- */

static bool attached_locked(const ecr_scanner *s, const ecr_registry *reg)
{
	for (size_t i = 0; i < s->nregs; i++)
		if (s->regs[i] == reg)
			return true;
	return false;
}

/* Append j to the queue (the lock held). */
static void append_locked(ecr_scanner *s, struct job *j)
{
	j->next = NULL;
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	s->queued++;
}

/* Queue a job (taken on success). ECR_ELIMIT when the queue is full (unless force). */
static int enqueue(ecr_scanner *s, struct job *j, bool force)
{
	int rc = 0;
	pthread_mutex_lock(&s->lock);
	if (s->stopping || !attached_locked(s, j->reg)) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "the registry is not attached to a running scanner");
	} else if (!force && s->queued >= s->cap) {
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "scan queue full");
	} else {
		append_locked(s, j);
		pthread_cond_signal(&s->work);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Record IN_PROGRESS and queue a scan; when the queue is full, record FAILED "scan queue full" (started_at 0, so
 * it counts against no quota) and return ECR_ELIMIT. */
static int queue_scan(ecr_scanner *s, ecr_repository *repo, const char *digest, int64_t now)
{
	ecr__meta_scan row = {ECR_SCAN_IN_PROGRESS, NULL, NULL, now, 0, 0};
	struct job *j = ecr__calloc(1, sizeof(*j));
	int rc;
	if (!j)
		return ECR_ENOMEM;
	j->kind = JOB_SCAN;
	j->reg = repo->reg;
	j->repo_name = ecr__strdup(repo->name);
	j->digest = ecr__strdup(digest);
	if (!j->repo_name || !j->digest) {
		job_free(j);
		return ECR_ENOMEM;
	}
	if ((rc = store_scan(repo, digest, &row))) {
		job_free(j);
		return rc;
	}
	if ((rc = enqueue(s, j, false)) == 0)
		return 0;
	job_free(j);
	char *why = ecr__strdup(last_message());
	if (!why)
		return ECR_ENOMEM;
	ecr__meta_scan failed = {ECR_SCAN_FAILED, why, NULL, 0, now, 0};
	int rc2 = store_scan(repo, digest, &failed);
	if (!rc2)
		rc2 = ecr__fail(rc, ECR_ERROR_INVALID, "%s", why);
	ecr__free(why);
	return rc2;
}

static bool scans_on_push(ecr_repository *repo)
{
	ecr_buf freq = ECR_BUF_INIT;
	bool yes = false;
	if (ecr_repository_scan_frequency(&freq, repo) == 0 && freq.ptr)
		yes = strcmp(freq.ptr, "SCAN_ON_PUSH") == 0 || strcmp(freq.ptr, "CONTINUOUS_SCAN") == 0;
	ecr_buf_dispose(&freq);
	return yes;
}

/* The registry's hook, called by ecr_image_put after it committed a new image (no lock held). */
static void push_hook(void *scanner, ecr_repository *repo, const char *digest)
{
	ecr_scanner *s = scanner;
	if (!s)
		return;
	if (scans_on_push(repo)) {
		int rc = queue_scan(s, repo, digest, ecr_registry_now(repo->reg));
		if (rc)
			ecr__log(&repo->reg->log, ECR_LOG_WARN, "scan on push of %s@%s: %s", repo->name, digest,
			         last_message());
	}
	ecr__error_clear(); /* the push succeeded */
}

/* --- the workers --- */

/* The "ECR Image Scan" event of a finished scan (events.c), outside any lock: report NULL for a FAILED one. */
static void raise_scan(ecr_repository *repo, const char *digest, const ecr_scan_report *report)
{
	ecr_image *img = NULL;
	if (!repo->reg->event_cb)
		return;
	ecr_event ev = { .type = ECR_EVENT_IMAGE_SCAN, .repository = repo->name, .digest = digest };
	ev.result = report ? ECR_EVENT_SUCCESS : ECR_EVENT_FAILURE;
	if (report) {
		ev.findings_critical = (uint32_t)ecr_scan_report_severity_count(report, ECR_SEVERITY_CRITICAL);
		ev.findings_high = (uint32_t)ecr_scan_report_severity_count(report, ECR_SEVERITY_HIGH);
		ev.findings_medium = (uint32_t)ecr_scan_report_severity_count(report, ECR_SEVERITY_MEDIUM);
		ev.findings_low = (uint32_t)ecr_scan_report_severity_count(report, ECR_SEVERITY_LOW);
		ev.findings_informational = (uint32_t)ecr_scan_report_severity_count(report, ECR_SEVERITY_INFORMATIONAL);
		ev.findings_undefined = (uint32_t)ecr_scan_report_severity_count(report, ECR_SEVERITY_UNDEFINED);
	}
	if (ecr_image_get(&img, repo, digest, ECR_IMAGE_GET_ANY_STATUS) == 0) {
		ev.tags = (const char *const *)ecr__image_tags(img);
		ev.tags_count = ecr_image_tag_count(img);
	}
	ecr__event_emit(repo->reg, &ev);
	ecr_image_free(img);
	ecr__error_clear();
}

static void run_scan(ecr_scanner *s, struct job *j)
{
	ecr_repository *repo = NULL;
	ecr_scan_report *report = NULL;
	ecr_vulndb *db = NULL;
	ecr_buf json = ECR_BUF_INIT;
	ecr__meta_scan prev = {0}, row = {0};
	char holder[ECR__LEASE_HOLDER_MAX], lease[64 + ECR__DIGEST_STRLEN_MAX];
	bool leased = false;
	int rc;

	if ((rc = ecr_repository_open(&repo, j->reg, j->repo_name)))
		goto done; /* deleted meanwhile */
	pthread_mutex_lock(&s->lock);
	if (s->db)
		db = ecr__vulndb_ref(s->db);
	pthread_mutex_unlock(&s->lock);

	/* one node scans it: the lease first, then the row (another node may have completed it meanwhile) */
	ecr__lease_holder(j->reg->store, holder);
	snprintf(lease, sizeof(lease), "scan/%lld/%s", (long long)repo->id, j->digest);
	rc = ecr__lease_acquire(j->reg->store, lease, holder, ecr_registry_now(j->reg), SCAN_LEASE_TTL_MS);
	if (rc == ECR_EBUSY) {
		ecr__log(&j->reg->log, ECR_LOG_INFO, "scan of %s@%s: skipped, another node scans it", j->repo_name,
		         j->digest);
		rc = 0;
		goto done;
	}
	if (rc)
		goto done; /* stays IN_PROGRESS: a later sweep queues it again */
	leased = true;
	rc = get_scan(repo, j->digest, false, &prev);
	if (rc == ECR_ENOTFOUND)
		goto done; /* the image was deleted */
	if (rc)
		goto done;
	if (prev.status != ECR_SCAN_IN_PROGRESS)
		goto done; /* scanned meanwhile (by another node, or an earlier copy of this job) */
	row.started_at = prev.started_at;
	rc = ecr_scan_image(&report, repo, j->digest, db, NULL);
	row.completed_at = ecr_registry_now(j->reg);
	if (rc == ECR_EIMAGE_NOT_FOUND)
		goto done;
	if (rc) {
		row.status = ECR_SCAN_FAILED;
		row.reason = ecr__strdup(last_message());
		if (!row.reason)
			goto done;
	} else {
		row.status = ECR_SCAN_COMPLETE;
		row.vulndb_at = db ? ecr_vulndb_loaded_at(db) : 0;
		const char *reason = ecr_scan_report_status_reason(report);
		if (reason && !(row.reason = ecr__strdup(reason)))
			goto done;
		if ((rc = ecr__scan_report_to_json(&json, report)))
			goto done;
		row.report = json.ptr;
	}
	/* still ours? A scan that outlived its lease leaves the outcome to the node that took it over */
	rc = ecr__lease_renew(j->reg->store, lease, holder, ecr_registry_now(j->reg), SCAN_LEASE_TTL_MS);
	if (rc == ECR_EBUSY) {
		leased = false;
		ecr__log(&j->reg->log, ECR_LOG_WARN,
		         "scan of %s@%s: the lease ran out and another node took the scan over: result not stored",
		         j->repo_name, j->digest);
		rc = 0;
		goto done;
	}
	if (rc || (rc = store_scan(repo, j->digest, &row)))
		goto done;
	if (rc)
		goto done;
	ecr__log(&j->reg->log, ECR_LOG_INFO, "scanned %s@%s: %s%s%s", j->repo_name, j->digest,
	         row.status == ECR_SCAN_COMPLETE ? "complete" : "failed", row.reason ? ": " : "",
	         row.reason ? row.reason : "");
	raise_scan(repo, j->digest, row.status == ECR_SCAN_COMPLETE ? report : NULL);
done:
	if (rc && rc != ECR_ENOTFOUND && rc != ECR_EIMAGE_NOT_FOUND && rc != ECR_EREPOSITORY_NOT_FOUND)
		ecr__log(&j->reg->log, ECR_LOG_WARN, "scan of %s@%s: %s", j->repo_name, j->digest, last_message());
	if (leased && ecr__lease_release(j->reg->store, lease, holder))
		ecr__log(&j->reg->log, ECR_LOG_WARN, "scan of %s@%s: cannot release its lease: %s", j->repo_name,
		         j->digest, last_message());
	row.report = NULL; /* json's */
	ecr__meta_scan_dispose(&row);
	ecr__meta_scan_dispose(&prev);
	ecr_buf_dispose(&json);
	ecr_scan_report_free(report);
	ecr_vulndb_free(db);
	ecr_repository_free(repo);
	ecr__error_clear();
}

struct scan_key {
	int64_t repo_id;
	char *repo_name;
	char *digest;
};

struct key_vec {
	struct scan_key *v;
	size_t n, cap;
};

static int key_add(int64_t repo_id, const char *repo_name, const char *digest, void *payload)
{
	struct key_vec *kv = payload;
	if (kv->n == kv->cap) {
		size_t cap = kv->cap ? kv->cap * 2 : 16;
		struct scan_key *v = ecr__realloc(kv->v, cap * sizeof(*v));
		if (!v)
			return ECR_ENOMEM;
		kv->v = v;
		kv->cap = cap;
	}
	struct scan_key *k = &kv->v[kv->n];
	k->repo_id = repo_id;
	k->repo_name = ecr__strdup(repo_name);
	k->digest = ecr__strdup(digest);
	if (!k->repo_name || !k->digest) {
		ecr__free(k->repo_name);
		ecr__free(k->digest);
		return ECR_ENOMEM;
	}
	kv->n++;
	return 0;
}

static void key_vec_dispose(struct key_vec *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		ecr__free(kv->v[i].repo_name);
		ecr__free(kv->v[i].digest);
	}
	ecr__free(kv->v);
}

/* Match one stored COMPLETE report again against db; kept only if the row did not change meanwhile. */
static int rematch_one(ecr_repository *repo, const char *digest, ecr_vulndb *db)
{
	ecr__meta_scan row = {0}, now_row = {0};
	ecr_scan_report *report = NULL;
	ecr_buf json = ECR_BUF_INIT;
	ecr__txn t = {0};
	int rc = get_scan(repo, digest, true, &row);
	if (rc)
		goto done;
	if (row.status != ECR_SCAN_COMPLETE || !row.report)
		goto done;
	if ((rc = ecr__scan_report_from_json(&report, row.report, strlen(row.report))) ||
	    (rc = ecr_scan_report_rematch(report, db)) || (rc = ecr__scan_report_to_json(&json, report)))
		goto done;
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		goto done;
	rc = ecr__meta_scan_get(&t, repo->id, digest, false, &now_row);
	if (rc == ECR_ENOTFOUND ||
	    (!rc && (now_row.status != ECR_SCAN_COMPLETE || now_row.started_at != row.started_at ||
	             now_row.completed_at != row.completed_at))) {
		rc = 0; /* deleted or scanned again meanwhile */
		goto done;
	}
	if (rc)
		goto done;
	ecr__free(row.report);
	row.report = ecr__buf_detach(&json);
	row.completed_at = ecr_registry_now(repo->reg);
	row.vulndb_at = ecr_vulndb_loaded_at(db);
	if ((rc = ecr__meta_scan_put(&t, repo->id, digest, &row)))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	ecr__meta_scan_dispose(&row);
	ecr__meta_scan_dispose(&now_row);
	ecr_buf_dispose(&json);
	ecr_scan_report_free(report);
	return rc;
}

static void run_rematch(ecr_scanner *s, struct job *j)
{
	struct key_vec kv = {0};
	ecr_vulndb *db = NULL;
	ecr_repository *repo = NULL;
	bool continuous = false;
	size_t done_count = 0;
	ecr__txn t = {0};
	int rc;

	pthread_mutex_lock(&s->lock);
	if (s->db)
		db = ecr__vulndb_ref(s->db);
	pthread_mutex_unlock(&s->lock);
	if (!db)
		goto done;
	if ((rc = ecr__txn_begin(&t, j->reg->store->meta, false)))
		goto done;
	rc = ecr__meta_scan_list_status(&t, j->reg->id, ECR_SCAN_COMPLETE, key_add, &kv);
	ecr__txn_rollback(&t);
	if (rc)
		goto done;
	for (size_t i = 0; i < kv.n; i++) {
		if (!repo || repo->id != kv.v[i].repo_id) {
			ecr_repository_free(repo);
			repo = NULL;
			continuous = false;
			if (ecr_repository_open(&repo, j->reg, kv.v[i].repo_name)) {
				ecr__error_clear();
				continue;
			}
			ecr_buf freq = ECR_BUF_INIT;
			if (ecr_repository_scan_frequency(&freq, repo) == 0 && freq.ptr)
				continuous = strcmp(freq.ptr, "CONTINUOUS_SCAN") == 0;
			ecr_buf_dispose(&freq);
		}
		if (!continuous || repo->id != kv.v[i].repo_id)
			continue;
		if ((rc = rematch_one(repo, kv.v[i].digest, db)))
			ecr__log(&j->reg->log, ECR_LOG_WARN, "continuous scan of %s@%s: %s", kv.v[i].repo_name,
			         kv.v[i].digest, last_message());
		else
			done_count++;
	}
	ecr__log(&j->reg->log, ECR_LOG_INFO, "continuous scan: %zu image(s) matched again", done_count);
done:
	ecr_repository_free(repo);
	key_vec_dispose(&kv);
	ecr_vulndb_free(db);
	ecr__error_clear();
}

/* Whether a scan of (reg, repo_name, digest) is queued (lock held). */
static bool scan_queued_locked(const ecr_scanner *s, const ecr_registry *reg, const char *repo_name,
                               const char *digest)
{
	for (const struct job *q = s->head; q; q = q->next)
		if (q->kind == JOB_SCAN && q->reg == reg && strcmp(q->repo_name, repo_name) == 0 &&
		    strcmp(q->digest, digest) == 0)
			return true;
	return false;
}

/* Queue the orphaned scans of reg (IN_PROGRESS since grace_ms or longer, no live lease), unless queued here
 * already; force: not limited by the queue's cap. */
static int queue_orphans(ecr_scanner *s, ecr_registry *reg, int64_t grace_ms, bool force)
{
	struct key_vec kv = {0};
	ecr__txn t = {0};
	size_t queued = 0;
	int64_t now = ecr_registry_now(reg);
	int rc = ecr__txn_begin(&t, reg->store->meta, false);
	if (rc)
		return rc;
	rc = ecr__meta_scan_list_orphans(&t, reg->id, now - grace_ms, now, key_add, &kv);
	ecr__txn_rollback(&t);
	for (size_t i = 0; !rc && i < kv.n; i++) {
		struct job *j = ecr__calloc(1, sizeof(*j));
		if (!j) {
			rc = ECR_ENOMEM;
			break;
		}
		j->kind = JOB_SCAN;
		j->reg = reg;
		j->repo_name = kv.v[i].repo_name;
		j->digest = kv.v[i].digest;
		kv.v[i].repo_name = kv.v[i].digest = NULL;
		pthread_mutex_lock(&s->lock);
		bool dup = scan_queued_locked(s, reg, j->repo_name, j->digest);
		pthread_mutex_unlock(&s->lock);
		if (dup || enqueue(s, j, force))
			job_free(j);
		else
			queued++;
	}
	key_vec_dispose(&kv);
	if (queued)
		ecr__log(&reg->log, ECR_LOG_INFO, "scans: %zu scan(s) left in progress by a stopped node queued again",
		         queued);
	if (!rc)
		ecr__error_clear(); /* a full queue: the next sweep */
	return rc;
}

static void run_sweep(ecr_scanner *s, struct job *j)
{
	pthread_mutex_lock(&s->lock);
	int64_t grace = s->sweep_grace_ms;
	pthread_mutex_unlock(&s->lock);
	if (queue_orphans(s, j->reg, grace, false))
		ecr__log(&j->reg->log, ECR_LOG_WARN, "scans: cannot look for orphaned scans: %s", last_message());
	ecr__error_clear();
}

/* Queue a sweep job per attached registry (lock held) when one is due; otherwise wait for work until then. */
static void wait_or_sweep_locked(ecr_scanner *s)
{
	if (s->sweep_ms <= 0 || s->paused) {
		pthread_cond_wait(&s->work, &s->lock);
		return;
	}
	int64_t now = ecr__time_monotonic_ms();
	if (now < s->next_sweep) {
		struct timespec ts;
		int64_t left = s->next_sweep - now;
		ecr__time_deadline(&ts, CLOCK_REALTIME, left);
		pthread_cond_timedwait(&s->work, &s->lock, &ts);
		return;
	}
	s->next_sweep = now + s->sweep_ms;
	for (size_t i = 0; i < s->nregs; i++) {
		struct job *j = ecr__calloc(1, sizeof(*j));
		if (!j)
			break; /* the next sweep */
		j->kind = JOB_SWEEP;
		j->reg = s->regs[i];
		append_locked(s, j);
	}
	pthread_cond_broadcast(&s->work);
}

static void *worker(void *arg)
{
	ecr_scanner *s = arg;
	unsigned int self;
	pthread_mutex_lock(&s->lock);
	self = s->started++;
	for (;;) {
		while (!s->stopping && (s->paused || !s->head))
			wait_or_sweep_locked(s);
		if (s->stopping)
			break;
		struct job *j = s->head;
		s->head = j->next;
		if (!s->head)
			s->tail = NULL;
		s->queued--;
		s->running++;
		s->current[self] = j->reg;
		pthread_mutex_unlock(&s->lock);

		if (j->kind == JOB_SCAN)
			run_scan(s, j);
		else if (j->kind == JOB_SWEEP)
			run_sweep(s, j);
		else
			run_rematch(s, j);
		job_free(j);

		pthread_mutex_lock(&s->lock);
		s->current[self] = NULL;
		s->running--;
		pthread_cond_broadcast(&s->idle);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* --- public API --- */

ecr_scanner *ecr__scanner_of(ecr_registry *reg)
{
	return reg ? (ecr_scanner *)__atomic_load_n(&reg->scanner, __ATOMIC_ACQUIRE) : NULL;
}

int ecr_scanner_new(ecr_scanner **out, unsigned int threads)
{
	ecr_scanner *s = NULL;
	int rc = 0;
	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no output");
	*out = NULL;
	if (threads == 0)
		threads = 2;
	if (threads > MAX_THREADS)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "at most %d scanner threads", MAX_THREADS);
	if (!(s = ecr__calloc(1, sizeof(*s))))
		return ECR_ENOMEM;
	s->cap = QUEUE_CAP_DEFAULT;
	s->nthreads = threads;
	s->sweep_ms = SWEEP_MS_DEFAULT;
	s->sweep_grace_ms = SWEEP_GRACE_MS_DEFAULT;
	s->next_sweep = ecr__time_monotonic_ms() + SWEEP_MS_DEFAULT;
	if (!(s->threads = ecr__calloc(threads, sizeof(*s->threads))) ||
	    !(s->current = ecr__calloc(threads, sizeof(*s->current)))) {
		ecr__free(s->threads);
		ecr__free(s->current);
		ecr__free(s);
		return ECR_ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->idle, NULL);
	unsigned int made = 0;
	for (; made < threads; made++) {
		int err = pthread_create(&s->threads[made], NULL, worker, s);
		if (err) {
			rc = ecr__fail_os(ECR_ERROR, err, "cannot start a scanner thread");
			break;
		}
	}
	if (rc) {
		s->nthreads = made;
		ecr_scanner_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void ecr__scanner_set_queue_cap(ecr_scanner *s, size_t cap)
{
	pthread_mutex_lock(&s->lock);
	s->cap = cap;
	pthread_mutex_unlock(&s->lock);
}

void ecr__scanner_set_sweep(ecr_scanner *s, int64_t interval_ms, int64_t grace_ms)
{
	pthread_mutex_lock(&s->lock);
	s->sweep_ms = interval_ms;
	s->sweep_grace_ms = grace_ms;
	s->next_sweep = ecr__time_monotonic_ms() + interval_ms;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
}

void ecr__scanner_pause(ecr_scanner *s, bool paused)
{
	pthread_mutex_lock(&s->lock);
	s->paused = paused;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
}

int ecr_scanner_set_db(ecr_scanner *s, ecr_vulndb *db)
{
	if (!s)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no scanner");
	ecr_vulndb *old;
	pthread_mutex_lock(&s->lock);
	old = s->db;
	s->db = db ? ecr__vulndb_ref(db) : NULL;
	/* one re-match job per attached registry (not counted against the cap; none queued twice) */
	for (size_t i = 0; db && i < s->nregs && !s->stopping; i++) {
		bool queued = false;
		for (struct job *q = s->head; q; q = q->next)
			if (q->kind == JOB_REMATCH && q->reg == s->regs[i])
				queued = true;
		if (queued)
			continue;
		struct job *j = ecr__calloc(1, sizeof(*j));
		if (!j)
			break; /* the new database is set; re-matching is best effort */
		j->kind = JOB_REMATCH;
		j->reg = s->regs[i];
		append_locked(s, j);
	}
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	ecr_vulndb_free(old);
	return 0;
}

int ecr_scanner_attach(ecr_scanner *s, ecr_registry *reg)
{
	int rc = 0;
	bool added = false;
	if (!s || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no scanner or registry");
	if (reg->remote)
		return ecr__remote_local_only(reg, "Attaching a scanner");
	pthread_mutex_lock(&s->lock);
	void *current = __atomic_load_n(&reg->scanner, __ATOMIC_ACQUIRE);
	if (current && current != (void *)s) {
		rc = ecr__fail(ECR_EEXISTS, ECR_ERROR_INVALID, "the registry is attached to another scanner");
	} else if (!attached_locked(s, reg)) {
		if (s->nregs == s->regs_cap) {
			size_t cap = s->regs_cap ? s->regs_cap * 2 : 4;
			ecr_registry **v = ecr__realloc(s->regs, cap * sizeof(*v));
			if (!v)
				rc = ECR_ENOMEM;
			else {
				s->regs = v;
				s->regs_cap = cap;
			}
		}
		if (!rc) {
			s->regs[s->nregs++] = reg;
			__atomic_store_n(&reg->scanner, (void *)s, __ATOMIC_RELEASE);
			__atomic_store_n(&reg->push_hook, push_hook, __ATOMIC_RELEASE);
			added = true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (rc || !added)
		return rc;

	/* Scans left IN_PROGRESS by a scanner that stopped before running them are queued again: only those no
	 * node holds a lease on (a scan running on another node, live, is its business; the periodic sweep
	 * catches the ones of a node that dies later). */
	queue_orphans(s, reg, 0, true);
	ecr__error_clear();
	return 0;
}

int ecr_scanner_detach(ecr_scanner *s, ecr_registry *reg)
{
	if (!s || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no scanner or registry");
	struct job *dropped = NULL;
	pthread_mutex_lock(&s->lock);
	size_t i = 0;
	for (; i < s->nregs && s->regs[i] != reg; i++)
		;
	if (i == s->nregs) {
		pthread_mutex_unlock(&s->lock);
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_INVALID, "the registry is not attached to this scanner");
	}
	s->regs[i] = s->regs[--s->nregs];
	__atomic_store_n(&reg->push_hook, (ecr__push_hook)NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&reg->scanner, NULL, __ATOMIC_RELEASE);
	/* Queued jobs of the registry are dropped (their rows stay IN_PROGRESS: the next attach queues them again). */
	struct job **pp = &s->head, *last = NULL;
	while (*pp) {
		struct job *j = *pp;
		if (j->reg == reg) {
			*pp = j->next;
			s->queued--;
			j->next = dropped;
			dropped = j;
		} else {
			last = j;
			pp = &j->next;
		}
	}
	s->tail = last;
	/* Wait for the jobs of the registry that run now. */
	for (;;) {
		bool busy = false;
		for (unsigned int w = 0; w < s->nthreads; w++)
			if (s->current[w] == reg)
				busy = true;
		if (!busy)
			break;
		pthread_cond_wait(&s->idle, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	while (dropped) {
		struct job *n = dropped->next;
		job_free(dropped);
		dropped = n;
	}
	return 0;
}

int ecr_scanner_start(ecr_scanner *s, ecr_repository *repo, const char *digest)
{
	ecr_image *img = NULL;
	ecr__meta_scan prev = {0};
	int rc;
	if (!s || !repo || !digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no scanner, repository or digest");
	if ((rc = ecr_image_get(&img, repo, digest, 0)))
		return rc; /* ECR_EIMAGE_NOT_FOUND, ECR_EIMAGE_ARCHIVED */
	const char *mt = ecr_image_media_type(img);
	if (mt && (strstr(mt, "manifest.list") || strstr(mt, "image.index"))) {
		rc = ecr__fail(ECR_EUNSUPPORTED, ECR_ERROR_IMAGE,
		               "The image with digest '%s' is a manifest list; scan the images it lists instead",
		               digest);
		goto done;
	}
	int64_t now = ecr_registry_now(repo->reg);
	rc = get_scan(repo, ecr_image_digest(img), false, &prev);
	if (rc && rc != ECR_ENOTFOUND)
		goto done;
	if (rc == 0 && prev.started_at > 0 && now - prev.started_at < DAY_MS) {
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_IMAGE,
		               "The scan quota per image has been exceeded. Wait and try again.");
		goto done;
	}
	ecr__error_clear();
	rc = queue_scan(s, repo, ecr_image_digest(img), now);
done:
	ecr__meta_scan_dispose(&prev);
	ecr_image_free(img);
	return rc;
}

int ecr_scanner_drain(ecr_scanner *s, int64_t timeout_ms)
{
	struct timespec deadline;
	int rc = 0;
	if (!s)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no scanner");
	ecr__time_deadline(&deadline, CLOCK_REALTIME, timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&s->lock);
	while ((s->head || s->running) && !s->stopping) {
		if (timeout_ms > 0) {
			if (pthread_cond_timedwait(&s->idle, &s->lock, &deadline) == ETIMEDOUT) {
				rc = ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the scanner is still busy after %lld ms",
				               (long long)timeout_ms);
				break;
			}
		} else {
			pthread_cond_wait(&s->idle, &s->lock);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void ecr_scanner_free(ecr_scanner *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->work);
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	for (unsigned int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	for (size_t i = 0; i < s->nregs; i++) {
		__atomic_store_n(&s->regs[i]->push_hook, (ecr__push_hook)NULL, __ATOMIC_RELEASE);
		__atomic_store_n(&s->regs[i]->scanner, NULL, __ATOMIC_RELEASE);
	}
	while (s->head) {
		struct job *n = s->head->next;
		job_free(s->head);
		s->head = n;
	}
	ecr_vulndb_free(s->db);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	ecr__free(s->regs);
	ecr__free(s->threads);
	ecr__free(s->current);
	ecr__free(s);
}

int ecr_image_scan_result(ecr_scan_status *status_out, ecr_buf *reason_out, int64_t *completed_at_out,
                          ecr_scan_report **report_out, ecr_repository *repo, const char *digest)
{
	ecr__meta_scan row = {0};
	int rc;
	if (status_out)
		*status_out = ECR_SCAN_NONE;
	if (completed_at_out)
		*completed_at_out = 0;
	if (report_out)
		*report_out = NULL;
	if (!repo || !digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository or digest");
	if (repo->reg->remote)
		return ecr__remote_image_scan_result(status_out, reason_out, completed_at_out, report_out, repo, digest);
	rc = get_scan(repo, digest, report_out != NULL, &row);
	if (rc == ECR_ENOTFOUND) {
		ecr__error_clear();
		return 0;
	}
	if (rc)
		return rc;
	if (reason_out && row.reason && (rc = ecr__buf_puts(reason_out, row.reason)))
		goto done;
	if (report_out && row.status == ECR_SCAN_COMPLETE && row.report &&
	    (rc = ecr__scan_report_from_json(report_out, row.report, strlen(row.report))))
		goto done;
	if (status_out)
		*status_out = (ecr_scan_status)row.status;
	if (completed_at_out)
		*completed_at_out = row.completed_at;
done:
	ecr__meta_scan_dispose(&row);
	return rc;
}

/* The vulnerability source time of a stored scan (0 when none); internal, for the API. */
int ecr__image_scan_vulndb_at(int64_t *out, ecr_repository *repo, const char *digest)
{
	ecr__meta_scan row = {0};
	*out = 0;
	int rc = get_scan(repo, digest, false, &row);
	if (rc == ECR_ENOTFOUND) {
		ecr__error_clear();
		return 0;
	}
	if (!rc)
		*out = row.vulndb_at;
	ecr__meta_scan_dispose(&row);
	return rc;
}

/* --- the registry scanning configuration --- */

static int validation(const char *fmt, const char *arg)
{
	return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID, fmt, arg);
}

static bool filter_value_valid(const char *f)
{
	/* ^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$ : alphanumerics or '*', single separators between them */
	size_t n = strlen(f);
	if (n < 1 || n > 255)
		return false;
	bool prev_sep = true; /* a separator may not start */
	for (size_t i = 0; i < n; i++) {
		char c = f[i];
		bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*';
		bool sep = c == '.' || c == '_' || c == '-' || c == '/';
		if (word)
			prev_sep = false;
		else if (sep && !prev_sep)
			prev_sep = true;
		else
			return false;
	}
	return !prev_sep;
}

/* Parse and validate a configuration; writes its normalized form into out when out is not NULL. */
static int config_parse(ecr__json **out_doc, const char *json, size_t len)
{
	ecr__json *doc = NULL;
	int rc = ecr__json_parse(&doc, json, len, NULL);
	if (rc)
		return validation("Invalid scanning configuration: %s", last_message());
	if (doc->type != ECR__JSON_OBJECT) {
		rc = validation("%s", "Invalid scanning configuration: not a JSON object");
		goto done;
	}
	const ecr__json *type = ecr__json_get(doc, "scanType");
	const char *scan_type = type && type->type == ECR__JSON_STRING ? type->string : NULL;
	if (type && (!scan_type || (strcmp(scan_type, "BASIC") != 0 && strcmp(scan_type, "ENHANCED") != 0))) {
		rc = validation(
		    "1 validation error detected: Value '%s' at 'scanType' failed to satisfy constraint: Member "
		    "must satisfy enum value set: [BASIC, ENHANCED]",
		    scan_type ? scan_type : "");
		goto done;
	}
	bool basic = !scan_type || strcmp(scan_type, "BASIC") == 0;
	const ecr__json *rules = ecr__json_get(doc, "rules");
	if (rules && rules->type != ECR__JSON_ARRAY) {
		rc = validation("%s", "Invalid scanning configuration: rules must be a list");
		goto done;
	}
	if (rules && rules->count > 2) {
		rc = validation("%s",
		                "1 validation error detected: Value at 'rules' failed to satisfy constraint: Member "
		                "must have length less than or equal to 2");
		goto done;
	}
	for (size_t i = 0; rules && i < rules->count; i++) {
		const ecr__json *rule = rules->values[i];
		const char *freq = ecr__json_get_string(rule, "scanFrequency");
		const ecr__json *filters = ecr__json_get(rule, "repositoryFilters");
		if (!freq || !filters || filters->type != ECR__JSON_ARRAY) {
			rc =
			    validation("%s", "Invalid scanning rule: scanFrequency and repositoryFilters are required");
			goto done;
		}
		if (strcmp(freq, "SCAN_ON_PUSH") != 0 && strcmp(freq, "CONTINUOUS_SCAN") != 0 &&
		    strcmp(freq, "MANUAL") != 0) {
			rc = validation(
			    "1 validation error detected: Value '%s' at 'rules.member.scanFrequency' failed to "
			    "satisfy constraint: Member must satisfy enum value set: [SCAN_ON_PUSH, "
			    "CONTINUOUS_SCAN, MANUAL]",
			    freq);
			goto done;
		}
		if (basic && strcmp(freq, "SCAN_ON_PUSH") != 0) {
			rc = validation(
			    "Invalid scanning rule: the scan frequency '%s' is not supported for the BASIC scan "
			    "type; BASIC supports SCAN_ON_PUSH",
			    freq);
			goto done;
		}
		if (!basic && strcmp(freq, "MANUAL") == 0) {
			rc = validation(
			    "Invalid scanning rule: the scan frequency '%s' is not supported for the ENHANCED "
			    "scan type; ENHANCED supports SCAN_ON_PUSH and CONTINUOUS_SCAN",
			    freq);
			goto done;
		}
		if (filters->count > 100) {
			rc = validation(
			    "%s", "1 validation error detected: Value at 'rules.member.repositoryFilters' failed to "
			          "satisfy constraint: Member must have length less than or equal to 100");
			goto done;
		}
		for (size_t k = 0; k < filters->count; k++) {
			const char *f = ecr__json_get_string(filters->values[k], "filter");
			const char *ft = ecr__json_get_string(filters->values[k], "filterType");
			if (!f || !ft) {
				rc = validation("%s", "Invalid repository filter: filter and filterType are required");
				goto done;
			}
			if (strcmp(ft, "WILDCARD") != 0) {
				rc = validation(
				    "1 validation error detected: Value '%s' at 'rules.member.repositoryFilters."
				    "member.filterType' failed to satisfy constraint: Member must satisfy enum value "
				    "set: [WILDCARD]",
				    ft);
				goto done;
			}
			if (!filter_value_valid(f)) {
				rc = validation(
				    "1 validation error detected: Value '%s' at 'rules.member.repositoryFilters."
				    "member.filter' failed to satisfy constraint: Member must satisfy regular "
				    "expression pattern: ^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$",
				    f);
				goto done;
			}
		}
	}
	*out_doc = doc;
	doc = NULL;
done:
	ecr__json_free(doc);
	return rc;
}

/* Normalized JSON of a validated configuration. */
static int config_write(ecr_buf *out, const ecr__json *doc)
{
	ecr__jw *w = NULL;
	const char *scan_type = ecr__json_get_string(doc, "scanType");
	const ecr__json *rules = ecr__json_get(doc, "rules");
	int rc = ecr__jw_new(&w);
	if (rc)
		return rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "scanType")) ||
	    (rc = ecr__jw_string(w, scan_type ? scan_type : "BASIC")) || (rc = ecr__jw_key(w, "rules")) ||
	    (rc = ecr__jw_array_open(w)))
		goto done;
	for (size_t i = 0; rules && i < rules->count; i++) {
		const ecr__json *rule = rules->values[i];
		const ecr__json *filters = ecr__json_get(rule, "repositoryFilters");
		if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "scanFrequency")) ||
		    (rc = ecr__jw_string(w, ecr__json_get_string(rule, "scanFrequency"))) ||
		    (rc = ecr__jw_key(w, "repositoryFilters")) || (rc = ecr__jw_array_open(w)))
			goto done;
		for (size_t k = 0; k < filters->count; k++) {
			if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "filter")) ||
			    (rc = ecr__jw_string(w, ecr__json_get_string(filters->values[k], "filter"))) ||
			    (rc = ecr__jw_key(w, "filterType")) || (rc = ecr__jw_string(w, "WILDCARD")) ||
			    (rc = ecr__jw_object_close(w)))
				goto done;
		}
		if ((rc = ecr__jw_array_close(w)) || (rc = ecr__jw_object_close(w)))
			goto done;
	}
	if ((rc = ecr__jw_array_close(w)) || (rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__jw_finish(w, out);
done:
	ecr__jw_free(w);
	return rc;
}

int ecr_registry_set_scanning_configuration(ecr_registry *reg, const char *json)
{
	ecr__json *doc = NULL;
	ecr_buf norm = ECR_BUF_INIT;
	ecr__txn t = {0};
	int rc;
	if (!reg || !json)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or configuration");
	if (reg->remote)
		return ecr__remote_registry_set_scanning_configuration(reg, json);
	if ((rc = config_parse(&doc, json, strlen(json))) || (rc = config_write(&norm, doc)))
		goto done;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)) ||
	    (rc = ecr__meta_scan_config_put(&t, reg->id, norm.ptr)))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	ecr__json_free(doc);
	ecr_buf_dispose(&norm);
	return rc;
}

static int config_load(char **doc_out, ecr_registry *reg)
{
	ecr__txn t = {0};
	int rc = ecr__txn_begin(&t, reg->store->meta, false);
	if (rc)
		return rc;
	rc = ecr__meta_scan_config_get(&t, reg->id, doc_out);
	ecr__txn_rollback(&t);
	return rc;
}

#define CONFIG_DEFAULT "{\"scanType\":\"BASIC\",\"rules\":[]}"

int ecr_registry_scanning_configuration(ecr_buf *out, ecr_registry *reg)
{
	char *doc = NULL;
	if (!out || !reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no output or registry");
	if (reg->remote)
		return ecr__remote_registry_scanning_configuration(out, reg);
	int rc = config_load(&doc, reg);
	if (rc == ECR_ENOTFOUND) {
		ecr__error_clear();
		return ecr__buf_puts(out, CONFIG_DEFAULT);
	}
	if (rc)
		return rc;
	rc = ecr__buf_puts(out, doc);
	ecr__free(doc);
	return rc;
}

/* Glob with '*' only, anchored. */
static bool glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p && *p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

bool ecr__scan_filter_match(const char *filter, const char *name)
{
	if (!strchr(filter, '*'))
		return strstr(name, filter) != NULL;
	return glob_match(filter, name);
}

int ecr__scan_frequency_of(char **freq_out, ecr_buf *applied_filters_json, ecr_repository *repo)
{
	char *doc_text = NULL;
	ecr__json *doc = NULL;
	const char *freq = NULL;
	const ecr__json *matched_filters = NULL;
	*freq_out = NULL;
	int rc = config_load(&doc_text, repo->reg);
	if (rc == ECR_ENOTFOUND) {
		ecr__error_clear();
		rc = 0;
	} else if (rc) {
		return rc;
	} else if ((rc = ecr__json_parse(&doc, doc_text, strlen(doc_text), NULL))) {
		goto done;
	}
	const ecr__json *rules = doc ? ecr__json_get(doc, "rules") : NULL;
	int best = 0; /* 2 continuous, 1 on push */
	for (size_t i = 0; rules && i < rules->count; i++) {
		const ecr__json *rule = rules->values[i];
		const char *f = ecr__json_get_string(rule, "scanFrequency");
		const ecr__json *filters = ecr__json_get(rule, "repositoryFilters");
		int level = f && strcmp(f, "CONTINUOUS_SCAN") == 0 ? 2 : f && strcmp(f, "SCAN_ON_PUSH") == 0 ? 1 : 0;
		if (level <= best || !filters)
			continue;
		for (size_t k = 0; k < filters->count; k++) {
			const char *v = ecr__json_get_string(filters->values[k], "filter");
			if (v && ecr__scan_filter_match(v, repo->name)) {
				best = level;
				freq = f;
				matched_filters = filters;
				break;
			}
		}
	}
	if (!freq)
		freq = repo->scan_on_push ? "SCAN_ON_PUSH" : "MANUAL";
	if (!(*freq_out = ecr__strdup(freq))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if (applied_filters_json) {
		ecr__jw *w = NULL;
		if ((rc = ecr__jw_new(&w)))
			goto done;
		rc = ecr__jw_array_open(w);
		for (size_t k = 0; !rc && matched_filters && k < matched_filters->count; k++) {
			const char *v = ecr__json_get_string(matched_filters->values[k], "filter");
			if (!v || !ecr__scan_filter_match(v, repo->name))
				continue;
			if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "filter")) ||
			    (rc = ecr__jw_string(w, v)) || (rc = ecr__jw_key(w, "filterType")) ||
			    (rc = ecr__jw_string(w, "WILDCARD")))
				break;
			rc = ecr__jw_object_close(w);
		}
		if (!rc)
			rc = ecr__jw_array_close(w);
		if (!rc)
			rc = ecr__jw_finish(w, applied_filters_json);
		ecr__jw_free(w);
	}
done:
	if (rc) {
		ecr__free(*freq_out);
		*freq_out = NULL;
	}
	ecr__json_free(doc);
	ecr__free(doc_text);
	return rc;
}

int ecr_repository_scan_frequency(ecr_buf *out, ecr_repository *repo)
{
	char *freq = NULL;
	if (!out || !repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no output or repository");
	if (repo->reg->remote)
		return ecr__remote_repository_scan_frequency(out, repo);
	int rc = ecr__scan_frequency_of(&freq, NULL, repo);
	if (!rc)
		rc = ecr__buf_puts(out, freq);
	ecr__free(freq);
	return rc;
}
