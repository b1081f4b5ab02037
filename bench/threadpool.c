/*
** threadpool.c: the round trip of a trivial C task through a one-thread
** green_threadpool_t (the caller blocks, the worker runs it, the hub wakes
** the caller), against the same round trip between two plain pthreads
** handing a task over with a mutex and condition variables (baseline), in
** the same run.
*/

#include <pthread.h>

#include "bench.h"
#include "green.h"

static green_threadpool_t *pool;

static void increment(green_work_t *work) {
  (void)work;
}

static void run_pool(long n) {
  green_work_t work = {0};
  long i;
  work.fn = increment;
  for (i = 0; i < n; i++)
    if (green_threadpool_run(pool, &work, GREEN_FOREVER) != 0) abort();
}

/* The baseline: a server thread that answers each request. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t asked, answered;
  long requests, answers;
  int stop;
} pair = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 0, 0, 0};

static void *server(void *arg) {
  pthread_mutex_lock(&pair.lock);
  for (;;) {
    while (pair.answers == pair.requests && !pair.stop)
      pthread_cond_wait(&pair.asked, &pair.lock);
    if (pair.stop) break;
    pair.answers++;
    pthread_cond_signal(&pair.answered);
  }
  pthread_mutex_unlock(&pair.lock);
  return arg;
}

static void run_pthreads(long n) {
  long i;
  pthread_mutex_lock(&pair.lock);
  for (i = 0; i < n; i++) {
    pair.requests++;
    pthread_cond_signal(&pair.asked);
    while (pair.answers != pair.requests)
      pthread_cond_wait(&pair.answered, &pair.lock);
  }
  pthread_mutex_unlock(&pair.lock);
}

int main(void) {
  green_hub_t *hub;
  pthread_t thread;
  double pool_ns, thread_ns;
  if (green_hub_new(NULL, &hub) != 0) abort();
  if (green_threadpool_new(1, &pool) != 0) abort();
  if (pthread_create(&thread, NULL, server, NULL) != 0) abort();
  pool_ns = bench_median_ns(run_pool, 5000);
  thread_ns = bench_median_ns(run_pthreads, 5000);
  pthread_mutex_lock(&pair.lock);
  pair.stop = 1;
  pthread_cond_signal(&pair.asked);
  pthread_mutex_unlock(&pair.lock);
  pthread_join(thread, NULL);
  printf("threadpool  task round trip %8.0f ns   pthread mutex/condvar round trip %8.0f ns   ratio %.2fx\n",
         pool_ns, thread_ns, pool_ns / thread_ns);
  green_threadpool_free(pool);
  green_hub_free(hub);
  return 0;
}
