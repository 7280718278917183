/* ecr_lifecycle_policy: validation (every rule of ecr-api.md 8.1 with its
 * message), the worked examples of 8.5 as tables with the expected decision
 * per image, referrers and indexes, and a property test over random image sets
 * and random valid policies. Policies in the tables use ' for " (converted
 * before parsing). */
#include "../helpers/helpers.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY INT64_C(86400000)
#define NOW INT64_C(1750000000000)

static char *dequote(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static int parse(ecr_lifecycle_policy **out, const char *quoted)
{
	char *doc = dequote(quoted);
	int rc = ecr_lifecycle_policy_parse(out, doc, strlen(doc));
	free(doc);
	return rc;
}

/* A rule: priority, selection members, action members. */
#define R(prio, sel, act) "{'rulePriority':" #prio ",'description':'a rule','selection':{" sel "},'action':{" act "}}"
#define POL(rules) "{'rules':[" rules "]}"
#define EXP "'type':'expire'"
#define ARC "'type':'transition','targetStorageClass':'archive'"
#define CNT(n) "'countType':'imageCountMoreThan','countNumber':" #n
#define PUSHED(n) "'countType':'sinceImagePushed','countUnit':'days','countNumber':" #n
#define PULLED(n) "'countType':'sinceImagePulled','countUnit':'days','countNumber':" #n
#define TRANS(n) "'storageClass':'archive','countType':'sinceImageTransitioned','countUnit':'days','countNumber':" #n
#define TAGGED(list) "'tagStatus':'tagged','tagPatternList':[" list "],"
#define PREFIX(list) "'tagStatus':'tagged','tagPrefixList':[" list "],"
#define UNTAGGED "'tagStatus':'untagged',"
#define ANY "'tagStatus':'any',"

#define PFX                                                                                                            \
	"Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation "       \
	"failure: "

/* --- validation --- */

struct parse_case {
	const char *doc;
	const char *message; /* NULL: valid; else a part of the message */
};

static const struct parse_case parse_cases[] = {
    /* valid */
    {POL(R(1, TAGGED("'prod*'") CNT(1), EXP)), NULL},
    {POL(R(1, PREFIX("'prod','v'") CNT(3), EXP) "," R(2, UNTAGGED PUSHED(14), EXP) "," R(3, ANY CNT(100), EXP)), NULL},
    {POL(R(1, ANY PULLED(90), ARC) "," R(2, ANY TRANS(365), EXP)), NULL},
    {POL(R(2, ANY TRANS(90), EXP) "," R(1, ANY PULLED(90), ARC)), NULL},
    {POL(R(1, TAGGED("'a*b*c*d*'") CNT(1), ARC) "," R(2, UNTAGGED TRANS(100), EXP) "," R(3, UNTAGGED CNT(1), EXP)),
     NULL},
    {POL(R(10, TAGGED("'x'") "'storageClass':'standard'," PUSHED(1), EXP) "," R(5, TAGGED("'*'") CNT(2147483647), EXP)),
     NULL},
    {"{'rules':[{'rulePriority':7,'selection':{'tagStatus':'untagged','countType':'imageCountMoreThan',"
     "'countNumber':1},'action':{'type':'expire'}}]}",
     NULL},

    /* size */
    {"{'rules':[]}", "'Member must have length greater than or equal to 100'"},
    /* JSON */
    {"{'rules':[" R(1, ANY CNT(1), EXP) ",]}", PFX "Invalid JSON"},
    {"{'rules':[" R(1, ANY CNT(1), EXP) "],'rules':[" R(1, ANY CNT(1), EXP) "]}", PFX "Invalid JSON"},
    /* the document */
    {"[" R(1, ANY CNT(1), EXP) "," R(2, ANY CNT(1), EXP) "]",
     PFX "instance type (array) does not match any allowed primitive type (allowed: [\"object\"])'"},
    {"{'rules':[" R(1, ANY CNT(1), EXP) "],'x':1,'a':2}",
     PFX "object instance has properties which are not allowed by the schema: ([\"a\",\"x\"])'"},
    {"{'ruls':[" R(1, ANY CNT(1), EXP) "]}",
     PFX "object instance has properties which are not allowed by the schema: ([\"ruls\"])'"},
    {"{'description':'no rules at all in this document, which is long enough to be checked for its rules'}",
     PFX "object instance has properties which are not allowed by the schema: ([\"description\"])'"},
    {"{'rules':{'rulePriority':1,'selection':{'tagStatus':'any','countType':'imageCountMoreThan','countNumber':1}}}",
     PFX "instance type (object) does not match any allowed primitive type (allowed: [\"array\"])'"},
    {"{'rules':[],'padding':0}                                                                                    ",
     PFX "object instance has properties which are not allowed by the schema: ([\"padding\"])'"},
    {"{'rules':[]}                                                                                                ",
     PFX "array is too short: must have at least 1 elements but instance has 0 elements'"},
    /* a rule */
    {POL("{'rulePriority':1,'foo':1,'selection':{'tagStatus':'any','countType':'imageCountMoreThan','countNumber':1},"
         "'action':{'type':'expire'}}"),
     PFX "object instance has properties which are not allowed by the schema: ([\"foo\"])'"},
    {POL("{'rulePriority':1,'selection':{'tagStatus':'any','countType':'imageCountMoreThan','countNumber':1}}"),
     PFX "object has missing required properties ([\"action\"])'"},
    {POL("{'rulePriority':1,'description':'nothing else in this rule, just a description of what it does'}"),
     PFX "object has missing required properties ([\"action\",\"selection\"])'"},
    {POL("{'selection':{'tagStatus':'any','countType':'imageCountMoreThan','countNumber':1},'action':{'type':'expire'}"
         "}"),
     PFX "object has missing required properties ([\"rulePriority\"])'"},
    {POL("'a rule that is a string and not an object, long enough to pass the size check of the policy'"),
     PFX "instance type (string) does not match any allowed primitive type (allowed: [\"object\"])'"},
    {POL(R(0, ANY CNT(1), EXP)), PFX "numeric instance is lower than the required minimum (minimum: 1, found: 0)'"},
    {POL(R(-4, ANY CNT(1), EXP)), PFX "numeric instance is lower than the required minimum (minimum: 1, found: -4)'"},
    {POL(R(2147483648, ANY CNT(1), EXP)),
     PFX "numeric instance is greater than the required maximum (maximum: 2147483647, found: 2147483648)'"},
    {POL(R('1', ANY CNT(1), EXP)),
     PFX "instance type (string) does not match any allowed primitive type (allowed: [\"integer\"])'"},
    {POL("{'rulePriority':1,'description':7,'selection':{" ANY CNT(1) "},'action':{" EXP "}}"),
     PFX "instance type (integer) does not match any allowed primitive type (allowed: [\"string\"])'"},
    /* selection */
    {POL(R(1, ANY CNT(1) ",'countDays':3", EXP)),
     PFX "object instance has properties which are not allowed by the schema: ([\"countDays\"])'"},
    {POL(R(1, "'tagStatus':'any','countType':'imageCountMoreThan'", EXP)),
     PFX "object has missing required properties ([\"countNumber\"])'"},
    {POL(R(1, "'countNumber':3", EXP)), PFX "object has missing required properties ([\"countType\",\"tagStatus\"])'"},
    {POL(R(1, "'tagStatus':'bogus'," CNT(1), EXP)),
     PFX "instance value (bogus) not found in enum :(possible values: [\"any\", \"tagged\", \"untagged\"])'"},
    {POL(R(1, "'tagStatus':'TAGGED','tagPrefixList':['a']," CNT(1), EXP)),
     PFX "instance value (TAGGED) not found in enum :(possible values: [\"any\", \"tagged\", \"untagged\"])'"},
    {POL(R(1, "'tagStatus':1," CNT(1), EXP)),
     PFX "instance type (integer) does not match any allowed primitive type (allowed: [\"string\"])'"},
    {POL(R(1, ANY "'countType':'sinceImageCreated','countNumber':1", EXP)),
     PFX "instance value (sinceImageCreated) not found in enum :(possible values: [\"imageCountMoreThan\", "
         "\"sinceImagePulled\", \"sinceImagePushed\", \"sinceImageTransitioned\"])'"},
    {POL(R(1, ANY "'countType':'sinceImagePushed','countUnit':'hours','countNumber':1", EXP)),
     PFX "instance value (hours) not found in enum :(possible values: [\"days\"])'"},
    {POL(R(1, ANY "'storageClass':'glacier'," PUSHED(1), EXP)),
     PFX "instance value (glacier) not found in enum :(possible values: [\"archive\", \"standard\"])'"},
    {POL(R(1, ANY CNT(0), EXP)), PFX "numeric instance is lower than the required minimum (minimum: 1, found: 0)'"},
    {POL(R(1, ANY CNT(-1), EXP)), PFX "numeric instance is lower than the required minimum (minimum: 1, found: -1)'"},
    {POL(R(1, ANY CNT(1.5), EXP)),
     PFX "instance type (number) does not match any allowed primitive type (allowed: [\"integer\"])'"},
    {POL(R(1, ANY CNT('5'), EXP)),
     PFX "instance type (string) does not match any allowed primitive type (allowed: [\"integer\"])'"},
    {POL(R(1, "'tagStatus':'tagged','tagPrefixList':[]," CNT(1), EXP)),
     PFX "array is too short: must have at least 1 elements but instance has 0 elements'"},
    {POL(R(1, "'tagStatus':'tagged','tagPrefixList':'prod'," CNT(1), EXP)),
     PFX "instance type (string) does not match any allowed primitive type (allowed: [\"array\"])'"},
    {POL(R(1, "'tagStatus':'tagged','tagPatternList':[3]," CNT(1), EXP)),
     PFX "instance type (integer) does not match any allowed primitive type (allowed: [\"string\"])'"},
    {POL(R(1, "'tagStatus':'tagged','tagPatternList':['']," CNT(1), EXP)),
     PFX "string \"\" is too short (length: 0, required minimum: 1)'"},
    /* action */
    {POL(R(1, ANY CNT(1), "'type':'delete'")),
     PFX "instance value (delete) not found in enum :(possible values: [\"expire\", \"transition\"])'"},
    {POL(R(1, ANY CNT(1), "'type':'transition','targetStorageClass':'standard'")),
     PFX "instance value (standard) not found in enum :(possible values: [\"archive\"])'"},
    {POL(R(1, ANY CNT(1), "'targetStorageClass':'archive'")),
     PFX "object has missing required properties ([\"type\"])'"},
    {POL(R(1, ANY CNT(1), EXP ",'when':'now'")),
     PFX "object instance has properties which are not allowed by the schema: ([\"when\"])'"},
    /* rules of the grammar beyond the schema */
    {POL(R(1, TAGGED("'a*'") CNT(1), EXP) "," R(1, TAGGED("'b*'") CNT(1), EXP)),
     PFX "rulePriority 1 is used by more than one rule: rulePriority must be unique'"},
    {POL(R(1, ANY CNT(1), EXP) "," R(2, TAGGED("'b*'") CNT(1), EXP)),
     PFX "the rule with tagStatus 'any' must have the highest rulePriority of its storage class and be evaluated "
         "last (rulePriority 1 is not)'"},
    {POL(R(3, ANY CNT(1), EXP) "," R(2, ANY PUSHED(1), EXP)),
     PFX "the rule with tagStatus 'any' must have the highest rulePriority of its storage class"},
    {POL(R(1, UNTAGGED CNT(1), EXP) "," R(2, UNTAGGED PUSHED(3), EXP)),
     PFX "only one rule per storage class can select untagged images (tagStatus 'untagged')'"},
    {POL(R(1, UNTAGGED TRANS(90), EXP) "," R(2, UNTAGGED TRANS(95), EXP)),
     PFX "only one rule per storage class can select untagged images"},
    {POL(R(1, "'tagStatus':'tagged','tagPrefixList':['a'],'tagPatternList':['b*']," CNT(1), EXP)),
     PFX "tagPrefixList and tagPatternList cannot both be specified in one rule'"},
    {POL(R(1, "'tagStatus':'untagged','tagPrefixList':['a']," CNT(1), EXP)),
     PFX "tagPrefixList can only be specified when tagStatus is set to 'tagged''"},
    {POL(R(1, "'tagStatus':'any','tagPatternList':['a*']," CNT(1), EXP)),
     PFX "tagPatternList can only be specified when tagStatus is set to 'tagged''"},
    {POL(R(1, "'tagStatus':'tagged'," CNT(1), EXP)),
     PFX "tagPrefixList or tagPatternList must be specified when tagStatus is set to 'tagged''"},
    {POL(R(1, TAGGED("'a*b*c*d*e*'") CNT(1), EXP)),
     PFX "tagPatternList entry \"a*b*c*d*e*\" has more than 4 wildcards (*)'"},
    {POL(R(1, ANY PULLED(30), EXP)),
     PFX "countType 'sinceImagePulled' can only be used with the action type 'transition''"},
    {POL(R(1, ANY "'countType':'sinceImageTransitioned','countUnit':'days','countNumber':100", EXP)),
     PFX "countType 'sinceImageTransitioned' requires storageClass 'archive''"},
    {POL(R(1, ANY TRANS(100), ARC)),
     PFX "countType 'sinceImageTransitioned' can only be used with the action type 'expire''"},
    {POL(R(1, ANY TRANS(89), EXP)), PFX "archived images cannot be expired before 90 days (countNumber 89)'"},
    {POL(R(1, ANY "'storageClass':'archive'," PUSHED(100), EXP)),
     PFX "storageClass 'archive' can only be used with countType 'sinceImageTransitioned''"},
    {POL(R(1, ANY CNT(1) ",'countUnit':'days'", EXP)),
     PFX "countUnit cannot be specified when countType is set to 'imageCountMoreThan''"},
    {POL(R(1, ANY "'countType':'sinceImagePushed','countNumber':1", EXP)),
     PFX "countUnit must be specified when countType is set to 'sinceImagePushed''"},
    {POL(R(1, ANY "'countType':'sinceImagePulled','countNumber':1", ARC)),
     PFX "countUnit must be specified when countType is set to 'sinceImagePulled''"},
    {POL(R(1, ANY CNT(1), "'type':'transition'")),
     PFX "targetStorageClass must be specified when the action type is 'transition''"},
    {POL(R(1, ANY CNT(1), EXP ",'targetStorageClass':'archive'")),
     PFX "targetStorageClass can only be specified when the action type is 'transition''"},
};

static void test_lifecycle_lifecycle__parse_table(void **state)
{
	(void)state;
	size_t valid = 0, invalid = 0;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		ecr_lifecycle_policy *p = (ecr_lifecycle_policy *)&valid; /* must be reset to NULL on failure */
		int rc = parse(&p, c->doc);
		if (!c->message) {
			if (rc != 0)
				fail_msg("case %zu should parse: %s", i, ecr_error_last()->message);
			assert_true(ecr_lifecycle_policy_rule_count(p) >= 1);
			ecr_lifecycle_policy_free(p);
			valid++;
			continue;
		}
		if (rc != ECR_EINVALID)
			fail_msg("case %zu: rc %d, wanted ECR_EINVALID", i, rc);
		assert_null(p);
		const char *m = ecr_error_last()->message;
		if (!strstr(m, c->message))
			fail_msg("case %zu: message\n  %s\nlacks\n  %s", i, m, c->message);
		assert_true(
		    strncmp(m, "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '", 73) == 0);
		invalid++;
	}
	printf("# lifecycle parse table: %zu valid, %zu invalid\n", valid, invalid);
}

