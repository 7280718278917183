/*
 * The HTTP transport's call(): one ECR API operation as AWS JSON 1.1 (POST /
 * with X-Amz-Target, SigV4-signed with the transport's AWS credentials), and
 * the data plane's token from GetAuthorizationToken.
 *
 * The request is signed once, before http.c's retry loop: a retry resends the
 * same X-Amz-Date and signature, which SigV4 accepts for 5 minutes (longer
 * than the retries' backoff, 8 s at most per wait).
 */
#include <pthread.h>

#include "http_transport.h"

#include <stdio.h>
#include <time.h>

#include "../auth/auth.h"
#include "../core/crypto.h"
#include "../core/digest.h"
#include "../core/json.h"
#include "../core/timeutil.h"

#define TARGET_PREFIX "AmazonEC2ContainerRegistry_V20150921."
#define CONTENT_TYPE "application/x-amz-json-1.1"
#define MAX_RESPONSE (16u * 1024 * 1024)
#define MAX_OPERATION 64
#define TOKEN_RENEW_MS (5 * 60 * 1000)

/* "host[:port]" of a base URL "scheme://host[:port]". */
static const char *url_host(const char *url)
{
	const char *p = strstr(url, "://");
	return p ? p + 3 : url;
}

static bool operation_ok(const char *op)
{
	size_t n = op ? strlen(op) : 0;
	if (n == 0 || n > MAX_OPERATION)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = op[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/*
 * Fail for an error response: its __type's code and message; ECR_ENOTSUPPORTED when it is no ECR API's (no
 * __type in a JSON body, 404, 405, 501: a plain OCI registry, a web server); a 429 or another 5xx without
 * __type is ECR_ETHROTTLED or ECR_ERROR.
 */
static int error_response(const ecr__http_response *res, const char *operation, const char *url)
{
	ecr__json *doc = NULL;
	const char *type = NULL, *message = NULL;
	char msg[1024];
	int code;
	if (res->status != 404 && res->status != 405 && res->body.size &&
	    ecr__json_parse(&doc, res->body.ptr, res->body.size, NULL) == 0 && doc->type == ECR__JSON_OBJECT) {
		type = ecr__json_get_string(doc, "__type");
		message = ecr__json_get_string(doc, "message");
		if (!message)
			message = ecr__json_get_string(doc, "Message");
	}
	ecr__error_clear();
	if ((!type || !*type) && (res->status == 429 || (res->status >= 500 && res->status != 501))) {
		/* overloaded or broken, whatever it serves */
		snprintf(msg, sizeof(msg), "%s: HTTP %ld from %s", operation, res->status, url);
		code = ecr_transport_fail(res->status == 429 ? ECR_ETHROTTLED : ECR_ERROR, msg);
	} else if (!type || !*type) {
		snprintf(msg, sizeof(msg), "the registry at %s serves no ECR API (%s: HTTP %ld)", url, operation,
			res->status);
		code = ecr_transport_fail(ECR_ENOTSUPPORTED, msg);
	} else {
		code = ecr_error_from_exception(type);
		if (message && *message)
			snprintf(msg, sizeof(msg), "%s: %s", operation, message);
		else
			snprintf(msg, sizeof(msg), "%s: %s (HTTP %ld)", operation, type, res->status);
		ecr_transport_fail(code, msg);
	}
	ecr__json_free(doc);
	return code;
}

int ecr__http_ecr_call(ecr_buf *response, ecr_transport *t, const char *operation, const char *request,
	size_t request_len)
{
	ecr__http_transport *ht = (ecr__http_transport *)t;
	ecr__http_response res = { 0 };
	ecr_buf target = ECR_BUF_INIT, authz = ECR_BUF_INIT, hb[6];
	const char *lines[7];
	char sha[ECR__DIGEST_STRLEN_MAX], amz[17];
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < 6; i++)
		hb[i] = (ecr_buf)ECR_BUF_INIT;

	if (!response || !ht || !operation_ok(operation) || (request_len && !request))
		return ecr_transport_fail(ECR_EINVALID, "call: invalid operation or request");
	if (!ht->api || (ht->remote_flags & ECR_REMOTE_OCI_ONLY))
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_TRANSPORT, "%s: the registry at %s has no ECR API",
			operation, ht->base_url ? ht->base_url : "?");
	/*
	 * Without credentials the request goes unsigned: a registry that serves
	 * anonymous callers (ecrd --no-auth) answers it; any other says
	 * MissingAuthenticationToken, reported below with where credentials come from.
	 */
	bool anonymous = !ht->creds.access_key_id || !ht->creds.secret_access_key;
	const char *region = ht->region && *ht->region ? ht->region : "us-east-1";
	const char *url = ecr__http_base_url(ht->api);
	if (!request_len) {
		request = "{}";
		request_len = 2;
	}

	/* The headers, each signed. */
	time_t now = (time_t)(ecr__time_now_ms() / 1000);
	struct tm tm;
	if (!gmtime_r(&now, &tm) || strftime(amz, sizeof(amz), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: cannot format the date", operation);
	if ((rc = ecr__digest_buf(sha, sizeof(sha), ECR__DIGEST_SHA256, request, request_len)))
		goto done;
	ecr_http_header sh[5] = {
		{ "Content-Type", CONTENT_TYPE },
		{ "Host", url_host(url) },
		{ "X-Amz-Date", amz },
		{ "X-Amz-Target", NULL },
		{ "X-Amz-Security-Token", ht->creds.session_token },
	};
	if ((rc = ecr__buf_printf(&target, TARGET_PREFIX "%s", operation)))
		goto done;
	sh[3].value = target.ptr;
	ecr_sigv4_request sreq = ECR_SIGV4_REQUEST_INIT;
	sreq.method = "POST";
	sreq.path = "/";
	sreq.headers = sh;
	sreq.headers_count = ht->creds.session_token ? 5 : 4;
	sreq.payload_sha256 = sha + strlen("sha256:");
	sreq.service = "ecr";
	if (!anonymous &&
		(rc = ecr__sigv4_sign(&authz, &sreq, ht->creds.access_key_id, ht->creds.secret_access_key, region)))
		goto done;

	for (size_t i = 0; i < sreq.headers_count; i++, n++) {
		if ((rc = ecr__buf_printf(&hb[n], "%s: %s", sh[i].name, sh[i].value)))
			goto done;
		lines[n] = hb[n].ptr;
	}
	if (!anonymous) {
		if ((rc = ecr__buf_printf(&hb[n], "Authorization: %s", authz.ptr)))
			goto done;
		lines[n] = hb[n].ptr;
		n++;
	}
	lines[n] = NULL;

	ecr__http_request req = { 0 };
	req.method = "POST";
	req.path = "/";
	req.headers = lines;
	req.body = request;
	req.body_len = request_len;
	req.max_body = MAX_RESPONSE;
	req.no_challenge = true;
	rc = ecr__http_do(&res, ht->api, &req);
	if (rc == 0 && res.status >= 200 && res.status < 300) {
		ecr__buf_clear(response);
		rc = ecr__buf_put(response, res.body.ptr ? res.body.ptr : "", res.body.size);
	} else if (rc == 0 || rc == ECR_EAUTH || rc == ECR_ETHROTTLED) {
		if (res.status >= 400)
			rc = error_response(&res, operation, url);
		if (anonymous && rc == ECR_EMISSING_AUTH)
			rc = ecr__fail(ECR_EMISSING_AUTH, ECR_ERROR_TRANSPORT,
				"%s: %s requires AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile in "
				"~/.aws/credentials, or pass access_key_id and secret_access_key",
				operation, url);
		else if (rc == 0)
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: unexpected HTTP status %ld from %s",
				operation, res.status, url);
	}
done:
	for (size_t i = 0; i < 6; i++) {
		if (hb[i].ptr)
			memset(hb[i].ptr, 0, hb[i].size);
		ecr_buf_dispose(&hb[i]);
	}
	ecr__http_response_dispose(&res);
	ecr_buf_dispose(&target);
	if (authz.ptr)
		memset(authz.ptr, 0, authz.size);
	ecr_buf_dispose(&authz);
	return rc;
}

/* authorizationData[0] of a GetAuthorizationToken response: the password of "AWS:<password>" and the expiry (ms). */
static int parse_token(ecr_buf *user, ecr_buf *password, int64_t *expires_ms, const ecr_buf *body)
{
	ecr__json *doc = NULL;
	ecr_buf raw = ECR_BUF_INIT;
	int rc = ecr__json_parse(&doc, body->ptr ? body->ptr : "", body->size, NULL);
	if (rc)
		return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "GetAuthorizationToken: invalid response: %s",
			ecr_error_last()->message);
	const ecr__json *data = ecr__json_at(ecr__json_get(doc, "authorizationData"), 0);
	const char *tok = ecr__json_get_string(data, "authorizationToken");
	const ecr__json *exp = ecr__json_get(data, "expiresAt");
	if (!tok) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
			"GetAuthorizationToken: no authorizationToken in the response");
		goto done;
	}
	if ((rc = ecr__base64_decode(&raw, tok, strlen(tok)))) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "GetAuthorizationToken: the token is not base64");
		goto done;
	}
	const char *colon = raw.ptr ? memchr(raw.ptr, ':', raw.size) : NULL;
	if (!colon || colon == raw.ptr || memchr(raw.ptr, '\0', raw.size)) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT,
			"GetAuthorizationToken: the token is not 'user:password'");
		goto done;
	}
	ecr__buf_clear(user);
	ecr__buf_clear(password);
	if ((rc = ecr__buf_put(user, raw.ptr, (size_t)(colon - raw.ptr))) ||
	    (rc = ecr__buf_put(password, colon + 1, raw.size - (size_t)(colon - raw.ptr) - 1)))
		goto done;
	/* expiresAt: epoch seconds, maybe with a fraction; missing: ECR's 12 hours */
	*expires_ms = ecr__time_now_ms() + 12LL * 3600 * 1000;
	if (exp && exp->type == ECR__JSON_NUMBER && exp->number > 0 && exp->number < 1e11)
		*expires_ms = (int64_t)(exp->number * 1000.0);
