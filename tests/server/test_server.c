/* The HTTP server's lifecycle, options, virtual hosts, path routing and error
 * mapping (libecr/server/server.c). Requests go through libcurl. */
#include "../helpers/helpers.h"

#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../helpers/faulty_storage.h"
#include "../helpers/th_image.h"
#include "libecr/server/http.h"

struct reply {
	long status;
	char body[4096];
	size_t len;
	char headers[4096];
	size_t hlen;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n, room = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, p, len < room ? len : room);
	r->len += len < room ? len : room;
	r->body[r->len] = '\0';
	return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n, room = sizeof(r->headers) - 1 - r->hlen;
	memcpy(r->headers + r->hlen, p, len < room ? len : room);
	r->hlen += len < room ? len : room;
	r->headers[r->hlen] = '\0';
	return len;
}

/* One request on c (a kept-alive connection when c is reused), with headers h: 0 or -1. */
static int perform(CURL *c, struct reply *r, const char *method, uint16_t port, const char *path,
	struct curl_slist *h)
{
	char url[512];
	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	return cc == CURLE_OK ? 0 : -1;
}

static int fetch(struct reply *r, const char *method, uint16_t port, const char *path, const char *host)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	if (host) {
		char hh[300];
		snprintf(hh, sizeof(hh), "Host: %s", host);
		h = curl_slist_append(h, hh);
	}
	int rc = perform(c, r, method, port, path, h);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

/* These tests are about the protocol, not authentication (see test_v2_auth.c). */
static const ecr_server_options no_auth = { ECR_SERVER_OPTIONS_VERSION, NULL, 0, NULL, NULL, ECR_SERVER_NO_AUTH, 0, 0,
	0, 0, 0, NULL, NULL, ECR_LOG_NONE };

static void test_server_server__options(void **state)
{
	(void)state;
	ecr_server *srv = NULL;
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.version = 2;
	assert_int_equal(ecr_server_new(&srv, &o), ECR_EINVALID);
	assert_int_equal(ecr_server_options_init(&o, 0), ECR_EINVALID);
	assert_ok(ecr_server_options_init(&o, ECR_SERVER_OPTIONS_VERSION));
	o.tls_cert_file = "/nonexistent.pem";
	assert_int_equal(ecr_server_new(&srv, &o), ECR_EINVALID); /* a key is needed too */
	o.tls_key_file = "/nonexistent.key";
	assert_ok(ecr_server_new(&srv, &o));
	ecr_registry *reg;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_int_equal(ecr_server_start(srv), ECR_EINVALID); /* no registry yet */
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_int_equal(ecr_server_start(srv), ECR_EIO); /* TLS files missing */
	assert_non_null(strstr(ecr_error_last()->message, "/nonexistent.pem"));
	ecr_server_free(srv);
	o = (ecr_server_options)ECR_SERVER_OPTIONS_INIT;
	o.flags = 0x80;
	assert_int_equal(ecr_server_new(&srv, &o), ECR_EINVALID);
	o.flags = 0;
	o.bind_address = "not-an-address";
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_int_equal(ecr_server_start(srv), ECR_EINVALID);
	ecr_server_free(srv);
	ecr_server_free(NULL);
	ecr_registry_free(reg);
}

static void test_server_server__start_stop_port(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_server *srv, *other;
	struct reply r;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_server_new(&srv, &no_auth));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_int_equal(ecr_server_port(srv), 0);
	assert_ok(ecr_server_start(srv));
	uint16_t port = ecr_server_port(srv);
	assert_true(port > 0);
	assert_int_equal(ecr_server_start(srv), ECR_EBUSY);
	assert_int_equal(ecr_server_add_registry(srv, reg, "x"), ECR_EBUSY);
	assert_int_equal(fetch(&r, "GET", port, "/v2/", NULL), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{}");
	assert_non_null(strstr(r.headers, "Docker-Distribution-API-Version: registry/2.0"));

	/* the same port cannot be taken twice */
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.port = port;
	assert_ok(ecr_server_new(&other, &o));
	assert_ok(ecr_server_add_registry(other, reg, NULL));
	assert_int_equal(ecr_server_start(other), ECR_EIO);
	ecr_server_free(other);

	assert_ok(ecr_server_stop(srv));
	assert_int_equal(ecr_server_port(srv), 0);
	assert_int_not_equal(fetch(&r, "GET", port, "/v2/", NULL), 0); /* refused */
	assert_ok(ecr_server_stop(srv));                               /* idempotent */
	assert_ok(ecr_server_start(srv));                              /* and restartable */
	assert_int_equal(fetch(&r, "GET", ecr_server_port(srv), "/v2/", NULL), 0);
	assert_int_equal(r.status, 200);
	ecr_server_free(srv);
	ecr_registry_free(reg);
}

