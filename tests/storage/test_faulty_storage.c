/* Tests for the fault-injecting storage wrappers (tests/helpers/faulty_storage.c).
 * The inner blob store is a small recording fake defined here (the wrapper is
 * what is under test); the inner metadata store is the real SQLite one. */
#include "../helpers/helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../helpers/faulty_storage.h"

/* --- a recording fake blob store --- */

enum { F_STAGE_OPEN, F_STAGE_REMOVE, F_STAGE_LIST, F_READ_OPEN, F_STAT, F_REMOVE, F_LIST, F_WRITE, F_COMMIT,
	F_DIGEST, F_READ, F_FD, F_WCLOSE, F_RCLOSE, F_FREE, F_N };

typedef struct fake_store {
	ecr_blob_store pub;
	unsigned long calls[F_N]; /* atomic */
	int *freed;               /* set when freed (outlives the store) */
	int no_fd;                /* readers without fd() */
} fake_store;

typedef struct fake_writer {
	ecr_blob_store_writer pub;
	fake_store *s;
} fake_writer;

typedef struct fake_reader {
	ecr_blob_store_reader pub;
	fake_store *s;
	uint64_t pos;
} fake_reader;

static void note(fake_store *s, int m)
{
	__atomic_add_fetch(&s->calls[m], 1, __ATOMIC_SEQ_CST);
}

static int fk_write(ecr_blob_store_writer *w, const void *data, size_t len)
{
	fake_writer *fw = (fake_writer *)w;
	(void)data;
	note(fw->s, F_WRITE);
	fw->pub.size += len;
	return 0;
}

static int fk_commit(ecr_blob_store_writer *w, const char *digest)
{
	fake_writer *fw = (fake_writer *)w;
	note(fw->s, F_COMMIT);
	return strcmp(digest, "sha256:bad") == 0 ? ECR_EDIGEST : 0;
}

static int fk_digest(ecr_blob_store_writer *w, char *out, size_t outlen)
{
	fake_writer *fw = (fake_writer *)w;
	note(fw->s, F_DIGEST);
	snprintf(out, outlen, "sha256:fake%llu", (unsigned long long)fw->pub.size);
	return 0;
}

static void fk_wclose(ecr_blob_store_writer *w)
{
	fake_writer *fw = (fake_writer *)w;
	note(fw->s, F_WCLOSE);
	free(fw);
}

static int fk_read(ecr_blob_store_reader *r, void *buf, size_t len, size_t *nread)
{
	fake_reader *fr = (fake_reader *)r;
	note(fr->s, F_READ);
	size_t n = fr->pub.size - fr->pos < len ? (size_t)(fr->pub.size - fr->pos) : len;
	memset(buf, 'x', n);
	fr->pos += n;
	*nread = n;
	return 0;
}

static int fk_fd(ecr_blob_store_reader *r, int *fd_out, uint64_t *offset_out)
{
	fake_reader *fr = (fake_reader *)r;
	note(fr->s, F_FD);
	*fd_out = 123;
	*offset_out = 456;
	return 0;
}

static void fk_rclose(ecr_blob_store_reader *r)
{
	fake_reader *fr = (fake_reader *)r;
	note(fr->s, F_RCLOSE);
	free(fr);
}

static int fk_stage_open(ecr_blob_store_writer **out, ecr_blob_store *self, const char *stage_id, int create)
{
	fake_store *s = (fake_store *)self;
	note(s, F_STAGE_OPEN);
	if (!create && strcmp(stage_id, "missing") == 0)
		return ECR_ENOTFOUND;
	fake_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return ECR_ENOMEM;
	w->s = s;
	w->pub.version = ECR_BLOB_STORE_WRITER_VERSION;
	w->pub.size = strcmp(stage_id, "resumed") == 0 ? 1000 : 0;
	w->pub.write = fk_write;
	w->pub.commit = fk_commit;
	w->pub.digest = fk_digest;
	w->pub.close = fk_wclose;
	*out = &w->pub;
	return 0;
}

