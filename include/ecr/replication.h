/**
 * @file ecr/replication.h
 * @brief Replication (cross-region and cross-account) and repository creation templates.
 * @defgroup ecr_replication Replication
 *
 * A registry's replication configuration (ECR's PutReplicationConfiguration)
 * names destinations (region + registry id) for the repositories its rules'
 * PREFIX_MATCH filters select. When an image is pushed to such a repository
 * (a new image, or a tag that moves), one job per destination is written to
 * a durable queue in the same transaction as the push: a crash cannot lose
 * it. An ecr_replicator works the queue: it copies the image (manifests,
 * index children, blobs, referrers: ecr_image_copy()) to the destination,
 * creating the repository there when missing (with the destination's
 * creation templates), retrying failures with backoff, and records each
 * destination's status (ecr_image_replication_status()). Images that arrive
 * by replication do not replicate again; deletes do not replicate. Only
 * pushes after the configuration exists replicate.
 *
 * A cross-account destination must allow it in its registry policy
 * (ecr:ReplicateImage, and ecr:CreateRepository when the repository is
 * missing) for the source account's root principal, as ECR requires.
 * @{
 */
#ifndef ECR_REPLICATION_H
#define ECR_REPLICATION_H

#include "common.h"
#include "buffer.h"
#include "repository.h"

ECR_BEGIN_DECL

/**
 * Replace the registry's replication configuration, ECR's JSON:
 * {"rules": [{"destinations": [{"region": "eu-west-1", "registryId":
 * "123456789012"}], "repositoryFilters": [{"filter": "prod",
 * "filterType": "PREFIX_MATCH"}]}]}: 0-10 rules, 1-25 destinations in all,
 * 0-100 filters per rule (none: every repository); a destination that is
 * the registry itself is refused.
 * @return 0; ECR_EVALIDATION / ECR_EINVALID with ECR's messages.
 */
ECR_EXTERN(int) ecr_registry_set_replication_configuration(ecr_registry *reg, const char *json);

/** The replication configuration as ECR's JSON; {"rules":[]} when never set. */
ECR_EXTERN(int) ecr_registry_replication_configuration(ecr_buf *out, ecr_registry *reg);

/** Where an image stands at one destination. */
typedef enum ecr_replication_status {
	ECR_REPLICATION_IN_PROGRESS = 0, /**< queued or being copied (also between retries) */
	ECR_REPLICATION_COMPLETE = 1,
	ECR_REPLICATION_FAILED = 2       /**< gave up; failure_reason says why */
} ecr_replication_status;

/** One destination's status; strings are borrowed for the call. A non-zero return stops and is returned. */
typedef int (*ecr_replication_status_cb)(const char *region, const char *registry_id, ecr_replication_status status,
	const char *failure_reason, void *payload);

/**
 * The replication status of an image, one callback per destination it was
 * queued for (none when it never was), in (region, registry id) order.
 * @return 0; ECR_EIMAGE_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_image_replication_status(ecr_repository *repo, const char *digest, ecr_replication_status_cb cb,
	void *payload);

typedef struct ecr_replicator ecr_replicator;

/**
 * The replicator's registry resolver: give it the registry of (region,
 * registry_id) in the deployment. It is asked for:
 * - a job's destination: a local registry of the same deployment (another
 *   region or account) or a remote one (ecr_registry_open("https://..."));
 * - a job's source, when the job belongs to a registry of an attached
 *   registry's storage other than that registry itself (the replicator works
 *   the jobs of every account and region of the storage): this must be the
 *   local registry of that account and region on the same storage.
 * *out is borrowed: it must stay valid until ecr_replicator_free().
 * ECR_ENOTFOUND when the registry is unknown (the job fails with that
 * reason; it is retried, and fails for good after max_attempts).
 */
typedef int (*ecr_replication_destination_cb)(ecr_registry **out, const char *region, const char *registry_id,
	void *payload);

typedef struct ecr_replicator_options {
	unsigned int version;
	/** Jobs copied at once; 0: 2. */
	unsigned int threads;
	ecr_replication_destination_cb destination_cb;
	void *destination_payload;
	/** Attempts before a job is FAILED; 0: 8. */
	unsigned int max_attempts;
	/** The first retry's delay, doubled each time (jittered), at most 10 minutes; 0: 2 s. */
	uint32_t retry_base_ms;
	/** Look for due jobs at least this often (new jobs of attached registries wake it at once); 0: 1000 ms. */
	uint32_t poll_ms;
} ecr_replicator_options;

