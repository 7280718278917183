/* Clocks and RFC 3339 timestamps. */
#include "core.h"

#include <stdio.h>
#include <time.h>

#include "timeutil.h"

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ecr__time_now_ms(void) { return clock_ms(CLOCK_REALTIME); }

int64_t ecr__time_monotonic_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

void ecr__time_deadline(struct timespec *ts, clockid_t clock, int64_t ms)
{
	if (clock_gettime(clock, ts) != 0)
		ts->tv_sec = ts->tv_nsec = 0;
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Years 0000-9999 only: that is what four digits can say. */
#define MIN_MS (-62167219200000LL)  /* 0000-01-01T00:00:00Z */
#define MAX_MS (253402300799999LL)  /* 9999-12-31T23:59:59.999Z */

int ecr__time_format_iso8601(char *out, size_t outlen, int64_t ms)
{
	struct tm tm;
	int64_t secs, frac;
	time_t t;

	if (outlen < 25)
		return ecr__fail(ECR_EBUFS, ECR_ERROR_INVALID, "timestamp buffer too small (%zu < 25)", outlen);
	if (ms < MIN_MS || ms > MAX_MS)
		return ecr__fail(ECR_ERANGE, ECR_ERROR_INVALID, "time %lld ms is outside years 0000-9999", (long long)ms);
	/* floor division, so that times before 1970 keep a positive fraction */
	secs = ms / 1000;
	frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm))
		return ecr__fail(ECR_ERANGE, ECR_ERROR_INVALID, "time %lld ms cannot be represented", (long long)ms);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	return 0;
}

/* Read exactly n digits at *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

int ecr__time_parse_iso8601(int64_t *ms_out, const char *s)
{
	const char *p = s;
	int year, mon, day, hour, min, sec, ms = 0, off = 0;
	struct tm tm;
	time_t t;

	if (!s)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing timestamp");
	if (!digits(&p, 4, &year) || !expect(&p, '-') || !digits(&p, 2, &mon) || !expect(&p, '-') ||
	    !digits(&p, 2, &day))
		goto bad;
	if (*p != 'T' && *p != 't' && *p != ' ')
		goto bad;
	p++;
	if (!digits(&p, 2, &hour) || !expect(&p, ':') || !digits(&p, 2, &min) || !expect(&p, ':') ||
	    !digits(&p, 2, &sec))
		goto bad;
	if (*p == '.') {
		int n = 0;
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		/* keep milliseconds, ignore finer digits */
		for (; *p >= '0' && *p <= '9'; p++, n++) {
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		}
		for (; n < 3; n++)
			ms *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) || oh > 23 || om > 59)
			goto bad;
		off = sign * (oh * 60 + om);
	} else {
		goto bad;
	}
	if (*p != '\0')
		goto bad;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 || min > 59 || sec > 60)
		goto bad;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec; /* a leap second (60) becomes the next minute's 00 */
	t = timegm(&tm);
	*ms_out = ((int64_t)t - (int64_t)off * 60) * 1000 + ms;
	return 0;
bad:
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid RFC 3339 timestamp \"%.40s\" (at offset %zu)", s,
			 (size_t)(p - s));
}
