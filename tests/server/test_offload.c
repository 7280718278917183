/* The server's pool of threads for requests that wait on the disk (libecr/server/offload.c): threads start on
 * demand up to the maximum and not before, jobs run once each and in order on one thread, a drain waits for
 * the running ones, and freeing a pool with jobs still queued runs them first. */
#include "../helpers/helpers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "libecr/server/offload.h"

/* Jobs that block until released, and count themselves. */
typedef struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open;
	int running, most_running;
	atomic_int done;
	int order[64];
	atomic_int norder;
} gate;

typedef struct gate_job {
	gate *g;
	int id;
} gate_job;

static void gate_init(gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

static void gate_open(gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void gate_dispose(gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

static void blocking_job(void *arg)
{
	gate_job *j = arg;
	gate *g = j->g;
	pthread_mutex_lock(&g->lock);
	g->running++;
	if (g->running > g->most_running)
		g->most_running = g->running;
	g->order[atomic_fetch_add(&g->norder, 1)] = j->id;
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	g->running--;
	pthread_mutex_unlock(&g->lock);
	atomic_fetch_add(&g->done, 1);
}

/* Wait (up to 5 s) until n jobs run at once. */
static int wait_running(gate *g, int n)
{
	for (int i = 0; i < 5000; i++) {
		pthread_mutex_lock(&g->lock);
		int r = g->running;
		pthread_mutex_unlock(&g->lock);
		if (r >= n)
			return 0;
		usleep(1000);
	}
	return -1;
}

static void test_server_offload__threads_on_demand(void **state)
{
	(void)state;
	ecr__offload *o;
	gate g;
	gate_job jobs[6];
	size_t threads, busy;
	gate_init(&g);
	assert_ok(ecr__offload_new(&o, 4));
	ecr__offload_stats(o, &threads, &busy);
	assert_int_equal(threads, 0); /* none before the first job */
	assert_int_equal(busy, 0);
	/* four blocking jobs run at once: each started a thread */
	for (int i = 0; i < 4; i++) {
		jobs[i] = (gate_job){ &g, i };
		assert_ok(ecr__offload_run(o, blocking_job, &jobs[i]));
	}
	assert_int_equal(wait_running(&g, 4), 0);
	/* two more wait: the pool is at its maximum */
	for (int i = 4; i < 6; i++) {
		jobs[i] = (gate_job){ &g, i };
		assert_ok(ecr__offload_run(o, blocking_job, &jobs[i]));
	}
	usleep(20000);
	ecr__offload_stats(o, &threads, &busy);
	assert_int_equal(threads, 4);
	assert_int_equal(busy, 6);
	pthread_mutex_lock(&g.lock);
	assert_int_equal(g.running, 4);
	pthread_mutex_unlock(&g.lock);
	gate_open(&g);
	ecr__offload_drain(o);
	assert_int_equal(atomic_load(&g.done), 6);
	assert_int_equal(g.most_running, 4);
	ecr__offload_stats(o, &threads, &busy);
	assert_int_equal(busy, 0);
	/* idle threads take new jobs: no new thread for one job */
	gate_job again = { &g, 6 };
	assert_ok(ecr__offload_run(o, blocking_job, &again));
	ecr__offload_drain(o);
	ecr__offload_stats(o, &threads, &busy);
	assert_int_equal(threads, 4);
	assert_int_equal(atomic_load(&g.done), 7);
	ecr__offload_free(o);
	gate_dispose(&g);
}

static void test_server_offload__order_on_one_thread(void **state)
{
	(void)state;
	ecr__offload *o;
	gate g;
	gate_job jobs[20];
	size_t threads, busy;
	gate_init(&g);
	assert_ok(ecr__offload_new(&o, 1));
	for (int i = 0; i < 20; i++) {
		jobs[i] = (gate_job){ &g, i };
		assert_ok(ecr__offload_run(o, blocking_job, &jobs[i]));
	}
	gate_open(&g);
	ecr__offload_drain(o);
	ecr__offload_stats(o, &threads, &busy);
	assert_int_equal(threads, 1);
	assert_int_equal(g.most_running, 1);
	assert_int_equal(atomic_load(&g.norder), 20);
	for (int i = 0; i < 20; i++)
		assert_int_equal(g.order[i], i);
	ecr__offload_free(o);
	gate_dispose(&g);
}

/* Freeing a pool whose jobs are still queued and running runs them all first. */
static void *open_later(void *arg)
{
	usleep(30000);
	gate_open(arg);
	return NULL;
}

static void test_server_offload__free_runs_what_is_queued(void **state)
{
	(void)state;
	ecr__offload *o;
	gate g;
	gate_job jobs[10];
	gate_init(&g);
	assert_ok(ecr__offload_new(&o, 2));
	for (int i = 0; i < 10; i++) {
		jobs[i] = (gate_job){ &g, i };
		assert_ok(ecr__offload_run(o, blocking_job, &jobs[i]));
	}
	/* a thread outside the pool opens the gate a little later */
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, open_later, &g), 0);
	ecr__offload_free(o);
	assert_int_equal(atomic_load(&g.done), 10);
	pthread_join(t, NULL);
	gate_dispose(&g);
	ecr__offload_free(NULL);
}

/* Many submitters at once: every job runs exactly once. */
static atomic_int counted;

static void count_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&counted, 1);
}

static void *submitter(void *arg)
{
	ecr__offload *o = arg;
	for (int i = 0; i < 2000; i++)
		if (ecr__offload_run(o, count_job, NULL) != 0)
			count_job(NULL); /* as the server does: run it here */
	return NULL;
}

static void test_server_offload__concurrent_submitters(void **state)
{
	(void)state;
	ecr__offload *o;
	pthread_t t[8];
	size_t threads, busy;
	atomic_store(&counted, 0);
	assert_ok(ecr__offload_new(&o, 3));
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, submitter, o), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	ecr__offload_drain(o);
	assert_int_equal(atomic_load(&counted), 16000);
	ecr__offload_stats(o, &threads, &busy);
	assert_in_range(threads, 1, 3);
	assert_int_equal(busy, 0);
	ecr__offload_free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_offload__threads_on_demand),
		cmocka_unit_test(test_server_offload__order_on_one_thread),
		cmocka_unit_test(test_server_offload__free_runs_what_is_queued),
		cmocka_unit_test(test_server_offload__concurrent_submitters),
	};
	return cmocka_run_group_tests_name("server/offload", tests, NULL, NULL);
}
