/*
 * Images and tags of a remote registry. With the ECR API: records from DescribeImages, PutImage,
 * BatchDeleteImage, UpdateImageStorageClass, ListImages; manifests and referrers over the OCI data plane
 * (a manifest GET is what records a pull, as on ecrd's /v2/). Without it: the data plane only.
 */
#include "remote_image.h"

#include <stdlib.h>

#include "../core/digest.h"
#include "../oci/oci.h"

/* imageIds per DescribeImages request (ECR's limit). */
#define IDS_PER_CALL 100
/* Page size of DescribeImages and ListImages listings. */
#define LIST_PAGE 100
/* Most tags (and referrers) collected in memory by one listing. */
#define COLLECT_MAX 100000

static bool has_api(const ecr_repository *repo)
{
	return (repo->reg->remote->features & ECR_TRANSPORT_HAS_ECR_API) != 0;
}

static ecr_transport *transport(const ecr_repository *repo)
{
	return repo->reg->remote->t;
}

static int image_not_found(const ecr_repository *repo, const char *tag, const char *digest)
{
	if (tag)
		return ecr__fail(
		    ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
		    "The image with imageId {imageTag:'%s'} does not exist within the repository with name '%s' in the "
		    "registry with id '%s'",
		    tag, repo->name, repo->reg->account_id);
	return ecr__fail(
	    ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
	    "The image with imageId {imageDigest:'%s'} does not exist within the repository with name '%s' in the "
	    "registry with id '%s'",
	    digest ? digest : "", repo->name, repo->reg->account_id);
}

static int bad_response(const ecr_repository *repo, const char *operation, const char *what)
{
	return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the response of %s %s", ECR__REMOTE_HOST(repo->reg),
	                 operation, what);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ecr__free(v[i]);
	ecr__free(v);
}

/* --- requests --- */

