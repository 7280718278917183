/* ecr_registry_stats(): what the engine counts (garbage collections, storage
 * errors) and what the metadata store knows (scans, replication jobs). */
#include "engine.h"

#include <stdatomic.h>

#include "../remote/remote.h"
#include "ecr/scan.h"
#include "ecr/stats.h"

void ecr__stats_gc(ecr__store *s, int rc, uint64_t blobs_deleted, uint64_t bytes_freed)
{
	if (rc) {
		atomic_fetch_add_explicit(&s->gc_failures, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&s->gc_runs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->gc_blobs_deleted, blobs_deleted, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->gc_bytes_freed, bytes_freed, memory_order_relaxed);
}

/* replication_jobs.status */
enum { REPL_QUEUED, REPL_RUNNING, REPL_COMPLETE, REPL_FAILED, REPL_STATES };

int ecr_registry_stats(ecr_stats *out, ecr_registry *reg)
{
	ecr_stats st = ECR_STATS_INIT;
	uint64_t scans[ECR_SCAN_FAILED + 2] = {0}, repl[REPL_STATES] = {0};
	ecr__txn t = {0};
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_stats: out is NULL");
	if ((rc = ecr__check_version(out->version, ECR_STATS_VERSION, "ecr_stats")))
		return rc;
	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_stats: registry is NULL");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "statistics", "they are counted by the registry's own host");

	ecr__store *s = reg->store;
	st.gc_runs = atomic_load_explicit(&s->gc_runs, memory_order_relaxed);
	st.gc_failures = atomic_load_explicit(&s->gc_failures, memory_order_relaxed);
	st.gc_blobs_deleted = atomic_load_explicit(&s->gc_blobs_deleted, memory_order_relaxed);
	st.gc_bytes_freed = atomic_load_explicit(&s->gc_bytes_freed, memory_order_relaxed);
	st.blob_store_errors = ecr__blob_errors();
	st.meta_store_errors = ecr__meta_errors();

	if ((rc = ecr__txn_begin(&t, s->meta, false)) ||
	    (rc = ecr__meta_stats_scans(&t, reg->id, scans, sizeof(scans) / sizeof(scans[0]))) ||
	    (rc = ecr__meta_stats_replication(&t, reg->id, repl, REPL_STATES)))
		goto done;
	ecr__txn_rollback(&t);
	st.scans_in_progress = scans[ECR_SCAN_IN_PROGRESS];
	st.scans_complete = scans[ECR_SCAN_COMPLETE];
	/* FAILED, and any later terminal state (the last slot collects states past FAILED) */
	st.scans_failed = scans[ECR_SCAN_FAILED] + scans[ECR_SCAN_FAILED + 1];
	st.replication_queued = repl[REPL_QUEUED];
	st.replication_running = repl[REPL_RUNNING];
	st.replication_complete = repl[REPL_COMPLETE];
	st.replication_failed = repl[REPL_FAILED];
	*out = st;
done:
	ecr__txn_rollback(&t);
	return rc;
}
