/* The HTTP transport's Bearer token flow (libecr/transport/http.c) against a
 * real registry: Debian's docker-registry 2.8 with token authentication and
 * tests/transport/tokenserver.py as its token server (ES256 JWTs), through
 * the transport's vtable and through the public API (ecr_registry_open on
 * http://, ecr_image_copy). The token server's stats file counts the token
 * requests per scope, so the cache is observed from the outside. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../helpers/th_image.h"
#include "ecr/copy.h"
#include "ecr/sys/transport.h"
#include "libecr/core/core.h"
#include "libecr/core/json.h"
#include "libecr/oci/oci.h"
#include "libecr/transport/http_transport.h"
#include "registry_fixture.h"

static uint64_t rng_state = 0xbea7e2c0ffeeULL;

typedef struct bt_fx {
	char *dir;
	regfix rf;
} bt_fx;

static bt_fx *bt_start(unsigned flags)
{
	bt_fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = th_tmpdir();
	if (regfix_start(&f->rf, f->dir, flags | REGFIX_TOKEN) != 0)
		fail_msg("docker-registry with a token server: %s", regfix_problem());
	return f;
}

static void bt_stop(bt_fx *f)
{
	regfix_stop(&f->rf);
	th_rmtree(f->dir);
	free(f);
}

static void expect_code(int rc, int code)
{
	if (rc != code)
		fail_msg("expected %d (%s), got %d (%s): %s", code, ecr_error_name(code), rc, ecr_error_name(rc),
		         rc ? ecr_error_last()->message : "");
}

static void expect_message(const char *needle)
{
	const char *msg = ecr_error_last()->message;
	if (!strstr(msg, needle))
		fail_msg("the message \"%s\" does not name \"%s\"", msg, needle);
}

/* The token server's stats: requests for scope (NULL: all requests; "": without scope), -1 for "refused". */
static long token_requests(const bt_fx *f, const char *scope)
{
	FILE *fp = fopen(f->rf.token_stats, "r");
	char text[65536];
	size_t n = 0;
	ecr__json *doc = NULL;
	int64_t v = 0;
	if (!fp)
		fail_msg("no stats file %s", f->rf.token_stats);
	n = fread(text, 1, sizeof(text), fp);
	fclose(fp);
	assert_true(n < sizeof(text));
	assert_ok(ecr__json_parse(&doc, text, n, NULL));
	if (!scope)
		assert_true(ecr__json_get_int(doc, "requests", &v));
	else if (scope == (const char *)-1)
		assert_true(ecr__json_get_int(doc, "refused", &v));
	else if (!ecr__json_get_int(ecr__json_get(doc, "scopes"), scope, &v))
		v = 0;
	ecr__json_free(doc);
	return (long)v;
}

#define REFUSED ((const char *)-1)

static ecr_transport *open_transport(const bt_fx *f, const char *user, const char *password)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_transport *t = NULL;
	o.remote_flags = ECR_REMOTE_OCI_ONLY | ECR_REMOTE_NO_RETRY;
	o.username = user;
	o.password = password;
	assert_ok(ecr__http_transport_new(&t, f->rf.url, &o));
	assert_non_null(t);
	return t;
}

static void push_image(ecr_transport *t, const char *repo, const th_image *img, const char *tag)
{
	assert_ok(t->blob_put(t, repo, img->config.digest, img->config.data, img->config.len));
	for (size_t i = 0; i < img->layer_count; i++)
		assert_ok(t->blob_put(t, repo, img->layers[i].digest, img->layers[i].data, img->layers[i].len));
	assert_ok(t->manifest_put(NULL, t, repo, tag, ECR__MT_OCI_MANIFEST, img->manifest, img->manifest_len));
}

/* The manifest by tag and every blob read back, byte-exact. */
static void pull_image(ecr_transport *t, const char *repo, const th_image *img, const char *tag)
{
	ecr_buf body = ECR_BUF_INIT, mt = ECR_BUF_INIT, digest = ECR_BUF_INIT;
	assert_ok(t->manifest_get(&body, &mt, &digest, t, repo, tag));
	assert_int_equal(body.size, img->manifest_len);
	assert_memory_equal(body.ptr, img->manifest, img->manifest_len);
	assert_string_equal(digest.ptr, img->digest);
	for (size_t i = 0; i <= img->layer_count; i++) {
		const th_blob *b = i == img->layer_count ? &img->config : &img->layers[i];
		ecr_transport_stream *s = NULL;
		uint64_t size = 0;
		size_t got = 0, n = 0;
		unsigned char *buf = malloc(b->len + 1);
		assert_non_null(buf);
		assert_ok(t->blob_open(&s, &size, t, repo, b->digest, 0, 0));
		assert_int_equal(size, b->len);
		do {
			assert_ok(s->read(s, buf + got, b->len + 1 - got, &n));
			got += n;
		} while (n > 0 && got <= b->len);
		s->close(s);
		assert_int_equal(got, b->len);
		assert_memory_equal(buf, b->data, b->len);
		free(buf);
	}
	ecr_buf_dispose(&body);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&digest);
}

