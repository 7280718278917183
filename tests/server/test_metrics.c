/* The server's metrics (libecr/server/metrics.c): GET /metrics parsed strictly
 * as Prometheus text 0.0.4 (every sample `name{labels} value`, every family
 * with HELP and TYPE first, histogram buckets cumulative with +Inf = count,
 * counters never decreasing between scrapes), exact counts after a known
 * sequence of requests, the access modes, and the embedder's callbacks. */
#include "../helpers/helpers.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <ifaddrs.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../helpers/th_image.h"
#include "ecr/stats.h"
#include "libecr/server/http.h"

/* --- HTTP --- */

typedef struct reply {
	long status;
	char *body;
	size_t len;
	char ctype[128];
} reply;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	reply *r = ud;
	size_t len = sz * n;
	char *b = realloc(r->body, r->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, p, len);
	r->body = b;
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

static void reply_dispose(reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void request(reply *r, const char *method, const char *host, uint16_t port, const char *path, const void *body,
                    size_t len)
{
	char url[512];
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://%s:%u%s", host, (unsigned)port, path);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	struct curl_slist *h = NULL;
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/octet-stream");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	CURLcode cc = curl_easy_perform(c);
	if (cc != CURLE_OK)
		fail_msg("%s %s: %s", method, url, curl_easy_strerror(cc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	char *ct = NULL;
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static long get_status(const char *method, uint16_t port, const char *path)
{
	reply r;
	request(&r, method, "127.0.0.1", port, path, NULL, 0);
	long s = r.status;
	reply_dispose(&r);
	return s;
}

/* --- a strict parser of the exposition --- */

#define MAX_SAMPLES 4096
#define MAX_FAMILIES 256

typedef struct sample {
	char key[512]; /* name{labels} as written */
	char name[128];
	char family[128];
	double value;
} sample;

typedef struct family {
	char name[128];
	char type[16];
	bool help;
} family;

typedef struct scrape {
	sample *samples;
	size_t n;
	family families[MAX_FAMILIES];
	size_t nfam;
} scrape;

static bool name_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static family *find_family(scrape *s, const char *name)
{
	for (size_t i = 0; i < s->nfam; i++)
		if (strcmp(s->families[i].name, name) == 0)
			return &s->families[i];
	return NULL;
}

/* The family a sample belongs to: itself, or a histogram's name without _bucket/_sum/_count. */
static family *family_of(scrape *s, const char *name)
{
	family *f = find_family(s, name);
	if (f)
		return f;
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(name), k = strlen(suffixes[i]);
		if (n > k && strcmp(name + n - k, suffixes[i]) == 0) {
			char base[128];
			snprintf(base, sizeof(base), "%.*s", (int)(n - k), name);
			f = find_family(s, base);
			if (f && strcmp(f->type, "histogram") == 0)
				return f;
		}
	}
	return NULL;
}

/* Labels: name="value"(,name="value")* with \\, \" and \n escapes only. Returns the end ('}') or NULL. */
static const char *parse_labels(const char *p)
{
	if (*p == '}')
		return p;
	for (;;) {
		const char *n = p;
		while (*p && *p != '=')
			p++;
		if (!name_ok(n, (size_t)(p - n)) || p[0] != '=' || p[1] != '"')
			return NULL;
		p += 2;
		while (*p && *p != '"') {
			if (*p == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return NULL;
				p++;
			}
			if (*p == '\n')
				return NULL;
			p++;
		}
		if (*p != '"')
			return NULL;
		p++;
		if (*p == '}')
			return p;
		if (*p != ',')
			return NULL;
		p++;
	}
}

static void parse(scrape *s, const char *text)
{
	memset(s, 0, sizeof(*s));
	s->samples = calloc(MAX_SAMPLES, sizeof(*s->samples));
	assert_non_null(s->samples);
	const char *line = text;
	size_t lineno = 0;
	assert_true(strlen(text) > 0);
	assert_int_equal(text[strlen(text) - 1], '\n');
	while (*line) {
		const char *end = strchr(line, '\n');
		assert_non_null(end);
		lineno++;
		char buf[1024];
		size_t len = (size_t)(end - line);
		if (len >= sizeof(buf))
			fail_msg("line %zu too long", lineno);
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = end + 1;
		if (buf[0] == '#') {
			char kind[8], name[128];
			int off = 0;
			if (sscanf(buf, "# %7s %127s %n", kind, name, &off) < 2 || !name_ok(name, strlen(name)))
				fail_msg("line %zu: bad comment '%s'", lineno, buf);
			family *f = find_family(s, name);
			if (strcmp(kind, "HELP") == 0) {
				if (f && f->help)
					fail_msg("line %zu: second HELP for %s", lineno, name);
				if (!f) {
					assert_true(s->nfam < MAX_FAMILIES);
					f = &s->families[s->nfam++];
					snprintf(f->name, sizeof(f->name), "%s", name);
				}
				f->help = true;
				if (off <= 0 || buf[off] == '\0')
					fail_msg("line %zu: empty HELP", lineno);
			} else if (strcmp(kind, "TYPE") == 0) {
				if (!f || !f->help || f->type[0])
					fail_msg("line %zu: TYPE for %s without HELP before it, or twice", lineno,
					         name);
				const char *t = buf + off;
				if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram"))
					fail_msg("line %zu: unexpected type '%s'", lineno, t);
				snprintf(f->type, sizeof(f->type), "%s", t);
			} else {
				fail_msg("line %zu: unknown comment '%s'", lineno, buf);
			}
			continue;
		}
		assert_true(s->n < MAX_SAMPLES);
		sample *sm = &s->samples[s->n++];
		const char *p = buf;
		while (*p && *p != '{' && *p != ' ')
			p++;
		if (!name_ok(buf, (size_t)(p - buf)))
			fail_msg("line %zu: bad metric name in '%s'", lineno, buf);
		snprintf(sm->name, sizeof(sm->name), "%.*s", (int)(p - buf), buf);
		if (*p == '{') {
			const char *close = parse_labels(p + 1);
			if (!close)
				fail_msg("line %zu: bad labels in '%s'", lineno, buf);
			p = close + 1;
		}
		snprintf(sm->key, sizeof(sm->key), "%.*s", (int)(p - buf), buf);
		if (*p != ' ')
			fail_msg("line %zu: no value in '%s'", lineno, buf);
		char *vend;
		sm->value = strtod(p + 1, &vend);
		if (vend == p + 1 || *vend != '\0' || isnan(sm->value))
			fail_msg("line %zu: bad value in '%s'", lineno, buf);
		family *f = family_of(s, sm->name);
		if (!f || !f->type[0])
			fail_msg("line %zu: sample of %s before its HELP and TYPE", lineno, sm->name);
		snprintf(sm->family, sizeof(sm->family), "%s", f->name);
		for (size_t i = 0; i + 1 < s->n; i++)
			if (strcmp(s->samples[i].key, sm->key) == 0)
				fail_msg("line %zu: duplicate series %s", lineno, sm->key);
	}
}

static void scrape_dispose(scrape *s)
{
	free(s->samples);
}

/* The value of a series, or -1 when absent. */
static double value(const scrape *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->samples[i].key, key) == 0)
			return s->samples[i].value;
	return -1;
}

/* Every histogram: buckets of each series cumulative, ending with +Inf, +Inf == _count. */
static void check_histograms(const scrape *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const sample *b = &s->samples[i];
		size_t nl = strlen(b->name);
		if (nl < 7 || strcmp(b->name + nl - 7, "_bucket") != 0)
			continue;
		/* the series' labels without le */
		const char *le = strstr(b->key, "le=\"");
		assert_non_null(le);
		if (strncmp(le, "le=\"+Inf\"", 9) != 0)
			continue;
		/* walk back over this series' buckets */
		double prev = INFINITY;
		size_t count = 0;
		for (size_t j = i + 1; j-- > 0;) {
			const sample *x = &s->samples[j];
			if (strcmp(x->name, b->name) != 0 || strncmp(x->key, b->key, (size_t)(le - b->key)) != 0)
				break;
			if (x->value > prev)
				fail_msg("buckets not cumulative at %s", x->key);
			prev = x->value;
			count++;
		}
		assert_int_equal(count, 15); /* 14 bounds and +Inf */
		char ckey[512];
		/* the _count series: same labels as the buckets without le */
		char labels[512];
		snprintf(labels, sizeof(labels), "%.*s", (int)(le - b->key - nl), b->key + nl);
		size_t ll = strlen(labels);
		if (ll && labels[ll - 1] == ',')
			labels[ll - 1] = '\0';
		snprintf(ckey, sizeof(ckey), "%.*s_count%s}", (int)(nl - 7), b->name, labels);
		double c = value(s, ckey);
		if (c != b->value)
			fail_msg("%s is %g, +Inf bucket %g", ckey, c, b->value);
	}
}

