/* Reference-counted global init: libcurl (with our allocator). */
#include "core.h"

#include <curl/curl.h>
#include <pthread.h>

#include "digest.h"
#include "ecr_config.h"

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_count;

int ecr__initialized(void)
{
	pthread_mutex_lock(&init_lock);
	int n = init_count;
	pthread_mutex_unlock(&init_lock);
	return n > 0;
}

static void *mem_malloc(size_t n) { return ecr__alloc_raw_malloc(n); }
static void mem_free(void *p) { ecr__alloc_raw_free(p); }
static void *mem_realloc(void *p, size_t n) { return ecr__alloc_raw_realloc(p, n); }
static char *mem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = ecr__alloc_raw_malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}
static void *mem_calloc(size_t nmemb, size_t size)
{
	size_t total;
	if (ecr__mul_overflow(nmemb, size, &total))
		return NULL;
	void *p = ecr__alloc_raw_malloc(total);
	if (p)
		memset(p, 0, total);
	return p;
}

int ecr_init(void)
{
	pthread_mutex_lock(&init_lock);
	if (init_count == 0) {
		if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, mem_malloc, mem_free, mem_realloc, mem_strdup,
			    mem_calloc) != CURLE_OK) {
			pthread_mutex_unlock(&init_lock);
			return ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "curl_global_init failed");
		}
	}
	int n = ++init_count;
	pthread_mutex_unlock(&init_lock);
	return n;
}

int ecr_shutdown(void)
{
	pthread_mutex_lock(&init_lock);
	if (init_count == 0) {
		pthread_mutex_unlock(&init_lock);
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_shutdown() without ecr_init()");
	}
	int n = --init_count;
	if (n == 0)
		curl_global_cleanup();
	pthread_mutex_unlock(&init_lock);
	return n;
}

const char *ecr_version(void)
{
#if ECR_DIGEST_LIBCRYPTO
	return ECR_VERSION_STRING " (sha256: libcrypto)";
#else
	return ECR_VERSION_STRING " (sha256: mbedtls)";
#endif
}
