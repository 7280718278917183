/* Usage metering of a remote registry (GetUsage, libecr's extension operation of the ECR API), and the JSON form
 * of an ecr_usage shared by the server's GetUsage (libecr/server/ecr_api_usage.c) and this client side. */
#ifndef ECR_REMOTE_REMOTE_USAGE_H
#define ECR_REMOTE_REMOTE_USAGE_H

#include "../core/json.h"
#include "../engine/engine.h"
#include "ecr/usage.h"

/* The usage members (repositoryCount, images, storedBytes, storedBytesUnique, pushedBytes, pulledBytes,
 * imagePushes, imagePulls, blobUploads, blobDownloads, from, to: the window in epoch seconds, to 0 for none)
 * written into the open object w. */
int ecr__usage_write_json(ecr__jw *w, const ecr_usage *u);
/* Read them back from obj (missing members are 0; negative or non-integer ones: ECR_ERROR, malformed). */
int ecr__usage_read_json(ecr_usage *out, const ecr__json *obj);

/* ecr_registry_usage (repository NULL) / ecr_repository_usage of a remote registry. */
int ecr__remote_usage(ecr_usage *out, ecr_registry *reg, const char *repository, int64_t from_ms, int64_t to_ms);
int ecr__remote_usage_foreach(ecr_registry *reg, int64_t from_ms, int64_t to_ms, ecr_usage_cb cb, void *payload);

#endif
