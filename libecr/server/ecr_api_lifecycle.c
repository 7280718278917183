/* The ECR control plane: lifecycle policies and storage classes
 * (PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy,
 * StartLifecyclePolicyPreview, GetLifecyclePolicyPreview,
 * UpdateImageStorageClass). Shapes and errors follow ecr-api.md §3.6, §5.6
 * and §8.4.
 *
 * Previews: StartLifecyclePolicyPreview evaluates the policy at once
 * (ecr_repository_lifecycle_preview) and keeps the images it acts on in a
 * small table of the server, keyed by account, region and repository
 * (PREVIEW_TABLE_SIZE entries, the least recently used one is reused). As
 * ECR's clients expect an asynchronous job, a preview answers IN_PROGRESS
 * once (to the Start and to the first Get), COMPLETE from then on; a Start
 * while a preview of the repository is still IN_PROGRESS is refused with
 * LifecyclePolicyPreviewInProgressException. */
#include "ecr_api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/crypto.h"
#include "ecr/lifecycle.h"

#define PREVIEW_TABLE_SIZE 256
#define PREVIEW_MAX_RESULTS 100
#define IMAGE_IDS_MAX 100
#define IMAGE_TAG_MAX_LEN 300
#define NEXT_TOKEN_MAX 256

/* --- the preview table --- */

typedef struct preview_image {
	char *digest;
	char **tags;
	size_t tags_count;
	int64_t pushed_at;
	ecr_lifecycle_action action;
	uint32_t rule_priority;
	ecr_storage_class storage_class;
} preview_image;

typedef struct preview {
	char *key; /* "<account>\n<region>\n<repository>", NULL: a free slot */
	char *text;
	preview_image *images; /* the images the policy acts on, in the library's order */
	size_t count, cap;
	uint64_t generation; /* tells nextTokens of different previews apart */
	unsigned int polls;  /* Gets answered so far: 0 means still IN_PROGRESS */
	uint64_t used;
} preview;

struct ecr__lifecycle_previews {
	pthread_mutex_t lock;
	preview slots[PREVIEW_TABLE_SIZE];
	uint64_t clock;
	uint64_t generation;
};

static void preview_image_dispose(preview_image *img)
{
	for (size_t i = 0; i < img->tags_count; i++)
		ecr__free(img->tags[i]);
	ecr__free(img->tags);
	ecr__free(img->digest);
	memset(img, 0, sizeof(*img));
}

static void preview_dispose(preview *p)
{
	for (size_t i = 0; i < p->count; i++)
		preview_image_dispose(&p->images[i]);
	ecr__free(p->images);
	ecr__free(p->key);
	ecr__free(p->text);
	memset(p, 0, sizeof(*p));
}

void ecr__api_lifecycle_previews_free(ecr__lifecycle_previews *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < PREVIEW_TABLE_SIZE; i++)
		preview_dispose(&t->slots[i]);
	pthread_mutex_destroy(&t->lock);
	ecr__free(t);
}

/* The server's table, created on first use. */
static int previews_of(ecr__lifecycle_previews **out, ecr_server *srv)
{
	ecr__lifecycle_previews *t = atomic_load(&srv->lifecycle_previews), *expected = NULL;
	if (!t) {
		if (!(t = ecr__calloc(1, sizeof(*t))))
			return ECR_ENOMEM;
		if (pthread_mutex_init(&t->lock, NULL) != 0) {
			ecr__free(t);
			return ecr__fail(ECR_ERROR, ECR_ERROR_OS, "cannot create a mutex");
		}
		if (!atomic_compare_exchange_strong(&srv->lifecycle_previews, &expected, t)) {
			ecr__api_lifecycle_previews_free(t);
			t = expected;
		}
	}
	*out = t;
	return 0;
}

