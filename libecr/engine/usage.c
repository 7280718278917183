/*
 * Usage metering (ecr/usage.h): transfer and request counters counted in
 * memory per registry handle (a small hash of (repository name, UTC day)
 * under one mutex, no I/O per request) and added to the usage_daily table by
 * a flush at most every ECR__USAGE_FLUSH_MS, piggybacked on a counting call,
 * by ecr_usage_flush() and by ecr_registry_free(); stored bytes queried from
 * the metadata when asked; price tables and cost estimates.
 */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/json.h"
#include "../remote/remote_usage.h"
#include "ecr/usage.h"

#define DAY_MS 86400000LL
#define USAGE_BUCKETS 64
/* "No end" for a window without to_ms: beyond any day a clock gives. */
#define DAY_MAX ((int64_t)1 << 40)

typedef struct usage_entry {
	struct usage_entry *next;
	int64_t day;
	uint64_t hash;
	ecr__meta_usage_counts c;
	char repo[]; /* NUL-terminated */
} usage_entry;

struct ecr__usage {
	/* Held for a whole flush, and by queries so that counters being flushed are never missed nor counted twice;
	 * counting calls only try it. Taken before lock. */
	pthread_mutex_t flush_lock;
	pthread_mutex_t lock; /* guards what follows */
	usage_entry *buckets[USAGE_BUCKETS];
	size_t entries;
	int64_t last_flush; /* registry clock, ms */
};

