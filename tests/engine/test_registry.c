/* Opening registries: URLs, options, several registries in one folder, reopen. */
#include "../helpers/helpers.h"
#include "libecr/core/digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_engine_registry__memory_defaults(void **state)
{
	(void)state;
	ecr_registry *reg = NULL;
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_string_equal(ecr_registry_account_id(reg), "123456789012");
	assert_string_equal(ecr_registry_region(reg), "us-east-1");
	assert_true(ecr_registry_now(reg) > 1700000000000LL);
	ecr_registry_free(reg);
	ecr_registry_free(NULL);
}

static void test_engine_registry__bad_urls_and_options(void **state)
{
	(void)state;
	ecr_registry *reg = (ecr_registry *)1;
	assert_int_equal(ecr_registry_open(&reg, "http//nope", NULL), ECR_EINVALID);
	assert_null(reg);
	assert_non_null(strstr(ecr_error_last()->message, "unsupported registry URL"));
	assert_int_equal(ecr_registry_open(&reg, "file://relative/path", NULL), ECR_EINVALID);
	assert_int_equal(ecr_registry_open(&reg, NULL, NULL), ECR_EINVALID);

	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.version = 99;
	assert_int_equal(ecr_registry_open(&reg, "memory:", &opts), ECR_EINVALID);
	assert_string_equal(ecr_error_last()->message, "invalid version 99 on ecr_registry_options");
	assert_int_equal(ecr_registry_options_init(&opts, 0), ECR_EINVALID);
	assert_ok(ecr_registry_options_init(&opts, ECR_REGISTRY_OPTIONS_VERSION));
	opts.account_id = "12345";
	assert_int_equal(ecr_registry_open(&reg, "memory:", &opts), ECR_EINVALID);
	opts.account_id = "000000000001";
	opts.region = "Bad Region";
	assert_int_equal(ecr_registry_open(&reg, "memory:", &opts), ECR_EINVALID);
	opts.region = "eu-west-1";
	assert_ok(ecr_registry_open(&reg, "memory:", &opts));
	assert_string_equal(ecr_registry_account_id(reg), "000000000001");
	assert_string_equal(ecr_registry_region(reg), "eu-west-1");
	ecr_registry_free(reg);
}

static int64_t fixed_clock(void *payload) { return *(int64_t *)payload; }

static void test_engine_registry__clock(void **state)
{
	(void)state;
	int64_t now = 1234567890123LL;
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.clock_cb = fixed_clock;
	opts.clock_payload = &now;
	ecr_registry *reg;
	ecr_repository *repo;
	assert_ok(ecr_registry_open(&reg, "memory:", &opts));
	assert_ok(ecr_repository_create(&repo, reg, "clocked", NULL));
	assert_int_equal(ecr_repository_created_at(repo), now);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
}

struct log_capture {
	int count;
	char last[256];
};

static void capture_log(ecr_log_level level, const char *msg, void *payload)
{
	struct log_capture *c = payload;
	(void)level;
	c->count++;
	snprintf(c->last, sizeof(c->last), "%s", msg);
}

static void test_engine_registry__log_callback(void **state)
{
	(void)state;
	struct log_capture cap = { 0 };
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.log_cb = capture_log;
	opts.log_payload = &cap;
	opts.log_level = ECR_LOG_INFO;
	ecr_registry *reg;
	assert_ok(ecr_registry_open(&reg, "memory:", &opts));
	assert_ok(ecr_repository_create(NULL, reg, "logged", NULL));
	assert_true(cap.count >= 1);
	assert_non_null(strstr(cap.last, "logged"));
	ecr_registry_free(reg);
}

/* Several registries (accounts x regions) in one folder, open at once, and after a reopen. */
static void test_engine_registry__shared_folder(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char url[512];
	snprintf(url, sizeof(url), "file://%s/data", dir);
	ecr_registry_options a = ECR_REGISTRY_OPTIONS_INIT, b = ECR_REGISTRY_OPTIONS_INIT;
	a.account_id = "111111111111";
	b.account_id = "222222222222";
	b.region = "ap-south-1";
	a.flags = b.flags = ECR_STORAGE_NOSYNC;
	ecr_registry *ra, *rb;
	ecr_repository *repo;
	assert_ok(ecr_registry_open(&ra, url, &a));
	assert_ok(ecr_registry_open(&rb, url, &b));
	assert_ok(ecr_repository_create(NULL, ra, "same/name", NULL));
	assert_ok(ecr_repository_create(NULL, rb, "same/name", NULL));
	assert_int_equal(ecr_repository_create(NULL, ra, "only-a", NULL), 0);
	assert_int_equal(ecr_repository_open(&repo, rb, "only-a"), ECR_EREPOSITORY_NOT_FOUND);
	assert_string_equal(ecr_error_last()->message,
		"The repository with name 'only-a' does not exist in the registry with id '222222222222'");
	ecr_registry_free(ra);
	ecr_registry_free(rb);

	/* reopen: everything is still there */
	assert_ok(ecr_registry_open(&ra, url, &a));
	assert_ok(ecr_repository_open(&repo, ra, "only-a"));
	assert_string_equal(ecr_repository_arn(repo), "arn:aws:ecr:us-east-1:111111111111:repository/only-a");
	assert_string_equal(ecr_repository_uri(repo), "111111111111.dkr.ecr.us-east-1.amazonaws.com/only-a");
	ecr_repository_free(repo);
	ecr_registry_free(ra);
	th_rmtree(dir);
}

