/*
** test_event.c: green_event_t and green_now.
*/

#include "check.h"
#include "green.h"

static green_hub_t *hub;
static green_event_t *event;
static int order[8], woken;

static void *wait_and_note(void *arg) {
  CHECK_INT(green_event_wait(event, GREEN_FOREVER), ==, 0);
  order[woken++] = (int)(intptr_t)arg;
  return arg;
}

static void test_set_wakes_every_waiter_in_order(void) {
  int i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_event_new(&event), ==, 0);
  CHECK(!green_event_is_set(event));
  for (i = 0; i < 4; i++)
    CHECK_INT(green_spawn(wait_and_note, (void *)(intptr_t)i, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(woken, ==, 0);
  green_event_set(event);
  CHECK(green_event_is_set(event));
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(woken, ==, 4);
  for (i = 0; i < 4; i++) CHECK_INT(order[i], ==, i);
  CHECK_INT(green_event_wait(event, 0), ==, 0);   /* set: at once */
  green_event_clear(event);
  CHECK(!green_event_is_set(event));
  green_event_free(event);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static int wait_rc = 1;
static void *wait_and_keep_rc(void *arg) {
  wait_rc = green_event_wait(event, GREEN_FOREVER);
  return arg;
}

static void test_wait_times_out_and_is_killable(void) {
  double before;
  green_t *g;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_event_new(&event), ==, 0);
  before = green_now();
  CHECK_INT(green_event_wait(event, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK(green_now() - before >= 0.0099);
  CHECK_INT(green_event_wait(event, -2), ==, GREEN_EINVAL);
  CHECK_INT(green_spawn(wait_and_keep_rc, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(g), ==, 0);
  CHECK_INT(green_join(g, 1), ==, 0);
  CHECK_INT(wait_rc, ==, GREEN_ECANCELED);
  green_release(g);
  /* Nothing will ever set it: the wait would block forever. */
  CHECK_INT(green_event_wait(event, GREEN_FOREVER), ==, GREEN_EDEADLK);
  green_event_free(event);
  CHECK_INT(green_hub_free(hub), ==, 0);
  CHECK_INT(green_event_new(&event), ==, GREEN_ESRCH);
  CHECK_INT(green_event_new(NULL), ==, GREEN_EINVAL);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_set_wakes_every_waiter_in_order),
  CHECK_TEST(test_wait_times_out_and_is_killable),
};

CHECK_MAIN(tests)
