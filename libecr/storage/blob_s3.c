/* The S3 blob store (libcurl, SigV4; no AWS SDK).
 *
 * Layout under "<prefix>" in the bucket:
 *   blobs/<alg>/<hex>       published blobs (complete, immutable)
 *   stages/<id>.json        the state of an upload stage (see below)
 *   stages/<id>.tail        the stage's bytes not yet in a part (< one part)
 *   uploads/<id>            the key of the stage's S3 multipart upload
 *
 * A stage is an S3 multipart upload: a writer buffers up to one part
 * (S3_PART_SIZE, a multiple of 64) in memory and uploads each full part.
 * Its state (upload id, parts and their ETags, the SHA-256 state after the
 * last part) is kept in stages/<id>.json, so any process can reopen the
 * stage: S3 cannot read the parts of an unfinished multipart upload back, so
 * instead of hashing them again the SHA-256 "midstate" (8 words and the byte
 * count, which is exactly the hash state at a part boundary) is saved after
 * each part, and the tail (bytes after the last part) is saved as its own
 * object when the writer is closed. Reopening = load midstate + hash the tail.
 * A sha512 commit of a stage with parts hashes the completed staging object
 * again (one streaming read).
 *
 * Commit: check the digest, complete the multipart upload into uploads/<id>,
 * publish it by a server-side copy to blobs/<alg>/<hex> (a copy is atomic: a
 * reader never sees a partial blob), delete the staging objects. A stage of
 * less than one part is published by one PUT of the buffer with
 * "If-None-Match: *". Publishing a digest that exists already is a no-op.
 *
 * Writers claim a stage (an owner token and a generation in its state, with
 * a lease): a writer whose stage was claimed by another writer since it was
 * opened, or that opened a stage while another writer held a live claim, is
 * refused at commit (ECR_EIO), so bytes never hashed by one writer cannot be
 * published by it.
 *
 * The store has no mutable state but its pool of idle curl handles (under a
 * mutex): any number of threads may call it at once. */
#include "../core/core.h"
#include "blob_common.h"

#include "../core/lazy_curl.h"

#include "../auth/auth.h"
#include "../core/crypto.h"
#include "../core/json.h"
#include "../core/timeutil.h"
#include "../transport/http_transport.h"

#include <mbedtls/sha256.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Part size: >= 5 MiB (S3's minimum but for the last part), a multiple of 64. */
#define S3_PART_SIZE ((size_t)8 * 1024 * 1024)
#define S3_MAX_PARTS 10000
/* Reads are ranged GETs of this much. */
#define S3_READ_WINDOW ((size_t)4 * 1024 * 1024)
/* The most an error, state or listing body may hold. */
#define S3_MAX_SMALL_BODY ((size_t)4 * 1024 * 1024)
/* A claim on a stage younger than this makes a second writer's commit fail. */
#define S3_LEASE_MS ((int64_t)60 * 1000)
#define S3_RETRIES 5
#define S3_IDLE_HANDLES 16
/* CopyObject's limit; larger stages are published part by part (UploadPartCopy). */
#define S3_COPY_MAX ((uint64_t)5 * 1024 * 1024 * 1024)

typedef struct s3_store {
	ecr_blob_store base;
	char *scheme_host; /* "http://127.0.0.1:8000" (path style) or "https://bucket.host" (virtual hosted) */
	char *host;        /* the Host header */
	char *bucket;
	char *prefix;      /* "" or "a/b/" */
	char *region;
	bool path_style;
	ecr__aws_creds creds;
	pthread_mutex_t lock;
	CURL *idle[S3_IDLE_HANDLES];
	size_t nidle;
} s3_store;

typedef struct s3_part {
	int n;
	char etag[96];
	uint64_t size;
} s3_part;

typedef struct s3_writer {
	ecr_blob_store_writer base;
	s3_store *s;
	char id[ECR__BLOB_STAGE_ID_MAX + 1];
	char token[33];
	char *upload_id; /* NULL until the first part */
	s3_part *parts;
	size_t nparts;
	uint64_t parts_bytes;
	mbedtls_sha256_context sha; /* over every byte: the parts, then buf */
	uint32_t mid[8];            /* the SHA-256 state right after the last part */
	unsigned char *buf;         /* S3_PART_SIZE bytes once written to */
	size_t buflen;
	bool tail_dirty;            /* buf differs from the saved tail */
	int64_t gen;                /* the state's generation this writer wrote last */
	bool contended;             /* opened while another writer held the stage */
	bool done;                  /* committed or discarded */
} s3_writer;

typedef struct s3_reader {
	ecr_blob_store_reader base;
	s3_store *s;
	char *key;
	uint64_t pos;        /* of the next byte to return */
	unsigned char *win;  /* bytes [win_at, win_at + win_len) */
	uint64_t win_at;
	size_t win_len;
} s3_reader;

/* --- HTTP --- */

typedef struct s3_res {
	long status;
	ecr_buf body;
	size_t max_body;
	unsigned char *dst; /* when set, the body goes here (at most dst_cap bytes) */
	size_t dst_cap, dst_len;
	char etag[96];
	uint64_t length;
	bool has_length;
	uint64_t total; /* from Content-Range */
	bool has_total;
	bool overflow;
} s3_res;

static void s3_res_reset(s3_res *r)
{
	ecr__buf_clear(&r->body);
	r->status = 0;
	r->dst_len = 0;
	r->etag[0] = '\0';
	r->has_length = r->has_total = r->overflow = false;
	r->length = r->total = 0;
}

static size_t s3_on_body(char *p, size_t sz, size_t n, void *ud)
{
	s3_res *r = ud;
	size_t len = sz * n;
	if (r->dst && r->status / 100 == 2) {
		if (len > r->dst_cap - r->dst_len) {
			r->overflow = true;
			return 0;
		}
		memcpy(r->dst + r->dst_len, p, len);
		r->dst_len += len;
		return len;
	}
	if (len > r->max_body - r->body.size) {
		r->overflow = true;
		return 0;
	}
	return ecr__buf_put(&r->body, p, len) == 0 ? len : 0;
}

static bool s3_header_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	line += nl + 1;
	len -= nl + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	*val = line;
	*vlen = len;
	return true;
}

static size_t s3_on_header(char *p, size_t sz, size_t n, void *ud)
{
	s3_res *r = ud;
	size_t len = sz * n, vlen;
	const char *v;
	char tmp[64];

	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', len);
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->etag[0] = '\0';
		r->has_length = r->has_total = false;
	} else if (s3_header_is(p, len, "etag", &v, &vlen)) {
		if (vlen < sizeof(r->etag)) {
			memcpy(r->etag, v, vlen);
			r->etag[vlen] = '\0';
		}
	} else if (s3_header_is(p, len, "content-length", &v, &vlen) && vlen < sizeof(tmp)) {
		memcpy(tmp, v, vlen);
		tmp[vlen] = '\0';
		r->length = strtoull(tmp, NULL, 10);
		r->has_length = true;
	} else if (s3_header_is(p, len, "content-range", &v, &vlen) && vlen < sizeof(tmp)) {
		const char *slash;
		memcpy(tmp, v, vlen);
		tmp[vlen] = '\0';
		if ((slash = strchr(tmp, '/')) && slash[1] >= '0' && slash[1] <= '9') {
			r->total = strtoull(slash + 1, NULL, 10);
			r->has_total = true;
		}
	}
	return len;
}

/* Append s percent-encoded as SigV4 wants (unreserved kept; '/' kept when keep_slash). */
static int s3_uri_encode(ecr_buf *out, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;
	for (; *s && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			c == '.' || c == '~' || (c == '/' && keep_slash)) {
			rc = ecr__buf_put(out, s, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			rc = ecr__buf_put(out, e, 3);
		}
	}
	return rc;
}

static CURL *s3_handle_get(s3_store *s)
{
	CURL *c = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->nidle)
		c = s->idle[--s->nidle];
	pthread_mutex_unlock(&s->lock);
	if (c)
		curl_easy_reset(c);
	else
		c = curl_easy_init();
	return c;
}

static void s3_handle_put(s3_store *s, CURL *c)
{
	pthread_mutex_lock(&s->lock);
	if (s->nidle < S3_IDLE_HANDLES) {
		s->idle[s->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (c)
		curl_easy_cleanup(c);
}

typedef struct s3_req {
	const char *method;
	const char *key;   /* the object's key (prefix included), or NULL for the bucket */
	const char *query; /* encoded, or NULL */
	const ecr_http_header *extra; /* more headers, signed too */
	size_t nextra;
	const void *body;
	size_t body_len;
} s3_req;

static bool s3_retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
		return true;
	default:
		return false;
	}
}

