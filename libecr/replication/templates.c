/* Repository creation templates (ecr/replication.h): ECR's
 * CreateRepositoryCreationTemplate and the rest of its group, stored as one
 * canonical JSON document per (registry, prefix), and
 * ecr_repository_create_templated(), which creates a repository with the
 * settings of the template that applies to its name. On a remote registry the
 * template operations are the remote's ECR API operations. */
#include "../core/core.h"

#include <stdio.h>

#include "../core/json.h"
#include "../oci/oci.h"
#include "../remote/remote.h"
#include "../storage/meta_template.h"
#include "ecr/lifecycle.h"
#include "ecr/policy.h"
#include "ecr/replication.h"

/* ECR's quota of creation templates per registry. */
#define MAX_TEMPLATES 100
#define MAX_RESOURCE_TAGS 50
#define MAX_EXCLUSIONS 5
#define MAX_PREFIX 256
#define MAX_DESCRIPTION 256
#define MAX_KMS_KEY 2048
#define MAX_LIFECYCLE_POLICY 30720
#define MAX_ROLE_ARN 2048
/* Remote DescribeRepositoryCreationTemplates pages followed at most (a misbehaving remote cannot loop us). */
#define MAX_REMOTE_PAGES 1000

#define PREFIX_PATTERN "^([a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*\\/?|ROOT)$"

/* A template being validated: borrowed pointers into parsed documents (the stored one and the request). */
typedef struct tpl {
	const char *prefix;
	const char *description; /* NULL: none */
	ecr_encryption_type encryption;
	const char *kms_key;   /* NULL: none */
	const ecr__json *tags; /* array of {Key, Value}, NULL: none */
	ecr_tag_mutability mutability;
	const ecr__json *exclusions;   /* array of {filterType, filter}, NULL: none */
	const char *repository_policy; /* NULL: none */
	const char *lifecycle_policy;  /* NULL: none */
	uint32_t applied_for;
	const char *custom_role_arn; /* NULL: none */
} tpl;

static const struct {
	const char *name;
	uint32_t bit;
} applied_names[] = {
    {"REPLICATION", ECR_TEMPLATE_REPLICATION},
    {"PULL_THROUGH_CACHE", ECR_TEMPLATE_PULL_THROUGH_CACHE},
    {"CREATE_ON_PUSH", ECR_TEMPLATE_CREATE_ON_PUSH},
};
#define APPLIED_COUNT (sizeof(applied_names) / sizeof(applied_names[0]))

/* --- validation --- */

/* ValidationException in AWS's words; value (may be NULL) is quoted, shortened. */
static int vfail(const char *field, const char *value, const char *constraint)
{
	if (value)
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
		                 "1 validation error detected: Value '%.128s%s' at '%s' failed to satisfy constraint: "
		                 "Member must %s",
		                 value, strlen(value) > 128 ? "..." : "", field, constraint);
	return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
	                 "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must %s",
	                 field, constraint);
}

/* InvalidParameterException in ECR's words. */
static int pfail(const char *field, const char *reason)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
	                 "Invalid parameter at '%s' failed to satisfy constraint: '%s'", field, reason);
}

/* A string member value (no NUL inside) of at most max bytes; JSON null is "absent" (*out NULL). */
static int get_string(const char **out, const ecr__json *v, const char *field, size_t max)
{
	char constraint[64];
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_STRING || strlen(v->string) != v->length)
		return pfail(field, "must be a string");
	if (max && v->length > max) {
		snprintf(constraint, sizeof(constraint), "have length less than or equal to %zu", max);
		return vfail(field, NULL, constraint);
	}
	*out = v->string;
	return 0;
}

static bool prefix_ok(const char *p)
{
	size_t n = strlen(p);
	return n >= 1 && n <= MAX_PREFIX && ecr__oci_prefix_ok(p);
}

