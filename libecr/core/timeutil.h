/* Time helpers. */
#ifndef ECR_CORE_TIMEUTIL_H
#define ECR_CORE_TIMEUTIL_H

#include "core.h"

#include <time.h>

/* Wall clock, ms since the epoch. */
int64_t ecr__time_now_ms(void);
/* Monotonic clock, ms. */
int64_t ecr__time_monotonic_ms(void);
/* The time ms milliseconds (>= 0) from now on clock, into ts: a deadline for pthread_cond_timedwait() on a
 * condition variable that runs on that clock (CLOCK_REALTIME unless set with pthread_condattr_setclock). */
void ecr__time_deadline(struct timespec *ts, clockid_t clock, int64_t ms);
/* RFC 3339 / ISO 8601 UTC with milliseconds, "2026-11-26T17:21:04.123Z", into out[32]. */
int ecr__time_format_iso8601(char *out, size_t outlen, int64_t ms);
/* Parse RFC 3339 ("2026-11-26T17:21:04Z", fractional seconds and offsets allowed). */
int ecr__time_parse_iso8601(int64_t *ms_out, const char *s);

#endif