static int fk_stage_remove(ecr_blob_store *self, const char *stage_id)
{
	note((fake_store *)self, F_STAGE_REMOVE);
	(void)stage_id;
	return 0;
}

static int fk_stage_list(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload)
{
	note((fake_store *)self, F_STAGE_LIST);
	return cb("stage-1", 10, 20, payload);
}

static int fk_read_open(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset)
{
	fake_store *s = (fake_store *)self;
	note(s, F_READ_OPEN);
	(void)digest;
	fake_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return ECR_ENOMEM;
	r->s = s;
	r->pos = offset;
	r->pub.version = ECR_BLOB_STORE_READER_VERSION;
	r->pub.size = 10;
	r->pub.read = fk_read;
	r->pub.fd = s->no_fd ? NULL : fk_fd;
	r->pub.close = fk_rclose;
	*out = &r->pub;
	return 0;
}

static int fk_stat(ecr_blob_store *self, const char *digest, uint64_t *size_out)
{
	note((fake_store *)self, F_STAT);
	(void)digest;
	*size_out = 77;
	return 0;
}

static int fk_remove(ecr_blob_store *self, const char *digest)
{
	note((fake_store *)self, F_REMOVE);
	return strcmp(digest, "sha256:gone") == 0 ? ECR_ENOTFOUND : 0;
}

static int fk_list(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload)
{
	note((fake_store *)self, F_LIST);
	return cb("sha256:aa", 1, 2, payload);
}

static void fk_free(ecr_blob_store *self)
{
	fake_store *s = (fake_store *)self;
	if (s->freed)
		(*s->freed)++;
	free(s);
}

static fake_store *fake_new(int *freed)
{
	fake_store *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->pub.version = ECR_BLOB_STORE_VERSION;
	s->pub.stage_open = fk_stage_open;
	s->pub.stage_remove = fk_stage_remove;
	s->pub.stage_list = fk_stage_list;
	s->pub.read_open = fk_read_open;
	s->pub.stat = fk_stat;
	s->pub.remove = fk_remove;
	s->pub.list = fk_list;
	s->pub.free = fk_free;
	s->freed = freed;
	return s;
}

static int list_cb(const char *digest, uint64_t size, int64_t mtime_ms, void *payload)
{
	(void)digest;
	(void)mtime_ms;
	*(uint64_t *)payload += size;
	return 55; /* stop value passes through the wrapper */
}

static int stage_cb(const char *id, uint64_t size, int64_t mtime_ms, void *payload)
{
	(void)id;
	(void)mtime_ms;
	*(uint64_t *)payload += size;
	return 0;
}

#define NOT_RUN 999

/* One call of every counted blob method (12 counted calls when all succeed);
 * rcs gets each result (NOT_RUN when skipped); returns how many failed. */
static int blob_scenario(ecr_blob_store *bs, int *rcs)
{
	int n = 0, failed = 0;
	ecr_blob_store_writer *w = NULL;
	ecr_blob_store_reader *r = NULL;
	uint64_t acc = 0, size = 0;
	char buf[16];
	size_t nread = 0;
	int fd = -1;
	uint64_t off = 0;

	rcs[n++] = bs->stage_open(&w, bs, "s1", 1);
	if (w) {
		rcs[n++] = w->write(w, "abc", 3);
		rcs[n++] = w->write(w, "de", 2);
		rcs[n++] = w->commit(w, "sha256:x");
		w->close(w);
	} else {
		for (int i = 0; i < 3; i++)
			rcs[n++] = NOT_RUN;
	}
	rcs[n++] = bs->read_open(&r, bs, "sha256:x", 0);
	if (r) {
		rcs[n++] = r->read(r, buf, sizeof(buf), &nread);
		rcs[n++] = r->fd(r, &fd, &off);
		r->close(r);
	} else {
		for (int i = 0; i < 2; i++)
			rcs[n++] = NOT_RUN;
	}
	rcs[n++] = bs->stat(bs, "sha256:x", &size);
	rcs[n++] = bs->remove(bs, "sha256:x");
	rcs[n++] = bs->list(bs, list_cb, &acc);
	rcs[n++] = bs->stage_list(bs, stage_cb, &acc);
	rcs[n++] = bs->stage_remove(bs, "s1");
	for (int i = 0; i < n; i++)
		failed += rcs[i] < 0;
	return failed;
}

