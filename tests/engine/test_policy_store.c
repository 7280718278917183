/* Repository and registry policies, account settings, the registry ARN. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY                                                                                                         \
	"{ \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Sid\": \"pull\", \"Effect\": \"Allow\", "                \
	"\"Principal\": {\"AWS\": \"arn:aws:iam::444455556666:root\"}, \"Action\": [\"ecr:BatchGetImage\"]}]}"
#define POLICY2 "{\"Statement\":{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"ecr:Delete*\"}}"

static int setup(void **state)
{
	ecr_registry *reg = NULL;
	if (ecr_registry_open(&reg, "memory:", NULL))
		return -1;
	*state = reg;
	return 0;
}

static int teardown(void **state)
{
	ecr_registry_free(*state);
	return 0;
}

static void test_engine_policy_store__registry_arn(void **state)
{
	ecr_registry *reg = *state, *other = NULL;
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	assert_string_equal(ecr_registry_arn(reg), "arn:aws:ecr:us-east-1:123456789012:registry");
	opts.account_id = "111122223333";
	opts.region = "eu-west-3";
	assert_ok(ecr_registry_open(&other, "memory:", &opts));
	assert_string_equal(ecr_registry_arn(other), "arn:aws:ecr:eu-west-3:111122223333:registry");
	ecr_registry_free(other);
}

static void test_engine_policy_store__repository_policy(void **state)
{
	ecr_registry *reg = *state;
	ecr_repository *repo = NULL, *other = NULL;
	ecr_buf out = ECR_BUF_INIT;

	assert_ok(ecr_repository_create(&repo, reg, "team/app", NULL));
	assert_ok(ecr_repository_create(&other, reg, "team/other", NULL));
	assert_int_equal(ecr_repository_policy(&out, repo), ECR_EREPOSITORY_POLICY_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message, "Repository policy does not exist for the repository with name "
	                                               "'team/app' in the registry with id '123456789012'");
	assert_string_equal(ecr_error_exception(ECR_EREPOSITORY_POLICY_NOT_FOUND), "RepositoryPolicyNotFoundException");
	assert_int_equal(ecr_repository_delete_policy(NULL, repo), ECR_EREPOSITORY_POLICY_NOT_FOUND);

	/* stored exactly as given (whitespace and all) */
	assert_ok(ecr_repository_set_policy(repo, POLICY, 0));
	assert_ok(ecr_repository_policy(&out, repo));
	assert_string_equal(out.ptr, POLICY);
	assert_int_equal(out.size, strlen(POLICY));
	assert_int_equal(ecr_repository_policy(&out, other), ECR_EREPOSITORY_POLICY_NOT_FOUND);

	/* replaced; force is accepted; unknown flags are not */
	assert_ok(ecr_repository_set_policy(repo, POLICY2, ECR_POLICY_FORCE));
	assert_ok(ecr_repository_policy(&out, repo));
	assert_string_equal(out.ptr, POLICY2);
	assert_int_equal(ecr_repository_set_policy(repo, POLICY, 0x80), ECR_EINVALID);

	/* invalid documents: ECR's words and the reason; nothing changes */
	assert_int_equal(ecr_repository_set_policy(repo, "{\"Statement\":[]}", 0), ECR_EINVALID);
	assert_non_null(strstr(
	    ecr_error_last()->message,
	    "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"));
	assert_non_null(strstr(ecr_error_last()->message, "at least one statement"));
	assert_int_equal(ecr_repository_set_policy(repo, "not json", 0), ECR_EINVALID);
	assert_int_equal(ecr_repository_set_policy(repo, NULL, 0), ECR_EINVALID);
	/* an identity policy (no Principal) is not a repository policy */
	assert_int_equal(ecr_repository_set_policy(
	                     repo, "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"ecr:*\",\"Resource\":\"*\"}}", 0),
	                 ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "Principal is missing"));
	char *big = malloc(ECR_POLICY_MAX_SIZE + 2);
	assert_non_null(big);
	memset(big, ' ', ECR_POLICY_MAX_SIZE + 1);
	memcpy(big, POLICY2, strlen(POLICY2));
	big[ECR_POLICY_MAX_SIZE + 1] = '\0';
	assert_int_equal(ecr_repository_set_policy(repo, big, 0), ECR_ELIMIT);
	big[ECR_POLICY_MAX_SIZE] = '\0';
	assert_ok(ecr_repository_set_policy(repo, big, 0));
	free(big);
	assert_ok(ecr_repository_set_policy(repo, POLICY2, 0));
	assert_ok(ecr_repository_policy(&out, repo));
	assert_string_equal(out.ptr, POLICY2);

	/* delete returns what was deleted */
	assert_ok(ecr_repository_delete_policy(&out, repo));
	assert_string_equal(out.ptr, POLICY2);
	assert_int_equal(ecr_repository_policy(&out, repo), ECR_EREPOSITORY_POLICY_NOT_FOUND);
	assert_int_equal(ecr_repository_delete_policy(&out, repo), ECR_EREPOSITORY_POLICY_NOT_FOUND);

	/* a deleted repository takes its policy along; a new one of the same name has none */
	assert_ok(ecr_repository_set_policy(other, POLICY, 0));
	assert_ok(ecr_repository_delete(reg, "team/other", 0));
	assert_int_equal(ecr_repository_policy(&out, other), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_repository_set_policy(other, POLICY, 0), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_repository_delete_policy(NULL, other), ECR_EREPOSITORY_NOT_FOUND);
	ecr_repository_free(other);
	assert_ok(ecr_repository_create(&other, reg, "team/other", NULL));
	assert_int_equal(ecr_repository_policy(&out, other), ECR_EREPOSITORY_POLICY_NOT_FOUND);

	ecr_buf_dispose(&out);
	ecr_repository_free(repo);
	ecr_repository_free(other);
}

