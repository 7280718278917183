/* Repository creation templates (libecr/replication/templates.c): validation,
 * create/update/delete/describe, prefix matching, ecr_repository_create_templated
 * (every setting, all or nothing) and create-on-push through an ecr_server. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "../helpers/faulty_storage.h"
#include "../helpers/helpers.h"
#include "../helpers/th_image.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libecr/core/json.h"

/* JSON with ' for " (readable literals); a static buffer per call site is not thread-safe: tests are serial. */
static char *q(const char *s)
{
	char *out = strdup(s);
	assert_non_null(out);
	for (char *p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

static ecr_registry *open_mem(void)
{
	ecr_registry *reg = NULL;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	return reg;
}

static int put(ecr_buf *out, ecr_registry *reg, const char *json_q, int create)
{
	char *j = q(json_q);
	int rc = ecr_registry_put_creation_template(out, reg, j, create);
	free(j);
	return rc;
}

static ecr__json *parse(const ecr_buf *b)
{
	ecr__json *v = NULL;
	assert_non_null(b->ptr);
	assert_ok(ecr__json_parse(&v, b->ptr, b->size, NULL));
	return v;
}

#define POLICY                                                                                                         \
	"{'Version':'2012-10-17','Statement':[{'Sid':'pull','Effect':'Allow','Principal':{'AWS':"                      \
	"'arn:aws:iam::111122223333:root'},'Action':['ecr:BatchGetImage']}]}"
#define LIFECYCLE                                                                                                      \
	"{'rules':[{'rulePriority':1,'selection':{'tagStatus':'untagged','countType':'imageCountMoreThan',"            \
	"'countNumber':3},'action':{'type':'expire'}}]}"

/* JSON-escape POLICY / LIFECYCLE into a string member value (they contain quotes). */
static char *esc(const char *json_q)
{
	char *j = q(json_q), *out = malloc(strlen(j) * 2 + 1), *o = out;
	assert_non_null(out);
	for (const char *p = j; *p; p++) {
		if (*p == '"')
			*o++ = '\\';
		*o++ = *p;
	}
	*o = '\0';
	free(j);
	/* back to single quotes for put()'s q(): the escaped quotes stay escaped */
	for (char *p = out; *p; p++)
		if (*p == '"')
			*p = '\x01';
	return out;
}

/* put() with \x01 standing for an escaped quote (see esc()). */
static int put_raw(ecr_buf *out, ecr_registry *reg, const char *json_q, int create)
{
	char *j = q(json_q);
	for (char *p = j; *p; p++)
		if (*p == '\x01')
			*p = '"';
	int rc = ecr_registry_put_creation_template(out, reg, j, create);
	free(j);
	return rc;
}

static void test_replication_templates__validation(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		int create;
		int code;
	} cases[] = {
	    {"{'prefix':'prod','appliedFor':['REPLICATION']}", 1, 0},
	    {"{'prefix':'ROOT','appliedFor':['CREATE_ON_PUSH','PULL_THROUGH_CACHE']}", 1, 0},
	    {"{'prefix':'a.b_c__d--e/f-g/','appliedFor':['REPLICATION']}", 1, 0},
	    {"{'appliedFor':['REPLICATION']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'','appliedFor':['REPLICATION']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'Prod','appliedFor':['REPLICATION']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'root','appliedFor':['REPLICATION']}", 1, 0},
	    {"{'prefix':'a//b','appliedFor':['REPLICATION']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'/a','appliedFor':['REPLICATION']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'a..b','appliedFor':['REPLICATION']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'a___b','appliedFor':['REPLICATION']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'a-','appliedFor':['REPLICATION']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'x'}", 1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':[]}", 1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['PUSH']}", 1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':'REPLICATION'}", 1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'imageTagMutability':'SOMETIMES'}", 1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'imageTagMutability':'IMMUTABLE_WITH_EXCLUSION'}", 1,
	     ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'imageTagMutability':'IMMUTABLE',"
	     "'imageTagMutabilityExclusionFilters':[{'filterType':'WILDCARD','filter':'dev*'}]}",
	     1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'imageTagMutability':'MUTABLE_WITH_EXCLUSION',"
	     "'imageTagMutabilityExclusionFilters':[{'filterType':'WILDCARD','filter':'dev*'}]}",
	     1, 0},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'imageTagMutability':'MUTABLE_WITH_EXCLUSION',"
	     "'imageTagMutabilityExclusionFilters':[{'filterType':'PREFIX','filter':'dev*'}]}",
	     1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'imageTagMutability':'MUTABLE_WITH_EXCLUSION',"
	     "'imageTagMutabilityExclusionFilters':[{'filterType':'WILDCARD','filter':'a b'}]}",
	     1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'imageTagMutability':'MUTABLE_WITH_EXCLUSION',"
	     "'imageTagMutabilityExclusionFilters':[]}",
	     1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'imageTagMutability':'MUTABLE_WITH_EXCLUSION',"
	     "'imageTagMutabilityExclusionFilters':[{'filterType':'WILDCARD','filter':'a'},{'filterType':'WILDCARD',"
	     "'filter':'b'},{'filterType':'WILDCARD','filter':'c'},{'filterType':'WILDCARD','filter':'d'},"
	     "{'filterType':'WILDCARD','filter':'e'},{'filterType':'WILDCARD','filter':'f'}]}",
	     1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'encryptionConfiguration':{'encryptionType':'KMS'}}", 1, 0},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'encryptionConfiguration':{'encryptionType':'DES'}}", 1,
	     ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'encryptionConfiguration':{}}", 1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'encryptionConfiguration':{'encryptionType':'KMS',"
	     "'kmsKey':'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab'}}",
	     1, 0},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'encryptionConfiguration':{'encryptionType':'KMS',"
	     "'kmsKey':'alias/mine'}}",
	     1, ECR_EVALIDATION},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'encryptionConfiguration':{'encryptionType':'AES256',"
	     "'kmsKey':'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab'}}",
	     1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'resourceTags':[{'Key':'team','Value':'a'}]}", 1, 0},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'resourceTags':[{'Key':'aws:x','Value':'a'}]}", 1,
	     ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'resourceTags':[{'Key':'','Value':'a'}]}", 1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'resourceTags':[{'Key':'k'}]}", 1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'resourceTags':[{'Key':'k','Value':'1'},{'Key':'k',"
	     "'Value':'2'}]}",
	     1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'repositoryPolicy':'not json'}", 1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'repositoryPolicy':''}", 1, 0},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'lifecyclePolicy':'{}'}", 1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'customRoleArn':'arn:aws:iam::111122223333:role/ecr'}", 1, 0},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'customRoleArn':'role/ecr'}", 1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'colour':'blue'}", 1, ECR_EINVALID},
	    {"['prefix']", 1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION'],'description':5}", 1, ECR_EINVALID},
	    {"{'prefix':'x','appliedFor':['REPLICATION']", 1, ECR_EINVALID},
	    {"{'prefix':'nothere','description':'d'}", 0, ECR_ETEMPLATE_NOT_FOUND},
	    {"{'prefix':'BAD'}", 0, ECR_EVALIDATION},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecr_registry *reg = open_mem();
		ecr_buf out = ECR_BUF_INIT;
		int rc = put(&out, reg, cases[i].json, cases[i].create);
		if (rc != cases[i].code)
			fail_msg("case %zu (%s): %d (%s), expected %s: %s", i, cases[i].json, rc, ecr_error_name(rc),
			         ecr_error_name(cases[i].code), ecr_error_last()->message);
		if (rc)
			assert_true(strlen(ecr_error_last()->message) > 0);
		ecr_buf_dispose(&out);
		ecr_registry_free(reg);
	}
	/* lengths: description 256, prefix 256, policies */
	ecr_registry *reg = open_mem();
	char big[400], json[600];
	memset(big, 'a', sizeof(big));
	big[256] = '\0';
	snprintf(json, sizeof(json), "{'prefix':'d1','appliedFor':['REPLICATION'],'description':'%s'}", big);
	assert_ok(put(NULL, reg, json, 1));
	big[257] = '\0';
	big[256] = 'a';
	snprintf(json, sizeof(json), "{'prefix':'d2','appliedFor':['REPLICATION'],'description':'%s'}", big);
	assert_int_equal(put(NULL, reg, json, 1), ECR_EVALIDATION);
	snprintf(json, sizeof(json), "{'prefix':'%s','appliedFor':['REPLICATION']}", big);
	assert_int_equal(put(NULL, reg, json, 1), ECR_EVALIDATION);
	big[256] = '\0';
	snprintf(json, sizeof(json), "{'prefix':'%s','appliedFor':['REPLICATION']}", big);
	assert_ok(put(NULL, reg, json, 1));
	/* 51 tags */
	char *tags = malloc(51 * 40 + 200);
	assert_non_null(tags);
	strcpy(tags, "{'prefix':'t','appliedFor':['REPLICATION'],'resourceTags':[");
	for (int i = 0; i < 51; i++)
		sprintf(tags + strlen(tags), "%s{'Key':'k%d','Value':'v'}", i ? "," : "", i);
	strcat(tags, "]}");
	assert_int_equal(put(NULL, reg, tags, 1), ECR_EINVALID);
	free(tags);
	ecr_registry_free(reg);
}

