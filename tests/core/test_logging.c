/* core/logging: level filtering, formatting only when enabled, long messages. */
#include "../helpers/helpers.h"

#include <stdlib.h>
#include <string.h>

#include "libecr/core/logging.h"

struct capture {
	int calls;
	ecr_log_level level;
	char *msg;
};

static void capture_cb(ecr_log_level level, const char *msg, void *payload)
{
	struct capture *c = payload;
	c->calls++;
	c->level = level;
	free(c->msg);
	c->msg = strdup(msg);
}

static void test_core_logging__levels(void **state)
{
	struct capture c = { 0, ECR_LOG_NONE, NULL };
	ecr__logger lg = { capture_cb, &c, ECR_LOG_INFO };
	(void)state;

	ecr__log(&lg, ECR_LOG_ERROR, "e %d", 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.level, ECR_LOG_ERROR);
	assert_string_equal(c.msg, "e 1");
	ecr__log(&lg, ECR_LOG_INFO, "i %s", "x");
	assert_int_equal(c.calls, 2);
	assert_string_equal(c.msg, "i x");
	/* above the level: not delivered */
	ecr__log(&lg, ECR_LOG_DEBUG, "d %s", "x");
	assert_int_equal(c.calls, 2);
	assert_false(ecr__log_enabled(&lg, ECR_LOG_DEBUG));
	assert_true(ecr__log_enabled(&lg, ECR_LOG_WARN));
	/* NONE is never a message level */
	ecr__log(&lg, ECR_LOG_NONE, "none");
	assert_int_equal(c.calls, 2);
	/* a NULL logger, a logger without callback, a logger at NONE */
	ecr__log(NULL, ECR_LOG_ERROR, "x");
	lg.cb = NULL;
	ecr__log(&lg, ECR_LOG_ERROR, "x");
	lg.cb = capture_cb;
	lg.level = ECR_LOG_NONE;
	ecr__log(&lg, ECR_LOG_ERROR, "x");
	assert_int_equal(c.calls, 2);
	lg.level = ECR_LOG_TRACE;
	ecr__log(&lg, ECR_LOG_TRACE, "t");
	assert_int_equal(c.calls, 3);
	free(c.msg);
}

static void test_core_logging__long_message(void **state)
{
	struct capture c = { 0, ECR_LOG_NONE, NULL };
	ecr__logger lg = { capture_cb, &c, ECR_LOG_TRACE };
	char *big = malloc(5001);
	(void)state;
	assert_non_null(big);
	memset(big, 'y', 5000);
	big[5000] = '\0';
	/* exactly fits the stack buffer, then one more, then much longer */
	big[1023] = '\0';
	ecr__log(&lg, ECR_LOG_INFO, "%s", big);
	assert_int_equal(strlen(c.msg), 1023);
	big[1023] = 'y';
	big[1024] = '\0';
	ecr__log(&lg, ECR_LOG_INFO, "%s", big);
	assert_int_equal(strlen(c.msg), 1024);
	big[1024] = 'y';
	ecr__log(&lg, ECR_LOG_WARN, "<%s>", big);
	assert_int_equal(strlen(c.msg), 5002);
	assert_int_equal(c.msg[0], '<');
	assert_int_equal(c.msg[5001], '>');
	free(big);
	free(c.msg);
}

static void test_core_logging__keeps_error(void **state)
{
	struct capture c = { 0, ECR_LOG_NONE, NULL };
	ecr__logger lg = { capture_cb, &c, ECR_LOG_TRACE };
	char big[3000];
	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "the real error");
	ecr__log(&lg, ECR_LOG_ERROR, "%s", big);
	assert_int_equal(ecr_error_last()->code, ECR_ENOTFOUND);
	assert_string_equal(ecr_error_last()->message, "the real error");
	free(c.msg);
}

static void test_core_logging__level_names(void **state)
{
	(void)state;
	assert_string_equal(ecr_log_level_name(ECR_LOG_NONE), "none");
	assert_string_equal(ecr_log_level_name(ECR_LOG_ERROR), "error");
	assert_string_equal(ecr_log_level_name(ECR_LOG_WARN), "warn");
	assert_string_equal(ecr_log_level_name(ECR_LOG_INFO), "info");
	assert_string_equal(ecr_log_level_name(ECR_LOG_DEBUG), "debug");
	assert_string_equal(ecr_log_level_name(ECR_LOG_TRACE), "trace");
	assert_string_equal(ecr_log_level_name((ecr_log_level)42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_logging__levels),
		cmocka_unit_test(test_core_logging__long_message),
		cmocka_unit_test(test_core_logging__keeps_error),
		cmocka_unit_test(test_core_logging__level_names),
	};
	return cmocka_run_group_tests_name("core/logging", tests, NULL, NULL);
}
