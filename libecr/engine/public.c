/* Public registries (ECR Public): the alias of an account's public registry, its display name and the
 * catalog data of its repositories. A public registry is an ordinary registry opened with the region
 * ECR_REGION_PUBLIC (registry.c sets reg->is_public); its rows live in public_registries and
 * repository_catalog (meta_public.c). */
#include "engine.h"

#include <stdio.h>

#include "../core/crypto.h"
#include "../core/json.h"
#include "../remote/remote_repo.h"

#define ALIAS_RANDOM_LEN 8
#define ALIAS_ATTEMPTS 32
#define CATALOG_MAX_BYTES (2u * 1024 * 1024)

int ecr_registry_is_public(const ecr_registry *reg)
{
	return reg && reg->is_public ? 1 : 0;
}

/* A local public registry, or the error the header promises. */
static int public_check(ecr_registry *reg, const char *what)
{
	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (reg->remote)
		return ecr__remote_local_only(reg, what);
	if (!reg->is_public)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		                 "%s needs a public registry (region '%s'); registry %s/%s is private", what,
		                 ECR_REGION_PUBLIC, reg->account_id, reg->region);
	return 0;
}

static int repo_public_check(ecr_repository *repo, const char *what)
{
	if (!repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	return public_check(repo->reg, what);
}

/* Any local registry handle (for store-wide lookups). */
static int local_check(ecr_registry *any, const char *what)
{
	if (!any)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if (any->remote)
		return ecr__remote_local_only(any, what);
	return 0;
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}
static bool is_alnum(char c)
{
	return is_lower(c) || (c >= '0' && c <= '9');
}

/* [a-z][a-z0-9]+([._-][a-z0-9]+)*, 2 to 50 characters. */
static int alias_check(const char *alias)
{
	if (!alias)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no alias");
	size_t n = strnlen(alias, ECR_PUBLIC_ALIAS_MAX + 1);
	bool ok = n >= 2 && n <= ECR_PUBLIC_ALIAS_MAX && is_lower(alias[0]) && is_alnum(alias[1]);
	for (size_t i = 2; ok && i < n; i++) {
		char c = alias[i];
		if (c == '.' || c == '_' || c == '-')
			ok = i + 1 < n && is_alnum(alias[i + 1]);
		else
			ok = is_alnum(c);
	}
	if (!ok)
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_INVALID,
		    "Invalid parameter at 'alias' failed to satisfy constraint: 'Member must have length between 2 and "
		    "%d and match the pattern [a-z][a-z0-9]+(?:[._-][a-z0-9]+)*' (alias '%.*s')",
		    ECR_PUBLIC_ALIAS_MAX, n > 64 ? 64 : (int)n, alias);
	return 0;
}

/* A uniformly random character of set (of size n <= 36), by rejection. */
static int random_char(char *out, const char *set, unsigned n)
{
	unsigned limit = 256 - 256 % n;
	for (;;) {
		unsigned char b;
		int rc = ecr__random_bytes(&b, 1);
		if (rc)
			return rc;
		if (b < limit) {
			*out = set[b % n];
			return 0;
		}
	}
}

static int alias_random(char out[ALIAS_RANDOM_LEN + 1])
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	int rc = random_char(&out[0], set, 26);
	for (int i = 1; !rc && i < ALIAS_RANDOM_LEN; i++)
		rc = random_char(&out[i], set, 36);
	out[ALIAS_RANDOM_LEN] = '\0';
	return rc;
}