static void s3_backoff(int attempt)
{
	unsigned int r = 0;
	long ms = 100L << attempt;
	struct timespec ts;
	if (ms > 3000)
		ms = 3000;
	(void)ecr__random_bytes(&r, sizeof(r));
	ms += (long)(r % 100);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* Perform a signed request with retries. Returns 0 whatever the final status
 * (res->status); ECR_EIO when the server cannot be reached (or a body is too
 * large). */
/* The encoded request path of key (NULL: the bucket): "/bucket/key" (path style) or "/key". */
static int s3_path(ecr_buf *path, s3_store *s, const char *key)
{
	int rc;
	if ((rc = ecr__buf_puts(path, "/")) || (s->path_style && ((rc = s3_uri_encode(path, s->bucket, false)) ||
		(key && (rc = ecr__buf_puts(path, "/"))))) || (key && (rc = s3_uri_encode(path, key, true))))
		return rc;
	return 0;
}

static int s3_do(s3_store *s, const s3_req *q, s3_res *res)
{
	ecr_buf url = ECR_BUF_INIT, path = ECR_BUF_INIT, authz = ECR_BUF_INIT, line = ECR_BUF_INIT;
	char amz[20], sha[ECR__DIGEST_STRLEN_MAX];
	ecr_http_header h[16];
	struct curl_slist *hl = NULL;
	CURL *c = NULL;
	CURLcode cc = CURLE_OK;
	size_t nh, i;
	int rc, attempt;

	if (q->nextra > 10)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3: too many headers");
	if (!res->max_body)
		res->max_body = S3_MAX_SMALL_BODY;
	if ((rc = s3_path(&path, s, q->key)))
		goto done;
	if ((rc = ecr__buf_printf(&url, "%s%s%s%s", s->scheme_host, path.ptr, q->query ? "?" : "",
		q->query ? q->query : "")))
		goto done;
	if ((rc = ecr__digest_buf(sha, sizeof(sha), ECR__DIGEST_SHA256, q->body ? q->body : "", q->body_len)))
		goto done;
	if (!(c = s3_handle_get(s))) {
		rc = ecr__fail(ECR_ENOMEM, ECR_ERROR_NOMEMORY, "s3: cannot create a curl handle");
		goto done;
	}

	for (attempt = 0;; attempt++) {
		time_t now = (time_t)(ecr__time_now_ms() / 1000);
		struct tm tm;
		ecr_sigv4_request sreq = ECR_SIGV4_REQUEST_INIT;

		s3_res_reset(res);
		curl_slist_free_all(hl);
		hl = NULL;
		ecr__buf_clear(&authz);
		if (!gmtime_r(&now, &tm) || strftime(amz, sizeof(amz), "%Y%m%dT%H%M%SZ", &tm) != 16) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "s3: cannot format the date");
			goto done;
		}
		nh = 0;
		h[nh++] = (ecr_http_header){ "Host", s->host };
		h[nh++] = (ecr_http_header){ "X-Amz-Date", amz };
		h[nh++] = (ecr_http_header){ "X-Amz-Content-Sha256", sha + 7 };
		if (s->creds.session_token)
			h[nh++] = (ecr_http_header){ "X-Amz-Security-Token", s->creds.session_token };
		for (i = 0; i < q->nextra; i++)
			h[nh++] = q->extra[i];
		sreq.method = q->method;
		sreq.path = path.ptr;
		sreq.query = q->query;
		sreq.headers = h;
		sreq.headers_count = nh;
		sreq.payload_sha256 = sha + 7;
		sreq.service = "s3";
		if ((rc = ecr__sigv4_sign(&authz, &sreq, s->creds.access_key_id, s->creds.secret_access_key, s->region)))
			goto done;
		for (i = 0; i <= nh; i++) {
			struct curl_slist *nl;
			ecr__buf_clear(&line);
			if (i < nh)
				rc = ecr__buf_printf(&line, "%s: %s", h[i].name, h[i].value);
			else
				rc = ecr__buf_printf(&line, "Authorization: %s", authz.ptr);
			if (rc)
				goto done;
			if (!(nl = curl_slist_append(hl, line.ptr))) {
				rc = ecr__fail(ECR_ENOMEM, ECR_ERROR_NOMEMORY, "s3: out of memory");
				goto done;
			}
			hl = nl;
		}
		{
			struct curl_slist *nl = curl_slist_append(hl, "Expect:");
			if (nl)
				hl = nl;
			if (nl && q->body && (nl = curl_slist_append(hl, "Content-Type:")))
				hl = nl;
		}
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, url.ptr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3_on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, res);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s3_on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, res);
		if (strcmp(q->method, "HEAD") == 0) {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (q->body) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body_len ? q->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
		} else if (strcmp(q->method, "GET") != 0) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
		}
		cc = curl_easy_perform(c);
		if (cc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
		if (res->overflow) {
			rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: %s %s: the response is larger than expected",
				q->method, path.ptr);
			goto done;
		}
		if (cc == CURLE_OK && res->status != 429 && res->status != 500 && res->status != 502 &&
			res->status != 503 && res->status != 504)
			break;
		if (cc != CURLE_OK && !s3_retryable_curl(cc)) {
			rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: %s %s: %s", q->method, url.ptr,
				curl_easy_strerror(cc));
			goto done;
		}
		if (attempt + 1 >= S3_RETRIES) {
			if (cc != CURLE_OK)
				rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: %s %s: %s (after %d attempts)", q->method,
					url.ptr, curl_easy_strerror(cc), S3_RETRIES);
			break; /* the caller reports the status */
		}
		s3_backoff(attempt);
	}
done:
	if (c)
		s3_handle_put(s, c);
	curl_slist_free_all(hl);
	ecr_buf_dispose(&url);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&authz);
	ecr_buf_dispose(&line);
	return rc;
}

/* The text of <tag>...</tag> found in [*p, end), advancing *p past it. */
static bool s3_xml_next(const char **p, const char *end, const char *tag, const char **val, size_t *len)
{
	char open[64], close_[64];
	size_t ol, cl;
	const char *a, *b;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close_, sizeof(close_), "</%s>", tag);
	ol = strlen(open);
	cl = strlen(close_);
	if (!*p || *p >= end || !(a = memmem(*p, (size_t)(end - *p), open, ol)))
		return false;
	a += ol;
	if (!(b = memmem(a, (size_t)(end - a), close_, cl)))
		return false;
	*val = a;
	*len = (size_t)(b - a);
	*p = b + cl;
	return true;
}

/* Copy an XML text, decoding the five predefined entities. */
static int s3_xml_text(ecr_buf *out, const char *v, size_t len)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' } };
	size_t i, k;
	int rc = 0;
	ecr__buf_clear(out);
	for (i = 0; i < len && rc == 0;) {
		bool hit = false;
		if (v[i] == '&')
			for (k = 0; k < 5 && !hit; k++) {
				size_t el = strlen(ents[k].e);
				if (len - i >= el && memcmp(v + i, ents[k].e, el) == 0) {
					rc = ecr__buf_put(out, &ents[k].c, 1);
					i += el;
					hit = true;
				}
			}
		if (!hit)
			rc = ecr__buf_put(out, v + i++, 1);
	}
	if (rc == 0 && !out->ptr)
		rc = ecr__buf_put(out, "", 0);
	return rc;
}

/* Fail for an unexpected status: 403 ECR_EAUTH, others ECR_EIO, with S3's error code. */
static int s3_status_fail(const s3_res *res, const char *what, const char *key)
{
	const char *p = res->body.ptr, *v = NULL;
	size_t len = 0;
	char code[64] = "";
	if (p && s3_xml_next(&p, res->body.ptr + res->body.size, "Code", &v, &len))
		snprintf(code, sizeof(code), " %.*s", (int)(len < 60 ? len : 60), v);
	return ecr__fail(res->status == 403 ? ECR_EAUTH : ECR_EIO, ECR_ERROR_STORAGE, "s3: cannot %s %s: HTTP %ld%s",
		what, key ? key : "", res->status, code);
}

/* A 200 that carries an <Error> (CompleteMultipartUpload, CopyObject). */
static bool s3_body_error(const s3_res *res)
{
	return res->body.ptr && memmem(res->body.ptr, res->body.size, "<Error>", 7) != NULL;
}

