/* ECR control-plane operations on repositories, policies, tags, the registry,
 * account settings and authorization tokens. */
#include "ecr_api.h"

#include <stdio.h>

#include "../core/crypto.h"
#include "../engine/engine.h"
#include "ecr/auth.h"
#include "ecr/public.h"

#define MAX_EXCLUSIONS 5
#define MAX_TAGS_INPUT 200
#define ENUM_MUTABILITY "[MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]"

static int invalid(const char *field, const char *reason)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "Invalid parameter at '%s' failed to satisfy constraint: '%s'",
		field, reason);
}

/* An optional member of a given type in obj; *out NULL when absent. */
static int member(const ecr__json **out, ecr_api_call *call, const ecr__json *obj, const char *field,
	ecr__json_type type)
{
	static const char *const names[] = { "null", "a boolean", "a number", "a string", "a list", "a structure" };
	*out = NULL;
	const ecr__json *v = ecr__json_get(obj, field);
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != type)
		return ecr__api_type_error(call, field, names[type]);
	*out = v;
	return 0;
}

/* An optional list with 1..max items (max 0: no limit). */
static int list_member(const ecr__json **out, ecr_api_call *call, const ecr__json *obj, const char *field, size_t min,
	size_t max)
{
	char reason[96];
	int rc = member(out, call, obj, field, ECR__JSON_ARRAY);
	if (rc || !*out)
		return rc;
	if ((*out)->count < min) {
		snprintf(reason, sizeof(reason), "Member must have length greater than or equal to %zu", min);
		return invalid(field, reason);
	}
	if (max && (*out)->count > max) {
		snprintf(reason, sizeof(reason), "Member must have length less than or equal to %zu", max);
		return invalid(field, reason);
	}
	return 0;
}


/* Validate repositoryName, authorize the action on its ARN, open it. */
static int open_repo(ecr_repository **out, ecr_api_call *call, const char *action)
{
	const char *name;
	ecr_buf arn = ECR_BUF_INIT;
	*out = NULL;
	int rc = ecr__api_string(&name, call, "repositoryName", true, 2, ecr__api_name_max(call));
	if (!rc && !(rc = ecr__api_repository_arn(&arn, call, name)) && !(rc = ecr__api_authorize(call, action, arn.ptr)))
		rc = ecr__api_repository(out, call);
	ecr_buf_dispose(&arn);
	return rc;
}

static bool filter_char_ok(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
		c == '*' || c == '-';
}

/* imageTagMutability (required or not) and imageTagMutabilityExclusionFilters. */
static int parse_mutability_input(ecr_tag_mutability *m, const char **filters, size_t *nfilters, ecr_api_call *call,
	bool required)
{
	const char *s;
	const ecr__json *list;
	int rc;
	*m = ECR_TAG_MUTABLE;
	*nfilters = 0;
	if ((rc = ecr__api_string(&s, call, "imageTagMutability", required, 0, 0)))
		return rc;
	if (s && !ecr__repository_mutability_parse(m, s))
		return invalid("imageTagMutability", "Member must satisfy enum value set: " ENUM_MUTABILITY);
	if ((rc = list_member(&list, call, call->input, "imageTagMutabilityExclusionFilters", 1, MAX_EXCLUSIONS)))
		return rc;
	for (size_t i = 0; list && i < list->count; i++) {
		const ecr__json *f = list->values[i];
		if (f->type != ECR__JSON_OBJECT)
			return ecr__api_type_error(call, "imageTagMutabilityExclusionFilters", "a structure");
		const ecr__json *type, *value;
		if ((rc = member(&type, call, f, "filterType", ECR__JSON_STRING)) ||
			(rc = member(&value, call, f, "filter", ECR__JSON_STRING)))
			return rc;
		if (!type || strcmp(type->string, "WILDCARD") != 0)
			return invalid("imageTagMutabilityExclusionFilters.member.filterType",
				"Member must satisfy enum value set: [WILDCARD]");
		bool ok = value && value->length >= 1 && value->length <= 128 && strlen(value->string) == value->length;
		for (size_t j = 0; ok && j < value->length; j++)
			ok = filter_char_ok(value->string[j]);
		if (!ok)
			return invalid("imageTagMutabilityExclusionFilters.member.filter",
				"Member must satisfy regular expression pattern: ^[0-9a-zA-Z._*-]{1,128}$");
		filters[(*nfilters)++] = value->string;
	}
	return 0;
}

