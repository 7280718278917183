/* The pull-through cache runtime (libecr/replication/cache.c, cache_blob.c)
 * with a memory registry in this process and Debian's docker-registry as the
 * upstream (anonymous, and with htpasswd Basic auth through a stored
 * credential): first pulls store the manifest (and an index's children),
 * blobs are streamed while they are stored, the cached copy is served with
 * the upstream stopped, a tag moved upstream is picked up after the freshness
 * window and not before, 20 concurrent readers of one 64 MiB blob share ONE
 * upstream download (counted by faultproxy.py's byte counters in front of the
 * upstream), and a reader that goes away after 1 MiB leaves the whole blob
 * stored. */
#include "../helpers/helpers.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../helpers/th_image.h"
#include "../transport/registry_fixture.h"
#include "ecr/cache.h"
#include "libecr/core/core.h"
#include "libecr/core/json.h"
#include "tests/transport/faultproxy_path.h"

extern char **environ;

static _Atomic int64_t clock_offset_ms;
static _Atomic int warnings;

static int64_t test_clock(void *payload)
{
	(void)payload;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&clock_offset_ms);
}

static void log_cb(ecr_log_level level, const char *msg, void *payload)
{
	(void)payload;
	if (level == ECR_LOG_WARN && strstr(msg, "serving the cached"))
		atomic_fetch_add(&warnings, 1);
}

typedef struct fx {
	char *dir;
	regfix rf;
	ecr_registry *reg; /* local (memory:) */
	ecr_registry *up;  /* the upstream through the public API, for pushing */
	ecr_cache *cache;
	uint64_t rng;
} fx;

static void expect_code(int rc, int code)
{
	if (rc != code)
		fail_msg("expected %d (%s), got %d (%s): %s", code, ecr_error_name(code), rc, ecr_error_name(rc),
		         rc ? ecr_error_last()->message : "");
}

static ecr_registry *open_upstream(const char *url, const char *user, const char *pw)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *r = NULL;
	o.remote_flags = ECR_REMOTE_OCI_ONLY;
	o.username = user;
	o.password = pw;
	assert_ok(ecr_registry_open(&r, url, &o));
	return r;
}

static ecr_cache *new_cache(uint64_t freshness_seconds)
{
	ecr_registry_options up = ECR_REGISTRY_OPTIONS_INIT;
	ecr_cache_options co = ECR_CACHE_OPTIONS_INIT;
	ecr_cache *c = NULL;
	up.max_retries = 1;
	up.timeout_ms = 10000;
	co.freshness_seconds = freshness_seconds;
	co.upstream_options = &up;
	co.log_cb = log_cb;
	co.log_level = ECR_LOG_INFO;
	assert_ok(ecr_cache_new(&c, &co));
	return c;
}

static fx *fx_start(unsigned regfix_flags)
{
	fx *f = calloc(1, sizeof(*f));
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	assert_non_null(f);
	f->rng = 0x5eedcafe1234ULL;
	f->dir = th_tmpdir();
	if (regfix_start(&f->rf, f->dir, regfix_flags) != 0)
		fail_msg("docker-registry: %s", regfix_problem());
	o.clock_cb = test_clock;
	assert_ok(ecr_registry_open(&f->reg, "memory:", &o));
	if (regfix_flags & REGFIX_HTPASSWD)
		f->up = open_upstream(f->rf.url, REGFIX_USER, REGFIX_PASSWORD);
	else
		f->up = open_upstream(f->rf.url, NULL, NULL);
	f->cache = new_cache(600);
	atomic_store(&clock_offset_ms, 0);
	atomic_store(&warnings, 0);
	return f;
}

static void fx_stop(fx *f)
{
	ecr_cache_free(f->cache);
	ecr_registry_free(f->up);
	ecr_registry_free(f->reg);
	regfix_stop(&f->rf);
	th_rmtree(f->dir);
	free(f);
}

