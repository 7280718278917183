/* Reference-counted global init. Nothing is initialised here any more: libcurl
 * is loaded and initialised (with libecr's allocator) on first use
 * (ecr__lazy_curl(), lazy.c), OpenSSL by the first hash; ecr_shutdown()'s last
 * call cleans libcurl up if it was used. */
#include "core.h"

#include <pthread.h>

#include "ecr_config.h"
#include "lazy.h"

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_count;

int ecr__initialized(void)
{
	pthread_mutex_lock(&init_lock);
	int n = init_count;
	pthread_mutex_unlock(&init_lock);
	return n > 0;
}

int ecr_init(void)
{
	pthread_mutex_lock(&init_lock);
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
		ecr__lazy_curl_shutdown();
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
