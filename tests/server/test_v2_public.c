/* Public repositories on /v2/ (libecr/server/v2_auth.c, oci.c): GET /token,
 * anonymous pulls of "<alias>/<repository>" with an anonymous Bearer token,
 * anonymous pushes refused, private and missing names answered alike, a
 * private name that starts with an alias, Bearer and Basic registry tokens,
 * pushes to public repositories authorized as ecr-public:<Action>, the
 * per-address limit of anonymous pulls, and the challenge with and without
 * public registries. A real ecr_server on port 0 and libcurl. */
#include "../helpers/helpers.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ecr/auth.h"
#include "ecr/public.h"
#include "libecr/core/crypto.h"
#include "libecr/core/json.h"
#include "libecr/core/timeutil.h"
#include "../helpers/th_image.h"

#define ACCT_A "111111111111"
#define ACCT_B "222222222222"
#define ADMIN_A "arn:aws:iam::" ACCT_A ":user/admin"
#define NOBODY_A "arn:aws:iam::" ACCT_A ":user/nobody"
#define PUBLISHER_A "arn:aws:iam::" ACCT_A ":user/publisher"
#define BOB_B "arn:aws:iam::" ACCT_B ":user/bob"
/* sha256("hello") */
#define HELLO_DIGEST "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define TOOMANY "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"Rate exceeded\",\"detail\":{}}]}"

/* --- HTTP --- */

typedef struct resp {
	long status;
	char *body;
	size_t len;
	char *headers;
	size_t headers_len;
} resp;

static void resp_dispose(resp *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

struct sink {
	char **buf;
	size_t *len;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t add = size * n;
	char *nb = realloc(*s->buf, *s->len + add + 1);
	assert_non_null(nb);
	memcpy(nb + *s->len, p, add);
	*s->len += add;
	nb[*s->len] = '\0';
	*s->buf = nb;
	return add;
}

/* One request to 127.0.0.1:port; auth: the whole Authorization value or NULL; body may be NULL;
 * content_type may be NULL. */
static long req(resp *r, uint16_t port, const char *method, const char *path, const char *auth, const char *body,
	const char *content_type)
{
	char url[2048];
	struct curl_slist *h = NULL;
	char *hdr = NULL;
	resp_dispose(r);
	struct sink bs = { &r->body, &r->len }, hs = { &r->headers, &r->headers_len };
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	if (auth) {
		assert_true(asprintf(&hdr, "Authorization: %s", auth) > 0);
		h = curl_slist_append(h, hdr);
	}
	if (content_type) {
		char ct[200];
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		h = curl_slist_append(h, ct);
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
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
	free(hdr);
	assert_int_equal(rc, CURLE_OK);
	return r->status;
}

/* The value of a response header (case-insensitive name), copied into out; false when absent. */
static bool header(const resp *r, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			snprintf(out, size, "%.*s", (int)(len - (size_t)(v - p)), v);
			return true;
		}
		p = eol ? eol + 2 : p + len;
	}
	return false;
}

/* The response without its Date header: status line, headers and body, for byte comparisons. */
static char *comparable(const resp *r)
{
	size_t cap = r->headers_len + r->len + 64, at = 0;
	char *out = calloc(1, cap);
	assert_non_null(out);
	at += (size_t)snprintf(out, cap, "%ld\n", r->status);
	for (const char *p = r->headers; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (strncasecmp(p, "Date:", 5) != 0) {
			memcpy(out + at, p, len);
			at += len;
			out[at++] = '\n';
		}
		p = eol ? eol + 2 : p + len;
	}
	if (r->body)
		memcpy(out + at, r->body, r->len);
	return out;
}

static void assert_same_answer(const resp *a, const resp *b)
{
	char *x = comparable(a), *y = comparable(b);
	if (strcmp(x, y) != 0)
		fail_msg("different answers:\n---\n%s\n---\n%s\n---", x, y);
	free(x);
	free(y);
}

/* --- fixture --- */

struct provider {
	const char *url;
	ecr_registry *regs[8];
	int count;
};

