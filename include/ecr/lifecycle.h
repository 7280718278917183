/**
 * @file ecr/lifecycle.h
 * @brief Lifecycle policies: parse and validate, evaluate (pure), preview, apply.
 * @defgroup ecr_lifecycle Lifecycle policies
 *
 * ECR's lifecycle policy grammar (rules with rulePriority, selection
 * {tagStatus, tagPrefixList, tagPatternList, storageClass, countType,
 * countUnit, countNumber}, action {type expire|transition,
 * targetStorageClass}) and its evaluation: rules are evaluated together and
 * applied in priority order, an image is acted on by at most one rule, an
 * image that a higher-priority rule selects is protected from lower ones,
 * images listed by an index are not acted on alone, and referrers follow
 * their subject.
 *
 * THREAD SAFETY: a parsed policy is immutable and may be evaluated from any
 * number of threads at once.
 * @{
 */
#ifndef ECR_LIFECYCLE_H
#define ECR_LIFECYCLE_H

#include "common.h"
#include "buffer.h"
#include "image.h"
#include "repository.h"

ECR_BEGIN_DECL

typedef struct ecr_lifecycle_policy ecr_lifecycle_policy;

/** Bounds of lifecyclePolicyText (characters) and of its rules. */
#define ECR_LIFECYCLE_POLICY_MIN_SIZE 100
#define ECR_LIFECYCLE_POLICY_MAX_SIZE 30720
#define ECR_LIFECYCLE_MAX_RULES 50

/**
 * Parse and validate a lifecycle policy.
 * @return 0; ECR_EINVALID with ECR's message ("Invalid parameter at
 *         'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy
 *         validation failure: ...'").
 */
ECR_EXTERN(int) ecr_lifecycle_policy_parse(ecr_lifecycle_policy **out, const char *text, size_t len);

/** Free a policy. NULL is a no-op. */
ECR_EXTERN(void) ecr_lifecycle_policy_free(ecr_lifecycle_policy *policy);

/** Number of rules. */
ECR_EXTERN(size_t) ecr_lifecycle_policy_rule_count(const ecr_lifecycle_policy *policy);

/** What a policy does to an image. */
typedef enum ecr_lifecycle_action {
	ECR_LIFECYCLE_KEEP = 0,
	ECR_LIFECYCLE_EXPIRE = 1,    /**< delete the image */
	ECR_LIFECYCLE_TRANSITION = 2 /**< move it to the ARCHIVE storage class */
} ecr_lifecycle_action;

/** An image as the evaluator sees it (input; the caller owns every pointer). */
typedef struct ecr_lifecycle_image {
	const char *digest;
	const char *const *tags;
	size_t tags_count;
	int64_t pushed_at;         /**< ms since the epoch */
	int64_t last_pulled_at;    /**< 0: never */
	int64_t last_archived_at;  /**< 0: never */
	int64_t last_activated_at; /**< 0: never restored */
	ecr_storage_class storage_class;
	/** Digests of the manifest lists / indexes (in the same set) that list this image. */
	const char *const *parents;
	size_t parents_count;
	/** The subject digest of a referrer (OCI 1.1), or NULL. */
	const char *subject;
} ecr_lifecycle_image;

/**
 * Receives the decision for images[index] (called once per image, in index
 * order). rule_priority is the rule that decided, 0 for KEEP. A non-zero
 * return stops the evaluation and is returned.
 */
typedef int (*ecr_lifecycle_result_cb)(size_t index, ecr_lifecycle_action action, uint32_t rule_priority,
	void *payload);

/**
 * Evaluate a policy over a set of images: pure, no storage involved.
 * @param now_ms the time the ages are measured at.
 * @return 0; ECR_EINVALID (bad input); or cb's non-zero return.
 */
ECR_EXTERN(int) ecr_lifecycle_policy_evaluate(const ecr_lifecycle_policy *policy, const ecr_lifecycle_image *images,
	size_t count, int64_t now_ms, ecr_lifecycle_result_cb cb, void *payload);

/**
 * Set a repository's lifecycle policy (validated first).
 * @return 0; ECR_EINVALID; ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_repository_set_lifecycle_policy(ecr_repository *repo, const char *text);

/**
 * A repository's lifecycle policy.
 * @param last_evaluated_at_out when it was last applied (ms), 0 if never; may be NULL.
 * @return 0; ECR_ELIFECYCLE_POLICY_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_repository_lifecycle_policy(ecr_buf *text_out, int64_t *last_evaluated_at_out, ecr_repository *repo);

/**
 * Delete a repository's lifecycle policy.
 * @param deleted_out receives the deleted text; may be NULL.
 * @return 0; ECR_ELIFECYCLE_POLICY_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_repository_delete_lifecycle_policy(ecr_buf *deleted_out, int64_t *last_evaluated_at_out,
	ecr_repository *repo);

/**
 * Receives one image of a preview or an application: img is borrowed for the
 * call; action and rule_priority say what the policy does to it. A non-zero
 * return stops and is returned.
 */
typedef int (*ecr_lifecycle_image_cb)(ecr_image *img, ecr_lifecycle_action action, uint32_t rule_priority,
	void *payload);

/**
 * Preview a policy on a repository: evaluate it over the repository's images
 * now and report every image's decision, changing nothing.
 * @param text a policy to try, or NULL for the repository's own.
 * @return 0; ECR_EINVALID; ECR_ELIFECYCLE_POLICY_NOT_FOUND (text NULL and none set).
 */
ECR_EXTERN(int) ecr_repository_lifecycle_preview(ecr_repository *repo, const char *text, ecr_lifecycle_image_cb cb,
	void *payload);

/**
 * Apply the repository's lifecycle policy now: expired images are deleted the
 * normal way (blob GC reclaims the space), transitioned ones archived. Each
 * action is logged, raised as an event (ecr_registry_options.event_cb) and
 * reported to cb (may be NULL) after it happened; lastEvaluatedAt is updated.
 * @return 0; ECR_ELIFECYCLE_POLICY_NOT_FOUND; storage errors.
 */
ECR_EXTERN(int) ecr_repository_apply_lifecycle(ecr_repository *repo, ecr_lifecycle_image_cb cb, void *payload);

ECR_END_DECL
/** @} */
#endif
