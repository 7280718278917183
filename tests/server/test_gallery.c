/* The web gallery (libecr/server/gallery.c) on a real ecr_server (port 0)
 * with a file: storage: the list and search of public repositories, a
 * repository page, escaping of catalog data, private repositories only for
 * a logged-in reader allowed to read them, login and logout, logos, static
 * files, 404s, and the security headers of every answer. */
#include "../helpers/helpers.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr/auth.h"
#include "ecr/lifecycle.h"
#include "ecr/public.h"
#include "libecr/core/crypto.h"
#include "../helpers/th_image.h"

#define ACCT "111111111111"
#define ADMIN "arn:aws:iam::" ACCT ":user/admin"
#define NOBODY "arn:aws:iam::" ACCT ":user/nobody"
#define CSP "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; " \
	    "base-uri 'none'; frame-ancestors 'none'"
/* a 1x1 PNG */
static const unsigned char png[] = { 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49,
	0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
	0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05,
	0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82 };

typedef struct resp {
	long status;
	char *body, *headers;
	size_t len, headers_len;
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

/* method path on 127.0.0.1:port with an optional cookie value, form body and Origin. */
static long req(resp *r, uint16_t port, const char *method, const char *path, const char *cookie, const char *form,
	const char *origin)
{
	char url[1024], line[8192];
	struct curl_slist *h = NULL;
	resp_dispose(r);
	struct sink bs = { &r->body, &r->len }, hs = { &r->headers, &r->headers_len };
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
	CURL *c = curl_easy_init();
	assert_non_null(c);
	if (cookie) {
		snprintf(line, sizeof(line), "Cookie: ecr_gallery=%s", cookie);
		h = curl_slist_append(h, line);
	}
	if (origin) {
		snprintf(line, sizeof(line), "Origin: %s", origin);
		h = curl_slist_append(h, line);
	}
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (form) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
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
	assert_int_equal(rc, CURLE_OK);
	return r->status;
}

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

static void expect_header(const resp *r, const char *name, const char *value)
{
	char v[1024];
	assert_true(header(r, name, v, sizeof(v)));
	assert_string_equal(v, value);
}

static void expect_secure(const resp *r)
{
	expect_header(r, "Content-Security-Policy", CSP);
	expect_header(r, "X-Content-Type-Options", "nosniff");
	expect_header(r, "Referrer-Policy", "no-referrer");
}

static void expect_html(const resp *r, long status)
{
	assert_int_equal(r->status, status);
	expect_secure(r);
	expect_header(r, "Content-Type", "text/html; charset=utf-8");
	assert_non_null(r->body);
	assert_non_null(strstr(r->body, "<!DOCTYPE html>"));
}

static bool has(const resp *r, const char *s) { return r->body && strstr(r->body, s) != NULL; }

/* --- fixture --- */

struct provider {
	const char *url;
	ecr_registry *regs[4];
	int count;
};

static int provide(ecr_registry **out, const char *account_id, const char *region, void *payload)
{
	struct provider *pv = payload;
	for (int i = 0; i < pv->count; i++)
		if (strcmp(ecr_registry_account_id(pv->regs[i]), account_id) == 0 &&
			strcmp(ecr_registry_region(pv->regs[i]), region) == 0) {
			*out = pv->regs[i];
			return 0;
		}
	if (pv->count == 4)
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
	ecr_registry *priv, *pub;
	ecr_server *srv;
	uint16_t port;
	th_image img;
	char admin[4096], nobody[4096];
	char pull[256];
};

static void token_for(char *out, size_t size, ecr_registry *reg, const char *arn, uint32_t flags)
{
	ecr_principal *p = NULL;
	ecr_buf tok = ECR_BUF_INIT;
	assert_ok(ecr_principal_create(&p, reg, arn, flags));
	assert_ok(ecr_auth_token_create(&tok, NULL, reg, p));
	assert_true(tok.size < size);
	snprintf(out, size, "%s", tok.ptr);
	ecr_principal_free(p);
	ecr_buf_dispose(&tok);
}

static void push(ecr_registry *reg, const char *name, th_image *img, const char *tag)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, reg, name);
	if (rc == ECR_EREPOSITORY_NOT_FOUND)
		rc = ecr_repository_create(&repo, reg, name, NULL);
	assert_ok(rc);
	assert_ok(th_image_push(repo, img, tag, 0));
	ecr_repository_free(repo);
}

