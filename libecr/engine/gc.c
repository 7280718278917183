/*
 * Garbage collection of a store: (a) abandoned upload sessions and orphaned
 * staging objects, (b) blob links that no image of their repository needs,
 * (c) blobs nothing references. Nothing younger than the grace period goes.
 *
 * Several processes (nodes) may share the stores (PostgreSQL + S3, or one
 * SQLite file + one folder), so (c) is mark / claim / sweep, coordinated
 * through the metadata store with no stop-the-world:
 * - One node at a time: GC takes the store-wide lease "gc" (leases.c); a node
 *   that finds it held skips the run (nothing done). A dead node's lease
 *   expires (GC_LEASE_TTL_MS).
 * - Mark: blobs older than the grace period (by the store's mtime) that nothing
 *   references are recorded in gc_candidates with that time. Triggers on
 *   blob_links (insert, update) and images (insert) delete a digest's
 *   candidate row in the very transaction that references it (every way of
 *   referencing a blob, on any node, goes through those tables).
 * - Claim: in one write transaction (writers are serialised across nodes by
 *   both dialects) a candidate still present, marked before now - grace and
 *   still unreferenced becomes a tombstone (deleted_at, guard_until = now +
 *   the guard, min(grace, GUARD_MAX_MS); 0 for a file:// folder, which one
 *   process holds with flock: its gc_lock is enough).
 * - Sweep: the claimed blobs are removed from the blob store.
 * The race this closes: another node publishes a blob that already exists
 * (a no-op on S3 with If-None-Match) and links it afterwards. Its link made
 * before the claim deletes the candidate (the claim skips it); its link made
 * after the claim meets the tombstone: the triggers fail that transaction
 * (ECR_EEXISTS, "the blob was just garbage-collected; upload it again") for
 * links dated before guard_until, so a publish that came before the removal
 * is never linked to a missing blob; the client's retry uploads it again.
 * Tombstones are pruned once their guard has passed. In this process the
 * store's gc_lock still excludes publishers while blobs are removed.
 */
#include "upload_cache.h"

#include "../remote/remote.h"
#include "../storage/meta_lease.h"
#include "leases.h"

#define GRACE_DEFAULT_SECONDS 3600
/* A tombstone refuses links for min(grace, this) after the claim: longer than a publish + link takes. */
#define GUARD_MAX_MS (60 * 1000)
/* The "gc" lease: longer than a run; renewed between the steps. */
#define GC_LEASE_NAME "gc"
#define GC_LEASE_TTL_MS (15 * 60 * 1000)

int ecr_gc_options_init(ecr_gc_options *opts, unsigned int version)
{
	int rc;
	if (!opts)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_gc_options_init: options are NULL");
	if ((rc = ecr__check_version(version, ECR_GC_OPTIONS_VERSION, "ecr_gc_options")))
		return rc;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

typedef struct link_item {
	int64_t repo_id;
	char *digest;
} link_item;

typedef struct link_list {
	link_item *items;
	size_t count, cap;
} link_list;

static void link_list_dispose(link_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		ecr__free(l->items[i].digest);
	ecr__free(l->items);
	memset(l, 0, sizeof(*l));
}

static int collect_link(int64_t repo_id, const char *digest, void *payload)
{
	link_list *l = payload;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64, bytes;
		void *p;
		if (ecr__mul_overflow(cap, sizeof(*l->items), &bytes))
			return ecr__fail_oom();
		if (!(p = ecr__realloc(l->items, bytes)))
			return ECR_ENOMEM;
		l->items = p;
		l->cap = cap;
	}
	if (!(l->items[l->count].digest = ecr__strdup(digest)))
		return ECR_ENOMEM;
	l->items[l->count].repo_id = repo_id;
	l->count++;
	return 0;
}

/* Remove stale links inside t (a write transaction: nothing can reference them meanwhile). */
static int remove_stale_links(ecr__txn *t, int64_t before, uint64_t *removed)
{
	link_list links = { 0 };
	int rc;

	if ((rc = ecr__meta_gc_stale_links(t, before, collect_link, &links)))
		goto done;
	for (size_t i = 0; i < links.count; i++)
		if ((rc = ecr__meta_link_delete(t, links.items[i].repo_id, links.items[i].digest)))
			goto done;
	*removed += links.count;
done:
	link_list_dispose(&links);
	return rc;
}

