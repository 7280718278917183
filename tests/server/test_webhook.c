/* Webhooks (libecr/server/webhook.c) against a real HTTP receiver (libmicrohttpd on loopback): signed
 * deliveries, retries after 5xx and network errors, final 4xx, a stalled receiver never slows the event
 * callback, queue overflow counted, Prometheus lines, and an engine push arriving as an event. */
#include "../helpers/helpers.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../helpers/th_image.h"
#include "ecr/webhook.h"
#include "libecr/core/crypto.h"
#include "libecr/core/json.h"

#define MAX_REQ 64

typedef struct receiver {
	struct MHD_Daemon *d;
	unsigned short port;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fail_first;   /* answer 500 to this many requests first */
	int status;       /* then this status (0: 200) */
	bool stall;       /* hold every request until released */
	int nreq;
	char *bodies[MAX_REQ];
	char sigs[MAX_REQ][80];
	char ctypes[MAX_REQ][64];
} receiver;

typedef struct conn {
	char *data;
	size_t len;
} conn;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	receiver *r = cls;
	conn *cn = *con_cls;
	(void)url;
	(void)version;
	if (!cn) {
		if (!(cn = calloc(1, sizeof(*cn))))
			return MHD_NO;
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_data_size) {
		char *p = realloc(cn->data, cn->len + *upload_data_size + 1);
		if (!p)
			return MHD_NO;
		cn->data = p;
		memcpy(cn->data + cn->len, upload_data, *upload_data_size);
		cn->len += *upload_data_size;
		cn->data[cn->len] = '\0';
		*upload_data_size = 0;
		return MHD_YES;
	}
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Ecr-Signature");
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	int status;
	pthread_mutex_lock(&r->lock);
	int64_t until = now_ms() + 10000;
	while (r->stall && now_ms() < until) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&r->cond, &r->lock, &ts);
	}
	int i = r->nreq++;
	if (i < MAX_REQ) {
		r->bodies[i] = cn->data;
		cn->data = NULL;
		snprintf(r->sigs[i], sizeof(r->sigs[i]), "%s", sig ? sig : "");
		snprintf(r->ctypes[i], sizeof(r->ctypes[i]), "%s", ct ? ct : "");
	}
	status = i < r->fail_first ? 500 : r->status ? r->status : 200;
	(void)method;
	pthread_mutex_unlock(&r->lock);
	struct MHD_Response *resp = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	conn *cn = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (cn) {
		free(cn->data);
		free(cn);
		*con_cls = NULL;
	}
}

static int setup(void **state)
{
	receiver *r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	r->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
		handler, r, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, r,
		MHD_OPTION_END);
	if (!r->d)
		return -1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info)
		return -1;
	r->port = info->port;
	*state = r;
	return 0;
}

