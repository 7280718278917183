/* The replication configuration (libecr/engine/replication_config.c): ECR's shapes, limits and messages, the
 * normalised document, and persistence. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
	ecr_registry *reg;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.account_id = "123456789012";
	opts.region = "us-east-1";
	if (!f || ecr_registry_open(&f->reg, "memory:", &opts))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_registry_free(f->reg);
	free(f);
	return 0;
}

static void expect_config(ecr_registry *reg, const char *expected)
{
	ecr_buf out = ECR_BUF_INIT;
	assert_ok(ecr_registry_replication_configuration(&out, reg));
	assert_string_equal(out.ptr, expected);
	ecr_buf_dispose(&out);
}

#define DEST(r, id) "{\"region\":\"" r "\",\"registryId\":\"" id "\"}"
#define V1 "1 validation error detected: "

static void test_engine_replication_config__default_and_roundtrip(void **state)
{
	fixture *f = *state;
	expect_config(f->reg, "{\"rules\":[]}");
	/* normalised: members in ECR's order, unknown members dropped, whitespace gone */
	assert_ok(ecr_registry_set_replication_configuration(f->reg,
		"{ \"rules\": [ {\"repositoryFilters\": [{\"filterType\": \"PREFIX_MATCH\", \"filter\": \"prod\"}],"
		" \"destinations\": [{\"registryId\": \"123456789012\", \"region\": \"eu-west-1\", \"x\": 1}]},"
		" {\"destinations\": [" DEST("us-east-1", "210987654321") "]} ] }"));
	expect_config(f->reg,
		"{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "123456789012") "],"
		"\"repositoryFilters\":[{\"filter\":\"prod\",\"filterType\":\"PREFIX_MATCH\"}]},"
		"{\"destinations\":[" DEST("us-east-1", "210987654321") "]}]}");
	/* replaced as a whole */
	assert_ok(ecr_registry_set_replication_configuration(f->reg, "{\"rules\":[]}"));
	expect_config(f->reg, "{\"rules\":[]}");
	/* a refused configuration leaves the stored one alone */
	assert_ok(ecr_registry_set_replication_configuration(f->reg,
		"{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "123456789012") "]}]}"));
	assert_int_equal(ecr_registry_set_replication_configuration(f->reg, "{\"rules\":5}"), ECR_EINVALID);
	expect_config(f->reg, "{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "123456789012") "]}]}");
}

static void test_engine_replication_config__persists(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char url[600];
	snprintf(url, sizeof(url), "file://%s", dir);
	ecr_registry *reg;
	assert_ok(ecr_registry_open(&reg, url, NULL));
	assert_ok(ecr_registry_set_replication_configuration(reg,
		"{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "123456789012") "]}]}"));
	ecr_registry_free(reg);
	assert_ok(ecr_registry_open(&reg, url, NULL));
	expect_config(reg, "{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "123456789012") "]}]}");
	ecr_registry_free(reg);
	/* another region of the same folder has its own */
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.region = "eu-west-1";
	assert_ok(ecr_registry_open(&reg, url, &o));
	expect_config(reg, "{\"rules\":[]}");
	ecr_registry_free(reg);
	th_rmtree(dir);
}

typedef struct bad_case {
	const char *json;
	int code;
	const char *message;
} bad_case;

/* n rules, each with one destination (distinct) */
static char *rules_json(size_t rules, size_t dests_per_rule, size_t filters, size_t first_dest)
{
	size_t cap = 64 + rules * (dests_per_rule * 64 + filters * 64 + 64);
	char *s = malloc(cap);
	size_t n = 0, d = first_dest;
	n += (size_t)snprintf(s + n, cap - n, "{\"rules\":[");
	for (size_t r = 0; r < rules; r++) {
		n += (size_t)snprintf(s + n, cap - n, "%s{\"destinations\":[", r ? "," : "");
		for (size_t k = 0; k < dests_per_rule; k++, d++)
			n += (size_t)snprintf(s + n, cap - n, "%s{\"region\":\"eu-west-1\",\"registryId\":\"%012zu\"}",
				k ? "," : "", d);
		n += (size_t)snprintf(s + n, cap - n, "]");
		if (filters) {
			n += (size_t)snprintf(s + n, cap - n, ",\"repositoryFilters\":[");
			for (size_t k = 0; k < filters; k++)
				n += (size_t)snprintf(s + n, cap - n, "%s{\"filter\":\"f%zu\",\"filterType\":\"PREFIX_MATCH\"}",
					k ? "," : "", k);
			n += (size_t)snprintf(s + n, cap - n, "]");
		}
		n += (size_t)snprintf(s + n, cap - n, "}");
	}
	snprintf(s + n, cap - n, "]}");
	return s;
}

