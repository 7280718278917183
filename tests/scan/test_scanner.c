/* The scanning service (libecr/scan/scanner.c): scan on push in the background,
 * StartImageScan's quota on the registry clock, continuous re-matching when the
 * database changes, a full queue, results that survive a reopen, the registry
 * scanning configuration and a repository's effective frequency. */
#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libecr/scan/scan_internal.h"
#include "th_scanimg.h"

#define HOUR_MS (60LL * 60 * 1000)

typedef struct fixture {
	char *dir; /* registry data */
	char *osv; /* OSV folder */
	char url[1100];
	int64_t now;
	ecr_registry *reg;
	ecr_scanner *scanner;
	ecr_vulndb *db;
} fixture;

static int64_t fixed_clock(void *payload)
{
	return ((fixture *)payload)->now;
}

static void open_registry(fixture *f)
{
	ecr_registry_options o = ECR_REGISTRY_OPTIONS_INIT;
	o.clock_cb = fixed_clock;
	o.clock_payload = f;
	o.flags = ECR_STORAGE_NOSYNC;
	assert_ok(ecr_registry_open(&f->reg, f->url, &o));
}

static void load_db(fixture *f)
{
	const char *paths[] = {f->osv};
	ecr_vulndb_free(f->db);
	f->db = NULL;
	assert_ok(ecr_vulndb_load(&f->db, paths, 1));
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->dir = th_tmpdir();
	f->osv = th_tmpdir();
	f->now = 1700000000000LL;
	snprintf(f->url, sizeof(f->url), "file://%s", f->dir);
	open_registry(f);
	assert_int_equal(th_si_advisory(f->osv, "CVE-2099-0001", "openssl", "3.0.11-1~deb12u2"), 0);
	load_db(f);
	assert_ok(ecr_scanner_new(&f->scanner, 2));
	assert_ok(ecr_scanner_set_db(f->scanner, f->db));
	assert_ok(ecr_scanner_attach(f->scanner, f->reg));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_scanner_free(f->scanner);
	ecr_vulndb_free(f->db);
	ecr_registry_free(f->reg);
	th_rmtree(f->dir);
	th_rmtree(f->osv);
	free(f);
	return 0;
}

static ecr_repository *make_repo(fixture *f, const char *name, int scan_on_push)
{
	ecr_repository *repo = NULL;
	ecr_repository_options o = ECR_REPOSITORY_OPTIONS_INIT;
	o.scan_on_push = scan_on_push;
	assert_ok(ecr_repository_create(&repo, f->reg, name, &o));
	return repo;
}

static const char *const VULNERABLE[] = {"libssl3 3.0.9-1 openssl", "openssl 3.0.9-1 -", "zlib1g 1:1.2.13.dfsg-1 zlib"};
static const char *const FIXED[] = {"libssl3 3.0.11-1~deb12u2 openssl", "zlib1g 1:1.2.13.dfsg-1 zlib"};

static ecr_scan_status status_of(ecr_repository *repo, const char *digest, char **reason_out,
                                 ecr_scan_report **report_out)
{
	ecr_scan_status st;
	ecr_buf reason = ECR_BUF_INIT;
	assert_ok(ecr_image_scan_result(&st, &reason, NULL, report_out, repo, digest));
	if (reason_out)
		*reason_out = reason.ptr ? strdup(reason.ptr) : NULL;
	ecr_buf_dispose(&reason);
	return st;
}

/* The names of the findings of a COMPLETE scan, "name@package" joined with ',' (sorted by the report). */
static void findings_of(char *out, size_t outlen, ecr_repository *repo, const char *digest)
{
	ecr_scan_report *report = NULL;
	assert_int_equal(status_of(repo, digest, NULL, &report), ECR_SCAN_COMPLETE);
	assert_non_null(report);
	out[0] = '\0';
	for (size_t i = 0; i < ecr_scan_report_finding_count(report); i++) {
		const ecr_scan_finding *fd = ecr_scan_report_finding(report, i);
		char one[256];
		snprintf(one, sizeof(one), "%s%s@%s", i ? "," : "", fd->name, fd->package_name);
		strncat(out, one, outlen - strlen(out) - 1);
	}
	ecr_scan_report_free(report);
}

