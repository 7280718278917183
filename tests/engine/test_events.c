/* Events (libecr/engine/events.c): each change raises its event once, after the commit, with the right fields;
 * ecr_event_to_json writes ECR's EventBridge shape. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/th_image.h"
#include "libecr/core/digest.h"
#include "libecr/core/json.h"

#define MAX_SEEN 32

typedef struct seen {
	ecr_event_type type;
	char digest[TH_DIGEST_MAX];
	char tag[64];
	char tags[128];
	unsigned int version;
	char account[16], region[16], repository[32];
	uint32_t critical, total_findings;
	char json[2048];
} seen;

typedef struct fixture {
	ecr_registry *reg;
	ecr_repository *repo;
	uint64_t rng;
	seen ev[MAX_SEEN];
	size_t n;
} fixture;

static void on_event(const ecr_event *e, void *payload)
{
	fixture *f = payload;
	ecr_buf json = ECR_BUF_INIT;
	if (f->n == MAX_SEEN)
		return;
	seen *s = &f->ev[f->n++];
	memset(s, 0, sizeof(*s));
	s->type = e->type;
	s->version = e->version;
	snprintf(s->digest, sizeof(s->digest), "%s", e->digest ? e->digest : "");
	snprintf(s->tag, sizeof(s->tag), "%s", e->tag ? e->tag : "");
	for (size_t i = 0; i < e->tags_count; i++)
		snprintf(s->tags + strlen(s->tags), sizeof(s->tags) - strlen(s->tags), "%s%s", i ? "," : "", e->tags[i]);
	snprintf(s->account, sizeof(s->account), "%s", e->account_id);
	snprintf(s->region, sizeof(s->region), "%s", e->region);
	snprintf(s->repository, sizeof(s->repository), "%s", e->repository);
	s->critical = e->findings_critical;
	s->total_findings = e->findings_critical + e->findings_high + e->findings_medium + e->findings_low +
		e->findings_informational + e->findings_undefined;
	if (ecr_event_to_json(&json, e) == 0)
		snprintf(s->json, sizeof(s->json), "%s", json.ptr);
	ecr_buf_dispose(&json);
}

static int setup(void **state)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->rng = 7;
	opts.region = "eu-west-3";
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

static void push(fixture *f, th_image *img, const char *tag)
{
	assert_ok(th_image_random(img, &f->rng, 1, NULL));
	assert_ok(th_image_push(f->repo, img, tag, 0));
}

static void test_engine_events__push_once(void **state)
{
	fixture *f = *state;
	th_image img;
	push(f, &img, "v1");
	assert_int_equal(f->n, 1);
	assert_int_equal(f->ev[0].type, ECR_EVENT_IMAGE_PUSH);
	assert_int_equal(f->ev[0].version, ECR_EVENT_VERSION);
	assert_string_equal(f->ev[0].digest, img.digest);
	assert_string_equal(f->ev[0].tag, "v1");
	assert_string_equal(f->ev[0].repository, "team/app");
	assert_string_equal(f->ev[0].region, "eu-west-3");
	assert_string_equal(f->ev[0].account, ecr_registry_account_id(f->reg));

	/* the identical re-put changes nothing: no event */
	assert_ok(ecr_image_put(NULL, f->repo, "v1", NULL, NULL, img.manifest, img.manifest_len, 0));
	assert_int_equal(f->n, 1);
	/* a new tag on the same image: one PUSH naming it */
	assert_ok(ecr_image_put(NULL, f->repo, "v2", NULL, NULL, img.manifest, img.manifest_len, 0));
	assert_int_equal(f->n, 2);
	assert_string_equal(f->ev[1].tag, "v2");
	assert_string_equal(f->ev[1].digest, img.digest);
	/* a failed put raises nothing */
	assert_int_not_equal(ecr_image_put(NULL, f->repo, "v3", "sha256:0000000000000000000000000000000000000000000000000000000000000000",
				     NULL, img.manifest, img.manifest_len, 0), 0);
	assert_int_equal(f->n, 2);
	th_image_dispose(&img);
}

