/* libarchive through the lazy loader (lazy.h): include this instead of
 * <archive.h> and <archive_entry.h>, and call ecr__lazy_load(ECR__LAZY_ARCHIVE)
 * before archive_read_new(). */
#ifndef ECR_CORE_LAZY_ARCHIVE_H
#define ECR_CORE_LAZY_ARCHIVE_H

#include "lazy.h"

#include <archive.h>
#include <archive_entry.h>

/* clang-format off */
#define ECR__ARCHIVE_FUNCS(X) \
	X(archive_entry_filetype) X(archive_entry_hardlink) X(archive_entry_pathname) X(archive_entry_size) \
	X(archive_entry_size_is_set) X(archive_entry_symlink) X(archive_error_string) X(archive_filter_bytes) \
	X(archive_read_data) X(archive_read_data_block) X(archive_read_free) X(archive_read_new) \
	X(archive_read_next_header) X(archive_read_open) X(archive_read_open_filename) \
	X(archive_read_support_filter_gzip) X(archive_read_support_filter_zstd) \
	X(archive_read_support_format_tar) X(archive_read_support_format_zip) X(archive_set_error)
/* clang-format on */

#define ECR__LAZY_ARCHIVE_FIELD(f) __typeof__(&f) f;
struct ecr__archive_api {
	ECR__ARCHIVE_FUNCS(ECR__LAZY_ARCHIVE_FIELD)
};
extern struct ecr__archive_api ecr__archive_api;

/* NULL-tolerant before the load */
int ecr__lazy_archive_read_free(struct archive *a);

#ifndef ECR__LAZY_IMPL
#define archive_entry_filetype (*ecr__archive_api.archive_entry_filetype)
#define archive_entry_hardlink (*ecr__archive_api.archive_entry_hardlink)
#define archive_entry_pathname (*ecr__archive_api.archive_entry_pathname)
#define archive_entry_size (*ecr__archive_api.archive_entry_size)
#define archive_entry_size_is_set (*ecr__archive_api.archive_entry_size_is_set)
#define archive_entry_symlink (*ecr__archive_api.archive_entry_symlink)
#define archive_error_string (*ecr__archive_api.archive_error_string)
#define archive_filter_bytes (*ecr__archive_api.archive_filter_bytes)
#define archive_read_data (*ecr__archive_api.archive_read_data)
#define archive_read_data_block (*ecr__archive_api.archive_read_data_block)
#define archive_read_free ecr__lazy_archive_read_free
#define archive_read_new (*ecr__archive_api.archive_read_new)
#define archive_read_next_header (*ecr__archive_api.archive_read_next_header)
#define archive_read_open (*ecr__archive_api.archive_read_open)
#define archive_read_open_filename (*ecr__archive_api.archive_read_open_filename)
#define archive_read_support_filter_gzip (*ecr__archive_api.archive_read_support_filter_gzip)
#define archive_read_support_filter_zstd (*ecr__archive_api.archive_read_support_filter_zstd)
#define archive_read_support_format_tar (*ecr__archive_api.archive_read_support_format_tar)
#define archive_read_support_format_zip (*ecr__archive_api.archive_read_support_format_zip)
#define archive_set_error (*ecr__archive_api.archive_set_error)
#endif

#endif
