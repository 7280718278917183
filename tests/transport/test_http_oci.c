/* The HTTP transport (libecr/transport/http_transport.c and http_oci.c)
 * through its vtable, against real servers: ecrd's server started in-process
 * (both planes, SigV4 access keys, tokens from GetAuthorizationToken) and
 * Debian's docker-registry 2.8 (plain, with Basic auth, with TLS). */
#include "../helpers/helpers.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../helpers/th_image.h"
#include "../server/api_client.h"
#include "ecr/auth.h"
#include "ecr/server.h"
#include "ecr/sys/transport.h"
#include "libecr/core/core.h"
#include "libecr/core/digest.h"
#include "libecr/core/json.h"
#include "libecr/oci/oci.h"
#include "libecr/transport/http_transport.h"
#include "registry_fixture.h"

#define ACCT "111122223333"
#define ADMIN "arn:aws:iam::" ACCT ":user/admin"

/* --- helpers --- */

static ecr_transport *open_transport(const char *url, const ecr_registry_options *o)
{
	ecr_transport *t = NULL;
	assert_ok(ecr__http_transport_new(&t, url, o));
	assert_non_null(t);
	assert_int_equal(t->version, ECR_TRANSPORT_VERSION);
	return t;
}

static void info_of(ecr_transport *t, uint32_t *features, ecr_buf *account, ecr_buf *region, ecr_buf *host)
{
	assert_ok(t->info(features, account, region, host, t));
}

static void digest_of(char out[ECR__DIGEST_STRLEN_MAX], const void *data, size_t len)
{
	assert_ok(ecr__digest_buf(out, ECR__DIGEST_STRLEN_MAX, ECR__DIGEST_SHA256, data, len));
}

static uint64_t rng_state = 0x5eed1234abcdULL;

static void random_blob(th_blob *b, size_t len)
{
	assert_ok(th_blob_random(b, &rng_state, len));
}

static void expect_code(int rc, int code)
{
	if (rc != code)
		fail_msg("expected %d (%s), got %d (%s): %s", code, ecr_error_name(code), rc, ecr_error_name(rc),
		         rc ? ecr_error_last()->message : "");
}

/* --- scenarios run against both servers --- */

/* Begin, status, three PATCHes with status after each, a wrong offset, commit; a wrong digest; cancel. */
static void scenario_chunked_upload(ecr_transport *t, const char *repo)
{
	th_blob b;
	ecr_buf session = ECR_BUF_INIT;
	uint64_t size = 99;

	random_blob(&b, 3000);
	assert_ok(t->upload_begin(&session, t, repo));
	assert_true(session.size > 0);
	assert_ok(t->upload_status(&size, t, repo, session.ptr));
	assert_int_equal(size, 0);
	for (size_t i = 0; i < 3; i++) {
		assert_ok(t->upload_write(&session, t, repo, i * 1000, b.data + i * 1000, 1000));
		assert_ok(t->upload_status(&size, t, repo, session.ptr));
		assert_int_equal(size, (i + 1) * 1000);
	}
	assert_ok(t->upload_commit(t, repo, session.ptr, b.digest));
	assert_ok(t->blob_stat(&size, t, repo, b.digest));
	assert_int_equal(size, 3000);

	/* a commit with another digest than the bytes' */
	char other[ECR__DIGEST_STRLEN_MAX];
	digest_of(other, "something else", 14);
	assert_ok(t->upload_begin(&session, t, repo));
	assert_ok(t->upload_write(&session, t, repo, 0, b.data, 100));
	expect_code(t->upload_commit(t, repo, session.ptr, other), ECR_EDIGEST);
	expect_code(t->blob_stat(&size, t, repo, other), ECR_ENOTFOUND);

	/* a write not at the session's size (docker-registry 2.8 ignores Content-Range: the transport notices) */
	assert_ok(t->upload_begin(&session, t, repo));
	assert_ok(t->upload_write(&session, t, repo, 0, b.data, 100));
	expect_code(t->upload_write(&session, t, repo, 50, b.data, 10), ECR_ERANGE);
	assert_ok(t->upload_cancel(t, repo, session.ptr));

	/* cancel: the session is gone */
	assert_ok(t->upload_begin(&session, t, repo));
	assert_ok(t->upload_write(&session, t, repo, 0, b.data, 10));
	assert_ok(t->upload_cancel(t, repo, session.ptr));
	expect_code(t->upload_status(&size, t, repo, session.ptr), ECR_EUPLOAD);

	ecr_buf_dispose(&session);
	th_blob_dispose(&b);
}

