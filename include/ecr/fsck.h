/**
 * @file ecr/fsck.h
 * @brief Consistency check of a registry's storage (ecr_registry_fsck).
 * @defgroup ecr_fsck Consistency check
 *
 * The check reads the metadata and the blob store of an in-process registry
 * and reports, through a callback, every problem it finds:
 * - every blob the metadata needs (image manifests, configs and layers, blobs
 *   linked to repositories, compressed copies of archived blobs) is present,
 *   has the size the metadata records, and hashes to its digest (re-read
 *   from the blob store);
 * - every reference resolves: tags name images of their repository, index
 *   children are images of the repository, configs and layers are linked to
 *   the repository, archived blobs have a raw or a compressed copy;
 * - blobs that no metadata references and staging objects that no upload
 *   session owns are reported as notices (ECR_FSCK_NOTICE): that is garbage
 *   collection's business, not an inconsistency.
 *
 * THREAD SAFETY: may run while other threads use the registry; it holds the
 * storage's GC lock shared for the duration of the check, so garbage
 * collection in this process waits for it. Other processes (nodes sharing
 * PostgreSQL and S3) may still collect garbage meanwhile: run it when they
 * are quiet.
 * @{
 */
#ifndef ECR_FSCK_H
#define ECR_FSCK_H

#include "common.h"
#include "registry.h"

ECR_BEGIN_DECL

/** What a problem is about. */
typedef enum ecr_fsck_kind {
	ECR_FSCK_BLOB_MISSING = 1,      /**< a blob the metadata needs is not in the blob store */
	ECR_FSCK_BLOB_CORRUPT = 2,      /**< a blob's content does not hash to its digest */
	ECR_FSCK_BLOB_SIZE = 3,         /**< a blob's size differs from the size the metadata records */
	ECR_FSCK_TAG_DANGLING = 4,      /**< a tag names an image that is not in its repository */
	ECR_FSCK_CHILD_MISSING = 5,     /**< an index's child manifest is not an image of the repository */
	ECR_FSCK_BLOB_UNLINKED = 6,     /**< a manifest's config or layer is not linked to the repository */
	ECR_FSCK_ARCHIVE_MISSING = 7,   /**< an archived blob has neither its raw nor its compressed copy */
	ECR_FSCK_IO = 8,                /**< the storage failed while reading (the message says how) */
	ECR_FSCK_UNREFERENCED = 9,      /**< notice: a blob nothing references (garbage collection removes it) */
	ECR_FSCK_STAGE_ORPHAN = 10      /**< notice: a staging object without an upload session */
} ecr_fsck_kind;

/** How serious a problem is. */
typedef enum ecr_fsck_severity {
	ECR_FSCK_ERROR = 0,  /**< an inconsistency */
	ECR_FSCK_NOTICE = 1  /**< garbage that GC removes; not an inconsistency */
} ecr_fsck_severity;

/** One problem; borrowed for the duration of the callback. */
typedef struct ecr_fsck_problem {
	unsigned int version;
	ecr_fsck_kind kind;
	ecr_fsck_severity severity;
	const char *account_id; /**< the registry, or NULL for the storage as a whole */
	const char *region;     /**< or NULL */
	const char *repository; /**< or NULL */
	const char *digest;     /**< the image or blob concerned, or NULL */
	const char *message;    /**< one line, for people */
} ecr_fsck_problem;

#define ECR_FSCK_PROBLEM_VERSION 1

/**
 * Receives each problem. Return 0 to go on; a non-zero value stops the check
 * and ecr_registry_fsck() returns it.
 */
typedef int (*ecr_fsck_cb)(const ecr_fsck_problem *problem, void *payload);

/** Check every registry (account x region) of the storage, not only the one of the handle. */
#define ECR_FSCK_ALL_REGISTRIES 1u
/** Do not re-hash blobs (check presence and sizes only). */
#define ECR_FSCK_NO_HASH 2u

/** Options for ecr_registry_fsck(). */
typedef struct ecr_fsck_options {
	unsigned int version;
	/** ECR_FSCK_ALL_REGISTRIES, ECR_FSCK_NO_HASH. */
	uint32_t flags;
} ecr_fsck_options;

#define ECR_FSCK_OPTIONS_VERSION 1
#define ECR_FSCK_OPTIONS_INIT { ECR_FSCK_OPTIONS_VERSION, 0 }

/** Initialise fsck options. @since 0.2 @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_fsck_options_init(ecr_fsck_options *opts, unsigned int version);

/** What a check looked at and found. */
typedef struct ecr_fsck_stats {
	unsigned int version;
	uint64_t registries;   /**< registries checked */
	uint64_t repositories;
	uint64_t images;
	uint64_t tags;
	uint64_t blobs_checked; /**< distinct blobs the metadata needs, checked */
	uint64_t bytes_hashed;
	uint64_t blobs_stored;  /**< blobs in the blob store (with ECR_FSCK_ALL_REGISTRIES) */
	uint64_t errors;        /**< problems of severity ECR_FSCK_ERROR */
	uint64_t notices;       /**< problems of severity ECR_FSCK_NOTICE */
} ecr_fsck_stats;

#define ECR_FSCK_STATS_VERSION 1
#define ECR_FSCK_STATS_INIT { ECR_FSCK_STATS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/**
 * Check the consistency of the registry's storage (see the file's comment).
 * Unreferenced blobs and orphaned staging objects are looked for only with
 * ECR_FSCK_ALL_REGISTRIES (a blob of another registry is not garbage).
 * @since 0.2
 * @param reg an in-process registry (ECR_ENOTSUPPORTED for a remote one)
 * @param opts may be NULL (this registry, blobs re-hashed)
 * @param cb called for each problem; may be NULL (then count only)
 * @param stats_out may be NULL; else its version must be set
 * @return 0 when the check ran to the end, whatever it found (see
 *         stats_out->errors); a non-zero value cb returned; ECR_EINVALID;
 *         ECR_ENOTSUPPORTED; an error of the metadata store.
 */
ECR_EXTERN(int) ecr_registry_fsck(ecr_registry *reg, const ecr_fsck_options *opts, ecr_fsck_cb cb, void *payload,
	ecr_fsck_stats *stats_out);

ECR_END_DECL
/** @} */
#endif
