/* The ECR control plane's dispatch and repository/registry operations
 * (libecr/server/ecr_api.c, ecr_api_repositories.c), over HTTP with libcurl
 * against a server on a memory: registry. */
#include "api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libecr/core/crypto.h"
#include "libecr/core/digest.h"
#include "libecr/core/json.h"

typedef struct fixture {
	ecr_registry *reg;
	ecr_server *srv;
	uint16_t port;
} fixture;

static void call(reply *r, fixture *f, const char *op, const char *body)
{
	api_call(r, f->port, op, body);
}

static const char *path_string(const ecr__json *v, const char *a, const char *b)
{
	const ecr__json *o = ecr__json_get(v, a);
	return b ? ecr__json_get_string(o, b) : ecr__json_get_string(v, a);
}

static int setup_flags(void **state, uint32_t flags)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ro.account_id = "111122223333";
	ro.region = "eu-west-1";
	assert_ok(ecr_registry_open(&f->reg, "memory:", &ro));
	f->port = api_server_start(&f->srv, f->reg, flags | ECR_SERVER_SINGLE_THREAD);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_flags(state, ECR_SERVER_NO_AUTH); }
static int setup_auth(void **state) { return setup_flags(state, 0); }

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_server_free(f->srv);
	ecr_registry_free(f->reg);
	free(f);
	return 0;
}

static void test_server_ecr_api__protocol(void **state)
{
	fixture *f = *state;
	reply r = {0};
	call(&r, f, "NoSuchOperation", "{}");
	expect_error_status(&r, 400, "UnknownOperationException");
	reply_dispose(&r);
	api_send(&r, f->port, "POST", NULL, "{}", curl_slist_append(NULL, "X-Amz-Target: Other_20200101.CreateRepository"));
	expect_error_status(&r, 400, "UnknownOperationException");
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{not json");
	expect_error_status(&r, 400, "SerializationException");
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "[1, 2]");
	expect_error_status(&r, 400, "SerializationException");
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"maxResults\": \"ten\"}");
	expect_error_status(&r, 400, "SerializationException");
	reply_dispose(&r);
	call(&r, f, "CreateRepository", "{\"repositoryName\": 42}");
	expect_error_status(&r, 400, "SerializationException");
	reply_dispose(&r);
	api_send(&r, f->port, "GET", "DescribeRepositories", NULL, NULL);
	expect_error_status(&r, 405, "UnknownOperationException");
	reply_dispose(&r);
	/* an empty body is an empty input */
	call(&r, f, "DescribeRepositories", "");
	expect_ok(&r);
	assert_int_equal(ecr__json_get(r.json, "repositories")->count, 0);
	reply_dispose(&r);
	/* /v2/ still works next to the control plane */
	api_send(&r, f->port, "GET", NULL, NULL, NULL);
	assert_int_not_equal(r.status, 200);
	reply_dispose(&r);
}

