/*
 * ecrd: serve libecr registries over HTTP (the OCI Distribution API, /v2/,
 * and the ECR API), and manage the principals of a data folder.
 *
 *   ecrd [--listen ADDR:PORT] [--data DIR | --meta URL --blobs URL] [--account ID] [--region NAME]
 *        [--tls-cert FILE --tls-key FILE] [--config FILE] [--threads N]
 *        [--no-create-on-push] [--no-auth] [--insecure-no-auth] [--log-level LEVEL]
 *        [--lifecycle-interval SECONDS] [--vuln-db PATH]... [--scan-threads N]
 *        [--replication-destination REGION:ACCOUNT=URL]... [--replication-profile NAME]
 *        [--anonymous-pull-rate N] [--anonymous-pull-burst N] [--public-alias ACCOUNT=ALIAS]...
 *   ecrd principal add ARN [--admin] [--policy FILE] [--data DIR | --meta URL --blobs URL]
 *   ecrd principal list [--data DIR]
 *   ecrd principal remove ARN [--data DIR]
 *   ecrd principal policy ARN NAME FILE [--data DIR]
 *   ecrd credential add ARN USERNAME [--data DIR]   (password on stdin)
 *   ecrd credential list [--account ID] [--region NAME] [--data DIR]
 *   ecrd credential remove ARN [--data DIR]
 *   ecrd fsck [--data DIR | --meta URL --blobs URL] [--no-hash] [--quiet]
 *
 * Built against the shared library, public API only (ecr.h, ecr/server.h).
 * Options come from the command line and from a `key = value` config file;
 * the command line wins. Authentication is on by default: on first start in
 * an empty data folder ecrd creates an administrator and writes its access
 * key to <data>/credentials. --no-auth serves without it (loopback addresses
 * only, unless --insecure-no-auth).
 *
 * Cluster mode: --meta URL --blobs URL instead of --data put the registries
 * on a shared metadata store (postgres://...) and blob store (s3://...), so
 * that several ecrd nodes serve the same registries (ecr_registry_open_urls).
 * Nothing is kept in a local folder then: no lock file, and no administrator
 * is created (with authentication on, the store must have a principal:
 * `ecrd principal add ARN --admin --meta URL --blobs URL` prints its key).
 * See docs/cluster.md.
 *
 * Registries: the one of --account/--region is the default; others (other
 * accounts and regions, in the same data folder) are opened on demand by the
 * registry provider and kept until exit.
 *
 * Lifecycle policies: a background thread applies every repository's
 * lifecycle policy (ecr_repository_apply_lifecycle) in every registry ecrd
 * serves, every --lifecycle-interval seconds (default 86400, ECR's "within
 * 24 hours"; the first pass one interval after the start; 0: never). It stops
 * between two repositories when ecrd stops.
 *
 * Image scanning: a scanner (--scan-threads workers, default 2) is attached
 * to every registry ecrd serves; it scans pushes to repositories with scan on
 * push and StartImageScan's images against the OSV database of --vuln-db
 * (files, folders or .zip files; repeatable). SIGHUP loads the database again
 * and hands it to the scanner (CONTINUOUS_SCAN repositories are re-matched).
 *
 * Replication: a replicator (ecr_replicator, 2 workers) works the replication
 * queue of the whole data folder: the jobs of every account and region in it,
 * from the start (jobs a killed ecrd left, in any account, are picked up
 * without a request to that account; their source registry is opened through
 * the registry provider). It is attached to every registry ecrd opens, so that
 * their pushes wake it at once. A destination
 * (region, account) is a --replication-destination remote deployment when one
 * names it (opened on first use with the AWS credentials of
 * --replication-profile, else the default AWS chain), else a registry of this
 * ecrd (opened through the registry provider, as for requests).
 *
 * Public registries: "<host>/<alias>/<repository>" names a repository of the
 * public registry with that alias; anyone may pull it (an anonymous Bearer
 * token from /token), at most --anonymous-pull-rate manifest requests a
 * second per client address (IPv4 /32, IPv6 /64) with bursts of
 * --anonymous-pull-burst (defaults 1 and 10; rate 0: no limit).
 * --public-alias ACCOUNT=ALIAS sets the alias of an account's public registry
 * at start-up.
 *
 * Signals: SIGINT and SIGTERM stop the server gracefully (requests in flight
 * finish) and ecrd exits 0. SIGHUP reloads the vulnerability database.
 * They are blocked in every thread and taken with sigwait() in the main thread.
 *
 * Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on a usage or
 * configuration error.
 */
#include <ecr.h>
#include <ecr/auth.h>
#include <ecr/fsck.h>
#include <ecr/public.h>
#include <ecr/replication.h>
#include <ecr/scan.h>
#include <ecr/server.h>
#include <ecr/stats.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define DEFAULT_LISTEN "127.0.0.1:5000"
#define DEFAULT_DATA "./ecr-data"
#define DEFAULT_ACCOUNT "123456789012"
#define DEFAULT_REGION "us-east-1"
#define MAX_PUBLIC_ALIASES 64
#define MAX_WEBHOOKS 16
#define MAX_ANON_RATE 1000000ul
#define DEFAULT_ANON_BURST 10
#define MAX_REGISTRIES 256 /* registries the provider keeps open at most */
#define MAX_THREADS 1024
#define CONFIG_LINE_MAX 4096
#define DEFAULT_LIFECYCLE_INTERVAL 86400UL
#define MAX_LIFECYCLE_INTERVAL 315360000UL /* ten years */
#define DEFAULT_SCAN_THREADS 2
#define MAX_SCAN_THREADS 64
#define MAX_VULN_DBS 64
#define MAX_REPL_DESTS 25 /* ECR's limit of destinations per configuration */

static const char usage_text[] =
	"Usage: ecrd [OPTION]...\n"
	"   or: ecrd principal add ARN [--admin] [--policy FILE] [--data DIR | --meta URL --blobs URL]\n"
	"   or: ecrd principal list|remove ARN|policy ARN NAME FILE [--data DIR]\n"
	"   or: ecrd credential add ARN USERNAME|list|remove ARN [--data DIR] (see ecrd credential --help)\n"
	"   or: ecrd fsck [--data DIR | --meta URL --blobs URL] [--no-hash] [--quiet] (see ecrd fsck --help)\n"
	"Serve libecr container registries over HTTP (the OCI Distribution API, /v2/,\n"
	"and the ECR API), or manage the principals (users) of a data folder.\n"
	"\n"
	"  --listen ADDR:PORT    address and port to listen on (default " DEFAULT_LISTEN ");\n"
	"                        IPv6 as [::1]:5000; port 0 picks a free port\n"
	"  --data DIR            registry data folder, created if missing (default " DEFAULT_DATA ")\n"
	"  --meta URL            cluster mode, with --blobs instead of --data: the shared\n"
	"                        metadata store, postgres://USER[:PASSWORD]@HOST[:PORT]/DB\n"
	"                        (or sqlite:///PATH.db on one machine)\n"
	"  --blobs URL           cluster mode: the shared blob store,\n"
	"                        s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=1]\n"
	"                        (or file:///DIR); any number of ecrd nodes may share both\n"
	"  --account ID          12-digit account id (default " DEFAULT_ACCOUNT ")\n"
	"  --region NAME         region (default " DEFAULT_REGION ")\n"
	"  --tls-cert FILE       PEM certificate (chain) for HTTPS; needs --tls-key\n"
	"  --tls-key FILE        PEM private key for HTTPS; needs --tls-cert\n"
	"  --config FILE         read options from FILE (key = value lines, '#' comments);\n"
	"                        the command line overrides it\n"
	"  --threads N           worker threads, each an event loop (default: half the CPUs, at least 1);\n"
	"                        requests that wait for a durable commit or for a pull-through cache's\n"
	"                        upstream finish on up to 64 more, started as needed\n"
	"  --no-create-on-push   a push to a missing repository fails with NAME_UNKNOWN\n"
	"                        (default: the push creates it)\n"
	"  --no-auth             serve without authentication: anyone who can connect\n"
	"                        can push, pull and delete (loopback addresses only)\n"
	"  --insecure-no-auth    --no-auth, also on a non-loopback --listen address\n"
	"  --log-level LEVEL     error, warn, info (default) or debug\n"
	"  --lifecycle-interval SECONDS\n"
	"                        apply every repository's lifecycle policy this often\n"
	"                        (default 86400; 0: never)\n"
	"  --gc-interval SECONDS collect garbage (ecr_registry_gc) in a background thread\n"
	"                        this often (default 0: never; run it by hand instead)\n"
	"  --gc-grace SECONDS    what GC keeps: blobs, links and uploads younger than this\n"
	"                        (default 3600)\n"
	"  --vuln-db PATH        OSV vulnerability database for image scanning: an advisory\n"
	"                        file, a folder of them or an osv.dev .zip (repeatable)\n"
	"  --scan-threads N      image scanning worker threads (default 2)\n"
	"  --replication-destination REGION:ACCOUNT=URL\n"
	"                        replicate to the ecrd (or ECR) at URL for that region and\n"
	"                        account (repeatable); other destinations are registries\n"
	"                        of this ecrd\n"
	"  --replication-profile NAME\n"
	"                        AWS profile of the credentials for --replication-destination\n"
	"                        (default: AWS_ACCESS_KEY_ID..., AWS_PROFILE, then \"default\")\n"
	"  --cache-freshness SECONDS\n"
	"                        pull-through cache: a cached tag is checked upstream again\n"
	"                        when older than this (default 86400, as ECR)\n"
	"  --blob-redirect       blob GETs answered 307 to a presigned URL of the blob store\n"
	"                        (S3; 20 minutes) instead of streamed through ecrd\n"
	"  --anonymous-pull-rate N\n"
	"                        anonymous pulls of public repositories: manifest requests a\n"
	"                        second per client address (IPv4 /32, IPv6 /64; default 1;\n"
	"                        0: no limit); over it, 429 TOOMANYREQUESTS\n"
	"  --anonymous-pull-burst N\n"
	"                        anonymous manifest requests at once before the rate applies\n"
	"                        (default 10)\n"
	"  --public-alias ACCOUNT=ALIAS\n"
	"                        set the alias of ACCOUNT's public registry at start-up: its\n"
	"                        images are pulled as HOST/ALIAS/REPOSITORY (repeatable)\n"
	"  --webhook URL         POST every registry event (push, delete, scan, replication,\n"
	"                        lifecycle; EventBridge JSON) to URL, queued and retried,\n"
	"                        never holding up a request (repeatable; docs/events.md)\n"
	"  --webhook-secret-file FILE\n"
	"                        sign webhook bodies: header X-Ecr-Signature: sha256=HMAC of\n"
	"                        the body keyed by FILE's first line\n"
	"  --metrics off|local|any\n"
	"                        who may read GET /metrics (Prometheus text: requests,\n"
	"                        latencies, GC, scans, replication, storage errors, usage):\n"
	"                        local (default) answers loopback clients only, any every\n"
	"                        client (it shows account ids), off removes the route\n"
	"                        (docs/metrics.md)\n"
	"  --help                print this help and exit\n"
	"  --version             print the version and exit\n"
	"\n"
	"ecrd prints \"ecrd: listening on http://ADDR:PORT\" on stdout once it serves,\n"
	"and logs one line per request on stderr. Authentication is on unless --no-auth:\n"
	"the first start in an empty data folder creates the administrator\n"
	"arn:aws:iam::ACCOUNT:user/admin and writes its key to DIR/credentials (mode 0600),\n"
	"and ecrd prints how to use it with the AWS CLI and docker login.\n"
	"SIGINT or SIGTERM stops it cleanly\n"
	"(exit status 0); SIGHUP reloads the --vuln-db database. Exit status 1: a runtime failure;\n"
	"2: a usage or configuration error. See ecrd(8).\n";

