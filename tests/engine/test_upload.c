/* Blob uploads: chunks, resuming, cancelling, digests, ranges, expiry, concurrency. */
#include "../helpers/helpers.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libecr/core/digest.h"
#include "libecr/engine/upload_cache.h"

#define EXPIRY_SECONDS 600

typedef struct fixture {
	char *dir; /* NULL for memory: */
	char url[4200];
	_Atomic int64_t clock;
	ecr_registry *reg;
	ecr_repository *repo;
} fixture;

static int64_t fixture_clock(void *payload)
{
	fixture *f = payload;
	return atomic_load(&f->clock);
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fixture_open(fixture *f)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.clock_cb = fixture_clock;
	opts.clock_payload = f;
	opts.upload_expiry_seconds = EXPIRY_SECONDS;
	opts.flags = ECR_STORAGE_NOSYNC;
	if (ecr_registry_open(&f->reg, f->url, &opts))
		return -1;
	if (ecr_repository_open(&f->repo, f->reg, "team/app") == 0)
		return 0;
	return ecr_repository_create(&f->repo, f->reg, "team/app", NULL) ? -1 : 0;
}

static void fixture_close(fixture *f)
{
	ecr_repository_free(f->repo);
	ecr_registry_free(f->reg);
	f->repo = NULL;
	f->reg = NULL;
}

static int setup_common(void **state, bool on_disk)
{
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	atomic_store(&f->clock, wall_ms());
	if (on_disk) {
		f->dir = th_tmpdir();
		snprintf(f->url, sizeof(f->url), "file://%s", f->dir);
	} else {
		snprintf(f->url, sizeof(f->url), "memory:");
	}
	if (fixture_open(f))
		return -1;
	*state = f;
	return 0;
}

static int setup_memory(void **state)
{
	return setup_common(state, false);
}

static int setup_fs(void **state)
{
	return setup_common(state, true);
}

static int teardown(void **state)
{
	fixture *f = *state;
	fixture_close(f);
	if (f->dir)
		th_rmtree(f->dir);
	free(f);
	return 0;
}

static void digest_of(char out[ECR__DIGEST_STRLEN_MAX], ecr__digest_alg alg, const void *data, size_t len)
{
	assert_ok(ecr__digest_buf(out, ECR__DIGEST_STRLEN_MAX, alg, data, len));
}

static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 31 + seed * 7 + (i >> 8)) & 0xff);
	return p;
}

/* Read a whole blob of the repository. */
static unsigned char *read_all(ecr_repository *repo, const char *digest, size_t *len_out)
{
	ecr_blob *b;
	uint64_t size;
	size_t got = 0, n;
	assert_ok(ecr_blob_open(&b, repo, digest, 0, 0));
	size = ecr_blob_size(b);
	unsigned char *buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	do {
		assert_ok(ecr_blob_read(b, buf + got, (size_t)size + 1 - got, &n));
		got += n;
	} while (n);
	ecr_blob_free(b);
	assert_int_equal(got, size);
	*len_out = got;
	return buf;
}

static void assert_blob_is(ecr_repository *repo, const char *digest, const void *data, size_t len)
{
	size_t n;
	uint64_t size = 0;
	assert_ok(ecr_blob_stat(repo, digest, &size));
	assert_int_equal(size, len);
	unsigned char *got = read_all(repo, digest, &n);
	assert_int_equal(n, len);
	assert_memory_equal(got, data, len ? len : 0);
	free(got);
}

static void test_engine_upload__chunked(void **state)
{
	fixture *f = *state;
	const size_t len = 200000;
	unsigned char *data = pattern(len, 1);
	char digest[ECR__DIGEST_STRLEN_MAX], id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up;

	digest_of(digest, ECR__DIGEST_SHA256, data, len);
	assert_ok(ecr_upload_begin(&up, f->repo));
	assert_int_equal(strlen(ecr_upload_id(up)), ECR_UPLOAD_ID_LEN);
	strcpy(id, ecr_upload_id(up));
	assert_int_equal(ecr_upload_size(up), 0);
	assert_int_equal(ecr_upload_started_at(up), atomic_load(&f->clock));
	for (size_t off = 0; off < len; off += 65536) {
		size_t n = len - off < 65536 ? len - off : 65536;
		assert_ok(ecr_upload_write(up, off, data + off, n));
		assert_int_equal(ecr_upload_size(up), off + n);
	}
	assert_int_equal(ecr_blob_stat(f->repo, digest, NULL), ECR_ENOTFOUND);
	assert_ok(ecr_upload_commit(up, digest));
	assert_blob_is(f->repo, digest, data, len);

	/* the session is over */
	assert_int_equal(ecr_upload_write(up, len, data, 1), ECR_EUPLOAD);
	assert_int_equal(ecr_upload_commit(up, digest), ECR_EUPLOAD);
	ecr_upload_free(up);
	assert_int_equal(ecr_upload_open(&up, f->repo, id), ECR_EUPLOAD);
	assert_null(up);
	free(data);
}

