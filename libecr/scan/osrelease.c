/* os-release(5): "KEY=value" lines, values optionally in single or double
 * quotes with shell-style backslash escapes; '#' comments. And the OSV
 * ecosystem of the operating system it names.
 *
 * Ecosystem names follow the OSV schema's list (ossf/osv-schema
 * ecosystems.txt), which has no Fedora, CentOS or Amazon Linux ecosystem:
 *   debian              Debian:<major>            dpkg
 *   ubuntu              Ubuntu:<version>[:LTS]    dpkg (LTS: even year, .04)
 *   alpine              Alpine:v<major>.<minor>   apk
 *   wolfi / chainguard  Wolfi / Chainguard        apk
 *   rhel                Red Hat                   rpm
 *   rocky               Rocky Linux:<major>       rpm
 *   almalinux           AlmaLinux:<major>         rpm
 *   opensuse-leap       openSUSE:Leap <version>   rpm
 *   opensuse-tumbleweed openSUSE:Tumbleweed       rpm
 *   sles                SUSE:Linux Enterprise Server <major>[ SP<minor>]  rpm
 * Anything else (fedora, centos, amzn, ...) is ECR_ENOTFOUND: OSV publishes no
 * advisories for it, and matching it against another distribution's would
 * give wrong answers. */
#include "scan_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define OSREL_MAX_VALUE 4096

void ecr__os_dispose(ecr__os *os)
{
	if (!os)
		return;
	ecr__free(os->id);
	ecr__free(os->version_id);
	ecr__free(os->pretty_name);
	memset(os, 0, sizeof(*os));
}

/* Unquote value[0..n) into a new string: quotes delimit, a backslash escapes the next character
 * (inside single quotes it is literal). Returns NULL with ECR_ENOMEM set on allocation failure. */
