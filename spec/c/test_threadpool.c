/*
** test_threadpool.c: green_threadpool_t, C functions on worker threads
** while the submitting greenlets wait and the others keep running.
*/

#include <stdatomic.h>
#include <time.h>

#include "check.h"
#include "green.h"

typedef struct {
  green_work_t work;            /* first: the tests cast back to it */
  long input, output;
  int runs, abandoned;
  int sleep_rc;                 /* what green_sleep said on the worker */
  double busy;                  /* seconds the task takes, in 1 ms naps */
  atomic_int *gate;             /* if set: wait until it is non-zero */
} task_t;

static green_hub_t *hub;
static green_threadpool_t *pool;

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void compute(green_work_t *work) {
  task_t *t = (task_t *)work;
  struct timespec pause = {0, 100000}, nap = {0, 1000000};
  double until = seconds_now() + t->busy;
  while (t->gate != NULL && atomic_load(t->gate) == 0) nanosleep(&pause, NULL);
  /* Naps rather than spinning: under valgrind, which runs one thread at a
     time, a spinning worker would starve the hub's thread. */
  while (seconds_now() < until) nanosleep(&nap, NULL);
  t->sleep_rc = green_sleep(0.001);
  t->output = t->input * t->input;
  t->runs++;
}

static void note_abandoned(green_work_t *work) {
  ((task_t *)work)->abandoned++;
}

static void task_init(task_t *t, long input) {
  memset(t, 0, sizeof *t);
  t->work.fn = compute;
  t->input = input;
}

#define CALLERS 100
#define TASKS_EACH 10

static task_t tasks[CALLERS][TASKS_EACH];
static int rcs[CALLERS];

static void *submit_many(void *arg) {
  intptr_t c = (intptr_t)arg;
  int i;
  for (i = 0; i < TASKS_EACH; i++) {
    task_init(&tasks[c][i], c * 1000 + i);
    rcs[c] |= green_threadpool_run(pool, &tasks[c][i].work, GREEN_FOREVER);
  }
  return NULL;
}

