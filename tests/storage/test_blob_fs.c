/* storage/blob_fs: the blob store contract on the file-system store, plus its
 * layout on disk, restarts, file descriptors, and what a reader of the folder
 * can see while uploads are in flight. */
#define BSC_NAME(c) test_storage_blob_fs__##c
#include "blob_store_contract.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int bsc_store_new(bsc_fixture *fx)
{
	if (!(fx->dir = th_tmpdir()))
		return -1;
	return ecr_blob_store_fs_new(&fx->store, fx->dir, ECR_STORAGE_NOSYNC);
}

static void bsc_store_free(bsc_fixture *fx)
{
	ecr_blob_store_free(fx->store);
	th_rmtree(fx->dir);
}

/* Read a whole file into a malloc'd buffer. */
static unsigned char *fs_slurp(const char *path, size_t *len_out)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len_out = (size_t)st.st_size;
	return buf;
}

static void fs_blob_path(char *out, size_t outlen, const char *dir, const char *digest)
{
	const char *colon = strchr(digest, ':');
	snprintf(out, outlen, "%s/blobs/%.*s/%.2s/%s", dir, (int)(colon - digest), digest, colon + 1, colon + 1);
}

static void test_storage_blob_fs__layout(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 100000, len;
	unsigned char *data = bsc_bytes(total, 11), *disk;
	char d256[ECR__DIGEST_STRLEN_MAX], d512[ECR__DIGEST_STRLEN_MAX], path[512], staging[512];
	ecr_blob_store_writer *w = NULL;
	struct stat st;

	bsc_digest(d256, ECR__DIGEST_SHA256, data, total);
	bsc_digest(d512, ECR__DIGEST_SHA512, data, total / 2);

	assert_ok(s->stage_open(&w, s, "layout-1", 1));
	assert_ok(w->write(w, data, total));
	snprintf(staging, sizeof(staging), "%s/uploads/layout-1", fx->dir);
	disk = fs_slurp(staging, &len);
	assert_non_null(disk);
	assert_int_equal(len, total);
	assert_memory_equal(disk, data, total);
	free(disk);
	assert_ok(w->commit(w, d256));
	w->close(w);
	assert_int_equal(stat(staging, &st), -1);
	assert_int_equal(errno, ENOENT);

	fs_blob_path(path, sizeof(path), fx->dir, d256);
	disk = fs_slurp(path, &len);
	assert_non_null(disk);
	assert_int_equal(len, total);
	assert_memory_equal(disk, data, total);
	free(disk);

	assert_ok(bsc_put(s, "layout-2", data, total / 2, 4096, d512));
	fs_blob_path(path, sizeof(path), fx->dir, d512);
	assert_non_null(strstr(path, "/blobs/sha512/"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, total / 2);
	free(data);
}

static int fs_count_files(const char *p, const struct stat *st, int flag, struct FTW *ftw);
static int fs_files_seen;
static int fs_count_files(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)p; (void)st; (void)ftw;
	if (flag == FTW_F)
		fs_files_seen++;
	return 0;
}

static void test_storage_blob_fs__no_partial_blob_visible(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	size_t total = 1 << 20;
	unsigned char *data = bsc_bytes(total, 12);
	char digest[ECR__DIGEST_STRLEN_MAX], blobs[512];
	ecr_blob_store_writer *w = NULL;
	struct bsc_seen seen;

	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	snprintf(blobs, sizeof(blobs), "%s/blobs", fx->dir);
	assert_ok(s->stage_open(&w, s, "inflight", 1));
	assert_ok(w->write(w, data, total / 2));

	fs_files_seen = 0;
	assert_int_equal(nftw(blobs, fs_count_files, 8, FTW_PHYS), 0);
	assert_int_equal(fs_files_seen, 0);
	assert_int_equal(s->stat(s, digest, NULL), ECR_ENOTFOUND);
	memset(&seen, 0, sizeof(seen));
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 0);

	assert_ok(w->write(w, data + total / 2, total - total / 2));
	fs_files_seen = 0;
	assert_int_equal(nftw(blobs, fs_count_files, 8, FTW_PHYS), 0);
	assert_int_equal(fs_files_seen, 0);

	assert_ok(w->commit(w, digest));
	w->close(w);
	fs_files_seen = 0;
	assert_int_equal(nftw(blobs, fs_count_files, 8, FTW_PHYS), 0);
	assert_int_equal(fs_files_seen, 1);
	free(data);
}

