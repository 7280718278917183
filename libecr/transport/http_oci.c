/*
 * The HTTP transport's OCI Distribution methods (the data plane): manifests,
 * blobs, upload sessions, tags and referrers over /v2/, as the OCI
 * distribution-spec v1.1 defines the routes. Every non-2xx answer fails
 * through ecr__http_status_error, so the codes are the local engine's.
 */
#include "http_transport.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/digest.h"
#include "../core/json.h"
#include "../oci/oci.h"

/* The manifest media types the library stores (Docker schema 1 is refused, so not asked for). */
#define ACCEPT_MANIFESTS                                                                                               \
	"Accept: " ECR__MT_OCI_MANIFEST ", " ECR__MT_OCI_INDEX ", " ECR__MT_DOCKER_MANIFEST_V2                         \
	", " ECR__MT_DOCKER_MANIFEST_LIST

#define TAGS_MAX_BODY (8u << 20)
#define REFERRERS_MAX_BODY (8u << 20)
#define REFERRERS_MAX_PAGES 1000
#define REFERRERS_MAX_TOTAL (64u << 20)

static ecr__http *data_client(ecr_transport *t)
{
	return ((ecr__http_transport *)t)->data;
}

/*
 * A session must be what upload_begin gave: a Location of this registry
 * under /v2/<repository>/blobs/uploads/ (as a path, or a URL of the registry's
 * own base). Anything else (another host, which would receive the
 * credentials; a bare upload id; another repository) is not a session of this
 * transport: ECR_EUPLOAD.
 */
static int check_session(ecr_transport *t, const char *repository, const char *session)
{
	const char *base = ecr__http_base_url(data_client(t)), *path = session;
	size_t blen = strlen(base);
	if (session && strncmp(session, base, blen) == 0 && session[blen] == '/')
		path = session + blen;
	if (path && path[0] == '/' && strncmp(path, "/v2/", 4) == 0) {
		size_t rlen = strlen(repository);
		if (strncmp(path + 4, repository, rlen) == 0 && strncmp(path + 4 + rlen, "/blobs/uploads/", 15) == 0 &&
			path[4 + rlen + 15] != '\0' && !strpbrk(path, "\r\n"))
			return 0;
	}
	return ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "'%.80s' is not an upload session of %s in the registry %s",
		session ? session : "", repository, base);
}

static const char *pull_scope(ecr_buf *b, const char *repository)
{
	ecr__buf_clear(b);
	return ecr__buf_printf(b, "repository:%s:pull", repository) ? NULL : b->ptr;
}

static const char *push_scope(ecr_buf *b, const char *repository)
{
	ecr__buf_clear(b);
	return ecr__buf_printf(b, "repository:%s:pull,push", repository) ? NULL : b->ptr;
}

/* Token services grant DELETE requests under their own action (docker-registry's token auth checks "delete"). */
static const char *delete_scope(ecr_buf *b, const char *repository)
{
	ecr__buf_clear(b);
	return ecr__buf_printf(b, "repository:%s:delete", repository) ? NULL : b->ptr;
}

/* Append s percent-encoded (everything but RFC 3986 unreserved characters). */
static int put_encoded(ecr_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		             *p == '-' || *p == '.' || *p == '_' || *p == '~';
		char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		if (plain ? ecr__buf_put(b, p, 1) : ecr__buf_put(b, enc, 3))
			return ECR_ENOMEM;
	}
	return 0;
}

/* session + "?"/"&" + key=<encoded value> (a Location may already have a query). */
static int session_with_query(ecr_buf *out, const char *session, const char *key, const char *value)
{
	ecr__buf_clear(out);
	if (ecr__buf_puts(out, session) || ecr__buf_puts(out, strchr(session, '?') ? "&" : "?") ||
	    ecr__buf_puts(out, key) || ecr__buf_puts(out, "="))
		return ECR_ENOMEM;
	return put_encoded(out, value);
}

static bool is_2xx(const ecr__http_response *res)
{
	return res->status >= 200 && res->status < 300;
}

/* The Content-Type without parameters or blanks. */
static int media_type_of(ecr_buf *out, const char *content_type)
{
	ecr__buf_clear(out);
	if (!content_type)
		return 0;
	const char *s = content_type, *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = strchr(s, ';');
	if (!e)
		e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return ecr__buf_put(out, s, (size_t)(e - s)) ? ECR_ENOMEM : 0;
}

