/* The ECR control plane: replication (PutReplicationConfiguration, DescribeImageReplicationStatus; DescribeRegistry's
 * replicationConfiguration is in ecr_api_repositories.c). Shapes, limits and errors: ecr-api.md §3.8 and §10. */
#include "ecr_api.h"

#include <stdio.h>

#include "ecr/replication.h"

#define IMAGE_TAG_MAX_LEN 300

static int write_replication_configuration(ecr__jw *w, ecr_registry *reg)
{
	ecr_buf stored = ECR_BUF_INIT;
	int rc = ecr_registry_replication_configuration(&stored, reg);
	if (!rc)
		rc = ecr__jw_json_text(w, stored.ptr);
	ecr_buf_dispose(&stored);
	return rc;
}

/* --- PutReplicationConfiguration --- */

static int op_put_replication_configuration(ecr_api_call *call)
{
	ecr_buf in = ECR_BUF_INIT;
	int rc;
	if ((rc = ecr__api_authorize_registry(call)))
		return rc;
	const ecr__json *conf = ecr__json_get(call->input, "replicationConfiguration");
	if (!conf || conf->type == ECR__JSON_NULL)
		return ecr__fail(ECR_EVALIDATION, ECR_ERROR_INVALID,
			"1 validation error detected: Value null at 'replicationConfiguration' failed to satisfy constraint: "
			"Member must not be null");
	if (conf->type != ECR__JSON_OBJECT)
		return ecr__api_type_error(call, "replicationConfiguration", "a structure");
	if ((rc = ecr__json_to_buf(&in, conf)) ||
	    (rc = ecr_registry_set_replication_configuration(call->reg, in.ptr)) ||
	    (rc = ecr__jw_key(call->out, "replicationConfiguration")))
		goto done;
	rc = write_replication_configuration(call->out, call->reg);
done:
	ecr_buf_dispose(&in);
	return rc;
}

/* --- DescribeImageReplicationStatus --- */

static int write_status(const char *region, const char *registry_id, ecr_replication_status status,
	const char *failure_reason, void *payload)
{
	ecr__jw *w = payload;
	const char *name = status == ECR_REPLICATION_COMPLETE ? "COMPLETE"
		: status == ECR_REPLICATION_FAILED              ? "FAILED"
								: "IN_PROGRESS";
	int rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "region", region)) ||
	    (rc = ecr__jw_key_string(w, "registryId", registry_id)) || (rc = ecr__jw_key_string(w, "status", name)))
		return rc;
	if (failure_reason && (rc = ecr__jw_key_string(w, "failureCode", failure_reason)))
		return rc;
	return ecr__jw_object_close(w);
}

static int image_not_found(ecr_repository *repo, const char *digest, const char *tag)
{
	return ecr__fail(ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
		"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name "
		"'%s' in the registry with id '%s'",
		digest ? digest : "null", tag ? tag : "null", ecr_repository_name(repo), ecr_repository_registry_id(repo));
}

static int op_describe_image_replication_status(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_image *img = NULL;
	const char *name;
	char arn[400];
	int rc;
	if ((rc = ecr__api_string(&name, call, "repositoryName", true, 2, 256)))
		return rc;
	snprintf(arn, sizeof(arn), "arn:aws:ecr:%s:%s:repository/%s", ecr_registry_region(call->reg),
		ecr_registry_account_id(call->reg), name);
	if ((rc = ecr__api_authorize(call, call->operation, arn)))
		return rc;
	const ecr__json *id = ecr__json_get(call->input, "imageId");
	if (!id || id->type == ECR__JSON_NULL)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"Invalid parameter at 'imageId' failed to satisfy constraint: 'must not be null'");
	if (id->type != ECR__JSON_OBJECT)
		return ecr__api_type_error(call, "imageId", "a structure");
	const ecr__json *d = ecr__json_get(id, "imageDigest"), *t = ecr__json_get(id, "imageTag");
	if ((d && d->type != ECR__JSON_STRING) || (t && t->type != ECR__JSON_STRING))
		return ecr__api_type_error(call, d && d->type != ECR__JSON_STRING ? "imageId.imageDigest" : "imageId.imageTag",
			"a string");
	const char *digest = d ? d->string : NULL, *tag = t ? t->string : NULL;
	if (!digest && !tag)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"Invalid request parameters: both tag and digest cannot be null");
	if (tag && (!*tag || strlen(tag) > IMAGE_TAG_MAX_LEN))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"Invalid parameter at 'imageId.imageTag' failed to satisfy constraint: 'Member must have length "
			"between 1 and 300'");
	if ((rc = ecr__api_repository(&repo, call)))
		goto done;
	rc = ecr_image_get(&img, repo, tag ? tag : digest, ECR_IMAGE_GET_ANY_STATUS);
	if (rc == ECR_EIMAGE_NOT_FOUND || (rc == ECR_EINVALID && !(tag && digest))) {
		ecr_error_clear();
		rc = image_not_found(repo, digest, tag);
		goto done;
	}
	if (rc)
		goto done;
	if (tag && digest && strcmp(ecr_image_digest(img), digest) != 0) {
		rc = image_not_found(repo, digest, tag);
		goto done;
	}
	if ((rc = ecr__jw_key_string(call->out, "repositoryName", ecr_repository_name(repo))) ||
	    (rc = ecr__jw_key(call->out, "imageId")) || (rc = ecr__jw_object_open(call->out)) ||
	    (rc = ecr__jw_key_string(call->out, "imageDigest", ecr_image_digest(img))))
		goto done;
	if (tag && (rc = ecr__jw_key_string(call->out, "imageTag", tag)))
		goto done;
	if ((rc = ecr__jw_object_close(call->out)) || (rc = ecr__jw_key(call->out, "replicationStatuses")) ||
		(rc = ecr__jw_array_open(call->out)))
		goto done;
	if ((rc = ecr_image_replication_status(repo, ecr_image_digest(img), write_status, call->out)))
		goto done;
	rc = ecr__jw_array_close(call->out);
done:
	ecr_image_free(img);
	ecr_repository_free(repo);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_replication[] = {
	{ "PutReplicationConfiguration", op_put_replication_configuration },
	{ "DescribeImageReplicationStatus", op_describe_image_replication_status },
	{ NULL, NULL },
};
