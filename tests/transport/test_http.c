/* The HTTP client (libecr/transport/http.c) against real servers: an
 * in-process ecrd server (ecr_server on a memory: registry, with /v2/ Basic
 * authentication) and, in front of it, tests/transport/faultproxy.py (a TCP
 * proxy injecting 503/429 answers, dropped connections and delays). */
#include "../helpers/helpers.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "ecr/auth.h"
#include "ecr/server.h"
#include "libecr/core/digest.h"
#include "libecr/core/json.h"
#include "libecr/transport/http.h"
#include "../server/api_client.h"
#include "transport/faultproxy_path.h"

extern char **environ;

#define ADMIN "arn:aws:iam::111122223333:user/admin"
#define BLOB_SIZE (300 * 1000 + 7)

struct fixture {
	ecr_registry *reg;
	ecr_server *srv;
	uint16_t port;
	char base[64];
	char *token;
	unsigned char *blob;
	char digest[80];
	char blob_path[256];
	char *tmp;
};

static struct fixture F;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int group_setup(void **state)
{
	(void)state;
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_principal *p = NULL;
	ecr_repository *repo = NULL, *repo2 = NULL;
	ecr_buf tok = ECR_BUF_INIT;
	int64_t exp = 0;

	ro.account_id = "111122223333";
	ro.region = "eu-west-1";
	assert_ok(ecr_registry_open(&F.reg, "memory:", &ro));
	assert_ok(ecr_principal_create(&p, F.reg, ADMIN, ECR_PRINCIPAL_ADMIN));
	assert_ok(ecr_auth_token_create(&tok, &exp, F.reg, p));
	F.token = strdup(tok.ptr);
	ecr_buf_dispose(&tok);
	ecr_principal_free(p);

	assert_ok(ecr_repository_create(&repo, F.reg, "team/app", NULL));
	assert_ok(ecr_repository_create(&repo2, F.reg, "team/lib", NULL));
	F.blob = malloc(BLOB_SIZE);
	srand(42);
	for (size_t i = 0; i < BLOB_SIZE; i++)
		F.blob[i] = (unsigned char)(rand() >> 7);
	assert_ok(ecr__digest_buf(F.digest, sizeof(F.digest), ECR__DIGEST_SHA256, F.blob, BLOB_SIZE));
	assert_ok(ecr_blob_put(repo, F.digest, F.blob, BLOB_SIZE));
	ecr_repository_free(repo);
	ecr_repository_free(repo2);
	snprintf(F.blob_path, sizeof(F.blob_path), "/v2/team/app/blobs/%s", F.digest);

	F.port = api_server_start(&F.srv, F.reg, 0);
	snprintf(F.base, sizeof(F.base), "http://127.0.0.1:%u", (unsigned)F.port);
	F.tmp = th_tmpdir();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	ecr_server_free(F.srv);
	ecr_registry_free(F.reg);
	free(F.token);
	free(F.blob);
	th_rmtree(F.tmp);
	return 0;
}

/* A client of base (NULL: the server) with the admin's token when creds. */
static ecr__http *client(const char *base, bool creds, unsigned int retries, uint32_t timeout_ms)
{
	ecr__http_config cfg;
	ecr__http *h = NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.base_url = base ? base : F.base;
	if (creds) {
		cfg.username = "AWS";
		cfg.password = F.token;
	}
	cfg.max_retries = retries;
	cfg.timeout_ms = timeout_ms;
	cfg.connect_timeout_ms = 2000;
	cfg.user_agent = "test_http";
	assert_ok(ecr__http_new(&h, &cfg));
	return h;
}

static int get(ecr__http_response *res, ecr__http *h, const char *path)
{
	ecr__http_request req;
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.path = path;
	return ecr__http_do(res, h, &req);
}

/* ---- the proxy ---- */

typedef struct proxy {
	pid_t pid;
	uint16_t port;
	char base[64];
	char port_file[300];
	char stats_file[300];
} proxy;

static int proxy_seq;

