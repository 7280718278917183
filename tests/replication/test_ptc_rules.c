/* Pull-through cache rules and upstream credentials (ecr/cache.h, libecr/replication/ptc.h):
 * validation tables, the 50-rule limit, create/update/delete/list, longest-prefix matching with
 * credentials resolved, persistence, and remote handles (rules forwarded to an in-process
 * ecr_server, credentials not supported). */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/core/core.h"
#include "libecr/core/timeutil.h"
#include "libecr/engine/engine.h"
#include "libecr/replication/ptc.h"
#include "libecr/storage/meta_ptc.h"

#include <unistd.h>

#define ACCT "123456789012"
#define REGION "us-east-1"
#define ARN_PREFIX "arn:aws:secretsmanager:" REGION ":" ACCT ":secret:ecr-pullthroughcache/"
#define ARN_HUB ARN_PREFIX "docker-hub-creds"
#define ARN_GHCR ARN_PREFIX "ghcr/creds@1"
#define PASSWORD_HUB "hub-pa55-Zq9!x"
#define PASSWORD_GHCR "ghcr-t0ken-Wv3"

typedef struct fixture {
	ecr_registry *reg;
	int64_t now;
	char *dir;
} fixture;

static int64_t clock_cb(void *payload)
{
	return ((fixture *)payload)->now;
}

static ecr_registry *open_reg(fixture *f, const char *url)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *r = NULL;
	o.account_id = ACCT;
	o.region = REGION;
	o.clock_cb = clock_cb;
	o.clock_payload = f;
	o.flags = ECR_STORAGE_NOSYNC;
	assert_ok(ecr_registry_open(&r, url, &o));
	return r;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_ok(ecr_init() < 0 ? -1 : 0);
	f->now = 1700000000000;
	f->reg = open_reg(f, "memory:");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_registry_free(f->reg);
	if (f->dir)
		th_rmtree(f->dir);
	free(f);
	ecr_shutdown();
	return 0;
}

/* Create a rule from JSON; returns the code. */
static int create(fixture *f, const char *json)
{
	return ecr_registry_put_pull_through_cache_rule(NULL, f->reg, json, 1);
}

static void expect_code(int got, int want, const char *what)
{
	if (got != want)
		fail_msg("%s: got %d (%s: %s), want %s", what, got, ecr_error_name(got), ecr_error_last()->message,
			ecr_error_name(want));
}

static void test_replication_ptc_rules__prefix_validation(void **state)
{
	fixture *f = *state;
	static const char *const good[] = {"ab", "docker-hub", "ecr-public/", "a/b", "a.b_c__d--e", "ROOT",
		"abcdefghijabcdefghijabcdefghij", "q1/x-y/z9"};
	static const char *const bad[] = {"a", "abcdefghijabcdefghijabcdefghijk", "Ab", "a//b", "-ab", "ab-", "a_",
		"/ab", "ROOT/x", "a___b", "a b", "ab//", "a..b", "a/-b"};
	char json[256];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"%s\",\"upstreamRegistryUrl\":\"quay.io\"}", good[i]);
		if (create(f, json))
			fail_msg("'%s' refused: %s", good[i], ecr_error_last()->message);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"%s\",\"upstreamRegistryUrl\":\"quay.io\"}", bad[i]);
		expect_code(create(f, json), ECR_EVALIDATION, bad[i]);
		assert_non_null(strstr(ecr_error_last()->message, "ecrRepositoryPrefix"));
	}
	/* missing members, wrong types, unknown members */
	expect_code(create(f, "{\"upstreamRegistryUrl\":\"quay.io\"}"), ECR_EVALIDATION, "no prefix");
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"zz\"}"), ECR_EVALIDATION, "no URL");
	expect_code(create(f, "{\"ecrRepositoryPrefix\":5,\"upstreamRegistryUrl\":\"quay.io\"}"), ECR_EINVALID, "type");
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"zz\",\"upstreamRegistryUrl\":\"quay.io\",\"x\":\"y\"}"),
		ECR_EINVALID, "unknown member");
	expect_code(create(f, "[1]"), ECR_EINVALID, "not an object");
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"zz\",\"upstreamRegistryUrl\":\"quay.io\","
			      "\"upstreamRegistry\":\"dockerhub\"}"),
		ECR_EVALIDATION, "upstreamRegistry enum");
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"zz\",\"upstreamRegistryUrl\":\"quay.io\","
			    "\"upstreamRegistry\":\"quay\",\"upstreamRepositoryPrefix\":\"mirror/\"}"));
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"zy\",\"upstreamRegistryUrl\":\"quay.io\","
			      "\"upstreamRepositoryPrefix\":\"UP\"}"),
		ECR_EVALIDATION, "upstream prefix");
}

