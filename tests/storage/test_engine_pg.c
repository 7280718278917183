/* The whole engine on PostgreSQL (libecr/storage/meta_pg.c under every engine module): each case runs one
 * scenario through the public API twice, on a SQLite store and on a fresh PostgreSQL database, and the two
 * transcripts (every result, list and return code, in order) must be identical. The PostgreSQL databases are
 * created with an ICU en-US default collation where the server has ICU, so text ordering that depends on the
 * database's collation (rather than byte order, as SQLite's) shows up as a difference.
 *
 * The server: ../shared/services/postgres-test-server.sh (path in PG_TEST_SERVER), started once for the file
 * on a free port; a guard process stops it when this process ends, however it ends. Without the script or the
 * server binaries the tests are skipped. */
#define _GNU_SOURCE 1
#include "../helpers/helpers.h"
#include "../helpers/th_image.h"
#include "../helpers/th_pg.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ecr.h"
#include "libecr/engine/engine.h"
#include "libecr/engine/leases.h"
#include "libecr/engine/replication_queue.h"
#include "libecr/storage/meta.h"
#include "libecr/storage/meta_lease.h"
#include "libecr/storage/meta_replication.h"
#include "libecr/scan/scan_internal.h"

#include <pthread.h>

static int g_up;

/* --- the transcript --- */

static char *g_log;
static size_t g_log_len, g_log_cap;
static const char *g_backend;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if (g_log_len + (size_t)n + 2 > g_log_cap) {
		g_log_cap = (g_log_len + (size_t)n + 2) * 2;
		g_log = realloc(g_log, g_log_cap);
		assert_non_null(g_log);
	}
	va_start(ap, fmt);
	vsnprintf(g_log + g_log_len, g_log_cap - g_log_len, fmt, ap);
	va_end(ap);
	g_log_len += (size_t)n;
	g_log[g_log_len++] = '\n';
	g_log[g_log_len] = '\0';
}