static uint64_t key_hash(const char *repo, int64_t day)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)day;
	for (const unsigned char *p = (const unsigned char *)repo; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

static void counts_add(ecr__meta_usage_counts *a, const ecr__meta_usage_counts *b)
{
	a->pushed_bytes += b->pushed_bytes;
	a->pulled_bytes += b->pulled_bytes;
	a->image_pushes += b->image_pushes;
	a->image_pulls += b->image_pulls;
	a->blob_uploads += b->blob_uploads;
	a->blob_downloads += b->blob_downloads;
}

/* The entry of (repo, day), created when missing; NULL when out of memory. Under u->lock. */
static usage_entry *entry_get(ecr__usage *u, const char *repo, int64_t day)
{
	uint64_t h = key_hash(repo, day);
	usage_entry **head = &u->buckets[h % USAGE_BUCKETS];
	for (usage_entry *e = *head; e; e = e->next)
		if (e->hash == h && e->day == day && strcmp(e->repo, repo) == 0)
			return e;
	size_t n = strlen(repo), size;
	if (ecr__add_overflow(sizeof(usage_entry) + 1, n, &size))
		return NULL;
	usage_entry *e = ecr__calloc(1, size);
	if (!e)
		return NULL;
	memcpy(e->repo, repo, n + 1);
	e->day = day;
	e->hash = h;
	e->next = *head;
	*head = e;
	u->entries++;
	return e;
}

/* Put the entries of list back into the table (a failed flush), merging with what was counted meanwhile. */
static void entries_restore(ecr__usage *u, usage_entry *list)
{
	while (list) {
		usage_entry *e = list;
		list = e->next;
		usage_entry *cur = NULL;
		for (cur = u->buckets[e->hash % USAGE_BUCKETS]; cur; cur = cur->next)
			if (cur->hash == e->hash && cur->day == e->day && strcmp(cur->repo, e->repo) == 0)
				break;
		if (cur) {
			counts_add(&cur->c, &e->c);
			ecr__free(e);
		} else {
			e->next = u->buckets[e->hash % USAGE_BUCKETS];
			u->buckets[e->hash % USAGE_BUCKETS] = e;
			u->entries++;
		}
	}
}

static void entries_free(usage_entry *list)
{
	while (list) {
		usage_entry *e = list;
		list = e->next;
		ecr__free(e);
	}
}

int ecr__usage_new(ecr__usage **out)
{
	ecr__usage *u = ecr__calloc(1, sizeof(*u));
	if (!u)
		return ECR_ENOMEM;
	pthread_mutex_init(&u->flush_lock, NULL);
	pthread_mutex_init(&u->lock, NULL);
	*out = u;
	return 0;
}

/* Write the counters to the metadata store. The caller holds u->flush_lock and no transaction. */
static int usage_flush_locked(ecr_registry *reg, ecr__usage *u)
{
	usage_entry *list = NULL;
	ecr__txn t = { 0 };
	int rc = 0;

	pthread_mutex_lock(&u->lock);
	for (size_t i = 0; i < USAGE_BUCKETS; i++) {
		while (u->buckets[i]) {
			usage_entry *e = u->buckets[i];
			u->buckets[i] = e->next;
			e->next = list;
			list = e;
		}
	}
	u->entries = 0;
	u->last_flush = ecr_registry_now(reg);
	pthread_mutex_unlock(&u->lock);
	if (!list)
		return 0;

	if ((rc = ecr__txn_begin(&t, reg->store->meta, true)))
		goto done;
	for (usage_entry *e = list; e && !rc; e = e->next)
		rc = ecr__meta_usage_add(&t, reg->id, e->repo, e->day, &e->c);
	if (!rc)
		rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	if (rc) {
		/* kept for the next flush */
		pthread_mutex_lock(&u->lock);
		entries_restore(u, list);
		pthread_mutex_unlock(&u->lock);
	} else {
		entries_free(list);
	}
	return rc;
}

void ecr__usage_free(ecr_registry *reg)
{
	ecr__usage *u = reg->usage;
	if (!u)
		return;
	if (reg->store) {
		ecr__error_saved saved;
		ecr__error_save(&saved);
		pthread_mutex_lock(&u->flush_lock);
		if (usage_flush_locked(reg, u))
			ecr__log(&reg->log, ECR_LOG_WARN, "usage counters lost: %s", ecr_error_last()->message);
		pthread_mutex_unlock(&u->flush_lock);
		ecr__error_restore(&saved);
	}
	for (size_t i = 0; i < USAGE_BUCKETS; i++)
		entries_free(u->buckets[i]);
	pthread_mutex_destroy(&u->flush_lock);
	pthread_mutex_destroy(&u->lock);
	ecr__free(u);
	reg->usage = NULL;
}

static int64_t day_of(int64_t ms)
{
	return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

void ecr__usage_count(ecr_registry *reg, const char *repository, ecr__usage_kind kind, uint64_t bytes)
{
	ecr__usage *u = reg->usage;
	if (!u || !reg->store || !repository)
		return;
	int64_t now = ecr_registry_now(reg);
	int64_t b = bytes > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)bytes;
	bool flush = false;

	pthread_mutex_lock(&u->lock);
	usage_entry *e = entry_get(u, repository, day_of(now));
	if (e) {
		switch (kind) {
		case ECR__USAGE_IMAGE_PUSH:
			e->c.image_pushes++;
			e->c.pushed_bytes += b;
			break;
		case ECR__USAGE_IMAGE_PULL:
			e->c.image_pulls++;
			e->c.pulled_bytes += b;
			break;
		case ECR__USAGE_BLOB_UPLOAD:
			e->c.blob_uploads++;
			e->c.pushed_bytes += b;
			break;
		case ECR__USAGE_BLOB_DOWNLOAD:
			e->c.blob_downloads++;
			e->c.pulled_bytes += b;
			break;
		}
	}
	if (!u->last_flush)
		u->last_flush = now; /* the first count starts the flush clock */
	if (now - u->last_flush >= ECR__USAGE_FLUSH_MS || now < u->last_flush)
		flush = true;
	pthread_mutex_unlock(&u->lock);

	/* Piggybacked flush: one counting thread does it, the others go on. Errors stay out of the caller's way. */
	if (flush && pthread_mutex_trylock(&u->flush_lock) == 0) {
		ecr__error_saved saved;
		ecr__error_save(&saved);
		pthread_mutex_lock(&u->lock);
		bool still_due = now - u->last_flush >= ECR__USAGE_FLUSH_MS || now < u->last_flush;
		pthread_mutex_unlock(&u->lock);
		if (still_due && usage_flush_locked(reg, u))
			ecr__log(&reg->log, ECR_LOG_WARN, "usage counters not flushed (kept for the next flush): %s",
				ecr_error_last()->message);
		pthread_mutex_unlock(&u->flush_lock);
		ecr__error_restore(&saved);
	}
}

int ecr_usage_flush(ecr_registry *reg)
{
	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_usage_flush: NULL argument");
	if (!reg->store || !reg->usage)
		return 0; /* a remote registry counts nothing here: its server does */
	pthread_mutex_lock(&reg->usage->flush_lock);
	int rc = usage_flush_locked(reg, reg->usage);
	pthread_mutex_unlock(&reg->usage->flush_lock);
	return rc;
}

int ecr_usage_init(ecr_usage *usage, unsigned int version)
{
	int rc = ecr__check_version(version, ECR_USAGE_VERSION, "ecr_usage");
	if (rc)
		return rc;
	memset(usage, 0, sizeof(*usage));
	usage->version = version;
	return 0;
}

/* The days of [from_ms, to_ms) rounded out; out's window set. */
static int usage_window(ecr_usage *out, int64_t from_ms, int64_t to_ms, int64_t *from_day, int64_t *to_day)
{
	if (from_ms < 0 || to_ms < 0 || (to_ms && to_ms < from_ms))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid usage window [%lld, %lld)", (long long)from_ms,
			(long long)to_ms);
	*from_day = from_ms / DAY_MS;
	*to_day = to_ms ? to_ms / DAY_MS + (to_ms % DAY_MS != 0) : DAY_MAX;
	out->from_ms = *from_day * DAY_MS;
	out->to_ms = to_ms ? *to_day * DAY_MS : 0;
	return 0;
}

