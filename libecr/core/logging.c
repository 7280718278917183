/* Logging through the per-registry callback; formats only enabled levels. */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>

#include "logging.h"

#define ECR__LOG_STACK 1024

const char *ecr_log_level_name(ecr_log_level level)
{
	switch (level) {
	case ECR_LOG_NONE:
		return "none";
	case ECR_LOG_ERROR:
		return "error";
	case ECR_LOG_WARN:
		return "warn";
	case ECR_LOG_INFO:
		return "info";
	case ECR_LOG_DEBUG:
		return "debug";
	case ECR_LOG_TRACE:
		return "trace";
	}
	return "unknown";
}

void ecr__log(const ecr__logger *lg, ecr_log_level level, const char *fmt, ...)
{
	char stack[ECR__LOG_STACK];
	char *heap = NULL;
	const char *msg = stack;
	va_list ap;
	int n;

	if (!ecr__log_enabled(lg, level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(stack)) {
		/* Raw allocation: logging must not replace the thread's error. When it
		 * fails, the truncated message is delivered instead. */
		heap = ecr__alloc_raw_malloc((size_t)n + 1);
		if (heap) {
			va_start(ap, fmt);
			vsnprintf(heap, (size_t)n + 1, fmt, ap);
			va_end(ap);
			msg = heap;
		}
	}
	lg->cb(level, msg, lg->payload);
	ecr__alloc_raw_free(heap);
}
