/* Authentication and authorization of the data plane (/v2/): ECR's Basic
 * "AWS:<token>" credentials, the same token as a Bearer token, an anonymous
 * Bearer token (pulls of public repositories, "<alias>/<repository>"), or a
 * presigned X-Ecr-Token query parameter for blob downloads; then one ecr:
 * action per route, as ECR maps them (ecr-public: on public repositories,
 * whose pulls anyone may make). Also GET /token, the realm of the Bearer
 * challenge. */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <strings.h>

#include "../core/crypto.h"
#include "../core/json.h"
#include "../core/timeutil.h"
#include "ecr/public.h"

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
	if (strcmp(ecr_registry_region(reg), ECR_REGION_PUBLIC) == 0)
		return ecr__buf_printf(out, "arn:aws:ecr-public::%s:repository/%s", ecr_registry_account_id(reg), name);
	return ecr__buf_printf(out, "arn:aws:ecr:%s:%s:repository/%s", ecr_registry_region(reg),
		ecr_registry_account_id(reg), name);
}

/* How long the answer to "does the storage have a public registry?" is kept. */
#define PUBLIC_CHECK_MS 5000

static bool method_is(const http_request *r, const char *m) { return strcmp(r->method, m) == 0; }

const char *ecr__v2_client_name(const http_request *r)
{
	return r->client_name ? r->client_name : r->target.name;
}

/* The Host header, or "localhost" when it holds more than a host[:port] may. */
static const char *safe_host(http_request *r)
{
	const char *host = ecr__http_header(r, MHD_HTTP_HEADER_HOST);
	size_t hlen = host ? strlen(host) : 0;
	if (!host || hlen == 0 || hlen > 255 || strcspn(host, "\"\\\r\n ,") != hlen)
		return "localhost";
	return host;
}

static int stop_at_first(const char *account_id, const char *alias, void *payload)
{
	(void)account_id;
	(void)alias;
	(void)payload;
	return 1;
}

/* Whether the storage has a public registry with an alias (cached for a few seconds). */
static bool public_registries_exist(http_request *r)
{
	ecr_server *srv = r->srv;
	int64_t now = ecr__time_monotonic_ms(), checked = srv->public_checked_ms;
	if (checked && now - checked < PUBLIC_CHECK_MS)
		return srv->public_exists != 0;
	int rc = ecr_public_registries_foreach(r->reg, stop_at_first, NULL);
	if (rc < 0)
		ecr_error_clear();
	srv->public_exists = rc == 1;
	srv->public_checked_ms = now ? now : 1;
	return rc == 1;
}

/* Whether the request only reads (what anonymous callers may do on public repositories). */
static bool is_pull(const http_request *r)
{
	bool get = method_is(r, "GET"), head = method_is(r, "HEAD");
	switch (r->target.route) {
	case ROUTE_MANIFEST:
	case ROUTE_BLOB:
		return get || head;
	case ROUTE_TAGS:
	case ROUTE_REFERRERS:
		return get;
	default:
		return false;
	}
}

/*
 * 401 UNAUTHORIZED with a challenge: when the storage has public registries,
 * the Bearer challenge public.ecr.aws sends (its realm, /token, issues
 * anonymous tokens), with the scope of a repository route; otherwise ECR's
 * Basic challenge.
 */
static enum MHD_Result unauthorized(http_request *r, const char *message)
{
	const char *host = safe_host(r);
	ecr_buf challenge = ECR_BUF_INIT;
	int rc;
	if (public_registries_exist(r)) {
		const char *name = ecr__v2_client_name(r);
		rc = ecr__buf_printf(&challenge, "Bearer realm=\"%s://%s/token\",service=\"%s\"",
			r->srv->tls_cert ? "https" : "http", host, host);
		if (!rc && name && strlen(name) <= 512 && strcspn(name, "\"\\\r\n ,:") == strlen(name))
			rc = ecr__buf_printf(&challenge, ",scope=\"repository:%s:%s\"", name,
				is_pull(r) ? "pull" : "pull,push");
	} else {
		rc = ecr__buf_printf(&challenge, "Basic realm=\"https://%s/\",service=\"ecr.amazonaws.com\"", host);
	}
	struct MHD_Response *resp = rc ? NULL : ecr__http_response_error(r, "UNAUTHORIZED", message);
	if (resp)
		r->mhd->add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge.ptr);
	ecr_buf_dispose(&challenge);
	return ecr__http_queue(r, 401, resp);
}

