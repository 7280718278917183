/* core/errors: the thread-local last error, names, ECR exceptions, categories. */
#include "../helpers/helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/core/core.h"
#include "libecr/core/errors_table.h"
#include "ecr/sys/transport.h"

/* The /v2/ server's mapping of codes to OCI errors (libecr/server/server.c), which ecr_error_from_oci inverts. */
void ecr__http_error_map(int rc, const char *what, unsigned int *status, const char **code);

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

static void test_core_errors__transport_fail(void **state)
{
	(void)state;
	assert_int_equal(ecr_transport_fail(ECR_ENETWORK, "GET http://x/v2/: connection refused"), ECR_ENETWORK);
	assert_int_equal(ecr_error_last()->code, ECR_ENETWORK);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_TRANSPORT);
	/* verbatim: no format directives interpreted */
	assert_int_equal(ecr_transport_fail(ECR_EDENIED, "100%s denied %d"), ECR_EDENIED);
	assert_string_equal(ecr_error_last()->message, "100%s denied %d");
	/* NULL: the code's default text */
	assert_int_equal(ecr_transport_fail(ECR_ENOTSUPPORTED, NULL), ECR_ENOTSUPPORTED);
	assert_string_equal(ecr_error_last()->message, "operation not supported by the registry");
	assert_int_equal(ecr_transport_fail(ECR_EREPOSITORY_NOT_FOUND, NULL), ECR_EREPOSITORY_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message, "repository not found");
	assert_int_equal(ecr_transport_fail(-12345, NULL), -12345);
	assert_string_equal(ecr_error_last()->message, "generic failure");
	assert_int_equal(ecr_transport_fail(ECR_ENOMEM, NULL), ECR_ENOMEM);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_NOMEMORY);
	ecr_error_clear();
}

