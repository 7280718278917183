/* The OSV vulnerability database: advisories (OSV JSON, one per file) read
 * from files, folders (recursively, *.json) and .zip archives (libarchive),
 * each parsed with the bounded JSON parser and checked, then indexed by
 * (ecosystem, package name). The database is refcounted and immutable once
 * loaded, so any number of scans may share it. */
#include "osv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/lazy_archive.h"

#include "../core/json.h"
#include "../core/timeutil.h"

#define DEFAULT_MAX_FILE_BYTES (UINT64_C(16) << 20)
#define DEFAULT_MAX_TOTAL_BYTES (UINT64_C(8) << 30)
#define DEFAULT_MAX_FILES UINT64_C(4000000)
#define MAX_DIR_DEPTH 32
#define MAX_EVENTS 100000
#define ARENA_CHUNK (256u * 1024u)

/* --- arena --- */

typedef struct arena_chunk arena_chunk;
struct arena_chunk {
	arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

typedef struct arena {
	arena_chunk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
	arena_chunk *c = a->head;
	size_t cap, bytes;

	n = (n + 15) & ~(size_t)15;
	if (!n)
		n = 16;
	if (!c || c->cap - c->used < n) {
		cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		if (ecr__add_overflow(sizeof(*c), cap, &bytes) || !(c = ecr__malloc(bytes))) {
			ecr__fail_oom();
			return NULL;
		}
		c->cap = cap;
		c->used = 0;
		if (cap == ARENA_CHUNK || !a->head) {
			c->next = a->head;
			a->head = c;
		} else {
			/* a large block of its own: keep filling the current chunk */
			c->next = a->head->next;
			a->head->next = c;
			c->used = cap;
			return c->data;
		}
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static char *arena_strdup(arena *a, const char *s, size_t len)
{
	char *d = arena_alloc(a, len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

static void arena_dispose(arena *a)
{
	arena_chunk *c = a->head, *next;
	for (; c; c = next) {
		next = c->next;
		ecr__free(c);
	}
	a->head = NULL;
}

/* --- the database --- */

typedef struct id_slot {
	uint64_t hash;
	osv_advisory *adv;
} id_slot;

struct ecr_vulndb {
	int refs;
	arena mem;
	osv_slot *slots; /* (ecosystem, name) -> affected entries */
	size_t slot_cap, slot_used;
	id_slot *ids; /* id -> advisory */
	size_t id_cap, id_used;
	int64_t load_ms, loaded_at;
};

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t key_hash(const char *ecosystem, const char *name)
{
	uint64_t h = fnv1a(UINT64_C(0xcbf29ce484222325), ecosystem);
	h ^= 0xff; /* separator: ("a", "bc") and ("ab", "c") differ */
	h *= UINT64_C(0x100000001b3);
	return fnv1a(h, name);
}

static osv_slot *slot_find(osv_slot *slots, size_t cap, uint64_t h, const char *ecosystem, const char *name)
{
	size_t i = (size_t)h & (cap - 1);

	for (;; i = (i + 1) & (cap - 1)) {
		osv_slot *s = &slots[i];
		if (!s->head)
			return s;
		if (s->hash == h && strcmp(s->head->ecosystem, ecosystem) == 0 && strcmp(s->head->name, name) == 0)
			return s;
	}
}

static int index_add(ecr_vulndb *db, osv_affected *a)
{
	uint64_t h = key_hash(a->ecosystem, a->name);
	osv_slot *s;

	if ((db->slot_used + 1) * 2 > db->slot_cap) {
		size_t cap = db->slot_cap ? db->slot_cap * 2 : 1024, i;
		osv_slot *ns;
		if (cap < db->slot_cap || !(ns = ecr__calloc(cap, sizeof(*ns))))
			return cap < db->slot_cap ? ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "too many packages")
			                          : ECR_ENOMEM;
		for (i = 0; i < db->slot_cap; i++) {
			if (db->slots[i].head) {
				osv_slot *d = slot_find(ns, cap, db->slots[i].hash, db->slots[i].head->ecosystem,
				                        db->slots[i].head->name);
				*d = db->slots[i];
			}
		}
		ecr__free(db->slots);
		db->slots = ns;
		db->slot_cap = cap;
	}
	s = slot_find(db->slots, db->slot_cap, h, a->ecosystem, a->name);
	if (!s->head) {
		s->hash = h;
		s->head = s->tail = a;
		db->slot_used++;
	} else {
		s->tail->next = a;
		s->tail = a;
	}
	return 0;
}

const osv_affected *ecr__vulndb_lookup(const ecr_vulndb *db, const char *ecosystem, const char *name)
{
	const osv_slot *s;

	if (!db || !db->slot_cap || !ecosystem || !name)
		return NULL;
	s = slot_find(db->slots, db->slot_cap, key_hash(ecosystem, name), ecosystem, name);
	return s->head;
}

/* The slot of id: its advisory, or an empty slot to fill. */
static id_slot *id_find(ecr_vulndb *db, const char *id, uint64_t h)
{
	size_t i = (size_t)h & (db->id_cap - 1);
	for (;; i = (i + 1) & (db->id_cap - 1)) {
		id_slot *s = &db->ids[i];
		if (!s->adv || (s->hash == h && strcmp(s->adv->id, id) == 0))
			return s;
	}
}

static int ids_reserve(ecr_vulndb *db)
{
	size_t cap, i;
	id_slot *ns, *old = db->ids;

	if ((db->id_used + 1) * 2 <= db->id_cap)
		return 0;
	cap = db->id_cap ? db->id_cap * 2 : 1024;
	if (!(ns = ecr__calloc(cap, sizeof(*ns))))
		return ECR_ENOMEM;
	db->ids = ns;
	db->id_cap = cap;
	for (i = 0; old && i < cap / 2; i++)
		if (old[i].adv)
			*id_find(db, old[i].adv->id, old[i].hash) = old[i];
	ecr__free(old);
	return 0;
}

/* --- parsing one advisory --- */

typedef struct loader {
	ecr_vulndb *db;
	uint64_t max_file_bytes, max_total_bytes, max_files;
	uint64_t total_bytes, files;
	ecr_buf data;
} loader;

static int bad(const char *file, const char *fmt, ...) ECR__PRINTF(2, 3);
static int bad(const char *file, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s: invalid OSV advisory: %s", file, msg);
}

/* A member that must be a string when present: 0 and *out (NULL when absent). */
static int opt_string(const char **out, const ecr__json *obj, const char *key, const char *what, const char *file)
{
	const ecr__json *v = ecr__json_get(obj, key);
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_STRING)
		return bad(file, "%s%s is not a string", what, key);
	*out = v->string;
	return 0;
}

/* A member that must be an array when present (NULL when absent). */
static int opt_array(const ecr__json **out, const ecr__json *obj, const char *key, const char *what, const char *file)
{
	const ecr__json *v = ecr__json_get(obj, key);
	*out = NULL;
	if (!v || v->type == ECR__JSON_NULL)
		return 0;
	if (v->type != ECR__JSON_ARRAY)
		return bad(file, "%s%s is not an array", what, key);
	*out = v;
	return 0;
}

static char *adup(loader *L, const char *s)
{
	return s ? arena_strdup(&L->db->mem, s, strlen(s)) : NULL;
}

/* A distribution's own severity word ("high", "Important", "unimportant", "low**"). */
static ecr_severity severity_word(const char *w)
{
	static const struct {
		const char *word;
		ecr_severity level;
	} words[] = {
	    {"critical", ECR_SEVERITY_CRITICAL},
	    {"important", ECR_SEVERITY_HIGH},
	    {"high", ECR_SEVERITY_HIGH},
	    {"moderate", ECR_SEVERITY_MEDIUM},
	    {"medium", ECR_SEVERITY_MEDIUM},
	    {"low", ECR_SEVERITY_LOW},
	    {"negligible", ECR_SEVERITY_INFORMATIONAL},
	    {"unimportant", ECR_SEVERITY_INFORMATIONAL},
	    {"informational", ECR_SEVERITY_INFORMATIONAL},
	    {"none", ECR_SEVERITY_INFORMATIONAL},
	};
	size_t i, len = strlen(w);

	while (len && (w[len - 1] == '*' || w[len - 1] == ' '))
		len--;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].word) == len && strncasecmp(words[i].word, w, len) == 0)
			return words[i].level;
	return ECR_SEVERITY_UNDEFINED;
}

