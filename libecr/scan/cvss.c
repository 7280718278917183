/* CVSS base scores from vectors: version 3.x per FIRST's CVSS v3.1
 * specification (section 7, with its Roundup of appendix A) and version 2 per
 * FIRST's CVSS v2 guide (section 3.2.1); ECR's severity levels from scores. */
#include "scan_internal.h"

#define CVSS_VECTOR_MAX 512

/* One metric of a vector: its key and the values it may take. */
typedef struct cvss_metric {
	const char *key;
	const char *const *values; /* NULL-terminated */
	bool base;
} cvss_metric;

static const char *const v_nalp[] = {"N", "A", "L", "P", NULL};
static const char *const v_lh[] = {"L", "H", NULL};
static const char *const v_nlh[] = {"N", "L", "H", NULL};
static const char *const v_nr[] = {"N", "R", NULL};
static const char *const v_uc[] = {"U", "C", NULL};
static const char *const v_hln[] = {"H", "L", "N", NULL};
static const char *const v_e3[] = {"X", "U", "P", "F", "H", NULL};
static const char *const v_rl3[] = {"X", "O", "T", "W", "U", NULL};
static const char *const v_rc3[] = {"X", "U", "R", "C", NULL};
static const char *const v_xlmh[] = {"X", "L", "M", "H", NULL};
static const char *const v_xnalp[] = {"X", "N", "A", "L", "P", NULL};
static const char *const v_xlh[] = {"X", "L", "H", NULL};
static const char *const v_xnlh[] = {"X", "N", "L", "H", NULL};
static const char *const v_xnr[] = {"X", "N", "R", NULL};
static const char *const v_xuc[] = {"X", "U", "C", NULL};

/* Base metrics first, in the specification's order (their index is used below). */
static const cvss_metric v3_metrics[] = {
    {"AV", v_nalp, true},   {"AC", v_lh, true},    {"PR", v_nlh, true},     {"UI", v_nr, true},
    {"S", v_uc, true},      {"C", v_hln, true},    {"I", v_hln, true},      {"A", v_hln, true},
    {"E", v_e3, false},     {"RL", v_rl3, false},  {"RC", v_rc3, false},    {"CR", v_xlmh, false},
    {"IR", v_xlmh, false},  {"AR", v_xlmh, false}, {"MAV", v_xnalp, false}, {"MAC", v_xlh, false},
    {"MPR", v_xnlh, false}, {"MUI", v_xnr, false}, {"MS", v_xuc, false},    {"MC", v_xnlh, false},
    {"MI", v_xnlh, false},  {"MA", v_xnlh, false},
};

static const char *const v2_av[] = {"L", "A", "N", NULL};
static const char *const v2_ac[] = {"H", "M", "L", NULL};
static const char *const v2_au[] = {"M", "S", "N", NULL};
static const char *const v2_cia[] = {"N", "P", "C", NULL};
static const char *const v2_e[] = {"U", "POC", "F", "H", "ND", NULL};
static const char *const v2_rl[] = {"OF", "TF", "W", "U", "ND", NULL};
static const char *const v2_rc[] = {"UC", "UR", "C", "ND", NULL};
static const char *const v2_cdp[] = {"N", "L", "LM", "MH", "H", "ND", NULL};
static const char *const v2_td[] = {"N", "L", "M", "H", "ND", NULL};
static const char *const v2_req[] = {"L", "M", "H", "ND", NULL};

static const cvss_metric v2_metrics[] = {
    {"AV", v2_av, true},  {"AC", v2_ac, true},   {"Au", v2_au, true},   {"C", v2_cia, true},   {"I", v2_cia, true},
    {"A", v2_cia, true},  {"E", v2_e, false},    {"RL", v2_rl, false},  {"RC", v2_rc, false},  {"CDP", v2_cdp, false},
    {"TD", v2_td, false}, {"CR", v2_req, false}, {"IR", v2_req, false}, {"AR", v2_req, false},
};

#define MAX_METRICS 32

/*
 * Split "K:V/K:V/..." into metric values: out[i] is the index of the value
 * of metrics[i] in its list, or -1 when absent. Every key must be known and
 * appear once, every base metric must be present.
 */
