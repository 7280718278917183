/* Walk an image's layers in order (libarchive: tar formats only; gzip, zstd
 * or no compression), apply OCI whiteouts, and keep in memory only the files
 * the scanners need. Nothing is ever written to disk and nothing is followed:
 * symlinks are kept as strings and resolved lexically among the kept files. */
#include "scan_internal.h"

#include "../oci/oci.h"

#include <errno.h>

#include "../core/lazy_archive.h"

#define DEFAULT_MAX_TOTAL (UINT64_C(8) << 30)
#define DEFAULT_MAX_ENTRIES UINT64_C(1000000)
#define DEFAULT_MAX_FILE (UINT64_C(64) << 20)
#define DEFAULT_MAX_PATH 4096u
#define READ_BLOCK (128u * 1024u)
#define MAX_LINK_HOPS 16

/* The files kept with their content. */
static const char *const kept_paths[] = {
    "etc/os-release",       "usr/lib/os-release",       "var/lib/dpkg/status",
    "lib/apk/db/installed", "var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite",
};
#define STATUS_D "var/lib/dpkg/status.d/"
/* Kept without content: only its presence matters. */
#define RPM_BDB "var/lib/rpm/Packages"

typedef enum keep_kind { KEEP_NO = 0, KEEP_DATA, KEEP_NOTE } keep_kind;

static keep_kind keep_kind_of(const char *path)
{
	size_t i, n = sizeof(STATUS_D) - 1, len = strlen(path);

	for (i = 0; i < sizeof(kept_paths) / sizeof(kept_paths[0]); i++)
		if (strcmp(path, kept_paths[i]) == 0)
			return KEEP_DATA;
	/* status.d: files directly in the folder */
	if (len > n && memcmp(path, STATUS_D, n) == 0) {
		for (i = n; i < len; i++)
			if (path[i] == '/')
				return KEEP_NO;
		return KEEP_DATA;
	}
	if (strcmp(path, RPM_BDB) == 0)
		return KEEP_NOTE;
	return KEEP_NO;
}

int ecr__layer_path_normalize(char **out, const char *path, size_t max_len)
{
	size_t len = strlen(path), o = 0;
	const char *p = path;
	char *res;

	*out = NULL;
	if (len > max_len)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "path of %zu bytes is over the limit of %zu", len,
		                 max_len);
	res = ecr__malloc(len + 1);
	if (!res)
		return ECR_ENOMEM;
	while (*p) {
		const char *c;
		size_t clen;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		while (*p && *p != '/')
			p++;
		clen = (size_t)(p - c);
		if (clen == 1 && c[0] == '.')
			continue;
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			ecr__free(res);
			return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "path has a '..' component");
		}
		if (o)
			res[o++] = '/';
		memcpy(res + o, c, clen);
		o += clen;
	}
	res[o] = '\0';
	*out = res;
	return 0;
}

int ecr__layer_fs_init(ecr__layer_fs *fs, const ecr_scan_options *opts)
{
	memset(fs, 0, sizeof(*fs));
	fs->max_total_bytes = opts && opts->max_total_bytes ? opts->max_total_bytes : DEFAULT_MAX_TOTAL;
	fs->max_entries = opts && opts->max_entries ? opts->max_entries : DEFAULT_MAX_ENTRIES;
	fs->max_file_size = opts && opts->max_file_size ? opts->max_file_size : DEFAULT_MAX_FILE;
	fs->max_path_length = opts && opts->max_path_length ? opts->max_path_length : DEFAULT_MAX_PATH;
	if (fs->max_file_size > SIZE_MAX / 8)
		fs->max_file_size = SIZE_MAX / 8;
	return 0;
}

static void file_dispose(ecr__layer_file *f)
{
	ecr__free(f->path);
	ecr__free(f->data);
	ecr__free(f->link);
	memset(f, 0, sizeof(*f));
}

void ecr__layer_fs_dispose(ecr__layer_fs *fs)
{
	size_t i;

	if (!fs)
		return;
	for (i = 0; i < fs->count; i++)
		file_dispose(&fs->files[i]);
	for (i = 0; i < fs->pending_count; i++)
		file_dispose(&fs->pending[i]);
	ecr__free(fs->files);
	ecr__free(fs->pending);
	memset(fs, 0, sizeof(*fs));
}

