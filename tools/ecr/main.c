/*
 * ecr: a command-line client for container registries (libecr's public API), named after skopeo's transports.
 *
 *   ecr copy [OPTIONS] SRC DST       ecr login / logout           ecr ls / images REPO / tags REPO
 *   ecr inspect LOCATION             ecr rm LOCATION              ecr lifecycle preview --policy FILE REPO
 *   ecr scan LOCATION [--vuln-db PATH]...
 *
 * Exit status: 0 success, 1 the operation failed (message on stderr), 2 usage error. See docs/cli.md.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char usage_text[] =
	"Usage: ecr COMMAND [OPTION]... ARGS\n"
	"A client for container registries: Amazon ECR, ecrd, any OCI registry, local data folders,\n"
	"OCI image layouts and docker save archives.\n"
	"\n"
	"Commands:\n"
	"  copy SRC DST                 copy an image (with its platforms, optionally its referrers)\n"
	"  inspect LOCATION             show an image: digest, media type, size, tags, platforms, config\n"
	"  rm LOCATION                  remove a tag (LOCATION with :TAG) or an image (with @DIGEST)\n"
	"  ls                           list the repositories of a registry\n"
	"  images REPO                  list the images of a repository\n"
	"  tags REPO                    list the tags of a repository\n"
	"  login [URL]                  get a registry token (ECR GetAuthorizationToken) and store it\n"
	"  logout [URL]                 remove the stored credentials of a registry\n"
	"  lifecycle preview --policy FILE REPO   what a lifecycle policy would do to a repository's images\n"
	"  scan LOCATION [--vuln-db PATH]...      scan an image (locally with --vuln-db, else the registry's result)\n"
	"  usage LOCATION [--repository NAME] [--from DATE] [--to DATE] [--prices FILE] [--months N]\n"
	"                               a registry's usage and cost estimate (ecr usage --help)\n"
	"\n"
	"Locations (SRC, DST, LOCATION):\n"
	"  docker://HOST[:PORT]/REPO[:TAG|@DIGEST]   a remote registry over https (http with --plain-http)\n"
	"  ecr:///DATA/FOLDER//REPO[:TAG|@DIGEST]    a local libecr data folder (absolute path, then \"//\",\n"
	"                                            then the repository)\n"
	"  oci:DIR[:TAG|@DIGEST]                     an OCI image layout folder\n"
	"  docker-archive:FILE[:NAME:TAG|:@N]        a docker save tarball\n"
	"  Without :TAG or @DIGEST, docker:// and ecr:// mean :latest; oci: and docker-archive: sources\n"
	"  their only image.\n"
	"REPO: a location (docker://HOST/REPO, ecr:///DIR//REPO, oci:DIR) or a repository name of the\n"
	"  registry given by --registry URL, else $ECR_REGISTRY, $AWS_ENDPOINT_URL_ECR, $AWS_ENDPOINT_URL.\n"
	"\n"
	"Options:\n"
	"  --json                       JSON output (copy: JSON lines of progress, then {\"digest\": ...})\n"
	"  --quiet, -q                  copy: print only the final digest\n"
	"  --all                        copy every platform of an index (the default)\n"
	"  --platform OS/ARCH[/VARIANT] copy only these platforms of an index (repeatable)\n"
	"  --referrers                  copy the referrers (signatures, SBOMs) too\n"
	"  --parallel N                 blobs moved at once (1-16, default 4)\n"
	"  --registry URL               https://HOST[:PORT], http://..., file:///DIR or HOST[:PORT]\n"
	"  --plain-http, --src-plain-http, --dest-plain-http   use http:// instead of https://\n"
	"  --tls-verify=BOOL, --src-tls-verify=BOOL, --dest-tls-verify=BOOL   check TLS certificates (true)\n"
	"  --creds, --src-creds, --dest-creds USER:PASS   credentials (default: the auth file, then AWS)\n"
	"  --endpoint-url URL           the ECR API endpoint (default: $AWS_ENDPOINT_URL_ECR, $AWS_ENDPOINT_URL,\n"
	"                               else the registry itself)\n"
	"  --raw                        inspect: print the manifest as it is\n"
	"  --policy FILE                lifecycle preview: the policy to try\n"
	"  --vuln-db PATH               scan: an OSV file, folder or zip (repeatable)\n"
	"  --help, --version\n"
	"\n"
	"Credentials are read from and stored in ${REGISTRY_AUTH_FILE:-$XDG_RUNTIME_DIR/containers/auth.json}\n"
	"(else ~/.config/containers/auth.json), the file podman and skopeo use.\n"
	"Exit status: 0 success, 1 the operation failed, 2 usage error.\n";

enum {
	O_JSON = 256, O_ALL, O_PLATFORM, O_REFERRERS, O_PARALLEL, O_REGISTRY, O_PLAIN_HTTP, O_SRC_PLAIN_HTTP,
	O_DEST_PLAIN_HTTP, O_TLS_VERIFY, O_SRC_TLS_VERIFY, O_DEST_TLS_VERIFY, O_CREDS, O_SRC_CREDS, O_DEST_CREDS,
	O_ENDPOINT, O_RAW, O_POLICY, O_VULNDB, O_HELP, O_VERSION
};

static const struct option long_options[] = {
	{ "json", no_argument, NULL, O_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "all", no_argument, NULL, O_ALL },
	{ "platform", required_argument, NULL, O_PLATFORM },
	{ "referrers", no_argument, NULL, O_REFERRERS },
	{ "parallel", required_argument, NULL, O_PARALLEL },
	{ "registry", required_argument, NULL, O_REGISTRY },
	{ "plain-http", no_argument, NULL, O_PLAIN_HTTP },
	{ "src-plain-http", no_argument, NULL, O_SRC_PLAIN_HTTP },
	{ "dest-plain-http", no_argument, NULL, O_DEST_PLAIN_HTTP },
	{ "tls-verify", optional_argument, NULL, O_TLS_VERIFY },
	{ "src-tls-verify", optional_argument, NULL, O_SRC_TLS_VERIFY },
	{ "dest-tls-verify", optional_argument, NULL, O_DEST_TLS_VERIFY },
	{ "creds", required_argument, NULL, O_CREDS },
	{ "src-creds", required_argument, NULL, O_SRC_CREDS },
	{ "dest-creds", required_argument, NULL, O_DEST_CREDS },
	{ "endpoint-url", required_argument, NULL, O_ENDPOINT },
	{ "raw", no_argument, NULL, O_RAW },
	{ "policy", required_argument, NULL, O_POLICY },
	{ "vuln-db", required_argument, NULL, O_VULNDB },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

#define MAX_LIST 64

typedef struct args {
	bool json, quiet, all, referrers, raw, help;
	unsigned parallel;
	const char *platforms[MAX_LIST];
	size_t nplatforms;
	const char *vulndbs[MAX_LIST];
	size_t nvulndbs;
	const char *registry, *policy;
	cli_remote_opts src, dst; /* one-location commands use src */
	char **pos;
	int npos;
} args;

