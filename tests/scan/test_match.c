/* Matching packages against OSV advisories: Debian source packages, Alpine
 * origins, rpm epochs and source/binary names, fixed versions, the finding's
 * name and URI, and severity precedence (CVSS v3, v2, the distribution's own). */
#include "../helpers/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../libecr/scan/scan_internal.h"

typedef struct hit {
	char id[64], fixed[64], uri[128], summary[64], vector[96];
	ecr_severity severity;
	int cvss_version;
	double score;
} hit;

typedef struct hits {
	hit h[16];
	int count;
	int stop_after; /* return 42 after this many; 0: never */
} hits;

static void copy(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "-");
}

static int collect_cb(const ecr__match *m, void *payload)
{
	hits *r = payload;
	hit *h;
	if (r->count >= 16)
		return -1;
	h = &r->h[r->count++];
	copy(h->id, sizeof(h->id), m->id);
	copy(h->fixed, sizeof(h->fixed), m->fixed_version);
	copy(h->uri, sizeof(h->uri), m->uri);
	copy(h->summary, sizeof(h->summary), m->summary);
	copy(h->vector, sizeof(h->vector), m->cvss_vector);
	h->severity = m->severity;
	h->cvss_version = m->cvss_version;
	h->score = m->cvss_score;
	return r->stop_after && r->count == r->stop_after ? 42 : 0;
}

static const hit *find(const hits *r, const char *id)
{
	int i;
	for (i = 0; i < r->count; i++)
		if (strcmp(r->h[i].id, id) == 0)
			return &r->h[i];
	return NULL;
}

static ecr_vulndb *load_set(char **dir_out, const char *const *docs, size_t n)
{
	char *dir = th_tmpdir();
	const char *paths[1];
	ecr_vulndb *db = NULL;
	size_t i;

	assert_non_null(dir);
	for (i = 0; i < n; i++) {
		char path[1024];
		FILE *f;
		snprintf(path, sizeof(path), "%s/adv-%02zu.json", dir, i);
		f = fopen(path, "wb");
		assert_non_null(f);
		fputs(docs[i], f);
		assert_int_equal(fclose(f), 0);
	}
	paths[0] = dir;
	assert_ok(ecr_vulndb_load(&db, paths, 1));
	assert_int_equal(ecr_vulndb_advisory_count(db), n);
	*dir_out = dir;
	return db;
}

static int run(hits *r, const ecr_vulndb *db, const char *eco, ecr__pkg_format fmt, const char *name,
               const char *version, const char *src, const char *src_version)
{
	ecr__pkg pkg = {(char *)name, (char *)version, (char *)src, (char *)src_version, NULL};
	memset(r, 0, sizeof(*r));
	assert_ok(ecr__vulndb_match(db, eco, fmt, &pkg, collect_cb, r));
	return r->count;
}

#define RANGE(eco, name, intro, fixed)                                                                                 \
	"{\"package\":{\"ecosystem\":\"" eco "\",\"name\":\"" name "\"},\"ranges\":[{\"type\":\"ECOSYSTEM\","          \
	"\"events\":[{\"introduced\":\"" intro "\"},{\"fixed\":\"" fixed "\"}]}]}"