int ecr__public_alias_ensure(ecr_registry *reg, char **alias_out)
{
	ecr__txn t = {0};
	char fresh[ALIAS_RANDOM_LEN + 1];
	int rc;

	*alias_out = NULL;
	if ((rc = public_check(reg, "A public registry alias")))
		return rc;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_public_alias_get(&t, reg->id, alias_out);
	ecr__txn_rollback(&t);
	if (rc != ECR_ENOTFOUND)
		return rc;
	/* First use: assign one (unless another handle was first: read again inside the write transaction). */
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	rc = ecr__meta_public_alias_get(&t, reg->id, alias_out);
	for (int i = 0; rc == ECR_ENOTFOUND && i < ALIAS_ATTEMPTS; i++) {
		if ((rc = alias_random(fresh)))
			break;
		rc = ecr__meta_public_alias_set(&t, reg->id, fresh, ecr_registry_now(reg));
		if (rc == ECR_EEXISTS)
			rc = ECR_ENOTFOUND; /* taken: draw again */
		else if (!rc && !(*alias_out = ecr__strdup(fresh)))
			rc = ECR_ENOMEM;
	}
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "no free public registry alias found");
	if (!rc)
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	if (rc) {
		ecr__free(*alias_out);
		*alias_out = NULL;
	} else {
		ecr__log(&reg->log, ECR_LOG_DEBUG, "public registry %s has alias %s", reg->account_id, *alias_out);
	}
	return rc;
}

static int copy_out(ecr_buf *out, const char *s)
{
	ecr__buf_clear(out);
	return ecr__buf_puts(out, s);
}

int ecr_public_alias(ecr_buf *out, ecr_registry *reg)
{
	char *alias = NULL;
	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	int rc = ecr__public_alias_ensure(reg, &alias);
	if (!rc)
		rc = copy_out(out, alias);
	ecr__free(alias);
	return rc;
}

int ecr_public_set_alias(ecr_registry *reg, const char *alias)
{
	ecr__txn t = {0};
	int rc;

	if ((rc = public_check(reg, "Setting a public registry alias")) || (rc = alias_check(alias)))
		return rc;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	rc = ecr__meta_public_alias_set(&t, reg->id, alias, ecr_registry_now(reg));
	if (rc == ECR_EEXISTS)
		rc = ecr__fail(ECR_EEXISTS, ECR_ERROR_INVALID, "The registry alias '%s' is already in use", alias);
	if (!rc)
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	if (!rc)
		ecr__log(&reg->log, ECR_LOG_INFO, "public registry %s: alias set to %s", reg->account_id, alias);
	return rc;
}

int ecr_public_alias_lookup(ecr_buf *account_out, ecr_registry *any, const char *alias)
{
	ecr__txn t = {0};
	char *account = NULL;
	int rc;

	if (!account_out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = local_check(any, "Looking up a public registry alias")) || (rc = alias_check(alias)))
		return rc;
	if ((rc = ecr__txn_begin(&t, any->store->meta, false)))
		return rc;
	rc = ecr__meta_public_alias_lookup(&t, alias, &account);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_INVALID, "no public registry has the alias '%s'", alias);
	if (!rc)
		rc = copy_out(account_out, account);
	ecr__free(account);
	return rc;
}

int ecr_public_registries_foreach(ecr_registry *any, ecr_public_registry_cb cb, void *payload)
{
	ecr__pairs l = ECR__PAIRS_INIT;
	ecr__txn t = {0};
	int rc;

	if (!cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = local_check(any, "Listing public registries")))
		return rc;
	if ((rc = ecr__txn_begin(&t, any->store->meta, false)))
		return rc;
	rc = ecr__meta_public_list(&t, ecr__pairs_add, &l);
	ecr__txn_rollback(&t);
	if (!rc)
		rc = ecr__pairs_each(&l, cb, payload);
	ecr__pairs_dispose(&l);
	return rc;
}

/* The number of characters (code points) of a valid UTF-8 string of len bytes, or -1 when it is not
 * valid UTF-8 or holds a NUL. */
static long utf8_chars(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	long n = 0;
	for (size_t i = 0; i < len; n++) {
		unsigned char c = p[i];
		size_t k;
		uint32_t cp;
		if (c == 0)
			return -1;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3;
			cp = c & 0x07;
		} else {
			return -1;
		}
		if (len - i - 1 < k)
			return -1;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += k + 1;
	}
	return n;
}

int ecr_public_display_name(ecr_buf *out, ecr_registry *reg)
{
	ecr__txn t = {0};
	char *name = NULL;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = public_check(reg, "A public registry display name")))
		return rc;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	rc = ecr__meta_public_display_name_get(&t, reg->id, &name);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		rc = 0;
	if (!rc)
		rc = copy_out(out, name ? name : "");
	ecr__free(name);
	return rc;
}