static int check_prefix(const char *p)
{
	if (!p)
		return vfail("prefix", NULL, "not be null");
	if (!*p)
		return vfail("prefix", NULL, "have length greater than or equal to 1");
	if (strlen(p) > MAX_PREFIX)
		return vfail("prefix", NULL, "have length less than or equal to 256");
	if (!prefix_ok(p))
		return vfail("prefix", p, "satisfy regular expression pattern: " PREFIX_PATTERN);
	return 0;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-z0-9-]+ (ECR's KmsKeyForRepositoryCreationTemplate). */
static bool kms_arn_ok(const char *s)
{
	const char *p = s;
	if (strncmp(p, "arn:aws", 7) != 0)
		return false;
	p += 7;
	p += strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
	if (strncmp(p, ":kms:", 5) != 0)
		return false;
	p += 5;
	size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
	if (n == 0 || p[n] != ':')
		return false;
	p += n + 1;
	if (strlen(p) < 13 || !all_digits(p, 12) || strncmp(p + 12, ":key/", 5) != 0)
		return false;
	p += 17;
	n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
	return n > 0 && p[n] == '\0';
}

/* arn:aws[-a-z]*:iam::<12 digits>:role/<path and name> */
static bool role_arn_ok(const char *s)
{
	const char *p = s;
	if (strncmp(p, "arn:aws", 7) != 0)
		return false;
	p += 7;
	p += strspn(p, "abcdefghijklmnopqrstuvwxyz-");
	if (strncmp(p, ":iam::", 6) != 0)
		return false;
	p += 6;
	if (strlen(p) < 12 || !all_digits(p, 12) || strncmp(p + 12, ":role/", 6) != 0)
		return false;
	return p[18] != '\0';
}

static int set_encryption(tpl *t, const ecr__json *v)
{
	const char *type = NULL, *kms = NULL;
	int rc;
	if (v->type != ECR__JSON_OBJECT)
		return pfail("encryptionConfiguration", "must be an object");
	for (size_t i = 0; i < v->count; i++) {
		const char *k = v->keys[i];
		if (strcmp(k, "encryptionType") == 0)
			rc = get_string(&type, v->values[i], "encryptionConfiguration.encryptionType", 0);
		else if (strcmp(k, "kmsKey") == 0)
			rc = get_string(&kms, v->values[i], "encryptionConfiguration.kmsKey", MAX_KMS_KEY);
		else
			rc = pfail("encryptionConfiguration", "unknown member");
		if (rc)
			return rc;
	}
	ecr_encryption_type e;
	if (!type)
		return vfail("encryptionConfiguration.encryptionType", NULL, "not be null");
	if (!ecr__repository_encryption_parse(&e, type))
		return vfail("encryptionConfiguration.encryptionType", type,
		             "satisfy enum value set: [AES256, KMS, KMS_DSSE]");
	if (kms && *kms && !kms_arn_ok(kms))
		return vfail("encryptionConfiguration.kmsKey", kms,
		             "satisfy regular expression pattern: "
		             "^$|arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key\\/[a-z0-9-]+");
	t->encryption = e;
	t->kms_key = kms && *kms ? kms : NULL;
	return 0;
}

static int set_tags(tpl *t, const ecr__json *v)
{
	if (v->type != ECR__JSON_ARRAY)
		return pfail("resourceTags", "must be a list");
	if (v->count > MAX_RESOURCE_TAGS)
		return pfail("resourceTags", "at most 50 tags are allowed");
	for (size_t i = 0; i < v->count; i++) {
		const ecr__json *tag = v->values[i];
		const char *key = NULL, *value = NULL;
		int rc;
		if (tag->type != ECR__JSON_OBJECT)
			return pfail("resourceTags", "each tag must be an object with Key and Value");
		for (size_t j = 0; j < tag->count; j++) {
			if (strcmp(tag->keys[j], "Key") == 0)
				rc = get_string(&key, tag->values[j], "resourceTags.Key", 0);
			else if (strcmp(tag->keys[j], "Value") == 0)
				rc = get_string(&value, tag->values[j], "resourceTags.Value", 0);
			else
				rc = pfail("resourceTags", "unknown member of a tag");
			if (rc)
				return rc;
		}
		if (!key || !value)
			return pfail("resourceTags", "each tag must have a Key and a Value");
		if (!*key || strlen(key) > 128)
			return pfail("resourceTags", "tag keys must be 1 to 128 characters long");
		if (strlen(value) > 256)
			return pfail("resourceTags", "tag values must be 0 to 256 characters long");
		if (strncmp(key, "aws:", 4) == 0)
			return pfail("resourceTags", "tag keys starting with 'aws:' are reserved");
		for (size_t j = 0; j < i; j++)
			if (strcmp(ecr__json_get_string(v->values[j], "Key"), key) == 0)
				return pfail("resourceTags", "tag keys must be unique");
	}
	t->tags = v->count ? v : NULL;
	return 0;
}

static int set_exclusions(tpl *t, const ecr__json *v)
{
	if (v->type != ECR__JSON_ARRAY)
		return pfail("imageTagMutabilityExclusionFilters", "must be a list");
	if (v->count < 1)
		return vfail("imageTagMutabilityExclusionFilters", NULL, "have length greater than or equal to 1");
	if (v->count > MAX_EXCLUSIONS)
		return vfail("imageTagMutabilityExclusionFilters", NULL, "have length less than or equal to 5");
	for (size_t i = 0; i < v->count; i++) {
		const ecr__json *f = v->values[i];
		const char *type = NULL, *filter = NULL;
		int rc;
		if (f->type != ECR__JSON_OBJECT)
			return pfail("imageTagMutabilityExclusionFilters", "each filter must be an object");
		for (size_t j = 0; j < f->count; j++) {
			if (strcmp(f->keys[j], "filterType") == 0)
				rc =
				    get_string(&type, f->values[j], "imageTagMutabilityExclusionFilters.filterType", 0);
			else if (strcmp(f->keys[j], "filter") == 0)
				rc = get_string(&filter, f->values[j], "imageTagMutabilityExclusionFilters.filter", 0);
			else
				rc = pfail("imageTagMutabilityExclusionFilters", "unknown member of a filter");
			if (rc)
				return rc;
		}
		if (!type || strcmp(type, "WILDCARD") != 0)
			return vfail("imageTagMutabilityExclusionFilters.filterType", type,
			             "satisfy enum value set: [WILDCARD]");
		size_t n = filter ? strlen(filter) : 0;
		if (n < 1 || n > 128 ||
		    strspn(filter, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._*-") != n)
			return vfail("imageTagMutabilityExclusionFilters.filter", filter,
			             "satisfy regular expression pattern: ^[0-9a-zA-Z._*-]{1,128}$");
	}
	t->exclusions = v;
	return 0;
}

static int set_applied_for(tpl *t, const ecr__json *v)
{
	uint32_t bits = 0;
	if (v->type != ECR__JSON_ARRAY)
		return pfail("appliedFor", "must be a list");
	if (v->count == 0)
		return vfail("appliedFor", NULL, "have length greater than or equal to 1");
	for (size_t i = 0; i < v->count; i++) {
		const ecr__json *s = v->values[i];
		size_t j = 0;
		if (s->type != ECR__JSON_STRING)
			return pfail("appliedFor", "must be a list of strings");
		while (j < APPLIED_COUNT && strcmp(applied_names[j].name, s->string) != 0)
			j++;
		if (j == APPLIED_COUNT)
			return vfail("appliedFor", s->string,
			             "satisfy enum value set: [REPLICATION, PULL_THROUGH_CACHE, CREATE_ON_PUSH]");
		bits |= applied_names[j].bit;
	}
	t->applied_for = bits;
	return 0;
}

static int check_repository_policy(const char *text)
{
	ecr_policy *p = NULL;
	int rc = ecr_policy_parse(&p, text, strlen(text), ECR_POLICY_RESOURCE);
	ecr_policy_free(p);
	if (rc == ECR_EINVALID || rc == ECR_ELIMIT) {
		const char *why = ecr_error_last()->message;
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_POLICY,
		    "Invalid parameter at 'repositoryPolicy' failed to satisfy constraint: 'Invalid repository policy "
		    "provided: %s'",
		    why && *why ? why : "the document is not a valid policy");
	}
	return rc;
}

/*
 * Apply the members of obj to t (a create starts from the defaults, an update
 * from the stored template). Given imageTagMutability without exclusion
 * filters drops the old filters unless the new mode takes filters.
 */
static int apply(tpl *t, const ecr__json *obj)
{
	int rc = 0;
	bool mutability_given = false, exclusions_given = false;
	if (!obj || obj->type != ECR__JSON_OBJECT)
		return pfail("template", "must be a JSON object");
	for (size_t i = 0; i < obj->count && !rc; i++) {
		const char *k = obj->keys[i];
		const ecr__json *v = obj->values[i];
		const char *s = NULL;
		if (v->type == ECR__JSON_NULL || strcmp(k, "registryId") == 0 || strcmp(k, "prefix") == 0)
			continue; /* the prefix is read by the caller */
		if (strcmp(k, "description") == 0) {
			if (!(rc = get_string(&s, v, "description", MAX_DESCRIPTION)))
				t->description = s && *s ? s : NULL;
		} else if (strcmp(k, "encryptionConfiguration") == 0) {
			rc = set_encryption(t, v);
		} else if (strcmp(k, "resourceTags") == 0) {
			rc = set_tags(t, v);
		} else if (strcmp(k, "imageTagMutability") == 0) {
			if (!(rc = get_string(&s, v, "imageTagMutability", 0)) &&
			    !ecr__repository_mutability_parse(&t->mutability, s))
				rc = vfail("imageTagMutability", s,
				           "satisfy enum value set: [MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, "
				           "MUTABLE_WITH_EXCLUSION]");
			mutability_given = true;
		} else if (strcmp(k, "imageTagMutabilityExclusionFilters") == 0) {
			rc = set_exclusions(t, v);
			exclusions_given = true;
		} else if (strcmp(k, "repositoryPolicy") == 0) {
			if (!(rc = get_string(&s, v, "repositoryPolicy", ECR_POLICY_MAX_SIZE)) && *s &&
			    !(rc = check_repository_policy(s)))
				t->repository_policy = s;
			else if (!rc)
				t->repository_policy = NULL;
		} else if (strcmp(k, "lifecyclePolicy") == 0) {
			if (!(rc = get_string(&s, v, "lifecyclePolicy", MAX_LIFECYCLE_POLICY)) && *s) {
				ecr_lifecycle_policy *lp = NULL;
				if (!(rc = ecr_lifecycle_policy_parse(&lp, s, strlen(s))))
					t->lifecycle_policy = s;
				ecr_lifecycle_policy_free(lp);
			} else if (!rc) {
				t->lifecycle_policy = NULL;
			}
		} else if (strcmp(k, "appliedFor") == 0) {
			rc = set_applied_for(t, v);
		} else if (strcmp(k, "customRoleArn") == 0) {
			if (!(rc = get_string(&s, v, "customRoleArn", MAX_ROLE_ARN)) && *s && !role_arn_ok(s))
				rc = pfail("customRoleArn",
				           "must be the ARN of an IAM role (arn:aws:iam::<account>:role/<name>)");
			if (!rc)
				t->custom_role_arn = *s ? s : NULL;
		} else {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			               "Unknown member '%s' in a repository creation template", k);
		}
	}
	if (!rc && mutability_given && !exclusions_given && t->mutability != ECR_TAG_IMMUTABLE_WITH_EXCLUSION &&
	    t->mutability != ECR_TAG_MUTABLE_WITH_EXCLUSION)
		t->exclusions = NULL;
	return rc;
}

/* The checks between members, once all are known. */
static int check_whole(const tpl *t)
{
	bool exclusion_mode =
	    t->mutability == ECR_TAG_IMMUTABLE_WITH_EXCLUSION || t->mutability == ECR_TAG_MUTABLE_WITH_EXCLUSION;
	if (!t->applied_for)
		return vfail("appliedFor", NULL, "not be null");
	if (exclusion_mode && !t->exclusions)
		return pfail("imageTagMutabilityExclusionFilters",
		             "imageTagMutabilityExclusionFilters are required with IMMUTABLE_WITH_EXCLUSION or "
		             "MUTABLE_WITH_EXCLUSION");
	if (!exclusion_mode && t->exclusions)
		return pfail("imageTagMutabilityExclusionFilters",
		             "imageTagMutabilityExclusionFilters are only valid with IMMUTABLE_WITH_EXCLUSION or "
		             "MUTABLE_WITH_EXCLUSION");
	if (t->kms_key && t->encryption == ECR_ENCRYPTION_AES256)
		return pfail("encryptionConfiguration.kmsKey",
		             "a KMS key is only valid with KMS or KMS_DSSE encryption");
	return 0;
}

/* --- documents --- */

static int write_template(ecr__jw *w, const tpl *t, bool with_times, int64_t created_at, int64_t updated_at)
{
	int rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "prefix", t->prefix)))
		return rc;
	if (t->description && (rc = ecr__jw_key_string(w, "description", t->description)))
		return rc;
	if ((rc = ecr__jw_key(w, "encryptionConfiguration")) || (rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "encryptionType", ecr__repository_encryption_name(t->encryption))))
		return rc;
	if (t->kms_key && (rc = ecr__jw_key_string(w, "kmsKey", t->kms_key)))
		return rc;
	if ((rc = ecr__jw_object_close(w)) || (rc = ecr__jw_key(w, "resourceTags")) || (rc = ecr__jw_array_open(w)))
		return rc;
	for (size_t i = 0; t->tags && i < t->tags->count; i++)
		if ((rc = ecr__jw_object_open(w)) ||
		    (rc = ecr__jw_key_string(w, "Key", ecr__json_get_string(t->tags->values[i], "Key"))) ||
		    (rc = ecr__jw_key_string(w, "Value", ecr__json_get_string(t->tags->values[i], "Value"))) ||
		    (rc = ecr__jw_object_close(w)))
			return rc;
	if ((rc = ecr__jw_array_close(w)) ||
	    (rc = ecr__jw_key_string(w, "imageTagMutability", ecr__repository_mutability_name(t->mutability))))
		return rc;
	if (t->exclusions) {
		if ((rc = ecr__jw_key(w, "imageTagMutabilityExclusionFilters")) || (rc = ecr__jw_array_open(w)))
			return rc;
		for (size_t i = 0; i < t->exclusions->count; i++)
			if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "filterType", "WILDCARD")) ||
			    (rc = ecr__jw_key_string(w, "filter",
			                             ecr__json_get_string(t->exclusions->values[i], "filter"))) ||
			    (rc = ecr__jw_object_close(w)))
				return rc;
		if ((rc = ecr__jw_array_close(w)))
			return rc;
	}
	if (t->repository_policy && (rc = ecr__jw_key_string(w, "repositoryPolicy", t->repository_policy)))
		return rc;
	if (t->lifecycle_policy && (rc = ecr__jw_key_string(w, "lifecyclePolicy", t->lifecycle_policy)))
		return rc;
	if ((rc = ecr__jw_key(w, "appliedFor")) || (rc = ecr__jw_array_open(w)))
		return rc;
	for (size_t i = 0; i < APPLIED_COUNT; i++)
		if ((t->applied_for & applied_names[i].bit) && (rc = ecr__jw_string(w, applied_names[i].name)))
			return rc;
	if ((rc = ecr__jw_array_close(w)))
		return rc;
	if (t->custom_role_arn && (rc = ecr__jw_key_string(w, "customRoleArn", t->custom_role_arn)))
		return rc;
	if (with_times &&
	    ((rc = ecr__jw_key(w, "createdAt")) || (rc = ecr__jw_double(w, (double)created_at / 1000.0)) ||
	     (rc = ecr__jw_key(w, "updatedAt")) || (rc = ecr__jw_double(w, (double)updated_at / 1000.0))))
		return rc;
	return ecr__jw_object_close(w);
}

