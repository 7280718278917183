/* Test helper: random small OCI images built in memory, pushed through the
 * public API, and verified end to end; plus a registry-wide consistency check.
 *
 * Every function here is safe to call from several threads at once (no
 * global state but a thread-local problem description), and none of them uses
 * cmocka assertions, so they can run on worker threads and in forked children.
 * Functions return 0 or a negative code: an ECR_E* code passed up from the
 * library (ecr_error_last() still describes it), or TH_EBROKEN when the
 * registry returned something inconsistent; th_problem() then says what. */
#ifndef ECR_TESTS_TH_IMAGE_H
#define ECR_TESTS_TH_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "ecr.h"

/* Returned when data read back does not match what it must be. */
#define TH_EBROKEN (-1000)

/* "sha512:" + 128 hex + NUL. */
#define TH_DIGEST_MAX 136

typedef struct th_blob {
	char digest[TH_DIGEST_MAX];
	unsigned char *data;
	size_t len;
} th_blob;

typedef struct th_image {
	th_blob config;
	th_blob *layers;
	size_t layer_count;
	char *manifest; /* NUL-terminated JSON */
	size_t manifest_len;
	char digest[TH_DIGEST_MAX]; /* of the manifest */
} th_image;

/* A small PRNG (xorshift64*), one state per thread. A zero seed is replaced. */
uint64_t th_rand(uint64_t *state);
/* Uniform in [lo, hi]. */
uint64_t th_rand_range(uint64_t *state, uint64_t lo, uint64_t hi);

/* Build an image of layer_count layers of random bytes with the given sizes
 * (sizes may be NULL: random sizes of 0..4096 bytes), a config JSON and an OCI
 * image manifest referencing them with correct digests and sizes. Two calls
 * with different PRNG states give different images. Returns 0 or ECR_ENOMEM. */
int th_image_random(th_image *out, uint64_t *rng, size_t layer_count, const size_t *sizes);
/* The same, with copies of the given layers first, then extra_layers random
 * ones (random sizes of 1..4096 bytes): images that share layers. */
int th_image_with_layers(th_image *out, uint64_t *rng, const th_blob *layers, size_t count, size_t extra_layers);
/* A blob of len random bytes; dispose with th_blob_dispose(). */
int th_blob_random(th_blob *out, uint64_t *rng, size_t len);
void th_blob_dispose(th_blob *b);
void th_image_dispose(th_image *img);

/* Upload one blob (skipped when ecr_blob_stat finds it), in chunks of chunk
 * bytes (0: 1000). Returns the library's code of the first failing call. */
int th_blob_push(ecr_repository *repo, const th_blob *blob, size_t chunk);

/* Push every blob of the image, then its manifest with the tag (may be NULL).
 * Returns the library's code of the first failing call. */
int th_image_push(ecr_repository *repo, const th_image *img, const char *tag, size_t chunk);

/* Read a blob through ecr_blob_open/read and check its size (unless
 * expected_size is UINT64_MAX) and that its content hashes to its digest.
 * ECR_ENOTFOUND etc. from the library, TH_EBROKEN on a mismatch. */
int th_blob_verify(ecr_repository *repo, const char *digest, uint64_t expected_size);

/* Verify an image end to end: ecr_image_get(reference) finds it; its digest is
 * expected_digest (unless NULL); its manifest bytes hash to its digest; the
 * manifest parses; the config and every layer it references are readable and
 * match their digests and sizes. digest_out (may be NULL, TH_DIGEST_MAX bytes)
 * receives the image's digest. */
int th_image_verify(ecr_repository *repo, const char *reference, const char *expected_digest, char *digest_out);

/* Verify that img (built by th_image_random) is stored exactly: by digest, and
 * its manifest bytes equal img->manifest. */
int th_image_verify_exact(ecr_repository *repo, const th_image *img);

typedef struct th_check_stats {
	size_t repositories;
	size_t tags;
	size_t images;
	size_t blobs_verified; /* with repetitions */
} th_check_stats;

/* The registry-wide consistency check: for every repository, every tag points
 * to an image that ecr_image_get finds (by tag and by digest, same digest);
 * every image (the image iterator) has a manifest matching its digest and
 * every blob it references readable and matching its digest.
 * stats may be NULL. */
int th_registry_check(ecr_registry *reg, th_check_stats *stats);

/* Hash every file of a fs blob store found under root (any path of the form
 * .../blobs/<alg>/<2 hex>/<hex>): its content must hash to the digest its
 * path names. *count_out (may be NULL) gets the number of blobs hashed.
 * Files whose names are not digests (temporary files) are skipped. */
int th_fs_blobs_verify(const char *root, size_t *count_out);
/* The same, calling cb(digest, payload) for each blob file that verified; a
 * non-zero return from cb stops the walk and is returned. */
typedef int (*th_blob_file_cb)(const char *digest, void *payload);
int th_fs_blobs_walk(const char *root, size_t *count_out, th_blob_file_cb cb, void *payload);

/* What the last TH_EBROKEN (or failed library call) on this thread was about. */
const char *th_problem(void);

#endif
