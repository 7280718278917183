/* bench-vulndb: generate N OSV advisories (Debian-like: CVE ids or DSA ids
 * with CVE aliases, source packages, one or two introduced/fixed pairs, some
 * versions lists, CVSS vectors on most) into a temporary folder and into a zip
 * of them, load each RUNS times and report the median load time, then the
 * match throughput of 1,000 installed packages against the database.
 *   bench-vulndb [advisories] [runs]
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libecr/scan/scan_internal.h"

#define PACKAGES 5000
#define INSTALLED 1000

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static const char *const vectors[] = {
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N",
    "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
};

/* One advisory as JSON into buf; returns its length. */
static int advisory(char *buf, size_t cap, unsigned i)
{
	unsigned pkg = rnd(PACKAGES), major = 1 + rnd(5), minor = rnd(20);
	char ranges[512], extra[256] = "", sev[160] = "";
	int n;

	if (rnd(4) == 0) /* two pairs */
		snprintf(ranges, sizeof(ranges),
		         "{\"introduced\":\"0\"},{\"fixed\":\"%u.%u-%u\"},{\"introduced\":\"%u.0-1\"},"
		         "{\"fixed\":\"%u.%u-%u+deb12u%u\"}",
		         major, minor, 1 + rnd(5), major + 1, major + 1, rnd(9), 1 + rnd(3), 1 + rnd(4));
	else if (rnd(10) == 0) /* unfixed */
		snprintf(ranges, sizeof(ranges), "{\"introduced\":\"0\"}");
	else
		snprintf(ranges, sizeof(ranges), "{\"introduced\":\"0\"},{\"fixed\":\"%u.%u-%u+deb12u%u\"}", major,
		         minor, 1 + rnd(5), 1 + rnd(4));
	if (rnd(8) == 0)
		snprintf(extra, sizeof(extra), ",\"versions\":[\"%u.%u-1\",\"%u.%u-2\",\"%u.%u-3\"]", major, minor,
		         major, minor, major, minor);
	if (rnd(4) != 0)
		snprintf(sev, sizeof(sev), "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"%s\"}],", vectors[rnd(4)]);
	if (i % 5 == 0)
		n = snprintf(buf, cap, "{\"id\":\"DSA-%u-1\",\"aliases\":[\"CVE-%u-%05u\"],", 3000 + i, 2015 + i % 10,
		             i);
	else
		n = snprintf(buf, cap, "{\"id\":\"CVE-%u-%05u\",", 2015 + i % 10, i);
	n += snprintf(buf + n, cap - (size_t)n,
	              "\"modified\":\"2024-05-01T12:00:00Z\",\"published\":\"2023-01-01T00:00:00Z\","
	              "\"summary\":\"src%04u: a vulnerability in the parser of src%04u that allows a remote attacker "
	              "to do harm\","
	              "\"details\":\"Generated advisory %u for benchmarking the loader and the matcher.\",%s"
	              "\"references\":[{\"type\":\"ADVISORY\",\"url\":\"https://security-tracker.debian.org/tracker/"
	              "CVE-%u-%05u\"}],"
	              "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"src%04u\",\"purl\":"
	              "\"pkg:deb/debian/src%04u?arch=source\"},\"ranges\":[{\"type\":\"ECOSYSTEM\",\"events\":[%s]}]%s,"
	              "\"ecosystem_specific\":{\"urgency\":\"%s\"}}]}\n",
	              pkg, pkg, i, sev, 2015 + i % 10, i, pkg, pkg, ranges, extra, rnd(2) ? "low" : "medium");
	return n;
}

static int count_cb(const ecr__match *m, void *payload)
{
	(void)m;
	(*(size_t *)payload)++;
	return 0;
}