static void usage_add_counts(ecr_usage *u, const ecr__meta_usage_counts *c)
{
	u->pushed_bytes += (uint64_t)c->pushed_bytes;
	u->pulled_bytes += (uint64_t)c->pulled_bytes;
	u->image_pushes += (uint64_t)c->image_pushes;
	u->image_pulls += (uint64_t)c->image_pulls;
	u->blob_uploads += (uint64_t)c->blob_uploads;
	u->blob_downloads += (uint64_t)c->blob_downloads;
}

/* One repository's figures while they are gathered. */
typedef struct repo_usage {
	char *name;
	ecr_usage u;
} repo_usage;

typedef struct usage_set {
	repo_usage *v;
	size_t n, cap;
	bool sorted;
	ecr_usage total; /* everything, deleted repositories' transfer included */
} usage_set;

static void usage_set_dispose(usage_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		ecr__free(s->v[i].name);
	ecr__free(s->v);
	memset(s, 0, sizeof(*s));
}

static int repo_cmp(const void *a, const void *b)
{
	return strcmp(((const repo_usage *)a)->name, ((const repo_usage *)b)->name);
}

static repo_usage *usage_set_find(usage_set *s, const char *name)
{
	repo_usage key = { (char *)name, ECR_USAGE_INIT };
	return s->n ? bsearch(&key, s->v, s->n, sizeof(*s->v), repo_cmp) : NULL;
}

static int stored_collect(const char *repository, int64_t images, int64_t stored_bytes, void *payload)
{
	usage_set *s = payload;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16, size;
		if (ecr__mul_overflow(cap, sizeof(*s->v), &size))
			return ecr__fail(ECR_ENOMEM, ECR_ERROR_NOMEMORY, "too many repositories");
		repo_usage *v = ecr__realloc(s->v, size);
		if (!v)
			return ECR_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	repo_usage *r = &s->v[s->n];
	memset(r, 0, sizeof(*r));
	if (!(r->name = ecr__strdup(repository)))
		return ECR_ENOMEM;
	r->u.version = ECR_USAGE_VERSION;
	r->u.repositories = 1;
	r->u.images = (uint64_t)images;
	r->u.stored_bytes = r->u.stored_bytes_unique = (uint64_t)stored_bytes;
	s->n++;
	s->total.repositories++;
	s->total.images += (uint64_t)images;
	s->total.stored_bytes += (uint64_t)stored_bytes;
	return 0;
}

