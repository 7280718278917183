/* The HTTP front end's internals: the server, one request's state, response
 * helpers. The server calls the public API only; it never touches storage. */
#ifndef ECR_SERVER_HTTP_H
#define ECR_SERVER_HTTP_H

#include <microhttpd.h>
#include <pthread.h>

#include "../core/core.h"
#include "../core/logging.h"
#include "ecr/auth.h"
#include "ecr/server.h"
#include "mhd.h"
#include "offload.h"
#include "ratelimit.h"

/* The lifecycle policy previews of a server (ecr_api_lifecycle.c). */
typedef struct ecr__lifecycle_previews ecr__lifecycle_previews;
/* The server's request counters and /metrics (metrics.c). */
typedef struct ecr__metrics ecr__metrics;

typedef struct http_vhost {
	char *host; /* NULL: the default */
	ecr_registry *reg;
} http_vhost;

struct ecr_server {
	char *bind_address;
	uint16_t port;      /* configured */
	uint16_t bound_port;
	char *tls_cert_file, *tls_key_file;
	char *tls_cert, *tls_key; /* PEM, while running */
	uint32_t flags;
	unsigned int threads, max_connections, timeout_seconds;
	size_t max_header_size;
	uint64_t max_blob_size;
	ecr__logger log;
	http_vhost *vhosts;
	size_t vhosts_count;
	ecr_server_registry_cb registry_cb; /* the registry provider, or NULL */
	void *registry_payload;
	/* the libmicrohttpd of the running daemon (mhd.h): the bundled one without TLS,
	 * libmicrohttpd.so.12 with; every call for its connections and responses goes through it */
	const ecr__mhd *mhd;
	struct MHD_Daemon *daemon;
	/* requests between their first call and their completion: a graceful
	 * stop waits for these, not for idle keep-alive connections */
	_Atomic long in_flight;
	/* monotonic ms of the last call into a request handler: a stop stops
	 * waiting for requests that no longer move (a client that went away
	 * without closing, a body that never comes) */
	_Atomic int64_t last_activity_ms;
	/* set by ecr_server_stop: new requests are refused while those in flight finish */
	_Atomic bool stopping;
	/* StartLifecyclePolicyPreview's results, created on first use */
	ecr__lifecycle_previews *_Atomic lifecycle_previews;
	/* pulls of repositories under pull-through cache rules go through it (ecr_server_set_cache), or NULL */
	ecr_cache *cache;
	/* blob GETs answered 307 to a presigned URL when the store can (ecr_server_set_blob_redirect) */
	bool blob_redirect;
	/* anonymous pulls per client address (ecr_server_set_anonymous_limit) */
	ecr__ratelimit *anon_limit;
	/* whether the storage has a public registry with an alias (the challenge
	 * of requests without credentials), and when that was last checked
	 * (monotonic ms; 0: never) */
	_Atomic int public_exists;
	_Atomic int64_t public_checked_ms;
	/* request counters, latency histograms, registries served (metrics.c); who may read /metrics */
	ecr__metrics *metrics;
	int metrics_access; /* ecr_server_metrics_access */
	/* requests that wait for a durable commit or for a pull-through cache's upstream finish on these threads
	 * (offload.h), NULL: on the worker thread */
	ecr__offload *offload;
	/* blob streams of the pull-through cache whose connection is suspended until the upstream sends more
	 * (oci.c); closing: a stop resumes them to end them */
	pthread_mutex_t streams_lock;
	struct oci_stream *streams;
	bool streams_closing;
};

/* Ends the blob streams that wait for a pull-through cache's upstream: libmicrohttpd cannot stop with their
 * connections suspended (ecr_server_stop, before MHD_stop_daemon). */
void ecr__oci_streams_close(ecr_server *srv);

/* A stop waits for requests in flight while some handler ran within this long (ecr_server_stop). */
#define STOP_IDLE_MS 2000

/* What a request is for. */
typedef enum http_route {
	ROUTE_NONE = 0,
	ROUTE_BASE,        /* /v2/ */
	ROUTE_CATALOG,     /* /v2/_catalog */
	ROUTE_TAGS,        /* /v2/<name>/tags/list */
	ROUTE_MANIFEST,    /* /v2/<name>/manifests/<ref> */
	ROUTE_BLOB,        /* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOADS,     /* /v2/<name>/blobs/uploads/ */
	ROUTE_UPLOAD,      /* /v2/<name>/blobs/uploads/<id> */
	ROUTE_REFERRERS,   /* /v2/<name>/referrers/<digest> */
	ROUTE_ECR_API,     /* POST / with X-Amz-Target: the ECR and ECR Public control planes (ecr_api.c) */
	ROUTE_GALLERY,     /* /gallery and /gallery/...: the web gallery (gallery.c) */
	ROUTE_TOKEN,       /* GET /token: bearer tokens, anonymous or for registry credentials (v2_auth.c) */
	ROUTE_METRICS      /* GET /metrics: Prometheus text (metrics.c) */
} http_route;

