/* scan/layers: walking tar layers (gzip, zstd, none), OCI whiteouts, kept
 * files, and hostile layers failing within their caps. */
#include "../../libecr/scan/scan_internal.h"
#include "../helpers/helpers.h"
#include "th_tar.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct mem {
	const unsigned char *p;
	size_t len, off, chunk;
} mem;

static int mem_read(void *payload, void *buf, size_t len, size_t *nread_out)
{
	mem *m = payload;
	size_t n = m->len - m->off;

	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	*nread_out = n;
	return 0;
}

static int apply(ecr__layer_fs *fs, const unsigned char *data, size_t len)
{
	mem m = {data, len, 0, 0};

	return ecr__layer_fs_apply(fs, "sha256:test", mem_read, &m);
}

/* Finish a tar and apply it. */
static int apply_tar(ecr__layer_fs *fs, th_tar *t)
{
	unsigned char *data;
	size_t len;
	int rc;

	assert_non_null(t);
	assert_int_equal(th_tar_finish(t, &data, &len), 0);
	rc = apply(fs, data, len);
	free(data);
	return rc;
}

static const char *content(const ecr__layer_fs *fs, const char *path)
{
	const ecr__layer_file *f = ecr__layer_fs_get(fs, path);

	return f ? (const char *)f->data : NULL;
}

static void test_scan_layers__normalize(void **state)
{
	char *p = NULL;

	(void)state;
	assert_ok(ecr__layer_path_normalize(&p, "./etc//os-release", 4096));
	assert_string_equal(p, "etc/os-release");
	ecr__free(p);
	assert_ok(ecr__layer_path_normalize(&p, "/var/./lib/dpkg/status/", 4096));
	assert_string_equal(p, "var/lib/dpkg/status");
	ecr__free(p);
	assert_ok(ecr__layer_path_normalize(&p, "./", 4096));
	assert_string_equal(p, "");
	ecr__free(p);
	assert_ok(ecr__layer_path_normalize(&p, "a/..b/c..", 4096));
	assert_string_equal(p, "a/..b/c..");
	ecr__free(p);
	assert_int_equal(ecr__layer_path_normalize(&p, "../etc/passwd", 4096), ECR_EINVALID);
	assert_null(p);
	assert_int_equal(ecr__layer_path_normalize(&p, "a/b/../../../x", 4096), ECR_EINVALID);
	assert_int_equal(ecr__layer_path_normalize(&p, "a/..", 4096), ECR_EINVALID);
	assert_int_equal(ecr__layer_path_normalize(&p, "abcdef", 5), ECR_ELIMIT);
}

/* Only the scanners' files are kept, with their content, in all three compressions. */
static void test_scan_layers__keeps_only_needed_files(void **state)
{
	static const th_tar_filter filters[] = {TH_TAR_NONE, TH_TAR_GZIP, TH_TAR_ZSTD};
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		ecr__layer_fs fs;
		th_tar *t = th_tar_new(filters[i]);

		assert_ok(ecr__layer_fs_init(&fs, NULL));
		assert_int_equal(th_tar_dir(t, "./"), 0);
		assert_int_equal(th_tar_dir(t, "./etc/"), 0);
		assert_int_equal(th_tar_str(t, "./etc/os-release", "ID=debian\n"), 0);
		assert_int_equal(th_tar_str(t, "./etc/passwd", "root:x:0:0::/root:/bin/sh\n"), 0);
		assert_int_equal(th_tar_str(t, "/var/lib/dpkg/status", "Package: a\n"), 0);
		assert_int_equal(th_tar_str(t, "var//lib/dpkg/status.d/base", "Package: b\n"), 0);
		assert_int_equal(th_tar_str(t, "var/lib/dpkg/status.d/sub/x", "no\n"), 0);
		assert_int_equal(th_tar_str(t, "lib/apk/db/installed", "P:musl\n"), 0);
		assert_int_equal(th_tar_str(t, "var/lib/rpm/Packages", "berkeley"), 0);
		assert_int_equal(th_tar_str(t, "usr/bin/true",
		                            "\x7f"
		                            "ELF"),
		                 0);
		assert_ok(apply_tar(&fs, t));
		assert_int_equal(fs.count, 5);
		assert_string_equal(content(&fs, "/etc/os-release"), "ID=debian\n");
		assert_string_equal(content(&fs, "etc/os-release"), "ID=debian\n");
		assert_string_equal(content(&fs, "var/lib/dpkg/status"), "Package: a\n");
		assert_string_equal(content(&fs, "var/lib/dpkg/status.d/base"), "Package: b\n");
		assert_string_equal(content(&fs, "lib/apk/db/installed"), "P:musl\n");
		assert_null(content(&fs, "etc/passwd"));
		assert_null(content(&fs, "var/lib/dpkg/status.d/sub/x"));
		/* noted, not read */
		assert_true(ecr__layer_fs_has(&fs, "var/lib/rpm/Packages"));
		assert_null(ecr__layer_fs_get(&fs, "var/lib/rpm/Packages"));
		assert_true(fs.entries == 10);
		ecr__layer_fs_dispose(&fs);
	}
}