static void test_server_ecr_api__create_describe_delete(void **state)
{
	fixture *f = *state;
	reply r = {0};
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"team-a/web\"}");
	expect_ok(&r);
	const ecr__json *repo = ecr__json_get(r.json, "repository");
	assert_string_equal(ecr__json_get_string(repo, "repositoryName"), "team-a/web");
	assert_string_equal(ecr__json_get_string(repo, "registryId"), "111122223333");
	assert_string_equal(ecr__json_get_string(repo, "repositoryArn"),
		"arn:aws:ecr:eu-west-1:111122223333:repository/team-a/web");
	assert_string_equal(ecr__json_get_string(repo, "repositoryUri"),
		"111122223333.dkr.ecr.eu-west-1.amazonaws.com/team-a/web");
	assert_string_equal(ecr__json_get_string(repo, "imageTagMutability"), "MUTABLE");
	assert_null(ecr__json_get(repo, "imageTagMutabilityExclusionFilters"));
	assert_false(ecr__json_get(ecr__json_get(repo, "imageScanningConfiguration"), "scanOnPush")->boolean);
	assert_string_equal(path_string(repo, "encryptionConfiguration", "encryptionType"), "AES256");
	assert_null(ecr__json_get(ecr__json_get(repo, "encryptionConfiguration"), "kmsKey"));
	const ecr__json *created = ecr__json_get(repo, "createdAt");
	assert_int_equal(created->type, ECR__JSON_NUMBER);
	assert_true(created->number > 1.6e9 && created->number < 1e10);
	reply_dispose(&r);

	call(&r, f, "CreateRepository", "{\"repositoryName\": \"team-a/web\"}");
	expect_error_status(&r, 400, "RepositoryAlreadyExistsException");
	assert_string_equal(ecr__json_get_string(r.json, "message"),
		"The repository with name 'team-a/web' already exists in the registry with id '111122223333'");
	reply_dispose(&r);
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"ABC\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	assert_non_null(strstr(ecr__json_get_string(r.json, "message"),
		"Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression"));
	reply_dispose(&r);
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"a\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	assert_non_null(strstr(ecr__json_get_string(r.json, "message"), "greater than or equal to 2"));
	reply_dispose(&r);
	call(&r, f, "CreateRepository", "{}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"x//y\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"ok\", \"imageTagMutability\": \"SOMETIMES\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	assert_non_null(strstr(ecr__json_get_string(r.json, "message"), "enum value set"));
	reply_dispose(&r);
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"ok\", \"registryId\": \"12\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);

	call(&r, f, "DescribeRepositories", "{\"repositoryNames\": [\"team-a/web\"]}");
	expect_ok(&r);
	assert_int_equal(ecr__json_get(r.json, "repositories")->count, 1);
	assert_null(ecr__json_get(r.json, "nextToken"));
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"repositoryNames\": [\"team-a/web\", \"missing\"]}");
	expect_error_status(&r, 400, "RepositoryNotFoundException");
	assert_string_equal(ecr__json_get_string(r.json, "message"),
		"The repository with name 'missing' does not exist in the registry with id '111122223333'");
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"repositoryNames\": [\"team-a/web\"], \"maxResults\": 5}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"repositoryNames\": []}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	/* registryId naming the caller's own registry is fine */
	call(&r, f, "DescribeRepositories", "{\"registryId\": \"111122223333\"}");
	expect_ok(&r);
	assert_int_equal(ecr__json_get(r.json, "repositories")->count, 1);
	reply_dispose(&r);

	call(&r, f, "DeleteRepository", "{\"repositoryName\": \"team-a/web\"}");
	expect_ok(&r);
	assert_string_equal(path_string(r.json, "repository", "repositoryName"), "team-a/web");
	reply_dispose(&r);
	call(&r, f, "DeleteRepository", "{\"repositoryName\": \"team-a/web\", \"force\": true}");
	expect_error_status(&r, 400, "RepositoryNotFoundException");
	reply_dispose(&r);
}

static void test_server_ecr_api__create_options(void **state)
{
	fixture *f = *state;
	reply r = {0};
	call(&r, f, "CreateRepository",
		"{\"repositoryName\": \"opts\", \"imageTagMutability\": \"IMMUTABLE_WITH_EXCLUSION\","
		"\"imageTagMutabilityExclusionFilters\": [{\"filterType\": \"WILDCARD\", \"filter\": \"dev-*\"}],"
		"\"imageScanningConfiguration\": {\"scanOnPush\": true},"
		"\"encryptionConfiguration\": {\"encryptionType\": \"KMS\"},"
		"\"tags\": [{\"Key\": \"team\", \"Value\": \"a\"}, {\"Key\": \"empty\", \"Value\": \"\"}]}");
	expect_ok(&r);
	const ecr__json *repo = ecr__json_get(r.json, "repository");
	assert_string_equal(ecr__json_get_string(repo, "imageTagMutability"), "IMMUTABLE_WITH_EXCLUSION");
	const ecr__json *filters = ecr__json_get(repo, "imageTagMutabilityExclusionFilters");
	assert_non_null(filters);
	assert_int_equal(filters->count, 1);
	assert_string_equal(ecr__json_get_string(filters->values[0], "filter"), "dev-*");
	assert_string_equal(ecr__json_get_string(filters->values[0], "filterType"), "WILDCARD");
	assert_true(ecr__json_get(ecr__json_get(repo, "imageScanningConfiguration"), "scanOnPush")->boolean);
	assert_string_equal(path_string(repo, "encryptionConfiguration", "encryptionType"), "KMS");
	assert_string_equal(path_string(repo, "encryptionConfiguration", "kmsKey"),
		"arn:aws:kms:eu-west-1:111122223333:alias/aws/ecr");
	reply_dispose(&r);

	call(&r, f, "ListTagsForResource", "{\"resourceArn\": \"arn:aws:ecr:eu-west-1:111122223333:repository/opts\"}");
	expect_ok(&r);
	const ecr__json *tags = ecr__json_get(r.json, "tags");
	assert_int_equal(tags->count, 2);
	assert_string_equal(ecr__json_get_string(tags->values[0], "Key"), "empty");
	assert_string_equal(ecr__json_get_string(tags->values[0], "Value"), "");
	assert_string_equal(ecr__json_get_string(tags->values[1], "Key"), "team");
	reply_dispose(&r);

	call(&r, f, "CreateRepository",
		"{\"repositoryName\": \"kms2\", \"encryptionConfiguration\": {\"encryptionType\": \"KMS\", \"kmsKey\": \"k1\"}}");
	expect_ok(&r);
	assert_string_equal(path_string(ecr__json_get(r.json, "repository"), "encryptionConfiguration", "kmsKey"), "k1");
	reply_dispose(&r);
	call(&r, f, "CreateRepository",
		"{\"repositoryName\": \"bad\", \"encryptionConfiguration\": {\"encryptionType\": \"ROT13\"}}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "CreateRepository",
		"{\"repositoryName\": \"bad\", \"imageTagMutabilityExclusionFilters\": [{\"filterType\": \"WILDCARD\","
		"\"filter\": \"a b\"}], \"imageTagMutability\": \"MUTABLE_WITH_EXCLUSION\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"bad\", \"tags\": [{\"Key\": \"aws:x\", \"Value\": \"v\"}]}");
	expect_error_status(&r, 400, "InvalidTagParameterException");
	reply_dispose(&r);
}