/* The slot of key; call with the lock held. NULL when missing. */
static preview *preview_find(ecr__lifecycle_previews *t, const char *key)
{
	for (size_t i = 0; i < PREVIEW_TABLE_SIZE; i++)
		if (t->slots[i].key && strcmp(t->slots[i].key, key) == 0)
			return &t->slots[i];
	return NULL;
}

static int preview_key(ecr_buf *out, ecr_api_call *call, ecr_repository *repo)
{
	return ecr__buf_printf(out, "%s\n%s\n%s", ecr_registry_account_id(call->reg), ecr_registry_region(call->reg),
	                       ecr_repository_name(repo));
}

/* Collects a preview's results (outside the table's lock). */
static int collect_image(ecr_image *img, ecr_lifecycle_action action, uint32_t rule_priority, void *payload)
{
	preview *p = payload;
	if (action == ECR_LIFECYCLE_KEEP)
		return 0;
	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16, bytes;
		preview_image *grown;
		if (ecr__mul_overflow(cap, sizeof(*grown), &bytes))
			return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "too many images in a preview");
		if (!(grown = ecr__realloc(p->images, bytes)))
			return ECR_ENOMEM;
		p->images = grown;
		p->cap = cap;
	}
	preview_image *e = &p->images[p->count];
	memset(e, 0, sizeof(*e));
	size_t n = ecr_image_tag_count(img);
	if (!(e->digest = ecr__strdup(ecr_image_digest(img))) || (n && !(e->tags = ecr__calloc(n, sizeof(char *))))) {
		preview_image_dispose(e);
		return ECR_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!(e->tags[i] = ecr__strdup(ecr_image_tag(img, i)))) {
			preview_image_dispose(e);
			return ECR_ENOMEM;
		}
		e->tags_count++;
	}
	e->pushed_at = ecr_image_pushed_at(img);
	e->action = action;
	e->rule_priority = rule_priority;
	e->storage_class = ecr_image_storage_class(img);
	p->count++;
	return 0;
}

/* --- helpers --- */

static int invalid_param(const char *field, const char *reason)
{
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
	                 "Invalid parameter at '%s' failed to satisfy constraint: '%s'", field, reason);
}

/* Authorize "ecr:<operation>" on the repository's ARN, then open it. */
static int open_repo(ecr_repository **out, ecr_api_call *call)
{
	const char *name;
	char arn[400];
	*out = NULL;
	int rc = ecr__api_string(&name, call, "repositoryName", true, 2, 256);
	if (rc)
		return rc;
	snprintf(arn, sizeof(arn), "arn:aws:ecr:%s:%s:repository/%s", ecr_registry_region(call->reg),
	         ecr_registry_account_id(call->reg), name);
	if ((rc = ecr__api_authorize(call, call->operation, arn)))
		return rc;
	return ecr__api_repository(out, call);
}

static int write_head(ecr_api_call *call, ecr_repository *repo)
{
	int rc = ecr__jw_key_string(call->out, "registryId", ecr_repository_registry_id(repo));
	return rc ? rc : ecr__jw_key_string(call->out, "repositoryName", ecr_repository_name(repo));
}

/* lifecyclePolicyText: 100..30720 characters. */
static int policy_text(const char **out, ecr_api_call *call, bool required)
{
	return ecr__api_string(out, call, "lifecyclePolicyText", required, ECR_LIFECYCLE_POLICY_MIN_SIZE,
	                       ECR_LIFECYCLE_POLICY_MAX_SIZE);
}

/* An optional member of a nested object of the given type; *out NULL when absent. */
static int nested(const ecr__json **out, ecr_api_call *call, const ecr__json *obj, const char *field,
                  ecr__json_type type, const char *expected)
{
	const ecr__json *v = obj ? ecr__json_get(obj, field) : NULL;
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != type)
		return ecr__api_type_error(call, field, expected);
	if (type == ECR__JSON_STRING && strlen(v->string) != v->length)
		return invalid_param(field, "Member must not contain NUL characters");
	*out = v;
	return 0;
}

/* --- PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy --- */

