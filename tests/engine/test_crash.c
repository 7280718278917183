/* engine/crash: an acknowledged push survives kill -9, and no partial blob is
 * ever visible.
 *
 * Each round forks a child that opens a file:// registry with real fsync and
 * pushes random images in a loop; after each ecr_image_put() returned 0 it
 * writes the image's digest and tag to a pipe. The parent SIGKILLs it after a
 * random 5-150 ms, reopens the registry and checks: every acknowledged image
 * is there, intact (manifest and blobs match their digests) and its tag points
 * to it; the whole registry passes the consistency check; every file in the
 * folder's blobs/ tree hashes to its name, and every such blob a repository
 * holds reads back through ecr_blob_open correctly; and the registry still
 * takes a push.
 *
 * Environment: ECR_CRASH_ROUNDS (default 20), ECR_CRASH_SEED (default: time). */
#include "../helpers/helpers.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../helpers/th_image.h"
#include "ecr/fsck.h"

#define REPO "crash/app"

/* One message from the child: 'A' an acknowledged push, 'E' a failure. Less
 * than PIPE_BUF, so each write is atomic. */
typedef struct ack {
	char kind;
	char tag[32];
	char digest[TH_DIGEST_MAX];
	char message[300];
} ack;

static void child_send(int fd, const ack *a)
{
	const char *p = (const char *)a;
	size_t left = sizeof(*a);
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);
		p += n;
		left -= (size_t)n;
	}
}

static void child_fail(int fd, const char *what, int rc)
{
	ack a;
	memset(&a, 0, sizeof(a));
	a.kind = 'E';
	snprintf(a.message, sizeof(a.message), "child: %s returned %d (%s): %.150s | %.100s", what, rc,
		ecr_error_name(rc), ecr_error_last()->message, th_problem());
	child_send(fd, &a);
	_exit(2);
}

static void child_main(int fd, const char *url, uint64_t seed)
{
	ecr_registry *reg = NULL;
	ecr_repository *repo = NULL;
	uint64_t rng = seed;
	int rc;

	if ((rc = ecr_registry_open(&reg, url, NULL)) != 0)
		child_fail(fd, "ecr_registry_open", rc);
	rc = ecr_repository_create(&repo, reg, REPO, NULL);
	if (rc == ECR_EREPOSITORY_EXISTS)
		rc = ecr_repository_open(&repo, reg, REPO);
	if (rc != 0)
		child_fail(fd, "ecr_repository_create", rc);
	ack ready;
	memset(&ready, 0, sizeof(ready));
	ready.kind = 'R';
	child_send(fd, &ready);
	for (int i = 0; i < 100000; i++) {
		th_image img;
		size_t sizes[3];
		size_t n = (size_t)th_rand_range(&rng, 1, 3);
		for (size_t k = 0; k < n; k++)
			sizes[k] = (size_t)th_rand_range(&rng, 1, 200000);
		if (th_image_random(&img, &rng, n, sizes) != 0)
			child_fail(fd, "th_image_random", ECR_ENOMEM);
		ack a;
		memset(&a, 0, sizeof(a));
		a.kind = 'A';
		snprintf(a.tag, sizeof(a.tag), "p%d", i);
		snprintf(a.digest, sizeof(a.digest), "%s", img.digest);
		if ((rc = th_image_push(repo, &img, a.tag, 65536)) != 0)
			child_fail(fd, "th_image_push", rc);
		/* Acknowledged only now that ecr_image_put returned 0. */
		child_send(fd, &a);
		/* A moving tag as well. */
		if ((rc = ecr_image_put(NULL, repo, "latest", img.digest, NULL, img.manifest, img.manifest_len, 0)) != 0)
			child_fail(fd, "ecr_image_put (latest)", rc);
		th_image_dispose(&img);
	}
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	_exit(0);
}

typedef struct blob_walk {
	ecr_repository *repo;
	size_t read_back;
} blob_walk;

