/* Version comparison: the edge cases of deb-version(7), apk-tools' version
 * rules and rpm's rpmvercmp test table, each checked in both directions, and
 * sorted chains checked pair by pair (a total order). */
#include <stdio.h>
#include <stdlib.h>

#include "../helpers/helpers.h"
#include "libecr/scan/scan_internal.h"

typedef struct vcase {
	const char *a, *b;
	int want; /* -1, 0, 1 */
} vcase;

static int sgn(int x)
{
	return (x > 0) - (x < 0);
}

static void check_table(int (*cmp)(const char *, const char *), const vcase *t, size_t n, const char *scheme)
{
	for (size_t i = 0; i < n; i++) {
		int ab = sgn(cmp(t[i].a, t[i].b)), ba = sgn(cmp(t[i].b, t[i].a));
		if (ab != t[i].want || ba != -t[i].want)
			fail_msg("%s: cmp(\"%s\", \"%s\") = %d, reverse %d, want %d", scheme, t[i].a, t[i].b, ab, ba,
			         t[i].want);
	}
}

/* Every earlier element is strictly older than every later one. */
static void check_chain(int (*cmp)(const char *, const char *), const char *const *v, size_t n, const char *scheme)
{
	for (size_t i = 0; i < n; i++) {
		if (cmp(v[i], v[i]) != 0)
			fail_msg("%s: \"%s\" is not equal to itself", scheme, v[i]);
		for (size_t j = i + 1; j < n; j++)
			if (sgn(cmp(v[i], v[j])) != -1 || sgn(cmp(v[j], v[i])) != 1)
				fail_msg("%s: expected \"%s\" < \"%s\"", scheme, v[i], v[j]);
	}
}

#define N(t) (sizeof(t) / sizeof((t)[0]))

static const vcase dpkg_cases[] = {
    {"1.0", "1.0", 0},
    {"1.0", "1.1", -1},
    {"1.0", "1.00", 0},
    {"1.9", "1.10", -1},
    {"010", "10", 0},
    {"1.0", "1.0.0", -1},
    {"1.0.1", "1.0", 1},
    /* the tilde sorts before anything, even the end of the part */
    {"1.0~rc1", "1.0", -1},
    {"1.0~rc1", "1.0~rc2", -1},
    {"1.0~~", "1.0~~a", -1},
    {"1.0~~a", "1.0~", -1},
    {"1.0~", "1.0", -1},
    {"1.0", "1.0a", -1},
    {"0.9~beta1", "0.9", -1},
    {"1.0~rc1-1", "1.0-1", -1},
    /* letters sort before non-letters */
    {"1.0a", "1.0+", -1},
    {"1.0a", "1.0.a", -1},
    {"1.0+dfsg", "1.0", 1},
    {"1.0+b1", "1.0", 1},
    {"1.0+git20200101", "1.0+git20210101", -1},
    {"1.0a", "1.0b", -1},
    {"1.0Z", "1.0a", -1},
    /* epochs */
    {"1:0.1", "2.0", 1},
    {"0:1.0", "1.0", 0},
    {"2:0", "1:99", 1},
    {"1:1.2-3", "1:1.2-3", 0},
    {"10:1", "9:2", 1},
    /* revisions: an absent one is "0" */
    {"1.0-1", "1.0-2", -1},
    {"1.0", "1.0-1", -1},
    {"1.0", "1.0-0", 0},
    {"1.0-1-1", "1.0-1-2", -1},
    {"1.0-1-1", "1.0-2", 1}, /* upstream "1.0-1" against "1.0" */
    {"2.36-9+deb12u3", "2.36-9+deb12u4", -1},
    {"2.36-9+deb12u10", "2.36-9+deb12u9", 1},
    {"2.36-9", "2.36-9+deb12u1", -1},
    {"1.2.3-1ubuntu1", "1.2.3-1", 1},
    {"1.2.3-1~bpo11+1", "1.2.3-1", -1},
    {"3.0.11-1~deb12u2", "3.0.11-1", -1},
    {"7.88.1-10+deb12u5", "7.88.1-10+deb12u6", -1},
    {"1.1.1n-0+deb11u5", "1.1.1w-0+deb11u1", -1},
    {"12.2.0-14", "12.2.0-13", 1},
    {"2.4.52-1ubuntu4.6", "2.4.52-1ubuntu4.10", -1},
    /* numbers of any length */
    {"99999999999999999999", "100000000000000000000", -1},
    {"1.18446744073709551617", "1.18446744073709551616", 1},
    {"", "", 0},
    {"", "0", 0},
    {"a", "b", -1},
};

