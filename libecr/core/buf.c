/* ecr_buf: growable, always NUL-terminated. */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>

void ecr_buf_dispose(ecr_buf *b)
{
	if (!b)
		return;
	if (b->reserved)
		ecr__free(b->ptr);
	b->ptr = NULL;
	b->size = 0;
	b->reserved = 0;
}

int ecr__buf_grow(ecr_buf *b, size_t target)
{
	size_t need;
	if (ecr__add_overflow(target, 1, &need))
		return ecr__fail_oom();
	if (b->reserved >= need)
		return 0;
	size_t cap = b->reserved ? b->reserved : 64;
	while (cap < need) {
		if (ecr__mul_overflow(cap, 2, &cap)) {
			cap = need;
			break;
		}
	}
	char *p;
	if (b->reserved) {
		p = ecr__realloc(b->ptr, cap);
	} else {
		/* not owned yet (empty, or borrowed memory): copy */
		p = ecr__malloc(cap);
		if (p && b->size)
			memcpy(p, b->ptr, b->size);
	}
	if (!p)
		return ECR_ENOMEM;
	b->ptr = p;
	b->reserved = cap;
	b->ptr[b->size] = '\0';
	return 0;
}

int ecr__buf_put(ecr_buf *b, const void *data, size_t len)
{
	size_t target;
	if (ecr__add_overflow(b->size, len, &target))
		return ecr__fail_oom();
	int rc = ecr__buf_grow(b, target);
	if (rc)
		return rc;
	if (len)
		memcpy(b->ptr + b->size, data, len);
	b->size = target;
	b->ptr[b->size] = '\0';
	return 0;
}

int ecr__buf_puts(ecr_buf *b, const char *s) { return ecr__buf_put(b, s, strlen(s)); }

int ecr__buf_printf(ecr_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "bad format string");
	int rc = ecr__buf_grow(b, b->size + (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->ptr + b->size, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->size += (size_t)n;
	return 0;
}

void ecr__buf_clear(ecr_buf *b)
{
	b->size = 0;
	if (b->reserved)
		b->ptr[0] = '\0';
}

char *ecr__buf_detach(ecr_buf *b)
{
	char *p = b->ptr;
	if (!b->reserved && p) {
		p = ecr__strndup(b->ptr, b->size);
	} else if (!p) {
		p = ecr__strdup("");
	}
	b->ptr = NULL;
	b->size = 0;
	b->reserved = 0;
	return p;
}

int ecr__pairs_add(const char *first, const char *second, void *pairs)
{
	ecr__pairs *p = pairs;
	int rc;
	if ((rc = ecr__buf_put(&p->firsts, first, strlen(first) + 1)) ||
		(rc = ecr__buf_put(&p->seconds, second, strlen(second) + 1)))
		return rc;
	p->count++;
	return 0;
}

int ecr__pairs_each(const ecr__pairs *p, int (*cb)(const char *, const char *, void *), void *payload)
{
	const char *a = p->firsts.ptr, *b = p->seconds.ptr;
	for (size_t i = 0; i < p->count; i++) {
		int rc = cb(a, b, payload);
		if (rc)
			return rc;
		a += strlen(a) + 1;
		b += strlen(b) + 1;
	}
	return 0;
}

void ecr__pairs_dispose(ecr__pairs *p)
{
	ecr_buf_dispose(&p->firsts);
	ecr_buf_dispose(&p->seconds);
	p->count = 0;
}
