/* GetUsage (libecr/server/ecr_api_usage.c): the usage of a registry and of one repository over the ECR API after
 * known pushes and HTTP pulls, its errors, and a remote registry handle (http://) answering ecr_registry_usage,
 * ecr_repository_usage and ecr_registry_usage_foreach through it. */
#include "api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/th_image.h"
#include "ecr/usage.h"

typedef struct fixture {
	ecr_registry *reg;
	ecr_server *srv;
	ecr_repository *app, *other;
	uint16_t port;
	th_image a, b;
	/* expected figures */
	uint64_t app_stored, other_stored, unique, app_pushed, other_pushed, app_pulled;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	uint64_t rng = 0x5eed1234u;
	size_t sizes[2] = { 1000, 3000 };
	reply r = { 0 };
	char path[512];
	assert_non_null(f);
	assert_ok(ecr_registry_open(&f->reg, "memory:", NULL));
	assert_ok(ecr_repository_create(&f->app, f->reg, "proj/app", NULL));
	assert_ok(ecr_repository_create(&f->other, f->reg, "proj/other", NULL));
	f->port = api_server_start(&f->srv, f->reg, ECR_SERVER_NO_AUTH);
	assert_ok(th_image_random(&f->a, &rng, 2, sizes));
	assert_ok(th_image_with_layers(&f->b, &rng, f->a.layers, 1, 1)); /* shares a's first layer */
	assert_ok(th_image_push(f->app, &f->a, "v1", 0));
	assert_ok(th_image_push(f->other, &f->b, "v1", 0));
	f->app_stored = f->a.manifest_len + f->a.config.len + 1000 + 3000;
	f->other_stored = f->b.manifest_len + f->b.config.len + 1000 + f->b.layers[1].len;
	f->unique = f->app_stored + f->other_stored - 1000;
	f->app_pushed = f->app_stored;
	f->other_pushed = f->other_stored;
	/* pulls over HTTP: a manifest GET and a blob GET count, HEADs do not */
	snprintf(path, sizeof(path), "/v2/proj/app/manifests/v1");
	assert_int_equal(api_request(&r, f->port, "GET", path, NULL, NULL, NULL), 200);
	assert_int_equal(api_request(&r, f->port, "HEAD", path, NULL, NULL, NULL), 200);
	snprintf(path, sizeof(path), "/v2/proj/app/blobs/%s", f->a.layers[1].digest);
	assert_int_equal(api_request(&r, f->port, "GET", path, NULL, NULL, NULL), 200);
	assert_int_equal(r.len, 3000);
	assert_int_equal(api_request(&r, f->port, "HEAD", path, NULL, NULL, NULL), 200);
	reply_dispose(&r);
	f->app_pulled = f->a.manifest_len + 3000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_server_free(f->srv);
	ecr_repository_free(f->app);
	ecr_repository_free(f->other);
	ecr_registry_free(f->reg);
	th_image_dispose(&f->a);
	th_image_dispose(&f->b);
	free(f);
	return 0;
}

static void check_json(const ecr__json *o, uint64_t images, uint64_t stored, uint64_t unique, uint64_t pushed,
	uint64_t pulled, uint64_t image_pushes, uint64_t image_pulls, uint64_t uploads, uint64_t downloads)
{
	assert_int_equal(jint(o, "images"), images);
	assert_int_equal(jint(o, "storedBytes"), stored);
	assert_int_equal(jint(o, "storedBytesUnique"), unique);
	assert_int_equal(jint(o, "pushedBytes"), pushed);
	assert_int_equal(jint(o, "pulledBytes"), pulled);
	assert_int_equal(jint(o, "imagePushes"), image_pushes);
	assert_int_equal(jint(o, "imagePulls"), image_pulls);
	assert_int_equal(jint(o, "blobUploads"), uploads);
	assert_int_equal(jint(o, "blobDownloads"), downloads);
}

