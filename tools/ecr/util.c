/* ecr CLI: files, digests, JSON and base64 helpers. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

int cli_fail(int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ecr_transport_fail(code, msg);
}

int cli_fail_os(int code, int err, const char *fmt, ...)
{
	char msg[1024];
	size_t n;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	if (err == ENOENT && code == ECR_EIO)
		code = ECR_ENOTFOUND;
	return ecr_transport_fail(code, msg);
}

int cli_read_file(char **out, size_t *len_out, const char *path, size_t max)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, rc = 0;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cli_fail_os(ECR_EIO, errno, "cannot open %s", path);
	if (fstat(fd, &st) < 0) {
		rc = cli_fail_os(ECR_EIO, errno, "cannot stat %s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = cli_fail(ECR_EINVALID, "%s is not a regular file", path);
		goto done;
	}
	if ((uint64_t)st.st_size > max) {
		rc = cli_fail(ECR_ELIMIT, "%s is larger than %zu bytes", path, max);
		goto done;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = cli_fail(ECR_ENOMEM, "out of memory");
		goto done;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cli_fail_os(ECR_EIO, errno, "cannot read %s", path);
			goto done;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	buf = NULL;
	if (len_out)
		*len_out = got;
done:
	free(buf);
	close(fd);
	return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int cli_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	char tmp[PATH_MAX];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= sizeof(tmp))
		return cli_fail(ECR_EINVALID, "path too long: %s", path);
	if ((fd = mkstemp(tmp)) < 0)
		return cli_fail_os(ECR_EIO, errno, "cannot create a temporary file beside %s", path);
	if (fchmod(fd, (mode_t)mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		int err = errno;
		close(fd);
		unlink(tmp);
		return cli_fail_os(ECR_EIO, err, "cannot write %s", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int err = errno;
		unlink(tmp);
		return cli_fail_os(ECR_EIO, err, "cannot rename %s to %s", tmp, path);
	}
	fsync_parent(path);
	return 0;
}

int cli_mkdirs(const char *path, int mode)
{
	char buf[PATH_MAX];
	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return cli_fail(ECR_EINVALID, "path too long: %s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return cli_fail_os(ECR_EIO, errno, "cannot create %s", buf);
		*p = '/';
	}
	if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
		return cli_fail_os(ECR_EIO, errno, "cannot create %s", buf);
	return 0;
}

void cli_rmtree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[PATH_MAX];
	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= sizeof(sub))
			continue;
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			cli_rmtree(sub);
		else
			unlink(sub);
	}
	closedir(d);
	rmdir(path);
}

/* --- digests --- */