static int usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "ecr: %s%s%s\nTry 'ecr --help'.\n", cmd ? cmd : "", cmd ? ": " : "", msg);
	return EXIT_USAGE;
}

/* "ecr: <what>: <message> (<ECR_E name>)"; usage errors (bad locations) exit 2. */
static int op_error(const char *what, int rc)
{
	const ecr_error *e = ecr_error_last();
	fprintf(stderr, "ecr: %s: %s (%s)\n", what, e->code ? e->message : "failed", ecr_error_name(rc));
	return 1;
}

static int parse_bool(bool *out, const char *v)
{
	if (!v || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	return -1;
}

static int parse_args(args *a, const char *cmd, int argc, char **argv)
{
	int c;
	memset(a, 0, sizeof(*a));
	a->src.tls_verify = a->dst.tls_verify = true;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "qh", long_options, NULL)) != -1) {
		switch (c) {
		case O_JSON:
			a->json = true;
			break;
		case 'q':
			a->quiet = true;
			break;
		case O_ALL:
			a->all = true;
			break;
		case O_PLATFORM:
			if (a->nplatforms == MAX_LIST)
				return usage_error(cmd, "too many --platform");
			a->platforms[a->nplatforms++] = optarg;
			break;
		case O_REFERRERS:
			a->referrers = true;
			break;
		case O_PARALLEL: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 16)
				return usage_error(cmd, "--parallel takes 1 to 16");
			a->parallel = (unsigned)n;
			break;
		}
		case O_REGISTRY:
			a->registry = optarg;
			break;
		case O_PLAIN_HTTP:
			a->src.plain_http = a->dst.plain_http = true;
			break;
		case O_SRC_PLAIN_HTTP:
			a->src.plain_http = true;
			break;
		case O_DEST_PLAIN_HTTP:
			a->dst.plain_http = true;
			break;
		case O_TLS_VERIFY:
		case O_SRC_TLS_VERIFY:
		case O_DEST_TLS_VERIFY: {
			bool v;
			if (parse_bool(&v, optarg))
				return usage_error(cmd, "--tls-verify takes true or false");
			if (c != O_DEST_TLS_VERIFY)
				a->src.tls_verify = v;
			if (c != O_SRC_TLS_VERIFY)
				a->dst.tls_verify = v;
			break;
		}
		case O_CREDS:
			a->src.creds = a->dst.creds = optarg;
			break;
		case O_SRC_CREDS:
			a->src.creds = optarg;
			break;
		case O_DEST_CREDS:
			a->dst.creds = optarg;
			break;
		case O_ENDPOINT:
			a->src.endpoint_url = a->dst.endpoint_url = optarg;
			break;
		case O_RAW:
			a->raw = true;
			break;
		case O_POLICY:
			a->policy = optarg;
			break;
		case O_VULNDB:
			if (a->nvulndbs == MAX_LIST)
				return usage_error(cmd, "too many --vuln-db");
			a->vulndbs[a->nvulndbs++] = optarg;
			break;
		case 'h':
		case O_HELP:
			a->help = true;
			break;
		case O_VERSION:
			printf("ecr %s\n", ecr_version());
			exit(0);
		default: {
			char msg[256];
			snprintf(msg, sizeof(msg), "unknown or incomplete option '%s'", argv[optind - 1]);
			return usage_error(cmd, msg);
		}
		}
	}
	a->pos = argv + optind;
	a->npos = argc - optind;
	return 0;
}

static void print_json(yajl_gen g)
{
	char *text = cli_gen_take(g, NULL);
	if (text) {
		printf("%s\n", text);
		free(text);
	}
}

static const char *registry_from_env(const args *a)
{
	const char *r = a->registry;
	if (!r || !*r)
		r = getenv("ECR_REGISTRY");
	if (!r || !*r)
		r = getenv("AWS_ENDPOINT_URL_ECR");
	if (!r || !*r)
		r = getenv("AWS_ENDPOINT_URL");
	return r && *r ? r : NULL;
}

static bool looks_like_location(const char *s)
{
	return strstr(s, "://") || !strncmp(s, "oci:", 4) || !strncmp(s, "docker-archive:", 15) ||
		!strncmp(s, "ecr:", 4);
}