/* The digest of data with the algorithm of like (a digest string; sha256 when NULL or unknown). */
static int digest_like(char *out, size_t outlen, const char *like, const void *data, size_t len)
{
	ecr__digest_alg alg = ECR__DIGEST_SHA256;
	const char *colon = like ? strchr(like, ':') : NULL;
	if (colon && ecr__digest_alg_from_name(&alg, like, (size_t)(colon - like)) != 0) {
		ecr__error_clear();
		alg = ECR__DIGEST_SHA256;
	}
	return ecr__digest_buf(out, outlen, alg, data, len);
}

static int manifest_path(ecr_buf *path, const char *repository, const char *reference)
{
	ecr__buf_clear(path);
	return ecr__buf_printf(path, "/v2/%s/manifests/%s", repository, reference) ? ECR_ENOMEM : 0;
}

static int blob_path(ecr_buf *path, const char *repository, const char *digest)
{
	ecr__buf_clear(path);
	return ecr__buf_printf(path, "/v2/%s/blobs/%s", repository, digest) ? ECR_ENOMEM : 0;
}

/* --- manifests --- */

static int http_manifest_get(ecr_buf *body, ecr_buf *media_type, ecr_buf *digest, ecr_transport *t,
                             const char *repository, const char *reference)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	static const char *const headers[] = {ACCEPT_MANIFESTS, NULL};
	char computed[ECR__DIGEST_STRLEN_MAX];
	bool by_digest = ecr__oci_is_digest(reference);
	int rc;

	if ((rc = manifest_path(&path, repository, reference)) || !pull_scope(&scope, repository) ||
	    ecr__buf_printf(&what, "manifest %s%s%s", repository, by_digest ? "@" : ":", reference)) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	req.method = "GET";
	req.path = path.ptr;
	req.headers = headers;
	req.max_body = ECR_MANIFEST_MAX_SIZE;
	req.scope = scope.ptr;
	if ((rc = ecr__http_do(&res, data_client(t), &req))) {
		if (rc == ECR_ELIMIT)
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_OCI, "%s: more than %d bytes", what.ptr,
			               ECR_MANIFEST_MAX_SIZE);
		goto done;
	}
	if (!is_2xx(&res)) {
		rc = ecr__http_status_error(&res, what.ptr);
		goto done;
	}
	if (res.body.size > ECR_MANIFEST_MAX_SIZE) {
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_OCI, "%s: more than %d bytes", what.ptr, ECR_MANIFEST_MAX_SIZE);
		goto done;
	}
	/* the digest of the bytes received, with the algorithm of the reference (or of the server's digest) */
	const char *like = by_digest ? reference : res.digest;
	if ((rc = digest_like(computed, sizeof(computed), like, res.body.ptr ? res.body.ptr : "", res.body.size)))
		goto done;
	if (by_digest && strcmp(computed, reference) != 0) {
		rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_OCI, "%s: the registry sent a manifest whose digest is %s",
		               what.ptr, computed);
		goto done;
	}
	if (res.digest && strcmp(res.digest, computed) != 0) {
		char other[ECR__DIGEST_STRLEN_MAX];
		/* a server digest of another algorithm than the reference's: check it with its own */
		if ((rc = digest_like(other, sizeof(other), res.digest, res.body.ptr ? res.body.ptr : "",
		                      res.body.size)))
			goto done;
		if (strcmp(other, res.digest) != 0) {
			rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_OCI,
			               "%s: the registry states digest %.140s but the manifest it sent has %s",
			               what.ptr, res.digest, computed);
			goto done;
		}
	}
	if (media_type && (rc = media_type_of(media_type, res.content_type)))
		goto done;
	if (media_type && media_type->size == 0) {
		/* no Content-Type: the manifest's own mediaType, if any */
		ecr__json *doc = NULL;
		if (ecr__json_parse(&doc, res.body.ptr ? res.body.ptr : "", res.body.size, NULL) == 0) {
			const char *mt = ecr__json_get_string(doc, "mediaType");
			if (mt && ecr__buf_puts(media_type, mt))
				rc = ECR_ENOMEM;
		} else {
			ecr__error_clear();
		}
		ecr__json_free(doc);
		if (rc)
			goto done;
	}
	if (digest) {
		ecr__buf_clear(digest);
		if (ecr__buf_puts(digest, computed)) {
			rc = ECR_ENOMEM;
			goto done;
		}
	}
	if (body) {
		ecr_buf_dispose(body);
		*body = res.body;
		memset(&res.body, 0, sizeof(res.body));
		if (!body->ptr && ecr__buf_puts(body, "")) {
			rc = ECR_ENOMEM;
			goto done;
		}
	}
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	return rc;
}