static void test_engine_events__delete_and_untag(void **state)
{
	fixture *f = *state;
	th_image a, b;
	ecr_buf d = ECR_BUF_INIT;
	push(f, &a, "one");
	assert_ok(ecr_image_put(NULL, f->repo, "two", NULL, NULL, a.manifest, a.manifest_len, 0));
	push(f, &b, "keep");
	f->n = 0;

	/* untag: one DELETE naming the tag */
	assert_ok(ecr_image_untag(&d, f->repo, "one", 0));
	assert_string_equal(d.ptr, a.digest);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->ev[0].type, ECR_EVENT_IMAGE_DELETE);
	assert_string_equal(f->ev[0].tag, "one");
	assert_string_equal(f->ev[0].digest, a.digest);

	/* delete by digest: one DELETE with the tags it had */
	assert_ok(ecr_image_delete(f->repo, a.digest));
	assert_int_equal(f->n, 2);
	assert_int_equal(f->ev[1].type, ECR_EVENT_IMAGE_DELETE);
	assert_string_equal(f->ev[1].digest, a.digest);
	assert_string_equal(f->ev[1].tags, "two");
	assert_string_equal(f->ev[1].tag, "");
	assert_non_null(strstr(f->ev[1].json, "\"action-type\":\"DELETE\""));
	assert_non_null(strstr(f->ev[1].json, "\"image-tag\":\"two\""));

	/* a failed delete raises nothing */
	assert_int_not_equal(ecr_image_delete(f->repo, a.digest), 0);
	assert_int_equal(f->n, 2);
	ecr_buf_dispose(&d);
	th_image_dispose(&a);
	th_image_dispose(&b);
}

static void test_engine_events__lifecycle_expire(void **state)
{
	fixture *f = *state;
	th_image a, b;
	push(f, &a, "prod-1");
	push(f, &b, "prod-2");
	assert_ok(ecr_repository_set_lifecycle_policy(f->repo,
		"{\"rules\":[{\"rulePriority\":4,\"description\":\"one\",\"selection\":{\"tagStatus\":\"tagged\","
		"\"tagPrefixList\":[\"prod\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":1},"
		"\"action\":{\"type\":\"expire\"}}]}"));
	f->n = 0;
	assert_ok(ecr_repository_apply_lifecycle(f->repo, NULL, NULL));
	size_t expires = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->ev[i].type != ECR_EVENT_LIFECYCLE_EXPIRE)
			continue;
		expires++;
		seen *s = &f->ev[i];
		assert_non_null(strstr(s->json, "\"detail-type\":\"ECR Image Action\""));
		assert_non_null(strstr(s->json, "\"action-type\":\"EXPIRE\""));
		assert_non_null(strstr(s->json, "\"lifecycle-rule-priority\":4"));
		assert_true(strcmp(s->digest, a.digest) == 0 || strcmp(s->digest, b.digest) == 0);
	}
	assert_int_equal(expires, 1);
	th_image_dispose(&a);
	th_image_dispose(&b);
}

static void test_engine_events__scan_complete(void **state)
{
	fixture *f = *state;
	ecr_scanner *sc = NULL;
	th_image a, bad;
	th_blob tar = { .len = 1024 };
	/* an empty tar (two zero blocks) as the only layer: a scan that completes (no packages) */
	assert_non_null(tar.data = calloc(1, tar.len));
	assert_ok(ecr__digest_buf(tar.digest, sizeof(tar.digest), ECR__DIGEST_SHA256, tar.data, tar.len));
	assert_ok(th_image_with_layers(&a, &f->rng, &tar, 1, 0));
	assert_ok(th_image_push(f->repo, &a, "scanme", 0));
	push(f, &bad, NULL); /* random bytes as a layer: the scan fails */
	assert_ok(ecr_scanner_new(&sc, 1));
	assert_ok(ecr_scanner_attach(sc, f->reg));
	f->n = 0;
	assert_ok(ecr_scanner_start(sc, f->repo, a.digest));
	assert_ok(ecr_scanner_drain(sc, 20000));
	assert_int_equal(f->n, 1);
	assert_ok(ecr_scanner_start(sc, f->repo, bad.digest));
	assert_ok(ecr_scanner_drain(sc, 20000));
	assert_ok(ecr_scanner_detach(sc, f->reg));
	ecr_scanner_free(sc);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->ev[1].type, ECR_EVENT_IMAGE_SCAN);
	assert_string_equal(f->ev[1].digest, bad.digest);
	assert_non_null(strstr(f->ev[1].json, "\"scan-status\":\"FAILED\""));
	th_image_dispose(&bad);
	th_blob_dispose(&tar);
	seen *s = &f->ev[0];
	assert_int_equal(s->type, ECR_EVENT_IMAGE_SCAN);
	assert_string_equal(s->digest, a.digest);
	assert_string_equal(s->tags, "scanme");
	assert_int_equal(s->total_findings, 0); /* no vulnerability database: no findings */
	assert_non_null(strstr(s->json, "\"detail-type\":\"ECR Image Scan\""));
	assert_non_null(strstr(s->json, "\"scan-status\":\"COMPLETE\""));
	assert_non_null(strstr(s->json, "\"finding-severity-counts\":{}"));
	assert_non_null(strstr(s->json, "\"image-tags\":[\"scanme\"]"));
	th_image_dispose(&a);
}