static void test_scan_layers__upper_layers_override(void **state)
{
	ecr__layer_fs fs;
	th_tar *t;

	(void)state;
	assert_ok(ecr__layer_fs_init(&fs, NULL));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=one\n"), 0);
	assert_int_equal(th_tar_str(t, "usr/lib/os-release", "ID=lib\n"), 0);
	assert_ok(apply_tar(&fs, t));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=two\n"), 0);
	assert_ok(apply_tar(&fs, t));
	assert_string_equal(content(&fs, "etc/os-release"), "ID=two\n");
	/* the third layer makes it a symlink to the lib copy, as Debian does */
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_symlink(t, "etc/os-release", "../usr/lib/os-release"), 0);
	assert_ok(apply_tar(&fs, t));
	assert_string_equal(content(&fs, "etc/os-release"), "ID=lib\n");
	/* the same path twice in one layer: the later entry wins */
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=first\n"), 0);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=second\n"), 0);
	assert_ok(apply_tar(&fs, t));
	assert_string_equal(content(&fs, "etc/os-release"), "ID=second\n");
	/* a folder in place of the file hides it */
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_dir(t, "usr/lib/os-release"), 0);
	assert_ok(apply_tar(&fs, t));
	assert_null(content(&fs, "usr/lib/os-release"));
	assert_string_equal(content(&fs, "etc/os-release"), "ID=second\n");
	/* a hard link to a kept file */
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=hard\n"), 0);
	assert_int_equal(th_tar_hardlink(t, "usr/lib/os-release", "etc/os-release"), 0);
	assert_ok(apply_tar(&fs, t));
	assert_string_equal(content(&fs, "usr/lib/os-release"), "ID=hard\n");
	ecr__layer_fs_dispose(&fs);
}

static void test_scan_layers__whiteouts(void **state)
{
	ecr__layer_fs fs;
	th_tar *t;

	(void)state;
	assert_ok(ecr__layer_fs_init(&fs, NULL));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=debian\n"), 0);
	assert_int_equal(th_tar_str(t, "var/lib/dpkg/status", "Package: a\n"), 0);
	assert_int_equal(th_tar_str(t, "lib/apk/db/installed", "P:musl\n"), 0);
	assert_ok(apply_tar(&fs, t));
	assert_int_equal(fs.count, 3);

	/* .wh.status deletes the file of the lower layer */
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_file(t, "var/lib/dpkg/.wh.status", "", 0), 0);
	assert_ok(apply_tar(&fs, t));
	assert_null(content(&fs, "var/lib/dpkg/status"));
	assert_false(ecr__layer_fs_has(&fs, "var/lib/dpkg/status"));
	assert_string_equal(content(&fs, "etc/os-release"), "ID=debian\n");

	/* a whiteout of a folder deletes everything under it */
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_file(t, "lib/.wh.apk", "", 0), 0);
	assert_ok(apply_tar(&fs, t));
	assert_null(content(&fs, "lib/apk/db/installed"));

	/* ".wh." alone names nothing: it deletes nothing (not the whole root) */
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_file(t, ".wh.", "", 0), 0);
	assert_int_equal(th_tar_file(t, "etc/.wh.", "", 0), 0);
	assert_ok(apply_tar(&fs, t));
	assert_string_equal(content(&fs, "etc/os-release"), "ID=debian\n");

	/* a whiteout and a new file in the same layer: the new file stays, whatever the order */
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=alpine\n"), 0);
	assert_int_equal(th_tar_file(t, "etc/.wh.os-release", "", 0), 0);
	assert_ok(apply_tar(&fs, t));
	assert_string_equal(content(&fs, "etc/os-release"), "ID=alpine\n");
	assert_int_equal(fs.count, 1);
	ecr__layer_fs_dispose(&fs);
}

