/* scan/scan: images built here (tar layers made with libarchive's writer),
 * pushed into a memory: registry or written as an OCI image layout, scanned
 * against a small OSV database written here; findings asserted exactly. */
#include "../../libecr/core/digest.h"
#include "../../libecr/core/json.h"
#include "../../libecr/scan/scan_internal.h"
#include "../helpers/helpers.h"
#include "th_tar.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEB12_OS                                                                                                       \
	"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"
#define DEB11_OS "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"11\"\nID=debian\n"

static const char deb_status[] =
    "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\n"
    "Source: openssl\nVersion: 3.0.9-1\n\n"
    "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.9-1\n\n"
    "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n"
    "Source: zlib\nVersion: 1:1.2.13.dfsg-1\n\n"
    "Package: bash\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 5.2.15-2\n\n"
    "Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0+deb12u1\n\n";

/* --- images --- */

typedef struct layer {
	unsigned char *data;
	size_t len;
	char digest[ECR__DIGEST_STRLEN_MAX];
	const char *media_type;
} layer;

typedef struct image {
	layer layers[8];
	size_t count;
	char *config, *manifest;
	char config_digest[ECR__DIGEST_STRLEN_MAX], digest[ECR__DIGEST_STRLEN_MAX];
} image;

static void image_add(image *img, th_tar *t, th_tar_filter filter)
{
	layer *l = &img->layers[img->count++];

	assert_non_null(t);
	assert_int_equal(th_tar_finish(t, &l->data, &l->len), 0);
	assert_ok(ecr__digest_buf(l->digest, sizeof(l->digest), ECR__DIGEST_SHA256, l->data, l->len));
	l->media_type = filter == TH_TAR_GZIP   ? "application/vnd.oci.image.layer.v1.tar+gzip"
	                : filter == TH_TAR_ZSTD ? "application/vnd.oci.image.layer.v1.tar+zstd"
	                                        : "application/vnd.oci.image.layer.v1.tar";
}

/* The config and manifest of the layers added so far. */
static void image_seal(image *img, const char *arch)
{
	char buf[8192];
	size_t i, o;

	snprintf(buf, sizeof(buf), "{\"architecture\":\"%s\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}", arch);
	img->config = strdup(buf);
	assert_ok(ecr__digest_buf(img->config_digest, sizeof(img->config_digest), ECR__DIGEST_SHA256, img->config,
	                          strlen(img->config)));
	o = (size_t)snprintf(
	    buf, sizeof(buf),
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[",
	    img->config_digest, strlen(img->config));
	for (i = 0; i < img->count; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		                      "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}", i ? "," : "",
		                      img->layers[i].media_type, img->layers[i].digest, img->layers[i].len);
	snprintf(buf + o, sizeof(buf) - o, "]}");
	img->manifest = strdup(buf);
	assert_ok(ecr__digest_buf(img->digest, sizeof(img->digest), ECR__DIGEST_SHA256, img->manifest,
	                          strlen(img->manifest)));
}

static void image_push(ecr_repository *repo, image *img, const char *tag)
{
	ecr_image *out = NULL;
	size_t i;

	for (i = 0; i < img->count; i++)
		assert_ok(ecr_blob_put(repo, img->layers[i].digest, img->layers[i].data, img->layers[i].len));
	assert_ok(ecr_blob_put(repo, img->config_digest, img->config, strlen(img->config)));
	assert_ok(ecr_image_put(&out, repo, tag, NULL, NULL, img->manifest, strlen(img->manifest), 0));
	assert_string_equal(ecr_image_digest(out), img->digest);
	ecr_image_free(out);
}

static void image_dispose(image *img)
{
	size_t i;

	for (i = 0; i < img->count; i++)
		free(img->layers[i].data);
	free(img->config);
	free(img->manifest);
	memset(img, 0, sizeof(*img));
}

/* The Debian 12 image: two layers (gzip, zstd); /etc/os-release is a symlink as in Debian. */
static void debian_image(image *img)
{
	th_tar *t = th_tar_new(TH_TAR_GZIP);

	memset(img, 0, sizeof(*img));
	assert_int_equal(th_tar_dir(t, "./"), 0);
	assert_int_equal(th_tar_str(t, "./usr/lib/os-release", DEB12_OS), 0);
	assert_int_equal(th_tar_symlink(t, "./etc/os-release", "../usr/lib/os-release"), 0);
	assert_int_equal(th_tar_str(t, "./var/lib/dpkg/status", deb_status), 0);
	assert_int_equal(th_tar_str(t, "./bin/sh", "#!"), 0);
	image_add(img, t, TH_TAR_GZIP);
	t = th_tar_new(TH_TAR_ZSTD);
	assert_int_equal(th_tar_str(t, "usr/share/doc/readme", "zstd layer\n"), 0);
	image_add(img, t, TH_TAR_ZSTD);
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_str(t, "etc/motd", "hello\n"), 0);
	image_add(img, t, TH_TAR_NONE);
	image_seal(img, "amd64");
}

