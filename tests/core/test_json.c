/* core/json: the bounded parser (valid documents, every limit, duplicate keys,
 * UTF-8, nesting, trailing data, numbers) and the writer (escaping round-trips
 * through the parser). */
#include "../helpers/helpers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr/sys/alloc.h"
#include "libecr/core/json.h"

static int parse_str(ecr__json **out, const char *s, const ecr__json_limits *lim)
{
	return ecr__json_parse(out, s, strlen(s), lim);
}

/* Expect a failure with code and class JSON; *out stays NULL. */
static void expect_fail(const char *s, size_t len, const ecr__json_limits *lim, int code)
{
	ecr__json *v = (ecr__json *)&v;
	int rc = ecr__json_parse(&v, s, len, lim);
	if (rc != code)
		fail_msg("parsing \"%.60s\": got %d (%s), expected %d", s, rc, ecr_error_last()->message, code);
	assert_null(v);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_JSON);
	assert_int_equal(ecr_error_last()->code, code);
}

static void expect_fail_str(const char *s, const ecr__json_limits *lim, int code)
{
	expect_fail(s, strlen(s), lim, code);
}

static void test_core_json__document(void **state)
{
	const char *doc = " {\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n"
			  "  \"layers\": [ {\"size\": 32654, \"digest\": \"sha256:abc\"}, {\"size\": 16724} ],\n"
			  "  \"annotations\": {}, \"list\": [], \"t\": true, \"f\": false, \"n\": null,"
			  "  \"esc\": \"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\\u0000z\" } \n";
	ecr__json *v = NULL;
	const ecr__json *layers, *l0, *esc;
	int64_t i = 0;
	(void)state;

	assert_ok(parse_str(&v, doc, NULL));
	assert_int_equal(v->type, ECR__JSON_OBJECT);
	assert_int_equal(v->count, 9);
	/* members keep their order */
	assert_string_equal(v->keys[0], "schemaVersion");
	assert_string_equal(v->keys[8], "esc");
	assert_true(ecr__json_get_int(v, "schemaVersion", &i));
	assert_int_equal(i, 2);
	assert_string_equal(ecr__json_get_string(v, "mediaType"), "application/vnd.oci.image.manifest.v1+json");
	assert_null(ecr__json_get_string(v, "schemaVersion")); /* wrong type */
	assert_false(ecr__json_get_int(v, "mediaType", &i));
	assert_null(ecr__json_get(v, "missing"));

	layers = ecr__json_get(v, "layers");
	assert_non_null(layers);
	assert_int_equal(layers->type, ECR__JSON_ARRAY);
	assert_int_equal(layers->count, 2);
	l0 = ecr__json_at(layers, 0);
	assert_true(ecr__json_get_int(l0, "size", &i));
	assert_int_equal(i, 32654);
	assert_string_equal(ecr__json_get_string(l0, "digest"), "sha256:abc");
	assert_true(ecr__json_get_int(ecr__json_at(layers, 1), "size", &i));
	assert_int_equal(i, 16724);
	assert_null(ecr__json_at(layers, 2));
	assert_null(ecr__json_at(v, 0)); /* not an array */
	assert_null(ecr__json_get(layers, "size")); /* not an object */

	assert_int_equal(ecr__json_get(v, "annotations")->type, ECR__JSON_OBJECT);
	assert_int_equal(ecr__json_get(v, "annotations")->count, 0);
	assert_int_equal(ecr__json_get(v, "list")->type, ECR__JSON_ARRAY);
	assert_int_equal(ecr__json_get(v, "list")->count, 0);
	assert_int_equal(ecr__json_get(v, "t")->type, ECR__JSON_BOOL);
	assert_true(ecr__json_get(v, "t")->boolean);
	assert_false(ecr__json_get(v, "f")->boolean);
	assert_int_equal(ecr__json_get(v, "n")->type, ECR__JSON_NULL);

	/* escapes decoded, including a surrogate pair and an embedded NUL */
	esc = ecr__json_get(v, "esc");
	assert_int_equal(esc->type, ECR__JSON_STRING);
	assert_int_equal(esc->length, 16);
	assert_memory_equal(esc->string, "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80\0z", 17);
	ecr__json_free(v);
	ecr__json_free(NULL);
}