static void test_server_server__virtual_hosts(void **state)
{
	(void)state;
	ecr_registry *a, *b;
	ecr_registry_options ob = ECR_REGISTRY_OPTIONS_INIT;
	ob.account_id = "222222222222";
	assert_ok(ecr_registry_open(&a, "memory:", NULL));
	assert_ok(ecr_registry_open(&b, "memory:", &ob));
	assert_ok(ecr_repository_create(NULL, a, "only/in-a", NULL));
	assert_ok(ecr_repository_create(NULL, b, "only/in-b", NULL));
	ecr_server *srv;
	assert_ok(ecr_server_new(&srv, &no_auth));
	assert_ok(ecr_server_add_registry(srv, a, NULL));
	assert_int_equal(ecr_server_add_registry(srv, b, NULL), ECR_EEXISTS);
	assert_ok(ecr_server_add_registry(srv, b, "222222222222.dkr.ecr.us-east-1.localhost"));
	assert_int_equal(ecr_server_add_registry(srv, b, "222222222222.DKR.ecr.us-east-1.localhost"), ECR_EEXISTS);
	assert_ok(ecr_server_start(srv));
	uint16_t port = ecr_server_port(srv);
	struct reply r;
	assert_int_equal(fetch(&r, "GET", port, "/v2/_catalog", NULL), 0);
	assert_string_equal(r.body, "{\"repositories\":[\"only/in-a\"]}");
	assert_int_equal(fetch(&r, "GET", port, "/v2/_catalog", "222222222222.dkr.ecr.us-east-1.localhost:5000"), 0);
	assert_string_equal(r.body, "{\"repositories\":[\"only/in-b\"]}");
	assert_int_equal(fetch(&r, "GET", port, "/v2/_catalog", "unknown.example"), 0);
	assert_string_equal(r.body, "{\"repositories\":[\"only/in-a\"]}");
	ecr_server_free(srv);
	ecr_registry_free(a);
	ecr_registry_free(b);
}

struct slow_client {
	uint16_t port;
	_Atomic bool hold; /* the upload waits half way while set (up to 10 s) */
	_Atomic bool held; /* it reached that point */
	size_t left;
	int rc;
	struct reply r;
};

/* A request that takes a while: a 4 MiB blob uploaded slowly. */
static size_t slow_read(char *buf, size_t sz, size_t n, void *ud)
{
	struct slow_client *sc = ud;
	size_t len = sz * n < 65536 ? sz * n : 65536;
	if (len > sc->left)
		len = sc->left;
	if (sc->left <= (2 << 20) && sc->hold) {
		sc->held = true;
		for (int i = 0; i < 10000 && sc->hold; i++)
			usleep(1000);
	}
	memset(buf, 'x', len);
	sc->left -= len;
	usleep(2000);
	return len;
}

static void *slow_upload(void *arg)
{
	struct slow_client *sc = arg;
	char url[256];
	sc->left = 4 << 20;
	snprintf(url, sizeof(url),
		"http://127.0.0.1:%u/v2/slow/blobs/uploads/?digest="
		"sha256:0000000000000000000000000000000000000000000000000000000000000000",
		(unsigned)sc->port);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, slow_read);
	curl_easy_setopt(c, CURLOPT_READDATA, sc);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(4 << 20));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sc->r);
	sc->rc = curl_easy_perform(c) == CURLE_OK ? 0 : -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &sc->r.status);
	curl_easy_cleanup(c);
	return NULL;
}

/* Wait (up to 10 s) until flag is set (the client reached a point, a stop began): what a test waits for instead
 * of sleeping, which a loaded machine can outlast. */