struct settings {
	char *listen;
	char *data;
	char *meta;  /* --meta URL (cluster mode, with blobs) */
	char *blobs; /* --blobs URL */
	char *account;
	char *region;
	char *tls_cert;
	char *tls_key;
	unsigned int threads;
	bool no_create_on_push;
	bool insecure_no_auth;
	bool no_auth;
	ecr_log_level log_level;
	unsigned long lifecycle_interval;
	unsigned long gc_interval, gc_grace; /* --gc-interval (0: never), --gc-grace (0: the library's 1 hour) */
	char *vuln_db[MAX_VULN_DBS]; /* --vuln-db, in order */
	size_t vuln_db_count;
	unsigned int scan_threads;
	char *repl_dest[MAX_REPL_DESTS]; /* --replication-destination, REGION:ACCOUNT=URL */
	size_t repl_dest_count;
	char *repl_profile;
	unsigned long cache_freshness; /* --cache-freshness, seconds; 0: the default (24 h) */
	long anon_rate, anon_burst;     /* --anonymous-pull-rate/-burst; -1: the server's default */
	bool blob_redirect;             /* --blob-redirect */
	char *public_alias[MAX_PUBLIC_ALIASES]; /* --public-alias, ACCOUNT=ALIAS */
	size_t public_alias_count;
	char *webhook[MAX_WEBHOOKS]; /* --webhook URL */
	size_t webhook_count;
	char *webhook_secret_file; /* --webhook-secret-file */
	ecr_server_metrics_access metrics; /* --metrics: who may read /metrics (default: loopback clients) */
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
	{"meta", OPT_VALUE, true},
	{"blobs", OPT_VALUE, true},
	{"account", OPT_VALUE, true},
	{"region", OPT_VALUE, true},
	{"tls-cert", OPT_VALUE, true},
	{"tls-key", OPT_VALUE, true},
	{"config", OPT_VALUE, false},
	{"threads", OPT_VALUE, true},
	{"no-create-on-push", OPT_FLAG, true},
	{"insecure-no-auth", OPT_FLAG, true},
	{"no-auth", OPT_FLAG, true},
	{"log-level", OPT_VALUE, true},
	{"lifecycle-interval", OPT_VALUE, true},
	{"gc-interval", OPT_VALUE, true},
	{"gc-grace", OPT_VALUE, true},
	{"vuln-db", OPT_VALUE, true},
	{"scan-threads", OPT_VALUE, true},
	{"replication-destination", OPT_VALUE, true},
	{"replication-profile", OPT_VALUE, true},
	{"cache-freshness", OPT_VALUE, true},
	{"blob-redirect", OPT_FLAG, true},
	{"anonymous-pull-rate", OPT_VALUE, true},
	{"anonymous-pull-burst", OPT_VALUE, true},
	{"public-alias", OPT_VALUE, true},
	{"webhook", OPT_VALUE, true},
	{"webhook-secret-file", OPT_VALUE, true},
	{"metrics", OPT_VALUE, true},
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

/* Append a copy of value to a repeatable option's list (the caller checked that it has room). */
static int append_string(char **list, size_t *count, const char *value)
{
	list[*count] = NULL;
	if (replace_string(&list[*count], value) < 0)
		return -1;
	(*count)++;
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
	if (strcmp(name, "meta") == 0 || strcmp(name, "blobs") == 0) {
		if (value[0] == '\0') {
			usage_error("%s: --%s needs a URL", where, name);
			return -1;
		}
		return replace_string(name[0] == 'm' ? &s->meta : &s->blobs, value);
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
	if (strcmp(name, "vuln-db") == 0) {
		if (value[0] == '\0' || s->vuln_db_count == MAX_VULN_DBS) {
			usage_error("%s: --vuln-db needs a path (at most %d of them)", where, MAX_VULN_DBS);
			return -1;
		}
		return append_string(s->vuln_db, &s->vuln_db_count, value);
	}
	if (strcmp(name, "replication-destination") == 0) {
		const char *colon = strchr(value, ':'), *eq = strchr(value, '=');
		size_t rlen = colon != NULL ? (size_t)(colon - value) : 0;
		bool ok = colon != NULL && eq != NULL && eq > colon && rlen > 0 && rlen <= 32 && eq - colon - 1 == 12 &&
			(strncmp(eq + 1, "http://", 7) == 0 || strncmp(eq + 1, "https://", 8) == 0);

		for (size_t i = 0; ok && i < rlen; i++)
			ok = islower((unsigned char)value[i]) || isdigit((unsigned char)value[i]) || value[i] == '-';
		for (const char *c = colon + 1; ok && c < eq; c++)
			ok = isdigit((unsigned char)*c) != 0;
		if (!ok || s->repl_dest_count == MAX_REPL_DESTS) {
			usage_error("%s: --replication-destination '%s': expected REGION:ACCOUNT=http[s]://HOST[:PORT] "
				    "(at most %d of them)", where, value, MAX_REPL_DESTS);
			return -1;
		}
		return append_string(s->repl_dest, &s->repl_dest_count, value);
	}
	if (strcmp(name, "replication-profile") == 0)
		return replace_string(&s->repl_profile, value);
	if (strcmp(name, "cache-freshness") == 0) {
		if (parse_uint(value, MAX_LIFECYCLE_INTERVAL, &n) < 0 || n == 0) {
			usage_error("%s: --cache-freshness '%s': expected seconds from 1 to %lu", where, value,
				MAX_LIFECYCLE_INTERVAL);
			return -1;
		}
		s->cache_freshness = n;
		return 0;
	}
	if (strcmp(name, "anonymous-pull-rate") == 0 || strcmp(name, "anonymous-pull-burst") == 0) {
		bool rate = name[15] == 'r';
		if (parse_uint(value, MAX_ANON_RATE, &n) < 0 || (!rate && n == 0)) {
			usage_error("%s: --%s '%s': expected a number from %d to %lu", where, name, value, rate ? 0 : 1,
				MAX_ANON_RATE);
			return -1;
		}
		if (rate)
			s->anon_rate = (long)n;
		else
			s->anon_burst = (long)n;
		return 0;
	}
	if (strcmp(name, "public-alias") == 0) {
		const char *eq = strchr(value, '=');
		bool ok = eq != NULL && eq - value == 12 && eq[1] != '\0';
		for (const char *c = value; ok && c < eq; c++)
			ok = isdigit((unsigned char)*c) != 0;
		if (!ok || s->public_alias_count == MAX_PUBLIC_ALIASES) {
			usage_error("%s: --public-alias '%s': expected ACCOUNT=ALIAS, e.g. 123456789012=my-team "
				    "(at most %d of them)", where, value, MAX_PUBLIC_ALIASES);
			return -1;
		}
		return append_string(s->public_alias, &s->public_alias_count, value);
	}
	if (strcmp(name, "metrics") == 0) {
		if (strcmp(value, "local") == 0)
			s->metrics = ECR_SERVER_METRICS_LOCAL;
		else if (strcmp(value, "off") == 0)
			s->metrics = ECR_SERVER_METRICS_OFF;
		else if (strcmp(value, "any") == 0)
			s->metrics = ECR_SERVER_METRICS_ANY;
		else {
			usage_error("%s: --metrics '%s': expected off, local or any", where, value);
			return -1;
		}
		return 0;
	}
	if (strcmp(name, "webhook") == 0) {
		if ((strncmp(value, "http://", 7) != 0 && strncmp(value, "https://", 8) != 0) ||
			s->webhook_count == MAX_WEBHOOKS) {
			usage_error("%s: --webhook '%s': expected an http:// or https:// URL (at most %d of them)", where,
				value, MAX_WEBHOOKS);
			return -1;
		}
		return append_string(s->webhook, &s->webhook_count, value);
	}
	if (strcmp(name, "webhook-secret-file") == 0)
		return replace_string(&s->webhook_secret_file, value);
	if (strcmp(name, "scan-threads") == 0) {
		if (parse_uint(value, MAX_SCAN_THREADS, &n) < 0 || n == 0) {
			usage_error("%s: --scan-threads '%s': expected a number from 1 to %d", where, value,
				MAX_SCAN_THREADS);
			return -1;
		}
		s->scan_threads = (unsigned int)n;
		return 0;
	}
	if (strcmp(name, "lifecycle-interval") == 0) {
		if (parse_uint(value, MAX_LIFECYCLE_INTERVAL, &n) < 0) {
			usage_error("%s: --lifecycle-interval '%s': expected seconds from 0 (never) to %lu", where, value,
				MAX_LIFECYCLE_INTERVAL);
			return -1;
		}
		s->lifecycle_interval = n;
		return 0;
	}
	if (strcmp(name, "gc-interval") == 0 || strcmp(name, "gc-grace") == 0) {
		bool grace = name[3] == 'g';
		if (parse_uint(value, MAX_LIFECYCLE_INTERVAL, &n) < 0 || (grace && n == 0)) {
			usage_error("%s: --%s '%s': expected seconds from %d to %lu", where, name, value, grace ? 1 : 0,
				MAX_LIFECYCLE_INTERVAL);
			return -1;
		}
		*(grace ? &s->gc_grace : &s->gc_interval) = n;
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
	if (strcmp(name, "no-create-on-push") == 0 || strcmp(name, "insecure-no-auth") == 0 ||
		strcmp(name, "no-auth") == 0 || strcmp(name, "blob-redirect") == 0) {
		bool b = true;

		if (value != NULL && parse_bool(value, &b) < 0) {
			usage_error("%s: %s = '%s': expected true or false", where, name, value);
			return -1;
		}
		if (strcmp(name, "no-auth") == 0)
			s->no_auth = b;
		else if (strcmp(name, "blob-redirect") == 0)
			s->blob_redirect = b;
		else if (name[0] == 'n')
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
			usage_error("%s: unknown key '%s' (keys: listen, data, meta, blobs, account, region, tls-cert, "
				    "tls-key, threads, no-create-on-push, no-auth, insecure-no-auth, log-level, "
				    "lifecycle-interval, "
				    "vuln-db, scan-threads)",
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
	} else if ((s->meta == NULL) != (s->blobs == NULL)) {
		usage_error("--meta and --blobs go together (cluster mode: a shared metadata store and blob store)");
		rc = -1;
	} else if (s->meta != NULL && s->data != NULL) {
		usage_error("--data cannot be used with --meta and --blobs: they replace the data folder");
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
	free(s->meta);
	free(s->blobs);
	free(s->account);
	free(s->region);
	free(s->tls_cert);
	free(s->tls_key);
	for (size_t i = 0; i < s->vuln_db_count; i++)
		free(s->vuln_db[i]);
	s->vuln_db_count = 0;
	for (size_t i = 0; i < s->repl_dest_count; i++)
		free(s->repl_dest[i]);
	s->repl_dest_count = 0;
	free(s->repl_profile);
	for (size_t i = 0; i < s->public_alias_count; i++)
		free(s->public_alias[i]);
	s->public_alias_count = 0;
	for (size_t i = 0; i < s->webhook_count; i++)
		free(s->webhook[i]);
	s->webhook_count = 0;
	free(s->webhook_secret_file);
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

/* Where the registries live: the data folder's file:// URL, or the cluster's --meta and --blobs URLs. */
struct storage_urls {
	const char *url;   /* "file:///..." of --data; NULL in cluster mode */
	const char *meta;  /* --meta, or NULL */
	const char *blobs; /* --blobs, or NULL */
};

static int open_storage(ecr_registry **out, const struct storage_urls *st, const ecr_registry_options *opts)
{
	if (st->meta != NULL)
		return ecr_registry_open_urls(out, st->meta, st->blobs, opts);
	return ecr_registry_open(out, st->url, opts);
}

/* Copy url into buf with the password of "scheme://user:password@host..." replaced by "***" (for logs). */
static void redact_url(char *buf, size_t size, const char *url)
{
	const char *scheme = strstr(url, "://"), *at, *colon;

	if (scheme == NULL || (at = strchr(scheme + 3, '@')) == NULL || (colon = strchr(scheme + 3, ':')) == NULL ||
		colon > at || memchr(scheme + 3, '/', (size_t)(at - scheme - 3)) != NULL) {
		snprintf(buf, size, "%s", url);
		return;
	}
	snprintf(buf, size, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

/* The storage for messages: the data folder's URL, or "meta URL, blobs URL" (passwords redacted). */
static void describe_storage(char *buf, size_t size, const struct storage_urls *st)
{
	char meta[512], blobs[512];

	if (st->meta == NULL) {
		snprintf(buf, size, "%s", st->url);
		return;
	}
	redact_url(meta, sizeof(meta), st->meta);
	redact_url(blobs, sizeof(blobs), st->blobs);
	snprintf(buf, size, "meta %s, blobs %s", meta, blobs);
}

static int fail_ecr(int rc, const char *what)
{
	const ecr_error *e = ecr_error_last();

	fprintf(stderr, "ecrd: %s: %s (%s)\n", what, e != NULL && e->message != NULL ? e->message : "failed",
		ecr_error_name(rc));
	return EXIT_RUNTIME;
}

/* The storage of the subcommands (principal, credential, fsck), opened while no ecrd serves it: --data DIR
 * (*url gets its file:// URL, the caller frees it) or --meta/--blobs. 0, or EXIT_RUNTIME after saying why;
 * *initialised tells whether ecr_init() ran (the caller shuts the library down). */
static int open_offline(ecr_registry **reg, struct storage_urls *st, const char *data, char **url, bool *initialised,
	const ecr_registry_options *opts)
{
	int rc;

	if (st->meta == NULL && (*url = data_url(data)) == NULL)
		return EXIT_RUNTIME;
	st->url = *url;
	if ((rc = ecr_init()) < 0)
		return fail_ecr(rc, "ecr_init");
	*initialised = true;
	if ((rc = open_storage(reg, st, opts)) < 0)
		return fail_ecr(rc, rc == ECR_EBUSY ? "the data folder is in use (stop ecrd first)"
						    : st->meta != NULL ? "cannot open --meta/--blobs" : *url);
	return 0;
}

/*
 * The registry provider: the registries of other accounts and regions in the
 * same data folder, opened on first use and kept (they must outlive the
 * server), at most MAX_REGISTRIES of them.
 */
struct provider_entry {
	char account[13];
	char region[33];
	ecr_registry *reg;
};

struct provider {
	pthread_mutex_t lock;
	struct storage_urls st;
	const struct settings *s;
	ecr_scanner *scanner; /* attached to every registry opened */
	ecr_replicator *replicator; /* likewise */
	struct provider_entry entries[MAX_REGISTRIES];
	size_t count;
};

static int read_file(const char *path, char **out);

/* --webhook: the event callback of every registry ecrd serves (NULL: none). */
static ecr_webhooks *g_webhooks;

static int read_file(const char *path, char **out);

/* Start the webhook sender of --webhook and --webhook-secret-file. 0, or an exit status. */
static int webhooks_start(const struct settings *s)
{
	ecr_webhooks_options o;
	char *secret = NULL;
	int rc;

	if (s->webhook_count == 0) {
		if (s->webhook_secret_file != NULL)
			fprintf(stderr, "ecrd: --webhook-secret-file without --webhook: ignored\n");
		return 0;
	}
	if (s->webhook_secret_file != NULL) {
		if (read_file(s->webhook_secret_file, &secret) < 0)
			return EXIT_USAGE;
		secret[strcspn(secret, "\r\n")] = '\0';
		if (secret[0] == '\0') {
			fprintf(stderr, "ecrd: --webhook-secret-file '%s' is empty\n", s->webhook_secret_file);
			free(secret);
			return EXIT_USAGE;
		}
	}
	if ((rc = ecr_webhooks_options_init(&o, ECR_WEBHOOKS_OPTIONS_VERSION)) == 0) {
		o.log_cb = log_to_stderr;
		rc = ecr_webhooks_new(&g_webhooks, &o);
	}
	for (size_t i = 0; rc == 0 && i < s->webhook_count; i++)
		rc = ecr_webhooks_add(g_webhooks, s->webhook[i], secret);
	if (secret != NULL) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	if (rc < 0)
		return fail_ecr(rc, "--webhook");
	return 0;
}

static int provide_registry(ecr_registry **out, const char *account_id, const char *region, void *payload)
{
	struct provider *pv = payload;
	ecr_registry_options ropts = ECR_REGISTRY_OPTIONS_INIT;
	int rc = 0;

	*out = NULL;
	if (strlen(account_id) >= sizeof(pv->entries[0].account) || strlen(region) >= sizeof(pv->entries[0].region))
		return ECR_EINVALID;
	pthread_mutex_lock(&pv->lock);
	for (size_t i = 0; i < pv->count; i++) {
		if (strcmp(pv->entries[i].account, account_id) == 0 && strcmp(pv->entries[i].region, region) == 0) {
			*out = pv->entries[i].reg;
			goto done;
		}
	}
	if (pv->count == MAX_REGISTRIES) {
		rc = ECR_ELIMIT;
		goto done;
	}
	ropts.account_id = account_id;
	ropts.region = region;
	ropts.log_cb = log_to_stderr;
	ropts.log_level = pv->s->log_level;
	if (g_webhooks != NULL) { /* --webhook */
		ropts.event_cb = ecr_webhooks_event_cb;
		ropts.event_payload = g_webhooks;
	}
	if ((rc = open_storage(out, &pv->st, &ropts)) < 0)
		goto done;
	if (pv->scanner != NULL && ecr_scanner_attach(pv->scanner, *out) < 0)
		say(ECR_LOG_WARN, pv->s, "image scanning is off for account %s in %s: %s", account_id, region,
			ecr_error_last()->message);
	if (pv->replicator != NULL && ecr_replicator_attach(pv->replicator, *out) < 0)
		say(ECR_LOG_WARN, pv->s, "replication is off for account %s in %s: %s", account_id, region,
			ecr_error_last()->message);
	strcpy(pv->entries[pv->count].account, account_id);
	strcpy(pv->entries[pv->count].region, region);
	pv->entries[pv->count].reg = *out;
	pv->count++;
	say(ECR_LOG_INFO, pv->s, "opened the registry of account %s in %s", account_id, region);
done:
	pthread_mutex_unlock(&pv->lock);
	return rc;
}

/* GET /metrics: the webhook sender's counters (ecr_webhooks_metrics). */
static int webhook_metrics(ecr_buf *out, void *payload)
{
	(void)payload;
	return g_webhooks != NULL ? ecr_webhooks_metrics(out, g_webhooks) : 0;
}

#define USAGE_METRICS_TTL_S 30
static pthread_mutex_t usage_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	ecr_usage usage;
	time_t at;
	bool ok;
} usage_cache[MAX_REGISTRIES];

/* GET /metrics: usage totals (ecr_registry_usage, everything counted) of every registry ecrd has opened, at most
 * USAGE_METRICS_TTL_S seconds old. A registry whose usage cannot be read now is left out of this scrape. */
static int usage_metrics(ecr_buf *out, void *payload)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} fams[] = {
		{"ecr_usage_repositories", "gauge", "Repositories of the registry.", offsetof(ecr_usage, repositories)},
		{"ecr_usage_images", "gauge", "Images stored.", offsetof(ecr_usage, images)},
		{"ecr_usage_stored_bytes", "gauge", "Bytes stored, each blob once per repository (as ECR bills).",
			offsetof(ecr_usage, stored_bytes)},
		{"ecr_usage_stored_unique_bytes", "gauge", "Bytes stored, each blob once across the registry.",
			offsetof(ecr_usage, stored_bytes_unique)},
		{"ecr_usage_pushed_bytes_total", "counter", "Bytes pushed (blob uploads and manifests).",
			offsetof(ecr_usage, pushed_bytes)},
		{"ecr_usage_pulled_bytes_total", "counter", "Bytes pulled (blobs as served, and manifests).",
			offsetof(ecr_usage, pulled_bytes)},
		{"ecr_usage_image_pushes_total", "counter", "Manifests stored.", offsetof(ecr_usage, image_pushes)},
		{"ecr_usage_image_pulls_total", "counter", "Manifests served (GET).", offsetof(ecr_usage, image_pulls)},
	};
	struct provider *pv = payload;
	struct provider_entry entries[MAX_REGISTRIES];
	ecr_usage *usage = NULL;
	bool *ok = NULL;
	size_t n;
	int rc = 0;

	pthread_mutex_lock(&pv->lock);
	n = pv->count;
	memcpy(entries, pv->entries, n * sizeof(entries[0]));
	pthread_mutex_unlock(&pv->lock);
	if (n == 0)
		return 0;
	if ((usage = calloc(n, sizeof(*usage))) == NULL || (ok = calloc(n, sizeof(*ok))) == NULL) {
		rc = ECR_ENOMEM;
		goto done;
	}
	/* Stored bytes are a scan of the registry's images: computed at most every USAGE_METRICS_TTL_S seconds per
	 * registry however often /metrics is scraped (the cache is indexed like pv->entries, which only grows). */
	pthread_mutex_lock(&usage_cache_lock);
	for (size_t i = 0; i < n; i++) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!usage_cache[i].ok || now.tv_sec - usage_cache[i].at >= USAGE_METRICS_TTL_S) {
			usage_cache[i].usage.version = ECR_USAGE_VERSION;
			usage_cache[i].ok = ecr_registry_usage(&usage_cache[i].usage, entries[i].reg, 0, 0) == 0;
			usage_cache[i].at = now.tv_sec;
		}
		usage[i] = usage_cache[i].usage;
		ok[i] = usage_cache[i].ok;
	}
	pthread_mutex_unlock(&usage_cache_lock);
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		char head[512];
		snprintf(head, sizeof(head), "# HELP %s %s\n# TYPE %s %s\n", fams[f].name, fams[f].help, fams[f].name,
			fams[f].type);
		if ((rc = ecr_metrics_append(out, head, strlen(head))) < 0)
			goto done;
		for (size_t i = 0; i < n; i++) {
			char line[256];
			if (!ok[i])
				continue;
			/* account ids are 12 digits and regions [a-z0-9-]: nothing to escape */
			snprintf(line, sizeof(line), "%.64s{account=\"%.12s\",region=\"%.32s\"} %llu\n", fams[f].name,
				entries[i].account, entries[i].region,
				(unsigned long long)*(const uint64_t *)((const char *)&usage[i] + fams[f].off));
			if ((rc = ecr_metrics_append(out, line, strlen(line))) < 0)
				goto done;
		}
	}
done:
	free(usage);
	free(ok);
	return rc;
}

/*
 * Replication destinations: the --replication-destination remotes (opened on
 * first use, kept until exit), else a registry of this ecrd (the provider).
 */
struct repl_remote {
	char region[33];
	char account[13];
	const char *url;
	ecr_registry *reg;
};

struct repl_dests {
	pthread_mutex_t lock;
	struct provider *pv;
	const struct settings *s;
	struct repl_remote remotes[MAX_REPL_DESTS];
	size_t count;
};

static void repl_dests_init(struct repl_dests *rd, struct provider *pv, const struct settings *s)
{
	pthread_mutex_init(&rd->lock, NULL);
	rd->pv = pv;
	rd->s = s;
	for (size_t i = 0; i < s->repl_dest_count; i++) {
		const char *v = s->repl_dest[i], *colon = strchr(v, ':'), *eq = strchr(v, '=');
		struct repl_remote *rr = &rd->remotes[rd->count++];

		snprintf(rr->region, sizeof(rr->region), "%.*s", (int)(colon - v), v);
		snprintf(rr->account, sizeof(rr->account), "%.*s", (int)(eq - colon - 1), colon + 1);
		rr->url = eq + 1;
	}
}

static void repl_dests_free(struct repl_dests *rd)
{
	for (size_t i = 0; i < rd->count; i++)
		ecr_registry_free(rd->remotes[i].reg);
	rd->count = 0;
	pthread_mutex_destroy(&rd->lock);
}

static int replication_destination(ecr_registry **out, const char *region, const char *registry_id, void *payload)
{
	struct repl_dests *rd = payload;
	int rc = 0;

	for (size_t i = 0; i < rd->count; i++) {
		struct repl_remote *rr = &rd->remotes[i];
		ecr_registry_options ropts = ECR_REGISTRY_OPTIONS_INIT;

		if (strcmp(rr->region, region) != 0 || strcmp(rr->account, registry_id) != 0)
			continue;
		pthread_mutex_lock(&rd->lock);
		if (rr->reg == NULL) {
			ropts.account_id = rr->account;
			ropts.region = rr->region;
			ropts.profile = rd->s->repl_profile;
			ropts.log_cb = log_to_stderr;
			ropts.log_level = rd->s->log_level;
			if ((rc = ecr_registry_open(&rr->reg, rr->url, &ropts)) == 0)
				say(ECR_LOG_INFO, rd->s, "replication: account %s in %s is %s", rr->account, rr->region,
					rr->url);
		}
		*out = rr->reg;
		pthread_mutex_unlock(&rd->lock);
		return rc;
	}
	return provide_registry(out, registry_id, region, rd->pv);
}

/* Load the --vuln-db database and hand it to the scanner (at start and on SIGHUP). */
static int load_vuln_db(ecr_scanner *scanner, const struct settings *s)
{
	ecr_vulndb *db = NULL;
	int rc;

	if (s->vuln_db_count == 0)
		return 0;
	if ((rc = ecr_vulndb_load(&db, (const char *const *)s->vuln_db, s->vuln_db_count)) < 0) {
		say(ECR_LOG_ERROR, s, "cannot load the vulnerability database: %s", ecr_error_last()->message);
		return rc;
	}
	say(ECR_LOG_INFO, s, "vulnerability database: %zu advisories loaded in %lld ms", ecr_vulndb_advisory_count(db),
		(long long)ecr_vulndb_load_ms(db));
	rc = ecr_scanner_set_db(scanner, db);
	ecr_vulndb_free(db);
	return rc;
}

static void provider_free(struct provider *pv)
{
	/* entries[0] is the default registry, freed by main() */
	for (size_t i = 1; i < pv->count; i++)
		ecr_registry_free(pv->entries[i].reg);
	pv->count = 0;
}

/*
 * The lifecycle thread: every interval, apply the lifecycle policy of every
 * repository of every registry the provider holds (the default one first).
 * Registries are never closed while ecrd runs, so their pointers may be used
 * outside the provider's lock.
 */
struct lifecycle_runner {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled to stop; waits use CLOCK_MONOTONIC */
	bool stop;
	unsigned long interval;
	struct provider *pv;
	const struct settings *s;
	pthread_t thread;
	bool started;
	/* The work of each interval: NULL for lifecycle_pass; gc_pass for the --gc-interval runner. */
	void (*pass)(struct lifecycle_runner *lr);
};

struct lifecycle_pass {
	char **names;
	size_t count, cap;
	unsigned long policies, expired, archived, errors;
};

static bool runner_stopping(struct lifecycle_runner *lr)
{
	bool stop;

	pthread_mutex_lock(&lr->lock);
	stop = lr->stop;
	pthread_mutex_unlock(&lr->lock);
	return stop;
}

static int collect_repository(ecr_repository *repo, void *payload)
{
	struct lifecycle_pass *p = payload;

	if (p->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		char **grown = realloc(p->names, cap * sizeof(*grown));

		if (grown == NULL)
			return ECR_ENOMEM;
		p->names = grown;
		p->cap = cap;
	}
	if ((p->names[p->count] = strdup(ecr_repository_name(repo))) == NULL)
		return ECR_ENOMEM;
	p->count++;
	return 0;
}

static int count_action(ecr_image *img, ecr_lifecycle_action action, uint32_t rule_priority, void *payload)
{
	struct lifecycle_pass *p = payload;

	(void)img;
	(void)rule_priority;
	if (action == ECR_LIFECYCLE_EXPIRE)
		p->expired++;
	else if (action == ECR_LIFECYCLE_TRANSITION)
		p->archived++;
	return 0;
}

/* Apply the policies of one registry's repositories. */
static void lifecycle_registry(struct lifecycle_runner *lr, ecr_registry *reg, struct lifecycle_pass *p)
{
	int rc;

	p->count = 0;
	if ((rc = ecr_repository_foreach(reg, collect_repository, p)) < 0) {
		const ecr_error *e = ecr_error_last();

		say(ECR_LOG_ERROR, lr->s, "lifecycle: cannot list the repositories of account %s in %s: %s",
			ecr_registry_account_id(reg), ecr_registry_region(reg),
			e != NULL && e->message != NULL ? e->message : ecr_error_name(rc));
		p->errors++;
	}
	for (size_t i = 0; i < p->count; i++) {
		ecr_repository *repo = NULL;

		if (!runner_stopping(lr)) {
			rc = ecr_repository_open(&repo, reg, p->names[i]);
			if (rc == 0)
				rc = ecr_repository_apply_lifecycle(repo, count_action, p);
			if (rc == 0) {
				p->policies++;
			} else if (rc != ECR_ELIFECYCLE_POLICY_NOT_FOUND && rc != ECR_EREPOSITORY_NOT_FOUND) {
				const ecr_error *e = ecr_error_last();

				say(ECR_LOG_ERROR, lr->s, "lifecycle: %s (account %s, %s): %s", p->names[i],
					ecr_registry_account_id(reg), ecr_registry_region(reg),
					e != NULL && e->message != NULL ? e->message : ecr_error_name(rc));
				p->errors++;
			}
			ecr_repository_free(repo);
		}
		free(p->names[i]);
	}
	p->count = 0;
}

static void lifecycle_pass(struct lifecycle_runner *lr)
{
	struct lifecycle_pass p = {0};
	ecr_registry *regs[MAX_REGISTRIES];
	size_t n;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&lr->pv->lock);
	n = lr->pv->count;
	for (size_t i = 0; i < n; i++)
		regs[i] = lr->pv->entries[i].reg;
	pthread_mutex_unlock(&lr->pv->lock);
	for (size_t i = 0; i < n && !runner_stopping(lr); i++)
		lifecycle_registry(lr, regs[i], &p);
	free(p.names);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	say(p.policies || p.errors ? ECR_LOG_INFO : ECR_LOG_DEBUG, lr->s,
		"lifecycle: %lu %s applied in %zu %s: %lu %s expired, %lu archived, %lu %s (%ld ms)", p.policies,
		p.policies == 1 ? "policy" : "policies", n, n == 1 ? "registry" : "registries", p.expired,
		p.expired == 1 ? "image" : "images", p.archived, p.errors, p.errors == 1 ? "error" : "errors",
		(long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
}

/* --gc-interval: one garbage collection of the storage (every registry in it: GC is store-wide). */
static void gc_pass(struct lifecycle_runner *lr)
{
	ecr_gc_options o = ECR_GC_OPTIONS_INIT;
	ecr_gc_stats st = ECR_GC_STATS_INIT;
	ecr_registry *reg;
	int rc;

	pthread_mutex_lock(&lr->pv->lock);
	reg = lr->pv->count > 0 ? lr->pv->entries[0].reg : NULL;
	pthread_mutex_unlock(&lr->pv->lock);
	if (reg == NULL)
		return;
	o.grace_seconds = lr->s->gc_grace;
	if ((rc = ecr_registry_gc(reg, &o, &st)) < 0) {
		const ecr_error *e = ecr_error_last();
		say(ECR_LOG_ERROR, lr->s, "gc: %s", e != NULL && e->message != NULL ? e->message : ecr_error_name(rc));
		return;
	}
	say(st.blobs_removed || st.links_removed || st.uploads_expired ? ECR_LOG_INFO : ECR_LOG_DEBUG, lr->s,
		"gc: %llu uploads expired, %llu links removed, %llu blobs removed (%llu bytes), %llu blobs kept",
		(unsigned long long)st.uploads_expired, (unsigned long long)st.links_removed,
		(unsigned long long)st.blobs_removed, (unsigned long long)st.bytes_removed,
		(unsigned long long)st.blobs_kept);
}

static void *lifecycle_main(void *arg)
{
	struct lifecycle_runner *lr = arg;
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	for (;;) {
		deadline.tv_sec += (time_t)lr->interval;
		pthread_mutex_lock(&lr->lock);
		while (!lr->stop && pthread_cond_timedwait(&lr->cond, &lr->lock, &deadline) != ETIMEDOUT)
			;
		bool stop = lr->stop;
		pthread_mutex_unlock(&lr->lock);
		if (stop)
			break;
		if (lr->pass != NULL)
			lr->pass(lr);
		else
			lifecycle_pass(lr);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (deadline.tv_sec < now.tv_sec) /* a pass longer than the interval: the next one an interval from now */
			deadline = now;
	}
	return NULL;
}

static int lifecycle_start(struct lifecycle_runner *lr)
{
	pthread_condattr_t attr;
	int err;

	if (lr->interval == 0)
		return 0;
	if ((err = pthread_condattr_init(&attr)) != 0 ||
		(err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) != 0 ||
		(err = pthread_cond_init(&lr->cond, &attr)) != 0) {
		fprintf(stderr, "ecrd: lifecycle thread: %s\n", strerror(err));
		return -1;
	}
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&lr->lock, NULL);
	if ((err = pthread_create(&lr->thread, NULL, lifecycle_main, lr)) != 0) {
		fprintf(stderr, "ecrd: cannot start the lifecycle thread: %s\n", strerror(err));
		pthread_cond_destroy(&lr->cond);
		pthread_mutex_destroy(&lr->lock);
		return -1;
	}
	lr->started = true;
	return 0;
}

static void lifecycle_stop(struct lifecycle_runner *lr)
{
	if (!lr->started)
		return;
	pthread_mutex_lock(&lr->lock);
	lr->stop = true;
	pthread_cond_signal(&lr->cond);
	pthread_mutex_unlock(&lr->lock);
	pthread_join(lr->thread, NULL);
	pthread_cond_destroy(&lr->cond);
	pthread_mutex_destroy(&lr->lock);
	lr->started = false;
}

/* "<data folder>/credentials", from the data URL "file:///...". */
static char *credentials_path(const char *url)
{
	size_t len = strlen(url) - strlen("file://") + sizeof("/credentials");
	char *path = malloc(len);

	if (path != NULL)
		snprintf(path, len, "%s/credentials", url + strlen("file://"));
	return path;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Does the storage have no principal at all? 1 yes, 0 no, <0 error. */
static int no_principals(ecr_registry *reg)
{
	ecr_principal_iterator *it = NULL;
	ecr_principal *p;
	int rc = ecr_principal_iterator_new(&it, reg);

	if (rc == 0)
		rc = ecr_principal_iterator_next(&p, it);
	ecr_principal_iterator_free(it);
	if (rc == ECR_ITEROVER)
		return 1;
	return rc == 0 ? 0 : rc;
}

/*
 * First start: create the administrator of the default account with an access
 * key, saved in <data>/credentials (created 0600, never overwritten). Returns
 * 0 (created, or principals exist already) or EXIT_RUNTIME.
 */
static int bootstrap_admin(ecr_registry *reg, const char *account, const char *path, bool *created)
{
	ecr_principal *p = NULL;
	ecr_buf key_id = ECR_BUF_INIT, secret = ECR_BUF_INIT;
	char arn[64], text[256];
	int fd = -1, rc, status = EXIT_RUNTIME;

	*created = false;
	rc = no_principals(reg);
	if (rc < 0)
		return fail_ecr(rc, "cannot list the principals");
	if (rc == 0)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr,
			"ecrd: cannot create '%s': %s\n"
			"ecrd: (the data folder has no principals yet; ecrd writes the administrator's key there\n"
			"ecrd: and never overwrites that file: move it away, or start with --no-auth)\n",
			path, strerror(errno));
		return EXIT_RUNTIME;
	}
	snprintf(arn, sizeof(arn), "arn:aws:iam::%s:user/admin", account);
	if ((rc = ecr_principal_create(&p, reg, arn, ECR_PRINCIPAL_ADMIN)) < 0) {
		status = fail_ecr(rc, "cannot create the administrator");
		goto done;
	}
	if ((rc = ecr_principal_access_key_create(&key_id, &secret, p)) < 0) {
		status = fail_ecr(rc, "cannot create an access key");
		ecr_principal_delete(reg, arn);
		goto done;
	}
	snprintf(text, sizeof(text), "# ecrd: %s\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", arn,
		key_id.ptr, secret.ptr);
	if (write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "ecrd: cannot write '%s': %s\n", path, strerror(errno));
		ecr_principal_delete(reg, arn);
		goto done;
	}
	*created = true;
	status = 0;
done:
	memset(text, 0, sizeof(text));
	if (close(fd) < 0 && status == 0) {
		fprintf(stderr, "ecrd: cannot write '%s': %s\n", path, strerror(errno));
		status = EXIT_RUNTIME;
	}
	if (status != 0)
		unlink(path);
	ecr_principal_free(p);
	ecr_buf_dispose(&key_id);
	if (secret.ptr != NULL)
		memset(secret.ptr, 0, secret.size);
	ecr_buf_dispose(&secret);
	return status;
}