static void test_core_json__scalars_at_top(void **state)
{
	ecr__json *v = NULL;
	(void)state;
	assert_ok(parse_str(&v, "  \"hello\"  ", NULL));
	assert_int_equal(v->type, ECR__JSON_STRING);
	assert_string_equal(v->string, "hello");
	ecr__json_free(v);
	assert_ok(parse_str(&v, "null", NULL));
	assert_int_equal(v->type, ECR__JSON_NULL);
	ecr__json_free(v);
	assert_ok(parse_str(&v, "17", NULL));
	assert_true(v->is_integer);
	assert_int_equal(v->integer, 17);
	ecr__json_free(v);
	/* no NUL needed: only len bytes are read */
	assert_ok(ecr__json_parse(&v, "[1]]]]]", 3, NULL));
	assert_int_equal(v->count, 1);
	ecr__json_free(v);
}

struct num_case {
	const char *text;
	bool is_integer;
	int64_t integer;
	double number;
};

static void test_core_json__numbers(void **state)
{
	static const struct num_case cases[] = {
		{ "0", true, 0, 0.0 },
		{ "-0", true, 0, -0.0 },
		{ "42", true, 42, 42.0 },
		{ "-42", true, -42, -42.0 },
		{ "9223372036854775807", true, INT64_MAX, 9223372036854775807.0 },
		{ "-9223372036854775808", true, INT64_MIN, -9223372036854775808.0 },
		{ "9223372036854775808", false, 0, 9223372036854775808.0 },
		{ "-9223372036854775809", false, 0, -9223372036854775809.0 },
		{ "123456789012345678901234567890", false, 0, 123456789012345678901234567890.0 },
		{ "1.5", false, 0, 1.5 },
		{ "-2.5e-3", false, 0, -2.5e-3 },
		{ "1e2", false, 0, 100.0 },
		{ "1E+2", false, 0, 100.0 },
		{ "3.0", false, 0, 3.0 },
		{ "1e-400", false, 0, 0.0 },
		{ "0.1", false, 0, 0.1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char doc[80];
		ecr__json *v = NULL;
		const ecr__json *n;
		snprintf(doc, sizeof(doc), "[%s]", cases[i].text);
		assert_ok(parse_str(&v, doc, NULL));
		n = ecr__json_at(v, 0);
		assert_int_equal(n->type, ECR__JSON_NUMBER);
		/* the text is kept */
		assert_string_equal(n->string, cases[i].text);
		if (n->is_integer != cases[i].is_integer)
			fail_msg("%s: is_integer %d", cases[i].text, n->is_integer);
		if (cases[i].is_integer)
			assert_int_equal(n->integer, cases[i].integer);
		assert_true(n->number == cases[i].number);
		ecr__json_free(v);
	}
	expect_fail_str("[1e400]", NULL, ECR_EINVALID);
	expect_fail_str("[-1e400]", NULL, ECR_EINVALID);
	expect_fail_str("[01]", NULL, ECR_EINVALID);
	expect_fail_str("[1.]", NULL, ECR_EINVALID);
	expect_fail_str("[.5]", NULL, ECR_EINVALID);
	expect_fail_str("[+1]", NULL, ECR_EINVALID);
	expect_fail_str("[-]", NULL, ECR_EINVALID);
	expect_fail_str("[NaN]", NULL, ECR_EINVALID);
	expect_fail_str("[Infinity]", NULL, ECR_EINVALID);
	expect_fail_str("[0x10]", NULL, ECR_EINVALID);
}

static void test_core_json__syntax_errors(void **state)
{
	static const char *bad[] = {
		"{",       "[1,]",     "{\"a\":1,}", "{'a':1}",      "tru",       "[1 2]",   "{\"a\" 1}",
		"{1:2}",   "\"abc",    "[\"\\x\"]",  "/* c */ 1",    "// c\n1",   "[\"a\tb\"]", "]",
		"{\"a\"}", "[\"\\ud800\"", "nul",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fail_str(bad[i], NULL, ECR_EINVALID);
	/* the message says where */
	expect_fail_str("{\"a\": [1, 2,, 3]}", NULL, ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "at byte"));
	/* empty and blank documents */
	expect_fail("", 0, NULL, ECR_EINVALID);
	expect_fail_str("   \n ", NULL, ECR_EINVALID);
}

static void test_core_json__trailing_data(void **state)
{
	static const char *bad[] = { "{} {}", "1 2", "{}x", "[]]", "\"a\" \"b\"", "null,", "{}\n{}" };
	ecr__json *v = NULL;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fail_str(bad[i], NULL, ECR_EINVALID);
	expect_fail_str("{\"a\":1} garbage", NULL, ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "trailing garbage"));
	/* embedded NUL after the document is trailing data too */
	expect_fail("{}\0", 3, NULL, ECR_EINVALID);
	/* trailing whitespace is fine */
	assert_ok(parse_str(&v, "{} \t\r\n", NULL));
	ecr__json_free(v);
}

