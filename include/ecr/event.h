/**
 * @file ecr/event.h
 * @brief Events a registry raises (as ECR sends them to EventBridge).
 * @defgroup ecr_event Events
 *
 * A registry opened with ecr_registry_options.event_cb calls it once for every
 * image pushed (a new image, or a tag added or moved: an identical re-push
 * raises nothing), image deleted (or tag removed), image scan completed,
 * replication done or given up, pull through cache sync and lifecycle action.
 * ecr_event_to_json() turns an event into the EventBridge document ECR sends.
 *
 * THREAD SAFETY: the event callback is called from the thread that made the
 * change, after it was committed, with no library lock held; several threads
 * may call it at once. It must not block for long: it runs inside the request
 * that made the change (see ecr/webhook.h for a queueing callback).
 * @{
 */
#ifndef ECR_EVENT_H
#define ECR_EVENT_H

#include "common.h"
#include "buffer.h"

ECR_BEGIN_DECL

/** What happened. */
typedef enum ecr_event_type {
	ECR_EVENT_LIFECYCLE_EXPIRE = 1,     /**< a lifecycle rule expired (deleted) an image */
	ECR_EVENT_LIFECYCLE_TRANSITION = 2, /**< a lifecycle rule archived an image */
	ECR_EVENT_IMAGE_PUSH = 3,           /**< "ECR Image Action" PUSH: an image or a tag was pushed */
	ECR_EVENT_IMAGE_DELETE = 4,         /**< "ECR Image Action" DELETE: an image deleted, or a tag removed */
	ECR_EVENT_IMAGE_SCAN = 5,           /**< "ECR Image Scan": a basic scan completed */
	ECR_EVENT_REPLICATION = 6,          /**< "ECR Replication Action" REPLICATE: success or given up */
	ECR_EVENT_PULL_THROUGH_CACHE = 7    /**< "ECR Pull Through Cache Action": an image synced from upstream */
} ecr_event_type;

/** The outcome an event reports. */
typedef enum ecr_event_result {
	ECR_EVENT_SUCCESS = 0,
	ECR_EVENT_FAILURE = 1
} ecr_event_result;

/** One event; borrowed for the duration of the callback. Fields an event type does not use are NULL or 0. */
typedef struct ecr_event {
	unsigned int version;
	ecr_event_type type;
	const char *account_id;  /**< the registry the event belongs to (replication: the destination) */
	const char *region;
	const char *repository;
	const char *digest;
	const char *const *tags; /**< the image's tags at the time (lifecycle, scan, delete) */
	size_t tags_count;
	uint32_t rule_priority;  /**< lifecycle events: the rule that acted */
	int64_t time_ms;
	/* version >= 2 */
	const char *tag;         /**< PUSH: the tag pushed (NULL: by digest); DELETE: the tag removed, or NULL */
	ecr_event_result result;
	const char *reason;      /**< FAILURE: why (or NULL) */
	/** IMAGE_SCAN: the findings per severity (ECR's finding-severity-counts; zero counts are left out). */
	uint32_t findings_critical;
	uint32_t findings_high;
	uint32_t findings_medium;
	uint32_t findings_low;
	uint32_t findings_informational;
	uint32_t findings_undefined;
	const char *source_account_id; /**< REPLICATION: the source registry */
	const char *source_region;
	const char *upstream_url;      /**< PULL_THROUGH_CACHE: the upstream registry */
	const char *repository_prefix; /**< PULL_THROUGH_CACHE: the rule's ECR repository prefix */
} ecr_event;

#define ECR_EVENT_VERSION 2

/** Receives events. */
typedef void (*ecr_event_cb)(const ecr_event *event, void *payload);

/**
 * Append to out the EventBridge event ECR sends for e: {"version": "0", "id": a
 * random UUID v4, "detail-type", "source": "aws.ecr", "account", "time" (ISO 8601,
 * UTC, seconds), "region", "resources": [the repository ARN], "detail"} (docs/events.md
 * lists the detail of each type).
 * @return 0, ECR_EINVALID (unknown type, no account/region/repository), ECR_ENOMEM
 */
ECR_EXTERN(int) ecr_event_to_json(ecr_buf *out, const ecr_event *e);

/** The EventBridge detail-type of an event type ("ECR Image Action", ...), or NULL for an unknown one. */
ECR_EXTERN(const char *) ecr_event_detail_type(ecr_event_type type);

ECR_END_DECL
/** @} */
#endif