/* Serialize t into *doc (the stored form, no times) or into out (with the times). */
static int render(ecr_buf *out, const tpl *t, bool with_times, int64_t created_at, int64_t updated_at)
{
	ecr__jw *w = NULL;
	int rc = ecr__jw_new(&w);
	if (!rc && !(rc = write_template(w, t, with_times, created_at, updated_at)))
		rc = ecr__jw_finish(w, out);
	ecr__jw_free(w);
	return rc;
}

static int parse_doc(ecr__json **out, const char *text)
{
	return ecr__json_parse(out, text, strlen(text), NULL);
}

/* A stored document into t (it was validated when stored; this re-checks it). */
static int load_stored(tpl *t, const ecr__json *doc)
{
	memset(t, 0, sizeof(*t));
	t->prefix = ecr__json_get_string(doc, "prefix");
	if (!t->prefix)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "a stored creation template has no prefix");
	return apply(t, doc);
}

/* The stored template with its times, as ECR returns it, appended to out. */
static int render_stored(ecr_buf *out, const char *document, int64_t created_at, int64_t updated_at)
{
	ecr__json *doc = NULL;
	tpl t;
	int rc = parse_doc(&doc, document);
	if (!rc && !(rc = load_stored(&t, doc)))
		rc = render(out, &t, true, created_at, updated_at);
	ecr__json_free(doc);
	return rc;
}

