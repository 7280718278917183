/*
 * Images, tags, blobs and uploads of a remote registry (libecr/remote/remote_image.c, remote_blob.c), and the
 * hooks of the engine's image.c, upload.c and blob.c they use. The engine's public functions do the cheap
 * argument checks the local code does (so that messages match), then forward here when repo->reg->remote is set.
 *
 * With the ECR API (ECR_TRANSPORT_HAS_ECR_API) image records come from DescribeImages, puts go through PutImage
 * and deletes through BatchDeleteImage; manifests, blobs, uploads and referrers always travel over the OCI data
 * plane. Without it (a plain OCI registry) images are only what the data plane knows: digest, media type,
 * manifest; no tags, times or status.
 */
#ifndef ECR_REMOTE_REMOTE_IMAGE_H
#define ECR_REMOTE_REMOTE_IMAGE_H

#include "remote.h"

/* --- image.c: image handles of remote registries --- */

/*
 * Build an image handle of a remote repository from a record (moved in on success, its repo_id ignored), its tags
 * (moved in; NULL when tags_count is 0) and, when known, its manifest bytes (moved in; may be NULL). A record's
 * manifest_size < 0 means unknown: ecr_image_manifest_size() then asks the registry (HEAD) on first use.
 */
int ecr__image_new_remote(ecr_image **out, ecr_repository *repo, ecr__meta_image *rec, char **tags, size_t tags_count,
                          ecr_buf *manifest);
/*
 * Name the repository of an image made with ecr__image_new() for a remote registry, so that ecr_image_manifest()
 * can fetch its manifest (without it, ECR_ENOTSUPPORTED).
 */
int ecr__image_set_repository(ecr_image *img, const char *repository);
/* Tell an image handle its manifest's size (learnt before the registry stopped serving it: archiving). */
void ecr__image_set_manifest_size(ecr_image *img, uint64_t size);

/* --- remote_image.c --- */

int ecr__remote_image_put(ecr_image **out, ecr_repository *repo, const char *tag, const char *digest,
                          const char *media_type, const void *manifest, size_t len, uint32_t flags);
int ecr__remote_image_get(ecr_image **out, ecr_repository *repo, const char *reference, uint32_t flags);
int ecr__remote_image_delete(ecr_repository *repo, const char *digest);
int ecr__remote_image_untag(ecr_buf *digest_out, ecr_repository *repo, const char *tag, uint32_t flags);
int ecr__remote_image_set_storage_class(ecr_image **out, ecr_repository *repo, const char *digest,
                                        ecr_storage_class storage_class);

/* Fetch a manifest by digest (a GET of the data plane: ecrd records it as a pull) and check its digest. */
int ecr__remote_manifest_fetch(ecr_buf *out, ecr_registry *reg, const char *repository, const char *digest);
/* The size of a manifest (HEAD: no pull recorded). */
int ecr__remote_manifest_size(uint64_t *size_out, ecr_registry *reg, const char *repository, const char *digest);

/*
 * A listing of a repository's images in digest order (ecr_image_iterator of a remote repository): images with
 * a digest greater than after (may be NULL), filtered as ecr_image_list_options says. next() hands over an
 * image (ecr_image_free), ECR_ITEROVER at the end.
 */
typedef struct ecr__remote_image_list ecr__remote_image_list;
int ecr__remote_image_list_new(ecr__remote_image_list **out, ecr_repository *repo, ecr_tag_status tag_status,
                               uint32_t status_mask, const char *subject, const char *artifact_type, const char *after);
int ecr__remote_image_list_next(ecr_image **out, ecr__remote_image_list *l);
void ecr__remote_image_list_free(ecr__remote_image_list *l);

/*
 * Every tag of a repository after after (NULL: all) with its digest, in lexical order (ecr_tag_iterator of a
 * remote repository): *tags_out and *digests_out receive arrays of *count_out strings (ecr__free each, and the
 * arrays). ECR_ELIMIT beyond 100000 tags.
 */
int ecr__remote_tags_collect(char ***tags_out, char ***digests_out, size_t *count_out, ecr_repository *repo,
                             const char *after);

/* --- remote_blob.c: uploads and blobs --- */

/* Start a session: *session_out receives the transport's handle (ecr__free). */
int ecr__remote_upload_begin(char **session_out, ecr_repository *repo);
/* The size of a session; ECR_EUPLOAD when unknown. */
int ecr__remote_upload_status(uint64_t *size_out, ecr_repository *repo, const char *session);
/* Append at offset; *session is replaced by the new handle. */
int ecr__remote_upload_write(char **session, ecr_repository *repo, uint64_t offset, const void *data, size_t len);
int ecr__remote_upload_commit(ecr_repository *repo, const char *session, const char *digest);
int ecr__remote_upload_cancel(ecr_repository *repo, const char *session);

int ecr__remote_blob_stat(ecr_repository *repo, const char *digest, uint64_t *size_out);
int ecr__remote_blob_put(ecr_repository *repo, const char *digest, const void *data, size_t len);
int ecr__remote_blob_mount(ecr_repository *repo, ecr_repository *from, const char *digest);
int ecr__remote_blob_delete(ecr_repository *repo, const char *digest);

/*
 * A download of a blob's range, checked against the digest when it covers the whole blob: the read that
 * reaches the end fails with ECR_EDIGEST (returning nothing) when the bytes do not match.
 */
typedef struct ecr__remote_blob ecr__remote_blob;
/* Open [offset, offset+length) (length 0: to the end); *size_out receives the blob's size. Range checks as
 * ecr_blob_open's (ECR_ERANGE). */
int ecr__remote_blob_open(ecr__remote_blob **out, uint64_t *size_out, ecr_repository *repo, const char *digest,
                          uint64_t offset, uint64_t length);
int ecr__remote_blob_read(ecr__remote_blob *b, void *buf, size_t len, size_t *nread_out);
void ecr__remote_blob_free(ecr__remote_blob *b);

#endif
