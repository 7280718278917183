/* dpkg's status database (/var/lib/dpkg/status) and the per-package files of
 * distroless images (/var/lib/dpkg/status.d/<name>): deb822 paragraphs
 * separated by blank lines, "Field: value" lines, continuation lines starting
 * with a space or a tab. */
#include "scan_internal.h"

typedef struct span {
	const char *p;
	size_t n;
} span;

typedef struct para {
	span package, version, status, source, arch;
	bool has_package, has_version, has_status, has_source, has_arch;
} para;

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static span trim(const char *p, size_t n)
{
	while (n && (is_blank(*p) || *p == '\r'))
		p++, n--;
	while (n && (is_blank(p[n - 1]) || p[n - 1] == '\r'))
		n--;
	span s = {p, n};
	return s;
}

static bool field_is(span name, const char *want)
{
	size_t wl = strlen(want);
	if (name.n != wl)
		return false;
	for (size_t i = 0; i < wl; i++) {
		char c = name.p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		char w = want[i];
		if (w >= 'A' && w <= 'Z')
			w = (char)(w - 'A' + 'a');
		if (c != w)
			return false;
	}
	return true;
}

/* The value as a NUL-terminated copy; a value holding a NUL byte is refused. */
static int span_dup(char **out, span s)
{
	*out = NULL;
	if (memchr(s.p, '\0', s.n))
		return 0;
	*out = ecr__strndup(s.p, s.n);
	return *out ? 0 : ECR_ENOMEM;
}

/* The third word of "Status: want flag status" is "installed". */
static bool status_installed(span s)
{
	size_t i = 0;
	for (int word = 0; word < 2; word++) {
		while (i < s.n && !is_blank(s.p[i]))
			i++;
		while (i < s.n && is_blank(s.p[i]))
			i++;
	}
	size_t start = i;
	while (i < s.n && !is_blank(s.p[i]))
		i++;
	return i - start == 9 && memcmp(s.p + start, "installed", 9) == 0;
}

static int flush(ecr__pkg_list *out, para *pp, bool status_d)
{
	char *name = NULL, *version = NULL, *src = NULL, *srcver = NULL, *arch = NULL;
	int rc = 0;

	if (!pp->has_package || !pp->has_version || pp->package.n == 0 || pp->version.n == 0)
		goto done;
	if (pp->has_status ? !status_installed(pp->status) : !status_d)
		goto done;
	if ((rc = span_dup(&name, pp->package)) != 0 || (rc = span_dup(&version, pp->version)) != 0)
		goto done;
	if (!name || !version)
		goto done;
	if (pp->has_source && pp->source.n) {
		/* "name" or "name (version)" */
		span s = pp->source;
		size_t i = 0;
		while (i < s.n && !is_blank(s.p[i]) && s.p[i] != '(')
			i++;
		if (i > 0 && (rc = span_dup(&src, (span){s.p, i})) != 0)
			goto done;
		span rest = trim(s.p + i, s.n - i);
		if (rest.n >= 2 && rest.p[0] == '(') {
			const char *close = memchr(rest.p, ')', rest.n);
			if (close) {
				span v = trim(rest.p + 1, (size_t)(close - rest.p - 1));
				if (v.n && (v.n != pp->version.n || memcmp(v.p, pp->version.p, v.n) != 0) &&
				    (rc = span_dup(&srcver, v)) != 0)
					goto done;
			}
		}
	}
	if (pp->has_arch && pp->arch.n && (rc = span_dup(&arch, pp->arch)) != 0)
		goto done;
	rc = ecr__pkg_list_add(out, name, version, src, srcver, arch);
done:
	ecr__free(name);
	ecr__free(version);
	ecr__free(src);
	ecr__free(srcver);
	ecr__free(arch);
	memset(pp, 0, sizeof(*pp));
	return rc;
}

int ecr__pkgdb_dpkg_parse(ecr__pkg_list *out, const char *data, size_t len, bool status_d)
{
	para pp = {0};
	size_t start_count, pos = 0;
	int rc = 0;

	if (!out || (!data && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid argument");
	start_count = out->count;
	out->format = ECR__PKG_DPKG;
	while (pos < len) {
		const char *line = data + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);

		span t = trim(line, n);
		if (t.n == 0) {
			if ((rc = flush(out, &pp, status_d)) != 0)
				goto done;
			continue;
		}
		if (is_blank(line[0]) || line[0] == '#')
			continue; /* a continuation line, or a comment */
		const char *colon = memchr(line, ':', n);
		if (!colon)
			continue; /* not a field: dpkg would refuse the file; keep what can be read */
		span fname = trim(line, (size_t)(colon - line));
		span value = trim(colon + 1, n - (size_t)(colon - line) - 1);
		if (field_is(fname, "Package") && !pp.has_package)
			pp.package = value, pp.has_package = true;
		else if (field_is(fname, "Version") && !pp.has_version)
			pp.version = value, pp.has_version = true;
		else if (field_is(fname, "Status") && !pp.has_status)
			pp.status = value, pp.has_status = true;
		else if (field_is(fname, "Source") && !pp.has_source)
			pp.source = value, pp.has_source = true;
		else if (field_is(fname, "Architecture") && !pp.has_arch)
			pp.arch = value, pp.has_arch = true;
	}
	rc = flush(out, &pp, status_d);
done:
	if (rc != 0)
		ecr__pkg_list_truncate(out, start_count);
	return rc;
}