/* Open REPO: a location or a name in the --registry registry. Returns an exit status. */
static int open_repo(ecr_registry **reg_out, ecr_repository **repo_out, const args *a, const char *cmd,
	const char *text)
{
	int rc;
	*reg_out = NULL;
	*repo_out = NULL;
	if (looks_like_location(text)) {
		cli_location loc;
		cli_target t;
		if ((rc = cli_location_parse(&loc, text))) {
			cli_location_dispose(&loc);
			return usage_error(cmd, ecr_error_last()->message);
		}
		rc = cli_target_open(&t, &loc, &a->src, false);
		cli_location_dispose(&loc);
		if (rc) {
			cli_target_close(&t);
			return op_error(text, rc);
		}
		*reg_out = t.reg;
		*repo_out = t.repo;
		return 0;
	}
	const char *url = registry_from_env(a);
	if (!url)
		return usage_error(cmd, "no registry: give a location, --registry URL or set ECR_REGISTRY");
	if ((rc = cli_open_registry_url(reg_out, url, &a->src)))
		return op_error(url, rc);
	if ((rc = ecr_repository_open(repo_out, *reg_out, text))) {
		int st = op_error(text, rc);
		ecr_registry_free(*reg_out);
		*reg_out = NULL;
		return st;
	}
	return 0;
}

static const char *host_platform(void)
{
	struct utsname u;
	if (uname(&u) == 0 && (!strcmp(u.machine, "aarch64") || !strcmp(u.machine, "arm64")))
		return "linux/arm64";
	return "linux/amd64";
}

/* --- copy --- */

static int cmd_copy(args *a)
{
	cli_location sl, dl;
	cli_target src, dst;
	ecr_copy_options co;
	ecr_buf digest = ECR_BUF_INIT;
	cli_progress *pr = NULL;
	int rc, status = 0;
	const char *default_platform[1];

	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	memset(&sl, 0, sizeof(sl));
	memset(&dl, 0, sizeof(dl));
	if (a->npos != 2)
		return usage_error("copy", "expected SRC and DST");
	if (a->all && a->nplatforms)
		return usage_error("copy", "--all and --platform exclude each other");
	if (cli_location_parse(&sl, a->pos[0]) || cli_location_parse(&dl, a->pos[1])) {
		status = usage_error("copy", ecr_error_last()->message);
		goto done;
	}
	if (sl.kind == LOC_DOCKER_ARCHIVE && sl.digest) {
		status = usage_error("copy", "a docker-archive: source takes NAME:TAG or @N, not a digest");
		goto done;
	}
	if (dl.kind == LOC_DOCKER_ARCHIVE && a->all) {
		status = usage_error("copy", "a docker archive holds one image: --all is not possible");
		goto done;
	}
	if ((rc = cli_target_open(&src, &sl, &a->src, false))) {
		status = op_error("copy: source", rc);
		goto done;
	}
	if ((rc = cli_target_open(&dst, &dl, &a->dst, true))) {
		status = op_error("copy: destination", rc);
		goto done;
	}
	ecr_copy_options_init(&co, ECR_COPY_OPTIONS_VERSION);
	if (a->nplatforms) {
		co.platforms = a->platforms;
		co.platforms_count = a->nplatforms;
	} else if (dl.kind == LOC_DOCKER_ARCHIVE) {
		default_platform[0] = host_platform();
		co.platforms = default_platform;
		co.platforms_count = 1;
	}
	if (a->referrers)
		co.flags |= ECR_COPY_REFERRERS;
	co.parallel = a->parallel;
	cli_progress_mode mode = a->json ? PROGRESS_JSON : a->quiet ? PROGRESS_QUIET :
		isatty(2)		  ? PROGRESS_TTY :
					    PROGRESS_QUIET;
	if (!(pr = cli_progress_new(mode, mode == PROGRESS_JSON ? stdout : stderr))) {
		status = usage_error("copy", "out of memory");
		goto done;
	}
	co.progress_cb = cli_progress_cb;
	co.progress_payload = pr;
	const char *dst_tag = dl.kind == LOC_DOCKER_ARCHIVE ? NULL : dl.tag;
	if (!src.reference[0]) {
		status = usage_error("copy", "the source names no image (add :TAG or @DIGEST)");
		goto done;
	}
	if ((rc = ecr_image_copy(&digest, dst.repo, dst_tag, src.repo, src.reference, &co))) {
		status = op_error("copy", rc);
		goto done;
	}
	if (dl.kind == LOC_OCI && !dst_tag && (rc = cli_oci_add_untagged(dst.transport, digest.ptr))) {
		status = op_error("copy: index.json", rc);
		goto done;
	}
	if (dl.kind == LOC_DOCKER_ARCHIVE && (rc = cli_docker_archive_finish(dst.transport))) {
		status = op_error("copy: docker archive", rc);
		goto done;
	}
	cli_progress_finish(pr, digest.ptr);
done:
	cli_progress_free(pr);
	ecr_buf_dispose(&digest);
	cli_target_close(&dst);
	cli_target_close(&src);
	cli_location_dispose(&sl);
	cli_location_dispose(&dl);
	return status;
}

/* --- login / logout --- */

