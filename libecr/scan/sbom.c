/* The package inventory of a report as a CycloneDX 1.5 JSON SBOM, with a
 * package URL (purl) per component: pkg:deb/<os>/..., pkg:apk/<os>/...,
 * pkg:rpm/<os>/... */
#include "scan_internal.h"

#include <stdio.h>

#include "../core/crypto.h"
#include "../core/json.h"
#include "../core/timeutil.h"

/* purl percent-encoding: everything but unreserved characters. */
static int purl_put(ecr_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && rc == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		    c == '-' || c == '_' || c == '~') {
			rc = ecr__buf_put(b, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			rc = ecr__buf_put(b, e, 3);
		}
	}
	return rc;
}

/* The purl of a package. */
static int purl(ecr_buf *b, const ecr_scan_report *r, const ecr__pkg *p)
{
	const ecr__pkg_list *l = ecr__scan_report_packages(r);
	const char *os = ecr__scan_report_os_id(r), *ver = ecr__scan_report_os_version(r);
	const char *type = l->format == ECR__PKG_APK ? "apk" : l->format == ECR__PKG_RPM ? "rpm" : "deb";
	const char *version = p->version, *colon = strchr(p->version, ':');
	char epoch[32] = "";
	char sep = '?';
	int rc;

	if (!os)
		os = l->format == ECR__PKG_APK ? "alpine" : l->format == ECR__PKG_RPM ? "redhat" : "debian";
	/* rpm purls carry the epoch as a qualifier */
	if (l->format == ECR__PKG_RPM && colon && (size_t)(colon - version) < sizeof(epoch)) {
		memcpy(epoch, version, (size_t)(colon - version));
		epoch[colon - version] = '\0';
		version = colon + 1;
	}
	if ((rc = ecr__buf_printf(b, "pkg:%s/", type)) < 0 || (rc = purl_put(b, os)) < 0 ||
	    (rc = ecr__buf_puts(b, "/")) < 0 || (rc = purl_put(b, p->name)) < 0 || (rc = ecr__buf_puts(b, "@")) < 0 ||
	    (rc = purl_put(b, version)) < 0)
		return rc;
	if (p->arch) {
		if ((rc = ecr__buf_puts(b, "?arch=")) < 0 || (rc = purl_put(b, p->arch)) < 0)
			return rc;
		sep = '&';
	}
	if (ver) {
		if ((rc = ecr__buf_printf(b, "%cdistro=", sep)) < 0)
			return rc;
		if (l->format != ECR__PKG_APK && ((rc = purl_put(b, os)) < 0 || (rc = ecr__buf_puts(b, "-")) < 0))
			return rc;
		if ((rc = purl_put(b, ver)) < 0)
			return rc;
		sep = '&';
	}
	if (epoch[0]) {
		if ((rc = ecr__buf_printf(b, "%cepoch=", sep)) < 0 || (rc = purl_put(b, epoch)) < 0)
			return rc;
	}
	if (p->source_name && l->format == ECR__PKG_DPKG && strcmp(p->source_name, p->name) != 0) {
		sep = (p->arch || ver) ? '&' : '?';
		if ((rc = ecr__buf_printf(b, "%cupstream=", sep)) < 0 || (rc = purl_put(b, p->source_name)) < 0)
			return rc;
	}
	return 0;
}

static int jw_kv(ecr__jw *w, const char *k, const char *v)
{
	int rc = ecr__jw_key(w, k);

	return rc < 0 ? rc : ecr__jw_string(w, v);
}