static void put_rule(ecr_registry *reg, const char *prefix, const char *url, const char *cred)
{
	char json[1024];
	if (cred)
		snprintf(json, sizeof(json),
		         "{\"ecrRepositoryPrefix\":\"%s\",\"upstreamRegistryUrl\":\"%s\",\"credentialArn\":\"%s\"}",
		         prefix, url, cred);
	else
		snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"%s\",\"upstreamRegistryUrl\":\"%s\"}", prefix,
		         url);
	int rc = ecr_registry_put_pull_through_cache_rule(NULL, reg, json, 1);
	if (rc)
		fail_msg("rule %s: %s", prefix, ecr_error_last()->message);
}

static ecr_repository *up_repo(fx *f, const char *name)
{
	ecr_repository *r = NULL;
	int rc = ecr_repository_create(&r, f->up, name, NULL);
	if (rc == ECR_EREPOSITORY_EXISTS)
		rc = ecr_repository_open(&r, f->up, name);
	assert_ok(rc);
	return r;
}

static void push_image(ecr_repository *repo, const th_image *img, const char *tag)
{
	for (size_t i = 0; i <= img->layer_count; i++) {
		const th_blob *b = i < img->layer_count ? &img->layers[i] : &img->config;
		assert_ok(ecr_blob_put(repo, b->digest, b->data, b->len));
	}
	ecr_image *out = NULL;
	assert_ok(ecr_image_put(&out, repo, tag, NULL, NULL, img->manifest, img->manifest_len, 0));
	assert_string_equal(ecr_image_digest(out), img->digest);
	ecr_image_free(out);
}

/* Read a whole blob through the cache into a fresh buffer. */
static unsigned char *cache_read(fx *f, ecr_cache *cache, const char *repo, const char *digest, size_t *len_out)
{
	ecr_blob *b = NULL;
	int rc = ecr_cache_blob_open(&b, cache, f->reg, repo, digest, 0, 0);
	if (rc)
		fail_msg("cache blob %s: %s", digest, ecr_error_last()->message);
	size_t size = (size_t)ecr_blob_size(b), got = 0, n = 0;
	unsigned char *buf = malloc(size ? size : 1);
	assert_non_null(buf);
	while (got < size) {
		assert_ok(ecr_blob_read(b, buf + got, size - got > 65536 ? 65536 : size - got, &n));
		assert_true(n > 0);
		got += n;
	}
	assert_ok(ecr_blob_read(b, buf, 1, &n));
	assert_int_equal(n, 0);
	ecr_blob_free(b);
	*len_out = size;
	return buf;
}

static void expect_blob_bytes(fx *f, const char *repo, const th_blob *b)
{
	size_t len = 0;
	unsigned char *got = cache_read(f, f->cache, repo, b->digest, &len);
	assert_int_equal(len, b->len);
	assert_memory_equal(got, b->data, len);
	free(got);
}

/* An OCI index of two images of repo (pushed by digest). *digest_out: the index's. */
static void push_index(ecr_repository *repo, const th_image *a, const th_image *b, const char *tag, char *digest_out)
{
	char json[2048];
	push_image(repo, a, NULL);
	push_image(repo, b, NULL);
	snprintf(json, sizeof(json),
	         "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
	         "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
	         "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	         "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
	         "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}",
	         a->digest, a->manifest_len, b->digest, b->manifest_len);
	ecr_image *out = NULL;
	assert_ok(ecr_image_put(&out, repo, tag, NULL, NULL, json, strlen(json), 0));
	snprintf(digest_out, TH_DIGEST_MAX, "%s", ecr_image_digest(out));
	ecr_image_free(out);
}

static void expect_local_image(fx *f, const char *repo, const char *ref)
{
	ecr_repository *r = NULL;
	ecr_image *img = NULL;
	assert_ok(ecr_repository_open(&r, f->reg, repo));
	int rc = ecr_image_get(&img, r, ref, 0);
	if (rc)
		fail_msg("local %s@%s: %s", repo, ref, ecr_error_last()->message);
	ecr_image_free(img);
	ecr_repository_free(r);
}