static int cmd_login(args *a, bool logout)
{
	const char *cmd = logout ? "logout" : "login";
	const char *url = a->npos == 1 ? a->pos[0] : registry_from_env(a);
	ecr_registry *reg = NULL;
	ecr_buf token = ECR_BUF_INIT;
	int64_t expires = 0;
	char *host = NULL;
	int rc, status = 0;

	if (a->npos > 1)
		return usage_error(cmd, "expected at most one registry URL");
	if (!url)
		return usage_error(cmd, "no registry: give a URL, --registry URL or set ECR_REGISTRY");
	if (!strncmp(url, "docker://", 9))
		url += 9;
	if (!(host = cli_url_host(url)) || !*host) {
		free(host);
		return usage_error(cmd, "no host in the registry URL");
	}
	if (logout) {
		if ((rc = cli_authfile_set(host, NULL, NULL)))
			status = op_error(cmd, rc);
		else if (!a->quiet)
			printf("Removed login credentials for %s\n", host);
		goto done;
	}
	/* no stored credentials for the login itself: AWS credentials only (or --creds) */
	if ((rc = cli_open_registry_url(&reg, url, &a->src))) {
		status = op_error(cmd, rc);
		goto done;
	}
	if ((rc = ecr_auth_token_create(&token, &expires, reg, NULL))) {
		status = op_error(cmd, rc);
		goto done;
	}
	if ((rc = cli_authfile_set(host, "AWS", token.ptr))) {
		status = op_error(cmd, rc);
		goto done;
	}
	if (a->json) {
		char when[40];
		yajl_gen g = cli_gen_new(false);
		cli_iso8601(when, sizeof(when), expires);
		yajl_gen_map_open(g);
		cli_gen_kv(g, "registry", host);
		cli_gen_kv(g, "expiresAt", when);
		yajl_gen_map_close(g);
		print_json(g);
		yajl_gen_free(g);
	} else if (!a->quiet) {
		printf("Login Succeeded!\n");
	}
done:
	if (token.ptr)
		memset(token.ptr, 0, token.size);
	ecr_buf_dispose(&token);
	ecr_registry_free(reg);
	free(host);
	return status;
}

/* --- ls --- */

typedef struct ls_state {
	yajl_gen g;
	bool json;
	size_t n;
} ls_state;

static int ls_cb(ecr_repository *repo, void *payload)
{
	ls_state *s = payload;
	char when[40];
	cli_iso8601(when, sizeof(when), ecr_repository_created_at(repo));
	if (s->json) {
		yajl_gen_map_open(s->g);
		cli_gen_kv(s->g, "name", ecr_repository_name(repo));
		cli_gen_kv(s->g, "uri", ecr_repository_uri(repo));
		cli_gen_kv(s->g, "arn", ecr_repository_arn(repo));
		cli_gen_kv(s->g, "createdAt", when);
		yajl_gen_map_close(s->g);
	} else {
		if (s->n == 0)
			printf("%-40s %-60s %s\n", "NAME", "URI", "CREATED");
		printf("%-40s %-60s %s\n", ecr_repository_name(repo), ecr_repository_uri(repo), when);
	}
	s->n++;
	return 0;
}

static int cmd_ls(args *a)
{
	const char *url = registry_from_env(a);
	ecr_registry *reg = NULL;
	ls_state s = { NULL, a->json, 0 };
	int rc, status = 0;

	if (a->npos == 1)
		url = a->pos[0]; /* ecr ls URL */
	else if (a->npos > 1)
		return usage_error("ls", "expected at most one registry URL");
	if (!url)
		return usage_error("ls", "no registry: --registry URL or set ECR_REGISTRY");
	if ((rc = cli_open_registry_url(&reg, url, &a->src)))
		return op_error(url, rc);
	if (a->json) {
		s.g = cli_gen_new(true);
		yajl_gen_array_open(s.g);
	}
	if ((rc = ecr_repository_foreach(reg, ls_cb, &s)))
		status = op_error("ls", rc);
	if (a->json) {
		yajl_gen_array_close(s.g);
		if (!status)
			print_json(s.g);
		yajl_gen_free(s.g);
	}
	ecr_registry_free(reg);
	return status;
}

/* --- images / tags --- */

static int cmd_images(args *a)
{
	ecr_registry *reg;
	ecr_repository *repo;
	ecr_image_iterator *it = NULL;
	ecr_image *img;
	yajl_gen g = NULL;
	int rc, status;
	size_t n = 0;

	if (a->npos != 1)
		return usage_error("images", "expected REPO");
	if ((status = open_repo(&reg, &repo, a, "images", a->pos[0])))
		return status;
	if (a->json) {
		g = cli_gen_new(true);
		yajl_gen_array_open(g);
	}
	if ((rc = ecr_image_iterator_new(&it, repo, NULL))) {
		status = op_error("images", rc);
		goto done;
	}
	while ((rc = ecr_image_iterator_next(&img, it)) == 0) {
		char when[40];
		cli_iso8601(when, sizeof(when), ecr_image_pushed_at(img));
		if (g) {
			yajl_gen_map_open(g);
			cli_gen_kv(g, "digest", ecr_image_digest(img));
			cli_gen_kv(g, "mediaType", ecr_image_media_type(img));
			cli_gen_ki(g, "size", (long long)ecr_image_size(img));
			cli_gen_kv(g, "pushedAt", when);
			cli_gen_str(g, "tags");
			yajl_gen_array_open(g);
			for (size_t i = 0; i < ecr_image_tag_count(img); i++)
				cli_gen_str(g, ecr_image_tag(img, i));
			yajl_gen_array_close(g);
			yajl_gen_map_close(g);
		} else {
			char tags[512] = "";
			size_t o = 0;
			for (size_t i = 0; i < ecr_image_tag_count(img) && o < sizeof(tags); i++)
				o += (size_t)snprintf(tags + o, sizeof(tags) - o, "%s%s", i ? "," : "", ecr_image_tag(img, i));
			if (n++ == 0)
				printf("%-71s %-12s %-20s %s\n", "DIGEST", "SIZE", "PUSHED", "TAGS");
			printf("%-71s %-12llu %-20s %s\n", ecr_image_digest(img), (unsigned long long)ecr_image_size(img),
				when, tags);
		}
	}
	if (rc != ECR_ITEROVER) {
		status = op_error("images", rc);
		goto done;
	}
	if (g) {
		yajl_gen_array_close(g);
		print_json(g);
	}
done:
	if (g)
		yajl_gen_free(g);
	ecr_image_iterator_free(it);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	return status;
}