static void test_engine_replication_config__limits(void **state)
{
	fixture *f = *state;
	char *s;
	/* 10 rules, 25 unique destinations, 100 filters: accepted */
	s = rules_json(10, 1, 100, 1);
	assert_ok(ecr_registry_set_replication_configuration(f->reg, s));
	free(s);
	s = rules_json(1, 25, 1, 1);
	assert_ok(ecr_registry_set_replication_configuration(f->reg, s));
	free(s);
	/* the same destination in several rules counts once */
	s = rules_json(5, 25, 0, 1);
	for (char *p = s; (p = strstr(p, "\"registryId\":\"")); p += 14) {
		/* rules_json numbers destinations across rules: make every rule use 1..25 */
		unsigned v = (unsigned)strtoul(p + 14, NULL, 10);
		char num[13];
		snprintf(num, sizeof(num), "%012u", (v - 1) % 25 + 1);
		memcpy(p + 14, num, 12);
	}
	assert_ok(ecr_registry_set_replication_configuration(f->reg, s));
	free(s);

	s = rules_json(11, 1, 0, 1);
	assert_int_equal(ecr_registry_set_replication_configuration(f->reg, s), ECR_EVALIDATION);
	assert_string_equal(ecr_error_last()->message, V1 "Value at 'replicationConfiguration.rules' failed to satisfy "
							   "constraint: Member must have length less than or equal to 10");
	assert_string_equal(ecr_error_exception(ecr_error_last()->code), "ValidationException");
	free(s);
	s = rules_json(2, 13, 0, 1);
	assert_int_equal(ecr_registry_set_replication_configuration(f->reg, s), ECR_EINVALID);
	assert_string_equal(ecr_error_last()->message,
		"Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: 'The replication "
		"configuration has 26 unique destinations; at most 25 are allowed'");
	assert_string_equal(ecr_error_exception(ecr_error_last()->code), "InvalidParameterException");
	free(s);
	s = rules_json(1, 101, 0, 1);
	assert_int_equal(ecr_registry_set_replication_configuration(f->reg, s), ECR_EVALIDATION);
	assert_string_equal(ecr_error_last()->message,
		V1 "Value at 'replicationConfiguration.rules.1.member.destinations' failed to satisfy constraint: Member "
		   "must have length less than or equal to 100");
	free(s);
	s = rules_json(2, 1, 101, 1);
	assert_int_equal(ecr_registry_set_replication_configuration(f->reg, s), ECR_EVALIDATION);
	assert_string_equal(ecr_error_last()->message,
		V1 "Value at 'replicationConfiguration.rules.1.member.repositoryFilters' failed to satisfy constraint: "
		   "Member must have length less than or equal to 100");
	free(s);
	/* the accepted configurations were stored; the refused ones were not */
	ecr_buf out = ECR_BUF_INIT;
	assert_ok(ecr_registry_replication_configuration(&out, f->reg));
	assert_non_null(strstr(out.ptr, "\"000000000025\""));
	assert_null(strstr(out.ptr, "\"000000000026\""));
	ecr_buf_dispose(&out);
}

