/* Blobs and upload sessions of a remote registry: the OCI data plane of the transport. */
#include "remote_image.h"

#include "../core/digest.h"
#include "../oci/oci.h"

/* Blobs larger than this go through an upload session, in chunks of UPLOAD_CHUNK. */
#define PUT_MONOLITHIC_MAX (32u << 20)
#define UPLOAD_CHUNK (16u << 20)

static ecr_transport *transport(const ecr_repository *repo)
{
	return repo->reg->remote->t;
}

/* --- uploads --- */

int ecr__remote_upload_begin(char **session_out, ecr_repository *repo)
{
	ecr_buf session = ECR_BUF_INIT;
	ecr_transport *t = transport(repo);
	int rc;

	*session_out = NULL;
	if ((rc = t->upload_begin(&session, t, repo->name)))
		goto done;
	if (!session.size) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the registry gave no upload session",
		               ECR__REMOTE_HOST(repo->reg));
		goto done;
	}
	if (!(*session_out = ecr__strdup(session.ptr)))
		rc = ECR_ENOMEM;
done:
	ecr_buf_dispose(&session);
	return rc;
}

int ecr__remote_upload_status(uint64_t *size_out, ecr_repository *repo, const char *session)
{
	ecr_transport *t = transport(repo);
	return t->upload_status(size_out, t, repo->name, session);
}

int ecr__remote_upload_write(char **session, ecr_repository *repo, uint64_t offset, const void *data, size_t len)
{
	ecr_buf s = ECR_BUF_INIT;
	ecr_transport *t = transport(repo);
	char *next;
	int rc;

	if ((rc = ecr__buf_puts(&s, *session)))
		return rc;
	if ((rc = t->upload_write(&s, t, repo->name, offset, data, len)))
		goto done;
	if (!s.size) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: the registry gave no upload session",
		               ECR__REMOTE_HOST(repo->reg));
		goto done;
	}
	if (strcmp(s.ptr, *session) != 0) {
		if (!(next = ecr__strdup(s.ptr))) {
			rc = ECR_ENOMEM;
			goto done;
		}
		ecr__free(*session);
		*session = next;
	}
done:
	ecr_buf_dispose(&s);
	return rc;
}

int ecr__remote_upload_commit(ecr_repository *repo, const char *session, const char *digest)
{
	ecr_transport *t = transport(repo);
	return t->upload_commit(t, repo->name, session, digest);
}

int ecr__remote_upload_cancel(ecr_repository *repo, const char *session)
{
	ecr_transport *t = transport(repo);
	return t->upload_cancel(t, repo->name, session);
}

/* --- blobs --- */

int ecr__remote_blob_stat(ecr_repository *repo, const char *digest, uint64_t *size_out)
{
	ecr_transport *t = transport(repo);
	int rc = t->blob_stat(size_out, t, repo->name, digest);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository %s has no blob %s", repo->name, digest);
	return rc;
}

/* A large blob: one session, written in chunks. */
static int put_chunked(ecr_repository *repo, const char *digest, const unsigned char *data, size_t len)
{
	char *session = NULL;
	size_t off = 0;
	int rc;

	if ((rc = ecr__remote_upload_begin(&session, repo)))
		return rc;
	while (off < len) {
		size_t n = len - off > UPLOAD_CHUNK ? UPLOAD_CHUNK : len - off;
		if ((rc = ecr__remote_upload_write(&session, repo, off, data + off, n)))
			goto fail;
		off += n;
	}
	rc = ecr__remote_upload_commit(repo, session, digest);
	if (rc == 0 || rc == ECR_EDIGEST)
		goto done; /* the session is over either way */
fail : {
	ecr__error_saved saved;
	ecr__error_save(&saved);
	(void)ecr__remote_upload_cancel(repo, session);
	ecr__error_restore(&saved);
}
done:
	ecr__free(session);
	return rc;
}

int ecr__remote_blob_put(ecr_repository *repo, const char *digest, const void *data, size_t len)
{
	ecr_transport *t = transport(repo);
	if (len > PUT_MONOLITHIC_MAX)
		return put_chunked(repo, digest, data, len);
	return t->blob_put(t, repo->name, digest, data, len);
}

/* Whether two handles reach the same remote registry. */
static bool same_registry(const ecr_registry *a, const ecr_registry *b)
{
	if (a == b)
		return true;
	if (!a->remote || !b->remote)
		return false;
	return strcmp(a->remote->host, b->remote->host) == 0 && strcmp(a->account_id, b->account_id) == 0 &&
	       strcmp(a->region, b->region) == 0;
}

int ecr__remote_blob_mount(ecr_repository *repo, ecr_repository *from, const char *digest)
{
	/* as locally for repositories of different storages */
	if (!same_registry(repo->reg, from->reg))
		return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY,
		                 "repository %s is in another storage; blob %s cannot be mounted from it", from->name,
		                 digest);
	ecr_transport *t = transport(repo);
	int rc = t->blob_mount(t, repo->name, from->name, digest);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository %s has no blob %s", from->name, digest);
	return rc;
}

