/* Lifecycle policies of repositories: storage, preview, application (expire, transition), events,
 * lastEvaluatedAt, index children, referrers, the registry clock, images that change under an application. */
#include "../helpers/helpers.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/th_image.h"
#include "libecr/engine/engine.h"
#include "libecr/engine/leases.h"
#include "libecr/storage/meta_lease.h"

#define DAY_MS (86400LL * 1000)
#define T0 1700000000000LL
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MAX_SEEN 64

typedef struct seen {
	char digest[TH_DIGEST_MAX];
	ecr_lifecycle_action action;
	uint32_t priority;
	/* events */
	ecr_event_type type;
	char tags[128];
	int64_t time_ms;
} seen;

typedef struct fixture {
	_Atomic int64_t clock;
	ecr_registry *reg;
	ecr_repository *repo;
	uint64_t rng;
	seen events[MAX_SEEN];
	size_t nevents;
	seen calls[MAX_SEEN];
	size_t ncalls;
	bool event_fields_ok;
	/* rescue: on the first apply callback, tag this image (if it has not been acted on yet) */
	const char *rescue[2];
	bool rescued;
	char rescued_digest[TH_DIGEST_MAX];
} fixture;

static int64_t fixture_clock(void *payload)
{
	fixture *f = payload;
	return atomic_load(&f->clock);
}

static void on_event(const ecr_event *ev, void *payload)
{
	fixture *f = payload;
	if (ev->type != ECR_EVENT_LIFECYCLE_EXPIRE && ev->type != ECR_EVENT_LIFECYCLE_TRANSITION)
		return; /* pushes and deletes raise events too (tests/engine/test_events.c) */
	if (f->nevents == MAX_SEEN)
		return;
	seen *s = &f->events[f->nevents++];
	memset(s, 0, sizeof(*s));
	snprintf(s->digest, sizeof(s->digest), "%s", ev->digest);
	s->type = ev->type;
	s->priority = ev->rule_priority;
	s->time_ms = ev->time_ms;
	for (size_t i = 0; i < ev->tags_count; i++)
		snprintf(s->tags + strlen(s->tags), sizeof(s->tags) - strlen(s->tags), "%s%s", i ? "," : "",
		         ev->tags[i]);
	if (ev->version != ECR_EVENT_VERSION || strcmp(ev->account_id, "123456789012") != 0 ||
	    strcmp(ev->region, "eu-west-3") != 0 || strcmp(ev->repository, "team/app") != 0)
		f->event_fields_ok = false;
}

static int setup(void **state)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	atomic_store(&f->clock, T0);
	f->rng = 42;
	f->event_fields_ok = true;
	opts.region = "eu-west-3";
	opts.clock_cb = fixture_clock;
	opts.clock_payload = f;
	opts.event_cb = on_event;
	opts.event_payload = f;
	if (ecr_registry_open(&f->reg, "memory:", &opts) || ecr_repository_create(&f->repo, f->reg, "team/app", NULL))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_repository_free(f->repo);
	ecr_registry_free(f->reg);
	free(f);
	return 0;
}

static const char POLICY[] =
    "{\"rules\":["
    "{\"rulePriority\":1,\"description\":\"archive old\",\"selection\":{\"tagStatus\":\"tagged\","
    "\"tagPrefixList\":[\"old\"],\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":5},"
    "\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}},"
    "{\"rulePriority\":2,\"description\":\"keep two prod\",\"selection\":{\"tagStatus\":\"tagged\","
    "\"tagPrefixList\":[\"prod\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":2},"
    "\"action\":{\"type\":\"expire\"}},"
    "{\"rulePriority\":3,\"description\":\"untagged\",\"selection\":{\"tagStatus\":\"untagged\","
    "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":3},\"action\":{\"type\":\"expire\"}}"
    "]}";

/* A policy with one expire rule. */
static char *one_rule(const char *selection)
{
	char *s = malloc(1024);
	snprintf(s, 1024,
	         "{\"rules\":[{\"rulePriority\":1,\"description\":\"test rule\",\"selection\":{%s},"
	         "\"action\":{\"type\":\"expire\"}}]}",
	         selection);
	return s;
}