static int cmd_tags(args *a)
{
	ecr_registry *reg;
	ecr_repository *repo;
	ecr_tag_iterator *it = NULL;
	yajl_gen g = NULL;
	const char *tag, *digest;
	int rc, status;

	if (a->npos != 1)
		return usage_error("tags", "expected REPO");
	if ((status = open_repo(&reg, &repo, a, "tags", a->pos[0])))
		return status;
	if (a->json) {
		g = cli_gen_new(true);
		yajl_gen_map_open(g);
		cli_gen_kv(g, "name", ecr_repository_name(repo));
		cli_gen_str(g, "tags");
		yajl_gen_array_open(g);
	}
	if ((rc = ecr_tag_iterator_new(&it, repo, NULL))) {
		status = op_error("tags", rc);
		goto done;
	}
	while ((rc = ecr_tag_iterator_next(&tag, &digest, it)) == 0) {
		if (g) {
			yajl_gen_map_open(g);
			cli_gen_kv(g, "tag", tag);
			cli_gen_kv(g, "digest", digest);
			yajl_gen_map_close(g);
		} else {
			printf("%-40s %s\n", tag, digest ? digest : "");
		}
	}
	if (rc != ECR_ITEROVER) {
		status = op_error("tags", rc);
		goto done;
	}
	if (g) {
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		print_json(g);
	}
done:
	if (g)
		yajl_gen_free(g);
	ecr_tag_iterator_free(it);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	return status;
}

/* --- inspect --- */

static int read_blob(char **out, ecr_repository *repo, const char *digest, size_t max)
{
	ecr_blob *b = NULL;
	char *buf = NULL;
	size_t got = 0, n;
	int rc;
	*out = NULL;
	if ((rc = ecr_blob_open(&b, repo, digest, 0, 0)))
		return rc;
	if (ecr_blob_size(b) > max) {
		ecr_blob_free(b);
		return cli_fail(ECR_ELIMIT, "the blob %s is larger than %zu bytes", digest, max);
	}
	size_t size = (size_t)ecr_blob_size(b);
	if (!(buf = malloc(size + 1))) {
		ecr_blob_free(b);
		return cli_fail(ECR_ENOMEM, "out of memory");
	}
	while (got < size && (rc = ecr_blob_read(b, buf + got, size - got, &n)) == 0 && n)
		got += n;
	ecr_blob_free(b);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[got] = '\0';
	*out = buf;
	return 0;
}

