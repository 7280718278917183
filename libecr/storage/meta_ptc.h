/* Pull-through cache rules and upstream credentials (schema v2 tables
 * pull_through_cache_rules and credentials): the SQL of libecr/replication/ptc_rules.c. */
#ifndef ECR_STORAGE_META_PTC_H
#define ECR_STORAGE_META_PTC_H

#include "meta.h"

/* A rule row: its document (the normalised rule JSON, ecr__free) and times (ms). */
typedef struct ecr__meta_ptc_rule {
	char *prefix;
	char *document;
	int64_t created_at;
	int64_t updated_at;
} ecr__meta_ptc_rule;
void ecr__meta_ptc_rule_dispose(ecr__meta_ptc_rule *r);

/* ECR_ENOTFOUND (no error set). */
int ecr__meta_ptc_rule_get(ecr__txn *t, int64_t registry_id, const char *prefix, ecr__meta_ptc_rule *out);
/* ECR_EEXISTS (no error set) when the prefix has a rule. created_at = updated_at = now. */
int ecr__meta_ptc_rule_insert(ecr__txn *t, int64_t registry_id, const char *prefix, const char *document,
	int64_t now);
/* Replace the document, updated_at = now. ECR_ENOTFOUND (no error set). */
int ecr__meta_ptc_rule_update(ecr__txn *t, int64_t registry_id, const char *prefix, const char *document,
	int64_t now);
/* ECR_ENOTFOUND (no error set). */
int ecr__meta_ptc_rule_delete(ecr__txn *t, int64_t registry_id, const char *prefix);
int ecr__meta_ptc_rule_count(ecr__txn *t, int64_t registry_id, int64_t *count_out);
typedef int (*ecr__meta_ptc_rule_cb)(const ecr__meta_ptc_rule *r, void *payload);
/* Every rule of the registry in prefix order. */
int ecr__meta_ptc_rule_list(ecr__txn *t, int64_t registry_id, ecr__meta_ptc_rule_cb cb, void *payload);

/* Insert or replace a credential. */
int ecr__meta_credential_put(ecr__txn *t, int64_t registry_id, const char *arn, const char *username,
	const char *secret, int64_t now);
/* *username_out and *secret_out (either may be NULL): ecr__free. ECR_ENOTFOUND (no error set). */
int ecr__meta_credential_get(ecr__txn *t, int64_t registry_id, const char *arn, char **username_out,
	char **secret_out);
/* ECR_ENOTFOUND (no error set). */
int ecr__meta_credential_delete(ecr__txn *t, int64_t registry_id, const char *arn);
typedef int (*ecr__meta_credential_cb)(const char *arn, const char *username, void *payload);
/* cb(arn, username) in ARN order; the secret is never read. */
int ecr__meta_credential_list(ecr__txn *t, int64_t registry_id, ecr__meta_credential_cb cb, void *payload);

#endif
