/*
 * libecr/remote/remote_repository.c and remote_registry.c: every scenario runs
 * twice, on a local memory: registry and on a remote handle (http://) to an
 * ecr_server serving another memory: registry with the same account, region
 * and clock, and the two runs' transcripts (values, decisions, names, ECR_E*
 * codes) must be identical. The scenarios also assert the codes they expect,
 * so two identical wrong answers fail too.
 */
#include "../helpers/helpers.h"
#include "../helpers/th_image.h"
#include "../server/api_client.h"
#include "remote_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecr/sys/transport.h"

#define POLICY                                                                                                         \
	"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"pull\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"    \
	"\"arn:aws:iam::444455556666:root\"},\"Action\":[\"ecr:BatchGetImage\"]}]}"
#define REG_POLICY                                                                                                     \
	"{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::444455556666:root\"},"      \
	"\"Action\":\"ecr:CreateRepository\"}}"

/* Untagged: keep one; v*: keep the two newest. */
#define LC_POLICY                                                                                                      \
	"{\"rules\":[{\"rulePriority\":1,\"description\":\"one untagged\",\"selection\":{\"tagStatus\":\"untagged\","  \
	"\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}},"                    \
	"{\"rulePriority\":2,\"description\":\"two v\",\"selection\":{\"tagStatus\":\"tagged\",\"tagPrefixList\":"     \
	"[\"v\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":2},\"action\":{\"type\":\"expire\"}}]}"
#define LC_ARCHIVE                                                                                                     \
	"{\"rules\":[{\"rulePriority\":3,\"description\":\"archive all but three\",\"selection\":{"                    \
	"\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":3},"                               \
	"\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}}]}"

typedef remote_fixture fx;

/* libecr's default account and region; the remote handle keeps the real clock. */
static int setup(void **state)
{
	remote_fixture_opts o = {.clock_cb = rf_clock};
	*state = remote_fixture_new(&o);
	return 0;
}

static int teardown(void **state)
{
	remote_fixture_free(*state);
	return 0;
}

/* --- transcripts --- */

static void say_repo(ecr_buf *log, const ecr_repository *r)
{
	rf_say(log, "repo %s arn=%s uri=%s id=%s created=%lld mut=%d scan=%d enc=%d kms=%s excl=%zu",
	       ecr_repository_name(r), ecr_repository_arn(r), ecr_repository_uri(r), ecr_repository_registry_id(r),
	       (long long)ecr_repository_created_at(r), (int)ecr_repository_tag_mutability(r),
	       ecr_repository_scan_on_push(r), (int)ecr_repository_encryption_type(r),
	       ecr_repository_kms_key(r) ? ecr_repository_kms_key(r) : "-", ecr_repository_exclusion_count(r));
	for (size_t i = 0; i < ecr_repository_exclusion_count(r); i++)
		rf_say(log, "  excl %s", ecr_repository_exclusion(r, i));
}

static int tag_cb(const char *key, const char *value, void *payload)
{
	rf_say(payload, "  tag %s=%s", key, value);
	return 0;
}

typedef void (*scenario)(ecr_buf *log, ecr_registry *reg, ecr_registry *store);

/* Run s on the local registry and on the remote one (store: where images are pushed for it) and compare. */
static void both(fx *f, scenario s)
{
	ecr_buf a = ECR_BUF_INIT, b = ECR_BUF_INIT;
	int64_t base = rf_now; /* both runs see the same times */
	s(&a, f->local, f->local);
	rf_now = base;
	s(&b, f->remote, f->backing);
	assert_non_null(a.ptr);
	assert_non_null(b.ptr);
	if (strcmp(a.ptr, b.ptr) != 0) {
		fprintf(stderr, "--- local\n%s--- remote\n%s", a.ptr, b.ptr);
		fail_msg("the local and remote transcripts differ");
	}
	free(a.ptr);
	free(b.ptr);
}

/* --- repositories --- */