static int not_found(const ecr_registry *reg, const char *prefix)
{
	return ecr__fail(
	    ECR_ETEMPLATE_NOT_FOUND, ECR_ERROR_REPOSITORY,
	    "The repository creation template with prefix '%s' does not exist in the registry with id '%s'", prefix,
	    reg->account_id);
}

/* --- remote registries --- */

/* Write a request object copied from a parsed document (registryId dropped). */
static int remote_request(ecr__jw **out, const ecr__json *in)
{
	ecr__jw *w = NULL;
	int rc = ecr__jw_new(&w);
	if (!rc)
		rc = ecr__jw_object_open(w);
	for (size_t i = 0; !rc && in && i < in->count; i++)
		if (strcmp(in->keys[i], "registryId") != 0 && !(rc = ecr__jw_key(w, in->keys[i])))
			rc = ecr__jw_value(w, in->values[i]);
	if (!rc)
		rc = ecr__jw_object_close(w);
	if (rc) {
		ecr__jw_free(w);
		w = NULL;
	}
	*out = w;
	return rc;
}

/* out (may be NULL) receives the repositoryCreationTemplate member of res. */
static int remote_template_out(ecr_buf *out, ecr_registry *reg, const ecr__json *res, const char *operation)
{
	const ecr__json *t = ecr__json_get(res, "repositoryCreationTemplate");
	if (!t || t->type != ECR__JSON_OBJECT)
		return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
		                 "%s: the response of %s has no repositoryCreationTemplate", ECR__REMOTE_HOST(reg),
		                 operation);
	if (!out)
		return 0;
	ecr__buf_clear(out);
	return ecr__json_to_buf(out, t);
}