/* How to reach this ecrd with the AWS CLI and docker (stdout, after the "listening" line). */
static void print_hints(const char *cred_path, bool created, const struct listen_addr *la, uint16_t port,
	bool tls, const char *region)
{
	char hostport[INET6_ADDRSTRLEN + 16];
	const char *host = la->host;

	if (strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	snprintf(hostport, sizeof(hostport), "%s%s%s:%u", la->ipv6 ? "[" : "", host, la->ipv6 ? "]" : "",
		(unsigned int)port);
	if (cred_path == NULL) { /* cluster mode: the keys were printed by 'ecrd principal add' */
		printf("ecrd: authentication is on (principals and tokens are shared by every node)\n");
		printf("export AWS_ENDPOINT_URL=%s://%s AWS_DEFAULT_REGION=%s\n", tls ? "https" : "http", hostport,
			region);
		printf("aws ecr get-login-password | docker login --username AWS --password-stdin %s\n", hostport);
		fflush(stdout);
		return;
	}
	if (created)
		printf("ecrd: created the administrator's access key in %s (keep it secret)\n", cred_path);
	else
		printf("ecrd: authentication is on; the administrator's access key is in %s (if kept there)\n",
			cred_path);
	printf("export AWS_SHARED_CREDENTIALS_FILE=%s AWS_ENDPOINT_URL=%s://%s AWS_DEFAULT_REGION=%s\n", cred_path,
		tls ? "https" : "http", hostport, region);
	printf("aws ecr get-login-password | docker login --username AWS --password-stdin %s\n", hostport);
	fflush(stdout);
}

/* --- ecrd principal ... --- */

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	*out = NULL;
	if (f == NULL) {
		fprintf(stderr, "ecrd: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 4097) {
			char *nb;

			if (cap >= 1024 * 1024) {
				fprintf(stderr, "ecrd: '%s' is larger than 1 MiB\n", path);
				goto fail;
			}
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "ecrd: out of memory\n");
				goto fail;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "ecrd: cannot read '%s'\n", path);
		goto fail;
	}
	buf[len] = '\0';
	fclose(f);
	*out = buf;
	return 0;