static int http_manifest_head(ecr_buf *media_type, ecr_buf *digest, uint64_t *size_out, ecr_transport *t,
                              const char *repository, const char *reference)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, body = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	static const char *const headers[] = {ACCEPT_MANIFESTS, NULL};
	bool by_digest = ecr__oci_is_digest(reference);
	int rc;

	if ((rc = manifest_path(&path, repository, reference)) || !pull_scope(&scope, repository)) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	req.method = "HEAD";
	req.path = path.ptr;
	req.headers = headers;
	req.scope = scope.ptr;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	const char *d = res.digest ? res.digest : by_digest ? reference : NULL;
	if (!is_2xx(&res) || !d || !res.content_length_known || (by_digest && strcmp(d, reference) != 0)) {
		/*
		 * A HEAD answer carries no error body (so no OCI code to tell a
		 * missing repository from a missing image) and may lack the digest:
		 * a GET says it all, and checks the digest of the bytes.
		 */
		rc = http_manifest_get(&body, media_type, digest, t, repository, reference);
		if (!rc && size_out)
			*size_out = body.size;
		goto done;
	}
	if (size_out)
		*size_out = res.content_length;
	if (media_type && (rc = media_type_of(media_type, res.content_type)))
		goto done;
	if (digest) {
		ecr__buf_clear(digest);
		if (ecr__buf_puts(digest, d))
			rc = ECR_ENOMEM;
	}
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&body);
	return rc;
}

static int http_manifest_put(ecr_buf *digest_out, ecr_transport *t, const char *repository, const char *reference,
                             const char *media_type, const void *body, size_t len)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, ct = ECR_BUF_INIT, what = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	char computed[ECR__DIGEST_STRLEN_MAX];
	int rc;

	if (len > ECR_MANIFEST_MAX_SIZE)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_OCI, "a manifest may have at most %d bytes",
		                 ECR_MANIFEST_MAX_SIZE);
	if ((rc = manifest_path(&path, repository, reference)) || !push_scope(&scope, repository) ||
	    ecr__buf_printf(&ct, "Content-Type: %s", media_type) ||
	    ecr__buf_printf(&what, "manifest %s%s%s", repository, ecr__oci_is_digest(reference) ? "@" : ":",
	                    reference)) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	const char *headers[] = {ct.ptr, NULL};
	req.method = "PUT";
	req.path = path.ptr;
	req.headers = headers;
	req.body = body;
	req.body_len = len;
	req.scope = scope.ptr;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	if (!is_2xx(&res)) {
		rc = ecr__http_status_error(&res, what.ptr);
		goto done;
	}
	const char *like = ecr__oci_is_digest(reference) ? reference : res.digest;
	if ((rc = digest_like(computed, sizeof(computed), like, body ? body : "", len)))
		goto done;
	if (res.digest && strcmp(res.digest, computed) != 0) {
		rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_OCI, "%s: the registry stored digest %.140s, the manifest has %s",
		               what.ptr, res.digest, computed);
		goto done;
	}
	if (digest_out) {
		ecr__buf_clear(digest_out);
		if (ecr__buf_puts(digest_out, computed))
			rc = ECR_ENOMEM;
	}
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&ct);
	ecr_buf_dispose(&what);
	return rc;
}

/* A body-less request on path, 2xx expected; otherwise the status error about what. */
static int simple_request(ecr_transport *t, const char *method, const char *path, const char *scope, const char *what,
                          ecr__http_response *res_out)
{
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	int rc;

	req.method = method;
	req.path = path;
	req.scope = scope;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	if (!is_2xx(&res))
		rc = ecr__http_status_error(&res, what);
done:
	if (!rc && res_out)
		*res_out = res;
	else
		ecr__http_response_dispose(&res);
	return rc;
}

static int http_manifest_delete(ecr_transport *t, const char *repository, const char *reference)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT;
	int rc;

	if ((rc = manifest_path(&path, repository, reference)) || !delete_scope(&scope, repository) ||
	    ecr__buf_printf(&what, "delete manifest %s%s%s", repository, ecr__oci_is_digest(reference) ? "@" : ":",
	                    reference))
		rc = rc ? rc : ECR_ENOMEM;
	else
		rc = simple_request(t, "DELETE", path.ptr, scope.ptr, what.ptr, NULL);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	return rc;
}

/* --- blobs --- */

