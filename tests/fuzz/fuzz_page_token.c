/* libFuzzer target: the pagination tokens of the ECR API (nextToken,
 * untrusted: clients send them back), ecr__token_decode on arbitrary text for
 * each kind, and the round trip: a decoded token encodes back to a token that
 * decodes to the same value, and any value (NUL-free) survives
 * encode + decode. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/engine/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(char kind, const char *value)
{
	ecr_buf tok = ECR_BUF_INIT;
	char *back = NULL;

	if (ecr__token_encode(&tok, kind, value) != 0)
		return;
	if (ecr__token_decode(&back, kind, tok.ptr) == 0) {
		if (strcmp(back, value) != 0)
			__builtin_trap();
	} else if (tok.size <= 2048) {
		__builtin_trap(); /* a token we made is refused */
	}
	ecr__free(back);
	ecr_buf_dispose(&tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char kinds[] = "rdptRx";
	char *s, *value = NULL;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (size_t k = 0; k < sizeof(kinds) - 1; k++) {
		if (ecr__token_decode(&value, kinds[k], s) == 0) {
			if (!value)
				__builtin_trap();
			round_trip(kinds[k], value);
			ecr__free(value);
			value = NULL;
		} else if (value) {
			__builtin_trap();
		}
	}
	/* any NUL-free value survives */
	round_trip('r', s);
	free(s);
	return 0;
}
