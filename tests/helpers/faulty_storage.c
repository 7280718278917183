/* Fault-injecting storage wrappers (see faulty_storage.h). */
#include "libecr/core/core.h"

#include "faulty_storage.h"

#include <unistd.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- the counter --- */

void th_faults_init(th_faults *f)
{
	memset(f, 0, sizeof(*f));
}

void th_faults_arm(th_faults *f, unsigned long fail_at, int persistent)
{
	__atomic_store_n(&f->calls, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->failures, 0, __ATOMIC_SEQ_CST);
	for (int i = 0; i < TH_FAULT_NMETHODS; i++)
		__atomic_store_n(&f->method_calls[i], 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->last_failed, NULL, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->persistent, persistent, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->fail_at, fail_at, __ATOMIC_SEQ_CST);
}

static int method_index(unsigned int method)
{
	if (method == 0 || (method & (method - 1)) != 0)
		return -1;
	return __builtin_ctz(method);
}

unsigned long th_faults_method_calls(const th_faults *f, unsigned int method)
{
	int i = method_index(method);
	return i < 0 ? 0 : __atomic_load_n(&f->method_calls[i], __ATOMIC_SEQ_CST);
}

const char *th_faults_method_name(unsigned int method)
{
	switch (method) {
	case TH_FAULT_BLOB_STAGE_OPEN: return "blob.stage_open";
	case TH_FAULT_BLOB_STAGE_REMOVE: return "blob.stage_remove";
	case TH_FAULT_BLOB_STAGE_LIST: return "blob.stage_list";
	case TH_FAULT_BLOB_READ_OPEN: return "blob.read_open";
	case TH_FAULT_BLOB_STAT: return "blob.stat";
	case TH_FAULT_BLOB_REMOVE: return "blob.remove";
	case TH_FAULT_BLOB_LIST: return "blob.list";
	case TH_FAULT_BLOB_WRITE: return "blob.write";
	case TH_FAULT_BLOB_COMMIT: return "blob.commit";
	case TH_FAULT_BLOB_READ: return "blob.read";
	case TH_FAULT_BLOB_FD: return "blob.fd";
	case TH_FAULT_META_BEGIN: return "meta.begin";
	case TH_FAULT_META_EXEC: return "meta.exec";
	case TH_FAULT_META_COMMIT: return "meta.commit";
	default: return "unknown";
	}
}

int th_faults_hit(th_faults *f, unsigned int method)
{
	if (!f)
		return 0;
	if (__atomic_load_n(&f->slow, __ATOMIC_SEQ_CST) & method)
		usleep(__atomic_load_n(&f->delay_us, __ATOMIC_SEQ_CST));
	unsigned int only = __atomic_load_n(&f->only, __ATOMIC_SEQ_CST);
	if (only && !(only & method))
		return 0;
	unsigned long n = __atomic_add_fetch(&f->calls, 1, __ATOMIC_SEQ_CST);
	int idx = method_index(method);
	if (idx >= 0)
		__atomic_add_fetch(&f->method_calls[idx], 1, __ATOMIC_SEQ_CST);
	unsigned long at = __atomic_load_n(&f->fail_at, __ATOMIC_SEQ_CST);
	int persistent = __atomic_load_n(&f->persistent, __ATOMIC_SEQ_CST);
	if (at == 0 || n < at || (n > at && !persistent))
		return 0;

	const char *name = th_faults_method_name(method);
	__atomic_add_fetch(&f->failures, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&f->last_failed, name, __ATOMIC_SEQ_CST);
	int error = f->error ? f->error : ECR_EIO;
	if (error == ECR_ENOMEM)
		return ecr__fail_oom();
	return ecr__fail_os(error, f->err_no ? f->err_no : EIO, "injected: %s (call %lu)", name, n);
}

static int fail_nomem(void)
{
	return ecr__fail_oom();
}

/* --- blob store --- */

typedef struct faulty_writer {
	ecr_blob_store_writer pub;
	ecr_blob_store_writer *inner;
	th_faults *f;
} faulty_writer;

typedef struct faulty_reader {
	ecr_blob_store_reader pub;
	ecr_blob_store_reader *inner;
	th_faults *f;
} faulty_reader;

typedef struct faulty_blob {
	ecr_blob_store pub;
	ecr_blob_store *inner;
	th_faults *f;
} faulty_blob;

static int fw_write(ecr_blob_store_writer *w, const void *data, size_t len)
{
	faulty_writer *fw = (faulty_writer *)w;
	int rc = th_faults_hit(fw->f, TH_FAULT_BLOB_WRITE);
	if (rc)
		return rc;
	rc = fw->inner->write(fw->inner, data, len);
	fw->pub.size = fw->inner->size;
	return rc;
}