static void test_replication_ptc_rules__url_validation(void **state)
{
	fixture *f = *state;
	static const char *const good[][2] = {{"http://127.0.0.1:5000", "http://127.0.0.1:5000"},
		{"https://quay.io/", "https://quay.io"}, {"registry-1.docker.io", "https://registry-1.docker.io"},
		{"http://[::1]:5001", "http://[::1]:5001"}, {"localhost:443", "https://localhost:443"},
		{"https://my_reg.example.com", "https://my_reg.example.com"}};
	static const char *const bad[] = {"ftp://x", "http://", "http://a/b", "http://u@h", "http://h:0", "http://h:70000",
		"", "http://h?x", "https://h:12a", "file:///tmp", "http://[::1", "h h"};
	char json[256], prefix[16];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ecr_buf out = ECR_BUF_INIT;
		char want[128];
		snprintf(prefix, sizeof(prefix), "g%zu", i + 10);
		snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"%s\",\"upstreamRegistryUrl\":\"%s\"}", prefix,
			good[i][0]);
		assert_ok(ecr_registry_put_pull_through_cache_rule(&out, f->reg, json, 1));
		snprintf(want, sizeof(want), "\"upstreamRegistryUrl\":\"%s\"", good[i][1]);
		if (!strstr(out.ptr, want))
			fail_msg("%s: %s", good[i][0], out.ptr);
		ecr_buf_dispose(&out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"b%zu\",\"upstreamRegistryUrl\":\"%s\"}", i + 10,
			bad[i]);
		expect_code(create(f, json), ECR_EUNSUPPORTED_UPSTREAM, bad[i]);
		assert_int_equal(ecr_error_category(ECR_EUNSUPPORTED_UPSTREAM), ECR_EINVALID);
		assert_string_equal(ecr_error_exception(ECR_EUNSUPPORTED_UPSTREAM), "UnsupportedUpstreamRegistryException");
	}
}