static const char *const dpkg_chain[] = {
    "0.9~~",    "0.9~~a",     "0.9~",    "0.9",        "0.9a",  "0.9+",         "0.9.1",    "1.0~alpha",
    "1.0~beta", "1.0",        "1.0-0.1", "1.0-1~bpo1", "1.0-1", "1.0-1ubuntu1", "1.0-1+b1", "1.0-2",
    "1.0a",     "1.0+dfsg-1", "1.1",     "1.10",       "2",     "1:0.1",
};

static void test_scan_vercmp__dpkg(void **state)
{
	(void)state;
	check_table(ecr__vercmp_dpkg, dpkg_cases, N(dpkg_cases), "dpkg");
	check_chain(ecr__vercmp_dpkg, dpkg_chain, N(dpkg_chain), "dpkg");
	assert_int_equal(ecr__vercmp(ECR__PKG_DPKG, "1.0~rc1", "1.0"), ecr__vercmp_dpkg("1.0~rc1", "1.0"));
}

static const vcase apk_cases[] = {
    {"1.0", "1.0", 0},
    {"1.0", "1.1", -1},
    {"1.9", "1.10", -1},
    {"2.0", "1.99999", 1},
    {"1.0", "1.0.1", -1},
    {"1.2", "1.2.0", -1},
    /* suffixes: pre-release ones before the release, post-release ones after */
    {"1.0_alpha", "1.0_beta", -1},
    {"1.0_beta", "1.0_pre", -1},
    {"1.0_pre", "1.0_rc", -1},
    {"1.0_rc", "1.0", -1},
    {"1.0", "1.0_cvs", -1},
    {"1.0_cvs", "1.0_svn", -1},
    {"1.0_svn", "1.0_git", -1},
    {"1.0_git", "1.0_hg", -1},
    {"1.0_hg", "1.0_p", -1},
    {"1.0_alpha1", "1.0_alpha2", -1},
    {"1.0_rc9", "1.0_rc10", -1},
    {"1.0_rc", "1.0_rc1", -1},
    {"1.0_p1", "1.0_p2", -1},
    {"1.0_alpha", "1.0-r0", -1},
    {"1.0_rc1-r3", "1.0-r0", -1},
    {"1.0_rc1", "1.0_rc1-r1", -1},
    /* letters */
    {"1.0a", "1.0b", -1},
    {"1.0a", "1.0", 1},
    {"1.0a", "1.0.1", -1},
    {"1.0z", "1.1", -1},
    {"1.0a_p1", "1.0a", 1},
    /* revisions */
    {"1.0-r0", "1.0", 1},
    {"1.0-r1", "1.0-r2", -1},
    {"1.0-r9", "1.0-r10", -1},
    {"1.0-r5", "1.0_p1", -1},
    {"1.0_p1-r1", "1.0_p1-r0", 1},
    {"1.0_p1", "1.0.1", -1},
    {"1.2.3_git20230101-r0", "1.2.3-r0", 1},
    {"3.0.11-r0", "3.0.12-r0", -1},
    {"3.1.4-r5", "3.1.4-r6", -1},
    {"1.36.1-r15", "1.36.1-r2", 1},
    {"2.38-r5", "2.38.1-r0", -1},
    /* a component with a leading zero compares as a decimal fraction */
    {"1.01", "1.1", -1},
    {"1.001", "1.01", -1},
    {"1.010", "1.01", 0},
    {"1.1.01", "1.1.1", -1},
    /* numbers of any length */
    {"1.18446744073709551617", "1.18446744073709551616", 1},
    {"20240101", "20231231", 1},
    /* from apk-tools' test/unit/version.data */
    {"0.1.0_alpha_pre2", "0.1.0_alpha", -1},
    {"1.0.0_pre20191002222144-r0", "1.0.0_pre20210530193627-r0", -1},
    {"1.2.07.8", "1.2.12.04", -1},
    {"4.01", "4.20", -1},
    {"1.06-r6", "006", -1},
    {"021109-r3", "20060512", -1},
    {"2.12r-r4", "2.12r-r5", -1},
    {"0.9.28.1", "087-r1", -1},
    {"2.5.1-r8", "2.5.1a-r1", -1},
    {"1.7", "1.7b", -1},
    {"1.8.5", "1.8.5_p2", -1},
    {"4.5_p1-r1", "4.5_p1", 1},
    {"0.10.0", "0.10.1_rc1", -1},
    {"2.01.01_alpha10", "0.94", 1},
    {"23_foo", "4_beta", 1},
    {"1.0", "1.0bc", -1},
    {"1.0~1234", "1.0~2345", -1},
    {"1.0~1234-r1", "1.0~1234-r0", 1},
    /* unparseable versions sort before parseable ones, and among themselves by bytes */
    {"abc", "1.0", -1},
    {"abc", "abd", -1},
    {"abc", "abc", 0},
    {"", "", 0},
};

