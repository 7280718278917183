/*
 * The durable replication queue (ecr/replication.h), in the metadata store's
 * replication_jobs table (schema v2, libecr/storage/meta.c). The engine
 * queues jobs inside the transaction of the push that causes them
 * (ecr__repl_enqueue_in, called by image.c); the replicator
 * (libecr/replication/replicator.c) claims, renews, completes and retries
 * them. One row per (image, destination): a later push of the image (a tag
 * added or moved) queues the same row again with the tags merged.
 *
 * Written by replication_queue.c; every function returns 0 or an ECR_E* code.
 */
#ifndef ECR_ENGINE_REPLICATION_QUEUE_H
#define ECR_ENGINE_REPLICATION_QUEUE_H

#include "engine.h"

/* Job states (replication_jobs.status). */
#define ECR__REPL_QUEUED 0
#define ECR__REPL_RUNNING 1
#define ECR__REPL_COMPLETE 2
#define ECR__REPL_FAILED 3

typedef struct ecr__repl_job {
	int64_t id;
	char *repository;       /* the source repository's name */
	char *digest;           /* the image */
	char **tags;            /* the tags to set at the destination (may be none: by digest) */
	size_t tags_count;
	char *dest_region;
	char *dest_registry_id; /* the destination account */
	int attempts;           /* attempts made before this one */
	int64_t claim;          /* the claim's stamp: complete/retry apply only to the same claim */
	char *src_account_id;   /* the source registry (the job's registries row): its account ... */
	char *src_region;       /* ... and region */
} ecr__repl_job;

void ecr__repl_job_dispose(ecr__repl_job *job);

/*
 * Inside t (the push's write transaction): queue the image for every
 * destination of every rule of reg's replication configuration whose filters
 * select repo (no filter: all), unless flags has ECR_IMAGE_PUT_REPLICA. tag
 * (may be NULL) is added to the job's tags. No configuration, no rule: nothing.
 * *queued_out (may be NULL) receives how many jobs were queued.
 */
int ecr__repl_enqueue_in(ecr__txn *t, ecr_registry *reg, const ecr_repository *repo, const char *digest,
	const char *tag, uint32_t flags, size_t *queued_out);

/*
 * Claim the next due job of reg: queued with next_attempt_at <= now, or
 * running with lease_until < now (its worker died). It becomes running with
 * lease_until = now + lease_ms. ECR_ITEROVER when none is due; *next_due_out
 * (may be NULL) then receives when the next one will be (0: none queued).
 */
int ecr__repl_claim(ecr__repl_job *out, int64_t *next_due_out, ecr_registry *reg, int64_t lease_ms);
/*
 * The same over the queues of every registry of reg's store (every account
 * and region of its data folder): the job's src_account_id / src_region name
 * its source registry, which may be another than reg. The other functions
 * take any registry of the job's store.
 */
int ecr__repl_claim_store(ecr__repl_job *out, int64_t *next_due_out, ecr_registry *reg, int64_t lease_ms);
/* Extend a claimed job's lease; ECR_ENOTFOUND when the claim is no longer current. */
int ecr__repl_renew(ecr_registry *reg, const ecr__repl_job *job, int64_t lease_ms);
/* The claimed job succeeded (a job queued again meanwhile stays queued). */
int ecr__repl_complete(ecr_registry *reg, const ecr__repl_job *job);
/*
 * The claimed job failed with reason: queued again for next_attempt_at, or
 * FAILED for good when final (a job queued again meanwhile stays queued).
 */
int ecr__repl_fail(ecr_registry *reg, const ecr__repl_job *job, const char *reason, int64_t next_attempt_at,
	bool final);
/* How many jobs of reg are queued or running. */
int ecr__repl_pending(int64_t *count_out, ecr_registry *reg);
/* How many jobs of every registry of reg's store are queued or running. */
int ecr__repl_pending_store(int64_t *count_out, ecr_registry *reg);

#endif