bool cli_digest_valid(const char *digest)
{
	size_t hexlen;
	const char *hex;
	if (!digest)
		return false;
	if (!strncmp(digest, "sha256:", 7)) {
		hex = digest + 7;
		hexlen = 64;
	} else if (!strncmp(digest, "sha512:", 7)) {
		hex = digest + 7;
		hexlen = 128;
	} else {
		return false;
	}
	if (strlen(hex) != hexlen)
		return false;
	for (size_t i = 0; i < hexlen; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return true;
}

struct cli_hash {
	EVP_MD_CTX *ctx;
	char alg[8];
};

int cli_hash_new(cli_hash **out, const char *algorithm)
{
	const EVP_MD *md;
	cli_hash *h;
	*out = NULL;
	if (!strcmp(algorithm, "sha256"))
		md = EVP_sha256();
	else if (!strcmp(algorithm, "sha512"))
		md = EVP_sha512();
	else
		return cli_fail(ECR_EINVALID, "unsupported digest algorithm %s", algorithm);
	if (!(h = calloc(1, sizeof(*h))) || !(h->ctx = EVP_MD_CTX_new())) {
		free(h);
		return cli_fail(ECR_ENOMEM, "out of memory");
	}
	if (EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return cli_fail(ECR_ERROR, "cannot start a %s digest", algorithm);
	}
	snprintf(h->alg, sizeof(h->alg), "%s", algorithm);
	*out = h;
	return 0;
}

void cli_hash_update(cli_hash *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void cli_hash_finish(cli_hash *h, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	static const char hexd[] = "0123456789abcdef";
	EVP_DigestFinal_ex(h->ctx, md, &n);
	size_t o = (size_t)sprintf(out, "%s:", h->alg);
	for (unsigned int i = 0; i < n; i++) {
		out[o++] = hexd[md[i] >> 4];
		out[o++] = hexd[md[i] & 15];
	}
	out[o] = '\0';
	cli_hash_free(h);
}

void cli_hash_free(cli_hash *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int cli_sha256(char *out, const void *data, size_t len)
{
	cli_hash *h;
	int rc = cli_hash_new(&h, "sha256");
	if (rc)
		return rc;
	cli_hash_update(h, data, len);
	cli_hash_finish(h, out);
	return 0;
}

int cli_digest_fd(char *out, int fd, uint64_t offset, uint64_t len, const char *algorithm)
{
	enum { BUFSZ = 1 << 16 };
	char *buf;
	cli_hash *h;
	int rc = cli_hash_new(&h, algorithm ? algorithm : "sha256");
	if (rc)
		return rc;
	if (!(buf = malloc(BUFSZ))) {
		cli_hash_free(h);
		return cli_fail(ECR_ENOMEM, "out of memory");
	}
	while (len) {
		size_t want = len < BUFSZ ? (size_t)len : BUFSZ;
		ssize_t r = pread(fd, buf, want, (off_t)offset);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			cli_hash_free(h);
			free(buf);
			return r < 0 ? cli_fail_os(ECR_EIO, errno, "read error") : cli_fail(ECR_EIO, "unexpected end of file");
		}
		cli_hash_update(h, buf, (size_t)r);
		offset += (uint64_t)r;
		len -= (uint64_t)r;
	}
	free(buf);
	cli_hash_finish(h, out);
	return 0;
}

/* --- base64 --- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cli_base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64[(v >> 18) & 63];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

unsigned char *cli_base64_decode(const char *s, size_t *len_out)
{
	size_t n = strlen(s), o = 0;
	uint32_t acc = 0;
	int bits = 0;
	unsigned char *out = malloc(n / 4 * 3 + 4);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		const char *c = strchr(b64, s[i]);
		if (!c || !s[i]) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	out[o] = '\0';
	*len_out = o;
	return out;
}

/* --- JSON --- */

yajl_val cli_json_parse(const char *text, const char *what)
{
	char err[256];
	yajl_val v = yajl_tree_parse(text, err, sizeof(err));
	if (!v) {
		size_t n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		cli_fail(ECR_EINVALID, "%s is not valid JSON: %s", what, err);
	}
	return v;
}

yajl_val cli_json_get(yajl_val obj, const char *key)
{
	if (!obj || !YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (!strcmp(obj->u.object.keys[i], key))
			return obj->u.object.values[i];
	return NULL;
}

const char *cli_json_str(yajl_val obj, const char *key)
{
	yajl_val v = cli_json_get(obj, key);
	return v && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

void cli_gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void cli_gen_kv(yajl_gen g, const char *k, const char *v)
{
	cli_gen_str(g, k);
	if (v)
		cli_gen_str(g, v);
	else
		yajl_gen_null(g);
}

void cli_gen_ki(yajl_gen g, const char *k, long long v)
{
	cli_gen_str(g, k);
	yajl_gen_integer(g, v);
}

void cli_json_emit(yajl_gen g, yajl_val v)
{
	if (!v) {
		yajl_gen_null(g);
	} else if (YAJL_IS_STRING(v)) {
		cli_gen_str(g, v->u.string);
	} else if (YAJL_IS_NUMBER(v)) {
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			cli_gen_str(g, v->u.object.keys[i]);
			cli_json_emit(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			cli_json_emit(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_TRUE(v)) {
		yajl_gen_bool(g, 1);
	} else if (YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, 0);
	} else {
		yajl_gen_null(g);
	}
}

yajl_gen cli_gen_new(bool beautify)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	if (g && beautify) {
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_config(g, yajl_gen_indent_string, "  ");
	}
	return g;
}

char *cli_gen_take(yajl_gen g, size_t *len_out)
{
	const unsigned char *buf;
	size_t len;
	char *out;
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		return NULL;
	if (!(out = malloc(len + 1)))
		return NULL;
	memcpy(out, buf, len);
	out[len] = '\0';
	if (len_out)
		*len_out = len;
	return out;
}

void cli_iso8601(char *out, size_t n, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
