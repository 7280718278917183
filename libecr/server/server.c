/* The HTTP server: lifecycle on libmicrohttpd, per-request state, routing,
 * response and error helpers. */
#include "http.h"
#include "ecr_api.h"
#include "ecr/stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/json.h"
#include "../core/timeutil.h"

/* Event loops by default: half the online CPUs, at least 1, at most DEFAULT_THREADS_MAX. A loop only parses,
 * reads metadata and moves bytes: durable commits finish on the offload pool, and an upload's hashing and disk
 * writes on its pipeline's threads (blob_fs.c). A loop per CPU has those threads, and any client on the same
 * machine, preempting the loops: on 2 CPUs, three runs of 2 loops against 1 gave manifest GET p99 3.0-4.7
 * against 2.2-3.1 ms and HEAD 3.4-5.0 against 2.1-4.0 ms, for 1.02-1.22 times the GETs a second and the same
 * manifest PUTs (docs/performance.md). */
#define DEFAULT_THREADS_MAX 64
#define DEFAULT_MAX_CONNECTIONS 1024
#define DEFAULT_TIMEOUT 120
/* Request headers: 16 KiB. A registry client's largest is its Authorization, a few KiB with an STS session token;
 * nginx takes 8 KiB a line and 32 KiB in all by default. */
#define DEFAULT_MAX_HEADER (16 * 1024)
#define DEFAULT_MAX_BLOB (52000ull * 1024 * 1024)
#define MAX_PEM_SIZE (1024 * 1024)
/* Per-connection memory (twice the header limit): small, because libmicrohttpd 0.9.75 zeroes the whole pool after
 * every request of a kept-alive connection. At 128 KiB that memset was 22% of ecrd's CPU under wrk on a manifest
 * GET; 128 -> 32 KiB took one event loop from 24,300-27,200 to 32,000-34,300 GETs a second (36.8-41.2 -> 29.5-31.2
 * us of server CPU each, docs/performance.md). Upload bodies then arrive in pieces of 16 instead of 64 KiB: about
 * 5% more server CPU per 512 MiB push, whose rate the disk and the hash set. */
#define CONNECTION_MEMORY (32 * 1024)
/* Requests that wait for a durable commit finish on up to this many more threads, started on demand (offload.h):
 * as many commits then wait together as there are such requests, and one fsync covers them all
 * (docs/performance.md). */
#define OFFLOAD_THREADS 64

int ecr_server_options_init(ecr_server_options *opts, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_SERVER_OPTIONS_VERSION, "ecr_server_options");
	if (rc)
		return rc;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (!s)
		return 0;
	return (*out = ecr__strdup(s)) ? 0 : ECR_ENOMEM;
}

int ecr_server_new(ecr_server **out, const ecr_server_options *opts)
{
	ecr_server_options defaults = ECR_SERVER_OPTIONS_INIT;
	ecr_server *srv;
	int rc;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if ((rc = ecr__check_version(opts->version, ECR_SERVER_OPTIONS_VERSION, "ecr_server_options")))
		return rc;
	if (!opts->tls_cert_file != !opts->tls_key_file)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "TLS needs both a certificate file and a key file");
	if (opts->flags & ~(ECR_SERVER_CREATE_ON_PUSH | ECR_SERVER_SINGLE_THREAD | ECR_SERVER_NO_AUTH))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "unknown server flags 0x%x", (unsigned)opts->flags);
	if (opts->max_header_size && opts->max_header_size < 1024)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "max_header_size must be at least 1024 bytes");
	if (!(srv = ecr__calloc(1, sizeof(*srv))))
		return ECR_ENOMEM;
	pthread_mutex_init(&srv->streams_lock, NULL);
	if ((rc = dup_opt(&srv->bind_address, opts->bind_address ? opts->bind_address : "127.0.0.1")) ||
		(rc = dup_opt(&srv->tls_cert_file, opts->tls_cert_file)) ||
		(rc = dup_opt(&srv->tls_key_file, opts->tls_key_file))) {
		ecr_server_free(srv);
		return rc;
	}
	srv->port = opts->port;
	srv->flags = opts->flags;
	if (opts->threads) {
		srv->threads = opts->threads;
	} else {
		long half = sysconf(_SC_NPROCESSORS_ONLN) / 2;
		srv->threads = half < 1 ? 1 : half > DEFAULT_THREADS_MAX ? DEFAULT_THREADS_MAX : (unsigned int)half;
	}
	srv->max_connections = opts->max_connections ? opts->max_connections : DEFAULT_MAX_CONNECTIONS;
	srv->timeout_seconds = opts->timeout_seconds ? opts->timeout_seconds : DEFAULT_TIMEOUT;
	srv->max_header_size = opts->max_header_size ? opts->max_header_size : DEFAULT_MAX_HEADER;
	srv->max_blob_size = opts->max_blob_size ? opts->max_blob_size : DEFAULT_MAX_BLOB;
	srv->log.cb = opts->log_cb;
	srv->log.payload = opts->log_payload;
	srv->log.level = opts->log_level ? opts->log_level : ECR_LOG_INFO;
	/* ECR Public's one unauthenticated pull a second, with a burst of 10 */
	if ((rc = ecr__ratelimit_new(&srv->anon_limit, 1, 10, 0, NULL, NULL)) || (rc = ecr__metrics_new(&srv->metrics)) ||
		(!(srv->flags & ECR_SERVER_SINGLE_THREAD) && (rc = ecr__offload_new(&srv->offload, OFFLOAD_THREADS)))) {
		ecr_server_free(srv);
		return rc;
	}
	srv->metrics_access = ECR_SERVER_METRICS_LOCAL;
	*out = srv;
	return 0;
}

