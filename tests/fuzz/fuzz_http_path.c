/* Fuzz target: the HTTP router's path parser. Invariants checked besides
 * memory safety: a parsed route's name and reference are substrings of the
 * path, and a name is present exactly for the per-repository routes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/server/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *path = malloc(size + 1);
	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	http_target t;
	int rc = ecr__http_parse_path(&t, path);
	if (rc == 0) {
		bool per_repo = t.route != ROUTE_BASE && t.route != ROUTE_CATALOG;
		if (per_repo != (t.name != NULL))
			abort();
		if (t.name && (!*t.name || !strstr(path, t.name)))
			abort();
		if (t.ref && (!*t.ref || !strstr(path, t.ref) || strchr(t.ref, '/')))
			abort();
	} else if (rc != ECR_ENOTFOUND && rc != ECR_ENOMEM) {
		abort();
	}
	ecr__http_target_dispose(&t);
	free(path);
	return 0;
}