static void test_scan_layers__opaque_directory(void **state)
{
	ecr__layer_fs fs;
	th_tar *t;

	(void)state;
	assert_ok(ecr__layer_fs_init(&fs, NULL));
	t = th_tar_new(TH_TAR_ZSTD);
	assert_int_equal(th_tar_str(t, "var/lib/dpkg/status.d/a", "Package: a\n"), 0);
	assert_int_equal(th_tar_str(t, "var/lib/dpkg/status.d/b", "Package: b\n"), 0);
	assert_int_equal(th_tar_str(t, "var/lib/dpkg/status", "Package: s\n"), 0);
	assert_ok(apply_tar(&fs, t));
	t = th_tar_new(TH_TAR_ZSTD);
	/* the new file comes before the opaque marker: it must survive */
	assert_int_equal(th_tar_str(t, "var/lib/dpkg/status.d/c", "Package: c\n"), 0);
	assert_int_equal(th_tar_file(t, "var/lib/dpkg/status.d/.wh..wh..opq", "", 0), 0);
	assert_ok(apply_tar(&fs, t));
	assert_null(content(&fs, "var/lib/dpkg/status.d/a"));
	assert_null(content(&fs, "var/lib/dpkg/status.d/b"));
	assert_string_equal(content(&fs, "var/lib/dpkg/status.d/c"), "Package: c\n");
	/* outside the opaque folder: untouched */
	assert_string_equal(content(&fs, "var/lib/dpkg/status"), "Package: s\n");
	assert_int_equal(fs.count, 2);
	ecr__layer_fs_dispose(&fs);
}

static void test_scan_layers__symlink_loop_does_not_hang(void **state)
{
	ecr__layer_fs fs;
	th_tar *t;
	time_t t0 = time(NULL);

	(void)state;
	assert_ok(ecr__layer_fs_init(&fs, NULL));
	t = th_tar_new(TH_TAR_GZIP);
	assert_int_equal(th_tar_symlink(t, "etc/os-release", "../usr/lib/os-release"), 0);
	assert_int_equal(th_tar_symlink(t, "usr/lib/os-release", "/etc/os-release"), 0);
	assert_int_equal(th_tar_symlink(t, "var/lib/dpkg/status", "status"), 0);
	assert_int_equal(th_tar_symlink(t, "etc", "etc"), 0);
	assert_ok(apply_tar(&fs, t));
	assert_null(ecr__layer_fs_get(&fs, "etc/os-release"));
	assert_null(ecr__layer_fs_get(&fs, "usr/lib/os-release"));
	assert_null(ecr__layer_fs_get(&fs, "var/lib/dpkg/status"));
	assert_true(time(NULL) - t0 < 5);
	ecr__layer_fs_dispose(&fs);
}

static void test_scan_layers__dotdot_paths_rejected(void **state)
{
	static const char *const bad[] = {"../etc/passwd", "./var/../../x", "a/b/../../.."};
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		ecr__layer_fs fs;
		th_tar *t = th_tar_new(TH_TAR_GZIP);

		assert_ok(ecr__layer_fs_init(&fs, NULL));
		assert_int_equal(th_tar_str(t, "etc/os-release", "ID=x\n"), 0);
		assert_int_equal(th_tar_str(t, bad[i], "pwned\n"), 0);
		assert_int_equal(apply_tar(&fs, t), ECR_EINVALID);
		assert_non_null(strstr(ecr_error_last()->message, "'..'"));
		/* nothing of the failed layer is kept */
		assert_int_equal(fs.count, 0);
		assert_int_equal(fs.kept_bytes, 0);
		ecr__layer_fs_dispose(&fs);
	}
}