/* Push a random image with a tag (may be NULL) at the current clock; its digest into digest. */
static void push(fixture *f, const char *tag, char *digest)
{
	th_image img;
	assert_ok(th_image_random(&img, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->repo, &img, tag, 0));
	snprintf(digest, TH_DIGEST_MAX, "%s", img.digest);
	th_image_dispose(&img);
}

static int record_cb(ecr_image *img, ecr_lifecycle_action action, uint32_t priority, void *payload)
{
	fixture *f = payload;
	if (f->ncalls == MAX_SEEN)
		return -1;
	seen *s = &f->calls[f->ncalls++];
	memset(s, 0, sizeof(*s));
	snprintf(s->digest, sizeof(s->digest), "%s", ecr_image_digest(img));
	s->action = action;
	s->priority = priority;
	for (size_t i = 0; i < ecr_image_tag_count(img); i++)
		snprintf(s->tags + strlen(s->tags), sizeof(s->tags) - strlen(s->tags), "%s%s", i ? "," : "",
		         ecr_image_tag(img, i));
	return 0;
}

static const seen *find(const seen *v, size_t n, const char *digest)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].digest, digest) == 0)
			return &v[i];
	return NULL;
}

static bool exists(fixture *f, const char *digest, ecr_image_status *status)
{
	ecr_image *img;
	int rc = ecr_image_get(&img, f->repo, digest, ECR_IMAGE_GET_ANY_STATUS);
	if (rc == ECR_EIMAGE_NOT_FOUND)
		return false;
	assert_ok(rc);
	if (status)
		*status = ecr_image_status_of(img);
	ecr_image_free(img);
	return true;
}

static void test_engine_lifecycle_repo__policy_storage(void **state)
{
	fixture *f = *state;
	ecr_buf text = ECR_BUF_INIT;
	int64_t last = -1;

	assert_int_equal(ecr_repository_lifecycle_policy(&text, &last, f->repo), ECR_ELIFECYCLE_POLICY_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message, "Lifecycle policy does not exist for the repository with name "
	                                               "'team/app' in the registry with id '123456789012'");
	assert_int_equal(ecr_repository_delete_lifecycle_policy(NULL, NULL, f->repo), ECR_ELIFECYCLE_POLICY_NOT_FOUND);
	assert_int_equal(ecr_repository_set_lifecycle_policy(f->repo, "{\"rules\":[]}"), ECR_EINVALID);
	assert_int_equal(ecr_repository_lifecycle_policy(&text, NULL, f->repo), ECR_ELIFECYCLE_POLICY_NOT_FOUND);

	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, POLICY));
	assert_ok(ecr_repository_lifecycle_policy(&text, &last, f->repo));
	assert_string_equal(text.ptr, POLICY);
	assert_int_equal(last, 0);
	ecr_buf_dispose(&text);

	/* replace: the new text wins */
	char *other = one_rule("\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\",\"countNumber\":1");
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, other));
	assert_ok(ecr_repository_lifecycle_policy(&text, NULL, f->repo));
	assert_string_equal(text.ptr, other);
	ecr_buf_dispose(&text);

	assert_ok(ecr_repository_delete_lifecycle_policy(&text, &last, f->repo));
	assert_string_equal(text.ptr, other);
	ecr_buf_dispose(&text);
	assert_int_equal(ecr_repository_delete_lifecycle_policy(&text, NULL, f->repo), ECR_ELIFECYCLE_POLICY_NOT_FOUND);
	assert_int_equal(ecr_repository_apply_lifecycle(f->repo, NULL, NULL), ECR_ELIFECYCLE_POLICY_NOT_FOUND);
	assert_int_equal(ecr_repository_lifecycle_preview(f->repo, NULL, record_cb, f),
	                 ECR_ELIFECYCLE_POLICY_NOT_FOUND);

	/* deleting the repository removes its policy row */
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, other));
	assert_ok(ecr_repository_delete(f->reg, "team/app", ECR_REPOSITORY_DELETE_FORCE));
	assert_int_equal(ecr_repository_lifecycle_policy(&text, NULL, f->repo), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_repository_set_lifecycle_policy(f->repo, other), ECR_EREPOSITORY_NOT_FOUND);
	ecr__txn t;
	int64_t rows = -1;
	assert_ok(ecr__txn_begin(&t, f->reg->store->meta, false));
	assert_ok(ecr__sql(&t, "SELECT COUNT(*) FROM lifecycle_policies", NULL, 0, ecr__sql_col_int, &rows, NULL));
	ecr__txn_rollback(&t);
	assert_int_equal(rows, 0);
	free(other);
}