static void test_replication_templates__crud(void **state)
{
	(void)state;
	ecr_registry *reg = open_mem();
	ecr_buf out = ECR_BUF_INIT;
	char *pol = esc(POLICY), *lc = esc(LIFECYCLE), json[4096];

	snprintf(json, sizeof(json),
	         "{'prefix':'prod','description':'production','appliedFor':['REPLICATION','CREATE_ON_PUSH'],"
	         "'imageTagMutability':'IMMUTABLE','repositoryPolicy':'%s','lifecyclePolicy':'%s',"
	         "'resourceTags':[{'Key':'team','Value':'core'}],'customRoleArn':'arn:aws:iam::111122223333:role/ecr'}",
	         pol, lc);
	assert_ok(put_raw(&out, reg, json, 1));
	ecr__json *t = parse(&out);
	assert_string_equal(ecr__json_get_string(t, "prefix"), "prod");
	assert_string_equal(ecr__json_get_string(t, "description"), "production");
	assert_string_equal(ecr__json_get_string(t, "imageTagMutability"), "IMMUTABLE");
	assert_string_equal(ecr__json_get_string(ecr__json_get(t, "encryptionConfiguration"), "encryptionType"),
	                    "AES256");
	assert_int_equal(ecr__json_get(t, "appliedFor")->count, 2);
	assert_int_equal(ecr__json_get(t, "resourceTags")->count, 1);
	assert_non_null(ecr__json_get_string(t, "repositoryPolicy"));
	assert_non_null(ecr__json_get_string(t, "lifecyclePolicy"));
	assert_string_equal(ecr__json_get_string(t, "customRoleArn"), "arn:aws:iam::111122223333:role/ecr");
	assert_non_null(ecr__json_get(t, "createdAt"));
	assert_non_null(ecr__json_get(t, "updatedAt"));
	ecr__json_free(t);

	/* create again: TemplateAlreadyExists */
	assert_int_equal(put(NULL, reg, "{'prefix':'prod','appliedFor':['REPLICATION']}", 1), ECR_ETEMPLATE_EXISTS);
	assert_string_equal(ecr_error_exception(ECR_ETEMPLATE_EXISTS), "TemplateAlreadyExistsException");
	assert_int_equal(ecr_error_category(ECR_ETEMPLATE_EXISTS), ECR_EEXISTS);
	assert_non_null(strstr(ecr_error_last()->message, "prod"));

	/* update: only the members given change */
	assert_ok(put(&out, reg, "{'prefix':'prod','description':'changed','appliedFor':['PULL_THROUGH_CACHE']}", 0));
	t = parse(&out);
	assert_string_equal(ecr__json_get_string(t, "description"), "changed");
	assert_string_equal(ecr__json_get_string(t, "imageTagMutability"), "IMMUTABLE");
	assert_int_equal(ecr__json_get(t, "appliedFor")->count, 1);
	assert_string_equal(ecr__json_at(ecr__json_get(t, "appliedFor"), 0)->string, "PULL_THROUGH_CACHE");
	assert_non_null(ecr__json_get_string(t, "repositoryPolicy"));
	ecr__json_free(t);
	/* an update is validated as a whole: exclusion filters need an exclusion mode */
	assert_int_equal(
	    put(NULL, reg,
	        "{'prefix':'prod','imageTagMutabilityExclusionFilters':[{'filterType':'WILDCARD','filter':'x'}]}", 0),
	    ECR_EINVALID);
	assert_ok(
	    put(NULL, reg,
	        "{'prefix':'prod','imageTagMutability':'IMMUTABLE_WITH_EXCLUSION','imageTagMutabilityExclusionFilters':"
	        "[{'filterType':'WILDCARD','filter':'latest'}]}",
	        0));
	/* back to MUTABLE drops the filters; an empty policy removes it */
	assert_ok(put(&out, reg, "{'prefix':'prod','imageTagMutability':'MUTABLE','repositoryPolicy':''}", 0));
	t = parse(&out);
	assert_null(ecr__json_get(t, "imageTagMutabilityExclusionFilters"));
	assert_null(ecr__json_get(t, "repositoryPolicy"));
	assert_non_null(ecr__json_get_string(t, "lifecyclePolicy"));
	ecr__json_free(t);
	assert_int_equal(put(NULL, reg, "{'prefix':'other','description':'x'}", 0), ECR_ETEMPLATE_NOT_FOUND);

	/* describe: all in prefix order, or those asked for */
	assert_ok(put(NULL, reg, "{'prefix':'ROOT','appliedFor':['REPLICATION']}", 1));
	assert_ok(put(NULL, reg, "{'prefix':'alpha','appliedFor':['REPLICATION']}", 1));
	assert_ok(ecr_registry_creation_templates(&out, reg, NULL, 0));
	t = parse(&out);
	assert_int_equal(t->type, ECR__JSON_ARRAY);
	assert_int_equal(t->count, 3);
	assert_string_equal(ecr__json_get_string(t->values[0], "prefix"), "ROOT");
	assert_string_equal(ecr__json_get_string(t->values[1], "prefix"), "alpha");
	assert_string_equal(ecr__json_get_string(t->values[2], "prefix"), "prod");
	assert_string_equal(ecr__json_get_string(t->values[2], "description"), "changed");
	ecr__json_free(t);
	const char *some[] = {"prod", "alpha", "prod"};
	assert_ok(ecr_registry_creation_templates(&out, reg, some, 3));
	t = parse(&out);
	assert_int_equal(t->count, 2);
	assert_string_equal(ecr__json_get_string(t->values[0], "prefix"), "alpha");
	assert_string_equal(ecr__json_get_string(t->values[1], "prefix"), "prod");
	ecr__json_free(t);
	const char *missing[] = {"prod", "nope"};
	assert_int_equal(ecr_registry_creation_templates(&out, reg, missing, 2), ECR_ETEMPLATE_NOT_FOUND);
	const char *bad[] = {"UPPER"};
	assert_int_equal(ecr_registry_creation_templates(&out, reg, bad, 1), ECR_EVALIDATION);

	/* delete gives the template back */
	assert_ok(ecr_registry_delete_creation_template(&out, reg, "alpha"));
	t = parse(&out);
	assert_string_equal(ecr__json_get_string(t, "prefix"), "alpha");
	ecr__json_free(t);
	assert_int_equal(ecr_registry_delete_creation_template(NULL, reg, "alpha"), ECR_ETEMPLATE_NOT_FOUND);
	assert_int_equal(ecr_registry_delete_creation_template(NULL, reg, "a//b"), ECR_EVALIDATION);
	assert_ok(ecr_registry_creation_templates(&out, reg, NULL, 0));
	t = parse(&out);
	assert_int_equal(t->count, 2);
	ecr__json_free(t);

	free(pol);
	free(lc);
	ecr_buf_dispose(&out);
	ecr_registry_free(reg);
}

