/* Package databases: dpkg status and status.d, apk's installed file, rpm
 * header blobs and rpm's SQLite rpmdb (crafted here, and made by Debian's rpm
 * tools when they are installed), with hostile inputs. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../helpers/helpers.h"
#include "libecr/scan/scan_internal.h"

static const ecr__pkg *find(const ecr__pkg_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++)
		if (strcmp(l->items[i].name, name) == 0)
			return &l->items[i];
	return NULL;
}

static void assert_pkg(const ecr__pkg_list *l, const char *name, const char *version, const char *src,
                       const char *srcver, const char *arch)
{
	const ecr__pkg *p = find(l, name);
	if (!p)
		fail_msg("package %s not found", name);
	assert_string_equal(p->version, version);
#define OPT(field, want)                                                                                               \
	do {                                                                                                           \
		if (want) {                                                                                            \
			if (!p->field)                                                                                 \
				fail_msg("%s: " #field " is NULL, want %s", name, want);                               \
			assert_string_equal(p->field, want);                                                           \
		} else if (p->field)                                                                                   \
			fail_msg("%s: " #field " is %s, want NULL", name, p->field);                                   \
	} while (0)
	OPT(source_name, src);
	OPT(source_version, srcver);
	OPT(arch, arch);
#undef OPT
}

/* --- dpkg --- */

static const char dpkg_status[] = "Package: adduser\n"
                                  "Status: install ok installed\n"
                                  "Priority: important\n"
                                  "Section: admin\n"
                                  "Installed-Size: 849\n"
                                  "Maintainer: Debian Adduser Developers <adduser@packages.debian.org>\n"
                                  "Architecture: all\n"
                                  "Multi-Arch: foreign\n"
                                  "Version: 3.134\n"
                                  "Depends: passwd\n"
                                  "Suggests: liblocale-gettext-perl, perl, cron, quota\n"
                                  "Conffiles:\n"
                                  " /etc/adduser.conf cc3493ecd2d09837ffdcc3e25fdfff18\n"
                                  " /etc/deluser.conf 11a06baf8245fd9aa6c8b3ee4fdf4bc4\n"
                                  "Description: add and remove users and groups\n"
                                  " This package includes the 'adduser' and 'deluser' commands for creating\n"
                                  " and removing users.\n"
                                  " .\n"
                                  " Package: not-a-package\n"
                                  " Version: 0\n"
                                  "\n"
                                  "Package: bsdutils\n"
                                  "Essential: yes\n"
                                  "Status: install ok installed\n"
                                  "Priority: required\n"
                                  "Section: utils\n"
                                  "Installed-Size: 335\n"
                                  "Maintainer: util-linux packagers <util-linux@packages.debian.org>\n"
                                  "Architecture: amd64\n"
                                  "Multi-Arch: foreign\n"
                                  "Source: util-linux (2.38.1-5)\n"
                                  "Version: 1:2.38.1-5+b1\n"
                                  "Pre-Depends: libc6 (>= 2.34), libsystemd0\n"
                                  "Description: basic utilities from 4.4BSD-Lite\n"
                                  " This package contains the bare minimum of BSD utilities needed for a\n"
                                  " Debian system.\n"
                                  "\n"
                                  "Package: libssl3\n"
                                  "Status: install ok installed\n"
                                  "Priority: optional\n"
                                  "Section: libs\n"
                                  "Installed-Size: 6166\n"
                                  "Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>\n"
                                  "Architecture: amd64\n"
                                  "Multi-Arch: same\n"
                                  "Source: openssl\n"
                                  "Version: 3.0.11-1~deb12u2\n"
                                  "Depends: libc6 (>= 2.34)\n"
                                  "Description: Secure Sockets Layer toolkit - shared libraries\n"
                                  "\n"
                                  "Package: zlib1g\n"
                                  "Status: install ok installed\n"
                                  "Architecture: amd64\n"
                                  "Source: zlib (1:1.2.13.dfsg-1)\n"
                                  "Version: 1:1.2.13.dfsg-1\n"
                                  "Description: compression library - runtime\n"
                                  "\n"
                                  "Package: oldlib1\n"
                                  "Status: deinstall ok config-files\n"
                                  "Architecture: amd64\n"
                                  "Version: 0.9-1\n"
                                  "\n"
                                  "Package: halfway\n"
                                  "Status: install reinstreq half-installed\n"
                                  "Architecture: amd64\n"
                                  "Version: 2.0-1\n"
                                  "\n"
                                  "Package: held\n"
                                  "Status: hold ok installed\n"
                                  "Architecture: arm64\n"
                                  "Version: 5.2.15-2+b2\n"
                                  "\n"
                                  "\n"
                                  "Package: noversion\n"
                                  "Status: install ok installed\n"
                                  "\n"
                                  "Package: libc6\n"
                                  "Status: install ok installed\n"
                                  "Architecture: amd64\n"
                                  "Source: glibc\n"
                                  "Version: 2.36-9+deb12u4"; /* no final newline */

