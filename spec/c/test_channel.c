/*
** test_channel.c: green_channel_t. Order, hand-over, timeouts, kills and
** close; and that an item is never lost or delivered twice.
*/

#include <pthread.h>

#include "check.h"
#include "green.h"

static green_hub_t *hub;
static green_channel_t *chan;
static intptr_t got[16];
static int got_count, rcs[16];

static void setup(size_t capacity) {
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_channel_new(capacity, &chan), ==, 0);
}

static void teardown(void) {
  green_channel_free(chan);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void *receive_one(void *arg) {
  void *item = NULL;
  rcs[(intptr_t)arg] = green_channel_recv(chan, &item, GREEN_FOREVER);
  if (rcs[(intptr_t)arg] == 0) got[got_count++] = (intptr_t)item;
  return NULL;
}

static void *send_arg(void *arg) {
  rcs[(intptr_t)arg] = green_channel_send(chan, arg, GREEN_FOREVER);
  return NULL;
}

static void test_rendezvous_hands_items_to_receivers_in_order(void) {
  intptr_t i;
  setup(0);
  CHECK_INT(green_channel_send(chan, NULL, 0), ==, GREEN_EAGAIN);
  for (i = 0; i < 3; i++)
    CHECK_INT(green_spawn(receive_one, (void *)i, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);              /* all three wait */
  for (i = 0; i < 3; i++)
    CHECK_INT(green_channel_send(chan, (void *)(10 + i), 0), ==, 0);
  CHECK_INT(green_channel_send(chan, (void *)99, 0), ==, GREEN_EAGAIN);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(got_count, ==, 3);
  for (i = 0; i < 3; i++) CHECK_INT(got[i], ==, 10 + i);
  CHECK_INT(green_channel_count(chan), ==, 0);
  teardown();
}

static void test_rendezvous_send_waits_for_a_receiver(void) {
  void *item = NULL;
  intptr_t i;
  setup(0);
  for (i = 1; i <= 3; i++)
    CHECK_INT(green_spawn(send_arg, (void *)i, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);              /* all three wait */
  for (i = 1; i <= 3; i++) {
    CHECK_INT(green_channel_recv(chan, &item, 0), ==, 0);
    CHECK_INT((intptr_t)item, ==, i);           /* senders in order */
  }
  CHECK_INT(green_channel_recv(chan, &item, 0), ==, GREEN_EAGAIN);
  CHECK_INT(green_hub_run(hub), ==, 0);
  for (i = 1; i <= 3; i++) CHECK_INT(rcs[i], ==, 0);
  teardown();
}

static void test_buffer_keeps_order_when_senders_wait(void) {
  void *item = NULL;
  intptr_t i;
  setup(2);
  CHECK_INT(green_channel_capacity(chan), ==, 2);
  CHECK_INT(green_channel_send(chan, (void *)1, 0), ==, 0);
  CHECK_INT(green_channel_send(chan, (void *)2, 0), ==, 0);
  CHECK_INT(green_channel_send(chan, (void *)3, 0), ==, GREEN_EAGAIN);
  for (i = 3; i <= 5; i++)
    CHECK_INT(green_spawn(send_arg, (void *)i, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);              /* 3, 4, 5 wait */
  CHECK_INT(green_channel_count(chan), ==, 2);
  for (i = 1; i <= 5; i++) {
    CHECK_INT(green_channel_recv(chan, &item, GREEN_FOREVER), ==, 0);
    CHECK_INT((intptr_t)item, ==, i);
  }
  CHECK_INT(green_channel_count(chan), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  teardown();
}

static void test_timeouts_add_and_take_nothing(void) {
  void *item = (void *)1;
  setup(1);
  CHECK_INT(green_channel_recv(chan, &item, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK(item == (void *)1);
  CHECK_INT(green_channel_send(chan, (void *)7, 0.01), ==, 0);
  CHECK_INT(green_channel_send(chan, (void *)8, 0.01), ==, GREEN_ETIMEDOUT);
  CHECK_INT(green_channel_count(chan), ==, 1);
  CHECK_INT(green_channel_recv(chan, &item, 0), ==, 0);
  CHECK_INT((intptr_t)item, ==, 7);
  CHECK_INT(green_channel_recv(chan, &item, 0), ==, GREEN_EAGAIN);
  CHECK_INT(green_channel_send(chan, NULL, -3), ==, GREEN_EINVAL);
  teardown();
}

static void test_killed_waiters_add_and_take_nothing(void) {
  green_t *sender, *receiver;
  void *item = NULL;
  setup(0);
  CHECK_INT(green_spawn(send_arg, (void *)1, NULL, &sender), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(sender), ==, 0);
  CHECK_INT(green_join(sender, GREEN_FOREVER), ==, 0);
  CHECK_INT(rcs[1], ==, GREEN_ECANCELED);
  CHECK_INT(green_channel_recv(chan, &item, 0), ==, GREEN_EAGAIN);
  CHECK_INT(green_spawn(receive_one, (void *)2, NULL, &receiver), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(receiver), ==, 0);       /* blocked: woken, no item */
  CHECK_INT(green_channel_send(chan, (void *)5, 0), ==, GREEN_EAGAIN);
  CHECK_INT(green_join(receiver, GREEN_FOREVER), ==, 0);
  CHECK_INT(rcs[2], ==, GREEN_ECANCELED);
  CHECK_INT(got_count, ==, 0);
  green_release(sender);
  green_release(receiver);
  teardown();
}

/* A receiver handed an item and then killed before it runs keeps the item;
   the kill interrupts its next blocking call instead. */
static void test_item_handed_over_survives_a_kill(void) {
  green_t *receiver;
  setup(0);
  CHECK_INT(green_spawn(receive_one, (void *)0, NULL, &receiver), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_channel_send(chan, (void *)42, 0), ==, 0);
  CHECK_INT(green_kill(receiver), ==, 0);
  CHECK_INT(green_join(receiver, GREEN_FOREVER), ==, 0);
  CHECK_INT(rcs[0], ==, 0);
  CHECK_INT(got_count, ==, 1);
  CHECK_INT(got[0], ==, 42);
  green_release(receiver);
  teardown();
}

static void test_close_wakes_waiters_and_drains(void) {
  void *item = NULL;
  setup(2);
  CHECK_INT(green_spawn(send_arg, (void *)3, NULL, NULL), ==, 0);
  CHECK_INT(green_channel_send(chan, (void *)1, 0), ==, 0);
  CHECK_INT(green_channel_send(chan, (void *)2, 0), ==, 0);
  CHECK_INT(green_yield(), ==, 0);              /* the sender of 3 waits */
  green_channel_close(chan);
  CHECK(green_channel_is_closed(chan));
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(rcs[3], ==, GREEN_EPIPE);
  CHECK_INT(green_channel_send(chan, (void *)4, 0), ==, GREEN_EPIPE);
  CHECK_INT(green_channel_recv(chan, &item, 0), ==, 0);
  CHECK_INT((intptr_t)item, ==, 1);
  CHECK_INT(green_channel_recv(chan, &item, GREEN_FOREVER), ==, 0);
  CHECK_INT((intptr_t)item, ==, 2);
  CHECK_INT(green_channel_recv(chan, &item, GREEN_FOREVER), ==, GREEN_EPIPE);
  green_channel_free(chan);
  CHECK_INT(green_channel_new(0, &chan), ==, 0);
  CHECK_INT(green_spawn(receive_one, (void *)4, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  green_channel_close(chan);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(rcs[4], ==, GREEN_EPIPE);
  teardown();
}

/* Many senders and receivers with short timeouts, some killed: every item
   whose send succeeded is received exactly once. */
#define STRESS_ITEMS 4000
static unsigned char seen[STRESS_ITEMS];
static int sent_ok, received, duplicates;
static unsigned rng = 12345;

static unsigned next_random(void) {
  rng = rng * 1103515245u + 12345u;
  return (rng >> 16) & 0x7fff;
}

static void *stress_sender(void *arg) {
  intptr_t first = (intptr_t)arg, i;
  for (i = first; i < first + 100; i++) {
    double timeout = (next_random() % 4) * 0.0005;
    if (green_channel_send(chan, (void *)i, timeout) == 0) sent_ok++;
    else if (next_random() % 2) green_yield();
  }
  return NULL;
}

static void *stress_receiver(void *arg) {
  void *item;
  int rc;
  (void)arg;
  while ((rc = green_channel_recv(chan, &item, 0.05)) != GREEN_EPIPE) {
    if (rc == GREEN_ECANCELED) return NULL;
    if (rc != 0) continue;
    if (seen[(intptr_t)item]++) duplicates++;
    received++;
  }
  return NULL;
}

static void *stress_closer(void *arg) {
  green_t **senders = arg;
  int i;
  for (i = 0; i < STRESS_ITEMS / 100; i++)
    CHECK_INT(green_join(senders[i], GREEN_FOREVER), ==, 0);
  green_channel_close(chan);
  return NULL;
}

static void run_stress(size_t capacity) {
  static green_t *senders[STRESS_ITEMS / 100], *receivers[8];
  int i;
  setup(capacity);
  for (i = 0; i < STRESS_ITEMS / 100; i++)
    CHECK_INT(green_spawn(stress_sender, (void *)(intptr_t)(i * 100), NULL,
                          &senders[i]), ==, 0);
  for (i = 0; i < 8; i++)
    CHECK_INT(green_spawn(stress_receiver, NULL, NULL, &receivers[i]), ==, 0);
  CHECK_INT(green_spawn(stress_closer, senders, NULL, NULL), ==, 0);
  for (i = 0; i < 20; i++) CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_kill(receivers[0]), ==, 0);   /* mid-wait, or mid-run */
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK(sent_ok > STRESS_ITEMS / 4 && sent_ok < STRESS_ITEMS);   /* both ways */
  CHECK_INT(duplicates, ==, 0);
  CHECK_INT(received + (int)green_channel_count(chan), ==, sent_ok);
  for (i = 0; i < STRESS_ITEMS / 100; i++) green_release(senders[i]);
  for (i = 0; i < 8; i++) green_release(receivers[i]);
  teardown();
}

static void test_stress_rendezvous_loses_nothing(void) { run_stress(0); }
static void test_stress_buffered_loses_nothing(void) { run_stress(3); }

/* A libev callback on the hub (here, a call posted from another thread)
   may send without waiting. */
static green_call_t posted;
static void send_from_hub(green_call_t *call) {
  (void)call;
  CHECK_INT(green_channel_send(chan, (void *)77, 0), ==, 0);
  CHECK_INT(green_channel_send(chan, (void *)78, GREEN_FOREVER), ==, GREEN_EPERM);
}

static void *post_send(void *arg) {
  CHECK_INT(green_hub_post(arg, &posted), ==, 0);
  return NULL;
}

static void test_hub_callbacks_send_without_waiting(void) {
  pthread_t thread;
  void *item = NULL;
  setup(0);
  posted.fn = send_from_hub;
  green_hub_ref(hub);
  CHECK_INT(pthread_create(&thread, NULL, post_send, hub), ==, 0);
  CHECK_INT(green_channel_recv(chan, &item, 30), ==, 0);
  CHECK_INT((intptr_t)item, ==, 77);
  CHECK_INT(pthread_join(thread, NULL), ==, 0);
  green_hub_unref(hub);
  teardown();
}

static void test_bad_arguments(void) {
  void *item;
  CHECK_INT(green_channel_new(0, &chan), ==, GREEN_ESRCH);
  setup(0);
  CHECK_INT(green_channel_new(0, NULL), ==, GREEN_EINVAL);
  CHECK_INT(green_channel_send(NULL, NULL, 0), ==, GREEN_EINVAL);
  CHECK_INT(green_channel_recv(chan, NULL, 0), ==, GREEN_EINVAL);
  CHECK_INT(green_channel_recv(chan, &item, GREEN_FOREVER), ==, GREEN_EDEADLK);
  CHECK(strcmp(green_strerror(GREEN_EPIPE), "channel is closed") == 0);
  teardown();
}

static const check_test_t tests[] = {
  CHECK_TEST(test_rendezvous_hands_items_to_receivers_in_order),
  CHECK_TEST(test_rendezvous_send_waits_for_a_receiver),
  CHECK_TEST(test_buffer_keeps_order_when_senders_wait),
  CHECK_TEST(test_timeouts_add_and_take_nothing),
  CHECK_TEST(test_killed_waiters_add_and_take_nothing),
  CHECK_TEST(test_item_handed_over_survives_a_kill),
  CHECK_TEST(test_close_wakes_waiters_and_drains),
  CHECK_TEST(test_stress_rendezvous_loses_nothing),
  CHECK_TEST(test_stress_buffered_loses_nothing),
  CHECK_TEST_NATIVE(test_hub_callbacks_send_without_waiting),
  CHECK_TEST(test_bad_arguments),
};

CHECK_MAIN(tests)
