/* A pool of threads for requests that wait on the disk (offload.c).
 *
 * libmicrohttpd's worker threads each serve many connections. A request that
 * waits for a durable commit (a manifest PUT, the end of a blob upload, a
 * delete) would hold its worker thread, and every connection on it, for the
 * whole fsync; and with few workers, few commits wait together, so each group
 * commit covers few of them. The server suspends such a request's connection,
 * runs the rest of its handling here and resumes the connection when the
 * answer is ready (server.c). The worker thread goes back to its other
 * connections, and as many commits wait together as there are requests.
 *
 * Threads start on demand, up to a maximum, and then stay until the pool is
 * freed: a server that never gets such a request starts none. */
#ifndef ECR_SERVER_OFFLOAD_H
#define ECR_SERVER_OFFLOAD_H

#include <stddef.h>

typedef struct ecr__offload ecr__offload;
typedef void (*ecr__offload_fn)(void *arg);

/* A pool of at most max_threads threads (at least 1). 0 or ECR_ENOMEM. */
int ecr__offload_new(ecr__offload **out, unsigned int max_threads);
/*
 * Run fn(arg) on a thread of the pool, in the order of submission among
 * those waiting. A thread is started when none is idle and the pool has fewer
 * than its maximum. 0 when queued; ECR_ENOMEM, or ECR_EIO when no thread runs
 * and none could be started: fn was not queued, the caller runs it itself.
 */
int ecr__offload_run(ecr__offload *o, ecr__offload_fn fn, void *arg);
/* Wait until no job is queued or running. */
void ecr__offload_drain(ecr__offload *o);
/* Threads started so far, and jobs queued or running now. */
void ecr__offload_stats(ecr__offload *o, size_t *threads, size_t *busy);
/* Drain, stop the threads and free the pool (NULL is a no-op). */
void ecr__offload_free(ecr__offload *o);

#endif
