/*
 * The HTTP transport's client (libcurl), shared by its two halves: the OCI
 * Distribution client (http_oci.c) and the ECR API client (http_ecr.c).
 * http.c owns everything about the wire: one pool of connections per
 * registry handle (kept alive, shared by the threads using the handle), TLS
 * verification (on by default; CA file/path options), proxies (libcurl's
 * usual environment: http_proxy, https_proxy, no_proxy), timeouts, bounded
 * retries with jittered exponential backoff, and the registry's
 * authentication challenges (Basic, Bearer token flow with a token cache).
 * Nothing here knows what the bodies mean.
 */
#ifndef ECR_TRANSPORT_HTTP_H
#define ECR_TRANSPORT_HTTP_H

#include "../core/core.h"
#include "../core/logging.h"
#include "ecr/registry.h"

typedef struct ecr__http ecr__http;

/* What a client is configured with (copied by ecr__http_new). */
typedef struct ecr__http_config {
	const char *base_url;     /* "https://host[:port]" (no path, no trailing slash) */
	const char *username;     /* Basic credentials for the data plane, or NULL */
	const char *password;
	const char *ca_file;      /* NULL: system CAs */
	const char *ca_path;
	bool insecure;            /* no TLS peer/host verification */
	uint32_t timeout_ms;      /* abort a transfer after this long without progress; 0: 60000 */
	uint32_t connect_timeout_ms; /* 0: 10000 */
	unsigned int max_retries; /* 0: none */
	const char *user_agent;   /* appended to "libecr/<version>", or NULL */
	const ecr__logger *log;   /* may be NULL; borrowed for the client's lifetime */
} ecr__http_config;

int ecr__http_new(ecr__http **out, const ecr__http_config *cfg);
void ecr__http_free(ecr__http *h);
const char *ecr__http_base_url(const ecr__http *h);

/*
 * Change the Basic credentials (e.g. once a token came from
 * GetAuthorizationToken); thread-safe; forgets cached Bearer tokens.
 */
int ecr__http_set_basic(ecr__http *h, const char *username, const char *password);

/* Called with each chunk of a response body (2xx only); return 0 or a negative code to abort with it. */
typedef int (*ecr__http_sink_cb)(const void *data, size_t len, void *payload);
/* Fills buf with up to len bytes of the request body; *n_out 0 at the end. Must be able to restart from the
 * beginning when rewind is called (a retry). */
typedef int (*ecr__http_source_cb)(void *buf, size_t len, size_t *n_out, void *payload);
typedef int (*ecr__http_rewind_cb)(void *payload);

typedef struct ecr__http_request {
	const char *method;  /* "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE" */
	const char *path;    /* "/v2/..." with query, or a full URL on the same host (a Location); "" for "/" */
	const char *const *headers; /* "Name: value" strings, NULL-terminated, or NULL */
	/* The body: either in memory ... */
	const void *body;
	size_t body_len;
	/* ... or streamed (body_len is then its length, which must be known: Content-Length). */
	ecr__http_source_cb source;
	ecr__http_rewind_cb rewind;
	void *source_payload;
	/* Where a 2xx body goes: a sink (streamed), else into the response's body buffer. */
	ecr__http_sink_cb sink;
	void *sink_payload;
	/* The most a buffered body may hold (the request fails with ECR_ELIMIT beyond it); 0: 8 MiB. */
	size_t max_body;
	/*
	 * The authentication scope this request needs, for the Bearer flow
	 * ("repository:<name>:pull" or "repository:<name>:pull,push"), or NULL.
	 */
	const char *scope;
	/* Run it once: no retry (a request whose body cannot be sent twice). */
	bool no_retry;
	/* Do not answer WWW-Authenticate challenges (the ECR API signs its requests itself). */
	bool no_challenge;
	/* Do not follow redirects (they are followed by default, e.g. a blob GET to storage). */
	bool no_redirect;
} ecr__http_request;

typedef struct ecr__http_response {
	long status;        /* the final HTTP status */
	ecr_buf body;       /* a non-sinked body (also of errors: bounded to 64 KiB) */
	char *content_type; /* or NULL */
	char *location;     /* Location, as a full URL, or NULL */
	char *digest;       /* Docker-Content-Digest, or NULL */
	char *range;        /* Range (upload progress, e.g. "0-1023"), or NULL */
	char *link;         /* the URL of the rel="next" Link, or NULL */
	char *upload_uuid;  /* Docker-Upload-UUID, or NULL */
	uint64_t content_length; /* or UINT64_MAX when not given */
	bool content_length_known;
} ecr__http_response;

