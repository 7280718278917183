/*
 * Blobs through the pull-through cache: one upstream fetch per (registry,
 * digest) however many callers ask at once ("single flight").
 *
 * The first caller starts a fetch thread: it downloads the blob from upstream
 * into an upload session of the repository (hashed as it streams, published
 * and linked by ecr_upload_commit at the end) and, at the same time, into an
 * unlinked temporary file ($TMPDIR, else /tmp) from which every reader of the
 * fetch reads the bytes written so far (pread, so readers never hold more
 * than their own buffer: memory stays bounded whatever the blob's size).
 * Readers wait on the flight's condition variable for bytes beyond their
 * position; the last bytes are handed out only after the commit, so a digest
 * mismatch fails the read with ECR_EDIGEST instead of ending it cleanly. The
 * fetch depends on no reader (a reader that goes away only drops its
 * reference) and readers never slow the fetch down. Callers from other
 * repositories of the registry join the same fetch; the blob is mounted into
 * their repository after the commit.
 */
#include "cache_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ecr/sys/transport.h>

#include "../oci/oci.h"
#include "../remote/remote.h"

#define FETCH_CHUNK (1024 * 1024)

enum { FLIGHT_RUNNING = 0, FLIGHT_DONE = 1, FLIGHT_FAILED = -1 };

/* A reader waiting without blocking (ecr__blob_watch): told once when the flight moves on. */
typedef struct flight_waiter {
	ecr__blob_notify_fn notify;
	void *arg;
	struct flight_waiter *next;
} flight_waiter;

struct ecr__cache_flight {
	/* set at creation, then read-only */
	ecr_cache *cache;
	ecr_registry *reg;
	char *digest;
	char *repository;        /* the repository the blob is stored into */
	char *upath;             /* upstream repository */
	char *url;               /* upstream URL, for messages */
	ecr_registry *upstream;  /* borrowed from the cache */
	int fd;                  /* the unlinked temporary file */
	ecr__cache_flight *next; /* in cache->flights, guarded by cache->lock */
	bool in_table;           /* guarded by cache->lock */
	/* guarded by lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool size_known;
	uint64_t size;
	uint64_t avail; /* bytes in the temporary file */
	int state;      /* FLIGHT_* */
	int err_code;
	int err_class;
	char err_msg[512];
	char **also; /* other repositories to mount the blob into after the commit */
	size_t also_count;
	flight_waiter *waiters;
};

static void flight_free(ecr__cache_flight *f)
{
	if (f->fd >= 0)
		close(f->fd);
	for (size_t i = 0; i < f->also_count; i++)
		ecr__free(f->also[i]);
	ecr__free(f->also);
	ecr__free(f->digest);
	ecr__free(f->repository);
	ecr__free(f->upath);
	ecr__free(f->url);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	ecr__free(f);
}

static void flight_unref(ecr__cache_flight *f)
{
	pthread_mutex_lock(&f->lock);
	bool last = --f->refs == 0;
	pthread_mutex_unlock(&f->lock);
	if (last)
		flight_free(f);
}

/* Release f->lock, then tell the waiters: after the unlock, as they take locks of their own. */
static void flight_unlock_tell(ecr__cache_flight *f)
{
	flight_waiter *w = f->waiters;
	f->waiters = NULL;
	pthread_mutex_unlock(&f->lock);
	while (w) {
		flight_waiter *next = w->next;
		w->notify(w->arg);
		ecr__free(w);
		w = next;
	}
}

/* End the flight (under f->lock), keeping the error of the calling thread when it failed. */
static void flight_end_locked(ecr__cache_flight *f, int rc)
{
	if (rc) {
		const ecr_error *e = ecr_error_last();
		f->state = FLIGHT_FAILED;
		f->err_code = rc;
		f->err_class = e && e->code == rc ? e->klass : ECR_ERROR_TRANSPORT;
		snprintf(f->err_msg, sizeof(f->err_msg), "%s",
		         e && e->code == rc && e->message ? e->message : "failed");
	} else {
		f->state = FLIGHT_DONE;
	}
	pthread_cond_broadcast(&f->cond);
}

static int flight_error(const ecr__cache_flight *f)
{
	return ecr__fail(f->err_code, f->err_class, "%s", f->err_msg);
}