static int remote_put(ecr_buf *out, ecr_registry *reg, const ecr__json *in, int create)
{
	const char *op = create ? "CreateRepositoryCreationTemplate" : "UpdateRepositoryCreationTemplate";
	ecr__jw *w = NULL;
	ecr__json *res = NULL;
	int rc = remote_request(&w, in);
	if (!rc && !(rc = ecr__remote_call(&res, reg, op, w)))
		rc = remote_template_out(out, reg, res, op);
	ecr__json_free(res);
	return rc;
}

static int remote_delete(ecr_buf *out, ecr_registry *reg, const char *prefix)
{
	ecr__jw *w = NULL;
	ecr__json *res = NULL;
	int rc = ecr__jw_new(&w);
	if (!rc && !(rc = ecr__jw_object_open(w)) && !(rc = ecr__jw_key_string(w, "prefix", prefix)) &&
	    !(rc = ecr__jw_object_close(w))) {
		rc = ecr__remote_call(&res, reg, "DeleteRepositoryCreationTemplate", w);
		w = NULL;
		if (!rc)
			rc = remote_template_out(out, reg, res, "DeleteRepositoryCreationTemplate");
	}
	ecr__jw_free(w);
	ecr__json_free(res);
	return rc;
}

/* DescribeRepositoryCreationTemplates, every page, into one array. */
static int remote_list(ecr_buf *out, ecr_registry *reg, const char *const *prefixes, size_t count)
{
	ecr__jw *all = NULL, *w = NULL;
	ecr__json *res = NULL;
	char *token = NULL;
	ecr_buf found = ECR_BUF_INIT; /* the prefixes seen, NUL-separated */
	int rc = ecr__jw_new(&all);
	if (!rc)
		rc = ecr__jw_array_open(all);
	for (int page = 0; !rc; page++) {
		if (page == MAX_REMOTE_PAGES) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
			               "%s: DescribeRepositoryCreationTemplates never ends", ECR__REMOTE_HOST(reg));
			break;
		}
		if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)))
			break;
		if (count) {
			if ((rc = ecr__jw_key(w, "prefixes")) || (rc = ecr__jw_array_open(w)))
				break;
			for (size_t i = 0; i < count && !rc; i++)
				rc = ecr__jw_string(w, prefixes[i]);
			if (rc || (rc = ecr__jw_array_close(w)))
				break;
		}
		if (token && (rc = ecr__jw_key_string(w, "nextToken", token)))
			break;
		if ((rc = ecr__jw_object_close(w)))
			break;
		rc = ecr__remote_call(&res, reg, "DescribeRepositoryCreationTemplates", w);
		w = NULL;
		if (rc)
			break;
		const ecr__json *list = ecr__json_get(res, "repositoryCreationTemplates");
		if (list && list->type != ECR__JSON_ARRAY) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
			               "%s: malformed DescribeRepositoryCreationTemplates response",
			               ECR__REMOTE_HOST(reg));
			break;
		}
		for (size_t i = 0; list && i < list->count && !rc; i++) {
			const char *p = ecr__json_get_string(list->values[i], "prefix");
			if (!(rc = ecr__jw_value(all, list->values[i])) && p)
				rc = ecr__buf_put(&found, p, strlen(p) + 1);
		}
		const char *next = ecr__json_get_string(res, "nextToken");
		ecr__free(token);
		token = NULL;
		if (!rc && next && *next && !(token = ecr__strdup(next)))
			rc = ECR_ENOMEM;
		ecr__json_free(res);
		res = NULL;
		if (rc || !token)
			break;
	}
	for (size_t i = 0; !rc && i < count; i++) {
		bool seen = false;
		for (size_t off = 0; off < found.size && !seen; off += strlen(found.ptr + off) + 1)
			seen = strcmp(found.ptr + off, prefixes[i]) == 0;
		if (!seen)
			rc = not_found(reg, prefixes[i]);
	}
	if (!rc && !(rc = ecr__jw_array_close(all))) {
		ecr__buf_clear(out);
		rc = ecr__jw_finish(all, out);
	}
	ecr__jw_free(all);
	ecr__jw_free(w);
	ecr__json_free(res);
	ecr__free(token);
	ecr_buf_dispose(&found);
	return rc;
}

