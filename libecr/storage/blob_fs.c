/* The file-system blob store.
 *
 * Layout under the store's folder:
 *   blobs/<alg>/<first 2 hex>/<hex>   published blobs (complete, immutable)
 *   uploads/<stage id>                staging files (append-only)
 *
 * A staging file is hashed as it is written; commit checks the digest,
 * fdatasyncs the file, renames it into its shard folder and fsyncs that
 * folder, so a blob under blobs/ is always complete and durable. Every path is
 * opened relative to a descriptor of the store's folder, from names that were
 * validated first (digests: algorithm + exact lowercase hex; staging ids:
 * [A-Za-z0-9-]{1,64}), so no caller input can reach outside it.
 *
 * Large uploads are pipelined (see struct fs_pipe): once a writer has taken
 * FS_PIPE_START bytes since it last settled, incoming bytes are gathered in
 * aligned slots; a helper thread writes each full slot with O_DIRECT (no
 * page-cache copy, no writeback to wait for later) and a second one then
 * hashes it, while the caller goes on receiving. digest(), commit() and
 * close() settle the writer first: every byte written is in the staging file
 * and hashed, the helper threads are gone. flush() puts every byte in the
 * staging file (the slots still queued for the writer thread through the page
 * cache, its writeback started) without waiting for the hash or the disk:
 * the bytes survive the process, and commit's fdatasync makes them durable.
 * The pipeline lives on
 * into the next request of a chunked upload, so hashing one chunk overlaps
 * with receiving the next; left alone for FS_PIPE_PARK_MS it hashes the rest,
 * frees its buffers and its threads end. A write that fails in the pipeline
 * is reported by a later write or by the settling call.
 *
 * The store's only mutable state is its pool of slot buffers (under a lock):
 * any number of threads may call it at once. */
#include "../core/core.h"
#include "../core/timeutil.h"
#include "blob_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Buffer size for hashing a staging file again. */
#define FS_REHASH_CHUNK (1024 * 1024)
/* Largest count handed to one read/write system call. */
#define FS_IO_MAX ((size_t)0x7ffff000)
/* Start writeback of a staging file every this many bytes, so that the fsync
 * at commit has little left to do. */
#define FS_WRITEBACK_STEP ((uint64_t)8 * 1024 * 1024)
/* A writer starts its pipeline once it has taken this many bytes since it last settled (small uploads never do), or
 * at once when it took as many between its last two settles (the next chunk of an upload sent in large chunks). */
#define FS_PIPE_START ((uint64_t)2 * 1024 * 1024)
/* Pipeline slots: their size and number (the memory of one pipelined upload is their product). */
#define FS_SLOT_SIZE ((size_t)1 * 1024 * 1024)
#define FS_PIPE_SLOTS 4
/* A flushed pipeline that takes no more bytes for this long parks: hashes what it holds, frees its slots, ends its
 * threads (an abandoned upload holds no memory and no thread; the next write starts a new pipeline). */
#define FS_PIPE_PARK_MS 1000
/* fs_pipe_put()'s failure when the staging file changed under its writer. */
#define FS_ECONCURRENT (-1)
/* Alignment of O_DIRECT buffers, offsets and lengths (the largest logical block size in use). */
#define FS_DIO_ALIGN ((size_t)4096)
/* The scheduler slice the writer thread asks for, in nanoseconds (the smallest Linux takes). */
#define FS_WRITER_SLICE_NS 100000u

static const char *const fs_algs[] = {"sha256", "sha512"};

/* Pipeline slot buffers kept by a store for the next pipelined upload (a chunked push starts one per chunk). */
#define FS_POOL_MAX FS_PIPE_SLOTS
/* Pipelines a store runs at once (each two threads and FS_PIPE_SLOTS slots); further uploads go without one. */
#define FS_PIPES_MAX 8

typedef struct fs_store {
	ecr_blob_store base;
	char *root;
	int rootfd;
	bool nosync;
	pthread_mutex_t pool_lock;
	void *pool[FS_POOL_MAX]; /* allocations of FS_SLOT_SIZE + FS_DIO_ALIGN bytes */
	size_t npool;
	size_t npipes; /* pipelines running */
} fs_store;

typedef struct fs_pipe fs_pipe;

typedef struct fs_writer {
	ecr_blob_store_writer base;
	fs_store *store;
	int fd; /* -1 once committed or discarded */
	ecr__digest_ctx *hash;
	uint64_t writeback_from; /* start of the range not yet sent to writeback */
	uint64_t dropped_to;     /* end of the range written back and dropped from the cache */
	uint64_t run;            /* bytes taken since the writer last settled */
	uint64_t prev_run;       /* bytes taken between the last two settles of a pipeline */
	fs_pipe *pipe;           /* NULL unless pipelined */
	char path[ECR__BLOB_PATH_MAX]; /* "uploads/<id>" */
} fs_writer;

/* Pipeline slot states: filled by the caller, queued for the writer thread, queued for the hasher thread. */
enum { FS_SLOT_FREE = 0, FS_SLOT_FILL, FS_SLOT_WRITE, FS_SLOT_HASH };

/* One pipeline buffer: the file's bytes [base, base + fill). */
typedef struct fs_slot {
	void *raw;          /* the allocation; buf is raw aligned up */
	unsigned char *buf; /* FS_SLOT_SIZE bytes, FS_DIO_ALIGN-aligned */
	uint64_t base;      /* file offset of buf[0], a multiple of FS_DIO_ALIGN */
	size_t fill;        /* bytes in buf */
	size_t hashed;      /* buf[0, hashed) is hashed (or is not to be) */
	int state;          /* FS_SLOT_* */
} fs_slot;

/*
 * The pipeline of one writer, three threads in a ring of slots: the caller's
 * thread fills slots[cur] and hands a full slot on; the writer thread writes
 * slots in turn (O_DIRECT through dfd when the file system takes it, else
 * appended through the writer's descriptor); the hasher thread then hashes
 * them in turn (it owns w->hash while the pipeline lives). So the hash never
 * covers bytes that are not in the file; after a failed write the later slots
 * are dropped unwritten and unhashed, and the file is cut back to `written`,
 * the end of what was written whole. The caller waits only for a free slot.
 */
