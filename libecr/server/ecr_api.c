/* The ECR control plane's dispatch: POST / with X-Amz-Target (AWS JSON 1.1),
 * the body buffered and hashed, SigV4 verified, the caller's registry found,
 * the operation called by name, and the response or error written as ECR
 * writes them. Also the helpers of ecr_api.h. */
#include "ecr_api.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/crypto.h"
#include "../core/digest.h"
#include "../engine/engine.h"
#include "ecr/auth.h"
#include "ecr/public.h"

#define TARGET_PREFIX "AmazonEC2ContainerRegistry_V20150921."
#define TARGET_PREFIX_PUBLIC "SpencerFrontendService."
/* UploadLayerPart carries up to 20 MiB of data, base64: 28 MiB is enough for it and its envelope. */
#define API_MAX_BODY (28u * 1024 * 1024)
#define CONTENT_TYPE "application/x-amz-json-1.1"
#define MAX_HEADERS 200

/* The control plane's per-request state (http_request.api). */
#define MAX_ERROR_MEMBERS 6

/* A member of the error body beyond __type and message. */
typedef struct error_member {
	char key[32];
	char *str; /* NULL: an integer */
	int64_t num;
} error_member;

typedef struct api_state {
	char request_id[37];
	const char *type_override; /* an __type that no ECR_E* code carries (SerializationException) */
	error_member members[MAX_ERROR_MEMBERS];
	size_t members_count;
} api_state;

static api_state *state_of(http_request *r) { return r->api; }

void ecr__api_request_free(http_request *r)
{
	if (!r)
		return;
	api_state *st = r->api;
	for (size_t i = 0; st && i < st->members_count; i++)
		ecr__free(st->members[i].str);
	ecr__free(r->api);
	r->api = NULL;
}

/* --- responses --- */

static enum MHD_Result respond(http_request *r, unsigned int status, const char *body, size_t len,
	const char *error_type)
{
	struct MHD_Response *resp = ecr__http_response_buf(r, body, len, CONTENT_TYPE);
	if (!resp)
		return MHD_NO;
	api_state *st = state_of(r);
	if (st)
		r->mhd->add_response_header(resp, "x-amzn-RequestId", st->request_id);
	if (error_type)
		r->mhd->add_response_header(resp, "x-amzn-ErrorType", error_type);
	return ecr__http_queue(r, status, resp);
}

/* An error with a given __type and message. */
static enum MHD_Result api_error(http_request *r, unsigned int status, const char *type, const char *message)
{
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	enum MHD_Result ret;
	api_state *st = state_of(r);
	bool ok = ecr__jw_new(&w) == 0 && ecr__jw_object_open(w) == 0 && ecr__jw_key(w, "__type") == 0 &&
		ecr__jw_string(w, type) == 0 && ecr__jw_key(w, "message") == 0 && ecr__jw_string(w, message) == 0;
	for (size_t i = 0; ok && st && i < st->members_count; i++) {
		const error_member *m = &st->members[i];
		ok = ecr__jw_key(w, m->key) == 0 && (m->str ? ecr__jw_string(w, m->str) : ecr__jw_int(w, m->num)) == 0;
	}
	if (ok && ecr__jw_object_close(w) == 0 && ecr__jw_finish(w, &out) == 0)
		ret = respond(r, status, out.ptr, out.size, type);
	else
		ret = MHD_NO;
	ecr__jw_free(w);
	ecr_buf_dispose(&out);
	return ret;
}

/* The error for a library failure rc (the message is ecr_error_last()'s). */
static enum MHD_Result api_fail(http_request *r, int rc)
{
	api_state *st = state_of(r);
	const char *type = st && st->type_override ? st->type_override : ecr_error_exception(rc);
	const ecr_error *e = ecr_error_last();
	const char *msg = e->code == rc && e->message && *e->message ? e->message : ecr_error_name(rc);
	unsigned int status = strcmp(type, "ServerException") == 0 ? 500 : 400;
	if (status >= 500)
		ecr__log(&r->srv->log, ECR_LOG_ERROR, "ECR API: %s", msg);
	return api_error(r, status, type, msg);
}