/* --- the public API --- */

struct stored {
	char *document;
	int64_t created_at, updated_at;
};

static int stored_cb(const char *prefix, const char *document, int64_t created_at, int64_t updated_at, void *payload)
{
	struct stored *s = payload;
	(void)prefix;
	ecr__free(s->document);
	if (!(s->document = ecr__strdup(document)))
		return ECR_ENOMEM;
	s->created_at = created_at;
	s->updated_at = updated_at;
	return 0;
}

int ecr_registry_put_creation_template(ecr_buf *out, ecr_registry *reg, const char *json, int create)
{
	ecr__json *in = NULL, *old = NULL;
	struct stored st = {NULL, 0, 0};
	ecr_buf doc = ECR_BUF_INIT;
	ecr__txn t = {0};
	tpl tp;
	int rc;

	if (!reg || !json)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or no template");
	if ((rc = parse_doc(&in, json)))
		goto done;
	if (in->type != ECR__JSON_OBJECT) {
		rc = pfail("template", "must be a JSON object");
		goto done;
	}
	const char *prefix = NULL;
	if ((rc = get_string(&prefix, ecr__json_get(in, "prefix"), "prefix", 0)) || (rc = check_prefix(prefix)))
		goto done;
	if (create && !ecr__json_get(in, "appliedFor")) {
		rc = vfail("appliedFor", NULL, "not be null");
		goto done;
	}
	/* every member on its own (an update's cross-member checks need the stored template) */
	memset(&tp, 0, sizeof(tp));
	tp.prefix = prefix;
	if ((rc = apply(&tp, in)) || (create && (rc = check_whole(&tp))))
		goto done;
	if (reg->remote) {
		rc = remote_put(out, reg, in, create);
		goto done;
	}

	int64_t now = ecr_registry_now(reg);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		goto done;
	if (create) {
		int64_t n = 0;
		if ((rc = ecr__meta_template_count(&t, reg->id, &n)))
			goto done;
		if (n >= MAX_TEMPLATES) {
			rc = ecr__fail(
			    ECR_ELIMIT, ECR_ERROR_REPOSITORY,
			    "The maximum number of repository creation templates (%d) in the registry with id '%s' has "
			    "been reached",
			    MAX_TEMPLATES, reg->account_id);
			goto done;
		}
		if ((rc = render(&doc, &tp, false, 0, 0)))
			goto done;
		rc = ecr__meta_template_insert(&t, reg->id, prefix, doc.ptr, now);
		if (rc == ECR_EEXISTS)
			rc = ecr__fail(ECR_ETEMPLATE_EXISTS, ECR_ERROR_REPOSITORY,
			               "The repository creation template with prefix '%s' already exists in the "
			               "registry with id '%s'",
			               prefix, reg->account_id);
		st.created_at = st.updated_at = now;
	} else {
		rc = ecr__meta_template_list(&t, reg->id, prefix, stored_cb, &st);
		if (rc == ECR_ENOTFOUND)
			rc = not_found(reg, prefix);
		if (rc || (rc = parse_doc(&old, st.document)) || (rc = load_stored(&tp, old)) ||
		    (rc = apply(&tp, in)) || (rc = check_whole(&tp)) || (rc = render(&doc, &tp, false, 0, 0)))
			goto done;
		tp.prefix = prefix;
		rc = ecr__meta_template_update(&t, reg->id, prefix, doc.ptr, now);
		st.updated_at = now;
	}
	if (rc || (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&reg->log, ECR_LOG_INFO, "%s repository creation template %s", create ? "created" : "updated", prefix);
	if (out) {
		ecr__buf_clear(out);
		rc = render(out, &tp, true, st.created_at, st.updated_at);
	}
done:
	ecr__txn_rollback(&t);
	ecr__json_free(in);
	ecr__json_free(old);
	ecr__free(st.document);
	ecr_buf_dispose(&doc);
	return rc;
}

int ecr_registry_delete_creation_template(ecr_buf *deleted_out, ecr_registry *reg, const char *prefix)
{
	struct stored st = {NULL, 0, 0};
	ecr__txn t = {0};
	int rc;

	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry");
	if ((rc = check_prefix(prefix)))
		return rc;
	if (reg->remote)
		return remote_delete(deleted_out, reg, prefix);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		return rc;
	rc = ecr__meta_template_list(&t, reg->id, prefix, stored_cb, &st);
	if (!rc)
		rc = ecr__meta_template_delete(&t, reg->id, prefix);
	if (rc == ECR_ENOTFOUND)
		rc = not_found(reg, prefix);
	if (rc || (rc = ecr__txn_commit(&t)))
		goto done;
	ecr__log(&reg->log, ECR_LOG_INFO, "deleted repository creation template %s", prefix);
	if (deleted_out) {
		ecr__buf_clear(deleted_out);
		rc = render_stored(deleted_out, st.document, st.created_at, st.updated_at);
	}
done:
	ecr__txn_rollback(&t);
	ecr__free(st.document);
	return rc;
}

struct collect {
	ecr_buf *out;
	size_t n;
};

static int collect_cb(const char *prefix, const char *document, int64_t created_at, int64_t updated_at, void *payload)
{
	struct collect *c = payload;
	int rc;
	(void)prefix;
	if (c->n++ && (rc = ecr__buf_put(c->out, ",", 1)))
		return rc;
	return render_stored(c->out, document, created_at, updated_at);
}

int ecr_registry_creation_templates(ecr_buf *out, ecr_registry *reg, const char *const *prefixes, size_t prefixes_count)
{
	ecr_buf tmp = ECR_BUF_INIT;
	ecr__txn t = {0};
	struct collect c = {&tmp, 0};
	int rc;

	if (!out || !reg || (prefixes_count && !prefixes))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no buffer, no registry or no prefixes");
	for (size_t i = 0; i < prefixes_count; i++)
		if ((rc = check_prefix(prefixes[i])))
			return rc;
	if (reg->remote)
		return remote_list(out, reg, prefixes, prefixes_count);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)) || (rc = ecr__buf_put(&tmp, "[", 1)))
		goto done;
	if (!prefixes_count) {
		rc = ecr__meta_template_list(&t, reg->id, NULL, collect_cb, &c);
	} else {
		/* in prefix order, each once */
		const char *last = NULL;
		for (;;) {
			const char *next = NULL;
			for (size_t i = 0; i < prefixes_count; i++)
				if ((!last || strcmp(prefixes[i], last) > 0) &&
				    (!next || strcmp(prefixes[i], next) < 0))
					next = prefixes[i];
			if (!next)
				break;
			rc = ecr__meta_template_list(&t, reg->id, next, collect_cb, &c);
			if (rc == ECR_ENOTFOUND)
				rc = not_found(reg, next);
			if (rc)
				break;
			last = next;
		}
	}
	if (rc || (rc = ecr__buf_put(&tmp, "]", 1)))
		goto done;
	ecr__buf_clear(out);
	rc = ecr__buf_put(out, tmp.ptr, tmp.size);
