/*
** timer.c: sleeping on a stack-local ev_timer, and idling on an ev_idle
** (libev runs idle watchers only when nothing else is pending).
*/

#include <math.h>

#include "internal.h"

double green_now(void) {
  green_hub_t *hub = green__this_hub;
  if (hub == NULL) return ev_time();       /* the same clock, read afresh */
  ev_now_update(hub->loop);
  return ev_now(hub->loop);
}

int green_sleep(double seconds) {
  green_hub_t *hub;
  ev_timer timer;
  int rc = green__check_blocking(&hub);
  if (rc < 0) return rc;
  if (!(seconds >= 0)) return GREEN_EINVAL;
  if (seconds == 0) return green_yield();
  if (isinf(seconds)) return green__block(hub);   /* until killed */
  green__timer_start(hub, &timer, hub->current, seconds);
  rc = green__block(hub);
  ev_timer_stop(hub->loop, &timer);
  return rc == GREEN_ETIMEDOUT ? 0 : rc;
}

/* libev calls idle watchers whenever no event is pending, even on a poll
   made for the switch interval while greenlets are still ready: wait for
   the ready queue to be empty too. */
static void idle_wake_cb(struct ev_loop *loop, ev_idle *w, int revents) {
  green_t *g = w->data;
  (void)loop;
  (void)revents;
  if (g->hub->ready_count == 0) green__wake(g, 0);
}

int green_idle(void) {
  green_hub_t *hub;
  ev_idle idle;
  int rc = green__check_blocking(&hub);
  if (rc < 0) return rc;
  ev_idle_init(&idle, idle_wake_cb);
  idle.data = hub->current;
  ev_idle_start(hub->loop, &idle);
  rc = green__block(hub);
  ev_idle_stop(hub->loop, &idle);
  return rc;
}
