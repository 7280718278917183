/* IAM-style policy documents: parse and validate into a compact, immutable
 * form (every piece in one arena, freed at once), and evaluate a request
 * against it without allocating. */
#include "../core/core.h"
#include "../core/json.h"
#include "../core/timeutil.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* --- arena --- */

typedef struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
} chunk;

#define CHUNK_MIN 4096

static void *arena_alloc(chunk **arena, size_t n)
{
	size_t a = sizeof(max_align_t);
	if (ecr__add_overflow(n, a - 1, &n))
		return NULL;
	n &= ~(a - 1);
	chunk *c = *arena;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN, total;
		if (ecr__add_overflow(cap, sizeof(chunk), &total) || !(c = ecr__malloc(total)))
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = *arena;
		*arena = c;
	}
	void *p = (unsigned char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

static char *arena_strndup(chunk **arena, const char *s, size_t len)
{
	size_t n;
	if (ecr__add_overflow(len, 1, &n))
		return NULL;
	char *p = arena_alloc(arena, n);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* --- the parsed form --- */

enum cond_op {
	OP_STR_EQ,
	OP_STR_EQ_IC,
	OP_STR_LIKE,
	OP_ARN,
	OP_NUM_EQ,
	OP_NUM_LT,
	OP_NUM_LE,
	OP_NUM_GT,
	OP_NUM_GE,
	OP_DATE_EQ,
	OP_DATE_LT,
	OP_DATE_LE,
	OP_DATE_GT,
	OP_DATE_GE,
	OP_BOOL,
	OP_IP,
	OP_NULL
};

enum set_qualifier { SET_NONE, SET_ANY, SET_ALL };

typedef struct cidr {
	int family; /* 4 or 6 */
	unsigned prefix;
	unsigned char addr[16];
} cidr;

typedef struct pcond {
	unsigned char op;  /* enum cond_op */
	unsigned char set; /* enum set_qualifier */
	bool negate;
	bool if_exists;
	const char *key;
	const char **values;
	size_t nvalues;
	double *nums;   /* OP_NUM_* */
	int64_t *dates; /* OP_DATE_* (ms) */
	cidr *cidrs;    /* OP_IP */
} pcond;

typedef struct strlist {
	const char **v;
	size_t n;
} strlist;

typedef struct pset {
	bool any;        /* "*" */
	strlist aws;     /* account ids (12 digits, roots normalised) and exact ARNs */
	strlist service; /* service principals */
} pset;

typedef struct pstmt {
	bool deny;
	bool has_principal, not_principal;
	pset principal;
	bool not_action;
	strlist actions;
	bool has_resource, not_resource;
	strlist resources;
	pcond *conds;
	size_t nconds;
} pstmt;

struct ecr_policy {
	chunk *arena;
	ecr_policy_kind kind;
	pstmt *stmts;
	size_t nstmts;
};

/* --- small matchers (no allocation) --- */

static int lc(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* Glob with '*' (any run) and '?' (one character). */
static bool glob_n(const char *p, size_t pl, const char *s, size_t sl, bool icase)
{
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
	while (si < sl) {
		if (pi < pl && p[pi] == '*') {
			star_p = pi++;
			star_s = si;
		} else if (pi < pl && (p[pi] == '?' || (icase ? lc((unsigned char)p[pi]) == lc((unsigned char)s[si])
		                                              : p[pi] == s[si]))) {
			pi++;
			si++;
		} else if (star_p != SIZE_MAX) {
			pi = star_p + 1;
			si = ++star_s;
		} else {
			return false;
		}
	}
	while (pi < pl && p[pi] == '*')
		pi++;
	return pi == pl;
}

static bool glob(const char *p, const char *s, bool icase)
{
	return glob_n(p, strlen(p), s, strlen(s), icase);
}

/* Split an ARN into its six colon-separated parts (the last keeps its colons). */
static bool arn_split(const char *s, const char *part[6], size_t len[6])
{
	const char *p = s;
	for (int i = 0; i < 5; i++) {
		const char *c = strchr(p, ':');
		if (!c)
			return false;
		part[i] = p;
		len[i] = (size_t)(c - p);
		p = c + 1;
	}
	part[5] = p;
	len[5] = strlen(p);
	return true;
}

/* ARN matching as IAM does it: each of the six parts separately, with wildcards. */
static bool arn_match(const char *pat, const char *s)
{
	const char *pp[6], *sp[6];
	size_t pl[6], sl[6];
	if (strcmp(pat, "*") == 0)
		return true;
	bool pat_arn = arn_split(pat, pp, pl), s_arn = arn_split(s, sp, sl);
	if (!pat_arn || !s_arn) /* a partial ARN pattern never matches a whole ARN */
		return !pat_arn && !s_arn && glob(pat, s, false);
	for (int i = 0; i < 6; i++)
		if (!glob_n(pp[i], pl[i], sp[i], sl[i], false))
			return false;
	return true;
}

static bool is_account_id(const char *s, size_t len)
{
	if (len != 12)
		return false;
	for (size_t i = 0; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Parse an ISO 8601 date ("2024-01-02", "2024-01-02T03:04:05Z", fractions, offsets) or
 * epoch seconds, into ms. No error is set. */
static bool parse_date(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 40)
		return false;
	bool digits = true;
	for (size_t i = (s[0] == '-'); i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			digits = false;
	if (digits && n > (size_t)(s[0] == '-')) {
		if (n > 14)
			return false;
		*out = strtoll(s, NULL, 10) * 1000;
		return true;
	}
	int y, mo, d, h = 0, mi = 0, sec = 0;
	const char *p = s;
#define NUM(var, w)                                                                                                    \
	do {                                                                                                           \
		var = 0;                                                                                               \
		for (int k_ = 0; k_ < (w); k_++, p++) {                                                                \
			if (*p < '0' || *p > '9')                                                                      \
				return false;                                                                          \
			var = var * 10 + (*p - '0');                                                                   \
		}                                                                                                      \
	} while (0)
	NUM(y, 4);
	if (*p++ != '-')
		return false;
	NUM(mo, 2);
	if (*p++ != '-')
		return false;
	NUM(d, 2);
	int64_t frac_ms = 0, off = 0;
	if (*p == 'T' || *p == 't') {
		p++;
		NUM(h, 2);
		if (*p++ != ':')
			return false;
		NUM(mi, 2);
		if (*p == ':') {
			p++;
			NUM(sec, 2);
			if (*p == '.') {
				p++;
				int k = 0;
				if (*p < '0' || *p > '9')
					return false;
				for (; *p >= '0' && *p <= '9'; p++, k++)
					if (k < 3)
						frac_ms = frac_ms * 10 + (*p - '0');
				for (; k < 3; k++)
					frac_ms *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			NUM(oh, 2);
			if (*p == ':')
				p++;
			NUM(om, 2);
			if (oh > 23 || om > 59)
				return false;
			off = sign * (oh * 60 + om) * 60;
		}
	}
#undef NUM
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	/* days from civil (proleptic Gregorian) */
	int yy = y - (mo <= 2);
	int era = (yy >= 0 ? yy : yy - 399) / 400;
	int yoe = yy - era * 400;
	int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = (int64_t)era * 146097 + doe - 719468;
	*out = ((days * 86400 + h * 3600 + mi * 60 + sec) - off) * 1000 + frac_ms;
	return true;
}

static bool parse_number(const char *s, double *out)
{
	char *end;
	if (!*s || strlen(s) > 64)
		return false;
	double v = strtod(s, &end);
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* An address with an optional /prefix (required_prefix false: a bare address only). */
static bool parse_cidr(const char *s, cidr *out, bool allow_prefix)
{
	char buf[64];
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n + 1);
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash) {
		if (!allow_prefix)
			return false;
		*slash = '\0';
		const char *q = slash + 1;
		if (!*q || strlen(q) > 3)
			return false;
		prefix = 0;
		for (; *q; q++) {
			if (*q < '0' || *q > '9')
				return false;
			prefix = prefix * 10 + (*q - '0');
		}
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = 4;
		if (prefix > 32)
			return false;
		out->prefix = prefix < 0 ? 32 : (unsigned)prefix;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		if (prefix > 128)
			return false;
		out->prefix = prefix < 0 ? 128 : (unsigned)prefix;
	} else {
		return false;
	}
	return true;
}

static bool cidr_contains(const cidr *net, const cidr *ip)
{
	if (net->family != ip->family)
		return false;
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	if (memcmp(net->addr, ip->addr, full) != 0)
		return false;
	if (rest) {
		unsigned char mask = (unsigned char)(0xffu << (8 - rest));
		if ((net->addr[full] & mask) != (ip->addr[full] & mask))
			return false;
	}
	return true;
}

/* --- parsing --- */

typedef struct parser {
	chunk **arena;
	ecr_policy_kind kind;
	char where[64]; /* "Statement[1]" or "Statement" */
} parser;

#define FAIL(...) ecr__fail(ECR_EINVALID, ECR_ERROR_POLICY, __VA_ARGS__)

/* A string or a non-empty list of strings. */
static int parse_strlist(parser *ps, strlist *out, const ecr__json *v, const char *what)
{
	size_t n = v->type == ECR__JSON_ARRAY ? v->count : 1;
	if (v->type != ECR__JSON_STRING && v->type != ECR__JSON_ARRAY)
		return FAIL("%s.%s must be a string or a list of strings", ps->where, what);
	if (n == 0)
		return FAIL("%s.%s must not be an empty list", ps->where, what);
	size_t bytes;
	if (ecr__mul_overflow(n, sizeof(char *), &bytes) || !(out->v = arena_alloc(ps->arena, bytes)))
		return ECR_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const ecr__json *e = v->type == ECR__JSON_ARRAY ? v->values[i] : v;
		if (e->type != ECR__JSON_STRING)
			return FAIL("%s.%s[%zu] must be a string", ps->where, what, i);
		if (e->length == 0 || strlen(e->string) != e->length)
			return FAIL("%s.%s has an empty or invalid value", ps->where, what);
		if (!(out->v[i] = arena_strndup(ps->arena, e->string, e->length)))
			return ECR_ENOMEM;
	}
	out->n = n;
	return 0;
}

static int check_actions(parser *ps, const strlist *l, const char *what)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *a = l->v[i], *c = strchr(a, ':');
		if (strcmp(a, "*") == 0)
			continue;
		bool ok = c && c > a && c[1];
		for (const char *p = a; ok && p < c; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			     *p == '-';
		for (const char *p = c ? c + 1 : a; ok && *p; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			     *p == '*' || *p == '?' || *p == '-' || *p == '_';
		if (!ok)
			return FAIL("%s.%s '%s' is not a valid action (expected \"service:Action\" or \"*\")",
			            ps->where, what, a);
	}
	return 0;
}

static int check_resources(parser *ps, const strlist *l, const char *what)
{
	for (size_t i = 0; i < l->n; i++) {
		const char *r = l->v[i], *pp[6];
		size_t pl[6];
		if (strcmp(r, "*") == 0)
			continue;
		if (strncmp(r, "arn:", 4) != 0 || !arn_split(r, pp, pl))
			return FAIL("%s.%s '%s' is not a valid resource (expected an ARN or \"*\")", ps->where, what,
			            r);
	}
	return 0;
}

/* One AWS principal: "*", an account id, or an IAM/STS ARN without wildcards. Roots become the account id. */
static int aws_principal(parser *ps, const char **out, const char *v, const char *what, size_t i)
{
	const char *pp[6];
	size_t pl[6];
	*out = v;
	if (is_account_id(v, strlen(v)))
		return 0;
	if (strchr(v, '*') || strchr(v, '?'))
		return FAIL("%s.%s.AWS[%zu] '%s': wildcards are not allowed in principal ARNs", ps->where, what, i, v);
	if (strncmp(v, "arn:", 4) != 0 || !arn_split(v, pp, pl) || pl[1] == 0 || pl[3] != 0 ||
	    !is_account_id(pp[4], pl[4]))
		return FAIL("%s.%s.AWS[%zu] '%s' is not a valid principal", ps->where, what, i, v);
	bool iam = pl[2] == 3 && memcmp(pp[2], "iam", 3) == 0, sts = pl[2] == 3 && memcmp(pp[2], "sts", 3) == 0;
	if (iam && strcmp(pp[5], "root") == 0) {
		*out = arena_strndup(ps->arena, pp[4], 12);
		return *out ? 0 : ECR_ENOMEM;
	}
	if ((iam && (strncmp(pp[5], "user/", 5) == 0 || strncmp(pp[5], "role/", 5) == 0) && pp[5][5]) ||
	    (sts && strncmp(pp[5], "assumed-role/", 13) == 0 && pp[5][13]))
		return 0;
	return FAIL("%s.%s.AWS[%zu] '%s' is not a valid principal", ps->where, what, i, v);
}

static int parse_principal(parser *ps, pset *out, const ecr__json *v, const char *what)
{
	int rc;
	if (v->type == ECR__JSON_STRING) {
		if (strcmp(v->string, "*") != 0)
			return FAIL("%s.%s must be \"*\" or an object such as {\"AWS\": ...}", ps->where, what);
		out->any = true;
		return 0;
	}
	if (v->type != ECR__JSON_OBJECT || v->count == 0)
		return FAIL("%s.%s must be \"*\" or a non-empty object such as {\"AWS\": ...}", ps->where, what);
	for (size_t k = 0; k < v->count; k++) {
		const char *key = v->keys[k];
		char sub[80];
		snprintf(sub, sizeof(sub), "%s.%s", what, key);
		if (strcmp(key, "AWS") == 0) {
			if ((rc = parse_strlist(ps, &out->aws, v->values[k], sub)))
				return rc;
			for (size_t i = 0; i < out->aws.n; i++) {
				if (strcmp(out->aws.v[i], "*") == 0)
					out->any = true;
				else if ((rc = aws_principal(ps, &out->aws.v[i], out->aws.v[i], what, i)))
					return rc;
			}
		} else if (strcmp(key, "Service") == 0) {
			if ((rc = parse_strlist(ps, &out->service, v->values[k], sub)))
				return rc;
			for (size_t i = 0; i < out->service.n; i++) {
				const char *s = out->service.v[i];
				for (const char *p = s; *p; p++)
					if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
					      *p == '-'))
						return FAIL("%s.%s[%zu] '%s' is not a valid service principal",
						            ps->where, sub, i, s);
			}
		} else {
			return FAIL("%s.%s has an unsupported principal type '%s' (expected AWS or Service)", ps->where,
			            what, key);
		}
	}
	return 0;
}

static const struct {
	const char *name;
	unsigned char op;
	bool negate;
} operators[] = {
    {"StringEquals", OP_STR_EQ, false},
    {"StringNotEquals", OP_STR_EQ, true},
    {"StringEqualsIgnoreCase", OP_STR_EQ_IC, false},
    {"StringNotEqualsIgnoreCase", OP_STR_EQ_IC, true},
    {"StringLike", OP_STR_LIKE, false},
    {"StringNotLike", OP_STR_LIKE, true},
    {"ArnEquals", OP_ARN, false},
    {"ArnLike", OP_ARN, false},
    {"ArnNotEquals", OP_ARN, true},
    {"ArnNotLike", OP_ARN, true},
    {"NumericEquals", OP_NUM_EQ, false},
    {"NumericNotEquals", OP_NUM_EQ, true},
    {"NumericLessThan", OP_NUM_LT, false},
    {"NumericLessThanEquals", OP_NUM_LE, false},
    {"NumericGreaterThan", OP_NUM_GT, false},
    {"NumericGreaterThanEquals", OP_NUM_GE, false},
    {"DateEquals", OP_DATE_EQ, false},
    {"DateNotEquals", OP_DATE_EQ, true},
    {"DateLessThan", OP_DATE_LT, false},
    {"DateLessThanEquals", OP_DATE_LE, false},
    {"DateGreaterThan", OP_DATE_GT, false},
    {"DateGreaterThanEquals", OP_DATE_GE, false},
    {"Bool", OP_BOOL, false},
    {"IpAddress", OP_IP, false},
    {"NotIpAddress", OP_IP, true},
    {"Null", OP_NULL, false},
};

static int parse_operator(parser *ps, pcond *c, const char *name)
{
	const char *n = name;
	size_t len;
	if (strncmp(n, "ForAnyValue:", 12) == 0) {
		c->set = SET_ANY;
		n += 12;
	} else if (strncmp(n, "ForAllValues:", 13) == 0) {
		c->set = SET_ALL;
		n += 13;
	}
	len = strlen(n);
	if (len > 8 && strcmp(n + len - 8, "IfExists") == 0) {
		c->if_exists = true;
		len -= 8;
	}
	for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
		if (strlen(operators[i].name) == len && strncmp(operators[i].name, n, len) == 0) {
			c->op = operators[i].op;
			c->negate = operators[i].negate;
			if (c->op == OP_NULL && (c->if_exists || c->set != SET_NONE))
				break;
			return 0;
		}
	}
	return FAIL("%s.Condition has an unknown operator '%s'", ps->where, name);
}

static int parse_condition_values(parser *ps, pcond *c, const ecr__json *v, const char *opname)
{
	size_t n = v->type == ECR__JSON_ARRAY ? v->count : 1, bytes;
	if (n == 0)
		return FAIL("%s.Condition.%s.%s has no values", ps->where, opname, c->key);
	if (ecr__mul_overflow(n, sizeof(char *), &bytes) || !(c->values = arena_alloc(ps->arena, bytes)))
		return ECR_ENOMEM;
	if (c->op >= OP_NUM_EQ && c->op <= OP_NUM_GE && !(c->nums = arena_alloc(ps->arena, n * sizeof(double))))
		return ECR_ENOMEM;
	if (c->op >= OP_DATE_EQ && c->op <= OP_DATE_GE && !(c->dates = arena_alloc(ps->arena, n * sizeof(int64_t))))
		return ECR_ENOMEM;
	if (c->op == OP_IP && !(c->cidrs = arena_alloc(ps->arena, n * sizeof(cidr))))
		return ECR_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const ecr__json *e = v->type == ECR__JSON_ARRAY ? v->values[i] : v;
		const char *s;
		size_t slen;
		if (e->type == ECR__JSON_STRING || e->type == ECR__JSON_NUMBER) {
			s = e->string;
			slen = e->type == ECR__JSON_STRING ? e->length : strlen(e->string);
		} else if (e->type == ECR__JSON_BOOL) {
			s = e->boolean ? "true" : "false";
			slen = strlen(s);
		} else {
			return FAIL("%s.Condition.%s.%s: values must be strings, numbers or booleans", ps->where,
			            opname, c->key);
		}
		if (strlen(s) != slen)
			return FAIL("%s.Condition.%s.%s: a value contains a NUL character", ps->where, opname, c->key);
		if (!(c->values[i] = arena_strndup(ps->arena, s, slen)))
			return ECR_ENOMEM;
		s = c->values[i];
		bool ok = true;
		if (c->nums)
			ok = parse_number(s, &c->nums[i]);
		else if (c->dates)
			ok = parse_date(s, &c->dates[i]);
		else if (c->cidrs)
			ok = parse_cidr(s, &c->cidrs[i], true);
		else if (c->op == OP_BOOL || c->op == OP_NULL)
			ok = strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0;
		if (!ok)
			return FAIL("%s.Condition.%s.%s: '%s' is not a valid value for this operator", ps->where,
			            opname, c->key, s);
	}
	c->nvalues = n;
	return 0;
}

