/* Authentication and authorization of /v2/ (libecr/server/v2_auth.c) and
 * the registry provider: a server with auth on, principals created through
 * the public API, tokens from ecr_auth_token_create(). Requests through libcurl. */
#include "../helpers/helpers.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecr/auth.h"
#include "libecr/core/crypto.h"
#include "libecr/server/http.h"
#include "api_client.h"

#define ACCT_A "111111111111"
#define ACCT_B "222222222222"
#define ADMIN_A "arn:aws:iam::" ACCT_A ":user/admin"
#define NOBODY_A "arn:aws:iam::" ACCT_A ":user/nobody"
#define BOB_B "arn:aws:iam::" ACCT_B ":user/bob"
/* sha256("hello") */
#define HELLO_DIGEST "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

/* One request; auth is the whole Authorization value or NULL; body may be NULL. */
static long req(reply *r, const char *method, uint16_t port, const char *path, const char *host, const char *auth,
	const char *body)
{
	return api_request(r, port, method, path, host, auth, body);
}

/* The test's clock: the real time plus an offset. */
static int64_t clock_offset_ms;

static int64_t test_clock(void *payload)
{
	(void)payload;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

/* The registry provider of the test: one more registry (account B in eu-west-1) in the same folder. */
struct provider {
	char *url;
	ecr_registry *b;
	int calls;
	int last_rc;
};

static int provide(ecr_registry **out, const char *account_id, const char *region, void *payload)
{
	struct provider *pv = payload;
	pv->calls++;
	if (strcmp(account_id, ACCT_B) != 0 || strcmp(region, "eu-west-1") != 0)
		return pv->last_rc = ECR_EINVALID;
	if (!pv->b) {
		ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
		o.account_id = ACCT_B;
		o.region = "eu-west-1";
		o.clock_cb = test_clock;
		int rc = ecr_registry_open(&pv->b, pv->url, &o);
		if (rc)
			return pv->last_rc = rc;
	}
	*out = pv->b;
	return 0;
}

struct fixture {
	char *dir;
	struct provider pv;
	ecr_registry *a;
	ecr_server *srv;
	uint16_t port;
	char host_b[128];
};

/* "Basic base64(user:token)" for a principal of the storage, into out. */
static void basic_for(char *out, size_t size, ecr_registry *reg, const char *arn, const char *user)
{
	ecr_principal *p = NULL;
	ecr_buf tok = ECR_BUF_INIT, cred = ECR_BUF_INIT, b64 = ECR_BUF_INIT;
	int64_t expires = 0;
	assert_ok(ecr_principal_open(&p, reg, arn));
	assert_ok(ecr_auth_token_create(&tok, &expires, reg, p));
	assert_true(expires > ecr_registry_now(reg) + (ECR_TOKEN_LIFETIME_SECONDS - 60) * 1000LL);
	assert_ok(ecr__buf_printf(&cred, "%s:%s", user, tok.ptr));
	assert_ok(ecr__base64_encode(&b64, cred.ptr, cred.size));
	assert_true(b64.size + 7 < size);
	snprintf(out, size, "Basic %s", b64.ptr);
	ecr_principal_free(p);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&cred);
	ecr_buf_dispose(&b64);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
	ecr_principal *p = NULL;
	ecr_buf b = ECR_BUF_INIT;

	clock_offset_ms = 0;
	f->dir = th_tmpdir();
	assert_ok(ecr__buf_printf(&b, "file://%s", f->dir));
	f->pv.url = ecr__buf_detach(&b);
	o.account_id = ACCT_A;
	o.clock_cb = test_clock;
	assert_ok(ecr_registry_open(&f->a, f->pv.url, &o));

	assert_ok(ecr_principal_create(&p, f->a, ADMIN_A, ECR_PRINCIPAL_ADMIN));
	ecr_principal_free(p);
	assert_ok(ecr_principal_create(&p, f->a, NOBODY_A, 0));
	ecr_principal_free(p);
	assert_ok(ecr_principal_create(&p, f->a, BOB_B, 0));
	assert_ok(ecr_principal_put_policy(p, "all-ecr",
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:*\","
		"\"Resource\":\"*\"}]}"));
	ecr_principal_free(p);

	so.flags = ECR_SERVER_CREATE_ON_PUSH;
	assert_ok(ecr_server_new(&f->srv, &so));
	assert_ok(ecr_server_add_registry(f->srv, f->a, NULL));
	assert_ok(ecr_server_set_registry_cb(f->srv, provide, &f->pv));
	assert_ok(ecr_server_start(f->srv));
	assert_int_equal(ecr_server_set_registry_cb(f->srv, provide, &f->pv), ECR_EBUSY);
	f->port = ecr_server_port(f->srv);
	snprintf(f->host_b, sizeof(f->host_b), ACCT_B ".dkr.ecr.eu-west-1.localhost:%u", (unsigned)f->port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ecr_server_free(f->srv);
	ecr_registry_free(f->pv.b);
	ecr_registry_free(f->a);
	ecr__free(f->pv.url);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

/* Push "hello" as a blob of repository name (created on push) with auth. */
static long push_hello(struct fixture *f, const char *name, const char *auth)
{
	reply r = { 0 };
	char path[512];
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/?digest=" HELLO_DIGEST, name);
	long status = req(&r, "POST", f->port, path, NULL, auth, "hello");
	reply_dispose(&r);
	return status;
}

static void test_server_v2_auth__anonymous_gets_the_challenge(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	char want[256];
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, NULL, NULL), 401);
	snprintf(want, sizeof(want),
		"WWW-Authenticate: Basic realm=\"https://127.0.0.1:%u/\",service=\"ecr.amazonaws.com\"",
		(unsigned)f->port);
	assert_non_null(strstr(r.headers, want));
	assert_non_null(strstr(r.headers, "Docker-Distribution-API-Version: registry/2.0"));
	assert_non_null(strstr(r.body, "\"UNAUTHORIZED\""));
	/* every route, not only the base */
	assert_int_equal(req(&r, "GET", f->port, "/v2/_catalog", NULL, NULL, NULL), 401);
	assert_int_equal(req(&r, "GET", f->port, "/v2/x/tags/list", NULL, NULL, NULL), 401);
	assert_int_equal(req(&r, "GET", f->port, "/v2/x/blobs/" HELLO_DIGEST, NULL, NULL, NULL), 401);
	assert_int_equal(push_hello(f, "anon/created", NULL), 401);
	ecr_repository *repo = NULL;
	assert_int_equal(ecr_repository_open(&repo, f->a, "anon/created"), ECR_EREPOSITORY_NOT_FOUND);
	/* the realm names the host the client used */
	assert_int_equal(req(&r, "GET", f->port, "/v2/", "registry.example:5000", NULL, NULL), 401);
	assert_non_null(strstr(r.headers, "realm=\"https://registry.example:5000/\""));
	reply_dispose(&r);
}

