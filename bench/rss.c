/*
** rss.c: resident memory per idle greenlet, with 100,000 greenlets blocked
** on timers, against the resident memory per idle pthread blocked on a
** condition variable (baseline, 1,000 of them) in the same run.
*/

#include <pthread.h>
#include <unistd.h>

#include "bench.h"
#include "green.h"

#define GREENLETS 100000
#define THREADS   1000

static long rss_bytes(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2) abort();
  fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

static void *idle_greenlet(void *arg) {
  green_sleep(3600);               /* killed long before */
  return arg;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int release, parked;

static void *idle_thread(void *arg) {
  pthread_mutex_lock(&lock);
  parked++;
  pthread_cond_broadcast(&wake);
  while (!release) pthread_cond_wait(&wake, &lock);
  pthread_mutex_unlock(&lock);
  return arg;
}

static double per_greenlet(void) {
  static green_t *all[GREENLETS];
  green_hub_t *hub;
  long before, after;
  int i;
  if (green_hub_new(NULL, &hub) != 0) abort();
  before = rss_bytes();
  for (i = 0; i < GREENLETS; i++)
    if (green_spawn(idle_greenlet, NULL, NULL, &all[i]) != 0) abort();
  green_yield();                   /* all of them start and block */
  after = rss_bytes();
  for (i = 0; i < GREENLETS; i++) {
    green_kill(all[i]);
    green_release(all[i]);
  }
  green_hub_run(hub);
  green_hub_free(hub);
  return (double)(after - before) / GREENLETS;
}

static double per_thread(void) {
  static pthread_t threads[THREADS];
  long before = rss_bytes(), after;
  int i;
  for (i = 0; i < THREADS; i++)
    if (pthread_create(&threads[i], NULL, idle_thread, NULL) != 0) abort();
  pthread_mutex_lock(&lock);
  while (parked < THREADS) pthread_cond_wait(&wake, &lock);
  pthread_mutex_unlock(&lock);
  after = rss_bytes();
  pthread_mutex_lock(&lock);
  release = 1;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&lock);
  for (i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  return (double)(after - before) / THREADS;
}

int main(void) {
  double g = per_greenlet(), t = per_thread();
  printf("rss          idle greenlet %6.2f KiB   idle pthread %6.2f KiB   "
         "(target < 6 KiB)\n", g / 1024, t / 1024);
  return 0;
}