struct fs_pipe {
	fs_writer *w;
	pthread_t writer, hasher;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	fs_slot slots[FS_PIPE_SLOTS];
	size_t cur;       /* the slot being filled (caller) */
	size_t wi, hi;    /* the next slot to write (writer thread), to hash (hasher thread) */
	bool stop;        /* the threads end once the slots handed to them are done */
	bool idle;        /* flushed: the caller holds the slot it fills, all of it in the file, and writes no more */
	bool parked;      /* stopped by the hasher after FS_PIPE_PARK_MS idle: every byte written and hashed */
	bool released;    /* no longer counted in the store's running pipelines */
	int werr;         /* the writer thread's first failure: an errno, or FS_ECONCURRENT */
	int hash_rc;      /* the hasher's first failure */
	bool wbusy;       /* the writer thread is putting slots[wi] */
	bool hold;        /* a flush holds the writer thread back: it starts no slot */
	int dfd;          /* O_DIRECT descriptor of the staging file, or -1 */
	uint64_t written; /* the file's bytes [0, written) are the writer's bytes */
	uint64_t cached_from, cached_to; /* the last range a flush put through the page cache */
};

typedef struct fs_reader {
	ecr_blob_store_reader base;
	int fd;
	uint64_t pos;
} fs_reader;

static int64_t fs_mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static int fs_fail_errno(fs_store *s, int err, const char *what, const char *rel)
{
	return ecr__fail_os(ECR_EIO, err, "blob store: cannot %s %s/%s", what, s->root, rel);
}

/* fsync a folder given relative to the store's folder ("." for the folder itself). */
static int fs_sync_dir(fs_store *s, const char *rel)
{
	int fd, err = 0;
	if (s->nosync)
		return 0;
	fd = openat(s->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fs_fail_errno(s, errno, "open folder", rel);
	if (fsync(fd) != 0)
		err = errno;
	close(fd);
	if (err)
		return fs_fail_errno(s, err, "fsync folder", rel);
	return 0;
}

/* mkdir relative to the store's folder; *created tells whether it was made. */
static int fs_mkdir(fs_store *s, const char *rel, bool *created)
{
	*created = false;
	if (mkdirat(s->rootfd, rel, 0755) == 0) {
		*created = true;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return fs_fail_errno(s, errno, "create folder", rel);
}

/* mkdir -p blobs/<alg>/<xx>, fsyncing each parent that gained an entry. */
static int fs_make_shard(fs_store *s, ecr__digest_alg alg, const char *hex)
{
	char alg_dir[32], shard[48];
	bool created;
	int rc;

	snprintf(alg_dir, sizeof(alg_dir), "blobs/%s", ecr__digest_alg_name(alg));
	snprintf(shard, sizeof(shard), "%s/%.2s", alg_dir, hex);
	if (mkdirat(s->rootfd, shard, 0755) == 0)
		return fs_sync_dir(s, alg_dir);
	if (errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return fs_fail_errno(s, errno, "create folder", shard);
	/* A parent is missing (someone removed it): create the whole chain. */
	if ((rc = fs_mkdir(s, "blobs", &created)) != 0)
		return rc;
	if (created && (rc = fs_sync_dir(s, ".")) != 0)
		return rc;
	if ((rc = fs_mkdir(s, alg_dir, &created)) != 0)
		return rc;
	if (created && (rc = fs_sync_dir(s, "blobs")) != 0)
		return rc;
	if ((rc = fs_mkdir(s, shard, &created)) != 0)
		return rc;
	if (created && (rc = fs_sync_dir(s, alg_dir)) != 0)
		return rc;
	return 0;
}

/* Hash the first size bytes of fd into ctx. */
static int fs_hash_file(fs_store *s, const char *rel, int fd, uint64_t size, ecr__digest_ctx *ctx)
{
	unsigned char *buf = NULL;
	uint64_t pos = 0;
	int rc = 0;

	if (size == 0)
		return 0;
	if (!(buf = ecr__malloc(FS_REHASH_CHUNK)))
		return ECR_ENOMEM;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (pos < size) {
		size_t want = size - pos < FS_REHASH_CHUNK ? (size_t)(size - pos) : FS_REHASH_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fs_fail_errno(s, errno, "read", rel);
			goto done;
		}
		if (n == 0) {
			rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob store: %s/%s is shorter than expected",
				s->root, rel);
			goto done;
		}
		if ((rc = ecr__digest_update(ctx, buf, (size_t)n)) != 0)
			goto done;
		pos += (uint64_t)n;
	}
done:
	ecr__free(buf);
	return rc;
}

/* --- writer --- */

static int fs_writer_check(fs_writer *w)
{
	if (w->fd < 0)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_STORAGE, "blob store: %s was already committed or discarded",
			w->path);
	return 0;
}

/* Ask the kernel to start writing back what was written so far, so that the
 * fdatasync at commit overlaps with the upload instead of following it. */
