/* The pull-through cache's tag freshness (schema v2's cache_tags): when a
 * cached tag was last checked against its upstream. The SQL behind
 * libecr/replication/cache.c. */
#ifndef ECR_STORAGE_META_CACHE_H
#define ECR_STORAGE_META_CACHE_H

#include "meta.h"

/* When tag of repository repo_id was last checked upstream (ms since the epoch). ECR_ENOTFOUND (no error set)
 * when never. */
int ecr__meta_cache_tag_get(ecr__txn *t, int64_t repo_id, const char *tag, int64_t *checked_at_out);
/* Record a check (insert or replace). */
int ecr__meta_cache_tag_set(ecr__txn *t, int64_t repo_id, const char *tag, int64_t checked_at);
/* Forget a tag's check (the next get checks upstream). */
int ecr__meta_cache_tag_delete(ecr__txn *t, int64_t repo_id, const char *tag);

#endif
