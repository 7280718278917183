/* Blobs of a repository: stat, ranged reads, put, mount, delete. */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libecr/core/digest.h"

typedef struct fixture {
	char *dir; /* NULL for memory: */
	char url[4200];
	ecr_registry *reg;
	ecr_repository *a, *b;
} fixture;

static int setup_common(void **state, bool on_disk)
{
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	if (on_disk) {
		f->dir = th_tmpdir();
		snprintf(f->url, sizeof(f->url), "file://%s", f->dir);
	} else {
		snprintf(f->url, sizeof(f->url), "memory:");
	}
	opts.flags = ECR_STORAGE_NOSYNC;
	if (ecr_registry_open(&f->reg, f->url, &opts) || ecr_repository_create(&f->a, f->reg, "team/a", NULL) ||
		ecr_repository_create(&f->b, f->reg, "team/b", NULL))
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
	ecr_repository_free(f->a);
	ecr_repository_free(f->b);
	ecr_registry_free(f->reg);
	if (f->dir)
		th_rmtree(f->dir);
	free(f);
	return 0;
}

static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 13 + seed * 101 + (i >> 7)) & 0xff);
	return p;
}

static void put(ecr_repository *repo, char digest[ECR__DIGEST_STRLEN_MAX], const void *data, size_t len)
{
	assert_ok(ecr__digest_buf(digest, ECR__DIGEST_STRLEN_MAX, ECR__DIGEST_SHA256, data, len));
	assert_ok(ecr_blob_put(repo, digest, data, len));
}

/* Read the range [offset, offset + length) (length 0: to the end) in reads of at most step bytes. */
static void check_range(ecr_repository *repo, const char *digest, const unsigned char *data, size_t size,
	uint64_t offset, uint64_t length, size_t step)
{
	ecr_blob *b;
	size_t want = length ? (size_t)length : size - (size_t)offset, got = 0, n;
	unsigned char *buf = malloc(want + 16);
	assert_non_null(buf);
	assert_ok(ecr_blob_open(&b, repo, digest, offset, length));
	assert_int_equal(ecr_blob_size(b), size);
	for (;;) {
		size_t room = want + 16 - got;
		assert_ok(ecr_blob_read(b, buf + got, room < step ? room : step, &n));
		if (n == 0)
			break;
		got += n;
		assert_true(got <= want);
	}
	assert_int_equal(got, want);
	if (want)
		assert_memory_equal(buf, data + offset, want);
	/* at the end, reads keep returning 0 */
	assert_ok(ecr_blob_read(b, buf, 1, &n));
	assert_int_equal(n, 0);
	ecr_blob_free(b);
	free(buf);
}