/* Log a call's code; with its message on failure. */
static int rc_log(const char *what, int rc)
{
	if (rc < 0)
		out("%s -> %d (%s)", what, rc, ecr_error_last()->message);
	else
		out("%s -> %d", what, rc);
	return rc;
}
#define R(expr) rc_log(#expr, (expr))
/* Only the code (the message names a random id). */
#define RC(expr) out("%s -> %d", #expr, (expr))
/* A call that must succeed on both backends. */
#define OK(expr)                                                                                                       \
	do {                                                                                                           \
		int ok_rc_ = (expr);                                                                                   \
		if (ok_rc_ != 0)                                                                                       \
			fail_msg("%s: %s failed: %d %s", g_backend, #expr, ok_rc_,                                     \
			         ok_rc_ == TH_EBROKEN ? th_problem() : ecr_error_last()->message);                     \
		out("%s ok", #expr);                                                                                   \
	} while (0)

static ecr_meta_store *g_meta; /* the registry's (it owns it) */
static int64_t g_now;
static const char *g_region; /* of the registries opened; NULL: the default */
static int64_t test_clock(void *payload)
{
	(void)payload;
	return g_now;
}

/* --- backends --- */

static int g_dbseq;
static int g_icu = -1; /* whether CREATE DATABASE ... ICU works (probed once) */

static PGconn *admin_conn(void)
{
	PGconn *c = PQconnectdb(th_pg_url());
	assert_non_null(c);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	return c;
}

static int admin_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "# %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

/* A new empty database; its URL into url. */
static void new_database(char *url, size_t cap)
{
	char name[64], sql[512];
	snprintf(name, sizeof(name), "engine_%d_%d", (int)getpid(), ++g_dbseq);
	PGconn *c = admin_conn();
	if (g_icu != 0) {
		snprintf(sql, sizeof(sql),
		         "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
		         name);
		int rc = admin_exec(c, sql);
		if (g_icu < 0) {
			g_icu = rc == 0;
			fprintf(stderr, "# databases with %s\n",
			        g_icu ? "an ICU en-US collation" : "the default collation");
		}
		if (rc != 0)
			g_icu = 0;
	}
	if (g_icu == 0) {
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
		assert_int_equal(admin_exec(c, sql), 0);
	}
	PQfinish(c);
	/* th_pg_url() ends with /<database> */
	const char *slash = strrchr(th_pg_url(), '/');
	assert_non_null(slash);
	snprintf(url, cap, "%.*s/%s", (int)(slash - th_pg_url()), th_pg_url(), name);
}

typedef void (*scenario_fn)(ecr_registry *reg);

static char *run_on(scenario_fn fn, int pg)
{
	ecr_blob_store *blobs = NULL;
	ecr_meta_store *meta = NULL;
	ecr_registry *reg = NULL;
	char *dir = NULL, path[512];
	g_backend = pg ? "postgres" : "sqlite";
	if (pg) {
		char url[600];
		new_database(url, sizeof(url));
		assert_ok(ecr_meta_store_postgres_new(&meta, url, 0));
	} else {
		dir = th_tmpdir();
		assert_non_null(dir);
		snprintf(path, sizeof(path), "%s/meta.db", dir);
		assert_ok(ecr_meta_store_sqlite_new(&meta, path, 0));
	}
	assert_ok(ecr_blob_store_memory_new(&blobs));
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.clock_cb = test_clock;
	opts.region = g_region;
	g_now = 1760000000000LL;
	assert_ok(ecr_registry_open_storage(&reg, blobs, meta, &opts));
	g_meta = meta;
	g_log = NULL;
	g_log_len = g_log_cap = 0;
	out("backend-independent transcript");
	double t0 = th_now_s();
	fn(reg);
	fprintf(stderr, "# %s: %.2f s\n", g_backend, th_now_s() - t0);
	ecr_registry_free(reg);
	if (dir)
		th_rmtree(dir); /* frees dir */
	char *log = g_log;
	g_log = NULL;
	return log;
}

/* Run on both and compare, line by line for a readable failure. */
static void run_case(scenario_fn fn)
{
	if (!g_up)
		skip();
	char *a = run_on(fn, 0);
	char *b = run_on(fn, 1);
	if (getenv("ENGINE_PG_DUMP")) {
		/* ENGINE_PG_DUMP=folder: both transcripts, to read */
		char path[512];
		for (int i = 0; i < 2; i++) {
			snprintf(path, sizeof(path), "%s/%d-%s.txt", getenv("ENGINE_PG_DUMP"), g_dbseq,
			         i ? "pg" : "sqlite");
			FILE *fp = fopen(path, "w");
			if (fp) {
				fputs(i ? b : a, fp);
				fclose(fp);
			}
		}
	}
	if (strcmp(a, b) != 0) {
		const char *p = a, *q = b;
		int line = 1;
		while (*p && *p == *q) {
			if (*p == '\n')
				line++;
			p++;
			q++;
		}
		while (p > a && p[-1] != '\n')
			p--, q--;
		fprintf(stderr, "# transcripts differ at line %d\n# sqlite:   %.*s\n# postgres: %.*s\n", line,
		        (int)strcspn(p, "\n"), p, (int)strcspn(q, "\n"), q);
		free(a);
		free(b);
		fail_msg("the PostgreSQL transcript differs from SQLite's");
	}
	free(a);
	free(b);
}

/* --- helpers for the scenarios --- */

#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

static void log_repos(ecr_registry *reg, size_t page)
{
	/* paginated through tokens, page repositories at a time */
	char *token = NULL;
	size_t pages = 0;
	for (;;) {
		ecr_repository_iterator *it = NULL;
		OK(ecr_repository_iterator_new(&it, reg, token));
		free(token);
		token = NULL;
		ecr_repository *r;
		size_t n = 0;
		int rc;
		while (n < page && (rc = ecr_repository_iterator_next(&r, it)) == 0) {
			out("  repo %s mut=%d scan=%d excl=%zu created=%lld", ecr_repository_name(r),
			    (int)ecr_repository_tag_mutability(r), ecr_repository_scan_on_push(r),
			    ecr_repository_exclusion_count(r), (long long)ecr_repository_created_at(r));
			n++;
		}
		pages++;
		if (n < page) {
			ecr_repository_iterator_free(it);
			break;
		}
		ecr_buf tok = ECR_BUF_INIT;
		OK(ecr_repository_iterator_token(&tok, it));
		ecr_repository_iterator_free(it);
		if (!tok.ptr)
			break;
		token = strdup(tok.ptr);
		ecr_buf_dispose(&tok);
	}
	out("  (%zu pages)", pages);
}

static void log_image(ecr_image *img)
{
	char tags[512] = "";
	size_t len = 0;
	for (size_t i = 0; i < ecr_image_tag_count(img) && len < sizeof(tags) - 130; i++)
		len += (size_t)snprintf(tags + len, sizeof(tags) - len, "%s%s", i ? "," : "", ecr_image_tag(img, i));
	out("  image %s %s size=%llu/%llu pushed=%lld pulled=%lld class=%d status=%d subject=%s type=%s tags=[%s]",
	    ecr_image_digest(img), ecr_image_media_type(img), (unsigned long long)ecr_image_manifest_size(img),
	    (unsigned long long)ecr_image_size(img), (long long)ecr_image_pushed_at(img),
	    (long long)ecr_image_last_pulled_at(img), (int)ecr_image_storage_class(img), (int)ecr_image_status_of(img),
	    ecr_image_subject(img) ? ecr_image_subject(img) : "-",
	    ecr_image_artifact_type(img) ? ecr_image_artifact_type(img) : "-", tags);
}

/* List images with options, page images at a time through tokens. */
static void log_images(ecr_repository *repo, ecr_tag_status status, const char *subject, const char *type,
                       uint32_t mask, size_t page)
{
	char *token = NULL;
	size_t pages = 0, total = 0;
	for (;;) {
		ecr_image_list_options lo = ECR_IMAGE_LIST_OPTIONS_INIT;
		lo.tag_status = status;
		lo.subject = subject;
		lo.artifact_type = type;
		lo.status_mask = mask;
		lo.start_token = token;
		ecr_image_iterator *it = NULL;
		OK(ecr_image_iterator_new(&it, repo, &lo));
		free(token);
		token = NULL;
		ecr_image *img;
		size_t n = 0;
		while (n < page && ecr_image_iterator_next(&img, it) == 0) {
			log_image(img);
			n++;
		}
		total += n;
		pages++;
		if (n < page) {
			ecr_image_iterator_free(it);
			break;
		}
		ecr_buf tok = ECR_BUF_INIT;
		OK(ecr_image_iterator_token(&tok, it));
		ecr_image_iterator_free(it);
		if (!tok.ptr)
			break;
		token = strdup(tok.ptr);
		ecr_buf_dispose(&tok);
	}
	out("  (%zu images, %zu pages)", total, pages);
}

static void log_tags(ecr_repository *repo, const char *after)
{
	ecr_tag_iterator *it = NULL;
	OK(ecr_tag_iterator_new(&it, repo, after));
	const char *tag, *digest;
	while (ecr_tag_iterator_next(&tag, &digest, it) == 0)
		out("  tag %s -> %s", tag, digest);
	ecr_tag_iterator_free(it);
}

static int rtag_cb(const char *key, const char *value, void *payload)
{
	(void)payload;
	out("  rtag %s=%s", key, value);
	return 0;
}

static void log_buf(const char *what, int rc, ecr_buf *b)
{
	out("%s -> %d %s", what, rc, rc == 0 && b->ptr ? b->ptr : "");
	ecr_buf_dispose(b);
}
#define B(call, buf) log_buf(#call, (call), (buf))

static char *make_referrer(const char *artifact_type, const char *subject)
{
	char *s = malloc(1024);
	assert_non_null(s);
	snprintf(s, 1024,
	         "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MANIFEST
	         "\",\"artifactType\":\"%s\",\"config\":{\"mediaType\":"
	         "\"application/vnd.oci.empty.v1+json\",\"digest\":\"" EMPTY_DIGEST "\",\"size\":2},\"layers\":[],"
	         "\"subject\":{\"mediaType\":\"" OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":100}}",
	         artifact_type, subject);
	return s;
}

static char *make_index(const th_image *children, size_t n)
{
	size_t cap = 256 + n * 400;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t len = (size_t)snprintf(s, cap, "{\"schemaVersion\":2,\"mediaType\":\"" OCI_INDEX "\",\"manifests\":[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
		                        "%s{\"mediaType\":\"" OCI_MANIFEST
		                        "\",\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\","
		                        "\"architecture\":\"arch%zu\"}}",
		                        i ? "," : "", children[i].digest, children[i].manifest_len, i);
	snprintf(s + len, cap - len, "]}");
	return s;
}

/* Names whose byte order differs from a natural-language collation's (case, punctuation, digits). */
static const char *const REPO_NAMES[] = {"zeta", "alpha/b", "alpha-b", "alpha_b", "alpha.b",  "alphab", "alpha/a-z",
                                         "a1",   "a10",     "a2",      "bb",      "alpha__c", "ab/c",   "a-b/c"};
static const char *const TAG_NAMES[] = {"latest", "Latest", "LATEST", "v1.0", "v1-0", "v1_0", "v10", "v9", "_x",
                                        "a.b",    "A-b",    "ab",     "1",    "10",   "9",    "Z",   "z"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* --- scenarios --- */

static int meta_repo_cb(const ecr__meta_repo *r, void *payload)
{
	(void)payload;
	out("  store list: %s", r->name);
	return 0;
}

static void scenario_repositories(ecr_registry *reg)
{
	for (size_t i = 0; i < NELEM(REPO_NAMES); i++) {
		ecr_repository *r = NULL;
		g_now += 1000;
		OK(ecr_repository_create(&r, reg, REPO_NAMES[i], NULL));
		ecr_repository_free(r);
	}
	ecr_repository *r = NULL;
	R(ecr_repository_create(&r, reg, "alpha/b", NULL));
	log_repos(reg, 1000);
	log_repos(reg, 3);
	/* iterator after a name */
	ecr_repository_iterator *it = NULL;
	OK(ecr_repository_iterator_new_after(&it, reg, "alpha"));
	while (ecr_repository_iterator_next(&r, it) == 0) {
		out("  after alpha: %s", ecr_repository_name(r));
	}
	ecr_repository_iterator_free(it);

	/* the store's list with no limit (SIZE_MAX: not a negative LIMIT, which PostgreSQL refuses) */
	{
		ecr__txn t = {0};
		int64_t reg_id = 0;
		OK(ecr__txn_begin(&t, g_meta, false));
		OK(ecr__sql(&t, "SELECT id FROM registries", NULL, 0, ecr__sql_col_int, &reg_id, NULL));
		OK(ecr__meta_repo_list(&t, reg_id, "alpha/", SIZE_MAX, meta_repo_cb, NULL));
		ecr__txn_rollback(&t);
	}

	/* settings and resource tags */
	const char *excl[] = {"rel-*", "Keep*"};
	ecr_repository_options ro = ECR_REPOSITORY_OPTIONS_INIT;
	ecr_resource_tag rt[] = {{"team", "x"}, {"Team", "y"}, {"a-b", "1"}, {"a_b", "2"}, {"ab", "3"}};
	ro.tags = rt;
	ro.tags_count = NELEM(rt);
	ro.scan_on_push = 1;
	OK(ecr_repository_create(&r, reg, "with/options", &ro));
	OK(ecr_repository_set_tag_mutability(r, ECR_TAG_IMMUTABLE_WITH_EXCLUSION, excl, 2));
	OK(ecr_repository_set_scan_on_push(r, 0));
	ecr_repository_free(r);
	OK(ecr_repository_open(&r, reg, "with/options"));
	out("  mut=%d excl=%zu %s %s scan=%d enc=%d", (int)ecr_repository_tag_mutability(r),
	    ecr_repository_exclusion_count(r), ecr_repository_exclusion(r, 0), ecr_repository_exclusion(r, 1),
	    ecr_repository_scan_on_push(r), (int)ecr_repository_encryption_type(r));
	out("  mutable rel-1=%d keepme=%d Keepme=%d other=%d", ecr_repository_tag_is_mutable(r, "rel-1"),
	    ecr_repository_tag_is_mutable(r, "keepme"), ecr_repository_tag_is_mutable(r, "Keepme"),
	    ecr_repository_tag_is_mutable(r, "other"));
	OK(ecr_repository_resource_tags(r, rtag_cb, NULL));
	const char *untag[] = {"Team", "missing"};
	OK(ecr_repository_untag_resource(r, untag, 2));
	ecr_resource_tag more[] = {{"team", "changed"}, {"B", ""}};
	OK(ecr_repository_tag_resource(r, more, 2));
	OK(ecr_repository_resource_tags(r, rtag_cb, NULL));

	/* repository policy */
	ecr_buf b = ECR_BUF_INIT;
	B(ecr_repository_policy(&b, r), &b);
	OK(ecr_repository_set_policy(
	    r,
	    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"pull\",\"Effect\":\"Allow\",\"Principal\":\"*\","
	    "\"Action\":\"ecr:BatchGetImage\"}]}",
	    0));
	B(ecr_repository_policy(&b, r), &b);
	B(ecr_repository_delete_policy(&b, r), &b);
	B(ecr_repository_delete_policy(&b, r), &b);
	ecr_repository_free(r);

	/* delete: empty, non-empty without and with force, missing */
	OK(ecr_repository_delete(reg, "bb", 0));
	R(ecr_repository_delete(reg, "bb", 0));
	OK(ecr_repository_open(&r, reg, "a1"));
	uint64_t rng = 11;
	th_image img;
	OK(th_image_random(&img, &rng, 1, NULL));
	OK(th_image_push(r, &img, "t", 0));
	ecr_repository_free(r);
	R(ecr_repository_delete(reg, "a1", 0));
	OK(ecr_repository_delete(reg, "a1", ECR_REPOSITORY_DELETE_FORCE));
	R(ecr_repository_open(&r, reg, "a1"));
	th_image_dispose(&img);
	log_repos(reg, 4);
}

static void scenario_images(ecr_registry *reg)
{
	ecr_repository *repo = NULL;
	OK(ecr_repository_create(&repo, reg, "img/app", NULL));
	uint64_t rng = 42;
	th_image imgs[8];
	for (size_t i = 0; i < NELEM(imgs); i++) {
		OK(th_image_random(&imgs[i], &rng, 1 + i % 3, NULL));
		g_now += 60000;
		OK(th_image_push(repo, &imgs[i], NULL, i % 2 ? 1500 : 0));
	}
	/* tags: many names on a few images, moved, duplicated */
	for (size_t i = 0; i < NELEM(TAG_NAMES); i++) {
		ecr_image *out_img = NULL;
		g_now += 10;
		const th_image *t = &imgs[i % 5];
		OK(ecr_image_put(&out_img, repo, TAG_NAMES[i], NULL, OCI_MANIFEST, t->manifest, t->manifest_len, 0));
		ecr_image_free(out_img);
	}
	/* move "latest" */
	ecr_image *x = NULL;
	OK(ecr_image_put(&x, repo, "latest", NULL, OCI_MANIFEST, imgs[6].manifest, imgs[6].manifest_len, 0));
	ecr_image_free(x);
	log_tags(repo, NULL);
	log_tags(repo, "V");
	log_tags(repo, "a");

	/* an index of three children, and referrers */
	char *index = make_index(imgs, 3);
	OK(ecr_image_put(&x, repo, "multi", NULL, OCI_INDEX, index, strlen(index), 0));
	log_image(x);
	ecr_image_free(x);
	free(index);
	OK(ecr_blob_put(repo, EMPTY_DIGEST, "{}", 2));
	const char *types[] = {"application/vnd.dev.cosign.signature", "application/spdx+json", "Application/B",
	                       "application/a"};
	for (size_t i = 0; i < NELEM(types); i++) {
		char *ref = make_referrer(types[i], imgs[i % 2].digest);
		OK(ecr_image_put(NULL, repo, NULL, NULL, NULL, ref, strlen(ref), 0));
		free(ref);
	}
	out("referrers of 0");
	log_images(repo, ECR_TAG_STATUS_ANY, imgs[0].digest, NULL, 0, 100);
	out("referrers of 1, spdx");
	log_images(repo, ECR_TAG_STATUS_ANY, imgs[1].digest, "application/spdx+json", 0, 100);

	/* lists: all, tagged, untagged, by status, paginated */
	out("all");
	log_images(repo, ECR_TAG_STATUS_ANY, NULL, NULL, 0, 100);
	out("all, pages of 3");
	log_images(repo, ECR_TAG_STATUS_ANY, NULL, NULL, 0, 3);
	out("tagged, pages of 2");
	log_images(repo, ECR_TAG_STATUS_TAGGED, NULL, NULL, 0, 2);
	out("untagged");
	log_images(repo, ECR_TAG_STATUS_UNTAGGED, NULL, NULL, 0, 100);
	out("active only");
	log_images(repo, ECR_TAG_STATUS_ANY, NULL, NULL, 1u << ECR_IMAGE_ACTIVE, 4);
	out("archived only");
	log_images(repo, ECR_TAG_STATUS_ANY, NULL, NULL, 1u << ECR_IMAGE_ARCHIVED, 4);

	/* get by tag and digest, recording a pull */
	g_now += 5;
	OK(ecr_image_get(&x, repo, "Latest", ECR_IMAGE_GET_RECORD_PULL));
	log_image(x);
	ecr_image_free(x);
	R(ecr_image_get(&x, repo, "nope", 0));

	/* untag, untag deleting the image, delete */
	ecr_buf d = ECR_BUF_INIT;
	B(ecr_image_untag(&d, repo, "v9", 0), &d);
	B(ecr_image_untag(&d, repo, "v9", 0), &d);
	B(ecr_image_untag(&d, repo, "Z", ECR_UNTAG_DELETE_UNTAGGED), &d);
	R(ecr_image_delete(repo, imgs[7].digest));
	R(ecr_image_delete(repo, imgs[7].digest));
	/* a child of an index cannot go while the index holds it */
	R(ecr_image_delete(repo, imgs[0].digest));

	/* immutability */
	const char *excl[] = {"dev-*"};
	OK(ecr_repository_set_tag_mutability(repo, ECR_TAG_IMMUTABLE_WITH_EXCLUSION, excl, 1));
	R(ecr_image_put(NULL, repo, "latest", NULL, OCI_MANIFEST, imgs[1].manifest, imgs[1].manifest_len, 0));
	R(ecr_image_put(NULL, repo, "dev-1", NULL, OCI_MANIFEST, imgs[1].manifest, imgs[1].manifest_len, 0));
	R(ecr_image_put(NULL, repo, "dev-1", NULL, OCI_MANIFEST, imgs[2].manifest, imgs[2].manifest_len, 0));
	R(ecr_image_put(NULL, repo, "fresh", NULL, OCI_MANIFEST, imgs[2].manifest, imgs[2].manifest_len,
	                ECR_IMAGE_PUT_EXCLUSIVE));
	R(ecr_image_put(NULL, repo, "fresh", NULL, OCI_MANIFEST, imgs[2].manifest, imgs[2].manifest_len, 0));

	th_check_stats st;
	memset(&st, 0, sizeof(st));
	OK(th_registry_check(reg, &st));
	out("check: %zu repositories %zu images %zu tags %zu blobs", st.repositories, st.images, st.tags,
	    st.blobs_verified);

	/* storage class */
	OK(ecr_image_set_storage_class(&x, repo, imgs[3].digest, ECR_STORAGE_CLASS_ARCHIVE));
	log_image(x);
	ecr_image_free(x);
	out("archived only, after archiving");
	log_images(repo, ECR_TAG_STATUS_ANY, NULL, NULL, 1u << ECR_IMAGE_ARCHIVED, 4);
	out("final");
	log_images(repo, ECR_TAG_STATUS_ANY, NULL, NULL, 0, 5);
	log_tags(repo, NULL);
	ecr_repository_free(repo);
	for (size_t i = 0; i < NELEM(imgs); i++)
		th_image_dispose(&imgs[i]);
}

static void scenario_uploads_gc(ecr_registry *reg)
{
	ecr_repository *repo = NULL;
	OK(ecr_repository_create(&repo, reg, "up/app", NULL));
	uint64_t rng = 7;
	th_blob blob;
	OK(th_blob_random(&blob, &rng, 5000));
	/* chunked, resumed through a new handle */
	ecr_upload *up = NULL;
	OK(ecr_upload_begin(&up, repo));
	char id[ECR_UPLOAD_ID_LEN + 1];
	snprintf(id, sizeof(id), "%s", ecr_upload_id(up));
	OK(ecr_upload_write(up, 0, blob.data, 2000));
	ecr_upload_free(up);
	g_now += 1000;
	OK(ecr_upload_open(&up, repo, id));
	out("  resumed at %llu started %lld", (unsigned long long)ecr_upload_size(up),
	    (long long)ecr_upload_started_at(up));
	R(ecr_upload_write(up, 1000, blob.data + 1000, 10));
	OK(ecr_upload_write(up, 2000, blob.data + 2000, 3000));
	R(ecr_upload_commit(up, "sha256:0000000000000000000000000000000000000000000000000000000000000000"));
	ecr_upload_free(up);
	up = NULL;
	RC(ecr_upload_open(&up, repo, id));
	ecr_upload_free(up);
	up = NULL;
	OK(ecr_upload_begin(&up, repo));
	snprintf(id, sizeof(id), "%s", ecr_upload_id(up));
	OK(ecr_upload_write(up, 0, blob.data, 4000));
	ecr_upload_free(up);
	OK(ecr_upload_open(&up, repo, id));
	OK(ecr_upload_write(up, 4000, blob.data + 4000, 1000));
	OK(ecr_upload_commit(up, blob.digest));
	ecr_upload_free(up);
	up = NULL;
	RC(ecr_upload_open(&up, repo, id));
	uint64_t size = 0;
	R(ecr_blob_stat(repo, blob.digest, &size));
	out("  blob size %llu", (unsigned long long)size);
	/* cancelled */
	OK(ecr_upload_begin(&up, repo));
	snprintf(id, sizeof(id), "%s", ecr_upload_id(up));
	OK(ecr_upload_write(up, 0, "abc", 3));
	OK(ecr_upload_cancel(up));
	ecr_upload_free(up);
	RC(ecr_upload_open(&up, repo, id));
	/* abandoned: expires */
	OK(ecr_upload_begin(&up, repo));
	OK(ecr_upload_write(up, 0, "abcdef", 6));
	ecr_upload_free(up);

	/* images sharing layers; one deleted; GC */
	th_image a, b2;
	OK(th_image_random(&a, &rng, 2, NULL));
	OK(th_image_with_layers(&b2, &rng, a.layers, 1, 1));
	OK(th_image_push(repo, &a, "a", 0));
	OK(th_image_push(repo, &b2, "b", 0));
	ecr_repository *other = NULL;
	OK(ecr_repository_create(&other, reg, "up/other", NULL));
	OK(th_image_push(other, &a, "a", 0));
	OK(ecr_image_delete(repo, a.digest));
	ecr_gc_options go = ECR_GC_OPTIONS_INIT;
	go.grace_seconds = 1;
	ecr_gc_stats gs;
	memset(&gs, 0, sizeof(gs));
	gs.version = 1;
	OK(ecr_registry_gc(reg, &go, &gs));
	out("  gc now: uploads %llu links %llu blobs %llu", (unsigned long long)gs.uploads_expired,
	    (unsigned long long)gs.links_removed, (unsigned long long)gs.blobs_removed);
	g_now += 2LL * 24 * 3600 * 1000;
	memset(&gs, 0, sizeof(gs));
	gs.version = 1;
	OK(ecr_registry_gc(reg, &go, &gs));
	out("  gc later: uploads %llu links %llu blobs %llu", (unsigned long long)gs.uploads_expired,
	    (unsigned long long)gs.links_removed, (unsigned long long)gs.blobs_removed);
	R(ecr_blob_stat(repo, a.layers[1].digest, &size));
	R(ecr_blob_stat(repo, a.layers[0].digest, &size));
	R(ecr_blob_stat(other, a.layers[1].digest, &size));
	OK(ecr_repository_delete(reg, "up/other", ECR_REPOSITORY_DELETE_FORCE));
	g_now += 2LL * 24 * 3600 * 1000;
	memset(&gs, 0, sizeof(gs));
	gs.version = 1;
	OK(ecr_registry_gc(reg, &go, &gs));
	out("  gc after delete: uploads %llu links %llu blobs %llu", (unsigned long long)gs.uploads_expired,
	    (unsigned long long)gs.links_removed, (unsigned long long)gs.blobs_removed);
	th_check_stats st;
	memset(&st, 0, sizeof(st));
	OK(th_registry_check(reg, &st));
	out("check: %zu repositories %zu images %zu tags %zu blobs", st.repositories, st.images, st.tags,
	    st.blobs_verified);
	th_image_dispose(&a);
	th_image_dispose(&b2);
	th_blob_dispose(&blob);
	ecr_repository_free(repo);
	ecr_repository_free(other);
}

static int lc_cb(ecr_image *img, ecr_lifecycle_action action, uint32_t prio, void *payload)
{
	(void)payload;
	out("  lifecycle %s action=%d rule=%u", ecr_image_digest(img), (int)action, prio);
	return 0;
}

static void scenario_lifecycle(ecr_registry *reg)
{
	static const char policy[] =
	    "{\"rules\":["
	    "{\"rulePriority\":1,\"description\":\"archive old\",\"selection\":{\"tagStatus\":\"tagged\","
	    "\"tagPrefixList\":[\"old\"],\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":5},"
	    "\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}},"
	    "{\"rulePriority\":2,\"description\":\"keep two prod\",\"selection\":{\"tagStatus\":\"tagged\","
	    "\"tagPrefixList\":[\"prod\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":2},"
	    "\"action\":{\"type\":\"expire\"}},"
	    "{\"rulePriority\":3,\"description\":\"untagged\",\"selection\":{\"tagStatus\":\"untagged\","
	    "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":3},\"action\":{\"type\":"
	    "\"expire\"}}"
	    "]}";
	ecr_repository *repo = NULL;
	OK(ecr_repository_create(&repo, reg, "lc/app", NULL));
	uint64_t rng = 99;
	th_image imgs[9];
	const char *tags[] = {"old-1", "old-2", "prod-a", "prod-B", "prod-c", "prod-d", NULL, NULL, "keep"};
	for (size_t i = 0; i < NELEM(imgs); i++) {
		OK(th_image_random(&imgs[i], &rng, 1, NULL));
		g_now += 24LL * 3600 * 1000;
		OK(th_image_push(repo, &imgs[i], tags[i], 0));
	}
	g_now += 10LL * 24 * 3600 * 1000;
	out("preview");
	OK(ecr_repository_lifecycle_preview(repo, policy, lc_cb, NULL));
	OK(ecr_repository_set_lifecycle_policy(repo, policy));
	ecr_buf b = ECR_BUF_INIT;
	int64_t at = -1;
	int rc = ecr_repository_lifecycle_policy(&b, &at, repo);
	out("policy -> %d len %zu at %lld", rc, b.size, (long long)at);
	ecr_buf_dispose(&b);
	out("apply");
	OK(ecr_repository_apply_lifecycle(repo, lc_cb, NULL));
	rc = ecr_repository_lifecycle_policy(&b, &at, repo);
	out("policy -> %d at %lld", rc, (long long)at);
	ecr_buf_dispose(&b);
	out("after");
	log_images(repo, ECR_TAG_STATUS_ANY, NULL, NULL, 0, 100);
	rc = ecr_repository_delete_lifecycle_policy(NULL, &at, repo);
	out("delete policy -> %d at %lld", rc, (long long)at);
	R(ecr_repository_lifecycle_policy(&b, &at, repo));
	ecr_buf_dispose(&b);
	ecr_repository_free(repo);
	for (size_t i = 0; i < NELEM(imgs); i++)
		th_image_dispose(&imgs[i]);
}