static void fs_touch(const char *dir, const char *rel, const char *content)
{
	char path[1400];
	int fd;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void test_storage_blob_fs__list_skips_foreign_files(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	char digest[ECR__DIGEST_STRLEN_MAX], rel[800], shard[64];
	const char *hex;
	struct bsc_seen seen;

	bsc_digest(digest, ECR__DIGEST_SHA256, "real", 4);
	assert_ok(bsc_put(s, "real", "real", 4, 4, digest));
	hex = digest + 7;
	snprintf(shard, sizeof(shard), "blobs/sha256/%.2s", hex);

	/* Temp files, names of the wrong length or case, a name outside its shard,
	 * a folder with a digest's name, junk shard folders and staging names. */
	snprintf(rel, sizeof(rel), "%s/.tmp-%s", shard, hex);
	fs_touch(fx->dir, rel, "tmp");
	snprintf(rel, sizeof(rel), "%s/%.63s", shard, hex);
	fs_touch(fx->dir, rel, "short");
	snprintf(rel, sizeof(rel), "%s/%.62sAB", shard, hex);
	fs_touch(fx->dir, rel, "upper");
	snprintf(rel, sizeof(rel), "%s/%s.partial", shard, hex);
	fs_touch(fx->dir, rel, "partial");
	snprintf(rel, sizeof(rel), "%s/%.2s%s", shard, hex[0] == 'f' ? "00" : "ff", hex + 2);
	fs_touch(fx->dir, rel, "wrong shard");
	snprintf(rel, sizeof(rel), "%s/blobs/sha256/zz", fx->dir);
	assert_int_equal(mkdir(rel, 0755), 0);
	snprintf(rel, sizeof(rel), "%s/blobs/sha256/%.2s/%.2s%062d", fx->dir, hex, hex, 0);
	assert_int_equal(mkdir(rel, 0755), 0);
	fs_touch(fx->dir, "blobs/sha256/stray-file", "stray");
	fs_touch(fx->dir, "uploads/not.valid", "x");

	memset(&seen, 0, sizeof(seen));
	assert_ok(s->list(s, bsc_collect_blob, &seen));
	assert_int_equal(seen.count, 1);
	assert_string_equal(seen.names[0], digest);
	assert_int_equal(seen.sizes[0], 4);

	memset(&seen, 0, sizeof(seen));
	assert_ok(s->stage_list(s, bsc_collect_stage, &seen));
	assert_int_equal(seen.count, 0);
}

static void test_storage_blob_fs__staging_survives_restart(void **state)
{
	bsc_fixture *fx = *state;
	size_t total = 300000, len;
	unsigned char *data = bsc_bytes(total, 13), *back;
	char digest[ECR__DIGEST_STRLEN_MAX];
	ecr_blob_store_writer *w = NULL;
	ecr_blob_store *s = fx->store;

	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	assert_ok(s->stage_open(&w, s, "restart", 1));
	assert_ok(w->write(w, data, 100000));
	w->close(w);
	ecr_blob_store_free(fx->store);

	/* A new store on the same folder (with fsync on this time) resumes it. */
	fx->store = s = NULL;
	assert_ok(ecr_blob_store_fs_new(&fx->store, fx->dir, 0));
	s = fx->store;
	w = NULL;
	assert_ok(s->stage_open(&w, s, "restart", 0));
	assert_int_equal(w->size, 100000);
	assert_ok(w->write(w, data + 100000, total - 100000));
	assert_ok(w->commit(w, digest));
	w->close(w);
	back = bsc_read(s, digest, 0, 1 << 16, &len);
	assert_int_equal(len, total);
	assert_memory_equal(back, data, total);
	free(back);
	free(data);
}

static void test_storage_blob_fs__reader_fd(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	ecr_blob_store_reader *r = NULL;
	char digest[ECR__DIGEST_STRLEN_MAX], buf[16];
	uint64_t off = 99;
	int fd = -1;

	bsc_digest(digest, ECR__DIGEST_SHA256, "sendfile me", 11);
	assert_ok(bsc_put(s, "fd", "sendfile me", 11, 11, digest));
	assert_ok(s->read_open(&r, s, digest, 9));
	assert_non_null(r->fd);
	assert_ok(r->fd(r, &fd, &off));
	assert_true(fd >= 0);
	/* The offset of the blob's first byte in the file (one file per blob). */
	assert_int_equal(off, 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), (off_t)off), 11);
	assert_memory_equal(buf, "sendfile me", 11);
	r->close(r);
}