static const bad_case bad_cases[] = {
	{ "not json", ECR_EINVALID, NULL },
	{ "[]", ECR_EINVALID, "Invalid replication configuration: 'replicationConfiguration' must be a structure" },
	{ "{}", ECR_EVALIDATION,
		V1 "Value null at 'replicationConfiguration.rules' failed to satisfy constraint: Member must not be null" },
	{ "{\"rules\":null}", ECR_EVALIDATION,
		V1 "Value null at 'replicationConfiguration.rules' failed to satisfy constraint: Member must not be null" },
	{ "{\"rules\":{}}", ECR_EINVALID,
		"Invalid replication configuration: 'replicationConfiguration.rules' must be a list" },
	{ "{\"rules\":[1]}", ECR_EINVALID,
		"Invalid replication configuration: 'replicationConfiguration.rules.1.member' must be a structure" },
	{ "{\"rules\":[{}]}", ECR_EVALIDATION,
		V1 "Value null at 'replicationConfiguration.rules.1.member.destinations' failed to satisfy constraint: "
		   "Member must not be null" },
	{ "{\"rules\":[{\"destinations\":[{\"registryId\":\"123456789012\"}]}]}", ECR_EVALIDATION,
		V1 "Value null at 'replicationConfiguration.rules.1.member.destinations.1.member.region' failed to "
		   "satisfy constraint: Member must not be null" },
	{ "{\"rules\":[{\"destinations\":[{\"region\":\"eu-west-1\"}]}]}", ECR_EVALIDATION,
		V1 "Value null at 'replicationConfiguration.rules.1.member.destinations.1.member.registryId' failed to "
		   "satisfy constraint: Member must not be null" },
	{ "{\"rules\":[{\"destinations\":[{\"region\":7,\"registryId\":\"123456789012\"}]}]}", ECR_EINVALID,
		"Invalid replication configuration: 'replicationConfiguration.rules.1.member.destinations.1.member."
		"region' must be a string" },
	{ "{\"rules\":[{\"destinations\":[" DEST("e", "123456789012") "]}]}", ECR_EVALIDATION,
		V1 "Value 'e' at 'replicationConfiguration.rules.1.member.destinations.1.member.region' failed to satisfy "
		   "constraint: Member must have length greater than or equal to 2" },
	{ "{\"rules\":[{\"destinations\":[" DEST("abcdefghijklmnopqrstuvwxyz", "123456789012") "]}]}",
		ECR_EVALIDATION,
		V1 "Value 'abcdefghijklmnopqrstuvwxyz' at 'replicationConfiguration.rules.1.member.destinations.1.member."
		   "region' failed to satisfy constraint: Member must have length less than or equal to 25" },
	{ "{\"rules\":[{\"destinations\":[" DEST("EU_WEST", "123456789012") "]}]}", ECR_EVALIDATION,
		V1 "Value 'EU_WEST' at 'replicationConfiguration.rules.1.member.destinations.1.member.region' failed to "
		   "satisfy constraint: Member must satisfy regular expression pattern: [0-9a-z-]{2,25}" },
	{ "{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "12345678901") "]}]}", ECR_EVALIDATION,
		V1 "Value '12345678901' at 'replicationConfiguration.rules.1.member.destinations.1.member.registryId' "
		   "failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}" },
	{ "{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "12345678901a") "]}]}", ECR_EVALIDATION,
		V1 "Value '12345678901a' at 'replicationConfiguration.rules.1.member.destinations.1.member.registryId' "
		   "failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}" },
	{ "{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "1234567890123") "]}]}", ECR_EVALIDATION,
		V1 "Value '1234567890123' at 'replicationConfiguration.rules.1.member.destinations.1.member.registryId' "
		   "failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]{12}" },
	/* the registry itself (account 123456789012 in us-east-1), in the second rule's second destination */
	{ "{\"rules\":[{\"destinations\":[" DEST("eu-west-1", "123456789012") "]},{\"destinations\":[" DEST(
		  "eu-west-2", "123456789012") "," DEST("us-east-1", "123456789012") "]}]}",
		ECR_EINVALID,
		"Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: 'Replication destination "
		"cannot be the same as the source registry'" },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[]}]}", ECR_EVALIDATION,
		V1 "Value at 'replicationConfiguration.rules.1.member.repositoryFilters' failed to satisfy constraint: "
		   "Member must have length greater than or equal to 1" },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filterType\":\"PREFIX_MATCH\"}]}]}",
		ECR_EVALIDATION,
		V1 "Value null at 'replicationConfiguration.rules.1.member.repositoryFilters.1.member.filter' failed to "
		   "satisfy constraint: Member must not be null" },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"ab\"}]}]}", ECR_EVALIDATION,
		V1 "Value null at 'replicationConfiguration.rules.1.member.repositoryFilters.1.member.filterType' failed "
		   "to satisfy constraint: Member must not be null" },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"ab\",\"filterType\":\"WILDCARD\"}]}]}",
		ECR_EVALIDATION,
		V1 "Value 'WILDCARD' at 'replicationConfiguration.rules.1.member.repositoryFilters.1.member.filterType' "
		   "failed to satisfy constraint: Member must satisfy enum value set: [PREFIX_MATCH]" },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"a\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		ECR_EVALIDATION,
		V1 "Value 'a' at 'replicationConfiguration.rules.1.member.repositoryFilters.1.member.filter' failed to "
		   "satisfy constraint: Member must have length greater than or equal to 2" },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"Prod\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		ECR_EVALIDATION,
		V1 "Value 'Prod' at 'replicationConfiguration.rules.1.member.repositoryFilters.1.member.filter' failed to "
		   "satisfy constraint: Member must satisfy regular expression pattern: "
		   "^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$" },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"a//b\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		ECR_EVALIDATION, NULL },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"-a/b\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		ECR_EVALIDATION, NULL },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"/ab\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		ECR_EVALIDATION, NULL },
	{ "{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"a*\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		ECR_EVALIDATION, NULL },
};