static void wait_true(_Atomic bool *flag)
{
	for (int i = 0; i < 10000 && !*flag; i++)
		usleep(1000);
	assert_true(*flag);
}

/* Wait (up to 10 s) until the server counts a request in flight. */
static void wait_in_flight(ecr_server *srv)
{
	for (int i = 0; i < 1000 && srv->in_flight < 1; i++)
		usleep(10000);
	assert_true(srv->in_flight >= 1);
}

static void *stop_thread(void *arg)
{
	ecr_server_stop(arg);
	return NULL;
}

/* Stopping lets a request in flight finish. */
static void test_server_server__graceful_stop(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_server *srv;
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.flags = ECR_SERVER_CREATE_ON_PUSH | ECR_SERVER_NO_AUTH;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	struct slow_client sc = { .port = ecr_server_port(srv), .hold = true };
	pthread_t t;
	pthread_create(&t, NULL, slow_upload, &sc);
	wait_true(&sc.held); /* the upload is under way, half of it sent */
	wait_in_flight(srv);
	pthread_t st;
	pthread_create(&st, NULL, stop_thread, srv);
	wait_true(&srv->stopping);
	sc.hold = false; /* the rest of the upload comes while the stop waits */
	pthread_join(st, NULL);
	pthread_join(t, NULL);
	assert_int_equal(sc.rc, 0);
	assert_int_equal(sc.r.status, 400); /* it completed: the digest was (deliberately) wrong */
	assert_non_null(strstr(sc.r.body, "DIGEST_INVALID"));
	ecr_server_free(srv);
	ecr_registry_free(reg);
}

/* While a stop waits for a request in flight, a new request is answered 503
 * UNAVAILABLE with Connection: close, and does not hold the stop up. */
static void test_server_server__refused_while_stopping(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_server *srv;
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.flags = ECR_SERVER_CREATE_ON_PUSH | ECR_SERVER_NO_AUTH;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	uint16_t port = ecr_server_port(srv);
	struct slow_client sc = { .port = port, .hold = true };
	pthread_t t, st;
	pthread_create(&t, NULL, slow_upload, &sc);
	wait_true(&sc.held); /* the upload is under way and waits half way */
	wait_in_flight(srv);
	pthread_create(&st, NULL, stop_thread, srv);
	wait_true(&srv->stopping); /* the stop is waiting for it */
	struct reply r;
	assert_int_equal(fetch(&r, "GET", port, "/v2/", NULL), 0);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "UNAVAILABLE"));
	assert_non_null(strcasestr(r.headers, "Connection: close"));
	sc.hold = false;
	pthread_join(st, NULL);
	pthread_join(t, NULL);
	assert_int_equal(sc.rc, 0);
	assert_int_equal(sc.r.status, 400); /* the upload in flight still completed */
	assert_int_equal(ecr_server_port(srv), 0);
	ecr_server_free(srv);
	ecr_registry_free(reg);
}

struct hammer_state {
	uint16_t port;
	_Atomic int over;
};

static void *hammer(void *arg)
{
	struct hammer_state *h = arg;
	struct reply r;
	while (!h->over)
		(void)fetch(&r, "GET", h->port, "/v2/", NULL);
	return NULL;
}

/* Starting and stopping under a steady stream of requests, many times (a
 * libmicrohttpd quiescing race once aborted the process here). */
static void test_server_server__stop_under_load(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_server *srv;
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.flags = ECR_SERVER_NO_AUTH;
	o.port = 0;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	/* restart on the same port, so the clients keep finding it */
	struct hammer_state h = { .port = ecr_server_port(srv) };
	ecr_server_free(srv);
	o.port = h.port;
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, &h);
	for (int round = 0; round < 40; round++) {
		assert_ok(ecr_server_start(srv));
		usleep(5000);
		assert_ok(ecr_server_stop(srv));
	}
	h.over = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ecr_server_free(srv);
	ecr_registry_free(reg);
}

/* A request on one kept-alive connection (libcurl reuses it between performs); *new_conns: connections it made. */
static int on_conn(CURL *c, struct reply *r, const char *method, uint16_t port, const char *path, const char *body,
	size_t len, long *new_conns)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/vnd.oci.image.manifest.v1+json");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body); /* set each time: c is reused */
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	int rc = perform(c, r, method, port, path, h);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, new_conns);
	curl_slist_free_all(h);
	return rc;
}