static void sc_repositories(ecr_buf *log, ecr_registry *reg, ecr_registry *store)
{
	ecr_repository_options o = ECR_REPOSITORY_OPTIONS_INIT;
	const char *excl[] = { "latest", "dev-*" };
	ecr_resource_tag tags[] = { { "team", "core" }, { "env", "prod" } };
	ecr_repository *r = NULL, *r2 = NULL;
	(void)store;

	o.tag_mutability = ECR_TAG_IMMUTABLE_WITH_EXCLUSION;
	o.exclusions = excl;
	o.exclusions_count = 2;
	o.scan_on_push = 1;
	o.encryption_type = ECR_ENCRYPTION_KMS;
	o.kms_key = "arn:aws:kms:us-east-1:123456789012:key/k1";
	o.tags = tags;
	o.tags_count = 2;
	EXPECT(log, 0, ecr_repository_create(&r, reg, "team/app", &o));
	say_repo(log, r);
	assert_string_equal(ecr_repository_arn(r), "arn:aws:ecr:us-east-1:123456789012:repository/team/app");
	assert_int_equal(ecr_repository_exclusion_count(r), 2);
	assert_true(ecr_repository_tag_is_mutable(r, "dev-1"));
	assert_false(ecr_repository_tag_is_mutable(r, "v1"));
	EXPECT(log, ECR_EREPOSITORY_EXISTS, ecr_repository_create(NULL, reg, "team/app", NULL));
	EXPECT(log, 0, ecr_repository_create(NULL, reg, "team/plain", NULL));
	EXPECT(log, ECR_EINVALID, ecr_repository_create(NULL, reg, "Bad Name", NULL));
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_repository_open(&r2, reg, "team/none"));
	EXPECT(log, 0, ecr_repository_open(&r2, reg, "team/plain"));
	say_repo(log, r2);

	const char *excl2[] = { "rc-*" };
	EXPECT(log, ECR_EINVALID, ecr_repository_set_tag_mutability(r, ECR_TAG_MUTABLE, excl2, 1));
	EXPECT(log, 0, ecr_repository_set_tag_mutability(r, ECR_TAG_MUTABLE_WITH_EXCLUSION, excl2, 1));
	EXPECT(log, 0, ecr_repository_set_scan_on_push(r, 0));
	say_repo(log, r);
	ecr_repository_free(r2);
	EXPECT(log, 0, ecr_repository_open(&r2, reg, "team/app"));
	say_repo(log, r2);
	assert_int_equal(ecr_repository_tag_mutability(r2), ECR_TAG_MUTABLE_WITH_EXCLUSION);
	assert_int_equal(ecr_repository_scan_on_push(r2), 0);

	/* resource tags */
	EXPECT(log, 0, ecr_repository_resource_tags(r, tag_cb, log));
	ecr_resource_tag more[] = { { "owner", "me" }, { "team", "edge" } };
	EXPECT(log, 0, ecr_repository_tag_resource(r, more, 2));
	EXPECT(log, ECR_EINVALID_TAG_PARAMETER, ecr_repository_tag_resource(r, (ecr_resource_tag[]){ { "aws:x", "y" } }, 1));
	const char *keys[] = { "env", "nope" };
	EXPECT(log, 0, ecr_repository_untag_resource(r, keys, 2));
	EXPECT(log, 0, ecr_repository_resource_tags(r, tag_cb, log));
	ecr_resource_tag many[51];
	char names[51][8];
	for (int i = 0; i < 51; i++) {
		snprintf(names[i], sizeof(names[i]), "k%02d", i);
		many[i] = (ecr_resource_tag){ names[i], "v" };
	}
	EXPECT(log, ECR_ETOO_MANY_TAGS, ecr_repository_tag_resource(r, many, 51));

	/* deletion */
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_repository_delete(reg, "team/none", 0));
	EXPECT(log, 0, ecr_repository_delete(reg, "team/app", 0));
	ecr_repository_free(r2);
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_repository_open(&r2, reg, "team/app"));
	assert_null(r2);
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_repository_set_scan_on_push(r, 1));
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_repository_resource_tags(r, tag_cb, log));
	EXPECT(log, 0, ecr_repository_delete(reg, "team/plain", ECR_REPOSITORY_DELETE_FORCE));
	ecr_repository_free(r);
}

static void test_remote_remote_repository__repositories(void **state)
{
	both(*state, sc_repositories);
}

/* --- policies and settings --- */