/* Push and pull with tokens; one token per scope for many requests (300 s tokens). */
static void test_transport_http_bearer__push_pull_cached(void **state)
{
	(void)state;
	bt_fx *f = bt_start(0);
	th_image img;
	uint64_t size = 0;
	uint32_t features = 0;

	assert_int_equal(token_requests(f, NULL), 0);
	ecr_transport *t = open_transport(f, REGFIX_USER, REGFIX_PASSWORD);
	/* the /v2/ ping: a token without scope */
	assert_ok(t->info(&features, NULL, NULL, NULL, t));
	assert_int_equal(features, ECR_TRANSPORT_HAS_OCI);
	assert_int_equal(token_requests(f, ""), 1);

	assert_ok(th_image_random(&img, &rng_state, 3, NULL));
	push_image(t, "bearer/app", &img, "v1");
	/* four blob uploads and a manifest put: one token for pull,push */
	assert_int_equal(token_requests(f, "repository:bearer/app:pull,push"), 1);
	pull_image(t, "bearer/app", &img, "v1");
	for (int i = 0; i < 20; i++) {
		assert_ok(t->blob_stat(&size, t, "bearer/app", img.layers[i % 3].digest));
		assert_int_equal(size, img.layers[i % 3].len);
	}
	assert_int_equal(token_requests(f, "repository:bearer/app:pull"), 1);
	/* a second repository is another scope */
	push_image(t, "bearer/other", &img, "v2");
	pull_image(t, "bearer/other", &img, "v2");
	assert_int_equal(token_requests(f, "repository:bearer/other:pull,push"), 1);
	assert_int_equal(token_requests(f, "repository:bearer/other:pull"), 1);
	assert_int_equal(token_requests(f, NULL), 5);
	assert_int_equal(token_requests(f, REFUSED), 0);
	t->free(t);

	/* the cache belongs to the client: a new one asks again */
	t = open_transport(f, REGFIX_USER, REGFIX_PASSWORD);
	pull_image(t, "bearer/app", &img, "v1");
	assert_int_equal(token_requests(f, "repository:bearer/app:pull"), 2);
	t->free(t);

	th_image_dispose(&img);
	bt_stop(f);
}

/* Tokens that expire within the cache's 30 s margin are not kept: every request fetches one. */
static void test_transport_http_bearer__short_tokens_not_cached(void **state)
{
	(void)state;
	bt_fx *f = bt_start(REGFIX_TOKEN_SHORT);
	th_blob b;
	uint64_t size = 0;

	ecr_transport *t = open_transport(f, REGFIX_USER, REGFIX_PASSWORD);
	assert_ok(th_blob_random(&b, &rng_state, 1000));
	assert_ok(t->blob_put(t, "short/app", b.digest, b.data, b.len));
	long pushes = token_requests(f, "repository:short/app:pull,push");
	/* docker-registry answers the monolithic POST with 202: POST, then PUT; a token each */
	assert_int_equal(pushes, 2);
	for (int i = 0; i < 5; i++) {
		assert_ok(t->blob_stat(&size, t, "short/app", b.digest));
		assert_int_equal(size, 1000);
		assert_int_equal(token_requests(f, "repository:short/app:pull"), i + 1);
	}
	assert_int_equal(token_requests(f, REFUSED), 0);
	t->free(t);
	th_blob_dispose(&b);
	bt_stop(f);
}

/* Wrong password, no credentials without anonymous pull. */
static void test_transport_http_bearer__refused(void **state)
{
	(void)state;
	bt_fx *f = bt_start(0);
	uint64_t size = 0;
	uint32_t features = 0;
	th_blob b;
	assert_ok(th_blob_random(&b, &rng_state, 100));

	ecr_transport *t = open_transport(f, REGFIX_USER, "wrong-password");
	/* (info() wraps the message in one naming /v2/; see the note at public_api_copy) */
	expect_code(t->info(&features, NULL, NULL, NULL, t), ECR_EAUTH);
	expect_code(t->blob_put(t, "refused/app", b.digest, b.data, b.len), ECR_EAUTH);
	expect_message(f->rf.token_realm);
	expect_message("401");
	expect_message("invalid username or password");
	expect_code(t->blob_stat(&size, t, "refused/app", b.digest), ECR_EAUTH);
	/* nothing cached from a refusal: every attempt asks again */
	assert_int_equal(token_requests(f, "repository:refused/app:pull"), 1);
	expect_code(t->blob_stat(&size, t, "refused/app", b.digest), ECR_EAUTH);
	assert_int_equal(token_requests(f, "repository:refused/app:pull"), 2);
	t->free(t);

	/* an unknown user is refused the same way */
	t = open_transport(f, "nobody", REGFIX_PASSWORD);
	expect_code(t->blob_stat(&size, t, "refused/app", b.digest), ECR_EAUTH);
	expect_message(f->rf.token_realm);
	t->free(t);

	/* no credentials, no anonymous access */
	t = open_transport(f, NULL, NULL);
	expect_code(t->blob_stat(&size, t, "refused/app", b.digest), ECR_EAUTH);
	expect_message("authentication required");
	t->free(t);
	assert_int_equal(token_requests(f, REFUSED), token_requests(f, NULL));

	th_blob_dispose(&b);
	bt_stop(f);
}