int ecr_server_set_cache(ecr_server *srv, ecr_cache *cache)
{
	if (!srv)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_server_set_cache: server is NULL");
	if (srv->daemon)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the server is running");
	srv->cache = cache;
	return 0;
}

int ecr_server_set_blob_redirect(ecr_server *srv, int enabled)
{
	if (!srv)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_server_set_blob_redirect: server is NULL");
	if (srv->daemon)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the server is running");
	srv->blob_redirect = enabled != 0;
	return 0;
}

int ecr_server_add_registry(ecr_server *srv, ecr_registry *reg, const char *host)
{
	if (srv->daemon)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the server is running");
	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry");
	for (size_t i = 0; i < srv->vhosts_count; i++) {
		const char *h = srv->vhosts[i].host;
		if ((!h && !host && i == 0) || (h && host && strcasecmp(h, host) == 0))
			return ecr__fail(ECR_EEXISTS, ECR_ERROR_INVALID, "the host '%s' is served already",
				host ? host : "(default)");
	}
	http_vhost *v = ecr__realloc(srv->vhosts, (srv->vhosts_count + 1) * sizeof(*v));
	if (!v)
		return ECR_ENOMEM;
	srv->vhosts = v;
	v[srv->vhosts_count].reg = reg;
	/* the first registry added is the default whatever its host */
	if (dup_opt(&v[srv->vhosts_count].host, host))
		return ECR_ENOMEM;
	srv->vhosts_count++;
	return 0;
}

int ecr_server_set_registry_cb(ecr_server *srv, ecr_server_registry_cb cb, void *payload)
{
	if (srv->daemon)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the server is running");
	srv->registry_cb = cb;
	srv->registry_payload = payload;
	return 0;
}

/* "<12 digits>.dkr.ecr.<region>.<anything>": the account and region it names. */
static bool parse_ecr_host(const char *host, size_t n, char account[13], char region[33])
{
	if (n < 12 + 9 + 2)
		return false;
	for (size_t i = 0; i < 12; i++)
		if (host[i] < '0' || host[i] > '9')
			return false;
	if (strncasecmp(host + 12, ".dkr.ecr.", 9) != 0)
		return false;
	const char *reg = host + 21, *end = host + n;
	size_t len = 0;
	while (reg + len < end && reg[len] != '.') {
		char c = reg[len];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		len++;
	}
	/* the region must be followed by ".<anything>" */
	if (len == 0 || len > 32 || reg + len + 1 >= end)
		return false;
	memcpy(account, host, 12);
	account[12] = '\0';
	for (size_t i = 0; i < len; i++)
		region[i] = (char)((reg[i] >= 'A' && reg[i] <= 'Z') ? reg[i] + 32 : reg[i]);
	region[len] = '\0';
	return true;
}

/* The registry a request is for: a host added with ecr_server_add_registry(),
 * else (for /v2/ only) the registry provider's for an ECR-style host name,
 * else the default. */
static int pick_registry(ecr_registry **out, ecr_server *srv, const char *host, bool v2)
{
	*out = srv->vhosts[0].reg;
	if (!host)
		return 0;
	size_t n = strcspn(host, ":");
	if (host[0] == '[') /* [v6]:port */
		n = strcspn(host, "]") + 1;
	for (size_t i = 0; i < srv->vhosts_count; i++) {
		const char *h = srv->vhosts[i].host;
		if (h && strlen(h) == n && strncasecmp(h, host, n) == 0) {
			*out = srv->vhosts[i].reg;
			return 0;
		}
	}
	char account[13], region[33];
	if (!v2 || !srv->registry_cb || !parse_ecr_host(host, n, account, region))
		return 0;
	ecr_registry *reg = NULL;
	int rc = srv->registry_cb(&reg, account, region, srv->registry_payload);
	if (rc == 0 && !reg)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "the registry provider returned no registry");
	if (rc)
		return rc < 0 ? rc : ECR_ERROR;
	*out = reg;
	return 0;
}