static int cmd_inspect(args *a)
{
	cli_location loc;
	cli_target t;
	ecr_image *img = NULL;
	const void *manifest;
	size_t mlen;
	char *mtext = NULL, *ctext = NULL;
	yajl_val m = NULL, cfg = NULL;
	yajl_gen g = NULL;
	int rc, status = 0;

	memset(&t, 0, sizeof(t));
	if (a->npos != 1)
		return usage_error("inspect", "expected LOCATION");
	if (cli_location_parse(&loc, a->pos[0])) {
		status = usage_error("inspect", ecr_error_last()->message);
		goto done;
	}
	if ((rc = cli_target_open(&t, &loc, &a->src, false))) {
		status = op_error("inspect", rc);
		goto done;
	}
	if (!t.reference[0]) {
		status = usage_error("inspect", "the location names no image (add :TAG or @DIGEST)");
		goto done;
	}
	if ((rc = ecr_image_get(&img, t.repo, t.reference, 0)) || (rc = ecr_image_manifest(&manifest, &mlen, img))) {
		status = op_error("inspect", rc);
		goto done;
	}
	if (a->raw) {
		fwrite(manifest, 1, mlen, stdout);
		if (isatty(1))
			putchar('\n');
		goto done;
	}
	if (!(mtext = strndup(manifest, mlen)) || !(m = yajl_tree_parse(mtext, NULL, 0))) {
		status = op_error("inspect", cli_fail(ECR_EINVALID, "the manifest is not JSON"));
		goto done;
	}
	yajl_val platforms = cli_json_get(m, "manifests");
	const char *cfg_digest = cli_json_str(cli_json_get(m, "config"), "digest");
	if (cfg_digest && cli_digest_valid(cfg_digest) && read_blob(&ctext, t.repo, cfg_digest, 16u << 20) == 0)
		cfg = yajl_tree_parse(ctext, NULL, 0);
	ecr_error_clear();
	g = cli_gen_new(true);
	yajl_gen_map_open(g);
	cli_gen_kv(g, "name", loc.repository);
	cli_gen_kv(g, "digest", ecr_image_digest(img));
	cli_gen_kv(g, "mediaType", ecr_image_media_type(img));
	cli_gen_ki(g, "manifestSize", (long long)ecr_image_manifest_size(img));
	cli_gen_ki(g, "size", (long long)ecr_image_size(img));
	cli_gen_str(g, "tags");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < ecr_image_tag_count(img); i++)
		cli_gen_str(g, ecr_image_tag(img, i));
	yajl_gen_array_close(g);
	if (ecr_image_artifact_type(img))
		cli_gen_kv(g, "artifactType", ecr_image_artifact_type(img));
	if (YAJL_IS_ARRAY(platforms)) {
		cli_gen_str(g, "platforms");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < platforms->u.array.len; i++) {
			yajl_val e = platforms->u.array.values[i], p = cli_json_get(e, "platform");
			yajl_gen_map_open(g);
			cli_gen_kv(g, "digest", cli_json_str(e, "digest"));
			cli_gen_kv(g, "mediaType", cli_json_str(e, "mediaType"));
			cli_gen_kv(g, "os", cli_json_str(p, "os"));
			cli_gen_kv(g, "architecture", cli_json_str(p, "architecture"));
			if (cli_json_str(p, "variant"))
				cli_gen_kv(g, "variant", cli_json_str(p, "variant"));
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
	}
	if (cfg_digest) {
		cli_gen_kv(g, "config", cfg_digest);
		cli_gen_kv(g, "created", cli_json_str(cfg, "created"));
		cli_gen_kv(g, "architecture", cli_json_str(cfg, "architecture"));
		cli_gen_kv(g, "os", cli_json_str(cfg, "os"));
		if (cli_json_str(cfg, "variant"))
			cli_gen_kv(g, "variant", cli_json_str(cfg, "variant"));
	}
	yajl_val layers = cli_json_get(m, "layers");
	if (YAJL_IS_ARRAY(layers)) {
		cli_gen_str(g, "layers");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < layers->u.array.len; i++) {
			yajl_val l = layers->u.array.values[i];
			yajl_val size = cli_json_get(l, "size");
			yajl_gen_map_open(g);
			cli_gen_kv(g, "digest", cli_json_str(l, "digest"));
			cli_gen_kv(g, "mediaType", cli_json_str(l, "mediaType"));
			cli_gen_ki(g, "size", size && YAJL_IS_INTEGER(size) ? YAJL_GET_INTEGER(size) : 0);
			yajl_gen_map_close(g);
		}
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
	if (a->json) {
		print_json(g);
	} else {
		printf("Name:          %s\n", loc.repository);
		printf("Digest:        %s\n", ecr_image_digest(img));
		printf("Media type:    %s\n", ecr_image_media_type(img));
		printf("Size:          %llu\n", (unsigned long long)ecr_image_size(img));
		printf("Tags:         ");
		for (size_t i = 0; i < ecr_image_tag_count(img); i++)
			printf(" %s", ecr_image_tag(img, i));
		printf("\n");
		if (YAJL_IS_ARRAY(platforms)) {
			printf("Platforms:\n");
			for (size_t i = 0; i < platforms->u.array.len; i++) {
				yajl_val e = platforms->u.array.values[i], p = cli_json_get(e, "platform");
				const char *os = cli_json_str(p, "os"), *arch = cli_json_str(p, "architecture"),
					   *var = cli_json_str(p, "variant");
				printf("  %s/%s%s%s  %s\n", os ? os : "?", arch ? arch : "?", var ? "/" : "", var ? var : "",
					cli_json_str(e, "digest") ? cli_json_str(e, "digest") : "");
			}
		}
		if (cfg_digest) {
			const char *v;
			printf("Config:        %s\n", cfg_digest);
			printf("Created:       %s\n", (v = cli_json_str(cfg, "created")) ? v : "");
			printf("Architecture:  %s\n", (v = cli_json_str(cfg, "architecture")) ? v : "");
			printf("OS:            %s\n", (v = cli_json_str(cfg, "os")) ? v : "");
		}
		if (YAJL_IS_ARRAY(layers)) {
			printf("Layers:\n");
			for (size_t i = 0; i < layers->u.array.len; i++) {
				const char *d = cli_json_str(layers->u.array.values[i], "digest");
				printf("  %s\n", d ? d : "?");
			}
		}
	}
done:
	if (g)
		yajl_gen_free(g);
	yajl_tree_free(m);
	yajl_tree_free(cfg);
	free(mtext);
	free(ctext);
	ecr_image_free(img);
	cli_target_close(&t);
	cli_location_dispose(&loc);
	return status;
}

/* --- rm --- */

static int cmd_rm(args *a)
{
	cli_location loc;
	cli_target t;
	ecr_buf d = ECR_BUF_INIT;
	int rc, status = 0;

	memset(&t, 0, sizeof(t));
	if (a->npos != 1)
		return usage_error("rm", "expected LOCATION");
	if (cli_location_parse(&loc, a->pos[0])) {
		status = usage_error("rm", ecr_error_last()->message);
		goto done;
	}
	if (loc.kind == LOC_DOCKER_ARCHIVE) {
		status = usage_error("rm", "a docker archive cannot be changed");
		goto done;
	}
	if (!loc.digest && !loc.tag) {
		status = usage_error("rm", "name a tag (:TAG) or an image (@DIGEST)");
		goto done;
	}
	if ((rc = cli_target_open(&t, &loc, &a->src, false))) {
		status = op_error("rm", rc);
		goto done;
	}
	if (loc.digest) {
		if ((rc = ecr_image_delete(t.repo, loc.digest))) {
			status = op_error("rm", rc);
			goto done;
		}
		if (a->json)
			printf("{\"deleted\":\"%s\"}\n", loc.digest);
		else
			printf("Deleted %s\n", loc.digest);
	} else {
		if ((rc = ecr_image_untag(&d, t.repo, loc.tag, 0))) {
			status = op_error("rm", rc);
			goto done;
		}
		yajl_gen g = cli_gen_new(false);
		yajl_gen_map_open(g);
		cli_gen_kv(g, "untagged", loc.tag);
		cli_gen_kv(g, "digest", d.size ? d.ptr : NULL);
		yajl_gen_map_close(g);
		if (a->json)
			print_json(g);
		else
			printf("Untagged %s (%s)\n", loc.tag, d.size ? d.ptr : "");
		yajl_gen_free(g);
	}
done:
	ecr_buf_dispose(&d);
	cli_target_close(&t);
	cli_location_dispose(&loc);
	return status;
}

