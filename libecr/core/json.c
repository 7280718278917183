/* A bounded JSON parser on yajl's streaming API, building a small tree, and a
 * compact writer on yajl_gen.
 *
 * Limits (bytes, depth, nodes, string length) are enforced before or while
 * parsing, so a hostile document costs at most what the limits allow.
 * Duplicate object keys are rejected (found through one hash table for the
 * whole document, so a large object costs O(n), not O(n^2)). Strings and keys
 * are checked for strict UTF-8 (yajl's own check accepts overlong forms and
 * surrogates). Numbers keep their text; is_integer is set for integer
 * literals (no fraction or exponent) that fit an int64.
 *
 * yajl's allocations go through the library's allocator. yajl does not check
 * allocation results, so when the library's allocator fails we note it (the
 * parse then fails with ECR_ENOMEM) and fall back to libc for that block
 * rather than let yajl dereference NULL. */
#include "core.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "json.h"

#define DEFAULT_MAX_BYTES ((size_t)4 << 20)
#define DEFAULT_MAX_DEPTH ((size_t)64)
#define DEFAULT_MAX_NODES ((size_t)100000)
#define DEFAULT_MAX_STRING ((size_t)1 << 20)
/* ecr__json_free() recurses; keep the recursion bounded whatever the caller asks. */
#define HARD_MAX_DEPTH ((size_t)4096)

/* ---- yajl allocator bridge ---- */

typedef struct yalloc {
	bool oom;
} yalloc;

/* A header in front of every block says where it came from and its size. */
typedef union yhdr {
	struct {
		size_t size;
		bool from_libc;
	} h;
	max_align_t align;
} yhdr;

static void *ya_malloc(void *ctx, size_t sz)
{
	yalloc *ya = ctx;
	size_t total;
	yhdr *b;
	if (ecr__add_overflow(sz, sizeof(yhdr), &total))
		return NULL;
	b = ecr__alloc_raw_malloc(total);
	if (b) {
		b->h.from_libc = false;
	} else {
		ya->oom = true;
		if (!(b = malloc(total)))
			return NULL;
		b->h.from_libc = true;
	}
	b->h.size = sz;
	return b + 1;
}

static void ya_free(void *ctx, void *ptr)
{
	yhdr *b;
	(void)ctx;
	if (!ptr)
		return;
	b = (yhdr *)ptr - 1;
	if (b->h.from_libc)
		free(b);
	else
		ecr__alloc_raw_free(b);
}

static void *ya_realloc(void *ctx, void *ptr, size_t sz)
{
	yalloc *ya = ctx;
	yhdr *b, *nb;
	size_t total;
	if (!ptr)
		return ya_malloc(ctx, sz);
	b = (yhdr *)ptr - 1;
	if (ecr__add_overflow(sz, sizeof(yhdr), &total))
		return NULL;
	if (b->h.from_libc) {
		nb = realloc(b, total);
	} else if (!(nb = ecr__alloc_raw_realloc(b, total))) {
		/* the library's allocator said no: move the block to libc */
		ya->oom = true;
		if (!(nb = malloc(total)))
			return NULL;
		memcpy(nb, b, sizeof(yhdr) + (b->h.size < sz ? b->h.size : sz));
		nb->h.from_libc = true;
		ecr__alloc_raw_free(b);
	}
	if (!nb)
		return NULL;
	nb->h.size = sz;
	return nb + 1;
}

/* ---- strict UTF-8 ---- */

/* Offset of the first invalid byte, or len when s is valid UTF-8 (no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xBF;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;
			else if (c == 0xED)
				hi = 0x9F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;
		} else {
			return i;
		}
		if (len - i - 1 < n)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
		}
		i += n + 1;
	}
	return len;
}

/* ---- parser ---- */

typedef struct frame {
	ecr__json *node;
	size_t cap;
	char *pending_key;
} frame;

typedef struct keyslot {
	const ecr__json *obj; /* NULL: empty */
	size_t idx;
	uint64_t hash;
} keyslot;

typedef struct parser {
	yajl_handle h;
	yalloc ya;
	ecr__json_limits lim;
	ecr__json *root;
	frame *stack;
	size_t depth, stack_cap;
	size_t nodes;
	keyslot *keys;
	size_t keys_cap, keys_used;
	int rc; /* set when a callback stops the parse */
} parser;

