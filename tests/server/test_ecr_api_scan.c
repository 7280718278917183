/* The ECR control plane's scanning operations (libecr/server/ecr_api_scan.c),
 * over HTTP with libcurl against a server on a memory: registry without
 * authentication, with a scanner attached and a small OSV database. */
#include "api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../scan/th_scanimg.h"
#include "libecr/core/json.h"
#include "libecr/scan/scan_internal.h"

#define REPO "proj/app"

typedef struct fixture {
	ecr_registry *reg;
	ecr_server *srv;
	ecr_repository *repo;
	ecr_scanner *scanner;
	ecr_vulndb *db;
	char *osv;
	int64_t now;
	uint16_t port;
} fixture;

/* POST / with X-Amz-Target: ...<op> and a JSON body; the reply's JSON is parsed. */
static void call(reply *r, fixture *f, const char *op, const char *body)
{
	api_call(r, f->port, op, body);
}

static int64_t fixed_clock(void *payload)
{
	return ((fixture *)payload)->now;
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	ecr_registry_options ro = ECR_REGISTRY_OPTIONS_INIT;
	ecr_repository_options po = ECR_REPOSITORY_OPTIONS_INIT;
	assert_non_null(f);
	f->now = 1700000000000LL;
	ro.clock_cb = fixed_clock;
	ro.clock_payload = f;
	po.scan_on_push = 1;
	f->osv = th_tmpdir();
	assert_int_equal(th_si_advisory(f->osv, "CVE-2099-0001", "openssl", "3.0.11-1~deb12u2"), 0);
	assert_int_equal(th_si_advisory(f->osv, "CVE-2099-0002", "zlib", "1:1.3.dfsg-1"), 0);
	assert_int_equal(th_si_advisory(f->osv, "CVE-2099-0003", "curl", "7.88.1-10+deb12u5"), 0);
	const char *paths[] = {f->osv};
	assert_ok(ecr_vulndb_load(&f->db, paths, 1));
	assert_ok(ecr_registry_open(&f->reg, "memory:", &ro));
	assert_ok(ecr_repository_create(&f->repo, f->reg, REPO, &po));
	assert_ok(ecr_scanner_new(&f->scanner, 1));
	assert_ok(ecr_scanner_set_db(f->scanner, f->db));
	assert_ok(ecr_scanner_attach(f->scanner, f->reg));
	f->port = api_server_start(&f->srv, f->reg, ECR_SERVER_NO_AUTH);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	ecr_server_free(f->srv);
	ecr_scanner_free(f->scanner);
	ecr_vulndb_free(f->db);
	ecr_repository_free(f->repo);
	ecr_registry_free(f->reg);
	th_rmtree(f->osv);
	free(f);
	return 0;
}

static const char *const PKGS[] = {"libssl3 3.0.9-1 openssl", "openssl 3.0.9-1 -", "zlib1g 1:1.2.13.dfsg-1 zlib",
                                   "libcurl4 7.88.1-10 curl", "curl 7.88.1-10 -"};