static void test_server_v2_auth__admin_token(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	char auth[2048];
	basic_for(auth, sizeof(auth), f->a, ADMIN_A, "AWS");
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, auth, NULL), 200);
	assert_string_equal(r.body, "{}");
	/* push (creating the repository) and pull */
	assert_int_equal(push_hello(f, "team/app", auth), 201);
	assert_int_equal(req(&r, "GET", f->port, "/v2/team/app/blobs/" HELLO_DIGEST, NULL, auth, NULL), 200);
	assert_string_equal(r.body, "hello");
	assert_int_equal(req(&r, "HEAD", f->port, "/v2/team/app/blobs/" HELLO_DIGEST, NULL, auth, NULL), 200);
	assert_int_equal(req(&r, "GET", f->port, "/v2/_catalog", NULL, auth, NULL), 200);
	assert_non_null(strstr(r.body, "team/app"));
	assert_int_equal(req(&r, "GET", f->port, "/v2/team/app/tags/list", NULL, auth, NULL), 200);
	reply_dispose(&r);
}

static void test_server_v2_auth__bad_tokens(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	char auth[2048], bad[2048];
	basic_for(auth, sizeof(auth), f->a, ADMIN_A, "AWS");

	/* the user name must be AWS */
	basic_for(bad, sizeof(bad), f->a, ADMIN_A, "admin");
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, bad, NULL), 401);
	assert_non_null(strstr(r.headers, "WWW-Authenticate: Basic realm="));
	/* not base64, no colon, empty, another scheme */
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, "Basic %%%notbase64", NULL), 401);
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, "Basic QVdT", NULL), 401); /* "AWS" */
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, "Basic QVdTOg==", NULL), 401); /* "AWS:" */
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, "Basic ", NULL), 401);
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, "Bearer abc", NULL), 401);

	/* forged: decode, flip one character of the token, encode again */
	ecr_buf raw = ECR_BUF_INIT, b64 = ECR_BUF_INIT;
	assert_ok(ecr__base64_decode(&raw, auth + 6, strlen(auth + 6)));
	size_t mid = 4 + (raw.size - 4) / 2;
	raw.ptr[mid] = raw.ptr[mid] == 'A' ? 'B' : 'A';
	assert_ok(ecr__base64_encode(&b64, raw.ptr, raw.size));
	snprintf(bad, sizeof(bad), "Basic %s", b64.ptr);
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, bad, NULL), 401);
	assert_non_null(strstr(r.body, "UNAUTHORIZED"));
	/* truncated */
	ecr__buf_clear(&b64);
	assert_ok(ecr__base64_encode(&b64, raw.ptr, raw.size - 10));
	snprintf(bad, sizeof(bad), "Basic %s", b64.ptr);
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, bad, NULL), 401);
	ecr_buf_dispose(&raw);
	ecr_buf_dispose(&b64);

	/* nothing was created by the rejected pushes */
	assert_int_equal(push_hello(f, "forged/repo", bad), 401);
	ecr_repository *repo = NULL;
	assert_int_equal(ecr_repository_open(&repo, f->a, "forged/repo"), ECR_EREPOSITORY_NOT_FOUND);
	/* the genuine one still works */
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, auth, NULL), 200);
	reply_dispose(&r);
}