static void fs_writer_writeback(fs_writer *w)
{
	uint64_t end = w->base.size;
	if (w->store->nosync || end - w->writeback_from < FS_WRITEBACK_STEP)
		return;
	(void)sync_file_range(w->fd, (off_t)w->writeback_from, (off_t)(end - w->writeback_from),
		SYNC_FILE_RANGE_WRITE);
	/* The previous range has had a step's time to reach the disk: wait for it
	 * and drop it from the page cache, so a long upload streams through a
	 * small, reused set of pages instead of filling memory with dirty ones. */
	if (w->writeback_from > w->dropped_to) {
		(void)sync_file_range(w->fd, (off_t)w->dropped_to, (off_t)(w->writeback_from - w->dropped_to),
			SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
		(void)posix_fadvise(w->fd, (off_t)w->dropped_to, (off_t)(w->writeback_from - w->dropped_to),
			POSIX_FADV_DONTNEED);
		w->dropped_to = w->writeback_from;
	}
	w->writeback_from = end;
}

static void fs_writer_discard(fs_writer *w);

/* --- pipeline (large uploads) --- */

/* write() or pwrite() all of buf (pwrite when off >= 0); 0 or errno. *done gets the bytes written. */
static int fs_write_all(int fd, const unsigned char *buf, size_t len, off_t off, size_t *done)
{
	*done = 0;
	while (*done < len) {
		size_t want = len - *done < FS_IO_MAX ? len - *done : FS_IO_MAX;
		ssize_t n = off >= 0 ? pwrite(fd, buf + *done, want, off + (off_t)*done) : write(fd, buf + *done, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return ENOSPC;
		*done += (size_t)n;
	}
	return 0;
}

static void *fs_slot_alloc(fs_store *s)
{
	void *raw = NULL;
	pthread_mutex_lock(&s->pool_lock);
	if (s->npool > 0)
		raw = s->pool[--s->npool];
	pthread_mutex_unlock(&s->pool_lock);
	return raw ? raw : ecr__malloc(FS_SLOT_SIZE + FS_DIO_ALIGN);
}

static void fs_slot_free(fs_store *s, void *raw)
{
	if (!raw)
		return;
	pthread_mutex_lock(&s->pool_lock);
	if (s->npool < FS_POOL_MAX) {
		s->pool[s->npool++] = raw;
		raw = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	ecr__free(raw);
}

/* Put the slot's bytes buf[0, end) into the file (those before p->written are there already), with O_DIRECT when
 * `direct` and the file takes it, else through the page cache: 0, an errno, or FS_ECONCURRENT. Runs on the writer
 * thread, or on the caller's while the writer thread starts no slot. */
static int fs_pipe_put(fs_pipe *p, fs_slot *sl, size_t end, bool direct)
{
	fs_writer *w = p->w;
	size_t have = (size_t)(p->written - sl->base), done;
	struct stat st;
	int err;

	if (have >= end)
		return 0;
	/* writes at offsets would overwrite what another writer appended: refuse (commit would too) */
	if (fstat(w->fd, &st) != 0)
		return errno;
	if ((uint64_t)st.st_size != p->written)
		return FS_ECONCURRENT;
	if (direct && p->dfd >= 0) {
		/* from the block that holds the file's end: buf[from, have) is in the file (a flush put it there through the
		 * page cache) and is written again, not the whole slot from buf[0] */
		size_t aligned = end & ~(FS_DIO_ALIGN - 1), from = have & ~(FS_DIO_ALIGN - 1);
		if (aligned > have) {
			err = fs_write_all(p->dfd, sl->buf + from, aligned - from, (off_t)(sl->base + from), &done);
			if (err == EINVAL && done == 0) { /* O_DIRECT refused after all: write through the page cache */
				close(p->dfd);
				p->dfd = -1;
			} else if (err) {
				return err;
			} else {
				p->written = sl->base + aligned;
				have = aligned;
			}
		}
	}
	if (end > have) { /* O_APPEND: lands at the end of the file, which is p->written */
		if ((err = fs_write_all(w->fd, sl->buf + have, end - have, -1, &done)) != 0)
			return err;
		p->written = sl->base + end;
	}
	return 0;
}

/* The library error for a failure of fs_pipe_put(). */
static int fs_pipe_fail(fs_writer *w, int err)
{
	if (err == FS_ECONCURRENT)
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE,
			"blob store: %s/%s changed under its writer (written to concurrently?)", w->store->root, w->path);
	return fs_fail_errno(w->store, err, "write", w->path);
}

/* sched_setattr(2)'s argument, its first version (glibc has no wrapper before 2.41). */
typedef struct fs_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
} fs_sched_attr;
#define FS_SCHED_FLAG_RESET_ON_FORK 0x01u

/*
 * Give the calling thread a short scheduler slice, keeping its policy and nice value. The writer thread runs for
 * microseconds per slot and waits for the disk the rest of the time. With the default slice, a slot handed to it
 * while the receiving and hashing threads held both CPUs of a 2-core machine waited a median 0.4-0.6 ms for it to
 * run, and the disk idled meanwhile. With a custom slice (Linux 6.12+: the runtime of a SCHED_OTHER thread) it
 * preempts them when it wakes. Older kernels ignore it, and a failure changes nothing.
 */
static void fs_short_slice(void)
{
#if defined(SYS_sched_getattr) && defined(SYS_sched_setattr)
	fs_sched_attr a;
	memset(&a, 0, sizeof(a));
	if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof(a), 0) != 0 || a.policy != SCHED_OTHER)
		return;
	a.size = sizeof(a);
	a.flags &= FS_SCHED_FLAG_RESET_ON_FORK;
	a.runtime = FS_WRITER_SLICE_NS;
	(void)syscall(SYS_sched_setattr, 0, &a, 0);
#endif
}