static error_member *error_member_add(ecr_api_call *call, const char *key)
{
	api_state *st = state_of(call->r);
	if (!st || st->members_count == MAX_ERROR_MEMBERS || strlen(key) >= sizeof(st->members[0].key))
		return NULL;
	error_member *m = &st->members[st->members_count++];
	memset(m, 0, sizeof(*m));
	memcpy(m->key, key, strlen(key) + 1);
	return m;
}

void ecr__api_error_string(ecr_api_call *call, const char *key, const char *value)
{
	error_member *m = error_member_add(call, key);
	if (m && !(m->str = ecr__strdup(value ? value : "")))
		state_of(call->r)->members_count--;
}

void ecr__api_error_int(ecr_api_call *call, const char *key, int64_t value)
{
	error_member *m = error_member_add(call, key);
	if (m)
		m->num = value;
}

/* --- input helpers --- */

static int invalid_param(const char *field, const char *reason)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "Invalid parameter at '%s' failed to satisfy constraint: '%s'",
		field, reason);
}

int ecr__api_type_error(ecr_api_call *call, const char *field, const char *expected)
{
	api_state *st = state_of(call->r);
	if (st)
		st->type_override = "SerializationException";
	return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "Unexpected value type for field '%s': expected %s", field,
		expected);
}

int ecr__api_input_object(ecr_buf *out, ecr_api_call *call, const ecr__api_member *members, size_t n)
{
	ecr__jw *w = NULL;
	int rc = ecr__jw_new(&w);
	if (!rc)
		rc = ecr__jw_object_open(w);
	for (size_t i = 0; !rc && i < n; i++) {
		const ecr__json *v = ecr__json_get(call->input, members[i].name);
		if (!v || v->type == ECR__JSON_NULL)
			continue;
		if (v->type != members[i].type)
			rc = ecr__api_type_error(call, members[i].name, members[i].expected);
		else if (!(rc = ecr__jw_key(w, members[i].name)))
			rc = ecr__jw_value(w, v);
	}
	if (!rc && !(rc = ecr__jw_object_close(w)))
		rc = ecr__jw_finish(w, out);
	ecr__jw_free(w);
	return rc;
}

static bool is_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* The model's repositoryName pattern:
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)* */
static bool repository_name_ok(const char *s)
{
	const char *p = s;
	for (;;) {
		/* one component */
		if (!is_alnum_lower(*p))
			return false;
		while (is_alnum_lower(*p))
			p++;
		while (*p == '.' || *p == '_' || *p == '-') {
			if (*p == '.')
				p++;
			else if (*p == '_')
				p += p[1] == '_' ? 2 : 1;
			else
				while (*p == '-')
					p++;
			if (!is_alnum_lower(*p))
				return false;
			while (is_alnum_lower(*p))
				p++;
		}
		if (*p == '\0')
			return true;
		if (*p != '/')
			return false;
		p++;
	}
}

static bool registry_id_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (s[n] < '0' || s[n] > '9')
			return false;
	return n == 12;
}

int ecr__api_string(const char **out, ecr_api_call *call, const char *field, bool required, size_t min_len,
	size_t max_len)
{
	char reason[128];
	*out = NULL;
	const ecr__json *v = ecr__json_get(call->input, field);
	if (!v || v->type == ECR__JSON_NULL) {
		if (required)
			return invalid_param(field, "Member must not be null");
		return 0;
	}
	if (v->type != ECR__JSON_STRING)
		return ecr__api_type_error(call, field, "a string");
	if (strlen(v->string) != v->length)
		return invalid_param(field, "Member must not contain NUL characters");
	if (v->length < min_len) {
		snprintf(reason, sizeof(reason), "Member must have length greater than or equal to %zu", min_len);
		return invalid_param(field, reason);
	}
	if (max_len && v->length > max_len) {
		snprintf(reason, sizeof(reason), "Member must have length less than or equal to %zu", max_len);
		return invalid_param(field, reason);
	}
	if (strcmp(field, "repositoryName") == 0 && !repository_name_ok(v->string))
		return invalid_param(field, "must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+"
					    "(?:[._-][a-z0-9]+)*'");
	if (strcmp(field, "registryId") == 0 && !registry_id_ok(v->string))
		return invalid_param(field, "Member must satisfy regular expression pattern: [0-9]{12}");
	*out = v->string;
	return 0;
}

