/* Principals: ARNs, create/open/delete, access keys, identity policies, iteration. */
#include "libecr/auth/auth.h"

#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALLOW_ALL                                                                                                      \
	"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:*\",\"Resource\":\"*\"}]}"

static void test_auth_principal__arns(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_principal *p;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	const char *good[] = {"arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/dev/team/bob",
	                      "arn:aws:iam::111122223333:role/ci-runner", "arn:aws:iam::000000000000:root",
	                      "arn:aws:iam::111122223333:user/a+b=c,d.e@f_g-h"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_ok(ecr_principal_create(&p, reg, good[i], 0));
		assert_string_equal(ecr_principal_arn(p), good[i]);
		assert_int_equal(strlen(ecr_principal_account_id(p)), 12);
		assert_memory_equal(ecr_principal_account_id(p), good[i] + 13, 12);
		assert_int_equal(ecr_principal_is_admin(p), 0);
		ecr_principal_free(p);
	}
	const char *bad[] = {"",
	                     "arn:aws:iam::11112222333:user/alice",
	                     "arn:aws:iam::1111222233334:user/alice",
	                     "arn:aws:iam::11112222333a:user/alice",
	                     "arn:aws:iam:us-east-1:111122223333:user/alice",
	                     "arn:aws:sts::111122223333:user/alice",
	                     "arn:aws:iam::111122223333:user/",
	                     "arn:aws:iam::111122223333:user",
	                     "arn:aws:iam::111122223333:group/x",
	                     "arn:aws:iam::111122223333:user//x",
	                     "arn:aws:iam::111122223333:user/x/",
	                     "arn:aws:iam::111122223333:user/a b",
	                     "arn:aws:iam::111122223333:rootx",
	                     "arn:aws:iam::111122223333:",
	                     "arn:aws:iam::111122223333:user/\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (ecr_principal *)1;
		if (ecr_principal_create(&p, reg, bad[i], 0) != ECR_EINVALID)
			fail_msg("accepted '%s'", bad[i]);
		assert_null(p);
	}
	char longname[100];
	memset(longname, 'x', sizeof(longname));
	char arn[200];
	snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/%.65s", longname);
	assert_int_equal(ecr_principal_create(&p, reg, arn, 0), ECR_EINVALID);
	assert_int_equal(ecr_principal_create(&p, reg, NULL, 0), ECR_EINVALID);
	assert_int_equal(ecr_principal_create(&p, reg, good[0], 0x80), ECR_EINVALID);
	ecr_registry_free(reg);
}

static void test_auth_principal__create_open_delete(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_principal *p, *q;
	const char *arn = "arn:aws:iam::111122223333:user/alice";
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_principal_create(&p, reg, arn, ECR_PRINCIPAL_ADMIN));
	assert_int_equal(ecr_principal_is_admin(p), 1);
	assert_int_equal(ecr_principal_create(&q, reg, arn, 0), ECR_EEXISTS);
	assert_ok(ecr_principal_create(NULL, reg, "arn:aws:iam::111122223333:root", 0));
	assert_ok(ecr_principal_open(&q, reg, arn));
	assert_string_equal(ecr_principal_arn(q), arn);
	assert_string_equal(ecr_principal_account_id(q), "111122223333");
	assert_int_equal(ecr_principal_is_admin(q), 1);
	assert_string_equal(q->uid, p->uid);
	ecr_principal_free(q);
	assert_int_equal(ecr_principal_open(&q, reg, "arn:aws:iam::111122223333:user/nobody"), ECR_ENOTFOUND);
	assert_null(q);

	ecr_buf id = ECR_BUF_INIT, secret = ECR_BUF_INIT;
	assert_ok(ecr_principal_access_key_create(&id, &secret, p));
	assert_ok(ecr_principal_put_policy(p, "all", ALLOW_ALL));
	assert_ok(ecr_principal_delete(reg, arn));
	assert_int_equal(ecr_principal_delete(reg, arn), ECR_ENOTFOUND);
	assert_int_equal(ecr_principal_open(&q, reg, arn), ECR_ENOTFOUND);
	/* keys and policies are gone with it */
	ecr__txn t;
	ecr__meta_principal m;
	char *sec = NULL;
	int64_t n = -1;
	assert_ok(ecr__txn_begin(&t, reg->store->meta, false));
	assert_int_equal(ecr__meta_principal_get_by_key(&t, id.ptr, &m, &sec), ECR_ENOTFOUND);
	assert_ok(ecr__sql(&t, "SELECT COUNT(*) FROM identity_policies", NULL, 0, ecr__sql_col_int, &n, NULL));
	assert_int_equal(n, 0);
	ecr__txn_rollback(&t);
	/* the stale handle cannot be used to add keys or policies */
	assert_int_equal(ecr_principal_access_key_create(&id, &secret, p), ECR_ENOTFOUND);
	assert_int_equal(ecr_principal_put_policy(p, "all", ALLOW_ALL), ECR_ENOTFOUND);
	/* re-created: a new uid */
	assert_ok(ecr_principal_create(&q, reg, arn, 0));
	assert_string_not_equal(q->uid, p->uid);
	assert_int_equal(ecr_principal_put_policy(p, "all", ALLOW_ALL), ECR_ENOTFOUND);
	ecr_principal_free(q);
	ecr_principal_free(p);
	ecr_principal_free(NULL);
	ecr_buf_dispose(&id);
	ecr_buf_dispose(&secret);
	ecr_registry_free(reg);
}