static void test_server_ecr_api_usage__registry(void **state)
{
	fixture *f = *state;
	reply r = { 0 };
	api_call(&r, f->port, "GetUsage", "{}");
	expect_ok(&r);
	assert_int_equal(jint(r.json, "repositoryCount"), 2);
	check_json(r.json, 2, f->app_stored + f->other_stored, f->unique, f->app_pushed + f->other_pushed,
		f->app_pulled, 2, 1, 6, 1);
	assert_int_equal(jint(r.json, "from"), 0);
	assert_int_equal(jint(r.json, "to"), 0);
	assert_int_equal(jcount(r.json, "repositories"), 2);
	const ecr__json *app = jat(r.json, "repositories", 0), *other = jat(r.json, "repositories", 1);
	assert_string_equal(jstr(app, "repositoryName"), "proj/app");
	assert_string_equal(jstr(other, "repositoryName"), "proj/other");
	check_json(app, 1, f->app_stored, f->app_stored, f->app_pushed, f->app_pulled, 1, 1, 3, 1);
	check_json(other, 1, f->other_stored, f->other_stored, f->other_pushed, 0, 1, 0, 3, 0);
	reply_dispose(&r);
}

static void test_server_ecr_api_usage__repository_and_window(void **state)
{
	fixture *f = *state;
	reply r = { 0 };
	char body[256];
	api_call(&r, f->port, "GetUsage", "{\"repositoryName\": \"proj/app\"}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "repositoryName"), "proj/app");
	assert_int_equal(jint(r.json, "repositoryCount"), 1);
	check_json(r.json, 1, f->app_stored, f->app_stored, f->app_pushed, f->app_pulled, 1, 1, 3, 1);
	assert_null(ecr__json_get(r.json, "repositories"));

	/* a window of days before today: stored bytes, no transfer; the window is rounded to days */
	int64_t today = ecr_registry_now(f->reg) / 86400000;
	snprintf(body, sizeof(body), "{\"repositoryName\": \"proj/app\", \"from\": %lld, \"to\": %lld}",
		(long long)((today - 3) * 86400 + 100), (long long)((today - 1) * 86400 + 5));
	api_call(&r, f->port, "GetUsage", body);
	expect_ok(&r);
	check_json(r.json, 1, f->app_stored, f->app_stored, 0, 0, 0, 0, 0, 0);
	assert_int_equal(jint(r.json, "from"), (today - 3) * 86400);
	assert_int_equal(jint(r.json, "to"), today * 86400);
	/* from today on */
	snprintf(body, sizeof(body), "{\"from\": %lld}", (long long)(today * 86400));
	api_call(&r, f->port, "GetUsage", body);
	expect_ok(&r);
	check_json(r.json, 2, f->app_stored + f->other_stored, f->unique, f->app_pushed + f->other_pushed,
		f->app_pulled, 2, 1, 6, 1);
	reply_dispose(&r);
}

static void test_server_ecr_api_usage__errors(void **state)
{
	fixture *f = *state;
	reply r = { 0 };
	api_call(&r, f->port, "GetUsage", "{\"repositoryName\": \"proj/none\"}");
	expect_error(&r, "RepositoryNotFoundException");
	api_call(&r, f->port, "GetUsage", "{\"from\": 200, \"to\": 100}");
	expect_error(&r, "InvalidParameterException");
	api_call(&r, f->port, "GetUsage", "{\"from\": -1}");
	expect_error(&r, "InvalidParameterException");
	api_call(&r, f->port, "GetUsage", "{\"from\": \"yesterday\"}");
	assert_int_equal(r.status, 400);
	api_call(&r, f->port, "GetUsage", "{\"repositoryName\": 5}");
	assert_int_equal(r.status, 400);
	reply_dispose(&r);
}

typedef struct names {
	char name[2][64];
	ecr_usage u[2];
	size_t n;
} names;

static int collect(const char *repository, const ecr_usage *usage, void *payload)
{
	names *x = payload;
	if (x->n == 2)
		return 7;
	snprintf(x->name[x->n], sizeof(x->name[0]), "%s", repository);
	x->u[x->n++] = *usage;
	return 0;
}

/* The same figures through a remote registry handle. */
static void test_server_ecr_api_usage__remote(void **state)
{
	fixture *f = *state;
	char url[64];
	ecr_registry *remote;
	ecr_repository *repo;
	ecr_usage u = ECR_USAGE_INIT;
	names x = { 0 };
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)f->port);
	assert_ok(ecr_registry_open(&remote, url, NULL));
	assert_ok(ecr_registry_usage(&u, remote, 0, 0));
	assert_int_equal(u.repositories, 2);
	assert_int_equal(u.images, 2);
	assert_int_equal(u.stored_bytes, f->app_stored + f->other_stored);
	assert_int_equal(u.stored_bytes_unique, f->unique);
	assert_int_equal(u.pushed_bytes, f->app_pushed + f->other_pushed);
	assert_int_equal(u.pulled_bytes, f->app_pulled);
	assert_int_equal(u.blob_uploads, 6);
	assert_int_equal(u.blob_downloads, 1);
	assert_int_equal(u.image_pulls, 1);

	assert_ok(ecr_repository_open(&repo, remote, "proj/other"));
	assert_ok(ecr_repository_usage(&u, repo, 0, 0));
	assert_int_equal(u.repositories, 1);
	assert_int_equal(u.stored_bytes, f->other_stored);
	assert_int_equal(u.pushed_bytes, f->other_pushed);
	assert_int_equal(u.image_pushes, 1);
	ecr_repository_free(repo);

	assert_ok(ecr_registry_usage_foreach(remote, 0, 0, collect, &x));
	assert_int_equal(x.n, 2);
	assert_string_equal(x.name[0], "proj/app");
	assert_string_equal(x.name[1], "proj/other");
	assert_int_equal(x.u[0].pulled_bytes, f->app_pulled);
	assert_int_equal(x.u[1].stored_bytes, f->other_stored);
	assert_int_equal(ecr_registry_usage(&u, remote, 10, 5), ECR_EINVALID);
	ecr_registry_free(remote);
}

