/* Test helper for tests/scan: tar layers built in memory with libarchive's
 * writer (ustar/pax; gzip, zstd or none), and hand-made hostile headers. */
#ifndef ECR_TESTS_SCAN_TH_TAR_H
#define ECR_TESTS_SCAN_TH_TAR_H

#include <stddef.h>
#include <stdint.h>

typedef enum th_tar_filter { TH_TAR_NONE = 0, TH_TAR_GZIP = 1, TH_TAR_ZSTD = 2 } th_tar_filter;

typedef struct th_tar th_tar;

/* A new in-memory tar; NULL on failure. */
th_tar *th_tar_new(th_tar_filter filter);
/* Entries; 0 or -1. */
int th_tar_file(th_tar *t, const char *path, const void *data, size_t len);
int th_tar_str(th_tar *t, const char *path, const char *text);
int th_tar_dir(th_tar *t, const char *path);
int th_tar_symlink(th_tar *t, const char *path, const char *target);
int th_tar_hardlink(th_tar *t, const char *path, const char *target);
/* A file of size bytes whose content is produced by repeating pattern (plen bytes). */
int th_tar_file_pattern(th_tar *t, const char *path, uint64_t size, const void *pattern, size_t plen);
/* Close and hand over the bytes (free with free()); t is freed. */
int th_tar_finish(th_tar *t, unsigned char **out, size_t *len_out);

/* A raw 512-byte ustar header for a regular file (size in octal, or base-256
 * when it does not fit in 11 octal digits), with a correct checksum. */
void th_tar_raw_header(unsigned char hdr[512], const char *path, uint64_t size);

/* gzip of len bytes (zlib), into a malloc'd buffer. */
int th_gzip(unsigned char **out, size_t *len_out, const void *data, size_t len);

#endif
