/* The server's libmicrohttpd table (libecr/server/mhd.c): with the bundled
 * libmicrohttpd (no TLS) a plain-HTTP server maps neither GnuTLS nor the
 * system libmicrohttpd; a TLS server opens libmicrohttpd.so.12 and answers over
 * HTTPS, next to a plain one. The requests go through a raw socket (plain) and
 * the curl program (HTTPS), never through libcurl in this process: Debian's
 * libcurl maps GnuTLS itself (through librtmp). So these tests must not call
 * libcurl, and the plain test runs first. A missing libmicrohttpd.so.12 is tried
 * in a child process. */
#include "../helpers/helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libecr/core/lazy.h"
#include "libecr/server/http.h"

static const ecr_server_options no_auth = { ECR_SERVER_OPTIONS_VERSION, NULL, 0, NULL, NULL, ECR_SERVER_NO_AUTH, 0, 0,
	0, 0, 0, NULL, NULL, ECR_LOG_NONE };

/* Whether a library whose path contains name is mapped in this process. */
static int mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[1024];
	int found = 0;
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

/* GET path over a plain socket: the status code, and the body into body. */
static int raw_get(uint16_t port, const char *path, char *body, size_t bodylen)
{
	char req[256], resp[8192];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	assert_true(n > 0 && (size_t)n < sizeof(req));
	int status = th_http_raw(port, req, NULL, 0, resp, sizeof(resp));
	const char *b = strstr(resp, "\r\n\r\n");
	snprintf(body, bodylen, "%s", b ? b + 4 : "");
	return status;
}

static void test_server_mhd__plain_without_gnutls(void **state)
{
	(void)state;
	const ecr__mhd *mhd = NULL;
	ecr_registry *reg;
	ecr_server *srv;
	char body[256];
	assert_true(ecr_init() > 0);
	assert_ok(ecr__server_mhd(&mhd, false));
	assert_non_null(mhd);
	assert_non_null(mhd->start_daemon);
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	assert_ok(ecr_server_new(&srv, &no_auth));
	assert_ok(ecr_server_add_registry(srv, reg, NULL));
	assert_ok(ecr_server_start(srv));
	assert_int_equal(raw_get(ecr_server_port(srv), "/v2/", body, sizeof(body)), 200);
	assert_string_equal(body, "{}");
	assert_int_equal(raw_get(ecr_server_port(srv), "/v2/nothing/here", body, sizeof(body)), 404);
	if (ecr__server_mhd_bundled()) {
		assert_non_null(strstr(mhd->name, "bundled"));
		assert_false(mapped("libgnutls"));
		assert_false(mapped("libnettle"));
		assert_false(mapped("libmicrohttpd"));
	} else {
		print_message("built without the bundled libmicrohttpd (bundled_mhd): GnuTLS is mapped, not checked\n");
	}
	ecr_server_free(srv);
	ecr_registry_free(reg);
	ecr_shutdown();
	if (!ecr__server_mhd_bundled())
		skip();
}

/* A self-signed certificate for 127.0.0.1 and its key, made by the openssl program as dir/cert.pem and
 * dir/key.pem (their paths into cert and key, 512 bytes each): 0, or system()'s status. */
static int make_cert(const char *dir, char *cert, char *key)
{
	char cmd[1536];
	snprintf(cert, 512, "%s/cert.pem", dir);
	snprintf(key, 512, "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 -days 1 "
		"-keyout '%s' -out '%s' 2>/dev/null",
		key, cert);
	return system(cmd);
}

/* Without libmicrohttpd.so.12 (its name replaced by one that is not there), starting a TLS server fails with
 * ECR_ENOTSUPPORTED naming the library, and a plain server still serves. In a child process, forked while this
 * one has no thread: a library is opened once per process, and the TLS test below needs the real one. The child's
 * exit status is the number of the first check that failed. */
