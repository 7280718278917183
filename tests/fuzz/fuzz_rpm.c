/* libFuzzer target: rpm's header blob parser (the blobs of rpmdb's Packages
 * table), and rpm version comparison on what it yields. */
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
	ecr__pkg_list l = {0};
	int rc = ecr__rpm_header_parse(&l, data, size);
	if (rc != 0) {
		if (l.count || rc != ECR_EINVALID)
			__builtin_trap();
		return 0;
	}
	if (l.count > 1)
		__builtin_trap();
	if (l.count == 1) {
		const ecr__pkg *p = &l.items[0];
		if (!p->name || !*p->name || !p->version || !*p->version)
			__builtin_trap();
		if (ecr__vercmp_rpm(p->version, p->version) != 0)
			__builtin_trap();
		const char *o = p->source_version ? p->source_version : "1.0-1";
		if (sgn(ecr__vercmp_rpm(p->version, o)) != -sgn(ecr__vercmp_rpm(o, p->version)))
			__builtin_trap();
	}
	ecr__pkg_list_dispose(&l);
	return 0;
}