static int64_t s3_parse_iso(const char *v, size_t len)
{
	char tmp[40];
	struct tm tm;
	int ms = 0;
	memset(&tm, 0, sizeof(tm));
	if (len >= sizeof(tmp))
		return 0;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	if (sscanf(tmp, "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		&tm.tm_sec, &ms) < 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + (ms >= 0 && ms < 1000 ? ms : 0);
}

/* --- keys --- */

static int s3_key(ecr_buf *out, s3_store *s, const char *fmt1, const char *a, const char *b)
{
	ecr__buf_clear(out);
	return ecr__buf_printf(out, "%s%s%s%s", s->prefix, fmt1, a, b ? b : "");
}

static int s3_blob_key(ecr_buf *out, s3_store *s, const char *digest)
{
	ecr__digest_alg alg;
	const char *hex;
	int rc;
	if ((rc = ecr__blob_digest_parse(digest, &alg, &hex)))
		return rc;
	ecr__buf_clear(out);
	return ecr__buf_printf(out, "%sblobs/%s/%s", s->prefix, ecr__digest_alg_name(alg), hex);
}

/* Simple object operations. */
static int s3_put_object(s3_store *s, const char *key, const void *data, size_t len, bool if_none_match,
	bool *existed)
{
	ecr_http_header inm = { "If-None-Match", "*" };
	s3_req q = { "PUT", key, NULL, &inm, if_none_match ? 1 : 0, data ? data : "", len };
	s3_res res = { 0 };
	int rc;
	if (existed)
		*existed = false;
	if ((rc = s3_do(s, &q, &res)))
		goto done;
	if (res.status == 412 && if_none_match) {
		if (existed)
			*existed = true;
	} else if (res.status / 100 != 2) {
		rc = s3_status_fail(&res, "write", key);
	}
done:
	ecr_buf_dispose(&res.body);
	return rc;
}

/* GET a whole small object into out (bounded); ECR_ENOTFOUND without setting an error. */
static int s3_get_small(s3_store *s, const char *key, ecr_buf *out, size_t max)
{
	s3_req q = { "GET", key, NULL, NULL, 0, NULL, 0 };
	s3_res res = { 0 };
	int rc;
	res.max_body = max;
	if ((rc = s3_do(s, &q, &res)))
		goto done;
	if (res.status == 404) {
		rc = ECR_ENOTFOUND;
		goto done;
	}
	if (res.status != 200) {
		rc = s3_status_fail(&res, "read", key);
		goto done;
	}
	ecr_buf_dispose(out);
	*out = res.body;
	res.body = (ecr_buf)ECR_BUF_INIT;
	if (!out->ptr)
		rc = ecr__buf_put(out, "", 0);
done:
	ecr_buf_dispose(&res.body);
	return rc;
}

/* HEAD: 0 and the size, or ECR_ENOTFOUND without an error set. */
static int s3_head(s3_store *s, const char *key, uint64_t *size_out)
{
	s3_req q = { "HEAD", key, NULL, NULL, 0, NULL, 0 };
	s3_res res = { 0 };
	int rc;
	if ((rc = s3_do(s, &q, &res)))
		goto done;
	if (res.status == 404)
		rc = ECR_ENOTFOUND;
	else if (res.status != 200)
		rc = s3_status_fail(&res, "stat", key);
	else if (size_out)
		*size_out = res.has_length ? res.length : 0;
done:
	ecr_buf_dispose(&res.body);
	return rc;
}

static int s3_delete(s3_store *s, const char *key, const char *query)
{
	s3_req q = { "DELETE", key, query, NULL, 0, NULL, 0 };
	s3_res res = { 0 };
	int rc;
	if ((rc = s3_do(s, &q, &res)) == 0 && res.status / 100 != 2 && res.status != 404)
		rc = s3_status_fail(&res, "delete", key);
	ecr_buf_dispose(&res.body);
	return rc;
}

/* ListObjectsV2 of a prefix (relative to the store's); cb gets each key (relative), size and mtime. */
typedef int (*s3_list_cb)(s3_store *s, const char *rel, uint64_t size, int64_t mtime_ms, void *payload);

static int s3_list_prefix(s3_store *s, const char *rel_prefix, s3_list_cb cb, void *payload)
{
	ecr_buf query = ECR_BUF_INIT, full = ECR_BUF_INIT, token = ECR_BUF_INIT, key = ECR_BUF_INIT;
	s3_res res = { 0 };
	int rc = 0;
	size_t plen = strlen(s->prefix);

	if ((rc = ecr__buf_printf(&full, "%s%s", s->prefix, rel_prefix)))
		goto done;
	for (;;) {
		s3_req q = { "GET", NULL, NULL, NULL, 0, NULL, 0 };
		const char *p, *end, *v, *cp;
		size_t len;
		bool truncated = false;

		ecr__buf_clear(&query);
		if ((rc = ecr__buf_puts(&query, "list-type=2")))
			goto done;
		if (token.size && ((rc = ecr__buf_puts(&query, "&continuation-token=")) ||
			(rc = s3_uri_encode(&query, token.ptr, false))))
			goto done;
		if ((rc = ecr__buf_puts(&query, "&max-keys=1000&prefix=")) || (rc = s3_uri_encode(&query, full.ptr, false)))
			goto done;
		q.query = query.ptr;
		if ((rc = s3_do(s, &q, &res)))
			goto done;
		if (res.status != 200) {
			rc = s3_status_fail(&res, "list", full.ptr);
			goto done;
		}
		p = res.body.ptr;
		end = p + res.body.size;
		cp = p;
		while (s3_xml_next(&p, end, "Contents", &v, &len)) {
			const char *c = v, *ce = v + len, *kv, *sv, *mv;
			size_t kl, sl, ml;
			uint64_t size = 0;
			int64_t mtime = 0;
			const char *c2 = v, *c3 = v;
			char num[32];
			if (!s3_xml_next(&c, ce, "Key", &kv, &kl))
				continue;
			if (s3_xml_next(&c2, ce, "Size", &sv, &sl) && sl < sizeof(num)) {
				memcpy(num, sv, sl);
				num[sl] = '\0';
				size = strtoull(num, NULL, 10);
			}
			if (s3_xml_next(&c3, ce, "LastModified", &mv, &ml))
				mtime = s3_parse_iso(mv, ml);
			if ((rc = s3_xml_text(&key, kv, kl)))
				goto done;
			if (key.size < plen || memcmp(key.ptr, s->prefix, plen) != 0)
				continue;
			if ((rc = cb(s, key.ptr + plen, size, mtime, payload)))
				goto done;
		}
		if (s3_xml_next(&cp, end, "IsTruncated", &v, &len))
			truncated = len == 4 && memcmp(v, "true", 4) == 0;
		cp = res.body.ptr;
		if (!truncated || !s3_xml_next(&cp, end, "NextContinuationToken", &v, &len))
			break;
		if ((rc = s3_xml_text(&token, v, len)))
			goto done;
	}
done:
	ecr_buf_dispose(&res.body);
	ecr_buf_dispose(&query);
	ecr_buf_dispose(&full);
	ecr_buf_dispose(&token);
	ecr_buf_dispose(&key);
	return rc;
}

/* --- stage state --- */

typedef struct s3_state {
	int64_t gen;
	char owner[33];
	int64_t lease_ms;
	char *upload_id;
	s3_part *parts;
	size_t nparts;
	uint64_t parts_bytes;
	uint32_t mid[8]; /* SHA-256 state after parts_bytes */
	uint64_t tail;
	char tail_sha[65];
} s3_state;

static void s3_state_dispose(s3_state *st)
{
	ecr__free(st->upload_id);
	ecr__free(st->parts);
	memset(st, 0, sizeof(*st));
}

static int s3_state_bad(const char *id, const char *why)
{
	return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: the state of stage %s is corrupt (%s)", id, why);
}

static bool s3_copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (!src || n >= cap)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* Load stages/<id>.json: ECR_ENOTFOUND (no error set) when there is none. */
static int s3_state_load(s3_store *s, const char *id, s3_state *st)
{
	ecr_buf key = ECR_BUF_INIT, body = ECR_BUF_INIT;
	ecr__json *j = NULL;
	const ecr__json *parts, *v;
	const char *str;
	int64_t n;
	size_t i;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = s3_key(&key, s, "stages/", id, ".json")) || (rc = s3_get_small(s, key.ptr, &body, 1024 * 1024)))
		goto done;
	if ((rc = ecr__json_parse(&j, body.ptr, body.size, NULL))) {
		rc = s3_state_bad(id, "not JSON");
		goto done;
	}
	if (!ecr__json_get_int(j, "gen", &st->gen) || !ecr__json_get_int(j, "lease", &st->lease_ms) ||
		!ecr__json_get_int(j, "bytes", &n) || n < 0 || (uint64_t)n % S3_PART_SIZE) {
		rc = s3_state_bad(id, "fields");
		goto done;
	}
	st->parts_bytes = (uint64_t)n;
	if (!ecr__json_get_int(j, "tail", &n) || n < 0 || (uint64_t)n >= S3_PART_SIZE) {
		rc = s3_state_bad(id, "tail");
		goto done;
	}
	st->tail = (uint64_t)n;
	if (!s3_copy_str(st->owner, sizeof(st->owner), ecr__json_get_string(j, "owner")) ||
		!s3_copy_str(st->tail_sha, sizeof(st->tail_sha), ecr__json_get_string(j, "tail_sha256"))) {
		rc = s3_state_bad(id, "owner");
		goto done;
	}
	if ((str = ecr__json_get_string(j, "upload")) && *str && !(st->upload_id = ecr__strdup(str))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	str = ecr__json_get_string(j, "sha256_state");
	if (!str || strlen(str) != 64) {
		rc = s3_state_bad(id, "sha256_state");
		goto done;
	}
	for (i = 0; i < 8; i++) {
		char w[9];
		memcpy(w, str + i * 8, 8);
		w[8] = '\0';
		st->mid[i] = (uint32_t)strtoul(w, NULL, 16);
	}
	parts = ecr__json_get(j, "parts");
	if (!parts || parts->type != ECR__JSON_ARRAY || parts->count > S3_MAX_PARTS ||
		parts->count * (uint64_t)S3_PART_SIZE != st->parts_bytes || (parts->count && !st->upload_id)) {
		rc = s3_state_bad(id, "parts");
		goto done;
	}
	if (parts->count && !(st->parts = ecr__calloc(parts->count, sizeof(*st->parts)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (i = 0; i < parts->count; i++) {
		v = ecr__json_at(parts, i);
		if (!v || !ecr__json_get_int(v, "n", &n) || n != (int64_t)i + 1 ||
			!s3_copy_str(st->parts[i].etag, sizeof(st->parts[i].etag), ecr__json_get_string(v, "etag"))) {
			rc = s3_state_bad(id, "part");
			goto done;
		}
		st->parts[i].n = (int)n;
		st->parts[i].size = S3_PART_SIZE;
	}
	st->nparts = parts->count;
done:
	if (rc)
		s3_state_dispose(st);
	ecr__json_free(j);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&body);
	return rc;
}

/* Write the writer's state with generation gen; create: only when there is none (412: *existed). */
static int s3_state_store(s3_writer *w, int64_t gen, bool release, bool create, bool *existed)
{
	ecr__jw *jw = NULL;
	ecr_buf out = ECR_BUF_INIT, key = ECR_BUF_INIT;
	char mid[65], tail_sha[ECR__DIGEST_STRLEN_MAX] = "sha256:";
	size_t i;
	int rc;

	for (i = 0; i < 8; i++)
		snprintf(mid + i * 8, 9, "%08x", (unsigned)w->mid[i]);
	if (w->parts_bytes == 0)
		memset(mid, '0', 64), mid[64] = '\0';
	if ((rc = ecr__digest_buf(tail_sha, sizeof(tail_sha), ECR__DIGEST_SHA256, w->buf ? (void *)w->buf : "",
		w->buflen)))
		goto done;
	if ((rc = ecr__jw_new(&jw)) || (rc = ecr__jw_object_open(jw)) || (rc = ecr__jw_key_int(jw, "v", 1)) ||
		(rc = ecr__jw_key_int(jw, "gen", gen)) || (rc = ecr__jw_key_string(jw, "owner", release ? "" : w->token)) ||
		(rc = ecr__jw_key_int(jw, "lease", ecr__time_now_ms())) ||
		(rc = ecr__jw_key_string(jw, "upload", w->upload_id ? w->upload_id : "")) ||
		(rc = ecr__jw_key_int(jw, "bytes", (int64_t)w->parts_bytes)) ||
		(rc = ecr__jw_key_string(jw, "sha256_state", mid)) || (rc = ecr__jw_key_int(jw, "tail", (int64_t)w->buflen)) ||
		(rc = ecr__jw_key_string(jw, "tail_sha256", tail_sha + 7)) || (rc = ecr__jw_key(jw, "parts")) ||
		(rc = ecr__jw_array_open(jw)))
		goto done;
	for (i = 0; i < w->nparts; i++)
		if ((rc = ecr__jw_object_open(jw)) || (rc = ecr__jw_key_int(jw, "n", w->parts[i].n)) ||
			(rc = ecr__jw_key_string(jw, "etag", w->parts[i].etag)) || (rc = ecr__jw_object_close(jw)))
			goto done;
	if ((rc = ecr__jw_array_close(jw)) || (rc = ecr__jw_object_close(jw)) || (rc = ecr__jw_finish(jw, &out)))
		goto done;
	if ((rc = s3_key(&key, w->s, "stages/", w->id, ".json")) ||
		(rc = s3_put_object(w->s, key.ptr, out.ptr, out.size, create, existed)))
		goto done;
	w->gen = gen;
done:
	ecr__jw_free(jw);
	ecr_buf_dispose(&out);
	ecr_buf_dispose(&key);
	return rc;
}

/* Check that the stage is still this writer's (nobody claimed it since). */
static int s3_state_check(s3_writer *w)
{
	s3_state st;
	int rc = s3_state_load(w->s, w->id, &st);
	if (rc == ECR_ENOTFOUND)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "s3: staging object %s was removed", w->id);
	if (rc)
		return rc;
	if (st.gen != w->gen || strcmp(st.owner, w->token) != 0)
		rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE,
			"s3: staging object %s was written by another writer (one writer at a time)", w->id);
	s3_state_dispose(&st);
	return rc;
}

/* Save the buffered bytes as the stage's tail and the state (release: give up the claim). */
static int s3_state_save(s3_writer *w, bool release)
{
	ecr_buf key = ECR_BUF_INIT;
	int rc;
	if ((rc = s3_state_check(w)))
		return rc;
	if (w->tail_dirty) {
		if ((rc = s3_key(&key, w->s, "stages/", w->id, ".tail")))
			goto done;
		if (w->buflen)
			rc = s3_put_object(w->s, key.ptr, w->buf, w->buflen, false, NULL);
		else
			rc = s3_delete(w->s, key.ptr, NULL);
		if (rc)
			goto done;
	}
	if ((rc = s3_state_store(w, w->gen + 1, release, false, NULL)))
		goto done;
	w->tail_dirty = false;
done:
	ecr_buf_dispose(&key);
	return rc;
}

/* --- multipart --- */

static int s3_mpu_create(s3_store *s, const char *key, char **upload_id)
{
	s3_req q = { "POST", key, "uploads=", NULL, 0, "", 0 };
	s3_res res = { 0 };
	ecr_buf id = ECR_BUF_INIT;
	const char *p, *v;
	size_t len;
	int rc;
	if ((rc = s3_do(s, &q, &res)))
		goto done;
	p = res.body.ptr;
	if (res.status != 200 || !p || !s3_xml_next(&p, res.body.ptr + res.body.size, "UploadId", &v, &len) || !len) {
		rc = res.status == 200 ? ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: no UploadId for %s", key)
				       : s3_status_fail(&res, "start a multipart upload of", key);
		goto done;
	}
	if ((rc = s3_xml_text(&id, v, len)))
		goto done;
	*upload_id = ecr__buf_detach(&id);
	if (!*upload_id)
		rc = ECR_ENOMEM;
done:
	ecr_buf_dispose(&id);
	ecr_buf_dispose(&res.body);
	return rc;
}

static int s3_upload_query(ecr_buf *q, const char *upload_id, int part)
{
	int rc;
	ecr__buf_clear(q);
	if (part > 0 && (rc = ecr__buf_printf(q, "partNumber=%d&", part)))
		return rc;
	if ((rc = ecr__buf_puts(q, "uploadId=")))
		return rc;
	return s3_uri_encode(q, upload_id, false);
}

/* Upload buf as the next part. */
static int s3_writer_flush_part(s3_writer *w)
{
	ecr_buf key = ECR_BUF_INIT, query = ECR_BUF_INIT;
	s3_res res = { 0 };
	s3_part *np;
	int rc, n = (int)w->nparts + 1;

	if (w->nparts >= S3_MAX_PARTS)
		return ecr__fail(ECR_ERANGE, ECR_ERROR_STORAGE, "s3: staging object %s is too large", w->id);
	if ((rc = s3_key(&key, w->s, "uploads/", w->id, NULL)))
		goto done;
	if (!w->upload_id) {
		if ((rc = s3_mpu_create(w->s, key.ptr, &w->upload_id)))
			goto done;
	}
	if ((rc = s3_upload_query(&query, w->upload_id, n)))
		goto done;
	{
		s3_req q = { "PUT", key.ptr, query.ptr, NULL, 0, w->buf, w->buflen };
		if ((rc = s3_do(w->s, &q, &res)))
			goto done;
	}
	if (res.status != 200 || !res.etag[0]) {
		rc = res.status == 200 ? ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: no ETag for a part of %s", key.ptr)
				       : s3_status_fail(&res, "upload a part of", key.ptr);
		goto done;
	}
	if (!(np = ecr__realloc(w->parts, (w->nparts + 1) * sizeof(*np)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	w->parts = np;
	/* The hash has seen exactly the parts now (buf holds all bytes after the
	 * previous part, a multiple of 64): its state is the midstate to save. */
	memcpy(w->mid, w->sha.state, sizeof(w->mid));
	memset(&np[w->nparts], 0, sizeof(*np));
	np[w->nparts].n = n;
	np[w->nparts].size = w->buflen;
	snprintf(np[w->nparts].etag, sizeof(np->etag), "%s", res.etag);
	w->nparts++;
	w->parts_bytes += w->buflen;
	w->buflen = 0;
	w->tail_dirty = true; /* the old tail is in this part now */
done:
	ecr_buf_dispose(&res.body);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&query);
	return rc;
}

static int s3_mpu_complete(s3_writer *w, const char *key)
{
	ecr_buf body = ECR_BUF_INIT, query = ECR_BUF_INIT;
	s3_res res = { 0 };
	size_t i;
	int rc;

	if ((rc = ecr__buf_puts(&body, "<CompleteMultipartUpload>")))
		goto done;
	for (i = 0; i < w->nparts; i++)
		if ((rc = ecr__buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", w->parts[i].n,
			w->parts[i].etag)))
			goto done;
	if ((rc = ecr__buf_puts(&body, "</CompleteMultipartUpload>")) ||
		(rc = s3_upload_query(&query, w->upload_id, 0)))
		goto done;
	{
		s3_req q = { "POST", key, query.ptr, NULL, 0, body.ptr, body.size };
		if ((rc = s3_do(w->s, &q, &res)))
			goto done;
	}
	if (res.status == 404) {
		/* A retry after the first attempt completed it: the object is there. */
		uint64_t size = 0;
		if (s3_head(w->s, key, &size) == 0 && size == w->parts_bytes)
			goto done;
	}
	if (res.status != 200 || s3_body_error(&res))
		rc = s3_status_fail(&res, "complete the multipart upload of", key);
done:
	ecr_buf_dispose(&res.body);
	ecr_buf_dispose(&body);
	ecr_buf_dispose(&query);
	return rc;
}

/* Copy src to dst on the server (atomic). Parts of at most 5 GiB beyond CopyObject's limit. */
static int s3_copy(s3_store *s, const char *src, const char *dst, uint64_t size)
{
	ecr_buf source = ECR_BUF_INIT, query = ECR_BUF_INIT, body = ECR_BUF_INIT, range = ECR_BUF_INIT;
	s3_res res = { 0 };
	char *upload = NULL;
	int rc;

	if ((rc = ecr__buf_puts(&source, "/")) || (rc = s3_uri_encode(&source, s->bucket, false)) ||
		(rc = ecr__buf_puts(&source, "/")) || (rc = s3_uri_encode(&source, src, true)))
		goto done;
	if (size <= S3_COPY_MAX) {
		ecr_http_header h = { "X-Amz-Copy-Source", source.ptr };
		s3_req q = { "PUT", dst, NULL, &h, 1, "", 0 };
		if ((rc = s3_do(s, &q, &res)))
			goto done;
		if (res.status != 200 || s3_body_error(&res))
			rc = s3_status_fail(&res, "publish", dst);
		goto done;
	}
	/* Multipart copy: CopyObject stops at 5 GiB. */
	if ((rc = s3_mpu_create(s, dst, &upload)) || (rc = ecr__buf_puts(&body, "<CompleteMultipartUpload>")))
		goto done;
	{
		uint64_t at = 0;
		int n = 1;
		for (; at < size; n++) {
			uint64_t len = size - at < S3_COPY_MAX ? size - at : S3_COPY_MAX;
			ecr_http_header h[2] = { { "X-Amz-Copy-Source", source.ptr }, { "X-Amz-Copy-Source-Range", NULL } };
			const char *p, *v;
			size_t vl;
			ecr__buf_clear(&range);
			if ((rc = ecr__buf_printf(&range, "bytes=%llu-%llu", (unsigned long long)at,
				(unsigned long long)(at + len - 1))) || (rc = s3_upload_query(&query, upload, n)))
				goto abort;
			h[1].value = range.ptr;
			{
				s3_req q = { "PUT", dst, query.ptr, h, 2, "", 0 };
				if ((rc = s3_do(s, &q, &res)))
					goto abort;
			}
			p = res.body.ptr;
			if (res.status != 200 || !p || !s3_xml_next(&p, p + res.body.size, "ETag", &v, &vl)) {
				rc = s3_status_fail(&res, "publish a part of", dst);
				goto abort;
			}
			if ((rc = ecr__buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%.*s</ETag></Part>", n,
				(int)vl, v)))
				goto abort;
			at += len;
		}
	}
	if ((rc = ecr__buf_puts(&body, "</CompleteMultipartUpload>")) || (rc = s3_upload_query(&query, upload, 0)))
		goto abort;
	{
		s3_req q = { "POST", dst, query.ptr, NULL, 0, body.ptr, body.size };
		if ((rc = s3_do(s, &q, &res)))
			goto abort;
		if (res.status != 200 || s3_body_error(&res)) {
			rc = s3_status_fail(&res, "publish", dst);
			goto abort;
		}
	}
	goto done;
abort:
	if (upload && s3_upload_query(&query, upload, 0) == 0) {
		ecr__error_saved saved;
		ecr__error_save(&saved);
		(void)s3_delete(s, dst, query.ptr);
		ecr__error_restore(&saved);
	}
done:
	ecr__free(upload);
	ecr_buf_dispose(&res.body);
	ecr_buf_dispose(&source);
	ecr_buf_dispose(&query);
	ecr_buf_dispose(&body);
	ecr_buf_dispose(&range);
	return rc;
}

/* Delete every object of a stage (abort its multipart upload). Errors are kept quiet when quiet. */
static int s3_stage_delete(s3_store *s, const char *id, const char *upload_id)
{
	ecr_buf key = ECR_BUF_INIT, query = ECR_BUF_INIT;
	int rc;
	if ((rc = s3_key(&key, s, "uploads/", id, NULL)))
		goto done;
	if (upload_id && ((rc = s3_upload_query(&query, upload_id, 0)) || (rc = s3_delete(s, key.ptr, query.ptr))))
		goto done;
	if ((rc = s3_delete(s, key.ptr, NULL)))
		goto done;
	if ((rc = s3_key(&key, s, "stages/", id, ".tail")) || (rc = s3_delete(s, key.ptr, NULL)))
		goto done;
	if ((rc = s3_key(&key, s, "stages/", id, ".json")) || (rc = s3_delete(s, key.ptr, NULL)))
		goto done;
done:
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&query);
	return rc;
}

