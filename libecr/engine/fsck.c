/*
 * The consistency check (ecr/fsck.h), in three phases so that no transaction is open while blobs are read
 * (the memory store has one connection, and GC takes its lock with a transaction open):
 * 1. one read transaction: the reference checks (tags, index children, links) and the manifests stored in the
 *    metadata store (schema 6: sizes and digests re-hashed from the rows) for each registry, and the lists
 *    the next phases need (the blobs the metadata needs, the archived blob rows, every referenced digest and
 *    upload id);
 * 2. under the store's GC lock (shared: GC in this process cannot remove a blob meanwhile): every needed blob is
 *    stat'ed and re-hashed from the blob store; with ECR_FSCK_ALL_REGISTRIES, the store's blobs and staging
 *    objects are listed for the notices;
 * 3. a blob found missing is confirmed in a fresh transaction (an image deleted since phase 1 may have let
 *    another node's GC remove it): only a blob still referenced is reported.
 */
#include "engine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/digest.h"
#include "../storage/meta_fsck.h"
#include "ecr/fsck.h"

#define HASH_BUF_SIZE (256 * 1024)

int ecr_fsck_options_init(ecr_fsck_options *opts, unsigned int version)
{
	int rc;
	if (!opts)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_fsck_options_init: options are NULL");
	if ((rc = ecr__check_version(version, ECR_FSCK_OPTIONS_VERSION, "ecr_fsck_options")))
		return rc;
	memset(opts, 0, sizeof(*opts));
	opts->version = version;
	return 0;
}

typedef struct need_blob {
	char *digest;
	char *repository;
	int64_t size_min, size_max;
	bool active;
} need_blob;

typedef struct fsck_run {
	ecr__store *s;
	uint32_t flags;
	ecr_fsck_cb cb;
	void *payload;
	ecr_fsck_stats st;
	char *account, *region; /* the registry being checked in phase 1 */
	need_blob *blobs;
	size_t nblobs, blobs_cap;
	ecr__meta_archived_blob *archived;
	size_t narchived, archived_cap;
	ecr__strvec referenced; /* sorted after phase 1 */
	ecr__strvec uploads;    /* sorted after phase 1 */
	ecr__strvec missing;    /* digests to confirm in phase 3 */
	unsigned char *buf;
} fsck_run;

static void run_dispose(fsck_run *r)
{
	for (size_t i = 0; i < r->nblobs; i++) {
		ecr__free(r->blobs[i].digest);
		ecr__free(r->blobs[i].repository);
	}
	ecr__free(r->blobs);
	ecr__free(r->archived);
	ecr__free(r->account);
	ecr__free(r->region);
	ecr__strvec_dispose(&r->referenced);
	ecr__strvec_dispose(&r->uploads);
	ecr__strvec_dispose(&r->missing);
	ecr__free(r->buf);
}

static int report(fsck_run *r, ecr_fsck_kind kind, ecr_fsck_severity sev, bool with_registry, const char *repository,
	const char *digest, const char *fmt, ...) ECR__PRINTF(7, 8);

static int report(fsck_run *r, ecr_fsck_kind kind, ecr_fsck_severity sev, bool with_registry, const char *repository,
	const char *digest, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (sev == ECR_FSCK_ERROR)
		r->st.errors++;
	else
		r->st.notices++;
	if (!r->cb)
		return 0;
	ecr_fsck_problem p = { ECR_FSCK_PROBLEM_VERSION, kind, sev, with_registry ? r->account : NULL,
		with_registry ? r->region : NULL, repository, digest, message };
	return r->cb(&p, r->payload);
}

/* --- phase 1 --- */

static int on_dangling_tag(const char *repository, const char *tag, const char *digest, void *payload)
{
	return report(payload, ECR_FSCK_TAG_DANGLING, ECR_FSCK_ERROR, true, repository, digest,
		"tag '%s' of repository '%s' names image %s, which is not in the repository", tag, repository, digest);
}