/* Monolithic put, stat, mount within the registry, a mount of a missing blob, delete. */
static void scenario_put_mount_delete(ecr_transport *t, const char *repo, const char *other)
{
	th_blob b, missing;
	uint64_t size = 0;

	random_blob(&b, 5000);
	random_blob(&missing, 10);
	expect_code(t->blob_stat(&size, t, repo, b.digest), ECR_ENOTFOUND);
	assert_ok(t->blob_put(t, repo, b.digest, b.data, b.len));
	assert_ok(t->blob_stat(&size, t, repo, b.digest));
	assert_int_equal(size, 5000);
	/* the blob_put of another digest than the data's */
	expect_code(t->blob_put(t, repo, missing.digest, b.data, b.len), ECR_EDIGEST);

	assert_ok(t->blob_mount(t, other, repo, b.digest));
	assert_ok(t->blob_stat(&size, t, other, b.digest));
	assert_int_equal(size, 5000);
	expect_code(t->blob_mount(t, other, repo, missing.digest), ECR_ENOTFOUND);

	assert_ok(t->blob_delete(t, other, b.digest));
	expect_code(t->blob_stat(&size, t, other, b.digest), ECR_ENOTFOUND);
	assert_ok(t->blob_stat(&size, t, repo, b.digest));

	th_blob_dispose(&b);
	th_blob_dispose(&missing);
}

static void push_blobs(ecr_transport *t, const char *repo, const th_image *img)
{
	assert_ok(t->blob_put(t, repo, img->config.digest, img->config.data, img->config.len));
	for (size_t i = 0; i < img->layer_count; i++)
		assert_ok(t->blob_put(t, repo, img->layers[i].digest, img->layers[i].data, img->layers[i].len));
}

/* Manifests by tag and by digest: put, get, head, delete, not found. */
static void scenario_manifests(ecr_transport *t, const char *repo, int unknown_repo_code)
{
	th_image img;
	ecr_buf body = ECR_BUF_INIT, mt = ECR_BUF_INIT, digest = ECR_BUF_INIT;
	uint64_t size = 0;

	assert_ok(th_image_random(&img, &rng_state, 2, NULL));
	push_blobs(t, repo, &img);
	assert_ok(t->manifest_put(&digest, t, repo, "v1", ECR__MT_OCI_MANIFEST, img.manifest, img.manifest_len));
	assert_string_equal(digest.ptr, img.digest);

	/* by tag */
	assert_ok(t->manifest_get(&body, &mt, &digest, t, repo, "v1"));
	assert_int_equal(body.size, img.manifest_len);
	assert_memory_equal(body.ptr, img.manifest, img.manifest_len);
	assert_string_equal(mt.ptr, ECR__MT_OCI_MANIFEST);
	assert_string_equal(digest.ptr, img.digest);
	/* by digest */
	ecr_buf_dispose(&body);
	ecr_buf_dispose(&mt);
	assert_ok(t->manifest_get(&body, &mt, &digest, t, repo, img.digest));
	assert_memory_equal(body.ptr, img.manifest, img.manifest_len);
	assert_string_equal(digest.ptr, img.digest);
	/* HEAD */
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&digest);
	assert_ok(t->manifest_head(&mt, &digest, &size, t, repo, "v1"));
	assert_int_equal(size, img.manifest_len);
	assert_string_equal(digest.ptr, img.digest);
	assert_string_equal(mt.ptr, ECR__MT_OCI_MANIFEST);
	assert_ok(t->manifest_head(&mt, &digest, &size, t, repo, img.digest));
	assert_int_equal(size, img.manifest_len);

	/* not found: the local engine's codes */
	expect_code(t->manifest_get(&body, &mt, &digest, t, repo, "nope"), ECR_EIMAGE_NOT_FOUND);
	expect_code(t->manifest_head(&mt, &digest, &size, t, repo, "nope"), ECR_EIMAGE_NOT_FOUND);
	/* (docker-registry has no repositories apart from their content: MANIFEST_UNKNOWN) */
	expect_code(t->manifest_get(&body, &mt, &digest, t, "no-such-repo", "v1"), unknown_repo_code);

	/* a second manifest pushed by digest only, then deleted */
	th_image img2;
	assert_ok(th_image_random(&img2, &rng_state, 1, NULL));
	push_blobs(t, repo, &img2);
	assert_ok(
	    t->manifest_put(&digest, t, repo, img2.digest, ECR__MT_OCI_MANIFEST, img2.manifest, img2.manifest_len));
	assert_string_equal(digest.ptr, img2.digest);
	assert_ok(t->manifest_get(&body, &mt, &digest, t, repo, img2.digest));
	assert_ok(t->manifest_delete(t, repo, img2.digest));
	expect_code(t->manifest_get(&body, &mt, &digest, t, repo, img2.digest), ECR_EIMAGE_NOT_FOUND);
	th_image_dispose(&img2);

	ecr_buf_dispose(&body);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&digest);
	th_image_dispose(&img);
}

