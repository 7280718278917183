/* os-release parsing (real files of Debian, Ubuntu, Alpine, RHEL, Rocky and
 * others; quoting and escapes) and the OSV ecosystem of each system. */
#include <stdlib.h>

#include "../helpers/helpers.h"
#include "libecr/scan/scan_internal.h"

static const char debian12[] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
                               "NAME=\"Debian GNU/Linux\"\n"
                               "VERSION_ID=\"12\"\n"
                               "VERSION=\"12 (bookworm)\"\n"
                               "VERSION_CODENAME=bookworm\n"
                               "ID=debian\n"
                               "HOME_URL=\"https://www.debian.org/\"\n"
                               "SUPPORT_URL=\"https://www.debian.org/support\"\n"
                               "BUG_REPORT_URL=\"https://bugs.debian.org/\"\n";

static const char ubuntu2204[] = "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n"
                                 "NAME=\"Ubuntu\"\n"
                                 "VERSION_ID=\"22.04\"\n"
                                 "VERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\n"
                                 "VERSION_CODENAME=jammy\n"
                                 "ID=ubuntu\n"
                                 "ID_LIKE=debian\n"
                                 "UBUNTU_CODENAME=jammy\n";

static const char alpine319[] = "NAME=\"Alpine Linux\"\n"
                                "ID=alpine\n"
                                "VERSION_ID=3.19.1\n"
                                "PRETTY_NAME=\"Alpine Linux v3.19\"\n"
                                "HOME_URL=\"https://alpinelinux.org/\"\n";

static const char rhel9[] = "NAME=\"Red Hat Enterprise Linux\"\n"
                            "VERSION=\"9.3 (Plow)\"\n"
                            "ID=\"rhel\"\n"
                            "ID_LIKE=\"fedora\"\n"
                            "VERSION_ID=\"9.3\"\n"
                            "PLATFORM_ID=\"platform:el9\"\n"
                            "PRETTY_NAME=\"Red Hat Enterprise Linux 9.3 (Plow)\"\n"
                            "ANSI_COLOR=\"0;31\"\n";

static void parse(ecr__os *os, const char *text)
{
	assert_ok(ecr__osrelease_parse(os, text, strlen(text)));
}