/* --- the OSV database --- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

#define CVSS_CRIT "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
#define CVSS_HIGH "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"

static const char *const advisories[][2] = {
    {"CVE-2024-0001.json",
     "{\"id\":\"CVE-2024-0001\",\"modified\":\"2024-01-01T00:00:00Z\",\"summary\":\"openssl overflow\","
     "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"" CVSS_CRIT "\"}],"
     "\"references\":[{\"type\":\"ADVISORY\",\"url\":\"https://example.org/CVE-2024-0001\"}],"
     "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"openssl\"},\"ranges\":[{\"type\":"
     "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"3.0.11-1~deb12u2\"}]}]}]}"},
    {"DSA-5500-1.json",
     "{\"id\":\"DSA-5500-1\",\"aliases\":[\"CVE-2024-0002\"],\"modified\":\"2024-01-01T00:00:00Z\","
     "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"" CVSS_HIGH "\"}],"
     "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"zlib\"},\"ranges\":[{\"type\":"
     "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1:1.2.13.dfsg-2\"}]}]}]}"},
    {"CVE-2024-0003.json", /* fixed before the installed version */
     "{\"id\":\"CVE-2024-0003\",\"modified\":\"2024-01-01T00:00:00Z\","
     "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"zlib\"},\"ranges\":[{\"type\":"
     "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1:1.2.12\"}]}]}]}"},
    {"CVE-2024-0004.json", /* another release */
     "{\"id\":\"CVE-2024-0004\",\"modified\":\"2024-01-01T00:00:00Z\","
     "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:11\",\"name\":\"openssl\"},\"ranges\":[{\"type\":"
     "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}]}]}"},
    {"CVE-2024-0005.json", /* an explicit version, Debian's urgency only */
     "{\"id\":\"CVE-2024-0005\",\"modified\":\"2024-01-01T00:00:00Z\","
     "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"tzdata\"},"
     "\"versions\":[\"2024a-0+deb12u1\"],\"database_specific\":{\"urgency\":\"low\"}}]}"},
    {"CVE-2024-0006.json", /* bash is not installed (config-files only) */
     "{\"id\":\"CVE-2024-0006\",\"modified\":\"2024-01-01T00:00:00Z\","
     "\"affected\":[{\"package\":{\"ecosystem\":\"Debian:12\",\"name\":\"bash\"},\"ranges\":[{\"type\":"
     "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"}]}]}]}"},
    {"ALPINE-CVE-2024-0007.json",
     "{\"id\":\"CVE-2024-0007\",\"modified\":\"2024-01-01T00:00:00Z\","
     "\"severity\":[{\"type\":\"CVSS_V2\",\"score\":\"AV:N/AC:L/Au:N/C:P/I:P/A:P\"}],"
     "\"affected\":[{\"package\":{\"ecosystem\":\"Alpine:v3.19\",\"name\":\"openssl\"},\"ranges\":[{\"type\":"
     "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"3.1.4-r3\"}]}]}]}"},
    {"RHSA-2024-0008.json",
     "{\"id\":\"RHSA-2024:0008\",\"aliases\":[\"CVE-2024-0008\"],\"modified\":\"2024-01-01T00:00:00Z\","
     "\"severity\":[{\"type\":\"CVSS_V3\",\"score\":\"" CVSS_HIGH "\"}],"
     "\"affected\":[{\"package\":{\"ecosystem\":\"Red Hat\",\"name\":\"openssl-libs\"},\"ranges\":[{\"type\":"
     "\"ECOSYSTEM\",\"events\":[{\"introduced\":\"0\"},{\"fixed\":\"1:3.0.7-27.el9\"}]}]}]}"},
};

/* A database of the advisories [from, to). */
static ecr_vulndb *load_db(size_t from, size_t to)
{
	char *dir = th_tmpdir();
	const char *paths[1] = {dir};
	ecr_vulndb *db = NULL;
	size_t i;

	for (i = from; i < to; i++)
		write_file(dir, advisories[i][0], advisories[i][1]);
	assert_ok(ecr_vulndb_load(&db, paths, 1));
	assert_int_equal(ecr_vulndb_advisory_count(db), to - from);
	th_rmtree(dir);
	return db;
}

