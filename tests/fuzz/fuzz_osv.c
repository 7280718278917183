/* libFuzzer target: one OSV advisory (JSON) loaded as a database; when it
 * loads, every package it names is matched, in each package format, at
 * versions taken from its own range events and a few fixed ones. A finding
 * must carry an id and a valid severity, and its fixed version must be above
 * the installed one. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libecr/core/json.h"
#include "libecr/scan/scan_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct check {
	ecr__pkg_format format;
	const char *version;
	size_t count;
} check;

static int check_cb(const ecr__match *m, void *payload)
{
	check *c = payload;
	if (!m->id || !*m->id || m->severity < ECR_SEVERITY_UNDEFINED || m->severity > ECR_SEVERITY_CRITICAL)
		__builtin_trap();
	if ((m->cvss_version != 0) != (m->cvss_vector != NULL) || m->cvss_score < 0 || m->cvss_score > 10)
		__builtin_trap();
	if (m->fixed_version && ecr__vercmp(c->format, m->fixed_version, c->version) <= 0)
		__builtin_trap();
	c->count++;
	return 0;
}

static void match_one(const ecr_vulndb *db, const char *eco, const char *name, const char *version)
{
	static const ecr__pkg_format formats[] = {ECR__PKG_DPKG, ECR__PKG_APK, ECR__PKG_RPM};
	ecr__pkg pkg = {(char *)name, (char *)version, NULL, NULL, NULL};
	size_t f;

	for (f = 0; f < 3; f++) {
		check c = {formats[f], version, 0};
		if (ecr__vulndb_match(db, eco, formats[f], &pkg, check_cb, &c) != 0)
			__builtin_trap();
		/* matched as the source of another binary package: the same findings */
		if (formats[f] != ECR__PKG_RPM) {
			ecr__pkg bin = {(char *)"fuzz-binary", (char *)version, (char *)name, NULL, NULL};
			check c2 = {formats[f], version, 0};
			if (ecr__vulndb_match(db, eco, formats[f], &bin, check_cb, &c2) != 0 || c2.count != c.count)
				__builtin_trap();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed_versions[] = {"0", "1.0", "1:2.3-4", "2.0-r1", "~", ""};
	ecr_vulndb *db = NULL;
	ecr__json *root = NULL;
	const ecr__json *affected;
	size_t i, j, k, v;

	if (ecr__vulndb_load_json(&db, data, size, "fuzz") != 0) {
		if (db)
			__builtin_trap();
		return 0;
	}
	if (ecr_vulndb_advisory_count(db) > 1)
		__builtin_trap();
	if (ecr__json_parse(&root, data, size, NULL) != 0)
		goto done; /* loaded with larger limits than the defaults */
	affected = ecr__json_get(root, "affected");
	for (i = 0; affected && i < affected->count && i < 8; i++) {
		const ecr__json *a = ecr__json_at(affected, i), *pkg = ecr__json_get(a, "package");
		const ecr__json *ranges = ecr__json_get(a, "ranges");
		const char *eco = ecr__json_get_string(pkg, "ecosystem"), *name = ecr__json_get_string(pkg, "name");
		if (!eco || !name)
			continue;
		for (v = 0; v < sizeof(fixed_versions) / sizeof(fixed_versions[0]); v++)
			match_one(db, eco, name, fixed_versions[v]);
		for (j = 0; ranges && j < ranges->count && j < 4; j++) {
			const ecr__json *events = ecr__json_get(ecr__json_at(ranges, j), "events");
			for (k = 0; events && k < events->count && k < 8; k++) {
				const ecr__json *e = ecr__json_at(events, k);
				if (e && e->type == ECR__JSON_OBJECT && e->count == 1 &&
				    e->values[0]->type == ECR__JSON_STRING)
					match_one(db, eco, name, e->values[0]->string);
			}
		}
	}
done:
	ecr__json_free(root);
	ecr_vulndb_free(db);
	return 0;
}
