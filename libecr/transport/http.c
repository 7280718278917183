/*
 * The HTTP client of the remote transport (libcurl): see http.h.
 *
 * One client = one curl share handle (connections, DNS, TLS sessions) used by
 * every thread, plus a small free list of easy handles. Redirects and
 * authentication challenges are handled here, not by curl, so that an
 * Authorization header never travels to another host.
 */
#include "http.h"

#include "../core/lazy_curl.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "../core/crypto.h"
#include "../core/json.h"
#include "../core/timeutil.h"
#include "ecr/sys/transport.h"

#define HTTP_DEFAULT_MAX_BODY (8u * 1024 * 1024)
#define HTTP_ERROR_BODY_MAX (64u * 1024)
#define HTTP_MAX_REDIRECTS 5
#define HTTP_MAX_TOKENS 64
#define HTTP_MAX_TOKEN_LEN (16u * 1024)
#define HTTP_MAX_CHALLENGE_LEN (8u * 1024)
#define HTTP_MAX_CHALLENGES 8
#define HTTP_FREE_EASY 8
#define HTTP_BACKOFF_BASE_MS 250
#define HTTP_BACKOFF_MAX_MS 8000
#define HTTP_RETRY_AFTER_MAX_S 30
/* A resumed stream that brought this many bytes resets the count of reconnections. */
#define HTTP_RESUME_PROGRESS (1024u * 1024)

typedef struct http_token {
	char *scope;
	char *header;         /* "Authorization: Bearer ..." */
	int64_t valid_until;  /* monotonic ms */
} http_token;

struct ecr__http {
	char *base_url;
	char *ca_file, *ca_path;
	char *user_agent;
	bool insecure;
	long low_speed_time;
	long connect_timeout_ms;
	unsigned int max_retries;
	const ecr__logger *log;

	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	bool share_locks_init;

	pthread_mutex_t lock; /* everything below */
	bool lock_init;
	char *basic_header;   /* "Authorization: Basic ..." or NULL */
	bool basic_asked;     /* the server challenged with Basic once: send it pre-emptively */
	http_token tokens[HTTP_MAX_TOKENS];
	size_t ntokens;
	CURL *free_easy[HTTP_FREE_EASY];
	size_t nfree;

	pthread_mutex_t fetch_lock; /* held while a Bearer token is fetched: one fetch at a time */
	bool fetch_lock_init;

	uint64_t stat_requests, stat_connects; /* __atomic */
};

/* ------------------------------------------------------------------------ */
/* global init, share locks */

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *p)
{
	(void)c, (void)access;
	ecr__http *h = p;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *p)
{
	(void)c;
	ecr__http *h = p;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->share_locks[data]);
}

/* ------------------------------------------------------------------------ */
/* small helpers */

static char *dup_opt(const char *s, int *rc)
{
	if (!s || !*s)
		return NULL;
	char *d = ecr__strdup(s);
	if (!d)
		*rc = ECR_ENOMEM;
	return d;
}

static int make_basic_header(char **out, const char *user, const char *pass)
{
	ecr_buf cred = ECR_BUF_INIT, b64 = ECR_BUF_INIT, hdr = ECR_BUF_INIT;
	int rc;
	*out = NULL;
	if ((rc = ecr__buf_printf(&cred, "%s:%s", user, pass ? pass : "")) ||
	    (rc = ecr__base64_encode(&b64, cred.ptr, cred.size)) ||
	    (rc = ecr__buf_printf(&hdr, "Authorization: Basic %s", b64.ptr)))
		goto done;
	*out = ecr__buf_detach(&hdr);
done:
	if (cred.ptr)
		memset(cred.ptr, 0, cred.size);
	ecr_buf_dispose(&cred);
	ecr_buf_dispose(&b64);
	ecr_buf_dispose(&hdr);
	return rc;
}

static void tokens_clear_locked(ecr__http *h)
{
	for (size_t i = 0; i < h->ntokens; i++) {
		ecr__free(h->tokens[i].scope);
		ecr__free(h->tokens[i].header);
	}
	h->ntokens = 0;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static int lc(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static bool ieq_n(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return false;
	return true;
}

static bool ieq(const char *a, const char *b) { return ieq_n(a, strlen(a), b); }

/* Percent-encode everything but RFC 3986 unreserved characters. */
static int url_encode(ecr_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int rc;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			rc = ecr__buf_put(out, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			rc = ecr__buf_put(out, e, 3);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* Resolve ref against base into a full URL (ecr__malloc'd), NULL when it cannot be resolved. */
static char *url_resolve(const char *base, const char *ref, int *rc)
{
	CURLU *u = curl_url();
	char *s = NULL, *res = NULL;
	if (!u) {
		*rc = ecr__fail_oom();
		return NULL;
	}
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, ref, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		goto done;
	res = ecr__strdup(s);
	if (!res)
		*rc = ECR_ENOMEM;
done:
	curl_free(s);
	curl_url_cleanup(u);
	return res;
}

/* Same scheme, host and port. */
static bool same_origin(const char *a, const char *b)
{
	CURLU *ua = curl_url(), *ub = curl_url();
	bool same = false;
	char *pa[3] = {NULL, NULL, NULL}, *pb[3] = {NULL, NULL, NULL};
	static const CURLUPart parts[3] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
	if (!ua || !ub || curl_url_set(ua, CURLUPART_URL, a, 0) || curl_url_set(ub, CURLUPART_URL, b, 0))
		goto done;
	for (int i = 0; i < 3; i++) {
		if (curl_url_get(ua, parts[i], &pa[i], CURLU_DEFAULT_PORT) ||
		    curl_url_get(ub, parts[i], &pb[i], CURLU_DEFAULT_PORT))
			goto done;
		if (!ieq(pa[i], pb[i]))
			goto done;
	}
	same = true;
done:
	for (int i = 0; i < 3; i++) {
		curl_free(pa[i]);
		curl_free(pb[i]);
	}
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

static bool is_full_url(const char *p)
{
	return p && (strncmp(p, "http://", 7) == 0 || strncmp(p, "https://", 8) == 0);
}

static char *make_url(const ecr__http *h, const char *path)
{
	ecr_buf b = ECR_BUF_INIT;
	if (!path || !*path)
		path = "/";
	int rc = is_full_url(path) ? ecr__buf_puts(&b, path) : ecr__buf_printf(&b, "%s%s%s", h->base_url,
		path[0] == '/' ? "" : "/", path);
	if (rc) {
		ecr_buf_dispose(&b);
		return NULL;
	}
	return ecr__buf_detach(&b);
}

/* Copy at most max printable bytes of data into out[outlen]. */
static void printable(char *out, size_t outlen, const char *data, size_t len, size_t max)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o < max && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c >= 0x20 && c < 0x7f)
			out[o++] = (char)c;
		else if ((c == '\n' || c == '\r' || c == '\t') && o && out[o - 1] != ' ')
			out[o++] = ' ';
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static uint32_t random_u32(void)
{
	uint32_t r = 0;
	if (ecr__random_bytes(&r, sizeof(r)))
		r = (uint32_t)ecr__time_monotonic_ms() * 2654435761u;
	return r;
}

static void sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Wait before retry number attempt (0-based): full jitter, or Retry-After. */
static void backoff(const ecr__http *h, unsigned int attempt, long retry_after_s, const char *what)
{
	int64_t ms;
	if (retry_after_s >= 0) {
		ms = (retry_after_s > HTTP_RETRY_AFTER_MAX_S ? HTTP_RETRY_AFTER_MAX_S : retry_after_s) * 1000LL;
	} else {
		int64_t cap = HTTP_BACKOFF_BASE_MS;
		for (unsigned int i = 0; i < attempt && cap < HTTP_BACKOFF_MAX_MS; i++)
			cap *= 2;
		if (cap > HTTP_BACKOFF_MAX_MS)
			cap = HTTP_BACKOFF_MAX_MS;
		ms = (int64_t)(random_u32() % (uint32_t)(cap + 1));
	}
	ecr__log(h->log, ECR_LOG_DEBUG, "http: retry %u of %s in %" PRId64 " ms", attempt + 1, what, ms);
	sleep_ms(ms);
}

static bool retryable_curl(CURLcode cc)
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

static bool retryable_status(long st) { return st == 429 || st == 500 || st == 502 || st == 503 || st == 504; }

static bool is_redirect(long st) { return st == 301 || st == 302 || st == 303 || st == 307 || st == 308; }

/* ------------------------------------------------------------------------ */
/* the client */

int ecr__http_new(ecr__http **out, const ecr__http_config *cfg)
{
	ecr__http *h = NULL;
	int rc = 0;
	*out = NULL;
	if (!cfg || !cfg->base_url || !is_full_url(cfg->base_url))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "http: the base URL must be http:// or https://");
	if ((rc = ecr__lazy_curl()) < 0)
		return rc;
	if (!(h = ecr__calloc(1, sizeof(*h))))
		return ECR_ENOMEM;
	h->base_url = ecr__strdup(cfg->base_url);
	if (!h->base_url) {
		rc = ECR_ENOMEM;
		goto done;
	}
	size_t bl = strlen(h->base_url);
	while (bl > 0 && h->base_url[bl - 1] == '/')
		h->base_url[--bl] = '\0';
	h->ca_file = dup_opt(cfg->ca_file, &rc);
	h->ca_path = dup_opt(cfg->ca_path, &rc);
	if (rc)
		goto done;
	{
		ecr_buf ua = ECR_BUF_INIT;
		if ((rc = ecr__buf_printf(&ua, "libecr/%d.%d.%d%s%s", ECR_VERSION_MAJOR, ECR_VERSION_MINOR,
			     ECR_VERSION_PATCH, cfg->user_agent && *cfg->user_agent ? " " : "",
			     cfg->user_agent ? cfg->user_agent : ""))) {
			ecr_buf_dispose(&ua);
			goto done;
		}
		h->user_agent = ecr__buf_detach(&ua);
	}
	h->insecure = cfg->insecure;
	uint32_t tmo = cfg->timeout_ms ? cfg->timeout_ms : 60000;
	h->low_speed_time = (long)((tmo + 999) / 1000);
	h->connect_timeout_ms = cfg->connect_timeout_ms ? (long)cfg->connect_timeout_ms : 10000;
	h->max_retries = cfg->max_retries;
	h->log = cfg->log;
	if (cfg->username && *cfg->username && (rc = make_basic_header(&h->basic_header, cfg->username, cfg->password)))
		goto done;

	if (pthread_mutex_init(&h->lock, NULL) != 0) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_OS, "http: mutex init failed");
		goto done;
	}
	h->lock_init = true;
	if (pthread_mutex_init(&h->fetch_lock, NULL) != 0) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_OS, "http: mutex init failed");
		goto done;
	}
	h->fetch_lock_init = true;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	h->share_locks_init = true;
	if (!(h->share = curl_share_init())) {
		rc = ecr__fail_oom();
		goto done;
	}
	if (curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) ||
	    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
	    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "http: curl share setup failed");
		goto done;
	}
	*out = h;
	h = NULL;
