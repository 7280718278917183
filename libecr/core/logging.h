/* Logging through a per-registry callback. */
#ifndef ECR_CORE_LOGGING_H
#define ECR_CORE_LOGGING_H

#include "core.h"

typedef struct ecr__logger {
	ecr_log_cb cb;
	void *payload;
	ecr_log_level level;
} ecr__logger;

/* Formats only when the level is enabled. lg may be NULL. */
void ecr__log(const ecr__logger *lg, ecr_log_level level, const char *fmt, ...) ECR__PRINTF(3, 4);
static inline bool ecr__log_enabled(const ecr__logger *lg, ecr_log_level level)
{
	return lg && lg->cb && level != ECR_LOG_NONE && level <= lg->level;
}

#endif
