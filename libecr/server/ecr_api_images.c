/* The ECR control plane: image and layer operations (ListImages,
 * DescribeImages, BatchGetImage, BatchDeleteImage, PutImage,
 * BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart,
 * CompleteLayerUpload, GetDownloadUrlForLayer, ListImageReferrers).
 * Shapes, limits and errors follow ecr-api.md §3.2, §3.3, §5, §6, §14. */
#include "ecr_api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "../core/crypto.h"

#define LIST_MAX_RESULTS 1000
#define LIST_DEFAULT_RESULTS 100
#define REFERRERS_MAX_RESULTS 50
#define REFERRERS_DEFAULT_RESULTS 20
#define IMAGE_IDS_MAX 100
#define MEDIA_TYPES_MAX 100
#define LAYER_DIGESTS_MAX 100
#define LAYER_DIGEST_MAX_LEN 1000
#define IMAGE_TAG_MAX_LEN 300
#define ARTIFACT_TYPES_MAX 5
#define ARTIFACT_TYPE_MAX_LEN 255
#define PART_SIZE 10485760     /* InitiateLayerUpload's partSize (10 MiB, as ECR answers) */
#define PART_MIN_SIZE 5242880  /* every part but the last: at least 5 MiB */
#define PART_MAX_SIZE 20971520 /* layerPartBlob: at most 20 MiB */
#define PART_MAX_B64 27962028  /* base64 of 20 MiB */
#define PARTS_MAX 4200
#define NEXT_TOKEN_MAX 4096

/* --- small helpers --- */

static int invalid_param(const char *field, const char *reason)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
	                 "Invalid parameter at '%s' failed to satisfy constraint: '%s'", field, reason);
}

