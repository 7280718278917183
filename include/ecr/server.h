/**
 * @file ecr/server.h
 * @brief Serve registries over HTTP: the OCI Distribution API (/v2/).
 * @defgroup ecr_server HTTP server
 *
 * An HTTP/1.1 server (libmicrohttpd) that serves one or more registries over
 * the OCI Distribution Specification v1.1. It calls the public API only.
 *
 * THREAD SAFETY: ecr_server_start() and ecr_server_stop() are called from one
 * thread; requests are handled on the server's own worker threads, which use
 * the registries concurrently (ecr_registry is internally locked). The log
 * callback is called from those worker threads.
 * @{
 */
#ifndef ECR_SERVER_H
#define ECR_SERVER_H

#include "common.h"
#include "log.h"
#include "registry.h"
#include "cache.h"

ECR_BEGIN_DECL

typedef struct ecr_server ecr_server;

/** Server flags. */
/** A push to a missing repository creates it (with its CREATE_ON_PUSH creation template, else defaults). */
#define ECR_SERVER_CREATE_ON_PUSH 1u
#define ECR_SERVER_SINGLE_THREAD 2u  /**< one epoll thread instead of a pool (lowest memory) */
#define ECR_SERVER_NO_AUTH 4u        /**< serve without authentication (throwaway local use only) */

/** Options for ecr_server_new(). NULL means all defaults. */
typedef struct ecr_server_options {
	unsigned int version;
	/** Address to listen on, IPv4 or IPv6 literal; NULL: "127.0.0.1". */
	const char *bind_address;
	/** Port; 0 picks a free one (see ecr_server_port()). */
	uint16_t port;
	/**
	 * PEM certificate (chain) and key files for HTTPS; both NULL for plain
	 * HTTP. When libecr was built with its own libmicrohttpd (without TLS,
	 * meson option bundled_mhd), an HTTPS server loads the system's
	 * libmicrohttpd.so.12 (and GnuTLS) with dlopen when it starts.
	 */
	const char *tls_cert_file;
	const char *tls_key_file;
	/** ECR_SERVER_* flags. */
	uint32_t flags;
	/**
	 * Worker threads (event loops); 0: half the online CPUs, from 1 to 64. Requests that wait for a durable
	 * commit (manifest PUT and DELETE, blob DELETE, the last request of a blob upload) or may wait for a
	 * pull-through cache's upstream (pulls of the repositories its rules cover) finish on a second pool of up
	 * to 64 threads, started as they are needed, while the worker thread serves its other connections (not
	 * with ECR_SERVER_SINGLE_THREAD: there they finish on the one thread).
	 */
	unsigned int threads;
	/** Most concurrent connections; 0: 1024. */
	unsigned int max_connections;
	/** Idle connection timeout in seconds; 0: 120. */
	unsigned int timeout_seconds;
	/** Largest request headers, in bytes (answered 431 beyond); 0: 16 KiB. */
	size_t max_header_size;
	/** Largest blob accepted in one request, in bytes; 0: 52,000 MiB (ECR's layer limit). */
	uint64_t max_blob_size;
	/** One line per request and server events go here; NULL: nowhere. Called from worker threads. */
	ecr_log_cb log_cb;
	void *log_payload;
	/** The most verbose level passed to log_cb; 0: ECR_LOG_INFO. */
	ecr_log_level log_level;
} ecr_server_options;

#define ECR_SERVER_OPTIONS_VERSION 1
#define ECR_SERVER_OPTIONS_INIT { ECR_SERVER_OPTIONS_VERSION, NULL, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, ECR_LOG_NONE }

/** Initialise options to the defaults. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_server_options_init(ecr_server_options *opts, unsigned int version);

/**
 * Create a server (not listening yet).
 * @param opts read during the call only; the TLS files are read by ecr_server_start().
 * @return 0; ECR_EINVALID (options).
 */
ECR_EXTERN(int) ecr_server_new(ecr_server **out, const ecr_server_options *opts);

/**
 * Serve a registry. The first one added is the default; others are chosen by
 * the request's Host header (without port), e.g.
 * "111122223333.dkr.ecr.eu-west-1.localhost". The registry must outlive the server.
 * @param host the host name that selects it, or NULL for the default.
 * @return 0; ECR_EEXISTS (host already served); ECR_EBUSY (server running).
 */