static void test_lifecycle_lifecycle__limits(void **state)
{
	(void)state;
	ecr_lifecycle_policy *p = NULL;
	static char big[80000];

	/* exactly 30720 characters parses; one more does not */
	const char *head = "{\"rules\":[{\"rulePriority\":1,\"description\":\"";
	const char *tail =
	    "\",\"selection\":{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":1},"
	    "\"action\":{\"type\":\"expire\"}}]}";
	size_t fixed = strlen(head) + strlen(tail), pad = 30720 - fixed;
	snprintf(big, 80000, "%s%*s%s", head, (int)pad, "", tail);
	assert_int_equal(strlen(big), 30720);
	assert_ok(ecr_lifecycle_policy_parse(&p, big, strlen(big)));
	ecr_lifecycle_policy_free(p);
	snprintf(big, 80000, "%s%*s%s", head, (int)pad + 1, "", tail);
	assert_int_equal(ecr_lifecycle_policy_parse(&p, big, strlen(big)), ECR_EINVALID);
	assert_string_equal(ecr_error_last()->message,
	                    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy "
	                    "constraint: 'Member must have length less than or equal to 30720'");
	/* characters, not bytes: 20000 characters, most of them two bytes long */
	size_t n = (size_t)snprintf(big, 80000, "%s", head);
	for (size_t i = 0; i < 20000 - fixed; i++) {
		big[n++] = (char)0xC3;
		big[n++] = (char)0xA9; /* é */
	}
	n += (size_t)snprintf(big + n, 80000 - n, "%s", tail);
	assert_true(n > 30720);
	assert_ok(ecr_lifecycle_policy_parse(&p, big, n));
	ecr_lifecycle_policy_free(p);
	/* 99 characters */
	memset(big, ' ', 99);
	assert_int_equal(ecr_lifecycle_policy_parse(&p, big, 99), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "greater than or equal to 100"));

	/* 50 rules parse, 51 do not */
	for (int rules = 50; rules <= 51; rules++) {
		n = (size_t)snprintf(big, 80000, "{\"rules\":[");
		for (int i = 1; i <= rules; i++)
			n += (size_t)snprintf(big + n, 80000 - n,
			                      "%s{\"rulePriority\":%d,\"selection\":{\"tagStatus\":\"tagged\","
			                      "\"tagPrefixList\":[\"p%d\"],"
			                      "\"countType\":\"imageCountMoreThan\",\"countNumber\":%d},\"action\":{"
			                      "\"type\":\"expire\"}}",
			                      i > 1 ? "," : "", i * 3, i, i);
		n += (size_t)snprintf(big + n, 80000 - n, "]}");
		int rc = ecr_lifecycle_policy_parse(&p, big, n);
		if (rules == 50) {
			assert_ok(rc);
			assert_int_equal(ecr_lifecycle_policy_rule_count(p), 50);
			ecr_lifecycle_policy_free(p);
		} else {
			assert_int_equal(rc, ECR_EINVALID);
			assert_string_equal(
			    ecr_error_last()->message,
			    PFX "array is too long: must have at most 50 elements but instance has 51 elements'");
		}
	}
	/* NUL inside a pattern */
	const char nul[] =
	    "{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"tagged\",\"tagPatternList\":"
	    "[\"a\\u0000b\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":"
	    "\"expire\"}}]}";
	assert_int_equal(ecr_lifecycle_policy_parse(&p, nul, sizeof(nul) - 1), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "NUL"));
	/* arguments */
	assert_int_equal(ecr_lifecycle_policy_parse(NULL, nul, sizeof(nul) - 1), ECR_EINVALID);
	assert_int_equal(ecr_lifecycle_policy_parse(&p, NULL, 5), ECR_EINVALID);
	assert_int_equal(ecr_lifecycle_policy_rule_count(NULL), 0);
	ecr_lifecycle_policy_free(NULL);
}