static int tls_missing_child(const char *dir)
{
	char cert[512], key[512], body[256];
	ecr_registry *reg;
	ecr_server *srv;
	if (make_cert(dir, cert, key) != 0)
		return 2;
	if (ecr_init() <= 0 || ecr__lazy_set_soname(ECR__LAZY_MHD, "libecr-no-such-microhttpd.so.12") != 0)
		return 3;
	if (ecr_registry_open(&reg, "memory:", NULL) != 0)
		return 4;
	ecr_server_options o = no_auth;
	o.tls_cert_file = cert;
	o.tls_key_file = key;
	if (ecr_server_new(&srv, &o) != 0 || ecr_server_add_registry(srv, reg, NULL) != 0)
		return 5;
	for (int i = 0; i < 2; i++) { /* the same error again */
		if (ecr_server_start(srv) != ECR_ENOTSUPPORTED)
			return 6;
		const char *msg = ecr_error_last()->message;
		if (!strstr(msg, "libmicrohttpd") || !strstr(msg, "HTTPS") || !strstr(msg, "libecr-no-such-microhttpd"))
			return 7;
	}
	ecr_server_free(srv);
	if (ecr_server_new(&srv, &no_auth) != 0 || ecr_server_add_registry(srv, reg, NULL) != 0 ||
		ecr_server_start(srv) != 0)
		return 8;
	if (raw_get(ecr_server_port(srv), "/v2/", body, sizeof(body)) != 200)
		return 9;
	if (mapped("libgnutls"))
		return 10;
	ecr_server_free(srv);
	ecr_registry_free(reg);
	ecr_shutdown();
	return 0;
}

static void test_server_mhd__tls_library_missing(void **state)
{
	(void)state;
	if (!ecr__server_mhd_bundled())
		skip(); /* TLS comes with the linked libmicrohttpd */
	char *dir = th_tmpdir();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(tls_missing_child(dir));
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	th_rmtree(dir);
}

/* curl (the program) GET https://127.0.0.1:port/v2/ without checking the certificate: the status, or -1. */
static int https_get(uint16_t port)
{
	char cmd[256], out[32] = "";
	snprintf(cmd, sizeof(cmd), "curl -sk --max-time 20 -o /dev/null -w '%%{http_code}' https://127.0.0.1:%u/v2/",
		(unsigned)port);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	if (pclose(p) != 0)
		return -1;
	return atoi(out);
}

static void test_server_mhd__tls(void **state)
{
	(void)state;
	char *dir = th_tmpdir();
	char cert[512], key[512], body[256];
	assert_int_equal(make_cert(dir, cert, key), 0);

	ecr_registry *reg;
	ecr_server *plain, *tls;
	assert_true(ecr_init() > 0);
	assert_ok(ecr_registry_open(&reg, "memory:", NULL));
	ecr_server_options o = no_auth;
	o.tls_cert_file = cert;
	o.tls_key_file = key;
	assert_ok(ecr_server_new(&tls, &o));
	assert_ok(ecr_server_add_registry(tls, reg, NULL));
	assert_ok(ecr_server_new(&plain, &no_auth));
	assert_ok(ecr_server_add_registry(plain, reg, NULL));
	assert_ok(ecr_server_start(plain));
	assert_ok(ecr_server_start(tls));

	/* both at once, each through its own libmicrohttpd */
	assert_int_equal(https_get(ecr_server_port(tls)), 200);
	assert_int_equal(raw_get(ecr_server_port(plain), "/v2/", body, sizeof(body)), 200);
	assert_int_equal(https_get(ecr_server_port(tls)), 200);
	/* plain HTTP to the TLS port is no HTTP answer */
	assert_int_not_equal(raw_get(ecr_server_port(tls), "/v2/", body, sizeof(body)), 200);

	const ecr__mhd *with_tls = NULL, *without = NULL;
	assert_ok(ecr__server_mhd(&with_tls, true));
	assert_ok(ecr__server_mhd(&without, false));
	if (ecr__server_mhd_bundled()) {
		assert_ptr_not_equal(with_tls, without);
		assert_string_equal(with_tls->name, "libmicrohttpd.so.12");
		assert_true(mapped("libmicrohttpd.so.12"));
		assert_true(mapped("libgnutls"));
	} else {
		assert_ptr_equal(with_tls, without);
	}

	/* stopped and started again, the TLS server still answers */
	assert_ok(ecr_server_stop(tls));
	assert_ok(ecr_server_start(tls));
	assert_int_equal(https_get(ecr_server_port(tls)), 200);

	ecr_server_free(tls);
	ecr_server_free(plain);
	ecr_registry_free(reg);
	ecr_shutdown();
	th_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: nothing may have mapped GnuTLS yet */
		cmocka_unit_test(test_server_mhd__plain_without_gnutls),
		cmocka_unit_test(test_server_mhd__tls_library_missing), /* forks: before any thread */
		cmocka_unit_test(test_server_mhd__tls),
	};
	return cmocka_run_group_tests_name("server/mhd", tests, NULL, NULL);
}