static int on_missing_child(const char *repository, const char *parent, const char *child, void *payload)
{
	return report(payload, ECR_FSCK_CHILD_MISSING, ECR_FSCK_ERROR, true, repository, parent,
		"index %s of repository '%s' lists manifest %s, which is not an image of the repository", parent,
		repository, child);
}

static int on_unlinked_ref(const char *repository, const char *parent, const char *child, void *payload)
{
	return report(payload, ECR_FSCK_BLOB_UNLINKED, ECR_FSCK_ERROR, true, repository, child,
		"image %s of repository '%s' needs blob %s, which is not linked to the repository", parent, repository,
		child);
}

static int on_need_blob(const ecr__meta_fsck_blob *b, void *payload)
{
	fsck_run *r = payload;
	int rc;
	if ((rc = ecr__array_grow((void **)&r->blobs, &r->blobs_cap, r->nblobs, sizeof(*r->blobs))))
		return rc;
	need_blob *n = &r->blobs[r->nblobs];
	memset(n, 0, sizeof(*n));
	n->digest = ecr__strdup(b->digest);
	n->repository = ecr__strdup(b->repository);
	n->size_min = b->size_min;
	n->size_max = b->size_max;
	n->active = b->active;
	r->nblobs++; /* counted before the check so that run_dispose frees what was copied */
	return n->digest && n->repository ? 0 : ECR_ENOMEM;
}

static int on_archived(const ecr__meta_archived_blob *b, void *payload)
{
	fsck_run *r = payload;
	int rc;
	if ((rc = ecr__array_grow((void **)&r->archived, &r->archived_cap, r->narchived, sizeof(*r->archived))))
		return rc;
	r->archived[r->narchived++] = *b;
	return 0;
}

static int on_referenced(const char *digest, void *payload)
{
	return ecr__strvec_add(&((fsck_run *)payload)->referenced, digest);
}

static int on_upload(const char *id, void *payload)
{
	return ecr__strvec_add(&((fsck_run *)payload)->uploads, id);
}

/* A manifest stored in the metadata store (schema 6): checked here, in phase 1 (its bytes come with the row). */
static int on_manifest(const ecr__meta_fsck_manifest *m, void *payload)
{
	fsck_run *r = payload;
	ecr__digest_alg alg;
	char got[ECR__DIGEST_STRLEN_MAX];
	const char *colon = strchr(m->digest, ':');
	int rc;
	r->st.blobs_checked++;
	if (m->size < 0 || (uint64_t)m->size != (uint64_t)m->len)
		return report(r, ECR_FSCK_BLOB_SIZE, ECR_FSCK_ERROR, true, m->repository, m->digest,
			"manifest %s of repository '%s' has %zu bytes in the metadata store; the image records %lld",
			m->digest, m->repository, m->len, (long long)m->size);
	if (r->flags & ECR_FSCK_NO_HASH)
		return 0;
	if (!colon || ecr__digest_alg_from_name(&alg, m->digest, (size_t)(colon - m->digest))) {
		ecr__error_clear();
		return report(r, ECR_FSCK_BLOB_CORRUPT, ECR_FSCK_ERROR, true, m->repository, m->digest,
			"manifest %s of repository '%s': not a digest this library can verify", m->digest,
			m->repository);
	}
	if ((rc = ecr__digest_buf(got, sizeof(got), alg, m->body, m->len)))
		return rc;
	r->st.bytes_hashed += m->len;
	if (strcmp(got, m->digest) != 0)
		return report(r, ECR_FSCK_BLOB_CORRUPT, ECR_FSCK_ERROR, true, m->repository, m->digest,
			"manifest %s of repository '%s': its %zu bytes in the metadata store hash to %s", m->digest,
			m->repository, m->len, got);
	return 0;
}

typedef struct reg_ctx {
	fsck_run *r;
	ecr__txn *t;
} reg_ctx;