static int http_blob_stat(uint64_t *size_out, ecr_transport *t, const char *repository, const char *digest)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	int rc;

	if ((rc = blob_path(&path, repository, digest)) || !pull_scope(&scope, repository)) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	req.method = "HEAD";
	req.path = path.ptr;
	req.scope = scope.ptr;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	if (res.status == 404) {
		/* as ecr_blob_stat answers locally */
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository %s has no blob %s", repository, digest);
		goto done;
	}
	if (!is_2xx(&res)) {
		/* a HEAD answer has no body to explain it: name the request (retries, if any, are spent) */
		ecr_buf what = ECR_BUF_INIT;
		rc = ecr__buf_printf(&what, "HEAD %s%s of blob %s", ecr__http_base_url(data_client(t)), path.ptr, digest);
		if (!rc)
			rc = ecr__http_status_error(&res, what.ptr);
		ecr_buf_dispose(&what);
		goto done;
	}
	if (!res.content_length_known) {
		rc =
		    ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "HEAD %s: the registry gave no Content-Length", path.ptr);
		goto done;
	}
	if (size_out)
		*size_out = res.content_length;
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	return rc;
}

typedef struct http_blob_stream {
	ecr_transport_stream base;
	ecr__http_stream *s;
} http_blob_stream;

static int blob_stream_read(ecr_transport_stream *s, void *buf, size_t len, size_t *nread_out)
{
	return ecr__http_stream_read(((http_blob_stream *)s)->s, buf, len, nread_out);
}

static void blob_stream_close(ecr_transport_stream *s)
{
	if (!s)
		return;
	ecr__http_stream_close(((http_blob_stream *)s)->s);
	ecr__free(s);
}

static int http_blob_open(ecr_transport_stream **out, uint64_t *size_out, ecr_transport *t, const char *repository,
                          const char *digest, uint64_t offset, uint64_t length)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT;
	http_blob_stream *bs = NULL;
	int rc;

	*out = NULL;
	if ((rc = blob_path(&path, repository, digest)) || !pull_scope(&scope, repository)) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	if (!(bs = ecr__calloc(1, sizeof(*bs)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	bs->base.version = ECR_TRANSPORT_STREAM_VERSION;
	bs->base.read = blob_stream_read;
	bs->base.close = blob_stream_close;
	if ((rc = ecr__http_stream_open(&bs->s, size_out, data_client(t), path.ptr, scope.ptr, offset, length)))
		goto done;
	*out = &bs->base;
	bs = NULL;
done:
	ecr__free(bs);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	return rc;
}

/* PUT data to a session with ?digest= (the end of a monolithic or chunked upload). */
static int put_to_session(ecr_transport *t, const char *repository, const char *session, const char *digest,
                          const void *data, size_t len)
{
	ecr_buf url = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	static const char *const headers[] = {"Content-Type: application/octet-stream", NULL};
	int rc;

	if ((rc = session_with_query(&url, session, "digest", digest)) || !push_scope(&scope, repository) ||
	    ecr__buf_printf(&what, "blob upload %s of %s", digest, repository)) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	req.method = "PUT";
	req.path = url.ptr;
	req.headers = len ? headers : NULL;
	req.body = data;
	req.body_len = len;
	req.scope = scope.ptr;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	if (!is_2xx(&res))
		rc = ecr__http_status_error(&res, what.ptr);
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&url);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	return rc;
}

static int http_blob_put(ecr_transport *t, const char *repository, const char *digest, const void *data, size_t len)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	static const char *const headers[] = {"Content-Type: application/octet-stream", NULL};
	int rc;

	if (ecr__buf_printf(&path, "/v2/%s/blobs/uploads/?digest=", repository) || put_encoded(&path, digest) ||
	    !push_scope(&scope, repository) || ecr__buf_printf(&what, "blob upload %s of %s", digest, repository)) {
		rc = ECR_ENOMEM;
		goto done;
	}
	req.method = "POST";
	req.path = path.ptr;
	req.headers = headers;
	req.body = data;
	req.body_len = len;
	req.scope = scope.ptr;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	if (res.status == 201)
		goto done;
	if (res.status == 202) {
		/* the registry opened a session instead of taking the body (docker-registry does): PUT it there */
		if (!res.location) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: 202 without a Location", what.ptr);
			goto done;
		}
		rc = put_to_session(t, repository, res.location, digest, data, len);
		goto done;
	}
	rc = ecr__http_status_error(&res, what.ptr);
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	return rc;
}

static int http_upload_cancel(ecr_transport *t, const char *repository, const char *session);