static void *fs_pipe_writer(void *arg)
{
	fs_pipe *p = arg;
	(void)pthread_setname_np(pthread_self(), "ecr-blobwrite");
	fs_short_slice();
	pthread_mutex_lock(&p->mu);
	for (;;) {
		fs_slot *sl;
		/* (a flush may move wi while this waits: it puts the queued slots itself) */
		while (((sl = &p->slots[p->wi])->state != FS_SLOT_WRITE || p->hold) && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (sl->state != FS_SLOT_WRITE)
			break;
		bool skip = p->werr != 0;
		p->wbusy = true;
		pthread_mutex_unlock(&p->mu);
		int err = skip ? 0 : fs_pipe_put(p, sl, sl->fill, true);
		pthread_mutex_lock(&p->mu);
		p->wbusy = false;
		if (err && !p->werr)
			p->werr = err;
		if (p->werr) /* dropped: neither written nor hashed */
			sl->hashed = sl->fill;
		sl->state = FS_SLOT_HASH;
		p->wi = (p->wi + 1) % FS_PIPE_SLOTS;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Stop counting the pipeline among the store's running ones (once). Called holding p->mu, or with no threads. */
static void fs_pipe_release(fs_pipe *p)
{
	if (p->released)
		return;
	p->released = true;
	pthread_mutex_lock(&p->w->store->pool_lock);
	p->w->store->npipes--;
	pthread_mutex_unlock(&p->w->store->pool_lock);
}

/* Park an idle pipeline (the hasher's thread, holding p->mu, every slot but the caller's free): stop the writer
 * thread, hash the caller's slot, which the caller no longer touches, free the slots, stop counting it. */
static void fs_pipe_park(fs_pipe *p)
{
	fs_slot *sl = &p->slots[p->cur];
	size_t i;
	p->parked = p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (!p->hash_rc && sl->fill > sl->hashed) {
		int rc = ecr__digest_update(p->w->hash, sl->buf + sl->hashed, sl->fill - sl->hashed);
		if (rc) {
			ecr__error_clear(); /* fs_pipe_end reports it */
			p->hash_rc = rc;
		}
	}
	sl->hashed = sl->fill;
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < FS_PIPE_SLOTS; i++)
		p->slots[i].state = FS_SLOT_FREE;
	fs_pipe_release(p);
}

static void *fs_pipe_hasher(void *arg)
{
	fs_pipe *p = arg;
	size_t i;
	(void)pthread_setname_np(pthread_self(), "ecr-blobhash");
	pthread_mutex_lock(&p->mu);
	for (;;) {
		fs_slot *sl = &p->slots[p->hi];
		while (sl->state != FS_SLOT_HASH && !p->stop) {
			if (!p->idle) {
				pthread_cond_wait(&p->cv, &p->mu);
				continue;
			}
			struct timespec until;
			ecr__time_deadline(&until, CLOCK_MONOTONIC, FS_PIPE_PARK_MS); /* p->cv runs on CLOCK_MONOTONIC */
			if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT && p->idle && !p->stop &&
				sl->state != FS_SLOT_HASH)
				fs_pipe_park(p);
		}
		if (sl->state != FS_SLOT_HASH)
			break;
		bool skip = p->hash_rc != 0;
		pthread_mutex_unlock(&p->mu);
		int rc = skip || sl->hashed >= sl->fill ? 0 :
			ecr__digest_update(p->w->hash, sl->buf + sl->hashed, sl->fill - sl->hashed);
		pthread_mutex_lock(&p->mu);
		if (rc && !p->hash_rc)
			p->hash_rc = rc;
		sl->hashed = sl->fill;
		sl->state = FS_SLOT_FREE;
		p->hi = (p->hi + 1) % FS_PIPE_SLOTS;
		pthread_cond_broadcast(&p->cv);
	}
	/* Ending: the free slots go back to the store now (the caller's, unless parked, stays for fs_pipe_end). */
	for (i = 0; i < FS_PIPE_SLOTS; i++)
		if (p->slots[i].state == FS_SLOT_FREE && p->slots[i].raw) {
			fs_slot_free(p->w->store, p->slots[i].raw);
			p->slots[i].raw = NULL;
			p->slots[i].buf = NULL;
		}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Wait (holding p->mu) until every slot but the caller's is free: the threads are idle. */
static void fs_pipe_wait_idle(fs_pipe *p)
{
	size_t i;
	for (i = 0; i < FS_PIPE_SLOTS; i++)
		while (i != p->cur && p->slots[i].state != FS_SLOT_FREE)
			pthread_cond_wait(&p->cv, &p->mu);
}

/*
 * Settle the writer and end its pipeline: the threads finish what was handed
 * to them, the caller's slot goes to the file, the threads stop, the caller
 * hashes what was not handed on. After a failure (rc, or a write failing) the
 * file is cut back to what was written whole and hashed, and base.size says so.
 * Returns the first error.
 */
static int fs_pipe_end(fs_writer *w, int rc)
{
	fs_pipe *p = w->pipe;
	fs_slot *sl;
	size_t i, upto = 0;
	int err;
	bool dio;

	if (!p)
		return rc;
	sl = &p->slots[p->cur];
	pthread_mutex_lock(&p->mu);
	p->idle = false; /* so it cannot park under us */
	if (!p->stop) { /* not parked: let the threads finish, put the caller's slot, stop them */
		fs_pipe_wait_idle(p);
		err = p->werr;
		pthread_mutex_unlock(&p->mu);
		if (!rc && !err)
			err = fs_pipe_put(p, sl, sl->fill, true);
		if (!rc && err)
			rc = fs_pipe_fail(w, err);
		pthread_mutex_lock(&p->mu);
		p->stop = true;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->writer, NULL);
	pthread_join(p->hasher, NULL);
	if (!rc && p->hash_rc)
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "blob store: hashing %s failed", w->path);
	/* The caller's slot: its bytes that are in the file and not hashed yet. */
	if (p->written > sl->base)
		upto = p->written - sl->base < sl->fill ? (size_t)(p->written - sl->base) : sl->fill;
	if (!p->hash_rc && upto > sl->hashed) {
		int hrc = ecr__digest_update(w->hash, sl->buf + sl->hashed, upto - sl->hashed);
		if (hrc && !rc)
			rc = hrc;
		else if (hrc) /* keep the first error: the writer is lost either way */
			ecr__error_clear();
		if (hrc)
			p->hash_rc = hrc;
	}
	if (rc) {
		/* Cut the file back to what was written whole; the hash covers exactly that. */
		if (p->hash_rc || ftruncate(w->fd, (off_t)p->written) != 0) {
			ecr__error_saved saved;
			ecr__error_save(&saved);
			fs_writer_discard(w); /* the file no longer matches the hash: the writer is unusable */
			ecr__error_restore(&saved);
		}
		w->base.size = p->written;
	}
	dio = p->dfd >= 0;
	if (p->dfd >= 0)
		close(p->dfd);
	for (i = 0; i < FS_PIPE_SLOTS; i++)
		fs_slot_free(w->store, p->slots[i].raw);
	fs_pipe_release(p);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	ecr__free(p);
	w->pipe = NULL;
	w->prev_run = w->run;
	w->run = 0;
	if (dio) /* the bytes went around the page cache: nothing to write back */
		w->writeback_from = w->dropped_to = w->base.size;
	return rc;
}

/* Start the writer's pipeline. Failing is harmless (the writer goes on without): the caller clears the error. */
static int fs_pipe_start(fs_writer *w)
{
	fs_pipe *p;
	struct stat a, b;
	size_t i, prefix;
	int rc = 0;

	pthread_mutex_lock(&w->store->pool_lock);
	if (w->store->npipes >= FS_PIPES_MAX)
		rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_STORAGE, "blob store: %d uploads are pipelined already",
			FS_PIPES_MAX);
	else
		w->store->npipes++;
	pthread_mutex_unlock(&w->store->pool_lock);
	if (rc)
		return rc;
	if (!(p = ecr__calloc(1, sizeof(*p)))) {
		rc = ECR_ENOMEM;
		goto fail;
	}
	p->w = w;
	p->dfd = -1;
	for (i = 0; i < FS_PIPE_SLOTS; i++) {
		if (!(p->slots[i].raw = fs_slot_alloc(w->store))) {
			rc = ECR_ENOMEM;
			goto fail;
		}
		p->slots[i].buf = (unsigned char *)(((uintptr_t)p->slots[i].raw + FS_DIO_ALIGN - 1) &
			~(uintptr_t)(FS_DIO_ALIGN - 1));
	}
	/* The first slot starts at the block of the file's end, holding the bytes of it already there. */
	p->written = w->base.size;
	p->slots[0].base = w->base.size & ~(uint64_t)(FS_DIO_ALIGN - 1);
	prefix = (size_t)(w->base.size - p->slots[0].base);
	if (prefix > 0) {
		ssize_t n;
		do
			n = pread(w->fd, p->slots[0].buf, prefix, (off_t)p->slots[0].base);
		while (n < 0 && errno == EINTR);
		if (n != (ssize_t)prefix) {
			rc = ecr__fail_os(ECR_EIO, n < 0 ? errno : EIO, "blob store: cannot read %s", w->path);
			goto fail;
		}
	}
	p->slots[0].fill = p->slots[0].hashed = prefix;
	p->slots[0].state = FS_SLOT_FILL;
	/* O_DIRECT through a second descriptor of the same file (checked: the name could have been replaced). */
	p->dfd = openat(w->store->rootfd, w->path, O_WRONLY | O_DIRECT | O_CLOEXEC | O_NOFOLLOW);
	if (p->dfd >= 0 && (fstat(p->dfd, &a) != 0 || fstat(w->fd, &b) != 0 || a.st_ino != b.st_ino ||
		a.st_dev != b.st_dev)) {
		close(p->dfd);
		p->dfd = -1;
	}
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "blob store: pthread_mutex_init failed");
		goto fail;
	}
	pthread_condattr_t ca;
	bool cv_ok = pthread_condattr_init(&ca) == 0;
	cv_ok = cv_ok && pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&p->cv, &ca) == 0;
	(void)pthread_condattr_destroy(&ca);
	if (!cv_ok) {
		pthread_mutex_destroy(&p->mu);
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "blob store: pthread_cond_init failed");
		goto fail;
	}
	if (pthread_create(&p->writer, NULL, fs_pipe_writer, p) != 0) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "blob store: cannot start a writing thread");
		goto fail;
	}
	if (pthread_create(&p->hasher, NULL, fs_pipe_hasher, p) != 0) {
		pthread_mutex_lock(&p->mu);
		p->stop = true;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->writer, NULL);
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "blob store: cannot start a hashing thread");
		goto fail;
	}
	w->pipe = p;
	return 0;
