/*
 * Pull-through cache rules and upstream credentials (ecr/cache.h, ptc.h).
 *
 * A rule is stored as a normalised JSON document in pull_through_cache_rules
 * (keys in a fixed order: ecrRepositoryPrefix, upstreamRegistryUrl, then
 * upstreamRegistry, credentialArn, customRoleArn, upstreamRepositoryPrefix
 * when set), its times in the row. The prefix is kept without a trailing '/'
 * ("ecr-public/" and "ecr-public" are the same rule, as in ECR). Upstream
 * URLs are http(s)://host[:port]; a bare host[:port] (ECR's own form, e.g.
 * "registry-1.docker.io") means https://. Unlike ECR, any OCI registry is
 * accepted as upstream.
 *
 * Credentials (username, secret) live in the credentials table under a
 * Secrets Manager-shaped ARN of the registry's own account and region. The
 * secret is never logged, never put in an error message, and never
 * returned by any function but ecr__ptc_rule_match (for the cache).
 */
#include "../core/core.h"

#include <ctype.h>

#include "../core/json.h"
#include "../core/timeutil.h"
#include "../oci/oci.h"
#include "../remote/remote.h"
#include "../storage/meta_ptc.h"
#include "ptc.h"

#include "ecr/cache.h"

#define PTC_RULES_MAX 50
#define PREFIX_MIN 2
#define PREFIX_MAX 30
#define URL_MAX 2048
#define ROLE_ARN_MAX 2048
#define CRED_ARN_MIN 50
#define CRED_ARN_MAX 612
#define USERNAME_MAX 1024
#define SECRET_MAX 65536
#define VALIDATE_TIMEOUT_MS 10000

#define PREFIX_PATTERN                                                                                         \
	"^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\\/?|ROOT)$"
#define CRED_ARN_PATTERN                                                                                       \
	"^arn:aws(-\\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\\-pullthroughcache\\/[a-zA-Z0-9\\/_+=.@-]+$"

static const char *const upstream_registries[] = {"ecr",
                                                   "ecr-public",
                                                   "quay",
                                                   "k8s",
                                                   "docker-hub",
                                                   "github-container-registry",
                                                   "azure-container-registry",
                                                   "gitlab-container-registry",
                                                   "chainguard"};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		ecr__free(s);
	}
}

/* --- validation --- */

/* ecr__ptc_has_rules's answers are kept PTC_RULES_KNOWN_MS (see there); a rule write of this process changes the
 * generation, which forgets them at once. */
#define PTC_RULES_KNOWN_MS 1000
static _Atomic uint32_t rules_generation;

static void rules_changed(void) { rules_generation++; }

static int validation_pattern(const char *field, const char *value, const char *pattern)
{
	return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
		"1 validation error detected: Value '%.100s' at '%s' failed to satisfy constraint: Member must satisfy "
		"regular expression pattern: %s",
		value, field, pattern);
}

static int validation_length(const char *field, const char *value, size_t min, size_t max)
{
	if (!min)
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
			"1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have "
			"length less than or equal to %zu",
			field, max);
	return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
		"1 validation error detected: Value '%.100s' at '%s' failed to satisfy constraint: Member must have "
		"length between %zu and %zu",
		value, field, min, max);
}

/* Check a prefix and return it normalised (no trailing '/') in *out (ecr__free). */
static int prefix_normalise(char **out, const char *field, const char *s)
{
	size_t n = strlen(s);
	*out = NULL;
	if (n < PREFIX_MIN || n > PREFIX_MAX)
		return validation_length(field, s, PREFIX_MIN, PREFIX_MAX);
	if (!ecr__oci_prefix_ok(s))
		return validation_pattern(field, s, PREFIX_PATTERN);
	if (s[n - 1] == '/')
		n--;
	*out = ecr__strndup(s, n);
	return *out ? 0 : ECR_ENOMEM;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
	       c == '_';
}

/* http(s)://host[:port][/] or host[:port][/] (https) -> "scheme://host[:port]" in out. */
static int url_normalise(ecr_buf *out, const char *url)
{
	const char *scheme = "https", *p = url;
	size_t n = strlen(url);
	if (n == 0 || n > URL_MAX)
		goto bad;
	if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		scheme = "http";
		p = url + 7;
	} else if (strstr(url, "://")) {
		goto bad;
	}
	const char *host = p;
	if (*p == '[') {
		p++;
		while (*p && (host_char(*p) || *p == ':'))
			p++;
		if (*p != ']' || p == host + 1)
			goto bad;
		p++;
	} else {
		while (*p && host_char(*p))
			p++;
		if (p == host)
			goto bad;
	}
	size_t host_len = (size_t)(p - host);
	unsigned long port = 0;
	if (*p == ':') {
		const char *d = ++p;
		while (*p >= '0' && *p <= '9' && p - d < 6)
			port = port * 10 + (unsigned long)(*p++ - '0');
		if (p == d || port == 0 || port > 65535)
			goto bad;
	}
	if (*p == '/')
		p++;
	if (*p)
		goto bad;
	if (port)
		return ecr__buf_printf(out, "%s://%.*s:%lu", scheme, (int)host_len, host, port);
	return ecr__buf_printf(out, "%s://%.*s", scheme, (int)host_len, host);