/* ECR's digest pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+ */
static bool digest_ok(const char *s)
{
	const char *colon = strchr(s, ':');
	if (!colon || colon == s || !colon[1])
		return false;
	for (const char *p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '+' || *p == '.'))
			return false;
	for (const char *p = colon + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

static bool upload_id_ok(const char *s)
{
	if (strlen(s) != ECR_UPLOAD_ID_LEN)
		return false;
	for (size_t i = 0; i < ECR_UPLOAD_ID_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

/* Authorize "ecr:<operation>" (ecr__api_authorize adds "ecr:") on the ARN of the repository the input names,
 * then open it. */
static int open_repo(ecr_repository **out, ecr_api_call *call)
{
	const char *name;
	ecr_buf arn = ECR_BUF_INIT;
	*out = NULL;
	int rc = ecr__api_string(&name, call, "repositoryName", true, 2, 256);
	if (!rc && !(rc = ecr__api_repository_arn(&arn, call, name)) &&
	    !(rc = ecr__api_authorize(call, call->operation, arn.ptr)))
		rc = ecr__api_repository(out, call);
	ecr_buf_dispose(&arn);
	return rc;
}

/* An optional array member with min..max items; *out is NULL when absent. */
static int get_array(const ecr__json **out, ecr_api_call *call, const char *field, bool required, size_t min,
                     size_t max)
{
	char reason[96];
	const ecr__json *v = ecr__json_get(call->input, field);
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL) {
		if (required)
			return invalid_param(field, "Member must not be null");
		return 0;
	}
	if (v->type != ECR__JSON_ARRAY)
		return ecr__api_type_error(call, field, "a list");
	if (v->count < min) {
		snprintf(reason, sizeof(reason), "Member must have length greater than or equal to %zu", min);
		return invalid_param(field, reason);
	}
	if (v->count > max) {
		snprintf(reason, sizeof(reason), "Member must have length less than or equal to %zu", max);
		return invalid_param(field, reason);
	}
	*out = v;
	return 0;
}

/* An array of strings, each min_len..max_len long. */
static int check_strings(ecr_api_call *call, const ecr__json *arr, const char *field, size_t min_len, size_t max_len)
{
	char reason[128];
	for (size_t i = 0; arr && i < arr->count; i++) {
		const ecr__json *s = arr->values[i];
		if (s->type != ECR__JSON_STRING)
			return ecr__api_type_error(call, field, "a list of strings");
		if (s->length < min_len || (max_len && s->length > max_len) || strlen(s->string) != s->length) {
			snprintf(reason, sizeof(reason),
			         "Member must satisfy constraint: [Member must have length between %zu and %zu]",
			         min_len, max_len);
			return invalid_param(field, reason);
		}
	}
	return 0;
}

/* An optional string member of a nested object. */
static int nested_string(const char **out, ecr_api_call *call, const ecr__json *obj, const char *field)
{
	const ecr__json *v = ecr__json_get(obj, field);
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_STRING)
		return ecr__api_type_error(call, field, "a string");
	if (strlen(v->string) != v->length)
		return invalid_param(field, "Member must not contain NUL characters");
	*out = v->string;
	return 0;
}

static int get_object(const ecr__json **out, ecr_api_call *call, const char *field, bool required)
{
	const ecr__json *v = ecr__json_get(call->input, field);
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return required ? invalid_param(field, "Member must not be null") : 0;
	if (v->type != ECR__JSON_OBJECT)
		return ecr__api_type_error(call, field, "a structure");
	*out = v;
	return 0;
}

/* The filter's tagStatus and imageStatus: *mask_out is the list options'
 * status_mask (default: ACTIVE only; ANY: every status). */
static int get_filter(ecr_tag_status *status_out, uint32_t *mask_out, ecr_api_call *call, const char *status_field)
{
	const ecr__json *f;
	const char *ts, *is;
	int rc;
	*status_out = ECR_TAG_STATUS_ANY;
	*mask_out = 1u << ECR_IMAGE_ACTIVE;
	if ((rc = get_object(&f, call, "filter", false)) || !f)
		return rc;
	if ((rc = nested_string(&ts, call, f, "tagStatus")))
		return rc;
	if (ts) {
		if (strcmp(ts, "TAGGED") == 0)
			*status_out = ECR_TAG_STATUS_TAGGED;
		else if (strcmp(ts, "UNTAGGED") == 0)
			*status_out = ECR_TAG_STATUS_UNTAGGED;
		else if (strcmp(ts, "ANY") != 0)
			return invalid_param("filter.tagStatus",
			                     "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]");
	}
	if ((rc = nested_string(&is, call, f, status_field)))
		return rc;
	if (is) {
		if (strcmp(is, "ARCHIVED") == 0)
			*mask_out = 1u << ECR_IMAGE_ARCHIVED;
		else if (strcmp(is, "ACTIVATING") == 0)
			*mask_out = 1u << ECR_IMAGE_ACTIVATING;
		else if (strcmp(is, "ANY") == 0)
			*mask_out = 0;
		else if (strcmp(is, "ACTIVE") != 0)
			return invalid_param(status_field,
			                     "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]");
	}
	return 0;
}

/* --- pagination tokens ---
 * A nextToken is base64url("<kind>\n<query hash>\n<iterator token>\n<digest>\n<tag>"):
 * the library's image iterator token of the image before the one to resume
 * at, and (ListImages) that image's digest and the last tag already returned. */

typedef struct page_token {
	char kind;
	char *iter_token; /* "" to start at the beginning */
	char *digest;     /* "" when not resuming inside an image */
	char *tag;        /* "" when no tag of that image was returned yet */
} page_token;

static void page_token_dispose(page_token *t)
{
	ecr__free(t->iter_token);
	ecr__free(t->digest);
	ecr__free(t->tag);
	memset(t, 0, sizeof(*t));
}

/* FNV-1a of the query's parameters, so that a token is used with the query it came from. */
static uint64_t query_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int page_token_encode(ecr_buf *out, char kind, const char *query, const char *iter_token, const char *digest,
                             const char *tag)
{
	ecr_buf raw = ECR_BUF_INIT;
	int rc = ecr__buf_printf(&raw, "%c\n%016" PRIx64 "\n%s\n%s\n%s", kind, query_hash(query), iter_token,
	                         digest ? digest : "", tag ? tag : "");
	if (!rc)
		rc = ecr__base64url_encode(out, raw.ptr, raw.size);
	ecr_buf_dispose(&raw);
	return rc;
}

static int bad_token(void)
{
	return invalid_param("nextToken", "Invalid nextToken");
}

static int page_token_decode(page_token *out, char kind, const char *query, const char *text)
{
	ecr_buf raw = ECR_BUF_INIT;
	const char *f[5];
	size_t n = 0;
	int rc;
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	if (strlen(text) > NEXT_TOKEN_MAX || ecr__base64url_decode(&raw, text, strlen(text)) != 0) {
		rc = bad_token();
		goto done;
	}
	if (!raw.ptr || memchr(raw.ptr, '\0', raw.size)) {
		rc = bad_token();
		goto done;
	}
	f[n++] = raw.ptr;
	for (char *p = raw.ptr; *p; p++)
		if (*p == '\n') {
			if (n == 5) {
				rc = bad_token();
				goto done;
			}
			*p = '\0';
			f[n++] = p + 1;
		}
	char hash[20];
	snprintf(hash, sizeof(hash), "%016" PRIx64, query_hash(query));
	if (n != 5 || f[0][0] != kind || f[0][1] || strcmp(f[1], hash) != 0 || (f[3][0] && !digest_ok(f[3])) ||
	    strlen(f[4]) > IMAGE_TAG_MAX_LEN) {
		rc = bad_token();
		goto done;
	}
	if (!(out->iter_token = ecr__strdup(f[2])) || !(out->digest = ecr__strdup(f[3])) ||
	    !(out->tag = ecr__strdup(f[4]))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	rc = 0;
done:
	if (rc)
		page_token_dispose(out);
	ecr_buf_dispose(&raw);
	return rc;
}

/* Start an image iterator at a decoded token's iterator position; a token
 * the library refuses is a bad nextToken. */
static int iterator_at(ecr_image_iterator **out, ecr_repository *repo, ecr_image_list_options *lo, const char *tok)
{
	lo->start_token = tok && *tok ? tok : NULL;
	int rc = ecr_image_iterator_new(out, repo, lo);
	if (rc == ECR_EINVALID && lo->start_token)
		rc = bad_token();
	return rc;
}

/* next(), mapping a bad resumption point to a bad nextToken. */
static int iterator_next(ecr_image **out, ecr_image_iterator *it, bool resumed)
{
	int rc = ecr_image_iterator_next(out, it);
	if (rc == ECR_EINVALID && resumed)
		rc = bad_token();
	return rc;
}

/* --- output --- */

static const char *status_name(ecr_image_status st)
{
	return st == ECR_IMAGE_ARCHIVED ? "ARCHIVED" : st == ECR_IMAGE_ACTIVATING ? "ACTIVATING" : "ACTIVE";
}

/* An ImageIdentifier; either may be NULL. */
static int write_image_id(ecr__jw *w, const char *digest, const char *tag)
{
	int rc = ecr__jw_object_open(w);
	if (!rc && digest)
		rc = ecr__jw_key_string(w, "imageDigest", digest);
	if (!rc && tag)
		rc = ecr__jw_key_string(w, "imageTag", tag);
	return rc ? rc : ecr__jw_object_close(w);
}

/* An ImageDetail; ECR Public's (public) ends after artifactMediaType. */
static int write_image_detail(ecr__jw *w, ecr_repository *repo, const ecr_image *img, bool public)
{
	int rc;
	if ((rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "registryId", ecr_repository_registry_id(repo))) ||
	    (rc = ecr__jw_key_string(w, "repositoryName", ecr_repository_name(repo))) ||
	    (rc = ecr__jw_key_string(w, "imageDigest", ecr_image_digest(img))))
		return rc;
	size_t n = ecr_image_tag_count(img);
	if (n) {
		if ((rc = ecr__jw_key(w, "imageTags")) || (rc = ecr__jw_array_open(w)))
			return rc;
		for (size_t i = 0; i < n; i++)
			if ((rc = ecr__jw_string(w, ecr_image_tag(img, i))))
				return rc;
		if ((rc = ecr__jw_array_close(w)))
			return rc;
	}
	if ((rc = ecr__jw_key_int(w, "imageSizeInBytes", (int64_t)ecr_image_size(img))) ||
	    (rc = ecr__jw_key(w, "imagePushedAt")) || (rc = ecr__api_write_time(w, ecr_image_pushed_at(img))) ||
	    (rc = ecr__jw_key_string(w, "imageManifestMediaType", ecr_image_media_type(img))))
		return rc;
	if (ecr_image_artifact_type(img) &&
	    (rc = ecr__jw_key_string(w, "artifactMediaType", ecr_image_artifact_type(img))))
		return rc;
	if (public)
		return ecr__jw_object_close(w);
	if (ecr_image_last_pulled_at(img) > 0 && ((rc = ecr__jw_key(w, "lastRecordedPullTime")) ||
	                                          (rc = ecr__api_write_time(w, ecr_image_last_pulled_at(img)))))
		return rc;
	if (ecr_image_subject(img) && (rc = ecr__jw_key_string(w, "subjectManifestDigest", ecr_image_subject(img))))
		return rc;
	if ((rc = ecr__jw_key_string(w, "imageStatus", status_name(ecr_image_status_of(img)))))
		return rc;
	if (ecr_image_last_archived_at(img) > 0 && ((rc = ecr__jw_key(w, "lastArchivedAt")) ||
	                                            (rc = ecr__api_write_time(w, ecr_image_last_archived_at(img)))))
		return rc;
	if (ecr_image_last_activated_at(img) > 0 && ((rc = ecr__jw_key(w, "lastActivatedAt")) ||
	                                             (rc = ecr__api_write_time(w, ecr_image_last_activated_at(img)))))
		return rc;
	if ((rc = ecr__api_write_scan_summary(w, repo, ecr_image_digest(img))))
		return rc;
	return ecr__jw_object_close(w);
}

/* An Image: {registryId, repositoryName, imageId, imageManifest, imageManifestMediaType}. */
static int write_image(ecr__jw *w, ecr_repository *repo, ecr_image *img, const char *tag)
{
	const void *bytes;
	size_t len;
	int rc = ecr_image_manifest(&bytes, &len, img);
	if (rc)
		return rc;
	if ((rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "registryId", ecr_repository_registry_id(repo))) ||
	    (rc = ecr__jw_key_string(w, "repositoryName", ecr_repository_name(repo))) ||
	    (rc = ecr__jw_key(w, "imageId")) || (rc = write_image_id(w, ecr_image_digest(img), tag)) ||
	    (rc = ecr__jw_key(w, "imageManifest")) || (rc = ecr__jw_string_len(w, bytes, len)) ||
	    (rc = ecr__jw_key_string(w, "imageManifestMediaType", ecr_image_media_type(img))))
		return rc;
	return ecr__jw_object_close(w);
}

/* --- image identifiers (BatchGetImage, BatchDeleteImage, DescribeImages) --- */

typedef struct image_id {
	const char *digest, *tag;
} image_id;