static void test_scan_scanner__scan_on_push(void **state)
{
	fixture *f = *state;
	char d1[ECR__DIGEST_STRLEN_MAX], d2[ECR__DIGEST_STRLEN_MAX], names[1024];
	ecr_repository *on = make_repo(f, "push/on", 1), *off = make_repo(f, "push/off", 0);

	assert_ok(th_si_push(d1, on, "v1", VULNERABLE, 3));
	/* recorded at once, before any scan ran */
	ecr_scan_status st = status_of(on, d1, NULL, NULL);
	assert_true(st == ECR_SCAN_IN_PROGRESS || st == ECR_SCAN_COMPLETE);
	assert_ok(th_si_push(d2, off, "v1", VULNERABLE, 3));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));

	findings_of(names, sizeof(names), on, d1);
	/* both binary packages of the source package openssl */
	assert_string_equal(names, "CVE-2099-0001@libssl3,CVE-2099-0001@openssl");
	ecr_scan_report *report = NULL;
	int64_t completed = 0;
	assert_ok(ecr_image_scan_result(&st, NULL, &completed, &report, on, d1));
	assert_int_equal(completed, f->now);
	assert_int_equal(ecr_scan_report_severity_count(report, ECR_SEVERITY_CRITICAL), 2);
	const ecr_scan_finding *fd = ecr_scan_report_finding(report, 0);
	assert_string_equal(fd->package_version, "3.0.9-1");
	assert_int_equal(fd->cvss_version, 3);
	ecr_scan_report_free(report);
	/* not scanned without scan on push */
	assert_int_equal(status_of(off, d2, NULL, NULL), ECR_SCAN_NONE);
	/* pushing the same manifest again (a new tag) does not scan again */
	f->now += HOUR_MS;
	assert_ok(th_si_push(d1, on, "v1", VULNERABLE, 3));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	assert_ok(ecr_image_scan_result(&st, NULL, &completed, NULL, on, d1));
	assert_int_equal(completed, f->now - HOUR_MS);
	/* deleting the image deletes its scan */
	assert_ok(ecr_image_delete(on, d1));
	assert_int_equal(status_of(on, d1, NULL, NULL), ECR_SCAN_NONE);
	ecr_repository_free(on);
	ecr_repository_free(off);
}

static void test_scan_scanner__start_quota(void **state)
{
	fixture *f = *state;
	char d[ECR__DIGEST_STRLEN_MAX], names[1024];
	ecr_repository *repo = make_repo(f, "manual", 0);
	assert_ok(th_si_push(d, repo, "v1", FIXED, 2));
	assert_int_equal(status_of(repo, d, NULL, NULL), ECR_SCAN_NONE);

	assert_ok(ecr_scanner_start(f->scanner, repo, d));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	findings_of(names, sizeof(names), repo, d);
	assert_string_equal(names, "");

	/* once per image per 24 hours, on the registry's clock */
	f->now += 23 * HOUR_MS;
	assert_int_equal(ecr_scanner_start(f->scanner, repo, d), ECR_ELIMIT);
	assert_string_equal(ecr_error_last()->message,
	                    "The scan quota per image has been exceeded. Wait and try again.");
	f->now += HOUR_MS;
	assert_ok(ecr_scanner_start(f->scanner, repo, d));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	int64_t completed = 0;
	ecr_scan_status st;
	assert_ok(ecr_image_scan_result(&st, NULL, &completed, NULL, repo, d));
	assert_int_equal(st, ECR_SCAN_COMPLETE);
	assert_int_equal(completed, f->now);

	/* unknown image */
	assert_int_equal(ecr_scanner_start(f->scanner, repo,
	                                   "sha256:0000000000000000000000000000000000000000000000000000000000000000"),
	                 ECR_EIMAGE_NOT_FOUND);
	/* archived image */
	char d2[ECR__DIGEST_STRLEN_MAX];
	assert_ok(th_si_push(d2, repo, "v2", VULNERABLE, 3));
	assert_ok(ecr_image_set_storage_class(NULL, repo, d2, ECR_STORAGE_CLASS_ARCHIVE));
	assert_int_equal(ecr_scanner_start(f->scanner, repo, d2), ECR_EIMAGE_ARCHIVED);
	ecr_repository_free(repo);
}

