/*
 * Events (include/ecr/event.h): raising them to the registry's callback and
 * writing them as the EventBridge documents ECR sends (docs/events.md).
 */
#include "engine.h"

#include <string.h>
#include <time.h>

#include "ecr/public.h"
#include "../core/crypto.h"
#include "../core/json.h"

void ecr__event_emit(ecr_registry *reg, ecr_event *ev)
{
	if (!reg || !reg->event_cb)
		return;
	ev->version = ECR_EVENT_VERSION;
	if (!ev->account_id)
		ev->account_id = reg->account_id;
	if (!ev->region)
		ev->region = reg->region;
	if (!ev->time_ms)
		ev->time_ms = ecr_registry_now(reg);
	ecr__error_saved saved;
	ecr__error_save(&saved);
	reg->event_cb(ev, reg->event_payload);
	ecr__error_restore(&saved);
}

void ecr__event_raise(ecr_registry *reg, ecr_event_type type, const char *repository, const char *digest,
	const char *const *tags, size_t tags_count, uint32_t rule_priority, int64_t time_ms)
{
	ecr_event ev;
	if (!reg->event_cb)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.repository = repository;
	ev.digest = digest;
	ev.tags = tags;
	ev.tags_count = tags_count;
	ev.rule_priority = rule_priority;
	ev.time_ms = time_ms;
	ecr__event_emit(reg, &ev);
}

const char *ecr_event_detail_type(ecr_event_type type)
{
	switch (type) {
	case ECR_EVENT_IMAGE_PUSH:
	case ECR_EVENT_IMAGE_DELETE:
	case ECR_EVENT_LIFECYCLE_EXPIRE:
	case ECR_EVENT_LIFECYCLE_TRANSITION:
		return "ECR Image Action";
	case ECR_EVENT_IMAGE_SCAN:
		return "ECR Image Scan";
	case ECR_EVENT_REPLICATION:
		return "ECR Replication Action";
	case ECR_EVENT_PULL_THROUGH_CACHE:
		return "ECR Pull Through Cache Action";
	}
	return NULL;
}

static const char *action_type(ecr_event_type type)
{
	switch (type) {
	case ECR_EVENT_IMAGE_PUSH:
		return "PUSH";
	case ECR_EVENT_IMAGE_DELETE:
		return "DELETE";
	case ECR_EVENT_LIFECYCLE_EXPIRE:
		return "EXPIRE";
	case ECR_EVENT_LIFECYCLE_TRANSITION:
		return "TRANSITION";
	case ECR_EVENT_REPLICATION:
		return "REPLICATE";
	default:
		return NULL;
	}
}

static int key_opt(ecr__jw *w, const char *key, const char *value)
{
	return value ? ecr__jw_key_string(w, key, value) : 0;
}

static int tag_list(ecr__jw *w, const char *key, const ecr_event *e)
{
	int rc = ecr__jw_key(w, key);
	if (!rc)
		rc = ecr__jw_array_open(w);
	for (size_t i = 0; !rc && i < e->tags_count; i++)
		if (e->tags[i])
			rc = ecr__jw_string(w, e->tags[i]);
	if (!rc)
		rc = ecr__jw_array_close(w);
	return rc;
}

/* The tag an "image-tag" field names: the event's tag, else the image's first tag. */
static const char *one_tag(const ecr_event *e)
{
	if (e->tag)
		return e->tag;
	return e->tags_count && e->tags ? e->tags[0] : NULL;
}

static int severity_counts(ecr__jw *w, const ecr_event *e)
{
	static const char *names[] = { "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED" };
	const uint32_t counts[] = { e->findings_critical, e->findings_high, e->findings_medium, e->findings_low,
		e->findings_informational, e->findings_undefined };
	int rc = ecr__jw_key(w, "finding-severity-counts");
	if (!rc)
		rc = ecr__jw_object_open(w);
	for (size_t i = 0; !rc && i < sizeof(counts) / sizeof(counts[0]); i++)
		if (counts[i] && !(rc = ecr__jw_key(w, names[i])))
			rc = ecr__jw_int(w, counts[i]);
	if (!rc)
		rc = ecr__jw_object_close(w);
	return rc;
}