/* An image's blobs in the registry, through the library: only its manifest goes over HTTP. */
static void put_blobs(ecr_registry *reg, const char *name, const th_image *img)
{
	ecr_repository *repo;
	int rc = ecr_repository_create(&repo, reg, name, NULL);
	if (rc == ECR_EREPOSITORY_EXISTS)
		rc = ecr_repository_open(&repo, reg, name);
	assert_ok(rc);
	assert_ok(ecr_blob_put(repo, img->config.digest, img->config.data, img->config.len));
	for (size_t i = 0; i < img->layer_count; i++)
		assert_ok(ecr_blob_put(repo, img->layers[i].digest, img->layers[i].data, img->layers[i].len));
	ecr_repository_free(repo);
}

/* The jobs on the server's offload pool once its clients have their answers, after waiting up to 5 s for them to
 * leave: a job counts until just after it resumed its connection, so a client can have its answer a moment before
 * the count falls. */
static size_t pool_jobs_left(ecr_server *srv)
{
	size_t threads, busy = 0;
	for (int i = 0; i < 500; i++) {
		ecr__offload_stats(srv->offload, &threads, &busy);
		if (!busy)
			break;
		usleep(10000);
	}
	return busy;
}

/* The requests that finish on the offload pool (manifest PUT and DELETE, blob DELETE, an upload's last PUT)
 * answer on the connection they came on, which stays open for the next request. */