/* The severity words of a free-form *_specific object (Debian urgency, Ubuntu
 * priority, Red Hat / GHSA severity); other shapes are ignored. */
static void specific_severity(osv_severity *sev, const ecr__json *obj)
{
	static const char *const keys[] = {"severity", "urgency", "priority"};
	size_t i;

	if (!obj || obj->type != ECR__JSON_OBJECT || sev->ecosystem != ECR_SEVERITY_UNDEFINED)
		return;
	for (i = 0; i < 3; i++) {
		const char *w = ecr__json_get_string(obj, keys[i]);
		if (w && (sev->ecosystem = severity_word(w)) != ECR_SEVERITY_UNDEFINED)
			return;
	}
}

/* severity: [{type, score}]; returns whether anything usable was found. */
static int parse_severity(bool *found, osv_severity *sev, loader *L, const ecr__json *arr, const char *what,
                          const char *file)
{
	size_t i;

	*found = false;
	for (i = 0; arr && i < arr->count; i++) {
		const ecr__json *s = arr->values[i];
		const char *type, *score;
		double value;
		int rc;

		if (s->type != ECR__JSON_OBJECT)
			return bad(file, "%sseverity[%zu] is not an object", what, i);
		if ((rc = opt_string(&type, s, "type", what, file)) < 0 ||
		    (rc = opt_string(&score, s, "score", what, file)) < 0)
			return rc;
		if (!type || !score)
			return bad(file, "%sseverity[%zu] needs a type and a score", what, i);
		if (strcmp(type, "CVSS_V3") == 0 && !sev->v3_vector) {
			if (ecr__cvss3_score(&value, score) < 0) {
				ecr__error_clear(); /* a vector we cannot score is ignored, not fatal */
				continue;
			}
			if (!(sev->v3_vector = adup(L, score)))
				return ECR_ENOMEM;
			sev->v3_score = value;
			*found = true;
		} else if (strcmp(type, "CVSS_V2") == 0 && !sev->v2_vector) {
			if (ecr__cvss2_score(&value, score) < 0) {
				ecr__error_clear();
				continue;
			}
			if (!(sev->v2_vector = adup(L, score)))
				return ECR_ENOMEM;
			sev->v2_score = value;
			*found = true;
		} else if (strcmp(type, "Ubuntu") == 0 && sev->ecosystem == ECR_SEVERITY_UNDEFINED) {
			sev->ecosystem = severity_word(score);
			*found = *found || sev->ecosystem != ECR_SEVERITY_UNDEFINED;
		}
	}
	return 0;
}