static int parse_conditions(parser *ps, pstmt *st, const ecr__json *v)
{
	int rc;
	size_t total = 0;
	if (v->type != ECR__JSON_OBJECT)
		return FAIL("%s.Condition must be an object", ps->where);
	for (size_t i = 0; i < v->count; i++) {
		if (v->values[i]->type != ECR__JSON_OBJECT || v->values[i]->count == 0)
			return FAIL("%s.Condition.%s must be a non-empty object of condition keys", ps->where,
			            v->keys[i]);
		total += v->values[i]->count;
	}
	if (total && !(st->conds = arena_alloc(ps->arena, total * sizeof(pcond))))
		return ECR_ENOMEM;
	for (size_t i = 0; i < v->count; i++) {
		const ecr__json *block = v->values[i];
		for (size_t k = 0; k < block->count; k++) {
			pcond *c = &st->conds[st->nconds];
			if ((rc = parse_operator(ps, c, v->keys[i])))
				return rc;
			const char *key = block->keys[k];
			const char *colon = strchr(key, ':');
			if (!colon || colon == key || !colon[1] || strlen(key) > 256)
				return FAIL("%s.Condition.%s: '%s' is not a valid condition key", ps->where, v->keys[i],
				            key);
			if (!(c->key = arena_strndup(ps->arena, key, strlen(key))))
				return ECR_ENOMEM;
			if ((rc = parse_condition_values(ps, c, block->values[k], v->keys[i])))
				return rc;
			st->nconds++;
		}
	}
	return 0;
}