typedef struct archived_ctx {
	ecr__store *s;
	link_list drop; /* digests of archived_blobs rows to delete (repo_id unused) */
} archived_ctx;

static int collect_unneeded_archive(const ecr__meta_archived_blob *b, void *payload)
{
	archived_ctx *c = payload;
	return collect_link(0, b->digest, &c->drop);
}

/* Delete, inside t, the archived_blobs rows that no archived image needs any more (their compressed copies
 * become unreferenced and go with the blobs). A row whose raw copy is missing stays while a repository still
 * links the digest. */
static int remove_unneeded_archives(ecr__store *s, ecr__txn *t)
{
	archived_ctx c = { s, { 0 } };
	int rc = ecr__meta_archived_blob_unneeded(t, collect_unneeded_archive, &c);
	for (size_t i = 0; !rc && i < c.drop.count; i++) {
		uint64_t size;
		bool linked = false;
		int src = s->blobs->stat(s->blobs, c.drop.items[i].digest, &size);
		if (src && src != ECR_ENOTFOUND) {
			rc = src;
			break;
		}
		ecr__error_clear();
		if (src == ECR_ENOTFOUND && (rc = ecr__meta_blob_linked(t, c.drop.items[i].digest, &linked)))
			break;
		if (!linked)
			rc = ecr__meta_archived_blob_delete(t, c.drop.items[i].digest);
	}
	link_list_dispose(&c.drop);
	return rc;
}

typedef struct blob_item {
	char *digest;
	uint64_t size;
	int64_t mtime_ms;
} blob_item;

typedef struct blob_list {
	blob_item *items;
	size_t count, cap;
	int64_t before;
	uint64_t total; /* every blob listed */
} blob_list;

static void blob_list_dispose(blob_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		ecr__free(l->items[i].digest);
	ecr__free(l->items);
	l->items = NULL;
	l->count = l->cap = 0;
}

static int collect_blob(const char *digest, uint64_t size, int64_t mtime_ms, void *payload)
{
	blob_list *l = payload;
	l->total++;
	if (mtime_ms >= l->before)
		return 0;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64, bytes;
		void *p;
		if (ecr__mul_overflow(cap, sizeof(*l->items), &bytes))
			return ecr__fail_oom();
		if (!(p = ecr__realloc(l->items, bytes)))
			return ECR_ENOMEM;
		l->items = p;
		l->cap = cap;
	}
	if (!(l->items[l->count].digest = ecr__strdup(digest)))
		return ECR_ENOMEM;
	l->items[l->count].size = size;
	l->items[l->count].mtime_ms = mtime_ms;
	l->count++;
	return 0;
}

/* Keep only the blobs that nothing references, as t sees it. */
static int keep_unreferenced(ecr__txn *t, blob_list *l)
{
	size_t kept = 0;
	int rc = 0;

	for (size_t i = 0; i < l->count; i++) {
		bool referenced = true;
		if (rc == 0)
			rc = ecr__meta_blob_referenced(t, l->items[i].digest, &referenced);
		if (rc || referenced) {
			ecr__free(l->items[i].digest);
			continue;
		}
		l->items[kept++] = l->items[i];
	}
	l->count = kept;
	return rc;
}

/* Record the blobs of l as candidates (mark), in one write transaction. */
static int mark_blobs(ecr__store *s, blob_list *l, int64_t now)
{
	ecr__txn t = { 0 };
	int rc;

	if ((rc = ecr__txn_begin(&t, s->meta, true)) || (rc = ecr__meta_gc_guard_install(&t)) ||
		(rc = ecr__meta_gc_prune(&t, now)))
		goto done;
	for (size_t i = 0; i < l->count; i++)
		if ((rc = ecr__meta_gc_mark(&t, l->items[i].digest, l->items[i].mtime_ms < now ? l->items[i].mtime_ms : now)))
			goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}

/* Keep in l the candidates that are still unreferenced and marked before `before`, and make them tombstones, in
 * one write transaction. */