typedef enum cred_kind {
	CRED_BASIC,    /* Basic base64(AWS:<registry token>) */
	CRED_BEARER,   /* Bearer <registry token or anonymous token> */
	CRED_PRESIGNED /* X-Ecr-Token: a blob download token */
} cred_kind;

/* The token of "Basic base64(AWS:<token>)" (value after "Basic") into tok: 0, or ECR_EAUTH. */
static int basic_token(ecr_buf *tok, const char *h)
{
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
		return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "malformed Basic credentials (the user name is AWS)");
	memmove(tok->ptr, tok->ptr + 4, tok->size - 4);
	tok->size -= 4;
	tok->ptr[tok->size] = '\0';
	return 0;
}

/*
 * The token of the request into tok: from "Authorization: Basic
 * base64(AWS:<token>)", "Authorization: Bearer <token>", or (blob downloads
 * only) the X-Ecr-Token query parameter, a blob download token. 0;
 * ECR_ENOTFOUND when there is none; ECR_EAUTH when malformed.
 */
static int request_token(ecr_buf *tok, cred_kind *kind, http_request *r)
{
	*kind = CRED_BASIC;
	const char *h = ecr__http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h) {
		while (*h == ' ')
			h++;
		if (strncasecmp(h, "Basic ", 6) == 0)
			return basic_token(tok, h + 6);
		if (strncasecmp(h, "Bearer ", 7) != 0)
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "only Basic and Bearer authentication are supported");
		*kind = CRED_BEARER;
		h += 7;
		while (*h == ' ')
			h++;
		size_t len = strlen(h);
		while (len && h[len - 1] == ' ')
			len--;
		if (len == 0 || len > MAX_CREDENTIALS || memchr(h, ' ', len))
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "malformed Bearer credentials");
		return ecr__buf_put(tok, h, len);
	}
	const char *q = ecr__http_query(r, "X-Ecr-Token");
	if (q && r->target.route == ROUTE_BLOB && (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)) {
		size_t len = strlen(q);
		if (len == 0 || len > MAX_CREDENTIALS)
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "malformed X-Ecr-Token");
		if (!r->target.name || !r->target.ref)
			return ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "X-Ecr-Token without a blob");
		*kind = CRED_PRESIGNED;
		return ecr__buf_put(tok, q, len);
	}
	return ECR_ENOTFOUND;
}

/* The client's address, for aws:SourceIp. */
static void source_ip(http_request *r, char *out, size_t size)
{
	out[0] = '\0';
	const union MHD_ConnectionInfo *ci = r->mhd->get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)size);
}

/* Authorize one action on a repository of r->reg (name) or on the registry (name NULL). On
 * a public registry, ecr:X is authorized as ecr-public:X on ECR Public's ARNs. */
static int authorize(http_request *r, const char *action, const char *name)
{
	ecr_buf arn = ECR_BUF_INIT, act = ECR_BUF_INIT;
	char ip[INET6_ADDRSTRLEN];
	int rc = 0;
	if (name && (rc = ecr__v2_repository_arn(&arn, r->reg, name)))
		goto done;
	if (r->public_repo && strncmp(action, "ecr:", 4) == 0) {
		if ((rc = ecr__buf_printf(&act, "ecr-public:%s", action + 4)))
			goto done;
		action = act.ptr;
	}
	source_ip(r, ip, sizeof(ip));
	ecr_policy_context_key ctx[] = { { "aws:SourceIp", ip } };
	rc = ecr_authorize(r->reg, r->principal, action, name ? arn.ptr : ecr_registry_arn(r->reg), ctx, ip[0] ? 1 : 0);
done:
	ecr_buf_dispose(&arn);
	ecr_buf_dispose(&act);
	return rc;
}