int ecr__api_int(int64_t *out, bool *present_out, ecr_api_call *call, const char *field, int64_t min, int64_t max,
	int64_t dflt)
{
	char reason[128];
	*out = dflt;
	if (present_out)
		*present_out = false;
	const ecr__json *v = ecr__json_get(call->input, field);
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_NUMBER || !v->is_integer)
		return ecr__api_type_error(call, field, "an integer");
	if (v->integer < min) {
		snprintf(reason, sizeof(reason), "Member must have value greater than or equal to %" PRId64, min);
		return invalid_param(field, reason);
	}
	if (v->integer > max) {
		snprintf(reason, sizeof(reason), "Member must have value less than or equal to %" PRId64, max);
		return invalid_param(field, reason);
	}
	*out = v->integer;
	if (present_out)
		*present_out = true;
	return 0;
}

int ecr__api_bool(bool *out, ecr_api_call *call, const char *field, bool dflt)
{
	*out = dflt;
	const ecr__json *v = ecr__json_get(call->input, field);
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_BOOL)
		return ecr__api_type_error(call, field, "a boolean");
	*out = v->boolean;
	return 0;
}

int ecr__api_repository(ecr_repository **out, ecr_api_call *call)
{
	const char *name;
	*out = NULL;
	int rc = ecr__api_string(&name, call, "repositoryName", true, 2, ecr__api_name_max(call));
	if (rc)
		return rc;
	return ecr_repository_open(out, call->reg, name);
}

bool ecr__api_is_public(const ecr_api_call *call)
{
	return call->service && strcmp(call->service, "ecr-public") == 0;
}

size_t ecr__api_name_max(const ecr_api_call *call) { return ecr__api_is_public(call) ? 205 : 256; }

int ecr__api_repository_arn(ecr_buf *out, ecr_api_call *call, const char *name)
{
	ecr__buf_clear(out);
	if (ecr__api_is_public(call) || ecr_registry_is_public(call->reg))
		return ecr__buf_printf(out, "arn:aws:ecr-public::%s:repository/%s", ecr_registry_account_id(call->reg),
			name);
	return ecr__buf_printf(out, "arn:aws:ecr:%s:%s:repository/%s", ecr_registry_region(call->reg),
		ecr_registry_account_id(call->reg), name);
}

int ecr__api_authorize(ecr_api_call *call, const char *action, const char *resource_arn)
{
	char full[128];
	if (!call->principal)
		return 0;
	snprintf(full, sizeof(full), "%s:%s", call->service ? call->service : "ecr", action);
	ecr_policy_context_key ctx[2];
	size_t n = 0;
	if (call->source_ip)
		ctx[n++] = (ecr_policy_context_key){ "aws:SourceIp", call->source_ip };
	ctx[n++] = (ecr_policy_context_key){ "aws:SecureTransport", call->r->srv->tls_cert ? "true" : "false" };
	return ecr_authorize(call->reg, call->principal, full, resource_arn, ctx, n);
}

int ecr__api_authorize_registry(ecr_api_call *call)
{
	return ecr__api_authorize(call, call->operation, ecr_registry_arn(call->reg));
}

/* --- output helpers --- */

int ecr__api_write_time(ecr__jw *w, int64_t ms)
{
	return ecr__jw_double(w, (double)ms / 1000.0);
}

