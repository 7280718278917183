/* The OSV database loader: a small advisory set written into a temporary
 * folder and into a zip made here with libarchive's writer; counts, rejected
 * advisories, caps, range evaluation, withdrawn records, duplicates, reload. */
#include "../helpers/helpers.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../libecr/scan/scan_internal.h"

#define ECO "Debian:12"

/* Two pairs of introduced/fixed. */
static const char adv_multi[] =
    "{\"id\":\"CVE-2023-1000\",\"modified\":\"2024-01-01T00:00:00Z\",\"summary\":\"two ranges\","
    "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"multi\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"1.0-1\"},{\"fixed\":\"1.2-1\"},"
    "{\"introduced\":\"2.0-1\"},{\"fixed\":\"2.3-1\"}]}]}]}";
/* last_affected, events listed out of order. */
static const char adv_last[] =
    "{\"id\":\"DSA-5001-1\",\"aliases\":[\"DLA-1\",\"CVE-2023-1001\",\"CVE-2023-1002\"],"
    "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"lastpkg\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"last_affected\":\"1.5-1\"},{\"introduced\":\"0\"}]}]}]}";
/* versions list only, plus a GIT range that is ignored. */
static const char adv_list[] =
    "{\"id\":\"CVE-2023-1003\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"listpkg\"},"
    "\"ranges\":[{\"type\":\"GIT\",\"repo\":\"https://example.org/x.git\",\"events\":[{\"introduced\":\"abc\"}]}],"
    "\"versions\":[\"1.0-1\",\"1.0-2\"]}]}";
/* a limit event */
static const char adv_limit[] =
    "{\"id\":\"CVE-2023-1004\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"limpkg\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"limit\":\"2.0\"}]}]}]}";
static const char adv_withdrawn[] = "{\"id\":\"CVE-2023-1005\",\"withdrawn\":\"2024-02-02T00:00:00Z\","
                                    "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"multi\"},"
                                    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}]}]}";
/* in a subfolder: another ecosystem */
static const char adv_alpine[] =
    "{\"id\":\"ALPINE-CVE-2023-1006\",\"aliases\":[\"CVE-2023-1006\"],"
    "\"affected\":[{\"package\":{\"ecosystem\":\"Alpine:v3.19\",\"name\":\"multi\"},"
    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1.1-r0\"}]}]}]}";

typedef struct found {
	char id[64], fixed[64];
	int count;
} found;

static int collect_cb(const ecr__match *m, void *payload)
{
	found *f = payload;
	if (f->count == 0) {
		snprintf(f->id, sizeof(f->id), "%s", m->id);
		snprintf(f->fixed, sizeof(f->fixed), "%s", m->fixed_version ? m->fixed_version : "-");
	}
	f->count++;
	return 0;
}

/* Match name@version in Debian:12 (dpkg) and return the number of findings;
 * f gets the first. */
static int match_in(const ecr_vulndb *db, const char *eco, ecr__pkg_format fmt, const char *name, const char *version,
                    found *f)
{
	ecr__pkg pkg = {(char *)name, (char *)version, NULL, NULL, NULL};
	memset(f, 0, sizeof(*f));
	assert_ok(ecr__vulndb_match(db, eco, fmt, &pkg, collect_cb, f));
	return f->count;
}

static int match(const ecr_vulndb *db, const char *name, const char *version, found *f)
{
	return match_in(db, ECO, ECR__PKG_DPKG, name, version, f);
}

static void write_file(const char *dir, const char *rel, const char *content)
{
	char path[1024];
	FILE *fp;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(content, 1, strlen(content), fp), strlen(content));
	assert_int_equal(fclose(fp), 0);
}

