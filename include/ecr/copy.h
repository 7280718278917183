/**
 * @file ecr/copy.h
 * @brief Copy an image from one repository handle to another.
 * @defgroup ecr_copy Copying images
 *
 * Source and destination are any repository handles: local (file://,
 * memory:) or remote (http://, https://, a custom transport), in the same
 * registry or not. A copy moves the blobs first (those the destination has
 * already are skipped; within one registry they are mounted instead of
 * copied; several are in flight at once), verifies every byte it moves
 * against its digest, and puts the manifests last, children before the index
 * that lists them: a failed or interrupted copy leaves no manifest on the
 * destination that names a missing blob.
 * @{
 */
#ifndef ECR_COPY_H
#define ECR_COPY_H

#include "common.h"
#include "buffer.h"
#include "repository.h"

ECR_BEGIN_DECL

/** What a progress report is about. */
typedef enum ecr_copy_event {
	ECR_COPY_BLOB_START = 0,    /**< a blob starts moving */
	ECR_COPY_BLOB_PROGRESS = 1, /**< bytes of a blob moved (at most every 64 KiB and 100 ms per blob) */
	ECR_COPY_BLOB_DONE = 2,     /**< a blob is on the destination, verified */
	ECR_COPY_BLOB_SKIPPED = 3,  /**< the destination had the blob already */
	ECR_COPY_BLOB_MOUNTED = 4,  /**< the blob was mounted from the source repository (same registry) */
	ECR_COPY_MANIFEST_DONE = 5  /**< a manifest was put on the destination */
} ecr_copy_event;

/** A progress report (valid during the callback only). */
typedef struct ecr_copy_progress {
	unsigned int version;
	ecr_copy_event event;
	const char *digest;       /**< the blob or manifest */
	const char *media_type;   /**< its media type as the manifest names it */
	uint64_t bytes_done;      /**< of this blob */
	uint64_t bytes_total;     /**< its size */
	uint64_t all_bytes_done;  /**< of every blob of the copy (skipped and mounted ones count as done) */
	uint64_t all_bytes_total; /**< the size of every blob of the copy */
	size_t blobs_done;        /**< blobs finished (done, skipped, mounted) */
	size_t blobs_total;
} ecr_copy_progress;

#define ECR_COPY_PROGRESS_VERSION 1

/**
 * Receives progress reports, from the thread that called ecr_image_copy()
 * only, never two at once. A non-zero return stops the copy (ECR_EUSER) and
 * is returned.
 */
typedef int (*ecr_copy_progress_cb)(const ecr_copy_progress *progress, void *payload);

/** Copy the referrers (signatures, SBOMs, attestations: OCI 1.1 subject) of every manifest copied, recursively. */
#define ECR_COPY_REFERRERS 1u
/** Never mount, even within one registry. */
#define ECR_COPY_NO_MOUNT 2u
/** Put the manifests with ECR_IMAGE_PUT_REPLICA (the replicator's copies). */
#define ECR_COPY_REPLICA 4u

/** Options for ecr_image_copy(). NULL means all defaults. */
typedef struct ecr_copy_options {
	unsigned int version;
	/**
	 * For an image index (manifest list): the platforms to copy, as
	 * "os/architecture[/variant]" (e.g. "linux/arm64/v8"); NULL: all, and the
	 * index is copied unchanged (same digest). With one platform the
	 * destination gets that platform's manifest alone; with several, a new
	 * index listing only them (another digest). ECR_ENOTFOUND when a platform
	 * is not in the index. Ignored for a single image.
	 */
	const char *const *platforms;
	size_t platforms_count;
	/** ECR_COPY_* flags. */
	uint32_t flags;
	/** Blobs moved at once; 0: 4; at most 16. */
	unsigned int parallel;
	ecr_copy_progress_cb progress_cb;
	void *progress_payload;
} ecr_copy_options;

#define ECR_COPY_OPTIONS_VERSION 1
#define ECR_COPY_OPTIONS_INIT { ECR_COPY_OPTIONS_VERSION, NULL, 0, 0, 0, NULL, NULL }

/** Initialise options to the defaults. @return 0 or ECR_EINVALID for an unknown version. */
ECR_EXTERN(int) ecr_copy_options_init(ecr_copy_options *opts, unsigned int version);

/**
 * Copy an image.
 * @param digest_out receives the digest of the top manifest put on the
 *        destination (that of the source unless platforms were chosen from
 *        an index); may be NULL.
 * @param dst the destination repository (it must exist).
 * @param dst_tag the tag it gets there, or NULL: none (by digest only).
 * @param src the source repository.
 * @param src_reference a tag or a digest in src.
 * @param opts options, or NULL.
 * @return 0; ECR_EIMAGE_NOT_FOUND (source); ECR_EDIGEST when bytes received
 *         do not match their digest; ECR_ENETWORK; ECR_EIMMUTABLE (the tag
 *         exists and is immutable on the destination); ECR_EUSER (stopped by
 *         the callback); any code of the handles' operations.
 */
ECR_EXTERN(int) ecr_image_copy(ecr_buf *digest_out, ecr_repository *dst, const char *dst_tag, ecr_repository *src,
	const char *src_reference, const ecr_copy_options *opts);

ECR_END_DECL
/** @} */
#endif