done:
	ecr__txn_rollback(&t);
	ecr_buf_dispose(&tmp);
	return rc;
}

/* How well prefix applies to name: 0 not at all, 1 ROOT, else 1 + its length. */
static size_t match_score(const char *prefix, const char *name)
{
	size_t n = strlen(prefix);
	if (strcmp(prefix, "ROOT") == 0)
		return 1;
	if (n == 0 || strncmp(name, prefix, n) != 0)
		return 0;
	if (prefix[n - 1] == '/')
		return name[n] ? n + 1 : 0;
	return name[n] == '\0' || name[n] == '/' ? n + 1 : 0;
}

struct pick {
	const char *name;
	uint32_t applied_for;
	size_t best_score;
	char *best_doc;
};

static int pick_cb(const char *prefix, const char *document, int64_t created_at, int64_t updated_at, void *payload)
{
	struct pick *p = payload;
	ecr__json *doc = NULL;
	tpl t;
	int rc;
	(void)created_at;
	(void)updated_at;
	size_t score = match_score(prefix, p->name);
	if (score <= p->best_score)
		return 0;
	if ((rc = parse_doc(&doc, document)) || (rc = load_stored(&t, doc)))
		goto done;
	if (t.applied_for & p->applied_for) {
		ecr__free(p->best_doc);
		if (!(p->best_doc = ecr__strdup(document))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		p->best_score = score;
	}
done:
	ecr__json_free(doc);
	return rc;
}

/* Create the repository with t's settings, then its policies; all or nothing. */
static int create_with(ecr_repository **out, ecr_registry *reg, const char *name, const tpl *t)
{
	ecr_repository_options opts = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_resource_tag tags[MAX_RESOURCE_TAGS];
	const char *exclusions[MAX_EXCLUSIONS];
	ecr_repository *repo = NULL;
	int rc;

	opts.tag_mutability = t->mutability;
	for (size_t i = 0; t->exclusions && i < t->exclusions->count && i < MAX_EXCLUSIONS; i++)
		exclusions[opts.exclusions_count++] = ecr__json_get_string(t->exclusions->values[i], "filter");
	opts.exclusions = opts.exclusions_count ? exclusions : NULL;
	opts.encryption_type = t->encryption;
	opts.kms_key = t->kms_key;
	for (size_t i = 0; t->tags && i < t->tags->count && i < MAX_RESOURCE_TAGS; i++) {
		tags[i].key = ecr__json_get_string(t->tags->values[i], "Key");
		tags[i].value = ecr__json_get_string(t->tags->values[i], "Value");
		opts.tags_count++;
	}
	opts.tags = opts.tags_count ? tags : NULL;
	if ((rc = ecr_repository_create(&repo, reg, name, &opts)))
		return rc;
	if (t->repository_policy)
		rc = ecr_repository_set_policy(repo, t->repository_policy, ECR_POLICY_FORCE);
	if (!rc && t->lifecycle_policy)
		rc = ecr_repository_set_lifecycle_policy(repo, t->lifecycle_policy);
	if (rc) {
		ecr__error_saved saved;
		ecr__error_save(&saved);
		ecr_repository_free(repo);
		repo = NULL;
		if (ecr_repository_delete(reg, name, ECR_REPOSITORY_DELETE_FORCE))
			ecr__log(&reg->log, ECR_LOG_ERROR,
			         "could not delete repository %s after its template failed: %s", name,
			         ecr_error_last()->message);
		ecr__error_restore(&saved);
		return rc;
	}
	if (out)
		*out = repo;
	else
		ecr_repository_free(repo);
	return 0;
}

/* The remote's templates (every page) through pick_cb, each without the members ECR adds to a stored one. */
static int remote_pick(struct pick *p, ecr_registry *reg)
{
	ecr_buf list = ECR_BUF_INIT, doc = ECR_BUF_INIT;
	ecr__json *arr = NULL;
	ecr__jw *w = NULL;
	int rc = remote_list(&list, reg, NULL, 0);
	if (!rc)
		rc = ecr__json_parse(&arr, list.ptr ? list.ptr : "[]", list.ptr ? list.size : 2, NULL);
	for (size_t i = 0; !rc && i < arr->count; i++) {
		const ecr__json *e = arr->values[i];
		const char *prefix = ecr__json_get_string(e, "prefix");
		if (e->type != ECR__JSON_OBJECT || !prefix) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
			               "%s: a repository creation template without a prefix", ECR__REMOTE_HOST(reg));
			break;
		}
		if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)))
			break;
		for (size_t k = 0; !rc && k < e->count; k++)
			if (strcmp(e->keys[k], "createdAt") != 0 && strcmp(e->keys[k], "updatedAt") != 0 &&
			    !(rc = ecr__jw_key(w, e->keys[k])))
				rc = ecr__jw_value(w, e->values[k]);
		if (rc || (rc = ecr__jw_object_close(w)))
			break;
		ecr__buf_clear(&doc);
		rc = ecr__jw_finish(w, &doc);
		ecr__jw_free(w);
		w = NULL;
		if (!rc)
			rc = pick_cb(prefix, doc.ptr, 0, 0, p);
	}
	ecr__jw_free(w);
	ecr__json_free(arr);
	ecr_buf_dispose(&list);
	ecr_buf_dispose(&doc);
	return rc;
}