static int parse_statement(parser *ps, pstmt *st, const ecr__json *v)
{
	const ecr__json *effect = NULL, *principal = NULL, *notprincipal = NULL, *action = NULL, *notaction = NULL;
	const ecr__json *resource = NULL, *notresource = NULL, *condition = NULL;
	int rc;

	if (v->type != ECR__JSON_OBJECT)
		return FAIL("%s must be an object", ps->where);
	for (size_t i = 0; i < v->count; i++) {
		const char *k = v->keys[i];
		const ecr__json *m = v->values[i];
		if (strcmp(k, "Sid") == 0) {
			if (m->type != ECR__JSON_STRING)
				return FAIL("%s.Sid must be a string", ps->where);
		} else if (strcmp(k, "Effect") == 0) {
			effect = m;
		} else if (strcmp(k, "Principal") == 0) {
			principal = m;
		} else if (strcmp(k, "NotPrincipal") == 0) {
			notprincipal = m;
		} else if (strcmp(k, "Action") == 0) {
			action = m;
		} else if (strcmp(k, "NotAction") == 0) {
			notaction = m;
		} else if (strcmp(k, "Resource") == 0) {
			resource = m;
		} else if (strcmp(k, "NotResource") == 0) {
			notresource = m;
		} else if (strcmp(k, "Condition") == 0) {
			condition = m;
		} else {
			return FAIL("%s has an unknown member '%s'", ps->where, k);
		}
	}
	if (!effect)
		return FAIL("%s.Effect is missing", ps->where);
	if (effect->type != ECR__JSON_STRING || (strcmp(effect->string, "Allow") && strcmp(effect->string, "Deny")))
		return FAIL("%s.Effect must be Allow or Deny", ps->where);
	st->deny = strcmp(effect->string, "Deny") == 0;

	if (principal && notprincipal)
		return FAIL("%s has both Principal and NotPrincipal", ps->where);
	if (ps->kind == ECR_POLICY_IDENTITY && (principal || notprincipal))
		return FAIL("%s.%s is not allowed in an identity policy", ps->where,
		            principal ? "Principal" : "NotPrincipal");
	if (ps->kind == ECR_POLICY_RESOURCE && !principal && !notprincipal)
		return FAIL("%s.Principal is missing (a resource policy names its principals)", ps->where);
	if (principal || notprincipal) {
		st->has_principal = true;
		st->not_principal = notprincipal != NULL;
		if ((rc = parse_principal(ps, &st->principal, principal ? principal : notprincipal,
		                          principal ? "Principal" : "NotPrincipal")))
			return rc;
	}

	if (action && notaction)
		return FAIL("%s has both Action and NotAction", ps->where);
	if (!action && !notaction)
		return FAIL("%s.Action is missing", ps->where);
	st->not_action = notaction != NULL;
	const char *aname = action ? "Action" : "NotAction";
	if ((rc = parse_strlist(ps, &st->actions, action ? action : notaction, aname)) ||
	    (rc = check_actions(ps, &st->actions, aname)))
		return rc;

	if (resource && notresource)
		return FAIL("%s has both Resource and NotResource", ps->where);
	if (ps->kind == ECR_POLICY_IDENTITY && !resource && !notresource)
		return FAIL("%s.Resource is missing", ps->where);
	if (resource || notresource) {
		const char *rname = resource ? "Resource" : "NotResource";
		st->has_resource = true;
		st->not_resource = notresource != NULL;
		if ((rc = parse_strlist(ps, &st->resources, resource ? resource : notresource, rname)) ||
		    (rc = check_resources(ps, &st->resources, rname)))
			return rc;
	}
	if (condition && (rc = parse_conditions(ps, st, condition)))
		return rc;
	return 0;
}

