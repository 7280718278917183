/* bench-blob: throughput of the fs blob store (write + hash + fsync + publish)
 * next to `openssl dgst -sha256` of the same file.
 *
 *   bench-blob [-m MiB] [-c chunk] [-r runs] [-w warmups] [-d dir] [-n] [-R] [file]
 *
 * Without a file, MiB (default 1024) of pseudo-random data goes to a temporary
 * file first. The input is read once (warming the page cache and computing the
 * digest in-process), then each run streams it through stage_open / write in
 * chunks (default 1 MiB) / commit into a fresh store under dir (default
 * $TMPDIR), and the published blob is removed afterwards. Each run times
 * `openssl dgst -sha256` of the file just before, and prints both. -n passes
 * ECR_STORAGE_NOSYNC; -R reads the input with read(2) instead of mmap. */
#include "libecr/core/core.h"
#include "libecr/core/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

static int die(const char *what, int rc)
{
	fprintf(stderr, "bench-blob: %s: %s (%s)\n", what, ecr_error_last()->message, ecr_error_name(rc));
	return 1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int make_input(const char *path, size_t mib)
{
	size_t chunk = 1u << 20, i, j;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint64_t *buf = malloc(chunk);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !buf) {
		perror(path);
		free(buf);
		return -1;
	}
	for (i = 0; i < mib; i++) {
		for (j = 0; j < chunk / 8; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = x;
		}
		if (write(fd, buf, chunk) != (ssize_t)chunk) {
			perror("write");
			close(fd);
			free(buf);
			return -1;
		}
	}
	free(buf);
	return close(fd);
}

/* Time `openssl dgst -sha256 file`; -1 when it cannot run. */
static double time_openssl(const char *file, char *out, size_t outlen)
{
	char cmd[4200];
	double t0, t;
	FILE *p;
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -r '%s' 2>/dev/null", file);
	t0 = now_s();
	if (!(p = popen(cmd, "r")))
		return -1;
	if (!fgets(out, (int)outlen, p)) {
		pclose(p);
		return -1;
	}
	if (pclose(p) != 0)
		return -1;
	t = now_s() - t0;
	out[strcspn(out, " \n")] = '\0';
	return t;
}

