/*
 * Blob uploads. A session is a row in the uploads table (who, when, how
 * much) plus a staging object of the same id in the blob store (the bytes).
 * The staging object is the truth for the size; the row's updated_at says
 * when the session was last used, and is refreshed at most every
 * touch_interval() so that a stream of chunks costs no transaction per chunk.
 *
 * Open staging writers are kept in the store's open_uploads cache, keyed by
 * upload id, so that a session resumed through a new handle (an HTTP server
 * opens one per PATCH request) does not rehash its staging object. A cache
 * entry in use by a handle is busy; a second handle on it gets ECR_EBUSY.
 * Garbage collection claims entries the same way, so it never removes a
 * session under a handle. Stores shared between processes (s3://, see
 * no_writer_cache) keep no idle writer: each handle closes its writer when it
 * ends, which saves the stage, so the session can continue on another node.
 */
#include "upload_cache.h"

#include "../core/crypto.h"
#include "../core/digest.h"
#include "../oci/oci.h"
#include "../remote/remote_image.h"

/* Idle writers kept open per store; the least recently used are closed beyond this. */
#define CACHE_IDLE_MAX 32
/* The row's updated_at is refreshed at most this often (and at least every expiry / 16). */
#define TOUCH_INTERVAL_MAX_MS 60000

struct ecr__open_upload {
	char id[ECR_UPLOAD_ID_LEN + 1];
	int64_t repo_id;          /* -1 for entries claimed by GC */
	ecr_blob_store_writer *w; /* NULL while being opened */
	bool busy;
	int64_t last_write; /* registry clock at the last write, 0 for none */
	int64_t touched_at; /* the updated_at last stored in the row */
	ecr__open_upload *next;
};

struct ecr_upload {
	ecr_registry *reg;
	ecr__store *store;
	/* The repository's identity (reg, id, name): the handle does not borrow the caller's repository. */
	ecr_repository repo;
	char id[ECR_UPLOAD_ID_LEN + 1];
	int64_t started_at;
	uint64_t size;
	ecr__open_upload *entry; /* held busy by this handle; NULL once the session ended */
	/* Remote registries (store NULL): the transport's handle on the session, which is the upload's id
	 * (it may change with every write); NULL once the session ended. */
	char *session;
};

/* Longest remote session handle accepted by ecr_upload_open(). */
#define REMOTE_SESSION_MAX 4096

/* --- the cache of open writers --- */

static ecr__open_upload **cache_find(ecr__store *s, const char *id)
{
	ecr__open_upload **pp;
	for (pp = &s->open_uploads; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0)
			return pp;
	return NULL;
}

/*
 * Take the entry of a session for exclusive use, creating an empty one (w
 * NULL) when there is none. repo_id -1 accepts any repository (GC).
 */