static int parse_events(osv_range *r, loader *L, const ecr__json *events, size_t ai, size_t ri, const char *file)
{
	static const char *const kinds[] = {NULL, "introduced", "fixed", "last_affected", "limit"};
	bool introduced = false;
	size_t i;

	if (events->count > MAX_EVENTS)
		return bad(file, "affected[%zu].ranges[%zu] has more than %d events", ai, ri, MAX_EVENTS);
	r->count = 0;
	if (!(r->events = arena_alloc(&L->db->mem, (events->count ? events->count : 1) * sizeof(osv_event))))
		return ECR_ENOMEM;
	for (i = 0; i < events->count; i++) {
		const ecr__json *e = events->values[i];
		osv_event *ev = &r->events[r->count];
		size_t k;

		if (e->type != ECR__JSON_OBJECT || e->count != 1)
			return bad(file, "affected[%zu].ranges[%zu].events[%zu] is not an object with one event", ai,
			           ri, i);
		for (k = 1; k <= 4; k++)
			if (strcmp(e->keys[0], kinds[k]) == 0)
				break;
		if (k > 4)
			return bad(file, "affected[%zu].ranges[%zu].events[%zu]: unknown event '%s'", ai, ri, i,
			           e->keys[0]);
		if (e->values[0]->type != ECR__JSON_STRING || e->values[0]->length == 0 ||
		    strlen(e->values[0]->string) != e->values[0]->length)
			return bad(file, "affected[%zu].ranges[%zu].events[%zu].%s is not a version string", ai, ri, i,
			           kinds[k]);
		ev->kind = (uint8_t)k;
		if (!(ev->version = adup(L, e->values[0]->string)))
			return ECR_ENOMEM;
		introduced = introduced || k == OSV_INTRODUCED;
		r->count++;
	}
	if (!introduced)
		return bad(file, "affected[%zu].ranges[%zu] has no introduced event", ai, ri);
	return 0;
}