static int op_put_lifecycle_policy(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	const char *text;
	int rc;
	if ((rc = open_repo(&repo, call)) || (rc = policy_text(&text, call, true)) ||
	    (rc = ecr_repository_set_lifecycle_policy(repo, text)))
		goto done;
	if ((rc = write_head(call, repo)))
		goto done;
	rc = ecr__jw_key_string(call->out, "lifecyclePolicyText", text);
done:
	ecr_repository_free(repo);
	return rc;
}

static int policy_not_found(ecr_repository *repo)
{
	return ecr__fail(
	    ECR_ELIFECYCLE_POLICY_NOT_FOUND, ECR_ERROR_REPOSITORY,
	    "Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'",
	    ecr_repository_name(repo), ecr_repository_registry_id(repo));
}

static int op_get_or_delete_lifecycle_policy(ecr_api_call *call, bool delete)
{
	ecr_repository *repo = NULL;
	ecr_buf text = ECR_BUF_INIT;
	int64_t evaluated = 0;
	int rc;
	if ((rc = open_repo(&repo, call)))
		goto done;
	rc = delete ? ecr_repository_delete_lifecycle_policy(&text, &evaluated, repo)
	            : ecr_repository_lifecycle_policy(&text, &evaluated, repo);
	if (rc == ECR_ELIFECYCLE_POLICY_NOT_FOUND)
		rc = policy_not_found(repo);
	if (rc || (rc = write_head(call, repo)) ||
	    (rc = ecr__jw_key_string(call->out, "lifecyclePolicyText", text.ptr ? text.ptr : "")))
		goto done;
	if (evaluated > 0 &&
	    ((rc = ecr__jw_key(call->out, "lastEvaluatedAt")) || (rc = ecr__api_write_time(call->out, evaluated))))
		goto done;
done:
	ecr_buf_dispose(&text);
	ecr_repository_free(repo);
	return rc;
}

static int op_get_lifecycle_policy(ecr_api_call *call)
{
	return op_get_or_delete_lifecycle_policy(call, false);
}

static int op_delete_lifecycle_policy(ecr_api_call *call)
{
	return op_get_or_delete_lifecycle_policy(call, true);
}

/* --- StartLifecyclePolicyPreview --- */

static int op_start_lifecycle_policy_preview(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr__lifecycle_previews *t = NULL;
	ecr_buf key = ECR_BUF_INIT, stored = ECR_BUF_INIT;
	preview fresh = {0};
	const char *text;
	int rc;

	if ((rc = open_repo(&repo, call)) || (rc = policy_text(&text, call, false)) ||
	    (rc = previews_of(&t, call->r->srv)) || (rc = preview_key(&key, call, repo)))
		goto done;
	pthread_mutex_lock(&t->lock);
	preview *p = preview_find(t, key.ptr);
	bool busy = p && p->polls == 0;
	pthread_mutex_unlock(&t->lock);
	if (busy) {
		rc = ecr__fail(
		    ECR_ELIFECYCLE_PREVIEW_IN_PROGRESS, ECR_ERROR_REPOSITORY,
		    "Previous lifecycle policy preview request has not completed for the repository with name '%s' "
		    "in the registry with id '%s'",
		    ecr_repository_name(repo), ecr_repository_registry_id(repo));
		goto done;
	}
	if (!text) {
		rc = ecr_repository_lifecycle_policy(&stored, NULL, repo);
		if (rc == ECR_ELIFECYCLE_POLICY_NOT_FOUND)
			rc = policy_not_found(repo);
		if (rc)
			goto done;
		text = stored.ptr;
	}
	/* evaluate outside the lock: it reads the whole repository */
	if ((rc = ecr_repository_lifecycle_preview(repo, text, collect_image, &fresh)))
		goto done;
	if (!(fresh.text = ecr__strdup(text)) || !(fresh.key = ecr__strdup(key.ptr))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	pthread_mutex_lock(&t->lock);
	if (!(p = preview_find(t, key.ptr))) {
		p = &t->slots[0];
		for (size_t i = 0; i < PREVIEW_TABLE_SIZE && p->key; i++)
			if (!t->slots[i].key || t->slots[i].used < p->used)
				p = &t->slots[i];
	}
	preview_dispose(p);
	*p = fresh;
	memset(&fresh, 0, sizeof(fresh));
	p->generation = ++t->generation;
	p->used = ++t->clock;
	pthread_mutex_unlock(&t->lock);
	if ((rc = write_head(call, repo)) || (rc = ecr__jw_key_string(call->out, "lifecyclePolicyText", text)))
		goto done;
	rc = ecr__jw_key_string(call->out, "status", "IN_PROGRESS");
done:
	preview_dispose(&fresh);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&stored);
	ecr_repository_free(repo);
	return rc;
}