static size_t offset(parser *p) { return yajl_get_bytes_consumed(p->h); }

static int stop(parser *p, int rc)
{
	p->rc = rc;
	return 0;
}

static uint64_t hash_key(const ecr__json *obj, const char *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)obj;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static int keys_grow(parser *p)
{
	size_t ncap = p->keys_cap ? p->keys_cap * 2 : 64;
	keyslot *nk = ecr__calloc(ncap, sizeof(*nk));
	if (!nk)
		return ECR_ENOMEM;
	for (size_t i = 0; i < p->keys_cap; i++) {
		if (!p->keys[i].obj)
			continue;
		size_t j = (size_t)p->keys[i].hash & (ncap - 1);
		while (nk[j].obj)
			j = (j + 1) & (ncap - 1);
		nk[j] = p->keys[i];
	}
	ecr__free(p->keys);
	p->keys = nk;
	p->keys_cap = ncap;
	return 0;
}

/* Record key as obj's member number idx; ECR_EINVALID when obj already has it. */
static int keys_insert(parser *p, const ecr__json *obj, size_t idx, const char *key, size_t len)
{
	uint64_t h = hash_key(obj, key, len);
	size_t j;
	int rc;
	if ((p->keys_used + 1) * 2 > p->keys_cap && (rc = keys_grow(p)) != 0)
		return rc;
	j = (size_t)h & (p->keys_cap - 1);
	while (p->keys[j].obj) {
		const keyslot *k = &p->keys[j];
		if (k->obj == obj && k->hash == h && strcmp(obj->keys[k->idx], key) == 0)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "duplicate key \"%.64s\" in object at byte %zu", key,
					 offset(p));
		j = (j + 1) & (p->keys_cap - 1);
	}
	p->keys[j].obj = obj;
	p->keys[j].idx = idx;
	p->keys[j].hash = h;
	p->keys_used++;
	return 0;
}

static const char *what_string(bool key) { return key ? "key" : "string"; }

static int check_string(parser *p, const unsigned char *s, size_t len, bool key)
{
	size_t bad;
	if (len > p->lim.max_string)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_JSON, "JSON %s of %zu bytes at byte %zu exceeds the limit of %zu",
				 what_string(key), len, offset(p), p->lim.max_string);
	if ((bad = utf8_invalid_at(s, len)) != len)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "invalid UTF-8 in JSON %s at byte %zu (byte %zu of the %s)",
				 what_string(key), offset(p), bad, what_string(key));
	if (key && memchr(s, '\0', len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "JSON key with a NUL character at byte %zu", offset(p));
	return 0;
}

/* New node of a type; counts against max_nodes. */
static int node_new(ecr__json **out, parser *p, ecr__json_type type)
{
	if (p->nodes >= p->lim.max_nodes)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_JSON, "JSON document has more than %zu values (at byte %zu)",
				 p->lim.max_nodes, offset(p));
	if (!(*out = ecr__calloc(1, sizeof(ecr__json))))
		return ECR_ENOMEM;
	(*out)->type = type;
	p->nodes++;
	return 0;
}

/* Attach v to the open container (or make it the root). On failure v is freed. */
static int attach(parser *p, ecr__json *v)
{
	frame *f;
	ecr__json *c;
	if (p->depth == 0) {
		p->root = v;
		return 0;
	}
	f = &p->stack[p->depth - 1];
	c = f->node;
	if (c->count == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 4;
		ecr__json **nv = ecr__realloc(c->values, ncap * sizeof(*nv));
		if (!nv)
			goto oom;
		c->values = nv;
		if (c->type == ECR__JSON_OBJECT) {
			char **nk = ecr__realloc(c->keys, ncap * sizeof(*nk));
			if (!nk)
				goto oom;
			c->keys = nk;
		}
		f->cap = ncap;
	}
	if (c->type == ECR__JSON_OBJECT) {
		c->keys[c->count] = f->pending_key;
		f->pending_key = NULL;
	}
	c->values[c->count++] = v;
	return 0;
oom:
	ecr__json_free(v);
	return ECR_ENOMEM;
}

static int leaf(parser *p, ecr__json_type type, ecr__json **out)
{
	int rc = node_new(out, p, type);
	if (rc)
		return rc;
	return attach(p, *out);
}