static void expect_cached_digest(fx *f, const char *repo, const char *ref, const char *digest)
{
	ecr_image *img = NULL;
	int rc = ecr_cache_image_get(&img, f->cache, f->reg, repo, ref, ECR_IMAGE_GET_RECORD_PULL);
	if (rc)
		fail_msg("cache %s:%s: %s", repo, ref, ecr_error_last()->message);
	assert_string_equal(ecr_image_digest(img), digest);
	const void *bytes = NULL;
	size_t len = 0;
	assert_ok(ecr_image_manifest(&bytes, &len, img));
	assert_true(len > 0);
	ecr_image_free(img);
}

static uint64_t local_blob_size(fx *f, const char *repo, const char *digest, int *rc_out)
{
	ecr_repository *r = NULL;
	uint64_t size = 0;
	int rc = ecr_repository_open(&r, f->reg, repo);
	if (!rc)
		rc = ecr_blob_stat(r, digest, &size);
	ecr_repository_free(r);
	ecr_error_clear();
	*rc_out = rc;
	return size;
}

/* --- first pull, index, blobs, upstream stopped --- */

static void test_replication_cache__first_pull_then_offline(void **state)
{
	(void)state;
	fx *f = fx_start(0);
	th_image a, b, c;
	char index_digest[TH_DIGEST_MAX];
	size_t sizes[2] = {300000, 5000};
	assert_ok(th_image_random(&a, &f->rng, 2, sizes));
	assert_ok(th_image_random(&b, &f->rng, 1, NULL));
	assert_ok(th_image_random(&c, &f->rng, 1, NULL));
	ecr_repository *ur = up_repo(f, "lib/app");
	push_image(ur, &a, "v1");
	push_index(ur, &b, &c, "multi", index_digest);
	ecr_repository_free(ur);

	put_rule(f->reg, "up", f->rf.url, NULL);
	assert_int_equal(ecr_cache_covers(f->cache, f->reg, "up/lib/app"), 1);
	assert_int_equal(ecr_cache_covers(f->cache, f->reg, "other/lib/app"), 0);
	ecr_image *img = NULL;
	expect_code(ecr_cache_image_get(&img, f->cache, f->reg, "other/lib/app", "v1", 0), ECR_ENOTFOUND);

	/* first pull: the repository is created, the manifest stored */
	ecr_repository *lr = NULL;
	expect_code(ecr_repository_open(&lr, f->reg, "up/lib/app"), ECR_EREPOSITORY_NOT_FOUND);
	expect_cached_digest(f, "up/lib/app", "v1", a.digest);
	expect_local_image(f, "up/lib/app", "v1");
	/* an index: its children too */
	expect_cached_digest(f, "up/lib/app", "multi", index_digest);
	expect_local_image(f, "up/lib/app", b.digest);
	expect_local_image(f, "up/lib/app", c.digest);
	/* by digest */
	expect_cached_digest(f, "up/lib/app", a.digest, a.digest);
	/* a tag upstream lacks */
	expect_code(ecr_cache_image_get(&img, f->cache, f->reg, "up/lib/app", "nope", 0), ECR_EIMAGE_NOT_FOUND);
	/* a repository upstream lacks (docker-registry answers MANIFEST_UNKNOWN for it): nothing created here */
	int nrc = ecr_cache_image_get(&img, f->cache, f->reg, "up/lib/none", "v1", 0);
	assert_true(nrc == ECR_EIMAGE_NOT_FOUND || nrc == ECR_EREPOSITORY_NOT_FOUND);
	expect_code(ecr_repository_open(&lr, f->reg, "up/lib/none"), ECR_EREPOSITORY_NOT_FOUND);

	/* blobs: not stored until asked for, then streamed and stored */
	int rc;
	(void)local_blob_size(f, "up/lib/app", a.layers[0].digest, &rc);
	expect_code(rc, ECR_ENOTFOUND);
	uint64_t size = 0;
	assert_ok(ecr_cache_blob_stat(f->cache, f->reg, "up/lib/app", a.layers[0].digest, &size));
	assert_int_equal(size, a.layers[0].len);
	expect_blob_bytes(f, "up/lib/app", &a.layers[0]);
	expect_blob_bytes(f, "up/lib/app", &a.layers[1]);
	expect_blob_bytes(f, "up/lib/app", &a.config);
	assert_int_equal(local_blob_size(f, "up/lib/app", a.layers[0].digest, &rc), a.layers[0].len);
	assert_ok(rc);
	/* a range of a stored blob */
	ecr_blob *blob = NULL;
	unsigned char part[100];
	size_t n = 0;
	assert_ok(ecr_cache_blob_open(&blob, f->cache, f->reg, "up/lib/app", a.layers[0].digest, 1000, 100));
	assert_ok(ecr_blob_read(blob, part, sizeof(part), &n));
	assert_int_equal(n, 100);
	assert_memory_equal(part, a.layers[0].data + 1000, 100);
	ecr_blob_free(blob);
	/* the image is whole now: every blob readable from the repository itself */
	assert_ok(ecr_repository_open(&lr, f->reg, "up/lib/app"));
	if (th_image_verify(lr, "v1", a.digest, NULL))
		fail_msg("cached image: %s", th_problem());

	/* upstream stopped: the cached copy is served (after the window too), the failure logged */
	regfix_stop(&f->rf);
	atomic_store(&clock_offset_ms, 3600 * 1000);
	expect_cached_digest(f, "up/lib/app", "v1", a.digest);
	assert_true(atomic_load(&warnings) >= 1);
	expect_cached_digest(f, "up/lib/app", "multi", index_digest);
	expect_cached_digest(f, "up/lib/app", a.digest, a.digest);
	expect_blob_bytes(f, "up/lib/app", &a.layers[0]);
	/* what was never fetched cannot be served */
	assert_true(ecr_cache_blob_open(&blob, f->cache, f->reg, "up/lib/app", b.config.digest, 0, 0) != 0);
	assert_true(ecr_cache_image_get(&img, f->cache, f->reg, "up/lib/app", "never-pulled", 0) != 0);
	/* GC keeps the cached image's blobs, fetched or not */
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	atomic_store(&clock_offset_ms, 3 * 3600 * 1000);
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	if (th_image_verify(lr, "v1", a.digest, NULL))
		fail_msg("cached image after GC: %s", th_problem());
	expect_local_image(f, "up/lib/app", "multi");
	ecr_repository_free(lr);

	th_image_dispose(&a);
	th_image_dispose(&b);
	th_image_dispose(&c);
	fx_stop(f);
}