/* A blob file in the folder that the repository holds reads back correctly. */
static int check_blob_file(const char *digest, void *payload)
{
	blob_walk *w = payload;
	uint64_t size;
	if (!w->repo)
		return 0;
	int rc = ecr_blob_stat(w->repo, digest, &size);
	if (rc == ECR_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	if ((rc = th_blob_verify(w->repo, digest, size)) != 0)
		return rc;
	w->read_back++;
	return 0;
}

typedef struct round_stats {
	size_t acks, blob_files, blobs_read, fsck_blobs;
} round_stats;

static int fsck_problem(const ecr_fsck_problem *p, void *payload)
{
	if (p->severity == ECR_FSCK_ERROR)
		print_message("# round %d: fsck: %s\n", *(const int *)payload, p->message);
	return 0;
}

static void one_round(int round, uint64_t seed, round_stats *st)
{
	char *dir = th_tmpdir();
	char *url = NULL;
	int fds[2];
	assert_non_null(dir);
	assert_true(asprintf(&url, "file://%s", dir) > 0);
	assert_int_equal(pipe(fds), 0);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_main(fds[1], url, seed);
	}
	close(fds[1]);
	uint64_t rng = seed ^ 0x5151;
	long delay_ms = (long)th_rand_range(&rng, 5, 150);
	/*
	 * Where the delay counts from: one round in four from the fork (the kill
	 * can hit the registry's creation), one from when the child is ready to
	 * push, two from its first acknowledged push (so that acknowledged images
	 * exist to check however slow the machine is: under load a push of fsynced
	 * blobs can take longer than the whole delay window).
	 */
	int from = (int)th_rand_range(&rng, 0, 3); /* 0: fork, 1: ready, 2-3: first ack */
	ack *acks = NULL;
	size_t nacks = 0, cap = 0;
	ack a;
	size_t got = 0;
	bool stop = false;
	while (from != 0 && !stop) {
		ssize_t n = read(fds[0], (char *)&a + got, sizeof(a) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got < sizeof(a))
			continue;
		got = 0;
		if (a.kind == 'E')
			fail_msg("round %d (seed %llu): %s", round, (unsigned long long)seed, a.message);
		if (a.kind == 'A') {
			if (nacks == cap) {
				cap = cap ? cap * 2 : 32;
				acks = realloc(acks, cap * sizeof(*acks));
				assert_non_null(acks);
			}
			acks[nacks++] = a;
		}
		stop = from == 1 ? a.kind == 'R' : a.kind == 'A';
	}
	struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);

	/* Read what was acknowledged. */
	for (;;) {
		ssize_t n = read(fds[0], (char *)&a + got, sizeof(a) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got < sizeof(a))
			continue;
		got = 0;
		if (a.kind == 'E')
			fail_msg("round %d (seed %llu): %s", round, (unsigned long long)seed, a.message);
		if (a.kind != 'A')
			continue;
		if (nacks == cap) {
			cap = cap ? cap * 2 : 32;
			acks = realloc(acks, cap * sizeof(*acks));
			assert_non_null(acks);
		}
		acks[nacks++] = a;
	}
	close(fds[0]);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("round %d: the child ended by itself (status %d) before it was killed", round, status);

	/* Reopen (real fsync, as the child) and check. */
	ecr_registry *reg = NULL;
	ecr_repository *repo = NULL;
	assert_ok(ecr_registry_open(&reg, url, NULL));
	int rc = ecr_repository_open(&repo, reg, REPO);
	if (nacks > 0)
		assert_ok(rc);
	else if (rc != 0)
		assert_int_equal(rc, ECR_EREPOSITORY_NOT_FOUND); /* killed before the repository was created */

	for (size_t i = 0; i < nacks; i++) {
		char digest[TH_DIGEST_MAX];
		rc = th_image_verify(repo, acks[i].digest, acks[i].digest, NULL);
		if (rc != 0)
			fail_msg("round %d (seed %llu, killed after %ld ms): acknowledged image %zu of %zu (%s) is not "
				 "intact: %s",
				round, (unsigned long long)seed, delay_ms, i + 1, nacks, acks[i].digest, th_problem());
		rc = th_image_verify(repo, acks[i].tag, acks[i].digest, digest);
		if (rc != 0)
			fail_msg("round %d (seed %llu): acknowledged tag %s does not lead to %s: %s", round,
				(unsigned long long)seed, acks[i].tag, acks[i].digest, th_problem());
	}
	th_check_stats cs;
	if ((rc = th_registry_check(reg, &cs)) != 0)
		fail_msg("round %d (seed %llu): consistency check: %s", round, (unsigned long long)seed, th_problem());
	assert_true(cs.images >= nacks);
	/* The library's own check (ecr/fsck.h): every blob re-hashed, every reference resolvable; unreferenced blobs
	 * (a kill between publishing a blob and linking it) are notices, not errors. */
	ecr_fsck_options fo = ECR_FSCK_OPTIONS_INIT;
	ecr_fsck_stats fs = ECR_FSCK_STATS_INIT;
	fo.flags = ECR_FSCK_ALL_REGISTRIES;
	assert_ok(ecr_registry_fsck(reg, &fo, fsck_problem, &round, &fs));
	if (fs.errors)
		fail_msg("round %d (seed %llu): ecr_registry_fsck found %llu problems", round, (unsigned long long)seed,
			(unsigned long long)fs.errors);
	assert_true(fs.blobs_checked >= nacks);
	st->fsck_blobs += fs.blobs_checked;

	blob_walk bw = { repo, 0 };
	size_t nfiles = 0;
	if ((rc = th_fs_blobs_walk(dir, &nfiles, check_blob_file, &bw)) != 0)
		fail_msg("round %d (seed %llu): blob files: %d: %s", round, (unsigned long long)seed, rc, th_problem());

	/* Still usable: a new push works after the crash. */
	if (repo) {
		th_image img;
		assert_ok(th_image_random(&img, &rng, 2, NULL));
		if ((rc = th_image_push(repo, &img, "after-crash", 0)) != 0)
			fail_msg("round %d: push after the crash: %s", round, th_problem());
		if ((rc = th_image_verify_exact(repo, &img)) != 0)
			fail_msg("round %d: image pushed after the crash: %s", round, th_problem());
		th_image_dispose(&img);
	}

	st->acks += nacks;
	st->blob_files += nfiles;
	st->blobs_read += bw.read_back;
	ecr_repository_free(repo);
	ecr_registry_free(reg);
	free(acks);
	free(url);
	th_rmtree(dir);
}

