/*
 * ecrd: serve a libecr registry over HTTP (the OCI Distribution API, /v2/).
 *
 *   ecrd [--listen ADDR:PORT] [--data DIR] [--account ID] [--region NAME]
 *        [--tls-cert FILE --tls-key FILE] [--config FILE] [--threads N]
 *        [--no-create-on-push] [--insecure-no-auth] [--log-level LEVEL]
 *
 * Built against the shared library, public API only (ecr.h, ecr/server.h).
 * Options come from the command line and from a `key = value` config file;
 * the command line wins. Until authentication arrives, ecrd listens on loopback
 * addresses only, unless --insecure-no-auth says otherwise.
 *
 * Signals: SIGINT and SIGTERM stop the server gracefully (requests in flight
 * finish) and ecrd exits 0. SIGHUP is ignored (reserved for reloading).
 * They are blocked in every thread and taken with sigwait() in the main thread.
 *
 * Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on a usage or
 * configuration error.
 */
#include <ecr.h>
#include <ecr/server.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define DEFAULT_LISTEN "127.0.0.1:5000"
#define DEFAULT_DATA "./ecr-data"
#define DEFAULT_ACCOUNT "123456789012"
#define DEFAULT_REGION "us-east-1"
#define MAX_THREADS 1024
#define CONFIG_LINE_MAX 4096

static const char usage_text[] =
	"Usage: ecrd [OPTION]...\n"
	"Serve a libecr container registry over HTTP (the OCI Distribution API, /v2/).\n"
	"\n"
	"  --listen ADDR:PORT    address and port to listen on (default " DEFAULT_LISTEN ");\n"
	"                        IPv6 as [::1]:5000; port 0 picks a free port\n"
	"  --data DIR            registry data folder, created if missing (default " DEFAULT_DATA ")\n"
	"  --account ID          12-digit account id (default " DEFAULT_ACCOUNT ")\n"
	"  --region NAME         region (default " DEFAULT_REGION ")\n"
	"  --tls-cert FILE       PEM certificate (chain) for HTTPS; needs --tls-key\n"
	"  --tls-key FILE        PEM private key for HTTPS; needs --tls-cert\n"
	"  --config FILE         read options from FILE (key = value lines, '#' comments);\n"
	"                        the command line overrides it\n"
	"  --threads N           worker threads (default 4); 1: a single epoll thread\n"
	"  --no-create-on-push   a push to a missing repository fails with NAME_UNKNOWN\n"
	"                        (default: the push creates it)\n"
	"  --insecure-no-auth    allow a non-loopback --listen address, although ecrd has\n"
	"                        no authentication yet: anyone who can connect can push,\n"
	"                        pull and delete\n"
	"  --log-level LEVEL     error, warn, info (default) or debug\n"
	"  --help                print this help and exit\n"
	"  --version             print the version and exit\n"
	"\n"
	"ecrd prints \"ecrd: listening on http://ADDR:PORT\" on stdout once it serves,\n"
	"and logs one line per request on stderr. SIGINT or SIGTERM stops it cleanly\n"
	"(exit status 0); SIGHUP is ignored. Exit status 1: a runtime failure;\n"
	"2: a usage or configuration error. See ecrd(8).\n";

struct settings {
	char *listen;
	char *data;
	char *account;
	char *region;
	char *tls_cert;
	char *tls_key;
	unsigned int threads;
	bool no_create_on_push;
	bool insecure_no_auth;
	ecr_log_level log_level;
};

/* A parsed --listen value. */
struct listen_addr {
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	bool ipv6;
	bool loopback;
};

enum opt_kind { OPT_VALUE, OPT_FLAG };

struct opt_def {
	const char *name;
	enum opt_kind kind;
	bool in_config; /* may appear in a config file */
};

static const struct opt_def opt_defs[] = {
	{"listen", OPT_VALUE, true},
	{"data", OPT_VALUE, true},
	{"account", OPT_VALUE, true},
	{"region", OPT_VALUE, true},
	{"tls-cert", OPT_VALUE, true},
	{"tls-key", OPT_VALUE, true},
	{"config", OPT_VALUE, false},
	{"threads", OPT_VALUE, true},
	{"no-create-on-push", OPT_FLAG, true},
	{"insecure-no-auth", OPT_FLAG, true},
	{"log-level", OPT_VALUE, true},
	{"help", OPT_FLAG, false},
	{"version", OPT_FLAG, false},
};

