/* libFuzzer target: dpkg's status parser (as a status file and as a
 * distroless status.d file), and dpkg version comparison on the versions it
 * finds (reflexive and antisymmetric, or the target traps). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libecr/scan/scan_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sgn(int x)
{
	return (x > 0) - (x < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int mode = 0; mode < 2; mode++) {
		ecr__pkg_list l = {0};
		if (ecr__pkgdb_dpkg_parse(&l, (const char *)data, size, mode == 1) != 0) {
			if (l.count)
				__builtin_trap();
			continue;
		}
		for (size_t i = 0; i < l.count; i++) {
			const ecr__pkg *p = &l.items[i];
			if (!p->name || !*p->name || !p->version || !*p->version)
				__builtin_trap();
			if (ecr__vercmp_dpkg(p->version, p->version) != 0)
				__builtin_trap();
			if (i > 0) {
				const char *a = l.items[i - 1].version, *b = p->version;
				if (sgn(ecr__vercmp_dpkg(a, b)) != -sgn(ecr__vercmp_dpkg(b, a)))
					__builtin_trap();
			}
		}
		ecr__pkg_list_dispose(&l);
	}
	return 0;
}