static void test_engine_upload__resume(void **state)
{
	fixture *f = *state;
	const size_t len = 150000;
	unsigned char *data = pattern(len, 2);
	char digest[ECR__DIGEST_STRLEN_MAX], id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up, *up2;
	int64_t started;

	digest_of(digest, ECR__DIGEST_SHA256, data, len);
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	started = ecr_upload_started_at(up);
	assert_ok(ecr_upload_write(up, 0, data, 50000));
	ecr_upload_free(up);

	/* a second handle (as an HTTP server opens one per request) */
	atomic_fetch_add(&f->clock, 1000);
	assert_ok(ecr_upload_open(&up2, f->repo, id));
	assert_string_equal(ecr_upload_id(up2), id);
	assert_int_equal(ecr_upload_size(up2), 50000);
	assert_int_equal(ecr_upload_started_at(up2), started);
	assert_int_equal(ecr_upload_write(up2, 0, data, 10), ECR_ERANGE);
	assert_ok(ecr_upload_write(up2, 50000, data + 50000, 50000));
	ecr_upload_free(up2);

	/* after closing the registry: the session survives (on disk: a restart) */
	if (f->dir) {
		fixture_close(f);
		assert_int_equal(fixture_open(f), 0);
	}
	assert_ok(ecr_upload_open(&up, f->repo, id));
	assert_int_equal(ecr_upload_size(up), 100000);
	assert_ok(ecr_upload_write(up, 100000, data + 100000, len - 100000));
	assert_ok(ecr_upload_commit(up, digest));
	ecr_upload_free(up);
	assert_blob_is(f->repo, digest, data, len);
	free(data);
}

static void test_engine_upload__cancel(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(5000, 3);
	char digest[ECR__DIGEST_STRLEN_MAX], id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up;

	digest_of(digest, ECR__DIGEST_SHA256, data, 5000);
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	assert_ok(ecr_upload_write(up, 0, data, 5000));
	assert_ok(ecr_upload_cancel(up));
	assert_int_equal(ecr_upload_cancel(up), ECR_EUPLOAD);
	assert_int_equal(ecr_upload_commit(up, digest), ECR_EUPLOAD);
	ecr_upload_free(up);
	assert_int_equal(ecr_upload_open(&up, f->repo, id), ECR_EUPLOAD);
	assert_int_equal(ecr_blob_stat(f->repo, digest, NULL), ECR_ENOTFOUND);

	/* cancel through a second handle */
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	assert_ok(ecr_upload_write(up, 0, data, 100));
	ecr_upload_free(up);
	assert_ok(ecr_upload_open(&up, f->repo, id));
	assert_ok(ecr_upload_cancel(up));
	ecr_upload_free(up);
	assert_int_equal(ecr_upload_open(&up, f->repo, id), ECR_EUPLOAD);

	/* nothing is left for GC */
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	atomic_fetch_add(&f->clock, 3LL * 24 * 3600 * 1000);
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	assert_int_equal(st.uploads_expired, 0);
	free(data);
}

