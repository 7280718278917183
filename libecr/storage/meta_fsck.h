/* The queries of the consistency check (libecr/engine/fsck.c), in meta_fsck.c. Every query takes a registry id,
 * or 0 for every registry of the store. Text columns are borrowed for the duration of the callback. */
#ifndef ECR_STORAGE_META_FSCK_H
#define ECR_STORAGE_META_FSCK_H

#include "meta.h"

/* cb(id, account, region) for every registry, by id (or only registry_id). */
typedef int (*ecr__meta_fsck_registry_cb)(int64_t id, const char *account, const char *region, void *payload);
int ecr__meta_fsck_registries(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_registry_cb cb, void *payload);

/* Numbers of repositories, images and tags of a registry. */
int ecr__meta_fsck_counts(ecr__txn *t, int64_t registry_id, int64_t *repos, int64_t *images, int64_t *tags);

/* A problem row: repository name, then two texts (what each query says). */
typedef int (*ecr__meta_fsck_row_cb)(const char *repository, const char *a, const char *b, void *payload);
/* Tags whose image is not in their repository: cb(repository, tag, digest). */
int ecr__meta_fsck_dangling_tags(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_row_cb cb, void *payload);
/* Index children that are not images of the repository: cb(repository, parent, child). */
int ecr__meta_fsck_missing_children(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_row_cb cb, void *payload);
/* Configs and layers of images that are not linked to the repository (pull-through cache repositories, whose
 * blobs come lazily, left out): cb(repository, parent, child). */
int ecr__meta_fsck_unlinked_refs(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_row_cb cb, void *payload);

/* Every distinct blob the metadata needs (image manifests in the blob store, linked configs and layers, blob
 * links), by digest:
 * the smallest and largest size recorded, whether an ACTIVE image needs it (then its raw copy must be present)
 * and a repository that needs it. */
typedef struct ecr__meta_fsck_blob {
	const char *digest;
	int64_t size_min, size_max;
	bool active;
	const char *repository;
} ecr__meta_fsck_blob;
typedef int (*ecr__meta_fsck_blob_cb)(const ecr__meta_fsck_blob *b, void *payload);
int ecr__meta_fsck_blobs(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_blob_cb cb, void *payload);

/* Every manifest stored in the metadata store (schema 6) of the registry's images, by repository and digest:
 * the size the image records and the stored bytes (borrowed for the callback). Images without a row (pushed
 * before) have their manifests in the blob store, and ecr__meta_fsck_blobs lists those. */
typedef struct ecr__meta_fsck_manifest {
	const char *repository;
	const char *digest;
	int64_t size;
	const char *body;
	size_t len;
} ecr__meta_fsck_manifest;
typedef int (*ecr__meta_fsck_manifest_cb)(const ecr__meta_fsck_manifest *m, void *payload);
int ecr__meta_fsck_manifests(ecr__txn *t, int64_t registry_id, ecr__meta_fsck_manifest_cb cb, void *payload);

/* cb(digest) for every digest the store's metadata references in any way (the blobs above for every registry,
 * archived blobs' raw and compressed digests), in no particular order. */
typedef int (*ecr__meta_fsck_digest_cb)(const char *digest, void *payload);
int ecr__meta_fsck_referenced(ecr__txn *t, ecr__meta_fsck_digest_cb cb, void *payload);
/* cb(row) for every archived blob row of the store, by digest. */
int ecr__meta_fsck_archived(ecr__txn *t, ecr__meta_archived_blob_cb cb, void *payload);
/* cb(id) for every upload session of the store. */
int ecr__meta_fsck_uploads(ecr__txn *t, ecr__meta_fsck_digest_cb cb, void *payload);

#endif