static void test_replication_ptc_rules__crud(void **state)
{
	fixture *f = *state;
	ecr_buf out = ECR_BUF_INIT;
	assert_ok(ecr_registry_put_credential(f->reg, ARN_HUB, "hubuser", PASSWORD_HUB));
	assert_ok(ecr_registry_put_credential(f->reg, ARN_GHCR, "ghcruser", PASSWORD_GHCR));
	assert_ok(ecr_registry_put_pull_through_cache_rule(&out, f->reg,
		"{\"ecrRepositoryPrefix\":\"docker-hub/\",\"upstreamRegistryUrl\":\"registry-1.docker.io\","
		"\"upstreamRegistry\":\"docker-hub\",\"credentialArn\":\"" ARN_HUB "\",\"registryId\":\"" ACCT "\"}",
		1));
	assert_string_equal(out.ptr,
		"{\"ecrRepositoryPrefix\":\"docker-hub\",\"upstreamRegistryUrl\":\"https://registry-1.docker.io\","
		"\"createdAt\":1700000000,\"updatedAt\":1700000000,\"registryId\":\"" ACCT "\","
		"\"upstreamRegistry\":\"docker-hub\",\"credentialArn\":\"" ARN_HUB "\"}");
	ecr_buf_dispose(&out);
	/* the same prefix with or without its slash */
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"docker-hub\",\"upstreamRegistryUrl\":\"quay.io\"}"),
		ECR_EPTC_RULE_EXISTS, "duplicate");
	assert_int_equal(ecr_error_category(ECR_EPTC_RULE_EXISTS), ECR_EEXISTS);
	assert_non_null(strstr(ecr_error_last()->message, "docker-hub"));
	/* update: the members given replace, the others stay; updatedAt moves, createdAt does not */
	f->now += 5500;
	assert_ok(ecr_registry_put_pull_through_cache_rule(&out, f->reg,
		"{\"ecrRepositoryPrefix\":\"docker-hub\",\"credentialArn\":\"" ARN_GHCR "\","
		"\"customRoleArn\":\"arn:aws:iam::" ACCT ":role/x\"}",
		0));
	assert_non_null(strstr(out.ptr, "\"createdAt\":1700000000,\"updatedAt\":1700000005.5,"));
	assert_non_null(strstr(out.ptr, "\"credentialArn\":\"" ARN_GHCR "\",\"customRoleArn\":\"arn:aws:iam::" ACCT
					":role/x\""));
	assert_non_null(strstr(out.ptr, "\"upstreamRegistry\":\"docker-hub\""));
	ecr_buf_dispose(&out);
	expect_code(ecr_registry_put_pull_through_cache_rule(NULL, f->reg,
			    "{\"ecrRepositoryPrefix\":\"nope\",\"credentialArn\":\"" ARN_HUB "\"}", 0),
		ECR_EPTC_RULE_NOT_FOUND, "update of a missing rule");
	expect_code(ecr_registry_put_pull_through_cache_rule(NULL, f->reg,
			    "{\"ecrRepositoryPrefix\":\"docker-hub\",\"upstreamRegistryUrl\":\"quay.io\"}", 0),
		ECR_EINVALID, "the URL cannot be updated");
	/* list: all, named, a missing name */
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"quay\",\"upstreamRegistryUrl\":\"https://quay.io\"}"));
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"ab\",\"upstreamRegistryUrl\":\"https://quay.io\"}"));
	assert_ok(ecr_registry_pull_through_cache_rules(&out, f->reg, NULL, 0));
	const char *a = strstr(out.ptr, "\"ab\""), *d = strstr(out.ptr, "\"docker-hub\""), *q = strstr(out.ptr, "\"quay\"");
	assert_true(out.ptr[0] == '[' && a && d && q && a < d && d < q);
	ecr_buf_dispose(&out);
	const char *names[] = {"quay/", "docker-hub", "quay"};
	assert_ok(ecr_registry_pull_through_cache_rules(&out, f->reg, names, 3));
	d = strstr(out.ptr, "\"docker-hub\"");
	q = strstr(out.ptr, "\"quay\"");
	assert_true(d && q && d < q && !strstr(out.ptr, "\"ab\"") && !strstr(q + 1, "\"quay\""));
	ecr_buf_dispose(&out);
	const char *missing[] = {"quay", "zz"};
	expect_code(ecr_registry_pull_through_cache_rules(&out, f->reg, missing, 2), ECR_EPTC_RULE_NOT_FOUND, "missing");
	ecr_buf_dispose(&out);
	const char *badname[] = {"Q"};
	expect_code(ecr_registry_pull_through_cache_rules(&out, f->reg, badname, 1), ECR_EVALIDATION, "bad name");
	ecr_buf_dispose(&out);
	/* delete: returns the rule; a second time is not found */
	assert_ok(ecr_registry_delete_pull_through_cache_rule(&out, f->reg, "quay/"));
	assert_non_null(strstr(out.ptr, "\"ecrRepositoryPrefix\":\"quay\",\"upstreamRegistryUrl\":\"https://quay.io\""));
	ecr_buf_dispose(&out);
	expect_code(ecr_registry_delete_pull_through_cache_rule(NULL, f->reg, "quay"), ECR_EPTC_RULE_NOT_FOUND,
		"second delete");
	assert_int_equal(ecr_error_category(ECR_EPTC_RULE_NOT_FOUND), ECR_ENOTFOUND);
	/* nothing ever shows a password */
	assert_ok(ecr_registry_pull_through_cache_rules(&out, f->reg, NULL, 0));
	assert_null(strstr(out.ptr, PASSWORD_HUB));
	assert_null(strstr(out.ptr, PASSWORD_GHCR));
	ecr_buf_dispose(&out);
}

