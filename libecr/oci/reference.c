/*
 * References: repository names, tags, digests and full references.
 *
 * Name (distribution-spec, "Pulling manifests"), full match of
 *   [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * i.e. path components joined by single '/', each a run of [a-z0-9]
 * separated by exactly one '.', one '_', two '_' or one or more '-'; plus
 * ECR's repositoryName length 2..256.
 *
 * Tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} (so 1..128 characters).
 *
 * Digest (image-spec descriptor.md "Digests"):
 *   digest              ::= algorithm ":" encoded
 *   algorithm           ::= algorithm-component (algorithm-separator algorithm-component)*
 *   algorithm-component ::= [a-z0-9]+
 *   algorithm-separator ::= [+._-]
 *   encoded             ::= [a-zA-Z0-9=_-]+
 * Registered algorithms restrict the encoded part: sha256 and blake3 need 64
 * lowercase hex characters, sha512 128. We support sha256 and sha512. A
 * registered algorithm with a wrong encoded part is ECR_EINVALID; a
 * grammatical digest with another algorithm (blake3 included) is
 * ECR_EUNSUPPORTED; anything else ECR_EINVALID.
 *
 * Reference: [host[:port]/]name[:tag][@digest]. The first '/'-separated
 * component is a host (Docker's rule) when more components follow and it
 * contains '.' or ':', is "localhost", or has an uppercase letter. A host is
 * DNS labels ([A-Za-z0-9] with inner '-') joined by '.', or an IPv6 address in
 * brackets, with an optional ":port" of 1..5 digits (<= 65535).
 */
#include "oci.h"

#include <stdio.h>

#define REFERENCE_MAX 1024 /* host, name, tag and digest together */
#define QUOTE_MAX 80

char *ecr__oci_quote(char *out, size_t outlen, const char *s, size_t len)
{
	size_t i, n = len;
	bool cut = false;

	if (outlen == 0)
		return out;
	if (!s)
		n = 0;
	if (n >= outlen) {
		cut = outlen > 4;
		n = cut ? outlen - 4 : outlen - 1;
	}
	for (i = 0; i < n; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (cut) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_sep(char c)
{
	return c == '.' || c == '_' || c == '-';
}

/* Check name[0..len); on failure set *reason (static) and return false. */
static bool name_grammar(const char *name, size_t len, const char **reason)
{
	size_t i = 0;

	while (i <= len) {
		/* one path component */
		if (i == len || name[i] == '/') {
			*reason = (i == 0 || i == len) ? "must not start or end with '/'" : "must not contain '//'";
			return false;
		}
		for (;;) {
			size_t start = i, n;

			if (!is_lower_alnum(name[i])) {
				if (name[i] >= 'A' && name[i] <= 'Z')
					*reason = "must be lowercase";
				else if (is_sep(name[i]))
					*reason = "components must start with [a-z0-9], not a separator";
				else
					*reason = "may contain only [a-z0-9], '.', '_', '-' and '/'";
				return false;
			}
			while (i < len && is_lower_alnum(name[i]))
				i++;
			if (i == len || name[i] == '/')
				break;
			start = i;
			while (i < len && is_sep(name[i]))
				i++;
			n = i - start;
			if (n == 0) {
				if (name[i] >= 'A' && name[i] <= 'Z')
					*reason = "must be lowercase";
				else
					*reason = "may contain only [a-z0-9], '.', '_', '-' and '/'";
				return false;
			}
			if (!(n == 1 || (n == 2 && name[start] == '_' && name[start + 1] == '_') ||
			      strspn(name + start, "-") >= n)) {
				*reason = "separators are one '.', one or two '_', or one or more '-'";
				return false;
			}
			if (i == len || name[i] == '/') {
				*reason = "components must end with [a-z0-9], not a separator";
				return false;
			}
		}
		if (i == len)
			return true;
		i++; /* the '/' */
	}
	return true;
}

static int validate_name_len(const char *name, size_t len)
{
	char q[QUOTE_MAX];
	const char *reason = NULL;

	if (len < 2)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
			"invalid repository name '%s': must be 2 to %d characters long",
			ecr__oci_quote(q, sizeof(q), name, len), ECR__OCI_NAME_MAX);
	if (len > ECR__OCI_NAME_MAX)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
			"invalid repository name '%s' (%zu characters): must be 2 to %d characters long",
			ecr__oci_quote(q, sizeof(q), name, len), len, ECR__OCI_NAME_MAX);
	if (memchr(name, '\0', len) != NULL || !name_grammar(name, len, &reason))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
			"invalid repository name '%s': %s (grammar: [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)* "
			"components joined by '/')",
			ecr__oci_quote(q, sizeof(q), name, len), reason ? reason : "contains a NUL byte");
	return 0;
}

bool ecr__oci_name_grammar_ok(const char *name, size_t len)
{
	const char *reason = NULL;
	return name_grammar(name, len, &reason);
}

