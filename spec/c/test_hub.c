/*
** test_hub.c: hub life, host integration, slices, switch interval, posts
** from other threads, one hub per thread.
*/

#include <math.h>
#include <pthread.h>
#include <time.h>

#include <ev.h>

#include "check.h"
#include "green.h"

static green_hub_t *hub;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *nothing(void *arg) {
  return arg;
}

static void test_one_hub_per_thread(void) {
  green_hub_t *other = NULL;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK(green_hub_current() == hub);
  CHECK(green_hub_main(hub) == green_current());  /* the thread's own stack */
  CHECK(green_hub_main(NULL) == NULL);
  CHECK_INT(green_hub_new(NULL, &other), ==, GREEN_EEXIST);
  CHECK(other == NULL);
  CHECK_INT(green_hub_free(hub), ==, 0);
  CHECK(green_hub_current() == NULL);
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);   /* a new one is fine */
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_bad_options(void) {
  green_hub_options_t opts;
  memset(&opts, 0, sizeof opts);
  opts.switch_interval = -1;
  CHECK_INT(green_hub_new(&opts, &hub), ==, GREEN_EINVAL);
  opts.switch_interval = (double)NAN;
  CHECK_INT(green_hub_new(&opts, &hub), ==, GREEN_EINVAL);
  opts.switch_interval = 0;
  opts.stack_size = 100;
  CHECK_INT(green_hub_new(&opts, &hub), ==, GREEN_EINVAL);
  CHECK_INT(green_hub_new(NULL, NULL), ==, GREEN_EINVAL);
  CHECK(green_hub_current() == NULL);
}

static void *sleep_a_bit(void *arg) {
  CHECK_INT(green_sleep(0.01), ==, 0);
  return arg;
}

static void *run_from_greenlet(void *arg) {
  CHECK_INT(green_hub_run(hub), ==, GREEN_EPERM);
  CHECK_INT(green_hub_run_slice(hub, 0), ==, GREEN_EPERM);
  CHECK_INT(green_hub_free(hub), ==, GREEN_EPERM);
  return arg;
}

