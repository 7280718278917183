/**
 * @file ecr/image.h
 * @brief Images: put, get, delete, tags, listing, referrers.
 * @defgroup ecr_image Images
 *
 * An image is one manifest in a repository, addressed by its digest (SHA-256
 * of the bytes as pushed; they are stored unchanged), with zero or more tags.
 *
 * THREAD SAFETY: an ecr_image is immutable once returned and may be read from
 * any thread; iterators are used by one thread at a time.
 * @{
 */
#ifndef ECR_IMAGE_H
#define ECR_IMAGE_H

#include "common.h"
#include "buffer.h"
#include "repository.h"

ECR_BEGIN_DECL

typedef struct ecr_image ecr_image;

/** Storage class, as ECR's (lifecycle transitions and UpdateImageStorageClass). */
typedef enum ecr_storage_class {
	ECR_STORAGE_CLASS_STANDARD = 0,
	ECR_STORAGE_CLASS_ARCHIVE = 1
} ecr_storage_class;

/** imageStatus, as ECR's. */
typedef enum ecr_image_status {
	ECR_IMAGE_ACTIVE = 0,
	ECR_IMAGE_ARCHIVED = 1,  /**< not pullable until restored */
	ECR_IMAGE_ACTIVATING = 2 /**< being restored */
} ecr_image_status;
typedef struct ecr_image_iterator ecr_image_iterator;
typedef struct ecr_tag_iterator ecr_tag_iterator;

/** Largest manifest accepted (ECR's 4 MiB). */
#define ECR_MANIFEST_MAX_SIZE 4194304

/** Flag for ecr_image_put(): fail with ECR_EIMAGE_EXISTS when nothing would change (ECR PutImage). */
#define ECR_IMAGE_PUT_EXCLUSIVE 1u
/**
 * Flag for ecr_image_put(): the image arrives by replication (ecr/replication.h):
 * it is not queued for replication again. Ignored by remote registries.
 */
#define ECR_IMAGE_PUT_REPLICA 2u

/**
 * Put a manifest into a repository.
 * Checks, in ECR's order: the manifest parses and its type is supported;
 * digest (if given) matches; every blob it references is in the repository
 * and, for an index, every child manifest is an image there; then the tag.
 * @param out receives the image (free with ecr_image_free()), or NULL.
 * @param tag tag to set, or NULL.
 * @param digest expected digest, or NULL.
 * @param media_type the Content-Type; NULL or "" to take it from the
 *        manifest's mediaType.
 * @param flags 0 or ECR_IMAGE_PUT_EXCLUSIVE.
 * @return 0; ECR_EINVALID (bad tag, JSON or schema); ECR_EUNSUPPORTED;
 *         ECR_ELIMIT (too large); ECR_EIMAGE_DIGEST; ECR_ELAYERS_NOT_FOUND;
 *         ECR_EREFERENCED_IMAGES_NOT_FOUND; ECR_EIMMUTABLE;
 *         ECR_EIMAGE_EXISTS (with ECR_IMAGE_PUT_EXCLUSIVE); ECR_EIO.
 */
ECR_EXTERN(int) ecr_image_put(ecr_image **out, ecr_repository *repo, const char *tag, const char *digest,
	const char *media_type, const void *manifest, size_t len, uint32_t flags);

/** Flag for ecr_image_get(): record a pull (lastRecordedPullTime). */
#define ECR_IMAGE_GET_RECORD_PULL 1u
/** Flag for ecr_image_get(): also return an image that is archived or being restored. */
#define ECR_IMAGE_GET_ANY_STATUS 2u

/**
 * Get an image by tag or digest.
 * @param reference a tag or a digest.
 * @return 0; ECR_EIMAGE_NOT_FOUND; ECR_EINVALID; ECR_EIMAGE_ARCHIVED (an
 *         archived image, unless ECR_IMAGE_GET_ANY_STATUS).
 */
ECR_EXTERN(int) ecr_image_get(ecr_image **out, ecr_repository *repo, const char *reference, uint32_t flags);

/** Free an image. NULL is a no-op. */
ECR_EXTERN(void) ecr_image_free(ecr_image *img);

/** The digest. @return borrowed. */
ECR_EXTERN(const char *) ecr_image_digest(const ecr_image *img);
/** The manifest media type. @return borrowed. */
ECR_EXTERN(const char *) ecr_image_media_type(const ecr_image *img);
/** The artifact type (artifactType, else the config media type), or NULL. @return borrowed. */
ECR_EXTERN(const char *) ecr_image_artifact_type(const ecr_image *img);
/** The digest of the subject (OCI referrers), or NULL. @return borrowed. */
ECR_EXTERN(const char *) ecr_image_subject(const ecr_image *img);
/**
 * The manifest bytes exactly as pushed, loaded on first use.
 * @param out receives a pointer borrowed from img.
 * @param len_out receives the length.
 */
ECR_EXTERN(int) ecr_image_manifest(const void **out, size_t *len_out, ecr_image *img);
/** Size of the manifest in bytes. */
ECR_EXTERN(uint64_t) ecr_image_manifest_size(const ecr_image *img);
/** imageSizeInBytes as ECR computes it: the layers' sizes, or the largest child's for an index. */
ECR_EXTERN(uint64_t) ecr_image_size(const ecr_image *img);
/** When it was pushed, ms since the epoch. */
ECR_EXTERN(int64_t) ecr_image_pushed_at(const ecr_image *img);
/** When a pull was last recorded, ms since the epoch, or 0. */
ECR_EXTERN(int64_t) ecr_image_last_pulled_at(const ecr_image *img);
/** The storage class. */
ECR_EXTERN(ecr_storage_class) ecr_image_storage_class(const ecr_image *img);
/** The status (ACTIVE, ARCHIVED, ACTIVATING). */
ECR_EXTERN(ecr_image_status) ecr_image_status_of(const ecr_image *img);
/** When it was last archived, ms since the epoch, or 0. */
ECR_EXTERN(int64_t) ecr_image_last_archived_at(const ecr_image *img);
/** When it was last restored from the archive, ms since the epoch, or 0. */
ECR_EXTERN(int64_t) ecr_image_last_activated_at(const ecr_image *img);

