/**
 * @file ecr/auth.h
 * @brief Principals, access keys, SigV4 verification, registry tokens, authorization.
 * @defgroup ecr_auth Authentication and authorization
 *
 * Principals are IAM-style identities ("arn:aws:iam::<account>:user/<name>",
 * or an account root "arn:aws:iam::<account>:root") with access keys and
 * optional identity policies. They are kept in the storage of a data folder
 * and shared by every registry (account x region) in it; any registry handle
 * of that storage reaches them.
 *
 * THREAD SAFETY: the functions here may be called from many threads at once
 * on the same registry; an ecr_principal handle is immutable once returned.
 * @{
 */
#ifndef ECR_AUTH_H
#define ECR_AUTH_H

#include "common.h"
#include "buffer.h"
#include "policy.h"
#include "registry.h"

ECR_BEGIN_DECL

typedef struct ecr_principal ecr_principal;
typedef struct ecr_principal_iterator ecr_principal_iterator;

/** Flag: the principal administers its own account (full rights there). */
#define ECR_PRINCIPAL_ADMIN 1u

/**
 * Create a principal.
 * @param arn "arn:aws:iam::<12 digits>:user/<name>", ":role/<name>" or ":root".
 * @return 0; ECR_EINVALID (malformed ARN); ECR_EEXISTS.
 */
ECR_EXTERN(int) ecr_principal_create(ecr_principal **out, ecr_registry *reg, const char *arn, uint32_t flags);

/** Open a principal by ARN. @return 0; ECR_ENOTFOUND. */
ECR_EXTERN(int) ecr_principal_open(ecr_principal **out, ecr_registry *reg, const char *arn);

/**
 * Delete a principal with its keys and policies; its tokens stop working at once.
 * @return 0; ECR_ENOTFOUND.
 */
ECR_EXTERN(int) ecr_principal_delete(ecr_registry *reg, const char *arn);

/** Free a handle. NULL is a no-op. */
ECR_EXTERN(void) ecr_principal_free(ecr_principal *p);

/** The ARN. @return borrowed. */
ECR_EXTERN(const char *) ecr_principal_arn(const ecr_principal *p);
/** The account id. @return borrowed. */
ECR_EXTERN(const char *) ecr_principal_account_id(const ecr_principal *p);
/** 1 when the principal administers its account. */
ECR_EXTERN(int) ecr_principal_is_admin(const ecr_principal *p);

/**
 * Create an access key (AWS format: a 20-character id starting "AKIA" and a
 * 40-character secret). The secret is returned only here.
 */
ECR_EXTERN(int) ecr_principal_access_key_create(ecr_buf *key_id_out, ecr_buf *secret_out, ecr_principal *p);

/** Delete an access key. @return 0; ECR_ENOTFOUND. */
ECR_EXTERN(int) ecr_principal_access_key_delete(ecr_principal *p, const char *key_id);

/**
 * Attach (or replace) a named identity policy.
 * @return 0; ECR_EINVALID (name, or the document: see ecr_policy_parse()).
 */
ECR_EXTERN(int) ecr_principal_put_policy(ecr_principal *p, const char *name, const char *document);

/** Remove a named identity policy. @return 0; ECR_ENOTFOUND. */
ECR_EXTERN(int) ecr_principal_delete_policy(ecr_principal *p, const char *name);

/** Called for each identity policy of a principal. */
typedef int (*ecr_principal_policy_cb)(const char *name, const char *document, void *payload);

/** Call cb for each identity policy, by name. A non-zero return stops and is returned. */
ECR_EXTERN(int) ecr_principal_policies(ecr_principal *p, ecr_principal_policy_cb cb, void *payload);

/** Iterate over every principal of the storage, by ARN. */
ECR_EXTERN(int) ecr_principal_iterator_new(ecr_principal_iterator **out, ecr_registry *reg);
/** The next principal, borrowed until the next call. @return 0, ECR_ITEROVER. */
ECR_EXTERN(int) ecr_principal_iterator_next(ecr_principal **out, ecr_principal_iterator *it);
ECR_EXTERN(void) ecr_principal_iterator_free(ecr_principal_iterator *it);

/** One HTTP header. */
typedef struct ecr_http_header {
	const char *name;
	const char *value;
} ecr_http_header;

/** A request to verify with AWS Signature Version 4. */
typedef struct ecr_sigv4_request {
	unsigned int version;
	const char *method;            /**< "POST" */
	const char *path;              /**< the path as sent, "/" */
	const char *query;             /**< the raw query string without '?', or NULL */
	const ecr_http_header *headers; /**< every header as received */
	size_t headers_count;
	const char *payload_sha256;    /**< lowercase hex SHA-256 of the body */
	const char *service;           /**< the signing name: "ecr" (NULL) or "ecr-public" */
	int64_t now_ms;                /**< the time to check the date against; 0: the registry's clock */
} ecr_sigv4_request;

#define ECR_SIGV4_REQUEST_VERSION 1
#define ECR_SIGV4_REQUEST_INIT { ECR_SIGV4_REQUEST_VERSION, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0 }

