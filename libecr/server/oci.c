/* The OCI Distribution Specification v1.1 routes. */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../core/json.h"
#include "../engine/cache_support.h"
#include "../engine/upload_cache.h"

#define READ_BLOCK (256 * 1024)
#define MAX_LIST_PAGE 10000

static bool method_is(const http_request *r, const char *m) { return strcmp(r->method, m) == 0; }

static enum MHD_Result unsupported(http_request *r)
{
	return ecr__http_error(r, 405, "UNSUPPORTED", "the operation is unsupported");
}

/*
 * ecr__http_fail, with the repository named as the client named it: a public
 * repository is "<alias>/<repository>" to the client but "<repository>" in
 * the library's messages.
 */
static enum MHD_Result oci_fail(http_request *r, int rc, const char *what)
{
	const ecr_error *e = ecr_error_last();
	if (!r->public_repo || !r->client_name || e->code != rc || !e->message)
		return ecr__http_fail(r, rc, what);
	ecr_buf quoted = ECR_BUF_INIT, msg = ECR_BUF_INIT;
	unsigned int status;
	const char *code, *at;
	enum MHD_Result ret;
	if (ecr__buf_printf(&quoted, "'%s'", r->target.name)) {
		ret = MHD_NO;
		goto done;
	}
	ecr__http_error_map(rc, what, &status, &code);
	if ((at = strstr(e->message, quoted.ptr)) == NULL) {
		ret = ecr__http_fail(r, rc, what);
		goto done;
	}
	if (ecr__buf_put(&msg, e->message, (size_t)(at - e->message)) ||
		ecr__buf_printf(&msg, "'%s'%s", r->client_name, at + quoted.size)) {
		ret = MHD_NO;
		goto done;
	}
	ret = ecr__http_error(r, status, code, msg.ptr);
done:
	ecr_buf_dispose(&quoted);
	ecr_buf_dispose(&msg);
	return ret;
}

/* Open the request's repository; with create, a missing one is created when the server allows create-on-push. */
static int open_repo(http_request *r, bool create)
{
	if (r->repo) /* opened already while the name was resolved (v2_auth.c) */
		return 0;
	int rc = ecr_repository_open(&r->repo, r->reg, r->target.name);
	if (rc == ECR_EREPOSITORY_NOT_FOUND && create && (r->srv->flags & ECR_SERVER_CREATE_ON_PUSH)) {
		if ((rc = ecr__v2_may_create(r))) /* create-on-push needs ecr:CreateRepository */
			return rc;
		rc = ecr_repository_create_templated(&r->repo, r->reg, r->target.name, ECR_TEMPLATE_CREATE_ON_PUSH);
		if (rc == ECR_EREPOSITORY_EXISTS) /* created meanwhile by another request */
			rc = ecr_repository_open(&r->repo, r->reg, r->target.name);
	}
	return rc;
}

static enum MHD_Result fail_repo(http_request *r, int rc)
{
	return oci_fail(r, rc, "name");
}

/* Whether pulls of the request's repository go through the pull-through cache (a rule covers its name); asked
 * once per request (the dispatch and the handler both need it). */
static bool cache_covers(http_request *r)
{
	if (!r->cache_rule) {
		int rc = r->srv->cache ? ecr_cache_covers(r->srv->cache, r->reg, r->target.name) : 0;
		if (rc < 0)
			ecr_error_clear();
		r->cache_rule = rc == 1 ? 1 : -1;
	}
	return r->cache_rule == 1;
}

/*
 * The first pull of a cached repository creates it and imports from upstream:
 * as ECR, that needs ecr:CreateRepository and ecr:BatchImportUpstreamImage on
 * the repository besides the pull's own action.
 */
static int cache_may_import(http_request *r)
{
	ecr_buf arn = ECR_BUF_INIT;
	int rc;
	if (r->srv->flags & ECR_SERVER_NO_AUTH)
		return 0;
	if ((rc = ecr__v2_may_create(r)) || (rc = ecr__v2_repository_arn(&arn, r->reg, r->target.name)))
		return rc;
	rc = ecr_authorize(r->reg, r->principal, "ecr:BatchImportUpstreamImage", arn.ptr, NULL, 0);
	ecr_buf_dispose(&arn);
	return rc;
}

static bool is_digest(const char *s) { return strchr(s, ':') != NULL; }

static void add_header(http_request *r, struct MHD_Response *resp, const char *name, const char *value)
{
	if (resp)
		r->mhd->add_response_header(resp, name, value);
}

/* Release the session before answering: the client's next request for it
 * may arrive before this request's completion callback runs. */
static void release_upload(http_request *r)
{
	ecr_upload_free(r->upload);
	r->upload = NULL;
}

/* A failed request that created its session (POST .../blobs/uploads/, e.g. a
 * monolithic ?digest= push): the client never learnt the session's id, so end
 * it now rather than leave its staged bytes until the session expires (under
 * a full disk those bytes are what the next push needs). The error of the
 * failure is kept. */
static void abandon_upload(http_request *r)
{
	if (r->upload && r->target.route == ROUTE_UPLOADS) {
		ecr__error_saved saved;
		ecr__error_save(&saved);
		(void)ecr_upload_cancel(r->upload);
		ecr__error_restore(&saved);
	}
	release_upload(r);
}

