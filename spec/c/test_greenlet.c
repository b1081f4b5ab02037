/*
** test_greenlet.c: spawning, ordering, sleeping, killing and joining.
*/

#include <math.h>

#include "check.h"
#include "green.h"

static green_hub_t *hub;

static void setup(void) {
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
}

static void teardown(void) {
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* A log of small integers, appended to by greenlets. */
static int trace[64], traced;
static void note(int v) {
  CHECK(traced < 64);
  trace[traced++] = v;
}

static void *note_arg(void *arg) {
  note((int)(intptr_t)arg);
  return arg;
}

static void test_spawn_runs_and_returns_result(void) {
  green_t *g;
  void *result = NULL;
  setup();
  CHECK_INT(green_spawn(note_arg, (void *)(intptr_t)7, NULL, &g), ==, 0);
  CHECK_INT(green_state(g), ==, GREEN_NEW);
  CHECK_INT(green_result(g, &result), ==, GREEN_EAGAIN);
  CHECK_INT(traced, ==, 0);                 /* runs only once we block */
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  CHECK_INT(green_state(g), ==, GREEN_DEAD);
  CHECK_INT(green_result(g, &result), ==, 0);
  CHECK(result == (void *)(intptr_t)7);
  CHECK_INT(traced, ==, 1);
  green_release(g);
  teardown();
}

static void test_fifo_order(void) {
  int i;
  setup();
  for (i = 0; i < 10; i++)
    CHECK_INT(green_spawn(note_arg, (void *)(intptr_t)i, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 10);
  for (i = 0; i < 10; i++) CHECK_INT(trace[i], ==, i);
  teardown();
}

static void *spawn_child(void *arg) {
  note(1);
  CHECK_INT(green_spawn(note_arg, (void *)(intptr_t)3, NULL, NULL), ==, 0);
  note(2);                       /* the child waits until we block */
  CHECK_INT(green_yield(), ==, 0);
  note(4);
  return arg;
}

static void test_spawn_from_greenlet(void) {
  setup();
  CHECK_INT(green_spawn(spawn_child, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 4);
  CHECK(trace[0] == 1 && trace[1] == 2 && trace[2] == 3 && trace[3] == 4);
  teardown();
}

static void *yield_n(void *arg) {
  int i;
  for (i = 0; i < 3; i++) {
    note((int)(intptr_t)arg);
    CHECK_INT(green_yield(), ==, 0);
  }
  return NULL;
}

static void test_yield_round_robin(void) {
  setup();
  CHECK_INT(green_spawn(yield_n, (void *)1, NULL, NULL), ==, 0);
  CHECK_INT(green_spawn(yield_n, (void *)2, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 6);
  CHECK(trace[0] == 1 && trace[1] == 2 && trace[2] == 1 && trace[3] == 2);
  teardown();
}

static void *sleep_then_note(void *arg) {
  CHECK_INT(green_sleep((double)(intptr_t)arg / 1000.0), ==, 0);
  note((int)(intptr_t)arg);
  return NULL;
}

static void test_sleep_orders_by_deadline(void) {
  setup();
  /* 100 ms apart: far more than starting three greenlets takes, even
     under valgrind. */
  CHECK_INT(green_spawn(sleep_then_note, (void *)300, NULL, NULL), ==, 0);
  CHECK_INT(green_spawn(sleep_then_note, (void *)100, NULL, NULL), ==, 0);
  CHECK_INT(green_spawn(sleep_then_note, (void *)200, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 3);
  CHECK(trace[0] == 100 && trace[1] == 200 && trace[2] == 300);
  teardown();
}

static void *yield_three_times(void *arg) {
  int i;
  for (i = 0; i < 3; i++) {
    note(1);
    CHECK_INT(green_yield(), ==, 0);
  }
  return arg;
}

/* idle returns only once nothing else is ready. */
static void test_idle_waits_for_the_others(void) {
  setup();
  CHECK_INT(green_spawn(yield_three_times, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_idle(), ==, 0);
  note(2);
  CHECK_INT(traced, ==, 4);
  CHECK_INT(trace[3], ==, 2);
  teardown();
}

static void test_main_greenlet_sleeps(void) {
  setup();
  CHECK_INT(green_spawn(note_arg, (void *)5, NULL, NULL), ==, 0);
  CHECK_INT(green_sleep(0.001), ==, 0);       /* others run meanwhile */
  CHECK_INT(traced, ==, 1);
  CHECK(green_current() != NULL);
  teardown();
}

static void test_spawn_later(void) {
  green_t *late, *soon;
  setup();
  CHECK_INT(green_spawn_later(0.02, note_arg, (void *)2, NULL, &late), ==, 0);
  CHECK_INT(green_spawn_later(0.001, note_arg, (void *)1, NULL, &soon), ==, 0);
  CHECK_INT(green_join(late, GREEN_FOREVER), ==, 0);
  CHECK_INT(traced, ==, 2);
  CHECK(trace[0] == 1 && trace[1] == 2);
  green_release(late);
  green_release(soon);
  CHECK_INT(green_spawn_later(-1, note_arg, NULL, NULL, NULL), ==, GREEN_EINVAL);
  teardown();
}

static void *sleep_long(void *arg) {
  int rc = green_sleep(100);
  note(rc);
  return arg;
}

static void test_kill_sleeping(void) {
  green_t *g;
  setup();
  CHECK_INT(green_spawn(sleep_long, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_state(g), ==, GREEN_BLOCKED);
  CHECK_INT(green_kill(g), ==, 0);
  CHECK_INT(green_state(g), ==, GREEN_READY);
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  CHECK_INT(traced, ==, 1);
  CHECK_INT(trace[0], ==, GREEN_ECANCELED);
  CHECK_INT(green_result(g, NULL), ==, 0);     /* it returned by itself */
  CHECK_INT(green_kill(g), ==, 0);             /* dead: nothing happens */
  green_release(g);
  teardown();
}

static void test_kill_before_start_never_runs(void) {
  green_t *g, *later;
  setup();
  CHECK_INT(green_spawn(note_arg, (void *)1, NULL, &g), ==, 0);
  CHECK_INT(green_spawn_later(0.001, note_arg, (void *)2, NULL, &later), ==, 0);
  CHECK_INT(green_kill(g), ==, 0);
  CHECK_INT(green_kill(later), ==, 0);
  CHECK_INT(green_state(g), ==, GREEN_DEAD);
  CHECK_INT(green_result(g, NULL), ==, GREEN_ECANCELED);
  CHECK_INT(green_result(later, NULL), ==, GREEN_ECANCELED);
  CHECK_INT(green_join(g, 0), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 0);
  green_release(g);
  green_release(later);
  teardown();
}

static void *kill_self(void *arg) {
  CHECK_INT(green_kill(green_current()), ==, 0);
  note(1);                                     /* kill is not immediate */
  note(green_sleep(1));                        /* delivered here */
  note(green_yield());                         /* and only once */
  return arg;
}

static void test_kill_current(void) {
  setup();
  CHECK_INT(green_spawn(kill_self, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 3);
  CHECK_INT(trace[1], ==, GREEN_ECANCELED);
  CHECK_INT(trace[2], ==, 0);
  teardown();
}

static void *yield_and_note(void *arg) {
  note(green_yield());
  return arg;
}

static void *kill_self_then_withdraw(void *arg) {
  CHECK_INT(green_kill(green_current()), ==, 0);
  CHECK_INT(green_cancel_kill(green_current()), ==, 1);
  CHECK_INT(green_cancel_kill(green_current()), ==, 0);
  note(green_sleep(0.001));                    /* sleeps: nothing pending */
  return arg;
}

static void test_cancel_kill(void) {
  setup();
  CHECK_INT(green_spawn(kill_self_then_withdraw, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 1);
  CHECK_INT(trace[0], ==, 0);
  CHECK_INT(green_cancel_kill(NULL), ==, GREEN_EINVAL);
  teardown();
}

static void test_kill_ready_greenlet_at_next_block(void) {
  green_t *g;
  setup();
  CHECK_INT(green_spawn(yield_and_note, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_yield(), ==, 0);             /* g runs, yields, is ready */
  CHECK_INT(green_state(g), ==, GREEN_READY);
  CHECK_INT(green_kill(g), ==, 0);
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  CHECK_INT(trace[0], ==, GREEN_ECANCELED);
  green_release(g);
  teardown();
}

static void test_join_timeout(void) {
  green_t *g;
  setup();
  CHECK_INT(green_spawn(sleep_long, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_join(g, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_join(g, 0), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_state(g), ==, GREEN_BLOCKED);
  CHECK_INT(green_join(g, -2), ==, GREEN_EINVAL);
  CHECK_INT(green_join(g, (double)NAN), ==, GREEN_EINVAL);
  CHECK_INT(green_kill(g), ==, 0);
  CHECK_INT(green_join(g, 1), ==, 0);
  green_release(g);
  teardown();
}

static void test_join_finished_and_self(void) {
  green_t *g;
  setup();
  CHECK_INT(green_spawn(note_arg, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_join(g, 0), ==, 0);
  CHECK_INT(green_join(green_current(), 1), ==, GREEN_EDEADLK);
  green_release(g);
  teardown();
}

static green_t *joiner_target;
static void *join_target(void *arg) {
  note(green_join(joiner_target, GREEN_FOREVER));
  return arg;
}

static void test_kill_joiner(void) {
  green_t *sleeper, *joiner;
  setup();
  CHECK_INT(green_spawn(sleep_long, NULL, NULL, &sleeper), ==, 0);
  joiner_target = sleeper;
  CHECK_INT(green_spawn(join_target, NULL, NULL, &joiner), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(joiner), ==, 0);
  CHECK_INT(green_join(joiner, 1), ==, 0);
  CHECK_INT(trace[0], ==, GREEN_ECANCELED);
  CHECK_INT(green_state(sleeper), ==, GREEN_BLOCKED);
  CHECK_INT(green_kill(sleeper), ==, 0);
  green_release(sleeper);
  green_release(joiner);
  teardown();
}

static void *block_forever(void *arg) {
  note(green_sleep((double)INFINITY));
  return arg;
}

static void test_would_block_forever(void) {
  green_t *g;
  setup();
  CHECK_INT(green_spawn(block_forever, NULL, NULL, &g), ==, 0);
  /* Nothing can wake g: the main greenlet waits, so it hears first, and
     g waits on. */
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, GREEN_EDEADLK);
  CHECK_INT(traced, ==, 0);
  /* Once main only runs the hub, g hears, and returns. */
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 1);
  CHECK_INT(trace[0], ==, GREEN_EDEADLK);
  green_release(g);
  teardown();
}

static void *join_arg(void *arg) {
  note(green_join(arg, GREEN_FOREVER));
  return NULL;
}

/* A joins B, B waits for nothing: B hears of it first (A could do nothing
   about it), returns, and A's join then succeeds. */
static void test_deadlock_is_told_to_one_at_a_time(void) {
  green_t *a, *b;
  setup();
  CHECK_INT(green_spawn(block_forever, NULL, NULL, &b), ==, 0);
  CHECK_INT(green_spawn(join_arg, b, NULL, &a), ==, 0);
  CHECK_INT(green_spawn(block_forever, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(traced, ==, 3);
  CHECK_INT(trace[0], ==, GREEN_EDEADLK);   /* b, the longest waiting */
  CHECK_INT(trace[1], ==, 0);               /* a: b returned */
  CHECK_INT(trace[2], ==, GREEN_EDEADLK);   /* the third, told next */
  green_release(a);
  green_release(b);
  teardown();
}

static void test_deadlock_under_run(void) {
  setup();
  CHECK_INT(green_spawn(block_forever, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);    /* run ends: g got the error */
  CHECK_INT(traced, ==, 1);
  CHECK_INT(trace[0], ==, GREEN_EDEADLK);
  teardown();
}

static char binding_marker;

static void test_names_and_ids(void) {
  green_spawn_options_t opts = {"worker", 0};
  green_t *g, *h;
  setup();
  CHECK_INT(green_spawn(note_arg, NULL, &opts, &g), ==, 0);
  CHECK_INT(green_spawn(note_arg, NULL, NULL, &h), ==, 0);
  CHECK(strcmp(green_name(g), "worker") == 0);
  CHECK(green_name(h) == NULL);
  CHECK_INT(green_set_name(h, "other"), ==, 0);
  CHECK(strcmp(green_name(h), "other") == 0);
  CHECK_INT(green_set_name(h, NULL), ==, 0);
  CHECK(green_name(h) == NULL);
  CHECK_INT(green_set_name(NULL, "x"), ==, GREEN_EINVAL);
  CHECK(green_id(g) != 0 && green_id(h) != 0 && green_id(g) != green_id(h));
  CHECK(green_id(green_current()) != 0);
  CHECK(green_data(g) == NULL);
  green_set_data(g, &opts);
  CHECK(green_data(g) == &opts);
  green_set_data(green_current(), &opts);
  CHECK(green_data(green_current()) == &opts);
  CHECK(green_data(NULL) == NULL);
  /* A binding's pointer is apart from the host's. */
  green_set_binding_data(g, &binding_marker);
  CHECK(green_binding_data(g) == &binding_marker);
  CHECK(green_data(g) == &opts);
  CHECK(green_binding_data(h) == NULL);
  CHECK(green_binding_data(NULL) == NULL);
  green_release(g);
  green_release(h);
  teardown();
}

static void test_references(void) {
  green_t *g;
  void *result;
  setup();
  CHECK_INT(green_spawn(note_arg, (void *)9, NULL, &g), ==, 0);
  green_retain(g);                             /* two references now */
  CHECK_INT(green_hub_run(hub), ==, 0);
  green_release(g);
  CHECK_INT(green_state(g), ==, GREEN_DEAD);   /* still readable */
  CHECK_INT(green_result(g, &result), ==, 0);
  CHECK(result == (void *)9);
  CHECK_INT(green_hub_free(hub), ==, GREEN_EBUSY);
  green_release(g);                            /* the last one */
  green_retain(NULL);
  green_release(NULL);
  green_retain(green_current());               /* main is not counted */
  green_release(green_current());
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* A spawn reuses the record let go of last, the one still in the caches. */
static void test_record_freed_last_is_reused_first(void) {
  green_t *a, *b, *c;
  setup();
  CHECK_INT(green_spawn(note_arg, NULL, NULL, &a), ==, 0);
  CHECK_INT(green_spawn(note_arg, NULL, NULL, &b), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  green_release(a);
  green_release(b);
  CHECK_INT(green_spawn(note_arg, NULL, NULL, &c), ==, 0);
  CHECK(c == b);
  green_release(c);
  teardown();
}

static void test_bad_arguments(void) {
  green_spawn_options_t tiny = {NULL, 1024};
  green_t *g;
  CHECK_INT(green_spawn(note_arg, NULL, NULL, NULL), ==, GREEN_ESRCH);
  CHECK_INT(green_sleep(1), ==, GREEN_ESRCH);
  CHECK_INT(green_yield(), ==, GREEN_ESRCH);
  CHECK(green_current() == NULL);
  setup();
  CHECK_INT(green_spawn(NULL, NULL, NULL, NULL), ==, GREEN_EINVAL);
  CHECK_INT(green_spawn(note_arg, NULL, &tiny, NULL), ==, GREEN_EINVAL);
  CHECK_INT(green_sleep(-1), ==, GREEN_EINVAL);
  CHECK_INT(green_sleep((double)NAN), ==, GREEN_EINVAL);
  CHECK_INT(green_join(NULL, 1), ==, GREEN_EINVAL);
  CHECK_INT(green_kill(NULL), ==, GREEN_EINVAL);
  CHECK_INT(green_result(NULL, NULL), ==, GREEN_EINVAL);
  CHECK_INT(green_spawn(note_arg, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_state(g), ==, GREEN_NEW);     /* nothing above changed it */
  CHECK_INT(green_hub_stats(hub, &(green_hub_stats_t){0}), ==, 0);
  green_release(g);
  teardown();
}

static void test_strerror(void) {
  CHECK(strcmp(green_strerror(GREEN_EDEADLK), "the wait would block forever") == 0);
  CHECK(strcmp(green_err_name(GREEN_ETIMEDOUT), "GREEN_ETIMEDOUT") == 0);
  CHECK(strcmp(green_strerror(0), "success") == 0);
  CHECK(strcmp(green_strerror(-123456), "unknown error") == 0);
  CHECK_INT(GREEN_ETIMEDOUT, ==, -ETIMEDOUT);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_spawn_runs_and_returns_result),
  CHECK_TEST(test_fifo_order),
  CHECK_TEST(test_spawn_from_greenlet),
  CHECK_TEST(test_yield_round_robin),
  CHECK_TEST(test_sleep_orders_by_deadline),
  CHECK_TEST(test_main_greenlet_sleeps),
  CHECK_TEST(test_idle_waits_for_the_others),
  CHECK_TEST(test_spawn_later),
  CHECK_TEST(test_kill_sleeping),
  CHECK_TEST(test_kill_before_start_never_runs),
  CHECK_TEST(test_kill_current),
  CHECK_TEST(test_cancel_kill),
  CHECK_TEST(test_kill_ready_greenlet_at_next_block),
  CHECK_TEST(test_join_timeout),
  CHECK_TEST(test_join_finished_and_self),
  CHECK_TEST(test_kill_joiner),
  CHECK_TEST(test_would_block_forever),
  CHECK_TEST(test_deadlock_under_run),
  CHECK_TEST(test_deadlock_is_told_to_one_at_a_time),
  CHECK_TEST(test_names_and_ids),
  CHECK_TEST(test_references),
  CHECK_TEST(test_record_freed_last_is_reused_first),
  CHECK_TEST(test_bad_arguments),
  CHECK_TEST(test_strerror),
};

CHECK_MAIN(tests)
