/* The in-memory blob store.
 *
 * Blobs live in an array sorted by digest; each holds a reference-counted,
 * immutable buffer, so a reader keeps its bytes alive after the blob is
 * removed. Staging objects are growable buffers found by id. One mutex
 * protects both arrays and the staging buffers; reference counts of published
 * buffers are atomic, so readers never need the store (or its lock).
 *
 * As with every backend, a staging object is written through one writer at a
 * time: the bytes of a staging object are hashed outside the lock, which is
 * safe because only its writer changes them. */
#include "../core/core.h"
#include "blob_common.h"

#include <pthread.h>

typedef struct mem_data {
	size_t refs; /* atomic */
	size_t size;
	unsigned char *bytes;
} mem_data;

typedef struct mem_blob {
	char digest[ECR__DIGEST_STRLEN_MAX];
	mem_data *data;
	int64_t mtime_ms;
} mem_blob;

typedef struct mem_stage {
	char id[ECR__BLOB_STAGE_ID_MAX + 1];
	size_t refs;  /* under the store's lock: the array's plus each writer's */
	bool removed; /* no longer in the array */
	unsigned char *bytes;
	size_t size, cap;
	int64_t mtime_ms;
} mem_stage;

typedef struct mem_store {
	ecr_blob_store base;
	pthread_mutex_t lock;
	mem_blob *blobs; /* sorted by digest */
	size_t nblobs, blobs_cap;
	mem_stage **stages;
	size_t nstages, stages_cap;
} mem_store;

typedef struct mem_writer {
	ecr_blob_store_writer base;
	mem_store *store;
	mem_stage *stage; /* NULL once committed or discarded */
	ecr__digest_ctx *hash;
} mem_writer;

typedef struct mem_reader {
	ecr_blob_store_reader base;
	mem_data *data;
	uint64_t pos;
} mem_reader;

static void mem_data_unref(mem_data *d)
{
	if (d && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		ecr__free(d->bytes);
		ecr__free(d);
	}
}

/* Caller holds the lock. */
static void mem_stage_unref(mem_stage *st)
{
	if (st && --st->refs == 0) {
		ecr__free(st->bytes);
		ecr__free(st);
	}
}

/* Caller holds the lock. */
static mem_stage *mem_stage_find(mem_store *s, const char *id, size_t *index_out)
{
	size_t i;
	for (i = 0; i < s->nstages; i++) {
		if (strcmp(s->stages[i]->id, id) == 0) {
			if (index_out)
				*index_out = i;
			return s->stages[i];
		}
	}
	return NULL;
}

/* Caller holds the lock; drops the array's reference. */
static void mem_stage_detach(mem_store *s, size_t i)
{
	mem_stage *st = s->stages[i];
	s->stages[i] = s->stages[--s->nstages];
	st->removed = true;
	mem_stage_unref(st);
}

/* Caller holds the lock. Binary search: true when found, *pos is the index or
 * the insertion point. */
static bool mem_blob_find(mem_store *s, const char *digest, size_t *pos)
{
	size_t lo = 0, hi = s->nblobs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->blobs[mid].digest, digest);
		if (c == 0) {
			*pos = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

/* --- writer --- */

static int mem_writer_check(mem_writer *w)
{
	if (!w->stage)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE,
			"blob store: the staging object was already committed or discarded");
	return 0;
}

