/* Incremental SHA-256 / SHA-512 over one interface. The provider is picked at
 * build time: OpenSSL libcrypto's EVP (default, uses SHA-NI where available)
 * or mbedTLS 2.28 (-Ddigest=mbedtls). Defining ECR_DIGEST_FORCE_MBEDTLS=1
 * selects mbedTLS regardless of the configuration (the tests use it to run
 * both providers against the same vectors).
 *
 * Note: the provider's own state (EVP_MD_CTX) is allocated by libcrypto and
 * bypasses ecr_set_allocator(); our wrapper struct goes through ecr__malloc. */
#include "core.h"

#include <stdio.h>

#include "digest.h"
#include "ecr_config.h"

#if defined(ECR_DIGEST_FORCE_MBEDTLS) && ECR_DIGEST_FORCE_MBEDTLS
#define ECR__DIGEST_USE_LIBCRYPTO 0
#elif defined(ECR_DIGEST_LIBCRYPTO) && ECR_DIGEST_LIBCRYPTO
#define ECR__DIGEST_USE_LIBCRYPTO 1
#else
#define ECR__DIGEST_USE_LIBCRYPTO 0
#endif

#if ECR__DIGEST_USE_LIBCRYPTO
#include <openssl/err.h>
#include <openssl/evp.h>
#else
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#endif

struct ecr__digest_ctx {
	ecr__digest_alg alg;
	bool finalized;
#if ECR__DIGEST_USE_LIBCRYPTO
	EVP_MD_CTX *md;
#else
	union {
		mbedtls_sha256_context sha256;
		mbedtls_sha512_context sha512;
	} u;
#endif
};

static int check_alg(ecr__digest_alg alg)
{
	if (alg != ECR__DIGEST_SHA256 && alg != ECR__DIGEST_SHA512)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "unknown digest algorithm %d", (int)alg);
	return 0;
}

const char *ecr__digest_alg_name(ecr__digest_alg alg)
{
	return alg == ECR__DIGEST_SHA512 ? "sha512" : "sha256";
}

size_t ecr__digest_hex_len(ecr__digest_alg alg) { return alg == ECR__DIGEST_SHA512 ? 128 : 64; }

static size_t raw_len(ecr__digest_alg alg) { return alg == ECR__DIGEST_SHA512 ? 64 : 32; }

int ecr__digest_alg_from_name(ecr__digest_alg *out, const char *name, size_t len)
{
	if (name && len == 6 && memcmp(name, "sha256", 6) == 0) {
		*out = ECR__DIGEST_SHA256;
		return 0;
	}
	if (name && len == 6 && memcmp(name, "sha512", 6) == 0) {
		*out = ECR__DIGEST_SHA512;
		return 0;
	}
	return ecr__fail(ECR_EINVALID, ECR_ERROR_OCI, "unsupported digest algorithm \"%.*s\"",
			 name ? (int)(len > 32 ? 32 : len) : 0, name ? name : "");
}

/* ---- provider layer ---- */

#if ECR__DIGEST_USE_LIBCRYPTO

const char *ecr__digest_provider(void) { return "libcrypto"; }

static int libcrypto_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char detail[160];
	if (e)
		ERR_error_string_n(e, detail, sizeof(detail));
	else
		snprintf(detail, sizeof(detail), "unknown error");
	ERR_clear_error();
	return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "libcrypto %s failed: %s", what, detail);
}

static int prov_init(ecr__digest_ctx *ctx)
{
	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md)
		return ecr__fail_oom();
	return 0;
}

static int prov_start(ecr__digest_ctx *ctx)
{
	const EVP_MD *md = ctx->alg == ECR__DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
	if (EVP_DigestInit_ex(ctx->md, md, NULL) != 1)
		return libcrypto_fail("EVP_DigestInit_ex");
	return 0;
}

static inline int prov_update(ecr__digest_ctx *ctx, const void *data, size_t len)
{
	if (EVP_DigestUpdate(ctx->md, data, len) != 1)
		return libcrypto_fail("EVP_DigestUpdate");
	return 0;
}