static void test_scan_layers__path_length_and_entry_caps(void **state)
{
	ecr_scan_options o = ECR_SCAN_OPTIONS_INIT;
	ecr__layer_fs fs;
	char longp[600];
	th_tar *t;
	int i;

	(void)state;
	o.max_path_length = 256;
	assert_ok(ecr__layer_fs_init(&fs, &o));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	t = th_tar_new(TH_TAR_NONE);
	assert_int_equal(th_tar_str(t, longp, "x"), 0);
	assert_int_equal(apply_tar(&fs, t), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "max_path_length"));
	ecr__layer_fs_dispose(&fs);

	o.max_path_length = 0;
	o.max_entries = 100;
	assert_ok(ecr__layer_fs_init(&fs, &o));
	t = th_tar_new(TH_TAR_GZIP);
	for (i = 0; i < 101; i++) {
		char p[32];

		snprintf(p, sizeof(p), "f%d", i);
		assert_int_equal(th_tar_str(t, p, "x"), 0);
	}
	assert_int_equal(apply_tar(&fs, t), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "max_entries"));
	ecr__layer_fs_dispose(&fs);
}

/* 1 GiB of zeros in 1 MiB files compresses to about 1 MB: stopped at max_total_bytes. */
static void test_scan_layers__gzip_bomb(void **state)
{
	ecr_scan_options o = ECR_SCAN_OPTIONS_INIT;
	ecr__layer_fs fs;
	unsigned char *data, zero = 0;
	size_t len;
	th_tar *t = th_tar_new(TH_TAR_GZIP);
	int i;

	(void)state;
	for (i = 0; i < 1024; i++) {
		char p[32];

		snprintf(p, sizeof(p), "zeros/%d", i);
		assert_int_equal(th_tar_file_pattern(t, p, 1 << 20, &zero, 1), 0);
	}
	assert_int_equal(th_tar_finish(t, &data, &len), 0);
	assert_true(len < 8u << 20);
	o.max_total_bytes = 64u << 20;
	assert_ok(ecr__layer_fs_init(&fs, &o));
	assert_int_equal(apply(&fs, data, len), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "max_total_bytes"));
	/* stopped near the cap, not after reading it all */
	assert_true(fs.total_bytes <= o.max_total_bytes);
	ecr__layer_fs_dispose(&fs);

	/* the caps count over all layers */
	o.max_total_bytes = (1u << 30) + (4u << 20);
	assert_ok(ecr__layer_fs_init(&fs, &o));
	assert_ok(apply(&fs, data, len));
	assert_true(fs.total_bytes >= 1u << 30);
	assert_int_equal(apply(&fs, data, len), ECR_ELIMIT);
	ecr__layer_fs_dispose(&fs);
	free(data);
}

/* Headers declaring absurd sizes (octal and base-256), followed by nothing. */
static void test_scan_layers__absurd_sizes(void **state)
{
	static const uint64_t sizes[] = {077777777776ULL, UINT64_C(1) << 40, UINT64_C(0x7fffffffffffffff)};
	/* libarchive itself refuses a size beyond int64 arithmetic ("Tar entry size overflow") */
	static const int want[] = {ECR_ELIMIT, ECR_ELIMIT, ECR_EINVALID};
	static const char *const said[] = {"var/lib/dpkg/status", "var/lib/dpkg/status", "size"};
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		ecr__layer_fs fs;
		unsigned char tar[512 * 4], *gz;
		size_t gzlen;

		memset(tar, 0, sizeof(tar));
		th_tar_raw_header(tar, "var/lib/dpkg/status", sizes[i]);
		memcpy(tar + 512, "Package: x\n", 11);
		assert_int_equal(th_gzip(&gz, &gzlen, tar, sizeof(tar)), 0);
		assert_ok(ecr__layer_fs_init(&fs, NULL));
		assert_int_equal(apply(&fs, gz, gzlen), want[i]);
		assert_non_null(strstr(ecr_error_last()->message, said[i]));
		assert_int_equal(fs.count, 0);
		ecr__layer_fs_dispose(&fs);
		free(gz);
	}
}

