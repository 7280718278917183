/* JSON: a bounded parser for untrusted input (yajl's streaming parser building
 * a small tree, with limits on bytes, depth, nodes and string length, and
 * duplicate keys rejected), and a writer into an ecr_buf (yajl_gen). */
#ifndef ECR_CORE_JSON_H
#define ECR_CORE_JSON_H

#include "core.h"

typedef enum ecr__json_type {
	ECR__JSON_NULL = 0,
	ECR__JSON_BOOL,
	ECR__JSON_NUMBER,
	ECR__JSON_STRING,
	ECR__JSON_ARRAY,
	ECR__JSON_OBJECT
} ecr__json_type;

typedef struct ecr__json ecr__json;
struct ecr__json {
	ecr__json_type type;
	bool boolean;          /* BOOL */
	bool is_integer;       /* NUMBER: fits int64 exactly */
	int64_t integer;       /* NUMBER with is_integer */
	double number;         /* NUMBER */
	char *string;          /* STRING (NUL-terminated, may contain NUL: see length); NUMBER: its text */
	size_t length;         /* STRING length */
	char **keys;           /* OBJECT: keys[i] names values[i] */
	ecr__json **values;    /* OBJECT members, ARRAY items, in order */
	size_t count;          /* OBJECT / ARRAY */
};

typedef struct ecr__json_limits {
	size_t max_bytes;   /* default 4 MiB */
	size_t max_depth;   /* default 64 */
	size_t max_nodes;   /* default 100000 */
	size_t max_string;  /* default 1 MiB */
} ecr__json_limits;

/* Parse len bytes (no NUL needed). NULL limits: the defaults. Errors: ECR_EINVALID
 * (syntax, duplicate key, invalid UTF-8) and ECR_ELIMIT, class ECR_ERROR_JSON,
 * with a message giving the reason. */
int ecr__json_parse(ecr__json **out, const void *data, size_t len, const ecr__json_limits *limits);
void ecr__json_free(ecr__json *v);

/* Lookups; NULL when v is not an object / array or the member is missing. */
const ecr__json *ecr__json_get(const ecr__json *obj, const char *key);
const ecr__json *ecr__json_at(const ecr__json *arr, size_t i);
/* Typed lookups of a member: NULL / false when missing or of another type. */
const char *ecr__json_get_string(const ecr__json *obj, const char *key);
bool ecr__json_get_int(const ecr__json *obj, const char *key, int64_t *out);

/* Writer. Strings are escaped; the output is compact. */
typedef struct ecr__jw ecr__jw;
int ecr__jw_new(ecr__jw **out);
void ecr__jw_free(ecr__jw *w);
int ecr__jw_object_open(ecr__jw *w);
int ecr__jw_object_close(ecr__jw *w);
int ecr__jw_array_open(ecr__jw *w);
int ecr__jw_array_close(ecr__jw *w);
int ecr__jw_key(ecr__jw *w, const char *key);
int ecr__jw_string(ecr__jw *w, const char *s);
int ecr__jw_string_len(ecr__jw *w, const char *s, size_t len);
int ecr__jw_int(ecr__jw *w, int64_t v);
int ecr__jw_double(ecr__jw *w, double v);
int ecr__jw_bool(ecr__jw *w, bool v);
int ecr__jw_null(ecr__jw *w);
/* Write a parsed value (any type, nested) back out: compact, object members in
 * their order. Nesting deeper than the writer allows fails with ECR_EINVALID. */
int ecr__jw_value(ecr__jw *w, const ecr__json *v);
/* An object member: the key, then its value. */
int ecr__jw_key_string(ecr__jw *w, const char *key, const char *value);
int ecr__jw_key_int(ecr__jw *w, const char *key, int64_t value);
/* Parse a JSON document (text, NUL-terminated, default limits) and write its value. */
int ecr__jw_json_text(ecr__jw *w, const char *text);
/* A parsed value written compactly (object members in their order), appended to out. */
int ecr__json_to_buf(ecr_buf *out, const ecr__json *v);
/* Append the document written so far to out. */
int ecr__jw_finish(ecr__jw *w, ecr_buf *out);

#endif