static void test_storage_faulty_storage__blob_passthrough_counts(void **state)
{
	(void)state;
	int freed = 0;
	fake_store *fake = fake_new(&freed);
	th_faults f;
	th_faults_init(&f);
	ecr_blob_store *bs = NULL;
	assert_ok(th_faulty_blob_store_new(&bs, &fake->pub, &f));
	assert_int_equal(bs->version, ECR_BLOB_STORE_VERSION);

	/* results of the inner store come back unchanged */
	ecr_blob_store_writer *w = NULL;
	assert_ok(bs->stage_open(&w, bs, "resumed", 0));
	assert_int_equal(w->size, 1000); /* size mirrors the inner writer */
	assert_ok(w->write(w, "hello", 5));
	assert_int_equal(w->size, 1005);
	char dg[136];
	assert_ok(w->digest(w, dg, sizeof(dg)));
	assert_string_equal(dg, "sha256:fake1005");
	assert_int_equal(w->commit(w, "sha256:bad"), ECR_EDIGEST);
	w->close(w);
	assert_int_equal(bs->stage_open(&w, bs, "missing", 0), ECR_ENOTFOUND);
	assert_int_equal(bs->remove(bs, "sha256:gone"), ECR_ENOTFOUND);

	ecr_blob_store_reader *r = NULL;
	assert_ok(bs->read_open(&r, bs, "sha256:x", 4));
	assert_int_equal(r->size, 10);
	char buf[32];
	size_t nread = 0;
	assert_ok(r->read(r, buf, sizeof(buf), &nread));
	assert_int_equal(nread, 6);
	assert_non_null(r->fd);
	int fd = -1;
	uint64_t off = 0;
	assert_ok(r->fd(r, &fd, &off));
	assert_int_equal(fd, 123);
	assert_int_equal(off, 456);
	r->close(r);

	uint64_t size = 0, acc = 0;
	assert_ok(bs->stat(bs, "sha256:x", &size));
	assert_int_equal(size, 77);
	assert_int_equal(bs->list(bs, list_cb, &acc), 55);
	assert_ok(bs->stage_list(bs, stage_cb, &acc));
	assert_int_equal(acc, 11);
	assert_ok(bs->stage_remove(bs, "s1"));

	/* counted: stage_open x2, write, commit, remove, read_open, read, fd, stat, list, stage_list, stage_remove */
	assert_int_equal(f.calls, 12);
	assert_int_equal(f.failures, 0);
	assert_null(f.last_failed);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_BLOB_STAGE_OPEN), 2);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_BLOB_WRITE), 1);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_BLOB_READ), 1);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_META_EXEC), 0);
	/* every call reached the inner store; digest and close are not counted but pass through */
	assert_int_equal(fake->calls[F_STAGE_OPEN], 2);
	assert_int_equal(fake->calls[F_DIGEST], 1);
	assert_int_equal(fake->calls[F_WCLOSE], 1);
	assert_int_equal(fake->calls[F_RCLOSE], 1);
	assert_int_equal(fake->calls[F_FD], 1);

	bs->free(bs);
	assert_int_equal(freed, 1); /* the wrapper owns its inner store */
}