typedef struct scenario {
	char u[2][TH_DIGEST_MAX];
	char p[4][TH_DIGEST_MAX];
	char o[TH_DIGEST_MAX];
} scenario;

/* old-0 (an hour before day 0); prod-0..3 (days 0..3); u0, u1 untagged (a second after prod-0, prod-1); then
 * the clock goes to day 10. */
static void build_scenario(fixture *f, scenario *sc)
{
	char tag[32];
	atomic_store(&f->clock, T0 - 3600 * 1000);
	push(f, "old-0", sc->o);
	for (int i = 0; i < 4; i++) {
		atomic_store(&f->clock, T0 + i * DAY_MS);
		snprintf(tag, sizeof(tag), "prod-%d", i);
		push(f, tag, sc->p[i]);
		atomic_fetch_add(&f->clock, 1000);
		if (i < 2)
			push(f, NULL, sc->u[i]);
	}
	atomic_store(&f->clock, T0 + 10 * DAY_MS);
}

static void expect(const seen *v, size_t n, const char *digest, ecr_lifecycle_action action, uint32_t priority)
{
	const seen *s = find(v, n, digest);
	if (!s)
		fail_msg("no decision for %s", digest);
	assert_int_equal(s->action, action);
	assert_int_equal(s->priority, priority);
}