/* Start a request on a repository: {"registryId": ..., "repositoryName": ... (the caller adds the rest). */
static int request_new(ecr__jw **out, const ecr_repository *repo)
{
	ecr__jw *w = NULL;
	int rc;
	*out = NULL;
	if ((rc = ecr__jw_new(&w)))
		return rc;
	if ((rc = ecr__jw_object_open(w)) ||
	    (repo->reg->account_id && *repo->reg->account_id &&
	     ((rc = ecr__jw_key(w, "registryId")) || (rc = ecr__jw_string(w, repo->reg->account_id)))) ||
	    (rc = ecr__jw_key(w, "repositoryName")) || (rc = ecr__jw_string(w, repo->name))) {
		ecr__jw_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* An imageIds list of one id. */
static int put_image_id(ecr__jw *w, const char *digest, const char *tag)
{
	int rc = ecr__jw_object_open(w);
	if (!rc && digest)
		rc = ecr__jw_key_string(w, "imageDigest", digest);
	if (!rc && tag)
		rc = ecr__jw_key_string(w, "imageTag", tag);
	return rc ? rc : ecr__jw_object_close(w);
}

/* --- image records --- */

static int status_of(const char *s)
{
	if (s && strcmp(s, "ARCHIVED") == 0)
		return ECR_IMAGE_ARCHIVED;
	if (s && strcmp(s, "ACTIVATING") == 0)
		return ECR_IMAGE_ACTIVATING;
	return ECR_IMAGE_ACTIVE;
}

static int dup_opt(char **out, const char *s)
{
	*out = NULL;
	if (s && !(*out = ecr__strdup(s)))
		return ECR_ENOMEM;
	return 0;
}

/* An ImageDetail into a record and its tags (sorted). */
static int rec_from_detail(ecr__meta_image *rec, char ***tags_out, size_t *count_out, const ecr_repository *repo,
                           const ecr__json *d)
{
	char **tags = NULL;
	size_t n = 0;
	int64_t size = 0;
	int rc;

	memset(rec, 0, sizeof(*rec));
	*tags_out = NULL;
	*count_out = 0;
	const char *digest = ecr__json_get_string(d, "imageDigest");
	if (!digest || !ecr__oci_is_digest(digest))
		return bad_response(repo, "DescribeImages", "has an image without a valid imageDigest");
	const char *mt = ecr__json_get_string(d, "imageManifestMediaType");
	if ((rc = dup_opt(&rec->digest, digest)) || (rc = dup_opt(&rec->media_type, mt ? mt : "")) ||
	    (rc = dup_opt(&rec->artifact_type, ecr__json_get_string(d, "artifactMediaType"))) ||
	    (rc = dup_opt(&rec->subject, ecr__json_get_string(d, "subjectManifestDigest"))))
		goto fail;
	if (ecr__json_get_int(d, "imageSizeInBytes", &size) && size > 0)
		rec->image_size = size;
	rec->manifest_size = -1; /* not in the record: asked for when needed */
	rec->pushed_at = ecr__remote_time(d, "imagePushedAt");
	rec->last_pulled_at = ecr__remote_time(d, "lastRecordedPullTime");
	rec->status = status_of(ecr__json_get_string(d, "imageStatus"));
	rec->storage_class = rec->status == ECR_IMAGE_ACTIVE ? ECR_STORAGE_CLASS_STANDARD : ECR_STORAGE_CLASS_ARCHIVE;
	rec->last_archived_at = ecr__remote_time(d, "lastArchivedAt");
	rec->last_activated_at = ecr__remote_time(d, "lastActivatedAt");
	const ecr__json *t = ecr__json_get(d, "imageTags");
	if (t && t->type == ECR__JSON_ARRAY && t->count) {
		if (!(tags = ecr__calloc(t->count, sizeof(char *)))) {
			rc = ECR_ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < t->count; i++) {
			if (t->values[i]->type != ECR__JSON_STRING)
				continue;
			if (!(tags[n] = ecr__strdup(t->values[i]->string))) {
				rc = ECR_ENOMEM;
				goto fail;
			}
			n++;
		}
		qsort(tags, n, sizeof(char *), cmp_str);
	}
	*tags_out = tags;
	*count_out = n;
	return 0;
fail:
	strings_free(tags, n);
	ecr__meta_image_dispose(rec);
	return rc;
}

/* manifest_size: the manifest's size when known (a referrer's descriptor), else -1. */
static int image_from_detail(ecr_image **out, ecr_repository *repo, const ecr__json *d, ecr_buf *manifest,
                             int64_t manifest_size)
{
	ecr__meta_image rec;
	char **tags;
	size_t n;
	int rc = rec_from_detail(&rec, &tags, &n, repo, d);
	if (rc)
		return rc;
	if (manifest_size >= 0)
		rec.manifest_size = manifest_size;
	if ((rc = ecr__image_new_remote(out, repo, &rec, tags, n, manifest))) {
		strings_free(tags, n);
		ecr__meta_image_dispose(&rec);
	}
	return rc;
}

/* An image known from the data plane only: digest, media type, manifest. */
static int image_minimal(ecr_image **out, ecr_repository *repo, const char *digest, const char *media_type,
                         ecr_buf *manifest, int64_t manifest_size)
{
	ecr__meta_image rec = {0};
	ecr__manifest *m = NULL;
	int rc;

	if (manifest && manifest->ptr)
		(void)ecr__manifest_parse(&m, manifest->ptr, manifest->size,
		                          media_type && *media_type ? media_type : NULL);
	ecr__error_clear();
	if ((rc = dup_opt(&rec.digest, digest)) ||
	    (rc = dup_opt(&rec.media_type, media_type && *media_type ? media_type
	                                   : m                       ? m->media_type
	                                                             : "")) ||
	    (m && (rc = dup_opt(&rec.artifact_type, ecr__manifest_artifact_type(m)))) ||
	    (m && m->has_subject && (rc = dup_opt(&rec.subject, m->subject.digest))))
		goto done;
	rec.manifest_size = manifest_size;
	rc = ecr__image_new_remote(out, repo, &rec, NULL, 0, manifest);
done:
	ecr__meta_image_dispose(&rec);
	ecr__manifest_free(m);
	return rc;
}

/* DescribeImages of one image id (any status). */
static int describe_one(ecr_image **out, ecr_repository *repo, const char *tag, const char *digest, ecr_buf *manifest)
{
	ecr__jw *w = NULL;
	ecr__json *res = NULL;
	int rc;

	*out = NULL;
	if ((rc = request_new(&w, repo)))
		return rc;
	if ((rc = ecr__jw_key(w, "imageIds")) || (rc = ecr__jw_array_open(w)) ||
	    (rc = put_image_id(w, tag ? NULL : digest, tag)) || (rc = ecr__jw_array_close(w))) {
		ecr__jw_free(w);
		return rc;
	}
	rc = ecr__remote_run(&res, repo->reg, "DescribeImages", w, 0);
	if (rc == ECR_EIMAGE_NOT_FOUND)
		rc = image_not_found(repo, tag, digest);
	if (rc)
		goto done;
	const ecr__json *details = ecr__json_get(res, "imageDetails");
	if (!details || details->type != ECR__JSON_ARRAY || details->count != 1) {
		rc = details && details->type == ECR__JSON_ARRAY && details->count == 0
		         ? image_not_found(repo, tag, digest)
		         : bad_response(repo, "DescribeImages", "has no single imageDetails");
		goto done;
	}
	rc = image_from_detail(out, repo, details->values[0], manifest, -1);
done:
	ecr__json_free(res);
	return rc;
}

/* --- manifests over the data plane --- */

int ecr__remote_manifest_fetch(ecr_buf *out, ecr_registry *reg, const char *repository, const char *digest)
{
	ecr_buf mt = ECR_BUF_INIT, dg = ECR_BUF_INIT;
	ecr_transport *t = reg->remote->t;
	int rc = t->manifest_get(out, &mt, &dg, t, repository, digest);
	if (!rc && (!dg.ptr || strcmp(dg.ptr, digest) != 0))
		rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_TRANSPORT, "%s: the manifest sent for %s has the digest %s",
		               reg->remote->host, digest, dg.ptr ? dg.ptr : "(none)");
	if (rc)
		ecr_buf_dispose(out);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&dg);
	return rc;
}

int ecr__remote_manifest_size(uint64_t *size_out, ecr_registry *reg, const char *repository, const char *digest)
{
	ecr_buf mt = ECR_BUF_INIT, dg = ECR_BUF_INIT;
	ecr_transport *t = reg->remote->t;
	int rc = t->manifest_head(&mt, &dg, size_out, t, repository, digest);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&dg);
	return rc;
}

/* --- put --- */

