/* storage/blob_s3: the blob store contract on the S3 store, against a real
 * Ceph radosgw started for this test (../shared/services/s3-test-server.sh),
 * plus multipart uploads, a stage continued by another store handle (another
 * node), digest mismatches with parts, concurrent publishes and listing.
 * The bucket is created and inspected with libcurl's own SigV4 signer, so the
 * checks do not rely on the store's signer. */
#define BSC_NAME(c) test_storage_blob_s3__##c
#include "blob_store_contract.h"

#include "libecr/storage/blob_common.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define S3T_BUCKET "libecr-test"
/* AWS's documented example credentials */
#define EX_KEY "AKIAIOSFODNN7EXAMPLE"
#define EX_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static char s3t_dir[PATH_MAX];
static char s3t_script[PATH_MAX];
static char s3t_endpoint[512];
static char s3t_key[512];
static char s3t_secret[512];
static int s3t_seq;
static char s3t_prefix[64]; /* of the current test's store */

/* Whether a TCP port on 127.0.0.1 is free. */
static bool s3t_port_free(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static bool s3t_find_script(void)
{
	static const char *const tries[] = {"%s/../../../shared/services/s3-test-server.sh",
		"%s/../../../../shared/services/s3-test-server.sh"};
	char here[PATH_MAX], dir[PATH_MAX], *slash;
	const char *env = getenv("ECR_S3_TEST_SERVER");
	size_t i;
	if (env && access(env, X_OK) == 0) {
		snprintf(s3t_script, sizeof(s3t_script), "%s", env);
		return true;
	}
	if (!realpath(__FILE__, here))
		return false;
	snprintf(dir, sizeof(dir), "%s", here);
	if ((slash = strrchr(dir, '/')))
		*slash = '\0';
	for (i = 0; i < 2; i++) {
		char cand[PATH_MAX + 64], real[PATH_MAX];
		snprintf(cand, sizeof(cand), tries[i], dir);
		if (realpath(cand, real) && access(real, X_OK) == 0) {
			snprintf(s3t_script, sizeof(s3t_script), "%s", real);
			return true;
		}
	}
	return false;
}

static size_t s3t_sink(char *p, size_t sz, size_t n, void *ud)
{
	ecr_buf *b = ud;
	size_t len = sz * n;
	char *np = realloc(b->ptr, b->size + len + 1);
	if (!np)
		return 0;
	memcpy(np + b->size, p, len);
	b->ptr = np;
	b->size += len;
	b->ptr[b->size] = '\0';
	return len;
}

/* A request signed by libcurl (CURLOPT_AWS_SIGV4). Returns the status; body into out (malloc'd) when given. */
static long s3t_http(const char *method, const char *path, const void *body, size_t len, char **out)
{
	CURL *c = curl_easy_init();
	char url[2048], userpwd[1100];
	ecr_buf b = {NULL, 0, 0};
	struct curl_slist *h = NULL;
	long status = 0;
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s/%s%s", s3t_endpoint, S3T_BUCKET, path);
	snprintf(userpwd, sizeof(userpwd), "%s:%s", s3t_key, s3t_secret);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
	curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	{
		/* curl 7.88 does not send the payload hash S3 requires. */
		char sha[ECR__DIGEST_STRLEN_MAX], line[200];
		bsc_digest(sha, ECR__DIGEST_SHA256, body ? body : "", body ? len : 0);
		snprintf(line, sizeof(line), "x-amz-content-sha256: %s", sha + 7);
		h = curl_slist_append(h, line);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, len ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3t_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_VERBOSE, getenv("S3T_VERBOSE") ? 1L : 0L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (out)
		*out = b.ptr ? b.ptr : strdup("");
	else
		free(b.ptr);
	return status;
}

/* Count the keys under a prefix of the bucket (one page is enough here). */
static int s3t_count_keys(const char *prefix)
{
	char path[256], *body = NULL, *p;
	int n = 0;
	snprintf(path, sizeof(path), "?list-type=2&prefix=%.*s%%2F", (int)strlen(prefix) - 1, prefix);
	assert_int_equal(s3t_http("GET", path, NULL, 0, &body), 200);
	for (p = body; (p = strstr(p, "<Key>")); p += 5)
		n++;
	free(body);
	return n;
}

static void s3t_stop(void)
{
	char cmd[PATH_MAX * 2 + 64];
	if (!s3t_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "'%s' stop '%s' >/dev/null 2>&1", s3t_script, s3t_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# s3-test-server.sh stop failed\n");
	th_rmtree(strdup(s3t_dir));
	s3t_dir[0] = '\0';
}

/* Start radosgw in a fresh folder on a free port (attempt varies the port): 0, or -1 with its log shown. */
static int s3t_start_once(int attempt, struct timeval *t0)
{
	char cmd[PATH_MAX * 2 + 64], line[512], *tmp;
	FILE *f;
	int port = 0, i;

	for (i = 0; i < 200 && !port; i++) {
		int p = 20000 + (int)((getpid() * 7919 + (i + attempt * 200) * 104729) % 30000);
		if (s3t_port_free(p) && s3t_port_free(p + 1))
			port = p;
	}
	if (!port)
		return -1;
	if (!(tmp = th_tmpdir()))
		return -1;
	snprintf(s3t_dir, sizeof(s3t_dir), "%s", tmp);
	free(tmp);
	s3t_endpoint[0] = s3t_key[0] = s3t_secret[0] = '\0';
	snprintf(cmd, sizeof(cmd), "'%s' start '%s' %d 2>&1", s3t_script, s3t_dir, port);
	gettimeofday(t0, NULL);
	if (!(f = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "S3_ENDPOINT=", 12))
			snprintf(s3t_endpoint, sizeof(s3t_endpoint), "%s", line + 12);
		else if (!strncmp(line, "AWS_ACCESS_KEY_ID=", 18))
			snprintf(s3t_key, sizeof(s3t_key), "%s", line + 18);
		else if (!strncmp(line, "AWS_SECRET_ACCESS_KEY=", 22))
			snprintf(s3t_secret, sizeof(s3t_secret), "%s", line + 22);
		else
			fprintf(stderr, "# %s\n", line);
	}
	if (pclose(f) != 0 || !s3t_endpoint[0] || !s3t_key[0]) {
		/* what radosgw said before it gave up, for the record */
		snprintf(cmd, sizeof(cmd), "tail -n 15 '%s/log' 2>/dev/null | sed 's/^/# log: /' >&2", s3t_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# (no radosgw log)\n");
		fprintf(stderr, "# radosgw did not start (attempt %d)\n", attempt + 1);
		s3t_stop();
		return -1;
	}
	return 0;
}

static int s3t_group_setup(void **state)
{
	struct timeval t0, t1;
	long status = 0;
	char *body = NULL;
	int attempt, i;
	(void)state;

	/* a one-node Ceph cluster sometimes fails to come up on a loaded machine: try a fresh one */
	for (attempt = 0; attempt < 3; attempt++) {
		if (s3t_start_once(attempt, &t0) == 0)
			break;
		sleep(2);
	}
	if (attempt == 3)
		return -1;
	gettimeofday(&t1, NULL);
	fprintf(stderr, "# radosgw started in %.2f s at %s\n",
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6, s3t_endpoint);
	setenv("AWS_ACCESS_KEY_ID", s3t_key, 1);
	setenv("AWS_SECRET_ACCESS_KEY", s3t_secret, 1);
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	setenv("AWS_REGION", "us-east-1", 1);
	for (i = 0; i < 50 && (status = s3t_http("PUT", "", "", 0, &body)) != 200; i++) {
		/* the user radosgw-admin just made may take a moment to be seen */
		free(body);
		body = NULL;
		usleep(200000);
	}
	if (status != 200) {
		fprintf(stderr, "# cannot create the bucket: HTTP %ld %s\n", status, body ? body : "");
		free(body);
		s3t_stop();
		return -1;
	}
	free(body);
	return 0;
}

static int s3t_group_teardown(void **state)
{
	(void)state;
	s3t_stop();
	return 0;
}

static int s3t_open(ecr_blob_store **out, const char *prefix)
{
	char url[1024];
	snprintf(url, sizeof(url), "s3://" S3T_BUCKET "/%s?endpoint=%s&path_style=1&region=us-east-1", prefix,
		s3t_endpoint);
	return ecr_blob_store_s3_new(out, url, 0);
}

static int bsc_store_new(bsc_fixture *fx)
{
	/* Each test in a prefix of its own: the stores start empty. */
	snprintf(s3t_prefix, sizeof(s3t_prefix), "t%d-%d", (int)getpid(), ++s3t_seq);
	return s3t_open(&fx->store, s3t_prefix);
}

static void bsc_store_free(bsc_fixture *fx)
{
	ecr_blob_store_free(fx->store);
}

/* Write len bytes of data in chunks into an open writer. */
static void s3t_write(ecr_blob_store_writer *w, const unsigned char *data, size_t len, size_t chunk)
{
	size_t off = 0;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_ok(w->write(w, data + off, n));
		off += n;
	}
}

static void test_storage_blob_s3__multipart_continued_on_another_node(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *a = fx->store, *b = NULL;
	size_t total = 64 * 1024 * 1024, first = 20 * 1024 * 1024 + 3, len;
	unsigned char *data = bsc_bytes(total, 64), *back;
	char digest[ECR__DIGEST_STRLEN_MAX], running[ECR__DIGEST_STRLEN_MAX], expect[ECR__DIGEST_STRLEN_MAX];
	char path[256], *json = NULL, *p;
	ecr_blob_store_writer *w = NULL;
	int parts = 0;
	uint64_t size = 0;

	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	bsc_digest(expect, ECR__DIGEST_SHA256, data, first);

	/* Node A writes the first 20 MiB: two parts are uploaded, the rest is the tail. */
	assert_ok(a->stage_open(&w, a, "big", 1));
	s3t_write(w, data, first, 1000003);
	w->close(w);
	snprintf(path, sizeof(path), "/%s/stages/big.json", s3t_prefix);
	assert_int_equal(s3t_http("GET", path, NULL, 0, &json), 200);
	for (p = json; (p = strstr(p, "\"etag\"")); p++)
		parts++;
	assert_int_equal(parts, 2);
	assert_non_null(strstr(json, "\"upload\""));
	free(json);
	/* Nothing is visible as a blob. */
	assert_int_equal(a->stat(a, digest, NULL), ECR_ENOTFOUND);

	/* Node B (a store handle of its own) continues the stage and commits it. */
	assert_ok(s3t_open(&b, s3t_prefix));
	w = NULL;
	assert_ok(b->stage_open(&w, b, "big", 0));
	assert_int_equal(w->size, first);
	assert_ok(w->digest(w, running, sizeof(running)));
	assert_string_equal(running, expect);
	s3t_write(w, data + first, total - first, 1 << 20);
	assert_int_equal(w->size, total);
	assert_ok(w->commit(w, digest));
	w->close(w);

	/* Node A reads it, from the start and from an offset inside a later part. */
	assert_ok(a->stat(a, digest, &size));
	assert_int_equal(size, total);
	back = bsc_read(a, digest, 0, 1 << 20, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
	back = bsc_read(a, digest, 50000001, 777777, &len);
	assert_int_equal(len, total - 50000001);
	assert_memory_equal(back, data + 50000001, len);
	free(back);
	/* The stage's objects are gone: only the blob remains under the prefix. */
	snprintf(path, sizeof(path), "%s/", s3t_prefix);
	assert_int_equal(s3t_count_keys(path), 1);
	ecr_blob_store_free(b);
	free(data);
}

static void test_storage_blob_s3__wrong_digest_with_parts(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 12 * 1024 * 1024 + 5;
	unsigned char *data = bsc_bytes(total, 12);
	char good[ECR__DIGEST_STRLEN_MAX], bad[ECR__DIGEST_STRLEN_MAX], bad512[ECR__DIGEST_STRLEN_MAX], path[128];
	ecr_blob_store_writer *w = NULL;
	struct bsc_seen seen;

	bsc_digest(good, ECR__DIGEST_SHA256, data, total);
	bsc_digest(bad, ECR__DIGEST_SHA256, data, total - 1);
	bsc_digest(bad512, ECR__DIGEST_SHA512, data, total - 1);
	assert_ok(s->stage_open(&w, s, "bad", 1));
	s3t_write(w, data, total, 65536);
	assert_int_equal(w->commit(w, bad), ECR_EDIGEST);
	w->close(w);
	/* sha512 over parts (hashed again from the completed staging object). */
	w = NULL;
	assert_ok(s->stage_open(&w, s, "bad512", 1));
	s3t_write(w, data, total, 1 << 20);
	assert_int_equal(w->commit(w, bad512), ECR_EDIGEST);
	w->close(w);

	assert_int_equal(s->stat(s, bad, NULL), ECR_ENOTFOUND);
	assert_int_equal(s->stat(s, good, NULL), ECR_ENOTFOUND);
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 0);
	assert_ok(s->stage_list(s, bsc_collect_stage, &seen));
	assert_int_equal(seen.count, 0);
	/* No object at all is left: the multipart uploads were aborted. */
	snprintf(path, sizeof(path), "%s/", s3t_prefix);
	assert_int_equal(s3t_count_keys(path), 0);
	{
		char *body = NULL;
		assert_int_equal(s3t_http("GET", "?uploads=", NULL, 0, &body), 200);
		assert_null(strstr(body, s3t_prefix));
		free(body);
	}
	free(data);
}

static void test_storage_blob_s3__sha512_with_parts(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 9 * 1024 * 1024 + 1, len;
	unsigned char *data = bsc_bytes(total, 51), *back;
	char d512[ECR__DIGEST_STRLEN_MAX];

	bsc_digest(d512, ECR__DIGEST_SHA512, data, total);
	assert_ok(bsc_put(s, "s512big", data, total, 1 << 20, d512));
	back = bsc_read(s, d512, 0, 1 << 20, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
	free(data);
}

struct s3t_thread {
	const unsigned char *data;
	size_t len;
	const char *digest;
	char id[16];
	int rc;
};

static void *s3t_node_thread(void *arg)
{
	struct s3t_thread *t = arg;
	ecr_blob_store *s = NULL;
	ecr_blob_store_writer *w = NULL;
	size_t off = 0;
	/* Each thread is a node: a store handle of its own. */
	if ((t->rc = s3t_open(&s, s3t_prefix)) != 0)
		return NULL;
	t->rc = s->stage_open(&w, s, t->id, 1);
	while (t->rc == 0 && off < t->len) {
		size_t n = t->len - off < 1000000 ? t->len - off : 1000000;
		t->rc = w->write(w, t->data + off, n);
		off += n;
	}
	if (t->rc == 0)
		t->rc = w->commit(w, t->digest);
	if (w)
		w->close(w);
	ecr_blob_store_free(s);
	return NULL;
}

static void test_storage_blob_s3__concurrent_publish_multipart(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 17 * 1024 * 1024 + 9, len;
	unsigned char *data = bsc_bytes(total, 17), *back;
	char digest[ECR__DIGEST_STRLEN_MAX], path[128];
	struct s3t_thread t[4];
	pthread_t tid[4];
	struct bsc_seen seen;
	int i;

	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	for (i = 0; i < 4; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].data = data;
		t[i].len = total;
		t[i].digest = digest;
		snprintf(t[i].id, sizeof(t[i].id), "node-%d", i);
		assert_int_equal(pthread_create(&tid[i], NULL, s3t_node_thread, &t[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(t[i].rc, 0);
	}
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 1);
	assert_string_equal(seen.names[0], digest);
	assert_int_equal(seen.sizes[0], total);
	back = bsc_read(s, digest, 0, 1 << 20, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
	snprintf(path, sizeof(path), "%s/", s3t_prefix);
	assert_int_equal(s3t_count_keys(path), 1);
	free(data);
}

struct s3t_count {
	int n;
	int foreign;
};

static int s3t_count_blob(const char *digest, uint64_t size, int64_t mtime_ms, void *payload)
{
	struct s3t_count *c = payload;
	(void)mtime_ms;
	if (strncmp(digest, "sha256:", 7) != 0 || size != 1)
		c->foreign++;
	c->n++;
	return 0;
}

static void test_storage_blob_s3__gc_listing_pages(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	struct s3t_count c = {0, 0};
	char path[256], digest[ECR__DIGEST_STRLEN_MAX];
	int i;

	/* More blobs than one listing page (1000 keys), put behind the store's
	 * back, plus objects that are not blobs. */
	for (i = 0; i < 1003; i++) {
		char content[16];
		snprintf(content, sizeof(content), "%d", i);
		bsc_digest(digest, ECR__DIGEST_SHA256, content, strlen(content));
		snprintf(path, sizeof(path), "/%s/blobs/sha256/%s", s3t_prefix, digest + 7);
		assert_int_equal(s3t_http("PUT", path, "x", 1, NULL), 200);
	}
	snprintf(path, sizeof(path), "/%s/blobs/sha256/notahexdigest", s3t_prefix);
	assert_int_equal(s3t_http("PUT", path, "x", 1, NULL), 200);
	snprintf(path, sizeof(path), "/%s/blobs/md5/0123456789abcdef0123456789abcdef", s3t_prefix);
	assert_int_equal(s3t_http("PUT", path, "x", 1, NULL), 200);
	snprintf(path, sizeof(path), "/%s-other/blobs/sha256/%s", s3t_prefix, digest + 7);
	assert_int_equal(s3t_http("PUT", path, "x", 1, NULL), 200);
	assert_ok(s->list(s, s3t_count_blob, &c));
	assert_int_equal(c.n, 1003);
	assert_int_equal(c.foreign, 0);
}

static void test_storage_blob_s3__reader_has_no_fd(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	ecr_blob_store_reader *r = NULL;
	char digest[ECR__DIGEST_STRLEN_MAX];

	bsc_digest(digest, ECR__DIGEST_SHA256, "abc", 3);
	assert_ok(bsc_put(s, "nofd", "abc", 3, 3, digest));
	assert_ok(s->read_open(&r, s, digest, 0));
	assert_null(r->fd);
	r->close(r);
}

static void test_storage_blob_s3__new_errors(void **state)
{
	ecr_blob_store *s = NULL;
	char url[1024];
	(void)state;

	assert_int_equal(ecr_blob_store_s3_new(&s, "http://x/y", 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_s3_new(&s, "s3://", 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_s3_new(&s, "s3://b/../x?endpoint=http://127.0.0.1:1", 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_s3_new(&s, "s3://bucket?colour=blue", 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_s3_new(&s, "s3://bucket?endpoint=ftp://x", 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_s3_new(&s, "s3://bucket?path_style=2", 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_s3_new(&s, "s3://bucket", 0x80), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_s3_new(NULL, "s3://bucket", 0), ECR_EINVALID);
	assert_null(s);

	/* A bucket that does not exist, a server that is not there. */
	snprintf(url, sizeof(url), "s3://no-such-bucket?endpoint=%s&path_style=1", s3t_endpoint);
	assert_int_equal(ecr_blob_store_s3_new(&s, url, 0), ECR_ENETWORK);
	assert_int_equal(ecr_blob_store_s3_new(&s, "s3://" S3T_BUCKET "?endpoint=http://127.0.0.1:1&path_style=1", 0),
		ECR_ENETWORK);
	/* Wrong credentials, then none. */
	setenv("AWS_SECRET_ACCESS_KEY", "wrong", 1);
	snprintf(url, sizeof(url), "s3://" S3T_BUCKET "?endpoint=%s&path_style=1", s3t_endpoint);
	assert_int_equal(ecr_blob_store_s3_new(&s, url, 0), ECR_EAUTH);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_ACCESS_KEY_ID");
	assert_int_equal(ecr_blob_store_s3_new(&s, url, 0), ECR_EAUTH);
	assert_null(s);
	setenv("AWS_ACCESS_KEY_ID", s3t_key, 1);
	setenv("AWS_SECRET_ACCESS_KEY", s3t_secret, 1);
	/* The URL-encoded endpoint works too. */
	snprintf(url, sizeof(url), "s3://" S3T_BUCKET "/p?endpoint=http%%3A%%2F%%2F%s&path_style=1", s3t_endpoint + 7);
	assert_ok(ecr_blob_store_s3_new(&s, url, 0));
	ecr_blob_store_free(s);
}

/* --- presigned URLs --- */

/* A GET with no credentials at all (plain curl, as a client redirected there would). Returns the status. */
static long s3t_plain_get(const char *url, ecr_buf *body)
{
	CURL *c = curl_easy_init();
	long status = 0;
	assert_non_null(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3t_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static void s3t_body_free(ecr_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->size = 0;
}

/* The example of AWS's documentation ("Authenticating Requests: Using Query Parameters", SigV4):
 * virtual-hosted examplebucket, GET /test.txt on 2013-05-24 for 86400 s. */
static void test_storage_blob_s3__presign_documented_example(void **state)
{
	ecr_buf url = ECR_BUF_INIT;
	(void)state;

	assert_ok(ecr__s3_presign(&url, "https://examplebucket.s3.amazonaws.com", "examplebucket.s3.amazonaws.com",
		"/test.txt", EX_KEY, EX_SECRET, NULL, "us-east-1", 86400,
		1369353600));
	assert_string_equal(url.ptr,
		"https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
		"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
		"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");

	/* A session token is signed too: in the query, before SignedHeaders, and it changes the signature. */
	ecr__buf_clear(&url);
	assert_ok(ecr__s3_presign(&url, "https://examplebucket.s3.amazonaws.com", "examplebucket.s3.amazonaws.com",
		"/test.txt", EX_KEY, EX_SECRET, "tok/en+=", "us-east-1",
		86400, 1369353600));
	assert_non_null(strstr(url.ptr,
		"&X-Amz-Expires=86400&X-Amz-Security-Token=tok%2Fen%2B%3D&X-Amz-SignedHeaders=host&X-Amz-Signature="));
	assert_null(strstr(url.ptr, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));

	/* Lifetimes: 1 s to 7 days. */
	ecr__buf_clear(&url);
	assert_int_equal(ecr__s3_presign(&url, "http://h", "h", "/k", "A", "S", NULL, "r", 0, 1369353600),
		ECR_EINVALID);
	assert_int_equal(ecr__s3_presign(&url, "http://h", "h", "/k", "A", "S", NULL, "r", 604801, 1369353600),
		ECR_EINVALID);
	assert_int_equal(ecr__s3_presign(&url, "http://h", "h", "k", "A", "S", NULL, "r", 60, 1369353600),
		ECR_EINVALID);
	assert_int_equal(url.size, 0);
	assert_ok(ecr__s3_presign(&url, "http://h", "h", "/k", "A", "S", NULL, "r", 604800, 1369353600));
	ecr_buf_dispose(&url);
}

static void test_storage_blob_s3__presign_fetch(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	ecr_buf url = ECR_BUF_INIT, body = { NULL, 0, 0 }, bad = ECR_BUF_INIT;
	char digest[ECR__DIGEST_STRLEN_MAX], other[ECR__DIGEST_STRLEN_MAX], *sig;
	unsigned char data[5000];
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + 3);
	bsc_digest(digest, ECR__DIGEST_SHA256, data, sizeof(data));
	bsc_digest(other, ECR__DIGEST_SHA256, "other", 5);
	assert_ok(bsc_put(s, "presign", data, sizeof(data), 1000, digest));
	assert_ok(bsc_put(s, "presign2", "other", 5, 5, other));
	assert_int_equal(s->version, 2);
	assert_non_null(s->presign);

	/* The URL alone (no credentials) gets the bytes, path style against radosgw. */
	assert_ok(s->presign(s, digest, 60, &url));
	assert_int_equal(strncmp(url.ptr, s3t_endpoint, strlen(s3t_endpoint)), 0);
	assert_non_null(strstr(url.ptr, "/" S3T_BUCKET "/"));
	assert_non_null(strstr(url.ptr, "X-Amz-Expires=60&"));
	assert_int_equal(s3t_plain_get(url.ptr, &body), 200);
	assert_int_equal(body.size, sizeof(data));
	assert_memory_equal(body.ptr, data, sizeof(data));
	s3t_body_free(&body);

	/* Tampered: one digit of the signature, the lifetime, the object (another blob's key). */
	assert_ok(ecr__buf_puts(&bad, url.ptr));
	sig = strstr(bad.ptr, "X-Amz-Signature=") + 16;
	sig[10] = sig[10] == '0' ? '1' : '0';
	assert_int_equal(s3t_plain_get(bad.ptr, &body), 403);
	s3t_body_free(&body);
	ecr__buf_clear(&bad);
	assert_ok(ecr__buf_puts(&bad, url.ptr));
	memcpy(strstr(bad.ptr, "X-Amz-Expires=60&") + 14, "90", 2);
	assert_int_equal(s3t_plain_get(bad.ptr, &body), 403);
	s3t_body_free(&body);
	ecr__buf_clear(&bad);
	assert_ok(ecr__buf_puts(&bad, url.ptr));
	memcpy(strstr(bad.ptr, digest + 7), other + 7, 64);
	assert_int_equal(s3t_plain_get(bad.ptr, &body), 403);
	s3t_body_free(&body);
	/* Without the signature it is an anonymous request: refused too. */
	*strstr(bad.ptr, "?") = '\0';
	assert_int_equal(s3t_plain_get(bad.ptr, &body), 403);
	s3t_body_free(&body);

	/* Expired: 1 s, fetched 3 s later; and one signed an hour ago for a minute. */
	assert_ok(s->presign(s, other, 1, &url));
	sleep(3);
	assert_int_equal(s3t_plain_get(url.ptr, &body), 403);
	s3t_body_free(&body);
	{
		ecr_buf path = ECR_BUF_INIT;
		const char *q = strchr(url.ptr, '?');
		size_t base = strlen(s3t_endpoint);
		assert_ok(ecr__buf_put(&path, url.ptr + base, (size_t)(q - url.ptr) - base));
		ecr__buf_clear(&bad);
		assert_ok(ecr__s3_presign(&bad, s3t_endpoint, s3t_endpoint + 7, path.ptr, s3t_key, s3t_secret, NULL,
			"us-east-1", 60, (int64_t)time(NULL) - 3600));
		assert_int_equal(s3t_plain_get(bad.ptr, &body), 403);
		s3t_body_free(&body);
		/* the same, signed now: accepted (so the refusal above is the expiry) */
		ecr__buf_clear(&bad);
		assert_ok(ecr__s3_presign(&bad, s3t_endpoint, s3t_endpoint + 7, path.ptr, s3t_key, s3t_secret, NULL,
			"us-east-1", 60, (int64_t)time(NULL)));
		assert_int_equal(s3t_plain_get(bad.ptr, &body), 200);
		assert_int_equal(body.size, 5);
		assert_memory_equal(body.ptr, "other", 5);
		s3t_body_free(&body);
		ecr_buf_dispose(&path);
	}

	/* Bad arguments. */
	assert_int_equal(s->presign(s, "sha256:nothex", 60, &url), ECR_EINVALID);
	assert_int_equal(s->presign(s, digest, 0, &url), ECR_EINVALID);
	assert_int_equal(s->presign(s, digest, 604801, &url), ECR_EINVALID);
	assert_int_equal(s->presign(s, digest, 60, NULL), ECR_EINVALID);
	ecr_buf_dispose(&url);
	ecr_buf_dispose(&bad);
}

/* Through the engine: a registry on the S3 store hands out download URLs of its repositories' blobs only. */
static void test_storage_blob_s3__download_url_through_registry(void **state)
{
	bsc_fixture *fx = *state;
	ecr_meta_store *meta = NULL;
	ecr_registry *reg = NULL;
	ecr_repository *repo = NULL;
	ecr_buf url = ECR_BUF_INIT, body = { NULL, 0, 0 };
	char digest[ECR__DIGEST_STRLEN_MAX], absent[ECR__DIGEST_STRLEN_MAX];
	static const char content[] = "layer bytes through a presigned URL";

	bsc_digest(digest, ECR__DIGEST_SHA256, content, sizeof(content) - 1);
	bsc_digest(absent, ECR__DIGEST_SHA256, "absent", 6);
	assert_ok(ecr_meta_store_sqlite_new(&meta, ":memory:", ECR_STORAGE_NOSYNC));
	assert_ok(ecr_registry_open_storage(&reg, fx->store, meta, NULL));
	fx->store = NULL; /* the registry owns it */
	assert_ok(ecr_repository_create(&repo, reg, "dl/url", NULL));
	assert_ok(ecr_blob_put(repo, digest, content, sizeof(content) - 1));

	assert_ok(ecr_blob_download_url(&url, repo, digest, 1200));
	assert_non_null(strstr(url.ptr, "X-Amz-Expires=1200&"));
	assert_int_equal(s3t_plain_get(url.ptr, &body), 200);
	assert_int_equal(body.size, sizeof(content) - 1);
	assert_memory_equal(body.ptr, content, sizeof(content) - 1);
	s3t_body_free(&body);

	assert_int_equal(ecr_blob_download_url(&url, repo, absent, 1200), ECR_ENOTFOUND);
	assert_int_equal(ecr_blob_download_url(&url, repo, "sha256:xyz", 1200), ECR_EINVALID);
	assert_int_equal(ecr_blob_download_url(&url, repo, digest, 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_download_url(NULL, repo, digest, 60), ECR_EINVALID);
	ecr_buf_dispose(&url);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BSC_CONTRACT_TESTS,
		BSC_TEST(multipart_continued_on_another_node),
		BSC_TEST(wrong_digest_with_parts),
		BSC_TEST(sha512_with_parts),
		BSC_TEST(concurrent_publish_multipart),
		BSC_TEST(gc_listing_pages),
		BSC_TEST(reader_has_no_fd),
		cmocka_unit_test(test_storage_blob_s3__presign_documented_example),
		BSC_TEST(presign_fetch),
		BSC_TEST(download_url_through_registry),
		cmocka_unit_test(test_storage_blob_s3__new_errors),
	};
	if (!s3t_find_script() || system("command -v radosgw >/dev/null 2>&1") != 0) {
		printf("1..0 # SKIP radosgw or s3-test-server.sh not available\n");
		return 0;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests_name("storage/blob_s3", tests, s3t_group_setup, s3t_group_teardown);
}