bool ecr__oci_prefix_ok(const char *prefix)
{
	size_t n = strlen(prefix);
	if (strcmp(prefix, "ROOT") == 0)
		return true;
	if (n && prefix[n - 1] == '/')
		n--;
	return ecr__oci_name_grammar_ok(prefix, n);
}

int ecr__oci_validate_name(const char *name)
{
	if (!name)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "invalid repository name: NULL");
	return validate_name_len(name, strlen(name));
}

static int validate_tag_len(const char *tag, size_t len)
{
	char q[QUOTE_MAX];
	size_t i;

	if (len == 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "invalid tag: empty");
	if (len > ECR__OCI_TAG_MAX)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
			"invalid tag '%s' (%zu characters): at most %d characters ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})",
			ecr__oci_quote(q, sizeof(q), tag, len), len, ECR__OCI_TAG_MAX);
	if (!(is_alnum(tag[0]) || tag[0] == '_'))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
			"invalid tag '%s': must start with [a-zA-Z0-9_] ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})",
			ecr__oci_quote(q, sizeof(q), tag, len));
	for (i = 1; i < len; i++)
		if (!(is_alnum(tag[i]) || is_sep(tag[i])))
			return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
				"invalid tag '%s': may contain only [a-zA-Z0-9._-] ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})",
				ecr__oci_quote(q, sizeof(q), tag, len));
	return 0;
}

int ecr__oci_validate_tag(const char *tag)
{
	if (!tag)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "invalid tag: NULL");
	return validate_tag_len(tag, strlen(tag));
}

int ecr__oci_check_digest(const char *digest, size_t len, ecr__digest_alg *alg_out, const char **reason)
{
	const char *colon, *enc;
	size_t alg_len, enc_len, i, want = 0;
	const char *dummy;
	ecr__digest_alg alg = ECR__DIGEST_SHA256;
	bool known = true;

	if (!reason)
		reason = &dummy;
	if (!digest || len == 0) {
		*reason = "empty";
		return ECR_EINVALID;
	}
	colon = memchr(digest, ':', len);
	if (!colon) {
		*reason = "missing ':' between algorithm and encoded part";
		return ECR_EINVALID;
	}
	alg_len = (size_t)(colon - digest);
	enc = colon + 1;
	enc_len = len - alg_len - 1;

	/* algorithm ::= [a-z0-9]+ ([+._-] [a-z0-9]+)* */
	if (alg_len == 0) {
		*reason = "empty algorithm";
		return ECR_EINVALID;
	}
	for (i = 0; i < alg_len; i++) {
		char c = digest[i];
		if (is_lower_alnum(c))
			continue;
		if (c == '+' || c == '.' || c == '_' || c == '-') {
			if (i == 0 || i + 1 == alg_len || !is_lower_alnum(digest[i + 1])) {
				*reason = "algorithm separators [+._-] must sit between [a-z0-9] runs";
				return ECR_EINVALID;
			}
			continue;
		}
		*reason = "algorithm may contain only [a-z0-9+._-]";
		return ECR_EINVALID;
	}
	/* encoded ::= [a-zA-Z0-9=_-]+ */
	if (enc_len == 0) {
		*reason = "empty encoded part";
		return ECR_EINVALID;
	}
	for (i = 0; i < enc_len; i++) {
		char c = enc[i];
		if (!(is_alnum(c) || c == '=' || c == '_' || c == '-')) {
			*reason = "encoded part may contain only [a-zA-Z0-9=_-]";
			return ECR_EINVALID;
		}
	}

	if (alg_len == 6 && memcmp(digest, "sha256", 6) == 0) {
		want = 64;
	} else if (alg_len == 6 && memcmp(digest, "sha512", 6) == 0) {
		want = 128;
		alg = ECR__DIGEST_SHA512;
	} else if (alg_len == 6 && memcmp(digest, "blake3", 6) == 0) {
		want = 64;
		known = false;
	} else {
		*reason = "unsupported digest algorithm (sha256 and sha512 are supported)";
		return ECR_EUNSUPPORTED;
	}
	for (i = 0; i < enc_len; i++) {
		if (!is_hex_lower(enc[i])) {
			*reason = (enc[i] >= 'A' && enc[i] <= 'F') ? "hex must be lowercase"
			                                           : "encoded part must be lowercase hex";
			return ECR_EINVALID;
		}
	}
	if (enc_len != want) {
		*reason = want == 64 ? "wrong length (64 hex characters expected)"
		                     : "wrong length (128 hex characters expected)";
		return ECR_EINVALID;
	}
	if (!known) {
		*reason = "unsupported digest algorithm (sha256 and sha512 are supported)";
		return ECR_EUNSUPPORTED;
	}
	if (alg_out)
		*alg_out = alg;
	return 0;
}