static int http_blob_mount(ecr_transport *t, const char *repository, const char *from, const char *digest)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	int rc;

	if (ecr__buf_printf(&path, "/v2/%s/blobs/uploads/?mount=", repository) || put_encoded(&path, digest) ||
	    ecr__buf_puts(&path, "&from=") || put_encoded(&path, from) || !push_scope(&scope, repository) ||
	    ecr__buf_printf(&what, "mount of blob %s from %s into %s", digest, from, repository)) {
		rc = ECR_ENOMEM;
		goto done;
	}
	req.method = "POST";
	req.path = path.ptr;
	req.scope = scope.ptr;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	if (res.status == 201)
		goto done;
	if (res.status == 202) {
		/* not mounted: the registry opened an upload session instead; close it */
		if (res.location && http_upload_cancel(t, repository, res.location) != 0)
			ecr__error_clear();
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY,
		               "the registry did not mount blob %s from %s into %s", digest, from, repository);
		goto done;
	}
	rc = ecr__http_status_error(&res, what.ptr);
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	return rc;
}

static int http_blob_delete(ecr_transport *t, const char *repository, const char *digest)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT;
	int rc;

	if ((rc = blob_path(&path, repository, digest)) || !delete_scope(&scope, repository) ||
	    ecr__buf_printf(&what, "delete blob %s of %s", digest, repository))
		rc = rc ? rc : ECR_ENOMEM;
	else
		rc = simple_request(t, "DELETE", path.ptr, scope.ptr, what.ptr, NULL);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	return rc;
}

/* --- upload sessions --- */

static int http_upload_begin(ecr_buf *session_out, ecr_transport *t, const char *repository)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT;
	ecr__http_response res = {0};
	int rc;

	if (ecr__buf_printf(&path, "/v2/%s/blobs/uploads/", repository) || !push_scope(&scope, repository) ||
	    ecr__buf_printf(&what, "blob upload to %s", repository)) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = simple_request(t, "POST", path.ptr, scope.ptr, what.ptr, &res)))
		goto done;
	if (res.status != 202 || !res.location) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the registry answered %ld%s", what.ptr, res.status,
		               res.location ? "" : " without a Location");
		goto done;
	}
	ecr__buf_clear(session_out);
	if (ecr__buf_puts(session_out, res.location))
		rc = ECR_ENOMEM;
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	return rc;
}

/* The N of a Range "0-N" (or "bytes=0-N"). */
static int range_end(uint64_t *end_out, const char *range)
{
	const char *s = range;
	if (strncmp(s, "bytes=", 6) == 0)
		s += 6;
	if (s[0] != '0' || s[1] != '-')
		return ECR_EINVALID;
	s += 2;
	uint64_t end = 0;
	if (!*s)
		return ECR_EINVALID;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || end > (UINT64_MAX - 9) / 10)
			return ECR_EINVALID;
		end = end * 10 + (uint64_t)(*s - '0');
	}
	*end_out = end;
	return 0;
}

/*
 * The size of a session from its Range: "0-N" -> N+1; "0-0" and no Range ->
 * 0. docker-registry and ecrd both send "0-0" for an empty session, and also
 * for a session of one byte: the ambiguity is the protocol's; an empty
 * session is by far the likelier (a one-byte session then looks empty, and a
 * write at offset 0 fails with ECR_ERANGE rather than corrupting anything).
 */
static int parse_range(uint64_t *size_out, const char *range)
{
	uint64_t end = 0;
	*size_out = 0;
	if (!range)
		return 0;
	if (range_end(&end, range))
		return ECR_EINVALID;
	*size_out = end ? end + 1 : 0;
	return 0;
}

static int upload_status_error(const ecr__http_response *res, const char *repository)
{
	if (res->status == 404 && res->body.size == 0)
		return ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "the upload session of %s is unknown or expired",
		                 repository);
	return ecr__http_status_error(res, "blob upload session");
}

/* A body-less request on an upload session (GET: its status, DELETE: cancel it), 2xx expected, otherwise the
 * session's error; *res is the caller's to dispose in every case. */
static int session_request(ecr__http_response *res, ecr_transport *t, const char *method, const char *repository,
                           const char *session)
{
	ecr_buf scope = ECR_BUF_INIT;
	ecr__http_request req = {0};
	int rc;

	if ((rc = check_session(t, repository, session)))
		return rc;
	if (!push_scope(&scope, repository))
		return ECR_ENOMEM;
	req.method = method;
	req.path = session;
	req.scope = scope.ptr;
	req.max_body = 64 * 1024;
	if (!(rc = ecr__http_do(res, data_client(t), &req)) && !is_2xx(res))
		rc = upload_status_error(res, repository);
	ecr_buf_dispose(&scope);
	return rc;
}

