/* placeholder: the S3 blob store (helper F replaces this file) */
#include "../core/core.h"
#include "ecr/storage.h"

int ecr_blob_store_s3_new(ecr_blob_store **out, const char *url, uint32_t flags)
{
	(void)url;
	(void)flags;
	*out = NULL;
	return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INVALID, "S3 blobs: not built yet");
}
