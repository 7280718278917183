/* Blobs of a repository: a link row (repository, digest) over the shared blob store. */
#include "upload_cache.h"

#include "cache_support.h"
#include "metering.h"

#include "../core/crypto.h"
#include "../oci/oci.h"
#include "../remote/remote_image.h"

struct ecr_blob {
	ecr_blob_store_reader *r;
	uint64_t size;      /* the whole blob */
	uint64_t offset;    /* first byte of the range */
	uint64_t remaining; /* bytes of the range not read yet */
	ecr__remote_blob *remote; /* a remote registry's download (then r is NULL) */
	/* A stream the pull-through cache feeds (cache_support.h; then r and remote are NULL). */
	ecr__blob_stream_read_fn stream_read;
	ecr__blob_stream_close_fn stream_close;
	void *stream_ctx;
	uint64_t stream_pos; /* position in the whole blob */
	ecr__blob_stream_watch_fn stream_watch; /* NULL: reads may wait, and cannot tell */
	ecr__blob_stream_unwatch_fn stream_unwatch;
};

void ecr__blob_stream_set_watch(ecr_blob *b, ecr__blob_stream_watch_fn watch_fn, ecr__blob_stream_unwatch_fn unwatch_fn)
{
	b->stream_watch = watch_fn;
	b->stream_unwatch = unwatch_fn;
}

int ecr__blob_watch(ecr_blob *b, ecr__blob_notify_fn notify, void *arg)
{
	if (!b->stream_watch || b->remaining == 0)
		return 1;
	return b->stream_watch(b->stream_ctx, b->stream_pos, notify, arg);
}

int ecr__blob_unwatch(ecr_blob *b, void *arg)
{
	return b->stream_unwatch ? b->stream_unwatch(b->stream_ctx, arg) : 0;
}

int ecr__blob_new_stream(ecr_blob **out, uint64_t size, uint64_t offset, uint64_t length,
	ecr__blob_stream_read_fn read_fn, ecr__blob_stream_close_fn close_fn, void *ctx)
{
	ecr_blob *b;
	*out = NULL;
	if (offset > size || (length && length > size - offset))
		return ecr__fail(ECR_ERANGE, ECR_ERROR_REPOSITORY, "range %llu+%llu is not within the blob (%llu bytes)",
			(unsigned long long)offset, (unsigned long long)length, (unsigned long long)size);
	if (!(b = ecr__calloc(1, sizeof(*b))))
		return ECR_ENOMEM;
	b->size = size;
	b->offset = offset;
	b->remaining = length ? length : size - offset;
	b->stream_read = read_fn;
	b->stream_close = close_fn;
	b->stream_ctx = ctx;
	b->stream_pos = offset;
	*out = b;
	return 0;
}

/* Write data into a fresh staging object; *w_out is open on success. */
static int stage_write(ecr_blob_store_writer **w_out, ecr__store *s, char id[ECR_UPLOAD_ID_LEN + 1],
	const void *data, size_t len)
{
	ecr_blob_store_writer *w = NULL;
	int rc;

	*w_out = NULL;
	if ((rc = ecr__uuid_v4(id)) || (rc = s->blobs->stage_open(&w, s->blobs, id, 1)))
		return rc;
	if (len && (rc = w->write(w, data, len))) {
		w->close(w);
		(void)s->blobs->stage_remove(s->blobs, id);
		return rc;
	}
	*w_out = w;
	return 0;
}

/* Commit a staging object; it is gone afterwards whatever happens. */
static int stage_commit(ecr__store *s, ecr_blob_store_writer *w, const char *id, const char *digest)
{
	int rc = w->commit(w, digest);
	w->close(w);
	if (rc && rc != ECR_EDIGEST) {
		ecr__error_saved saved;
		ecr__error_save(&saved);
		(void)s->blobs->stage_remove(s->blobs, id);
		ecr__error_restore(&saved);
	}
	return rc;
}