static void catalog(ecr_registry *reg, const char *name, const char *json)
{
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_open(&repo, reg, name));
	assert_ok(ecr_repository_set_catalog_data(repo, json));
	ecr_repository_free(repo);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
	ecr_buf b = ECR_BUF_INIT, logo = ECR_BUF_INIT;
	uint64_t rng = 42;
	f->dir = th_tmpdir();
	assert_ok(ecr__buf_printf(&b, "file://%s", f->dir));
	f->url = ecr__buf_detach(&b);
	f->pv.url = f->url;
	o.account_id = ACCT;
	assert_ok(ecr_registry_open(&f->priv, f->url, &o));
	token_for(f->admin, sizeof(f->admin), f->priv, ADMIN, ECR_PRINCIPAL_ADMIN);
	token_for(f->nobody, sizeof(f->nobody), f->priv, NOBODY, 0);
	assert_ok(th_image_random(&f->img, &rng, 1, NULL));
	push(f->priv, "secret-app", &f->img, "stable");
	assert_ok(provide(&f->pub, ACCT, ECR_REGION_PUBLIC, &f->pv));
	assert_ok(ecr_public_set_alias(f->pub, "acme"));
	push(f->pub, "tools", &f->img, "latest");
	push(f->pub, "tools", &f->img, "v1");
	push(f->pub, "team/evil", &f->img, "x");
	assert_ok(ecr__base64_encode(&logo, png, sizeof(png)));
	assert_ok(ecr__buf_printf(&b,
		"{\"description\":\"Handy Tools for builds\",\"architectures\":[\"x86-64\",\"ARM 64\"],"
		"\"operatingSystems\":[\"Linux\"],\"logoImageBlob\":\"%s\",\"aboutText\":\"# About tools\\n\\nSee "
		"[docs](https://example.com/docs).\",\"usageText\":\"`docker run tools`\"}",
		logo.ptr));
	catalog(f->pub, "tools", b.ptr);
	catalog(f->pub, "team/evil",
		"{\"description\":\"<script>alert('d')</script> & \\\"q\\\"\",\"aboutText\":\"<script>alert(1)</script>\\n\\n"
		"[click](javascript:alert(2)) <img src=x onerror=alert(3)>\"}");
	ecr_buf_dispose(&b);
	ecr_buf_dispose(&logo);
	assert_ok(ecr_server_new(&f->srv, &so));
	assert_ok(ecr_server_add_registry(f->srv, f->priv, NULL));
	assert_ok(ecr_server_set_registry_cb(f->srv, provide, &f->pv));
	assert_ok(ecr_server_start(f->srv));
	f->port = ecr_server_port(f->srv);
	snprintf(f->pull, sizeof(f->pull), "docker pull 127.0.0.1:%u/acme/tools:latest", (unsigned)f->port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ecr_server_free(f->srv);
	for (int i = 0; i < f->pv.count; i++)
		ecr_registry_free(f->pv.regs[i]);
	ecr_registry_free(f->priv);
	th_image_dispose(&f->img);
	ecr__free(f->url);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

/* --- tests --- */

static void test_server_gallery__list(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	req(&r, f->port, "GET", "/gallery/", NULL, NULL, NULL);
	expect_html(&r, 200);
	expect_header(&r, "Cache-Control", "no-store");
	assert_true(has(&r, "<a href=\"/gallery/r/acme/tools\">acme/tools</a>"));
	assert_true(has(&r, "<a href=\"/gallery/r/acme/team/evil\">acme/team/evil</a>"));
	assert_true(has(&r, "Handy Tools for builds"));
	assert_true(has(&r, "<span class=\"chip arch\">ARM 64</span>"));
	assert_true(has(&r, "<span class=\"chip os\">Linux</span>"));
	assert_true(has(&r, "<img class=\"logo\" alt=\"\" src=\"/gallery/logo/acme/tools\">"));
	assert_true(has(&r, "<link rel=\"stylesheet\" href=\"/gallery/static/style.css\">"));
	assert_false(has(&r, "secret-app")); /* private: not without a login */
	assert_true(has(&r, "<p class=\"empty\" id=\"none\" hidden>"));
	/* /gallery alone redirects */
	req(&r, f->port, "GET", "/gallery", NULL, NULL, NULL);
	assert_int_equal(r.status, 308);
	expect_header(&r, "Location", "/gallery/");
	resp_dispose(&r);
}

static void test_server_gallery__search(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	req(&r, f->port, "GET", "/gallery/?q=TOOLS", NULL, NULL, NULL);
	expect_html(&r, 200);
	assert_true(has(&r, "acme/tools</a>"));
	assert_false(has(&r, "acme/team/evil</a>"));
	assert_true(has(&r, "value=\"TOOLS\""));
	req(&r, f->port, "GET", "/gallery/?q=for%20BUILDS", NULL, NULL, NULL); /* description */
	assert_true(has(&r, "acme/tools</a>"));
	req(&r, f->port, "GET", "/gallery/?q=acme%2Fteam", NULL, NULL, NULL); /* alias/name */
	assert_true(has(&r, "acme/team/evil</a>"));
	assert_false(has(&r, "acme/tools</a>"));
	req(&r, f->port, "GET", "/gallery/?q=%22%3E%3Cscript%3Ex", NULL, NULL, NULL);
	expect_html(&r, 200);
	assert_true(has(&r, "value=\"&quot;&gt;&lt;script&gt;x\""));
	assert_false(has(&r, "<script>x"));
	assert_true(has(&r, "<p class=\"empty\" id=\"none\">No repository matches.</p>"));
	assert_false(has(&r, "<li class=\"card\""));
	resp_dispose(&r);
}

static void test_server_gallery__repository_page(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	char want[512];
	req(&r, f->port, "GET", "/gallery/r/acme/tools", NULL, NULL, NULL);
	expect_html(&r, 200);
	assert_true(has(&r, "<h1>acme/tools</h1>"));
	assert_true(has(&r, "<h1>About tools</h1>"));
	assert_true(has(&r, "<a href=\"https://example.com/docs\" rel=\"nofollow noopener noreferrer\">docs</a>"));
	assert_true(has(&r, "<p><code>docker run tools</code></p>"));
	assert_true(has(&r, "<td class=\"tag\">latest</td>"));
	assert_true(has(&r, "<td class=\"tag\">v1</td>"));
	snprintf(want, sizeof(want), "value=\"%s\"", f->pull);
	assert_true(has(&r, want));
	snprintf(want, sizeof(want), "<code title=\"%s\">%.12s</code>", f->img.digest, f->img.digest + 7);
	assert_true(has(&r, want));
	assert_true(has(&r, "No scan results."));
	assert_true(has(&r, "<section id=\"lifecycle\"><h2>Lifecycle policy</h2>\n<p>none</p>"));
	/* a lifecycle policy in effect is shown, pretty */
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_open(&repo, f->pub, "tools"));
	assert_ok(ecr_repository_set_lifecycle_policy(repo,
		"{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
		"\"countNumber\":3},\"action\":{\"type\":\"expire\"}}]}"));
	ecr_repository_free(repo);
	req(&r, f->port, "GET", "/gallery/r/acme/tools", NULL, NULL, NULL);
	assert_true(has(&r, "<pre class=\"json\">{\n  &quot;rules&quot;: [\n    {\n      &quot;rulePriority&quot;: 1,"));
	resp_dispose(&r);
}

