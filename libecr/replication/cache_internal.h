/* The pull-through cache's runtime state, shared by cache.c (handles, rules,
 * manifests) and cache_blob.c (blob fetches). */
#ifndef ECR_REPLICATION_CACHE_INTERNAL_H
#define ECR_REPLICATION_CACHE_INTERNAL_H

#include <pthread.h>

#include "../core/logging.h"
#include "../engine/cache_support.h"
#include "ptc.h"

typedef struct ecr__cache_upstream ecr__cache_upstream; /* cache.c */
typedef struct ecr__cache_flight ecr__cache_flight;     /* cache_blob.c */

struct ecr_cache {
	uint64_t freshness_ms;
	ecr_registry_options upstream_opts; /* copied; its strings owned (ca_file, ca_path, user_agent) */
	ecr__logger log;
	pthread_mutex_t lock;           /* guards upstreams, flights, running, stopping */
	pthread_cond_t idle;            /* signalled when a fetch thread ends */
	ecr__cache_upstream *upstreams; /* open upstream handles, one per (url, credential) */
	ecr__cache_flight *flights;     /* blob fetches in flight, one per (registry, digest) */
	unsigned running;               /* fetch threads alive */
	bool stopping;                  /* ecr_cache_free() is waiting: fetches stop */
};

/* The rule covering a local repository and the upstream path (Docker Hub's "library/" added). ECR_ENOTFOUND
 * (error set) when none covers it. */
int ecr__cache_rule(ecr__ptc_rule *rule, ecr_buf *upstream_path, ecr_registry *reg, const char *repository);
/* The upstream registry handle of a rule (borrowed: lives as long as the cache), opened on first use. */
int ecr__cache_upstream_get(ecr_registry **out, ecr_cache *cache, const ecr__ptc_rule *rule);
/* The local repository, created (ECR_TEMPLATE_PULL_THROUGH_CACHE templates) when missing. */
int ecr__cache_repository(ecr_repository **out, ecr_registry *reg, const char *repository);
/* Wait for the fetch threads to end (cache_blob.c), after stopping was set. */
void ecr__cache_flights_wait(ecr_cache *cache);

#endif