static void test_engine_lifecycle_repo__preview_then_apply(void **state)
{
	fixture *f = *state;
	scenario sc;
	int64_t last = -1;
	ecr_buf text = ECR_BUF_INIT;
	build_scenario(f, &sc);
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, POLICY));

	/* the preview reports every image and changes nothing */
	assert_ok(ecr_repository_lifecycle_preview(f->repo, NULL, record_cb, f));
	assert_int_equal(f->ncalls, 7);
	expect(f->calls, f->ncalls, sc.o, ECR_LIFECYCLE_TRANSITION, 1);
	expect(f->calls, f->ncalls, sc.p[0], ECR_LIFECYCLE_EXPIRE, 2);
	expect(f->calls, f->ncalls, sc.p[1], ECR_LIFECYCLE_EXPIRE, 2);
	expect(f->calls, f->ncalls, sc.p[2], ECR_LIFECYCLE_KEEP, 0);
	expect(f->calls, f->ncalls, sc.p[3], ECR_LIFECYCLE_KEEP, 0);
	expect(f->calls, f->ncalls, sc.u[0], ECR_LIFECYCLE_EXPIRE, 3);
	expect(f->calls, f->ncalls, sc.u[1], ECR_LIFECYCLE_EXPIRE, 3);
	assert_string_equal(find(f->calls, f->ncalls, sc.p[1])->tags, "prod-1");
	seen preview[MAX_SEEN];
	size_t npreview = f->ncalls;
	memcpy(preview, f->calls, sizeof(preview));
	for (size_t i = 0; i < npreview; i++) {
		ecr_image_status st;
		assert_true(exists(f, preview[i].digest, &st));
		assert_int_equal(st, ECR_IMAGE_ACTIVE);
	}
	assert_int_equal(f->nevents, 0);
	assert_ok(ecr_repository_lifecycle_policy(&text, &last, f->repo));
	assert_int_equal(last, 0);
	ecr_buf_dispose(&text);

	/* apply does exactly what the preview said */
	f->ncalls = 0;
	assert_ok(ecr_repository_apply_lifecycle(f->repo, record_cb, f));
	size_t acted = 0;
	for (size_t i = 0; i < npreview; i++) {
		const seen *p = &preview[i];
		const seen *c = find(f->calls, f->ncalls, p->digest);
		const seen *e = find(f->events, f->nevents, p->digest);
		ecr_image_status st = ECR_IMAGE_ACTIVE;
		bool there = exists(f, p->digest, &st);
		if (p->action == ECR_LIFECYCLE_KEEP) {
			assert_null(c);
			assert_null(e);
			assert_true(there);
			assert_int_equal(st, ECR_IMAGE_ACTIVE);
			continue;
		}
		acted++;
		assert_non_null(c);
		assert_non_null(e);
		assert_int_equal(c->action, p->action);
		assert_int_equal(c->priority, p->priority);
		assert_int_equal(e->priority, p->priority);
		assert_int_equal(e->type, p->action == ECR_LIFECYCLE_EXPIRE ? ECR_EVENT_LIFECYCLE_EXPIRE
		                                                            : ECR_EVENT_LIFECYCLE_TRANSITION);
		assert_string_equal(e->tags, p->tags);
		assert_int_equal(e->time_ms, T0 + 10 * DAY_MS);
		if (p->action == ECR_LIFECYCLE_EXPIRE) {
			assert_false(there);
		} else {
			assert_true(there);
			assert_int_equal(st, ECR_IMAGE_ARCHIVED);
		}
	}
	assert_int_equal(acted, 5);
	assert_int_equal(f->ncalls, 5);
	assert_int_equal(f->nevents, 5);
	assert_true(f->event_fields_ok);
	assert_ok(ecr_repository_lifecycle_policy(&text, &last, f->repo));
	assert_int_equal(last, T0 + 10 * DAY_MS);
	ecr_buf_dispose(&text);

	/* a second run a day later: nothing left to do (the archived image is not 365 days old) */
	atomic_fetch_add(&f->clock, DAY_MS);
	f->ncalls = 0;
	assert_ok(ecr_repository_apply_lifecycle(f->repo, record_cb, f));
	assert_int_equal(f->ncalls, 0);
	assert_int_equal(f->nevents, 5);
	assert_ok(ecr_repository_lifecycle_policy(&text, &last, f->repo));
	assert_int_equal(last, T0 + 11 * DAY_MS);
	ecr_buf_dispose(&text);
}

