#include "th_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct th_tar {
	struct archive *a;
	unsigned char *buf;
	size_t len, cap;
	int failed;
};

static la_ssize_t w_write(struct archive *a, void *p, const void *data, size_t n)
{
	th_tar *t = p;

	(void)a;
	if (t->cap - t->len < n) {
		size_t cap = t->cap ? t->cap : 65536;
		unsigned char *b;

		while (cap - t->len < n)
			cap *= 2;
		b = realloc(t->buf, cap);
		if (!b) {
			t->failed = 1;
			return -1;
		}
		t->buf = b;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	return (la_ssize_t)n;
}

th_tar *th_tar_new(th_tar_filter filter)
{
	th_tar *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->a = archive_write_new();
	archive_write_set_format_pax_restricted(t->a);
	if (filter == TH_TAR_GZIP) {
		archive_write_add_filter_gzip(t->a);
		archive_write_set_filter_option(t->a, "gzip", "compression-level", "1");
	} else if (filter == TH_TAR_ZSTD) {
		archive_write_add_filter_zstd(t->a);
	}
	archive_write_set_bytes_in_last_block(t->a, 1);
	if (archive_write_open(t->a, t, NULL, w_write, NULL) != ARCHIVE_OK) {
		archive_write_free(t->a);
		free(t);
		return NULL;
	}
	return t;
}

static int entry(th_tar *t, const char *path, unsigned int type, int64_t size, const char *symlink,
                 const char *hardlink)
{
	struct archive_entry *e = archive_entry_new();
	int rc;

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, size);
	archive_entry_set_mtime(e, 1700000000, 0);
	if (symlink)
		archive_entry_set_symlink(e, symlink);
	if (hardlink)
		archive_entry_set_hardlink(e, hardlink);
	rc = archive_write_header(t->a, e);
	archive_entry_free(e);
	return rc == ARCHIVE_OK ? 0 : -1;
}

int th_tar_file(th_tar *t, const char *path, const void *data, size_t len)
{
	if (entry(t, path, AE_IFREG, (int64_t)len, NULL, NULL) < 0)
		return -1;
	if (len && archive_write_data(t->a, data, len) != (la_ssize_t)len)
		return -1;
	return 0;
}

int th_tar_str(th_tar *t, const char *path, const char *text)
{
	return th_tar_file(t, path, text, strlen(text));
}

int th_tar_dir(th_tar *t, const char *path)
{
	return entry(t, path, AE_IFDIR, 0, NULL, NULL);
}

int th_tar_symlink(th_tar *t, const char *path, const char *target)
{
	return entry(t, path, AE_IFLNK, 0, target, NULL);
}

int th_tar_hardlink(th_tar *t, const char *path, const char *target)
{
	return entry(t, path, AE_IFREG, 0, NULL, target);
}

int th_tar_file_pattern(th_tar *t, const char *path, uint64_t size, const void *pattern, size_t plen)
{
	unsigned char *blk;
	size_t bl = 1 << 20, i;
	uint64_t left = size;
	int rc = 0;

	if (entry(t, path, AE_IFREG, (int64_t)size, NULL, NULL) < 0)
		return -1;
	blk = malloc(bl);
	if (!blk)
		return -1;
	for (i = 0; i < bl; i++)
		blk[i] = ((const unsigned char *)pattern)[i % plen];
	while (left && rc == 0) {
		size_t n = left < bl ? (size_t)left : bl - (bl % plen);

		if (archive_write_data(t->a, blk, n) != (la_ssize_t)n)
			rc = -1;
		left -= n;
	}
	free(blk);
	return rc;
}

int th_tar_finish(th_tar *t, unsigned char **out, size_t *len_out)
{
	int rc = archive_write_close(t->a) == ARCHIVE_OK && !t->failed ? 0 : -1;

	archive_write_free(t->a);
	if (rc == 0) {
		*out = t->buf;
		*len_out = t->len;
	} else {
		free(t->buf);
	}
	free(t);
	return rc;
}

void th_tar_raw_header(unsigned char hdr[512], const char *path, uint64_t size)
{
	unsigned int sum = 0;
	int i;

	memset(hdr, 0, 512);
	strncpy((char *)hdr, path, 100);
	memcpy(hdr + 100, "0000644", 8);
	memcpy(hdr + 108, "0000000", 8);
	memcpy(hdr + 116, "0000000", 8);
	if (size < 077777777777ULL) {
		snprintf((char *)hdr + 124, 12, "%011llo", (unsigned long long)size);
	} else {
		hdr[124] = 0x80;
		for (i = 0; i < 8; i++)
			hdr[135 - i] = (unsigned char)(size >> (8 * i));
	}
	memcpy(hdr + 136, "14560000000", 12);
	hdr[156] = '0';
	memcpy(hdr + 257, "ustar", 6);
	memcpy(hdr + 263, "00", 2);
	memset(hdr + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += hdr[i];
	snprintf((char *)hdr + 148, 8, "%06o", sum);
	hdr[155] = ' ';
}

int th_gzip(unsigned char **out, size_t *len_out, const void *data, size_t len)
{
	z_stream z;
	size_t cap = compressBound((uLong)len) + 64;
	unsigned char *b = malloc(cap);
	int rc;

	if (!b)
		return -1;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(b);
		return -1;
	}
	z.next_in = (unsigned char *)data;
	z.avail_in = (uInt)len;
	z.next_out = b;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*len_out = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(b);
		return -1;
	}
	*out = b;
	return 0;
}
