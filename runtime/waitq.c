/*
** waitq.c: green_waitq_t, the public face of the scheduler's wait queues:
** greenlets wait in FIFO order until a waker hands the first one a value.
*/

#include <stdlib.h>

#include "internal.h"

struct green_waitq {
  green_hub_t *hub;
  green__node waiters;      /* green__waiter nodes, FIFO */
};

int green_waitq_new(green_waitq_t **out) {
  green_hub_t *hub = green__this_hub;
  green_waitq_t *q;
  if (out == NULL) return GREEN_EINVAL;
  if (hub == NULL) return GREEN_ESRCH;
  if ((q = malloc(sizeof *q)) == NULL) return GREEN_ENOMEM;
  q->hub = hub;
  green__list_init(&q->waiters);
  *out = q;
  return 0;
}

int green_waitq_free(green_waitq_t *q) {
  if (q == NULL) return 0;
  if (!green__list_empty(&q->waiters))
    return GREEN_EBUSY;
  free(q);
  return 0;
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