#define ALL_ADVISORIES (sizeof(advisories) / sizeof(advisories[0]))

typedef struct fixture {
	ecr_registry *reg;
	ecr_repository *repo;
	ecr_vulndb *db;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	if (!f || ecr_registry_open(&f->reg, "memory:", NULL) != 0 ||
	    ecr_repository_create(&f->repo, f->reg, "scan/test", NULL) != 0)
		return -1;
	f->db = load_db(0, ALL_ADVISORIES);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	ecr_vulndb_free(f->db);
	ecr_repository_free(f->repo);
	ecr_registry_free(f->reg);
	free(f);
	return 0;
}

static void assert_finding(const ecr_scan_report *r, size_t i, const char *name, const char *pkg, const char *version,
                           const char *fixed, ecr_severity sev, int cvss_version)
{
	const ecr_scan_finding *f = ecr_scan_report_finding(r, i);

	assert_non_null(f);
	assert_string_equal(f->name, name);
	assert_string_equal(f->package_name, pkg);
	assert_string_equal(f->package_version, version);
	if (fixed)
		assert_string_equal(f->fixed_version, fixed);
	else
		assert_null(f->fixed_version);
	assert_int_equal(f->severity, sev);
	assert_int_equal(f->cvss_version, cvss_version);
}

/* The Debian image's expected findings (shared by registry, layout and JSON round trip). */
static void assert_debian_findings(const ecr_scan_report *r)
{
	const ecr_scan_finding *f;

	assert_string_equal(ecr_scan_report_os(r), "debian 12");
	assert_string_equal(ecr_scan_report_ecosystem(r), "Debian:12");
	assert_null(ecr_scan_report_status_reason(r));
	assert_int_equal(ecr_scan_report_package_count(r), 4);
	assert_int_equal(ecr_scan_report_finding_count(r), 4);
	assert_finding(r, 0, "CVE-2024-0001", "libssl3", "3.0.9-1", "3.0.11-1~deb12u2", ECR_SEVERITY_CRITICAL, 3);
	assert_finding(r, 1, "CVE-2024-0001", "openssl", "3.0.9-1", "3.0.11-1~deb12u2", ECR_SEVERITY_CRITICAL, 3);
	assert_finding(r, 2, "CVE-2024-0002", "zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-2", ECR_SEVERITY_HIGH, 3);
	assert_finding(r, 3, "CVE-2024-0005", "tzdata", "2024a-0+deb12u1", NULL, ECR_SEVERITY_LOW, 0);
	f = ecr_scan_report_finding(r, 0);
	assert_string_equal(f->cvss_vector, CVSS_CRIT);
	assert_true(f->cvss_score > 9.79 && f->cvss_score < 9.81);
	assert_string_equal(f->uri, "https://example.org/CVE-2024-0001");
	assert_string_equal(f->description, "openssl overflow");
	f = ecr_scan_report_finding(r, 2);
	assert_true(f->cvss_score > 7.79 && f->cvss_score < 7.81);
	assert_null(ecr_scan_report_finding(r, 4));
	assert_int_equal(ecr_scan_report_severity_count(r, ECR_SEVERITY_CRITICAL), 2);
	assert_int_equal(ecr_scan_report_severity_count(r, ECR_SEVERITY_HIGH), 1);
	assert_int_equal(ecr_scan_report_severity_count(r, ECR_SEVERITY_MEDIUM), 0);
	assert_int_equal(ecr_scan_report_severity_count(r, ECR_SEVERITY_LOW), 1);
	assert_int_equal(ecr_scan_report_severity_count(r, ECR_SEVERITY_UNDEFINED), 0);
}

static void test_scan_scan__debian_image(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL;
	const char *name, *version, *src, *srcv;
	image img;

	debian_image(&img);
	image_push(f->repo, &img, "bookworm");
	assert_ok(ecr_scan_image(&r, f->repo, "bookworm", f->db, NULL));
	assert_debian_findings(r);
	assert_ok(ecr_scan_report_package(&name, &version, &src, &srcv, r, 0));
	assert_string_equal(name, "libssl3");
	assert_string_equal(version, "3.0.9-1");
	assert_string_equal(src, "openssl");
	assert_int_equal(ecr_scan_report_package(NULL, NULL, NULL, NULL, r, 4), ECR_ENOTFOUND);
	ecr_scan_report_free(r);

	/* by digest, and without a database: the inventory only */
	assert_ok(ecr_scan_image(&r, f->repo, img.digest, NULL, NULL));
	assert_int_equal(ecr_scan_report_package_count(r), 4);
	assert_int_equal(ecr_scan_report_finding_count(r), 0);
	ecr_scan_report_free(r);
	assert_int_equal(ecr_scan_image(&r, f->repo, "nope", f->db, NULL), ECR_EIMAGE_NOT_FOUND);
	assert_null(r);
	/* an archived image is not scanned */
	assert_ok(ecr_image_set_storage_class(NULL, f->repo, img.digest, ECR_STORAGE_CLASS_ARCHIVE));
	assert_int_equal(ecr_scan_image(&r, f->repo, "bookworm", f->db, NULL), ECR_EIMAGE_ARCHIVED);
	assert_null(r);
	image_dispose(&img);
}