static int parse_affected(osv_affected **out, loader *L, const osv_advisory *adv, const ecr__json *a, size_t ai,
                          const char *file)
{
	char what[48];
	const ecr__json *pkg, *ranges, *versions, *sevs;
	const char *ecosystem, *name;
	osv_affected *af;
	bool found;
	size_t i;
	int rc;

	*out = NULL;
	if (a->type != ECR__JSON_OBJECT)
		return bad(file, "affected[%zu] is not an object", ai);
	snprintf(what, sizeof(what), "affected[%zu].", ai);
	if ((rc = opt_array(&ranges, a, "ranges", what, file)) < 0 ||
	    (rc = opt_array(&versions, a, "versions", what, file)) < 0 ||
	    (rc = opt_array(&sevs, a, "severity", what, file)) < 0)
		return rc;
	pkg = ecr__json_get(a, "package");
	if (!pkg || pkg->type == ECR__JSON_NULL)
		return 0; /* e.g. a GIT-only entry: nothing to match a package against */
	if (pkg->type != ECR__JSON_OBJECT)
		return bad(file, "affected[%zu].package is not an object", ai);
	ecosystem = ecr__json_get_string(pkg, "ecosystem");
	name = ecr__json_get_string(pkg, "name");
	if (!ecosystem || !*ecosystem || !name || !*name)
		return bad(file, "affected[%zu].package needs an ecosystem and a name", ai);

	if (!(af = arena_alloc(&L->db->mem, sizeof(*af))))
		return ECR_ENOMEM;
	memset(af, 0, sizeof(*af));
	af->adv = adv;
	if (!(af->ecosystem = adup(L, ecosystem)) || !(af->name = adup(L, name)))
		return ECR_ENOMEM;

	if (ranges && ranges->count) {
		if (!(af->ranges = arena_alloc(&L->db->mem, ranges->count * sizeof(osv_range))))
			return ECR_ENOMEM;
		for (i = 0; i < ranges->count; i++) {
			const ecr__json *r = ranges->values[i], *events;
			const char *type;
			if (r->type != ECR__JSON_OBJECT)
				return bad(file, "affected[%zu].ranges[%zu] is not an object", ai, i);
			type = ecr__json_get_string(r, "type");
			events = ecr__json_get(r, "events");
			if (!type)
				return bad(file, "affected[%zu].ranges[%zu] has no type", ai, i);
			if (!events || events->type != ECR__JSON_ARRAY)
				return bad(file, "affected[%zu].ranges[%zu] has no events array", ai, i);
			if (strcmp(type, "ECOSYSTEM") != 0)
				continue; /* SEMVER and GIT ranges do not describe distribution packages */
			if ((rc = parse_events(&af->ranges[af->range_count], L, events, ai, i, file)) < 0)
				return rc;
			af->range_count++;
		}
	}
	if (versions && versions->count) {
		if (!(af->versions = arena_alloc(&L->db->mem, versions->count * sizeof(char *))))
			return ECR_ENOMEM;
		for (i = 0; i < versions->count; i++) {
			if (versions->values[i]->type != ECR__JSON_STRING)
				return bad(file, "affected[%zu].versions[%zu] is not a string", ai, i);
			if (!(af->versions[i] = adup(L, versions->values[i]->string)))
				return ECR_ENOMEM;
		}
		af->version_count = (uint32_t)versions->count;
	}
	if ((rc = parse_severity(&found, &af->severity, L, sevs, what, file)) < 0)
		return rc;
	specific_severity(&af->severity, ecr__json_get(a, "ecosystem_specific"));
	specific_severity(&af->severity, ecr__json_get(a, "database_specific"));
	/* what the entry does not say, the advisory does */
	if (!af->severity.v3_vector) {
		af->severity.v3_vector = adv->severity.v3_vector;
		af->severity.v3_score = adv->severity.v3_score;
	}
	if (!af->severity.v2_vector) {
		af->severity.v2_vector = adv->severity.v2_vector;
		af->severity.v2_score = adv->severity.v2_score;
	}
	if (af->severity.ecosystem == ECR_SEVERITY_UNDEFINED)
		af->severity.ecosystem = adv->severity.ecosystem;
	*out = af;
	return 0;
}

