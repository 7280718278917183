/* core/timeutil: clocks, RFC 3339 formatting and parsing. */
#include "../helpers/helpers.h"

#include <string.h>
#include <time.h>

#include "libecr/core/timeutil.h"

static void test_core_timeutil__clocks(void **state)
{
	struct timespec ts, pause = { 0, 20 * 1000 * 1000 };
	int64_t now, m1, m2;
	(void)state;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = ecr__time_now_ms();
	/* within a second of the system clock, and after 2020 */
	assert_true(now > 1577836800000LL);
	assert_true(now - ((int64_t)ts.tv_sec * 1000) < 2000 && now - ((int64_t)ts.tv_sec * 1000) > -2000);
	m1 = ecr__time_monotonic_ms();
	nanosleep(&pause, NULL);
	m2 = ecr__time_monotonic_ms();
	assert_true(m2 - m1 >= 19);
	assert_true(m2 - m1 < 5000);
}

static void test_core_timeutil__deadline(void **state)
{
	struct timespec before, ts;
	int64_t delta;
	(void)state;
	/* 1,999 ms ahead carries into tv_sec; tv_nsec stays below a second */
	clock_gettime(CLOCK_MONOTONIC, &before);
	ecr__time_deadline(&ts, CLOCK_MONOTONIC, 1999);
	assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
	delta = ((int64_t)ts.tv_sec - before.tv_sec) * 1000 + (ts.tv_nsec - before.tv_nsec) / 1000000;
	assert_true(delta >= 1999 && delta < 1999 + 1000);
	clock_gettime(CLOCK_REALTIME, &before);
	ecr__time_deadline(&ts, CLOCK_REALTIME, 0);
	delta = ((int64_t)ts.tv_sec - before.tv_sec) * 1000 + (ts.tv_nsec - before.tv_nsec) / 1000000;
	assert_true(delta >= 0 && delta < 1000);
}

struct fmt_case {
	int64_t ms;
	const char *text;
};

static const struct fmt_case fmt_cases[] = {
	{ 0, "1970-01-01T00:00:00.000Z" },
	{ -1, "1969-12-31T23:59:59.999Z" },
	{ 951782400000LL, "2000-02-29T00:00:00.000Z" },
	{ 1795713664123LL, "2026-11-26T17:21:04.123Z" },
	{ 1710032523000LL, "2024-03-10T01:02:03.000Z" },
	{ 253402300799999LL, "9999-12-31T23:59:59.999Z" },
	{ -62135596800000LL, "0001-01-01T00:00:00.000Z" },
};

static void test_core_timeutil__format(void **state)
{
	char out[32];
	(void)state;
	for (size_t i = 0; i < sizeof(fmt_cases) / sizeof(fmt_cases[0]); i++) {
		int64_t back = 0;
		assert_ok(ecr__time_format_iso8601(out, sizeof(out), fmt_cases[i].ms));
		assert_string_equal(out, fmt_cases[i].text);
		assert_ok(ecr__time_parse_iso8601(&back, out));
		assert_int_equal(back, fmt_cases[i].ms);
	}
	/* exactly 25 bytes is enough, 24 is not */
	assert_ok(ecr__time_format_iso8601(out, 25, 0));
	assert_int_equal(ecr__time_format_iso8601(out, 24, 0), ECR_EBUFS);
	/* five-digit years cannot be written */
	assert_int_equal(ecr__time_format_iso8601(out, sizeof(out), 253402300800000LL), ECR_ERANGE);
	assert_int_equal(ecr__time_format_iso8601(out, sizeof(out), INT64_MIN), ECR_ERANGE);
}

struct parse_case {
	const char *text;
	int64_t ms;
};

static const struct parse_case parse_cases[] = {
	{ "2026-11-26T17:21:04Z", 1795713664000LL },
	{ "2026-11-26T17:21:04.123Z", 1795713664123LL },
	{ "2026-11-26T17:21:04.1Z", 1795713664100LL },
	{ "2026-11-26T17:21:04.123456789Z", 1795713664123LL },
	{ "2026-11-26t17:21:04z", 1795713664000LL },
	{ "2026-11-26 17:21:04Z", 1795713664000LL },
	{ "2026-11-26T19:21:04+02:00", 1795713664000LL },
	{ "2026-11-26T12:51:04.5-04:30", 1795713664500LL },
	{ "2000-02-29T00:00:00Z", 951782400000LL },
	{ "1969-12-31T23:59:59.999Z", -1 },
	{ "2016-12-31T23:59:60Z", 1483228800000LL }, /* leap second: the next minute */
};

static void test_core_timeutil__parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		int64_t ms = 42;
		assert_ok(ecr__time_parse_iso8601(&ms, parse_cases[i].text));
		assert_int_equal(ms, parse_cases[i].ms);
	}
	/* an offset moves the instant: 00:00+06:38 is 17:22 the day before */
	int64_t a = 0, b = 0;
	assert_ok(ecr__time_parse_iso8601(&a, "2026-11-27T00:00:00+06:38"));
	assert_ok(ecr__time_parse_iso8601(&b, "2026-11-26T17:22:00Z"));
	assert_int_equal(a, b);
}

static void test_core_timeutil__parse_rejects(void **state)
{
	static const char *bad[] = {
		"",
		"2026-11-26",
		"2026-11-26T17:21:04",        /* no zone */
		"2026-11-26T17:21Z",          /* no seconds */
		"2026-11-26T17:21:04.Z",      /* empty fraction */
		"2026-13-01T00:00:00Z",       /* month */
		"2026-00-01T00:00:00Z",
		"2026-02-29T00:00:00Z",       /* not a leap year */
		"1900-02-29T00:00:00Z",       /* not a leap year either */
		"2026-04-31T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-11-26T24:00:00Z",
		"2026-11-26T23:60:00Z",
		"2026-11-26T23:59:61Z",
		"2026-11-26T17:21:04+0200",   /* offset without colon */
		"2026-11-26T17:21:04+24:00",
		"2026-11-26T17:21:04+02:60",
		"2026-11-26T17:21:04Zjunk",   /* trailing data */
		"2026-11-26T17:21:04Z ",
		" 2026-11-26T17:21:04Z",
		"26-11-26T17:21:04Z",
		"2026/11/26T17:21:04Z",
		"2026-11-26X17:21:04Z",
		"+2026-11-26T17:21:04Z",
		"2026-1a-26T17:21:04Z",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 42;
		if (ecr__time_parse_iso8601(&ms, bad[i]) != ECR_EINVALID)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(ms, 42);
		assert_non_null(strstr(ecr_error_last()->message, "RFC 3339"));
	}
	assert_int_equal(ecr__time_parse_iso8601(&(int64_t){ 0 }, NULL), ECR_EINVALID);
}

static void test_core_timeutil__now_roundtrip(void **state)
{
	char out[32];
	int64_t now = ecr__time_now_ms(), back = 0;
	(void)state;
	assert_ok(ecr__time_format_iso8601(out, sizeof(out), now));
	assert_ok(ecr__time_parse_iso8601(&back, out));
	assert_int_equal(back, now);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_timeutil__clocks),
		cmocka_unit_test(test_core_timeutil__deadline),
		cmocka_unit_test(test_core_timeutil__format),
		cmocka_unit_test(test_core_timeutil__parse),
		cmocka_unit_test(test_core_timeutil__parse_rejects),
		cmocka_unit_test(test_core_timeutil__now_roundtrip),
	};
	return cmocka_run_group_tests_name("core/timeutil", tests, NULL, NULL);
}