static int cache_acquire(ecr__open_upload **out, ecr__store *s, const char *id, int64_t repo_id)
{
	ecr__open_upload **pp, *e;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	pp = cache_find(s, id);
	if (pp) {
		e = *pp;
		if (repo_id >= 0 && e->repo_id >= 0 && e->repo_id != repo_id) {
			rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "upload %s does not belong to this repository",
				id);
			goto done;
		}
		if (e->busy) {
			rc = ecr__fail(ECR_EBUSY, ECR_ERROR_UPLOAD, "upload %s is in use by another handle", id);
			goto done;
		}
		/* Move to the front: the list is in order of last use. */
		*pp = e->next;
		e->next = s->open_uploads;
		s->open_uploads = e;
	} else {
		if (!(e = ecr__calloc(1, sizeof(*e)))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		memcpy(e->id, id, strlen(id) + 1);
		e->repo_id = repo_id;
		e->next = s->open_uploads;
		s->open_uploads = e;
	}
	e->busy = true;
	if (repo_id >= 0)
		e->repo_id = repo_id;
	*out = e;
done:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Remove an entry (held by the caller) from the cache and close its writer. */
static void cache_drop(ecr__store *s, ecr__open_upload *e)
{
	ecr__open_upload **pp;
	if (!e)
		return;
	pthread_mutex_lock(&s->lock);
	for (pp = &s->open_uploads; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	if (e->w)
		e->w->close(e->w);
	ecr__free(e);
}

/*
 * Settle a writer at the end of a request: every byte written is in the
 * staging object (a blob store writer may hold bytes of a large upload in
 * flight). flush() does that and may leave the hashing running into the next
 * request; a writer without it settles by digest(). After a failure the
 * writer's size is what the staging object kept.
 */
static int writer_settle(ecr_blob_store_writer *w)
{
	char digest[ECR__DIGEST_STRLEN_MAX];
	if (!w)
		return 0;
	if (w->version >= 2 && w->flush)
		return w->flush(w);
	return w->digest(w, digest, sizeof(digest));
}

/*
 * Hand an entry back to the cache; close the least recently used idle writers beyond CACHE_IDLE_MAX. A store
 * whose blobs are shared with other processes (no_writer_cache, set for s3://) keeps no idle writer: the next
 * request may come to another node, which must be able to reopen the stage.
 */
static void cache_release(ecr__store *s, ecr__open_upload *e)
{
	ecr__open_upload **pp, *evict = NULL;
	size_t idle = 0;

	if (!e)
		return;
	if (e->w && writer_settle(e->w) != 0) { /* close it: the next handle reopens the staging object */
		ecr__error_clear();
		cache_drop(s, e);
		return;
	}
	if (!e->w || s->no_writer_cache) { /* a shared blob store: close() saves the stage for other processes */
		cache_drop(s, e);
		return;
	}
	pthread_mutex_lock(&s->lock);
	e->busy = false;
	for (pp = &s->open_uploads; *pp;) {
		ecr__open_upload *c = *pp;
		if (!c->busy && c->w && ++idle > CACHE_IDLE_MAX) {
			*pp = c->next;
			c->next = evict;
			evict = c;
			continue;
		}
		pp = &c->next;
	}
	pthread_mutex_unlock(&s->lock);
	while (evict) {
		ecr__open_upload *next = evict->next;
		evict->w->close(evict->w);
		ecr__free(evict);
		evict = next;
	}
}

void ecr__uploads_cache_free(ecr__store *s)
{
	ecr__open_upload *e, *next;
	if (!s)
		return;
	for (e = s->open_uploads; e; e = next) {
		next = e->next;
		if (e->w)
			e->w->close(e->w);
		ecr__free(e);
	}
	s->open_uploads = NULL;
}

/* --- sessions --- */

static int64_t touch_interval(const ecr_registry *reg)
{
	uint64_t t = reg->upload_expiry_ms / 16;
	return t > TOUCH_INTERVAL_MAX_MS ? TOUCH_INTERVAL_MAX_MS : (int64_t)t;
}

static bool upload_id_valid(const char *id)
{
	size_t i;
	if (!id)
		return false;
	for (i = 0; id[i]; i++) {
		char c = id[i];
		if (i >= ECR_UPLOAD_ID_LEN)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
			return false;
	}
	return i == ECR_UPLOAD_ID_LEN;
}

static int upload_new(ecr_upload **out, ecr_repository *repo, const char *id)
{
	ecr_upload *up = ecr__calloc(1, sizeof(*up));
	if (!up)
		return ECR_ENOMEM;
	up->reg = repo->reg;
	up->store = repo->reg->store;
	up->repo.reg = repo->reg;
	up->repo.id = repo->id;
	if (!(up->repo.name = ecr__strdup(repo->name))) {
		ecr__free(up);
		return ECR_ENOMEM;
	}
	memcpy(up->id, id, ECR_UPLOAD_ID_LEN + 1);
	*out = up;
	return 0;
}

static void upload_free(ecr_upload *up)
{
	if (!up)
		return;
	ecr__free(up->session);
	ecr__free(up->repo.name);
	ecr__free(up);
}

/* A handle on a session of a remote registry (session moved in). */
static int remote_upload_new(ecr_upload **out, ecr_repository *repo, char *session, uint64_t size, int64_t started_at)
{
	ecr_upload *up = ecr__calloc(1, sizeof(*up));
	if (!up || !(up->repo.name = ecr__strdup(repo->name))) {
		ecr__free(up);
		ecr__free(session);
		return ECR_ENOMEM;
	}
	up->reg = repo->reg;
	up->repo.reg = repo->reg;
	up->repo.id = repo->id;
	up->session = session;
	up->size = size;
	up->started_at = started_at;
	*out = up;
	return 0;
}

static bool remote_session_valid(const char *session)
{
	size_t i;
	if (!session || !*session)
		return false;
	for (i = 0; session[i]; i++)
		if (i >= REMOTE_SESSION_MAX || (unsigned char)session[i] <= 0x20 || (unsigned char)session[i] >= 0x7f)
			return false;
	return true;
}

/* Delete a session row in its own transaction; ENOTFOUND when it is gone already. */
static int row_delete(ecr__store *s, const char *id)
{
	ecr__txn t = { 0 };
	int rc = ecr__txn_begin(&t, s->meta, true);
	if (rc == 0 && (rc = ecr__meta_upload_delete(&t, id)) == 0)
		rc = ecr__txn_commit(&t);
	ecr__txn_rollback(&t);
	return rc;
}

/* End the session after a failure: row, writer and staging object go; the thread's error is kept. */
static void session_end(ecr_upload *up)
{
	ecr__error_saved saved;
	ecr__error_save(&saved);
	(void)row_delete(up->store, up->id);
	cache_drop(up->store, up->entry);
	up->entry = NULL;
	(void)up->store->blobs->stage_remove(up->store->blobs, up->id);
	ecr__error_restore(&saved);
}

int ecr_upload_begin(ecr_upload **out, ecr_repository *repo)
{
	ecr_upload *up = NULL;
	ecr__store *s;
	ecr__meta_upload row;
	ecr__txn t = { 0 };
	char id[ECR_UPLOAD_ID_LEN + 1];
	bool row_made = false;
	int64_t now;
	int rc;

	if (!out || !repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_upload_begin: NULL argument");
	*out = NULL;
	if (repo->reg->remote) {
		char *session = NULL;
		now = ecr_registry_now(repo->reg);
		if ((rc = ecr__remote_upload_begin(&session, repo)))
			return rc;
		return remote_upload_new(out, repo, session, 0, now);
	}
	s = repo->reg->store;
	if ((rc = ecr__uuid_v4(id)))
		return rc;
	if ((rc = upload_new(&up, repo, id)))
		return rc;
	now = ecr_registry_now(repo->reg);

	memset(&row, 0, sizeof(row));
	memcpy(row.id, id, sizeof(row.id));
	row.repo_id = repo->id;
	row.started_at = now;
	row.updated_at = now;
	/* The row first: a staging object without a row is an orphan to GC. */
	if ((rc = ecr__txn_begin(&t, s->meta, true)) || (rc = ecr__repository_check(&t, repo)) ||
		(rc = ecr__meta_upload_insert(&t, &row)) || (rc = ecr__txn_commit(&t)))
		goto done;
	row_made = true;
	if ((rc = cache_acquire(&up->entry, s, id, repo->id)))
		goto done;
	if ((rc = s->blobs->stage_open(&up->entry->w, s->blobs, id, 1)))
		goto done;
	up->entry->touched_at = now;
	up->started_at = now;
	*out = up;
	up = NULL;
done:
	ecr__txn_rollback(&t);
	if (up) {
		if (row_made)
			session_end(up);
		else
			cache_drop(s, up->entry);
		upload_free(up);
	}
	return rc;
}

int ecr_upload_open(ecr_upload **out, ecr_repository *repo, const char *upload_id)
{
	ecr_upload *up = NULL;
	ecr__store *s;
	ecr__meta_upload row;
	ecr__txn t = { 0 };
	int64_t now, last;
	int rc;

	if (!out || !repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_upload_open: NULL argument");
	*out = NULL;
	if (repo->reg->remote) {
		uint64_t size = 0;
		char *session;
		if (!remote_session_valid(upload_id))
			return ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "unknown upload id '%.40s'",
				upload_id ? upload_id : "");
		if ((rc = ecr__remote_upload_status(&size, repo, upload_id)))
			return rc;
		if (!(session = ecr__strdup(upload_id)))
			return ECR_ENOMEM;
		return remote_upload_new(out, repo, session, size, 0);
	}
	if (!upload_id_valid(upload_id))
		return ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "unknown upload id '%.40s'",
			upload_id ? upload_id : "");
	s = repo->reg->store;
	if ((rc = upload_new(&up, repo, upload_id)))
		return rc;
	if ((rc = cache_acquire(&up->entry, s, upload_id, repo->id)))
		goto done;

	if ((rc = ecr__txn_begin(&t, s->meta, false)) || (rc = ecr__repository_check(&t, repo)))
		goto done;
	if ((rc = ecr__meta_upload_get(&t, upload_id, &row))) {
		if (rc == ECR_ENOTFOUND)
			rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "unknown upload id %s", upload_id);
		goto done;
	}
	ecr__txn_rollback(&t);
	if (row.repo_id != repo->id) {
		rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "upload %s does not belong to repository %s", upload_id,
			repo->name);
		goto done;
	}
	now = ecr_registry_now(repo->reg);
	last = row.updated_at > up->entry->last_write ? row.updated_at : up->entry->last_write;
	if (now - last > (int64_t)repo->reg->upload_expiry_ms) {
		rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "upload %s has expired", upload_id);
		goto done;
	}
	if (!up->entry->w) {
		rc = s->blobs->stage_open(&up->entry->w, s->blobs, upload_id, 0);
		if (rc == ECR_ENOTFOUND)
			rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "the data of upload %s is gone", upload_id);
		if (rc)
			goto done;
		up->entry->touched_at = row.updated_at;
	}
	up->started_at = row.started_at;
	up->size = up->entry->w->size;
	*out = up;
	up = NULL;