/* Hash a whole object with a streaming of ranged GETs. */
static int s3_hash_object(s3_store *s, const char *key, uint64_t size, ecr__digest_ctx *ctx)
{
	unsigned char *buf = NULL;
	ecr_buf range = ECR_BUF_INIT;
	uint64_t at = 0;
	int rc = 0;
	if (size == 0)
		return 0;
	if (!(buf = ecr__malloc(S3_READ_WINDOW)))
		return ECR_ENOMEM;
	while (at < size) {
		size_t want = size - at < S3_READ_WINDOW ? (size_t)(size - at) : S3_READ_WINDOW;
		ecr_http_header h = { "Range", NULL };
		s3_req q = { "GET", key, NULL, &h, 1, NULL, 0 };
		s3_res res = { 0 };
		ecr__buf_clear(&range);
		if ((rc = ecr__buf_printf(&range, "bytes=%llu-%llu", (unsigned long long)at,
			(unsigned long long)(at + want - 1))))
			break;
		h.value = range.ptr;
		res.dst = buf;
		res.dst_cap = want;
		rc = s3_do(s, &q, &res);
		if (rc == 0 && (res.status != 206 || res.dst_len != want))
			rc = s3_status_fail(&res, "read", key);
		ecr_buf_dispose(&res.body);
		if (rc || (rc = ecr__digest_update(ctx, buf, want)))
			break;
		at += want;
	}
	ecr__free(buf);
	ecr_buf_dispose(&range);
	return rc;
}

