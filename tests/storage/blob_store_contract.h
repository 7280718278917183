/* Behaviour every blob store must have, as CMocka tests shared by the test
 * files of the built-in stores. The including file defines, before including:
 *
 *   #define BSC_NAME(c) test_storage_blob_xxx__##c   (names the tests)
 *   static int bsc_store_new(bsc_fixture *fx);       (fills fx->store, maybe fx->dir)
 *   static void bsc_store_free(bsc_fixture *fx);
 *
 * and lists BSC_CONTRACT_TESTS in its group. Expected digests come from
 * core/digest (tested on its own against FIPS vectors), plus one hard-coded
 * vector (the empty blob). */
#ifndef ECR_TESTS_BLOB_STORE_CONTRACT_H
#define ECR_TESTS_BLOB_STORE_CONTRACT_H

#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecr/sys/blob_store.h"
#include "libecr/core/digest.h"

typedef struct bsc_fixture {
	ecr_blob_store *store;
	char *dir; /* for stores kept in a folder */
} bsc_fixture;

static int bsc_store_new(bsc_fixture *fx);
static void bsc_store_free(bsc_fixture *fx);

#define BSC_EMPTY_SHA256 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static int bsc_setup(void **state)
{
	bsc_fixture *fx = calloc(1, sizeof(*fx));
	if (!fx || bsc_store_new(fx) != 0) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int bsc_teardown(void **state)
{
	bsc_fixture *fx = *state;
	bsc_store_free(fx);
	free(fx);
	return 0;
}

/* Deterministic pseudo-random bytes. */
static unsigned char *bsc_bytes(size_t len, uint32_t seed)
{
	unsigned char *p = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;
	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

static void bsc_digest(char out[ECR__DIGEST_STRLEN_MAX], ecr__digest_alg alg, const void *data, size_t len)
{
	assert_ok(ecr__digest_buf(out, ECR__DIGEST_STRLEN_MAX, alg, data, len));
}

/* Write data to a new staging object in chunks of chunk bytes and commit it under digest. */
static int bsc_put(ecr_blob_store *s, const char *stage_id, const void *data, size_t len, size_t chunk,
	const char *digest)
{
	ecr_blob_store_writer *w = NULL;
	size_t off = 0;
	int rc;
	assert_ok(s->stage_open(&w, s, stage_id, 1));
	assert_int_equal(w->size, 0);
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_ok(w->write(w, (const unsigned char *)data + off, n));
		off += n;
		assert_int_equal(w->size, off);
	}
	rc = w->commit(w, digest);
	w->close(w);
	return rc;
}

/* Read a whole blob from offset, in reads of up to chunk bytes. */
static unsigned char *bsc_read(ecr_blob_store *s, const char *digest, uint64_t offset, size_t chunk, size_t *len_out)
{
	ecr_blob_store_reader *r = NULL;
	unsigned char *buf;
	size_t total = 0, n;
	assert_ok(s->read_open(&r, s, digest, offset));
	assert_true(r->size >= offset);
	buf = malloc(r->size - offset + 1);
	assert_non_null(buf);
	for (;;) {
		size_t want = chunk;
		if (want > r->size - offset - total + 1)
			want = r->size - offset - total + 1; /* one more, to see the end */
		assert_ok(r->read(r, buf + total, want, &n));
		if (n == 0)
			break;
		total += n;
		assert_true(total <= r->size - offset);
	}
	assert_int_equal(total, r->size - offset);
	r->close(r);
	*len_out = total;
	return buf;
}

static void BSC_NAME(write_commit_read)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	const char msg[] = "hello, blob world";
	char digest[ECR__DIGEST_STRLEN_MAX];
	unsigned char *back;
	size_t len;
	uint64_t size = 0;

	bsc_digest(digest, ECR__DIGEST_SHA256, msg, sizeof(msg) - 1);
	assert_int_equal(s->stat(s, digest, &size), ECR_ENOTFOUND);
	assert_ok(bsc_put(s, "upload-1", msg, sizeof(msg) - 1, 5, digest));
	assert_ok(s->stat(s, digest, &size));
	assert_int_equal(size, sizeof(msg) - 1);
	assert_ok(s->stat(s, digest, NULL));
	back = bsc_read(s, digest, 0, 3, &len);
	assert_int_equal(len, sizeof(msg) - 1);
	assert_memory_equal(back, msg, len);
	free(back);
	/* The staging object is gone once committed. */
	{
		ecr_blob_store_writer *w = NULL;
		assert_int_equal(s->stage_open(&w, s, "upload-1", 0), ECR_ENOTFOUND);
		assert_null(w);
		assert_int_equal(s->stage_remove(s, "upload-1"), ECR_ENOTFOUND);
	}
}