static void test_server_v2_auth__expired_token(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	char auth[2048];
	basic_for(auth, sizeof(auth), f->a, ADMIN_A, "AWS");
	clock_offset_ms = (ECR_TOKEN_LIFETIME_SECONDS + 60) * 1000LL;
	/* ECR answers an expired token with 403 DENIED (ecr-api.md §7.2) */
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, auth, NULL), 403);
	assert_non_null(strstr(r.body, "\"DENIED\""));
	assert_non_null(strstr(r.body, "Your authorization token has expired. Reauthenticate and try again."));
	clock_offset_ms = 0;
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, auth, NULL), 200);
	reply_dispose(&r);
}

static void test_server_v2_auth__no_permission_is_denied(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	char admin[2048], nobody[2048];
	basic_for(admin, sizeof(admin), f->a, ADMIN_A, "AWS");
	basic_for(nobody, sizeof(nobody), f->a, NOBODY_A, "AWS");
	assert_int_equal(push_hello(f, "team/app", admin), 201);

	/* a valid token is enough for the base */
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, nobody, NULL), 200);
	assert_int_equal(req(&r, "GET", f->port, "/v2/team/app/blobs/" HELLO_DIGEST, NULL, nobody, NULL), 403);
	assert_non_null(strstr(r.body, "\"DENIED\""));
	assert_non_null(strstr(r.body, NOBODY_A));
	assert_non_null(strstr(r.body, "ecr:GetDownloadUrlForLayer"));
	assert_int_equal(req(&r, "GET", f->port, "/v2/team/app/tags/list", NULL, nobody, NULL), 403);
	assert_non_null(strstr(r.body, "ecr:ListImages"));
	assert_int_equal(req(&r, "GET", f->port, "/v2/team/app/manifests/latest", NULL, nobody, NULL), 403);
	assert_non_null(strstr(r.body, "ecr:BatchGetImage"));
	assert_int_equal(req(&r, "GET", f->port, "/v2/_catalog", NULL, nobody, NULL), 403);
	assert_non_null(strstr(r.body, "ecr:DescribeRepositories"));
	assert_int_equal(req(&r, "DELETE", f->port, "/v2/team/app/manifests/" HELLO_DIGEST, NULL, nobody, NULL), 403);
	assert_non_null(strstr(r.body, "ecr:BatchDeleteImage"));
	/* create-on-push needs ecr:CreateRepository */
	assert_int_equal(push_hello(f, "nobody/new", nobody), 403);
	ecr_repository *repo = NULL;
	assert_int_equal(ecr_repository_open(&repo, f->a, "nobody/new"), ECR_EREPOSITORY_NOT_FOUND);

	/* a removed principal's token stops working at once */
	assert_ok(ecr_principal_delete(f->a, NOBODY_A));
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, nobody, NULL), 401);
	reply_dispose(&r);
}