static ecr_registry *g_dest; /* the replication destination of the next test (NULL: none resolves) */

static int destination(ecr_registry **out, const char *region, const char *registry_id, void *payload)
{
	(void)payload;
	if (g_dest && strcmp(region, "us-east-1") == 0 && strcmp(registry_id, "123456789012") == 0) {
		*out = g_dest;
		return 0;
	}
	return ECR_ENOTFOUND;
}

static void replicate(fixture *f, bool reachable, th_image *img)
{
	ecr_replicator_options o;
	ecr_replicator *rep = NULL;
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	g_dest = NULL;
	ro.account_id = "123456789012";
	ro.region = "us-east-1";
	if (reachable)
		assert_ok(ecr_registry_open(&g_dest, "memory:", &ro));
	assert_ok(ecr_registry_set_replication_configuration(f->reg,
		"{\"rules\":[{\"destinations\":[{\"region\":\"us-east-1\",\"registryId\":\"123456789012\"}]}]}"));
	assert_ok(ecr_replicator_options_init(&o, ECR_REPLICATOR_OPTIONS_VERSION));
	o.destination_cb = destination;
	o.retry_base_ms = 5;
	o.poll_ms = 20;
	o.max_attempts = 2;
	assert_ok(ecr_replicator_new(&rep, &o));
	assert_ok(ecr_replicator_attach(rep, f->reg));
	push(f, img, "rel");
	assert_ok(ecr_replicator_drain(rep, 20000));
	ecr_replicator_free(rep);
	ecr_registry_free(g_dest);
	g_dest = NULL;
}

static void test_engine_events__replication(void **state)
{
	fixture *f = *state;
	th_image img;
	replicate(f, true, &img);
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++) {
		seen *s = &f->ev[i];
		if (s->type != ECR_EVENT_REPLICATION)
			continue;
		n++;
		/* in the destination's account and region, naming the source */
		assert_string_equal(s->account, "123456789012");
		assert_string_equal(s->region, "us-east-1");
		assert_string_equal(s->digest, img.digest);
		assert_string_equal(s->tags, "rel");
		if (!strstr(s->json, "\"result\":\"SUCCESS\""))
			fail_msg("%s", s->json);
		assert_non_null(strstr(s->json, "\"source-region\":\"eu-west-3\""));
		assert_non_null(strstr(s->json, "\"image-tag\":\"rel\""));
		assert_non_null(strstr(s->json, "arn:aws:ecr:us-east-1:123456789012:repository/team/app"));
	}
	assert_int_equal(n, 1);
	th_image_dispose(&img);
}

static void test_engine_events__replication_given_up(void **state)
{
	fixture *f = *state;
	th_image img;
	replicate(f, false, &img);
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->ev[i].type != ECR_EVENT_REPLICATION)
			continue;
		n++;
		assert_string_equal(f->ev[i].digest, img.digest);
		assert_non_null(strstr(f->ev[i].json, "\"result\":\"FAILURE\""));
	}
	assert_int_equal(n, 1); /* two attempts, one event when given up */
	th_image_dispose(&img);
}

