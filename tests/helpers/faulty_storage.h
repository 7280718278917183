/* Fault-injecting storage wrappers for tests.
 *
 * Modelled on SQLite's src/test_vfs.c (FAULT_INJECT_TRANSIENT/PERSISTENT on a
 * VFS that wraps a parent VFS) and libgit2's odb backend_helpers.c (a fake
 * backend that counts calls). A wrapper sits in front of a real store and
 * forwards every call to it, except the one it was told to fail.
 *
 * Counting: every call to a wrapped method that can fail is counted in a
 * th_faults, which several wrappers may share (so one counter spans the blob
 * and the metadata calls of one scenario). Counted methods:
 *   blob store:  stage_open, stage_remove, stage_list, read_open, stat, remove, list
 *   writer:      write, commit            (digest and close pass through uncounted)
 *   reader:      read, fd                 (close passes through uncounted; fd is
 *                                          offered only when the inner reader has it)
 *   meta store:  begin, exec, commit      (rollback and free cannot fail: uncounted)
 * When th_faults.only is non-zero, only the methods whose TH_FAULT_* bit is set
 * are counted (and can fail); the others pass through uncounted.
 *
 * Failing: counted call number n (1-based) fails when n == fail_at, or, with
 * persistent set, when n >= fail_at. A failing call does NOT call the inner
 * method: it sets the thread's error with the library's error functions
 * (ecr__fail_os(error, err_no, "injected: <method> (call n)"), or the
 * out-of-memory error when error is ECR_ENOMEM) and returns error. A failed
 * meta commit() rolls the inner transaction back and releases it, as the
 * interface requires. A failed writer write() writes nothing; a failed writer
 * commit() keeps the staging object (the inner commit never ran).
 *
 * The usual sweep: run a scenario once with fail_at = 0 to learn the number of
 * calls N (th_faults.calls), then for k = 1..N rebuild the stores, th_faults_arm(&f, k, 0)
 * (or persistent), rerun and check that the error came back, ecr_error_last()
 * is set and the stores are consistent.
 *
 * Thread safety: counters are updated atomically, so wrapped stores may be used
 * from many threads at once, as the real ones are. Set the configuration fields
 * (fail_at, persistent, error, err_no, only) before the calls start, or with
 * th_faults_arm().
 *
 * Memory: wrappers are allocated with the C library's malloc (not ecr__malloc),
 * so they do not shift the numbering of an allocation-failure sweep.
 */
#ifndef ECR_TESTS_FAULTY_STORAGE_H
#define ECR_TESTS_FAULTY_STORAGE_H

#include "ecr.h"
#include "ecr/sys/blob_store.h"
#include "ecr/sys/meta_store.h"

/* Method bits, for th_faults.only and th_faults_method_calls(). */
enum {
	TH_FAULT_BLOB_STAGE_OPEN = 1u << 0,
	TH_FAULT_BLOB_STAGE_REMOVE = 1u << 1,
	TH_FAULT_BLOB_STAGE_LIST = 1u << 2,
	TH_FAULT_BLOB_READ_OPEN = 1u << 3,
	TH_FAULT_BLOB_STAT = 1u << 4,
	TH_FAULT_BLOB_REMOVE = 1u << 5,
	TH_FAULT_BLOB_LIST = 1u << 6,
	TH_FAULT_BLOB_WRITE = 1u << 7,  /* writer->write */
	TH_FAULT_BLOB_COMMIT = 1u << 8, /* writer->commit */
	TH_FAULT_BLOB_READ = 1u << 9,   /* reader->read */
	TH_FAULT_BLOB_FD = 1u << 10,    /* reader->fd */
	TH_FAULT_META_BEGIN = 1u << 16,
	TH_FAULT_META_EXEC = 1u << 17,
	TH_FAULT_META_COMMIT = 1u << 18,
};
#define TH_FAULT_BLOB_ALL 0x0000ffffu
#define TH_FAULT_META_ALL 0xffff0000u
#define TH_FAULT_NMETHODS 32

typedef struct th_faults {
	/* configuration */
	unsigned long fail_at; /* fail the Nth counted call (1-based); 0 = never */
	int persistent;        /* 0: fail only call fail_at (transient); 1: it and every later one */
	int error;             /* the code to return; 0 means ECR_EIO */
	int err_no;            /* errno for the message (ENOSPC, EIO ...); 0 means EIO */
	unsigned int only;     /* TH_FAULT_* bits of the methods to count; 0 = all */
	unsigned int slow;     /* TH_FAULT_* bits of the methods that sleep delay_us first (counted or not) */
	unsigned int delay_us;
	/* results, updated atomically */
	unsigned long calls;    /* counted calls so far */
	unsigned long failures; /* injected failures so far */
	unsigned long method_calls[TH_FAULT_NMETHODS]; /* counted calls per method bit */
	const char *last_failed; /* name of the method that failed last ("blob.write"), or NULL */
} th_faults;

/* Zero everything: never fail, ECR_EIO/EIO, count all methods. */
void th_faults_init(th_faults *f);
/* Zero the results and set fail_at and persistent (error, err_no, only are kept). */
void th_faults_arm(th_faults *f, unsigned long fail_at, int persistent);
/* Counted calls of one method (a single TH_FAULT_* bit). */
unsigned long th_faults_method_calls(const th_faults *f, unsigned int method);
/* The name of a method bit ("blob.stage_open", "meta.exec" ...). */
const char *th_faults_method_name(unsigned int method);

/*
 * Count one call of method and decide: 0 to go on, or the injected error code
 * (with the thread's error set). The wrappers call this; other test fakes can
 * too, to share a counter. f may be NULL (never fails).
 */
int th_faults_hit(th_faults *f, unsigned int method);

/*
 * Wrap a blob store. On success *out owns inner (freeing *out frees inner);
 * on failure (ECR_ENOMEM, ECR_EINVALID) inner still belongs to the caller.
 * faults must outlive the wrapper; it may be shared with other wrappers.
 */
int th_faulty_blob_store_new(ecr_blob_store **out, ecr_blob_store *inner, th_faults *faults);

/* Wrap a metadata store; ownership as for th_faulty_blob_store_new. */
int th_faulty_meta_store_new(ecr_meta_store **out, ecr_meta_store *inner, th_faults *faults);

#endif
