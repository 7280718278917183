/* The ECR control plane (AWS JSON 1.1, POST / with X-Amz-Target) inside the
 * HTTP server: dispatch (ecr_api.c) and the operations (ecr_api_*.c). An
 * operation reads its input from call->input (a parsed, size-bounded JSON
 * object), writes its output object into call->out, and returns 0 or a
 * negative ECR_E* code whose ecr_error_exception() becomes the __type (with
 * ecr_error_last()->message as the message). Operations authorize their
 * action with api_authorize() before touching anything. */
#ifndef ECR_SERVER_ECR_API_H
#define ECR_SERVER_ECR_API_H

#include "../core/json.h"
#include "http.h"

typedef struct ecr_api_call {
	http_request *r;
	const char *operation;    /* e.g. "CreateRepository" */
	const ecr__json *input;   /* the request body (an object) */
	ecr__jw *out;             /* the response object, already opened: write members only */
	ecr_registry *reg;        /* the caller's registry (account of the key, region of the scope),
				     or the one named by registryId when the caller may reach it */
	ecr_principal *principal; /* the caller; NULL with ECR_SERVER_NO_AUTH */
	const char *region;       /* the request's region */
	const char *source_ip;    /* for aws:SourceIp */
	char *endpoint;           /* "http://host:port" as the client reached us (proxyEndpoint, URLs) */
	const char *service;      /* the signing name and action prefix: "ecr", or "ecr-public" (ECR Public API) */
} ecr_api_call;

typedef int (*ecr_api_op)(ecr_api_call *call);

/* The operations, by name (ecr_api.c holds the table). */
typedef struct ecr_api_op_entry {
	const char *name;
	ecr_api_op fn;
} ecr_api_op_entry;

/* Each file of operations exports its table, terminated by { NULL, NULL }. */
extern const ecr_api_op_entry ecr__api_ops_repositories[]; /* ecr_api_repositories.c */
extern const ecr_api_op_entry ecr__api_ops_images[];       /* ecr_api_images.c */
extern const ecr_api_op_entry ecr__api_ops_lifecycle[];    /* ecr_api_lifecycle.c */
extern const ecr_api_op_entry ecr__api_ops_scan[];         /* ecr_api_scan.c */
extern const ecr_api_op_entry ecr__api_ops_replication[];  /* ecr_api_replication.c */
extern const ecr_api_op_entry ecr__api_ops_templates[];    /* ecr_api_templates.c */
extern const ecr_api_op_entry ecr__api_ops_cache[];        /* ecr_api_cache.c */
extern const ecr_api_op_entry ecr__api_ops_usage[];        /* ecr_api_usage.c: GetUsage (libecr's extension) */
extern const ecr_api_op_entry ecr__api_ops_public[];       /* ecr_public_api.c: ECR Public (SpencerFrontendService) */

/* An operation of the ECR tables (not ECR Public's) by name, or NULL. */
const ecr_api_op_entry *ecr__api_find_op(const char *name);
/* Whether the call came through the ECR Public API (SpencerFrontendService, call->reg is a public registry). */
bool ecr__api_is_public(const ecr_api_call *call);
/* The longest repository name of the call's service: 256 for ECR, 205 for ECR Public. */
size_t ecr__api_name_max(const ecr_api_call *call);
/* The ARN of repository name in call->reg: ECR's, or ECR Public's for a public registry (replaces out). */
int ecr__api_repository_arn(ecr_buf *out, ecr_api_call *call, const char *name);

/* Authorize "<service>:<action>" (service "ecr" or "ecr-public") on a resource
 * ARN for the caller (no-op without auth); ECR_EDENIED with ECR's
 * AccessDeniedException message. */
int ecr__api_authorize(ecr_api_call *call, const char *action, const char *resource_arn);
/* ecr__api_authorize() of the call's operation on its registry (registry-level operations). */
int ecr__api_authorize_registry(ecr_api_call *call);

/* Input helpers: each fails with ECR_EINVALID and ECR's message style
 * ("Invalid parameter at '<field>' failed to satisfy constraint: '...'"),
 * or ECR_EVALIDATION where ECR answers ValidationException. */
/* A required string member (max_len 0: no limit). */
int ecr__api_string(const char **out, ecr_api_call *call, const char *field, bool required, size_t min_len,
	size_t max_len);
/* An optional integer with bounds; *present_out (may be NULL) tells whether it was given. */
int ecr__api_int(int64_t *out, bool *present_out, ecr_api_call *call, const char *field, int64_t min, int64_t max,
	int64_t dflt);
int ecr__api_bool(bool *out, ecr_api_call *call, const char *field, bool dflt);
/* A member of the wrong JSON type: ECR_EINVALID answered as SerializationException. */
int ecr__api_type_error(ecr_api_call *call, const char *field, const char *expected);
/* A member of a request that is handed to the library as JSON. */
typedef struct ecr__api_member {
	const char *name;
	ecr__json_type type;
	const char *expected; /* for the type error: "a string", "a list", "a structure" */
} ecr__api_member;
/* The members[0..n) present in the input and not null, as a JSON object (in that order) appended to out; a member
 * of another type: ecr__api_type_error(). */
int ecr__api_input_object(ecr_buf *out, ecr_api_call *call, const ecr__api_member *members, size_t n);
/* The registry of an account in a region (the server's registry provider, else the
 * registries it serves); ECR_EINVALID when none is reachable. */
int ecr__api_registry(ecr_registry **out, ecr_api_call *call, const char *account_id, const char *region);
/* Open the repository named by input "repositoryName" in call->reg (RepositoryNotFoundException as ECR words it);
 * names of 2 to 256 characters (ECR Public: 2 to 205). */
int ecr__api_repository(ecr_repository **out, ecr_api_call *call);

/* Members of the error body beyond __type and message, for exceptions that
 * model more (InvalidLayerPartException: registryId, repositoryName,
 * uploadId, lastValidByteReceived). Set them just before failing. */
void ecr__api_error_string(ecr_api_call *call, const char *key, const char *value);
void ecr__api_error_int(ecr_api_call *call, const char *key, int64_t value);

/* Output helpers. */
/* Write a Repository object (as every repository operation returns it). */
int ecr__api_write_repository(ecr__jw *w, ecr_api_call *call, const ecr_repository *repo);
/* ECR Public's Repository (ecr_public_api.c): what ecr__api_write_repository() writes for ECR Public calls. */
int ecr__api_write_public_repository(ecr__jw *w, ecr_api_call *call, const ecr_repository *repo);
/* imageScanStatus and imageScanFindingsSummary of an image, when it was scanned (ecr_api_scan.c). */
int ecr__api_write_scan_summary(ecr__jw *w, ecr_repository *repo, const char *digest);
/* Epoch seconds as a JSON number with milliseconds, e.g. 1448875853.241. */
int ecr__api_write_time(ecr__jw *w, int64_t ms);

/* The handler for POST / (http.h's route for the control plane). */
enum MHD_Result ecr__api_begin(http_request *r);
enum MHD_Result ecr__api_body(http_request *r, const char *data, size_t len);
enum MHD_Result ecr__api_finish(http_request *r);

#endif
