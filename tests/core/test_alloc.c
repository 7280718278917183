/* core/alloc: the internal allocation helpers. */
#include "../helpers/helpers.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/core/core.h"

static void test_core_alloc__array_grow(void **state)
{
	int *v = NULL;
	size_t n = 0, cap = 0;
	(void)state;
	/* 16 at first, then doubled, only when full; the elements are kept */
	for (int i = 0; i < 100; i++) {
		assert_ok(ecr__array_grow((void **)&v, &cap, n, sizeof(*v)));
		assert_true(n < cap);
		v[n++] = i;
		if (n <= 16)
			assert_int_equal(cap, 16);
	}
	assert_int_equal(cap, 128);
	for (int i = 0; i < 100; i++)
		assert_int_equal(v[i], i);
	ecr__free(v);

	/* a capacity whose size overflows fails as out of memory and keeps the array */
	void *arr = (void *)&n;
	cap = SIZE_MAX / 4 + 1;
	assert_int_equal(ecr__array_grow(&arr, &cap, cap, 4), ECR_ENOMEM);
	assert_ptr_equal(arr, &n);
	assert_int_equal(cap, SIZE_MAX / 4 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_alloc__array_grow),
	};
	return cmocka_run_group_tests_name("core/alloc", tests, NULL, NULL);
}
