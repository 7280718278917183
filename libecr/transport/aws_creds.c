/*
 * AWS credentials and region, found as the AWS CLI finds them: explicit
 * options, the environment, then the shared credentials file and the config
 * file of the profile.
 */
#include <pthread.h>

#include "http_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (1024 * 1024)

/* What one profile section holds (each allocated, or NULL). */
typedef struct profile_values {
	bool found; /* the section exists */
	char *access_key_id;
	char *secret_access_key;
	char *session_token;
	char *region;
} profile_values;

static void profile_values_dispose(profile_values *v)
{
	ecr__free(v->access_key_id);
	if (v->secret_access_key) {
		memset(v->secret_access_key, 0, strlen(v->secret_access_key));
		ecr__free(v->secret_access_key);
	}
	ecr__free(v->session_token);
	ecr__free(v->region);
	memset(v, 0, sizeof(*v));
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static bool opts_v3(const ecr_registry_options *opts)
{
	return opts && opts->version >= 3;
}

static const char *profile_name(const ecr_registry_options *opts)
{
	if (opts_v3(opts) && opts->profile && *opts->profile)
		return opts->profile;
	const char *p = env("AWS_PROFILE");
	return p ? p : "default";
}

/* A file's path from an environment variable or $HOME/<home_rel> ("~/" expanded); NULL when there is none. */
static int file_path(char **out, const char *var, const char *home_rel)
{
	ecr_buf b = ECR_BUF_INIT;
	const char *v = env(var), *home = env("HOME");
	int rc = 0;
	*out = NULL;
	if (v && v[0] == '~' && v[1] == '/') {
		if (!home)
			return 0;
		rc = ecr__buf_printf(&b, "%s%s", home, v + 1);
	} else if (v) {
		rc = ecr__buf_puts(&b, v);
	} else {
		if (!home)
			return 0;
		rc = ecr__buf_printf(&b, "%s/%s", home, home_rel);
	}
	if (rc) {
		ecr_buf_dispose(&b);
		return rc;
	}
	*out = b.ptr; /* ecr_buf memory comes from ecr__malloc */
	return 0;
}

/* Read a whole file, at most MAX_FILE bytes; *out NULL when it does not exist. */
static int read_small_file(ecr_buf *out, const char *path, bool *exists)
{
	char chunk[8192];
	int rc = 0;
	*exists = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return ecr__fail_os(ECR_EIO, errno, "cannot open %s", path);
	}
	*exists = true;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ecr__fail_os(ECR_EIO, errno, "cannot read %s", path);
			break;
		}
		if (n == 0)
			break;
		if (out->size + (size_t)n > MAX_FILE) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s is larger than 1 MiB", path);
			break;
		}
		if ((rc = ecr__buf_put(out, chunk, (size_t)n)))
			break;
	}
	close(fd);
	return rc;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* [s, e) trimmed of blanks. */
static void trim(const char **s, const char **e)
{
	while (*s < *e && is_blank(**s))
		(*s)++;
	while (*e > *s && is_blank((*e)[-1]))
		(*e)--;
}

/* Does the header [s, e) (without brackets, trimmed) name the profile? */
static bool section_matches(const char *s, const char *e, const char *profile, bool config)
{
	size_t len = (size_t)(e - s), plen = strlen(profile);
	if (config) {
		/* the config file: [default] or [profile name] */
		if (strcmp(profile, "default") == 0 && len == 7 && memcmp(s, "default", 7) == 0)
			return true;
		if (len < 8 || memcmp(s, "profile", 7) != 0 || !is_blank(s[7]))
			return false;
		s += 8;
		while (s < e && is_blank(*s))
			s++;
		len = (size_t)(e - s);
	}
	return len == plen && memcmp(s, profile, plen) == 0;
}

static int set_value(char **dst, const char *s, const char *e)
{
	char *v = ecr__malloc((size_t)(e - s) + 1);
	if (!v)
		return ECR_ENOMEM;
	memcpy(v, s, (size_t)(e - s));
	v[e - s] = '\0';
	ecr__free(*dst);
	*dst = v;
	return 0;
}

/*
 * Parse an INI file (sections "[name]", "key = value" or "key: value", full-line
 * comments with # or ;, keys case-insensitive, a line indented deeper than
 * the key before continues that key's (nested) value and is skipped) and take
 * the values of the profile's section.
 */