/* Registries of the storage, opened on first use (the public ones included). */
static int provide(ecr_registry **out, const char *account_id, const char *region, void *payload)
{
	struct provider *pv = payload;
	for (int i = 0; i < pv->count; i++)
		if (strcmp(ecr_registry_account_id(pv->regs[i]), account_id) == 0 &&
			strcmp(ecr_registry_region(pv->regs[i]), region) == 0) {
			*out = pv->regs[i];
			return 0;
		}
	if (pv->count == 8)
		return ECR_ELIMIT;
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.account_id = account_id;
	o.region = region;
	int rc = ecr_registry_open(out, pv->url, &o);
	if (!rc)
		pv->regs[pv->count++] = *out;
	return rc;
}

struct fixture {
	char *dir, *url;
	struct provider pv;
	ecr_registry *a, *pub; /* account A's private (us-east-1) and public registries */
	ecr_server *srv;
	uint16_t port;
	th_image tools, secret;
	char admin[2048], nobody[2048], publisher[2048], bob[2048], admin_bearer[2048];
};

/* "Basic base64(AWS:token)" for a principal into out, and "Bearer token" with the same token into bearer
 * (may be NULL). */
static void auth_for(char *out, size_t size, ecr_registry *reg, const char *arn, char *bearer)
{
	ecr_principal *p = NULL;
	ecr_buf tok = ECR_BUF_INIT, cred = ECR_BUF_INIT, b64 = ECR_BUF_INIT;
	assert_ok(ecr_principal_open(&p, reg, arn));
	assert_ok(ecr_auth_token_create(&tok, NULL, reg, p));
	if (bearer)
		snprintf(bearer, size, "Bearer %s", tok.ptr);
	assert_ok(ecr__buf_printf(&cred, "AWS:%s", tok.ptr));
	assert_ok(ecr__base64_encode(&b64, cred.ptr, cred.size));
	assert_true(b64.size + 7 < size);
	snprintf(out, size, "Basic %s", b64.ptr);
	ecr_principal_free(p);
	ecr_buf_dispose(&tok);
	ecr_buf_dispose(&cred);
	ecr_buf_dispose(&b64);
}

static void principal(ecr_registry *reg, const char *arn, uint32_t flags, const char *policy)
{
	ecr_principal *p = NULL;
	assert_ok(ecr_principal_create(&p, reg, arn, flags));
	if (policy)
		assert_ok(ecr_principal_put_policy(p, "p", policy));
	ecr_principal_free(p);
}

static void push_image(ecr_registry *reg, const char *name, th_image *img, uint64_t seed, const char *tag)
{
	ecr_repository *repo = NULL;
	uint64_t rng = seed;
	assert_ok(th_image_random(img, &rng, 2, NULL));
	int rc = ecr_repository_open(&repo, reg, name);
	if (rc == ECR_EREPOSITORY_NOT_FOUND)
		rc = ecr_repository_create(&repo, reg, name, NULL);
	assert_ok(rc);
	assert_ok(th_image_push(repo, img, tag, 0));
	ecr_repository_free(repo);
}