static void test_engine_upload__wrong_digest(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(3000, 4);
	char digest[ECR__DIGEST_STRLEN_MAX], other[ECR__DIGEST_STRLEN_MAX], id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up;

	digest_of(digest, ECR__DIGEST_SHA256, data, 3000);
	digest_of(other, ECR__DIGEST_SHA256, data, 2999);
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	assert_ok(ecr_upload_write(up, 0, data, 3000));
	assert_int_equal(ecr_upload_commit(up, other), ECR_EDIGEST);
	assert_int_equal(ecr_error_last()->code, ECR_EDIGEST);
	/* the session is gone, the blob was not published */
	assert_int_equal(ecr_upload_write(up, 3000, data, 1), ECR_EUPLOAD);
	assert_int_equal(ecr_upload_commit(up, digest), ECR_EUPLOAD);
	ecr_upload_free(up);
	assert_int_equal(ecr_upload_open(&up, f->repo, id), ECR_EUPLOAD);
	assert_int_equal(ecr_blob_stat(f->repo, other, NULL), ECR_ENOTFOUND);
	assert_int_equal(ecr_blob_stat(f->repo, digest, NULL), ECR_ENOTFOUND);

	/* a malformed digest */
	assert_ok(ecr_upload_begin(&up, f->repo));
	assert_ok(ecr_upload_write(up, 0, data, 10));
	assert_int_equal(ecr_upload_commit(up, "sha256:XYZ"), ECR_EINVALID);
	ecr_upload_free(up);

	/* unknown or malformed ids */
	assert_int_equal(ecr_upload_open(&up, f->repo, "00000000-0000-4000-8000-000000000000"), ECR_EUPLOAD);
	assert_int_equal(ecr_upload_open(&up, f->repo, "../../etc/passwd"), ECR_EUPLOAD);
	assert_int_equal(ecr_upload_open(&up, f->repo, ""), ECR_EUPLOAD);
	assert_int_equal(ecr_upload_open(&up, f->repo, NULL), ECR_EUPLOAD);
	free(data);
}

static void test_engine_upload__out_of_order(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(4000, 5);
	char digest[ECR__DIGEST_STRLEN_MAX], id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up;

	digest_of(digest, ECR__DIGEST_SHA256, data, 1000);
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	assert_int_equal(ecr_upload_write(up, 1, data, 1000), ECR_ERANGE);
	assert_int_equal(ecr_upload_size(up), 0);
	assert_ok(ecr_upload_write(up, 0, data, 1000));
	assert_int_equal(ecr_upload_write(up, 2000, data + 2000, 1000), ECR_ERANGE);
	assert_int_equal(ecr_upload_write(up, 0, data, 1000), ECR_ERANGE);
	assert_int_equal(ecr_upload_write(up, 999, data + 999, 1000), ECR_ERANGE);
	assert_int_equal(ecr_upload_size(up), 1000);
	/* a zero-length chunk at the right offset is fine */
	assert_ok(ecr_upload_write(up, 1000, data, 0));
	/* beyond the limit: refused before any byte is read */
	assert_int_equal(ecr_upload_write(up, 1000, data, (size_t)52000 * 1024 * 1024), ECR_ELIMIT);
	ecr_upload_free(up);

	/* nothing of the refused chunks was written */
	assert_ok(ecr_upload_open(&up, f->repo, id));
	assert_int_equal(ecr_upload_size(up), 1000);
	assert_ok(ecr_upload_commit(up, digest));
	ecr_upload_free(up);
	assert_blob_is(f->repo, digest, data, 1000);
	free(data);
}

static void test_engine_upload__empty_and_sha512(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(70000, 6);
	char empty[ECR__DIGEST_STRLEN_MAX], d512[ECR__DIGEST_STRLEN_MAX];
	ecr_upload *up;
	size_t n;

	digest_of(empty, ECR__DIGEST_SHA256, "", 0);
	assert_ok(ecr_upload_begin(&up, f->repo));
	assert_ok(ecr_upload_commit(up, empty));
	ecr_upload_free(up);
	uint64_t size = 99;
	assert_ok(ecr_blob_stat(f->repo, empty, &size));
	assert_int_equal(size, 0);
	unsigned char *got = read_all(f->repo, empty, &n);
	assert_int_equal(n, 0);
	free(got);

	digest_of(d512, ECR__DIGEST_SHA512, data, 70000);
	assert_int_equal(strlen(d512), 7 + 128);
	assert_ok(ecr_upload_begin(&up, f->repo));
	assert_ok(ecr_upload_write(up, 0, data, 30000));
	assert_ok(ecr_upload_write(up, 30000, data + 30000, 40000));
	assert_ok(ecr_upload_commit(up, d512));
	ecr_upload_free(up);
	assert_blob_is(f->repo, d512, data, 70000);
	free(data);
}

