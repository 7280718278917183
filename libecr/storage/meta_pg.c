/* placeholder: the PostgreSQL metadata store (helper E replaces this file) */
#include "../core/core.h"
#include "ecr/storage.h"

int ecr_meta_store_postgres_new(ecr_meta_store **out, const char *conninfo, uint32_t flags)
{
	(void)conninfo;
	(void)flags;
	*out = NULL;
	return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INVALID, "PostgreSQL metadata: not built yet");
}
