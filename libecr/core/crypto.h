/* HMAC (mbedTLS), base64 (mbedTLS), random bytes and UUIDs (getrandom). */
#ifndef ECR_CORE_CRYPTO_H
#define ECR_CORE_CRYPTO_H

#include "core.h"

/* HMAC-SHA256 into out[32]. */
int ecr__hmac_sha256(unsigned char out[32], const void *key, size_t keylen, const void *msg, size_t msglen);
/* HMAC-SHA512 into out[64]. */
int ecr__hmac_sha512(unsigned char out[64], const void *key, size_t keylen, const void *msg, size_t msglen);
/* Constant-time comparison: 0 when equal. */
int ecr__memeq_ct(const void *a, const void *b, size_t len);

/* Base64 (RFC 4648 §4, with padding) and base64url (§5, no padding). Output appended to out. */
int ecr__base64_encode(ecr_buf *out, const void *data, size_t len);
int ecr__base64_decode(ecr_buf *out, const char *s, size_t len);   /* ECR_EINVALID on bad input */
int ecr__base64url_encode(ecr_buf *out, const void *data, size_t len);
int ecr__base64url_decode(ecr_buf *out, const char *s, size_t len);
/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void ecr__hex_encode(char *out, const unsigned char *data, size_t len);

/* Cryptographically random bytes (getrandom). */
int ecr__random_bytes(void *buf, size_t len);
/* A random (version 4) UUID, lowercase, into out[37]. */
int ecr__uuid_v4(char out[37]);

#endif