int ecr__blob_store_put(ecr__store *s, const char *digest, const void *data, size_t len)
{
	ecr_blob_store_writer *w;
	char id[ECR_UPLOAD_ID_LEN + 1];
	int rc;

	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	if ((uint64_t)len > ECR__BLOB_MAX_SIZE)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_STORAGE, "a blob may have at most %llu bytes",
			(unsigned long long)ECR__BLOB_MAX_SIZE);
	if ((rc = stage_write(&w, s, id, data, len)))
		return rc;
	return stage_commit(s, w, id, digest);
}

int ecr__blob_store_get(ecr__store *s, const char *digest, size_t max, ecr_buf *out)
{
	ecr_blob_store_reader *r = NULL;
	size_t want, got = 0, n, start = out->size;
	int rc;

	if ((rc = s->blobs->read_open(&r, s->blobs, digest, 0)))
		return rc;
	if (r->size > (uint64_t)max) {
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_STORAGE, "blob %.140s has %llu bytes, more than %zu", digest,
			(unsigned long long)r->size, max);
		goto done;
	}
	want = (size_t)r->size;
	if (ecr__add_overflow(start, want, &n)) {
		rc = ecr__fail_oom();
		goto done;
	}
	if ((rc = ecr__buf_grow(out, n)))
		goto done;
	while (got < want) {
		if ((rc = r->read(r, out->ptr + start + got, want - got, &n)))
			goto done;
		if (n == 0) {
			rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob %.140s ended after %zu of %zu bytes", digest,
				got, want);
			goto done;
		}
		got += n;
	}
	out->size = start + want;
	out->ptr[out->size] = '\0';
done:
	if (rc && out->ptr)
		out->ptr[start] = '\0';
	if (r)
		r->close(r);
	return rc;
}

static int link_size(ecr_repository *repo, const char *digest, uint64_t *size_out)
{
	ecr__txn t = { 0 };
	int64_t size = 0;
	int rc;

	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, false)) || (rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_link_get(&t, repo->id, digest, &size);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository %s has no blob %s", repo->name, digest);
done:
	ecr__txn_rollback(&t);
	if (rc == 0)
		*size_out = size < 0 ? 0 : (uint64_t)size;
	return rc;
}

int ecr_blob_stat(ecr_repository *repo, const char *digest, uint64_t *size_out)
{
	uint64_t size;
	int rc;
	if (!repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_stat: repository is NULL");
	if (repo->reg->remote) {
		if ((rc = ecr__oci_validate_digest(digest, NULL)) || (rc = ecr__remote_blob_stat(repo, digest, &size)))
			return rc;
		if (size_out)
			*size_out = size;
		return 0;
	}
	if ((rc = link_size(repo, digest, &size)))
		return rc;
	if (size_out)
		*size_out = size;
	return 0;
}

/* ecr_blob_open; count: meter the read as a blob download (not for the library's own reads: metering.h). */
static int blob_open(ecr_blob **out, ecr_repository *repo, const char *digest, uint64_t offset, uint64_t length,
	bool count)
{
	ecr_blob *b = NULL;
	ecr__store *s;
	uint64_t size;
	int rc;

	if (!out || !repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_open: NULL argument");
	*out = NULL;
	if (repo->reg->remote) {
		if ((rc = ecr__oci_validate_digest(digest, NULL)))
			return rc;
		if (!(b = ecr__calloc(1, sizeof(*b))))
			return ECR_ENOMEM;
		if ((rc = ecr__remote_blob_open(&b->remote, &size, repo, digest, offset, length))) {
			ecr__free(b);
			return rc;
		}
		b->size = size;
		b->offset = offset;
		b->remaining = length ? length : size - offset;
		*out = b;
		return 0;
	}
	if ((rc = link_size(repo, digest, &size)))
		return rc;
	if (offset > size || (length && length > size - offset))
		return ecr__fail(ECR_ERANGE, ECR_ERROR_REPOSITORY, "range %llu+%llu is not within blob %s (%llu bytes)",
			(unsigned long long)offset, (unsigned long long)length, digest, (unsigned long long)size);
	s = repo->reg->store;
	if (!(b = ecr__calloc(1, sizeof(*b))))
		return ECR_ENOMEM;
	if ((rc = s->blobs->read_open(&b->r, s->blobs, digest, offset)))
		goto done;
	if (b->r->size != size) {
		rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob %s has %llu bytes in storage, %llu recorded", digest,
			(unsigned long long)b->r->size, (unsigned long long)size);
		goto done;
	}
	b->size = size;
	b->offset = offset;
	b->remaining = length ? length : size - offset;
	*out = b;
	b = NULL;
	/* metering: the range to serve, counted when the read is opened */
	if (count)
		ecr__usage_count(repo->reg, repo->name, ECR__USAGE_BLOB_DOWNLOAD, (*out)->remaining);
done:
	ecr_blob_free(b);
	return rc;
}

int ecr_blob_open(ecr_blob **out, ecr_repository *repo, const char *digest, uint64_t offset, uint64_t length)
{
	return blob_open(out, repo, digest, offset, length, true);
}

int ecr__blob_open_uncounted(ecr_blob **out, ecr_repository *repo, const char *digest, uint64_t offset,
	uint64_t length)
{
	return blob_open(out, repo, digest, offset, length, false);
}

int ecr_blob_download_url(ecr_buf *out, ecr_repository *repo, const char *digest, int64_t lifetime_seconds)
{
	ecr_blob_store *bs;
	uint64_t size;
	int rc;

	if (!out || !repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_download_url: NULL argument");
	if (lifetime_seconds < 1 || lifetime_seconds > 604800)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"ecr_blob_download_url: lifetime %lld s is not within 1 s to 7 days",
			(long long)lifetime_seconds);
	if (repo->reg->remote)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_REPOSITORY,
			"download URLs are offered by registries on local storage only");
	if ((rc = link_size(repo, digest, &size)))
		return rc;
	bs = repo->reg->store->blobs;
	/* presign is a version 2 member: a version 1 backend's struct ends before it */
	if (bs->version < 2 || !bs->presign)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_STORAGE, "the blob store cannot presign download URLs");
	return bs->presign(bs, digest, lifetime_seconds, out);
}