static int transfer_collect(const char *repository, const ecr__meta_usage_counts *c, void *payload)
{
	usage_set *s = payload;
	if (!s->sorted) {
		if (s->n > 1)
			qsort(s->v, s->n, sizeof(*s->v), repo_cmp);
		s->sorted = true;
	}
	repo_usage *r = usage_set_find(s, repository);
	if (r)
		usage_add_counts(&r->u, c);
	usage_add_counts(&s->total, c);
	return 0;
}

/*
 * Gather the usage of reg's repositories (repository NULL: all; else that one, ECR_EREPOSITORY_NOT_FOUND when it
 * does not exist) into s: stored bytes now, and the transfer counted in the window, flushed or not.
 */
static int usage_gather(usage_set *s, ecr_registry *reg, const char *repository, int64_t from_ms, int64_t to_ms)
{
	ecr__usage *u = reg->usage;
	int64_t from_day = 0, to_day = 0, unique = 0;
	ecr__txn t = { 0 };
	bool locked = false;
	int rc;

	memset(s, 0, sizeof(*s));
	s->total.version = ECR_USAGE_VERSION;
	if ((rc = usage_window(&s->total, from_ms, to_ms, &from_day, &to_day)))
		return rc;
	if (u) {
		pthread_mutex_lock(&u->flush_lock);
		locked = true;
	}
	if ((rc = ecr__txn_begin(&t, reg->store->meta, false)))
		goto done;
	if ((rc = ecr__meta_usage_stored(&t, reg->id, repository, stored_collect, s)))
		goto done;
	if (repository && s->n == 0) {
		rc = ecr__repository_not_found(reg, repository);
		goto done;
	}
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), repo_cmp);
	s->sorted = true;
	if ((rc = ecr__meta_usage_transfer(&t, reg->id, repository, from_day, to_day, transfer_collect, s)))
		goto done;
	if (!repository && (rc = ecr__meta_usage_unique(&t, reg->id, &unique)))
		goto done;
	s->total.stored_bytes_unique = repository ? s->total.stored_bytes : (uint64_t)unique;
	ecr__txn_rollback(&t);
	if (u) {
		pthread_mutex_lock(&u->lock);
		for (size_t i = 0; i < USAGE_BUCKETS; i++) {
			for (usage_entry *e = u->buckets[i]; e; e = e->next) {
				if (e->day < from_day || e->day >= to_day || (repository && strcmp(e->repo, repository) != 0))
					continue;
				repo_usage *r = usage_set_find(s, e->repo);
				if (r)
					usage_add_counts(&r->u, &e->c);
				usage_add_counts(&s->total, &e->c);
			}
		}
		pthread_mutex_unlock(&u->lock);
	}
	for (size_t i = 0; i < s->n; i++) {
		s->v[i].u.from_ms = s->total.from_ms;
		s->v[i].u.to_ms = s->total.to_ms;
	}
done:
	ecr__txn_rollback(&t);
	if (locked)
		pthread_mutex_unlock(&u->flush_lock);
	if (rc)
		usage_set_dispose(s);
	return rc;
}

static int check_out(ecr_usage *out, const char *fn)
{
	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s: NULL argument", fn);
	return ecr__check_version(out->version ? out->version : ECR_USAGE_VERSION, ECR_USAGE_VERSION, "ecr_usage");
}

int ecr_registry_usage(ecr_usage *out, ecr_registry *reg, int64_t from_ms, int64_t to_ms)
{
	usage_set s;
	int rc;
	if ((rc = check_out(out, "ecr_registry_usage")))
		return rc;
	if (!reg)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_usage: NULL argument");
	if (reg->remote)
		return ecr__remote_usage(out, reg, NULL, from_ms, to_ms);
	if ((rc = usage_gather(&s, reg, NULL, from_ms, to_ms)))
		return rc;
	*out = s.total;
	usage_set_dispose(&s);
	return 0;
}