int ecr__remote_blob_delete(ecr_repository *repo, const char *digest)
{
	ecr_transport *t = transport(repo);
	int rc = t->blob_delete(t, repo->name, digest);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository %s has no blob %s", repo->name, digest);
	return rc;
}

struct ecr__remote_blob {
	ecr_transport_stream *s; /* NULL for an empty range */
	ecr__digest_ctx *dg;     /* the whole blob is read: its digest is checked at the end */
	char digest[ECR__DIGEST_STRLEN_MAX];
	uint64_t remaining;
	bool failed;
};

int ecr__remote_blob_open(ecr__remote_blob **out, uint64_t *size_out, ecr_repository *repo, const char *digest,
                          uint64_t offset, uint64_t length)
{
	ecr_transport *t = transport(repo);
	ecr__remote_blob *b = NULL;
	ecr__digest_alg alg = ECR__DIGEST_SHA256;
	uint64_t size = 0, got = 0;
	int rc;

	*out = NULL;
	if ((rc = ecr__oci_validate_digest(digest, &alg)))
		return rc;
	if (strlen(digest) >= sizeof(b->digest))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "digest too long");
	/* A range is checked against the size first, with the local messages (an empty range needs no download). */
	if (offset || length) {
		if ((rc = ecr__remote_blob_stat(repo, digest, &size)))
			return rc;
		if (offset > size || (length && length > size - offset))
			return ecr__fail(
			    ECR_ERANGE, ECR_ERROR_REPOSITORY, "range %llu+%llu is not within blob %s (%llu bytes)",
			    (unsigned long long)offset, (unsigned long long)length, digest, (unsigned long long)size);
	}
	if (!(b = ecr__calloc(1, sizeof(*b))))
		return ECR_ENOMEM;
	memcpy(b->digest, digest, strlen(digest) + 1);
	if ((offset || length) && (length ? length : size - offset) == 0) {
		b->remaining = 0;
		*size_out = size;
		*out = b;
		return 0;
	}
	rc = t->blob_open(&b->s, &got, t, repo->name, digest, offset, length);
	if (rc == ECR_ENOTFOUND)
		rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_REPOSITORY, "repository %s has no blob %s", repo->name, digest);
	if (rc)
		goto fail;
	if ((offset || length) && got != size) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_TRANSPORT, "%s: blob %s has %llu bytes, then %llu",
		               ECR__REMOTE_HOST(repo->reg), digest, (unsigned long long)size, (unsigned long long)got);
		goto fail;
	}
	if (offset > got) {
		rc = ecr__fail(ECR_ERANGE, ECR_ERROR_REPOSITORY, "range %llu+%llu is not within blob %s (%llu bytes)",
		               (unsigned long long)offset, (unsigned long long)length, digest, (unsigned long long)got);
		goto fail;
	}
	b->remaining = length ? length : got - offset;
	if (offset == 0 && b->remaining == got && (rc = ecr__digest_new(&b->dg, alg)))
		goto fail;
	*size_out = got;
	*out = b;
	return 0;
fail:
	ecr__remote_blob_free(b);
	return rc;
}

/* The whole blob went through: compare its digest. */
static int check_digest(ecr__remote_blob *b)
{
	char d[ECR__DIGEST_STRLEN_MAX];
	int rc = ecr__digest_final(b->dg, d, sizeof(d));
	ecr__digest_free(b->dg);
	b->dg = NULL;
	if (rc < 0)
		return rc;
	if (strcmp(d, b->digest) != 0) {
		b->failed = true;
		return ecr__fail(ECR_EDIGEST, ECR_ERROR_TRANSPORT,
		                 "the registry sent blob %s with other content (its digest is %s)", b->digest, d);
	}
	return 0;
}

int ecr__remote_blob_read(ecr__remote_blob *b, void *buf, size_t len, size_t *nread_out)
{
	size_t n = 0;
	int rc;

	*nread_out = 0;
	if (b->failed)
		return ecr__fail(ECR_EDIGEST, ECR_ERROR_TRANSPORT, "blob %s does not match its digest", b->digest);
	if (b->remaining == 0) {
		/* an empty blob read whole */
		return b->dg ? check_digest(b) : 0;
	}
	if (len == 0)
		return 0;
	if ((uint64_t)len > b->remaining)
		len = (size_t)b->remaining;
	if ((rc = b->s->read(b->s, buf, len, &n)))
		return rc;
	if (n == 0)
		return ecr__fail(ECR_ENETWORK, ECR_ERROR_TRANSPORT, "blob %s ended %llu bytes early", b->digest,
		                 (unsigned long long)b->remaining);
	if (n > len)
		n = len;
	if (b->dg && (rc = ecr__digest_update(b->dg, buf, n)))
		return rc;
	b->remaining -= n;
	if (b->remaining == 0 && b->dg && (rc = check_digest(b)))
		return rc; /* the last bytes are not handed over */
	*nread_out = n;
	return 0;
}

void ecr__remote_blob_free(ecr__remote_blob *b)
{
	if (!b)
		return;
	if (b->s)
		b->s->close(b->s);
	ecr__digest_free(b->dg);
	ecr__free(b);
}