/* Anonymous pull when the token server allows it; an anonymous push is refused by the registry. */
static void test_transport_http_bearer__anonymous_pull(void **state)
{
	(void)state;
	bt_fx *f = bt_start(REGFIX_TOKEN_ANON_PULL);
	th_image img;
	th_blob b;
	uint64_t size = 0;
	uint32_t features = 0;

	assert_ok(th_image_random(&img, &rng_state, 2, NULL));
	ecr_transport *t = open_transport(f, REGFIX_USER, REGFIX_PASSWORD);
	push_image(t, "public/app", &img, "latest");
	t->free(t);

	t = open_transport(f, NULL, NULL);
	assert_ok(t->info(&features, NULL, NULL, NULL, t));
	pull_image(t, "public/app", &img, "latest");
	assert_int_equal(token_requests(f, "repository:public/app:pull"), 1);

	/* the token server grants pull only; the registry refuses the push with that token */
	assert_ok(th_blob_random(&b, &rng_state, 100));
	int rc = t->blob_put(t, "public/app", b.digest, b.data, b.len);
	if (rc != ECR_EAUTH && rc != ECR_EDENIED)
		fail_msg("an anonymous push: expected ECR_EAUTH or ECR_EDENIED, got %d (%s): %s", rc,
		         ecr_error_name(rc), rc ? ecr_error_last()->message : "");
	expect_code(
	    t->manifest_put(NULL, t, "public/app", "hacked", ECR__MT_OCI_MANIFEST, img.manifest, img.manifest_len), rc);
	/* the anonymous reads still work after that */
	assert_ok(t->blob_stat(&size, t, "public/app", img.config.digest));
	t->free(t);

	/* nothing was pushed */
	t = open_transport(f, REGFIX_USER, REGFIX_PASSWORD);
	expect_code(t->blob_stat(&size, t, "public/app", b.digest), ECR_ENOTFOUND);
	ecr_buf body = ECR_BUF_INIT, mt = ECR_BUF_INIT, digest = ECR_BUF_INIT;
	expect_code(t->manifest_get(&body, &mt, &digest, t, "public/app", "hacked"), ECR_EIMAGE_NOT_FOUND);
	t->free(t);

	/* a wrong password is not anonymous access */
	t = open_transport(f, REGFIX_USER, "wrong-password");
	expect_code(t->blob_stat(&size, t, "public/app", img.config.digest), ECR_EAUTH);
	t->free(t);

	ecr_buf_dispose(&body);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&digest);
	th_blob_dispose(&b);
	th_image_dispose(&img);
	bt_stop(f);
}

/* The token server goes away: cached tokens keep working, a new scope fails naming the realm. */
static void test_transport_http_bearer__token_server_down(void **state)
{
	(void)state;
	bt_fx *f = bt_start(0);
	th_blob b;
	uint64_t size = 0;

	ecr_transport *t = open_transport(f, REGFIX_USER, REGFIX_PASSWORD);
	assert_ok(th_blob_random(&b, &rng_state, 500));
	assert_ok(t->blob_put(t, "down/app", b.digest, b.data, b.len));
	assert_ok(t->blob_stat(&size, t, "down/app", b.digest));

	regfix_token_stop(&f->rf);
	assert_ok(t->blob_stat(&size, t, "down/app", b.digest));
	assert_int_equal(size, 500);
	int rc = t->blob_stat(&size, t, "down/other", b.digest);
	if (rc != ECR_ENETWORK && rc != ECR_EAUTH)
		fail_msg("expected ECR_ENETWORK or ECR_EAUTH, got %d (%s): %s", rc, ecr_error_name(rc),
		         rc ? ecr_error_last()->message : "");
	expect_message(f->rf.token_realm);
	t->free(t);

	/* a new client has nothing cached */
	t = open_transport(f, REGFIX_USER, REGFIX_PASSWORD);
	rc = t->blob_stat(&size, t, "down/app", b.digest);
	if (rc != ECR_ENETWORK && rc != ECR_EAUTH)
		fail_msg("expected ECR_ENETWORK or ECR_EAUTH, got %d (%s)", rc, ecr_error_name(rc));
	expect_message(f->rf.token_realm);
	t->free(t);

	th_blob_dispose(&b);
	bt_stop(f);
}