static int cb_null(void *ctx)
{
	parser *p = ctx;
	ecr__json *v = NULL;
	int rc = leaf(p, ECR__JSON_NULL, &v);
	return rc ? stop(p, rc) : 1;
}

static int cb_boolean(void *ctx, int b)
{
	parser *p = ctx;
	ecr__json *v = NULL;
	int rc = leaf(p, ECR__JSON_BOOL, &v);
	if (rc)
		return stop(p, rc);
	v->boolean = b != 0;
	return 1;
}

static locale_t c_loc;
static pthread_once_t c_loc_once = PTHREAD_ONCE_INIT;
static void c_loc_init(void) { c_loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

/* strtod in the "C" locale, whatever the embedder's locale is. */
static double strtod_c(const char *s)
{
	pthread_once(&c_loc_once, c_loc_init);
	return c_loc ? strtod_l(s, NULL, c_loc) : strtod(s, NULL);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	parser *p = ctx;
	ecr__json *v = NULL;
	bool intlike = true;
	char *end;
	int rc;

	if (len > p->lim.max_string)
		return stop(p, ecr__fail(ECR_ELIMIT, ECR_ERROR_JSON, "JSON number of %zu characters at byte %zu exceeds the limit of %zu",
					 len, offset(p), p->lim.max_string));
	if ((rc = node_new(&v, p, ECR__JSON_NUMBER)) != 0)
		return stop(p, rc);
	if (!(v->string = ecr__strndup(s, len))) {
		ecr__json_free(v);
		return stop(p, ECR_ENOMEM);
	}
	v->length = len;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			intlike = false;
	}
	if (intlike) {
		errno = 0;
		long long ll = strtoll(v->string, &end, 10);
		if (errno == 0 && *end == '\0') {
			v->is_integer = true;
			v->integer = ll;
		}
	}
	v->number = strtod_c(v->string);
	if (isinf(v->number)) {
		ecr__json_free(v);
		return stop(p, ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "JSON number out of range at byte %zu", offset(p)));
	}
	if ((rc = attach(p, v)) != 0)
		return stop(p, rc);
	return 1;
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	parser *p = ctx;
	ecr__json *v = NULL;
	int rc;
	if ((rc = check_string(p, s, len, false)) != 0)
		return stop(p, rc);
	if ((rc = node_new(&v, p, ECR__JSON_STRING)) != 0)
		return stop(p, rc);
	if (!(v->string = ecr__malloc(len + 1))) {
		ecr__json_free(v);
		return stop(p, ECR_ENOMEM);
	}
	memcpy(v->string, s, len);
	v->string[len] = '\0';
	v->length = len;
	if ((rc = attach(p, v)) != 0)
		return stop(p, rc);
	return 1;
}

static int open_container(parser *p, ecr__json_type type)
{
	ecr__json *v = NULL;
	int rc;
	if (p->depth >= p->lim.max_depth)
		return stop(p, ecr__fail(ECR_ELIMIT, ECR_ERROR_JSON, "JSON nesting deeper than %zu at byte %zu",
					 p->lim.max_depth, offset(p)));
	if (p->depth == p->stack_cap) {
		size_t ncap = p->stack_cap ? p->stack_cap * 2 : 8;
		frame *ns = ecr__realloc(p->stack, ncap * sizeof(*ns));
		if (!ns)
			return stop(p, ECR_ENOMEM);
		p->stack = ns;
		p->stack_cap = ncap;
	}
	if ((rc = node_new(&v, p, type)) != 0 || (rc = attach(p, v)) != 0)
		return stop(p, rc);
	p->stack[p->depth].node = v;
	p->stack[p->depth].cap = 0;
	p->stack[p->depth].pending_key = NULL;
	p->depth++;
	return 1;
}

static int close_container(parser *p)
{
	if (p->depth == 0)
		return stop(p, ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "JSON parser closed a container it did not open"));
	p->depth--;
	ecr__free(p->stack[p->depth].pending_key);
	p->stack[p->depth].pending_key = NULL;
	return 1;
}