static void test_engine_upload__expiry(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(1000, 7);
	char id[ECR_UPLOAD_ID_LEN + 1], id2[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up;
	const int64_t expiry = EXPIRY_SECONDS * 1000LL;

	/* kept alive by writes */
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	assert_ok(ecr_upload_write(up, 0, data, 100));
	ecr_upload_free(up);
	atomic_fetch_add(&f->clock, expiry - 1000);
	assert_ok(ecr_upload_open(&up, f->repo, id));
	assert_ok(ecr_upload_write(up, 100, data + 100, 100));
	ecr_upload_free(up);
	atomic_fetch_add(&f->clock, 2000); /* expiry + 1 s after begin, 1 s after the last write */
	assert_ok(ecr_upload_open(&up, f->repo, id));
	assert_int_equal(ecr_upload_size(up), 200);
	ecr_upload_free(up);

	/* a session left alone expires */
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id2, ecr_upload_id(up));
	assert_ok(ecr_upload_write(up, 0, data, 10));
	ecr_upload_free(up);
	atomic_fetch_add(&f->clock, expiry + 1);
	assert_int_equal(ecr_upload_open(&up, f->repo, id2), ECR_EUPLOAD);
	assert_null(up);
	assert_int_equal(ecr_upload_open(&up, f->repo, id), ECR_EUPLOAD);

	/* GC removes both (a dry run first only counts) */
	ecr_gc_options opts;
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	assert_ok(ecr_gc_options_init(&opts, ECR_GC_OPTIONS_VERSION));
	opts.flags = ECR_GC_DRY_RUN;
	assert_ok(ecr_registry_gc(f->reg, &opts, &st));
	assert_int_equal(st.uploads_expired, 2);
	opts.flags = 0;
	assert_ok(ecr_registry_gc(f->reg, &opts, &st));
	assert_int_equal(st.uploads_expired, 2);
	assert_ok(ecr_registry_gc(f->reg, &opts, &st));
	assert_int_equal(st.uploads_expired, 0);
	/* even with the clock set back, the sessions are gone */
	atomic_fetch_sub(&f->clock, 2 * expiry);
	assert_int_equal(ecr_upload_open(&up, f->repo, id2), ECR_EUPLOAD);
	free(data);
}

static void test_engine_upload__busy(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(2000, 8);
	char digest[ECR__DIGEST_STRLEN_MAX], id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up, *up2 = NULL;

	digest_of(digest, ECR__DIGEST_SHA256, data, 2000);
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	assert_ok(ecr_upload_write(up, 0, data, 1000));
	assert_int_equal(ecr_upload_open(&up2, f->repo, id), ECR_EBUSY);
	assert_null(up2);
	/* the session is not disturbed */
	assert_ok(ecr_upload_write(up, 1000, data + 1000, 1000));
	/* GC does not take it away from under the handle, even when old */
	atomic_fetch_add(&f->clock, 2LL * EXPIRY_SECONDS * 1000);
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	assert_int_equal(st.uploads_expired, 0);
	assert_ok(ecr_upload_commit(up, digest));
	ecr_upload_free(up);
	assert_blob_is(f->repo, digest, data, 2000);

	/* another repository cannot open it */
	ecr_repository *other;
	assert_ok(ecr_repository_create(&other, f->reg, "team/other", NULL));
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	ecr_upload_free(up);
	assert_int_equal(ecr_upload_open(&up2, other, id), ECR_EUPLOAD);
	assert_ok(ecr_upload_open(&up2, f->repo, id));
	ecr_upload_free(up2);
	ecr_repository_free(other);
	free(data);
}

static void test_engine_upload__repository_deleted(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(2000, 9);
	char digest[ECR__DIGEST_STRLEN_MAX], id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up, *up2;

	digest_of(digest, ECR__DIGEST_SHA256, data, 2000);
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	assert_ok(ecr_upload_begin(&up2, f->repo));
	assert_ok(ecr_upload_write(up, 0, data, 2000));
	assert_ok(ecr_repository_delete(f->reg, "team/app", 0));

	assert_int_equal(ecr_upload_commit(up, digest), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_upload_commit(up, digest), ECR_EUPLOAD);
	ecr_upload_free(up);
	assert_int_equal(ecr_upload_cancel(up2), ECR_EUPLOAD);
	ecr_upload_free(up2);
	assert_int_equal(ecr_upload_open(&up, f->repo, id), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_upload_begin(&up, f->repo), ECR_EREPOSITORY_NOT_FOUND);

	/* a new repository of the same name does not see the old data */
	ecr_repository *again;
	assert_ok(ecr_repository_create(&again, f->reg, "team/app", NULL));
	assert_int_equal(ecr_blob_stat(again, digest, NULL), ECR_ENOTFOUND);
	assert_int_equal(ecr_upload_open(&up, again, id), ECR_EUPLOAD);
	ecr_repository_free(again);

	/* the staging objects left behind go with GC */
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	atomic_fetch_add(&f->clock, 2LL * 3600 * 1000);
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	assert_int_equal(st.uploads_expired, 0); /* up's staging was consumed, up2's removed by the failed cancel */
	free(data);
}