fail:
	if (p && p->dfd >= 0)
		close(p->dfd);
	for (i = 0; p && i < FS_PIPE_SLOTS; i++)
		fs_slot_free(w->store, p->slots[i].raw);
	ecr__free(p);
	pthread_mutex_lock(&w->store->pool_lock);
	w->store->npipes--;
	pthread_mutex_unlock(&w->store->pool_lock);
	return rc;
}

/* Before the caller writes into a flushed pipeline: take it back from idle, or end it when it parked meanwhile. */
static int fs_pipe_resume(fs_writer *w)
{
	fs_pipe *p = w->pipe;
	bool parked;
	pthread_mutex_lock(&p->mu);
	parked = p->parked;
	p->idle = false;
	pthread_mutex_unlock(&p->mu);
	return parked ? fs_pipe_end(w, 0) : 0;
}

/*
 * Make every byte written part of the staging file, without waiting for the hash or for the disk: the writer thread
 * finishes the slot it is writing and starts no other; the slots still queued for it and the caller's slot go into
 * the file through the page cache (a copy, where O_DIRECT would wait for the disk: the end of every PATCH of a
 * chunked push waits here), and their writeback starts at once, so the disk goes on with them while the client
 * sends the next chunk. In the file they survive the process; commit's fdatasync makes them durable. The pipeline
 * then idles: it goes on when the caller writes again (the next chunk of the upload), or parks after
 * FS_PIPE_PARK_MS.
 */