int ecr__server_registry(ecr_registry **out, ecr_server *srv, ecr_registry *dflt, const char *account,
	const char *region)
{
	*out = NULL;
	if (strcmp(ecr_registry_account_id(dflt), account) == 0 && strcmp(ecr_registry_region(dflt), region) == 0) {
		*out = dflt;
		return 0;
	}
	if (srv->registry_cb) {
		int rc = srv->registry_cb(out, account, region, srv->registry_payload);
		if (rc == 0 && !*out)
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "the registry provider returned no registry");
		if (rc == 0)
			ecr__metrics_note_registry(srv, *out);
		return rc;
	}
	for (size_t i = 0; i < srv->vhosts_count; i++) {
		ecr_registry *reg = srv->vhosts[i].reg;
		if (strcmp(ecr_registry_account_id(reg), account) == 0 && strcmp(ecr_registry_region(reg), region) == 0) {
			*out = reg;
			return 0;
		}
	}
	return ECR_ENOTFOUND;
}

/* --- responses --- */

/*
 * The size of the body of the response made last on this thread, for the
 * access log: responses are made and queued on the same worker thread, so
 * ecr__http_queue() picks it up (and keeps it with a deferred response).
 */
static _Thread_local uint64_t last_body_size;

void ecr__http_note_body_size(uint64_t size) { last_body_size = size; }

struct MHD_Response *ecr__http_response_buf(http_request *r, const void *body, size_t len, const char *content_type)
{
	last_body_size = len;
	struct MHD_Response *resp = r->mhd->create_response_from_buffer(len, (void *)(len ? body : ""),
		MHD_RESPMEM_MUST_COPY);
	if (resp && content_type)
		r->mhd->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	return resp;
}

static ssize_t never_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	(void)buf;
	(void)max;
	return MHD_CONTENT_READER_END_OF_STREAM;
}

struct MHD_Response *ecr__http_response_head(http_request *r, uint64_t len)
{
	last_body_size = 0; /* HEAD: no body is sent */
	return r->mhd->create_response_from_callback(len, 4096, never_read, NULL, NULL);
}

struct MHD_Response *ecr__http_response_error(http_request *r, const char *code, const char *message)
{
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	struct MHD_Response *resp = NULL;
	if (ecr__jw_new(&w) == 0 && ecr__jw_object_open(w) == 0 && ecr__jw_key(w, "errors") == 0 &&
		ecr__jw_array_open(w) == 0 && ecr__jw_object_open(w) == 0 && ecr__jw_key(w, "code") == 0 &&
		ecr__jw_string(w, code) == 0 && ecr__jw_key(w, "message") == 0 && ecr__jw_string(w, message) == 0 &&
		ecr__jw_key(w, "detail") == 0 && ecr__jw_object_open(w) == 0 && ecr__jw_object_close(w) == 0 &&
		ecr__jw_object_close(w) == 0 && ecr__jw_array_close(w) == 0 && ecr__jw_object_close(w) == 0 &&
		ecr__jw_finish(w, &out) == 0)
		resp = ecr__http_response_buf(r, out.ptr, out.size, "application/json");
	else
		resp = ecr__http_response_buf(r,
			"{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"internal error\"}]}", 57,
			"application/json");
	ecr__jw_free(w);
	ecr_buf_dispose(&out);
	return resp;
}

enum MHD_Result ecr__http_queue(http_request *r, unsigned int status, struct MHD_Response *resp)
{
	if (!resp)
		return MHD_NO; /* out of memory: MHD closes the connection */
	/*
	 * Answering in the first call closes the connection after the response:
	 * right for a request whose body we refuse before reading it, wrong for
	 * a body-less request (keep-alive). Answers decided while a body is
	 * arriving wait until it has been read.
	 */
	bool defer = r->in_first_call ? !r->expects_body
				       : (r->mode == BODY_BUFFER || r->mode == BODY_UPLOAD || r->mode == BODY_DISCARD);
	uint64_t body_size = last_body_size;
	last_body_size = 0;
	if (r->offloaded) {
		/* on the offload pool: the answer waits for the resume (the handler answers once) */
		if (r->pending) {
			r->mhd->destroy_response(resp);
			return MHD_NO;
		}
		defer = true;
	}
	if (defer) {
		if (!r->pending) {
			r->pending = resp;
			r->pending_status = status;
			r->pending_bytes = body_size;
			r->mode = BODY_DISCARD;
			return MHD_YES;
		}
	}
	r->status = status;
	r->bytes_out = body_size;
	r->mhd->add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
	enum MHD_Result ret = r->mhd->queue_response(r->conn, status, resp);
	r->mhd->destroy_response(resp);
	return ret;
}