/* With authentication: a repository's usage needs ecr:DescribeRepositories on it, the registry's
 * ecr:DescribeRegistry (through a remote handle signing with a principal's access key). */
static void test_server_ecr_api_usage__authorization(void **state)
{
	(void)state;
	ecr_registry *reg, *remote;
	ecr_repository *app, *other, *ra;
	ecr_server *srv;
	ecr_principal *alice;
	ecr_buf key = ECR_BUF_INIT, secret = ECR_BUF_INIT;
	ecr_usage u = ECR_USAGE_INIT;
	char url[64];
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_repository_create(&app, reg, "proj/app", NULL));
	assert_ok(ecr_repository_create(&other, reg, "proj/other", NULL));
	uint16_t port = api_server_start(&srv, reg, 0);
	assert_ok(ecr_principal_create(&alice, reg, "arn:aws:iam::123456789012:user/alice", 0));
	assert_ok(ecr_principal_access_key_create(&key, &secret, alice));
	assert_ok(ecr_principal_put_policy(alice, "app",
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:DescribeRepositories\","
		"\"Resource\":\"arn:aws:ecr:us-east-1:123456789012:repository/proj/app\"}]}"));

	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.access_key_id = key.ptr;
	opts.secret_access_key = secret.ptr;
	opts.region = "us-east-1";
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)port);
	assert_ok(ecr_registry_open(&remote, url, &opts));
	assert_ok(ecr_repository_open(&ra, remote, "proj/app"));
	assert_ok(ecr_repository_usage(&u, ra, 0, 0));
	assert_int_equal(u.repositories, 1);
	ecr_repository_free(ra);
	assert_int_equal(ecr_registry_usage(&u, remote, 0, 0), ECR_EDENIED);
	assert_int_equal(ecr_registry_usage_foreach(remote, 0, 0, collect, &(names){ 0 }), ECR_EDENIED);

	assert_ok(ecr_principal_put_policy(alice, "registry",
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ecr:DescribeRegistry\","
		"\"Resource\":\"*\"}]}"));
	assert_ok(ecr_registry_usage(&u, remote, 0, 0));
	assert_int_equal(u.repositories, 2);
	ecr_registry_free(remote);
	ecr_buf_dispose(&key);
	ecr_buf_dispose(&secret);
	ecr_principal_free(alice);
	ecr_server_free(srv);
	ecr_repository_free(app);
	ecr_repository_free(other);
	ecr_registry_free(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_server_ecr_api_usage__registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api_usage__repository_and_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api_usage__errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ecr_api_usage__remote, setup, teardown),
		cmocka_unit_test(test_server_ecr_api_usage__authorization),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("server/ecr_api_usage", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
