/* transport/http_ecr: the HTTP transport's ECR API calls (SigV4-signed JSON 1.1) against ecrd's server in this
 * process, the data plane's token from GetAuthorizationToken, and registries without an ECR API. */
#include "../helpers/helpers.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecr/server.h"
#include "libecr/core/crypto.h"
#include "libecr/core/json.h"
#include "libecr/core/timeutil.h"
#include "libecr/transport/http_transport.h"

typedef struct fixture {
	ecr_registry *reg;
	ecr_server *srv;
	uint16_t port;
	ecr_principal *alice;
	ecr_buf key, secret;
	char url[64];
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
	ro.account_id = "111122223333";
	ro.region = "eu-west-1";
	assert_ok(ecr_registry_open(&f->reg, "memory:", &ro));
	so.flags = ECR_SERVER_SINGLE_THREAD;
	so.bind_address = "127.0.0.1";
	assert_ok(ecr_server_new(&f->srv, &so));
	assert_ok(ecr_server_add_registry(f->srv, f->reg, NULL));
	assert_ok(ecr_server_start(f->srv));
	f->port = ecr_server_port(f->srv);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", (unsigned)f->port);
	assert_ok(ecr_principal_create(&f->alice, f->reg, "arn:aws:iam::111122223333:user/alice", ECR_PRINCIPAL_ADMIN));
	assert_ok(ecr_principal_access_key_create(&f->key, &f->secret, f->alice));
	*state = f;
	return 0;
}

/* The same registry served without authentication (ecrd --no-auth). */
static int setup_no_auth(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server_options so = ECR_SERVER_OPTIONS_INIT;
	ro.account_id = "111122223333";
	ro.region = "eu-west-1";
	assert_ok(ecr_registry_open(&f->reg, "memory:", &ro));
	so.flags = ECR_SERVER_SINGLE_THREAD | ECR_SERVER_NO_AUTH;
	so.bind_address = "127.0.0.1";
	assert_ok(ecr_server_new(&f->srv, &so));
	assert_ok(ecr_server_add_registry(f->srv, f->reg, NULL));
	assert_ok(ecr_server_start(f->srv));
	f->port = ecr_server_port(f->srv);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", (unsigned)f->port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_server_free(f->srv);
	ecr_principal_free(f->alice);
	ecr_registry_free(f->reg);
	ecr_buf_dispose(&f->key);
	ecr_buf_dispose(&f->secret);
	free(f);
	return 0;
}

/* A transport built by hand (as http_transport.c builds it) on url: the data plane and the API on the same URL. */
static ecr__http_transport *transport(const char *url, const char *key, const char *secret, const char *token)
{
	ecr__http_transport *ht = calloc(1, sizeof(*ht));
	ecr__http_config cfg = { 0 };
	assert_non_null(ht);
	cfg.base_url = url;
	cfg.max_retries = 1;
	assert_ok(ecr__http_new(&ht->data, &cfg));
	assert_ok(ecr__http_new(&ht->api, &cfg));
	ht->base.version = ECR_TRANSPORT_VERSION;
	ht->base.call = ecr__http_ecr_call;
	ht->base_url = ecr__strdup(url);
	ht->host = ecr__strdup(strstr(url, "://") + 3);
	ht->region = ecr__strdup("eu-west-1");
	if (key) {
		ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
		o.access_key_id = key;
		o.secret_access_key = secret;
		o.session_token = token;
		assert_ok(ecr__aws_creds_resolve(&ht->creds, &o));
	}
	pthread_mutex_init(&ht->lock, NULL);
	return ht;
}

static void transport_free(ecr__http_transport *ht)
{
	ecr__http_free(ht->data);
	ecr__http_free(ht->api);
	ecr__free(ht->base_url);
	ecr__free(ht->host);
	ecr__free(ht->region);
	ecr__aws_creds_dispose(&ht->creds);
	pthread_mutex_destroy(&ht->lock);
	free(ht);
}

static int call(ecr_buf *out, ecr__http_transport *ht, const char *op, const char *body)
{
	return ht->base.call(out, &ht->base, op, body, body ? strlen(body) : 0);
}

static ecr__json *parse(const ecr_buf *b)
{
	ecr__json *j = NULL;
	assert_ok(ecr__json_parse(&j, b->ptr, b->size, NULL));
	return j;
}

static void expect_message(const char *part)
{
	if (!strstr(ecr_error_last()->message, part))
		fail_msg("'%s' not in the message '%s'", part, ecr_error_last()->message);
}