bad:
	return ecr__fail(ECR_EUNSUPPORTED_UPSTREAM, ECR_ERROR_INVALID,
		"The upstream registry URL '%.200s' is not supported: expected http(s)://host[:port] of an OCI "
		"Distribution registry",
		url);
}

static bool cred_arn_pattern_ok(const char *arn)
{
	static const char prefix[] = "arn:aws";
	const char *p;
	if (strncmp(arn, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p = arn + sizeof(prefix) - 1;
	while (*p == '-') {
		p++;
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return false;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
	}
	if (strncmp(p, ":secretsmanager:", 16) != 0)
		return false;
	p += 16;
	const char *mid = strstr(p, ":secret:ecr-pullthroughcache/");
	if (!mid || mid == p)
		return false;
	for (const char *q = p; q < mid; q++)
		if (!(isalnum((unsigned char)*q) || *q == '-' || *q == ':'))
			return false;
	p = mid + strlen(":secret:ecr-pullthroughcache/");
	if (!*p)
		return false;
	for (; *p; p++)
		if (!(isalnum((unsigned char)*p) || strchr("/_+=.@-", *p)))
			return false;
	return true;
}

static int cred_arn_check(const char *arn)
{
	size_t n = strlen(arn);
	if (n < CRED_ARN_MIN || n > CRED_ARN_MAX)
		return validation_length("credentialArn", arn, CRED_ARN_MIN, CRED_ARN_MAX);
	if (!cred_arn_pattern_ok(arn))
		return validation_pattern("credentialArn", arn, CRED_ARN_PATTERN);
	return 0;
}

/* The ARN names the registry's own region and account (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:...). */
static int cred_arn_check_registry(const ecr_registry *reg, const char *arn)
{
	const char *p = strstr(arn, ":secretsmanager:");
	size_t rl = strlen(reg->region), al = strlen(reg->account_id);
	p = p ? p + 16 : NULL;
	if (p && strncmp(p, reg->region, rl) == 0 && p[rl] == ':' && strncmp(p + rl + 1, reg->account_id, al) == 0 &&
	    p[rl + 1 + al] == ':')
		return 0;
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		"Invalid parameter at 'credentialArn' failed to satisfy constraint: 'the secret must be in the "
		"registry's region %s and account %s'",
		reg->region, reg->account_id);
}

/* --- rule documents --- */

typedef struct rule_fields {
	char *prefix;            /* normalised */
	char *url;               /* normalised */
	char *upstream_registry; /* or NULL */
	char *credential_arn;    /* or NULL */
	char *role_arn;          /* or NULL */
	char *upstream_prefix;   /* normalised, or NULL */
} rule_fields;

static void rule_fields_dispose(rule_fields *f)
{
	ecr__free(f->prefix);
	ecr__free(f->url);
	ecr__free(f->upstream_registry);
	ecr__free(f->credential_arn);
	ecr__free(f->role_arn);
	ecr__free(f->upstream_prefix);
	memset(f, 0, sizeof(*f));
}

static int dup_member(char **out, const ecr__json *doc, const char *key)
{
	const char *s = ecr__json_get_string(doc, key);
	ecr__free(*out);
	*out = NULL;
	if (!s)
		return 0;
	*out = ecr__strdup(s);
	return *out ? 0 : ECR_ENOMEM;
}

/* Read a stored (already valid) document. */
static int rule_fields_from_doc(rule_fields *f, const char *document)
{
	ecr__json *doc = NULL;
	int rc = ecr__json_parse(&doc, document, strlen(document), NULL);
	memset(f, 0, sizeof(*f));
	if (rc)
		return rc;
	if ((rc = dup_member(&f->prefix, doc, "ecrRepositoryPrefix")) ||
	    (rc = dup_member(&f->url, doc, "upstreamRegistryUrl")) ||
	    (rc = dup_member(&f->upstream_registry, doc, "upstreamRegistry")) ||
	    (rc = dup_member(&f->credential_arn, doc, "credentialArn")) ||
	    (rc = dup_member(&f->role_arn, doc, "customRoleArn")) ||
	    (rc = dup_member(&f->upstream_prefix, doc, "upstreamRepositoryPrefix")))
		goto done;
	if (!f->prefix || !f->url)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "a stored pull through cache rule has no prefix or URL");
done:
	ecr__json_free(doc);
	if (rc)
		rule_fields_dispose(f);
	return rc;
}

static int write_opt(ecr__jw *w, const char *key, const char *value)
{
	int rc = 0;
	if (value && !(rc = ecr__jw_key(w, key)))
		rc = ecr__jw_string(w, value);
	return rc;
}

