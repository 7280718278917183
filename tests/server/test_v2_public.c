/* placeholder, replaced by the helper that owns it */
#include "../helpers/helpers.h"

static void test_server_v2_public__placeholder(void **state) { (void)state; }

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_server_v2_public__placeholder) };
	return cmocka_run_group_tests_name("server/v2_public", tests, NULL, NULL);
}
