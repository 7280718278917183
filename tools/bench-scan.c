/* bench-scan: scan throughput in MB/s of compressed layer, next to `gzip -dc`
 * of the same layer on the same machine.
 *
 * Generates one gzip tar layer of about SIZE_MB compressed (default 200):
 * files of pseudo-random text (compresses about 2:1, like binaries) and a
 * Debian dpkg status file of 400 packages; writes it as an OCI image layout in
 * a temporary folder, then times (median of RUNS, default 3):
 *   - ecr_scan_layout() on it (libarchive, digest verified while streaming),
 *   - the layer walk alone (ecr__layer_fs_apply reading the file),
 *   - `gzip -dc layer > /dev/null` (fork/exec).
 * Usage: bench-scan [SIZE_MB [RUNS]] */
#include "../libecr/scan/scan_internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../libecr/core/digest.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

typedef struct out_file {
	int fd;
	ecr__digest_ctx *dg;
	uint64_t size;
} out_file;

static la_ssize_t w_write(struct archive *a, void *p, const void *data, size_t n)
{
	out_file *o = p;
	const char *c = data;
	size_t left = n;

	(void)a;
	while (left) {
		ssize_t w = write(o->fd, c, left);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		left -= (size_t)w;
	}
	ecr__digest_update(o->dg, data, n);
	o->size += n;
	return (la_ssize_t)n;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int add_file(struct archive *a, const char *path, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	int rc;

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	rc = archive_write_header(a, e);
	archive_entry_free(e);
	if (rc != ARCHIVE_OK || archive_write_data(a, data, len) != (la_ssize_t)len)
		return -1;
	return 0;
}

/* Write the layer; its digest and size into the out-params. */
static int make_layer(const char *path, uint64_t target, char *digest, uint64_t *size)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789 \n";
	out_file o = {-1, NULL, 0};
	struct archive *a = archive_write_new();
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	size_t flen = 4u << 20, i;
	char *buf = malloc(flen), name[64];
	ecr_buf status = ECR_BUF_INIT;
	int rc = -1, n = 0;

	o.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o.fd < 0 || !buf || ecr__digest_new(&o.dg, ECR__DIGEST_SHA256) < 0)
		goto done;
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	if (archive_write_open(a, &o, NULL, w_write, NULL) != ARCHIVE_OK)
		goto done;
	if (add_file(a, "etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n", 26) < 0)
		goto done;
	for (i = 0; i < 400; i++)
		ecr__buf_printf(
		    &status,
		    "Package: pkg%zu\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n"
		    "Source: src%zu\nVersion: 1.%zu-1\nDescription: package %zu\n a package of the benchmark\n\n",
		    i, i / 3, i, i);
	if (add_file(a, "var/lib/dpkg/status", status.ptr, status.size) < 0)
		goto done;
	/* files until the compressed output reaches the target */
	while (o.size < target) {
		for (i = 0; i < flen; i++)
			buf[i] = alphabet[rng_next(&rng) % (sizeof(alphabet) - 1)];
		snprintf(name, sizeof(name), "usr/share/bench/file%04d", n++);
		if (add_file(a, name, buf, flen) < 0)
			goto done;
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		goto done;
	if (ecr__digest_final(o.dg, digest, ECR__DIGEST_STRLEN_MAX) < 0)
		goto done;
	*size = o.size;
	rc = 0;
done:
	archive_write_free(a);
	if (o.fd >= 0)
		close(o.fd);
	ecr__digest_free(o.dg);
	ecr_buf_dispose(&status);
	free(buf);
	return rc;
}

static int write_text(const char *dir, const char *name, const char *text, char *digest)
{
	char path[4096];
	FILE *f;

	if (digest) {
		ecr__digest_buf(digest, ECR__DIGEST_STRLEN_MAX, ECR__DIGEST_SHA256, text, strlen(text));
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, digest + 7);
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
	}
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0)
		return -1;
	return fclose(f);
}

static int fd_read(void *payload, void *buf, size_t len, size_t *nread_out)
{
	ssize_t n = read(*(int *)payload, buf, len);

	if (n < 0)
		return ecr__fail_os(ECR_EIO, errno, "read");
	*nread_out = (size_t)n;
	return 0;
}