int ecr_repository_usage(ecr_usage *out, ecr_repository *repo, int64_t from_ms, int64_t to_ms)
{
	usage_set s;
	int rc;
	if ((rc = check_out(out, "ecr_repository_usage")))
		return rc;
	if (!repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_repository_usage: NULL argument");
	if (repo->reg->remote)
		return ecr__remote_usage(out, repo->reg, repo->name, from_ms, to_ms);
	if ((rc = usage_gather(&s, repo->reg, repo->name, from_ms, to_ms)))
		return rc;
	*out = s.n ? s.v[0].u : s.total;
	usage_set_dispose(&s);
	return 0;
}

int ecr_registry_usage_foreach(ecr_registry *reg, int64_t from_ms, int64_t to_ms, ecr_usage_cb cb, void *payload)
{
	usage_set s;
	int rc;
	if (!reg || !cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_registry_usage_foreach: NULL argument");
	if (reg->remote)
		return ecr__remote_usage_foreach(reg, from_ms, to_ms, cb, payload);
	if ((rc = usage_gather(&s, reg, NULL, from_ms, to_ms)))
		return rc;
	for (size_t i = 0; i < s.n && !rc; i++)
		rc = cb(s.v[i].name, &s.v[i].u, payload);
	usage_set_dispose(&s);
	return rc;
}

/* --- prices and estimates --- */

int ecr_price_table_default(ecr_price_table *out, unsigned int version)
{
	int rc;
	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_price_table_default: NULL argument");
	if ((rc = ecr__check_version(version, ECR_PRICE_TABLE_VERSION, "ecr_price_table")))
		return rc;
	memset(out, 0, sizeof(*out));
	out->version = version;
	out->storage_usd_per_gb_month = 0.10;
	out->transfer_in_usd_per_gb = 0.0;
	/* us-east-1, to the internet, per month (TB = 1024 GB) */
	static const ecr_price_tier tiers[] = {
		{ 100, 0.0 },       /* the first 100 GB: free */
		{ 10240, 0.09 },    /* up to 10 TB */
		{ 51200, 0.085 },   /* the next 40 TB */
		{ 153600, 0.07 },   /* the next 100 TB */
		{ 0, 0.05 },        /* over 150 TB */
	};
	out->transfer_out_tiers_count = sizeof(tiers) / sizeof(tiers[0]);
	memcpy(out->transfer_out, tiers, sizeof(tiers));
	return 0;
}

static int price_number(double *out, const ecr__json *v, const char *where)
{
	if (!v || v->type != ECR__JSON_NUMBER || !isfinite(v->number) || v->number < 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "price table: %s must be a number >= 0", where);
	*out = v->number;
	return 0;
}

static int price_tiers(ecr_price_table *out, const ecr__json *arr)
{
	char where[64];
	int rc;
	if (arr->type != ECR__JSON_ARRAY || arr->count < 1 || arr->count > ECR_PRICE_TIERS_MAX)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "price table: transferOut must be a list of 1 to %d tiers",
			ECR_PRICE_TIERS_MAX);
	double prev = 0;
	for (size_t i = 0; i < arr->count; i++) {
		const ecr__json *tier = arr->values[i];
		ecr_price_tier *t = &out->transfer_out[i];
		if (tier->type != ECR__JSON_OBJECT)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "price table: transferOut[%zu] must be an object", i);
		for (size_t k = 0; k < tier->count; k++)
			if (strcmp(tier->keys[k], "upToGb") != 0 && strcmp(tier->keys[k], "usdPerGb") != 0)
				return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "price table: unknown member transferOut[%zu].%s",
					i, tier->keys[k]);
		snprintf(where, sizeof(where), "transferOut[%zu].usdPerGb", i);
		if ((rc = price_number(&t->usd_per_gb, ecr__json_get(tier, "usdPerGb"), where)))
			return rc;
		const ecr__json *up = ecr__json_get(tier, "upToGb");
		t->up_to_gb = 0;
		if (up) {
			snprintf(where, sizeof(where), "transferOut[%zu].upToGb", i);
			if ((rc = price_number(&t->up_to_gb, up, where)))
				return rc;
		}
		bool last = i + 1 == arr->count;
		if (!last && (t->up_to_gb <= prev))
			return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON,
				"price table: transferOut[%zu].upToGb must be greater than the tier before (only the last tier "
				"may have no limit)",
				i);
		if (last && up && t->up_to_gb <= prev)
			return ecr__fail(ECR_EINVALID, ECR_ERROR_JSON,
				"price table: transferOut[%zu].upToGb must be greater than the tier before", i);
		prev = t->up_to_gb;
	}
	out->transfer_out_tiers_count = arr->count;
	return 0;
}