/* --- GetLifecyclePolicyPreview --- */

/* A nextToken: base64url("<generation>:<index>:<query>"). */
static int token_encode(ecr_buf *out, uint64_t generation, size_t index, const char *query)
{
	ecr_buf raw = ECR_BUF_INIT;
	int rc = ecr__buf_printf(&raw, "%" PRIu64 ":%zu:%s", generation, index, query);
	if (!rc)
		rc = ecr__base64url_encode(out, raw.ptr, raw.size);
	ecr_buf_dispose(&raw);
	return rc;
}

static int token_decode(size_t *index_out, uint64_t generation, const char *query, const char *text)
{
	ecr_buf raw = ECR_BUF_INIT, want = ECR_BUF_INIT;
	int rc;
	if (strlen(text) > NEXT_TOKEN_MAX || ecr__base64url_decode(&raw, text, strlen(text)) != 0 || !raw.ptr ||
	    memchr(raw.ptr, '\0', raw.size)) {
		ecr_error_clear();
		rc = invalid_param("nextToken", "Invalid nextToken");
		goto done;
	}
	char *colon = strchr(raw.ptr, ':'), *end = NULL;
	unsigned long long idx = colon ? strtoull(colon + 1, &end, 10) : 0;
	if ((rc = ecr__buf_printf(&want, "%" PRIu64 ":", generation)))
		goto done;
	if (!colon || strncmp(raw.ptr, want.ptr, want.size) != 0 || !end || end == colon + 1 || *end != ':' ||
	    strcmp(end + 1, query) != 0 || idx > SIZE_MAX) {
		rc = invalid_param("nextToken", "Invalid nextToken");
		goto done;
	}
	*index_out = (size_t)idx;
	rc = 0;
done:
	ecr_buf_dispose(&raw);
	ecr_buf_dispose(&want);
	return rc;
}

typedef struct id_filter {
	const char *digest, *tag;
} id_filter;

static bool image_matches(const preview_image *img, ecr_tag_status status, const id_filter *ids, size_t nids)
{
	if (status == ECR_TAG_STATUS_TAGGED && !img->tags_count)
		return false;
	if (status == ECR_TAG_STATUS_UNTAGGED && img->tags_count)
		return false;
	if (!nids)
		return true;
	for (size_t i = 0; i < nids; i++) {
		bool ok = !ids[i].digest || strcmp(ids[i].digest, img->digest) == 0;
		if (ok && ids[i].tag) {
			ok = false;
			for (size_t j = 0; j < img->tags_count && !ok; j++)
				ok = strcmp(img->tags[j], ids[i].tag) == 0;
		}
		if (ok)
			return true;
	}
	return false;
}