static void test_replication_ptc_rules__limit(void **state)
{
	fixture *f = *state;
	char json[160];
	ecr_buf out = ECR_BUF_INIT;
	for (int i = 0; i < 50; i++) {
		snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"p%02d\",\"upstreamRegistryUrl\":\"quay.io\"}", i);
		assert_ok(create(f, json));
	}
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"p50\",\"upstreamRegistryUrl\":\"quay.io\"}"), ECR_ELIMIT,
		"51st rule");
	/* a duplicate at the limit is still a duplicate */
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"p07\",\"upstreamRegistryUrl\":\"quay.io\"}"),
		ECR_EPTC_RULE_EXISTS, "duplicate at the limit");
	assert_ok(ecr_registry_pull_through_cache_rules(&out, f->reg, NULL, 0));
	const char *p = out.ptr;
	for (int i = 0; i < 50; i++) {
		char want[32];
		snprintf(want, sizeof(want), "\"p%02d\"", i);
		const char *hit = strstr(p, want);
		if (!hit)
			fail_msg("p%02d missing or out of order", i);
		p = hit + 1;
	}
	ecr_buf_dispose(&out);
	assert_ok(ecr_registry_delete_pull_through_cache_rule(NULL, f->reg, "p00"));
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"p50\",\"upstreamRegistryUrl\":\"quay.io\"}"));
	/* another registry has its own 50 */
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *other = NULL;
	o.account_id = "222222222222";
	assert_ok(ecr_registry_open(&other, "memory:", &o));
	assert_ok(ecr_registry_put_pull_through_cache_rule(NULL, other,
		"{\"ecrRepositoryPrefix\":\"p60\",\"upstreamRegistryUrl\":\"quay.io\"}", 1));
	ecr_registry_free(other);
}

static int collect_cred(const char *arn, const char *username, void *payload)
{
	return ecr__buf_printf(payload, "%s %s\n", arn, username);
}

static int stop_cb(const char *arn, const char *username, void *payload)
{
	(void)arn;
	(void)username;
	++*(int *)payload;
	return 42;
}

static void test_replication_ptc_rules__credentials(void **state)
{
	fixture *f = *state;
	ecr_buf out = ECR_BUF_INIT;
	int calls = 0;
	/* the ARN's shape, and the registry's own region and account */
	expect_code(ecr_registry_put_credential(f->reg, "arn:aws:secretsmanager:" REGION ":" ACCT ":secret:other/x", "u",
			    "p"),
		ECR_EVALIDATION, "not ecr-pullthroughcache/");
	expect_code(ecr_registry_put_credential(f->reg, "short", "u", "p"), ECR_EVALIDATION, "too short");
	expect_code(ecr_registry_put_credential(f->reg,
			    "arn:aws:secretsmanager:eu-west-1:" ACCT ":secret:ecr-pullthroughcache/xyz", "u", "p"),
		ECR_EINVALID, "another region");
	expect_code(ecr_registry_put_credential(f->reg,
			    "arn:aws:secretsmanager:" REGION ":999999999999:secret:ecr-pullthroughcache/xyz", "u", "p"),
		ECR_EINVALID, "another account");
	expect_code(ecr_registry_put_credential(f->reg, ARN_HUB, "a:b", "p"), ECR_EINVALID, "':' in the username");
	expect_code(ecr_registry_put_credential(f->reg, ARN_HUB, "", "p"), ECR_EINVALID, "empty username");
	expect_code(ecr_registry_put_credential(f->reg, ARN_HUB, "u", ""), ECR_EINVALID, "empty password");
	expect_code(ecr_registry_put_credential(f->reg, ARN_HUB, "u", "a\nb"), ECR_EINVALID, "control character");
	assert_null(strstr(ecr_error_last()->message, "a\nb"));
	/* a rule naming a credential that does not exist */
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"hub\",\"upstreamRegistryUrl\":\"registry-1.docker.io\","
			      "\"credentialArn\":\"" ARN_HUB "\"}"),
		ECR_ESECRET_NOT_FOUND, "unknown credential");
	assert_string_equal(ecr_error_exception(ECR_ESECRET_NOT_FOUND), "SecretNotFoundException");
	expect_code(create(f, "{\"ecrRepositoryPrefix\":\"hub\",\"upstreamRegistryUrl\":\"registry-1.docker.io\","
			      "\"credentialArn\":\"arn:aws:secretsmanager:x\"}"),
		ECR_EVALIDATION, "malformed credentialArn");
	/* store, replace, list (ARN order, no password), delete */
	assert_ok(ecr_registry_put_credential(f->reg, ARN_HUB, "first", "old-password-1"));
	assert_ok(ecr_registry_put_credential(f->reg, ARN_HUB, "hubuser", PASSWORD_HUB));
	assert_ok(ecr_registry_put_credential(f->reg, ARN_GHCR, "ghcruser", PASSWORD_GHCR));
	assert_ok(ecr_registry_credentials_foreach(f->reg, collect_cred, &out));
	assert_string_equal(out.ptr, ARN_HUB " hubuser\n" ARN_GHCR " ghcruser\n");
	ecr_buf_dispose(&out);
	assert_int_equal(ecr_registry_credentials_foreach(f->reg, stop_cb, &calls), 42);
	assert_int_equal(calls, 1);
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"hub\",\"upstreamRegistryUrl\":\"registry-1.docker.io\","
			    "\"credentialArn\":\"" ARN_HUB "\"}"));
	assert_ok(ecr_registry_delete_credential(f->reg, ARN_GHCR));
	expect_code(ecr_registry_delete_credential(f->reg, ARN_GHCR), ECR_ENOTFOUND, "second delete");
	assert_ok(ecr_registry_credentials_foreach(f->reg, collect_cred, &out));
	assert_string_equal(out.ptr, ARN_HUB " hubuser\n");
	ecr_buf_dispose(&out);
	/* updating a rule to a missing credential fails and leaves it alone */
	expect_code(ecr_registry_put_pull_through_cache_rule(NULL, f->reg,
			    "{\"ecrRepositoryPrefix\":\"hub\",\"credentialArn\":\"" ARN_GHCR "\"}", 0),
		ECR_ESECRET_NOT_FOUND, "update to a missing credential");
	assert_ok(ecr_registry_pull_through_cache_rules(&out, f->reg, NULL, 0));
	assert_non_null(strstr(out.ptr, ARN_HUB));
	assert_null(strstr(out.ptr, PASSWORD_HUB));
	ecr_buf_dispose(&out);
}

