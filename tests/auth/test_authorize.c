/* ecr_authorize end to end on a memory registry: administrators, identity and
 * resource policies, cross-account, explicit denies, conditions; ECR Public's ARNs and actions. */
#include "libecr/auth/auth.h"

#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCT "111111111111"
#define OTHER "222222222222"
#define REPO_ARN "arn:aws:ecr:us-east-1:" ACCT ":repository/team/app"
#define REG_ARN "arn:aws:ecr:us-east-1:" ACCT ":registry"
#define POLICY(stmts) "{\"Version\":\"2012-10-17\",\"Statement\":[" stmts "]}"

typedef struct fixture {
	ecr_registry *reg;
	ecr_repository *repo;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_repository_options ropts = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_resource_tag tags[] = {{"team", "a"}, {"env", "prod"}};
	opts.account_id = ACCT;
	assert_ok(ecr_registry_open(&f->reg, "memory:", &opts));
	ropts.tags = tags;
	ropts.tags_count = 2;
	assert_ok(ecr_repository_create(&f->repo, f->reg, "team/app", &ropts));
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

/* Store a resource policy directly in the policies table (as the policy module does). */
static void set_policy(fixture *f, int64_t repo_id, const char *kind, const char *doc)
{
	ecr__txn t;
	ecr_sql_value del[] = {ECR__SQL_I(f->reg->id), ECR__SQL_I(repo_id), ECR__SQL_S(kind)};
	ecr_sql_value ins[] = {ECR__SQL_I(f->reg->id), ECR__SQL_I(repo_id), ECR__SQL_S(kind), ECR__SQL_S(doc),
	                       ECR__SQL_I(0)};
	assert_ok(ecr__txn_begin(&t, f->reg->store->meta, true));
	assert_ok(ecr__sql(&t, "DELETE FROM policies WHERE registry_id = ? AND repository_id = ? AND kind = ?", del, 3,
	                   NULL, NULL, NULL));
	if (doc)
		assert_ok(ecr__sql(&t,
		                   "INSERT INTO policies (registry_id, repository_id, kind, document, updated_at) "
		                   "VALUES (?, ?, ?, ?, ?)",
		                   ins, 5, NULL, NULL, NULL));
	assert_ok(ecr__txn_commit(&t));
}

static void set_repo_policy(fixture *f, const char *doc)
{
	set_policy(f, f->repo->id, "repository", doc);
}

static ecr_principal *principal(fixture *f, const char *arn, uint32_t flags)
{
	ecr_principal *p;
	assert_ok(ecr_principal_create(&p, f->reg, arn, flags));
	return p;
}

static int authz(fixture *f, ecr_principal *p, const char *action, const char *res)
{
	return ecr_authorize(f->reg, p, action, res, NULL, 0);
}

static void expect_denied(fixture *f, ecr_principal *p, const char *action, const char *res, const char *why)
{
	char msg[1024];
	int rc = authz(f, p, action, res);
	if (rc != ECR_EDENIED)
		fail_msg("%s %s on %s: expected a denial, got %d", ecr_principal_arn(p), action, res, rc);
	snprintf(msg, sizeof(msg), "User: %s is not authorized to perform: %s on resource: %s %s", ecr_principal_arn(p),
	         action, res, why);
	assert_string_equal(ecr_error_last()->message, msg);
}

static void expect_denied_reg(ecr_registry *reg, ecr_principal *p, const char *action, const char *res,
                              const char *why)
{
	char msg[1024];
	int rc = ecr_authorize(reg, p, action, res, NULL, 0);
	if (rc != ECR_EDENIED)
		fail_msg("%s %s on %s: expected a denial, got %d", ecr_principal_arn(p), action, res, rc);
	snprintf(msg, sizeof(msg), "User: %s is not authorized to perform: %s on resource: %s %s", ecr_principal_arn(p),
	         action, res, why);
	assert_string_equal(ecr_error_last()->message, msg);
}

static void test_auth_authorize__admin(void **state)
{
	fixture *f = *state;
	ecr_principal *admin = principal(f, "arn:aws:iam::" ACCT ":user/admin", ECR_PRINCIPAL_ADMIN);
	ecr_principal *other_admin = principal(f, "arn:aws:iam::" OTHER ":user/admin", ECR_PRINCIPAL_ADMIN);
	assert_ok(authz(f, admin, "ecr:PutImage", REPO_ARN));
	assert_ok(authz(f, admin, "ecr:DeleteRepository", REPO_ARN));
	assert_ok(authz(f, admin, "ecr:PutRegistryPolicy", REG_ARN));
	assert_ok(authz(f, admin, "ecr:CreateRepository", "arn:aws:ecr:us-east-1:" ACCT ":repository/not/yet"));
	/* an administrator of another account has no rights here */
	expect_denied(f, other_admin, "ecr:BatchGetImage", REPO_ARN,
	              "because no resource-based policy allows the ecr:BatchGetImage action");
	/* an explicit deny in the repository policy stops even the administrator */
	set_repo_policy(f, POLICY("{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"ecr:DeleteRepository\"}"));
	expect_denied(f, admin, "ecr:DeleteRepository", REPO_ARN, "with an explicit deny in a resource-based policy");
	assert_ok(authz(f, admin, "ecr:PutImage", REPO_ARN));
	/* bad arguments */
	assert_int_equal(authz(f, admin, "ecr:PutImage", "arn:aws:s3:::bucket"), ECR_EINVALID);
	assert_int_equal(authz(f, admin, "ecr:PutImage", "arn:aws:ecr:us-east-1:123:repository/x"), ECR_EINVALID);
	assert_int_equal(authz(f, admin, "", REPO_ARN), ECR_EINVALID);
	ecr_principal_free(admin);
	ecr_principal_free(other_admin);
}

static void test_auth_authorize__same_account(void **state)
{
	fixture *f = *state;
	ecr_principal *bob = principal(f, "arn:aws:iam::" ACCT ":user/bob", 0);
	ecr_principal *carol = principal(f, "arn:aws:iam::" ACCT ":user/carol", 0);

	/* nothing allows */
	expect_denied(f, bob, "ecr:BatchGetImage", REPO_ARN,
	              "because no identity-based policy allows the ecr:BatchGetImage action");
	/* identity policy only */
	assert_ok(ecr_principal_put_policy(
	    bob, "pull",
	    POLICY("{\"Effect\":\"Allow\",\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\"],"
	           "\"Resource\":\"arn:aws:ecr:us-east-1:" ACCT ":repository/team/*\"}")));
	assert_ok(authz(f, bob, "ecr:BatchGetImage", REPO_ARN));
	assert_ok(authz(f, bob, "ecr:GetDownloadUrlForLayer", REPO_ARN));
	expect_denied(f, bob, "ecr:PutImage", REPO_ARN,
	              "because no identity-based policy allows the ecr:PutImage action");
	expect_denied(f, bob, "ecr:BatchGetImage", "arn:aws:ecr:us-east-1:" ACCT ":repository/other",
	              "because no identity-based policy allows the ecr:BatchGetImage action");

	/* resource policy only */
	expect_denied(f, carol, "ecr:PutImage", REPO_ARN,
	              "because no identity-based policy allows the ecr:PutImage action");
	set_repo_policy(f, POLICY("{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" ACCT ":user/carol\"},"
	                          "\"Action\":\"ecr:PutImage\"}"));
	assert_ok(authz(f, carol, "ecr:PutImage", REPO_ARN));
	expect_denied(f, bob, "ecr:PutImage", REPO_ARN,
	              "because no identity-based policy allows the ecr:PutImage action");

	/* an explicit deny in the identity policy wins over the resource policy's allow */
	assert_ok(ecr_principal_put_policy(carol, "no-push",
	                                   POLICY("{\"Effect\":\"Deny\",\"Action\":\"ecr:Put*\",\"Resource\":\"*\"}")));
	expect_denied(f, carol, "ecr:PutImage", REPO_ARN, "with an explicit deny in an identity-based policy");
	assert_ok(ecr_principal_delete_policy(carol, "no-push"));
	assert_ok(authz(f, carol, "ecr:PutImage", REPO_ARN));

	/* the registry policy applies to the registry, and (V2) to its repositories */
	expect_denied(f, carol, "ecr:ReplicateImage", REG_ARN,
	              "because no identity-based policy allows the ecr:ReplicateImage action");
	set_policy(f, 0, "registry",
	           POLICY("{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" ACCT "\"},"
	                  "\"Action\":\"ecr:ReplicateImage\",\"Resource\":\"*\"}"));
	assert_ok(authz(f, carol, "ecr:ReplicateImage", REG_ARN));
	set_policy(f, 0, "registry", NULL);
	expect_denied(f, carol, "ecr:ReplicateImage", REG_ARN,
	              "because no identity-based policy allows the ecr:ReplicateImage action");
	ecr_principal_free(bob);
	ecr_principal_free(carol);
}

static void test_auth_authorize__cross_account(void **state)
{
	fixture *f = *state;
	ecr_principal *dave = principal(f, "arn:aws:iam::" OTHER ":user/dave", 0);

	/* the resource allows, but dave's identity does not */
	set_repo_policy(f, POLICY("{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" OTHER ":root\"},"
	                          "\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\"]}"));
	expect_denied(f, dave, "ecr:BatchGetImage", REPO_ARN,
	              "because no identity-based policy allows the ecr:BatchGetImage action");
	/* both allow */
	assert_ok(ecr_principal_put_policy(dave, "all",
	                                   POLICY("{\"Effect\":\"Allow\",\"Action\":\"ecr:*\",\"Resource\":\"*\"}")));
	assert_ok(authz(f, dave, "ecr:BatchGetImage", REPO_ARN));
	/* identity allows, resource does not */
	expect_denied(f, dave, "ecr:PutImage", REPO_ARN,
	              "because no resource-based policy allows the ecr:PutImage action");
	set_repo_policy(f, NULL);
	expect_denied(f, dave, "ecr:BatchGetImage", REPO_ARN,
	              "because no resource-based policy allows the ecr:BatchGetImage action");
	/* granted again, then an explicit deny in the resource policy */
	set_repo_policy(f, POLICY("{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"" OTHER "\"},\"Action\":\"ecr:*\"},"
	                          "{\"Effect\":\"Deny\",\"Principal\":{\"AWS\":\"arn:aws:iam::" OTHER ":user/dave\"},"
	                          "\"Action\":\"ecr:BatchDeleteImage\"}"));
	assert_ok(authz(f, dave, "ecr:PutImage", REPO_ARN));
	expect_denied(f, dave, "ecr:BatchDeleteImage", REPO_ARN, "with an explicit deny in a resource-based policy");
	/* a deny in dave's identity policy */
	assert_ok(ecr_principal_put_policy(
	    dave, "deny", POLICY("{\"Effect\":\"Deny\",\"Action\":\"ecr:PutImage\",\"Resource\":\"" REPO_ARN "\"}")));
	expect_denied(f, dave, "ecr:PutImage", REPO_ARN, "with an explicit deny in an identity-based policy");
	ecr_principal_free(dave);
}

static void test_auth_authorize__conditions(void **state)
{
	fixture *f = *state;
	ecr_principal *erin = principal(f, "arn:aws:iam::" ACCT ":user/erin", 0);
	set_repo_policy(f, POLICY("{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"ecr:BatchGetImage\","
	                          "\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}}"));
	ecr_policy_context_key in[] = {{"aws:SourceIp", "10.1.2.3"}}, out[] = {{"aws:SourceIp", "192.168.1.1"}};
	assert_ok(ecr_authorize(f->reg, erin, "ecr:BatchGetImage", REPO_ARN, in, 1));
	assert_int_equal(ecr_authorize(f->reg, erin, "ecr:BatchGetImage", REPO_ARN, out, 1), ECR_EDENIED);
	assert_int_equal(ecr_authorize(f->reg, erin, "ecr:BatchGetImage", REPO_ARN, NULL, 0), ECR_EDENIED);
	assert_int_equal(ecr_authorize(f->reg, erin, "ecr:BatchGetImage", REPO_ARN, NULL, 1), ECR_EINVALID);

	/* keys the library adds: resource tags, principal */
	set_repo_policy(f, NULL);
	assert_ok(ecr_principal_put_policy(
	    erin, "tags",
	    POLICY(
	        "{\"Effect\":\"Allow\",\"Action\":\"ecr:PutImage\",\"Resource\":\"*\","
	        "\"Condition\":{\"StringEquals\":{\"ecr:ResourceTag/team\":\"a\",\"aws:ResourceTag/env\":\"prod\"}}},"
	        "{\"Effect\":\"Allow\",\"Action\":\"ecr:ListImages\",\"Resource\":\"*\","
	        "\"Condition\":{\"StringEquals\":{\"ecr:ResourceTag/team\":\"b\"}}},"
	        "{\"Effect\":\"Allow\",\"Action\":\"ecr:DescribeImages\",\"Resource\":\"*\","
	        "\"Condition\":{\"StringEquals\":{\"aws:PrincipalAccount\":\"" ACCT "\","
	        "\"aws:PrincipalArn\":\"arn:aws:iam::" ACCT ":user/erin\"}}}")));
	assert_ok(authz(f, erin, "ecr:PutImage", REPO_ARN));
	assert_int_equal(authz(f, erin, "ecr:ListImages", REPO_ARN), ECR_EDENIED);
	assert_ok(authz(f, erin, "ecr:DescribeImages", REPO_ARN));
	/* a repository without the tags */
	assert_ok(ecr_repository_create(NULL, f->reg, "untagged", NULL));
	assert_int_equal(authz(f, erin, "ecr:PutImage", "arn:aws:ecr:us-east-1:" ACCT ":repository/untagged"),
	                 ECR_EDENIED);
	ecr_principal_free(erin);
}

#define PUB_REPO_ARN "arn:aws:ecr-public::" ACCT ":repository/team/app"
#define PUB_REG_ARN "arn:aws:ecr-public::" ACCT ":registry/" ACCT

static void test_auth_authorize__public(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char url[600];
	snprintf(url, sizeof(url), "file://%s", dir);
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.account_id = ACCT;
	opts.region = ECR_REGION_PUBLIC;
	ecr_registry *pub, *priv;
	ecr_repository *repo;
	assert_ok(ecr_registry_open(&pub, url, &opts));
	opts.region = NULL;
	assert_ok(ecr_registry_open(&priv, url, &opts));
	assert_ok(ecr_repository_create(&repo, pub, "team/app", NULL));
	assert_string_equal(ecr_repository_arn(repo), PUB_REPO_ARN);
	assert_string_equal(ecr_registry_arn(pub), PUB_REG_ARN);

	/* an identity policy allowing ecr-public:PutImage allows it on the public repository; ecr:PutImage does not */
	ecr_principal *bob, *dave;
	assert_ok(ecr_principal_create(&bob, pub, "arn:aws:iam::" ACCT ":user/bob", 0));
	assert_ok(ecr_principal_put_policy(
	    bob, "push", POLICY("{\"Effect\":\"Allow\",\"Action\":\"ecr-public:PutImage\",\"Resource\":\"*\"}")));
	assert_ok(ecr_authorize(pub, bob, "ecr-public:PutImage", PUB_REPO_ARN, NULL, 0));
	assert_int_equal(ecr_authorize(pub, bob, "ecr:PutImage", PUB_REPO_ARN, NULL, 0), ECR_EDENIED);
	assert_int_equal(ecr_authorize(pub, bob, "ecr-public:BatchDeleteImage", PUB_REPO_ARN, NULL, 0), ECR_EDENIED);
	/* the registry ARN too, and the same principal seen through the private registry of the storage */
	assert_ok(ecr_authorize(pub, bob, "ecr-public:PutImage", PUB_REG_ARN, NULL, 0));
	assert_ok(ecr_authorize(priv, bob, "ecr-public:PutImage", PUB_REPO_ARN, NULL, 0));
	/* a private repository's ARN is not matched by an ecr-public action */
	assert_int_equal(ecr_authorize(priv, bob, "ecr:PutImage", "arn:aws:ecr:us-east-1:" ACCT ":repository/team/app",
	                               NULL, 0),
	                 ECR_EDENIED);
	/* malformed public ARNs */
	assert_int_equal(ecr_authorize(pub, bob, "ecr-public:PutImage", "arn:aws:ecr-public::" ACCT ":registry", NULL, 0),
	                 ECR_EINVALID);
	assert_int_equal(ecr_authorize(pub, bob, "ecr-public:PutImage",
	                               "arn:aws:ecr-public::" ACCT ":registry/" OTHER, NULL, 0),
	                 ECR_EINVALID);
	assert_int_equal(ecr_authorize(pub, bob, "ecr-public:PutImage",
	                               "arn:aws:ecr-public:us-east-1:" ACCT ":repository/team/app", NULL, 0),
	                 ECR_EINVALID);
	assert_int_equal(ecr_authorize(pub, bob, "ecr-public:PutImage", "arn:aws:ecr-public::" ACCT ":repository/", NULL,
	                               0),
	                 ECR_EINVALID);

	/* cross-account: the public repository's policy grants another account ecr-public:* */
	assert_ok(ecr_principal_create(&dave, pub, "arn:aws:iam::" OTHER ":user/dave", 0));
	assert_ok(ecr_principal_put_policy(
	    dave, "all", POLICY("{\"Effect\":\"Allow\",\"Action\":\"ecr-public:*\",\"Resource\":\"*\"}")));
	expect_denied_reg(pub, dave, "ecr-public:PutImage", PUB_REPO_ARN,
	                  "because no resource-based policy allows the ecr-public:PutImage action");
	assert_ok(ecr_repository_set_policy(
	    repo, POLICY("{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::" OTHER ":root\"},"
	                 "\"Action\":\"ecr-public:*\"}"),
	    0));
	assert_ok(ecr_authorize(pub, dave, "ecr-public:PutImage", PUB_REPO_ARN, NULL, 0));
	assert_ok(ecr_authorize(pub, dave, "ecr-public:BatchCheckLayerAvailability", PUB_REPO_ARN, NULL, 0));
	/* the grant is for ecr-public actions, and for this repository only */
	assert_int_equal(ecr_authorize(pub, dave, "ecr:PutImage", PUB_REPO_ARN, NULL, 0), ECR_EDENIED);
	assert_int_equal(ecr_authorize(pub, dave, "ecr-public:PutImage", "arn:aws:ecr-public::" ACCT ":repository/other",
	                               NULL, 0),
	                 ECR_EDENIED);
	ecr_principal_free(bob);
	ecr_principal_free(dave);
	ecr_repository_free(repo);
	ecr_registry_free(priv);
	ecr_registry_free(pub);
	th_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_auth_authorize__admin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_authorize__same_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_authorize__cross_account, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auth_authorize__conditions, setup, teardown),
	    cmocka_unit_test(test_auth_authorize__public),
	};
	return cmocka_run_group_tests_name("auth/authorize", tests, NULL, NULL);
}