static void test_scan_scan__rematch_and_json(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL, *back = NULL;
	ecr_vulndb *small = load_db(4, 5); /* CVE-2024-0005 only */
	ecr_buf js = ECR_BUF_INIT;
	image img;

	debian_image(&img);
	image_push(f->repo, &img, "rematch");
	assert_ok(ecr_scan_image(&r, f->repo, "rematch", f->db, NULL));
	assert_ok(ecr__scan_report_to_json(&js, r));
	ecr_scan_report_free(r);
	r = NULL;
	assert_ok(ecr__scan_report_from_json(&back, js.ptr, js.size));
	assert_debian_findings(back);
	assert_int_equal(ecr_scan_report_severity_count(back, ECR_SEVERITY_CRITICAL), 2);
	/* continuous scanning: a new database, no layer read */
	assert_ok(ecr_scan_report_rematch(back, small));
	assert_int_equal(ecr_scan_report_finding_count(back), 1);
	assert_finding(back, 0, "CVE-2024-0005", "tzdata", "2024a-0+deb12u1", NULL, ECR_SEVERITY_LOW, 0);
	assert_int_equal(ecr_scan_report_severity_count(back, ECR_SEVERITY_CRITICAL), 0);
	assert_ok(ecr_scan_report_rematch(back, f->db));
	assert_debian_findings(back);
	assert_int_equal(ecr__scan_report_from_json(&r, "[1]", 3), ECR_EINVALID);
	assert_int_equal(ecr__scan_report_from_json(&r, "{\"packages\":[{\"name\":\"x\"}]}", 27), ECR_EINVALID);
	ecr_scan_report_free(back);
	ecr_buf_dispose(&js);
	ecr_vulndb_free(small);
	image_dispose(&img);
}

static void test_scan_scan__sbom(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL;
	ecr_buf out = ECR_BUF_INIT;
	ecr__json *doc = NULL;
	const ecr__json *comps;
	image img;
	size_t i, n;

	debian_image(&img);
	image_push(f->repo, &img, "sbom");
	assert_ok(ecr_scan_image(&r, f->repo, "sbom", NULL, NULL));
	assert_ok(ecr_scan_report_sbom(&out, r));
	assert_ok(ecr__json_parse(&doc, out.ptr, out.size, NULL));
	assert_string_equal(ecr__json_get_string(doc, "bomFormat"), "CycloneDX");
	assert_string_equal(ecr__json_get_string(doc, "specVersion"), "1.5");
	assert_true(strncmp(ecr__json_get_string(doc, "serialNumber"), "urn:uuid:", 9) == 0);
	assert_int_equal(strlen(ecr__json_get_string(doc, "serialNumber")), 9 + 36);
	assert_non_null(ecr__json_get_string(ecr__json_get(doc, "metadata"), "timestamp"));
	assert_string_equal(ecr__json_get_string(ecr__json_get(ecr__json_get(doc, "metadata"), "component"), "name"),
	                    "debian");
	comps = ecr__json_get(doc, "components");
	assert_non_null(comps);
	n = comps->count;
	assert_int_equal(n, ecr_scan_report_package_count(r));
	for (i = 0; i < n; i++) {
		const char *name;

		assert_ok(ecr_scan_report_package(&name, NULL, NULL, NULL, r, i));
		assert_string_equal(ecr__json_get_string(comps->values[i], "type"), "library");
		assert_string_equal(ecr__json_get_string(comps->values[i], "name"), name);
		assert_true(strncmp(ecr__json_get_string(comps->values[i], "purl"), "pkg:deb/debian/", 15) == 0);
	}
	assert_string_equal(ecr__json_get_string(comps->values[2], "purl"),
	                    "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib");
	assert_string_equal(ecr__json_get_string(comps->values[3], "purl"),
	                    "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12");
	ecr__json_free(doc);
	ecr_buf_dispose(&out);
	ecr_scan_report_free(r);
	image_dispose(&img);
}