static void BSC_NAME(multiple_chunks_and_running_digest)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	static const size_t chunks[] = {1, 4095, 65536, 7, 1048576, 333333, 0, 2};
	size_t total = 0, i, off = 0, len;
	unsigned char *data, *back;
	char digest[ECR__DIGEST_STRLEN_MAX], running[ECR__DIGEST_STRLEN_MAX], expect[ECR__DIGEST_STRLEN_MAX];
	ecr_blob_store_writer *w = NULL;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		total += chunks[i];
	data = bsc_bytes(total, 7);
	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);

	assert_ok(s->stage_open(&w, s, "chunky", 1));
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		assert_ok(w->write(w, data + off, chunks[i]));
		off += chunks[i];
		assert_int_equal(w->size, off);
		/* The digest so far is available at any point and does not disturb the stream. */
		assert_ok(w->digest(w, running, sizeof(running)));
		bsc_digest(expect, ECR__DIGEST_SHA256, data, off);
		assert_string_equal(running, expect);
	}
	assert_ok(w->commit(w, digest));
	w->close(w);

	back = bsc_read(s, digest, 0, 100000, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
	free(data);
}

static void BSC_NAME(wrong_digest)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	const char msg[] = "the real content";
	char good[ECR__DIGEST_STRLEN_MAX], bad[ECR__DIGEST_STRLEN_MAX];
	ecr_blob_store_writer *w = NULL;
	int rc;

	bsc_digest(good, ECR__DIGEST_SHA256, msg, sizeof(msg) - 1);
	bsc_digest(bad, ECR__DIGEST_SHA256, "something else", 14);

	assert_ok(s->stage_open(&w, s, "mismatch", 1));
	assert_ok(w->write(w, msg, sizeof(msg) - 1));
	rc = w->commit(w, bad);
	assert_int_equal(rc, ECR_EDIGEST);
	assert_int_equal(ecr_error_last()->code, ECR_EDIGEST);
	/* The message gives both digests. */
	assert_non_null(strstr(ecr_error_last()->message, bad));
	assert_non_null(strstr(ecr_error_last()->message, good));
	/* A second commit does not publish anything either. */
	assert_int_not_equal(w->commit(w, good), 0);
	w->close(w);

	assert_int_equal(s->stat(s, bad, NULL), ECR_ENOTFOUND);
	assert_int_equal(s->stat(s, good, NULL), ECR_ENOTFOUND);
	/* The staging object is gone. */
	w = NULL;
	assert_int_equal(s->stage_open(&w, s, "mismatch", 0), ECR_ENOTFOUND);
	assert_int_equal(s->stage_remove(s, "mismatch"), ECR_ENOTFOUND);
}

static void BSC_NAME(sha512)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 3 * 1024 * 1024 + 17, len;
	unsigned char *data = bsc_bytes(total, 512), *back;
	char d512[ECR__DIGEST_STRLEN_MAX], d256[ECR__DIGEST_STRLEN_MAX], wrong[ECR__DIGEST_STRLEN_MAX];
	uint64_t size = 0;

	bsc_digest(d512, ECR__DIGEST_SHA512, data, total);
	bsc_digest(d256, ECR__DIGEST_SHA256, data, total);
	bsc_digest(wrong, ECR__DIGEST_SHA512, data, total - 1);

	assert_int_equal(bsc_put(s, "s512-wrong", data, total, 65536, wrong), ECR_EDIGEST);
	assert_int_equal(s->stat(s, wrong, NULL), ECR_ENOTFOUND);

	assert_ok(bsc_put(s, "s512", data, total, 65536, d512));
	assert_ok(s->stat(s, d512, &size));
	assert_int_equal(size, total);
	assert_int_equal(s->stat(s, d256, NULL), ECR_ENOTFOUND);
	back = bsc_read(s, d512, 0, 1 << 20, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
	free(data);
}