static int http_upload_status(uint64_t *size_out, ecr_transport *t, const char *repository, const char *session)
{
	ecr__http_response res = {0};
	uint64_t size;
	int rc;

	if ((rc = session_request(&res, t, "GET", repository, session)))
		goto done;
	if (parse_range(&size, res.range)) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "upload session of %s: malformed Range %.64s",
		               repository, res.range);
		goto done;
	}
	if (size_out)
		*size_out = size;
done:
	ecr__http_response_dispose(&res);
	return rc;
}

static int http_upload_write(ecr_buf *session, ecr_transport *t, const char *repository, uint64_t offset,
                             const void *data, size_t len)
{
	ecr_buf scope = ECR_BUF_INIT, range = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	int rc;

	if (len == 0)
		return 0;
	if (offset > UINT64_MAX - len)
		return ecr__fail(ECR_ERANGE, ECR_ERROR_UPLOAD, "upload range %" PRIu64 "+%zu overflows", offset, len);
	if (!session->ptr || !session->size)
		return ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "no upload session");
	if ((rc = check_session(t, repository, session->ptr)))
		return rc;
	if (!push_scope(&scope, repository) ||
	    ecr__buf_printf(&range, "Content-Range: %" PRIu64 "-%" PRIu64, offset, offset + (uint64_t)len - 1)) {
		rc = ECR_ENOMEM;
		goto done;
	}
	const char *headers[] = {"Content-Type: application/octet-stream", range.ptr, NULL};
	req.method = "PATCH";
	req.path = session->ptr;
	req.headers = headers;
	req.body = data; /* sent from the caller's memory, no copy */
	req.body_len = len;
	req.scope = scope.ptr;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	if (res.status == 416) {
		rc = ecr__fail(ECR_ERANGE, ECR_ERROR_UPLOAD,
		               "upload to %s: offset %" PRIu64 " is not the session's size", repository, offset);
		goto done;
	}
	if (!is_2xx(&res)) {
		rc = upload_status_error(&res, repository);
		goto done;
	}
	/* the new handle first: a session gone wrong can still be cancelled with it */
	if (res.location) {
		ecr__buf_clear(session);
		if (ecr__buf_puts(session, res.location)) {
			rc = ECR_ENOMEM;
			goto done;
		}
	}
	/*
	 * A registry that ignores Content-Range (docker-registry 2.8 appends
	 * whatever the offset) shows it in the Range it answers with: the
	 * session then holds bytes at the wrong place and cannot be committed.
	 */
	uint64_t end;
	if (res.range && range_end(&end, res.range) == 0 && end != offset + (uint64_t)len - 1) {
		rc = ecr__fail(ECR_ERANGE, ECR_ERROR_UPLOAD,
		               "upload to %s: the registry appended %zu bytes at another offset than %" PRIu64
		               " (it now holds 0-%" PRIu64 "); start the upload again",
		               repository, len, offset, end);
		goto done;
	}
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&range);
	return rc;
}

static int http_upload_commit(ecr_transport *t, const char *repository, const char *session, const char *digest)
{
	int rc = check_session(t, repository, session);
	return rc ? rc : put_to_session(t, repository, session, digest, NULL, 0);
}

static int http_upload_cancel(ecr_transport *t, const char *repository, const char *session)
{
	ecr__http_response res = {0};
	int rc = session_request(&res, t, "DELETE", repository, session);
	ecr__http_response_dispose(&res);
	return rc;
}

/* --- tags and referrers --- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Registries that ignore n and last (docker-registry 2.8 answers every tag
 * at once) get paged here: the tags after last, in lexical order, at most n,
 * with *more set when some were left out. A body already within the request
 * is left as it is.
 */