static bool is_cve(const char *s)
{
	return strncmp(s, "CVE-", 4) == 0;
}

static int add_advisory(loader *L, const ecr__json *root, const char *file)
{
	ecr_vulndb *db = L->db;
	const ecr__json *aliases, *refs, *sevs, *affected;
	const char *id, *withdrawn, *modified, *summary, *details;
	osv_advisory *adv;
	osv_affected **entries = NULL;
	id_slot *slot;
	uint64_t h;
	bool found, is_advisory, advisory_ref = false;
	size_t i, n = 0;
	int rc;

	if (root->type != ECR__JSON_OBJECT)
		return bad(file, "not a JSON object");
	if ((rc = opt_string(&id, root, "id", "", file)) < 0)
		return rc;
	if (!id || !*id)
		return bad(file, "no id");
	if ((rc = opt_string(&withdrawn, root, "withdrawn", "", file)) < 0 ||
	    (rc = opt_string(&modified, root, "modified", "", file)) < 0 ||
	    (rc = opt_string(&summary, root, "summary", "", file)) < 0 ||
	    (rc = opt_string(&details, root, "details", "", file)) < 0 ||
	    (rc = opt_array(&aliases, root, "aliases", "", file)) < 0 ||
	    (rc = opt_array(&refs, root, "references", "", file)) < 0 ||
	    (rc = opt_array(&sevs, root, "severity", "", file)) < 0 ||
	    (rc = opt_array(&affected, root, "affected", "", file)) < 0)
		return rc;
	if (withdrawn)
		return 0; /* withdrawn advisories are not loaded */

	if ((rc = ids_reserve(db)) < 0)
		return rc;
	h = fnv1a(UINT64_C(0xcbf29ce484222325), id);
	slot = id_find(db, id, h);
	if (slot->adv && (!modified || (slot->adv->modified && strcmp(modified, slot->adv->modified) <= 0)))
		return 0; /* the same record again, or an older one: keep the first */

	if (!(adv = arena_alloc(&db->mem, sizeof(*adv))))
		return ECR_ENOMEM;
	memset(adv, 0, sizeof(*adv));
	if (!(adv->id = adup(L, id)) || (modified && !(adv->modified = adup(L, modified))))
		return ECR_ENOMEM;
	adv->name = adv->id;
	for (i = 0; aliases && i < aliases->count; i++) {
		const ecr__json *a = aliases->values[i];
		if (a->type != ECR__JSON_STRING)
			return bad(file, "aliases[%zu] is not a string", i);
		if (!is_cve(id) && adv->name == adv->id && is_cve(a->string) && !(adv->name = adup(L, a->string)))
			return ECR_ENOMEM;
	}
	for (i = 0; refs && i < refs->count; i++) {
		const ecr__json *r = refs->values[i];
		const char *url, *type;
		if (r->type != ECR__JSON_OBJECT)
			return bad(file, "references[%zu] is not an object", i);
		if ((rc = opt_string(&url, r, "url", "references[].", file)) < 0 ||
		    (rc = opt_string(&type, r, "type", "references[].", file)) < 0)
			return rc;
		if (!url)
			return bad(file, "references[%zu] has no url", i);
		/* the first ADVISORY reference, else the first */
		is_advisory = type && strcmp(type, "ADVISORY") == 0;
		if (!adv->uri || (is_advisory && !advisory_ref)) {
			if (!(adv->uri = adup(L, url)))
				return ECR_ENOMEM;
			advisory_ref = is_advisory;
		}
	}
	if ((summary && *summary && !(adv->summary = adup(L, summary))) ||
	    (!adv->summary && details && *details && !(adv->summary = adup(L, details))))
		return ECR_ENOMEM;
	if ((rc = parse_severity(&found, &adv->severity, L, sevs, "", file)) < 0)
		return rc;
	specific_severity(&adv->severity, ecr__json_get(root, "database_specific"));
	specific_severity(&adv->severity, ecr__json_get(root, "ecosystem_specific"));

	if (affected && affected->count) {
		if (!(entries = ecr__calloc(affected->count, sizeof(*entries))))
			return ECR_ENOMEM;
		for (i = 0; i < affected->count; i++) {
			if ((rc = parse_affected(&entries[n], L, adv, affected->values[i], i, file)) < 0)
				goto done;
			if (entries[n])
				n++;
		}
	}
	/* checked: index it */
	for (i = 0; i < n; i++)
		if ((rc = index_add(db, entries[i])) < 0)
			goto done;
	if (slot->adv) {
		slot->adv->superseded = true;
	} else {
		slot->hash = h;
		db->id_used++;
	}
	slot->adv = adv;
	rc = 0;
done:
	ecr__free(entries);
	return rc;
}

