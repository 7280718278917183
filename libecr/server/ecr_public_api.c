/* The ECR Public API (X-Amz-Target SpencerFrontendService.<Op>, signing name
 * "ecr-public"): call->reg is the caller's public registry (or the one
 * registryId names), actions are authorized as "ecr-public:<Action>" on ECR
 * Public's ARNs. Operations whose shapes are ECR's are ECR's own
 * implementations (shared_op); the others write ECR Public's shapes. */
#include "ecr_api.h"

#include <stdio.h>

#include "../core/crypto.h"
#include "../engine/engine.h"
#include "ecr/auth.h"
#include "ecr/public.h"

#define PUBLIC_NAME_MAX 205
#define MAX_TAGS_INPUT 200

static int invalid(const char *field, const char *reason)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "Invalid parameter at '%s' failed to satisfy constraint: '%s'",
		field, reason);
}

/* An operation of ECR whose input and output are ECR Public's too, run on the public registry. */
static int shared_op(ecr_api_call *call)
{
	const ecr_api_op_entry *e = ecr__api_find_op(call->operation);
	if (!e)
		return ecr__fail(ECR_EUNSUPPORTED_COMMAND, ECR_ERROR_INVALID, "The operation %s is not supported",
			call->operation);
	/* ECR Public's repository names are shorter than ECR's */
	const char *name;
	int rc = ecr__api_string(&name, call, "repositoryName", false, 2, PUBLIC_NAME_MAX);
	return rc ? rc : e->fn(call);
}

/* "<Host>" of the request (call->endpoint without its scheme). */
static const char *host_of(const ecr_api_call *call)
{
	const char *p = strstr(call->endpoint, "://");
	return p ? p + 3 : call->endpoint;
}

static int alias_of(ecr_buf *out, ecr_api_call *call)
{
	ecr__buf_clear(out);
	return ecr_public_alias(out, call->reg);
}

/* A Repository of ECR Public: repositoryArn, registryId, repositoryName, repositoryUri, createdAt. */
int ecr__api_write_public_repository(ecr__jw *w, ecr_api_call *call, const ecr_repository *repo)
{
	ecr_buf arn = ECR_BUF_INIT, alias = ECR_BUF_INIT, uri = ECR_BUF_INIT;
	int rc;
	if ((rc = ecr__api_repository_arn(&arn, call, ecr_repository_name(repo))) || (rc = alias_of(&alias, call)) ||
		(rc = ecr__buf_printf(&uri, "%s/%s/%s", host_of(call), alias.ptr, ecr_repository_name(repo))))
		goto done;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "repositoryArn", arn.ptr)) ||
		(rc = ecr__jw_key_string(w, "registryId", ecr_repository_registry_id(repo))) ||
		(rc = ecr__jw_key_string(w, "repositoryName", ecr_repository_name(repo))) ||
		(rc = ecr__jw_key_string(w, "repositoryUri", uri.ptr)) || (rc = ecr__jw_key(w, "createdAt")) ||
		(rc = ecr__api_write_time(w, ecr_repository_created_at(repo))))
		goto done;
	rc = ecr__jw_object_close(w);
done:
	ecr_buf_dispose(&arn);
	ecr_buf_dispose(&alias);
	ecr_buf_dispose(&uri);
	return rc;
}

/* "catalogData": the repository's RepositoryCatalogData with logoUrl when it has a logo ({} when never set and
 * empty_ok). */
