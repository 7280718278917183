/*
 * The ARCHIVE storage class (ECR's UpdateImageStorageClass). Archiving marks
 * an image ARCHIVED (not pullable); then every blob of it that no image still
 * active needs is kept as a zlib-compressed copy (itself a blob, under the
 * digest of its compressed bytes, recorded in archived_blobs) and its raw copy
 * is removed. The compressed copy is published and recorded before the raw one
 * goes, so a crash in between loses nothing. Restoring marks the image
 * ACTIVATING, inflates what is missing (the digest is verified when it is
 * published), then ACTIVE. Index children and referrers follow.
 */
#include "engine.h"

#include <zlib.h>

#include "../core/crypto.h"
#include "../oci/oci.h"
#include "../remote/remote_image.h"

#define CHUNK 65536

static int not_found(const ecr_repository *repo, const char *digest)
{
	return ecr__fail(
	    ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
	    "The image with imageId {imageDigest:'%s'} does not exist within the repository with name '%s' in the "
	    "registry with id '%s'",
	    digest, repo->name, repo->reg->account_id);
}

/* Stream a blob through zlib (deflate or inflate) into a fresh staging object and publish it; the digest
 * published is expect (inflate: verified by the store) or that of the bytes written (deflate). */
static int transcode(ecr__store *s, const char *from, bool deflating, const char *expect, char *published,
                     size_t published_len, uint64_t *size_out)
{
	ecr_blob_store_reader *r = NULL;
	ecr_blob_store_writer *w = NULL;
	char id[ECR_UPLOAD_ID_LEN + 1];
	unsigned char *in = NULL, *out = NULL;
	z_stream z;
	bool z_open = false, staged = false, eof = false;
	int zrc = Z_OK, rc;

	memset(&z, 0, sizeof(z));
	if (!(in = ecr__malloc(CHUNK)) || !(out = ecr__malloc(CHUNK))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = s->blobs->read_open(&r, s->blobs, from, 0)))
		goto done;
	if ((deflating ? deflateInit(&z, Z_DEFAULT_COMPRESSION) : inflateInit(&z)) != Z_OK) {
		rc = ecr__fail(ECR_ENOMEM, ECR_ERROR_STORAGE, "zlib: cannot initialise");
		goto done;
	}
	z_open = true;
	if ((rc = ecr__uuid_v4(id)) || (rc = s->blobs->stage_open(&w, s->blobs, id, 1)))
		goto done;
	staged = true;
	while (zrc != Z_STREAM_END) {
		size_t n = 0;
		if (z.avail_in == 0 && !eof) {
			if ((rc = r->read(r, in, CHUNK, &n)))
				goto done;
			eof = n == 0;
			z.next_in = in;
			z.avail_in = (uInt)n;
		}
		z.next_out = out;
		z.avail_out = CHUNK;
		if (deflating)
			zrc = deflate(&z, eof ? Z_FINISH : Z_NO_FLUSH);
		else
			zrc = inflate(&z, Z_NO_FLUSH);
		if (zrc == Z_STREAM_ERROR || zrc == Z_DATA_ERROR || zrc == Z_NEED_DICT || zrc == Z_MEM_ERROR ||
		    (zrc == Z_BUF_ERROR && eof && z.avail_out == CHUNK)) {
			rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "zlib: blob %.140s: %s", from,
			               z.msg ? z.msg : (eof ? "truncated stream" : "stream error"));
			goto done;
		}
		size_t produced = CHUNK - z.avail_out;
		if (produced && (rc = w->write(w, out, produced)))
			goto done;
	}
	if (deflating && (rc = w->digest(w, published, published_len)))
		goto done;
	if (!deflating) {
		if (strlen(expect) >= published_len) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "digest too long");
			goto done;
		}
		strcpy(published, expect);
	}
	*size_out = w->size;
	rc = w->commit(w, published);
	if (rc == ECR_EDIGEST)
		staged = false; /* the store removed it */
	if (!rc)
		staged = false;
done:
	if (z_open)
		deflating ? deflateEnd(&z) : inflateEnd(&z);
	if (w)
		w->close(w);
	if (staged) {
		ecr__error_saved saved;
		ecr__error_save(&saved);
		(void)s->blobs->stage_remove(s->blobs, id);
		ecr__error_restore(&saved);
	}
	if (r)
		r->close(r);
	ecr__free(in);
	ecr__free(out);
	return rc;
}