static void sc_policies(ecr_buf *log, ecr_registry *reg, ecr_registry *store)
{
	ecr_repository *r = NULL;
	ecr_buf out = ECR_BUF_INIT;
	(void)store;
	EXPECT(log, 0, ecr_repository_create(&r, reg, "pol/app", NULL));
	EXPECT(log, ECR_EREPOSITORY_POLICY_NOT_FOUND, ecr_repository_policy(&out, r));
	EXPECT(log, ECR_EREPOSITORY_POLICY_NOT_FOUND, ecr_repository_delete_policy(NULL, r));
	EXPECT(log, ECR_EINVALID, ecr_repository_set_policy(r, "{}", 0));
	EXPECT(log, 0, ecr_repository_set_policy(r, POLICY, ECR_POLICY_FORCE));
	EXPECT(log, 0, ecr_repository_policy(&out, r));
	rf_say(log, "policy %s", out.ptr);
	assert_string_equal(out.ptr, POLICY);
	EXPECT(log, 0, ecr_repository_delete_policy(&out, r));
	rf_say(log, "deleted %s", out.ptr);
	EXPECT(log, ECR_EREPOSITORY_POLICY_NOT_FOUND, ecr_repository_policy(&out, r));

	EXPECT(log, ECR_EREGISTRY_POLICY_NOT_FOUND, ecr_registry_policy(&out, reg));
	EXPECT(log, ECR_EINVALID, ecr_registry_set_policy(reg, "{}"));
	EXPECT(log, 0, ecr_registry_set_policy(reg, REG_POLICY));
	EXPECT(log, 0, ecr_registry_policy(&out, reg));
	rf_say(log, "registry policy %s", out.ptr);
	assert_string_equal(out.ptr, REG_POLICY);
	EXPECT(log, 0, ecr_registry_delete_policy(&out, reg));
	rf_say(log, "deleted %s", out.ptr);
	EXPECT(log, ECR_EREGISTRY_POLICY_NOT_FOUND, ecr_registry_delete_policy(NULL, reg));

	EXPECT(log, 0, ecr_registry_setting(&out, reg, "BLOB_MOUNTING"));
	rf_say(log, "setting %s", out.ptr);
	assert_string_equal(out.ptr, "DISABLED");
	EXPECT(log, 0, ecr_registry_set_setting(reg, "BLOB_MOUNTING", "ENABLED"));
	EXPECT(log, 0, ecr_registry_setting(&out, reg, "BLOB_MOUNTING"));
	rf_say(log, "setting %s", out.ptr);
	assert_string_equal(out.ptr, "ENABLED");
	EXPECT(log, ECR_EVALIDATION, ecr_registry_setting(&out, reg, "NOPE"));
	EXPECT(log, ECR_EVALIDATION, ecr_registry_set_setting(reg, "BLOB_MOUNTING", "MAYBE"));

	/* a handle on a repository deleted meanwhile */
	EXPECT(log, 0, ecr_repository_delete(reg, "pol/app", 0));
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_repository_policy(&out, r));
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_repository_set_policy(r, POLICY, 0));
	ecr_repository_free(r);
	ecr_buf_dispose(&out);
}

static void test_remote_remote_repository__policies(void **state)
{
	both(*state, sc_policies);
}

/* --- listing --- */

static void say_names(ecr_buf *log, ecr_repository_iterator *it, size_t max, size_t *count)
{
	ecr_repository *r;
	int rc = 0;
	for (size_t i = 0; i < max && (rc = ecr_repository_iterator_next(&r, it)) == 0; i++) {
		rf_say(log, "  %s", ecr_repository_name(r));
		(*count)++;
	}
	if (rc && rc != ECR_ITEROVER)
		fail_msg("iterator_next: %s", ecr_error_last()->message);
}

static int count_cb(ecr_repository *r, void *payload)
{
	(void)r;
	(*(size_t *)payload)++;
	return 0;
}