int main(int argc, char **argv)
{
	size_t mib = 1024, chunk = 1u << 20;
	int runs = 5, warmup = 1, opt, rc, i, use_read = 0, nratios = 0;
	double *ratios;
	uint32_t flags = 0;
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char input[4096] = "", storedir[4096], digest[ECR__DIGEST_STRLEN_MAX], ossl[256];
	const char *file;
	int generated = 0, fd;
	struct stat st;
	unsigned char *map = NULL, *rbuf = NULL;
	ecr__digest_ctx *ctx = NULL;
	double t0, t_hash, best = 0, sum = 0, t_ossl_best = -1;

	while ((opt = getopt(argc, argv, "m:c:r:w:d:nR")) != -1) {
		switch (opt) {
		case 'm': mib = strtoul(optarg, NULL, 10); break;
		case 'c': chunk = strtoul(optarg, NULL, 10); break;
		case 'r': runs = atoi(optarg); break;
		case 'w': warmup = atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'n': flags |= ECR_STORAGE_NOSYNC; break;
		case 'R': use_read = 1; break;
		default:
			fprintf(stderr,
				"usage: %s [-m MiB] [-c chunk] [-r runs] [-w warmups] [-d dir] [-n] [-R] [file]\n",
				argv[0]);
			return 2;
		}
	}
	if (chunk == 0 || runs < 1 || warmup < 0 || mib == 0)
		return 2;
	if (!(ratios = calloc((size_t)runs, sizeof(double))))
		return 1;
	if (optind < argc) {
		file = argv[optind];
	} else {
		snprintf(input, sizeof(input), "%s/bench-blob-input-%ld", dir, (long)getpid());
		fprintf(stderr, "generating %zu MiB in %s ...\n", mib, input);
		if (make_input(input, mib) != 0)
			return 1;
		file = input;
		generated = 1;
	}

	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		perror(file);
		return 1;
	}
	if (!use_read && st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
		if (map == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		(void)madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
	}
	if (!(rbuf = malloc(chunk)))
		return 1;

	/* Digest in-process (this also warms the page cache). */
	if ((rc = ecr__digest_new(&ctx, ECR__DIGEST_SHA256)) != 0)
		return die("digest", rc);
	t0 = now_s();
	for (off_t off = 0; off < st.st_size;) {
		size_t n = (size_t)(st.st_size - off) < chunk ? (size_t)(st.st_size - off) : chunk;
		const unsigned char *p = map ? map + off : rbuf;
		if (!map && pread(fd, rbuf, n, off) != (ssize_t)n) {
			perror("read");
			return 1;
		}
		ecr__digest_update(ctx, p, n);
		off += (off_t)n;
	}
	ecr__digest_final(ctx, digest, sizeof(digest));
	ecr__digest_free(ctx);
	t_hash = now_s() - t0;

	/* Runs alternate openssl and the store, so that drifting machine load hits
	 * both alike; the first `warmup` runs are not counted (a VM's first touch
	 * of fresh page-cache memory is much slower than steady state). */
	for (i = 0; i < warmup + runs; i++) {
		ecr_blob_store *s = NULL;
		ecr_blob_store_writer *w = NULL;
		double t, t_commit, t_ossl;

		t_ossl = time_openssl(file, ossl, sizeof(ossl));
		if (t_ossl > 0 && strcmp(ossl, digest + 7) != 0) {
			fprintf(stderr, "bench-blob: openssl says %s, we say %s\n", ossl, digest);
			return 1;
		}
		snprintf(storedir, sizeof(storedir), "%s/bench-blob-store-XXXXXX", dir);
		if (!mkdtemp(storedir)) {
			perror("mkdtemp");
			return 1;
		}
		if ((rc = ecr_blob_store_fs_new(&s, storedir, flags)) != 0)
			return die("store", rc);
		sync(); /* start each run with no dirty pages from the previous one */
		t0 = now_s();
		if ((rc = s->stage_open(&w, s, "bench", 1)) != 0)
			return die("stage_open", rc);
		for (off_t off = 0; off < st.st_size;) {
			size_t n = (size_t)(st.st_size - off) < chunk ? (size_t)(st.st_size - off) : chunk;
			const unsigned char *p = map ? map + off : rbuf;
			if (!map && pread(fd, rbuf, n, off) != (ssize_t)n) {
				perror("read");
				return 1;
			}
			if ((rc = w->write(w, p, n)) != 0)
				return die("write", rc);
			off += (off_t)n;
		}
		t_commit = now_s();
		if ((rc = w->commit(w, digest)) != 0)
			return die("commit", rc);
		t = now_s() - t0;
		t_commit = now_s() - t_commit;
		w->close(w);
		if ((rc = s->remove(s, digest)) != 0)
			return die("remove", rc);
		ecr_blob_store_free(s);
		nftw(storedir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		printf("%s %d: store %.0f MB/s (%.3f s: writes %.3f s, commit %.3f s); openssl %.0f MB/s; ratio %.2f\n",
			i < warmup ? "warmup" : "run", i + 1, (double)st.st_size / t / 1e6, t, t - t_commit, t_commit,
			t_ossl > 0 ? (double)st.st_size / t_ossl / 1e6 : 0.0, t_ossl > 0 ? t_ossl / t : 0.0);
		if (i < warmup)
			continue;
		ratios[nratios++] = t_ossl > 0 ? t_ossl / t : 0.0;
		sum += t;
		if (best == 0 || t < best)
			best = t;
		if (t_ossl > 0 && (t_ossl_best < 0 || t_ossl < t_ossl_best))
			t_ossl_best = t_ossl;
	}
	qsort(ratios, (size_t)nratios, sizeof(double), cmp_double);

	printf("file: %s, %lld bytes, chunk %zu, %s, input via %s\n", file, (long long)st.st_size, chunk,
		flags & ECR_STORAGE_NOSYNC ? "NOSYNC" : "fsync", map ? "mmap" : "read");
	printf("in-process sha256 (%s): %.0f MB/s\n", ecr__digest_provider(), (double)st.st_size / t_hash / 1e6);
	printf("blob store write+hash+fsync+publish: best %.0f MB/s, mean %.0f MB/s\n", (double)st.st_size / best / 1e6,
		(double)st.st_size / (sum / runs) / 1e6);
	if (t_ossl_best > 0)
		printf("openssl dgst -sha256: best %.0f MB/s; ratio best/best %.2f, median of per-run ratios %.2f\n",
			(double)st.st_size / t_ossl_best / 1e6, t_ossl_best / best, ratios[nratios / 2]);
	free(ratios);
	if (map)
		munmap(map, (size_t)st.st_size);
	close(fd);
	free(rbuf);
	if (generated)
		unlink(input);
	return 0;
}
