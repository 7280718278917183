/* Scan reports: the OS, the package inventory, the findings (sorted by
 * severity then name) with their severity counts; matching again against
 * another database; serialization for storage. */
#include "scan_internal.h"

#include <stdlib.h>

#include "../core/json.h"

struct ecr_scan_report {
	char *os;    /* "debian 12" */
	char *os_id; /* "debian" */
	char *os_version;
	char *ecosystem; /* "Debian:12" */
	char *reason;
	ecr__pkg_list pkgs;
	ecr_scan_finding *findings;
	size_t findings_count, findings_cap;
	size_t severity_counts[ECR_SEVERITY_CRITICAL + 1];
};

/* ecr_severity_name() is in cvss.c */
static int severity_from_name(const char *s)
{
	int i;

	for (i = ECR_SEVERITY_UNDEFINED; i <= ECR_SEVERITY_CRITICAL; i++)
		if (s && strcmp(s, ecr_severity_name((ecr_severity)i)) == 0)
			return i;
	return ECR_SEVERITY_UNDEFINED;
}

static void finding_dispose(ecr_scan_finding *f)
{
	ecr__free((char *)f->name);
	ecr__free((char *)f->uri);
	ecr__free((char *)f->description);
	ecr__free((char *)f->package_name);
	ecr__free((char *)f->package_version);
	ecr__free((char *)f->fixed_version);
	ecr__free((char *)f->cvss_vector);
	memset(f, 0, sizeof(*f));
}

static void findings_clear(ecr_scan_report *r)
{
	size_t i;

	for (i = 0; i < r->findings_count; i++)
		finding_dispose(&r->findings[i]);
	ecr__free(r->findings);
	r->findings = NULL;
	r->findings_count = r->findings_cap = 0;
	memset(r->severity_counts, 0, sizeof(r->severity_counts));
}

void ecr_scan_report_free(ecr_scan_report *r)
{
	if (!r)
		return;
	findings_clear(r);
	ecr__pkg_list_dispose(&r->pkgs);
	ecr__free(r->os);
	ecr__free(r->os_id);
	ecr__free(r->os_version);
	ecr__free(r->ecosystem);
	ecr__free(r->reason);
	ecr__free(r);
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = ecr__strdup(s);
	return *out ? 0 : ECR_ENOMEM;
}

int ecr__scan_report_new(ecr_scan_report **out, const char *os_id, const char *os_version, const char *ecosystem,
                         const char *reason, ecr__pkg_list *pkgs)
{
	ecr_scan_report *r;
	int rc;

	*out = NULL;
	r = ecr__calloc(1, sizeof(*r));
	if (!r)
		return ECR_ENOMEM;
	if ((rc = dup_opt(&r->os_id, os_id)) < 0 || (rc = dup_opt(&r->os_version, os_version)) < 0 ||
	    (rc = dup_opt(&r->ecosystem, ecosystem)) < 0 || (rc = dup_opt(&r->reason, reason)) < 0)
		goto fail;
	if (os_id) {
		ecr_buf b = ECR_BUF_INIT;

		if ((rc = ecr__buf_printf(&b, "%s%s%s", os_id, os_version ? " " : "", os_version ? os_version : "")) <
		    0) {
			ecr_buf_dispose(&b);
			goto fail;
		}
		r->os = ecr__buf_detach(&b);
	}
	if (pkgs) {
		r->pkgs = *pkgs;
		memset(pkgs, 0, sizeof(*pkgs));
		pkgs->format = r->pkgs.format;
	}
	*out = r;
	return 0;
fail:
	ecr_scan_report_free(r);
	return rc;
}

const char *ecr_scan_report_os(const ecr_scan_report *r)
{
	return r ? r->os : NULL;
}

const char *ecr_scan_report_ecosystem(const ecr_scan_report *r)
{
	return r ? r->ecosystem : NULL;
}

const char *ecr_scan_report_status_reason(const ecr_scan_report *r)
{
	return r ? r->reason : NULL;
}

const char *ecr__scan_report_os_id(const ecr_scan_report *r)
{
	return r->os_id;
}

const char *ecr__scan_report_os_version(const ecr_scan_report *r)
{
	return r->os_version;
}

const ecr__pkg_list *ecr__scan_report_packages(const ecr_scan_report *r)
{
	return &r->pkgs;
}

size_t ecr_scan_report_package_count(const ecr_scan_report *r)
{
	return r ? r->pkgs.count : 0;
}