/* --- freshness --- */

static void test_replication_cache__tag_moved_after_window(void **state)
{
	(void)state;
	fx *f = fx_start(0);
	th_image a, b;
	assert_ok(th_image_random(&a, &f->rng, 1, NULL));
	assert_ok(th_image_random(&b, &f->rng, 1, NULL));
	ecr_repository *ur = up_repo(f, "team/svc");
	push_image(ur, &a, "latest");
	put_rule(f->reg, "mirror", f->rf.url, NULL);

	expect_cached_digest(f, "mirror/team/svc", "latest", a.digest);
	push_image(ur, &b, "latest"); /* moved upstream */
	atomic_store(&clock_offset_ms, 599 * 1000);
	expect_cached_digest(f, "mirror/team/svc", "latest", a.digest); /* within the window: not checked */
	atomic_store(&clock_offset_ms, 601 * 1000);
	expect_cached_digest(f, "mirror/team/svc", "latest", b.digest); /* after it: picked up */
	expect_local_image(f, "mirror/team/svc", a.digest);             /* the old image stays, untagged */
	/* checked just now: unchanged upstream, the window starts again */
	push_image(ur, &a, "latest");
	atomic_store(&clock_offset_ms, 900 * 1000);
	expect_cached_digest(f, "mirror/team/svc", "latest", b.digest);
	atomic_store(&clock_offset_ms, 1300 * 1000);
	expect_cached_digest(f, "mirror/team/svc", "latest", a.digest);
	assert_int_equal(atomic_load(&warnings), 0);
	ecr_repository_free(ur);
	th_image_dispose(&a);
	th_image_dispose(&b);
	fx_stop(f);
}