static int pol_cb(const char *name, const char *doc, void *payload)
{
	(void)payload;
	out("  policy %s %zu", name, strlen(doc));
	return 0;
}

static void scenario_auth(ecr_registry *reg)
{
	ecr_buf b = ECR_BUF_INIT;
	B(ecr_registry_policy(&b, reg), &b);
	OK(ecr_registry_set_policy(
	    reg,
	    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"r\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
	    "\"arn:aws:iam::123456789012:root\"},\"Action\":[\"ecr:ReplicateImage\"],\"Resource\":"
	    "\"arn:aws:ecr:us-east-1:123456789012:repository/*\"}]}"));
	B(ecr_registry_policy(&b, reg), &b);
	B(ecr_registry_setting(&b, reg, "BASIC_SCAN_TYPE_VERSION"), &b);
	B(ecr_registry_setting(&b, reg, "REGISTRY_POLICY_SCOPE"), &b);
	OK(ecr_registry_set_setting(reg, "BASIC_SCAN_TYPE_VERSION", "CLAIR"));
	R(ecr_registry_set_setting(reg, "BASIC_SCAN_TYPE_VERSION", "NOPE"));
	B(ecr_registry_setting(&b, reg, "BASIC_SCAN_TYPE_VERSION"), &b);

	const char *arns[] = {"arn:aws:iam::123456789012:user/zed",   "arn:aws:iam::123456789012:user/Bob",
	                      "arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/al-ice",
	                      "arn:aws:iam::123456789012:role/Admin", "arn:aws:iam::123456789012:user/al_ice"};
	for (size_t i = 0; i < NELEM(arns); i++) {
		ecr_principal *p = NULL;
		OK(ecr_principal_create(&p, reg, arns[i], i == 4 ? ECR_PRINCIPAL_ADMIN : 0));
		ecr_principal_free(p);
	}
	ecr_principal *p = NULL;
	R(ecr_principal_create(&p, reg, arns[0], 0));
	ecr_principal_iterator *it = NULL;
	OK(ecr_principal_iterator_new(&it, reg));
	while (ecr_principal_iterator_next(&p, it) == 0) {
		out("  principal %s %s admin=%d", ecr_principal_arn(p), ecr_principal_account_id(p),
		    ecr_principal_is_admin(p));
	}
	ecr_principal_iterator_free(it);

	OK(ecr_principal_open(&p, reg, arns[2]));
	OK(ecr_principal_put_policy(p, "pull",
	                            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
	                            "\"Action\":[\"ecr:BatchGetImage\",\"ecr:DescribeImages\"],\"Resource\":\"*\"}]}"));
	OK(ecr_principal_put_policy(p, "Deny-delete",
	                            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
	                            "\"Deny\",\"Action\":\"ecr:DeleteRepository\",\"Resource\":\"*\"}]}"));
	OK(ecr_principal_put_policy(p, "deny_x",
	                            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
	                            "\"Deny\",\"Action\":\"ecr:PutImage\",\"Resource\":\"*\"}]}"));
	OK(ecr_principal_policies(p, pol_cb, NULL));
	OK(ecr_principal_delete_policy(p, "deny_x"));
	R(ecr_principal_delete_policy(p, "deny_x"));
	OK(ecr_principal_policies(p, pol_cb, NULL));
	const char *repo_arn = "arn:aws:ecr:us-east-1:123456789012:repository/app";
	R(ecr_authorize(reg, p, "ecr:BatchGetImage", repo_arn, NULL, 0));
	R(ecr_authorize(reg, p, "ecr:DeleteRepository", repo_arn, NULL, 0));
	R(ecr_authorize(reg, p, "ecr:PutImage", repo_arn, NULL, 0));

	/* access keys and tokens (their values are random: only their behaviour is logged) */
	ecr_buf kid = ECR_BUF_INIT, secret = ECR_BUF_INIT, tok = ECR_BUF_INIT;
	OK(ecr_principal_access_key_create(&kid, &secret, p));
	out("  key id %zu chars, secret %zu chars", kid.size, secret.size);
	int64_t exp = 0;
	OK(ecr_auth_token_create(&tok, &exp, reg, p));
	out("  token expires %lld", (long long)exp);
	ecr_principal *who = NULL;
	OK(ecr_auth_token_verify(&who, reg, tok.ptr));
	out("  token is %s", ecr_principal_arn(who));
	ecr_principal_free(who);
	R(ecr_auth_token_verify(&who, reg, "bm90IGEgdG9rZW4="));
	ecr_buf_dispose(&tok);
	OK(ecr_auth_anonymous_token_create(&tok, &exp, reg));
	R(ecr_auth_anonymous_token_verify(reg, tok.ptr));
	ecr_buf_dispose(&tok);
	OK(ecr_principal_access_key_delete(p, kid.ptr));
	RC(ecr_principal_access_key_delete(p, kid.ptr));
	ecr_buf_dispose(&kid);
	ecr_buf_dispose(&secret);
	ecr_principal_free(p);

	OK(ecr_principal_delete(reg, arns[2]));
	R(ecr_principal_delete(reg, arns[2]));
	R(ecr_principal_open(&p, reg, arns[2]));
	OK(ecr_principal_iterator_new(&it, reg));
	while (ecr_principal_iterator_next(&p, it) == 0) {
		out("  principal %s", ecr_principal_arn(p));
	}
	ecr_principal_iterator_free(it);
	B(ecr_registry_delete_policy(&b, reg), &b);
	B(ecr_registry_delete_policy(&b, reg), &b);
}