static void test_storage_blob_fs__stage_id_cannot_escape(void **state)
{
	bsc_fixture *fx = *state;
	ecr_blob_store *s = fx->store;
	ecr_blob_store_writer *w = NULL;
	char path[600];
	DIR *d;
	struct dirent *de;
	int entries = 0;

	assert_int_equal(s->stage_open(&w, s, "../x", 1), ECR_EINVALID);
	assert_int_equal(s->stage_open(&w, s, "../blobs/sha256/evil", 1), ECR_EINVALID);
	snprintf(path, sizeof(path), "%s/x", fx->dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/uploads", fx->dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			entries++;
	closedir(d);
	assert_int_equal(entries, 0);
}

static void test_storage_blob_fs__durable_commit(void **state)
{
	char *dir = th_tmpdir();
	ecr_blob_store *s = NULL;
	char digest[ECR__DIGEST_STRLEN_MAX], path[512];
	struct stat st;
	(void)state;

	/* With fsync on, into a store whose shard folders get removed behind its back. */
	assert_ok(ecr_blob_store_fs_new(&s, dir, 0));
	bsc_digest(digest, ECR__DIGEST_SHA256, "durable", 7);
	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	assert_int_equal(rmdir(path), 0);
	assert_ok(bsc_put(s, "durable", "durable", 7, 3, digest));
	fs_blob_path(path, sizeof(path), dir, digest);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 7);
	ecr_blob_store_free(s);
	th_rmtree(dir);
}

/* The store publishes exactly data[0, len) under digest. */
static void fs_check_blob(ecr_blob_store *s, const char *digest, const unsigned char *data, size_t len)
{
	size_t have;
	unsigned char *back = bsc_read(s, digest, 0, 1 << 20, &have);
	assert_int_equal(have, len);
	assert_memory_equal(back, data, len);
	free(back);
}

static void test_storage_blob_fs__large_durable_upload(void **state)
{
	char *dir = th_tmpdir();
	ecr_blob_store *s = NULL;
	ecr_blob_store_writer *w = NULL;
	size_t total = 40 * 1024 * 1024 + 12345, off = 0;
	unsigned char *data = bsc_bytes(total, 40);
	char digest[ECR__DIGEST_STRLEN_MAX];
	(void)state;

	/* With fsync on, a long upload goes through the early-writeback and
	 * cache-dropping path; the staging file must stay intact throughout,
	 * including across a reopen in the middle. */
	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	assert_ok(ecr_blob_store_fs_new(&s, dir, 0));
	assert_ok(s->stage_open(&w, s, "large", 1));
	while (off < total) {
		size_t n = total - off < 1048573 ? total - off : 1048573;
		if (off >= total / 2 && off < total / 2 + 1048573) {
			w->close(w);
			w = NULL;
			assert_ok(s->stage_open(&w, s, "large", 0));
			assert_int_equal(w->size, off);
		}
		assert_ok(w->write(w, data + off, n));
		off += n;
	}
	assert_ok(w->commit(w, digest));
	w->close(w);
	fs_check_blob(s, digest, data, total);
	free(data);
	ecr_blob_store_free(s);
	th_rmtree(dir);
}

