/* core/buf: the public ecr_buf and the internal helpers on it. */
#include "../helpers/helpers.h"

#include <stdlib.h>
#include <string.h>

#include "libecr/core/core.h"

static void test_core_buf__put_and_grow(void **state)
{
	ecr_buf b = ECR_BUF_INIT;
	char chunk[100];
	(void)state;
	assert_ok(ecr__buf_put(&b, "abc", 3));
	assert_int_equal(b.size, 3);
	assert_true(b.reserved > 3);
	assert_string_equal(b.ptr, "abc");
	/* many appends, across several reallocations */
	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 1000; i++)
		assert_ok(ecr__buf_put(&b, chunk, sizeof(chunk)));
	assert_int_equal(b.size, 3 + 100000);
	assert_true(b.reserved > b.size);
	assert_int_equal(b.ptr[b.size], '\0');
	assert_int_equal(b.ptr[3], 'z');
	assert_int_equal(b.ptr[b.size - 1], 'z');
	assert_memory_equal(b.ptr, "abc", 3);
	/* binary data with NULs */
	ecr__buf_clear(&b);
	assert_ok(ecr__buf_put(&b, "a\0b", 3));
	assert_int_equal(b.size, 3);
	assert_memory_equal(b.ptr, "a\0b", 4);
	/* empty put still gives a terminated buffer */
	ecr_buf_dispose(&b);
	assert_ok(ecr__buf_put(&b, NULL, 0));
	assert_non_null(b.ptr);
	assert_string_equal(b.ptr, "");
	ecr_buf_dispose(&b);
}

static void test_core_buf__puts_printf(void **state)
{
	ecr_buf b = ECR_BUF_INIT;
	char big[3000];
	(void)state;
	assert_ok(ecr__buf_puts(&b, "hello"));
	assert_ok(ecr__buf_printf(&b, ", %s #%d", "world", 42));
	assert_string_equal(b.ptr, "hello, world #42");
	assert_int_equal(b.size, strlen("hello, world #42"));
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_ok(ecr__buf_printf(&b, "[%s]", big));
	assert_int_equal(b.size, strlen("hello, world #42") + 2 + sizeof(big) - 1);
	assert_int_equal(b.ptr[b.size - 1], ']');
	assert_int_equal(b.ptr[b.size], '\0');
	ecr_buf_dispose(&b);
}

static void test_core_buf__clear_keeps_memory(void **state)
{
	ecr_buf b = ECR_BUF_INIT;
	char *p;
	size_t r;
	(void)state;
	assert_ok(ecr__buf_puts(&b, "some text"));
	p = b.ptr;
	r = b.reserved;
	ecr__buf_clear(&b);
	assert_int_equal(b.size, 0);
	assert_ptr_equal(b.ptr, p);
	assert_int_equal(b.reserved, r);
	assert_string_equal(b.ptr, "");
	assert_ok(ecr__buf_puts(&b, "x"));
	assert_ptr_equal(b.ptr, p);
	ecr_buf_dispose(&b);
	/* clearing an empty buffer is fine */
	ecr__buf_clear(&b);
	assert_int_equal(b.size, 0);
}

static void test_core_buf__dispose(void **state)
{
	ecr_buf b = ECR_BUF_INIT;
	(void)state;
	assert_ok(ecr__buf_puts(&b, "x"));
	ecr_buf_dispose(&b);
	assert_null(b.ptr);
	assert_int_equal(b.size, 0);
	assert_int_equal(b.reserved, 0);
	ecr_buf_dispose(&b); /* twice */
	ecr_buf_dispose(NULL);
}

static void test_core_buf__borrowed(void **state)
{
	char text[] = "borrowed";
	ecr_buf b = { text, 8, 0 };
	(void)state;
	/* growing a borrowed buffer copies; the original memory is untouched */
	assert_ok(ecr__buf_puts(&b, "+more"));
	assert_ptr_not_equal(b.ptr, text);
	assert_string_equal(b.ptr, "borrowed+more");
	assert_string_equal(text, "borrowed");
	ecr_buf_dispose(&b);
	/* disposing a borrowed buffer does not free it */
	b = (ecr_buf){ text, 8, 0 };
	ecr_buf_dispose(&b);
	assert_string_equal(text, "borrowed");
}

