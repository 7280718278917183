/* Images: put (ECR's ordered checks), get, delete, untag, listing. */
#include "cache_support.h"

#include <stddef.h>

#include "../core/digest.h"
#include "../oci/oci.h"
#include "../remote/remote_image.h"
#include "replication_queue.h"

#define PAGE_SIZE 100
/* lastRecordedPullTime is refreshed at most this often per image. */
#define PULL_RECORD_INTERVAL_MS 60000

struct ecr_image {
	ecr_registry *reg;
	ecr__meta_image rec;
	char **tags;
	size_t tags_count;
	pthread_mutex_t lock; /* guards the lazy manifest load (and, remote, rec.manifest_size) */
	ecr_buf manifest;
	bool manifest_loaded;
	/* Remote registries: the repository the manifest is fetched from; rec.manifest_size < 0 is unknown. */
	char *repo_name;
};

static int manifest_load_local(ecr_image *img, ecr__txn *t);

static void tags_free(char **tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ecr__free(tags[i]);
	ecr__free(tags);
}

void ecr_image_free(ecr_image *img)
{
	if (!img)
		return;
	ecr__meta_image_dispose(&img->rec);
	tags_free(img->tags, img->tags_count);
	ecr_buf_dispose(&img->manifest);
	ecr__free(img->repo_name);
	pthread_mutex_destroy(&img->lock);
	ecr__free(img);
}

struct tag_vec {
	char **v;
	size_t n, cap;
};

static int tag_vec_add(const char *tag, const char *digest, void *payload)
{
	struct tag_vec *tv = payload;
	(void)digest;
	if (tv->n == tv->cap) {
		size_t cap = tv->cap ? tv->cap * 2 : 4;
		char **v = ecr__realloc(tv->v, cap * sizeof(char *));
		if (!v)
			return ECR_ENOMEM;
		tv->v = v;
		tv->cap = cap;
	}
	if (!(tv->v[tv->n] = ecr__strdup(tag)))
		return ECR_ENOMEM;
	tv->n++;
	return 0;
}

/* Build an image handle from a record (moved into it on success) and its tags. */
static int image_build(ecr_image **out, ecr__txn *t, ecr_registry *reg, ecr__meta_image *rec)
{
	struct tag_vec tv = { 0 };
	int rc = ecr__meta_tags_of_image(t, rec->repo_id, rec->digest, tag_vec_add, &tv);
	if (rc) {
		tags_free(tv.v, tv.n);
		return rc;
	}
	ecr_image *img = ecr__calloc(1, sizeof(*img));
	if (!img) {
		tags_free(tv.v, tv.n);
		return ECR_ENOMEM;
	}
	pthread_mutex_init(&img->lock, NULL);
	img->reg = reg;
	img->rec = *rec;
	memset(rec, 0, sizeof(*rec));
	img->tags = tv.v;
	img->tags_count = tv.n;
	*out = img;
	return 0;
}

int ecr__image_new(ecr_image **out, ecr_registry *reg, ecr__meta_image *rec, char **tags, size_t tags_count)
{
	ecr_image *img = ecr__calloc(1, sizeof(*img));
	if (!img)
		return ECR_ENOMEM;
	pthread_mutex_init(&img->lock, NULL);
	img->reg = reg;
	img->rec = *rec;
	memset(rec, 0, sizeof(*rec));
	img->tags = tags;
	img->tags_count = tags_count;
	*out = img;
	return 0;
}

int ecr__image_set_repository(ecr_image *img, const char *repository)
{
	char *name = ecr__strdup(repository);
	if (!name)
		return ECR_ENOMEM;
	ecr__free(img->repo_name);
	img->repo_name = name;
	return 0;
}

void ecr__image_set_manifest_size(ecr_image *img, uint64_t size)
{
	pthread_mutex_lock(&img->lock);
	if (size <= INT64_MAX)
		img->rec.manifest_size = (int64_t)size;
	pthread_mutex_unlock(&img->lock);
}

int ecr__image_new_remote(ecr_image **out, ecr_repository *repo, ecr__meta_image *rec, char **tags, size_t tags_count,
	ecr_buf *manifest)
{
	char *name = ecr__strdup(repo->name);
	if (!name)
		return ECR_ENOMEM;
	rec->repo_id = repo->id;
	int rc = ecr__image_new(out, repo->reg, rec, tags, tags_count);
	if (rc) {
		ecr__free(name);
		return rc;
	}
	(*out)->repo_name = name;
	if (manifest && manifest->ptr) {
		(*out)->manifest = *manifest;
		memset(manifest, 0, sizeof(*manifest));
		(*out)->manifest_loaded = true;
		(*out)->rec.manifest_size = (int64_t)(*out)->manifest.size;
	}
	return 0;
}

const ecr__meta_image *ecr__image_rec(const ecr_image *img)
{
	return &img->rec;
}

char **ecr__image_tags(const ecr_image *img)
{
	return img->tags;
}

int ecr__strvec_add(ecr__strvec *sv, const char *s)
{
	struct tag_vec tv = { sv->v, sv->n, sv->cap };
	int rc = tag_vec_add(s, NULL, &tv);
	sv->v = tv.v;
	sv->n = tv.n;
	sv->cap = tv.cap;
	return rc;
}