/* Write data[from, to) in pieces of chunk bytes. */
static void fs_write_range(ecr_blob_store_writer *w, const unsigned char *data, size_t from, size_t to, size_t chunk)
{
	while (from < to) {
		size_t n = to - from < chunk ? to - from : chunk;
		assert_ok(w->write(w, data + from, n));
		from += n;
		assert_int_equal(w->size, from);
	}
}

/* The staging file holds exactly data[0, len). */
static void fs_check_staging(const char *dir, const char *id, const unsigned char *data, size_t len)
{
	char path[512];
	size_t have;
	unsigned char *disk;
	snprintf(path, sizeof(path), "%s/uploads/%s", dir, id);
	disk = fs_slurp(path, &have);
	assert_non_null(disk);
	assert_int_equal(have, len);
	assert_memory_equal(disk, data, len);
	free(disk);
}

/* The writer of staging file `id` holds the upload's first w->size bytes, and its digest says so; write the rest of
 * data[0, total) in chunks, commit, and check the blob (closes w). */
static void fs_finish_upload(ecr_blob_store *s, ecr_blob_store_writer *w, const char *dir, const char *id,
	const unsigned char *data, size_t total, size_t chunk)
{
	char digest[ECR__DIGEST_STRLEN_MAX], running[ECR__DIGEST_STRLEN_MAX];
	fs_check_staging(dir, id, data, (size_t)w->size);
	bsc_digest(digest, ECR__DIGEST_SHA256, data, (size_t)w->size);
	assert_ok(w->digest(w, running, sizeof(running)));
	assert_string_equal(running, digest);
	fs_write_range(w, data, (size_t)w->size, total, chunk);
	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	assert_ok(w->commit(w, digest));
	w->close(w);
	fs_check_blob(s, digest, data, total);
}

/* Threads of this process. */
static size_t fs_thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	size_t n = 0;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* sched_getattr(2) / sched_setattr(2)'s argument, its first version. */
typedef struct fs_test_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
} fs_test_sched_attr;

/* The scheduler slice (ns) of thread tid (0: the caller). */
static uint64_t fs_thread_slice(pid_t tid)
{
	fs_test_sched_attr a;
	memset(&a, 0, sizeof(a));
	assert_int_equal(syscall(SYS_sched_getattr, tid, &a, (unsigned)sizeof(a), 0), 0);
	return a.runtime;
}

/* Whether the kernel keeps a slice asked for with sched_setattr (Linux 6.12+); the caller's own is put back. */
static bool fs_custom_slices(void)
{
	fs_test_sched_attr a;
	uint64_t was = fs_thread_slice(0), got;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.runtime = 100000;
	a.nice = getpriority(PRIO_PROCESS, 0);
	if (syscall(SYS_sched_setattr, 0, &a, 0) != 0)
		return false;
	got = fs_thread_slice(0);
	a.runtime = 0; /* the default again */
	assert_int_equal(syscall(SYS_sched_setattr, 0, &a, 0), 0);
	return got == 100000 && got != was;
}

/* The id of the process's thread named `name`, or 0. */
static pid_t fs_thread_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	pid_t tid = 0;
	assert_non_null(d);
	while (!tid && (de = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, name, strlen(name)) == 0 && comm[strlen(name)] == '\n')
			tid = (pid_t)atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return tid;
}