static int write_all(int fd, const char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ecr__fail_os(ECR_EIO, errno, "pull through cache: cannot write the temporary copy");
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* The fetch itself: upstream -> temporary file + upload session -> commit. */
static int fetch(ecr__cache_flight *f)
{
	ecr_transport *t = f->upstream->remote->t;
	ecr_transport_stream *s = NULL;
	ecr_repository *repo = NULL;
	ecr_upload *up = NULL;
	char *buf = NULL;
	uint64_t size = 0, got = 0;
	int rc;

	if ((rc = t->blob_open(&s, &size, t, f->upath, f->digest, 0, 0))) {
		if (rc == ECR_ENOTFOUND || rc == ECR_EIMAGE_NOT_FOUND)
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "%s/%s has no blob %s", f->url, f->upath,
			               f->digest);
		goto done;
	}
	/* created only now that upstream has the blob (templates apply) */
	if ((rc = ecr__cache_repository(&repo, f->reg, f->repository)))
		goto done;
	pthread_mutex_lock(&f->lock);
	f->size = size;
	f->size_known = true;
	pthread_cond_broadcast(&f->cond);
	flight_unlock_tell(f);

	if ((rc = ecr_upload_begin(&up, repo)))
		goto done;
	if (!(buf = ecr__malloc(FETCH_CHUNK))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&f->cache->lock);
		bool stop = f->cache->stopping;
		pthread_mutex_unlock(&f->cache->lock);
		if (stop) {
			rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT,
			               "pull through cache: the fetch of %s was stopped", f->digest);
			goto done;
		}
		if ((rc = s->read(s, buf, FETCH_CHUNK, &n)))
			goto done;
		if (n == 0)
			break;
		if (n > size - got) {
			rc = ecr__fail(ECR_EDIGEST, ECR_ERROR_TRANSPORT, "%s/%s: blob %s is longer than its %llu bytes",
			               f->url, f->upath, f->digest, (unsigned long long)size);
			goto done;
		}
		if ((rc = write_all(f->fd, buf, n, got)) || (rc = ecr_upload_write(up, got, buf, n)))
			goto done;
		got += n;
		pthread_mutex_lock(&f->lock);
		f->avail = got;
		pthread_cond_broadcast(&f->cond);
		flight_unlock_tell(f);
	}
	if (got != size) {
		rc = ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "%s/%s: blob %s ended after %llu of %llu bytes",
		               f->url, f->upath, f->digest, (unsigned long long)got, (unsigned long long)size);
		goto done;
	}
	rc = ecr_upload_commit(up, f->digest);
	ecr_upload_free(up);
	up = NULL;
	if (rc)
		goto done;
	/* the other repositories that asked meanwhile */
	pthread_mutex_lock(&f->lock);
	char **also = f->also;
	size_t also_count = f->also_count;
	f->also = NULL;
	f->also_count = 0;
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < also_count; i++) {
		ecr_repository *other = NULL;
		if (ecr__cache_repository(&other, f->reg, also[i]) != 0 || ecr_blob_mount(other, repo, f->digest) != 0)
			ecr__log(&f->cache->log, ECR_LOG_WARN, "pull through cache: cannot link %s into %s: %s",
			         f->digest, also[i], ecr_error_last()->message);
		ecr__error_clear();
		ecr_repository_free(other);
		ecr__free(also[i]);
	}
	ecr__free(also);
	ecr__log(&f->cache->log, ECR_LOG_INFO, "pull through cache: stored %s (%llu bytes) from %s/%s in %s", f->digest,
	         (unsigned long long)size, f->url, f->upath, f->repository);
done:
	if (up) {
		(void)ecr_upload_cancel(up);
		ecr_upload_free(up);
	}
	if (rc) {
		/* keep this thread's error for the readers, then log it */
		pthread_mutex_lock(&f->lock);
		flight_end_locked(f, rc);
		flight_unlock_tell(f);
		ecr__log(&f->cache->log, ECR_LOG_WARN, "pull through cache: fetching %s from %s/%s failed: %s",
		         f->digest, f->url, f->upath, f->err_msg);
	}
	ecr__free(buf);
	if (s)
		s->close(s);
	ecr_repository_free(repo);
	return rc;
}