static void test_auth_principal__access_keys(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_principal *p;
	ecr_buf id = ECR_BUF_INIT, secret = ECR_BUF_INIT, id2 = ECR_BUF_INIT, secret2 = ECR_BUF_INIT;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_principal_create(&p, reg, "arn:aws:iam::111122223333:user/alice", 0));
	assert_ok(ecr_principal_access_key_create(&id, &secret, p));
	assert_int_equal(id.size, 20);
	assert_memory_equal(id.ptr, "AKIA", 4);
	for (size_t i = 4; i < 20; i++)
		assert_true((id.ptr[i] >= 'A' && id.ptr[i] <= 'Z') || (id.ptr[i] >= '2' && id.ptr[i] <= '7'));
	assert_int_equal(secret.size, 40);
	for (size_t i = 0; i < 40; i++)
		assert_non_null(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", secret.ptr[i]));
	assert_ok(ecr_principal_access_key_create(&id2, &secret2, p));
	assert_string_not_equal(id.ptr, id2.ptr);
	assert_string_not_equal(secret.ptr, secret2.ptr);

	/* stored: the key leads to the principal and its secret */
	ecr__txn t;
	ecr__meta_principal m;
	char *sec = NULL;
	assert_ok(ecr__txn_begin(&t, reg->store->meta, false));
	assert_ok(ecr__meta_principal_get_by_key(&t, id.ptr, &m, &sec));
	ecr__txn_rollback(&t);
	assert_string_equal(m.arn, "arn:aws:iam::111122223333:user/alice");
	assert_string_equal(sec, secret.ptr);
	ecr__meta_principal_dispose(&m);
	free(sec);

	assert_ok(ecr_principal_access_key_delete(p, id.ptr));
	assert_int_equal(ecr_principal_access_key_delete(p, id.ptr), ECR_ENOTFOUND);
	/* another principal cannot delete my key */
	ecr_principal *q;
	assert_ok(ecr_principal_create(&q, reg, "arn:aws:iam::111122223333:user/bob", 0));
	assert_int_equal(ecr_principal_access_key_delete(q, id2.ptr), ECR_ENOTFOUND);
	assert_ok(ecr_principal_access_key_delete(p, id2.ptr));
	ecr_principal_free(q);
	ecr_principal_free(p);
	ecr_buf_dispose(&id);
	ecr_buf_dispose(&secret);
	ecr_buf_dispose(&id2);
	ecr_buf_dispose(&secret2);
	ecr_registry_free(reg);
}

struct seen {
	char names[8][64];
	char docs[8][256];
	int n;
};

static int policy_cb(const char *name, const char *doc, void *payload)
{
	struct seen *s = payload;
	snprintf(s->names[s->n], 64, "%s", name);
	snprintf(s->docs[s->n], 256, "%s", doc);
	return ++s->n == 99 ? 42 : 0;
}

static int stop_cb(const char *name, const char *doc, void *payload)
{
	(void)name;
	(void)doc;
	(*(int *)payload)++;
	return 7;
}