static void test_engine_policy_store__registry_policy(void **state)
{
	ecr_registry *reg = *state, *reg2 = NULL;
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_buf out = ECR_BUF_INIT;
	const char *doc =
	    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
	    "\"arn:aws:iam::444455556666:root\"},\"Action\":[\"ecr:CreateRepository\",\"ecr:ReplicateImage\"],"
	    "\"Resource\":\"arn:aws:ecr:us-east-1:123456789012:repository/*\"}]}";

	assert_int_equal(ecr_registry_policy(&out, reg), ECR_EREGISTRY_POLICY_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message,
	                    "Registry policy does not exist in the registry with id '123456789012'");
	assert_int_equal(ecr_registry_delete_policy(&out, reg), ECR_EREGISTRY_POLICY_NOT_FOUND);
	assert_int_equal(ecr_registry_set_policy(reg, "{}"), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "Invalid registry policy provided"));
	assert_ok(ecr_registry_set_policy(reg, doc));
	assert_ok(ecr_registry_policy(&out, reg));
	assert_string_equal(out.ptr, doc);

	/* the registry's own policy is not a repository's */
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_create(&repo, reg, "app", NULL));
	assert_int_equal(ecr_repository_policy(&out, repo), ECR_EREPOSITORY_POLICY_NOT_FOUND);
	ecr_repository_free(repo);

	/* another registry of the same store has its own */
	opts.region = "eu-west-1";
	assert_ok(ecr_registry_open(&reg2, "memory:", &opts));
	assert_int_equal(ecr_registry_policy(&out, reg2), ECR_EREGISTRY_POLICY_NOT_FOUND);
	ecr_registry_free(reg2);

	assert_ok(ecr_registry_delete_policy(NULL, reg));
	assert_int_equal(ecr_registry_policy(&out, reg), ECR_EREGISTRY_POLICY_NOT_FOUND);
	assert_ok(ecr_registry_set_policy(reg, doc));
	assert_ok(ecr_registry_delete_policy(&out, reg));
	assert_string_equal(out.ptr, doc);
	ecr_buf_dispose(&out);
}