static void test_replication_templates__limit_and_persistence(void **state)
{
	(void)state;
	char *dir = th_tmpdir(), url[600], json[128];
	snprintf(url, sizeof(url), "file://%s", dir);
	ecr_registry *reg = NULL;
	assert_ok(ecr_registry_open(&reg, url, NULL));
	for (int i = 0; i < 100; i++) {
		snprintf(json, sizeof(json), "{'prefix':'p%03d','appliedFor':['REPLICATION']}", i);
		assert_ok(put(NULL, reg, json, 1));
	}
	assert_int_equal(put(NULL, reg, "{'prefix':'p100','appliedFor':['REPLICATION']}", 1), ECR_ELIMIT);
	assert_ok(ecr_registry_delete_creation_template(NULL, reg, "p000"));
	assert_ok(put(NULL, reg, "{'prefix':'p100','appliedFor':['REPLICATION']}", 1));
	ecr_registry_free(reg);
	/* templates survive a reopen */
	assert_ok(ecr_registry_open(&reg, url, NULL));
	ecr_buf out = ECR_BUF_INIT;
	assert_ok(ecr_registry_creation_templates(&out, reg, NULL, 0));
	ecr__json *t = parse(&out);
	assert_int_equal(t->count, 100);
	assert_string_equal(ecr__json_get_string(t->values[0], "prefix"), "p001");
	assert_string_equal(ecr__json_get_string(t->values[99], "prefix"), "p100");
	ecr__json_free(t);
	ecr_buf_dispose(&out);
	ecr_registry_free(reg);
	th_rmtree(dir);
}

