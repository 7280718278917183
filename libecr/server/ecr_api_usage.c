/* The ECR control plane: GetUsage, libecr's extension operation for usage metering (ecr/usage.h, docs/usage.md).
 * Request {"repositoryName"?, "from"?, "to"?} (epoch seconds); response: the ecr_usage members in camelCase
 * (remote_usage.h: repositoryCount, images, storedBytes, ..., from, to) and, without repositoryName, a
 * "repositories" list of the same members with repositoryName. Authorized as ecr:DescribeRepositories on the
 * repository, or ecr:DescribeRegistry on the registry for the registry-wide form. */
#include "ecr_api.h"

#include "../remote/remote_usage.h"
#include "ecr/usage.h"

/* Epoch seconds: up to year 9999 */
#define USAGE_TIME_MAX 253402300799LL

static int write_repository(const char *repository, const ecr_usage *usage, void *payload)
{
	ecr__jw *w = payload;
	int rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "repositoryName", repository)) ||
		(rc = ecr__usage_write_json(w, usage)))
		return rc;
	return ecr__jw_object_close(w);
}

static int op_get_usage(ecr_api_call *call)
{
	const char *name = NULL;
	int64_t from = 0, to = 0;
	ecr_buf arn = ECR_BUF_INIT;
	ecr_repository *repo = NULL;
	ecr_usage u = ECR_USAGE_INIT;
	int rc;

	if ((rc = ecr__api_string(&name, call, "repositoryName", false, 2, ecr__api_name_max(call))) ||
		(rc = ecr__api_int(&from, NULL, call, "from", 0, USAGE_TIME_MAX, 0)) ||
		(rc = ecr__api_int(&to, NULL, call, "to", 0, USAGE_TIME_MAX, 0)))
		goto done;
	if (to && to < from) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"Invalid parameter at 'to' failed to satisfy constraint: 'must not be before from'");
		goto done;
	}
	if (name) {
		if ((rc = ecr__api_repository_arn(&arn, call, name)) ||
			(rc = ecr__api_authorize(call, "DescribeRepositories", arn.ptr)) ||
			(rc = ecr_repository_open(&repo, call->reg, name)) ||
			(rc = ecr_repository_usage(&u, repo, from * 1000, to * 1000)))
			goto done;
		if ((rc = ecr__jw_key_string(call->out, "repositoryName", name)))
			goto done;
		rc = ecr__usage_write_json(call->out, &u);
		goto done;
	}
	if ((rc = ecr__api_authorize(call, "DescribeRegistry", ecr_registry_arn(call->reg))) ||
		(rc = ecr_registry_usage(&u, call->reg, from * 1000, to * 1000)) ||
		(rc = ecr__usage_write_json(call->out, &u)) || (rc = ecr__jw_key(call->out, "repositories")) ||
		(rc = ecr__jw_array_open(call->out)) ||
		(rc = ecr_registry_usage_foreach(call->reg, from * 1000, to * 1000, write_repository, call->out)))
		goto done;
	rc = ecr__jw_array_close(call->out);
done:
	ecr_repository_free(repo);
	ecr_buf_dispose(&arn);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_usage[] = {
	{ "GetUsage", op_get_usage },
	{ NULL, NULL },
};