static void BSC_NAME(empty_blob)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	ecr_blob_store_writer *w = NULL;
	ecr_blob_store_reader *r = NULL;
	char running[ECR__DIGEST_STRLEN_MAX], buf[8];
	size_t n = 99;
	uint64_t size = 99;

	assert_ok(s->stage_open(&w, s, "empty", 1));
	assert_ok(w->write(w, "", 0));
	assert_ok(w->digest(w, running, sizeof(running)));
	assert_string_equal(running, BSC_EMPTY_SHA256);
	assert_ok(w->commit(w, BSC_EMPTY_SHA256));
	w->close(w);

	assert_ok(s->stat(s, BSC_EMPTY_SHA256, &size));
	assert_int_equal(size, 0);
	assert_ok(s->read_open(&r, s, BSC_EMPTY_SHA256, 0));
	assert_int_equal(r->size, 0);
	assert_ok(r->read(r, buf, sizeof(buf), &n));
	assert_int_equal(n, 0);
	r->close(r);
	r = NULL;
	assert_int_equal(s->read_open(&r, s, BSC_EMPTY_SHA256, 1), ECR_ERANGE);
	assert_null(r);
}

static void BSC_NAME(reopen_and_continue)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 2 * 1024 * 1024 + 5, half = 1024 * 1024 + 3, len;
	unsigned char *data = bsc_bytes(total, 99), *back;
	char digest[ECR__DIGEST_STRLEN_MAX], running[ECR__DIGEST_STRLEN_MAX], expect[ECR__DIGEST_STRLEN_MAX];
	ecr_blob_store_writer *w = NULL;

	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	bsc_digest(expect, ECR__DIGEST_SHA256, data, half);

	assert_ok(s->stage_open(&w, s, "resume-me", 1));
	assert_ok(w->write(w, data, half));
	w->close(w);

	w = NULL;
	assert_ok(s->stage_open(&w, s, "resume-me", 0));
	assert_int_equal(w->size, half);
	assert_ok(w->digest(w, running, sizeof(running)));
	assert_string_equal(running, expect);
	w->close(w);

	/* Opening with create=1 also continues rather than truncating. */
	w = NULL;
	assert_ok(s->stage_open(&w, s, "resume-me", 1));
	assert_int_equal(w->size, half);
	assert_ok(w->write(w, data + half, total - half));
	assert_int_equal(w->size, total);
	assert_ok(w->commit(w, digest));
	w->close(w);

	back = bsc_read(s, digest, 0, 1 << 16, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
	free(data);
}

struct bsc_seen {
	char names[16][ECR__DIGEST_STRLEN_MAX];
	uint64_t sizes[16];
	int64_t mtimes[16];
	int count;
	int stop_after; /* return 42 after this many calls, when > 0 */
};

static int bsc_collect_stage(const char *stage_id, uint64_t size, int64_t mtime_ms, void *payload)
{
	struct bsc_seen *seen = payload;
	assert_true(seen->count < 16);
	snprintf(seen->names[seen->count], sizeof(seen->names[0]), "%s", stage_id);
	seen->sizes[seen->count] = size;
	seen->mtimes[seen->count] = mtime_ms;
	seen->count++;
	return seen->stop_after && seen->count >= seen->stop_after ? 42 : 0;
}

static int bsc_collect_blob(const char *digest, uint64_t size, int64_t mtime_ms, void *payload)
{
	return bsc_collect_stage(digest, size, mtime_ms, payload);
}

static int bsc_seen_index(const struct bsc_seen *seen, const char *name)
{
	int i;
	for (i = 0; i < seen->count; i++)
		if (strcmp(seen->names[i], name) == 0)
			return i;
	return -1;
}

static void BSC_NAME(stage_list_and_remove)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	static const char *const ids[] = {"a", "B-2", "0123456789abcdefABCDEF-"};
	static const size_t sizes[] = {0, 10, 70000};
	unsigned char *data = bsc_bytes(70000, 3);
	struct bsc_seen seen;
	int64_t now = (int64_t)time(NULL) * 1000;
	size_t i;

	memset(&seen, 0, sizeof(seen));
	assert_ok(s->stage_list(s, bsc_collect_stage, &seen));
	assert_int_equal(seen.count, 0);

	for (i = 0; i < 3; i++) {
		ecr_blob_store_writer *w = NULL;
		assert_ok(s->stage_open(&w, s, ids[i], 1));
		assert_ok(w->write(w, data, sizes[i]));
		w->close(w);
	}
	assert_ok(s->stage_list(s, bsc_collect_stage, &seen));
	assert_int_equal(seen.count, 3);
	for (i = 0; i < 3; i++) {
		int at = bsc_seen_index(&seen, ids[i]);
		assert_true(at >= 0);
		assert_int_equal(seen.sizes[at], sizes[i]);
		assert_true(seen.mtimes[at] > now - 86400000 && seen.mtimes[at] < now + 86400000);
	}

	/* A callback's non-zero return stops the walk and is passed on. */
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 1;
	assert_int_equal(s->stage_list(s, bsc_collect_stage, &seen), 42);
	assert_int_equal(seen.count, 1);

	assert_ok(s->stage_remove(s, "B-2"));
	assert_int_equal(s->stage_remove(s, "B-2"), ECR_ENOTFOUND);
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->stage_list(s, bsc_collect_stage, &seen));
	assert_int_equal(seen.count, 2);
	assert_int_equal(bsc_seen_index(&seen, "B-2"), -1);
	{
		ecr_blob_store_writer *w = NULL;
		assert_int_equal(s->stage_open(&w, s, "B-2", 0), ECR_ENOTFOUND);
		assert_int_equal(s->stage_open(&w, s, "never-was", 0), ECR_ENOTFOUND);
		assert_null(w);
	}
	free(data);
}