static void test_server_ecr_api__pagination(void **state)
{
	fixture *f = *state;
	reply r = {0};
	char body[256];
	for (int i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "{\"repositoryName\": \"repo-%d\"}", i);
		call(&r, f, "CreateRepository", body);
		expect_ok(&r);
		reply_dispose(&r);
	}
	char *token = NULL;
	int total = 0, pages = 0;
	do {
		if (token)
			snprintf(body, sizeof(body), "{\"maxResults\": 2, \"nextToken\": \"%s\"}", token);
		else
			snprintf(body, sizeof(body), "{\"maxResults\": 2}");
		free(token);
		token = NULL;
		call(&r, f, "DescribeRepositories", body);
		expect_ok(&r);
		const ecr__json *repos = ecr__json_get(r.json, "repositories");
		assert_true(repos->count <= 2);
		for (size_t i = 0; i < repos->count; i++) {
			char want[32];
			snprintf(want, sizeof(want), "repo-%d", total + (int)i);
			assert_string_equal(ecr__json_get_string(repos->values[i], "repositoryName"), want);
		}
		total += (int)repos->count;
		pages++;
		if (ecr__json_get_string(r.json, "nextToken"))
			token = strdup(ecr__json_get_string(r.json, "nextToken"));
		reply_dispose(&r);
	} while (token && pages < 10);
	assert_int_equal(total, 5);
	assert_int_equal(pages, 3);

	call(&r, f, "DescribeRepositories", "{\"maxResults\": 5}");
	expect_ok(&r);
	assert_int_equal(ecr__json_get(r.json, "repositories")->count, 5);
	assert_null(ecr__json_get(r.json, "nextToken"));
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"maxResults\": 0}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"maxResults\": 1001}");
	expect_error_status(&r, 400, "InvalidParameterException");
	assert_non_null(strstr(ecr__json_get_string(r.json, "message"), "less than or equal to 1000"));
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"nextToken\": \"garbage!!\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
}