static void sc_listing(ecr_buf *log, ecr_registry *reg, ecr_registry *store)
{
	ecr_repository_iterator *it = NULL, *it2 = NULL;
	ecr_buf tok = ECR_BUF_INIT;
	char name[32];
	size_t n = 0;
	(void)store;
	for (int i = 249; i >= 0; i--) { /* created out of order: listed in name order */
		snprintf(name, sizeof(name), "list/r%03d", i);
		assert_ok(ecr_repository_create(NULL, reg, name, NULL));
	}
	/* whole */
	EXPECT(log, 0, ecr_repository_iterator_new(&it, reg, NULL));
	EXPECT(log, 0, ecr_repository_iterator_token(&tok, it));
	assert_int_equal(tok.size, 0);
	say_names(log, it, SIZE_MAX, &n);
	assert_int_equal(n, 250);
	ecr_repository_iterator_free(it);

	/* in pieces: mid-page, at a page's end, in the next pages */
	static const size_t pieces[] = { 37, 63, 1, 99, 100, 1000 };
	size_t total = 0;
	tok.size = 0;
	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		EXPECT(log, 0, ecr_repository_iterator_new(&it, reg, tok.size ? tok.ptr : NULL));
		rf_say(log, "piece %zu", k);
		say_names(log, it, pieces[k], &total);
		tok.size = 0;
		EXPECT(log, 0, ecr_repository_iterator_token(&tok, it));
		ecr_repository_iterator_free(it);
	}
	assert_int_equal(total, 250);

	/* after a name */
	n = 0;
	EXPECT(log, 0, ecr_repository_iterator_new_after(&it, reg, "list/r149"));
	say_names(log, it, 3, &n);
	tok.size = 0;
	EXPECT(log, 0, ecr_repository_iterator_token(&tok, it));
	EXPECT(log, 0, ecr_repository_iterator_new(&it2, reg, tok.ptr));
	say_names(log, it2, SIZE_MAX, &n);
	assert_int_equal(n, 100);
	ecr_repository_iterator_free(it);
	ecr_repository_iterator_free(it2);

	EXPECT(log, ECR_EINVALID, ecr_repository_iterator_new(&it, reg, "!!not a token!!"));
	n = 0;
	EXPECT(log, 0, ecr_repository_foreach(reg, count_cb, &n));
	rf_say(log, "foreach %zu", n);
	assert_int_equal(n, 250);
	ecr_buf_dispose(&tok);
}

static void test_remote_remote_repository__listing(void **state)
{
	both(*state, sc_listing);
}

/* --- lifecycle --- */

static int decision_cb(ecr_image *img, ecr_lifecycle_action action, uint32_t rule, void *payload)
{
	size_t n = ecr_image_tag_count(img);
	rf_say(payload, "  %s tags=%zu %s action=%d rule=%u pushed=%lld", ecr_image_digest(img), n,
		n ? ecr_image_tag(img, 0) : "-", (int)action, (unsigned)rule, (long long)ecr_image_pushed_at(img));
	return 0;
}

static void sc_lifecycle(ecr_buf *log, ecr_registry *reg, ecr_registry *store)
{
	static const char *const tags[] = { NULL, "v1", NULL, "v2", "v3", "other", NULL };
	ecr_repository *r = NULL, *sr = NULL;
	ecr_buf out = ECR_BUF_INIT;
	uint64_t rng = 42;
	int64_t last = -1;
	int64_t t0 = rf_now;

	EXPECT(log, 0, ecr_repository_create(&r, reg, "lc/app", NULL));
	EXPECT(log, ECR_ELIFECYCLE_POLICY_NOT_FOUND, ecr_repository_lifecycle_policy(&out, &last, r));
	EXPECT(log, ECR_ELIFECYCLE_POLICY_NOT_FOUND, ecr_repository_lifecycle_preview(r, NULL, decision_cb, log));
	EXPECT(log, ECR_EINVALID, ecr_repository_set_lifecycle_policy(r, "{\"rules\":[]}"));
	/* images, pushed a second apart */
	assert_ok(ecr_repository_open(&sr, store, "lc/app"));
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		th_image img;
		rf_now = t0 + 1000 * (int64_t)(i + 1);
		assert_ok(th_image_random(&img, &rng, 1, NULL));
		assert_ok(th_image_push(sr, &img, tags[i], 0));
		th_image_dispose(&img);
	}
	rf_now = t0 + 60000;
	ecr_repository_free(sr);

	EXPECT(log, 0, ecr_repository_set_lifecycle_policy(r, LC_POLICY));
	EXPECT(log, 0, ecr_repository_lifecycle_policy(&out, &last, r));
	rf_say(log, "policy %s last=%lld", out.ptr, (long long)last);
	assert_string_equal(out.ptr, LC_POLICY);
	rf_say(log, "preview (own policy)");
	EXPECT(log, 0, ecr_repository_lifecycle_preview(r, NULL, decision_cb, log));
	rf_say(log, "preview (archive)");
	EXPECT(log, 0, ecr_repository_lifecycle_preview(r, LC_ARCHIVE, decision_cb, log));
	out.size = 0;
	EXPECT(log, 0, ecr_repository_delete_lifecycle_policy(&out, &last, r));
	rf_say(log, "deleted %s last=%lld", out.ptr, (long long)last);
	EXPECT(log, ECR_ELIFECYCLE_POLICY_NOT_FOUND, ecr_repository_delete_lifecycle_policy(NULL, NULL, r));
	EXPECT(log, 0, ecr_repository_delete(reg, "lc/app", ECR_REPOSITORY_DELETE_FORCE));
	EXPECT(log, ECR_EREPOSITORY_NOT_FOUND, ecr_repository_set_lifecycle_policy(r, LC_POLICY));
	ecr_repository_free(r);
	ecr_buf_dispose(&out);
}