done:
	ecr__txn_rollback(&t);
	if (up) {
		/* Keep a cached writer only when the session may still be used. */
		if (rc == ECR_EBUSY || rc == ECR_ENOMEM || rc == ECR_EIO)
			cache_release(s, up->entry);
		else
			cache_drop(s, up->entry);
		upload_free(up);
	}
	return rc;
}

const char *ecr_upload_id(const ecr_upload *up)
{
	if (up && up->reg->remote)
		return up->session ? up->session : "";
	return up ? up->id : NULL;
}

uint64_t ecr_upload_size(const ecr_upload *up)
{
	return up ? up->size : 0;
}

int64_t ecr_upload_started_at(const ecr_upload *up)
{
	return up ? up->started_at : 0;
}

static int check_open(const ecr_upload *up, const char *fn)
{
	if (!up)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "%s: upload is NULL", fn);
	if (up->reg->remote)
		return up->session ? 0 : ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "upload has ended");
	if (!up->entry)
		return ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "upload %s has ended", up->id);
	return 0;
}

int ecr_upload_write(ecr_upload *up, uint64_t offset, const void *data, size_t len)
{
	ecr_blob_store_writer *w;
	ecr__txn t = { 0 };
	int64_t now;
	int rc;

	if ((rc = check_open(up, "ecr_upload_write")))
		return rc;
	if (!data && len)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_upload_write: data is NULL");
	if (up->reg->remote) {
		if (offset != up->size)
			return ecr__fail(ECR_ERANGE, ECR_ERROR_UPLOAD, "chunk starts at %llu; the upload has %llu bytes",
				(unsigned long long)offset, (unsigned long long)up->size);
		if (len == 0)
			return 0;
		if ((uint64_t)len > ECR__BLOB_MAX_SIZE || up->size > ECR__BLOB_MAX_SIZE - (uint64_t)len)
			return ecr__fail(ECR_ELIMIT, ECR_ERROR_UPLOAD, "a blob may have at most %llu bytes",
				(unsigned long long)ECR__BLOB_MAX_SIZE);
		if ((rc = ecr__remote_upload_write(&up->session, &up->repo, offset, data, len)))
			return rc;
		up->size += len;
		return 0;
	}
	w = up->entry->w;
	if (offset != w->size)
		return ecr__fail(ECR_ERANGE, ECR_ERROR_UPLOAD, "chunk starts at %llu; the upload has %llu bytes",
			(unsigned long long)offset, (unsigned long long)w->size);
	if (len == 0)
		return 0;
	if ((uint64_t)len > ECR__BLOB_MAX_SIZE || w->size > ECR__BLOB_MAX_SIZE - (uint64_t)len)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_UPLOAD, "a blob may have at most %llu bytes",
			(unsigned long long)ECR__BLOB_MAX_SIZE);
	rc = w->write(w, data, len);
	up->size = w->size;
	if (rc)
		return rc;

	now = ecr_registry_now(up->reg);
	up->entry->last_write = now;
	if (now - up->entry->touched_at < touch_interval(up->reg))
		return 0;
	if ((rc = ecr__txn_begin(&t, up->store->meta, true)) ||
		(rc = ecr__meta_upload_update(&t, up->id, (int64_t)w->size, now)) || (rc = ecr__txn_commit(&t))) {
		ecr__txn_rollback(&t);
		if (rc == ECR_ENOTFOUND) {
			/* The session was removed (its repository deleted): end it here too. */
			rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "upload %s no longer exists", up->id);
			session_end(up);
		}
		return rc;
	}
	up->entry->touched_at = now;
	return 0;
}