static void test_core_json__duplicate_keys(void **state)
{
	ecr__json *v = NULL;
	(void)state;
	expect_fail_str("{\"a\":1,\"a\":2}", NULL, ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "duplicate key \"a\""));
	expect_fail_str("{\"a\":1,\"b\":{\"x\":1,\"y\":2,\"x\":3}}", NULL, ECR_EINVALID);
	expect_fail_str("[{\"k\":null,\"k\":null}]", NULL, ECR_EINVALID);
	/* escapes are decoded before comparing */
	expect_fail_str("{\"ab\":1,\"a\\u0062\":2}", NULL, ECR_EINVALID);
	/* the same key in different objects is fine, and so are similar keys */
	assert_ok(parse_str(&v, "{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}],\"A\":0,\"a \":0}", NULL));
	assert_int_equal(v->count, 4);
	ecr__json_free(v);
}

static char *big_object(size_t n, bool dup_at_end)
{
	size_t cap = n * 24 + 64, len = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	s[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s\"key%zu\":%zu", i ? "," : "", i, i);
	if (dup_at_end)
		len += (size_t)snprintf(s + len, cap - len, ",\"key%zu\":0", n / 2);
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

static void test_core_json__large_object(void **state)
{
	ecr__json *v = NULL;
	char *s;
	int64_t x = 0;
	(void)state;
	/* 50,000 members: the duplicate check must stay linear */
	s = big_object(50000, false);
	assert_ok(parse_str(&v, s, NULL));
	assert_int_equal(v->count, 50000);
	assert_true(ecr__json_get_int(v, "key49999", &x));
	assert_int_equal(x, 49999);
	ecr__json_free(v);
	free(s);
	s = big_object(50000, true);
	expect_fail_str(s, NULL, ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "key25000"));
	free(s);
}

static void test_core_json__invalid_utf8(void **state)
{
	static const char *bad[] = {
		"[\"\xff\"]",                 /* never valid */
		"[\"\xc0\x80\"]",             /* overlong NUL */
		"[\"\xc1\xbf\"]",             /* overlong */
		"[\"\xe0\x80\xaf\"]",         /* overlong 3-byte */
		"[\"\xf0\x80\x80\xaf\"]",     /* overlong 4-byte */
		"[\"\xed\xa0\x80\"]",         /* surrogate D800 */
		"[\"\xed\xbf\xbf\"]",         /* surrogate DFFF */
		"[\"\xf4\x90\x80\x80\"]",     /* above U+10FFFF */
		"[\"\xf5\x80\x80\x80\"]",
		"[\"\xe2\x82\"]",             /* truncated */
		"[\"a\x80z\"]",               /* lone continuation */
		"[\"\xc3\"]",
		"{\"\xc3\x28\":1}",           /* in a key */
		"{\"k\xed\xa0\x80\":1}",
	};
	ecr__json *v = NULL;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fail_str(bad[i], NULL, ECR_EINVALID);
	/* valid multi-byte text, up to U+10FFFF */
	assert_ok(parse_str(&v, "{\"cl\xc3\xa9\":\"\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf\"}", NULL));
	assert_string_equal(ecr__json_get_string(v, "cl\xc3\xa9"), "\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf");
	ecr__json_free(v);
	/* a NUL in a key cannot be looked up, so it is refused */
	expect_fail_str("{\"a\\u0000b\":1}", NULL, ECR_EINVALID);
}

static char *nested(size_t depth, char open, char close)
{
	char *s = malloc(2 * depth + 1);
	assert_non_null(s);
	memset(s, open, depth);
	memset(s + depth, close, depth);
	s[2 * depth] = '\0';
	return s;
}