/* --- lifecycle preview --- */

typedef struct preview_state {
	yajl_gen g;
	size_t n;
} preview_state;

static const char *action_name(ecr_lifecycle_action action)
{
	return action == ECR_LIFECYCLE_EXPIRE ? "EXPIRE" : action == ECR_LIFECYCLE_TRANSITION ? "TRANSITION" : "KEEP";
}

static int preview_cb(ecr_image *img, ecr_lifecycle_action action, uint32_t rule_priority, void *payload)
{
	preview_state *s = payload;
	char when[40];
	cli_iso8601(when, sizeof(when), ecr_image_pushed_at(img));
	if (s->g) {
		yajl_gen_map_open(s->g);
		cli_gen_kv(s->g, "imageDigest", ecr_image_digest(img));
		cli_gen_str(s->g, "imageTags");
		yajl_gen_array_open(s->g);
		for (size_t i = 0; i < ecr_image_tag_count(img); i++)
			cli_gen_str(s->g, ecr_image_tag(img, i));
		yajl_gen_array_close(s->g);
		cli_gen_kv(s->g, "imagePushedAt", when);
		cli_gen_kv(s->g, "action", action_name(action));
		cli_gen_ki(s->g, "appliedRulePriority", rule_priority);
		yajl_gen_map_close(s->g);
	} else {
		if (s->n == 0)
			printf("%-11s %-5s %-71s %s\n", "ACTION", "RULE", "DIGEST", "TAGS");
		printf("%-11s %-5u %-71s", action_name(action), rule_priority, ecr_image_digest(img));
		for (size_t i = 0; i < ecr_image_tag_count(img); i++)
			printf("%s%s", i ? "," : " ", ecr_image_tag(img, i));
		printf("\n");
	}
	s->n++;
	return 0;
}

static int cmd_lifecycle(args *a)
{
	ecr_registry *reg;
	ecr_repository *repo;
	preview_state s = { NULL, 0 };
	char *text = NULL;
	int rc, status;

	if (a->npos != 2 || strcmp(a->pos[0], "preview"))
		return usage_error("lifecycle", "expected: lifecycle preview [--policy FILE] REPO");
	if (a->policy && (rc = cli_read_file(&text, NULL, a->policy, 1u << 20)))
		return op_error(a->policy, rc);
	if ((status = open_repo(&reg, &repo, a, "lifecycle", a->pos[1]))) {
		free(text);
		return status;
	}
	if (a->json) {
		s.g = cli_gen_new(true);
		yajl_gen_array_open(s.g);
	}
	if ((rc = ecr_repository_lifecycle_preview(repo, text, preview_cb, &s)))
		status = op_error("lifecycle preview", rc);
	else if (s.g) {
		yajl_gen_array_close(s.g);
		print_json(s.g);
	}
	if (s.g)
		yajl_gen_free(s.g);
	free(text);
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	return status;
}

/* --- scan --- */

static void print_report(const ecr_scan_report *rep, const char *digest, const char *status_name, const char *reason,
	bool json)
{
	static const ecr_severity sev[] = { ECR_SEVERITY_CRITICAL, ECR_SEVERITY_HIGH, ECR_SEVERITY_MEDIUM,
		ECR_SEVERITY_LOW, ECR_SEVERITY_INFORMATIONAL, ECR_SEVERITY_UNDEFINED };
	size_t nf = rep ? ecr_scan_report_finding_count(rep) : 0;
	if (json) {
		yajl_gen g = cli_gen_new(true);
		yajl_gen_map_open(g);
		cli_gen_kv(g, "imageDigest", digest);
		cli_gen_kv(g, "status", status_name);
		if (reason)
			cli_gen_kv(g, "description", reason);
		if (rep) {
			cli_gen_kv(g, "os", ecr_scan_report_os(rep));
			cli_gen_kv(g, "ecosystem", ecr_scan_report_ecosystem(rep));
			if (ecr_scan_report_status_reason(rep))
				cli_gen_kv(g, "statusReason", ecr_scan_report_status_reason(rep));
			cli_gen_ki(g, "packages", (long long)ecr_scan_report_package_count(rep));
			cli_gen_str(g, "findingSeverityCounts");
			yajl_gen_map_open(g);
			for (size_t i = 0; i < sizeof(sev) / sizeof(sev[0]); i++)
				if (ecr_scan_report_severity_count(rep, sev[i]))
					cli_gen_ki(g, ecr_severity_name(sev[i]),
						(long long)ecr_scan_report_severity_count(rep, sev[i]));
			yajl_gen_map_close(g);
			cli_gen_str(g, "findings");
			yajl_gen_array_open(g);
			for (size_t i = 0; i < nf; i++) {
				const ecr_scan_finding *f = ecr_scan_report_finding(rep, i);
				yajl_gen_map_open(g);
				cli_gen_kv(g, "name", f->name);
				cli_gen_kv(g, "severity", ecr_severity_name(f->severity));
				cli_gen_kv(g, "package", f->package_name);
				cli_gen_kv(g, "version", f->package_version);
				cli_gen_kv(g, "fixedVersion", f->fixed_version);
				cli_gen_kv(g, "uri", f->uri);
				yajl_gen_map_close(g);
			}
			yajl_gen_array_close(g);
		}
		yajl_gen_map_close(g);
		print_json(g);
		yajl_gen_free(g);
		return;
	}
	printf("Image:     %s\nStatus:    %s\n", digest, status_name);
	if (reason)
		printf("Reason:    %s\n", reason);
	if (!rep)
		return;
	printf("OS:        %s\n", ecr_scan_report_os(rep) ? ecr_scan_report_os(rep) : "(unknown)");
	if (ecr_scan_report_status_reason(rep))
		printf("Note:      %s\n", ecr_scan_report_status_reason(rep));
	printf("Packages:  %zu\nFindings:  %zu", ecr_scan_report_package_count(rep), nf);
	for (size_t i = 0; i < sizeof(sev) / sizeof(sev[0]); i++)
		if (ecr_scan_report_severity_count(rep, sev[i]))
			printf(" %s=%zu", ecr_severity_name(sev[i]), ecr_scan_report_severity_count(rep, sev[i]));
	printf("\n");
	if (nf)
		printf("%-20s %-10s %-30s %-25s %s\n", "NAME", "SEVERITY", "PACKAGE", "VERSION", "FIXED IN");
	for (size_t i = 0; i < nf; i++) {
		const ecr_scan_finding *f = ecr_scan_report_finding(rep, i);
		printf("%-20s %-10s %-30s %-25s %s\n", f->name, ecr_severity_name(f->severity), f->package_name,
			f->package_version, f->fixed_version ? f->fixed_version : "");
	}
}