int ecr__v2_may_create(http_request *r)
{
	if (r->public_repo) /* public repositories are created through the API (CreateRepository) only */
		return ecr__fail(ECR_EREPOSITORY_NOT_FOUND, ECR_ERROR_INVALID,
			"The repository with name '%s' does not exist in the registry with id '%s'", ecr__v2_client_name(r),
			ecr_registry_account_id(r->reg));
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
		/* a mount from a public repository reads what anyone may read (oci.c mounts only from the same registry) */
		if (mount && from && !r->public_repo && (rc = authorize(r, "ecr:GetDownloadUrlForLayer", from)))
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

/* From here on the request is for repository rest of the public registry pub. */
static int switch_to_public(http_request *r, ecr_registry *pub, const char *rest)
{
	char *inner = ecr__strdup(rest);
	if (!inner)
		return ECR_ENOMEM;
	ecr__free(r->client_name);
	r->client_name = r->target.name;
	r->target.name = inner;
	r->reg = pub;
	r->public_repo = true;
	return 0;
}

/*
 * The public registry whose alias is the first component of name, and where
 * the rest begins. ECR_ENOTFOUND when the name has no such alias (a bad
 * alias included); other codes are failures.
 */
static int public_registry_of(ecr_registry **pub, const char **rest, http_request *r, const char *name)
{
	ecr_buf alias = ECR_BUF_INIT, account = ECR_BUF_INIT;
	const char *slash = name ? strchr(name, '/') : NULL;
	int rc;
	*pub = NULL;
	if (!slash || slash == name || !slash[1] || (size_t)(slash - name) > ECR_PUBLIC_ALIAS_MAX)
		return ECR_ENOTFOUND;
	if ((rc = ecr__buf_put(&alias, name, (size_t)(slash - name))))
		goto done;
	rc = ecr_public_alias_lookup(&account, r->reg, alias.ptr);
	if (rc == ECR_EINVALID || rc == ECR_ENOTFOUND || rc == ECR_ENOTSUPPORTED) {
		ecr_error_clear();
		rc = ECR_ENOTFOUND;
		goto done;
	}
	if (rc)
		goto done;
	if ((rc = ecr__server_registry(pub, r->srv, r->reg, account.ptr, ECR_REGION_PUBLIC))) {
		ecr__log(&r->srv->log, ECR_LOG_WARN, "the public registry of account %s (alias %s) cannot be opened: %s",
			account.ptr, alias.ptr, ecr_error_last()->message);
		goto done;
	}
	*rest = slash + 1;
done:
	ecr_buf_dispose(&alias);
	ecr_buf_dispose(&account);
	return rc;
}

/*
 * An authenticated request (or any with authentication off): a repository
 * of the Host's registry with that exact name, else "<alias>/<rest>" of a
 * public registry, else the Host's registry as always (create-on-push).
 */
static int route_authenticated(http_request *r)
{
	const char *name = r->target.name, *rest = NULL;
	ecr_registry *pub = NULL;
	if (!name || !strchr(name, '/'))
		return 0;
	int rc = ecr_repository_open(&r->repo, r->reg, name);
	if (rc != ECR_EREPOSITORY_NOT_FOUND) {
		if (rc && rc != ECR_ENOMEM) /* a bad name: the route says so */
			ecr_error_clear();
		return rc == ECR_ENOMEM ? rc : 0;
	}
	ecr_error_clear();
	rc = public_registry_of(&pub, &rest, r, name);
	if (rc == ECR_ENOTFOUND)
		return 0;
	return rc ? rc : switch_to_public(r, pub, rest);
}

/* What an anonymous caller gets for any name but a public repository's: one
 * answer whatever the name (the distribution specification's own words), so
 * that nothing in it tells a private name from a missing one. */
static enum MHD_Result anonymous_unknown(http_request *r)
{
	return ecr__http_error(r, 404, "NAME_UNKNOWN", "repository name not known to registry");
}

/* 429 TOOMANYREQUESTS when the client's address has pulled too much. true: answered. */
static bool over_limit(http_request *r, enum MHD_Result *ret)
{
	const union MHD_ConnectionInfo *ci = r->mhd->get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	uint32_t wait = ecr__ratelimit_take(r->srv->anon_limit, ci ? ci->client_addr : NULL);
	if (!wait)
		return false;
	char retry[16];
	snprintf(retry, sizeof(retry), "%u", (unsigned)wait);
	struct MHD_Response *resp = ecr__http_response_error(r, "TOOMANYREQUESTS", "Rate exceeded");
	if (resp)
		r->mhd->add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry);
	ecr__log(&r->srv->log, ECR_LOG_DEBUG, "%s %s: anonymous pull rate exceeded (retry after %u s)", r->method,
		r->path, (unsigned)wait);
	*ret = ecr__http_queue(r, 429, resp);
	return true;
}