static int rule_doc_write(ecr_buf *out, const rule_fields *f)
{
	ecr__jw *w = NULL;
	int rc = ecr__jw_new(&w);
	if (rc)
		return rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = write_opt(w, "ecrRepositoryPrefix", f->prefix)) ||
	    (rc = write_opt(w, "upstreamRegistryUrl", f->url)) ||
	    (rc = write_opt(w, "upstreamRegistry", f->upstream_registry)) ||
	    (rc = write_opt(w, "credentialArn", f->credential_arn)) || (rc = write_opt(w, "customRoleArn", f->role_arn)) ||
	    (rc = write_opt(w, "upstreamRepositoryPrefix", f->upstream_prefix)) || (rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__jw_finish(w, out);
done:
	ecr__jw_free(w);
	return rc;
}

static int write_time(ecr__jw *w, const char *key, int64_t ms)
{
	int rc = ecr__jw_key(w, key);
	return rc ? rc : ecr__jw_double(w, (double)ms / 1000.0);
}

/* The rule as ECR returns it (PullThroughCacheRule). */
static int rule_write(ecr__jw *w, const ecr_registry *reg, const ecr__meta_ptc_rule *row)
{
	rule_fields f;
	int rc = rule_fields_from_doc(&f, row->document);
	if (rc)
		return rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = write_opt(w, "ecrRepositoryPrefix", f.prefix)) ||
	    (rc = write_opt(w, "upstreamRegistryUrl", f.url)) || (rc = write_time(w, "createdAt", row->created_at)) ||
	    (rc = write_time(w, "updatedAt", row->updated_at)) || (rc = write_opt(w, "registryId", reg->account_id)) ||
	    (rc = write_opt(w, "upstreamRegistry", f.upstream_registry)) ||
	    (rc = write_opt(w, "credentialArn", f.credential_arn)) || (rc = write_opt(w, "customRoleArn", f.role_arn)) ||
	    (rc = write_opt(w, "upstreamRepositoryPrefix", f.upstream_prefix)))
		goto done;
	rc = ecr__jw_object_close(w);
done:
	rule_fields_dispose(&f);
	return rc;
}

static int rule_to_buf(ecr_buf *out, const ecr_registry *reg, const ecr__meta_ptc_rule *row)
{
	ecr__jw *w = NULL;
	int rc = ecr__jw_new(&w);
	if (!rc && !(rc = rule_write(w, reg, row)))
		rc = ecr__jw_finish(w, out);
	ecr__jw_free(w);
	return rc;
}

/* A string member (NULL when absent); ECR_EINVALID for another type. */
static int get_str(const char **out, const ecr__json *doc, const char *key)
{
	const ecr__json *v = ecr__json_get(doc, key);
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_STRING || strlen(v->string) != v->length)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "'%s' must be a string", key);
	*out = v->string;
	return 0;
}

/* Parse and check the input of put (create or update) into f (prefix, and the members given). */
static int input_parse(rule_fields *f, const char *json, int create)
{
	static const char *const create_keys[] = {"ecrRepositoryPrefix", "upstreamRegistryUrl", "upstreamRegistry",
	                                          "credentialArn", "customRoleArn", "upstreamRepositoryPrefix",
	                                          "registryId"};
	static const char *const update_keys[] = {"ecrRepositoryPrefix", "credentialArn", "customRoleArn",
	                                          "upstreamRepositoryPrefix", "registryId"};
	const char *const *keys = create ? create_keys : update_keys;
	size_t nkeys = create ? sizeof(create_keys) / sizeof(create_keys[0]) : sizeof(update_keys) / sizeof(update_keys[0]);
	ecr__json *doc = NULL;
	const char *prefix, *url, *ureg, *cred, *role, *uprefix;
	ecr_buf nurl = ECR_BUF_INIT;
	int rc;

	memset(f, 0, sizeof(*f));
	if ((rc = ecr__json_parse(&doc, json, strlen(json), NULL)))
		goto done;
	if (doc->type != ECR__JSON_OBJECT) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "a pull through cache rule must be a JSON object");
		goto done;
	}
	for (size_t i = 0; i < doc->count; i++) {
		size_t k = 0;
		while (k < nkeys && strcmp(doc->keys[i], keys[k]) != 0)
			k++;
		if (k == nkeys) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "'%.64s' is not a member of %s", doc->keys[i],
				create ? "CreatePullThroughCacheRule" : "UpdatePullThroughCacheRule");
			goto done;
		}
	}
	if ((rc = get_str(&prefix, doc, "ecrRepositoryPrefix")) || (rc = get_str(&url, doc, "upstreamRegistryUrl")) ||
	    (rc = get_str(&ureg, doc, "upstreamRegistry")) || (rc = get_str(&cred, doc, "credentialArn")) ||
	    (rc = get_str(&role, doc, "customRoleArn")) || (rc = get_str(&uprefix, doc, "upstreamRepositoryPrefix")))
		goto done;
	if (!prefix) {
		rc = ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
			"1 validation error detected: Value null at 'ecrRepositoryPrefix' failed to satisfy constraint: "
			"Member must not be null");
		goto done;
	}
	if ((rc = prefix_normalise(&f->prefix, "ecrRepositoryPrefix", prefix)))
		goto done;
	if (create && !url) {
		rc = ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
			"1 validation error detected: Value null at 'upstreamRegistryUrl' failed to satisfy constraint: "
			"Member must not be null");
		goto done;
	}
	if (ureg) {
		size_t k = 0, n = sizeof(upstream_registries) / sizeof(upstream_registries[0]);
		while (k < n && strcmp(ureg, upstream_registries[k]) != 0)
			k++;
		if (k == n) {
			rc = ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
				"1 validation error detected: Value '%.64s' at 'upstreamRegistry' failed to satisfy "
				"constraint: Member must satisfy enum value set: [ecr, ecr-public, quay, k8s, docker-hub, "
				"github-container-registry, azure-container-registry, gitlab-container-registry, chainguard]",
				ureg);
			goto done;
		}
		if (!(f->upstream_registry = ecr__strdup(ureg))) {
			rc = ECR_ENOMEM;
			goto done;
		}
	}
	if (cred && ((rc = cred_arn_check(cred)) || !(f->credential_arn = ecr__strdup(cred)))) {
		rc = rc ? rc : ECR_ENOMEM;
		goto done;
	}
	if (role) {
		if (strlen(role) > ROLE_ARN_MAX) {
			rc = validation_length("customRoleArn", role, 0, ROLE_ARN_MAX);
			goto done;
		}
		if (!(f->role_arn = ecr__strdup(role))) {
			rc = ECR_ENOMEM;
			goto done;
		}
	}
	if (uprefix && (rc = prefix_normalise(&f->upstream_prefix, "upstreamRepositoryPrefix", uprefix)))
		goto done;
	if (url) {
		if ((rc = url_normalise(&nurl, url)))
			goto done;
		f->url = ecr__buf_detach(&nurl);
		if (!f->url)
			rc = ECR_ENOMEM;
	}