static void test_engine_lifecycle_repo__preview_text(void **state)
{
	fixture *f = *state;
	scenario sc;
	build_scenario(f, &sc);
	/* a policy given as text is previewed without being stored */
	char *p = one_rule("\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":6");
	assert_ok(ecr_repository_lifecycle_preview(f->repo, p, record_cb, f));
	assert_int_equal(f->ncalls, 7);
	size_t expiring = 0;
	for (size_t i = 0; i < f->ncalls; i++)
		expiring += f->calls[i].action == ECR_LIFECYCLE_EXPIRE;
	assert_int_equal(expiring, 1);
	expect(f->calls, f->ncalls, sc.o, ECR_LIFECYCLE_EXPIRE, 1); /* the oldest push */
	ecr_buf text = ECR_BUF_INIT;
	assert_int_equal(ecr_repository_lifecycle_policy(&text, NULL, f->repo), ECR_ELIFECYCLE_POLICY_NOT_FOUND);
	assert_int_equal(ecr_repository_lifecycle_preview(f->repo, "{}", record_cb, f), ECR_EINVALID);
	assert_true(exists(f, sc.o, NULL));
	free(p);
}

static void test_engine_lifecycle_repo__clock(void **state)
{
	fixture *f = *state;
	char a[TH_DIGEST_MAX], b[TH_DIGEST_MAX];
	char *p = one_rule("\"tagStatus\":\"any\",\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\","
	                   "\"countNumber\":2");
	push(f, "a", a);
	atomic_fetch_add(&f->clock, DAY_MS);
	push(f, "b", b);
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, p));

	atomic_store(&f->clock, T0 + 2 * DAY_MS); /* a is exactly 2 days old: not more than 2 */
	assert_ok(ecr_repository_apply_lifecycle(f->repo, NULL, NULL));
	assert_true(exists(f, a, NULL));
	atomic_store(&f->clock, T0 + 2 * DAY_MS + 1);
	assert_ok(ecr_repository_apply_lifecycle(f->repo, NULL, NULL));
	assert_false(exists(f, a, NULL));
	assert_true(exists(f, b, NULL));
	assert_int_equal(f->nevents, 1);
	assert_string_equal(f->events[0].digest, a);
	assert_string_equal(f->events[0].tags, "a");

	/* pulls count for sinceImagePulled (a transition rule) */
	char *q = malloc(1024);
	snprintf(q, 1024,
	         "{\"rules\":[{\"rulePriority\":1,\"description\":\"archive unpulled\",\"selection\":{\"tagStatus\":"
	         "\"any\",\"countType\":\"sinceImagePulled\",\"countUnit\":\"days\",\"countNumber\":3},"
	         "\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}}]}");
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, q));
	atomic_store(&f->clock, T0 + 3 * DAY_MS);
	ecr_image *img;
	assert_ok(ecr_image_get(&img, f->repo, "b", ECR_IMAGE_GET_RECORD_PULL));
	assert_int_equal(ecr_image_last_pulled_at(img), T0 + 3 * DAY_MS);
	ecr_image_free(img);
	/* coalesced: a pull within the minute is not recorded; DescribeImages (the iterator) shows the time */
	atomic_fetch_add(&f->clock, 30000);
	assert_ok(ecr_image_get(&img, f->repo, "b", ECR_IMAGE_GET_RECORD_PULL));
	assert_int_equal(ecr_image_last_pulled_at(img), T0 + 3 * DAY_MS);
	ecr_image_free(img);
	ecr_image_iterator *it;
	assert_ok(ecr_image_iterator_new(&it, f->repo, NULL));
	assert_ok(ecr_image_iterator_next(&img, it));
	assert_string_equal(ecr_image_digest(img), b);
	assert_int_equal(ecr_image_last_pulled_at(img), T0 + 3 * DAY_MS);
	ecr_image_iterator_free(it);
	atomic_fetch_add(&f->clock, 30000);
	assert_ok(ecr_image_get(&img, f->repo, "b", ECR_IMAGE_GET_RECORD_PULL));
	assert_int_equal(ecr_image_last_pulled_at(img), T0 + 3 * DAY_MS + 60000);
	ecr_image_free(img);
	atomic_store(&f->clock, T0 + 3 * DAY_MS);
	atomic_store(&f->clock, T0 + 5 * DAY_MS); /* pushed 4 days ago, pulled 2 days ago */
	assert_ok(ecr_repository_apply_lifecycle(f->repo, NULL, NULL));
	ecr_image_status st;
	assert_true(exists(f, b, &st));
	assert_int_equal(st, ECR_IMAGE_ACTIVE);
	atomic_store(&f->clock, T0 + 6 * DAY_MS + 60000 + 1);
	assert_ok(ecr_repository_apply_lifecycle(f->repo, NULL, NULL));
	assert_true(exists(f, b, &st));
	assert_int_equal(st, ECR_IMAGE_ARCHIVED);
	assert_int_equal(f->nevents, 2);
	assert_int_equal(f->events[1].type, ECR_EVENT_LIFECYCLE_TRANSITION);
	assert_int_equal(f->events[1].time_ms, T0 + 6 * DAY_MS + 60000 + 1);
	free(p);
	free(q);
}