static void release(receiver *r)
{
	pthread_mutex_lock(&r->lock);
	r->stall = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static int teardown(void **state)
{
	receiver *r = *state;
	release(r);
	MHD_stop_daemon(r->d);
	for (int i = 0; i < r->nreq && i < MAX_REQ; i++)
		free(r->bodies[i]);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return 0;
}

static int nreq(receiver *r)
{
	pthread_mutex_lock(&r->lock);
	int n = r->nreq;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Wait until the stats say delivered + failed reach n (at most 10 s). */
static ecr_webhook_stats wait_done(ecr_webhooks *wh, uint64_t n)
{
	ecr_webhook_stats st = { .version = ECR_WEBHOOK_STATS_VERSION };
	int64_t until = now_ms() + 10000;
	for (;;) {
		assert_ok(ecr_webhooks_stats(&st, wh));
		if (st.delivered + st.failed >= n || now_ms() > until)
			return st;
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static void url_of(char *out, size_t n, const receiver *r)
{
	snprintf(out, n, "http://127.0.0.1:%u/hook", (unsigned)r->port);
}

static ecr_event sample_event(void)
{
	ecr_event e = { .version = ECR_EVENT_VERSION, .type = ECR_EVENT_IMAGE_PUSH, .account_id = "123456789012",
		.region = "us-west-2", .repository = "app", .digest = "sha256:abcd", .tag = "latest",
		.time_ms = 1700000000000LL };
	return e;
}

static void fast_opts(ecr_webhooks_options *o)
{
	assert_ok(ecr_webhooks_options_init(o, ECR_WEBHOOKS_OPTIONS_VERSION));
	o->backoff_initial_ms = 5;
	o->backoff_max_ms = 20;
	o->timeout_ms = 5000;
}

static void test_server_webhook__signed_delivery(void **state)
{
	receiver *r = *state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	char url[64];
	ecr_event e = sample_event();
	fast_opts(&o);
	url_of(url, sizeof(url), r);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, "s3cr3t"));
	ecr_webhooks_event_cb(&e, wh);
	ecr_webhook_stats st = wait_done(wh, 1);
	assert_int_equal(st.queued, 1);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.retries, 0);
	assert_int_equal(nreq(r), 1);
	assert_string_equal(r->ctypes[0], "application/json");
	/* the signature is the HMAC-SHA256 of the exact body */
	unsigned char mac[32];
	char expect[80], hex[65];
	assert_ok(ecr__hmac_sha256(mac, "s3cr3t", 6, r->bodies[0], strlen(r->bodies[0])));
	ecr__hex_encode(hex, mac, sizeof(mac));
	snprintf(expect, sizeof(expect), "sha256=%s", hex);
	assert_string_equal(r->sigs[0], expect);
	ecr__json *doc = NULL;
	assert_ok(ecr__json_parse(&doc, r->bodies[0], strlen(r->bodies[0]), NULL));
	assert_string_equal(ecr__json_get_string(doc, "detail-type"), "ECR Image Action");
	assert_string_equal(ecr__json_get_string(ecr__json_get(doc, "detail"), "image-tag"), "latest");
	ecr__json_free(doc);
	ecr_webhooks_free(wh);
}

static void test_server_webhook__unsigned_two_endpoints(void **state)
{
	receiver *r = *state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	char url[64];
	ecr_event e = sample_event();
	fast_opts(&o);
	url_of(url, sizeof(url), r);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, NULL));
	assert_ok(ecr_webhooks_add(wh, url, NULL));
	ecr_webhooks_event_cb(&e, wh);
	ecr_webhooks_event_cb(&e, wh);
	ecr_webhook_stats st = wait_done(wh, 4);
	assert_int_equal(st.queued, 4);
	assert_int_equal(st.delivered, 4);
	assert_int_equal(nreq(r), 4);
	assert_string_equal(r->sigs[0], "");
	ecr_webhooks_free(wh);
}

static void test_server_webhook__retries_after_500(void **state)
{
	receiver *r = *state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	char url[64];
	ecr_event e = sample_event();
	r->fail_first = 2;
	fast_opts(&o);
	url_of(url, sizeof(url), r);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, "k"));
	ecr_webhooks_event_cb(&e, wh);
	ecr_webhook_stats st = wait_done(wh, 1);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.retries, 2);
	assert_int_equal(st.failed, 0);
	assert_int_equal(nreq(r), 3);
	/* the same body each attempt */
	assert_string_equal(r->bodies[0], r->bodies[2]);
	ecr_webhooks_free(wh);
}

static void test_server_webhook__gives_up(void **state)
{
	receiver *r = *state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	char url[64];
	ecr_event e = sample_event();
	r->status = 503;
	fast_opts(&o);
	o.max_attempts = 3;
	url_of(url, sizeof(url), r);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, NULL));
	ecr_webhooks_event_cb(&e, wh);
	ecr_webhook_stats st = wait_done(wh, 1);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.delivered, 0);
	assert_int_equal(st.retries, 2);
	assert_int_equal(nreq(r), 3);
	/* a 4xx is final: one attempt */
	r->status = 400;
	ecr_webhooks_event_cb(&e, wh);
	st = wait_done(wh, 2);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.retries, 2);
	assert_int_equal(nreq(r), 4);
	ecr_webhooks_free(wh);
}