static int parse_ini(profile_values *v, const char *text, size_t len, const char *profile, bool config,
	const char *path)
{
	const char *p = text, *end = text + len;
	bool in = false, have_key = false;
	size_t key_indent = 0;
	unsigned long line = 0;
	int rc;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *s = p, *e = nl ? nl : end;
		p = nl ? nl + 1 : end;
		line++;
		if (memchr(s, '\0', (size_t)(e - s)))
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s:%lu: NUL byte", path, line);
		const char *first = s;
		trim(&s, &e);
		size_t indent = (size_t)(s - first);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *close = memchr(s, ']', (size_t)(e - s));
			if (!close)
				return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s:%lu: unterminated section header",
					path, line);
			const char *ns = s + 1, *ne = close;
			trim(&ns, &ne);
			in = section_matches(ns, ne, profile, config);
			have_key = false;
			if (in)
				v->found = true;
			continue;
		}
		if (have_key && indent > key_indent)
			continue; /* continues the key before: a nested value ("s3 =" and indented lines) */
		const char *eq = s;
		while (eq < e && *eq != '=' && *eq != ':')
			eq++;
		if (eq == e)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s:%lu: expected 'key = value'", path, line);
		have_key = true;
		key_indent = indent;
		if (!in)
			continue;
		const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
		trim(&ks, &ke);
		trim(&vs, &ve);
		size_t kl = (size_t)(ke - ks);
		char **dst = NULL;
		if (kl == 17 && strncasecmp(ks, "aws_access_key_id", kl) == 0)
			dst = &v->access_key_id;
		else if (kl == 21 && strncasecmp(ks, "aws_secret_access_key", kl) == 0)
			dst = &v->secret_access_key;
		else if ((kl == 17 && strncasecmp(ks, "aws_session_token", kl) == 0) ||
			 (kl == 18 && strncasecmp(ks, "aws_security_token", kl) == 0))
			dst = &v->session_token;
		else if (kl == 6 && strncasecmp(ks, "region", kl) == 0)
			dst = &v->region;
		if (dst && vs < ve && (rc = set_value(dst, vs, ve)))
			return rc;
	}
	return 0;
}

/* The profile's section of a file (v->found false when the file or the section is missing). */
static int load_profile(profile_values *v, const char *var, const char *home_rel, const char *profile, bool config)
{
	char *path = NULL;
	ecr_buf text = ECR_BUF_INIT;
	bool exists = false;
	int rc = file_path(&path, var, home_rel);
	if (rc || !path)
		return rc;
	if ((rc = read_small_file(&text, path, &exists)) || !exists)
		goto done;
	rc = parse_ini(v, text.ptr ? text.ptr : "", text.size, profile, config, path);
done:
	if (text.ptr)
		memset(text.ptr, 0, text.size);
	ecr_buf_dispose(&text);
	ecr__free(path);
	return rc;
}

static int take(ecr__aws_creds *out, const char *id, const char *secret, const char *token)
{
	if (!(out->access_key_id = ecr__strdup(id)) || !(out->secret_access_key = ecr__strdup(secret)) ||
	    (token && *token && !(out->session_token = ecr__strdup(token)))) {
		ecr__aws_creds_dispose(out);
		return ECR_ENOMEM;
	}
	return 0;
}

/* Credentials from a profile's section: 1 none there, 0 taken, or an error for a half-filled section. */
static int from_profile(ecr__aws_creds *out, const profile_values *v, const char *profile, const char *what)
{
	if (!v->access_key_id && !v->secret_access_key)
		return 1;
	if (!v->access_key_id || !v->secret_access_key)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "profile '%s' of the %s lacks %s", profile, what,
			v->access_key_id ? "aws_secret_access_key" : "aws_access_key_id");
	return take(out, v->access_key_id, v->secret_access_key, v->session_token);
}

int ecr__aws_creds_resolve(ecr__aws_creds *out, const ecr_registry_options *opts)
{
	profile_values v = { 0 };
	int rc;
	memset(out, 0, sizeof(*out));

	/* 1. the options */
	if (opts_v3(opts) && (opts->access_key_id || opts->secret_access_key)) {
		if (!opts->access_key_id || !*opts->access_key_id || !opts->secret_access_key ||
		    !*opts->secret_access_key)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
				"access_key_id and secret_access_key go together");
		return take(out, opts->access_key_id, opts->secret_access_key, opts->session_token);
	}

	/* 2. the environment (not when a profile was asked for explicitly, as the AWS CLI's --profile) */
	bool explicit_profile = opts_v3(opts) && opts->profile && *opts->profile;
	if (!explicit_profile) {
		const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
		if (id && secret)
			return take(out, id, secret, env("AWS_SESSION_TOKEN"));
		if (id || secret)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s is set but %s is not",
				id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	}

	/* 3. the shared credentials file, 4. the config file */
	const char *profile = profile_name(opts);
	rc = load_profile(&v, "AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", profile, false);
	if (!rc)
		rc = from_profile(out, &v, profile, "shared credentials file");
	profile_values_dispose(&v);
	if (rc <= 0)
		return rc;
	rc = load_profile(&v, "AWS_CONFIG_FILE", ".aws/config", profile, true);
	if (!rc)
		rc = from_profile(out, &v, profile, "config file");
	profile_values_dispose(&v);
	return rc < 0 ? rc : 0;
}

void ecr__aws_creds_dispose(ecr__aws_creds *c)
{
	if (!c)
		return;
	ecr__free(c->access_key_id);
	if (c->secret_access_key) {
		memset(c->secret_access_key, 0, strlen(c->secret_access_key));
		ecr__free(c->secret_access_key);
	}
	ecr__free(c->session_token);
	memset(c, 0, sizeof(*c));
}

char *ecr__aws_region_default(const ecr_registry_options *opts)
{
	const char *r = env("AWS_REGION");
	if (!r)
		r = env("AWS_DEFAULT_REGION");
	if (r)
		return ecr__strdup(r);
	profile_values v = { 0 };
	char *region = NULL;
	if (load_profile(&v, "AWS_CONFIG_FILE", ".aws/config", profile_name(opts), true) == 0 && v.region) {
		region = v.region;
		v.region = NULL;
	} else {
		ecr__error_clear(); /* an unreadable config file only means: no default region */
	}
	profile_values_dispose(&v);
	return region;
}