static void test_storage_blob_fs__pipelined_upload_settles(void **state)
{
	char *dir = th_tmpdir();
	ecr_blob_store *s = NULL;
	ecr_blob_store_writer *w = NULL;
	size_t total = 7 * 1024 * 1024 + 777, mid = 5 * 1024 * 1024 + 333, more = 3 * 1024 * 1024 + 5;
	unsigned char *data = bsc_bytes(total + more, 41);
	char digest[ECR__DIGEST_STRLEN_MAX], running[ECR__DIGEST_STRLEN_MAX];
	size_t threads;
	(void)state;

	/* Past a few MiB a writer pipelines (slots written with O_DIRECT, hashed
	 * on another thread): digest() and close() settle it, so the staging file
	 * then holds every byte written, and a reopened writer goes on from an
	 * unaligned end. */
	assert_ok(ecr_blob_store_fs_new(&s, dir, 0));
	threads = fs_thread_count();
	assert_ok(s->stage_open(&w, s, "pipe", 1));
	fs_write_range(w, data, 0, 1024 * 1024, 131071);
	assert_int_equal(fs_thread_count(), threads); /* small so far: no pipeline */
	fs_write_range(w, data, 1024 * 1024, mid, 131071);
	assert_int_equal(fs_thread_count(), threads + 2); /* a writing and a hashing thread */
	/* the writer, which mostly waits for the disk, asks for the shortest slice, so it runs as soon as it wakes; the
	 * hasher keeps the default */
	{
		bool custom = fs_custom_slices();
		pid_t writer = 0, hasher = 0;
		int tries;
		/* the threads name themselves and ask for their slice as they start: give them a moment */
		for (tries = 0; tries < 2000; tries++) {
			writer = fs_thread_named("ecr-blobwrite");
			hasher = fs_thread_named("ecr-blobhash");
			if (writer > 0 && hasher > 0 && (!custom || fs_thread_slice(writer) == 100000))
				break;
			usleep(1000);
		}
		assert_true(writer > 0 && hasher > 0);
		if (custom) {
			assert_int_equal(fs_thread_slice(writer), 100000);
			assert_int_equal(fs_thread_slice(hasher), fs_thread_slice(0));
		}
	}
	bsc_digest(digest, ECR__DIGEST_SHA256, data, mid);
	assert_ok(w->digest(w, running, sizeof(running)));
	assert_string_equal(running, digest);
	assert_int_equal(fs_thread_count(), threads); /* settled: the threads are gone */
	fs_check_staging(dir, "pipe", data, mid);
	/* The last period took more than 2 MiB (the next chunk of a chunked push): the pipeline starts at once. */
	fs_write_range(w, data, mid, mid + 1000, 1000);
	assert_int_equal(fs_thread_count(), threads + 2);
	fs_write_range(w, data, mid + 1000, total, 65537);
	w->close(w); /* not committed: the bytes stay staged */
	w = NULL;
	fs_check_staging(dir, "pipe", data, total);

	assert_ok(s->stage_open(&w, s, "pipe", 0));
	assert_int_equal(w->size, total);
	fs_write_range(w, data, total, total + more, 262144);
	bsc_digest(digest, ECR__DIGEST_SHA256, data, total + more);
	assert_ok(w->commit(w, digest));
	w->close(w);
	fs_check_blob(s, digest, data, total + more);
	free(data);
	ecr_blob_store_free(s);
	th_rmtree(dir);
}

static void test_storage_blob_fs__pipelined_write_failure(void **state)
{
	char *dir = th_tmpdir();
	ecr_blob_store *s = NULL;
	ecr_blob_store_writer *w = NULL;
	size_t total = 9 * 1024 * 1024, limit = 5 * 1024 * 1024 + 1000, off = 0;
	unsigned char *data = bsc_bytes(total, 42);
	char running[ECR__DIGEST_STRLEN_MAX];
	struct rlimit saved, lim;
	void (*old_handler)(int);
	int rc = 0;
	(void)state;

	/* A write of the pipeline fails (the file-size limit stands in for a full
	 * disk): the writer reports it (from a later write, or when it settles),
	 * the staging file is cut back to what was written whole, size and digest
	 * agree with the file, and the upload goes on from there once writing
	 * works again. */
	assert_ok(ecr_blob_store_fs_new(&s, dir, 0));
	assert_ok(s->stage_open(&w, s, "fail", 1));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	old_handler = signal(SIGXFSZ, SIG_IGN);
	lim = saved;
	lim.rlim_cur = limit;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	while (off < total && rc == 0) {
		size_t n = total - off < 100000 ? total - off : 100000;
		rc = w->write(w, data + off, n);
		if (rc == 0)
			off += n;
	}
	if (rc == 0) /* the failure was not seen yet: settling sees it */
		rc = w->digest(w, running, sizeof(running));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, old_handler);
	assert_int_equal(rc, ECR_EIO);
	assert_true(w->size <= limit);
	assert_true(w->size > 2 * 1024 * 1024); /* the pipeline had started */
	fs_finish_upload(s, w, dir, "fail", data, total, 100000);
	free(data);
	ecr_blob_store_free(s);
	th_rmtree(dir);
}