static void expect_match(fixture *f, const char *name, const char *prefix, const char *path, const char *user,
	const char *password)
{
	ecr__ptc_rule r;
	ecr_buf up = ECR_BUF_INIT;
	int rc = ecr__ptc_rule_match(&r, &up, f->reg, name);
	if (rc)
		fail_msg("%s: %d %s", name, rc, ecr_error_last()->message);
	if (strcmp(r.prefix, prefix) != 0 || strcmp(up.ptr, path) != 0)
		fail_msg("%s: matched %s, upstream path %s; want %s, %s", name, r.prefix, up.ptr, prefix, path);
	if (user) {
		assert_non_null(r.username);
		assert_string_equal(r.username, user);
		assert_string_equal(r.password, password);
	} else {
		assert_null(r.username);
		assert_null(r.password);
	}
	ecr__ptc_rule_dispose(&r);
	ecr_buf_dispose(&up);
}

/* Write (or delete) a rule straight into the metadata store, as another process sharing it would. */
static void rule_behind_back(fixture *f, bool insert)
{
	ecr__txn t = { 0 };
	assert_ok(ecr__txn_begin(&t, f->reg->store->meta, true));
	if (insert)
		assert_ok(ecr__meta_ptc_rule_insert(&t, f->reg->id, "quay", "{}", f->now));
	else
		assert_ok(ecr__meta_ptc_rule_delete(&t, f->reg->id, "quay"));
	assert_ok(ecr__txn_commit(&t));
	ecr__txn_rollback(&t);
}

/* Whether the registry has rules (asked on every pull) is kept for a second: a rule written by this process is
 * seen at once, one written by another process sharing the store within that second. */