static void expect_tags(const ecr_buf *json, const char *const *tags, size_t n)
{
	ecr__json *doc = NULL;
	assert_ok(ecr__json_parse(&doc, json->ptr, json->size, NULL));
	const ecr__json *arr = ecr__json_get(doc, "tags");
	assert_non_null(arr);
	assert_int_equal(arr->count, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(arr->values[i]->string, tags[i]);
	ecr__json_free(doc);
}

/* Five tags listed two at a time. */
static void scenario_tags(ecr_transport *t, const char *repo)
{
	th_image img;
	ecr_buf json = ECR_BUF_INIT;
	int more = -1;
	static const char *const all[] = {"t1", "t2", "t3", "t4", "t5"};

	assert_ok(th_image_random(&img, &rng_state, 1, NULL));
	push_blobs(t, repo, &img);
	for (size_t i = 0; i < 5; i++)
		assert_ok(t->manifest_put(NULL, t, repo, all[i], ECR__MT_OCI_MANIFEST, img.manifest, img.manifest_len));

	assert_ok(t->tags_list(&json, &more, t, repo, NULL, 2));
	expect_tags(&json, all, 2);
	assert_int_equal(more, 1);
	assert_ok(t->tags_list(&json, &more, t, repo, "t2", 2));
	expect_tags(&json, all + 2, 2);
	assert_int_equal(more, 1);
	assert_ok(t->tags_list(&json, &more, t, repo, "t4", 2));
	expect_tags(&json, all + 4, 1);
	assert_int_equal(more, 0);
	assert_ok(t->tags_list(&json, &more, t, repo, NULL, 0));
	expect_tags(&json, all, 5);
	assert_int_equal(more, 0);
	ecr_buf_dispose(&json);
	th_image_dispose(&img);
}

/* A 20 MiB blob uploaded in 3 PATCHes and read back in 1000-byte reads; then a range. */
static void scenario_stream(ecr_transport *t, const char *repo)
{
	th_blob b;
	ecr_buf session = ECR_BUF_INIT;
	ecr_transport_stream *s = NULL;
	uint64_t size = 0;
	size_t len = 20u << 20, chunk = 8u << 20, off = 0;
	char buf[1000];

	random_blob(&b, len);
	assert_ok(t->upload_begin(&session, t, repo));
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_ok(t->upload_write(&session, t, repo, off, b.data + off, n));
		off += n;
	}
	assert_ok(t->upload_status(&size, t, repo, session.ptr));
	assert_int_equal(size, len);
	assert_ok(t->upload_commit(t, repo, session.ptr, b.digest));

	assert_ok(t->blob_open(&s, &size, t, repo, b.digest, 0, 0));
	assert_int_equal(s->version, ECR_TRANSPORT_STREAM_VERSION);
	assert_int_equal(size, len);
	off = 0;
	for (;;) {
		size_t n = 0;
		assert_ok(s->read(s, buf, sizeof(buf), &n));
		if (n == 0)
			break;
		assert_true(off + n <= len);
		if (memcmp(buf, b.data + off, n) != 0)
			fail_msg("bytes differ at %zu", off);
		off += n;
	}
	assert_int_equal(off, len);
	s->close(s);

	/* a range */
	assert_ok(t->blob_open(&s, &size, t, repo, b.digest, 1234567, 5000));
	assert_int_equal(size, len);
	off = 0;
	for (;;) {
		size_t n = 0;
		assert_ok(s->read(s, buf, sizeof(buf), &n));
		if (n == 0)
			break;
		assert_memory_equal(buf, b.data + 1234567 + off, n);
		off += n;
	}
	assert_int_equal(off, 5000);
	s->close(s);

	char missing[ECR__DIGEST_STRLEN_MAX];
	digest_of(missing, "missing", 7);
	s = NULL;
	expect_code(t->blob_open(&s, &size, t, repo, missing, 0, 0), ECR_ENOTFOUND);
	assert_null(s);

	ecr_buf_dispose(&session);
	th_blob_dispose(&b);
}

/* --- ecrd in-process --- */

typedef struct ecrd_fx {
	ecr_registry *reg;
	ecr_server *srv;
	uint16_t port;
	char url[64];
	ecr_buf key, secret;
	ecr_transport *t;
} ecrd_fx;

static ecr_transport *ecrd_transport(ecrd_fx *f, const char *secret)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.access_key_id = f->key.ptr;
	o.secret_access_key = secret;
	o.region = "us-east-1";
	return open_transport(f->url, &o);
}

