/**
 * @file ecr/sys/alloc.h
 * @brief Replace the allocator libecr uses.
 * @defgroup ecr_sys_alloc Custom allocator
 *
 * All of libecr's allocations go through this allocator, and so do libcurl's.
 * yajl's tree parser, SQLite and mbedTLS keep their own allocators.
 *
 * THREAD SAFETY: call ecr_set_allocator() before the first ecr_init(), from one
 * thread; the functions it installs are then called from any thread.
 * @{
 */
#ifndef ECR_SYS_ALLOC_H
#define ECR_SYS_ALLOC_H

#include "../common.h"

ECR_BEGIN_DECL

typedef struct ecr_allocator {
	unsigned int version;
	/** Like malloc(3); may return NULL. */
	void *(*malloc_fn)(size_t size, void *payload);
	/** Like realloc(3); may return NULL, leaving ptr untouched. */
	void *(*realloc_fn)(void *ptr, size_t size, void *payload);
	/** Like free(3); ptr may be NULL. */
	void (*free_fn)(void *ptr, void *payload);
	void *payload;
} ecr_allocator;

#define ECR_ALLOCATOR_VERSION 1
#define ECR_ALLOCATOR_INIT { ECR_ALLOCATOR_VERSION, NULL, NULL, NULL, NULL }

/**
 * Install an allocator; NULL restores the C library's.
 * @return 0, ECR_EINVALID for a bad version or missing function, ECR_EBUSY
 *         when the library is already initialised.
 */
ECR_EXTERN(int) ecr_set_allocator(const ecr_allocator *allocator);

ECR_END_DECL
/** @} */
#endif