/* --- writer --- */

static int s3_writer_check(s3_writer *w)
{
	if (w->done)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "s3: staging object %s was already committed or discarded",
			w->id);
	return 0;
}

static int s3_writer_write(ecr_blob_store_writer *base, const void *data, size_t len)
{
	s3_writer *w = (s3_writer *)base;
	const unsigned char *p = data;
	int rc;

	if ((rc = s3_writer_check(w)))
		return rc;
	if (len == 0)
		return 0;
	if (!data)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3: write of NULL data");
	if (len > (uint64_t)INT64_MAX - w->base.size)
		return ecr__fail(ECR_ERANGE, ECR_ERROR_STORAGE, "s3: staging object %s would grow too large", w->id);
	if (!w->buf && !(w->buf = ecr__malloc(S3_PART_SIZE)))
		return ECR_ENOMEM;
	while (len) {
		size_t n;
		/* Upload a full part only when more bytes come (the last part is uploaded at commit). */
		if (w->buflen == S3_PART_SIZE) {
			if ((rc = s3_writer_flush_part(w)) || (rc = s3_state_save(w, false)))
				return rc;
		}
		n = S3_PART_SIZE - w->buflen < len ? S3_PART_SIZE - w->buflen : len;
		memcpy(w->buf + w->buflen, p, n);
		if (mbedtls_sha256_update_ret(&w->sha, p, n) != 0)
			return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "s3: SHA-256 failed");
		w->buflen += n;
		w->base.size += n;
		w->tail_dirty = true;
		p += n;
		len -= n;
	}
	return 0;
}

static int s3_sha256_hex(const mbedtls_sha256_context *src, char *out, size_t outlen)
{
	mbedtls_sha256_context c;
	unsigned char raw[32];
	int rc = 0;
	if (outlen < 7 + 65)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3: digest buffer too small");
	mbedtls_sha256_init(&c);
	mbedtls_sha256_clone(&c, src);
	if (mbedtls_sha256_finish_ret(&c, raw) != 0)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "s3: SHA-256 failed");
	mbedtls_sha256_free(&c);
	if (rc == 0) {
		memcpy(out, "sha256:", 7);
		ecr__hex_encode(out + 7, raw, 32);
		out[71] = '\0';
	}
	return rc;
}

static int s3_writer_digest(ecr_blob_store_writer *base, char *out, size_t outlen)
{
	s3_writer *w = (s3_writer *)base;
	int rc;
	if ((rc = s3_writer_check(w)))
		return rc;
	return s3_sha256_hex(&w->sha, out, outlen);
}

/* Throw the stage away (after a digest mismatch). */
static void s3_writer_discard(s3_writer *w)
{
	ecr__error_saved saved;
	ecr__error_save(&saved);
	(void)s3_stage_delete(w->s, w->id, w->upload_id);
	ecr__error_restore(&saved);
	w->done = true;
}

static int s3_writer_commit(ecr_blob_store_writer *base, const char *digest)
{
	s3_writer *w = (s3_writer *)base;
	s3_store *s = w->s;
	ecr__digest_alg alg;
	const char *hex;
	char actual[ECR__DIGEST_STRLEN_MAX];
	ecr_buf blob = ECR_BUF_INIT, staging = ECR_BUF_INIT;
	ecr__digest_ctx *ctx = NULL;
	bool existed = false, completed = false;
	int rc;

	if ((rc = s3_writer_check(w)))
		return rc;
	if ((rc = ecr__blob_digest_parse(digest, &alg, &hex)))
		return rc;
	if (w->contended) {
		rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE,
			"s3: staging object %s was open in another writer when this one opened it", w->id);
		goto done;
	}
	if ((rc = s3_state_check(w)))
		goto done;
	if ((rc = s3_blob_key(&blob, s, digest)) || (rc = s3_key(&staging, s, "uploads/", w->id, NULL)))
		goto done;

	if (alg == ECR__DIGEST_SHA256) {
		if ((rc = s3_sha256_hex(&w->sha, actual, sizeof(actual))))
			goto done;
	} else if (w->nparts == 0) {
		if ((rc = ecr__digest_buf(actual, sizeof(actual), alg, w->buf ? (void *)w->buf : "", w->buflen)))
			goto done;
	} else {
		/* Another algorithm over parts we cannot read back: complete, then hash the object. */
		if (w->buflen && (rc = s3_writer_flush_part(w)))
			goto done;
		if ((rc = s3_mpu_complete(w, staging.ptr)))
			goto done;
		completed = true;
		if ((rc = ecr__digest_new(&ctx, alg)) || (rc = s3_hash_object(s, staging.ptr, w->parts_bytes, ctx)) ||
			(rc = ecr__digest_final(ctx, actual, sizeof(actual))))
			goto done;
	}
	if (strcmp(actual, digest) != 0) {
		rc = ecr__blob_fail_mismatch(digest, actual);
		s3_writer_discard(w);
		goto done;
	}

	if (w->nparts == 0) {
		/* Less than a part: one conditional PUT publishes it. */
		if ((rc = s3_put_object(s, blob.ptr, w->buf, w->buflen, true, &existed)))
			goto done;
	} else {
		uint64_t have = 0;
		if (!completed) {
			if (w->buflen && (rc = s3_writer_flush_part(w)))
				goto done;
			if ((rc = s3_mpu_complete(w, staging.ptr)))
				goto done;
		}
		/* CopyObject has no If-None-Match: look first; a copy over the same
		 * content (a concurrent publish) is harmless. */
		rc = s3_head(s, blob.ptr, &have);
		if (rc == ECR_ENOTFOUND)
			rc = s3_copy(s, staging.ptr, blob.ptr, w->parts_bytes);
		if (rc)
			goto done;
	}
	w->done = true;
	{
		ecr__error_saved saved;
		ecr__error_save(&saved);
		(void)s3_stage_delete(s, w->id, completed || w->nparts == 0 ? NULL : w->upload_id);
		ecr__error_restore(&saved);
	}