/* Wait (up to 10 s) until the process has `want` threads; the count then. */
static size_t fs_wait_threads(size_t want)
{
	size_t n = fs_thread_count(), i;
	for (i = 0; i < 1000 && n != want; i++) {
		usleep(10000);
		n = fs_thread_count();
	}
	return n;
}

static void test_storage_blob_fs__pipelined_flush(void **state)
{
	char *dir = th_tmpdir();
	ecr_blob_store *s = NULL;
	ecr_blob_store_writer *w = NULL, *other[8] = { 0 };
	size_t first = 3 * 1024 * 1024 + 4097, second = 6 * 1024 * 1024 + 12345, total = 9 * 1024 * 1024 + 7, i;
	unsigned char *data = bsc_bytes(total, 43);
	char digest[ECR__DIGEST_STRLEN_MAX], running[ECR__DIGEST_STRLEN_MAX], id[16];
	size_t threads;
	(void)state;

	/* flush() (the end of each PATCH of a chunked push) puts every byte in the staging file but leaves the
	 * pipeline running, so hashing goes on into the next chunk: the same two threads carry on. Left alone, the
	 * pipeline parks (its threads end, it no longer counts against the store's 8), and a later write starts a
	 * new one; the digest comes out right across all of it. */
	assert_ok(ecr_blob_store_fs_new(&s, dir, 0));
	threads = fs_thread_count();
	assert_ok(s->stage_open(&w, s, "flush", 1));
	assert_int_equal(w->version, 2);
	assert_non_null(w->flush);
	fs_write_range(w, data, 0, first, 65536);
	assert_int_equal(fs_thread_count(), threads + 2);
	assert_ok(w->flush(w));
	fs_check_staging(dir, "flush", data, first); /* unaligned end: the tail went through the page cache */
	assert_ok(w->flush(w)); /* again: nothing more to do */
	assert_int_equal(fs_thread_count(), threads + 2);
	fs_write_range(w, data, first, second, 100000);
	assert_int_equal(fs_thread_count(), threads + 2); /* the same pipeline went on */
	assert_ok(w->flush(w));
	fs_check_staging(dir, "flush", data, second);

	/* idle: it parks */
	assert_int_equal(fs_wait_threads(threads), threads);
	fs_check_staging(dir, "flush", data, second);
	/* a parked pipeline counts no more: eight others pipeline */
	for (i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "other-%zu", i);
		assert_ok(s->stage_open(&other[i], s, id, 1));
		fs_write_range(other[i], data, 0, 3 * 1024 * 1024, 1 << 20);
	}
	assert_int_equal(fs_thread_count(), threads + 16);
	for (i = 0; i < 8; i++)
		other[i]->close(other[i]);
	assert_int_equal(fs_thread_count(), threads);

	bsc_digest(digest, ECR__DIGEST_SHA256, data, second);
	assert_ok(w->digest(w, running, sizeof(running)));
	assert_string_equal(running, digest);
	fs_write_range(w, data, second, total, 262144);
	assert_int_equal(fs_thread_count(), threads + 2); /* a new pipeline at once: the last chunk was large */
	assert_ok(w->flush(w));
	bsc_digest(digest, ECR__DIGEST_SHA256, data, total);
	assert_ok(w->commit(w, digest)); /* commit settles the hashing still running */
	w->close(w);
	assert_int_equal(fs_thread_count(), threads);
	fs_check_blob(s, digest, data, total);
	free(data);
	ecr_blob_store_free(s);
	th_rmtree(dir);
}

