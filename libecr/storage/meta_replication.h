/* The replication configuration and the replication job queue (schema v2):
 * the SQL behind libecr/engine/replication_config.c and replication_queue.c. */
#ifndef ECR_STORAGE_META_REPLICATION_H
#define ECR_STORAGE_META_REPLICATION_H

#include "meta.h"

/* *doc_out: the stored configuration (ecr__free). ECR_ENOTFOUND (no error set) when never set. */
int ecr__meta_repl_config_get(ecr__txn *t, int64_t registry_id, char **doc_out);
/* Insert or replace. */
int ecr__meta_repl_config_put(ecr__txn *t, int64_t registry_id, const char *document, int64_t now);

/* One row of replication_jobs. */
typedef struct ecr__meta_repl_job {
	int64_t id;
	char *repository;
	char *digest;
	char *tags; /* JSON array */
	char *dest_region;
	char *dest_registry_id;
	int status; /* ECR__REPL_* */
	int attempts;
	int64_t next_attempt_at;
	int64_t lease_until;
	char *failure_reason; /* or NULL */
	int64_t updated_at;   /* also the claim stamp: bumped (strictly increasing) by every queue, claim and end */
} ecr__meta_repl_job;
void ecr__meta_repl_job_dispose(ecr__meta_repl_job *j);

/* The job of (image, destination). ECR_ENOTFOUND (no error set). */
int ecr__meta_repl_job_get(ecr__txn *t, int64_t registry_id, const char *repository, const char *digest,
	const char *dest_region, const char *dest_registry_id, ecr__meta_repl_job *out);
/* Insert the job queued (due now), or queue the existing row again (attempts 0, no reason) with tags (a JSON
 * array: the caller merged them). */
int ecr__meta_repl_job_queue(ecr__txn *t, int64_t registry_id, const char *repository, const char *digest,
	const char *tags, const char *dest_region, const char *dest_registry_id, int64_t now);
/* The next due job (queued with next_attempt_at <= now, or running with lease_until < now), made running with
 * lease_until = lease_until and a new stamp; out receives it. ECR_ENOTFOUND (no error set) when none is due;
 * *next_due_out then receives the earliest next_attempt_at / lease_until of the queued and running jobs (0: none). */
int ecr__meta_repl_job_claim(ecr__txn *t, int64_t registry_id, int64_t now, int64_t lease_until,
	ecr__meta_repl_job *out, int64_t *next_due_out);
/* The same over every registry of the store; *account_out and *region_out (ecr__free) receive the job's source
 * registry (registries.account_id, region). */
int ecr__meta_repl_job_claim_store(ecr__txn *t, int64_t now, int64_t lease_until, ecr__meta_repl_job *out,
	int64_t *next_due_out, char **account_out, char **region_out);
/* Set lease_until of a running job whose stamp is still claim; *changed_out: whether it was. */
int ecr__meta_repl_job_renew(ecr__txn *t, int64_t id, int64_t claim, int64_t lease_until, bool *changed_out);
/* End a running job whose stamp is still claim: status (COMPLETE, FAILED or QUEUED again with next_attempt_at),
 * attempts + 1 unless COMPLETE, reason (NULL clears it). *changed_out: whether it was. */
int ecr__meta_repl_job_end(ecr__txn *t, int64_t id, int64_t claim, int status, const char *reason,
	int64_t next_attempt_at, int64_t now, bool *changed_out);
/* Jobs of the registry that are queued or running. */
int ecr__meta_repl_job_pending(ecr__txn *t, int64_t registry_id, int64_t *count_out);
/* Jobs of every registry of the store that are queued or running. */
int ecr__meta_repl_job_pending_store(ecr__txn *t, int64_t *count_out);
typedef int (*ecr__meta_repl_job_cb)(const ecr__meta_repl_job *j, void *payload);
/* The jobs of an image, in (dest_region, dest_registry_id) order. */
int ecr__meta_repl_job_list_image(ecr__txn *t, int64_t registry_id, const char *repository, const char *digest,
	ecr__meta_repl_job_cb cb, void *payload);

#endif