done:
	ecr__digest_free(ctx);
	ecr_buf_dispose(&blob);
	ecr_buf_dispose(&staging);
	return rc;
}

static void s3_writer_free(s3_writer *w)
{
	mbedtls_sha256_free(&w->sha);
	ecr__free(w->buf);
	ecr__free(w->parts);
	ecr__free(w->upload_id);
	ecr__free(w);
}

static void s3_writer_close(ecr_blob_store_writer *base)
{
	s3_writer *w = (s3_writer *)base;
	if (!w)
		return;
	if (!w->done && !w->contended) {
		/* Keep what was written: the tail (or a full last part) and the state. */
		ecr__error_saved saved;
		ecr__error_save(&saved);
		if (w->buflen == S3_PART_SIZE && s3_state_check(w) == 0)
			(void)s3_writer_flush_part(w);
		(void)s3_state_save(w, true);
		ecr__error_restore(&saved);
	}
	s3_writer_free(w);
}

/* --- store: staging --- */

static int s3_stage_open(ecr_blob_store_writer **out, ecr_blob_store *self, const char *stage_id, int create)
{
	s3_store *s = (s3_store *)self;
	s3_writer *w = NULL;
	s3_state st;
	ecr_buf key = ECR_BUF_INIT, tail = ECR_BUF_INIT;
	unsigned char rnd[16];
	int rc, attempt;

	memset(&st, 0, sizeof(st));
	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3: stage_open without out");
	*out = NULL;
	if ((rc = ecr__blob_stage_id_check(stage_id)))
		return rc;
	if (!(w = ecr__calloc(1, sizeof(*w))))
		return ECR_ENOMEM;
	w->s = s;
	snprintf(w->id, sizeof(w->id), "%s", stage_id);
	mbedtls_sha256_init(&w->sha);
	if ((rc = ecr__random_bytes(rnd, sizeof(rnd))))
		goto done;
	ecr__hex_encode(w->token, rnd, sizeof(rnd));
	w->token[32] = '\0';

	for (attempt = 0;; attempt++) {
		bool existed = false;
		rc = s3_state_load(s, stage_id, &st);
		if (rc == ECR_ENOTFOUND && !create) {
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "s3: no staging object %s", stage_id);
			goto done;
		}
		if (rc == ECR_ENOTFOUND) {
			/* New: create its state, unless another writer just did. */
			if (mbedtls_sha256_starts_ret(&w->sha, 0) != 0) {
				rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "s3: SHA-256 failed");
				goto done;
			}
			if ((rc = s3_state_store(w, 1, false, true, &existed)))
				goto done;
			if (existed && attempt < 3)
				continue;
			if (existed) {
				rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: cannot create staging object %s", stage_id);
				goto done;
			}
			break;
		}
		if (rc)
			goto done;
		/* Existing: take its parts and hash state, read its tail back. */
		if (st.owner[0] && ecr__time_now_ms() - st.lease_ms < S3_LEASE_MS)
			w->contended = true;
		w->upload_id = st.upload_id;
		w->parts = st.parts;
		w->nparts = st.nparts;
		w->parts_bytes = st.parts_bytes;
		st.upload_id = NULL;
		st.parts = NULL;
		if (mbedtls_sha256_starts_ret(&w->sha, 0) != 0) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "s3: SHA-256 failed");
			goto done;
		}
		if (w->parts_bytes) {
			memcpy(w->sha.state, st.mid, sizeof(st.mid));
			memcpy(w->mid, st.mid, sizeof(st.mid));
			w->sha.total[0] = (uint32_t)w->parts_bytes;
			w->sha.total[1] = (uint32_t)(w->parts_bytes >> 32);
		}
		if (st.tail) {
			char got[ECR__DIGEST_STRLEN_MAX];
			if ((rc = s3_key(&key, s, "stages/", stage_id, ".tail")))
				goto done;
			rc = s3_get_small(s, key.ptr, &tail, S3_PART_SIZE);
			if (rc == 0 && tail.size == st.tail &&
				(rc = ecr__digest_buf(got, sizeof(got), ECR__DIGEST_SHA256, tail.ptr, tail.size)) == 0 &&
				strcmp(got + 7, st.tail_sha) != 0)
				rc = ECR_ENOTFOUND;
			if (rc == 0 && tail.size != st.tail)
				rc = ECR_ENOTFOUND;
			if (rc == ECR_ENOTFOUND && attempt < 3) {
				/* Saved between our two reads: read again. */
				s3_state_dispose(&st);
				continue;
			}
			if (rc == ECR_ENOTFOUND)
				rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: the tail of staging object %s does not match its state",
					stage_id);
			if (rc)
				goto done;
			if (!(w->buf = ecr__malloc(S3_PART_SIZE))) {
				rc = ECR_ENOMEM;
				goto done;
			}
			memcpy(w->buf, tail.ptr, tail.size);
			w->buflen = tail.size;
			if (mbedtls_sha256_update_ret(&w->sha, w->buf, w->buflen) != 0) {
				rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "s3: SHA-256 failed");
				goto done;
			}
		}
		w->gen = st.gen;
		/* Claim it: a writer that had it open fails at commit from now on
		 * (and so does this one when that writer's claim was live). */
		if ((rc = s3_state_store(w, st.gen + 1, false, false, NULL)))
			goto done;
		break;
	}

	w->base.version = ECR_BLOB_STORE_WRITER_VERSION;
	w->base.size = w->parts_bytes + w->buflen;
	w->base.write = s3_writer_write;
	w->base.commit = s3_writer_commit;
	w->base.digest = s3_writer_digest;
	w->base.close = s3_writer_close;
	*out = &w->base;
	w = NULL;
done:
	s3_state_dispose(&st);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&tail);
	if (w)
		s3_writer_free(w);
	return rc;
}

static int s3_stage_remove(ecr_blob_store *self, const char *stage_id)
{
	s3_store *s = (s3_store *)self;
	s3_state st;
	int rc;

	if ((rc = ecr__blob_stage_id_check(stage_id)))
		return rc;
	rc = s3_state_load(s, stage_id, &st);
	if (rc == ECR_ENOTFOUND)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "s3: no staging object %s", stage_id);
	if (rc == ECR_EIO) {
		/* A corrupt state: remove what is there anyway. */
		memset(&st, 0, sizeof(st));
	} else if (rc) {
		return rc;
	}
	rc = s3_stage_delete(s, stage_id, st.upload_id);
	s3_state_dispose(&st);
	return rc;
}

typedef struct s3_stage_walk {
	ecr_blob_store_stage_cb cb;
	void *payload;
} s3_stage_walk;

static int s3_stage_list_one(s3_store *s, const char *rel, uint64_t size, int64_t mtime_ms, void *payload)
{
	s3_stage_walk *walk = payload;
	char id[ECR__BLOB_STAGE_ID_MAX + 1];
	const char *name = rel + strlen("stages/");
	size_t len = strlen(name);
	s3_state st;
	int rc;
	(void)size;

	if (len <= 5 || strcmp(name + len - 5, ".json") != 0 || len - 5 > ECR__BLOB_STAGE_ID_MAX)
		return 0;
	memcpy(id, name, len - 5);
	id[len - 5] = '\0';
	if (!ecr__blob_stage_id_valid(id))
		return 0;
	rc = s3_state_load(s, id, &st);
	if (rc == ECR_ENOTFOUND)
		return 0; /* removed meanwhile */
	if (rc == ECR_EIO) {
		/* Corrupt: list it (size 0) so that it expires. */
		ecr_error_clear();
		return walk->cb(id, 0, mtime_ms, walk->payload);
	}
	if (rc)
		return rc;
	rc = walk->cb(id, st.parts_bytes + st.tail, mtime_ms, walk->payload);
	s3_state_dispose(&st);
	return rc;
}

static int s3_stage_list(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload)
{
	s3_stage_walk walk = { cb, payload };
	if (!cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3: stage_list without a callback");
	return s3_list_prefix((s3_store *)self, "stages/", s3_stage_list_one, &walk);
}

/* --- store: blobs --- */

/* Fetch the window starting at pos. */
static int s3_reader_fill(s3_reader *r)
{
	ecr_buf range = ECR_BUF_INIT;
	size_t want = r->base.size - r->pos < S3_READ_WINDOW ? (size_t)(r->base.size - r->pos) : S3_READ_WINDOW;
	ecr_http_header h = { "Range", NULL };
	s3_req q = { "GET", r->key, NULL, &h, 1, NULL, 0 };
	s3_res res = { 0 };
	int rc;

	if ((rc = ecr__buf_printf(&range, "bytes=%llu-%llu", (unsigned long long)r->pos,
		(unsigned long long)(r->pos + want - 1))))
		goto done;
	h.value = range.ptr;
	res.dst = r->win;
	res.dst_cap = want;
	if ((rc = s3_do(r->s, &q, &res)))
		goto done;
	if (res.status == 404) {
		rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "s3: blob %s was removed while being read", r->key);
		goto done;
	}
	if (res.status != 206 || res.dst_len != want) {
		rc = s3_status_fail(&res, "read", r->key);
		goto done;
	}
	r->win_at = r->pos;
	r->win_len = want;
done:
	ecr_buf_dispose(&res.body);
	ecr_buf_dispose(&range);
	return rc;
}