static char *nested_objects(size_t depth)
{
	/* {"a":{"a":...{}...}} */
	size_t cap = depth * 6 + 8, len = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	for (size_t i = 0; i + 1 < depth; i++)
		len += (size_t)snprintf(s + len, cap - len, "{\"a\":");
	len += (size_t)snprintf(s + len, cap - len, "{}");
	for (size_t i = 0; i + 1 < depth; i++)
		s[len++] = '}';
	s[len] = '\0';
	return s;
}

static void test_core_json__depth_limit(void **state)
{
	ecr__json *v = NULL;
	ecr__json_limits lim = { 0, 5, 0, 0 };
	char *s;
	(void)state;
	/* default 64 */
	s = nested(64, '[', ']');
	assert_ok(parse_str(&v, s, NULL));
	ecr__json_free(v);
	free(s);
	s = nested(65, '[', ']');
	expect_fail_str(s, NULL, ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "deeper than 64"));
	free(s);
	/* a custom limit, objects */
	s = nested_objects(5);
	assert_ok(parse_str(&v, s, &lim));
	ecr__json_free(v);
	free(s);
	s = nested_objects(6);
	expect_fail_str(s, &lim, ECR_ELIMIT);
	free(s);
	/* scalars do not add depth */
	lim.max_depth = 1;
	assert_ok(parse_str(&v, "[1,\"a\",null]", &lim));
	ecr__json_free(v);
	expect_fail_str("[[]]", &lim, ECR_ELIMIT);
}

static void test_core_json__deep_nesting(void **state)
{
	ecr__json *v = NULL;
	ecr__json_limits lim = { 0, SIZE_MAX, SIZE_MAX, 0 };
	char *s;
	(void)state;
	/* hostile depth fails fast, without exhausting the stack */
	s = nested(200000, '[', ']');
	expect_fail_str(s, NULL, ECR_ELIMIT);
	/* a caller asking for unlimited depth still gets a bounded one (4096) */
	expect_fail_str(s, &lim, ECR_ELIMIT);
	free(s);
	s = nested(4096, '[', ']');
	assert_ok(parse_str(&v, s, &lim));
	ecr__json_free(v);
	free(s);
	/* unclosed deep nesting is a syntax error, not a crash */
	s = nested(1000, '{', '}');
	s[1000] = '\0';
	expect_fail_str(s, NULL, ECR_EINVALID);
	free(s);
}

static void test_core_json__bytes_limit(void **state)
{
	ecr__json *v = NULL;
	ecr__json_limits lim = { 10, 0, 0, 0 };
	(void)state;
	assert_ok(parse_str(&v, "[1,2,3,45]", &lim)); /* exactly 10 */
	ecr__json_free(v);
	expect_fail_str("[1,2,3,456]", &lim, ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "11 bytes"));
	/* checked before parsing: even garbage gets ELIMIT */
	expect_fail_str("xxxxxxxxxxxxxxxxxxxx", &lim, ECR_ELIMIT);
}

static void test_core_json__nodes_limit(void **state)
{
	ecr__json *v = NULL;
	ecr__json_limits lim = { 0, 0, 4, 0 };
	(void)state;
	/* the array and three items: 4 values */
	assert_ok(parse_str(&v, "[1,2,3]", &lim));
	ecr__json_free(v);
	expect_fail_str("[1,2,3,4]", &lim, ECR_ELIMIT);
	assert_ok(parse_str(&v, "{\"a\":{\"b\":[null]}}", &lim));
	ecr__json_free(v);
	expect_fail_str("{\"a\":{\"b\":[null]},\"c\":1}", &lim, ECR_ELIMIT);
	expect_fail_str("[[[[[]]]]]", &lim, ECR_ELIMIT);
}

static void test_core_json__string_limit(void **state)
{
	ecr__json *v = NULL;
	ecr__json_limits lim = { 0, 0, 0, 4 };
	(void)state;
	assert_ok(parse_str(&v, "{\"abcd\":\"wxyz\"}", &lim));
	ecr__json_free(v);
	expect_fail_str("{\"abcd\":\"vwxyz\"}", &lim, ECR_ELIMIT);
	expect_fail_str("{\"abcde\":\"xyz\"}", &lim, ECR_ELIMIT);
	/* the limit is on the decoded length: 4 escapes give 4 bytes */
	assert_ok(parse_str(&v, "[\"\\u0041\\u0042\\u0043\\u0044\"]", &lim));
	assert_string_equal(ecr__json_at(v, 0)->string, "ABCD");
	ecr__json_free(v);
	/* 2 characters, 4 bytes */
	assert_ok(parse_str(&v, "[\"\xc3\xa9\xc3\xa9\"]", &lim));
	ecr__json_free(v);
	expect_fail_str("[\"\xc3\xa9\xc3\xa9\xc3\xa9\"]", &lim, ECR_ELIMIT);
	/* numbers are text too */
	expect_fail_str("[123456]", &lim, ECR_ELIMIT);
}