int ecr__remote_image_put(ecr_image **out, ecr_repository *repo, const char *tag, const char *digest,
                          const char *media_type, const void *manifest, size_t len, uint32_t flags)
{
	ecr__manifest *m = NULL;
	ecr__digest_alg alg = ECR__DIGEST_SHA256;
	char computed[ECR__DIGEST_STRLEN_MAX];
	ecr_buf copy = ECR_BUF_INIT, dg = ECR_BUF_INIT;
	ecr__json *res = NULL;
	ecr__jw *w = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (digest && (rc = ecr__oci_validate_digest(digest, &alg)))
		return rc;
	if ((rc = ecr__manifest_parse(&m, manifest, len, media_type && *media_type ? media_type : NULL)) ||
	    (rc = ecr__digest_buf(computed, sizeof(computed), alg, manifest, len)))
		goto done;
	const char *mt = media_type && *media_type ? media_type : m->media_type;
	if (has_api(repo)) {
		if ((rc = request_new(&w, repo)))
			goto done;
		if ((rc = ecr__jw_key(w, "imageManifest")) || (rc = ecr__jw_string_len(w, manifest, len)) ||
		    (mt && (rc = ecr__jw_key_string(w, "imageManifestMediaType", mt))) ||
		    (tag && (rc = ecr__jw_key_string(w, "imageTag", tag))) ||
		    (digest && (rc = ecr__jw_key_string(w, "imageDigest", digest)))) {
			ecr__jw_free(w);
			goto done;
		}
		rc = ecr__remote_run(&res, repo->reg, "PutImage", w, 0);
		/* PutImage is always exclusive: nothing to change is a success without ECR_IMAGE_PUT_EXCLUSIVE */
		if (rc == ECR_EIMAGE_EXISTS && !(flags & ECR_IMAGE_PUT_EXCLUSIVE)) {
			ecr__error_clear();
			rc = 0;
		}
		if (rc || !out)
			goto done;
		if ((rc = ecr__buf_put(&copy, manifest, len)))
			goto done;
		rc = describe_one(out, repo, NULL, computed, &copy);
		goto done;
	}
	ecr_transport *t = transport(repo);
	if ((rc = t->manifest_put(&dg, t, repo->name, tag ? tag : computed, mt, manifest, len)))
		goto done;
	if (dg.size && strcmp(dg.ptr, computed) != 0) {
		rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_TRANSPORT, "%s: the registry stored the manifest as %s, not %s",
		               ECR__REMOTE_HOST(repo->reg), dg.ptr, computed);
		goto done;
	}
	if (out && !(rc = ecr__buf_put(&copy, manifest, len)))
		rc = image_minimal(out, repo, computed, mt, &copy, (int64_t)len);
done:
	ecr__json_free(res);
	ecr__manifest_free(m);
	ecr_buf_dispose(&copy);
	ecr_buf_dispose(&dg);
	return rc;
}

/* --- get --- */

static bool is_missing(int rc)
{
	return rc == ECR_EIMAGE_NOT_FOUND || rc == ECR_EIMAGE_ARCHIVED || rc == ECR_ENOTFOUND;
}

int ecr__remote_image_get(ecr_image **out, ecr_repository *repo, const char *reference, uint32_t flags)
{
	ecr_buf body = ECR_BUF_INIT, mt = ECR_BUF_INIT, dg = ECR_BUF_INIT;
	ecr_transport *t = transport(repo);
	bool by_digest = ecr__oci_is_digest(reference);
	int rc;

	*out = NULL;
	if ((rc = by_digest ? ecr__oci_validate_digest(reference, NULL) : ecr__oci_validate_tag(reference)))
		return rc;
	if (!has_api(repo)) {
		rc = t->manifest_get(&body, &mt, &dg, t, repo->name, reference);
		if (rc == ECR_EIMAGE_NOT_FOUND)
			rc = image_not_found(repo, by_digest ? NULL : reference, by_digest ? reference : NULL);
		if (!rc && by_digest && strcmp(dg.ptr ? dg.ptr : "", reference) != 0)
			rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_TRANSPORT,
			               "%s: the manifest sent for %s has the digest %s", ECR__REMOTE_HOST(repo->reg),
			               reference, dg.ptr ? dg.ptr : "(none)");
		if (!rc)
			rc = image_minimal(out, repo, dg.ptr, mt.ptr, &body, (int64_t)body.size);
		goto done;
	}
	/* A pull is a GET of the manifest (it records lastRecordedPullTime); the record is read afterwards. */
	if (flags & ECR_IMAGE_GET_RECORD_PULL) {
		rc = t->manifest_get(&body, &mt, &dg, t, repo->name, reference);
		if (!rc && (!dg.ptr || !ecr__oci_is_digest(dg.ptr) || (by_digest && strcmp(dg.ptr, reference) != 0))) {
			rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_TRANSPORT,
			               "%s: the manifest sent for %s has the digest %s", ECR__REMOTE_HOST(repo->reg),
			               reference, dg.ptr ? dg.ptr : "(none)");
			goto done;
		}
		if (is_missing(rc)) { /* not there, or archived: DescribeImages says which */
			ecr__error_clear();
			ecr_buf_dispose(&body);
			ecr_buf_dispose(&dg);
		} else if (rc) {
			goto done;
		}
	}
	if (dg.size)
		rc = describe_one(out, repo, NULL, dg.ptr, &body);
	else
		rc = describe_one(out, repo, by_digest ? NULL : reference, by_digest ? reference : NULL, NULL);
	if (rc)
		goto done;
	ecr_image_status st = ecr_image_status_of(*out);
	if (st != ECR_IMAGE_ACTIVE && !(flags & ECR_IMAGE_GET_ANY_STATUS)) {
		ecr_image_free(*out);
		*out = NULL;
		rc = ecr__fail(
		    ECR_EIMAGE_ARCHIVED, ECR_ERROR_IMAGE,
		    "The image with imageId {%s:'%s'} is %s within the repository with name '%s' in the registry with "
		    "id '%s'; restore it with UpdateImageStorageClass (targetStorageClass STANDARD) first",
		    by_digest ? "imageDigest" : "imageTag", reference,
		    st == ECR_IMAGE_ACTIVATING ? "being restored from the archive" : "archived", repo->name,
		    repo->reg->account_id);
	}
