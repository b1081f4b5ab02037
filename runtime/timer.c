/*
** timer.c: sleeping on a stack-local ev_timer.
*/

#include <math.h>

#include "internal.h"

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
