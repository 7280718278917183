/* Helpers shared by the built-in blob stores (blob_store.c): validation of
 * the digests and staging ids that callers hand in, and the layout of a
 * digest's path. */
#ifndef ECR_STORAGE_BLOB_COMMON_H
#define ECR_STORAGE_BLOB_COMMON_H

#include "../core/core.h"
#include "../core/digest.h"

/* Longest staging id: [A-Za-z0-9-]{1,64}. */
#define ECR__BLOB_STAGE_ID_MAX 64

/* "blobs/sha512/xx/" + 128 hex + NUL fits. */
#define ECR__BLOB_PATH_MAX 160

/* Validate "<alg>:<lowercase hex of exactly the algorithm's length>".
 * alg_out and hex_out (pointing into digest) may be NULL. ECR_EINVALID. */
int ecr__blob_digest_parse(const char *digest, ecr__digest_alg *alg_out, const char **hex_out);

/* Validate a staging id: 1..64 of [A-Za-z0-9-]. ECR_EINVALID. */
int ecr__blob_stage_id_check(const char *stage_id);
/* The same as a predicate, without setting an error (for directory walks). */
bool ecr__blob_stage_id_valid(const char *name);

/* Whether name is exactly len lowercase hex digits. */
bool ecr__blob_is_hex(const char *name, size_t len);

/* "blobs/<alg>/<first 2 hex>/<hex>" for a digest already validated by
 * ecr__blob_digest_parse(). out must hold ECR__BLOB_PATH_MAX bytes. */
void ecr__blob_digest_path(char out[ECR__BLOB_PATH_MAX], ecr__digest_alg alg, const char *hex);

/* Set the ECR_EDIGEST error for content that does not match. */
int ecr__blob_fail_mismatch(const char *expected, const char *actual);

/* Wall clock in ms since the epoch. */
int64_t ecr__blob_now_ms(void);

/* blob_s3.c: append to out a presigned GET URL, base + path + "?" + SigV4 in the query string
 * (UNSIGNED-PAYLOAD, host the only signed header; X-Amz-Security-Token when session_token is not NULL).
 * base: "http://host:port" (path style) or "https://bucket.host" (virtual hosted); host: the Host header;
 * path: the encoded path ("/bucket/key" or "/key"); signed at now_s (seconds since the epoch), valid
 * lifetime_s seconds (1 to 7 days). ECR_EINVALID. */
int ecr__s3_presign(ecr_buf *out, const char *base, const char *host, const char *path, const char *access_key,
	const char *secret, const char *session_token, const char *region, int64_t lifetime_s, int64_t now_s);

/* Wrap inner in a store that counts every failed call (ecr__blob_errors(), meta.h). On success the wrapper owns
 * inner (its free frees inner); on failure the caller still does. A wrapped store is returned unchanged. */
int ecr__blob_store_counting(ecr_blob_store **out, ecr_blob_store *inner);
/* The store a counting wrapper wraps, or store itself. */
ecr_blob_store *ecr__blob_store_unwrap(ecr_blob_store *store);

#endif