static int write_result(ecr__jw *w, const preview_image *img)
{
	int rc;
	if ((rc = ecr__jw_object_open(w)))
		return rc;
	if (img->tags_count) {
		if ((rc = ecr__jw_key(w, "imageTags")) || (rc = ecr__jw_array_open(w)))
			return rc;
		for (size_t i = 0; i < img->tags_count; i++)
			if ((rc = ecr__jw_string(w, img->tags[i])))
				return rc;
		if ((rc = ecr__jw_array_close(w)))
			return rc;
	}
	if ((rc = ecr__jw_key_string(w, "imageDigest", img->digest)) || (rc = ecr__jw_key(w, "imagePushedAt")) ||
	    (rc = ecr__api_write_time(w, img->pushed_at)) || (rc = ecr__jw_key(w, "action")) ||
	    (rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_string(w, "type", img->action == ECR_LIFECYCLE_TRANSITION ? "TRANSITION" : "EXPIRE")))
		return rc;
	if (img->action == ECR_LIFECYCLE_TRANSITION && (rc = ecr__jw_key_string(w, "targetStorageClass", "ARCHIVE")))
		return rc;
	if ((rc = ecr__jw_object_close(w)) || (rc = ecr__jw_key_int(w, "appliedRulePriority", img->rule_priority)) ||
	    (rc = ecr__jw_key_string(w, "storageClass",
	                             img->storage_class == ECR_STORAGE_CLASS_ARCHIVE ? "ARCHIVE" : "STANDARD")))
		return rc;
	return ecr__jw_object_close(w);
}

static int write_summary(ecr__jw *w, const preview *p)
{
	int64_t expiring = 0, transitioning = 0;
	int rc;
	for (size_t i = 0; i < p->count; i++) {
		if (p->images[i].action == ECR_LIFECYCLE_TRANSITION)
			transitioning++;
		else
			expiring++;
	}
	if ((rc = ecr__jw_key(w, "summary")) || (rc = ecr__jw_object_open(w)) ||
	    (rc = ecr__jw_key_int(w, "expiringImageTotalCount", expiring)))
		return rc;
	if (transitioning &&
	    ((rc = ecr__jw_key(w, "transitioningImageTotalCounts")) || (rc = ecr__jw_array_open(w)) ||
	     (rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "targetStorageClass", "ARCHIVE")) ||
	     (rc = ecr__jw_key_int(w, "imageTotalCount", transitioning)) || (rc = ecr__jw_object_close(w)) ||
	     (rc = ecr__jw_array_close(w))))
		return rc;
	return ecr__jw_object_close(w);
}

/* imageIds: 1..100 identifiers, each with a digest or a tag. */
static int parse_ids(id_filter *ids, size_t *n, ecr_api_call *call, const ecr__json *list)
{
	int rc;
	*n = 0;
	if (!list)
		return 0;
	if (list->count < 1)
		return invalid_param("imageIds", "Member must have length greater than or equal to 1");
	if (list->count > IMAGE_IDS_MAX)
		return invalid_param("imageIds", "Member must have length less than or equal to 100");
	for (size_t i = 0; i < list->count; i++) {
		const ecr__json *d, *t, *v = list->values[i];
		if (v->type != ECR__JSON_OBJECT)
			return ecr__api_type_error(call, "imageIds", "a list of structures");
		if ((rc = nested(&d, call, v, "imageDigest", ECR__JSON_STRING, "a string")) ||
		    (rc = nested(&t, call, v, "imageTag", ECR__JSON_STRING, "a string")))
			return rc;
		if (t && (t->length < 1 || t->length > IMAGE_TAG_MAX_LEN))
			return invalid_param("imageIds.member.imageTag", "Member must have length between 1 and 300");
		if (!d && !t)
			return invalid_param("imageIds",
			                     "Invalid request parameters: both tag and digest cannot be null");
		ids[i] = (id_filter){d ? d->string : NULL, t ? t->string : NULL};
	}
	*n = list->count;
	return 0;
}