static void test_scan_scan__alpine_image(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL;
	ecr_buf out = ECR_BUF_INIT;
	image img;
	th_tar *t = th_tar_new(TH_TAR_GZIP);

	memset(&img, 0, sizeof(img));
	assert_int_equal(th_tar_str(t, "etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n"), 0);
	assert_int_equal(th_tar_str(t, "lib/apk/db/installed",
	                            "C:Q1abc=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\n"
	                            "C:Q1def=\nP:libcrypto3\nV:3.1.4-r1\nA:x86_64\no:openssl\n\n"
	                            "C:Q1ghi=\nP:libssl3\nV:3.1.4-r1\nA:x86_64\no:openssl\n\n"),
	                 0);
	image_add(&img, t, TH_TAR_GZIP);
	image_seal(&img, "amd64");
	image_push(f->repo, &img, "alpine");
	assert_ok(ecr_scan_image(&r, f->repo, "alpine", f->db, NULL));
	assert_string_equal(ecr_scan_report_os(r), "alpine 3.19.1");
	assert_string_equal(ecr_scan_report_ecosystem(r), "Alpine:v3.19");
	assert_int_equal(ecr_scan_report_package_count(r), 3);
	assert_int_equal(ecr_scan_report_finding_count(r), 2);
	assert_finding(r, 0, "CVE-2024-0007", "libcrypto3", "3.1.4-r1", "3.1.4-r3", ECR_SEVERITY_HIGH, 2);
	assert_finding(r, 1, "CVE-2024-0007", "libssl3", "3.1.4-r1", "3.1.4-r3", ECR_SEVERITY_HIGH, 2);
	assert_true(ecr_scan_report_finding(r, 0)->cvss_score > 7.49 &&
	            ecr_scan_report_finding(r, 0)->cvss_score < 7.51);
	assert_ok(ecr_scan_report_sbom(&out, r));
	assert_non_null(strstr(out.ptr, "\"pkg:apk/alpine/libcrypto3@3.1.4-r1?arch=x86_64&distro=3.19.1\""));
	ecr_buf_dispose(&out);
	ecr_scan_report_free(r);
	image_dispose(&img);
}

/* --- rpm: an rpmdb.sqlite with crafted header blobs --- */

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* An rpm header of string tags (type 6) and an optional epoch (INT32, tag 1003). */
static unsigned char *rpm_header(size_t *len_out, const uint32_t *tags, const char *const *vals, size_t n, int epoch)
{
	size_t store = 0, i, off = 0, count = n + (epoch >= 0);
	unsigned char *b, *data;

	for (i = 0; i < n; i++)
		store += strlen(vals[i]) + 1;
	store = (store + 3) & ~(size_t)3;
	if (epoch >= 0)
		store += 4;
	b = calloc(1, 8 + 16 * count + store);
	assert_non_null(b);
	data = b + 8 + 16 * count;
	put32(b, (uint32_t)count);
	put32(b + 4, (uint32_t)store);
	for (i = 0; i < n; i++) {
		unsigned char *e = b + 8 + 16 * i;

		put32(e, tags[i]);
		put32(e + 4, 6);
		put32(e + 8, (uint32_t)off);
		put32(e + 12, 1);
		memcpy(data + off, vals[i], strlen(vals[i]) + 1);
		off += strlen(vals[i]) + 1;
	}
	if (epoch >= 0) {
		unsigned char *e = b + 8 + 16 * n;

		off = (off + 3) & ~(size_t)3;
		put32(e, 1003);
		put32(e + 4, 4);
		put32(e + 8, (uint32_t)off);
		put32(e + 12, 1);
		put32(data + off, (uint32_t)epoch);
	}
	*len_out = 8 + 16 * count + store;
	return b;
}