static void test_scan_pkgdb__dpkg_status(void **state)
{
	ecr__pkg_list l = {0};
	(void)state;

	assert_ok(ecr__pkgdb_dpkg_parse(&l, dpkg_status, strlen(dpkg_status), false));
	assert_int_equal(l.format, ECR__PKG_DPKG);
	assert_int_equal(l.count, 6);
	assert_string_equal(l.items[0].name, "adduser"); /* in file order */
	assert_pkg(&l, "adduser", "3.134", NULL, NULL, "all");
	assert_pkg(&l, "bsdutils", "1:2.38.1-5+b1", "util-linux", "2.38.1-5", "amd64");
	assert_pkg(&l, "libssl3", "3.0.11-1~deb12u2", "openssl", NULL, "amd64");
	assert_pkg(&l, "zlib1g", "1:1.2.13.dfsg-1", "zlib", NULL, "amd64"); /* same version: NULL */
	assert_pkg(&l, "held", "5.2.15-2+b2", NULL, NULL, "arm64");
	assert_pkg(&l, "libc6", "2.36-9+deb12u4", "glibc", NULL, "amd64");
	assert_null(find(&l, "oldlib1"));
	assert_null(find(&l, "halfway"));
	assert_null(find(&l, "noversion"));
	assert_null(find(&l, "not-a-package"));

	/* a second file appends to the same list */
	assert_ok(ecr__pkgdb_dpkg_parse(&l, "Package: x\nVersion: 1\nStatus: install ok installed\n", 52, false));
	assert_int_equal(l.count, 7);
	ecr__pkg_list_dispose(&l);
	ecr__pkg_list_dispose(&l); /* twice is fine */
}

static void test_scan_pkgdb__dpkg_status_d(void **state)
{
	/* a distroless /var/lib/dpkg/status.d/ file: no Status field */
	static const char base_files[] = "Package: base-files\n"
	                                 "Priority: required\n"
	                                 "Section: admin\n"
	                                 "Maintainer: Santiago Vila <sanvila@debian.org>\n"
	                                 "Architecture: amd64\n"
	                                 "Version: 12.4+deb12u5\n"
	                                 "Replaces: base, dpkg (<= 1.15.0), miscutils\n"
	                                 "Provides: base\n"
	                                 "Description: Debian base system miscellaneous files\n";
	static const char tzdata[] = "Package: tzdata\r\n"
	                             "Version: 2024a-0+deb12u1\r\n"
	                             "Architecture: all\r\n"
	                             "Source: tzdata\r\n"
	                             "\r\n";
	ecr__pkg_list l = {0};
	(void)state;

	assert_ok(ecr__pkgdb_dpkg_parse(&l, base_files, strlen(base_files), true));
	assert_ok(ecr__pkgdb_dpkg_parse(&l, tzdata, strlen(tzdata), true));
	assert_int_equal(l.count, 2);
	assert_pkg(&l, "base-files", "12.4+deb12u5", NULL, NULL, "amd64");
	assert_pkg(&l, "tzdata", "2024a-0+deb12u1", "tzdata", NULL, "all");
	ecr__pkg_list_dispose(&l);

	/* the same text as a status file lists nothing: no package says it is installed */
	assert_ok(ecr__pkgdb_dpkg_parse(&l, base_files, strlen(base_files), false));
	assert_int_equal(l.count, 0);
	/* a status.d file with a Status field is taken at its word */
	static const char removed[] = "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n";
	assert_ok(ecr__pkgdb_dpkg_parse(&l, removed, strlen(removed), true));
	assert_int_equal(l.count, 0);
	ecr__pkg_list_dispose(&l);
}