static void offload_job(void *arg)
{
	http_request *r = arg;
	const ecr__mhd *mhd = r->mhd;
	struct MHD_Connection *conn = r->conn;
	r->offload_ret = r->offload_fn(r);
	r->offloaded = false;
	r->offload_done = true;
	r->srv->last_activity_ms = ecr__time_monotonic_ms();
	/* from here on libmicrohttpd may complete and free r */
	mhd->resume_connection(conn);
}

enum MHD_Result ecr__http_offload(http_request *r, enum MHD_Result (*fn)(http_request *r))
{
	if (!r->srv->offload)
		return fn(r);
	/* the job starts when the access handler returns (on_request): until then this thread still uses r */
	r->offload_fn = fn;
	r->offloaded = true;
	r->offload_first = r->in_first_call;
	r->mhd->suspend_connection(r->conn);
	return MHD_YES;
}

/* Start the job that ecr__http_offload prepared, now that the access handler is done with r; when no thread
 * can take it, it runs here (its answer still goes out after the resume). */
static void offload_start(http_request *r)
{
	if (ecr__offload_run(r->srv->offload, offload_job, r) != 0) {
		ecr_error_clear();
		offload_job(r);
	}
}

enum MHD_Result ecr__http_error(http_request *r, unsigned int status, const char *code, const char *message)
{
	return ecr__http_queue(r, status, ecr__http_response_error(r, code, message));
}

void ecr__http_error_map(int rc, const char *what, unsigned int *status, const char **code)
{
	*status = 400;
	switch (rc) {
	case ECR_EREPOSITORY_NOT_FOUND:
		*status = 404;
		*code = "NAME_UNKNOWN";
		return;
	case ECR_EIMAGE_NOT_FOUND:
	case ECR_EIMAGE_ARCHIVED: /* not pullable until restored (ecr-api.md 5.6) */
		*status = 404;
		*code = "MANIFEST_UNKNOWN";
		return;
	case ECR_EUPLOAD:
		*status = 404;
		*code = "BLOB_UPLOAD_UNKNOWN";
		return;
	case ECR_ENOTFOUND:
		*status = 404;
		*code = strcmp(what, "manifest") == 0 ? "MANIFEST_UNKNOWN"
			: strcmp(what, "upload") == 0 ? "BLOB_UPLOAD_UNKNOWN"
						      : "BLOB_UNKNOWN";
		return;
	case ECR_EDIGEST:
	case ECR_EIMAGE_DIGEST:
		*code = "DIGEST_INVALID";
		return;
	case ECR_ELAYERS_NOT_FOUND:
	case ECR_EREFERENCED_IMAGES_NOT_FOUND:
		*code = "MANIFEST_BLOB_UNKNOWN";
		return;
	case ECR_EIMMUTABLE:
		*code = "TAG_INVALID";
		return;
	case ECR_EUNSUPPORTED:
		*code = strcmp(what, "manifest") == 0 ? "MANIFEST_INVALID" : "DIGEST_INVALID";
		return;
	case ECR_ERANGE:
	case ECR_EBUSY:
		*status = 416;
		*code = "BLOB_UPLOAD_INVALID";
		return;
	case ECR_ELIMIT:
		*status = 413;
		*code = "SIZE_INVALID";
		return;
	case ECR_EDENIED:
	case ECR_EIMAGE_REFERENCED:
		*status = 403;
		*code = "DENIED";
		return;
	case ECR_EAUTH:
		*status = 401;
		*code = "UNAUTHORIZED";
		return;
	case ECR_ETHROTTLED:
		*status = 429;
		*code = "TOOMANYREQUESTS";
		return;
	case ECR_ENETWORK: /* an upstream (pull-through cache) could not be reached */
		*status = 502;
		*code = "UNKNOWN";
		return;
	case ECR_EINVALID:
		*code = strcmp(what, "manifest") == 0 ? "MANIFEST_INVALID"
			: strcmp(what, "name") == 0   ? "NAME_INVALID"
			: strcmp(what, "tag") == 0    ? "TAG_INVALID"
			: strcmp(what, "upload") == 0 ? "BLOB_UPLOAD_INVALID"
						      : "DIGEST_INVALID";
		return;
	default:
		*status = 500;
		*code = "UNKNOWN";
		return;
	}
}

enum MHD_Result ecr__http_fail(http_request *r, int rc, const char *what)
{
	unsigned int status;
	const char *code;
	ecr__http_error_map(rc, what, &status, &code);
	const char *msg = ecr_error_last()->code == rc ? ecr_error_last()->message : ecr_error_name(rc);
	if (status >= 500)
		ecr__log(&r->srv->log, ECR_LOG_ERROR, "%s %s: %s", r->method, r->path, msg);
	return ecr__http_error(r, status, code, msg);
}