/* Location, Range and Docker-Upload-UUID of an upload session. */
static enum MHD_Result upload_response(http_request *r, unsigned int status)
{
	char location[1024], range[64];
	uint64_t size = ecr_upload_size(r->upload);
	snprintf(location, sizeof(location), "/v2/%s/blobs/uploads/%s", ecr__v2_client_name(r), ecr_upload_id(r->upload));
	snprintf(range, sizeof(range), "0-%" PRIu64, size ? size - 1 : 0);
	struct MHD_Response *resp = ecr__http_response_buf(r, NULL, 0, NULL);
	add_header(r, resp, MHD_HTTP_HEADER_LOCATION, location);
	add_header(r, resp, MHD_HTTP_HEADER_RANGE, range);
	add_header(r, resp, "Docker-Upload-UUID", ecr_upload_id(r->upload));
	release_upload(r);
	return ecr__http_queue(r, status, resp);
}

static enum MHD_Result blob_created(http_request *r, const char *digest)
{
	char location[1024];
	snprintf(location, sizeof(location), "/v2/%s/blobs/%s", ecr__v2_client_name(r), digest);
	struct MHD_Response *resp = ecr__http_response_buf(r, NULL, 0, NULL);
	add_header(r, resp, MHD_HTTP_HEADER_LOCATION, location);
	add_header(r, resp, "Docker-Content-Digest", digest);
	return ecr__http_queue(r, 201, resp);
}

/* --- base, catalog, tags --- */

static enum MHD_Result base(http_request *r)
{
	if (!method_is(r, "GET") && !method_is(r, "HEAD"))
		return unsupported(r);
	return ecr__http_queue(r, 200, ecr__http_response_buf(r, "{}", 2, "application/json"));
}

/* Parse the n parameter: -1 when absent, -2 when invalid. */
static long parse_n(http_request *r)
{
	const char *n = ecr__http_query(r, "n");
	if (!n)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(n, &end, 10);
	if (!*n || *end || errno || v < 0)
		return -2;
	return v > MAX_LIST_PAGE ? MAX_LIST_PAGE : v;
}

static enum MHD_Result list_response(http_request *r, ecr__jw *w, bool more, long n, const char *last,
	const char *path)
{
	ecr_buf out = ECR_BUF_INIT;
	if (ecr__jw_array_close(w) || ecr__jw_object_close(w) || ecr__jw_finish(w, &out)) {
		ecr__jw_free(w);
		return oci_fail(r, ECR_ENOMEM, "");
	}
	ecr__jw_free(w);
	struct MHD_Response *resp = ecr__http_response_buf(r, out.ptr, out.size, "application/json");
	ecr_buf_dispose(&out);
	if (more && last) {
		ecr_buf link = ECR_BUF_INIT;
		if (ecr__buf_printf(&link, "<%s?n=%ld&last=%s>; rel=\"next\"", path, n, last) == 0)
			add_header(r, resp, MHD_HTTP_HEADER_LINK, link.ptr);
		ecr_buf_dispose(&link);
	}
	return ecr__http_queue(r, 200, resp);
}