static int mem_writer_write(ecr_blob_store_writer *base, const void *data, size_t len)
{
	mem_writer *w = (mem_writer *)base;
	mem_store *s = w->store;
	mem_stage *st = w->stage;
	size_t start, end;
	int rc = 0;

	if ((rc = mem_writer_check(w)) != 0)
		return rc;
	if (len == 0)
		return 0;
	if (!data)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: write of NULL data");

	pthread_mutex_lock(&s->lock);
	start = st->size;
	if (ecr__add_overflow(start, len, &end)) {
		rc = ecr__fail(ECR_ERANGE, ECR_ERROR_STORAGE, "blob store: staging object %s would grow too large",
			st->id);
		goto unlock;
	}
	if (end > st->cap) {
		size_t ncap = st->cap ? st->cap : 64 * 1024;
		unsigned char *p;
		while (ncap < end)
			if (ecr__mul_overflow(ncap, 2, &ncap)) {
				ncap = end;
				break;
			}
		if (!(p = ecr__realloc(st->bytes, ncap))) {
			rc = ECR_ENOMEM;
			goto unlock;
		}
		st->bytes = p;
		st->cap = ncap;
	}
	memcpy(st->bytes + start, data, len);
	st->size = end;
	st->mtime_ms = ecr__blob_now_ms();
unlock:
	pthread_mutex_unlock(&s->lock);
	if (rc)
		return rc;

	if ((rc = ecr__digest_update(w->hash, data, len)) != 0) {
		pthread_mutex_lock(&s->lock);
		st->size = start;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	w->base.size += len;
	return 0;
}

static int mem_writer_digest(ecr_blob_store_writer *base, char *out, size_t outlen)
{
	mem_writer *w = (mem_writer *)base;
	ecr__digest_ctx *copy = NULL;
	int rc;

	if ((rc = mem_writer_check(w)) != 0)
		return rc;
	if ((rc = ecr__digest_clone(&copy, w->hash)) != 0)
		return rc;
	rc = ecr__digest_final(copy, out, outlen);
	ecr__digest_free(copy);
	return rc;
}

/* Drop the writer's reference to its staging object. */
static void mem_writer_release(mem_writer *w)
{
	if (!w->stage)
		return;
	pthread_mutex_lock(&w->store->lock);
	mem_stage_unref(w->stage);
	pthread_mutex_unlock(&w->store->lock);
	w->stage = NULL;
}

static int mem_writer_commit(ecr_blob_store_writer *base, const char *digest)
{
	mem_writer *w = (mem_writer *)base;
	mem_store *s = w->store;
	mem_stage *st = w->stage;
	ecr__digest_ctx *ctx = NULL;
	mem_data *data = NULL;
	ecr__digest_alg alg;
	char actual[ECR__DIGEST_STRLEN_MAX];
	size_t pos, idx;
	int rc;

	if ((rc = mem_writer_check(w)) != 0)
		return rc;
	if ((rc = ecr__blob_digest_parse(digest, &alg, NULL)) != 0)
		return rc;

	if (alg == ecr__digest_ctx_alg(w->hash))
		rc = ecr__digest_clone(&ctx, w->hash);
	else if ((rc = ecr__digest_new(&ctx, alg)) == 0 && st->size > 0)
		rc = ecr__digest_update(ctx, st->bytes, st->size); /* only this writer changes the bytes */
	if (rc != 0 || (rc = ecr__digest_final(ctx, actual, sizeof(actual))) != 0)
		goto done;

	pthread_mutex_lock(&s->lock);
	if (st->removed) {
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: staging object %s was removed", st->id);
		goto unlock;
	}
	if (st->size != w->base.size) {
		rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE,
			"blob store: staging object %s has %zu bytes, its writer wrote %llu (written to concurrently?)",
			st->id, st->size, (unsigned long long)w->base.size);
		goto unlock;
	}
	if (strcmp(actual, digest) != 0) {
		rc = ecr__blob_fail_mismatch(digest, actual);
		if (mem_stage_find(s, st->id, &idx) == st)
			mem_stage_detach(s, idx);
		goto unlock;
	}
	if (mem_blob_find(s, digest, &pos)) {
		/* Content-addressed: the same bytes are there already. */
		s->blobs[pos].mtime_ms = ecr__blob_now_ms();
	} else {
		/* Allocate everything before changing anything, so a failure keeps the staging object. */
		if ((rc = ecr__array_grow((void **)&s->blobs, &s->blobs_cap, s->nblobs, sizeof(*s->blobs))) != 0)
			goto unlock;
		if (!(data = ecr__calloc(1, sizeof(*data)))) {
			rc = ECR_ENOMEM;
			goto unlock;
		}
		data->refs = 1;
		data->size = st->size;
		if (st->size > 0 && st->cap > st->size) {
			unsigned char *shrunk = ecr__realloc(st->bytes, st->size);
			if (shrunk) {
				st->bytes = shrunk;
				st->cap = st->size;
			} else {
				ecr__error_clear(); /* keeping the larger buffer is fine */
			}
		}
		data->bytes = st->bytes;
		st->bytes = NULL;
		st->size = st->cap = 0;
		memmove(&s->blobs[pos + 1], &s->blobs[pos], (s->nblobs - pos) * sizeof(*s->blobs));
		memcpy(s->blobs[pos].digest, digest, strlen(digest) + 1);
		s->blobs[pos].data = data;
		s->blobs[pos].mtime_ms = ecr__blob_now_ms();
		s->nblobs++;
		data = NULL;
	}
	if (mem_stage_find(s, st->id, &idx) == st)
		mem_stage_detach(s, idx);
unlock:
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 || rc == ECR_EDIGEST || rc == ECR_ENOTFOUND)
		mem_writer_release(w);
done:
	ecr__free(data);
	ecr__digest_free(ctx);
	return rc;
}

static void mem_writer_close(ecr_blob_store_writer *base)
{
	mem_writer *w = (mem_writer *)base;
	if (!w)
		return;
	mem_writer_release(w);
	ecr__digest_free(w->hash);
	ecr__free(w);
}

/* --- store: staging --- */