static char *unquote(const char *v, size_t n, int *rc)
{
	char *s;
	size_t o = 0;
	char quote = 0;

	if (n > OSREL_MAX_VALUE)
		n = OSREL_MAX_VALUE;
	if (!(s = ecr__malloc(n + 1))) {
		*rc = ECR_ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (quote == '\'') {
			if (c == '\'')
				quote = 0;
			else
				s[o++] = c;
		} else if (c == '\\' && i + 1 < n) {
			s[o++] = v[++i];
		} else if (quote == '"') {
			if (c == '"')
				quote = 0;
			else
				s[o++] = c;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == ' ' || c == '\t' || c == '#') {
			break; /* end of an unquoted word */
		} else {
			s[o++] = c;
		}
	}
	s[o] = '\0';
	return s;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

int ecr__osrelease_parse(ecr__os *out, const char *data, size_t len)
{
	ecr__os os = {0};
	size_t pos = 0;
	int rc = 0;

	if (!out || (!data && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid argument");
	memset(out, 0, sizeof(*out));
	while (pos < len) {
		const char *line = data + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		while (n && (line[0] == ' ' || line[0] == '\t'))
			line++, n--;
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (n == 0 || line[0] == '#' || memchr(line, '\0', n))
			continue;
		const char *eq = memchr(line, '=', n);
		if (!eq)
			continue;
		size_t kl = (size_t)(eq - line);
		char **slot = NULL;
		if (kl == 2 && memcmp(line, "ID", 2) == 0)
			slot = &os.id;
		else if (kl == 10 && memcmp(line, "VERSION_ID", 10) == 0)
			slot = &os.version_id;
		else if (kl == 11 && memcmp(line, "PRETTY_NAME", 11) == 0)
			slot = &os.pretty_name;
		if (!slot)
			continue;
		char *v = unquote(eq + 1, n - kl - 1, &rc);
		if (!v)
			goto done;
		ecr__free(*slot);
		*slot = v;
	}
	if (os.id && !*os.id) {
		ecr__free(os.id);
		os.id = NULL;
	}
	if (!os.id && !(os.id = ecr__strdup("linux"))) { /* os-release(5): ID defaults to "linux" */
		rc = ECR_ENOMEM;
		goto done;
	}
	lower(os.id);
	if (os.version_id && !*os.version_id) {
		ecr__free(os.version_id);
		os.version_id = NULL;
	}
	*out = os;
	memset(&os, 0, sizeof(os));
done:
	ecr__os_dispose(&os);
	return rc;
}

/* Leading decimal components of v: up to want numbers separated by dots. Returns how many were read. */
static int numbers(const char *v, unsigned long *nums, int want)
{
	int got = 0;
	const char *p = v;
	while (got < want && *p >= '0' && *p <= '9') {
		char *end;
		unsigned long x = strtoul(p, &end, 10);
		if (end - p > 9)
			break;
		nums[got++] = x;
		if (*end != '.')
			break;
		p = end + 1;
	}
	return got;
}

int ecr__os_ecosystem(char **ecosystem_out, ecr__pkg_format *format_out, const ecr__os *os)
{
	char buf[160];
	unsigned long nums[2] = {0, 0};
	ecr__pkg_format fmt;
	const char *id, *ver;
	int got;

	if (!ecosystem_out || !os || !os->id)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid argument");
	*ecosystem_out = NULL;
	id = os->id;
	ver = os->version_id ? os->version_id : "";
	got = numbers(ver, nums, 2);
	buf[0] = '\0';

	if (strcmp(id, "debian") == 0 && got >= 1) {
		fmt = ECR__PKG_DPKG;
		snprintf(buf, sizeof(buf), "Debian:%lu", nums[0]);
	} else if (strcmp(id, "ubuntu") == 0 && got == 2) {
		fmt = ECR__PKG_DPKG;
		bool lts = nums[0] % 2 == 0 && nums[1] == 4;
		snprintf(buf, sizeof(buf), "Ubuntu:%lu.%02lu%s", nums[0], nums[1], lts ? ":LTS" : "");
	} else if (strcmp(id, "alpine") == 0 && got == 2) {
		fmt = ECR__PKG_APK;
		snprintf(buf, sizeof(buf), "Alpine:v%lu.%lu", nums[0], nums[1]);
	} else if (strcmp(id, "wolfi") == 0) {
		fmt = ECR__PKG_APK;
		snprintf(buf, sizeof(buf), "Wolfi");
	} else if (strcmp(id, "chainguard") == 0) {
		fmt = ECR__PKG_APK;
		snprintf(buf, sizeof(buf), "Chainguard");
	} else if (strcmp(id, "rhel") == 0) {
		fmt = ECR__PKG_RPM;
		snprintf(buf, sizeof(buf), "Red Hat");
	} else if (strcmp(id, "rocky") == 0 && got >= 1) {
		fmt = ECR__PKG_RPM;
		snprintf(buf, sizeof(buf), "Rocky Linux:%lu", nums[0]);
	} else if (strcmp(id, "almalinux") == 0 && got >= 1) {
		fmt = ECR__PKG_RPM;
		snprintf(buf, sizeof(buf), "AlmaLinux:%lu", nums[0]);
	} else if (strcmp(id, "opensuse-leap") == 0 && got == 2) {
		fmt = ECR__PKG_RPM;
		snprintf(buf, sizeof(buf), "openSUSE:Leap %lu.%lu", nums[0], nums[1]);
	} else if (strcmp(id, "opensuse-tumbleweed") == 0) {
		fmt = ECR__PKG_RPM;
		snprintf(buf, sizeof(buf), "openSUSE:Tumbleweed");
	} else if (strcmp(id, "sles") == 0 && got >= 1) {
		fmt = ECR__PKG_RPM;
		if (got == 2 && nums[1] > 0)
			snprintf(buf, sizeof(buf), "SUSE:Linux Enterprise Server %lu SP%lu", nums[0], nums[1]);
		else
			snprintf(buf, sizeof(buf), "SUSE:Linux Enterprise Server %lu", nums[0]);
	} else {
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_INVALID, "unsupported operating system: %s %s", id,
		                 os->version_id ? os->version_id : "(no VERSION_ID)");
	}
	if (!(*ecosystem_out = ecr__strdup(buf)))
		return ECR_ENOMEM;
	if (format_out)
		*format_out = fmt;
	return 0;
}
