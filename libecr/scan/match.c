/* Matching installed packages against the OSV database: which advisories of
 * an ecosystem affect a package at its version (ECOSYSTEM ranges evaluated
 * with the package format's version order, and explicit versions lists), the
 * first fixed version above it, and the severity to report. */
#include "osv.h"

typedef struct match_ctx {
	ecr__pkg_format format;
	const char *version;
} match_ctx;

/* Events in range order: the introduced "0" sorts before every version. */
static bool is_zero(const osv_event *e)
{
	return e->kind == OSV_INTRODUCED && strcmp(e->version, "0") == 0;
}

static int event_cmp(const match_ctx *c, const osv_event *a, const osv_event *b)
{
	bool za = is_zero(a), zb = is_zero(b);
	if (za || zb)
		return za && zb ? 0 : za ? -1 : 1;
	return ecr__vercmp(c->format, a->version, b->version);
}

/*
 * Whether c->version lies in the range. Per the OSV schema the events are
 * applied in version order and the last one at or below the version decides;
 * that is the greatest event that "fires" (introduced and fixed at or below
 * the version, last_affected strictly below it; equal versions keep the
 * order of the list), so no sorting or allocation is needed. Also lowers
 * *fixed to the smallest fixed event above the version.
 */
static bool in_range(const match_ctx *c, const osv_range *r, const char **fixed)
{
	const osv_event *best = NULL;
	bool has_limit = false, below_limit = false;
	uint32_t i;

	for (i = 0; i < r->count; i++) {
		const osv_event *e = &r->events[i];
		bool fires;
		int d;

		if (e->kind == OSV_LIMIT) {
			has_limit = true;
			if (strcmp(e->version, "*") == 0 || ecr__vercmp(c->format, c->version, e->version) < 0)
				below_limit = true;
			continue;
		}
		if (is_zero(e)) {
			fires = true;
		} else {
			d = ecr__vercmp(c->format, c->version, e->version);
			fires = e->kind == OSV_LAST_AFFECTED ? d > 0 : d >= 0;
			if (e->kind == OSV_FIXED && d < 0 &&
			    (!*fixed || ecr__vercmp(c->format, e->version, *fixed) < 0))
				*fixed = e->version;
		}
		if (fires && (!best || event_cmp(c, e, best) >= 0))
			best = e;
	}
	if (has_limit && !below_limit)
		return false;
	return best && best->kind == OSV_INTRODUCED;
}

static bool in_versions(const match_ctx *c, const osv_affected *a)
{
	uint32_t i;
	for (i = 0; i < a->version_count; i++)
		if (strcmp(a->versions[i], c->version) == 0 || ecr__vercmp(c->format, a->versions[i], c->version) == 0)
			return true;
	return false;
}

static int report(const osv_affected *a, const char *fixed, ecr__match_cb cb, void *payload)
{
	const osv_severity *sev = &a->severity;
	ecr__match m;

	memset(&m, 0, sizeof(m));
	m.id = a->adv->name;
	m.uri = a->adv->uri;
	m.summary = a->adv->summary;
	m.fixed_version = fixed;
	if (sev->v3_vector) {
		m.cvss_version = 3;
		m.cvss_vector = sev->v3_vector;
		m.cvss_score = sev->v3_score;
		m.severity = ecr__severity_from_score(sev->v3_score, 3);
	} else if (sev->v2_vector) {
		m.cvss_version = 2;
		m.cvss_vector = sev->v2_vector;
		m.cvss_score = sev->v2_score;
		m.severity = ecr__severity_from_score(sev->v2_score, 2);
	} else {
		m.severity = sev->ecosystem;
	}
	return cb(&m, payload);
}

typedef struct seen_set {
	const osv_advisory **items;
	size_t count, cap;
} seen_set;

static bool seen_has(const seen_set *s, const osv_advisory *adv)
{
	size_t i;
	for (i = 0; i < s->count; i++)
		if (s->items[i] == adv)
			return true;
	return false;
}

static int seen_add(seen_set *s, const osv_advisory *adv)
{
	if (s->count == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16, bytes;
		const osv_advisory **n;
		if (ecr__mul_overflow(cap, sizeof(*n), &bytes) || !(n = ecr__realloc(s->items, bytes)))
			return ECR_ENOMEM;
		s->items = n;
		s->cap = cap;
	}
	s->items[s->count++] = adv;
	return 0;
}

/* Report every advisory filed under (ecosystem, name) that affects version.
 * seen (optional) holds advisories already reported, and receives these. */
static int match_name(const ecr_vulndb *db, const char *ecosystem, const char *name, const match_ctx *c, seen_set *seen,
                      ecr__match_cb cb, void *payload)
{
	const osv_affected *a = ecr__vulndb_lookup(db, ecosystem, name);
	int rc;

	/* the entries of one advisory are adjacent in the list (loaded together) */
	while (a) {
		const osv_advisory *adv = a->adv;
		const osv_affected *first = NULL;
		const char *fixed = NULL;

		for (; a && a->adv == adv; a = a->next) {
			const char *f = NULL;
			bool hit = false;
			uint32_t i;
			if (adv->superseded)
				continue;
			for (i = 0; i < a->range_count; i++)
				hit = in_range(c, &a->ranges[i], &f) || hit;
			if (!hit)
				hit = in_versions(c, a);
			if (f && (!fixed || ecr__vercmp(c->format, f, fixed) < 0))
				fixed = f;
			if (hit && !first)
				first = a;
		}
		if (!first || (seen && seen_has(seen, adv)))
			continue;
		if (seen && (rc = seen_add(seen, adv)) < 0)
			return rc;
		if ((rc = report(first, fixed, cb, payload)) != 0)
			return rc;
	}
	return 0;
}

int ecr__vulndb_match(const ecr_vulndb *db, const char *ecosystem, ecr__pkg_format format, const ecr__pkg *pkg,
                      ecr__match_cb cb, void *payload)
{
	match_ctx c;
	seen_set seen = {NULL, 0, 0};
	int rc = 0;

	if (!db || !ecosystem || !pkg || !pkg->name || !pkg->version || !cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid arguments to the vulnerability match");
	c.format = format;
	if (format != ECR__PKG_RPM) {
		/* Debian, Ubuntu and Alpine file advisories against source packages (apk: origin) */
		c.version = pkg->source_name && pkg->source_version ? pkg->source_version : pkg->version;
		return match_name(db, ecosystem, pkg->source_name ? pkg->source_name : pkg->name, &c, NULL, cb,
		                  payload);
	}
	/* rpm distributions name source or binary packages: try both, each advisory once */
	if (pkg->source_name) {
		c.version = pkg->source_version ? pkg->source_version : pkg->version;
		if ((rc = match_name(db, ecosystem, pkg->source_name, &c, &seen, cb, payload)) != 0)
			goto done;
	}
	if (!pkg->source_name || strcmp(pkg->source_name, pkg->name) != 0) {
		c.version = pkg->version;
		rc = match_name(db, ecosystem, pkg->name, &c, &seen, cb, payload);
	}
done:
	ecr__free(seen.items);
	return rc;
}