done:
	ecr_buf_dispose(&nurl);
	ecr__json_free(doc);
	if (rc)
		rule_fields_dispose(f);
	return rc;
}

static int credential_exists(ecr__txn *t, ecr_registry *reg, const char *arn)
{
	int rc = ecr__meta_credential_get(t, reg->id, arn, NULL, NULL);
	if (rc == ECR_ENOTFOUND)
		return ecr__fail(ECR_ESECRET_NOT_FOUND, ECR_ERROR_INVALID,
			"The specified secret '%.640s' does not exist (add it with ecr_registry_put_credential or "
			"`ecrd credential add`)",
			arn);
	return rc;
}

static int rule_not_found(const ecr_registry *reg, const char *prefix)
{
	return ecr__fail(ECR_EPTC_RULE_NOT_FOUND, ECR_ERROR_INVALID,
		"The pull through cache rule with the repository prefix '%s' does not exist in the registry with id '%s'",
		prefix, reg->account_id);
}

/* --- remote registries --- */

static int remote_reserialise(ecr_buf *out, const ecr__json *v)
{
	return out ? ecr__json_to_buf(out, v) : 0;
}

static int remote_put(ecr_buf *out, ecr_registry *reg, const char *json, int create)
{
	ecr__json *res = NULL;
	int rc = ecr__remote_call_json(&res, reg, create ? "CreatePullThroughCacheRule" : "UpdatePullThroughCacheRule",
		NULL, json, "a pull through cache rule must be a JSON object");
	if (!rc)
		rc = remote_reserialise(out, res);
	ecr__json_free(res);
	return rc;
}

static int remote_delete(ecr_buf *out, ecr_registry *reg, const char *prefix)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc;
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)) || (rc = write_opt(w, "ecrRepositoryPrefix", prefix)) ||
	    (rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__remote_call(&res, reg, "DeletePullThroughCacheRule", w);
	w = NULL;
	if (!rc)
		rc = remote_reserialise(out, res);
done:
	ecr__jw_free(w);
	ecr__json_free(res);
	return rc;
}

static int remote_list(ecr_buf *out, ecr_registry *reg, const char *const *prefixes, size_t n)
{
	ecr__json *res = NULL;
	ecr__jw *w = NULL, *acc = NULL;
	char *token = NULL;
	int rc, pages = 0;
	if ((rc = ecr__jw_new(&acc)) || (rc = ecr__jw_array_open(acc)))
		goto done;
	do {
		if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)))
			goto done;
		if (n) {
			if ((rc = ecr__jw_key(w, "ecrRepositoryPrefixes")) || (rc = ecr__jw_array_open(w)))
				goto done;
			for (size_t i = 0; i < n; i++)
				if ((rc = ecr__jw_string(w, prefixes[i])))
					goto done;
			if ((rc = ecr__jw_array_close(w)))
				goto done;
		}
		if ((rc = write_opt(w, "nextToken", token)) || (rc = ecr__jw_object_close(w)))
			goto done;
		ecr__json_free(res);
		res = NULL;
		rc = ecr__remote_call(&res, reg, "DescribePullThroughCacheRules", w);
		w = NULL;
		if (rc)
			goto done;
		const ecr__json *rules = ecr__json_get(res, "pullThroughCacheRules");
		for (size_t i = 0; rules && rules->type == ECR__JSON_ARRAY && i < rules->count; i++)
			if ((rc = ecr__jw_value(acc, rules->values[i])))
				goto done;
		ecr__free(token);
		token = NULL;
		const char *next = ecr__json_get_string(res, "nextToken");
		if (next && *next && !(token = ecr__strdup(next))) {
			rc = ECR_ENOMEM;
			goto done;
		}
	} while (token && ++pages < 1000);
	if (!(rc = ecr__jw_array_close(acc)))
		rc = ecr__jw_finish(acc, out);