static void test_core_buf__detach(void **state)
{
	ecr_buf b = ECR_BUF_INIT;
	char text[] = "borrowed";
	char *p;
	(void)state;
	assert_ok(ecr__buf_puts(&b, "owned"));
	p = ecr__buf_detach(&b);
	assert_string_equal(p, "owned");
	assert_null(b.ptr);
	assert_int_equal(b.size, 0);
	assert_int_equal(b.reserved, 0);
	ecr__free(p);
	/* empty: an empty string */
	p = ecr__buf_detach(&b);
	assert_non_null(p);
	assert_string_equal(p, "");
	ecr__free(p);
	/* borrowed: a copy */
	b = (ecr_buf){ text, 3, 0 };
	p = ecr__buf_detach(&b);
	assert_ptr_not_equal(p, text);
	assert_string_equal(p, "bor");
	ecr__free(p);
}

static void test_core_buf__grow_overflow(void **state)
{
	ecr_buf b = ECR_BUF_INIT;
	(void)state;
	assert_ok(ecr__buf_puts(&b, "abc"));
	assert_int_equal(ecr__buf_grow(&b, SIZE_MAX), ECR_ENOMEM);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_NOMEMORY);
	assert_int_equal(ecr__buf_put(&b, "x", SIZE_MAX), ECR_ENOMEM);
	/* still intact */
	assert_string_equal(b.ptr, "abc");
	assert_int_equal(b.size, 3);
	/* growing to less than what is there is a no-op */
	assert_ok(ecr__buf_grow(&b, 1));
	assert_string_equal(b.ptr, "abc");
	ecr_buf_dispose(&b);
}

struct seen {
	char text[128];
	int calls, stop_at;
};

static int record_pair(const char *a, const char *b, void *payload)
{
	struct seen *s = payload;
	s->calls++;
	strcat(s->text, a);
	strcat(s->text, "=");
	strcat(s->text, b);
	strcat(s->text, ";");
	return s->calls == s->stop_at ? 42 : 0;
}

static void test_core_buf__pairs(void **state)
{
	(void)state;
	ecr__pairs p = ECR__PAIRS_INIT;
	struct seen s = { "", 0, 0 };
	assert_int_equal(ecr__pairs_each(&p, record_pair, &s), 0);
	assert_int_equal(s.calls, 0);
	assert_int_equal(ecr__pairs_add("k1", "v1", &p), 0);
	assert_int_equal(ecr__pairs_add("empty", "", &p), 0);
	assert_int_equal(ecr__pairs_add("k3", "v3", &p), 0);
	assert_int_equal(ecr__pairs_each(&p, record_pair, &s), 0);
	assert_string_equal(s.text, "k1=v1;empty=;k3=v3;");
	/* a non-zero return stops and is passed back */
	struct seen stop = { "", 0, 2 };
	assert_int_equal(ecr__pairs_each(&p, record_pair, &stop), 42);
	assert_string_equal(stop.text, "k1=v1;empty=;");
	ecr__pairs_dispose(&p);
	assert_int_equal(p.count, 0);
	ecr__pairs_dispose(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_buf__put_and_grow),
		cmocka_unit_test(test_core_buf__puts_printf),
		cmocka_unit_test(test_core_buf__clear_keeps_memory),
		cmocka_unit_test(test_core_buf__dispose),
		cmocka_unit_test(test_core_buf__borrowed),
		cmocka_unit_test(test_core_buf__detach),
		cmocka_unit_test(test_core_buf__grow_overflow),
		cmocka_unit_test(test_core_buf__pairs),
	};
	return cmocka_run_group_tests_name("core/buf", tests, NULL, NULL);
}