static void test_engine_replication_config__refused(void **state)
{
	fixture *f = *state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const bad_case *c = &bad_cases[i];
		int rc = ecr_registry_set_replication_configuration(f->reg, c->json);
		if (rc != c->code)
			fail_msg("case %zu (%s): %d (%s), expected %d", i, c->json, rc, ecr_error_last()->message, c->code);
		if (c->message && strcmp(ecr_error_last()->message, c->message) != 0)
			fail_msg("case %zu (%s):\n got  %s\n want %s", i, c->json, ecr_error_last()->message, c->message);
	}
	expect_config(f->reg, "{\"rules\":[]}");
	/* a filter longer than 256 */
	char json[600], filter[300];
	memset(filter, 'a', 257);
	filter[257] = 0;
	snprintf(json, sizeof(json),
		"{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"%s\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		filter);
	assert_int_equal(ecr_registry_set_replication_configuration(f->reg, json), ECR_EVALIDATION);
	assert_non_null(strstr(ecr_error_last()->message, "Member must have length less than or equal to 256"));
	filter[256] = 0;
	snprintf(json, sizeof(json),
		"{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"%s\",\"filterType\":\"PREFIX_MATCH\"}]}]}",
		filter);
	assert_ok(ecr_registry_set_replication_configuration(f->reg, json));
	/* filters the pattern allows */
	static const char *const good[] = { "ab", "a/b", "prod/", "a-b_c.d/e", "ab/.x", "a/b/-", "0-" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(json, sizeof(json),
			"{\"rules\":[{\"destinations\":[],\"repositoryFilters\":[{\"filter\":\"%s\",\"filterType\":"
			"\"PREFIX_MATCH\"}]}]}",
			good[i]);
		if (ecr_registry_set_replication_configuration(f->reg, json))
			fail_msg("filter '%s' refused: %s", good[i], ecr_error_last()->message);
	}
	/* arguments */
	assert_int_equal(ecr_registry_set_replication_configuration(f->reg, NULL), ECR_EINVALID);
	assert_int_equal(ecr_registry_replication_configuration(NULL, f->reg), ECR_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_engine_replication_config__default_and_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_config__persists, NULL, NULL),
		cmocka_unit_test_setup_teardown(test_engine_replication_config__limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_replication_config__refused, setup, teardown),
	};
	return cmocka_run_group_tests_name("engine/replication_config", tests, NULL, NULL);
}
