/* A pool of threads for requests that wait on the disk: see offload.h. */
#include "../core/core.h"

#include <pthread.h>
#include <stdbool.h>

#include "offload.h"

typedef struct offload_job {
	ecr__offload_fn fn;
	void *arg;
	struct offload_job *next;
} offload_job;

struct ecr__offload {
	pthread_mutex_t lock;
	pthread_cond_t work;    /* a job was queued, or the pool stops */
	pthread_cond_t drained; /* busy fell to 0 */
	offload_job *head, *tail;
	size_t queued;  /* jobs waiting for a thread */
	size_t busy;    /* jobs queued or running */
	size_t idle;    /* threads waiting for a job */
	pthread_t *threads;
	size_t nthreads, max;
	bool stopping;
};

static void *offload_thread(void *p)
{
	ecr__offload *o = p;
	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (!o->head && !o->stopping) {
			o->idle++;
			pthread_cond_wait(&o->work, &o->lock);
			o->idle--;
		}
		offload_job *j = o->head;
		if (!j)
			break; /* stopping, nothing left */
		o->head = j->next;
		if (!o->head)
			o->tail = NULL;
		o->queued--;
		pthread_mutex_unlock(&o->lock);
		j->fn(j->arg);
		ecr__free(j);
		pthread_mutex_lock(&o->lock);
		if (--o->busy == 0)
			pthread_cond_broadcast(&o->drained);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

int ecr__offload_new(ecr__offload **out, unsigned int max_threads)
{
	*out = NULL;
	ecr__offload *o = ecr__calloc(1, sizeof(*o));
	if (!o)
		return ECR_ENOMEM;
	o->max = max_threads ? max_threads : 1;
	if (!(o->threads = ecr__calloc(o->max, sizeof(*o->threads)))) {
		ecr__free(o);
		return ECR_ENOMEM;
	}
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->work, NULL);
	pthread_cond_init(&o->drained, NULL);
	*out = o;
	return 0;
}

int ecr__offload_run(ecr__offload *o, ecr__offload_fn fn, void *arg)
{
	offload_job *j = ecr__malloc(sizeof(*j));
	if (!j)
		return ECR_ENOMEM;
	j->fn = fn;
	j->arg = arg;
	j->next = NULL;
	pthread_mutex_lock(&o->lock);
	if (o->stopping) {
		pthread_mutex_unlock(&o->lock);
		ecr__free(j);
		return ecr__fail(ECR_EIO, ECR_ERROR_INTERNAL, "the request thread pool is stopping");
	}
	/* every queued job should find a thread: start one when the idle ones are all spoken for */
	if (o->queued + 1 > o->idle && o->nthreads < o->max) {
		int err = pthread_create(&o->threads[o->nthreads], NULL, offload_thread, o);
		if (err == 0)
			o->nthreads++;
		else if (o->nthreads == 0) {
			pthread_mutex_unlock(&o->lock);
			ecr__free(j);
			return ecr__fail_os(ECR_EIO, err, "cannot start a request thread");
		}
		/* else the threads there are take it in turn */
	}
	if (o->tail)
		o->tail->next = j;
	else
		o->head = j;
	o->tail = j;
	o->queued++;
	o->busy++;
	pthread_cond_signal(&o->work);
	pthread_mutex_unlock(&o->lock);
	return 0;
}

void ecr__offload_drain(ecr__offload *o)
{
	pthread_mutex_lock(&o->lock);
	while (o->busy)
		pthread_cond_wait(&o->drained, &o->lock);
	pthread_mutex_unlock(&o->lock);
}

void ecr__offload_stats(ecr__offload *o, size_t *threads, size_t *busy)
{
	pthread_mutex_lock(&o->lock);
	*threads = o->nthreads;
	*busy = o->busy;
	pthread_mutex_unlock(&o->lock);
}

void ecr__offload_free(ecr__offload *o)
{
	if (!o)
		return;
	ecr__offload_drain(o);
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	pthread_cond_broadcast(&o->work);
	pthread_mutex_unlock(&o->lock);
	for (size_t i = 0; i < o->nthreads; i++)
		pthread_join(o->threads[i], NULL);
	pthread_cond_destroy(&o->drained);
	pthread_cond_destroy(&o->work);
	pthread_mutex_destroy(&o->lock);
	ecr__free(o->threads);
	ecr__free(o);
}
