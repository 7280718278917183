/* The web gallery: /gallery/ lists and searches public repositories (and,
 * for a reader logged in with a registry token, the private repositories of
 * the Host's registry), /gallery/r/<alias>/<name> and /gallery/p/<name> show
 * one. Pages are rendered here, work without JavaScript, and every dynamic
 * string is escaped. Only the public API is used. */
#include "http.h"

#include <stdio.h>
#include <time.h>

#include "../core/json.h"
#include "../engine/metering.h"
#include "ecr/blob.h"
#include "ecr/image.h"
#include "ecr/lifecycle.h"
#include "ecr/public.h"
#include "ecr/registry.h"
#include "ecr/repository.h"
#include "ecr/scan.h"
#include "gallery_assets.h"
#include "markdown.h"

#define COOKIE "ecr_gallery"
#define LOGIN_MAX 16384  /* bytes of a login form */
#define TAGS_MAX 200     /* tag rows shown */
#define CONFIG_MAX (1024 * 1024)
#define CSP "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; " \
	    "base-uri 'none'; frame-ancestors 'none'"

/* --- responses --- */

static void secure_headers(http_request *r, struct MHD_Response *resp)
{
	r->mhd->add_response_header(resp, "Content-Security-Policy", CSP);
	r->mhd->add_response_header(resp, "X-Content-Type-Options", "nosniff");
	r->mhd->add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result send_page(http_request *r, unsigned int status, ecr_buf *html, const char *cookie,
	const char *location)
{
	struct MHD_Response *resp = ecr__http_response_buf(r, html->ptr, html->size, "text/html; charset=utf-8");
	if (resp) {
		secure_headers(r, resp);
		r->mhd->add_response_header(resp, "Cache-Control", "no-store");
		if (cookie)
			r->mhd->add_response_header(resp, "Set-Cookie", cookie);
		if (location)
			r->mhd->add_response_header(resp, "Location", location);
	}
	return ecr__http_queue(r, status, resp);
}

static int esc(ecr_buf *b, const char *s) { return ecr__html_escape(b, s ? s : "", s ? strlen(s) : 0); }

static int page_open(ecr_buf *b, http_request *r, const char *title, const char *q, const ecr_principal *who)
{
	int rc = ecr__buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
				  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
	if (!rc)
		rc = esc(b, title);
	if (!rc)
		rc = ecr__buf_puts(b, " - ECR Gallery</title>\n<link rel=\"stylesheet\" href=\"/gallery/static/style.css\">\n"
				      "<script src=\"/gallery/static/gallery.js\" defer></script>\n</head>\n<body>\n"
				      "<header class=\"top\"><a class=\"brand\" href=\"/gallery/\">ECR Gallery</a>\n"
				      "<form class=\"search\" method=\"get\" action=\"/gallery/\" role=\"search\">"
				      "<input type=\"search\" name=\"q\" id=\"q\" placeholder=\"Search repositories\" "
				      "aria-label=\"Search repositories\" value=\"");
	if (!rc)
		rc = esc(b, q);
	if (!rc)
		rc = ecr__buf_puts(b, "\"><button type=\"submit\">Search</button></form>\n");
	if (!rc && who) {
		rc = ecr__buf_puts(b, "<form class=\"auth\" method=\"post\" action=\"/gallery/logout\"><span class=\"who\">");
		if (!rc)
			rc = esc(b, ecr_principal_arn(who));
		if (!rc)
			rc = ecr__buf_puts(b, "</span> <button type=\"submit\">Log out</button></form>\n");
	} else if (!rc) {
		rc = ecr__buf_puts(b, "<a class=\"auth\" href=\"/gallery/login\">Log in</a>\n");
	}
	(void)r;
	if (!rc)
		rc = ecr__buf_puts(b, "</header>\n<main>\n");
	return rc;
}

static int page_close(ecr_buf *b)
{
	return ecr__buf_puts(b, "</main>\n<footer>Served by libecr</footer>\n</body>\n</html>\n");
}

static enum MHD_Result simple_page(http_request *r, unsigned int status, const char *title, const char *text,
	const ecr_principal *who)
{
	ecr_buf b = ECR_BUF_INIT;
	enum MHD_Result ret = MHD_NO;
	if (page_open(&b, r, title, NULL, who) || ecr__buf_puts(&b, "<h1>") || esc(&b, title) ||
		ecr__buf_puts(&b, "</h1>\n<p>") || esc(&b, text) ||
		ecr__buf_puts(&b, "</p>\n<p><a href=\"/gallery/\">All repositories</a></p>\n") || page_close(&b))
		goto done;
	ret = send_page(r, status, &b, NULL, NULL);
done:
	ecr_buf_dispose(&b);
	return ret;
}

static enum MHD_Result not_found(http_request *r, const ecr_principal *who)
{
	return simple_page(r, 404, "Not found", "There is no such page or repository.", who);
}

static enum MHD_Result server_error(http_request *r)
{
	return simple_page(r, 500, "Error", "The gallery could not show this page.", NULL);
}

/* --- the reader --- */

/* The principal of the login cookie, or NULL (none, or not valid any more). */
static ecr_principal *reader(http_request *r)
{
	const char *token = r->mhd->lookup_connection_value(r->conn, MHD_COOKIE_KIND, COOKIE);
	ecr_principal *p = NULL;
	if (!token || !*token || !r->reg)
		return NULL;
	if (ecr_auth_token_verify(&p, r->reg, token) != 0) {
		ecr__error_clear();
		return NULL;
	}
	return p;
}

static bool may_read(http_request *r, const ecr_principal *p, ecr_repository *repo)
{
	if (!p)
		return false;
	if (ecr_authorize(r->reg, p, "ecr:DescribeImages", ecr_repository_arn(repo), NULL, 0) != 0) {
		ecr__error_clear();
		return false;
	}
	return true;
}

/* --- catalog data --- */

typedef struct catalog {
	ecr__json *doc;
	const char *description, *about, *usage;
	const ecr__json *archs, *oses;
	bool logo;
} catalog;

static void catalog_load(catalog *c, ecr_repository *repo, bool public)
{
	ecr_buf json = ECR_BUF_INIT, logo = ECR_BUF_INIT;
	ecr__json_limits lim = { 256 * 1024, 8, 256, 64 * 1024 };
	memset(c, 0, sizeof(*c));
	if (!public)
		return;
	if (ecr_repository_catalog_data(&json, repo) == 0 && ecr__json_parse(&c->doc, json.ptr, json.size, &lim) == 0) {
		c->description = ecr__json_get_string(c->doc, "description");
		c->about = ecr__json_get_string(c->doc, "aboutText");
		c->usage = ecr__json_get_string(c->doc, "usageText");
		c->archs = ecr__json_get(c->doc, "architectures");
		c->oses = ecr__json_get(c->doc, "operatingSystems");
	}
	c->logo = ecr_repository_catalog_logo(&logo, repo) == 0 && logo.size > 0;
	ecr__error_clear();
	ecr_buf_dispose(&json);
	ecr_buf_dispose(&logo);
}

static void catalog_dispose(catalog *c) { ecr__json_free(c->doc); }

static int put_list(ecr_buf *b, const char *cls, const ecr__json *arr)
{
	int rc = 0;
	for (size_t i = 0; !rc && arr && arr->type == ECR__JSON_ARRAY && i < arr->count; i++) {
		const ecr__json *v = ecr__json_at(arr, i);
		if (!v || v->type != ECR__JSON_STRING)
			continue;
		if (!(rc = ecr__buf_printf(b, "<span class=\"chip %s\">", cls)) && !(rc = esc(b, v->string)))
			rc = ecr__buf_puts(b, "</span>");
	}
	return rc;
}

/* ASCII case-insensitive substring. */
static bool ci_contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	if (!hay)
		return false;
	for (const char *p = hay; *p; p++)
		if (strncasecmp(p, needle, n) == 0)
			return true;
	return n == 0;
}