static int cb_start_map(void *ctx) { return open_container(ctx, ECR__JSON_OBJECT); }
static int cb_end_map(void *ctx) { return close_container(ctx); }
static int cb_start_array(void *ctx) { return open_container(ctx, ECR__JSON_ARRAY); }
static int cb_end_array(void *ctx) { return close_container(ctx); }

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
	parser *p = ctx;
	frame *f;
	char *key;
	int rc;
	if (p->depth == 0)
		return stop(p, ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "JSON key outside an object"));
	f = &p->stack[p->depth - 1];
	if ((rc = check_string(p, s, len, true)) != 0)
		return stop(p, rc);
	if (!(key = ecr__malloc(len + 1)))
		return stop(p, ECR_ENOMEM);
	memcpy(key, s, len);
	key[len] = '\0';
	/* the key will be member number count; earlier keys are in node->keys */
	if ((rc = keys_insert(p, f->node, f->node->count, key, len)) != 0) {
		ecr__free(key);
		return stop(p, rc);
	}
	ecr__free(f->pending_key);
	f->pending_key = key;
	return 1;
}

static const yajl_callbacks callbacks = {
	cb_null, cb_boolean, NULL, NULL, cb_number, cb_string, cb_start_map, cb_map_key, cb_end_map, cb_start_array,
	cb_end_array,
};

static void limits_resolve(ecr__json_limits *out, const ecr__json_limits *in)
{
	out->max_bytes = in && in->max_bytes ? in->max_bytes : DEFAULT_MAX_BYTES;
	out->max_depth = in && in->max_depth ? in->max_depth : DEFAULT_MAX_DEPTH;
	out->max_nodes = in && in->max_nodes ? in->max_nodes : DEFAULT_MAX_NODES;
	out->max_string = in && in->max_string ? in->max_string : DEFAULT_MAX_STRING;
	if (out->max_depth > HARD_MAX_DEPTH)
		out->max_depth = HARD_MAX_DEPTH;
}

/* yajl's message, without its "parse error: " prefix and trailing whitespace. */
static int syntax_error(parser *p, const void *data, size_t len)
{
	unsigned char *msg = yajl_get_error(p->h, 0, data, len);
	const char *m = msg ? (const char *)msg : "syntax error";
	size_t n;
	int rc;
	if (strncmp(m, "parse error: ", 13) == 0)
		m += 13;
	n = strlen(m);
	while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
		n--;
	rc = ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "invalid JSON at byte %zu: %.*s", offset(p), (int)n, m);
	if (msg)
		yajl_free_error(p->h, msg);
	return rc;
}

int ecr__json_parse(ecr__json **out, const void *data, size_t len, const ecr__json_limits *limits)
{
	yajl_alloc_funcs af = { ya_malloc, ya_realloc, ya_free, NULL };
	parser p;
	yajl_status st;
	int rc = 0;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	limits_resolve(&p.lim, limits);
	af.ctx = &p.ya;
	if (len > p.lim.max_bytes)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_JSON, "JSON document of %zu bytes exceeds the limit of %zu", len,
				 p.lim.max_bytes);
	if (len == 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "empty JSON document");

	if (!(p.h = yajl_alloc(&callbacks, &af, &p))) {
		rc = ecr__fail_oom();
		goto done;
	}
	yajl_config(p.h, yajl_dont_validate_strings, 0);
	yajl_config(p.h, yajl_allow_comments, 0);
	yajl_config(p.h, yajl_allow_trailing_garbage, 0);
	yajl_config(p.h, yajl_allow_multiple_values, 0);
	yajl_config(p.h, yajl_allow_partial_values, 0);

	st = yajl_parse(p.h, data, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(p.h);
	if (p.ya.oom) {
		rc = ecr__fail_oom();
	} else if (st == yajl_status_client_canceled) {
		rc = p.rc ? p.rc : ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "JSON parse stopped without a reason");
	} else if (st != yajl_status_ok) {
		rc = syntax_error(&p, data, len);
	} else if (!p.root || p.depth != 0) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "incomplete JSON document");
	}
done:
	if (p.h)
		yajl_free(p.h);
	for (size_t i = 0; i < p.depth; i++)
		ecr__free(p.stack[i].pending_key);
	ecr__free(p.stack);
	ecr__free(p.keys);
	if (rc) {
		ecr__json_free(p.root);
		return rc;
	}
	*out = p.root;
	return 0;
}