/* --- htpasswd upstream with a stored credential --- */

static void test_replication_cache__basic_auth_credential(void **state)
{
	(void)state;
	fx *f = fx_start(REGFIX_HTPASSWD);
	th_image a;
	char arn[256];
	assert_ok(th_image_random(&a, &f->rng, 2, NULL));
	ecr_repository *ur = up_repo(f, "private/app");
	push_image(ur, &a, "v1");
	ecr_repository_free(ur);

	/* without the credential, upstream refuses */
	put_rule(f->reg, "anon", f->rf.url, NULL);
	ecr_image *img = NULL;
	int rc = ecr_cache_image_get(&img, f->cache, f->reg, "anon/private/app", "v1", 0);
	assert_true(rc != 0);
	assert_null(img);

	snprintf(arn, sizeof(arn), "arn:aws:secretsmanager:%s:%s:secret:ecr-pullthroughcache/regfix",
	         ecr_registry_region(f->reg), ecr_registry_account_id(f->reg));
	assert_ok(ecr_registry_put_credential(f->reg, arn, REGFIX_USER, REGFIX_PASSWORD));
	put_rule(f->reg, "auth", f->rf.url, arn);
	expect_cached_digest(f, "auth/private/app", "v1", a.digest);
	expect_blob_bytes(f, "auth/private/app", &a.layers[0]);
	expect_blob_bytes(f, "auth/private/app", &a.layers[1]);
	expect_blob_bytes(f, "auth/private/app", &a.config);
	th_image_dispose(&a);
	fx_stop(f);
}

/* --- one upstream fetch for 20 concurrent readers --- */

typedef struct proxy {
	pid_t pid;
	char url[64];
	char port_file[600];
	char stats_file[600];
} proxy;