static void test_server_v2_auth__cross_account_policy(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	char admin[2048], bob[2048];
	ecr_repository *repo = NULL;
	const char *pull = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"pull\",\"Effect\":\"Allow\","
			   "\"Principal\":{\"AWS\":\"" BOB_B "\"},\"Action\":[\"ecr:BatchGetImage\","
			   "\"ecr:GetDownloadUrlForLayer\",\"ecr:BatchCheckLayerAvailability\"]}]}";
	const char *pull_then_deny =
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"pull\",\"Effect\":\"Allow\","
		"\"Principal\":{\"AWS\":\"" BOB_B "\"},\"Action\":[\"ecr:BatchGetImage\","
		"\"ecr:GetDownloadUrlForLayer\",\"ecr:BatchCheckLayerAvailability\"]},"
		"{\"Sid\":\"no\",\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"ecr:GetDownloadUrlForLayer\"}]}";
	basic_for(admin, sizeof(admin), f->a, ADMIN_A, "AWS");
	basic_for(bob, sizeof(bob), f->a, BOB_B, "AWS");
	assert_int_equal(push_hello(f, "shared/app", admin), 201);

	/* bob's own policy allows everything, but account A's repository does not let him in */
	assert_int_equal(req(&r, "GET", f->port, "/v2/shared/app/blobs/" HELLO_DIGEST, NULL, bob, NULL), 403);
	assert_non_null(strstr(r.body, BOB_B));

	assert_ok(ecr_repository_open(&repo, f->a, "shared/app"));
	assert_ok(ecr_repository_set_policy(repo, pull, 0));
	assert_int_equal(req(&r, "GET", f->port, "/v2/shared/app/blobs/" HELLO_DIGEST, NULL, bob, NULL), 200);
	assert_string_equal(r.body, "hello");
	assert_int_equal(req(&r, "HEAD", f->port, "/v2/shared/app/blobs/" HELLO_DIGEST, NULL, bob, NULL), 200);
	/* pull only: no push, no listing */
	assert_int_equal(push_hello(f, "shared/app", bob), 403);
	assert_int_equal(req(&r, "POST", f->port, "/v2/shared/app/blobs/uploads/", NULL, bob, NULL), 403);
	assert_non_null(strstr(r.body, "ecr:InitiateLayerUpload"));
	assert_int_equal(req(&r, "GET", f->port, "/v2/shared/app/tags/list", NULL, bob, NULL), 403);

	/* an explicit deny wins */
	assert_ok(ecr_repository_set_policy(repo, pull_then_deny, 0));
	assert_int_equal(req(&r, "GET", f->port, "/v2/shared/app/blobs/" HELLO_DIGEST, NULL, bob, NULL), 403);
	assert_non_null(strstr(r.body, "\"DENIED\""));
	/* the deny names GetDownloadUrlForLayer only */
	assert_int_equal(req(&r, "HEAD", f->port, "/v2/shared/app/blobs/" HELLO_DIGEST, NULL, bob, NULL), 200);
	/* also for the account's administrator */
	assert_int_equal(req(&r, "GET", f->port, "/v2/shared/app/blobs/" HELLO_DIGEST, NULL, admin, NULL), 403);
	ecr_repository_free(repo);
	reply_dispose(&r);
}

#define WORLD_DIGEST "sha256:486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"

/* "Basic base64(AWS:<token>)" for a raw token. */
static void basic_of(char *out, size_t size, const char *token)
{
	ecr_buf cred = ECR_BUF_INIT, b64 = ECR_BUF_INIT;
	assert_ok(ecr__buf_printf(&cred, "AWS:%s", token));
	assert_ok(ecr__base64_encode(&b64, cred.ptr, cred.size));
	assert_true(b64.size + 7 < size);
	snprintf(out, size, "Basic %s", b64.ptr);
	ecr_buf_dispose(&cred);
	ecr_buf_dispose(&b64);
}