static void test_server_ecr_api_scan__findings(void **state)
{
	fixture *f = *state;
	reply r = {0};
	char d[ECR__DIGEST_STRLEN_MAX], body[512];
	assert_ok(th_si_push(d, f->repo, "v1", PKGS, 5));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));

	call(&r, f, "DescribeImageScanFindings",
	     "{\"repositoryName\":\"" REPO "\",\"imageId\":{\"imageTag\":\"v1\"},\"maxResults\":2}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "registryId"), "123456789012");
	assert_string_equal(jstr(jget(r.json, "imageId"), "imageDigest"), d);
	assert_string_equal(jstr(jget(r.json, "imageId"), "imageTag"), "v1");
	assert_string_equal(jstr(jget(r.json, "imageScanStatus"), "status"), "COMPLETE");
	assert_string_equal(jstr(jget(r.json, "imageScanStatus"), "description"),
	                    "The scan was completed successfully.");
	const ecr__json *isf = jget(r.json, "imageScanFindings");
	const ecr__json *counts = jget(isf, "findingSeverityCounts");
	assert_int_equal(jint(counts, "CRITICAL"), 5);
	assert_int_equal(counts->count, 1);
	assert_int_equal(jget(isf, "imageScanCompletedAt")->type, ECR__JSON_NUMBER);
	assert_int_equal((int64_t)(jget(isf, "imageScanCompletedAt")->number * 1000 + 0.5), f->now);
	assert_int_equal(jget(isf, "vulnerabilitySourceUpdatedAt")->type, ECR__JSON_NUMBER);

	/* pages of 2 over 5 findings, in the report's order (severity, then name) */
	char seen[1024] = "";
	for (int page = 0;; page++) {
		const ecr__json *list = jget(jget(r.json, "imageScanFindings"), "findings");
		assert_true(list->count <= 2);
		for (size_t i = 0; i < list->count; i++) {
			const ecr__json *fd = list->values[i], *attrs = jget(fd, "attributes");
			assert_string_equal(jstr(fd, "severity"), "CRITICAL");
			assert_non_null(strstr(jstr(fd, "uri"), jstr(fd, "name")));
			assert_non_null(strstr(jstr(fd, "description"), "a test vulnerability"));
			assert_int_equal(attrs->count, 4);
			assert_string_equal(jstr(attrs->values[0], "key"), "package_name");
			assert_string_equal(jstr(attrs->values[1], "key"), "package_version");
			assert_string_equal(jstr(attrs->values[2], "key"), "CVSS3_VECTOR");
			assert_string_equal(jstr(attrs->values[2], "value"),
			                    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
			assert_string_equal(jstr(attrs->values[3], "key"), "CVSS3_SCORE");
			assert_string_equal(jstr(attrs->values[3], "value"), "9.8");
			char one[128];
			snprintf(one, sizeof(one), "%s%s@%s", *seen ? "," : "", jstr(fd, "name"),
			         jstr(attrs->values[0], "value"));
			strncat(seen, one, sizeof(seen) - strlen(seen) - 1);
		}
		const ecr__json *next = ecr__json_get(r.json, "nextToken");
		if (!next) {
			assert_int_equal(page, 2);
			break;
		}
		snprintf(body, sizeof(body),
		         "{\"repositoryName\":\"" REPO "\",\"imageId\":{\"imageDigest\":\"%s\"},\"maxResults\":2,"
		         "\"nextToken\":\"%s\"}",
		         d, next->string);
		call(&r, f, "DescribeImageScanFindings", body);
		expect_ok(&r);
	}
	assert_string_equal(seen, "CVE-2099-0001@libssl3,CVE-2099-0001@openssl,CVE-2099-0002@zlib1g,"
	                          "CVE-2099-0003@curl,CVE-2099-0003@libcurl4");

	/* DescribeImages mirrors the status and the counts */
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"" REPO "\"}");
	expect_ok(&r);
	const ecr__json *detail = jget(r.json, "imageDetails")->values[0];
	assert_string_equal(jstr(jget(detail, "imageScanStatus"), "status"), "COMPLETE");
	assert_int_equal(jint(jget(jget(detail, "imageScanFindingsSummary"), "findingSeverityCounts"), "CRITICAL"), 5);

	/* errors */
	call(&r, f, "DescribeImageScanFindings",
	     "{\"repositoryName\":\"" REPO "\",\"imageId\":{\"imageTag\":\"v1\"},\"nextToken\":\"garbage\"}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "DescribeImageScanFindings",
	     "{\"repositoryName\":\"" REPO "\",\"imageId\":{\"imageTag\":\"v1\"},\"maxResults\":1001}");
	expect_error(&r, "InvalidParameterException");
	call(&r, f, "DescribeImageScanFindings",
	     "{\"repositoryName\":\"" REPO "\",\"imageId\":{\"imageTag\":\"nope\"}}");
	expect_error(&r, "ImageNotFoundException");
	call(&r, f, "DescribeImageScanFindings", "{\"repositoryName\":\"nope\",\"imageId\":{\"imageTag\":\"v1\"}}");
	expect_error(&r, "RepositoryNotFoundException");
	reply_dispose(&r);
}