/* Remove lower files[i] (order does not matter). */
static void lower_remove(ecr__layer_fs *fs, size_t i)
{
	fs->kept_bytes -= fs->files[i].len;
	file_dispose(&fs->files[i]);
	fs->files[i] = fs->files[fs->count - 1];
	fs->count--;
}

/* Delete from the lower layers: path itself (when self) and everything under it. */
static void lower_delete(ecr__layer_fs *fs, const char *path, bool self)
{
	size_t i = 0, n = strlen(path);

	while (i < fs->count) {
		const char *p = fs->files[i].path;
		bool hit = (self && strcmp(p, path) == 0) || n == 0 || (strncmp(p, path, n) == 0 && p[n] == '/');

		if (hit)
			lower_remove(fs, i);
		else
			i++;
	}
}

/* Add to the current layer, replacing an earlier entry of the same layer. */
static int pending_put(ecr__layer_fs *fs, ecr__layer_file *f)
{
	size_t i;

	for (i = 0; i < fs->pending_count; i++) {
		if (strcmp(fs->pending[i].path, f->path) == 0) {
			fs->kept_bytes -= fs->pending[i].len;
			file_dispose(&fs->pending[i]);
			fs->pending[i] = *f;
			memset(f, 0, sizeof(*f));
			return 0;
		}
	}
	if (fs->pending_count == fs->pending_cap) {
		size_t cap = fs->pending_cap ? fs->pending_cap * 2 : 8, bytes;
		ecr__layer_file *n;

		if (ecr__mul_overflow(cap, sizeof(*n), &bytes))
			return ecr__fail_oom();
		n = ecr__realloc(fs->pending, bytes);
		if (!n)
			return ECR_ENOMEM;
		fs->pending = n;
		fs->pending_cap = cap;
	}
	fs->pending[fs->pending_count++] = *f;
	memset(f, 0, sizeof(*f));
	return 0;
}

/* Remove an earlier entry of the current layer (a later non-file entry replaced it). */
static void pending_delete(ecr__layer_fs *fs, const char *path)
{
	size_t i;

	for (i = 0; i < fs->pending_count; i++) {
		if (strcmp(fs->pending[i].path, path) == 0) {
			fs->kept_bytes -= fs->pending[i].len;
			file_dispose(&fs->pending[i]);
			fs->pending[i] = fs->pending[--fs->pending_count];
			return;
		}
	}
}

/* End of a layer: its files replace the lower ones. */
static int layer_merge(ecr__layer_fs *fs)
{
	size_t i, j;

	for (i = 0; i < fs->pending_count; i++) {
		ecr__layer_file *f = &fs->pending[i];

		for (j = 0; j < fs->count; j++)
			if (strcmp(fs->files[j].path, f->path) == 0)
				break;
		if (j < fs->count) {
			fs->kept_bytes -= fs->files[j].len;
			file_dispose(&fs->files[j]);
		} else {
			if (fs->count == fs->cap) {
				size_t cap = fs->cap ? fs->cap * 2 : 8, bytes;
				ecr__layer_file *n;

				if (ecr__mul_overflow(cap, sizeof(*n), &bytes))
					return ecr__fail_oom();
				n = ecr__realloc(fs->files, bytes);
				if (!n)
					return ECR_ENOMEM;
				fs->files = n;
				fs->cap = cap;
			}
			j = fs->count++;
		}
		fs->files[j] = *f;
		memset(f, 0, sizeof(*f));
	}
	fs->pending_count = 0;
	return 0;
}

typedef struct reader {
	ecr__layer_read_cb cb;
	void *payload;
	unsigned char *buf;
	int rc; /* the callback's failure, kept with its message */
} reader;

static la_ssize_t reader_read(struct archive *a, void *p, const void **out)
{
	reader *r = p;
	size_t n = 0;
	int rc = r->cb(r->payload, r->buf, READ_BLOCK, &n);

	if (rc < 0) {
		r->rc = rc;
		archive_set_error(a, EIO, "read failed");
		return -1;
	}
	*out = r->buf;
	return (la_ssize_t)n;
}