/* with_public: account A's public registry gets the alias "acme" and the repository "tools". */
static int setup_common(void **state, bool with_public)
{
	struct fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
	ecr_buf b = ECR_BUF_INIT;
	f->dir = th_tmpdir();
	assert_ok(ecr__buf_printf(&b, "file://%s", f->dir));
	f->url = ecr__buf_detach(&b);
	f->pv.url = f->url;
	o.account_id = ACCT_A;
	assert_ok(ecr_registry_open(&f->a, f->url, &o));
	principal(f->a, ADMIN_A, ECR_PRINCIPAL_ADMIN, NULL);
	principal(f->a, NOBODY_A, 0, NULL);
	principal(f->a, PUBLISHER_A, 0,
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr-public:*\","
		"\"Resource\":\"*\"}]}");
	principal(f->a, BOB_B, 0,
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"ecr:*\","
		"\"ecr-public:*\"],\"Resource\":\"*\"}]}");
	auth_for(f->admin, sizeof(f->admin), f->a, ADMIN_A, f->admin_bearer);
	auth_for(f->nobody, sizeof(f->nobody), f->a, NOBODY_A, NULL);
	auth_for(f->publisher, sizeof(f->publisher), f->a, PUBLISHER_A, NULL);
	auth_for(f->bob, sizeof(f->bob), f->a, BOB_B, NULL);
	push_image(f->a, "secret", &f->secret, 11, "latest");
	if (with_public) {
		assert_ok(provide(&f->pub, ACCT_A, ECR_REGION_PUBLIC, &f->pv));
		assert_ok(ecr_public_set_alias(f->pub, "acme"));
		push_image(f->pub, "tools", &f->tools, 22, "latest");
		ecr_repository *repo = NULL;
		assert_ok(ecr_repository_open(&repo, f->pub, "tools"));
		assert_ok(ecr_image_put(NULL, repo, "v1", f->tools.digest, NULL, f->tools.manifest,
			f->tools.manifest_len, 0));
		ecr_repository_free(repo);
	}
	so.flags = ECR_SERVER_CREATE_ON_PUSH;
	assert_ok(ecr_server_new(&f->srv, &so));
	assert_ok(ecr_server_add_registry(f->srv, f->a, NULL));
	assert_ok(ecr_server_set_registry_cb(f->srv, provide, &f->pv));
	assert_ok(ecr_server_start(f->srv));
	f->port = ecr_server_port(f->srv);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_common(state, true); }
static int setup_private_only(void **state) { return setup_common(state, false); }

