/* The blob store vtable helpers and what the built-in stores share. */
#include "../core/core.h"
#include "blob_common.h"

#include <stddef.h>
#include <stdio.h>
#include <time.h>

int ecr_blob_store_init(ecr_blob_store *store, unsigned int version)
{
	int rc;
	if (!store)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_store_init: store is NULL");
	if ((rc = ecr__check_version(version, ECR_BLOB_STORE_VERSION, "ecr_blob_store")) != 0)
		return rc;
	/* a version-1 backend's struct ends before presign */
	memset(store, 0, version >= 2 ? sizeof(*store) : offsetof(ecr_blob_store, presign));
	store->version = version;
	return 0;
}

void ecr_blob_store_free(ecr_blob_store *store)
{
	if (store && store->free)
		store->free(store);
}

bool ecr__blob_is_hex(const char *name, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return name[len] == '\0';
}

int ecr__blob_digest_parse(const char *digest, ecr__digest_alg *alg_out, const char **hex_out)
{
	const char *colon;
	ecr__digest_alg alg;

	if (!digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "digest is NULL");
	colon = strchr(digest, ':');
	if (!colon || ecr__digest_alg_from_name(&alg, digest, (size_t)(colon - digest)) != 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid digest '%.80s': unsupported algorithm",
			digest);
	if (!ecr__blob_is_hex(colon + 1, ecr__digest_hex_len(alg)))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"invalid digest '%.150s': expected %zu lowercase hex digits after '%s:'", digest,
			ecr__digest_hex_len(alg), ecr__digest_alg_name(alg));
	if (alg_out)
		*alg_out = alg;
	if (hex_out)
		*hex_out = colon + 1;
	return 0;
}

bool ecr__blob_stage_id_valid(const char *name)
{
	size_t i;
	if (!name)
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		if (i >= ECR__BLOB_STAGE_ID_MAX)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
			return false;
	}
	return i > 0;
}

int ecr__blob_stage_id_check(const char *stage_id)
{
	if (!ecr__blob_stage_id_valid(stage_id))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"invalid staging id '%.80s': expected 1 to 64 letters, digits or '-'",
			stage_id ? stage_id : "(null)");
	return 0;
}

void ecr__blob_digest_path(char out[ECR__BLOB_PATH_MAX], ecr__digest_alg alg, const char *hex)
{
	snprintf(out, ECR__BLOB_PATH_MAX, "blobs/%s/%.2s/%s", ecr__digest_alg_name(alg), hex, hex);
}

int ecr__blob_fail_mismatch(const char *expected, const char *actual)
{
	return ecr__fail(ECR_EDIGEST, ECR_ERROR_STORAGE, "digest mismatch: expected %s, content is %s", expected,
		actual);
}

int64_t ecr__blob_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
