/* Usage metering of a remote registry through GetUsage (remote_usage.h). */
#include "remote_usage.h"

#include "remote.h"

static const struct {
	const char *key;
	size_t offset;
} usage_members[] = {
	{ "repositoryCount", offsetof(ecr_usage, repositories) },
	{ "images", offsetof(ecr_usage, images) },
	{ "storedBytes", offsetof(ecr_usage, stored_bytes) },
	{ "storedBytesUnique", offsetof(ecr_usage, stored_bytes_unique) },
	{ "pushedBytes", offsetof(ecr_usage, pushed_bytes) },
	{ "pulledBytes", offsetof(ecr_usage, pulled_bytes) },
	{ "imagePushes", offsetof(ecr_usage, image_pushes) },
	{ "imagePulls", offsetof(ecr_usage, image_pulls) },
	{ "blobUploads", offsetof(ecr_usage, blob_uploads) },
	{ "blobDownloads", offsetof(ecr_usage, blob_downloads) },
};
#define USAGE_MEMBERS (sizeof(usage_members) / sizeof(usage_members[0]))

int ecr__usage_write_json(ecr__jw *w, const ecr_usage *u)
{
	int rc = 0;
	for (size_t i = 0; i < USAGE_MEMBERS && !rc; i++) {
		uint64_t v = *(const uint64_t *)(const void *)((const char *)u + usage_members[i].offset);
		rc = ecr__jw_key_int(w, usage_members[i].key, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
	}
	if (!rc)
		rc = ecr__jw_key_int(w, "from", u->from_ms / 1000);
	if (!rc)
		rc = ecr__jw_key_int(w, "to", u->to_ms / 1000);
	return rc;
}

static int member(int64_t *out, const ecr__json *obj, const char *key)
{
	const ecr__json *v = ecr__json_get(obj, key);
	*out = 0;
	if (!v)
		return 0;
	if (v->type != ECR__JSON_NUMBER || !v->is_integer || v->integer < 0 ||
		v->integer > INT64_MAX / 1000)
		return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "GetUsage: malformed member %s in the response", key);
	*out = v->integer;
	return 0;
}

int ecr__usage_read_json(ecr_usage *out, const ecr__json *obj)
{
	int64_t v;
	int rc;
	memset(out, 0, sizeof(*out));
	out->version = ECR_USAGE_VERSION;
	if (!obj || obj->type != ECR__JSON_OBJECT)
		return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "GetUsage: the response is not an object");
	for (size_t i = 0; i < USAGE_MEMBERS; i++) {
		if ((rc = member(&v, obj, usage_members[i].key)))
			return rc;
		*(uint64_t *)(void *)((char *)out + usage_members[i].offset) = (uint64_t)v;
	}
	if ((rc = member(&v, obj, "from")))
		return rc;
	out->from_ms = v * 1000;
	if ((rc = member(&v, obj, "to")))
		return rc;
	out->to_ms = v * 1000;
	return 0;
}

/* GetUsage with the window (seconds, rounded out: the server rounds to days anyway) and repository. */
static int get_usage(ecr__json **res, ecr_registry *reg, const char *repository, int64_t from_ms, int64_t to_ms)
{
	ecr__jw *w = NULL;
	int rc;
	*res = NULL;
	if (from_ms < 0 || to_ms < 0 || (to_ms && to_ms < from_ms))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid usage window [%lld, %lld)", (long long)from_ms,
			(long long)to_ms);
	if ((rc = ecr__jw_new(&w)))
		return rc;
	rc = ecr__jw_object_open(w);
	if (!rc && repository)
		rc = ecr__jw_key_string(w, "repositoryName", repository);
	if (!rc && from_ms)
		rc = ecr__jw_key_int(w, "from", from_ms / 1000);
	if (!rc && to_ms)
		rc = ecr__jw_key_int(w, "to", to_ms / 1000 + (to_ms % 1000 != 0));
	return ecr__remote_run(res, reg, "GetUsage", w, rc);
}

int ecr__remote_usage(ecr_usage *out, ecr_registry *reg, const char *repository, int64_t from_ms, int64_t to_ms)
{
	ecr__json *res = NULL;
	int rc = get_usage(&res, reg, repository, from_ms, to_ms);
	if (!rc)
		rc = ecr__usage_read_json(out, res);
	ecr__json_free(res);
	return rc;
}

int ecr__remote_usage_foreach(ecr_registry *reg, int64_t from_ms, int64_t to_ms, ecr_usage_cb cb, void *payload)
{
	ecr__json *res = NULL;
	ecr_usage u;
	int rc = get_usage(&res, reg, NULL, from_ms, to_ms);
	if (rc)
		goto done;
	const ecr__json *list = ecr__json_get(res, "repositories");
	if (!list || list->type != ECR__JSON_ARRAY) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "GetUsage: the response has no repositories list");
		goto done;
	}
	for (size_t i = 0; i < list->count && !rc; i++) {
		const char *name = ecr__json_get_string(list->values[i], "repositoryName");
		if (!name) {
			rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "GetUsage: a repository without repositoryName");
			break;
		}
		if ((rc = ecr__usage_read_json(&u, list->values[i])))
			break;
		rc = cb(name, &u, payload);
	}
done:
	ecr__json_free(res);
	return rc;
}