static void make_dir(const char *dir, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

typedef struct zentry {
	const char *name;
	const char *content;
} zentry;

static void write_zip(const char *path, const zentry *entries, size_t n)
{
	struct archive *a = archive_write_new();
	size_t i;
	assert_non_null(a);
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = strlen(entries[i].content);
		archive_entry_set_pathname(e, entries[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		assert_int_equal(archive_write_data(a, entries[i].content, len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static char *make_set(void)
{
	char *dir = th_tmpdir();
	assert_non_null(dir);
	write_file(dir, "CVE-2023-1000.json", adv_multi);
	write_file(dir, "DSA-5001-1.json", adv_last);
	write_file(dir, "CVE-2023-1003.json", adv_list);
	write_file(dir, "CVE-2023-1004.json", adv_limit);
	write_file(dir, "CVE-2023-1005.json", adv_withdrawn);
	write_file(dir, "README.txt", "not an advisory {");
	make_dir(dir, "alpine");
	make_dir(dir, "alpine/v3.19");
	write_file(dir, "alpine/v3.19/ALPINE-CVE-2023-1006.json", adv_alpine);
	return dir;
}

static const zentry zip_set[] = {
    {"CVE-2023-1000.json", adv_multi},
    {"DSA-5001-1.json", adv_last},
    {"CVE-2023-1003.json", adv_list},
    {"CVE-2023-1004.json", adv_limit},
    {"CVE-2023-1005.json", adv_withdrawn},
    {"notes/README.md", "# not json"},
    {"alpine/ALPINE-CVE-2023-1006.json", adv_alpine},
};

static void check_ranges(const ecr_vulndb *db)
{
	found f;

	/* two introduced/fixed pairs */
	assert_int_equal(match(db, "multi", "0.9-1", &f), 0);
	assert_int_equal(match(db, "multi", "1.0-1", &f), 1);
	assert_string_equal(f.id, "CVE-2023-1000");
	assert_string_equal(f.fixed, "1.2-1");
	assert_int_equal(match(db, "multi", "1.1-5", &f), 1);
	assert_string_equal(f.fixed, "1.2-1");
	assert_int_equal(match(db, "multi", "1.2-1", &f), 0);
	assert_int_equal(match(db, "multi", "1.9-1", &f), 0);
	assert_int_equal(match(db, "multi", "2.0-1", &f), 1);
	assert_string_equal(f.fixed, "2.3-1");
	assert_int_equal(match(db, "multi", "2.2-9", &f), 1);
	assert_string_equal(f.fixed, "2.3-1");
	assert_int_equal(match(db, "multi", "2.3-1", &f), 0);
	assert_int_equal(match(db, "multi", "1:0.1-1", &f), 0); /* epoch 1 is above everything */
	/* last_affected: inclusive upper bound, no fixed version; the name is the first CVE alias */
	assert_int_equal(match(db, "lastpkg", "0.1-1", &f), 1);
	assert_string_equal(f.id, "CVE-2023-1001");
	assert_string_equal(f.fixed, "-");
	assert_int_equal(match(db, "lastpkg", "1.5-1", &f), 1);
	assert_int_equal(match(db, "lastpkg", "1.5-1+deb12u1", &f), 0);
	/* versions lists are exact */
	assert_int_equal(match(db, "listpkg", "1.0-1", &f), 1);
	assert_int_equal(match(db, "listpkg", "1.0-2", &f), 1);
	assert_int_equal(match(db, "listpkg", "0:1.0-2", &f), 1); /* the same version for dpkg */
	assert_int_equal(match(db, "listpkg", "1.0-3", &f), 0);
	/* limit: below it only */
	assert_int_equal(match(db, "limpkg", "1.9", &f), 1);
	assert_int_equal(match(db, "limpkg", "2.0", &f), 0);
	/* ecosystems are separate */
	assert_int_equal(match_in(db, "Alpine:v3.19", ECR__PKG_APK, "multi", "1.0-r0", &f), 1);
	assert_string_equal(f.id, "CVE-2023-1006");
	assert_string_equal(f.fixed, "1.1-r0");
	assert_int_equal(match_in(db, "Alpine:v3.18", ECR__PKG_APK, "multi", "1.0-r0", &f), 0);
	assert_int_equal(match(db, "nosuchpkg", "1.0", &f), 0);
}

static void test_scan_osv__folder(void **state)
{
	char *dir = make_set();
	ecr_vulndb *db = NULL;
	const char *paths[1];
	int64_t before = ecr_vulndb_loaded_at(NULL);
	(void)state;

	assert_int_equal(before, 0);
	paths[0] = dir;
	assert_ok(ecr_vulndb_load(&db, paths, 1));
	/* 6 advisories, one withdrawn: 5 */
	assert_int_equal(ecr_vulndb_advisory_count(db), 5);
	assert_true(ecr_vulndb_load_ms(db) >= 0);
	assert_true(ecr_vulndb_loaded_at(db) > INT64_C(1700000000000));
	check_ranges(db);
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_osv__zip(void **state)
{
	char *dir = th_tmpdir();
	char zip[1024];
	const char *paths[1] = {zip};
	ecr_vulndb *db = NULL;
	(void)state;

	snprintf(zip, sizeof(zip), "%s/debian.zip", dir);
	write_zip(zip, zip_set, sizeof(zip_set) / sizeof(zip_set[0]));
	assert_ok(ecr_vulndb_load(&db, paths, 1));
	assert_int_equal(ecr_vulndb_advisory_count(db), 5);
	check_ranges(db);
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_osv__single_file_and_several_paths(void **state)
{
	char *dir = make_set();
	char zip[1024], file[1024];
	const char *paths[3];
	ecr_vulndb *db = NULL;
	found f;
	(void)state;

	snprintf(file, sizeof(file), "%s/CVE-2023-1000.json", dir);
	paths[0] = file;
	assert_ok(ecr_vulndb_load(&db, paths, 1));
	assert_int_equal(ecr_vulndb_advisory_count(db), 1);
	assert_int_equal(match(db, "multi", "1.0-1", &f), 1);
	assert_int_equal(match(db, "lastpkg", "1.0-1", &f), 0);
	ecr_vulndb_free(db);

	/* the same records in a folder and a zip count once and match once */
	snprintf(zip, sizeof(zip), "%s/set.zip", dir);
	write_zip(zip, zip_set, sizeof(zip_set) / sizeof(zip_set[0]));
	paths[0] = dir; /* also holds set.zip: not a .json, so not read from the folder */
	paths[1] = zip;
	paths[2] = file;
	assert_ok(ecr_vulndb_load(&db, paths, 3));
	assert_int_equal(ecr_vulndb_advisory_count(db), 5);
	assert_int_equal(match(db, "multi", "1.0-1", &f), 1);
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_osv__newer_record_replaces(void **state)
{
	char *dir = th_tmpdir();
	const char *paths[1] = {dir};
	ecr_vulndb *db = NULL;
	found f;
	(void)state;

	write_file(
	    dir, "a.json",
	    "{\"id\":\"CVE-1\",\"modified\":\"2024-01-01T00:00:00Z\",\"affected\":[{\"package\":{\"ecosystem\":"
	    "\"Debian:12\",\"name\":\"p\"},\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},"
	    "{\"fixed\":\"2.0\"}]}]}]}");
	/* b.json is read after a.json: newer, so it wins */
	write_file(
	    dir, "b.json",
	    "{\"id\":\"CVE-1\",\"modified\":\"2024-06-01T00:00:00Z\",\"affected\":[{\"package\":{\"ecosystem\":"
	    "\"Debian:12\",\"name\":\"p\"},\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},"
	    "{\"fixed\":\"3.0\"}]}]}]}");
	/* c.json: older again, ignored */
	write_file(
	    dir, "c.json",
	    "{\"id\":\"CVE-1\",\"modified\":\"2023-06-01T00:00:00Z\",\"affected\":[{\"package\":{\"ecosystem\":"
	    "\"Debian:12\",\"name\":\"p\"},\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},"
	    "{\"fixed\":\"1.0\"}]}]}]}");
	assert_ok(ecr_vulndb_load(&db, paths, 1));
	assert_int_equal(ecr_vulndb_advisory_count(db), 1);
	assert_int_equal(match(db, "p", "2.5", &f), 1);
	assert_string_equal(f.fixed, "3.0");
	assert_int_equal(match(db, "p", "0.5", &f), 1);
	assert_string_equal(f.fixed, "3.0");
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

/* Load a folder holding one file with content; expect rc and the file's name in the message. */
static void expect_rejected(const char *content, const char *why)
{
	char *dir = th_tmpdir();
	const char *paths[1] = {dir};
	ecr_vulndb *db = (ecr_vulndb *)1;
	int rc;

	write_file(dir, "ok.json", adv_multi);
	write_file(dir, "zz-broken.json", content);
	rc = ecr_vulndb_load(&db, paths, 1);
	if (rc != ECR_EINVALID)
		fail_msg("%s: expected ECR_EINVALID, got %d", why, rc);
	assert_null(db);
	if (!strstr(ecr_error_last()->message, "zz-broken.json"))
		fail_msg("%s: message without the file name: %s", why, ecr_error_last()->message);
	th_rmtree(dir);
}

static void test_scan_osv__malformed_rejected(void **state)
{
	(void)state;
	expect_rejected("{\"id\":", "truncated JSON");
	expect_rejected("[1,2]", "not an object");
	expect_rejected("{\"summary\":\"x\"}", "no id");
	expect_rejected("{\"id\":5}", "id not a string");
	expect_rejected("{\"id\":\"X-1\",\"aliases\":\"CVE-1\"}", "aliases not an array");
	expect_rejected("{\"id\":\"X-1\",\"aliases\":[1]}", "alias not a string");
	expect_rejected("{\"id\":\"X-1\",\"affected\":{}}", "affected not an array");
	expect_rejected("{\"id\":\"X-1\",\"affected\":[{\"package\":{\"name\":\"p\"}}]}", "no ecosystem");
	expect_rejected("{\"id\":\"X-1\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"p\"},"
	                "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"fixed\":\"1.0\"}]}]}]}",
	                "range without introduced");
	expect_rejected("{\"id\":\"X-1\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"p\"},"
	                "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\",\"fixed\":\"1\"}]}]}]}",
	                "two events in one object");
	expect_rejected(
	    "{\"id\":\"X-1\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"p\"},"
	    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"broken\":\"1\"}]}]}]}",
	    "unknown event");
	expect_rejected("{\"id\":\"X-1\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"p\"},"
	                "\"versions\":[\"1\",2]}]}",
	                "version not a string");
	expect_rejected("{\"id\":\"X-1\",\"references\":[{\"type\":\"WEB\"}]}", "reference without url");
	expect_rejected("{\"id\":\"X-1\",\"severity\":[{\"type\":\"CVSS_V3\"}]}", "severity without score");
	expect_rejected("{\"id\":\"X-1\",\"id\":\"X-2\"}", "duplicate key");
}

static void test_scan_osv__malformed_in_zip(void **state)
{
	static const zentry entries[] = {{"good.json", adv_multi}, {"sub/bad-entry.json", "{\"id\":[]}"}};
	char *dir = th_tmpdir();
	char zip[1024];
	const char *paths[1] = {zip};
	ecr_vulndb *db = NULL;
	(void)state;

	snprintf(zip, sizeof(zip), "%s/x.zip", dir);
	write_zip(zip, entries, 2);
	assert_int_equal(ecr_vulndb_load(&db, paths, 1), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "x.zip:sub/bad-entry.json"));
	assert_null(db);
	/* not a zip at all */
	write_file(dir, "fake.zip", "this is not a zip archive, just text long enough to look at");
	snprintf(zip, sizeof(zip), "%s/fake.zip", dir);
	assert_int_equal(ecr_vulndb_load(&db, paths, 1), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "fake.zip"));
	th_rmtree(dir);
}

static void test_scan_osv__size_caps(void **state)
{
	char *dir = make_set();
	char zip[1024];
	const char *paths[1] = {dir};
	ecr__vulndb_limits lim;
	ecr_vulndb *db = NULL;
	(void)state;

	/* one advisory larger than the cap */
	memset(&lim, 0, sizeof(lim));
	lim.max_file_bytes = 200;
	assert_int_equal(ecr__vulndb_load_limited(&db, paths, 1, &lim), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "larger than 200 bytes"));
	assert_null(db);
	/* the total */
	memset(&lim, 0, sizeof(lim));
	lim.max_total_bytes = 1000;
	assert_int_equal(ecr__vulndb_load_limited(&db, paths, 1, &lim), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "larger than 1000 bytes"));
	/* the number of advisories */
	memset(&lim, 0, sizeof(lim));
	lim.max_files = 3;
	assert_int_equal(ecr__vulndb_load_limited(&db, paths, 1, &lim), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "more than 3 advisories"));
	/* caps that fit */
	lim.max_files = 6;
	lim.max_file_bytes = 400;
	lim.max_total_bytes = 4000;
	assert_ok(ecr__vulndb_load_limited(&db, paths, 1, &lim));
	assert_int_equal(ecr_vulndb_advisory_count(db), 5);
	ecr_vulndb_free(db);
	db = NULL;

	/* the same caps on inflated zip entries: a 1 MB entry of spaces compresses to ~1 KB */
	{
		char *big = malloc(1 << 20);
		zentry e[2];
		assert_non_null(big);
		memset(big, ' ', (1 << 20) - 1);
		big[(1 << 20) - 1] = '\0';
		memcpy(big, adv_multi, strlen(adv_multi));
		e[0].name = "ok.json";
		e[0].content = adv_last;
		e[1].name = "big.json";
		e[1].content = big;
		snprintf(zip, sizeof(zip), "%s/bomb.zip", dir);
		write_zip(zip, e, 2);
		free(big);
	}
	paths[0] = zip;
	memset(&lim, 0, sizeof(lim));
	lim.max_file_bytes = 64 * 1024;
	assert_int_equal(ecr__vulndb_load_limited(&db, paths, 1, &lim), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "bomb.zip:big.json"));
	memset(&lim, 0, sizeof(lim));
	lim.max_total_bytes = 512 * 1024;
	assert_int_equal(ecr__vulndb_load_limited(&db, paths, 1, &lim), ECR_ELIMIT);
	/* within the defaults it loads (trailing spaces are valid JSON) */
	assert_ok(ecr_vulndb_load(&db, paths, 1));
	assert_int_equal(ecr_vulndb_advisory_count(db), 2);
	ecr_vulndb_free(db);
	th_rmtree(dir);
}

static void test_scan_osv__missing_and_bad_arguments(void **state)
{
	const char *paths[2] = {"/nonexistent/osv", NULL};
	ecr_vulndb *db = NULL;
	(void)state;

	assert_int_equal(ecr_vulndb_load(&db, paths, 1), ECR_ENOTFOUND);
	assert_non_null(strstr(ecr_error_last()->message, "/nonexistent/osv"));
	assert_int_equal(ecr_vulndb_load(&db, paths, 0), ECR_EINVALID);
	paths[0] = "";
	assert_int_equal(ecr_vulndb_load(&db, paths, 1), ECR_EINVALID);
	assert_int_equal(ecr_vulndb_load(NULL, paths, 1), ECR_EINVALID);
	assert_int_equal(ecr_vulndb_advisory_count(NULL), 0);
	ecr_vulndb_free(NULL);
}

static void test_scan_osv__reload_and_refcount(void **state)
{
	char *dir = make_set();
	const char *paths[1] = {dir};
	ecr_vulndb *db1 = NULL, *db2 = NULL;
	found f;
	(void)state;

	assert_ok(ecr_vulndb_load(&db1, paths, 1));
	/* the feed changes: multi's second range is fixed earlier, a new advisory appears */
	write_file(
	    dir, "CVE-2023-1000.json",
	    "{\"id\":\"CVE-2023-1000\",\"modified\":\"2024-03-01T00:00:00Z\",\"affected\":[{\"package\":"
	    "{\"ecosystem\":\"Debian:12\",\"name\":\"multi\"},\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":"
	    "[{\"introduced\":\"1.0-1\"},{\"fixed\":\"1.2-1\"},{\"introduced\":\"2.0-1\"},{\"fixed\":\"2.1-1\"}]}]}]}");
	write_file(
	    dir, "CVE-2024-0001.json",
	    "{\"id\":\"CVE-2024-0001\",\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"newpkg\"},"
	    "\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}]}]}");
	assert_ok(ecr_vulndb_load(&db2, paths, 1));
	assert_int_equal(ecr_vulndb_advisory_count(db1), 5);
	assert_int_equal(ecr_vulndb_advisory_count(db2), 6);
	assert_int_equal(match(db1, "multi", "2.2-1", &f), 1);
	assert_int_equal(match(db2, "multi", "2.2-1", &f), 0);
	assert_int_equal(match(db1, "newpkg", "1", &f), 0);
	assert_int_equal(match(db2, "newpkg", "1", &f), 1);
	assert_string_equal(f.fixed, "-");

	/* a reference keeps the database alive after its owner frees it */
	assert_ptr_equal(ecr__vulndb_ref(db1), db1);
	ecr_vulndb_free(db1);
	assert_int_equal(match(db1, "multi", "2.2-1", &f), 1);
	ecr_vulndb_free(db1);
	ecr_vulndb_free(db2);
	assert_null(ecr__vulndb_ref(NULL));
	th_rmtree(dir);
}

static void test_scan_osv__from_memory(void **state)
{
	ecr_vulndb *db = NULL;
	found f;
	(void)state;

	assert_ok(ecr__vulndb_load_json(&db, adv_multi, strlen(adv_multi), "mem"));
	assert_int_equal(ecr_vulndb_advisory_count(db), 1);
	assert_int_equal(match(db, "multi", "1.0-1", &f), 1);
	ecr_vulndb_free(db);
	assert_ok(ecr__vulndb_load_json(&db, adv_withdrawn, strlen(adv_withdrawn), "mem"));
	assert_int_equal(ecr_vulndb_advisory_count(db), 0);
	assert_int_equal(match(db, "multi", "1.0-1", &f), 0);
	ecr_vulndb_free(db);
	assert_int_equal(ecr__vulndb_load_json(&db, "{", 1, "mem-name"), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "mem-name"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_osv__folder),
	    cmocka_unit_test(test_scan_osv__zip),
	    cmocka_unit_test(test_scan_osv__single_file_and_several_paths),
	    cmocka_unit_test(test_scan_osv__newer_record_replaces),
	    cmocka_unit_test(test_scan_osv__malformed_rejected),
	    cmocka_unit_test(test_scan_osv__malformed_in_zip),
	    cmocka_unit_test(test_scan_osv__size_caps),
	    cmocka_unit_test(test_scan_osv__missing_and_bad_arguments),
	    cmocka_unit_test(test_scan_osv__reload_and_refcount),
	    cmocka_unit_test(test_scan_osv__from_memory),
	};
	return cmocka_run_group_tests_name("scan/osv", tests, NULL, NULL);
}