static void expect_mutability(ecr_registry *reg, const char *name, uint32_t applied_for, ecr_tag_mutability m)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_create_templated(&repo, reg, name, applied_for);
	if (rc)
		fail_msg("%s: %s", name, ecr_error_last()->message);
	assert_string_equal(ecr_repository_name(repo), name);
	if (ecr_repository_tag_mutability(repo) != m)
		fail_msg("%s (applied for %u): mutability %d, expected %d", name, applied_for,
		         (int)ecr_repository_tag_mutability(repo), (int)m);
	ecr_repository_free(repo);
}

static void test_replication_templates__prefix_matching(void **state)
{
	(void)state;
	ecr_registry *reg = open_mem();
	/* no template at all: defaults */
	expect_mutability(reg, "plain", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_MUTABLE);
	assert_ok(
	    put(NULL, reg,
	        "{'prefix':'prod','appliedFor':['CREATE_ON_PUSH','REPLICATION'],'imageTagMutability':'IMMUTABLE'}", 1));
	assert_ok(
	    put(NULL, reg,
	        "{'prefix':'prod/team','appliedFor':['CREATE_ON_PUSH'],'imageTagMutability':'MUTABLE_WITH_EXCLUSION',"
	        "'imageTagMutabilityExclusionFilters':[{'filterType':'WILDCARD','filter':'rel-*'}]}",
	        1));
	assert_ok(
	    put(NULL, reg,
	        "{'prefix':'ROOT','appliedFor':['CREATE_ON_PUSH'],'imageTagMutability':'IMMUTABLE_WITH_EXCLUSION',"
	        "'imageTagMutabilityExclusionFilters':[{'filterType':'WILDCARD','filter':'latest'}]}",
	        1));
	assert_ok(put(NULL, reg,
	              "{'prefix':'cache/','appliedFor':['PULL_THROUGH_CACHE'],'imageTagMutability':'IMMUTABLE'}", 1));

	expect_mutability(reg, "prod", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_IMMUTABLE);
	expect_mutability(reg, "prod/app", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_IMMUTABLE);
	expect_mutability(reg, "prod/teamx", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_IMMUTABLE);
	expect_mutability(reg, "prod/team/app", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_MUTABLE_WITH_EXCLUSION);
	expect_mutability(reg, "prod/team", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_MUTABLE_WITH_EXCLUSION);
	/* "prod" is not a whole leading part of "production": ROOT */
	expect_mutability(reg, "production", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_IMMUTABLE_WITH_EXCLUSION);
	expect_mutability(reg, "production/x", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_IMMUTABLE_WITH_EXCLUSION);
	/* appliedFor: prod/team is CREATE_ON_PUSH only, so replication falls back to prod */
	expect_mutability(reg, "prod/team/repl", ECR_TEMPLATE_REPLICATION, ECR_TAG_IMMUTABLE);
	/* ROOT is CREATE_ON_PUSH only: a replicated repository elsewhere gets the defaults */
	expect_mutability(reg, "other/repl", ECR_TEMPLATE_REPLICATION, ECR_TAG_MUTABLE);
	/* "cache/" applies below cache/ only, and only for the cache */
	expect_mutability(reg, "cache/library/alpine", ECR_TEMPLATE_PULL_THROUGH_CACHE, ECR_TAG_IMMUTABLE);
	expect_mutability(reg, "cache", ECR_TEMPLATE_PULL_THROUGH_CACHE, ECR_TAG_MUTABLE);
	expect_mutability(reg, "cache/x", ECR_TEMPLATE_CREATE_ON_PUSH, ECR_TAG_IMMUTABLE_WITH_EXCLUSION);

	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_open(&repo, reg, "prod/team/app"));
	assert_int_equal(ecr_repository_exclusion_count(repo), 1);
	assert_string_equal(ecr_repository_exclusion(repo, 0), "rel-*");
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "rel-1"), 0);
	assert_int_equal(ecr_repository_tag_is_mutable(repo, "dev"), 1);
	ecr_repository_free(repo);

	/* existing names and bad uses fail as ecr_repository_create does */
	assert_int_equal(ecr_repository_create_templated(NULL, reg, "prod", ECR_TEMPLATE_CREATE_ON_PUSH),
	                 ECR_EREPOSITORY_EXISTS);
	assert_int_equal(ecr_repository_create_templated(NULL, reg, "Bad Name", ECR_TEMPLATE_CREATE_ON_PUSH),
	                 ECR_EINVALID);
	assert_int_equal(ecr_repository_create_templated(NULL, reg, "fine", 0), ECR_EINVALID);
	assert_int_equal(
	    ecr_repository_create_templated(NULL, reg, "fine", ECR_TEMPLATE_REPLICATION | ECR_TEMPLATE_CREATE_ON_PUSH),
	    ECR_EINVALID);
	/* templates do not touch repositories that exist */
	assert_ok(ecr_registry_delete_creation_template(NULL, reg, "prod"));
	assert_ok(ecr_repository_open(&repo, reg, "prod/app"));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_IMMUTABLE);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
}