static void test_scan_osrelease__real_files(void **state)
{
	ecr__os os;
	(void)state;

	parse(&os, debian12);
	assert_string_equal(os.id, "debian");
	assert_string_equal(os.version_id, "12");
	assert_string_equal(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
	ecr__os_dispose(&os);

	parse(&os, ubuntu2204);
	assert_string_equal(os.id, "ubuntu");
	assert_string_equal(os.version_id, "22.04");
	assert_string_equal(os.pretty_name, "Ubuntu 22.04.4 LTS");
	ecr__os_dispose(&os);

	parse(&os, alpine319);
	assert_string_equal(os.id, "alpine");
	assert_string_equal(os.version_id, "3.19.1");
	ecr__os_dispose(&os);

	parse(&os, rhel9);
	assert_string_equal(os.id, "rhel");
	assert_string_equal(os.version_id, "9.3");
	assert_string_equal(os.pretty_name, "Red Hat Enterprise Linux 9.3 (Plow)");
	ecr__os_dispose(&os);
}

static void test_scan_osrelease__syntax(void **state)
{
	ecr__os os;
	(void)state;

	/* escapes inside double quotes, literal single quotes, comments, CRLF, blanks, last value wins */
	parse(&os, "# comment\r\n\r\n  ID=Debian\r\nPRETTY_NAME=\"A \\\"quoted\\\" \\$name \\\\ x\"\r\n"
	           "VERSION_ID='1\\2'\r\nVERSION_ID=\"13\"  \r\nNOT A LINE\n=x\n");
	assert_string_equal(os.id, "debian"); /* lowercased */
	assert_string_equal(os.version_id, "13");
	assert_string_equal(os.pretty_name, "A \"quoted\" $name \\ x");
	ecr__os_dispose(&os);

	parse(&os, "VERSION_ID='1\\2'\n");
	assert_string_equal(os.version_id, "1\\2");
	assert_string_equal(os.id, "linux"); /* os-release(5)'s default */
	assert_null(os.pretty_name);
	ecr__os_dispose(&os);

	/* an unterminated quote keeps what was read; an empty VERSION_ID is none */
	parse(&os, "ID=\"fedora\nVERSION_ID=\n");
	assert_string_equal(os.id, "fedora");
	assert_null(os.version_id);
	ecr__os_dispose(&os);

	/* no final newline, a NUL byte in a line (ignored) */
	static const char withnul[] = "ID=al\0pine\nID=alpine\nVERSION_ID=3.18.4";
	assert_ok(ecr__osrelease_parse(&os, withnul, sizeof(withnul) - 1));
	assert_string_equal(os.id, "alpine");
	assert_string_equal(os.version_id, "3.18.4");
	ecr__os_dispose(&os);

	parse(&os, "");
	assert_string_equal(os.id, "linux");
	ecr__os_dispose(&os);
	ecr__os_dispose(NULL);
}

typedef struct eco_case {
	const char *id, *version_id;
	const char *want; /* NULL: ECR_ENOTFOUND */
	ecr__pkg_format format;
} eco_case;

static void test_scan_osrelease__ecosystem(void **state)
{
	static const eco_case cases[] = {
	    {"debian", "12", "Debian:12", ECR__PKG_DPKG},
	    {"debian", "11", "Debian:11", ECR__PKG_DPKG},
	    {"debian", "10.13", "Debian:10", ECR__PKG_DPKG},
	    {"debian", NULL, NULL, 0}, /* sid has no VERSION_ID */
	    {"ubuntu", "22.04", "Ubuntu:22.04:LTS", ECR__PKG_DPKG},
	    {"ubuntu", "24.04", "Ubuntu:24.04:LTS", ECR__PKG_DPKG},
	    {"ubuntu", "20.04", "Ubuntu:20.04:LTS", ECR__PKG_DPKG},
	    {"ubuntu", "23.10", "Ubuntu:23.10", ECR__PKG_DPKG},
	    {"ubuntu", "23.04", "Ubuntu:23.04", ECR__PKG_DPKG},
	    {"ubuntu", "14.04", "Ubuntu:14.04:LTS", ECR__PKG_DPKG},
	    {"ubuntu", "22", NULL, 0},
	    {"alpine", "3.19.1", "Alpine:v3.19", ECR__PKG_APK},
	    {"alpine", "3.20.0_alpha20240329", "Alpine:v3.20", ECR__PKG_APK},
	    {"alpine", "3", NULL, 0},
	    {"wolfi", "20230201", "Wolfi", ECR__PKG_APK},
	    {"rhel", "9.3", "Red Hat", ECR__PKG_RPM},
	    {"rocky", "9.3", "Rocky Linux:9", ECR__PKG_RPM},
	    {"almalinux", "8.9", "AlmaLinux:8", ECR__PKG_RPM},
	    {"opensuse-leap", "15.5", "openSUSE:Leap 15.5", ECR__PKG_RPM},
	    {"sles", "15.5", "SUSE:Linux Enterprise Server 15 SP5", ECR__PKG_RPM},
	    {"sles", "15", "SUSE:Linux Enterprise Server 15", ECR__PKG_RPM},
	    {"fedora", "39", NULL, 0},
	    {"centos", "7", NULL, 0},
	    {"amzn", "2023", NULL, 0},
	    {"linux", NULL, NULL, 0},
	    {"arch", NULL, NULL, 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ecr__os os = {(char *)cases[i].id, (char *)cases[i].version_id, NULL};
		ecr__pkg_format fmt = 0;
		char *eco = NULL;
		int rc = ecr__os_ecosystem(&eco, &fmt, &os);
		if (!cases[i].want) {
			if (rc != ECR_ENOTFOUND || eco)
				fail_msg("%s %s: rc %d, want ECR_ENOTFOUND", cases[i].id, cases[i].version_id, rc);
			continue;
		}
		if (rc != 0)
			fail_msg("%s %s: rc %d: %s", cases[i].id, cases[i].version_id, rc, ecr_error_last()->message);
		assert_string_equal(eco, cases[i].want);
		assert_int_equal(fmt, cases[i].format);
		ecr__free(eco);
	}
}

/* From a file to an ecosystem, end to end. */
static void test_scan_osrelease__file_to_ecosystem(void **state)
{
	const char *files[] = {debian12, ubuntu2204, alpine319, rhel9};
	const char *want[] = {"Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.19", "Red Hat"};
	(void)state;
	for (size_t i = 0; i < 4; i++) {
		ecr__os os;
		char *eco = NULL;
		parse(&os, files[i]);
		assert_ok(ecr__os_ecosystem(&eco, NULL, &os));
		assert_string_equal(eco, want[i]);
		ecr__free(eco);
		ecr__os_dispose(&os);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_osrelease__real_files),
	    cmocka_unit_test(test_scan_osrelease__syntax),
	    cmocka_unit_test(test_scan_osrelease__ecosystem),
	    cmocka_unit_test(test_scan_osrelease__file_to_ecosystem),
	};
	return cmocka_run_group_tests_name("scan/osrelease", tests, NULL, NULL);
}
