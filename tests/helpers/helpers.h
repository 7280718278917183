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

/* One HTTP/1.1 exchange on a fresh loopback connection to port: send head (the request line and headers, ending
 * in an empty line, with "Connection: close") and then body (len bytes, may be 0), read the whole answer into
 * resp (NUL-terminated, cut at cap - 1 bytes). Returns the status code, or -1 when the answer does not start with
 * an HTTP/1.x status line (a TLS port, say). */
int th_http_raw(uint16_t port, const char *head, const void *body, size_t len, char *resp, size_t cap);

#endif