static void proxy_start(proxy *px, const char *dir, uint16_t target_port)
{
	char target[64];
	memset(px, 0, sizeof(*px));
	snprintf(px->port_file, sizeof(px->port_file), "%s/proxy.port", dir);
	snprintf(px->stats_file, sizeof(px->stats_file), "%s/proxy.stats", dir);
	snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)target_port);
	const char *argv[] = {"/usr/bin/python3", FAULTPROXY,    "--listen",     "127.0.0.1:0",  "--target", target,
	                      "--port-file",      px->port_file, "--stats-file", px->stats_file, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawn(&px->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(rc, 0);
	for (int i = 0; i < 200; i++) {
		FILE *fp = fopen(px->port_file, "r");
		unsigned port = 0;
		if (fp) {
			if (fscanf(fp, "%u", &port) != 1)
				port = 0;
			fclose(fp);
		}
		if (port) {
			snprintf(px->url, sizeof(px->url), "http://127.0.0.1:%u", port);
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

/* Bytes the upstream sent through the proxy (all connections). */
static uint64_t proxy_bytes(proxy *px)
{
	FILE *fp = fopen(px->stats_file, "r");
	char buf[65536];
	size_t n;
	ecr__json *j = NULL;
	uint64_t total = 0;
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_ok(ecr__json_parse(&j, buf, n, NULL));
	const ecr__json *bytes = ecr__json_get(j, "bytes");
	assert_non_null(bytes);
	assert_int_equal(bytes->type, ECR__JSON_ARRAY);
	for (size_t i = 0; i < bytes->count; i++)
		total += (uint64_t)bytes->values[i]->integer;
	ecr__json_free(j);
	return total;
}

typedef struct reader_arg {
	fx *f;
	const th_blob *blob;
	pthread_barrier_t *start;
	int rc;
	char problem[256];
} reader_arg;

static void *reader_thread(void *p)
{
	reader_arg *a = p;
	ecr_blob *b = NULL;
	unsigned char *buf = malloc(256 * 1024);
	size_t got = 0, n = 0;
	pthread_barrier_wait(a->start);
	a->rc = ecr_cache_blob_open(&b, a->f->cache, a->f->reg, "px/lib/big", a->blob->digest, 0, 0);
	if (a->rc) {
		snprintf(a->problem, sizeof(a->problem), "open: %s", ecr_error_last()->message);
		goto done;
	}
	if (ecr_blob_size(b) != a->blob->len) {
		a->rc = -1;
		snprintf(a->problem, sizeof(a->problem), "size %llu", (unsigned long long)ecr_blob_size(b));
		goto done;
	}
	for (;;) {
		if ((a->rc = ecr_blob_read(b, buf, 256 * 1024, &n))) {
			snprintf(a->problem, sizeof(a->problem), "read at %zu: %s", got, ecr_error_last()->message);
			goto done;
		}
		if (n == 0)
			break;
		if (got + n > a->blob->len || memcmp(buf, a->blob->data + got, n) != 0) {
			a->rc = -1;
			snprintf(a->problem, sizeof(a->problem), "bytes differ at %zu", got);
			goto done;
		}
		got += n;
	}
	if (got != a->blob->len) {
		a->rc = -1;
		snprintf(a->problem, sizeof(a->problem), "ended after %zu bytes", got);
	}
done:
	ecr_blob_free(b);
	free(buf);
	return NULL;
}

#define READERS 20
#define BIG (64u * 1024 * 1024)

static void test_replication_cache__single_flight_20_readers(void **state)
{
	(void)state;
	fx *f = fx_start(0);
	th_blob big;
	proxy px;
	assert_ok(th_blob_random(&big, &f->rng, BIG));
	ecr_repository *ur = up_repo(f, "lib/big");
	assert_ok(ecr_blob_put(ur, big.digest, big.data, big.len));
	ecr_repository_free(ur);
	proxy_start(&px, f->dir, f->rf.port);
	put_rule(f->reg, "px", px.url, NULL);

	pthread_t th[READERS];
	reader_arg args[READERS];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, READERS);
	for (int i = 0; i < READERS; i++) {
		args[i] = (reader_arg){f, &big, &start, 0, ""};
		assert_int_equal(pthread_create(&th[i], NULL, reader_thread, &args[i]), 0);
	}
	for (int i = 0; i < READERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < READERS; i++)
		if (args[i].rc)
			fail_msg("reader %d: %s", i, args[i].problem);
	/* one download: the upstream sent the blob's bytes once (plus headers and the /v2/ probe) */
	uint64_t sent = proxy_bytes(&px);
	print_message("# upstream sent %llu bytes for %d readers of a %u-byte blob\n", (unsigned long long)sent,
	              READERS, BIG);
	assert_true(sent >= BIG);
	assert_true(sent < BIG + 64 * 1024);
	int rc;
	assert_int_equal(local_blob_size(f, "px/lib/big", big.digest, &rc), BIG);
	assert_ok(rc);
	/* now stored: a new reader does not reach upstream */
	size_t len = 0;
	unsigned char *again = cache_read(f, f->cache, "px/lib/big", big.digest, &len);
	assert_int_equal(len, BIG);
	assert_memory_equal(again, big.data, BIG);
	free(again);
	assert_true(proxy_bytes(&px) == sent);
	proxy_stop(&px);
	th_blob_dispose(&big);
	fx_stop(f);
}

/* --- a reader that goes away --- */

static void test_replication_cache__reader_leaves_blob_still_stored(void **state)
{
	(void)state;
	fx *f = fx_start(0);
	th_blob blob;
	assert_ok(th_blob_random(&blob, &f->rng, 24u * 1024 * 1024));
	ecr_repository *ur = up_repo(f, "lib/leave");
	assert_ok(ecr_blob_put(ur, blob.digest, blob.data, blob.len));
	ecr_repository_free(ur);
	put_rule(f->reg, "up", f->rf.url, NULL);

	ecr_blob *b = NULL;
	unsigned char *buf = malloc(1024 * 1024);
	size_t got = 0, n = 0;
	assert_ok(ecr_cache_blob_open(&b, f->cache, f->reg, "up/lib/leave", blob.digest, 0, 0));
	while (got < 1024 * 1024) {
		assert_ok(ecr_blob_read(b, buf + got, 1024 * 1024 - got, &n));
		assert_true(n > 0);
		got += n;
	}
	assert_memory_equal(buf, blob.data, got);
	ecr_blob_free(b); /* gone after 1 MiB */
	free(buf);
	int rc = ECR_ENOTFOUND;
	for (int i = 0; i < 600 && rc; i++) {
		(void)local_blob_size(f, "up/lib/leave", blob.digest, &rc);
		if (rc)
			usleep(50 * 1000);
	}
	assert_ok(rc);
	ecr_repository *lr = NULL;
	assert_ok(ecr_repository_open(&lr, f->reg, "up/lib/leave"));
	if (th_blob_verify(lr, blob.digest, blob.len))
		fail_msg("stored blob: %s", th_problem());
	ecr_repository_free(lr);
	/* freeing the cache with nothing in flight is immediate; with a fetch in flight, it stops it */
	th_blob_dispose(&blob);
	fx_stop(f);
}

/* --- freeing the cache mid-fetch publishes nothing --- */

static void test_replication_cache__free_mid_fetch(void **state)
{
	(void)state;
	fx *f = fx_start(0);
	th_blob blob;
	assert_ok(th_blob_random(&blob, &f->rng, 48u * 1024 * 1024));
	ecr_repository *ur = up_repo(f, "lib/stop");
	assert_ok(ecr_blob_put(ur, blob.digest, blob.data, blob.len));
	ecr_repository_free(ur);
	put_rule(f->reg, "up", f->rf.url, NULL);
	ecr_blob *b = NULL;
	unsigned char buf[4096];
	size_t n = 0;
	assert_ok(ecr_cache_blob_open(&b, f->cache, f->reg, "up/lib/stop", blob.digest, 0, 0));
	assert_ok(ecr_blob_read(b, buf, sizeof(buf), &n));
	ecr_cache_free(f->cache); /* waits for the fetch to stop */
	f->cache = NULL;
	/* the reader still holds its bytes so far, then fails: the fetch was stopped */
	int rc = 0;
	while (!(rc = ecr_blob_read(b, buf, sizeof(buf), &n)) && n)
		;
	ecr_blob_free(b);
	int local = 0;
	(void)local_blob_size(f, "up/lib/stop", blob.digest, &local);
	if (local == 0)
		assert_int_equal(rc, 0); /* the fetch finished before the stop: then it is whole */
	else
		assert_true(rc != 0);
	th_blob_dispose(&blob);
	fx_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replication_cache__first_pull_then_offline),
	    cmocka_unit_test(test_replication_cache__tag_moved_after_window),
	    cmocka_unit_test(test_replication_cache__basic_auth_credential),
	    cmocka_unit_test(test_replication_cache__single_flight_20_readers),
	    cmocka_unit_test(test_replication_cache__reader_leaves_blob_still_stored),
	    cmocka_unit_test(test_replication_cache__free_mid_fetch),
	};
	return cmocka_run_group_tests_name("replication/cache", tests, NULL, NULL);
}