static void test_server_webhook__network_error_retried(void **state)
{
	receiver *r = *state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	char url[64];
	ecr_event e = sample_event();
	fast_opts(&o);
	o.max_attempts = 2;
	/* a port nobody listens on: the receiver's, once stopped */
	url_of(url, sizeof(url), r);
	MHD_stop_daemon(r->d);
	r->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler,
		r, MHD_OPTION_NOTIFY_COMPLETED, completed, r, MHD_OPTION_END); /* elsewhere, for teardown */
	assert_non_null(r->d);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, NULL));
	ecr_webhooks_event_cb(&e, wh);
	ecr_webhook_stats st = wait_done(wh, 1);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.retries, 1);
	ecr_webhooks_free(wh);
}

/* A receiver that does not answer never slows the callback; a full queue drops and counts. */
static void test_server_webhook__stalled_receiver_and_overflow(void **state)
{
	receiver *r = *state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	char url[64];
	ecr_event e = sample_event();
	r->stall = true;
	fast_opts(&o);
	o.queue_capacity = 5;
	o.timeout_ms = 8000;
	url_of(url, sizeof(url), r);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, NULL));
	int64_t worst = 0;
	for (int i = 0; i < 200; i++) {
		int64_t t0 = now_ms();
		ecr_webhooks_event_cb(&e, wh);
		int64_t dt = now_ms() - t0;
		if (dt > worst)
			worst = dt;
	}
	printf("# worst event callback latency with the receiver stalled: %lld ms\n", (long long)worst);
	assert_true(worst < 100); /* the receiver holds requests for up to 8 s */
	ecr_webhook_stats st = { .version = ECR_WEBHOOK_STATS_VERSION };
	assert_ok(ecr_webhooks_stats(&st, wh));
	assert_int_equal(st.queued + st.dropped, 200);
	assert_true(st.queued <= 6); /* 5 waiting + at most 1 taken by the delivery thread */
	assert_true(st.dropped >= 194);
	assert_int_equal(st.delivered, 0);

	ecr_buf m = ECR_BUF_INIT;
	assert_ok(ecr_webhooks_metrics(&m, wh));
	char line[64];
	snprintf(line, sizeof(line), "\necr_webhook_dropped_total %llu\n", (unsigned long long)st.dropped);
	assert_non_null(strstr(m.ptr, line));
	assert_non_null(strstr(m.ptr, "# TYPE ecr_webhook_delivered_total counter\n"));
	assert_non_null(strstr(m.ptr, "# TYPE ecr_webhook_pending gauge\n"));
	ecr_buf_dispose(&m);

	/* released: what was queued gets delivered before free returns */
	release(r);
	uint64_t queued = st.queued;
	st = wait_done(wh, queued);
	assert_int_equal(st.delivered, queued);
	ecr_webhooks_free(wh);
}

/* A stalled endpoint does not hold back another one. */
static void test_server_webhook__stalled_endpoint_isolated(void **state)
{
	receiver *r = *state, *good = NULL;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	char url[64], url2[64];
	ecr_event e = sample_event();
	assert_ok(setup((void **)&good));
	r->stall = true;
	fast_opts(&o);
	o.timeout_ms = 8000;
	url_of(url, sizeof(url), r);
	url_of(url2, sizeof(url2), good);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, NULL));
	assert_ok(ecr_webhooks_add(wh, url2, NULL));
	for (int i = 0; i < 3; i++)
		ecr_webhooks_event_cb(&e, wh);
	int64_t until = now_ms() + 5000;
	while (nreq(good) < 3 && now_ms() < until) {
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(nreq(good), 3);
	ecr_webhook_stats st = { .version = ECR_WEBHOOK_STATS_VERSION };
	assert_ok(ecr_webhooks_stats(&st, wh));
	assert_int_equal(st.queued, 6);
	release(r);
	st = wait_done(wh, 6);
	assert_int_equal(st.delivered, 6);
	ecr_webhooks_free(wh);
	void *g = good;
	teardown(&g);
}

