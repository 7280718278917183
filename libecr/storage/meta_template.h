/* Repository creation templates (creation_templates table): one row per
 * (registry, prefix), the template as its canonical JSON document. */
#ifndef ECR_STORAGE_META_TEMPLATE_H
#define ECR_STORAGE_META_TEMPLATE_H

#include "meta.h"

/* ECR_EEXISTS when the prefix has a template. */
int ecr__meta_template_insert(ecr__txn *t, int64_t registry_id, const char *prefix, const char *document, int64_t now);
/* Replace the document, updated_at = now. ECR_ENOTFOUND. */
int ecr__meta_template_update(ecr__txn *t, int64_t registry_id, const char *prefix, const char *document, int64_t now);
/* ECR_ENOTFOUND */
int ecr__meta_template_delete(ecr__txn *t, int64_t registry_id, const char *prefix);
int ecr__meta_template_count(ecr__txn *t, int64_t registry_id, int64_t *count_out);

typedef int (*ecr__meta_template_cb)(const char *prefix, const char *document, int64_t created_at, int64_t updated_at,
                                     void *payload);
/* cb for each template of the registry in prefix order (prefix NULL), or for the one of prefix (ECR_ENOTFOUND). */
int ecr__meta_template_list(ecr__txn *t, int64_t registry_id, const char *prefix, ecr__meta_template_cb cb,
                            void *payload);

#endif