static int repl_cb(const char *region, const char *registry_id, ecr_replication_status status, const char *reason,
                   void *payload)
{
	(void)payload;
	out("  replication %s %s %d %s", region, registry_id, (int)status, reason ? reason : "-");
	return 0;
}

static void log_job(const char *what, int rc, const ecr__repl_job *j, int64_t next_due)
{
	if (rc == 0)
		out("%s -> %s@%s %s/%s attempts %d", what, j->repository, j->digest, j->dest_region,
		    j->dest_registry_id, (int)j->attempts);
	else
		out("%s -> %d next due %lld", what, rc, (long long)next_due);
}

static void scenario_replication(ecr_registry *reg)
{
	ecr_buf b = ECR_BUF_INIT;
	B(ecr_registry_replication_configuration(&b, reg), &b);
	OK(ecr_registry_set_replication_configuration(
	    reg, "{\"rules\":[{\"destinations\":[{\"region\":\"us-west-2\",\"registryId\":\"123456789012\"},"
	         "{\"region\":\"eu-west-1\",\"registryId\":\"210987654321\"}],"
	         "\"repositoryFilters\":[{\"filter\":\"prod\",\"filterType\":\"PREFIX_MATCH\"}]}]}"));
	B(ecr_registry_replication_configuration(&b, reg), &b);
	const char *names[] = {"prod/b", "prod/a-x", "prod/a", "dev/app"};
	uint64_t rng = 5;
	th_image imgs[NELEM(names)];
	for (size_t i = 0; i < NELEM(names); i++) {
		ecr_repository *r = NULL;
		OK(ecr_repository_create(&r, reg, names[i], NULL));
		OK(th_image_random(&imgs[i], &rng, 1, NULL));
		g_now += 1000;
		OK(th_image_push(r, &imgs[i], "v1", 0));
		OK(ecr_image_replication_status(r, imgs[i].digest, repl_cb, NULL));
		ecr_repository_free(r);
	}
	int64_t n = -1;
	OK(ecr__repl_pending(&n, reg));
	out("  pending %lld", (long long)n);
	/* claim all, fail one (retry later), complete the others */
	for (int i = 0;; i++) {
		ecr__repl_job j;
		int64_t due = 0;
		memset(&j, 0, sizeof(j));
		int rc = ecr__repl_claim(&j, &due, reg, 30000);
		log_job("claim", rc, &j, due);
		if (rc)
			break;
		if (i == 1)
			OK(ecr__repl_fail(reg, &j, "unreachable", g_now + 60000, 0));
		else
			OK(ecr__repl_complete(reg, &j));
		ecr__repl_job_dispose(&j);
	}
	OK(ecr__repl_pending(&n, reg));
	out("  pending %lld", (long long)n);
	/* an expired lease: claimed again */
	g_now += 61000;
	ecr__repl_job j;
	int64_t due = 0;
	memset(&j, 0, sizeof(j));
	int rc = ecr__repl_claim(&j, &due, reg, 30000);
	log_job("claim retry", rc, &j, due);
	if (rc == 0)
		ecr__repl_job_dispose(&j);
	g_now += 31000;
	memset(&j, 0, sizeof(j));
	rc = ecr__repl_claim(&j, &due, reg, 30000);
	log_job("claim after lease", rc, &j, due);
	if (rc == 0) {
		OK(ecr__repl_fail(reg, &j, "gone", 0, 1));
		ecr__repl_job_dispose(&j);
	}
	/* a completed job queued again by a new tag (the upsert), claimed with its tags */
	{
		ecr_repository *r = NULL;
		OK(ecr_repository_open(&r, reg, names[0]));
		g_now += 10;
		OK(ecr_image_put(NULL, r, "v2", NULL, OCI_MANIFEST, imgs[0].manifest, imgs[0].manifest_len, 0));
		ecr_repository_free(r);
		OK(ecr__repl_pending(&n, reg));
		out("  pending %lld", (long long)n);
		for (;;) {
			memset(&j, 0, sizeof(j));
			rc = ecr__repl_claim(&j, &due, reg, 30000);
			log_job("claim requeued", rc, &j, due);
			if (rc)
				break;
			for (size_t k = 0; k < j.tags_count; k++)
				out("    tag %s", j.tags[k]);
			OK(ecr__repl_complete(reg, &j));
			ecr__repl_job_dispose(&j);
		}
	}
	for (size_t i = 0; i < NELEM(names); i++) {
		ecr_repository *r = NULL;
		OK(ecr_repository_open(&r, reg, names[i]));
		OK(ecr_image_replication_status(r, imgs[i].digest, repl_cb, NULL));
		ecr_repository_free(r);
		th_image_dispose(&imgs[i]);
	}
	memset(&j, 0, sizeof(j));
	rc = ecr__repl_claim_store(&j, &due, reg, 30000);
	log_job("claim store", rc, &j, due);
	if (rc == 0)
		ecr__repl_job_dispose(&j);

	/* creation templates */
	const char *tpl[] = {
	    "{\"prefix\":\"prod\",\"appliedFor\":[\"REPLICATION\"],\"imageTagMutability\":\"IMMUTABLE\"}",
	    "{\"prefix\":\"ROOT\",\"appliedFor\":[\"CREATE_ON_PUSH\",\"PULL_THROUGH_CACHE\"]}",
	    "{\"prefix\":\"a-b\",\"appliedFor\":[\"REPLICATION\"]}",
	    "{\"prefix\":\"a_b\",\"appliedFor\":[\"REPLICATION\"]}",
	    "{\"prefix\":\"ab\",\"appliedFor\":[\"REPLICATION\"]}",
	    "{\"prefix\":\"a/b\",\"appliedFor\":[\"REPLICATION\"]}"};
	for (size_t i = 0; i < NELEM(tpl); i++) {
		g_now += 1;
		B(ecr_registry_put_creation_template(&b, reg, tpl[i], 1), &b);
	}
	B(ecr_registry_put_creation_template(&b, reg, tpl[0], 1), &b);
	B(ecr_registry_put_creation_template(&b, reg, "{\"prefix\":\"prod\",\"appliedFor\":[\"REPLICATION\"]}", 0), &b);
	B(ecr_registry_creation_templates(&b, reg, NULL, 0), &b);
	const char *pick[] = {"ab", "prod", "missing"};
	B(ecr_registry_creation_templates(&b, reg, pick, 2), &b);
	B(ecr_registry_creation_templates(&b, reg, pick + 2, 1), &b);
	ecr_repository *r = NULL;
	OK(ecr_repository_create_templated(&r, reg, "prod/new", ECR_TEMPLATE_REPLICATION));
	out("  templated mut=%d", (int)ecr_repository_tag_mutability(r));
	ecr_repository_free(r);
	B(ecr_registry_delete_creation_template(&b, reg, "ab"), &b);
	B(ecr_registry_delete_creation_template(&b, reg, "ab"), &b);
	B(ecr_registry_creation_templates(&b, reg, NULL, 0), &b);
}

