/* The ECR control plane: pull-through cache rules (CreatePullThroughCacheRule,
 * DescribePullThroughCacheRules, UpdatePullThroughCacheRule,
 * DeletePullThroughCacheRule, ValidatePullThroughCacheRule) over ecr/cache.h
 * and libecr/replication/ptc.h. Shapes, limits and errors follow ecr-api.md
 * §3.9 and §11.1; upstream credentials never appear in any answer (only
 * their ARN). */
#include "ecr_api.h"

#include "../replication/ptc.h"

#define DESCRIBE_MAX_RESULTS 1000
#define DESCRIBE_DEFAULT_RESULTS 100
#define PREFIXES_MAX 100
#define VALIDATE_TIMEOUT_MS 10000

/* Request members (all strings), handed to the library as its JSON. */
static const ecr__api_member create_members[] = {
    {"ecrRepositoryPrefix", ECR__JSON_STRING, "a string"}, {"upstreamRegistryUrl", ECR__JSON_STRING, "a string"},
    {"upstreamRegistry", ECR__JSON_STRING, "a string"},    {"credentialArn", ECR__JSON_STRING, "a string"},
    {"customRoleArn", ECR__JSON_STRING, "a string"},       {"upstreamRepositoryPrefix", ECR__JSON_STRING, "a string"},
};
static const ecr__api_member update_members[] = {
    {"ecrRepositoryPrefix", ECR__JSON_STRING, "a string"},
    {"credentialArn", ECR__JSON_STRING, "a string"},
    {"customRoleArn", ECR__JSON_STRING, "a string"},
    {"upstreamRepositoryPrefix", ECR__JSON_STRING, "a string"},
};
#define NMEMBERS(a) (sizeof(a) / sizeof((a)[0]))

/* Response members, in ECR's order. */
static const char *const create_out[] = {"ecrRepositoryPrefix", "upstreamRegistryUrl", "createdAt",
                                         "registryId", "upstreamRegistry", "credentialArn", "customRoleArn",
                                         "upstreamRepositoryPrefix", NULL};
static const char *const update_out[] = {"ecrRepositoryPrefix", "registryId", "updatedAt", "credentialArn",
                                         "customRoleArn", "upstreamRepositoryPrefix", NULL};
static const char *const delete_out[] = {"ecrRepositoryPrefix", "upstreamRegistryUrl", "createdAt", "registryId",
                                         "credentialArn", "customRoleArn", "upstreamRepositoryPrefix", NULL};
static const char *const validate_out[] = {"ecrRepositoryPrefix", "registryId", "upstreamRegistryUrl",
                                           "credentialArn", "customRoleArn", "upstreamRepositoryPrefix", NULL};

/* Write the members `keys` of a rule object (those it has) into the response. */
static int write_members(ecr_api_call *call, const ecr__json *rule, const char *const *keys)
{
	int rc = 0;
	for (size_t i = 0; !rc && keys[i]; i++) {
		const ecr__json *v = ecr__json_get(rule, keys[i]);
		if (v && !(rc = ecr__jw_key(call->out, keys[i])))
			rc = ecr__jw_value(call->out, v);
	}
	return rc;
}

static int write_rule_text(ecr_api_call *call, const ecr_buf *text, const char *const *keys)
{
	ecr__json *rule = NULL;
	int rc = ecr__json_parse(&rule, text->ptr, text->size, NULL);
	if (!rc)
		rc = write_members(call, rule, keys);
	ecr__json_free(rule);
	return rc;
}

static int op_put(ecr_api_call *call, int create)
{
	ecr_buf in = ECR_BUF_INIT, out = ECR_BUF_INIT;
	const ecr__api_member *members = create ? create_members : update_members;
	size_t n = create ? NMEMBERS(create_members) : NMEMBERS(update_members);
	int rc;
	if ((rc = ecr__api_authorize_registry(call)) || (rc = ecr__api_input_object(&in, call, members, n)) ||
	    (rc = ecr_registry_put_pull_through_cache_rule(&out, call->reg, in.ptr, create)))
		goto done;
	rc = write_rule_text(call, &out, create ? create_out : update_out);
done:
	ecr_buf_dispose(&in);
	ecr_buf_dispose(&out);
	return rc;
}

static int op_create_pull_through_cache_rule(ecr_api_call *call)
{
	return op_put(call, 1);
}

static int op_update_pull_through_cache_rule(ecr_api_call *call)
{
	return op_put(call, 0);
}

static int op_delete_pull_through_cache_rule(ecr_api_call *call)
{
	ecr_buf out = ECR_BUF_INIT;
	const char *prefix;
	int rc;
	if ((rc = ecr__api_authorize_registry(call)) ||
	    (rc = ecr__api_string(&prefix, call, "ecrRepositoryPrefix", true, 0, 0)) ||
	    (rc = ecr_registry_delete_pull_through_cache_rule(&out, call->reg, prefix)))
		goto done;
	rc = write_rule_text(call, &out, delete_out);
done:
	ecr_buf_dispose(&out);
	return rc;
}