static int page_tags(ecr_buf *body, int *more, const char *last, unsigned int n)
{
	ecr__json *doc = NULL;
	const char **tags = NULL;
	size_t count = 0;
	ecr__jw *w = NULL;
	ecr__json_limits lim = {TAGS_MAX_BODY, 8, 1000000, 1u << 20};
	int rc = 0;

	if (!body->size || ecr__json_parse(&doc, body->ptr, body->size, &lim) != 0) {
		ecr__error_clear();
		goto done; /* not ours to judge: the caller parses it */
	}
	const ecr__json *arr = ecr__json_get(doc, "tags");
	if (!arr || arr->type != ECR__JSON_ARRAY)
		goto done;
	bool need = n && arr->count > n;
	for (size_t i = 0; i < arr->count && !need; i++) {
		const ecr__json *v = arr->values[i];
		need = v->type == ECR__JSON_STRING && ((last && *last && strcmp(v->string, last) <= 0) ||
		                                       (i > 0 && arr->values[i - 1]->type == ECR__JSON_STRING &&
		                                        strcmp(arr->values[i - 1]->string, v->string) > 0));
	}
	if (!need)
		goto done;
	if (!(tags = ecr__calloc(arr->count ? arr->count : 1, sizeof(*tags)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < arr->count; i++) {
		const ecr__json *v = arr->values[i];
		if (v->type == ECR__JSON_STRING && !(last && *last && strcmp(v->string, last) <= 0))
			tags[count++] = v->string;
	}
	qsort(tags, count, sizeof(*tags), cmp_str);
	if (n && count > n) {
		count = n;
		if (more)
			*more = 1;
	}
	const char *name = ecr__json_get_string(doc, "name");
	if ((rc = ecr__jw_new(&w)) || ecr__jw_object_open(w) || ecr__jw_key(w, "name") ||
	    ecr__jw_string(w, name ? name : "") || ecr__jw_key(w, "tags") || ecr__jw_array_open(w)) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < count; i++)
		if (ecr__jw_string(w, tags[i])) {
			rc = ECR_ENOMEM;
			goto done;
		}
	if (ecr__jw_array_close(w) || ecr__jw_object_close(w)) {
		rc = ECR_ENOMEM;
		goto done;
	}
	ecr__buf_clear(body);
	if (ecr__jw_finish(w, body))
		rc = ECR_ENOMEM;
done:
	ecr__jw_free(w);
	ecr__free(tags);
	ecr__json_free(doc);
	return rc;
}

static int http_tags_list(ecr_buf *json_out, int *more_out, ecr_transport *t, const char *repository, const char *last,
                          unsigned int n)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT;
	ecr__http_response res = {0};
	ecr__http_request req = {0};
	int rc = 0;

	if (more_out)
		*more_out = 0;
	if (ecr__buf_printf(&path, "/v2/%s/tags/list", repository) || !pull_scope(&scope, repository) ||
	    ecr__buf_printf(&what, "tags of %s", repository))
		rc = ECR_ENOMEM;
	if (!rc && n && ecr__buf_printf(&path, "?n=%u", n))
		rc = ECR_ENOMEM;
	if (!rc && last && *last && (ecr__buf_puts(&path, n ? "&last=" : "?last=") || put_encoded(&path, last)))
		rc = ECR_ENOMEM;
	if (rc)
		goto done;
	req.method = "GET";
	req.path = path.ptr;
	req.scope = scope.ptr;
	req.max_body = TAGS_MAX_BODY;
	if ((rc = ecr__http_do(&res, data_client(t), &req)))
		goto done;
	if (!is_2xx(&res)) {
		rc = ecr__http_status_error(&res, what.ptr);
		goto done;
	}
	if (more_out)
		*more_out = res.link != NULL;
	if ((rc = page_tags(&res.body, more_out, last, n)))
		goto done;
	ecr_buf_dispose(json_out);
	*json_out = res.body;
	memset(&res.body, 0, sizeof(res.body));
	if (!json_out->ptr && ecr__buf_puts(json_out, "{}"))
		rc = ECR_ENOMEM;
done:
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	return rc;
}

static bool is_oci_error_body(const ecr_buf *body)
{
	ecr__json *doc = NULL;
	bool yes = false;
	if (body->size && ecr__json_parse(&doc, body->ptr, body->size, NULL) == 0) {
		const ecr__json *errs = ecr__json_get(doc, "errors");
		yes = errs && errs->type == ECR__JSON_ARRAY && errs->count > 0;
	}
	ecr__error_clear();
	ecr__json_free(doc);
	return yes;
}

