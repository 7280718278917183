/* Registry-wide operations of a remote registry: the registry policy, account
 * settings, the registry's scanning configuration and authorization tokens,
 * through the ECR API (remote_repo.h). */
#include "remote_repo.h"

#include "../core/crypto.h"

int ecr__remote_local_only(ecr_registry *reg, const char *what)
{
	return ecr__remote_unsupported(reg, what, "it runs on the registry's own host");
}

/* Run operation with a request object of up to two string members (a NULL key ends the list); *res receives
 * the response. */
static int call(ecr__json **res, ecr_registry *reg, const char *operation, const char *k1, const char *v1,
	const char *k2, const char *v2)
{
	ecr__jw *w = NULL;
	int rc = ecr__jw_new(&w);
	*res = NULL;
	if (rc)
		return rc;
	rc = ecr__jw_object_open(w);
	if (!rc && k1)
		rc = ecr__jw_key_string(w, k1, v1);
	if (!rc && k2)
		rc = ecr__jw_key_string(w, k2, v2);
	return ecr__remote_run(res, reg, operation, w, rc);
}
/* A string member of a response; a missing one is a malformed response. */
static int response_string(const char **out, ecr_registry *reg, const ecr__json *res, const char *operation,
	const char *key)
{
	*out = ecr__json_get_string(res, key);
	if (!*out)
		return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the response of %s has no %s", reg->remote->host,
			operation, key);
	return 0;
}

int ecr__remote_registry_set_policy(ecr_registry *reg, const char *text)
{
	ecr__json *res = NULL;
	int rc = call(&res, reg, "PutRegistryPolicy", "policyText", text, NULL, NULL);
	ecr__json_free(res);
	return rc;
}

int ecr__remote_registry_policy(ecr_buf *out, ecr_registry *reg)
{
	ecr__json *res = NULL;
	int rc = call(&res, reg, "GetRegistryPolicy", NULL, NULL, NULL, NULL);
	if (!rc)
		rc = ecr__remote_copy_string(out, true, reg, res, "GetRegistryPolicy", "policyText");
	ecr__json_free(res);
	return rc;
}

int ecr__remote_registry_delete_policy(ecr_buf *deleted_out, ecr_registry *reg)
{
	ecr__json *res = NULL;
	int rc = call(&res, reg, "DeleteRegistryPolicy", NULL, NULL, NULL, NULL);
	if (!rc)
		rc = ecr__remote_copy_string(deleted_out, true, reg, res, "DeleteRegistryPolicy", "policyText");
	ecr__json_free(res);
	return rc;
}

int ecr__remote_registry_setting(ecr_buf *out, ecr_registry *reg, const char *name)
{
	ecr__json *res = NULL;
	int rc = call(&res, reg, "GetAccountSetting", "name", name, NULL, NULL);
	if (!rc)
		rc = ecr__remote_copy_string(out, true, reg, res, "GetAccountSetting", "value");
	ecr__json_free(res);
	return rc;
}

int ecr__remote_registry_set_setting(ecr_registry *reg, const char *name, const char *value)
{
	ecr__json *res = NULL;
	int rc = call(&res, reg, "PutAccountSetting", "name", name, "value", value);
	ecr__json_free(res);
	return rc;
}

int ecr__remote_registry_set_scanning_configuration(ecr_registry *reg, const char *json)
{
	ecr__json *res = NULL;
	/* The configuration is the request itself ({scanType, rules}): the registry validates it. */
	int rc = ecr__remote_call_json(&res, reg, "PutRegistryScanningConfiguration", NULL, json,
		"the scanning configuration must be a JSON object");
	ecr__json_free(res);
	return rc;
}

int ecr__remote_registry_scanning_configuration(ecr_buf *out, ecr_registry *reg)
{
	ecr__json *res = NULL;
	int rc = call(&res, reg, "GetRegistryScanningConfiguration", NULL, NULL, NULL, NULL);
	if (rc)
		goto done;
	const ecr__json *conf = ecr__json_get(res, "scanningConfiguration");
	if (!conf || conf->type != ECR__JSON_OBJECT) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
			"%s: the response of GetRegistryScanningConfiguration has no scanningConfiguration", reg->remote->host);
		goto done;
	}
	/* re-serialised compactly, members in the registry's order: the text the local function gives */
	rc = ecr__json_to_buf(out, conf);
done:
	ecr__json_free(res);
	return rc;
}

int ecr__remote_auth_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg)
{
	ecr_buf login = ECR_BUF_INIT;
	ecr__json *res = NULL;
	const char *b64;
	int rc = call(&res, reg, "GetAuthorizationToken", NULL, NULL, NULL, NULL);
	if (rc)
		goto done;
	const ecr__json *data = ecr__json_at(ecr__json_get(res, "authorizationData"), 0);
	if ((rc = response_string(&b64, reg, data, "GetAuthorizationToken", "authorizationToken")))
		goto done;
	if ((rc = ecr__base64_decode(&login, b64, strlen(b64))) || login.size < 4 || memcmp(login.ptr, "AWS:", 4) != 0 ||
		memchr(login.ptr, '\0', login.size)) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
			"%s: the authorization token of GetAuthorizationToken is not base64 of \"AWS:<password>\"",
			reg->remote->host);
		goto done;
	}
	ecr__buf_clear(token_out);
	if ((rc = ecr__buf_put(token_out, login.ptr + 4, login.size - 4)))
		goto done;
	if (expires_at_out)
		*expires_at_out = ecr__remote_time(data, "expiresAt");
done:
	if (login.ptr) /* wipe the secret */
		memset(login.ptr, 0, login.size);
	ecr_buf_dispose(&login);
	ecr__json_free(res);
	return rc;
}
