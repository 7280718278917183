/* Fuzz target: the bounded JSON parser that decodes every ECR API request
 * body (and manifests, policies). Besides memory safety it checks a round
 * trip: a document that parses is written back with the JSON writer, and
 * that output parses again to the same tree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/core/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const ecr__json *a, const ecr__json *b)
{
	if (a->type != b->type || a->count != b->count)
		return 0;
	switch (a->type) {
	case ECR__JSON_BOOL:
		return a->boolean == b->boolean;
	case ECR__JSON_NUMBER:
		return a->is_integer ? (b->is_integer && a->integer == b->integer) : a->number == b->number;
	case ECR__JSON_STRING:
		return a->length == b->length && memcmp(a->string, b->string, a->length) == 0;
	case ECR__JSON_ARRAY:
	case ECR__JSON_OBJECT:
		for (size_t i = 0; i < a->count; i++) {
			if (a->type == ECR__JSON_OBJECT && strcmp(a->keys[i], b->keys[i]) != 0)
				return 0;
			if (!same(a->values[i], b->values[i]))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ecr__json_limits lim = { 64 * 1024, 32, 4096, 16 * 1024 };
	ecr__json *doc = NULL, *again = NULL;
	ecr__jw *w = NULL;
	ecr_buf out = ECR_BUF_INIT;
	if (ecr__json_parse(&doc, data, size, &lim) != 0)
		return 0;
	if (ecr__jw_new(&w) || ecr__jw_value(w, doc) || ecr__jw_finish(w, &out))
		abort();
	/* the writer's output of a parsed document always parses back to it */
	ecr__json_limits wide = { out.size + 1, 64, 8192, 64 * 1024 };
	if (ecr__json_parse(&again, out.ptr, out.size, &wide) != 0 || !same(doc, again))
		abort();
	ecr__json_free(again);
	ecr__jw_free(w);
	ecr_buf_dispose(&out);
	ecr__json_free(doc);
	return 0;
}