static int tag_cb(const char *key, const char *value, void *payload)
{
	char *acc = payload;
	snprintf(acc + strlen(acc), 256 - strlen(acc), "%s=%s;", key, value);
	return 0;
}

static void create_full_template(ecr_registry *reg)
{
	char *pol = esc(POLICY), *lc = esc(LIFECYCLE), json[4096];
	snprintf(
	    json, sizeof(json),
	    "{'prefix':'team','appliedFor':['REPLICATION'],'imageTagMutability':'IMMUTABLE_WITH_EXCLUSION',"
	    "'imageTagMutabilityExclusionFilters':[{'filterType':'WILDCARD','filter':'dev-*'},{'filterType':'WILDCARD',"
	    "'filter':'latest'}],'encryptionConfiguration':{'encryptionType':'KMS_DSSE','kmsKey':"
	    "'arn:aws:kms:us-east-1:111122223333:key/abcd-1234'},'resourceTags':[{'Key':'team','Value':'core'},"
	    "{'Key':'cost','Value':''}],'repositoryPolicy':'%s','lifecyclePolicy':'%s'}",
	    pol, lc);
	assert_ok(put_raw(NULL, reg, json, 1));
	free(pol);
	free(lc);
}

static void test_replication_templates__applies_every_setting(void **state)
{
	(void)state;
	ecr_registry *reg = open_mem();
	create_full_template(reg);
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_create_templated(&repo, reg, "team/svc", ECR_TEMPLATE_REPLICATION));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_IMMUTABLE_WITH_EXCLUSION);
	assert_int_equal(ecr_repository_exclusion_count(repo), 2);
	assert_string_equal(ecr_repository_exclusion(repo, 0), "dev-*");
	assert_string_equal(ecr_repository_exclusion(repo, 1), "latest");
	assert_int_equal(ecr_repository_encryption_type(repo), ECR_ENCRYPTION_KMS_DSSE);
	assert_string_equal(ecr_repository_kms_key(repo), "arn:aws:kms:us-east-1:111122223333:key/abcd-1234");
	assert_int_equal(ecr_repository_scan_on_push(repo), 0);
	char tags[256] = "";
	assert_ok(ecr_repository_resource_tags(repo, tag_cb, tags));
	assert_string_equal(tags, "cost=;team=core;");
	ecr_buf text = ECR_BUF_INIT;
	assert_ok(ecr_repository_policy(&text, repo));
	char *want = q(POLICY);
	assert_string_equal(text.ptr, want);
	free(want);
	int64_t evaluated = -1;
	ecr_buf_dispose(&text); /* the getters append */
	assert_ok(ecr_repository_lifecycle_policy(&text, &evaluated, repo));
	want = q(LIFECYCLE);
	assert_string_equal(text.ptr, want);
	free(want);
	ecr_repository_free(repo);

	/* the same name prefix without the template's use: defaults, nothing set */
	assert_ok(ecr_repository_create_templated(&repo, reg, "team/push", ECR_TEMPLATE_CREATE_ON_PUSH));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_MUTABLE);
	assert_int_equal(ecr_repository_encryption_type(repo), ECR_ENCRYPTION_AES256);
	assert_int_equal(ecr_repository_policy(&text, repo), ECR_EREPOSITORY_POLICY_NOT_FOUND);
	assert_int_equal(ecr_repository_lifecycle_policy(&text, NULL, repo), ECR_ELIFECYCLE_POLICY_NOT_FOUND);
	ecr_repository_free(repo);
	ecr_buf_dispose(&text);
	ecr_registry_free(reg);
}