static int op_get_lifecycle_policy_preview(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr__lifecycle_previews *t = NULL;
	ecr_buf key = ECR_BUF_INIT, next = ECR_BUF_INIT;
	id_filter *ids = NULL;
	size_t nids = 0, start = 0;
	const ecr__json *ids_in, *filter, *ts;
	const char *token;
	ecr_tag_status status = ECR_TAG_STATUS_ANY;
	int64_t max;
	bool max_given, locked = false;
	char query[8];
	int rc;

	if ((rc = open_repo(&repo, call)) ||
	    (rc = nested(&ids_in, call, call->input, "imageIds", ECR__JSON_ARRAY, "a list")) ||
	    (rc = ecr__api_string(&token, call, "nextToken", false, 0, 0)) ||
	    (rc = ecr__api_int(&max, &max_given, call, "maxResults", 1, PREVIEW_MAX_RESULTS, PREVIEW_MAX_RESULTS)) ||
	    (rc = nested(&filter, call, call->input, "filter", ECR__JSON_OBJECT, "a structure")) ||
	    (rc = nested(&ts, call, filter, "tagStatus", ECR__JSON_STRING, "a string")))
		goto done;
	if (ts) {
		if (strcmp(ts->string, "TAGGED") == 0)
			status = ECR_TAG_STATUS_TAGGED;
		else if (strcmp(ts->string, "UNTAGGED") == 0)
			status = ECR_TAG_STATUS_UNTAGGED;
		else if (strcmp(ts->string, "ANY") != 0) {
			rc = invalid_param("filter.tagStatus",
			                   "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]");
			goto done;
		}
	}
	if (ids_in) {
		if (max_given || (token && *token)) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			               "Invalid parameter: imageIds cannot be used with nextToken or maxResults");
			goto done;
		}
		if (!(ids = ecr__calloc(ids_in->count ? ids_in->count : 1, sizeof(*ids)))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		if ((rc = parse_ids(ids, &nids, call, ids_in)))
			goto done;
		max = INT64_MAX; /* every match */
	}
	snprintf(query, sizeof(query), "%d", (int)status);
	if ((rc = previews_of(&t, call->r->srv)) || (rc = preview_key(&key, call, repo)))
		goto done;
	pthread_mutex_lock(&t->lock);
	locked = true;
	preview *p = preview_find(t, key.ptr);
	if (!p) {
		rc = ecr__fail(
		    ECR_ELIFECYCLE_PREVIEW_NOT_FOUND, ECR_ERROR_REPOSITORY,
		    "Lifecycle policy preview request does not exist for the repository with name '%s' in the "
		    "registry with id '%s'",
		    ecr_repository_name(repo), ecr_repository_registry_id(repo));
		goto done;
	}
	p->used = ++t->clock;
	if (token && *token && (rc = token_decode(&start, p->generation, query, token)))
		goto done;
	if ((rc = write_head(call, repo)) || (rc = ecr__jw_key_string(call->out, "lifecyclePolicyText", p->text)))
		goto done;
	if (p->polls++ == 0) {
		rc = ecr__jw_key_string(call->out, "status", "IN_PROGRESS");
		goto done;
	}
	if ((rc = ecr__jw_key_string(call->out, "status", "COMPLETE")) ||
	    (rc = ecr__jw_key(call->out, "previewResults")) || (rc = ecr__jw_array_open(call->out)))
		goto done;
	int64_t written = 0;
	for (size_t i = start; i < p->count; i++) {
		if (!image_matches(&p->images[i], status, ids, nids))
			continue;
		if (written == max) {
			if ((rc = token_encode(&next, p->generation, i, query)))
				goto done;
			break;
		}
		if ((rc = write_result(call->out, &p->images[i])))
			goto done;
		written++;
	}
	if ((rc = ecr__jw_array_close(call->out)))
		goto done;
	if (next.size && (rc = ecr__jw_key_string(call->out, "nextToken", next.ptr)))
		goto done;
	rc = write_summary(call->out, p);
done:
	if (locked)
		pthread_mutex_unlock(&t->lock);
	ecr__free(ids);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&next);
	ecr_repository_free(repo);
	return rc;
}

/* --- UpdateImageStorageClass --- */

