/**
 * @file ecr/registry.h
 * @brief Open a registry, garbage-collect it.
 * @defgroup ecr_registry Registry
 *
 * A registry is one account in one region. Several registries can live in one
 * data folder and share its storage (blobs are stored once).
 *
 * THREAD SAFETY: an ecr_registry is internally locked: any number of threads
 * may use one registry handle at once. Handles derived from it (repositories,
 * images, uploads, iterators) are used by one thread at a time.
 * @{
 */
#ifndef ECR_REGISTRY_H
#define ECR_REGISTRY_H

#include "common.h"
#include "buffer.h"
#include "event.h"
#include "log.h"
#include "storage.h"

ECR_BEGIN_DECL

typedef struct ecr_registry ecr_registry;

/** Returns the current time in milliseconds since the epoch. */
typedef int64_t (*ecr_clock_cb)(void *payload);

/** Options for ecr_registry_open(). NULL means all defaults. */
typedef struct ecr_registry_options {
	unsigned int version;
	/** The 12-digit account id; NULL: "123456789012". */
	const char *account_id;
	/** The region, e.g. "eu-west-1"; NULL: "us-east-1". */
	const char *region;
	/** Log messages go here; NULL: nowhere. Called from any thread. */
	ecr_log_cb log_cb;
	void *log_payload;
	/** The most verbose level passed to log_cb; 0: ECR_LOG_WARN. */
	ecr_log_level log_level;
	/** The clock; NULL: the system's. Tests set it to move time. */
	ecr_clock_cb clock_cb;
	void *clock_payload;
	/** Upload sessions untouched for this long expire; 0: 24 hours. */
	uint64_t upload_expiry_seconds;
	/** ECR_STORAGE_NOSYNC, or 0. */
	uint32_t flags;
	/* version 2 */
	/** Events (lifecycle actions, ...) go here; NULL: nowhere. See ecr/event.h. */
	ecr_event_cb event_cb;
	void *event_payload;
} ecr_registry_options;

#define ECR_REGISTRY_OPTIONS_VERSION 2
#define ECR_REGISTRY_OPTIONS_INIT { ECR_REGISTRY_OPTIONS_VERSION, NULL, NULL, NULL, NULL, ECR_LOG_NONE, NULL, NULL, 0, 0, NULL, NULL }

/** Initialise options to the defaults. @return 0 or ECR_EINVALID for an unknown version. */
ECR_EXTERN(int) ecr_registry_options_init(ecr_registry_options *opts, unsigned int version);

/**
 * Open a registry.
 * @param out receives the registry; free with ecr_registry_free().
 * @param url "file:///path/to/folder" (created if missing: blobs in files,
 *        metadata in SQLite) or "memory:" (nothing kept after the last free).
 * @param opts options, or NULL for defaults; read during the call only.
 * @return 0; ECR_EINVALID for a bad URL, account id, region or options
 *         version; ECR_EIO when the storage cannot be opened.
 */
ECR_EXTERN(int) ecr_registry_open(ecr_registry **out, const char *url, const ecr_registry_options *opts);

/**
 * Open a registry on storage backends of the caller's (see ecr/storage.h).
 * The registry takes ownership of both stores, also when it fails.
 */
ECR_EXTERN(int) ecr_registry_open_storage(ecr_registry **out, ecr_blob_store *blobs, ecr_meta_store *meta,
	const ecr_registry_options *opts);

/** Close a registry. Open repositories, images and uploads must be freed first. NULL is a no-op. */
ECR_EXTERN(void) ecr_registry_free(ecr_registry *reg);

/** The account id. @return borrowed, lives as long as reg. */
ECR_EXTERN(const char *) ecr_registry_account_id(const ecr_registry *reg);

/** The region. @return borrowed, lives as long as reg. */
ECR_EXTERN(const char *) ecr_registry_region(const ecr_registry *reg);

/** The registry's clock, in milliseconds since the epoch. */
ECR_EXTERN(int64_t) ecr_registry_now(const ecr_registry *reg);

/**
 * The registry's ARN, "arn:aws:ecr:<region>:<account>:registry" (the
 * resource of registry-level actions). @return borrowed.
 */
ECR_EXTERN(const char *) ecr_registry_arn(const ecr_registry *reg);

/**
 * Set the registry policy (a resource policy, see ecr/policy.h).
 * @return 0; ECR_EINVALID (document); ECR_ELIMIT.
 */
ECR_EXTERN(int) ecr_registry_set_policy(ecr_registry *reg, const char *text);

/** The registry policy. @return 0; ECR_EREGISTRY_POLICY_NOT_FOUND. */
ECR_EXTERN(int) ecr_registry_policy(ecr_buf *out, ecr_registry *reg);

/**
 * Delete the registry policy.
 * @param deleted_out receives what was deleted; may be NULL.
 * @return 0; ECR_EREGISTRY_POLICY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_registry_delete_policy(ecr_buf *deleted_out, ecr_registry *reg);

/**
 * An account setting (ECR's GetAccountSetting): "BASIC_SCAN_TYPE_VERSION"
 * (default "AWS_NATIVE") or "REGISTRY_POLICY_SCOPE" (default "V2").
 * @return 0; ECR_EVALIDATION for an unknown name.
 */
ECR_EXTERN(int) ecr_registry_setting(ecr_buf *out, ecr_registry *reg, const char *name);

/**
 * Change an account setting (ECR's PutAccountSetting); the value must be one
 * the setting accepts (BASIC_SCAN_TYPE_VERSION: AWS_NATIVE or CLAIR;
 * REGISTRY_POLICY_SCOPE: V1 or V2).
 * @return 0; ECR_EVALIDATION.
 */
ECR_EXTERN(int) ecr_registry_set_setting(ecr_registry *reg, const char *name, const char *value);

/** Options for ecr_registry_gc(). */
typedef struct ecr_gc_options {
	unsigned int version;
	/** Blobs and links younger than this are kept; 0: 1 hour. */
	uint64_t grace_seconds;
	/** ECR_GC_DRY_RUN: count only. */
	uint32_t flags;
} ecr_gc_options;

#define ECR_GC_OPTIONS_VERSION 1
#define ECR_GC_OPTIONS_INIT { ECR_GC_OPTIONS_VERSION, 0, 0 }
#define ECR_GC_DRY_RUN 1u

/** Initialise GC options. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_gc_options_init(ecr_gc_options *opts, unsigned int version);

/** What a garbage collection did. */
typedef struct ecr_gc_stats {
	unsigned int version;
	uint64_t uploads_expired;  /**< abandoned upload sessions removed */
	uint64_t links_removed;    /**< repository blob links no image needs */
	uint64_t blobs_removed;    /**< blobs removed from the blob store */
	uint64_t bytes_removed;    /**< their total size */
	uint64_t blobs_kept;       /**< blobs still in the store */
} ecr_gc_stats;

#define ECR_GC_STATS_VERSION 1
#define ECR_GC_STATS_INIT { ECR_GC_STATS_VERSION, 0, 0, 0, 0, 0 }

/**
 * Collect garbage in the registry's storage: expired uploads, blob links of
 * repositories that no image of that repository references, and blobs that no
 * registry in the same storage references. Nothing younger than the grace
 * period is removed, so a concurrent push is never broken.
 * @param stats_out may be NULL; else version must be set.
 */
ECR_EXTERN(int) ecr_registry_gc(ecr_registry *reg, const ecr_gc_options *opts, ecr_gc_stats *stats_out);

ECR_END_DECL
/** @} */
#endif