done:
	ecr__free(token);
	ecr__jw_free(w);
	ecr__jw_free(acc);
	ecr__json_free(res);
	return rc;
}

/* --- rules --- */

int ecr_registry_put_pull_through_cache_rule(ecr_buf *out, ecr_registry *reg, const char *json, int create)
{
	rule_fields in = {0}, cur = {0};
	ecr__meta_ptc_rule row = {0};
	ecr_buf doc = ECR_BUF_INIT;
	ecr__txn t = {0};
	int rc;
	if (!reg || !json)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or rule");
	if (reg->remote)
		return remote_put(out, reg, json, create);
	if ((rc = input_parse(&in, json, create)))
		goto done;
	if (in.credential_arn && (rc = cred_arn_check_registry(reg, in.credential_arn)))
		goto done;
	int64_t now = ecr_registry_now(reg);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		goto done;
	if (in.credential_arn && (rc = credential_exists(&t, reg, in.credential_arn)))
		goto done;
	if (create) {
		int64_t count = 0;
		if ((rc = ecr__meta_ptc_rule_count(&t, reg->id, &count)))
			goto done;
		if ((rc = ecr__meta_ptc_rule_get(&t, reg->id, in.prefix, &row)) != ECR_ENOTFOUND) {
			if (!rc)
				rc = ecr__fail(ECR_EPTC_RULE_EXISTS, ECR_ERROR_INVALID,
					"A pull through cache rule with the repository prefix '%s' already exists in the "
					"registry with id '%s'",
					in.prefix, reg->account_id);
			goto done;
		}
		if (count >= PTC_RULES_MAX) {
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID,
				"The maximum number of pull through cache rules (%d) in the registry with id '%s' has "
				"been reached",
				PTC_RULES_MAX, reg->account_id);
			goto done;
		}
		if ((rc = rule_doc_write(&doc, &in)) || (rc = ecr__meta_ptc_rule_insert(&t, reg->id, in.prefix, doc.ptr, now)))
			goto done;
	} else {
		rc = ecr__meta_ptc_rule_get(&t, reg->id, in.prefix, &row);
		if (rc == ECR_ENOTFOUND)
			rc = rule_not_found(reg, in.prefix);
		if (rc || (rc = rule_fields_from_doc(&cur, row.document)))
			goto done;
		/* the members given replace the rule's; the others stay */
		if (in.credential_arn) {
			ecr__free(cur.credential_arn);
			cur.credential_arn = in.credential_arn;
			in.credential_arn = NULL;
		}
		if (in.role_arn) {
			ecr__free(cur.role_arn);
			cur.role_arn = in.role_arn;
			in.role_arn = NULL;
		}
		if (in.upstream_prefix) {
			ecr__free(cur.upstream_prefix);
			cur.upstream_prefix = in.upstream_prefix;
			in.upstream_prefix = NULL;
		}
		if ((rc = rule_doc_write(&doc, &cur)) || (rc = ecr__meta_ptc_rule_update(&t, reg->id, in.prefix, doc.ptr, now)))
			goto done;
	}
	ecr__meta_ptc_rule_dispose(&row);
	if ((rc = ecr__meta_ptc_rule_get(&t, reg->id, in.prefix, &row)))
		goto done;
	if ((rc = ecr__txn_commit(&t)))
		goto done;
	rules_changed();
	if (out)
		rc = rule_to_buf(out, reg, &row);
done:
	ecr__txn_rollback(&t);
	ecr__meta_ptc_rule_dispose(&row);
	rule_fields_dispose(&in);
	rule_fields_dispose(&cur);
	ecr_buf_dispose(&doc);
	return rc;
}