static void test_transport_http_ecr__calls(void **state)
{
	fixture *f = *state;
	ecr__http_transport *ht = transport(f->url, f->key.ptr, f->secret.ptr, NULL);
	ecr_buf out = ECR_BUF_INIT;
	ecr__json *j;

	assert_ok(call(&out, ht, "CreateRepository", "{\"repositoryName\": \"team/web\"}"));
	j = parse(&out);
	assert_string_equal(ecr__json_get_string(ecr__json_get(j, "repository"), "repositoryName"), "team/web");
	assert_string_equal(ecr__json_get_string(ecr__json_get(j, "repository"), "repositoryArn"),
		"arn:aws:ecr:eu-west-1:111122223333:repository/team/web");
	ecr__json_free(j);
	/* the engine has it */
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_open(&repo, f->reg, "team/web"));
	ecr_repository_free(repo);

	/* an empty request is {} */
	assert_ok(call(&out, ht, "DescribeRepositories", NULL));
	j = parse(&out);
	assert_int_equal(ecr__json_get(j, "repositories")->count, 1);
	assert_string_equal(ecr__json_get_string(ecr__json_at(ecr__json_get(j, "repositories"), 0), "repositoryName"),
		"team/web");
	ecr__json_free(j);

	/* ECR's errors: the code of the __type, the operation and the server's message */
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{\"repositoryNames\": [\"nope\"]}"),
		ECR_EREPOSITORY_NOT_FOUND);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_TRANSPORT);
	expect_message("DescribeRepositories: ");
	expect_message("nope");
	expect_message("does not exist");
	assert_int_equal(call(&out, ht, "CreateRepository", "{\"repositoryName\": \"team/web\"}"),
		ECR_EREPOSITORY_EXISTS);
	expect_message("CreateRepository: ");
	assert_int_equal(call(&out, ht, "CreateRepository", "{\"repositoryName\": \"Bad Name\"}"),
		ECR_EINVALID);
	assert_int_equal(call(&out, ht, "NoSuchOperation", "{}"), ECR_ENOTSUPPORTED);
	/* the output buffer holds nothing it was not given */
	assert_ok(call(&out, ht, "DeleteRepository", "{\"repositoryName\": \"team/web\"}"));
	assert_int_equal(ecr_repository_open(&repo, f->reg, "team/web"), ECR_EREPOSITORY_NOT_FOUND);

	/* bad arguments never reach the wire */
	assert_int_equal(call(&out, ht, "Describe Repositories", "{}"), ECR_EINVALID);
	assert_int_equal(call(&out, ht, "", "{}"), ECR_EINVALID);
	ecr_buf_dispose(&out);
	transport_free(ht);
}

static void test_transport_http_ecr__credentials(void **state)
{
	fixture *f = *state;
	ecr_buf out = ECR_BUF_INIT;
	ecr__http_transport *ht;

	ht = transport(f->url, f->key.ptr, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL);
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_EINVALID_SIGNATURE);
	expect_message("signature");
	transport_free(ht);

	ht = transport(f->url, "AKIAAAAAAAAAAAAAAAAA", f->secret.ptr, NULL);
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_EUNRECOGNIZED_CLIENT);
	transport_free(ht);

	/* a session token is sent (ecrd takes none: it says so) */
	ht = transport(f->url, f->key.ptr, f->secret.ptr, "FwoGZXIvYXdzEXAMPLE");
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_EUNRECOGNIZED_CLIENT);
	expect_message("X-Amz-Security-Token");
	transport_free(ht);

	/* the scope's region is the transport's; a missing one is us-east-1 (ecrd takes any) */
	ht = transport(f->url, f->key.ptr, f->secret.ptr, NULL);
	ecr__free(ht->region);
	ht->region = NULL;
	assert_ok(call(&out, ht, "DescribeRepositories", "{}"));
	transport_free(ht);

	/* none: the request goes unsigned, the server (auth on) refuses it, the message says where keys come from */
	ht = transport(f->url, NULL, NULL, NULL);
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_EMISSING_AUTH);
	expect_message("requires AWS credentials");
	assert_int_equal(ecr__http_ecr_refresh_token(ht), 0); /* nothing to get a token with */
	assert_int_equal(ht->token_expires_at, 0);
	transport_free(ht);

	/* no API client, or OCI only: not supported */
	ht = transport(f->url, f->key.ptr, f->secret.ptr, NULL);
	ht->remote_flags = ECR_REMOTE_OCI_ONLY;
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_ENOTSUPPORTED);
	ht->remote_flags = 0;
	ecr__http_free(ht->api);
	ht->api = NULL;
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_ENOTSUPPORTED);
	transport_free(ht);
	ecr_buf_dispose(&out);
}

