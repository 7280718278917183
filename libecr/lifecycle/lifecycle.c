/* Lifecycle policies: parse and validate ECR's grammar (ecr-api.md 8.1) into an
 * immutable form, and evaluate it over a set of images (8.2, 8.3) without
 * touching storage.
 *
 * Evaluation, as implemented here:
 * - Rules run in rulePriority order. A rule selects the images of its storage
 *   class (standard: STANDARD images, archive: ARCHIVE images) whose tags match
 *   its tagStatus and list. imageCountMoreThan orders every selected image
 *   (claimed ones too) youngest first by push time (the restore time for a
 *   restored image), ties broken by digest (the smaller digest counts as the
 *   younger), and marks all but the first countNumber; since* marks the
 *   selected images older than countNumber days. A marked image that no
 *   earlier rule selected gets the rule's action; every selected image is then
 *   claimed.
 * - A referrer whose subject is in the set is not an image of its own: rules
 *   neither select nor count it, and it takes its subject's final decision
 *   (expired with it, archived with it if it is a STANDARD image, kept
 *   otherwise). A referrer whose subject is not in the set (or whose subject
 *   chain loops) is treated as an ordinary image.
 * - An image listed by indexes in the set is expired only if every one of
 *   those indexes is expired, and archived only if none of them is kept;
 *   otherwise it is kept (it stays with its parent; a later run, after the
 *   index is gone, may act on it). This is applied until nothing changes, so
 *   nested indexes and referrers of children are covered.
 */
#include "../core/json.h"
#include "lifecycle_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum tag_status { TS_TAGGED, TS_UNTAGGED, TS_ANY };
enum list_kind { LIST_NONE, LIST_PREFIX, LIST_PATTERN };
enum count_type { CT_MORE_THAN, CT_PUSHED, CT_PULLED, CT_TRANSITIONED };

typedef struct lc_rule {
	uint32_t priority;
	unsigned char tag_status; /* enum tag_status */
	unsigned char list_kind;  /* enum list_kind */
	unsigned char count_type; /* enum count_type */
	ecr_storage_class storage_class;
	ecr_lifecycle_action action;
	int64_t count_number;
	char **list;
	size_t list_count;
} lc_rule;

struct ecr_lifecycle_policy {
	lc_rule *rules; /* sorted by priority */
	size_t count;
};

#define MAX_WILDCARDS 4
#define MIN_ARCHIVE_DAYS 90
#define MAX_COUNT_NUMBER INT32_MAX
#define MAX_DETAIL 700 /* the error message holds 1024 bytes */
#define MAX_REFERRER_DEPTH 64

/* --- messages --- */

static int invalid(const char *fmt, ...) ECR__PRINTF(1, 2);

static int invalid(const char *fmt, ...)
{
	char detail[MAX_DETAIL];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return ecr__fail(ECR_EINVALID, ECR_ERROR_POLICY, ECR__LIFECYCLE_INVALID_PREFIX "%s'", detail);
}