int ecr_registry_delete_pull_through_cache_rule(ecr_buf *deleted_out, ecr_registry *reg, const char *prefix)
{
	ecr__meta_ptc_rule row = {0};
	ecr__txn t = {0};
	char *norm = NULL;
	int rc;
	if (!reg || !prefix)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or prefix");
	if (reg->remote)
		return remote_delete(deleted_out, reg, prefix);
	if ((rc = prefix_normalise(&norm, "ecrRepositoryPrefix", prefix)) ||
	    (rc = ecr__txn_begin(&t, reg->store->meta, true)))
		goto done;
	rc = ecr__meta_ptc_rule_get(&t, reg->id, norm, &row);
	if (rc == ECR_ENOTFOUND)
		rc = rule_not_found(reg, norm);
	if (rc || (rc = ecr__meta_ptc_rule_delete(&t, reg->id, norm)) || (rc = ecr__txn_commit(&t)))
		goto done;
	rules_changed();
	if (deleted_out)
		rc = rule_to_buf(deleted_out, reg, &row);
done:
	ecr__txn_rollback(&t);
	ecr__meta_ptc_rule_dispose(&row);
	ecr__free(norm);
	return rc;
}

struct list_all {
	ecr__jw *w;
	const ecr_registry *reg;
};

static int list_all_cb(const ecr__meta_ptc_rule *r, void *payload)
{
	struct list_all *l = payload;
	return rule_write(l->w, l->reg, r);
}

int ecr_registry_pull_through_cache_rules(ecr_buf *out, ecr_registry *reg, const char *const *prefixes,
	size_t prefixes_count)
{
	ecr__txn t = {0};
	ecr__jw *w = NULL;
	char **norm = NULL;
	size_t nnorm = 0;
	int rc;
	if (!out || !reg || (prefixes_count && !prefixes))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no output, registry or prefixes");
	if (prefixes_count > 100)
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
			"1 validation error detected: Value at 'ecrRepositoryPrefixes' failed to satisfy constraint: "
			"Member must have length less than or equal to 100");
	for (size_t i = 0; i < prefixes_count; i++)
		if (!prefixes[i])
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "prefix %zu is NULL", i);
	if (reg->remote)
		return remote_list(out, reg, prefixes, prefixes_count);
	if (prefixes_count && !(norm = ecr__calloc(prefixes_count, sizeof(*norm))))
		return ECR_ENOMEM;
	for (; nnorm < prefixes_count; nnorm++)
		if ((rc = prefix_normalise(&norm[nnorm], "ecrRepositoryPrefixes", prefixes[nnorm])))
			goto done;
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_array_open(w)) ||
	    (rc = ecr__txn_begin(&t, reg->store->meta, false)))
		goto done;
	if (!prefixes_count) {
		struct list_all l = {w, reg};
		if ((rc = ecr__meta_ptc_rule_list(&t, reg->id, list_all_cb, &l)))
			goto done;
	} else {
		/* in prefix order, each once */
		for (size_t i = 0; i < nnorm; i++)
			for (size_t j = i + 1; j < nnorm; j++)
				if (strcmp(norm[j], norm[i]) < 0) {
					char *x = norm[i];
					norm[i] = norm[j];
					norm[j] = x;
				}
		for (size_t i = 0; i < nnorm; i++) {
			ecr__meta_ptc_rule row = {0};
			if (i && strcmp(norm[i], norm[i - 1]) == 0)
				continue;
			rc = ecr__meta_ptc_rule_get(&t, reg->id, norm[i], &row);
			if (rc == ECR_ENOTFOUND)
				rc = rule_not_found(reg, norm[i]);
			if (!rc)
				rc = rule_write(w, reg, &row);
			ecr__meta_ptc_rule_dispose(&row);
			if (rc)
				goto done;
		}
	}
	if (!(rc = ecr__jw_array_close(w)))
		rc = ecr__jw_finish(w, out);
done:
	ecr__txn_rollback(&t);
	ecr__jw_free(w);
	for (size_t i = 0; i < nnorm; i++)
		ecr__free(norm[i]);
	ecr__free(norm);
	return rc;
}

/* --- credentials --- */

static bool printable_text(const char *s, size_t max, bool colon_ok)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || (!colon_ok && s[i] == ':'))
			return false;
	return true;
}

int ecr_registry_put_credential(ecr_registry *reg, const char *arn, const char *username, const char *password)
{
	ecr__txn t = {0};
	int rc;
	if (!reg || !arn || !username || !password)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry, ARN, username or password");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "storing upstream credentials",
			"credentials are kept by the registry host (`ecrd credential add`), not through the ECR API");
	if ((rc = cred_arn_check(arn)) || (rc = cred_arn_check_registry(reg, arn)))
		return rc;
	if (!printable_text(username, USERNAME_MAX, false))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"the username must be 1 to %d characters, without ':' or control characters", USERNAME_MAX);
	/* never quote the password */
	if (!printable_text(password, SECRET_MAX, true))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"the password must be 1 to %d characters without control characters", SECRET_MAX);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)) ||
	    (rc = ecr__meta_credential_put(&t, reg->id, arn, username, password, ecr_registry_now(reg))))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_registry_delete_credential(ecr_registry *reg, const char *arn)
{
	ecr__txn t = {0};
	int rc;
	if (!reg || !arn)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or ARN");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "deleting upstream credentials",
			"credentials are kept by the registry host (`ecrd credential remove`), not through the ECR API");
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	rc = ecr__meta_credential_delete(&t, reg->id, arn);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_INVALID, "no credential has the ARN '%.640s'", arn);
	if (!rc)
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	return rc;
}