static double load_median(const char *path, int runs, size_t expect, int64_t *lib_ms)
{
	double t[16];
	int r;

	for (r = 0; r < runs; r++) {
		ecr_vulndb *db = NULL;
		const char *paths[1] = {path};
		double t0 = now_ms();
		if (ecr_vulndb_load(&db, paths, 1) != 0) {
			fprintf(stderr, "load %s: %s\n", path, ecr_error_last()->message);
			exit(1);
		}
		t[r] = now_ms() - t0;
		if (ecr_vulndb_advisory_count(db) != expect) {
			fprintf(stderr, "%s: %zu advisories, expected %zu\n", path, ecr_vulndb_advisory_count(db),
			        expect);
			exit(1);
		}
		*lib_ms = ecr_vulndb_load_ms(db);
		ecr_vulndb_free(db);
	}
	qsort(t, (size_t)runs, sizeof(t[0]), cmp_double);
	return t[runs / 2];
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 50000;
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	char dir[] = "/tmp/bench-vulndb-XXXXXX", path[512], zip[512], buf[4096];
	struct archive *a;
	struct stat st;
	ecr__pkg *pkgs;
	ecr_vulndb *db = NULL;
	const char *paths[1];
	uint64_t bytes = 0;
	size_t findings = 0, matched = 0;
	double folder_ms, zip_ms, t0, elapsed;
	int64_t lib_ms;
	unsigned i;
	int reps = 0;

	if (runs < 1 || runs > 15 || n == 0) {
		fprintf(stderr, "usage: bench-vulndb [advisories] [runs 1..15]\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/osv", dir);
	snprintf(zip, sizeof(zip), "%s/osv.zip", dir);
	if (mkdir(path, 0755) != 0) {
		perror(path);
		return 1;
	}
	a = archive_write_new();
	archive_write_set_format_zip(a);
	if (archive_write_open_filename(a, zip) != ARCHIVE_OK) {
		fprintf(stderr, "%s: %s\n", zip, archive_error_string(a));
		return 1;
	}
	for (i = 0; i < n; i++) {
		char name[64], file[600];
		struct archive_entry *e;
		int len = advisory(buf, sizeof(buf), i);
		FILE *f;

		snprintf(name, sizeof(name), "ADV-%06u.json", i);
		snprintf(file, sizeof(file), "%s/%s", path, name);
		if (!(f = fopen(file, "wb")) || fwrite(buf, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0) {
			perror(file);
			return 1;
		}
		e = archive_entry_new();
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, len);
		if (archive_write_header(a, e) != ARCHIVE_OK || archive_write_data(a, buf, (size_t)len) != len) {
			fprintf(stderr, "%s: %s\n", zip, archive_error_string(a));
			return 1;
		}
		archive_entry_free(e);
		bytes += (uint64_t)len;
	}
	archive_write_close(a);
	archive_write_free(a);
	stat(zip, &st);
	printf("advisories: %u, %.1f MB of JSON; zip %.1f MB\n", n, (double)bytes / 1e6, (double)st.st_size / 1e6);

	folder_ms = load_median(path, runs, n, &lib_ms);
	printf("load folder: median of %d %.0f ms (%.0f advisories/s; ecr_vulndb_load_ms %lld)\n", runs, folder_ms,
	       n / (folder_ms / 1e3), (long long)lib_ms);
	zip_ms = load_median(zip, runs, n, &lib_ms);
	printf("load zip:    median of %d %.0f ms (%.0f advisories/s; ecr_vulndb_load_ms %lld)\n", runs, zip_ms,
	       n / (zip_ms / 1e3), (long long)lib_ms);

	/* 1,000 installed packages: binary names with a source, versions around the fixes */
	paths[0] = zip;
	if (ecr_vulndb_load(&db, paths, 1) != 0)
		return 1;
	pkgs = calloc(INSTALLED, sizeof(*pkgs));
	for (i = 0; i < INSTALLED; i++) {
		char b[64];
		snprintf(b, sizeof(b), "lib%04u-%u", i, rnd(3));
		pkgs[i].name = strdup(b);
		snprintf(b, sizeof(b), "src%04u", rnd(PACKAGES + PACKAGES / 4)); /* a fifth have no advisory */
		pkgs[i].source_name = strdup(b);
		snprintf(b, sizeof(b), "%u.%u-%u+deb12u%u", 1 + rnd(6), rnd(20), 1 + rnd(5), rnd(5));
		pkgs[i].version = strdup(b);
	}
	t0 = now_ms();
	do {
		for (i = 0; i < INSTALLED; i++) {
			size_t before = findings;
			ecr__vulndb_match(db, "Debian:12", ECR__PKG_DPKG, &pkgs[i], count_cb, &findings);
			if (reps == 0 && findings > before)
				matched++;
		}
		reps++;
		elapsed = now_ms() - t0;
	} while (elapsed < 1000.0);
	printf("match: %d x %d packages in %.0f ms: %.0f packages/s (%zu of %d vulnerable, %zu findings per pass)\n",
	       reps, INSTALLED, elapsed, reps * (double)INSTALLED / (elapsed / 1e3), matched, INSTALLED,
	       findings / (size_t)reps);

	for (i = 0; i < INSTALLED; i++) {
		free(pkgs[i].name);
		free(pkgs[i].source_name);
		free(pkgs[i].version);
	}
	free(pkgs);
	ecr_vulndb_free(db);
	snprintf(buf, sizeof(buf), "rm -rf '%s'", dir);
	if (system(buf) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}