static int prov_finish(ecr__digest_ctx *ctx, unsigned char *out)
{
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(ctx->md, out, &n) != 1)
		return libcrypto_fail("EVP_DigestFinal_ex");
	if (n != raw_len(ctx->alg))
		return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "libcrypto returned a %u-byte digest", n);
	return 0;
}

static int prov_clone(ecr__digest_ctx *dst, const ecr__digest_ctx *src)
{
	if (EVP_MD_CTX_copy_ex(dst->md, src->md) != 1)
		return libcrypto_fail("EVP_MD_CTX_copy_ex");
	return 0;
}

static void prov_free(ecr__digest_ctx *ctx) { EVP_MD_CTX_free(ctx->md); }

/* One-shot without allocating a wrapper. */
static int prov_oneshot(unsigned char *out, ecr__digest_alg alg, const void *data, size_t len)
{
	const EVP_MD *md = alg == ECR__DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
	unsigned int n = 0;
	if (EVP_Digest(data, len, out, &n, md, NULL) != 1)
		return libcrypto_fail("EVP_Digest");
	return 0;
}

#else /* mbedTLS */

const char *ecr__digest_provider(void) { return "mbedtls"; }

static int mbedtls_fail(const char *what, int rc)
{
	return ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "mbedTLS %s failed (-0x%04x)", what, (unsigned)-rc);
}

static int prov_init(ecr__digest_ctx *ctx)
{
	if (ctx->alg == ECR__DIGEST_SHA512)
		mbedtls_sha512_init(&ctx->u.sha512);
	else
		mbedtls_sha256_init(&ctx->u.sha256);
	return 0;
}

static int prov_start(ecr__digest_ctx *ctx)
{
	int rc = ctx->alg == ECR__DIGEST_SHA512 ? mbedtls_sha512_starts_ret(&ctx->u.sha512, 0)
						: mbedtls_sha256_starts_ret(&ctx->u.sha256, 0);
	return rc ? mbedtls_fail("sha starts", rc) : 0;
}

static inline int prov_update(ecr__digest_ctx *ctx, const void *data, size_t len)
{
	int rc = ctx->alg == ECR__DIGEST_SHA512 ? mbedtls_sha512_update_ret(&ctx->u.sha512, data, len)
						: mbedtls_sha256_update_ret(&ctx->u.sha256, data, len);
	return rc ? mbedtls_fail("sha update", rc) : 0;
}

static int prov_finish(ecr__digest_ctx *ctx, unsigned char *out)
{
	int rc = ctx->alg == ECR__DIGEST_SHA512 ? mbedtls_sha512_finish_ret(&ctx->u.sha512, out)
						: mbedtls_sha256_finish_ret(&ctx->u.sha256, out);
	return rc ? mbedtls_fail("sha finish", rc) : 0;
}

static int prov_clone(ecr__digest_ctx *dst, const ecr__digest_ctx *src)
{
	if (src->alg == ECR__DIGEST_SHA512)
		mbedtls_sha512_clone(&dst->u.sha512, &src->u.sha512);
	else
		mbedtls_sha256_clone(&dst->u.sha256, &src->u.sha256);
	return 0;
}

static void prov_free(ecr__digest_ctx *ctx)
{
	if (ctx->alg == ECR__DIGEST_SHA512)
		mbedtls_sha512_free(&ctx->u.sha512);
	else
		mbedtls_sha256_free(&ctx->u.sha256);
}

static int prov_oneshot(unsigned char *out, ecr__digest_alg alg, const void *data, size_t len)
{
	int rc = alg == ECR__DIGEST_SHA512 ? mbedtls_sha512_ret(data, len, out, 0) : mbedtls_sha256_ret(data, len, out, 0);
	return rc ? mbedtls_fail("sha one-shot", rc) : 0;
}

#endif

/* ---- common layer ---- */