static unsigned char *rpmdb(size_t *len_out)
{
	static const uint32_t tags[] = {1000, 1001, 1002, 1022, 1044};
	static const char *const ossl[] = {"openssl-libs", "3.0.7", "25.el9_3", "x86_64",
	                                   "openssl-3.0.7-25.el9_3.src.rpm"};
	static const char *const bash[] = {"bash", "5.1.8", "6.el9_1", "x86_64", "bash-5.1.8-6.el9_1.src.rpm"};
	char *dir = th_tmpdir(), path[4096];
	sqlite3 *db;
	sqlite3_stmt *st;
	unsigned char *b, *out;
	size_t bl, i;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/rpmdb.sqlite", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO Packages(blob) VALUES (?)", -1, &st, NULL), SQLITE_OK);
	for (i = 0; i < 2; i++) {
		b = rpm_header(&bl, tags, i ? bash : ossl, 5, i ? -1 : 1);
		sqlite3_bind_blob(st, 1, b, (int)bl, SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
		free(b);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	out = malloc((size_t)n);
	assert_non_null(out);
	assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	th_rmtree(dir);
	*len_out = (size_t)n;
	return out;
}

static void test_scan_scan__rpm_images(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL;
	ecr_buf out = ECR_BUF_INIT;
	unsigned char *db;
	size_t dblen;
	image img;
	th_tar *t;

	db = rpmdb(&dblen);
	memset(&img, 0, sizeof(img));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(
	    th_tar_str(t, "etc/os-release", "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"9.3\"\n"), 0);
	/* rpm's current location, and the old one a symlink, as Fedora and RHEL 9 lay it out */
	assert_int_equal(th_tar_file(t, "usr/lib/sysimage/rpm/rpmdb.sqlite", db, dblen), 0);
	assert_int_equal(th_tar_symlink(t, "var/lib/rpm", "../../usr/lib/sysimage/rpm"), 0);
	image_add(&img, t, TH_TAR_GZIP);
	image_seal(&img, "amd64");
	image_push(f->repo, &img, "rhel");
	assert_ok(ecr_scan_image(&r, f->repo, "rhel", f->db, NULL));
	assert_string_equal(ecr_scan_report_os(r), "rhel 9.3");
	assert_string_equal(ecr_scan_report_ecosystem(r), "Red Hat");
	assert_null(ecr_scan_report_status_reason(r));
	assert_int_equal(ecr_scan_report_package_count(r), 2);
	assert_int_equal(ecr_scan_report_finding_count(r), 1);
	assert_finding(r, 0, "CVE-2024-0008", "openssl-libs", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9", ECR_SEVERITY_HIGH,
	               3);
	assert_ok(ecr_scan_report_sbom(&out, r));
	assert_non_null(
	    strstr(out.ptr, "\"pkg:rpm/rhel/openssl-libs@3.0.7-25.el9_3?arch=x86_64&distro=rhel-9.3&epoch=1\""));
	ecr_buf_dispose(&out);
	ecr_scan_report_free(r);
	image_dispose(&img);
	free(db);

	/* only the Berkeley DB: said clearly, nothing scanned */
	memset(&img, 0, sizeof(img));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=\"rhel\"\nVERSION_ID=\"8.9\"\n"), 0);
	assert_int_equal(th_tar_str(t, "var/lib/rpm/Packages", "\0\0\0\0\x61\x15\x06\0"), 0);
	image_add(&img, t, TH_TAR_GZIP);
	image_seal(&img, "amd64");
	image_push(f->repo, &img, "rhel8");
	assert_ok(ecr_scan_image(&r, f->repo, "rhel8", f->db, NULL));
	assert_non_null(strstr(ecr_scan_report_status_reason(r), "UNSUPPORTED_IMAGE"));
	assert_non_null(strstr(ecr_scan_report_status_reason(r), "Berkeley DB"));
	assert_non_null(strstr(ecr_scan_report_status_reason(r), "not scanned"));
	assert_int_equal(ecr_scan_report_package_count(r), 0);
	assert_int_equal(ecr_scan_report_finding_count(r), 0);
	ecr_scan_report_free(r);
	image_dispose(&img);
}