static void test_replication_ptc_rules__has_rules_known(void **state)
{
	fixture *f = *state;
	int64_t t0 = ecr__time_monotonic_ms();
	assert_int_equal(ecr__ptc_has_rules(f->reg), 0);
	rule_behind_back(f, true);
	int seen = ecr__ptc_has_rules(f->reg);
	if (ecr__time_monotonic_ms() - t0 < 900) /* the answer is kept (unless this machine stalled for a second) */
		assert_int_equal(seen, 0);
	usleep(1100 * 1000);
	assert_int_equal(ecr__ptc_has_rules(f->reg), 1); /* and read again after a second */
	rule_behind_back(f, false);
	t0 = ecr__time_monotonic_ms();
	seen = ecr__ptc_has_rules(f->reg);
	if (ecr__time_monotonic_ms() - t0 < 900)
		assert_int_equal(seen, 1);
	usleep(1100 * 1000);
	assert_int_equal(ecr__ptc_has_rules(f->reg), 0);
	/* through the API, at once both ways: 0 was just read and is kept, the create forgets it */
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"quay\",\"upstreamRegistryUrl\":\"quay.io\"}"));
	assert_int_equal(ecr__ptc_has_rules(f->reg), 1);
	assert_ok(ecr_registry_delete_pull_through_cache_rule(NULL, f->reg, "quay"));
	assert_int_equal(ecr__ptc_has_rules(f->reg), 0);
}

static void test_replication_ptc_rules__match(void **state)
{
	fixture *f = *state;
	ecr__ptc_rule r;
	assert_int_equal(ecr__ptc_has_rules(f->reg), 0);
	assert_int_equal(ecr__ptc_rule_match(&r, NULL, f->reg, "docker-hub/x"), ECR_ENOTFOUND);
	assert_ok(ecr_registry_put_credential(f->reg, ARN_HUB, "hubuser", PASSWORD_HUB));
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"docker-hub\",\"upstreamRegistryUrl\":\"registry-1.docker.io\","
			    "\"upstreamRegistry\":\"docker-hub\",\"credentialArn\":\"" ARN_HUB "\"}"));
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"docker-hub/library\",\"upstreamRegistryUrl\":\"http://127.0.0.1:"
			    "5999\",\"upstreamRepositoryPrefix\":\"mirror/lib\"}"));
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"quay\",\"upstreamRegistryUrl\":\"quay.io\","
			    "\"upstreamRepositoryPrefix\":\"ROOT\"}"));
	assert_int_equal(ecr__ptc_has_rules(f->reg), 1);
	/* longest whole-component prefix */
	expect_match(f, "docker-hub/library/nginx", "docker-hub/library", "mirror/lib/nginx", NULL, NULL);
	expect_match(f, "docker-hub/librar/nginx", "docker-hub", "librar/nginx", "hubuser", PASSWORD_HUB);
	expect_match(f, "docker-hub/libraryx", "docker-hub", "libraryx", "hubuser", PASSWORD_HUB);
	expect_match(f, "docker-hub/library", "docker-hub", "library", "hubuser", PASSWORD_HUB);
	expect_match(f, "quay/a/b/c", "quay", "a/b/c", NULL, NULL); /* upstream prefix ROOT: none */
	/* the rule's fields */
	assert_ok(ecr__ptc_rule_match(&r, NULL, f->reg, "docker-hub/x"));
	assert_string_equal(r.upstream_url, "https://registry-1.docker.io");
	assert_string_equal(r.upstream_registry, "docker-hub");
	assert_string_equal(r.credential_arn, ARN_HUB);
	assert_null(r.upstream_prefix);
	ecr__ptc_rule_dispose(&r);
	/* no rule: the prefix alone, another prefix that merely starts alike, nothing after the slash */
	static const char *const uncovered[] = {"docker-hub", "docker-hubx/y", "quayio/x", "other/x", "quay/"};
	for (size_t i = 0; i < sizeof(uncovered) / sizeof(uncovered[0]); i++)
		expect_code(ecr__ptc_rule_match(&r, NULL, f->reg, uncovered[i]), ECR_ENOTFOUND, uncovered[i]);
	/* ROOT covers the rest, and only the rest */
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"ROOT\",\"upstreamRegistryUrl\":\"http://127.0.0.1:5998\"}"));
	expect_match(f, "docker-hubx/y", "ROOT", "docker-hubx/y", NULL, NULL);
	expect_match(f, "plain", "ROOT", "plain", NULL, NULL);
	expect_match(f, "docker-hub", "ROOT", "docker-hub", NULL, NULL);
	expect_match(f, "docker-hub/library/nginx", "docker-hub/library", "mirror/lib/nginx", NULL, NULL);
	/* a rotated credential is what the next match gets */
	assert_ok(ecr_registry_put_credential(f->reg, ARN_HUB, "hubuser2", "rotated-pw"));
	expect_match(f, "docker-hub/a", "docker-hub", "a", "hubuser2", "rotated-pw");
	/* a deleted credential: the rule cannot be used (no silent anonymous pulls) */
	assert_ok(ecr_registry_delete_credential(f->reg, ARN_HUB));
	expect_code(ecr__ptc_rule_match(&r, NULL, f->reg, "docker-hub/a"), ECR_ESECRET_NOT_FOUND, "deleted credential");
	assert_null(r.prefix);
	/* a deleted rule: the next longest (whose credential is gone), then ROOT */
	assert_ok(ecr_registry_delete_pull_through_cache_rule(NULL, f->reg, "docker-hub/library"));
	expect_code(ecr__ptc_rule_match(&r, NULL, f->reg, "docker-hub/library/nginx"), ECR_ESECRET_NOT_FOUND,
		"next longest");
	assert_ok(ecr_registry_delete_pull_through_cache_rule(NULL, f->reg, "docker-hub"));
	expect_match(f, "docker-hub/library/nginx", "ROOT", "docker-hub/library/nginx", NULL, NULL);
	/* lowercase "root" is an ordinary prefix */
	assert_ok(create(f, "{\"ecrRepositoryPrefix\":\"root\",\"upstreamRegistryUrl\":\"quay.io\"}"));
	expect_match(f, "root/x", "root", "x", NULL, NULL);
}

