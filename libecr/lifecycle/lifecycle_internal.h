/* Lifecycle policies, internal side: what the engine and the ECR API need
 * beyond the public ecr_lifecycle_policy_* functions. */
#ifndef ECR_LIFECYCLE_LIFECYCLE_INTERNAL_H
#define ECR_LIFECYCLE_LIFECYCLE_INTERNAL_H

#include "../core/core.h"

/* Every validation message starts with this (then the detail and a closing '). */
#define ECR__LIFECYCLE_INVALID_PREFIX                                                                                  \
	"Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation "       \
	"failure: "

/* One day in milliseconds (the only countUnit). */
#define ECR__LIFECYCLE_DAY_MS ((int64_t)86400000)

/* "EXPIRE" / "TRANSITION" (the API's uppercase enum), NULL for KEEP. */
const char *ecr__lifecycle_action_name(ecr_lifecycle_action action);

/*
 * The storage class a rule's action moves images to: ECR_STORAGE_CLASS_ARCHIVE
 * for a transition rule; -1 when no rule has that priority or it expires.
 */
int ecr__lifecycle_rule_target(const ecr_lifecycle_policy *policy, uint32_t rule_priority);

/*
 * ecr_lifecycle_policy_evaluate into two caller-allocated arrays of count
 * entries (no callback): actions[i] and priorities[i] decide images[i]
 * (priority 0 for KEEP). Same checks and errors as the public function.
 */
int ecr__lifecycle_evaluate_into(const ecr_lifecycle_policy *policy, const ecr_lifecycle_image *images, size_t count,
                                 int64_t now_ms, ecr_lifecycle_action *actions, uint32_t *priorities);

#endif
