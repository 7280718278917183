/* Authentication and authorization of the data plane (/v2/): ECR's Basic
 * "AWS:<token>" credentials (or a presigned X-Ecr-Token query parameter for
 * blob downloads), then one ecr: action per route, as ECR maps them. */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>

#include "../core/crypto.h"

/* Longest Authorization value accepted (ECR's tokens are a few KiB). */
#define MAX_CREDENTIALS 16384

/* The action each route and method is authorized as (ecr-api.md §7.3). */
typedef struct v2_rule {
	http_route route;
	const char *method;
	const char *action; /* NULL: a valid token is enough */
	bool on_registry;   /* on the registry's ARN rather than the repository's */
} v2_rule;

static const v2_rule rules[] = {
	{ ROUTE_BASE, "GET", NULL, false },
	{ ROUTE_BASE, "HEAD", NULL, false },
	{ ROUTE_CATALOG, "GET", "ecr:DescribeRepositories", true },
	{ ROUTE_TAGS, "GET", "ecr:ListImages", false },
	{ ROUTE_MANIFEST, "GET", "ecr:BatchGetImage", false },
	{ ROUTE_MANIFEST, "HEAD", "ecr:BatchGetImage", false },
	{ ROUTE_MANIFEST, "PUT", "ecr:PutImage", false },
	{ ROUTE_MANIFEST, "DELETE", "ecr:BatchDeleteImage", false },
	{ ROUTE_BLOB, "GET", "ecr:GetDownloadUrlForLayer", false },
	{ ROUTE_BLOB, "HEAD", "ecr:BatchCheckLayerAvailability", false },
	{ ROUTE_BLOB, "DELETE", "ecr:BatchDeleteImage", false },
	{ ROUTE_UPLOADS, "POST", "ecr:InitiateLayerUpload", false },
	{ ROUTE_UPLOAD, "GET", "ecr:UploadLayerPart", false },
	{ ROUTE_UPLOAD, "PATCH", "ecr:UploadLayerPart", false },
	{ ROUTE_UPLOAD, "PUT", "ecr:CompleteLayerUpload", false },
	{ ROUTE_UPLOAD, "DELETE", "ecr:UploadLayerPart", false },
	{ ROUTE_REFERRERS, "GET", "ecr:BatchGetImage", false },
};

static const v2_rule *find_rule(const http_request *r)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].route == r->target.route && strcmp(rules[i].method, r->method) == 0)
			return &rules[i];
	return NULL;
}

int ecr__v2_repository_arn(ecr_buf *out, ecr_registry *reg, const char *name)
{
	ecr__buf_clear(out);
	return ecr__buf_printf(out, "arn:aws:ecr:%s:%s:repository/%s", ecr_registry_region(reg),
		ecr_registry_account_id(reg), name);
}

/* 401 UNAUTHORIZED with the challenge ECR sends. */
static enum MHD_Result unauthorized(http_request *r, const char *message)
{
	const char *host = ecr__http_header(r, MHD_HTTP_HEADER_HOST);
	char challenge[512];
	size_t hlen = host ? strlen(host) : 0;
	/* the Host header is the client's: keep it to what a host[:port] may hold */
	if (!host || hlen > 255 || strcspn(host, "\"\\\r\n ") != hlen)
		host = "localhost";
	snprintf(challenge, sizeof(challenge), "Basic realm=\"https://%s/\",service=\"ecr.amazonaws.com\"", host);
	struct MHD_Response *resp = ecr__http_response_error("UNAUTHORIZED", message);
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
	return ecr__http_queue(r, 401, resp);
}

/*
 * The token of the request into tok: from "Authorization: Basic
 * base64(AWS:<token>)", or (blob downloads only) the X-Ecr-Token query
 * parameter, a blob download token (*presigned set). 0; ECR_ENOTFOUND when
 * there is none; ECR_EAUTH when malformed.
 */
static int request_token(ecr_buf *tok, bool *presigned, http_request *r)
{
	*presigned = false;
	const char *h = ecr__http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h) {
		while (*h == ' ')
			h++;
		if (strncasecmp(h, "Basic ", 6) != 0)
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "only Basic authentication is supported");
		h += 6;
		while (*h == ' ')
			h++;
		size_t len = strlen(h);
		while (len && h[len - 1] == ' ')
			len--;
		if (len == 0 || len > MAX_CREDENTIALS)
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "malformed Basic credentials");
		int rc = ecr__base64_decode(tok, h, len);
		if (rc == ECR_ENOMEM)
			return rc;
		if (rc || tok->size < 5 || memchr(tok->ptr, '\0', tok->size) || memcmp(tok->ptr, "AWS:", 4) != 0)
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID,
				"malformed Basic credentials (the user name is AWS)");
		memmove(tok->ptr, tok->ptr + 4, tok->size - 4);
		tok->size -= 4;
		tok->ptr[tok->size] = '\0';
		return 0;
	}
	const char *q = ecr__http_query(r, "X-Ecr-Token");
	if (q && r->target.route == ROUTE_BLOB && (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)) {
		size_t len = strlen(q);
		if (len == 0 || len > MAX_CREDENTIALS)
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "malformed X-Ecr-Token");
		if (!r->target.name || !r->target.ref)
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "X-Ecr-Token without a blob");
		*presigned = true;
		return ecr__buf_put(tok, q, len);
	}
	return ECR_ENOTFOUND;
}