ECR_EXTERN(int) ecr_server_add_registry(ecr_server *srv, ecr_registry *reg, const char *host);

/**
 * Serve pulls of repositories that pull-through cache rules cover through a
 * cache (ecr/cache.h): manifests and blobs the registry lacks come from
 * upstream. The cache must outlive the server. Set before ecr_server_start().
 * @return 0; ECR_EBUSY (server running).
 */
ECR_EXTERN(int) ecr_server_set_cache(ecr_server *srv, ecr_cache *cache);

/**
 * Finds (or opens) the registry of an account in a region, for requests that
 * name one: the ECR API (account of the caller's access key, region of its
 * SigV4 scope) and /v2/ requests to "<account>.dkr.ecr.<region>.<anything>".
 * The registry returned stays owned by the callback's owner and must live as
 * long as the server. Called from worker threads, possibly concurrently.
 * @return 0, or a negative ECR_E* code (the request then fails).
 */
typedef int (*ecr_server_registry_cb)(ecr_registry **out, const char *account_id, const char *region, void *payload);

/**
 * Set the registry provider. Without one, only the registries added with
 * ecr_server_add_registry() are served.
 * @return 0; ECR_EBUSY (server running).
 */
ECR_EXTERN(int) ecr_server_set_registry_cb(ecr_server *srv, ecr_server_registry_cb cb, void *payload);

/**
 * Public registries (ecr/public.h) are served too: "/v2/<alias>/<repository>"
 * names a repository of the public registry with that alias (the registry
 * provider is asked for the account's ECR_REGION_PUBLIC registry). Anyone may
 * pull from them: a request without credentials is answered 401 with a
 * Bearer challenge whose realm ("/token") issues an anonymous token, as
 * public.ecr.aws does, and with that token pulls of public repositories
 * succeed; everything else answers as for a repository that does not exist.
 * Anonymous pulls (manifest requests) are limited per client address: a
 * token bucket of per_second pulls a second, up to burst at once; over it,
 * 429 TOOMANYREQUESTS with Retry-After. Defaults: 1 a second, burst 10 (ECR
 * Public's one unauthenticated pull a second). per_second 0: no limit.
 * @return 0; ECR_EINVALID (burst 0 with a limit).
 */
ECR_EXTERN(int) ecr_server_set_anonymous_limit(ecr_server *srv, uint32_t per_second, uint32_t burst);

/**
 * Blob GETs answered with a redirect: when enabled and the registry's blob
 * store can presign (the S3 store), an authorized GET of a whole blob (not
 * HEAD, not a Range request, not a pull-through cache download) is answered
 * 307 Temporary Redirect with Location set to a download URL valid for
 * ECR_SERVER_BLOB_REDIRECT_SECONDS (see ecr_blob_download_url()), as ECR
 * answers layer downloads; clients then fetch the bytes from the store.
 * Otherwise, and by default, the server streams the blob itself. Set before
 * ecr_server_start().
 * @param enabled 1 to redirect, 0 to stream.
 * @return 0; ECR_EINVALID; ECR_EBUSY (server running).
 */
ECR_EXTERN(int) ecr_server_set_blob_redirect(ecr_server *srv, int enabled);

/** Lifetime of the download URLs of blob redirects: 20 minutes. */
#define ECR_SERVER_BLOB_REDIRECT_SECONDS 1200

/**
 * Start listening and serving.
 * @return 0; ECR_EINVALID (no registry, bad address); ECR_EIO (cannot bind,
 *         cannot read the TLS files); ECR_EBUSY (already running);
 *         ECR_ENOTSUPPORTED (HTTPS, and libmicrohttpd.so.12 cannot be loaded).
 */
ECR_EXTERN(int) ecr_server_start(ecr_server *srv);

/** The port the server listens on (useful with port 0), or 0 when not running. */
ECR_EXTERN(uint16_t) ecr_server_port(const ecr_server *srv);

/**
 * Stop: stop accepting, let requests in flight finish (up to the timeout),
 * then close every connection. The server may be started again.
 */
ECR_EXTERN(int) ecr_server_stop(ecr_server *srv);

/** Stop if running and free the server. NULL is a no-op. */
ECR_EXTERN(void) ecr_server_free(ecr_server *srv);

ECR_END_DECL
/** @} */
#endif