done:
	ecr__http_free(h);
	return rc;
}

void ecr__http_free(ecr__http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nfree; i++)
		curl_easy_cleanup(h->free_easy[i]);
	if (h->share)
		curl_share_cleanup(h->share);
	if (h->share_locks_init)
		for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&h->share_locks[i]);
	tokens_clear_locked(h);
	if (h->lock_init)
		pthread_mutex_destroy(&h->lock);
	if (h->fetch_lock_init)
		pthread_mutex_destroy(&h->fetch_lock);
	if (h->basic_header) {
		memset(h->basic_header, 0, strlen(h->basic_header));
		ecr__free(h->basic_header);
	}
	ecr__free(h->base_url);
	ecr__free(h->ca_file);
	ecr__free(h->ca_path);
	ecr__free(h->user_agent);
	ecr__free(h);
}

const char *ecr__http_base_url(const ecr__http *h) { return h->base_url; }

void ecr__http_stats(ecr__http *h, uint64_t *requests_out, uint64_t *connects_out)
{
	if (requests_out)
		*requests_out = __atomic_load_n(&h->stat_requests, __ATOMIC_RELAXED);
	if (connects_out)
		*connects_out = __atomic_load_n(&h->stat_connects, __ATOMIC_RELAXED);
}

int ecr__http_set_basic(ecr__http *h, const char *username, const char *password)
{
	char *hdr = NULL;
	int rc;
	if (username && *username && (rc = make_basic_header(&hdr, username, password)))
		return rc;
	pthread_mutex_lock(&h->lock);
	char *old = h->basic_header;
	h->basic_header = hdr;
	tokens_clear_locked(h);
	pthread_mutex_unlock(&h->lock);
	if (old) {
		memset(old, 0, strlen(old));
		ecr__free(old);
	}
	return 0;
}

static CURL *easy_get(ecr__http *h)
{
	CURL *c = NULL;
	pthread_mutex_lock(&h->lock);
	if (h->nfree)
		c = h->free_easy[--h->nfree];
	pthread_mutex_unlock(&h->lock);
	if (c)
		curl_easy_reset(c);
	else
		c = curl_easy_init();
	return c;
}

static void easy_put(ecr__http *h, CURL *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&h->lock);
	if (h->nfree < HTTP_FREE_EASY) {
		h->free_easy[h->nfree++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->lock);
	if (c)
		curl_easy_cleanup(c);
}

/* The Authorization header to send pre-emptively for scope (a copy), or NULL. */
static char *auth_preemptive(ecr__http *h, const char *scope, int *kind)
{
	char *res = NULL;
	int64_t now = ecr__time_monotonic_ms();
	*kind = 0;
	pthread_mutex_lock(&h->lock);
	const char *key = scope ? scope : "";
	for (size_t i = 0; i < h->ntokens; i++) {
		if (strcmp(h->tokens[i].scope, key) == 0 && h->tokens[i].valid_until > now) {
			res = ecr__strdup(h->tokens[i].header);
			*kind = 2;
			break;
		}
	}
	if (!res && h->basic_asked && h->basic_header) {
		res = ecr__strdup(h->basic_header);
		*kind = 1;
	}
	pthread_mutex_unlock(&h->lock);
	if (!res)
		*kind = 0;
	return res;
}

/* A copy of the valid cached token header of scope, or NULL. */
static char *token_lookup(ecr__http *h, const char *scope)
{
	char *res = NULL;
	int64_t now = ecr__time_monotonic_ms();
	const char *key = scope ? scope : "";
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->ntokens; i++)
		if (strcmp(h->tokens[i].scope, key) == 0 && h->tokens[i].valid_until > now) {
			res = ecr__strdup(h->tokens[i].header);
			break;
		}
	pthread_mutex_unlock(&h->lock);
	if (!res)
		ecr__error_clear();
	return res;
}