bool ecr__strvec_has(const ecr__strvec *sv, const char *s)
{
	for (size_t i = 0; sv && i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void ecr__strvec_dispose(ecr__strvec *sv)
{
	tags_free(sv->v, sv->n);
	memset(sv, 0, sizeof(*sv));
}

static int image_not_found(const ecr_repository *repo, const char *tag, const char *digest)
{
	if (tag)
		return ecr__fail(ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
			"The image with imageId {imageTag:'%s'} does not exist within the repository with name '%s' in the "
			"registry with id '%s'",
			tag, repo->name, repo->reg->account_id);
	return ecr__fail(ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
		"The image with imageId {imageDigest:'%s'} does not exist within the repository with name '%s' in the "
		"registry with id '%s'",
		digest, repo->name, repo->reg->account_id);
}

/* Layers that clients never upload (they carry URLs instead). */
static bool is_foreign_layer(const ecr__descriptor *d)
{
	return d->media_type && (strstr(d->media_type, "foreign") || strstr(d->media_type, "nondistributable"));
}

/* Check that every blob the manifest needs is in the repository; sum sizes (imageSizeInBytes). */
static int check_blobs(ecr__txn *t, const ecr_repository *repo, const ecr__manifest *m, int64_t *size_out)
{
	ecr_buf missing = ECR_BUF_INIT;
	int64_t total = 0, size = 0;
	int rc = 0;
	for (size_t i = 0; i < m->layers_count + (m->has_config ? 1 : 0); i++) {
		const ecr__descriptor *d = i < m->layers_count ? &m->layers[i] : &m->config;
		bool is_layer = i < m->layers_count;
		if (is_layer && is_foreign_layer(d)) {
			total += d->size;
			continue;
		}
		rc = ecr__meta_link_get(t, repo->id, d->digest, &size);
		if (rc == ECR_ENOTFOUND) {
			if ((rc = ecr__buf_printf(&missing, "%s%s", missing.size ? ", " : "", d->digest)))
				goto done;
			continue;
		}
		if (rc)
			goto done;
		if (size != d->size) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_IMAGE,
				"manifest: %s %s has size %lld but the stored blob has %lld bytes",
				is_layer ? "layer" : "config", d->digest, (long long)d->size, (long long)size);
			goto done;
		}
		/* A blob that only an archived image needed may be stored compressed: put its raw copy back. */
		if ((rc = ecr__archive_ensure_raw(repo->reg->store, t, d->digest)))
			goto done;
		if (is_layer)
			total += size;
	}
	if (missing.size) {
		rc = ecr__fail(ECR_ELAYERS_NOT_FOUND, ECR_ERROR_IMAGE,
			"Layers with digests [%s] required for pushing image into repository with name '%s' in registry "
			"with id '%s' do not exist",
			missing.ptr, repo->name, repo->reg->account_id);
		goto done;
	}
	*size_out = total;
done:
	ecr_buf_dispose(&missing);
	return rc;
}

/* Check that every child of an index is an image of the repository; imageSizeInBytes is the largest child's. */
static int check_children(ecr__txn *t, const ecr_repository *repo, const ecr__manifest *m, int64_t *size_out)
{
	ecr_buf missing = ECR_BUF_INIT;
	int64_t max = 0;
	int rc = 0;
	for (size_t i = 0; i < m->manifests_count; i++) {
		ecr__meta_image child;
		rc = ecr__meta_image_get(t, repo->id, m->manifests[i].digest, &child);
		if (rc == ECR_ENOTFOUND) {
			if ((rc = ecr__buf_printf(&missing, "%s%s", missing.size ? ", " : "", m->manifests[i].digest)))
				goto done;
			continue;
		}
		if (rc)
			goto done;
		if (child.image_size > max)
			max = child.image_size;
		ecr__meta_image_dispose(&child);
	}
	if (missing.size) {
		rc = ecr__fail(ECR_EREFERENCED_IMAGES_NOT_FOUND, ECR_ERROR_IMAGE,
			"Manifests with digests [%s] referenced by the image are not in the repository with name '%s' in "
			"registry with id '%s'",
			missing.ptr, repo->name, repo->reg->account_id);
		goto done;
	}
	*size_out = max;
done:
	ecr_buf_dispose(&missing);
	return rc;
}

static int insert_refs(ecr__txn *t, const ecr_repository *repo, const char *digest, const ecr__manifest *m)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < m->layers_count; i++)
		if (!is_foreign_layer(&m->layers[i]))
			rc = ecr__meta_ref_insert(t, repo->id, digest, m->layers[i].digest, ECR__REF_BLOB, m->layers[i].size);
	if (!rc && m->has_config)
		rc = ecr__meta_ref_insert(t, repo->id, digest, m->config.digest, ECR__REF_BLOB, m->config.size);
	for (size_t i = 0; !rc && i < m->manifests_count; i++)
		rc = ecr__meta_ref_insert(t, repo->id, digest, m->manifests[i].digest, ECR__REF_MANIFEST,
			m->manifests[i].size);
	return rc;
}

/* A manifest put with ECR__IMAGE_PUT_LAZY_BLOBS (cache_support.h): imageSizeInBytes from the manifest's layer sizes. */
static int lazy_size(const ecr__manifest *m, int64_t *size_out)
{
	int64_t total = 0;
	for (size_t i = 0; i < m->layers_count; i++) {
		if (m->layers[i].size < 0 || __builtin_add_overflow(total, m->layers[i].size, &total))
			return ecr__fail(ECR_EINVALID, ECR_ERROR_IMAGE, "manifest: layer sizes out of range");
	}
	*size_out = total;
	return 0;
}

/* An image handle for the record rec of an image just inserted (strings copied) with its one tag (or none). */
static int image_from_new(ecr_image **out, ecr_registry *reg, const ecr__meta_image *rec, const char *tag)
{
	struct tag_vec tv = { 0 };
	ecr__meta_image dup = *rec;
	int rc = 0;
	dup.digest = ecr__strdup(rec->digest);
	dup.media_type = ecr__strdup(rec->media_type);
	dup.artifact_type = rec->artifact_type ? ecr__strdup(rec->artifact_type) : NULL;
	dup.subject = rec->subject ? ecr__strdup(rec->subject) : NULL;
	if (!dup.digest || !dup.media_type || (rec->artifact_type && !dup.artifact_type) ||
		(rec->subject && !dup.subject))
		rc = ECR_ENOMEM;
	if (!rc && tag)
		rc = tag_vec_add(tag, NULL, &tv);
	if (!rc)
		rc = ecr__image_new(out, reg, &dup, tv.v, tv.n);
	if (rc) {
		ecr__meta_image_dispose(&dup);
		tags_free(tv.v, tv.n);
	}
	return rc;
}