static int teardown(void **state)
{
	struct fixture *f = *state;
	ecr_server_free(f->srv);
	for (int i = 0; i < f->pv.count; i++)
		ecr_registry_free(f->pv.regs[i]);
	ecr_registry_free(f->a);
	th_image_dispose(&f->tools);
	th_image_dispose(&f->secret);
	ecr__free(f->url);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

/* An anonymous token from GET /token, as "Bearer <token>". */
static void anonymous_bearer(struct fixture *f, char *out, size_t size)
{
	resp r = { 0 };
	ecr__json *doc = NULL;
	assert_int_equal(req(&r, f->port, "GET", "/token?service=x&scope=repository:acme/tools:pull", NULL, NULL,
				 NULL),
		200);
	assert_ok(ecr__json_parse(&doc, r.body, r.len, NULL));
	const ecr__json *t = ecr__json_get(doc, "token");
	assert_non_null(t);
	snprintf(out, size, "Bearer %s", t->string);
	ecr__json_free(doc);
	resp_dispose(&r);
}

/* --- tests --- */

static void test_server_v2_public__token_endpoint(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	ecr__json *doc = NULL;
	char h[256];
	assert_int_equal(req(&r, f->port, "GET", "/token", NULL, NULL, NULL), 200);
	assert_true(header(&r, "Content-Type", h, sizeof(h)));
	assert_string_equal(h, "application/json");
	assert_true(header(&r, "Cache-Control", h, sizeof(h)));
	assert_string_equal(h, "no-store");
	assert_ok(ecr__json_parse(&doc, r.body, r.len, NULL));
	const ecr__json *tok = ecr__json_get(doc, "token"), *acc = ecr__json_get(doc, "access_token"),
			*exp = ecr__json_get(doc, "expires_in"), *iss = ecr__json_get(doc, "issued_at");
	assert_non_null(tok);
	assert_non_null(acc);
	assert_non_null(exp);
	assert_non_null(iss);
	assert_string_equal(tok->string, acc->string);
	assert_true(exp->number > ECR_ANONYMOUS_TOKEN_LIFETIME_SECONDS - 60 &&
		exp->number <= ECR_ANONYMOUS_TOKEN_LIFETIME_SECONDS);
	int64_t issued = 0;
	assert_ok(ecr__time_parse_iso8601(&issued, iss->string));
	assert_true(llabs(issued - ecr_registry_now(f->a)) < 60000);
	/* an anonymous token, which is no registry token */
	assert_ok(ecr_auth_anonymous_token_verify(f->a, tok->string));
	ecr_principal *p = NULL;
	assert_int_not_equal(ecr_auth_token_verify(&p, f->a, tok->string), 0);
	assert_null(p);
	ecr__json_free(doc);

	/* Basic AWS:<registry token>: the same token back */
	assert_int_equal(req(&r, f->port, "GET", "/token?service=x&account=AWS", f->admin, NULL, NULL), 200);
	assert_ok(ecr__json_parse(&doc, r.body, r.len, NULL));
	assert_string_equal(ecr__json_get(doc, "token")->string, f->admin_bearer + 7);
	assert_string_equal(ecr__json_get(doc, "access_token")->string, f->admin_bearer + 7);
	assert_true(ecr__json_get(doc, "expires_in")->number > 0);
	ecr__json_free(doc);

	/* bad credentials */
	assert_int_equal(req(&r, f->port, "GET", "/token", "Basic QVdTOm5vdC1hLXRva2Vu", NULL, NULL), 401);
	assert_non_null(strstr(r.body, "UNAUTHORIZED"));
	assert_int_equal(req(&r, f->port, "GET", "/token", "Basic !!!", NULL, NULL), 401);
	assert_int_equal(req(&r, f->port, "GET", "/token", f->admin_bearer, NULL, NULL), 401);
	/* only GET */
	assert_int_equal(req(&r, f->port, "POST", "/token", NULL, "x", NULL), 405);
	assert_int_equal(req(&r, f->port, "DELETE", "/token", NULL, NULL, NULL), 405);
	resp_dispose(&r);
}

static void test_server_v2_public__anonymous_pull(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	char anon[2048], h[512], path[512];
	anonymous_bearer(f, anon, sizeof(anon));
	assert_int_equal(req(&r, f->port, "GET", "/v2/", anon, NULL, NULL), 200);
	/* by tag and by digest, GET and HEAD */
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/latest", anon, NULL, NULL), 200);
	assert_int_equal(r.len, f->tools.manifest_len);
	assert_memory_equal(r.body, f->tools.manifest, r.len);
	assert_true(header(&r, "Docker-Content-Digest", h, sizeof(h)));
	assert_string_equal(h, f->tools.digest);
	snprintf(path, sizeof(path), "/v2/acme/tools/manifests/%s", f->tools.digest);
	assert_int_equal(req(&r, f->port, "GET", path, anon, NULL, NULL), 200);
	assert_memory_equal(r.body, f->tools.manifest, r.len);
	assert_int_equal(req(&r, f->port, "HEAD", path, anon, NULL, NULL), 200);
	/* blobs */
	for (size_t i = 0; i < f->tools.layer_count; i++) {
		snprintf(path, sizeof(path), "/v2/acme/tools/blobs/%s", f->tools.layers[i].digest);
		assert_int_equal(req(&r, f->port, "GET", path, anon, NULL, NULL), 200);
		assert_int_equal(r.len, f->tools.layers[i].len);
		if (r.len)
			assert_memory_equal(r.body, f->tools.layers[i].data, r.len);
	}
	snprintf(path, sizeof(path), "/v2/acme/tools/blobs/%s", f->tools.config.digest);
	assert_int_equal(req(&r, f->port, "HEAD", path, anon, NULL, NULL), 200);
	/* tags, named as the client names the repository; pagination links likewise */
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/tags/list", anon, NULL, NULL), 200);
	assert_string_equal(r.body, "{\"name\":\"acme/tools\",\"tags\":[\"latest\",\"v1\"]}");
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/tags/list?n=1", anon, NULL, NULL), 200);
	assert_true(header(&r, "Link", h, sizeof(h)));
	assert_string_equal(h, "</v2/acme/tools/tags/list?n=1&last=latest>; rel=\"next\"");
	/* referrers */
	snprintf(path, sizeof(path), "/v2/acme/tools/referrers/%s", f->tools.digest);
	assert_int_equal(req(&r, f->port, "GET", path, anon, NULL, NULL), 200);
	/* a missing tag of a public repository is an ordinary MANIFEST_UNKNOWN */
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/nope", anon, NULL, NULL), 404);
	assert_non_null(strstr(r.body, "MANIFEST_UNKNOWN"));
	/* a forged token is no token */
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/latest", "Bearer AAAAforged", NULL, NULL),
		401);
	resp_dispose(&r);
}