static int ecrd_setup(void **state)
{
	ecrd_fx *f = calloc(1, sizeof(*f));
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_principal *p = NULL;
	ecr_repository *r = NULL;

	o.account_id = ACCT;
	o.region = "us-east-1";
	assert_ok(ecr_registry_open(&f->reg, "memory:", &o));
	assert_ok(ecr_principal_create(&p, f->reg, ADMIN, ECR_PRINCIPAL_ADMIN));
	assert_ok(ecr_principal_access_key_create(&f->key, &f->secret, p));
	ecr_principal_free(p);
	static const char *const repos[] = {"app", "other", "paged", "big", "refs"};
	for (size_t i = 0; i < sizeof(repos) / sizeof(repos[0]); i++) {
		assert_ok(ecr_repository_create(&r, f->reg, repos[i], NULL));
		ecr_repository_free(r);
	}
	f->port = api_server_start(&f->srv, f->reg, 0);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", (unsigned)f->port);
	f->t = ecrd_transport(f, f->secret.ptr);
	uint32_t features = 0;
	info_of(f->t, &features, NULL, NULL, NULL);
	*state = f;
	return 0;
}

static int ecrd_teardown(void **state)
{
	ecrd_fx *f = *state;
	if (f->t)
		f->t->free(f->t);
	ecr_server_free(f->srv);
	ecr_registry_free(f->reg);
	ecr_buf_dispose(&f->key);
	ecr_buf_dispose(&f->secret);
	free(f);
	return 0;
}

