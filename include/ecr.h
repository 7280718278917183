/**
 * @file ecr.h
 * @brief libecr: an embeddable, Amazon-ECR-compatible container registry.
 *
 * THREAD SAFETY: Calls on different handles are safe from different threads.
 * No handle may be used from two threads at once, with two exceptions that are
 * internally locked: ecr_registry and storage backends, which the HTTP server
 * uses from several worker threads. Error state is per-thread. Anything
 * returned as const from an immutable object (a parsed manifest, a policy) may
 * be read from any thread.
 */
#ifndef ECR_H
#define ECR_H

#include "ecr/common.h"
#include "ecr/errors.h"
#include "ecr/buffer.h"
#include "ecr/log.h"
#include "ecr/storage.h"
#include "ecr/registry.h"
#include "ecr/repository.h"
#include "ecr/upload.h"
#include "ecr/blob.h"
#include "ecr/event.h"
#include "ecr/webhook.h"
#include "ecr/image.h"
#include "ecr/lifecycle.h"
#include "ecr/policy.h"
#include "ecr/auth.h"
#include "ecr/scan.h"
#include "ecr/copy.h"
#include "ecr/replication.h"
#include "ecr/cache.h"
#include "ecr/public.h"
#include "ecr/server.h"
#include "ecr/stats.h"
#include "ecr/fsck.h"
#include "ecr/usage.h"

#endif
