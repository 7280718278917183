/**
 * @file ecr/stats.h
 * @brief Operational statistics: a registry's counters and the HTTP server's /metrics.
 * @defgroup ecr_stats Statistics and metrics
 *
 * ecr_registry_stats() reads what the engine counts (garbage collections,
 * storage errors) and what the metadata store knows (scans, replication jobs)
 * about one registry. The HTTP server (ecr/server.h) counts requests by route
 * class and status, their latencies and bytes, and serves all of it as
 * `GET /metrics` in the Prometheus text exposition format 0.0.4.
 *
 * Counters since the storage was opened in this process: garbage collections
 * and storage errors are counted per storage (a file:// folder, or the stores
 * given to ecr_registry_open_storage()), shared by every registry of that
 * storage; scans and replication jobs are the registry's own, read from the
 * metadata store when asked.
 *
 * THREAD SAFETY: ecr_registry_stats() may be called from any thread.
 * @{
 */
#ifndef ECR_STATS_H
#define ECR_STATS_H

#include "buffer.h"
#include "common.h"
#include "registry.h"
#include "server.h"

ECR_BEGIN_DECL

/** A registry's statistics. Set version (ECR_STATS_INIT) before the call. */
typedef struct ecr_stats {
	unsigned int version;
	/* Garbage collection in this process, over the registry's storage (ecr_registry_gc()). */
	uint64_t gc_runs;          /**< collections that ran to the end (dry runs and skipped ones not counted) */
	uint64_t gc_failures;      /**< collections that failed */
	uint64_t gc_blobs_deleted; /**< blobs removed from the blob store */
	uint64_t gc_bytes_freed;   /**< their total size */
	/* Storage errors in this process, over the registry's storage: failed calls other than "not found",
	 * "exists" and digest mismatches (I/O errors, disk full, a database that fails). */
	uint64_t blob_store_errors;
	uint64_t meta_store_errors;
	/* Image scans of the registry now (from the metadata store). */
	uint64_t scans_in_progress;
	uint64_t scans_complete;
	uint64_t scans_failed; /**< FAILED, UNSUPPORTED_IMAGE and other terminal non-complete states */
	/* Replication jobs of the registry now (from the metadata store). */
	uint64_t replication_queued; /**< waiting (including retries not due yet) */
	uint64_t replication_running;
	uint64_t replication_complete;
	uint64_t replication_failed;
} ecr_stats;

#define ECR_STATS_VERSION 1
#define ECR_STATS_INIT                                                                                                 \
	{                                                                                                              \
		ECR_STATS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0                                               \
	}

/**
 * A registry's statistics into out (out->version must be set).
 * @return 0; ECR_EINVALID (version, NULL); ECR_ENOTSUPPORTED (a remote registry);
 *         a storage error code.
 */
ECR_EXTERN(int) ecr_registry_stats(ecr_stats *out, ecr_registry *reg);

/** Who may read /metrics (ecr_server_set_metrics()). */
typedef enum ecr_server_metrics_access {
	ECR_SERVER_METRICS_LOCAL = 0, /**< loopback peers only (127.0.0.0/8, ::1): the default */
	ECR_SERVER_METRICS_OFF = 1,   /**< no /metrics route (404) */
	ECR_SERVER_METRICS_ANY = 2    /**< every peer (it reveals account ids and repository activity) */
} ecr_server_metrics_access;

/**
 * Choose who may read `GET /metrics`. Refused peers get 403. Set before
 * ecr_server_start().
 * @return 0; ECR_EINVALID; ECR_EBUSY (server running).
 */
ECR_EXTERN(int) ecr_server_set_metrics(ecr_server *srv, ecr_server_metrics_access access);

/**
 * Append lines to a scrape: called at every `GET /metrics` (from a worker
 * thread, possibly concurrently with itself) after the server's own
 * families; it appends complete families (`# HELP`, `# TYPE`, samples) in
 * the text exposition format to out. A non-zero return fails the scrape (500).
 */
typedef int (*ecr_server_metrics_cb)(ecr_buf *out, void *payload);

/**
 * Add a metrics callback (up to 8). Set before ecr_server_start().
 * @return 0; ECR_EINVALID; ECR_ELIMIT (too many); ECR_EBUSY (server running).
 */
ECR_EXTERN(int) ecr_server_add_metrics_cb(ecr_server *srv, ecr_server_metrics_cb cb, void *payload);

/**
 * The text a `GET /metrics` would answer now, into out (appended). For
 * embedders that serve it elsewhere, and for tests.
 * @return 0; ECR_ENOMEM; what a metrics callback returned.
 */
ECR_EXTERN(int) ecr_server_metrics(ecr_buf *out, ecr_server *srv);

/**
 * Append len bytes of text to out (for metrics callbacks: ecr_buf has no other
 * public writer).
 * @return 0; ECR_EINVALID; ECR_ENOMEM.
 */
ECR_EXTERN(int) ecr_metrics_append(ecr_buf *out, const char *text, size_t len);

/**
 * Prometheus label value escaping (backslash, double quote, newline), appended
 * to out. For metrics callbacks.
 * @return 0; ECR_ENOMEM.
 */
ECR_EXTERN(int) ecr_metrics_escape(ecr_buf *out, const char *value);

ECR_END_DECL
/** @} */
#endif
