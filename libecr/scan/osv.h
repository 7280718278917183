/* The in-memory form of an OSV database, shared by osv.c (loading) and
 * match.c (matching). Everything lives in one arena and is immutable once
 * ecr_vulndb_load returns. */
#ifndef ECR_SCAN_OSV_H
#define ECR_SCAN_OSV_H

#include "scan_internal.h"

typedef enum osv_event_kind { OSV_INTRODUCED = 1, OSV_FIXED = 2, OSV_LAST_AFFECTED = 3, OSV_LIMIT = 4 } osv_event_kind;

typedef struct osv_event {
	const char *version;
	uint8_t kind; /* osv_event_kind */
} osv_event;

/* An ECOSYSTEM range (other range types are not kept). */
typedef struct osv_range {
	osv_event *events;
	uint32_t count;
} osv_range;

/* Severity as an advisory (or one of its affected entries) states it. */
typedef struct osv_severity {
	const char *v3_vector, *v2_vector; /* scored vectors, or NULL */
	double v3_score, v2_score;
	ecr_severity ecosystem; /* the distribution's own level, or UNDEFINED */
} osv_severity;

typedef struct osv_advisory {
	const char *id;
	const char *name;    /* the id, or its first CVE alias when the id is not a CVE */
	const char *uri;     /* or NULL */
	const char *summary; /* summary, else details, or NULL */
	const char *modified;
	osv_severity severity;
	bool superseded; /* a later record with the same id replaced it */
} osv_advisory;

typedef struct osv_affected osv_affected;
struct osv_affected {
	const osv_advisory *adv;
	const char *ecosystem, *name;
	osv_range *ranges;
	const char **versions;
	uint32_t range_count, version_count;
	osv_severity severity; /* this entry's own, field by field, else the advisory's */
	osv_affected *next;    /* next entry with the same (ecosystem, name) */
};

/* One slot of the (ecosystem, name) index: a list in load order. */
typedef struct osv_slot {
	uint64_t hash;
	osv_affected *head, *tail;
} osv_slot;

/* Look up the entries of (ecosystem, name), or NULL. */
const osv_affected *ecr__vulndb_lookup(const ecr_vulndb *db, const char *ecosystem, const char *name);

#endif