static void test_storage_faulty_storage__blob_transient(void **state)
{
	(void)state;
	/* fail each of the 12 calls of the scenario in turn, once */
	for (unsigned long k = 1; k <= 12; k++) {
		fake_store *fake = fake_new(NULL);
		th_faults f;
		th_faults_init(&f);
		f.err_no = ENOSPC;
		th_faults_arm(&f, k, 0);
		ecr_blob_store *bs = NULL;
		assert_ok(th_faulty_blob_store_new(&bs, &fake->pub, &f));
		int rcs[12];
		ecr_error_clear();
		int failed = blob_scenario(bs, rcs);
		/* exactly the kth call failed (list's stop value 55 is not a failure);
		 * a failed stage_open/read_open skips the writer/reader calls */
		assert_int_equal(failed, 1);
		assert_int_equal(rcs[k - 1], ECR_EIO);
		assert_int_equal(f.failures, 1);
		assert_int_equal(f.calls, 12 - (k == 1 ? 3 : k == 5 ? 2 : 0));
		assert_non_null(f.last_failed);
		/* the thread's error is the injected one */
		const ecr_error *e = ecr_error_last();
		assert_int_equal(e->code, ECR_EIO);
		assert_int_equal(e->klass, ECR_ERROR_STORAGE);
		assert_non_null(strstr(e->message, "injected: "));
		assert_non_null(strstr(e->message, f.last_failed));
		assert_non_null(strstr(e->message, "No space left on device"));
		bs->free(bs);
	}
}

static void test_storage_faulty_storage__blob_failed_call_skips_inner(void **state)
{
	(void)state;
	fake_store *fake = fake_new(NULL);
	th_faults f;
	th_faults_init(&f);
	ecr_blob_store *bs = NULL;
	assert_ok(th_faulty_blob_store_new(&bs, &fake->pub, &f));
	ecr_blob_store_writer *w = NULL;
	assert_ok(bs->stage_open(&w, bs, "s", 1));
	th_faults_arm(&f, 2, 0);
	assert_ok(w->write(w, "abc", 3));
	assert_int_equal(w->write(w, "defg", 4), ECR_EIO); /* nothing written */
	assert_int_equal(w->size, 3);
	assert_int_equal(fake->calls[F_WRITE], 1);
	assert_ok(w->write(w, "defg", 4)); /* transient: the next one works */
	assert_int_equal(w->size, 7);
	th_faults_arm(&f, 1, 0);
	assert_int_equal(w->commit(w, "sha256:x"), ECR_EIO);
	assert_int_equal(fake->calls[F_COMMIT], 0); /* inner commit never ran: staging kept */
	w->close(w);
	assert_int_equal(fake->calls[F_WCLOSE], 1);

	th_faults_arm(&f, 1, 0);
	ecr_blob_store_reader *r = NULL;
	assert_int_equal(bs->read_open(&r, bs, "sha256:x", 0), ECR_EIO);
	assert_null(r);
	assert_int_equal(fake->calls[F_READ_OPEN], 0);
	bs->free(bs);
}

static void test_storage_faulty_storage__persistent(void **state)
{
	(void)state;
	fake_store *fake = fake_new(NULL);
	th_faults f;
	th_faults_init(&f);
	f.error = ECR_ENOTFOUND;
	th_faults_arm(&f, 5, 1);
	ecr_blob_store *bs = NULL;
	assert_ok(th_faulty_blob_store_new(&bs, &fake->pub, &f));
	int rcs[12];
	/* calls 5.. fail: read_open (so read and fd do not run), stat, remove, list, stage_list, stage_remove */
	assert_int_equal(blob_scenario(bs, rcs), 6);
	for (int i = 0; i < 12; i++)
		assert_int_equal(rcs[i], i < 4 ? 0 : (i == 5 || i == 6) ? NOT_RUN : ECR_ENOTFOUND);
	assert_int_equal(f.failures, 6);
	assert_int_equal(f.calls, 10);
	assert_int_equal(fake->calls[F_STAT], 0);
	assert_string_equal(f.last_failed, "blob.stage_remove");
	assert_int_equal(ecr_error_last()->code, ECR_ENOTFOUND);
	assert_int_equal(ecr_error_last()->klass, ECR_ERROR_OS);
	/* and it keeps failing */
	uint64_t size;
	assert_int_equal(bs->stat(bs, "sha256:x", &size), ECR_ENOTFOUND);
	/* re-armed to 0: passes again */
	th_faults_arm(&f, 0, 1);
	assert_ok(bs->stat(bs, "sha256:x", &size));
	assert_int_equal(f.calls, 1);
	assert_int_equal(f.failures, 0);
	bs->free(bs);
}

