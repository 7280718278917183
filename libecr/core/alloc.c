/* All allocation goes through here, so an embedder's allocator (and the
 * tests' failing allocator) sees every byte. */
#include "core.h"

#include <stdlib.h>

static void *std_malloc(size_t n, void *p) { (void)p; return malloc(n); }
static void *std_realloc(void *ptr, size_t n, void *p) { (void)p; return realloc(ptr, n); }
static void std_free(void *ptr, void *p) { (void)p; free(ptr); }

static ecr_allocator current = { ECR_ALLOCATOR_VERSION, std_malloc, std_realloc, std_free, NULL };

int ecr_set_allocator(const ecr_allocator *a)
{
	if (ecr__initialized())
		return ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "ecr_set_allocator() must be called before ecr_init()");
	if (!a) {
		current = (ecr_allocator){ ECR_ALLOCATOR_VERSION, std_malloc, std_realloc, std_free, NULL };
		return 0;
	}
	int rc = ecr__check_version(a->version, ECR_ALLOCATOR_VERSION, "ecr_allocator");
	if (rc)
		return rc;
	if (!a->malloc_fn || !a->realloc_fn || !a->free_fn)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_allocator needs malloc_fn, realloc_fn and free_fn");
	current = *a;
	return 0;
}

void *ecr__alloc_raw_malloc(size_t n) { return current.malloc_fn(n ? n : 1, current.payload); }
void *ecr__alloc_raw_realloc(void *p, size_t n) { return current.realloc_fn(p, n ? n : 1, current.payload); }
void ecr__alloc_raw_free(void *p)
{
	if (p)
		current.free_fn(p, current.payload);
}

void *ecr__malloc(size_t n)
{
	void *p = ecr__alloc_raw_malloc(n);
	if (!p)
		ecr__fail_oom();
	return p;
}

void *ecr__calloc(size_t nmemb, size_t size)
{
	size_t total;
	if (ecr__mul_overflow(nmemb, size, &total)) {
		ecr__fail_oom();
		return NULL;
	}
	void *p = ecr__malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

void *ecr__realloc(void *ptr, size_t n)
{
	void *p = ecr__alloc_raw_realloc(ptr, n);
	if (!p)
		ecr__fail_oom();
	return p;
}

void ecr__free(void *ptr) { ecr__alloc_raw_free(ptr); }

int ecr__array_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap, bytes;
	void *p;
	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (ecr__mul_overflow(ncap, elem, &bytes))
		return ecr__fail_oom();
	if (!(p = ecr__realloc(*arr, bytes)))
		return ECR_ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

char *ecr__strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = ecr__malloc(len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *ecr__strdup(const char *s) { return ecr__strndup(s, SIZE_MAX); }
