/* A small client for the ECR control plane, shared by the tests of ecr_api*.c. */
#include "api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGET "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921."
#define MIB (1024 * 1024)

struct sink {
	char **ptr;
	size_t *len;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = sz * n;
	char *b = realloc(*s->ptr, *s->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + *s->len, p, len);
	*s->len += len;
	b[*s->len] = '\0';
	*s->ptr = b;
	return len;
}

void reply_dispose(reply *r)
{
	free(r->body);
	free(r->headers);
	ecr__json_free(r->json);
	memset(r, 0, sizeof(*r));
}

uint16_t api_server_start(ecr_server **srv, ecr_registry *reg, uint32_t flags)
{
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.flags = flags;
	assert_ok(ecr_server_new(srv, &o));
	assert_ok(ecr_server_add_registry(*srv, reg, NULL));
	assert_ok(ecr_server_start(*srv));
	return ecr_server_port(*srv);
}

/* The request itself: status, body and headers, no JSON. h is freed here. */
static void perform(reply *r, const char *url, const char *method, const char *body, struct curl_slist *h)
{
	struct sink bs = {&r->body, &r->len}, hs = {&r->headers, &r->headers_len};
	reply_dispose(r);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (method && strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &bs);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	assert_int_equal(rc, CURLE_OK);
}

static const ecr__json_limits LIMITS = {64 * MIB, 64, 1000000, 64 * MIB};

static void send_to_root(reply *r, uint16_t port, const char *method, const char *op, const char *body,
                         struct curl_slist *h)
{
	char url[64], target[200];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)port);
	if (op) {
		snprintf(target, sizeof(target), TARGET "%s", op);
		h = curl_slist_append(h, target);
	}
	h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
	perform(r, url, method, body, h);
}

void api_send(reply *r, uint16_t port, const char *method, const char *op, const char *body, struct curl_slist *extra)
{
	send_to_root(r, port, method, op, body, extra);
	if (r->len && ecr__json_parse(&r->json, r->body, r->len, &LIMITS) == 0)
		r->type = ecr__json_get_string(r->json, "__type");
}

void api_call(reply *r, uint16_t port, const char *op, const char *body)
{
	send_to_root(r, port, NULL, op, body, NULL);
	assert_ok(ecr__json_parse(&r->json, r->body ? r->body : "", r->len, &LIMITS));
	r->type = ecr__json_get_string(r->json, "__type");
}

long api_request(reply *r, uint16_t port, const char *method, const char *path, const char *host, const char *auth,
                 const char *body)
{
	char url[2048], hdr[512];
	struct curl_slist *h = NULL;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
	if (host) {
		snprintf(hdr, sizeof(hdr), "Host: %s", host);
		h = curl_slist_append(h, hdr);
	}
	if (auth) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
		h = curl_slist_append(h, hdr);
	}
	perform(r, url, method, body, h);
	return r->status;
}

void api_get(reply *r, const char *url, const char *accept)
{
	struct curl_slist *h = NULL;
	char hdr[200];
	if (accept) {
		snprintf(hdr, sizeof(hdr), "Accept: %s", accept);
		h = curl_slist_append(h, hdr);
	}
	perform(r, url, NULL, NULL, h);
}

void expect_ok(const reply *r)
{
	if (r->status != 200 || !r->json || r->json->type != ECR__JSON_OBJECT || r->type)
		fail_msg("expected success, got %ld: %s", r->status, r->body ? r->body : "");
	assert_non_null(r->headers);
	assert_non_null(strstr(r->headers, "application/x-amz-json-1.1"));
	assert_non_null(strstr(r->headers, "x-amzn-RequestId: "));
}

void expect_error_status(const reply *r, long status, const char *type)
{
	if (r->status != status || !r->type || strcmp(r->type, type) != 0)
		fail_msg("expected %ld %s, got %ld: %s", status, type, r->status, r->body ? r->body : "");
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "x-amzn-ErrorType: %s", type);
	assert_non_null(r->headers);
	assert_non_null(strstr(r->headers, hdr));
	assert_non_null(ecr__json_get_string(r->json, "message"));
}

void expect_error(const reply *r, const char *type)
{
	expect_error_status(r, 400, type);
}

const ecr__json *jget(const ecr__json *v, const char *key)
{
	const ecr__json *m = ecr__json_get(v, key);
	if (!m)
		fail_msg("no member '%s'", key);
	return m;
}

const char *jstr(const ecr__json *v, const char *key)
{
	const ecr__json *m = jget(v, key);
	assert_int_equal(m->type, ECR__JSON_STRING);
	return m->string;
}

size_t jcount(const ecr__json *v, const char *key)
{
	const ecr__json *m = jget(v, key);
	assert_int_equal(m->type, ECR__JSON_ARRAY);
	return m->count;
}

const ecr__json *jat(const ecr__json *v, const char *key, size_t i)
{
	const ecr__json *m = jget(v, key);
	assert_true(m->type == ECR__JSON_ARRAY && i < m->count);
	return m->values[i];
}

int64_t jint(const ecr__json *v, const char *key)
{
	const ecr__json *m = jget(v, key);
	assert_true(m->type == ECR__JSON_NUMBER && m->is_integer);
	return m->integer;
}
