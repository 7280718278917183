/* Incremental SHA-256 / SHA-512 digests over one interface. The provider is
 * chosen at build time: OpenSSL libcrypto's EVP (default, SHA-NI) or mbedTLS
 * (-Ddigest=mbedtls). */
#ifndef ECR_CORE_DIGEST_H
#define ECR_CORE_DIGEST_H

#include "core.h"

typedef enum ecr__digest_alg {
	ECR__DIGEST_SHA256 = 0,
	ECR__DIGEST_SHA512 = 1
} ecr__digest_alg;

/* "sha512:" + 128 hex + NUL fits. */
#define ECR__DIGEST_STRLEN_MAX 136

typedef struct ecr__digest_ctx ecr__digest_ctx;

int ecr__digest_new(ecr__digest_ctx **out, ecr__digest_alg alg);
int ecr__digest_update(ecr__digest_ctx *ctx, const void *data, size_t len);
/* Write "<alg>:<lowercase hex>" with a NUL into out (outlen >= ECR__DIGEST_STRLEN_MAX
 * is always enough). The context can be used again after ecr__digest_reset(). */
int ecr__digest_final(ecr__digest_ctx *ctx, char *out, size_t outlen);
/* Raw bytes (32 or 64) into out; *len_out set. */
int ecr__digest_final_raw(ecr__digest_ctx *ctx, unsigned char *out, size_t outlen, size_t *len_out);
int ecr__digest_reset(ecr__digest_ctx *ctx);
/* Copy the running state (so a caller can peek at the digest so far). */
int ecr__digest_clone(ecr__digest_ctx **out, const ecr__digest_ctx *ctx);
void ecr__digest_free(ecr__digest_ctx *ctx);
ecr__digest_alg ecr__digest_ctx_alg(const ecr__digest_ctx *ctx);

/* One-shot. */
int ecr__digest_buf(char *out, size_t outlen, ecr__digest_alg alg, const void *data, size_t len);
/* "sha256" or "sha512" → alg; ECR_EINVALID otherwise. */
int ecr__digest_alg_from_name(ecr__digest_alg *out, const char *name, size_t len);
const char *ecr__digest_alg_name(ecr__digest_alg alg);
/* Number of hex characters of an algorithm's digest (64 / 128). */
size_t ecr__digest_hex_len(ecr__digest_alg alg);
/* "libcrypto" or "mbedtls". */
const char *ecr__digest_provider(void);

#endif