static void test_transport_http_oci__ecrd_info(void **state)
{
	ecrd_fx *f = *state;
	ecr_buf account = ECR_BUF_INIT, region = ECR_BUF_INIT, host = ECR_BUF_INIT;
	uint32_t features = 0;
	char want_host[64];

	ecr_transport *t = ecrd_transport(f, f->secret.ptr);
	info_of(t, &features, &account, &region, &host);
	assert_int_equal(features, ECR_TRANSPORT_HAS_ECR_API | ECR_TRANSPORT_HAS_OCI);
	assert_string_equal(account.ptr, ACCT);
	assert_string_equal(region.ptr, "us-east-1");
	snprintf(want_host, sizeof(want_host), "127.0.0.1:%u", (unsigned)f->port);
	assert_string_equal(host.ptr, want_host);
	/* the control plane works through call() */
	ecr_buf res = ECR_BUF_INIT;
	assert_ok(t->call(&res, t, "DescribeRepositories", "{}", 2));
	assert_non_null(strstr(res.ptr, "\"paged\""));
	ecr_buf_dispose(&res);
	t->free(t);

	/* a wrong secret: the registry refuses the credentials */
	t = ecrd_transport(f, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	expect_code(t->info(&features, &account, &region, &host, t), ECR_EAUTH);
	t->free(t);

	/* OCI only: the ECR API is not asked for */
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.remote_flags = ECR_REMOTE_OCI_ONLY;
	o.username = "AWS";
	ecr_principal *p = NULL;
	ecr_buf tok = ECR_BUF_INIT;
	int64_t expires = 0;
	assert_ok(ecr_principal_open(&p, f->reg, ADMIN));
	assert_ok(ecr_auth_token_create(&tok, &expires, f->reg, p));
	ecr_principal_free(p);
	o.password = tok.ptr;
	t = open_transport(f->url, &o);
	info_of(t, &features, &account, &region, &host);
	assert_int_equal(features, ECR_TRANSPORT_HAS_OCI);
	assert_string_equal(account.ptr, "");
	assert_string_equal(region.ptr, "");
	expect_code(t->call(&res, t, "DescribeRepositories", "{}", 2), ECR_ENOTSUPPORTED);
	/* the data plane works with the Basic token */
	uint64_t size;
	char d[ECR__DIGEST_STRLEN_MAX];
	digest_of(d, "x", 1);
	expect_code(t->blob_stat(&size, t, "app", d), ECR_ENOTFOUND);
	t->free(t);
	ecr_buf_dispose(&tok);

	ecr_buf_dispose(&account);
	ecr_buf_dispose(&region);
	ecr_buf_dispose(&host);
}

static void test_transport_http_oci__ecrd_chunked_upload(void **state)
{
	ecrd_fx *f = *state;
	scenario_chunked_upload(f->t, "app");
}

static void test_transport_http_oci__ecrd_put_mount_delete(void **state)
{
	ecrd_fx *f = *state;
	scenario_put_mount_delete(f->t, "app", "other");
}

static void test_transport_http_oci__ecrd_manifests(void **state)
{
	ecrd_fx *f = *state;
	scenario_manifests(f->t, "app", ECR_EREPOSITORY_NOT_FOUND);
}

static void test_transport_http_oci__ecrd_tags(void **state)
{
	ecrd_fx *f = *state;
	scenario_tags(f->t, "paged");
}

static void test_transport_http_oci__ecrd_stream(void **state)
{
	ecrd_fx *f = *state;
	scenario_stream(f->t, "big");
}

/* An artifact whose subject is an image: the referrers of the image list it. */
static void push_artifact(ecr_transport *t, const char *repo, const th_image *subject, const char *artifact_type,
                          char digest_out[ECR__DIGEST_STRLEN_MAX])
{
	char empty[ECR__DIGEST_STRLEN_MAX], body[2048];
	th_blob sig;
	digest_of(empty, "{}", 2);
	random_blob(&sig, 64);
	assert_ok(t->blob_put(t, repo, empty, "{}", 2));
	assert_ok(t->blob_put(t, repo, sig.digest, sig.data, sig.len));
	int n = snprintf(body, sizeof(body),
	                 "{\"schemaVersion\":2,\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"artifactType\":\"%s\","
	                 "\"config\":{\"mediaType\":\"" ECR__MT_OCI_EMPTY "\",\"digest\":\"%s\",\"size\":2},"
	                 "\"layers\":[{\"mediaType\":\"application/octet-stream\",\"digest\":\"%s\",\"size\":64}],"
	                 "\"subject\":{\"mediaType\":\"" ECR__MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":%zu}}",
	                 artifact_type, empty, sig.digest, subject->digest, subject->manifest_len);
	assert_true(n > 0 && (size_t)n < sizeof(body));
	digest_of(digest_out, body, (size_t)n);
	ecr_buf d = ECR_BUF_INIT;
	assert_ok(t->manifest_put(&d, t, repo, digest_out, ECR__MT_OCI_MANIFEST, body, (size_t)n));
	assert_string_equal(d.ptr, digest_out);
	ecr_buf_dispose(&d);
	th_blob_dispose(&sig);
}

static void test_transport_http_oci__ecrd_referrers(void **state)
{
	ecrd_fx *f = *state;
	ecr_transport *t = f->t;
	th_image img;
	char sig[ECR__DIGEST_STRLEN_MAX], sbom[ECR__DIGEST_STRLEN_MAX];
	ecr_buf index = ECR_BUF_INIT;
	ecr__json *doc = NULL;

	assert_ok(th_image_random(&img, &rng_state, 1, NULL));
	push_blobs(t, "refs", &img);
	assert_ok(t->manifest_put(NULL, t, "refs", "subject", ECR__MT_OCI_MANIFEST, img.manifest, img.manifest_len));
	assert_ok(t->referrers(&index, t, "refs", img.digest, NULL));
	assert_ok(ecr__json_parse(&doc, index.ptr, index.size, NULL));
	assert_int_equal(ecr__json_get(doc, "manifests")->count, 0);
	ecr__json_free(doc);

	push_artifact(t, "refs", &img, "application/vnd.test.signature", sig);
	push_artifact(t, "refs", &img, "application/vnd.test.sbom", sbom);
	assert_ok(t->referrers(&index, t, "refs", img.digest, NULL));
	assert_ok(ecr__json_parse(&doc, index.ptr, index.size, NULL));
	assert_string_equal(ecr__json_get_string(doc, "mediaType"), ECR__MT_OCI_INDEX);
	const ecr__json *m = ecr__json_get(doc, "manifests");
	assert_int_equal(m->count, 2);
	int seen = 0;
	for (size_t i = 0; i < 2; i++) {
		const char *d = ecr__json_get_string(m->values[i], "digest");
		const char *at = ecr__json_get_string(m->values[i], "artifactType");
		if (strcmp(d, sig) == 0 && strcmp(at, "application/vnd.test.signature") == 0)
			seen |= 1;
		if (strcmp(d, sbom) == 0 && strcmp(at, "application/vnd.test.sbom") == 0)
			seen |= 2;
	}
	assert_int_equal(seen, 3);
	ecr__json_free(doc);

	assert_ok(t->referrers(&index, t, "refs", img.digest, "application/vnd.test.sbom"));
	assert_ok(ecr__json_parse(&doc, index.ptr, index.size, NULL));
	m = ecr__json_get(doc, "manifests");
	assert_int_equal(m->count, 1);
	assert_string_equal(ecr__json_get_string(m->values[0], "digest"), sbom);
	ecr__json_free(doc);

	ecr_buf_dispose(&index);
	th_image_dispose(&img);
}

/* --- docker-registry --- */

typedef struct dr_fx {
	char *dir;
	regfix rf;
	ecr_transport *t;
} dr_fx;

static dr_fx *dr_start(unsigned flags)
{
	dr_fx *f = calloc(1, sizeof(*f));
	f->dir = th_tmpdir();
	if (regfix_start(&f->rf, f->dir, flags) != 0)
		fail_msg("docker-registry: %s", regfix_problem());
	return f;
}

static void dr_stop(dr_fx *f)
{
	if (f->t)
		f->t->free(f->t);
	regfix_stop(&f->rf);
	th_rmtree(f->dir);
	free(f);
}

static int dr_setup(void **state)
{
	dr_fx *f = dr_start(0);
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.access_key_id = "AKIDEXAMPLE"; /* AWS credentials do not make a plain registry an ECR */
	o.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	f->t = open_transport(f->rf.url, &o);
	assert_ok(f->t->info(NULL, NULL, NULL, NULL, f->t));
	*state = f;
	return 0;
}

static int dr_teardown(void **state)
{
	dr_stop(*state);
	return 0;
}

static void test_transport_http_oci__registry_info(void **state)
{
	dr_fx *f = *state;
	ecr_buf account = ECR_BUF_INIT, region = ECR_BUF_INIT, host = ECR_BUF_INIT, res = ECR_BUF_INIT;
	uint32_t features = 0;
	char want_host[64];

	/* no AWS credentials at all: the unsigned probe finds no ECR API either */
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	ecr_transport *t = open_transport(f->rf.url, NULL);
	info_of(t, &features, &account, &region, &host);
	assert_int_equal(features, ECR_TRANSPORT_HAS_OCI);
	assert_string_equal(account.ptr, "");
	assert_string_equal(region.ptr, "");
	snprintf(want_host, sizeof(want_host), "127.0.0.1:%u", (unsigned)f->rf.port);
	assert_string_equal(host.ptr, want_host);
	t->free(t);

	/* with (unused) AWS credentials: the same */
	info_of(f->t, &features, &account, &region, &host);
	assert_int_equal(features, ECR_TRANSPORT_HAS_OCI);
	assert_string_equal(account.ptr, "");
	expect_code(f->t->call(&res, f->t, "DescribeRepositories", "{}", 2), ECR_ENOTSUPPORTED);

	/* nothing listening */
	const char *url = "http://127.0.0.1:1";
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.remote_flags = ECR_REMOTE_NO_RETRY | ECR_REMOTE_OCI_ONLY;
	t = open_transport(url, &o);
	expect_code(t->info(&features, &account, &region, &host, t), ECR_ENETWORK);
	t->free(t);

	ecr_buf_dispose(&account);
	ecr_buf_dispose(&region);
	ecr_buf_dispose(&host);
	ecr_buf_dispose(&res);
}

static void test_transport_http_oci__registry_chunked_upload(void **state)
{
	dr_fx *f = *state;
	scenario_chunked_upload(f->t, "lib/app");
}

static void test_transport_http_oci__registry_put_mount_delete(void **state)
{
	dr_fx *f = *state;
	scenario_put_mount_delete(f->t, "lib/app", "lib/other");
}

static void test_transport_http_oci__registry_manifests(void **state)
{
	dr_fx *f = *state;
	scenario_manifests(f->t, "lib/app", ECR_EIMAGE_NOT_FOUND);
}

static void test_transport_http_oci__registry_tags(void **state)
{
	dr_fx *f = *state;
	scenario_tags(f->t, "paged");
}

static void test_transport_http_oci__registry_stream(void **state)
{
	dr_fx *f = *state;
	scenario_stream(f->t, "big");
}

static void test_transport_http_oci__registry_no_referrers_api(void **state)
{
	dr_fx *f = *state;
	ecr_buf index = ECR_BUF_INIT;
	th_image img;
	assert_ok(th_image_random(&img, &rng_state, 1, NULL));
	push_blobs(f->t, "refs", &img);
	assert_ok(f->t->manifest_put(NULL, f->t, "refs", "v1", ECR__MT_OCI_MANIFEST, img.manifest, img.manifest_len));
	expect_code(f->t->referrers(&index, f->t, "refs", img.digest, NULL), ECR_ENOTSUPPORTED);
	ecr_buf_dispose(&index);
	th_image_dispose(&img);
}

/*
 * A manifest whose stored bytes no longer match its digest (changed on the
 * registry's disk, same length): docker-registry serves them as they are; the
 * transport refuses them, by digest and by tag (Docker-Content-Digest).
 */
static void test_transport_http_oci__registry_digest_verified(void **state)
{
	dr_fx *f = *state;
	ecr_buf body = ECR_BUF_INIT, mt = ECR_BUF_INIT, digest = ECR_BUF_INIT;
	th_image img;
	char path[1024];

	assert_ok(th_image_random(&img, &rng_state, 1, NULL));
	push_blobs(f->t, "tamper", &img);
	assert_ok(f->t->manifest_put(NULL, f->t, "tamper", "v1", ECR__MT_OCI_MANIFEST, img.manifest, img.manifest_len));
	assert_ok(f->t->manifest_get(&body, &mt, &digest, f->t, "tamper", "v1"));

	const char *hex = img.digest + strlen("sha256:");
	snprintf(path, sizeof(path), "%s/data/docker/registry/v2/blobs/sha256/%.2s/%s/data", f->dir, hex, hex);
	int fd = open(path, O_RDWR);
	if (fd < 0)
		fail_msg("cannot open the stored manifest %s", path);
	/* the manifest stays valid: one hex digit of its config's digest changes */
	const char *at = strstr(img.manifest, "sha256:");
	assert_non_null(at);
	off_t pos = (off_t)(at - img.manifest) + 7;
	char c = img.manifest[pos] == 'a' ? 'b' : 'a';
	assert_int_equal(pwrite(fd, &c, 1, pos), 1);
	close(fd);

	expect_code(f->t->manifest_get(&body, &mt, &digest, f->t, "tamper", img.digest), ECR_EDIGEST);
	expect_code(f->t->manifest_get(&body, &mt, &digest, f->t, "tamper", "v1"), ECR_EDIGEST);

	ecr_buf_dispose(&body);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&digest);
	th_image_dispose(&img);
}