static int cred_collect_cb(const char *arn, const char *username, void *payload)
{
	ecr__strvec *v = payload;
	int rc = ecr__strvec_add(v, arn);
	return rc ? rc : ecr__strvec_add(v, username);
}

int ecr_registry_credentials_foreach(ecr_registry *reg, ecr_credential_cb cb, void *payload)
{
	ecr__strvec v = {0};
	ecr__txn t = {0};
	int rc;
	if (!reg || !cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or callback");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "listing upstream credentials",
			"credentials are kept by the registry host (`ecrd credential list`), not through the ECR API");
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_credential_list(&t, reg->id, cred_collect_cb, &v);
	ecr__txn_rollback(&t);
	/* the callback runs with no transaction open: it may call libecr */
	for (size_t i = 0; !rc && i + 1 < v.n; i += 2)
		rc = cb(v.v[i], v.v[i + 1], payload);
	ecr__strvec_dispose(&v);
	return rc;
}

/* --- for the cache (ptc.h) --- */

void ecr__ptc_rule_dispose(ecr__ptc_rule *rule)
{
	if (!rule)
		return;
	ecr__free(rule->prefix);
	ecr__free(rule->upstream_url);
	ecr__free(rule->upstream_registry);
	ecr__free(rule->upstream_prefix);
	ecr__free(rule->credential_arn);
	ecr__free(rule->username);
	wipe_free(rule->password);
	memset(rule, 0, sizeof(*rule));
}

/* Fill out from a stored rule, credential resolved through t. */
static int rule_resolve(ecr__ptc_rule *out, ecr__txn *t, ecr_registry *reg, const char *document)
{
	rule_fields f;
	int rc = rule_fields_from_doc(&f, document);
	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	out->prefix = f.prefix;
	out->upstream_url = f.url;
	out->upstream_registry = f.upstream_registry;
	out->credential_arn = f.credential_arn;
	ecr__free(f.role_arn);
	if (f.upstream_prefix && strcmp(f.upstream_prefix, "ROOT") == 0) {
		ecr__free(f.upstream_prefix);
		f.upstream_prefix = NULL;
	}
	out->upstream_prefix = f.upstream_prefix;
	if (out->credential_arn) {
		rc = ecr__meta_credential_get(t, reg->id, out->credential_arn, &out->username, &out->password);
		if (rc == ECR_ENOTFOUND)
			rc = ecr__fail(ECR_ESECRET_NOT_FOUND, ECR_ERROR_INVALID,
				"The secret '%.640s' of the pull through cache rule '%s' does not exist", out->credential_arn,
				out->prefix);
	}
	if (rc)
		ecr__ptc_rule_dispose(out);
	return rc;
}

struct best_match {
	const char *name;
	size_t best_len; /* prefix length + 1 (ROOT: 0 + 1 ... see below) */
	bool found;
	char *document;
};

static int best_match_cb(const ecr__meta_ptc_rule *r, void *payload)
{
	struct best_match *b = payload;
	size_t len;
	if (strcmp(r->prefix, "ROOT") == 0) {
		len = 0;
	} else {
		len = strlen(r->prefix);
		if (strncmp(b->name, r->prefix, len) != 0 || b->name[len] != '/' || b->name[len + 1] == '\0')
			return 0;
	}
	if (b->found && len + 1 <= b->best_len)
		return 0;
	char *doc = ecr__strdup(r->document);
	if (!doc)
		return ECR_ENOMEM;
	ecr__free(b->document);
	b->document = doc;
	b->best_len = len + 1;
	b->found = true;
	return 0;
}

int ecr__ptc_rule_match(ecr__ptc_rule *out, ecr_buf *upstream_path_out, ecr_registry *reg, const char *repository)
{
	struct best_match b = {repository, 0, false, NULL};
	ecr__txn t = {0};
	int rc;
	memset(out, 0, sizeof(*out));
	if (!reg || !repository)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or repository");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "the pull-through cache", "it serves a local registry");
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)) ||
	    (rc = ecr__meta_ptc_rule_list(&t, reg->id, best_match_cb, &b)))
		goto done;
	if (!b.found) {
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "no pull through cache rule covers the repository '%.256s'",
			repository);
		goto done;
	}
	if ((rc = rule_resolve(out, &t, reg, b.document)))
		goto done;
	if (upstream_path_out) {
		const char *rest = b.best_len > 1 ? repository + b.best_len : repository;
		if (out->upstream_prefix)
			rc = ecr__buf_printf(upstream_path_out, "%s/%s", out->upstream_prefix, rest);
		else
			rc = ecr__buf_puts(upstream_path_out, rest);
		if (rc)
			ecr__ptc_rule_dispose(out);
	}
done:
	ecr__txn_rollback(&t);
	ecr__free(b.document);
	return rc;
}