fail:
	fclose(f);
	free(buf);
	return -1;
}

static int print_policy(const char *name, const char *document, void *payload)
{
	(void)payload;
	printf("    policy %s: %s\n", name, document);
	return 0;
}

static const char principal_usage[] =
	"Usage: ecrd principal add ARN [--admin] [--policy FILE] [--data DIR]\n"
	"       ecrd principal list [--data DIR]\n"
	"       ecrd principal remove ARN [--data DIR]\n"
	"       ecrd principal policy ARN NAME FILE [--data DIR]\n"
	"Manage the principals of a data folder (ecrd must not be running on it), or with\n"
	"--meta URL --blobs URL those of a cluster's shared stores (nodes may be running).\n"
	"ARN: arn:aws:iam::ACCOUNT:user/NAME, :role/NAME or :root. 'add' prints the new\n"
	"access key id and secret; --admin gives the principal full rights in its own\n"
	"account; --policy FILE (and 'policy') attaches an IAM identity policy document.\n";

static int principal_command(int argc, char **argv)
{
	const char *data = DEFAULT_DATA, *policy_file = NULL, *args[4] = {NULL, NULL, NULL, NULL};
	struct storage_urls st = {NULL, NULL, NULL};
	ecr_registry *reg = NULL;
	ecr_principal *p = NULL;
	ecr_principal_iterator *it = NULL;
	ecr_buf key_id = ECR_BUF_INIT, secret = ECR_BUF_INIT;
	char *url = NULL, *doc = NULL;
	bool admin = false, initialised = false;
	size_t nargs = 0, want;
	int status = EXIT_USAGE, rc;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(principal_usage, stdout);
			return 0;
		} else if (strcmp(a, "--admin") == 0) {
			admin = true;
		} else if (strcmp(a, "--data") == 0 || strcmp(a, "--policy") == 0) {
			if (i + 1 >= argc) {
				usage_error("option '%s' needs a value", a);
				return EXIT_USAGE;
			}
			if (a[2] == 'd')
				data = argv[++i];
			else
				policy_file = argv[++i];
		} else if (strcmp(a, "--meta") == 0 || strcmp(a, "--blobs") == 0) {
			if (i + 1 >= argc) {
				usage_error("option '%s' needs a value", a);
				return EXIT_USAGE;
			}
			*(a[2] == 'm' ? &st.meta : &st.blobs) = argv[++i];
		} else if (strncmp(a, "--meta=", 7) == 0) {
			st.meta = a + 7;
		} else if (strncmp(a, "--blobs=", 8) == 0) {
			st.blobs = a + 8;
		} else if (strncmp(a, "--data=", 7) == 0) {
			data = a + 7;
		} else if (strncmp(a, "--policy=", 9) == 0) {
			policy_file = a + 9;
		} else if (a[0] == '-' && a[1] != '\0') {
			usage_error("principal: unknown option '%s'", a);
			return EXIT_USAGE;
		} else if (nargs < 4) {
			args[nargs++] = a;
		} else {
			usage_error("principal: unexpected argument '%s'", a);
			return EXIT_USAGE;
		}
	}
	if (nargs == 0) {
		fputs(principal_usage, stderr);
		return EXIT_USAGE;
	}
	want = strcmp(args[0], "add") == 0 || strcmp(args[0], "remove") == 0 ? 2
		: strcmp(args[0], "list") == 0				     ? 1
		: strcmp(args[0], "policy") == 0			     ? 4
									     : 0;
	if (want == 0 || nargs != want || ((admin || policy_file) && strcmp(args[0], "add") != 0)) {
		usage_error("principal: expected add ARN [--admin] [--policy FILE], list, remove ARN or "
			    "policy ARN NAME FILE");
		return EXIT_USAGE;
	}
	if ((st.meta == NULL) != (st.blobs == NULL)) {
		usage_error("principal: --meta and --blobs go together");
		return EXIT_USAGE;
	}
	if (policy_file != NULL && read_file(policy_file, &doc) < 0)
		return EXIT_USAGE;
	if (strcmp(args[0], "policy") == 0 && read_file(args[3], &doc) < 0)
		return EXIT_USAGE;
	status = EXIT_RUNTIME;
	if ((status = open_offline(&reg, &st, data, &url, &initialised, NULL)) != 0)
		goto done;
	status = EXIT_RUNTIME;
	if (strcmp(args[0], "list") == 0) {
		ecr_principal *q;

		if ((rc = ecr_principal_iterator_new(&it, reg)) < 0) {
			status = fail_ecr(rc, "cannot list the principals");
			goto done;
		}
		while ((rc = ecr_principal_iterator_next(&q, it)) == 0) {
			printf("%s%s\n", ecr_principal_arn(q), ecr_principal_is_admin(q) ? " (admin)" : "");
			if ((rc = ecr_principal_policies(q, print_policy, NULL)) < 0)
				break;
		}
		if (rc != ECR_ITEROVER) {
			status = fail_ecr(rc, "cannot list the principals");
			goto done;
		}
	} else if (strcmp(args[0], "remove") == 0) {
		if ((rc = ecr_principal_delete(reg, args[1])) < 0) {
			status = fail_ecr(rc, args[1]);
			goto done;
		}
		printf("removed %s (its keys and tokens no longer work)\n", args[1]);
	} else if (strcmp(args[0], "policy") == 0) {
		if ((rc = ecr_principal_open(&p, reg, args[1])) < 0 ||
			(rc = ecr_principal_put_policy(p, args[2], doc)) < 0) {
			status = fail_ecr(rc, args[1]);
			goto done;
		}
		printf("attached the policy %s to %s\n", args[2], args[1]);
	} else {
		if ((rc = ecr_principal_create(&p, reg, args[1], admin ? ECR_PRINCIPAL_ADMIN : 0)) < 0) {
			status = fail_ecr(rc, args[1]);
			goto done;
		}
		if ((doc != NULL && (rc = ecr_principal_put_policy(p, "default", doc)) < 0) ||
			(rc = ecr_principal_access_key_create(&key_id, &secret, p)) < 0) {
			status = fail_ecr(rc, args[1]);
			ecr_principal_delete(reg, args[1]);
			goto done;
		}
		printf("%s\naws_access_key_id = %s\naws_secret_access_key = %s\n", args[1], key_id.ptr, secret.ptr);
	}
	status = 0;