/* --- tables of images --- */

struct img {
	const char *name;                           /* digest "sha256:<name>" */
	const char *tags;                           /* comma-separated, "" for none */
	double pushed, pulled, archived, activated; /* days ago; 0: never (pushed: now) */
	int archive;                                /* storage class ARCHIVE */
	const char *parents;                        /* comma-separated names */
	const char *subject;                        /* a name, or NULL */
	char want;                                  /* K, E, T */
	uint32_t prio;                              /* the deciding rule */
};

#define MAXI 16

struct built {
	ecr_lifecycle_image v[MAXI];
	char digests[MAXI][80];
	char subjects[MAXI][80];
	char *tagbuf[MAXI];
	const char *tags[MAXI][8];
	char *parentbuf[MAXI];
	char parent_digests[MAXI][4][80];
	const char *parents[MAXI][4];
};

static int64_t ago(double days)
{
	return days == 0 ? 0 : NOW - (int64_t)(days * (double)DAY);
}

static void build(struct built *b, const struct img *imgs, size_t n)
{
	memset(b, 0, sizeof(*b));
	assert_true(n <= MAXI);
	for (size_t i = 0; i < n; i++) {
		ecr_lifecycle_image *m = &b->v[i];
		snprintf(b->digests[i], 80, "sha256:%s", imgs[i].name);
		m->digest = b->digests[i];
		b->tagbuf[i] = strdup(imgs[i].tags);
		for (char *save = NULL, *t = strtok_r(b->tagbuf[i], ",", &save); t; t = strtok_r(NULL, ",", &save))
			b->tags[i][m->tags_count++] = t;
		m->tags = b->tags[i];
		m->pushed_at = imgs[i].pushed ? ago(imgs[i].pushed) : NOW;
		m->last_pulled_at = ago(imgs[i].pulled);
		m->last_archived_at = ago(imgs[i].archived);
		m->last_activated_at = ago(imgs[i].activated);
		m->storage_class = imgs[i].archive ? ECR_STORAGE_CLASS_ARCHIVE : ECR_STORAGE_CLASS_STANDARD;
		if (imgs[i].parents) {
			b->parentbuf[i] = strdup(imgs[i].parents);
			for (char *save = NULL, *t = strtok_r(b->parentbuf[i], ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				snprintf(b->parent_digests[i][m->parents_count], 80, "sha256:%s", t);
				b->parents[i][m->parents_count] = b->parent_digests[i][m->parents_count];
				m->parents_count++;
			}
			m->parents = b->parents[i];
		}
		if (imgs[i].subject) {
			snprintf(b->subjects[i], 80, "sha256:%s", imgs[i].subject);
			m->subject = b->subjects[i];
		}
	}
}

static void unbuild(struct built *b)
{
	for (size_t i = 0; i < MAXI; i++) {
		free(b->tagbuf[i]);
		free(b->parentbuf[i]);
	}
}

struct decision {
	size_t calls;
	size_t next;
	ecr_lifecycle_action action[256];
	uint32_t prio[256];
};

static int collect(size_t index, ecr_lifecycle_action action, uint32_t rule_priority, void *payload)
{
	struct decision *d = payload;
	if (index != d->next || index >= 256)
		return -1000; /* out of order or twice */
	d->next++;
	d->calls++;
	d->action[index] = action;
	d->prio[index] = rule_priority;
	return 0;
}

struct example {
	const char *name;
	const char *policy;
	struct img images[MAXI];
};

/* Repository R1 of the reference */
#define R1(a, pa, b, pb, c, pc)                                                                                        \
	{"A", "beta-1,prod-1", 10, 0, 0, 0, 0, NULL, NULL, a, pa},                                                     \
	    {"B", "beta-2,prod-2", 9, 0, 0, 0, 0, NULL, NULL, b, pb},                                                  \
	{                                                                                                              \
		"C", "beta-3", 8, 0, 0, 0, 0, NULL, NULL, c, pc                                                        \
	}

static const struct example examples[] = {
    {"Ex 1",
     POL(R(1, TAGGED("'prod*'") CNT(1), EXP) "," R(2, TAGGED("'beta*'") CNT(1), EXP)),
     {R1('E', 1, 'K', 0, 'K', 0)}},
    {"Ex 1 (prefix lists)",
     POL(R(1, PREFIX("'prod'") CNT(1), EXP) "," R(2, PREFIX("'beta'") CNT(1), EXP)),
     {R1('E', 1, 'K', 0, 'K', 0)}},
    {"Ex 2",
     POL(R(1, TAGGED("'beta*'") CNT(1), EXP) "," R(2, TAGGED("'prod*'") CNT(1), EXP)),
     {R1('E', 1, 'E', 1, 'K', 0)}},
    {"Ex 3",
     POL(R(1, TAGGED("'alpha*','beta*'") PUSHED(5), EXP)),
     {
         {"A", "alpha-1", 12, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"B", "beta-1", 11, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"C", "alpha-2,beta-2", 10, 0, 0, 0, 0, NULL, NULL, 'E', 1},
         {"D", "alpha-3", 4, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"E", "beta-3", 3, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"F", "alpha-4,beta-4", 2, 0, 0, 0, 0, NULL, NULL, 'K', 0},
     }},
    {"Ex 3 variant",
     POL(R(1, TAGGED("'alpha*','beta*'") CNT(1), EXP)),
     {
         {"A", "alpha-1,beta-1,gamma-1", 10, 0, 0, 0, 0, NULL, NULL, 'E', 1},
         {"B", "alpha-2,beta-2", 9, 0, 0, 0, 0, NULL, NULL, 'E', 1},
         {"C", "alpha-3,beta-3,gamma-2", 8, 0, 0, 0, 0, NULL, NULL, 'K', 0},
     }},
    /* D and E were both pushed a day ago; the docs keep E, the newer: E is pushed a minute later here */
    {"Ex 4",
     POL(R(1, TAGGED("'alpha*'") CNT(1), EXP) "," R(2, UNTAGGED PUSHED(1), EXP) "," R(3, ANY CNT(1), EXP)),
     {
         {"A", "alpha-1,beta-1", 4, 0, 0, 0, 0, NULL, NULL, 'E', 1},
         {"B", "", 3, 0, 0, 0, 0, NULL, NULL, 'E', 2},
         {"C", "alpha-2", 2, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"D", "git hash", 1.0 + 1.0 / 1440, 0, 0, 0, 0, NULL, NULL, 'E', 3},
         {"E", "", 1, 0, 0, 0, 0, NULL, NULL, 'K', 0},
     }},
    {"Ex 5",
     POL(R(1, ANY PULLED(90), ARC) "," R(2, ANY TRANS(365), EXP)),
     {
         {"never-pulled", "a", 100, 0, 0, 0, 0, NULL, NULL, 'T', 1},
         {"pulled-recently", "b", 100, 10, 0, 0, 0, NULL, NULL, 'K', 0},
         {"pulled-long-ago", "", 300, 95, 0, 0, 0, NULL, NULL, 'T', 1},
         {"young", "", 80, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"restored", "", 200, 0, 60, 30, 0, NULL, NULL, 'K', 0},
         {"restored-pulled-before", "", 300, 95, 120, 10, 0, NULL, NULL, 'K', 0},
         {"restored-long-ago", "", 400, 200, 300, 100, 0, NULL, NULL, 'T', 1},
         {"archived-year", "c", 800, 0, 400, 0, 1, NULL, NULL, 'E', 2},
         {"archived-100d", "", 800, 0, 100, 0, 1, NULL, NULL, 'K', 0},
         {"archived-pulled", "", 800, 500, 366, 0, 1, NULL, NULL, 'E', 2},
     }},
    /* indexes, their children and referrers */
    {"index+referrers",
     POL(R(1, PREFIX("'v'") CNT(1), EXP) "," R(2, UNTAGGED PUSHED(1), EXP)),
     {
         {"i1", "v1", 10, 0, 0, 0, 0, NULL, NULL, 'E', 1},
         {"c1a", "", 10, 0, 0, 0, 0, "i1", NULL, 'E', 2},
         {"c1b", "", 10, 0, 0, 0, 0, "i1", NULL, 'E', 2},
         {"i2", "v2", 5, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"c2", "", 5, 0, 0, 0, 0, "i2", NULL, 'K', 0},
         {"shared", "", 10, 0, 0, 0, 0, "i1,i2", NULL, 'K', 0},
         {"sig1", "", 9, 0, 0, 0, 0, NULL, "i1", 'E', 1},
         {"sig2", "", 4, 0, 0, 0, 0, NULL, "i2", 'K', 0},
         {"sigsig", "", 3, 0, 0, 0, 0, NULL, "sig1", 'E', 1},
         {"sbom-c2", "", 3, 0, 0, 0, 0, NULL, "c2", 'K', 0},
         {"orphan", "", 20, 0, 0, 0, 0, NULL, NULL, 'E', 2},
         {"dangling", "", 20, 0, 0, 0, 0, NULL, "missing", 'E', 2},
         {"loop-a", "", 20, 0, 0, 0, 0, NULL, "loop-b", 'E', 2},
         {"loop-b", "", 20, 0, 0, 0, 0, NULL, "loop-a", 'E', 2},
     }},
    /* a tagged referrer is no image of its own: the rule that would select it does not count it */
    {"referrer not counted",
     POL(R(1, PREFIX("'sig'") CNT(1), EXP) "," R(2, ANY PUSHED(1000), EXP)),
     {
         {"img", "app", 10, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"sig-a", "sig-a", 9, 0, 0, 0, 0, NULL, "img", 'K', 0},
         {"sig-b", "sig-b", 8, 0, 0, 0, 0, NULL, "img", 'K', 0},
         {"other", "sig-c", 30, 0, 0, 0, 0, NULL, NULL, 'K', 0},
     }},
    /* a transitioned subject takes its STANDARD referrers along; a child is archived only if its index is acted on */
    {"transition follows",
     POL(R(1, TAGGED("'old*'") PUSHED(30), ARC) "," R(2, UNTAGGED PUSHED(30), ARC)),
     {
         {"idx", "old-1", 40, 0, 0, 0, 0, NULL, NULL, 'T', 1},
         {"child", "", 40, 0, 0, 0, 0, "idx", NULL, 'T', 2},
         {"sig", "", 39, 0, 0, 0, 0, NULL, "idx", 'T', 1},
         {"keep", "new-1", 40, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"keep-child", "", 40, 0, 0, 0, 0, "keep", NULL, 'K', 0},
     }},
    /* equal push times: the smaller digest counts as the younger */
    {"ties by digest",
     POL(R(1, ANY CNT(2), EXP)),
     {
         {"ccc", "", 5, 0, 0, 0, 0, NULL, NULL, 'E', 1},
         {"aaa", "", 5, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"bbb", "", 5, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"ddd", "", 5, 0, 0, 0, 0, NULL, NULL, 'E', 1},
     }},
    /* storage classes: a standard rule never touches archived images; exactly N days is not older than N */
    {"classes and bounds",
     POL(R(1, ANY PUSHED(10), EXP) "," R(2, ANY TRANS(90), EXP)),
     {
         {"std-old", "", 11, 0, 0, 0, 0, NULL, NULL, 'E', 1},
         {"std-10d", "", 10, 0, 0, 0, 0, NULL, NULL, 'K', 0},
         {"arc-old", "", 500, 0, 91, 0, 1, NULL, NULL, 'E', 2},
         {"arc-90d", "", 500, 0, 90, 0, 1, NULL, NULL, 'K', 0},
         {"arc-no-time", "", 500, 0, 0, 0, 1, NULL, NULL, 'K', 0},
     }},
};

static void run_example(const struct example *ex, const char *label, int reverse)
{
	ecr_lifecycle_policy *p = NULL;
	struct built b;
	struct decision d;
	size_t n = 0;
	struct img imgs[MAXI];

	while (n < MAXI && ex->images[n].name)
		n++;
	for (size_t i = 0; i < n; i++)
		imgs[i] = ex->images[reverse ? n - 1 - i : i];
	if (parse(&p, ex->policy) != 0)
		fail_msg("%s: %s", ex->name, ecr_error_last()->message);
	build(&b, imgs, n);
	memset(&d, 0, sizeof(d));
	assert_ok(ecr_lifecycle_policy_evaluate(p, b.v, n, NOW, collect, &d));
	assert_int_equal(d.calls, n);
	for (size_t i = 0; i < n; i++) {
		char got = d.action[i] == ECR_LIFECYCLE_EXPIRE       ? 'E'
		           : d.action[i] == ECR_LIFECYCLE_TRANSITION ? 'T'
		                                                     : 'K';
		if (got != imgs[i].want || d.prio[i] != imgs[i].prio)
			fail_msg("%s (%s): image %s: got %c by rule %u, wanted %c by rule %u", ex->name, label,
			         imgs[i].name, got, d.prio[i], imgs[i].want, imgs[i].prio);
	}
	unbuild(&b);
	ecr_lifecycle_policy_free(p);
}

static void test_lifecycle_lifecycle__examples(void **state)
{
	(void)state;
	size_t images = 0;
	for (size_t e = 0; e < sizeof(examples) / sizeof(examples[0]); e++) {
		run_example(&examples[e], "in order", 0);
		run_example(&examples[e], "reversed", 1);
		for (size_t i = 0; i < MAXI && examples[e].images[i].name; i++)
			images++;
	}
	printf("# lifecycle examples: %zu tables, %zu images, each in two orders\n",
	       sizeof(examples) / sizeof(examples[0]), images);
}

static int stop_at_two(size_t index, ecr_lifecycle_action action, uint32_t rule_priority, void *payload)
{
	(void)action;
	(void)rule_priority;
	*(size_t *)payload = index;
	return index == 2 ? 42 : 0;
}

static void test_lifecycle_lifecycle__evaluate_checks(void **state)
{
	(void)state;
	ecr_lifecycle_policy *p = NULL;
	struct built b;
	struct decision d;
	size_t last = 0;
	const struct img imgs[] = {
	    {"a", "x", 3, 0, 0, 0, 0, NULL, NULL, 'K', 0},
	    {"b", "", 2, 0, 0, 0, 0, NULL, NULL, 'K', 0},
	    {"c", "", 1, 0, 0, 0, 0, NULL, NULL, 'K', 0},
	    {"d", "", 1, 0, 0, 0, 0, NULL, NULL, 'K', 0},
	};
	assert_ok(parse(&p, POL(R(1, ANY CNT(1), EXP))));
	build(&b, imgs, 4);

	/* the callback's return stops the evaluation and is returned */
	assert_int_equal(ecr_lifecycle_policy_evaluate(p, b.v, 4, NOW, stop_at_two, &last), 42);
	assert_int_equal(last, 2);
	/* no images: no calls */
	memset(&d, 0, sizeof(d));
	assert_ok(ecr_lifecycle_policy_evaluate(p, NULL, 0, NOW, collect, &d));
	assert_int_equal(d.calls, 0);
	/* bad input */
	assert_int_equal(ecr_lifecycle_policy_evaluate(NULL, b.v, 4, NOW, collect, &d), ECR_EINVALID);
	assert_int_equal(ecr_lifecycle_policy_evaluate(p, NULL, 4, NOW, collect, &d), ECR_EINVALID);
	assert_int_equal(ecr_lifecycle_policy_evaluate(p, b.v, 4, NOW, NULL, &d), ECR_EINVALID);
	b.v[3].digest = b.v[0].digest;
	assert_int_equal(ecr_lifecycle_policy_evaluate(p, b.v, 4, NOW, collect, &d), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "twice"));
	b.v[3].digest = NULL;
	assert_int_equal(ecr_lifecycle_policy_evaluate(p, b.v, 4, NOW, collect, &d), ECR_EINVALID);
	b.v[3].digest = b.digests[3];
	b.v[1].tags_count = 1; /* tags NULL */
	b.v[1].tags = NULL;
	assert_int_equal(ecr_lifecycle_policy_evaluate(p, b.v, 4, NOW, collect, &d), ECR_EINVALID);
	b.v[1].tags_count = 0;
	b.v[2].storage_class = (ecr_storage_class)7;
	assert_int_equal(ecr_lifecycle_policy_evaluate(p, b.v, 4, NOW, collect, &d), ECR_EINVALID);
	b.v[2].storage_class = ECR_STORAGE_CLASS_STANDARD;
	/* extreme times do not overflow */
	b.v[0].pushed_at = INT64_MIN;
	b.v[1].pushed_at = INT64_MAX;
	memset(&d, 0, sizeof(d));
	assert_ok(ecr_lifecycle_policy_evaluate(p, b.v, 4, INT64_MAX, collect, &d));
	assert_int_equal(d.action[1], ECR_LIFECYCLE_KEEP); /* the youngest */
	ecr_lifecycle_policy_free(p);

	assert_ok(parse(&p, POL(R(1, ANY PUSHED(1), EXP))));
	memset(&d, 0, sizeof(d));
	assert_ok(ecr_lifecycle_policy_evaluate(p, b.v, 4, INT64_MAX, collect, &d));
	assert_int_equal(d.action[0], ECR_LIFECYCLE_EXPIRE);
	assert_int_equal(d.action[1], ECR_LIFECYCLE_KEEP);
	memset(&d, 0, sizeof(d));
	assert_ok(ecr_lifecycle_policy_evaluate(p, b.v, 4, INT64_MIN, collect, &d));
	for (size_t i = 0; i < 4; i++) /* nothing is older than anything at the start of time */
		assert_int_equal(d.action[i], ECR_LIFECYCLE_KEEP);
	ecr_lifecycle_policy_free(p);
	unbuild(&b);
}