static void test_scan_scanner__continuous_rematch(void **state)
{
	fixture *f = *state;
	char dc[ECR__DIGEST_STRLEN_MAX], dm[ECR__DIGEST_STRLEN_MAX], names[1024];
	ecr_buf freq = ECR_BUF_INIT;
	assert_ok(ecr_registry_set_scanning_configuration(
	    f->reg,
	    "{\"scanType\":\"ENHANCED\",\"rules\":[{\"scanFrequency\":\"CONTINUOUS_SCAN\",\"repositoryFilters\":"
	    "[{\"filter\":\"cont-*\",\"filterType\":\"WILDCARD\"}]}]}"));
	ecr_repository *cont = make_repo(f, "cont-app", 0), *manual = make_repo(f, "other", 0);
	assert_ok(ecr_repository_scan_frequency(&freq, cont));
	assert_string_equal(freq.ptr, "CONTINUOUS_SCAN");
	ecr_buf_dispose(&freq);

	assert_ok(th_si_push(dc, cont, "v1", VULNERABLE, 3)); /* scanned on push (continuous) */
	assert_ok(th_si_push(dm, manual, "v1", VULNERABLE, 3));
	assert_ok(ecr_scanner_start(f->scanner, manual, dm));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	findings_of(names, sizeof(names), cont, dc);
	assert_string_equal(names, "CVE-2099-0001@libssl3,CVE-2099-0001@openssl");

	/* a new advisory against zlib; the database is reloaded */
	assert_int_equal(th_si_advisory(f->osv, "CVE-2099-0002", "zlib", "1:1.3.dfsg-1"), 0);
	f->now += HOUR_MS;
	load_db(f);
	assert_ok(ecr_scanner_set_db(f->scanner, f->db));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	findings_of(names, sizeof(names), cont, dc);
	assert_string_equal(names, "CVE-2099-0001@libssl3,CVE-2099-0001@openssl,CVE-2099-0002@zlib1g");
	int64_t completed = 0;
	ecr_scan_status st;
	assert_ok(ecr_image_scan_result(&st, NULL, &completed, NULL, cont, dc));
	assert_int_equal(completed, f->now);
	int64_t vat = 0;
	assert_ok(ecr__image_scan_vulndb_at(&vat, cont, dc));
	assert_int_equal(vat, ecr_vulndb_loaded_at(f->db));
	/* a MANUAL repository keeps its findings until scanned again */
	findings_of(names, sizeof(names), manual, dm);
	assert_string_equal(names, "CVE-2099-0001@libssl3,CVE-2099-0001@openssl");
	ecr_repository_free(cont);
	ecr_repository_free(manual);
}

static void test_scan_scanner__queue_full(void **state)
{
	fixture *f = *state;
	char d[3][ECR__DIGEST_STRLEN_MAX];
	char *reason = NULL;
	ecr_repository *repo = make_repo(f, "busy", 1);
	ecr__scanner_set_queue_cap(f->scanner, 1);
	ecr__scanner_pause(f->scanner, true);
	const char *tags[] = {"a", "b", "c"};
	const char *pkgs[3][1] = {{"openssl 3.0.9-1 -"}, {"openssl 3.0.9-2 -"}, {"openssl 3.0.9-3 -"}};
	for (int i = 0; i < 3; i++) /* the push never fails nor waits for its scan */
		assert_ok(th_si_push(d[i], repo, tags[i], pkgs[i], 1));
	assert_int_equal(status_of(repo, d[0], NULL, NULL), ECR_SCAN_IN_PROGRESS);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(status_of(repo, d[i], &reason, NULL), ECR_SCAN_FAILED);
		assert_string_equal(reason, "scan queue full");
		free(reason);
	}
	assert_int_equal(ecr_scanner_drain(f->scanner, 50), ECR_EBUSY);
	ecr__scanner_pause(f->scanner, false);
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	assert_int_equal(status_of(repo, d[0], NULL, NULL), ECR_SCAN_COMPLETE);
	/* a scan that failed for a full queue counts against no quota */
	ecr__scanner_set_queue_cap(f->scanner, 10);
	assert_ok(ecr_scanner_start(f->scanner, repo, d[1]));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	assert_int_equal(status_of(repo, d[1], NULL, NULL), ECR_SCAN_COMPLETE);
	ecr_repository_free(repo);
}