done:
	ecr_principal_iterator_free(it);
	ecr_principal_free(p);
	ecr_buf_dispose(&key_id);
	ecr_buf_dispose(&secret);
	ecr_registry_free(reg);
	if (initialised)
		ecr_shutdown();
	free(doc);
	free(url);
	return status;
}

/* --- ecrd fsck --- */

static const char fsck_usage[] =
	"Usage: ecrd fsck [--data DIR | --meta URL --blobs URL] [--no-hash] [--quiet]\n"
	"Check the consistency of every registry (account x region) of a data folder (ecrd\n"
	"must not be running on it) or of a cluster's shared stores: every blob the metadata\n"
	"needs is present and re-hashed against its digest, every tag, index child and layer\n"
	"reference resolves. Prints one line per problem (\"error: ...\"; blobs nothing\n"
	"references and orphaned staging objects as \"notice: ...\", which garbage collection\n"
	"removes) and a summary. --no-hash: check presence and sizes only. --quiet: no\n"
	"notices. Exit status: 0 no error found, 1 errors found (or the check could not\n"
	"run), 2 usage error. See docs/fsck.md.\n";

static const char *fsck_kind_name(ecr_fsck_kind kind)
{
	switch (kind) {
	case ECR_FSCK_BLOB_MISSING:
		return "blob-missing";
	case ECR_FSCK_BLOB_CORRUPT:
		return "blob-corrupt";
	case ECR_FSCK_BLOB_SIZE:
		return "blob-size";
	case ECR_FSCK_TAG_DANGLING:
		return "tag-dangling";
	case ECR_FSCK_CHILD_MISSING:
		return "child-missing";
	case ECR_FSCK_BLOB_UNLINKED:
		return "blob-unlinked";
	case ECR_FSCK_ARCHIVE_MISSING:
		return "archive-missing";
	case ECR_FSCK_IO:
		return "io";
	case ECR_FSCK_UNREFERENCED:
		return "unreferenced";
	case ECR_FSCK_STAGE_ORPHAN:
		return "stage-orphan";
	}
	return "problem";
}