/* --- property test --- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (uint32_t)(rng_state % n) : 0;
}

enum { G_TAGGED, G_UNTAGGED, G_ANY };

struct grule {
	uint32_t prio;
	int archive, status, pattern, count_type; /* count_type: 0 count, 1 pushed, 2 pulled, 3 transitioned */
	int transition;
	int64_t number;
	const char *list[2];
	size_t nlist;
};

#define MAXR 12
#define MAXN 80

struct gpolicy {
	struct grule r[MAXR]; /* by priority */
	size_t n;
	char text[8192];
};

static const char *const PREFIXES[] = {"prod", "beta", "dev", "v1", "v", "rc"};
static const char *const PATTERNS[] = {"prod*", "*-1*", "beta-*", "v*", "*rc*", "d*v*", "*", "*-2", "p*d*-*"};

static void gen_class(struct grule *out, size_t *n, int archive)
{
	size_t k = 1 + rnd(archive ? 2 : 5);
	int have_untagged = 0;
	for (size_t i = 0; i < k; i++) {
		struct grule *g = &out[(*n)++];
		memset(g, 0, sizeof(*g));
		g->archive = archive;
		g->status = i == k - 1 && rnd(2) ? G_ANY : (!have_untagged && rnd(4) == 0) ? G_UNTAGGED : G_TAGGED;
		have_untagged |= g->status == G_UNTAGGED;
		if (g->status == G_TAGGED) {
			g->pattern = (int)rnd(2);
			g->nlist = 1 + rnd(2);
			for (size_t j = 0; j < g->nlist; j++)
				g->list[j] = g->pattern ? PATTERNS[rnd(9)] : PREFIXES[rnd(6)];
		}
		if (archive) {
			g->count_type = 3;
			g->number = 90 + rnd(300);
		} else {
			g->count_type = (int)rnd(3);
			g->transition = g->count_type == 2 ? 1 : (int)rnd(3) == 0;
			g->number = g->count_type == 0 ? 1 + rnd(6) : 1 + rnd(200);
		}
	}
}