/* The error of a failed libarchive call, unless the read callback has one. */
static int archive_fail(struct archive *a, reader *r, const char *name, const char *what)
{
	const char *msg;

	if (r->rc < 0)
		return r->rc;
	msg = archive_error_string(a);
	return ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "layer %s: %s: %s", name, what, msg ? msg : "unreadable");
}

/* Account for decompressed bytes read so far in this layer. */
static int check_total(ecr__layer_fs *fs, struct archive *a, uint64_t base, const char *name)
{
	la_int64_t n = archive_filter_bytes(a, 0);
	uint64_t total = base + (n > 0 ? (uint64_t)n : 0);

	if (total > fs->max_total_bytes)
		return ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID,
		                 "layer %s: over %llu decompressed bytes (max_total_bytes): a decompression bomb?",
		                 name, (unsigned long long)fs->max_total_bytes);
	fs->total_bytes = total;
	return 0;
}

/* Read (and drop) the data of an entry, block by block, within the caps. */
static int skip_data(ecr__layer_fs *fs, struct archive *a, reader *r, uint64_t base, const char *name)
{
	for (;;) {
		const void *blk;
		size_t sz;
		la_int64_t off;
		int arc = archive_read_data_block(a, &blk, &sz, &off);
		int rc;

		if (arc == ARCHIVE_EOF)
			return 0;
		if (arc < ARCHIVE_WARN)
			return archive_fail(a, r, name, "reading an entry's data");
		if ((rc = check_total(fs, a, base, name)) < 0)
			return rc;
	}
}

/* Read an entry's content into memory (size known, at most max_file_size). */
static int read_data(unsigned char **out, size_t size, ecr__layer_fs *fs, struct archive *a, reader *r, uint64_t base,
                     const char *name, const char *path)
{
	unsigned char *data = ecr__malloc(size + 1);
	size_t got = 0;
	int rc = 0;

	*out = NULL;
	if (!data)
		return ECR_ENOMEM;
	for (;;) {
		la_ssize_t n = archive_read_data(a, data + got, size - got);

		if (n < 0) {
			rc = archive_fail(a, r, name, path);
			goto done;
		}
		if ((rc = check_total(fs, a, base, name)) < 0)
			goto done;
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == size) {
			/* libarchive never returns more than the header's size */
			break;
		}
	}
	if (got != size) {
		rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "layer %s: /%s is truncated (%zu of %zu bytes)", name,
		               path, got, size);
		goto done;
	}
	data[size] = '\0';
	*out = data;
	data = NULL;
done:
	ecr__free(data);
	return rc;
}

/* Handle a whiteout entry ".wh.<name>" or ".wh..wh..opq" at path. True when it was one. */
static bool whiteout(ecr__layer_fs *fs, char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) : 0, baseoff = slash ? dirlen + 1 : 0;
	const char *base = path + baseoff;
	size_t blen = strlen(base);

	if (strncmp(base, ".wh.", 4) != 0)
		return false;
	if (strcmp(base, ".wh..wh..opq") == 0) {
		/* opaque: the folder's lower content is hidden */
		path[dirlen] = '\0';
		lower_delete(fs, path, false);
		return true;
	}
	if (strncmp(base, ".wh..wh.", 8) == 0 || blen == 4)
		return true; /* other reserved names (aufs), or ".wh." alone: ignored */
	/* dir + "/" + name */
	/* rewrite in place: "<dir>/.wh.<name>" -> "<dir>/<name>" */
	memmove(path + baseoff, path + baseoff + 4, blen - 4 + 1);
	lower_delete(fs, path, true);
	return true;
}