int ecr_image_put(ecr_image **out, ecr_repository *repo, const char *tag, const char *digest, const char *media_type,
	const void *manifest, size_t len, uint32_t flags)
{
	return ecr__image_put(out, repo, tag, digest, media_type, manifest, len, flags & ~ECR__IMAGE_PUT_LAZY_BLOBS);
}

int ecr__image_put(ecr_image **out, ecr_repository *repo, const char *tag, const char *digest, const char *media_type,
	const void *manifest, size_t len, uint32_t flags)
{
	ecr_registry *reg = repo->reg;
	ecr__manifest *m = NULL;
	ecr__meta_image existing = { 0 }, rec = { 0 };
	ecr__digest_alg alg = ECR__DIGEST_SHA256;
	char computed[ECR__DIGEST_STRLEN_MAX];
	char *tagged = NULL;
	ecr__txn t = { 0 };
	bool locked = false, notify_scanner = false, tag_changed = false, pushed = false;
	size_t repl_queued = 0;
	int rc;

	if (out)
		*out = NULL;
	if (!manifest && len)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no manifest");
	if (tag && (rc = ecr__oci_validate_tag(tag)))
		return rc;
	if (digest && (rc = ecr__oci_validate_digest(digest, &alg)))
		return rc;
	/* 1. the manifest parses and its type is supported */
	if ((rc = ecr__manifest_parse(&m, manifest, len, media_type && *media_type ? media_type : NULL)))
		return rc;
	if (reg->remote) {
		ecr__manifest_free(m);
		return ecr__remote_image_put(out, repo, tag, digest, media_type, manifest, len, flags);
	}
	/* 2. the digest of the bytes as pushed */
	if ((rc = ecr__digest_buf(computed, sizeof(computed), alg, manifest, len)))
		goto done;
	if (digest && strcmp(digest, computed) != 0) {
		rc = ecr__fail(ECR_EIMAGE_DIGEST, ECR_ERROR_IMAGE,
			"The provided image digest '%s' does not match the calculated digest '%s' of the manifest", digest,
			computed);
		goto done;
	}

	/* 3. the manifest bytes go into the metadata store with the image record, in one transaction: durable with
	 * it at one group commit (schema 6; images pushed before keep their manifests in the blob store) */
	pthread_rwlock_rdlock(&reg->store->gc_lock);
	locked = true;
	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		goto done;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	/* 4. everything it references is in the repository */
	int64_t image_size = 0;
	if (ecr__oci_kind_is_index(m->kind))
		rc = check_children(&t, repo, m, &image_size);
	else if (flags & ECR__IMAGE_PUT_LAZY_BLOBS)
		rc = lazy_size(m, &image_size);
	else
		rc = check_blobs(&t, repo, m, &image_size);
	if (rc)
		goto done;

	rc = ecr__meta_image_get(&t, repo->id, computed, &existing);
	if (rc && rc != ECR_ENOTFOUND)
		goto done;
	bool image_exists = rc == 0;
	bool changes = !image_exists;
	/* Re-pushing the manifest of an archived image restores it (ECR). */
	bool restore = image_exists && existing.status != ECR_IMAGE_ACTIVE;
	if (restore)
		changes = true;

	/* 5. the tag */
	if (tag) {
		rc = ecr__meta_tag_get(&t, repo->id, tag, &tagged);
		if (rc && rc != ECR_ENOTFOUND)
			goto done;
		if (rc == 0 && strcmp(tagged, computed) != 0) {
			if (!ecr_repository_tag_is_mutable(repo, tag)) {
				rc = ecr__fail(ECR_EIMMUTABLE, ECR_ERROR_IMAGE,
					"The image tag '%s' already exists in the '%s' repository and cannot be overwritten "
					"because the repository is immutable.",
					tag, repo->name);
				goto done;
			}
			changes = tag_changed = true;
		} else if (rc == ECR_ENOTFOUND) {
			changes = tag_changed = true;
		}
	}
	if (!changes) {
		if (flags & ECR_IMAGE_PUT_EXCLUSIVE) {
			rc = ecr__fail(ECR_EIMAGE_EXISTS, ECR_ERROR_IMAGE,
				"Image with digest '%s'%s%s%s already exists in the repository with name '%s' in registry "
				"with id '%s'",
				computed, tag ? " and tag '" : "", tag ? tag : "", tag ? "'" : "", repo->name, reg->account_id);
			goto done;
		}
	} else {
		int64_t now = ecr_registry_now(reg);
		if (!image_exists) {
			rec.repo_id = repo->id;
			rec.digest = computed;
			rec.media_type = m->media_type;
			rec.artifact_type = (char *)ecr__manifest_artifact_type(m);
			rec.subject = m->has_subject ? m->subject.digest : NULL;
			rec.manifest_size = (int64_t)len;
			rec.image_size = image_size;
			rec.pushed_at = now;
			if ((rc = ecr__meta_image_insert(&t, &rec)) || (rc = insert_refs(&t, repo, computed, m)) ||
				(rc = ecr__meta_manifest_put(&t, repo->id, computed, manifest, len)))
				goto done;
		}
		if (tag && (rc = ecr__meta_tag_set(&t, repo->id, tag, computed, now)))
			goto done;
		/* a new image, or a tag added or moved: queued for replication in this transaction (replication_queue.h) */
		if ((!image_exists || tag_changed) &&
			(rc = ecr__repl_enqueue_in(&t, reg, repo, computed, tag_changed ? tag : NULL, flags, &repl_queued)))
			goto done;
	}
	if (out) {
		ecr__meta_image loaded;
		/* a new image is the record just inserted, with at most the tag just set: no query (this runs in the
		 * write transaction, which every push of the store waits for) */
		if (!image_exists)
			rc = image_from_new(out, reg, &rec, tag);
		else if (!(rc = ecr__meta_image_get(&t, repo->id, computed, &loaded)) &&
			(rc = image_build(out, &t, reg, &loaded)))
			ecr__meta_image_dispose(&loaded);
		if (rc)
			goto done;
		/* the bytes of this digest, as stored */
		if ((rc = ecr__buf_put(&(*out)->manifest, manifest, len)))
			goto done;
		(*out)->manifest_loaded = true;
	}
	if ((rc = ecr__txn_commit(&t)))
		goto done;
	if (changes)
		ecr__log(&reg->log, ECR_LOG_INFO, "pushed %s@%s%s%s", repo->name, computed, tag ? " as " : "",
			tag ? tag : "");
	notify_scanner = !image_exists;
	pushed = changes;
	if (restore) {
		pthread_rwlock_unlock(&reg->store->gc_lock);
		locked = false;
		rc = ecr__image_set_storage_class(repo, computed, ECR_STORAGE_CLASS_STANDARD, NULL);
		if (rc == ECR_ESTORAGE_CLASS_UPDATE) { /* restored meanwhile by another thread */
			ecr__error_clear();
			rc = 0;
		}
		if (!rc && out) {
			ecr_image_free(*out);
			*out = NULL;
			rc = ecr_image_get(out, repo, computed, ECR_IMAGE_GET_ANY_STATUS);
		}
	}
done:
	ecr__txn_rollback(&t);
	if (locked)
		pthread_rwlock_unlock(&reg->store->gc_lock);
	if (rc && out && *out) {
		ecr_image_free(*out);
		*out = NULL;
	}
	ecr__meta_image_dispose(&existing);
	ecr__free(tagged);
	ecr__manifest_free(m);
	if (!rc)
		ecr__usage_count(reg, repo->name, ECR__USAGE_IMAGE_PUSH, len); /* metering: a manifest received */
	if (!rc && repl_queued) {
		/* set and cleared by ecr_replicator_attach/_detach on other threads */
		void (*wake)(void *) = __atomic_load_n(&reg->repl_wake, __ATOMIC_ACQUIRE);
		if (wake)
			wake(__atomic_load_n(&reg->replicator, __ATOMIC_ACQUIRE));
	}
	if (!rc && notify_scanner) {
		/* set and cleared by ecr_scanner_attach/_detach on other threads */
		ecr__push_hook hook = __atomic_load_n(&reg->push_hook, __ATOMIC_ACQUIRE);
		if (hook)
			hook(__atomic_load_n(&reg->scanner, __ATOMIC_ACQUIRE), repo, computed);
	}
	if (!rc && pushed) { /* events.c: after the commit, no lock held; an identical re-push raises nothing */
		ecr_event ev = { .type = ECR_EVENT_IMAGE_PUSH, .repository = repo->name, .digest = computed, .tag = tag };
		ecr__event_emit(reg, &ev);
	}
	return rc;
}