static void BSC_NAME(remove_blob)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	char digest[ECR__DIGEST_STRLEN_MAX], other[ECR__DIGEST_STRLEN_MAX];
	ecr_blob_store_reader *r = NULL;

	bsc_digest(digest, ECR__DIGEST_SHA256, "doomed", 6);
	bsc_digest(other, ECR__DIGEST_SHA256, "kept", 4);
	assert_ok(bsc_put(s, "r1", "doomed", 6, 6, digest));
	assert_ok(bsc_put(s, "r2", "kept", 4, 4, other));
	assert_ok(s->remove(s, digest));
	assert_int_equal(s->stat(s, digest, NULL), ECR_ENOTFOUND);
	assert_int_equal(s->read_open(&r, s, digest, 0), ECR_ENOTFOUND);
	assert_null(r);
	assert_int_equal(s->remove(s, digest), ECR_ENOTFOUND);
	assert_ok(s->stat(s, other, NULL));
}

static void BSC_NAME(reader_survives_remove)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	char digest[ECR__DIGEST_STRLEN_MAX], buf[32];
	ecr_blob_store_reader *r = NULL;
	size_t n = 0;

	bsc_digest(digest, ECR__DIGEST_SHA256, "still readable", 14);
	assert_ok(bsc_put(s, "rs", "still readable", 14, 14, digest));
	assert_ok(s->read_open(&r, s, digest, 6));
	assert_ok(s->remove(s, digest));
	assert_ok(r->read(r, buf, sizeof(buf), &n));
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "readable", 8);
	assert_ok(r->read(r, buf, sizeof(buf), &n));
	assert_int_equal(n, 0);
	r->close(r);
}

static void BSC_NAME(list_blobs)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	char digests[5][ECR__DIGEST_STRLEN_MAX];
	uint64_t sizes[5];
	struct bsc_seen seen;
	int i;

	memset(&seen, 0, sizeof(seen));
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 0);

	for (i = 0; i < 5; i++) {
		char id[16];
		size_t len = (size_t)i * 1000 + 1;
		unsigned char *data = bsc_bytes(len, (uint32_t)i + 100);
		bsc_digest(digests[i], i == 4 ? ECR__DIGEST_SHA512 : ECR__DIGEST_SHA256, data, len);
		sizes[i] = len;
		snprintf(id, sizeof(id), "list-%d", i);
		assert_ok(bsc_put(s, id, data, len, 777, digests[i]));
		free(data);
	}
	/* An unfinished upload is not a blob. */
	{
		ecr_blob_store_writer *w = NULL;
		assert_ok(s->stage_open(&w, s, "unfinished", 1));
		assert_ok(w->write(w, "partial", 7));
		w->close(w);
	}
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 5);
	for (i = 0; i < 5; i++) {
		int at = bsc_seen_index(&seen, digests[i]);
		assert_true(at >= 0);
		assert_int_equal(seen.sizes[at], sizes[i]);
		assert_true(seen.mtimes[at] > 0);
	}

	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 2;
	assert_int_equal(s->list(s, bsc_collect_blob, &seen), 42);
	assert_int_equal(seen.count, 2);
}