static int write_catalog_data(ecr_api_call *call, ecr_repository *repo, bool empty_ok)
{
	ecr_buf text = ECR_BUF_INIT, logo = ECR_BUF_INIT, alias = ECR_BUF_INIT, url = ECR_BUF_INIT;
	ecr__json *v = NULL;
	ecr__jw *w = call->out;
	bool has_logo = false;
	int rc = ecr_repository_catalog_data(&text, repo);
	if (rc == ECR_ECATALOG_DATA_NOT_FOUND && empty_ok) {
		ecr__buf_clear(&text);
		rc = ecr__buf_puts(&text, "{}");
	} else if (rc == ECR_ECATALOG_DATA_NOT_FOUND) {
		rc = ecr__fail(ECR_ECATALOG_DATA_NOT_FOUND, ECR_ERROR_INVALID,
			"The repository catalog data for the repository '%s' in the registry '%s' does not exist",
			ecr_repository_name(repo), ecr_repository_registry_id(repo));
	}
	if (rc || (rc = ecr__json_parse(&v, text.ptr, text.size, NULL)))
		goto done;
	if (v->type != ECR__JSON_OBJECT) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "the catalog data is not a JSON object");
		goto done;
	}
	rc = ecr_repository_catalog_logo(&logo, repo);
	if (rc == 0 && logo.size)
		has_logo = true;
	else if (rc && rc != ECR_ENOTFOUND && rc != ECR_ECATALOG_DATA_NOT_FOUND)
		goto done;
	rc = 0;
	if ((rc = ecr__jw_key(w, "catalogData")) || (rc = ecr__jw_object_open(w)))
		goto done;
	for (size_t i = 0; i < v->count; i++)
		if ((rc = ecr__jw_key(w, v->keys[i])) || (rc = ecr__jw_value(w, v->values[i])))
			goto done;
	if (has_logo) {
		const char *scheme_end = strstr(call->endpoint, "://");
		size_t scheme_len = scheme_end ? (size_t)(scheme_end - call->endpoint) : 4;
		if ((rc = alias_of(&alias, call)) ||
			(rc = ecr__buf_printf(&url, "%.*s://%s/gallery/logo/%s/%s", (int)scheme_len,
				scheme_end ? call->endpoint : "http", host_of(call), alias.ptr, ecr_repository_name(repo))) ||
			(rc = ecr__jw_key_string(w, "logoUrl", url.ptr)))
			goto done;
	}
	rc = ecr__jw_object_close(w);
done:
	ecr__json_free(v);
	ecr_buf_dispose(&text);
	ecr_buf_dispose(&logo);
	ecr_buf_dispose(&alias);
	ecr_buf_dispose(&url);
	return rc;
}

/* The catalogData member of the input as JSON text for ecr_repository_set_catalog_data(); *present false when
 * absent. */
static int catalog_input(ecr_buf *out, bool *present, ecr_api_call *call)
{
	ecr__jw *w = NULL;
	*present = false;
	const ecr__json *v = ecr__json_get(call->input, "catalogData");
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_OBJECT)
		return ecr__api_type_error(call, "catalogData", "a structure");
	int rc = ecr__jw_new(&w);
	if (!rc && !(rc = ecr__jw_value(w, v)))
		rc = ecr__jw_finish(w, out);
	ecr__jw_free(w);
	*present = rc == 0;
	return rc;
}

/* Validate repositoryName (2..205), authorize action on its ARN, open it. */
static int open_repo(ecr_repository **out, ecr_api_call *call, const char *action)
{
	const char *name;
	ecr_buf arn = ECR_BUF_INIT;
	*out = NULL;
	int rc = ecr__api_string(&name, call, "repositoryName", true, 2, PUBLIC_NAME_MAX);
	if (!rc && !(rc = ecr__api_repository_arn(&arn, call, name)) && !(rc = ecr__api_authorize(call, action, arn.ptr)))
		rc = ecr__api_repository(out, call);
	ecr_buf_dispose(&arn);
	return rc;
}

/* --- repositories --- */