static int fs_writer_flush(ecr_blob_store_writer *base)
{
	fs_writer *w = (fs_writer *)base;
	fs_pipe *p = w->pipe;
	size_t first, n = 0, put, i;
	uint64_t from;
	int rc, err;

	if ((rc = fs_writer_check(w)) != 0)
		return rc;
	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	if (p->stop) { /* parked: all in the file */
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	p->hold = true;
	while (p->wbusy)
		pthread_cond_wait(&p->cv, &p->mu);
	/* the writer thread is between slots and stays there: the queued ones, slots[wi ...], are the caller's now */
	first = p->wi;
	while (n < FS_PIPE_SLOTS && p->slots[(first + n) % FS_PIPE_SLOTS].state == FS_SLOT_WRITE)
		n++;
	err = p->werr;
	from = p->written;
	pthread_mutex_unlock(&p->mu);
	for (put = 0; put < n && !err; put++) { /* the queued slots in order (they end where the caller's begins) */
		fs_slot *sl = &p->slots[(first + put) % FS_PIPE_SLOTS];
		if ((err = fs_pipe_put(p, sl, sl->fill, false)) != 0)
			break;
	}
	if (!err)
		err = fs_pipe_put(p, &p->slots[p->cur], p->slots[p->cur].fill, false);
	pthread_mutex_lock(&p->mu);
	for (i = 0; i < n; i++) { /* on to the hasher, as from the writer thread (after a failure, dropped unhashed) */
		fs_slot *sl = &p->slots[(first + i) % FS_PIPE_SLOTS];
		if (i >= put)
			sl->hashed = sl->fill;
		sl->state = FS_SLOT_HASH;
	}
	p->wi = (first + n) % FS_PIPE_SLOTS;
	if (err && !p->werr)
		p->werr = err;
	p->hold = false;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (err)
		return fs_pipe_end(w, fs_pipe_fail(w, err));
	if (!w->store->nosync && p->written > from) {
		/* the disk starts on them now; the range the last flush cached is written back by now (or soon): it leaves
		 * the page cache (pages still dirty or under writeback stay) */
		(void)sync_file_range(w->fd, (off_t)from, (off_t)(p->written - from), SYNC_FILE_RANGE_WRITE);
		if (p->cached_to > p->cached_from)
			(void)posix_fadvise(w->fd, (off_t)p->cached_from, (off_t)(p->cached_to - p->cached_from),
				POSIX_FADV_DONTNEED);
		p->cached_from = from;
		p->cached_to = p->written;
	}
	pthread_mutex_lock(&p->mu);
	p->idle = true;
	pthread_cond_broadcast(&p->cv); /* the hasher starts its idle clock */
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/* Take bytes into the pipeline: each slot that fills goes to the writer thread, and the caller goes on in the next
 * free slot. A failure of the threads ends the pipeline (see fs_pipe_end). */
static int fs_pipe_write(fs_writer *w, const unsigned char *data, size_t len)
{
	fs_pipe *p = w->pipe;
	int err;

	while (len > 0) {
		fs_slot *sl = &p->slots[p->cur], *next;
		size_t n = FS_SLOT_SIZE - sl->fill < len ? FS_SLOT_SIZE - sl->fill : len;
		memcpy(sl->buf + sl->fill, data, n);
		sl->fill += n;
		w->base.size += n;
		data += n;
		len -= n;
		if (sl->fill < FS_SLOT_SIZE)
			break;
		pthread_mutex_lock(&p->mu);
		sl->state = FS_SLOT_WRITE;
		pthread_cond_broadcast(&p->cv);
		p->cur = (p->cur + 1) % FS_PIPE_SLOTS;
		next = &p->slots[p->cur];
		while (next->state != FS_SLOT_FREE)
			pthread_cond_wait(&p->cv, &p->mu);
		next->base = sl->base + FS_SLOT_SIZE;
		next->fill = next->hashed = 0;
		next->state = FS_SLOT_FILL;
		err = p->werr;
		pthread_mutex_unlock(&p->mu);
		if (err)
			return fs_pipe_end(w, fs_pipe_fail(w, err));
	}
	return 0;
}

static int fs_writer_write(ecr_blob_store_writer *base, const void *data, size_t len)
{
	fs_writer *w = (fs_writer *)base;
	const unsigned char *p = data;
	uint64_t start = w->base.size;
	size_t done = 0;
	int err = 0, rc;

	if ((rc = fs_writer_check(w)) != 0)
		return rc;
	if (len == 0)
		return 0;
	if (!data)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: write of NULL data");
	if (len > (uint64_t)INT64_MAX - start)
		return ecr__fail(ECR_ERANGE, ECR_ERROR_STORAGE, "blob store: %s would grow too large", w->path);
	if (w->pipe && (rc = fs_pipe_resume(w)) != 0)
		return rc;
	if (!w->pipe && (w->run >= FS_PIPE_START || w->prev_run >= FS_PIPE_START) && fs_pipe_start(w) != 0) {
		ecr__error_clear(); /* no pipeline: the writer goes on without one */
		w->run = w->prev_run = 0;
	}
	if (w->pipe) {
		w->run += len;
		return fs_pipe_write(w, p, len);
	}

	while (done < len) {
		size_t want = len - done < FS_IO_MAX ? len - done : FS_IO_MAX;
		ssize_t n = write(w->fd, p + done, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		if (n == 0) {
			err = ENOSPC;
			break;
		}
		done += (size_t)n;
	}
	if (err) {
		rc = fs_fail_errno(w->store, err, "write", w->path);
		/* Undo the partial write so a retry starts at the same offset; when
		 * that fails too, account for the bytes that are there. */
		if (done > 0 && ftruncate(w->fd, (off_t)start) != 0) {
			ecr__error_saved saved;
			ecr__error_save(&saved);
			if (ecr__digest_update(w->hash, p, done) == 0)
				w->base.size = start + done;
			ecr__error_restore(&saved);
		}
		return rc;
	}
	if ((rc = ecr__digest_update(w->hash, p, len)) != 0) {
		(void)!ftruncate(w->fd, (off_t)start);
		return rc;
	}
	w->base.size = start + len;
	w->run += len;
	fs_writer_writeback(w);
	return 0;
}

static int fs_writer_digest(ecr_blob_store_writer *base, char *out, size_t outlen)
{
	fs_writer *w = (fs_writer *)base;
	ecr__digest_ctx *copy = NULL;
	int rc;

	if ((rc = fs_writer_check(w)) != 0 || (rc = fs_pipe_end(w, 0)) != 0 || (rc = fs_writer_check(w)) != 0)
		return rc;
	if ((rc = ecr__digest_clone(&copy, w->hash)) != 0)
		return rc;
	rc = ecr__digest_final(copy, out, outlen);
	ecr__digest_free(copy);
	return rc;
}

static void fs_writer_discard(fs_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

static int fs_writer_commit(ecr_blob_store_writer *base, const char *digest)
{
	fs_writer *w = (fs_writer *)base;
	fs_store *s = w->store;
	ecr__digest_ctx *ctx = NULL;
	ecr__digest_alg alg;
	const char *hex;
	char actual[ECR__DIGEST_STRLEN_MAX], target[ECR__BLOB_PATH_MAX], shard[48];
	int rc, attempt, err;
	bool staged;

	if ((rc = fs_writer_check(w)) != 0 || (rc = fs_pipe_end(w, 0)) != 0 || (rc = fs_writer_check(w)) != 0)
		return rc;
	if ((rc = ecr__blob_digest_parse(digest, &alg, &hex)) != 0)
		return rc;

	if (alg == ecr__digest_ctx_alg(w->hash)) {
		rc = ecr__digest_clone(&ctx, w->hash);
	} else {
		if ((rc = ecr__digest_new(&ctx, alg)) == 0)
			rc = fs_hash_file(s, w->path, w->fd, w->base.size, ctx);
	}
	if (rc != 0 || (rc = ecr__digest_final(ctx, actual, sizeof(actual))) != 0)
		goto done;

	if (strcmp(actual, digest) != 0) {
		rc = ecr__blob_fail_mismatch(digest, actual);
		(void)unlinkat(s->rootfd, w->path, 0);
		fs_writer_discard(w);
		goto done;
	}

	/* What gets published must be exactly what was hashed (another writer on
	 * the same staging object would break that). */
	{
		struct stat st;
		if (fstat(w->fd, &st) != 0) {
			rc = fs_fail_errno(s, errno, "stat", w->path);
			goto done;
		}
		if ((uint64_t)st.st_size != w->base.size) {
			rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE,
				"blob store: %s/%s has %llu bytes, its writer wrote %llu (written to concurrently?)",
				s->root, w->path, (unsigned long long)st.st_size, (unsigned long long)w->base.size);
			goto done;
		}
	}
	if (!s->nosync && fdatasync(w->fd) != 0) {
		rc = fs_fail_errno(s, errno, "fsync", w->path);
		goto done;
	}
	ecr__blob_digest_path(target, alg, hex);
	snprintf(shard, sizeof(shard), "blobs/%s/%.2s", ecr__digest_alg_name(alg), hex);
	/* A second attempt covers a shard folder removed between mkdir and rename. */
	for (attempt = 0;; attempt++) {
		if ((rc = fs_make_shard(s, alg, hex)) != 0)
			goto done;
		/* Replacing an existing target is fine: same name, same bytes. */
		if (renameat(s->rootfd, w->path, s->rootfd, target) == 0)
			break;
		err = errno;
		staged = faccessat(s->rootfd, w->path, F_OK, 0) == 0;
		if (err == ENOENT && staged && attempt == 0)
			continue;
		if (err == ENOENT && !staged) {
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: staging object %s/%s was removed",
				s->root, w->path);
			fs_writer_discard(w);
			goto done;
		}
		rc = fs_fail_errno(s, err, "publish", target);
		goto done;
	}
	fs_writer_discard(w);
	/* Published; a failure here means it may not survive a crash (ECR_EIO). */
	rc = fs_sync_dir(s, shard);

done:
	ecr__digest_free(ctx);
	return rc;
}

static void fs_writer_close(ecr_blob_store_writer *base)
{
	fs_writer *w = (fs_writer *)base;
	if (!w)
		return;
	if (w->pipe) { /* settle, so the staging file keeps every byte written */
		ecr__error_saved saved;
		ecr__error_save(&saved);
		(void)fs_pipe_end(w, 0);
		ecr__error_restore(&saved);
	}
	fs_writer_discard(w);
	ecr__digest_free(w->hash);
	ecr__free(w);
}

/* --- store: staging --- */

static int fs_stage_open(ecr_blob_store_writer **out, ecr_blob_store *self, const char *stage_id, int create)
{
	fs_store *s = (fs_store *)self;
	fs_writer *w = NULL;
	struct stat st;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: stage_open without out");
	*out = NULL;
	if ((rc = ecr__blob_stage_id_check(stage_id)) != 0)
		return rc;
	if (!(w = ecr__calloc(1, sizeof(*w))))
		return ECR_ENOMEM;
	w->fd = -1;
	w->store = s;
	snprintf(w->path, sizeof(w->path), "uploads/%s", stage_id);

	/* O_APPEND: a second writer on the same staging object can only add bytes,
	 * which commit notices (the size no longer matches what was hashed). */
	w->fd = openat(s->rootfd, w->path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0644);
	if (w->fd < 0) {
		if (errno == ENOENT && !create)
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no staging object %s", stage_id);
		else
			rc = fs_fail_errno(s, errno, "open", w->path);
		goto done;
	}
	if (fstat(w->fd, &st) != 0) {
		rc = fs_fail_errno(s, errno, "stat", w->path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob store: %s/%s is not a regular file", s->root, w->path);
		goto done;
	}
	if ((rc = ecr__digest_new(&w->hash, ECR__DIGEST_SHA256)) != 0)
		goto done;
	/* Reopened: hash the bytes that are there so the writer can go on. */
	if ((rc = fs_hash_file(s, w->path, w->fd, (uint64_t)st.st_size, w->hash)) != 0)
		goto done;

	w->base.version = ECR_BLOB_STORE_WRITER_VERSION;
	w->base.size = (uint64_t)st.st_size;
	w->base.write = fs_writer_write;
	w->base.commit = fs_writer_commit;
	w->base.flush = fs_writer_flush;
	w->base.digest = fs_writer_digest;
	w->base.close = fs_writer_close;
	w->writeback_from = w->dropped_to = w->base.size;
	*out = &w->base;
	w = NULL;
done:
	if (w)
		fs_writer_close(&w->base);
	return rc;
}

static int fs_stage_remove(ecr_blob_store *self, const char *stage_id)
{
	fs_store *s = (fs_store *)self;
	char path[ECR__BLOB_PATH_MAX];
	int rc;

	if ((rc = ecr__blob_stage_id_check(stage_id)) != 0)
		return rc;
	snprintf(path, sizeof(path), "uploads/%s", stage_id);
	if (unlinkat(s->rootfd, path, 0) != 0) {
		if (errno == ENOENT)
			return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no staging object %s",
				stage_id);
		return fs_fail_errno(s, errno, "remove", path);
	}
	return 0;
}

/* Open a folder (relative to the store's) for reading its entries. */
static int fs_opendir(DIR **out, fs_store *s, const char *rel, bool missing_ok)
{
	int fd = openat(s->rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*out = NULL;
	if (fd < 0) {
		if (errno == ENOENT && missing_ok)
			return 0;
		return fs_fail_errno(s, errno, "open folder", rel);
	}
	if (!(*out = fdopendir(fd))) {
		int err = errno;
		close(fd);
		return fs_fail_errno(s, err, "open folder", rel);
	}
	return 0;
}

static int fs_stage_list(ecr_blob_store *self, ecr_blob_store_stage_cb cb, void *payload)
{
	fs_store *s = (fs_store *)self;
	DIR *dir = NULL;
	struct dirent *de;
	int rc;

	if (!cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: stage_list without a callback");
	if ((rc = fs_opendir(&dir, s, "uploads", true)) != 0 || !dir)
		return rc;
	for (;;) {
		struct stat st;
		errno = 0;
		if (!(de = readdir(dir))) {
			if (errno)
				rc = fs_fail_errno(s, errno, "list", "uploads");
			break;
		}
		if (!ecr__blob_stage_id_valid(de->d_name))
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue; /* removed meanwhile */
			rc = fs_fail_errno(s, errno, "stat", de->d_name);
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if ((rc = cb(de->d_name, (uint64_t)st.st_size, fs_mtime_ms(&st), payload)) != 0)
			break;
	}
	closedir(dir);
	return rc;
}

/* --- store: blobs --- */

static int fs_reader_read(ecr_blob_store_reader *base, void *buf, size_t len, size_t *nread)
{
	fs_reader *r = (fs_reader *)base;
	ssize_t n;
	size_t want;

	if (!nread || (!buf && len))
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: read without a buffer");
	*nread = 0;
	if (r->pos >= r->base.size || len == 0)
		return 0;
	want = r->base.size - r->pos < len ? (size_t)(r->base.size - r->pos) : len;
	if (want > FS_IO_MAX)
		want = FS_IO_MAX;
	do
		n = pread(r->fd, buf, want, (off_t)r->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ecr__fail_os(ECR_EIO, errno, "blob store: cannot read a blob");
	r->pos += (uint64_t)n;
	*nread = (size_t)n;
	return 0;
}

static int fs_reader_fd(ecr_blob_store_reader *base, int *fd_out, uint64_t *offset_out)
{
	fs_reader *r = (fs_reader *)base;
	if (!fd_out || !offset_out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: fd without outputs");
	*fd_out = r->fd;
	*offset_out = 0; /* the blob's first byte: one file per blob */
	return 0;
}

static void fs_reader_close(ecr_blob_store_reader *base)
{
	fs_reader *r = (fs_reader *)base;
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	ecr__free(r);
}

static int fs_read_open(ecr_blob_store_reader **out, ecr_blob_store *self, const char *digest, uint64_t offset)
{
	fs_store *s = (fs_store *)self;
	fs_reader *r = NULL;
	ecr__digest_alg alg;
	const char *hex;
	char path[ECR__BLOB_PATH_MAX];
	struct stat st;
	int rc;

	if (!out)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: read_open without out");
	*out = NULL;
	if ((rc = ecr__blob_digest_parse(digest, &alg, &hex)) != 0)
		return rc;
	ecr__blob_digest_path(path, alg, hex);
	if (!(r = ecr__calloc(1, sizeof(*r))))
		return ECR_ENOMEM;
	r->fd = openat(s->rootfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (r->fd < 0) {
		if (errno == ENOENT)
			rc = ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no blob %s", digest);
		else
			rc = fs_fail_errno(s, errno, "open", path);
		goto done;
	}
	if (fstat(r->fd, &st) != 0) {
		rc = fs_fail_errno(s, errno, "stat", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob store: %s/%s is not a regular file", s->root, path);
		goto done;
	}
	if (offset > (uint64_t)st.st_size) {
		rc = ecr__fail(ECR_ERANGE, ECR_ERROR_STORAGE,
			"blob store: offset %llu is past the end of %s (%llu bytes)", (unsigned long long)offset,
			digest, (unsigned long long)st.st_size);
		goto done;
	}
	r->base.version = ECR_BLOB_STORE_READER_VERSION;
	r->base.size = (uint64_t)st.st_size;
	r->base.read = fs_reader_read;
	r->base.fd = fs_reader_fd;
	r->base.close = fs_reader_close;
	r->pos = offset;
	*out = &r->base;
	r = NULL;
done:
	if (r)
		fs_reader_close(&r->base);
	return rc;
}

static int fs_stat(ecr_blob_store *self, const char *digest, uint64_t *size_out)
{
	fs_store *s = (fs_store *)self;
	ecr__digest_alg alg;
	const char *hex;
	char path[ECR__BLOB_PATH_MAX];
	struct stat st;
	int rc;

	if ((rc = ecr__blob_digest_parse(digest, &alg, &hex)) != 0)
		return rc;
	ecr__blob_digest_path(path, alg, hex);
	if (fstatat(s->rootfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no blob %s", digest);
		return fs_fail_errno(s, errno, "stat", path);
	}
	if (!S_ISREG(st.st_mode))
		return ecr__fail(ECR_EIO, ECR_ERROR_STORAGE, "blob store: %s/%s is not a regular file", s->root, path);
	if (size_out)
		*size_out = (uint64_t)st.st_size;
	return 0;
}

static int fs_remove(ecr_blob_store *self, const char *digest)
{
	fs_store *s = (fs_store *)self;
	ecr__digest_alg alg;
	const char *hex;
	char path[ECR__BLOB_PATH_MAX];
	int rc;

	if ((rc = ecr__blob_digest_parse(digest, &alg, &hex)) != 0)
		return rc;
	ecr__blob_digest_path(path, alg, hex);
	if (unlinkat(s->rootfd, path, 0) != 0) {
		if (errno == ENOENT)
			return ecr__fail(ECR_ENOTFOUND, ECR_ERROR_STORAGE, "blob store: no blob %s", digest);
		return fs_fail_errno(s, errno, "remove", path);
	}
	return 0;
}

/* List the blobs of one shard folder blobs/<alg>/<xx>. */
static int fs_list_shard(fs_store *s, const char *alg, const char *shard_rel, const char *prefix,
	ecr_blob_store_list_cb cb, void *payload)
{
	DIR *dir = NULL;
	struct dirent *de;
	ecr__digest_alg a;
	size_t hexlen;
	char digest[ECR__DIGEST_STRLEN_MAX];
	int rc;

	(void)ecr__digest_alg_from_name(&a, alg, strlen(alg));
	hexlen = ecr__digest_hex_len(a);
	if ((rc = fs_opendir(&dir, s, shard_rel, true)) != 0 || !dir)
		return rc;
	for (;;) {
		struct stat st;
		errno = 0;
		if (!(de = readdir(dir))) {
			if (errno)
				rc = fs_fail_errno(s, errno, "list", shard_rel);
			break;
		}
		/* Only complete blobs have a name that is a digest of this shard. */
		if (!ecr__blob_is_hex(de->d_name, hexlen) || memcmp(de->d_name, prefix, 2) != 0)
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno == ENOENT)
				continue;
			rc = fs_fail_errno(s, errno, "stat", de->d_name);
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		snprintf(digest, sizeof(digest), "%s:%.128s", alg, de->d_name);
		if ((rc = cb(digest, (uint64_t)st.st_size, fs_mtime_ms(&st), payload)) != 0)
			break;
	}
	closedir(dir);
	return rc;
}

static int fs_list(ecr_blob_store *self, ecr_blob_store_list_cb cb, void *payload)
{
	fs_store *s = (fs_store *)self;
	size_t i;
	int rc = 0;

	if (!cb)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "blob store: list without a callback");
	for (i = 0; i < sizeof(fs_algs) / sizeof(fs_algs[0]) && rc == 0; i++) {
		char alg_rel[32];
		DIR *dir = NULL;
		struct dirent *de;

		snprintf(alg_rel, sizeof(alg_rel), "blobs/%s", fs_algs[i]);
		if ((rc = fs_opendir(&dir, s, alg_rel, true)) != 0)
			break;
		if (!dir)
			continue;
		for (;;) {
			char shard_rel[48];
			errno = 0;
			if (!(de = readdir(dir))) {
				if (errno)
					rc = fs_fail_errno(s, errno, "list", alg_rel);
				break;
			}
			if (!ecr__blob_is_hex(de->d_name, 2))
				continue;
			snprintf(shard_rel, sizeof(shard_rel), "%s/%.2s", alg_rel, de->d_name);
			if ((rc = fs_list_shard(s, fs_algs[i], shard_rel, de->d_name, cb, payload)) != 0)
				break;
		}
		closedir(dir);
	}
	return rc;
}

static void fs_free(ecr_blob_store *self)
{
	fs_store *s = (fs_store *)self;
	if (!s)
		return;
	if (s->rootfd >= 0)
		close(s->rootfd);
	while (s->npool > 0)
		ecr__free(s->pool[--s->npool]);
	pthread_mutex_destroy(&s->pool_lock);
	ecr__free(s->root);
	ecr__free(s);
}

/* mkdir -p for the store's own folder. */
static int fs_mkdir_p(const char *path)
{
	char *copy, *p;
	int rc = 0;

	if (!(copy = ecr__strdup(path)))
		return ECR_ENOMEM;
	for (p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
			rc = ecr__fail_os(ECR_EIO, errno, "blob store: cannot create folder %s", copy);
			break;
		}
		*p = saved;
		if (!saved)
			break;
	}
	ecr__free(copy);
	return rc;
}

int ecr_blob_store_fs_new(ecr_blob_store **out, const char *path, uint32_t flags)
{
	static const char *const dirs[] = {"blobs", "blobs/sha256", "blobs/sha512", "uploads"};
	fs_store *s = NULL;
	bool created, any = false;
	size_t i;
	int rc;

	if (!out || !path || !*path)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_store_fs_new: out and path are required");
	*out = NULL;
	if (flags & ~ECR_STORAGE_NOSYNC)
		return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "ecr_blob_store_fs_new: unknown flags 0x%x", flags);
	if (!(s = ecr__calloc(1, sizeof(*s))))
		return ECR_ENOMEM;
	s->rootfd = -1;
	s->nosync = (flags & ECR_STORAGE_NOSYNC) != 0;
	pthread_mutex_init(&s->pool_lock, NULL);
	if (!(s->root = ecr__strdup(path))) {
		rc = ECR_ENOMEM;
		goto done;
	}
	if ((rc = fs_mkdir_p(path)) != 0)
		goto done;
	if ((s->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = ecr__fail_os(ECR_EIO, errno, "blob store: cannot open folder %s", path);
		goto done;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if ((rc = fs_mkdir(s, dirs[i], &created)) != 0)
			goto done;
		any |= created;
	}
	if (any && ((rc = fs_sync_dir(s, "blobs")) != 0 || (rc = fs_sync_dir(s, ".")) != 0))
		goto done;

	if ((rc = ecr_blob_store_init(&s->base, ECR_BLOB_STORE_VERSION)) != 0)
		goto done;
	s->base.stage_open = fs_stage_open;
	s->base.stage_remove = fs_stage_remove;
	s->base.stage_list = fs_stage_list;
	s->base.read_open = fs_read_open;
	s->base.stat = fs_stat;
	s->base.remove = fs_remove;
	s->base.list = fs_list;
	s->base.free = fs_free;
	*out = &s->base;
	s = NULL;
done:
	if (s)
		fs_free(&s->base);
	return rc;
}