static void test_scan_pkgdb__dpkg_odd_input(void **state)
{
	ecr__pkg_list l = {0};
	(void)state;

	assert_ok(ecr__pkgdb_dpkg_parse(&l, "", 0, false));
	assert_ok(ecr__pkgdb_dpkg_parse(&l, NULL, 0, false));
	assert_int_equal(l.count, 0);
	/* case-insensitive field names, whitespace around values, blank lines of spaces, lines without colons */
	static const char odd[] = "package:   foo  \nVERSION:1.0-1\n  \nstatus: install ok installed\n"
	                          "garbage line\n\t \n"
	                          "Package: bar\nStatus: install ok installed\nVersion: 2\nSource: (broken\n\n"
	                          "Package: nul\nStatus: install ok installed\nVersion: 1\0x\n\n"
	                          "Package: baz\nStatus: install ok installed extra\nVersion: 3\n"
	                          "Source: bazsrc (3 \n";
	assert_ok(ecr__pkgdb_dpkg_parse(&l, odd, sizeof(odd) - 1, false));
	/* foo lost its Status to the blank line; nul's version holds a NUL byte */
	assert_null(find(&l, "foo"));
	assert_null(find(&l, "nul"));
	assert_pkg(&l, "bar", "2", NULL, NULL, NULL);
	assert_pkg(&l, "baz", "3", "bazsrc", NULL, NULL);
	assert_int_equal(l.count, 2);
	ecr__pkg_list_dispose(&l);
	assert_int_equal(ecr__pkgdb_dpkg_parse(NULL, "x", 1, false), ECR_EINVALID);
}

/* A big generated status file parses in one pass; past ECR__PKG_MAX packages the
 * parse fails with ECR_ELIMIT and leaves the list as it was. */
static void test_scan_pkgdb__dpkg_large(void **state)
{
	ecr_buf b = ECR_BUF_INIT;
	ecr__pkg_list l = {0};
	(void)state;

	for (int i = 0; i < 50000; i++)
		assert_ok(ecr__buf_printf(
		    &b,
		    "Package: pkg%d\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.%d-1\n"
		    "Description: a package\n long description line one\n long description line two\n\n",
		    i, i));
	assert_true(b.size > 5 * 1024 * 1024);
	assert_ok(ecr__pkgdb_dpkg_parse(&l, b.ptr, b.size, false));
	assert_int_equal(l.count, 50000);
	assert_pkg(&l, "pkg49999", "1.49999-1", NULL, NULL, "amd64");
	ecr__buf_clear(&b);

	for (int i = 0; i <= ECR__PKG_MAX; i++)
		assert_ok(ecr__buf_printf(&b, "Package:p%d\nVersion:1\n\n", i));
	assert_int_equal(ecr__pkgdb_dpkg_parse(&l, b.ptr, b.size, true), ECR_ELIMIT);
	assert_int_equal(l.count, 50000);
	ecr__pkg_list_dispose(&l);
	ecr_buf_dispose(&b);
}

/* --- apk --- */