static int cred_cb(const char *arn, const char *username, void *payload)
{
	(void)payload;
	out("  credential %s %s", arn, username);
	return 0;
}

static int pubreg_cb(const char *account, const char *alias, void *payload)
{
	(void)payload;
	out("  public %s %s", account, alias);
	return 0;
}

static void scenario_public(ecr_registry *reg)
{
	ecr_buf b = ECR_BUF_INIT;
	/* a public registry: alias, display name, catalog data */
	out("is public %d", ecr_registry_is_public(reg));
	int rc = ecr_public_alias(&b, reg); /* a random default */
	out("default alias -> %d, %zu chars", rc, b.size);
	ecr_buf_dispose(&b);
	R(ecr_public_set_alias(reg, "My-alias"));
	R(ecr_public_set_alias(reg, "my-alias"));
	B(ecr_public_alias(&b, reg), &b);
	B(ecr_public_alias_lookup(&b, reg, "my-alias"), &b);
	R(ecr_public_set_display_name(reg, "Display"));
	B(ecr_public_display_name(&b, reg), &b);
	R(ecr_public_registries_foreach(reg, pubreg_cb, NULL));
	ecr_repository *repo = NULL;
	OK(ecr_repository_create(&repo, reg, "pub/app", NULL));
	ecr_repository *repo2 = NULL;
	OK(ecr_repository_create(&repo2, reg, "pub/other", NULL));
	R(ecr_repository_set_catalog_data(
	    repo, "{\"description\":\"d\",\"aboutText\":\"# About\",\"architectures\":[\"x86-64\",\"ARM "
	          "64\"],\"operatingSystems\":[\"Linux\"]}"));
	R(ecr_repository_set_catalog_data(repo2, "{\"description\":\"other\"}"));
	B(ecr_repository_catalog_data(&b, repo), &b);
	B(ecr_repository_catalog_logo(&b, repo), &b);

	B(ecr_repository_catalog_data(&b, repo2), &b);
	R(ecr_repository_set_catalog_data(repo2, "{\"description\":\"changed\"}"));
	B(ecr_repository_catalog_data(&b, repo2), &b);
	uint64_t rng = 21;
	th_image img;
	OK(th_image_random(&img, &rng, 1, NULL));
	OK(th_image_push(repo, &img, "v1", 0));
	OK(th_image_verify(repo, "v1", img.digest, NULL));
	th_image_dispose(&img);
	OK(ecr_repository_delete(reg, "pub/other", 0));
	log_repos(reg, 10);
	ecr_repository_free(repo);
	ecr_repository_free(repo2);
}

