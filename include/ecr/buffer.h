/**
 * @file ecr/buffer.h
 * @brief Byte buffers that the library fills and the caller releases.
 * @defgroup ecr_buffer Buffers
 *
 * THREAD SAFETY: a buffer is owned by one thread at a time.
 * @{
 */
#ifndef ECR_BUFFER_H
#define ECR_BUFFER_H

#include "common.h"

ECR_BEGIN_DECL

/**
 * A buffer filled by the library. ptr is always NUL-terminated when size > 0
 * (the terminator is not counted in size). Initialise with ECR_BUF_INIT or
 * zeros; release with ecr_buf_dispose().
 */
typedef struct ecr_buf {
	char *ptr;       /**< the bytes, or NULL when empty */
	size_t size;     /**< number of bytes, not counting the terminator */
	size_t reserved; /**< allocated size; 0 when ptr is not owned */
} ecr_buf;

/** Static initialiser for an empty ecr_buf. */
#define ECR_BUF_INIT { NULL, 0, 0 }

/**
 * Free the memory the library allocated for a buffer and reset it to empty.
 * @param buf the buffer; NULL is a no-op.
 */
ECR_EXTERN(void) ecr_buf_dispose(ecr_buf *buf);

ECR_END_DECL
/** @} */
#endif