static void test_transport_http_oci__registry_basic_auth(void **state)
{
	(void)state;
	dr_fx *f = dr_start(REGFIX_HTPASSWD);
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	uint32_t features = 0;
	uint64_t size = 0;
	th_blob b;

	o.remote_flags = ECR_REMOTE_OCI_ONLY;
	o.username = REGFIX_USER;
	o.password = REGFIX_PASSWORD;
	ecr_transport *t = open_transport(f->rf.url, &o);
	assert_ok(t->info(&features, NULL, NULL, NULL, t));
	assert_int_equal(features, ECR_TRANSPORT_HAS_OCI);
	random_blob(&b, 100);
	assert_ok(t->blob_put(t, "auth/app", b.digest, b.data, b.len));
	assert_ok(t->blob_stat(&size, t, "auth/app", b.digest));
	assert_int_equal(size, 100);
	t->free(t);

	o.password = "wrong-password";
	t = open_transport(f->rf.url, &o);
	expect_code(t->info(&features, NULL, NULL, NULL, t), ECR_EAUTH);
	expect_code(t->blob_stat(&size, t, "auth/app", b.digest), ECR_EAUTH);
	t->free(t);

	/* no credentials: the registry is there, its operations need them */
	o.username = o.password = NULL;
	t = open_transport(f->rf.url, &o);
	assert_ok(t->info(&features, NULL, NULL, NULL, t));
	expect_code(t->blob_stat(&size, t, "auth/app", b.digest), ECR_EAUTH);
	t->free(t);

	th_blob_dispose(&b);
	dr_stop(f);
}