static const char apk_installed[] = "C:Q1kl5mVDLuTQUBS3ns6kSZgnzmM5c=\n"
                                    "P:musl\n"
                                    "V:1.2.4_git20230717-r4\n"
                                    "A:x86_64\n"
                                    "S:407278\n"
                                    "I:663552\n"
                                    "T:the musl c library (libc) implementation\n"
                                    "U:https://musl.libc.org/\n"
                                    "L:MIT\n"
                                    "o:musl\n"
                                    "m:Timo Teräs <timo.teras@iki.fi>\n"
                                    "t:1705593818\n"
                                    "c:f93af038c3de7146121c2ea8124ba5ce29b4b058\n"
                                    "p:so:libc.musl-x86_64.so.1=1\n"
                                    "F:lib\n"
                                    "R:ld-musl-x86_64.so.1\n"
                                    "a:0:0:755\n"
                                    "Z:Q1GI1Du0p9tRjrF2Rz3W8tb7SAtb8=\n"
                                    "R:libc.musl-x86_64.so.1\n"
                                    "a:0:0:777\n"
                                    "Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=\n"
                                    "\n"
                                    "C:Q1Pu5oETwUAFEF1s0YkEvVgIlMjaM=\n"
                                    "P:ssl_client\n"
                                    "V:1.36.1-r15\n"
                                    "A:x86_64\n"
                                    "S:4690\n"
                                    "I:14336\n"
                                    "T:EXternal ssl_client for busybox wget\n"
                                    "U:https://busybox.net/\n"
                                    "L:GPL-2.0-only\n"
                                    "o:busybox\n"
                                    "D:so:libc.musl-x86_64.so.1 so:libcrypto.so.3 so:libssl.so.3\n"
                                    "\n"
                                    "P:libcrypto3\n"
                                    "V:3.1.4-r5\n"
                                    "A:x86_64\n"
                                    "o:openssl\n"
                                    "\n"
                                    "P:noversion\n"
                                    "A:x86_64\n"
                                    "\n"
                                    "P:alpine-baselayout-data\n"
                                    "V:3.4.3-r2\n"
                                    "A:x86_64\n"
                                    "o:alpine-baselayout\n"; /* no blank line at the end */

static void test_scan_pkgdb__apk(void **state)
{
	ecr__pkg_list l = {0};
	(void)state;

	assert_ok(ecr__pkgdb_apk_parse(&l, apk_installed, strlen(apk_installed)));
	assert_int_equal(l.format, ECR__PKG_APK);
	assert_int_equal(l.count, 4);
	assert_string_equal(l.items[0].name, "musl");
	assert_pkg(&l, "musl", "1.2.4_git20230717-r4", "musl", NULL, "x86_64");
	assert_pkg(&l, "ssl_client", "1.36.1-r15", "busybox", NULL, "x86_64");
	assert_pkg(&l, "libcrypto3", "3.1.4-r5", "openssl", NULL, "x86_64");
	assert_pkg(&l, "alpine-baselayout-data", "3.4.3-r2", "alpine-baselayout", NULL, "x86_64");
	assert_null(find(&l, "noversion"));
	ecr__pkg_list_dispose(&l);

	static const char odd[] = "P:a\r\nV:1\r\n\r\nX\nP\nP:\nV:2\n\nP:b\nV:\n\nP:c\nV:3\nP:ignored\n\n";
	assert_ok(ecr__pkgdb_apk_parse(&l, odd, sizeof(odd) - 1));
	assert_int_equal(l.count, 2);
	assert_pkg(&l, "a", "1", NULL, NULL, NULL);
	assert_pkg(&l, "c", "3", NULL, NULL, NULL);
	ecr__pkg_list_dispose(&l);
	assert_ok(ecr__pkgdb_apk_parse(&l, "", 0));
	assert_int_equal(l.count, 0);
}

/* --- rpm headers --- */

typedef struct hentry {
	uint32_t tag, type, count;
	const void *data;
	size_t len;
} hentry;

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Build a header blob (index + data store, as rpmdb stores them). */
static unsigned char *build_header(const hentry *e, size_t n, size_t *len_out)
{
	size_t dl = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].type == 4)
			dl = (dl + 3) & ~(size_t)3;
		dl += e[i].len;
	}
	size_t len = 8 + n * 16 + dl;
	unsigned char *b = calloc(1, len), *store = b + 8 + n * 16;
	assert_non_null(b);
	put32(b, (uint32_t)n);
	put32(b + 4, (uint32_t)dl);
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].type == 4)
			off = (off + 3) & ~(size_t)3;
		put32(b + 8 + i * 16, e[i].tag);
		put32(b + 8 + i * 16 + 4, e[i].type);
		put32(b + 8 + i * 16 + 8, (uint32_t)off);
		put32(b + 8 + i * 16 + 12, e[i].count);
		memcpy(store + off, e[i].data, e[i].len);
		off += e[i].len;
	}
	*len_out = len;
	return b;
}