static int detail(ecr__jw *w, const ecr_event *e)
{
	const char *result = e->result == ECR_EVENT_FAILURE ? "FAILURE" : "SUCCESS";
	int rc = ecr__jw_object_open(w);
	if (rc)
		return rc;
	switch (e->type) {
	case ECR_EVENT_IMAGE_PUSH:
	case ECR_EVENT_IMAGE_DELETE:
	case ECR_EVENT_LIFECYCLE_EXPIRE:
	case ECR_EVENT_LIFECYCLE_TRANSITION:
		if (!(rc = ecr__jw_key_string(w, "result", result)) &&
			!(rc = ecr__jw_key_string(w, "repository-name", e->repository)) &&
			!(rc = key_opt(w, "image-digest", e->digest)) &&
			!(rc = ecr__jw_key_string(w, "action-type", action_type(e->type))))
			rc = key_opt(w, "image-tag", one_tag(e));
		/* libecr's additions for lifecycle actions (ECR reports them through CloudTrail only) */
		if (!rc && (e->type == ECR_EVENT_LIFECYCLE_EXPIRE || e->type == ECR_EVENT_LIFECYCLE_TRANSITION) &&
			!(rc = tag_list(w, "image-tags", e)))
			rc = ecr__jw_key_int(w, "lifecycle-rule-priority", e->rule_priority);
		break;
	case ECR_EVENT_IMAGE_SCAN:
		if (!(rc = ecr__jw_key_string(w, "scan-status", e->result == ECR_EVENT_FAILURE ? "FAILED" : "COMPLETE")) &&
			!(rc = ecr__jw_key_string(w, "repository-name", e->repository)) &&
			!(rc = severity_counts(w, e)) && !(rc = key_opt(w, "image-digest", e->digest)))
			rc = tag_list(w, "image-tags", e);
		break;
	case ECR_EVENT_REPLICATION:
		if (!(rc = ecr__jw_key_string(w, "result", result)) &&
			!(rc = ecr__jw_key_string(w, "repository-name", e->repository)) &&
			!(rc = key_opt(w, "image-digest", e->digest)) &&
			!(rc = key_opt(w, "source-account", e->source_account_id)) &&
			!(rc = ecr__jw_key_string(w, "action-type", "REPLICATE")) &&
			!(rc = key_opt(w, "source-region", e->source_region)) && !(rc = key_opt(w, "image-tag", one_tag(e))))
			rc = e->result == ECR_EVENT_FAILURE ? key_opt(w, "failure-reason", e->reason) : 0;
		break;
	case ECR_EVENT_PULL_THROUGH_CACHE:
		if (!(rc = ecr__jw_key_string(w, "rule-version", "1")) &&
			!(rc = ecr__jw_key_string(w, "sync-status", result)) &&
			!(rc = key_opt(w, "ecr-repository-prefix", e->repository_prefix)) &&
			!(rc = ecr__jw_key_string(w, "repository-name", e->repository)) &&
			!(rc = key_opt(w, "upstream-registry-url", e->upstream_url)) &&
			!(rc = key_opt(w, "image-tag", one_tag(e))) && !(rc = key_opt(w, "image-digest", e->digest)))
			rc = e->result == ECR_EVENT_FAILURE ? key_opt(w, "failure-reason", e->reason) : 0;
		break;
	}
	if (!rc)
		rc = ecr__jw_object_close(w);
	return rc;
}

int ecr_event_to_json(ecr_buf *out, const ecr_event *e)
{
	ecr__jw *w = NULL;
	ecr_buf arn = ECR_BUF_INIT;
	char id[37], when[32];
	const char *dt;
	struct tm tm;
	time_t secs;
	int rc;

	if (!out || !e)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no buffer or no event");
	if (!(dt = ecr_event_detail_type(e->type)))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "unknown event type %d", (int)e->type);
	if (!e->account_id || !e->region || !e->repository)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "event without account, region or repository");
	secs = (time_t)((e->time_ms >= 0 ? e->time_ms : e->time_ms - 999) / 1000);
	if (!gmtime_r(&secs, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "event time %lld out of range", (long long)e->time_ms);
	if ((rc = ecr__uuid_v4(id)))
		return rc;
	if (strcmp(e->region, ECR_REGION_PUBLIC) == 0)
		rc = ecr__buf_printf(&arn, "arn:aws:ecr-public::%s:repository/%s", e->account_id, e->repository);
	else
		rc = ecr__buf_printf(&arn, "arn:aws:ecr:%s:%s:repository/%s", e->region, e->account_id, e->repository);
	if (rc || (rc = ecr__jw_new(&w)))
		goto done;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key_string(w, "version", "0")) ||
		(rc = ecr__jw_key_string(w, "id", id)) || (rc = ecr__jw_key_string(w, "detail-type", dt)) ||
		(rc = ecr__jw_key_string(w, "source", "aws.ecr")) || (rc = ecr__jw_key_string(w, "account", e->account_id)) ||
		(rc = ecr__jw_key_string(w, "time", when)) || (rc = ecr__jw_key_string(w, "region", e->region)) ||
		(rc = ecr__jw_key(w, "resources")) || (rc = ecr__jw_array_open(w)) || (rc = ecr__jw_string(w, arn.ptr)) ||
		(rc = ecr__jw_array_close(w)) || (rc = ecr__jw_key(w, "detail")) || (rc = detail(w, e)) ||
		(rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__jw_finish(w, out);
done:
	ecr__jw_free(w);
	ecr_buf_dispose(&arn);
	return rc;
}
