/**
 * @file ecr/log.h
 * @brief Logging callback. The library never writes to stdout or stderr.
 * @defgroup ecr_log Logging
 *
 * THREAD SAFETY: a registry's log callback may be called from any thread that
 * uses the registry, and from several at once.
 * @{
 */
#ifndef ECR_LOG_H
#define ECR_LOG_H

#include "common.h"

ECR_BEGIN_DECL

/** Log levels; a registry logs messages at or below its level. */
typedef enum ecr_log_level {
	ECR_LOG_NONE = 0,
	ECR_LOG_ERROR = 1,
	ECR_LOG_WARN = 2,
	ECR_LOG_INFO = 3,
	ECR_LOG_DEBUG = 4,
	ECR_LOG_TRACE = 5
} ecr_log_level;

/**
 * Receives one log message (UTF-8, no trailing newline). Secrets are never
 * logged.
 */
typedef void (*ecr_log_cb)(ecr_log_level level, const char *msg, void *payload);

/**
 * The name of a level ("error", "warn", ...).
 * @return a static string.
 */
ECR_EXTERN(const char *) ecr_log_level_name(ecr_log_level level);

ECR_END_DECL
/** @} */
#endif
