/* Alpine's installed database (/lib/apk/db/installed): one "X:value" line per
 * field, packages separated by blank lines. P: name, V: version, A: arch,
 * o: origin (the source package). */
#include "scan_internal.h"

typedef struct span {
	const char *p;
	size_t n;
} span;

typedef struct entry {
	span name, version, origin, arch;
} entry;

static int span_dup(char **out, span s)
{
	*out = NULL;
	if (!s.p || s.n == 0 || memchr(s.p, '\0', s.n))
		return 0;
	*out = ecr__strndup(s.p, s.n);
	return *out ? 0 : ECR_ENOMEM;
}

static int flush(ecr__pkg_list *out, entry *e)
{
	char *name = NULL, *version = NULL, *origin = NULL, *arch = NULL;
	int rc = 0;

	if ((rc = span_dup(&name, e->name)) != 0 || (rc = span_dup(&version, e->version)) != 0 ||
	    (rc = span_dup(&origin, e->origin)) != 0 || (rc = span_dup(&arch, e->arch)) != 0)
		goto done;
	if (name && version)
		rc = ecr__pkg_list_add(out, name, version, origin, NULL, arch);
done:
	ecr__free(name);
	ecr__free(version);
	ecr__free(origin);
	ecr__free(arch);
	memset(e, 0, sizeof(*e));
	return rc;
}

int ecr__pkgdb_apk_parse(ecr__pkg_list *out, const char *data, size_t len)
{
	entry e = {0};
	size_t start_count, pos = 0;
	int rc = 0;

	if (!out || (!data && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid argument");
	start_count = out->count;
	out->format = ECR__PKG_APK;
	while (pos < len) {
		const char *line = data + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0) {
			if ((rc = flush(out, &e)) != 0)
				goto done;
			continue;
		}
		if (n < 2 || line[1] != ':')
			continue;
		span v = {line + 2, n - 2};
		switch (line[0]) {
		case 'P':
			if (!e.name.p)
				e.name = v;
			break;
		case 'V':
			if (!e.version.p)
				e.version = v;
			break;
		case 'o':
			if (!e.origin.p)
				e.origin = v;
			break;
		case 'A':
			if (!e.arch.p)
				e.arch = v;
			break;
		default:
			break;
		}
	}
	rc = flush(out, &e);
done:
	if (rc != 0)
		ecr__pkg_list_truncate(out, start_count);
	return rc;
}