static void test_storage_faulty_storage__only_mask_and_enomem(void **state)
{
	(void)state;
	fake_store *fake = fake_new(NULL);
	th_faults f;
	th_faults_init(&f);
	f.only = TH_FAULT_BLOB_WRITE | TH_FAULT_BLOB_COMMIT;
	f.error = ECR_ENOMEM;
	th_faults_arm(&f, 3, 0);
	ecr_blob_store *bs = NULL;
	assert_ok(th_faulty_blob_store_new(&bs, &fake->pub, &f));
	int rcs[12];
	/* counted: write, write, commit -> the commit (3rd counted) fails */
	assert_int_equal(blob_scenario(bs, rcs), 1);
	assert_int_equal(rcs[3], ECR_ENOMEM);
	assert_int_equal(f.calls, 3);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_BLOB_STAT), 0);
	assert_int_equal(ecr_error_last()->code, ECR_ENOMEM);
	assert_string_equal(ecr_error_last()->message, "out of memory");
	bs->free(bs);
	assert_string_equal(th_faults_method_name(TH_FAULT_META_COMMIT), "meta.commit");
	assert_string_equal(th_faults_method_name(3), "unknown");
}

static void test_storage_faulty_storage__reader_without_fd(void **state)
{
	(void)state;
	fake_store *fake = fake_new(NULL);
	th_faults f;
	th_faults_init(&f);
	ecr_blob_store *bs = NULL;
	assert_ok(th_faulty_blob_store_new(&bs, &fake->pub, &f));
	ecr_blob_store_reader *r = NULL;
	assert_ok(bs->read_open(&r, bs, "sha256:x", 0));
	assert_non_null(r->fd);
	r->close(r);
	/* an inner reader without fd gives a wrapper without fd */
	fake->no_fd = 1;
	assert_ok(bs->read_open(&r, bs, "sha256:x", 0));
	assert_null(r->fd);
	r->close(r);
	assert_int_equal(fake->calls[F_RCLOSE], 2);
	bs->free(bs);
	assert_int_equal(th_faulty_blob_store_new(&bs, NULL, &f), ECR_EINVALID);
}

/* --- metadata --- */

static int count_cb(const ecr_sql_value *cols, size_t ncols, void *payload)
{
	(void)ncols;
	*(int64_t *)payload = cols[0].i;
	return 0;
}

static int64_t count_rows(ecr_meta_store *ms)
{
	ecr_meta_txn *txn = NULL;
	int64_t n = -1;
	assert_ok(ms->begin(&txn, ms, 0));
	int rc = ms->exec(txn, "SELECT count(*) FROM t", NULL, 0, count_cb, &n, NULL);
	ms->rollback(txn);
	return rc == 0 ? n : -1;
}

/* begin, exec(create), exec(insert), commit: 4 counted calls */
static int meta_scenario(ecr_meta_store *ms)
{
	ecr_meta_txn *txn = NULL;
	int rc = ms->begin(&txn, ms, 1);
	if (rc)
		return rc;
	if ((rc = ms->exec(txn, "CREATE TABLE IF NOT EXISTS t(x INTEGER)", NULL, 0, NULL, NULL, NULL)) != 0 ||
		(rc = ms->exec(txn, "INSERT INTO t VALUES (1)", NULL, 0, NULL, NULL, NULL)) != 0) {
		ms->rollback(txn);
		return rc;
	}
	return ms->commit(txn);
}