int ecr__api_write_repository(ecr__jw *w, ecr_api_call *call, const ecr_repository *repo)
{
	int rc;
	if (ecr__api_is_public(call))
		return ecr__api_write_public_repository(w, call, repo);
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "repositoryArn")) ||
		(rc = ecr__jw_string(w, ecr_repository_arn(repo))) || (rc = ecr__jw_key(w, "registryId")) ||
		(rc = ecr__jw_string(w, ecr_repository_registry_id(repo))) || (rc = ecr__jw_key(w, "repositoryName")) ||
		(rc = ecr__jw_string(w, ecr_repository_name(repo))) || (rc = ecr__jw_key(w, "repositoryUri")) ||
		(rc = ecr__jw_string(w, ecr_repository_uri(repo))) || (rc = ecr__jw_key(w, "createdAt")) ||
		(rc = ecr__api_write_time(w, ecr_repository_created_at(repo))) ||
		(rc = ecr__jw_key(w, "imageTagMutability")) ||
		(rc = ecr__jw_string(w, ecr__repository_mutability_name(ecr_repository_tag_mutability(repo)))))
		return rc;
	size_t n = ecr_repository_exclusion_count(repo);
	if (n) {
		if ((rc = ecr__jw_key(w, "imageTagMutabilityExclusionFilters")) || (rc = ecr__jw_array_open(w)))
			return rc;
		for (size_t i = 0; i < n; i++)
			if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "filterType")) ||
				(rc = ecr__jw_string(w, "WILDCARD")) || (rc = ecr__jw_key(w, "filter")) ||
				(rc = ecr__jw_string(w, ecr_repository_exclusion(repo, i))) || (rc = ecr__jw_object_close(w)))
				return rc;
		if ((rc = ecr__jw_array_close(w)))
			return rc;
	}
	if ((rc = ecr__jw_key(w, "imageScanningConfiguration")) || (rc = ecr__jw_object_open(w)) ||
		(rc = ecr__jw_key(w, "scanOnPush")) || (rc = ecr__jw_bool(w, ecr_repository_scan_on_push(repo) != 0)) ||
		(rc = ecr__jw_object_close(w)) || (rc = ecr__jw_key(w, "encryptionConfiguration")) ||
		(rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "encryptionType")) ||
		(rc = ecr__jw_string(w, ecr__repository_encryption_name(ecr_repository_encryption_type(repo)))))
		return rc;
	const char *kms = ecr_repository_kms_key(repo);
	if (kms && ((rc = ecr__jw_key(w, "kmsKey")) || (rc = ecr__jw_string(w, kms))))
		return rc;
	if ((rc = ecr__jw_object_close(w)))
		return rc;
	return ecr__jw_object_close(w);
}

/* --- dispatch --- */

const ecr_api_op_entry *ecr__api_find_op(const char *name)
{
	const ecr_api_op_entry *tables[] = { ecr__api_ops_repositories, ecr__api_ops_images, ecr__api_ops_lifecycle,
		ecr__api_ops_scan, ecr__api_ops_replication,
		ecr__api_ops_templates,
		ecr__api_ops_cache, ecr__api_ops_usage };
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const ecr_api_op_entry *e = tables[t]; e->name; e++)
			if (strcmp(e->name, name) == 0)
				return e;
	return NULL;
}

enum MHD_Result ecr__api_begin(http_request *r)
{
	api_state *st = ecr__calloc(1, sizeof(*st));
	if (!st)
		return MHD_NO;
	r->api = st;
	if (ecr__uuid_v4(st->request_id))
		snprintf(st->request_id, sizeof(st->request_id), "00000000-0000-4000-8000-000000000000");
	if (strcmp(r->method, "POST") != 0)
		return api_error(r, 405, "UnknownOperationException", "The control plane only accepts POST requests");
	const char *cl = ecr__http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > API_MAX_BODY)
		return api_error(r, 413, "SerializationException", "The request body is larger than 28 MiB");
	r->buffer_limit = API_MAX_BODY;
	r->mode = BODY_BUFFER;
	return MHD_YES;
}

enum MHD_Result ecr__api_body(http_request *r, const char *data, size_t len)
{
	r->received += len;
	if (r->mode != BODY_BUFFER)
		return MHD_YES;
	if (r->body.size + len > r->buffer_limit)
		return api_error(r, 413, "SerializationException", "The request body is larger than 28 MiB");
	if (ecr__buf_put(&r->body, data, len))
		return api_fail(r, ECR_ENOMEM);
	return MHD_YES;
}

typedef struct header_list {
	ecr_http_header items[MAX_HEADERS];
	size_t count;
	bool overflow;
} header_list;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	header_list *h = cls;
	(void)kind;
	if (h->count == MAX_HEADERS) {
		h->overflow = true;
		return MHD_NO;
	}
	h->items[h->count++] = (ecr_http_header){ key, value ? value : "" };
	return MHD_YES;
}

/* The region of the credential scope of an Authorization header, without verifying it (no-auth mode). */
static int scope_region(char *out, size_t outlen, const char *auth)
{
	const char *c = auth ? strstr(auth, "Credential=") : NULL;
	if (!c)
		return -1;
	c += strlen("Credential=");
	for (int i = 0; i < 2; i++) { /* skip the key id and the date */
		c = strchr(c, '/');
		if (!c)
			return -1;
		c++;
	}
	size_t n = strcspn(c, "/, ");
	if (n == 0 || n >= outlen || c[n] != '/')
		return -1;
	memcpy(out, c, n);
	out[n] = '\0';
	return 0;
}