/* Resolve a tag or digest to an image record inside t. */
static int resolve(ecr__txn *t, ecr_repository *repo, const char *reference, ecr__meta_image *rec)
{
	char *digest = NULL;
	int rc;
	bool by_digest = ecr__oci_is_digest(reference);
	if (by_digest) {
		if ((rc = ecr__oci_validate_digest(reference, NULL)))
			return rc;
	} else {
		if ((rc = ecr__oci_validate_tag(reference)))
			return rc;
		rc = ecr__meta_tag_get(t, repo->id, reference, &digest);
		if (rc == ECR_ENOTFOUND)
			return image_not_found(repo, reference, NULL);
		if (rc)
			return rc;
	}
	rc = ecr__meta_image_get(t, repo->id, by_digest ? reference : digest, rec);
	if (rc == ECR_ENOTFOUND)
		rc = image_not_found(repo, by_digest ? NULL : reference, by_digest ? reference : NULL);
	ecr__free(digest);
	return rc;
}

/* lastRecordedPullTime of an image, in its own write transaction. A failure is logged, not returned. */
static int record_pull(ecr_repository *repo, const char *digest, int64_t now)
{
	ecr__txn t = { 0 };
	int rc;

	if (!(rc = ecr__txn_begin(&t, repo->reg->store->meta, true)) &&
		!(rc = ecr__meta_image_touch_pull(&t, repo->id, digest, now)))
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	if (rc) {
		ecr__log(&repo->reg->log, ECR_LOG_WARN, "cannot record the pull of %s@%s (served anyway): %s", repo->name,
			digest, ecr_error_last()->message);
		ecr_error_clear();
	}
	return rc;
}

int ecr_image_get(ecr_image **out, ecr_repository *repo, const char *reference, uint32_t flags)
{
	ecr_registry *reg = repo->reg;
	ecr__meta_image rec = { 0 };
	ecr__txn t = { 0 };
	int rc;

	*out = NULL;
	if (!reference)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no image reference");
	if (reg->remote)
		return ecr__remote_image_get(out, repo, reference, flags);
	int64_t now = ecr_registry_now(reg);
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)) || (rc = resolve(&t, repo, reference, &rec)))
		goto done;
	if (rec.status != ECR_IMAGE_ACTIVE && !(flags & ECR_IMAGE_GET_ANY_STATUS)) {
		bool by_digest = ecr__oci_is_digest(reference);
		rc = ecr__fail(ECR_EIMAGE_ARCHIVED, ECR_ERROR_IMAGE,
			"The image with imageId {%s:'%s'} is %s within the repository with name '%s' in the registry with "
			"id '%s'; restore it with UpdateImageStorageClass (targetStorageClass STANDARD) first",
			by_digest ? "imageDigest" : "imageTag", reference,
			rec.status == ECR_IMAGE_ACTIVATING ? "being restored from the archive" : "archived", repo->name,
			reg->account_id);
		goto done;
	}
	if ((flags & ECR_IMAGE_GET_RECORD_PULL) && now - rec.last_pulled_at >= PULL_RECORD_INTERVAL_MS) {
		/* A write transaction only when the record is stale, and on its own: recording the pull is best
		 * effort, the image is served even when the metadata store cannot be written (disk full, I/O). */
		ecr__txn_rollback(&t);
		if (record_pull(repo, rec.digest, now) == 0)
			rec.last_pulled_at = now;
		if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
			goto done;
	}
	if ((rc = image_build(out, &t, reg, &rec)))
		goto done;
	/* A GET (it records the pull) serves the manifest next: read it in this transaction (a HEAD does not). */
	if ((flags & ECR_IMAGE_GET_RECORD_PULL) && (rc = manifest_load_local(*out, &t)) == ECR_ENOTFOUND)
		rc = 0; /* pushed before schema 6: read from the blob store when asked for */
	if (rc || (rc = ecr__txn_commit(&t))) {
		ecr_image_free(*out);
		*out = NULL;
	}
