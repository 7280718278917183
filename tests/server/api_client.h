/* A small HTTP client shared by the CMocka tests of libecr/server (the
 * control plane's ecr_api*.c and /v2/ authentication): it starts an ecr_server on a registry, sends
 * X-Amz-Target JSON requests with libcurl, and offers JSON lookups that fail
 * the test when a member is missing. Every function fails the running test
 * (cmocka) instead of returning an error. */
#ifndef ECR_TESTS_SERVER_API_CLIENT_H
#define ECR_TESTS_SERVER_API_CLIENT_H

#include "../helpers/helpers.h"

#include <curl/curl.h>

#include "libecr/core/json.h"

/* One HTTP reply. Start with `reply r = {0};`: every request disposes of the
 * previous reply first. */
typedef struct reply {
	long status;
	char *body; /* NUL-terminated, or NULL when empty */
	size_t len;
	char *headers; /* the raw header block, NUL-terminated, or NULL */
	size_t headers_len;
	ecr__json *json;  /* the parsed body, or NULL */
	const char *type; /* __type, or NULL */
} reply;

void reply_dispose(reply *r);

/* Start a server (ECR_SERVER_* flags) serving reg; returns its port. */
uint16_t api_server_start(ecr_server **srv, ecr_registry *reg, uint32_t flags);

/* A request to http://127.0.0.1:port/ with the method (NULL: curl's default),
 * X-Amz-Target: ...<op> when op is not NULL, the body (may be NULL) and extra
 * headers (may be NULL; freed here). The body is parsed as JSON when it is. */
void api_send(reply *r, uint16_t port, const char *method, const char *op, const char *body, struct curl_slist *extra);
/* POST / with X-Amz-Target: ...<op> and a JSON body; the reply must be JSON. */
void api_call(reply *r, uint16_t port, const char *op, const char *body);
/* A request to http://127.0.0.1:port<path> (any route: /v2/...), with a Host
 * header and the whole Authorization value when not NULL, and a body (may be
 * NULL); HEAD asks for no body. Returns the status; the body is not parsed. */
long api_request(reply *r, uint16_t port, const char *method, const char *path, const char *host, const char *auth,
                 const char *body);
/* GET url, with an Accept header when accept is not NULL; the body is not parsed. */
void api_get(reply *r, const char *url, const char *accept);

/* 200 with a JSON object, no __type, and the control plane's headers. */
void expect_ok(const reply *r);
/* This status and __type, with the x-amzn-ErrorType header and a message. */
void expect_error_status(const reply *r, long status, const char *type);
/* expect_error_status(r, 400, type) */
void expect_error(const reply *r, const char *type);

/* JSON lookups that fail the test when missing or of another type. */
const ecr__json *jget(const ecr__json *v, const char *key);
const char *jstr(const ecr__json *v, const char *key);
size_t jcount(const ecr__json *v, const char *key);
const ecr__json *jat(const ecr__json *v, const char *key, size_t i);
int64_t jint(const ecr__json *v, const char *key);

#endif
