/**
 * @file ecr/registry.h
 * @brief Open a registry, garbage-collect it.
 * @defgroup ecr_registry Registry
 *
 * A registry is one account in one region. Several registries can live in one
 * data folder and share its storage (blobs are stored once).
 *
 * THREAD SAFETY: an ecr_registry is internally locked: any number of threads
 * may use one registry handle at once. Handles derived from it (repositories,
 * images, uploads, iterators) are used by one thread at a time.
 * @{
 */
#ifndef ECR_REGISTRY_H
#define ECR_REGISTRY_H

#include "common.h"
#include "buffer.h"
#include "event.h"
#include "log.h"
#include "storage.h"

ECR_BEGIN_DECL

typedef struct ecr_registry ecr_registry;

/** Returns the current time in milliseconds since the epoch. */
typedef int64_t (*ecr_clock_cb)(void *payload);

/** Options for ecr_registry_open(). NULL means all defaults. */
typedef struct ecr_registry_options {
	unsigned int version;
	/** The 12-digit account id; NULL: "123456789012". */
	const char *account_id;
	/** The region, e.g. "eu-west-1"; NULL: "us-east-1". */
	const char *region;
	/** Log messages go here; NULL: nowhere. Called from any thread. */
	ecr_log_cb log_cb;
	void *log_payload;
	/** The most verbose level passed to log_cb; 0: ECR_LOG_WARN. */
	ecr_log_level log_level;
	/** The clock; NULL: the system's. Tests set it to move time. */
	ecr_clock_cb clock_cb;
	void *clock_payload;
	/** Upload sessions untouched for this long expire; 0: 24 hours. */
	uint64_t upload_expiry_seconds;
	/** ECR_STORAGE_NOSYNC, or 0. */
	uint32_t flags;
	/* version 2 */
	/** Events (lifecycle actions, ...) go here; NULL: nowhere. See ecr/event.h. */
	ecr_event_cb event_cb;
	void *event_payload;
	/* version 3: remote registries (http://, https://); ignored by local ones */
	/**
	 * Basic credentials for the data plane ("AWS" and a token from
	 * GetAuthorizationToken for Amazon ECR); NULL: none, or derived from the
	 * AWS credentials below (the library gets a token itself).
	 */
	const char *username;
	const char *password;
	/**
	 * AWS credentials for the ECR API (SigV4). NULL: the usual AWS sources, in
	 * the AWS CLI's order: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
	 * AWS_SESSION_TOKEN, then the shared credentials file
	 * (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials) for profile.
	 */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;
	/** The profile of the shared credentials and config files; NULL: AWS_PROFILE, else "default". */
	const char *profile;
	/**
	 * The ECR API's endpoint, e.g. "https://api.ecr.eu-west-1.amazonaws.com";
	 * NULL: the registry URL itself (as ecrd serves both), or api.ecr.<region>
	 * for an Amazon ECR registry host.
	 */
	const char *api_endpoint;
	/** CA certificates to trust for https (a PEM file, a hashed folder); NULL: the system's. */
	const char *ca_file;
	const char *ca_path;
	/** ECR_REMOTE_* flags. */
	uint32_t remote_flags;
	/** Give up on a request after this long without progress; 0: 60 s. Connecting: at most 10 s. */
	uint32_t timeout_ms;
	/** Retries of a failed request (5xx, 429, reset connection), with jittered backoff; 0: 4 (ECR_REMOTE_NO_RETRY: none). */
	uint32_t max_retries;
	/** Appended to the User-Agent header; NULL: nothing. */
	const char *user_agent;
} ecr_registry_options;

/** Do not verify the server's TLS certificate and host name (tests only). */
#define ECR_REMOTE_INSECURE 1u
/** Never ask the registry for the ECR API: treat it as a plain OCI registry. */
#define ECR_REMOTE_OCI_ONLY 2u
/** Never retry a failed request. */
#define ECR_REMOTE_NO_RETRY 4u

#define ECR_REGISTRY_OPTIONS_VERSION 3
#define ECR_REGISTRY_OPTIONS_INIT { ECR_REGISTRY_OPTIONS_VERSION, NULL, NULL, NULL, NULL, ECR_LOG_NONE, NULL, NULL, 0, 0, \
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL }

/** Initialise options to the defaults. @return 0 or ECR_EINVALID for an unknown version. */
ECR_EXTERN(int) ecr_registry_options_init(ecr_registry_options *opts, unsigned int version);

/**
 * Open a registry.
 * @param out receives the registry; free with ecr_registry_free().
 * @param url "file:///path/to/folder" (created if missing: blobs in files,
 *        metadata in SQLite), "memory:" (nothing kept after the last free),
 *        or "https://host[:port]" / "http://host[:port]": a remote registry
 *        (ecrd, Amazon ECR, any OCI Distribution registry) reached through the
 *        HTTP transport (ecr/sys/transport.h). Every operation works on a
 *        remote handle as on a local one, with the same error codes, except
 *        the registry host's own maintenance (garbage collection, applying
 *        lifecycle policies, principals), which answers ECR_ENOTSUPPORTED.
 * @param opts options, or NULL for defaults; read during the call only.
 * @return 0; ECR_EINVALID for a bad URL, account id, region or options
 *         version; ECR_EIO when the storage cannot be opened; ECR_ENETWORK
 *         when a remote registry cannot be reached; ECR_EAUTH when it
 *         refuses the credentials.
 */
ECR_EXTERN(int) ecr_registry_open(ecr_registry **out, const char *url, const ecr_registry_options *opts);