/* Counters of the first scrape are present in the second with a value at least as large. */
static void check_monotonic(const scrape *a, const scrape *b)
{
	for (size_t i = 0; i < a->n; i++) {
		const family *f = NULL;
		for (size_t k = 0; k < a->nfam; k++)
			if (strcmp(a->families[k].name, a->samples[i].family) == 0)
				f = &a->families[k];
		assert_non_null(f);
		/* a histogram's buckets, sum (of latencies) and count only grow too */
		bool counter = strcmp(f->type, "counter") == 0 || strcmp(f->type, "histogram") == 0;
		if (!counter)
			continue;
		double v = value(b, a->samples[i].key);
		if (v < a->samples[i].value)
			fail_msg("%s went from %g to %g", a->samples[i].key, a->samples[i].value, v);
	}
}

/* The sum of the requests counted, without (or only, for metrics_route) the scrapes. */
static double requests_counted(const scrape *s, bool metrics_route)
{
	double total = 0;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->samples[i].name, "ecr_http_requests_total") == 0 &&
		    (strstr(s->samples[i].key, "route=\"metrics\"") != NULL) == metrics_route)
			total += s->samples[i].value;
	return total;
}

static void get_metrics(scrape *s, uint16_t port);

/* A request is counted when libmicrohttpd reports it completed, which may come a moment after the client has the
 * answer: scrape until exactly `requests` other requests and at least `scrapes` scrapes are counted (5 s at most). */