/* Upper layers: whiteouts delete the package database, opaque folders, os-release overridden. */
static void test_scan_scan__layers_override(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL;
	image img;
	th_tar *t;

	/* a whiteout deletes the dpkg database */
	debian_image(&img);
	free(img.config);
	free(img.manifest);
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_file(t, "var/lib/dpkg/.wh.status", "", 0), 0);
	image_add(&img, t, TH_TAR_NONE);
	image_seal(&img, "amd64");
	image_push(f->repo, &img, "wh");
	assert_ok(ecr_scan_image(&r, f->repo, "wh", f->db, NULL));
	assert_string_equal(ecr_scan_report_os(r), "debian 12");
	assert_string_equal(ecr_scan_report_status_reason(r), "UNSUPPORTED_IMAGE: no package database found");
	assert_int_equal(ecr_scan_report_package_count(r), 0);
	assert_int_equal(ecr_scan_report_finding_count(r), 0);
	ecr_scan_report_free(r);
	image_dispose(&img);

	/* an opaque /var/lib/dpkg with a new status holding tzdata only; os-release overridden twice */
	memset(&img, 0, sizeof(img));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_str(t, "etc/os-release", DEB11_OS), 0);
	assert_int_equal(th_tar_str(t, "var/lib/dpkg/status", deb_status), 0);
	image_add(&img, t, TH_TAR_GZIP);
	t = th_tar_new(TH_TAR_ZSTD);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=alpine\nVERSION_ID=3.19.0\n"), 0);
	image_add(&img, t, TH_TAR_ZSTD);
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_str(t, "etc/os-release", DEB12_OS), 0);
	assert_int_equal(th_tar_file(t, "var/lib/dpkg/.wh..wh..opq", "", 0), 0);
	assert_int_equal(th_tar_str(t, "var/lib/dpkg/status",
	                            "Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\n\n"),
	                 0);
	image_add(&img, t, TH_TAR_GZIP);
	image_seal(&img, "amd64");
	image_push(f->repo, &img, "opaque");
	assert_ok(ecr_scan_image(&r, f->repo, "opaque", f->db, NULL));
	assert_string_equal(ecr_scan_report_ecosystem(r), "Debian:12");
	assert_int_equal(ecr_scan_report_package_count(r), 1);
	assert_int_equal(ecr_scan_report_finding_count(r), 1);
	assert_finding(r, 0, "CVE-2024-0005", "tzdata", "2024a-0+deb12u1", NULL, ECR_SEVERITY_LOW, 0);
	ecr_scan_report_free(r);
	image_dispose(&img);
}

/* An image index: the platform of the options, else linux/amd64. */
static void test_scan_scan__index_platforms(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL;
	ecr_scan_options o;
	ecr_image *out = NULL;
	image amd, arm;
	char idx[2048];
	th_tar *t;

	debian_image(&amd);
	image_push(f->repo, &amd, NULL);
	memset(&arm, 0, sizeof(arm));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=alpine\nVERSION_ID=3.19.1\n"), 0);
	image_add(&arm, t, TH_TAR_GZIP);
	image_seal(&arm, "arm64");
	image_push(f->repo, &arm, NULL);
	snprintf(idx, sizeof(idx),
	         "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
	         "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
	         "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	         "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
	         "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
	         arm.digest, strlen(arm.manifest), amd.digest, strlen(amd.manifest));
	assert_ok(ecr_image_put(&out, f->repo, "multi", NULL, NULL, idx, strlen(idx), 0));
	ecr_image_free(out);
	assert_ok(ecr_scan_image(&r, f->repo, "multi", f->db, NULL));
	assert_debian_findings(r);
	ecr_scan_report_free(r);
	assert_ok(ecr_scan_options_init(&o, ECR_SCAN_OPTIONS_VERSION));
	o.platform = "linux/arm64/v8";
	assert_ok(ecr_scan_image(&r, f->repo, "multi", f->db, &o));
	assert_string_equal(ecr_scan_report_os(r), "alpine 3.19.1");
	assert_string_equal(ecr_scan_report_status_reason(r), "UNSUPPORTED_IMAGE: no package database found");
	ecr_scan_report_free(r);
	o.platform = "linux/s390x";
	assert_int_equal(ecr_scan_image(&r, f->repo, "multi", f->db, &o), ECR_ENOTFOUND);
	assert_int_equal(ecr_scan_options_init(&o, 99), ECR_EINVALID);
	o.version = 0;
	assert_int_equal(ecr_scan_image(&r, f->repo, "multi", f->db, &o), ECR_EINVALID);
	image_dispose(&amd);
	image_dispose(&arm);
}

/* Hostile layers through the whole pipeline fail cleanly. */
static void test_scan_scan__hostile_layers(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL;
	ecr_scan_options o = ECR_SCAN_OPTIONS_INIT;
	image img;
	th_tar *t;
	unsigned char zero = 0;
	int i;

	memset(&img, 0, sizeof(img));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_str(t, "etc/os-release", DEB12_OS), 0);
	assert_int_equal(th_tar_str(t, "../../../etc/cron.d/evil", "* * * * * root sh\n"), 0);
	image_add(&img, t, TH_TAR_GZIP);
	image_seal(&img, "amd64");
	image_push(f->repo, &img, "dotdot");
	assert_int_equal(ecr_scan_image(&r, f->repo, "dotdot", f->db, NULL), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, img.layers[0].digest));
	assert_null(r);
	image_dispose(&img);

	memset(&img, 0, sizeof(img));
	t = th_tar_new(TH_TAR_ZSTD);
	for (i = 0; i < 64; i++) {
		char p[32];

		snprintf(p, sizeof(p), "z/%d", i);
		assert_int_equal(th_tar_file_pattern(t, p, 1 << 20, &zero, 1), 0);
	}
	image_add(&img, t, TH_TAR_ZSTD);
	image_seal(&img, "amd64");
	image_push(f->repo, &img, "bomb");
	o.max_total_bytes = 16u << 20;
	assert_int_equal(ecr_scan_image(&r, f->repo, "bomb", f->db, &o), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "max_total_bytes"));
	o.max_total_bytes = 0;
	assert_ok(ecr_scan_image(&r, f->repo, "bomb", f->db, &o));
	assert_string_equal(ecr_scan_report_status_reason(r), "UNSUPPORTED_IMAGE: no package database found");
	ecr_scan_report_free(r);
	image_dispose(&img);
}

