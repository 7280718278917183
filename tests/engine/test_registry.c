/* Opening registries: URLs, options, several registries in one folder, reopen. */
#include "../helpers/helpers.h"

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
		cmocka_unit_test(test_engine_registry__version_and_init),
	};
	return cmocka_run_group_tests_name("engine/registry", tests, NULL, NULL);
}