static int http_referrers(ecr_buf *index_out, ecr_transport *t, const char *repository, const char *digest,
                          const char *artifact_type)
{
	ecr_buf path = ECR_BUF_INIT, scope = ECR_BUF_INIT, what = ECR_BUF_INIT, next = ECR_BUF_INIT;
	ecr__json **pages = NULL;
	size_t npages = 0, total = 0;
	ecr__jw *w = NULL;
	int rc = 0;

	if (ecr__buf_printf(&path, "/v2/%s/referrers/%s", repository, digest) || !pull_scope(&scope, repository) ||
	    ecr__buf_printf(&what, "referrers of %s in %s", digest, repository) ||
	    (artifact_type && (ecr__buf_puts(&path, "?artifactType=") || put_encoded(&path, artifact_type)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	const char *url = path.ptr;
	while (url) {
		ecr__http_response res = {0};
		ecr__http_request req = {0};
		ecr__json *doc = NULL;

		if (npages >= REFERRERS_MAX_PAGES) {
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_TRANSPORT, "%s: more than %d pages", what.ptr,
			               REFERRERS_MAX_PAGES);
			goto done;
		}
		req.method = "GET";
		req.path = url;
		req.scope = scope.ptr;
		req.max_body = REFERRERS_MAX_BODY;
		rc = ecr__http_do(&res, data_client(t), &req);
		if (!rc && res.status == 404 && npages == 0 && !is_oci_error_body(&res.body))
			rc = ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_TRANSPORT,
			               "%s: the registry has no referrers API (404 without an OCI error)", what.ptr);
		else if (!rc && !is_2xx(&res))
			rc = ecr__http_status_error(&res, what.ptr);
		if (!rc && (ecr__add_overflow(total, res.body.size, &total) || total > REFERRERS_MAX_TOTAL))
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_TRANSPORT, "%s: more than %u bytes", what.ptr,
			               REFERRERS_MAX_TOTAL);
		if (!rc) {
			ecr__json_limits lim = {REFERRERS_MAX_BODY, 64, 1000000, 1u << 20};
			rc = ecr__json_parse(&doc, res.body.ptr ? res.body.ptr : "", res.body.size, &lim);
		}
		if (!rc &&
		    (doc->type != ECR__JSON_OBJECT ||
		     (ecr__json_get(doc, "manifests") && ecr__json_get(doc, "manifests")->type != ECR__JSON_ARRAY)))
			rc =
			    ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the answer is not an image index", what.ptr);
		ecr__json **grown = rc ? NULL : ecr__realloc(pages, (npages + 1) * sizeof(*pages));
		if (!rc && !grown)
			rc = ECR_ENOMEM;
		if (rc) {
			ecr__json_free(doc);
			ecr__http_response_dispose(&res);
			goto done;
		}
		pages = grown;
		pages[npages++] = doc;
		url = NULL;
		if (res.link) {
			ecr__buf_clear(&next);
			if (ecr__buf_puts(&next, res.link)) {
				ecr__http_response_dispose(&res);
				rc = ECR_ENOMEM;
				goto done;
			}
			url = next.ptr;
		}
		ecr__http_response_dispose(&res);
	}

	/* one index of every page's manifests (filtered here too: a registry may ignore artifactType) */
	if ((rc = ecr__jw_new(&w)) || ecr__jw_object_open(w) || ecr__jw_key(w, "schemaVersion") || ecr__jw_int(w, 2) ||
	    ecr__jw_key(w, "mediaType") || ecr__jw_string(w, ECR__MT_OCI_INDEX) || ecr__jw_key(w, "manifests") ||
	    ecr__jw_array_open(w)) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	for (size_t p = 0; p < npages; p++) {
		const ecr__json *m = ecr__json_get(pages[p], "manifests");
		for (size_t i = 0; m && i < m->count; i++) {
			const ecr__json *d = m->values[i];
			if (artifact_type) {
				const char *at = ecr__json_get_string(d, "artifactType");
				if (!at || strcmp(at, artifact_type) != 0)
					continue;
			}
			if ((rc = ecr__jw_value(w, d)))
				goto done;
		}
	}
	if (ecr__jw_array_close(w) || ecr__jw_object_close(w)) {
		rc = ECR_ENOMEM;
		goto done;
	}
	ecr__buf_clear(index_out);
	if (ecr__jw_finish(w, index_out))
		rc = ECR_ENOMEM;
done:
	for (size_t p = 0; p < npages; p++)
		ecr__json_free(pages[p]);
	ecr__free(pages);
	ecr__jw_free(w);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&scope);
	ecr_buf_dispose(&what);
	ecr_buf_dispose(&next);
	return rc;
}

void ecr__http_oci_install(ecr_transport *t)
{
	t->manifest_get = http_manifest_get;
	t->manifest_head = http_manifest_head;
	t->manifest_put = http_manifest_put;
	t->manifest_delete = http_manifest_delete;
	t->blob_stat = http_blob_stat;
	t->blob_open = http_blob_open;
	t->blob_put = http_blob_put;
	t->blob_mount = http_blob_mount;
	t->blob_delete = http_blob_delete;
	t->upload_begin = http_upload_begin;
	t->upload_status = http_upload_status;
	t->upload_write = http_upload_write;
	t->upload_commit = http_upload_commit;
	t->upload_cancel = http_upload_cancel;
	t->tags_list = http_tags_list;
	t->referrers = http_referrers;
}
