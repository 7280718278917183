/*
 * ecr CLI: what the file transports (oci_layout.c, docker_archive.c) share: handing bytes to the library, digest
 * checks, file range streams, tag lists, and uploads kept as temporary files in a folder.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_buf_set(ecr_buf *b, const char *data, size_t len)
{
	/* ecr_buf is filled by the library's allocator elsewhere; a transport hands its own malloc'd memory and the
	 * library releases it with ecr_buf_dispose(), which uses the library allocator (default: free). */
	char *p = malloc(len + 1);
	if (!p)
		return cli_fail(ECR_ENOMEM, "out of memory");
	memcpy(p, data, len);
	p[len] = '\0';
	ecr_buf_dispose(b);
	b->ptr = p;
	b->size = len;
	b->reserved = len + 1;
	return 0;
}

bool cli_is_digest_ref(const char *reference)
{
	return strchr(reference, ':') != NULL;
}

static void digest_alg(char *alg, size_t n, const char *digest)
{
	snprintf(alg, n, "%.*s", (int)(strchr(digest, ':') - digest), digest);
}

int cli_digest_like(char *out, const char *digest, const void *data, size_t len)
{
	char alg[8];
	cli_hash *h;
	int rc;
	digest_alg(alg, sizeof(alg), digest);
	if ((rc = cli_hash_new(&h, alg)))
		return rc;
	cli_hash_update(h, data, len);
	cli_hash_finish(h, out);
	return 0;
}

/* --- file range streams --- */

typedef struct range_stream {
	ecr_transport_stream base;
	int fd;
	bool own; /* close fd with the stream */
	const char *what;
	uint64_t pos, end;
} range_stream;

static int rs_read(ecr_transport_stream *st, void *buf, size_t len, size_t *nread_out)
{
	range_stream *r = (range_stream *)st;
	*nread_out = 0;
	if (r->pos >= r->end)
		return 0;
	if (len > r->end - r->pos)
		len = (size_t)(r->end - r->pos);
	for (;;) {
		ssize_t n = pread(r->fd, buf, len, (off_t)r->pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? cli_fail_os(ECR_EIO, errno, "cannot read %s", r->what) :
				       cli_fail(ECR_EIO, "%s ended early", r->what);
		r->pos += (uint64_t)n;
		*nread_out = (size_t)n;
		return 0;
	}
}

static void rs_close(ecr_transport_stream *st)
{
	range_stream *r = (range_stream *)st;
	if (r->own)
		close(r->fd);
	free(r);
}

int cli_range_stream_new(ecr_transport_stream **out, int fd, bool own, const char *what, uint64_t pos, uint64_t end)
{
	range_stream *r;
	*out = NULL;
	if (!(r = calloc(1, sizeof(*r)))) {
		if (own)
			close(fd);
		return cli_fail(ECR_ENOMEM, "out of memory");
	}
	r->base.version = ECR_TRANSPORT_STREAM_VERSION;
	r->base.read = rs_read;
	r->base.close = rs_close;
	r->fd = fd;
	r->own = own;
	r->what = what;
	r->pos = pos;
	r->end = end;
	*out = &r->base;
	return 0;
}

int cli_file_stream_new(ecr_transport_stream **out, uint64_t *size_out, int fd, const char *digest, uint64_t offset,
	uint64_t length)
{
	struct stat st;
	int rc;
	*out = NULL;
	if (fstat(fd, &st) < 0 || offset > (uint64_t)st.st_size || (length && length > (uint64_t)st.st_size - offset)) {
		close(fd);
		return cli_fail(ECR_ERANGE, "range outside the blob %s", digest);
	}
	if ((rc = cli_range_stream_new(out, fd, true, "a blob file", offset,
		     length ? offset + length : (uint64_t)st.st_size)))
		return rc;
	*size_out = (uint64_t)st.st_size;
	return 0;
}

/* --- tag lists --- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cli_tags_json(ecr_buf *json_out, int *more_out, const char *repository, const char **tags, size_t count,
	const char *last, unsigned int n)
{
	yajl_gen g;
	char *text;
	size_t len, kept = 0, emitted = 0;
	int rc;
	*more_out = 0;
	for (size_t i = 0; i < count; i++)
		if (!last || strcmp(tags[i], last) > 0)
			tags[kept++] = tags[i];
	if (kept)
		qsort(tags, kept, sizeof(*tags), cmp_str);
	if (!(g = cli_gen_new(false)))
		return cli_fail(ECR_ENOMEM, "out of memory");
	yajl_gen_map_open(g);
	cli_gen_kv(g, "name", repository);
	cli_gen_str(g, "tags");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < kept; i++) {
		if (i && !strcmp(tags[i], tags[i - 1]))
			continue;
		if (n && emitted == n) {
			*more_out = 1;
			break;
		}
		cli_gen_str(g, tags[i]);
		emitted++;
	}
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	if (!(text = cli_gen_take(g, &len)))
		rc = cli_fail(ECR_ENOMEM, "out of memory");
	else
		rc = cli_buf_set(json_out, text, len);
	free(text);
	yajl_gen_free(g);
	return rc;
}

/* --- uploads as temporary files --- */

/* The file of a session: "<prefix>" and six letters or digits (what mkstemp made), in u->dir. */
static int session_path(char *out, size_t n, const cli_upload_dir *u, const char *session)
{
	size_t pl = strlen(u->prefix);
	if (strncmp(session, u->prefix, pl) || strlen(session) != pl + 6)
		return cli_fail(ECR_EUPLOAD, "unknown upload session %s", session);
	for (const char *p = session + pl; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return cli_fail(ECR_EUPLOAD, "unknown upload session %s", session);
	if ((size_t)snprintf(out, n, "%s/%s", u->dir, session) >= n)
		return cli_fail(ECR_EINVALID, "path too long in %s", u->dir);
	return 0;
}

int cli_upload_begin(ecr_buf *session_out, const cli_upload_dir *u)
{
	char path[PATH_MAX];
	int fd;
	if ((size_t)snprintf(path, sizeof(path), "%s/%sXXXXXX", u->dir, u->prefix) >= sizeof(path))
		return cli_fail(ECR_EINVALID, "path too long in %s", u->dir);
	if ((fd = mkstemp(path)) < 0)
		return cli_fail_os(ECR_EIO, errno, "cannot create an upload file in %s", u->dir);
	if (u->mode)
		fchmod(fd, (mode_t)u->mode);
	close(fd);
	const char *name = strrchr(path, '/') + 1;
	return cli_buf_set(session_out, name, strlen(name));
}

int cli_upload_status(uint64_t *size_out, const cli_upload_dir *u, const char *session)
{
	char path[PATH_MAX];
	struct stat st;
	int rc;
	if ((rc = session_path(path, sizeof(path), u, session)))
		return rc;
	if (stat(path, &st) < 0)
		return cli_fail(ECR_EUPLOAD, "unknown upload session %s", session);
	*size_out = (uint64_t)st.st_size;
	return 0;
}

int cli_upload_write(const cli_upload_dir *u, const char *session, uint64_t offset, const void *data, size_t len)
{
	char path[PATH_MAX];
	struct stat st;
	const char *p = data;
	int fd, rc;
	if ((rc = session_path(path, sizeof(path), u, session ? session : "")))
		return rc;
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return cli_fail(ECR_EUPLOAD, "unknown upload session %s", session);
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != offset) {
		close(fd);
		return cli_fail(ECR_ERANGE, "the upload holds %lld bytes, not %llu", (long long)st.st_size,
			(unsigned long long)offset);
	}
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)offset);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = cli_fail_os(ECR_EIO, errno, "cannot write %s", path);
			break;
		}
		p += w;
		len -= (size_t)w;
		offset += (uint64_t)w;
	}
	close(fd);
	return rc;
}