static void get_metrics_settled(scrape *s, uint16_t port, double requests, double scrapes)
{
	for (int i = 0;; i++) {
		get_metrics(s, port);
		if (requests_counted(s, false) == requests && requests_counted(s, true) >= scrapes)
			return;
		if (i == 500)
			fail_msg("counted %g requests and %g scrapes, expected %g and %g at least",
			         requests_counted(s, false), requests_counted(s, true), requests, scrapes);
		scrape_dispose(s);
		usleep(10000);
	}
}

static void get_metrics(scrape *s, uint16_t port)
{
	reply r;
	request(&r, "GET", "127.0.0.1", port, "/metrics", NULL, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	parse(s, r.body);
	check_histograms(s);
	reply_dispose(&r);
}

/* --- fixture --- */

typedef struct fixture {
	ecr_registry *reg;
	ecr_server *srv;
	uint16_t port;
} fixture;

static int extra_calls;

static int extra_metrics(ecr_buf *out, void *payload)
{
	const char *value = payload;
	extra_calls++;
	ecr_buf line = ECR_BUF_INIT;
	int rc = ecr_metrics_escape(&line, value);
	if (rc)
		return rc;
	char text[512];
	snprintf(text, sizeof(text),
	         "# HELP test_extra An embedder's line.\n# TYPE test_extra gauge\n"
	         "test_extra{what=\"%s\"} 42\n",
	         line.ptr);
	ecr_buf_dispose(&line);
	return ecr_metrics_append(out, text, strlen(text));
}

static int failing_metrics(ecr_buf *out, void *payload)
{
	(void)out;
	(void)payload;
	return ecr__fail(ECR_EIO, ECR_ERROR_OS, "the embedder failed");
}

static void start(fixture *f, const char *bind, int access, ecr_server_metrics_cb cb, void *payload)
{
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	memset(f, 0, sizeof(*f));
	o.flags = ECR_SERVER_NO_AUTH | ECR_SERVER_CREATE_ON_PUSH;
	o.bind_address = bind;
	o.threads = 2;
	assert_ok(ecr_registry_open(&f->reg, "memory:", NULL));
	assert_ok(ecr_server_new(&f->srv, &o));
	assert_ok(ecr_server_add_registry(f->srv, f->reg, NULL));
	if (access >= 0)
		assert_ok(ecr_server_set_metrics(f->srv, (ecr_server_metrics_access)access));
	if (cb)
		assert_ok(ecr_server_add_metrics_cb(f->srv, cb, payload));
	assert_ok(ecr_server_start(f->srv));
	f->port = ecr_server_port(f->srv);
}

static void stop(fixture *f)
{
	ecr_server_free(f->srv);
	ecr_registry_free(f->reg);
}

/* --- tests --- */

static void test_server_metrics__exact_counts(void **state)
{
	(void)state;
	fixture f;
	uint64_t rng = 3;
	th_blob blob;
	char path[512], key[512];
	scrape a, b;

	start(&f, NULL, -1, extra_metrics, "a \"quoted\\ value\nhere");
	assert_ok(th_blob_random(&blob, &rng, 1000));
	for (int i = 0; i < 3; i++)
		assert_int_equal(get_status("GET", f.port, "/v2/"), 200);
	assert_int_equal(get_status("GET", f.port, "/v2/team/app/manifests/latest"), 404);
	assert_int_equal(get_status("GET", f.port, "/v2/team/app/manifests/latest"), 404);
	assert_int_equal(get_status("HEAD", f.port, "/v2/team/app/manifests/latest"), 404);
	assert_int_equal(get_status("GET", f.port, "/nowhere"), 404);
	reply r;
	snprintf(path, sizeof(path), "/v2/team/app/blobs/uploads/?digest=%s", blob.digest);
	request(&r, "POST", "127.0.0.1", f.port, path, blob.data, blob.len);
	assert_int_equal(r.status, 201);
	reply_dispose(&r);
	snprintf(path, sizeof(path), "/v2/team/app/blobs/%s", blob.digest);
	request(&r, "GET", "127.0.0.1", f.port, path, NULL, 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 1000);
	reply_dispose(&r);
	assert_int_equal(get_status("HEAD", f.port, path), 200);

	get_metrics_settled(&a, f.port, 10, 0);
	assert_true(value(&a, "ecr_http_requests_total{route=\"v2_base\",code=\"200\"}") == 3);
	assert_true(value(&a, "ecr_http_requests_total{route=\"manifest_get\",code=\"404\"}") == 2);
	assert_true(value(&a, "ecr_http_requests_total{route=\"manifest_head\",code=\"404\"}") == 1);
	assert_true(value(&a, "ecr_http_requests_total{route=\"other\",code=\"404\"}") == 1);
	assert_true(value(&a, "ecr_http_requests_total{route=\"upload_start\",code=\"201\"}") == 1);
	assert_true(value(&a, "ecr_http_requests_total{route=\"blob_get\",code=\"200\"}") == 1);
	assert_true(value(&a, "ecr_http_requests_total{route=\"blob_head\",code=\"200\"}") == 1);
	/* the scrape itself is counted when it completes (earlier scrapes of the settling loop are) */
	double scrapes = requests_counted(&a, true);
	assert_true(value(&a, "ecr_http_request_duration_seconds_count{route=\"v2_base\"}") == 3);
	assert_true(value(&a, "ecr_http_request_duration_seconds_bucket{route=\"v2_base\",le=\"+Inf\"}") == 3);
	assert_true(value(&a, "ecr_http_request_duration_seconds_count{route=\"manifest_get\"}") == 2);
	assert_true(value(&a, "ecr_http_received_bytes_total{route=\"upload_start\"}") == 1000);
	assert_true(value(&a, "ecr_http_sent_bytes_total{route=\"blob_get\"}") == 1000);
	assert_true(value(&a, "ecr_http_sent_bytes_total{route=\"blob_head\"}") == -1);
	assert_true(value(&a, "ecr_http_uploads_in_flight") == 0);
	assert_true(value(&a, "ecr_http_requests_in_flight") >= 1); /* the scrape, and maybe a completion to come */
	/* the registry served, labelled */
	snprintf(key, sizeof(key), "ecr_gc_runs_total{account=\"%s\",region=\"%s\"}", ecr_registry_account_id(f.reg),
	         ecr_registry_region(f.reg));
	assert_true(value(&a, key) == 0);
	snprintf(key, sizeof(key), "ecr_replication_jobs{account=\"%s\",region=\"%s\",state=\"queued\"}",
	         ecr_registry_account_id(f.reg), ecr_registry_region(f.reg));
	assert_true(value(&a, key) == 0);
	/* the process */
	assert_true(value(&a, "process_resident_memory_bytes") > 1024 * 1024);
	assert_true(value(&a, "process_open_fds") > 3);
	assert_true(value(&a, "process_threads") >= 2);
	assert_true(value(&a, "process_start_time_seconds") > 1.6e9);
	/* the embedder's line, escaped */
	assert_true(value(&a, "test_extra{what=\"a \\\"quoted\\\\ value\\nhere\"}") == 42);
	assert_true(extra_calls >= 1);

	/* a HEAD of /metrics, then a second scrape: counters never decrease */
	assert_int_equal(get_status("HEAD", f.port, "/metrics"), 200);
	assert_int_equal(get_status("GET", f.port, "/v2/"), 200);
	get_metrics_settled(&b, f.port, 11, scrapes + 2);
	check_monotonic(&a, &b);
	assert_true(value(&b, "ecr_http_requests_total{route=\"v2_base\",code=\"200\"}") == 4);
	assert_true(value(&b, "ecr_http_requests_total{route=\"metrics\",code=\"200\"}") >= scrapes + 2);
	assert_true(value(&b, "ecr_http_request_duration_seconds_count{route=\"v2_base\"}") == 4);
	assert_int_equal(get_status("POST", f.port, "/metrics"), 405);

	scrape_dispose(&a);
	scrape_dispose(&b);
	th_blob_dispose(&blob);
	stop(&f);
}

static void test_server_metrics__access(void **state)
{
	(void)state;
	fixture f;

	/* off: no such route */
	start(&f, NULL, ECR_SERVER_METRICS_OFF, NULL, NULL);
	assert_int_equal(get_status("GET", f.port, "/metrics"), 404);
	stop(&f);
	/* any */
	start(&f, NULL, ECR_SERVER_METRICS_ANY, NULL, NULL);
	assert_int_equal(get_status("GET", f.port, "/metrics"), 200);
	assert_int_equal(ecr_server_set_metrics(f.srv, ECR_SERVER_METRICS_OFF), ECR_EBUSY);
	assert_int_equal(ecr_server_add_metrics_cb(f.srv, extra_metrics, NULL), ECR_EBUSY);
	stop(&f);
	/* an embedder's failure fails the scrape */
	start(&f, NULL, ECR_SERVER_METRICS_LOCAL, failing_metrics, NULL);
	assert_int_equal(get_status("GET", f.port, "/metrics"), 500);
	stop(&f);

	/* bad arguments, too many callbacks */
	ecr_server *srv = NULL;
	assert_ok(ecr_server_new(&srv, NULL));
	assert_int_equal(ecr_server_set_metrics(srv, (ecr_server_metrics_access)7), ECR_EINVALID);
	assert_int_equal(ecr_server_add_metrics_cb(srv, NULL, NULL), ECR_EINVALID);
	for (int i = 0; i < 8; i++)
		assert_ok(ecr_server_add_metrics_cb(srv, extra_metrics, NULL));
	assert_int_equal(ecr_server_add_metrics_cb(srv, extra_metrics, NULL), ECR_ELIMIT);
	ecr_server_free(srv);
}

static void test_server_metrics__peer_rule(void **state)
{
	(void)state;
	struct sockaddr_in v4;
	struct sockaddr_in6 v6;
	memset(&v4, 0, sizeof(v4));
	memset(&v6, 0, sizeof(v6));
	v4.sin_family = AF_INET;
	v6.sin6_family = AF_INET6;

	inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
	assert_true(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, (struct sockaddr *)&v4));
	assert_false(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_OFF, (struct sockaddr *)&v4));
	inet_pton(AF_INET, "127.45.6.7", &v4.sin_addr);
	assert_true(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, (struct sockaddr *)&v4));
	inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr);
	assert_false(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, (struct sockaddr *)&v4));
	assert_true(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_ANY, (struct sockaddr *)&v4));
	inet_pton(AF_INET, "128.0.0.1", &v4.sin_addr);
	assert_false(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, (struct sockaddr *)&v4));

	inet_pton(AF_INET6, "::1", &v6.sin6_addr);
	assert_true(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, (struct sockaddr *)&v6));
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr);
	assert_true(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, (struct sockaddr *)&v6));
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &v6.sin6_addr);
	assert_false(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, (struct sockaddr *)&v6));
	inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
	assert_false(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, (struct sockaddr *)&v6));
	assert_true(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_ANY, (struct sockaddr *)&v6));
	assert_false(ecr__metrics_peer_allowed(ECR_SERVER_METRICS_LOCAL, NULL));
}