int ecr__upload_settle(ecr_upload *up)
{
	int rc;
	if (!up || up->reg->remote || !up->entry || !up->entry->w)
		return 0;
	rc = writer_settle(up->entry->w);
	up->size = up->entry->w->size;
	return rc;
}

int ecr_upload_commit(ecr_upload *up, const char *digest)
{
	ecr__store *s;
	ecr__meta_upload row;
	ecr__txn t = { 0 };
	bool locked = false;
	uint64_t committed_size = 0;
	int rc;

	if ((rc = check_open(up, "ecr_upload_commit")))
		return rc;
	if (up->reg->remote) {
		if ((rc = ecr__oci_validate_digest(digest, NULL))) {
			/* the session ends, as a local one does */
			ecr__error_saved saved;
			ecr__error_save(&saved);
			(void)ecr__remote_upload_cancel(&up->repo, up->session);
			ecr__error_restore(&saved);
		} else {
			rc = ecr__remote_upload_commit(&up->repo, up->session, digest);
			if (rc == ECR_EIO || rc == ECR_ENETWORK || rc == ECR_ETHROTTLED)
				return rc; /* the caller may retry */
		}
		ecr__free(up->session);
		up->session = NULL;
		return rc;
	}
	s = up->store;
	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		goto fail_end;

	/* The session must still exist: its repository may have been deleted meanwhile. */
	if ((rc = ecr__txn_begin(&t, s->meta, false)) || (rc = ecr__repository_check(&t, &up->repo)))
		goto fail_end;
	if ((rc = ecr__meta_upload_get(&t, up->id, &row))) {
		if (rc == ECR_ENOTFOUND)
			rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "upload %s no longer exists", up->id);
		goto fail_end;
	}
	ecr__txn_rollback(&t);

	/* Publish and link under the GC lock, so GC cannot remove the blob before the link exists. */
	pthread_rwlock_rdlock(&s->gc_lock);
	locked = true;
	rc = up->entry->w->commit(up->entry->w, digest);
	if (rc == ECR_ENOTFOUND) {
		rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "the data of upload %s is gone", up->id);
		goto fail_end;
	}
	if (rc == ECR_EDIGEST)
		goto fail_end;
	if (rc)
		goto done; /* ECR_EIO and the like: the staging object is kept, the caller may retry */

	if ((rc = ecr__txn_begin(&t, s->meta, true)) || (rc = ecr__repository_check(&t, &up->repo)) ||
		(rc = ecr__meta_link_set(&t, up->repo.id, digest, (int64_t)up->entry->w->size,
			 ecr_registry_now(up->reg))))
		goto fail_end;
	rc = ecr__meta_upload_delete(&t, up->id);
	if (rc && rc != ECR_ENOTFOUND)
		goto fail_end;
	if ((rc = ecr__txn_commit(&t)))
		goto fail_end;
	committed_size = up->entry->w->size;
	cache_drop(s, up->entry);
	up->entry = NULL;
	goto done;

