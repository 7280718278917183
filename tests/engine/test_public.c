/* placeholder, replaced by the helper that owns it */
#include "../helpers/helpers.h"

static void test_engine_public__placeholder(void **state) { (void)state; }

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_engine_public__placeholder) };
	return cmocka_run_group_tests_name("engine/public", tests, NULL, NULL);
}