/* A second process cannot open a folder that is in use. */
static void test_engine_registry__folder_lock(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char url[512];
	snprintf(url, sizeof(url), "file://%s", dir);
	ecr_registry *reg;
	assert_ok(ecr_registry_open(&reg, url, NULL));
	pid_t pid = fork();
	if (pid == 0) {
		ecr_registry *other = NULL;
		int rc = ecr_registry_open(&other, url, NULL);
		_exit(rc == ECR_EBUSY ? 0 : 1);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	ecr_registry_free(reg);
	th_rmtree(dir);
}

/* ecr_registry_open_urls: bad URLs are refused with a message naming what is expected. */
static void test_engine_registry__urls_refused(void **state)
{
	(void)state;
	ecr_registry *reg = (ecr_registry *)1;
	assert_int_equal(ecr_registry_open_urls(&reg, "mysql://x/y", "memory:", NULL), ECR_EINVALID);
	assert_null(reg);
	assert_non_null(strstr(ecr_error_last()->message, "unsupported metadata URL 'mysql://x/y'"));
	assert_int_equal(ecr_registry_open_urls(&reg, "sqlite://relative.db", "memory:", NULL), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "needs an absolute path"));
	assert_int_equal(ecr_registry_open_urls(&reg, "sqlite:///tmp/x.db", "ftp://b", NULL), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "unsupported blob store URL 'ftp://b'"));
	assert_int_equal(ecr_registry_open_urls(&reg, "sqlite:///tmp/x.db", "file://rel", NULL), ECR_EINVALID);
	assert_int_equal(ecr_registry_open_urls(&reg, NULL, "memory:", NULL), ECR_EINVALID);
	assert_int_equal(ecr_registry_open_urls(&reg, "sqlite:///tmp/x.db", NULL, NULL), ECR_EINVALID);
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.version = 99;
	assert_int_equal(ecr_registry_open_urls(&reg, "sqlite:///tmp/x.db", "memory:", &opts), ECR_EINVALID);
	/* a PostgreSQL server that is not there: a clean failure, not a hang */
	int rc = ecr_registry_open_urls(&reg, "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", "memory:", NULL);
	assert_true(rc == ECR_ENETWORK || rc == ECR_EIO);
	assert_null(reg);
}