static int mem_stage_open(ecr_blob_store_writer **out, ecr_blob_store *self, const char *stage_id, int create)
{
	mem_store *s = (mem_store *)self;
	mem_writer *w = NULL;
	mem_stage *st = NULL, *fresh = NULL;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: stage_open without out");
	*out = NULL;
	if ((rc = ecr__blob_stage_id_check(stage_id)) != 0)
		return rc;
	if (!(w = ecr__calloc(1, sizeof(*w))))
		return ECR_ENOMEM;
	w->store = s;
	if ((rc = ecr__digest_new(&w->hash, ECR__DIGEST_SHA256)) != 0)
		goto done;
	if (create && !(fresh = ecr__calloc(1, sizeof(*fresh)))) {
		rc = ECR_ENOMEM;
		goto done;
	}

	pthread_mutex_lock(&s->lock);
	if (!(st = mem_stage_find(s, stage_id, NULL))) {
		if (!create) {
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no staging object %s", stage_id);
		} else if ((rc = ecr__array_grow((void **)&s->stages, &s->stages_cap, s->nstages, sizeof(*s->stages))) == 0) {
			st = fresh;
			fresh = NULL;
			memcpy(st->id, stage_id, strlen(stage_id) + 1);
			st->refs = 1;
			st->mtime_ms = ecr__blob_now_ms();
			s->stages[s->nstages++] = st;
		}
	}
	if (st) {
		st->refs++;
		w->stage = st;
		w->base.size = st->size;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc)
		goto done;

	/* Reopened: hash the bytes that are there (only this writer changes them). */
	if (st->size > 0 && (rc = ecr__digest_update(w->hash, st->bytes, (size_t)w->base.size)) != 0)
		goto done;

	w->base.version = ECR_BLOB_STORE_WRITER_VERSION;
	w->base.write = mem_writer_write;
	w->base.commit = mem_writer_commit;
	w->base.digest = mem_writer_digest;
	w->base.close = mem_writer_close;
	*out = &w->base;
	w = NULL;
done:
	ecr__free(fresh);
	if (w)
		mem_writer_close(&w->base);
	return rc;
}