#define S(tag, str)                                                                                                    \
	{                                                                                                              \
		tag, 6, 1, str, sizeof(str)                                                                            \
	}

static unsigned char *openssl_header(size_t *len)
{
	static const unsigned char epoch1[4] = {0, 0, 0, 1};
	static const char i18n[] = "OpenSSL\0";
	const hentry e[] = {
	    S(1000, "openssl-libs"),
	    S(1001, "3.0.7"),
	    S(1002, "25.el9_3"),
	    {1003, 4, 1, epoch1, 4},
	    {1004, 9, 1, i18n, sizeof(i18n)}, /* SUMMARY */
	    S(1022, "x86_64"),
	    S(1044, "openssl-3.0.7-25.el9_3.src.rpm"),
	};
	return build_header(e, sizeof(e) / sizeof(e[0]), len);
}

static void test_scan_pkgdb__rpm_header(void **state)
{
	ecr__pkg_list l = {0};
	size_t len;
	unsigned char *b;
	(void)state;

	b = openssl_header(&len);
	assert_ok(ecr__rpm_header_parse(&l, b, len));
	assert_int_equal(l.format, ECR__PKG_RPM);
	assert_int_equal(l.count, 1);
	/* the source rpm has the package's version; the epoch is the package's */
	assert_pkg(&l, "openssl-libs", "1:3.0.7-25.el9_3", "openssl", NULL, "x86_64");

	/* every truncation fails cleanly; every single-byte corruption is either refused or parsed */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(ecr__rpm_header_parse(&l, b, n), ECR_EINVALID);
	for (size_t i = 0; i < len; i++) {
		for (int v = 0; v < 256; v += 51) {
			unsigned char *c = malloc(len);
			memcpy(c, b, len);
			c[i] = (unsigned char)(c[i] ^ (v | 0x80));
			int rc = ecr__rpm_header_parse(&l, c, len);
			assert_true(rc == 0 || rc == ECR_EINVALID);
			free(c);
		}
	}
	free(b);
	ecr__pkg_list_dispose(&l);

	/* no epoch, a source rpm of another name and version, no arch */
	const hentry e2[] = {
	    S(1000, "python3-libs"),
	    S(1001, "3.9.18"),
	    S(1002, "1.el9_3.1"),
	    S(1044, "python3.9-3.9.18-1.el9_3.src.rpm"),
	};
	b = build_header(e2, 4, &len);
	assert_ok(ecr__rpm_header_parse(&l, b, len));
	assert_pkg(&l, "python3-libs", "3.9.18-1.el9_3.1", "python3.9", "3.9.18-1.el9_3", NULL);
	free(b);

	/* a nosrc rpm; a SOURCERPM that is not a file name is ignored */
	const hentry e3[] = {S(1000, "a"), S(1001, "1"), S(1002, "2"), S(1044, "a-b-1-2.nosrc.rpm")};
	b = build_header(e3, 4, &len);
	assert_ok(ecr__rpm_header_parse(&l, b, len));
	assert_pkg(&l, "a", "1-2", "a-b", NULL, NULL);
	free(b);
	const hentry e4[] = {S(1000, "b"), S(1001, "1"), S(1044, "junk.src.rpm")};
	b = build_header(e4, 3, &len);
	assert_ok(ecr__rpm_header_parse(&l, b, len));
	assert_pkg(&l, "b", "1", NULL, NULL, NULL);
	free(b);

	/* public keys are not packages */
	const hentry e5[] = {S(1000, "gpg-pubkey"), S(1001, "fd431d51"), S(1002, "4ae0493b")};
	b = build_header(e5, 3, &len);
	size_t before = l.count;
	assert_ok(ecr__rpm_header_parse(&l, b, len));
	assert_int_equal(l.count, before);
	free(b);
	ecr__pkg_list_dispose(&l);
}