static int fw_commit(ecr_blob_store_writer *w, const char *digest)
{
	faulty_writer *fw = (faulty_writer *)w;
	int rc = th_faults_hit(fw->f, TH_FAULT_BLOB_COMMIT);
	if (rc)
		return rc;
	rc = fw->inner->commit(fw->inner, digest);
	fw->pub.size = fw->inner->size;
	return rc;
}

static int fw_digest(ecr_blob_store_writer *w, char *out, size_t outlen)
{
	faulty_writer *fw = (faulty_writer *)w;
	return fw->inner->digest(fw->inner, out, outlen);
}

static int fw_flush(ecr_blob_store_writer *w)
{
	faulty_writer *fw = (faulty_writer *)w;
	int rc = fw->inner->flush(fw->inner);
	fw->pub.size = fw->inner->size;
	return rc;
}

static void fw_close(ecr_blob_store_writer *w)
{
	faulty_writer *fw = (faulty_writer *)w;
	if (!fw)
		return;
	fw->inner->close(fw->inner);
	free(fw);
}

static int fr_read(ecr_blob_store_reader *r, void *buf, size_t len, size_t *nread)
{
	faulty_reader *fr = (faulty_reader *)r;
	int rc = th_faults_hit(fr->f, TH_FAULT_BLOB_READ);
	if (rc) {
		if (nread)
			*nread = 0;
		return rc;
	}
	return fr->inner->read(fr->inner, buf, len, nread);
}

static int fr_fd(ecr_blob_store_reader *r, int *fd_out, uint64_t *offset_out)
{
	faulty_reader *fr = (faulty_reader *)r;
	int rc = th_faults_hit(fr->f, TH_FAULT_BLOB_FD);
	if (rc)
		return rc;
	return fr->inner->fd(fr->inner, fd_out, offset_out);
}

static void fr_close(ecr_blob_store_reader *r)
{
	faulty_reader *fr = (faulty_reader *)r;
	if (!fr)
		return;
	fr->inner->close(fr->inner);
	free(fr);
}

static int fb_stage_open(ecr_blob_store_writer **out, ecr_blob_store *self, const char *stage_id, int create)
{
	faulty_blob *fb = (faulty_blob *)self;
	int rc = th_faults_hit(fb->f, TH_FAULT_BLOB_STAGE_OPEN);
	if (rc)
		return rc;
	faulty_writer *fw = calloc(1, sizeof(*fw));
	if (!fw)
		return fail_nomem();
	if ((rc = fb->inner->stage_open(&fw->inner, fb->inner, stage_id, create)) != 0) {
		free(fw);
		return rc;
	}
	fw->f = fb->f;
	fw->pub.version = fw->inner->version;
	fw->pub.size = fw->inner->size;
	fw->pub.write = fw_write;
	fw->pub.commit = fw_commit;
	fw->pub.digest = fw_digest;
	fw->pub.close = fw_close;
	if (fw->inner->version >= 2 && fw->inner->flush)
		fw->pub.flush = fw_flush;
	*out = &fw->pub;
	return 0;
}

static int fb_stage_remove(ecr_blob_store *self, const char *stage_id)
{
	faulty_blob *fb = (faulty_blob *)self;
	int rc = th_faults_hit(fb->f, TH_FAULT_BLOB_STAGE_REMOVE);
	return rc ? rc : fb->inner->stage_remove(fb->inner, stage_id);
}

static int fb_stage_list(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload)
{
	faulty_blob *fb = (faulty_blob *)self;
	int rc = th_faults_hit(fb->f, TH_FAULT_BLOB_STAGE_LIST);
	return rc ? rc : fb->inner->stage_list(fb->inner, cb, payload);
}

static int fb_read_open(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset)
{
	faulty_blob *fb = (faulty_blob *)self;
	int rc = th_faults_hit(fb->f, TH_FAULT_BLOB_READ_OPEN);
	if (rc)
		return rc;
	faulty_reader *fr = calloc(1, sizeof(*fr));
	if (!fr)
		return fail_nomem();
	if ((rc = fb->inner->read_open(&fr->inner, fb->inner, digest, offset)) != 0) {
		free(fr);
		return rc;
	}
	fr->f = fb->f;
	fr->pub.version = fr->inner->version;
	fr->pub.size = fr->inner->size;
	fr->pub.read = fr_read;
	fr->pub.fd = fr->inner->fd ? fr_fd : NULL;
	fr->pub.close = fr_close;
	*out = &fr->pub;
	return 0;
}

static int fb_stat(ecr_blob_store *self, const char *digest, uint64_t *size_out)
{
	faulty_blob *fb = (faulty_blob *)self;
	int rc = th_faults_hit(fb->f, TH_FAULT_BLOB_STAT);
	return rc ? rc : fb->inner->stat(fb->inner, digest, size_out);
}