uint64_t ecr_blob_size(const ecr_blob *blob)
{
	return blob ? blob->size : 0;
}

int ecr_blob_read(ecr_blob *blob, void *buf, size_t len, size_t *nread_out)
{
	size_t n = 0;
	int rc;

	if (!blob || !nread_out || (!buf && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_read: NULL argument");
	*nread_out = 0;
	if (blob->remaining == 0 || len == 0)
		return 0;
	if ((uint64_t)len > blob->remaining)
		len = (size_t)blob->remaining;
	if (blob->stream_read) {
		if ((rc = blob->stream_read(blob->stream_ctx, blob->stream_pos, buf, len, &n)))
			return rc;
		if (n == 0)
			return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob stream ended %llu bytes early",
				(unsigned long long)blob->remaining);
		if (n > len)
			n = len;
		blob->remaining -= n;
		blob->stream_pos += n;
		*nread_out = n;
		return 0;
	}
	if (blob->remote) {
		if ((rc = ecr__remote_blob_read(blob->remote, buf, len, &n)))
			return rc;
		if (n > len)
			n = len;
		blob->remaining -= n;
		*nread_out = n;
		return 0;
	}
	if ((rc = blob->r->read(blob->r, buf, len, &n)))
		return rc;
	if (n == 0)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob ended %llu bytes early",
			(unsigned long long)blob->remaining);
	if (n > len)
		n = len;
	blob->remaining -= n;
	*nread_out = n;
	return 0;
}

int ecr_blob_fd(ecr_blob *blob, int *fd_out, uint64_t *offset_out)
{
	uint64_t base = 0;
	int fd = -1, rc;

	if (!blob || !fd_out || !offset_out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_fd: NULL argument");
	if (blob->remote)
		return ecr__fail(ECR_ENOTSUPPORTED, ECR_ERROR_TRANSPORT,
			"a blob of a remote registry has no file descriptor: read it with ecr_blob_read");
	if (blob->stream_read)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE,
			"a blob streamed through the pull-through cache has no file descriptor");
	if (!blob->r->fd)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "the blob storage has no file descriptors");
	if ((rc = blob->r->fd(blob->r, &fd, &base)))
		return rc;
	*fd_out = fd;
	*offset_out = base + blob->offset;
	return 0;
}