/* Every metadata commit of ecr_repository_create_templated fails in turn: it fails, and the repository is not
 * left behind half-configured. */
static void test_replication_templates__all_or_nothing(void **state)
{
	(void)state;
	char *dir = th_tmpdir(), db[600];
	snprintf(db, sizeof(db), "%s/metadata.db", dir);
	th_faults f;
	th_faults_init(&f);
	f.only = TH_FAULT_META_COMMIT;
	ecr_blob_store *bs = NULL;
	ecr_meta_store *ms = NULL, *fm = NULL;
	ecr_registry *reg = NULL;
	assert_ok(ecr_blob_store_memory_new(&bs));
	assert_ok(ecr_meta_store_sqlite_new(&ms, db, ECR_STORAGE_NOSYNC));
	assert_ok(th_faulty_meta_store_new(&fm, ms, &f));
	assert_ok(ecr_registry_open_storage(&reg, bs, fm, NULL));
	create_full_template(reg);

	th_faults_arm(&f, 0, 0);
	assert_ok(ecr_repository_create_templated(NULL, reg, "team/count", ECR_TEMPLATE_REPLICATION));
	unsigned long n = f.calls;
	assert_true(n >= 3); /* the repository, its policy, its lifecycle policy */
	for (unsigned long k = 1; k <= n; k++) {
		char name[64];
		snprintf(name, sizeof(name), "team/fail%lu", k);
		th_faults_arm(&f, k, 0);
		int rc = ecr_repository_create_templated(NULL, reg, name, ECR_TEMPLATE_REPLICATION);
		th_faults_arm(&f, 0, 0);
		if (rc == 0)
			fail_msg("commit %lu of %lu failed but the call succeeded", k, n);
		assert_true(strstr(ecr_error_last()->message, "injected") != NULL);
		ecr_repository *repo = NULL;
		assert_int_equal(ecr_repository_open(&repo, reg, name), ECR_EREPOSITORY_NOT_FOUND);
		/* and it can be created afterwards, completely */
		assert_ok(ecr_repository_create_templated(&repo, reg, name, ECR_TEMPLATE_REPLICATION));
		ecr_buf text = ECR_BUF_INIT;
		assert_ok(ecr_repository_lifecycle_policy(&text, NULL, repo));
		ecr_buf_dispose(&text);
		ecr_repository_free(repo);
	}
	ecr_registry_free(reg);
	th_rmtree(dir);
}