static void scenario_cache_scan(ecr_registry *reg)
{
	ecr_buf b = ECR_BUF_INIT;
	const char *cred[] = {"arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/zz",
	                      "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/A",
	                      "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/a-b",
	                      "arn:aws:secretsmanager:us-east-1:123456789012:secret:ecr-pullthroughcache/ab"};
	for (size_t i = 0; i < NELEM(cred); i++)
		OK(ecr_registry_put_credential(reg, cred[i], i % 2 ? "User" : "user", "s3cret"));
	OK(ecr_registry_put_credential(reg, cred[0], "changed", "x"));
	OK(ecr_registry_credentials_foreach(reg, cred_cb, NULL));
	OK(ecr_registry_delete_credential(reg, cred[1]));
	R(ecr_registry_delete_credential(reg, cred[1]));
	OK(ecr_registry_credentials_foreach(reg, cred_cb, NULL));

	const char *prefixes[] = {"quay", "Docker-hub", "a-b", "ab", "a_b", "k8s"};
	for (size_t i = 0; i < NELEM(prefixes); i++) {
		char json[256];
		snprintf(json, sizeof(json), "{\"ecrRepositoryPrefix\":\"%s\",\"upstreamRegistryUrl\":\"quay.io\"}",
		         prefixes[i]);
		g_now += 1;
		B(ecr_registry_put_pull_through_cache_rule(&b, reg, json, 1), &b);
	}
	B(ecr_registry_put_pull_through_cache_rule(
	      &b, reg, "{\"ecrRepositoryPrefix\":\"quay\",\"upstreamRegistryUrl\":\"quay.io\"}", 1),
	  &b);
	B(ecr_registry_pull_through_cache_rules(&b, reg, NULL, 0), &b);
	const char *some[] = {"ab", "quay"};
	B(ecr_registry_pull_through_cache_rules(&b, reg, some, 2), &b);
	B(ecr_registry_delete_pull_through_cache_rule(&b, reg, "ab"), &b);
	B(ecr_registry_delete_pull_through_cache_rule(&b, reg, "ab"), &b);
	B(ecr_registry_pull_through_cache_rules(&b, reg, NULL, 0), &b);

	ecr_repository *repo = NULL;
	OK(ecr_repository_create(&repo, reg, "pub/app", NULL));
	/* scanning configuration, and a scan without a vulnerability database (its result is stored) */
	B(ecr_registry_scanning_configuration(&b, reg), &b);
	OK(ecr_registry_set_scanning_configuration(
	    reg, "{\"scanType\":\"ENHANCED\",\"rules\":[{\"scanFrequency\":\"CONTINUOUS_SCAN\",\"repositoryFilters\":"
	         "[{\"filter\":\"pub-*\",\"filterType\":\"WILDCARD\"}]}]}"));
	B(ecr_registry_scanning_configuration(&b, reg), &b);
	B(ecr_repository_scan_frequency(&b, repo), &b);
	uint64_t rng = 3;
	th_image img;
	OK(th_image_random(&img, &rng, 1, NULL));
	OK(th_image_push(repo, &img, "v1", 0));
	ecr_scanner *sc = NULL;
	OK(ecr_scanner_new(&sc, 1));
	OK(ecr_scanner_attach(sc, reg));
	R(ecr_scanner_start(sc, repo, img.digest));
	R(ecr_scanner_drain(sc, 60000));
	ecr_scan_status st = 0;
	int64_t done = -1;
	int rc = ecr_image_scan_result(&st, &b, &done, NULL, repo, img.digest);
	out("scan result -> %d status %d reason %s completed %lld", rc, (int)st, b.ptr ? b.ptr : "-", (long long)done);
	ecr_buf_dispose(&b);
	OK(ecr_scanner_detach(sc, reg));
	ecr_scanner_free(sc);
	th_image_dispose(&img);
	ecr_repository_free(repo);
}

/* --- several nodes at once (PostgreSQL only): each "node" is a registry on a store of its own --- */

#define NODES 3
#define THREADS_PER_NODE 2

/* A registry on its own PostgreSQL store (url) and, when blob_dir is not NULL, a file store on blob_dir. */
static ecr_registry *node_open(const char *url, const char *blob_dir)
{
	ecr_blob_store *blobs = NULL;
	ecr_meta_store *meta = NULL;
	ecr_registry *reg = NULL;
	assert_ok(ecr_meta_store_postgres_new(&meta, url, 0));
	if (blob_dir)
		assert_ok(ecr_blob_store_fs_new(&blobs, blob_dir, ECR_STORAGE_NOSYNC));
	else
		assert_ok(ecr_blob_store_memory_new(&blobs));
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	assert_ok(ecr_registry_open_storage(&reg, blobs, meta, &opts));
	return reg;
}

typedef struct claim_worker {
	ecr_registry *reg;
	pthread_barrier_t *start;
	int64_t ids[256];
	size_t n;
	int rc;
} claim_worker;

static void *claim_thread(void *arg)
{
	claim_worker *w = arg;
	pthread_barrier_wait(w->start);
	for (;;) {
		ecr__repl_job job;
		int64_t next = 0;
		int rc = ecr__repl_claim_store(&job, &next, w->reg, 60000);
		if (rc == ECR_ITEROVER)
			break;
		if (rc == ECR_EBUSY) { /* the row was claimed between pick and claim: try again */
			ecr__error_clear();
			continue;
		}
		if (rc) {
			w->rc = rc;
			break;
		}
		if (w->n < NELEM(w->ids))
			w->ids[w->n++] = job.id;
		rc = ecr__repl_complete(w->reg, &job);
		ecr__repl_job_dispose(&job);
		if (rc) {
			w->rc = rc;
			break;
		}
	}
	return NULL;
}

/* Replication jobs claimed on three nodes by two threads each: every job once; and a claim on one node while
 * another node's claim transaction is still open takes another job at once (FOR UPDATE SKIP LOCKED, no
 * cluster-wide writer lock for claims). */