static void test_scan_pkgdb__rpm_header_hostile(void **state)
{
	ecr__pkg_list l = {0};
	unsigned char h[64] = {0};
	size_t len;
	(void)state;

	/* no entries; absurd counts; sizes past the blob */
	assert_int_equal(ecr__rpm_header_parse(&l, h, 8), ECR_EINVALID);
	put32(h, 0xffffffffu);
	put32(h + 4, 16);
	assert_int_equal(ecr__rpm_header_parse(&l, h, sizeof(h)), ECR_EINVALID);
	put32(h, 1);
	put32(h + 4, 0xfffffff0u);
	assert_int_equal(ecr__rpm_header_parse(&l, h, sizeof(h)), ECR_EINVALID);
	put32(h + 4, 100);
	assert_int_equal(ecr__rpm_header_parse(&l, h, sizeof(h)), ECR_EINVALID);

	/* a string offset past the store, a string without its NUL, a wrong type, zero count */
	const hentry ok_ver = S(1001, "1");
	hentry bad[] = {{1000, 6, 1, "name", 4}, ok_ver}; /* NAME not NUL-terminated: runs into VERSION's "1\0" */
	unsigned char *b = build_header(bad, 2, &len);
	assert_ok(ecr__rpm_header_parse(&l, b, len));
	assert_string_equal(l.items[0].name, "name1"); /* bounded by the store, as rpm reads it */
	free(b);
	hentry bad2[] = {ok_ver, {1000, 6, 1, "nonul", 5}}; /* the last string has no NUL in the store */
	b = build_header(bad2, 2, &len);
	assert_int_equal(ecr__rpm_header_parse(&l, b, len), ECR_EINVALID);
	free(b);
	hentry bad3[] = {{1000, 4, 1, "abcd", 4}, ok_ver}; /* NAME as INT32 */
	b = build_header(bad3, 2, &len);
	assert_int_equal(ecr__rpm_header_parse(&l, b, len), ECR_EINVALID);
	free(b);
	hentry bad4[] = {{1000, 6, 0, "x", 2}, ok_ver}; /* count 0 */
	b = build_header(bad4, 2, &len);
	assert_int_equal(ecr__rpm_header_parse(&l, b, len), ECR_EINVALID);
	free(b);
	hentry bad5[] = {S(1000, "x"), ok_ver, {1003, 4, 1, "ab", 2}}; /* EPOCH past the end: ignored */
	b = build_header(bad5, 3, &len);
	put32(b + 8 + 2 * 16 + 8, 0xfffffffeu);
	assert_ok(ecr__rpm_header_parse(&l, b, len));
	assert_pkg(&l, "x", "1", NULL, NULL, NULL);
	put32(b + 8 + 16 + 8, 0x7fffffffu); /* VERSION offset past the store */
	assert_int_equal(ecr__rpm_header_parse(&l, b, len), ECR_EINVALID);
	free(b);
	ecr__pkg_list_dispose(&l);
}

/* --- rpm's SQLite database --- */

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	void *p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