static void test_transport_http_oci__registry_tls(void **state)
{
	(void)state;
	dr_fx *f = dr_start(REGFIX_TLS);
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	uint32_t features = 0;
	uint64_t size = 0;
	th_blob b;

	assert_int_equal(strncmp(f->rf.url, "https://", 8), 0);
	o.remote_flags = ECR_REMOTE_OCI_ONLY | ECR_REMOTE_NO_RETRY;
	/* not trusted */
	ecr_transport *t = open_transport(f->rf.url, &o);
	expect_code(t->info(&features, NULL, NULL, NULL, t), ECR_ENETWORK);
	assert_non_null(strstr(ecr_error_last()->message, f->rf.url + 8));
	t->free(t);
	/* trusted with ca_file */
	o.ca_file = f->rf.ca_file;
	t = open_transport(f->rf.url, &o);
	assert_ok(t->info(&features, NULL, NULL, NULL, t));
	assert_int_equal(features, ECR_TRANSPORT_HAS_OCI);
	random_blob(&b, 2000);
	assert_ok(t->blob_put(t, "tls/app", b.digest, b.data, b.len));
	assert_ok(t->blob_stat(&size, t, "tls/app", b.digest));
	assert_int_equal(size, 2000);
	t->free(t);
	/* or not verified at all */
	o.ca_file = NULL;
	o.remote_flags |= ECR_REMOTE_INSECURE;
	t = open_transport(f->rf.url, &o);
	assert_ok(t->info(&features, NULL, NULL, NULL, t));
	assert_ok(t->blob_stat(&size, t, "tls/app", b.digest));
	t->free(t);

	th_blob_dispose(&b);
	dr_stop(f);
}