void ecr_blob_free(ecr_blob *blob)
{
	if (!blob)
		return;
	if (blob->r)
		blob->r->close(blob->r);
	if (blob->stream_close)
		blob->stream_close(blob->stream_ctx);
	ecr__remote_blob_free(blob->remote);
	ecr__free(blob);
}

int ecr_blob_put(ecr_repository *repo, const char *digest, const void *data, size_t len)
{
	ecr_blob_store_writer *w = NULL;
	ecr__store *s;
	ecr__txn t = { 0 };
	char id[ECR_UPLOAD_ID_LEN + 1];
	int rc;

	if (!repo || (!data && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_put: NULL argument");
	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	if ((uint64_t)len > ECR__BLOB_MAX_SIZE)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_UPLOAD, "a blob may have at most %llu bytes",
			(unsigned long long)ECR__BLOB_MAX_SIZE);
	if (repo->reg->remote)
		return ecr__remote_blob_put(repo, digest, data, len);
	s = repo->reg->store;
	/* The bytes are written outside the GC lock; only publishing and linking need it. */
	if ((rc = stage_write(&w, s, id, data, len)))
		return rc;
	pthread_rwlock_rdlock(&s->gc_lock);
	if ((rc = stage_commit(s, w, id, digest)))
		goto done;
	if ((rc = ecr__txn_begin(&t, s->meta, true)) || (rc = ecr__repository_check(&t, repo)) ||
		(rc = ecr__meta_link_set(&t, repo->id, digest, (int64_t)len, ecr_registry_now(repo->reg))))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	pthread_rwlock_unlock(&s->gc_lock);
	if (!rc)
		ecr__usage_count(repo->reg, repo->name, ECR__USAGE_BLOB_UPLOAD, len); /* metering */
	return rc;
}

int ecr_blob_mount(ecr_repository *repo, ecr_repository *from, const char *digest)
{
	ecr__store *s;
	ecr__txn t = { 0 };
	int64_t size = 0;
	uint64_t stored = 0;
	int rc;

	if (!repo || !from)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_mount: NULL argument");
	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	if (repo->reg->remote || from->reg->remote)
		return ecr__remote_blob_mount(repo, from, digest);
	s = repo->reg->store;
	if (from->reg->store != s)
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY,
			"repository %s is in another storage; blob %s cannot be mounted from it", from->name, digest);

	pthread_rwlock_rdlock(&s->gc_lock);
	if ((rc = ecr__txn_begin(&t, s->meta, true)))
		goto done;
	rc = ecr__meta_link_get(&t, from->id, digest, &size);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository %s has no blob %s", from->name, digest);
	if (rc || (rc = ecr__repository_check(&t, repo)))
		goto done;
	/* Under the GC lock, what the store has now stays until the link below exists. */
	if ((rc = s->blobs->stat(s->blobs, digest, &stored)))
		goto done;
	if ((rc = ecr__meta_link_set(&t, repo->id, digest, (int64_t)stored, ecr_registry_now(repo->reg))))
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	pthread_rwlock_unlock(&s->gc_lock);
	return rc;
}

int ecr_blob_delete(ecr_repository *repo, const char *digest)
{
	ecr__txn t = { 0 };
	int rc;

	if (!repo)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_delete: repository is NULL");
	if ((rc = ecr__oci_validate_digest(digest, NULL)))
		return rc;
	if (repo->reg->remote)
		return ecr__remote_blob_delete(repo, digest);
	if ((rc = ecr__txn_begin(&t, repo->reg->store->meta, true)) || (rc = ecr__repository_check(&t, repo)))
		goto done;
	rc = ecr__meta_link_delete(&t, repo->id, digest);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository %s has no blob %s", repo->name, digest);
	if (rc)
		goto done;
	rc = ecr__txn_commit(&t);
done:
	ecr__txn_rollback(&t);
	return rc;
}