static void test_server_server__offloaded_requests_keep_alive(void **state)
{
	(void)state;
	char *dir = th_tmpdir(), url[600], path[700], tagpath[700];
	ecr_registry *reg;
	ecr_server *srv;
	uint64_t rng = 91;
	th_image img;
	struct reply r;
	long conns;
	snprintf(url, sizeof(url), "file://%s", dir);
	assert_ok(ecr_registry_open(&reg, url, NULL)); /* durable: the commits wait for their fsync */
	assert_ok(th_image_random(&img, &rng, 2, NULL));
	put_blobs(reg, "team/app", &img);
	assert_ok(ecr_server_new(&srv, &no_auth));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	uint16_t port = ecr_server_port(srv);
	assert_non_null(srv->offload);
	CURL *c = curl_easy_init();
	assert_int_equal(on_conn(c, &r, "GET", port, "/v2/", NULL, 0, &conns), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(conns, 1);
	/* manifest PUT: offloaded, 201, same connection */
	snprintf(tagpath, sizeof(tagpath), "/v2/team/app/manifests/v1");
	assert_int_equal(on_conn(c, &r, "PUT", port, tagpath, img.manifest, img.manifest_len, &conns), 0);
	assert_int_equal(r.status, 201);
	assert_non_null(strstr(r.headers, img.digest));
	assert_int_equal(conns, 0);
	/* a manifest PUT that fails (a blob it names is missing) answers its error the same way */
	th_image bad;
	assert_ok(th_image_random(&bad, &rng, 1, NULL));
	assert_int_equal(on_conn(c, &r, "PUT", port, "/v2/team/app/manifests/bad", bad.manifest, bad.manifest_len,
				 &conns),
		0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "MANIFEST_BLOB_UNKNOWN"));
	assert_int_equal(conns, 0);
	/* read back, then deleted by digest (offloaded from the first call: no body) */
	assert_int_equal(on_conn(c, &r, "GET", port, tagpath, NULL, 0, &conns), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, img.manifest_len);
	assert_memory_equal(r.body, img.manifest, img.manifest_len);
	snprintf(path, sizeof(path), "/v2/team/app/manifests/%s", img.digest);
	assert_int_equal(on_conn(c, &r, "DELETE", port, path, NULL, 0, &conns), 0);
	assert_int_equal(r.status, 202);
	assert_int_equal(conns, 0);
	assert_int_equal(on_conn(c, &r, "DELETE", port, path, NULL, 0, &conns), 0);
	assert_int_equal(r.status, 404);
	assert_int_equal(conns, 0);
	/* blob DELETE */
	snprintf(path, sizeof(path), "/v2/team/app/blobs/%s", img.layers[0].digest);
	assert_int_equal(on_conn(c, &r, "DELETE", port, path, NULL, 0, &conns), 0);
	assert_int_equal(r.status, 202);
	assert_int_equal(conns, 0);
	/* a monolithic upload: POST with the digest and the bytes */
	snprintf(path, sizeof(path), "/v2/team/app/blobs/uploads/?digest=%s", img.layers[0].digest);
	assert_int_equal(on_conn(c, &r, "POST", port, path, (const char *)img.layers[0].data, img.layers[0].len,
				 &conns),
		0);
	assert_int_equal(r.status, 201);
	assert_int_equal(conns, 0);
	assert_int_equal(on_conn(c, &r, "GET", port, "/v2/", NULL, 0, &conns), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(conns, 0);
	size_t threads, busy;
	ecr__offload_stats(srv->offload, &threads, &busy);
	assert_true(threads >= 1);
	assert_int_equal(pool_jobs_left(srv), 0);
	curl_easy_cleanup(c);
	ecr_server_free(srv);
	ecr_registry_free(reg);
	th_image_dispose(&img);
	th_image_dispose(&bad);
	th_rmtree(dir);
}

struct putter {
	uint16_t port;
	th_image img; /* its blobs are in load/app */
	uint64_t seed;
	_Atomic int over;
	long created;
	int ok[8192]; /* the numbers of the tags answered 201 */
};

static void *put_manifests(void *arg)
{
	struct putter *p = arg;
	const th_image *img = &p->img;
	struct reply r;
	long conns;
	char path[200];
	CURL *c = curl_easy_init();
	for (int i = 0; !p->over && p->created < (long)(sizeof(p->ok) / sizeof(p->ok[0])); i++) {
		snprintf(path, sizeof(path), "/v2/load/app/manifests/t%llu-%d", (unsigned long long)p->seed, i);
		if (on_conn(c, &r, "PUT", p->port, path, img->manifest, img->manifest_len, &conns) == 0 &&
			r.status == 201)
			p->ok[p->created++] = i;
	}
	curl_easy_cleanup(c);
	return NULL;
}

/* Stopping while manifest PUTs wait on the offload pool, many times: the stop lets them finish (libmicrohttpd
 * cannot stop with a connection suspended), and each restart serves them again. */
static void test_server_server__stop_with_offloaded_requests(void **state)
{
	(void)state;
	char *dir = th_tmpdir(), url[600];
	ecr_registry *reg;
	ecr_server *srv;
	ecr_server_options o = no_auth;
	snprintf(url, sizeof(url), "file://%s", dir);
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	/* restarted on the same port each time, so the clients keep finding it */
	o.port = ecr_server_port(srv);
	ecr_server_free(srv);
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	static struct putter p[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		uint64_t rng = 1000 + (uint64_t)i;
		p[i] = (struct putter){ .port = o.port, .seed = rng };
		assert_ok(th_image_random(&p[i].img, &rng, 1, NULL));
		put_blobs(reg, "load/app", &p[i].img);
	}
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, put_manifests, &p[i]);
	for (int round = 0; round < 20; round++) {
		usleep(20000);
		assert_ok(ecr_server_stop(srv));
		assert_ok(ecr_server_start(srv));
	}
	usleep(50000);
	long created = 0;
	for (int i = 0; i < 4; i++) {
		p[i].over = 1;
		pthread_join(t[i], NULL);
		created += p[i].created;
	}
	assert_true(created > 0);
	assert_int_equal(pool_jobs_left(srv), 0); /* no job is left on the pool */
	/* every tag answered 201 is there */
	ecr_repository *repo;
	assert_ok(ecr_repository_open(&repo, reg, "load/app"));
	for (int i = 0; i < 4; i++) {
		for (long k = 0; k < p[i].created; k++) {
			char tag[64];
			ecr_image *img;
			snprintf(tag, sizeof(tag), "t%llu-%d", (unsigned long long)p[i].seed, p[i].ok[k]);
			if (ecr_image_get(&img, repo, tag, 0) != 0)
				fail_msg("tag %s was answered 201 and is missing: %s", tag, ecr_error_last()->message);
			ecr_image_free(img);
		}
		th_image_dispose(&p[i].img);
	}
	ecr_repository_free(repo);
	ecr_server_free(srv);
	ecr_registry_free(reg);
	th_rmtree(dir);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct one_delete {
	uint16_t port;
	char path[200];
	struct reply r;
	int rc;
};

static void *delete_one(void *arg)
{
	struct one_delete *d = arg;
	long conns;
	CURL *c = curl_easy_init();
	d->rc = on_conn(c, &d->r, "DELETE", d->port, d->path, NULL, 0, &conns);
	curl_easy_cleanup(c);
	return NULL;
}

/* A manifest DELETE (all of its work runs on the offload pool) whose commit takes longer than a stop waits for
 * requests that do not move (STOP_IDLE_MS), and a stop once it is in flight, on a server with the given timeout. The
 * stop returns after the DELETE is done (libmicrohttpd aborts the process when it is told to stop with a
 * connection suspended); the DELETE's answer is in *d. */
static void slow_delete_then_stop(unsigned int timeout_seconds, struct one_delete *d)
{
	char *dir = th_tmpdir(), db[600];
	ecr_blob_store *bs;
	ecr_meta_store *ms, *fm;
	ecr_registry *reg;
	ecr_repository *repo;
	ecr_image *got;
	ecr_server *srv;
	ecr_server_options o = no_auth;
	th_faults f;
	uint64_t rng = 5;
	th_image img;
	th_faults_init(&f);
	snprintf(db, sizeof(db), "%s/metadata.db", dir);
	assert_ok(ecr_blob_store_fs_new(&bs, dir, ECR_STORAGE_NOSYNC));
	assert_ok(ecr_meta_store_sqlite_new(&ms, db, ECR_STORAGE_NOSYNC));
	assert_ok(th_faulty_meta_store_new(&fm, ms, &f));
	assert_ok(ecr_registry_open_storage(&reg, bs, fm, NULL));
	assert_ok(th_image_random(&img, &rng, 1, NULL));
	assert_ok(ecr_repository_create(&repo, reg, "slow/app", NULL));
	if (th_image_push(repo, &img, "v1", 0) != 0)
		fail_msg("push: %s", th_problem());
	o.timeout_seconds = timeout_seconds;
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	/* from now on every metadata transaction takes that long to commit */
	f.delay_us = (STOP_IDLE_MS + 600) * 1000;
	f.slow = TH_FAULT_META_COMMIT;
	d->port = ecr_server_port(srv);
	snprintf(d->path, sizeof(d->path), "/v2/slow/app/manifests/%s", img.digest);
	pthread_t t;
	pthread_create(&t, NULL, delete_one, d);
	wait_in_flight(srv); /* its commit is under way, or about to be */
	int64_t t0 = now_ms();
	assert_ok(ecr_server_stop(srv));
	int64_t waited = now_ms() - t0;
	pthread_join(t, NULL);
	f.slow = 0;
	assert_true(waited >= STOP_IDLE_MS);
	assert_int_equal(ecr_image_get(&got, repo, img.digest, 0), ECR_EIMAGE_NOT_FOUND);
	ecr_error_clear();
	ecr_repository_free(repo);
	ecr_server_free(srv);
	ecr_registry_free(reg);
	th_image_dispose(&img);
	th_rmtree(dir);
}

/* A stop lets a request on the offload pool finish, however long its commit takes, and its answer go out. */
static void test_server_server__stop_waits_for_a_slow_commit(void **state)
{
	(void)state;
	struct one_delete d;
	memset(&d, 0, sizeof(d));
	slow_delete_then_stop(0, &d);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.r.status, 202);
}