/* --- construction (no server needed) --- */

static void test_transport_http_oci__urls(void **state)
{
	(void)state;
	ecr_transport *t = NULL;
	static const char *const bad[] = {"ftp://127.0.0.1",
	                                  "http://",
	                                  "http://127.0.0.1:5000/v2",
	                                  "http://user:pw@127.0.0.1",
	                                  "http://127.0.0.1?x=1",
	                                  "http://127.0.0.1#frag",
	                                  "127.0.0.1:5000",
	                                  "http://127.0.0.1:99999",
	                                  "http://a b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = (ecr_transport *)1;
		int rc = ecr__http_transport_new(&t, bad[i], NULL);
		if (rc != ECR_EINVALID)
			fail_msg("%s: expected ECR_EINVALID, got %d", bad[i], rc);
		assert_null(t);
	}

	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.remote_flags = ECR_REMOTE_OCI_ONLY;
	t = open_transport("http://127.0.0.1:5000/", &o);
	ecr__http_transport *ht = (ecr__http_transport *)t;
	assert_string_equal(ht->host, "127.0.0.1:5000");
	assert_string_equal(ht->base_url, "http://127.0.0.1:5000");
	assert_null(ht->api);
	t->free(t);

	t = open_transport("https://Registry.Example:443", &o);
	ht = (ecr__http_transport *)t;
	assert_string_equal(ht->host, "registry.example");
	assert_string_equal(ht->base_url, "https://registry.example");
	t->free(t);

	/* Amazon ECR: account, region and the API endpoint from the host */
	o.remote_flags = 0;
	o.access_key_id = "AKIDEXAMPLE";
	o.secret_access_key = "secret";
	t = open_transport("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", &o);
	ht = (ecr__http_transport *)t;
	assert_string_equal(ht->account_id, "123456789012");
	assert_string_equal(ht->region, "eu-west-1");
	assert_non_null(ht->api);
	assert_string_equal(ecr__http_base_url(ht->api), "https://api.ecr.eu-west-1.amazonaws.com");
	t->free(t);

	/* ecrd: the API is the registry URL; an explicit endpoint wins */
	t = open_transport("http://127.0.0.1:5000", &o);
	assert_string_equal(ecr__http_base_url(((ecr__http_transport *)t)->api), "http://127.0.0.1:5000");
	t->free(t);
	o.api_endpoint = "http://127.0.0.1:6000";
	t = open_transport("http://127.0.0.1:5000", &o);
	assert_string_equal(ecr__http_base_url(((ecr__http_transport *)t)->api), "http://127.0.0.1:6000");
	t->free(t);

	/* options of version 1 (no remote fields) are fine */
	ecr_registry_options v1 = ECR_REGISTRY_OPTIONS_INIT;
	v1.version = 1;
	t = open_transport("http://127.0.0.1:5000", &v1);
	assert_non_null(((ecr__http_transport *)t)->api);
	t->free(t);
}

#define ECRD_TEST(name) cmocka_unit_test_setup_teardown(test_transport_http_oci__##name, ecrd_setup, ecrd_teardown)
#define DR_TEST(name) cmocka_unit_test_setup_teardown(test_transport_http_oci__##name, dr_setup, dr_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transport_http_oci__urls),
	    ECRD_TEST(ecrd_info),
	    ECRD_TEST(ecrd_chunked_upload),
	    ECRD_TEST(ecrd_put_mount_delete),
	    ECRD_TEST(ecrd_manifests),
	    ECRD_TEST(ecrd_tags),
	    ECRD_TEST(ecrd_stream),
	    ECRD_TEST(ecrd_referrers),
	    DR_TEST(registry_info),
	    DR_TEST(registry_chunked_upload),
	    DR_TEST(registry_put_mount_delete),
	    DR_TEST(registry_manifests),
	    DR_TEST(registry_tags),
	    DR_TEST(registry_stream),
	    DR_TEST(registry_no_referrers_api),
	    DR_TEST(registry_digest_verified),
	    cmocka_unit_test(test_transport_http_oci__registry_basic_auth),
	    cmocka_unit_test(test_transport_http_oci__registry_tls),
	};
	ecr_init();
	/* no proxy between the tests and their loopback servers */
	static const char *const proxies[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
	                                      "HTTPS_PROXY", "all_proxy",   "ALL_PROXY"};
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	int failed = cmocka_run_group_tests_name("transport/http_oci", tests, NULL, NULL);
	ecr_shutdown();
	return failed;
}