static int s3_reader_read(ecr_blob_store_reader *base, void *buf, size_t len, size_t *nread)
{
	s3_reader *r = (s3_reader *)base;
	size_t avail, n;
	int rc;

	if (!nread || (!buf && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3: read without a buffer");
	*nread = 0;
	if (r->pos >= r->base.size || len == 0)
		return 0;
	if (r->pos < r->win_at || r->pos >= r->win_at + r->win_len) {
		if ((rc = s3_reader_fill(r)))
			return rc;
	}
	avail = (size_t)(r->win_at + r->win_len - r->pos);
	n = avail < len ? avail : len;
	memcpy(buf, r->win + (r->pos - r->win_at), n);
	r->pos += n;
	*nread = n;
	return 0;
}

static void s3_reader_close(ecr_blob_store_reader *base)
{
	s3_reader *r = (s3_reader *)base;
	if (!r)
		return;
	ecr__free(r->key);
	ecr__free(r->win);
	ecr__free(r);
}

static int s3_read_open(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset)
{
	s3_store *s = (s3_store *)self;
	s3_reader *r = NULL;
	ecr_buf key = ECR_BUF_INIT;
	uint64_t size = 0;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3: read_open without out");
	*out = NULL;
	if ((rc = s3_blob_key(&key, s, digest)))
		goto done;
	rc = s3_head(s, key.ptr, &size);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "s3: no blob %s", digest);
	if (rc)
		goto done;
	if (offset > size) {
		rc = ecr__fail(ECR_ERANGE, ECR_ERROR_STORAGE, "s3: offset %llu is past the end of %s (%llu bytes)",
			(unsigned long long)offset, digest, (unsigned long long)size);
		goto done;
	}
	if (!(r = ecr__calloc(1, sizeof(*r))) || !(r->win = ecr__malloc(S3_READ_WINDOW))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	r->s = s;
	r->key = ecr__buf_detach(&key);
	r->pos = offset;
	r->base.version = ECR_BLOB_STORE_READER_VERSION;
	r->base.size = size;
	r->base.read = s3_reader_read;
	r->base.fd = NULL; /* no file descriptor: the vtable's optional method */
	r->base.close = s3_reader_close;
	if (!r->key) {
		rc = ECR_ENOMEM;
		goto done;
	}
	/* The first window now: a blob removed after read_open stays readable for it. */
	if (offset < size) {
		rc = s3_reader_fill(r);
		if (rc == ECR_EIO && ecr_error_last() && strstr(ecr_error_last()->message, "removed"))
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "s3: no blob %s", digest);
		if (rc)
			goto done;
	}
	*out = &r->base;
	r = NULL;
done:
	if (r)
		s3_reader_close(&r->base);
	ecr_buf_dispose(&key);
	return rc;
}

static int s3_stat(ecr_blob_store *self, const char *digest, uint64_t *size_out)
{
	s3_store *s = (s3_store *)self;
	ecr_buf key = ECR_BUF_INIT;
	int rc;
	if ((rc = s3_blob_key(&key, s, digest)) == 0) {
		rc = s3_head(s, key.ptr, size_out);
		if (rc == ECR_ENOTFOUND)
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "s3: no blob %s", digest);
	}
	ecr_buf_dispose(&key);
	return rc;
}

static int s3_remove(ecr_blob_store *self, const char *digest)
{
	s3_store *s = (s3_store *)self;
	ecr_buf key = ECR_BUF_INIT;
	int rc;
	/* S3's DELETE succeeds for a missing key: look first. */
	if ((rc = s3_blob_key(&key, s, digest)) == 0) {
		rc = s3_head(s, key.ptr, NULL);
		if (rc == ECR_ENOTFOUND)
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "s3: no blob %s", digest);
		else if (rc == 0)
			rc = s3_delete(s, key.ptr, NULL);
	}
	ecr_buf_dispose(&key);
	return rc;
}

typedef struct s3_blob_walk {
	ecr_blob_store_list_cb cb;
	void *payload;
} s3_blob_walk;

static int s3_list_one(s3_store *s, const char *rel, uint64_t size, int64_t mtime_ms, void *payload)
{
	s3_blob_walk *walk = payload;
	char digest[ECR__DIGEST_STRLEN_MAX];
	const char *alg = rel + strlen("blobs/"), *slash = strchr(alg, '/');
	ecr__digest_alg a;
	(void)s;
	if (!slash || ecr__digest_alg_from_name(&a, alg, (size_t)(slash - alg)) != 0) {
		ecr_error_clear();
		return 0;
	}
	if (!ecr__blob_is_hex(slash + 1, ecr__digest_hex_len(a)))
		return 0;
	snprintf(digest, sizeof(digest), "%s:%s", ecr__digest_alg_name(a), slash + 1);
	return walk->cb(digest, size, mtime_ms, walk->payload);
}

static int s3_list(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload)
{
	s3_blob_walk walk = { cb, payload };
	if (!cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3: list without a callback");
	return s3_list_prefix((s3_store *)self, "blobs/", s3_list_one, &walk);
}

/* --- presigned URLs (SigV4 query-string authentication) --- */

#define S3_PRESIGN_MAX_SECONDS ((int64_t)7 * 24 * 3600)

int ecr__s3_presign(ecr_buf *out, const char *base, const char *host, const char *path, const char *access_key,
	const char *secret, const char *session_token, const char *region, int64_t lifetime_s, int64_t now_s)
{
	ecr_buf cred = ECR_BUF_INIT, query = ECR_BUF_INIT, canon = ECR_BUF_INIT, sts = ECR_BUF_INIT,
		ksecret = ECR_BUF_INIT;
	char amz[20], scope[96], hash[ECR__DIGEST_STRLEN_MAX], sig[65];
	unsigned char k[32], k2[32];
	time_t t = (time_t)now_s;
	struct tm tm;
	int rc;

	if (!out || !base || !host || !path || path[0] != '/' || !access_key || !*access_key || !secret || !region ||
		!*region || strlen(region) > 32 || strchr(region, '/'))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3 presign: missing or invalid argument");
	if (lifetime_s < 1 || lifetime_s > S3_PRESIGN_MAX_SECONDS)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"s3 presign: lifetime %lld s is not within 1 s to 7 days", (long long)lifetime_s);
	if (now_s < 0 || !gmtime_r(&t, &tm) || strftime(amz, sizeof(amz), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "s3 presign: cannot format the date");
	snprintf(scope, sizeof(scope), "%.8s/%s/s3/aws4_request", amz, region);

	/* The canonical query: its parameters in byte order, values encoded as SigV4 wants. */
	if ((rc = ecr__buf_printf(&cred, "%s/%s", access_key, scope)) ||
		(rc = ecr__buf_puts(&query, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=")) ||
		(rc = s3_uri_encode(&query, cred.ptr, false)) ||
		(rc = ecr__buf_printf(&query, "&X-Amz-Date=%s&X-Amz-Expires=%lld", amz, (long long)lifetime_s)) ||
		(session_token && ((rc = ecr__buf_puts(&query, "&X-Amz-Security-Token=")) ||
			(rc = s3_uri_encode(&query, session_token, false)))) ||
		(rc = ecr__buf_puts(&query, "&X-Amz-SignedHeaders=host")))
		goto done;
	if ((rc = ecr__buf_printf(&canon, "GET\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD", path, query.ptr, host)) ||
		(rc = ecr__digest_buf(hash, sizeof(hash), ECR__DIGEST_SHA256, canon.ptr, canon.size)) ||
		(rc = ecr__buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz, scope, hash + 7)) ||
		(rc = ecr__buf_printf(&ksecret, "AWS4%s", secret)))
		goto done;
	if ((rc = ecr__hmac_sha256(k, ksecret.ptr, ksecret.size, amz, 8)) ||
		(rc = ecr__hmac_sha256(k2, k, 32, region, strlen(region))) ||
		(rc = ecr__hmac_sha256(k, k2, 32, "s3", 2)) ||
		(rc = ecr__hmac_sha256(k2, k, 32, "aws4_request", 12)) ||
		(rc = ecr__hmac_sha256(k, k2, 32, sts.ptr, sts.size)))
		goto done;
	ecr__hex_encode(sig, k, 32);
	sig[64] = '\0';
	rc = ecr__buf_printf(out, "%s%s?%s&X-Amz-Signature=%s", base, path, query.ptr, sig);
done:
	memset(k, 0, sizeof(k));
	memset(k2, 0, sizeof(k2));
	if (ksecret.ptr)
		memset(ksecret.ptr, 0, ksecret.size);
	ecr_buf_dispose(&ksecret);
	ecr_buf_dispose(&cred);
	ecr_buf_dispose(&query);
	ecr_buf_dispose(&canon);
	ecr_buf_dispose(&sts);
	return rc;
}

static int s3_presign(ecr_blob_store *self, const char *digest, int64_t lifetime_seconds, ecr_buf *url_out)
{
	s3_store *s = (s3_store *)self;
	ecr_buf key = ECR_BUF_INIT, path = ECR_BUF_INIT, url = ECR_BUF_INIT;
	int rc;

	if (!url_out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "s3 presign: url_out is NULL");
	if ((rc = s3_blob_key(&key, s, digest)) || (rc = s3_path(&path, s, key.ptr)) ||
		(rc = ecr__s3_presign(&url, s->scheme_host, s->host, path.ptr, s->creds.access_key_id,
			s->creds.secret_access_key, s->creds.session_token, s->region, lifetime_seconds,
			ecr__time_now_ms() / 1000)))
		goto done;
	ecr__buf_clear(url_out);
	rc = ecr__buf_put(url_out, url.ptr, url.size);
done:
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&path);
	ecr_buf_dispose(&url);
	return rc;
}

static void s3_free(ecr_blob_store *self)
{
	s3_store *s = (s3_store *)self;
	size_t i;
	if (!s)
		return;
	for (i = 0; i < s->nidle; i++)
		curl_easy_cleanup(s->idle[i]);
	pthread_mutex_destroy(&s->lock);
	ecr__aws_creds_dispose(&s->creds);
	ecr__free(s->scheme_host);
	ecr__free(s->host);
	ecr__free(s->bucket);
	ecr__free(s->prefix);
	ecr__free(s->region);
	ecr__free(s);
}

/* --- construction --- */

static int s3_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode [v, v+len) into a new string. */
static char *s3_decode(const char *v, size_t len)
{
	char *out = ecr__malloc(len + 1), *o = out;
	size_t i;
	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		if (v[i] == '%' && i + 2 < len && s3_hexval(v[i + 1]) >= 0 && s3_hexval(v[i + 2]) >= 0) {
			*o++ = (char)(s3_hexval(v[i + 1]) * 16 + s3_hexval(v[i + 2]));
			i += 2;
		} else {
			*o++ = v[i] == '+' ? ' ' : v[i];
		}
	}
	*o = '\0';
	return out;
}

