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

/**
 * A PostgreSQL metadata store (libpq): the same schema and migrations as the
 * SQLite store, migrated on open; a pool of connections shared by threads;
 * reconnects after the server restarts. Several processes (ecrd nodes) may
 * share one database.
 * @param conninfo "postgres://user[:password]@host[:port]/dbname[?...]",
 *        "postgresql://...", or a libpq "key=value ..." string.
 * @param flags 0 (ECR_STORAGE_NOSYNC is accepted and ignored: durability is the server's).
 * @return 0, ECR_EINVALID (conninfo; a newer schema than this library
 *         knows), ECR_ENETWORK (the server cannot be reached), ECR_EIO, ECR_ENOMEM.
 */
ECR_EXTERN(int) ecr_meta_store_postgres_new(ecr_meta_store **out, const char *conninfo, uint32_t flags);

/**
 * A blob store in an S3 bucket (libcurl, SigV4): blobs under
 * "<prefix>/blobs/sha256/<hex>", uploads staged as multipart uploads and
 * published only when their digest matches.
 * @param url "s3://bucket[/prefix][?endpoint=http://host:port][&region=R]
 *        [&path_style=1]"; without endpoint, AWS's for the region.
 *        Credentials: the usual AWS environment variables and shared files.
 * @param flags 0.
 * @return 0, ECR_EINVALID (url), ECR_EAUTH (no credentials), ECR_ENETWORK
 *         (the bucket cannot be reached), ECR_ENOMEM.
 */
ECR_EXTERN(int) ecr_blob_store_s3_new(ecr_blob_store **out, const char *url, uint32_t flags);

/** Flag: do not fsync. Data can be lost on a crash; for tests only. */
#define ECR_STORAGE_NOSYNC 1u

/** Free a blob store that was not handed to a registry. NULL is a no-op. */
ECR_EXTERN(void) ecr_blob_store_free(ecr_blob_store *store);

/** Free a metadata store that was not handed to a registry. NULL is a no-op. */
ECR_EXTERN(void) ecr_meta_store_free(ecr_meta_store *store);

ECR_END_DECL
/** @} */
#endif