int ecr_scan_report_package(const char **name_out, const char **version_out, const char **source_name_out,
                            const char **source_version_out, const ecr_scan_report *r, size_t i)
{
	const ecr__pkg *p;

	if (!r || i >= r->pkgs.count)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_INVALID, "package %zu is out of range", i);
	p = &r->pkgs.items[i];
	if (name_out)
		*name_out = p->name;
	if (version_out)
		*version_out = p->version;
	if (source_name_out)
		*source_name_out = p->source_name;
	if (source_version_out)
		*source_version_out = p->source_version;
	return 0;
}

size_t ecr_scan_report_finding_count(const ecr_scan_report *r)
{
	return r ? r->findings_count : 0;
}

const ecr_scan_finding *ecr_scan_report_finding(const ecr_scan_report *r, size_t i)
{
	if (!r || i >= r->findings_count)
		return NULL;
	return &r->findings[i];
}

size_t ecr_scan_report_severity_count(const ecr_scan_report *r, ecr_severity severity)
{
	if (!r || (int)severity < 0 || severity > ECR_SEVERITY_CRITICAL)
		return 0;
	return r->severity_counts[severity];
}

static int str_cmp_null(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

/* Highest severity first, then name, package, version. */
static int finding_cmp(const void *pa, const void *pb)
{
	const ecr_scan_finding *a = pa, *b = pb;
	int c;

	if (a->severity != b->severity)
		return a->severity > b->severity ? -1 : 1;
	if ((c = str_cmp_null(a->name, b->name)) != 0)
		return c;
	if ((c = str_cmp_null(a->package_name, b->package_name)) != 0)
		return c;
	return str_cmp_null(a->package_version, b->package_version);
}

/* Append a finding, copying every string. */
static int finding_add(ecr_scan_report *r, const ecr_scan_finding *src)
{
	ecr_scan_finding f;
	int rc;

	memset(&f, 0, sizeof(f));
	if (!src->name || !src->package_name || !src->package_version)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "a finding needs a name, a package and a version");
	if (r->findings_count == r->findings_cap) {
		size_t cap = r->findings_cap ? r->findings_cap * 2 : 16, bytes;
		ecr_scan_finding *n;

		if (ecr__mul_overflow(cap, sizeof(*n), &bytes))
			return ecr__fail_oom();
		n = ecr__realloc(r->findings, bytes);
		if (!n)
			return ECR_ENOMEM;
		r->findings = n;
		r->findings_cap = cap;
	}
	f.severity =
	    src->severity > ECR_SEVERITY_CRITICAL || (int)src->severity < 0 ? ECR_SEVERITY_UNDEFINED : src->severity;
	f.cvss_version = src->cvss_version;
	f.cvss_score = src->cvss_score;
	if ((rc = dup_opt((char **)&f.name, src->name)) < 0 || (rc = dup_opt((char **)&f.uri, src->uri)) < 0 ||
	    (rc = dup_opt((char **)&f.description, src->description)) < 0 ||
	    (rc = dup_opt((char **)&f.package_name, src->package_name)) < 0 ||
	    (rc = dup_opt((char **)&f.package_version, src->package_version)) < 0 ||
	    (rc = dup_opt((char **)&f.fixed_version, src->fixed_version)) < 0 ||
	    (rc = dup_opt((char **)&f.cvss_vector, src->cvss_vector)) < 0) {
		finding_dispose(&f);
		return rc;
	}
	r->findings[r->findings_count++] = f;
	return 0;
}

/* Sort, drop duplicates (same advisory for the same package), count. */
static void findings_finish(ecr_scan_report *r)
{
	size_t i, o = 0;

	if (r->findings_count > 1)
		qsort(r->findings, r->findings_count, sizeof(r->findings[0]), finding_cmp);
	memset(r->severity_counts, 0, sizeof(r->severity_counts));
	for (i = 0; i < r->findings_count; i++) {
		if (o > 0 && finding_cmp(&r->findings[o - 1], &r->findings[i]) == 0) {
			finding_dispose(&r->findings[i]);
			continue;
		}
		r->findings[o++] = r->findings[i];
	}
	r->findings_count = o;
	for (i = 0; i < o; i++)
		r->severity_counts[r->findings[i].severity]++;
}

typedef struct match_ctx {
	ecr_scan_report *r;
	const ecr__pkg *pkg;
} match_ctx;

