/* Metering hooks for the library's other modules (usage metering: engine/usage.c, docs/usage.md). */
#ifndef ECR_ENGINE_METERING_H
#define ECR_ENGINE_METERING_H

#include "../core/core.h"
#include "ecr/blob.h"

/* ecr_blob_open() without counting a blob download: for the library's own reads (the scanner reading layers, the
 * gallery reading an image config), which are not transfers to a client. */
int ecr__blob_open_uncounted(ecr_blob **out, ecr_repository *repo, const char *digest, uint64_t offset,
	uint64_t length);

#endif