static void test_server_gallery__escaping(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	req(&r, f->port, "GET", "/gallery/", NULL, NULL, NULL);
	assert_true(has(&r, "&lt;script&gt;alert(&#39;d&#39;)&lt;/script&gt; &amp; &quot;q&quot;"));
	assert_false(has(&r, "<script>alert"));
	req(&r, f->port, "GET", "/gallery/r/acme/team/evil", NULL, NULL, NULL);
	expect_html(&r, 200);
	assert_true(has(&r, "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"));
	assert_true(has(&r, "<p>click &lt;img src=x onerror=alert(3)&gt;</p>"));
	assert_false(has(&r, "<script>alert"));
	assert_false(has(&r, "javascript:"));
	assert_false(has(&r, "<img src"));
	/* the only script is the gallery's own */
	const char *s = strstr(r.body, "<script");
	assert_non_null(s);
	assert_true(strncmp(s, "<script src=\"/gallery/static/gallery.js\" defer></script>", 56) == 0);
	assert_null(strstr(s + 1, "<script"));
	resp_dispose(&r);
}

static void test_server_gallery__private(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 }, missing = { 0 };
	req(&missing, f->port, "GET", "/gallery/p/no-such-repo", NULL, NULL, NULL);
	expect_html(&missing, 404);
	req(&r, f->port, "GET", "/gallery/p/secret-app", NULL, NULL, NULL);
	expect_html(&r, 404);
	assert_string_equal(r.body, missing.body); /* the same as one that does not exist */
	/* a bad cookie is no login */
	req(&r, f->port, "GET", "/gallery/p/secret-app", "bogus", NULL, NULL);
	expect_html(&r, 404);
	assert_string_equal(r.body, missing.body);
	/* a reader who may not describe it: no */
	req(&r, f->port, "GET", "/gallery/p/secret-app", f->nobody, NULL, NULL);
	expect_html(&r, 404);
	req(&r, f->port, "GET", "/gallery/", f->nobody, NULL, NULL);
	assert_false(has(&r, "secret-app"));
	assert_true(has(&r, "Log out</button>"));
	/* the admin sees it listed and its page */
	req(&r, f->port, "GET", "/gallery/", f->admin, NULL, NULL);
	expect_html(&r, 200);
	assert_true(has(&r, "<a href=\"/gallery/p/secret-app\">secret-app</a> <span class=\"badge\">private</span>"));
	assert_true(has(&r, ADMIN));
	req(&r, f->port, "GET", "/gallery/p/secret-app", f->admin, NULL, NULL);
	expect_html(&r, 200);
	char want[256];
	snprintf(want, sizeof(want), "value=\"docker pull 127.0.0.1:%u/secret-app:stable\"", (unsigned)f->port);
	assert_true(has(&r, want));
	resp_dispose(&r);
	resp_dispose(&missing);
}

