/**
 * @file ecr/policy.h
 * @brief IAM-style policy documents: parse, validate, evaluate.
 * @defgroup ecr_policy Policies
 *
 * Repository and registry policies (resource-based: they name a Principal)
 * and identity policies of principals (no Principal) use the IAM policy
 * grammar: Version, Statement (one or a list), Sid, Effect, Principal /
 * NotPrincipal, Action / NotAction, Resource / NotResource, Condition.
 *
 * THREAD SAFETY: a parsed ecr_policy is immutable and may be evaluated from
 * any number of threads at once.
 * @{
 */
#ifndef ECR_POLICY_H
#define ECR_POLICY_H

#include "common.h"

ECR_BEGIN_DECL

typedef struct ecr_policy ecr_policy;

/** What a policy is attached to. */
typedef enum ecr_policy_kind {
	ECR_POLICY_RESOURCE = 0, /**< repository or registry policy: every statement names a Principal */
	ECR_POLICY_IDENTITY = 1  /**< a principal's own policy: no Principal */
} ecr_policy_kind;

/** Largest policy document accepted (ECR's policyText limit). */
#define ECR_POLICY_MAX_SIZE 10240

/**
 * Parse and validate a policy document.
 * @return 0; ECR_EINVALID with a message naming what is wrong; ECR_ELIMIT
 *         when larger than ECR_POLICY_MAX_SIZE.
 */
ECR_EXTERN(int) ecr_policy_parse(ecr_policy **out, const char *text, size_t len, ecr_policy_kind kind);

/** Free a policy. NULL is a no-op. */
ECR_EXTERN(void) ecr_policy_free(ecr_policy *policy);

/** A condition key and its value(s) for evaluation, e.g. {"aws:SourceIp", "10.0.0.1"}. */
typedef struct ecr_policy_context_key {
	const char *name;
	const char *value;
} ecr_policy_context_key;

/** The request being evaluated. */
typedef struct ecr_policy_request {
	unsigned int version;
	/** The caller, e.g. "arn:aws:iam::111122223333:user/alice"; NULL for anonymous. */
	const char *principal_arn;
	/** The caller's account id (aws:PrincipalAccount). */
	const char *principal_account;
	/** The action, e.g. "ecr:BatchGetImage". */
	const char *action;
	/** The resource ARN, e.g. "arn:aws:ecr:us-east-1:123456789012:repository/app". */
	const char *resource;
	/** Further condition keys (aws:SourceIp, aws:SecureTransport, aws:CurrentTime,
	 *  ecr:ResourceTag/..., ...); a key given twice has several values. */
	const ecr_policy_context_key *keys;
	size_t keys_count;
} ecr_policy_request;

#define ECR_POLICY_REQUEST_VERSION 1
#define ECR_POLICY_REQUEST_INIT { ECR_POLICY_REQUEST_VERSION, NULL, NULL, NULL, NULL, NULL, 0 }

/** Initialise a request. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_policy_request_init(ecr_policy_request *req, unsigned int version);

/** The outcome of evaluating one policy. */
typedef enum ecr_policy_decision {
	ECR_POLICY_NOT_APPLICABLE = 0, /**< no statement matched: an implicit deny */
	ECR_POLICY_ALLOW = 1,
	ECR_POLICY_DENY = 2            /**< an explicit deny */
} ecr_policy_decision;

/**
 * Evaluate one policy against a request: an explicit deny wins over an allow.
 * @param out receives the decision.
 * @return 0; ECR_EINVALID (request incomplete or bad version).
 */
ECR_EXTERN(int) ecr_policy_evaluate(ecr_policy_decision *out, const ecr_policy *policy, const ecr_policy_request *req);

ECR_END_DECL
/** @} */
#endif