fail_end:
	/* The session ends: a blob published but not linked is left to GC. */
	ecr__txn_rollback(&t);
	session_end(up);
done:
	ecr__txn_rollback(&t);
	if (locked)
		pthread_rwlock_unlock(&s->gc_lock);
	if (!rc) /* metering: the bytes of the upload committed */
		ecr__usage_count(up->reg, up->repo.name, ECR__USAGE_BLOB_UPLOAD, committed_size);
	return rc;
}

int ecr_upload_cancel(ecr_upload *up)
{
	ecr__store *s;
	int rc, rm;

	if ((rc = check_open(up, "ecr_upload_cancel")))
		return rc;
	if (up->reg->remote) {
		rc = ecr__remote_upload_cancel(&up->repo, up->session);
		ecr__free(up->session);
		up->session = NULL;
		return rc;
	}
	s = up->store;
	rc = row_delete(s, up->id);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_EUPLOAD, ECR_ERROR_UPLOAD, "upload %s no longer exists", up->id);
	cache_drop(s, up->entry);
	up->entry = NULL;
	rm = s->blobs->stage_remove(s->blobs, up->id);
	if (rc == 0 && rm != 0 && rm != ECR_ENOTFOUND)
		rc = rm;
	return rc;
}

void ecr_upload_free(ecr_upload *up)
{
	if (!up)
		return;
	if (up->entry && up->store)
		cache_release(up->store, up->entry);
	upload_free(up);
}