/* Without credentials requests go unsigned: a registry that serves anonymous callers answers them. */
static void test_transport_http_ecr__anonymous(void **state)
{
	fixture *f = *state;
	ecr_buf out = ECR_BUF_INIT;
	ecr__http_transport *ht = transport(f->url, NULL, NULL, NULL);
	assert_ok(call(&out, ht, "CreateRepository", "{\"repositoryName\":\"anon/repo\"}"));
	assert_ok(call(&out, ht, "DescribeRepositories", "{}"));
	ecr__json *doc = parse(&out);
	const ecr__json *repos = ecr__json_get(doc, "repositories");
	assert_non_null(repos);
	assert_int_equal(repos->count, 1);
	assert_string_equal(ecr__json_get_string(ecr__json_at(repos, 0), "repositoryName"), "anon/repo");
	ecr__json_free(doc);
	/* errors keep their codes */
	assert_int_equal(call(&out, ht, "DeleteRepository", "{\"repositoryName\":\"nope\"}"), ECR_EREPOSITORY_NOT_FOUND);
	transport_free(ht);
	ecr_buf_dispose(&out);
}

static long get_v2(ecr__http_transport *ht)
{
	ecr__http_response res = { 0 };
	ecr__http_request req = { 0 };
	req.method = "GET";
	req.path = "/v2/";
	int rc = ecr__http_do(&res, ht->data, &req);
	long st = rc == 0 ? res.status : rc == ECR_EAUTH ? 401 : rc;
	ecr__http_response_dispose(&res);
	return st;
}

static void test_transport_http_ecr__token(void **state)
{
	fixture *f = *state;
	ecr__http_transport *ht = transport(f->url, f->key.ptr, f->secret.ptr, NULL);

	/* the data plane refuses a caller without a token */
	assert_int_equal(get_v2(ht), 401);
	int64_t before = ecr__time_now_ms();
	assert_ok(ecr__http_ecr_refresh_token(ht));
	/* ECR's 12 hours */
	assert_true(ht->token_expires_at >= before + 12LL * 3600 * 1000 - 5000);
	assert_true(ht->token_expires_at <= ecr__time_now_ms() + 12LL * 3600 * 1000 + 5000);
	assert_int_equal(get_v2(ht), 200);

	/* a fresh token is kept */
	int64_t exp = ht->token_expires_at;
	assert_ok(ecr__http_ecr_refresh_token(ht));
	assert_int_equal(ht->token_expires_at, exp);
	/* one within 5 minutes of its expiry is renewed */
	ht->token_expires_at = ecr__time_now_ms() + 60 * 1000;
	assert_ok(ecr__http_ecr_refresh_token(ht));
	assert_true(ht->token_expires_at > ecr__time_now_ms() + 11LL * 3600 * 1000);
	assert_int_equal(get_v2(ht), 200);

	/* the caller's own Basic credentials are left alone */
	ecr__http_transport *given = transport(f->url, f->key.ptr, f->secret.ptr, NULL);
	given->basic_given = true;
	assert_ok(ecr__http_ecr_refresh_token(given));
	assert_int_equal(given->token_expires_at, 0);
	assert_int_equal(get_v2(given), 401);
	/* and a registry known to have no API is not asked */
	given->basic_given = false;
	given->features_known = true;
	given->features = ECR_TRANSPORT_HAS_OCI;
	assert_ok(ecr__http_ecr_refresh_token(given));
	assert_int_equal(given->token_expires_at, 0);
	transport_free(given);

	/* refused credentials fail the refresh with the API's code */
	ecr__http_transport *bad = transport(f->url, f->key.ptr, "wrong", NULL);
	assert_int_equal(ecr__http_ecr_refresh_token(bad), ECR_EINVALID_SIGNATURE);
	assert_int_equal(bad->token_expires_at, 0);
	transport_free(bad);
	transport_free(ht);
}

/* --- a registry without an ECR API: a small HTTP server answering what mode says --- */

static struct {
	unsigned int status;
	const char *content_type;
	const char *body;
	char target[128];
} fake;

static enum MHD_Result fake_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	if (!*con_cls) {
		*con_cls = conn;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	const char *t = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target");
	snprintf(fake.target, sizeof(fake.target), "%s", t ? t : "");
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(fake.body), (void *)(uintptr_t)fake.body,
		MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", fake.content_type);
	enum MHD_Result ret = MHD_queue_response(conn, fake.status, r);
	MHD_destroy_response(r);
	return ret;
}