/* Even past the stop's deadline (the server's timeout, 1 s here), the stop waits for the pool before it closes
 * the connections. */
static void test_server_server__stop_deadline_waits_for_the_pool(void **state)
{
	(void)state;
	struct one_delete d;
	memset(&d, 0, sizeof(d));
	slow_delete_then_stop(1, &d);
}

/* GET /v2/ on c with one more header, X-Big, of n bytes: the status. */
static long get_with_big_header(CURL *c, uint16_t port, size_t n)
{
	char *line = malloc(n + 8);
	assert_non_null(line);
	memcpy(line, "X-Big: ", 7);
	memset(line + 7, 'a', n);
	line[7 + n] = '\0';
	struct curl_slist *h = curl_slist_append(NULL, line);
	struct reply r;
	assert_int_equal(perform(c, &r, "GET", port, "/v2/", h), 0);
	curl_slist_free_all(h);
	free(line);
	return r.status;
}

/* Headers up to the limit are served, also on a kept-alive connection (libmicrohttpd keeps them in the
 * connection's memory, twice the limit); beyond it, 431. The limit is an option. */
static void test_server_server__header_limit(void **state)
{
	(void)state;
	ecr_registry *reg;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	size_t limits[] = { 0, 64 * 1024 };
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		ecr_server_options o = no_auth;
		o.max_header_size = limits[i];
		size_t limit = limits[i] ? limits[i] : 16 * 1024;
		ecr_server *srv;
		assert_ok(ecr_server_new(&srv, &o));
		assert_ok(ecr_server_add_registry(srv, reg, NULL));
		assert_ok(ecr_server_start(srv));
		uint16_t port = ecr_server_port(srv);
		CURL *c = curl_easy_init();
		for (int k = 0; k < 3; k++)
			assert_int_equal(get_with_big_header(c, port, limit - 512), 200);
		assert_int_equal(get_with_big_header(c, port, limit + 16), 431);
		curl_easy_reset(c);
		assert_int_equal(get_with_big_header(c, port, 100), 200);
		curl_easy_cleanup(c);
		ecr_server_free(srv);
	}
	ecr_registry_free(reg);
}