static void BSC_NAME(read_ranges)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 10000, len;
	unsigned char *data = bsc_bytes(total, 5), *back;
	static const uint64_t offsets[] = {0, 1, 4096, 5000, 9999, 10000};
	char digest[ECR__DIGEST_STRLEN_MAX];
	ecr_blob_store_reader *r = NULL;
	size_t i;

	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	assert_ok(bsc_put(s, "ranges", data, total, 3000, digest));
	for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		back = bsc_read(s, digest, offsets[i], 1 + i * 1000, &len);
		assert_int_equal(len, total - offsets[i]);
		if (len)
			assert_memory_equal(back, data + offsets[i], len);
		free(back);
	}
	/* The reader's size is the whole blob's, whatever the offset. */
	assert_ok(s->read_open(&r, s, digest, 5000));
	assert_int_equal(r->size, total);
	r->close(r);
	r = NULL;
	assert_int_equal(s->read_open(&r, s, digest, 10001), ECR_ERANGE);
	assert_int_equal(ecr_error_last()->code, ECR_ERANGE);
	assert_null(r);
	assert_int_equal(s->read_open(&r, s, digest, UINT64_MAX), ECR_ERANGE);
	free(data);
}

static void BSC_NAME(invalid_digests_and_ids)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	static const char hex64[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	char bad[12][200];
	static const char *const bad_ids[] = {"", "../x", "..", ".", "a/b", "a b", "a.b", "a_b", "/etc", "x\n",
		"0123456789012345678901234567890123456789012345678901234567890123X"};
	ecr_blob_store_writer *w = NULL;
	ecr_blob_store_reader *r = NULL;
	uint64_t size;
	size_t i;
	int n = 0;

	snprintf(bad[n++], 200, "%s", "");
	snprintf(bad[n++], 200, "%s", "sha256:");
	snprintf(bad[n++], 200, "sha256:%.63s", hex64);              /* too short */
	snprintf(bad[n++], 200, "sha256:%s0", hex64);                /* too long */
	snprintf(bad[n++], 200, "sha256:%.63sA", hex64);             /* uppercase */
	snprintf(bad[n++], 200, "md5:%.32s", hex64);                 /* unknown algorithm */
	snprintf(bad[n++], 200, "sha512:%s", hex64);                 /* wrong length for sha512 */
	snprintf(bad[n++], 200, "sha256:../../%.58s", hex64);        /* path traversal */
	snprintf(bad[n++], 200, "../x");
	snprintf(bad[n++], 200, "sha256:%s/", hex64);
	snprintf(bad[n++], 200, "SHA256:%s", hex64);
	snprintf(bad[n++], 200, "sha256%s", hex64);

	for (i = 0; i < (size_t)n; i++) {
		assert_int_equal(s->stat(s, bad[i], &size), ECR_EINVALID);
		assert_int_equal(s->read_open(&r, s, bad[i], 0), ECR_EINVALID);
		assert_null(r);
		assert_int_equal(s->remove(s, bad[i]), ECR_EINVALID);
	}
	assert_int_equal(s->stat(s, NULL, &size), ECR_EINVALID);

	/* commit refuses them too, and keeps the staging object. */
	assert_ok(s->stage_open(&w, s, "valid-id", 1));
	assert_ok(w->write(w, "x", 1));
	for (i = 0; i < (size_t)n; i++)
		assert_int_equal(w->commit(w, bad[i]), ECR_EINVALID);
	assert_int_equal(w->commit(w, NULL), ECR_EINVALID);
	w->close(w);
	w = NULL;
	assert_ok(s->stage_open(&w, s, "valid-id", 0));
	assert_int_equal(w->size, 1);
	w->close(w);

	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		w = NULL;
		assert_int_equal(s->stage_open(&w, s, bad_ids[i], 1), ECR_EINVALID);
		assert_null(w);
		assert_int_equal(s->stage_remove(s, bad_ids[i]), ECR_EINVALID);
	}
	w = NULL;
	assert_int_equal(s->stage_open(&w, s, NULL, 1), ECR_EINVALID);
	/* 64 characters is the longest id. */
	assert_ok(s->stage_open(&w, s, "0123456789012345678901234567890123456789012345678901234567890123", 1));
	w->close(w);
}

static void BSC_NAME(publish_existing)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	char digest[ECR__DIGEST_STRLEN_MAX];
	struct bsc_seen seen;
	size_t len;
	unsigned char *back;

	bsc_digest(digest, ECR__DIGEST_SHA256, "twice", 5);
	assert_ok(bsc_put(s, "first", "twice", 5, 2, digest));
	assert_ok(bsc_put(s, "second", "twice", 5, 5, digest));
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 1);
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->stage_list(s, bsc_collect_stage, &seen));
	assert_int_equal(seen.count, 0);
	back = bsc_read(s, digest, 0, 64, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(back, "twice", 5);
	free(back);
}