#define ECR_REPLICATOR_OPTIONS_VERSION 1
#define ECR_REPLICATOR_OPTIONS_INIT { ECR_REPLICATOR_OPTIONS_VERSION, 0, NULL, NULL, 0, 0, 0 }

ECR_EXTERN(int) ecr_replicator_options_init(ecr_replicator_options *opts, unsigned int version);

/** Create a replicator; its threads start with the first ecr_replicator_attach(). */
ECR_EXTERN(int) ecr_replicator_new(ecr_replicator **out, const ecr_replicator_options *opts);

/**
 * Work the replication queue of a (local) registry's storage: the jobs of
 * every registry of that storage (all accounts and regions of its data
 * folder), whether or not they are attached or even open, their sources
 * resolved through destination_cb; jobs left by an earlier process
 * (interrupted ones included) are picked up too. Attaching another registry
 * of the same storage adds no queue (each job is claimed once); it makes its
 * pushes wake the replicator at once (others' are seen within poll_ms). The
 * registry must outlive the attachment. ECR_ENOTSUPPORTED for a remote
 * registry.
 */
ECR_EXTERN(int) ecr_replicator_attach(ecr_replicator *r, ecr_registry *reg);
ECR_EXTERN(int) ecr_replicator_detach(ecr_replicator *r, ecr_registry *reg);

/**
 * Wait until no job of the attached registries' storages is queued or running
 * (failed ones waiting for a retry count as queued), at most timeout_ms
 * (-1: no limit). @return 0, or ECR_EBUSY on the timeout.
 */
ECR_EXTERN(int) ecr_replicator_drain(ecr_replicator *r, int64_t timeout_ms);

/** Stop the threads (running copies finish their current blob and stop; their jobs stay queued) and free. */
ECR_EXTERN(void) ecr_replicator_free(ecr_replicator *r);

/* --- repository creation templates --- */

/** What created a repository, for templates' appliedFor. */
#define ECR_TEMPLATE_REPLICATION 1u
#define ECR_TEMPLATE_PULL_THROUGH_CACHE 2u
#define ECR_TEMPLATE_CREATE_ON_PUSH 4u

/**
 * Create (create != 0) or update a repository creation template, ECR's JSON
 * (CreateRepositoryCreationTemplate's input without registryId: prefix,
 * description, encryptionConfiguration, resourceTags, imageTagMutability,
 * imageTagMutabilityExclusionFilters, repositoryPolicy, lifecyclePolicy,
 * appliedFor, customRoleArn). out (may be NULL) receives the stored template
 * as ECR returns it (with createdAt/updatedAt).
 * @return 0; ECR_EVALIDATION / ECR_EINVALID; ECR_EEXISTS
 *         (TemplateAlreadyExistsException) on create; ECR_ENOTFOUND
 *         (TemplateNotFoundException) on update; ECR_ELIMIT.
 */
ECR_EXTERN(int) ecr_registry_put_creation_template(ecr_buf *out, ecr_registry *reg, const char *json, int create);

/** Delete a template; deleted_out (may be NULL) receives it. @return 0; ECR_ENOTFOUND. */
ECR_EXTERN(int) ecr_registry_delete_creation_template(ecr_buf *deleted_out, ecr_registry *reg, const char *prefix);

/**
 * Templates as a JSON array in prefix order: all, or those whose prefix is
 * in prefixes (ECR_ENOTFOUND for one that does not exist).
 */
ECR_EXTERN(int) ecr_registry_creation_templates(ecr_buf *out, ecr_registry *reg, const char *const *prefixes,
	size_t prefixes_count);

/**
 * Create a repository with the settings of the template that applies to its
 * name and to applied_for (one ECR_TEMPLATE_* value): the longest prefix
 * that is a whole leading part of the name ("prod" matches "prod/x", not
 * "production"), else "ROOT"; default settings when none applies. The
 * template's repository policy, lifecycle policy and resource tags are set
 * with the repository.
 * @return as ecr_repository_create().
 */
ECR_EXTERN(int) ecr_repository_create_templated(ecr_repository **out, ecr_registry *reg, const char *name,
	uint32_t applied_for);

ECR_END_DECL
/** @} */
#endif