static int claim_blobs(ecr__store *s, blob_list *l, int64_t before, int64_t now, int64_t guard_until)
{
	ecr__txn t = { 0 };
	size_t kept = 0;
	int rc;

	if ((rc = ecr__txn_begin(&t, s->meta, true)) || (rc = keep_unreferenced(&t, l)))
		goto done;
	for (size_t i = 0; i < l->count; i++) {
		bool claimed = false;
		if (rc == 0)
			rc = ecr__meta_gc_claim(&t, l->items[i].digest, before, now, guard_until, &claimed);
		if (rc || !claimed) {
			ecr__free(l->items[i].digest);
			continue;
		}
		l->items[kept++] = l->items[i];
	}
	l->count = kept;
	if (rc == 0)
		rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}

/*
 * Remove old blobs that nothing references: mark, claim, sweep (see the top
 * of the file). The first check runs in a read transaction to keep the write
 * transactions short; the claim checks again.
 */
static int remove_blobs(ecr__store *s, int64_t before, int64_t now, int64_t guard_ms, ecr_gc_stats *st)
{
	blob_list blobs = { 0 };
	ecr__txn t = { 0 };
	uint64_t removed = 0;
	bool locked = false;
	int rc;

	blobs.before = before;
	if ((rc = s->blobs->list(s->blobs, collect_blob, &blobs)))
		goto done;
	if (blobs.count == 0)
		goto done;
	if ((rc = ecr__txn_begin(&t, s->meta, false)) || (rc = keep_unreferenced(&t, &blobs)))
		goto done;
	ecr__txn_rollback(&t);
	if (blobs.count == 0)
		goto done;
	if ((rc = mark_blobs(s, &blobs, now)))
		goto done;

	pthread_rwlock_wrlock(&s->gc_lock);
	locked = true;
	if ((rc = claim_blobs(s, &blobs, before, now, now + guard_ms)))
		goto done;
	for (size_t i = 0; i < blobs.count; i++) {
		rc = s->blobs->remove(s->blobs, blobs.items[i].digest);
		if (rc == ECR_ENOTFOUND) {
			ecr__error_clear();
			rc = 0;
			continue;
		}
		if (rc)
			goto done;
		removed++;
		st->blobs_removed++;
		st->bytes_removed += blobs.items[i].size;
	}
done:
	ecr__txn_rollback(&t);
	if (locked)
		pthread_rwlock_unlock(&s->gc_lock);
	st->blobs_kept += blobs.total - removed;
	blob_list_dispose(&blobs);
	return rc;
}

/* Count the old blobs that nothing references as t sees it (a dry run). */
static int count_blobs(ecr__store *s, ecr__txn *t, int64_t before, ecr_gc_stats *st)
{
	blob_list blobs = { 0 };
	int rc;

	blobs.before = before;
	if ((rc = s->blobs->list(s->blobs, collect_blob, &blobs)) == 0 && (rc = keep_unreferenced(t, &blobs)) == 0) {
		st->blobs_removed += blobs.count;
		for (size_t i = 0; i < blobs.count; i++)
			st->bytes_removed += blobs.items[i].size;
		st->blobs_kept += blobs.total - blobs.count;
	}
	blob_list_dispose(&blobs);
	return rc;
}