static void test_core_json__writer_roundtrip(void **state)
{
	static const char nasty[] = "quote\" backslash\\ slash/ \b\f\n\r\t \x01\x1f\x7f </script> "
				    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	ecr__json *v = NULL;
	const ecr__json *arr, *s;
	(void)state;

	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_object_open(w));
	assert_ok(ecr__jw_key(w, "str"));
	assert_ok(ecr__jw_string(w, nasty));
	assert_ok(ecr__jw_key(w, "k\"e\\y\n"));
	assert_ok(ecr__jw_string_len(w, "a\0b", 3));
	assert_ok(ecr__jw_key(w, "nums"));
	assert_ok(ecr__jw_array_open(w));
	assert_ok(ecr__jw_int(w, INT64_MAX));
	assert_ok(ecr__jw_int(w, INT64_MIN));
	assert_ok(ecr__jw_int(w, 0));
	assert_ok(ecr__jw_double(w, 0.1));
	assert_ok(ecr__jw_double(w, -2.5));
	assert_ok(ecr__jw_double(w, 1e300));
	assert_ok(ecr__jw_double(w, 1.0 / 3.0));
	assert_ok(ecr__jw_array_close(w));
	assert_ok(ecr__jw_key(w, "t"));
	assert_ok(ecr__jw_bool(w, true));
	assert_ok(ecr__jw_key(w, "f"));
	assert_ok(ecr__jw_bool(w, false));
	assert_ok(ecr__jw_key(w, "n"));
	assert_ok(ecr__jw_null(w));
	assert_ok(ecr__jw_key(w, "empty"));
	assert_ok(ecr__jw_string(w, ""));
	assert_ok(ecr__jw_object_close(w));
	assert_ok(ecr__buf_puts(&out, "prefix:"));
	assert_ok(ecr__jw_finish(w, &out));
	ecr__jw_free(w);

	/* appended, compact (no newlines or indentation) */
	assert_memory_equal(out.ptr, "prefix:{\"str\":", 14);
	assert_null(strchr(out.ptr, '\n'));
	assert_null(strstr(out.ptr, ": "));
	/* raw control characters never appear */
	for (size_t i = 0; i < out.size; i++)
		assert_true((unsigned char)out.ptr[i] >= 0x20);

	assert_ok(ecr__json_parse(&v, out.ptr + 7, out.size - 7, NULL));
	s = ecr__json_get(v, "str");
	assert_int_equal(s->length, strlen(nasty));
	assert_string_equal(s->string, nasty);
	s = ecr__json_get(v, "k\"e\\y\n");
	assert_non_null(s);
	assert_int_equal(s->length, 3);
	assert_memory_equal(s->string, "a\0b", 3);
	arr = ecr__json_get(v, "nums");
	assert_int_equal(arr->count, 7);
	assert_true(ecr__json_at(arr, 0)->is_integer);
	assert_int_equal(ecr__json_at(arr, 0)->integer, INT64_MAX);
	assert_int_equal(ecr__json_at(arr, 1)->integer, INT64_MIN);
	assert_int_equal(ecr__json_at(arr, 2)->integer, 0);
	/* doubles read back exactly */
	assert_true(ecr__json_at(arr, 3)->number == 0.1);
	assert_string_equal(ecr__json_at(arr, 3)->string, "0.1");
	assert_true(ecr__json_at(arr, 4)->number == -2.5);
	assert_true(ecr__json_at(arr, 5)->number == 1e300);
	assert_true(ecr__json_at(arr, 6)->number == 1.0 / 3.0);
	assert_true(ecr__json_get(v, "t")->boolean);
	assert_false(ecr__json_get(v, "f")->boolean);
	assert_int_equal(ecr__json_get(v, "n")->type, ECR__JSON_NULL);
	assert_string_equal(ecr__json_get_string(v, "empty"), "");
	ecr__json_free(v);
	ecr_buf_dispose(&out);
}