static void test_server_ecr_api__mutability_scanning(void **state)
{
	fixture *f = *state;
	reply r = {0};
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"mut\"}");
	expect_ok(&r);
	reply_dispose(&r);
	call(&r, f, "PutImageTagMutability",
		"{\"repositoryName\": \"mut\", \"imageTagMutability\": \"MUTABLE_WITH_EXCLUSION\","
		"\"imageTagMutabilityExclusionFilters\": [{\"filterType\": \"WILDCARD\", \"filter\": \"v*\"},"
		"{\"filterType\": \"WILDCARD\", \"filter\": \"release\"}]}");
	expect_ok(&r);
	assert_string_equal(ecr__json_get_string(r.json, "registryId"), "111122223333");
	assert_string_equal(ecr__json_get_string(r.json, "repositoryName"), "mut");
	assert_string_equal(ecr__json_get_string(r.json, "imageTagMutability"), "MUTABLE_WITH_EXCLUSION");
	assert_int_equal(ecr__json_get(r.json, "imageTagMutabilityExclusionFilters")->count, 2);
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"repositoryNames\": [\"mut\"]}");
	expect_ok(&r);
	const ecr__json *repo = ecr__json_at(ecr__json_get(r.json, "repositories"), 0);
	assert_string_equal(ecr__json_get_string(repo, "imageTagMutability"), "MUTABLE_WITH_EXCLUSION");
	reply_dispose(&r);
	call(&r, f, "PutImageTagMutability", "{\"repositoryName\": \"mut\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "PutImageTagMutability", "{\"repositoryName\": \"nope\", \"imageTagMutability\": \"IMMUTABLE\"}");
	expect_error_status(&r, 400, "RepositoryNotFoundException");
	reply_dispose(&r);
	call(&r, f, "PutImageTagMutability", "{\"repositoryName\": \"mut\", \"imageTagMutability\": \"IMMUTABLE\"}");
	expect_ok(&r);
	assert_null(ecr__json_get(r.json, "imageTagMutabilityExclusionFilters"));
	reply_dispose(&r);

	call(&r, f, "PutImageScanningConfiguration",
		"{\"repositoryName\": \"mut\", \"imageScanningConfiguration\": {\"scanOnPush\": true}}");
	expect_ok(&r);
	assert_true(ecr__json_get(ecr__json_get(r.json, "imageScanningConfiguration"), "scanOnPush")->boolean);
	reply_dispose(&r);
	call(&r, f, "DescribeRepositories", "{\"repositoryNames\": [\"mut\"]}");
	repo = ecr__json_at(ecr__json_get(r.json, "repositories"), 0);
	assert_true(ecr__json_get(ecr__json_get(repo, "imageScanningConfiguration"), "scanOnPush")->boolean);
	reply_dispose(&r);
	call(&r, f, "PutImageScanningConfiguration", "{\"repositoryName\": \"mut\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
}

static void test_server_ecr_api__policies(void **state)
{
	fixture *f = *state;
	reply r = {0};
	const char *policy = "{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\","
			     "\\\"Principal\\\":\\\"*\\\",\\\"Action\\\":\\\"ecr:BatchGetImage\\\"}]}";
	char body[1024];
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"pol\"}");
	expect_ok(&r);
	reply_dispose(&r);
	call(&r, f, "GetRepositoryPolicy", "{\"repositoryName\": \"pol\"}");
	expect_error_status(&r, 400, "RepositoryPolicyNotFoundException");
	reply_dispose(&r);
	snprintf(body, sizeof(body), "{\"repositoryName\": \"pol\", \"policyText\": \"%s\"}", policy);
	call(&r, f, "SetRepositoryPolicy", body);
	expect_ok(&r);
	assert_string_equal(ecr__json_get_string(r.json, "repositoryName"), "pol");
	assert_string_equal(ecr__json_get_string(r.json, "registryId"), "111122223333");
	assert_non_null(strstr(ecr__json_get_string(r.json, "policyText"), "ecr:BatchGetImage"));
	reply_dispose(&r);
	call(&r, f, "GetRepositoryPolicy", "{\"repositoryName\": \"pol\"}");
	expect_ok(&r);
	assert_non_null(strstr(ecr__json_get_string(r.json, "policyText"), "ecr:BatchGetImage"));
	reply_dispose(&r);
	call(&r, f, "SetRepositoryPolicy", "{\"repositoryName\": \"pol\", \"policyText\": \"not a policy\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	assert_non_null(strstr(ecr__json_get_string(r.json, "message"), "Invalid parameter at 'PolicyText'"));
	reply_dispose(&r);
	call(&r, f, "SetRepositoryPolicy", "{\"repositoryName\": \"nope\", \"policyText\": \"{}\"}");
	expect_error_status(&r, 400, "RepositoryNotFoundException");
	reply_dispose(&r);
	call(&r, f, "DeleteRepositoryPolicy", "{\"repositoryName\": \"pol\"}");
	expect_ok(&r);
	assert_non_null(strstr(ecr__json_get_string(r.json, "policyText"), "ecr:BatchGetImage"));
	reply_dispose(&r);
	call(&r, f, "DeleteRepositoryPolicy", "{\"repositoryName\": \"pol\"}");
	expect_error_status(&r, 400, "RepositoryPolicyNotFoundException");
	reply_dispose(&r);

	call(&r, f, "GetRegistryPolicy", "{}");
	expect_error_status(&r, 400, "RegistryPolicyNotFoundException");
	reply_dispose(&r);
	snprintf(body, sizeof(body), "{\"policyText\": \"%s\"}", policy);
	call(&r, f, "PutRegistryPolicy", body);
	expect_ok(&r);
	assert_string_equal(ecr__json_get_string(r.json, "registryId"), "111122223333");
	reply_dispose(&r);
	call(&r, f, "GetRegistryPolicy", "{}");
	expect_ok(&r);
	assert_non_null(strstr(ecr__json_get_string(r.json, "policyText"), "ecr:BatchGetImage"));
	reply_dispose(&r);
	call(&r, f, "DeleteRegistryPolicy", "{}");
	expect_ok(&r);
	assert_non_null(strstr(ecr__json_get_string(r.json, "policyText"), "ecr:BatchGetImage"));
	reply_dispose(&r);
	call(&r, f, "DeleteRegistryPolicy", "{}");
	expect_error_status(&r, 400, "RegistryPolicyNotFoundException");
	reply_dispose(&r);
	call(&r, f, "PutRegistryPolicy", "{}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
}

static void test_server_ecr_api__registry_settings(void **state)
{
	fixture *f = *state;
	reply r = {0};
	call(&r, f, "DescribeRegistry", "{}");
	expect_ok(&r);
	assert_string_equal(ecr__json_get_string(r.json, "registryId"), "111122223333");
	const ecr__json *rules = ecr__json_get(ecr__json_get(r.json, "replicationConfiguration"), "rules");
	assert_non_null(rules);
	assert_int_equal(rules->type, ECR__JSON_ARRAY);
	assert_int_equal(rules->count, 0);
	reply_dispose(&r);
	call(&r, f, "GetAccountSetting", "{\"name\": \"BASIC_SCAN_TYPE_VERSION\"}");
	expect_ok(&r);
	assert_string_equal(ecr__json_get_string(r.json, "name"), "BASIC_SCAN_TYPE_VERSION");
	assert_string_equal(ecr__json_get_string(r.json, "value"), "AWS_NATIVE");
	reply_dispose(&r);
	call(&r, f, "PutAccountSetting", "{\"name\": \"BASIC_SCAN_TYPE_VERSION\", \"value\": \"CLAIR\"}");
	expect_ok(&r);
	assert_string_equal(ecr__json_get_string(r.json, "value"), "CLAIR");
	reply_dispose(&r);
	call(&r, f, "GetAccountSetting", "{\"name\": \"BASIC_SCAN_TYPE_VERSION\"}");
	expect_ok(&r);
	assert_string_equal(ecr__json_get_string(r.json, "value"), "CLAIR");
	reply_dispose(&r);
	call(&r, f, "GetAccountSetting", "{\"name\": \"NO_SUCH_SETTING\"}");
	expect_error_status(&r, 400, "ValidationException");
	reply_dispose(&r);
	call(&r, f, "PutAccountSetting", "{\"name\": \"BASIC_SCAN_TYPE_VERSION\", \"value\": \"MAYBE\"}");
	expect_error_status(&r, 400, "ValidationException");
	reply_dispose(&r);
	call(&r, f, "GetAccountSetting", "{}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
}

static void test_server_ecr_api__authorization_token(void **state)
{
	fixture *f = *state;
	reply r = {0};
	char endpoint[64];
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", (unsigned)f->port);
	call(&r, f, "GetAuthorizationToken", "{}");
	expect_ok(&r);
	const ecr__json *data = ecr__json_get(r.json, "authorizationData");
	assert_int_equal(data->count, 1);
	const ecr__json *item = data->values[0];
	assert_string_equal(ecr__json_get_string(item, "proxyEndpoint"), endpoint);
	const char *tok = ecr__json_get_string(item, "authorizationToken");
	ecr_buf dec = ECR_BUF_INIT;
	assert_ok(ecr__base64_decode(&dec, tok, strlen(tok)));
	assert_true(dec.size > 4 && memcmp(dec.ptr, "AWS:", 4) == 0);
	ecr_buf_dispose(&dec);
	double expires = ecr__json_get(item, "expiresAt")->number;
	double now = (double)time(NULL);
	assert_true(expires > now + 43000 && expires < now + 43400);
	reply_dispose(&r);

	call(&r, f, "GetAuthorizationToken", "{\"registryIds\": [\"111122223333\", \"444455556666\"]}");
	expect_ok(&r);
	assert_int_equal(ecr__json_get(r.json, "authorizationData")->count, 2);
	reply_dispose(&r);
	call(&r, f, "GetAuthorizationToken", "{\"registryIds\": [\"1234\"]}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "GetAuthorizationToken", "{\"registryIds\": []}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
}

static void test_server_ecr_api__resource_tags(void **state)
{
	fixture *f = *state;
	reply r = {0};
	const char *arn = "arn:aws:ecr:eu-west-1:111122223333:repository/tagged";
	char body[512];
	call(&r, f, "CreateRepository", "{\"repositoryName\": \"tagged\"}");
	expect_ok(&r);
	reply_dispose(&r);
	snprintf(body, sizeof(body), "{\"resourceArn\": \"%s\", \"tags\": [{\"Key\": \"a\", \"Value\": \"1\"},"
		"{\"Key\": \"b\", \"Value\": \"2\"}]}", arn);
	call(&r, f, "TagResource", body);
	expect_ok(&r);
	assert_int_equal(r.json->count, 0);
	reply_dispose(&r);
	snprintf(body, sizeof(body), "{\"resourceArn\": \"%s\", \"tagKeys\": [\"a\", \"zz\"]}", arn);
	call(&r, f, "UntagResource", body);
	expect_ok(&r);
	reply_dispose(&r);
	snprintf(body, sizeof(body), "{\"resourceArn\": \"%s\"}", arn);
	call(&r, f, "ListTagsForResource", body);
	expect_ok(&r);
	const ecr__json *tags = ecr__json_get(r.json, "tags");
	assert_int_equal(tags->count, 1);
	assert_string_equal(ecr__json_get_string(tags->values[0], "Key"), "b");
	assert_string_equal(ecr__json_get_string(tags->values[0], "Value"), "2");
	reply_dispose(&r);

	call(&r, f, "ListTagsForResource", "{\"resourceArn\": \"not-an-arn\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	assert_non_null(strstr(ecr__json_get_string(r.json, "message"), "Invalid ARN"));
	reply_dispose(&r);
	call(&r, f, "ListTagsForResource", "{\"resourceArn\": \"arn:aws:s3:eu-west-1:111122223333:repository/tagged\"}");
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
	call(&r, f, "ListTagsForResource",
		"{\"resourceArn\": \"arn:aws:ecr:eu-west-1:111122223333:repository/missing\"}");
	expect_error_status(&r, 400, "RepositoryNotFoundException");
	reply_dispose(&r);
	snprintf(body, sizeof(body), "{\"resourceArn\": \"%s\", \"tags\": [{\"Key\": \"aws:no\", \"Value\": \"1\"}]}", arn);
	call(&r, f, "TagResource", body);
	expect_error_status(&r, 400, "InvalidTagParameterException");
	reply_dispose(&r);
	/* too many tags */
	ecr_buf big = ECR_BUF_INIT;
	assert_ok(ecr__buf_printf(&big, "{\"resourceArn\": \"%s\", \"tags\": [", arn));
	for (int i = 0; i < 60; i++)
		assert_ok(ecr__buf_printf(&big, "%s{\"Key\": \"k%d\", \"Value\": \"v\"}", i ? "," : "", i));
	assert_ok(ecr__buf_puts(&big, "]}"));
	call(&r, f, "TagResource", big.ptr);
	expect_error_status(&r, 400, "TooManyTagsException");
	reply_dispose(&r);
	ecr_buf_dispose(&big);
	snprintf(body, sizeof(body), "{\"resourceArn\": \"%s\"}", arn);
	call(&r, f, "TagResource", body);
	expect_error_status(&r, 400, "InvalidParameterException");
	reply_dispose(&r);
}

/* --- SigV4 --- */

static void hex_sha256(char out[65], const char *data, size_t len)
{
	char d[ECR__DIGEST_STRLEN_MAX];
	assert_ok(ecr__digest_buf(d, sizeof(d), ECR__DIGEST_SHA256, data, len));
	memcpy(out, d + 7, 65);
}

/* Sign a CreateRepository-style request as botocore does; returns the header list. */
static struct curl_slist *sign(uint16_t port, const char *key_id, const char *secret, const char *region, const char *op,
	const char *body, const char *amzdate)
{
	char host[64], date[9], body_hash[65], creq_hash[65], target[128];
	snprintf(host, sizeof(host), "127.0.0.1:%u", (unsigned)port);
	memcpy(date, amzdate, 8);
	date[8] = '\0';
	snprintf(target, sizeof(target), "AmazonEC2ContainerRegistry_V20150921.%s", op);
	hex_sha256(body_hash, body, strlen(body));
	ecr_buf creq = ECR_BUF_INIT, sts = ECR_BUF_INIT, h = ECR_BUF_INIT;
	assert_ok(ecr__buf_printf(&creq,
		"POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:%s\nx-amz-date:%s\nx-amz-target:%s\n\n"
		"content-type;host;x-amz-date;x-amz-target\n%s",
		host, amzdate, target, body_hash));
	hex_sha256(creq_hash, creq.ptr, creq.size);
	assert_ok(ecr__buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/ecr/aws4_request\n%s", amzdate, date, region, creq_hash));
	char k0[128];
	unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
	snprintf(k0, sizeof(k0), "AWS4%s", secret);
	assert_ok(ecr__hmac_sha256(k1, k0, strlen(k0), date, strlen(date)));
	assert_ok(ecr__hmac_sha256(k2, k1, 32, region, strlen(region)));
	assert_ok(ecr__hmac_sha256(k3, k2, 32, "ecr", 3));
	assert_ok(ecr__hmac_sha256(k4, k3, 32, "aws4_request", 12));
	assert_ok(ecr__hmac_sha256(sig, k4, 32, sts.ptr, sts.size));
	char sighex[65];
	ecr__hex_encode(sighex, sig, 32);
	struct curl_slist *list = NULL;
	assert_ok(ecr__buf_printf(&h, "Host: %s", host));
	list = curl_slist_append(list, h.ptr);
	ecr__buf_clear(&h);
	assert_ok(ecr__buf_printf(&h, "X-Amz-Date: %s", amzdate));
	list = curl_slist_append(list, h.ptr);
	ecr__buf_clear(&h);
	assert_ok(ecr__buf_printf(&h,
		"Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/ecr/aws4_request, "
		"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s",
		key_id, date, region, sighex));
	list = curl_slist_append(list, h.ptr);
	ecr_buf_dispose(&creq);
	ecr_buf_dispose(&sts);
	ecr_buf_dispose(&h);
	return list;
}

static void now_amzdate(char out[17])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static void test_server_ecr_api__sigv4(void **state)
{
	fixture *f = *state;
	reply r = {0};
	ecr_principal *p = NULL;
	ecr_buf key = ECR_BUF_INIT, secret = ECR_BUF_INIT;
	char amzdate[17];
	const char *body = "{\"repositoryName\": \"signed\"}";
	assert_ok(ecr_principal_create(&p, f->reg, "arn:aws:iam::111122223333:user/alice", ECR_PRINCIPAL_ADMIN));
	assert_ok(ecr_principal_access_key_create(&key, &secret, p));

	/* unsigned */
	call(&r, f, "CreateRepository", body);
	expect_error_status(&r, 400, "MissingAuthenticationTokenException");
	reply_dispose(&r);
	/* wrong secret */
	now_amzdate(amzdate);
	api_send(&r, f->port, "POST", "CreateRepository", body,
		sign(f->port, key.ptr, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1", "CreateRepository", body,
			amzdate));
	expect_error_status(&r, 400, "InvalidSignatureException");
	reply_dispose(&r);
	/* unknown key */
	api_send(&r, f->port, "POST", "CreateRepository", body,
		sign(f->port, "AKIAAAAAAAAAAAAAAAAA", secret.ptr, "eu-west-1", "CreateRepository", body, amzdate));
	expect_error_status(&r, 400, "UnrecognizedClientException");
	reply_dispose(&r);
	/* stale */
	api_send(&r, f->port, "POST", "CreateRepository", body,
		sign(f->port, key.ptr, secret.ptr, "eu-west-1", "CreateRepository", body, "20200101T000000Z"));
	expect_error_status(&r, 400, "InvalidSignatureException");
	reply_dispose(&r);
	/* a body other than the one signed */
	api_send(&r, f->port, "POST", "CreateRepository", "{\"repositoryName\": \"other\"}",
		sign(f->port, key.ptr, secret.ptr, "eu-west-1", "CreateRepository", body, amzdate));
	expect_error_status(&r, 400, "InvalidSignatureException");
	reply_dispose(&r);
	/* nothing was created by the failures */
	ecr_repository *repo = NULL;
	assert_int_equal(ecr_repository_open(&repo, f->reg, "signed"), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_repository_open(&repo, f->reg, "other"), ECR_EREPOSITORY_NOT_FOUND);

	/* good */
	api_send(&r, f->port, "POST", "CreateRepository", body,
		sign(f->port, key.ptr, secret.ptr, "eu-west-1", "CreateRepository", body, amzdate));
	expect_ok(&r);
	assert_string_equal(path_string(r.json, "repository", "repositoryName"), "signed");
	reply_dispose(&r);
	assert_ok(ecr_repository_open(&repo, f->reg, "signed"));
	ecr_repository_free(repo);

	/* a token for the signer */
	api_send(&r, f->port, "POST", "GetAuthorizationToken", "{}",
		sign(f->port, key.ptr, secret.ptr, "eu-west-1", "GetAuthorizationToken", "{}", amzdate));
	expect_ok(&r);
	const char *tok = ecr__json_get_string(ecr__json_at(ecr__json_get(r.json, "authorizationData"), 0),
		"authorizationToken");
	ecr_buf dec = ECR_BUF_INIT;
	assert_ok(ecr__base64_decode(&dec, tok, strlen(tok)));
	assert_true(dec.size > 4 && memcmp(dec.ptr, "AWS:", 4) == 0);
	ecr_principal *who = NULL;
	assert_ok(ecr_auth_token_verify(&who, f->reg, dec.ptr + 4));
	assert_string_equal(ecr_principal_arn(who), "arn:aws:iam::111122223333:user/alice");
	ecr_principal_free(who);
	ecr_buf_dispose(&dec);
	reply_dispose(&r);

	ecr_principal_free(p);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&secret);
}

/* A principal is authorized by its own identity policies, also on a registry
 * of another storage: not by those of the principal that has the same row id
 * there. Here the other registry's repository policy lets alice list its
 * images, but no identity policy of alice's allows it. */
static void test_server_ecr_api__identity_policies_of_another_storage(void **state)
{
	fixture *f = *state;
	reply r = {0};
	ecr_registry *other = NULL;
	ecr_repository *secret_repo = NULL;
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_principal *alice = NULL, *boss = NULL;
	ecr_buf key = ECR_BUF_INIT, secret = ECR_BUF_INIT;
	char amzdate[17];
	const char *body = "{\"registryId\":\"444455556666\",\"repositoryName\":\"secret\"}";
	ro.account_id = "444455556666";
	ro.region = "eu-west-1";
	assert_ok(ecr_registry_open(&other, "memory:", &ro));
	assert_ok(ecr_repository_create(&secret_repo, other, "secret", NULL));
	assert_ok(ecr_repository_set_policy(secret_repo,
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
		"\"arn:aws:iam::111122223333:user/alice\"},\"Action\":\"ecr:ListImages\"}]}", 0));
	/* the same row id in each storage: alice may do nothing, boss anything */
	assert_ok(ecr_principal_create(&alice, f->reg, "arn:aws:iam::111122223333:user/alice", 0));
	assert_ok(ecr_principal_create(&boss, other, "arn:aws:iam::444455556666:user/boss", 0));
	assert_ok(ecr_principal_put_policy(boss, "all",
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:*\",\"Resource\":\"*\"}]}"));
	assert_ok(ecr_principal_access_key_create(&key, &secret, alice));
	ecr_server_free(f->srv);
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.flags = ECR_SERVER_SINGLE_THREAD;
	assert_ok(ecr_server_new(&f->srv, &o));
	assert_ok(ecr_server_add_registry(f->srv, f->reg, NULL));
	assert_ok(ecr_server_add_registry(f->srv, other, "other.invalid"));
	assert_ok(ecr_server_start(f->srv));
	f->port = ecr_server_port(f->srv);

	now_amzdate(amzdate);
	api_send(&r, f->port, "POST", "ListImages", body,
		sign(f->port, key.ptr, secret.ptr, "eu-west-1", "ListImages", body, amzdate));
	expect_error_status(&r, 400, "AccessDeniedException");
	assert_non_null(strstr(r.body, "no identity-based policy"));
	/* with an identity policy of her own she may */
	assert_ok(ecr_principal_put_policy(alice, "list",
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:ListImages\","
		"\"Resource\":\"*\"}]}"));
	api_send(&r, f->port, "POST", "ListImages", body,
		sign(f->port, key.ptr, secret.ptr, "eu-west-1", "ListImages", body, amzdate));
	expect_ok(&r);
	reply_dispose(&r);

	ecr_server_free(f->srv);
	f->srv = NULL;
	ecr_repository_free(secret_repo);
	ecr_registry_free(other);
	ecr_principal_free(alice);
	ecr_principal_free(boss);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&secret);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_ecr_api__protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__create_describe_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__create_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__pagination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__mutability_scanning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__registry_settings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__authorization_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__resource_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__sigv4, setup_auth, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api__identity_policies_of_another_storage, setup_auth, teardown),
	};
	int rc = cmocka_run_group_tests_name("server/ecr_api", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