/**
 * Open a registry on a metadata store and a blob store named by URLs: the
 * storage of several ecrd nodes (processes, machines) serving one registry.
 * Registries opened with the same pair of URLs in one process (accounts x
 * regions) share one store, as those of one file:// folder do. No lock file
 * is taken: any number of processes may open the same pair.
 * @param out receives the registry; free with ecr_registry_free().
 * @param meta_url "postgres://user[:password]@host[:port]/db[?...]" or
 *        "postgresql://..." (ecr_meta_store_postgres_new()), or
 *        "sqlite:///abs/path.db" (ecr_meta_store_sqlite_new(); one machine).
 * @param blob_url "s3://bucket[/prefix][?endpoint=...&region=...&path_style=1]"
 *        (ecr_blob_store_s3_new()), "file:///abs/dir" (ecr_blob_store_fs_new())
 *        or "memory:". With s3:// and file:// an upload session keeps no
 *        staging writer open between its handles, so it can continue in
 *        another process.
 * @param opts options, or NULL for defaults; read during the call only.
 * @return 0; ECR_EINVALID for a bad URL, account id, region or options
 *         version; ECR_ENETWORK when a server cannot be reached; ECR_EAUTH
 *         when no S3 credentials are found; ECR_EIO when the storage cannot
 *         be opened.
 */
ECR_EXTERN(int) ecr_registry_open_urls(ecr_registry **out, const char *meta_url, const char *blob_url,
	const ecr_registry_options *opts);

/**
 * Open a registry on storage backends of the caller's (see ecr/storage.h).
 * The registry takes ownership of both stores, also when it fails.
 */
ECR_EXTERN(int) ecr_registry_open_storage(ecr_registry **out, ecr_blob_store *blobs, ecr_meta_store *meta,
	const ecr_registry_options *opts);

/** Close a registry. Open repositories, images and uploads must be freed first. NULL is a no-op. */
ECR_EXTERN(void) ecr_registry_free(ecr_registry *reg);

/** The account id. @return borrowed, lives as long as reg. */
ECR_EXTERN(const char *) ecr_registry_account_id(const ecr_registry *reg);

/** The region. @return borrowed, lives as long as reg. */
ECR_EXTERN(const char *) ecr_registry_region(const ecr_registry *reg);

/** The registry's clock, in milliseconds since the epoch. */
ECR_EXTERN(int64_t) ecr_registry_now(const ecr_registry *reg);

/**
 * The registry's ARN, "arn:aws:ecr:<region>:<account>:registry" (the
 * resource of registry-level actions). @return borrowed.
 */
ECR_EXTERN(const char *) ecr_registry_arn(const ecr_registry *reg);

/**
 * Set the registry policy (a resource policy, see ecr/policy.h).
 * @return 0; ECR_EINVALID (document); ECR_ELIMIT.
 */
ECR_EXTERN(int) ecr_registry_set_policy(ecr_registry *reg, const char *text);

/** The registry policy. @return 0; ECR_EREGISTRY_POLICY_NOT_FOUND. */
ECR_EXTERN(int) ecr_registry_policy(ecr_buf *out, ecr_registry *reg);

/**
 * Delete the registry policy.
 * @param deleted_out receives what was deleted; may be NULL.
 * @return 0; ECR_EREGISTRY_POLICY_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_registry_delete_policy(ecr_buf *deleted_out, ecr_registry *reg);

/**
 * An account setting (ECR's GetAccountSetting): "BASIC_SCAN_TYPE_VERSION"
 * (default "AWS_NATIVE") or "REGISTRY_POLICY_SCOPE" (default "V2").
 * @return 0; ECR_EVALIDATION for an unknown name.
 */
ECR_EXTERN(int) ecr_registry_setting(ecr_buf *out, ecr_registry *reg, const char *name);

/**
 * Change an account setting (ECR's PutAccountSetting); the value must be one
 * the setting accepts (BASIC_SCAN_TYPE_VERSION: AWS_NATIVE or CLAIR;
 * REGISTRY_POLICY_SCOPE: V1 or V2).
 * @return 0; ECR_EVALIDATION.
 */
ECR_EXTERN(int) ecr_registry_set_setting(ecr_registry *reg, const char *name, const char *value);

/** Options for ecr_registry_gc(). */
typedef struct ecr_gc_options {
	unsigned int version;
	/** Blobs and links younger than this are kept; 0: 1 hour. */
	uint64_t grace_seconds;
	/** ECR_GC_DRY_RUN: count only. */
	uint32_t flags;
} ecr_gc_options;

#define ECR_GC_OPTIONS_VERSION 1
#define ECR_GC_OPTIONS_INIT { ECR_GC_OPTIONS_VERSION, 0, 0 }
#define ECR_GC_DRY_RUN 1u

/** Initialise GC options. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_gc_options_init(ecr_gc_options *opts, unsigned int version);

/** What a garbage collection did. */
typedef struct ecr_gc_stats {
	unsigned int version;
	uint64_t uploads_expired;  /**< abandoned upload sessions removed */
	uint64_t links_removed;    /**< repository blob links no image needs */
	uint64_t blobs_removed;    /**< blobs removed from the blob store */
	uint64_t bytes_removed;    /**< their total size */
	uint64_t blobs_kept;       /**< blobs still in the store */
} ecr_gc_stats;

#define ECR_GC_STATS_VERSION 1
#define ECR_GC_STATS_INIT { ECR_GC_STATS_VERSION, 0, 0, 0, 0, 0 }

/**
 * Collect garbage in the registry's storage: expired uploads, blob links of
 * repositories that no image of that repository references, and blobs that no
 * registry in the same storage references. Nothing younger than the grace
 * period is removed, so a concurrent push is never broken.
 * @param stats_out may be NULL; else version must be set.
 */
ECR_EXTERN(int) ecr_registry_gc(ecr_registry *reg, const ecr_gc_options *opts, ecr_gc_stats *stats_out);

ECR_END_DECL
/** @} */
#endif