static void test_free_refuses_while_alive(void) {
  green_t *g;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_spawn(sleep_a_bit, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, GREEN_EBUSY);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, GREEN_EBUSY);  /* g still referenced */
  green_release(g);
  CHECK_INT(green_spawn(run_from_greenlet, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
  CHECK_INT(green_hub_free(NULL), ==, GREEN_EINVAL);
}

static volatile int stop_spinning;
static long spins;

static void *spin_yielding(void *arg) {
  while (!stop_spinning) {
    CHECK_INT(green_yield(), ==, 0);
    spins++;
  }
  return arg;
}

static void *stop_later(void *arg) {
  CHECK_INT(green_sleep(0.02), ==, 0);
  stop_spinning = 1;
  return arg;
}

/* A greenlet that yields in a loop must not starve a timer: the hub polls
   at least once per switch interval. Without that this test hangs until
   the alarm ends it. */
static void test_yield_loop_does_not_starve_timers(void) {
  green_hub_stats_t stats;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_spawn(spin_yielding, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_spawn(stop_later, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK(stop_spinning);
  CHECK(spins > 0);
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK(stats.polls >= 2);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_switch_interval(void) {
  green_hub_options_t opts;
  memset(&opts, 0, sizeof opts);
  opts.switch_interval = 0.25;
  CHECK_INT(green_hub_new(&opts, &hub), ==, 0);
  CHECK(fabs(green_hub_switch_interval(hub) - 0.25) < 1e-9);
  CHECK_INT(green_hub_set_switch_interval(hub, 0.001), ==, 0);
  CHECK(fabs(green_hub_switch_interval(hub) - 0.001) < 1e-9);
  CHECK_INT(green_hub_set_switch_interval(hub, 0), ==, GREEN_EINVAL);
  CHECK_INT(green_hub_set_switch_interval(hub, -1), ==, GREEN_EINVAL);
  CHECK(fabs(green_hub_switch_interval(hub) - 0.001) < 1e-9);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* A slice ends when its budget is spent even if greenlets never block,
   and never before: libev timers do not fire early. */
static void test_slice_returns_within_budget(void) {
  double start, took;
  int slices = 0, rc;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  stop_spinning = 0;
  CHECK_INT(green_spawn(spin_yielding, NULL, NULL, NULL), ==, 0);
  start = now();
  CHECK_INT(green_hub_run_slice(hub, 0.05), ==, 1);
  took = now() - start;
  CHECK(took >= 0.049);
  CHECK(took < 10);          /* generous: only "it came back" matters */
  CHECK_INT(green_hub_run_slice(hub, 0), ==, 1);
  CHECK_INT(green_hub_run_slice(hub, -1), ==, GREEN_EINVAL);
  stop_spinning = 1;
  do {
    rc = green_hub_run_slice(hub, 0.01);
    slices++;
  } while (rc == 1 && slices < 1000);
  CHECK_INT(rc, ==, 0);      /* the greenlet ended: nothing is left */
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_slice_on_empty_hub(void) {
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_hub_run_slice(hub, 1.0), ==, 0);   /* returns at once */
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static int host_fired;
static void host_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  host_fired++;
  /* Spawning from a libev callback is allowed. */
  CHECK_INT(green_spawn(sleep_a_bit, NULL, NULL, NULL), ==, 0);
  (void)w;
}

static void test_host_owned_loop(void) {
  green_hub_options_t opts;
  struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
  ev_timer t;
  memset(&opts, 0, sizeof opts);
  opts.loop = loop;
  CHECK_INT(green_hub_new(&opts, &hub), ==, 0);
  CHECK(green_hub_loop(hub) == loop);
  ev_timer_init(&t, host_cb, 0.005, 0);
  ev_timer_start(loop, &t);
  CHECK_INT(green_spawn(sleep_a_bit, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(host_fired, ==, 1);
  CHECK_INT(green_hub_free(hub), ==, 0);
  /* The loop is still the host's, and still works. */
  ev_timer_init(&t, host_cb, 0.001, 0);
  ev_timer_start(loop, &t);
  CHECK_INT(green_hub_new(&opts, &hub), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(host_fired, ==, 2);
  CHECK_INT(green_hub_free(hub), ==, 0);
  ev_loop_destroy(loop);
}

#define POSTS 2000
typedef struct {
  green_call_t call;
  int thread, seq;
} post_t;

static post_t posts[2][POSTS];
static int received[2], total_received, out_of_order;

static void on_post(green_call_t *call) {
  post_t *p = (post_t *)call;
  if (p->seq != received[p->thread]) out_of_order++;
  received[p->thread]++;
  if (++total_received == 2 * POSTS) green_hub_unref(hub);
}

static void *post_from_thread(void *arg) {
  int t = (int)(intptr_t)arg, i;
  for (i = 0; i < POSTS; i++) {
    posts[t][i].call.fn = on_post;
    posts[t][i].thread = t;
    posts[t][i].seq = i;
    if (green_hub_post(hub, &posts[t][i].call) != 0) abort();
  }
  return NULL;
}

static void test_post_from_threads(void) {
  pthread_t threads[2];
  int t;
  green_call_t bad = {NULL, NULL};
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_hub_post(hub, &bad), ==, GREEN_EINVAL);
  CHECK_INT(green_hub_post(NULL, &bad), ==, GREEN_EINVAL);
  green_hub_ref(hub);       /* the posts are work the hub waits for */
  for (t = 0; t < 2; t++)
    CHECK_INT(pthread_create(&threads[t], NULL, post_from_thread,
                             (void *)(intptr_t)t), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  for (t = 0; t < 2; t++) pthread_join(threads[t], NULL);
  CHECK_INT(total_received, ==, 2 * POSTS);
  CHECK_INT(out_of_order, ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static green_t *foreign;
static pthread_barrier_t barrier;

static void *other_hub_thread(void *arg) {
  green_hub_t *mine;
  (void)arg;
  if (green_hub_new(NULL, &mine) != 0) abort();
  if (green_spawn(nothing, NULL, NULL, &foreign) != 0) abort();
  pthread_barrier_wait(&barrier);    /* main thread tries its greenlet */
  pthread_barrier_wait(&barrier);
  if (green_hub_run(mine) != 0) abort();
  green_release(foreign);
  if (green_hub_free(mine) != 0) abort();
  return NULL;
}

static void test_greenlet_of_another_hub(void) {
  pthread_t thread;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  pthread_barrier_init(&barrier, NULL, 2);
  CHECK_INT(pthread_create(&thread, NULL, other_hub_thread, NULL), ==, 0);
  pthread_barrier_wait(&barrier);
  CHECK_INT(green_join(foreign, 1), ==, GREEN_EXDEV);
  CHECK_INT(green_kill(foreign), ==, GREEN_EXDEV);
  CHECK_INT(green_state(foreign), ==, GREEN_NEW);
  CHECK_INT(green_hub_run(hub), ==, 0);
  pthread_barrier_wait(&barrier);
  pthread_join(thread, NULL);
  pthread_barrier_destroy(&barrier);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* More greenlets than a hub takes ids for at a time (greenlet.c). */
#define IDS_PER_HUB 3000
static uint64_t ids[2 * IDS_PER_HUB];   /* hub 0's, then hub 1's */

static void *spawn_for_ids(void *arg) {
  uint64_t *out = arg;
  green_hub_t *mine;
  green_t *g;
  int i;
  if (green_hub_new(NULL, &mine) != 0) abort();
  for (i = 0; i < IDS_PER_HUB; i++) {
    if (green_spawn(nothing, NULL, NULL, &g) != 0) abort();
    out[i] = green_id(g);
    green_release(g);
    if (i % 100 == 99 && green_hub_run(mine) != 0) abort();
  }
  if (green_hub_run(mine) != 0 || green_hub_free(mine) != 0) abort();
  return NULL;
}

static int compare_ids(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static void test_ids_unique_across_hubs(void) {
  pthread_t threads[2];
  int t, i, rising = 1, repeated = 0;
  for (t = 0; t < 2; t++)
    CHECK_INT(pthread_create(&threads[t], NULL, spawn_for_ids,
                            ids + t * IDS_PER_HUB), ==, 0);
  for (t = 0; t < 2; t++) pthread_join(threads[t], NULL);
  for (t = 0; t < 2; t++) {
    const uint64_t *given = ids + t * IDS_PER_HUB;
    for (i = 1; i < IDS_PER_HUB; i++)
      if (given[i] <= given[i - 1]) rising = 0;
  }
  CHECK(rising);
  qsort(ids, 2 * IDS_PER_HUB, sizeof ids[0], compare_ids);
  for (i = 1; i < 2 * IDS_PER_HUB; i++)
    if (ids[i] == ids[i - 1]) repeated++;
  CHECK_INT(repeated, ==, 0);
  CHECK(ids[0] != 0);
}

static int count_named(green_t *g, void *arg) {
  if (green_name(g) != NULL && strcmp(green_name(g), "stop") == 0) return 7;
  (*(int *)arg)++;
  return 0;
}

static void test_foreach_visits_the_living(void) {
  green_spawn_options_t stop = {"stop", 0};
  green_t *dead;
  int seen = 0;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_spawn(nothing, NULL, NULL, &dead), ==, 0);
  CHECK_INT(green_join(dead, GREEN_FOREVER), ==, 0);
  CHECK_INT(green_spawn(nothing, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_spawn(nothing, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_foreach(hub, count_named, &seen), ==, 0);
  CHECK_INT(seen, ==, 2);                       /* not the dead one */
  CHECK_INT(green_spawn(nothing, NULL, &stop, NULL), ==, 0);
  CHECK_INT(green_spawn(nothing, NULL, NULL, NULL), ==, 0);
  seen = 0;
  CHECK_INT(green_hub_foreach(hub, count_named, &seen), ==, 7);
  CHECK_INT(seen, ==, 2);                       /* stopped at "stop" */
  CHECK_INT(green_hub_foreach(hub, NULL, NULL), ==, GREEN_EINVAL);
  green_release(dead);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_stats_count(void) {
  green_hub_stats_t stats;
  int i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  for (i = 0; i < 5; i++) CHECK_INT(green_spawn(nothing, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(stats.alive, ==, 5);
  CHECK_INT(stats.ready, ==, 5);
  CHECK_INT(stats.spawned, ==, 5);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(stats.alive, ==, 0);
  CHECK_INT(stats.ready, ==, 0);
  CHECK(stats.switches >= 6);     /* into each greenlet, back to main */
  CHECK_INT(green_hub_stats(hub, NULL), ==, GREEN_EINVAL);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_one_hub_per_thread),
  CHECK_TEST(test_bad_options),
  CHECK_TEST(test_free_refuses_while_alive),
  CHECK_TEST(test_yield_loop_does_not_starve_timers),
  CHECK_TEST(test_switch_interval),
  CHECK_TEST(test_slice_returns_within_budget),
  CHECK_TEST(test_slice_on_empty_hub),
  CHECK_TEST(test_host_owned_loop),
  CHECK_TEST_NATIVE(test_post_from_threads),
  CHECK_TEST_NATIVE(test_greenlet_of_another_hub),
  CHECK_TEST_NATIVE(test_ids_unique_across_hubs),
  CHECK_TEST(test_foreach_visits_the_living),
  CHECK_TEST(test_stats_count),
};

CHECK_MAIN(tests)
