/* Leases: named locks kept in the metadata store, shared by every node (process) that uses it, which expire
 * when their holder stops renewing them (it died). Background work (GC, a repository's lifecycle policy) takes
 * one so that it runs on one node at a time. */
#ifndef ECR_ENGINE_LEASES_H
#define ECR_ENGINE_LEASES_H

#include "engine.h"

#define ECR__LEASE_HOLDER_MAX 64

/* This process's holder id for leases taken through store s: random per process (made once), with the store's
 * address so that two stores opened in one process act as two nodes. */
void ecr__lease_holder(const ecr__store *s, char out[ECR__LEASE_HOLDER_MAX]);

/* Take the lease name until now + ttl_ms: 0 when taken (or extended: holder had it), ECR_EBUSY (no error set)
 * while another holder's lease has not expired; other codes for storage errors. Each is one write
 * transaction. */
int ecr__lease_acquire(ecr__store *s, const char *name, const char *holder, int64_t now, int64_t ttl_ms);
/* Extend holder's lease: 0, or ECR_EBUSY (no error set) when it expired or another holder took it. */
int ecr__lease_renew(ecr__store *s, const char *name, const char *holder, int64_t now, int64_t ttl_ms);
/* Give the lease up (not holding it is fine). */
int ecr__lease_release(ecr__store *s, const char *name, const char *holder);
/* Remove every lease of the store: only for a store no other process uses (a flock'ed file:// folder), whose
 * leases were necessarily left by a process that died holding them. */
int ecr__lease_clear_all(ecr__store *s);

#endif