int ecr__api_registry(ecr_registry **out, ecr_api_call *call, const char *account_id, const char *region)
{
	int rc = ecr__server_registry(out, call->r->srv, call->r->reg, account_id, region);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "The registry with id '%s' in region '%s' is not served here",
			account_id, region);
	return rc;
}

static void peer_address(char *out, size_t outlen, http_request *r)
{
	out[0] = '\0';
	const union MHD_ConnectionInfo *ci = r->mhd->get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)outlen);
}

/* Authenticate: the principal and region of a signed request, or the defaults without auth. */
static int authenticate(ecr_api_call *call, ecr_buf *region_buf)
{
	http_request *r = call->r;
	header_list *h = NULL;
	char sha[ECR__DIGEST_STRLEN_MAX];
	int rc;
	if (r->srv->flags & ECR_SERVER_NO_AUTH) {
		char region[64];
		const char *reg_region = ecr_registry_region(r->reg);
		rc = ecr__buf_puts(region_buf,
			scope_region(region, sizeof(region), ecr__http_header(r, MHD_HTTP_HEADER_AUTHORIZATION)) == 0
				? region
				: reg_region);
		return rc;
	}
	if (!(h = ecr__calloc(1, sizeof(*h))))
		return ECR_ENOMEM;
	r->mhd->get_connection_values(r->conn, MHD_HEADER_KIND, collect_header, h);
	if (h->overflow) {
		rc = ecr__fail(ECR_EINCOMPLETE_SIGNATURE, ECR_ERROR_INVALID, "Too many request headers");
		goto done;
	}
	if ((rc = ecr__digest_buf(sha, sizeof(sha), ECR__DIGEST_SHA256, r->body.ptr ? r->body.ptr : "", r->body.size)))
		goto done;
	ecr_sigv4_request req = ECR_SIGV4_REQUEST_INIT;
	req.method = r->method;
	req.path = r->path;
	req.query = NULL;
	req.headers = h->items;
	req.headers_count = h->count;
	req.payload_sha256 = sha + strlen("sha256:");
	req.service = call->service ? call->service : "ecr";
	rc = ecr_auth_sigv4_verify(&call->principal, region_buf, r->reg, &req);
done:
	ecr__free(h);
	return rc;
}

/* The registry of a registryId of ECR Public: an account id or a registry alias. */
static int public_registry(ecr_registry **out, ecr_api_call *call, const char *id)
{
	ecr_buf account = ECR_BUF_INIT;
	int rc = 0;
	if (!registry_id_ok(id)) {
		rc = ecr_public_alias_lookup(&account, call->r->reg, id);
		if (rc == ECR_ENOTFOUND || rc == ECR_EINVALID)
			rc = ecr__fail(ECR_EREGISTRY_NOT_FOUND, ECR_ERROR_INVALID,
				"The specified registry '%s' does not exist", id);
		if (rc)
			goto done;
		id = account.ptr;
	}
	rc = ecr__server_registry(out, call->r->srv, call->r->reg, id, ECR_REGION_PUBLIC);
	if (rc == ECR_ENOTFOUND || rc == ECR_EINVALID)
		rc = ecr__fail(ECR_EREGISTRY_NOT_FOUND, ECR_ERROR_INVALID,
			"The public registry of account '%s' is not served here", id);
done:
	ecr_buf_dispose(&account);
	return rc;
}

static enum MHD_Result run(http_request *r, const ecr_api_op_entry *op, const char *service)
{
	ecr_api_call call;
	ecr_buf region = ECR_BUF_INIT, out = ECR_BUF_INIT, endpoint = ECR_BUF_INIT;
	ecr__json *input = NULL;
	ecr__jw *w = NULL;
	char ip[INET6_ADDRSTRLEN + 1];
	enum MHD_Result ret;
	int rc;

	memset(&call, 0, sizeof(call));
	call.r = r;
	call.operation = op->name;
	call.service = service;
	peer_address(ip, sizeof(ip), r);
	call.source_ip = ip[0] ? ip : NULL;

	if ((rc = authenticate(&call, &region)))
		goto fail;
	/* the principal lives as long as the request */
	r->principal = call.principal;
	call.region = region.ptr;

