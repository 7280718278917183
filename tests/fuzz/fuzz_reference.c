/* libFuzzer target: the reference grammar (names, tags, digests, full
 * references) on arbitrary NUL-terminated strings, with consistency checks
 * between the parsed parts and the individual validators. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ecr__oci_reference r;
	ecr__digest_alg alg;
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	(void)ecr__oci_validate_name(s);
	(void)ecr__oci_validate_tag(s);
	(void)ecr__oci_is_digest(s);
	(void)ecr__oci_manifest_kind(s);
	(void)ecr__oci_media_type_valid(s);
	(void)ecr__oci_media_type_equal(s, ECR__MT_OCI_MANIFEST);
	if (ecr__oci_validate_digest(s, &alg) == 0 && strlen(s) != 7 + ecr__digest_hex_len(alg))
		__builtin_trap();

	if (ecr__oci_reference_parse(&r, s) == 0) {
		/* every part of a parsed reference is valid on its own */
		if (!r.name || ecr__oci_validate_name(r.name) != 0)
			__builtin_trap();
		if (r.tag && ecr__oci_validate_tag(r.tag) != 0)
			__builtin_trap();
		if (r.digest && ecr__oci_validate_digest(r.digest, NULL) != 0)
			__builtin_trap();
		ecr__oci_reference_dispose(&r);
	} else if (r.name || r.host || r.tag || r.digest) {
		__builtin_trap();
	}
	free(s);
	return 0;
}