static int check_registry(int64_t id, const char *account, const char *region, void *payload)
{
	reg_ctx *c = payload;
	fsck_run *r = c->r;
	int64_t repos, images, tags;
	int rc;
	ecr__free(r->account);
	ecr__free(r->region);
	r->account = ecr__strdup(account);
	r->region = ecr__strdup(region);
	if (!r->account || !r->region)
		return ECR_ENOMEM;
	if ((rc = ecr__meta_fsck_counts(c->t, id, &repos, &images, &tags)))
		return rc;
	r->st.registries++;
	r->st.repositories += (uint64_t)repos;
	r->st.images += (uint64_t)images;
	r->st.tags += (uint64_t)tags;
	if ((rc = ecr__meta_fsck_dangling_tags(c->t, id, on_dangling_tag, r)) ||
		(rc = ecr__meta_fsck_missing_children(c->t, id, on_missing_child, r)) ||
		(rc = ecr__meta_fsck_manifests(c->t, id, on_manifest, r)))
		return rc;
	return ecr__meta_fsck_unlinked_refs(c->t, id, on_unlinked_ref, r);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool sorted_has(const ecr__strvec *sv, const char *s)
{
	return sv->n && bsearch(&s, sv->v, sv->n, sizeof(*sv->v), cmp_str) != NULL;
}

static int phase_metadata(fsck_run *r, ecr_registry *reg)
{
	ecr__txn t = { 0 };
	reg_ctx c = { r, &t };
	bool all = r->flags & ECR_FSCK_ALL_REGISTRIES;
	int rc;
	if ((rc = ecr__txn_begin(&t, r->s->meta, false)))
		return rc;
	if ((rc = ecr__meta_fsck_registries(&t, all ? 0 : reg->id, check_registry, &c)))
		goto done;
	if ((rc = ecr__meta_fsck_blobs(&t, all ? 0 : reg->id, on_need_blob, r)) ||
		(rc = ecr__meta_fsck_archived(&t, on_archived, r)))
		goto done;
	if (all && ((rc = ecr__meta_fsck_referenced(&t, on_referenced, r)) ||
		       (rc = ecr__meta_fsck_uploads(&t, on_upload, r))))
		goto done;
done:
	ecr__txn_rollback(&t);
	if (!rc && r->referenced.n)
		qsort(r->referenced.v, r->referenced.n, sizeof(*r->referenced.v), cmp_str);
	if (!rc && r->uploads.n)
		qsort(r->uploads.v, r->uploads.n, sizeof(*r->uploads.v), cmp_str);
	return rc;
}

/* --- phase 2 --- */

static int cmp_archived(const void *key, const void *elem)
{
	return strcmp((const char *)key, ((const ecr__meta_archived_blob *)elem)->digest);
}

/* Report a storage failure as a problem and go on. */
static int report_io(fsck_run *r, const char *repository, const char *digest, const char *what, int code)
{
	int rc = report(r, ECR_FSCK_IO, ECR_FSCK_ERROR, false, repository, digest, "%s %s: %s (%s)", what, digest,
		ecr_error_last()->message, ecr_error_name(code));
	ecr__error_clear();
	return rc;
}

/* Re-hash a present blob of size bytes: *bad set when its content does not hash to digest. */
static int hash_blob(fsck_run *r, const char *repository, const char *digest, uint64_t size, bool *bad)
{
	ecr_blob_store_reader *rd = NULL;
	ecr__digest_ctx *ctx = NULL;
	ecr__digest_alg alg;
	char got[ECR__DIGEST_STRLEN_MAX];
	const char *colon = strchr(digest, ':');
	uint64_t total = 0;
	int rc;

	*bad = false;
	if (!colon || ecr__digest_alg_from_name(&alg, digest, (size_t)(colon - digest))) {
		ecr__error_clear();
		*bad = true;
		return report(r, ECR_FSCK_BLOB_CORRUPT, ECR_FSCK_ERROR, false, repository, digest,
			"blob %s: not a digest this library can verify", digest);
	}
	if ((rc = r->s->blobs->read_open(&rd, r->s->blobs, digest, 0))) {
		if (rc == ECR_ENOMEM)
			return rc;
		return report_io(r, repository, digest, "cannot open blob", rc);
	}
	if ((rc = ecr__digest_new(&ctx, alg)))
		goto done;
	for (;;) {
		size_t n = 0;
		if ((rc = rd->read(rd, r->buf, HASH_BUF_SIZE, &n))) {
			rc = rc == ECR_ENOMEM ? rc : report_io(r, repository, digest, "cannot read blob", rc);
			*bad = true;
			goto done;
		}
		if (n == 0)
			break;
		if ((rc = ecr__digest_update(ctx, r->buf, n)))
			goto done;
		total += n;
	}
	r->st.bytes_hashed += total;
	if ((rc = ecr__digest_final(ctx, got, sizeof(got))))
		goto done;
	if (strcmp(got, digest) != 0 || total != size) {
		*bad = true;
		rc = report(r, ECR_FSCK_BLOB_CORRUPT, ECR_FSCK_ERROR, false, repository, digest,
			"blob %s: its %llu bytes hash to %s", digest, (unsigned long long)total, got);
	}
done:
	ecr__digest_free(ctx);
	if (rd)
		rd->close(rd);
	return rc;
}

/* Check one stored object: present (*present), of the expected size (expected < 0: any), content matching. */
static int check_object(fsck_run *r, const char *repository, const char *digest, int64_t expected, bool *present)
{
	uint64_t size = 0;
	bool bad = false;
	int rc = r->s->blobs->stat(r->s->blobs, digest, &size);
	*present = false;
	if (rc == ECR_ENOTFOUND) {
		ecr__error_clear();
		return 0;
	}
	if (rc)
		return rc == ECR_ENOMEM ? rc : report_io(r, repository, digest, "cannot stat blob", rc);
	*present = true;
	if (expected >= 0 && (uint64_t)expected != size &&
		(rc = report(r, ECR_FSCK_BLOB_SIZE, ECR_FSCK_ERROR, false, repository, digest,
			 "blob %s has %llu bytes; the metadata records %lld", digest, (unsigned long long)size,
			 (long long)expected)))
		return rc;
	if (r->flags & ECR_FSCK_NO_HASH)
		return 0;
	return hash_blob(r, repository, digest, size, &bad);
}

static int check_needed(fsck_run *r, const need_blob *b)
{
	bool present = false;
	int rc;
	r->st.blobs_checked++;
	if (b->size_min != b->size_max &&
		(rc = report(r, ECR_FSCK_BLOB_SIZE, ECR_FSCK_ERROR, false, b->repository, b->digest,
			 "blob %s: the metadata records two sizes, %lld and %lld", b->digest, (long long)b->size_min,
			 (long long)b->size_max)))
		return rc;
	if ((rc = check_object(r, b->repository, b->digest, b->size_max, &present)) || present)
		return rc;
	/* Missing: an archived blob may be stored compressed only (unless an ACTIVE image needs it). */
	const ecr__meta_archived_blob *a = NULL;
	if (!b->active && r->narchived)
		a = bsearch(b->digest, r->archived, r->narchived, sizeof(*r->archived), cmp_archived);
	if (a) {
		if ((rc = check_object(r, b->repository, a->compressed_digest, a->compressed_size, &present)) || present)
			return rc;
	}
	/* Confirmed in phase 3. */
	return ecr__strvec_add(&r->missing, b->digest);
}

static int on_stored_blob(const char *digest, uint64_t size, int64_t mtime_ms, void *payload)
{
	fsck_run *r = payload;
	(void)mtime_ms;
	r->st.blobs_stored++;
	if (sorted_has(&r->referenced, digest))
		return 0;
	return report(r, ECR_FSCK_UNREFERENCED, ECR_FSCK_NOTICE, false, NULL, digest,
		"blob %s (%llu bytes) is referenced by nothing (garbage collection removes it)", digest,
		(unsigned long long)size);
}

static int on_stage(const char *stage_id, uint64_t size, int64_t mtime_ms, void *payload)
{
	fsck_run *r = payload;
	(void)mtime_ms;
	if (sorted_has(&r->uploads, stage_id))
		return 0;
	return report(r, ECR_FSCK_STAGE_ORPHAN, ECR_FSCK_NOTICE, false, NULL, NULL,
		"staging object %s (%llu bytes) belongs to no upload session (garbage collection removes it)", stage_id,
		(unsigned long long)size);
}

static int phase_blobs(fsck_run *r)
{
	int rc = 0;
	pthread_rwlock_rdlock(&r->s->gc_lock);
	for (size_t i = 0; !rc && i < r->nblobs; i++)
		rc = check_needed(r, &r->blobs[i]);
	if (!rc && (r->flags & ECR_FSCK_ALL_REGISTRIES)) {
		if ((rc = r->s->blobs->list(r->s->blobs, on_stored_blob, r)) == 0 && r->s->blobs->stage_list)
			rc = r->s->blobs->stage_list(r->s->blobs, on_stage, r);
	}
	pthread_rwlock_unlock(&r->s->gc_lock);
	return rc;
}

/* --- phase 3 --- */

static int phase_confirm(fsck_run *r)
{
	ecr__txn t = { 0 };
	int rc = 0;
	if (!r->missing.n)
		return 0;
	if ((rc = ecr__txn_begin(&t, r->s->meta, false)))
		return rc;
	for (size_t i = 0; !rc && i < r->missing.n; i++) {
		const char *digest = r->missing.v[i];
		bool referenced = false;
		uint64_t size;
		if ((rc = ecr__meta_blob_referenced(&t, digest, &referenced)))
			break;
		if (!referenced)
			continue;
		/* Published since phase 2 (a push of the same blob again)? Then it is there now. */
		if (r->s->blobs->stat(r->s->blobs, digest, &size) == 0)
			continue;
		ecr__error_clear();
		const need_blob *b = NULL;
		for (size_t k = 0; k < r->nblobs && !b; k++)
			if (strcmp(r->blobs[k].digest, digest) == 0)
				b = &r->blobs[k];
		const ecr__meta_archived_blob *a =
			r->narchived ? bsearch(digest, r->archived, r->narchived, sizeof(*r->archived), cmp_archived) : NULL;
		if (a && b && !b->active)
			rc = report(r, ECR_FSCK_ARCHIVE_MISSING, ECR_FSCK_ERROR, false, b->repository, digest,
				"archived blob %s has neither its raw copy nor its compressed copy %s", digest,
				a->compressed_digest);
		else
			rc = report(r, ECR_FSCK_BLOB_MISSING, ECR_FSCK_ERROR, false, b ? b->repository : NULL, digest,
				"blob %s%s%s%s is not in the blob store", digest, b ? " (needed by repository '" : "",
				b ? b->repository : "", b ? "')" : "");
	}
	ecr__txn_rollback(&t);
	return rc;
}

int ecr_registry_fsck(ecr_registry *reg, const ecr_fsck_options *opts, ecr_fsck_cb cb, void *payload,
	ecr_fsck_stats *stats_out)
{
	fsck_run r;
	int rc;

	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_fsck: registry is NULL");
	if (opts && (rc = ecr__check_version(opts->version, ECR_FSCK_OPTIONS_VERSION, "ecr_fsck_options")))
		return rc;
	if (stats_out && (rc = ecr__check_version(stats_out->version, ECR_FSCK_STATS_VERSION, "ecr_fsck_stats")))
		return rc;
	if (!reg->store)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INVALID,
			"ecr_registry_fsck: a remote registry cannot be checked from here; run the check where it is stored");
	memset(&r, 0, sizeof(r));
	r.s = reg->store;
	r.flags = opts ? opts->flags : 0;
	r.cb = cb;
	r.payload = payload;
	r.st.version = ECR_FSCK_STATS_VERSION;
	if (!(r.buf = ecr__malloc(HASH_BUF_SIZE))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = phase_metadata(&r, reg)) || (rc = phase_blobs(&r)) || (rc = phase_confirm(&r)))
		goto done;
done:
	if (stats_out) {
		unsigned int v = stats_out->version;
		*stats_out = r.st;
		stats_out->version = v;
	}
	run_dispose(&r);
	return rc;
}