/* --- create-on-push through an ecr_server --- */

/* One HTTP/1.1 request on a fresh connection; returns the status; location (may be NULL) gets the Location header. */
static int http(uint16_t port, const char *method, const char *path, const char *ctype, const void *body, size_t len,
                char *location, size_t loc_cap)
{
	char head[1024], resp[8192];
	int n = snprintf(head, sizeof(head),
	                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: %s\r\nContent-Length: "
	                 "%zu\r\nConnection: close\r\n\r\n",
	                 method, path, port, ctype ? ctype : "application/octet-stream", len);
	assert_true(n > 0 && (size_t)n < sizeof(head));
	int status = th_http_raw(port, head, body, len, resp, sizeof(resp));
	assert_true(status >= 100);
	if (location) {
		location[0] = '\0';
		char *l = strcasestr(resp, "\r\nLocation: ");
		if (l) {
			l += strlen("\r\nLocation: ");
			size_t m = strcspn(l, "\r\n");
			assert_true(m < loc_cap);
			memcpy(location, l, m);
			location[m] = '\0';
		}
	}
	return status;
}

static void push_blob(uint16_t port, const char *name, const th_blob *b)
{
	char path[512], loc[512];
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", name);
	assert_int_equal(http(port, "POST", path, NULL, NULL, 0, loc, sizeof(loc)), 202);
	assert_true(loc[0] != '\0');
	/* the Location may be absolute or a path */
	const char *p = strstr(loc, "/v2/");
	assert_non_null(p);
	snprintf(path, sizeof(path), "%s%cdigest=%s", p, strchr(p, '?') ? '&' : '?', b->digest);
	assert_int_equal(http(port, "PUT", path, NULL, b->data, b->len, NULL, 0), 201);
}

static void test_replication_templates__create_on_push(void **state)
{
	(void)state;
	ecr_registry *reg = open_mem();
	create_full_template(reg);
	assert_ok(
	    put(NULL, reg,
	        "{'prefix':'pushed','appliedFor':['CREATE_ON_PUSH'],'imageTagMutability':'IMMUTABLE','resourceTags':"
	        "[{'Key':'via','Value':'push'}]}",
	        1));
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.flags = ECR_SERVER_CREATE_ON_PUSH | ECR_SERVER_NO_AUTH;
	ecr_server *srv = NULL;
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	uint16_t port = ecr_server_port(srv);

	uint64_t rng = 42;
	th_image img;
	assert_ok(th_image_random(&img, &rng, 1, NULL));
	const char *names[] = {"pushed/app", "team/pushed", "plain"};
	for (size_t i = 0; i < 3; i++) {
		char path[512];
		push_blob(port, names[i], &img.config);
		push_blob(port, names[i], &img.layers[0]);
		snprintf(path, sizeof(path), "/v2/%s/manifests/v1", names[i]);
		assert_int_equal(http(port, "PUT", path, "application/vnd.oci.image.manifest.v1+json", img.manifest,
		                      img.manifest_len, NULL, 0),
		                 201);
	}
	ecr_server_stop(srv);
	ecr_server_free(srv);

	ecr_repository *repo = NULL;
	char tags[256] = "";
	/* the CREATE_ON_PUSH template of its prefix */
	assert_ok(ecr_repository_open(&repo, reg, "pushed/app"));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_IMMUTABLE);
	assert_ok(ecr_repository_resource_tags(repo, tag_cb, tags));
	assert_string_equal(tags, "via=push;");
	ecr_repository_free(repo);
	/* "team" is a REPLICATION template: not applied to a push */
	assert_ok(ecr_repository_open(&repo, reg, "team/pushed"));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_MUTABLE);
	assert_int_equal(ecr_repository_encryption_type(repo), ECR_ENCRYPTION_AES256);
	ecr_repository_free(repo);
	assert_ok(ecr_repository_open(&repo, reg, "plain"));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_MUTABLE);
	ecr_repository_free(repo);
	th_image_dispose(&img);
	ecr_registry_free(reg);
}

/* A remote registry handle (the HTTP transport to an ecr_server): the four operations go over the ECR API with the
 * same codes; ecr_repository_create_templated applies the remote's templates. */
