/*
** waitq.c: green_waitq_t, the public face of the scheduler's wait queues:
** greenlets wait in FIFO order until a waker hands the first one a value.
*/

#include <stdlib.h>

#include "internal.h"

void *green__waitq_alloc(size_t size, int *rc) {
  green_hub_t *hub = green__this_hub;
  green_waitq_t *q;
  *rc = hub == NULL ? GREEN_ESRCH : GREEN_ENOMEM;
  if (hub == NULL || (q = malloc(size)) == NULL) return NULL;
  q->hub = hub;
  green__list_init(&q->waiters);
  return q;
}

int green__waitq_release(green_waitq_t *q) {
  if (!green__list_empty(&q->waiters))
    return GREEN_EBUSY;
  free(q);
  return 0;
}

int green_waitq_new(green_waitq_t **out) {
  green_waitq_t *q;
  int rc;
  if (out == NULL) return GREEN_EINVAL;
  if ((q = green__waitq_alloc(sizeof *q, &rc)) == NULL) return rc;
  *out = q;
  return 0;
}

int green_waitq_free(green_waitq_t *q) {
  return q == NULL ? 0 : green__waitq_release(q);
}

int green_waitq_wait(green_waitq_t *q, double timeout, void *self,
                     void **value) {
  green_hub_t *hub;
  green__waiter waiter;
  int rc;
  if (q == NULL) return GREEN_EINVAL;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if ((rc = green__check_blocking_on(q->hub, &hub)) < 0) return rc;
  waiter.self = self;
  rc = green__wait_as(hub, &q->waiters, timeout, &waiter);
  if (rc == 0 && value != NULL) *value = waiter.value;
  return rc;
}

int green_waitq_wake_one(green_waitq_t *q, void *value, void **self) {
  green_hub_t *hub;
  green__waiter *waiter;
  int rc;
  if (q == NULL) return GREEN_EINVAL;
  if ((rc = green__check_nonblocking(q->hub, &hub)) < 0) return rc;
  if ((waiter = green__wake_one(&q->waiters, value)) == NULL) return 0;
  if (self != NULL) *self = waiter->self;
  return 1;
}

void green_waitq_wake_all(green_waitq_t *q, int status) {
  green_hub_t *hub;
  if (q == NULL || green__check_nonblocking(q->hub, &hub) < 0) return;
  green__wake_all(&q->waiters, status);
}

int green_waitq_peek(const green_waitq_t *q, void **self) {
  green__node *node;
  if (q == NULL) return 0;
  for (node = q->waiters.next; node != &q->waiters; node = node->next) {
    green__waiter *waiter = green__container(node, green__waiter, node);
    if (waiter->g->state == GREEN_BLOCKED) {
      if (self != NULL) *self = waiter->self;
      return 1;
    }
  }
  return 0;
}
