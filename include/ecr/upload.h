/**
 * @file ecr/upload.h
 * @brief Blob uploads: sessions that survive restarts.
 * @defgroup ecr_upload Blob uploads
 *
 * An upload session receives a blob in one or more chunks, in order, and is
 * committed with the blob's digest: the content is hashed as it streams and
 * published only when it matches. A session can be reopened by its id (from
 * another handle, thread or process) until it is committed, cancelled or
 * expires.
 *
 * THREAD SAFETY: an ecr_upload is used by one thread at a time. Two handles
 * on the same session must not write at once: the second writer gets
 * ECR_ERANGE or ECR_EBUSY.
 * @{
 */
#ifndef ECR_UPLOAD_H
#define ECR_UPLOAD_H

#include "common.h"
#include "repository.h"

ECR_BEGIN_DECL

typedef struct ecr_upload ecr_upload;

/** Length of an upload id (a UUID) without its terminator. */
#define ECR_UPLOAD_ID_LEN 36

/**
 * Start an upload session in a repository.
 * @return 0, ECR_EREPOSITORY_NOT_FOUND, ECR_EIO.
 */
ECR_EXTERN(int) ecr_upload_begin(ecr_upload **out, ecr_repository *repo);

/**
 * Reopen an upload session to resume it.
 * @return 0; ECR_EUPLOAD when the id is unknown, finished or expired.
 */
ECR_EXTERN(int) ecr_upload_open(ecr_upload **out, ecr_repository *repo, const char *upload_id);

/**
 * The session id: a UUID for a local registry. For a remote registry it is
 * the transport's handle on the session (for HTTP, the Location the registry
 * gave), longer than ECR_UPLOAD_ID_LEN, and it changes with every
 * ecr_upload_write(): read it again before handing it to ecr_upload_open().
 * @return borrowed, valid until the next write or ecr_upload_free().
 */
ECR_EXTERN(const char *) ecr_upload_id(const ecr_upload *up);

/** Bytes received so far. */
ECR_EXTERN(uint64_t) ecr_upload_size(const ecr_upload *up);

/** When the session started, ms since the epoch. */
ECR_EXTERN(int64_t) ecr_upload_started_at(const ecr_upload *up);

/**
 * Append a chunk.
 * @param offset where the chunk starts; must equal ecr_upload_size().
 * @return 0; ECR_ERANGE when offset is not the current size (nothing is
 *         written); ECR_ELIMIT beyond the blob size limit; ECR_EIO.
 */
ECR_EXTERN(int) ecr_upload_write(ecr_upload *up, uint64_t offset, const void *data, size_t len);

/**
 * Finish the upload: verify the digest, publish the blob and link it to the
 * repository. The session ends either way, except on ECR_EIO (retry).
 * @param digest "sha256:<hex>" or "sha512:<hex>".
 * @return 0; ECR_EINVALID (malformed digest); ECR_EDIGEST (content does not
 *         match); ECR_EEMPTY is never returned (an empty blob is valid in OCI);
 *         ECR_EIO.
 */
ECR_EXTERN(int) ecr_upload_commit(ecr_upload *up, const char *digest);

/** Cancel the upload and discard what was received. @return 0, ECR_EUPLOAD. */
ECR_EXTERN(int) ecr_upload_cancel(ecr_upload *up);

/** Free the handle. An unfinished session stays open for ecr_upload_open(). NULL is a no-op. */
ECR_EXTERN(void) ecr_upload_free(ecr_upload *up);

ECR_END_DECL
/** @} */
#endif
