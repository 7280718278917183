/* The blob store vtable helpers and what the built-in stores share. */
#include "../core/core.h"
#include "blob_common.h"
#include "meta.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

int ecr_blob_store_init(ecr_blob_store *store, unsigned int version)
{
	int rc;
	if (!store)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_store_init: store is NULL");
	if ((rc = ecr__check_version(version, ECR_BLOB_STORE_VERSION, "ecr_blob_store")) != 0)
		return rc;
	/* a version-1 backend's struct ends before presign */
	memset(store, 0, version >= 2 ? sizeof(*store) : offsetof(ecr_blob_store, presign));
	store->version = version;
	return 0;
}

void ecr_blob_store_free(ecr_blob_store *store)
{
	if (store && store->free)
		store->free(store);
}

bool ecr__blob_is_hex(const char *name, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return name[len] == '\0';
}

int ecr__blob_digest_parse(const char *digest, ecr__digest_alg *alg_out, const char **hex_out)
{
	const char *colon;
	ecr__digest_alg alg;

	if (!digest)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "digest is NULL");
	colon = strchr(digest, ':');
	if (!colon || ecr__digest_alg_from_name(&alg, digest, (size_t)(colon - digest)) != 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "invalid digest '%.80s': unsupported algorithm",
			digest);
	if (!ecr__blob_is_hex(colon + 1, ecr__digest_hex_len(alg)))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"invalid digest '%.150s': expected %zu lowercase hex digits after '%s:'", digest,
			ecr__digest_hex_len(alg), ecr__digest_alg_name(alg));
	if (alg_out)
		*alg_out = alg;
	if (hex_out)
		*hex_out = colon + 1;
	return 0;
}

bool ecr__blob_stage_id_valid(const char *name)
{
	size_t i;
	if (!name)
		return false;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		if (i >= ECR__BLOB_STAGE_ID_MAX)
			return false;
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
			return false;
	}
	return i > 0;
}

int ecr__blob_stage_id_check(const char *stage_id)
{
	if (!ecr__blob_stage_id_valid(stage_id))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID,
			"invalid staging id '%.80s': expected 1 to 64 letters, digits or '-'",
			stage_id ? stage_id : "(null)");
	return 0;
}

void ecr__blob_digest_path(char out[ECR__BLOB_PATH_MAX], ecr__digest_alg alg, const char *hex)
{
	snprintf(out, ECR__BLOB_PATH_MAX, "blobs/%s/%.2s/%s", ecr__digest_alg_name(alg), hex, hex);
}

int ecr__blob_fail_mismatch(const char *expected, const char *actual)
{
	return ecr__fail(ECR_EDIGEST, ECR_ERROR_STORAGE, "digest mismatch: expected %s, content is %s", expected,
		actual);
}

int64_t ecr__blob_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- counting storage errors: a blob store wrapped so that every failed call is counted in one place --- */

static _Atomic uint64_t blob_errors;

uint64_t ecr__blob_errors(void) { return atomic_load_explicit(&blob_errors, memory_order_relaxed); }

static int counted(int rc)
{
	if (rc && ecr__storage_error_counts(rc))
		atomic_fetch_add_explicit(&blob_errors, 1, memory_order_relaxed);
	return rc;
}

typedef struct counting_store {
	ecr_blob_store pub;
	ecr_blob_store *inner;
} counting_store;

typedef struct counting_writer {
	ecr_blob_store_writer pub;
	ecr_blob_store_writer *inner;
} counting_writer;

typedef struct counting_reader {
	ecr_blob_store_reader pub;
	ecr_blob_store_reader *inner;
} counting_reader;

#define INNER(self) (((counting_store *)(self))->inner)

static int cw_write(ecr_blob_store_writer *w, const void *data, size_t len)
{
	counting_writer *cw = (counting_writer *)w;
	int rc = cw->inner->write(cw->inner, data, len);
	cw->pub.size = cw->inner->size;
	return counted(rc);
}

static int cw_commit(ecr_blob_store_writer *w, const char *digest)
{
	counting_writer *cw = (counting_writer *)w;
	int rc = cw->inner->commit(cw->inner, digest);
	cw->pub.size = cw->inner->size;
	return counted(rc);
}

static int cw_digest(ecr_blob_store_writer *w, char *out, size_t outlen)
{
	counting_writer *cw = (counting_writer *)w;
	return counted(cw->inner->digest(cw->inner, out, outlen));
}

static int cw_flush(ecr_blob_store_writer *w)
{
	counting_writer *cw = (counting_writer *)w;
	int rc = cw->inner->flush(cw->inner);
	cw->pub.size = cw->inner->size;
	return counted(rc);
}