static int parse_image_id(image_id *out, ecr_api_call *call, const ecr__json *v)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if (v->type != ECR__JSON_OBJECT)
		return ecr__api_type_error(call, "imageIds", "a list of structures");
	if ((rc = nested_string(&out->digest, call, v, "imageDigest")) ||
	    (rc = nested_string(&out->tag, call, v, "imageTag")))
		return rc;
	if (out->tag && (!*out->tag || strlen(out->tag) > IMAGE_TAG_MAX_LEN))
		return invalid_param("imageIds.imageTag", "Member must have length between 1 and 300");
	return 0;
}

/* Why an image id gives no image: a failure code and reason, or a hard error. */
typedef struct id_failure {
	const char *code;
	const char *reason;
} id_failure;

/* Resolve an image id: 0 with *img_out, 0 with *img_out NULL and fail set
 * (a per-item failure), or a negative code for the whole request. */
static int resolve_image_id(ecr_image **img_out, id_failure *fail, ecr_repository *repo, const image_id *id,
                            uint32_t flags)
{
	int rc;
	*img_out = NULL;
	fail->code = fail->reason = NULL;
	if (!id->digest && !id->tag) {
		fail->code = "MissingDigestAndTag";
		fail->reason = "Invalid request parameters: both tag and digest cannot be null";
		return 0;
	}
	if (id->digest && !digest_ok(id->digest)) {
		fail->code = "InvalidImageDigest";
		fail->reason = "Invalid request parameters: image digest should satisfy the regex "
		               "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'";
		return 0;
	}
	rc = ecr_image_get(img_out, repo, id->tag ? id->tag : id->digest, flags);
	/* a well-formed digest of an algorithm the registry does not use (md5:...) names no image here: a
	 * per-item failure as ECR gives, not an error of the whole request */
	if (rc == ECR_EIMAGE_NOT_FOUND || (rc == ECR_EUNSUPPORTED && !id->tag)) {
		fail->code = "ImageNotFound";
		fail->reason = "Requested image not found";
		ecr_error_clear();
		return 0;
	}
	if (rc == ECR_EIMAGE_ARCHIVED) {
		/* ImageFailureCode has no value for it: ImageNotFound, as /v2/ answers 404 */
		fail->code = "ImageNotFound";
		fail->reason = "Requested image is archived: restore it with UpdateImageStorageClass to pull it";
		ecr_error_clear();
		return 0;
	}
	if (rc == ECR_EINVALID) {
		fail->code = id->tag ? "InvalidImageTag" : "InvalidImageDigest";
		fail->reason = id->tag ? "Invalid request parameters: image tag is not valid"
		                       : "Invalid request parameters: image digest is not valid";
		ecr_error_clear();
		return 0;
	}
	if (rc)
		return rc;
	if (id->tag && id->digest && strcmp(ecr_image_digest(*img_out), id->digest) != 0) {
		ecr_image_free(*img_out);
		*img_out = NULL;
		fail->code = "ImageTagDoesNotMatchDigest";
		fail->reason = "Invalid request parameters: image tag does not match digest";
	}
	return 0;
}

static int write_failure(ecr__jw *w, const image_id *id, const id_failure *f)
{
	int rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "imageId")) ||
	    (rc = write_image_id(w, id->digest, id->tag)) || (rc = ecr__jw_key_string(w, "failureCode", f->code)) ||
	    (rc = ecr__jw_key_string(w, "failureReason", f->reason)))
		return rc;
	return ecr__jw_object_close(w);
}

/* The failures collected while writing the main list, written afterwards. */
typedef struct failure_list {
	image_id ids[IMAGE_IDS_MAX];
	id_failure f[IMAGE_IDS_MAX];
	size_t n;
} failure_list;

static int write_failures(ecr__jw *w, const failure_list *fl)
{
	int rc = ecr__jw_key(w, "failures");
	if (!rc)
		rc = ecr__jw_array_open(w);
	for (size_t i = 0; !rc && i < fl->n; i++)
		rc = write_failure(w, &fl->ids[i], &fl->f[i]);
	return rc ? rc : ecr__jw_array_close(w);
}

/* --- ListImages --- */

/* Write one page of ImageIdentifiers (one per tag, untagged images once);
 * next receives the token of the rest, if any. */
static int list_image_ids(ecr_api_call *call, ecr_image_iterator *it, const page_token *tok, const char *query,
                          int64_t max, ecr_buf *next)
{
	ecr_buf prev = ECR_BUF_INIT;
	int64_t count = 0;
	bool first = true;
	int rc;
	for (;;) {
		ecr_image *img;
		ecr_buf_dispose(&prev);
		if ((rc = ecr_image_iterator_token(&prev, it)))
			break;
		if ((rc = iterator_next(&img, it, tok != NULL)))
			break;
		/* resuming inside this image: skip the tags already returned */
		const char *after = NULL;
		if (first && tok && tok->digest[0] && strcmp(tok->digest, ecr_image_digest(img)) == 0 && tok->tag[0])
			after = tok->tag;
		first = false;
		const char *last = after;
		size_t n = ecr_image_tag_count(img);
		for (size_t i = 0; i < (n ? n : 1); i++) {
			const char *tag = n ? ecr_image_tag(img, i) : NULL;
			if (tag && after && strcmp(tag, after) <= 0)
				continue;
			if (!tag && after)
				break; /* it was tagged when the previous page ended there */
			if (count == max) {
				rc = page_token_encode(next, 'L', query, prev.ptr ? prev.ptr : "",
				                       ecr_image_digest(img), last);
				goto done;
			}
			if ((rc = write_image_id(call->out, ecr_image_digest(img), tag)))
				goto done;
			last = tag;
			count++;
		}
	}
	if (rc == ECR_ITEROVER)
		rc = 0;
done:
	ecr_buf_dispose(&prev);
	return rc;
}

