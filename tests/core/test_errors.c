/* core/errors: the thread-local last error, names, ECR exceptions, categories. */
#include "../helpers/helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/core/core.h"

static void test_core_errors__no_error(void **state)
{
	const ecr_error *e;
	(void)state;
	ecr_error_clear();
	e = ecr_error_last();
	assert_non_null(e);
	assert_string_equal(e->message, "no error");
	assert_int_equal(e->code, 0);
	assert_int_equal(e->klass, ECR_ERROR_NONE);
}

static void test_core_errors__fail_sets_last(void **state)
{
	const ecr_error *e;
	(void)state;
	assert_int_equal(ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob %s missing (%d)", "sha256:ab", 3),
			 ECR_ENOTFOUND);
	e = ecr_error_last();
	assert_string_equal(e->message, "blob sha256:ab missing (3)");
	assert_int_equal(e->code, ECR_ENOTFOUND);
	assert_int_equal(e->klass, ECR_ERROR_STORAGE);
	/* the next failure replaces it */
	ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "bad");
	assert_string_equal(ecr_error_last()->message, "bad");
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_OCI);
	ecr_error_clear();
	assert_int_equal(ecr_error_last()->code, 0);
	assert_string_equal(ecr_error_last()->message, "no error");
}

static void test_core_errors__fail_os(void **state)
{
	(void)state;
	assert_int_equal(ecr__fail_os(ECR_EIO, ENOSPC, "writing %s", "x"), ECR_EIO);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_STORAGE);
	assert_string_equal(ecr_error_last()->message, "writing x: No space left on device");
	assert_int_equal(ecr__fail_os(ECR_ERROR, EACCES, "opening"), ECR_ERROR);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_OS);
	assert_non_null(strstr(ecr_error_last()->message, "opening: "));
}

static void test_core_errors__long_message_truncated(void **state)
{
	char big[5000];
	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "%s", big);
	assert_true(strlen(ecr_error_last()->message) < sizeof(big));
	assert_true(strlen(ecr_error_last()->message) > 500);
	assert_int_equal(ecr_error_last()->message[0], 'x');
}

static void test_core_errors__oom_recode_save(void **state)
{
	ecr__error_saved saved;
	(void)state;
	assert_int_equal(ecr__fail_oom(), ECR_ENOMEM);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_NOMEMORY);
	assert_string_equal(ecr_error_last()->message, "out of memory");

	ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository foo");
	assert_int_equal(ecr__error_recode(ECR_EREPOSITORY_NOT_FOUND), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_error_last()->code, ECR_EREPOSITORY_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message, "repository foo");

	/* save, fail during cleanup, restore */
	ecr__error_save(&saved);
	ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "cleanup failed");
	ecr__error_restore(&saved);
	assert_int_equal(ecr_error_last()->code, ECR_EREPOSITORY_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message, "repository foo");
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_REPOSITORY);
	/* saving "no error" restores "no error" */
	ecr_error_clear();
	ecr__error_save(&saved);
	ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "x");
	ecr__error_restore(&saved);
	assert_int_equal(ecr_error_last()->code, 0);
}

static void test_core_errors__names(void **state)
{
	(void)state;
	assert_string_equal(ecr_error_name(ECR_OK), "ECR_OK");
	assert_string_equal(ecr_error_name(ECR_ENOTFOUND), "ECR_ENOTFOUND");
	assert_string_equal(ecr_error_name(ECR_ETOO_MANY_TAGS), "ECR_ETOO_MANY_TAGS");
	assert_string_equal(ecr_error_name(ECR_EREPOSITORY_NOT_FOUND), "ECR_EREPOSITORY_NOT_FOUND");
	assert_string_equal(ecr_error_name(-2), "ECR_UNKNOWN");
	assert_string_equal(ecr_error_name(12345), "ECR_UNKNOWN");
	assert_string_equal(ecr_error_name(-999), "ECR_UNKNOWN");
}

static void test_core_errors__exceptions(void **state)
{
	(void)state;
	assert_string_equal(ecr_error_exception(ECR_EREPOSITORY_NOT_FOUND), "RepositoryNotFoundException");
	assert_string_equal(ecr_error_exception(ECR_EIMAGE_NOT_FOUND), "ImageNotFoundException");
	assert_string_equal(ecr_error_exception(ECR_EINVALID), "InvalidParameterException");
	assert_string_equal(ecr_error_exception(ECR_ELIMIT), "LimitExceededException");
	assert_string_equal(ecr_error_exception(ECR_EIMMUTABLE), "ImageTagAlreadyExistsException");
	assert_string_equal(ecr_error_exception(ECR_ERROR), "ServerException");
	assert_string_equal(ecr_error_exception(-999), "ServerException");
}