static const struct opt_def *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++)
		if (strlen(opt_defs[i].name) == len && strncmp(opt_defs[i].name, name, len) == 0)
			return &opt_defs[i];
	return NULL;
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("ecrd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ecrd --help' for more information.\n", stderr);
}

static const char *level_label(ecr_log_level level)
{
	switch (level) {
	case ECR_LOG_ERROR:
		return "ERROR";
	case ECR_LOG_WARN:
		return "WARN";
	case ECR_LOG_INFO:
		return "INFO";
	case ECR_LOG_DEBUG:
		return "DEBUG";
	case ECR_LOG_TRACE:
		return "TRACE";
	default:
		return "LOG";
	}
}

/* The library's log callback (called from worker threads): one "LEVEL message" line on stderr. */
static void log_to_stderr(ecr_log_level level, const char *msg, void *payload)
{
	(void)payload;
	flockfile(stderr);
	fprintf(stderr, "%s %s\n", level_label(level), msg);
	fflush(stderr);
	funlockfile(stderr);
}

static void say(ecr_log_level level, const struct settings *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ecrd's own log lines, in the same format, subject to --log-level. */
static void say(ecr_log_level level, const struct settings *s, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > s->log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_to_stderr(level, msg, NULL);
}

static int replace_string(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL) {
		fprintf(stderr, "ecrd: out of memory\n");
		return -1;
	}
	free(*slot);
	*slot = copy;
	return 0;
}