const char *ecr__http_header(http_request *r, const char *name)
{
	return r->mhd->lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *ecr__http_query(http_request *r, const char *name)
{
	return r->mhd->lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* --- paths --- */

void ecr__http_target_dispose(http_target *t)
{
	ecr__free(t->name);
	ecr__free(t->ref);
	memset(t, 0, sizeof(*t));
}

static int set_target(http_target *t, http_route route, const char *name, size_t name_len, const char *ref)
{
	if (name && name_len == 0)
		return ECR_ENOTFOUND;
	t->route = route;
	if (name && !(t->name = ecr__strndup(name, name_len)))
		return ECR_ENOMEM;
	if (ref && !(t->ref = ecr__strdup(ref)))
		return ECR_ENOMEM;
	return 0;
}

/* The name is everything between /v2/ and the route's keyword, so a
 * repository may itself contain "blobs" or "manifests" components. */
int ecr__http_parse_path(http_target *out, const char *path)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(path, "/v2", 3) != 0)
		return ECR_ENOTFOUND;
	const char *p = path + 3;
	if (*p == '\0' || strcmp(p, "/") == 0)
		return set_target(out, ROUTE_BASE, NULL, 0, NULL);
	if (*p != '/')
		return ECR_ENOTFOUND;
	p++;
	if (strcmp(p, "_catalog") == 0)
		return set_target(out, ROUTE_CATALOG, NULL, 0, NULL);
	size_t len = strlen(p);
	const char *last = strrchr(p, '/');
	if (!last || last == p)
		return ECR_ENOTFOUND;
	const char *ref = last + 1; /* the last component; may be "" */
	/* the component before the last one */
	const char *prev = last - 1;
	while (prev > p && prev[-1] != '/')
		prev--;
	size_t prev_len = (size_t)(last - prev);
#define PREV_IS(s) (prev_len == sizeof(s) - 1 && strncmp(prev, s, prev_len) == 0)
	if (PREV_IS("tags") && strcmp(ref, "list") == 0 && prev > p)
		return set_target(out, ROUTE_TAGS, p, (size_t)(prev - 1 - p), NULL);
	if (PREV_IS("manifests") && *ref && prev > p)
		return set_target(out, ROUTE_MANIFEST, p, (size_t)(prev - 1 - p), ref);
	if (PREV_IS("referrers") && *ref && prev > p)
		return set_target(out, ROUTE_REFERRERS, p, (size_t)(prev - 1 - p), ref);
	if (PREV_IS("blobs") && prev > p) {
		if (strcmp(ref, "uploads") == 0) /* .../blobs/uploads without the slash */
			return set_target(out, ROUTE_UPLOADS, p, (size_t)(prev - 1 - p), NULL);
		if (*ref)
			return set_target(out, ROUTE_BLOB, p, (size_t)(prev - 1 - p), ref);
	}
	if (PREV_IS("uploads") && prev > p) {
		/* .../blobs/uploads/<id> or .../blobs/uploads/ */
		const char *blobs_end = prev - 1; /* the '/' before "uploads" */
		const char *blobs = blobs_end - 1;
		while (blobs > p && blobs[-1] != '/')
			blobs--;
		if ((size_t)(blobs_end - blobs) == 5 && strncmp(blobs, "blobs", 5) == 0 && blobs > p)
			return set_target(out, *ref ? ROUTE_UPLOAD : ROUTE_UPLOADS, p, (size_t)(blobs - 1 - p),
				*ref ? ref : NULL);
	}
#undef PREV_IS
	(void)len;
	return ECR_ENOTFOUND;
}

/* --- the request cycle --- */

static void request_free(http_request *r)
{
	if (!r)
		return;
	if (r->pending)
		r->mhd->destroy_response(r->pending);
	ecr__api_request_free(r);
	/* A POST's session still held here was never handed to the client (the body
	 * was refused or the connection dropped): end it, its staged bytes with it. */
	if (r->upload && r->target.route == ROUTE_UPLOADS)
		(void)ecr_upload_cancel(r->upload);
	ecr_upload_free(r->upload);
	ecr_repository_free(r->repo);
	if (r->principal)
		ecr_principal_free(r->principal);
	ecr_buf_dispose(&r->body);
	ecr__http_target_dispose(&r->target);
	ecr__free(r->client_name);
	ecr__free(r->path);
	ecr__free(r);
}