done:
	ecr_buf_dispose(&body);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&dg);
	return rc;
}

/* --- delete, untag --- */

/* BatchDeleteImage of one image id: the digest removed into digest_out (may be NULL). */
static int batch_delete_one(ecr_buf *digest_out, ecr_repository *repo, const char *digest, const char *tag)
{
	ecr__jw *w = NULL;
	ecr__json *res = NULL;
	int rc;

	if ((rc = request_new(&w, repo)))
		return rc;
	if ((rc = ecr__jw_key(w, "imageIds")) || (rc = ecr__jw_array_open(w)) || (rc = put_image_id(w, digest, tag)) ||
	    (rc = ecr__jw_array_close(w))) {
		ecr__jw_free(w);
		return rc;
	}
	if ((rc = ecr__remote_run(&res, repo->reg, "BatchDeleteImage", w, 0)))
		goto done;
	const ecr__json *failures = ecr__json_get(res, "failures");
	const ecr__json *f = failures && failures->type == ECR__JSON_ARRAY ? ecr__json_at(failures, 0) : NULL;
	if (f) {
		const char *code = ecr__json_get_string(f, "failureCode");
		const char *reason = ecr__json_get_string(f, "failureReason");
		if (code && strcmp(code, "ImageNotFound") == 0)
			rc = image_not_found(repo, tag, digest);
		else if (code && strcmp(code, "ImageReferencedByManifestList") == 0)
			rc = ecr__fail(ECR_EIMAGE_REFERENCED, ECR_ERROR_IMAGE,
			               "The image %s is referenced by a manifest list or index in the repository '%s'",
			               digest ? digest : tag, repo->name);
		else if (code &&
		         (strcmp(code, "InvalidImageDigest") == 0 || strcmp(code, "InvalidImageTag") == 0 ||
		          strcmp(code, "MissingDigestAndTag") == 0 || strcmp(code, "ImageTagDoesNotMatchDigest") == 0))
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_IMAGE, "%s", reason ? reason : code);
		else
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: BatchDeleteImage failed: %s: %s",
			               ECR__REMOTE_HOST(repo->reg), code ? code : "(no failureCode)",
			               reason ? reason : "");
		goto done;
	}
	const ecr__json *ids = ecr__json_get(res, "imageIds");
	const char *removed = ecr__json_get_string(ecr__json_at(ids, 0), "imageDigest");
	if (!removed) {
		rc = bad_response(repo, "BatchDeleteImage", "lists neither the image removed nor a failure");
		goto done;
	}
	if (digest_out)
		rc = ecr__buf_puts(digest_out, removed);
done:
	ecr__json_free(res);
	return rc;
}

int ecr__remote_image_delete(ecr_repository *repo, const char *digest)
{
	if (has_api(repo))
		return batch_delete_one(NULL, repo, digest, NULL);
	ecr_transport *t = transport(repo);
	int rc = t->manifest_delete(t, repo->name, digest);
	if (rc == ECR_EIMAGE_NOT_FOUND || rc == ECR_ENOTFOUND)
		rc = image_not_found(repo, NULL, digest);
	return rc;
}

/* Whether another tag of the repository names digest (data plane: every tag's HEAD). */
static int digest_still_tagged(bool *out, ecr_repository *repo, const char *digest)
{
	char **tags = NULL, **digests = NULL;
	size_t n = 0;
	int rc = ecr__remote_tags_collect(&tags, &digests, &n, repo, NULL);
	*out = false;
	for (size_t i = 0; !rc && i < n && !*out; i++)
		*out = strcmp(digests[i], digest) == 0;
	strings_free(tags, n);
	strings_free(digests, n);
	return rc;
}

int ecr__remote_image_untag(ecr_buf *digest_out, ecr_repository *repo, const char *tag, uint32_t flags)
{
	ecr_transport *t = transport(repo);
	ecr_buf mt = ECR_BUF_INIT, dg = ECR_BUF_INIT;
	ecr_image *img = NULL;
	uint64_t size = 0;
	int rc;

	/* ECR's BatchDeleteImage by tag is exactly an untag that deletes the image with its last tag */
	if ((flags & ECR_UNTAG_DELETE_UNTAGGED) && has_api(repo))
		return batch_delete_one(digest_out, repo, NULL, tag);
	/* The tag's digest (any status: DescribeImages; the data plane: HEAD), then DELETE of the tag. */
	if (has_api(repo)) {
		if ((rc = describe_one(&img, repo, tag, NULL, NULL)))
			goto done;
		rc = ecr__buf_puts(&dg, ecr_image_digest(img));
	} else {
		rc = t->manifest_head(&mt, &dg, &size, t, repo->name, tag);
		if (rc == ECR_EIMAGE_NOT_FOUND)
			rc = image_not_found(repo, tag, NULL);
	}
	if (rc)
		goto done;
	rc = t->manifest_delete(t, repo->name, tag);
	if (rc == ECR_EIMAGE_NOT_FOUND || rc == ECR_ENOTFOUND)
		rc = image_not_found(repo, tag, NULL);
	if (rc)
		goto done;
	if (flags & ECR_UNTAG_DELETE_UNTAGGED) { /* no ECR API: delete it when no tag names it any more */
		bool tagged = false;
		if ((rc = digest_still_tagged(&tagged, repo, dg.ptr)))
			goto done;
		if (!tagged) {
			rc = t->manifest_delete(t, repo->name, dg.ptr);
			if (rc == ECR_EIMAGE_REFERENCED || rc == ECR_EIMAGE_NOT_FOUND) {
				ecr__error_clear(); /* kept for its index, or gone meanwhile */
				rc = 0;
			}
			if (rc)
				goto done;
		}
	}
	if (digest_out)
		rc = ecr__buf_puts(digest_out, dg.ptr);
done:
	ecr_image_free(img);
	ecr_buf_dispose(&mt);
	ecr_buf_dispose(&dg);
	return rc;
}