static void test_transport_http_ecr__no_api(void **state)
{
	(void)state;
	struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		fake_handler, NULL, MHD_OPTION_END);
	assert_non_null(d);
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)info->port);
	ecr__http_transport *ht = transport(url, "AKIAEXAMPLE", "secret", NULL);
	ecr_buf out = ECR_BUF_INIT;

	/* a plain OCI registry: 404 (or 405) on POST / */
	fake.status = 404;
	fake.content_type = "application/json";
	fake.body = "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"no route\"}]}";
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_ENOTSUPPORTED);
	expect_message("serves no ECR API");
	expect_message(url);
	expect_message("404");
	assert_string_equal(fake.target, "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories");
	fake.status = 405;
	fake.body = "";
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_ENOTSUPPORTED);
	/* a web server: HTML */
	fake.status = 501;
	fake.content_type = "text/html";
	fake.body = "<html><body>Unsupported method ('POST')</body></html>";
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_ENOTSUPPORTED);
	expect_message("501");
	/* JSON without __type */
	fake.status = 400;
	fake.content_type = "application/json";
	fake.body = "{\"message\": \"what?\"}";
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_ENOTSUPPORTED);
	/* an overloaded or broken server is no proof of a missing API */
	fake.status = 429;
	fake.content_type = "text/plain";
	fake.body = "slow down";
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_ETHROTTLED);
	fake.status = 502;
	fake.content_type = "text/html";
	fake.body = "<html>Bad Gateway</html>";
	assert_int_equal(call(&out, ht, "DescribeRepositories", "{}"), ECR_ERROR);
	expect_message("502");
	fake.content_type = "application/json";
	fake.body = "{}";
	/* the refresh of a registry without an API is no error, and gets no token */
	fake.status = 404;
	assert_ok(ecr__http_ecr_refresh_token(ht));
	assert_int_equal(ht->token_expires_at, 0);

	/* AWS's other spellings of an error: Message, a prefixed and suffixed __type */
	fake.status = 400;
	fake.body = "{\"__type\": \"com.amazonaws.ecr#ThrottlingException:http://internal/\", "
		    "\"Message\": \"Rate exceeded\"}";
	assert_int_equal(call(&out, ht, "ListImages", "{}"), ECR_ETHROTTLED);
	assert_string_equal(ecr_error_last()->message, "ListImages: Rate exceeded");
	fake.status = 403;
	fake.body = "{\"__type\": \"AccessDeniedException\"}";
	assert_int_equal(call(&out, ht, "ListImages", "{}"), ECR_EDENIED);
	expect_message("AccessDeniedException");
	fake.status = 500;
	fake.body = "{\"__type\": \"ServerException\", \"message\": \"boom\"}";
	assert_int_equal(call(&out, ht, "ListImages", "{}"), ECR_ERROR);
	assert_string_equal(ecr_error_last()->message, "ListImages: boom");
	/* a success is returned as it is */
	fake.status = 200;
	fake.body = "{\"imageIds\": []}";
	assert_ok(call(&out, ht, "ListImages", "{}"));
	assert_string_equal(out.ptr, "{\"imageIds\": []}");
	/* a token that is no base64 "user:password" */
	fake.body = "{\"authorizationData\": [{\"authorizationToken\": \"bm9jb2xvbg==\", \"expiresAt\": 1.9e9}]}";
	assert_int_equal(ecr__http_ecr_refresh_token(ht), ECR_ERROR);
	fake.body = "{\"authorizationData\": []}";
	assert_int_equal(ecr__http_ecr_refresh_token(ht), ECR_ERROR);
	/* a good one, with ECR's fractional expiresAt */
	fake.body = "{\"authorizationData\": [{\"authorizationToken\": \"QVdTOnNlY3JldA==\", "
		    "\"expiresAt\": 1900000000.5, \"proxyEndpoint\": \"x\"}]}";
	assert_ok(ecr__http_ecr_refresh_token(ht));
	assert_int_equal(ht->token_expires_at, 1900000000500LL);

	ecr_buf_dispose(&out);
	transport_free(ht);
	MHD_stop_daemon(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transport_http_ecr__calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_http_ecr__credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_http_ecr__token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transport_http_ecr__anonymous, setup_no_auth, teardown),
		cmocka_unit_test(test_transport_http_ecr__no_api),
	};
	return cmocka_run_group_tests_name("transport/http_ecr", tests, NULL, NULL);
}