/* --- garbage collection of sessions --- */

typedef struct id_list {
	char (*ids)[ECR_UPLOAD_ID_LEN + 1];
	size_t count, cap;
} id_list;

static int id_list_add(id_list *l, const char *id)
{
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16, bytes;
		void *p;
		if (ecr__mul_overflow(cap, sizeof(*l->ids), &bytes))
			return ecr__fail_oom();
		if (!(p = ecr__realloc(l->ids, bytes)))
			return ECR_ENOMEM;
		l->ids = p;
		l->cap = cap;
	}
	memcpy(l->ids[l->count], id, ECR_UPLOAD_ID_LEN + 1);
	l->count++;
	return 0;
}

static int collect_expired(const ecr__meta_upload *u, void *payload)
{
	return id_list_add(payload, u->id);
}

typedef struct orphan_ctx {
	id_list *list;
	int64_t before;
} orphan_ctx;

static int collect_orphan(const char *stage_id, uint64_t size, int64_t mtime_ms, void *payload)
{
	orphan_ctx *c = payload;
	(void)size;
	/* Only ids that look like ours; other staging objects (a put in progress) are young anyway. */
	if (mtime_ms >= c->before || strlen(stage_id) > ECR_UPLOAD_ID_LEN)
		return 0;
	return id_list_add(c->list, stage_id);
}