static int ctx_alloc(ecr__digest_ctx **out, ecr__digest_alg alg)
{
	ecr__digest_ctx *ctx = ecr__calloc(1, sizeof(*ctx));
	if (!ctx)
		return ECR_ENOMEM;
	ctx->alg = alg;
	int rc = prov_init(ctx);
	if (rc) {
		ecr__free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

int ecr__digest_new(ecr__digest_ctx **out, ecr__digest_alg alg)
{
	ecr__digest_ctx *ctx = NULL;
	int rc;

	*out = NULL;
	if ((rc = check_alg(alg)) != 0)
		return rc;
	if ((rc = ctx_alloc(&ctx, alg)) != 0)
		return rc;
	if ((rc = prov_start(ctx)) != 0) {
		ecr__digest_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

int ecr__digest_update(ecr__digest_ctx *ctx, const void *data, size_t len)
{
	if (__builtin_expect(ctx->finalized, 0))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INTERNAL, "digest updated after final without reset");
	if (len == 0)
		return 0;
	return prov_update(ctx, data, len);
}

static const char hexdigits[] = "0123456789abcdef";

static void hex(char *out, const unsigned char *raw, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdigits[raw[i] >> 4];
		out[2 * i + 1] = hexdigits[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

/* "<alg>:<hex>" into out. */
static int format_digest(char *out, size_t outlen, ecr__digest_alg alg, const unsigned char *raw)
{
	size_t need = 7 + ecr__digest_hex_len(alg) + 1;
	if (outlen < need)
		return ecr__fail(ECR_EBUFS, ECR_ERROR_INVALID, "digest output buffer too small (%zu < %zu)", outlen, need);
	memcpy(out, ecr__digest_alg_name(alg), 6);
	out[6] = ':';
	hex(out + 7, raw, raw_len(alg));
	return 0;
}

int ecr__digest_final_raw(ecr__digest_ctx *ctx, unsigned char *out, size_t outlen, size_t *len_out)
{
	size_t n = raw_len(ctx->alg);
	int rc;

	if (ctx->finalized)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INTERNAL, "digest finalized twice without reset");
	if (outlen < n)
		return ecr__fail(ECR_EBUFS, ECR_ERROR_INVALID, "digest output buffer too small (%zu < %zu)", outlen, n);
	if ((rc = prov_finish(ctx, out)) != 0)
		return rc;
	ctx->finalized = true;
	if (len_out)
		*len_out = n;
	return 0;
}

int ecr__digest_final(ecr__digest_ctx *ctx, char *out, size_t outlen)
{
	unsigned char raw[64];
	size_t n = 0;
	int rc;

	if (outlen < 7 + ecr__digest_hex_len(ctx->alg) + 1)
		return ecr__fail(ECR_EBUFS, ECR_ERROR_INVALID, "digest output buffer too small (%zu)", outlen);
	if ((rc = ecr__digest_final_raw(ctx, raw, sizeof(raw), &n)) != 0)
		return rc;
	return format_digest(out, outlen, ctx->alg, raw);
}

int ecr__digest_reset(ecr__digest_ctx *ctx)
{
	int rc = prov_start(ctx);
	if (rc)
		return rc;
	ctx->finalized = false;
	return 0;
}

int ecr__digest_clone(ecr__digest_ctx **out, const ecr__digest_ctx *ctx)
{
	ecr__digest_ctx *copy = NULL;
	int rc;

	*out = NULL;
	if ((rc = ctx_alloc(&copy, ctx->alg)) != 0)
		return rc;
	if ((rc = prov_clone(copy, ctx)) != 0) {
		ecr__digest_free(copy);
		return rc;
	}
	copy->finalized = ctx->finalized;
	*out = copy;
	return 0;
}

void ecr__digest_free(ecr__digest_ctx *ctx)
{
	if (!ctx)
		return;
	prov_free(ctx);
	ecr__free(ctx);
}

ecr__digest_alg ecr__digest_ctx_alg(const ecr__digest_ctx *ctx) { return ctx->alg; }

int ecr__digest_buf(char *out, size_t outlen, ecr__digest_alg alg, const void *data, size_t len)
{
	unsigned char raw[64];
	int rc;

	if ((rc = check_alg(alg)) != 0)
		return rc;
	if (outlen < 7 + ecr__digest_hex_len(alg) + 1)
		return ecr__fail(ECR_EBUFS, ECR_ERROR_INVALID, "digest output buffer too small (%zu)", outlen);
	if (!data)
		data = "";
	if ((rc = prov_oneshot(raw, alg, data, len)) != 0)
		return rc;
	return format_digest(out, outlen, alg, raw);
}