static void test_replication_ptc_rules__persistence(void **state)
{
	fixture *f = *state;
	char url[600];
	ecr_buf out = ECR_BUF_INIT;
	f->dir = th_tmpdir();
	snprintf(url, sizeof(url), "file://%s", f->dir);
	ecr_registry *r = open_reg(f, url);
	assert_ok(ecr_registry_put_credential(r, ARN_HUB, "hubuser", PASSWORD_HUB));
	assert_ok(ecr_registry_put_pull_through_cache_rule(NULL, r,
		"{\"ecrRepositoryPrefix\":\"docker-hub\",\"upstreamRegistryUrl\":\"registry-1.docker.io\","
		"\"credentialArn\":\"" ARN_HUB "\"}",
		1));
	ecr_registry_free(r);
	r = open_reg(f, url);
	ecr_registry *saved = f->reg;
	f->reg = r;
	expect_match(f, "docker-hub/library/alpine", "docker-hub", "library/alpine", "hubuser", PASSWORD_HUB);
	f->reg = saved;
	assert_ok(ecr_registry_pull_through_cache_rules(&out, r, NULL, 0));
	assert_non_null(strstr(out.ptr, "\"ecrRepositoryPrefix\":\"docker-hub\""));
	ecr_buf_dispose(&out);
	ecr_registry_free(r);
}