int ecr__archive_ensure_raw(ecr__store *s, ecr__txn *t, const char *digest)
{
	ecr__meta_archived_blob row;
	char published[ECR__DIGEST_STRLEN_MAX];
	uint64_t size = 0;
	int rc = s->blobs->stat(s->blobs, digest, &size);
	if (rc != ECR_ENOTFOUND)
		return rc;
	ecr__error_clear();
	rc = ecr__meta_archived_blob_get(t, digest, &row);
	if (rc == ECR_ENOTFOUND)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob %.140s is missing from the blob store", digest);
	if (rc)
		return rc;
	if ((rc = transcode(s, row.compressed_digest, false, digest, published, sizeof(published), &size)))
		return rc;
	if ((int64_t)size != row.size) {
		/* Cannot happen when the digest matched; refuse rather than trust it. */
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob %.140s restored with %llu bytes, expected %lld",
		                 digest, (unsigned long long)size, (long long)row.size);
	}
	return 0;
}

/* The images that follow root: index children (recursively) and referrers whose status bit is in mask; for an
 * archive, a child that another parent outside the set still needs (not archived) stays. */
typedef struct pair_vec {
	ecr__strvec parents, children;
} pair_vec;

static int pair_collect(const char *parent, const char *child, void *payload)
{
	pair_vec *pv = payload;
	int rc = ecr__strvec_add(&pv->parents, parent);
	if (!rc && (rc = ecr__strvec_add(&pv->children, child))) {
		ecr__free(pv->parents.v[--pv->parents.n]);
	}
	return rc;
}

struct follow_ctx {
	ecr__strvec *found;
	uint32_t mask;
	ecr__strvec *queue;
};

static int referrer_collect(const ecr__meta_image *img, void *payload)
{
	struct follow_ctx *c = payload;
	if (!(c->mask & (1u << img->status)) || ecr__strvec_has(c->queue, img->digest))
		return 0;
	return ecr__strvec_add(c->queue, img->digest);
}

static int image_status(ecr__txn *t, int64_t repo_id, const char *digest, int *status_out)
{
	ecr__meta_image rec;
	int rc = ecr__meta_image_get(t, repo_id, digest, &rec);
	if (!rc)
		*status_out = rec.status;
	ecr__meta_image_dispose(&rec);
	return rc;
}

static int collect_followers(ecr__txn *t, ecr_repository *repo, const char *root, bool archiving, ecr__strvec *set)
{
	pair_vec refs = {{0}, {0}};
	uint32_t mask = archiving ? 1u << ECR_IMAGE_ACTIVE : (1u << ECR_IMAGE_ARCHIVED) | (1u << ECR_IMAGE_ACTIVATING);
	struct follow_ctx fc = {NULL, mask, set};
	int rc;

	if ((rc = ecr__strvec_add(set, root)) ||
	    (rc = ecr__meta_ref_list_kind(t, repo->id, ECR__REF_MANIFEST, pair_collect, &refs)))
		goto done;
	for (size_t i = 0; i < set->n && set->n < 100000; i++) {
		const char *d = set->v[i];
		for (size_t k = 0; k < refs.parents.n; k++) {
			if (strcmp(refs.parents.v[k], d) != 0 || ecr__strvec_has(set, refs.children.v[k]))
				continue;
			const char *child = refs.children.v[k];
			int st = 0;
			rc = image_status(t, repo->id, child, &st);
			if (rc == ECR_ENOTFOUND) {
				rc = 0;
				continue;
			}
			if (rc)
				goto done;
			if (!(mask & (1u << st)))
				continue;
			bool held = false;
			for (size_t j = 0; archiving && !held && j < refs.children.n; j++) {
				int pst = 0;
				if (strcmp(refs.children.v[j], child) != 0 || ecr__strvec_has(set, refs.parents.v[j]))
					continue;
				if ((rc = image_status(t, repo->id, refs.parents.v[j], &pst)) && rc != ECR_ENOTFOUND)
					goto done;
				held = rc == 0 && pst != ECR_IMAGE_ARCHIVED;
				rc = 0;
			}
			if (!held && (rc = ecr__strvec_add(set, child)))
				goto done;
		}
		if ((rc = ecr__meta_image_list(t, repo->id, NULL, ECR_TAG_STATUS_ANY, 0, d, NULL, SIZE_MAX >> 2,
		                               referrer_collect, &fc)))
			goto done;
	}
done:
	ecr__strvec_dispose(&refs.parents);
	ecr__strvec_dispose(&refs.children);
	return rc;
}

static int blob_collect(const char *parent, const char *child, void *payload)
{
	ecr__strvec *blobs = payload;
	(void)parent;
	return ecr__strvec_has(blobs, child) ? 0 : ecr__strvec_add(blobs, child);
}