static void test_server_v2_public__anonymous_push_refused(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 }, other = { 0 };
	char anon[2048], h[512], want[512], path[512];
	anonymous_bearer(f, anon, sizeof(anon));
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/tools/blobs/uploads/?digest=" HELLO_DIGEST, anon, "hello",
				 NULL),
		401);
	assert_non_null(strstr(r.body, "\"UNAUTHORIZED\""));
	assert_true(header(&r, "WWW-Authenticate", h, sizeof(h)));
	snprintf(want, sizeof(want),
		"Bearer realm=\"http://127.0.0.1:%u/token\",service=\"127.0.0.1:%u\",scope=\"repository:acme/tools:pull,push\"",
		(unsigned)f->port, (unsigned)f->port);
	assert_string_equal(h, want);
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/tools/blobs/uploads/", anon, NULL, NULL), 401);
	assert_int_equal(req(&r, f->port, "PUT", "/v2/acme/tools/manifests/evil", anon, f->tools.manifest,
				 "application/vnd.oci.image.manifest.v1+json"),
		401);
	snprintf(path, sizeof(path), "/v2/acme/tools/manifests/%s", f->tools.digest);
	assert_int_equal(req(&r, f->port, "DELETE", path, anon, NULL, NULL), 401);
	assert_int_equal(req(&r, f->port, "DELETE", "/v2/acme/tools/manifests/latest", anon, NULL, NULL), 401);
	/* nothing changed */
	ecr_repository *repo = NULL;
	ecr_image *img = NULL;
	uint64_t size;
	assert_ok(ecr_repository_open(&repo, f->pub, "tools"));
	assert_ok(ecr_image_get(&img, repo, "latest", 0));
	ecr_image_free(img);
	assert_int_equal(ecr_image_get(&img, repo, "evil", 0), ECR_EIMAGE_NOT_FOUND);
	assert_int_equal(ecr_blob_stat(repo, HELLO_DIGEST, &size), ECR_ENOTFOUND);
	ecr_repository_free(repo);
	/* the same refusal for a missing repository of the alias (apart from the name in the scope) */
	assert_int_equal(req(&r, f->port, "DELETE", "/v2/acme/tools/manifests/latest", anon, NULL, NULL), 401);
	assert_int_equal(req(&other, f->port, "DELETE", "/v2/acme/toolz/manifests/latest", anon, NULL, NULL), 401);
	char *x = comparable(&r), *y = comparable(&other), *p = strstr(y, "acme/toolz");
	assert_non_null(p);
	p[9] = 's';
	assert_string_equal(x, y);
	free(x);
	free(y);
	/* nor does the catalog list anything */
	assert_int_equal(req(&r, f->port, "GET", "/v2/_catalog", anon, NULL, NULL), 404);
	assert_non_null(strstr(r.body, "NAME_UNKNOWN"));
	assert_null(strstr(r.body, "secret"));
	resp_dispose(&r);
	resp_dispose(&other);
}

