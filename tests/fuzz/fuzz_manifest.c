/* libFuzzer target: ecr__manifest_parse on arbitrary bytes. The first byte
 * picks the content type the client "declared", the rest is the manifest. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libecr/oci/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
	NULL,
	"",
	ECR__MT_OCI_MANIFEST,
	ECR__MT_OCI_INDEX,
	ECR__MT_DOCKER_MANIFEST_V2,
	ECR__MT_DOCKER_MANIFEST_LIST,
	ECR__MT_DOCKER_MANIFEST_V1,
	"application/json; charset=utf-8",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ecr__manifest *m = NULL;
	const char *ct = NULL;
	size_t i;

	if (size > 0) {
		ct = content_types[data[0] % (sizeof(content_types) / sizeof(content_types[0]))];
		data++;
		size--;
	}
	if (ecr__manifest_parse(&m, data, size, ct) == 0) {
		/* touch everything the parser returned */
		size_t n = strlen(m->media_type);
		const char *at = ecr__manifest_artifact_type(m);
		if (at)
			n += strlen(at);
		if (m->has_config)
			n += strlen(m->config.digest) + strlen(m->config.media_type);
		for (i = 0; i < m->layers_count; i++)
			n += strlen(m->layers[i].digest) + (size_t)(m->layers[i].size & 1);
		for (i = 0; i < m->manifests_count; i++) {
			n += strlen(m->manifests[i].digest);
			if (m->manifests[i].platform_os)
				n += strlen(m->manifests[i].platform_os) + strlen(m->manifests[i].platform_arch);
			if (ecr__oci_manifest_kind(m->manifests[i].media_type) == ECR__MANIFEST_UNKNOWN)
				__builtin_trap(); /* index entries must be manifests */
		}
		if (m->has_subject && ecr__oci_validate_digest(m->subject.digest, NULL) != 0)
			__builtin_trap();
		if (ecr__oci_kind_is_index(m->kind) == m->has_config)
			__builtin_trap();
		(void)n;
		ecr__manifest_free(m);
	} else if (m != NULL) {
		__builtin_trap(); /* out must stay NULL on failure */
	}
	return 0;
}