/* The client's address, for aws:SourceIp. */
static void source_ip(http_request *r, char *out, size_t size)
{
	out[0] = '\0';
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)size);
}

/* Authorize one action on a repository of r->reg (name) or on the registry (name NULL). */
static int authorize(http_request *r, const char *action, const char *name)
{
	ecr_buf arn = ECR_BUF_INIT;
	char ip[INET6_ADDRSTRLEN];
	int rc = 0;
	if (name && (rc = ecr__v2_repository_arn(&arn, r->reg, name)))
		goto done;
	source_ip(r, ip, sizeof(ip));
	ecr_policy_context_key ctx[] = { { "aws:SourceIp", ip } };
	rc = ecr_authorize(r->reg, r->principal, action, name ? arn.ptr : ecr_registry_arn(r->reg), ctx, ip[0] ? 1 : 0);
done:
	ecr_buf_dispose(&arn);
	return rc;
}

int ecr__v2_may_create(http_request *r)
{
	if (r->srv->flags & ECR_SERVER_NO_AUTH)
		return 0;
	if (!r->principal)
		return ecr__fail(ECR_EDENIED, ECR_ERROR_POLICY, "not authenticated");
	return authorize(r, "ecr:CreateRepository", r->target.name);
}

/* The further actions some requests need besides their rule's. */
static int authorize_extra(http_request *r)
{
	int rc = 0;
	if (r->target.route == ROUTE_UPLOADS && strcmp(r->method, "POST") == 0) {
		const char *mount = ecr__http_query(r, "mount"), *from = ecr__http_query(r, "from");
		if (mount && from && (rc = authorize(r, "ecr:GetDownloadUrlForLayer", from)))
			return rc;
		if (ecr__http_query(r, "digest")) { /* a monolithic upload in one POST */
			if ((rc = authorize(r, "ecr:UploadLayerPart", r->target.name)))
				return rc;
			rc = authorize(r, "ecr:CompleteLayerUpload", r->target.name);
		}
	} else if (r->target.route == ROUTE_UPLOAD && strcmp(r->method, "PUT") == 0 && r->expects_body) {
		rc = authorize(r, "ecr:UploadLayerPart", r->target.name);
	}
	return rc;
}

bool ecr__v2_authorize(http_request *r, enum MHD_Result *ret)
{
	ecr_buf tok = ECR_BUF_INIT;
	int rc;
	bool ok = false, presigned = false;

	if (r->srv->flags & ECR_SERVER_NO_AUTH)
		return true;
	rc = request_token(&tok, &presigned, r);
	if (rc == ECR_ENOTFOUND) {
		ecr_error_clear();
		*ret = unauthorized(r, "Not Authorized");
		goto done;
	}
	if (!rc) {
		ecr_principal_free(r->principal);
		r->principal = NULL;
		/* a download URL's token reads the blob it names, nothing else */
		if (presigned)
			rc = ecr_auth_blob_token_verify(&r->principal, r->reg, tok.ptr, r->target.name, r->target.ref);
		else
			rc = ecr_auth_token_verify(&r->principal, r->reg, tok.ptr);
	}
	if (rc == ECR_EEXPIRED_TOKEN) {
		*ret = ecr__http_error(r, 403, "DENIED",
			"Your authorization token has expired. Reauthenticate and try again.");
		goto done;
	}
	if (rc == ECR_EAUTH || rc == ECR_EUNRECOGNIZED_CLIENT || rc == ECR_EINVALID || rc == ECR_ENOTFOUND) {
		ecr__log(&r->srv->log, ECR_LOG_DEBUG, "%s %s: rejected credentials: %s", r->method, r->path,
			ecr_error_last()->message);
		*ret = unauthorized(r, "Your authorization token is invalid.");
		goto done;
	}
	if (rc) {
		*ret = ecr__http_fail(r, rc, "");
		goto done;
	}
	const v2_rule *rule = find_rule(r);
	if (rule && rule->action) {
		rc = authorize(r, rule->action, rule->on_registry ? NULL : r->target.name);
		if (!rc)
			rc = authorize_extra(r);
		if (rc) {
			if (rc == ECR_EDENIED)
				ecr__log(&r->srv->log, ECR_LOG_INFO, "%s %s: denied to %s", r->method, r->path,
					ecr_principal_arn(r->principal));
			*ret = ecr__http_fail(r, rc, "name");
			goto done;
		}
	}
	ok = true;
done:
	ecr_buf_dispose(&tok);
	return ok;
}

/* placeholder (helper C replaces it) */
enum MHD_Result ecr__token_begin(http_request *r) { return ecr__http_error(r, 404, "NOT_FOUND", "no such route"); }