/* --- OCI image layouts --- */

static void layout_blob(const char *dir, const char *digest, const void *data, size_t len)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest + 7);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static char *write_layout(const image *img)
{
	char *dir = th_tmpdir(), path[4096], index[1024];
	size_t i;

	snprintf(path, sizeof(path), "%s/blobs", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	write_file(dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
	for (i = 0; i < img->count; i++)
		layout_blob(dir, img->layers[i].digest, img->layers[i].data, img->layers[i].len);
	layout_blob(dir, img->config_digest, img->config, strlen(img->config));
	layout_blob(dir, img->digest, img->manifest, strlen(img->manifest));
	snprintf(
	    index, sizeof(index),
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":\"bookworm\"}}]}",
	    img->digest, strlen(img->manifest));
	write_file(dir, "index.json", index);
	return dir;
}

static void test_scan_scan__oci_layout(void **state)
{
	fixture *f = *state;
	ecr_scan_report *r = NULL;
	image img;
	char *dir;

	debian_image(&img);
	dir = write_layout(&img);
	assert_ok(ecr_scan_layout(&r, dir, NULL, f->db, NULL));
	assert_debian_findings(r);
	ecr_scan_report_free(r);
	assert_ok(ecr_scan_layout(&r, dir, "bookworm", f->db, NULL));
	assert_debian_findings(r);
	ecr_scan_report_free(r);
	assert_ok(ecr_scan_layout(&r, dir, img.digest, f->db, NULL));
	ecr_scan_report_free(r);
	assert_int_equal(ecr_scan_layout(&r, dir, "trixie", f->db, NULL), ECR_EIMAGE_NOT_FOUND);

	/* a layer whose bytes do not match its digest: the uncompressed one, its motd changed */
	{
		layer *l = &img.layers[2];
		unsigned char *h = memmem(l->data, l->len, "hello\n", 6);
		unsigned char *longer;

		assert_non_null(h);
		h[0] = 'j';
		layout_blob(dir, l->digest, l->data, l->len);
		r = NULL;
		assert_int_equal(ecr_scan_layout(&r, dir, NULL, f->db, NULL), ECR_EDIGEST);
		assert_non_null(strstr(ecr_error_last()->message, l->digest));
		assert_null(r);
		/* the right bytes and one more */
		h[0] = 'h';
		longer = malloc(l->len + 1);
		assert_non_null(longer);
		memcpy(longer, l->data, l->len);
		longer[l->len] = 0;
		layout_blob(dir, l->digest, longer, l->len + 1);
		free(longer);
		assert_int_equal(ecr_scan_layout(&r, dir, NULL, f->db, NULL), ECR_EDIGEST);
		layout_blob(dir, l->digest, l->data, l->len);
		assert_ok(ecr_scan_layout(&r, dir, NULL, f->db, NULL));
		ecr_scan_report_free(r);
	}
	/* a missing blob */
	{
		char path[4096];

		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, img.layers[0].digest + 7);
		assert_int_equal(unlink(path), 0);
		assert_int_equal(ecr_scan_layout(&r, dir, NULL, f->db, NULL), ECR_ENOTFOUND);
	}
	th_rmtree(dir);
	assert_int_equal(ecr_scan_layout(&r, "/nonexistent/layout", NULL, f->db, NULL), ECR_ENOTFOUND);
	image_dispose(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_scan_scan__debian_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scan__rematch_and_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scan__sbom, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scan__alpine_image, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scan__rpm_images, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scan__layers_override, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scan__index_platforms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scan__hostile_layers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_scan__oci_layout, setup, teardown),
	};

	return cmocka_run_group_tests_name("scan/scan", tests, NULL, NULL);
}