static const char *const apk_chain[] = {
    "0.9",
    "0.9.1",
    "1.0_alpha",
    "1.0_alpha1",
    "1.0_alpha2",
    "1.0_beta",
    "1.0_beta1-r1",
    "1.0_pre",
    "1.0_rc",
    "1.0_rc1",
    "1.0",
    "1.0-r0",
    "1.0-r1",
    "1.0-r10",
    "1.0_cvs",
    "1.0_svn",
    "1.0_git20200101",
    "1.0_hg",
    "1.0_p1",
    "1.0_p2",
    "1.0a",
    "1.0b",
    "1.0.1",
    "1.1",
    "1.10",
    "2",
};

static void test_scan_vercmp__apk(void **state)
{
	(void)state;
	check_table(ecr__vercmp_apk, apk_cases, N(apk_cases), "apk");
	check_chain(ecr__vercmp_apk, apk_chain, N(apk_chain), "apk");
	assert_int_equal(sgn(ecr__vercmp(ECR__PKG_APK, "1.0_rc1", "1.0")), -1);
}

/* rpm's own rpmvercmp table (tests/rpmvercmp.at), plus epoch-version-release cases. */
static const vcase rpm_cases[] = {
    {"1.0", "1.0", 0},
    {"1.0", "2.0", -1},
    {"2.0.1", "2.0.1", 0},
    {"2.0", "2.0.1", -1},
    {"2.0.1a", "2.0.1a", 0},
    {"2.0.1a", "2.0.1", 1},
    {"5.5p1", "5.5p1", 0},
    {"5.5p1", "5.5p2", -1},
    {"5.5p10", "5.5p10", 0},
    {"5.5p1", "5.5p10", -1},
    {"10xyz", "10.1xyz", -1},
    {"xyz10", "xyz10", 0},
    {"xyz10", "xyz10.1", -1},
    {"xyz.4", "xyz.4", 0},
    {"xyz.4", "8", -1},
    {"xyz.4", "2", -1},
    {"5.5p2", "5.6p1", -1},
    {"5.6p1", "6.5p1", -1},
    {"6.0.rc1", "6.0", 1},
    {"10b2", "10a1", 1},
    {"10a2", "10b2", -1},
    {"1.0aa", "1.0aa", 0},
    {"1.0a", "1.0aa", -1},
    {"10.0001", "10.0001", 0},
    {"10.0001", "10.1", 0},
    {"10.0001", "10.0039", -1},
    {"4.999.9", "5.0", -1},
    {"20101121", "20101121", 0},
    {"20101121", "20101122", -1},
    {"2_0", "2_0", 0},
    {"2.0", "2_0", 0},
    {"a", "a", 0},
    {"a+", "a+", 0},
    {"a+", "a_", 0},
    {"+a", "+a", 0},
    {"+a", "_a", 0},
    {"+_", "+_", 0},
    {"_+", "+_", 0},
    {"_+", "_", 0},
    {"+", "_", 0},
    {"1.0~rc1", "1.0~rc1", 0},
    {"1.0~rc1", "1.0", -1},
    {"1.0~rc1", "1.0~rc2", -1},
    {"1.0~rc1~git123", "1.0~rc1~git123", 0},
    {"1.0~rc1~git123", "1.0~rc1", -1},
    {"1.0^", "1.0^", 0},
    {"1.0^", "1.0", 1},
    {"1.0^git1", "1.0^git1", 0},
    {"1.0^git1", "1.0", 1},
    {"1.0^git1", "1.0^git2", -1},
    {"1.0^git1", "1.01", -1},
    {"1.0^20160101", "1.0^20160101", 0},
    {"1.0^20160101", "1.0.1", -1},
    {"1.0^20160101^git1", "1.0^20160101^git1", 0},
    {"1.0^20160102", "1.0^20160101^git1", 1},
    {"1.0~rc1^git1", "1.0~rc1^git1", 0},
    {"1.0~rc1^git1", "1.0~rc1", 1},
    {"1.0^git1~pre", "1.0^git1~pre", 0},
    {"1.0^git1", "1.0^git1~pre", 1},
    /* epoch:version-release */
    {"1:1.0-1", "2.0-1", 1},
    {"0:1.0-1", "1.0-1", 0},
    {"1.0-1", "1.0-2", -1},
    {"1.0-1.el9", "1.0-1.el9_1", -1},
    {"3.0.7-25.el9_3", "3.0.7-27.el9", -1},
    {"2:8.2.2637-20.el9_1", "2:8.2.2637-21.el9", -1},
    {"1:3.0.7-24.el9", "3.0.7-25.el9", 1},
    {"1.0", "1.0-5", -1}, /* an absent release is older than any */
    {"1.0-", "1.0", 0},
    {"1.0", "1.1-1", -1},
    {"1.2.3-4.fc39", "1.2.3-4.fc40", -1},
    {"99999999999999999999-1", "100000000000000000000-1", -1},
};