static void test_core_errors__categories(void **state)
{
	(void)state;
	assert_int_equal(ecr_error_category(ECR_EREPOSITORY_NOT_FOUND), ECR_ENOTFOUND);
	assert_int_equal(ecr_error_category(ECR_EIMAGE_NOT_FOUND), ECR_ENOTFOUND);
	assert_int_equal(ecr_error_category(ECR_ELAYERS_NOT_FOUND), ECR_ENOTFOUND);
	assert_int_equal(ecr_error_category(ECR_EREPOSITORY_EXISTS), ECR_EEXISTS);
	assert_int_equal(ecr_error_category(ECR_EIMAGE_DIGEST), ECR_EDIGEST);
	assert_int_equal(ecr_error_category(ECR_ETOO_MANY_TAGS), ECR_ELIMIT);
	/* general codes map to themselves */
	static const int general[] = { ECR_OK,      ECR_ERROR,   ECR_ENOTFOUND, ECR_EEXISTS, ECR_EINVALID,
				       ECR_EDIGEST, ECR_ELIMIT,  ECR_EAUTH,     ECR_EBUFS,   ECR_ITEROVER,
				       ECR_ENOMEM,  ECR_EIO,     ECR_EBUSY };
	for (size_t i = 0; i < sizeof(general) / sizeof(general[0]); i++)
		assert_int_equal(ecr_error_category(general[i]), general[i]);
	assert_int_equal(ecr_error_category(-999), ECR_ERROR);
	/* every known code has a name and a category that is itself general */
	for (int c = -60; c <= 0; c++) {
		if (strcmp(ecr_error_name(c), "ECR_UNKNOWN") == 0)
			continue;
		int cat = ecr_error_category(c);
		assert_int_equal(ecr_error_category(cat), cat);
	}
}

/* ---- thread-local: two threads fail at once, each sees only its own error ---- */

struct thread_arg {
	int code;
	int id;
	pthread_barrier_t *barrier;
	int mismatches;
};

static void *error_thread(void *p)
{
	struct thread_arg *a = p;
	char expect[64];
	snprintf(expect, sizeof(expect), "thread %d", a->id);
	/* a fresh thread starts with no error, whatever the other thread did */
	if (ecr_error_last()->code != 0)
		a->mismatches++;
	pthread_barrier_wait(a->barrier);
	for (int i = 0; i < 20000; i++) {
		ecr__fail(a->code, ECR_ERROR_INTERNAL, "thread %d", a->id);
		if (i == 0)
			pthread_barrier_wait(a->barrier); /* both have failed once */
		const ecr_error *e = ecr_error_last();
		if (e->code != a->code || strcmp(e->message, expect) != 0)
			a->mismatches++;
	}
	return NULL;
}

static void test_core_errors__thread_local(void **state)
{
	pthread_barrier_t barrier;
	pthread_t t1, t2;
	struct thread_arg a1 = { ECR_ENOTFOUND, 1, &barrier, 0 }, a2 = { ECR_EEXISTS, 2, &barrier, 0 };
	(void)state;
	ecr__fail(ECR_EDIGEST, ECR_ERROR_OCI, "main thread");
	pthread_barrier_init(&barrier, NULL, 2);
	assert_int_equal(pthread_create(&t1, NULL, error_thread, &a1), 0);
	assert_int_equal(pthread_create(&t2, NULL, error_thread, &a2), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_barrier_destroy(&barrier);
	assert_int_equal(a1.mismatches, 0);
	assert_int_equal(a2.mismatches, 0);
	/* the main thread's error is untouched */
	assert_int_equal(ecr_error_last()->code, ECR_EDIGEST);
	assert_string_equal(ecr_error_last()->message, "main thread");
}

static void test_core_errors__check_version(void **state)
{
	(void)state;
	assert_ok(ecr__check_version(1, 2, "ecr_x_options"));
	assert_ok(ecr__check_version(2, 2, "ecr_x_options"));
	assert_int_equal(ecr__check_version(0, 2, "ecr_x_options"), ECR_EINVALID);
	assert_string_equal(ecr_error_last()->message, "invalid version 0 on ecr_x_options");
	assert_int_equal(ecr__check_version(3, 2, "ecr_x_options"), ECR_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_errors__no_error),
		cmocka_unit_test(test_core_errors__fail_sets_last),
		cmocka_unit_test(test_core_errors__fail_os),
		cmocka_unit_test(test_core_errors__long_message_truncated),
		cmocka_unit_test(test_core_errors__oom_recode_save),
		cmocka_unit_test(test_core_errors__names),
		cmocka_unit_test(test_core_errors__exceptions),
		cmocka_unit_test(test_core_errors__categories),
		cmocka_unit_test(test_core_errors__thread_local),
		cmocka_unit_test(test_core_errors__check_version),
	};
	return cmocka_run_group_tests_name("core/errors", tests, NULL, NULL);
}