void ecr__http_response_dispose(ecr__http_response *res);

/*
 * Perform a request. It is retried (the body rewound) on connection failures
 * and on 429, 500, 502, 503 and 504, at most max_retries times with jittered
 * exponential backoff (250 ms doubling, at most 8 s; Retry-After honoured up
 * to 30 s), except when the body was partly streamed to a sink (the caller
 * resumes: see ecr__http_get_range) or no_retry is set. A 401 with a
 * WWW-Authenticate challenge is answered once: Basic with the configured
 * credentials, Bearer by fetching a token from the realm (service, scope;
 * Basic credentials if any) and caching it per scope until it expires.
 * Returns 0 whatever the status (the caller interprets it); ECR_ENETWORK
 * (connection, TLS, timeout: the message names the URL and curl's reason)
 * once retries are used up; ECR_EAUTH when a 401 survives its challenge;
 * ECR_ETHROTTLED when 429 survives the retries; ECR_ELIMIT for a
 * too-large buffered body; a sink's code.
 */
int ecr__http_do(ecr__http_response *res, ecr__http *h, const ecr__http_request *req);

/*
 * A pull-mode download of a 2xx body (blobs): GET path with a Range from
 * offset (length 0: to the end). Reads block until bytes arrive. When the
 * connection drops, the stream reconnects with a Range from the next byte
 * (bounded retries) before it fails with ECR_ENETWORK. size_out receives the
 * size of the whole entity (from Content-Range or Content-Length).
 * ECR_ENOTFOUND for 404 (the response's OCI error code is in the message);
 * other statuses fail as ecr__http_status_error describes.
 */
typedef struct ecr__http_stream ecr__http_stream;
int ecr__http_stream_open(ecr__http_stream **out, uint64_t *size_out, ecr__http *h, const char *path,
	const char *scope, uint64_t offset, uint64_t length);
int ecr__http_stream_read(ecr__http_stream *s, void *buf, size_t len, size_t *nread_out);
void ecr__http_stream_close(ecr__http_stream *s);

/*
 * Fail for a non-2xx OCI response: the code of its first OCI error
 * (ecr_error_from_oci(code, status)) with "<what>: <status> <CODE>: <message>"
 * as the message; ECR_ERROR for an unparseable body.
 */
int ecr__http_status_error(const ecr__http_response *res, const char *what);

/*
 * Counters of a client (for tests and diagnostics): HTTP requests sent
 * (every attempt: retries, challenge rounds and token requests included) and
 * new connections opened (CURLINFO_NUM_CONNECTS summed).
 */
void ecr__http_stats(ecr__http *h, uint64_t *requests_out, uint64_t *connects_out);

/*
 * A WWW-Authenticate header value parsed (RFC 7235): challenges separated by
 * commas, each a scheme with a token68 or auth-params (token or quoted-string
 * values, backslash escapes resolved). Parameter names are lowercased.
 */
#define ECR__HTTP_CHALLENGE_MAX_PARAMS 16
typedef struct ecr__http_challenge {
	char *scheme;  /* as sent */
	char *token68; /* or NULL */
	size_t nparams;
	char *names[ECR__HTTP_CHALLENGE_MAX_PARAMS];
	char *values[ECR__HTTP_CHALLENGE_MAX_PARAMS];
} ecr__http_challenge;

/*
 * Parse value (at most 8 KiB) into out[max]; *count_out challenges. ECR_EINVALID
 * (class ECR_ERROR_TRANSPORT) for a syntax error, ECR_ELIMIT beyond the bounds
 * (length, max challenges, params per challenge). On failure nothing is left to dispose.
 */
int ecr__http_parse_challenge(ecr__http_challenge *out, size_t max, size_t *count_out, const char *value);
/* The value of parameter name (lowercase) of c, or NULL. */
const char *ecr__http_challenge_param(const ecr__http_challenge *c, const char *name);
void ecr__http_challenges_dispose(ecr__http_challenge *c, size_t count);

#endif