static void test_server_v2_public__anonymous_private_same_as_missing(void **state)
{
	struct fixture *f = *state;
	resp priv = { 0 }, missing = { 0 };
	char anon[2048], path[512];
	ecr_repository *repo = NULL;
	anonymous_bearer(f, anon, sizeof(anon));
	assert_ok(ecr_server_set_anonymous_limit(f->srv, 0, 0)); /* many requests, none of them limited */
	assert_ok(ecr_repository_create(&repo, f->a, "acme/inside", NULL));
	ecr_repository_free(repo);
	/* every pull route: a private repository (with and without an alias-like prefix), a missing one,
	 * a missing one of a real alias, one of an unknown alias, an alias that is no alias */
	static const char *const names[] = { "secret", "acme/inside", "nothing-here", "acme/nothing", "zzz/tools",
		"Bad_Alias/tools" };
	static const char *const routes[] = { "GET /manifests/latest", "HEAD /manifests/latest",
		"GET /blobs/" HELLO_DIGEST, "HEAD /blobs/" HELLO_DIGEST, "GET /tags/list",
		"GET /referrers/" HELLO_DIGEST };
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char method[8];
		const char *sp = strchr(routes[i], ' ');
		snprintf(method, sizeof(method), "%.*s", (int)(sp - routes[i]), routes[i]);
		snprintf(path, sizeof(path), "/v2/nonexistent%s", sp + 1);
		assert_int_equal(req(&missing, f->port, method, path, anon, NULL, NULL), 404);
		if (strcmp(method, "GET") == 0)
			assert_non_null(strstr(missing.body, "\"NAME_UNKNOWN\""));
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			snprintf(path, sizeof(path), "/v2/%s%s", names[j], sp + 1);
			req(&priv, f->port, method, path, anon, NULL, NULL);
			assert_same_answer(&priv, &missing);
		}
	}
	/* the private repository by digest, and the same name before and after it is deleted */
	snprintf(path, sizeof(path), "/v2/secret/manifests/%s", f->secret.digest);
	assert_int_equal(req(&priv, f->port, "GET", path, anon, NULL, NULL), 404);
	assert_ok(ecr_repository_delete(f->a, "secret", ECR_REPOSITORY_DELETE_FORCE));
	assert_int_equal(req(&missing, f->port, "GET", path, anon, NULL, NULL), 404);
	assert_same_answer(&priv, &missing);
	resp_dispose(&priv);
	resp_dispose(&missing);
}

static void test_server_v2_public__private_name_with_alias_prefix(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	ecr_repository *repo = NULL;
	th_image img = { 0 };
	push_image(f->a, "acme/tools", &img, 33, "private-tag");
	/* authenticated: the private repository of that exact name wins */
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/tags/list", f->admin, NULL, NULL), 200);
	assert_string_equal(r.body, "{\"name\":\"acme/tools\",\"tags\":[\"private-tag\"]}");
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/tools/blobs/uploads/?digest=" HELLO_DIGEST, f->admin,
				 "hello", NULL),
		201);
	uint64_t size = 0;
	assert_ok(ecr_repository_open(&repo, f->a, "acme/tools"));
	assert_ok(ecr_blob_stat(repo, HELLO_DIGEST, &size));
	ecr_repository_free(repo);
	/* anonymous: the public one, never the private one */
	char anon[2048];
	anonymous_bearer(f, anon, sizeof(anon));
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/tags/list", anon, NULL, NULL), 200);
	assert_string_equal(r.body, "{\"name\":\"acme/tools\",\"tags\":[\"latest\",\"v1\"]}");
	/* without a private one, an authenticated reader gets the public one */
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/private-tag", anon, NULL, NULL), 404);
	th_image_dispose(&img);
	resp_dispose(&r);
}