static void test_storage_engine_pg__claims_across_nodes(void **state)
{
	(void)state;
	if (!g_up)
		skip();
	char url[600];
	new_database(url, sizeof(url));
	ecr_registry *nodes[NODES];
	for (int i = 0; i < NODES; i++)
		nodes[i] = node_open(url, NULL);

	enum { JOBS = 60 };
	ecr_meta_store *meta;
	{
		/* a store of its own, for the jobs and the held claim */
		assert_ok(ecr_meta_store_postgres_new(&meta, url, 0));
		ecr__txn t = {0};
		int64_t reg_id = 0;
		assert_ok(ecr__txn_begin(&t, meta, true));
		assert_ok(ecr__meta_registry_ensure(&t, ecr_registry_account_id(nodes[0]), ecr_registry_region(nodes[0]),
		                                    1, &reg_id));
		for (int i = 0; i < JOBS; i++) {
			char digest[80];
			snprintf(digest, sizeof(digest), "sha256:%064d", i);
			assert_ok(ecr__meta_repl_job_queue(&t, reg_id, "app", digest, "[\"v1\"]", "eu-west-1",
			                                   "123456789012", 1));
		}
		assert_ok(ecr__txn_commit(&t));
	}

	/* a claim held open on one node ... */
	ecr__txn held = {0};
	ecr__meta_repl_job m = {0};
	char *acct = NULL, *region = NULL;
	int64_t next = 0;
	assert_ok(ecr__txn_begin_atomic(&held, meta));
	assert_ok(ecr__meta_repl_job_claim_store(&held, ecr_registry_now(nodes[0]), ecr_registry_now(nodes[0]) + 60000,
	                                         &m, &next, &acct, &region));
	/* ... does not hold up another node's claim, which gets another job */
	double t0 = th_now_s();
	ecr__repl_job other;
	assert_ok(ecr__repl_claim_store(&other, &next, nodes[1], 60000));
	double waited = th_now_s() - t0;
	fprintf(stderr, "# a claim beside an open claim transaction: %.1f ms\n", waited * 1000);
	assert_true(waited < 2.0);
	assert_true(other.id != m.id);
	assert_ok(ecr__repl_complete(nodes[1], &other));
	ecr__repl_job_dispose(&other);
	/* an ordinary write waits for the open claim (then its snapshot sees it) */
	assert_ok(ecr__txn_commit(&held));
	int64_t held_id = m.id;
	ecr__meta_repl_job_dispose(&m);
	free(acct);
	free(region);

	/* the rest, claimed by six threads on three nodes at once */
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, NODES * THREADS_PER_NODE);
	claim_worker w[NODES * THREADS_PER_NODE];
	pthread_t th[NODES * THREADS_PER_NODE];
	memset(w, 0, sizeof(w));
	t0 = th_now_s();
	for (int i = 0; i < NODES * THREADS_PER_NODE; i++) {
		w[i].reg = nodes[i % NODES];
		w[i].start = &start;
		assert_int_equal(pthread_create(&th[i], NULL, claim_thread, &w[i]), 0);
	}
	for (int i = 0; i < NODES * THREADS_PER_NODE; i++)
		pthread_join(th[i], NULL);
	double took = th_now_s() - t0;
	pthread_barrier_destroy(&start);
	int seen[JOBS + 8];
	memset(seen, 0, sizeof(seen));
	size_t total = 0;
	for (int i = 0; i < NODES * THREADS_PER_NODE; i++) {
		assert_int_equal(w[i].rc, 0);
		for (size_t k = 0; k < w[i].n; k++) {
			assert_true(w[i].ids[k] >= 1 && w[i].ids[k] <= JOBS);
			seen[w[i].ids[k]]++;
			total++;
		}
	}
	fprintf(stderr, "# %zu claims by %d threads on %d nodes in %.2f s\n", total, NODES * THREADS_PER_NODE, NODES,
	        took);
	/* the held one was completed... no: it was claimed (status 1) and is still leased: not claimed again */
	assert_int_equal(seen[held_id], 0);
	for (int64_t id = 1; id <= JOBS; id++)
		if (id != held_id)
			assert_true(seen[id] <= 1); /* never twice */
	assert_int_equal(total, JOBS - 2); /* all but the held one and the one claimed beside it */
	int64_t pending = -1;
	assert_ok(ecr__repl_pending_store(&pending, nodes[0]));
	assert_int_equal(pending, 1); /* the held claim, leased for a minute */

	meta->free(meta);
	for (int i = 0; i < NODES; i++)
		ecr_registry_free(nodes[i]);
}

typedef struct lease_worker {
	ecr_registry *reg;
	pthread_barrier_t *start;
	int rc;
} lease_worker;

static void *lease_thread(void *arg)
{
	lease_worker *w = arg;
	char holder[ECR__LEASE_HOLDER_MAX];
	ecr__lease_holder(w->reg->store, holder);
	pthread_barrier_wait(w->start);
	w->rc = ecr__lease_acquire(w->reg->store, "race", holder, ecr_registry_now(w->reg), 60000);
	return NULL;
}

/* Six nodes take one lease at the same moment: exactly one gets it. */
static void test_storage_engine_pg__lease_race(void **state)
{
	(void)state;
	if (!g_up)
		skip();
	char url[600];
	new_database(url, sizeof(url));
	enum { N = 6 };
	for (int round = 0; round < 5; round++) {
		ecr_registry *nodes[N];
		lease_worker w[N];
		pthread_t th[N];
		pthread_barrier_t start;
		for (int i = 0; i < N; i++)
			nodes[i] = node_open(url, NULL);
		pthread_barrier_init(&start, NULL, N);
		for (int i = 0; i < N; i++) {
			w[i] = (lease_worker){nodes[i], &start, -1};
			assert_int_equal(pthread_create(&th[i], NULL, lease_thread, &w[i]), 0);
		}
		int won = 0;
		for (int i = 0; i < N; i++) {
			pthread_join(th[i], NULL);
			if (w[i].rc == 0)
				won++;
			else
				assert_int_equal(w[i].rc, ECR_EBUSY);
		}
		assert_int_equal(won, 1);
		pthread_barrier_destroy(&start);
		/* the winner gives it back for the next round */
		for (int i = 0; i < N; i++) {
			char holder[ECR__LEASE_HOLDER_MAX];
			ecr__lease_holder(nodes[i]->store, holder);
			assert_ok(ecr__lease_release(nodes[i]->store, "race", holder));
			ecr_registry_free(nodes[i]);
		}
	}
}

typedef struct tag_worker {
	ecr_registry *reg;
	int index;
	pthread_barrier_t *start;
	char last_digest[TH_DIGEST_MAX];
	int rc;
} tag_worker;

#define TAG_ROUNDS 8

static void *tag_thread(void *arg)
{
	tag_worker *w = arg;
	ecr_repository *repo = NULL;
	uint64_t rng = 1000 + (uint64_t)w->index;
	char prev[TH_DIGEST_MAX] = "";
	int rc = 0;
	pthread_barrier_wait(w->start);
	if ((rc = ecr_repository_open(&repo, w->reg, "race")))
		goto done;
	for (int i = 0; i < TAG_ROUNDS && !rc; i++) {
		th_image img;
		char tag[32];
		if ((rc = th_image_random(&img, &rng, 1, NULL)))
			break;
		snprintf(tag, sizeof(tag), "n%d-%d", w->index, i);
		/* its own tag, then the shared one moved onto it, then the previous image deleted */
		if (!(rc = th_image_push(repo, &img, tag, 0)))
			rc = ecr_image_put(NULL, repo, "latest", img.digest, OCI_MANIFEST, img.manifest, img.manifest_len, 0);
		if (!rc && prev[0])
			rc = ecr_image_delete(repo, prev);
		snprintf(prev, sizeof(prev), "%s", img.digest);
		th_image_dispose(&img);
	}
	snprintf(w->last_digest, sizeof(w->last_digest), "%s", prev);
done:
	if (rc)
		fprintf(stderr, "# node %d: %d %s\n", w->index, rc, ecr_error_last()->message);
	w->rc = rc;
	ecr_repository_free(repo);
	return NULL;
}

static int count_images(ecr_image *img, void *payload)
{
	(void)img;
	(*(size_t *)payload)++;
	return 0;
}

/* Three nodes push, tag, move one tag and delete images of one repository at once: nothing is lost (every
 * image kept has its tag, every deleted image is gone, the moved tag names a live image). */
static void test_storage_engine_pg__tags_across_nodes(void **state)
{
	(void)state;
	if (!g_up)
		skip();
	char url[600];
	new_database(url, sizeof(url));
	char *dir = th_tmpdir();
	assert_non_null(dir);
	ecr_registry *nodes[NODES];
	for (int i = 0; i < NODES; i++)
		nodes[i] = node_open(url, dir);
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_create(&repo, nodes[0], "race", NULL));
	ecr_repository_free(repo);

	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, NODES);
	tag_worker w[NODES];
	pthread_t th[NODES];
	double t0 = th_now_s();
	for (int i = 0; i < NODES; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].reg = nodes[i];
		w[i].index = i;
		w[i].start = &start;
		assert_int_equal(pthread_create(&th[i], NULL, tag_thread, &w[i]), 0);
	}
	for (int i = 0; i < NODES; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "# %d nodes x %d pushes, tag moves and deletes: %.2f s\n", NODES, TAG_ROUNDS,
	        th_now_s() - t0);
	pthread_barrier_destroy(&start);

	/* read through a fourth node */
	ecr_registry *check = node_open(url, dir);
	assert_ok(ecr_repository_open(&repo, check, "race"));
	size_t count = 0;
	{
		ecr_image_iterator *it = NULL;
		ecr_image *img = NULL;
		assert_ok(ecr_image_iterator_new(&it, repo, NULL));
		while (ecr_image_iterator_next(&img, it) == 0) {
			count_images(img, &count); /* borrowed */
		}
		ecr__error_clear();
		ecr_image_iterator_free(it);
	}
	assert_int_equal(count, NODES);
	for (int i = 0; i < NODES; i++) {
		assert_int_equal(w[i].rc, 0);
		char tag[32];
		snprintf(tag, sizeof(tag), "n%d-%d", i, TAG_ROUNDS - 1);
		ecr_image *img = NULL;
		assert_ok(ecr_image_get(&img, repo, tag, 0));
		assert_string_equal(ecr_image_digest(img), w[i].last_digest);
		ecr_image_free(img);
		snprintf(tag, sizeof(tag), "n%d-%d", i, TAG_ROUNDS - 2);
		assert_int_not_equal(ecr_image_get(&img, repo, tag, 0), 0); /* went with its image */
		ecr__error_clear();
	}
	ecr_image *latest = NULL;
	int rc = ecr_image_get(&latest, repo, "latest", 0);
	if (rc == 0) {
		const char *d = ecr_image_digest(latest);
		assert_true(strcmp(d, w[0].last_digest) == 0 || strcmp(d, w[1].last_digest) == 0 ||
		            strcmp(d, w[2].last_digest) == 0);
		ecr_image_free(latest);
	}
	ecr__error_clear();
	ecr_repository_free(repo);
	ecr_registry_free(check);
	for (int i = 0; i < NODES; i++)
		ecr_registry_free(nodes[i]);
	th_rmtree(dir);
}