/* A pull through cache rule whose upstream is an in-process ecrd-like server: one "ECR Pull Through Cache Action". */
static void test_engine_events__pull_through_cache(void **state)
{
	fixture *f = *state;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
	ecr_registry *up = NULL;
	ecr_repository *up_repo = NULL;
	ecr_server *srv = NULL;
	ecr_cache *cache = NULL;
	ecr_image *got = NULL;
	ecr_buf out = ECR_BUF_INIT;
	char json[256];
	th_image img;

	assert_ok(ecr_registry_open(&up, "memory:", NULL));
	assert_ok(ecr_repository_create(&up_repo, up, "lib/tool", NULL));
	assert_ok(th_image_random(&img, &f->rng, 1, NULL));
	assert_ok(th_image_push(up_repo, &img, "1.0", 0));
	so.flags = ECR_SERVER_NO_AUTH;
	assert_ok(ecr_server_new(&srv, &so));
	assert_ok(ecr_server_add_registry(srv, up, NULL));
	assert_ok(ecr_server_start(srv));
	snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"up\",\"upstreamRegistryUrl\":\"http://127.0.0.1:%u\"}",
		(unsigned)ecr_server_port(srv));
	assert_ok(ecr_registry_put_pull_through_cache_rule(&out, f->reg, json, 1));
	assert_ok(ecr_cache_new(&cache, NULL));
	f->n = 0;
	int rc = ecr_cache_image_get(&got, cache, f->reg, "up/lib/tool", "1.0", 0);
	if (rc)
		fail_msg("ecr_cache_image_get: %s", ecr_error_last()->message);
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++) {
		seen *e = &f->ev[i];
		if (e->type != ECR_EVENT_PULL_THROUGH_CACHE)
			continue;
		n++;
		assert_string_equal(e->repository, "up/lib/tool");
		assert_string_equal(e->digest, img.digest);
		assert_string_equal(e->tag, "1.0");
		assert_non_null(strstr(e->json, "\"detail-type\":\"ECR Pull Through Cache Action\""));
		assert_non_null(strstr(e->json, "\"sync-status\":\"SUCCESS\""));
		assert_non_null(strstr(e->json, "\"ecr-repository-prefix\":\"up\""));
		assert_non_null(strstr(e->json, "\"upstream-registry-url\":\"http://127.0.0.1:"));
	}
	assert_int_equal(n, 1);
	/* served from the cache the second time (fresh): no new event */
	ecr_image_free(got);
	got = NULL;
	f->n = 0;
	assert_ok(ecr_cache_image_get(&got, cache, f->reg, "up/lib/tool", "1.0", 0));
	for (size_t i = 0; i < f->n; i++)
		assert_int_not_equal(f->ev[i].type, ECR_EVENT_PULL_THROUGH_CACHE);
	ecr_image_free(got);
	ecr_cache_free(cache);
	ecr_server_free(srv);
	ecr_repository_free(up_repo);
	ecr_registry_free(up);
	ecr_buf_dispose(&out);
	th_image_dispose(&img);
}

