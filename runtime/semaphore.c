/*
** semaphore.c: green_semaphore_t, a counter of permits with FIFO waiters.
**
** A release hands its permit straight to the first blocked waiter instead
** of raising the count, so value > 0 means nobody is blocked and a newcomer
** cannot take a permit meant for a greenlet that waited longer.
*/

#include "internal.h"

struct green_semaphore {
  green_waitq_t q;          /* first: see green__waitq_alloc */
  unsigned value;
  unsigned bound;           /* 0: unbounded */
};

int green_semaphore_new(unsigned value, unsigned bound,
                        green_semaphore_t **out) {
  green_semaphore_t *s;
  int rc;
  if (out == NULL || (bound > 0 && value > bound)) return GREEN_EINVAL;
  if ((s = green__waitq_alloc(sizeof *s, &rc)) == NULL) return rc;
  s->value = value;
  s->bound = bound;
  *out = s;
  return 0;
}

int green_semaphore_free(green_semaphore_t *s) {
  return s == NULL ? 0 : green__waitq_release(&s->q);
}

int green_semaphore_acquire(green_semaphore_t *s, double timeout) {
  green_hub_t *hub;
  int rc;
  if (s == NULL) return GREEN_EINVAL;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if (s->value > 0) {
    if ((rc = green__check_nonblocking(s->q.hub, &hub)) < 0) return rc;
    s->value--;
    return 0;
  }
  if (timeout == 0) return GREEN_EAGAIN;
  if ((rc = green__check_blocking_on(s->q.hub, &hub)) < 0) return rc;
  return green__wait(hub, &s->q.waiters, timeout);   /* 0: a permit handed over */
}

int green_semaphore_release(green_semaphore_t *s) {
  green_hub_t *hub;
  int rc;
  if (s == NULL) return GREEN_EINVAL;
  if ((rc = green__check_nonblocking(s->q.hub, &hub)) < 0) return rc;
  if (green__wake_one(&s->q.waiters, NULL) != NULL) return 0;
  if (s->bound > 0 && s->value >= s->bound) return GREEN_EOVERFLOW;
  s->value++;
  return 0;
}

unsigned green_semaphore_value(const green_semaphore_t *s) {
  return s != NULL ? s->value : 0;
}