static void test_server_v2_auth__query_token(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	char admin[2048], path[4096], as_basic[4096];
	ecr_principal *p = NULL;
	ecr_buf tok = ECR_BUF_INIT, reg_tok = ECR_BUF_INIT;
	basic_for(admin, sizeof(admin), f->a, ADMIN_A, "AWS");
	assert_int_equal(push_hello(f, "q/app", admin), 201);
	assert_int_equal(
		req(&r, "POST", f->port, "/v2/q/app/blobs/uploads/?digest=" WORLD_DIGEST, NULL, admin, "world"), 201);
	assert_int_equal(push_hello(f, "q/other", admin), 201);
	assert_ok(ecr_principal_open(&p, f->a, ADMIN_A));
	assert_ok(ecr_auth_blob_token_create(&tok, NULL, f->a, p, "q/app", HELLO_DIGEST, 3600));
	snprintf(path, sizeof(path), "/v2/q/app/blobs/" HELLO_DIGEST "?X-Ecr-Token=%s", tok.ptr);
	assert_int_equal(req(&r, "GET", f->port, path, NULL, NULL, NULL), 200);
	assert_string_equal(r.body, "hello");
	assert_int_equal(req(&r, "HEAD", f->port, path, NULL, NULL, NULL), 200);
	/* the one blob it names: not another of the repository, nor the same digest in another repository */
	snprintf(path, sizeof(path), "/v2/q/app/blobs/" WORLD_DIGEST "?X-Ecr-Token=%s", tok.ptr);
	assert_int_equal(req(&r, "GET", f->port, path, NULL, NULL, NULL), 401);
	assert_int_equal(req(&r, "HEAD", f->port, path, NULL, NULL, NULL), 401);
	snprintf(path, sizeof(path), "/v2/q/other/blobs/" HELLO_DIGEST "?X-Ecr-Token=%s", tok.ptr);
	assert_int_equal(req(&r, "GET", f->port, path, NULL, NULL, NULL), 401);
	/* only for blob downloads */
	snprintf(path, sizeof(path), "/v2/q/app/tags/list?X-Ecr-Token=%s", tok.ptr);
	assert_int_equal(req(&r, "GET", f->port, path, NULL, NULL, NULL), 401);
	snprintf(path, sizeof(path), "/v2/q/app/blobs/uploads/?X-Ecr-Token=%s", tok.ptr);
	assert_int_equal(req(&r, "POST", f->port, path, NULL, NULL, NULL), 401);
	snprintf(path, sizeof(path), "/v2/q/app/blobs/" HELLO_DIGEST "?X-Ecr-Token=%s", tok.ptr);
	assert_int_equal(req(&r, "DELETE", f->port, path, NULL, NULL, NULL), 401);
	/* a forged one */
	snprintf(path, sizeof(path), "/v2/q/app/blobs/" HELLO_DIGEST "?X-Ecr-Token=%sx", tok.ptr);
	assert_int_equal(req(&r, "GET", f->port, path, NULL, NULL, NULL), 401);
	/* a registry token is no download token */
	assert_ok(ecr_auth_token_create(&reg_tok, NULL, f->a, p));
	snprintf(path, sizeof(path), "/v2/q/app/blobs/" HELLO_DIGEST "?X-Ecr-Token=%s", reg_tok.ptr);
	assert_int_equal(req(&r, "GET", f->port, path, NULL, NULL, NULL), 401);

	/* the download token as Basic credentials opens nothing, not even its blob */
	basic_of(as_basic, sizeof(as_basic), tok.ptr);
	assert_int_equal(req(&r, "GET", f->port, "/v2/", NULL, as_basic, NULL), 401);
	assert_int_equal(push_hello(f, "q/app", as_basic), 401);
	assert_int_equal(push_hello(f, "q/new", as_basic), 401);
	assert_int_equal(req(&r, "GET", f->port, "/v2/q/app/manifests/latest", NULL, as_basic, NULL), 401);
	assert_int_equal(req(&r, "DELETE", f->port, "/v2/q/app/manifests/" HELLO_DIGEST, NULL, as_basic, NULL), 401);
	assert_int_equal(req(&r, "DELETE", f->port, "/v2/q/app/blobs/" HELLO_DIGEST, NULL, as_basic, NULL), 401);
	assert_int_equal(req(&r, "GET", f->port, "/v2/q/app/blobs/" HELLO_DIGEST, NULL, as_basic, NULL), 401);
	ecr_repository *repo = NULL;
	assert_int_equal(ecr_repository_open(&repo, f->a, "q/new"), ECR_EREPOSITORY_NOT_FOUND);
	/* the blob is still there */
	assert_int_equal(req(&r, "GET", f->port, "/v2/q/app/blobs/" HELLO_DIGEST, NULL, admin, NULL), 200);
	assert_string_equal(r.body, "hello");
	ecr_principal_free(p);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&reg_tok);
	reply_dispose(&r);
}