/* --- the list --- */

typedef struct list_ctx {
	http_request *r;
	ecr_buf *b;
	const char *q;
	size_t shown;
} list_ctx;

static int list_card(list_ctx *l, ecr_repository *repo, const char *alias)
{
	catalog c;
	ecr_buf *b = l->b, href = ECR_BUF_INIT, key = ECR_BUF_INIT;
	const char *name = ecr_repository_name(repo);
	int rc = 0;
	catalog_load(&c, repo, alias != NULL);
	if (alias)
		rc = ecr__buf_printf(&key, "%s/%s", alias, name);
	else
		rc = ecr__buf_puts(&key, name);
	if (rc)
		goto done;
	if (l->q && *l->q && !ci_contains(key.ptr, l->q) && !ci_contains(name, l->q) && !ci_contains(c.description, l->q))
		goto done;
	rc = alias ? ecr__buf_printf(&href, "/gallery/r/%s/%s", alias, name) : ecr__buf_printf(&href, "/gallery/p/%s", name);
	if (rc || (rc = ecr__buf_puts(b, "<li class=\"card\" data-search=\"")) || (rc = esc(b, key.ptr)) ||
		(rc = ecr__buf_puts(b, " ")) || (rc = esc(b, c.description)) || (rc = ecr__buf_puts(b, "\">")))
		goto done;
	if (c.logo && ((rc = ecr__buf_puts(b, "<img class=\"logo\" alt=\"\" src=\"/gallery/logo/")) || (rc = esc(b, key.ptr)) ||
			      (rc = ecr__buf_puts(b, "\">"))))
		goto done;
	if ((rc = ecr__buf_puts(b, "<div class=\"body\"><h2><a href=\"")) || (rc = esc(b, href.ptr)) ||
		(rc = ecr__buf_puts(b, "\">")) || (rc = esc(b, key.ptr)) ||
		(rc = ecr__buf_puts(b, alias ? "</a></h2>" : "</a> <span class=\"badge\">private</span></h2>")))
		goto done;
	if (c.description && ((rc = ecr__buf_puts(b, "<p class=\"desc\">")) || (rc = esc(b, c.description)) ||
				     (rc = ecr__buf_puts(b, "</p>"))))
		goto done;
	if ((rc = ecr__buf_puts(b, "<p class=\"chips\">")) || (rc = put_list(b, "arch", c.archs)) ||
		(rc = put_list(b, "os", c.oses)) || (rc = ecr__buf_puts(b, "</p></div></li>\n")))
		goto done;
	l->shown++;
done:
	catalog_dispose(&c);
	ecr_buf_dispose(&href);
	ecr_buf_dispose(&key);
	return rc;
}