/* --- storage class --- */

int ecr__remote_image_set_storage_class(ecr_image **out, ecr_repository *repo, const char *digest,
                                        ecr_storage_class storage_class)
{
	ecr__jw *w = NULL;
	ecr__json *res = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (storage_class != ECR_STORAGE_CLASS_ARCHIVE && storage_class != ECR_STORAGE_CLASS_STANDARD)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid storage class %d", (int)storage_class);
	if ((rc = request_new(&w, repo)))
		return rc;
	if ((rc = ecr__jw_key(w, "imageId")) || (rc = put_image_id(w, digest, NULL)) ||
	    (rc = ecr__jw_key_string(w, "targetStorageClass",
	                             storage_class == ECR_STORAGE_CLASS_ARCHIVE ? "ARCHIVE" : "STANDARD"))) {
		ecr__jw_free(w);
		return rc;
	}
	/*
	 * An archived image's manifest is not served (not even to HEAD), and
	 * DescribeImages has no manifest size: learn it while the image is still
	 * active, so the handle returned says what a local one says.
	 */
	uint64_t msize = 0;
	bool msize_known = false;
	if (out && storage_class == ECR_STORAGE_CLASS_ARCHIVE) {
		ecr__error_saved saved;
		ecr__error_save(&saved);
		msize_known = ecr__remote_manifest_size(&msize, repo->reg, repo->name, digest) == 0;
		ecr__error_restore(&saved);
	}
	rc = ecr__remote_run(&res, repo->reg, "UpdateImageStorageClass", w, 0);
	ecr__json_free(res);
	if (rc == ECR_EIMAGE_NOT_FOUND)
		rc = image_not_found(repo, NULL, digest);
	if (rc || !out)
		return rc;
	if ((rc = ecr__remote_image_get(out, repo, digest, ECR_IMAGE_GET_ANY_STATUS)))
		return rc;
	if (msize_known)
		ecr__image_set_manifest_size(*out, msize);
	return 0;
}

/* --- listing images --- */

struct ecr__remote_image_list {
	ecr_repository *repo;
	ecr_tag_status tag_status;
	uint32_t status_mask;
	char *subject, *artifact_type;
	char *after; /* the last digest handed out (or the resumption point) */
	char *next_token;
	char *page_max; /* the greatest digest of the last page */
	bool started, server_done;
	bool collected; /* everything is in buf, sorted: the registry does not list in digest order */
	ecr_image **buf;
	size_t n, pos, cap;
};

static void buf_clear(ecr__remote_image_list *l)
{
	for (size_t i = l->pos; i < l->n; i++)
		ecr_image_free(l->buf[i]);
	l->n = l->pos = 0;
}

static int buf_add(ecr__remote_image_list *l, ecr_image *img)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 128;
		ecr_image **v;
		if (cap > COLLECT_MAX * 2) {
			ecr_image_free(img);
			return ecr__fail(ECR_ELIMIT, ECR_ERROR_IMAGE, "repository %s: more than %d images to sort",
			                 l->repo->name, COLLECT_MAX);
		}
		if (!(v = ecr__realloc(l->buf, cap * sizeof(*v)))) {
			ecr_image_free(img);
			return ECR_ENOMEM;
		}
		l->buf = v;
		l->cap = cap;
	}
	l->buf[l->n++] = img;
	return 0;
}

static int cmp_image(const void *a, const void *b)
{
	return strcmp(ecr_image_digest(*(ecr_image *const *)a), ecr_image_digest(*(ecr_image *const *)b));
}

static bool wanted(const ecr__remote_image_list *l, const ecr_image *img)
{
	size_t tags = ecr_image_tag_count(img);
	if (l->tag_status == ECR_TAG_STATUS_TAGGED && !tags)
		return false;
	if (l->tag_status == ECR_TAG_STATUS_UNTAGGED && tags)
		return false;
	if (l->status_mask && !(l->status_mask & (1u << ecr_image_status_of(img))))
		return false;
	return true;
}

int ecr__remote_image_list_new(ecr__remote_image_list **out, ecr_repository *repo, ecr_tag_status tag_status,
                               uint32_t status_mask, const char *subject, const char *artifact_type, const char *after)
{
	ecr__remote_image_list *l = ecr__calloc(1, sizeof(*l));
	*out = NULL;
	if (!l)
		return ECR_ENOMEM;
	l->repo = repo;
	l->tag_status = tag_status;
	l->status_mask = status_mask;
	if (dup_opt(&l->subject, subject) || dup_opt(&l->artifact_type, artifact_type) || dup_opt(&l->after, after)) {
		ecr__remote_image_list_free(l);
		return ECR_ENOMEM;
	}
	*out = l;
	return 0;
}

void ecr__remote_image_list_free(ecr__remote_image_list *l)
{
	if (!l)
		return;
	buf_clear(l);
	ecr__free(l->buf);
	ecr__free(l->subject);
	ecr__free(l->artifact_type);
	ecr__free(l->after);
	ecr__free(l->next_token);
	ecr__free(l->page_max);
	ecr__free(l);
}

/* The imageStatus filter for a status mask: one status, or ANY (then filtered here). */
static const char *status_filter(uint32_t mask)
{
	switch (mask) {
	case 1u << ECR_IMAGE_ACTIVE:
		return "ACTIVE";
	case 1u << ECR_IMAGE_ARCHIVED:
		return "ARCHIVED";
	case 1u << ECR_IMAGE_ACTIVATING:
		return "ACTIVATING";
	default:
		return "ANY";
	}
}

