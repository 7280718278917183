/* Authentication and authorization: principals, SigV4, tokens, ecr_authorize (internal). */
#ifndef ECR_AUTH_AUTH_H
#define ECR_AUTH_AUTH_H

#include "../engine/engine.h"

/*
 * A principal handle. It keeps a pointer to the registry it was opened
 * through, so it must not outlive that registry handle. Immutable once
 * returned (ecr_principal_put_policy etc. only change the storage).
 */
struct ecr_principal {
	ecr_registry *reg;
	int64_t id; /* principals.id */
	char *uid;  /* random UUID, new for every creation */
	char *arn;
	char *account; /* 12 digits */
	int admin;
};

/* Check an IAM principal ARN ("arn:aws:iam::<12 digits>:user/<path/name>", ":role/<name>", ":root");
 * the account id goes to account_out[13]. ECR_EINVALID with a message. */
int ecr__principal_arn_check(const char *arn, char account_out[13]);
/* A handle from a stored record. */
int ecr__principal_from_meta(ecr_principal **out, ecr_registry *reg, const ecr__meta_principal *m);

/* Bounds of the Authorization header parts. */
#define ECR__SIGV4_MAX_HEADER 4096
#define ECR__SIGV4_MAX_KEY_ID 128
#define ECR__SIGV4_MAX_REGION 32
#define ECR__SIGV4_MAX_SERVICE 32
#define ECR__SIGV4_MAX_SIGNED 1024
#define ECR__SIGV4_MAX_SIGNED_COUNT 64

/* The parsed Authorization header (no allocation). */
typedef struct ecr__sigv4_auth {
	char key_id[ECR__SIGV4_MAX_KEY_ID + 1];
	char date[9]; /* YYYYMMDD */
	char region[ECR__SIGV4_MAX_REGION + 1];
	char service[ECR__SIGV4_MAX_SERVICE + 1];
	char signed_headers[ECR__SIGV4_MAX_SIGNED + 1]; /* "a;b;c": lowercase, sorted, unique, with host */
	size_t signed_count;
	char signature[65]; /* 64 lowercase hex */
} ecr__sigv4_auth;

/*
 * Parse "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/<service>/aws4_request,
 * SignedHeaders=<h1;h2>, Signature=<hex>" (parts in any order, spaces tolerated,
 * duplicates rejected). value need not be NUL-terminated.
 * @return 0; ECR_EINCOMPLETE_SIGNATURE with a message.
 */
int ecr__sigv4_parse_authorization(ecr__sigv4_auth *out, const char *value, size_t len);

/* Build the canonical request of SigV4 into out (appended). ECR_EINVALID for malformed input. */
int ecr__sigv4_canonical_request(ecr_buf *out, const ecr_sigv4_request *req, const ecr__sigv4_auth *auth);

/*
 * Sign a request (the client side): authorization_out receives the value of
 * its Authorization header. Every header of req is signed; they must include
 * Host and X-Amz-Date ("YYYYMMDDTHHMMSSZ", which also dates the credential
 * scope). The scope is <access_key>/<date>/<region>/<req->service or "ecr">.
 * req->now_ms is not used. ECR_EINVALID for a missing header or a bad scope.
 */
int ecr__sigv4_sign(ecr_buf *authorization_out, const ecr_sigv4_request *req, const char *access_key,
	const char *secret, const char *region);

#endif