static bool s3_name_ok(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

static int s3_bad_url(const char *url, const char *why)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_store_s3_new: bad URL '%.200s': %s", url, why);
}

static int s3_parse_url(s3_store *s, const char *url, char **endpoint)
{
	const char *p, *q, *b;
	char *prefix = NULL;
	int rc = 0;

	if (strncmp(url, "s3://", 5) != 0)
		return s3_bad_url(url, "it must start with s3://");
	p = url + 5;
	q = strchr(p, '?');
	b = strchr(p, '/');
	if (b && q && b > q)
		b = NULL;
	{
		size_t blen = b ? (size_t)(b - p) : q ? (size_t)(q - p) : strlen(p);
		if (blen < 3 || blen > 63)
			return s3_bad_url(url, "the bucket name must have 3 to 63 characters");
		if (!(s->bucket = ecr__strndup(p, blen)))
			return ECR_ENOMEM;
		if (!s3_name_ok(s->bucket, ".-_") || s->bucket[0] == '.' || s->bucket[0] == '-')
			return s3_bad_url(url, "bad bucket name");
	}
	if (b) {
		size_t plen = q ? (size_t)(q - b - 1) : strlen(b + 1);
		while (plen && b[plen] == '/')
			plen--;
		if (!(prefix = ecr__strndup(b + 1, plen)))
			return ECR_ENOMEM;
		if (plen > 512 || !s3_name_ok(prefix, "-_./") || strstr(prefix, "//") || strstr(prefix, "..") ||
			prefix[0] == '/' || prefix[0] == '.') {
			ecr__free(prefix);
			return s3_bad_url(url, "the prefix may hold letters, digits and -_./ (no '..', no '//')");
		}
	}
	{
		ecr_buf pb = ECR_BUF_INIT;
		if (prefix && *prefix)
			rc = ecr__buf_printf(&pb, "%s/", prefix);
		else
			rc = ecr__buf_puts(&pb, "");
		ecr__free(prefix);
		if (rc)
			return rc;
		s->prefix = pb.ptr ? ecr__buf_detach(&pb) : ecr__strdup("");
		if (!s->prefix)
			return ECR_ENOMEM;
	}
	while (q && *q) {
		const char *k = q + 1, *e = strchr(k, '&'), *eq;
		size_t len = e ? (size_t)(e - k) : strlen(k);
		char *val;
		eq = memchr(k, '=', len);
		if (!eq)
			return s3_bad_url(url, "a query parameter without '='");
		if (!(val = s3_decode(eq + 1, (size_t)(k + len - eq - 1))))
			return ECR_ENOMEM;
#define S3_KEY_IS(name) ((size_t)(eq - k) == strlen(name) && memcmp(k, name, strlen(name)) == 0)
		if (S3_KEY_IS("endpoint")) {
			ecr__free(*endpoint);
			*endpoint = val;
		} else if (S3_KEY_IS("region")) {
			ecr__free(s->region);
			s->region = val;
			if (!*val || strlen(val) > 32 || !s3_name_ok(val, "-"))
				return s3_bad_url(url, "bad region");
		} else if (S3_KEY_IS("path_style")) {
			bool ok = strcmp(val, "1") == 0 || strcmp(val, "0") == 0 || strcmp(val, "true") == 0 ||
				strcmp(val, "false") == 0;
			s->path_style = strcmp(val, "1") == 0 || strcmp(val, "true") == 0;
			ecr__free(val);
			if (!ok)
				return s3_bad_url(url, "path_style must be 0 or 1");
		} else {
			ecr__free(val);
			return s3_bad_url(url, "unknown parameter");
		}
#undef S3_KEY_IS
		q = e;
	}
	return 0;
}

int ecr_blob_store_s3_new(ecr_blob_store **out, const char *url, uint32_t flags)
{
	s3_store *s = NULL;
	char *endpoint = NULL;
	int rc;

	if (!out || !url)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_store_s3_new: out and url are required");
	*out = NULL;
	if (flags & ~ECR_STORAGE_NOSYNC)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_store_s3_new: unknown flags 0x%x", flags);
	if ((rc = ecr__lazy_curl()) < 0)
		return rc;
	if (!(s = ecr__calloc(1, sizeof(*s))))
		return ECR_ENOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		ecr__free(s);
		return ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "s3: cannot create a mutex");
	}
	if ((rc = s3_parse_url(s, url, &endpoint)))
		goto done;
	if (!s->region && !(s->region = ecr__aws_region_default(NULL)) && !(s->region = ecr__strdup("us-east-1"))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	{
		ecr_buf sh = ECR_BUF_INIT;
		const char *scheme = "https://", *host;
		char *ep_host = NULL;
		if (endpoint) {
			const char *e = endpoint;
			size_t hl;
			if (strncmp(e, "http://", 7) == 0)
				scheme = "http://", e += 7;
			else if (strncmp(e, "https://", 8) == 0)
				e += 8;
			else {
				rc = s3_bad_url(url, "the endpoint must be http:// or https://");
				goto done;
			}
			hl = strcspn(e, "/");
			if (hl == 0 || e[hl + (e[hl] == '/')] != '\0' || !s3_name_ok((ep_host = ecr__strndup(e, hl)) ? ep_host : "",
				".-:[]")) {
				ecr__free(ep_host);
				rc = ep_host || hl == 0 ? s3_bad_url(url, "bad endpoint") : ECR_ENOMEM;
				goto done;
			}
		} else {
			ecr_buf hb = ECR_BUF_INIT;
			if ((rc = ecr__buf_printf(&hb, "s3.%s.amazonaws.com", s->region)))
				goto done;
			ep_host = ecr__buf_detach(&hb);
		}
		host = ep_host;
		if (s->path_style)
			rc = ecr__buf_printf(&sh, "%s", host);
		else
			rc = ecr__buf_printf(&sh, "%s.%s", s->bucket, host);
		if (rc == 0 && !(s->host = ecr__buf_detach(&sh)))
			rc = ECR_ENOMEM;
		ecr__buf_clear(&sh);
		if (rc == 0 && (rc = ecr__buf_printf(&sh, "%s%s", scheme, s->host)) == 0 &&
			!(s->scheme_host = ecr__buf_detach(&sh)))
			rc = ECR_ENOMEM;
		ecr_buf_dispose(&sh);
		ecr__free(ep_host);
		if (rc)
			goto done;
	}
	if ((rc = ecr__aws_creds_resolve(&s->creds, NULL)))
		goto done;
	if (!s->creds.access_key_id || !s->creds.secret_access_key) {
		rc = ecr__fail(ECR_EAUTH, ECR_ERROR_STORAGE,
			"ecr_blob_store_s3_new: no AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials)");
		goto done;
	}
	/* The bucket must be there. */
	{
		s3_req q = { "HEAD", NULL, NULL, NULL, 0, NULL, 0 };
		s3_res res = { 0 };
		rc = s3_do(s, &q, &res);
		if (rc == ECR_EIO)
			rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_STORAGE, "s3: cannot reach bucket %s at %s: %s", s->bucket,
				s->scheme_host, ecr_error_last() ? ecr_error_last()->message : "");
		else if (rc == 0 && res.status == 403)
			rc = s3_status_fail(&res, "access bucket", s->bucket);
		else if (rc == 0 && res.status != 200)
			rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_STORAGE, "s3: bucket %s at %s: HTTP %ld", s->bucket,
				s->scheme_host, res.status);
		ecr_buf_dispose(&res.body);
		if (rc)
			goto done;
	}

	if ((rc = ecr_blob_store_init(&s->base, ECR_BLOB_STORE_VERSION)))
		goto done;
	s->base.stage_open = s3_stage_open;
	s->base.stage_remove = s3_stage_remove;
	s->base.stage_list = s3_stage_list;
	s->base.read_open = s3_read_open;
	s->base.stat = s3_stat;
	s->base.remove = s3_remove;
	s->base.list = s3_list;
	s->base.free = s3_free;
	s->base.presign = s3_presign;
	*out = &s->base;
	s = NULL;
done:
	ecr__free(endpoint);
	if (s)
		s3_free(&s->base);
	return rc;
}