/* Parse and add one advisory of len bytes; name is its file for messages. */
static int load_buffer(loader *L, const char *data, size_t len, const char *name)
{
	ecr__json_limits lim = {0, 64, 2000000, 4u << 20};
	ecr__json *root = NULL;
	int rc;

	lim.max_bytes = L->max_file_bytes > SIZE_MAX ? SIZE_MAX : (size_t)L->max_file_bytes;
	if ((rc = ecr__json_parse(&root, data, len, &lim)) < 0) {
		char msg[512];
		if (rc == ECR_ENOMEM)
			return rc;
		snprintf(msg, sizeof(msg), "%s", ecr_error_last()->message);
		return ecr__fail(rc, ECR_ERROR_JSON, "%s: invalid OSV advisory: %s", name, msg);
	}
	rc = add_advisory(L, root, name);
	ecr__json_free(root);
	return rc;
}

/* Count one advisory of size bytes against the caps. */
static int account(loader *L, uint64_t size, const char *name)
{
	if (size > L->max_file_bytes)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "%s: advisory larger than %llu bytes", name,
		                 (unsigned long long)L->max_file_bytes);
	if (L->total_bytes + size > L->max_total_bytes)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID,
		                 "%s: the vulnerability database is larger than %llu bytes", name,
		                 (unsigned long long)L->max_total_bytes);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int load_file(loader *L, const char *path)
{
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	if (++L->files > L->max_files)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "%s: more than %llu advisories", path,
		                 (unsigned long long)L->max_files);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return ecr__fail_os(errno == ENOENT ? ECR_ENOTFOUND : ECR_EIO, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) != 0) {
		rc = ecr__fail_os(ECR_EIO, errno, "cannot stat '%s'", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s: not a regular file", path);
		goto done;
	}
	if ((rc = account(L, (uint64_t)st.st_size, path)) < 0)
		goto done;
	ecr__buf_clear(&L->data);
	if ((rc = ecr__buf_grow(&L->data, (size_t)st.st_size + 1)) < 0)
		goto done;
	/* read at most the cap (+1 to notice a file that grew meanwhile) */
	while (L->data.size <= L->max_file_bytes) {
		size_t want = L->data.reserved - L->data.size - 1;
		if (want == 0) {
			if ((rc = ecr__buf_grow(&L->data, L->data.reserved * 2)) < 0)
				goto done;
			continue;
		}
		n = read(fd, L->data.ptr + L->data.size, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = ecr__fail_os(ECR_EIO, errno, "cannot read '%s'", path);
			goto done;
		}
		if (n == 0)
			break;
		L->data.size += (size_t)n;
	}
	if ((rc = account(L, L->data.size, path)) < 0)
		goto done;
	L->total_bytes += L->data.size;
	rc = load_buffer(L, L->data.ptr, L->data.size, path);
done:
	close(fd);
	return rc;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(loader *L, const char *path, int depth)
{
	DIR *d = NULL;
	struct dirent *e;
	char **names = NULL;
	size_t count = 0, cap = 0, i;
	ecr_buf child = ECR_BUF_INIT;
	int rc = 0;

	if (depth > MAX_DIR_DEPTH)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "%s: folders nested deeper than %d", path,
		                 MAX_DIR_DEPTH);
	if (!(d = opendir(path)))
		return ecr__fail_os(errno == ENOENT ? ECR_ENOTFOUND : ECR_EIO, errno, "cannot open folder '%s'", path);
	/* sorted, so that a load is deterministic */
	for (errno = 0; (e = readdir(d)); errno = 0) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64, bytes;
			char **nn;
			if (ecr__mul_overflow(ncap, sizeof(*nn), &bytes) || !(nn = ecr__realloc(names, bytes))) {
				rc = ECR_ENOMEM;
				goto done;
			}
			names = nn;
			cap = ncap;
		}
		if (!(names[count] = ecr__strdup(e->d_name))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		count++;
	}
	if (errno) {
		rc = ecr__fail_os(ECR_EIO, errno, "cannot read folder '%s'", path);
		goto done;
	}
	if (count)
		qsort(names, count, sizeof(*names), cmp_names);
	for (i = 0; i < count; i++) {
		struct stat st;
		ecr__buf_clear(&child);
		if ((rc = ecr__buf_printf(&child, "%s/%s", path, names[i])) < 0)
			goto done;
		if (lstat(child.ptr, &st) != 0) {
			rc = ecr__fail_os(ECR_EIO, errno, "cannot stat '%s'", child.ptr);
			goto done;
		}
		if (S_ISDIR(st.st_mode))
			rc = load_dir(L, child.ptr, depth + 1);
		else if (ends_with(names[i], ".json") &&
		         (S_ISREG(st.st_mode) ||
		          (S_ISLNK(st.st_mode) && stat(child.ptr, &st) == 0 && S_ISREG(st.st_mode))))
			rc = load_file(L, child.ptr); /* symbolic links to files are followed, to folders not */
		if (rc < 0)
			goto done;
	}
