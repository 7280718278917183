/* Time helpers. */
#ifndef ECR_CORE_TIMEUTIL_H
#define ECR_CORE_TIMEUTIL_H

#include "core.h"

/* Wall clock, ms since the epoch. */
int64_t ecr__time_now_ms(void);
/* Monotonic clock, ms. */
int64_t ecr__time_monotonic_ms(void);
/* RFC 3339 / ISO 8601 UTC with milliseconds, "2026-11-26T17:21:04.123Z", into out[32]. */
int ecr__time_format_iso8601(char *out, size_t outlen, int64_t ms);
/* Parse RFC 3339 ("2026-11-26T17:21:04Z", fractional seconds and offsets allowed). */
int ecr__time_parse_iso8601(int64_t *ms_out, const char *s);

#endif