/* Remove one expired session claimed through entry: 1 when removed, 0 when still in use, < 0 on error. */
static int expire_one(ecr__store *s, const char *id, int64_t before, bool dry_run)
{
	ecr__open_upload *e = NULL;
	ecr__meta_upload row;
	ecr__txn t = { 0 };
	int rc;

	rc = cache_acquire(&e, s, id, -1);
	if (rc == ECR_EBUSY) {
		ecr__error_clear();
		return 0;
	}
	if (rc)
		return rc;
	if (e->last_write >= before) { /* written recently through the cache; the row lags */
		cache_release(s, e);
		return 0;
	}
	if ((rc = ecr__txn_begin(&t, s->meta, !dry_run)))
		goto done;
	rc = ecr__meta_upload_get(&t, id, &row);
	if (rc == ECR_ENOTFOUND || (rc == 0 && row.updated_at >= before)) {
		ecr__error_clear();
		rc = 0; /* finished or touched meanwhile */
		goto done;
	}
	if (rc)
		goto done;
	if (dry_run) {
		rc = 1;
		goto done;
	}
	if ((rc = ecr__meta_upload_delete(&t, id)) || (rc = ecr__txn_commit(&t)))
		goto done;
	rc = s->blobs->stage_remove(s->blobs, id);
	if (rc == ECR_ENOTFOUND)
		ecr__error_clear();
	else if (rc)
		goto done;
	rc = 1;
	if (e->w) {
		e->w->close(e->w);
		e->w = NULL; /* cache_release() drops an entry without a writer */
	}
done:
	ecr__txn_rollback(&t);
	cache_release(s, e);
	return rc;
}

/* Remove a staging object that has no session: 1 when removed, 0 when it has one, < 0 on error. */
static int orphan_one(ecr__store *s, const char *id, bool dry_run)
{
	ecr__open_upload *e = NULL;
	ecr__meta_upload row;
	ecr__txn t = { 0 };
	int rc;

	rc = cache_acquire(&e, s, id, -1);
	if (rc == ECR_EBUSY) {
		ecr__error_clear();
		return 0;
	}
	if (rc)
		return rc;
	if ((rc = ecr__txn_begin(&t, s->meta, false)))
		goto done;
	rc = ecr__meta_upload_get(&t, id, &row);
	ecr__txn_rollback(&t);
	if (rc == 0)
		goto done; /* a live session */
	if (rc != ECR_ENOTFOUND)
		goto done;
	ecr__error_clear();
	if (dry_run) {
		rc = 1;
		goto done;
	}
	if (e->w) { /* an idle writer of a session whose row went with its repository */
		e->w->close(e->w);
		e->w = NULL;
	}
	rc = s->blobs->stage_remove(s->blobs, id);
	if (rc == ECR_ENOTFOUND) {
		ecr__error_clear();
		rc = 0;
	} else if (rc == 0) {
		rc = 1;
	}
done:
	cache_release(s, e);
	return rc;
}

int ecr__uploads_gc(ecr_registry *reg, int64_t expired_before, int64_t orphan_before, bool dry_run,
	uint64_t *count_out)
{
	ecr__store *s = reg->store;
	id_list expired = { 0 }, orphans = { 0 };
	orphan_ctx oc = { &orphans, orphan_before };
	ecr__txn t = { 0 };
	uint64_t count = 0;
	size_t i;
	int rc;

	if ((rc = ecr__txn_begin(&t, s->meta, false)) ||
		(rc = ecr__meta_upload_list_expired(&t, expired_before, collect_expired, &expired)))
		goto done;
	ecr__txn_rollback(&t);
	for (i = 0; i < expired.count; i++) {
		if ((rc = expire_one(s, expired.ids[i], expired_before, dry_run)) < 0)
			goto done;
		count += (uint64_t)rc;
	}
	if (s->blobs->stage_list) {
		if ((rc = s->blobs->stage_list(s->blobs, collect_orphan, &oc)))
			goto done;
		for (i = 0; i < orphans.count; i++) {
			if ((rc = orphan_one(s, orphans.ids[i], dry_run)) < 0)
				goto done;
			count += (uint64_t)rc;
		}
	}
	rc = 0;
done:
	ecr__txn_rollback(&t);
	ecr__free(expired.ids);
	ecr__free(orphans.ids);
	if (count_out)
		*count_out = count;
	return rc;
}