static void gen_policy(struct gpolicy *gp)
{
	struct grule std[MAXR], arc[MAXR];
	size_t ns = 0, na = 0, is = 0, ia = 0;
	uint32_t prio = 0;
	gen_class(std, &ns, 0);
	if (rnd(2))
		gen_class(arc, &na, 1);
	gp->n = 0;
	while (is < ns || ia < na) {
		int take_std = ia == na || (is < ns && rnd(2));
		gp->r[gp->n] = take_std ? std[is++] : arc[ia++];
		prio += 1 + rnd(3);
		gp->r[gp->n++].prio = prio;
	}
	/* the text, rules in a random order */
	size_t order[MAXR], len = 0;
	for (size_t i = 0; i < gp->n; i++)
		order[i] = i;
	for (size_t i = gp->n; i > 1; i--) {
		size_t j = rnd((uint32_t)i), t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	static const char *const CT[] = {"imageCountMoreThan", "sinceImagePushed", "sinceImagePulled",
	                                 "sinceImageTransitioned"};
	len += (size_t)snprintf(gp->text + len, sizeof(gp->text) - len, "{\"rules\":[");
	for (size_t o = 0; o < gp->n; o++) {
		const struct grule *g = &gp->r[order[o]];
		len += (size_t)snprintf(gp->text + len, sizeof(gp->text) - len,
		                        "%s{\"rulePriority\":%u,\"selection\":{\"tagStatus\":\"%s\"", o ? "," : "",
		                        g->prio,
		                        g->status == G_TAGGED     ? "tagged"
		                        : g->status == G_UNTAGGED ? "untagged"
		                                                  : "any");
		if (g->nlist) {
			len += (size_t)snprintf(gp->text + len, sizeof(gp->text) - len, ",\"%s\":[",
			                        g->pattern ? "tagPatternList" : "tagPrefixList");
			for (size_t j = 0; j < g->nlist; j++)
				len += (size_t)snprintf(gp->text + len, sizeof(gp->text) - len, "%s\"%s\"",
				                        j ? "," : "", g->list[j]);
			len += (size_t)snprintf(gp->text + len, sizeof(gp->text) - len, "]");
		}
		if (g->archive)
			len +=
			    (size_t)snprintf(gp->text + len, sizeof(gp->text) - len, ",\"storageClass\":\"archive\"");
		len += (size_t)snprintf(gp->text + len, sizeof(gp->text) - len,
		                        ",\"countType\":\"%s\"%s,\"countNumber\":%lld}", CT[g->count_type],
		                        g->count_type ? ",\"countUnit\":\"days\"" : "", (long long)g->number);
		len += (size_t)snprintf(gp->text + len, sizeof(gp->text) - len, ",\"action\":{\"type\":\"%s\"}}",
		                        g->transition ? "transition\",\"targetStorageClass\":\"archive" : "expire");
	}
	len += (size_t)snprintf(gp->text + len, sizeof(gp->text) - len, "]}");
	assert_true(len < sizeof(gp->text));
}

/* An independent reading of the selection (fnmatch for patterns). */
static int oracle_selects(const struct grule *g, const ecr_lifecycle_image *m)
{
	if ((m->storage_class == ECR_STORAGE_CLASS_ARCHIVE) != (g->archive != 0))
		return 0;
	if (g->status == G_ANY)
		return 1;
	if (g->status == G_UNTAGGED)
		return m->tags_count == 0;
	if (m->tags_count == 0)
		return 0;
	for (size_t j = 0; j < g->nlist; j++) {
		int hit = 0;
		for (size_t t = 0; t < m->tags_count && !hit; t++)
			hit = g->pattern ? fnmatch(g->list[j], m->tags[t], 0) == 0
			                 : strncmp(m->tags[t], g->list[j], strlen(g->list[j])) == 0;
		if (!hit)
			return 0;
	}
	return 1;
}

struct gset {
	ecr_lifecycle_image v[MAXN];
	char digest[MAXN][80];
	char subject[MAXN][80];
	char tagstore[MAXN][3][24];
	const char *tags[MAXN][3];
	const char *parents[MAXN][3];
	size_t n;
};

static void gen_set(struct gset *s)
{
	s->n = 1 + rnd(MAXN);
	for (size_t i = 0; i < s->n; i++) {
		ecr_lifecycle_image *m = &s->v[i];
		memset(m, 0, sizeof(*m));
		snprintf(s->digest[i], 80, "sha256:%08x%04zx", (unsigned)rnd(1u << 30), i);
		m->digest = s->digest[i];
		size_t nt = rnd(4) == 0 ? 0 : rnd(4);
		for (size_t t = 0; t < nt; t++) {
			static const char *const stems[] = {"prod", "beta", "dev", "v1", "v2", "rc", "prod-rc", "x"};
			snprintf(s->tagstore[i][t], 24, "%s-%zu-%zu", stems[rnd(8)], t + 1, i);
			s->tags[i][t] = s->tagstore[i][t];
		}
		m->tags = s->tags[i];
		m->tags_count = nt;
		/* whole days, so that push times often tie */
		m->pushed_at = NOW - (rnd(3) ? (int64_t)rnd(400) * DAY : (int64_t)rnd(400 * 24) * (DAY / 24));
		if (rnd(2))
			m->last_pulled_at =
			    m->pushed_at + (int64_t)rnd((uint32_t)((NOW - m->pushed_at) / 1000 + 1)) * 1000;
		if (rnd(5) == 0) {
			m->storage_class = ECR_STORAGE_CLASS_ARCHIVE;
			m->last_archived_at =
			    m->pushed_at + (int64_t)rnd((uint32_t)((NOW - m->pushed_at) / 1000 + 1)) * 1000;
		} else if (rnd(10) == 0) {
			m->last_archived_at = m->pushed_at + (NOW - m->pushed_at) / 3;
			m->last_activated_at = m->pushed_at + (NOW - m->pushed_at) / 2;
		}
		/* children of earlier indexes (a DAG), referrers of earlier images */
		if (i > 0 && rnd(4) == 0) {
			size_t np = 1 + rnd(2);
			for (size_t j = 0; j < np; j++)
				s->parents[i][j] = s->digest[rnd((uint32_t)i)];
			if (np == 2 && s->parents[i][0] == s->parents[i][1])
				np = 1;
			m->parents = s->parents[i];
			m->parents_count = np;
		}
		if (rnd(6) == 0) {
			if (i > 0 && rnd(5))
				snprintf(s->subject[i], 80, "%s", s->digest[rnd((uint32_t)i)]);
			else
				snprintf(s->subject[i], 80, "sha256:missing%zu", i);
			m->subject = s->subject[i];
		}
	}
}

static size_t find(const struct gset *s, const char *d)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].digest, d) == 0)
			return i;
	return SIZE_MAX;
}