static void test_storage_blob_fs__pipelined_flush_rounds(void **state)
{
	char *dir = th_tmpdir();
	ecr_blob_store *s = NULL;
	ecr_blob_store_writer *w = NULL;
	size_t chunk = 3 * 1024 * 1024 + 512 * 1024 + 333, rounds = 24, total = chunk * rounds, off = 0, i;
	unsigned char *data = bsc_bytes(total, 44);
	char path[512];
	struct stat st;
	(void)state;

	/* A chunked push: each chunk comes in one large write, which fills slots faster than the disk takes them, and
	 * its flush finds slots still queued for the writer thread. The flush puts those itself, in order, and the
	 * writer thread carries on with the next chunk's slots after them: every byte lands once, where it belongs. */
	assert_ok(ecr_blob_store_fs_new(&s, dir, 0));
	assert_ok(s->stage_open(&w, s, "rounds", 1));
	snprintf(path, sizeof(path), "%s/uploads/rounds", dir);
	for (i = 0; i < rounds; i++) {
		assert_ok(w->write(w, data + off, chunk));
		off += chunk;
		assert_ok(w->flush(w));
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal((uint64_t)st.st_size, off);
	}
	fs_finish_upload(s, w, dir, "rounds", data, total, chunk);
	free(data);
	ecr_blob_store_free(s);
	th_rmtree(dir);
}

/* The child of flush_survives_kill9: opens the upload, reports size 0 on fd once it exists, takes the upload in
 * chunks, flushing each, and reports each flushed size; exits once it is all in. */
static void fs_flush_child(const char *dir, const unsigned char *data, size_t chunk, size_t total, int fd)
{
	ecr_blob_store *s = NULL;
	ecr_blob_store_writer *w = NULL;
	uint64_t off = 0;
	if (ecr_blob_store_fs_new(&s, dir, 0) != 0 || s->stage_open(&w, s, "killed", 1) != 0)
		_exit(2);
	if (write(fd, &off, sizeof(off)) != (ssize_t)sizeof(off))
		_exit(4);
	while (off < total) {
		size_t n = total - off < chunk ? (size_t)(total - off) : chunk;
		if (w->write(w, data + off, n) != 0 || w->flush(w) != 0)
			_exit(3);
		off += n;
		if (write(fd, &off, sizeof(off)) != (ssize_t)sizeof(off))
			_exit(4);
	}
	_exit(0);
}

static void test_storage_blob_fs__flush_survives_kill9(void **state)
{
	size_t chunk = 3 * 1024 * 1024 + 512 * 1024 + 77, total = 40 * chunk, round;
	unsigned char *data = bsc_bytes(total, 45);
	unsigned seed = (unsigned)time(NULL);
	(void)state;

	/* What a flush acknowledged (a PATCH's 202) is in the staging file after a SIGKILL at any moment, the bytes
	 * queued for the writer thread at the flush included, and the upload goes on from the file after a restart
	 * (hashing it again). */
	for (round = 0; round < 6; round++) {
		char *dir = th_tmpdir();
		ecr_blob_store *s = NULL;
		ecr_blob_store_writer *w = NULL;
		uint64_t acked = 0, got;
		int fds[2], status;
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			fs_flush_child(dir, data, chunk, total, fds[1]);
		}
		close(fds[1]);
		/* the kill lands during the upload: after the child created it (on a loaded machine, starting the child
		 * alone can take longer than the sleep) */
		assert_int_equal(read(fds[0], &got, sizeof(got)), (ssize_t)sizeof(got));
		assert_int_equal(got, 0);
		usleep(20000 + rand_r(&seed) % 100000);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		while (read(fds[0], &got, sizeof(got)) == (ssize_t)sizeof(got))
			acked = got;
		close(fds[0]);
		if (WIFEXITED(status)) /* it finished first: all of it was acknowledged */
			assert_int_equal(WEXITSTATUS(status), 0);

		assert_ok(ecr_blob_store_fs_new(&s, dir, 0));
		assert_ok(s->stage_open(&w, s, "killed", 0));
		assert_true(w->size >= acked);
		assert_true(w->size <= total);
		fs_finish_upload(s, w, dir, "killed", data, total, chunk);
		ecr_blob_store_free(s);
		th_rmtree(dir);
	}
	free(data);
}