static void token_forget(ecr__http *h, const char *scope)
{
	const char *key = scope ? scope : "";
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->ntokens; i++) {
		if (strcmp(h->tokens[i].scope, key) == 0) {
			ecr__free(h->tokens[i].scope);
			ecr__free(h->tokens[i].header);
			h->tokens[i] = h->tokens[--h->ntokens];
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
}

static void token_store(ecr__http *h, const char *scope, const char *header, int64_t valid_until)
{
	const char *key = scope ? scope : "";
	char *k = ecr__strdup(key), *v = ecr__strdup(header);
	if (!k || !v) {
		ecr__free(k);
		ecr__free(v);
		ecr__error_clear();
		return;
	}
	pthread_mutex_lock(&h->lock);
	size_t slot = h->ntokens;
	for (size_t i = 0; i < h->ntokens; i++)
		if (strcmp(h->tokens[i].scope, key) == 0) {
			slot = i;
			break;
		}
	if (slot == HTTP_MAX_TOKENS) {
		/* full: replace the one that expires first */
		slot = 0;
		for (size_t i = 1; i < h->ntokens; i++)
			if (h->tokens[i].valid_until < h->tokens[slot].valid_until)
				slot = i;
	}
	if (slot < h->ntokens) {
		ecr__free(h->tokens[slot].scope);
		ecr__free(h->tokens[slot].header);
	} else {
		h->ntokens++;
	}
	h->tokens[slot].scope = k;
	h->tokens[slot].header = v;
	h->tokens[slot].valid_until = valid_until;
	pthread_mutex_unlock(&h->lock);
}

/* ------------------------------------------------------------------------ */
/* responses */

void ecr__http_response_dispose(ecr__http_response *res)
{
	if (!res)
		return;
	ecr_buf_dispose(&res->body);
	ecr__free(res->content_type);
	ecr__free(res->location);
	ecr__free(res->digest);
	ecr__free(res->range);
	ecr__free(res->link);
	ecr__free(res->upload_uuid);
	memset(res, 0, sizeof(*res));
	res->content_length = UINT64_MAX;
}

/* The state of one transfer (one request/response on an easy handle). */
typedef struct xfer {
	ecr__http *h;
	ecr__http_response *res;
	const char *method;
	const char *url;
	/* response headers that are not in res */
	ecr_buf www_auth;
	long retry_after; /* seconds, -1 when absent */
	char *content_range;
	char *location_raw, *link_raw;
	bool headers_done;
	/* body policy */
	ecr__http_sink_cb sink;
	void *sink_payload;
	size_t max_body;
	uint64_t sunk;
	int cb_rc; /* a callback's failure (error set) */
	/* request body */
	const ecr__http_request *req;
	size_t mem_off;
	/* pull-mode stream */
	struct ecr__http_stream *stream;
} xfer;

static void xfer_reset_headers(xfer *x)
{
	ecr__http_response_dispose(x->res);
	ecr_buf_dispose(&x->www_auth);
	ecr__free(x->content_range);
	ecr__free(x->location_raw);
	ecr__free(x->link_raw);
	x->content_range = x->location_raw = x->link_raw = NULL;
	x->retry_after = -1;
	x->headers_done = false;
}

static void xfer_dispose(xfer *x)
{
	ecr_buf_dispose(&x->www_auth);
	ecr__free(x->content_range);
	ecr__free(x->location_raw);
	ecr__free(x->link_raw);
	x->content_range = x->location_raw = x->link_raw = NULL;
}

/* The target of a rel="next" link in a Link header value, or NULL. */
static char *link_next(const char *v, size_t len, int *rc)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && (is_space(v[i]) || v[i] == ','))
			i++;
		if (i >= len || v[i] != '<')
			return NULL;
		size_t us = ++i;
		while (i < len && v[i] != '>')
			i++;
		if (i >= len)
			return NULL;
		size_t ue = i++;
		bool next = false;
		/* params up to the next comma outside quotes */
		while (i < len && v[i] != ',') {
			while (i < len && (is_space(v[i]) || v[i] == ';'))
				i++;
			size_t ns = i;
			while (i < len && v[i] != '=' && v[i] != ';' && v[i] != ',' && !is_space(v[i]))
				i++;
			size_t ne = i;
			while (i < len && is_space(v[i]))
				i++;
			if (i < len && v[i] == '=') {
				i++;
				while (i < len && is_space(v[i]))
					i++;
				char val[64];
				size_t vl = 0;
				if (i < len && v[i] == '"') {
					i++;
					while (i < len && v[i] != '"') {
						if (v[i] == '\\' && i + 1 < len)
							i++;
						if (vl + 1 < sizeof(val))
							val[vl++] = v[i];
						i++;
					}
					if (i < len)
						i++;
				} else {
					while (i < len && v[i] != ';' && v[i] != ',' && !is_space(v[i])) {
						if (vl + 1 < sizeof(val))
							val[vl++] = v[i];
						i++;
					}
				}
				val[vl] = '\0';
				if (ieq_n(v + ns, ne - ns, "rel")) {
					/* a space-separated list of relations */
					char *save = NULL;
					for (char *t = strtok_r(val, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
						if (ieq(t, "next"))
							next = true;
				}
			} else if (ne == ns && i < len && v[i] != ',' && v[i] != ';') {
				i++; /* garbage: skip a byte */
			}
		}
		if (next) {
			char *r = ecr__strndup(v + us, ue - us);
			if (!r)
				*rc = ECR_ENOMEM;
			return r;
		}
	}
	return NULL;
}

static int set_str(char **dst, const char *v, size_t len)
{
	char *d = ecr__strndup(v, len);
	if (!d)
		return ECR_ENOMEM;
	ecr__free(*dst);
	*dst = d;
	return 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
	xfer *x = p;
	size_t len = size * n;
	int rc = 0;
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		xfer_reset_headers(x);
		const char *sp = memchr(data, ' ', len);
		long st = 0;
		if (sp) {
			for (const char *q = sp + 1; q < data + len && *q >= '0' && *q <= '9' && st < 1000; q++)
				st = st * 10 + (*q - '0');
		}
		x->res->status = st;
		return len;
	}
	size_t l = len;
	while (l && (data[l - 1] == '\n' || data[l - 1] == '\r'))
		l--;
	if (l == 0) {
		if (x->res->status >= 200 || x->res->status == 0)
			x->headers_done = true;
		return len;
	}
	const char *colon = memchr(data, ':', l);
	if (!colon)
		return len;
	size_t nl = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vl = l - nl - 1;
	while (vl && is_space(*v))
		v++, vl--;
	while (vl && is_space(v[vl - 1]))
		vl--;
	if (ieq_n(data, nl, "content-type"))
		rc = set_str(&x->res->content_type, v, vl);
	else if (ieq_n(data, nl, "location"))
		rc = set_str(&x->location_raw, v, vl);
	else if (ieq_n(data, nl, "docker-content-digest"))
		rc = set_str(&x->res->digest, v, vl);
	else if (ieq_n(data, nl, "range"))
		rc = set_str(&x->res->range, v, vl);
	else if (ieq_n(data, nl, "docker-upload-uuid"))
		rc = set_str(&x->res->upload_uuid, v, vl);
	else if (ieq_n(data, nl, "content-range"))
		rc = set_str(&x->content_range, v, vl);
	else if (ieq_n(data, nl, "link")) {
		if (!x->link_raw)
			x->link_raw = link_next(v, vl, &rc);
	} else if (ieq_n(data, nl, "content-length")) {
		uint64_t cl = 0;
		size_t i = 0;
		for (; i < vl && v[i] >= '0' && v[i] <= '9'; i++) {
			if (cl > (UINT64_MAX - 9) / 10)
				break;
			cl = cl * 10 + (uint64_t)(v[i] - '0');
		}
		if (i == vl && vl > 0) {
			x->res->content_length = cl;
			x->res->content_length_known = true;
		}
	} else if (ieq_n(data, nl, "retry-after")) {
		long s = 0;
		size_t i = 0;
		for (; i < vl && v[i] >= '0' && v[i] <= '9' && s < 100000; i++)
			s = s * 10 + (v[i] - '0');
		if (i == vl && vl > 0)
			x->retry_after = s;
	} else if (ieq_n(data, nl, "www-authenticate")) {
		if (x->www_auth.size + vl + 2 <= HTTP_MAX_CHALLENGE_LEN) {
			if (x->www_auth.size)
				rc = ecr__buf_puts(&x->www_auth, ", ");
			if (!rc)
				rc = ecr__buf_put(&x->www_auth, v, vl);
		}
	}
	if (rc) {
		x->cb_rc = rc;
		return 0;
	}
	return len;
}

static size_t stream_on_body(xfer *x, char *data, size_t len);

static size_t on_body(char *data, size_t size, size_t n, void *p)
{
	xfer *x = p;
	size_t len = size * n;
	long st = x->res->status;
	if (st >= 200 && st < 300) {
		if (x->stream)
			return stream_on_body(x, data, len);
		if (x->sink) {
			int rc = x->sink(data, len, x->sink_payload);
			if (rc) {
				x->cb_rc = rc < 0 ? rc : ecr__fail(ECR_EUSER, ECR_ERROR_CALLBACK, "http: the sink stopped");
				return 0;
			}
			x->sunk += len;
			return len;
		}
		if (len > x->max_body || x->res->body.size > x->max_body - len) {
			x->cb_rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_TRANSPORT, "%s %s: the response body is larger than %zu bytes",
				x->method, x->url, x->max_body);
			return 0;
		}
		int rc = ecr__buf_put(&x->res->body, data, len);
		if (rc) {
			x->cb_rc = rc;
			return 0;
		}
		return len;
	}
	/* an error (or redirect, or challenge) body: bounded, excess dropped */
	size_t room = x->res->body.size < HTTP_ERROR_BODY_MAX ? HTTP_ERROR_BODY_MAX - x->res->body.size : 0;
	if (room) {
		int rc = ecr__buf_put(&x->res->body, data, len < room ? len : room);
		if (rc) {
			x->cb_rc = rc;
			return 0;
		}
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *p)
{
	xfer *x = p;
	size_t len = size * n;
	const ecr__http_request *req = x->req;
	if (req->source) {
		size_t got = 0;
		int rc = req->source(buf, len, &got, req->source_payload);
		if (rc) {
			x->cb_rc = rc < 0 ? rc : ecr__fail(ECR_EUSER, ECR_ERROR_CALLBACK, "http: the body source failed");
			return CURL_READFUNC_ABORT;
		}
		return got > len ? len : got;
	}
	size_t left = req->body_len - x->mem_off;
	if (len > left)
		len = left;
	if (len)
		memcpy(buf, (const char *)req->body + x->mem_off, len);
	x->mem_off += len;
	return len;
}

