/*
 * Pull-through cache rules and upstream credentials (ecr/cache.h), as the
 * cache runtime (cache.c, cache_blob.c) needs them. Rules live in the
 * metadata store's pull_through_cache_rules table (document: the rule's ECR
 * JSON), credentials in credentials (schema v2). ptc_rules.c writes these.
 */
#ifndef ECR_REPLICATION_PTC_H
#define ECR_REPLICATION_PTC_H

#include "../engine/engine.h"

typedef struct ecr__ptc_rule {
	char *prefix;               /* ecrRepositoryPrefix, e.g. "docker-hub" or "ROOT" */
	char *upstream_url;         /* e.g. "https://registry-1.docker.io" or "http://127.0.0.1:5001" */
	char *upstream_registry;    /* ECR's upstreamRegistry enum value, or NULL */
	char *upstream_prefix;      /* upstreamRepositoryPrefix (prepended to the upstream path), or NULL */
	char *credential_arn;       /* or NULL */
	char *username, *password;  /* the credential's, resolved; NULL when there is none */
} ecr__ptc_rule;

void ecr__ptc_rule_dispose(ecr__ptc_rule *rule);

/*
 * The rule of reg that covers a repository name: the longest prefix P such
 * that the name starts with "P/" ("ROOT" covers every name), with the
 * credential resolved. upstream_path_out (may be NULL) receives the upstream
 * repository path: the name without "P/" (the whole name for ROOT), after
 * upstream_prefix + "/" when the rule has one; Docker Hub's official images
 * ("library/" for one-component paths on registry-1.docker.io) are the
 * caller's business. ECR_ENOTFOUND when no rule covers the name.
 */
int ecr__ptc_rule_match(ecr__ptc_rule *out, ecr_buf *upstream_path_out, ecr_registry *reg, const char *repository);

/* Whether any rule exists in reg (cheap: the server asks it on every pull miss). 1, 0, or a negative code. */
int ecr__ptc_has_rules(ecr_registry *reg);

/*
 * ValidatePullThroughCacheRule: open the rule's upstream (ecr_registry_open
 * with the credential as username/password, ECR_REMOTE_OCI_ONLY, no retries,
 * timeout_ms without progress, 0: 10 s; of upstream_options (may be NULL)
 * only the TLS settings, remote_flags and user_agent count). *valid_out: 1
 * when it answered /v2/ and took the credential, else 0 with the reason in
 * failure_out (never the password). rule_out (may be NULL) receives the rule
 * as ECR returns it. ECR_EPTC_RULE_NOT_FOUND for a prefix without a rule.
 */
int ecr__ptc_rule_validate(ecr_buf *rule_out, int *valid_out, ecr_buf *failure_out, ecr_registry *reg,
	const char *prefix, const ecr_registry_options *upstream_options, uint32_t timeout_ms);

#endif
