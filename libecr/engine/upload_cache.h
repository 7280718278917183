/* Upload sessions as garbage collection sees them (upload.c, used by gc.c). */
#ifndef ECR_ENGINE_UPLOAD_CACHE_H
#define ECR_ENGINE_UPLOAD_CACHE_H

#include "engine.h"

/* The most bytes one blob may have: ECR's 52,000 MiB per layer. */
#define ECR__BLOB_MAX_SIZE ((uint64_t)52000 * 1024 * 1024)

/*
 * Remove abandoned upload sessions of every registry in reg's store: sessions
 * whose last activity is before expired_before (row and staging object), and
 * staging objects without a session whose mtime is before orphan_before
 * (left by a crash). Sessions held by an open ecr_upload handle are skipped.
 * With dry_run, only count. *count_out gets the number removed (or that would be).
 */
int ecr__uploads_gc(ecr_registry *reg, int64_t expired_before, int64_t orphan_before, bool dry_run,
	uint64_t *count_out);

/*
 * Settle the session's writer before answering a request: every byte written
 * is in the staging object (large uploads are written in a pipeline), so a
 * size reported to the client survives the process. After a failure
 * ecr_upload_size() is what the staging object kept.
 */
int ecr__upload_settle(ecr_upload *up);

#endif