static int on_seek(void *p, curl_off_t off, int origin)
{
	xfer *x = p;
	if (off != 0 || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	if (x->req->source) {
		if (!x->req->rewind || x->req->rewind(x->req->source_payload) != 0)
			return CURL_SEEKFUNC_CANTSEEK;
	}
	x->mem_off = 0;
	return CURL_SEEKFUNC_OK;
}

static void setup_common(ecr__http *h, CURL *c, const char *url, xfer *x, char *errbuf)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->low_speed_time);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->insecure ? 0L : 2L);
	if (h->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	if (h->ca_path)
		curl_easy_setopt(c, CURLOPT_CAPATH, h->ca_path);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	errbuf[0] = '\0';
}

static bool header_is(const char *hdr, const char *name)
{
	size_t n = strlen(name);
	return strncasecmp(hdr, name, n) == 0 && (hdr[n] == ':' || hdr[n] == ';');
}

static bool headers_have(const char *const *headers, const char *name)
{
	for (size_t i = 0; headers && headers[i]; i++)
		if (header_is(headers[i], name))
			return true;
	return false;
}

/* After the transfer: resolve Location and Link against the request URL. */
static int finish_headers(xfer *x, const char *url)
{
	int rc = 0;
	if (x->location_raw) {
		x->res->location = url_resolve(url, x->location_raw, &rc);
		if (rc)
			return rc;
	}
	if (x->link_raw) {
		x->res->link = url_resolve(url, x->link_raw, &rc);
		if (rc)
			return rc;
	}
	return 0;
}

static void count_connects(ecr__http *h, CURL *c)
{
	long nc = 0;
	if (curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nc) == CURLE_OK && nc > 0)
		__atomic_add_fetch(&h->stat_connects, (uint64_t)nc, __ATOMIC_RELAXED);
}

/* The server's explanation of an error response, into out. */
static void describe_body(const ecr__http_response *res, char *out, size_t outlen)
{
	ecr__json *j = NULL;
	ecr__json_limits lim = {HTTP_ERROR_BODY_MAX, 16, 4096, HTTP_ERROR_BODY_MAX};
	out[0] = '\0';
	if (!res->body.size)
		return;
	ecr__error_saved saved;
	ecr__error_save(&saved);
	if (ecr__json_parse(&j, res->body.ptr, res->body.size, &lim) == 0) {
		const ecr__json *e = ecr__json_at(ecr__json_get(j, "errors"), 0);
		const char *code = ecr__json_get_string(e, "code"), *msg = ecr__json_get_string(e, "message");
		char c[64], m[300];
		printable(c, sizeof(c), code ? code : "", code ? strlen(code) : 0, 60);
		printable(m, sizeof(m), msg ? msg : "", msg ? strlen(msg) : 0, 280);
		if (code || msg)
			snprintf(out, outlen, "%.60s%s%.180s", c, *c && *m ? ": " : "", m);
		ecr__json_free(j);
	}
	ecr__error_restore(&saved);
	if (!out[0])
		printable(out, outlen, res->body.ptr, res->body.size, 200);
}

/* ------------------------------------------------------------------------ */
/* challenges (RFC 7235) */

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool t68char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~+/", c));
}

void ecr__http_challenges_dispose(ecr__http_challenge *c, size_t count)
{
	for (size_t i = 0; c && i < count; i++) {
		ecr__free(c[i].scheme);
		ecr__free(c[i].token68);
		for (size_t k = 0; k < c[i].nparams; k++) {
			ecr__free(c[i].names[k]);
			ecr__free(c[i].values[k]);
		}
		memset(&c[i], 0, sizeof(c[i]));
	}
}

const char *ecr__http_challenge_param(const ecr__http_challenge *c, const char *name)
{
	for (size_t k = 0; c && k < c->nparams; k++)
		if (strcmp(c->names[k], name) == 0)
			return c->values[k];
	return NULL;
}

static void skip_ows(const char *s, size_t *i)
{
	while (is_space(s[*i]))
		(*i)++;
}

/* Is there "token BWS =" (not "==", a token68's padding) at i? */
static bool param_ahead(const char *s, size_t i)
{
	size_t j = i;
	while (tchar(s[j]))
		j++;
	if (j == i)
		return false;
	while (is_space(s[j]))
		j++;
	return s[j] == '=' && s[j + 1] != '=';
}

int ecr__http_parse_challenge(ecr__http_challenge *out, size_t max, size_t *count_out, const char *s)
{
	size_t n = 0, i = 0;
	int rc = 0;
	ecr_buf val = ECR_BUF_INIT;
	*count_out = 0;
	if (!s)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "WWW-Authenticate: empty");
	if (strlen(s) > HTTP_MAX_CHALLENGE_LEN)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_TRANSPORT, "WWW-Authenticate: longer than %u bytes",
			HTTP_MAX_CHALLENGE_LEN);
	for (;;) {
		while (is_space(s[i]) || s[i] == ',')
			i++;
		if (!s[i])
			break;
		size_t ss = i;
		while (tchar(s[i]))
			i++;
		if (i == ss) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "WWW-Authenticate: bad character at %zu", i);
			goto done;
		}
		if (n >= max) {
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_TRANSPORT, "WWW-Authenticate: more than %zu challenges", max);
			goto done;
		}
		ecr__http_challenge *c = &out[n];
		memset(c, 0, sizeof(*c));
		n++;
		if (!(c->scheme = ecr__strndup(s + ss, i - ss))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		if (s[i] && s[i] != ',' && !is_space(s[i])) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "WWW-Authenticate: bad character at %zu", i);
			goto done;
		}
		skip_ows(s, &i);
		if (!s[i] || s[i] == ',')
			continue;
		/* token68? */
		if (!param_ahead(s, i)) {
			size_t ts = i;
			while (t68char(s[i]))
				i++;
			while (s[i] == '=')
				i++;
			size_t te = i;
			skip_ows(s, &i);
			if (te == ts || (s[i] && s[i] != ',')) {
				rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "WWW-Authenticate: bad token68 at %zu", ts);
				goto done;
			}
			if (!(c->token68 = ecr__strndup(s + ts, te - ts))) {
				rc = ECR_ENOMEM;
				goto done;
			}
			continue;
		}
		/* auth-params */
		for (;;) {
			size_t ns = i;
			while (tchar(s[i]))
				i++;
			size_t ne = i;
			skip_ows(s, &i);
			if (ne == ns || s[i] != '=') {
				rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "WWW-Authenticate: bad parameter at %zu", ns);
				goto done;
			}
			i++;
			skip_ows(s, &i);
			ecr__buf_clear(&val);
			if (s[i] == '"') {
				i++;
				for (;;) {
					char ch = s[i];
					if (!ch) {
						rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT,
							"WWW-Authenticate: unterminated quoted string");
						goto done;
					}
					if (ch == '"') {
						i++;
						break;
					}
					if (ch == '\\') {
						if (!s[i + 1]) {
							rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT,
								"WWW-Authenticate: unterminated quoted string");
							goto done;
						}
						ch = s[++i];
					}
					if ((unsigned char)ch < 0x20 && ch != '\t') {
						rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT,
							"WWW-Authenticate: control character in a quoted string");
						goto done;
					}
					if ((rc = ecr__buf_put(&val, &ch, 1)))
						goto done;
					i++;
				}
			} else {
				size_t vs = i;
				while (tchar(s[i]))
					i++;
				if (i == vs) {
					rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "WWW-Authenticate: missing value at %zu",
						vs);
					goto done;
				}
				if ((rc = ecr__buf_put(&val, s + vs, i - vs)))
					goto done;
			}
			if (c->nparams >= ECR__HTTP_CHALLENGE_MAX_PARAMS) {
				rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_TRANSPORT, "WWW-Authenticate: more than %d parameters",
					ECR__HTTP_CHALLENGE_MAX_PARAMS);
				goto done;
			}
			char *name = ecr__strndup(s + ns, ne - ns);
			char *value = ecr__strndup(val.ptr ? val.ptr : "", val.size);
			if (!name || !value) {
				ecr__free(name);
				ecr__free(value);
				rc = ECR_ENOMEM;
				goto done;
			}
			for (char *q = name; *q; q++)
				*q = (char)lc((unsigned char)*q);
			c->names[c->nparams] = name;
			c->values[c->nparams] = value;
			c->nparams++;
			skip_ows(s, &i);
			if (!s[i])
				break;
			if (s[i] != ',') {
				rc = ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "WWW-Authenticate: expected a comma at %zu", i);
				goto done;
			}
			while (is_space(s[i]) || s[i] == ',')
				i++;
			if (!s[i] || !param_ahead(s, i))
				break; /* the next challenge (or the end) */
		}
	}
	*count_out = n;
	n = 0;