static void test_remote_remote_repository__lifecycle(void **state)
{
	both(*state, sc_lifecycle);
}

/* --- scanning --- */

static void sc_scanning(ecr_buf *log, ecr_registry *reg, ecr_registry *store)
{
	ecr_repository *r = NULL, *r2 = NULL, *sr = NULL;
	ecr_buf out = ECR_BUF_INIT;
	ecr_scan_status st = ECR_SCAN_FAILED;
	int64_t at = -1;
	ecr_scan_report *rep = (ecr_scan_report *)&at;
	uint64_t rng = 7;
	th_image img;

	EXPECT(log, 0, ecr_registry_scanning_configuration(&out, reg));
	rf_say(log, "config %s", out.ptr);
	EXPECT(log, 0,
		ecr_registry_set_scanning_configuration(reg,
			"{\"scanType\":\"BASIC\",\"rules\":[{\"scanFrequency\":\"SCAN_ON_PUSH\",\"repositoryFilters\":"
			"[{\"filter\":\"prod\",\"filterType\":\"WILDCARD\"}]}]}"));
	out.size = 0;
	EXPECT(log, 0, ecr_registry_scanning_configuration(&out, reg));
	rf_say(log, "config %s", out.ptr);
	EXPECT(log, 0, ecr_repository_create(&r, reg, "prod-app", NULL));
	EXPECT(log, 0, ecr_repository_create(&r2, reg, "dev-app", NULL));
	out.size = 0;
	EXPECT(log, 0, ecr_repository_scan_frequency(&out, r));
	rf_say(log, "freq %s", out.ptr);
	assert_string_equal(out.ptr, "SCAN_ON_PUSH");
	out.size = 0;
	EXPECT(log, 0, ecr_repository_scan_frequency(&out, r2));
	rf_say(log, "freq %s", out.ptr);
	assert_string_equal(out.ptr, "MANUAL");

	assert_ok(ecr_repository_open(&sr, store, "dev-app"));
	assert_ok(th_image_random(&img, &rng, 1, NULL));
	assert_ok(th_image_push(sr, &img, "t", 0));
	EXPECT(log, 0, ecr_image_scan_result(&st, &out, &at, &rep, r2, img.digest));
	rf_say(log, "scan %d at=%lld report=%s", (int)st, (long long)at, rep ? "yes" : "no");
	assert_int_equal(st, ECR_SCAN_NONE);
	th_image_dispose(&img);
	ecr_repository_free(sr);
	EXPECT(log, 0, ecr_repository_delete(reg, "prod-app", 0));
	EXPECT(log, 0, ecr_repository_delete(reg, "dev-app", ECR_REPOSITORY_DELETE_FORCE));
	ecr_repository_free(r);
	ecr_repository_free(r2);
	ecr_buf_dispose(&out);
}

static void test_remote_remote_repository__scanning(void **state)
{
	both(*state, sc_scanning);
}

/* --- what stays on the registry's own host; tokens --- */