static void test_scan_layers__truncated_and_garbage(void **state)
{
	ecr__layer_fs fs;
	unsigned char *data, garbage[4096];
	size_t len, cut, i;
	th_tar *t = th_tar_new(TH_TAR_GZIP);
	uint64_t rng = 42;

	(void)state;
	assert_int_equal(th_tar_str(t, "etc/os-release", "ID=debian\n"), 0);
	assert_int_equal(th_tar_file_pattern(t, "var/lib/dpkg/status", 300000, "Package: abc\nVersion: 1\n\n", 26), 0);
	assert_int_equal(th_tar_file_pattern(t, "usr/share/big", 300000, "0123456789abcdef", 16), 0);
	assert_int_equal(th_tar_finish(t, &data, &len), 0);
	/* cut at many places: always EINVALID, never a partial success */
	for (cut = 1; cut < len; cut += len / 17 + 1) {
		assert_ok(ecr__layer_fs_init(&fs, NULL));
		assert_int_equal(apply(&fs, data, cut), ECR_EINVALID);
		assert_int_equal(fs.count, 0);
		ecr__layer_fs_dispose(&fs);
	}
	/* the whole layer, read in odd small chunks, is fine */
	{
		mem m = {data, len, 0, 777};

		assert_ok(ecr__layer_fs_init(&fs, NULL));
		assert_ok(ecr__layer_fs_apply(&fs, "sha256:x", mem_read, &m));
		assert_non_null(content(&fs, "var/lib/dpkg/status"));
		assert_int_equal(ecr__layer_fs_get(&fs, "var/lib/dpkg/status")->len, 300000);
		ecr__layer_fs_dispose(&fs);
	}
	/* garbage, and a gzip stream of garbage */
	for (i = 0; i < sizeof(garbage); i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		garbage[i] = (unsigned char)rng;
	}
	assert_ok(ecr__layer_fs_init(&fs, NULL));
	assert_int_equal(apply(&fs, garbage, sizeof(garbage)), ECR_EINVALID);
	assert_non_null(strstr(ecr_error_last()->message, "sha256:test"));
	ecr__layer_fs_dispose(&fs);
	free(data);
	assert_int_equal(th_gzip(&data, &len, garbage, sizeof(garbage)), 0);
	assert_ok(ecr__layer_fs_init(&fs, NULL));
	assert_int_equal(apply(&fs, data, len), ECR_EINVALID);
	ecr__layer_fs_dispose(&fs);
	free(data);
	/* a bzip2 stream is not among the filters */
	{
		static const unsigned char bz[] = "BZh91AY&SY";

		assert_ok(ecr__layer_fs_init(&fs, NULL));
		assert_int_equal(apply(&fs, bz, sizeof(bz)), ECR_EINVALID);
		ecr__layer_fs_dispose(&fs);
	}
}

/* A 100 MB dpkg status file is over max_file_size (64 MiB): a clear ELIMIT. */
static void test_scan_layers__huge_status_file(void **state)
{
	ecr__layer_fs fs;
	unsigned char *data;
	size_t len;
	th_tar *t = th_tar_new(TH_TAR_GZIP);
	static const char rec[] = "Package: p\nStatus: install ok installed\nVersion: 1.0\n\n";

	(void)state;
	assert_int_equal(th_tar_file_pattern(t, "var/lib/dpkg/status", 100u * 1000u * 1000u, rec, sizeof(rec) - 1), 0);
	assert_int_equal(th_tar_finish(t, &data, &len), 0);
	assert_ok(ecr__layer_fs_init(&fs, NULL));
	assert_int_equal(apply(&fs, data, len), ECR_ELIMIT);
	assert_non_null(strstr(ecr_error_last()->message, "max_file_size"));
	assert_non_null(strstr(ecr_error_last()->message, "/var/lib/dpkg/status"));
	assert_int_equal(fs.kept_bytes, 0);
	ecr__layer_fs_dispose(&fs);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_layers__normalize),
	    cmocka_unit_test(test_scan_layers__keeps_only_needed_files),
	    cmocka_unit_test(test_scan_layers__upper_layers_override),
	    cmocka_unit_test(test_scan_layers__whiteouts),
	    cmocka_unit_test(test_scan_layers__opaque_directory),
	    cmocka_unit_test(test_scan_layers__symlink_loop_does_not_hang),
	    cmocka_unit_test(test_scan_layers__dotdot_paths_rejected),
	    cmocka_unit_test(test_scan_layers__path_length_and_entry_caps),
	    cmocka_unit_test(test_scan_layers__gzip_bomb),
	    cmocka_unit_test(test_scan_layers__absurd_sizes),
	    cmocka_unit_test(test_scan_layers__truncated_and_garbage),
	    cmocka_unit_test(test_scan_layers__huge_status_file),
	};

	return cmocka_run_group_tests_name("scan/layers", tests, NULL, NULL);
}