static int parse_metrics(int *out, const char *vector, const char *s, const cvss_metric *metrics, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		out[i] = -1;
	for (;;) {
		const char *colon = strchr(s, ':'), *end = strchr(s, '/');
		size_t klen, vlen, m;
		int v;

		if (!end)
			end = s + strlen(s);
		if (!colon || colon > end)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			                 "invalid CVSS vector '%s': '%.*s' is not KEY:VALUE", vector, (int)(end - s),
			                 s);
		klen = (size_t)(colon - s);
		vlen = (size_t)(end - colon - 1);
		for (m = 0; m < count; m++)
			if (strlen(metrics[m].key) == klen && memcmp(metrics[m].key, s, klen) == 0)
				break;
		if (m == count)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			                 "invalid CVSS vector '%s': unknown metric '%.*s'", vector, (int)klen, s);
		if (out[m] >= 0)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			                 "invalid CVSS vector '%s': metric '%s' repeated", vector, metrics[m].key);
		for (v = 0; metrics[m].values[v]; v++)
			if (strlen(metrics[m].values[v]) == vlen && memcmp(metrics[m].values[v], colon + 1, vlen) == 0)
				break;
		if (!metrics[m].values[v])
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			                 "invalid CVSS vector '%s': invalid value '%.*s' for metric '%s'", vector,
			                 (int)vlen, colon + 1, metrics[m].key);
		out[m] = v;
		if (*end == '\0')
			break;
		s = end + 1;
	}
	for (i = 0; i < count; i++)
		if (metrics[i].base && out[i] < 0)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			                 "invalid CVSS vector '%s': base metric '%s' missing", vector, metrics[i].key);
	return 0;
}

/* CVSS v3.1 Roundup (appendix A): the smallest number with one decimal that is
 * >= x, computed on integers so that 4.000000000000001 gives 4.0. */
/* round(x * 100000) for 0 <= x <= 10 (no libm) */
static long long scale5(double x)
{
	return (long long)(x * 100000.0 + 0.5);
}

static double pow15(double x)
{
	double x2 = x * x, x4 = x2 * x2, x8 = x4 * x4;
	return x8 * x4 * x2 * x;
}

static double min10(double x)
{
	return x < 10.0 ? x : 10.0;
}

static double roundup(double x)
{
	long long int_input = scale5(x);
	if (int_input % 10000 == 0)
		return (double)int_input / 100000.0;
	return (double)(int_input / 10000 + 1) / 10.0;
}

int ecr__cvss3_score(double *out, const char *vector)
{
	/* weights in the order of the value lists above */
	static const double av_w[] = {0.85, 0.62, 0.55, 0.2}; /* N A L P */
	static const double ac_w[] = {0.77, 0.44};            /* L H */
	static const double pr_u[] = {0.85, 0.62, 0.27};      /* N L H, scope unchanged */
	static const double pr_c[] = {0.85, 0.68, 0.5};       /* N L H, scope changed */
	static const double ui_w[] = {0.85, 0.62};            /* N R */
	static const double cia_w[] = {0.56, 0.22, 0.0};      /* H L N */
	int m[MAX_METRICS];
	double iss, impact, exploitability;
	bool changed;
	int rc;

	if (!out || !vector)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid CVSS vector: NULL");
	if (strlen(vector) > CVSS_VECTOR_MAX)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid CVSS vector: longer than %d bytes",
		                 CVSS_VECTOR_MAX);
	if (strncmp(vector, "CVSS:3.0/", 9) != 0 && strncmp(vector, "CVSS:3.1/", 9) != 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
		                 "invalid CVSS vector '%s': a version 3 vector starts with CVSS:3.0/ or CVSS:3.1/",
		                 vector);
	if ((rc = parse_metrics(m, vector, vector + 9, v3_metrics, sizeof(v3_metrics) / sizeof(v3_metrics[0]))) < 0)
		return rc;

	changed = m[4] == 1;
	iss = 1.0 - (1.0 - cia_w[m[5]]) * (1.0 - cia_w[m[6]]) * (1.0 - cia_w[m[7]]);
	if (changed)
		impact = 7.52 * (iss - 0.029) - 3.25 * pow15(iss - 0.02);
	else
		impact = 6.42 * iss;
	exploitability = 8.22 * av_w[m[0]] * ac_w[m[1]] * (changed ? pr_c : pr_u)[m[2]] * ui_w[m[3]];
	if (impact <= 0)
		*out = 0.0;
	else if (changed)
		*out = roundup(min10(1.08 * (impact + exploitability)));
	else
		*out = roundup(min10(impact + exploitability));
	return 0;
}

