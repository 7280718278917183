/* libFuzzer target: the SigV4 Authorization header parser on arbitrary bytes
 * (not NUL-terminated), with invariants on what it accepts, and the canonical
 * request built from an accepted header. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/auth/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool all_of(const char *s, const char *set)
{
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ecr__sigv4_auth a;
	/* a private copy so that reading one byte past `size` is caught by ASan */
	char *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	int rc = ecr__sigv4_parse_authorization(&a, copy, size);
	if (rc == 0) {
		if (strlen(a.key_id) < 1 || strlen(a.key_id) > ECR__SIGV4_MAX_KEY_ID || strlen(a.date) != 8 ||
		    !all_of(a.date, "0123456789") || strlen(a.region) < 1 || strlen(a.service) < 1 ||
		    strlen(a.signature) != 64 || !all_of(a.signature, "0123456789abcdef") || a.signed_count < 1 ||
		    a.signed_count > ECR__SIGV4_MAX_SIGNED_COUNT || !strstr(a.signed_headers, "host") ||
		    !all_of(a.signed_headers, "abcdefghijklmnopqrstuvwxyz0123456789-_.;"))
			abort();
		ecr_http_header h[] = {{"Host", "example"}, {"x-amz-date", "20250115T120000Z"}};
		ecr_sigv4_request r = ECR_SIGV4_REQUEST_INIT;
		ecr_buf out = ECR_BUF_INIT;
		r.method = "POST";
		r.path = "/a/../b/./c%20d";
		r.query = "z=1&a=%zz&&b";
		r.headers = h;
		r.headers_count = 2;
		r.payload_sha256 = "0f840d448a7d5a3639fdf32f696410639dce2f8de23971074ff1275f029fa53b";
		if (ecr__sigv4_canonical_request(&out, &r, &a) == 0 && !strstr(out.ptr, a.signed_headers))
			abort();
		ecr_buf_dispose(&out);
	} else if (rc != ECR_EINCOMPLETE_SIGNATURE) {
		abort();
	}
	free(copy);
	return 0;
}