static double time_gzip(const char *layer)
{
	double t0 = now_s();
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int in = open(layer, O_RDONLY), out = open("/dev/null", O_WRONLY);

		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0)
			_exit(127);
		execlp("gzip", "gzip", "-dc", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	uint64_t size_mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 200, lsize = 0;
	int runs = argc > 2 ? atoi(argv[2]) : 3, i, rc = 1;
	char tmpl[] = "/tmp/bench-scan-XXXXXX", *dir, path[4096], layer_path[4096];
	char ldigest[ECR__DIGEST_STRLEN_MAX], cdigest[ECR__DIGEST_STRLEN_MAX], mdigest[ECR__DIGEST_STRLEN_MAX];
	char manifest[2048], index[1024];
	const char *config = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}";
	double *ts = NULL, *tw = NULL, *tg = NULL, mb, t0;
	size_t packages = 0;

	if (runs < 1 || size_mb < 1)
		return 2;
	ecr_init();
	dir = mkdtemp(tmpl);
	if (!dir)
		return 1;
	snprintf(path, sizeof(path), "%s/blobs", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	mkdir(path, 0755);
	snprintf(layer_path, sizeof(layer_path), "%s/layer.tar.gz", dir);
	fprintf(stderr, "generating a gzip layer of ~%llu MB...\n", (unsigned long long)size_mb);
	t0 = now_s();
	if (make_layer(layer_path, size_mb * 1000000, ldigest, &lsize) < 0) {
		fprintf(stderr, "bench-scan: cannot write the layer\n");
		goto done;
	}
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, ldigest + 7);
	if (rename(layer_path, path) < 0)
		goto done;
	snprintf(layer_path, sizeof(layer_path), "%s", path);
	fprintf(stderr, "  %.1f MB in %.1f s\n", (double)lsize / 1e6, now_s() - t0);
	write_text(dir, NULL, config, cdigest);
	snprintf(
	    manifest, sizeof(manifest),
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{"
	    "\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},\"layers\":[{"
	    "\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\",\"size\":%llu}]}",
	    cdigest, strlen(config), ldigest, (unsigned long long)lsize);
	write_text(dir, NULL, manifest, mdigest);
	snprintf(index, sizeof(index),
	         "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	         "\"digest\":\"%s\",\"size\":%zu}]}",
	         mdigest, strlen(manifest));
	write_text(dir, "index.json", index, NULL);
	write_text(dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", NULL);

	ts = calloc((size_t)runs, sizeof(double));
	tw = calloc((size_t)runs, sizeof(double));
	tg = calloc((size_t)runs, sizeof(double));
	if (!ts || !tw || !tg)
		goto done;
	/* warm the page cache */
	time_gzip(layer_path);
	for (i = 0; i < runs; i++) {
		ecr_scan_report *r = NULL;
		ecr__layer_fs fs;
		int fd;

		t0 = now_s();
		if (ecr_scan_layout(&r, dir, NULL, NULL, NULL) != 0) {
			fprintf(stderr, "bench-scan: scan failed: %s\n", ecr_error_last()->message);
			goto done;
		}
		ts[i] = now_s() - t0;
		packages = ecr_scan_report_package_count(r);
		ecr_scan_report_free(r);

		fd = open(layer_path, O_RDONLY);
		ecr__layer_fs_init(&fs, NULL);
		t0 = now_s();
		if (fd < 0 || ecr__layer_fs_apply(&fs, ldigest, fd_read, &fd) != 0) {
			fprintf(stderr, "bench-scan: walk failed: %s\n", ecr_error_last()->message);
			goto done;
		}
		tw[i] = now_s() - t0;
		ecr__layer_fs_dispose(&fs);
		close(fd);

		tg[i] = time_gzip(layer_path);
		if (tg[i] < 0) {
			fprintf(stderr, "bench-scan: gzip -dc failed\n");
			goto done;
		}
	}
	mb = (double)lsize / 1e6;
	printf("layer: %.1f MB gzip (compressed), %zu packages found, median of %d runs\n", mb, packages, runs);
	printf("ecr_scan_layout (walk + sha256 verify): %7.3f s  %7.1f MB/s of compressed layer\n", median(ts, runs),
	       mb / median(ts, runs));
	printf("layer walk alone (libarchive, caps):    %7.3f s  %7.1f MB/s\n", median(tw, runs),
	       mb / median(tw, runs));
	printf("gzip -dc > /dev/null:                   %7.3f s  %7.1f MB/s\n", median(tg, runs),
	       mb / median(tg, runs));
	rc = 0;
done:
	free(ts);
	free(tw);
	free(tg);
	if (dir) {
		unlink(layer_path);
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, cdigest + 7);
		unlink(path);
		snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, mdigest + 7);
		unlink(path);
		snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/blobs", dir);
		rmdir(path);
		snprintf(path, sizeof(path), "%s/index.json", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/oci-layout", dir);
		unlink(path);
		rmdir(dir);
	}
	ecr_shutdown();
	return rc;
}