static void test_server_v2_public__registry_tokens(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	char h[512], path[512];
	/* Bearer with a registry token means what Basic means */
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", f->admin_bearer, NULL, NULL), 200);
	assert_memory_equal(r.body, f->secret.manifest, r.len);
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", f->admin, NULL, NULL), 200);
	assert_int_equal(req(&r, f->port, "GET", "/v2/_catalog", f->admin_bearer, NULL, NULL), 200);
	assert_non_null(strstr(r.body, "\"secret\""));
	assert_int_equal(req(&r, f->port, "POST", "/v2/made/by-bearer/blobs/uploads/?digest=" HELLO_DIGEST,
				 f->admin_bearer, "hello", NULL),
		201);
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", "Bearer not-a-token", NULL, NULL), 401);
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", "Digest abc", NULL, NULL), 401);
	/* a reader without rights on the private registry: denied there, but public pulls are anyone's */
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", f->nobody, NULL, NULL), 403);
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/latest", f->nobody, NULL, NULL), 200);
	assert_memory_equal(r.body, f->tools.manifest, r.len);
	snprintf(path, sizeof(path), "/v2/acme/tools/blobs/%s", f->tools.config.digest);
	assert_int_equal(req(&r, f->port, "GET", path, f->bob, NULL, NULL), 200);
	/* registry tokens are not rate-limited */
	assert_ok(ecr_server_set_anonymous_limit(f->srv, 1, 1));
	for (int i = 0; i < 5; i++)
		assert_int_equal(req(&r, f->port, "HEAD", "/v2/acme/tools/manifests/latest", f->nobody, NULL, NULL), 200);

	/* pushes to a public repository: ecr-public:<Action> on its ECR Public ARN */
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/tools/blobs/uploads/?digest=" HELLO_DIGEST, f->nobody,
				 "hello", NULL),
		403);
	/* bob of another account has ecr-public:* in his own account only */
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/tools/blobs/uploads/?digest=" HELLO_DIGEST, f->bob,
				 "hello", NULL),
		403);
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/tools/blobs/uploads/?digest=" HELLO_DIGEST, f->publisher,
				 "hello", NULL),
		201);
	assert_true(header(&r, "Location", h, sizeof(h)));
	assert_string_equal(h, "/v2/acme/tools/blobs/" HELLO_DIGEST);
	ecr_repository *repo = NULL;
	uint64_t size = 0;
	assert_ok(ecr_repository_open(&repo, f->pub, "tools"));
	assert_ok(ecr_blob_stat(repo, HELLO_DIGEST, &size));
	assert_int_equal(size, 5);
	ecr_repository_free(repo);
	assert_int_equal(ecr_repository_open(&repo, f->a, "acme/tools"), ECR_EREPOSITORY_NOT_FOUND);
	/* an upload session's Location keeps the client's name */
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/tools/blobs/uploads/", f->admin, NULL, NULL), 202);
	assert_true(header(&r, "Location", h, sizeof(h)));
	assert_true(strncmp(h, "/v2/acme/tools/blobs/uploads/", 29) == 0);
	char loc[1024];
	snprintf(loc, sizeof(loc), "%s?digest=" HELLO_DIGEST, h);
	assert_int_equal(req(&r, f->port, "PUT", loc, f->admin, "hello", "application/octet-stream"), 201);
	/* a manifest pushed by the owner's admin, with its Location */
	assert_int_equal(req(&r, f->port, "PUT", "/v2/acme/tools/manifests/v2", f->admin, f->tools.manifest,
				 "application/vnd.oci.image.manifest.v1+json"),
		201);
	assert_true(header(&r, "Location", h, sizeof(h)));
	snprintf(loc, sizeof(loc), "/v2/acme/tools/manifests/%s", f->tools.digest);
	assert_string_equal(h, loc);
	/* public repositories are not created on push; the message names what the client asked for */
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/newrepo/blobs/uploads/", f->admin, NULL, NULL), 404);
	assert_non_null(strstr(r.body, "NAME_UNKNOWN"));
	assert_non_null(strstr(r.body, "'acme/newrepo'"));
	assert_int_equal(ecr_repository_open(&repo, f->pub, "newrepo"), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/gone", f->admin, NULL, NULL), 404);
	assert_non_null(strstr(r.body, "MANIFEST_UNKNOWN"));
	resp_dispose(&r);
}

static void test_server_v2_public__rate_limit(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	char anon[2048], h[64], path[512];
	anonymous_bearer(f, anon, sizeof(anon));
	assert_int_equal(ecr_server_set_anonymous_limit(f->srv, 1, 0), ECR_EINVALID);
	assert_ok(ecr_server_set_anonymous_limit(f->srv, 1, 3));
	for (int i = 0; i < 3; i++)
		assert_int_equal(req(&r, f->port, i % 2 ? "HEAD" : "GET", "/v2/acme/tools/manifests/latest", anon, NULL,
					 NULL),
			200);
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/latest", anon, NULL, NULL), 429);
	assert_string_equal(r.body, TOOMANY);
	assert_true(header(&r, "Retry-After", h, sizeof(h)));
	assert_string_equal(h, "1");
	/* requests for names that are not public count too (no difference to see) */
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", anon, NULL, NULL), 429);
	/* blobs are not limited, nor are tokens */
	snprintf(path, sizeof(path), "/v2/acme/tools/blobs/%s", f->tools.config.digest);
	for (int i = 0; i < 5; i++)
		assert_int_equal(req(&r, f->port, "GET", path, anon, NULL, NULL), 200);
	assert_int_equal(req(&r, f->port, "GET", "/token", NULL, NULL, NULL), 200);
	/* a token comes back after a second */
	usleep(1100 * 1000);
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/latest", anon, NULL, NULL), 200);
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/latest", anon, NULL, NULL), 429);
	/* per_second 0: no limit */
	assert_ok(ecr_server_set_anonymous_limit(f->srv, 0, 0));
	for (int i = 0; i < 20; i++)
		assert_int_equal(req(&r, f->port, "HEAD", "/v2/acme/tools/manifests/latest", anon, NULL, NULL), 200);
	resp_dispose(&r);
}