static void test_many_greenlets_get_their_own_answers(void) {
  intptr_t c;
  int i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_threadpool_new(4, &pool), ==, 0);
  CHECK_INT(green_threadpool_threads(pool), ==, 4);
  for (c = 0; c < CALLERS; c++)
    CHECK_INT(green_spawn(submit_many, (void *)c, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  for (c = 0; c < CALLERS; c++) {
    CHECK_INT(rcs[c], ==, 0);
    for (i = 0; i < TASKS_EACH; i++) {
      CHECK_INT(tasks[c][i].runs, ==, 1);
      CHECK_INT(tasks[c][i].output, ==, (c * 1000 + i) * (c * 1000 + i));
      /* A worker has no hub: green's blocking calls refuse. */
      CHECK_INT(tasks[c][i].sleep_rc, ==, GREEN_ESRCH);
    }
  }
  CHECK_INT(green_threadpool_free(pool), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static int ticks;

static void *tick(void *arg) {
  (void)arg;
  for (;;) {
    if (green_sleep(0.01) != 0) return NULL;
    ticks++;
  }
}

static void *run_task(void *arg) {
  rcs[0] = green_threadpool_run(pool, arg, GREEN_FOREVER);
  return NULL;
}

static void test_the_loop_keeps_serving(void) {
  task_t busy[2];
  green_t *ticker, *callers[2];
  int i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_threadpool_new(2, &pool), ==, 0);
  CHECK_INT(green_spawn(tick, NULL, NULL, &ticker), ==, 0);
  for (i = 0; i < 2; i++) {
    task_init(&busy[i], i);
    busy[i].busy = 0.5;
    CHECK_INT(green_spawn(run_task, &busy[i], NULL, &callers[i]), ==, 0);
  }
  for (i = 0; i < 2; i++) CHECK_INT(green_join(callers[i], GREEN_FOREVER), ==, 0);
  /* 0.5 s of 10 ms sleeps: 50 if the loop never stalled; a stalled loop
     would manage one or two. */
  CHECK_INT(ticks, >=, 10);
  CHECK_INT(busy[0].runs + busy[1].runs, ==, 2);
  green_kill(ticker);
  for (i = 0; i < 2; i++) green_release(callers[i]);
  green_release(ticker);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_threadpool_free(pool), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void *run_task_briefly(void *arg) {
  rcs[1] = green_threadpool_run(pool, arg, 0.01);
  return NULL;
}

static void test_callers_that_give_up(void) {
  atomic_int gate = 0;
  task_t blocker, late, detached, waited;
  green_t *caller;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_threadpool_new(1, &pool), ==, 0);
  task_init(&blocker, 1);
  blocker.gate = &gate;
  task_init(&late, 2);
  CHECK_INT(green_spawn(run_task, &blocker, NULL, &caller), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  /* The only worker is held: a task queued behind it times out, is
     withdrawn, and the queue is empty again. */
  CHECK_INT(green_threadpool_run(pool, &late.work, 0.01), ==, GREEN_ETIMEDOUT);
  /* With abandon set, a withdrawn task goes to abandon at once. */
  late.work.abandon = note_abandoned;
  CHECK_INT(green_threadpool_run(pool, &late.work, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(late.abandoned, ==, 1);
  atomic_store(&gate, 1);
  CHECK_INT(green_join(caller, GREEN_FOREVER), ==, 0);
  green_release(caller);
  CHECK_INT(late.runs, ==, 0);
  CHECK_INT(blocker.runs, ==, 1);

  /* Without abandon, the caller waits past its timeout for the task. */
  task_init(&waited, 4);
  waited.busy = 0.05;
  CHECK_INT(green_spawn(run_task_briefly, &waited, NULL, &caller), ==, 0);
  CHECK_INT(green_join(caller, GREEN_FOREVER), ==, 0);
  green_release(caller);
  CHECK_INT(rcs[1], ==, 0);
  CHECK_INT(waited.runs, ==, 1);
  CHECK_INT(waited.output, ==, 16);

  /* With abandon set, a caller that gives up while its task runs leaves at
     once; the worker hands the task to abandon once it is over. */
  atomic_store(&gate, 0);
  task_init(&detached, 3);
  detached.gate = &gate;
  detached.work.abandon = note_abandoned;
  CHECK_INT(green_spawn(run_task, &detached, NULL, &caller), ==, 0);
  CHECK_INT(green_sleep(0.01), ==, 0);
  CHECK_INT(green_kill(caller), ==, 0);
  CHECK_INT(green_join(caller, GREEN_FOREVER), ==, 0);
  green_release(caller);
  CHECK_INT(rcs[0], ==, GREEN_ECANCELED);
  CHECK_INT(green_hub_run(hub), ==, 0);     /* nothing holds the hub now */
  atomic_store(&gate, 1);
  CHECK_INT(green_threadpool_free(pool), ==, 0);   /* joins the worker */
  CHECK_INT(detached.runs, ==, 1);
  CHECK_INT(detached.abandoned, ==, 1);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_free_refuses_queued_tasks(void) {
  atomic_int gate = 0;
  task_t first, second;
  green_t *callers[2];
  int i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_threadpool_new(1, &pool), ==, 0);
  CHECK_INT(green_threadpool_run(NULL, &first.work, 0), ==, GREEN_EINVAL);
  task_init(&first, 1);
  first.gate = &gate;
  task_init(&second, 2);
  CHECK_INT(green_spawn(run_task, &first, NULL, &callers[0]), ==, 0);
  CHECK_INT(green_spawn(run_task, &second, NULL, &callers[1]), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_threadpool_free(pool), ==, GREEN_EBUSY);
  atomic_store(&gate, 1);
  for (i = 0; i < 2; i++) {
    CHECK_INT(green_join(callers[i], GREEN_FOREVER), ==, 0);
    green_release(callers[i]);
  }
  CHECK_INT(first.runs + second.runs, ==, 2);
  CHECK_INT(green_threadpool_free(pool), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static const check_test_t tests[] = {
  CHECK_TEST_NATIVE(test_many_greenlets_get_their_own_answers),
  CHECK_TEST_NATIVE(test_the_loop_keeps_serving),
  CHECK_TEST_NATIVE(test_callers_that_give_up),
  CHECK_TEST_NATIVE(test_free_refuses_queued_tasks),
};

CHECK_MAIN(tests)