static int validate_digest_len(const char *digest, size_t len, ecr__digest_alg *alg_out)
{
	char q[QUOTE_MAX];
	const char *reason = NULL;
	int rc = ecr__oci_check_digest(digest, len, alg_out, &reason);

	if (rc < 0)
		return ecr__fail(rc, ECR_ERROR_OCI, "invalid digest '%s': %s", ecr__oci_quote(q, sizeof(q), digest, len),
			reason);
	return 0;
}

int ecr__oci_validate_digest(const char *digest, ecr__digest_alg *alg_out)
{
	if (!digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "invalid digest: NULL");
	return validate_digest_len(digest, strlen(digest), alg_out);
}

bool ecr__oci_is_digest(const char *s)
{
	return s && strchr(s, ':') != NULL;
}

/* host ::= (label ("." label)* | "[" [0-9A-Fa-f:]+ "]") (":" [0-9]{1,5})? */
static int validate_host(const char *host, size_t len)
{
	char q[QUOTE_MAX];
	size_t i = 0;

	if (len > 0 && host[0] == '[') {
		size_t start = ++i;
		while (i < len && (is_hex_lower(host[i]) || (host[i] >= 'A' && host[i] <= 'F') || host[i] == ':'))
			i++;
		if (i == start || i >= len || host[i] != ']')
			goto bad;
		i++;
	} else {
		for (;;) {
			size_t start = i;
			while (i < len && (is_alnum(host[i]) || host[i] == '-'))
				i++;
			if (i == start || i - start > 63 || host[start] == '-' || host[i - 1] == '-')
				goto bad;
			if (i < len && host[i] == '.') {
				i++;
				continue;
			}
			break;
		}
		if (i > 255)
			goto bad;
	}
	if (i < len) {
		size_t start, port = 0;
		if (host[i] != ':')
			goto bad;
		start = ++i;
		while (i < len && host[i] >= '0' && host[i] <= '9' && i - start < 5)
			port = port * 10 + (size_t)(host[i++] - '0');
		if (i == start || i != len || port > 65535)
			goto bad;
	}
	return 0;
bad:
	return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI,
		"invalid reference: bad registry host '%s' (host[:port], host is DNS labels or [IPv6])",
		ecr__oci_quote(q, sizeof(q), host, len));
}

static bool first_component_is_host(const char *s, size_t len)
{
	size_t i;

	if (len == 9 && memcmp(s, "localhost", 9) == 0)
		return true;
	for (i = 0; i < len; i++)
		if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
			return true;
	return false;
}

void ecr__oci_reference_dispose(ecr__oci_reference *ref)
{
	if (!ref)
		return;
	ecr__free(ref->host);
	ecr__free(ref->name);
	ecr__free(ref->tag);
	ecr__free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

int ecr__oci_reference_parse(ecr__oci_reference *out, const char *ref)
{
	ecr__oci_reference r = { 0 };
	const char *at, *slash, *colon, *name, *name_end;
	size_t len;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "invalid reference: no output");
	memset(out, 0, sizeof(*out));
	if (!ref || !*ref)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "invalid reference: empty");
	len = strlen(ref);
	if (len > REFERENCE_MAX)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "invalid reference: longer than %d characters",
			REFERENCE_MAX);

	/* @digest */
	at = strchr(ref, '@');
	name_end = at ? at : ref + len;
	if (at) {
		if ((rc = validate_digest_len(at + 1, len - (size_t)(at + 1 - ref), NULL)) < 0)
			goto done;
		if (!(r.digest = ecr__strdup(at + 1))) {
			rc = ECR_ENOMEM;
			goto done;
		}
	}

	/* host/ */
	name = ref;
	slash = memchr(ref, '/', (size_t)(name_end - ref));
	if (slash && first_component_is_host(ref, (size_t)(slash - ref))) {
		if ((rc = validate_host(ref, (size_t)(slash - ref))) < 0)
			goto done;
		if (!(r.host = ecr__strndup(ref, (size_t)(slash - ref)))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		name = slash + 1;
	}

	/* :tag, after the last '/' */
	slash = NULL;
	for (colon = name; colon < name_end; colon++)
		if (*colon == '/')
			slash = colon;
	colon = memchr(slash ? slash : name, ':', (size_t)(name_end - (slash ? slash : name)));
	if (colon) {
		if ((rc = validate_tag_len(colon + 1, (size_t)(name_end - colon - 1))) < 0)
			goto done;
		if (!(r.tag = ecr__strndup(colon + 1, (size_t)(name_end - colon - 1)))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		name_end = colon;
	}

	if ((rc = validate_name_len(name, (size_t)(name_end - name))) < 0)
		goto done;
	if (!(r.name = ecr__strndup(name, (size_t)(name_end - name)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	*out = r;
	memset(&r, 0, sizeof(r));
	rc = 0;
done:
	ecr__oci_reference_dispose(&r);
	return rc;
}