static void test_lifecycle_lifecycle__properties(void **state)
{
	(void)state;
	static struct gset s, sh;
	static struct gpolicy gp;
	static struct decision d, d2;
	size_t sets = 0, images = 0, expired = 0, transitioned = 0, held = 0, followed = 0, rules = 0;

	rng_state = 0x9E3779B97F4A7C15ull;
	for (int round = 0; round < 1500; round++) {
		ecr_lifecycle_policy *p = NULL;
		gen_policy(&gp);
		if (ecr_lifecycle_policy_parse(&p, gp.text, strlen(gp.text)) != 0)
			fail_msg("generated policy rejected: %s\n%s", ecr_error_last()->message, gp.text);
		assert_int_equal(ecr_lifecycle_policy_rule_count(p), gp.n);
		rules += gp.n;
		gen_set(&s);
		memset(&d, 0, sizeof(d));
		assert_ok(ecr_lifecycle_policy_evaluate(p, s.v, s.n, NOW, collect, &d));
		/* one decision per image, in index order (collect checks the order) */
		assert_int_equal(d.calls, s.n);

		for (size_t i = 0; i < s.n; i++) {
			const ecr_lifecycle_image *m = &s.v[i];
			ecr_lifecycle_action a = d.action[i];
			expired += a == ECR_LIFECYCLE_EXPIRE;
			transitioned += a == ECR_LIFECYCLE_TRANSITION;
			assert_true(a == ECR_LIFECYCLE_KEEP ? d.prio[i] == 0 : d.prio[i] != 0);
			/* nothing listed by a kept index is acted on; an expired child has expired parents */
			for (size_t j = 0; j < m->parents_count && a != ECR_LIFECYCLE_KEEP; j++) {
				size_t pi = find(&s, m->parents[j]);
				assert_true(pi != SIZE_MAX);
				assert_int_not_equal(d.action[pi], ECR_LIFECYCLE_KEEP);
				if (a == ECR_LIFECYCLE_EXPIRE)
					assert_int_equal(d.action[pi], ECR_LIFECYCLE_EXPIRE);
			}
			/* a referrer (subject in the set, no loop here: subjects are earlier images) follows its
			 * subject */
			size_t si = m->subject ? find(&s, m->subject) : SIZE_MAX;
			if (si != SIZE_MAX) {
				if (a != ECR_LIFECYCLE_KEEP) {
					assert_int_equal(a, d.action[si]);
					assert_int_equal(d.prio[i], d.prio[si]);
					followed++;
				}
				continue;
			}
			/* an ordinary image: acted on by the first rule that selects it, with that rule's action */
			const struct grule *first = NULL;
			for (size_t r = 0; r < gp.n && !first; r++)
				if (oracle_selects(&gp.r[r], m))
					first = &gp.r[r];
			if (a != ECR_LIFECYCLE_KEEP) {
				assert_non_null(first);
				assert_int_equal(d.prio[i], first->prio);
				assert_int_equal(a,
				                 first->transition ? ECR_LIFECYCLE_TRANSITION : ECR_LIFECYCLE_EXPIRE);
			} else if (first && first->count_type == 1 && !m->last_activated_at &&
			           NOW - m->pushed_at > first->number * DAY) {
				/* old enough for its sinceImagePushed rule yet kept: only a kept parent may hold it */
				int held_by_parent = 0;
				for (size_t j = 0; j < m->parents_count; j++) {
					ecr_lifecycle_action pa = d.action[find(&s, m->parents[j])];
					held_by_parent |=
					    first->transition ? pa == ECR_LIFECYCLE_KEEP : pa != ECR_LIFECYCLE_EXPIRE;
				}
				assert_true(held_by_parent);
				held++;
			}
		}

		/* the same set in another order gives the same decisions */
		size_t perm[MAXN];
		for (size_t i = 0; i < s.n; i++)
			perm[i] = i;
		for (size_t i = s.n; i > 1; i--) {
			size_t j = rnd((uint32_t)i), t = perm[i - 1];
			perm[i - 1] = perm[j];
			perm[j] = t;
		}
		sh = s;
		for (size_t i = 0; i < s.n; i++) {
			sh.v[i] = s.v[perm[i]]; /* the pointers still point into s */
		}
		memset(&d2, 0, sizeof(d2));
		assert_ok(ecr_lifecycle_policy_evaluate(p, sh.v, sh.n, NOW, collect, &d2));
		for (size_t i = 0; i < s.n; i++) {
			if (d2.action[i] != d.action[perm[i]] || d2.prio[i] != d.prio[perm[i]])
				fail_msg("round %d: image %s: %d/%u in order, %d/%u shuffled\n%s", round,
				         s.v[perm[i]].digest, d.action[perm[i]], d.prio[perm[i]], d2.action[i],
				         d2.prio[i], gp.text);
		}
		ecr_lifecycle_policy_free(p);
		sets++;
		images += s.n;
	}
	printf("# lifecycle properties: %zu policies (%zu rules), %zu images, %zu expired, %zu transitioned, "
	       "%zu referrers followed, %zu held by an index\n",
	       sets, rules, images, expired, transitioned, followed, held);
	assert_true(expired > 100 && transitioned > 100 && followed > 10);
}