done:
	if (raw.ptr)
		memset(raw.ptr, 0, raw.size);
	ecr_buf_dispose(&raw);
	ecr__json_free(doc);
	return rc;
}

int ecr__http_ecr_refresh_token(ecr__http_transport *ht)
{
	ecr_buf body = ECR_BUF_INIT, user = ECR_BUF_INIT, password = ECR_BUF_INIT;
	int64_t expires = 0;
	int rc = 0;
	if (!ht || ht->basic_given || !ht->api || !ht->data || !ht->creds.access_key_id ||
	    (ht->remote_flags & ECR_REMOTE_OCI_ONLY))
		return 0;
	/* One refresh at a time: the others wait for it and then find the new token. */
	pthread_mutex_lock(&ht->lock);
	if (ht->features_known && !(ht->features & ECR_TRANSPORT_HAS_ECR_API))
		goto done;
	if (ht->token_expires_at && ecr__time_now_ms() < ht->token_expires_at - TOKEN_RENEW_MS)
		goto done;
	rc = ecr__http_ecr_call(&body, &ht->base, "GetAuthorizationToken", "{}", 2);
	if (rc == ECR_ENOTSUPPORTED) { /* no ECR API: the data plane goes without */
		ecr__error_clear();
		rc = 0;
		goto done;
	}
	if (rc || (rc = parse_token(&user, &password, &expires, &body)) ||
	    (rc = ecr__http_set_basic(ht->data, user.ptr, password.ptr)))
		goto done;
	ht->token_expires_at = expires;
	ecr__log(&ht->log, ECR_LOG_DEBUG, "got a registry token from GetAuthorizationToken (expires in %lld s)",
		(long long)((expires - ecr__time_now_ms()) / 1000));
done:
	pthread_mutex_unlock(&ht->lock);
	if (password.ptr)
		memset(password.ptr, 0, password.size);
	ecr_buf_dispose(&password);
	ecr_buf_dispose(&user);
	ecr_buf_dispose(&body);
	return rc;
}