static void proxy_start(proxy *px, const char *const *extra)
{
	char target[64];
	const char *argv[40];
	size_t n = 0;
	memset(px, 0, sizeof(*px));
	proxy_seq++;
	snprintf(px->port_file, sizeof(px->port_file), "%s/port-%d", F.tmp, proxy_seq);
	snprintf(px->stats_file, sizeof(px->stats_file), "%s/stats-%d", F.tmp, proxy_seq);
	snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)F.port);
	argv[n++] = "/usr/bin/python3";
	argv[n++] = FAULTPROXY;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--target";
	argv[n++] = target;
	argv[n++] = "--port-file";
	argv[n++] = px->port_file;
	argv[n++] = "--stats-file";
	argv[n++] = px->stats_file;
	for (size_t i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawn(&px->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(rc, 0);
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(px->port_file, "r");
		unsigned port = 0;
		if (f) {
			if (fscanf(f, "%u", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port) {
			px->port = (uint16_t)port;
			snprintf(px->base, sizeof(px->base), "http://127.0.0.1:%u", port);
			return;
		}
		usleep(50 * 1000);
	}
	fail_msg("faultproxy did not start");
}

static void proxy_stop(proxy *px)
{
	if (px->pid > 0) {
		kill(px->pid, SIGTERM);
		waitpid(px->pid, NULL, 0);
		px->pid = 0;
	}
}

/* A counter of the proxy's stats file. */
static long proxy_stat(proxy *px, const char *key)
{
	FILE *f = fopen(px->stats_file, "r");
	char buf[8192];
	size_t n;
	ecr__json *j = NULL;
	int64_t v = -1;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_ok(ecr__json_parse(&j, buf, n, NULL));
	assert_true(ecr__json_get_int(j, key, &v));
	ecr__json_free(j);
	return (long)v;
}

/* ---- the challenge parser ---- */

static void test_transport_http__challenge_parser(void **state)
{
	(void)state;
	ecr__http_challenge c[4];
	size_t n = 0;

	assert_ok(ecr__http_parse_challenge(c, 4, &n,
		"Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:a/b:pull,push\""));
	assert_int_equal(n, 1);
	assert_string_equal(c[0].scheme, "Bearer");
	assert_string_equal(ecr__http_challenge_param(&c[0], "realm"), "https://auth.example/token");
	assert_string_equal(ecr__http_challenge_param(&c[0], "service"), "registry.example");
	/* a quoted comma does not end the parameter */
	assert_string_equal(ecr__http_challenge_param(&c[0], "scope"), "repository:a/b:pull,push");
	ecr__http_challenges_dispose(c, n);

	/* escapes, case-insensitive names, spaces around '=', token values, several challenges */
	assert_ok(ecr__http_parse_challenge(c, 4, &n,
		"Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic REALM = \"simple\" , Foo abc123=="));
	assert_int_equal(n, 3);
	assert_string_equal(c[0].scheme, "Newauth");
	assert_int_equal(c[0].nparams, 3);
	assert_string_equal(ecr__http_challenge_param(&c[0], "type"), "1");
	assert_string_equal(ecr__http_challenge_param(&c[0], "title"), "Login to \"apps\"");
	assert_string_equal(c[1].scheme, "Basic");
	assert_string_equal(ecr__http_challenge_param(&c[1], "realm"), "simple");
	assert_string_equal(c[2].scheme, "Foo");
	assert_string_equal(c[2].token68, "abc123==");
	assert_int_equal(c[2].nparams, 0);
	ecr__http_challenges_dispose(c, n);

	/* a scheme alone, empty quoted value */
	assert_ok(ecr__http_parse_challenge(c, 4, &n, "Negotiate, Basic realm=\"\""));
	assert_int_equal(n, 2);
	assert_string_equal(c[0].scheme, "Negotiate");
	assert_string_equal(ecr__http_challenge_param(&c[1], "realm"), "");
	ecr__http_challenges_dispose(c, n);

	/* garbage: errors, not crashes */
	const char *bad[] = {"Bearer realm=\"unterminated", "Bearer realm=\"x\\", "Bearer realm=", "=x", "Bearer ,=,",
		"Basic realm=\"x\" garbage", "Bearer a=b c=d", "\"quoted\"", "Basic realm=\"a\x01\"", "Bearer a==b=c"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ecr__http_parse_challenge(c, 4, &n, bad[i]);
		if (rc != ECR_EINVALID)
			fail_msg("'%s': %d", bad[i], rc);
		assert_int_equal(n, 0);
	}
	/* bounds */
	assert_int_equal(ecr__http_parse_challenge(c, 2, &n, "A, B, C"), ECR_ELIMIT);
	char many[1024] = "Basic ";
	for (int i = 0; i < 20; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sp%d=v", i ? "," : "", i);
	assert_int_equal(ecr__http_parse_challenge(c, 4, &n, many), ECR_ELIMIT);
	char *huge = malloc(10000);
	memset(huge, 'a', 9999);
	huge[9999] = '\0';
	assert_int_equal(ecr__http_parse_challenge(c, 4, &n, huge), ECR_ELIMIT);
	free(huge);
}

static void test_transport_http__status_error(void **state)
{
	(void)state;
	ecr__http_response res;
	memset(&res, 0, sizeof(res));
	res.status = 403;
	assert_ok(ecr__buf_puts(&res.body, "<html>\x01nope</html>"));
	assert_int_equal(ecr__http_status_error(&res, "GET x"), ECR_EDENIED);
	assert_non_null(strstr(ecr_error_last()->message, "GET x: 403"));
	assert_non_null(strstr(ecr_error_last()->message, "nope"));
	assert_null(strchr(ecr_error_last()->message, '\x01'));
	ecr__buf_clear(&res.body);
	res.status = 404;
	assert_ok(ecr__buf_puts(&res.body, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"no such tag\"}]}"));
	int rc = ecr__http_status_error(&res, "GET y");
	assert_true(rc < 0);
	assert_string_equal(ecr_error_last()->message, "GET y: 404 MANIFEST_UNKNOWN: no such tag");
	ecr__http_response_dispose(&res);
}

/* ---- against the server ---- */

static void test_transport_http__challenge_without_credentials(void **state)
{
	(void)state;
	ecr__http *h = client(NULL, false, 0, 0);
	ecr__http_response res;
	assert_int_equal(get(&res, h, "/v2/"), ECR_EAUTH);
	assert_non_null(strstr(ecr_error_last()->message, "requires credentials"));
	ecr__http_response_dispose(&res);
	/* a request that does not answer challenges gets the 401 itself */
	ecr__http_request req;
	memset(&req, 0, sizeof(req));
	req.path = "/v2/";
	req.no_challenge = true;
	assert_ok(ecr__http_do(&res, h, &req));
	assert_int_equal(res.status, 401);
	assert_int_equal(ecr__http_status_error(&res, "GET /v2/"), ECR_EAUTH);
	ecr__http_response_dispose(&res);
	ecr__http_free(h);
}

static void test_transport_http__basic_token_and_keepalive(void **state)
{
	(void)state;
	ecr__http *h = client(NULL, true, 0, 0);
	ecr__http_response res;
	uint64_t reqs = 0, conns = 0;
	assert_ok(get(&res, h, "/v2/"));
	assert_int_equal(res.status, 200);
	assert_string_equal(res.body.ptr, "{}");
	ecr__http_response_dispose(&res);
	ecr__http_stats(h, &reqs, &conns);
	assert_int_equal(reqs, 2); /* the 401, then the answer */
	/* then Basic goes pre-emptively, over the same connection */
	for (int i = 0; i < 20; i++) {
		assert_ok(get(&res, h, "/v2/"));
		assert_int_equal(res.status, 200);
		ecr__http_response_dispose(&res);
	}
	ecr__http_stats(h, &reqs, &conns);
	assert_int_equal(reqs, 22);
	assert_int_equal(conns, 1);

	/* new credentials replace the old ones */
	assert_ok(ecr__http_set_basic(h, "AWS", "not-a-token"));
	assert_int_equal(get(&res, h, "/v2/"), ECR_EAUTH);
	assert_non_null(strstr(ecr_error_last()->message, "refused"));
	ecr__http_response_dispose(&res);
	assert_ok(ecr__http_set_basic(h, "AWS", F.token));
	assert_ok(get(&res, h, "/v2/"));
	assert_int_equal(res.status, 200);
	ecr__http_response_dispose(&res);
	ecr__http_free(h);
}

static void test_transport_http__link_location_headers(void **state)
{
	(void)state;
	ecr__http *h = client(NULL, true, 0, 0);
	ecr__http_response res;
	char want[256];
	assert_ok(get(&res, h, "/v2/_catalog?n=1"));
	assert_int_equal(res.status, 200);
	assert_non_null(res.link);
	snprintf(want, sizeof(want), "%s/v2/_catalog?n=1&last=team/app", F.base);
	assert_string_equal(res.link, want);
	assert_non_null(res.content_type);
	assert_non_null(strstr(res.content_type, "application/json"));
	ecr__http_response_dispose(&res);
	/* the last page has no next link */
	assert_ok(get(&res, h, "/v2/_catalog?n=10"));
	assert_null(res.link);
	ecr__http_response_dispose(&res);

	/* an upload session: 202, Location as a full URL, Range, UUID */
	ecr__http_request req;
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.path = "/v2/team/app/blobs/uploads/";
	assert_ok(ecr__http_do(&res, h, &req));
	assert_int_equal(res.status, 202);
	assert_non_null(res.upload_uuid);
	snprintf(want, sizeof(want), "%s/v2/team/app/blobs/uploads/%s", F.base, res.upload_uuid);
	assert_string_equal(res.location, want);
	assert_non_null(res.range);
	/* PATCH a chunk to the Location (a full URL on the same host) */
	char *loc = strdup(res.location);
	ecr__http_response_dispose(&res);
	const char *hdrs[] = {"Content-Type: application/octet-stream", NULL};
	memset(&req, 0, sizeof(req));
	req.method = "PATCH";
	req.path = loc;
	req.headers = hdrs;
	req.body = "hello";
	req.body_len = 5;
	assert_ok(ecr__http_do(&res, h, &req));
	assert_int_equal(res.status, 202);
	assert_string_equal(res.range, "0-4");
	ecr__http_response_dispose(&res);
	free(loc);

	/* HEAD of the blob: digest and length */
	memset(&req, 0, sizeof(req));
	req.method = "HEAD";
	req.path = F.blob_path;
	assert_ok(ecr__http_do(&res, h, &req));
	assert_int_equal(res.status, 200);
	assert_string_equal(res.digest, F.digest);
	assert_true(res.content_length_known);
	assert_int_equal(res.content_length, BLOB_SIZE);
	assert_int_equal(res.body.size, 0);
	ecr__http_response_dispose(&res);

	/* a 404 with the OCI error */
	assert_ok(get(&res, h, "/v2/team/app/manifests/nope"));
	assert_int_equal(res.status, 404);
	assert_true(ecr__http_status_error(&res, "GET manifest") < 0);
	assert_non_null(strstr(ecr_error_last()->message, "GET manifest: 404 MANIFEST_UNKNOWN"));
	ecr__http_response_dispose(&res);
	ecr__http_free(h);
}

struct collect {
	unsigned char *data;
	size_t len, cap;
	size_t calls;
	size_t fail_after;
};

static int collect_cb(const void *data, size_t len, void *p)
{
	struct collect *c = p;
	c->calls++;
	if (c->fail_after && c->len + len > c->fail_after)
		return ECR_EUSER;
	assert_true(c->len + len <= c->cap);
	memcpy(c->data + c->len, data, len);
	c->len += len;
	return 0;
}

static void test_transport_http__bodies(void **state)
{
	(void)state;
	ecr__http *h = client(NULL, true, 0, 0);
	ecr__http_response res;
	ecr__http_request req;
	/* buffered: the whole blob */
	assert_ok(get(&res, h, F.blob_path));
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body.size, BLOB_SIZE);
	assert_memory_equal(res.body.ptr, F.blob, BLOB_SIZE);
	ecr__http_response_dispose(&res);
	/* too large for the buffer */
	memset(&req, 0, sizeof(req));
	req.path = F.blob_path;
	req.max_body = 1000;
	assert_int_equal(ecr__http_do(&res, h, &req), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "larger than 1000 bytes"));
	ecr__http_response_dispose(&res);
	/* into a sink */
	struct collect c = {malloc(BLOB_SIZE), 0, BLOB_SIZE, 0, 0};
	req.max_body = 0;
	req.sink = collect_cb;
	req.sink_payload = &c;
	assert_ok(ecr__http_do(&res, h, &req));
	assert_int_equal(res.status, 200);
	assert_int_equal(res.body.size, 0);
	assert_int_equal(c.len, BLOB_SIZE);
	assert_memory_equal(c.data, F.blob, BLOB_SIZE);
	ecr__http_response_dispose(&res);
	/* a sink that stops: its code */
	c.len = 0;
	c.fail_after = 1000;
	assert_int_equal(ecr__http_do(&res, h, &req), ECR_EUSER);
	ecr__http_response_dispose(&res);
	/* an error body does not go to the sink */
	c.len = 0;
	c.calls = 0;
	req.path = "/v2/team/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000";
	assert_ok(ecr__http_do(&res, h, &req));
	assert_int_equal(res.status, 404);
	assert_int_equal(c.calls, 0);
	assert_true(res.body.size > 0);
	ecr__http_response_dispose(&res);
	free(c.data);
	ecr__http_free(h);
}

/* Read a whole stream with reads of chunk bytes into out. */
static int read_all(ecr__http_stream *s, unsigned char *out, size_t cap, size_t chunk, size_t *len_out)
{
	size_t len = 0;
	for (;;) {
		size_t n = 0, want = chunk < cap - len ? chunk : cap - len;
		if (want == 0) {
			unsigned char extra;
			int rc = ecr__http_stream_read(s, &extra, 1, &n);
			if (rc)
				return rc;
			assert_int_equal(n, 0);
			break;
		}
		int rc = ecr__http_stream_read(s, out + len, want, &n);
		if (rc)
			return rc;
		if (n == 0)
			break;
		assert_true(n <= want);
		len += n;
	}
	*len_out = len;
	return 0;
}

static void test_transport_http__stream(void **state)
{
	(void)state;
	ecr__http *h = client(NULL, true, 0, 0);
	ecr__http_stream *s = NULL;
	uint64_t size = 0;
	unsigned char *out = malloc(BLOB_SIZE + 10);
	size_t len = 0;
	size_t chunks[] = {7, 1000, 65536, BLOB_SIZE + 10};
	for (size_t i = 0; i < 4; i++) {
		assert_ok(ecr__http_stream_open(&s, &size, h, F.blob_path, "repository:team/app:pull", 0, 0));
		assert_int_equal(size, BLOB_SIZE);
		memset(out, 0, BLOB_SIZE);
		assert_ok(read_all(s, out, BLOB_SIZE + 10, chunks[i], &len));
		assert_int_equal(len, BLOB_SIZE);
		assert_memory_equal(out, F.blob, BLOB_SIZE);
		ecr__http_stream_close(s);
	}
	/* ranged: offset and length */
	assert_ok(ecr__http_stream_open(&s, &size, h, F.blob_path, NULL, 1000, 5000));
	assert_int_equal(size, BLOB_SIZE);
	assert_ok(read_all(s, out, BLOB_SIZE, 333, &len));
	assert_int_equal(len, 5000);
	assert_memory_equal(out, F.blob + 1000, 5000);
	ecr__http_stream_close(s);
	/* from an offset to the end */
	assert_ok(ecr__http_stream_open(&s, &size, h, F.blob_path, NULL, BLOB_SIZE - 100, 0));
	assert_int_equal(size, BLOB_SIZE);
	assert_ok(read_all(s, out, BLOB_SIZE, 4096, &len));
	assert_int_equal(len, 100);
	assert_memory_equal(out, F.blob + BLOB_SIZE - 100, 100);
	ecr__http_stream_close(s);
	/* closed half-way */
	assert_ok(ecr__http_stream_open(&s, &size, h, F.blob_path, NULL, 0, 0));
	assert_ok(ecr__http_stream_read(s, out, 10, &len));
	assert_int_equal(len, 10);
	ecr__http_stream_close(s);
	/* missing */
	assert_int_equal(ecr__http_stream_open(&s, &size, h,
		"/v2/team/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000", NULL, 0, 0),
		ECR_ENOTFOUND);
	assert_null(s);
	/* without credentials */
	ecr__http *anon = client(NULL, false, 0, 0);
	assert_int_equal(ecr__http_stream_open(&s, &size, anon, F.blob_path, NULL, 0, 0), ECR_EAUTH);
	ecr__http_free(anon);
	free(out);
	ecr__http_free(h);
}

/* ---- faults ---- */

static void test_transport_http__retry_503(void **state)
{
	(void)state;
	proxy px;
	const char *args[] = {"--fail-first", "2", NULL};
	proxy_start(&px, args);
	ecr__http *h = client(px.base, true, 2, 0);
	ecr__http_response res;
	assert_ok(get(&res, h, "/v2/"));
	assert_int_equal(res.status, 200);
	ecr__http_response_dispose(&res);
	/* 503, 503, 401, 200 */
	assert_int_equal(proxy_stat(&px, "requests"), 4);
	assert_int_equal(proxy_stat(&px, "injected"), 2);
	ecr__http_free(h);
	proxy_stop(&px);

	/* more failures than retries: the last status, rc 0 */
	const char *args3[] = {"--fail-first", "3", NULL};
	proxy_start(&px, args3);
	h = client(px.base, true, 2, 0);
	assert_ok(get(&res, h, "/v2/"));
	assert_int_equal(res.status, 503);
	assert_true(ecr__http_status_error(&res, "GET /v2/") < 0);
	assert_non_null(strstr(ecr_error_last()->message, "503"));
	ecr__http_response_dispose(&res);
	assert_int_equal(proxy_stat(&px, "requests"), 3);
	/* no_retry: once */
	ecr__http_request req;
	memset(&req, 0, sizeof(req));
	req.path = "/v2/";
	req.no_retry = true;
	assert_ok(ecr__http_do(&res, h, &req));
	assert_int_equal(res.status, 200);
	ecr__http_response_dispose(&res);
	ecr__http_free(h);
	proxy_stop(&px);
}

static void test_transport_http__throttled(void **state)
{
	(void)state;
	proxy px;
	ecr__http_response res;
	const char *args[] = {"--fail-first", "1", "--status", "429", "--retry-after", "1", NULL};
	proxy_start(&px, args);
	ecr__http *h = client(px.base, true, 1, 0);
	int64_t t0 = now_ms();
	assert_ok(get(&res, h, "/v2/"));
	assert_int_equal(res.status, 200);
	assert_true(now_ms() - t0 >= 950); /* Retry-After */
	ecr__http_response_dispose(&res);
	ecr__http_free(h);
	proxy_stop(&px);

	const char *args2[] = {"--fail-first", "100", "--status", "429", NULL};
	proxy_start(&px, args2);
	h = client(px.base, true, 2, 0);
	assert_int_equal(get(&res, h, "/v2/"), ECR_ETHROTTLED);
	assert_non_null(strstr(ecr_error_last()->message, "429 Too Many Requests after 2 retries"));
	assert_non_null(strstr(ecr_error_last()->message, "TOOMANYREQUESTS"));
	assert_int_equal(res.status, 429); /* still filled */
	ecr__http_response_dispose(&res);
	assert_int_equal(proxy_stat(&px, "requests"), 3);
	ecr__http_free(h);
	proxy_stop(&px);
}

static void test_transport_http__stream_resumes(void **state)
{
	(void)state;
	proxy px;
	uint64_t size = 0;
	size_t len = 0;
	unsigned char *out = malloc(BLOB_SIZE);
	ecr__http_stream *s = NULL;
	/* the first two connections drop after 50000 response bytes */
	const char *args[] = {"--drop-after-bytes", "50000", "--drop-connections", "2", NULL};
	proxy_start(&px, args);
	ecr__http *h = client(px.base, true, 3, 0);
	assert_ok(ecr__http_stream_open(&s, &size, h, F.blob_path, NULL, 0, 0));
	assert_int_equal(size, BLOB_SIZE);
	assert_ok(read_all(s, out, BLOB_SIZE, 4000, &len));
	assert_int_equal(len, BLOB_SIZE);
	assert_memory_equal(out, F.blob, BLOB_SIZE);
	ecr__http_stream_close(s);
	assert_int_equal(proxy_stat(&px, "dropped"), 2);
	ecr__http_free(h);
	proxy_stop(&px);

	/* a ranged stream resumes inside its range */
	proxy_start(&px, args);
	h = client(px.base, true, 3, 0);
	assert_ok(ecr__http_stream_open(&s, &size, h, F.blob_path, NULL, 12345, 200000));
	assert_ok(read_all(s, out, BLOB_SIZE, 100000, &len));
	assert_int_equal(len, 200000);
	assert_memory_equal(out, F.blob + 12345, 200000);
	ecr__http_stream_close(s);
	ecr__http_free(h);
	proxy_stop(&px);

	/* every connection drops: ECR_ENETWORK once the retries are used */
	const char *every[] = {"--drop-every", "50000", NULL};
	proxy_start(&px, every);
	h = client(px.base, true, 2, 0);
	assert_ok(ecr__http_stream_open(&s, &size, h, F.blob_path, NULL, 0, 0));
	assert_int_equal(read_all(s, out, BLOB_SIZE, 4000, &len), ECR_ENETWORK);
	assert_non_null(strstr(ecr_error_last()->message, "resumed"));
	ecr__http_stream_close(s);
	/* and a buffered request into a sink is not retried once bytes were sunk */
	struct collect c = {malloc(BLOB_SIZE), 0, BLOB_SIZE, 0, 0};
	ecr__http_request req;
	ecr__http_response res;
	memset(&req, 0, sizeof(req));
	req.path = F.blob_path;
	req.sink = collect_cb;
	req.sink_payload = &c;
	assert_int_equal(ecr__http_do(&res, h, &req), ECR_ENETWORK);
	assert_non_null(strstr(ecr_error_last()->message, "bytes of the body were received"));
	free(c.data);
	ecr__http_free(h);
	proxy_stop(&px);
	free(out);
}

static void test_transport_http__connection_refused(void **state)
{
	(void)state;
	/* a port nobody listens on */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	ecr__http *h = client(base, true, 1, 0);
	ecr__http_response res;
	ecr__http_stream *s = NULL;
	uint64_t size;
	int64_t t0 = now_ms();
	assert_int_equal(get(&res, h, "/v2/"), ECR_ENETWORK);
	assert_true(now_ms() - t0 < 3000);
	assert_non_null(strstr(ecr_error_last()->message, "GET http://127.0.0.1:"));
	assert_non_null(strstr(ecr_error_last()->message, "connect"));
	assert_int_equal(ecr__http_stream_open(&s, &size, h, F.blob_path, NULL, 0, 0), ECR_ENETWORK);
	uint64_t reqs = 0;
	ecr__http_stats(h, &reqs, NULL);
	assert_int_equal(reqs, 4); /* 2 each */
	ecr__http_free(h);
}

static void test_transport_http__no_progress_timeout(void **state)
{
	(void)state;
	proxy px;
	const char *args[] = {"--delay-ms", "3000", NULL};
	proxy_start(&px, args);
	ecr__http *h = client(px.base, true, 0, 1000);
	ecr__http_response res;
	int64_t t0 = now_ms();
	assert_int_equal(get(&res, h, "/v2/"), ECR_ENETWORK);
	int64_t dt = now_ms() - t0;
	assert_true(dt >= 900 && dt < 2900);
	assert_non_null(strstr(ecr_error_last()->message, "Timeout"));
	ecr__http_free(h);
	proxy_stop(&px);
}

/* ---- threads share one client ---- */

struct worker {
	ecr__http *h;
	int failures;
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	unsigned char *out = malloc(BLOB_SIZE);
	for (int i = 0; i < 10; i++) {
		ecr__http_response res;
		if (get(&res, w->h, "/v2/") != 0 || res.status != 200)
			w->failures++;
		ecr__http_response_dispose(&res);
	}
	ecr__http_stream *s = NULL;
	uint64_t size = 0;
	size_t len = 0, n = 0;
	if (ecr__http_stream_open(&s, &size, w->h, F.blob_path, NULL, 0, 0) != 0) {
		w->failures++;
	} else {
		while (ecr__http_stream_read(s, out + len, BLOB_SIZE - len < 10000 ? BLOB_SIZE - len : 10000, &n) == 0 &&
		       n > 0)
			len += n;
		if (len != BLOB_SIZE || memcmp(out, F.blob, BLOB_SIZE) != 0)
			w->failures++;
		ecr__http_stream_close(s);
	}
	free(out);
	return NULL;
}

static void test_transport_http__threads(void **state)
{
	(void)state;
	ecr__http *h = client(NULL, true, 0, 0);
	struct worker w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i].h = h;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	uint64_t reqs = 0, conns = 0;
	ecr__http_stats(h, &reqs, &conns);
	assert_true(reqs >= 44 && reqs <= 48); /* 40 GETs + 4 streams, and at most one 401 per thread */
	assert_true(conns >= 1 && conns <= 8); /* a pool, not a connection per request */
	ecr__http_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport_http__challenge_parser),
		cmocka_unit_test(test_transport_http__status_error),
		cmocka_unit_test(test_transport_http__challenge_without_credentials),
		cmocka_unit_test(test_transport_http__basic_token_and_keepalive),
		cmocka_unit_test(test_transport_http__link_location_headers),
		cmocka_unit_test(test_transport_http__bodies),
		cmocka_unit_test(test_transport_http__stream),
		cmocka_unit_test(test_transport_http__threads),
		cmocka_unit_test(test_transport_http__retry_503),
		cmocka_unit_test(test_transport_http__throttled),
		cmocka_unit_test(test_transport_http__stream_resumes),
		cmocka_unit_test(test_transport_http__connection_refused),
		cmocka_unit_test(test_transport_http__no_progress_timeout),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("transport/http", tests, group_setup, group_teardown);
}