static void test_remote_remote_repository__local_only(void **state)
{
	fx *f = *state;
	ecr_principal *p = NULL;
	ecr_principal_iterator *pit = NULL;
	ecr_buf tok = ECR_BUF_INIT;
	ecr_repository *r = NULL;
	ecr_scanner *s = NULL;
	int64_t exp = 0;

	assert_int_equal(ecr_principal_create(&p, f->remote, "arn:aws:iam::123456789012:user/x", 0), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr_principal_open(&p, f->remote, RF_ADMIN_ARN), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr_principal_delete(f->remote, RF_ADMIN_ARN), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr_principal_iterator_new(&pit, f->remote), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr_auth_token_verify(&p, f->remote, "x"), ECR_ENOTSUPPORTED);
	assert_ok(ecr_principal_open(&p, f->backing, RF_ADMIN_ARN));
	assert_int_equal(ecr_authorize(f->remote, p, "ecr:BatchGetImage", "arn:aws:ecr:us-east-1:123456789012:repository/x",
				 NULL, 0),
		ECR_ENOTSUPPORTED);
	ecr_principal_free(p);
	p = NULL;
	assert_ok(ecr_scanner_new(&s, 1));
	assert_int_equal(ecr_scanner_attach(s, f->remote), ECR_ENOTSUPPORTED);
	ecr_scanner_free(s);
	assert_ok(ecr_repository_create(&r, f->remote, "only/app", NULL));
	assert_ok(ecr_repository_set_lifecycle_policy(r, LC_POLICY));
	assert_int_equal(ecr_repository_apply_lifecycle(r, NULL, NULL), ECR_ENOTSUPPORTED);
	assert_non_null(strstr(ecr_error_last()->message, "registry's own host"));
	ecr_repository_free(r);
	assert_ok(ecr_repository_delete(f->remote, "only/app", 0));

	/* a registry token of the caller: the server's registry knows it as the admin's */
	assert_ok(ecr_auth_token_create(&tok, &exp, f->remote, NULL));
	assert_true(tok.size > 10);
	assert_true(exp > rf_now);
	assert_ok(ecr_auth_token_verify(&p, f->backing, tok.ptr));
	assert_string_equal(ecr_principal_arn(p), RF_ADMIN_ARN);
	ecr_principal_free(p);
	ecr_buf_dispose(&tok);
}

/* --- a plain OCI registry (the same server, its ECR API unused) --- */

static void test_remote_remote_repository__oci_only(void **state)
{
	fx *f = *state;
	ecr_registry *oci = NULL;
	ecr_repository *r = NULL, *sr = NULL;
	ecr_repository_iterator *it = NULL;
	ecr_principal *p = NULL;
	ecr_buf tok = ECR_BUF_INIT;
	char url[64];
	uint64_t rng = 9;
	th_image img;

	assert_ok(ecr_principal_open(&p, f->backing, RF_ADMIN_ARN));
	assert_ok(ecr_auth_token_create(&tok, NULL, f->backing, p));
	ecr_principal_free(p);
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.username = "AWS";
	o.password = tok.ptr;
	o.remote_flags = ECR_REMOTE_OCI_ONLY | ECR_REMOTE_NO_RETRY;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)f->port);
	assert_ok(ecr_registry_open(&oci, url, &o));
	assert_false(ecr_registry_transport(oci) == NULL);

	assert_ok(ecr_repository_create(&sr, f->backing, "oci/app", NULL));
	assert_ok(th_image_random(&img, &rng, 1, NULL));
	assert_ok(th_image_push(sr, &img, "t1", 0));
	th_image_dispose(&img);
	ecr_repository_free(sr);

	assert_ok(ecr_repository_open(&r, oci, "oci/app"));
	assert_string_equal(ecr_repository_name(r), "oci/app");
	snprintf(url, sizeof(url), "127.0.0.1:%u/oci/app", (unsigned)f->port);
	assert_string_equal(ecr_repository_uri(r), url);
	assert_string_equal(ecr_repository_arn(r), "");
	assert_int_equal(ecr_repository_tag_mutability(r), ECR_TAG_MUTABLE);
	ecr_repository_free(r);
	assert_int_equal(ecr_repository_open(&r, oci, "oci/none"), ECR_EREPOSITORY_NOT_FOUND);
	assert_ok(ecr_repository_create(&r, oci, "oci/new", NULL));
	assert_string_equal(ecr_repository_name(r), "oci/new");
	assert_int_equal(ecr_repository_set_scan_on_push(r, 1), ECR_ENOTSUPPORTED);
	ecr_repository_free(r);
	ecr_repository_options ro = ECR_REPOSITORY_OPTIONS_INIT;
	ro.tag_mutability = ECR_TAG_IMMUTABLE;
	assert_int_equal(ecr_repository_create(&r, oci, "oci/imm", &ro), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr_repository_delete(oci, "oci/app", 0), ECR_ENOTSUPPORTED);
	assert_int_equal(ecr_repository_iterator_new(&it, oci, NULL), ECR_ENOTSUPPORTED);
	assert_ok(ecr_repository_delete(f->backing, "oci/app", ECR_REPOSITORY_DELETE_FORCE));
	ecr_registry_free(oci);
	ecr_buf_dispose(&tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_remote_remote_repository__repositories, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_remote_repository__policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_remote_repository__listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_remote_repository__lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_remote_repository__scanning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_remote_repository__local_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_remote_repository__oci_only, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("remote/remote_repository", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