static int fsck_print(const ecr_fsck_problem *p, void *payload)
{
	bool quiet = *(const bool *)payload;

	if (p->severity == ECR_FSCK_NOTICE && quiet)
		return 0;
	printf("%s: %s", p->severity == ECR_FSCK_ERROR ? "error" : "notice", fsck_kind_name(p->kind));
	if (p->account_id != NULL)
		printf(" %s/%s", p->account_id, p->region != NULL ? p->region : "-");
	if (p->repository != NULL)
		printf(" %s", p->repository);
	printf(": %s\n", p->message);
	return 0;
}

static int fsck_command(int argc, char **argv)
{
	const char *data = DEFAULT_DATA;
	struct storage_urls st = {NULL, NULL, NULL};
	ecr_registry *reg = NULL;
	ecr_fsck_options o = ECR_FSCK_OPTIONS_INIT;
	ecr_fsck_stats stats = ECR_FSCK_STATS_INIT;
	char *url = NULL;
	bool initialised = false, quiet = false;
	int status = EXIT_USAGE, rc;
	struct timespec t0, t1;

	o.flags = ECR_FSCK_ALL_REGISTRIES;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(fsck_usage, stdout);
			return 0;
		} else if (strcmp(a, "--no-hash") == 0) {
			o.flags |= ECR_FSCK_NO_HASH;
		} else if (strcmp(a, "--quiet") == 0) {
			quiet = true;
		} else if (strcmp(a, "--data") == 0 || strcmp(a, "--meta") == 0 || strcmp(a, "--blobs") == 0) {
			if (i + 1 >= argc) {
				usage_error("option '%s' needs a value", a);
				return EXIT_USAGE;
			}
			if (a[2] == 'd')
				data = argv[++i];
			else
				*(a[2] == 'm' ? &st.meta : &st.blobs) = argv[++i];
		} else if (strncmp(a, "--data=", 7) == 0) {
			data = a + 7;
		} else if (strncmp(a, "--meta=", 7) == 0) {
			st.meta = a + 7;
		} else if (strncmp(a, "--blobs=", 8) == 0) {
			st.blobs = a + 8;
		} else {
			usage_error("fsck: unexpected argument '%s'", a);
			return EXIT_USAGE;
		}
	}
	if ((st.meta == NULL) != (st.blobs == NULL)) {
		usage_error("fsck: --meta and --blobs go together");
		return EXIT_USAGE;
	}
	status = EXIT_RUNTIME;
	if ((status = open_offline(&reg, &st, data, &url, &initialised, NULL)) != 0)
		goto done;
	status = EXIT_RUNTIME;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = ecr_registry_fsck(reg, &o, fsck_print, &quiet, &stats)) < 0) {
		status = fail_ecr(rc, "fsck");
		goto done;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("fsck: %llu registries, %llu repositories, %llu images, %llu tags; %llu blobs checked, %llu bytes "
	       "hashed, %llu blobs stored; %llu problems, %llu notices (%ld ms)\n",
		(unsigned long long)stats.registries, (unsigned long long)stats.repositories,
		(unsigned long long)stats.images, (unsigned long long)stats.tags, (unsigned long long)stats.blobs_checked,
		(unsigned long long)stats.bytes_hashed, (unsigned long long)stats.blobs_stored,
		(unsigned long long)stats.errors, (unsigned long long)stats.notices,
		(long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	status = stats.errors ? EXIT_RUNTIME : 0;
done:
	ecr_registry_free(reg);
	if (initialised)
		ecr_shutdown();
	free(url);
	return status;
}

/* --- ecrd credential ... --- */

static const char credential_usage[] =
	"Usage: ecrd credential add ARN USERNAME [--data DIR]   (the password is read from stdin)\n"
	"       ecrd credential list [--account ID] [--region NAME] [--data DIR]\n"
	"       ecrd credential remove ARN [--data DIR]\n"
	"Manage the upstream credentials of pull-through cache rules (their credentialArn)\n"
	"in a data folder (ecrd must not be running on it), or with --meta URL --blobs URL\n"
	"in a cluster's shared stores (nodes may be running). ARN:\n"
	"arn:aws:secretsmanager:REGION:ACCOUNT:secret:ecr-pullthroughcache/NAME; the\n"
	"credential belongs to the registry of that region and account. 'add' reads the\n"
	"password (or token) from the first line of stdin, never from the command line,\n"
	"and replaces any credential of that ARN; 'list' prints ARNs and usernames only.\n";

/* The region and account of a Secrets Manager ARN (arn:P:secretsmanager:REGION:ACCOUNT:...), else the defaults. */
static void credential_registry(const char *arn, char *region, size_t rsize, char *account, size_t asize)
{
	const char *f[6];
	size_t n = 0;

	snprintf(region, rsize, "%s", DEFAULT_REGION);
	snprintf(account, asize, "%s", DEFAULT_ACCOUNT);
	for (const char *p = arn; p != NULL && n < 6; p = strchr(p, ':')) {
		if (n > 0)
			p++;
		f[n++] = p;
	}
	if (n < 6 || strncmp(f[2], "secretsmanager:", 15) != 0)
		return;
	if ((size_t)(f[4] - f[3] - 1) < rsize && f[4] - f[3] > 1)
		snprintf(region, rsize, "%.*s", (int)(f[4] - f[3] - 1), f[3]);
	if ((size_t)(f[5] - f[4] - 1) < asize && f[5] - f[4] > 1)
		snprintf(account, asize, "%.*s", (int)(f[5] - f[4] - 1), f[4]);
}

/* The first line of stdin (without its end of line), echo off on a terminal. NULL on failure (said). */
static char *read_password(void)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (tty) {
		fputs("Password: ", stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		fprintf(stderr, "ecrd: credential add: no password on stdin\n");
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0 || n > 65536) {
		fprintf(stderr, "ecrd: credential add: the password on stdin must be 1 to 65536 bytes\n");
		explicit_bzero(line, cap);
		free(line);
		return NULL;
	}
	return line;
}

static int print_credential(const char *arn, const char *username, void *payload)
{
	(void)payload;
	printf("%s %s\n", arn, username);
	return 0;
}

static int credential_command(int argc, char **argv)
{
	const char *data = DEFAULT_DATA, *account = NULL, *region = NULL, *args[3] = {NULL, NULL, NULL};
	struct storage_urls st = {NULL, NULL, NULL};
	ecr_registry_options ropts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_registry *reg = NULL;
	char *url = NULL, *password = NULL, arn_region[64], arn_account[32];
	bool initialised = false;
	size_t nargs = 0, want;
	int status = EXIT_USAGE, rc;

	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(credential_usage, stdout);
			return 0;
		} else if (strcmp(a, "--data") == 0 || strcmp(a, "--account") == 0 || strcmp(a, "--region") == 0) {
			if (i + 1 >= argc) {
				usage_error("option '%s' needs a value", a);
				return EXIT_USAGE;
			}
			if (a[2] == 'd')
				data = argv[++i];
			else if (a[2] == 'a')
				account = argv[++i];
			else
				region = argv[++i];
		} else if (strcmp(a, "--meta") == 0 || strcmp(a, "--blobs") == 0) {
			if (i + 1 >= argc) {
				usage_error("option '%s' needs a value", a);
				return EXIT_USAGE;
			}
			*(a[2] == 'm' ? &st.meta : &st.blobs) = argv[++i];
		} else if (strncmp(a, "--meta=", 7) == 0) {
			st.meta = a + 7;
		} else if (strncmp(a, "--blobs=", 8) == 0) {
			st.blobs = a + 8;
		} else if (strncmp(a, "--data=", 7) == 0) {
			data = a + 7;
		} else if (strncmp(a, "--account=", 10) == 0) {
			account = a + 10;
		} else if (strncmp(a, "--region=", 9) == 0) {
			region = a + 9;
		} else if (a[0] == '-' && a[1] != '\0') {
			usage_error("credential: unknown option '%s'", a);
			return EXIT_USAGE;
		} else if (nargs < 3) {
			args[nargs++] = a;
		} else {
			usage_error("credential: unexpected argument '%s'", a);
			return EXIT_USAGE;
		}
	}
	if (nargs == 0) {
		fputs(credential_usage, stderr);
		return EXIT_USAGE;
	}
	want = strcmp(args[0], "add") == 0 ? 3 : strcmp(args[0], "remove") == 0 ? 2 : strcmp(args[0], "list") == 0 ? 1 : 0;
	if (want == 0 || nargs != want || ((account || region) && strcmp(args[0], "list") != 0)) {
		usage_error("credential: expected add ARN USERNAME, list [--account ID] [--region NAME] or remove ARN");
		return EXIT_USAGE;
	}
	if ((st.meta == NULL) != (st.blobs == NULL)) {
		usage_error("credential: --meta and --blobs go together");
		return EXIT_USAGE;
	}
	if (strcmp(args[0], "add") == 0 && (password = read_password()) == NULL)
		return EXIT_USAGE;
	status = EXIT_RUNTIME;
	if (want > 1) {
		credential_registry(args[1], arn_region, sizeof(arn_region), arn_account, sizeof(arn_account));
		ropts.region = arn_region;
		ropts.account_id = arn_account;
	} else {
		ropts.region = region != NULL ? region : DEFAULT_REGION;
		ropts.account_id = account != NULL ? account : DEFAULT_ACCOUNT;
	}
	if ((status = open_offline(&reg, &st, data, &url, &initialised, &ropts)) != 0)
		goto done;
	status = EXIT_RUNTIME;
	if (strcmp(args[0], "list") == 0) {
		if ((rc = ecr_registry_credentials_foreach(reg, print_credential, NULL)) < 0) {
			status = fail_ecr(rc, "cannot list the credentials");
			goto done;
		}
	} else if (strcmp(args[0], "remove") == 0) {
		if ((rc = ecr_registry_delete_credential(reg, args[1])) < 0) {
			status = fail_ecr(rc, args[1]);
			goto done;
		}
		printf("removed %s\n", args[1]);
	} else {
		if ((rc = ecr_registry_put_credential(reg, args[1], args[2], password)) < 0) {
			status = fail_ecr(rc, args[1]);
			goto done;
		}
		printf("stored %s (username %s)\n", args[1], args[2]);
	}
	status = 0;
done:
	ecr_registry_free(reg);
	if (initialised)
		ecr_shutdown();
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	free(url);
	return status;
}