static void test_engine_crash__kill9_during_pushes(void **state)
{
	(void)state;
	const char *v = getenv("ECR_CRASH_ROUNDS");
	long rounds = v && *v ? strtol(v, NULL, 10) : 20;
	v = getenv("ECR_CRASH_SEED");
	uint64_t base = v && *v ? strtoull(v, NULL, 0) : (uint64_t)time(NULL);
	round_stats st = { 0, 0, 0, 0 };
	size_t zero_ack_rounds = 0;
	for (long r = 0; r < rounds; r++) {
		size_t before = st.acks;
		one_round((int)r, base + (uint64_t)r, &st);
		zero_ack_rounds += st.acks == before;
	}
	print_message("# %ld rounds (seeds %llu..): %zu acknowledged pushes verified, %zu rounds killed before the "
		      "first ack, %zu blob files hashed, %zu of them read back through the API, %zu blobs checked by fsck\n",
		rounds, (unsigned long long)base, st.acks, zero_ack_rounds, st.blob_files, st.blobs_read, st.fsck_blobs);
	if (rounds >= 10)
		assert_true(st.acks > 0);
}

static int setup(void **state)
{
	(void)state;
	return ecr_init() > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return ecr_shutdown() >= 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_crash__kill9_during_pushes),
	};
	return cmocka_run_group_tests_name("engine/crash", tests, setup, teardown);
}
