/*
 * ecr usage LOCATION [--repository NAME] [--from DATE] [--to DATE] [--prices FILE.json] [--months N] [--json]
 *
 * A registry's usage (ecr/usage.h): a line per repository (images, stored bytes, bytes pushed and pulled, image
 * pushes and pulls), the totals with the registry-wide deduplicated stored bytes, and a cost estimate at the
 * price table (Amazon ECR's list prices unless --prices). LOCATION: ecr:///DATA/FOLDER, file:///DIR,
 * http(s)://HOST[:PORT] (ecrd's GetUsage), docker://HOST or HOST[:PORT]. DATE: YYYY-MM-DD (UTC) or epoch seconds.
 * See docs/usage.md.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage_help[] =
	"Usage: ecr usage LOCATION [--repository NAME] [--from DATE] [--to DATE] [--prices FILE.json]\n"
	"                          [--months N] [--json]\n"
	"Show a registry's usage (stored bytes, bytes pushed and pulled, requests) per repository, the totals\n"
	"and a cost estimate.\n"
	"  LOCATION            ecr:///DATA/FOLDER, file:///DIR, http(s)://HOST[:PORT], docker://HOST, HOST[:PORT]\n"
	"  --repository NAME   only this repository\n"
	"  --from DATE         count transfers from this UTC day on (YYYY-MM-DD or epoch seconds)\n"
	"  --to DATE           ... up to this moment (exclusive; rounded up to a whole day)\n"
	"  --prices FILE.json  a price table (docs/usage.md; default: Amazon ECR's us-east-1 list prices)\n"
	"  --months N          the period the estimate covers (default: the window's days / 30.4375, else 1)\n"
	"  --json              JSON output\n"
	"  --plain-http, --tls-verify=BOOL, --creds USER:PASS   as for the other commands\n";

enum { U_REPO = 256, U_FROM, U_TO, U_PRICES, U_MONTHS, U_JSON, U_PLAIN, U_TLS, U_CREDS, U_HELP };

static const struct option usage_options[] = {
	{ "repository", required_argument, NULL, U_REPO },
	{ "from", required_argument, NULL, U_FROM },
	{ "to", required_argument, NULL, U_TO },
	{ "prices", required_argument, NULL, U_PRICES },
	{ "months", required_argument, NULL, U_MONTHS },
	{ "json", no_argument, NULL, U_JSON },
	{ "plain-http", no_argument, NULL, U_PLAIN },
	{ "tls-verify", optional_argument, NULL, U_TLS },
	{ "creds", required_argument, NULL, U_CREDS },
	{ "help", no_argument, NULL, U_HELP },
	{ NULL, 0, NULL, 0 },
};

static int usage_fail(const char *msg)
{
	fprintf(stderr, "ecr: usage: %s\nTry 'ecr usage --help'.\n", msg);
	return EXIT_USAGE;
}

static int usage_op_error(const char *what, int rc)
{
	const ecr_error *e = ecr_error_last();
	fprintf(stderr, "ecr: %s: %s (%s)\n", what, e->code ? e->message : "failed", ecr_error_name(rc));
	return 1;
}

/* YYYY-MM-DD (UTC midnight) or epoch seconds, into ms. */
static int parse_date(int64_t *out, const char *s)
{
	int y, m, d, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) == 3 && s[n] == '\0') {
		if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
			return -1;
		struct tm tm = { 0 };
		tm.tm_year = y - 1900;
		tm.tm_mon = m - 1;
		tm.tm_mday = d;
		time_t t = timegm(&tm);
		if (t == (time_t)-1 || tm.tm_mday != d)
			return -1;
		*out = (int64_t)t * 1000;
		return 0;
	}
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 253402300799LL)
		return -1;
	*out = (int64_t)v * 1000;
	return 0;
}

/* 1536 -> "1.5 KiB" */
static void human(char *out, size_t n, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%" PRIu64 " B", bytes);
	else
		snprintf(out, n, "%.1f %s", v, units[u]);
}

static void gen_usage(yajl_gen g, const ecr_usage *u)
{
	cli_gen_ki(g, "images", (long long)u->images);
	cli_gen_ki(g, "storedBytes", (long long)u->stored_bytes);
	cli_gen_ki(g, "storedBytesUnique", (long long)u->stored_bytes_unique);
	cli_gen_ki(g, "pushedBytes", (long long)u->pushed_bytes);
	cli_gen_ki(g, "pulledBytes", (long long)u->pulled_bytes);
	cli_gen_ki(g, "imagePushes", (long long)u->image_pushes);
	cli_gen_ki(g, "imagePulls", (long long)u->image_pulls);
	cli_gen_ki(g, "blobUploads", (long long)u->blob_uploads);
	cli_gen_ki(g, "blobDownloads", (long long)u->blob_downloads);
}