static void test_server_ecr_api_scan__start_image_scan(void **state)
{
	fixture *f = *state;
	reply r = {0};
	char d[ECR__DIGEST_STRLEN_MAX];
	ecr_repository *manual = NULL;
	assert_ok(ecr_repository_create(&manual, f->reg, "manual", NULL));
	assert_ok(th_si_push(d, manual, "v1", PKGS, 2));
	assert_ok(ecr_scanner_drain(f->scanner, 30000));

	call(&r, f, "DescribeImageScanFindings", "{\"repositoryName\":\"manual\",\"imageId\":{\"imageTag\":\"v1\"}}");
	expect_error(&r, "ScanNotFoundException");
	assert_non_null(strstr(ecr__json_get_string(r.json, "message"), "Image scan does not exist"));
	call(&r, f, "DescribeImages", "{\"repositoryName\":\"manual\"}");
	expect_ok(&r);
	assert_null(ecr__json_get(jget(r.json, "imageDetails")->values[0], "imageScanStatus"));

	ecr__scanner_pause(f->scanner, true);
	call(&r, f, "StartImageScan", "{\"repositoryName\":\"manual\",\"imageId\":{\"imageTag\":\"v1\"}}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "repositoryName"), "manual");
	assert_string_equal(jstr(jget(r.json, "imageId"), "imageDigest"), d);
	assert_string_equal(jstr(jget(r.json, "imageScanStatus"), "status"), "IN_PROGRESS");
	call(&r, f, "DescribeImageScanFindings", "{\"repositoryName\":\"manual\",\"imageId\":{\"imageTag\":\"v1\"}}");
	expect_ok(&r);
	assert_string_equal(jstr(jget(r.json, "imageScanStatus"), "status"), "IN_PROGRESS");
	assert_null(ecr__json_get(r.json, "imageScanFindings"));
	ecr__scanner_pause(f->scanner, false);
	assert_ok(ecr_scanner_drain(f->scanner, 30000));
	call(&r, f, "DescribeImageScanFindings", "{\"repositoryName\":\"manual\",\"imageId\":{\"imageTag\":\"v1\"}}");
	expect_ok(&r);
	assert_int_equal(jget(jget(r.json, "imageScanFindings"), "findings")->count, 2);

	call(&r, f, "StartImageScan", "{\"repositoryName\":\"manual\",\"imageId\":{\"imageTag\":\"v1\"}}");
	expect_error(&r, "LimitExceededException");
	assert_string_equal(ecr__json_get_string(r.json, "message"),
	                    "The scan quota per image has been exceeded. Wait and try again.");
	f->now += 24LL * 3600 * 1000;
	call(&r, f, "StartImageScan", "{\"repositoryName\":\"manual\",\"imageId\":{\"imageTag\":\"v1\"}}");
	expect_ok(&r);
	assert_ok(ecr_scanner_drain(f->scanner, 30000));

	call(&r, f, "StartImageScan", "{\"repositoryName\":\"manual\",\"imageId\":{\"imageTag\":\"nope\"}}");
	expect_error(&r, "ImageNotFoundException");
	call(&r, f, "StartImageScan", "{\"repositoryName\":\"manual\"}");
	expect_error(&r, "InvalidParameterException");
	assert_ok(ecr_image_set_storage_class(NULL, manual, d, ECR_STORAGE_CLASS_ARCHIVE));
	call(&r, f, "StartImageScan", "{\"repositoryName\":\"manual\",\"imageId\":{\"imageTag\":\"v1\"}}");
	expect_error(&r, "ImageArchivedException");
	ecr_repository_free(manual);
	reply_dispose(&r);
}

static void test_server_ecr_api_scan__configuration(void **state)
{
	fixture *f = *state;
	reply r = {0};
	ecr_repository *other = NULL;
	assert_ok(ecr_repository_create(&other, f->reg, "prod-api", NULL));

	call(&r, f, "GetRegistryScanningConfiguration", "{}");
	expect_ok(&r);
	assert_string_equal(jstr(r.json, "registryId"), "123456789012");
	assert_string_equal(jstr(jget(r.json, "scanningConfiguration"), "scanType"), "BASIC");
	assert_int_equal(jget(jget(r.json, "scanningConfiguration"), "rules")->count, 0);

	call(&r, f, "PutRegistryScanningConfiguration",
	     "{\"scanType\":\"ENHANCED\",\"rules\":[{\"scanFrequency\":\"CONTINUOUS_SCAN\",\"repositoryFilters\":"
	     "[{\"filter\":\"prod\",\"filterType\":\"WILDCARD\"}]}]}");
	expect_ok(&r);
	const ecr__json *cfg = jget(r.json, "registryScanningConfiguration");
	assert_string_equal(jstr(cfg, "scanType"), "ENHANCED");
	assert_string_equal(jstr(jget(cfg, "rules")->values[0], "scanFrequency"), "CONTINUOUS_SCAN");

	call(&r, f, "PutRegistryScanningConfiguration",
	     "{\"scanType\":\"BASIC\",\"rules\":[{\"scanFrequency\":\"SCAN_ON_PUSH\",\"repositoryFilters\":"
	     "[{\"filter\":\"-bad\",\"filterType\":\"WILDCARD\"}]}]}");
	expect_error(&r, "ValidationException");
	call(&r, f, "PutRegistryScanningConfiguration", "{\"scanType\":7}");
	expect_error(&r, "SerializationException");
	call(&r, f, "GetRegistryScanningConfiguration", "{}");
	expect_ok(&r);
	assert_string_equal(jstr(jget(r.json, "scanningConfiguration"), "scanType"), "ENHANCED");

	call(&r, f, "BatchGetRepositoryScanningConfiguration",
	     "{\"repositoryNames\":[\"" REPO "\",\"prod-api\",\"missing\"]}");
	expect_ok(&r);
	const ecr__json *cfgs = jget(r.json, "scanningConfigurations");
	assert_int_equal(cfgs->count, 2);
	assert_string_equal(jstr(cfgs->values[0], "repositoryName"), REPO);
	assert_string_equal(jstr(cfgs->values[0], "scanFrequency"), "SCAN_ON_PUSH");
	assert_true(jget(cfgs->values[0], "scanOnPush")->boolean);
	assert_int_equal(jget(cfgs->values[0], "appliedScanFilters")->count, 0);
	assert_string_equal(jstr(cfgs->values[1], "repositoryArn"),
	                    "arn:aws:ecr:us-east-1:123456789012:repository/prod-api");
	assert_string_equal(jstr(cfgs->values[1], "scanFrequency"), "CONTINUOUS_SCAN");
	assert_string_equal(jstr(jget(cfgs->values[1], "appliedScanFilters")->values[0], "filter"), "prod");
	const ecr__json *fails = jget(r.json, "failures");
	assert_int_equal(fails->count, 1);
	assert_string_equal(jstr(fails->values[0], "repositoryName"), "missing");
	assert_string_equal(jstr(fails->values[0], "failureCode"), "REPOSITORY_NOT_FOUND");

	call(&r, f, "BatchGetRepositoryScanningConfiguration", "{\"repositoryNames\":[]}");
	expect_error(&r, "InvalidParameterException");
	ecr_repository_free(other);
	reply_dispose(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_scan__findings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_scan__start_image_scan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_ecr_api_scan__configuration, setup, teardown),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("server/ecr_api_scan", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