/*
 * A request with an anonymous token: pulls of "<alias>/<repository>" of a
 * public registry, nothing else. Whatever else it asks is answered as for a
 * name that does not exist, without looking at the Host's registry.
 */
static bool anonymous_request(http_request *r, enum MHD_Result *ret)
{
	ecr_registry *pub = NULL;
	const char *rest = NULL;
	int rc;
	r->anonymous = true;
	if (r->target.route == ROUTE_BASE && (method_is(r, "GET") || method_is(r, "HEAD")))
		return true;
	if (!is_pull(r)) {
		*ret = method_is(r, "GET") || method_is(r, "HEAD") ? anonymous_unknown(r)
								  : unauthorized(r, "Not Authorized");
		return false;
	}
	if (r->target.route == ROUTE_MANIFEST && over_limit(r, ret))
		return false;
	rc = public_registry_of(&pub, &rest, r, r->target.name);
	if (!rc) {
		rc = ecr_repository_open(&r->repo, pub, rest);
		if (rc == ECR_EREPOSITORY_NOT_FOUND || rc == ECR_EINVALID)
			rc = ECR_ENOTFOUND;
	}
	if (!rc)
		rc = switch_to_public(r, pub, rest);
	if (rc == ECR_ENOMEM) {
		*ret = MHD_NO;
		return false;
	}
	if (rc) {
		ecr_error_clear();
		*ret = anonymous_unknown(r);
		return false;
	}
	return true;
}