static char *make_index(const char *const *children, size_t n)
{
	size_t cap = 256 + n * 400;
	char *s = malloc(cap);
	size_t len = (size_t)snprintf(s, cap, "{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX "\",\"manifests\":[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
		                        "%s{\"mediaType\":\"" OCI_MANIFEST
		                        "\",\"digest\":\"%s\",\"size\":100,\"platform\":{\"os\":\"linux\","
		                        "\"architecture\":\"arch%zu\"}}",
		                        i ? "," : "", children[i], i);
	snprintf(s + len, cap - len, "]}");
	return s;
}

static void put_referrer(fixture *f, const char *subject, char *digest)
{
	const char empty[] = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
	char s[1024];
	ecr_image *out;
	assert_ok(ecr_blob_put(f->repo, empty, "{}", 2));
	snprintf(s, sizeof(s),
	         "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST "\",\"artifactType\":\"application/spdx+json\","
	         "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"%s\",\"size\":2},"
	         "\"layers\":[],\"subject\":{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":100}}",
	         empty, subject);
	assert_ok(ecr_image_put(&out, f->repo, NULL, NULL, NULL, s, strlen(s), 0));
	snprintf(digest, TH_DIGEST_MAX, "%s", ecr_image_digest(out));
	ecr_image_free(out);
}

static void test_engine_lifecycle_repo__children_and_referrers(void **state)
{
	fixture *f = *state;
	char kid[2][TH_DIGEST_MAX], idx[TH_DIGEST_MAX], app[TH_DIGEST_MAX], sig[TH_DIGEST_MAX];
	ecr_image *out;
	push(f, NULL, kid[0]);
	push(f, NULL, kid[1]);
	const char *kids[] = {kid[0], kid[1]};
	char *index = make_index(kids, 2);
	assert_ok(ecr_image_put(&out, f->repo, "multi", NULL, NULL, index, strlen(index), 0));
	snprintf(idx, sizeof(idx), "%s", ecr_image_digest(out));
	ecr_image_free(out);
	push(f, "app", app);
	put_referrer(f, app, sig);
	atomic_store(&f->clock, T0 + 30 * DAY_MS);

	/* untagged images older than a day go, but not the children of an index that stays */
	char *p = one_rule("\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\","
	                   "\"countNumber\":1");
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, p));
	assert_ok(ecr_repository_lifecycle_preview(f->repo, NULL, record_cb, f));
	expect(f->calls, f->ncalls, kid[0], ECR_LIFECYCLE_KEEP, 0);
	expect(f->calls, f->ncalls, kid[1], ECR_LIFECYCLE_KEEP, 0);
	/* the untagged referrer follows its subject, which stays */
	expect(f->calls, f->ncalls, sig, ECR_LIFECYCLE_KEEP, 0);
	f->ncalls = 0;
	assert_ok(ecr_repository_apply_lifecycle(f->repo, record_cb, f));
	assert_true(exists(f, kid[0], NULL));
	assert_true(exists(f, kid[1], NULL));
	assert_true(exists(f, idx, NULL));
	assert_true(exists(f, app, NULL));
	assert_true(exists(f, sig, NULL));
	assert_int_equal(f->ncalls, 0);
	assert_int_equal(f->nevents, 0);
	free(p);

	/* the tagged app goes, and its referrer with it; the index goes with its children as the preview says */
	f->ncalls = 0;
	f->nevents = 0;
	p = one_rule("\"tagStatus\":\"tagged\",\"tagPatternList\":[\"*\"],\"countType\":\"sinceImagePushed\","
	             "\"countUnit\":\"days\",\"countNumber\":1");
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, p));
	assert_ok(ecr_repository_lifecycle_preview(f->repo, NULL, record_cb, f));
	expect(f->calls, f->ncalls, app, ECR_LIFECYCLE_EXPIRE, 1);
	expect(f->calls, f->ncalls, idx, ECR_LIFECYCLE_EXPIRE, 1);
	seen preview[MAX_SEEN];
	size_t npreview = f->ncalls;
	memcpy(preview, f->calls, sizeof(preview));
	f->ncalls = 0;
	assert_ok(ecr_repository_apply_lifecycle(f->repo, record_cb, f));
	assert_false(exists(f, app, NULL));
	assert_false(exists(f, sig, NULL));
	assert_false(exists(f, idx, NULL));
	assert_non_null(find(f->events, f->nevents, sig));
	assert_non_null(find(f->events, f->nevents, app));
	for (size_t i = 0; i < npreview; i++) {
		if (preview[i].action == ECR_LIFECYCLE_KEEP) {
			assert_true(exists(f, preview[i].digest, NULL));
		} else {
			assert_false(exists(f, preview[i].digest, NULL));
			assert_non_null(find(f->calls, f->ncalls, preview[i].digest));
		}
	}
	free(p);
	free(index);
}