/* The public API: ecr_registry_open on http:// with username/password, ecr_image_copy both ways. */
static void test_transport_http_bearer__public_api_copy(void **state)
{
	(void)state;
	bt_fx *f = bt_start(0);
	ecr_registry *mem = NULL, *remote = NULL;
	ecr_repository *src = NULL, *back = NULL, *dst = NULL, *dst2 = NULL;
	ecr_buf d = ECR_BUF_INIT;
	th_image img;

	assert_ok(ecr_registry_open(&mem, "memory:", NULL));
	assert_ok(ecr_repository_create(&src, mem, "team/src", NULL));
	assert_ok(ecr_repository_create(&back, mem, "team/back", NULL));
	assert_ok(th_image_random(&img, &rng_state, 3, NULL));
	if (th_image_push(src, &img, "v1", 1 << 20))
		fail_msg("push: %s", th_problem());

	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.username = REGFIX_USER;
	o.password = REGFIX_PASSWORD;
	o.remote_flags = ECR_REMOTE_NO_RETRY;
	assert_ok(ecr_registry_open(&remote, f->rf.url, &o));
	assert_ok(ecr_repository_create(&dst, remote, "copies/app", NULL));

	/* one blob at a time: exactly one token for the push scope */
	ecr_copy_options co = ECR_COPY_OPTIONS_INIT;
	co.parallel = 1;
	assert_ok(ecr_image_copy(&d, dst, "v1", src, "v1", &co));
	assert_string_equal(d.ptr, img.digest);
	assert_int_equal(token_requests(f, "repository:copies/app:pull,push"), 1);
	if (th_image_verify_exact(dst, &img))
		fail_msg("verify on the registry: %s", th_problem());
	assert_int_equal(token_requests(f, "repository:copies/app:pull"), 1);

	/* and back from the registry into memory */
	assert_ok(ecr_image_copy(&d, back, "back", dst, "v1", NULL));
	assert_string_equal(d.ptr, img.digest);
	if (th_image_verify_exact(back, &img))
		fail_msg("verify in memory: %s", th_problem());
	assert_int_equal(token_requests(f, "repository:copies/app:pull"), 1);

	/* parallel blobs: requests challenged at once wait for one token fetch and share its token */
	assert_ok(ecr_repository_create(&dst2, remote, "copies/par", NULL));
	assert_ok(ecr_image_copy(&d, dst2, "v1", src, "v1", NULL));
	assert_int_equal(token_requests(f, "repository:copies/par:pull,push"), 1);
	assert_int_equal(token_requests(f, REFUSED), 0);
	ecr_repository_free(dst2);
	ecr_repository_free(dst);
	ecr_registry_free(remote);

	/* a wrong password through the public API */
	o.password = "wrong-password";
	int rc = ecr_registry_open(&remote, f->rf.url, &o);
	if (rc == 0) {
		rc = ecr_repository_open(&dst, remote, "copies/app");
		ecr_registry_free(remote);
	}
	expect_code(rc, ECR_EAUTH);
	/*
	 * Not checked: the message. ecr_registry_open's /v2/ ping wraps the
	 * token server's refusal with ecr__fail("...: %s", ecr_error_last()->message),
	 * which formats the thread's error buffer into itself (undefined: the
	 * realm comes out garbled). To be fixed in libecr/core/errors.c.
	 */

	ecr_buf_dispose(&d);
	th_image_dispose(&img);
	ecr_repository_free(src);
	ecr_repository_free(back);
	ecr_registry_free(mem);
	bt_stop(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_transport_http_bearer__push_pull_cached),
	    cmocka_unit_test(test_transport_http_bearer__short_tokens_not_cached),
	    cmocka_unit_test(test_transport_http_bearer__refused),
	    cmocka_unit_test(test_transport_http_bearer__anonymous_pull),
	    cmocka_unit_test(test_transport_http_bearer__token_server_down),
	    cmocka_unit_test(test_transport_http_bearer__public_api_copy),
	};
	ecr_init();
	/* no proxy between the tests and their loopback servers */
	static const char *const proxies[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
	                                      "HTTPS_PROXY", "all_proxy",   "ALL_PROXY"};
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	/* the registry is a plain one: no AWS credentials are looked for */
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	int failed = cmocka_run_group_tests_name("transport/http_bearer", tests, NULL, NULL);
	ecr_shutdown();
	return failed;
}