done:
	ecr__http_challenges_dispose(out, n);
	ecr_buf_dispose(&val);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* requests */

static int do_request(ecr__http_response *res, ecr__http *h, const ecr__http_request *req);

enum { AUTH_NONE = 0, AUTH_BASIC = 1, AUTH_BEARER = 2 };

/* Fetch a Bearer token; *header_out "Authorization: Bearer ..."; *valid_until_out monotonic ms (0: don't cache). */
static int fetch_token(char **header_out, int64_t *valid_until_out, ecr__http *h, const ecr__http_challenge *c,
	const char *req_scope)
{
	const char *realm = ecr__http_challenge_param(c, "realm");
	const char *service = ecr__http_challenge_param(c, "service");
	const char *scope = ecr__http_challenge_param(c, "scope");
	ecr_buf url = ECR_BUF_INIT, hdr = ECR_BUF_INIT;
	ecr__http_response tres;
	ecr__json *j = NULL;
	char *basic = NULL;
	int rc = 0;
	memset(&tres, 0, sizeof(tres));
	*header_out = NULL;
	*valid_until_out = 0;
	if (!scope || !*scope)
		scope = req_scope;
	if (!realm || !is_full_url(realm))
		return ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "http: a Bearer challenge without an http(s) realm");
	char sep = strchr(realm, '?') ? '&' : '?';
	if ((rc = ecr__buf_puts(&url, realm)))
		goto done;
	if (service && *service) {
		if ((rc = ecr__buf_printf(&url, "%cservice=", sep)) || (rc = url_encode(&url, service)))
			goto done;
		sep = '&';
	}
	if (scope && *scope) {
		if ((rc = ecr__buf_printf(&url, "%cscope=", sep)) || (rc = url_encode(&url, scope)))
			goto done;
	}
	pthread_mutex_lock(&h->lock);
	if (h->basic_header && !(basic = ecr__strdup(h->basic_header)))
		rc = ECR_ENOMEM;
	pthread_mutex_unlock(&h->lock);
	if (rc)
		goto done;
	const char *hdrs[2] = {basic, NULL};
	ecr__http_request treq;
	memset(&treq, 0, sizeof(treq));
	treq.method = "GET";
	treq.path = url.ptr;
	treq.headers = basic ? hdrs : NULL;
	treq.no_challenge = true;
	treq.max_body = 256 * 1024;
	if ((rc = do_request(&tres, h, &treq)))
		goto done;
	if (tres.status != 200) {
		char why[256];
		describe_body(&tres, why, sizeof(why));
		rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "http: the token server %s answered %ld%s%s", realm,
			tres.status, *why ? ": " : "", why);
		goto done;
	}
	ecr__json_limits lim = {256 * 1024, 16, 4096, 64 * 1024};
	if (ecr__json_parse(&j, tres.body.ptr, tres.body.size, &lim) != 0) {
		rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "http: the token server %s answered no JSON", realm);
		goto done;
	}
	const char *tok = ecr__json_get_string(j, "token");
	if (!tok || !*tok)
		tok = ecr__json_get_string(j, "access_token");
	if (!tok || !*tok || strlen(tok) > HTTP_MAX_TOKEN_LEN) {
		rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "http: the token server %s answered no usable token", realm);
		goto done;
	}
	for (const char *q = tok; *q; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
			rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "http: the token of %s has invalid characters", realm);
			goto done;
		}
	int64_t expires_in = 60;
	if (!ecr__json_get_int(j, "expires_in", &expires_in) || expires_in <= 0 || expires_in > 86400 * 366)
		expires_in = 60;
	int64_t now_wall = ecr__time_now_ms(), base_wall = now_wall;
	const char *issued = ecr__json_get_string(j, "issued_at");
	int64_t issued_ms;
	if (issued && ecr__time_parse_iso8601(&issued_ms, issued) == 0 && issued_ms <= now_wall &&
	    issued_ms > now_wall - 5 * 60 * 1000)
		base_wall = issued_ms;
	else
		ecr__error_clear();
	int64_t life = base_wall + expires_in * 1000 - now_wall - 30 * 1000;
	if ((rc = ecr__buf_printf(&hdr, "Authorization: Bearer %s", tok)))
		goto done;
	*header_out = ecr__buf_detach(&hdr);
	*valid_until_out = life > 0 ? ecr__time_monotonic_ms() + life : 0;
done:
	if (basic) {
		memset(basic, 0, strlen(basic));
		ecr__free(basic);
	}
	ecr__json_free(j);
	ecr__http_response_dispose(&tres);
	ecr_buf_dispose(&url);
	ecr_buf_dispose(&hdr);
	return rc;
}

/*
 * Answer a 401's challenge. *auth_out: the header to send on the retry (ours).
 * Returns 0 (retry), 1 (no challenge we can answer: return the response), or an error.
 */
static int answer_challenge(char **auth_out, ecr__http *h, const char *www_auth, int sent_kind, const char *scope,
	const char *method, const char *url, const ecr__http_response *res)
{
	ecr__http_challenge ch[HTTP_MAX_CHALLENGES];
	size_t n = 0;
	int rc;
	char why[256];
	*auth_out = NULL;
	describe_body(res, why, sizeof(why));
	if ((rc = ecr__http_parse_challenge(ch, HTTP_MAX_CHALLENGES, &n, www_auth)) != 0) {
		if (rc == ECR_ENOMEM)
			return rc;
		return ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "%s %s: 401 with an unreadable WWW-Authenticate challenge%s%s",
			method, url, *why ? ": " : "", why);
	}
	const ecr__http_challenge *bearer = NULL, *basic = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!bearer && ieq(ch[i].scheme, "bearer"))
			bearer = &ch[i];
		if (!basic && ieq(ch[i].scheme, "basic"))
			basic = &ch[i];
	}
	if (bearer) {
		int64_t valid_until = 0;
		/*
		 * One fetch at a time: requests that were challenged while another
		 * fetched the scope's token take it from the cache instead of asking
		 * the token server again (parallel blob transfers of a copy).
		 */
		pthread_mutex_lock(&h->fetch_lock);
		if (sent_kind == AUTH_BEARER)
			token_forget(h, scope);
		else
			*auth_out = token_lookup(h, scope);
		if (!*auth_out) {
			ecr__log(h->log, ECR_LOG_DEBUG, "http: %s %s: Bearer challenge, fetching a token", method, url);
			rc = fetch_token(auth_out, &valid_until, h, bearer, scope);
			if (!rc && valid_until)
				token_store(h, scope, *auth_out, valid_until);
		}
		pthread_mutex_unlock(&h->fetch_lock);
	} else if (basic) {
		bool have;
		pthread_mutex_lock(&h->lock);
		have = h->basic_header != NULL;
		if (have) {
			h->basic_asked = true;
			if (!(*auth_out = ecr__strdup(h->basic_header)))
				rc = ECR_ENOMEM;
		}
		pthread_mutex_unlock(&h->lock);
		if (!have)
			rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "%s %s requires credentials (401, Basic)%s%s", method, url,
				*why ? ": " : "", why);
		else if (!rc && sent_kind == AUTH_BASIC)
			rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "%s %s: the credentials were refused (401)%s%s", method,
				url, *why ? ": " : "", why);
		else if (!rc)
			ecr__log(h->log, ECR_LOG_DEBUG, "http: %s %s: Basic challenge, answering", method, url);
	} else {
		rc = 1;
	}
	if (rc && *auth_out) {
		ecr__free(*auth_out);
		*auth_out = NULL;
	}
	ecr__http_challenges_dispose(ch, n);
	return rc;
}