void ecr__json_free(ecr__json *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->count; i++) {
		if (v->keys)
			ecr__free(v->keys[i]);
		ecr__json_free(v->values[i]);
	}
	ecr__free(v->keys);
	ecr__free(v->values);
	ecr__free(v->string);
	ecr__free(v);
}

const ecr__json *ecr__json_get(const ecr__json *obj, const char *key)
{
	if (!obj || obj->type != ECR__JSON_OBJECT || !key)
		return NULL;
	for (size_t i = 0; i < obj->count; i++) {
		if (strcmp(obj->keys[i], key) == 0)
			return obj->values[i];
	}
	return NULL;
}

const ecr__json *ecr__json_at(const ecr__json *arr, size_t i)
{
	if (!arr || arr->type != ECR__JSON_ARRAY || i >= arr->count)
		return NULL;
	return arr->values[i];
}

const char *ecr__json_get_string(const ecr__json *obj, const char *key)
{
	const ecr__json *v = ecr__json_get(obj, key);
	return v && v->type == ECR__JSON_STRING ? v->string : NULL;
}

bool ecr__json_get_int(const ecr__json *obj, const char *key, int64_t *out)
{
	const ecr__json *v = ecr__json_get(obj, key);
	if (!v || v->type != ECR__JSON_NUMBER || !v->is_integer)
		return false;
	*out = v->integer;
	return true;
}

/* ---- writer ---- */

/* The writer checks the structure itself (yajl_gen accepts, for instance,
 * closing an object when an array is open). */
#define JW_MAX_DEPTH 128 /* yajl_gen's own limit */
enum { JW_ARRAY, JW_OBJ_KEY, JW_OBJ_VALUE };

struct ecr__jw {
	yajl_gen g;
	yalloc ya;
	int failed; /* the first error; every later call returns it */
	bool complete;
	size_t depth;
	unsigned char st[JW_MAX_DEPTH];
};

static int jw_misuse(ecr__jw *w, const char *what)
{
	return w->failed = ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "JSON writer: %s", what);
}

/* May a value (or a container) come now? */
static int jw_before_value(ecr__jw *w)
{
	if (w->depth == 0)
		return w->complete ? jw_misuse(w, "the document is already complete") : 0;
	if (w->st[w->depth - 1] == JW_OBJ_KEY)
		return jw_misuse(w, "an object member needs a key first");
	return 0;
}

static void jw_after_value(ecr__jw *w)
{
	if (w->depth == 0)
		w->complete = true;
	else if (w->st[w->depth - 1] == JW_OBJ_VALUE)
		w->st[w->depth - 1] = JW_OBJ_KEY;
}

static int jw_open(ecr__jw *w, unsigned char kind)
{
	int rc = jw_before_value(w);
	if (rc)
		return rc;
	if (w->depth == JW_MAX_DEPTH)
		return jw_misuse(w, "nesting too deep");
	w->st[w->depth++] = kind;
	return 0;
}

static int jw_close(ecr__jw *w, bool object)
{
	unsigned char top;
	if (w->depth == 0)
		return jw_misuse(w, "closing a container that is not open");
	top = w->st[w->depth - 1];
	if (object && top == JW_ARRAY)
		return jw_misuse(w, "closing an object while an array is open");
	if (!object && top != JW_ARRAY)
		return jw_misuse(w, "closing an array while an object is open");
	if (top == JW_OBJ_VALUE)
		return jw_misuse(w, "a key without a value");
	w->depth--;
	jw_after_value(w);
	return 0;
}

int ecr__jw_new(ecr__jw **out)
{
	yajl_alloc_funcs af = { ya_malloc, ya_realloc, ya_free, NULL };
	ecr__jw *w;

	*out = NULL;
	if (!(w = ecr__calloc(1, sizeof(*w))))
		return ECR_ENOMEM;
	af.ctx = &w->ya;
	w->g = yajl_gen_alloc(&af);
	if (!w->g || w->ya.oom) {
		ecr__jw_free(w);
		return ecr__fail_oom();
	}
	yajl_gen_config(w->g, yajl_gen_beautify, 0);
	yajl_gen_config(w->g, yajl_gen_validate_utf8, 1);
	*out = w;
	return 0;
}