/* Two registries (regions) in one data folder keep their policies and settings apart. */
static void test_engine_policy_store__two_regions_one_folder(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char url[512];
	ecr_registry *a = NULL, *b = NULL;
	ecr_registry_options oa = ECR_REGISTRY_OPTIONS_INIT, ob = ECR_REGISTRY_OPTIONS_INIT;
	ecr_buf out = ECR_BUF_INIT;
	snprintf(url, sizeof(url), "file://%s", dir);
	oa.region = "us-east-1";
	ob.region = "us-west-2";
	assert_ok(ecr_registry_open(&a, url, &oa));
	assert_ok(ecr_registry_open(&b, url, &ob));
	assert_ok(ecr_registry_set_policy(a, POLICY2));
	assert_int_equal(ecr_registry_policy(&out, b), ECR_EREGISTRY_POLICY_NOT_FOUND);
	assert_ok(ecr_registry_set_setting(a, "BASIC_SCAN_TYPE_VERSION", "CLAIR"));
	assert_ok(ecr_registry_setting(&out, b, "BASIC_SCAN_TYPE_VERSION"));
	assert_string_equal(out.ptr, "AWS_NATIVE");
	ecr_registry_free(a);
	ecr_registry_free(b);
	/* and it all survives a reopen */
	assert_ok(ecr_registry_open(&a, url, &oa));
	assert_ok(ecr_registry_policy(&out, a));
	assert_string_equal(out.ptr, POLICY2);
	assert_ok(ecr_registry_setting(&out, a, "BASIC_SCAN_TYPE_VERSION"));
	assert_string_equal(out.ptr, "CLAIR");
	ecr_registry_free(a);
	ecr_buf_dispose(&out);
	th_rmtree(dir);
}

static void test_engine_policy_store__settings(void **state)
{
	ecr_registry *reg = *state;
	ecr_buf out = ECR_BUF_INIT;
	static const struct {
		const char *name, *def, *other;
	} s[] = {
	    {"BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE", "CLAIR"},
	    {"REGISTRY_POLICY_SCOPE", "V2", "V1"},
	    {"BLOB_MOUNTING", "DISABLED", "ENABLED"},
	};
	for (size_t i = 0; i < 3; i++) {
		assert_ok(ecr_registry_setting(&out, reg, s[i].name));
		assert_string_equal(out.ptr, s[i].def);
		assert_ok(ecr_registry_set_setting(reg, s[i].name, s[i].other));
		assert_ok(ecr_registry_setting(&out, reg, s[i].name));
		assert_string_equal(out.ptr, s[i].other);
		assert_ok(ecr_registry_set_setting(reg, s[i].name, s[i].def));
		assert_ok(ecr_registry_setting(&out, reg, s[i].name));
		assert_string_equal(out.ptr, s[i].def);
		/* values are exact: case matters */
		assert_int_equal(ecr_registry_set_setting(reg, s[i].name, "v2"), ECR_EVALIDATION);
		assert_non_null(strstr(ecr_error_last()->message, s[i].name));
		assert_int_equal(ecr_registry_set_setting(reg, s[i].name, NULL), ECR_EVALIDATION);
		assert_int_equal(ecr_registry_set_setting(reg, s[i].name, ""), ECR_EVALIDATION);
	}
	assert_int_equal(ecr_registry_setting(&out, reg, "NOPE"), ECR_EVALIDATION);
	assert_non_null(strstr(ecr_error_last()->message, "NOPE"));
	assert_string_equal(ecr_error_exception(ECR_EVALIDATION), "ValidationException");
	assert_int_equal(ecr_registry_setting(&out, reg, "basic_scan_type_version"), ECR_EVALIDATION);
	assert_int_equal(ecr_registry_setting(&out, reg, ""), ECR_EVALIDATION);
	assert_int_equal(ecr_registry_setting(&out, reg, NULL), ECR_EVALIDATION);
	char longname[70];
	memset(longname, 'A', 65);
	longname[65] = '\0';
	assert_int_equal(ecr_registry_setting(&out, reg, longname), ECR_EVALIDATION);
	assert_non_null(strstr(ecr_error_last()->message, "less than or equal to 64"));
	assert_int_equal(ecr_registry_set_setting(reg, "NOPE", "V2"), ECR_EVALIDATION);
	ecr_buf_dispose(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_engine_policy_store__registry_arn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_policy_store__repository_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_policy_store__registry_policy, setup, teardown),
	    cmocka_unit_test(test_engine_policy_store__two_regions_one_folder),
	    cmocka_unit_test_setup_teardown(test_engine_policy_store__settings, setup, teardown),
	};
	return cmocka_run_group_tests_name("engine/policy_store", tests, NULL, NULL);
}