static void test_scan_scanner__survives_reopen(void **state)
{
	fixture *f = *state;
	char d1[ECR__DIGEST_STRLEN_MAX], d2[ECR__DIGEST_STRLEN_MAX], names[1024];
	ecr_repository *repo = make_repo(f, "keep", 1);
	assert_ok(th_si_push(d1, repo, "v1", VULNERABLE, 3));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	/* a second push whose scan has not run when the scanner stops */
	ecr__scanner_pause(f->scanner, true);
	assert_ok(th_si_push(d2, repo, "v2", VULNERABLE, 3));
	ecr_repository_free(repo);
	ecr_scanner_free(f->scanner);
	f->scanner = NULL;
	ecr_registry_free(f->reg);

	open_registry(f);
	assert_ok(ecr_repository_open(&repo, f->reg, "keep"));
	findings_of(names, sizeof(names), repo, d1);
	assert_string_equal(names, "CVE-2099-0001@libssl3,CVE-2099-0001@openssl");
	assert_int_equal(status_of(repo, d2, NULL, NULL), ECR_SCAN_IN_PROGRESS);
	/* attaching a scanner runs the scans left in progress */
	assert_ok(ecr_scanner_new(&f->scanner, 1));
	assert_ok(ecr_scanner_set_db(f->scanner, f->db));
	assert_ok(ecr_scanner_attach(f->scanner, f->reg));
	assert_ok(ecr_scanner_attach(f->scanner, f->reg)); /* twice: no second registration, nothing queued twice */
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	findings_of(names, sizeof(names), repo, d2);
	assert_string_equal(names, "CVE-2099-0001@libssl3,CVE-2099-0001@openssl");
	ecr_scanner *other = NULL;
	assert_ok(ecr_scanner_new(&other, 1));
	assert_int_equal(ecr_scanner_attach(other, f->reg), ECR_EEXISTS);
	ecr_scanner_free(other);
	/* detached: pushes are no longer scanned */
	assert_ok(ecr_scanner_detach(f->scanner, f->reg));
	assert_int_equal(ecr_scanner_detach(f->scanner, f->reg), ECR_ENOTFOUND);
	char d3[ECR__DIGEST_STRLEN_MAX];
	assert_ok(th_si_push(d3, repo, "v3", FIXED, 2));
	assert_int_equal(status_of(repo, d3, NULL, NULL), ECR_SCAN_NONE);
	ecr_repository_free(repo);
}

struct pusher {
	ecr_repository *repo;
	int id;
	int rc;
	char digests[5][ECR__DIGEST_STRLEN_MAX];
};

static void *push_thread(void *arg)
{
	struct pusher *p = arg;
	for (int i = 0; i < 5 && !p->rc; i++) {
		char pkg[64], tag[32];
		snprintf(pkg, sizeof(pkg), "openssl 3.0.%d-%d -", p->id, i + 1);
		snprintf(tag, sizeof(tag), "t%d-%d", p->id, i);
		const char *pkgs[] = {pkg};
		p->rc = th_si_push(p->digests[i], p->repo, tag, pkgs, 1);
	}
	return NULL;
}