static void test_engine_blob__stat(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(777, 1);
	char digest[ECR__DIGEST_STRLEN_MAX];
	uint64_t size = 0;

	put(f->a, digest, data, 777);
	assert_ok(ecr_blob_stat(f->a, digest, &size));
	assert_int_equal(size, 777);
	assert_ok(ecr_blob_stat(f->a, digest, NULL));
	assert_int_equal(ecr_blob_stat(f->b, digest, &size), ECR_ENOTFOUND);
	assert_int_equal(ecr_error_category(ecr_error_last()->code), ECR_ENOTFOUND);
	assert_int_equal(ecr_blob_stat(f->a, "sha256:0000", NULL), ECR_EINVALID);
	assert_int_equal(ecr_blob_stat(f->a, "nope", NULL), ECR_EINVALID);
	assert_int_equal(ecr_blob_stat(f->a, NULL, NULL), ECR_EINVALID);
	/* upper-case hex is not a valid digest */
	char upper[ECR__DIGEST_STRLEN_MAX];
	strcpy(upper, digest);
	for (char *p = upper + 7; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	assert_int_equal(ecr_blob_stat(f->a, upper, NULL), ECR_EINVALID);
	free(data);
}

static void test_engine_blob__ranges(void **state)
{
	fixture *f = *state;
	const size_t size = 100000;
	unsigned char *data = pattern(size, 2);
	char digest[ECR__DIGEST_STRLEN_MAX];
	ecr_blob *b = NULL;

	put(f->a, digest, data, size);
	check_range(f->a, digest, data, size, 0, 0, 100000);
	check_range(f->a, digest, data, size, 0, 0, 4096);
	check_range(f->a, digest, data, size, 0, size, 7);
	check_range(f->a, digest, data, size, 1, 0, 65536);
	check_range(f->a, digest, data, size, 12345, 1, 10);
	check_range(f->a, digest, data, size, 12345, 54321, 999);
	check_range(f->a, digest, data, size, size - 1, 1, 10);
	check_range(f->a, digest, data, size, size - 1, 0, 10);
	check_range(f->a, digest, data, size, size, 0, 10); /* an empty range at the end */

	assert_int_equal(ecr_blob_open(&b, f->a, digest, size, 1), ECR_ERANGE);
	assert_null(b);
	assert_int_equal(ecr_blob_open(&b, f->a, digest, size + 1, 0), ECR_ERANGE);
	assert_int_equal(ecr_blob_open(&b, f->a, digest, 0, size + 1), ECR_ERANGE);
	assert_int_equal(ecr_blob_open(&b, f->a, digest, size - 10, 11), ECR_ERANGE);
	assert_int_equal(ecr_blob_open(&b, f->a, digest, UINT64_MAX, 1), ECR_ERANGE);
	assert_int_equal(ecr_blob_open(&b, f->a, digest, 1, UINT64_MAX), ECR_ERANGE);
	assert_int_equal(ecr_blob_open(&b, f->b, digest, 0, 0), ECR_ENOTFOUND);

	/* sendfile: the fd holds the range's first byte at the offset given (file storage only) */
	int fd = -1;
	uint64_t off = 0;
	assert_ok(ecr_blob_open(&b, f->a, digest, 5000, 100));
	int rc = ecr_blob_fd(b, &fd, &off);
	if (f->dir) {
		unsigned char chunk[100];
		assert_ok(rc);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, chunk, sizeof(chunk), (off_t)off), (ssize_t)sizeof(chunk));
		assert_memory_equal(chunk, data + 5000, sizeof(chunk));
	} else {
		assert_int_equal(rc, ECR_ENOTFOUND);
	}
	ecr_blob_free(b);
	ecr_blob_free(NULL);

	/* an empty blob */
	char empty[ECR__DIGEST_STRLEN_MAX];
	put(f->a, empty, "", 0);
	check_range(f->a, empty, (const unsigned char *)"", 0, 0, 0, 10);
	assert_int_equal(ecr_blob_open(&b, f->a, empty, 0, 1), ECR_ERANGE);
	assert_int_equal(ecr_blob_open(&b, f->a, empty, 1, 0), ECR_ERANGE);
	free(data);
}

static void test_engine_blob__put(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(4000, 3);
	char digest[ECR__DIGEST_STRLEN_MAX], wrong[ECR__DIGEST_STRLEN_MAX], d512[ECR__DIGEST_STRLEN_MAX];

	assert_ok(ecr__digest_buf(wrong, sizeof(wrong), ECR__DIGEST_SHA256, data, 3999));
	assert_int_equal(ecr_blob_put(f->a, wrong, data, 4000), ECR_EDIGEST);
	assert_int_equal(ecr_blob_stat(f->a, wrong, NULL), ECR_ENOTFOUND);
	assert_int_equal(ecr_blob_put(f->a, "sha256:abc", data, 4000), ECR_EINVALID);
	assert_int_equal(ecr_blob_put(f->a, "md5:0123456789abcdef0123456789abcdef", data, 4000) < 0, 1);

	put(f->a, digest, data, 4000);
	/* again: the same bytes, stored once */
	assert_ok(ecr_blob_put(f->a, digest, data, 4000));
	assert_ok(ecr_blob_put(f->b, digest, data, 4000));
	check_range(f->b, digest, data, 4000, 0, 0, 1000);

	assert_ok(ecr__digest_buf(d512, sizeof(d512), ECR__DIGEST_SHA512, data, 4000));
	assert_ok(ecr_blob_put(f->a, d512, data, 4000));
	check_range(f->a, d512, data, 4000, 100, 200, 1000);

	/* into a deleted repository */
	assert_ok(ecr_repository_delete(f->reg, "team/b", 0));
	assert_int_equal(ecr_blob_put(f->b, digest, data, 4000), ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_blob_stat(f->b, digest, NULL), ECR_EREPOSITORY_NOT_FOUND);
	free(data);
}

