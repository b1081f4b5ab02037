/*
** channel.c: green_channel_t, a FIFO of pointers between greenlets.
**
** Items pass hand to hand whenever someone waits: a send gives its item
** straight to the first blocked receiver, and a receive that frees a slot
** of the buffer moves the first blocked sender's item into it. So nothing
** overtakes a greenlet that waited longer, and an item is always in
** exactly one place: the buffer, a sender's waiter, or a receiver's hands.
*/

#include <stdlib.h>

#include "internal.h"

struct green_channel {
  green_hub_t *hub;
  green__node receivers;    /* green__waiter nodes, FIFO */
  green__node senders;      /* their self is the item they send */
  void **ring;
  size_t capacity, head, count;
  int closed;
};

int green_channel_new(size_t capacity, green_channel_t **out) {
  green_hub_t *hub = green__this_hub;
  green_channel_t *ch;
  if (out == NULL || capacity > ((size_t)-1) / sizeof(void *))
    return GREEN_EINVAL;
  if (hub == NULL) return GREEN_ESRCH;
  if ((ch = calloc(1, sizeof *ch)) == NULL) return GREEN_ENOMEM;
  if (capacity > 0 && (ch->ring = malloc(capacity * sizeof(void *))) == NULL) {
    free(ch);
    return GREEN_ENOMEM;
  }
  ch->hub = hub;
  ch->capacity = capacity;
  green__list_init(&ch->receivers);
  green__list_init(&ch->senders);
  *out = ch;
  return 0;
}

int green_channel_free(green_channel_t *ch) {
  if (ch == NULL) return 0;
  if (!green__list_empty(&ch->receivers) ||
      !green__list_empty(&ch->senders))
    return GREEN_EBUSY;
  free(ch->ring);
  free(ch);
  return 0;
}

static void ring_push(green_channel_t *ch, void *item) {
  ch->ring[(ch->head + ch->count++) % ch->capacity] = item;
}

static void *ring_shift(green_channel_t *ch) {
  void *item = ch->ring[ch->head];
  ch->head = (ch->head + 1) % ch->capacity;
  ch->count--;
  return item;
}

/* Checks shared by send and receive before they know whether they must
   wait: the hub greenlet may send or receive what needs no waiting. */
static int check_caller(green_channel_t *ch, double timeout, green_hub_t **hub) {
  int rc;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  return green__check_nonblocking(ch->hub, hub);
}

int green_channel_send(green_channel_t *ch, void *item, double timeout) {
  green_hub_t *hub;
  green__waiter waiter;
  int rc;
  if (ch == NULL) return GREEN_EINVAL;
  if ((rc = check_caller(ch, timeout, &hub)) < 0) return rc;
  if (ch->closed) return GREEN_EPIPE;
  if (green__wake_one(&ch->receivers, item) != NULL) return 0;
  if (ch->count < ch->capacity) {
    ring_push(ch, item);
    return 0;
  }
  if (timeout == 0) return GREEN_EAGAIN;
  if ((rc = green__check_blocking(&hub)) < 0) return rc;
  waiter.self = item;
  return green__wait_as(hub, &ch->senders, timeout, &waiter);
}

int green_channel_recv(green_channel_t *ch, void **item, double timeout) {
  green_hub_t *hub;
  green__waiter waiter, *sender;
  int rc;
  if (ch == NULL || item == NULL) return GREEN_EINVAL;
  if ((rc = check_caller(ch, timeout, &hub)) < 0) return rc;
  if (ch->count > 0) {
    *item = ring_shift(ch);
    if ((sender = green__wake_one(&ch->senders, NULL)) != NULL)
      ring_push(ch, sender->self);
    return 0;
  }
  if ((sender = green__wake_one(&ch->senders, NULL)) != NULL) {
    *item = sender->self;
    return 0;
  }
  if (ch->closed) return GREEN_EPIPE;
  if (timeout == 0) return GREEN_EAGAIN;
  if ((rc = green__check_blocking(&hub)) < 0) return rc;
  waiter.self = NULL;
  if ((rc = green__wait_as(hub, &ch->receivers, timeout, &waiter)) == 0)
    *item = waiter.value;
  return rc;
}

void green_channel_close(green_channel_t *ch) {
  green_hub_t *hub;
  if (ch == NULL || green__check_nonblocking(ch->hub, &hub) < 0) return;
  ch->closed = 1;
  green__wake_all(&ch->receivers, GREEN_EPIPE);
  green__wake_all(&ch->senders, GREEN_EPIPE);
}

int green_channel_is_closed(const green_channel_t *ch) {
  return ch != NULL && ch->closed;
}

size_t green_channel_count(const green_channel_t *ch) {
  return ch != NULL ? ch->count : 0;
}

size_t green_channel_capacity(const green_channel_t *ch) {
  return ch != NULL ? ch->capacity : 0;
}