static void test_server_server__parse_path(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		http_route route;
		const char *name, *ref;
	} cases[] = {
		{ "/v2/", ROUTE_BASE, NULL, NULL },
		{ "/v2", ROUTE_BASE, NULL, NULL },
		{ "/v2/_catalog", ROUTE_CATALOG, NULL, NULL },
		{ "/v2/a/b/tags/list", ROUTE_TAGS, "a/b", NULL },
		{ "/v2/lib/x/manifests/latest", ROUTE_MANIFEST, "lib/x", "latest" },
		{ "/v2/x/blobs/sha256:ab", ROUTE_BLOB, "x", "sha256:ab" },
		{ "/v2/x/blobs/uploads/", ROUTE_UPLOADS, "x", NULL },
		{ "/v2/x/blobs/uploads", ROUTE_UPLOADS, "x", NULL },
		{ "/v2/x/blobs/uploads/abc-1", ROUTE_UPLOAD, "x", "abc-1" },
		{ "/v2/x/referrers/sha256:ab", ROUTE_REFERRERS, "x", "sha256:ab" },
		/* names may contain the route keywords */
		{ "/v2/blobs/manifests/manifests/t", ROUTE_MANIFEST, "blobs/manifests", "t" },
		{ "/v2/a/blobs/uploads/blobs/uploads/u", ROUTE_UPLOAD, "a/blobs/uploads", "u" },
		{ "/v2/tags/list/tags/list", ROUTE_TAGS, "tags/list", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_target t;
		int rc = ecr__http_parse_path(&t, cases[i].path);
		if (rc)
			fail_msg("%s: %d", cases[i].path, rc);
		assert_int_equal(t.route, cases[i].route);
		if (cases[i].name)
			assert_string_equal(t.name, cases[i].name);
		else
			assert_null(t.name);
		if (cases[i].ref)
			assert_string_equal(t.ref, cases[i].ref);
		else
			assert_null(t.ref);
		ecr__http_target_dispose(&t);
	}
	const char *bad[] = { "/v3/", "/", "/v2x", "/v2/x", "/v2/manifests/x", "/v2/x/manifests/", "/v2/x/tags/lists",
		"/v2/x/blobs/", "/v2//blobs/uploads/", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		http_target t;
		if (ecr__http_parse_path(&t, bad[i]) != ECR_ENOTFOUND)
			fail_msg("'%s' parsed", bad[i]);
	}
}