static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	*(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

static size_t headers_size(http_request *r)
{
	size_t total = 0;
	r->mhd->get_connection_values(r->conn, MHD_HEADER_KIND, add_header_size, &total);
	return total;
}

static enum MHD_Result first_call(http_request *r, const char *url)
{
	const char *cl = r->mhd->lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (errno || end == cl || *end || cl[0] == '-')
			return ecr__http_error(r, 400, "SIZE_INVALID", "malformed Content-Length");
		if (v > r->srv->max_blob_size)
			return ecr__http_error(r, 413, "SIZE_INVALID", "the request body is larger than this registry accepts");
	}
	const char *amz_target;
	if (strcmp(url, "/") == 0 &&
		(amz_target = r->mhd->lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Amz-Target"))) {
		r->target.route = ROUTE_ECR_API;
		r->metrics_public_api = strncmp(amz_target, "SpencerFrontendService.", 23) == 0;
		return ecr__api_begin(r);
	}
	if (strcmp(url, "/metrics") == 0 && r->srv->metrics_access != ECR_SERVER_METRICS_OFF) {
		r->target.route = ROUTE_METRICS;
		return ecr__metrics_begin(r);
	}
	if (strncmp(url, "/gallery", 8) == 0 && (url[8] == '\0' || url[8] == '/')) {
		r->target.route = ROUTE_GALLERY;
		return ecr__gallery_begin(r);
	}
	if (strcmp(url, "/token") == 0 || strcmp(url, "/token/") == 0) {
		r->target.route = ROUTE_TOKEN;
		return ecr__token_begin(r);
	}
	int rc = ecr__http_parse_path(&r->target, url);
	if (rc == ECR_ENOMEM)
		return MHD_NO;
	if (rc)
		return ecr__http_error(r, 404, "NOT_FOUND", "no such route");
	return ecr__oci_begin(r);
}

static enum MHD_Result handle_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	ecr_server *srv = cls;
	http_request *r = *con_cls;
	(void)version;
	if (!r && srv->stopping) {
		/* a stop is under way: a short answer that closes the connection, and
		 * neither counted in flight nor as activity, so that a stream of new
		 * requests cannot hold the stop up */
		if (!(r = ecr__calloc(1, sizeof(*r))))
			return MHD_NO;
		r->srv = srv;
		r->mhd = srv->mhd;
		r->conn = conn;
		r->method = method;
		r->refused = true;
		r->started_ms = ecr__time_monotonic_ms();
		r->started_us = ecr__metrics_now_us();
		if (!(r->path = ecr__strdup(url))) {
			ecr__free(r);
			return MHD_NO;
		}
		*con_cls = r;
		struct MHD_Response *resp = ecr__http_response_error(r, "UNAVAILABLE", "the server is shutting down");
		if (resp) {
			r->mhd->add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
			r->mhd->add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
		}
		r->expects_body = true; /* answer now, whatever the body */
		r->in_first_call = true;
		enum MHD_Result ret = ecr__http_queue(r, 503, resp);
		r->in_first_call = false;
		return ret;
	}
	if (r && r->refused) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r && r->offload_done) {
		/* back from the offload pool: its answer is pending (or it failed); a request suspended in its first
		 * call gets a first call again, where an answer would close the connection: the next call sends it */
		if (r->offload_ret == MHD_NO && !r->pending)
			return MHD_NO;
		if (r->offload_first) {
			r->offload_first = false;
			return MHD_YES;
		}
		r->offload_done = false;
	}
	srv->last_activity_ms = ecr__time_monotonic_ms();

	if (!r) {
		if (!(r = ecr__calloc(1, sizeof(*r))))
			return MHD_NO;
		r->srv = srv;
		r->mhd = srv->mhd;
		r->conn = conn;
		r->method = method;
		r->started_ms = ecr__time_monotonic_ms();
		r->started_us = ecr__metrics_now_us();
		if (!(r->path = ecr__strdup(url))) {
			ecr__free(r);
			return MHD_NO;
		}
		*con_cls = r;
		srv->in_flight++;
		if (headers_size(r) > srv->max_header_size) {
			r->expects_body = true; /* answer now and close */
			r->in_first_call = true;
			enum MHD_Result ret = ecr__http_error(r, 431, "SIZE_INVALID", "request headers too large");
			r->in_first_call = false;
			return ret;
		}
		const char *host = r->mhd->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
		/* without credentials a /v2/ request is answered 401 whatever its registry:
		 * it does not get to ask the provider which accounts are served */
		bool v2 = strncmp(url, "/v2", 3) == 0 &&
			((srv->flags & ECR_SERVER_NO_AUTH) ||
				r->mhd->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION) ||
				r->mhd->lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "X-Ecr-Token"));
		int prc = pick_registry(&r->reg, srv, host, v2);
		const char *cl = r->mhd->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		r->expects_body = (cl && strspn(cl, "0") != strlen(cl)) ||
			r->mhd->lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
		r->in_first_call = true;
		enum MHD_Result ret = prc ? ecr__http_fail(r, prc, "name") : first_call(r, url);
		r->in_first_call = false;
		if ((r->target.route == ROUTE_UPLOADS || r->target.route == ROUTE_UPLOAD) &&
			(strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 || strcmp(method, "PUT") == 0))
			ecr__metrics_upload_begin(r);
		return ret;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		r->metrics_in += n;
		if (r->mode == BODY_DISCARD || r->mode == BODY_NONE)
			return MHD_YES;
		if (r->target.route == ROUTE_ECR_API)
			return ecr__api_body(r, upload_data, n);
		if (r->target.route == ROUTE_GALLERY)
			return ecr__gallery_body(r, upload_data, n);
		return ecr__oci_body(r, upload_data, n);
	}
	/* the whole body has arrived (or there was none) */
	if (r->pending) {
		struct MHD_Response *resp = r->pending;
		r->pending = NULL;
		r->mode = BODY_NONE;
		last_body_size = r->pending_bytes;
		return ecr__http_queue(r, r->pending_status, resp);
	}
	if (r->mode == BODY_NONE)
		return r->status ? MHD_YES : ecr__http_error(r, 500, "UNKNOWN", "no response");
	if (r->target.route == ROUTE_ECR_API)
		return ecr__api_finish(r);
	if (r->target.route == ROUTE_GALLERY)
		return ecr__gallery_finish(r);
	return ecr__oci_finish(r);
}

