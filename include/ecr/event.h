/**
 * @file ecr/event.h
 * @brief Events a registry raises (as ECR sends them to EventBridge).
 * @defgroup ecr_event Events
 *
 * THREAD SAFETY: the event callback is called from the thread that made the
 * change, after it was committed, with no library lock held; several threads
 * may call it at once.
 * @{
 */
#ifndef ECR_EVENT_H
#define ECR_EVENT_H

#include "common.h"

ECR_BEGIN_DECL

/** What happened. */
typedef enum ecr_event_type {
	ECR_EVENT_LIFECYCLE_EXPIRE = 1,     /**< a lifecycle rule expired (deleted) an image */
	ECR_EVENT_LIFECYCLE_TRANSITION = 2  /**< a lifecycle rule archived an image */
} ecr_event_type;

/** One event; borrowed for the duration of the callback. */
typedef struct ecr_event {
	unsigned int version;
	ecr_event_type type;
	const char *account_id;
	const char *region;
	const char *repository;
	const char *digest;
	const char *const *tags; /**< the image's tags at the time */
	size_t tags_count;
	uint32_t rule_priority;  /**< lifecycle events: the rule that acted */
	int64_t time_ms;
} ecr_event;

#define ECR_EVENT_VERSION 1

/** Receives events. */
typedef void (*ecr_event_cb)(const ecr_event *event, void *payload);

ECR_END_DECL
/** @} */
#endif