static int list_registry(list_ctx *l, ecr_registry *reg, const char *alias, const ecr_principal *who)
{
	ecr_repository_iterator *it = NULL;
	ecr_repository *repo = NULL;
	int rc = ecr_repository_iterator_new(&it, reg, NULL);
	while (!rc && (rc = ecr_repository_iterator_next(&repo, it)) == 0) {
		if (alias || may_read(l->r, who, repo))
			rc = list_card(l, repo, alias); /* repo is borrowed from the iterator */
	}
	if (rc == ECR_ITEROVER)
		rc = 0;
	ecr_repository_iterator_free(it);
	return rc;
}

static int list_public_cb(const char *account, const char *alias, void *payload)
{
	list_ctx *l = payload;
	ecr_registry *preg = NULL;
	if (ecr__server_registry(&preg, l->r->srv, l->r->reg, account, ECR_REGION_PUBLIC) != 0) {
		ecr__error_clear();
		return 0; /* not served here */
	}
	return list_registry(l, preg, alias, NULL);
}

static enum MHD_Result page_list(http_request *r, const ecr_principal *who)
{
	ecr_buf b = ECR_BUF_INIT;
	const char *q = ecr__http_query(r, "q");
	list_ctx l = { r, &b, q, 0 };
	enum MHD_Result ret = MHD_NO;
	int rc;
	if (q && strlen(q) > 256)
		q = l.q = NULL;
	if ((rc = page_open(&b, r, q && *q ? "Search" : "Repositories", q, who)) ||
		(rc = ecr__buf_puts(&b, q && *q ? "<h1>Search results</h1>\n" : "<h1>Repositories</h1>\n")) ||
		(rc = ecr__buf_puts(&b, "<ul class=\"cards\" id=\"repos\">\n")))
		goto done;
	if ((rc = ecr_public_registries_foreach(r->reg, list_public_cb, &l)) != 0)
		goto done;
	if (who && (rc = list_registry(&l, r->reg, NULL, who)) != 0)
		goto done;
	if ((rc = ecr__buf_puts(&b, "</ul>\n<p class=\"empty\" id=\"none\"")) ||
		(rc = ecr__buf_puts(&b, l.shown ? " hidden>" : ">")) ||
		(rc = ecr__buf_puts(&b, "No repository matches.</p>\n")) || (rc = page_close(&b)))
		goto done;
	ret = send_page(r, 200, &b, NULL, NULL);
done:
	ecr_buf_dispose(&b);
	if (rc)
		return server_error(r);
	return ret;
}

/* --- one repository --- */