int ecr_public_set_display_name(ecr_registry *reg, const char *name)
{
	ecr__txn t = {0};
	char *alias = NULL;
	int rc;

	if ((rc = public_check(reg, "Setting a public registry display name")))
		return rc;
	if (!name)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no display name");
	size_t len = strnlen(name, 4 * ECR_PUBLIC_DISPLAY_NAME_MAX + 1);
	long chars = utf8_chars(name, len);
	if (len > 4 * ECR_PUBLIC_DISPLAY_NAME_MAX || chars < 0 || chars > ECR_PUBLIC_DISPLAY_NAME_MAX)
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_INVALID,
		    "Invalid parameter at 'displayName' failed to satisfy constraint: 'Member must be valid UTF-8 of "
		    "length less than or equal to %d'",
		    ECR_PUBLIC_DISPLAY_NAME_MAX);
	/* The row holding the display name is the alias's: make sure there is one. */
	if ((rc = ecr__public_alias_ensure(reg, &alias)))
		return rc;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		goto done;
	rc = ecr__meta_public_display_name_set(&t, reg->id, name);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "the public registry %s lost its alias", reg->account_id);
	if (!rc)
		rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	ecr__free(alias);
	return rc;
}

/* --- catalog data --- */

static int member_invalid(const char *member, const char *constraint)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
	                 "Invalid parameter at 'catalogData.%s' failed to satisfy constraint: '%s'", member,
	                 constraint);
}

/* A string member of at most max characters (min .. max); written to w under key unless empty. */
static int text_member(ecr__jw *w, const char *key, const ecr__json *v, long max, const char *label)
{
	char constraint[128];
	if (v->type != ECR__JSON_STRING)
		return member_invalid(label, "Member must be a string");
	long chars = utf8_chars(v->string, v->length);
	if (chars < 0)
		return member_invalid(label, "Member must be valid UTF-8 without NUL characters");
	if (chars > max) {
		snprintf(constraint, sizeof(constraint), "Member must have length less than or equal to %ld", max);
		return member_invalid(label, constraint);
	}
	if (!chars)
		return 0;
	int rc = ecr__jw_key(w, key);
	return rc ? rc : ecr__jw_string_len(w, v->string, v->length);
}

/* architectures, operatingSystems: up to 50 strings of 1 to 50 characters. */
static int list_member(ecr__jw *w, const char *key, const ecr__json *v)
{
	char label[96], constraint[128];
	int rc;
	if (v->type != ECR__JSON_ARRAY)
		return member_invalid(key, "Member must be a list of strings");
	if (v->count > ECR_PUBLIC_LIST_MAX) {
		snprintf(constraint, sizeof(constraint), "Member must have length less than or equal to %d",
		         ECR_PUBLIC_LIST_MAX);
		return member_invalid(key, constraint);
	}
	for (size_t i = 0; i < v->count; i++) {
		const ecr__json *it = v->values[i];
		snprintf(label, sizeof(label), "%s.%zu.member", key, i + 1);
		if (it->type != ECR__JSON_STRING)
			return member_invalid(label, "Member must be a string");
		long chars = utf8_chars(it->string, it->length);
		if (chars < 0)
			return member_invalid(label, "Member must be valid UTF-8 without NUL characters");
		if (chars < 1 || chars > 50)
			return member_invalid(label, "Member must have length between 1 and 50");
	}
	if (!v->count)
		return 0;
	if ((rc = ecr__jw_key(w, key)) || (rc = ecr__jw_array_open(w)))
		return rc;
	for (size_t i = 0; i < v->count; i++)
		if ((rc = ecr__jw_string_len(w, v->values[i]->string, v->values[i]->length)))
			return rc;
	return ecr__jw_array_close(w);
}