void ecr__jw_free(ecr__jw *w)
{
	if (!w)
		return;
	if (w->g)
		yajl_gen_free(w->g);
	ecr__free(w);
}

static const char *gen_status_text(yajl_gen_status st)
{
	switch (st) {
	case yajl_gen_keys_must_be_strings:
		return "an object member needs a key first";
	case yajl_max_depth_exceeded:
		return "nesting too deep";
	case yajl_gen_in_error_state:
		return "writer already failed";
	case yajl_gen_generation_complete:
		return "the document is already complete";
	case yajl_gen_invalid_number:
		return "invalid number (NaN or infinity)";
	case yajl_gen_no_buf:
		return "no buffer";
	case yajl_gen_invalid_string:
		return "invalid UTF-8 in string";
	default:
		return "unknown error";
	}
}

static int gen_result(ecr__jw *w, yajl_gen_status st, const char *what)
{
	if (w->ya.oom)
		return w->failed = ecr__fail_oom();
	if (st == yajl_gen_status_ok)
		return 0;
	return w->failed = ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "JSON writer: %s: %s", what, gen_status_text(st));
}

#define JW_GUARD(w) \
	do { \
		if ((w)->failed) \
			return ecr__fail((w)->failed, ECR_ERROR_JSON, "JSON writer used after an error"); \
	} while (0)

int ecr__jw_object_open(ecr__jw *w)
{
	int rc;
	JW_GUARD(w);
	if ((rc = jw_open(w, JW_OBJ_KEY)) != 0)
		return rc;
	return gen_result(w, yajl_gen_map_open(w->g), "object open");
}

int ecr__jw_object_close(ecr__jw *w)
{
	int rc;
	JW_GUARD(w);
	if ((rc = jw_close(w, true)) != 0)
		return rc;
	return gen_result(w, yajl_gen_map_close(w->g), "object close");
}

int ecr__jw_array_open(ecr__jw *w)
{
	int rc;
	JW_GUARD(w);
	if ((rc = jw_open(w, JW_ARRAY)) != 0)
		return rc;
	return gen_result(w, yajl_gen_array_open(w->g), "array open");
}

int ecr__jw_array_close(ecr__jw *w)
{
	int rc;
	JW_GUARD(w);
	if ((rc = jw_close(w, false)) != 0)
		return rc;
	return gen_result(w, yajl_gen_array_close(w->g), "array close");
}

/* Emit a string as a key (key true) or as a value. */
static int jw_str(ecr__jw *w, const char *s, size_t len, bool key)
{
	int rc;
	JW_GUARD(w);
	if (key) {
		if (w->depth == 0 || w->st[w->depth - 1] != JW_OBJ_KEY)
			return jw_misuse(w, "a key outside an object or where a value is due");
	} else if ((rc = jw_before_value(w)) != 0) {
		return rc;
	}
	if (!s && len)
		return jw_misuse(w, "NULL string");
	if (utf8_invalid_at((const unsigned char *)s, len) != len)
		return jw_misuse(w, "invalid UTF-8 in string");
	if ((rc = gen_result(w, yajl_gen_string(w->g, (const unsigned char *)(s ? s : ""), len), "string")) != 0)
		return rc;
	if (key)
		w->st[w->depth - 1] = JW_OBJ_VALUE;
	else
		jw_after_value(w);
	return 0;
}

int ecr__jw_string_len(ecr__jw *w, const char *s, size_t len) { return jw_str(w, s, len, false); }

int ecr__jw_string(ecr__jw *w, const char *s)
{
	JW_GUARD(w);
	if (!s)
		return jw_misuse(w, "NULL string");
	return jw_str(w, s, strlen(s), false);
}

int ecr__jw_key(ecr__jw *w, const char *key)
{
	JW_GUARD(w);
	if (!key)
		return jw_misuse(w, "NULL key");
	return jw_str(w, key, strlen(key), true);
}

/* Common path of the scalar values. */
static int jw_scalar(ecr__jw *w, yajl_gen_status st_if_called, const char *what)
{
	int rc = gen_result(w, st_if_called, what);
	if (rc)
		return rc;
	jw_after_value(w);
	return 0;
}

#define JW_SCALAR_PRE(w) \
	do { \
		int rc_; \
		JW_GUARD(w); \
		if ((rc_ = jw_before_value(w)) != 0) \
			return rc_; \
	} while (0)