typedef struct http_target {
	http_route route;
	char *name; /* repository, or NULL */
	char *ref;  /* tag, digest or upload id, or NULL */
} http_target;

/* Split a request path into route, name and reference. 0, or ECR_ENOTFOUND
 * for a path that is no route. Names and references are not validated here. */
int ecr__http_parse_path(http_target *out, const char *path);
void ecr__http_target_dispose(http_target *t);

/* How a request's body is consumed. */
typedef enum body_mode {
	BODY_NONE = 0, /* no body expected: ignored */
	BODY_BUFFER,   /* kept in memory (manifests), up to buffer_limit */
	BODY_UPLOAD,   /* streamed into an upload session */
	BODY_DISCARD   /* the answer is decided already: drop it */
} body_mode;

typedef struct http_request {
	ecr_server *srv;
	ecr_registry *reg;
	ecr_principal *principal; /* the authenticated caller, or NULL (no auth, or not yet) */
	void *api;                /* the control plane's state, freed by ecr__api_request_free() */
	const ecr__mhd *mhd;      /* srv->mhd: the libmicrohttpd conn belongs to */
	struct MHD_Connection *conn;
	const char *method;
	char *path;
	http_target target;
	int64_t started_ms;
	/* body */
	body_mode mode;
	ecr_buf body;
	size_t buffer_limit;
	ecr_repository *repo;
	ecr_upload *upload;
	uint64_t received;
	int cache_rule; /* a pull-through cache rule covers target.name: 0 not asked yet, 1 yes, -1 no (oci.c) */
	bool in_first_call; /* the first call of the access handler is running */
	bool expects_body;  /* Content-Length > 0 or a chunked body */
	bool refused;       /* arrived while the server stops: answered 503, not counted in flight */
	/* public repositories (v2_auth.c): the request names "<alias>/<repository>"
	 * of a public registry; r->reg is then that registry, target.name the
	 * repository in it and client_name the name as the client sent it */
	bool anonymous;     /* credentials: an anonymous token */
	bool public_repo;   /* r->reg is the public registry of the alias */
	char *client_name;  /* the name as sent, when it differs from target.name, else NULL */
	/* an answer decided early, sent on the next call so that keep-alive works
	 * and the body (if any) is drained */
	struct MHD_Response *pending;
	unsigned int pending_status;
	uint64_t pending_bytes;
	/* for the access log */
	unsigned int status;
	uint64_t bytes_out;
	/* for the metrics (metrics.c) */
	int64_t started_us;      /* monotonic microseconds at the first call */
	uint64_t metrics_in;     /* request body bytes received */
	bool metrics_upload;     /* counted in uploads in flight */
	bool metrics_public_api; /* an ECR Public API call (X-Amz-Target SpencerFrontendService.*) */
	/* handled on the server's offload pool while its connection is suspended (server.c): what the handler
	 * queues becomes the pending answer, sent when libmicrohttpd calls again after the resume */
	bool offloaded;
	bool offload_started;         /* on_request handed it to the pool (once the handler was done with it) */
	bool offload_first;           /* from the first call: libmicrohttpd makes a first call again after the resume */
	bool offload_done;            /* the handler ran there; offload_ret is what it returned */
	enum MHD_Result offload_ret;
	enum MHD_Result (*offload_fn)(struct http_request *r);
} http_request;

/* The control plane's per-request state (ecr_api.c). */
void ecr__api_request_free(http_request *r);
/* Free a server's lifecycle policy previews (NULL is a no-op). */
void ecr__api_lifecycle_previews_free(ecr__lifecycle_previews *t);

/* Responses. Every function queues the response and returns MHD_YES/MHD_NO. */
enum MHD_Result ecr__http_queue(http_request *r, unsigned int status, struct MHD_Response *resp);
/* The response helpers make their responses with r's libmicrohttpd (r->mhd): a
 * response is queued only on a connection of the libmicrohttpd that made it. */