int ecr__layer_fs_apply(ecr__layer_fs *fs, const char *name, ecr__layer_read_cb read_cb, void *payload)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	reader r = {read_cb, payload, NULL, 0};
	uint64_t base = fs->total_bytes;
	ecr__layer_file f;
	char *path = NULL;
	int rc = 0, arc;

	memset(&f, 0, sizeof(f));
	if (!name)
		name = "(layer)";
	if ((rc = ecr__lazy_load(ECR__LAZY_ARCHIVE)) < 0)
		goto done;
	r.buf = ecr__malloc(READ_BLOCK);
	a = archive_read_new();
	if (!r.buf || !a) {
		rc = ecr__fail_oom();
		goto done;
	}
	if (archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(a) != ARCHIVE_OK) {
		rc = ecr__fail(ECR_ERROR, ECR_ERROR_INTERNAL, "libarchive: %s", archive_error_string(a));
		goto done;
	}
	if (archive_read_open(a, &r, NULL, reader_read, NULL) != ARCHIVE_OK) {
		rc = archive_fail(a, &r, name, "not a tar archive (gzip, zstd or uncompressed)");
		goto done;
	}
	for (;;) {
		const char *raw;
		la_int64_t esize;
		mode_t type;
		keep_kind kind;

		arc = archive_read_next_header(a, &e);
		if (arc == ARCHIVE_EOF)
			break;
		if (arc < ARCHIVE_WARN) {
			rc = archive_fail(a, &r, name, "reading the next entry");
			goto done;
		}
		if ((rc = check_total(fs, a, base, name)) < 0)
			goto done;
		if (++fs->entries > fs->max_entries) {
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID, "layer %s: over %llu tar entries (max_entries)",
			               name, (unsigned long long)fs->max_entries);
			goto done;
		}
		raw = archive_entry_pathname(e);
		if (!raw) {
			rc = ecr__fail(ECR_EINVALID, ECR_ERROR_INVALID, "layer %s: an entry has no path", name);
			goto done;
		}
		ecr__free(path);
		path = NULL;
		if ((rc = ecr__layer_path_normalize(&path, raw, fs->max_path_length)) < 0) {
			char q[80];

			rc = ecr__fail(rc, ECR_ERROR_INVALID, "layer %s: entry '%s': %s", name,
			               ecr__oci_quote(q, sizeof(q), raw, strlen(raw)),
			               rc == ECR_ELIMIT ? "path over max_path_length" : "path has a '..' component");
			goto done;
		}
		esize = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
		if (esize < 0 || (uint64_t)esize > fs->max_total_bytes - fs->total_bytes) {
			rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID,
			               "layer %s: /%s declares %lld bytes, over what max_total_bytes leaves", name,
			               path, (long long)esize);
			goto done;
		}
		if (!path[0] || whiteout(fs, path)) {
			/* the root folder itself, or a whiteout (applied) */
			if ((rc = skip_data(fs, a, &r, base, name)) < 0)
				goto done;
			continue;
		}
		type = archive_entry_filetype(e);
		/* anything but a folder hides the lower folder of that name */
		if (type != AE_IFDIR && path[0]) {
			lower_delete(fs, path, false);
			pending_delete(fs, path);
		}
		/* a folder, device... over a kept file hides it */
		lower_delete(fs, path, true);
		kind = keep_kind_of(path);
		if (kind != KEEP_NO && archive_entry_hardlink(e) == NULL && type == AE_IFREG) {
			f.path = path;
			path = NULL;
			if (kind == KEEP_NOTE) {
				f.noted = true;
			} else {
				if ((uint64_t)esize > fs->max_file_size) {
					rc = ecr__fail(
					    ECR_ELIMIT, ECR_ERROR_INVALID,
					    "layer %s: /%s is %lld bytes, over max_file_size (%llu): not scanned", name,
					    f.path, (long long)esize, (unsigned long long)fs->max_file_size);
					goto done;
				}
				if ((size_t)esize > fs->max_file_size * 4 - fs->kept_bytes) {
					rc = ecr__fail(ECR_ELIMIT, ECR_ERROR_INVALID,
					               "layer %s: the package databases kept exceed 4 x max_file_size",
					               name);
					goto done;
				}
				if ((rc = read_data(&f.data, (size_t)esize, fs, a, &r, base, name, f.path)) < 0)
					goto done;
				f.len = (size_t)esize;
				fs->kept_bytes += f.len;
			}
			if ((rc = pending_put(fs, &f)) < 0)
				goto done;
		} else if (kind != KEEP_NO && (type == AE_IFLNK || archive_entry_hardlink(e) != NULL)) {
			/* kept as a link; a hard link names its target like a symlink from the root */
			const char *target = archive_entry_hardlink(e);
			char *norm = NULL;

			if (target) {
				if ((rc = ecr__layer_path_normalize(&norm, target, fs->max_path_length)) < 0) {
					rc = ecr__fail(rc, ECR_ERROR_INVALID,
					               "layer %s: hard link /%s has an invalid target", name, path);
					goto done;
				}
				f.link = ecr__malloc(strlen(norm) + 2);
				if (f.link) {
					f.link[0] = '/';
					strcpy(f.link + 1, norm);
				}
				ecr__free(norm);
			} else {
				target = archive_entry_symlink(e);
				f.link = ecr__strdup(target ? target : "");
			}
			if (!f.link) {
				rc = ECR_ENOMEM;
				goto done;
			}
			f.path = path;
			path = NULL;
			if ((rc = pending_put(fs, &f)) < 0)
				goto done;
			if ((rc = skip_data(fs, a, &r, base, name)) < 0)
				goto done;
		} else {
			if (kind != KEEP_NO)
				pending_delete(fs, path);
			if ((rc = skip_data(fs, a, &r, base, name)) < 0)
				goto done;
		}
	}
	if ((rc = check_total(fs, a, base, name)) < 0)
		goto done;
	rc = layer_merge(fs);
