/*
** event.c: green_event_t, a flag greenlets wait on.
*/

#include "internal.h"

struct green_event {
  green_waitq_t q;          /* first: see green__waitq_alloc */
  int set;
};

int green_event_new(green_event_t **out) {
  green_event_t *e;
  int rc;
  if (out == NULL) return GREEN_EINVAL;
  if ((e = green__waitq_alloc(sizeof *e, &rc)) == NULL) return rc;
  e->set = 0;
  *out = e;
  return 0;
}

int green_event_free(green_event_t *e) {
  return e == NULL ? 0 : green__waitq_release(&e->q);
}

void green_event_set(green_event_t *e) {
  if (e == NULL) return;
  e->set = 1;
  green__wake_all(&e->q.waiters, 0);
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
  if ((rc = green__check_blocking_on(e->q.hub, &hub)) < 0) return rc;
  if (e->set) return 0;
  return green__wait(hub, &e->q.waiters, timeout);
}