static int write_filters(ecr__jw *w, const ecr_repository *repo)
{
	size_t n = ecr_repository_exclusion_count(repo);
	int rc;
	if (!n)
		return 0;
	if ((rc = ecr__jw_key(w, "imageTagMutabilityExclusionFilters")) || (rc = ecr__jw_array_open(w)))
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "filterType", "WILDCARD")) ||
		    (rc = ecr__jw_key_string(w, "filter", ecr_repository_exclusion(repo, i))) ||
		    (rc = ecr__jw_object_close(w)))
			return rc;
	return ecr__jw_array_close(w);
}

/* A list of {Key, Value} into tags (at most max). */
static int parse_tags(ecr_resource_tag *tags, size_t *count, ecr_api_call *call, const ecr__json *list)
{
	int rc;
	*count = 0;
	if (!list)
		return 0;
	if (list->count > MAX_TAGS_INPUT)
		return ecr__fail(ECR_ETOO_MANY_TAGS, ECR_ERROR_INVALID, "A resource can have at most 50 tags");
	for (size_t i = 0; i < list->count; i++) {
		const ecr__json *t = list->values[i], *k, *v;
		if (t->type != ECR__JSON_OBJECT)
			return ecr__api_type_error(call, "tags", "a structure");
		if ((rc = member(&k, call, t, "Key", ECR__JSON_STRING)) || (rc = member(&v, call, t, "Value", ECR__JSON_STRING)))
			return rc;
		if (!k)
			return invalid("tags.member.Key", "Member must not be null");
		if (!v)
			return invalid("tags.member.Value", "Member must not be null");
		tags[i] = (ecr_resource_tag){ k->string, v->string };
	}
	*count = list->count;
	return 0;
}

/* --- repositories --- */