static void BSC_NAME(writer_after_commit)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	ecr_blob_store_writer *w = NULL;
	char digest[ECR__DIGEST_STRLEN_MAX];

	bsc_digest(digest, ECR__DIGEST_SHA256, "done", 4);
	assert_ok(s->stage_open(&w, s, "once", 1));
	assert_ok(w->write(w, "done", 4));
	assert_ok(w->commit(w, digest));
	assert_int_not_equal(w->write(w, "more", 4), 0);
	assert_int_not_equal(w->commit(w, digest), 0);
	w->close(w);
	assert_ok(s->stat(s, digest, NULL));
}

static void BSC_NAME(two_writers_one_stage)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	ecr_blob_store_writer *w1 = NULL, *w2 = NULL;
	char d1[ECR__DIGEST_STRLEN_MAX], d2[ECR__DIGEST_STRLEN_MAX];
	struct bsc_seen seen;

	/* Misuse (one writer at a time is the rule) must not publish bytes
	 * that were not hashed. */
	bsc_digest(d1, ECR__DIGEST_SHA256, "aaaa", 4);
	bsc_digest(d2, ECR__DIGEST_SHA256, "bb", 2);
	assert_ok(s->stage_open(&w1, s, "dup", 1));
	assert_ok(s->stage_open(&w2, s, "dup", 1));
	assert_ok(w1->write(w1, "aaaa", 4));
	assert_ok(w2->write(w2, "bb", 2));
	assert_int_not_equal(w1->commit(w1, d1), 0);
	assert_int_not_equal(w2->commit(w2, d2), 0);
	w1->close(w1);
	w2->close(w2);
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 0);
}

struct bsc_thread {
	ecr_blob_store *store;
	const unsigned char *data;
	size_t len;
	const char *digest;
	char id[16];
	int rc;
};

static void *bsc_writer_thread(void *arg)
{
	struct bsc_thread *t = arg;
	ecr_blob_store_writer *w = NULL;
	size_t off = 0;
	t->rc = t->store->stage_open(&w, t->store, t->id, 1);
	while (t->rc == 0 && off < t->len) {
		size_t n = t->len - off < 65536 ? t->len - off : 65536;
		t->rc = w->write(w, t->data + off, n);
		off += n;
	}
	if (t->rc == 0)
		t->rc = w->commit(w, t->digest);
	if (w)
		w->close(w);
	return NULL;
}

static void BSC_NAME(concurrent_same_content)(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 2 * 1024 * 1024 + 1, len;
	unsigned char *data = bsc_bytes(total, 4), *back;
	char digest[ECR__DIGEST_STRLEN_MAX];
	struct bsc_thread t[4];
	pthread_t tid[4];
	struct bsc_seen seen;
	int i;

	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	for (i = 0; i < 4; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].store = s;
		t[i].data = data;
		t[i].len = total;
		t[i].digest = digest;
		snprintf(t[i].id, sizeof(t[i].id), "thread-%d", i);
		assert_int_equal(pthread_create(&tid[i], NULL, bsc_writer_thread, &t[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(t[i].rc, 0);
	}
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 1);
	assert_string_equal(seen.names[0], digest);
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->stage_list(s, bsc_collect_stage, &seen));
	assert_int_equal(seen.count, 0);
	back = bsc_read(s, digest, 0, 1 << 20, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
	free(data);
}

#define BSC_TEST_(f) cmocka_unit_test_setup_teardown(f, bsc_setup, bsc_teardown)
#define BSC_TEST(c) BSC_TEST_(BSC_NAME(c))
#define BSC_CONTRACT_TESTS \
	BSC_TEST(write_commit_read), BSC_TEST(multiple_chunks_and_running_digest), BSC_TEST(wrong_digest), \
	BSC_TEST(sha512), BSC_TEST(empty_blob), BSC_TEST(reopen_and_continue), BSC_TEST(stage_list_and_remove), \
	BSC_TEST(remove_blob), BSC_TEST(reader_survives_remove), BSC_TEST(list_blobs), BSC_TEST(read_ranges), \
	BSC_TEST(invalid_digests_and_ids), BSC_TEST(publish_existing), BSC_TEST(writer_after_commit), \
	BSC_TEST(two_writers_one_stage), \
	BSC_TEST(concurrent_same_content)

#endif