/* The EventBridge envelope, parsed back. */
static void test_engine_events__json_shape(void **state)
{
	(void)state;
	const char *tags[] = { "latest", "v1" };
	ecr_event e = { .version = ECR_EVENT_VERSION, .type = ECR_EVENT_IMAGE_PUSH, .account_id = "123456789012",
		.region = "us-west-2", .repository = "my-repo", .digest = "sha256:abc", .tag = "latest",
		.time_ms = 1573869274123LL };
	ecr_buf out = ECR_BUF_INIT, out2 = ECR_BUF_INIT;
	ecr__json *doc = NULL;
	assert_ok(ecr_event_to_json(&out, &e));
	assert_ok(ecr__json_parse(&doc, out.ptr, out.size, NULL));
	assert_string_equal(ecr__json_get_string(doc, "version"), "0");
	assert_string_equal(ecr__json_get_string(doc, "detail-type"), "ECR Image Action");
	assert_string_equal(ecr__json_get_string(doc, "source"), "aws.ecr");
	assert_string_equal(ecr__json_get_string(doc, "account"), "123456789012");
	assert_string_equal(ecr__json_get_string(doc, "region"), "us-west-2");
	assert_string_equal(ecr__json_get_string(doc, "time"), "2019-11-16T01:54:34Z");
	const char *id = ecr__json_get_string(doc, "id");
	assert_non_null(id);
	assert_int_equal(strlen(id), 36);
	assert_int_equal(id[14], '4'); /* UUID v4 */
	const ecr__json *res = ecr__json_get(doc, "resources");
	assert_non_null(res);
	assert_string_equal(ecr__json_at(res, 0)->string, "arn:aws:ecr:us-west-2:123456789012:repository/my-repo");
	const ecr__json *d = ecr__json_get(doc, "detail");
	assert_string_equal(ecr__json_get_string(d, "result"), "SUCCESS");
	assert_string_equal(ecr__json_get_string(d, "repository-name"), "my-repo");
	assert_string_equal(ecr__json_get_string(d, "image-digest"), "sha256:abc");
	assert_string_equal(ecr__json_get_string(d, "action-type"), "PUSH");
	assert_string_equal(ecr__json_get_string(d, "image-tag"), "latest");
	ecr__json_free(doc);
	/* a new id each time */
	assert_ok(ecr_event_to_json(&out2, &e));
	assert_string_not_equal(out.ptr, out2.ptr);
	ecr_buf_dispose(&out);
	ecr_buf_dispose(&out2);

	/* scan: only the severities found */
	e.type = ECR_EVENT_IMAGE_SCAN;
	e.tags = tags;
	e.tags_count = 2;
	e.findings_critical = 10;
	e.findings_medium = 9;
	assert_ok(ecr_event_to_json(&out, &e));
	assert_ok(ecr__json_parse(&doc, out.ptr, out.size, NULL));
	d = ecr__json_get(doc, "detail");
	assert_string_equal(ecr__json_get_string(d, "scan-status"), "COMPLETE");
	const ecr__json *counts = ecr__json_get(d, "finding-severity-counts");
	int64_t v;
	assert_true(ecr__json_get_int(counts, "CRITICAL", &v) && v == 10);
	assert_true(ecr__json_get_int(counts, "MEDIUM", &v) && v == 9);
	assert_null(ecr__json_get(counts, "HIGH"));
	assert_int_equal(ecr__json_get(d, "image-tags")->count, 2);
	ecr__json_free(doc);
	ecr_buf_dispose(&out);

	/* replication failure */
	e.type = ECR_EVENT_REPLICATION;
	e.result = ECR_EVENT_FAILURE;
	e.source_account_id = "111111111111";
	e.source_region = "eu-west-1";
	e.reason = "denied";
	assert_ok(ecr_event_to_json(&out, &e));
	assert_ok(ecr__json_parse(&doc, out.ptr, out.size, NULL));
	d = ecr__json_get(doc, "detail");
	assert_string_equal(ecr__json_get_string(doc, "detail-type"), "ECR Replication Action");
	assert_string_equal(ecr__json_get_string(d, "result"), "FAILURE");
	assert_string_equal(ecr__json_get_string(d, "action-type"), "REPLICATE");
	assert_string_equal(ecr__json_get_string(d, "source-account"), "111111111111");
	assert_string_equal(ecr__json_get_string(d, "source-region"), "eu-west-1");
	assert_string_equal(ecr__json_get_string(d, "image-tag"), "latest");
	ecr__json_free(doc);
	ecr_buf_dispose(&out);

	/* bad events */
	e.type = (ecr_event_type)99;
	assert_int_equal(ecr_event_to_json(&out, &e), ECR_EINVALID);
	e.type = ECR_EVENT_IMAGE_PUSH;
	e.repository = NULL;
	assert_int_equal(ecr_event_to_json(&out, &e), ECR_EINVALID);
	assert_null(ecr_event_detail_type((ecr_event_type)0));
	assert_string_equal(ecr_event_detail_type(ECR_EVENT_PULL_THROUGH_CACHE), "ECR Pull Through Cache Action");
	ecr_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_events__push_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_events__delete_and_untag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_events__lifecycle_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_events__scan_complete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_events__replication, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_events__replication_given_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_events__pull_through_cache, setup, teardown),
		cmocka_unit_test(test_engine_events__json_shape),
	};
	return cmocka_run_group_tests_name("engine/events", tests, NULL, NULL);
}