static void *fetch_thread(void *arg)
{
	ecr__cache_flight *f = arg;
	ecr_cache *cache = f->cache;
	int rc = fetch(f);
	if (!rc) {
		pthread_mutex_lock(&f->lock);
		flight_end_locked(f, 0);
		flight_unlock_tell(f);
	}
	ecr__error_clear();
	/* out of the table: a later open finds the stored blob (or, after a failure, tries again) */
	pthread_mutex_lock(&cache->lock);
	bool drop_table_ref = false;
	if (f->in_table) {
		for (ecr__cache_flight **pp = &cache->flights; *pp; pp = &(*pp)->next)
			if (*pp == f) {
				*pp = f->next;
				break;
			}
		f->in_table = false;
		drop_table_ref = true;
	}
	pthread_mutex_unlock(&cache->lock);
	if (drop_table_ref)
		flight_unref(f);
	flight_unref(f); /* the thread's */
	pthread_mutex_lock(&cache->lock);
	cache->running--;
	pthread_cond_broadcast(&cache->idle);
	pthread_mutex_unlock(&cache->lock);
	return NULL;
}

void ecr__cache_flights_wait(ecr_cache *cache)
{
	pthread_mutex_lock(&cache->lock);
	while (cache->running)
		pthread_cond_wait(&cache->idle, &cache->lock);
	pthread_mutex_unlock(&cache->lock);
}

static int temp_file(int *fd_out)
{
	const char *dir = getenv("TMPDIR");
	ecr_buf path = ECR_BUF_INIT;
	int rc;
	if (!dir || !*dir)
		dir = "/tmp";
	if ((rc = ecr__buf_printf(&path, "%s/ecr-cache-XXXXXX", dir)))
		return rc;
	int fd = mkostemp(path.ptr, O_CLOEXEC);
	if (fd < 0) {
		rc = ecr__fail_os(ECR_EIO, errno, "pull through cache: cannot create a temporary file in %s", dir);
	} else {
		unlink(path.ptr);
		*fd_out = fd;
	}
	ecr_buf_dispose(&path);
	return rc;
}

/* A new flight for (reg, digest) into repository, with one reference for the table and one for the thread. */
static int flight_new(ecr__cache_flight **out, ecr_cache *cache, ecr_registry *reg, const char *repository,
                      const char *digest, const char *upath, const char *url, ecr_registry *upstream)
{
	ecr__cache_flight *f = ecr__calloc(1, sizeof(*f));
	int rc;
	*out = NULL;
	if (!f)
		return ECR_ENOMEM;
	f->fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->cache = cache;
	f->reg = reg;
	f->upstream = upstream;
	if (!(f->digest = ecr__strdup(digest)) || !(f->repository = ecr__strdup(repository)) ||
	    !(f->upath = ecr__strdup(upath)) || !(f->url = ecr__strdup(url))) {
		flight_free(f);
		return ECR_ENOMEM;
	}
	if ((rc = temp_file(&f->fd))) {
		flight_free(f);
		return rc;
	}
	f->refs = 2;
	*out = f;
	return 0;
}

static int flight_add_also(ecr__cache_flight *f, const char *repository)
{
	for (size_t i = 0; i < f->also_count; i++)
		if (strcmp(f->also[i], repository) == 0)
			return 0;
	char **v = ecr__realloc(f->also, (f->also_count + 1) * sizeof(char *));
	if (!v)
		return ECR_ENOMEM;
	f->also = v;
	if (!(v[f->also_count] = ecr__strdup(repository)))
		return ECR_ENOMEM;
	f->also_count++;
	return 0;
}

/* --- readers --- */