/* logoImageBlob: base64 of a PNG or JPEG image of at most ECR_PUBLIC_LOGO_MAX bytes, decoded into logo. */
static int logo_member(ecr_buf *logo, const ecr__json *v)
{
	static const unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
	static const unsigned char jpeg[3] = {0xff, 0xd8, 0xff};
	char constraint[128];
	if (v->type != ECR__JSON_STRING)
		return member_invalid("logoImageBlob", "Member must be a base64-encoded string");
	/* 4 characters per 3 bytes: anything longer is too big before decoding. */
	if (v->length > ((size_t)ECR_PUBLIC_LOGO_MAX + 2) / 3 * 4 + 4) {
		snprintf(constraint, sizeof(constraint), "Member must have length less than or equal to %d",
		         ECR_PUBLIC_LOGO_MAX);
		return member_invalid("logoImageBlob", constraint);
	}
	if (!v->length)
		return 0;
	int rc = ecr__base64_decode(logo, v->string, v->length);
	if (rc == ECR_ENOMEM)
		return rc;
	if (rc)
		return member_invalid("logoImageBlob", "Member must be valid base64");
	if (logo->size > ECR_PUBLIC_LOGO_MAX) {
		snprintf(constraint, sizeof(constraint), "Member must have length less than or equal to %d",
		         ECR_PUBLIC_LOGO_MAX);
		return member_invalid("logoImageBlob", constraint);
	}
	if (!((logo->size >= sizeof(png) && memcmp(logo->ptr, png, sizeof(png)) == 0) ||
	      (logo->size >= sizeof(jpeg) && memcmp(logo->ptr, jpeg, sizeof(jpeg)) == 0)))
		return member_invalid("logoImageBlob", "Member must be a PNG or JPEG image");
	return 0;
}

static const char *const catalog_members[] = {"description", "architectures", "operatingSystems", "aboutText",
                                              "usageText"};

/* Validate json and write its normalised form (no logo, members in a fixed order, empty ones left out) to doc
 * and the decoded logo to logo. */
static int catalog_parse(ecr_buf *doc, ecr_buf *logo, const char *json)
{
	ecr__json_limits lim = {CATALOG_MAX_BYTES, 8, 1000, 1024 * 1024};
	ecr__json *root = NULL;
	ecr__jw *w = NULL;
	int rc;

	if (!json)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no catalog data");
	if ((rc = ecr__json_parse(&root, json, strlen(json), &lim))) {
		if (rc != ECR_ENOMEM) {
			char reason[256];
			snprintf(reason, sizeof(reason), "%s", ecr_error_last()->message);
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "Invalid parameter at 'catalogData': %s",
			               reason);
		}
		goto done;
	}
	if (root->type != ECR__JSON_OBJECT) {
		rc =
		    ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "Invalid parameter at 'catalogData': not a JSON object");
		goto done;
	}
	for (size_t i = 0; i < root->count; i++) {
		bool known = strcmp(root->keys[i], "logoImageBlob") == 0;
		for (size_t k = 0; !known && k < sizeof(catalog_members) / sizeof(catalog_members[0]); k++)
			known = strcmp(root->keys[i], catalog_members[k]) == 0;
		if (!known) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			               "Invalid parameter at 'catalogData': unknown member '%.64s'", root->keys[i]);
			goto done;
		}
	}
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)))
		goto done;
	const ecr__json *v;
	if ((v = ecr__json_get(root, "description")) && v->type != ECR__JSON_NULL &&
	    (rc = text_member(w, "description", v, ECR_PUBLIC_DESCRIPTION_MAX, "description")))
		goto done;
	if ((v = ecr__json_get(root, "architectures")) && v->type != ECR__JSON_NULL &&
	    (rc = list_member(w, "architectures", v)))
		goto done;
	if ((v = ecr__json_get(root, "operatingSystems")) && v->type != ECR__JSON_NULL &&
	    (rc = list_member(w, "operatingSystems", v)))
		goto done;
	if ((v = ecr__json_get(root, "aboutText")) && v->type != ECR__JSON_NULL &&
	    (rc = text_member(w, "aboutText", v, ECR_PUBLIC_TEXT_MAX, "aboutText")))
		goto done;
	if ((v = ecr__json_get(root, "usageText")) && v->type != ECR__JSON_NULL &&
	    (rc = text_member(w, "usageText", v, ECR_PUBLIC_TEXT_MAX, "usageText")))
		goto done;
	if ((v = ecr__json_get(root, "logoImageBlob")) && v->type != ECR__JSON_NULL && (rc = logo_member(logo, v)))
		goto done;
	if ((rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__jw_finish(w, doc);
done:
	ecr__jw_free(w);
	ecr__json_free(root);
	return rc;
}

int ecr_repository_set_catalog_data(ecr_repository *repo, const char *json)
{
	ecr_buf doc = ECR_BUF_INIT, logo = ECR_BUF_INIT;
	ecr__txn t = {0};
	int rc;

	if ((rc = repo_public_check(repo, "Repository catalog data")) || (rc = catalog_parse(&doc, &logo, json)))
		goto done;
	ecr_registry *reg = repo->reg;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)) || (rc = ecr__repository_check(&t, repo)))
		goto done;
	if ((rc = ecr__meta_catalog_put(&t, repo->id, doc.ptr, logo.size ? logo.ptr : NULL, logo.size,
	                                ecr_registry_now(reg))) ||
	    (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&reg->log, ECR_LOG_INFO, "public repository %s: catalog data set", repo->name);
done:
	ecr__txn_rollback(&t);
	ecr_buf_dispose(&doc);
	ecr_buf_dispose(&logo);
	return rc;
}

