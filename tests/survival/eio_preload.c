/*
 * eio_preload: an LD_PRELOAD shim that makes file writes under a folder fail,
 * for the survival tests of a real ecrd (tests/survival/eio.sh).
 *
 * It wraps write, pwrite, pwrite64, writev, fsync, fdatasync, rename, renameat
 * and renameat2. A call is faulted only when all of these hold:
 *   - the control file $EIO_CONTROL exists (checked on every call, so a test
 *     turns faults on and off at run time by creating and removing it);
 *   - the file (for a descriptor: /proc/self/fd/N; for a rename: the source path,
 *     resolved against its folder descriptor) is under $EIO_DIR;
 *   - the operation is listed in $EIO_OPS (comma-separated names above, or
 *     "all": the default);
 *   - more than $EIO_AFTER matching calls have been seen since the process
 *     started (default 0), and a pseudo-random draw falls under $EIO_RATE
 *     percent (default 100).
 * The control file may hold "key=value" words overriding the environment
 * while it exists: errno=EIO|ENOSPC|EDQUOT, rate=N, after=N, ops=LIST.
 * A faulted call does nothing and returns -1 with errno $EIO_ERRNO (EIO,
 * ENOSPC or EDQUOT; default EIO). With $EIO_LOG set, each fault appends a
 * line "op path" to that file (so the test can see that faults happened).
 *
 * Test code only: no part of libecr.
 */
/* pwrite and pwrite64 are both wrapped: without this, glibc's headers rename pwrite to pwrite64. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum { OP_WRITE = 1, OP_PWRITE = 2, OP_WRITEV = 4, OP_FSYNC = 8, OP_FDATASYNC = 16, OP_RENAME = 32 };

static const char *op_name(int op)
{
	switch (op) {
	case OP_WRITE: return "write";
	case OP_PWRITE: return "pwrite";
	case OP_WRITEV: return "writev";
	case OP_FSYNC: return "fsync";
	case OP_FDATASYNC: return "fdatasync";
	default: return "rename";
	}
}

static int parse_ops(const char *s)
{
	int ops = 0;
	if (!s || !*s || strcmp(s, "all") == 0)
		return 0xff;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "write") == 0)
			ops |= OP_WRITE;
		else if (strcmp(t, "pwrite") == 0)
			ops |= OP_PWRITE;
		else if (strcmp(t, "writev") == 0)
			ops |= OP_WRITEV;
		else if (strcmp(t, "fsync") == 0)
			ops |= OP_FSYNC;
		else if (strcmp(t, "fdatasync") == 0)
			ops |= OP_FDATASYNC;
		else if (strcmp(t, "rename") == 0)
			ops |= OP_RENAME;
		else if (strcmp(t, "all") == 0)
			ops |= 0xff;
	}
	return ops;
}

static int parse_errno(const char *s)
{
	if (s && strcmp(s, "ENOSPC") == 0)
		return ENOSPC;
	if (s && strcmp(s, "EDQUOT") == 0)
		return EDQUOT;
	return EIO;
}

typedef struct config {
	int ops, err, rate;
	long after;
} config;

static uint64_t seen; /* matching calls (atomic) */

/* The configuration while the control file exists; 0 when faults are off. */
static int current(config *c)
{
	const char *ctl = getenv("EIO_CONTROL");
	if (!ctl || !*ctl)
		return 0;
	int saved = errno;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, ctl, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errno = saved;
		return 0;
	}
	char buf[512];
	ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	buf[n > 0 ? n : 0] = '\0';
	const char *e;
	c->ops = parse_ops(getenv("EIO_OPS"));
	c->err = parse_errno(getenv("EIO_ERRNO"));
	c->rate = (e = getenv("EIO_RATE")) ? atoi(e) : 100;
	c->after = (e = getenv("EIO_AFTER")) ? atol(e) : 0;
	for (char *save = NULL, *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (strncmp(t, "errno=", 6) == 0)
			c->err = parse_errno(t + 6);
		else if (strncmp(t, "rate=", 5) == 0)
			c->rate = atoi(t + 5);
		else if (strncmp(t, "after=", 6) == 0)
			c->after = atol(t + 6);
		else if (strncmp(t, "ops=", 4) == 0)
			c->ops = parse_ops(t + 4);
	}
	errno = saved;
	return 1;
}