static int op_create_repository(ecr_api_call *call)
{
	const char *name, *filters[MAX_EXCLUSIONS];
	const ecr__json *tags_in, *scan, *enc, *v;
	ecr_resource_tag *tags = NULL;
	ecr_repository *repo = NULL;
	ecr_buf arn = ECR_BUF_INIT, kms = ECR_BUF_INIT;
	ecr_repository_options o = ECR_REPOSITORY_OPTIONS_INIT;
	int rc;

	if ((rc = ecr__api_string(&name, call, "repositoryName", true, 2, 256)) ||
		(rc = parse_mutability_input(&o.tag_mutability, filters, &o.exclusions_count, call, false)) ||
		(rc = list_member(&tags_in, call, call->input, "tags", 0, 0)) ||
		(rc = member(&scan, call, call->input, "imageScanningConfiguration", ECR__JSON_OBJECT)) ||
		(rc = member(&enc, call, call->input, "encryptionConfiguration", ECR__JSON_OBJECT)))
		goto done;
	o.exclusions = filters;
	if (tags_in && tags_in->count) {
		if (!(tags = ecr__calloc(tags_in->count, sizeof(*tags)))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		if ((rc = parse_tags(tags, &o.tags_count, call, tags_in)))
			goto done;
		o.tags = tags;
	}
	if (scan) {
		if ((rc = member(&v, call, scan, "scanOnPush", ECR__JSON_BOOL)))
			goto done;
		o.scan_on_push = v && v->boolean;
	}
	if (enc) {
		const ecr__json *key;
		if ((rc = member(&v, call, enc, "encryptionType", ECR__JSON_STRING)) ||
			(rc = member(&key, call, enc, "kmsKey", ECR__JSON_STRING)))
			goto done;
		if (!v) {
			rc = invalid("encryptionConfiguration.encryptionType", "Member must not be null");
			goto done;
		}
		if (!ecr__repository_encryption_parse(&o.encryption_type, v->string)) {
			rc = invalid("encryptionConfiguration.encryptionType",
				"Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]");
			goto done;
		}
		if (key && (key->length < 1 || key->length > 2048)) {
			rc = invalid("encryptionConfiguration.kmsKey", "Member must have length less than or equal to 2048");
			goto done;
		}
		if (key && o.encryption_type == ECR_ENCRYPTION_AES256) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
				"Invalid parameter at 'encryptionConfiguration' failed to satisfy constraint: 'A KMS key can "
				"only be given with encryption type KMS or KMS_DSSE'");
			goto done;
		}
		if (key)
			o.kms_key = key->string;
		else if (o.encryption_type != ECR_ENCRYPTION_AES256) {
			/* the AWS-managed key */
			if ((rc = ecr__buf_printf(&kms, "arn:aws:kms:%s:%s:alias/aws/ecr", ecr_registry_region(call->reg),
				     ecr_registry_account_id(call->reg))))
				goto done;
			o.kms_key = kms.ptr;
		}
	}
	if ((rc = ecr__api_repository_arn(&arn, call, name)) || (rc = ecr__api_authorize(call, "CreateRepository", arn.ptr)))
		goto done;
	if ((rc = ecr_repository_create(&repo, call->reg, name, &o)))
		goto done;
	if ((rc = ecr__jw_key(call->out, "repository")) || (rc = ecr__api_write_repository(call->out, call, repo)))
		goto done;
done:
	ecr_repository_free(repo);
	ecr__free(tags);
	ecr_buf_dispose(&arn);
	ecr_buf_dispose(&kms);
	return rc;
}