done:
	ecr__txn_rollback(&t);
	if (!rc && (flags & ECR_IMAGE_GET_RECORD_PULL)) /* metering: a manifest served (GET, not HEAD) */
		ecr__usage_count(reg, repo->name, ECR__USAGE_IMAGE_PULL, ecr_image_manifest_size(*out));
	ecr__meta_image_dispose(&rec);
	return rc;
}

const char *ecr_image_digest(const ecr_image *img) { return img->rec.digest; }
const char *ecr_image_media_type(const ecr_image *img) { return img->rec.media_type; }
const char *ecr_image_artifact_type(const ecr_image *img) { return img->rec.artifact_type; }
const char *ecr_image_subject(const ecr_image *img) { return img->rec.subject; }
uint64_t ecr_image_manifest_size(const ecr_image *img)
{
	if (!img->reg->remote)
		return (uint64_t)img->rec.manifest_size;
	/* A remote image's record may not say: ask the registry once (HEAD), keeping the caller's error state. */
	ecr_image *m = (ecr_image *)img;
	int64_t size;
	pthread_mutex_lock(&m->lock);
	if (m->rec.manifest_size < 0 && m->manifest_loaded)
		m->rec.manifest_size = (int64_t)m->manifest.size;
	if (m->rec.manifest_size < 0 && m->repo_name) {
		ecr__error_saved saved;
		uint64_t got = 0;
		ecr__error_save(&saved);
		if (ecr__remote_manifest_size(&got, m->reg, m->repo_name, m->rec.digest) == 0 && got <= INT64_MAX)
			m->rec.manifest_size = (int64_t)got;
		ecr__error_restore(&saved);
	}
	size = m->rec.manifest_size;
	pthread_mutex_unlock(&m->lock);
	return size < 0 ? 0 : (uint64_t)size;
}
uint64_t ecr_image_size(const ecr_image *img) { return (uint64_t)img->rec.image_size; }
int64_t ecr_image_pushed_at(const ecr_image *img) { return img->rec.pushed_at; }
int64_t ecr_image_last_pulled_at(const ecr_image *img) { return img->rec.last_pulled_at; }
ecr_storage_class ecr_image_storage_class(const ecr_image *img)
{
	return img->rec.storage_class == ECR_STORAGE_CLASS_ARCHIVE ? ECR_STORAGE_CLASS_ARCHIVE : ECR_STORAGE_CLASS_STANDARD;
}
ecr_image_status ecr_image_status_of(const ecr_image *img)
{
	switch (img->rec.status) {
	case ECR_IMAGE_ARCHIVED:
		return ECR_IMAGE_ARCHIVED;
	case ECR_IMAGE_ACTIVATING:
		return ECR_IMAGE_ACTIVATING;
	default:
		return ECR_IMAGE_ACTIVE;
	}
}
int64_t ecr_image_last_archived_at(const ecr_image *img) { return img->rec.last_archived_at; }
int64_t ecr_image_last_activated_at(const ecr_image *img) { return img->rec.last_activated_at; }
size_t ecr_image_tag_count(const ecr_image *img) { return img->tags_count; }
const char *ecr_image_tag(const ecr_image *img, size_t i) { return i < img->tags_count ? img->tags[i] : NULL; }

/* Load a local image's manifest (img->lock held, or img not shared yet): from the metadata store, in t or (t
 * NULL) a read transaction of its own, else from the blob store (images pushed before schema 6). With t, a
 * manifest not in the metadata store is left for a later call (no blob store read inside a transaction):
 * ECR_ENOTFOUND, no error set. */
static int manifest_load_local(ecr_image *img, ecr__txn *t)
{
	ecr__txn own = { 0 };
	bool in_txn = t != NULL;
	int rc = 0;
	if (!t) {
		if ((rc = ecr__txn_begin(&own, img->reg->store->meta, false)))
			return rc;
		t = &own;
	}
	rc = ecr__meta_manifest_get(t, img->rec.repo_id, img->rec.digest, &img->manifest);
	if (rc == ECR_ENOTFOUND && !in_txn) {
		/* No row: an image pushed before schema 6 (its manifest is in the blob store), or one deleted since this
		 * handle was taken (its row went with it). */
		ecr__meta_image still = { 0 };
		int irc = ecr__meta_image_get(t, img->rec.repo_id, img->rec.digest, &still);
		ecr__meta_image_dispose(&still);
		if (irc == ECR_ENOTFOUND)
			rc = ecr__fail(ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
				"The image with imageId {imageDigest:'%s'} does not exist: it was deleted after it was looked up",
				img->rec.digest);
		else if (irc)
			rc = irc;
	}
	ecr__txn_rollback(&own);
	if (rc == ECR_ENOTFOUND && !in_txn)
		rc = ecr__blob_store_get(img->reg->store, img->rec.digest, ECR_MANIFEST_MAX_SIZE, &img->manifest);
	if (!rc && img->manifest.size != (size_t)img->rec.manifest_size)
		rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "manifest %s: stored %zu bytes, expected %lld",
			img->rec.digest, img->manifest.size, (long long)img->rec.manifest_size);
	if (!rc && !img->manifest.ptr)
		rc = ecr__buf_grow(&img->manifest, 0);
	if (rc)
		ecr_buf_dispose(&img->manifest);
	else
		img->manifest_loaded = true;
	return rc;
}

