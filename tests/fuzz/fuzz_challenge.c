/* Fuzz target: the WWW-Authenticate parser of the HTTP client
 * (ecr__http_parse_challenge). Invariants checked besides memory safety:
 * on success every challenge has a non-empty scheme that occurs in the input,
 * at most one of token68 / parameters, lowercase parameter names, and the
 * parse is deterministic; on failure nothing is returned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/transport/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 10000)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	ecr__http_challenge c[4], d[4];
	size_t n = 99, m = 99;
	int rc = ecr__http_parse_challenge(c, 4, &n, s);
	int rc2 = ecr__http_parse_challenge(d, 4, &m, s);
	if (rc != rc2 || n != m)
		abort();
	if (rc != 0) {
		if (n != 0)
			abort();
	} else {
		for (size_t i = 0; i < n; i++) {
			if (!c[i].scheme || !*c[i].scheme || !strstr(s, c[i].scheme))
				abort();
			if (c[i].token68 && c[i].nparams)
				abort();
			if (c[i].nparams > ECR__HTTP_CHALLENGE_MAX_PARAMS)
				abort();
			for (size_t k = 0; k < c[i].nparams; k++) {
				if (!c[i].names[k] || !*c[i].names[k] || !c[i].values[k])
					abort();
				for (const char *q = c[i].names[k]; *q; q++)
					if (*q >= 'A' && *q <= 'Z')
						abort();
				if (strcmp(c[i].names[k], d[i].names[k]) || strcmp(c[i].values[k], d[i].values[k]))
					abort();
				if (ecr__http_challenge_param(&c[i], c[i].names[k]) == NULL)
					abort();
			}
		}
		ecr__http_challenges_dispose(d, m);
		ecr__http_challenges_dispose(c, n);
	}
	free(s);
	return 0;
}