static int parse_tags(ecr_resource_tag **out, size_t *count, ecr_api_call *call)
{
	*out = NULL;
	*count = 0;
	const ecr__json *list = ecr__json_get(call->input, "tags");
	if (!list || list->type == ECR__JSON_NULL)
		return 0;
	if (list->type != ECR__JSON_ARRAY)
		return ecr__api_type_error(call, "tags", "a list");
	if (list->count > MAX_TAGS_INPUT)
		return invalid("tags", "Member must have length less than or equal to 200");
	if (!list->count)
		return 0;
	ecr_resource_tag *tags = ecr__calloc(list->count, sizeof(*tags));
	if (!tags)
		return ECR_ENOMEM;
	for (size_t i = 0; i < list->count; i++) {
		const ecr__json *t = list->values[i];
		if (t->type != ECR__JSON_OBJECT) {
			ecr__free(tags);
			return ecr__api_type_error(call, "tags", "a structure");
		}
		const ecr__json *k = ecr__json_get(t, "Key"), *v = ecr__json_get(t, "Value");
		if ((k && k->type != ECR__JSON_STRING && k->type != ECR__JSON_NULL) ||
			(v && v->type != ECR__JSON_STRING && v->type != ECR__JSON_NULL)) {
			ecr__free(tags);
			return ecr__api_type_error(call, "tags", "a string");
		}
		if (!k || k->type == ECR__JSON_NULL) {
			ecr__free(tags);
			return invalid("tags.member.Key", "Member must not be null");
		}
		tags[i] = (ecr_resource_tag){ k->string, v && v->type == ECR__JSON_STRING ? v->string : "" };
	}
	*out = tags;
	*count = list->count;
	return 0;
}

static int op_create_repository(ecr_api_call *call)
{
	const char *name;
	ecr_resource_tag *tags = NULL;
	ecr_repository *repo = NULL;
	ecr_repository_options o = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_buf arn = ECR_BUF_INIT, catalog = ECR_BUF_INIT;
	bool has_catalog;
	int rc;

	if ((rc = ecr__api_string(&name, call, "repositoryName", true, 2, PUBLIC_NAME_MAX)) ||
		(rc = catalog_input(&catalog, &has_catalog, call)) || (rc = parse_tags(&tags, &o.tags_count, call)))
		goto done;
	o.tags = tags;
	if ((rc = ecr__api_repository_arn(&arn, call, name)) ||
		(rc = ecr__api_authorize(call, "CreateRepository", arn.ptr)))
		goto done;
	if ((rc = ecr_repository_create(&repo, call->reg, name, &o)))
		goto done;
	if (has_catalog && (rc = ecr_repository_set_catalog_data(repo, catalog.ptr))) {
		/* nothing is created when the catalog data is refused */
		ecr__error_saved saved;
		ecr__error_save(&saved);
		ecr_repository_delete(call->reg, name, ECR_REPOSITORY_DELETE_FORCE);
		ecr__error_restore(&saved);
		goto done;
	}
	if ((rc = ecr__jw_key(call->out, "repository")) || (rc = ecr__api_write_public_repository(call->out, call, repo)))
		goto done;
	rc = write_catalog_data(call, repo, true);
done:
	ecr_repository_free(repo);
	ecr__free(tags);
	ecr_buf_dispose(&arn);
	ecr_buf_dispose(&catalog);
	return rc;
}

/* --- DescribeImageTags --- */