done:
	for (i = 0; i < count; i++)
		ecr__free(names[i]);
	ecr__free(names);
	ecr_buf_dispose(&child);
	if (d)
		closedir(d);
	return rc;
}

static int load_zip(loader *L, const char *path)
{
	struct archive *a;
	struct archive_entry *entry;
	ecr_buf name = ECR_BUF_INIT;
	int r, rc = 0;

	if ((rc = ecr__lazy_load(ECR__LAZY_ARCHIVE)) < 0)
		return rc;
	if (!(a = archive_read_new()))
		return ecr__fail_oom();
	if (archive_read_support_format_zip(a) != ARCHIVE_OK ||
	    archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		rc = ecr__fail(errno == ENOENT ? ECR_ENOTFOUND : ECR_EINVALID, ECR_ERROR_INVALID, "%s: %s", path,
		               archive_error_string(a) ? archive_error_string(a) : "cannot open the zip archive");
		goto done;
	}
	for (;;) {
		const char *pathname;
		r = archive_read_next_header(a, &entry);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s: %s", path,
			               archive_error_string(a) ? archive_error_string(a) : "invalid zip archive");
			goto done;
		}
		pathname = archive_entry_pathname(entry);
		if (archive_entry_filetype(entry) != AE_IFREG || !pathname || !ends_with(pathname, ".json"))
			continue;
		ecr__buf_clear(&name);
		if ((rc = ecr__buf_printf(&name, "%s:%s", path, pathname)) < 0)
			goto done;
		if (++L->files > L->max_files) {
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "%s: more than %llu advisories", name.ptr,
			               (unsigned long long)L->max_files);
			goto done;
		}
		if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0 &&
		    (rc = account(L, (uint64_t)archive_entry_size(entry), name.ptr)) < 0)
			goto done;
		/* the header's size is not trusted: the caps apply to what is inflated */
		ecr__buf_clear(&L->data);
		for (;;) {
			la_ssize_t n;
			if (L->data.reserved - L->data.size < 65536 + 1 &&
			    (rc = ecr__buf_grow(&L->data, L->data.size + 65536 + 1)) < 0)
				goto done;
			n = archive_read_data(a, L->data.ptr + L->data.size, 65536);
			if (n < 0) {
				rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s: %s", name.ptr,
				               archive_error_string(a) ? archive_error_string(a)
				                                       : "cannot read the zip entry");
				goto done;
			}
			if (n == 0)
				break;
			L->data.size += (size_t)n;
			if ((rc = account(L, L->data.size, name.ptr)) < 0)
				goto done;
		}
		L->total_bytes += L->data.size;
		if ((rc = load_buffer(L, L->data.ptr, L->data.size, name.ptr)) < 0)
			goto done;
	}
