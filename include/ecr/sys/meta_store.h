/**
 * @file ecr/sys/meta_store.h
 * @brief The metadata store interface, for backend authors.
 * @defgroup ecr_sys_meta_store Metadata store backends
 *
 * The metadata store is a SQL database driver. libecr keeps all of its SQL in
 * one module (libecr/storage/meta*.c) written in the common subset of SQLite
 * and PostgreSQL, with '?' placeholders; a driver for another database
 * rewrites placeholders as it needs and names its dialect. Every statement runs
 * inside a transaction.
 *
 * A backend embeds ecr_meta_store as its first member.
 *
 * THREAD SAFETY: begin() is called from many threads at once; a transaction
 * is used by one thread only.
 * @{
 */
#ifndef ECR_SYS_META_STORE_H
#define ECR_SYS_META_STORE_H

#include "../common.h"
#include "../storage.h"

ECR_BEGIN_DECL

typedef struct ecr_meta_txn ecr_meta_txn;

/** Types of SQL values. */
typedef enum ecr_sql_type {
	ECR_SQL_NULL = 0,
	ECR_SQL_INT = 1,  /**< i */
	ECR_SQL_TEXT = 2, /**< s, len (NUL-terminated as well) */
	ECR_SQL_BLOB = 3  /**< s, len */
} ecr_sql_type;

/** A parameter or a column value. */
typedef struct ecr_sql_value {
	ecr_sql_type type;
	int64_t i;
	const char *s;
	size_t len;
} ecr_sql_value;

/** Called once per result row; the values are valid during the call. Non-zero stops and is returned. */
typedef int (*ecr_sql_row_cb)(const ecr_sql_value *cols, size_t ncols, void *payload);

struct ecr_meta_store {
	unsigned int version;
	/** "sqlite" or "postgres". */
	const char *dialect;
	/**
	 * Start a transaction. write != 0 takes the write lock at once (SQLite
	 * BEGIN IMMEDIATE), so a read-then-write transaction cannot deadlock.
	 * write == 2 asks for an atomic write transaction: its statements are
	 * each atomic and it claims rows itself (leases, job claims with
	 * FOR UPDATE SKIP LOCKED), so a store may run it beside other atomic
	 * ones instead of behind the write lock (PostgreSQL: READ COMMITTED
	 * under the shared form of the writers' lock); a store that does not
	 * distinguish it treats it as any write (write != 0).
	 */
	int (*begin)(ecr_meta_txn **out, ecr_meta_store *self, int write);
	/**
	 * Run one statement with params bound to its placeholders; call cb for
	 * each row (cb may be NULL). *changes_out (may be NULL) gets the number
	 * of rows changed. A constraint violation returns ECR_EEXISTS; a storage
	 * failure ECR_EIO.
	 */
	int (*exec)(ecr_meta_txn *txn, const char *sql, const ecr_sql_value *params, size_t nparams,
		ecr_sql_row_cb cb, void *payload, int64_t *changes_out);
	/** Commit and release the transaction. On failure it is rolled back and released too. */
	int (*commit)(ecr_meta_txn *txn);
	/** Roll back and release the transaction. */
	void (*rollback)(ecr_meta_txn *txn);
	/** Release the store. */
	void (*free)(ecr_meta_store *self);
};

#define ECR_META_STORE_VERSION 1

/** Zero a vtable and set its version. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_meta_store_init(ecr_meta_store *store, unsigned int version);

ECR_END_DECL
/** @} */
#endif