/* One page of DescribeImages into buf (the images wanted, sorted); the next token is kept. */
static int describe_page(ecr__remote_image_list *l)
{
	ecr__jw *w = NULL;
	ecr__json *res = NULL;
	int rc;

	if ((rc = request_new(&w, l->repo)))
		return rc;
	if ((rc = ecr__jw_key(w, "filter")) || (rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "tagStatus",
	                             l->tag_status == ECR_TAG_STATUS_TAGGED     ? "TAGGED"
	                             : l->tag_status == ECR_TAG_STATUS_UNTAGGED ? "UNTAGGED"
	                                                                        : "ANY")) ||
	    (rc = ecr__jw_key_string(w, "imageStatus", status_filter(l->status_mask))) ||
	    (rc = ecr__jw_object_close(w)) || (rc = ecr__jw_key(w, "maxResults")) || (rc = ecr__jw_int(w, LIST_PAGE)) ||
	    (l->next_token && (rc = ecr__jw_key_string(w, "nextToken", l->next_token)))) {
		ecr__jw_free(w);
		return rc;
	}
	if ((rc = ecr__remote_run(&res, l->repo->reg, "DescribeImages", w, 0)))
		return rc;
	const ecr__json *details = ecr__json_get(res, "imageDetails");
	if (!details || details->type != ECR__JSON_ARRAY) {
		rc = bad_response(l->repo, "DescribeImages", "has no imageDetails");
		goto done;
	}
	size_t first = l->n;
	for (size_t i = 0; i < details->count; i++) {
		ecr_image *img;
		if ((rc = image_from_detail(&img, l->repo, details->values[i], NULL, -1)))
			goto done;
		if (!wanted(l, img)) {
			ecr_image_free(img);
			continue;
		}
		if ((rc = buf_add(l, img)))
			goto done;
	}
	if (l->n > first)
		qsort(l->buf + first, l->n - first, sizeof(*l->buf), cmp_image);
	const char *next = ecr__json_get_string(res, "nextToken");
	ecr__free(l->next_token);
	l->next_token = NULL;
	if (next && *next && !(l->next_token = ecr__strdup(next))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	l->server_done = !l->next_token;
done:
	ecr__json_free(res);
	return rc;
}

/* Images of a list of descriptors' digests (DescribeImages by ids, in batches), into buf. */
static int describe_digests(ecr__remote_image_list *l, char **digests, int64_t *sizes, size_t n)
{
	int rc = 0;
	for (size_t start = 0; !rc && start < n; start += IDS_PER_CALL) {
		size_t end = n - start > IDS_PER_CALL ? start + IDS_PER_CALL : n;
		ecr__jw *w = NULL;
		ecr__json *res = NULL;
		if ((rc = request_new(&w, l->repo)))
			break;
		rc = ecr__jw_key(w, "imageIds");
		if (!rc)
			rc = ecr__jw_array_open(w);
		for (size_t i = start; !rc && i < end; i++)
			rc = put_image_id(w, digests[i], NULL);
		if (!rc)
			rc = ecr__jw_array_close(w);
		if (rc) {
			ecr__jw_free(w);
			break;
		}
		rc = ecr__remote_run(&res, l->repo->reg, "DescribeImages", w, 0);
		if (rc == ECR_EIMAGE_NOT_FOUND) { /* one went meanwhile: one by one */
			ecr__error_clear();
			rc = 0;
			for (size_t i = start; !rc && i < end; i++) {
				ecr_image *img = NULL;
				rc = describe_one(&img, l->repo, NULL, digests[i], NULL);
				if (rc == ECR_EIMAGE_NOT_FOUND) {
					ecr__error_clear();
					rc = 0;
					continue;
				}
				if (!rc)
					rc = buf_add(l, img);
			}
			continue;
		}
		const ecr__json *details = rc ? NULL : ecr__json_get(res, "imageDetails");
		for (size_t i = 0; !rc && details && i < details->count; i++) {
			const char *d = ecr__json_get_string(details->values[i], "imageDigest");
			int64_t size = -1;
			for (size_t j = start; d && j < end && size < 0; j++)
				if (strcmp(digests[j], d) == 0)
					size = sizes[j];
			ecr_image *img;
			if ((rc = image_from_detail(&img, l->repo, details->values[i], NULL, size)))
				break;
			rc = buf_add(l, img);
		}
		ecr__json_free(res);
	}
	return rc;
}