/* Distinct "os/arch[/variant]" of an image into b as chips. */
static int image_platforms(ecr_buf *b, ecr_repository *repo, ecr_image *img)
{
	const void *m = NULL;
	size_t mlen = 0;
	ecr__json *doc = NULL, *cfg = NULL;
	ecr__json_limits lim = { 4 * 1024 * 1024, 16, 4096, 64 * 1024 };
	ecr_blob *blob = NULL;
	char *data = NULL;
	int rc = 0;
	if (ecr_image_manifest(&m, &mlen, img) != 0 || ecr__json_parse(&doc, m, mlen, &lim) != 0)
		goto done;
	const ecr__json *list = ecr__json_get(doc, "manifests");
	if (list && list->type == ECR__JSON_ARRAY) {
		ecr_buf seen = ECR_BUF_INIT, one = ECR_BUF_INIT;
		for (size_t i = 0; !rc && i < list->count; i++) {
			const ecr__json *p = ecr__json_get(ecr__json_at(list, i), "platform");
			const char *os = ecr__json_get_string(p, "os"), *arch = ecr__json_get_string(p, "architecture");
			const char *variant = ecr__json_get_string(p, "variant");
			if (!os || !arch)
				continue;
			ecr__buf_clear(&one);
			if ((rc = ecr__buf_printf(&one, "|%s/%s%s%s|", os, arch, variant ? "/" : "", variant ? variant : "")))
				break;
			if (seen.ptr && strstr(seen.ptr, one.ptr))
				continue;
			if ((rc = ecr__buf_puts(&seen, one.ptr)) || (rc = ecr__buf_puts(b, "<span class=\"chip\">")))
				break;
			if ((rc = ecr__html_escape(b, one.ptr + 1, one.size - 2)) || (rc = ecr__buf_puts(b, "</span> ")))
				break;
		}
		ecr_buf_dispose(&seen);
		ecr_buf_dispose(&one);
		goto done;
	}
	const char *cdigest = ecr__json_get_string(ecr__json_get(doc, "config"), "digest");
	if (!cdigest || ecr__blob_open_uncounted(&blob, repo, cdigest, 0, 0) != 0 || ecr_blob_size(blob) > CONFIG_MAX)
		goto done;
	size_t size = (size_t)ecr_blob_size(blob), got = 0, n;
	if (!(data = ecr__malloc(size + 1))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	while (got < size && ecr_blob_read(blob, data + got, size - got, &n) == 0 && n > 0)
		got += n;
	if (got == size && ecr__json_parse(&cfg, data, size, &lim) == 0) {
		const char *os = ecr__json_get_string(cfg, "os"), *arch = ecr__json_get_string(cfg, "architecture");
		if (os && arch && !(rc = ecr__buf_puts(b, "<span class=\"chip\">")) && !(rc = esc(b, os)) &&
			!(rc = ecr__buf_puts(b, "/")) && !(rc = esc(b, arch)))
			rc = ecr__buf_puts(b, "</span>");
	}
done:
	if (rc != ECR_ENOMEM)
		ecr__error_clear();
	ecr_blob_free(blob);
	ecr__free(data);
	ecr__json_free(doc);
	ecr__json_free(cfg);
	return rc == ECR_ENOMEM ? rc : 0;
}

static void utc(char *out, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(out, n, "-");
}

static int size_text(char *out, size_t n, uint64_t v)
{
	if (v >= 1024 * 1024)
		return snprintf(out, n, "%.1f MiB", (double)v / (1024.0 * 1024.0));
	if (v >= 1024)
		return snprintf(out, n, "%.1f KiB", (double)v / 1024.0);
	return snprintf(out, n, "%llu B", (unsigned long long)v);
}

/* Pretty JSON: a re-indentation of valid JSON text. */
static int pretty_json(ecr_buf *b, const char *s)
{
	ecr_buf o = ECR_BUF_INIT;
	int depth = 0, rc = 0;
	bool str = false, bs = false;
	for (const char *p = s; !rc && *p; p++) {
		char c = *p;
		if (str) {
			rc = ecr__buf_put(&o, p, 1);
			if (bs)
				bs = false;
			else if (c == '\\')
				bs = true;
			else if (c == '"')
				str = false;
			continue;
		}
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r')
			continue;
		if (c == '"') {
			str = true;
			rc = ecr__buf_put(&o, p, 1);
		} else if (c == '{' || c == '[') {
			depth++;
			rc = ecr__buf_printf(&o, "%c\n%*s", c, 2 * depth, "");
		} else if (c == '}' || c == ']') {
			depth = depth > 0 ? depth - 1 : 0;
			rc = ecr__buf_printf(&o, "\n%*s%c", 2 * depth, "", c);
		} else if (c == ',') {
			rc = ecr__buf_printf(&o, ",\n%*s", 2 * depth, "");
		} else if (c == ':') {
			rc = ecr__buf_puts(&o, ": ");
		} else {
			rc = ecr__buf_put(&o, p, 1);
		}
	}
	if (!rc)
		rc = ecr__html_escape(b, o.ptr ? o.ptr : "", o.size);
	ecr_buf_dispose(&o);
	return rc;
}

static int section_scan(ecr_buf *b, ecr_repository *repo, const char *digest, const char *tag)
{
	ecr_scan_status status = ECR_SCAN_NONE;
	ecr_scan_report *rep = NULL;
	int64_t at = 0;
	char when[64];
	int rc = ecr__buf_puts(b, "<section id=\"scan\"><h2>Vulnerability scan</h2>\n");
	if (rc)
		return rc;
	if (!digest || ecr_image_scan_result(&status, NULL, &at, &rep, repo, digest) != 0 || status != ECR_SCAN_COMPLETE) {
		ecr__error_clear();
		rc = ecr__buf_puts(b, status == ECR_SCAN_IN_PROGRESS ? "<p>A scan is in progress.</p>\n"
								    : "<p>No scan results.</p>\n");
		goto end;
	}
	utc(when, sizeof(when), at);
	if ((rc = ecr__buf_puts(b, "<p>Image <code>")) || (rc = esc(b, tag)) || (rc = ecr__buf_puts(b, "</code>, ")) ||
		(rc = ecr__buf_printf(b, "scanned %s.</p>\n<ul class=\"sev\">", when)))
		goto end;
	for (int s = ECR_SEVERITY_CRITICAL; s >= ECR_SEVERITY_UNDEFINED; s--) {
		const char *name = ecr_severity_name((ecr_severity)s);
		if ((rc = ecr__buf_printf(b, "<li class=\"sev-%d\">", s)) || (rc = esc(b, name)) ||
			(rc = ecr__buf_printf(b, ": <b>%zu</b></li>", ecr_scan_report_severity_count(rep, (ecr_severity)s))))
			goto end;
	}
	if ((rc = ecr__buf_puts(b, "</ul>\n")))
		goto end;
	size_t n = ecr_scan_report_finding_count(rep);
	if (n == 0) {
		rc = ecr__buf_puts(b, "<p>No findings.</p>\n");
		goto end;
	}
	if ((rc = ecr__buf_puts(b, "<div class=\"scroll\"><table class=\"findings\"><thead><tr><th>Name</th><th>Severity</th>"
				   "<th>Package</th><th>Version</th></tr></thead>\n<tbody>\n")))
		goto end;
	for (size_t i = 0; i < n && i < 1000; i++) {
		const ecr_scan_finding *f = ecr_scan_report_finding(rep, i);
		if ((rc = ecr__buf_puts(b, "<tr><td>")) || (rc = esc(b, f->name)) || (rc = ecr__buf_puts(b, "</td><td>")) ||
			(rc = esc(b, ecr_severity_name(f->severity))) || (rc = ecr__buf_puts(b, "</td><td>")) ||
			(rc = esc(b, f->package_name)) || (rc = ecr__buf_puts(b, "</td><td>")) ||
			(rc = esc(b, f->package_version)) || (rc = ecr__buf_puts(b, "</td></tr>\n")))
			goto end;
	}
	rc = ecr__buf_puts(b, "</tbody></table></div>\n");
end:
	ecr_scan_report_free(rep);
	if (!rc)
		rc = ecr__buf_puts(b, "</section>\n");
	return rc;
}

static int section_tags(ecr_buf *b, ecr_repository *repo, const char *pull_prefix, ecr_buf *latest_digest,
	ecr_buf *latest_tag)
{
	ecr_tag_iterator *it = NULL;
	const char *tag, *digest;
	int64_t latest = -1;
	size_t count = 0;
	int rc = ecr__buf_puts(b, "<section id=\"tags\"><h2>Tags</h2>\n");
	if (rc)
		return rc;
	if ((rc = ecr_tag_iterator_new(&it, repo, NULL)))
		goto done;
	while (count < TAGS_MAX && (rc = ecr_tag_iterator_next(&tag, &digest, it)) == 0) {
		ecr_image *img = NULL;
		char when[64], size[32], pull[16];
		if (count == 0 && (rc = ecr__buf_puts(b, "<div class=\"scroll\"><table class=\"tags\"><thead><tr><th>Tag</th>"
							   "<th>Digest</th><th>Size</th><th>Pushed at</th><th>Platforms</th>"
							   "<th>Pull</th></tr></thead>\n<tbody>\n")))
			break;
		count++;
		if (ecr_image_get(&img, repo, digest, 0) != 0) {
			ecr__error_clear();
			continue;
		}
		utc(when, sizeof(when), ecr_image_pushed_at(img));
		size_text(size, sizeof(size), ecr_image_size(img));
		(void)pull;
		if (ecr_image_pushed_at(img) > latest) {
			latest = ecr_image_pushed_at(img);
			ecr__buf_clear(latest_digest);
			ecr__buf_clear(latest_tag);
			if ((rc = ecr__buf_puts(latest_digest, digest)) || (rc = ecr__buf_puts(latest_tag, tag))) {
				ecr_image_free(img);
				break;
			}
		}
		const char *hex = strchr(digest, ':');
		hex = hex ? hex + 1 : digest;
		if ((rc = ecr__buf_puts(b, "<tr><td class=\"tag\">")) || (rc = esc(b, tag)) ||
			(rc = ecr__buf_puts(b, "</td><td><code title=\"")) || (rc = esc(b, digest)) ||
			(rc = ecr__buf_puts(b, "\">")) || (rc = ecr__html_escape(b, hex, strnlen(hex, 12))) ||
			(rc = ecr__buf_printf(b, "</code></td><td>%s</td><td>%s</td><td>", size, when)) ||
			(rc = image_platforms(b, repo, img)) ||
			(rc = ecr__buf_puts(b, "</td><td><div class=\"pull\"><input class=\"pullcmd\" readonly value=\"docker pull ")) ||
			(rc = esc(b, pull_prefix)) || (rc = ecr__buf_puts(b, ":")) || (rc = esc(b, tag)) ||
			(rc = ecr__buf_puts(b, "\" aria-label=\"Pull command\"><button type=\"button\" class=\"copy\" hidden>Copy</button>"
					       "</div></td></tr>\n"))) {
			ecr_image_free(img);
			break;
		}
		ecr_image_free(img);
	}
	if (rc == ECR_ITEROVER || rc == 0)
		rc = ecr__buf_puts(b, count ? "</tbody></table></div>\n" : "<p>No tags.</p>\n");
done:
	ecr_tag_iterator_free(it);
	if (!rc)
		rc = ecr__buf_puts(b, "</section>\n");
	return rc;
}

static int section_lifecycle(ecr_buf *b, ecr_repository *repo)
{
	ecr_buf text = ECR_BUF_INIT;
	int64_t at = 0;
	int rc = ecr__buf_puts(b, "<section id=\"lifecycle\"><h2>Lifecycle policy</h2>\n");
	if (!rc && ecr_repository_lifecycle_policy(&text, &at, repo) == 0 && text.size) {
		if (!(rc = ecr__buf_puts(b, "<pre class=\"json\">")) && !(rc = pretty_json(b, text.ptr)))
			rc = ecr__buf_puts(b, "</pre>\n");
	} else if (!rc) {
		ecr__error_clear();
		rc = ecr__buf_puts(b, "<p>none</p>\n");
	}
	if (!rc)
		rc = ecr__buf_puts(b, "</section>\n");
	ecr_buf_dispose(&text);
	return rc;
}

static enum MHD_Result page_repository(http_request *r, ecr_registry *reg, const char *alias, const char *name,
	const ecr_principal *who)
{
	ecr_repository *repo = NULL;
	ecr_buf b = ECR_BUF_INIT, title = ECR_BUF_INIT, pull = ECR_BUF_INIT, ld = ECR_BUF_INIT, lt = ECR_BUF_INIT;
	catalog c = { 0 };
	enum MHD_Result ret = MHD_NO;
	const char *host = ecr__http_header(r, "Host");
	int rc;
	if (ecr_repository_open(&repo, reg, name) != 0) {
		ecr__error_clear();
		return not_found(r, who);
	}
	if (!alias && !may_read(r, who, repo)) {
		ecr_repository_free(repo);
		return not_found(r, who);
	}
	catalog_load(&c, repo, alias != NULL);
	if ((rc = alias ? ecr__buf_printf(&title, "%s/%s", alias, name) : ecr__buf_puts(&title, name)) ||
		(rc = ecr__buf_printf(&pull, "%s/%s", host ? host : "localhost", title.ptr)))
		goto done;
	if ((rc = page_open(&b, r, title.ptr, NULL, who)) || (rc = ecr__buf_puts(&b, "<div class=\"repohead\">")))
		goto done;
	if (c.logo && ((rc = ecr__buf_puts(&b, "<img class=\"logo big\" alt=\"\" src=\"/gallery/logo/")) ||
			      (rc = esc(&b, title.ptr)) || (rc = ecr__buf_puts(&b, "\">"))))
		goto done;
	if ((rc = ecr__buf_puts(&b, "<div><h1>")) || (rc = esc(&b, title.ptr)) ||
		(rc = ecr__buf_puts(&b, alias ? "</h1>" : " <span class=\"badge\">private</span></h1>")))
		goto done;
	if (c.description && ((rc = ecr__buf_puts(&b, "<p class=\"desc\">")) || (rc = esc(&b, c.description)) ||
				     (rc = ecr__buf_puts(&b, "</p>"))))
		goto done;
	if ((rc = ecr__buf_puts(&b, "<p class=\"chips\">")) || (rc = put_list(&b, "arch", c.archs)) ||
		(rc = put_list(&b, "os", c.oses)) || (rc = ecr__buf_puts(&b, "</p></div></div>\n")))
		goto done;
	if (c.about && *c.about && ((rc = ecr__buf_puts(&b, "<section id=\"about\" class=\"md\"><h2>About</h2>\n")) ||
					   (rc = ecr__markdown_html(&b, c.about, strlen(c.about))) ||
					   (rc = ecr__buf_puts(&b, "</section>\n"))))
		goto done;
	if (c.usage && *c.usage && ((rc = ecr__buf_puts(&b, "<section id=\"usage\" class=\"md\"><h2>Usage</h2>\n")) ||
					   (rc = ecr__markdown_html(&b, c.usage, strlen(c.usage))) ||
					   (rc = ecr__buf_puts(&b, "</section>\n"))))
		goto done;
	if ((rc = section_tags(&b, repo, pull.ptr, &ld, &lt)) || (rc = section_scan(&b, repo, ld.ptr, lt.ptr)) ||
		(rc = section_lifecycle(&b, repo)) || (rc = page_close(&b)))
		goto done;
	ret = send_page(r, 200, &b, NULL, NULL);
done:
	catalog_dispose(&c);
	ecr_repository_free(repo);
	ecr_buf_dispose(&b);
	ecr_buf_dispose(&title);
	ecr_buf_dispose(&pull);
	ecr_buf_dispose(&ld);
	ecr_buf_dispose(&lt);
	if (rc)
		return server_error(r);
	return ret;
}

/* The public registry of alias (served here), or NULL. */
static ecr_registry *public_registry(http_request *r, const char *alias)
{
	ecr_buf acct = ECR_BUF_INIT;
	ecr_registry *preg = NULL;
	if (ecr_public_alias_lookup(&acct, r->reg, alias) != 0 ||
		ecr__server_registry(&preg, r->srv, r->reg, acct.ptr, ECR_REGION_PUBLIC) != 0) {
		ecr__error_clear();
		preg = NULL;
	}
	ecr_buf_dispose(&acct);
	return preg;
}

/* Split "<alias>/<name>" (rest) into alias (copied into a, at most size) and name. */
static const char *split_alias(char *a, size_t size, const char *rest)
{
	const char *slash = strchr(rest, '/');
	if (!slash || slash == rest || (size_t)(slash - rest) >= size || !slash[1])
		return NULL;
	memcpy(a, rest, (size_t)(slash - rest));
	a[slash - rest] = '\0';
	return slash + 1;
}

static enum MHD_Result send_logo(http_request *r, const char *rest)
{
	char alias[ECR_PUBLIC_ALIAS_MAX + 1];
	const char *name = split_alias(alias, sizeof(alias), rest);
	ecr_registry *preg = name ? public_registry(r, alias) : NULL;
	ecr_repository *repo = NULL;
	ecr_buf logo = ECR_BUF_INIT;
	enum MHD_Result ret;
	if (!preg || ecr_repository_open(&repo, preg, name) != 0 || ecr_repository_catalog_logo(&logo, repo) != 0 ||
		logo.size < 4) {
		ecr__error_clear();
		ecr_repository_free(repo);
		ecr_buf_dispose(&logo);
		return not_found(r, NULL);
	}
	const unsigned char *p = (const unsigned char *)logo.ptr;
	const char *type = (logo.size >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) ? "image/png"
			   : (p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF)                ? "image/jpeg"
											      : "application/octet-stream";
	struct MHD_Response *resp = ecr__http_response_buf(r, logo.ptr, logo.size, type);
	if (resp) {
		secure_headers(r, resp);
		r->mhd->add_response_header(resp, "Cache-Control", "public, max-age=300");
	}
	ret = ecr__http_queue(r, 200, resp);
	ecr_repository_free(repo);
	ecr_buf_dispose(&logo);
	return ret;
}

static enum MHD_Result send_static(http_request *r, const char *file)
{
	for (size_t i = 0; i < ecr__gallery_assets_count; i++) {
		const ecr__gallery_asset *a = &ecr__gallery_assets[i];
		if (strcmp(a->name, file) != 0)
			continue;
		struct MHD_Response *resp = ecr__http_response_buf(r, a->data, a->size, a->content_type);
		if (resp) {
			secure_headers(r, resp);
			r->mhd->add_response_header(resp, "Cache-Control", "public, max-age=300");
		}
		return ecr__http_queue(r, 200, resp);
	}
	return not_found(r, NULL);
}

static enum MHD_Result page_login(http_request *r, unsigned int status, const char *message)
{
	ecr_buf b = ECR_BUF_INIT;
	enum MHD_Result ret = MHD_NO;
	if (page_open(&b, r, "Log in", NULL, NULL) || ecr__buf_puts(&b, "<h1>Log in</h1>\n") ||
		(message && (ecr__buf_puts(&b, "<p class=\"error\" role=\"alert\">") || esc(&b, message) ||
				    ecr__buf_puts(&b, "</p>\n"))) ||
		ecr__buf_puts(&b, "<form class=\"login\" method=\"post\" action=\"/gallery/login\">\n"
				  "<label for=\"token\">Registry token (the output of <code>aws ecr get-login-password</code>)"
				  "</label>\n<textarea id=\"token\" name=\"token\" rows=\"4\" required autocomplete=\"off\">"
				  "</textarea>\n<button type=\"submit\">Log in</button>\n</form>\n") ||
		page_close(&b))
		goto done;
	ret = send_page(r, status, &b, NULL, NULL);
done:
	ecr_buf_dispose(&b);
	return ret;
}

/* --- routes --- */

static enum MHD_Result route_get(http_request *r)
{
	const char *path = r->path ? r->path : "/gallery";
	const char *rest = path + 8; /* after "/gallery" */
	ecr_principal *who = NULL;
	enum MHD_Result ret;
	if (strncmp(rest, "/static/", 8) == 0)
		return send_static(r, rest + 8);
	if (strncmp(rest, "/logo/", 6) == 0)
		return send_logo(r, rest + 6);
	if (*rest == '\0') {
		/* relative links assume the trailing slash */
		ecr_buf b = ECR_BUF_INIT;
		enum MHD_Result red = MHD_NO;
		if (ecr__buf_puts(&b, "<!DOCTYPE html><title>Moved</title><a href=\"/gallery/\">/gallery/</a>") == 0)
			red = send_page(r, 308, &b, NULL, "/gallery/");
		ecr_buf_dispose(&b);
		return red;
	}
	if (strcmp(rest, "/login") == 0)
		return page_login(r, 200, NULL);
	who = reader(r);
	if (strcmp(rest, "/") == 0) {
		ret = page_list(r, who);
	} else if (strncmp(rest, "/r/", 3) == 0) {
		char alias[ECR_PUBLIC_ALIAS_MAX + 1];
		const char *name = split_alias(alias, sizeof(alias), rest + 3);
		ecr_registry *preg = name ? public_registry(r, alias) : NULL;
		ret = preg ? page_repository(r, preg, alias, name, who) : not_found(r, who);
	} else if (strncmp(rest, "/p/", 3) == 0 && rest[3] && who) {
		ret = page_repository(r, r->reg, NULL, rest + 3, who);
	} else {
		ret = not_found(r, who);
	}
	if (who)
		ecr_principal_free(who);
	return ret;
}

enum MHD_Result ecr__gallery_begin(http_request *r)
{
	if (!r->reg)
		return simple_page(r, 404, "Not found", "No registry is served at this address.", NULL);
	if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) {
		if (r->path && (strcmp(r->path, "/gallery/logout") == 0))
			return simple_page(r, 405, "Method not allowed", "Log out with the button.", NULL);
		return route_get(r);
	}
	if (strcmp(r->method, "POST") == 0 && r->path &&
		(strcmp(r->path, "/gallery/login") == 0 || strcmp(r->path, "/gallery/logout") == 0)) {
		/* a form from another site is refused (the cookie is SameSite=Strict too) */
		const char *origin = ecr__http_header(r, "Origin"), *host = ecr__http_header(r, "Host");
		if (origin && strcmp(origin, "null") != 0) {
			const char *o = strstr(origin, "://");
			if (!o || !host || strcmp(o + 3, host) != 0)
				return simple_page(r, 403, "Forbidden", "This form was sent from another site.", NULL);
		}
		r->mode = BODY_BUFFER;
		r->buffer_limit = LOGIN_MAX;
		if (!r->expects_body)
			return ecr__gallery_finish(r);
		return MHD_YES;
	}
	return simple_page(r, 405, "Method not allowed", "The gallery answers GET, and POST for logging in and out.", NULL);
}

