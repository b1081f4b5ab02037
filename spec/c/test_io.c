/*
** test_io.c: waiting on file descriptors.
*/

#include <fcntl.h>
#include <math.h>

#include <ev.h>

#include "check.h"
#include "green.h"

static green_hub_t *hub;
static int fds[2];

static void setup(void) {
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(pipe(fds), ==, 0);
}

static void teardown(void) {
  close(fds[0]);
  close(fds[1]);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static int result;

static void *read_one(void *arg) {
  char c = 0;
  result = green_wait_fd(fds[0], GREEN_READABLE, (double)(intptr_t)arg);
  if (result == GREEN_READABLE) CHECK_INT(read(fds[0], &c, 1), ==, 1);
  return (void *)(intptr_t)c;
}

static void *write_later(void *arg) {
  CHECK_INT(green_sleep(0.01), ==, 0);
  CHECK_INT(write(fds[1], "x", 1), ==, 1);
  return arg;
}

static void test_wait_with_data(void) {
  green_t *reader;
  void *c;
  setup();
  CHECK_INT(green_spawn(read_one, (void *)(intptr_t)GREEN_FOREVER, NULL, &reader), ==, 0);
  CHECK_INT(green_spawn(write_later, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_join(reader, 5), ==, 0);
  CHECK_INT(result, ==, GREEN_READABLE);
  CHECK_INT(green_result(reader, &c), ==, 0);
  CHECK_INT((intptr_t)c, ==, 'x');
  green_release(reader);
  teardown();
}

static void test_wait_times_out(void) {
  setup();
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 0), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_wait_fd(fds[1], GREEN_WRITABLE, 0), ==, GREEN_WRITABLE);
  CHECK_INT(green_wait_fd(fds[1], GREEN_WRITABLE | GREEN_READABLE, 1), ==,
            GREEN_WRITABLE);
  CHECK_INT(write(fds[1], "y", 1), ==, 1);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 0), ==, GREEN_READABLE);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 1), ==, GREEN_READABLE);
  teardown();
}

static void test_kill_blocked_on_fd(void) {
  green_t *reader;
  green_hub_stats_t before, after;
  setup();
  CHECK_INT(green_spawn(read_one, (void *)(intptr_t)GREEN_FOREVER, NULL, &reader), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_state(reader), ==, GREEN_BLOCKED);
  CHECK_INT(green_kill(reader), ==, 0);
  CHECK_INT(green_join(reader, 5), ==, 0);
  CHECK_INT(result, ==, GREEN_ECANCELED);
  /* The watcher was stopped: data arriving now wakes nobody, and the loop
     has nothing left, so run returns at once. */
  CHECK_INT(write(fds[1], "z", 1), ==, 1);
  CHECK_INT(green_hub_stats(hub, &before), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_stats(hub, &after), ==, 0);
  CHECK_INT(after.alive, ==, 0);
  green_release(reader);
  teardown();
}

static void test_bad_fds(void) {
  int closed;
  setup();
  closed = dup(fds[0]);
  close(closed);
  CHECK_INT(green_wait_fd(-1, GREEN_READABLE, 1), ==, GREEN_EBADF);
  CHECK_INT(green_wait_fd(closed, GREEN_READABLE, 1), ==, GREEN_EBADF);
  CHECK_INT(green_wait_fd(fds[0], 0, 1), ==, GREEN_EINVAL);
  CHECK_INT(green_wait_fd(fds[0], 4, 1), ==, GREEN_EINVAL);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, -3), ==, GREEN_EINVAL);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, (double)NAN), ==, GREEN_EINVAL);
  teardown();
}

/* A libev callback runs on the hub: blocking there is refused. */
static int from_hub[4];
static void host_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
  from_hub[0] = green_wait_fd(fds[0], GREEN_READABLE, 1);
  from_hub[1] = green_sleep(0.1);
  from_hub[2] = green_yield();
  from_hub[3] = green_hub_run(hub);
}

static void test_blocking_on_hub_refused(void) {
  ev_timer t;
  setup();
  ev_timer_init(&t, host_timer_cb, 0.001, 0);
  ev_timer_start(green_hub_loop(hub), &t);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(from_hub[0], ==, GREEN_EPERM);
  CHECK_INT(from_hub[1], ==, GREEN_EPERM);
  CHECK_INT(from_hub[2], ==, GREEN_EPERM);
  CHECK_INT(from_hub[3], ==, GREEN_EPERM);
  teardown();
}

static void test_wait_outside_hub(void) {
  CHECK_INT(pipe(fds), ==, 0);
  CHECK_INT(green_wait_fd(fds[0], GREEN_READABLE, 1), ==, GREEN_ESRCH);
  close(fds[0]);
  close(fds[1]);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_wait_with_data),
  CHECK_TEST(test_wait_times_out),
  CHECK_TEST(test_kill_blocked_on_fd),
  CHECK_TEST(test_bad_fds),
  CHECK_TEST(test_blocking_on_hub_refused),
  CHECK_TEST(test_wait_outside_hub),
};

CHECK_MAIN(tests)