static int on_match(const ecr__match *m, void *payload)
{
	match_ctx *c = payload;
	ecr_scan_finding f;

	memset(&f, 0, sizeof(f));
	f.name = m->id;
	f.uri = m->uri;
	f.description = m->summary;
	f.severity = m->severity;
	f.package_name = c->pkg->name;
	f.package_version = c->pkg->version;
	f.fixed_version = m->fixed_version;
	f.cvss_version = m->cvss_version;
	f.cvss_vector = m->cvss_vector;
	f.cvss_score = m->cvss_score;
	return finding_add(c->r, &f);
}

int ecr_scan_report_rematch(ecr_scan_report *r, const ecr_vulndb *db)
{
	match_ctx c;
	size_t i;
	int rc = 0;

	if (!r)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no report");
	findings_clear(r);
	if (!db || !r->ecosystem)
		return 0;
	c.r = r;
	for (i = 0; i < r->pkgs.count; i++) {
		c.pkg = &r->pkgs.items[i];
		if ((rc = ecr__vulndb_match(db, r->ecosystem, r->pkgs.format, c.pkg, on_match, &c)) != 0) {
			findings_clear(r);
			return rc;
		}
	}
	findings_finish(r);
	return 0;
}

/* --- serialization --- */

static const char *format_name(ecr__pkg_format f)
{
	switch (f) {
	case ECR__PKG_DPKG:
		return "dpkg";
	case ECR__PKG_APK:
		return "apk";
	case ECR__PKG_RPM:
		return "rpm";
	default:
		return NULL;
	}
}

static int jw_opt(ecr__jw *w, const char *key, const char *s)
{
	int rc;

	if (!s)
		return 0;
	if ((rc = ecr__jw_key(w, key)) < 0)
		return rc;
	return ecr__jw_string(w, s);
}

int ecr__scan_report_to_json(ecr_buf *out, const ecr_scan_report *r)
{
	ecr__jw *w = NULL;
	size_t i;
	int rc;

	if ((rc = ecr__jw_new(&w)) < 0)
		return rc;
	if ((rc = ecr__jw_object_open(w)) < 0 || (rc = jw_opt(w, "osId", r->os_id)) < 0 ||
	    (rc = jw_opt(w, "osVersion", r->os_version)) < 0 || (rc = jw_opt(w, "ecosystem", r->ecosystem)) < 0 ||
	    (rc = jw_opt(w, "reason", r->reason)) < 0 || (rc = jw_opt(w, "format", format_name(r->pkgs.format))) < 0)
		goto done;
	if ((rc = ecr__jw_key(w, "packages")) < 0 || (rc = ecr__jw_array_open(w)) < 0)
		goto done;
	for (i = 0; i < r->pkgs.count; i++) {
		const ecr__pkg *p = &r->pkgs.items[i];

		if ((rc = ecr__jw_object_open(w)) < 0 || (rc = jw_opt(w, "name", p->name)) < 0 ||
		    (rc = jw_opt(w, "version", p->version)) < 0 || (rc = jw_opt(w, "sourceName", p->source_name)) < 0 ||
		    (rc = jw_opt(w, "sourceVersion", p->source_version)) < 0 || (rc = jw_opt(w, "arch", p->arch)) < 0 ||
		    (rc = ecr__jw_object_close(w)) < 0)
			goto done;
	}
	if ((rc = ecr__jw_array_close(w)) < 0 || (rc = ecr__jw_key(w, "findings")) < 0 ||
	    (rc = ecr__jw_array_open(w)) < 0)
		goto done;
	for (i = 0; i < r->findings_count; i++) {
		const ecr_scan_finding *f = &r->findings[i];

		if ((rc = ecr__jw_object_open(w)) < 0 || (rc = jw_opt(w, "name", f->name)) < 0 ||
		    (rc = jw_opt(w, "uri", f->uri)) < 0 || (rc = jw_opt(w, "description", f->description)) < 0 ||
		    (rc = jw_opt(w, "severity", ecr_severity_name(f->severity))) < 0 ||
		    (rc = jw_opt(w, "packageName", f->package_name)) < 0 ||
		    (rc = jw_opt(w, "packageVersion", f->package_version)) < 0 ||
		    (rc = jw_opt(w, "fixedVersion", f->fixed_version)) < 0)
			goto done;
		if (f->cvss_version) {
			if ((rc = ecr__jw_key(w, "cvssVersion")) < 0 || (rc = ecr__jw_int(w, f->cvss_version)) < 0 ||
			    (rc = jw_opt(w, "cvssVector", f->cvss_vector)) < 0 ||
			    (rc = ecr__jw_key(w, "cvssScore")) < 0 || (rc = ecr__jw_double(w, f->cvss_score)) < 0)
				goto done;
		}
		if ((rc = ecr__jw_object_close(w)) < 0)
			goto done;
	}
	if ((rc = ecr__jw_array_close(w)) < 0 || (rc = ecr__jw_object_close(w)) < 0)
		goto done;
	rc = ecr__jw_finish(w, out);
done:
	ecr__jw_free(w);
	return rc;
}