static void test_server_v2_auth__host_selects_registry(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	char admin[2048], bob[2048];
	basic_for(admin, sizeof(admin), f->a, ADMIN_A, "AWS");
	basic_for(bob, sizeof(bob), f->a, BOB_B, "AWS");

	/* bob pushes to his own account's registry, named by the host */
	assert_int_equal(f->pv.calls, 0);
	char path[512];
	snprintf(path, sizeof(path), "/v2/bobs/app/blobs/uploads/?digest=" HELLO_DIGEST);
	assert_int_equal(req(&r, "POST", f->port, path, f->host_b, bob, "hello"), 201);
	assert_true(f->pv.calls > 0);
	assert_non_null(f->pv.b);
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_open(&repo, f->pv.b, "bobs/app"));
	assert_string_equal(ecr_repository_registry_id(repo), ACCT_B);
	ecr_repository_free(repo);
	assert_int_equal(ecr_repository_open(&repo, f->a, "bobs/app"), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(req(&r, "GET", f->port, "/v2/_catalog", f->host_b, bob, NULL), 200);
	assert_non_null(strstr(r.body, "bobs/app"));
	/* the default registry does not have it */
	assert_int_equal(req(&r, "GET", f->port, "/v2/_catalog", NULL, admin, NULL), 200);
	assert_null(strstr(r.body, "bobs/app"));
	/* account A's administrator has no rights in account B */
	assert_int_equal(req(&r, "GET", f->port, "/v2/_catalog", f->host_b, admin, NULL), 403);
	assert_non_null(strstr(r.body, "arn:aws:ecr:eu-west-1:" ACCT_B ":registry"));
	/* a host the provider refuses fails the request; other names go to the default */
	int calls = f->pv.calls;
	assert_int_equal(req(&r, "GET", f->port, "/v2/", "333333333333.dkr.ecr.eu-west-1.localhost", admin, NULL), 400);
	assert_int_equal(f->pv.calls, calls + 1);
	assert_int_equal(req(&r, "GET", f->port, "/v2/_catalog", "12345.dkr.ecr.eu-west-1.localhost", admin, NULL),
		200);
	assert_int_equal(req(&r, "GET", f->port, "/v2/_catalog", "111111111111.dkr.ecr.eu-west-1", admin, NULL), 200);
	assert_int_equal(f->pv.calls, calls + 1);
	reply_dispose(&r);
}

/* Requests without credentials are answered 401 whatever their host: they
 * neither learn which accounts are served nor make the provider open registries. */
static void test_server_v2_auth__anonymous_does_not_reach_the_provider(void **state)
{
	struct fixture *f = *state;
	reply r = { 0 };
	assert_int_equal(req(&r, "GET", f->port, "/v2/", "333333333333.dkr.ecr.eu-west-1.localhost", NULL, NULL), 401);
	assert_int_equal(req(&r, "GET", f->port, "/v2/bobs/app/tags/list", f->host_b, NULL, NULL), 401);
	assert_int_equal(req(&r, "GET", f->port, "/v2/", "444444444444.dkr.ecr.xx-south-9.localhost", NULL, NULL), 401);
	assert_int_equal(f->pv.calls, 0);
	reply_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_v2_auth__anonymous_gets_the_challenge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_auth__admin_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_auth__bad_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_auth__expired_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_auth__no_permission_is_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_auth__cross_account_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_auth__query_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_auth__host_selects_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_auth__anonymous_does_not_reach_the_provider, setup, teardown),
	};
	ecr_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("server/v2_auth", tests, NULL, NULL);
	curl_global_cleanup();
	ecr_shutdown();
	return rc;
}