static int op_list_images(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_image_iterator *it = NULL;
	ecr_buf next = ECR_BUF_INIT;
	page_token tok = {0};
	const char *token_text;
	ecr_tag_status status;
	uint32_t mask;
	bool resumed = false;
	char query[32];
	int64_t max;
	int rc;

	if ((rc = open_repo(&repo, call)) || (rc = get_filter(&status, &mask, call, "imageStatus")) ||
	    (rc = ecr__api_int(&max, NULL, call, "maxResults", 1, LIST_MAX_RESULTS, LIST_DEFAULT_RESULTS)) ||
	    (rc = ecr__api_string(&token_text, call, "nextToken", false, 0, 0)))
		goto done;
	snprintf(query, sizeof(query), "%d/%u", (int)status, (unsigned)mask);
	if (token_text && *token_text) {
		if ((rc = page_token_decode(&tok, 'L', query, token_text)))
			goto done;
		resumed = true;
	}
	if ((rc = ecr__jw_key(call->out, "imageIds")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	{
		ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
		lo.tag_status = status;
		lo.status_mask = mask;
		if ((rc = iterator_at(&it, repo, &lo, resumed ? tok.iter_token : NULL)) ||
		    (rc = list_image_ids(call, it, resumed ? &tok : NULL, query, max, &next)))
			goto done;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	if (next.size)
		rc = ecr__jw_key_string(call->out, "nextToken", next.ptr);
done:
	page_token_dispose(&tok);
	ecr_image_iterator_free(it);
	ecr_buf_dispose(&next);
	ecr_repository_free(repo);
	return rc;
}

/* --- DescribeImages --- */

static int image_not_found(ecr_repository *repo, const image_id *id)
{
	return ecr__fail(
	    ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
	    "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with "
	    "name '%s' in the registry with id '%s'",
	    id->digest ? id->digest : "null", id->tag ? id->tag : "null", ecr_repository_name(repo),
	    ecr_repository_registry_id(repo));
}

static int describe_by_ids(ecr_api_call *call, ecr_repository *repo, const ecr__json *ids)
{
	ecr_image *imgs[IMAGE_IDS_MAX] = {0};
	size_t n = 0;
	int rc = 0;
	for (size_t i = 0; i < ids->count; i++) {
		image_id id;
		id_failure f;
		ecr_image *img;
		if ((rc = parse_image_id(&id, call, ids->values[i])) ||
		    (rc = resolve_image_id(&img, &f, repo, &id, ECR_IMAGE_GET_ANY_STATUS)))
			goto done;
		if (!img) {
			if (strcmp(f.code, "ImageNotFound") == 0 || strcmp(f.code, "ImageTagDoesNotMatchDigest") == 0)
				rc = image_not_found(repo, &id);
			else
				rc = invalid_param("imageIds", f.reason);
			goto done;
		}
		bool dup = false;
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(ecr_image_digest(imgs[j]), ecr_image_digest(img)) == 0;
		if (dup)
			ecr_image_free(img);
		else
			imgs[n++] = img;
	}
	if ((rc = ecr__jw_key(call->out, "imageDetails")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	for (size_t i = 0; i < n; i++)
		if ((rc = write_image_detail(call->out, repo, imgs[i], ecr__api_is_public(call))))
			goto done;
	rc = ecr__jw_array_close(call->out);
done:
	for (size_t i = 0; i < n; i++)
		ecr_image_free(imgs[i]);
	return rc;
}

static int op_describe_images(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_image_iterator *it = NULL;
	ecr_buf next = ECR_BUF_INIT;
	page_token tok = {0};
	const ecr__json *ids;
	const char *token_text;
	ecr_tag_status status;
	uint32_t mask;
	bool max_given, resumed = false;
	char query[32];
	int64_t max;
	int rc;

	if ((rc = open_repo(&repo, call)) || (rc = get_array(&ids, call, "imageIds", false, 1, IMAGE_IDS_MAX)) ||
	    (rc = get_filter(&status, &mask, call, "imageStatus")) ||
	    (rc = ecr__api_int(&max, &max_given, call, "maxResults", 1, LIST_MAX_RESULTS, LIST_DEFAULT_RESULTS)) ||
	    (rc = ecr__api_string(&token_text, call, "nextToken", false, 0, 0)))
		goto done;
	if (ids) {
		if (max_given || token_text)
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			               "Invalid parameter: imageIds cannot be used with nextToken or maxResults");
		else
			rc = describe_by_ids(call, repo, ids);
		goto done;
	}
	snprintf(query, sizeof(query), "%d/%u", (int)status, (unsigned)mask);
	if (token_text && *token_text) {
		if ((rc = page_token_decode(&tok, 'D', query, token_text)))
			goto done;
		resumed = true;
	}
	if ((rc = ecr__jw_key(call->out, "imageDetails")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	{
		ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
		lo.tag_status = status;
		lo.status_mask = mask;
		if ((rc = iterator_at(&it, repo, &lo, resumed ? tok.iter_token : NULL)))
			goto done;
		for (int64_t count = 0;; count++) {
			ecr_image *img;
			ecr_buf prev = ECR_BUF_INIT;
			if (count == max && (rc = ecr_image_iterator_token(&prev, it)))
				goto done;
			rc = iterator_next(&img, it, resumed);
			if (!rc && count == max)
				rc = page_token_encode(&next, 'D', query, prev.ptr ? prev.ptr : "", NULL, NULL);
			ecr_buf_dispose(&prev);
			if (rc == ECR_ITEROVER || count == max)
				break;
			if (rc || (rc = write_image_detail(call->out, repo, img, ecr__api_is_public(call))))
				goto done;
		}
		if (rc && rc != ECR_ITEROVER)
			goto done;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	if (next.size)
		rc = ecr__jw_key_string(call->out, "nextToken", next.ptr);
done:
	page_token_dispose(&tok);
	ecr_image_iterator_free(it);
	ecr_buf_dispose(&next);
	ecr_repository_free(repo);
	return rc;
}

/* --- BatchGetImage --- */

static bool media_type_accepted(const ecr__json *accepted, const char *mt)
{
	if (!accepted)
		return true;
	for (size_t i = 0; i < accepted->count; i++)
		if (strcmp(accepted->values[i]->string, mt) == 0)
			return true;
	return false;
}

static int op_batch_get_image(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const ecr__json *ids, *accepted;
	failure_list *fl = NULL;
	int rc;

	if ((rc = open_repo(&repo, call)) || (rc = get_array(&ids, call, "imageIds", true, 1, IMAGE_IDS_MAX)) ||
	    (rc = get_array(&accepted, call, "acceptedMediaTypes", false, 1, MEDIA_TYPES_MAX)) ||
	    (rc = check_strings(call, accepted, "acceptedMediaTypes", 1, 255)))
		goto done;
	for (size_t i = 0; i < ids->count; i++) {
		image_id id;
		if ((rc = parse_image_id(&id, call, ids->values[i])))
			goto done;
	}
	if (!(fl = ecr__calloc(1, sizeof(*fl)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = ecr__jw_key(call->out, "images")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	for (size_t i = 0; i < ids->count; i++) {
		image_id id;
		id_failure f;
		ecr_image *img;
		parse_image_id(&id, call, ids->values[i]);
		if ((rc = resolve_image_id(&img, &f, repo, &id, 0)))
			goto done;
		if (img && !media_type_accepted(accepted, ecr_image_media_type(img))) {
			ecr_image_free(img);
			img = NULL;
			/* no conversion here: the stored form is the only one (ImageFailureCode has no better value) */
			f.code = "ImageNotFound";
			f.reason = "Requested image not found in any of the accepted media types";
		}
		if (!img) {
			fl->ids[fl->n] = id;
			fl->f[fl->n++] = f;
			continue;
		}
		/* a pull: record it (the library writes only when the record is stale) */
		ecr_image *pulled = NULL;
		rc = ecr_image_get(&pulled, repo, ecr_image_digest(img), ECR_IMAGE_GET_RECORD_PULL);
		ecr_image_free(pulled);
		if (!rc)
			rc = write_image(call->out, repo, img, id.tag);
		ecr_image_free(img);
		if (rc)
			goto done;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	rc = write_failures(call->out, fl);
done:
	ecr__free(fl);
	ecr_repository_free(repo);
	return rc;
}

/* --- BatchDeleteImage --- */

/* The identifiers removed with one image id. */
typedef struct removed_list {
	char **digests, **tags;
	size_t n, cap;
} removed_list;

static int removed_add(removed_list *l, const char *digest, const char *tag)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16, bytes;
		char **d, **t;
		if (ecr__mul_overflow(cap, sizeof(char *), &bytes))
			return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "too many removed images");
		if (!(d = ecr__realloc(l->digests, bytes)))
			return ECR_ENOMEM;
		l->digests = d;
		if (!(t = ecr__realloc(l->tags, bytes)))
			return ECR_ENOMEM;
		l->tags = t;
		l->cap = cap;
	}
	l->digests[l->n] = ecr__strdup(digest);
	l->tags[l->n] = tag ? ecr__strdup(tag) : NULL;
	if (!l->digests[l->n] || (tag && !l->tags[l->n])) {
		ecr__free(l->digests[l->n]);
		ecr__free(l->tags[l->n]);
		return ECR_ENOMEM;
	}
	l->n++;
	return 0;
}

static void removed_dispose(removed_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		ecr__free(l->digests[i]);
		ecr__free(l->tags[i]);
	}
	ecr__free(l->digests);
	ecr__free(l->tags);
	memset(l, 0, sizeof(*l));
}

/* Delete what one image id names: 0 (removed entries appended, or *f set), or a hard error. */
static int delete_one(removed_list *removed, id_failure *f, ecr_repository *repo, const image_id *id)
{
	ecr_image *img = NULL;
	ecr_buf digest = ECR_BUF_INIT;
	int rc;
	if ((rc = resolve_image_id(&img, f, repo, id, ECR_IMAGE_GET_ANY_STATUS)) || !img)
		return rc;
	if (id->tag) {
		rc = ecr_image_untag(&digest, repo, id->tag, ECR_UNTAG_DELETE_UNTAGGED);
		if (!rc)
			rc = removed_add(removed, digest.ptr, id->tag);
	} else {
		rc = ecr_image_delete(repo, ecr_image_digest(img));
		size_t n = ecr_image_tag_count(img);
		for (size_t i = 0; !rc && i < (n ? n : 1); i++)
			rc = removed_add(removed, ecr_image_digest(img), n ? ecr_image_tag(img, i) : NULL);
	}
	if (rc == ECR_EIMAGE_NOT_FOUND) { /* removed meanwhile */
		f->code = "ImageNotFound";
		f->reason = "Requested image not found";
		ecr_error_clear();
		rc = 0;
	} else if (rc == ECR_EIMAGE_REFERENCED) {
		f->code = "ImageReferencedByManifestList";
		f->reason = "Requested image is referenced by an image index or manifest list in the repository";
		ecr_error_clear();
		rc = 0;
	}
	ecr_buf_dispose(&digest);
	ecr_image_free(img);
	return rc;
}

static int op_batch_delete_image(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const ecr__json *ids;
	failure_list *fl = NULL;
	removed_list removed = {0};
	int rc;

	if ((rc = open_repo(&repo, call)) || (rc = get_array(&ids, call, "imageIds", true, 1, IMAGE_IDS_MAX)))
		goto done;
	for (size_t i = 0; i < ids->count; i++) {
		image_id id;
		if ((rc = parse_image_id(&id, call, ids->values[i])))
			goto done;
	}
	if (!(fl = ecr__calloc(1, sizeof(*fl)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < ids->count; i++) {
		image_id id;
		id_failure f = {NULL, NULL};
		parse_image_id(&id, call, ids->values[i]);
		if ((rc = delete_one(&removed, &f, repo, &id)))
			goto done;
		if (f.code) {
			fl->ids[fl->n] = id;
			fl->f[fl->n++] = f;
		}
	}
	if ((rc = ecr__jw_key(call->out, "imageIds")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	for (size_t i = 0; i < removed.n; i++)
		if ((rc = write_image_id(call->out, removed.digests[i], removed.tags[i])))
			goto done;
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	rc = write_failures(call->out, fl);
done:
	removed_dispose(&removed);
	ecr__free(fl);
	ecr_repository_free(repo);
	return rc;
}

/* --- PutImage --- */

static int op_put_image(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_image *img = NULL;
	const char *manifest, *media_type, *tag, *digest;
	int rc;

	if ((rc = open_repo(&repo, call)) ||
	    (rc = ecr__api_string(&manifest, call, "imageManifest", true, 1, ECR_MANIFEST_MAX_SIZE)) ||
	    (rc = ecr__api_string(&media_type, call, "imageManifestMediaType", false, 0, 255)) ||
	    (rc = ecr__api_string(&tag, call, "imageTag", false, 1, IMAGE_TAG_MAX_LEN)) ||
	    (rc = ecr__api_string(&digest, call, "imageDigest", false, 0, 0)))
		goto done;
	if (digest && !digest_ok(digest)) {
		rc = invalid_param("imageDigest",
		                   "Member must satisfy regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+");
		goto done;
	}
	if ((rc = ecr_image_put(&img, repo, tag, digest, media_type, manifest, strlen(manifest),
	                        ECR_IMAGE_PUT_EXCLUSIVE))) {
		/* ECR's words for a manifest that is not JSON at all */
		if (rc == ECR_EINVALID && ecr_error_last()->klass == ECR_ERROR_OCI &&
		    strstr(ecr_error_last()->message, "invalid JSON"))
			rc = invalid_param("ImageManifest", "Invalid JSON syntax");
		goto done;
	}
	if ((rc = ecr__jw_key(call->out, "image")))
		goto done;
	rc = write_image(call->out, repo, img, tag);
done:
	ecr_image_free(img);
	ecr_repository_free(repo);
	return rc;
}

/* --- BatchCheckLayerAvailability --- */

static int op_batch_check_layer_availability(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const ecr__json *digests;
	bool *failed = NULL;
	int rc;

	if ((rc = open_repo(&repo, call)) ||
	    (rc = get_array(&digests, call, "layerDigests", true, 1, LAYER_DIGESTS_MAX)) ||
	    (rc = check_strings(call, digests, "layerDigests", 0, LAYER_DIGEST_MAX_LEN)))
		goto done;
	if (!(failed = ecr__calloc(digests->count, sizeof(*failed)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = ecr__jw_key(call->out, "layers")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	for (size_t i = 0; i < digests->count; i++) {
		const char *d = digests->values[i]->string;
		uint64_t size = 0;
		if (!*d || !digest_ok(d)) {
			failed[i] = true;
			continue;
		}
		rc = ecr_blob_stat(repo, d, &size);
		if (rc == ECR_EINVALID) {
			ecr_error_clear();
			failed[i] = true;
			continue;
		}
		if (rc && rc != ECR_ENOTFOUND)
			goto done;
		bool available = rc == 0;
		if (!available)
			ecr_error_clear();
		if ((rc = ecr__jw_object_open(call->out)) || (rc = ecr__jw_key_string(call->out, "layerDigest", d)) ||
		    (rc =
		         ecr__jw_key_string(call->out, "layerAvailability", available ? "AVAILABLE" : "UNAVAILABLE")) ||
		    (available && (rc = ecr__jw_key_int(call->out, "layerSize", (int64_t)size))) ||
		    (rc = ecr__jw_object_close(call->out)))
			goto done;
	}
	if ((rc = ecr__jw_array_close(call->out)) || (rc = ecr__jw_key(call->out, "failures")) ||
	    (rc = ecr__jw_array_open(call->out)))
		goto done;
	for (size_t i = 0; i < digests->count; i++) {
		if (!failed[i])
			continue;
		const char *d = digests->values[i]->string;
		if ((rc = ecr__jw_object_open(call->out)) || (rc = ecr__jw_key_string(call->out, "layerDigest", d)) ||
		    (rc = ecr__jw_key_string(call->out, "failureCode",
		                             *d ? "InvalidLayerDigest" : "MissingLayerDigest")) ||
		    (rc = ecr__jw_key_string(call->out, "failureReason",
		                             *d ? "Invalid layer digest" : "Missing layer digest")) ||
		    (rc = ecr__jw_object_close(call->out)))
			goto done;
	}
	rc = ecr__jw_array_close(call->out);
done:
	ecr__free(failed);
	ecr_repository_free(repo);
	return rc;
}

/* --- part sizes of API uploads ---
 * ECR refuses (at CompleteLayerUpload) an upload where a part smaller than
 * 5 MiB was followed by another part. The library does not keep part
 * boundaries, so a small table here remembers, per upload id, whether the
 * last part was small and whether a small part was followed by another. It
 * is bounded (the least recently used entry is reused); an upload whose entry
 * was reused, or that began before a restart, is checked from then on. */

#define PART_TABLE_SIZE 1024

typedef struct part_state {
	char id[ECR_UPLOAD_ID_LEN + 1];
	bool last_small, too_small;
	uint32_t parts;
	uint64_t used;
} part_state;

static part_state part_table[PART_TABLE_SIZE];
static uint64_t part_clock;
static pthread_mutex_t part_lock = PTHREAD_MUTEX_INITIALIZER;

/* The entry of id (created when missing); call with part_lock held. */
static part_state *part_entry(const char *id)
{
	part_state *victim = &part_table[0];
	for (size_t i = 0; i < PART_TABLE_SIZE; i++) {
		part_state *e = &part_table[i];
		if (strcmp(e->id, id) == 0) {
			e->used = ++part_clock;
			return e;
		}
		if (e->used < victim->used)
			victim = e;
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->id, id, ECR_UPLOAD_ID_LEN + 1);
	victim->used = ++part_clock;
	return victim;
}

static void part_forget(const char *id)
{
	pthread_mutex_lock(&part_lock);
	for (size_t i = 0; i < PART_TABLE_SIZE; i++)
		if (strcmp(part_table[i].id, id) == 0)
			memset(&part_table[i], 0, sizeof(part_table[i]));
	pthread_mutex_unlock(&part_lock);
}

/* --- InitiateLayerUpload --- */

static int op_initiate_layer_upload(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_upload *up = NULL;
	int rc;
	if ((rc = open_repo(&repo, call)) || (rc = ecr_upload_begin(&up, repo)))
		goto done;
	part_forget(ecr_upload_id(up));
	if (!(rc = ecr__jw_key_string(call->out, "uploadId", ecr_upload_id(up))))
		rc = ecr__jw_key_int(call->out, "partSize", PART_SIZE);
done:
	ecr_upload_free(up);
	ecr_repository_free(repo);
	return rc;
}

/* The input's uploadId, opened in repo. */
static int open_upload(ecr_upload **out, ecr_api_call *call, ecr_repository *repo)
{
	const char *id;
	*out = NULL;
	int rc = ecr__api_string(&id, call, "uploadId", true, 1, 0);
	if (rc)
		return rc;
	if (!upload_id_ok(id))
		return invalid_param("uploadId",
		                     "Member must satisfy regular expression pattern: "
		                     "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
	rc = ecr_upload_open(out, repo, id);
	if (rc == ECR_EUPLOAD)
		rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD,
		               "The upload with id '%s' does not exist in the repository with name '%s' in the "
		               "registry with id '%s'",
		               id, ecr_repository_name(repo), ecr_repository_registry_id(repo));
	return rc;
}

static int write_upload_head(ecr__jw *w, ecr_repository *repo, const ecr_upload *up)
{
	int rc;
	if ((rc = ecr__jw_key_string(w, "registryId", ecr_repository_registry_id(repo))) ||
	    (rc = ecr__jw_key_string(w, "repositoryName", ecr_repository_name(repo))))
		return rc;
	return ecr__jw_key_string(w, "uploadId", ecr_upload_id(up));
}

/* --- UploadLayerPart --- */

static int invalid_part(ecr_api_call *call, ecr_repository *repo, const ecr_upload *up, const char *why)
{
	/* the model's members of InvalidLayerPartException, in the body as well as the message */
	ecr__api_error_string(call, "registryId", ecr_repository_registry_id(repo));
	ecr__api_error_string(call, "repositoryName", ecr_repository_name(repo));
	ecr__api_error_string(call, "uploadId", ecr_upload_id(up));
	ecr__api_error_int(call, "lastValidByteReceived", (int64_t)ecr_upload_size(up) - 1);
	return ecr__fail(ECR_ERANGE, ECR_ERROR_UPLOAD,
	                 "%s (registryId '%s', repositoryName '%s', uploadId '%s', lastValidByteReceived %" PRId64 ")",
	                 why, ecr_repository_registry_id(repo), ecr_repository_name(repo), ecr_upload_id(up),
	                 (int64_t)ecr_upload_size(up) - 1);
}

static int op_upload_layer_part(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_upload *up = NULL;
	ecr_buf data = ECR_BUF_INIT;
	const char *blob;
	int64_t first, last;
	bool has_first, has_last;
	char why[160];
	int rc;

	if ((rc = open_repo(&repo, call)) ||
	    (rc = ecr__api_int(&first, &has_first, call, "partFirstByte", 0, INT64_MAX, 0)) ||
	    (rc = ecr__api_int(&last, &has_last, call, "partLastByte", 0, INT64_MAX, 0)) ||
	    (rc = ecr__api_string(&blob, call, "layerPartBlob", true, 0, PART_MAX_B64)))
		goto done;
	if (!has_first || !has_last) {
		rc = invalid_param(has_first ? "partLastByte" : "partFirstByte", "Member must not be null");
		goto done;
	}
	if (ecr__base64_decode(&data, blob, strlen(blob))) {
		rc = invalid_param("layerPartBlob", "Member must be base64-encoded");
		goto done;
	}
	if (data.size > PART_MAX_SIZE) {
		rc = invalid_param("layerPartBlob", "Member must have length less than or equal to 20971520");
		goto done;
	}
	if ((rc = open_upload(&up, call, repo)))
		goto done;
	if (last < first || (uint64_t)(last - first) + 1 != data.size) {
		snprintf(why, sizeof(why), "The part's byte range %" PRId64 "-%" PRId64 " does not match its %zu bytes",
		         first, last, data.size);
		rc = invalid_part(call, repo, up, why);
		goto done;
	}
	if ((uint64_t)first != ecr_upload_size(up)) {
		snprintf(why, sizeof(why), "The part's first byte %" PRId64 " does not follow the last byte received",
		         first);
		rc = invalid_part(call, repo, up, why);
		goto done;
	}
	/* the server's blob size limit holds for every upload path */
	if ((uint64_t)first + data.size > call->r->srv->max_blob_size) {
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_UPLOAD, "The upload with id '%s' exceeds the largest layer size",
		               ecr_upload_id(up));
		goto done;
	}
	pthread_mutex_lock(&part_lock);
	part_state *ps = part_entry(ecr_upload_id(up));
	bool too_many = ps->parts >= PARTS_MAX;
	pthread_mutex_unlock(&part_lock);
	if (too_many) {
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_UPLOAD, "The upload with id '%s' exceeds the limit of %d parts",
		               ecr_upload_id(up), PARTS_MAX);
		goto done;
	}
	rc = ecr_upload_write(up, (uint64_t)first, data.ptr, data.size);
	if (rc == ECR_ERANGE) {
		rc = invalid_part(call, repo, up, "The part does not follow the last byte received");
		goto done;
	}
	if (rc)
		goto done;
	pthread_mutex_lock(&part_lock);
	ps = part_entry(ecr_upload_id(up));
	if (ps->last_small)
		ps->too_small = true;
	ps->last_small = data.size < PART_MIN_SIZE;
	ps->parts++;
	pthread_mutex_unlock(&part_lock);
	if (!(rc = write_upload_head(call->out, repo, up)))
		rc = ecr__jw_key_int(call->out, "lastByteReceived", last);
done:
	ecr_buf_dispose(&data);
	ecr_upload_free(up);
	ecr_repository_free(repo);
	return rc;
}

/* --- CompleteLayerUpload --- */

/* End an upload that cannot complete, keeping the error that says why. */
static int cancel_with(ecr_upload *up, int rc)
{
	ecr__error_saved saved;
	ecr__error_save(&saved);
	ecr_upload_cancel(up);
	ecr__error_restore(&saved);
	return rc;
}

static int op_complete_layer_upload(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_upload *up = NULL;
	const ecr__json *digests;
	char id[ECR_UPLOAD_ID_LEN + 1];
	int rc;

	if ((rc = open_repo(&repo, call)) ||
	    (rc = get_array(&digests, call, "layerDigests", true, 1, LAYER_DIGESTS_MAX)) ||
	    (rc = check_strings(call, digests, "layerDigests", 0, 0)))
		goto done;
	const char *digest = digests->values[0]->string;
	if (!digest_ok(digest)) {
		rc = invalid_param("layerDigests",
		                   "Member must satisfy constraint: [Member must satisfy regular expression pattern: "
		                   "[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+]");
		goto done;
	}
	if ((rc = open_upload(&up, call, repo)))
		goto done;
	memcpy(id, ecr_upload_id(up), sizeof(id));
	if (ecr_upload_size(up) == 0) {
		rc = cancel_with(
		    up, ecr__fail(ECR_EEMPTY, ECR_ERROR_UPLOAD, "The upload with id '%s' contains no data", id));
		goto forget;
	}
	pthread_mutex_lock(&part_lock);
	bool too_small = part_entry(id)->too_small;
	pthread_mutex_unlock(&part_lock);
	if (too_small) {
		rc = cancel_with(
		    up, ecr__fail(ECR_ELAYER_PART_TOO_SMALL, ECR_ERROR_UPLOAD,
		                  "The upload with id '%s' has a part smaller than %d bytes that is not its last", id,
		                  PART_MIN_SIZE));
		goto forget;
	}
	rc = ecr_blob_stat(repo, digest, NULL);
	if (rc == 0) {
		rc = cancel_with(
		    up, ecr__fail(ECR_ELAYER_EXISTS, ECR_ERROR_UPLOAD,
		                  "The layer with digest '%s' already exists in the repository with name '%s' in "
		                  "the registry with id '%s'",
		                  digest, ecr_repository_name(repo), ecr_repository_registry_id(repo)));
		goto forget;
	}
	if (rc != ECR_ENOTFOUND && rc != ECR_EINVALID)
		goto done;
	ecr_error_clear();
	rc = ecr_upload_commit(up, digest);
	if (rc == ECR_EIO)
		goto done; /* the session stays: the client may retry */
	if (rc == ECR_EDIGEST)
		rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_UPLOAD,
		               "The calculated digest of the upload with id '%s' does not match the layer digest '%s'",
		               id, digest);
	if (!rc && !(rc = write_upload_head(call->out, repo, up)))
		rc = ecr__jw_key_string(call->out, "layerDigest", digest);
forget:
	part_forget(id);
done:
	ecr_upload_free(up);
	ecr_repository_free(repo);
	return rc;
}

/* --- GetDownloadUrlForLayer --- */

/* Whether the manifest of img names digest as its config or one of its layers. */
static int manifest_references(bool *out, ecr_image *img, const char *digest)
{
	const void *bytes;
	size_t len;
	ecr__json *doc = NULL;
	ecr__json_limits limits = {ECR_MANIFEST_MAX_SIZE, 64, 1000000, ECR_MANIFEST_MAX_SIZE};
	int rc = ecr_image_manifest(&bytes, &len, img);
	*out = false;
	if (rc)
		return rc;
	if (ecr__json_parse(&doc, bytes, len, &limits) != 0) {
		ecr_error_clear();
		return 0;
	}
	const ecr__json *cfg = ecr__json_get(doc, "config");
	const char *d = ecr__json_get_string(cfg, "digest");
	if (d && strcmp(d, digest) == 0)
		*out = true;
	const ecr__json *layers = ecr__json_get(doc, "layers");
	if (!layers)
		layers = ecr__json_get(doc, "fsLayers"); /* docker schema 1 */
	for (size_t i = 0; !*out && layers && layers->type == ECR__JSON_ARRAY && i < layers->count; i++) {
		const ecr__json *l = layers->values[i];
		d = ecr__json_get_string(l, "digest");
		if (!d)
			d = ecr__json_get_string(l, "blobSum");
		if (d && strcmp(d, digest) == 0)
			*out = true;
	}
	ecr__json_free(doc);
	return 0;
}

static int layer_referenced(bool *out, ecr_repository *repo, const char *digest)
{
	ecr_image_iterator *it = NULL;
	ecr_image *img;
	int rc;
	*out = false;
	if ((rc = ecr_image_iterator_new(&it, repo, NULL)))
		return rc;
	while (!*out && (rc = ecr_image_iterator_next(&img, it)) == 0)
		if ((rc = manifest_references(out, img, digest)))
			break;
	ecr_image_iterator_free(it);
	return rc == ECR_ITEROVER ? 0 : rc;
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
static int url_escape(ecr_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;
	for (; !rc && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.' || c == '~') {
			rc = ecr__buf_put(out, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			rc = ecr__buf_put(out, e, 3);
		}
	}
	return rc;
}

static int op_get_download_url_for_layer(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_buf url = ECR_BUF_INIT, token = ECR_BUF_INIT;
	const char *digest;
	bool referenced;
	int rc;

	if ((rc = open_repo(&repo, call)) || (rc = ecr__api_string(&digest, call, "layerDigest", true, 1, 0)))
		goto done;
	if (!digest_ok(digest)) {
		rc = invalid_param("layerDigest",
		                   "Member must satisfy regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+");
		goto done;
	}
	rc = ecr_blob_stat(repo, digest, NULL);
	/* ECR_EUNSUPPORTED: a well-formed digest of another algorithm (md5:...): no such layer either */
	if (rc == ECR_ENOTFOUND || rc == ECR_EINVALID || rc == ECR_EUNSUPPORTED) {
		rc = ecr__fail(ECR_ELAYERS_NOT_FOUND, ECR_ERROR_IMAGE,
		               "The layer with digest '%s' does not exist in the repository with name '%s' in the "
		               "registry with id "
		               "'%s'",
		               digest, ecr_repository_name(repo), ecr_repository_registry_id(repo));
		goto done;
	}
	if (rc || (rc = layer_referenced(&referenced, repo, digest)))
		goto done;
	if (!referenced) {
		rc = ecr__fail(
		    ECR_ELAYER_INACCESSIBLE, ECR_ERROR_IMAGE,
		    "The layer with digest '%s' is not referenced by any image in the repository with name '%s' in the "
		    "registry with id '%s'",
		    digest, ecr_repository_name(repo), ecr_repository_registry_id(repo));
		goto done;
	}
	if ((rc = ecr__buf_printf(&url, "%s/v2/%s/blobs/%s?X-Amz-Expires=3600", call->endpoint ? call->endpoint : "",
	                          ecr_repository_name(repo), digest)))
		goto done;
	if (call->principal) {
		/* a token for this one blob, for the URL's hour: not the principal's registry token */
		if ((rc = ecr_auth_blob_token_create(&token, NULL, call->reg, call->principal,
		                                     ecr_repository_name(repo), digest, 3600)) ||
		    (rc = ecr__buf_puts(&url, "&X-Ecr-Token=")) || (rc = url_escape(&url, token.ptr)))
			goto done;
	}
	if (!(rc = ecr__jw_key_string(call->out, "downloadUrl", url.ptr)))
		rc = ecr__jw_key_string(call->out, "layerDigest", digest);
done:
	ecr_buf_dispose(&url);
	ecr_buf_dispose(&token);
	ecr_repository_free(repo);
	return rc;
}

/* --- ListImageReferrers --- */

/* Copy the manifest's top-level string annotations into w, if it has any. */
static int write_annotations(ecr__jw *w, ecr_image *img)
{
	const void *bytes;
	size_t len;
	ecr__json *doc = NULL;
	ecr__json_limits limits = {ECR_MANIFEST_MAX_SIZE, 64, 1000000, ECR_MANIFEST_MAX_SIZE};
	int rc = ecr_image_manifest(&bytes, &len, img);
	if (rc)
		return rc;
	if (ecr__json_parse(&doc, bytes, len, &limits) != 0) {
		ecr_error_clear();
		return 0;
	}
	const ecr__json *a = ecr__json_get(doc, "annotations");
	if (a && a->type == ECR__JSON_OBJECT && a->count) {
		rc = ecr__jw_key(w, "annotations");
		if (!rc)
			rc = ecr__jw_object_open(w);
		for (size_t i = 0; !rc && i < a->count; i++)
			if (a->values[i]->type == ECR__JSON_STRING && !(rc = ecr__jw_key(w, a->keys[i])))
				rc = ecr__jw_string_len(w, a->values[i]->string, a->values[i]->length);
		if (!rc)
			rc = ecr__jw_object_close(w);
	}
	ecr__json_free(doc);
	return rc;
}

static int write_referrer(ecr__jw *w, ecr_image *img)
{
	int rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "digest", ecr_image_digest(img))) ||
	    (rc = ecr__jw_key_string(w, "mediaType", ecr_image_media_type(img))))
		return rc;
	if (ecr_image_artifact_type(img) && (rc = ecr__jw_key_string(w, "artifactType", ecr_image_artifact_type(img))))
		return rc;
	if ((rc = ecr__jw_key_int(w, "size", (int64_t)ecr_image_manifest_size(img))) ||
	    (rc = write_annotations(w, img)) ||
	    (rc = ecr__jw_key_string(w, "artifactStatus", status_name(ecr_image_status_of(img)))))
		return rc;
	return ecr__jw_object_close(w);
}

static bool artifact_type_wanted(const ecr__json *types, const ecr_image *img)
{
	if (!types || types->count == 0)
		return true;
	const char *at = ecr_image_artifact_type(img);
	for (size_t i = 0; at && i < types->count; i++)
		if (strcmp(types->values[i]->string, at) == 0)
			return true;
	return false;
}

static int op_list_image_referrers(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_image_iterator *it = NULL;
	ecr_buf next = ECR_BUF_INIT, query = ECR_BUF_INIT;
	page_token tok = {0};
	const ecr__json *subject_id, *filter, *types = NULL;
	const char *subject, *status = NULL, *token_text;
	bool resumed = false;
	uint32_t mask = 1u << ECR_IMAGE_ACTIVE; /* default: ACTIVE only */
	int64_t max;
	int rc;

	if ((rc = open_repo(&repo, call)) || (rc = get_object(&subject_id, call, "subjectId", true)) ||
	    (rc = nested_string(&subject, call, subject_id, "imageDigest")) ||
	    (rc = get_object(&filter, call, "filter", false)) ||
	    (rc = ecr__api_int(&max, NULL, call, "maxResults", 1, REFERRERS_MAX_RESULTS, REFERRERS_DEFAULT_RESULTS)) ||
	    (rc = ecr__api_string(&token_text, call, "nextToken", false, 0, 0)))
		goto done;
	if (!subject) {
		rc = invalid_param("subjectId.imageDigest", "Member must not be null");
		goto done;
	}
	if (!digest_ok(subject)) {
		rc = ecr__fail(
		    ECR_EVALIDATION, ECR_ERROR_INVALID,
		    "Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: 'Member must satisfy "
		    "regular expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
		goto done;
	}
	if (filter) {
		types = ecr__json_get(filter, "artifactTypes");
		if (types && types->type == ECR__JSON_NULL)
			types = NULL;
		if (types && types->type != ECR__JSON_ARRAY) {
			rc = ecr__api_type_error(call, "filter.artifactTypes", "a list");
			goto done;
		}
		if (types && types->count > ARTIFACT_TYPES_MAX) {
			rc = invalid_param("filter.artifactTypes", "Member must have length less than or equal to 5");
			goto done;
		}
		if ((rc = check_strings(call, types, "filter.artifactTypes", 1, ARTIFACT_TYPE_MAX_LEN)) ||
		    (rc = nested_string(&status, call, filter, "artifactStatus")))
			goto done;
		if (status) {
			if (strcmp(status, "ARCHIVED") == 0)
				mask = 1u << ECR_IMAGE_ARCHIVED;
			else if (strcmp(status, "ACTIVATING") == 0)
				mask = 1u << ECR_IMAGE_ACTIVATING;
			else if (strcmp(status, "ANY") == 0)
				mask = 0;
			else if (strcmp(status, "ACTIVE") != 0) {
				rc = invalid_param(
				    "filter.artifactStatus",
				    "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]");
				goto done;
			}
		}
	}
	if ((rc = ecr__buf_printf(&query, "%s\n%u", subject, (unsigned)mask)))
		goto done;
	for (size_t i = 0; types && i < types->count; i++)
		if ((rc = ecr__buf_printf(&query, "\n%s", types->values[i]->string)))
			goto done;
	if (token_text && *token_text) {
		if ((rc = page_token_decode(&tok, 'R', query.ptr, token_text)))
			goto done;
		resumed = true;
	}
	if ((rc = ecr__jw_key(call->out, "referrers")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	{
		ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
		lo.subject = subject;
		lo.status_mask = mask;
		if (types && types->count == 1)
			lo.artifact_type = types->values[0]->string;
		if ((rc = iterator_at(&it, repo, &lo, resumed ? tok.iter_token : NULL)))
			goto done;
		int64_t count = 0;
		ecr_buf prev = ECR_BUF_INIT;
		for (;;) {
			ecr_image *img;
			ecr_buf_dispose(&prev);
			if ((rc = ecr_image_iterator_token(&prev, it)) || (rc = iterator_next(&img, it, resumed)))
				break;
			if (!artifact_type_wanted(types, img))
				continue;
			if (count == max) {
				rc = page_token_encode(&next, 'R', query.ptr, prev.ptr ? prev.ptr : "", NULL, NULL);
				break;
			}
			if ((rc = write_referrer(call->out, img)))
				break;
			count++;
		}
		ecr_buf_dispose(&prev);
		if (rc == ECR_ITEROVER)
			rc = 0;
		if (rc)
			goto done;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	if (next.size)
		rc = ecr__jw_key_string(call->out, "nextToken", next.ptr);
done:
	page_token_dispose(&tok);
	ecr_image_iterator_free(it);
	ecr_buf_dispose(&next);
	ecr_buf_dispose(&query);
	ecr_repository_free(repo);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_images[] = {
    {"BatchCheckLayerAvailability", op_batch_check_layer_availability},
    {"BatchDeleteImage", op_batch_delete_image},
    {"BatchGetImage", op_batch_get_image},
    {"CompleteLayerUpload", op_complete_layer_upload},
    {"DescribeImages", op_describe_images},
    {"GetDownloadUrlForLayer", op_get_download_url_for_layer},
    {"InitiateLayerUpload", op_initiate_layer_upload},
    {"ListImageReferrers", op_list_image_referrers},
    {"ListImages", op_list_images},
    {"PutImage", op_put_image},
    {"UploadLayerPart", op_upload_layer_part},
    {NULL, NULL},
};