int ecr_image_manifest(const void **out, size_t *len_out, ecr_image *img)
{
	int rc = 0;
	pthread_mutex_lock(&img->lock);
	if (!img->manifest_loaded && img->reg->remote) {
		if (!img->repo_name)
			rc = ecr__remote_unsupported(img->reg, "the manifest of this image", "its repository is unknown");
		else
			rc = ecr__remote_manifest_fetch(&img->manifest, img->reg, img->repo_name, img->rec.digest);
		if (!rc && !img->manifest.ptr)
			rc = ecr__buf_grow(&img->manifest, 0);
		if (rc) {
			ecr_buf_dispose(&img->manifest);
		} else {
			img->manifest_loaded = true;
			img->rec.manifest_size = (int64_t)img->manifest.size;
		}
	} else if (!img->manifest_loaded) {
		rc = manifest_load_local(img, NULL);
	}
	pthread_mutex_unlock(&img->lock);
	if (rc)
		return rc;
	*out = img->manifest.ptr;
	*len_out = img->manifest.size;
	return 0;
}

static int digest_vec_add(const ecr__meta_image *img, void *payload)
{
	return tag_vec_add(img->digest, NULL, payload);
}

/* Delete an image and, transitively, its referrers. */
static int delete_with_referrers(ecr__txn *t, ecr_repository *repo, const char *digest, ecr__strvec *deleted)
{
	struct tag_vec queue = { 0 };
	int rc = tag_vec_add(digest, NULL, &queue);
	for (size_t i = 0; !rc && i < queue.n; i++) {
		const char *d = queue.v[i];
		if ((rc = ecr__meta_image_list(t, repo->id, NULL, ECR_TAG_STATUS_ANY, 0, d, NULL, SIZE_MAX >> 2,
			     digest_vec_add, &queue)))
			break;
		if (deleted && !ecr__strvec_has(deleted, d) && (rc = ecr__strvec_add(deleted, d)))
			break;
		rc = ecr__meta_image_delete(t, repo->id, d);
		if (rc == ECR_ENOTFOUND && i > 0)
			rc = 0; /* a referrer reached twice */
		if (queue.n > 100000)
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_IMAGE, "too many referrers below %s", digest);
	}
	tags_free(queue.v, queue.n);
	return rc;
}

int ecr__image_delete_in(ecr__txn *t, ecr_repository *repo, const char *digest, ecr__strvec *deleted)
{
	ecr__meta_image rec = { 0 };
	int64_t parents = 0;
	int rc = ecr__meta_image_get(t, repo->id, digest, &rec);
	if (rc == ECR_ENOTFOUND)
		rc = image_not_found(repo, NULL, digest);
	if (rc)
		goto done;
	if ((rc = ecr__meta_ref_parent_count(t, repo->id, digest, ECR__REF_MANIFEST, &parents)))
		goto done;
	if (parents > 0) {
		rc = ecr__fail(ECR_EIMAGE_REFERENCED, ECR_ERROR_IMAGE,
			"The image %s is referenced by a manifest list or index in the repository '%s'", digest,
			repo->name);
		goto done;
	}
	rc = delete_with_referrers(t, repo, digest, deleted);
done:
	ecr__meta_image_dispose(&rec);
	return rc;
}

/* After a delete committed: one DELETE event per image deleted (the image's tags as they were: tags). */
static void raise_deleted(ecr_repository *repo, const ecr__strvec *deleted, const char *digest,
	const struct tag_vec *tags, const char *tag)
{
	for (size_t i = 0; i < deleted->n; i++) {
		bool main = strcmp(deleted->v[i], digest) == 0;
		ecr_event ev = { .type = ECR_EVENT_IMAGE_DELETE, .repository = repo->name, .digest = deleted->v[i] };
		if (main) {
			ev.tag = tag;
			ev.tags = (const char *const *)tags->v;
			ev.tags_count = tags->n;
		}
		ecr__event_emit(repo->reg, &ev);
	}
}