static int under_dir(const char *path)
{
	const char *dir = getenv("EIO_DIR");
	if (!dir || !*dir)
		return 0;
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static int fd_path(int fd, char *out, size_t size)
{
	char link[64];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, size - 1);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return 0;
}

static void log_fault(int op, const char *path)
{
	const char *log = getenv("EIO_LOG");
	if (!log || !*log)
		return;
	char line[2 * PATH_MAX + 48];
	int n = snprintf(line, sizeof(line), "%s %s\n", op_name(op), path);
	if (n < 0)
		return;
	if (n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)syscall(SYS_write, fd, line, (size_t)n);
	syscall(SYS_close, fd);
}

/* Whether this call fails (errno set), given its operation and file. */
static int fault(int op, const char *path)
{
	config c;
	if (!path || !current(&c) || !(c.ops & op) || !under_dir(path))
		return 0;
	uint64_t k = __atomic_add_fetch(&seen, 1, __ATOMIC_RELAXED);
	if ((long)k <= c.after)
		return 0;
	/* splitmix64 of the call number: a spread-out, thread-safe draw */
	uint64_t z = k * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	if ((int)(z % 100) >= c.rate)
		return 0;
	log_fault(op, path);
	errno = c.err;
	return 1;
}

static int fault_fd(int op, int fd)
{
	char path[PATH_MAX];
	if (!getenv("EIO_CONTROL"))
		return 0;
	int saved = errno;
	if (fd_path(fd, path, sizeof(path)) != 0) {
		errno = saved;
		return 0;
	}
	errno = saved;
	return fault(op, path);
}

static int fault_at(int dirfd, const char *name)
{
	char path[2 * PATH_MAX + 2];
	if (!getenv("EIO_CONTROL") || !name)
		return 0;
	if (name[0] == '/' || dirfd == AT_FDCWD) {
		if (name[0] == '/') {
			snprintf(path, sizeof(path), "%s", name);
		} else {
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd)))
				return 0;
			snprintf(path, sizeof(path), "%s/%s", cwd, name);
		}
	} else {
		char dir[PATH_MAX];
		int saved = errno;
		if (fd_path(dirfd, dir, sizeof(dir)) != 0) {
			errno = saved;
			return 0;
		}
		errno = saved;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	}
	return fault(OP_RENAME, path);
}

#define REAL(name)                                                                                                   \
	static __typeof__(&name) real_##name;                                                                        \
	if (!real_##name)                                                                                            \
		real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name);

ssize_t write(int fd, const void *buf, size_t len)
{
	REAL(write)
	if (fault_fd(OP_WRITE, fd))
		return -1;
	return real_write(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite)
	if (fault_fd(OP_PWRITE, fd))
		return -1;
	return real_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	REAL(pwrite64)
	if (fault_fd(OP_PWRITE, fd))
		return -1;
	return real_pwrite64(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	REAL(writev)
	if (fault_fd(OP_WRITEV, fd))
		return -1;
	return real_writev(fd, iov, n);
}

int fsync(int fd)
{
	REAL(fsync)
	if (fault_fd(OP_FSYNC, fd))
		return -1;
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	REAL(fdatasync)
	if (fault_fd(OP_FDATASYNC, fd))
		return -1;
	return real_fdatasync(fd);
}

int rename(const char *from, const char *to)
{
	REAL(rename)
	if (fault_at(AT_FDCWD, from))
		return -1;
	return real_rename(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	REAL(renameat)
	if (fault_at(fromfd, from))
		return -1;
	return real_renameat(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
	REAL(renameat2)
	if (fault_at(fromfd, from))
		return -1;
	return real_renameat2(fromfd, from, tofd, to, flags);
}