/* A parsed tree written back with ecr__jw_value: every type, members in their
 * order, strings with NUL kept, nested inside what the caller writes around it. */
static void test_core_json__writer_value(void **state)
{
	static const char doc[] = "{\"z\":null,\"a\":[true,false,-7,1.5,\"s\\u0000t\",[],{}],"
				  "\"m\":{\"k\":\"v\",\"n\":[[1],{\"x\":9223372036854775807}]}}";
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	ecr__json *v = NULL, *again = NULL;
	ecr__json_limits lim = { 0, 300, 0, 0 };
	char *s;
	(void)state;

	assert_ok(parse_str(&v, doc, NULL));
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_array_open(w));
	assert_ok(ecr__jw_value(w, v));
	assert_ok(ecr__jw_value(w, v->values[1]->values[4]));
	assert_ok(ecr__jw_array_close(w));
	assert_ok(ecr__jw_finish(w, &out));
	assert_int_equal(out.size, strlen(doc) + 13);
	assert_memory_equal(out.ptr, "[", 1);
	assert_memory_equal(out.ptr + 1, doc, strlen(doc));
	assert_memory_equal(out.ptr + 1 + strlen(doc), ",\"s\\u0000t\"]", 12);
	assert_ok(ecr__json_parse(&again, out.ptr, out.size, NULL));
	assert_int_equal(again->values[1]->length, 3);
	ecr__json_free(again);
	ecr__jw_free(w);
	ecr_buf_dispose(&out);
	ecr__json_free(v);

	/* a tree deeper than the writer takes fails cleanly */
	s = nested(200, '[', ']');
	assert_ok(parse_str(&v, s, &lim));
	free(s);
	assert_ok(ecr__jw_new(&w));
	assert_int_equal(ecr__jw_value(w, v), ECR_EINVALID);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_JSON);
	ecr__jw_free(w);
	ecr__json_free(v);
}

static void test_core_json__writer_errors(void **state)
{
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	(void)state;

	/* a value in an object without a key */
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_object_open(w));
	assert_int_equal(ecr__jw_int(w, 1), ECR_EINVALID);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_JSON);
	/* and the writer stays failed */
	assert_int_not_equal(ecr__jw_object_close(w), 0);
	assert_int_not_equal(ecr__jw_finish(w, &out), 0);
	assert_int_equal(out.size, 0);
	ecr__jw_free(w);

	assert_ok(ecr__jw_new(&w));
	assert_int_equal(ecr__jw_double(w, NAN), ECR_EINVALID);
	ecr__jw_free(w);
	assert_ok(ecr__jw_new(&w));
	assert_int_equal(ecr__jw_double(w, INFINITY), ECR_EINVALID);
	ecr__jw_free(w);
	assert_ok(ecr__jw_new(&w));
	assert_int_equal(ecr__jw_string(w, "bad \xc0\x80"), ECR_EINVALID);
	ecr__jw_free(w);
	assert_ok(ecr__jw_new(&w));
	assert_int_equal(ecr__jw_string(w, "\xed\xa0\x80"), ECR_EINVALID);
	ecr__jw_free(w);
	assert_ok(ecr__jw_new(&w));
	assert_int_equal(ecr__jw_string(w, NULL), ECR_EINVALID);
	ecr__jw_free(w);
	/* closing what is not open */
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_array_open(w));
	assert_int_equal(ecr__jw_object_close(w), ECR_EINVALID);
	ecr__jw_free(w);
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_array_open(w));
	assert_int_equal(ecr__jw_key(w, "k"), ECR_EINVALID); /* key in an array */
	ecr__jw_free(w);
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_object_open(w));
	assert_ok(ecr__jw_key(w, "k"));
	assert_int_equal(ecr__jw_key(w, "k2"), ECR_EINVALID); /* two keys in a row */
	ecr__jw_free(w);
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_object_open(w));
	assert_ok(ecr__jw_key(w, "k"));
	assert_int_equal(ecr__jw_object_close(w), ECR_EINVALID); /* key without a value */
	ecr__jw_free(w);
	assert_ok(ecr__jw_new(&w));
	assert_int_equal(ecr__jw_array_close(w), ECR_EINVALID); /* nothing open */
	ecr__jw_free(w);
	/* a second top-level value */
	assert_ok(ecr__jw_new(&w));
	assert_ok(ecr__jw_null(w));
	assert_int_equal(ecr__jw_null(w), ECR_EINVALID);
	ecr__jw_free(w);
	ecr__jw_free(NULL);
	ecr_buf_dispose(&out);
}

