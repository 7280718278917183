/* storage/blob_memory: the blob store contract on the memory store, plus what
 * only it does (no file descriptors; readers outlive the store). */
#define BSC_NAME(c) test_storage_blob_memory__##c
#include "blob_store_contract.h"

static int bsc_store_new(bsc_fixture *fx)
{
	return ecr_blob_store_memory_new(&fx->store);
}

static void bsc_store_free(bsc_fixture *fx)
{
	ecr_blob_store_free(fx->store);
}

static void test_storage_blob_memory__no_fd(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	ecr_blob_store_reader *r = NULL;
	char digest[ECR__DIGEST_STRLEN_MAX];

	bsc_digest(digest, ECR__DIGEST_SHA256, "abc", 3);
	assert_ok(bsc_put(s, "m", "abc", 3, 3, digest));
	assert_ok(s->read_open(&r, s, digest, 0));
	assert_null(r->fd);
	r->close(r);
}

static void test_storage_blob_memory__reader_outlives_store(void **state)
{
	ecr_blob_store *s = NULL;
	ecr_blob_store_reader *r = NULL;
	char digest[ECR__DIGEST_STRLEN_MAX], buf[8];
	size_t n = 0;
	(void)state;

	assert_ok(ecr_blob_store_memory_new(&s));
	bsc_digest(digest, ECR__DIGEST_SHA256, "kept alive", 10);
	assert_ok(bsc_put(s, "k", "kept alive", 10, 4, digest));
	assert_ok(s->read_open(&r, s, digest, 5));
	ecr_blob_store_free(s);
	assert_ok(r->read(r, buf, sizeof(buf), &n));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "alive", 5);
	r->close(r);
}

static void test_storage_blob_memory__init_and_free(void **state)
{
	ecr_blob_store store;
	(void)state;
	memset(&store, 0xff, sizeof(store));
	assert_ok(ecr_blob_store_init(&store, ECR_BLOB_STORE_VERSION));
	assert_int_equal(store.version, ECR_BLOB_STORE_VERSION);
	assert_null(store.stage_open);
	assert_null(store.free);
	assert_int_equal(ecr_blob_store_init(&store, 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_init(&store, ECR_BLOB_STORE_VERSION + 1), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_init(NULL, ECR_BLOB_STORE_VERSION), ECR_EINVALID);
	ecr_blob_store_free(NULL);
	assert_int_equal(ecr_blob_store_memory_new(NULL), ECR_EINVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BSC_CONTRACT_TESTS,
		BSC_TEST(no_fd),
		cmocka_unit_test(test_storage_blob_memory__reader_outlives_store),
		cmocka_unit_test(test_storage_blob_memory__init_and_free),
	};
	return cmocka_run_group_tests_name("storage/blob_memory", tests, NULL, NULL);
}
