/* libFuzzer target: the scanner's os-release parser (ecr__osrelease_parse,
 * untrusted: it comes out of an image layer) and the OSV ecosystem chosen for
 * what it finds. Invariants: on success id is set, non-empty (os-release(5)'s
 * default "linux" when absent) and lowercase, version_id is NULL or
 * non-empty, values are no longer than the input (or the default); on failure
 * nothing is returned; an ecosystem, when found, is non-empty. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libecr/scan/scan_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ecr__os os;
	char *eco = NULL;
	ecr__pkg_format fmt;

	memset(&os, 0, sizeof(os));
	if (ecr__osrelease_parse(&os, (const char *)data, size) != 0) {
		if (os.id || os.version_id || os.pretty_name)
			__builtin_trap();
		return 0;
	}
	if (!os.id || !*os.id || (strlen(os.id) > size && strcmp(os.id, "linux") != 0))
		__builtin_trap();
	for (const char *c = os.id; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			__builtin_trap();
	if (os.version_id && !*os.version_id)
		__builtin_trap();
	if (os.version_id && strlen(os.version_id) > size)
		__builtin_trap();
	if (os.pretty_name && strlen(os.pretty_name) > size)
		__builtin_trap();
	if (ecr__os_ecosystem(&eco, &fmt, &os) == 0) {
		if (!eco || !*eco)
			__builtin_trap();
		ecr__free(eco);
	}
	ecr__os_dispose(&os);
	return 0;
}