static void test_engine_upload__orphan_staging(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(500, 10);
	char id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up;

	/* a session whose repository went away while the handle was closed leaves a staging object */
	ecr_repository *tmp;
	assert_ok(ecr_repository_create(&tmp, f->reg, "team/tmp", NULL));
	assert_ok(ecr_upload_begin(&up, tmp));
	strcpy(id, ecr_upload_id(up));
	assert_ok(ecr_upload_write(up, 0, data, 500));
	ecr_upload_free(up);
	ecr_repository_free(tmp);
	assert_ok(ecr_repository_delete(f->reg, "team/tmp", 0));

	ecr_gc_stats st = ECR_GC_STATS_INIT;
	assert_ok(ecr_registry_gc(f->reg, NULL, &st)); /* younger than the grace period */
	assert_int_equal(st.uploads_expired, 0);
	atomic_fetch_add(&f->clock, 2LL * 3600 * 1000);
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	assert_int_equal(st.uploads_expired, 1);
	assert_ok(ecr_registry_gc(f->reg, NULL, &st));
	assert_int_equal(st.uploads_expired, 0);
	free(data);
}

/* Each case on the memory storage and on files. */
#define BOTH(name) \
	{ "test_engine_upload__" #name "_memory", test_engine_upload__##name, setup_memory, teardown, NULL }, \
	{ "test_engine_upload__" #name "_fs", test_engine_upload__##name, setup_fs, teardown, NULL }

static void test_engine_upload__large_settles(void **state)
{
	fixture *f = *state;
	const size_t len = 9 * 1024 * 1024 + 4321, first = 6 * 1024 * 1024 + 12345;
	unsigned char *data = pattern(len, 9);
	char digest[ECR__DIGEST_STRLEN_MAX], id[ECR_UPLOAD_ID_LEN + 1];
	ecr_upload *up;
	size_t off;

	/* A large upload's writer may hold bytes in flight (the file store
	 * pipelines them): settling, releasing the handle and closing the
	 * registry each leave every byte written in the session. */
	digest_of(digest, ECR__DIGEST_SHA256, data, len);
	assert_ok(ecr_upload_begin(&up, f->repo));
	strcpy(id, ecr_upload_id(up));
	for (off = 0; off < first; off += 100000) {
		size_t n = first - off < 100000 ? first - off : 100000;
		assert_ok(ecr_upload_write(up, off, data + off, n));
	}
	assert_ok(ecr__upload_settle(up));
	assert_int_equal(ecr_upload_size(up), first);
	assert_ok(ecr_upload_write(up, first, data + first, 1000000));
	ecr_upload_free(up);

	assert_ok(ecr_upload_open(&up, f->repo, id));
	assert_int_equal(ecr_upload_size(up), first + 1000000);
	for (off = first + 1000000; off < len - 1000000; off += 65536) {
		size_t n = len - 1000000 - off < 65536 ? len - 1000000 - off : 65536;
		assert_ok(ecr_upload_write(up, off, data + off, n));
	}
	ecr_upload_free(up);
	if (f->dir) { /* a restart: the writers closed with the registry kept their bytes */
		fixture_close(f);
		assert_int_equal(fixture_open(f), 0);
	}
	assert_ok(ecr_upload_open(&up, f->repo, id));
	assert_int_equal(ecr_upload_size(up), len - 1000000);
	assert_ok(ecr_upload_write(up, len - 1000000, data + len - 1000000, 1000000));
	assert_ok(ecr_upload_commit(up, digest));
	ecr_upload_free(up);
	assert_blob_is(f->repo, digest, data, len);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(chunked),
		BOTH(resume),
		BOTH(cancel),
		BOTH(wrong_digest),
		BOTH(out_of_order),
		BOTH(empty_and_sha512),
		BOTH(expiry),
		BOTH(busy),
		BOTH(repository_deleted),
		BOTH(orphan_staging),
		BOTH(large_settles),
	};
	return cmocka_run_group_tests_name("engine/upload", tests, NULL, NULL);
}