enum MHD_Result ecr__gallery_body(http_request *r, const char *data, size_t len)
{
	r->received += len;
	if (r->mode != BODY_BUFFER)
		return MHD_YES;
	if (r->body.size + len > r->buffer_limit)
		return simple_page(r, 413, "Too large", "The form is too large.", NULL);
	if (ecr__buf_put(&r->body, data, len))
		return MHD_NO;
	return MHD_YES;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The form field name (application/x-www-form-urlencoded) into out. */
static int form_field(ecr_buf *out, const char *body, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fe = amp ? amp : end;
		if ((size_t)(fe - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			for (const char *s = p + nl + 1; s < fe; s++) {
				char c = *s;
				if (c == '+')
					c = ' ';
				else if (c == '%' && fe - s >= 3 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
					c = (char)(hexval(s[1]) * 16 + hexval(s[2]));
					s += 2;
				}
				int rc = ecr__buf_put(out, &c, 1);
				if (rc)
					return rc;
			}
			return 0;
		}
		p = fe + 1;
	}
	return ECR_ENOTFOUND;
}

enum MHD_Result ecr__gallery_finish(http_request *r)
{
	const char *secure = r->srv->tls_cert ? "; Secure" : "";
	char cookie[128];
	ecr_buf b = ECR_BUF_INIT, token = ECR_BUF_INIT, set = ECR_BUF_INIT;
	enum MHD_Result ret = MHD_NO;
	r->mode = BODY_NONE;
	if (r->path && strcmp(r->path, "/gallery/logout") == 0) {
		snprintf(cookie, sizeof(cookie), COOKIE "=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/gallery%s", secure);
		if (ecr__buf_puts(&b, "<!DOCTYPE html><title>Logged out</title><a href=\"/gallery/\">/gallery/</a>") == 0)
			ret = send_page(r, 303, &b, cookie, "/gallery/");
		goto done;
	}
	/* login */
	ecr_principal *p = NULL;
	if (form_field(&token, r->body.ptr ? r->body.ptr : "", r->body.size, "token") != 0 || token.size == 0) {
		ret = page_login(r, 400, "Paste a registry token.");
		goto done;
	}
	/* trim the newline a paste adds */
	while (token.size && (token.ptr[token.size - 1] == '\n' || token.ptr[token.size - 1] == '\r' ||
				     token.ptr[token.size - 1] == ' '))
		token.ptr[--token.size] = '\0';
	bool cookie_safe = token.size > 0 && token.size < 3800;
	for (size_t i = 0; cookie_safe && i < token.size; i++) {
		unsigned char c = (unsigned char)token.ptr[i];
		cookie_safe = c > 0x20 && c < 0x7F && c != ';' && c != ',' && c != '"' && c != '\\';
	}
	if (!cookie_safe || ecr_auth_token_verify(&p, r->reg, token.ptr) != 0) {
		ecr__error_clear();
		ret = page_login(r, 403, "This token is not valid here (expired, or not a registry token).");
		goto done;
	}
	ecr_principal_free(p);
	if (ecr__buf_printf(&set, COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/gallery%s", token.ptr, secure) ||
		ecr__buf_puts(&b, "<!DOCTYPE html><title>Logged in</title><a href=\"/gallery/\">/gallery/</a>"))
		goto done;
	ret = send_page(r, 303, &b, set.ptr, "/gallery/");
done:
	ecr_buf_dispose(&b);
	ecr_buf_dispose(&token);
	ecr_buf_dispose(&set);
	return ret;
}