/* An image re-tagged between the evaluation and its action is evaluated again, not expired blindly. */
static int rescue_cb(ecr_image *img, ecr_lifecycle_action action, uint32_t priority, void *payload)
{
	fixture *f = payload;
	int rc = record_cb(img, action, priority, payload);
	if (rc || f->rescued)
		return rc;
	f->rescued = true;
	for (int i = 0; i < 2; i++) {
		if (strcmp(f->rescue[i], ecr_image_digest(img)) == 0 || find(f->calls, f->ncalls, f->rescue[i]))
			continue;
		ecr_image *got, *out;
		assert_ok(ecr_image_get(&got, f->repo, f->rescue[i], 0));
		const void *m;
		size_t len;
		assert_ok(ecr_image_manifest(&m, &len, got));
		assert_ok(ecr_image_put(&out, f->repo, "rescued", NULL, NULL, m, len, 0));
		snprintf(f->rescued_digest, sizeof(f->rescued_digest), "%s", f->rescue[i]);
		ecr_image_free(out);
		ecr_image_free(got);
		break;
	}
	return 0;
}

static void test_engine_lifecycle_repo__changed_under_apply(void **state)
{
	fixture *f = *state;
	scenario sc;
	build_scenario(f, &sc);
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo, POLICY));
	f->rescue[0] = sc.u[0];
	f->rescue[1] = sc.u[1];
	assert_ok(ecr_repository_apply_lifecycle(f->repo, rescue_cb, f));
	assert_true(f->rescued);
	assert_true(f->rescued_digest[0] != '\0');
	/* the rescued image is tagged now: rule 3 (untagged) no longer selects it */
	ecr_image *img;
	assert_ok(ecr_image_get(&img, f->repo, "rescued", 0));
	assert_string_equal(ecr_image_digest(img), f->rescued_digest);
	ecr_image_free(img);
	assert_null(find(f->events, f->nevents, f->rescued_digest));
	assert_null(find(f->calls, f->ncalls, f->rescued_digest));
	/* everything else went as planned */
	assert_int_equal(f->nevents, 4);
	assert_false(exists(f, sc.p[0], NULL));
	assert_false(exists(f, sc.p[1], NULL));
	assert_true(exists(f, sc.p[2], NULL));
}

typedef struct lease_probe {
	fixture *f;
	char lease[64];
	int calls, intruder_won;
} lease_probe;

/* Each action takes 4 minutes of the registry clock; meanwhile another node tries to take the run's lease. */
static int slow_cb(ecr_image *img, ecr_lifecycle_action action, uint32_t priority, void *payload)
{
	lease_probe *p = payload;
	(void)img;
	(void)action;
	(void)priority;
	p->calls++;
	atomic_fetch_add(&p->f->clock, 4 * 60 * 1000);
	int rc = ecr__lease_acquire(p->f->reg->store, p->lease, "another-node", atomic_load(&p->f->clock), 60000);
	if (rc == 0)
		p->intruder_won++;
	else
		assert_int_equal(rc, ECR_EBUSY);
	return 0;
}

/* A run longer than its lease (10 minutes) renews it as it goes: no other node takes it over; a repository
 * without a policy takes no lease at all. */