/* A real peer that is not loopback: the server on 0.0.0.0, reached through this host's first non-loopback IPv4
 * address (skipped when it has none). */
static void test_server_metrics__non_loopback_refused(void **state)
{
	(void)state;
	struct ifaddrs *ifs = NULL, *i;
	char addr[INET_ADDRSTRLEN] = "";
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
				continue;
			const struct sockaddr_in *in = (const struct sockaddr_in *)i->ifa_addr;
			if ((ntohl(in->sin_addr.s_addr) >> 24) == 127)
				continue;
			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
			break;
		}
		freeifaddrs(ifs);
	}
	if (!addr[0])
		skip();
	fixture f;
	reply r;
	start(&f, "0.0.0.0", -1, NULL, NULL);
	request(&r, "GET", addr, f.port, "/metrics", NULL, 0);
	assert_int_equal(r.status, 403);
	assert_null(strstr(r.body ? r.body : "", ecr_registry_account_id(f.reg)));
	reply_dispose(&r);
	request(&r, "GET", "127.0.0.1", f.port, "/metrics", NULL, 0);
	assert_int_equal(r.status, 200);
	reply_dispose(&r);
	request(&r, "GET", addr, f.port, "/v2/", NULL, 0);
	assert_int_equal(r.status, 200); /* only /metrics is refused */
	reply_dispose(&r);
	stop(&f);
}

static void test_server_metrics__escape(void **state)
{
	(void)state;
	ecr_buf b = ECR_BUF_INIT;
	assert_ok(ecr_metrics_escape(&b, "plain"));
	assert_ok(ecr_metrics_escape(&b, "|a\\b\"c\nd|"));
	assert_ok(ecr_metrics_escape(&b, ""));
	assert_string_equal(b.ptr, "plain|a\\\\b\\\"c\\nd|");
	assert_int_equal(ecr_metrics_escape(&b, NULL), ECR_EINVALID);
	ecr_buf_dispose(&b);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_server_metrics__exact_counts),
	    cmocka_unit_test(test_server_metrics__access),
	    cmocka_unit_test(test_server_metrics__peer_rule),
	    cmocka_unit_test(test_server_metrics__non_loopback_refused),
	    cmocka_unit_test(test_server_metrics__escape),
	};
	int rc = cmocka_run_group_tests_name("server/metrics", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