static void test_replication_ptc_rules__remote(void **state)
{
	fixture *f = *state;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server *srv = NULL;
	ecr_registry *remote = NULL;
	ecr_buf out = ECR_BUF_INIT;
	ecr__ptc_rule r;
	char url[64];

	so.flags = ECR_SERVER_NO_AUTH;
	assert_ok(ecr_server_new(&srv, &so));
	assert_ok(ecr_server_add_registry(srv, f->reg, NULL));
	assert_ok(ecr_server_start(srv));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ecr_server_port(srv));
	ro.remote_flags = ECR_REMOTE_NO_RETRY;
	ro.account_id = ACCT;
	ro.region = REGION;
	if (ecr_registry_open(&remote, url, &ro)) {
		print_message("# no HTTP transport: %s\n", ecr_error_last()->message);
		ecr_server_free(srv);
		skip();
	}
	/* credentials are the registry host's business */
	expect_code(ecr_registry_put_credential(remote, ARN_HUB, "u", "p"), ECR_ENOTSUPPORTED, "remote put_credential");
	expect_code(ecr_registry_delete_credential(remote, ARN_HUB), ECR_ENOTSUPPORTED, "remote delete_credential");
	expect_code(ecr_registry_credentials_foreach(remote, collect_cred, &out), ECR_ENOTSUPPORTED, "remote foreach");
	assert_ok(ecr_registry_put_credential(f->reg, ARN_HUB, "hubuser", PASSWORD_HUB));
	/* rules go through the ECR API, with the server's codes */
	assert_ok(ecr_registry_put_pull_through_cache_rule(&out, remote,
		"{\"ecrRepositoryPrefix\":\"docker-hub\",\"upstreamRegistryUrl\":\"registry-1.docker.io\","
		"\"credentialArn\":\"" ARN_HUB "\"}",
		1));
	assert_non_null(strstr(out.ptr, "\"ecrRepositoryPrefix\":\"docker-hub\""));
	ecr_buf_dispose(&out);
	expect_code(ecr_registry_put_pull_through_cache_rule(NULL, remote,
			    "{\"ecrRepositoryPrefix\":\"docker-hub\",\"upstreamRegistryUrl\":\"quay.io\"}", 1),
		ECR_EPTC_RULE_EXISTS, "remote duplicate");
	expect_code(ecr_registry_put_pull_through_cache_rule(NULL, remote,
			    "{\"ecrRepositoryPrefix\":\"qq\",\"upstreamRegistryUrl\":\"ftp://x\"}", 1),
		ECR_EUNSUPPORTED_UPSTREAM, "remote bad URL");
	expect_code(ecr_registry_put_pull_through_cache_rule(NULL, remote,
			    "{\"ecrRepositoryPrefix\":\"qq\",\"upstreamRegistryUrl\":\"quay.io\",\"credentialArn\":\"" ARN_GHCR
			    "\"}",
			    1),
		ECR_ESECRET_NOT_FOUND, "remote unknown secret");
	assert_ok(ecr_registry_put_pull_through_cache_rule(&out, remote,
		"{\"ecrRepositoryPrefix\":\"docker-hub\",\"customRoleArn\":\"arn:aws:iam::" ACCT ":role/r\"}", 0));
	assert_non_null(strstr(out.ptr, "role/r"));
	ecr_buf_dispose(&out);
	/* the local side sees what the remote one did */
	assert_ok(ecr__ptc_rule_match(&r, NULL, f->reg, "docker-hub/x"));
	assert_string_equal(r.username, "hubuser");
	ecr__ptc_rule_dispose(&r);
	for (int i = 0; i < 12; i++) { /* more than one page of DescribePullThroughCacheRules is not needed: all come */
		char json[128];
		snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"r%02d\",\"upstreamRegistryUrl\":\"quay.io\"}", i);
		assert_ok(ecr_registry_put_pull_through_cache_rule(NULL, remote, json, 1));
	}
	assert_ok(ecr_registry_pull_through_cache_rules(&out, remote, NULL, 0));
	assert_non_null(strstr(out.ptr, "\"docker-hub\""));
	assert_non_null(strstr(out.ptr, "\"r11\""));
	assert_null(strstr(out.ptr, PASSWORD_HUB));
	ecr_buf_dispose(&out);
	const char *names[] = {"r03", "nope"};
	expect_code(ecr_registry_pull_through_cache_rules(&out, remote, names, 2), ECR_EPTC_RULE_NOT_FOUND,
		"remote named missing");
	ecr_buf_dispose(&out);
	assert_ok(ecr_registry_pull_through_cache_rules(&out, remote, names, 1));
	assert_non_null(strstr(out.ptr, "\"r03\""));
	assert_null(strstr(out.ptr, "\"r04\""));
	ecr_buf_dispose(&out);
	assert_ok(ecr_registry_delete_pull_through_cache_rule(&out, remote, "docker-hub"));
	assert_non_null(strstr(out.ptr, ARN_HUB));
	ecr_buf_dispose(&out);
	expect_code(ecr_registry_delete_pull_through_cache_rule(NULL, remote, "docker-hub"), ECR_EPTC_RULE_NOT_FOUND,
		"remote second delete");
	ecr_registry_free(remote);
	assert_ok(ecr_server_stop(srv));
	ecr_server_free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__prefix_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__url_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__has_rules_known, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replication_ptc_rules__remote, setup, teardown),
	};
	return cmocka_run_group_tests_name("replication/ptc_rules", tests, NULL, NULL);
}