/* free with a deadline stops even when the receiver never answers. */
static void test_server_webhook__free_deadline(void **state)
{
	receiver *r = *state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	char url[64];
	ecr_event e = sample_event();
	r->stall = true;
	fast_opts(&o);
	o.timeout_ms = 8000;
	url_of(url, sizeof(url), r);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, NULL));
	for (int i = 0; i < 3; i++)
		ecr_webhooks_event_cb(&e, wh);
	int64_t t0 = now_ms();
	ecr_webhooks_free_deadline(wh, 300);
	int64_t dt = now_ms() - t0;
	printf("# free with a 300 ms deadline and a stalled receiver took %lld ms\n", (long long)dt);
	assert_true(dt < 2000);
}

static void test_server_webhook__bad_input(void **state)
{
	(void)state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	assert_int_equal(ecr_webhooks_options_init(&o, 99), ECR_EINVALID);
	assert_ok(ecr_webhooks_new(&wh, NULL));
	assert_int_equal(ecr_webhooks_add(wh, "ftp://x/", NULL), ECR_EINVALID);
	assert_int_equal(ecr_webhooks_add(wh, "http://a b/", NULL), ECR_EINVALID);
	assert_int_equal(ecr_webhooks_add(wh, NULL, NULL), ECR_EINVALID);
	ecr_webhook_stats st = { .version = 99 };
	assert_int_equal(ecr_webhooks_stats(&st, wh), ECR_EINVALID);
	/* no endpoint: nothing queued */
	ecr_event e = sample_event();
	ecr_webhooks_event_cb(&e, wh);
	st.version = ECR_WEBHOOK_STATS_VERSION;
	assert_ok(ecr_webhooks_stats(&st, wh));
	assert_int_equal(st.queued, 0);
	ecr_webhooks_free(wh);
	ecr_webhooks_free(NULL);
}

/* The whole path: a registry whose event callback is the webhooks; a push arrives as a PUSH event. */
static void test_server_webhook__engine_push(void **state)
{
	receiver *r = *state;
	ecr_webhooks *wh = NULL;
	ecr_webhooks_options o;
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *reg = NULL;
	ecr_repository *repo = NULL;
	uint64_t rng = 3;
	th_image img;
	char url[64];
	fast_opts(&o);
	url_of(url, sizeof(url), r);
	assert_ok(ecr_webhooks_new(&wh, &o));
	assert_ok(ecr_webhooks_add(wh, url, "k"));
	ro.event_cb = ecr_webhooks_event_cb;
	ro.event_payload = wh;
	assert_ok(ecr_registry_open(&reg, "memory:", &ro));
	assert_ok(ecr_repository_create(&repo, reg, "hooked", NULL));
	assert_ok(th_image_random(&img, &rng, 1, NULL));
	assert_ok(th_image_push(repo, &img, "v9", 0));
	ecr_webhook_stats st = wait_done(wh, 1);
	assert_int_equal(st.delivered, 1);
	assert_non_null(strstr(r->bodies[0], "\"action-type\":\"PUSH\""));
	assert_non_null(strstr(r->bodies[0], img.digest));
	assert_non_null(strstr(r->bodies[0], "\"image-tag\":\"v9\""));
	assert_non_null(strstr(r->bodies[0], "repository/hooked\""));
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	ecr_webhooks_free(wh);
	th_image_dispose(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_webhook__signed_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_webhook__unsigned_two_endpoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_webhook__retries_after_500, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_webhook__gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_webhook__network_error_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_webhook__stalled_receiver_and_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_webhook__stalled_endpoint_isolated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_webhook__free_deadline, setup, teardown),
		cmocka_unit_test(test_server_webhook__bad_input),
		cmocka_unit_test_setup_teardown(test_server_webhook__engine_push, setup, teardown),
	};
	return cmocka_run_group_tests_name("server/webhook", tests, NULL, NULL);
}