int ecr_registry_gc(ecr_registry *reg, const ecr_gc_options *opts, ecr_gc_stats *stats_out)
{
	ecr_gc_options defaults = ECR_GC_OPTIONS_INIT;
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	ecr__store *s;
	ecr__txn t = { 0 };
	uint64_t grace_ms;
	int64_t now, before, guard_ms;
	bool dry_run, leased = false;
	char holder[ECR__LEASE_HOLDER_MAX];

	int rc;

	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_gc: registry is NULL");
	if (reg->remote)
		return ecr__remote_unsupported(reg, "garbage collection", "it runs on the registry's own host");
	if (!opts)
		opts = &defaults;
	if ((rc = ecr__check_version(opts->version, ECR_GC_OPTIONS_VERSION, "ecr_gc_options")))
		return rc;
	if (stats_out && (rc = ecr__check_version(stats_out->version, ECR_GC_STATS_VERSION, "ecr_gc_stats")))
		return rc;
	if (opts->flags & ~ECR_GC_DRY_RUN)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_gc: unknown flags 0x%x",
			(unsigned)(opts->flags & ~ECR_GC_DRY_RUN));
	if (opts->grace_seconds > (uint64_t)INT64_MAX / 1000 / 2)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_gc: grace period too long");

	s = reg->store;
	dry_run = (opts->flags & ECR_GC_DRY_RUN) != 0;
	grace_ms = (opts->grace_seconds ? opts->grace_seconds : GRACE_DEFAULT_SECONDS) * 1000;
	now = ecr_registry_now(reg);
	before = now - (int64_t)grace_ms;
	/* a file:// folder is flock'ed by one process (its gc_lock suffices); other stores may be shared */
	guard_ms = s->key ? 0 : (int64_t)grace_ms < GUARD_MAX_MS ? (int64_t)grace_ms : GUARD_MAX_MS;
	ecr__lease_holder(s, holder);

	/* one node at a time; a dry run changes nothing and needs no lease */
	if (!dry_run) {
		rc = ecr__lease_acquire(s, GC_LEASE_NAME, holder, now, GC_LEASE_TTL_MS);
		if (rc == ECR_EBUSY) {
			ecr__log(&reg->log, ECR_LOG_INFO, "gc: skipped, another node holds the gc lease");
			rc = 0;
			goto out;
		}
		if (rc)
			goto out;
		leased = true;
	}

	/* (a) uploads */
	if ((rc = ecr__uploads_gc(reg, now - (int64_t)reg->upload_expiry_ms, before, dry_run, &st.uploads_expired)))
		goto done;

	if (!dry_run) {
		/* (b) links, in one write transaction */
		if ((rc = ecr__txn_begin(&t, s->meta, true)) ||
			(rc = remove_stale_links(&t, before, &st.links_removed)) ||
			(rc = remove_unneeded_archives(s, &t)) || (rc = ecr__txn_commit(&t)))
			goto done;
		/* (c) blobs, under a renewed lease */
		/* (acquire, not renew: another thread of this process, same holder, may have released it) */
		rc = ecr__lease_acquire(s, GC_LEASE_NAME, holder, ecr_registry_now(reg), GC_LEASE_TTL_MS);
		if (rc == ECR_EBUSY)
			rc = ecr__fail(ECR_EBUSY, ECR_ERROR_STORAGE, "gc: another node took the gc lease during the run");
		if (rc || (rc = remove_blobs(s, before, now, guard_ms, &st)))
			goto done;
	} else {
		/* Count what would go: remove the links in a transaction that is rolled back, and
		 * look at the blobs through it, so blobs held only by stale links are counted too. */
		if ((rc = ecr__txn_begin(&t, s->meta, true)) ||
			(rc = remove_stale_links(&t, before, &st.links_removed)) ||
			(rc = remove_unneeded_archives(s, &t)) || (rc = count_blobs(s, &t, before, &st)))
			goto done;
	}
	rc = 0;
done:
	ecr__txn_rollback(&t);
	if (leased) {
		int rl = ecr__lease_release(s, GC_LEASE_NAME, holder);
		if (rl && rc == 0)
			rc = rl;
	}
	if (rc == 0)
		ecr__log(&reg->log, ECR_LOG_INFO,
			"gc%s: %llu uploads expired, %llu links removed, %llu blobs removed (%llu bytes), %llu kept",
			dry_run ? " (dry run)" : "", (unsigned long long)st.uploads_expired,
			(unsigned long long)st.links_removed, (unsigned long long)st.blobs_removed,
			(unsigned long long)st.bytes_removed, (unsigned long long)st.blobs_kept);
out:
	/* runs and failures for ecr_registry_stats (not dry runs, nor runs skipped for another node's lease) */
	if (!dry_run && (rc || leased))
		ecr__stats_gc(s, rc, st.blobs_removed, st.bytes_removed);
	if (stats_out) {
		unsigned int version = stats_out->version;
		*stats_out = st;
		stats_out->version = version;
	}
	return rc;
}
