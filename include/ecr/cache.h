/**
 * @file ecr/cache.h
 * @brief The pull-through cache: rules, upstream credentials, and the cache itself.
 * @defgroup ecr_cache Pull-through cache
 *
 * A rule maps a repository prefix of the registry ("docker-hub", "quay", or
 * "ROOT") to an upstream registry URL (ECR's CreatePullThroughCacheRule). A
 * pull of "<prefix>/<upstream path>:<tag>" that the registry cannot answer
 * is answered from upstream: the manifest (and an index's children) is
 * fetched and stored, the repository created (creation templates for
 * PULL_THROUGH_CACHE apply); blobs are fetched when first asked for and
 * streamed to the caller while they are stored, one upstream fetch per blob
 * however many callers ask at once. Tags are checked upstream again when
 * older than the freshness window; when upstream cannot be reached the
 * cached copy is served and the failure logged.
 *
 * Upstream credentials live in the registry's metadata store under an ARN
 * (ECR keeps them in Secrets Manager) that rules name in credentialArn; they
 * are never logged nor returned.
 * @{
 */
#ifndef ECR_CACHE_H
#define ECR_CACHE_H

#include "common.h"
#include "buffer.h"
#include "log.h"
#include "repository.h"
#include "image.h"
#include "blob.h"

ECR_BEGIN_DECL

/* --- rules --- */

/**
 * Create (create != 0) or update a pull-through cache rule, ECR's JSON
 * (CreatePullThroughCacheRule's input without registryId:
 * ecrRepositoryPrefix, upstreamRegistryUrl, upstreamRegistry, credentialArn,
 * customRoleArn, upstreamRepositoryPrefix; UpdatePullThroughCacheRule's for
 * an update). out (may be NULL) receives the rule as ECR returns it.
 * @return 0; ECR_EVALIDATION / ECR_EINVALID; ECR_EUNSUPPORTED_UPSTREAM (a URL
 *         that is not http(s)://host[:port] or host[:port]); ECR_EPTC_RULE_EXISTS;
 *         ECR_EPTC_RULE_NOT_FOUND on update; ECR_ELIMIT (50 rules);
 *         ECR_ESECRET_NOT_FOUND for an unknown credentialArn. (The specific
 *         codes belong to ECR_EEXISTS, ECR_ENOTFOUND, ECR_EINVALID.)
 */
ECR_EXTERN(int) ecr_registry_put_pull_through_cache_rule(ecr_buf *out, ecr_registry *reg, const char *json, int create);

/**
 * Delete a rule (the cached repositories stay); deleted_out (may be NULL) receives it.
 * @return 0; ECR_EPTC_RULE_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_registry_delete_pull_through_cache_rule(ecr_buf *deleted_out, ecr_registry *reg,
	const char *prefix);

/** Rules as a JSON array in prefix order: all, or those named (ECR_EPTC_RULE_NOT_FOUND for one that does not exist). */
ECR_EXTERN(int) ecr_registry_pull_through_cache_rules(ecr_buf *out, ecr_registry *reg, const char *const *prefixes,
	size_t prefixes_count);

/**
 * Store upstream credentials under an ARN ("arn:aws:secretsmanager:REGION:
 * ACCOUNT:secret:ecr-pullthroughcache/NAME"), replacing any.
 */
ECR_EXTERN(int) ecr_registry_put_credential(ecr_registry *reg, const char *arn, const char *username,
	const char *password);
/** @return 0; ECR_ENOTFOUND. */
ECR_EXTERN(int) ecr_registry_delete_credential(ecr_registry *reg, const char *arn);
/** Called with each stored credential's ARN and username (never its password). */
typedef int (*ecr_credential_cb)(const char *arn, const char *username, void *payload);
/**
 * Call cb for each stored credential, in ARN order; a non-zero return stops
 * and is returned. ECR_ENOTSUPPORTED on a remote registry (as for put and delete).
 */
ECR_EXTERN(int) ecr_registry_credentials_foreach(ecr_registry *reg, ecr_credential_cb cb, void *payload);

/* --- the cache --- */

typedef struct ecr_cache ecr_cache;

typedef struct ecr_cache_options {
	unsigned int version;
	/** A cached tag is checked upstream again when older than this; 0: 24 hours (ECR's). */
	uint64_t freshness_seconds;
	/** Options for the upstream registry handles (timeouts, CA files, ECR_REMOTE_* flags); NULL: defaults. */
	const ecr_registry_options *upstream_options;
	/** Log messages (upstream failures) go here; NULL: nowhere. */
	ecr_log_cb log_cb;
	void *log_payload;
	ecr_log_level log_level;
} ecr_cache_options;

#define ECR_CACHE_OPTIONS_VERSION 1
#define ECR_CACHE_OPTIONS_INIT { ECR_CACHE_OPTIONS_VERSION, 0, NULL, NULL, NULL, ECR_LOG_NONE }

ECR_EXTERN(int) ecr_cache_options_init(ecr_cache_options *opts, unsigned int version);
ECR_EXTERN(int) ecr_cache_new(ecr_cache **out, const ecr_cache_options *opts);
/** Free the cache: upstream fetches in flight are stopped (their partial blobs are not published). */
ECR_EXTERN(void) ecr_cache_free(ecr_cache *cache);

/**
 * Whether a repository name falls under a rule of reg (1), or not (0); negative on errors.
 */
ECR_EXTERN(int) ecr_cache_covers(ecr_cache *cache, ecr_registry *reg, const char *repository);

/**
 * An image through the cache: from the registry when it has it and (for a
 * tag) checked upstream within the freshness window; else from upstream,
 * stored first (the repository created when missing). Flags as for
 * ecr_image_get(). A tag that moved upstream moves here too.
 * @return 0; ECR_EIMAGE_NOT_FOUND / ECR_EREPOSITORY_NOT_FOUND when neither
 *         has it; ECR_ENOTFOUND when no rule covers the repository; upstream
 *         errors when the registry has no copy to fall back on.
 */
ECR_EXTERN(int) ecr_cache_image_get(ecr_image **out, ecr_cache *cache, ecr_registry *reg, const char *repository,
	const char *reference, uint32_t flags);

/**
 * A blob through the cache: from the registry when stored, else streamed
 * from upstream while it is stored (the first reader does not wait for the
 * whole blob; every concurrent reader shares one upstream fetch). Reading
 * fails with ECR_EDIGEST at the end when upstream's bytes do not match the
 * digest (then nothing is stored). offset/length as for ecr_blob_open().
 */
ECR_EXTERN(int) ecr_cache_blob_open(ecr_blob **out, ecr_cache *cache, ecr_registry *reg, const char *repository,
	const char *digest, uint64_t offset, uint64_t length);

/** The size of a blob through the cache (from upstream when not stored yet, without fetching it). */
ECR_EXTERN(int) ecr_cache_blob_stat(ecr_cache *cache, ecr_registry *reg, const char *repository, const char *digest,
	uint64_t *size_out);

ECR_END_DECL
/** @} */
#endif