int ecr_policy_parse(ecr_policy **out, const char *text, size_t len, ecr_policy_kind kind)
{
	ecr__json_limits limits = {ECR_POLICY_MAX_SIZE, 16, ECR_POLICY_MAX_SIZE, ECR_POLICY_MAX_SIZE};
	ecr__json *doc = NULL;
	ecr_policy *pol = NULL;
	chunk *arena = NULL;
	int rc;

	if (!out)
		return FAIL("no output pointer");
	*out = NULL;
	if (!text)
		return FAIL("no policy document");
	if (kind != ECR_POLICY_RESOURCE && kind != ECR_POLICY_IDENTITY)
		return FAIL("invalid policy kind %d", (int)kind);
	if (len > ECR_POLICY_MAX_SIZE)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_POLICY,
		                 "the policy document is %zu bytes; at most %d are allowed", len, ECR_POLICY_MAX_SIZE);
	if ((rc = ecr__json_parse(&doc, text, len, &limits)))
		return rc == ECR_ELIMIT || rc == ECR_EINVALID ? ecr__error_recode(ECR_EINVALID) : rc;
	if (!(pol = arena_alloc(&arena, sizeof(*pol)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	pol->kind = kind;
	parser ps = {&arena, kind, "Statement"};
	if (doc->type != ECR__JSON_OBJECT) {
		rc = FAIL("the policy document must be a JSON object");
		goto done;
	}
	const ecr__json *stmts = NULL;
	for (size_t i = 0; i < doc->count; i++) {
		const char *k = doc->keys[i];
		const ecr__json *m = doc->values[i];
		if (strcmp(k, "Version") == 0) {
			if (m->type != ECR__JSON_STRING ||
			    (strcmp(m->string, "2012-10-17") && strcmp(m->string, "2008-10-17"))) {
				rc = FAIL("Version must be \"2012-10-17\" or \"2008-10-17\"");
				goto done;
			}
		} else if (strcmp(k, "Id") == 0) {
			if (m->type != ECR__JSON_STRING) {
				rc = FAIL("Id must be a string");
				goto done;
			}
		} else if (strcmp(k, "Statement") == 0) {
			stmts = m;
		} else {
			rc = FAIL("the policy document has an unknown member '%s'", k);
			goto done;
		}
	}
	if (!stmts) {
		rc = FAIL("Statement is missing");
		goto done;
	}
	if (stmts->type == ECR__JSON_OBJECT) {
		pol->nstmts = 1;
	} else if (stmts->type == ECR__JSON_ARRAY) {
		pol->nstmts = stmts->count;
	} else {
		rc = FAIL("Statement must be an object or a list of objects");
		goto done;
	}
	if (pol->nstmts == 0) {
		rc = FAIL("Statement must have at least one statement");
		goto done;
	}
	if (!(pol->stmts = arena_alloc(&arena, pol->nstmts * sizeof(pstmt)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < pol->nstmts; i++) {
		const ecr__json *s = stmts->type == ECR__JSON_ARRAY ? stmts->values[i] : stmts;
		if (stmts->type == ECR__JSON_ARRAY)
			snprintf(ps.where, sizeof(ps.where), "Statement[%zu]", i);
		if ((rc = parse_statement(&ps, &pol->stmts[i], s)))
			goto done;
		/* IAM rejects duplicate Sids in identity policies; ECR accepts them in resource policies. */
		const char *sid = ecr__json_get_string(s, "Sid");
		for (size_t j = 0; kind == ECR_POLICY_IDENTITY && sid && *sid && j < i; j++) {
			const char *other = ecr__json_get_string(stmts->values[j], "Sid");
			if (other && strcmp(other, sid) == 0) {
				rc = FAIL("%s.Sid '%s' is not unique (also Statement[%zu].Sid)", ps.where, sid, j);
				goto done;
			}
		}
	}
	pol->arena = arena;
	arena = NULL;
	*out = pol;
	pol = NULL;
	rc = 0;
done:
	ecr__json_free(doc);
	while (arena) {
		chunk *next = arena->next;
		ecr__free(arena);
		arena = next;
	}
	return rc;
}

void ecr_policy_free(ecr_policy *policy)
{
	if (!policy)
		return;
	chunk *c = policy->arena; /* policy itself lives in the arena */
	while (c) {
		chunk *next = c->next;
		ecr__free(c);
		c = next;
	}
}

int ecr_policy_request_init(ecr_policy_request *req, unsigned int version)
{
	int rc;
	if (!req)
		return FAIL("no request");
	if ((rc = ecr__check_version(version, ECR_POLICY_REQUEST_VERSION, "ecr_policy_request")))
		return rc;
	memset(req, 0, sizeof(*req));
	req->version = version;
	return 0;
}

/* --- evaluation --- */

typedef struct evalctx {
	const ecr_policy_request *req;
	const char *account; /* the caller's account: given, or from the ARN */
	size_t account_len;
	char scratch[48];
} evalctx;

/* "aws:ResourceTag/k" and "ecr:ResourceTag/k" name the same key. */
static const char *key_norm(const char *k)
{
	if ((strncasecmp(k, "aws:", 4) == 0 || strncasecmp(k, "ecr:", 4) == 0) &&
	    strncasecmp(k + 4, "resourcetag/", 12) == 0)
		return k + 4;
	return k;
}

static bool key_eq(const char *a, const char *b)
{
	return strcasecmp(key_norm(a), key_norm(b)) == 0;
}

/* A value the request implies for a key it does not supply. */
static const char *derived_value(evalctx *ctx, const char *key)
{
	const ecr_policy_request *req = ctx->req;
	if (strcasecmp(key, "aws:PrincipalArn") == 0)
		return req->principal_arn;
	if (strcasecmp(key, "aws:PrincipalAccount") == 0) {
		if (!ctx->account || ctx->account_len >= sizeof(ctx->scratch))
			return NULL;
		memcpy(ctx->scratch, ctx->account, ctx->account_len);
		ctx->scratch[ctx->account_len] = '\0';
		return ctx->scratch;
	}
	if (strcasecmp(key, "aws:username") == 0) {
		const char *pp[6];
		size_t pl[6];
		if (!req->principal_arn || !arn_split(req->principal_arn, pp, pl) || strncmp(pp[5], "user/", 5) != 0)
			return NULL;
		const char *slash = strrchr(pp[5], '/');
		return slash[1] ? slash + 1 : NULL;
	}
	if (strcasecmp(key, "aws:CurrentTime") == 0) {
		if (ecr__time_format_iso8601(ctx->scratch, sizeof(ctx->scratch), ecr__time_now_ms()) != 0)
			return NULL;
		return ctx->scratch;
	}
	if (strcasecmp(key, "aws:EpochTime") == 0) {
		snprintf(ctx->scratch, sizeof(ctx->scratch), "%lld", (long long)(ecr__time_now_ms() / 1000));
		return ctx->scratch;
	}
	return NULL;
}

/* The idx-th value of key in the request, or NULL when there are no more. */
static const char *req_value(evalctx *ctx, const char *key, size_t idx)
{
	const ecr_policy_request *req = ctx->req;
	size_t seen = 0;
	for (size_t i = 0; i < req->keys_count; i++)
		if (key_eq(key, req->keys[i].name) && seen++ == idx)
			return req->keys[i].value;
	if (seen == 0 && idx == 0)
		return derived_value(ctx, key);
	return NULL;
}

/* Whether one request value matches any of the condition's values (the positive operator). -1: unusable value. */
static int value_matches(const pcond *c, const char *v)
{
	double num = 0;
	int64_t date = 0;
	cidr ip;
	if (c->nums && !parse_number(v, &num))
		return -1;
	if (c->dates && !parse_date(v, &date))
		return -1;
	if (c->cidrs && !parse_cidr(v, &ip, false))
		return -1;
	for (size_t i = 0; i < c->nvalues; i++) {
		const char *p = c->values[i];
		bool m = false;
		switch (c->op) {
		case OP_STR_EQ:
			m = strcmp(p, v) == 0;
			break;
		case OP_STR_EQ_IC:
			m = strcasecmp(p, v) == 0;
			break;
		case OP_STR_LIKE:
			m = glob(p, v, false);
			break;
		case OP_ARN:
			m = arn_match(p, v);
			break;
		case OP_NUM_EQ:
			m = num == c->nums[i];
			break;
		case OP_NUM_LT:
			m = num < c->nums[i];
			break;
		case OP_NUM_LE:
			m = num <= c->nums[i];
			break;
		case OP_NUM_GT:
			m = num > c->nums[i];
			break;
		case OP_NUM_GE:
			m = num >= c->nums[i];
			break;
		case OP_DATE_EQ:
			m = date == c->dates[i];
			break;
		case OP_DATE_LT:
			m = date < c->dates[i];
			break;
		case OP_DATE_LE:
			m = date <= c->dates[i];
			break;
		case OP_DATE_GT:
			m = date > c->dates[i];
			break;
		case OP_DATE_GE:
			m = date >= c->dates[i];
			break;
		case OP_BOOL:
			m = strcasecmp(p, v) == 0;
			break;
		case OP_IP:
			m = cidr_contains(&c->cidrs[i], &ip);
			break;
		default:
			break;
		}
		if (m)
			return 1;
	}
	return 0;
}

/* The operator applied to one request value, negation included. */
static bool value_ok(const pcond *c, const char *v)
{
	int m = value_matches(c, v);
	if (m < 0)
		return false;
	return c->negate ? !m : m;
}

static bool condition_true(evalctx *ctx, const pcond *c)
{
	const char *first = req_value(ctx, c->key, 0);
	if (c->op == OP_NULL) { /* "Null": "true" means the key must be absent, "false" present */
		for (size_t i = 0; i < c->nvalues; i++)
			if ((strcasecmp(c->values[i], "true") == 0) == (first == NULL))
				return true;
		return false;
	}
	if (!first) {
		if (c->if_exists || c->set == SET_ALL)
			return true;
		if (c->set == SET_ANY)
			return false;
		return c->negate; /* a missing key matches only negated operators */
	}
	if (c->set == SET_ALL) {
		for (size_t i = 0;; i++) {
			const char *v = i ? req_value(ctx, c->key, i) : first;
			if (!v)
				return true;
			if (!value_ok(c, v))
				return false;
		}
	}
	if (c->set == SET_ANY) {
		for (size_t i = 0;; i++) {
			const char *v = i ? req_value(ctx, c->key, i) : first;
			if (!v)
				return false;
			if (value_ok(c, v))
				return true;
		}
	}
	/* No qualifier: the positive operator holds when any value matches; a negated one when none does. */
	bool any = false, usable = false;
	for (size_t i = 0;; i++) {
		const char *v = i ? req_value(ctx, c->key, i) : first;
		if (!v)
			break;
		int m = value_matches(c, v);
		if (m >= 0)
			usable = true;
		if (m > 0)
			any = true;
	}
	if (!usable)
		return false;
	return c->negate ? !any : any;
}

static bool principal_in(const evalctx *ctx, const pset *p)
{
	const char *arn = ctx->req->principal_arn;
	if (p->any)
		return true;
	if (!arn && !ctx->account)
		return false;                      /* anonymous: only "*" */
	if (arn && strncmp(arn, "arn:", 4) != 0) { /* a service principal */
		for (size_t i = 0; i < p->service.n; i++)
			if (strcasecmp(p->service.v[i], arn) == 0)
				return true;
		return false;
	}
	for (size_t i = 0; i < p->aws.n; i++) {
		const char *e = p->aws.v[i];
		if (is_account_id(e, strlen(e))) {
			if (ctx->account && ctx->account_len == 12 && memcmp(ctx->account, e, 12) == 0)
				return true;
		} else if (arn && strcmp(arn, e) == 0) {
			return true;
		}
	}
	return false;
}

static bool statement_applies(evalctx *ctx, const ecr_policy *pol, const pstmt *st)
{
	const ecr_policy_request *req = ctx->req;
	bool m = false;
	if (pol->kind == ECR_POLICY_RESOURCE && st->has_principal &&
	    principal_in(ctx, &st->principal) == st->not_principal)
		return false;
	for (size_t i = 0; !m && i < st->actions.n; i++)
		m = glob(st->actions.v[i], req->action, true);
	if (m == st->not_action)
		return false;
	if (st->has_resource) {
		m = false;
		for (size_t i = 0; !m && i < st->resources.n; i++)
			m = arn_match(st->resources.v[i], req->resource);
		if (m == st->not_resource)
			return false;
	}
	for (size_t i = 0; i < st->nconds; i++)
		if (!condition_true(ctx, &st->conds[i]))
			return false;
	return true;
}

int ecr_policy_evaluate(ecr_policy_decision *out, const ecr_policy *policy, const ecr_policy_request *req)
{
	int rc;
	if (!out || !policy || !req)
		return FAIL("ecr_policy_evaluate needs a decision pointer, a policy and a request");
	*out = ECR_POLICY_NOT_APPLICABLE;
	if ((rc = ecr__check_version(req->version, ECR_POLICY_REQUEST_VERSION, "ecr_policy_request")))
		return rc;
	if (!req->action || !req->resource)
		return FAIL("the request needs an action and a resource");
	if (req->keys_count && !req->keys)
		return FAIL("the request has %zu condition keys but no array", req->keys_count);
	for (size_t i = 0; i < req->keys_count; i++)
		if (!req->keys[i].name || !req->keys[i].value)
			return FAIL("condition key %zu of the request has no name or no value", i);

	evalctx ctx = {0};
	ctx.req = req;
	if (req->principal_account) {
		ctx.account = req->principal_account;
		ctx.account_len = strlen(req->principal_account);
	} else if (req->principal_arn) {
		const char *pp[6];
		size_t pl[6];
		if (arn_split(req->principal_arn, pp, pl) && pl[4]) {
			ctx.account = pp[4];
			ctx.account_len = pl[4];
		}
	}
	bool allowed = false;
	for (size_t i = 0; i < policy->nstmts; i++) {
		const pstmt *st = &policy->stmts[i];
		if (allowed && !st->deny)
			continue;
		if (!statement_applies(&ctx, policy, st))
			continue;
		if (st->deny) {
			*out = ECR_POLICY_DENY;
			return 0;
		}
		allowed = true;
	}
	*out = allowed ? ECR_POLICY_ALLOW : ECR_POLICY_NOT_APPLICABLE;
	return 0;
}
