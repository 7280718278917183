/* Internal helpers shared by every module: allocation, errors, assertions,
 * checked arithmetic. Every internal .c file includes this first. */
#ifndef ECR_CORE_CORE_H
#define ECR_CORE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ecr.h"
#include "ecr/sys/alloc.h"
#include "ecr/sys/blob_store.h"
#include "ecr/sys/meta_store.h"

#if defined(__GNUC__)
#define ECR__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ECR__UNUSED __attribute__((unused))
#else
#define ECR__PRINTF(a, b)
#define ECR__UNUSED
#endif

/* --- allocation (alloc.c); failures set the static out-of-memory error --- */
void *ecr__malloc(size_t n);
void *ecr__calloc(size_t nmemb, size_t size);
void *ecr__realloc(void *ptr, size_t n);
void ecr__free(void *ptr);
char *ecr__strdup(const char *s);
char *ecr__strndup(const char *s, size_t n);
/* Make room for one more element in an array *arr of n elements of size elem and capacity *cap
 * (capacity doubled, 16 at first); nothing to do while n < *cap. ECR_ENOMEM on failure, *arr kept. */
int ecr__array_grow(void **arr, size_t *cap, size_t n, size_t elem);
/* The active allocator's raw functions (for handing to curl etc.). */
void *ecr__alloc_raw_malloc(size_t n);
void *ecr__alloc_raw_realloc(void *p, size_t n);
void ecr__alloc_raw_free(void *p);

/* --- errors (errors.c) --- */
/* Set the thread's error and return code (a negative ECR_E*). */
int ecr__fail(int code, int klass, const char *fmt, ...) ECR__PRINTF(3, 4);
/* Like ecr__fail, appending ": strerror(errnum)". */
int ecr__fail_os(int code, int errnum, const char *fmt, ...) ECR__PRINTF(3, 4);
/* The out-of-memory error (never allocates); returns ECR_ENOMEM. */
int ecr__fail_oom(void);
/* Change the code of the current error (keeping its message); returns code. */
int ecr__error_recode(int code);
void ecr__error_clear(void);
/* Save and restore the thread's error around cleanup code that may fail. */
typedef struct ecr__error_saved {
	int code, klass;
	char *message;
} ecr__error_saved;
void ecr__error_save(ecr__error_saved *s);
void ecr__error_restore(ecr__error_saved *s);

/* Check a versioned options struct: 0 when version is 1..max, else ECR_EINVALID. */
int ecr__check_version(unsigned int version, unsigned int max, const char *name);

#ifdef NDEBUG
#define ECR_ASSERT(expr) \
	do { \
		if (!(expr)) \
			return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "assertion failed: %s (%s:%d)", #expr, __FILE__, __LINE__); \
	} while (0)
#else
#include <assert.h>
#define ECR_ASSERT(expr) assert(expr)
#endif

/* Checked arithmetic: true on overflow. */
static inline bool ecr__add_overflow(size_t a, size_t b, size_t *out) { return __builtin_add_overflow(a, b, out); }
static inline bool ecr__mul_overflow(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out); }

/* --- internal buffer helpers (buf.c) on the public ecr_buf --- */
int ecr__buf_grow(ecr_buf *b, size_t target_size);
int ecr__buf_put(ecr_buf *b, const void *data, size_t len);
int ecr__buf_puts(ecr_buf *b, const char *s);
int ecr__buf_printf(ecr_buf *b, const char *fmt, ...) ECR__PRINTF(2, 3);
void ecr__buf_clear(ecr_buf *b); /* size = 0, memory kept */
/* Hand the memory to the caller (who frees it with ecr__free); b becomes empty. */
char *ecr__buf_detach(ecr_buf *b);

/*
 * String pairs collected inside a transaction and handed to a caller's
 * callback after it, so that callbacks never run with a transaction open
 * (buf.c). ecr__pairs_add has the signature of a (key, value) callback.
 */
typedef struct ecr__pairs {
	ecr_buf firsts, seconds; /* NUL-separated */
	size_t count;
} ecr__pairs;
#define ECR__PAIRS_INIT { ECR_BUF_INIT, ECR_BUF_INIT, 0 }
int ecr__pairs_add(const char *first, const char *second, void *pairs);
/* Call cb on each pair in order; a non-zero return stops and is returned. */
int ecr__pairs_each(const ecr__pairs *p, int (*cb)(const char *, const char *, void *), void *payload);
void ecr__pairs_dispose(ecr__pairs *p);

/* --- global state (init.c) --- */
int ecr__initialized(void);

#endif
