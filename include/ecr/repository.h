/**
 * @file ecr/repository.h
 * @brief Repositories: create, open, describe, list, delete.
 * @defgroup ecr_repository Repositories
 *
 * THREAD SAFETY: an ecr_repository handle is used by one thread at a time;
 * several handles on the same repository may be used from different threads.
 * @{
 */
#ifndef ECR_REPOSITORY_H
#define ECR_REPOSITORY_H

#include "common.h"
#include "buffer.h"
#include "registry.h"

ECR_BEGIN_DECL

typedef struct ecr_repository ecr_repository;
typedef struct ecr_repository_iterator ecr_repository_iterator;

/** Image tag mutability, as ECR's imageTagMutability. */
typedef enum ecr_tag_mutability {
	ECR_TAG_MUTABLE = 0,
	ECR_TAG_IMMUTABLE = 1,
	ECR_TAG_IMMUTABLE_WITH_EXCLUSION = 2, /**< immutable but for tags matching an exclusion filter */
	ECR_TAG_MUTABLE_WITH_EXCLUSION = 3    /**< mutable but for tags matching an exclusion filter */
} ecr_tag_mutability;

/** Encryption setting, as ECR's encryptionType. */
typedef enum ecr_encryption_type {
	ECR_ENCRYPTION_AES256 = 0,
	ECR_ENCRYPTION_KMS = 1,
	ECR_ENCRYPTION_KMS_DSSE = 2
} ecr_encryption_type;

/** A resource tag (ECR's Tag: Key and Value). */
typedef struct ecr_resource_tag {
	const char *key;   /**< 1-128 characters; "aws:" is reserved */
	const char *value; /**< 0-256 characters */
} ecr_resource_tag;

/** Options for ecr_repository_create(). NULL means all defaults. */
typedef struct ecr_repository_options {
	unsigned int version;
	ecr_tag_mutability tag_mutability;
	/** WILDCARD exclusion filters ([0-9a-zA-Z._*-]{1,128}); 1-5, only with the *_WITH_EXCLUSION modes. */
	const char *const *exclusions;
	size_t exclusions_count;
	/** Scan images when they are pushed. */
	int scan_on_push;
	ecr_encryption_type encryption_type;
	/** The KMS key with ECR_ENCRYPTION_KMS*; NULL: the AWS-managed key. */
	const char *kms_key;
	/** Resource tags, at most 50. */
	const ecr_resource_tag *tags;
	size_t tags_count;
} ecr_repository_options;

#define ECR_REPOSITORY_OPTIONS_VERSION 1
#define ECR_REPOSITORY_OPTIONS_INIT { ECR_REPOSITORY_OPTIONS_VERSION, ECR_TAG_MUTABLE, NULL, 0, 0, ECR_ENCRYPTION_AES256, NULL, NULL, 0 }

/** Initialise options to the defaults. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_repository_options_init(ecr_repository_options *opts, unsigned int version);

/**
 * Create a repository.
 * On a remote plain OCI registry (no ECR API), which creates repositories
 * with their first push, this only returns a handle on the name (existing or
 * not), and ECR_ENOTSUPPORTED for options other than the defaults.
 * @param out receives the new repository (free with ecr_repository_free()), or NULL.
 * @param name 2-256 characters of the OCI repository name grammar.
 * @return 0; ECR_EINVALID (name, options); ECR_EREPOSITORY_EXISTS;
 *         ECR_EINVALID_TAG_PARAMETER; ECR_ETOO_MANY_TAGS.
 */
ECR_EXTERN(int) ecr_repository_create(ecr_repository **out, ecr_registry *reg, const char *name,
	const ecr_repository_options *opts);

/** Open an existing repository. @return 0, ECR_EREPOSITORY_NOT_FOUND, ECR_EINVALID (malformed name). */
ECR_EXTERN(int) ecr_repository_open(ecr_repository **out, ecr_registry *reg, const char *name);

/** Free a repository handle (not the repository). NULL is a no-op. */
ECR_EXTERN(void) ecr_repository_free(ecr_repository *repo);

/** Flag for ecr_repository_delete(): delete the images too. */
#define ECR_REPOSITORY_DELETE_FORCE 1u

/**
 * Delete a repository.
 * @return 0; ECR_EREPOSITORY_NOT_FOUND; ECR_EREPOSITORY_NOT_EMPTY when it
 *         holds images and ECR_REPOSITORY_DELETE_FORCE is not given.
 */
ECR_EXTERN(int) ecr_repository_delete(ecr_registry *reg, const char *name, uint32_t flags);