static int fb_remove(ecr_blob_store *self, const char *digest)
{
	faulty_blob *fb = (faulty_blob *)self;
	int rc = th_faults_hit(fb->f, TH_FAULT_BLOB_REMOVE);
	return rc ? rc : fb->inner->remove(fb->inner, digest);
}

static int fb_list(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload)
{
	faulty_blob *fb = (faulty_blob *)self;
	int rc = th_faults_hit(fb->f, TH_FAULT_BLOB_LIST);
	return rc ? rc : fb->inner->list(fb->inner, cb, payload);
}

static void fb_free(ecr_blob_store *self)
{
	faulty_blob *fb = (faulty_blob *)self;
	if (!fb)
		return;
	if (fb->inner && fb->inner->free)
		fb->inner->free(fb->inner);
	free(fb);
}

int th_faulty_blob_store_new(ecr_blob_store **out, ecr_blob_store *inner, th_faults *faults)
{
	if (!out || !inner)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "th_faulty_blob_store_new: NULL argument");
	faulty_blob *fb = calloc(1, sizeof(*fb));
	if (!fb)
		return fail_nomem();
	fb->inner = inner;
	fb->f = faults;
	fb->pub.version = ECR_BLOB_STORE_VERSION;
	fb->pub.stage_open = fb_stage_open;
	fb->pub.stage_remove = fb_stage_remove;
	fb->pub.stage_list = fb_stage_list;
	fb->pub.read_open = fb_read_open;
	fb->pub.stat = fb_stat;
	fb->pub.remove = fb_remove;
	fb->pub.list = fb_list;
	fb->pub.free = fb_free;
	*out = &fb->pub;
	return 0;
}

/* --- metadata store --- */

typedef struct faulty_meta {
	ecr_meta_store pub;
	ecr_meta_store *inner;
	th_faults *f;
} faulty_meta;

/* Our transactions; handed out as ecr_meta_txn pointers (the type is opaque here). */
typedef struct faulty_txn {
	faulty_meta *store;
	ecr_meta_txn *inner;
} faulty_txn;

static int fm_begin(ecr_meta_txn **out, ecr_meta_store *self, int write)
{
	faulty_meta *fm = (faulty_meta *)self;
	int rc = th_faults_hit(fm->f, TH_FAULT_META_BEGIN);
	if (rc)
		return rc;
	faulty_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return fail_nomem();
	t->store = fm;
	if ((rc = fm->inner->begin(&t->inner, fm->inner, write)) != 0) {
		free(t);
		return rc;
	}
	*out = (ecr_meta_txn *)t;
	return 0;
}

static int fm_exec(ecr_meta_txn *txn, const char *sql, const ecr_sql_value *params, size_t nparams,
	ecr_sql_row_cb cb, void *payload, int64_t *changes_out)
{
	faulty_txn *t = (faulty_txn *)txn;
	int rc = th_faults_hit(t->store->f, TH_FAULT_META_EXEC);
	if (rc)
		return rc;
	return t->store->inner->exec(t->inner, sql, params, nparams, cb, payload, changes_out);
}

static int fm_commit(ecr_meta_txn *txn)
{
	faulty_txn *t = (faulty_txn *)txn;
	ecr_meta_store *inner = t->store->inner;
	int rc = th_faults_hit(t->store->f, TH_FAULT_META_COMMIT);
	if (rc)
		inner->rollback(t->inner);
	else
		rc = inner->commit(t->inner);
	free(t);
	return rc;
}

static void fm_rollback(ecr_meta_txn *txn)
{
	faulty_txn *t = (faulty_txn *)txn;
	if (!t)
		return;
	t->store->inner->rollback(t->inner);
	free(t);
}

static void fm_free(ecr_meta_store *self)
{
	faulty_meta *fm = (faulty_meta *)self;
	if (!fm)
		return;
	if (fm->inner && fm->inner->free)
		fm->inner->free(fm->inner);
	free(fm);
}

int th_faulty_meta_store_new(ecr_meta_store **out, ecr_meta_store *inner, th_faults *faults)
{
	if (!out || !inner)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "th_faulty_meta_store_new: NULL argument");
	faulty_meta *fm = calloc(1, sizeof(*fm));
	if (!fm)
		return fail_nomem();
	int rc = ecr_meta_store_init(&fm->pub, ECR_META_STORE_VERSION);
	if (rc) {
		free(fm);
		return rc;
	}
	fm->inner = inner;
	fm->f = faults;
	fm->pub.dialect = inner->dialect;
	fm->pub.begin = fm_begin;
	fm->pub.exec = fm_exec;
	fm->pub.commit = fm_commit;
	fm->pub.rollback = fm_rollback;
	fm->pub.free = fm_free;
	*out = &fm->pub;
	return 0;
}