static void test_replication_templates__remote(void **state)
{
	(void)state;
	ecr_registry *reg = open_mem(), *remote = NULL;
	ecr_server_options o = ECR_SERVER_OPTIONS_INIT;
	o.flags = ECR_SERVER_NO_AUTH;
	ecr_server *srv = NULL;
	assert_ok(ecr_server_new(&srv, &o));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ecr_server_port(srv));
	assert_ok(ecr_registry_open(&remote, url, NULL));

	ecr_buf out = ECR_BUF_INIT;
	assert_ok(
	    put(&out, remote, "{'prefix':'rem','appliedFor':['CREATE_ON_PUSH'],'imageTagMutability':'IMMUTABLE'}", 1));
	ecr__json *t = parse(&out);
	assert_string_equal(ecr__json_get_string(t, "prefix"), "rem");
	assert_non_null(ecr__json_get(t, "createdAt"));
	ecr__json_free(t);
	assert_int_equal(put(NULL, remote, "{'prefix':'rem','appliedFor':['CREATE_ON_PUSH']}", 1),
	                 ECR_ETEMPLATE_EXISTS);
	assert_int_equal(put(NULL, remote, "{'prefix':'none','description':'x'}", 0), ECR_ETEMPLATE_NOT_FOUND);
	assert_int_equal(put(NULL, remote, "{'prefix':'x','appliedFor':['NOPE']}", 1), ECR_EVALIDATION);
	assert_ok(put(&out, remote, "{'prefix':'rem','description':'over http'}", 0));
	t = parse(&out);
	assert_string_equal(ecr__json_get_string(t, "description"), "over http");
	assert_string_equal(ecr__json_get_string(t, "imageTagMutability"), "IMMUTABLE");
	ecr__json_free(t);
	char json[64];
	for (int i = 0; i < 5; i++) {
		snprintf(json, sizeof(json), "{'prefix':'more%d','appliedFor':['REPLICATION']}", i);
		assert_ok(put(NULL, remote, json, 1));
	}
	/* the local registry sees them */
	assert_ok(ecr_registry_creation_templates(&out, reg, NULL, 0));
	t = parse(&out);
	assert_int_equal(t->count, 6);
	ecr__json_free(t);
	assert_ok(ecr_registry_creation_templates(&out, remote, NULL, 0));
	t = parse(&out);
	assert_int_equal(t->count, 6);
	assert_string_equal(ecr__json_get_string(t->values[5], "prefix"), "rem");
	ecr__json_free(t);
	const char *some[] = {"rem", "more3"};
	assert_ok(ecr_registry_creation_templates(&out, remote, some, 2));
	t = parse(&out);
	assert_int_equal(t->count, 2);
	ecr__json_free(t);
	const char *missing[] = {"rem", "nope"};
	assert_int_equal(ecr_registry_creation_templates(&out, remote, missing, 2), ECR_ETEMPLATE_NOT_FOUND);
	/* the remote's template applies (read with DescribeRepositoryCreationTemplates: a remote CreateRepository
	 * applies none by itself), only for its appliedFor */
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_create_templated(&repo, remote, "rem/app", ECR_TEMPLATE_CREATE_ON_PUSH));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_IMMUTABLE);
	ecr_repository_free(repo);
	repo = NULL;
	assert_ok(ecr_repository_create_templated(&repo, remote, "rem/other", ECR_TEMPLATE_REPLICATION));
	assert_int_equal(ecr_repository_tag_mutability(repo), ECR_TAG_MUTABLE);
	ecr_repository_free(repo);
	assert_ok(ecr_registry_delete_creation_template(&out, remote, "rem"));
	t = parse(&out);
	assert_string_equal(ecr__json_get_string(t, "description"), "over http");
	ecr__json_free(t);
	assert_int_equal(ecr_registry_delete_creation_template(NULL, remote, "rem"), ECR_ETEMPLATE_NOT_FOUND);

	ecr_buf_dispose(&out);
	ecr_registry_free(remote);
	ecr_server_stop(srv);
	ecr_server_free(srv);
	ecr_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replication_templates__validation),
	    cmocka_unit_test(test_replication_templates__crud),
	    cmocka_unit_test(test_replication_templates__limit_and_persistence),
	    cmocka_unit_test(test_replication_templates__prefix_matching),
	    cmocka_unit_test(test_replication_templates__applies_every_setting),
	    cmocka_unit_test(test_replication_templates__all_or_nothing),
	    cmocka_unit_test(test_replication_templates__create_on_push),
	    cmocka_unit_test(test_replication_templates__remote),
	};
	return cmocka_run_group_tests_name("replication/templates", tests, NULL, NULL);
}