/** The name. @return borrowed. */
ECR_EXTERN(const char *) ecr_repository_name(const ecr_repository *repo);
/** The ARN, arn:aws:ecr:<region>:<account>:repository/<name>. @return borrowed. */
ECR_EXTERN(const char *) ecr_repository_arn(const ecr_repository *repo);
/** The URI, <account>.dkr.ecr.<region>.amazonaws.com/<name>. @return borrowed. */
ECR_EXTERN(const char *) ecr_repository_uri(const ecr_repository *repo);
/** The registry (account) id. @return borrowed. */
ECR_EXTERN(const char *) ecr_repository_registry_id(const ecr_repository *repo);
/** Creation time, ms since the epoch. */
ECR_EXTERN(int64_t) ecr_repository_created_at(const ecr_repository *repo);
ECR_EXTERN(ecr_tag_mutability) ecr_repository_tag_mutability(const ecr_repository *repo);
/** Number of exclusion filters. */
ECR_EXTERN(size_t) ecr_repository_exclusion_count(const ecr_repository *repo);
/** Exclusion filter i. @return borrowed, or NULL when i is out of range. */
ECR_EXTERN(const char *) ecr_repository_exclusion(const ecr_repository *repo, size_t i);
ECR_EXTERN(int) ecr_repository_scan_on_push(const ecr_repository *repo);
ECR_EXTERN(ecr_encryption_type) ecr_repository_encryption_type(const ecr_repository *repo);
/** The KMS key, or NULL. @return borrowed. */
ECR_EXTERN(const char *) ecr_repository_kms_key(const ecr_repository *repo);

/**
 * Whether a tag may be moved to another image under the repository's
 * mutability setting and exclusion filters.
 * @return 1 mutable, 0 immutable.
 */
ECR_EXTERN(int) ecr_repository_tag_is_mutable(const ecr_repository *repo, const char *tag);

/**
 * Change tag mutability (affects future pushes only).
 * @return 0, ECR_EINVALID, ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_repository_set_tag_mutability(ecr_repository *repo, ecr_tag_mutability mutability,
	const char *const *exclusions, size_t exclusions_count);

/** Change scan on push. @return 0, ECR_EREPOSITORY_NOT_FOUND. */
ECR_EXTERN(int) ecr_repository_set_scan_on_push(ecr_repository *repo, int scan_on_push);

/** Called for each resource tag. */
typedef int (*ecr_resource_tag_cb)(const char *key, const char *value, void *payload);

/**
 * Add or overwrite resource tags.
 * @return 0, ECR_EINVALID_TAG_PARAMETER, ECR_ETOO_MANY_TAGS (more than 50), ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_repository_tag_resource(ecr_repository *repo, const ecr_resource_tag *tags, size_t count);

/** Remove resource tags by key (missing keys are ignored). */
ECR_EXTERN(int) ecr_repository_untag_resource(ecr_repository *repo, const char *const *keys, size_t count);

/** Call cb for each resource tag, in key order. A non-zero return from cb stops and is returned. */
ECR_EXTERN(int) ecr_repository_resource_tags(ecr_repository *repo, ecr_resource_tag_cb cb, void *payload);

/** Flag for ecr_repository_set_policy(): accept a policy that would lock the caller out (ECR's force). */
#define ECR_POLICY_FORCE 1u

/**
 * Set the repository policy (a resource policy, see ecr/policy.h).
 * @return 0; ECR_EINVALID (document, with a message saying why); ECR_ELIMIT
 *         (over ECR_POLICY_MAX_SIZE); ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_repository_set_policy(ecr_repository *repo, const char *text, uint32_t flags);

/**
 * The repository policy, as it was set.
 * @return 0; ECR_EREPOSITORY_POLICY_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_repository_policy(ecr_buf *out, ecr_repository *repo);

/**
 * Delete the repository policy.
 * @param deleted_out receives the policy that was deleted; may be NULL.
 * @return 0; ECR_EREPOSITORY_POLICY_NOT_FOUND; ECR_EREPOSITORY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_repository_delete_policy(ecr_buf *deleted_out, ecr_repository *repo);

/**
 * Iterate over the registry's repositories in name order.
 * @param start_token NULL to start at the beginning, or a token from
 *        ecr_repository_iterator_token() to go on after the item it was taken at.
 * @return 0, ECR_EINVALID (bad token).
 */
ECR_EXTERN(int) ecr_repository_iterator_new(ecr_repository_iterator **out, ecr_registry *reg, const char *start_token);

/**
 * Iterate over the registry's repositories in name order, starting after a
 * name (the OCI catalog's "last" parameter).
 * @param after start after this name, or NULL to start at the beginning.
 */
ECR_EXTERN(int) ecr_repository_iterator_new_after(ecr_repository_iterator **out, ecr_registry *reg, const char *after);

/**
 * The next repository.
 * @param out receives a borrowed handle, valid until the next call or free.
 * @return 0, ECR_ITEROVER at the end.
 */
ECR_EXTERN(int) ecr_repository_iterator_next(ecr_repository **out, ecr_repository_iterator *it);

/**
 * A token that resumes after the last item returned (a nextToken for
 * pagination). Empty when nothing was returned yet.
 */
ECR_EXTERN(int) ecr_repository_iterator_token(ecr_buf *out, ecr_repository_iterator *it);

/** Free an iterator. NULL is a no-op. */
ECR_EXTERN(void) ecr_repository_iterator_free(ecr_repository_iterator *it);

/** Called for each repository by ecr_repository_foreach(); repo is borrowed. */
typedef int (*ecr_repository_cb)(ecr_repository *repo, void *payload);

/** Call cb for every repository in name order. A non-zero return from cb stops and is returned. */
ECR_EXTERN(int) ecr_repository_foreach(ecr_registry *reg, ecr_repository_cb cb, void *payload);

ECR_END_DECL
/** @} */
#endif