static void test_storage_blob_fs__many_pipelines(void **state)
{
	char *dir = th_tmpdir();
	ecr_blob_store *s = NULL;
	ecr_blob_store_writer *w[10] = { 0 };
	size_t total = 5 * 1024 * 1024 + 99, off, i;
	unsigned char *data[10];
	char digest[ECR__DIGEST_STRLEN_MAX], id[16];
	size_t threads;
	(void)state;

	/* More large uploads at once than a store pipelines (8, a writing and a
	 * hashing thread each): the others go on without a pipeline, and every
	 * blob comes out right. */
	assert_ok(ecr_blob_store_fs_new(&s, dir, ECR_STORAGE_NOSYNC));
	threads = fs_thread_count();
	for (i = 0; i < 10; i++) {
		data[i] = bsc_bytes(total, 50 + (uint32_t)i);
		snprintf(id, sizeof(id), "many-%zu", i);
		assert_ok(s->stage_open(&w[i], s, id, 1));
	}
	for (off = 0; off < total; off += 300000)
		for (i = 0; i < 10; i++) {
			size_t n = total - off < 300000 ? total - off : 300000;
			assert_ok(w[i]->write(w[i], data[i] + off, n));
		}
	assert_int_equal(fs_thread_count(), threads + 2 * 8);
	for (i = 0; i < 10; i++) {
		bsc_digest(digest, ECR__DIGEST_SHA256, data[i], total);
		assert_ok(w[i]->commit(w[i], digest));
		w[i]->close(w[i]);
		fs_check_blob(s, digest, data[i], total);
		free(data[i]);
	}
	assert_int_equal(fs_thread_count(), threads);
	ecr_blob_store_free(s);
	th_rmtree(dir);
}

static void test_storage_blob_fs__new_errors(void **state)
{
	char *dir = th_tmpdir();
	ecr_blob_store *s = NULL;
	char path[512];
	(void)state;

	/* Missing folders are created. */
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_ok(ecr_blob_store_fs_new(&s, path, ECR_STORAGE_NOSYNC));
	ecr_blob_store_free(s);
	snprintf(path, sizeof(path), "%s/a/b/c/uploads", dir);
	assert_int_equal(access(path, F_OK), 0);

	s = NULL;
	assert_int_equal(ecr_blob_store_fs_new(&s, dir, 0x80), ECR_EINVALID);
	assert_null(s);
	assert_int_equal(ecr_blob_store_fs_new(&s, NULL, 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_fs_new(&s, "", 0), ECR_EINVALID);
	assert_int_equal(ecr_blob_store_fs_new(NULL, dir, 0), ECR_EINVALID);

	/* A file where the folder should be. */
	fs_touch(dir, "file", "x");
	snprintf(path, sizeof(path), "%s/file", dir);
	assert_int_equal(ecr_blob_store_fs_new(&s, path, 0), ECR_EIO);
	assert_null(s);
	assert_non_null(strstr(ecr_error_last()->message, path));
	th_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BSC_CONTRACT_TESTS,
		BSC_TEST(layout),
		BSC_TEST(no_partial_blob_visible),
		BSC_TEST(list_skips_foreign_files),
		BSC_TEST(staging_survives_restart),
		BSC_TEST(reader_fd),
		BSC_TEST(stage_id_cannot_escape),
		cmocka_unit_test(test_storage_blob_fs__durable_commit),
		cmocka_unit_test(test_storage_blob_fs__large_durable_upload),
		cmocka_unit_test(test_storage_blob_fs__pipelined_upload_settles),
		cmocka_unit_test(test_storage_blob_fs__pipelined_write_failure),
		cmocka_unit_test(test_storage_blob_fs__pipelined_flush),
		cmocka_unit_test(test_storage_blob_fs__pipelined_flush_rounds),
		cmocka_unit_test(test_storage_blob_fs__flush_survives_kill9),
		cmocka_unit_test(test_storage_blob_fs__many_pipelines),
		cmocka_unit_test(test_storage_blob_fs__new_errors),
	};
	return cmocka_run_group_tests_name("storage/blob_fs", tests, NULL, NULL);
}