static int reader_read(void *ctx, uint64_t pos, void *buf, size_t len, size_t *nread_out)
{
	ecr__cache_flight *f = ctx;
	int rc = 0;
	*nread_out = 0;
	pthread_mutex_lock(&f->lock);
	while (f->state == FLIGHT_RUNNING && f->avail <= pos && pos < f->size)
		pthread_cond_wait(&f->cond, &f->lock);
	if (f->state == FLIGHT_FAILED) {
		rc = flight_error(f);
		pthread_mutex_unlock(&f->lock);
		return rc;
	}
	if (pos >= f->size) {
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	uint64_t n = f->avail - pos;
	if (n > len)
		n = len;
	/* the end of the blob only once it is verified and stored */
	if (pos + n == f->size) {
		while (f->state == FLIGHT_RUNNING)
			pthread_cond_wait(&f->cond, &f->lock);
		if (f->state == FLIGHT_FAILED) {
			rc = flight_error(f);
			pthread_mutex_unlock(&f->lock);
			return rc;
		}
	}
	pthread_mutex_unlock(&f->lock);
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(f->fd, (char *)buf + done, (size_t)n - done, (off_t)(pos + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ecr__fail_os(ECR_EIO, r < 0 ? errno : EIO,
			                    "pull through cache: cannot read the temporary copy of %s", f->digest);
		done += (size_t)r;
	}
	*nread_out = done;
	return 0;
}

static void reader_close(void *ctx)
{
	flight_unref(ctx);
}

/* Whether reader_read at pos would return at once (it waits for bytes not fetched yet, and at the end of the
 * blob for the commit): 1, or 0 with notify(arg) registered. */
static int reader_watch(void *ctx, uint64_t pos, ecr__blob_notify_fn notify, void *arg)
{
	ecr__cache_flight *f = ctx;
	flight_waiter *w = ecr__malloc(sizeof(*w));
	int ready;
	if (!w)
		return 1; /* the read will wait, as without watching */
	pthread_mutex_lock(&f->lock);
	ready = f->state != FLIGHT_RUNNING || (f->avail > pos && f->avail < f->size);
	if (!ready) {
		w->notify = notify;
		w->arg = arg;
		w->next = f->waiters;
		f->waiters = w;
		w = NULL;
	}
	pthread_mutex_unlock(&f->lock);
	ecr__free(w);
	return ready;
}

static int reader_unwatch(void *ctx, void *arg)
{
	ecr__cache_flight *f = ctx;
	flight_waiter *found = NULL;
	pthread_mutex_lock(&f->lock);
	for (flight_waiter **p = &f->waiters; *p; p = &(*p)->next) {
		if ((*p)->arg == arg) {
			found = *p;
			*p = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&f->lock);
	ecr__free(found);
	return found != NULL;
}

/* Whether the repository (if it exists) holds the blob: 1 with the reader opened, 0 not, negative on errors. */
static int open_stored(ecr_blob **out, ecr_registry *reg, const char *repository, const char *digest, uint64_t offset,
                       uint64_t length)
{
	ecr_repository *repo = NULL;
	int rc = ecr_repository_open(&repo, reg, repository);
	if (rc == ECR_EREPOSITORY_NOT_FOUND) {
		ecr__error_clear();
		return 0;
	}
	if (rc)
		return rc;
	rc = ecr_blob_open(out, repo, digest, offset, length);
	ecr_repository_free(repo);
	if (rc == ECR_ENOTFOUND) {
		ecr__error_clear();
		return 0;
	}
	return rc ? rc : 1;
}

int ecr_cache_blob_open(ecr_blob **out, ecr_cache *cache, ecr_registry *reg, const char *repository, const char *digest,
                        uint64_t offset, uint64_t length)
{
	ecr__ptc_rule rule;
	ecr_buf upath = ECR_BUF_INIT;
	ecr_registry *upstream = NULL;
	ecr__cache_flight *f = NULL;
	pthread_t th;
	int rc;

	memset(&rule, 0, sizeof(rule));
	if (!out || !cache || !reg || !repository || !digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_cache_blob_open: NULL argument");
	*out = NULL;
	if (reg->remote)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INVALID,
		                 "the pull through cache serves registries of this process, not remote ones");
	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	if ((rc = open_stored(out, reg, repository, digest, offset, length)))
		return rc < 0 ? rc : 0;

	if ((rc = ecr__cache_rule(&rule, &upath, reg, repository)) ||
	    (rc = ecr__cache_upstream_get(&upstream, cache, &rule)))
		goto done;

	pthread_mutex_lock(&cache->lock);
	if (cache->stopping) {
		pthread_mutex_unlock(&cache->lock);
		rc = ecr__fail(ECR_EBUSY, ECR_ERROR_INVALID, "the pull through cache is being freed");
		goto done;
	}
	for (f = cache->flights; f; f = f->next)
		if (f->reg == reg && strcmp(f->digest, digest) == 0)
			break;
	if (f) {
		pthread_mutex_lock(&f->lock);
		f->refs++;
		if (strcmp(f->repository, repository) != 0 && f->state == FLIGHT_RUNNING)
			rc = flight_add_also(f, repository);
		pthread_mutex_unlock(&f->lock);
		pthread_mutex_unlock(&cache->lock);
		if (rc) {
			flight_unref(f);
			f = NULL;
			goto done;
		}
	} else {
		/* the blob may have been stored since we looked (a fetch that just ended) */
		rc = open_stored(out, reg, repository, digest, offset, length);
		if (rc) {
			pthread_mutex_unlock(&cache->lock);
			if (rc > 0)
				rc = 0;
			goto done;
		}
		if ((rc = flight_new(&f, cache, reg, repository, digest, upath.ptr, rule.upstream_url, upstream))) {
			pthread_mutex_unlock(&cache->lock);
			goto done;
		}
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		int err = pthread_create(&th, &attr, fetch_thread, f);
		pthread_attr_destroy(&attr);
		if (err) {
			pthread_mutex_unlock(&cache->lock);
			flight_free(f);
			f = NULL;
			rc = ecr__fail_os(ECR_ERROR, err, "pull through cache: cannot start a fetch thread");
			goto done;
		}
		f->in_table = true;
		f->next = cache->flights;
		cache->flights = f;
		cache->running++;
		pthread_mutex_lock(&f->lock);
		f->refs++; /* this caller's */
		pthread_mutex_unlock(&f->lock);
		pthread_mutex_unlock(&cache->lock);
	}

	/* the size first (the upstream answered), then a reader */
	pthread_mutex_lock(&f->lock);
	while (!f->size_known && f->state != FLIGHT_FAILED)
		pthread_cond_wait(&f->cond, &f->lock);
	if (!f->size_known) {
		rc = flight_error(f);
		pthread_mutex_unlock(&f->lock);
		goto done;
	}
	uint64_t size = f->size;
	bool stored = f->state == FLIGHT_DONE;
	pthread_mutex_unlock(&f->lock);
	if (stored && strcmp(f->repository, repository) == 0) {
		/* finished meanwhile: read the stored blob (it has a file descriptor) */
		rc = open_stored(out, reg, repository, digest, offset, length);
		if (rc != 0) {
			if (rc > 0)
				rc = 0;
			goto done;
		}
	}
	if ((rc = ecr__blob_new_stream(out, size, offset, length, reader_read, reader_close, f)))
		goto done;
	ecr__blob_stream_set_watch(*out, reader_watch, reader_unwatch);
	f = NULL; /* the blob holds the reference */
done:
	if (f)
		flight_unref(f);
	ecr__ptc_rule_dispose(&rule);
	ecr_buf_dispose(&upath);
	return rc;
}

int ecr_cache_blob_stat(ecr_cache *cache, ecr_registry *reg, const char *repository, const char *digest,
                        uint64_t *size_out)
{
	ecr__ptc_rule rule;
	ecr_buf upath = ECR_BUF_INIT;
	ecr_registry *upstream = NULL;
	ecr_repository *repo = NULL;
	uint64_t size = 0;
	int rc;

	memset(&rule, 0, sizeof(rule));
	if (!cache || !reg || !repository || !digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_cache_blob_stat: NULL argument");
	if (reg->remote)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_INVALID,
		                 "the pull through cache serves registries of this process, not remote ones");
	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	rc = ecr_repository_open(&repo, reg, repository);
	if (rc == 0) {
		rc = ecr_blob_stat(repo, digest, &size);
		ecr_repository_free(repo);
		if (rc == 0)
			goto done;
	}
	if (rc != ECR_ENOTFOUND && rc != ECR_EREPOSITORY_NOT_FOUND)
		goto done;
	ecr__error_clear();
	if ((rc = ecr__cache_rule(&rule, &upath, reg, repository)) ||
	    (rc = ecr__cache_upstream_get(&upstream, cache, &rule)))
		goto done;
	ecr_transport *t = upstream->remote->t;
	rc = t->blob_stat(&size, t, upath.ptr, digest);
done:
	if (!rc && size_out)
		*size_out = size;
	ecr__ptc_rule_dispose(&rule);
	ecr_buf_dispose(&upath);
	return rc;
}