int main(int argc, char **argv)
{
	struct settings s = {0};
	struct listen_addr la;
	ecr_registry_options ropts = ECR_REGISTRY_OPTIONS_INIT;
	ecr_server_options sopts = ECR_SERVER_OPTIONS_INIT;
	ecr_registry *reg = NULL;
	ecr_server *srv = NULL;
	ecr_cache *cache = NULL;
	ecr_scanner *scanner = NULL;
	ecr_replicator *replicator = NULL;
	ecr_replicator_options repl_opts = ECR_REPLICATOR_OPTIONS_INIT;
	static struct repl_dests rd;
	char *url = NULL, *cred_path = NULL;
	char where[1100];
	bool initialised = false, no_auth, created = false;
	static struct provider pv;
	struct lifecycle_runner lr = {0};
	struct lifecycle_runner gr = {0}; /* --gc-interval */
	sigset_t sigs;
	int status = EXIT_RUNTIME, rc;

	if (argc > 1 && strcmp(argv[1], "principal") == 0)
		return principal_command(argc, argv);
	if (argc > 1 && strcmp(argv[1], "credential") == 0)
		return credential_command(argc, argv);
	if (argc > 1 && strcmp(argv[1], "fsck") == 0)
		return fsck_command(argc, argv);
	pthread_mutex_init(&pv.lock, NULL);
	s.log_level = ECR_LOG_INFO;
	s.lifecycle_interval = DEFAULT_LIFECYCLE_INTERVAL;
	s.scan_threads = DEFAULT_SCAN_THREADS;
	s.anon_rate = s.anon_burst = -1;
	rc = parse_command_line(argc, argv, &s);
	if (rc != 0) {
		status = rc > 0 ? 0 : EXIT_USAGE;
		goto done;
	}
	if (parse_listen(s.listen != NULL ? s.listen : DEFAULT_LISTEN, &la) < 0) {
		status = EXIT_USAGE;
		goto done;
	}
	no_auth = s.no_auth || s.insecure_no_auth;
	if (!la.loopback && no_auth && !s.insecure_no_auth) {
		fprintf(stderr,
			"ecrd: refusing to listen on %s without authentication (--no-auth): it is not a\n"
			"ecrd: loopback address, so anyone who can reach it could push, pull and delete images.\n"
			"ecrd: Drop --no-auth, listen on 127.0.0.1 or [::1], or pass --insecure-no-auth if the\n"
			"ecrd: network itself is trusted.\n",
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

	if (s.meta == NULL) {
		url = data_url(s.data != NULL ? s.data : DEFAULT_DATA);
		if (url == NULL)
			goto done;
	}
	pv.st.url = url;
	pv.st.meta = s.meta;
	pv.st.blobs = s.blobs;
	describe_storage(where, sizeof(where), &pv.st);

	if ((rc = ecr_init()) < 0) {
		status = fail_ecr(rc, "ecr_init");
		goto done;
	}
	initialised = true;
	if ((status = webhooks_start(&s)) != 0)
		goto done;
	status = EXIT_RUNTIME;

	ropts.account_id = s.account != NULL ? s.account : DEFAULT_ACCOUNT;
	ropts.region = s.region != NULL ? s.region : DEFAULT_REGION;
	ropts.log_cb = log_to_stderr;
	ropts.log_level = s.log_level;
	if (g_webhooks != NULL) { /* --webhook */
		ropts.event_cb = ecr_webhooks_event_cb;
		ropts.event_payload = g_webhooks;
	}
	if ((rc = open_storage(&reg, &pv.st, &ropts)) < 0) {
		status = fail_ecr(rc, where);
		goto done;
	}
	pv.s = &s;
	strcpy(pv.entries[0].account, ecr_registry_account_id(reg));
	snprintf(pv.entries[0].region, sizeof(pv.entries[0].region), "%s", ecr_registry_region(reg));
	pv.entries[0].reg = reg;
	pv.count = 1;
	if ((rc = ecr_scanner_new(&scanner, s.scan_threads)) < 0 || (rc = ecr_scanner_attach(scanner, reg)) < 0) {
		status = fail_ecr(rc, "image scanner");
		goto done;
	}
	if (load_vuln_db(scanner, &s) < 0) {
		status = EXIT_USAGE;
		goto done;
	}
	if (s.vuln_db_count == 0)
		say(ECR_LOG_INFO, &s, "no --vuln-db: image scans list packages but find no vulnerabilities");
	pv.scanner = scanner;
	repl_dests_init(&rd, &pv, &s);
	repl_opts.destination_cb = replication_destination;
	repl_opts.destination_payload = &rd;
	if ((rc = ecr_replicator_new(&replicator, &repl_opts)) < 0 || (rc = ecr_replicator_attach(replicator, reg)) < 0) {
		status = fail_ecr(rc, "replicator");
		goto done;
	}
	pv.replicator = replicator;
	if (!no_auth && s.meta != NULL) {
		/* Cluster mode: no local folder for the administrator's key, and nodes starting at once must not each
		 * create one. The first principal is made with 'ecrd principal add'. */
		if ((rc = no_principals(reg)) != 0) {
			if (rc < 0)
				status = fail_ecr(rc, "cannot list the principals");
			else
				fprintf(stderr,
					"ecrd: the metadata store has no principals, and with --meta/--blobs ecrd\n"
					"ecrd: does not create the administrator itself (it has no data folder to\n"
					"ecrd: write the key to). Create it once, from any node:\n"
					"ecrd:   ecrd principal add arn:aws:iam::%s:user/admin --admin \\\n"
					"ecrd:     --meta URL --blobs URL\n"
					"ecrd: (it prints the access key), or start with --no-auth.\n",
					ropts.account_id);
			goto done;
		}
	} else if (!no_auth) {
		if ((cred_path = credentials_path(url)) == NULL) {
			fprintf(stderr, "ecrd: out of memory\n");
			goto done;
		}
		if ((status = bootstrap_admin(reg, ropts.account_id, cred_path, &created)) != 0)
			goto done;
		status = EXIT_RUNTIME;
	}

	sopts.bind_address = la.host;
	sopts.port = la.port;
	sopts.tls_cert_file = s.tls_cert;
	sopts.tls_key_file = s.tls_key;
	sopts.flags = s.no_create_on_push ? 0 : ECR_SERVER_CREATE_ON_PUSH;
	if (no_auth)
		sopts.flags |= ECR_SERVER_NO_AUTH;
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
	{ /* pulls of repositories under pull-through cache rules (CreatePullThroughCacheRule) */
		ecr_cache_options copts = ECR_CACHE_OPTIONS_INIT;
		copts.freshness_seconds = s.cache_freshness;
		copts.log_cb = log_to_stderr;
		copts.log_level = s.log_level;
		if ((rc = ecr_cache_new(&cache, &copts)) < 0 || (rc = ecr_server_set_cache(srv, cache)) < 0) {
			status = fail_ecr(rc, "the pull-through cache");
			goto done;
		}
	}
	if ((rc = ecr_server_set_registry_cb(srv, provide_registry, &pv)) < 0) {
		status = fail_ecr(rc, "ecr_server_set_registry_cb");
		goto done;
	}
	if (s.blob_redirect && (rc = ecr_server_set_blob_redirect(srv, 1)) < 0) {
		status = fail_ecr(rc, "--blob-redirect");
		goto done;
	}
	if ((rc = ecr_server_set_metrics(srv, s.metrics)) < 0 ||
		(g_webhooks != NULL && (rc = ecr_server_add_metrics_cb(srv, webhook_metrics, NULL)) < 0) ||
		(rc = ecr_server_add_metrics_cb(srv, usage_metrics, &pv)) < 0) {
		status = fail_ecr(rc, "--metrics");
		goto done;
	}
	if (s.anon_rate >= 0 || s.anon_burst >= 0) {
		uint32_t rate = s.anon_rate >= 0 ? (uint32_t)s.anon_rate : 1;
		uint32_t burst = s.anon_burst >= 0 ? (uint32_t)s.anon_burst : DEFAULT_ANON_BURST;
		if ((rc = ecr_server_set_anonymous_limit(srv, rate, burst)) < 0) {
			status = fail_ecr(rc, "--anonymous-pull-rate/--anonymous-pull-burst");
			goto done;
		}
		if (rate)
			say(ECR_LOG_INFO, &s, "anonymous pulls: %u manifest requests a second per address, bursts of %u",
				rate, burst);
		else
			say(ECR_LOG_INFO, &s, "anonymous pulls: no rate limit (--anonymous-pull-rate 0)");
	}
	for (size_t i = 0; i < s.public_alias_count; i++) { /* --public-alias ACCOUNT=ALIAS */
		char account[13];
		const char *alias = strchr(s.public_alias[i], '=') + 1;
		ecr_registry *preg = NULL;
		memcpy(account, s.public_alias[i], 12);
		account[12] = '\0';
		if ((rc = provide_registry(&preg, account, ECR_REGION_PUBLIC, &pv)) < 0 ||
			(rc = ecr_public_set_alias(preg, alias)) < 0) {
			status = fail_ecr(rc, s.public_alias[i]);
			if (rc == ECR_EINVALID || rc == ECR_EEXISTS)
				status = EXIT_USAGE;
			goto done;
		}
		say(ECR_LOG_INFO, &s, "the public registry of account %s has the alias %s", account, alias);
	}
	if (no_auth) /* loud, whatever --log-level says */
		log_to_stderr(ECR_LOG_WARN,
			s.insecure_no_auth && !la.loopback
				? "--insecure-no-auth: serving WITHOUT AUTHENTICATION on a non-loopback address; "
				  "anyone who can connect can push, pull and delete images"
				: "--no-auth: serving WITHOUT AUTHENTICATION; anyone who can connect can push, pull "
				  "and delete images (throwaway local use only)",
			NULL);
	else if (!la.loopback && s.tls_cert == NULL)
		say(ECR_LOG_WARN, &s, "serving %s over plain HTTP: credentials and tokens travel unencrypted "
				      "(use --tls-cert and --tls-key)", la.host);
	if ((rc = ecr_server_start(srv)) < 0) {
		status = fail_ecr(rc, "cannot start the server");
		goto done;
	}
	lr.interval = s.lifecycle_interval;
	lr.pv = &pv;
	lr.s = &s;
	if (lifecycle_start(&lr) < 0)
		goto done;
	gr.interval = s.gc_interval;
	gr.pv = &pv;
	gr.s = &s;
	gr.pass = gc_pass;
	if (lifecycle_start(&gr) < 0)
		goto done;
	if (s.gc_interval)
		say(ECR_LOG_INFO, &s, "garbage is collected every %lu s (grace %lu s)", s.gc_interval,
			s.gc_grace ? s.gc_grace : 3600UL);

	printf("ecrd: listening on %s://%s%s%s:%u\n", s.tls_cert != NULL ? "https" : "http", la.ipv6 ? "[" : "",
		la.host, la.ipv6 ? "]" : "", (unsigned int)ecr_server_port(srv));
	fflush(stdout);
	if (!no_auth)
		print_hints(cred_path, created, &la, ecr_server_port(srv), s.tls_cert != NULL, ropts.region);
	say(ECR_LOG_INFO, &s, "ecrd %s: registry %s (account %s, region %s), create-on-push %s, authentication %s",
		ecr_version(), where, ropts.account_id, ropts.region, s.no_create_on_push ? "off" : "on",
		no_auth ? "OFF" : "on");
	if (s.lifecycle_interval)
		say(ECR_LOG_INFO, &s, "lifecycle policies are applied every %lu s", s.lifecycle_interval);
	else
		say(ECR_LOG_INFO, &s, "lifecycle policies are not applied (--lifecycle-interval 0)");

	for (;;) {
		int sig = 0;

		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (s.vuln_db_count == 0)
				say(ECR_LOG_INFO, &s, "SIGHUP: no --vuln-db to reload");
			else if (load_vuln_db(scanner, &s) < 0)
				say(ECR_LOG_WARN, &s, "SIGHUP: the previous vulnerability database stays in use");
			continue;
		}
		say(ECR_LOG_INFO, &s, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	lifecycle_stop(&lr);
	lifecycle_stop(&gr);
	if ((rc = ecr_server_stop(srv)) < 0) {
		status = fail_ecr(rc, "ecr_server_stop");
		goto done;
	}
	status = 0;

done:
	lifecycle_stop(&lr);
	lifecycle_stop(&gr);
	ecr_server_free(srv);
	ecr_cache_free(cache); /* after the server, before the registries its fetches write to */
	ecr_scanner_free(scanner); /* before the registries it is attached to */
	ecr_replicator_free(replicator); /* likewise, and before its remote destinations */
	if (rd.s != NULL)
		repl_dests_free(&rd);
	provider_free(&pv);
	ecr_registry_free(reg);
	ecr_webhooks_free(g_webhooks); /* after the registries that raise events: delivers for up to 5 s */
	g_webhooks = NULL;
	if (initialised && (rc = ecr_shutdown()) < 0 && status == 0)
		status = fail_ecr(rc, "ecr_shutdown");
	free(url);
	free(cred_path);
	settings_free(&s);
	pthread_mutex_destroy(&pv.lock);
	return status;
}
