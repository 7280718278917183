/**
 * @file ecr/sys/blob_store.h
 * @brief The blob store interface, for backend authors.
 * @defgroup ecr_sys_blob_store Blob store backends
 *
 * Blobs are content-addressed by digest ("sha256:<64 hex>" or
 * "sha512:<128 hex>"). New content is written to a named staging object
 * (one per upload session), hashed as it streams, and published under its
 * digest only when the digest matches: atomically and durably. A reader never
 * sees a partial blob. Staging objects survive a restart, so an upload can
 * resume.
 *
 * A backend embeds ecr_blob_store as its first member. Methods return 0 or a
 * negative ECR_E* code and set the error with the library's error functions.
 * The interface in ecr/sys/ may change between minor releases.
 *
 * THREAD SAFETY: store methods are called from many threads at once. A writer
 * or reader is used by one thread at a time.
 * @{
 */
#ifndef ECR_SYS_BLOB_STORE_H
#define ECR_SYS_BLOB_STORE_H

#include "../buffer.h"
#include "../common.h"
#include "../storage.h"

ECR_BEGIN_DECL

typedef struct ecr_blob_store_writer ecr_blob_store_writer;
typedef struct ecr_blob_store_reader ecr_blob_store_reader;

/** Called for each blob by list(): digest, size, modification time (ms since the epoch). */
typedef int (*ecr_blob_store_list_cb)(const char *digest, uint64_t size, int64_t mtime_ms, void *payload);
/** Called for each staging object by stage_list(). */
typedef int (*ecr_blob_store_stage_cb)(const char *stage_id, uint64_t size, int64_t mtime_ms, void *payload);

/** Writes one staging object. */
struct ecr_blob_store_writer {
	unsigned int version;
	/** Bytes in the staging object so far. */
	uint64_t size;
	/** Append len bytes. ECR_EIO on a storage failure (the bytes may be partly written: size says how many). */
	int (*write)(ecr_blob_store_writer *w, const void *data, size_t len);
	/**
	 * Verify the content against digest, make it durable and publish it under
	 * that digest; the staging object is gone afterwards. Publishing a digest
	 * that exists already succeeds. ECR_EDIGEST (staging removed) when the
	 * content does not match; ECR_EIO on a storage failure (staging kept).
	 * The writer must still be closed.
	 */
	int (*commit)(ecr_blob_store_writer *w, const char *digest);
	/** The digest of the bytes written so far, into out (at least 136 bytes). */
	int (*digest)(ecr_blob_store_writer *w, char *out, size_t outlen);
	/** Release the writer; the staging object stays (unless committed). */
	void (*close)(ecr_blob_store_writer *w);

	/* version 2 */
	/**
	 * Optional (may be NULL): make every byte written so far part of the
	 * staging object, as digest() does, but without waiting for work that
	 * does not change it (a backend may go on hashing in the background).
	 * Called at the end of each request of a chunked upload; digest(),
	 * commit() and close() still settle everything. The library calls
	 * digest() instead when this is NULL or version < 2.
	 */
	int (*flush)(ecr_blob_store_writer *w);
};

/** Reads one published blob. */
struct ecr_blob_store_reader {
	unsigned int version;
	/** Size of the whole blob. */
	uint64_t size;
	/** Read up to len bytes at the current position; *nread is 0 at the end. */
	int (*read)(ecr_blob_store_reader *r, void *buf, size_t len, size_t *nread);
	/**
	 * Optional (may be NULL): a file descriptor and the file offset of the
	 * blob's first byte, so a server can sendfile(2) it. The descriptor stays
	 * owned by the reader.
	 */
	int (*fd)(ecr_blob_store_reader *r, int *fd_out, uint64_t *offset_out);
	void (*close)(ecr_blob_store_reader *r);
};

struct ecr_blob_store {
	unsigned int version;
	/**
	 * Open the staging object named stage_id (letters, digits, '-'),
	 * creating it when missing. An existing one is reopened for appending:
	 * its bytes are hashed again so the writer can go on.
	 */
	int (*stage_open)(ecr_blob_store_writer **out, ecr_blob_store *self, const char *stage_id, int create);
	/** Remove a staging object. ECR_ENOTFOUND when there is none. */
	int (*stage_remove)(ecr_blob_store *self, const char *stage_id);
	/** List the staging objects (used to expire abandoned uploads). */
	int (*stage_list)(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload);
	/** Open a blob for reading from offset. ECR_ENOTFOUND; ECR_ERANGE when offset > size. */
	int (*read_open)(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset);
	/** The size of a blob. ECR_ENOTFOUND. */
	int (*stat)(ecr_blob_store *self, const char *digest, uint64_t *size_out);
	/** Remove a blob. ECR_ENOTFOUND. */
	int (*remove)(ecr_blob_store *self, const char *digest);
	/** List every published blob. */
	int (*list)(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload);
	/** Release the store. */
	void (*free)(ecr_blob_store *self);

	/* version 2 */
	/**
	 * Optional (may be NULL): a URL from which anyone holding it can GET the
	 * blob's bytes without other credentials for lifetime_seconds (1 to
	 * 604800), e.g. an S3 presigned URL, written into url_out (replacing its
	 * content). The blob's existence is not checked. ECR_EINVALID (digest,
	 * lifetime); ECR_ENOTSUPPORTED when this store cannot presign after all.
	 * Read by the library only when version >= 2.
	 */
	int (*presign)(ecr_blob_store *self, const char *digest, int64_t lifetime_seconds, ecr_buf *url_out);
};

/* Version 1: stage_open ... free. Version 2 (0.2): presign appended. Writer
 * version 2 (0.2): flush appended. A backend built against an older header
 * keeps its version and smaller struct; the library never reads past the
 * members of the version set. */
#define ECR_BLOB_STORE_VERSION 2
#define ECR_BLOB_STORE_WRITER_VERSION 2
#define ECR_BLOB_STORE_READER_VERSION 1

/**
 * Zero a vtable and set its version: only the members that version has are
 * written, so a backend built against an older header may call it.
 * @return 0 or ECR_EINVALID.
 */
ECR_EXTERN(int) ecr_blob_store_init(ecr_blob_store *store, unsigned int version);

ECR_END_DECL
/** @} */
#endif