static int network_error(const char *method, const char *url, CURLcode cc, const char *errbuf, uint64_t sunk)
{
	if (sunk)
		return ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT,
			"%s %s: %s (%s) after %" PRIu64 " bytes of the body were received", method, url,
			curl_easy_strerror(cc), errbuf[0] ? errbuf : "-", sunk);
	return ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "%s %s: %s (%s)", method, url, curl_easy_strerror(cc),
		errbuf[0] ? errbuf : "-");
}

/* Build the header list of one attempt. */
static int build_headers(struct curl_slist **out, const char *const *user, bool drop_user_auth, const char *ours,
	bool has_body, bool streamed)
{
	struct curl_slist *l = NULL, *t;
	bool has_ct = false;
	*out = NULL;
	for (size_t i = 0; user && user[i]; i++) {
		if (header_is(user[i], "authorization") && (drop_user_auth || ours))
			continue;
		if (header_is(user[i], "content-type"))
			has_ct = true;
		if (!(t = curl_slist_append(l, user[i])))
			goto oom;
		l = t;
	}
	if (ours) {
		if (!(t = curl_slist_append(l, ours)))
			goto oom;
		l = t;
	}
	if (!has_ct) {
		if (!(t = curl_slist_append(l, has_body ? "Content-Type: application/octet-stream" : "Content-Type:")))
			goto oom;
		l = t;
	}
	if (streamed) {
		if (!(t = curl_slist_append(l, "Expect:")))
			goto oom;
		l = t;
	}
	*out = l;
	return 0;
oom:
	curl_slist_free_all(l);
	return ecr__fail_oom();
}

static int do_request(ecr__http_response *res, ecr__http *h, const ecr__http_request *req)
{
	const char *method = req->method && *req->method ? req->method : "GET";
	char *url = NULL, *orig_url = NULL, *override_auth = NULL, *pre_auth = NULL;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE];
	CURL *c = NULL;
	xfer x;
	unsigned int attempt = 0, redirects = 0;
	bool answered = false, with_body = true, first = true;
	int rc = 0;

	memset(&x, 0, sizeof(x));
	memset(res, 0, sizeof(*res));
	res->content_length = UINT64_MAX;
	x.h = h;
	x.res = res;
	x.req = req;
	x.retry_after = -1;
	x.max_body = req->max_body ? req->max_body : HTTP_DEFAULT_MAX_BODY;
	x.sink = req->sink;
	x.sink_payload = req->sink_payload;
	if (!(url = make_url(h, req->path)) || !(orig_url = ecr__strdup(url))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if (!(c = easy_get(h))) {
		rc = ecr__fail_oom();
		goto done;
	}
	for (;;) {
		bool has_body = with_body && (req->body_len > 0 || req->source);
		bool can_replay = !req->source || req->rewind;
		if (!first && has_body && req->source) {
			if (!req->rewind) {
				rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "%s %s: cannot resend a streamed body", method, url);
				goto done;
			}
			if ((rc = req->rewind(req->source_payload)) != 0) {
				if (rc > 0)
					rc = ecr__fail(ECR_EUSER, ECR_ERROR_CALLBACK, "http: rewinding the body failed");
				goto done;
			}
		}
		first = false;
		x.mem_off = 0;
		x.method = method;
		x.url = url;
		x.sunk = 0;
		xfer_reset_headers(&x);

		/* who gets which Authorization header */
		bool to_base = same_origin(h->base_url, url);
		bool cross = !same_origin(orig_url, url);
		int sent_kind = AUTH_NONE;
		const char *ours = NULL;
		ecr__free(pre_auth);
		pre_auth = NULL;
		if (to_base && !req->no_challenge && !headers_have(req->headers, "authorization")) {
			if (override_auth) {
				ours = override_auth;
				sent_kind = strncmp(override_auth, "Authorization: Bearer", 21) == 0 ? AUTH_BEARER : AUTH_BASIC;
			} else if ((pre_auth = auth_preemptive(h, req->scope, &sent_kind))) {
				ours = pre_auth;
			}
		}
		curl_slist_free_all(hdrs);
		hdrs = NULL;
		if ((rc = build_headers(&hdrs, req->headers, cross, ours, has_body, has_body)))
			goto done;

		curl_easy_reset(c);
		setup_common(h, c, url, &x, errbuf);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		if (strcmp(method, "HEAD") == 0) {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (strcmp(method, "GET") == 0 && !has_body) {
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		} else {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
			if (has_body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
			    strcmp(method, "PATCH") == 0) {
				curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
				curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(has_body ? req->body_len : 0));
				curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
				curl_easy_setopt(c, CURLOPT_READDATA, &x);
				curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
				curl_easy_setopt(c, CURLOPT_SEEKDATA, &x);
			}
		}
		__atomic_add_fetch(&h->stat_requests, 1, __ATOMIC_RELAXED);
		CURLcode cc = curl_easy_perform(c);
		count_connects(h, c);
		if (x.cb_rc) {
			rc = x.cb_rc;
			goto done;
		}
		if (cc != CURLE_OK) {
			if (x.sunk) {
				rc = network_error(method, url, cc, errbuf, x.sunk);
				goto done;
			}
			if (retryable_curl(cc) && !req->no_retry && can_replay && attempt < h->max_retries) {
				ecr__log(h->log, ECR_LOG_DEBUG, "http: %s %s: %s", method, url, curl_easy_strerror(cc));
				backoff(h, attempt, -1, url);
				attempt++;
				continue;
			}
			rc = network_error(method, url, cc, errbuf, 0);
			goto done;
		}
		long st = res->status;
		if ((rc = finish_headers(&x, url)))
			goto done;
		ecr__log(h->log, ECR_LOG_DEBUG, "http: %s %s -> %ld", method, url, st);

		if (is_redirect(st) && !req->no_redirect && res->location) {
			if (++redirects > HTTP_MAX_REDIRECTS) {
				rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "%s %s: more than %d redirects", method, orig_url,
					HTTP_MAX_REDIRECTS);
				goto done;
			}
			if (!is_full_url(res->location)) {
				rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "%s %s: redirected to a non-HTTP URL", method,
					url);
				goto done;
			}
			if (st == 303 || ((st == 301 || st == 302) && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
				method = "GET";
				with_body = false;
			}
			ecr__free(url);
			url = res->location;
			res->location = NULL;
			/* a new host never sees the Authorization we answered a challenge with */
			if (override_auth && !same_origin(h->base_url, url)) {
				ecr__free(override_auth);
				override_auth = NULL;
			}
			continue;
		}
		if (st == 401 && !req->no_challenge && x.www_auth.size && to_base) {
			if (answered) {
				char why[256];
				describe_body(res, why, sizeof(why));
				rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "%s %s: 401 Unauthorized after authenticating%s%s",
					method, url, *why ? ": " : "", why);
				goto done;
			}
			char *na = NULL;
			rc = answer_challenge(&na, h, x.www_auth.ptr, sent_kind, req->scope, method, url, res);
			if (rc == 1) {
				rc = 0;
				goto done;
			}
			if (rc)
				goto done;
			answered = true;
			ecr__free(override_auth);
			override_auth = na;
			continue;
		}
		if (retryable_status(st) && !req->no_retry && can_replay && attempt < h->max_retries) {
			backoff(h, attempt, x.retry_after, url);
			attempt++;
			continue;
		}
		if (st == 429) {
			char why[256];
			describe_body(res, why, sizeof(why));
			rc = ecr__fail(ECR_ETHROTTLED, ECR_ERROR_TRANSPORT, "%s %s: 429 Too Many Requests after %u retries%s%s",
				method, url, attempt, *why ? ": " : "", why);
			goto done;
		}
		break;
	}
done:
	if (rc && rc != ECR_ETHROTTLED)
		ecr__http_response_dispose(res);
	xfer_dispose(&x);
	curl_slist_free_all(hdrs);
	easy_put(h, c);
	ecr__free(url);
	ecr__free(orig_url);
	ecr__free(pre_auth);
	ecr__free(override_auth);
	return rc;
}

int ecr__http_do(ecr__http_response *res, ecr__http *h, const ecr__http_request *req)
{
	if (!res || !h || !req)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "http: missing argument");
	return do_request(res, h, req);
}

/* ------------------------------------------------------------------------ */
/* status errors */