static int op_update_image_storage_class(ecr_api_call *call)
{
	ecr_repository *repo = NULL;
	ecr_image *img = NULL, *after = NULL;
	const ecr__json *id, *d, *t;
	const char *target;
	ecr_storage_class sc;
	int rc;

	if ((rc = open_repo(&repo, call)) ||
	    (rc = nested(&id, call, call->input, "imageId", ECR__JSON_OBJECT, "a structure")) ||
	    (rc = ecr__api_string(&target, call, "targetStorageClass", true, 0, 0)))
		goto done;
	if (!id) {
		rc = invalid_param("imageId", "Member must not be null");
		goto done;
	}
	if (strcmp(target, "STANDARD") == 0)
		sc = ECR_STORAGE_CLASS_STANDARD;
	else if (strcmp(target, "ARCHIVE") == 0)
		sc = ECR_STORAGE_CLASS_ARCHIVE;
	else {
		rc = invalid_param("targetStorageClass", "Member must satisfy enum value set: [STANDARD, ARCHIVE]");
		goto done;
	}
	if ((rc = nested(&d, call, id, "imageDigest", ECR__JSON_STRING, "a string")) ||
	    (rc = nested(&t, call, id, "imageTag", ECR__JSON_STRING, "a string")))
		goto done;
	if (!d && !t) {
		rc = invalid_param("imageId", "Invalid request parameters: both tag and digest cannot be null");
		goto done;
	}
	if (t && (t->length < 1 || t->length > IMAGE_TAG_MAX_LEN)) {
		rc = invalid_param("imageId.imageTag", "Member must have length between 1 and 300");
		goto done;
	}
	rc = ecr_image_get(&img, repo, t ? t->string : d->string, ECR_IMAGE_GET_ANY_STATUS);
	if (!rc && t && d && strcmp(ecr_image_digest(img), d->string) != 0)
		rc = ECR_EIMAGE_NOT_FOUND;
	if (rc == ECR_EIMAGE_NOT_FOUND || rc == ECR_EINVALID) {
		rc = ecr__fail(
		    ECR_EIMAGE_NOT_FOUND, ECR_ERROR_IMAGE,
		    "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository "
		    "with name '%s' in the registry with id '%s'",
		    d ? d->string : "null", t ? t->string : "null", ecr_repository_name(repo),
		    ecr_repository_registry_id(repo));
		goto done;
	}
	if (rc || (rc = ecr_image_set_storage_class(&after, repo, ecr_image_digest(img), sc)))
		goto done;
	ecr_image_status st = ecr_image_status_of(after);
	if ((rc = write_head(call, repo)) || (rc = ecr__jw_key(call->out, "imageId")) ||
	    (rc = ecr__jw_object_open(call->out)) ||
	    (rc = ecr__jw_key_string(call->out, "imageDigest", ecr_image_digest(after))) ||
	    (t && (rc = ecr__jw_key_string(call->out, "imageTag", t->string))) ||
	    (rc = ecr__jw_object_close(call->out)))
		goto done;
	rc = ecr__jw_key_string(call->out, "imageStatus",
	                        st == ECR_IMAGE_ARCHIVED     ? "ARCHIVED"
	                        : st == ECR_IMAGE_ACTIVATING ? "ACTIVATING"
	                                                     : "ACTIVE");
done:
	ecr_image_free(img);
	ecr_image_free(after);
	ecr_repository_free(repo);
	return rc;
}

const ecr_api_op_entry ecr__api_ops_lifecycle[] = {
    {"PutLifecyclePolicy", op_put_lifecycle_policy},
    {"GetLifecyclePolicy", op_get_lifecycle_policy},
    {"DeleteLifecyclePolicy", op_delete_lifecycle_policy},
    {"StartLifecyclePolicyPreview", op_start_lifecycle_policy_preview},
    {"GetLifecyclePolicyPreview", op_get_lifecycle_policy_preview},
    {"UpdateImageStorageClass", op_update_image_storage_class},
    {NULL, NULL},
};