/* The referrers of the subject (OCI referrers API), described. */
static int collect_referrers(ecr__remote_image_list *l)
{
	ecr_transport *t = transport(l->repo);
	ecr_buf index = ECR_BUF_INIT;
	ecr__json *doc = NULL;
	char **digests = NULL, **types = NULL;
	int64_t *sizes = NULL;
	size_t n = 0;
	int rc;

	if ((rc = t->referrers(&index, t, l->repo->name, l->subject, l->artifact_type)))
		goto done;
	static const ecr__json_limits limits = {64u << 20, 64, 2000000, 1u << 20};
	if ((rc = ecr__json_parse(&doc, index.ptr, index.size, &limits)))
		goto done;
	const ecr__json *ms = ecr__json_get(doc, "manifests");
	if (!ms || ms->type != ECR__JSON_ARRAY) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the referrers of %s are not an image index",
		               ECR__REMOTE_HOST(l->repo->reg), l->subject);
		goto done;
	}
	if (ms->count > COLLECT_MAX) {
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_IMAGE, "%s has more than %d referrers", l->subject, COLLECT_MAX);
		goto done;
	}
	if (ms->count &&
	    (!(digests = ecr__calloc(ms->count, sizeof(char *))) || !(types = ecr__calloc(ms->count, sizeof(char *))) ||
	     !(sizes = ecr__calloc(ms->count, sizeof(int64_t))))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < ms->count; i++) {
		const ecr__json *d = ms->values[i];
		const char *digest = ecr__json_get_string(d, "digest");
		const char *at = ecr__json_get_string(d, "artifactType");
		if (!digest || !ecr__oci_is_digest(digest))
			continue;
		/* a registry that ignores the filter sends them all */
		if (l->artifact_type && (!at || strcmp(at, l->artifact_type) != 0))
			continue;
		if (!ecr__json_get_int(d, "size", &sizes[n]))
			sizes[n] = -1;
		if (!(digests[n] = ecr__strdup(digest)) || dup_opt(&types[n], at)) {
			n++;
			rc = ECR_ENOMEM;
			goto done;
		}
		n++;
	}
	if (has_api(l->repo)) {
		rc = describe_digests(l, digests, sizes, n);
	} else {
		for (size_t i = 0; !rc && i < n; i++) {
			ecr_image *img = NULL;
			const char *mt = ecr__json_get_string(ms->values[i], "mediaType");
			rc = image_minimal(&img, l->repo, digests[i], mt, NULL, sizes[i]);
			if (!rc)
				rc = buf_add(l, img);
		}
	}
	if (rc)
		goto done;
	/* filters, order, and the resumption point */
	size_t keep = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!wanted(l, l->buf[i]) ||
		    (l->artifact_type && (!ecr_image_artifact_type(l->buf[i]) ||
		                          strcmp(ecr_image_artifact_type(l->buf[i]), l->artifact_type) != 0))) {
			ecr_image_free(l->buf[i]);
			continue;
		}
		l->buf[keep++] = l->buf[i];
	}
	l->n = keep;
	if (l->n)
		qsort(l->buf, l->n, sizeof(*l->buf), cmp_image);
	l->collected = true;
	l->server_done = true;
done:
	strings_free(digests, n);
	strings_free(types, n);
	ecr__free(sizes);
	ecr__json_free(doc);
	ecr_buf_dispose(&index);
	return rc;
}

/* Every page, sorted: for a registry that does not list in digest order. */
static int collect_all(ecr__remote_image_list *l)
{
	int rc;
	buf_clear(l);
	ecr__free(l->next_token);
	l->next_token = NULL;
	l->server_done = false;
	do
		rc = describe_page(l);
	while (!rc && !l->server_done);
	if (rc)
		return rc;
	if (l->n)
		qsort(l->buf, l->n, sizeof(*l->buf), cmp_image);
	l->collected = true;
	return 0;
}

int ecr__remote_image_list_next(ecr_image **out, ecr__remote_image_list *l)
{
	int rc;
	*out = NULL;
	if (!l->started) {
		l->started = true;
		if (l->subject && (rc = collect_referrers(l)))
			return rc;
		if (!l->subject && !has_api(l->repo))
			return ecr__remote_unsupported(l->repo->reg, "listing images", "it serves no ECR API");
	}
	for (;;) {
		if (l->pos < l->n) {
			ecr_image *img = l->buf[l->pos];
			l->buf[l->pos++] = NULL;
			if (l->after &&
			    strcmp(ecr_image_digest(img), l->after) <= 0) { /* before the resumption point */
				ecr_image_free(img);
				continue;
			}
			char *after = ecr__strdup(ecr_image_digest(img));
			if (!after) {
				ecr_image_free(img);
				return ECR_ENOMEM;
			}
			ecr__free(l->after);
			l->after = after;
			*out = img;
			return 0;
		}
		if (l->collected || l->server_done)
			return ECR_ITEROVER;
		buf_clear(l);
		if ((rc = describe_page(l)))
			return rc;
		/* ecrd lists in digest order, as the local iterator does. A page that starts before the end of the
		 * previous one means another order: then the whole listing is sorted here instead. */
		if (l->n && l->page_max && strcmp(ecr_image_digest(l->buf[0]), l->page_max) < 0) {
			if ((rc = collect_all(l)))
				return rc;
			continue;
		}
		if (l->n) {
			char *max = ecr__strdup(ecr_image_digest(l->buf[l->n - 1]));
			if (!max)
				return ECR_ENOMEM;
			ecr__free(l->page_max);
			l->page_max = max;
		}
	}
}

/* --- tags --- */

typedef struct tag_pairs {
	char **tags, **digests;
	size_t n, cap;
} tag_pairs;

static int pairs_add(tag_pairs *p, const char *tag, const char *digest)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		char **a, **b;
		if (p->n >= COLLECT_MAX)
			return ecr__fail(ECR_ELIMIT, ECR_ERROR_IMAGE, "more than %d tags to list", COLLECT_MAX);
		if (!(a = ecr__realloc(p->tags, cap * sizeof(char *))))
			return ECR_ENOMEM;
		p->tags = a;
		if (!(b = ecr__realloc(p->digests, cap * sizeof(char *))))
			return ECR_ENOMEM;
		p->digests = b;
		p->cap = cap;
	}
	if (!(p->tags[p->n] = ecr__strdup(tag)))
		return ECR_ENOMEM;
	if (!(p->digests[p->n] = ecr__strdup(digest))) {
		ecr__free(p->tags[p->n]);
		return ECR_ENOMEM;
	}
	p->n++;
	return 0;
}