static void test_storage_faulty_storage__meta_counts_and_passthrough(void **state)
{
	(void)state;
	ecr_meta_store *inner = NULL, *ms = NULL;
	th_faults f;
	th_faults_init(&f);
	assert_ok(ecr_meta_store_sqlite_new(&inner, ":memory:", 0));
	assert_ok(th_faulty_meta_store_new(&ms, inner, &f));
	assert_string_equal(ms->dialect, "sqlite");
	assert_int_equal(ms->version, ECR_META_STORE_VERSION);
	assert_ok(meta_scenario(ms));
	assert_int_equal(f.calls, 4);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_META_BEGIN), 1);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_META_EXEC), 2);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_META_COMMIT), 1);
	/* inner errors pass through unchanged */
	ecr_meta_txn *txn = NULL;
	assert_ok(ms->begin(&txn, ms, 1));
	assert_ok(ms->exec(txn, "CREATE TABLE u(k TEXT PRIMARY KEY)", NULL, 0, NULL, NULL, NULL));
	assert_ok(ms->exec(txn, "INSERT INTO u VALUES ('a')", NULL, 0, NULL, NULL, NULL));
	assert_int_equal(ms->exec(txn, "INSERT INTO u VALUES ('a')", NULL, 0, NULL, NULL, NULL), ECR_EEXISTS);
	int64_t changes = 0;
	assert_ok(ms->exec(txn, "UPDATE t SET x = 2", NULL, 0, NULL, NULL, &changes));
	assert_int_equal(changes, 1);
	assert_ok(ms->commit(txn));
	assert_int_equal(f.failures, 0);
	ecr_meta_store_free(ms); /* frees inner too (LSan checks) */
}

static void test_storage_faulty_storage__meta_sweep(void **state)
{
	(void)state;
	/* fail each call of the scenario; afterwards the store must be consistent */
	for (unsigned long k = 1; k <= 4; k++) {
		for (int persistent = 0; persistent <= 1; persistent++) {
			ecr_meta_store *inner = NULL, *ms = NULL;
			th_faults f;
			th_faults_init(&f);
			f.err_no = ENOSPC;
			assert_ok(ecr_meta_store_sqlite_new(&inner, ":memory:", 0));
			assert_ok(th_faulty_meta_store_new(&ms, inner, &f));
			assert_ok(meta_scenario(ms)); /* the table, with one row */
			th_faults_arm(&f, k, persistent);
			ecr_error_clear();
			assert_int_equal(meta_scenario(ms), ECR_EIO);
			assert_int_equal(f.failures, 1);
			assert_int_equal(f.calls, k);
			assert_non_null(strstr(ecr_error_last()->message, "injected: meta."));
			/* nothing was committed, and (for a failed commit) the inner
			 * transaction was rolled back and its only connection released */
			th_faults_arm(&f, 0, 0);
			assert_int_equal(count_rows(ms), 1);
			/* the store works again */
			assert_ok(meta_scenario(ms));
			assert_int_equal(count_rows(ms), 2);
			ecr_meta_store_free(ms);
		}
	}
}

static void test_storage_faulty_storage__shared_counter(void **state)
{
	(void)state;
	int freed = 0;
	fake_store *fake = fake_new(&freed);
	ecr_meta_store *inner = NULL, *ms = NULL;
	ecr_blob_store *bs = NULL;
	th_faults f;
	th_faults_init(&f);
	assert_ok(ecr_meta_store_sqlite_new(&inner, ":memory:", 0));
	assert_ok(th_faulty_meta_store_new(&ms, inner, &f));
	assert_ok(th_faulty_blob_store_new(&bs, &fake->pub, &f));
	/* 12 blob calls then 4 meta calls: call 14 is the first exec */
	th_faults_arm(&f, 14, 0);
	int rcs[12];
	assert_int_equal(blob_scenario(bs, rcs), 0);
	assert_int_equal(meta_scenario(ms), ECR_EIO);
	assert_string_equal(f.last_failed, "meta.exec");
	assert_int_equal(f.calls, 14);
	ecr_meta_store_free(ms);
	bs->free(bs);
	assert_int_equal(freed, 1);
}