static void test_server_server__error_map(void **state)
{
	(void)state;
	static const struct {
		int rc;
		const char *what;
		unsigned int status;
		const char *code;
	} cases[] = {
		{ ECR_EREPOSITORY_NOT_FOUND, "name", 404, "NAME_UNKNOWN" },
		{ ECR_EINVALID, "name", 400, "NAME_INVALID" },
		{ ECR_EIMAGE_NOT_FOUND, "manifest", 404, "MANIFEST_UNKNOWN" },
		{ ECR_ENOTFOUND, "blob", 404, "BLOB_UNKNOWN" },
		{ ECR_EUPLOAD, "upload", 404, "BLOB_UPLOAD_UNKNOWN" },
		{ ECR_EDIGEST, "digest", 400, "DIGEST_INVALID" },
		{ ECR_ELAYERS_NOT_FOUND, "manifest", 400, "MANIFEST_BLOB_UNKNOWN" },
		{ ECR_EINVALID, "manifest", 400, "MANIFEST_INVALID" },
		{ ECR_EUNSUPPORTED, "manifest", 400, "MANIFEST_INVALID" },
		{ ECR_ERANGE, "upload", 416, "BLOB_UPLOAD_INVALID" },
		{ ECR_ELIMIT, "manifest", 413, "SIZE_INVALID" },
		{ ECR_EDENIED, "", 403, "DENIED" },
		{ ECR_EAUTH, "", 401, "UNAUTHORIZED" },
		{ ECR_EIO, "blob", 500, "UNKNOWN" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned int status;
		const char *code;
		ecr__http_error_map(cases[i].rc, cases[i].what, &status, &code);
		assert_int_equal(status, cases[i].status);
		assert_string_equal(code, cases[i].code);
	}
}

static size_t files_in(const char *dir)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A POST .../blobs/uploads/ whose body is refused as it streams (larger than max_blob_size) ends the session
 * the request created: its client never learns the id, so nothing of it may stay in the staging folder. */
static void test_server_server__refused_post_ends_its_session(void **state)
{
	(void)state;
	char *dir = th_tmpdir(), url[600], uploads[600];
	snprintf(url, sizeof(url), "file://%s", dir);
	snprintf(uploads, sizeof(uploads), "%s/uploads", dir);
	ecr_registry *reg;
	ecr_server *srv;
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr_repository_create(NULL, reg, "repo", NULL));
	ecr_server_options o = no_auth;
	o.max_blob_size = 1000;
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));

	static char body[5000];
	memset(body, 'x', sizeof(body));
	for (int monolithic = 0; monolithic < 2; monolithic++) {
		char u[600];
		snprintf(u, sizeof(u), "http://127.0.0.1:%u/v2/repo/blobs/uploads/%s", (unsigned)ecr_server_port(srv),
			monolithic ? "?digest=sha256:0000000000000000000000000000000000000000000000000000000000000000" : "");
		CURL *c = curl_easy_init();
		/* chunked: no Content-Length for the up-front check, the body is refused as it streams */
		struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_URL, u);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)sizeof(body));
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		struct reply r;
		memset(&r, 0, sizeof(r));
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
		curl_easy_cleanup(c);
		curl_slist_free_all(h);
		if (r.status != 413)
			fail_msg("HTTP %ld: %s", r.status, r.body);
		assert_non_null(strstr(r.body, "SIZE_INVALID"));
	}
	/* the request's completion runs after the answer: wait for it */
	for (int i = 0; i < 200 && files_in(uploads) != 0; i++)
		usleep(10000);
	assert_int_equal(files_in(uploads), 0);

	ecr_server_free(srv);
	ecr_registry_free(reg);
	th_rmtree(dir);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_server__options),
		cmocka_unit_test(test_server_server__start_stop_port),
		cmocka_unit_test(test_server_server__virtual_hosts),
		cmocka_unit_test(test_server_server__graceful_stop),
		cmocka_unit_test(test_server_server__refused_while_stopping),
		cmocka_unit_test(test_server_server__stop_under_load),
		cmocka_unit_test(test_server_server__header_limit),
		cmocka_unit_test(test_server_server__parse_path),
		cmocka_unit_test(test_server_server__error_map),
		cmocka_unit_test(test_server_server__refused_post_ends_its_session),
		cmocka_unit_test(test_server_server__offloaded_requests_keep_alive),
		cmocka_unit_test(test_server_server__stop_with_offloaded_requests),
		cmocka_unit_test(test_server_server__stop_waits_for_a_slow_commit),
		cmocka_unit_test(test_server_server__stop_deadline_waits_for_the_pool),
	};
	int rc = cmocka_run_group_tests_name("server/server", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