/**
 * Move an image to another storage class (ECR's UpdateImageStorageClass).
 * ARCHIVE: the image is no longer pullable and blobs that no active image
 * needs are kept compressed (zlib) instead. STANDARD: the image is restored
 * (ACTIVATING, then ACTIVE once its blobs are back). Children of an index and
 * referrers follow it.
 * @param out receives the image after the change (free with
 *        ecr_image_free()), or NULL.
 * @return 0; ECR_EIMAGE_NOT_FOUND; ECR_ESTORAGE_CLASS_UPDATE (not possible
 *         in the image's current state); ECR_EIO.
 */
ECR_EXTERN(int) ecr_image_set_storage_class(ecr_image **out, ecr_repository *repo, const char *digest,
	ecr_storage_class storage_class);

/** Number of tags. */
ECR_EXTERN(size_t) ecr_image_tag_count(const ecr_image *img);
/** Tag i, in lexical order. @return borrowed, or NULL when out of range. */
ECR_EXTERN(const char *) ecr_image_tag(const ecr_image *img, size_t i);

/**
 * Delete an image and its tags; its referrers (OCI subject) go with it.
 * @return 0; ECR_EIMAGE_NOT_FOUND; ECR_EIMAGE_REFERENCED when an index in
 *         the repository lists it.
 */
ECR_EXTERN(int) ecr_image_delete(ecr_repository *repo, const char *digest);

/** Flag for ecr_image_untag(): delete the image when it was its last tag (ECR BatchDeleteImage). */
#define ECR_UNTAG_DELETE_UNTAGGED 1u

/**
 * Remove a tag.
 * @param digest_out receives the digest the tag pointed to; may be NULL.
 * @return 0; ECR_EIMAGE_NOT_FOUND.
 */
ECR_EXTERN(int) ecr_image_untag(ecr_buf *digest_out, ecr_repository *repo, const char *tag, uint32_t flags);

/** Tag status filter, as ECR's TagStatus. */
typedef enum ecr_tag_status {
	ECR_TAG_STATUS_ANY = 0,
	ECR_TAG_STATUS_TAGGED = 1,
	ECR_TAG_STATUS_UNTAGGED = 2
} ecr_tag_status;

/** Options for ecr_image_iterator_new(). NULL means all images. */
typedef struct ecr_image_list_options {
	unsigned int version;
	ecr_tag_status tag_status;
	/** Only referrers of this digest (OCI 1.1 subject), or NULL. */
	const char *subject;
	/** With subject: only this artifact type, or NULL. */
	const char *artifact_type;
	/** Resume after a token from ecr_image_iterator_token(), or NULL. */
	const char *start_token;
	/* version 2 */
	/** Only images whose status bit (1u << ecr_image_status) is set; 0: every status. */
	uint32_t status_mask;
} ecr_image_list_options;

#define ECR_IMAGE_LIST_OPTIONS_VERSION 2
#define ECR_IMAGE_LIST_OPTIONS_INIT { ECR_IMAGE_LIST_OPTIONS_VERSION, ECR_TAG_STATUS_ANY, NULL, NULL, NULL, 0 }

/** Initialise list options. @return 0 or ECR_EINVALID. */
ECR_EXTERN(int) ecr_image_list_options_init(ecr_image_list_options *opts, unsigned int version);

/**
 * Iterate over a repository's images, in digest order.
 * @return 0; ECR_EINVALID (bad token or options).
 */
ECR_EXTERN(int) ecr_image_iterator_new(ecr_image_iterator **out, ecr_repository *repo,
	const ecr_image_list_options *opts);
/** The next image; borrowed until the next call or free. @return 0, ECR_ITEROVER. */
ECR_EXTERN(int) ecr_image_iterator_next(ecr_image **out, ecr_image_iterator *it);
/** A token that resumes after the last image returned. */
ECR_EXTERN(int) ecr_image_iterator_token(ecr_buf *out, ecr_image_iterator *it);
/** Free an iterator. NULL is a no-op. */
ECR_EXTERN(void) ecr_image_iterator_free(ecr_image_iterator *it);

/**
 * Iterate over a repository's tags in lexical (byte) order.
 * @param after start after this tag (the OCI "last" parameter), or NULL.
 */
ECR_EXTERN(int) ecr_tag_iterator_new(ecr_tag_iterator **out, ecr_repository *repo, const char *after);
/**
 * The next tag.
 * @param tag_out receives the tag, borrowed until the next call.
 * @param digest_out receives its image digest, borrowed; may be NULL.
 * @return 0, ECR_ITEROVER.
 */
ECR_EXTERN(int) ecr_tag_iterator_next(const char **tag_out, const char **digest_out, ecr_tag_iterator *it);
/** Free an iterator. NULL is a no-op. */
ECR_EXTERN(void) ecr_tag_iterator_free(ecr_tag_iterator *it);

ECR_END_DECL
/** @} */
#endif