int ecr_price_table_parse(ecr_price_table *out, const char *json, size_t len)
{
	ecr__json_limits limits = { 64 * 1024, 8, 1000, 256 };
	ecr__json *doc = NULL;
	ecr_price_table p;
	int rc;

	if (!out || (!json && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_price_table_parse: NULL argument");
	if ((rc = ecr_price_table_default(&p, ECR_PRICE_TABLE_VERSION)))
		return rc;
	if ((rc = ecr__json_parse(&doc, json, len, &limits))) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "price table: %s", ecr_error_last()->message);
		goto done;
	}
	if (doc->type != ECR__JSON_OBJECT) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "price table: a JSON object expected");
		goto done;
	}
	for (size_t k = 0; k < doc->count; k++) {
		const char *key = doc->keys[k];
		const ecr__json *v = doc->values[k];
		if (strcmp(key, "storageUsdPerGbMonth") == 0)
			rc = price_number(&p.storage_usd_per_gb_month, v, key);
		else if (strcmp(key, "transferInUsdPerGb") == 0)
			rc = price_number(&p.transfer_in_usd_per_gb, v, key);
		else if (strcmp(key, "transferOut") == 0)
			rc = price_tiers(&p, v);
		else
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_JSON, "price table: unknown member %s", key);
		if (rc)
			goto done;
	}
	*out = p;
done:
	ecr__json_free(doc);
	return rc;
}

int ecr_usage_estimate(ecr_cost *out, const ecr_usage *usage, const ecr_price_table *prices, double months)
{
	const double gb = 1024.0 * 1024.0 * 1024.0;
	if (!out || !usage || !prices)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_usage_estimate: NULL argument");
	if (!isfinite(months) || months <= 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_usage_estimate: months must be > 0");
	if (prices->transfer_out_tiers_count > ECR_PRICE_TIERS_MAX)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_usage_estimate: too many price tiers");
	memset(out, 0, sizeof(*out));
	out->version = ECR_COST_VERSION;
	out->storage_usd = (double)usage->stored_bytes_unique / gb * prices->storage_usd_per_gb_month * months;
	out->transfer_in_usd = (double)usage->pushed_bytes / gb * prices->transfer_in_usd_per_gb;
	/* each month's share of the bytes pulled through the tiers; above the last limit, the last tier's price */
	double per_month = (double)usage->pulled_bytes / gb / months, monthly = 0, floor_gb = 0;
	for (size_t i = 0; i < prices->transfer_out_tiers_count && per_month > floor_gb; i++) {
		const ecr_price_tier *t = &prices->transfer_out[i];
		bool last = i + 1 == prices->transfer_out_tiers_count;
		double top = t->up_to_gb > 0 && !last ? t->up_to_gb : per_month;
		if (top > per_month)
			top = per_month;
		if (top > floor_gb)
			monthly += (top - floor_gb) * t->usd_per_gb;
		floor_gb = top;
	}
	out->transfer_out_usd = monthly * months;
	out->total_usd = out->storage_usd + out->transfer_in_usd + out->transfer_out_usd;
	return 0;
}
