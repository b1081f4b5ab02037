/*
** event.c: green_event_t, a flag greenlets wait on.
*/

#include <stdlib.h>

#include "internal.h"

struct green_event {
  green_hub_t *hub;
  green__node waiters;      /* green__waiter nodes, FIFO */
  int set;
};

int green_event_new(green_event_t **out) {
  green_hub_t *hub = green__this_hub;
  green_event_t *e;
  if (out == NULL) return GREEN_EINVAL;
  if (hub == NULL) return GREEN_ESRCH;
  if ((e = malloc(sizeof *e)) == NULL) return GREEN_ENOMEM;
  e->hub = hub;
  e->set = 0;
  green__list_init(&e->waiters);
  *out = e;
  return 0;
}

int green_event_free(green_event_t *e) {
  if (e == NULL) return 0;
  if (!green__list_empty(&e->waiters))
    return GREEN_EBUSY;
  free(e);
  return 0;
}

void green_event_set(green_event_t *e) {
  if (e == NULL) return;
  e->set = 1;
  green__wake_all(&e->waiters, 0);
}

void green_event_clear(green_event_t *e) {
  if (e != NULL) e->set = 0;
}

int green_event_is_set(const green_event_t *e) {
  return e != NULL && e->set;
}

int green_event_wait(green_event_t *e, double timeout) {
  green_hub_t *hub;
  int rc;
  if (e == NULL) return GREEN_EINVAL;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if ((rc = green__check_blocking_on(e->hub, &hub)) < 0) return rc;
  if (e->set) return 0;
  return green__wait(hub, &e->waiters, timeout);
}