/* Registries on one (metadata, blobs) pair share a store in a process; another process opens the pair too. */
static void test_engine_registry__urls_shared(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char meta[512], blobs[512];
	snprintf(meta, sizeof(meta), "sqlite://%s/meta.db", dir);
	snprintf(blobs, sizeof(blobs), "file://%s/blobs", dir);
	ecr_registry_options a = ECR_REGISTRY_OPTIONS_INIT, b = ECR_REGISTRY_OPTIONS_INIT;
	a.account_id = "111111111111";
	b.account_id = "222222222222";
	a.flags = b.flags = ECR_STORAGE_NOSYNC;
	ecr_registry *ra, *rb;
	ecr_repository *repo_a, *repo_b;
	ecr_upload *up, *again;
	assert_ok(ecr_registry_open_urls(&ra, meta, blobs, &a));
	assert_ok(ecr_registry_open_urls(&rb, meta, blobs, &b));
	assert_ok(ecr_repository_create(&repo_a, ra, "app", NULL));
	assert_ok(ecr_repository_create(&repo_b, rb, "app", NULL));
	/* One store: a session held by a handle of registry A is busy for a second handle in this process. */
	assert_ok(ecr_upload_begin(&up, repo_a));
	assert_int_equal(ecr_upload_open(&again, repo_a, ecr_upload_id(up)), ECR_EBUSY);
	ecr_upload_free(up);

	/* A blob pushed by another process (no lock file keeps it out) is here. */
	static const char data[] = "pushed by the child";
	char digest[ECR__DIGEST_STRLEN_MAX];
	assert_ok(ecr__digest_buf(digest, sizeof(digest), ECR__DIGEST_SHA256, data, sizeof(data) - 1));
	pid_t pid = fork();
	if (pid == 0) {
		ecr_registry *rc_reg = NULL;
		ecr_repository *repo = NULL;
		int rc = ecr_registry_open_urls(&rc_reg, meta, blobs, &a);
		if (rc == 0)
			rc = ecr_repository_open(&repo, rc_reg, "app");
		if (rc == 0)
			rc = ecr_blob_put(repo, digest, data, sizeof(data) - 1);
		_exit(rc == 0 ? 0 : 1);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	uint64_t size = 0;
	assert_ok(ecr_blob_stat(repo_a, digest, &size));
	assert_int_equal(size, sizeof(data) - 1);
	assert_int_equal(ecr_blob_stat(repo_b, digest, &size), ECR_ENOTFOUND);
	ecr_repository_free(repo_a);
	ecr_repository_free(repo_b);
	ecr_registry_free(ra);
	ecr_registry_free(rb);

	/* ecr_registry_open is unchanged, and its folder lock does not involve these URLs */
	char url[512];
	snprintf(url, sizeof(url), "file://%s/folder", dir);
	assert_ok(ecr_registry_open(&ra, url, &a));
	ecr_registry_free(ra);
	th_rmtree(dir);
}

/* An upload session started in this process continues in another and ends here: no stale cached writer. */
static void test_engine_registry__urls_upload_moves(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char meta[512], blobs[512], id[64], digest[ECR__DIGEST_STRLEN_MAX];
	snprintf(meta, sizeof(meta), "sqlite://%s/meta.db", dir);
	snprintf(blobs, sizeof(blobs), "file://%s/blobs", dir);
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.flags = ECR_STORAGE_NOSYNC;
	ecr_registry *reg;
	ecr_repository *repo;
	ecr_upload *up;
	assert_ok(ecr_registry_open_urls(&reg, meta, blobs, &o));
	assert_ok(ecr_repository_create(&repo, reg, "moves", NULL));
	assert_ok(ecr_upload_begin(&up, repo));
	snprintf(id, sizeof(id), "%s", ecr_upload_id(up));
	assert_ok(ecr_upload_write(up, 0, "hello ", 6));
	ecr_upload_free(up);

	pid_t pid = fork();
	if (pid == 0) {
		ecr_registry *other = NULL;
		ecr_repository *r = NULL;
		ecr_upload *u = NULL;
		int rc = ecr_registry_open_urls(&other, meta, blobs, &o);
		if (rc == 0)
			rc = ecr_repository_open(&r, other, "moves");
		if (rc == 0)
			rc = ecr_upload_open(&u, r, id);
		if (rc == 0)
			rc = ecr_upload_size(u) == 6 ? ecr_upload_write(u, 6, "world", 5) : -1;
		_exit(rc == 0 ? 0 : 1);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	assert_ok(ecr_upload_open(&up, repo, id));
	assert_int_equal(ecr_upload_size(up), 11);
	assert_ok(ecr_upload_write(up, 11, "!", 1));
	assert_ok(ecr__digest_buf(digest, sizeof(digest), ECR__DIGEST_SHA256, "hello world!", 12));
	assert_ok(ecr_upload_commit(up, digest));
	ecr_upload_free(up);
	ecr_blob *blob;
	char buf[32] = { 0 };
	size_t n = 0;
	assert_ok(ecr_blob_open(&blob, repo, digest, 0, 0));
	assert_ok(ecr_blob_read(blob, buf, sizeof(buf), &n));
	assert_int_equal(n, 12);
	assert_string_equal(buf, "hello world!");
	ecr_blob_free(blob);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	th_rmtree(dir);
}

static void test_engine_registry__version_and_init(void **state)
{
	(void)state;
	assert_non_null(strstr(ecr_version(), "0.1.0"));
	int n = ecr_init();
	assert_true(n >= 1);
	assert_int_equal(ecr_shutdown(), n - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_registry__memory_defaults),
		cmocka_unit_test(test_engine_registry__bad_urls_and_options),
		cmocka_unit_test(test_engine_registry__clock),
		cmocka_unit_test(test_engine_registry__log_callback),
		cmocka_unit_test(test_engine_registry__shared_folder),
		cmocka_unit_test(test_engine_registry__folder_lock),
		cmocka_unit_test(test_engine_registry__urls_refused),
		cmocka_unit_test(test_engine_registry__urls_shared),
		cmocka_unit_test(test_engine_registry__urls_upload_moves),
		cmocka_unit_test(test_engine_registry__version_and_init),
	};
	return cmocka_run_group_tests_name("engine/registry", tests, NULL, NULL);
}
