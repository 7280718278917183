/* libFuzzer target: the scanner's layer walker (ecr__layer_fs_apply: tar,
 * tar.gz or tar.zst through libarchive, whiteouts, links, the kept package
 * databases) on arbitrary bytes, with small caps so the limits are reached.
 *
 * Input: one to four layers separated by the 8 bytes "ECRLAYER". The first
 * byte of the input picks how many bytes the read callback hands out at a
 * time (1 to 256 x 64), so libarchive sees the stream cut everywhere. After
 * every layer, the final filesystem is queried for every kept path and the
 * target traps on a broken invariant (kept data not NUL-terminated, a file
 * over max_file_size, more kept bytes than the walker accounts for). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libecr/scan/scan_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP "ECRLAYER"
#define SEP_LEN 8
#define MAX_LAYERS 4

typedef struct feed {
	const uint8_t *p;
	size_t left, chunk;
} feed;

static int feed_read(void *payload, void *buf, size_t len, size_t *nread_out)
{
	feed *f = payload;
	size_t n = f->left < len ? f->left : len;

	if (n > f->chunk)
		n = f->chunk;
	memcpy(buf, f->p, n);
	f->p += n;
	f->left -= n;
	*nread_out = n;
	return 0;
}

static const char *const queried[] = {
	"etc/os-release",
	"/usr/lib/os-release",
	"var/lib/dpkg/status",
	"lib/apk/db/installed",
	"var/lib/rpm/rpmdb.sqlite",
	"usr/lib/sysimage/rpm/rpmdb.sqlite",
	"var/lib/rpm/Packages",
	"var/lib/dpkg/status.d/base",
	"var/lib/dpkg/status.d/a",
	"etc",
	"/",
	"",
};

static void check(const ecr__layer_fs *fs)
{
	size_t i, kept = 0;

	for (i = 0; i < fs->count; i++) {
		const ecr__layer_file *f = &fs->files[i];
		if (!f->path)
			__builtin_trap();
		if (f->data) {
			if (f->data[f->len] != '\0' || f->len > fs->max_file_size)
				__builtin_trap();
			kept += f->len;
		} else if (f->len != 0) {
			__builtin_trap();
		}
	}
	if (fs->pending_count != 0 || kept != fs->kept_bytes)
		__builtin_trap();
	for (i = 0; i < sizeof(queried) / sizeof(queried[0]); i++) {
		const ecr__layer_file *f = ecr__layer_fs_get(fs, queried[i]);
		if (f && (!f->data && !f->noted))
			__builtin_trap(); /* get returns regular files only */
		(void)ecr__layer_fs_has(fs, queried[i]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ecr_scan_options opts = ECR_SCAN_OPTIONS_INIT;
	ecr__layer_fs fs;
	size_t chunk = 4096, layers = 0;

	if (size > 0) {
		chunk = (size_t)(data[0] % 4 == 0 ? 1 : data[0]) * 64;
		data++;
		size--;
	}
	opts.max_total_bytes = 4u << 20;
	opts.max_entries = 2000;
	opts.max_file_size = 64u << 10;
	opts.max_path_length = 512;
	ecr__layer_fs_init(&fs, &opts);
	while (layers < MAX_LAYERS) {
		const uint8_t *end = NULL;
		size_t len = size;

		for (size_t i = 0; i + SEP_LEN <= size; i++)
			if (data[i] == 'E' && memcmp(data + i, SEP, SEP_LEN) == 0) {
				end = data + i;
				break;
			}
		if (end)
			len = (size_t)(end - data);
		feed f = { data, len, chunk };
		int rc = ecr__layer_fs_apply(&fs, "sha256:fuzz", feed_read, &f);
		if (rc > 0)
			__builtin_trap();
		check(&fs);
		layers++;
		if (!end)
			break;
		data = end + SEP_LEN;
		size -= len + SEP_LEN;
	}
	ecr__layer_fs_dispose(&fs);
	return 0;
}