static enum MHD_Result catalog(http_request *r)
{
	if (!method_is(r, "GET"))
		return unsupported(r);
	long n = parse_n(r);
	if (n == -2)
		return ecr__http_error(r, 400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested");
	ecr_repository_iterator *it = NULL;
	ecr_repository *repo;
	ecr__jw *w = NULL;
	char *last = NULL;
	bool more = false;
	long count = 0;
	int rc = ecr_repository_iterator_new_after(&it, r->reg, ecr__http_query(r, "last"));
	if (!rc)
		rc = ecr__jw_new(&w);
	if (!rc && (ecr__jw_object_open(w) || ecr__jw_key(w, "repositories") || ecr__jw_array_open(w)))
		rc = ECR_ENOMEM;
	while (!rc) {
		rc = ecr_repository_iterator_next(&repo, it);
		if (rc)
			break;
		if (n >= 0 && count == n) {
			more = true;
			break;
		}
		if (ecr__jw_string(w, ecr_repository_name(repo))) {
			rc = ECR_ENOMEM;
			break;
		}
		ecr__free(last);
		last = ecr__strdup(ecr_repository_name(repo));
		count++;
	}
	ecr_repository_iterator_free(it);
	if (rc && rc != ECR_ITEROVER) {
		ecr__jw_free(w);
		ecr__free(last);
		return oci_fail(r, rc, "");
	}
	enum MHD_Result ret = list_response(r, w, more, n, last, "/v2/_catalog");
	ecr__free(last);
	return ret;
}

static enum MHD_Result tags_list(http_request *r)
{
	if (!method_is(r, "GET"))
		return unsupported(r);
	long n = parse_n(r);
	if (n == -2)
		return ecr__http_error(r, 400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested");
	int rc = open_repo(r, false);
	if (rc)
		return fail_repo(r, rc);
	ecr_tag_iterator *it = NULL;
	ecr__jw *w = NULL;
	const char *tag;
	char *last = NULL;
	bool more = false;
	long count = 0;
	rc = ecr_tag_iterator_new(&it, r->repo, ecr__http_query(r, "last"));
	if (!rc)
		rc = ecr__jw_new(&w);
	if (!rc && (ecr__jw_object_open(w) || ecr__jw_key(w, "name") || ecr__jw_string(w, ecr__v2_client_name(r)) ||
			   ecr__jw_key(w, "tags") || ecr__jw_array_open(w)))
		rc = ECR_ENOMEM;
	while (!rc) {
		rc = ecr_tag_iterator_next(&tag, NULL, it);
		if (rc)
			break;
		if (n >= 0 && count == n) {
			more = true;
			break;
		}
		if (ecr__jw_string(w, tag)) {
			rc = ECR_ENOMEM;
			break;
		}
		ecr__free(last);
		last = ecr__strdup(tag);
		count++;
	}
	ecr_tag_iterator_free(it);
	if (rc && rc != ECR_ITEROVER) {
		ecr__jw_free(w);
		ecr__free(last);
		return oci_fail(r, rc, "");
	}
	ecr_buf path = ECR_BUF_INIT;
	ecr__buf_printf(&path, "/v2/%s/tags/list", ecr__v2_client_name(r));
	enum MHD_Result ret = list_response(r, w, more, n, last, path.ptr ? path.ptr : "");
	ecr_buf_dispose(&path);
	ecr__free(last);
	return ret;
}

/* --- blobs --- */

/* Parse a single "bytes=a-b" range against size. 0: none or not usable (serve
 * everything), 1: range set, -1: unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	const char *p = h + 6;
	char *end;
	uint64_t a, b;
	if (*p == '-') { /* suffix: the last N bytes */
		errno = 0;
		uint64_t nbytes = strtoull(p + 1, &end, 10);
		if (errno || *end || end == p + 1)
			return 0;
		if (nbytes == 0 || size == 0)
			return -1;
		if (nbytes > size)
			nbytes = size;
		*off = size - nbytes;
		*len = nbytes;
		return 1;
	}
	errno = 0;
	a = strtoull(p, &end, 10);
	if (errno || end == p || *end != '-')
		return 0;
	p = end + 1;
	if (*p == '\0') {
		b = size ? size - 1 : 0;
	} else {
		b = strtoull(p, &end, 10);
		if (errno || *end || b < a)
			return 0;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

/*
 * A blob answered through a reader (no file descriptor): a store's reader, a remote registry's download or a
 * pull-through cache's stream. When the next read would wait for the upstream (ecr__blob_watch), the connection
 * is suspended and the reader returns no bytes; the cache's fetch thread resumes it once there are more. So
 * the worker thread serves its other connections meanwhile. All under srv->streams_lock; a reference for the
 * response and one for a notify on its way.
 */
typedef struct oci_stream {
	ecr_blob *b;
	ecr_server *srv;
	const ecr__mhd *mhd;
	struct MHD_Connection *conn;
	_Atomic int refs;
	bool suspended; /* and in srv->streams */
	bool ready;     /* the notify came before the reader suspended */
	struct oci_stream *next;
} oci_stream;

static void stream_unref(oci_stream *s)
{
	if (atomic_fetch_sub(&s->refs, 1) == 1) {
		ecr_blob_free(s->b);
		ecr__free(s);
	}
}

/* Under streams_lock: s leaves the suspended list and its connection resumes. */
static void stream_resume_locked(oci_stream *s)
{
	for (oci_stream **p = &s->srv->streams; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	s->suspended = false;
	s->mhd->resume_connection(s->conn);
}

/* The notify (the cache's fetch thread): more bytes, the end, or a failure. */
static void stream_ready(void *arg)
{
	oci_stream *s = arg;
	pthread_mutex_lock(&s->srv->streams_lock);
	if (s->suspended)
		stream_resume_locked(s);
	else
		s->ready = true;
	pthread_mutex_unlock(&s->srv->streams_lock);
	stream_unref(s);
}

void ecr__oci_streams_close(ecr_server *srv)
{
	pthread_mutex_lock(&srv->streams_lock);
	srv->streams_closing = true;
	for (oci_stream *s = srv->streams, *next; s; s = next) {
		next = s->next;
		if (ecr__blob_unwatch(s->b, s)) { /* else its notify is on its way */
			stream_resume_locked(s);
			atomic_fetch_sub(&s->refs, 1); /* the notify's (the response still holds one) */
		}
	}
	while (srv->streams) { /* the notifies on their way */
		pthread_mutex_unlock(&srv->streams_lock);
		usleep(1000);
		pthread_mutex_lock(&srv->streams_lock);
	}
	pthread_mutex_unlock(&srv->streams_lock);
}

/* 1: the read will not wait; 0: suspended, answer no bytes now; -1: the server is stopping. */
static int stream_wait(oci_stream *s)
{
	if (!s->srv->offload) /* libmicrohttpd was started without suspend/resume: the read waits */
		return 1;
	atomic_fetch_add(&s->refs, 1);
	if (ecr__blob_watch(s->b, stream_ready, s)) {
		atomic_fetch_sub(&s->refs, 1);
		return 1;
	}
	int ret;
	pthread_mutex_lock(&s->srv->streams_lock);
	if (s->ready) {
		s->ready = false;
		ret = 1;
	} else if (s->srv->streams_closing) {
		if (ecr__blob_unwatch(s->b, s))
			atomic_fetch_sub(&s->refs, 1);
		ret = -1;
	} else {
		s->mhd->suspend_connection(s->conn);
		s->suspended = true;
		s->next = s->srv->streams;
		s->srv->streams = s;
		ret = 0;
	}
	pthread_mutex_unlock(&s->srv->streams_lock);
	return ret;
}

static ssize_t blob_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	oci_stream *s = cls;
	size_t n = 0;
	(void)pos;
	int w = stream_wait(s);
	if (w <= 0)
		return w == 0 ? 0 : MHD_CONTENT_READER_END_WITH_ERROR;
	if (ecr_blob_read(s->b, buf, max, &n) != 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void blob_reader_free(void *cls) { stream_unref(cls); }

/* A whole-blob GET answered 307 to the blob's download URL: true when answered (*ret), false to stream it
 * (the store cannot presign). */
static bool blob_redirect(http_request *r, const char *digest, enum MHD_Result *ret)
{
	ecr_buf url = ECR_BUF_INIT;
	struct MHD_Response *resp;
	int rc = ecr_blob_download_url(&url, r->repo, digest, ECR_SERVER_BLOB_REDIRECT_SECONDS);
	if (rc == ECR_ENOTSUPPORTED) {
		ecr_error_clear();
		return false;
	}
	if (rc) {
		ecr_buf_dispose(&url);
		*ret = oci_fail(r, rc, "blob");
		return true;
	}
	if ((resp = ecr__http_response_buf(r, NULL, 0, NULL))) {
		add_header(r, resp, MHD_HTTP_HEADER_LOCATION, url.ptr);
		add_header(r, resp, "Docker-Content-Digest", digest);
	}
	ecr_buf_dispose(&url);
	*ret = resp ? ecr__http_queue(r, 307, resp) : MHD_NO;
	return true;
}

static enum MHD_Result blob_get(http_request *r, bool head)
{
	const char *digest = r->target.ref;
	uint64_t size = 0, off = 0, len = 0;
	bool cached = false;
	int rc = open_repo(r, false);
	if (rc == 0)
		rc = ecr_blob_stat(r->repo, digest, &size);
	/* a blob the registry lacks, of a repository a pull-through cache rule covers: through the cache */
	if ((rc == ECR_ENOTFOUND || rc == ECR_EREPOSITORY_NOT_FOUND) && cache_covers(r)) {
		int rc2 = r->repo ? 0 : cache_may_import(r);
		if (rc2)
			return fail_repo(r, rc2);
		ecr_error_clear();
		cached = true;
		rc = ecr_cache_blob_stat(r->srv->cache, r->reg, r->target.name, digest, &size);
	}
	if (rc)
		return r->repo || cached ? oci_fail(r, rc, "blob") : fail_repo(r, rc);
	int ranged = parse_range(ecr__http_header(r, MHD_HTTP_HEADER_RANGE), size, &off, &len);
	if (ranged < 0) {
		char cr[64];
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
		struct MHD_Response *resp =
			ecr__http_response_error(r, "BLOB_UNKNOWN", "requested range not satisfiable");
		add_header(r, resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		return ecr__http_queue(r, 416, resp);
	}
	if (!ranged) {
		off = 0;
		len = size;
	}
	/* a whole-blob GET: to the store's presigned URL when configured and the store can presign */
	enum MHD_Result ret;
	if (!head && !cached && r->srv->blob_redirect && !ecr__http_header(r, MHD_HTTP_HEADER_RANGE) &&
		blob_redirect(r, digest, &ret))
		return ret;
	struct MHD_Response *resp = NULL;
	if (head) {
		resp = ecr__http_response_head(r, len);
	} else {
		ecr_blob *b = NULL;
		int fd;
		uint64_t foff;
		if (cached)
			rc = ecr_cache_blob_open(&b, r->srv->cache, r->reg, r->target.name, digest, off, len);
		else
			rc = ecr_blob_open(&b, r->repo, digest, off, len);
		if (rc)
			return oci_fail(r, rc, "blob");
		if (len == 0) {
			ecr_blob_free(b);
			resp = ecr__http_response_buf(r, NULL, 0, NULL);
		} else if (ecr_blob_fd(b, &fd, &foff) == 0) {
			/* the kernel sends it (sendfile); MHD owns the duplicate */
			int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
			ecr_blob_free(b);
			if (dupfd < 0)
				return ecr__http_error(r, 500, "UNKNOWN", "out of file descriptors");
			ecr__http_note_body_size(len);
			resp = r->mhd->create_response_from_fd_at_offset64(len, dupfd, foff);
			if (!resp)
				close(dupfd);
		} else {
			ecr_error_clear();
			ecr__http_note_body_size(len);
			oci_stream *st = ecr__calloc(1, sizeof(*st));
			if (!st) {
				ecr_blob_free(b);
				return MHD_NO;
			}
			st->b = b;
			st->srv = r->srv;
			st->mhd = r->mhd;
			st->conn = r->conn;
			st->refs = 1;
			resp = r->mhd->create_response_from_callback(len, READ_BLOCK, blob_reader, st, blob_reader_free);
			if (!resp)
				stream_unref(st);
		}
	}
	if (!resp)
		return MHD_NO;
	add_header(r, resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	add_header(r, resp, "Docker-Content-Digest", digest);
	add_header(r, resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	char etag[160];
	snprintf(etag, sizeof(etag), "\"%s\"", digest);
	add_header(r, resp, MHD_HTTP_HEADER_ETAG, etag);
	add_header(r, resp, MHD_HTTP_HEADER_CACHE_CONTROL, "max-age=31536000");
	if (ranged) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off, off + len - 1, size);
		add_header(r, resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	return ecr__http_queue(r, ranged ? 206 : 200, resp);
}

static enum MHD_Result blob_delete(http_request *r)
{
	int rc = open_repo(r, false);
	if (rc)
		return fail_repo(r, rc);
	if ((rc = ecr_blob_delete(r->repo, r->target.ref)))
		return oci_fail(r, rc, "blob");
	return ecr__http_queue(r, 202, ecr__http_response_buf(r, NULL, 0, NULL));
}

/* --- uploads --- */

/* Content-Length, or UINT64_MAX when absent or malformed. */
static uint64_t content_length(http_request *r)
{
	const char *h = ecr__http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!h)
		return UINT64_MAX;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(h, &end, 10);
	return (errno || *end || end == h) ? UINT64_MAX : (uint64_t)v;
}

static enum MHD_Result start_body(http_request *r, body_mode mode)
{
	uint64_t cl = content_length(r);
	if (mode == BODY_UPLOAD && cl != UINT64_MAX && r->upload &&
		ecr_upload_size(r->upload) + cl > r->srv->max_blob_size)
		return ecr__http_error(r, 413, "SIZE_INVALID", "the blob is larger than this registry accepts");
	if (mode == BODY_BUFFER && cl != UINT64_MAX && cl > r->buffer_limit)
		return ecr__http_error(r, 413, "SIZE_INVALID", "the manifest is larger than 4 MiB");
	r->mode = mode;
	return MHD_YES;
}

static enum MHD_Result uploads_post(http_request *r)
{
	int rc = open_repo(r, true);
	if (rc)
		return fail_repo(r, rc);
	const char *alg = ecr__http_query(r, "digest-algorithm");
	if (alg && strcmp(alg, "sha256") != 0 && strcmp(alg, "sha512") != 0)
		return ecr__http_error(r, 400, "DIGEST_INVALID", "unsupported digest algorithm (sha256 and sha512 are)");
	const char *mount = ecr__http_query(r, "mount");
	const char *from = ecr__http_query(r, "from");
	if (mount && from && r->public_repo) {
		/* "<alias>/<repository>" of the same public registry, else no mount (an upload session) */
		size_t alias_len = strlen(r->client_name) - strlen(r->target.name);
		from = strncmp(from, r->client_name, alias_len) == 0 ? from + alias_len : NULL;
	}
	if (mount && from) {
		ecr_repository *src = NULL;
		rc = ecr_repository_open(&src, r->reg, from);
		if (!rc)
			rc = ecr_blob_mount(r->repo, src, mount);
		ecr_repository_free(src);
		if (!rc)
			return blob_created(r, mount);
		if (rc == ECR_EINVALID && ecr_error_last()->klass == ECR_ERROR_OCI && strchr(mount, ':') == NULL)
			return oci_fail(r, rc, "digest");
		ecr_error_clear(); /* not there: fall back to an upload session */
	}
	if ((rc = ecr_upload_begin(&r->upload, r->repo)))
		return oci_fail(r, rc, "upload");
	return start_body(r, BODY_UPLOAD);
}

static enum MHD_Result upload_open(http_request *r)
{
	int rc = open_repo(r, false);
	if (rc)
		return fail_repo(r, rc);
	if ((rc = ecr_upload_open(&r->upload, r->repo, r->target.ref)))
		return oci_fail(r, rc == ECR_EINVALID ? ECR_EUPLOAD : rc, "upload");
	return MHD_YES;
}

/* Check Content-Range "a-b" against the session: 0 fine or absent, else answered. */
static int check_content_range(http_request *r, enum MHD_Result *ret)
{
	const char *h = ecr__http_header(r, MHD_HTTP_HEADER_CONTENT_RANGE);
	if (!h)
		return 0;
	if (strncmp(h, "bytes ", 6) == 0)
		h += 6;
	char *end;
	errno = 0;
	unsigned long long a = strtoull(h, &end, 10), b;
	if (errno || end == h || *end != '-') {
		*ret = ecr__http_error(r, 400, "BLOB_UPLOAD_INVALID", "malformed Content-Range");
		return -1;
	}
	const char *p = end + 1;
	b = strtoull(p, &end, 10);
	if (errno || end == p || (*end && *end != '/') || b < a) {
		*ret = ecr__http_error(r, 400, "BLOB_UPLOAD_INVALID", "malformed Content-Range");
		return -1;
	}
	if (a != ecr_upload_size(r->upload)) {
		char range[64];
		uint64_t size = ecr_upload_size(r->upload);
		snprintf(range, sizeof(range), "0-%" PRIu64, size ? size - 1 : 0);
		struct MHD_Response *resp =
			ecr__http_response_error(r, "BLOB_UPLOAD_INVALID",
				"the chunk does not start where the upload ends");
		add_header(r, resp, MHD_HTTP_HEADER_RANGE, range);
		add_header(r, resp, "Docker-Upload-UUID", ecr_upload_id(r->upload));
		release_upload(r);
		*ret = ecr__http_queue(r, 416, resp);
		return -1;
	}
	uint64_t cl = content_length(r);
	if (cl != UINT64_MAX && cl != b - a + 1) {
		*ret = ecr__http_error(r, 400, "SIZE_INVALID", "Content-Range and Content-Length disagree");
		return -1;
	}
	return 0;
}

static enum MHD_Result upload_route(http_request *r)
{
	enum MHD_Result ret = upload_open(r);
	if (!r->upload)
		return ret;
	if (method_is(r, "GET"))
		return upload_response(r, 204);
	if (method_is(r, "DELETE")) {
		int rc = ecr_upload_cancel(r->upload);
		release_upload(r);
		if (rc)
			return oci_fail(r, rc, "upload");
		return ecr__http_queue(r, 204, ecr__http_response_buf(r, NULL, 0, NULL));
	}
	if (method_is(r, "PATCH") || method_is(r, "PUT")) {
		if (method_is(r, "PUT") && !ecr__http_query(r, "digest"))
			return ecr__http_error(r, 400, "DIGEST_INVALID", "the digest parameter is required");
		if (check_content_range(r, &ret))
			return ret;
		return start_body(r, BODY_UPLOAD);
	}
	return unsupported(r);
}

/* --- manifests --- */

static enum MHD_Result manifest_get(http_request *r, bool head)
{
	const char *ref = r->target.ref;
	ecr_image *img = NULL;
	uint32_t flags = head ? 0 : ECR_IMAGE_GET_RECORD_PULL;
	int rc = open_repo(r, false);
	/* Repositories under a pull-through cache rule: a tag always through the cache (it decides whether to
	 * check upstream), a digest when the registry lacks it. */
	bool cached = (rc == 0 || rc == ECR_EREPOSITORY_NOT_FOUND) && cache_covers(r);
	if (rc && !cached)
		return fail_repo(r, rc);
	if (rc && (rc = cache_may_import(r)))
		return fail_repo(r, rc);
	ecr_error_clear();
	if (cached && (!r->repo || !is_digest(ref))) {
		rc = ecr_cache_image_get(&img, r->srv->cache, r->reg, r->target.name, ref, flags);
	} else {
		rc = ecr_image_get(&img, r->repo, ref, flags);
		if (rc == ECR_EIMAGE_NOT_FOUND && cached) {
			ecr_error_clear();
			rc = ecr_cache_image_get(&img, r->srv->cache, r->reg, r->target.name, ref, flags);
		}
	}
	if (rc)
		return oci_fail(r, rc, is_digest(ref) ? "digest" : "manifest");
	struct MHD_Response *resp;
	if (head) {
		resp = ecr__http_response_head(r, ecr_image_manifest_size(img));
	} else {
		const void *bytes;
		size_t len;
		if ((rc = ecr_image_manifest(&bytes, &len, img))) {
			ecr_image_free(img);
			return oci_fail(r, rc, "manifest");
		}
		resp = ecr__http_response_buf(r, bytes, len, NULL);
	}
	if (resp) {
		char etag[160];
		snprintf(etag, sizeof(etag), "\"%s\"", ecr_image_digest(img));
		add_header(r, resp, MHD_HTTP_HEADER_CONTENT_TYPE, ecr_image_media_type(img));
		add_header(r, resp, "Docker-Content-Digest", ecr_image_digest(img));
		add_header(r, resp, MHD_HTTP_HEADER_ETAG, etag);
	}
	ecr_image_free(img);
	return ecr__http_queue(r, 200, resp);
}

struct extra_tags {
	http_request *r;
	const char *digest;
	int rc;
};

static enum MHD_Result put_extra_tag(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct extra_tags *x = cls;
	(void)kind;
	if (x->rc || strcmp(key, "tag") != 0 || !value)
		return MHD_YES;
	x->rc = ecr_image_put(NULL, x->r->repo, value, x->digest, ecr__http_header(x->r, MHD_HTTP_HEADER_CONTENT_TYPE),
		x->r->body.ptr, x->r->body.size, 0);
	return x->rc ? MHD_NO : MHD_YES;
}

static enum MHD_Result manifest_put(http_request *r)
{
	const char *ref = r->target.ref;
	bool by_digest = is_digest(ref);
	ecr_image *img = NULL;
	if (r->body.size == 0)
		return ecr__http_error(r, 400, "MANIFEST_INVALID", "the manifest is empty");
	int rc = ecr_image_put(&img, r->repo, by_digest ? NULL : ref, by_digest ? ref : NULL,
		ecr__http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE), r->body.ptr, r->body.size, 0);
	if (rc)
		return oci_fail(r, rc,
			rc == ECR_EINVALID && ecr_error_last()->klass == ECR_ERROR_OCI && by_digest &&
					strstr(ecr_error_last()->message, "digest")
				? "digest"
				: (rc == ECR_EINVALID && !by_digest && strstr(ecr_error_last()->message, "tag") ? "tag"
													   : "manifest"));
	if (by_digest) { /* OCI 1.1: PUT by digest with ?tag=... sets those tags too */
		struct extra_tags x = { r, ecr_image_digest(img), 0 };
		r->mhd->get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, put_extra_tag, &x);
		if (x.rc) {
			ecr_image_free(img);
			return oci_fail(r, x.rc, "tag");
		}
	}
	char location[1024];
	snprintf(location, sizeof(location), "/v2/%s/manifests/%s", ecr__v2_client_name(r), ecr_image_digest(img));
	struct MHD_Response *resp = ecr__http_response_buf(r, NULL, 0, NULL);
	add_header(r, resp, MHD_HTTP_HEADER_LOCATION, location);
	add_header(r, resp, "Docker-Content-Digest", ecr_image_digest(img));
	if (ecr_image_subject(img))
		add_header(r, resp, "OCI-Subject", ecr_image_subject(img));
	ecr_image_free(img);
	return ecr__http_queue(r, 201, resp);
}

static enum MHD_Result manifest_delete(http_request *r)
{
	const char *ref = r->target.ref;
	int rc = open_repo(r, false);
	if (rc)
		return fail_repo(r, rc);
	rc = is_digest(ref) ? ecr_image_delete(r->repo, ref) : ecr_image_untag(NULL, r->repo, ref, 0);
	if (rc)
		return oci_fail(r, rc, is_digest(ref) ? "digest" : "manifest");
	return ecr__http_queue(r, 202, ecr__http_response_buf(r, NULL, 0, NULL));
}

/* --- referrers --- */

/* Copy the manifest's top-level "annotations" object into w, if it has one. */
static int write_annotations(ecr__jw *w, ecr_image *img)
{
	const void *bytes;
	size_t len;
	ecr__json *doc = NULL;
	int rc = ecr_image_manifest(&bytes, &len, img);
	if (rc)
		return rc;
	if (ecr__json_parse(&doc, bytes, len, NULL) != 0) {
		ecr_error_clear();
		return 0;
	}
	const ecr__json *a = ecr__json_get(doc, "annotations");
	if (a && a->type == ECR__JSON_OBJECT && a->count) {
		rc = ecr__jw_key(w, "annotations") || ecr__jw_object_open(w);
		for (size_t i = 0; !rc && i < a->count; i++)
			if (a->values[i]->type == ECR__JSON_STRING)
				rc = ecr__jw_key(w, a->keys[i]) ||
					ecr__jw_string_len(w, a->values[i]->string, a->values[i]->length);
		if (!rc)
			rc = ecr__jw_object_close(w);
		if (rc)
			rc = ECR_ENOMEM;
	}
	ecr__json_free(doc);
	return rc;
}

static enum MHD_Result referrers(http_request *r)
{
	if (!method_is(r, "GET"))
		return unsupported(r);
	const char *subject = r->target.ref;
	const char *artifact_type = ecr__http_query(r, "artifactType");
	int rc = open_repo(r, false);
	if (rc)
		return fail_repo(r, rc);
	ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
	lo.subject = subject;
	lo.artifact_type = artifact_type && *artifact_type ? artifact_type : NULL;
	ecr_image_iterator *it = NULL;
	ecr_image *img;
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	if ((rc = ecr_image_iterator_new(&it, r->repo, &lo)))
		return oci_fail(r, rc, "digest");
	if ((rc = ecr__jw_new(&w)) || ecr__jw_object_open(w) || ecr__jw_key(w, "schemaVersion") || ecr__jw_int(w, 2) ||
		ecr__jw_key(w, "mediaType") || ecr__jw_string(w, "application/vnd.oci.image.index.v1+json") ||
		ecr__jw_key(w, "manifests") || ecr__jw_array_open(w))
		rc = ECR_ENOMEM;
	while (!rc && (rc = ecr_image_iterator_next(&img, it)) == 0) {
		if (ecr__jw_object_open(w) || ecr__jw_key(w, "mediaType") || ecr__jw_string(w, ecr_image_media_type(img)) ||
			ecr__jw_key(w, "digest") || ecr__jw_string(w, ecr_image_digest(img)) || ecr__jw_key(w, "size") ||
			ecr__jw_int(w, (int64_t)ecr_image_manifest_size(img))) {
			rc = ECR_ENOMEM;
			break;
		}
		if (ecr_image_artifact_type(img) &&
			(ecr__jw_key(w, "artifactType") || ecr__jw_string(w, ecr_image_artifact_type(img)))) {
			rc = ECR_ENOMEM;
			break;
		}
		if ((rc = write_annotations(w, img)))
			break;
		if (ecr__jw_object_close(w))
			rc = ECR_ENOMEM;
	}
	ecr_image_iterator_free(it);
	if (rc == ECR_ITEROVER)
		rc = (ecr__jw_array_close(w) || ecr__jw_object_close(w) || ecr__jw_finish(w, &out)) ? ECR_ENOMEM : 0;
	ecr__jw_free(w);
	if (rc) {
		ecr_buf_dispose(&out);
		return oci_fail(r, rc, "digest");
	}
	struct MHD_Response *resp =
		ecr__http_response_buf(r, out.ptr, out.size, "application/vnd.oci.image.index.v1+json");
	ecr_buf_dispose(&out);
	if (lo.artifact_type)
		add_header(r, resp, "OCI-Filters-Applied", "artifactType");
	return ecr__http_queue(r, 200, resp);
}

/* --- dispatch --- */

/* Pulls of a repository under a pull-through cache rule may wait for the upstream registry: they finish on the
 * offload pool, so that their worker thread serves its other connections meanwhile. */
static enum MHD_Result manifest_get_job(http_request *r) { return manifest_get(r, false); }
static enum MHD_Result manifest_head_job(http_request *r) { return manifest_get(r, true); }
static enum MHD_Result blob_get_job(http_request *r) { return blob_get(r, false); }
static enum MHD_Result blob_head_job(http_request *r) { return blob_get(r, true); }

enum MHD_Result ecr__oci_begin(http_request *r)
{
	enum MHD_Result ret;
	if (!ecr__v2_authorize(r, &ret))
		return ret;
	switch (r->target.route) {
	case ROUTE_BASE:
		return base(r);
	case ROUTE_CATALOG:
		return catalog(r);
	case ROUTE_TAGS:
		return tags_list(r);
	case ROUTE_MANIFEST:
		if (method_is(r, "GET") || method_is(r, "HEAD")) {
			bool head = method_is(r, "HEAD");
			if (!r->expects_body && cache_covers(r))
				return ecr__http_offload(r, head ? manifest_head_job : manifest_get_job);
			return manifest_get(r, head);
		}
		if (method_is(r, "DELETE"))
			return r->expects_body ? manifest_delete(r) : ecr__http_offload(r, manifest_delete);
		if (method_is(r, "PUT")) {
			int rc = open_repo(r, true);
			if (rc)
				return fail_repo(r, rc);
			r->buffer_limit = ECR_MANIFEST_MAX_SIZE;
			return start_body(r, BODY_BUFFER);
		}
		return unsupported(r);
	case ROUTE_BLOB:
		if (method_is(r, "GET") || method_is(r, "HEAD")) {
			bool head = method_is(r, "HEAD");
			if (!r->expects_body && cache_covers(r))
				return ecr__http_offload(r, head ? blob_head_job : blob_get_job);
			return blob_get(r, head);
		}
		if (method_is(r, "DELETE"))
			return r->expects_body ? blob_delete(r) : ecr__http_offload(r, blob_delete);
		return unsupported(r);
	case ROUTE_UPLOADS:
		if (method_is(r, "POST"))
			return uploads_post(r);
		return unsupported(r);
	case ROUTE_UPLOAD:
		return upload_route(r);
	case ROUTE_REFERRERS:
		return referrers(r);
	case ROUTE_NONE:
	case ROUTE_ECR_API: /* never routed here */
	case ROUTE_GALLERY:
	case ROUTE_TOKEN:
	case ROUTE_METRICS:
		break;
	}
	return ecr__http_error(r, 404, "NOT_FOUND", "no such route");
}

enum MHD_Result ecr__oci_body(http_request *r, const char *data, size_t len)
{
	int rc;
	r->received += len;
	if (r->mode == BODY_BUFFER) {
		if (r->body.size + len > r->buffer_limit)
			return ecr__http_error(r, 413, "SIZE_INVALID", "the manifest is larger than 4 MiB");
		if ((rc = ecr__buf_put(&r->body, data, len)))
			return oci_fail(r, rc, "");
		return MHD_YES;
	}
	/* BODY_UPLOAD: hashed and written as it streams */
	uint64_t size = ecr_upload_size(r->upload);
	if (size + len > r->srv->max_blob_size)
		return ecr__http_error(r, 413, "SIZE_INVALID", "the blob is larger than this registry accepts");
	if ((rc = ecr_upload_write(r->upload, size, data, len))) {
		enum MHD_Result ret = oci_fail(r, rc, "upload");
		abandon_upload(r);
		return ret;
	}
	return MHD_YES;
}

/* The end of a blob upload with its digest: the blob is verified and made durable. */
static enum MHD_Result upload_commit(http_request *r)
{
	const char *digest = ecr__http_query(r, "digest");
	int rc = ecr_upload_commit(r->upload, digest);
	if (rc)
		abandon_upload(r);
	else
		release_upload(r);
	if (rc)
		return oci_fail(r, rc, "digest");
	return blob_created(r, digest);
}

/* The requests that end in a durable commit finish on the offload pool (ecr__http_offload): their worker thread
 * goes back to its other connections while the commit waits for its fsync. */
enum MHD_Result ecr__oci_finish(http_request *r)
{
	r->mode = BODY_NONE;
	switch (r->target.route) {
	case ROUTE_MANIFEST:
		return ecr__http_offload(r, manifest_put);
	case ROUTE_UPLOADS:
	case ROUTE_UPLOAD: {
		if (method_is(r, "PATCH") || !ecr__http_query(r, "digest")) {
			/* the Range answered must be in the staging object (large uploads are written in a pipeline) */
			int rc = ecr__upload_settle(r->upload);
			if (rc) {
				enum MHD_Result ret = oci_fail(r, rc, "upload");
				abandon_upload(r);
				return ret;
			}
			return upload_response(r, 202);
		}
		return ecr__http_offload(r, upload_commit);
	}
	default:
		return ecr__http_error(r, 500, "UNKNOWN", "unexpected request body");
	}
}