	ecr__json_limits limits = { API_MAX_BODY, 32, 100000, API_MAX_BODY };
	const char *body = r->body.size ? r->body.ptr : "{}";
	size_t body_len = r->body.size ? r->body.size : 2;
	if ((rc = ecr__json_parse(&input, body, body_len, &limits))) {
		if (rc == ECR_ENOMEM)
			goto fail;
		state_of(r)->type_override = "SerializationException";
		goto fail;
	}
	if (input->type != ECR__JSON_OBJECT) {
		state_of(r)->type_override = "SerializationException";
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "The request body must be a JSON object");
		goto fail;
	}
	call.input = input;

	/* the caller's registry: the account of the key (or the default), the region of the scope */
	const char *account = call.principal ? ecr_principal_account_id(call.principal) : ecr_registry_account_id(r->reg);
	if (ecr__api_is_public(&call)) {
		/* ECR Public: the public registry of the caller's account (the region of the scope does not matter), or
		 * the one registryId names (an account id, or an alias where the model allows one) */
		const ecr__json *id = ecr__json_get(input, "registryId");
		if (id && id->type != ECR__JSON_NULL && id->type != ECR__JSON_STRING) {
			rc = ecr__api_type_error(&call, "registryId", "a string");
			goto fail;
		}
		if (id && id->type == ECR__JSON_STRING && (id->length < 2 || id->length > 50 ||
			strlen(id->string) != id->length)) {
			rc = invalid_param("registryId", "Member must have length between 2 and 50");
			goto fail;
		}
		if ((rc = public_registry(&call.reg, &call, id && id->type == ECR__JSON_STRING ? id->string : account)))
			goto fail;
	} else if (!r->srv->registry_cb) /* without a provider, everything goes to the registry of the Host */
		call.reg = r->reg;
	else if ((rc = ecr__server_registry(&call.reg, r->srv, r->reg, account, call.region)))
		goto fail;
	const char *registry_id = NULL;
	if (!ecr__api_is_public(&call) && (rc = ecr__api_string(&registry_id, &call, "registryId", false, 0, 0)))
		goto fail;
	if (registry_id && strcmp(registry_id, ecr_registry_account_id(call.reg)) != 0) {
		if ((rc = ecr__api_registry(&call.reg, &call, registry_id, call.region)))
			goto fail;
	}

	const char *host = ecr__http_header(r, MHD_HTTP_HEADER_HOST);
	if ((rc = ecr__buf_printf(&endpoint, "%s://%s", r->srv->tls_cert ? "https" : "http", host ? host : "localhost")))
		goto fail;
	call.endpoint = endpoint.ptr;

	if ((rc = ecr__jw_new(&w)) || (rc = ecr__jw_object_open(w)))
		goto fail;
	call.out = w;
	if ((rc = op->fn(&call)))
		goto fail;
	if ((rc = ecr__jw_object_close(w)) || (rc = ecr__jw_finish(w, &out)))
		goto fail;
	ret = respond(r, 200, out.ptr, out.size, NULL);
	goto done;
fail:
	ret = api_fail(r, rc);
done:
	ecr__jw_free(w);
	ecr__json_free(input);
	ecr_buf_dispose(&out);
	ecr_buf_dispose(&region);
	ecr_buf_dispose(&endpoint);
	return ret;
}

enum MHD_Result ecr__api_finish(http_request *r)
{
	r->mode = BODY_NONE;
	const char *target = ecr__http_header(r, "X-Amz-Target");
	size_t plen = strlen(TARGET_PREFIX), pplen = strlen(TARGET_PREFIX_PUBLIC);
	const ecr_api_op_entry *op = NULL;
	const char *service = "ecr";
	if (target && strncmp(target, TARGET_PREFIX, plen) == 0) {
		op = ecr__api_find_op(target + plen);
	} else if (target && strncmp(target, TARGET_PREFIX_PUBLIC, pplen) == 0) {
		/* ECR Public: its own table only (ECR-only operations are not reachable this way) */
		service = "ecr-public";
		for (const ecr_api_op_entry *e = ecr__api_ops_public; e->name && !op; e++)
			if (strcmp(e->name, target + pplen) == 0)
				op = e;
	}
	if (!op)
		return api_error(r, 400, "UnknownOperationException", "The operation is not known to this service");
	return run(r, op, service);
}