int ecr__cvss2_score(double *out, const char *vector)
{
	static const double av_w[] = {0.395, 0.646, 1.0};  /* L A N */
	static const double ac_w[] = {0.35, 0.61, 0.71};   /* H M L */
	static const double au_w[] = {0.45, 0.56, 0.704};  /* M S N */
	static const double cia_w[] = {0.0, 0.275, 0.660}; /* N P C */
	char buf[CVSS_VECTOR_MAX + 1];
	const char *s = vector;
	size_t len;
	int m[MAX_METRICS];
	double impact, exploitability, score;
	long long scaled;
	int rc;

	if (!out || !vector)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid CVSS vector: NULL");
	len = strlen(vector);
	if (len > CVSS_VECTOR_MAX)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid CVSS vector: longer than %d bytes",
		                 CVSS_VECTOR_MAX);
	/* NVD sometimes writes "(AV:N/...)" and some feeds prefix "CVSS:2.0/" */
	if (len >= 2 && vector[0] == '(' && vector[len - 1] == ')') {
		memcpy(buf, vector + 1, len - 2);
		buf[len - 2] = '\0';
		s = buf;
	}
	if (strncmp(s, "CVSS:2.0/", 9) == 0)
		s += 9;
	if ((rc = parse_metrics(m, vector, s, v2_metrics, sizeof(v2_metrics) / sizeof(v2_metrics[0]))) < 0)
		return rc;

	impact = 10.41 * (1.0 - (1.0 - cia_w[m[3]]) * (1.0 - cia_w[m[4]]) * (1.0 - cia_w[m[5]]));
	exploitability = 20.0 * av_w[m[0]] * ac_w[m[1]] * au_w[m[2]];
	score = (0.6 * impact + 0.4 * exploitability - 1.5) * (impact == 0.0 ? 0.0 : 1.176);
	if (score < 0)
		score = 0;
	/* round_to_1_decimal, half up, on integers so that 4.35 is not taken for 4.3499999 */
	scaled = scale5(score);
	*out = (double)((scaled + 5000) / 10000) / 10.0;
	return 0;
}

ecr_severity ecr__severity_from_score(double score, int cvss_version)
{
	if (score != score || score < 0 || score > 10.0)
		return ECR_SEVERITY_UNDEFINED;
	if (cvss_version == 3) {
		if (score < 0.05)
			return ECR_SEVERITY_INFORMATIONAL;
		if (score < 3.95)
			return ECR_SEVERITY_LOW;
		if (score < 6.95)
			return ECR_SEVERITY_MEDIUM;
		if (score < 8.95)
			return ECR_SEVERITY_HIGH;
		return ECR_SEVERITY_CRITICAL;
	}
	if (cvss_version == 2) {
		if (score < 3.95)
			return ECR_SEVERITY_LOW;
		if (score < 6.95)
			return ECR_SEVERITY_MEDIUM;
		return ECR_SEVERITY_HIGH;
	}
	return ECR_SEVERITY_UNDEFINED;
}

const char *ecr_severity_name(ecr_severity severity)
{
	switch (severity) {
	case ECR_SEVERITY_INFORMATIONAL:
		return "INFORMATIONAL";
	case ECR_SEVERITY_LOW:
		return "LOW";
	case ECR_SEVERITY_MEDIUM:
		return "MEDIUM";
	case ECR_SEVERITY_HIGH:
		return "HIGH";
	case ECR_SEVERITY_CRITICAL:
		return "CRITICAL";
	case ECR_SEVERITY_UNDEFINED:
	default:
		return "UNDEFINED";
	}
}