static const char *const rpm_chain[] = {
    "1.0~alpha-1", "1.0~rc1-1", "1.0-1", "1.0-1.el9", "1.0-1.el9_1", "1.0-2",   "1.0^git1-1",
    "1.0a-1",      "1.0.1-1",   "1.1-1", "1.10-1",    "0:2.0-1",     "1:0.1-1", "2:0.0.1-1",
};

static void test_scan_vercmp__rpm(void **state)
{
	(void)state;
	check_table(ecr__vercmp_rpm, rpm_cases, N(rpm_cases), "rpm");
	check_chain(ecr__vercmp_rpm, rpm_chain, N(rpm_chain), "rpm");
	assert_int_equal(sgn(ecr__vercmp(ECR__PKG_RPM, "1:1.0", "2.0")), 1);
}

/* Random strings over each scheme's alphabet: antisymmetric, reflexive, and
 * transitive over sorted triples; never crashes. */
static void random_order(int (*cmp)(const char *, const char *), const char *alphabet, const char *scheme)
{
	enum { COUNT = 300, LEN = 8 };
	char v[COUNT][LEN + 1];
	size_t al = strlen(alphabet);
	unsigned int seed = 12345;
	for (int i = 0; i < COUNT; i++) {
		int n = (int)((seed = seed * 1103515245u + 12345u) >> 16) % (LEN + 1);
		for (int k = 0; k < n; k++)
			v[i][k] = alphabet[((seed = seed * 1103515245u + 12345u) >> 16) % al];
		v[i][n] = '\0';
	}
	for (int i = 0; i < COUNT; i++) {
		assert_int_equal(cmp(v[i], v[i]), 0);
		for (int j = 0; j < COUNT; j++) {
			int ij = sgn(cmp(v[i], v[j]));
			if (ij != -sgn(cmp(v[j], v[i])))
				fail_msg("%s: not antisymmetric on \"%s\", \"%s\"", scheme, v[i], v[j]);
			if (ij > 0)
				continue;
			for (int k = 0; k < COUNT; k += 7) {
				int jk = sgn(cmp(v[j], v[k]));
				if (jk <= 0 && sgn(cmp(v[i], v[k])) > 0)
					fail_msg("%s: not transitive: \"%s\" <= \"%s\" <= \"%s\"", scheme, v[i], v[j],
					         v[k]);
			}
		}
	}
}

static void test_scan_vercmp__total_order(void **state)
{
	(void)state;
	random_order(ecr__vercmp_dpkg, "0129a.~+-:", "dpkg");
	random_order(ecr__vercmp_rpm, "0129a.~^-:_", "rpm");
	random_order(ecr__vercmp_apk, "019ab._-rp", "apk");
}