/* A database with rpm's schema, in WAL mode as rpm leaves it, holding crafted headers. */
static void *crafted_rpmdb(size_t *len, const char *schema)
{
	char *dir = th_tmpdir(), path[4096];
	sqlite3 *db;
	sqlite3_stmt *st;
	snprintf(path, sizeof(path), "%s/rpmdb.sqlite", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, "PRAGMA journal_mode=WAL");
	exec_sql(db, schema);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO Packages(blob) VALUES (?)", -1, &st, NULL), SQLITE_OK);
	const hentry e2[] = {S(1000, "bash"), S(1001, "5.1.8"), S(1002, "6.el9_1"), S(1022, "x86_64"),
	                     S(1044, "bash-5.1.8-6.el9_1.src.rpm")};
	const hentry e3[] = {S(1000, "gpg-pubkey"), S(1001, "fd431d51"), S(1002, "4ae0493b")};
	size_t bl;
	unsigned char *blobs[3] = {openssl_header(&bl), NULL, NULL};
	size_t lens[3] = {bl, 0, 0};
	blobs[1] = build_header(e2, 5, &lens[1]);
	blobs[2] = build_header(e3, 3, &lens[2]);
	for (int i = 0; i < 3; i++) {
		sqlite3_bind_blob(st, 1, blobs[i], (int)lens[i], SQLITE_TRANSIENT);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
		free(blobs[i]);
	}
	sqlite3_finalize(st);
	exec_sql(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	void *data = read_file(path, len);
	th_rmtree(dir);
	return data;
}

static const char rpm_schema[] = "CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,"
                                 "blob BLOB NOT NULL);"
                                 "CREATE TABLE IF NOT EXISTS 'Name' (key TEXT NOT NULL, hnum INTEGER NOT NULL, "
                                 "idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))";

static void test_scan_pkgdb__rpm_sqlite_crafted(void **state)
{
	ecr__pkg_list l = {0};
	size_t len;
	(void)state;

	unsigned char *data = crafted_rpmdb(&len, rpm_schema);
	assert_int_equal(data[18], 2); /* WAL mode */
	assert_ok(ecr__pkgdb_rpm_sqlite_parse(&l, data, len));
	assert_int_equal(l.format, ECR__PKG_RPM);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.items[0].name, "openssl-libs");
	assert_pkg(&l, "openssl-libs", "1:3.0.7-25.el9_3", "openssl", NULL, "x86_64");
	assert_pkg(&l, "bash", "5.1.8-6.el9_1", "bash", NULL, "x86_64");
	assert_int_equal(data[18], 2); /* the caller's bytes are not touched */

	/* truncated databases fail cleanly and leave the list alone */
	for (size_t n = 0; n < len; n += len / 7) {
		size_t before = l.count;
		int rc = ecr__pkgdb_rpm_sqlite_parse(&l, data, n);
		assert_true(rc == 0 || rc == ECR_EINVALID);
		if (rc != 0)
			assert_int_equal(l.count, before);
		if (n < 100)
			assert_int_equal(rc, ECR_EINVALID);
	}
	/* a corrupted page fails cleanly (or still reads) */
	for (size_t off = 100; off < len; off += 509) {
		unsigned char saved = data[off];
		data[off] ^= 0x5a;
		int rc = ecr__pkgdb_rpm_sqlite_parse(&l, data, len);
		assert_true(rc == 0 || rc == ECR_EINVALID || rc == ECR_ELIMIT);
		data[off] = saved;
	}
	ecr__pkg_list_truncate(&l, 2);
	assert_int_equal(l.count, 2);
	free(data);
	assert_int_equal(ecr__pkgdb_rpm_sqlite_parse(&l, "not a database at all", 21), ECR_EINVALID);
	ecr__pkg_list_dispose(&l);

	/* a minimal schema (only the Packages table); Packages as a view (refused: a view could be any query) */
	data = crafted_rpmdb(&len, "CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob BLOB);"
	                           "CREATE TABLE Other(x)");
	assert_ok(ecr__pkgdb_rpm_sqlite_parse(&l, data, len));
	assert_int_equal(l.count, 2);
	ecr__pkg_list_dispose(&l);
	free(data);
	data = crafted_rpmdb(&len, "CREATE TABLE Real(hnum INTEGER PRIMARY KEY, blob BLOB);"
	                           "CREATE VIEW Packages AS WITH RECURSIVE c(hnum, blob) AS (SELECT 1, x'00' UNION ALL "
	                           "SELECT hnum + 1, blob FROM c) SELECT hnum, blob FROM c;"
	                           "CREATE TRIGGER t INSTEAD OF INSERT ON Packages BEGIN INSERT INTO Real(blob) "
	                           "VALUES (NEW.blob); END");
	assert_int_equal(ecr__pkgdb_rpm_sqlite_parse(&l, data, len), ECR_EINVALID);
	assert_int_equal(l.count, 0);
	free(data);
}