/* A response with a copy of body (may be NULL/0). */
struct MHD_Response *ecr__http_response_buf(http_request *r, const void *body, size_t len, const char *content_type);
/* Note the body size of a response made without the helpers below (for the access log). */
void ecr__http_note_body_size(uint64_t size);
/* A response whose Content-Length is len but whose body is never sent (HEAD). */
struct MHD_Response *ecr__http_response_head(http_request *r, uint64_t len);
/* An OCI error: {"errors":[{"code":code,"message":message,"detail":{}}]}. */
struct MHD_Response *ecr__http_response_error(http_request *r, const char *code, const char *message);
enum MHD_Result ecr__http_error(http_request *r, unsigned int status, const char *code, const char *message);
/* The OCI error for a library failure rc (uses ecr_error_last()). `what` says which
 * kind of object was missing for ECR_ENOTFOUND: "blob", "manifest", "upload". */
enum MHD_Result ecr__http_fail(http_request *r, int rc, const char *what);
/* Map rc to status/code (the function behind ecr__http_fail). */
void ecr__http_error_map(int rc, const char *what, unsigned int *status, const char **code);

/* Run fn(r) on the server's offload pool (offload.h) with r's connection suspended, for a handler that waits
 * for a durable commit: what it queues is sent once it returns. Without a pool (ECR_SERVER_SINGLE_THREAD), or
 * when no thread can run it, fn runs here. Returns what to return to libmicrohttpd. */
enum MHD_Result ecr__http_offload(http_request *r, enum MHD_Result (*fn)(http_request *r));

/* Request helpers. */
const char *ecr__http_header(http_request *r, const char *name);
const char *ecr__http_query(http_request *r, const char *name);

/* The OCI routes (oci.c). begin is called on the first call of a request:
 * it answers requests without a body at once, or sets up body handling;
 * finish is called when the whole body arrived. */
enum MHD_Result ecr__oci_begin(http_request *r);
enum MHD_Result ecr__oci_body(http_request *r, const char *data, size_t len);
enum MHD_Result ecr__oci_finish(http_request *r);

/* Authenticate and authorize a /v2/ request (v2_auth.c), before any route
 * runs: sets r->principal, or answers 401 UNAUTHORIZED (with ECR's Basic
 * challenge) or 403 DENIED. Returns true when the request may go on; false
 * when it was answered (*ret holds what to return to libmicrohttpd). */
bool ecr__v2_authorize(http_request *r, enum MHD_Result *ret);
/* May the caller create the repository r->target.name (create-on-push)? 0, or ECR_EDENIED. */
int ecr__v2_may_create(http_request *r);
/* "arn:aws:ecr:<region>:<account>:repository/<name>" of reg, into out. */
int ecr__v2_repository_arn(ecr_buf *out, ecr_registry *reg, const char *name);
/* The repository name as the client sent it (Location and Link headers, messages). */
const char *ecr__v2_client_name(const http_request *r);
/* GET /token (v2_auth.c): the realm of the Bearer challenge. Without
 * credentials an anonymous token; with Basic "AWS:<registry token>" that
 * token, checked. Answers {"token", "access_token", "expires_in", "issued_at"}. */
enum MHD_Result ecr__token_begin(http_request *r);

/* The web gallery (gallery.c): /gallery and everything under it. begin runs
 * on the first call (GET/HEAD answer at once; POST bodies, the login form, are
 * buffered up to a small limit and handled by finish). */
enum MHD_Result ecr__gallery_begin(http_request *r);
enum MHD_Result ecr__gallery_body(http_request *r, const char *data, size_t len);
enum MHD_Result ecr__gallery_finish(http_request *r);

/* The registry of an account in a region: the one the request came to when it
 * matches, else the server's registry provider, else the registries added to
 * the server. ECR_ENOTFOUND when none serves it. */
int ecr__server_registry(ecr_registry **out, ecr_server *srv, ecr_registry *dflt, const char *account,
	const char *region);

/* Metrics (metrics.c). Counting never allocates nor locks. */
int ecr__metrics_new(ecr__metrics **out);
void ecr__metrics_free(ecr__metrics *m);
int64_t ecr__metrics_now_us(void);
/* Count a finished request (route class, status, latency, bytes) and the registry it used. */
void ecr__metrics_request_done(http_request *r);
/* The request streams a blob upload: counted in uploads in flight until it is done. */
void ecr__metrics_upload_begin(http_request *r);
/* Remember a registry the server served (bounded; the registries reported by /metrics). */
void ecr__metrics_note_registry(ecr_server *srv, ecr_registry *reg);
/* Whether a peer may read /metrics (access: ecr_server_metrics_access). */
struct sockaddr;
bool ecr__metrics_peer_allowed(int access, const struct sockaddr *peer);
/* GET/HEAD /metrics. */
enum MHD_Result ecr__metrics_begin(http_request *r);

#endif