int ecr__jw_int(ecr__jw *w, int64_t v)
{
	JW_SCALAR_PRE(w);
	return jw_scalar(w, yajl_gen_integer(w->g, (long long)v), "integer");
}

int ecr__jw_double(ecr__jw *w, double v)
{
	char text[40];
	int n;
	JW_SCALAR_PRE(w);
	if (!isfinite(v))
		return jw_misuse(w, "NaN or infinity");
	/* shortest of %.15g / %.17g that reads back exactly */
	n = snprintf(text, sizeof(text), "%.15g", v);
	if (n > 0 && strtod_c(text) != v)
		n = snprintf(text, sizeof(text), "%.17g", v);
	if (n <= 0 || (size_t)n >= sizeof(text))
		return w->failed = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "JSON writer: cannot format %g", v);
	/* a locale's decimal comma becomes a point */
	for (int i = 0; i < n; i++) {
		char c = text[i];
		if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E'))
			text[i] = '.';
	}
	return jw_scalar(w, yajl_gen_number(w->g, text, (size_t)n), "number");
}

int ecr__jw_bool(ecr__jw *w, bool v)
{
	JW_SCALAR_PRE(w);
	return jw_scalar(w, yajl_gen_bool(w->g, v), "bool");
}

int ecr__jw_null(ecr__jw *w)
{
	JW_SCALAR_PRE(w);
	return jw_scalar(w, yajl_gen_null(w->g), "null");
}

int ecr__jw_value(ecr__jw *w, const ecr__json *v)
{
	int rc = 0;
	switch (v->type) {
	case ECR__JSON_NULL:
		return ecr__jw_null(w);
	case ECR__JSON_BOOL:
		return ecr__jw_bool(w, v->boolean);
	case ECR__JSON_NUMBER:
		return v->is_integer ? ecr__jw_int(w, v->integer) : ecr__jw_double(w, v->number);
	case ECR__JSON_STRING:
		return ecr__jw_string_len(w, v->string, v->length);
	case ECR__JSON_ARRAY:
		/* the writer's own depth limit (JW_MAX_DEPTH) bounds the recursion */
		if ((rc = ecr__jw_array_open(w)))
			return rc;
		for (size_t i = 0; i < v->count; i++)
			if ((rc = ecr__jw_value(w, v->values[i])))
				return rc;
		return ecr__jw_array_close(w);
	case ECR__JSON_OBJECT:
		if ((rc = ecr__jw_object_open(w)))
			return rc;
		for (size_t i = 0; i < v->count; i++)
			if ((rc = ecr__jw_key(w, v->keys[i])) || (rc = ecr__jw_value(w, v->values[i])))
				return rc;
		return ecr__jw_object_close(w);
	}
	return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "unknown JSON value type %d", (int)v->type);
}

int ecr__jw_key_string(ecr__jw *w, const char *key, const char *value)
{
	int rc = ecr__jw_key(w, key);
	return rc ? rc : ecr__jw_string(w, value);
}

int ecr__jw_key_int(ecr__jw *w, const char *key, int64_t value)
{
	int rc = ecr__jw_key(w, key);
	return rc ? rc : ecr__jw_int(w, value);
}

int ecr__jw_json_text(ecr__jw *w, const char *text)
{
	ecr__json *v = NULL;
	int rc = ecr__json_parse(&v, text, strlen(text), NULL);
	if (!rc)
		rc = ecr__jw_value(w, v);
	ecr__json_free(v);
	return rc;
}

int ecr__json_to_buf(ecr_buf *out, const ecr__json *v)
{
	ecr__jw *w = NULL;
	int rc = ecr__jw_new(&w);
	if (!rc && !(rc = ecr__jw_value(w, v)))
		rc = ecr__jw_finish(w, out);
	ecr__jw_free(w);
	return rc;
}

int ecr__jw_finish(ecr__jw *w, ecr_buf *out)
{
	const unsigned char *buf = NULL;
	size_t len = 0;
	yajl_gen_status st;
	JW_GUARD(w);
	st = yajl_gen_get_buf(w->g, &buf, &len);
	if (st != yajl_gen_status_ok)
		return gen_result(w, st, "finish");
	return ecr__buf_put(out, buf, len);
}