static void cw_close(ecr_blob_store_writer *w)
{
	counting_writer *cw = (counting_writer *)w;
	if (cw->inner)
		cw->inner->close(cw->inner);
	ecr__free(cw);
}

static int cs_stage_open(ecr_blob_store_writer **out, ecr_blob_store *self, const char *stage_id, int create)
{
	ecr_blob_store_writer *inner = NULL;
	counting_writer *cw;
	int rc;
	*out = NULL;
	if ((rc = INNER(self)->stage_open(&inner, INNER(self), stage_id, create)))
		return counted(rc);
	if (!(cw = ecr__calloc(1, sizeof(*cw)))) {
		inner->close(inner);
		return ECR_ENOMEM;
	}
	cw->pub.version = inner->version;
	cw->pub.size = inner->size;
	cw->pub.write = cw_write;
	cw->pub.commit = cw_commit;
	cw->pub.digest = cw_digest;
	cw->pub.close = cw_close;
	if (inner->version >= 2 && inner->flush)
		cw->pub.flush = cw_flush;
	cw->inner = inner;
	*out = &cw->pub;
	return 0;
}

static int cs_stage_remove(ecr_blob_store *self, const char *stage_id)
{
	return counted(INNER(self)->stage_remove(INNER(self), stage_id));
}

static int cs_stage_list(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload)
{
	return counted(INNER(self)->stage_list(INNER(self), cb, payload));
}

static int cr_read(ecr_blob_store_reader *r, void *buf, size_t len, size_t *nread)
{
	counting_reader *cr = (counting_reader *)r;
	return counted(cr->inner->read(cr->inner, buf, len, nread));
}

static int cr_fd(ecr_blob_store_reader *r, int *fd_out, uint64_t *offset_out)
{
	counting_reader *cr = (counting_reader *)r;
	return counted(cr->inner->fd(cr->inner, fd_out, offset_out));
}

static void cr_close(ecr_blob_store_reader *r)
{
	counting_reader *cr = (counting_reader *)r;
	if (cr->inner)
		cr->inner->close(cr->inner);
	ecr__free(cr);
}

static int cs_read_open(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset)
{
	ecr_blob_store_reader *inner = NULL;
	counting_reader *cr;
	int rc;
	*out = NULL;
	if ((rc = INNER(self)->read_open(&inner, INNER(self), digest, offset)))
		return counted(rc);
	if (!(cr = ecr__calloc(1, sizeof(*cr)))) {
		inner->close(inner);
		return ECR_ENOMEM;
	}
	cr->pub.version = inner->version;
	cr->pub.size = inner->size;
	cr->pub.read = cr_read;
	cr->pub.fd = inner->fd ? cr_fd : NULL;
	cr->pub.close = cr_close;
	cr->inner = inner;
	*out = &cr->pub;
	return 0;
}

static int cs_stat(ecr_blob_store *self, const char *digest, uint64_t *size_out)
{
	return counted(INNER(self)->stat(INNER(self), digest, size_out));
}

static int cs_remove(ecr_blob_store *self, const char *digest)
{
	return counted(INNER(self)->remove(INNER(self), digest));
}

static int cs_list(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload)
{
	return counted(INNER(self)->list(INNER(self), cb, payload));
}

static int cs_presign(ecr_blob_store *self, const char *digest, int64_t lifetime_seconds, ecr_buf *url_out)
{
	return counted(INNER(self)->presign(INNER(self), digest, lifetime_seconds, url_out));
}

static void cs_free(ecr_blob_store *self)
{
	if (!self)
		return;
	if (INNER(self))
		INNER(self)->free(INNER(self));
	ecr__free(self);
}

int ecr__blob_store_counting(ecr_blob_store **out, ecr_blob_store *inner)
{
	counting_store *cs;
	*out = NULL;
	if (!inner)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "no blob store to wrap");
	if (inner->free == cs_free) { /* wrapped already */
		*out = inner;
		return 0;
	}
	if (!(cs = ecr__calloc(1, sizeof(*cs))))
		return ECR_ENOMEM;
	cs->pub.version = ECR_BLOB_STORE_VERSION;
	cs->pub.stage_open = cs_stage_open;
	cs->pub.stage_remove = cs_stage_remove;
	cs->pub.stage_list = cs_stage_list;
	cs->pub.read_open = cs_read_open;
	cs->pub.stat = cs_stat;
	cs->pub.remove = cs_remove;
	cs->pub.list = cs_list;
	cs->pub.free = cs_free;
	/* a version-1 backend has no presign */
	cs->pub.presign = inner->version >= 2 && inner->presign ? cs_presign : NULL;
	cs->inner = inner;
	*out = &cs->pub;
	return 0;
}

ecr_blob_store *ecr__blob_store_unwrap(ecr_blob_store *store)
{
	return store && store->free == cs_free ? INNER(store) : store;
}