static void test_server_v2_public__default_limit(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	char anon[2048];
	int ok = 0, limited = 0;
	anonymous_bearer(f, anon, sizeof(anon));
	/* never set: 1 a second, burst 10 */
	for (int i = 0; i < 14; i++) {
		long s = req(&r, f->port, "HEAD", "/v2/acme/tools/manifests/latest", anon, NULL, NULL);
		ok += s == 200;
		limited += s == 429;
	}
	assert_true(ok >= 10 && ok <= 11);
	assert_int_equal(ok + limited, 14);
	resp_dispose(&r);
}

static void test_server_v2_public__bearer_challenge(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	char h[512], want[512];
	assert_int_equal(req(&r, f->port, "GET", "/v2/", NULL, NULL, NULL), 401);
	assert_true(header(&r, "WWW-Authenticate", h, sizeof(h)));
	snprintf(want, sizeof(want), "Bearer realm=\"http://127.0.0.1:%u/token\",service=\"127.0.0.1:%u\"",
		(unsigned)f->port, (unsigned)f->port);
	assert_string_equal(h, want);
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/latest", NULL, NULL, NULL), 401);
	assert_true(header(&r, "WWW-Authenticate", h, sizeof(h)));
	snprintf(want, sizeof(want),
		"Bearer realm=\"http://127.0.0.1:%u/token\",service=\"127.0.0.1:%u\",scope=\"repository:acme/tools:pull\"",
		(unsigned)f->port, (unsigned)f->port);
	assert_string_equal(h, want);
	assert_int_equal(req(&r, f->port, "POST", "/v2/acme/tools/blobs/uploads/", NULL, NULL, NULL), 401);
	assert_true(header(&r, "WWW-Authenticate", h, sizeof(h)));
	assert_non_null(strstr(h, ",scope=\"repository:acme/tools:pull,push\""));
	/* the whole dance a client does: challenge, token, pull */
	char anon[2048];
	anonymous_bearer(f, anon, sizeof(anon));
	assert_int_equal(req(&r, f->port, "GET", "/v2/acme/tools/manifests/v1", anon, NULL, NULL), 200);
	resp_dispose(&r);
}

static void test_server_v2_public__basic_challenge_without_public(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	char h[512], want[512];
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", NULL, NULL, NULL), 401);
	assert_true(header(&r, "WWW-Authenticate", h, sizeof(h)));
	snprintf(want, sizeof(want), "Basic realm=\"https://127.0.0.1:%u/\",service=\"ecr.amazonaws.com\"",
		(unsigned)f->port);
	assert_string_equal(h, want);
	/* Basic works as ever */
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", f->admin, NULL, NULL), 200);
	assert_memory_equal(r.body, f->secret.manifest, r.len);
	/* an anonymous token pulls nothing here */
	char anon[2048];
	anonymous_bearer(f, anon, sizeof(anon));
	assert_int_equal(req(&r, f->port, "GET", "/v2/secret/manifests/latest", anon, NULL, NULL), 404);
	resp_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_v2_public__token_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__anonymous_pull, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__anonymous_push_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__anonymous_private_same_as_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__private_name_with_alias_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__registry_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__default_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__bearer_challenge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_v2_public__basic_challenge_without_public, setup_private_only,
			teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("server/v2_public", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