/* Change the status of every image of set inside one write transaction. */
static int set_states(ecr__store *s, ecr_repository *repo, const ecr__strvec *set, int from_mask, int status,
                      int64_t now, ecr__strvec *changed)
{
	ecr__txn t = {0};
	int rc;
	if ((rc = ecr__txn_begin(&t, s->meta, true)) || (rc = ecr__repository_check(&t, repo)))
		goto done;
	for (size_t i = 0; i < set->n; i++) {
		ecr__meta_image rec;
		rc = ecr__meta_image_get(&t, repo->id, set->v[i], &rec);
		if (rc == ECR_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc)
			goto done;
		if (from_mask & (1 << rec.status)) {
			rec.status = status;
			if (status == ECR_IMAGE_ARCHIVED) {
				rec.storage_class = ECR_STORAGE_CLASS_ARCHIVE;
				rec.last_archived_at = now;
			} else if (status == ECR_IMAGE_ACTIVE) {
				rec.storage_class = ECR_STORAGE_CLASS_STANDARD;
				rec.last_activated_at = now;
			}
			rc = ecr__meta_image_set_state(&t, &rec);
			if (!rc && changed && status != ECR_IMAGE_ACTIVATING && !ecr__strvec_has(changed, rec.digest))
				rc = ecr__strvec_add(changed, rec.digest);
		}
		ecr__meta_image_dispose(&rec);
		if (rc)
			goto done;
	}
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}

/* The config and layer blobs of the images of set. */
static int blobs_of(ecr__store *s, ecr_repository *repo, const ecr__strvec *set, ecr__strvec *blobs)
{
	ecr__txn t = {0};
	int rc = ecr__txn_begin(&t, s->meta, false);
	for (size_t i = 0; !rc && i < set->n; i++)
		rc = ecr__meta_ref_list_of(&t, repo->id, set->v[i], ECR__REF_BLOB, blob_collect, blobs);
	ecr__txn_rollback(&t);
	return rc;
}

/* Keep compressed copies of the blobs that no active image needs, then remove their raw copies. */
static int archive_blobs(ecr__store *s, const ecr__strvec *blobs, int64_t now)
{
	ecr__strvec compressed = {0};
	ecr__txn t = {0};
	bool locked = false;
	int rc = 0;

	for (size_t i = 0; i < blobs->n; i++) {
		const char *d = blobs->v[i];
		ecr__meta_archived_blob row;
		bool needed = false;
		uint64_t size = 0, csize = 0;
		if ((rc = ecr__txn_begin(&t, s->meta, false)) || (rc = ecr__meta_blob_needed_active(&t, d, &needed)))
			goto done;
		rc = ecr__meta_archived_blob_get(&t, d, &row);
		ecr__txn_rollback(&t);
		if (rc && rc != ECR_ENOTFOUND)
			goto done;
		bool have_row = rc == 0;
		rc = 0;
		if (needed)
			continue;
		if (have_row && s->blobs->stat(s->blobs, row.compressed_digest, &csize) == 0) {
			if ((rc = ecr__strvec_add(&compressed, d)))
				goto done;
			continue;
		}
		ecr__error_clear();
		rc = s->blobs->stat(s->blobs, d, &size);
		if (rc == ECR_ENOTFOUND) { /* gone already (and not recoverable here): nothing to keep */
			ecr__error_clear();
			rc = 0;
			continue;
		}
		if (rc)
			goto done;
		memset(&row, 0, sizeof(row));
		if (strlen(d) >= sizeof(row.digest)) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "digest too long");
			goto done;
		}
		strcpy(row.digest, d);
		if ((rc = transcode(s, d, true, NULL, row.compressed_digest, sizeof(row.compressed_digest), &csize)))
			goto done;
		row.size = (int64_t)size;
		row.compressed_size = (int64_t)csize;
		row.archived_at = now;
		if ((rc = ecr__txn_begin(&t, s->meta, true)) || (rc = ecr__meta_archived_blob_put(&t, &row)) ||
		    (rc = ecr__txn_commit(&t)))
			goto done;
		if ((rc = ecr__strvec_add(&compressed, d)))
			goto done;
	}
	if (compressed.n == 0)
		goto done;
	/* Under the exclusive lock nothing can link or restore meanwhile: check again, then remove. */
	pthread_rwlock_wrlock(&s->gc_lock);
	locked = true;
	if ((rc = ecr__txn_begin(&t, s->meta, false)))
		goto done;
	for (size_t i = 0; i < compressed.n; i++) {
		bool needed = true;
		ecr__meta_archived_blob row;
		if ((rc = ecr__meta_blob_needed_active(&t, compressed.v[i], &needed)))
			goto done;
		if (needed)
			continue;
		if ((rc = ecr__meta_archived_blob_get(&t, compressed.v[i], &row))) {
			if (rc != ECR_ENOTFOUND)
				goto done;
			rc = 0;
			continue;
		}
		rc = s->blobs->remove(s->blobs, compressed.v[i]);
		if (rc == ECR_ENOTFOUND) {
			ecr__error_clear();
			rc = 0;
		}
		if (rc)
			goto done;
	}
