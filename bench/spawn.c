/*
** spawn.c: nanoseconds to spawn, run and finish an empty greenlet, against
** creating and joining an empty pthread (baseline) in the same run: in
** batches run by the hub, and one at a time, each joined by its spawner.
*/

#include <pthread.h>

#include "bench.h"
#include "green.h"

#define BATCH 1000

static void *empty(void *arg) {
  return arg;
}

static void run_greenlets(long n) {
  green_hub_t *hub = green_hub_current();
  long done = 0;
  while (done < n) {
    long i;
    for (i = 0; i < BATCH && done < n; i++, done++)
      if (green_spawn(empty, NULL, NULL, NULL) != 0) abort();
    if (green_hub_run(hub) != 0) abort();
  }
}

static void run_joined_greenlets(long n) {
  long i;
  for (i = 0; i < n; i++) {
    green_t *g;
    if (green_spawn(empty, NULL, NULL, &g) != 0) abort();
    if (green_join(g, GREEN_FOREVER) != 0) abort();
    green_release(g);
  }
}

static void run_pthreads(long n) {
  long i;
  for (i = 0; i < n; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, empty, NULL) != 0) abort();
    pthread_join(t, NULL);
  }
}

int main(void) {
  green_hub_t *hub;
  double green_ns, joined_ns, thread_ns;
  if (green_hub_new(NULL, &hub) != 0) abort();
  green_ns = bench_median_ns(run_greenlets, 2000000);
  joined_ns = bench_median_ns(run_joined_greenlets, 2000000);
  thread_ns = bench_median_ns(run_pthreads, 20000);
  printf("spawn        greenlet %8.1f ns   pthread %8.1f ns   "
         "greenlet is %.0fx cheaper   (target < 1000 ns)\n",
         green_ns, thread_ns, thread_ns / green_ns);
  printf("spawn+join   greenlet %8.1f ns one at a time   pthread %8.1f ns   "
         "greenlet is %.0fx cheaper\n",
         joined_ns, thread_ns, thread_ns / joined_ns);
  green_hub_free(hub);
  return 0;
}