/* libmicrohttpd's access handler: a request's handling, then the start of its offloaded part, if any. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	enum MHD_Result ret = handle_request(cls, conn, url, method, version, upload_data, upload_data_size, con_cls);
	http_request *r = *con_cls;
	if (r && r->offloaded && !r->offload_started) {
		r->offload_started = true;
		offload_start(r); /* r may be gone once this returns */
	}
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	ecr_server *srv = cls;
	http_request *r = *con_cls;
	(void)conn;
	if (!r)
		return;
	if (ecr__log_enabled(&srv->log, ECR_LOG_INFO)) {
		int64_t ms = ecr__time_monotonic_ms() - r->started_ms;
		if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
			ecr__log(&srv->log, ECR_LOG_INFO, "%s %s %u %llu %llu %lldms", r->method, r->path, r->status,
				(unsigned long long)r->received, (unsigned long long)r->bytes_out, (long long)ms);
		else
			ecr__log(&srv->log, ECR_LOG_INFO, "%s %s %u aborted (%d) after %llu bytes in %lldms", r->method,
				r->path, r->status, (int)toe, (unsigned long long)r->received, (long long)ms);
	}
	bool counted = !r->refused;
	ecr__metrics_request_done(r);
	request_free(r);
	*con_cls = NULL;
	if (counted)
		srv->in_flight--;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	ecr_server *srv = cls;
	if (!ecr__log_enabled(&srv->log, ECR_LOG_DEBUG))
		return;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	ecr__log(&srv->log, ECR_LOG_DEBUG, "http: %s", msg);
}

static int read_pem(char **out, const char *path)
{
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ecr__fail_os(ECR_EIO, errno, "cannot open '%s'", path);
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) != 0) {
		rc = ecr__fail_os(ECR_EIO, errno, "cannot stat '%s'", path);
		goto done;
	}
	if (st.st_size <= 0 || st.st_size > MAX_PEM_SIZE) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "'%s' is not a PEM file of a sane size", path);
		goto done;
	}
	if (!(buf = ecr__malloc((size_t)st.st_size + 1))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = ecr__fail_os(ECR_EIO, n < 0 ? errno : EIO, "cannot read '%s'", path);
			goto done;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	buf = NULL;
done:
	close(fd);
	ecr__free(buf);
	return rc;
}