/* ---- allocation failures: every allocation of a parse and of a write fails once ---- */

static long alloc_count, alloc_fail_at;

static void *fail_malloc(size_t n, void *p)
{
	(void)p;
	if (++alloc_count == alloc_fail_at)
		return NULL;
	return malloc(n);
}

static void *fail_realloc(void *ptr, size_t n, void *p)
{
	(void)p;
	if (++alloc_count == alloc_fail_at)
		return NULL;
	return realloc(ptr, n);
}

static void fail_free(void *ptr, void *p)
{
	(void)p;
	free(ptr);
}

static int write_doc(ecr_buf *out)
{
	ecr__jw *w = NULL;
	int rc;
	if ((rc = ecr__jw_new(&w)) != 0)
		return rc;
	if ((rc = ecr__jw_object_open(w)) || (rc = ecr__jw_key(w, "a")) || (rc = ecr__jw_array_open(w)))
		goto done;
	for (int i = 0; i < 200 && !rc; i++)
		rc = ecr__jw_string(w, "some text that makes the buffer grow");
	if (rc || (rc = ecr__jw_array_close(w)) || (rc = ecr__jw_object_close(w)))
		goto done;
	rc = ecr__jw_finish(w, out);
done:
	ecr__jw_free(w);
	return rc;
}

static void test_core_json__alloc_failures(void **state)
{
	const ecr_allocator a = { ECR_ALLOCATOR_VERSION, fail_malloc, fail_realloc, fail_free, NULL };
	char *doc = big_object(300, false);
	long n;
	(void)state;

	assert_ok(ecr_set_allocator(&a));
	for (n = 1;; n++) {
		ecr__json *v = NULL;
		alloc_count = 0;
		alloc_fail_at = n;
		int rc = parse_str(&v, doc, NULL);
		if (rc == 0) {
			assert_true(alloc_count < n); /* no allocation was failed */
			assert_int_equal(v->count, 300);
			ecr__json_free(v);
			break;
		}
		if (rc != ECR_ENOMEM)
			fail_msg("allocation %ld failed: rc %d (%s)", n, rc, ecr_error_last()->message);
		assert_null(v);
	}
	assert_true(n > 300);
	for (n = 1;; n++) {
		ecr_buf out = ECR_BUF_INIT;
		alloc_count = 0;
		alloc_fail_at = n;
		int rc = write_doc(&out);
		ecr_buf_dispose(&out);
		if (rc == 0) {
			if (alloc_count >= n)
				fail_msg("write succeeded although allocation %ld of %ld failed", n, alloc_count);
			break;
		}
		if (rc != ECR_ENOMEM)
			fail_msg("allocation %ld failed: rc %d (%s)", n, rc, ecr_error_last()->message);
	}
	alloc_fail_at = 0;
	assert_ok(ecr_set_allocator(NULL));
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_json__document),
		cmocka_unit_test(test_core_json__scalars_at_top),
		cmocka_unit_test(test_core_json__numbers),
		cmocka_unit_test(test_core_json__syntax_errors),
		cmocka_unit_test(test_core_json__trailing_data),
		cmocka_unit_test(test_core_json__duplicate_keys),
		cmocka_unit_test(test_core_json__large_object),
		cmocka_unit_test(test_core_json__invalid_utf8),
		cmocka_unit_test(test_core_json__depth_limit),
		cmocka_unit_test(test_core_json__deep_nesting),
		cmocka_unit_test(test_core_json__bytes_limit),
		cmocka_unit_test(test_core_json__nodes_limit),
		cmocka_unit_test(test_core_json__string_limit),
		cmocka_unit_test(test_core_json__writer_roundtrip),
		cmocka_unit_test(test_core_json__writer_value),
		cmocka_unit_test(test_core_json__writer_errors),
		cmocka_unit_test(test_core_json__alloc_failures),
	};
	return cmocka_run_group_tests_name("core/json", tests, NULL, NULL);
}
