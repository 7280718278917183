/* Test helper: start and stop Debian's docker-registry (see registry_fixture.h). */
#include "registry_fixture.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static __thread char problem[1024];

const char *regfix_problem(void)
{
	return problem;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	return -1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * In a child before exec: output to log (appended), no input; a server (daemon) also dies with the test process,
 * so a test that aborts half-way leaves no registry or token server running.
 */
static void child_setup(const char *log, bool daemon)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	int null = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (null >= 0)
		dup2(null, 0);
	if (daemon)
		prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Run argv (PATH lookup), output to log (appended); 0 when it exits 0. */
static int run(char *const argv[], const char *log)
{
	pid_t pid = fork();
	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	if (pid == 0) {
		child_setup(log, false);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return fail("%s failed (status %d; see %s)", argv[0], st, log);
	return 0;
}

/* A port that was free a moment ago. */
static int free_port(uint16_t *out)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	if (s < 0)
		return fail("socket: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		int e = errno;
		close(s);
		return fail("bind: %s", strerror(e));
	}
	close(s);
	*out = ntohs(a.sin_port);
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p, (void)u;
	return size * n;
}

/* The status of GET /v2/, or 0 when nothing answers. */
static long probe(const regfix *f)
{
	char url[128];
	long status = 0;
	CURL *c = curl_easy_init();
	if (!c)
		return 0;
	snprintf(url, sizeof(url), "%s/v2/", f->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (f->flags & REGFIX_TLS)
		curl_easy_setopt(c, CURLOPT_CAINFO, f->ca_file);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

static int write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	if (!fp)
		return fail("%s: %s", path, strerror(errno));
	int ok = fputs(text, fp) >= 0;
	if (fclose(fp) != 0 || !ok)
		return fail("%s: write failed", path);
	return 0;
}

static int write_config(const regfix *f, const char *config)
{
	char text[4096];
	int n = snprintf(text, sizeof(text),
	                 "version: 0.1\n"
	                 "log:\n"
	                 "  level: warn\n"
	                 "  accesslog:\n"
	                 "    disabled: true\n"
	                 "storage:\n"
	                 "  filesystem:\n"
	                 "    rootdirectory: %s/data\n"
	                 "  delete:\n"
	                 "    enabled: true\n"
	                 "http:\n"
	                 "  addr: 127.0.0.1:%u\n"
	                 "  secret: regfix-test-secret\n"
	                 "%s%s%s%s%s"
	                 "%s%s%s"
	                 "%s%s%s%s%s",
	                 f->dir, (unsigned)f->port, (f->flags & REGFIX_TLS) ? "  tls:\n    certificate: " : "",
	                 (f->flags & REGFIX_TLS) ? f->ca_file : "", (f->flags & REGFIX_TLS) ? "\n    key: " : "",
	                 (f->flags & REGFIX_TLS) ? f->dir : "", (f->flags & REGFIX_TLS) ? "/key.pem\n" : "",
	                 (f->flags & REGFIX_HTPASSWD) ? "auth:\n  htpasswd:\n    realm: regfix\n    path: " : "",
	                 (f->flags & REGFIX_HTPASSWD) ? f->dir : "", (f->flags & REGFIX_HTPASSWD) ? "/htpasswd\n" : "",
	                 (f->flags & REGFIX_TOKEN) ? "auth:\n  token:\n    realm: " : "",
	                 (f->flags & REGFIX_TOKEN) ? f->token_realm : "",
	                 (f->flags & REGFIX_TOKEN) ? "\n    service: " REGFIX_TOKEN_SERVICE
	                                             "\n    issuer: " REGFIX_TOKEN_ISSUER "\n    rootcertbundle: "
	                                           : "",
	                 (f->flags & REGFIX_TOKEN) ? f->dir : "", (f->flags & REGFIX_TOKEN) ? "/token-cert.pem\n" : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return fail("config too long");
	return write_file(config, text);
}

/* SIGTERM pid, wait for it (SIGKILL after 5 s); *pid becomes 0. */
static void stop_pid(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		pid_t r = waitpid(*pid, NULL, WNOHANG);
		if (r == *pid || (r < 0 && errno != EINTR)) {
			*pid = 0;
			return;
		}
		sleep_ms(10);
	}
	kill(*pid, SIGKILL);
	while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
		;
	*pid = 0;
}

void regfix_token_stop(regfix *f)
{
	if (f)
		stop_pid(&f->token_pid);
}

void regfix_stop(regfix *f)
{
	if (!f)
		return;
	stop_pid(&f->pid);
	stop_pid(&f->token_pid);
}

/* Start tokenserver.py (its certificate into dir/token-cert.pem) and wait for its port (at most ~15 s). */
static int start_token_server(regfix *f)
{
	char port_file[700], cert[700], log[700], expires[16];
	const char *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";

	snprintf(port_file, sizeof(port_file), "%s/token-port", f->dir);
	snprintf(cert, sizeof(cert), "%s/token-cert.pem", f->dir);
	snprintf(log, sizeof(log), "%s/tokenserver.log", f->dir);
	snprintf(f->token_stats, sizeof(f->token_stats), "%s/token-stats.json", f->dir);
	snprintf(expires, sizeof(expires), "%d", (f->flags & REGFIX_TOKEN_SHORT) ? 20 : 300);
	unlink(port_file);
	char *argv[24];
	int n = 0;
	argv[n++] = (char *)python;
	argv[n++] = REGFIX_TOKENSERVER;
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	argv[n++] = "--cert-file";
	argv[n++] = cert;
	argv[n++] = "--stats-file";
	argv[n++] = f->token_stats;
	argv[n++] = "--user";
	argv[n++] = REGFIX_USER;
	argv[n++] = "--password";
	argv[n++] = REGFIX_PASSWORD;
	argv[n++] = "--service";
	argv[n++] = REGFIX_TOKEN_SERVICE;
	argv[n++] = "--issuer";
	argv[n++] = REGFIX_TOKEN_ISSUER;
	argv[n++] = "--expires-in";
	argv[n++] = expires;
	if (f->flags & REGFIX_TOKEN_ANON_PULL)
		argv[n++] = "--anonymous-pull";
	argv[n] = NULL;

	pid_t pid = fork();
	if (pid < 0)
		return fail("fork: %s", strerror(errno));
	if (pid == 0) {
		child_setup(log, true); /* the token server */
		execvp(argv[0], argv);
		_exit(127);
	}
	f->token_pid = pid;
	for (int i = 0; i < 1500; i++) {
		FILE *fp = fopen(port_file, "r");
		unsigned port = 0;
		if (fp) {
			int ok = fscanf(fp, "%u", &port) == 1;
			fclose(fp);
			if (ok && port > 0 && port < 65536) {
				snprintf(f->token_realm, sizeof(f->token_realm), "http://127.0.0.1:%u/token", port);
				return 0;
			}
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			f->token_pid = 0;
			return fail("tokenserver.py exited at start (python3-cryptography missing? see %s)", log);
		}
		sleep_ms(10);
	}
	stop_pid(&f->token_pid);
	return fail("tokenserver.py did not start within 15 s (see %s)", log);
}

int regfix_start(regfix *out, const char *tmpdir, unsigned flags)
{
	char config[600], path[700];

	memset(out, 0, sizeof(*out));
	out->flags = flags;
	if (access(REGFIX_BINARY, X_OK) != 0)
		return fail("%s is not installed (apt-get install docker-registry; scripts/deps.sh installs it)",
		            REGFIX_BINARY);
	if (snprintf(out->dir, sizeof(out->dir), "%s", tmpdir) >= (int)sizeof(out->dir))
		return fail("tmpdir too long");
	snprintf(out->log_file, sizeof(out->log_file), "%s/registry.log", tmpdir);
	snprintf(config, sizeof(config), "%s/config.yml", tmpdir);
	snprintf(path, sizeof(path), "%s/data", tmpdir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return fail("mkdir %s: %s", path, strerror(errno));

	if (flags & REGFIX_HTPASSWD) {
		snprintf(path, sizeof(path), "%s/htpasswd", tmpdir);
		char *argv[] = {"htpasswd", "-Bbc", path, REGFIX_USER, REGFIX_PASSWORD, NULL};
		if (access("/usr/bin/htpasswd", X_OK) != 0)
			return fail("htpasswd is not installed (apt-get install apache2-utils)");
		if (run(argv, out->log_file))
			return -1;
	}
	if (flags & REGFIX_TOKEN) {
		if (flags & REGFIX_HTPASSWD)
			return fail("REGFIX_TOKEN and REGFIX_HTPASSWD exclude each other");
		if (start_token_server(out))
			return -1;
	}
	if (flags & REGFIX_TLS) {
		char key[700];
		snprintf(out->ca_file, sizeof(out->ca_file), "%s/cert.pem", tmpdir);
		snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
		char *argv[] = {"openssl",
		                "req",
		                "-x509",
		                "-newkey",
		                "ec",
		                "-pkeyopt",
		                "ec_paramgen_curve:prime256v1",
		                "-nodes",
		                "-days",
		                "2",
		                "-subj",
		                "/CN=127.0.0.1",
		                "-addext",
		                "subjectAltName=IP:127.0.0.1",
		                "-keyout",
		                key,
		                "-out",
		                out->ca_file,
		                NULL};
		if (run(argv, out->log_file)) {
			regfix_stop(out);
			return -1;
		}
	}

	for (int attempt = 0; attempt < 5; attempt++) {
		pid_t pid = 0;
		if (free_port(&out->port)) {
			regfix_stop(out);
			return -1;
		}
		snprintf(out->url, sizeof(out->url), "%s://127.0.0.1:%u", (flags & REGFIX_TLS) ? "https" : "http",
		         (unsigned)out->port);
		if (write_config(out, config) || (pid = fork()) < 0) {
			if (pid < 0)
				fail("fork: %s", strerror(errno));
			regfix_stop(out);
			return -1;
		}
		if (pid == 0) {
			child_setup(out->log_file, true);
			execl(REGFIX_BINARY, "docker-registry", "serve", config, (char *)NULL);
			_exit(127);
		}
		out->pid = pid;
		int exited = 0;
		for (int i = 0; i < 1500; i++) {
			long st = probe(out);
			if (st == 200 || st == 401)
				return 0;
			if (waitpid(pid, NULL, WNOHANG) == pid) {
				exited = 1;
				out->pid = 0;
				break;
			}
			sleep_ms(10);
		}
		if (!exited) {
			regfix_stop(out);
			return fail("docker-registry did not answer on %s within 15 s (see %s)", out->url,
			            out->log_file);
		}
		/* it exited: most likely the port was taken in between; try another */
	}
	regfix_stop(out);
	return fail("docker-registry exited at start five times (see %s)", out->log_file);
}