/** Initialise a request. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_sigv4_request_init(ecr_sigv4_request *req, unsigned int version);

/**
 * Verify a request's AWS SigV4 Authorization header.
 * @param principal_out receives the signer.
 * @param region_out receives the region of the credential scope (the
 *        request's region); may be NULL.
 * @return 0; ECR_EMISSING_AUTH (no Authorization); ECR_EINCOMPLETE_SIGNATURE
 *         (malformed); ECR_EUNRECOGNIZED_CLIENT (unknown key); ECR_EINVALID_SIGNATURE
 *         (wrong signature, or a date more than 5 minutes off).
 */
ECR_EXTERN(int) ecr_auth_sigv4_verify(ecr_principal **principal_out, ecr_buf *region_out, ecr_registry *reg,
	const ecr_sigv4_request *req);

/** Lifetime of registry tokens: 12 hours, as ECR's. */
#define ECR_TOKEN_LIFETIME_SECONDS 43200

/**
 * Issue a registry token for a principal (the password of "AWS:<token>").
 * It is signed with the storage's token key and can be checked without a
 * database lookup by every node that shares the key. On a remote registry
 * handle it is the registry's GetAuthorizationToken for the handle's own
 * credentials: p is ignored (pass NULL).
 * @param expires_at_out receives the expiry, ms since the epoch; may be NULL.
 */
ECR_EXTERN(int) ecr_auth_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg,
	const ecr_principal *p);

/**
 * Check a registry token and return its principal.
 * @return 0; ECR_EAUTH (forged, truncated or malformed); ECR_EEXPIRED_TOKEN;
 *         ECR_EUNRECOGNIZED_CLIENT (the principal was deleted).
 */
ECR_EXTERN(int) ecr_auth_token_verify(ecr_principal **out, ecr_registry *reg, const char *token);

/** Lifetime of anonymous tokens: 1 hour. */
#define ECR_ANONYMOUS_TOKEN_LIFETIME_SECONDS 3600

/**
 * Issue an anonymous token: the bearer token an anonymous client gets to
 * pull public repositories (ecr/public.h) with, signed with the storage's
 * token key. It names no principal and grants nothing else;
 * ecr_auth_token_verify() rejects it.
 * @param expires_at_out receives the expiry, ms since the epoch; may be NULL.
 */
ECR_EXTERN(int) ecr_auth_anonymous_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg);

/**
 * Check an anonymous token.
 * @return 0; ECR_EAUTH (forged, truncated, malformed, or another kind of
 *         token); ECR_EEXPIRED_TOKEN.
 */
ECR_EXTERN(int) ecr_auth_anonymous_token_verify(ecr_registry *reg, const char *token);

/** Longest lifetime of a blob download token: 1 hour, as ECR's presigned download URLs. */
#define ECR_BLOB_TOKEN_MAX_LIFETIME_SECONDS 3600

/**
 * Issue a blob download token (the X-Ecr-Token of a GetDownloadUrlForLayer
 * URL): it lets its holder read one blob, digest, of one repository of reg
 * (account and region included) as p, and nothing else. ecr_auth_token_verify()
 * rejects it, so it is no registry token.
 * @param expires_at_out receives the expiry, ms since the epoch; may be NULL.
 * @param lifetime_seconds 1 to ECR_BLOB_TOKEN_MAX_LIFETIME_SECONDS.
 * @return 0; ECR_EINVALID (missing argument, lifetime out of range, name too long).
 */
ECR_EXTERN(int) ecr_auth_blob_token_create(ecr_buf *token_out, int64_t *expires_at_out, ecr_registry *reg,
	const ecr_principal *p, const char *repository, const char *digest, int64_t lifetime_seconds);

/**
 * Check a blob download token for reading blob digest of repository in reg,
 * and return its principal (whose permissions still apply).
 * @return 0; ECR_EAUTH (forged, truncated, malformed, a registry token, or a
 *         token for another registry, repository or blob); ECR_EEXPIRED_TOKEN;
 *         ECR_EUNRECOGNIZED_CLIENT (the principal was deleted).
 */
ECR_EXTERN(int) ecr_auth_blob_token_verify(ecr_principal **out, ecr_registry *reg, const char *token,
	const char *repository, const char *digest);

/**
 * Decide whether a principal may perform an action on a resource of reg:
 * an explicit deny in any applicable policy wins; otherwise, in the
 * principal's own account an allow by an identity policy (administrators
 * have one for everything) or by the resource's policy suffices; across
 * accounts both are needed.
 * @param resource_arn the repository ARN, or the registry's ARN for
 *        registry-level actions ("arn:aws:ecr:<region>:<account>:registry").
 * @param context further condition keys (aws:SourceIp, ...); may be NULL.
 * @return 0 allowed; ECR_EDENIED with ECR's message ("User: <arn> is not
 *         authorized to perform: <action> on resource: <arn> because ...").
 */
ECR_EXTERN(int) ecr_authorize(ecr_registry *reg, const ecr_principal *p, const char *action, const char *resource_arn,
	const ecr_policy_context_key *context, size_t context_count);

ECR_END_DECL
/** @} */
#endif