static int bad_json(const char *what)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "stored scan report: %s", what);
}

int ecr__scan_report_from_json(ecr_scan_report **out, const char *json, size_t len)
{
	ecr__json_limits lim = {(size_t)256 << 20, 16, (size_t)20000000, (size_t)16 << 20};
	ecr__json *doc = NULL;
	const ecr__json *arr;
	ecr_scan_report *r = NULL;
	ecr__pkg_list pkgs;
	const char *fmt;
	size_t i;
	int rc;

	*out = NULL;
	memset(&pkgs, 0, sizeof(pkgs));
	if ((rc = ecr__json_parse(&doc, json, len, &lim)) < 0)
		return rc;
	if (doc->type != ECR__JSON_OBJECT) {
		rc = bad_json("not an object");
		goto done;
	}
	fmt = ecr__json_get_string(doc, "format");
	if (fmt)
		pkgs.format = strcmp(fmt, "dpkg") == 0  ? ECR__PKG_DPKG
		              : strcmp(fmt, "apk") == 0 ? ECR__PKG_APK
		              : strcmp(fmt, "rpm") == 0 ? ECR__PKG_RPM
		                                        : (ecr__pkg_format)0;
	arr = ecr__json_get(doc, "packages");
	for (i = 0; arr && arr->type == ECR__JSON_ARRAY && i < arr->count; i++) {
		const ecr__json *p = arr->values[i];
		const char *name = ecr__json_get_string(p, "name"), *version = ecr__json_get_string(p, "version");

		if (!name || !version) {
			rc = bad_json("a package has no name or version");
			goto done;
		}
		if ((rc = ecr__pkg_list_add(&pkgs, name, version, ecr__json_get_string(p, "sourceName"),
		                            ecr__json_get_string(p, "sourceVersion"),
		                            ecr__json_get_string(p, "arch"))) < 0)
			goto done;
	}
	if ((rc = ecr__scan_report_new(&r, ecr__json_get_string(doc, "osId"), ecr__json_get_string(doc, "osVersion"),
	                               ecr__json_get_string(doc, "ecosystem"), ecr__json_get_string(doc, "reason"),
	                               &pkgs)) < 0)
		goto done;
	arr = ecr__json_get(doc, "findings");
	for (i = 0; arr && arr->type == ECR__JSON_ARRAY && i < arr->count; i++) {
		const ecr__json *j = arr->values[i], *score = ecr__json_get(j, "cvssScore");
		ecr_scan_finding f;
		int64_t v = 0;

		memset(&f, 0, sizeof(f));
		f.name = ecr__json_get_string(j, "name");
		f.uri = ecr__json_get_string(j, "uri");
		f.description = ecr__json_get_string(j, "description");
		f.severity = (ecr_severity)severity_from_name(ecr__json_get_string(j, "severity"));
		f.package_name = ecr__json_get_string(j, "packageName");
		f.package_version = ecr__json_get_string(j, "packageVersion");
		f.fixed_version = ecr__json_get_string(j, "fixedVersion");
		if (ecr__json_get_int(j, "cvssVersion", &v) && (v == 2 || v == 3))
			f.cvss_version = (int)v;
		f.cvss_vector = ecr__json_get_string(j, "cvssVector");
		if (score && score->type == ECR__JSON_NUMBER)
			f.cvss_score = score->number;
		if ((rc = finding_add(r, &f)) < 0) {
			if (rc == ECR_EINVALID)
				rc = bad_json("a finding has no name, package or version");
			goto done;
		}
	}
	findings_finish(r);
	*out = r;
	r = NULL;
done:
	ecr_scan_report_free(r);
	ecr__pkg_list_dispose(&pkgs);
	ecr__json_free(doc);
	return rc;
}