int ecr_image_delete(ecr_repository *repo, const char *digest)
{
	ecr__meta_image rec = { 0 };
	ecr__txn t = { 0 };
	ecr__strvec deleted = { 0 };
	struct tag_vec tags = { 0 };
	int rc;

	if (!digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no digest");
	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	if (repo->reg->remote)
		return ecr__remote_image_delete(repo, digest);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	if (repo->reg->event_cb && (rc = ecr__meta_tags_of_image(&t, repo->id, digest, tag_vec_add, &tags)))
		goto done;
	if ((rc = ecr__image_delete_in(&t, repo, digest, &deleted)))
		goto done;
	rc = ecr__txn_commit(&t);
	if (!rc)
		ecr__log(&repo->reg->log, ECR_LOG_INFO, "deleted %s@%s", repo->name, digest);
done:
	ecr__txn_rollback(&t);
	if (!rc)
		raise_deleted(repo, &deleted, digest, &tags, NULL);
	ecr__strvec_dispose(&deleted);
	tags_free(tags.v, tags.n);
	ecr__meta_image_dispose(&rec);
	return rc;
}

int ecr_image_untag(ecr_buf *digest_out, ecr_repository *repo, const char *tag, uint32_t flags)
{
	ecr__txn t = { 0 };
	char *digest = NULL;
	struct tag_vec left = { 0 };
	ecr__strvec deleted = { 0 };
	int64_t parents = 0;
	int rc;

	if (!tag)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no tag");
	if ((rc = ecr__oci_validate_tag(tag)))
		return rc;
	if (repo->reg->remote)
		return ecr__remote_image_untag(digest_out, repo, tag, flags);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)))
		return rc;
	if ((rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_tag_get(&t, repo->id, tag, &digest);
	if (rc == ECR_ENOTFOUND)
		rc = image_not_found(repo, tag, NULL);
	if (rc || (rc = ecr__meta_tag_delete(&t, repo->id, tag)))
		goto done;
	if (flags & ECR_UNTAG_DELETE_UNTAGGED) {
		if ((rc = ecr__meta_tags_of_image(&t, repo->id, digest, tag_vec_add, &left)) ||
			(rc = ecr__meta_ref_parent_count(&t, repo->id, digest, ECR__REF_MANIFEST, &parents)))
			goto done;
		if (left.n == 0 && parents == 0 && (rc = delete_with_referrers(&t, repo, digest, &deleted)))
			goto done;
	}
	if ((rc = ecr__txn_commit(&t)))
		goto done;
	if (digest_out)
		rc = ecr__buf_puts(digest_out, digest);
	if (!deleted.n) /* only the tag went: one DELETE event naming it */
		rc = rc ? rc : ecr__strvec_add(&deleted, digest);
done:
	ecr__txn_rollback(&t);
	if (!rc) {
		struct tag_vec none = { 0 };
		raise_deleted(repo, &deleted, digest, &none, tag);
	}
	ecr__strvec_dispose(&deleted);
	tags_free(left.v, left.n);
	ecr__free(digest);
	return rc;
}

int ecr_image_list_options_init(ecr_image_list_options *opts, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_IMAGE_LIST_OPTIONS_VERSION, "ecr_image_list_options");
	if (rc)
		return rc;
	/* A caller built against version 1 has a smaller struct: clear only what it has. */
	memset(opts, 0, version >= 2 ? sizeof(*opts) : offsetof(ecr_image_list_options, status_mask));
	opts->version = version;
	return 0;
}

struct ecr_image_iterator {
	ecr_repository *repo;
	ecr_tag_status status;
	uint32_t status_mask;
	char *subject, *artifact_type;
	ecr_image **page;
	size_t count, pos;
	ecr_image *current;
	char *last;
	bool done;
	ecr__txn *t; /* during a page load */
	ecr__remote_image_list *remote; /* a remote repository's listing, made at the first next() */
};

static int image_page_collect(const ecr__meta_image *img, void *payload)
{
	ecr_image_iterator *it = payload;
	/* image_build takes ownership of the strings: duplicate them first */
	ecr__meta_image dup = *img;
	dup.digest = ecr__strdup(img->digest);
	dup.media_type = ecr__strdup(img->media_type);
	dup.artifact_type = img->artifact_type ? ecr__strdup(img->artifact_type) : NULL;
	dup.subject = img->subject ? ecr__strdup(img->subject) : NULL;
	if (!dup.digest || !dup.media_type || (img->artifact_type && !dup.artifact_type) || (img->subject && !dup.subject)) {
		ecr__meta_image_dispose(&dup);
		return ECR_ENOMEM;
	}
	int rc = image_build(&it->page[it->count], it->t, it->repo->reg, &dup);
	ecr__meta_image_dispose(&dup);
	if (!rc)
		it->count++;
	return rc;
}

int ecr_image_iterator_new(ecr_image_iterator **out, ecr_repository *repo, const ecr_image_list_options *opts)
{
	ecr_image_list_options defaults = ECR_IMAGE_LIST_OPTIONS_INIT;
	ecr_image_iterator *it = NULL;
	int rc;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if ((rc = ecr__check_version(opts->version, ECR_IMAGE_LIST_OPTIONS_VERSION, "ecr_image_list_options")))
		return rc;
	if ((unsigned)opts->tag_status > ECR_TAG_STATUS_UNTAGGED)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid tag status %d", (int)opts->tag_status);
	if (opts->subject && (rc = ecr__oci_validate_digest(opts->subject, NULL)))
		return rc;
	if (opts->version >= 2 && (opts->status_mask & ~7u))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid image status mask 0x%x",
			(unsigned)opts->status_mask);
	if (!(it = ecr__calloc(1, sizeof(*it))) || !(it->page = ecr__calloc(PAGE_SIZE, sizeof(*it->page)))) {
		rc = ECR_ENOMEM;
		goto fail;
	}
	it->repo = repo;
	it->status = opts->tag_status;
	it->status_mask = opts->version >= 2 ? opts->status_mask : 0;
	if ((opts->subject && !(it->subject = ecr__strdup(opts->subject))) ||
		(opts->artifact_type && !(it->artifact_type = ecr__strdup(opts->artifact_type)))) {
		rc = ECR_ENOMEM;
		goto fail;
	}
	if (opts->start_token && *opts->start_token && (rc = ecr__token_decode(&it->last, 'd', opts->start_token)))
		goto fail;
	*out = it;
	return 0;
fail:
	ecr_image_iterator_free(it);
	return rc;
}

static int remote_iterator_next(ecr_image **out, ecr_image_iterator *it);

int ecr_image_iterator_next(ecr_image **out, ecr_image_iterator *it)
{
	int rc;
	*out = NULL;
	ecr_image_free(it->current);
	it->current = NULL;
	if (it->repo->reg->remote)
		return remote_iterator_next(out, it);
	if (it->pos == it->count) {
		for (size_t i = 0; i < it->count; i++)
			ecr_image_free(it->page[i]);
		it->count = it->pos = 0;
		if (it->done)
			return ECR_ITEROVER;
		ecr__txn t;
		if ((rc = ecr__txn_begin(&t, it->repo->reg->store->meta, false)))
			return rc;
		it->t = &t;
		rc = ecr__repository_check(&t, it->repo);
		if (!rc)
			rc = ecr__meta_image_list(&t, it->repo->id, it->last, it->status, it->status_mask, it->subject,
				it->artifact_type,
				PAGE_SIZE, image_page_collect, it);
		it->t = NULL;
		ecr__txn_rollback(&t);
		if (rc)
			return rc;
		if (it->count < PAGE_SIZE)
			it->done = true;
		if (it->count == 0)
			return ECR_ITEROVER;
	}
	ecr_image *img = it->page[it->pos];
	char *last = ecr__strdup(img->rec.digest);
	if (!last)
		return ECR_ENOMEM;
	it->page[it->pos++] = NULL;
	ecr__free(it->last);
	it->last = last;
	it->current = img;
	*out = img;
	return 0;
}

