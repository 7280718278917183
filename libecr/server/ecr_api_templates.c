/* The ECR API operations of repository creation templates:
 * CreateRepositoryCreationTemplate, UpdateRepositoryCreationTemplate,
 * DeleteRepositoryCreationTemplate, DescribeRepositoryCreationTemplates
 * (ecr/replication.h does the work). Registry-level operations: the caller's
 * identity policy must allow ecr:<Operation> on the registry. */
#include "../core/core.h"

#include "../engine/engine.h"
#include "ecr_api.h"

#define DESCRIBE_MAX_RESULTS 1000
#define DESCRIBE_DEFAULT_RESULTS 100

/* The members of a template in a request, with their JSON types. */
static const ecr__api_member template_members[] = {
    {"prefix", ECR__JSON_STRING, "a string"},
    {"description", ECR__JSON_STRING, "a string"},
    {"encryptionConfiguration", ECR__JSON_OBJECT, "a structure"},
    {"resourceTags", ECR__JSON_ARRAY, "a list"},
    {"imageTagMutability", ECR__JSON_STRING, "a string"},
    {"imageTagMutabilityExclusionFilters", ECR__JSON_ARRAY, "a list"},
    {"repositoryPolicy", ECR__JSON_STRING, "a string"},
    {"lifecyclePolicy", ECR__JSON_STRING, "a string"},
    {"appliedFor", ECR__JSON_ARRAY, "a list"},
    {"customRoleArn", ECR__JSON_STRING, "a string"},
};
#define TEMPLATE_MEMBERS (sizeof(template_members) / sizeof(template_members[0]))

/* registryId and repositoryCreationTemplate (the library's JSON of one template). */
static int template_output(ecr_api_call *call, const ecr_buf *tpl)
{
	ecr__json *v = NULL;
	int rc = ecr__json_parse(&v, tpl->ptr, tpl->size, NULL);
	if (!rc && !(rc = ecr__jw_key_string(call->out, "registryId", ecr_registry_account_id(call->reg))) &&
	    !(rc = ecr__jw_key(call->out, "repositoryCreationTemplate")))
		rc = ecr__jw_value(call->out, v);
	ecr__json_free(v);
	return rc;
}

/* The prefix member, NULL when missing (the library answers with ECR's ValidationException). */
static int prefix_of(const char **out, ecr_api_call *call)
{
	const ecr__json *v = ecr__json_get(call->input, "prefix");
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_STRING)
		return ecr__api_type_error(call, "prefix", "a string");
	*out = v->string;
	return 0;
}

static int put_template(ecr_api_call *call, int create)
{
	ecr_buf in = ECR_BUF_INIT, out = ECR_BUF_INIT;
	const char *prefix;
	int rc;
	if (!(rc = prefix_of(&prefix, call)) &&
	    !(rc = ecr__api_input_object(&in, call, template_members, TEMPLATE_MEMBERS)) &&
	    !(rc = ecr__api_authorize_registry(call)) &&
	    !(rc = ecr_registry_put_creation_template(&out, call->reg, in.ptr, create)))
		rc = template_output(call, &out);
	ecr_buf_dispose(&in);
	ecr_buf_dispose(&out);
	return rc;
}

static int op_create_template(ecr_api_call *call)
{
	return put_template(call, 1);
}

static int op_update_template(ecr_api_call *call)
{
	return put_template(call, 0);
}

static int op_delete_template(ecr_api_call *call)
{
	ecr_buf out = ECR_BUF_INIT;
	const char *prefix;
	int rc;
	if (!(rc = prefix_of(&prefix, call)) && !(rc = ecr__api_authorize_registry(call)) &&
	    !(rc = ecr_registry_delete_creation_template(&out, call->reg, prefix)))
		rc = template_output(call, &out);
	ecr_buf_dispose(&out);
	return rc;
}

static bool listed(const char *const *prefixes, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(prefixes[i], p) == 0)
			return true;
	return false;
}

/*
 * prefixes filters (a prefix without a template is left out, as a filter),
 * nextToken: the last prefix of the previous page (templates come in prefix order).
 */
static int op_describe_templates(ecr_api_call *call)
{
	const char **prefixes = NULL;
	size_t prefixes_count = 0;
	const char *token;
	char *after = NULL;
	int64_t max;
	ecr_buf all = ECR_BUF_INIT, next = ECR_BUF_INIT;
	ecr__json *list = NULL;
	int rc;

	const ecr__json *pv = ecr__json_get(call->input, "prefixes");
	if (pv && pv->type != ECR__JSON_NULL) {
		if (pv->type != ECR__JSON_ARRAY)
			return ecr__api_type_error(call, "prefixes", "a list");
		if (pv->count && !(prefixes = ecr__calloc(pv->count, sizeof(*prefixes))))
			return ECR_ENOMEM;
		for (size_t i = 0; i < pv->count; i++) {
			const ecr__json *s = pv->values[i];
			if (s->type != ECR__JSON_STRING) {
				rc = ecr__api_type_error(call, "prefixes", "a list of strings");
				goto done;
			}
			prefixes[prefixes_count++] = s->string;
		}
	}
	if ((rc = ecr__api_string(&token, call, "nextToken", false, 0, 0)) ||
	    (rc = ecr__api_int(&max, NULL, call, "maxResults", 1, DESCRIBE_MAX_RESULTS, DESCRIBE_DEFAULT_RESULTS)))
		goto done;
	if (token && *token && (rc = ecr__token_decode(&after, 't', token))) {
		rc = ecr__fail(
		    ECR_EINVALID, ECR_ERROR_INVALID,
		    "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid pagination token'");
		goto done;
	}
	if ((rc = ecr__api_authorize_registry(call)))
		goto done;
	/* the library validates the prefixes; one without a template is then filtered out */
	rc = ecr_registry_creation_templates(&all, call->reg, prefixes, prefixes_count);
	if (rc == ECR_ETEMPLATE_NOT_FOUND) {
		ecr__error_clear();
		rc = ecr_registry_creation_templates(&all, call->reg, NULL, 0);
	}
	if (rc || (rc = ecr__json_parse(&list, all.ptr, all.size, NULL)))
		goto done;
	if ((rc = ecr__jw_key_string(call->out, "registryId", ecr_registry_account_id(call->reg))) ||
	    (rc = ecr__jw_key(call->out, "repositoryCreationTemplates")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	int64_t written = 0;
	const char *last = NULL;
	bool more = false;
	for (size_t i = 0; list->type == ECR__JSON_ARRAY && i < list->count; i++) {
		const char *p = ecr__json_get_string(list->values[i], "prefix");
		if (!p || (prefixes_count && !listed(prefixes, prefixes_count, p)) || (after && strcmp(p, after) <= 0))
			continue;
		if (written == max) {
			more = true;
			break;
		}
		if ((rc = ecr__jw_value(call->out, list->values[i])))
			goto done;
		written++;
		last = p;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	if (more && last && !(rc = ecr__token_encode(&next, 't', last)) && !(rc = ecr__jw_key(call->out, "nextToken")))
		rc = ecr__jw_string(call->out, next.ptr);
done:
	ecr__free(prefixes);
	ecr__free(after);
	ecr__json_free(list);
	ecr_buf_dispose(&all);
	ecr_buf_dispose(&next);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_templates[] = {
    {"CreateRepositoryCreationTemplate", op_create_template},
    {"UpdateRepositoryCreationTemplate", op_update_template},
    {"DeleteRepositoryCreationTemplate", op_delete_template},
    {"DescribeRepositoryCreationTemplates", op_describe_templates},
    {NULL, NULL},
};
