/* libcrypto (OpenSSL 3) on first use: the digest provider (digest.c) calls the EVP and ERR functions below, which
 * are libecr's own (hidden) and open libcrypto.so.3 the first time a hash is computed. A process that hashes
 * nothing (an idle ecrd) neither maps nor relocates libcrypto (1.4 MiB of its RSS). The rest of libecr uses
 * mbedTLS. If libcrypto cannot be opened, EVP_MD_CTX_new() answers NULL and the others fail, and
 * ERR_error_string_n() tells why (dlerror()'s text).
 *
 * A function digest.c starts to use must be added here; until it is, libcrypto is linked again (the link line
 * keeps it: --as-needed drops it while every reference resolves here) and test core/lazy says so. */
#include "core.h"

#include "ecr_config.h"
#include "lazy.h"

#if ECR_DIGEST_LIBCRYPTO

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>

/* clang-format off */
#define CRYPTO_FUNCS(X) \
	X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) X(EVP_MD_CTX_copy_ex) X(EVP_sha256) X(EVP_sha512) X(EVP_DigestInit_ex) \
	X(EVP_DigestUpdate) X(EVP_DigestFinal_ex) X(EVP_Digest) X(ERR_get_error) X(ERR_error_string_n) \
	X(ERR_clear_error)
/* clang-format on */

#define FIELD(f) __typeof__(&f) f;
static struct {
	CRYPTO_FUNCS(FIELD)
} api;
#undef FIELD

/* what ERR_get_error() answers while libcrypto could not be loaded: ERR_error_string_n() tells why */
#define LOAD_ERROR_CODE 1ul

const char *ecr__lazy_crypto_resolve(void *h)
{
	const char *missing = NULL;
#define RESOLVE(f)                                                                                                     \
	if (!missing && !(api.f = (__typeof__(api.f))dlsym(h, #f)))                                                    \
		missing = #f;
	CRYPTO_FUNCS(RESOLVE)
#undef RESOLVE
	return missing;
}

void ecr__lazy_crypto_clear(void)
{
	memset(&api, 0, sizeof(api));
}

/* libcrypto loaded (on the first call); the error is set when it cannot be */
static int loaded(void)
{
	if (ecr__lazy_is_loaded(ECR__LAZY_CRYPTO))
		return 1;
	return ecr__lazy_load(ECR__LAZY_CRYPTO) == 0;
}

EVP_MD_CTX *EVP_MD_CTX_new(void)
{
	if (!loaded())
		return NULL;
	return api.EVP_MD_CTX_new();
}

void EVP_MD_CTX_free(EVP_MD_CTX *ctx)
{
	if (ctx)
		api.EVP_MD_CTX_free(ctx);
}

int EVP_MD_CTX_copy_ex(EVP_MD_CTX *out, const EVP_MD_CTX *in)
{
	return loaded() ? api.EVP_MD_CTX_copy_ex(out, in) : 0;
}

const EVP_MD *EVP_sha256(void)
{
	return loaded() ? api.EVP_sha256() : NULL;
}

const EVP_MD *EVP_sha512(void)
{
	return loaded() ? api.EVP_sha512() : NULL;
}

int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl)
{
	return loaded() ? api.EVP_DigestInit_ex(ctx, type, impl) : 0;
}

int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt)
{
	return loaded() ? api.EVP_DigestUpdate(ctx, d, cnt) : 0;
}

int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s)
{
	return loaded() ? api.EVP_DigestFinal_ex(ctx, md, s) : 0;
}

int EVP_Digest(const void *data, size_t count, unsigned char *md, unsigned int *size, const EVP_MD *type, ENGINE *impl)
{
	return loaded() ? api.EVP_Digest(data, count, md, size, type, impl) : 0;
}

unsigned long ERR_get_error(void)
{
	return loaded() ? api.ERR_get_error() : LOAD_ERROR_CODE;
}

void ERR_error_string_n(unsigned long e, char *buf, size_t len)
{
	if (loaded())
		api.ERR_error_string_n(e, buf, len);
	else if (len)
		snprintf(buf, len, "%s", ecr__lazy_error(ECR__LAZY_CRYPTO));
}

void ERR_clear_error(void)
{
	if (loaded())
		api.ERR_clear_error();
}

#else

const char *ecr__lazy_crypto_resolve(void *h)
{
	(void)h;
	return "EVP_Digest (libecr's digests use mbedTLS)";
}

void ecr__lazy_crypto_clear(void) {}

#endif