/* --- one parsed policy, evaluated from several threads at once --- */

struct thread_arg {
	const ecr_lifecycle_policy *policy;
	const ecr_lifecycle_image *images;
	size_t count;
	struct decision d;
	int rc;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 50 && a->rc == 0; i++) {
		memset(&a->d, 0, sizeof(a->d));
		a->rc = ecr_lifecycle_policy_evaluate(a->policy, a->images, a->count, NOW, collect, &a->d);
	}
	return NULL;
}

static void test_lifecycle_lifecycle__threads(void **state)
{
	(void)state;
	static struct gset set;
	static struct gpolicy gp;
	static struct thread_arg args[4];
	pthread_t th[4];
	ecr_lifecycle_policy *p = NULL;

	rng_state = 12345;
	gen_policy(&gp);
	gen_set(&set);
	assert_ok(ecr_lifecycle_policy_parse(&p, gp.text, strlen(gp.text)));
	for (size_t t = 0; t < 4; t++) {
		args[t] = (struct thread_arg){.policy = p, .images = set.v, .count = set.n};
		assert_int_equal(pthread_create(&th[t], NULL, thread_main, &args[t]), 0);
	}
	for (size_t t = 0; t < 4; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(args[t].rc, 0);
		assert_int_equal(args[t].d.calls, set.n);
		assert_memory_equal(args[t].d.action, args[0].d.action, sizeof(args[0].d.action));
		assert_memory_equal(args[t].d.prio, args[0].d.prio, sizeof(args[0].d.prio));
	}
	ecr_lifecycle_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lifecycle_lifecycle__parse_table),
	    cmocka_unit_test(test_lifecycle_lifecycle__limits),
	    cmocka_unit_test(test_lifecycle_lifecycle__examples),
	    cmocka_unit_test(test_lifecycle_lifecycle__evaluate_checks),
	    cmocka_unit_test(test_lifecycle_lifecycle__properties),
	    cmocka_unit_test(test_lifecycle_lifecycle__threads),
	};
	return cmocka_run_group_tests_name("lifecycle/lifecycle", tests, NULL, NULL);
}