static void test_scan_match__debian_source_packages(void **state)
{
	static const char *const docs[] = {
	    /* glibc's advisory, filed against the source package */
	    "{\"id\":\"DSA-5514-1\",\"aliases\":[\"CVE-2023-4911\"],\"summary\":\"glibc - security update\","
	    "\"references\":[{\"type\":\"WEB\",\"url\":\"https://example.org/web\"},"
	    "{\"type\":\"ADVISORY\",\"url\":\"https://www.debian.org/security/2023/dsa-5514\"}],"
	    "\"affected\":[" RANGE("Debian:12", "glibc", "0", "2.36-9+deb12u3") "]}",
	    /* filed under libc6: matches only a package whose source is libc6 (or that has no Source:) */
	    "{\"id\":\"CVE-2023-0001\",\"details\":\"long text\",\"affected\":[" RANGE("Debian:12", "libc6", "0",
	                                                                               "9.9") "]}",
	    /* same package in another release */
	    "{\"id\":\"CVE-2023-0002\",\"affected\":[" RANGE("Debian:11", "glibc", "0", "9.9") "]}",
	};
	char *dir;
	ecr_vulndb *db = load_set(&dir, docs, 3);
	hits r;
	(void)state;

	/* libc6 from source glibc: matched through the source name */
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "libc6", "2.36-9+deb12u1", "glibc", NULL), 1);
	assert_string_equal(r.h[0].id, "CVE-2023-4911");
	assert_string_equal(r.h[0].fixed, "2.36-9+deb12u3");
	assert_string_equal(r.h[0].uri, "https://www.debian.org/security/2023/dsa-5514");
	assert_string_equal(r.h[0].summary, "glibc - security update");
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_UNDEFINED);
	assert_int_equal(r.h[0].cvss_version, 0);
	/* fixed */
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "libc6", "2.36-9+deb12u3", "glibc", NULL), 0);
	/* a binNMU: the source version decides ("Source: glibc (2.36-9+deb12u3)") */
	assert_int_equal(
	    run(&r, db, "Debian:12", ECR__PKG_DPKG, "libc6", "2.36-9+deb12u3+b1", "glibc", "2.36-9+deb12u3"), 0);
	assert_int_equal(
	    run(&r, db, "Debian:12", ECR__PKG_DPKG, "libc6", "2.36-9+deb12u2+b1", "glibc", "2.36-9+deb12u2"), 1);
	/* no Source: field: the package is its own source */
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "glibc", "2.36-9", NULL, NULL), 1);
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "libc6", "2.36-9", NULL, NULL), 1);
	assert_string_equal(r.h[0].id, "CVE-2023-0001");
	assert_string_equal(r.h[0].summary, "long text"); /* details when there is no summary */
	assert_string_equal(r.h[0].uri, "-");
	/* Debian 11 */
	assert_int_equal(run(&r, db, "Debian:11", ECR__PKG_DPKG, "libc6", "2.31-13", "glibc", NULL), 1);
	assert_string_equal(r.h[0].id, "CVE-2023-0002");
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_match__alpine_origin(void **state)
{
	static const char *const docs[] = {
	    "{\"id\":\"ALPINE-CVE-2023-5363\",\"aliases\":[\"CVE-2023-5363\"],\"affected\":[" RANGE(
	        "Alpine:v3.18", "openssl", "0", "3.1.4-r0") "]}",
	};
	char *dir;
	ecr_vulndb *db = load_set(&dir, docs, 1);
	hits r;
	(void)state;

	/* libcrypto3's origin is openssl */
	assert_int_equal(run(&r, db, "Alpine:v3.18", ECR__PKG_APK, "libcrypto3", "3.1.3-r0", "openssl", NULL), 1);
	assert_string_equal(r.h[0].id, "CVE-2023-5363");
	assert_string_equal(r.h[0].fixed, "3.1.4-r0");
	/* apk order: _rc before the release, -r revisions */
	assert_int_equal(run(&r, db, "Alpine:v3.18", ECR__PKG_APK, "libcrypto3", "3.1.4_rc1-r0", "openssl", NULL), 1);
	assert_int_equal(run(&r, db, "Alpine:v3.18", ECR__PKG_APK, "libcrypto3", "3.1.4-r0", "openssl", NULL), 0);
	assert_int_equal(run(&r, db, "Alpine:v3.18", ECR__PKG_APK, "libcrypto3", "3.1.4-r1", "openssl", NULL), 0);
	assert_int_equal(run(&r, db, "Alpine:v3.18", ECR__PKG_APK, "openssl", "3.1.3-r0", NULL, NULL), 1);
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_match__rpm_epochs_and_names(void **state)
{
	static const char *const docs[] = {
	    /* filed against the source rpm, with an epoch */
	    "{\"id\":\"RHSA-2023:5455\",\"aliases\":[\"CVE-2023-4911\"],\"affected\":[" RANGE("Red Hat", "glibc", "0",
	                                                                                      "0:2.34-60.el9_2.7") "]}",
	    /* filed against a binary rpm: found by the binary name */
	    "{\"id\":\"CVE-2023-3817\",\"affected\":[" RANGE("Red Hat", "openssl-libs", "0", "1:3.0.7-18.el9") "]}",
	    /* against both names: reported once */
	    "{\"id\":\"CVE-2023-0003\",\"affected\":[" RANGE("Red Hat", "openssl", "0", "1:3.0.7-20.el9") "," RANGE(
	        "Red Hat", "openssl-libs", "0", "1:3.0.7-19.el9") "]}",
	};
	char *dir;
	ecr_vulndb *db = load_set(&dir, docs, 3);
	hits r;
	const hit *h;
	(void)state;

	assert_int_equal(run(&r, db, "Red Hat", ECR__PKG_RPM, "glibc-common", "2.34-60.el9", "glibc", NULL), 1);
	assert_string_equal(r.h[0].id, "CVE-2023-4911");
	assert_string_equal(r.h[0].fixed, "0:2.34-60.el9_2.7");
	assert_int_equal(run(&r, db, "Red Hat", ECR__PKG_RPM, "glibc-common", "2.34-60.el9_2.7", "glibc", NULL), 0);
	/* no epoch is epoch 0; the release part compares too */
	assert_int_equal(run(&r, db, "Red Hat", ECR__PKG_RPM, "glibc", "2.34-60.el9_2.6", NULL, NULL), 1);

	/* epoch 1 beats any epoch-0 version: 3.0.7-17 without its epoch would look fixed */
	assert_int_equal(run(&r, db, "Red Hat", ECR__PKG_RPM, "openssl-libs", "1:3.0.7-17.el9", "openssl", NULL), 2);
	assert_non_null(h = find(&r, "CVE-2023-3817"));
	assert_string_equal(h->fixed, "1:3.0.7-18.el9");
	assert_non_null(h = find(&r, "CVE-2023-0003"));
	assert_string_equal(h->fixed, "1:3.0.7-20.el9"); /* the source entry comes first */
	assert_int_equal(run(&r, db, "Red Hat", ECR__PKG_RPM, "openssl-libs", "1:3.0.7-18.el9", "openssl", NULL), 1);
	assert_string_equal(r.h[0].id, "CVE-2023-0003");
	assert_int_equal(run(&r, db, "Red Hat", ECR__PKG_RPM, "openssl-libs", "3.0.9-1.el9", "openssl", NULL), 2);
	assert_int_equal(run(&r, db, "Red Hat", ECR__PKG_RPM, "openssl-libs", "1:3.0.7-20.el9", "openssl", NULL), 0);
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_match__fixed_versions(void **state)
{
	static const char *const docs[] = {
	    /* several ranges and entries: the smallest fix above the installed version */
	    "{\"id\":\"CVE-2024-0001\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"p\"},"
	    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1.0-3\"},"
	    "{\"introduced\":\"2.0-1\"},{\"fixed\":\"2.0-5\"}]},"
	    "{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"2.0-1\"},{\"fixed\":\"2.0-4\"}]}]}]}",
	    /* unfixed */
	    "{\"id\":\"CVE-2024-0002\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"p\"},"
	    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"1.5-1\"}]}]}]}",
	};
	char *dir;
	ecr_vulndb *db = load_set(&dir, docs, 2);
	hits r;
	const hit *h;
	(void)state;

	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "p", "1.0-1", NULL, NULL), 1);
	assert_string_equal(r.h[0].fixed, "1.0-3");
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "p", "1.6-1", NULL, NULL), 1);
	assert_string_equal(r.h[0].id, "CVE-2024-0002");
	assert_string_equal(r.h[0].fixed, "-");
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "p", "2.0-2", NULL, NULL), 2);
	assert_non_null(h = find(&r, "CVE-2024-0001"));
	assert_string_equal(h->fixed, "2.0-4");
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "p", "2.0-4", NULL, NULL), 2); /* the other range */
	assert_non_null(h = find(&r, "CVE-2024-0001"));
	assert_string_equal(h->fixed, "2.0-5");
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "p", "2.0-5", NULL, NULL), 1);
	/* ~ sorts before the release: 1.0-3~bpo1 is below the fix */
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "p", "1.0-3~bpo1", NULL, NULL), 1);
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_match__severity_precedence(void **state)
{
	static const char *const docs[] = {
	    /* v3 and v2 and an urgency: v3 wins */
	    "{\"id\":\"CVE-2024-1000\",\"severity\":[{\"type\":\"CVSS_V2\",\"score\":\"AV:N/AC:L/Au:N/C:N/I:N/A:C\"},"
	    "{\"type\":\"CVSS_V3\",\"score\":\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"}],"
	    "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"a\"},\"ranges\":[{\"type\":"
	    "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}],\"ecosystem_specific\":{\"urgency\":\"low\"}}]}",
	    /* v2 only */
	    "{\"id\":\"CVE-2024-1001\",\"severity\":[{\"type\":\"CVSS_V2\",\"score\":\"AV:N/AC:M/Au:N/C:N/I:P/A:N\"}],"
	    "\"affected\":[" RANGE("Debian:12", "b", "0", "9") "]}",
	    /* Debian urgency only, and an unscorable v4 vector */
	    "{\"id\":\"DLA-1-1\",\"aliases\":[\"CVE-2024-1002\"],\"severity\":[{\"type\":\"CVSS_V4\",\"score\":"
	    "\"CVSS:4.0/AV:N\"}],\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"c\"},"
	    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}],"
	    "\"ecosystem_specific\":{\"urgency\":\"high\"}}]}",
	    /* a bad v3 vector is ignored: the v2 one is used */
	    "{\"id\":\"CVE-2024-1003\",\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"CVSS:3.1/AV:Q\"},"
	    "{\"type\":\"CVSS_V2\",\"score\":\"AV:N/AC:L/Au:N/C:C/I:C/A:C\"}],\"affected\":[" RANGE("Debian:12", "d",
	                                                                                            "0", "9") "]}",
	    /* nothing */
	    "{\"id\":\"CVE-2024-1004\",\"affected\":[" RANGE("Debian:12", "e", "0", "9") "]}",
	    /* Ubuntu's priority as a severity type; Red Hat's in database_specific */
	    "{\"id\":\"UBUNTU-CVE-2024-1005\",\"severity\":[{\"type\":\"Ubuntu\",\"score\":\"negligible\"}],"
	    "\"affected\":[" RANGE("Ubuntu:22.04:LTS", "f", "0", "9") "]}",
	    "{\"id\":\"CVE-2024-1006\",\"database_specific\":{\"severity\":\"Important\"},\"affected\":[" RANGE(
	        "Red Hat", "g", "0", "9") "]}",
	    /* an affected entry's own severity beats the advisory's */
	    "{\"id\":\"CVE-2024-1007\",\"severity\":[{\"type\":\"CVSS_V3\",\"score\":"
	    "\"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N\"}],\"affected\":[{\"package\":{\"ecosystem\":"
	    "\"Debian:12\",\"name\":\"h\"},\"severity\":[{\"type\":\"CVSS_V3\",\"score\":"
	    "\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H\"}],\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":"
	    "[{\"introduced\":\"0\"}]}]}," RANGE("Debian:12", "i", "0", "9") "]}",
	};
	char *dir;
	ecr_vulndb *db = load_set(&dir, docs, 8);
	hits r;
	(void)state;

	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "a", "1", NULL, NULL), 1);
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_CRITICAL);
	assert_int_equal(r.h[0].cvss_version, 3);
	assert_string_equal(r.h[0].vector, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
	assert_true(r.h[0].score > 9.79 && r.h[0].score < 9.81);

	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "b", "1", NULL, NULL), 1);
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_MEDIUM);
	assert_int_equal(r.h[0].cvss_version, 2);
	assert_true(r.h[0].score > 4.29 && r.h[0].score < 4.31);

	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "c", "1", NULL, NULL), 1);
	assert_string_equal(r.h[0].id, "CVE-2024-1002");
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_HIGH);
	assert_int_equal(r.h[0].cvss_version, 0);
	assert_string_equal(r.h[0].vector, "-");

	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "d", "1", NULL, NULL), 1);
	assert_int_equal(r.h[0].cvss_version, 2);
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_HIGH);

	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "e", "1", NULL, NULL), 1);
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_UNDEFINED);

	assert_int_equal(run(&r, db, "Ubuntu:22.04:LTS", ECR__PKG_DPKG, "f", "1", NULL, NULL), 1);
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_INFORMATIONAL);
	assert_string_equal(r.h[0].id, "UBUNTU-CVE-2024-1005"); /* no CVE alias: the id */

	assert_int_equal(run(&r, db, "Red Hat", ECR__PKG_RPM, "g", "1-1", NULL, NULL), 1);
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_HIGH);

	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "h", "1", NULL, NULL), 1);
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_CRITICAL);
	assert_int_equal(run(&r, db, "Debian:12", ECR__PKG_DPKG, "i", "1", NULL, NULL), 1);
	assert_int_equal(r.h[0].severity, ECR_SEVERITY_LOW); /* the advisory's 3.1 */
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_match__callback_stops_and_arguments(void **state)
{
	static const char *const docs[] = {
	    "{\"id\":\"CVE-1\",\"affected\":[" RANGE("Debian:12", "p", "0", "9") "]}",
	    "{\"id\":\"CVE-2\",\"affected\":[" RANGE("Debian:12", "p", "0", "9") "]}",
	    "{\"id\":\"CVE-3\",\"affected\":[" RANGE("Debian:12", "p", "0", "9") "]}",
	};
	char *dir;
	ecr_vulndb *db = load_set(&dir, docs, 3);
	ecr__pkg pkg = {(char *)"p", (char *)"1", NULL, NULL, NULL};
	hits r;
	(void)state;

	memset(&r, 0, sizeof(r));
	r.stop_after = 2;
	assert_int_equal(ecr__vulndb_match(db, "Debian:12", ECR__PKG_DPKG, &pkg, collect_cb, &r), 42);
	assert_int_equal(r.count, 2);
	memset(&r, 0, sizeof(r));
	assert_ok(ecr__vulndb_match(db, "Debian:12", ECR__PKG_DPKG, &pkg, collect_cb, &r));
	assert_int_equal(r.count, 3);
	assert_string_equal(r.h[0].id, "CVE-1"); /* load order */
	assert_string_equal(r.h[2].id, "CVE-3");
	assert_int_equal(ecr__vulndb_match(NULL, "Debian:12", ECR__PKG_DPKG, &pkg, collect_cb, &r), ECR_EINVALID);
	assert_int_equal(ecr__vulndb_match(db, NULL, ECR__PKG_DPKG, &pkg, collect_cb, &r), ECR_EINVALID);
	pkg.version = NULL;
	assert_int_equal(ecr__vulndb_match(db, "Debian:12", ECR__PKG_DPKG, &pkg, collect_cb, &r), ECR_EINVALID);
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_match__debian_source_packages),
	    cmocka_unit_test(test_scan_match__alpine_origin),
	    cmocka_unit_test(test_scan_match__rpm_epochs_and_names),
	    cmocka_unit_test(test_scan_match__fixed_versions),
	    cmocka_unit_test(test_scan_match__severity_precedence),
	    cmocka_unit_test(test_scan_match__callback_stops_and_arguments),
	};
	return cmocka_run_group_tests_name("scan/match", tests, NULL, NULL);
}
