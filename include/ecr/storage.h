/**
 * @file ecr/storage.h
 * @brief The built-in storage backends.
 * @defgroup ecr_storage Storage backends
 *
 * A registry keeps blobs (layers, configs, manifests; content-addressed) in a
 * blob store and everything else in a transactional metadata store. These
 * constructors create the built-in ones; ecr_registry_open_storage() puts a
 * registry on them. Their interfaces are in ecr/sys/, for backend authors.
 *
 * THREAD SAFETY: stores are internally locked and may be used by several
 * threads at once.
 * @{
 */
#ifndef ECR_STORAGE_H
#define ECR_STORAGE_H

#include "common.h"

ECR_BEGIN_DECL

/** A blob store (see ecr/sys/blob_store.h). */
typedef struct ecr_blob_store ecr_blob_store;
/** A metadata store (see ecr/sys/meta_store.h). */
typedef struct ecr_meta_store ecr_meta_store;

/**
 * A blob store in a folder: blobs/<alg>/<2 hex>/<hex>, staging in uploads/.
 * Every published blob was fsynced, renamed into place and its folder fsynced.
 * @param out receives the store; free it with its free method or hand it to
 *        ecr_registry_open_storage().
 * @param path the folder; created if missing.
 * @param flags 0, or ECR_STORAGE_NOSYNC to skip fsync (tests only).
 * @return 0, ECR_EIO, ECR_ENOMEM.
 */
ECR_EXTERN(int) ecr_blob_store_fs_new(ecr_blob_store **out, const char *path, uint32_t flags);

/** A blob store in memory; everything is lost when it is freed. */
ECR_EXTERN(int) ecr_blob_store_memory_new(ecr_blob_store **out);

/**
 * A SQLite metadata store (WAL mode, versioned schema, migrated on open).
 * @param path a file name, or ":memory:" for a private in-memory database.
 * @param flags 0, or ECR_STORAGE_NOSYNC (synchronous=OFF; tests only).
 * @return 0, ECR_EIO, ECR_ENOMEM, ECR_EINVALID (a newer schema than this
 *         library knows).
 */
ECR_EXTERN(int) ecr_meta_store_sqlite_new(ecr_meta_store **out, const char *path, uint32_t flags);

/** Flag: do not fsync. Data can be lost on a crash; for tests only. */
#define ECR_STORAGE_NOSYNC 1u

/** Free a blob store that was not handed to a registry. NULL is a no-op. */
ECR_EXTERN(void) ecr_blob_store_free(ecr_blob_store *store);

/** Free a metadata store that was not handed to a registry. NULL is a no-op. */
ECR_EXTERN(void) ecr_meta_store_free(ecr_meta_store *store);

ECR_END_DECL
/** @} */
#endif
