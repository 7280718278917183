/* Shared test helpers. */
#ifndef ECR_TESTS_HELPERS_H
#define ECR_TESTS_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ecr.h"

/* Assert rc == 0, printing ecr_error_last() when not. */
#define assert_ok(expr) \
	do { \
		int rc__ = (expr); \
		if (rc__ != 0) \
			fail_msg("%s returned %d (%s): %s", #expr, rc__, ecr_error_name(rc__), ecr_error_last()->message); \
	} while (0)

/* Make a fresh temporary folder (mkdtemp under $TMPDIR); returns a malloc'd path. */
char *th_tmpdir(void);
/* rm -rf path; frees path. */
void th_rmtree(char *path);

#endif
