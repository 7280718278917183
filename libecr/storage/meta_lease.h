/* Leases (named, expiring locks shared by every node of a store) and the GC's
 * candidate table (meta_lease.c; schema version 4). */
#ifndef ECR_STORAGE_META_LEASE_H
#define ECR_STORAGE_META_LEASE_H

#include "meta.h"

/* The write mode of ecr_meta_store.begin() for an atomic write transaction: its statements are single
 * conditional changes that re-check their conditions on the rows they change (leases, job claims with
 * FOR UPDATE SKIP LOCKED on PostgreSQL, renewals, outcomes), so it needs no cluster-wide writer lock: on
 * PostgreSQL it runs READ COMMITTED beside other atomic transactions; a store that knows no such mode treats it
 * as an ordinary write transaction (SQLite: BEGIN IMMEDIATE). */
#define ECR__TXN_ATOMIC 2
/* Begin an atomic write transaction (above) on store. */
int ecr__txn_begin_atomic(ecr__txn *t, ecr_meta_store *store);
/* Whether the store's dialect is PostgreSQL (claims use FOR UPDATE SKIP LOCKED there). */
bool ecr__meta_is_postgres(const ecr__txn *t);

/* Scans (image_scans rows) of a registry IN_PROGRESS since started_before or earlier whose lease
 * "scan/<repository id>/<digest>" no node holds at now (none, or expired): the scans of a node that died or
 * stopped before running them. Oldest first. */
int ecr__meta_scan_list_orphans(ecr__txn *t, int64_t registry_id, int64_t started_before, int64_t now,
	ecr__meta_scan_key_cb cb, void *payload);

/* Take the lease name for holder until now + ttl_ms when it is free, expired (expires_at <= now) or already
 * holder's (then it is extended). *acquired false when another holder has it. Run in a write transaction. */
int ecr__meta_lease_acquire(ecr__txn *t, const char *name, const char *holder, int64_t now, int64_t ttl_ms,
	bool *acquired);
/* Extend holder's unexpired lease to now + ttl_ms; *held false when it expired or another holder has it. */
int ecr__meta_lease_renew(ecr__txn *t, const char *name, const char *holder, int64_t now, int64_t ttl_ms,
	bool *held);
/* Give up holder's lease (none is fine). */
int ecr__meta_lease_release(ecr__txn *t, const char *name, const char *holder);
/* Remove every lease (when the store is known to have no other user: a flock'ed file:// folder). */
int ecr__meta_lease_clear(ecr__txn *t);
/* The lease's holder and expiry (*holder_out: ecr__free). ECR_ENOTFOUND (no error set). */
int ecr__meta_lease_get(ecr__txn *t, const char *name, char **holder_out, int64_t *expires_at_out);

/*
 * GC candidates (gc_candidates): digest, marked_at (since when the blob is known unreferenced), deleted_at (0 for
 * a candidate; > 0: a tombstone, the blob was removed at that time) and guard_until (a tombstone refuses links and
 * images of its digest made before this time). Triggers on blob_links (insert, update) and images (insert) delete
 * the digest's candidate row in the transaction that references it, and fail that transaction (ECR_EEXISTS) when a
 * guarding tombstone exists. ecr__meta_gc_guard_install creates the triggers (idempotent, per dialect); it runs
 * before any row of gc_candidates is written, so a referencing transaction always meets them.
 */
int ecr__meta_gc_guard_install(ecr__txn *t);
/* Insert a candidate unless the digest has a row. */
int ecr__meta_gc_mark(ecr__txn *t, const char *digest, int64_t marked_at);
/* Turn a candidate marked before `before` into a tombstone (deleted_at = now, guard_until); *claimed false when
 * the digest has no such candidate (referenced since: the triggers deleted it). The caller checks, in t, that the
 * blob is unreferenced. */
int ecr__meta_gc_claim(ecr__txn *t, const char *digest, int64_t before, int64_t now, int64_t guard_until,
	bool *claimed);
/* Delete the digest's row, whatever it is. */
int ecr__meta_gc_forget(ecr__txn *t, const char *digest);
/* Delete tombstones whose guard ended before now. */
int ecr__meta_gc_prune(ecr__txn *t, int64_t now);
/* Number of candidates (tombstones = false) or tombstones (true). */
int ecr__meta_gc_count(ecr__txn *t, bool tombstones, int64_t *count_out);

#endif