/* An rpmdb written by rpm itself (rpmbuild + rpm --justdb), when Debian's rpm is installed. */
static void test_scan_pkgdb__rpm_sqlite_real(void **state)
{
	char cmd[8192], path[4096];
	ecr__pkg_list l = {0};
	size_t len;
	(void)state;

	if (system("command -v rpmbuild >/dev/null 2>&1 && command -v rpm >/dev/null 2>&1") != 0) {
		print_message("rpm or rpmbuild not installed: skipped\n");
		skip();
	}
	char *dir = th_tmpdir();
	snprintf(path, sizeof(path), "%s/top/SPECS", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/top/SPECS %s/db", dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/top/SPECS/tinypkg.spec", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Name: tinypkg\nVersion: 1.2.3\nRelease: 4.fc39\nEpoch: 2\nSummary: tiny\nLicense: MIT\n"
	      "BuildArch: noarch\n%description\ntiny\n%files\n",
	      f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/top/SPECS/other.spec", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("Name: other-libs\nVersion: 0.9~rc1\nRelease: 1\nSummary: other\nLicense: MIT\n"
	      "BuildArch: noarch\n%description\nother\n%files\n",
	      f);
	fclose(f);
	snprintf(
	    cmd, sizeof(cmd),
	    "cd %s && rpmbuild --quiet --define '_topdir %s/top' -bb top/SPECS/tinypkg.spec top/SPECS/other.spec "
	    ">/dev/null 2>&1 && rpm --dbpath %s/db --initdb && "
	    "rpm --dbpath %s/db -i --nodeps --justdb --ignorearch --ignoreos top/RPMS/noarch/*.rpm >/dev/null 2>&1",
	    dir, dir, dir, dir);
	if (system(cmd) != 0) {
		th_rmtree(dir);
		print_message("rpmbuild or rpm failed: skipped\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/db/rpmdb.sqlite", dir);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	void *data = read_file(path, &len);
	assert_ok(ecr__pkgdb_rpm_sqlite_parse(&l, data, len));
	assert_int_equal(l.count, 2);
	assert_pkg(&l, "tinypkg", "2:1.2.3-4.fc39", "tinypkg", NULL, "noarch");
	assert_pkg(&l, "other-libs", "0.9~rc1-1", "other-libs", NULL, "noarch");
	assert_true(ecr__vercmp_rpm(find(&l, "other-libs")->version, "0.9-1") < 0);
	ecr__pkg_list_dispose(&l);
	free(data);
	th_rmtree(dir);
}

static void test_scan_pkgdb__list(void **state)
{
	ecr__pkg_list l = {0};
	(void)state;
	assert_int_equal(ecr__pkg_list_add(&l, NULL, "1", NULL, NULL, NULL), ECR_EINVALID);
	assert_int_equal(ecr__pkg_list_add(&l, "a", NULL, NULL, NULL, NULL), ECR_EINVALID);
	for (int i = 0; i < 100; i++)
		assert_ok(ecr__pkg_list_add(&l, "n", "1", i % 2 ? "s" : NULL, NULL, "amd64"));
	assert_int_equal(l.count, 100);
	assert_true(l.cap >= 100);
	assert_string_equal(l.items[99].source_name, "s");
	assert_null(l.items[98].source_name);
	ecr__pkg_list_truncate(&l, 10);
	assert_int_equal(l.count, 10);
	ecr__pkg_list_dispose(&l);
	assert_int_equal(l.count, 0);
	assert_null(l.items);
	ecr__pkg_list_dispose(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_pkgdb__list),
	    cmocka_unit_test(test_scan_pkgdb__dpkg_status),
	    cmocka_unit_test(test_scan_pkgdb__dpkg_status_d),
	    cmocka_unit_test(test_scan_pkgdb__dpkg_odd_input),
	    cmocka_unit_test(test_scan_pkgdb__dpkg_large),
	    cmocka_unit_test(test_scan_pkgdb__apk),
	    cmocka_unit_test(test_scan_pkgdb__rpm_header),
	    cmocka_unit_test(test_scan_pkgdb__rpm_header_hostile),
	    cmocka_unit_test(test_scan_pkgdb__rpm_sqlite_crafted),
	    cmocka_unit_test(test_scan_pkgdb__rpm_sqlite_real),
	};
	return cmocka_run_group_tests_name("scan/pkgdb", tests, NULL, NULL);
}