typedef struct thr_arg {
	ecr_blob_store *bs;
	ecr_meta_store *ms;
	int failed;
	int errors_right;
} thr_arg;

static void *hammer(void *p)
{
	thr_arg *a = p;
	for (int i = 0; i < 1000; i++) {
		uint64_t size;
		int rc = a->bs->stat(a->bs, "sha256:x", &size);
		if (rc) {
			a->failed++;
			if (rc == ECR_EIO && strstr(ecr_error_last()->message, "injected: blob.stat"))
				a->errors_right++;
		}
		if (i % 50 == 0 && a->ms) {
			ecr_meta_txn *txn = NULL;
			if (a->ms->begin(&txn, a->ms, 0) == 0)
				a->ms->rollback(txn);
			else
				a->failed++;
		}
	}
	return NULL;
}

static void test_storage_faulty_storage__threads(void **state)
{
	(void)state;
	fake_store *fake = fake_new(NULL);
	char *dir = th_tmpdir();
	char *path = NULL;
	assert_true(asprintf(&path, "%s/m.db", dir) > 0);
	ecr_meta_store *inner = NULL, *ms = NULL;
	ecr_blob_store *bs = NULL;
	th_faults f;
	th_faults_init(&f);
	assert_ok(ecr_meta_store_sqlite_new(&inner, path, ECR_STORAGE_NOSYNC));
	assert_ok(th_faulty_meta_store_new(&ms, inner, &f));
	assert_ok(th_faulty_blob_store_new(&bs, &fake->pub, &f));
	f.only = TH_FAULT_BLOB_STAT | TH_FAULT_META_BEGIN;
	/* 8 x (1000 stat + 20 begin) = 8160 counted calls; fail number 4000 once */
	th_faults_arm(&f, 4000, 0);
	pthread_t th[8];
	thr_arg args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (thr_arg){ bs, ms, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
	}
	int failed = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		failed += args[i].failed;
	}
	assert_int_equal(f.calls, 8160);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_BLOB_STAT), 8000);
	assert_int_equal(th_faults_method_calls(&f, TH_FAULT_META_BEGIN), 160);
	assert_int_equal(f.failures, 1);
	/* the inner stat ran for every counted stat except an injected one */
	assert_int_equal(fake->calls[F_STAT] + (strcmp(f.last_failed, "blob.stat") == 0), 8000);
	assert_int_equal(failed, 1);
	ecr_meta_store_free(ms);
	bs->free(bs);
	free(path);
	th_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storage_faulty_storage__blob_passthrough_counts),
		cmocka_unit_test(test_storage_faulty_storage__blob_transient),
		cmocka_unit_test(test_storage_faulty_storage__blob_failed_call_skips_inner),
		cmocka_unit_test(test_storage_faulty_storage__persistent),
		cmocka_unit_test(test_storage_faulty_storage__only_mask_and_enomem),
		cmocka_unit_test(test_storage_faulty_storage__reader_without_fd),
		cmocka_unit_test(test_storage_faulty_storage__meta_counts_and_passthrough),
		cmocka_unit_test(test_storage_faulty_storage__meta_sweep),
		cmocka_unit_test(test_storage_faulty_storage__shared_counter),
		cmocka_unit_test(test_storage_faulty_storage__threads),
	};
	return cmocka_run_group_tests_name("storage/faulty_storage", tests, NULL, NULL);
}