done:
	ecr__txn_rollback(&t);
	if (locked)
		pthread_rwlock_unlock(&s->gc_lock);
	ecr__strvec_dispose(&compressed);
	return rc;
}

static int restore_blobs(ecr__store *s, const ecr__strvec *blobs)
{
	ecr__txn t = {0};
	int rc;
	pthread_rwlock_rdlock(&s->gc_lock);
	rc = ecr__txn_begin(&t, s->meta, false);
	for (size_t i = 0; !rc && i < blobs->n; i++)
		rc = ecr__archive_ensure_raw(s, &t, blobs->v[i]);
	ecr__txn_rollback(&t);
	pthread_rwlock_unlock(&s->gc_lock);
	return rc;
}

int ecr__image_set_storage_class(ecr_repository *repo, const char *digest, ecr_storage_class storage_class,
                                 ecr__strvec *changed)
{
	ecr__store *s = repo->reg->store;
	ecr__strvec set = {0}, blobs = {0};
	ecr__meta_image rec = {0};
	ecr__txn t = {0};
	bool archiving = storage_class == ECR_STORAGE_CLASS_ARCHIVE;
	int64_t now = ecr_registry_now(repo->reg);
	int rc;

	if (storage_class != ECR_STORAGE_CLASS_ARCHIVE && storage_class != ECR_STORAGE_CLASS_STANDARD)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid storage class %d", (int)storage_class);
	if ((rc = ecr__txn_begin(&t, s->meta, false)) || (rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_image_get(&t, repo->id, digest, &rec);
	if (rc == ECR_ENOTFOUND)
		rc = not_found(repo, digest);
	if (rc)
		goto done;
	if (archiving ? rec.status != ECR_IMAGE_ACTIVE : rec.status == ECR_IMAGE_ACTIVE) {
		rc = ecr__fail(ECR_ESTORAGE_CLASS_UPDATE, ECR_ERROR_IMAGE,
		               "The image with imageId {imageDigest:'%s'} in the repository with name '%s' in the "
		               "registry with id "
		               "'%s' is %s and cannot be moved to the %s storage class",
		               digest, repo->name, repo->reg->account_id,
		               rec.status == ECR_IMAGE_ACTIVE     ? "ACTIVE"
		               : rec.status == ECR_IMAGE_ARCHIVED ? "ARCHIVED"
		                                                  : "ACTIVATING",
		               archiving ? "ARCHIVE" : "STANDARD");
		goto done;
	}
	if ((rc = collect_followers(&t, repo, digest, archiving, &set)))
		goto done;
	ecr__txn_rollback(&t);

	if (archiving) {
		if ((rc = set_states(s, repo, &set, 1 << ECR_IMAGE_ACTIVE, ECR_IMAGE_ARCHIVED, now, changed)) ||
		    (rc = blobs_of(s, repo, &set, &blobs)) || (rc = archive_blobs(s, &blobs, now)))
			goto done;
		ecr__log(&repo->reg->log, ECR_LOG_INFO, "archived %s@%s (%zu images, %zu blobs)", repo->name, digest,
		         set.n, blobs.n);
	} else {
		int from = (1 << ECR_IMAGE_ARCHIVED) | (1 << ECR_IMAGE_ACTIVATING);
		if ((rc = set_states(s, repo, &set, from, ECR_IMAGE_ACTIVATING, now, NULL)) ||
		    (rc = blobs_of(s, repo, &set, &blobs)) || (rc = restore_blobs(s, &blobs)) ||
		    (rc = set_states(s, repo, &set, 1 << ECR_IMAGE_ACTIVATING, ECR_IMAGE_ACTIVE,
		                     ecr_registry_now(repo->reg), changed)))
			goto done;
		ecr__log(&repo->reg->log, ECR_LOG_INFO, "restored %s@%s (%zu images, %zu blobs)", repo->name, digest,
		         set.n, blobs.n);
	}
done:
	ecr__txn_rollback(&t);
	ecr__meta_image_dispose(&rec);
	ecr__strvec_dispose(&set);
	ecr__strvec_dispose(&blobs);
	return rc;
}

int ecr_image_set_storage_class(ecr_image **out, ecr_repository *repo, const char *digest,
                                ecr_storage_class storage_class)
{
	int rc;
	if (out)
		*out = NULL;
	if (!repo || !digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no repository or digest");
	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	if (repo->reg->remote)
		return ecr__remote_image_set_storage_class(out, repo, digest, storage_class);
	if ((rc = ecr__image_set_storage_class(repo, digest, storage_class, NULL)))
		return rc;
	return out ? ecr_image_get(out, repo, digest, ECR_IMAGE_GET_ANY_STATUS) : 0;
}