static int invalid_token(void)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		"Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid nextToken'");
}

static int op_describe_pull_through_cache_rules(ecr_api_call *call)
{
	const ecr__json *names = ecr__json_get(call->input, "ecrRepositoryPrefixes");
	const char **prefixes = NULL;
	const char *token_text = NULL;
	char *after = NULL;
	ecr__json *rules = NULL;
	ecr_buf out = ECR_BUF_INIT, next = ECR_BUF_INIT;
	size_t n = 0;
	int64_t max = 0;
	int rc;

	if ((rc = ecr__api_authorize_registry(call)) ||
	    (rc = ecr__api_int(&max, NULL, call, "maxResults", 1, DESCRIBE_MAX_RESULTS, DESCRIBE_DEFAULT_RESULTS)) ||
	    (rc = ecr__api_string(&token_text, call, "nextToken", false, 0, 0)))
		goto done;
	if (names && names->type != ECR__JSON_NULL) {
		if (names->type != ECR__JSON_ARRAY) {
			rc = ecr__api_type_error(call, "ecrRepositoryPrefixes", "a list");
			goto done;
		}
		if (names->count < 1 || names->count > PREFIXES_MAX) {
			rc = ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
				"1 validation error detected: Value at 'ecrRepositoryPrefixes' failed to satisfy constraint: "
				"Member must have length between 1 and 100");
			goto done;
		}
		if (!(prefixes = ecr__calloc(names->count, sizeof(*prefixes)))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		for (n = 0; n < names->count; n++) {
			const ecr__json *v = names->values[n];
			if (v->type != ECR__JSON_STRING || strlen(v->string) != v->length) {
				rc = ecr__api_type_error(call, "ecrRepositoryPrefixes", "a list of strings");
				goto done;
			}
			prefixes[n] = v->string;
		}
	}
	if (token_text && ecr__token_decode(&after, 'p', token_text)) {
		rc = invalid_token();
		goto done;
	}
	if ((rc = ecr_registry_pull_through_cache_rules(&out, call->reg, prefixes, n)) ||
	    (rc = ecr__json_parse(&rules, out.ptr, out.size, NULL)))
		goto done;
	if ((rc = ecr__jw_key(call->out, "pullThroughCacheRules")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	int64_t written = 0;
	const char *last = NULL;
	bool more = false;
	for (size_t i = 0; i < rules->count; i++) {
		const char *p = ecr__json_get_string(rules->values[i], "ecrRepositoryPrefix");
		if (!p || (after && strcmp(p, after) <= 0))
			continue;
		if (written == max) {
			more = true;
			break;
		}
		if ((rc = ecr__jw_value(call->out, rules->values[i])))
			goto done;
		written++;
		last = p;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	if (more && last) {
		if ((rc = ecr__token_encode(&next, 'p', last)) ||
		    (rc = ecr__jw_key_string(call->out, "nextToken", next.ptr)))
			goto done;
	}
done:
	ecr__free(prefixes);
	ecr__free(after);
	ecr__json_free(rules);
	ecr_buf_dispose(&out);
	ecr_buf_dispose(&next);
	return rc;
}

static int op_validate_pull_through_cache_rule(ecr_api_call *call)
{
	ecr_buf rule = ECR_BUF_INIT, failure = ECR_BUF_INIT;
	const char *prefix;
	int valid = 0, rc;
	if ((rc = ecr__api_authorize_registry(call)) ||
	    (rc = ecr__api_string(&prefix, call, "ecrRepositoryPrefix", true, 0, 0)) ||
	    (rc = ecr__ptc_rule_validate(&rule, &valid, &failure, call->reg, prefix, NULL, VALIDATE_TIMEOUT_MS)) ||
	    (rc = write_rule_text(call, &rule, validate_out)) || (rc = ecr__jw_key(call->out, "isValid")) ||
	    (rc = ecr__jw_bool(call->out, valid != 0)))
		goto done;
	if (!valid && (rc = ecr__jw_key_string(call->out, "failure",
	                                       failure.size ? failure.ptr : "the upstream registry failed")))
		goto done;
done:
	ecr_buf_dispose(&rule);
	ecr_buf_dispose(&failure);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_cache[] = {
    {"CreatePullThroughCacheRule", op_create_pull_through_cache_rule},
    {"DeletePullThroughCacheRule", op_delete_pull_through_cache_rule},
    {"DescribePullThroughCacheRules", op_describe_pull_through_cache_rules},
    {"UpdatePullThroughCacheRule", op_update_pull_through_cache_rule},
    {"ValidatePullThroughCacheRule", op_validate_pull_through_cache_rule},
    {NULL, NULL},
};