int ecr__http_status_error(const ecr__http_response *res, const char *what)
{
	ecr__json *j = NULL;
	ecr__json_limits lim = {HTTP_ERROR_BODY_MAX, 16, 4096, HTTP_ERROR_BODY_MAX};
	int rc = 0;
	long st = res->status;
	if (!what)
		what = "request";
	if (res->body.size && ecr__json_parse(&j, res->body.ptr, res->body.size, &lim) == 0) {
		const ecr__json *e = ecr__json_at(ecr__json_get(j, "errors"), 0);
		const char *code = ecr__json_get_string(e, "code"), *msg = ecr__json_get_string(e, "message");
		if (code && *code) {
			char cb[64], mb[400];
			printable(cb, sizeof(cb), code, strlen(code), 60);
			printable(mb, sizeof(mb), msg ? msg : "", msg ? strlen(msg) : 0, 380);
			int c = ecr_error_from_oci(code, (int)st);
			if (c >= 0)
				c = ECR_ERROR;
			rc = ecr__fail(c, ECR_ERROR_OCI, "%s: %ld %s: %s", what, st, cb, mb);
		}
	}
	ecr__json_free(j);
	if (!rc) {
		char body[256];
		int c = st == 401 ? ECR_EAUTH : st == 403 ? ECR_EDENIED : st == 404 ? ECR_ENOTFOUND
			: st == 416 ? ECR_ERANGE : st == 429 ? ECR_ETHROTTLED : ECR_ERROR;
		printable(body, sizeof(body), res->body.ptr ? res->body.ptr : "", res->body.size, 200);
		rc = ecr__fail(c, ECR_ERROR_OCI, "%s: %ld%s%s", what, st, *body ? ": " : "", body);
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* pull-mode streams */

struct ecr__http_stream {
	ecr__http *h;
	char *url;   /* the original URL */
	char *cur;   /* the URL of the current transfer */
	char *scope;
	CURLM *multi;
	CURL *easy;
	bool attached;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
	xfer x;
	ecr__http_response res;
	char *override_auth;

	uint64_t start;     /* the requested offset */
	uint64_t end;       /* the requested end (exclusive), UINT64_MAX: to the end */
	uint64_t pos;       /* the next byte for the reader */
	uint64_t recv_pos;  /* the next byte from the network */
	uint64_t avail_end; /* the end the server announced (exclusive), UINT64_MAX: unknown */
	uint64_t total;     /* the entity's size, UINT64_MAX: unknown */

	/* the reader's buffer during a read */
	unsigned char *dst;
	size_t dst_len, got;
	ecr_buf side;
	size_t side_off;
	bool paused;
	bool done;
	CURLcode result;
	unsigned int failures;     /* reconnections since the last one that brought HTTP_RESUME_PROGRESS bytes */
	uint64_t connect_pos;      /* recv_pos when the current transfer started */
};

static size_t stream_on_body(xfer *x, char *data, size_t len)
{
	ecr__http_stream *s = x->stream;
	if (!s->dst || s->got == s->dst_len) {
		s->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	size_t total = len;
	/* never past the requested end */
	uint64_t lim = s->end < s->avail_end ? s->end : s->avail_end;
	if (lim != UINT64_MAX) {
		uint64_t left = lim > s->recv_pos ? lim - s->recv_pos : 0;
		if (len > left)
			len = (size_t)left;
	}
	size_t room = s->dst_len - s->got, n = len < room ? len : room;
	memcpy(s->dst + s->got, data, n);
	s->got += n;
	s->recv_pos += n;
	if (len > n) {
		int rc = ecr__buf_put(&s->side, data + n, len - n);
		if (rc) {
			x->cb_rc = rc;
			return 0;
		}
		s->recv_pos += len - n;
	}
	return total;
}

static void stream_detach(ecr__http_stream *s)
{
	if (s->attached) {
		count_connects(s->h, s->easy);
		curl_multi_remove_handle(s->multi, s->easy);
		s->attached = false;
	}
	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	s->paused = false;
	s->done = false;
	s->result = CURLE_OK;
}

/* Run the transfer until: headers are in (until_headers), the reader's buffer got bytes, or it ended. */
static int stream_drive(ecr__http_stream *s, bool until_headers)
{
	for (;;) {
		int running = 0;
		CURLMcode mc = curl_multi_perform(s->multi, &running);
		if (mc != CURLM_OK)
			return ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "GET %s: %s", s->cur, curl_multi_strerror(mc));
		if (s->x.cb_rc)
			return s->x.cb_rc;
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(s->multi, &left)))
			if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy) {
				s->done = true;
				s->result = m->data.result;
			}
		if (s->done)
			return 0;
		if (until_headers ? s->x.headers_done : (s->got > 0 || s->side.size > s->side_off))
			return 0;
		if (s->paused && (!s->dst || s->got == s->dst_len))
			return 0;
		mc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK)
			return ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "GET %s: %s", s->cur, curl_multi_strerror(mc));
	}
}

/* "bytes a-b/N" */
static bool parse_content_range(const char *v, uint64_t *a, uint64_t *b, uint64_t *n)
{
	char *e;
	if (!v || strncasecmp(v, "bytes ", 6) != 0)
		return false;
	v += 6;
	while (*v == ' ')
		v++;
	if (*v < '0' || *v > '9')
		return false;
	*a = strtoull(v, &e, 10);
	if (*e != '-' || e[1] < '0' || e[1] > '9')
		return false;
	*b = strtoull(e + 1, &e, 10);
	if (*e != '/' || *b < *a)
		return false;
	if (e[1] == '*') {
		*n = UINT64_MAX;
		return true;
	}
	if (e[1] < '0' || e[1] > '9')
		return false;
	*n = strtoull(e + 1, &e, 10);
	return *e == '\0' && *n > *b;
}