int ecr_server_start(ecr_server *srv)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int rc;

	if (srv->daemon)
		return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the server is running already");
	if (srv->vhosts_count == 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "the server has no registry to serve");
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned int af_flag = 0;
	if (inet_pton(AF_INET, srv->bind_address, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(srv->port);
		sslen = sizeof(*in4);
	} else if (inet_pton(AF_INET6, srv->bind_address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(srv->port);
		sslen = sizeof(*in6);
		af_flag = MHD_USE_IPv6;
	} else {
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "'%s' is not an IPv4 or IPv6 address", srv->bind_address);
	}
	(void)sslen;
	if (srv->tls_cert_file) {
		if ((rc = read_pem(&srv->tls_cert, srv->tls_cert_file)) || (rc = read_pem(&srv->tls_key, srv->tls_key_file)))
			goto fail;
	}

	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ITC | af_flag |
		MHD_USE_ERROR_LOG;
	if (srv->tls_cert)
		flags |= MHD_USE_TLS;
	if (srv->offload)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	unsigned int pool = (srv->flags & ECR_SERVER_SINGLE_THREAD) ? 1 : srv->threads;
	struct MHD_OptionItem ops[16];
	size_t n = 0;
	/* the logger first, so that problems with the options after it are logged */
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)srv->max_connections, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)srv->timeout_seconds, NULL };
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(intptr_t)(srv->max_header_size > CONNECTION_MEMORY / 2 ? srv->max_header_size * 2 : CONNECTION_MEMORY),
		NULL };
	if (pool > 1)
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)pool, NULL };
	if (srv->tls_cert) {
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert };
		ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key };
	}
	ops[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

	if ((rc = ecr__server_mhd(&srv->mhd, srv->tls_cert != NULL)))
		goto fail;
	srv->daemon = srv->mhd->start_daemon(flags, srv->port, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, ops,
		MHD_OPTION_END);
	if (!srv->daemon) {
		rc = ecr__fail(ECR_EIO, ECR_ERROR_OS, "cannot listen on %s port %u (in use, or not permitted)",
			srv->bind_address, (unsigned)srv->port);
		goto fail;
	}
	const union MHD_DaemonInfo *info = srv->mhd->get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->bound_port = info ? info->port : srv->port;
	ecr__log(&srv->log, ECR_LOG_INFO, "listening on %s%s%s%s:%u (%s)", srv->tls_cert ? "https://" : "http://",
		af_flag ? "[" : "", srv->bind_address, af_flag ? "]" : "", (unsigned)srv->bound_port,
		pool > 1 ? "thread pool" : "one thread");
	return 0;
fail:
	srv->mhd = NULL;
	ecr__free(srv->tls_cert);
	ecr__free(srv->tls_key);
	srv->tls_cert = srv->tls_key = NULL;
	return rc;
}

uint16_t ecr_server_port(const ecr_server *srv) { return srv->daemon ? srv->bound_port : 0; }

int ecr_server_stop(ecr_server *srv)
{
	if (!srv->daemon)
		return 0;
	/* stop accepting, then let the connections in flight finish */
	/*
	 * New requests are answered 503 while those in flight finish. Not
	 * MHD_quiesce_daemon(): with epoll threads it races the threads' own removal
	 * of the listening socket from their epoll sets, and libmicrohttpd 0.9.75
	 * aborts the process when it loses ("Failed to remove listen FD from epoll
	 * set", seen in CI under ASan).
	 */
	srv->stopping = true;
	int64_t deadline = ecr__time_monotonic_ms() + (int64_t)srv->timeout_seconds * 1000;
	/* requests in flight finish, as long as they make progress (one on the offload pool does: it ends by
	 * noting activity, and then its answer goes out) */
	for (;;) {
		int64_t now = ecr__time_monotonic_ms();
		size_t threads = 0, offloaded = 0;
		if (srv->offload)
			ecr__offload_stats(srv->offload, &threads, &offloaded);
		if (srv->in_flight <= 0 || now >= deadline || (!offloaded && now - srv->last_activity_ms > STOP_IDLE_MS))
			break;
		usleep(10000);
	}
	/* libmicrohttpd cannot stop with a connection suspended: the offloaded requests finish and resume theirs,
	 * and the streams waiting for an upstream are ended */
	if (srv->offload)
		ecr__offload_drain(srv->offload);
	ecr__oci_streams_close(srv);
	srv->mhd->stop_daemon(srv->daemon);
	srv->streams_closing = false;
	srv->stopping = false;
	srv->daemon = NULL;
	srv->mhd = NULL;
	srv->bound_port = 0;
	if (srv->tls_key) /* wipe the key */
		memset(srv->tls_key, 0, strlen(srv->tls_key));
	ecr__free(srv->tls_cert);
	ecr__free(srv->tls_key);
	srv->tls_cert = srv->tls_key = NULL;
	ecr__log(&srv->log, ECR_LOG_INFO, "stopped");
	return 0;
}

void ecr_server_free(ecr_server *srv)
{
	if (!srv)
		return;
	ecr_server_stop(srv);
	for (size_t i = 0; i < srv->vhosts_count; i++)
		ecr__free(srv->vhosts[i].host);
	ecr__free(srv->vhosts);
	ecr__free(srv->bind_address);
	ecr__free(srv->tls_cert_file);
	ecr__free(srv->tls_key_file);
	ecr__api_lifecycle_previews_free(srv->lifecycle_previews);
	ecr__ratelimit_free(srv->anon_limit);
	ecr__metrics_free(srv->metrics);
	ecr__offload_free(srv->offload);
	pthread_mutex_destroy(&srv->streams_lock);
	ecr__free(srv);
}