static int catalog_not_found(const ecr_repository *repo)
{
	return ecr__fail(
	    ECR_ECATALOG_DATA_NOT_FOUND, ECR_ERROR_REPOSITORY,
	    "The repository catalog data for the repository with name '%s' in the registry with id '%s' does not "
	    "exist",
	    repo->name, repo->reg->account_id);
}

int ecr_repository_catalog_data(ecr_buf *out, ecr_repository *repo)
{
	ecr__json *root = NULL;
	ecr__jw *w = NULL;
	char *doc = NULL;
	ecr__txn t = {0};
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = repo_public_check(repo, "Repository catalog data")))
		return rc;
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)) || (rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_catalog_get(&t, repo->id, &doc);
	ecr__txn_rollback(&t);
	if (rc == ECR_ENOTFOUND)
		rc = catalog_not_found(repo);
	if (rc)
		goto done;
	/* The stored document is normalised already: copy its members and add marketplaceCertified. */
	if ((rc = ecr__json_parse(&root, doc, strlen(doc), NULL)))
		goto done;
	if (root->type != ECR__JSON_OBJECT) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_STORAGE, "stored catalog data is not a JSON object");
		goto done;
	}
	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)))
		goto done;
	for (size_t k = 0; k < sizeof(catalog_members) / sizeof(catalog_members[0]); k++) {
		const ecr__json *v = ecr__json_get(root, catalog_members[k]);
		if (v && ((rc = ecr__jw_key(w, catalog_members[k])) || (rc = ecr__jw_value(w, v))))
			goto done;
	}
	if ((rc = ecr__jw_key(w, "marketplaceCertified")) || (rc = ecr__jw_bool(w, false)) ||
	    (rc = ecr__jw_object_close(w)))
		goto done;
	ecr__buf_clear(out);
	rc = ecr__jw_finish(w, out);
done:
	ecr__txn_rollback(&t);
	ecr__jw_free(w);
	ecr__json_free(root);
	ecr__free(doc);
	return rc;
}

int ecr_repository_catalog_logo(ecr_buf *out, ecr_repository *repo)
{
	ecr_buf logo = ECR_BUF_INIT;
	ecr__txn t = {0};
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "missing argument");
	if ((rc = repo_public_check(repo, "Repository catalog data")))
		return rc;
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)) || (rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_catalog_logo(&t, repo->id, &logo);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "the repository '%s' has no logo", repo->name);
	if (rc)
		goto done;
	ecr__buf_clear(out);
	rc = ecr__buf_put(out, logo.ptr, logo.size);
done:
	ecr__txn_rollback(&t);
	ecr_buf_dispose(&logo);
	return rc;
}