/*
 * Whether a registry has rules is asked on every pull (ecr_cache_covers: a manifest GET by tag), where one read
 * transaction more was 11% of a manifest GET's CPU. The answer is kept in reg->ptc_rules_known for
 * PTC_RULES_KNOWN_MS, and forgotten at once when this process writes a rule of any registry (rules_generation
 * changes): a rule created or deleted by another process sharing the metadata store (another cluster node,
 * the CLI) applies to this process's pulls after at most PTC_RULES_KNOWN_MS.
 * The word: bit 0 set when known, bit 1 the answer, bits 2-31 the generation, bits 32-63 the monotonic
 * milliseconds (low 32 bits) until when it holds.
 */
int ecr__ptc_has_rules(ecr_registry *reg)
{
	ecr__txn t = {0};
	int64_t count = 0;
	int rc;
	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry");
	if (reg->remote)
		return 0;
	uint32_t gen = rules_generation & 0x3fffffffu;
	uint32_t now = (uint32_t)ecr__time_monotonic_ms();
	uint64_t known = reg->ptc_rules_known;
	if ((known & 1) && (uint32_t)(known >> 2 & 0x3fffffffu) == gen && (int32_t)((uint32_t)(known >> 32) - now) > 0)
		return (int)(known >> 1 & 1);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_ptc_rule_count(&t, reg->id, &count);
	ecr__txn_rollback(&t);
	if (rc)
		return rc;
	/* an answer read before a rule write of this process (the generation moved meanwhile) is not kept */
	reg->ptc_rules_known =
		(uint64_t)(now + PTC_RULES_KNOWN_MS) << 32 | (uint64_t)gen << 2 | (uint64_t)(count > 0) << 1 | 1u;
	return count > 0;
}

/* Replace every occurrence of secret in s (NUL-terminated) by "***". */
static int scrub(ecr_buf *out, const char *s, const char *secret)
{
	size_t sl = secret ? strlen(secret) : 0;
	int rc = 0;
	while (!rc && *s) {
		const char *hit = sl ? strstr(s, secret) : NULL;
		if (!hit)
			return ecr__buf_puts(out, s);
		if (!(rc = ecr__buf_put(out, s, (size_t)(hit - s))))
			rc = ecr__buf_puts(out, "***");
		s = hit + sl;
	}
	return rc;
}

int ecr__ptc_rule_validate(ecr_buf *rule_out, int *valid_out, ecr_buf *failure_out, ecr_registry *reg,
	const char *prefix, const ecr_registry_options *upstream_options, uint32_t timeout_ms)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr__meta_ptc_rule row = {0};
	ecr__ptc_rule rule = {0};
	ecr_registry *up = NULL;
	ecr__txn t = {0};
	char *norm = NULL;
	int rc;
	*valid_out = 0;
	if (!reg || !prefix)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or prefix");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "validating a pull through cache rule", "it runs on the registry host");
	if ((rc = prefix_normalise(&norm, "ecrRepositoryPrefix", prefix)) ||
	    (rc = ecr__txn_begin(&t, reg->store->meta, false)))
		goto done;
	rc = ecr__meta_ptc_rule_get(&t, reg->id, norm, &row);
	if (rc == ECR_ENOTFOUND)
		rc = rule_not_found(reg, norm);
	if (rc || (rule_out && (rc = rule_to_buf(rule_out, reg, &row))))
		goto done;
	rc = rule_resolve(&rule, &t, reg, row.document);
	ecr__txn_rollback(&t);
	if (rc == ECR_ESECRET_NOT_FOUND) {
		rc = failure_out ? ecr__buf_puts(failure_out, ecr_error_last()->message) : 0;
		ecr__error_clear();
		goto done;
	}
	if (rc)
		goto done;
	if (upstream_options && upstream_options->version == ECR_REGISTRY_OPTIONS_VERSION) {
		/* only the transport's settings: TLS trust and flags */
		o.ca_file = upstream_options->ca_file;
		o.ca_path = upstream_options->ca_path;
		o.remote_flags = upstream_options->remote_flags;
		o.user_agent = upstream_options->user_agent;
	}
	o.username = rule.username;
	o.password = rule.password;
	o.remote_flags |= ECR_REMOTE_OCI_ONLY | ECR_REMOTE_NO_RETRY;
	o.timeout_ms = timeout_ms ? timeout_ms : VALIDATE_TIMEOUT_MS;
	/* no log_cb: nothing about the upstream's answers (or the credential) goes to the registry's log */
	rc = ecr_registry_open(&up, rule.upstream_url, &o);
	if (rc == ECR_ENOMEM)
		goto done;
	if (rc) {
		rc = failure_out ? scrub(failure_out, ecr_error_last()->message, rule.password) : 0;
		ecr__error_clear();
		goto done;
	}
	*valid_out = 1;
done:
	ecr__txn_rollback(&t);
	ecr_registry_free(up);
	ecr__ptc_rule_dispose(&rule);
	ecr__meta_ptc_rule_dispose(&row);
	ecr__free(norm);
	return rc;
}