static int g_scanned; /* "scanned ..." log lines of every node */

static void scan_log(ecr_log_level level, const char *msg, void *payload)
{
	(void)payload;
	if (strncmp(msg, "scanned ", 8) == 0)
		__atomic_add_fetch(&g_scanned, 1, __ATOMIC_SEQ_CST);
	if (level <= ECR_LOG_WARN || strncmp(msg, "scan", 4) == 0)
		fprintf(stderr, "# %s\n", msg);
}

static ecr_registry *scan_node_open(const char *url, const char *dir)
{
	ecr_blob_store *blobs = NULL;
	ecr_meta_store *meta = NULL;
	ecr_registry *reg = NULL;
	assert_ok(ecr_meta_store_postgres_new(&meta, url, 0));
	assert_ok(ecr_blob_store_fs_new(&blobs, dir, ECR_STORAGE_NOSYNC));
	ecr_registry_options opts = ECR_REGISTRY_OPTIONS_INIT;
	opts.log_cb = scan_log;
	opts.log_level = ECR_LOG_INFO;
	assert_ok(ecr_registry_open_storage(&reg, blobs, meta, &opts));
	return reg;
}

static ecr_scan_status scan_status(ecr_repository *repo, const char *digest)
{
	ecr_scan_status st = 0;
	ecr_buf reason = ECR_BUF_INIT;
	int64_t done = 0;
	if (ecr_image_scan_result(&st, &reason, &done, NULL, repo, digest) != 0)
		st = 0;
	ecr_buf_dispose(&reason);
	ecr__error_clear();
	return st;
}

/* Scans across nodes: a scan queued on node A that died before running it, while A's lease on it lives, is
 * left alone by the nodes B and C that start (they no longer queue every IN_PROGRESS scan); once the lease has
 * expired, the periodic sweep of B and C queues it, and it runs once. */
static void test_storage_engine_pg__scans_across_nodes(void **state)
{
	(void)state;
	if (!g_up)
		skip();
	char url[600];
	new_database(url, sizeof(url));
	char *dir = th_tmpdir();
	assert_non_null(dir);
	ecr_registry *a = scan_node_open(url, dir);
	ecr_repository *repo = NULL;
	assert_ok(ecr_repository_create(&repo, a, "scanned/app", NULL));
	uint64_t rng = 77;
	th_image img;
	assert_ok(th_image_random(&img, &rng, 1, NULL));
	assert_ok(th_image_push(repo, &img, "v1", 0));

	/* node A: the scan is recorded IN_PROGRESS and queued, A takes its lease (it "runs" it) and dies */
	ecr_scanner *sa = NULL;
	assert_ok(ecr_scanner_new(&sa, 1));
	ecr__scanner_pause(sa, true);
	assert_ok(ecr_scanner_attach(sa, a));
	assert_ok(ecr_scanner_start(sa, repo, img.digest));
	assert_int_equal(scan_status(repo, img.digest), ECR_SCAN_IN_PROGRESS);
	char lease[256];
	snprintf(lease, sizeof(lease), "scan/%lld/%s", (long long)repo->id, img.digest);
	assert_ok(ecr__lease_acquire(a->store, lease, "node-a-dead", ecr_registry_now(a), 1500));
	assert_ok(ecr_scanner_detach(sa, a));
	ecr_scanner_free(sa);
	ecr_repository_free(repo);
	ecr_registry_free(a);

	/* nodes B and C start: the lease lives, nothing is queued */
	ecr_registry *b = scan_node_open(url, dir), *c = scan_node_open(url, dir);
	ecr_scanner *sb = NULL, *sc = NULL;
	assert_ok(ecr_scanner_new(&sb, 2));
	assert_ok(ecr_scanner_new(&sc, 2));
	ecr__scanner_set_sweep(sb, 0, 0);
	ecr__scanner_set_sweep(sc, 0, 0);
	__atomic_store_n(&g_scanned, 0, __ATOMIC_SEQ_CST);
	assert_ok(ecr_scanner_attach(sb, b));
	assert_ok(ecr_scanner_attach(sc, c));
	assert_ok(ecr_scanner_drain(sb, 10000));
	assert_ok(ecr_scanner_drain(sc, 10000));
	assert_ok(ecr_repository_open(&repo, b, "scanned/app"));
	assert_int_equal(scan_status(repo, img.digest), ECR_SCAN_IN_PROGRESS);
	assert_int_equal(__atomic_load_n(&g_scanned, __ATOMIC_SEQ_CST), 0);

	/* the lease runs out; both nodes sweep every 50 ms: the scan completes, on one node, once */
	usleep(1600 * 1000);
	double t0 = th_now_s();
	ecr__scanner_set_sweep(sb, 50, 0);
	ecr__scanner_set_sweep(sc, 50, 0);
	/* (the random layers are no tar archives: the scan ends FAILED, which is its outcome as well) */
	while (scan_status(repo, img.digest) == ECR_SCAN_IN_PROGRESS && th_now_s() - t0 < 20)
		usleep(20 * 1000);
	assert_int_equal(scan_status(repo, img.digest), ECR_SCAN_FAILED);
	fprintf(stderr, "# the orphaned scan ended %.2f s after its lease expired\n", th_now_s() - t0 + 0.1);
	usleep(300 * 1000); /* further sweeps find nothing */
	assert_ok(ecr_scanner_drain(sb, 10000));
	assert_ok(ecr_scanner_drain(sc, 10000));
	assert_int_equal(__atomic_load_n(&g_scanned, __ATOMIC_SEQ_CST), 1);

	assert_ok(ecr_scanner_detach(sb, b));
	assert_ok(ecr_scanner_detach(sc, c));
	ecr_scanner_free(sb);
	ecr_scanner_free(sc);
	ecr_repository_free(repo);
	ecr_registry_free(b);
	ecr_registry_free(c);
	th_image_dispose(&img);
	th_rmtree(dir);
}

/* --- the cases --- */

static void test_storage_engine_pg__repositories(void **state)
{
	(void)state;
	run_case(scenario_repositories);
}

static void test_storage_engine_pg__images(void **state)
{
	(void)state;
	run_case(scenario_images);
}

static void test_storage_engine_pg__uploads_gc(void **state)
{
	(void)state;
	run_case(scenario_uploads_gc);
}

static void test_storage_engine_pg__lifecycle(void **state)
{
	(void)state;
	run_case(scenario_lifecycle);
}

static void test_storage_engine_pg__auth(void **state)
{
	(void)state;
	run_case(scenario_auth);
}

static void test_storage_engine_pg__replication_templates(void **state)
{
	(void)state;
	run_case(scenario_replication);
}

static void test_storage_engine_pg__public(void **state)
{
	(void)state;
	g_region = "public";
	run_case(scenario_public);
	g_region = NULL;
}

static void test_storage_engine_pg__cache_scan(void **state)
{
	(void)state;
	run_case(scenario_cache_scan);
}

int main(void)
{
	g_up = th_pg_start() == 0;
	if (!g_up)
		fprintf(stderr,
		        "# no PostgreSQL test server (PG_TEST_SERVER unset or the server did not start): skipped\n");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_storage_engine_pg__repositories),
	    cmocka_unit_test(test_storage_engine_pg__images),
	    cmocka_unit_test(test_storage_engine_pg__uploads_gc),
	    cmocka_unit_test(test_storage_engine_pg__lifecycle),
	    cmocka_unit_test(test_storage_engine_pg__auth),
	    cmocka_unit_test(test_storage_engine_pg__replication_templates),
	    cmocka_unit_test(test_storage_engine_pg__cache_scan),
	    cmocka_unit_test(test_storage_engine_pg__public),
	    cmocka_unit_test(test_storage_engine_pg__claims_across_nodes),
	    cmocka_unit_test(test_storage_engine_pg__lease_race),
	    cmocka_unit_test(test_storage_engine_pg__tags_across_nodes),
	    cmocka_unit_test(test_storage_engine_pg__scans_across_nodes),
	};
	int rc = cmocka_run_group_tests_name("storage/engine_pg", tests, NULL, NULL);
	th_pg_finish();
	return rc;
}