static void print_row(const char *name, const ecr_usage *u)
{
	char stored[32], pushed[32], pulled[32];
	human(stored, sizeof(stored), u->stored_bytes);
	human(pushed, sizeof(pushed), u->pushed_bytes);
	human(pulled, sizeof(pulled), u->pulled_bytes);
	printf("%-40s %7" PRIu64 " %12s %12s %12s %7" PRIu64 " %7" PRIu64 "\n", name, u->images, stored, pushed, pulled,
		u->image_pushes, u->image_pulls);
}

typedef struct usage_out {
	yajl_gen g; /* --json: the "repositories" array is open */
	size_t n;
} usage_out;

static int row_cb(const char *repository, const ecr_usage *usage, void *payload)
{
	usage_out *o = payload;
	if (o->g) {
		yajl_gen_map_open(o->g);
		cli_gen_kv(o->g, "repositoryName", repository);
		gen_usage(o->g, usage);
		yajl_gen_map_close(o->g);
	} else {
		print_row(repository, usage);
	}
	o->n++;
	return 0;
}

static void gen_double(yajl_gen g, const char *key, double v)
{
	cli_gen_str(g, key);
	yajl_gen_double(g, v);
}

int cli_cmd_usage(int argc, char **argv)
{
	const char *repository = NULL, *prices_path = NULL;
	int64_t from_ms = 0, to_ms = 0;
	double months = 0;
	bool json = false;
	cli_remote_opts ro = { false, true, NULL, NULL };
	ecr_registry *reg = NULL;
	ecr_repository *repo = NULL;
	ecr_price_table prices;
	ecr_usage total = ECR_USAGE_INIT;
	ecr_cost cost;
	usage_out o = { NULL, 0 };
	char *text = NULL, url[4200];
	int c, rc, status = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", usage_options, NULL)) != -1) {
		switch (c) {
		case U_REPO:
			repository = optarg;
			break;
		case U_FROM:
			if (parse_date(&from_ms, optarg))
				return usage_fail("--from takes YYYY-MM-DD or epoch seconds");
			break;
		case U_TO:
			if (parse_date(&to_ms, optarg) || to_ms == 0)
				return usage_fail("--to takes YYYY-MM-DD or epoch seconds");
			break;
		case U_PRICES:
			prices_path = optarg;
			break;
		case U_MONTHS: {
			char *end;
			months = strtod(optarg, &end);
			if (end == optarg || *end || !(months > 0) || months > 1200)
				return usage_fail("--months takes a number of months > 0");
			break;
		}
		case U_JSON:
			json = true;
			break;
		case U_PLAIN:
			ro.plain_http = true;
			break;
		case U_TLS:
			if (!optarg || !strcmp(optarg, "true"))
				ro.tls_verify = true;
			else if (!strcmp(optarg, "false"))
				ro.tls_verify = false;
			else
				return usage_fail("--tls-verify takes true or false");
			break;
		case U_CREDS:
			ro.creds = optarg;
			break;
		case U_HELP:
			fputs(usage_help, stdout);
			return 0;
		default:
			return usage_fail("unknown option or missing argument");
		}
	}
	if (argc - optind != 1)
		return usage_fail("expected LOCATION");
	if (to_ms && to_ms < from_ms)
		return usage_fail("--to is before --from");
	const char *loc = argv[optind];
	if (!months)
		months = to_ms ? (double)((to_ms - from_ms + 86399999) / 86400000) / 30.4375 : 1;
	if (months <= 0)
		months = 1;

	if (prices_path) {
		size_t len;
		if ((rc = cli_read_file(&text, &len, prices_path, 1 << 20)))
			return usage_op_error(prices_path, rc);
		rc = ecr_price_table_parse(&prices, text, len);
		free(text);
		if (rc)
			return usage_op_error(prices_path, rc);
	} else {
		ecr_price_table_default(&prices, ECR_PRICE_TABLE_VERSION);
	}

	/* ecr:///DIR (a data folder, as ecr:// locations name it, without "//REPO") -> file:///DIR */
	if (!strncmp(loc, "ecr://", 6)) {
		const char *path = loc + 6;
		size_t n = strlen(path);
		if (path[0] != '/')
			return usage_fail("expected ecr:///ABSOLUTE/DATA/FOLDER");
		const char *repo_sep = strstr(path + 1, "//");
		if (repo_sep) { /* ecr:///DIR//REPO: the repository too */
			if (repository)
				return usage_fail("the location names a repository and --repository another");
			repository = repo_sep + 2;
			n = (size_t)(repo_sep - path);
		}
		snprintf(url, sizeof(url), "file://%.*s", (int)n, path);
	} else if (!strncmp(loc, "docker://", 9)) {
		snprintf(url, sizeof(url), "%s", loc + 9);
	} else {
		snprintf(url, sizeof(url), "%s", loc);
	}
	if ((rc = cli_open_registry_url(&reg, url, &ro)))
		return usage_op_error(loc, rc);

	if (json) {
		o.g = cli_gen_new(true);
		yajl_gen_map_open(o.g);
	} else {
		printf("%-40s %7s %12s %12s %12s %7s %7s\n", "REPOSITORY", "IMAGES", "STORED", "PUSHED", "PULLED", "PUSHES",
			"PULLS");
	}
	if (repository) {
		if ((rc = ecr_repository_open(&repo, reg, repository)) ||
			(rc = ecr_repository_usage(&total, repo, from_ms, to_ms))) {
			status = usage_op_error(repository, rc);
			goto done;
		}
		if (o.g) {
			cli_gen_kv(o.g, "repositoryName", repository);
		} else {
			print_row(repository, &total);
		}
	} else {
		if (o.g) {
			cli_gen_str(o.g, "repositories");
			yajl_gen_array_open(o.g);
		}
		if ((rc = ecr_registry_usage_foreach(reg, from_ms, to_ms, row_cb, &o))) {
			status = usage_op_error(loc, rc);
			goto done;
		}
		if (o.g)
			yajl_gen_array_close(o.g);
		if ((rc = ecr_registry_usage(&total, reg, from_ms, to_ms))) {
			status = usage_op_error(loc, rc);
			goto done;
		}
	}
	if ((rc = ecr_usage_estimate(&cost, &total, &prices, months))) {
		status = usage_op_error("estimate", rc);
		goto done;
	}
	if (o.g) {
		char when[40];
		cli_gen_str(o.g, "total");
		yajl_gen_map_open(o.g);
		cli_gen_ki(o.g, "repositoryCount", (long long)total.repositories);
		gen_usage(o.g, &total);
		yajl_gen_map_close(o.g);
		cli_gen_str(o.g, "window");
		yajl_gen_map_open(o.g);
		if (total.from_ms) {
			cli_iso8601(when, sizeof(when), total.from_ms);
			cli_gen_kv(o.g, "from", when);
		} else {
			cli_gen_kv(o.g, "from", NULL);
		}
		if (total.to_ms) {
			cli_iso8601(when, sizeof(when), total.to_ms);
			cli_gen_kv(o.g, "to", when);
		} else {
			cli_gen_kv(o.g, "to", NULL);
		}
		yajl_gen_map_close(o.g);
		cli_gen_str(o.g, "estimate");
		yajl_gen_map_open(o.g);
		gen_double(o.g, "months", months);
		gen_double(o.g, "storageUsd", cost.storage_usd);
		gen_double(o.g, "transferInUsd", cost.transfer_in_usd);
		gen_double(o.g, "transferOutUsd", cost.transfer_out_usd);
		gen_double(o.g, "totalUsd", cost.total_usd);
		yajl_gen_map_close(o.g);
		yajl_gen_map_close(o.g);
		char *out = cli_gen_take(o.g, NULL);
		if (out) {
			printf("%s\n", out);
			free(out);
		}
	} else {
		char unique[32];
		if (!repository)
			print_row("TOTAL", &total);
		human(unique, sizeof(unique), total.stored_bytes_unique);
		printf("\nstored once across the registry: %s (%" PRIu64 " bytes)\n", unique, total.stored_bytes_unique);
		printf("blob uploads: %" PRIu64 ", blob downloads: %" PRIu64 "\n", total.blob_uploads, total.blob_downloads);
		printf("estimate for %.2f month(s): storage $%.2f + transfer in $%.2f + transfer out $%.2f = $%.2f\n",
			months, cost.storage_usd, cost.transfer_in_usd, cost.transfer_out_usd, cost.total_usd);
	}
done:
	if (o.g)
		yajl_gen_free(o.g);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	return status;
}