int cli_upload_commit(const cli_upload_dir *u, const char *session, const char *dst, const char *digest)
{
	char path[PATH_MAX], check[140], alg[8];
	struct stat st;
	int fd, rc;
	if ((rc = session_path(path, sizeof(path), u, session)))
		return rc;
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return cli_fail(ECR_EUPLOAD, "unknown upload session %s", session);
	digest_alg(alg, sizeof(alg), digest);
	if (fstat(fd, &st) < 0)
		rc = cli_fail_os(ECR_EIO, errno, "cannot stat %s", path);
	else if (!(rc = cli_digest_fd(check, fd, 0, (uint64_t)st.st_size, alg)) && strcmp(check, digest))
		rc = cli_fail(ECR_EDIGEST, "the uploaded content's digest is %s, not %s", check, digest);
	if (rc) {
		close(fd);
		unlink(path);
		return rc;
	}
	if (u->durable && fsync(fd) < 0) {
		rc = cli_fail_os(ECR_EIO, errno, "cannot sync %s", path);
		close(fd);
		return rc;
	}
	close(fd);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = '\0';
	if (u->durable && (rc = cli_mkdirs(dir, 0755)))
		return rc;
	if (rename(path, dst) < 0)
		return cli_fail_os(ECR_EIO, errno, "cannot rename %s", path);
	if (u->durable && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

int cli_upload_cancel(const cli_upload_dir *u, const char *session)
{
	char path[PATH_MAX];
	int rc;
	if ((rc = session_path(path, sizeof(path), u, session)))
		return rc;
	if (unlink(path) < 0)
		return cli_fail(ECR_EUPLOAD, "unknown upload session %s", session);
	return 0;
}