static int parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int parse_uint(const char *value, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (value[0] < '0' || value[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Parse "ADDR:PORT" (IPv4 literal or "localhost") or "[IPV6]:PORT". Prints the
 * problem and returns -1 when it is not valid.
 */
static int parse_listen(const char *value, struct listen_addr *out)
{
	char host[sizeof(out->host)];
	const char *port_str;
	size_t host_len;
	unsigned long port;

	memset(out, 0, sizeof(*out));
	if (value[0] == '[') {
		const char *close = strchr(value, ']');

		if (close == NULL || close[1] != ':') {
			usage_error("--listen '%s': expected [IPV6]:PORT, e.g. [::1]:5000", value);
			return -1;
		}
		host_len = (size_t)(close - value - 1);
		if (host_len == 0 || host_len >= sizeof(host)) {
			usage_error("--listen '%s': bad IPv6 address", value);
			return -1;
		}
		memcpy(host, value + 1, host_len);
		host[host_len] = '\0';
		port_str = close + 2;
		out->ipv6 = true;
	} else {
		const char *colon = strrchr(value, ':');

		if (colon == NULL || colon == value) {
			usage_error("--listen '%s': expected ADDR:PORT, e.g. 127.0.0.1:5000", value);
			return -1;
		}
		host_len = (size_t)(colon - value);
		if (memchr(value, ':', host_len) != NULL) {
			usage_error("--listen '%s': an IPv6 address goes in brackets, e.g. [::1]:5000", value);
			return -1;
		}
		if (host_len >= sizeof(host)) {
			usage_error("--listen '%s': bad IPv4 address", value);
			return -1;
		}
		memcpy(host, value, host_len);
		host[host_len] = '\0';
		if (strcasecmp(host, "localhost") == 0)
			strcpy(host, "127.0.0.1");
		port_str = colon + 1;
	}
	if (parse_uint(port_str, 65535, &port) < 0) {
		usage_error("--listen '%s': the port must be a number from 0 to 65535", value);
		return -1;
	}
	out->port = (uint16_t)port;

	if (out->ipv6) {
		struct in6_addr a6;

		if (inet_pton(AF_INET6, host, &a6) != 1) {
			usage_error("--listen '%s': '%s' is not an IPv6 address", value, host);
			return -1;
		}
		out->loopback = IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	} else {
		struct in_addr a4;

		if (inet_pton(AF_INET, host, &a4) != 1) {
			usage_error("--listen '%s': '%s' is not an IPv4 address (host names are not resolved)", value,
				host);
			return -1;
		}
		out->loopback = (ntohl(a4.s_addr) >> 24) == 127;
	}
	strcpy(out->host, host);
	return 0;
}

/* Apply one option (from the command line or the config file). `where` prefixes messages. */
static int apply_option(struct settings *s, const struct opt_def *def, const char *value, const char *where)
{
	const char *name = def->name;
	unsigned long n;

	if (strcmp(name, "listen") == 0) {
		struct listen_addr la;

		if (parse_listen(value, &la) < 0)
			return -1;
		return replace_string(&s->listen, value);
	}
	if (strcmp(name, "data") == 0) {
		if (value[0] == '\0') {
			usage_error("%s: --data needs a folder", where);
			return -1;
		}
		return replace_string(&s->data, value);
	}
	if (strcmp(name, "account") == 0) {
		size_t len = strlen(value);
		bool ok = len == 12;

		for (size_t i = 0; ok && i < len; i++)
			ok = isdigit((unsigned char)value[i]) != 0;
		if (!ok) {
			usage_error("%s: --account '%s': an account id is 12 digits", where, value);
			return -1;
		}
		return replace_string(&s->account, value);
	}
	if (strcmp(name, "region") == 0) {
		size_t len = strlen(value);
		bool ok = len > 0 && len <= 32;

		for (size_t i = 0; ok && i < len; i++)
			ok = islower((unsigned char)value[i]) || isdigit((unsigned char)value[i]) || value[i] == '-';
		if (!ok) {
			usage_error("%s: --region '%s': expected a region name such as us-east-1", where, value);
			return -1;
		}
		return replace_string(&s->region, value);
	}
	if (strcmp(name, "tls-cert") == 0)
		return replace_string(&s->tls_cert, value);
	if (strcmp(name, "tls-key") == 0)
		return replace_string(&s->tls_key, value);
	if (strcmp(name, "threads") == 0) {
		if (parse_uint(value, MAX_THREADS, &n) < 0 || n == 0) {
			usage_error("%s: --threads '%s': expected a number from 1 to %d", where, value, MAX_THREADS);
			return -1;
		}
		s->threads = (unsigned int)n;
		return 0;
	}
	if (strcmp(name, "log-level") == 0) {
		static const struct {
			const char *name;
			ecr_log_level level;
		} levels[] = {{"error", ECR_LOG_ERROR}, {"warn", ECR_LOG_WARN}, {"info", ECR_LOG_INFO},
			{"debug", ECR_LOG_DEBUG}};

		for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
			if (strcmp(value, levels[i].name) == 0) {
				s->log_level = levels[i].level;
				return 0;
			}
		}
		usage_error("%s: --log-level '%s': expected error, warn, info or debug", where, value);
		return -1;
	}
	if (strcmp(name, "no-create-on-push") == 0 || strcmp(name, "insecure-no-auth") == 0) {
		bool b = true;

		if (value != NULL && parse_bool(value, &b) < 0) {
			usage_error("%s: %s = '%s': expected true or false", where, name, value);
			return -1;
		}
		if (name[0] == 'n')
			s->no_create_on_push = b;
		else
			s->insecure_no_auth = b;
		return 0;
	}
	usage_error("%s: option --%s is not handled", where, name);
	return -1;
}

static char *trim(char *p)
{
	char *end;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return p;
}

/* Read a config file: `key = value` lines, blank lines and lines starting with '#'. */
static int load_config(struct settings *s, const char *path)
{
	char line[CONFIG_LINE_MAX + 2];
	char where[PATH_MAX + 32];
	unsigned int lineno = 0;
	FILE *f;
	int rc = 0;

	f = fopen(path, "r");
	if (f == NULL) {
		usage_error("--config '%s': %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		const struct opt_def *def;
		char *key, *value, *eq;
		size_t vlen;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			usage_error("%s: line longer than %d bytes", where, CONFIG_LINE_MAX);
			rc = -1;
			break;
		}
		key = trim(line);
		if (key[0] == '\0' || key[0] == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			usage_error("%s: expected 'key = value', got '%s'", where, key);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(key);
		value = trim(eq + 1);
		vlen = strlen(value);
		if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
			value[vlen - 1] = '\0';
			value++;
		}
		def = find_opt(key, strlen(key));
		if (def == NULL || !def->in_config) {
			usage_error("%s: unknown key '%s' (keys: listen, data, account, region, tls-cert, tls-key, "
				    "threads, no-create-on-push, insecure-no-auth, log-level)",
				where, key);
			rc = -1;
			break;
		}
		if (value[0] == '\0') {
			usage_error("%s: key '%s' has no value", where, key);
			rc = -1;
			break;
		}
		rc = apply_option(s, def, value, where);
	}
	if (rc == 0 && ferror(f)) {
		usage_error("--config '%s': read error", path);
		rc = -1;
	}
	fclose(f);
	return rc;
}

/* One option from the command line, kept until the config file has been applied. */
struct cli_opt {
	const struct opt_def *def;
	const char *value; /* NULL for a flag given without "=value" */
};

/*
 * Parse the command line. Returns -1 to exit with EXIT_USAGE, 1 to exit 0
 * (--help, --version), 0 to go on.
 */
static int parse_command_line(int argc, char **argv, struct settings *s)
{
	struct cli_opt *opts;
	const char *config = NULL;
	size_t n = 0;
	int rc = 0;

	opts = calloc((size_t)argc + 1, sizeof(*opts));
	if (opts == NULL) {
		fprintf(stderr, "ecrd: out of memory\n");
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *name, *eq, *value = NULL;
		const struct opt_def *def;
		size_t len;

		if (strcmp(arg, "-h") == 0)
			arg = "--help";
		else if (strcmp(arg, "-V") == 0)
			arg = "--version";
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			usage_error(arg[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", arg);
			rc = -1;
			goto done;
		}
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq != NULL ? (size_t)(eq - name) : strlen(name);
		def = find_opt(name, len);
		if (def == NULL) {
			usage_error("unknown option '%.*s'", (int)(len + 2), arg);
			rc = -1;
			goto done;
		}
		if (def->kind == OPT_VALUE) {
			if (eq != NULL) {
				value = eq + 1;
			} else if (i + 1 < argc) {
				value = argv[++i];
			} else {
				usage_error("option '--%s' needs a value", def->name);
				rc = -1;
				goto done;
			}
		} else if (eq != NULL) {
			if (strcmp(def->name, "help") == 0 || strcmp(def->name, "version") == 0) {
				usage_error("option '--%s' takes no value", def->name);
				rc = -1;
				goto done;
			}
			value = eq + 1;
		}
		if (strcmp(def->name, "help") == 0) {
			fputs(usage_text, stdout);
			rc = 1;
			goto done;
		}
		if (strcmp(def->name, "version") == 0) {
			printf("ecrd (libecr) %s\n", ecr_version());
			rc = 1;
			goto done;
		}
		if (strcmp(def->name, "config") == 0) {
			config = value;
			continue;
		}
		opts[n].def = def;
		opts[n].value = value;
		n++;
	}
	if (config != NULL && load_config(s, config) < 0) {
		rc = -1;
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (apply_option(s, opts[i].def, opts[i].value, "command line") < 0) {
			rc = -1;
			goto done;
		}
	}
	if ((s->tls_cert == NULL) != (s->tls_key == NULL)) {
		usage_error("--tls-cert and --tls-key go together");
		rc = -1;
	}
done:
	free(opts);
	return rc;
}

static void settings_free(struct settings *s)
{
	free(s->listen);
	free(s->data);
	free(s->account);
	free(s->region);
	free(s->tls_cert);
	free(s->tls_key);
}

/* "file:///absolute/path" for the data folder, creating the folder if needed. */
static char *data_url(const char *dir)
{
	char *abs, *url;
	size_t len;

	abs = realpath(dir, NULL);
	if (abs == NULL && errno == ENOENT) {
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			fprintf(stderr, "ecrd: cannot create the data folder '%s': %s\n", dir, strerror(errno));
			return NULL;
		}
		abs = realpath(dir, NULL);
	}
	if (abs == NULL) {
		fprintf(stderr, "ecrd: data folder '%s': %s\n", dir, strerror(errno));
		return NULL;
	}
	len = strlen(abs) + sizeof("file://");
	url = malloc(len);
	if (url != NULL)
		snprintf(url, len, "file://%s", abs);
	else
		fprintf(stderr, "ecrd: out of memory\n");
	free(abs);
	return url;
}

static int fail_ecr(int rc, const char *what)
{
	const ecr_error *e = ecr_error_last();

	fprintf(stderr, "ecrd: %s: %s (%s)\n", what, e != NULL && e->message != NULL ? e->message : "failed",
		ecr_error_name(rc));
	return EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
	struct settings s = {0};
	struct listen_addr la;
	ecr_registry_options ropts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server_options sopts = ECR_SERVER_OPTIONS_INIT;
	ecr_registry *reg = NULL;
	ecr_server *srv = NULL;
	char *url = NULL;
	bool initialised = false;
	sigset_t sigs;
	int status = EXIT_RUNTIME, rc;

	s.log_level = ECR_LOG_INFO;
	rc = parse_command_line(argc, argv, &s);
	if (rc != 0) {
		status = rc > 0 ? 0 : EXIT_USAGE;
		goto done;
	}
	if (parse_listen(s.listen != NULL ? s.listen : DEFAULT_LISTEN, &la) < 0) {
		status = EXIT_USAGE;
		goto done;
	}
	if (!la.loopback && !s.insecure_no_auth) {
		fprintf(stderr,
			"ecrd: refusing to listen on %s: it is not a loopback address, and ecrd has no\n"
			"ecrd: authentication yet (it comes with the ECR API), so anyone who can reach it could\n"
			"ecrd: push, pull and delete images. Listen on 127.0.0.1 or [::1], or pass\n"
			"ecrd: --insecure-no-auth if the network itself is trusted.\n",
			la.host);
		status = EXIT_USAGE;
		goto done;
	}

	/*
	 * Block the stop signals before any thread exists, so that every thread
	 * inherits the mask and only sigwait() below receives them.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0) {
		fprintf(stderr, "ecrd: cannot block signals\n");
		goto done;
	}
	signal(SIGPIPE, SIG_IGN);

	url = data_url(s.data != NULL ? s.data : DEFAULT_DATA);
	if (url == NULL)
		goto done;

	if ((rc = ecr_init()) < 0) {
		status = fail_ecr(rc, "ecr_init");
		goto done;
	}
	initialised = true;

	ropts.account_id = s.account != NULL ? s.account : DEFAULT_ACCOUNT;
	ropts.region = s.region != NULL ? s.region : DEFAULT_REGION;
	ropts.log_cb = log_to_stderr;
	ropts.log_level = s.log_level;
	if ((rc = ecr_registry_open(&reg, url, &ropts)) < 0) {
		status = fail_ecr(rc, url);
		goto done;
	}

	sopts.bind_address = la.host;
	sopts.port = la.port;
	sopts.tls_cert_file = s.tls_cert;
	sopts.tls_key_file = s.tls_key;
	sopts.flags = s.no_create_on_push ? 0 : ECR_SERVER_CREATE_ON_PUSH;
	if (s.threads == 1)
		sopts.flags |= ECR_SERVER_SINGLE_THREAD;
	else
		sopts.threads = s.threads;
	sopts.log_cb = log_to_stderr;
	sopts.log_level = s.log_level;
	if ((rc = ecr_server_new(&srv, &sopts)) < 0) {
		status = fail_ecr(rc, "ecr_server_new");
		goto done;
	}
	if ((rc = ecr_server_add_registry(srv, reg, NULL)) < 0) {
		status = fail_ecr(rc, "ecr_server_add_registry");
		goto done;
	}
	if (s.insecure_no_auth && !la.loopback)
		say(ECR_LOG_WARN, &s,
			"--insecure-no-auth: serving %s without authentication; anyone who can connect can push, "
			"pull and delete images",
			la.host);
	if ((rc = ecr_server_start(srv)) < 0) {
		status = fail_ecr(rc, "cannot start the server");
		goto done;
	}

	printf("ecrd: listening on %s://%s%s%s:%u\n", s.tls_cert != NULL ? "https" : "http", la.ipv6 ? "[" : "",
		la.host, la.ipv6 ? "]" : "", (unsigned int)ecr_server_port(srv));
	fflush(stdout);
	say(ECR_LOG_INFO, &s, "ecrd %s: registry %s (account %s, region %s), create-on-push %s", ecr_version(), url,
		ropts.account_id, ropts.region, s.no_create_on_push ? "off" : "on");

	for (;;) {
		int sig = 0;

		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			say(ECR_LOG_INFO, &s, "SIGHUP ignored (nothing to reload yet)");
			continue;
		}
		say(ECR_LOG_INFO, &s, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	if ((rc = ecr_server_stop(srv)) < 0) {
		status = fail_ecr(rc, "ecr_server_stop");
		goto done;
	}
	status = 0;

done:
	ecr_server_free(srv);
	ecr_registry_free(reg);
	if (initialised && (rc = ecr_shutdown()) < 0 && status == 0)
		status = fail_ecr(rc, "ecr_shutdown");
	free(url);
	settings_free(&s);
	return status;
}