static void test_core_errors__from_exception(void **state)
{
	(void)state;
	/* every exception of the table comes back as a code that has that exception */
#define X(c, exc, cat, text) \
	if (c != ECR_OK) { \
		int got = ecr_error_from_exception(exc); \
		if (strcmp(ecr_error_exception(got), exc) != 0) \
			fail_msg("%s: %s -> %s (%s)", #c, exc, ecr_error_name(got), ecr_error_exception(got)); \
	}
	ECR__ERROR_TABLE(X)
#undef X
	/* codes with an exception of their own come back exactly */
	static const int own[] = { ECR_EREPOSITORY_NOT_FOUND, ECR_EREPOSITORY_EXISTS, ECR_EIMAGE_NOT_FOUND,
		ECR_EIMMUTABLE, ECR_ELIMIT, ECR_EUPLOAD, ECR_ELAYERS_NOT_FOUND, ECR_ESCAN_NOT_FOUND, ECR_ETHROTTLED,
		ECR_EMISSING_AUTH, ECR_EINVALID_SIGNATURE, ECR_EEXPIRED_TOKEN, ECR_EUNRECOGNIZED_CLIENT, ECR_EDENIED,
		ECR_EVALIDATION, ECR_EINCOMPLETE_SIGNATURE, ECR_EIMAGE_ARCHIVED, ECR_ELIFECYCLE_POLICY_NOT_FOUND };
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		assert_int_equal(ecr_error_from_exception(ecr_error_exception(own[i])), own[i]);
	/* shared exceptions: the general code */
	assert_int_equal(ecr_error_from_exception("ServerException"), ECR_ERROR);
	assert_int_equal(ecr_error_from_exception("InvalidParameterException"), ECR_EINVALID);
	/* prefixes and suffixes */
	assert_int_equal(ecr_error_from_exception("com.amazonaws.ecr#RepositoryNotFoundException"),
		ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_error_from_exception("RepositoryNotFoundException:http://internal.amazon.com/coral/"),
		ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_error_from_exception("aws#ImageNotFoundException:"), ECR_EIMAGE_NOT_FOUND);
	/* AWS-wide exceptions */
	assert_int_equal(ecr_error_from_exception("AccessDeniedException"), ECR_EDENIED);
	assert_int_equal(ecr_error_from_exception("UnrecognizedClientException"), ECR_EUNRECOGNIZED_CLIENT);
	assert_int_equal(ecr_error_from_exception("SignatureDoesNotMatch"), ECR_EINVALID_SIGNATURE);
	assert_int_equal(ecr_error_from_exception("InvalidSignatureException"), ECR_EINVALID_SIGNATURE);
	assert_int_equal(ecr_error_from_exception("ExpiredTokenException"), ECR_EEXPIRED_TOKEN);
	assert_int_equal(ecr_error_from_exception("MissingAuthenticationTokenException"), ECR_EMISSING_AUTH);
	assert_int_equal(ecr_error_from_exception("IncompleteSignatureException"), ECR_EINCOMPLETE_SIGNATURE);
	assert_int_equal(ecr_error_from_exception("ThrottlingException"), ECR_ETHROTTLED);
	assert_int_equal(ecr_error_from_exception("TooManyRequestsException"), ECR_ETHROTTLED);
	assert_int_equal(ecr_error_from_exception("ValidationException"), ECR_EVALIDATION);
	assert_int_equal(ecr_error_from_exception("SerializationException"), ECR_EINVALID);
	assert_int_equal(ecr_error_from_exception("UnknownOperationException"), ECR_ENOTSUPPORTED);
	/* unknown, empty, partial names */
	assert_int_equal(ecr_error_from_exception("SomethingNewException"), ECR_ERROR);
	assert_int_equal(ecr_error_from_exception(""), ECR_ERROR);
	assert_int_equal(ecr_error_from_exception(NULL), ECR_ERROR);
	assert_int_equal(ecr_error_from_exception("#"), ECR_ERROR);
	assert_int_equal(ecr_error_from_exception("RepositoryNotFound"), ECR_ERROR);
	assert_int_equal(ecr_error_from_exception("RepositoryNotFoundExceptionX"), ECR_ERROR);
}

static void test_core_errors__from_oci(void **state)
{
	(void)state;
	assert_int_equal(ecr_error_from_oci("BLOB_UNKNOWN", 404), ECR_ENOTFOUND);
	assert_int_equal(ecr_error_from_oci("BLOB_UNKNOWN", 416), ECR_ERANGE);
	assert_int_equal(ecr_error_from_oci("MANIFEST_UNKNOWN", 404), ECR_EIMAGE_NOT_FOUND);
	assert_int_equal(ecr_error_from_oci("NAME_UNKNOWN", 404), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_error_from_oci("BLOB_UPLOAD_UNKNOWN", 404), ECR_EUPLOAD);
	assert_int_equal(ecr_error_from_oci("BLOB_UPLOAD_INVALID", 416), ECR_ERANGE);
	assert_int_equal(ecr_error_from_oci("BLOB_UPLOAD_INVALID", 400), ECR_EINVALID);
	assert_int_equal(ecr_error_from_oci("DIGEST_INVALID", 400), ECR_EDIGEST);
	assert_int_equal(ecr_error_from_oci("MANIFEST_INVALID", 400), ECR_EINVALID);
	assert_int_equal(ecr_error_from_oci("MANIFEST_BLOB_UNKNOWN", 400), ECR_ELAYERS_NOT_FOUND);
	assert_int_equal(ecr_error_from_oci("TAG_INVALID", 400), ECR_EIMMUTABLE);
	assert_int_equal(ecr_error_from_oci("UNAUTHORIZED", 401), ECR_EAUTH);
	assert_int_equal(ecr_error_from_oci("DENIED", 403), ECR_EDENIED);
	assert_int_equal(ecr_error_from_oci("UNSUPPORTED", 405), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr_error_from_oci("TOOMANYREQUESTS", 429), ECR_ETHROTTLED);
	assert_int_equal(ecr_error_from_oci("SIZE_INVALID", 400), ECR_EINVALID);
	assert_int_equal(ecr_error_from_oci("SIZE_INVALID", 413), ECR_ELIMIT);
	assert_int_equal(ecr_error_from_oci("NAME_INVALID", 400), ECR_EINVALID);
	/* unknown codes: the status */
	assert_int_equal(ecr_error_from_oci("NOT_FOUND", 404), ECR_ENOTFOUND);
	assert_int_equal(ecr_error_from_oci(NULL, 401), ECR_EAUTH);
	assert_int_equal(ecr_error_from_oci("", 403), ECR_EDENIED);
	assert_int_equal(ecr_error_from_oci("WHATEVER", 429), ECR_ETHROTTLED);
	assert_int_equal(ecr_error_from_oci("UNKNOWN", 500), ECR_ERROR);
	assert_int_equal(ecr_error_from_oci("UNKNOWN", 502), ECR_ENETWORK); /* a cache whose upstream failed */
	assert_int_equal(ecr_error_from_oci(NULL, 504), ECR_ENETWORK);
	assert_int_equal(ecr_error_from_oci("blob_unknown", 400), ECR_ERROR);

	/* The inverse of the server's mapping: every code the server sends comes back as the code the engine
	 * returned, except where the server sends one OCI code for several (documented in errors.c). */
	static const char *whats[] = { "manifest", "blob", "upload", "name", "tag", "digest", "" };
	static const struct {
		int rc;
		int back;
	} shared[] = {
		{ ECR_EIMAGE_ARCHIVED, ECR_EIMAGE_NOT_FOUND },
		{ ECR_EREFERENCED_IMAGES_NOT_FOUND, ECR_ELAYERS_NOT_FOUND },
		{ ECR_EIMAGE_DIGEST, ECR_EDIGEST },
		{ ECR_EUNSUPPORTED, 0 }, /* MANIFEST_INVALID / DIGEST_INVALID */
		{ ECR_EBUSY, ECR_ERANGE },
		{ ECR_EIMAGE_REFERENCED, ECR_EDENIED },
		{ ECR_EINVALID, 0 }, /* MANIFEST_INVALID, TAG_INVALID, DIGEST_INVALID... */
		{ ECR_ENOTFOUND, 0 }, /* MANIFEST_UNKNOWN for a manifest, BLOB_UPLOAD_UNKNOWN for an upload */
	};
	size_t exact = 0;
#define X(c, exc, cat, text) \
	for (size_t w = 0; c != ECR_OK && w < sizeof(whats) / sizeof(whats[0]); w++) { \
		unsigned int status; \
		const char *code; \
		ecr__http_error_map(c, whats[w], &status, &code); \
		int back = ecr_error_from_oci(code, (int)status), want = c; \
		if (status == 500) \
			want = ECR_ERROR; \
		for (size_t i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) \
			if (shared[i].rc == c) \
				want = shared[i].back ? shared[i].back : back; \
		if (back != want) \
			fail_msg("%s (%s) -> %u %s -> %s", #c, whats[w], status, code, ecr_error_name(back)); \
		exact += back == c; \
	}
	ECR__ERROR_TABLE(X)
#undef X
	assert_true(exact >= 30);
	/* the shared ones still land on a code of the same kind */
	unsigned int status;
	const char *code;
	ecr__http_error_map(ECR_ENOTFOUND, "manifest", &status, &code);
	assert_int_equal(ecr_error_from_oci(code, (int)status), ECR_EIMAGE_NOT_FOUND);
	ecr__http_error_map(ECR_ENOTFOUND, "blob", &status, &code);
	assert_int_equal(ecr_error_from_oci(code, (int)status), ECR_ENOTFOUND);
	ecr__http_error_map(ECR_EINVALID, "name", &status, &code);
	assert_int_equal(ecr_error_from_oci(code, (int)status), ECR_EINVALID);
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
		cmocka_unit_test(test_core_errors__transport_fail),
		cmocka_unit_test(test_core_errors__from_exception),
		cmocka_unit_test(test_core_errors__from_oci),
	};
	return cmocka_run_group_tests_name("core/errors", tests, NULL, NULL);
}
