/* bench/meta_commit.c: durable metadata commits per second through the SQLite store, with N threads.
 *
 *   cc -O2 -o meta_commit bench/meta_commit.c -Iinclude -Lbuild-bench -lecr -lpthread
 *   LD_LIBRARY_PATH=build-bench ./meta_commit DIR [THREADS=16] [SECONDS=3]
 *
 * Each thread runs write transactions of one small INSERT (a manifest PUT's metadata is a handful of rows)
 * on ecr_meta_store_sqlite_new(DIR/meta.db, 0): durable, so every commit that returns is on stable storage.
 * Prints commits/s. Run it against two builds (LD_LIBRARY_PATH) to compare commit strategies. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecr.h"
#include "ecr/sys/meta_store.h"

static ecr_meta_store *ms;
static atomic_int stop;
static atomic_long done, failed;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *p)
{
	long id = (long)(intptr_t)p, i = 0;
	while (!atomic_load(&stop)) {
		ecr_meta_txn *txn = NULL;
		ecr_sql_value v[] = { { ECR_SQL_INT, id, NULL, 0 }, { ECR_SQL_INT, i++, NULL, 0 },
			{ ECR_SQL_TEXT, 0, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 71 } };
		if (ms->begin(&txn, ms, 1) != 0) {
			atomic_fetch_add(&failed, 1);
			continue;
		}
		if (ms->exec(txn, "INSERT INTO m(t, i, digest) VALUES (?, ?, ?)", v, 3, NULL, NULL, NULL) != 0) {
			ms->rollback(txn);
			atomic_fetch_add(&failed, 1);
			continue;
		}
		if (ms->commit(txn) != 0)
			atomic_fetch_add(&failed, 1);
		else
			atomic_fetch_add(&done, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [THREADS] [SECONDS]\n", argv[0]);
		return 2;
	}
	int threads = argc > 2 ? atoi(argv[2]) : 16;
	double secs = argc > 3 ? atof(argv[3]) : 3;
	if (threads < 1 || threads > 256 || secs <= 0)
		return 2;
	char path[4096];
	snprintf(path, sizeof(path), "%s/meta.db", argv[1]);
	if (ecr_meta_store_sqlite_new(&ms, path, 0) != 0) {
		fprintf(stderr, "open %s: %s\n", path, ecr_error_last()->message);
		return 1;
	}
	ecr_meta_txn *txn = NULL;
	if (ms->begin(&txn, ms, 1) != 0 ||
		ms->exec(txn, "CREATE TABLE IF NOT EXISTS m(t INTEGER, i INTEGER, digest TEXT, PRIMARY KEY (t, i))", NULL,
			0, NULL, NULL, NULL) != 0 ||
		ms->exec(txn, "DELETE FROM m", NULL, 0, NULL, NULL, NULL) != 0 || ms->commit(txn) != 0) {
		fprintf(stderr, "setup: %s\n", ecr_error_last()->message);
		return 1;
	}
	pthread_t th[256];
	double t0 = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i);
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	double el = now() - t0;
	printf("%d threads: %ld durable commits in %.2f s = %.0f/s (%ld failed)\n", threads, atomic_load(&done), el,
		(double)atomic_load(&done) / el, atomic_load(&failed));
	ecr_meta_store_free(ms);
	return atomic_load(&failed) ? 1 : 0;
}
