/**
 * @file ecr/blob.h
 * @brief Blobs of a repository: check, read (ranged), mount, unlink.
 * @defgroup ecr_blob Blobs
 *
 * A blob belongs to a repository once it was uploaded or mounted there; the
 * same bytes are stored once however many repositories hold them.
 *
 * THREAD SAFETY: an ecr_blob is used by one thread at a time.
 * @{
 */
#ifndef ECR_BLOB_H
#define ECR_BLOB_H

#include "buffer.h"
#include "common.h"
#include "repository.h"

ECR_BEGIN_DECL

typedef struct ecr_blob ecr_blob;

/**
 * Whether the repository holds a blob.
 * @param size_out receives its size; may be NULL.
 * @return 0; ECR_ENOTFOUND; ECR_EINVALID (malformed digest).
 */
ECR_EXTERN(int) ecr_blob_stat(ecr_repository *repo, const char *digest, uint64_t *size_out);

/**
 * Open a blob for reading.
 * @param offset first byte to read.
 * @param length bytes to read; 0 means to the end.
 * @return 0; ECR_ENOTFOUND; ECR_ERANGE when the range is not within the blob.
 */
ECR_EXTERN(int) ecr_blob_open(ecr_blob **out, ecr_repository *repo, const char *digest, uint64_t offset,
	uint64_t length);

/** Size of the whole blob. */
ECR_EXTERN(uint64_t) ecr_blob_size(const ecr_blob *blob);

/**
 * Read up to len bytes of the opened range.
 * @param nread_out receives the count; 0 at the end of the range.
 */
ECR_EXTERN(int) ecr_blob_read(ecr_blob *blob, void *buf, size_t len, size_t *nread_out);

/**
 * A file descriptor holding the blob and the file offset of the requested
 * range's first byte, for sendfile(2). The descriptor belongs to the blob.
 * @return 0; ECR_ENOTFOUND when the storage has no file descriptors.
 */
ECR_EXTERN(int) ecr_blob_fd(ecr_blob *blob, int *fd_out, uint64_t *offset_out);

/**
 * A URL from which the blob's bytes can be fetched directly from the blob
 * store without other credentials, valid for lifetime_seconds (ECR's
 * GetDownloadUrlForLayer; an S3 presigned URL). Anyone holding the URL can
 * read the blob until it expires.
 * @param out receives the URL (its content is replaced).
 * @param lifetime_seconds 1 to 604800 (7 days).
 * @return 0; ECR_ENOTFOUND (the repository has no such blob);
 *         ECR_ENOTSUPPORTED (the blob store cannot presign, or a remote
 *         registry); ECR_EINVALID.
 */
ECR_EXTERN(int) ecr_blob_download_url(ecr_buf *out, ecr_repository *repo, const char *digest, int64_t lifetime_seconds);

/** Free a blob reader. NULL is a no-op. */
ECR_EXTERN(void) ecr_blob_free(ecr_blob *blob);

/**
 * Store a whole blob from memory (a monolithic upload).
 * @return 0; ECR_EINVALID; ECR_EDIGEST; ECR_EIO.
 */
ECR_EXTERN(int) ecr_blob_put(ecr_repository *repo, const char *digest, const void *data, size_t len);

/**
 * Make a blob of another repository of the same registry available in repo
 * without copying it (cross-repository mount).
 * @return 0; ECR_ENOTFOUND when from does not hold the blob.
 */
ECR_EXTERN(int) ecr_blob_mount(ecr_repository *repo, ecr_repository *from, const char *digest);

/**
 * Remove a blob from a repository. The bytes go at the next garbage
 * collection if nothing else holds them.
 * @return 0; ECR_ENOTFOUND.
 */
ECR_EXTERN(int) ecr_blob_delete(ecr_repository *repo, const char *digest);

ECR_END_DECL
/** @} */
#endif