static int remote_iterator_next(ecr_image **out, ecr_image_iterator *it)
{
	ecr_image *img = NULL;
	char *last;
	int rc;
	if (it->done)
		return ECR_ITEROVER;
	if (!it->remote && (rc = ecr__remote_image_list_new(&it->remote, it->repo, it->status, it->status_mask,
				    it->subject, it->artifact_type, it->last)))
		return rc;
	if ((rc = ecr__remote_image_list_next(&img, it->remote))) {
		if (rc == ECR_ITEROVER)
			it->done = true;
		return rc;
	}
	if (!(last = ecr__strdup(img->rec.digest))) {
		ecr_image_free(img);
		return ECR_ENOMEM;
	}
	ecr__free(it->last);
	it->last = last;
	it->current = img;
	*out = img;
	return 0;
}

int ecr_image_iterator_token(ecr_buf *out, ecr_image_iterator *it)
{
	if (!it->last)
		return ecr__buf_grow(out, 0);
	return ecr__token_encode(out, 'd', it->last);
}

void ecr_image_iterator_free(ecr_image_iterator *it)
{
	if (!it)
		return;
	if (it->page)
		for (size_t i = it->pos; i < it->count; i++)
			ecr_image_free(it->page[i]);
	ecr_image_free(it->current);
	ecr__remote_image_list_free(it->remote);
	ecr__free(it->page);
	ecr__free(it->subject);
	ecr__free(it->artifact_type);
	ecr__free(it->last);
	ecr__free(it);
}

struct ecr_tag_iterator {
	ecr_repository *repo;
	char **tags, **digests; /* the current page (remote: every tag, collected at the first next()) */
	size_t count, pos;
	char *last;
	bool done;
};

static int remote_tags_load(ecr_tag_iterator *it)
{
	char **tags = NULL, **digests = NULL;
	size_t n = 0;
	int rc = ecr__remote_tags_collect(&tags, &digests, &n, it->repo, it->last);
	if (rc)
		return rc;
	ecr__free(it->tags);
	ecr__free(it->digests);
	it->tags = tags;
	it->digests = digests;
	it->count = n;
	it->pos = 0;
	it->done = true;
	return 0;
}

static int tag_page_collect(const char *tag, const char *digest, void *payload)
{
	ecr_tag_iterator *it = payload;
	if (!(it->tags[it->count] = ecr__strdup(tag)))
		return ECR_ENOMEM;
	if (!(it->digests[it->count] = ecr__strdup(digest))) {
		ecr__free(it->tags[it->count]);
		it->tags[it->count] = NULL;
		return ECR_ENOMEM;
	}
	it->count++;
	return 0;
}

static void tag_page_clear(ecr_tag_iterator *it)
{
	for (size_t i = 0; i < it->count; i++) {
		ecr__free(it->tags[i]);
		ecr__free(it->digests[i]);
	}
	it->count = it->pos = 0;
}

int ecr_tag_iterator_new(ecr_tag_iterator **out, ecr_repository *repo, const char *after)
{
	ecr_tag_iterator *it;
	*out = NULL;
	if (!(it = ecr__calloc(1, sizeof(*it))) || !(it->tags = ecr__calloc(PAGE_SIZE, sizeof(char *))) ||
		!(it->digests = ecr__calloc(PAGE_SIZE, sizeof(char *))) || (after && !(it->last = ecr__strdup(after)))) {
		ecr_tag_iterator_free(it);
		return ECR_ENOMEM;
	}
	it->repo = repo;
	*out = it;
	return 0;
}

int ecr_tag_iterator_next(const char **tag_out, const char **digest_out, ecr_tag_iterator *it)
{
	int rc;
	*tag_out = NULL;
	if (digest_out)
		*digest_out = NULL;
	if (it->pos == it->count) {
		/* keep the last tag returned alive as it->last before clearing */
		tag_page_clear(it);
		if (it->done)
			return ECR_ITEROVER;
		if (it->repo->reg->remote) {
			if ((rc = remote_tags_load(it)))
				return rc;
			if (it->count == 0)
				return ECR_ITEROVER;
			goto have;
		}
		ecr__txn t;
		if ((rc = ecr__txn_begin(&t, it->repo->reg->store->meta, false)))
			return rc;
		rc = ecr__repository_check(&t, it->repo);
		if (!rc)
			rc = ecr__meta_tag_list(&t, it->repo->id, it->last, PAGE_SIZE, tag_page_collect, it);
		ecr__txn_rollback(&t);
		if (rc) {
			tag_page_clear(it);
			return rc;
		}
		if (it->count < PAGE_SIZE)
			it->done = true;
		if (it->count == 0)
			return ECR_ITEROVER;
	}
have:;
	size_t i = it->pos++;
	char *last = ecr__strdup(it->tags[i]);
	if (!last)
		return ECR_ENOMEM;
	ecr__free(it->last);
	it->last = last;
	*tag_out = it->tags[i];
	if (digest_out)
		*digest_out = it->digests[i];
	return 0;
}

void ecr_tag_iterator_free(ecr_tag_iterator *it)
{
	if (!it)
		return;
	if (it->tags && it->digests)
		tag_page_clear(it);
	ecr__free(it->tags);
	ecr__free(it->digests);
	ecr__free(it->last);
	ecr__free(it);
}