static int op_describe_image_tags(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_tag_iterator *it = NULL;
	ecr_buf after = ECR_BUF_INIT, last = ECR_BUF_INIT;
	const char *token, *tag, *digest;
	int64_t max;
	bool more = false;
	int rc;

	if ((rc = open_repo(&repo, call, "DescribeImageTags")) ||
		(rc = ecr__api_string(&token, call, "nextToken", false, 0, 0)) ||
		(rc = ecr__api_int(&max, NULL, call, "maxResults", 1, 1000, 100)))
		goto done;
	if (token && *token) { /* the token is the base64 of the last tag answered */
		if (ecr__base64_decode(&after, token, strlen(token)) || !after.size || strlen(after.ptr) != after.size) {
			rc = invalid("nextToken", "Invalid NextToken");
			goto done;
		}
	}
	if ((rc = ecr_tag_iterator_new(&it, repo, after.size ? after.ptr : NULL)) ||
		(rc = ecr__jw_key(call->out, "imageTagDetails")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	for (int64_t n = 0;; n++) {
		rc = ecr_tag_iterator_next(&tag, &digest, it);
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
		ecr_image *img = NULL;
		rc = ecr_image_get(&img, repo, digest, ECR_IMAGE_GET_ANY_STATUS);
		if (rc == ECR_EIMAGE_NOT_FOUND) { /* deleted meanwhile */
			rc = 0;
			continue;
		}
		ecr__jw *w = call->out;
		if (!rc && !(rc = ecr__jw_object_open(w)) && !(rc = ecr__jw_key_string(w, "imageTag", tag)) &&
			!(rc = ecr__jw_key(w, "createdAt")) && !(rc = ecr__api_write_time(w, ecr_image_pushed_at(img))) &&
			!(rc = ecr__jw_key(w, "imageDetail")) && !(rc = ecr__jw_object_open(w)) &&
			!(rc = ecr__jw_key_string(w, "imageDigest", ecr_image_digest(img))) &&
			!(rc = ecr__jw_key_int(w, "imageSizeInBytes", (int64_t)ecr_image_size(img))) &&
			!(rc = ecr__jw_key(w, "imagePushedAt")) && !(rc = ecr__api_write_time(w, ecr_image_pushed_at(img))) &&
			!(rc = ecr__jw_key_string(w, "imageManifestMediaType", ecr_image_media_type(img))) &&
			!(rc = ecr_image_artifact_type(img)
					? ecr__jw_key_string(w, "artifactMediaType", ecr_image_artifact_type(img))
					: 0) &&
			!(rc = ecr__jw_object_close(w)) && !(rc = ecr__jw_object_close(w))) {
			ecr__buf_clear(&last);
			rc = ecr__buf_puts(&last, tag);
		}
		ecr_image_free(img);
		if (rc)
			goto done;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	if (more && last.size) {
		ecr_buf b64 = ECR_BUF_INIT;
		if (!(rc = ecr__base64_encode(&b64, last.ptr, last.size)))
			rc = ecr__jw_key_string(call->out, "nextToken", b64.ptr);
		ecr_buf_dispose(&b64);
	}
done:
	ecr_tag_iterator_free(it);
	ecr_repository_free(repo);
	ecr_buf_dispose(&after);
	ecr_buf_dispose(&last);
	return rc;
}

/* --- authorization token, registries, catalog data --- */

static int op_get_authorization_token(ecr_api_call *call)
{
	ecr_buf token = ECR_BUF_INIT, login = ECR_BUF_INIT, b64 = ECR_BUF_INIT;
	int64_t expires = 0;
	int rc;
	if ((rc = ecr__api_authorize_registry(call)))
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
	if ((rc = ecr__jw_key(call->out, "authorizationData")) || (rc = ecr__jw_object_open(call->out)) ||
		(rc = ecr__jw_key_string(call->out, "authorizationToken", b64.ptr)) ||
		(rc = ecr__jw_key(call->out, "expiresAt")) || (rc = ecr__api_write_time(call->out, expires)))
		goto done;
	rc = ecr__jw_object_close(call->out);
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

static int op_describe_registries(ecr_api_call *call)
{
	ecr_buf alias = ECR_BUF_INIT, uri = ECR_BUF_INIT;
	ecr__jw *w = call->out;
	const char *token;
	int64_t max;
	int rc;
	if ((rc = ecr__api_string(&token, call, "nextToken", false, 0, 0)) ||
		(rc = ecr__api_int(&max, NULL, call, "maxResults", 1, 1000, 100)) ||
		(rc = ecr__api_authorize_registry(call)))
		goto done;
	if (token && *token) { /* one registry: no page follows it */
		rc = invalid("nextToken", "Invalid NextToken");
		goto done;
	}
	if ((rc = alias_of(&alias, call)) || (rc = ecr__buf_printf(&uri, "%s/%s", host_of(call), alias.ptr)))
		goto done;
	if ((rc = ecr__jw_key(w, "registries")) || (rc = ecr__jw_array_open(w)) || (rc = ecr__jw_object_open(w)) ||
		(rc = ecr__jw_key_string(w, "registryId", ecr_registry_account_id(call->reg))) ||
		(rc = ecr__jw_key_string(w, "registryArn", ecr_registry_arn(call->reg))) ||
		(rc = ecr__jw_key_string(w, "registryUri", uri.ptr)) || (rc = ecr__jw_key(w, "verified")) ||
		(rc = ecr__jw_bool(w, false)) || (rc = ecr__jw_key(w, "aliases")) || (rc = ecr__jw_array_open(w)) ||
		(rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "name", alias.ptr)) ||
		(rc = ecr__jw_key_string(w, "status", "ACTIVE")) || (rc = ecr__jw_key(w, "primaryRegistryAlias")) ||
		(rc = ecr__jw_bool(w, true)) || (rc = ecr__jw_key(w, "defaultRegistryAlias")) ||
		(rc = ecr__jw_bool(w, true)) || (rc = ecr__jw_object_close(w)) || (rc = ecr__jw_array_close(w)) ||
		(rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__jw_array_close(w);
done:
	ecr_buf_dispose(&alias);
	ecr_buf_dispose(&uri);
	return rc;
}

static int write_registry_catalog(ecr_api_call *call)
{
	ecr_buf name = ECR_BUF_INIT;
	int rc;
	if (!(rc = ecr_public_display_name(&name, call->reg)) && !(rc = ecr__jw_key(call->out, "registryCatalogData")) &&
		!(rc = ecr__jw_object_open(call->out)) &&
		!(rc = ecr__jw_key_string(call->out, "displayName", name.ptr ? name.ptr : "")))
		rc = ecr__jw_object_close(call->out);
	ecr_buf_dispose(&name);
	return rc;
}

static int op_get_registry_catalog_data(ecr_api_call *call)
{
	int rc = ecr__api_authorize_registry(call);
	return rc ? rc : write_registry_catalog(call);
}

static int op_put_registry_catalog_data(ecr_api_call *call)
{
	const char *name;
	int rc;
	if ((rc = ecr__api_string(&name, call, "displayName", false, 0, ECR_PUBLIC_DISPLAY_NAME_MAX)) ||
		(rc = ecr__api_authorize_registry(call)))
		return rc;
	if (name && (rc = ecr_public_set_display_name(call->reg, name)))
		return rc;
	return write_registry_catalog(call);
}

static int op_get_repository_catalog_data(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	int rc = open_repo(&repo, call, "GetRepositoryCatalogData");
	if (!rc)
		rc = write_catalog_data(call, repo, false);
	ecr_repository_free(repo);
	return rc;
}

static int op_put_repository_catalog_data(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_buf catalog = ECR_BUF_INIT;
	bool present;
	int rc;
	if ((rc = catalog_input(&catalog, &present, call)))
		goto done;
	if (!present) {
		rc = invalid("catalogData", "Member must not be null");
		goto done;
	}
	if ((rc = open_repo(&repo, call, "PutRepositoryCatalogData")) ||
		(rc = ecr_repository_set_catalog_data(repo, catalog.ptr)))
		goto done;
	rc = write_catalog_data(call, repo, true);
done:
	ecr_repository_free(repo);
	ecr_buf_dispose(&catalog);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_public[] = {
	{ "CreateRepository", op_create_repository },
	{ "DescribeRepositories", shared_op },
	{ "DeleteRepository", shared_op },
	{ "DescribeImages", shared_op },
	{ "DescribeImageTags", op_describe_image_tags },
	{ "BatchDeleteImage", shared_op },
	{ "BatchCheckLayerAvailability", shared_op },
	{ "InitiateLayerUpload", shared_op },
	{ "UploadLayerPart", shared_op },
	{ "CompleteLayerUpload", shared_op },
	{ "PutImage", shared_op },
	{ "SetRepositoryPolicy", shared_op },
	{ "GetRepositoryPolicy", shared_op },
	{ "DeleteRepositoryPolicy", shared_op },
	{ "TagResource", shared_op },
	{ "UntagResource", shared_op },
	{ "ListTagsForResource", shared_op },
	{ "GetAuthorizationToken", op_get_authorization_token },
	{ "DescribeRegistries", op_describe_registries },
	{ "GetRegistryCatalogData", op_get_registry_catalog_data },
	{ "PutRegistryCatalogData", op_put_registry_catalog_data },
	{ "GetRepositoryCatalogData", op_get_repository_catalog_data },
	{ "PutRepositoryCatalogData", op_put_repository_catalog_data },
	{ NULL, NULL },
};
