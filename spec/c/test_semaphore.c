/*
** test_semaphore.c: green_semaphore_t and the green_waitq_t under it.
*/

#include "check.h"
#include "green.h"

static green_hub_t *hub;
static green_semaphore_t *sem;
static int order[8], acquired, rcs[8];

static void *acquire_and_note(void *arg) {
  rcs[(intptr_t)arg] = green_semaphore_acquire(sem, GREEN_FOREVER);
  if (rcs[(intptr_t)arg] == 0) order[acquired++] = (int)(intptr_t)arg;
  return NULL;
}

static void test_permits_go_to_waiters_in_order(void) {
  intptr_t i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_semaphore_new(1, 0, &sem), ==, 0);
  CHECK_INT(green_semaphore_acquire(sem, 0), ==, 0);
  CHECK_INT(green_semaphore_acquire(sem, 0), ==, GREEN_EAGAIN);
  for (i = 0; i < 3; i++)
    CHECK_INT(green_spawn(acquire_and_note, (void *)i, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_semaphore_release(sem), ==, 0);
  /* The permit went to waiter 0, which has not run yet: a newcomer
     cannot take it. */
  CHECK_INT(green_semaphore_value(sem), ==, 0);
  CHECK_INT(green_semaphore_acquire(sem, 0), ==, GREEN_EAGAIN);
  CHECK_INT(green_semaphore_release(sem), ==, 0);
  CHECK_INT(green_semaphore_release(sem), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(acquired, ==, 3);
  for (i = 0; i < 3; i++) CHECK_INT(order[i], ==, i);
  CHECK_INT(green_semaphore_release(sem), ==, 0);
  CHECK_INT(green_semaphore_value(sem), ==, 1);
  green_semaphore_free(sem);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_bounded_refuses_extra_releases(void) {
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_semaphore_new(3, 2, &sem), ==, GREEN_EINVAL);
  CHECK_INT(green_semaphore_new(2, 2, &sem), ==, 0);
  CHECK_INT(green_semaphore_release(sem), ==, GREEN_EOVERFLOW);
  CHECK_INT(green_semaphore_value(sem), ==, 2);
  CHECK_INT(green_semaphore_acquire(sem, 0), ==, 0);
  CHECK_INT(green_semaphore_release(sem), ==, 0);
  green_semaphore_free(sem);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_failed_acquires_take_nothing(void) {
  green_t *g;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_semaphore_new(0, 0, &sem), ==, 0);
  CHECK_INT(green_semaphore_acquire(sem, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_spawn(acquire_and_note, (void *)0, NULL, &g), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(g), ==, 0);
  /* Woken by the kill but not yet run: the release passes it over. */
  CHECK_INT(green_semaphore_release(sem), ==, 0);
  CHECK_INT(green_semaphore_value(sem), ==, 1);
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  CHECK_INT(rcs[0], ==, GREEN_ECANCELED);
  CHECK_INT(acquired, ==, 0);
  CHECK_INT(green_semaphore_acquire(sem, -5), ==, GREEN_EINVAL);
  CHECK_INT(green_semaphore_acquire(sem, GREEN_FOREVER), ==, 0);
  CHECK_INT(green_semaphore_acquire(sem, GREEN_FOREVER), ==, GREEN_EDEADLK);
  green_release(g);
  green_semaphore_free(sem);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static green_waitq_t *waitq;
static void *values[4];

static void *wait_for_value(void *arg) {
  rcs[(intptr_t)arg] = green_waitq_wait(waitq, GREEN_FOREVER, arg,
                                        &values[(intptr_t)arg]);
  return NULL;
}

static void test_waitq_hands_values_and_shows_self(void) {
  void *self = NULL;
  intptr_t i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_waitq_new(&waitq), ==, 0);
  CHECK(!green_waitq_peek(waitq, NULL));
  CHECK_INT(green_waitq_wake_one(waitq, NULL, &self), ==, 0);
  for (i = 1; i <= 3; i++)
    CHECK_INT(green_spawn(wait_for_value, (void *)i, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_waitq_peek(waitq, &self), ==, 1);
  CHECK_INT((intptr_t)self, ==, 1);
  CHECK_INT(green_waitq_wake_one(waitq, (void *)100, &self), ==, 1);
  CHECK_INT((intptr_t)self, ==, 1);
  CHECK_INT(green_waitq_wake_one(waitq, (void *)200, NULL), ==, 1);
  green_waitq_wake_all(waitq, GREEN_ETIMEDOUT);
  CHECK(!green_waitq_peek(waitq, NULL));
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(rcs[1], ==, 0);
  CHECK_INT((intptr_t)values[1], ==, 100);
  CHECK_INT(rcs[2], ==, 0);
  CHECK_INT((intptr_t)values[2], ==, 200);
  CHECK_INT(rcs[3], ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_waitq_wait(waitq, 0.001, NULL, NULL), ==, GREEN_ETIMEDOUT);
  green_waitq_free(waitq);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_permits_go_to_waiters_in_order),
  CHECK_TEST(test_bounded_refuses_extra_releases),
  CHECK_TEST(test_failed_acquires_take_nothing),
  CHECK_TEST(test_waitq_hands_values_and_shows_self),
};

CHECK_MAIN(tests)