done:
	if (rc < 0) {
		size_t i;

		for (i = 0; i < fs->pending_count; i++) {
			fs->kept_bytes -= fs->pending[i].len;
			file_dispose(&fs->pending[i]);
		}
		fs->pending_count = 0;
	}
	fs->kept_bytes -= f.len;
	file_dispose(&f);
	ecr__free(path);
	if (a)
		archive_read_free(a);
	ecr__free(r.buf);
	return rc;
}

static const ecr__layer_file *find(const ecr__layer_fs *fs, const char *path)
{
	size_t i;

	for (i = 0; i < fs->count; i++)
		if (strcmp(fs->files[i].path, path) == 0)
			return &fs->files[i];
	return NULL;
}

/* Resolve a symlink target against the folder of from; lexical, ".." stops at the root. */
static char *resolve_link(const char *from, const char *target)
{
	size_t fl = strlen(from), tl = strlen(target), o = 0;
	char *res = ecr__malloc(fl + tl + 2);
	const char *p;

	if (!res)
		return NULL;
	if (target[0] != '/') {
		const char *slash = strrchr(from, '/');

		if (slash) {
			o = (size_t)(slash - from);
			memcpy(res, from, o);
		}
	}
	res[o] = '\0';
	p = target;
	while (*p) {
		const char *c;
		size_t clen;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		while (*p && *p != '/')
			p++;
		clen = (size_t)(p - c);
		if (clen == 1 && c[0] == '.')
			continue;
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			char *s = strrchr(res, '/');

			o = s ? (size_t)(s - res) : 0;
			res[o] = '\0';
			continue;
		}
		if (o)
			res[o++] = '/';
		memcpy(res + o, c, clen);
		o += clen;
		res[o] = '\0';
	}
	return res;
}

const ecr__layer_file *ecr__layer_fs_get(const ecr__layer_fs *fs, const char *path)
{
	const ecr__layer_file *f;
	char *cur = NULL;
	int hops;

	while (*path == '/')
		path++;
	f = find(fs, path);
	for (hops = 0; f && f->link && hops < MAX_LINK_HOPS; hops++) {
		char *next = resolve_link(f->path, f->link);

		ecr__free(cur);
		cur = next;
		if (!cur) {
			ecr__error_clear();
			return NULL;
		}
		f = find(fs, cur);
	}
	ecr__free(cur);
	if (!f || f->link || f->noted)
		return NULL; /* absent, a link loop or too deep, or kept without content */
	return f;
}

bool ecr__layer_fs_has(const ecr__layer_fs *fs, const char *path)
{
	while (*path == '/')
		path++;
	return find(fs, path) != NULL;
}
