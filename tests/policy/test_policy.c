/* ecr_policy: parsing and validation, then evaluation, table-driven. Policies
 * in the tables use ' for " (converted before parsing). */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RES 0 /* ECR_POLICY_RESOURCE */
#define IDN 1 /* ECR_POLICY_IDENTITY */

static size_t cases_run;

static char *dequote(const char *s)
{
	char *d = strdup(s);
	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

/* --- parsing --- */

#define DOC(stmts) "{'Version':'2012-10-17','Statement':[" stmts "]}"
#define AR "'Effect':'Allow','Principal':'*','Action':'ecr:*'" /* a valid resource statement body */
#define AI "'Effect':'Allow','Action':'ecr:*','Resource':'*'"  /* a valid identity statement body */

struct parse_case {
	int kind;
	const char *doc;
	int rc;              /* 0, ECR_EINVALID, ECR_ELIMIT */
	const char *message; /* a part of the error message, or NULL */
};

static const struct parse_case parse_cases[] = {
    /* valid documents */
    {RES, DOC("{" AR "}"), 0, NULL},
    {RES, "{'Version':'2008-10-17','Statement':[{" AR "}]}", 0, NULL},
    {RES, "{'Statement':[{" AR "}]}", 0, NULL},
    {RES, "{'Version':'2012-10-17','Id':'x','Statement':{" AR "}}", 0, NULL},
    {RES, DOC("{" AR ",'Sid':'A'},{" AR ",'Sid':'A'}"), 0, NULL},
    {RES, DOC("{" AR ",'Sid':''}"), 0, NULL},
    {RES, DOC("{'Effect':'Deny','Principal':'*','Action':'ecr:*'}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'*'},'Action':'ecr:*'}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'111122223333'},'Action':'ecr:*'}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:root'},'Action':'ecr:*'}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:user/a'},'Action':'ecr:*'}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:role/p/r'},'Action':'ecr:*'}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:sts::111122223333:assumed-role/r/s'},'Action':'*'}"), 0,
     NULL},
    {RES,
     DOC("{'Effect':'Allow','Principal':{'AWS':['111122223333','arn:aws:iam::444455556666:user/b']},"
         "'Action':['ecr:BatchGetImage','ecr:Get*']}"),
     0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':{'Service':'codebuild.amazonaws.com'},'Action':'ecr:*'}"), 0, NULL},
    {RES,
     DOC("{'Effect':'Allow','Principal':{'Service':['a.amazonaws.com','b.amazonaws.com'],'AWS':'*'},"
         "'Action':'ecr:*'}"),
     0, NULL},
    {RES, DOC("{'Effect':'Allow','NotPrincipal':{'AWS':'111122223333'},'Action':'ecr:*'}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':'*','NotAction':'ecr:Delete*'}"), 0, NULL},
    {RES, DOC("{" AR ",'Resource':'arn:aws:ecr:us-east-1:123456789012:repository/*'}"), 0, NULL},
    {RES, DOC("{" AR ",'Resource':['*','arn:aws:ecr:*:*:repository/a?']}"), 0, NULL},
    {RES, DOC("{" AR ",'NotResource':'arn:aws:ecr:us-east-1:123456789012:repository/x'}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{'aws:PrincipalAccount':'111122223333'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{'aws:PrincipalAccount':['1','2']}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'Bool':{'aws:SecureTransport':false}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'Bool':{'aws:SecureTransport':'TRUE'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'NumericLessThan':{'s:n':10}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'NumericLessThan':{'s:n':'1.5e3'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'DateGreaterThan':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'DateLessThan':{'aws:CurrentTime':'2020-01-01'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'DateLessThan':{'aws:CurrentTime':'1577836800'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'DateEquals':{'aws:CurrentTime':'2020-01-01T00:00:00.5+02:00'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'IpAddress':{'aws:SourceIp':['10.0.0.0/8','2001:db8::/32','1.2.3.4']}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'NotIpAddress':{'aws:SourceIp':'::1'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'Null':{'aws:SourceIp':'true'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'StringLikeIfExists':{'s:k':'a*'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'ForAnyValue:StringEquals':{'aws:TagKeys':'a'}}}"), 0, NULL},
    {RES, DOC("{" AR ",'Condition':{'ForAllValues:StringLikeIfExists':{'aws:TagKeys':'a'}}}"), 0, NULL},
    {RES,
     DOC("{" AR ",'Condition':{'ArnLike':{'aws:SourceArn':'arn:aws:*:*:*:*'},"
         "'ArnEquals':{'aws:PrincipalArn':'x'},'ArnNotEquals':{'a:b':'c'},'ArnNotLike':{'a:b':'c'}}}"),
     0, NULL},
    {RES,
     DOC("{" AR ",'Condition':{'StringEqualsIgnoreCase':{'a:b':'c'},'StringNotEqualsIgnoreCase':{'a:b':'c'},"
         "'StringNotEquals':{'a:b':'c'},'StringNotLike':{'a:b':'c'}}}"),
     0, NULL},
    {RES,
     DOC("{" AR ",'Condition':{'NumericEquals':{'a:b':1},'NumericNotEquals':{'a:b':1},"
         "'NumericLessThanEquals':{'a:b':1},'NumericGreaterThan':{'a:b':1},'NumericGreaterThanEquals':{'a:b':1}}}"),
     0, NULL},
    {RES,
     DOC("{" AR ",'Condition':{'DateNotEquals':{'a:b':'2020-01-01'},'DateLessThanEquals':{'a:b':'2020-01-01'},"
         "'DateGreaterThanEquals':{'a:b':'2020-01-01'}}}"),
     0, NULL},
    {RES, DOC("{" AR ",'Condition':{}}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':'*'}"), 0, NULL},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':'s3-x:Get?bject'}"), 0, NULL},
    {IDN, DOC("{" AI "}"), 0, NULL},
    {IDN, DOC("{'Effect':'Allow','Action':'ecr:*','NotResource':'arn:aws:ecr:*:*:repository/x'}"), 0, NULL},
    {IDN, DOC("{" AI ",'Sid':'A'},{" AI ",'Sid':'B'}"), 0, NULL},
    {IDN, DOC("{" AI ",'Sid':''},{" AI ",'Sid':''}"), 0, NULL},
    {IDN, DOC("{'Effect':'Deny','NotAction':'ecr:Get*','Resource':['*']}"), 0, NULL},

    /* JSON and top level */
    {RES, "", ECR_EINVALID, NULL},
    {RES, "{", ECR_EINVALID, NULL},
    {RES, "[]", ECR_EINVALID, "must be a JSON object"},
    {RES, "'text'", ECR_EINVALID, "must be a JSON object"},
    {RES, "null", ECR_EINVALID, "must be a JSON object"},
    {RES, "{}", ECR_EINVALID, "Statement is missing"},
    {RES, "{'Version':'2012-10-17'}", ECR_EINVALID, "Statement is missing"},
    {RES, "{'Version':'2012-10-18','Statement':{" AR "}}", ECR_EINVALID, "Version must be"},
    {RES, "{'Version':2012,'Statement':{" AR "}}", ECR_EINVALID, "Version must be"},
    {RES, "{'Version':'','Statement':{" AR "}}", ECR_EINVALID, "Version must be"},
    {RES, "{'Id':5,'Statement':{" AR "}}", ECR_EINVALID, "Id must be a string"},
    {RES, "{'Statement':{" AR "},'Extra':1}", ECR_EINVALID, "unknown member 'Extra'"},
    {RES, "{'statement':{" AR "}}", ECR_EINVALID, "unknown member 'statement'"},
    {RES, "{'Statement':[]}", ECR_EINVALID, "at least one statement"},
    {RES, "{'Statement':'x'}", ECR_EINVALID, "Statement must be an object or a list"},
    {RES, "{'Statement':5}", ECR_EINVALID, "Statement must be an object or a list"},
    {RES, "{'Statement':['x']}", ECR_EINVALID, "Statement[0] must be an object"},
    {RES, "{'Statement':[{" AR "},5]}", ECR_EINVALID, "Statement[1] must be an object"},
    {RES, "{'Statement':{" AR "},'Statement':{" AR "}}", ECR_EINVALID, NULL},
    /* statement members */
    {RES, DOC("{" AR ",'Foo':1}"), ECR_EINVALID, "Statement[0] has an unknown member 'Foo'"},
    {RES, DOC("{" AR "},{" AR ",'effect':'Allow'}"), ECR_EINVALID, "Statement[1] has an unknown member 'effect'"},
    {RES, DOC("{" AR ",'Sid':5}"), ECR_EINVALID, "Statement[0].Sid must be a string"},
    {RES, DOC("{'Principal':'*','Action':'ecr:*'}"), ECR_EINVALID, "Statement[0].Effect is missing"},
    {RES, DOC("{" AR "},{'Effect':'allow','Principal':'*','Action':'ecr:*'}"), ECR_EINVALID,
     "Statement[1].Effect must be Allow or Deny"},
    {RES, DOC("{'Effect':'Permit','Principal':'*','Action':'ecr:*'}"), ECR_EINVALID, "Effect must be Allow or Deny"},
    {RES, DOC("{'Effect':true,'Principal':'*','Action':'ecr:*'}"), ECR_EINVALID, "Effect must be Allow or Deny"},
    {RES, "{'Statement':{'Effect':'Deny ','Principal':'*','Action':'ecr:*'}}", ECR_EINVALID,
     "Statement.Effect must be Allow or Deny"},
    {RES, DOC("{'Effect':'Allow','Action':'ecr:*'}"), ECR_EINVALID, "Statement[0].Principal is missing"},
    {IDN, DOC("{" AI ",'Principal':'*'}"), ECR_EINVALID, "Principal is not allowed in an identity policy"},
    {IDN, DOC("{" AI ",'NotPrincipal':'*'}"), ECR_EINVALID, "NotPrincipal is not allowed in an identity policy"},
    {RES, DOC("{" AR ",'NotPrincipal':'*'}"), ECR_EINVALID, "both Principal and NotPrincipal"},
    {RES, DOC("{'Effect':'Allow','Principal':'x','Action':'ecr:*'}"), ECR_EINVALID, "Principal must be"},
    {RES, DOC("{'Effect':'Allow','Principal':{},'Action':'ecr:*'}"), ECR_EINVALID, "Principal must be"},
    {RES, DOC("{'Effect':'Allow','Principal':['*'],'Action':'ecr:*'}"), ECR_EINVALID, "Principal must be"},
    {RES, DOC("{'Effect':'Allow','Principal':{'Federated':'x'},'Action':'ecr:*'}"), ECR_EINVALID,
     "unsupported principal type 'Federated'"},
    {RES, DOC("{'Effect':'Allow','Principal':{'aws':'*'},'Action':'ecr:*'}"), ECR_EINVALID,
     "unsupported principal type"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'12345'},'Action':'ecr:*'}"), ECR_EINVALID,
     "'12345' is not a valid principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'1234567890123'},'Action':'ecr:*'}"), ECR_EINVALID,
     "not a valid principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'alice'},'Action':'ecr:*'}"), ECR_EINVALID,
     "not a valid principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:user/*'},'Action':'ecr:*'}"),
     ECR_EINVALID, "wildcards are not allowed"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::11112222333?:root'},'Action':'ecr:*'}"), ECR_EINVALID,
     "wildcards are not allowed"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::*:root'},'Action':'ecr:*'}"), ECR_EINVALID,
     "wildcards"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::1111:root'},'Action':'ecr:*'}"), ECR_EINVALID,
     "not a valid principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam:us-east-1:111122223333:root'},'Action':'ecr:*'}"),
     ECR_EINVALID, "not a valid principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:s3::111122223333:root'},'Action':'ecr:*'}"), ECR_EINVALID,
     "not a valid principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:group/g'},'Action':'ecr:*'}"),
     ECR_EINVALID, "not a valid principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:user/'},'Action':'ecr:*'}"),
     ECR_EINVALID, "not a valid principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':[]},'Action':'ecr:*'}"), ECR_EINVALID, "empty list"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':[5]},'Action':'ecr:*'}"), ECR_EINVALID,
     "Principal.AWS[0] must be a string"},
    {RES, DOC("{'Effect':'Allow','Principal':{'AWS':''},'Action':'ecr:*'}"), ECR_EINVALID, "empty"},
    {RES, DOC("{'Effect':'Allow','Principal':{'Service':'Code Build'},'Action':'ecr:*'}"), ECR_EINVALID,
     "not a valid service principal"},
    {RES, DOC("{'Effect':'Allow','Principal':{'Service':'*.amazonaws.com'},'Action':'ecr:*'}"), ECR_EINVALID,
     "not a valid service principal"},
    {RES, DOC("{'Effect':'Allow','Principal':'*'}"), ECR_EINVALID, "Statement[0].Action is missing"},
    {RES, DOC("{" AR ",'NotAction':'ecr:*'}"), ECR_EINVALID, "both Action and NotAction"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':[]}"), ECR_EINVALID, "Statement[0].Action must not be"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':5}"), ECR_EINVALID, "Action must be a string or a list"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':{'a':'b'}}"), ECR_EINVALID, "Action must be a string"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':['ecr:*',5]}"), ECR_EINVALID,
     "Statement[0].Action[1] must be a string"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':''}"), ECR_EINVALID, "empty"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':'BatchGetImage'}"), ECR_EINVALID,
     "'BatchGetImage' is not a valid action"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':'ecr:'}"), ECR_EINVALID, "not a valid action"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':':Get'}"), ECR_EINVALID, "not a valid action"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':'ecr:Get Image'}"), ECR_EINVALID, "not a valid action"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','Action':'ec*r:Get'}"), ECR_EINVALID, "not a valid action"},
    {RES, DOC("{'Effect':'Allow','Principal':'*','NotAction':'ecr'}"), ECR_EINVALID,
     "Statement[0].NotAction 'ecr' is not a valid action"},
    {IDN, DOC("{'Effect':'Allow','Action':'ecr:*'}"), ECR_EINVALID, "Statement[0].Resource is missing"},
    {RES, DOC("{" AR ",'Resource':'*','NotResource':'*'}"), ECR_EINVALID, "both Resource and NotResource"},
    {RES, DOC("{" AR ",'Resource':'repository/app'}"), ECR_EINVALID, "is not a valid resource"},
    {RES, DOC("{" AR ",'Resource':'arn:aws:ecr'}"), ECR_EINVALID, "is not a valid resource"},
    {RES, DOC("{" AR ",'Resource':[]}"), ECR_EINVALID, "Resource must not be an empty list"},
    {RES, DOC("{" AR ",'Resource':5}"), ECR_EINVALID, "Resource must be a string"},
    {RES, DOC("{" AR ",'NotResource':'x'}"), ECR_EINVALID, "NotResource 'x' is not a valid resource"},
    {IDN, DOC("{" AI ",'Sid':'A'},{" AI ",'Sid':'A'}"), ECR_EINVALID, "Statement[1].Sid 'A' is not unique"},
    /* conditions */
    {RES, DOC("{" AR ",'Condition':[]}"), ECR_EINVALID, "Condition must be an object"},
    {RES, DOC("{" AR ",'Condition':'x'}"), ECR_EINVALID, "Condition must be an object"},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':'x'}}"), ECR_EINVALID, "must be a non-empty object"},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{}}}"), ECR_EINVALID, "must be a non-empty object"},
    {RES, DOC("{" AR ",'Condition':{'StringEqual':{'a:b':'c'}}}"), ECR_EINVALID, "unknown operator 'StringEqual'"},
    {RES, DOC("{" AR ",'Condition':{'stringequals':{'a:b':'c'}}}"), ECR_EINVALID, "unknown operator"},
    {RES, DOC("{" AR ",'Condition':{'IfExists':{'a:b':'c'}}}"), ECR_EINVALID, "unknown operator"},
    {RES, DOC("{" AR ",'Condition':{'ForAnyValue:':{'a:b':'c'}}}"), ECR_EINVALID, "unknown operator"},
    {RES, DOC("{" AR ",'Condition':{'ForSomeValues:StringEquals':{'a:b':'c'}}}"), ECR_EINVALID, "unknown operator"},
    {RES, DOC("{" AR ",'Condition':{'NullIfExists':{'a:b':'true'}}}"), ECR_EINVALID, "unknown operator"},
    {RES, DOC("{" AR ",'Condition':{'ForAnyValue:Null':{'a:b':'true'}}}"), ECR_EINVALID, "unknown operator"},
    {RES, DOC("{" AR ",'Condition':{'BinaryEquals':{'a:b':'c'}}}"), ECR_EINVALID, "unknown operator"},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{'SourceIp':'c'}}}"), ECR_EINVALID, "not a valid condition key"},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{'aws:':'c'}}}"), ECR_EINVALID, "not a valid condition key"},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{'a:b':[]}}}"), ECR_EINVALID, "has no values"},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{'a:b':null}}}"), ECR_EINVALID, "values must be strings"},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{'a:b':{'c':'d'}}}}"), ECR_EINVALID, "values must be"},
    {RES, DOC("{" AR ",'Condition':{'StringEquals':{'a:b':['x',[1]]}}}"), ECR_EINVALID, "values must be"},
    {RES, DOC("{" AR ",'Condition':{'NumericEquals':{'a:b':'ten'}}}"), ECR_EINVALID, "'ten' is not a valid value"},
    {RES, DOC("{" AR ",'Condition':{'NumericLessThan':{'a:b':''}}}"), ECR_EINVALID, "not a valid value"},
    {RES, DOC("{" AR ",'Condition':{'NumericLessThan':{'a:b':'1x'}}}"), ECR_EINVALID, "not a valid value"},
    {RES, DOC("{" AR ",'Condition':{'DateLessThan':{'a:b':'yesterday'}}}"), ECR_EINVALID, "not a valid value"},
    {RES, DOC("{" AR ",'Condition':{'DateLessThan':{'a:b':'2020-13-01'}}}"), ECR_EINVALID, "not a valid value"},
    {RES, DOC("{" AR ",'Condition':{'DateLessThan':{'a:b':'2020-01-01T25:00:00Z'}}}"), ECR_EINVALID, "not a valid"},
    {RES, DOC("{" AR ",'Condition':{'DateLessThan':{'a:b':'2020-01-01T00:00:00Zjunk'}}}"), ECR_EINVALID, "not a valid"},
    {RES, DOC("{" AR ",'Condition':{'Bool':{'aws:SecureTransport':'yes'}}}"), ECR_EINVALID, "'yes' is not a valid"},
    {RES, DOC("{" AR ",'Condition':{'Bool':{'aws:SecureTransport':1}}}"), ECR_EINVALID, "not a valid value"},
    {RES, DOC("{" AR ",'Condition':{'Null':{'aws:SourceIp':'maybe'}}}"), ECR_EINVALID, "not a valid value"},
    {RES, DOC("{" AR ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/33'}}}"), ECR_EINVALID, "not a valid"},
    {RES, DOC("{" AR ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0/8'}}}"), ECR_EINVALID, "not a valid"},
    {RES, DOC("{" AR ",'Condition':{'IpAddress':{'aws:SourceIp':'256.0.0.1'}}}"), ECR_EINVALID, "not a valid"},
    {RES, DOC("{" AR ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/'}}}"), ECR_EINVALID, "not a valid"},
    {RES, DOC("{" AR ",'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/-1'}}}"), ECR_EINVALID, "not a valid"},
    {RES, DOC("{" AR ",'Condition':{'IpAddress':{'aws:SourceIp':'2001:db8::/129'}}}"), ECR_EINVALID, "not a valid"},
    {RES, DOC("{" AR ",'Condition':{'NotIpAddress':{'aws:SourceIp':'localhost'}}}"), ECR_EINVALID, "not a valid"},
};

static void run_parse_case(size_t i, const struct parse_case *c)
{
	char *doc = dequote(c->doc);
	ecr_policy *p = NULL;
	int rc = ecr_policy_parse(&p, doc, strlen(doc), (ecr_policy_kind)c->kind);
	if (rc != c->rc)
		fail_msg("parse case %zu (%s): expected %d, got %d (%s)", i, doc, c->rc, rc,
		         rc ? ecr_error_last()->message : "ok");
	if (rc == 0) {
		assert_non_null(p);
	} else {
		assert_null(p);
		if (c->message && !strstr(ecr_error_last()->message, c->message))
			fail_msg("parse case %zu (%s): message '%s' lacks '%s'", i, doc, ecr_error_last()->message,
			         c->message);
	}
	ecr_policy_free(p);
	free(doc);
	cases_run++;
}

static void test_policy_policy__parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++)
		run_parse_case(i, &parse_cases[i]);
}

/* Both kinds are checked the same way on the same grammar where it is shared. */
static void test_policy_policy__limits(void **state)
{
	(void)state;
	ecr_policy *p = NULL;
	size_t n = ECR_POLICY_MAX_SIZE + 1;
	char *big = malloc(n + 1);
	assert_non_null(big);
	/* a valid document padded with whitespace past the limit */
	const char *doc = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"ecr:*\"}}";
	memset(big, ' ', n);
	memcpy(big, doc, strlen(doc));
	big[n] = '\0';
	assert_int_equal(ecr_policy_parse(&p, big, n, ECR_POLICY_RESOURCE), ECR_ELIMIT);
	assert_null(p);
	assert_ok(ecr_policy_parse(&p, big, ECR_POLICY_MAX_SIZE, ECR_POLICY_RESOURCE));
	ecr_policy_free(p);
	p = NULL;
	assert_int_equal(ecr_policy_parse(&p, NULL, 0, ECR_POLICY_RESOURCE), ECR_EINVALID);
	assert_int_equal(ecr_policy_parse(&p, doc, strlen(doc), (ecr_policy_kind)7), ECR_EINVALID);
	/* deep nesting is refused, not a crash */
	char deep[400];
	size_t o = (size_t)snprintf(deep, sizeof(deep), "{\"Statement\":");
	for (int i = 0; i < 100; i++)
		deep[o++] = '[';
	for (int i = 0; i < 100; i++)
		deep[o++] = ']';
	deep[o++] = '}';
	deep[o] = '\0';
	assert_int_equal(ecr_policy_parse(&p, deep, o, ECR_POLICY_RESOURCE), ECR_EINVALID);
	/* a NUL inside the text */
	assert_int_equal(ecr_policy_parse(&p, "{\"Statement\":\0}", 15, ECR_POLICY_RESOURCE), ECR_EINVALID);
	ecr_policy_free(NULL);
	free(big);
	cases_run += 5;
}

/* --- evaluation --- */

#define REPO "arn:aws:ecr:us-east-1:123456789012:repository/app"
#define ALICE "arn:aws:iam::111122223333:user/alice"
#define BOB "arn:aws:iam::444455556666:user/bob"
#define ROLE "arn:aws:iam::111122223333:role/builder"
#define SVC "svc:codebuild.amazonaws.com"
#define ANON NULL

enum { NA = ECR_POLICY_NOT_APPLICABLE, AL = ECR_POLICY_ALLOW, DE = ECR_POLICY_DENY };

struct eval_case {
	int kind;
	const char *doc;
	const char *who; /* principal ARN; "svc:<name>" for a service; NULL anonymous */
	const char *action;
	const char *resource; /* NULL: REPO */
	const char *keys;     /* "k=v;k=v" */
	int expect;
};

/* Resource policy with one statement: effect, principal, action (JSON fragments). */
#define RP(body) "{'Version':'2012-10-17','Statement':[{" body "}]}"
#define ALLOW_ALL "'Effect':'Allow','Principal':'*','Action':'*'"
#define C(cond) RP(ALLOW_ALL ",'Condition':{" cond "}")
#define IP(body) "{'Version':'2012-10-17','Statement':[{" body "}]}"

static const struct eval_case eval_cases[] = {
    /* effect and combination */
    {RES, RP(ALLOW_ALL), ALICE, "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Deny','Principal':'*','Action':'*'"), ALICE, "ecr:BatchGetImage", NULL, NULL, DE},
    {RES, RP(ALLOW_ALL "},{'Effect':'Deny','Principal':'*','Action':'ecr:PutImage'"), ALICE, "ecr:PutImage", NULL, NULL,
     DE},
    {RES, RP(ALLOW_ALL "},{'Effect':'Deny','Principal':'*','Action':'ecr:PutImage'"), ALICE, "ecr:BatchGetImage", NULL,
     NULL, AL},
    {RES, RP("'Effect':'Deny','Principal':'*','Action':'ecr:PutImage'},{" ALLOW_ALL), ALICE, "ecr:PutImage", NULL, NULL,
     DE},
    {RES, RP("'Effect':'Deny','Principal':'*','Action':'ecr:PutImage'"), ALICE, "ecr:BatchGetImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:PutImage'"), ALICE, "ecr:BatchGetImage", NULL, NULL, NA},
    {RES,
     RP("'Effect':'Allow','Principal':{'AWS':'444455556666'},'Action':'*'},"
        "{'Effect':'Deny','Principal':{'AWS':'" BOB "'},'Action':'ecr:Delete*'"),
     BOB, "ecr:DeleteRepository", NULL, NULL, DE},
    {RES,
     RP("'Effect':'Allow','Principal':{'AWS':'444455556666'},'Action':'*'},"
        "{'Effect':'Deny','Principal':{'AWS':'" BOB "'},'Action':'ecr:Delete*'"),
     BOB, "ecr:ListImages", NULL, NULL, AL},
    {RES,
     RP("'Effect':'Allow','Principal':{'AWS':'444455556666'},'Action':'*'},"
        "{'Effect':'Deny','Principal':{'AWS':'" BOB "'},'Action':'ecr:Delete*'"),
     ALICE, "ecr:DeleteRepository", NULL, NULL, NA},
    /* actions: wildcards and case */
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:*'"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:*'"), ALICE, "s3:GetObject", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:Batch*'"), ALICE, "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:Batch*'"), ALICE, "ecr:BatchDeleteImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:Batch*'"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:Batch*'"), ALICE, "ecr:Batch", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:*Image'"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:*Image'"), ALICE, "ecr:ListImages", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:*Image*'"), ALICE, "ecr:ListImages", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:?utImage'"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:?utImage'"), ALICE, "ecr:PPutImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:batchgetimage'"), ALICE, "ecr:BatchGetImage", NULL, NULL,
     AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ECR:BATCHGETIMAGE'"), ALICE, "ecr:BatchGetImage", NULL, NULL,
     AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:BatchGetImage'"), ALICE, "ECR:batchgetimage", NULL, NULL,
     AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:batch*'"), ALICE, "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:BatchGetImage'"), ALICE, "ecr:BatchGetImages", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:BatchGetImage'"), ALICE, "ecr:BatchGetImag", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:BatchGetImage'"), ALICE, "ecr-public:BatchGetImage", NULL,
     NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':['ecr:PutImage','ecr:BatchGetImage']"), ALICE,
     "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':['ecr:PutImage','ecr:BatchGetImage']"), ALICE, "ecr:ListImages",
     NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'*'"), ALICE, "s3:GetObject", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'ecr:*Layer*'"), ALICE, "ecr:UploadLayerPart", NULL, NULL, AL},
    /* NotAction */
    {RES, RP("'Effect':'Allow','Principal':'*','NotAction':'ecr:Delete*'"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':'*','NotAction':'ecr:Delete*'"), ALICE, "ecr:DeleteRepository", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Allow','Principal':'*','NotAction':'ecr:delete*'"), ALICE, "ecr:DeleteRepository", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Deny','Principal':'*','NotAction':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']"), ALICE,
     "ecr:PutImage", NULL, NULL, DE},
    {RES, RP("'Effect':'Deny','Principal':'*','NotAction':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']"), ALICE,
     "ecr:GetDownloadUrlForLayer", NULL, NULL, NA},
    {RES, RP("'Effect':'Deny','Principal':'*','NotAction':'ecr:*'"), ALICE, "s3:GetObject", NULL, NULL, DE},
    {RES, RP("'Effect':'Deny','Principal':'*','NotAction':'ecr:*'"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','NotAction':'*'"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    /* resources */
    {RES, RP(ALLOW_ALL ",'Resource':'" REPO "'"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, RP(ALLOW_ALL ",'Resource':'" REPO "'"), ALICE, "ecr:PutImage", REPO "2", NULL, NA},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-east-1:123456789012:repository/*'"), ALICE, "ecr:PutImage",
     "arn:aws:ecr:us-east-1:123456789012:repository/team/app", NULL, AL},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-east-1:123456789012:repository/*'"), ALICE, "ecr:PutImage",
     "arn:aws:ecr:us-west-2:123456789012:repository/app", NULL, NA},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:*:123456789012:repository/*'"), ALICE, "ecr:PutImage",
     "arn:aws:ecr:us-west-2:123456789012:repository/app", NULL, AL},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:*:123456789012:repository/*'"), ALICE, "ecr:PutImage",
     "arn:aws:ecr:us-west-2:999999999999:repository/app", NULL, NA},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-east-1:123456789012:repository/ap?'"), ALICE, "ecr:PutImage", NULL,
     NULL, AL},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-east-1:123456789012:repository/a?'"), ALICE, "ecr:PutImage", NULL,
     NULL, NA},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-east-1:123456789012:repository/APP'"), ALICE, "ecr:PutImage", NULL,
     NULL, NA},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-east-1:123456789012:*'"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-east-1:123456789012:registry'"), ALICE, "ecr:PutImage", NULL, NULL,
     NA},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-east-1:123456789012:registry'"), ALICE, "ecr:PutRegistryPolicy",
     "arn:aws:ecr:us-east-1:123456789012:registry", NULL, AL},
    /* a '*' inside one ARN part does not spill into the next part */
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:*:*:repository/app'"), ALICE, "ecr:PutImage",
     "arn:aws:ecr:us-east-1:1:2:repository/app", NULL, NA},
    {RES, RP(ALLOW_ALL ",'Resource':'arn:aws:ecr:us-*:*:repository/app'"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, RP(ALLOW_ALL ",'Resource':['arn:aws:ecr:us-east-1:123456789012:repository/x','" REPO "']"), ALICE,
     "ecr:PutImage", NULL, NULL, AL},
    {RES, RP(ALLOW_ALL ",'Resource':'*'"), ALICE, "ecr:PutImage", "anything", NULL, AL},
    {RES, RP(ALLOW_ALL), ALICE, "ecr:PutImage", "arn:aws:ecr:eu-west-1:000000000000:repository/other", NULL, AL},
    /* NotResource */
    {RES, RP(ALLOW_ALL ",'NotResource':'" REPO "'"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, RP(ALLOW_ALL ",'NotResource':'" REPO "'"), ALICE, "ecr:PutImage", REPO "-x", NULL, AL},
    {RES, RP("'Effect':'Deny','Principal':'*','Action':'*','NotResource':'arn:aws:ecr:*:*:repository/public/*'"), ALICE,
     "ecr:PutImage", NULL, NULL, DE},
    {RES, RP("'Effect':'Deny','Principal':'*','Action':'*','NotResource':'arn:aws:ecr:*:*:repository/public/*'"), ALICE,
     "ecr:PutImage", "arn:aws:ecr:us-east-1:123456789012:repository/public/x", NULL, NA},
    /* principals */
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'*'"), ANON, "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'*'},'Action':'*'"), ANON, "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'*'},'Action':'*'"), BOB, "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'111122223333'},'Action':'*'"), ANON, "ecr:BatchGetImage", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'111122223333'},'Action':'*'"), ALICE, "ecr:BatchGetImage", NULL,
     NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'111122223333'},'Action':'*'"), ROLE, "ecr:BatchGetImage", NULL, NULL,
     AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'111122223333'},'Action':'*'"), BOB, "ecr:BatchGetImage", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:root'},'Action':'*'"), ALICE,
     "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:root'},'Action':'*'"),
     "arn:aws:iam::111122223333:root", "ecr:BatchGetImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:root'},'Action':'*'"), BOB,
     "ecr:BatchGetImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::111122223333:root'},'Action':'*'"), ANON,
     "ecr:BatchGetImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'" ALICE "'},'Action':'*'"), ALICE, "ecr:BatchGetImage", NULL, NULL,
     AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'" ALICE "'},'Action':'*'"), ROLE, "ecr:BatchGetImage", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'" ALICE "'},'Action':'*'"), "arn:aws:iam::111122223333:user/alice2",
     "ecr:BatchGetImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'" ALICE "'},'Action':'*'"), "arn:aws:iam::111122223333:user/ALICE",
     "ecr:BatchGetImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'" ALICE "'},'Action':'*'"), ANON, "ecr:BatchGetImage", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'" ROLE "'},'Action':'*'"), ROLE, "ecr:BatchGetImage", NULL, NULL,
     AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':['" BOB "','" ROLE "']},'Action':'*'"), ROLE, "ecr:PutImage", NULL,
     NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':['" BOB "','" ROLE "']},'Action':'*'"), ALICE, "ecr:PutImage", NULL,
     NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':['444455556666','" ALICE "']},'Action':'*'"), ALICE, "ecr:PutImage",
     NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'Service':'codebuild.amazonaws.com'},'Action':'*'"), SVC, "ecr:PutImage",
     NULL, NULL, AL},
    {RES, RP("'Effect':'Allow','Principal':{'Service':'codebuild.amazonaws.com'},'Action':'*'"),
     "svc:lambda.amazonaws.com", "ecr:PutImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':{'Service':'codebuild.amazonaws.com'},'Action':'*'"), ALICE, "ecr:PutImage",
     NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':{'Service':'codebuild.amazonaws.com'},'Action':'*'"), ANON, "ecr:PutImage",
     NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'111122223333'},'Action':'*'"), SVC, "ecr:PutImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','Principal':'*','Action':'*'"), SVC, "ecr:PutImage", NULL, NULL, AL},
    /* NotPrincipal */
    {RES, RP("'Effect':'Deny','NotPrincipal':{'AWS':'111122223333'},'Action':'*'"), BOB, "ecr:PutImage", NULL, NULL,
     DE},
    {RES, RP("'Effect':'Deny','NotPrincipal':{'AWS':'111122223333'},'Action':'*'"), ALICE, "ecr:PutImage", NULL, NULL,
     NA},
    {RES, RP("'Effect':'Deny','NotPrincipal':{'AWS':'111122223333'},'Action':'*'"), ANON, "ecr:PutImage", NULL, NULL,
     DE},
    {RES, RP("'Effect':'Deny','NotPrincipal':{'AWS':'" ALICE "'},'Action':'*'"), ROLE, "ecr:PutImage", NULL, NULL, DE},
    {RES, RP("'Effect':'Deny','NotPrincipal':{'AWS':'" ALICE "'},'Action':'*'"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','NotPrincipal':'*','Action':'*'"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','NotPrincipal':'*','Action':'*'"), ANON, "ecr:PutImage", NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','NotPrincipal':{'Service':'codebuild.amazonaws.com'},'Action':'*'"), SVC, "ecr:PutImage",
     NULL, NULL, NA},
    {RES, RP("'Effect':'Allow','NotPrincipal':{'Service':'codebuild.amazonaws.com'},'Action':'*'"), BOB, "ecr:PutImage",
     NULL, NULL, AL},
    /* identity policies: no principal to check */
    {IDN, IP("'Effect':'Allow','Action':'ecr:*','Resource':'*'"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {IDN, IP("'Effect':'Allow','Action':'ecr:*','Resource':'*'"), BOB, "ecr:PutImage", NULL, NULL, AL},
    {IDN, IP("'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*:123456789012:repository/*'"), BOB,
     "ecr:PutImage", NULL, NULL, AL},
    {IDN, IP("'Effect':'Allow','Action':'ecr:*','Resource':'arn:aws:ecr:*:111122223333:repository/*'"), BOB,
     "ecr:PutImage", NULL, NULL, NA},
    {IDN, IP("'Effect':'Allow','Action':'ecr:Get*','Resource':'*'},{'Effect':'Deny','Action':'*','Resource':'*'"),
     ALICE, "ecr:GetAuthorizationToken", "*", NULL, DE},
    {IDN, IP("'Effect':'Allow','Action':'ecr:*','NotResource':'" REPO "'"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {IDN, IP("'Effect':'Allow','NotAction':'ecr:Put*','Resource':'*'"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {IDN, IP("'Effect':'Allow','NotAction':'ecr:Put*','Resource':'*'"), ALICE, "ecr:ListImages", NULL, NULL, AL},
    {IDN, IP("'Effect':'Allow','Action':'ecr:*','Resource':'*'"), ANON, "ecr:PutImage", NULL, NULL, AL},

    /* --- conditions --- */
    /* StringEquals and friends */
    {RES, C("'StringEquals':{'aws:PrincipalAccount':'111122223333'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringEquals':{'aws:PrincipalAccount':'111122223333'}"), BOB, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'StringEquals':{'aws:PrincipalAccount':'111122223333'}"), ANON, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'StringEquals':{'aws:PrincipalAccount':['444455556666','111122223333']}"), ALICE, "ecr:PutImage", NULL,
     NULL, AL},
    {RES, C("'StringEquals':{'AWS:PRINCIPALACCOUNT':'111122223333'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringEquals':{'aws:principalaccount':'111122223333'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringEquals':{'aws:PrincipalArn':'" ALICE "'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringEquals':{'aws:PrincipalArn':'" ALICE "'}"), ROLE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'StringEquals':{'aws:username':'alice'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringEquals':{'aws:username':'alice'}"), ROLE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'StringEquals':{'aws:username':'alice'}"), "arn:aws:iam::111122223333:user/dev/alice", "ecr:PutImage",
     NULL, NULL, AL},
    {RES, C("'StringEquals':{'aws:userid':'AIDA1'}"), ALICE, "ecr:PutImage", NULL, "aws:userid=AIDA1", AL},
    {RES, C("'StringEquals':{'aws:userid':'AIDA1'}"), ALICE, "ecr:PutImage", NULL, "aws:userid=AIDA2", NA},
    {RES, C("'StringEquals':{'aws:userid':'AIDA1'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'StringEquals':{'aws:RequestedRegion':'us-east-1'}"), ALICE, "ecr:PutImage", NULL,
     "aws:RequestedRegion=us-east-1", AL},
    {RES, C("'StringEquals':{'aws:RequestedRegion':'us-east-1'}"), ALICE, "ecr:PutImage", NULL,
     "aws:requestedregion=eu-west-1", NA},
    {RES, C("'StringEquals':{'aws:RequestedRegion':'us-east-1'}"), ALICE, "ecr:PutImage", NULL,
     "AWS:REQUESTEDREGION=us-east-1", AL},
    {RES, C("'StringEquals':{'my:key':'Value'}"), ALICE, "ecr:PutImage", NULL, "my:key=value", NA},
    {RES, C("'StringEquals':{'my:key':'Value'}"), ALICE, "ecr:PutImage", NULL, "my:key=Value", AL},
    {RES, C("'StringEquals':{'my:key':'Value'}"), ALICE, "ecr:PutImage", NULL, "my:other=Value", NA},
    {RES, C("'StringEquals':{'my:key':'Value'}"), ALICE, "ecr:PutImage", NULL, "my:key=x;my:key=Value", AL},
    {RES, C("'StringEquals':{'my:key':'Val*'}"), ALICE, "ecr:PutImage", NULL, "my:key=Value", NA},
    {RES, C("'StringEquals':{'my:a':'1','my:b':'2'}"), ALICE, "ecr:PutImage", NULL, "my:a=1;my:b=2", AL},
    {RES, C("'StringEquals':{'my:a':'1','my:b':'2'}"), ALICE, "ecr:PutImage", NULL, "my:a=1;my:b=3", NA},
    {RES, C("'StringEquals':{'my:a':'1','my:b':'2'}"), ALICE, "ecr:PutImage", NULL, "my:a=1", NA},
    {RES, C("'StringEquals':{'my:a':'1'},'StringLike':{'my:b':'x*'}"), ALICE, "ecr:PutImage", NULL, "my:a=1;my:b=xy",
     AL},
    {RES, C("'StringEquals':{'my:a':'1'},'StringLike':{'my:b':'x*'}"), ALICE, "ecr:PutImage", NULL, "my:a=2;my:b=xy",
     NA},
    {RES, C("'StringNotEquals':{'my:key':'a'}"), ALICE, "ecr:PutImage", NULL, "my:key=b", AL},
    {RES, C("'StringNotEquals':{'my:key':'a'}"), ALICE, "ecr:PutImage", NULL, "my:key=a", NA},
    {RES, C("'StringNotEquals':{'my:key':'a'}"), ALICE, "ecr:PutImage", NULL, "my:key=A", AL},
    {RES, C("'StringNotEquals':{'my:key':['a','b']}"), ALICE, "ecr:PutImage", NULL, "my:key=b", NA},
    {RES, C("'StringNotEquals':{'my:key':['a','b']}"), ALICE, "ecr:PutImage", NULL, "my:key=c", AL},
    {RES, C("'StringNotEquals':{'my:key':'a'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringEqualsIgnoreCase':{'my:key':'VaLuE'}"), ALICE, "ecr:PutImage", NULL, "my:key=value", AL},
    {RES, C("'StringEqualsIgnoreCase':{'my:key':'VaLuE'}"), ALICE, "ecr:PutImage", NULL, "my:key=values", NA},
    {RES, C("'StringEqualsIgnoreCase':{'my:key':'VaLuE'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'StringNotEqualsIgnoreCase':{'my:key':'VaLuE'}"), ALICE, "ecr:PutImage", NULL, "my:key=VALUE", NA},
    {RES, C("'StringNotEqualsIgnoreCase':{'my:key':'VaLuE'}"), ALICE, "ecr:PutImage", NULL, "my:key=other", AL},
    {RES, C("'StringNotEqualsIgnoreCase':{'my:key':'VaLuE'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringLike':{'my:key':'team-*'}"), ALICE, "ecr:PutImage", NULL, "my:key=team-a", AL},
    {RES, C("'StringLike':{'my:key':'team-*'}"), ALICE, "ecr:PutImage", NULL, "my:key=team-", AL},
    {RES, C("'StringLike':{'my:key':'team-*'}"), ALICE, "ecr:PutImage", NULL, "my:key=Team-a", NA},
    {RES, C("'StringLike':{'my:key':'team-?'}"), ALICE, "ecr:PutImage", NULL, "my:key=team-ab", NA},
    {RES, C("'StringLike':{'my:key':'*a*b*'}"), ALICE, "ecr:PutImage", NULL, "my:key=xxaxxbxx", AL},
    {RES, C("'StringLike':{'my:key':'*a*b*'}"), ALICE, "ecr:PutImage", NULL, "my:key=xxbxxaxx", NA},
    {RES, C("'StringLike':{'my:key':['x','team-*']}"), ALICE, "ecr:PutImage", NULL, "my:key=team-b", AL},
    {RES, C("'StringLike':{'my:key':'team-*'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'StringNotLike':{'my:key':'team-*'}"), ALICE, "ecr:PutImage", NULL, "my:key=team-a", NA},
    {RES, C("'StringNotLike':{'my:key':'team-*'}"), ALICE, "ecr:PutImage", NULL, "my:key=ops", AL},
    {RES, C("'StringNotLike':{'my:key':'team-*'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    /* resource tags: aws: and ecr: prefixes name the same key */
    {RES, C("'StringEquals':{'ecr:ResourceTag/env':'prod'}"), ALICE, "ecr:PutImage", NULL, "ecr:ResourceTag/env=prod",
     AL},
    {RES, C("'StringEquals':{'ecr:ResourceTag/env':'prod'}"), ALICE, "ecr:PutImage", NULL, "aws:ResourceTag/env=prod",
     AL},
    {RES, C("'StringEquals':{'aws:ResourceTag/env':'prod'}"), ALICE, "ecr:PutImage", NULL, "ecr:ResourceTag/env=prod",
     AL},
    {RES, C("'StringEquals':{'aws:ResourceTag/env':'prod'}"), ALICE, "ecr:PutImage", NULL, "ecr:ResourceTag/env=dev",
     NA},
    {RES, C("'StringEquals':{'aws:ResourceTag/env':'prod'}"), ALICE, "ecr:PutImage", NULL, "ecr:ResourceTag/team=prod",
     NA},
    {RES, C("'StringEquals':{'aws:resourcetag/env':'prod'}"), ALICE, "ecr:PutImage", NULL, "ECR:RESOURCETAG/ENV=prod",
     AL},
    {RES, C("'StringEquals':{'s3:ResourceTag/env':'prod'}"), ALICE, "ecr:PutImage", NULL, "ecr:ResourceTag/env=prod",
     NA},
    /* Arn operators */
    {RES, C("'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::111122223333:user/*'}"), ALICE, "ecr:PutImage", NULL, NULL,
     AL},
    {RES, C("'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::111122223333:user/*'}"), ROLE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::*:user/*'}"), BOB, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ArnLike':{'aws:PrincipalArn':'arn:aws:iam::*'}"), BOB, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'ArnEquals':{'aws:PrincipalArn':'" ALICE "'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ArnEquals':{'aws:PrincipalArn':'arn:aws:iam::111122223333:user/al?ce'}"), ALICE, "ecr:PutImage", NULL,
     NULL, AL},
    {RES, C("'ArnEquals':{'aws:PrincipalArn':'" ALICE "'}"), BOB, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'ArnNotEquals':{'aws:PrincipalArn':'" ALICE "'}"), BOB, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ArnNotEquals':{'aws:PrincipalArn':'" ALICE "'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::111122223333:*'}"), ROLE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::111122223333:*'}"), BOB, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ArnNotLike':{'aws:PrincipalArn':'arn:aws:iam::111122223333:*'}"), ANON, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ArnLike':{'aws:SourceArn':'arn:aws:codebuild:us-east-1:123456789012:project/*'}"), SVC, "ecr:PutImage",
     NULL, "aws:SourceArn=arn:aws:codebuild:us-east-1:123456789012:project/p1", AL},
    {RES, C("'ArnLike':{'aws:SourceArn':'arn:aws:codebuild:us-east-1:123456789012:project/*'}"), SVC, "ecr:PutImage",
     NULL, "aws:SourceArn=arn:aws:codebuild:us-east-1:999999999999:project/p1", NA},
    /* Numeric */
    {RES, C("'NumericEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10", AL},
    {RES, C("'NumericEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10.0", AL},
    {RES, C("'NumericEquals':{'my:n':10}"), ALICE, "ecr:PutImage", NULL, "my:n=1e1", AL},
    {RES, C("'NumericEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=11", NA},
    {RES, C("'NumericEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=ten", NA},
    {RES, C("'NumericEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'NumericNotEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=11", AL},
    {RES, C("'NumericNotEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10", NA},
    {RES, C("'NumericNotEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=ten", NA},
    {RES, C("'NumericNotEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'NumericLessThan':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=9", AL},
    {RES, C("'NumericLessThan':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10", NA},
    {RES, C("'NumericLessThan':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=-3.5", AL},
    {RES, C("'NumericLessThanEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10", AL},
    {RES, C("'NumericLessThanEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10.01", NA},
    {RES, C("'NumericGreaterThan':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10.01", AL},
    {RES, C("'NumericGreaterThan':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10", NA},
    {RES, C("'NumericGreaterThanEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=10", AL},
    {RES, C("'NumericGreaterThanEquals':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=9", NA},
    {RES, C("'NumericGreaterThan':{'my:n':['100','5']}"), ALICE, "ecr:PutImage", NULL, "my:n=6", AL},
    {RES, C("'NumericGreaterThan':{'aws:EpochTime':'1000'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'NumericLessThan':{'aws:EpochTime':'1000'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'NumericLessThan':{'aws:EpochTime':'1000'}"), ALICE, "ecr:PutImage", NULL, "aws:EpochTime=999", AL},
    /* Date */
    {RES, C("'DateGreaterThan':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'DateLessThan':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'DateLessThan':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2019-12-31T23:59:59Z", AL},
    {RES, C("'DateLessThan':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2020-01-01T00:00:00Z", NA},
    {RES, C("'DateLessThanEquals':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2020-01-01T00:00:00Z", AL},
    {RES, C("'DateEquals':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2020-01-01T02:00:00+02:00", AL},
    {RES, C("'DateEquals':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=1577836800", AL},
    {RES, C("'DateEquals':{'aws:CurrentTime':'2020-01-01'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2020-01-01T00:00:00.000Z", AL},
    {RES, C("'DateEquals':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2020-01-01T00:00:00.001Z", NA},
    {RES, C("'DateNotEquals':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2020-01-01T00:00:01Z", AL},
    {RES, C("'DateNotEquals':{'aws:CurrentTime':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2020-01-01T00:00:00Z", NA},
    {RES, C("'DateGreaterThan':{'aws:CurrentTime':'2024-02-29T12:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2024-03-01T00:00:00Z", AL},
    {RES, C("'DateGreaterThanEquals':{'aws:CurrentTime':'2024-02-29T12:00:00Z'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2024-02-29T11:59:59Z", NA},
    {RES, C("'DateGreaterThanEquals':{'aws:CurrentTime':'1999-12-31T23:00:00-01:00'}"), ALICE, "ecr:PutImage", NULL,
     "aws:CurrentTime=2000-01-01T00:00:00Z", AL},
    {RES, C("'DateGreaterThan':{'my:d':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL, "my:d=garbage", NA},
    {RES, C("'DateGreaterThan':{'my:d':'2020-01-01T00:00:00Z'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    /* Bool */
    {RES, C("'Bool':{'aws:SecureTransport':'true'}"), ALICE, "ecr:PutImage", NULL, "aws:SecureTransport=true", AL},
    {RES, C("'Bool':{'aws:SecureTransport':'true'}"), ALICE, "ecr:PutImage", NULL, "aws:SecureTransport=false", NA},
    {RES, C("'Bool':{'aws:SecureTransport':true}"), ALICE, "ecr:PutImage", NULL, "aws:SecureTransport=TRUE", AL},
    {RES, C("'Bool':{'aws:SecureTransport':'false'}"), ALICE, "ecr:PutImage", NULL, "aws:SecureTransport=false", AL},
    {RES, C("'Bool':{'aws:SecureTransport':'false'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'BoolIfExists':{'aws:SecureTransport':'false'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, RP("'Effect':'Deny','Principal':'*','Action':'*','Condition':{'Bool':{'aws:SecureTransport':'false'}}"),
     ALICE, "ecr:PutImage", NULL, "aws:SecureTransport=false", DE},
    {RES, RP("'Effect':'Deny','Principal':'*','Action':'*','Condition':{'Bool':{'aws:SecureTransport':'false'}}"),
     ALICE, "ecr:PutImage", NULL, "aws:SecureTransport=true", NA},
    /* IpAddress / NotIpAddress */
    {RES, C("'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=10.1.2.3", AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=11.1.2.3", NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'192.168.1.0/25'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=192.168.1.127",
     AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'192.168.1.0/25'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=192.168.1.128",
     NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'192.168.1.7'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=192.168.1.7", AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'192.168.1.7'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=192.168.1.8", NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'192.168.1.7/32'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=192.168.1.7",
     AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'0.0.0.0/0'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=8.8.8.8", AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'0.0.0.0/0'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=::1", NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=not-an-ip", NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=10.0.0.0/8", NA},
    {RES, C("'IpAddress':{'aws:SourceIp':['172.16.0.0/12','10.0.0.0/8']}"), ALICE, "ecr:PutImage", NULL,
     "aws:SourceIp=172.31.255.255", AL},
    {RES, C("'IpAddress':{'aws:SourceIp':['172.16.0.0/12','10.0.0.0/8']}"), ALICE, "ecr:PutImage", NULL,
     "aws:SourceIp=172.32.0.0", NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'2001:db8::/32'}"), ALICE, "ecr:PutImage", NULL,
     "aws:SourceIp=2001:db8:1234::1", AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'2001:db8::/32'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=2001:db9::1",
     NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'2001:db8::/33'}"), ALICE, "ecr:PutImage", NULL,
     "aws:SourceIp=2001:db8:8000::1", NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'2001:db8::/33'}"), ALICE, "ecr:PutImage", NULL,
     "aws:SourceIp=2001:db8:7fff::1", AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'::1'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=::1", AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'::/0'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=fe80::1", AL},
    {RES, C("'IpAddress':{'aws:SourceIp':'::/0'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=1.2.3.4", NA},
    {RES, C("'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, "aws:sourceip=10.9.9.9", AL},
    {RES, C("'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=10.1.2.3", NA},
    {RES, C("'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=11.1.2.3", AL},
    {RES, C("'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'NotIpAddress':{'aws:SourceIp':['10.0.0.0/8','2001:db8::/32']}"), ALICE, "ecr:PutImage", NULL,
     "aws:SourceIp=2001:db8::5", NA},
    {RES, C("'NotIpAddress':{'aws:SourceIp':['10.0.0.0/8','2001:db8::/32']}"), ALICE, "ecr:PutImage", NULL,
     "aws:SourceIp=2001:db80::5", AL},
    {RES,
     RP("'Effect':'Deny','Principal':'*','Action':'*','Condition':{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}"
        "},{" ALLOW_ALL),
     ALICE, "ecr:PutImage", NULL, "aws:SourceIp=192.0.2.1", DE},
    {RES,
     RP("'Effect':'Deny','Principal':'*','Action':'*','Condition':{'NotIpAddress':{'aws:SourceIp':'10.0.0.0/8'}}"
        "},{" ALLOW_ALL),
     ALICE, "ecr:PutImage", NULL, "aws:SourceIp=10.0.0.1", AL},
    /* Null */
    {RES, C("'Null':{'aws:SourceIp':'true'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'Null':{'aws:SourceIp':'true'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=1.2.3.4", NA},
    {RES, C("'Null':{'aws:SourceIp':'false'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=1.2.3.4", AL},
    {RES, C("'Null':{'aws:SourceIp':'false'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'Null':{'aws:PrincipalArn':'true'}"), ANON, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'Null':{'aws:PrincipalArn':'true'}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'Null':{'aws:ResourceTag/env':'false'}"), ALICE, "ecr:PutImage", NULL, "ecr:ResourceTag/env=x", AL},
    /* IfExists */
    {RES, C("'StringEqualsIfExists':{'my:k':'a'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringEqualsIfExists':{'my:k':'a'}"), ALICE, "ecr:PutImage", NULL, "my:k=a", AL},
    {RES, C("'StringEqualsIfExists':{'my:k':'a'}"), ALICE, "ecr:PutImage", NULL, "my:k=b", NA},
    {RES, C("'StringNotEqualsIfExists':{'my:k':'a'}"), ALICE, "ecr:PutImage", NULL, "my:k=a", NA},
    {RES, C("'StringNotEqualsIfExists':{'my:k':'a'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'StringLikeIfExists':{'my:k':'a*'}"), ALICE, "ecr:PutImage", NULL, "my:k=abc", AL},
    {RES, C("'StringLikeIfExists':{'my:k':'a*'}"), ALICE, "ecr:PutImage", NULL, "my:k=bcd", NA},
    {RES, C("'IpAddressIfExists':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'IpAddressIfExists':{'aws:SourceIp':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL, "aws:SourceIp=9.9.9.9",
     NA},
    {RES, C("'NumericLessThanIfExists':{'my:n':'5'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'NumericLessThanIfExists':{'my:n':'5'}"), ALICE, "ecr:PutImage", NULL, "my:n=6", NA},
    {RES, C("'DateLessThanIfExists':{'my:d':'2020-01-01'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ArnLikeIfExists':{'aws:SourceArn':'arn:aws:s3:::b'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ArnLikeIfExists':{'aws:SourceArn':'arn:aws:s3:::b'}"), ALICE, "ecr:PutImage", NULL,
     "aws:SourceArn=arn:aws:s3:::c", NA},
    /* ForAnyValue / ForAllValues */
    {RES, C("'ForAnyValue:StringEquals':{'aws:TagKeys':['env','team']}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=x;aws:TagKeys=team", AL},
    {RES, C("'ForAnyValue:StringEquals':{'aws:TagKeys':['env','team']}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=x;aws:TagKeys=y", NA},
    {RES, C("'ForAnyValue:StringEquals':{'aws:TagKeys':['env','team']}"), ALICE, "ecr:PutImage", NULL, NULL, NA},
    {RES, C("'ForAllValues:StringEquals':{'aws:TagKeys':['env','team']}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=env;aws:TagKeys=team", AL},
    {RES, C("'ForAllValues:StringEquals':{'aws:TagKeys':['env','team']}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=env;aws:TagKeys=owner", NA},
    {RES, C("'ForAllValues:StringEquals':{'aws:TagKeys':['env','team']}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ForAllValues:StringLike':{'aws:TagKeys':'t*'}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=team;aws:TagKeys=tier", AL},
    {RES, C("'ForAllValues:StringLike':{'aws:TagKeys':'t*'}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=team;aws:TagKeys=env", NA},
    {RES, C("'ForAnyValue:StringNotEquals':{'aws:TagKeys':'env'}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=env;aws:TagKeys=team", AL},
    {RES, C("'ForAnyValue:StringNotEquals':{'aws:TagKeys':'env'}"), ALICE, "ecr:PutImage", NULL, "aws:TagKeys=env", NA},
    {RES, C("'ForAllValues:StringNotEquals':{'aws:TagKeys':'env'}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=a;aws:TagKeys=b", AL},
    {RES, C("'ForAllValues:StringNotEquals':{'aws:TagKeys':'env'}"), ALICE, "ecr:PutImage", NULL,
     "aws:TagKeys=a;aws:TagKeys=env", NA},
    {RES, C("'ForAnyValue:IpAddress':{'my:ips':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL,
     "my:ips=1.1.1.1;my:ips=10.2.2.2", AL},
    {RES, C("'ForAllValues:IpAddress':{'my:ips':'10.0.0.0/8'}"), ALICE, "ecr:PutImage", NULL,
     "my:ips=1.1.1.1;my:ips=10.2.2.2", NA},
    {RES, C("'ForAllValues:NumericLessThan':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=1;my:n=2;my:n=9", AL},
    {RES, C("'ForAllValues:NumericLessThan':{'my:n':'10'}"), ALICE, "ecr:PutImage", NULL, "my:n=1;my:n=20", NA},
    {RES, C("'ForAnyValue:StringEqualsIfExists':{'my:k':'a'}"), ALICE, "ecr:PutImage", NULL, NULL, AL},
    {RES, C("'ForAnyValue:StringEqualsIgnoreCase':{'my:k':'A'}"), ALICE, "ecr:PutImage", NULL, "my:k=b;my:k=a", AL},
    /* several operators: all must hold */
    {RES,
     C("'StringEquals':{'aws:PrincipalAccount':'111122223333'},'IpAddress':{'aws:SourceIp':'10.0.0.0/8'},"
       "'Bool':{'aws:SecureTransport':'true'}"),
     ALICE, "ecr:PutImage", NULL, "aws:SourceIp=10.0.0.1;aws:SecureTransport=true", AL},
    {RES,
     C("'StringEquals':{'aws:PrincipalAccount':'111122223333'},'IpAddress':{'aws:SourceIp':'10.0.0.0/8'},"
       "'Bool':{'aws:SecureTransport':'true'}"),
     ALICE, "ecr:PutImage", NULL, "aws:SourceIp=10.0.0.1;aws:SecureTransport=false", NA},
    {RES,
     C("'StringEquals':{'aws:PrincipalAccount':'111122223333'},'IpAddress':{'aws:SourceIp':'10.0.0.0/8'},"
       "'Bool':{'aws:SecureTransport':'true'}"),
     BOB, "ecr:PutImage", NULL, "aws:SourceIp=10.0.0.1;aws:SecureTransport=true", NA},
    /* supplied keys win over derived ones */
    {RES, C("'StringEquals':{'aws:PrincipalAccount':'999999999999'}"), ALICE, "ecr:PutImage", NULL,
     "aws:PrincipalAccount=999999999999", AL},
    /* a cross-account story: B denied, then granted, then denied again */
    {RES, RP("'Effect':'Allow','Principal':{'AWS':'123456789012'},'Action':'ecr:*'"), BOB, "ecr:BatchGetImage", NULL,
     NULL, NA},
    {RES,
     RP("'Effect':'Allow','Principal':{'AWS':'123456789012'},'Action':'ecr:*'},{'Effect':'Allow','Principal':"
        "{'AWS':'arn:aws:iam::444455556666:root'},'Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']"),
     BOB, "ecr:BatchGetImage", NULL, NULL, AL},
    {RES,
     RP("'Effect':'Allow','Principal':{'AWS':'123456789012'},'Action':'ecr:*'},{'Effect':'Allow','Principal':"
        "{'AWS':'arn:aws:iam::444455556666:root'},'Action':['ecr:BatchGetImage','ecr:GetDownloadUrlForLayer']"),
     BOB, "ecr:PutImage", NULL, NULL, NA},
    {RES,
     RP("'Effect':'Allow','Principal':{'AWS':'arn:aws:iam::444455556666:root'},'Action':'ecr:*'},"
        "{'Effect':'Deny','Principal':{'AWS':'" BOB "'},'Action':'ecr:BatchGetImage'"),
     BOB, "ecr:BatchGetImage", NULL, NULL, DE},
};

static void run_eval_case(size_t i, const struct eval_case *c)
{
	char *doc = dequote(c->doc);
	ecr_policy *p = NULL;
	ecr_policy_context_key keys[8];
	char keybuf[512];
	size_t nkeys = 0;
	ecr_policy_request req = ECR_POLICY_REQUEST_INIT;
	ecr_policy_decision d = (ecr_policy_decision)-1;

	int rc = ecr_policy_parse(&p, doc, strlen(doc), (ecr_policy_kind)c->kind);
	if (rc)
		fail_msg("eval case %zu: policy does not parse: %s (%s)", i, ecr_error_last()->message, doc);
	if (c->keys) {
		snprintf(keybuf, sizeof(keybuf), "%s", c->keys);
		for (char *save = NULL, *tok = strtok_r(keybuf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
			char *eq = strchr(tok, '=');
			assert_non_null(eq);
			assert_true(nkeys < 8);
			*eq = '\0';
			keys[nkeys].name = tok;
			keys[nkeys].value = eq + 1;
			nkeys++;
		}
	}
	if (c->who && strncmp(c->who, "svc:", 4) == 0)
		req.principal_arn = c->who + 4;
	else
		req.principal_arn = c->who;
	req.action = c->action;
	req.resource = c->resource ? c->resource : REPO;
	req.keys = nkeys ? keys : NULL;
	req.keys_count = nkeys;
	assert_ok(ecr_policy_evaluate(&d, p, &req));
	if ((int)d != c->expect)
		fail_msg("eval case %zu: expected %d, got %d: %s by %s on %s (keys %s) with %s", i, c->expect, (int)d,
		         c->action, c->who ? c->who : "anonymous", req.resource, c->keys ? c->keys : "-", doc);
	ecr_policy_free(p);
	free(doc);
	cases_run++;
}

static void test_policy_policy__evaluate_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++)
		run_eval_case(i, &eval_cases[i]);
}

static void test_policy_policy__request_checks(void **state)
{
	(void)state;
	const char *doc = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"ecr:*\"}}";
	ecr_policy *p = NULL;
	ecr_policy_request req;
	ecr_policy_decision d;
	ecr_policy_context_key bad = {"aws:SourceIp", NULL};

	assert_ok(ecr_policy_parse(&p, doc, strlen(doc), ECR_POLICY_RESOURCE));
	assert_int_equal(ecr_policy_request_init(&req, 0), ECR_EINVALID);
	assert_int_equal(ecr_policy_request_init(&req, ECR_POLICY_REQUEST_VERSION + 1), ECR_EINVALID);
	assert_ok(ecr_policy_request_init(&req, ECR_POLICY_REQUEST_VERSION));
	assert_null(req.action);
	assert_int_equal(ecr_policy_evaluate(&d, p, &req), ECR_EINVALID); /* no action */
	req.action = "ecr:PutImage";
	assert_int_equal(ecr_policy_evaluate(&d, p, &req), ECR_EINVALID); /* no resource */
	req.resource = REPO;
	assert_ok(ecr_policy_evaluate(&d, p, &req));
	assert_int_equal(d, ECR_POLICY_ALLOW);
	req.keys_count = 1;
	assert_int_equal(ecr_policy_evaluate(&d, p, &req), ECR_EINVALID); /* count without array */
	req.keys = &bad;
	assert_int_equal(ecr_policy_evaluate(&d, p, &req), ECR_EINVALID); /* key without value */
	req.keys = NULL;
	req.keys_count = 0;
	req.version = 2;
	assert_int_equal(ecr_policy_evaluate(&d, p, &req), ECR_EINVALID);
	req.version = ECR_POLICY_REQUEST_VERSION;
	assert_int_equal(ecr_policy_evaluate(NULL, p, &req), ECR_EINVALID);
	assert_int_equal(ecr_policy_evaluate(&d, NULL, &req), ECR_EINVALID);
	/* an explicit account wins over the one in the ARN */
	const char *acct = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"999999999999\"},"
	                   "\"Action\":\"ecr:*\"}}";
	ecr_policy_free(p);
	assert_ok(ecr_policy_parse(&p, acct, strlen(acct), ECR_POLICY_RESOURCE));
	req.principal_arn = ALICE;
	assert_ok(ecr_policy_evaluate(&d, p, &req));
	assert_int_equal(d, ECR_POLICY_NOT_APPLICABLE);
	req.principal_account = "999999999999";
	assert_ok(ecr_policy_evaluate(&d, p, &req));
	assert_int_equal(d, ECR_POLICY_ALLOW);
	ecr_policy_free(p);
	cases_run += 12;
}

/* The same policy from many threads at once gives the same answers. */
#include <pthread.h>

struct thread_arg {
	const ecr_policy *p;
	int bad;
};

static void *eval_thread(void *arg)
{
	struct thread_arg *a = arg;
	ecr_policy_context_key k = {"aws:SourceIp", "10.1.1.1"};
	for (int i = 0; i < 2000; i++) {
		ecr_policy_request req = ECR_POLICY_REQUEST_INIT;
		ecr_policy_decision d;
		req.principal_arn = (i & 1) ? ALICE : BOB;
		req.action = (i & 2) ? "ecr:PutImage" : "ecr:BatchGetImage";
		req.resource = REPO;
		req.keys = &k;
		req.keys_count = 1;
		if (ecr_policy_evaluate(&d, a->p, &req) != 0)
			a->bad++;
		ecr_policy_decision want = (i & 2)   ? ECR_POLICY_DENY
		                           : (i & 1) ? ECR_POLICY_ALLOW
		                                     : ECR_POLICY_NOT_APPLICABLE;
		if (d != want)
			a->bad++;
	}
	return NULL;
}

static void test_policy_policy__threads(void **state)
{
	(void)state;
	char *doc = dequote(RP("'Effect':'Allow','Principal':{'AWS':'111122223333'},'Action':'ecr:*',"
	                       "'Condition':{'IpAddress':{'aws:SourceIp':'10.0.0.0/8'}}},"
	                       "{'Effect':'Deny','Principal':'*','Action':'ecr:Put*'"));
	ecr_policy *p = NULL;
	pthread_t th[4];
	struct thread_arg args[4];
	assert_ok(ecr_policy_parse(&p, doc, strlen(doc), ECR_POLICY_RESOURCE));
	for (int i = 0; i < 4; i++) {
		args[i].p = p;
		args[i].bad = 0;
		assert_int_equal(pthread_create(&th[i], NULL, eval_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].bad, 0);
	}
	ecr_policy_free(p);
	free(doc);
	cases_run++;
}

static void test_policy_policy__summary(void **state)
{
	(void)state;
	size_t parse = sizeof(parse_cases) / sizeof(parse_cases[0]);
	size_t eval = sizeof(eval_cases) / sizeof(eval_cases[0]);
	assert_true(cases_run >= parse + eval);
	print_message("# policy cases: %zu (%zu parsing, %zu evaluation, %zu more in the other tests)\n", cases_run,
	              parse, eval, cases_run - parse - eval);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_policy__parse_table),    cmocka_unit_test(test_policy_policy__limits),
	    cmocka_unit_test(test_policy_policy__evaluate_table), cmocka_unit_test(test_policy_policy__request_checks),
	    cmocka_unit_test(test_policy_policy__threads),        cmocka_unit_test(test_policy_policy__summary),
	};
	return cmocka_run_group_tests_name("policy/policy", tests, NULL, NULL);
}