int ecr_scan_report_sbom(ecr_buf *out, const ecr_scan_report *r)
{
	const ecr__pkg_list *l;
	ecr__jw *w = NULL;
	ecr_buf p = ECR_BUF_INIT;
	char uuid[37], serial[48], ts[32];
	size_t i;
	int rc;

	if (!out || !r)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no report or output buffer");
	l = ecr__scan_report_packages(r);
	if ((rc = ecr__uuid_v4(uuid)) < 0 || (rc = ecr__time_format_iso8601(ts, sizeof(ts), ecr__time_now_ms())) < 0)
		return rc;
	snprintf(serial, sizeof(serial), "urn:uuid:%s", uuid);
	if ((rc = ecr__jw_new(&w)) < 0)
		return rc;
	if ((rc = ecr__jw_object_open(w)) < 0 || (rc = jw_kv(w, "bomFormat", "CycloneDX")) < 0 ||
	    (rc = jw_kv(w, "specVersion", "1.5")) < 0 || (rc = jw_kv(w, "serialNumber", serial)) < 0 ||
	    (rc = ecr__jw_key(w, "version")) < 0 || (rc = ecr__jw_int(w, 1)) < 0)
		goto done;
	/* metadata: when, by what, and the operating system as the described component */
	if ((rc = ecr__jw_key(w, "metadata")) < 0 || (rc = ecr__jw_object_open(w)) < 0 ||
	    (rc = jw_kv(w, "timestamp", ts)) < 0 || (rc = ecr__jw_key(w, "tools")) < 0 ||
	    (rc = ecr__jw_object_open(w)) < 0 || (rc = ecr__jw_key(w, "components")) < 0 ||
	    (rc = ecr__jw_array_open(w)) < 0 || (rc = ecr__jw_object_open(w)) < 0 ||
	    (rc = jw_kv(w, "type", "library")) < 0 || (rc = jw_kv(w, "name", "libecr")) < 0 ||
	    (rc = jw_kv(w, "version", ecr_version())) < 0 || (rc = ecr__jw_object_close(w)) < 0 ||
	    (rc = ecr__jw_array_close(w)) < 0 || (rc = ecr__jw_object_close(w)) < 0)
		goto done;
	if ((rc = ecr__jw_key(w, "component")) < 0 || (rc = ecr__jw_object_open(w)) < 0 ||
	    (rc = jw_kv(w, "type", "operating-system")) < 0 ||
	    (rc = jw_kv(w, "name", ecr__scan_report_os_id(r) ? ecr__scan_report_os_id(r) : "unknown")) < 0)
		goto done;
	if (ecr__scan_report_os_version(r) && (rc = jw_kv(w, "version", ecr__scan_report_os_version(r))) < 0)
		goto done;
	if ((rc = ecr__jw_object_close(w)) < 0 || (rc = ecr__jw_object_close(w)) < 0)
		goto done;
	if ((rc = ecr__jw_key(w, "components")) < 0 || (rc = ecr__jw_array_open(w)) < 0)
		goto done;
	for (i = 0; i < l->count; i++) {
		const ecr__pkg *pk = &l->items[i];

		ecr__buf_clear(&p);
		if ((rc = purl(&p, r, pk)) < 0)
			goto done;
		if ((rc = ecr__jw_object_open(w)) < 0 || (rc = jw_kv(w, "type", "library")) < 0 ||
		    (rc = jw_kv(w, "bom-ref", p.ptr)) < 0 || (rc = jw_kv(w, "name", pk->name)) < 0 ||
		    (rc = jw_kv(w, "version", pk->version)) < 0 || (rc = jw_kv(w, "purl", p.ptr)) < 0)
			goto done;
		if (pk->source_name) {
			if ((rc = ecr__jw_key(w, "properties")) < 0 || (rc = ecr__jw_array_open(w)) < 0 ||
			    (rc = ecr__jw_object_open(w)) < 0 || (rc = jw_kv(w, "name", "libecr:source_name")) < 0 ||
			    (rc = jw_kv(w, "value", pk->source_name)) < 0 || (rc = ecr__jw_object_close(w)) < 0)
				goto done;
			if (pk->source_version &&
			    ((rc = ecr__jw_object_open(w)) < 0 ||
			     (rc = jw_kv(w, "name", "libecr:source_version")) < 0 ||
			     (rc = jw_kv(w, "value", pk->source_version)) < 0 || (rc = ecr__jw_object_close(w)) < 0))
				goto done;
			if ((rc = ecr__jw_array_close(w)) < 0)
				goto done;
		}
		if ((rc = ecr__jw_object_close(w)) < 0)
			goto done;
	}
	if ((rc = ecr__jw_array_close(w)) < 0 || (rc = ecr__jw_object_close(w)) < 0)
		goto done;
	rc = ecr__jw_finish(w, out);
done:
	ecr_buf_dispose(&p);
	ecr__jw_free(w);
	return rc;
}