static void test_scan_scanner__concurrent_pushes(void **state)
{
	fixture *f = *state;
	char names[1024];
	struct pusher p[4];
	pthread_t t[4];
	ecr_repository *repo = make_repo(f, "many", 1);
	for (int i = 0; i < 4; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		assert_ok(ecr_repository_open(&p[i].repo, f->reg, "many"));
		p[i].id = i;
		assert_int_equal(pthread_create(&t[i], NULL, push_thread, &p[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_ok(p[i].rc);
	}
	assert_ok(ecr_scanner_drain(f->scanner, 60000));
	for (int i = 0; i < 4; i++) {
		for (int k = 0; k < 5; k++) {
			findings_of(names, sizeof(names), repo, p[i].digests[k]);
			assert_string_equal(names, "CVE-2099-0001@openssl");
		}
		ecr_repository_free(p[i].repo);
	}
	ecr_repository_free(repo);
}

static void expect_invalid(fixture *f, const char *json, const char *fragment)
{
	int rc = ecr_registry_set_scanning_configuration(f->reg, json);
	if (rc != ECR_EVALIDATION)
		fail_msg("%s: got %d, expected ECR_EVALIDATION", json, rc);
	if (!strstr(ecr_error_last()->message, fragment))
		fail_msg("%s: message '%s' lacks '%s'", json, ecr_error_last()->message, fragment);
}

static void frequency_is(ecr_repository *repo, const char *expected)
{
	ecr_buf freq = ECR_BUF_INIT;
	assert_ok(ecr_repository_scan_frequency(&freq, repo));
	assert_string_equal(freq.ptr, expected);
	ecr_buf_dispose(&freq);
}

static void test_scan_scanner__configuration(void **state)
{
	fixture *f = *state;
	ecr_buf out = ECR_BUF_INIT;
	assert_ok(ecr_registry_scanning_configuration(&out, f->reg));
	assert_string_equal(out.ptr, "{\"scanType\":\"BASIC\",\"rules\":[]}");
	ecr_buf_dispose(&out);

	expect_invalid(f, "{", "Invalid scanning configuration");
	expect_invalid(f, "{\"scanType\":\"FAST\"}", "[BASIC, ENHANCED]");
	expect_invalid(f,
	               "{\"rules\":[{\"scanFrequency\":\"SCAN_ON_PUSH\",\"repositoryFilters\":[]},{\"scanFrequency\":"
	               "\"SCAN_ON_PUSH\",\"repositoryFilters\":[]},{\"scanFrequency\":\"SCAN_ON_PUSH\","
	               "\"repositoryFilters\":[]}]}",
	               "less than or equal to 2");
	expect_invalid(
	    f, "{\"scanType\":\"BASIC\",\"rules\":[{\"scanFrequency\":\"CONTINUOUS_SCAN\",\"repositoryFilters\":[]}]}",
	    "BASIC");
	expect_invalid(f,
	               "{\"rules\":[{\"scanFrequency\":\"SCAN_ON_PUSH\",\"repositoryFilters\":[{\"filter\":\"Prod\","
	               "\"filterType\":\"WILDCARD\"}]}]}",
	               "regular expression pattern");
	expect_invalid(f,
	               "{\"rules\":[{\"scanFrequency\":\"SCAN_ON_PUSH\",\"repositoryFilters\":[{\"filter\":\"prod\","
	               "\"filterType\":\"REGEX\"}]}]}",
	               "[WILDCARD]");
	expect_invalid(f, "{\"rules\":[{\"scanFrequency\":\"SCAN_ON_PUSH\"}]}", "repositoryFilters");

	/* filters: a substring without '*', an anchored glob with it */
	assert_true(ecr__scan_filter_match("prod", "repo-prod-repo"));
	assert_false(ecr__scan_filter_match("prod", "pro-d"));
	assert_true(ecr__scan_filter_match("*prod", "prod"));
	assert_true(ecr__scan_filter_match("*prod", "repo-prod"));
	assert_false(ecr__scan_filter_match("*prod", "prod-repo"));
	assert_true(ecr__scan_filter_match("prod*", "prodrepo"));
	assert_true(ecr__scan_filter_match("prod*repo", "prod-repo"));
	assert_false(ecr__scan_filter_match("prod*repo", "prod-rep"));
	assert_true(ecr__scan_filter_match("*", "anything/at/all"));

	ecr_repository *a = make_repo(f, "team/prod-api", 0), *b = make_repo(f, "team/dev", 1),
	               *c = make_repo(f, "legacy", 0);
	frequency_is(a, "MANUAL");
	frequency_is(b, "SCAN_ON_PUSH");
	assert_ok(ecr_registry_set_scanning_configuration(
	    f->reg, "{\"scanType\":\"ENHANCED\",\"rules\":[{\"scanFrequency\":\"SCAN_ON_PUSH\",\"repositoryFilters\":"
	            "[{\"filter\":\"team\",\"filterType\":\"WILDCARD\"}]},{\"scanFrequency\":\"CONTINUOUS_SCAN\","
	            "\"repositoryFilters\":[{\"filter\":\"*prod*\",\"filterType\":\"WILDCARD\"}]}]}"));
	frequency_is(a, "CONTINUOUS_SCAN"); /* continuous wins when both match */
	frequency_is(b, "SCAN_ON_PUSH");
	frequency_is(c, "MANUAL");
	char *freq = NULL;
	assert_ok(ecr__scan_frequency_of(&freq, &out, a));
	assert_string_equal(freq, "CONTINUOUS_SCAN");
	assert_string_equal(out.ptr, "[{\"filter\":\"*prod*\",\"filterType\":\"WILDCARD\"}]");
	ecr__free(freq);
	ecr_buf_dispose(&out);
	assert_ok(ecr_registry_scanning_configuration(&out, f->reg));
	assert_non_null(strstr(out.ptr, "\"scanType\":\"ENHANCED\""));
	assert_non_null(strstr(out.ptr, "{\"filter\":\"*prod*\",\"filterType\":\"WILDCARD\"}"));
	ecr_buf_dispose(&out);
	ecr_repository_free(a);
	ecr_repository_free(b);
	ecr_repository_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_scan_scanner__scan_on_push, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scanner__start_quota, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scanner__continuous_rematch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scanner__queue_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scanner__survives_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scanner__configuration, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scanner__concurrent_pushes, setup, teardown),
	};
	return cmocka_run_group_tests_name("scan/scanner", tests, NULL, NULL);
}