static void test_auth_principal__identity_policies(void **state)
{
	(void)state;
	ecr_registry *reg;
	ecr_principal *p;
	struct seen s = {0};
	const char *deny = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"Action\":\"ecr:Delete*\","
	                   "\"Resource\":\"*\"}}";
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_principal_create(&p, reg, "arn:aws:iam::111122223333:user/alice", 0));
	assert_ok(ecr_principal_put_policy(p, "zeta", ALLOW_ALL));
	assert_ok(ecr_principal_put_policy(p, "alpha", ALLOW_ALL));
	assert_ok(ecr_principal_put_policy(p, "alpha", deny)); /* replaced */
	assert_ok(ecr_principal_policies(p, policy_cb, &s));
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "alpha");
	assert_string_equal(s.docs[0], deny);
	assert_string_equal(s.names[1], "zeta");
	assert_string_equal(s.docs[1], ALLOW_ALL);
	int calls = 0;
	assert_int_equal(ecr_principal_policies(p, stop_cb, &calls), 7);
	assert_int_equal(calls, 1);

	/* invalid: name, JSON, grammar, a Principal in an identity policy */
	assert_int_equal(ecr_principal_put_policy(p, "", ALLOW_ALL), ECR_EINVALID);
	assert_int_equal(ecr_principal_put_policy(p, "a b", ALLOW_ALL), ECR_EINVALID);
	assert_int_equal(ecr_principal_put_policy(p, "x", "{not json"), ECR_EINVALID);
	assert_int_equal(ecr_principal_put_policy(p, "x",
	                                          "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
	                                          "\"Maybe\",\"Action\":\"ecr:*\",\"Resource\":\"*\"}]}"),
	                 ECR_EINVALID);
	assert_int_equal(
	    ecr_principal_put_policy(p, "x",
	                             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
	                             "\"Allow\",\"Principal\":\"*\",\"Action\":\"ecr:*\",\"Resource\":\"*\"}]}"),
	    ECR_EINVALID);
	assert_ok(ecr_principal_delete_policy(p, "alpha"));
	assert_int_equal(ecr_principal_delete_policy(p, "alpha"), ECR_ENOTFOUND);
	s.n = 0;
	assert_ok(ecr_principal_policies(p, policy_cb, &s));
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "zeta");
	ecr_principal_free(p);
	ecr_registry_free(reg);
}

static void test_auth_principal__iterator(void **state)
{
	(void)state;
	ecr_registry *reg, *other;
	ecr_principal_iterator *it;
	ecr_principal *p;
	char *dir = th_tmpdir();
	char url[512], arn[128];
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	snprintf(url, sizeof(url), "file://%s", dir);
	assert_ok(ecr_registry_open(&reg, url, NULL));
	/* 250 principals: several pages; inserted in reverse order */
	for (int i = 249; i >= 0; i--) {
		snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/u%03d", i);
		assert_ok(ecr_principal_create(NULL, reg, arn, 0));
	}
	/* another registry of the same storage sees them */
	opts.account_id = "444455556666";
	opts.region = "eu-west-1";
	assert_ok(ecr_registry_open(&other, url, &opts));
	assert_ok(ecr_principal_iterator_new(&it, other));
	int n = 0;
	int rc;
	char prev[128] = "";
	while ((rc = ecr_principal_iterator_next(&p, it)) == 0) {
		snprintf(arn, sizeof(arn), "arn:aws:iam::111122223333:user/u%03d", n);
		assert_string_equal(ecr_principal_arn(p), arn);
		assert_true(strcmp(prev, arn) < 0);
		snprintf(prev, sizeof(prev), "%s", arn);
		n++;
	}
	assert_int_equal(rc, ECR_ITEROVER);
	assert_int_equal(n, 250);
	assert_int_equal(ecr_principal_iterator_next(&p, it), ECR_ITEROVER);
	ecr_principal_iterator_free(it);
	/* freeing mid-way */
	assert_ok(ecr_principal_iterator_new(&it, reg));
	assert_ok(ecr_principal_iterator_next(&p, it));
	assert_ok(ecr_principal_iterator_next(&p, it));
	ecr_principal_iterator_free(it);
	ecr_principal_iterator_free(NULL);
	ecr_registry_free(other);
	ecr_registry_free(reg);
	/* empty */
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_principal_iterator_new(&it, reg));
	assert_int_equal(ecr_principal_iterator_next(&p, it), ECR_ITEROVER);
	ecr_principal_iterator_free(it);
	ecr_registry_free(reg);
	th_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth_principal__arns),
	    cmocka_unit_test(test_auth_principal__create_open_delete),
	    cmocka_unit_test(test_auth_principal__access_keys),
	    cmocka_unit_test(test_auth_principal__identity_policies),
	    cmocka_unit_test(test_auth_principal__iterator),
	};
	return cmocka_run_group_tests_name("auth/principal", tests, NULL, NULL);
}