static void test_engine_blob__mount(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(3000, 4);
	char digest[ECR__DIGEST_STRLEN_MAX], other[ECR__DIGEST_STRLEN_MAX];

	put(f->a, digest, data, 3000);
	assert_ok(ecr__digest_buf(other, sizeof(other), ECR__DIGEST_SHA256, data, 10));
	assert_int_equal(ecr_blob_stat(f->b, digest, NULL), ECR_ENOTFOUND);
	assert_ok(ecr_blob_mount(f->b, f->a, digest));
	check_range(f->b, digest, data, 3000, 0, 0, 512);
	/* mounting again is fine */
	assert_ok(ecr_blob_mount(f->b, f->a, digest));
	/* from a repository that lacks it */
	ecr_repository *c;
	assert_ok(ecr_repository_create(&c, f->reg, "team/c", NULL));
	assert_int_equal(ecr_blob_mount(f->a, c, digest), ECR_ENOTFOUND);
	assert_int_equal(ecr_blob_mount(c, f->a, other), ECR_ENOTFOUND);
	assert_int_equal(ecr_blob_mount(c, f->a, "sha256:zz"), ECR_EINVALID);
	/* the mounted link is independent of the source */
	assert_ok(ecr_blob_delete(f->a, digest));
	assert_int_equal(ecr_blob_mount(c, f->a, digest), ECR_ENOTFOUND);
	assert_ok(ecr_blob_mount(c, f->b, digest));
	check_range(c, digest, data, 3000, 2999, 0, 512);
	ecr_repository_free(c);

	/* a registry of another storage cannot mount */
	ecr_registry *mem;
	ecr_repository *m;
	assert_ok(ecr_registry_open(&mem, "memory:", NULL));
	assert_ok(ecr_repository_create(&m, mem, "team/m", NULL));
	assert_int_equal(ecr_blob_mount(m, f->b, digest), ECR_ENOTFOUND);
	ecr_repository_free(m);
	ecr_registry_free(mem);

	/* another registry (account) in the same data folder can */
	if (f->dir) {
		ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
		ecr_registry *reg2;
		ecr_repository *r2;
		opts.account_id = "210987654321";
		opts.flags = ECR_STORAGE_NOSYNC;
		assert_ok(ecr_registry_open(&reg2, f->url, &opts));
		assert_ok(ecr_repository_create(&r2, reg2, "team/a", NULL));
		assert_int_equal(ecr_blob_stat(r2, digest, NULL), ECR_ENOTFOUND);
		assert_ok(ecr_blob_mount(r2, f->b, digest));
		check_range(r2, digest, data, 3000, 0, 0, 4096);
		ecr_repository_free(r2);
		ecr_registry_free(reg2);
	}
	free(data);
}

static void test_engine_blob__delete(void **state)
{
	fixture *f = *state;
	unsigned char *data = pattern(1500, 5);
	char digest[ECR__DIGEST_STRLEN_MAX];
	ecr_blob *b;

	put(f->a, digest, data, 1500);
	assert_ok(ecr_blob_mount(f->b, f->a, digest));
	/* an open reader survives the unlink */
	assert_ok(ecr_blob_open(&b, f->a, digest, 0, 0));
	assert_ok(ecr_blob_delete(f->a, digest));
	assert_int_equal(ecr_blob_delete(f->a, digest), ECR_ENOTFOUND);
	assert_int_equal(ecr_blob_stat(f->a, digest, NULL), ECR_ENOTFOUND);
	ecr_blob *b2 = NULL;
	assert_int_equal(ecr_blob_open(&b2, f->a, digest, 0, 0), ECR_ENOTFOUND);
	unsigned char buf[1500];
	size_t n, got = 0;
	do {
		assert_ok(ecr_blob_read(b, buf + got, sizeof(buf) - got, &n));
		got += n;
	} while (n && got < sizeof(buf));
	assert_int_equal(got, 1500);
	assert_memory_equal(buf, data, 1500);
	ecr_blob_free(b);
	/* the other repository still has it */
	check_range(f->b, digest, data, 1500, 0, 0, 100);
	assert_int_equal(ecr_blob_delete(f->a, "sha256:1"), ECR_EINVALID);
	free(data);
}

/* Each case on the memory storage and on files. */
#define BOTH(name) \
	{ "test_engine_blob__" #name "_memory", test_engine_blob__##name, setup_memory, teardown, NULL }, \
	{ "test_engine_blob__" #name "_fs", test_engine_blob__##name, setup_fs, teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(stat),
		BOTH(ranges),
		BOTH(put),
		BOTH(mount),
		BOTH(delete),
	};
	return cmocka_run_group_tests_name("engine/blob", tests, NULL, NULL);
}