static void test_server_gallery__login_logout(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	char v[8192], form[8192];
	req(&r, f->port, "GET", "/gallery/login", NULL, NULL, NULL);
	expect_html(&r, 200);
	assert_true(has(&r, "<form class=\"login\" method=\"post\" action=\"/gallery/login\">"));
	req(&r, f->port, "POST", "/gallery/login", NULL, "token=not-a-token", NULL);
	expect_html(&r, 403);
	assert_false(header(&r, "Set-Cookie", v, sizeof(v)));
	req(&r, f->port, "POST", "/gallery/login", NULL, "other=1", NULL);
	expect_html(&r, 400);
	snprintf(form, sizeof(form), "token=");
	for (const char *p = f->admin; *p; p++)
		snprintf(form + strlen(form), sizeof(form) - strlen(form), isalnum((unsigned char)*p) ? "%c" : "%%%02X",
			(unsigned char)*p);
	strcat(form, "%0A");
	req(&r, f->port, "POST", "/gallery/login", NULL, form, "http://evil.example");
	expect_html(&r, 403);
	assert_false(header(&r, "Set-Cookie", v, sizeof(v)));
	req(&r, f->port, "POST", "/gallery/login", NULL, form, NULL);
	expect_html(&r, 303);
	expect_header(&r, "Location", "/gallery/");
	assert_true(header(&r, "Set-Cookie", v, sizeof(v)));
	char want[8192];
	snprintf(want, sizeof(want), "ecr_gallery=%s; HttpOnly; SameSite=Strict; Path=/gallery", f->admin);
	assert_string_equal(v, want);
	/* logging out is a POST */
	req(&r, f->port, "GET", "/gallery/logout", f->admin, NULL, NULL);
	expect_html(&r, 405);
	req(&r, f->port, "POST", "/gallery/logout", f->admin, "", NULL);
	expect_html(&r, 303);
	assert_true(header(&r, "Set-Cookie", v, sizeof(v)));
	assert_string_equal(v, "ecr_gallery=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/gallery");
	req(&r, f->port, "PUT", "/gallery/", NULL, NULL, NULL);
	expect_html(&r, 405);
	resp_dispose(&r);
}

static void test_server_gallery__logo_static_404(void **state)
{
	struct fixture *f = *state;
	resp r = { 0 };
	req(&r, f->port, "GET", "/gallery/logo/acme/tools", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	expect_secure(&r);
	expect_header(&r, "Content-Type", "image/png");
	assert_int_equal(r.len, sizeof(png));
	assert_memory_equal(r.body, png, sizeof(png));
	req(&r, f->port, "GET", "/gallery/logo/acme/team/evil", NULL, NULL, NULL);
	expect_html(&r, 404);
	req(&r, f->port, "GET", "/gallery/static/style.css", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	expect_secure(&r);
	expect_header(&r, "Content-Type", "text/css; charset=utf-8");
	assert_true(has(&r, "@media (max-width: 600px)"));
	req(&r, f->port, "GET", "/gallery/static/gallery.js", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	expect_header(&r, "Content-Type", "text/javascript; charset=utf-8");
	const char *nf[] = { "/gallery/nope", "/gallery/r/acme/nope", "/gallery/r/nobody/tools", "/gallery/r/acme",
		"/gallery/static/nope.css", "/gallery/static/../gallery.c", "/gallery/logo/x", "/gallery/p/" };
	for (size_t i = 0; i < sizeof(nf) / sizeof(nf[0]); i++) {
		req(&r, f->port, "GET", nf[i], NULL, NULL, NULL);
		expect_html(&r, 404);
		assert_true(has(&r, "<h1>Not found</h1>"));
	}
	req(&r, f->port, "HEAD", "/gallery/", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	expect_secure(&r);
	resp_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_gallery__list),
		cmocka_unit_test(test_server_gallery__search),
		cmocka_unit_test(test_server_gallery__repository_page),
		cmocka_unit_test(test_server_gallery__escaping),
		cmocka_unit_test(test_server_gallery__private),
		cmocka_unit_test(test_server_gallery__login_logout),
		cmocka_unit_test(test_server_gallery__logo_static_404),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("server/gallery", tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