bool ecr__v2_authorize(http_request *r, enum MHD_Result *ret)
{
	ecr_buf tok = ECR_BUF_INIT;
	int rc;
	bool ok = false;
	cred_kind kind = CRED_BASIC;

	if (r->srv->flags & ECR_SERVER_NO_AUTH) {
		if ((rc = route_authenticated(r))) {
			*ret = ecr__http_fail(r, rc, "name");
			return false;
		}
		return true;
	}
	rc = request_token(&tok, &kind, r);
	if (rc == ECR_ENOTFOUND) {
		ecr_error_clear();
		*ret = unauthorized(r, "Not Authorized");
		goto done;
	}
	if (!rc && kind == CRED_BEARER) {
		rc = ecr_auth_anonymous_token_verify(r->reg, tok.ptr);
		if (rc == 0) {
			ok = anonymous_request(r, ret);
			goto done;
		}
		if (rc == ECR_EEXPIRED_TOKEN) { /* 401, so that the client fetches a new one */
			*ret = unauthorized(r, "Your authorization token has expired.");
			goto done;
		}
		if (rc == ECR_ENOMEM)
			goto done_fail;
		ecr_error_clear();
		rc = 0; /* a registry token, then */
	}
	if (!rc) {
		ecr_principal_free(r->principal);
		r->principal = NULL;
		/* a download URL's token reads the blob it names, nothing else */
		if (kind == CRED_PRESIGNED)
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
	/* a download URL names a repository of the registry it was made for: no public routing */
	if (!rc && kind != CRED_PRESIGNED)
		rc = route_authenticated(r);
done_fail:
	if (rc) {
		*ret = ecr__http_fail(r, rc, "name");
		goto done;
	}
	const v2_rule *rule = find_rule(r);
	/* public repositories: anyone may pull, pushes are authorized as ecr-public:<Action> */
	if (rule && rule->action && !(r->public_repo && is_pull(r))) {
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

/* --- GET /token --- */

static enum MHD_Result token_reply(http_request *r, const char *token, int64_t expires_in)
{
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	char issued[40];
	if (ecr__time_format_iso8601(issued, sizeof(issued), ecr_registry_now(r->reg)))
		snprintf(issued, sizeof(issued), "1970-01-01T00:00:00Z");
	if (ecr__jw_new(&w) || ecr__jw_object_open(w) || ecr__jw_key(w, "token") || ecr__jw_string(w, token) ||
		ecr__jw_key(w, "access_token") || ecr__jw_string(w, token) || ecr__jw_key(w, "expires_in") ||
		ecr__jw_int(w, expires_in) || ecr__jw_key(w, "issued_at") || ecr__jw_string(w, issued) ||
		ecr__jw_object_close(w) || ecr__jw_finish(w, &out)) {
		ecr__jw_free(w);
		ecr_buf_dispose(&out);
		return MHD_NO;
	}
	ecr__jw_free(w);
	struct MHD_Response *resp = ecr__http_response_buf(r, out.ptr, out.size, "application/json");
	ecr_buf_dispose(&out);
	if (resp)
		r->mhd->add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return ecr__http_queue(r, 200, resp);
}

/* How long a client may keep using a registry token handed back by /token
 * before asking again (the token's own expiry is not known here). */
#define REGISTRY_TOKEN_RECHECK_SECONDS 60

enum MHD_Result ecr__token_begin(http_request *r)
{
	ecr_buf tok = ECR_BUF_INIT;
	ecr_principal *p = NULL;
	enum MHD_Result ret;
	int64_t expires_at = 0;
	int rc;
	if (!method_is(r, "GET")) {
		struct MHD_Response *resp =
			ecr__http_response_error(r, "UNSUPPORTED", "the token endpoint answers GET only");
		if (resp)
			r->mhd->add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET");
		return ecr__http_queue(r, 405, resp);
	}
	const char *h = ecr__http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h) {
		if ((rc = ecr_auth_anonymous_token_create(&tok, &expires_at, r->reg))) {
			ret = ecr__http_fail(r, rc, "");
			goto done;
		}
		int64_t in = (expires_at - ecr_registry_now(r->reg)) / 1000;
		ret = token_reply(r, tok.ptr, in > 0 ? in : 0);
		goto done;
	}
	while (*h == ' ')
		h++;
	rc = strncasecmp(h, "Basic ", 6) == 0 ? basic_token(&tok, h + 6)
					      : ecr__fail(ECR_EAUTH, ECR_ERROR_INVALID, "only Basic credentials are accepted");
	if (!rc)
		rc = ecr_auth_token_verify(&p, r->reg, tok.ptr);
	if (rc == ECR_ENOMEM) {
		ret = MHD_NO;
		goto done;
	}
	if (rc) {
		ecr__log(&r->srv->log, ECR_LOG_DEBUG, "GET /token: rejected credentials: %s", ecr_error_last()->message);
		ret = unauthorized(r, rc == ECR_EEXPIRED_TOKEN ? "Your authorization token has expired."
							      : "Your authorization token is invalid.");
		goto done;
	}
	ret = token_reply(r, tok.ptr, REGISTRY_TOKEN_RECHECK_SECONDS);
done:
	ecr_principal_free(p);
	ecr_buf_dispose(&tok);
	return ret;
}