static int cmd_scan(args *a)
{
	cli_location loc;
	cli_target t;
	ecr_vulndb *db = NULL;
	ecr_scan_report *rep = NULL;
	ecr_image *img = NULL;
	ecr_buf reason = ECR_BUF_INIT;
	int rc, status = 0;

	memset(&t, 0, sizeof(t));
	if (a->npos != 1)
		return usage_error("scan", "expected LOCATION");
	if (cli_location_parse(&loc, a->pos[0])) {
		status = usage_error("scan", ecr_error_last()->message);
		goto done;
	}
	if ((rc = cli_target_open(&t, &loc, &a->src, false))) {
		status = op_error("scan", rc);
		goto done;
	}
	if (!t.reference[0]) {
		status = usage_error("scan", "the location names no image (add :TAG or @DIGEST)");
		goto done;
	}
	if ((rc = ecr_image_get(&img, t.repo, t.reference, 0))) {
		status = op_error("scan", rc);
		goto done;
	}
	if (a->nvulndbs) {
		if ((rc = ecr_vulndb_load(&db, a->vulndbs, a->nvulndbs))) {
			status = op_error("scan: vulnerability database", rc);
			goto done;
		}
		if (loc.kind == LOC_OCI)
			rc = ecr_scan_layout(&rep, loc.path, t.reference, db, NULL);
		else
			rc = ecr_scan_image(&rep, t.repo, t.reference, db, NULL);
		if (rc) {
			status = op_error("scan", rc);
			goto done;
		}
		print_report(rep, ecr_image_digest(img), "COMPLETE", NULL, a->json);
	} else {
		ecr_scan_status st;
		int64_t completed = 0;
		if ((rc = ecr_image_scan_result(&st, &reason, &completed, &rep, t.repo, ecr_image_digest(img)))) {
			status = op_error("scan", rc);
			goto done;
		}
		static const char *names[] = { "NONE", "IN_PROGRESS", "COMPLETE", "FAILED" };
		print_report(rep, ecr_image_digest(img), (unsigned)st < 4 ? names[st] : "UNKNOWN",
			reason.size ? reason.ptr : NULL, a->json);
	}
done:
	ecr_buf_dispose(&reason);
	ecr_scan_report_free(rep);
	ecr_vulndb_free(db);
	ecr_image_free(img);
	cli_target_close(&t);
	cli_location_dispose(&loc);
	return status;
}

int main(int argc, char **argv)
{
	args a;
	int status;

	if (argc < 2)
		return usage_error(NULL, "no command");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("ecr %s\n", ecr_version());
		return 0;
	}
	if (!strcmp(cmd, "usage")) { /* its own options (usage.c) */
		if (ecr_init() < 0) {
			fprintf(stderr, "ecr: cannot initialise libecr\n");
			return 1;
		}
		status = cli_cmd_usage(argc - 1, argv + 1);
		ecr_shutdown();
		return status;
	}
	if ((status = parse_args(&a, cmd, argc - 1, argv + 1)))
		return status;
	if (a.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (ecr_init() < 0) {
		fprintf(stderr, "ecr: cannot initialise libecr\n");
		return 1;
	}
	if (!strcmp(cmd, "copy") || !strcmp(cmd, "cp"))
		status = cmd_copy(&a);
	else if (!strcmp(cmd, "login"))
		status = cmd_login(&a, false);
	else if (!strcmp(cmd, "logout"))
		status = cmd_login(&a, true);
	else if (!strcmp(cmd, "ls"))
		status = cmd_ls(&a);
	else if (!strcmp(cmd, "images"))
		status = cmd_images(&a);
	else if (!strcmp(cmd, "tags"))
		status = cmd_tags(&a);
	else if (!strcmp(cmd, "inspect"))
		status = cmd_inspect(&a);
	else if (!strcmp(cmd, "rm"))
		status = cmd_rm(&a);
	else if (!strcmp(cmd, "lifecycle"))
		status = cmd_lifecycle(&a);
	else if (!strcmp(cmd, "scan"))
		status = cmd_scan(&a);
	else
		status = usage_error(NULL, "unknown command (see ecr --help)");
	ecr_shutdown();
	return status;
}