/* Append a JSON string (escaped, cut at 64 bytes) to a bounded buffer. */
static void put_quoted(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = *len;
	if (n + 2 >= cap)
		return;
	buf[n++] = '"';
	for (size_t i = 0; s[i] && i < 64 && n + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	if (n + 1 < cap)
		buf[n++] = '"';
	buf[n] = '\0';
	*len = n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted list of names as ["a","b"]. */
static void name_list(char *buf, size_t cap, const char **names, size_t n)
{
	size_t len = 0;
	qsort(names, n, sizeof(*names), cmp_str);
	buf[len++] = '[';
	for (size_t i = 0; i < n && len + 4 < cap; i++) {
		if (i)
			buf[len++] = ',';
		put_quoted(buf, cap, &len, names[i]);
	}
	if (len + 1 < cap)
		buf[len++] = ']';
	buf[len] = '\0';
}

static const char *type_name(const ecr__json *v)
{
	switch (v->type) {
	case ECR__JSON_NULL:
		return "null";
	case ECR__JSON_BOOL:
		return "boolean";
	case ECR__JSON_NUMBER:
		return v->is_integer ? "integer" : "number";
	case ECR__JSON_STRING:
		return "string";
	case ECR__JSON_ARRAY:
		return "array";
	default:
		return "object";
	}
}

static int bad_type(const ecr__json *v, const char *want)
{
	return invalid("instance type (%s) does not match any allowed primitive type (allowed: [\"%s\"])", type_name(v),
	               want);
}

/* --- schema-ish checks --- */

/* v must be an object whose keys are in allowed (n of them) and which has every
 * key of required (NULL-terminated). */
static int check_object(const ecr__json *v, const char *const *allowed, size_t n, const char *const *required)
{
	const char *names[16];
	size_t bad = 0;
	char list[MAX_DETAIL / 2];

	if (v->type != ECR__JSON_OBJECT)
		return bad_type(v, "object");
	for (size_t i = 0; i < v->count; i++) {
		size_t j = 0;
		while (j < n && strcmp(v->keys[i], allowed[j]) != 0)
			j++;
		if (j == n && bad < 16)
			names[bad++] = v->keys[i];
	}
	if (bad) {
		name_list(list, sizeof(list), names, bad);
		return invalid("object instance has properties which are not allowed by the schema: (%s)", list);
	}
	for (size_t j = 0; required[j]; j++)
		if (!ecr__json_get(v, required[j]) && bad < 16)
			names[bad++] = required[j];
	if (bad) {
		name_list(list, sizeof(list), names, bad);
		return invalid("object has missing required properties (%s)", list);
	}
	return 0;
}

/* A string member (if present) from a sorted enum; *out gets its index, -1 when absent. */
static int check_enum(int *out, const ecr__json *obj, const char *key, const char *const *values, size_t n)
{
	const ecr__json *v = ecr__json_get(obj, key);
	char list[MAX_DETAIL / 2];
	size_t len = 0;

	*out = -1;
	if (!v)
		return 0;
	if (v->type != ECR__JSON_STRING)
		return bad_type(v, "string");
	for (size_t i = 0; i < n; i++)
		if (strlen(values[i]) == v->length && memcmp(values[i], v->string, v->length) == 0) {
			*out = (int)i;
			return 0;
		}
	list[len++] = '[';
	for (size_t i = 0; i < n; i++) {
		if (i) {
			list[len++] = ',';
			list[len++] = ' ';
		}
		put_quoted(list, sizeof(list), &len, values[i]);
	}
	list[len++] = ']';
	list[len] = '\0';
	return invalid("instance value (%.64s) not found in enum :(possible values: %s)", v->string, list);
}

/* An integer member in [1, MAX_COUNT_NUMBER]. */
static int check_int(int64_t *out, const ecr__json *obj, const char *key)
{
	const ecr__json *v = ecr__json_get(obj, key);
	if (v->type != ECR__JSON_NUMBER || !v->is_integer)
		return bad_type(v, "integer");
	if (v->integer < 1)
		return invalid("numeric instance is lower than the required minimum (minimum: 1, found: %lld)",
		               (long long)v->integer);
	if (v->integer > MAX_COUNT_NUMBER)
		return invalid("numeric instance is greater than the required maximum (maximum: %d, found: %lld)",
		               MAX_COUNT_NUMBER, (long long)v->integer);
	*out = v->integer;
	return 0;
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

/* tagPrefixList / tagPatternList: an array of 1.. non-empty strings without NUL. */
static int parse_list(lc_rule *r, const ecr__json *v, const char *name, enum list_kind kind)
{
	if (v->type != ECR__JSON_ARRAY)
		return bad_type(v, "array");
	if (v->count < 1)
		return invalid("array is too short: must have at least 1 elements but instance has 0 elements");
	for (size_t i = 0; i < v->count; i++) {
		const ecr__json *s = v->values[i];
		if (s->type != ECR__JSON_STRING)
			return bad_type(s, "string");
		if (s->length < 1)
			return invalid("string \"\" is too short (length: 0, required minimum: 1)");
		if (strlen(s->string) != s->length)
			return invalid("%s entries must not contain NUL characters", name);
		if (kind == LIST_PATTERN && count_char(s->string, '*') > MAX_WILDCARDS)
			return invalid("tagPatternList entry \"%.64s\" has more than %d wildcards (*)", s->string,
			               MAX_WILDCARDS);
	}
	if (!(r->list = ecr__calloc(v->count, sizeof(char *))))
		return ECR_ENOMEM;
	for (size_t i = 0; i < v->count; i++) {
		if (!(r->list[i] = ecr__strdup(v->values[i]->string)))
			return ECR_ENOMEM;
		r->list_count = i + 1;
	}
	r->list_kind = (unsigned char)kind;
	return 0;
}

static const char *const RULE_KEYS[] = {"action", "description", "rulePriority", "selection"};
static const char *const RULE_REQUIRED[] = {"action", "rulePriority", "selection", NULL};
static const char *const SEL_KEYS[] = {"countNumber",    "countType",     "countUnit", "storageClass",
                                       "tagPatternList", "tagPrefixList", "tagStatus"};
static const char *const SEL_REQUIRED[] = {"countNumber", "countType", "tagStatus", NULL};
static const char *const ACT_KEYS[] = {"targetStorageClass", "type"};
static const char *const ACT_REQUIRED[] = {"type", NULL};
static const char *const TOP_KEYS[] = {"rules"};
static const char *const TOP_REQUIRED[] = {"rules", NULL};

/* Sorted enums (the order of the values in messages); the maps give our codes. */
static const char *const TAG_STATUS[] = {"any", "tagged", "untagged"};
static const unsigned char TAG_STATUS_MAP[] = {TS_ANY, TS_TAGGED, TS_UNTAGGED};
static const char *const COUNT_TYPE[] = {"imageCountMoreThan", "sinceImagePulled", "sinceImagePushed",
                                         "sinceImageTransitioned"};
static const unsigned char COUNT_TYPE_MAP[] = {CT_MORE_THAN, CT_PULLED, CT_PUSHED, CT_TRANSITIONED};
static const char *const COUNT_UNIT[] = {"days"};
static const char *const STORAGE[] = {"archive", "standard"};
static const char *const TARGET[] = {"archive"};
static const char *const ACTION[] = {"expire", "transition"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int parse_rule(lc_rule *r, const ecr__json *v)
{
	const ecr__json *sel, *act, *desc, *prefix, *pattern;
	int ts, ct, cu, sc, at, tsc, rc;
	int64_t prio = 0;

	if ((rc = check_object(v, RULE_KEYS, N(RULE_KEYS), RULE_REQUIRED)) != 0)
		return rc;
	if ((rc = check_int(&prio, v, "rulePriority")) != 0)
		return rc;
	r->priority = (uint32_t)prio;
	if ((desc = ecr__json_get(v, "description")) && desc->type != ECR__JSON_STRING)
		return bad_type(desc, "string");

	sel = ecr__json_get(v, "selection");
	if ((rc = check_object(sel, SEL_KEYS, N(SEL_KEYS), SEL_REQUIRED)) != 0 ||
	    (rc = check_enum(&ts, sel, "tagStatus", TAG_STATUS, N(TAG_STATUS))) != 0 ||
	    (rc = check_enum(&ct, sel, "countType", COUNT_TYPE, N(COUNT_TYPE))) != 0 ||
	    (rc = check_enum(&cu, sel, "countUnit", COUNT_UNIT, N(COUNT_UNIT))) != 0 ||
	    (rc = check_enum(&sc, sel, "storageClass", STORAGE, N(STORAGE))) != 0 ||
	    (rc = check_int(&r->count_number, sel, "countNumber")) != 0)
		return rc;
	r->tag_status = TAG_STATUS_MAP[ts];
	r->count_type = COUNT_TYPE_MAP[ct];
	r->storage_class = sc == 0 ? ECR_STORAGE_CLASS_ARCHIVE : ECR_STORAGE_CLASS_STANDARD;

	act = ecr__json_get(v, "action");
	if ((rc = check_object(act, ACT_KEYS, N(ACT_KEYS), ACT_REQUIRED)) != 0 ||
	    (rc = check_enum(&at, act, "type", ACTION, N(ACTION))) != 0 ||
	    (rc = check_enum(&tsc, act, "targetStorageClass", TARGET, N(TARGET))) != 0)
		return rc;
	r->action = at == 0 ? ECR_LIFECYCLE_EXPIRE : ECR_LIFECYCLE_TRANSITION;

	/* the rules beyond the schema */
	prefix = ecr__json_get(sel, "tagPrefixList");
	pattern = ecr__json_get(sel, "tagPatternList");
	if (prefix && pattern)
		return invalid("tagPrefixList and tagPatternList cannot both be specified in one rule");
	if ((prefix || pattern) && r->tag_status != TS_TAGGED)
		return invalid("%s can only be specified when tagStatus is set to 'tagged'",
		               prefix ? "tagPrefixList" : "tagPatternList");
	if (!prefix && !pattern && r->tag_status == TS_TAGGED)
		return invalid("tagPrefixList or tagPatternList must be specified when tagStatus is set to 'tagged'");
	if (prefix && (rc = parse_list(r, prefix, "tagPrefixList", LIST_PREFIX)) != 0)
		return rc;
	if (pattern && (rc = parse_list(r, pattern, "tagPatternList", LIST_PATTERN)) != 0)
		return rc;

	if (r->count_type == CT_MORE_THAN && cu >= 0)
		return invalid("countUnit cannot be specified when countType is set to 'imageCountMoreThan'");
	if (r->count_type != CT_MORE_THAN && cu < 0)
		return invalid("countUnit must be specified when countType is set to '%s'", COUNT_TYPE[ct]);
	if (r->action == ECR_LIFECYCLE_TRANSITION && tsc < 0)
		return invalid("targetStorageClass must be specified when the action type is 'transition'");
	if (r->action == ECR_LIFECYCLE_EXPIRE && tsc >= 0)
		return invalid("targetStorageClass can only be specified when the action type is 'transition'");
	if (r->count_type == CT_PULLED && r->action == ECR_LIFECYCLE_EXPIRE)
		return invalid("countType 'sinceImagePulled' can only be used with the action type 'transition'");
	if (r->count_type == CT_TRANSITIONED) {
		if (r->storage_class != ECR_STORAGE_CLASS_ARCHIVE)
			return invalid("countType 'sinceImageTransitioned' requires storageClass 'archive'");
		if (r->action != ECR_LIFECYCLE_EXPIRE)
			return invalid(
			    "countType 'sinceImageTransitioned' can only be used with the action type 'expire'");
		if (r->count_number < MIN_ARCHIVE_DAYS)
			return invalid("archived images cannot be expired before %d days (countNumber %lld)",
			               MIN_ARCHIVE_DAYS, (long long)r->count_number);
	} else if (r->storage_class == ECR_STORAGE_CLASS_ARCHIVE) {
		return invalid("storageClass 'archive' can only be used with countType 'sinceImageTransitioned'");
	}
	return 0;
}

static int cmp_rule(const void *a, const void *b)
{
	const lc_rule *x = a, *y = b;
	return x->priority < y->priority ? -1 : x->priority > y->priority;
}

/* Rules against each other (rules sorted by priority). */
static int check_rules(const lc_rule *rules, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (rules[i].priority == rules[i - 1].priority)
			return invalid("rulePriority %u is used by more than one rule: rulePriority must be unique",
			               rules[i].priority);
	for (int sc = 0; sc < 2; sc++) {
		size_t untagged = 0, last = SIZE_MAX;
		for (size_t i = 0; i < n; i++) {
			if (rules[i].storage_class != (ecr_storage_class)sc)
				continue;
			last = i;
			untagged += rules[i].tag_status == TS_UNTAGGED;
		}
		if (untagged > 1)
			return invalid(
			    "only one rule per storage class can select untagged images (tagStatus 'untagged')");
		for (size_t i = 0; i < n; i++)
			if (rules[i].storage_class == (ecr_storage_class)sc && rules[i].tag_status == TS_ANY &&
			    i != last)
				return invalid(
				    "the rule with tagStatus 'any' must have the highest rulePriority of its storage "
				    "class and be evaluated last (rulePriority %u is not)",
				    rules[i].priority);
	}
	return 0;
}

void ecr_lifecycle_policy_free(ecr_lifecycle_policy *policy)
{
	if (!policy)
		return;
	for (size_t i = 0; i < policy->count; i++) {
		for (size_t j = 0; j < policy->rules[i].list_count; j++)
			ecr__free(policy->rules[i].list[j]);
		ecr__free(policy->rules[i].list);
	}
	ecr__free(policy->rules);
	ecr__free(policy);
}

size_t ecr_lifecycle_policy_rule_count(const ecr_lifecycle_policy *policy)
{
	return policy ? policy->count : 0;
}

int ecr_lifecycle_policy_parse(ecr_lifecycle_policy **out, const char *text, size_t len)
{
	ecr_lifecycle_policy *p = NULL;
	ecr__json *doc = NULL;
	const ecr__json *rules;
	size_t chars = 0;
	int rc;
	ecr__json_limits limits = {ECR_LIFECYCLE_POLICY_MAX_SIZE * 4, 16, 40000, ECR_LIFECYCLE_POLICY_MAX_SIZE * 4};

	if (!out || (!text && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_lifecycle_policy_parse: NULL argument");
	*out = NULL;
	/* length in characters (UTF-8 code points; the JSON parser checks the encoding) */
	for (size_t i = 0; i < len && chars <= ECR_LIFECYCLE_POLICY_MAX_SIZE; i++)
		chars += ((unsigned char)text[i] & 0xC0) != 0x80;
	if (chars < ECR_LIFECYCLE_POLICY_MIN_SIZE)
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_POLICY,
		    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Member must have length "
		    "greater than or equal to %d'",
		    ECR_LIFECYCLE_POLICY_MIN_SIZE);
	if (chars > ECR_LIFECYCLE_POLICY_MAX_SIZE)
		return ecr__fail(
		    ECR_EINVALID, ECR_ERROR_POLICY,
		    "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Member must have length "
		    "less than or equal to %d'",
		    ECR_LIFECYCLE_POLICY_MAX_SIZE);
	if ((rc = ecr__json_parse(&doc, text, len, &limits)) != 0) {
		if (rc == ECR_ENOMEM)
			goto done;
		rc = invalid("Invalid JSON (%.200s)", ecr_error_last()->message);
		goto done;
	}
	if ((rc = check_object(doc, TOP_KEYS, N(TOP_KEYS), TOP_REQUIRED)) != 0)
		goto done;
	rules = ecr__json_get(doc, "rules");
	if (rules->type != ECR__JSON_ARRAY) {
		rc = bad_type(rules, "array");
		goto done;
	}
	if (rules->count < 1 || rules->count > ECR_LIFECYCLE_MAX_RULES) {
		rc = invalid("array is too %s: must have at %s %d elements but instance has %zu elements",
		             rules->count < 1 ? "short" : "long", rules->count < 1 ? "least" : "most",
		             rules->count < 1 ? 1 : ECR_LIFECYCLE_MAX_RULES, rules->count);
		goto done;
	}
	if (!(p = ecr__calloc(1, sizeof(*p))) || !(p->rules = ecr__calloc(rules->count, sizeof(lc_rule)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < rules->count; i++) {
		p->count = i + 1;
		if ((rc = parse_rule(&p->rules[i], rules->values[i])) != 0)
			goto done;
	}
	qsort(p->rules, p->count, sizeof(lc_rule), cmp_rule);
	if ((rc = check_rules(p->rules, p->count)) != 0)
		goto done;
	*out = p;
	p = NULL;
done:
	ecr_lifecycle_policy_free(p);
	ecr__json_free(doc);
	return rc;
}

/* --- evaluation --- */

const char *ecr__lifecycle_action_name(ecr_lifecycle_action action)
{
	switch (action) {
	case ECR_LIFECYCLE_EXPIRE:
		return "EXPIRE";
	case ECR_LIFECYCLE_TRANSITION:
		return "TRANSITION";
	default:
		return NULL;
	}
}

int ecr__lifecycle_rule_target(const ecr_lifecycle_policy *policy, uint32_t rule_priority)
{
	if (!policy)
		return -1;
	for (size_t i = 0; i < policy->count; i++)
		if (policy->rules[i].priority == rule_priority)
			return policy->rules[i].action == ECR_LIFECYCLE_TRANSITION ? (int)ECR_STORAGE_CLASS_ARCHIVE
			                                                           : -1;
	return -1;
}

/* Anchored glob where '*' matches any run (possibly empty). */
static bool glob(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;
	while (*s) {
		if (*p == '*') {
			star_p = p++;
			star_s = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star_p) {
			p = star_p + 1;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static bool selects(const lc_rule *r, const ecr_lifecycle_image *img)
{
	if (img->storage_class != r->storage_class)
		return false;
	switch (r->tag_status) {
	case TS_UNTAGGED:
		return img->tags_count == 0;
	case TS_ANY:
		return true;
	default:
		break;
	}
	if (img->tags_count == 0)
		return false;
	for (size_t i = 0; i < r->list_count; i++) {
		const char *e = r->list[i];
		size_t el = strlen(e), j;
		for (j = 0; j < img->tags_count; j++) {
			const char *t = img->tags[j];
			if (r->list_kind == LIST_PREFIX ? strncmp(t, e, el) == 0 : glob(e, t))
				break;
		}
		if (j == img->tags_count)
			return false;
	}
	return true;
}

/* The push time as lifecycle sees it: a restored image counts as pushed when restored. */
static int64_t push_time(const ecr_lifecycle_image *img)
{
	return img->last_activated_at ? img->last_activated_at : img->pushed_at;
}

/* now - t > days, without overflow. */
static bool older_than(int64_t now, int64_t t, int64_t days)
{
	int64_t age;
	if (__builtin_sub_overflow(now, t, &age))
		return now > t;
	return age > days * ECR__LIFECYCLE_DAY_MS;
}

static bool marked_by_age(const lc_rule *r, const ecr_lifecycle_image *img, int64_t now)
{
	int64_t t;
	switch (r->count_type) {
	case CT_PUSHED:
		t = push_time(img);
		break;
	case CT_PULLED:
		t = img->last_pulled_at;
		if (!t || img->last_activated_at > t)
			t = push_time(img);
		break;
	default: /* CT_TRANSITIONED: an image without an archive time is never old enough */
		if (!img->last_archived_at)
			return false;
		t = img->last_archived_at;
		break;
	}
	return older_than(now, t, r->count_number);
}

/* Merge sort of indexes with a context (qsort has none in C11). */
typedef int (*idx_cmp)(size_t a, size_t b, const ecr_lifecycle_image *images);

static void merge_sort(size_t *v, size_t *tmp, size_t n, idx_cmp cmp, const ecr_lifecycle_image *images)
{
	if (n < 2)
		return;
	size_t h = n / 2, i = 0, j = h, k = 0;
	merge_sort(v, tmp, h, cmp, images);
	merge_sort(v + h, tmp, n - h, cmp, images);
	while (i < h && j < n)
		tmp[k++] = cmp(v[j], v[i], images) < 0 ? v[j++] : v[i++];
	while (i < h)
		tmp[k++] = v[i++];
	while (j < n)
		tmp[k++] = v[j++];
	memcpy(v, tmp, n * sizeof(*v));
}

static int by_digest(size_t a, size_t b, const ecr_lifecycle_image *images)
{
	return strcmp(images[a].digest, images[b].digest);
}

/* Youngest first; equal push times: the smaller digest first. */
static int by_age(size_t a, size_t b, const ecr_lifecycle_image *images)
{
	int64_t ta = push_time(&images[a]), tb = push_time(&images[b]);
	if (ta != tb)
		return ta > tb ? -1 : 1;
	return by_digest(a, b, images);
}

/* The index of digest d in the set, or SIZE_MAX. */
static size_t find_digest(const size_t *sorted, size_t n, const ecr_lifecycle_image *images, const char *d)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(images[sorted[mid]].digest, d);
		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

static int check_images(const ecr_lifecycle_image *images, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const ecr_lifecycle_image *m = &images[i];
		if (!m->digest || (m->tags_count && !m->tags) || (m->parents_count && !m->parents) ||
		    (m->storage_class != ECR_STORAGE_CLASS_STANDARD && m->storage_class != ECR_STORAGE_CLASS_ARCHIVE))
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lifecycle: image %zu is malformed", i);
		for (size_t j = 0; j < m->tags_count; j++)
			if (!m->tags[j])
				return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lifecycle: image %zu has a NULL tag",
				                 i);
		for (size_t j = 0; j < m->parents_count; j++)
			if (!m->parents[j])
				return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
				                 "lifecycle: image %zu has a NULL parent", i);
	}
	return 0;
}

/* Whether a child with action a may be acted on given its parent's action pa. */
static bool parent_allows(ecr_lifecycle_action a, ecr_lifecycle_action pa)
{
	return a == ECR_LIFECYCLE_EXPIRE ? pa == ECR_LIFECYCLE_EXPIRE : pa != ECR_LIFECYCLE_KEEP;
}

int ecr__lifecycle_evaluate_into(const ecr_lifecycle_policy *policy, const ecr_lifecycle_image *images, size_t count,
                                 int64_t now_ms, ecr_lifecycle_action *actions, uint32_t *priorities)
{
	size_t *by_dig = NULL, *order = NULL, *tmp = NULL, *subject = NULL, *refs = NULL, nref = 0, words;
	size_t *poff = NULL, *pidx = NULL, nparents = 0;
	unsigned char *claimed = NULL, *blocked = NULL;
	ecr_lifecycle_action *tent = NULL;
	uint32_t *tprio = NULL;
	int rc = 0;

	if (!policy || (count && (!images || !actions || !priorities)))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_lifecycle_policy_evaluate: NULL argument");
	if (count == 0)
		return 0;
	if ((rc = check_images(images, count)) != 0)
		return rc;
	if (ecr__mul_overflow(count, sizeof(size_t), &words) || !(by_dig = ecr__malloc(words)) ||
	    !(order = ecr__malloc(words)) || !(tmp = ecr__malloc(words)) || !(subject = ecr__malloc(words)) ||
	    !(refs = ecr__malloc(words)) || !(poff = ecr__calloc(count + 1, sizeof(size_t))) ||
	    !(claimed = ecr__calloc(count, 1)) || !(blocked = ecr__calloc(count, 1)) ||
	    !(tent = ecr__calloc(count, sizeof(*tent))) || !(tprio = ecr__calloc(count, sizeof(*tprio)))) {
		rc = ECR_ENOMEM;
		goto done;
	}

	for (size_t i = 0; i < count; i++)
		by_dig[i] = order[i] = i;
	merge_sort(by_dig, tmp, count, by_digest, images);
	for (size_t i = 1; i < count; i++)
		if (strcmp(images[by_dig[i]].digest, images[by_dig[i - 1]].digest) == 0) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lifecycle: image %s is in the set twice",
			               images[by_dig[i]].digest);
			goto done;
		}
	merge_sort(order, tmp, count, by_age, images);

	/* the parents as indexes (SIZE_MAX: not in the set) */
	for (size_t i = 0; i < count; i++) {
		poff[i] = nparents;
		if (ecr__add_overflow(nparents, images[i].parents_count, &nparents)) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "lifecycle: too many parents");
			goto done;
		}
	}
	poff[count] = nparents;
	if (nparents && (ecr__mul_overflow(nparents, sizeof(size_t), &words) || !(pidx = ecr__malloc(words)))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (size_t i = 0; i < count; i++)
		for (size_t j = 0; j < images[i].parents_count; j++)
			pidx[poff[i] + j] = find_digest(by_dig, count, images, images[i].parents[j]);

	/* referrers whose subject is in the set are not images of their own */
	for (size_t i = 0; i < count; i++) {
		size_t s = images[i].subject ? find_digest(by_dig, count, images, images[i].subject) : SIZE_MAX;
		subject[i] = s == i ? SIZE_MAX : s;
	}
	/* a subject chain that loops (or is absurdly long) never reaches an ordinary image:
	 * every referrer on it is treated as an ordinary image (decided on the chains as
	 * given, so the outcome does not depend on the order of the images) */
	for (size_t i = 0; i < count; i++) {
		size_t s = i, depth = 0;
		while (subject[s] != SIZE_MAX && depth++ < MAX_REFERRER_DEPTH)
			s = subject[s];
		tmp[i] = subject[s] != SIZE_MAX ? SIZE_MAX : subject[i];
	}
	memcpy(subject, tmp, count * sizeof(*subject));
	/* the referrers, shallowest first (tmp holds each one's depth) */
	for (size_t i = 0; i < count; i++) {
		size_t depth = 0;
		for (size_t c = i; subject[c] != SIZE_MAX; c = subject[c])
			depth++;
		tmp[i] = depth;
	}
	{ /* a counting sort by depth (at most MAX_REFERRER_DEPTH) */
		size_t at[MAX_REFERRER_DEPTH + 2] = {0};
		for (size_t i = 0; i < count; i++)
			if (tmp[i])
				at[tmp[i] + 1]++;
		for (size_t d = 1; d < MAX_REFERRER_DEPTH + 2; d++)
			at[d] += at[d - 1];
		for (size_t i = 0; i < count; i++)
			if (tmp[i])
				refs[at[tmp[i]]++] = i;
		nref = at[MAX_REFERRER_DEPTH + 1];
	}

	for (size_t r = 0; r < policy->count; r++) {
		const lc_rule *rule = &policy->rules[r];
		size_t seen = 0;
		/* walk youngest first, so imageCountMoreThan needs no sort of its own */
		for (size_t k = 0; k < count; k++) {
			size_t i = order[k];
			if (subject[i] != SIZE_MAX || !selects(rule, &images[i]))
				continue;
			bool marked = rule->count_type == CT_MORE_THAN ? ++seen > (uint64_t)rule->count_number
			                                               : marked_by_age(rule, &images[i], now_ms);
			if (marked && !claimed[i]) {
				tent[i] = rule->action;
				tprio[i] = rule->priority;
			}
			claimed[i] = 1;
		}
	}

	/* referrers follow their subject; children stay with a kept parent; until stable */
	for (bool changed = true; changed;) {
		changed = false;
		for (size_t i = 0; i < count; i++)
			if (subject[i] == SIZE_MAX) {
				actions[i] = blocked[i] ? ECR_LIFECYCLE_KEEP : tent[i];
				priorities[i] = blocked[i] ? 0 : tprio[i];
			}
		/* referrers by depth, so that each follows its subject's final decision */
		for (size_t k = 0; k < nref; k++) {
			size_t i = refs[k], s = subject[i];
			ecr_lifecycle_action a = blocked[i] ? ECR_LIFECYCLE_KEEP : actions[s];
			if (a == ECR_LIFECYCLE_TRANSITION && images[i].storage_class != ECR_STORAGE_CLASS_STANDARD)
				a = ECR_LIFECYCLE_KEEP;
			actions[i] = a;
			priorities[i] = a == ECR_LIFECYCLE_KEEP ? 0 : priorities[s];
		}
		for (size_t i = 0; i < count; i++) {
			if (actions[i] == ECR_LIFECYCLE_KEEP || blocked[i])
				continue;
			for (size_t j = poff[i]; j < poff[i + 1]; j++) {
				size_t pi = pidx[j];
				if (pi != SIZE_MAX && pi != i && !parent_allows(actions[i], actions[pi])) {
					blocked[i] = 1;
					changed = true;
					break;
				}
			}
		}
	}
done:
	ecr__free(by_dig);
	ecr__free(order);
	ecr__free(tmp);
	ecr__free(subject);
	ecr__free(refs);
	ecr__free(poff);
	ecr__free(pidx);
	ecr__free(claimed);
	ecr__free(blocked);
	ecr__free(tent);
	ecr__free(tprio);
	return rc;
}

int ecr_lifecycle_policy_evaluate(const ecr_lifecycle_policy *policy, const ecr_lifecycle_image *images, size_t count,
                                  int64_t now_ms, ecr_lifecycle_result_cb cb, void *payload)
{
	ecr_lifecycle_action *actions = NULL;
	uint32_t *prios = NULL;
	int rc;

	if (!policy || !cb || (count && !images))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_lifecycle_policy_evaluate: NULL argument");
	if (count &&
	    (!(actions = ecr__calloc(count, sizeof(*actions))) || !(prios = ecr__calloc(count, sizeof(*prios))))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = ecr__lifecycle_evaluate_into(policy, images, count, now_ms, actions, prios)) != 0)
		goto done;
	for (size_t i = 0; i < count; i++)
		if ((rc = cb(i, actions[i], prios[i], payload)) != 0)
			goto done;
done:
	ecr__free(actions);
	ecr__free(prios);
	return rc;
}