static void test_engine_lifecycle_repo__lease_renewed(void **state)
{
	fixture *f = *state;
	char d[TH_DIGEST_MAX];
	lease_probe p;
	memset(&p, 0, sizeof(p));
	p.f = f;
	snprintf(p.lease, sizeof(p.lease), "lifecycle/%lld", (long long)f->repo->id);

	assert_int_equal(ecr_repository_apply_lifecycle(f->repo, NULL, NULL), ECR_ELIFECYCLE_POLICY_NOT_FOUND);
	ecr__error_clear();
	{
		ecr__txn t = {0};
		assert_ok(ecr__txn_begin(&t, f->reg->store->meta, false));
		assert_int_equal(ecr__meta_lease_get(&t, p.lease, NULL, NULL), ECR_ENOTFOUND);
		ecr__txn_rollback(&t);
	}

	for (int i = 0; i < 6; i++) {
		push(f, NULL, d);
		atomic_fetch_add(&f->clock, 1000);
	}
	assert_ok(ecr_repository_set_lifecycle_policy(
	    f->repo, "{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"untagged\",\"countType\":"
	             "\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}}]}"));
	assert_ok(ecr_repository_apply_lifecycle(f->repo, slow_cb, &p));
	assert_int_equal(p.calls, 5); /* 20 minutes of work */
	assert_int_equal(p.intruder_won, 0);
	assert_true(exists(f, d, NULL)); /* the newest is kept */
	/* released at the end: the other node may take it now */
	assert_ok(ecr__lease_acquire(f->reg->store, p.lease, "another-node", atomic_load(&f->clock), 60000));
}

static int bad_event_cb_called;
static void bad_event_cb(const ecr_event *ev, void *payload)
{
	(void)ev;
	(void)payload;
	bad_event_cb_called++;
}

/* Registry options version 1: the event fields (not part of version 1) are neither cleared nor read. */
static void test_engine_lifecycle_repo__options_v1(void **state)
{
	(void)state;
	unsigned char raw[sizeof(ecr_registry_options) + 8];
	memset(raw, 0xab, sizeof(raw));
	assert_ok(ecr_registry_options_init((ecr_registry_options *)raw, 1));
	for (size_t i = offsetof(ecr_registry_options, event_cb); i < sizeof(raw); i++)
		assert_int_equal(raw[i], 0xab);

	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.version = 1;
	opts.event_cb = bad_event_cb; /* beyond version 1: must be ignored */
	ecr_registry *reg;
	ecr_repository *repo;
	char d[TH_DIGEST_MAX];
	fixture f;
	memset(&f, 0, sizeof(f));
	f.rng = 7;
	assert_ok(ecr_registry_open(&reg, "memory:", &opts));
	assert_ok(ecr_repository_create(&repo, reg, "team/app", NULL));
	f.repo = repo;
	push(&f, "x", d);
	char *p = one_rule("\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":1");
	assert_ok(ecr_repository_set_lifecycle_policy(repo, p));
	push(&f, "y", d);
	assert_ok(ecr_repository_apply_lifecycle(repo, NULL, NULL));
	/* the policy ran (one of the two images is left) without an event reaching the ignored callback */
	ecr_image_iterator *it;
	ecr_image *img;
	size_t left = 0;
	assert_ok(ecr_image_iterator_new(&it, repo, NULL));
	while (ecr_image_iterator_next(&img, it) == 0)
		left++;
	ecr_image_iterator_free(it);
	assert_int_equal(left, 1);
	assert_int_equal(bad_event_cb_called, 0);
	free(p);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_engine_lifecycle_repo__policy_storage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_lifecycle_repo__preview_then_apply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_lifecycle_repo__preview_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_lifecycle_repo__clock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_lifecycle_repo__children_and_referrers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_lifecycle_repo__changed_under_apply, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_lifecycle_repo__lease_renewed, setup, teardown),
	    cmocka_unit_test(test_engine_lifecycle_repo__options_v1),
	};
	return cmocka_run_group_tests_name("engine/lifecycle_repo", tests, NULL, NULL);
}