/* Random valid versions compared by the real tools when they are installed
 * (dpkg --compare-versions; rpm's Lua rpm.vercmp), and by us. */
static char *random_version(unsigned int *seed, const char *chars, const char *rel_chars)
{
	static char out[64];
	size_t o = 0, cl = strlen(chars), rl = strlen(rel_chars);
#define RND() ((*seed = *seed * 1103515245u + 12345u) >> 16)
	if (RND() % 5 == 0)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%u:", RND() % 3);
	o += (size_t)snprintf(out + o, sizeof(out) - o, "%u", RND() % 12);
	for (unsigned int n = RND() % 7; n > 0; n--)
		out[o++] = chars[RND() % cl];
	if (RND() % 2) {
		out[o++] = '-';
		for (unsigned int n = 1 + RND() % 4; n > 0; n--)
			out[o++] = rel_chars[RND() % rl];
	}
	out[o] = '\0';
#undef RND
	return out;
}

static void against_tool(const char *script, int (*cmp)(const char *, const char *), const char *chars,
                         const char *rel_chars, int count)
{
	char *dir = th_tmpdir(), in_path[4096], out_path[4096], cmd[12288];
	unsigned int seed = 4242;
	snprintf(in_path, sizeof(in_path), "%s/pairs", dir);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	FILE *f = fopen(in_path, "w");
	assert_non_null(f);
	char(*pairs)[2][64] = calloc((size_t)count, sizeof(*pairs));
	assert_non_null(pairs);
	for (int i = 0; i < count; i++) {
		snprintf(pairs[i][0], 64, "%s", random_version(&seed, chars, rel_chars));
		snprintf(pairs[i][1], 64, "%s", i % 4 == 0 ? pairs[i][0] : random_version(&seed, chars, rel_chars));
		fprintf(f, "%s %s\n", pairs[i][0], pairs[i][1]);
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd), script, in_path, out_path);
	assert_int_equal(system(cmd), 0);
	f = fopen(out_path, "r");
	assert_non_null(f);
	for (int i = 0; i < count; i++) {
		int want;
		if (fscanf(f, "%d", &want) != 1)
			fail_msg("the tool gave %d answers of %d", i, count);
		int got = sgn(cmp(pairs[i][0], pairs[i][1]));
		if (got != want)
			fail_msg("\"%s\" vs \"%s\": the tool says %d, we say %d", pairs[i][0], pairs[i][1], want, got);
	}
	fclose(f);
	free(pairs);
	th_rmtree(dir);
}

static void test_scan_vercmp__against_dpkg(void **state)
{
	(void)state;
	if (system("command -v dpkg >/dev/null 2>&1") != 0) {
		print_message("dpkg not installed: skipped\n");
		skip();
	}
	against_tool("while read a b; do if dpkg --compare-versions \"$a\" lt \"$b\"; then echo -1; "
	             "elif dpkg --compare-versions \"$a\" eq \"$b\"; then echo 0; else echo 1; fi; done <%s >%s",
	             ecr__vercmp_dpkg, "0129aZz.~+", "019a.~+", 400);
}

static void test_scan_vercmp__against_rpm(void **state)
{
	(void)state;
	if (system("command -v rpm >/dev/null 2>&1") != 0) {
		print_message("rpm not installed: skipped\n");
		skip();
	}
	against_tool("rpm --eval '%%{lua: for l in io.lines(\"%s\") do local a, b = l:match(\"(%%S+) (%%S+)\"); "
	             "print(rpm.vercmp(a, b) .. \" \") end}' >%s",
	             ecr__vercmp_rpm, "0129aZz.~^_+", "019a.~^_", 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_vercmp__dpkg),
	    cmocka_unit_test(test_scan_vercmp__apk),
	    cmocka_unit_test(test_scan_vercmp__rpm),
	    cmocka_unit_test(test_scan_vercmp__total_order),
	    cmocka_unit_test(test_scan_vercmp__against_dpkg),
	    cmocka_unit_test(test_scan_vercmp__against_rpm),
	};
	return cmocka_run_group_tests_name("scan/vercmp", tests, NULL, NULL);
}