static int mem_stage_remove(ecr_blob_store *self, const char *stage_id)
{
	mem_store *s = (mem_store *)self;
	size_t idx;
	int rc;

	if ((rc = ecr__blob_stage_id_check(stage_id)) != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	if (mem_stage_find(s, stage_id, &idx))
		mem_stage_detach(s, idx);
	else
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no staging object %s", stage_id);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

typedef struct mem_entry {
	char name[ECR__DIGEST_STRLEN_MAX];
	uint64_t size;
	int64_t mtime_ms;
} mem_entry;

/* Callbacks run on a snapshot, outside the lock, so they may call the store. */
static int mem_stage_list(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload)
{
	mem_store *s = (mem_store *)self;
	mem_entry *snap = NULL;
	size_t i, n = 0, bytes;
	int rc = 0;

	if (!cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: stage_list without a callback");
	pthread_mutex_lock(&s->lock);
	if (ecr__mul_overflow(s->nstages, sizeof(*snap), &bytes)) {
		rc = ecr__fail_oom();
	} else if (s->nstages && !(snap = ecr__malloc(bytes))) {
		rc = ECR_ENOMEM;
	} else {
		n = s->nstages;
		for (i = 0; i < n; i++) {
			memcpy(snap[i].name, s->stages[i]->id, sizeof(s->stages[i]->id));
			snap[i].size = s->stages[i]->size;
			snap[i].mtime_ms = s->stages[i]->mtime_ms;
		}
	}
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < n && rc == 0; i++)
		rc = cb(snap[i].name, snap[i].size, snap[i].mtime_ms, payload);
	ecr__free(snap);
	return rc;
}

/* --- store: blobs --- */

static int mem_reader_read(ecr_blob_store_reader *base, void *buf, size_t len, size_t *nread)
{
	mem_reader *r = (mem_reader *)base;
	size_t n;

	if (!nread || (!buf && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: read without a buffer");
	*nread = 0;
	if (r->pos >= r->base.size)
		return 0;
	n = r->base.size - r->pos < len ? (size_t)(r->base.size - r->pos) : len;
	if (n)
		memcpy(buf, r->data->bytes + r->pos, n);
	r->pos += n;
	*nread = n;
	return 0;
}

static void mem_reader_close(ecr_blob_store_reader *base)
{
	mem_reader *r = (mem_reader *)base;
	if (!r)
		return;
	mem_data_unref(r->data);
	ecr__free(r);
}

static int mem_read_open(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset)
{
	mem_store *s = (mem_store *)self;
	mem_reader *r = NULL;
	size_t pos;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: read_open without out");
	*out = NULL;
	if ((rc = ecr__blob_digest_parse(digest, NULL, NULL)) != 0)
		return rc;
	if (!(r = ecr__calloc(1, sizeof(*r))))
		return ECR_ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (!mem_blob_find(s, digest, &pos)) {
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no blob %s", digest);
	} else if (offset > s->blobs[pos].data->size) {
		rc = ecr__fail(ECR_ERANGE, ECR_ERROR_STORAGE,
			"blob store: offset %llu is past the end of %s (%zu bytes)", (unsigned long long)offset,
			digest, s->blobs[pos].data->size);
	} else {
		r->data = s->blobs[pos].data;
		__atomic_add_fetch(&r->data->refs, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		ecr__free(r);
		return rc;
	}
	r->base.version = ECR_BLOB_STORE_READER_VERSION;
	r->base.size = r->data->size;
	r->base.read = mem_reader_read;
	r->base.fd = NULL;
	r->base.close = mem_reader_close;
	r->pos = offset;
	*out = &r->base;
	return 0;
}

static int mem_stat(ecr_blob_store *self, const char *digest, uint64_t *size_out)
{
	mem_store *s = (mem_store *)self;
	size_t pos;
	int rc;

	if ((rc = ecr__blob_digest_parse(digest, NULL, NULL)) != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	if (!mem_blob_find(s, digest, &pos))
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no blob %s", digest);
	else if (size_out)
		*size_out = s->blobs[pos].data->size;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int mem_remove(ecr_blob_store *self, const char *digest)
{
	mem_store *s = (mem_store *)self;
	mem_data *gone = NULL;
	size_t pos;
	int rc;

	if ((rc = ecr__blob_digest_parse(digest, NULL, NULL)) != 0)
		return rc;
	pthread_mutex_lock(&s->lock);
	if (!mem_blob_find(s, digest, &pos)) {
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no blob %s", digest);
	} else {
		gone = s->blobs[pos].data;
		memmove(&s->blobs[pos], &s->blobs[pos + 1], (s->nblobs - pos - 1) * sizeof(*s->blobs));
		s->nblobs--;
	}
	pthread_mutex_unlock(&s->lock);
	mem_data_unref(gone);
	return rc;
}

static int mem_list(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload)
{
	mem_store *s = (mem_store *)self;
	mem_entry *snap = NULL;
	size_t i, n = 0, bytes;
	int rc = 0;

	if (!cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: list without a callback");
	pthread_mutex_lock(&s->lock);
	if (ecr__mul_overflow(s->nblobs, sizeof(*snap), &bytes)) {
		rc = ecr__fail_oom();
	} else if (s->nblobs && !(snap = ecr__malloc(bytes))) {
		rc = ECR_ENOMEM;
	} else {
		n = s->nblobs;
		for (i = 0; i < n; i++) {
			memcpy(snap[i].name, s->blobs[i].digest, sizeof(snap[i].name));
			snap[i].size = s->blobs[i].data->size;
			snap[i].mtime_ms = s->blobs[i].mtime_ms;
		}
	}
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < n && rc == 0; i++)
		rc = cb(snap[i].name, snap[i].size, snap[i].mtime_ms, payload);
	ecr__free(snap);
	return rc;
}

/* Writers and readers still open keep their staging objects and buffers:
 * readers may outlive the store, writers must be closed before it is freed. */
static void mem_free(ecr_blob_store *self)
{
	mem_store *s = (mem_store *)self;
	size_t i;
	if (!s)
		return;
	for (i = 0; i < s->nblobs; i++)
		mem_data_unref(s->blobs[i].data);
	for (i = 0; i < s->nstages; i++)
		mem_stage_unref(s->stages[i]);
	ecr__free(s->blobs);
	ecr__free(s->stages);
	pthread_mutex_destroy(&s->lock);
	ecr__free(s);
}

int ecr_blob_store_memory_new(ecr_blob_store **out)
{
	mem_store *s;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_store_memory_new: out is NULL");
	*out = NULL;
	if (!(s = ecr__calloc(1, sizeof(*s))))
		return ECR_ENOMEM;
	if ((rc = ecr_blob_store_init(&s->base, ECR_BLOB_STORE_VERSION)) != 0) {
		ecr__free(s);
		return rc;
	}
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		ecr__free(s);
		return ecr__fail(ECR_ERROR, ECR_ERROR_OS, "blob store: cannot create a mutex");
	}
	s->base.stage_open = mem_stage_open;
	s->base.stage_remove = mem_stage_remove;
	s->base.stage_list = mem_stage_list;
	s->base.read_open = mem_read_open;
	s->base.stat = mem_stat;
	s->base.remove = mem_remove;
	s->base.list = mem_list;
	s->base.free = mem_free;
	*out = &s->base;
	return 0;
}
