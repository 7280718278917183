/* CVSS base scores: FIRST's published examples for v3.1 and v2, the rounding
 * edges of both versions, vectors that must be refused, and severity levels. */
#include "../helpers/helpers.h"

#include "../../libecr/scan/scan_internal.h"

typedef struct scored {
	const char *vector;
	double score;
} scored;

/* FIRST CVSS v3.1 Examples document (vulnerability, published base score). */
static const scored v31_examples[] = {
    {"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1}, /* CVE-2013-1937 phpMyAdmin XSS */
    {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4}, /* CVE-2013-0375 MySQL stored SQLi */
    {"CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1}, /* CVE-2014-3566 SSLv3 POODLE */
    {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9}, /* CVE-2012-1516 VMware guest to host */
    {"CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2}, /* CVE-2009-0783 Apache Tomcat XML parser */
    {"CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8}, /* CVE-2012-0384 Cisco IOS */
    {"CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8}, /* CVE-2015-1098 Apple iWork */
    {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5}, /* CVE-2014-0160 OpenSSL Heartbleed */
    {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8}, /* CVE-2014-6271 GNU Bash Shellshock */
    {"CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8}, /* CVE-2008-1447 DNS Kaminsky */
    {"CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8}, /* CVE-2014-2005 Sophos disk encryption */
    {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8}, /* CVE-2010-0467 Joomla directory traversal */
    {"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:L/A:N", 5.8}, /* CVE-2012-1342 Cisco ACL bypass */
    {"CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:H", 9.3}, /* CVE-2013-6014 Juniper proxy ARP */
};

/* FIRST CVSS v2 guide, section 3.3 examples, and common NVD vectors. */
static const scored v2_examples[] = {
    {"AV:N/AC:L/Au:N/C:N/I:N/A:C", 7.8},  /* CVE-2002-0392 Apache chunked encoding */
    {"AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0}, /* CVE-2003-0818 Microsoft ASN.1 */
    {"AV:L/AC:H/Au:N/C:C/I:C/A:C", 6.2},  /* CVE-2003-0062 NOD32 */
    {"AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5},  {"AV:N/AC:M/Au:N/C:N/I:P/A:N", 4.3},
    {"AV:L/AC:L/Au:N/C:P/I:N/A:N", 2.1},  {"AV:N/AC:L/Au:N/C:N/I:N/A:N", 0.0},
};

static void assert_score(double got, double want, const char *vector)
{
	if (got < want - 1e-9 || got > want + 1e-9)
		fail_msg("%s: got %.10g, want %.1f", vector, got, want);
}

static void test_scan_cvss__v31_first_examples(void **state)
{
	size_t i;
	(void)state;
	for (i = 0; i < sizeof(v31_examples) / sizeof(v31_examples[0]); i++) {
		double s = -1;
		assert_ok(ecr__cvss3_score(&s, v31_examples[i].vector));
		assert_score(s, v31_examples[i].score, v31_examples[i].vector);
	}
}

static void test_scan_cvss__v30_prefix_and_extra_metrics(void **state)
{
	double s = -1;
	(void)state;
	/* 3.0 vectors score with the same base equations */
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"));
	assert_score(s, 9.8, "3.0 shellshock");
	/* temporal and environmental metrics do not change the base score */
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/E:U/RL:O/RC:C/CR:H/MAV:L/MS:C"));
	assert_score(s, 7.5, "heartbleed with temporal metrics");
	/* metric order is free */
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.1/A:N/I:N/C:H/S:U/UI:N/PR:N/AC:L/AV:N"));
	assert_score(s, 7.5, "reordered");
	/* no impact: 0 whatever the exploitability */
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:N"));
	assert_score(s, 0.0, "no impact");
}

static void test_scan_cvss__v3_rounding_edges(void **state)
{
	double s = -1;
	(void)state;
	/* Exact values (rational arithmetic) just above a tenth: 5.500320195 and
	 * 6.000466706..., which Roundup must take up. */
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:H/I:L/A:L"));
	assert_score(s, 5.6, "5.500320195");
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:C/C:H/I:L/A:N"));
	assert_score(s, 6.1, "6.000466706");
	/* just below a tenth: 5.29999597 -> 5.3 */
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N"));
	assert_score(s, 5.3, "5.29999597");
	/* scope changed, all high: 1.08 x (impact + exploitability) is capped at 10 */
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"));
	assert_score(s, 10.0, "capped");
	/* the lowest non-zero score */
	assert_ok(ecr__cvss3_score(&s, "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"));
	assert_score(s, 1.6, "lowest");
}

static void test_scan_cvss__v2_examples(void **state)
{
	size_t i;
	double s = -1;
	(void)state;
	for (i = 0; i < sizeof(v2_examples) / sizeof(v2_examples[0]); i++) {
		assert_ok(ecr__cvss2_score(&s, v2_examples[i].vector));
		assert_score(s, v2_examples[i].score, v2_examples[i].vector);
	}
	/* round_to_1_decimal at the half: 7.1500819 -> 7.2, 6.2498134 -> 6.2 */
	assert_ok(ecr__cvss2_score(&s, "AV:L/AC:L/Au:N/C:C/I:C/A:C"));
	assert_score(s, 7.2, "7.15008");
	assert_ok(ecr__cvss2_score(&s, "AV:A/AC:H/Au:M/C:C/I:C/A:C"));
	assert_score(s, 6.2, "6.24981");
	/* NVD's parenthesised form and temporal metrics */
	assert_ok(ecr__cvss2_score(&s, "(AV:N/AC:L/Au:N/C:N/I:N/A:C)"));
	assert_score(s, 7.8, "parenthesised");
	assert_ok(ecr__cvss2_score(&s, "AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C"));
	assert_score(s, 7.8, "temporal");
}

static void test_scan_cvss__bad_vectors(void **state)
{
	static const char *const bad3[] = {
	    "",
	    "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",          /* no prefix */
	    "CVSS:2.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", /* wrong version */
	    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
	    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",          /* A missing */
	    "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",      /* bad value */
	    "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", /* repeated */
	    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",     /* empty metric */
	    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1", /* unknown metric */
	    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A",        /* no colon */
	    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:HH",     /* value too long */
	    "CVSS:3.1/av:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",      /* case matters */
	};
	static const char *const bad2[] = {
	    "",
	    "AV:N/AC:L/Au:N/C:N/I:N",
	    "AV:N/AC:L/Au:N/C:N/I:N/A:X",
	    "AV:N/AC:L/AU:N/C:N/I:N/A:C",
	    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
	    "AV:N/AC:L/Au:N/C:N/I:N/A:C/E:Q",
	    "(AV:N/AC:L/Au:N/C:N/I:N/A:C",
	    "AV:N//AC:L/Au:N/C:N/I:N/A:C",
	};
	char longv[700];
	size_t i;
	double s;
	(void)state;

	for (i = 0; i < sizeof(bad3) / sizeof(bad3[0]); i++) {
		if (ecr__cvss3_score(&s, bad3[i]) != ECR_EINVALID)
			fail_msg("v3 vector '%s' accepted", bad3[i]);
		assert_non_null(strstr(ecr_error_last()->message, "CVSS vector"));
	}
	for (i = 0; i < sizeof(bad2) / sizeof(bad2[0]); i++)
		if (ecr__cvss2_score(&s, bad2[i]) != ECR_EINVALID)
			fail_msg("v2 vector '%s' accepted", bad2[i]);
	memset(longv, 'A', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	assert_int_equal(ecr__cvss3_score(&s, longv), ECR_EINVALID);
	assert_int_equal(ecr__cvss2_score(&s, longv), ECR_EINVALID);
	assert_int_equal(ecr__cvss3_score(&s, NULL), ECR_EINVALID);
}

static void test_scan_cvss__severity_levels(void **state)
{
	(void)state;
	assert_int_equal(ecr__severity_from_score(0.0, 3), ECR_SEVERITY_INFORMATIONAL);
	assert_int_equal(ecr__severity_from_score(0.1, 3), ECR_SEVERITY_LOW);
	assert_int_equal(ecr__severity_from_score(3.9, 3), ECR_SEVERITY_LOW);
	assert_int_equal(ecr__severity_from_score(4.0, 3), ECR_SEVERITY_MEDIUM);
	assert_int_equal(ecr__severity_from_score(6.9, 3), ECR_SEVERITY_MEDIUM);
	assert_int_equal(ecr__severity_from_score(7.0, 3), ECR_SEVERITY_HIGH);
	assert_int_equal(ecr__severity_from_score(8.9, 3), ECR_SEVERITY_HIGH);
	assert_int_equal(ecr__severity_from_score(9.0, 3), ECR_SEVERITY_CRITICAL);
	assert_int_equal(ecr__severity_from_score(10.0, 3), ECR_SEVERITY_CRITICAL);
	assert_int_equal(ecr__severity_from_score(0.0, 2), ECR_SEVERITY_LOW);
	assert_int_equal(ecr__severity_from_score(3.9, 2), ECR_SEVERITY_LOW);
	assert_int_equal(ecr__severity_from_score(4.0, 2), ECR_SEVERITY_MEDIUM);
	assert_int_equal(ecr__severity_from_score(6.9, 2), ECR_SEVERITY_MEDIUM);
	assert_int_equal(ecr__severity_from_score(7.0, 2), ECR_SEVERITY_HIGH);
	assert_int_equal(ecr__severity_from_score(10.0, 2), ECR_SEVERITY_HIGH);
	assert_int_equal(ecr__severity_from_score(11.0, 3), ECR_SEVERITY_UNDEFINED);
	assert_int_equal(ecr__severity_from_score(-1.0, 2), ECR_SEVERITY_UNDEFINED);
	assert_int_equal(ecr__severity_from_score(5.0, 4), ECR_SEVERITY_UNDEFINED);
	assert_string_equal(ecr_severity_name(ECR_SEVERITY_CRITICAL), "CRITICAL");
	assert_string_equal(ecr_severity_name(ECR_SEVERITY_HIGH), "HIGH");
	assert_string_equal(ecr_severity_name(ECR_SEVERITY_MEDIUM), "MEDIUM");
	assert_string_equal(ecr_severity_name(ECR_SEVERITY_LOW), "LOW");
	assert_string_equal(ecr_severity_name(ECR_SEVERITY_INFORMATIONAL), "INFORMATIONAL");
	assert_string_equal(ecr_severity_name(ECR_SEVERITY_UNDEFINED), "UNDEFINED");
	assert_string_equal(ecr_severity_name((ecr_severity)42), "UNDEFINED");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_cvss__v31_first_examples),
	    cmocka_unit_test(test_scan_cvss__v30_prefix_and_extra_metrics),
	    cmocka_unit_test(test_scan_cvss__v3_rounding_edges),
	    cmocka_unit_test(test_scan_cvss__v2_examples),
	    cmocka_unit_test(test_scan_cvss__bad_vectors),
	    cmocka_unit_test(test_scan_cvss__severity_levels),
	};
	return cmocka_run_group_tests_name("scan/cvss", tests, NULL, NULL);
}