static int op_describe_repositories(ecr_api_call *call)
{
	const ecr__json *names;
	const char *token;
	int64_t max;
	bool max_given;
	ecr_repository_iterator *it = NULL;
	ecr_repository *repo = NULL;
	ecr_buf arn = ECR_BUF_INIT, next = ECR_BUF_INIT;
	int rc;

	if ((rc = list_member(&names, call, call->input, "repositoryNames", 1, 100)) ||
		(rc = ecr__api_string(&token, call, "nextToken", false, 0, 0)) ||
		(rc = ecr__api_int(&max, &max_given, call, "maxResults", 1, 1000, 100)))
		goto done;
	if (names && (token || max_given)) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'repositoryNames cannot be "
			"used together with nextToken or maxResults'");
		goto done;
	}
	if (names) {
		for (size_t i = 0; i < names->count; i++) {
			const ecr__json *n = names->values[i];
			if (n->type != ECR__JSON_STRING) {
				rc = ecr__api_type_error(call, "repositoryNames", "a string");
				goto done;
			}
		}
		if ((rc = ecr__jw_key(call->out, "repositories")) || (rc = ecr__jw_array_open(call->out)))
			goto done;
		for (size_t i = 0; i < names->count; i++) {
			const char *name = names->values[i]->string;
			ecr_repository *r = NULL;
			size_t len = names->values[i]->length;
			if (len < 2 || len > ecr__api_name_max(call) || strlen(name) != len) {
				char reason[96];
				snprintf(reason, sizeof(reason),
					"Member must satisfy constraint: [Member must have length between 2 and %zu]",
					ecr__api_name_max(call));
				rc = invalid("repositoryNames", reason);
				goto done;
			}
			if ((rc = ecr__api_repository_arn(&arn, call, name)) ||
				(rc = ecr__api_authorize(call, "DescribeRepositories", arn.ptr)) ||
				(rc = ecr_repository_open(&r, call->reg, name)))
				goto done;
			rc = ecr__api_write_repository(call->out, call, r);
			ecr_repository_free(r);
			if (rc)
				goto done;
		}
		rc = ecr__jw_array_close(call->out);
		goto done;
	}
	if ((rc = ecr__api_repository_arn(&arn, call, "*")) || (rc = ecr__api_authorize(call, "DescribeRepositories", arn.ptr)))
		goto done;
	if ((rc = ecr_repository_iterator_new(&it, call->reg, token && *token ? token : NULL))) {
		if (rc == ECR_EINVALID)
			rc = invalid("nextToken", "Invalid NextToken");
		goto done;
	}
	if ((rc = ecr__jw_key(call->out, "repositories")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	bool more = false;
	for (int64_t n = 0;; n++) {
		rc = ecr_repository_iterator_next(&repo, it);
		if (rc == ECR_ITEROVER) {
			rc = 0;
			break;
		}
		if (rc)
			goto done;
		if (n == max) {
			more = true;
			break;
		}
		if ((rc = ecr__api_write_repository(call->out, call, repo)))
			goto done;
		ecr__buf_clear(&next);
		if ((rc = ecr_repository_iterator_token(&next, it)))
			goto done;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	if (more && next.size)
		rc = ecr__jw_key_string(call->out, "nextToken", next.ptr);
done:
	ecr_repository_iterator_free(it);
	ecr_buf_dispose(&arn);
	ecr_buf_dispose(&next);
	return rc;
}

static int op_delete_repository(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	bool force;
	int rc;
	if ((rc = ecr__api_bool(&force, call, "force", false)) || (rc = open_repo(&repo, call, "DeleteRepository")))
		goto done;
	if ((rc = ecr_repository_delete(call->reg, ecr_repository_name(repo), force ? ECR_REPOSITORY_DELETE_FORCE : 0)))
		goto done;
	if ((rc = ecr__jw_key(call->out, "repository")) || (rc = ecr__api_write_repository(call->out, call, repo)))
		goto done;
done:
	ecr_repository_free(repo);
	return rc;
}

static int op_put_image_tag_mutability(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const char *filters[MAX_EXCLUSIONS];
	size_t n;
	const char *name;
	ecr_tag_mutability m;
	int rc;
	if ((rc = ecr__api_string(&name, call, "repositoryName", true, 2, 256)) ||
		(rc = parse_mutability_input(&m, filters, &n, call, true)) ||
		(rc = open_repo(&repo, call, "PutImageTagMutability")) ||
		(rc = ecr_repository_set_tag_mutability(repo, m, filters, n)))
		goto done;
	if ((rc = ecr__jw_key_string(call->out, "registryId", ecr_repository_registry_id(repo))) ||
	    (rc = ecr__jw_key_string(call->out, "repositoryName", ecr_repository_name(repo))) ||
	    (rc = ecr__jw_key_string(call->out, "imageTagMutability",
	                             ecr__repository_mutability_name(ecr_repository_tag_mutability(repo)))) ||
	    (rc = write_filters(call->out, repo)))
		goto done;
done:
	ecr_repository_free(repo);
	return rc;
}

static int op_put_image_scanning_configuration(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const char *name;
	const ecr__json *scan, *v = NULL;
	int rc;
	if ((rc = ecr__api_string(&name, call, "repositoryName", true, 2, 256)) ||
		(rc = member(&scan, call, call->input, "imageScanningConfiguration", ECR__JSON_OBJECT)))
		goto done;
	if (!scan) {
		rc = invalid("imageScanningConfiguration", "Member must not be null");
		goto done;
	}
	if ((rc = member(&v, call, scan, "scanOnPush", ECR__JSON_BOOL)) ||
		(rc = open_repo(&repo, call, "PutImageScanningConfiguration")) ||
		(rc = ecr_repository_set_scan_on_push(repo, v && v->boolean)))
		goto done;
	if ((rc = ecr__jw_key_string(call->out, "registryId", ecr_repository_registry_id(repo))) ||
	    (rc = ecr__jw_key_string(call->out, "repositoryName", ecr_repository_name(repo))) ||
	    (rc = ecr__jw_key(call->out, "imageScanningConfiguration")) || (rc = ecr__jw_object_open(call->out)) ||
	    (rc = ecr__jw_key(call->out, "scanOnPush")) ||
	    (rc = ecr__jw_bool(call->out, ecr_repository_scan_on_push(repo) != 0)) ||
	    (rc = ecr__jw_object_close(call->out)))
		goto done;
done:
	ecr_repository_free(repo);
	return rc;
}

/* --- repository policies --- */

static int policy_output(ecr_api_call *call, ecr_repository *repo, const char *text)
{
	int rc;
	if ((rc = ecr__jw_key_string(call->out, "registryId", ecr_repository_registry_id(repo))) ||
	    (rc = ecr__jw_key_string(call->out, "repositoryName", ecr_repository_name(repo))))
		return rc;
	return text ? ecr__jw_key_string(call->out, "policyText", text) : 0;
}

static int policy_invalid(ecr_api_call *call, int rc, const char *field, const char *what)
{
	if (rc != ECR_EINVALID)
		return rc;
	/* ECR's words exactly (clients match on them); the library's reason goes to the log */
	ecr__log(&call->r->srv->log, ECR_LOG_DEBUG, "invalid %s policy: %s", what, ecr_error_last()->message);
	return ecr__fail(ECR_EINVALID, ECR_ERROR_POLICY,
		"Invalid parameter at '%s' failed to satisfy constraint: 'Invalid %s policy provided'", field, what);
}

static int op_set_repository_policy(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const char *text;
	bool force;
	int rc;
	if ((rc = ecr__api_string(&text, call, "policyText", true, 0, ECR_POLICY_MAX_SIZE)) ||
		(rc = ecr__api_bool(&force, call, "force", false)) || (rc = open_repo(&repo, call, "SetRepositoryPolicy")))
		goto done;
	if ((rc = ecr_repository_set_policy(repo, text, force ? ECR_POLICY_FORCE : 0))) {
		rc = policy_invalid(call, rc, "PolicyText", "repository");
		goto done;
	}
	rc = policy_output(call, repo, text);
done:
	ecr_repository_free(repo);
	return rc;
}

static int op_get_repository_policy(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_buf text = ECR_BUF_INIT;
	int rc;
	if ((rc = open_repo(&repo, call, "GetRepositoryPolicy")) || (rc = ecr_repository_policy(&text, repo)))
		goto done;
	rc = policy_output(call, repo, text.ptr ? text.ptr : "");
done:
	ecr_repository_free(repo);
	ecr_buf_dispose(&text);
	return rc;
}

static int op_delete_repository_policy(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_buf text = ECR_BUF_INIT;
	int rc;
	if ((rc = open_repo(&repo, call, "DeleteRepositoryPolicy")) || (rc = ecr_repository_delete_policy(&text, repo)))
		goto done;
	rc = policy_output(call, repo, text.ptr ? text.ptr : "");
done:
	ecr_repository_free(repo);
	ecr_buf_dispose(&text);
	return rc;
}

/* --- the registry --- */

static int registry_authorize(ecr_api_call *call, const char *action)
{
	return ecr__api_authorize(call, action, ecr_registry_arn(call->reg));
}

static int registry_policy_output(ecr_api_call *call, const char *text)
{
	int rc = ecr__jw_key_string(call->out, "registryId", ecr_registry_account_id(call->reg));
	return rc ? rc : ecr__jw_key_string(call->out, "policyText", text ? text : "");
}

static int op_put_registry_policy(ecr_api_call *call)
{
	const char *text;
	int rc;
	if ((rc = ecr__api_string(&text, call, "policyText", true, 0, ECR_POLICY_MAX_SIZE)) ||
		(rc = registry_authorize(call, "PutRegistryPolicy")))
		return rc;
	if ((rc = ecr_registry_set_policy(call->reg, text)))
		return policy_invalid(call, rc, "PolicyText", "registry");
	return registry_policy_output(call, text);
}

static int op_get_registry_policy(ecr_api_call *call)
{
	ecr_buf text = ECR_BUF_INIT;
	int rc;
	if (!(rc = registry_authorize(call, "GetRegistryPolicy")) && !(rc = ecr_registry_policy(&text, call->reg)))
		rc = registry_policy_output(call, text.ptr);
	ecr_buf_dispose(&text);
	return rc;
}

static int op_delete_registry_policy(ecr_api_call *call)
{
	ecr_buf text = ECR_BUF_INIT;
	int rc;
	if (!(rc = registry_authorize(call, "DeleteRegistryPolicy")) &&
		!(rc = ecr_registry_delete_policy(&text, call->reg)))
		rc = registry_policy_output(call, text.ptr);
	ecr_buf_dispose(&text);
	return rc;
}

static int op_describe_registry(ecr_api_call *call)
{
	ecr_buf conf = ECR_BUF_INIT;
	ecr__json *v = NULL;
	int rc;
	if (!(rc = registry_authorize(call, "DescribeRegistry")) &&
	    !(rc = ecr_registry_replication_configuration(&conf, call->reg)) &&
	    !(rc = ecr__json_parse(&v, conf.ptr, conf.size, NULL)) &&
	    !(rc = ecr__jw_key_string(call->out, "registryId", ecr_registry_account_id(call->reg))) &&
	    !(rc = ecr__jw_key(call->out, "replicationConfiguration")))
		rc = ecr__jw_value(call->out, v);
	ecr__json_free(v);
	ecr_buf_dispose(&conf);
	return rc;
}

static int op_get_account_setting(ecr_api_call *call)
{
	const char *name;
	ecr_buf value = ECR_BUF_INIT;
	int rc;
	if (!(rc = ecr__api_string(&name, call, "name", true, 1, 64)) &&
	    !(rc = registry_authorize(call, "GetAccountSetting")) &&
	    !(rc = ecr_registry_setting(&value, call->reg, name)) &&
	    !(rc = ecr__jw_key_string(call->out, "name", name)))
		rc = ecr__jw_key_string(call->out, "value", value.ptr ? value.ptr : "");
	ecr_buf_dispose(&value);
	return rc;
}

static int op_put_account_setting(ecr_api_call *call)
{
	const char *name, *value;
	int rc;
	if ((rc = ecr__api_string(&name, call, "name", true, 1, 64)) ||
	    (rc = ecr__api_string(&value, call, "value", true, 0, 0)) ||
	    (rc = registry_authorize(call, "PutAccountSetting")) ||
	    (rc = ecr_registry_set_setting(call->reg, name, value)) ||
	    (rc = ecr__jw_key_string(call->out, "name", name)))
		return rc;
	return ecr__jw_key_string(call->out, "value", value);
}

/* --- resource tags --- */

/* Parse resourceArn (arn:<partition>:ecr:<region>:<account>:repository/<name>), authorize, open the repository. */
static int open_arn(ecr_repository **out, ecr_api_call *call, const char *action)
{
	const char *arn;
	char region[64], account[13];
	ecr_registry *reg = NULL;
	*out = NULL;
	int rc = ecr__api_string(&arn, call, "resourceArn", true, 0, 0);
	if (rc)
		return rc;
	const char *p = arn, *fields[6];
	size_t lens[5];
	for (int i = 0; i < 5; i++) {
		const char *c = strchr(p, ':');
		if (!c)
			return invalid("resourceArn", "Invalid ARN");
		fields[i] = p;
		lens[i] = (size_t)(c - p);
		p = c + 1;
	}
	fields[5] = p;
	/* ECR Public's repositories: arn:<partition>:ecr-public::<account>:repository/<name> */
	bool pub = ecr__api_is_public(call);
	const char *service = pub ? "ecr-public" : "ecr";
	bool ok = lens[0] == 3 && strncmp(fields[0], "arn", 3) == 0 && lens[1] > 0 && lens[2] == strlen(service) &&
		strncmp(fields[2], service, lens[2]) == 0 && (pub ? lens[3] == 0 : lens[3] > 0) &&
		lens[3] < sizeof(region) && lens[4] == 12 && strncmp(fields[5], "repository/", 11) == 0 &&
		fields[5][11] != '\0';
	for (size_t i = 0; ok && i < 12; i++)
		ok = fields[4][i] >= '0' && fields[4][i] <= '9';
	for (size_t i = 0; ok && i < lens[3]; i++)
		ok = (fields[3][i] >= 'a' && fields[3][i] <= 'z') || (fields[3][i] >= '0' && fields[3][i] <= '9') ||
			fields[3][i] == '-';
	if (!ok)
		return invalid("resourceArn", "Invalid ARN");
	memcpy(region, fields[3], lens[3]);
	region[lens[3]] = '\0';
	if (pub)
		snprintf(region, sizeof(region), "%s", ECR_REGION_PUBLIC);
	memcpy(account, fields[4], 12);
	account[12] = '\0';
	if ((rc = ecr__api_registry(&reg, call, account, region)))
		return rc;
	call->reg = reg;
	const char *name = fields[5] + 11;
	if ((rc = ecr__api_authorize(call, action, arn)))
		return rc;
	return ecr_repository_open(out, reg, name);
}

static int op_tag_resource(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const ecr__json *list;
	ecr_resource_tag *tags = NULL;
	size_t n = 0;
	int rc;
	if ((rc = list_member(&list, call, call->input, "tags", 0, 0)))
		goto done;
	if (!list) {
		rc = invalid("tags", "Member must not be null");
		goto done;
	}
	if (list->count && !(tags = ecr__calloc(list->count, sizeof(*tags)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = parse_tags(tags, &n, call, list)) || (rc = open_arn(&repo, call, "TagResource")))
		goto done;
	if (n)
		rc = ecr_repository_tag_resource(repo, tags, n);
done:
	ecr_repository_free(repo);
	ecr__free(tags);
	return rc;
}

static int op_untag_resource(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const ecr__json *list;
	const char **keys = NULL;
	int rc;
	if ((rc = list_member(&list, call, call->input, "tagKeys", 0, 0)))
		goto done;
	if (!list) {
		rc = invalid("tagKeys", "Member must not be null");
		goto done;
	}
	if (list->count > MAX_TAGS_INPUT) {
		rc = invalid("tagKeys", "Member must have length less than or equal to 200");
		goto done;
	}
	if (list->count && !(keys = ecr__calloc(list->count, sizeof(*keys)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < list->count; i++) {
		if (list->values[i]->type != ECR__JSON_STRING) {
			rc = ecr__api_type_error(call, "tagKeys", "a string");
			goto done;
		}
		keys[i] = list->values[i]->string;
	}
	if ((rc = open_arn(&repo, call, "UntagResource")))
		goto done;
	if (list->count)
		rc = ecr_repository_untag_resource(repo, keys, list->count);
done:
	ecr_repository_free(repo);
	ecr__free(keys);
	return rc;
}

static int write_tag(const char *key, const char *value, void *payload)
{
	ecr__jw *w = payload;
	int rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "Key", key)) ||
	    (rc = ecr__jw_key_string(w, "Value", value)))
		return rc;
	return ecr__jw_object_close(w);
}

static int op_list_tags_for_resource(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	int rc;
	if (!(rc = open_arn(&repo, call, "ListTagsForResource")) && !(rc = ecr__jw_key(call->out, "tags")) &&
		!(rc = ecr__jw_array_open(call->out)) &&
		!(rc = ecr_repository_resource_tags(repo, write_tag, call->out)))
		rc = ecr__jw_array_close(call->out);
	ecr_repository_free(repo);
	return rc;
}

/* --- authorization tokens --- */

static int op_get_authorization_token(ecr_api_call *call)
{
	const ecr__json *ids;
	ecr_buf token = ECR_BUF_INIT, login = ECR_BUF_INIT, b64 = ECR_BUF_INIT;
	int64_t expires = 0;
	int rc;
	if ((rc = list_member(&ids, call, call->input, "registryIds", 1, 10)))
		goto done;
	for (size_t i = 0; ids && i < ids->count; i++) {
		const ecr__json *id = ids->values[i];
		if (id->type != ECR__JSON_STRING) {
			rc = ecr__api_type_error(call, "registryIds", "a string");
			goto done;
		}
		bool ok = id->length == 12;
		for (size_t j = 0; ok && j < 12; j++)
			ok = id->string[j] >= '0' && id->string[j] <= '9';
		if (!ok) {
			rc = invalid("registryIds",
				"Member must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]{12}]");
			goto done;
		}
	}
	if ((rc = ecr__api_authorize(call, "GetAuthorizationToken", ecr_registry_arn(call->reg))))
		goto done;
	if (call->principal) {
		if ((rc = ecr_auth_token_create(&token, &expires, call->reg, call->principal)))
			goto done;
	} else {
		/* without authentication the registry takes any password */
		char id[37];
		if ((rc = ecr__uuid_v4(id)) || (rc = ecr__buf_puts(&token, id)))
			goto done;
		expires = ecr_registry_now(call->reg) + (int64_t)ECR_TOKEN_LIFETIME_SECONDS * 1000;
	}
	if ((rc = ecr__buf_printf(&login, "AWS:%s", token.ptr)) || (rc = ecr__base64_encode(&b64, login.ptr, login.size)))
		goto done;
	if ((rc = ecr__jw_key(call->out, "authorizationData")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	size_t n = ids ? ids->count : 1;
	for (size_t i = 0; i < n; i++)
		if ((rc = ecr__jw_object_open(call->out)) ||
		    (rc = ecr__jw_key_string(call->out, "authorizationToken", b64.ptr)) ||
		    (rc = ecr__jw_key(call->out, "expiresAt")) || (rc = ecr__api_write_time(call->out, expires)) ||
		    (rc = ecr__jw_key_string(call->out, "proxyEndpoint", call->endpoint)) ||
		    (rc = ecr__jw_object_close(call->out)))
			goto done;
	rc = ecr__jw_array_close(call->out);
done:
	if (token.ptr) /* wipe the secret */
		memset(token.ptr, 0, token.size);
	if (login.ptr)
		memset(login.ptr, 0, login.size);
	ecr_buf_dispose(&token);
	ecr_buf_dispose(&login);
	ecr_buf_dispose(&b64);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_repositories[] = {
	{ "CreateRepository", op_create_repository },
	{ "DescribeRepositories", op_describe_repositories },
	{ "DeleteRepository", op_delete_repository },
	{ "PutImageTagMutability", op_put_image_tag_mutability },
	{ "PutImageScanningConfiguration", op_put_image_scanning_configuration },
	{ "SetRepositoryPolicy", op_set_repository_policy },
	{ "GetRepositoryPolicy", op_get_repository_policy },
	{ "DeleteRepositoryPolicy", op_delete_repository_policy },
	{ "PutRegistryPolicy", op_put_registry_policy },
	{ "GetRegistryPolicy", op_get_registry_policy },
	{ "DeleteRegistryPolicy", op_delete_registry_policy },
	{ "DescribeRegistry", op_describe_registry },
	{ "GetAccountSetting", op_get_account_setting },
	{ "PutAccountSetting", op_put_account_setting },
	{ "TagResource", op_tag_resource },
	{ "UntagResource", op_untag_resource },
	{ "ListTagsForResource", op_list_tags_for_resource },
	{ "GetAuthorizationToken", op_get_authorization_token },
	{ NULL, NULL },
};