/* (Re)connect from recv_pos, answering redirects, challenges and retryable statuses. */
static int stream_connect(ecr__http_stream *s)
{
	ecr__http *h = s->h;
	unsigned int redirects = 0, attempt = 0;
	bool answered = false;
	char *pre_auth = NULL;
	int rc = 0;

	ecr__free(s->cur);
	if (!(s->cur = ecr__strdup(s->url)))
		return ECR_ENOMEM;
	for (;;) {
		stream_detach(s);
		s->x.cb_rc = 0;
		xfer_reset_headers(&s->x);
		ecr__buf_clear(&s->side);
		s->side_off = 0;

		bool to_base = same_origin(h->base_url, s->cur);
		int sent_kind = AUTH_NONE;
		const char *ours = NULL;
		ecr__free(pre_auth);
		pre_auth = NULL;
		if (to_base) {
			if (s->override_auth) {
				ours = s->override_auth;
				sent_kind = strncmp(ours, "Authorization: Bearer", 21) == 0 ? AUTH_BEARER : AUTH_BASIC;
			} else if ((pre_auth = auth_preemptive(h, s->scope, &sent_kind))) {
				ours = pre_auth;
			}
		}
		if ((rc = build_headers(&s->hdrs, NULL, false, ours, false, false)))
			goto done;
		if (s->recv_pos > 0 || s->end != UINT64_MAX) {
			char range[80];
			if (s->end != UINT64_MAX)
				snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, s->recv_pos, s->end - 1);
			else
				snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", s->recv_pos);
			struct curl_slist *t = curl_slist_append(s->hdrs, range);
			if (!t) {
				rc = ecr__fail_oom();
				goto done;
			}
			s->hdrs = t;
		}
		curl_easy_reset(s->easy);
		s->x.method = "GET";
		s->x.url = s->cur;
		setup_common(h, s->easy, s->cur, &s->x, s->errbuf);
		curl_easy_setopt(s->easy, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
		if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) {
			rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "GET %s: cannot start the transfer", s->cur);
			goto done;
		}
		s->attached = true;
		s->dst = NULL;
		__atomic_add_fetch(&h->stat_requests, 1, __ATOMIC_RELAXED);
		if ((rc = stream_drive(s, true)))
			goto done;
		if (!s->x.headers_done) {
			CURLcode cc = s->done ? s->result : CURLE_GOT_NOTHING;
			if (retryable_curl(cc) && attempt < h->max_retries) {
				backoff(h, attempt, -1, s->cur);
				attempt++;
				continue;
			}
			rc = network_error("GET", s->cur, cc, s->errbuf, 0);
			goto done;
		}
		long st = s->res.status;
		ecr__log(h->log, ECR_LOG_DEBUG, "http: GET %s (from byte %" PRIu64 ") -> %ld", s->cur, s->recv_pos, st);
		if (st >= 200 && st < 300) {
			uint64_t a, b, n;
			if (st == 206) {
				if (!parse_content_range(s->x.content_range, &a, &b, &n) || a != s->recv_pos) {
					rc = ecr__fail(ECR_ERANGE, ECR_ERROR_TRANSPORT,
						"GET %s: asked for bytes from %" PRIu64 ", the server answered Content-Range %s", s->cur,
						s->recv_pos, s->x.content_range ? s->x.content_range : "(none)");
					goto done;
				}
				s->avail_end = b + 1;
				s->total = n;
			} else {
				if (s->recv_pos != 0) {
					rc = ecr__fail(ECR_ERANGE, ECR_ERROR_TRANSPORT,
						"GET %s: asked for bytes from %" PRIu64 ", the server answered %ld with the whole blob",
						s->cur, s->recv_pos, st);
					goto done;
				}
				s->avail_end = s->res.content_length_known ? s->res.content_length : UINT64_MAX;
				s->total = s->avail_end;
			}
			s->connect_pos = s->recv_pos;
			goto done;
		}
		/* not the body: let the transfer finish (its body is bounded) */
		while (!s->done)
			if ((rc = stream_drive(s, false)))
				goto done;
		if ((rc = finish_headers(&s->x, s->cur)))
			goto done;
		if (is_redirect(st) && s->res.location && is_full_url(s->res.location)) {
			if (++redirects > HTTP_MAX_REDIRECTS) {
				rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "GET %s: more than %d redirects", s->url,
					HTTP_MAX_REDIRECTS);
				goto done;
			}
			ecr__free(s->cur);
			s->cur = s->res.location;
			s->res.location = NULL;
			continue;
		}
		if (st == 401 && s->x.www_auth.size && to_base) {
			if (answered) {
				char why[256];
				describe_body(&s->res, why, sizeof(why));
				rc = ecr__fail(ECR_EAUTH, ECR_ERROR_TRANSPORT, "GET %s: 401 Unauthorized after authenticating%s%s",
					s->cur, *why ? ": " : "", why);
				goto done;
			}
			char *na = NULL;
			rc = answer_challenge(&na, h, s->x.www_auth.ptr, sent_kind, s->scope, "GET", s->cur, &s->res);
			if (rc == 1) {
				rc = ecr__http_status_error(&s->res, s->cur);
				goto done;
			}
			if (rc)
				goto done;
			answered = true;
			ecr__free(s->override_auth);
			s->override_auth = na;
			continue;
		}
		if (retryable_status(st) && attempt < h->max_retries) {
			backoff(h, attempt, s->x.retry_after, s->cur);
			attempt++;
			continue;
		}
		{
			ecr_buf what = ECR_BUF_INIT;
			if (ecr__buf_printf(&what, "GET %s", s->cur)) {
				rc = ECR_ENOMEM;
				goto done;
			}
			rc = ecr__http_status_error(&s->res, what.ptr);
			ecr_buf_dispose(&what);
			if (st == 404 && rc != ECR_ENOTFOUND)
				rc = ecr__error_recode(ECR_ENOTFOUND);
			if (st == 429)
				rc = ecr__error_recode(ECR_ETHROTTLED);
		}
		goto done;
	}
done:
	ecr__free(pre_auth);
	return rc;
}

int ecr__http_stream_open(ecr__http_stream **out, uint64_t *size_out, ecr__http *h, const char *path,
	const char *scope, uint64_t offset, uint64_t length)
{
	ecr__http_stream *s = NULL;
	int rc = 0;
	*out = NULL;
	if (size_out)
		*size_out = UINT64_MAX;
	if (!(s = ecr__calloc(1, sizeof(*s))))
		return ECR_ENOMEM;
	s->h = h;
	s->x.h = h;
	s->x.res = &s->res;
	s->x.stream = s;
	s->x.retry_after = -1;
	s->res.content_length = UINT64_MAX;
	s->start = s->pos = s->recv_pos = offset;
	s->avail_end = s->total = UINT64_MAX;
	s->end = UINT64_MAX;
	if (length) {
		if (offset > UINT64_MAX - length) {
			rc = ecr__fail(ECR_ERANGE, ECR_ERROR_TRANSPORT, "http: range overflows");
			goto done;
		}
		s->end = offset + length;
	}
	if (!(s->url = make_url(h, path)) || (scope && !(s->scope = ecr__strdup(scope)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if (!(s->multi = curl_multi_init()) || !(s->easy = curl_easy_init())) {
		rc = ecr__fail_oom();
		goto done;
	}
	if ((rc = stream_connect(s)))
		goto done;
	if (size_out)
		*size_out = s->total;
	*out = s;
	s = NULL;
done:
	ecr__http_stream_close(s);
	return rc;
}

int ecr__http_stream_read(ecr__http_stream *s, void *buf, size_t len, size_t *nread_out)
{
	int rc = 0;
	*nread_out = 0;
	if (!s)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_TRANSPORT, "http: no stream");
	uint64_t lim = s->end < s->avail_end ? s->end : s->avail_end;
	if (lim != UINT64_MAX && s->pos >= lim)
		return 0;
	if (lim != UINT64_MAX && len > lim - s->pos)
		len = (size_t)(lim - s->pos);
	if (!len)
		return 0;
	for (;;) {
		if (s->side.size > s->side_off) {
			size_t n = s->side.size - s->side_off;
			if (n > len)
				n = len;
			memcpy(buf, s->side.ptr + s->side_off, n);
			s->side_off += n;
			if (s->side_off == s->side.size) {
				ecr__buf_clear(&s->side);
				s->side_off = 0;
			}
			s->pos += n;
			*nread_out = n;
			return 0;
		}
		lim = s->end < s->avail_end ? s->end : s->avail_end;
		if (lim != UINT64_MAX && s->pos >= lim)
			return 0;
		if (!s->done && s->attached) {
			s->dst = buf;
			s->dst_len = len;
			s->got = 0;
			if (s->paused) {
				s->paused = false;
				curl_easy_pause(s->easy, CURLPAUSE_CONT);
			}
			rc = s->x.cb_rc;
			if (!rc && s->got == 0 && s->side.size == s->side_off)
				rc = stream_drive(s, false);
			size_t got = s->got;
			s->dst = NULL;
			s->got = 0;
			if (rc)
				return rc;
			if (got) {
				s->pos += got;
				*nread_out = got;
				return 0;
			}
			if (!s->done)
				continue;
		}
		/* the transfer ended */
		if (s->attached && s->done && s->result == CURLE_OK &&
		    (s->avail_end == UINT64_MAX || s->recv_pos >= s->avail_end || s->recv_pos >= s->end))
			return 0;
		/* dropped (or short): resume from the next byte */
		CURLcode cc = s->done ? s->result : CURLE_GOT_NOTHING;
		if (cc == CURLE_OK)
			cc = CURLE_PARTIAL_FILE;
		if (s->recv_pos - s->connect_pos >= HTTP_RESUME_PROGRESS)
			s->failures = 0;
		if (s->failures >= s->h->max_retries)
			return ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT,
				"GET %s: %s (%s) at byte %" PRIu64 ", after %u resumed transfers", s->cur, curl_easy_strerror(cc),
				s->errbuf[0] ? s->errbuf : "-", s->recv_pos, s->failures);
		ecr__log(s->h->log, ECR_LOG_DEBUG, "http: GET %s: %s at byte %" PRIu64 ", resuming", s->cur,
			curl_easy_strerror(cc), s->recv_pos);
		backoff(s->h, s->failures, -1, s->url);
		s->failures++;
		if ((rc = stream_connect(s)))
			return rc;
	}
}

void ecr__http_stream_close(ecr__http_stream *s)
{
	if (!s)
		return;
	if (s->easy) {
		stream_detach(s);
		curl_easy_cleanup(s->easy);
	}
	if (s->multi)
		curl_multi_cleanup(s->multi);
	xfer_dispose(&s->x);
	ecr__http_response_dispose(&s->res);
	ecr_buf_dispose(&s->side);
	ecr__free(s->url);
	ecr__free(s->cur);
	ecr__free(s->scope);
	ecr__free(s->override_auth);
	ecr__free(s);
}