done:
	archive_read_free(a);
	ecr_buf_dispose(&name);
	return rc;
}

static int load_path(loader *L, const char *path)
{
	struct stat st;

	if (!path || !*path)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "empty vulnerability database path");
	if (stat(path, &st) != 0)
		return ecr__fail_os(errno == ENOENT || errno == ENOTDIR ? ECR_ENOTFOUND : ECR_EIO, errno,
		                    "vulnerability database '%s'", path);
	if (S_ISDIR(st.st_mode))
		return load_dir(L, path, 0);
	if (ends_with(path, ".zip"))
		return load_zip(L, path);
	return load_file(L, path);
}

static int db_new(ecr_vulndb **out)
{
	ecr_vulndb *db = ecr__calloc(1, sizeof(*db));
	if (!db)
		return ECR_ENOMEM;
	db->refs = 1;
	*out = db;
	return 0;
}

static void loader_init(loader *L, ecr_vulndb *db, const ecr__vulndb_limits *limits)
{
	memset(L, 0, sizeof(*L));
	L->db = db;
	L->max_file_bytes = limits && limits->max_file_bytes ? limits->max_file_bytes : DEFAULT_MAX_FILE_BYTES;
	L->max_total_bytes = limits && limits->max_total_bytes ? limits->max_total_bytes : DEFAULT_MAX_TOTAL_BYTES;
	L->max_files = limits && limits->max_files ? limits->max_files : DEFAULT_MAX_FILES;
	if (L->max_file_bytes > SIZE_MAX / 2)
		L->max_file_bytes = SIZE_MAX / 2;
}

int ecr__vulndb_load_limited(ecr_vulndb **out, const char *const *paths, size_t paths_count,
                             const ecr__vulndb_limits *limits)
{
	ecr_vulndb *db = NULL;
	int64_t start = ecr__time_monotonic_ms();
	loader L;
	size_t i;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "out is NULL");
	*out = NULL;
	if (!paths || !paths_count)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no vulnerability database path given");
	if ((rc = db_new(&db)) < 0)
		return rc;
	loader_init(&L, db, limits);
	for (i = 0; i < paths_count; i++)
		if ((rc = load_path(&L, paths[i])) < 0)
			goto done;
	db->load_ms = ecr__time_monotonic_ms() - start;
	db->loaded_at = ecr__time_now_ms();
	*out = db;
	db = NULL;
done:
	ecr_buf_dispose(&L.data);
	ecr_vulndb_free(db);
	return rc;
}

int ecr_vulndb_load(ecr_vulndb **out, const char *const *paths, size_t paths_count)
{
	return ecr__vulndb_load_limited(out, paths, paths_count, NULL);
}

int ecr__vulndb_load_json(ecr_vulndb **out, const void *data, size_t len, const char *name)
{
	ecr_vulndb *db = NULL;
	loader L;
	int rc;

	if (!out || (!data && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid arguments");
	*out = NULL;
	if ((rc = db_new(&db)) < 0)
		return rc;
	loader_init(&L, db, NULL);
	if ((rc = account(&L, len, name ? name : "<memory>")) < 0 ||
	    (rc = load_buffer(&L, data ? data : "", len, name ? name : "<memory>")) < 0)
		goto done;
	db->loaded_at = ecr__time_now_ms();
	*out = db;
	db = NULL;
done:
	ecr_vulndb_free(db);
	return rc;
}

ecr_vulndb *ecr__vulndb_ref(ecr_vulndb *db)
{
	if (db)
		__atomic_fetch_add(&db->refs, 1, __ATOMIC_RELAXED);
	return db;
}

void ecr_vulndb_free(ecr_vulndb *db)
{
	if (!db || __atomic_sub_fetch(&db->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	arena_dispose(&db->mem);
	ecr__free(db->slots);
	ecr__free(db->ids);
	ecr__free(db);
}

size_t ecr_vulndb_advisory_count(const ecr_vulndb *db)
{
	return db ? db->id_used : 0;
}

int64_t ecr_vulndb_load_ms(const ecr_vulndb *db)
{
	return db ? db->load_ms : 0;
}

int64_t ecr_vulndb_loaded_at(const ecr_vulndb *db)
{
	return db ? db->loaded_at : 0;
}
