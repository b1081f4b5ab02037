/*
** test_deferred.c: green_deferred_t, calls run by a greenlet of the queue's
** choosing, posted by greenlets and by other OS threads.
*/

#include <pthread.h>

#include "check.h"
#include "green.h"

typedef struct {
  green_deferred_call_t call;   /* first: the tests cast back to it */
  int id;
  int thread;                   /* posting thread, or -1 */
  int runs;
  double sleep;                 /* fn sleeps this long first */
} task_t;

static green_hub_t *hub;
static green_deferred_t *deferred;
static int ran[64], nran;

static void note_run(green_deferred_call_t *call) {
  task_t *t = (task_t *)call;
  if (t->sleep > 0) green_sleep(t->sleep);
  t->runs++;
  ran[nran++] = t->id;
}

static void task_init(task_t *t, int id) {
  memset(t, 0, sizeof *t);
  t->call.fn = note_run;
  t->id = id;
  t->thread = -1;
}

static void setup(void) {
  nran = 0;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_deferred_new(&deferred), ==, 0);
}

static void teardown(void) {
  CHECK_INT(green_deferred_free(deferred), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static int rcs[8];
static task_t tasks[8];

static void *call_task(void *arg) {
  intptr_t i = (intptr_t)arg;
  rcs[i] = green_deferred_call(deferred, &tasks[i].call, GREEN_FOREVER);
  return NULL;
}

static void *call_task_briefly(void *arg) {
  intptr_t i = (intptr_t)arg;
  rcs[i] = green_deferred_call(deferred, &tasks[i].call, 0.01);
  return NULL;
}

static void test_calls_run_in_arrival_order(void) {
  intptr_t i;
  setup();
  for (i = 0; i < 6; i++) task_init(&tasks[i], (int)i);
  CHECK_INT(green_deferred_post(deferred, &tasks[0].call), ==, 0);
  CHECK_INT(green_spawn(call_task, (void *)1, NULL, NULL), ==, 0);
  CHECK_INT(green_spawn(call_task, (void *)2, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_deferred_post(deferred, &tasks[3].call), ==, 0);
  CHECK_INT(green_deferred_pending(deferred), ==, 4);
  CHECK_INT(nran, ==, 0);                 /* nothing runs until processed */
  CHECK_INT(green_deferred_process(deferred, NULL), ==, 4);
  CHECK_INT(green_deferred_pending(deferred), ==, 0);
  for (i = 0; i < 4; i++) CHECK_INT(ran[i], ==, i);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(rcs[1], ==, 0);
  CHECK_INT(rcs[2], ==, 0);
  CHECK_INT(green_deferred_process(deferred, NULL), ==, 0);
  teardown();
}

static int accept_even(const green_deferred_call_t *call, void *arg) {
  (void)arg;
  return ((const task_t *)call)->id % 2 == 0;
}

static void test_filtered_calls_keep_their_place(void) {
  green_deferred_options_t evens = {0, accept_even, NULL};
  int i;
  setup();
  for (i = 0; i < 6; i++) {
    task_init(&tasks[i], i);
    CHECK_INT(green_deferred_post(deferred, &tasks[i].call), ==, 0);
  }
  CHECK_INT(green_deferred_process(deferred, &evens), ==, 3);
  CHECK_INT(green_deferred_pending(deferred), ==, 3);
  CHECK_INT(green_deferred_process(deferred, NULL), ==, 3);
  for (i = 0; i < 6; i++) CHECK_INT(ran[i], ==, i < 3 ? 2 * i : 2 * i - 5);
  teardown();
}

static void test_given_up_calls_never_run(void) {
  green_t *killed;
  setup();
  task_init(&tasks[0], 0);
  task_init(&tasks[1], 1);
  task_init(&tasks[2], 2);
  /* Timed out while queued: withdrawn by the caller itself. */
  CHECK_INT(green_deferred_call(deferred, &tasks[0].call, 0.01), ==,
            GREEN_ETIMEDOUT);
  CHECK_INT(green_deferred_pending(deferred), ==, 0);
  /* Killed while queued, and processed before it could run again: the
     processor passes it over. */
  CHECK_INT(green_spawn(call_task, (void *)1, NULL, &killed), ==, 0);
  CHECK_INT(green_spawn(call_task, (void *)2, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(killed), ==, 0);
  CHECK_INT(green_deferred_process(deferred, NULL), ==, 1);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(rcs[1], ==, GREEN_ECANCELED);
  CHECK_INT(rcs[2], ==, 0);
  CHECK_INT(tasks[0].runs + tasks[1].runs, ==, 0);
  CHECK_INT(tasks[2].runs, ==, 1);
  green_release(killed);
  teardown();
}

static void *process_forever(void *arg) {
  green_deferred_options_t forever = {1, NULL, NULL};
  rcs[(intptr_t)arg] = green_deferred_process(deferred, &forever);
  return NULL;
}

static void *call_task_then_sleep(void *arg) {
  intptr_t i = (intptr_t)arg;
  rcs[i] = green_deferred_call(deferred, &tasks[i].call, GREEN_FOREVER);
  rcs[i + 1] = green_sleep(0.001);
  return NULL;
}

static void test_running_calls_finish_for_their_caller(void) {
  green_t *caller;
  setup();
  task_init(&tasks[0], 0);
  task_init(&tasks[1], 1);
  tasks[0].sleep = tasks[1].sleep = 0.05;
  tasks[1].call.detach = 1;
  CHECK_INT(green_spawn(process_forever, (void *)7, NULL, NULL), ==, 0);
  /* Not detached: the caller outlives its timeout until fn returns. */
  CHECK_INT(green_spawn(call_task_briefly, (void *)0, NULL, NULL), ==, 0);
  CHECK_INT(green_sleep(0.02), ==, 0);
  CHECK_INT(tasks[0].runs, ==, 0);
  CHECK_INT(green_sleep(0.1), ==, 0);
  CHECK_INT(rcs[0], ==, 0);
  CHECK_INT(tasks[0].runs, ==, 1);
  /* Detached: the caller leaves at its timeout, fn finishes alone. */
  CHECK_INT(green_spawn(call_task_briefly, (void *)1, NULL, &caller), ==, 0);
  CHECK_INT(green_join(caller, GREEN_FOREVER), ==, 0);
  CHECK_INT(rcs[1], ==, GREEN_ETIMEDOUT);
  CHECK_INT(tasks[1].runs, ==, 0);
  CHECK_INT(green_sleep(0.1), ==, 0);
  CHECK_INT(tasks[1].runs, ==, 1);
  green_release(caller);
  /* Killed while its call runs: the call still returns 0, and the kill
     interrupts the caller's next blocking call. */
  task_init(&tasks[2], 2);
  tasks[2].sleep = 0.05;
  CHECK_INT(green_spawn(call_task_then_sleep, (void *)2, NULL, &caller), ==, 0);
  CHECK_INT(green_sleep(0.02), ==, 0);
  CHECK_INT(green_kill(caller), ==, 0);
  CHECK_INT(green_join(caller, GREEN_FOREVER), ==, 0);
  CHECK_INT(tasks[2].runs, ==, 1);
  CHECK_INT(rcs[2], ==, 0);
  CHECK_INT(rcs[3], ==, GREEN_ECANCELED);
  green_deferred_stop(deferred);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(rcs[7], ==, 3);
  green_release(caller);
  teardown();
}

static void reentrant(green_deferred_call_t *call) {
  task_t *t = (task_t *)call;
  t->runs++;
  rcs[3] = green_deferred_process(deferred, NULL);
  rcs[4] = green_deferred_call(deferred, &tasks[5].call, GREEN_FOREVER);
}

static void test_misuse_is_refused(void) {
  setup();
  task_init(&tasks[0], 0);
  task_init(&tasks[5], 5);
  tasks[0].call.fn = reentrant;
  CHECK_INT(green_deferred_post(NULL, &tasks[0].call), ==, GREEN_EINVAL);
  CHECK_INT(green_deferred_call(deferred, &tasks[0].call, -2), ==,
            GREEN_EINVAL);
  CHECK_INT(green_deferred_post(deferred, &tasks[0].call), ==, 0);
  CHECK_INT(green_deferred_process(deferred, NULL), ==, 1);
  CHECK_INT(rcs[3], ==, GREEN_EBUSY);
  CHECK_INT(rcs[4], ==, GREEN_EDEADLK);
  /* With nothing that could post, waiting for calls would be forever. */
  CHECK_INT(process_forever((void *)6), ==, NULL);
  CHECK_INT(rcs[6], ==, GREEN_EDEADLK);
  CHECK_INT(green_deferred_processor(deferred) == NULL, ==, 1);
  teardown();
}

static void test_stop_ends_processing(void) {
  green_t *processor;
  setup();
  task_init(&tasks[0], 0);
  CHECK_INT(green_spawn(process_forever, (void *)0, NULL, &processor), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK(green_deferred_processor(deferred) == processor);
  CHECK_INT(green_deferred_call(deferred, &tasks[0].call, GREEN_FOREVER), ==,
            0);
  green_deferred_stop(deferred);
  CHECK_INT(green_join(processor, GREEN_FOREVER), ==, 0);
  CHECK_INT(rcs[0], ==, 1);
  /* A stop with nobody processing ends the next process at once. */
  green_deferred_stop(deferred);
  CHECK_INT(green_deferred_post(deferred, &tasks[0].call), ==, 0);
  CHECK_INT(green_deferred_process(deferred, NULL), ==, 0);
  CHECK_INT(green_deferred_process(deferred, NULL), ==, 1);
  green_release(processor);
  teardown();
}


/* ---------------------------------------------------------------- threads */

#define THREAD_CALLS 100000
#define GREENLET_CALLS 1000

typedef struct {
  pthread_t thread;
  task_t *tasks;
  int index;
  int last_seen;                /* id of its last call run, on the hub */
} poster_t;

static poster_t posters[2];
static task_t greenlet_tasks[GREENLET_CALLS];
static long total_runs, out_of_order;

static void count_run(green_deferred_call_t *call) {
  task_t *t = (task_t *)call;
  t->runs++;
  if (t->thread >= 0) {
    if (t->id != posters[t->thread].last_seen + 1) out_of_order++;
    posters[t->thread].last_seen = t->id;
  }
  if (++total_runs == 2L * THREAD_CALLS + GREENLET_CALLS)
    green_deferred_stop(deferred);
}

static void *post_from_thread(void *arg) {
  poster_t *p = arg;
  int i;
  for (i = 0; i < THREAD_CALLS; i++)
    if (green_deferred_post(deferred, &p->tasks[i].call) != 0) abort();
  return NULL;
}

static void *post_from_greenlet(void *arg) {
  intptr_t i, first = (intptr_t)arg;
  for (i = first; i < first + GREENLET_CALLS / 4; i++) {
    if (i % 2 == 0)
      green_deferred_post(deferred, &greenlet_tasks[i].call);
    else
      green_deferred_call(deferred, &greenlet_tasks[i].call, GREEN_FOREVER);
    if (i % 16 == 0) green_yield();
  }
  return NULL;
}

static void test_threads_post_while_greenlets_call(void) {
  green_deferred_options_t forever = {1, NULL, NULL};
  int t, i;
  setup();
  for (i = 0; i < GREENLET_CALLS; i++) {
    task_init(&greenlet_tasks[i], i);
    greenlet_tasks[i].call.fn = count_run;
  }
  for (t = 0; t < 2; t++) {
    posters[t].tasks = calloc(THREAD_CALLS, sizeof(task_t));
    CHECK(posters[t].tasks != NULL);
    posters[t].last_seen = -1;
    for (i = 0; i < THREAD_CALLS; i++) {
      task_init(&posters[t].tasks[i], i);
      posters[t].tasks[i].thread = t;
      posters[t].tasks[i].call.fn = count_run;
    }
  }
  for (i = 0; i < 4; i++)
    CHECK_INT(green_spawn(post_from_greenlet,
                          (void *)(intptr_t)(i * GREENLET_CALLS / 4), NULL,
                          NULL), ==, 0);
  green_hub_ref(hub);           /* the threads' posts are on their way */
  for (t = 0; t < 2; t++)
    CHECK_INT(pthread_create(&posters[t].thread, NULL, post_from_thread,
                             &posters[t]), ==, 0);
  CHECK_INT(green_deferred_process(deferred, &forever), ==,
            2 * THREAD_CALLS + GREENLET_CALLS);
  green_hub_unref(hub);
  for (t = 0; t < 2; t++) CHECK_INT(pthread_join(posters[t].thread, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(out_of_order, ==, 0);
  for (t = 0; t < 2; t++) {
    CHECK_INT(posters[t].last_seen, ==, THREAD_CALLS - 1);
    for (i = 0; i < THREAD_CALLS; i++)
      CHECK_INT(posters[t].tasks[i].runs, ==, 1);
    free(posters[t].tasks);
  }
  for (i = 0; i < GREENLET_CALLS; i++)
    CHECK_INT(greenlet_tasks[i].runs, ==, 1);
  teardown();
}

static const check_test_t tests[] = {
  CHECK_TEST(test_calls_run_in_arrival_order),
  CHECK_TEST(test_filtered_calls_keep_their_place),
  CHECK_TEST(test_given_up_calls_never_run),
  CHECK_TEST(test_running_calls_finish_for_their_caller),
  CHECK_TEST(test_misuse_is_refused),
  CHECK_TEST(test_stop_ends_processing),
  CHECK_TEST_NATIVE(test_threads_post_while_greenlets_call),
};

CHECK_MAIN(tests)