static void pairs_dispose(tag_pairs *p)
{
	strings_free(p->tags, p->n);
	strings_free(p->digests, p->n);
	memset(p, 0, sizeof(*p));
}

/* ListImages (tagged, any status), every page. */
static int tags_by_api(tag_pairs *p, ecr_repository *repo, const char *after)
{
	char *token = NULL;
	int rc;
	do {
		ecr__jw *w = NULL;
		ecr__json *res = NULL;
		if ((rc = request_new(&w, repo)))
			break;
		if ((rc = ecr__jw_key(w, "filter")) || (rc = ecr__jw_object_open(w)) ||
		    (rc = ecr__jw_key_string(w, "tagStatus", "TAGGED")) ||
		    (rc = ecr__jw_key_string(w, "imageStatus", "ANY")) || (rc = ecr__jw_object_close(w)) ||
		    (rc = ecr__jw_key(w, "maxResults")) || (rc = ecr__jw_int(w, 1000)) ||
		    (token && (rc = ecr__jw_key_string(w, "nextToken", token)))) {
			ecr__jw_free(w);
			break;
		}
		if ((rc = ecr__remote_run(&res, repo->reg, "ListImages", w, 0)))
			break;
		const ecr__json *ids = ecr__json_get(res, "imageIds");
		for (size_t i = 0; !rc && ids && ids->type == ECR__JSON_ARRAY && i < ids->count; i++) {
			const char *tag = ecr__json_get_string(ids->values[i], "imageTag");
			const char *digest = ecr__json_get_string(ids->values[i], "imageDigest");
			if (!tag || !digest || (after && strcmp(tag, after) <= 0))
				continue;
			rc = pairs_add(p, tag, digest);
		}
		const char *next = ecr__json_get_string(res, "nextToken");
		ecr__free(token);
		token = NULL;
		if (!rc && next && *next && !(token = ecr__strdup(next)))
			rc = ECR_ENOMEM;
		ecr__json_free(res);
	} while (!rc && token);
	ecr__free(token);
	return rc;
}

/* tags/list pages and a HEAD per tag. */
static int tags_by_oci(tag_pairs *p, ecr_repository *repo, const char *after)
{
	ecr_transport *t = transport(repo);
	char *last = NULL;
	int more = 1, rc = 0;
	if (after && !(last = ecr__strdup(after)))
		return ECR_ENOMEM;
	while (!rc && more) {
		ecr_buf page = ECR_BUF_INIT;
		ecr__json *doc = NULL;
		more = 0;
		if ((rc = t->tags_list(&page, &more, t, repo->name, last, LIST_PAGE)) ||
		    (rc = ecr__json_parse(&doc, page.ptr, page.size, NULL))) {
			ecr_buf_dispose(&page);
			break;
		}
		const ecr__json *tags = ecr__json_get(doc, "tags");
		size_t got = 0;
		for (size_t i = 0; !rc && tags && tags->type == ECR__JSON_ARRAY && i < tags->count; i++) {
			const ecr__json *tag = tags->values[i];
			ecr_buf mt = ECR_BUF_INIT, dg = ECR_BUF_INIT;
			uint64_t size;
			if (tag->type != ECR__JSON_STRING)
				continue;
			got++;
			char *dup = ecr__strdup(tag->string);
			if (!dup) {
				rc = ECR_ENOMEM;
				break;
			}
			ecr__free(last);
			last = dup;
			rc = t->manifest_head(&mt, &dg, &size, t, repo->name, tag->string);
			if (rc == ECR_EIMAGE_NOT_FOUND) { /* untagged meanwhile */
				ecr__error_clear();
				rc = 0;
			} else if (!rc) {
				rc = pairs_add(p, tag->string, dg.ptr ? dg.ptr : "");
			}
			ecr_buf_dispose(&mt);
			ecr_buf_dispose(&dg);
		}
		if (!got)
			more = 0;
		ecr__json_free(doc);
		ecr_buf_dispose(&page);
	}
	ecr__free(last);
	return rc;
}

typedef struct tag_order {
	const char *tag;
	size_t i;
} tag_order;

static int cmp_tag_order(const void *a, const void *b)
{
	return strcmp(((const tag_order *)a)->tag, ((const tag_order *)b)->tag);
}

int ecr__remote_tags_collect(char ***tags_out, char ***digests_out, size_t *count_out, ecr_repository *repo,
                             const char *after)
{
	tag_pairs p = {0};
	tag_order *order = NULL;
	char **tags = NULL, **digests = NULL;
	int rc;

	*tags_out = *digests_out = NULL;
	*count_out = 0;
	if ((rc = has_api(repo) ? tags_by_api(&p, repo, after) : tags_by_oci(&p, repo, after)))
		goto done;
	if (!p.n)
		goto done;
	if (!(order = ecr__calloc(p.n, sizeof(*order))) || !(tags = ecr__calloc(p.n, sizeof(char *))) ||
	    !(digests = ecr__calloc(p.n, sizeof(char *)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < p.n; i++) {
		order[i].tag = p.tags[i];
		order[i].i = i;
	}
	qsort(order, p.n, sizeof(*order), cmp_tag_order);
	for (size_t i = 0; i < p.n; i++) {
		tags[i] = p.tags[order[i].i];
		digests[i] = p.digests[order[i].i];
	}
	*tags_out = tags;
	*digests_out = digests;
	*count_out = p.n;
	ecr__free(p.tags);
	ecr__free(p.digests);
	memset(&p, 0, sizeof(p));
	tags = digests = NULL;
done:
	ecr__free(order);
	ecr__free(tags);
	ecr__free(digests);
	pairs_dispose(&p);
	return rc;
}