int ecr_repository_create_templated(ecr_repository **out, ecr_registry *reg, const char *name, uint32_t applied_for)
{
	struct pick p = {name, applied_for, 0, NULL};
	ecr__json *doc = NULL;
	ecr__txn t = {0};
	tpl tp;
	int rc;

	if (out)
		*out = NULL;
	if (!reg || !name)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no registry or no repository name");
	if (applied_for != ECR_TEMPLATE_REPLICATION && applied_for != ECR_TEMPLATE_PULL_THROUGH_CACHE &&
	    applied_for != ECR_TEMPLATE_CREATE_ON_PUSH)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid template use %u: one ECR_TEMPLATE_* value",
		                 (unsigned)applied_for);
	/* A remote registry's CreateRepository does not apply its templates (ECR applies them only when it
	 * creates a repository itself: replication, pull-through cache, create-on-push): pick one from its
	 * DescribeRepositoryCreationTemplates here. Without the template operations there (a plain OCI registry,
	 * or credentials that may not list them) the repository gets the default settings, as before. */
	if (reg->remote) {
		rc = remote_pick(&p, reg);
		if (rc == ECR_ENOTSUPPORTED || rc == ECR_EDENIED) {
			ecr__log(&reg->log, ECR_LOG_WARN, "repository %s: the creation templates of %s were not read (%s): "
			         "default settings", name, ECR__REMOTE_HOST(reg), ecr_error_last()->message);
			rc = 0;
		}
	} else if (!(rc = ecr__txn_begin(&t, reg->store->meta, false))) {
		rc = ecr__meta_template_list(&t, reg->id, NULL, pick_cb, &p);
		ecr__txn_rollback(&t);
	}
	if (rc)
		goto done;
	if (!p.best_doc) {
		rc = ecr_repository_create(out, reg, name, NULL);
		goto done;
	}
	if ((rc = parse_doc(&doc, p.best_doc)) || (rc = load_stored(&tp, doc)))
		goto done;
	ecr__log(&reg->log, ECR_LOG_DEBUG, "repository %s: creation template %s", name, tp.prefix);
	rc = create_with(out, reg, name, &tp);
done:
	ecr__json_free(doc);
	ecr__free(p.best_doc);
	return rc;
}
