/*
** deferred.c: green_deferred_t, calls that one greenlet runs at points it
** chooses (gevent_async's DeferredCallHandler).
**
** The queue is a circular list of the callers' own green_deferred_call_t
** records, so queueing allocates nothing. Calls from other OS threads
** travel through green_hub_post(), whose queue keeps each thread's order,
** and join this list on the hub. A sync caller waits on a list of its own;
** the processor skips (and withdraws) a sync call whose caller has already
** been woken by its timeout or a kill, so a call that timed out never runs.
*/

#include <limits.h>
#include <stdlib.h>

#include "internal.h"

enum {
  CALL_IDLE,        /* not queued: new, withdrawn, or done with */
  CALL_QUEUED,
  CALL_RUNNING,
  CALL_DONE         /* a sync call whose fn returned */
};

struct green_deferred {
  green_hub_t *hub;
  green_deferred_call_t queue;  /* sentinel of the list of queued calls */
  size_t pending;
  green__node wakeup;           /* the processor, waiting for calls */
  green_t *processor;
  int caller_gone;              /* the running call's caller left early */
  int stop;
  atomic_uint in_flight;        /* posts from other threads not yet here */
};

int green_deferred_new(green_deferred_t **out) {
  green_hub_t *hub = green__this_hub;
  green_deferred_t *d;
  if (out == NULL) return GREEN_EINVAL;
  if (hub == NULL) return GREEN_ESRCH;
  if ((d = calloc(1, sizeof *d)) == NULL) return GREEN_ENOMEM;
  d->hub = hub;
  d->queue.prev_ = d->queue.next_ = &d->queue;
  green__list_init(&d->wakeup);
  atomic_init(&d->in_flight, 0);
  *out = d;
  return 0;
}

static void unlink_call(green_deferred_t *d, green_deferred_call_t *call) {
  call->prev_->next_ = call->next_;
  call->next_->prev_ = call->prev_;
  call->prev_ = call->next_ = NULL;
  call->state_ = CALL_IDLE;
  d->pending--;
}

int green_deferred_free(green_deferred_t *d) {
  green_deferred_call_t *call;
  if (d == NULL) return 0;
  if (d->processor != NULL || atomic_load(&d->in_flight) != 0)
    return GREEN_EBUSY;
  for (call = d->queue.next_; call != &d->queue; call = call->next_)
    if (call->waiters_ != NULL) return GREEN_EBUSY;
  while (d->queue.next_ != &d->queue) unlink_call(d, d->queue.next_);
  free(d);
  return 0;
}


/* ---------------------------------------------------------------- posting */

/* On the hub thread: append and wake the processor if it waits. */
static void enqueue(green_deferred_t *d, green_deferred_call_t *call) {
  call->owner_ = d;
  call->state_ = CALL_QUEUED;
  call->next_ = &d->queue;
  call->prev_ = d->queue.prev_;
  d->queue.prev_->next_ = call;
  d->queue.prev_ = call;
  d->pending++;
  green__wake_one(&d->wakeup, NULL);
}

static void arrive_from_thread(green_call_t *post) {
  green_deferred_call_t *call = green__container(post, green_deferred_call_t,
                                                 post_);
  green_deferred_t *d = call->owner_;
  enqueue(d, call);
  atomic_fetch_sub(&d->in_flight, 1);
}

int green_deferred_post(green_deferred_t *d, green_deferred_call_t *call) {
  if (d == NULL || call == NULL || call->fn == NULL) return GREEN_EINVAL;
  call->waiters_ = NULL;
  if (green__this_hub == d->hub) {
    enqueue(d, call);
    return 0;
  }
  call->owner_ = d;
  call->post_.fn = arrive_from_thread;
  atomic_fetch_add(&d->in_flight, 1);
  return green_hub_post(d->hub, &call->post_);
}


/* ---------------------------------------------------------------- sync calls */

static int call_finished(const void *call) {
  return ((const green_deferred_call_t *)call)->state_ != CALL_RUNNING;
}

/* The caller's wait ended with rc before it was told the call is done. */
static int give_up(green_deferred_t *d, green_hub_t *hub,
                   green_deferred_call_t *call, int rc) {
  switch (call->state_) {
    case CALL_QUEUED:
      unlink_call(d, call);
      return rc;
    case CALL_RUNNING:
      if (call->detach) {
        d->caller_gone = 1;
        return rc;
      }
      /* fn may use the caller's stack: stay until it returns */
      /* fall through */
    case CALL_DONE:         /* perhaps before the caller ran again */
      green__wait_out(hub, call->waiters_, call_finished, call, rc);
      return 0;
    default:                /* withdrawn by the processor */
      return rc;
  }
}

int green_deferred_call(green_deferred_t *d, green_deferred_call_t *call,
                        double timeout) {
  green_hub_t *hub;
  green__node waiters;
  green__waiter waiter;
  int rc;
  if (d == NULL || call == NULL || call->fn == NULL) return GREEN_EINVAL;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if ((rc = green__check_blocking_on(d->hub, &hub)) < 0) return rc;
  if (d->processor == hub->current) return GREEN_EDEADLK;
  green__list_init(&waiters);
  call->waiters_ = &waiters;
  enqueue(d, call);
  rc = green__wait_as(hub, &waiters, timeout, &waiter);
  if (rc < 0) rc = give_up(d, hub, call, rc);
  call->state_ = CALL_IDLE;
  call->waiters_ = NULL;
  return rc;
}


/* ---------------------------------------------------------------- processing */

/* A sync call whose caller was woken (timeout, kill) before the call could
   start is withdrawn: the caller finds it idle and reports its error. */
static int caller_gave_up(const green_deferred_call_t *call) {
  green__node *waiters = call->waiters_;
  return waiters != NULL && (green__list_empty(waiters) ||
         green__container(waiters->next, green__waiter, node)->g->state !=
             GREEN_BLOCKED);
}

static green_deferred_call_t *next_call(green_deferred_t *d,
                                        const green_deferred_options_t *opts) {
  green_deferred_call_t *call = d->queue.next_, *next;
  for (; call != &d->queue; call = next) {
    next = call->next_;
    if (caller_gave_up(call))
      unlink_call(d, call);
    else if (opts->accept == NULL || opts->accept(call, opts->accept_arg))
      return call;
  }
  return NULL;
}

/* After fn returns, a one-way call may be freed already, and a sync call
   whose detached caller left belongs to fn: neither is touched again. */
static void run(green_deferred_t *d, green_deferred_call_t *call) {
  green__node *waiters = call->waiters_;
  unlink_call(d, call);
  call->state_ = CALL_RUNNING;
  d->caller_gone = 0;
  call->fn(call);
  if (waiters != NULL && !d->caller_gone) {
    call->state_ = CALL_DONE;
    green__wake_one(waiters, NULL);
  }
}

int green_deferred_process(green_deferred_t *d,
                           const green_deferred_options_t *opts) {
  static const green_deferred_options_t all = {0, NULL, NULL};
  green_deferred_call_t *call;
  green_hub_t *hub;
  int rc, ran = 0;
  if (d == NULL) return GREEN_EINVAL;
  if ((rc = green__check_blocking_on(d->hub, &hub)) < 0) return rc;
  if (d->processor != NULL) return GREEN_EBUSY;
  if (opts == NULL) opts = &all;
  d->processor = hub->current;
  while (!d->stop) {
    if ((call = next_call(d, opts)) != NULL) {
      run(d, call);
      if (ran < INT_MAX) ran++;
    } else if (!opts->forever ||
               (rc = green__wait(hub, &d->wakeup, GREEN_FOREVER)) < 0) {
      break;
    }
  }
  d->stop = 0;
  d->processor = NULL;
  return rc < 0 ? rc : ran;
}

void green_deferred_stop(green_deferred_t *d) {
  green_hub_t *hub;
  if (d == NULL || green__check_nonblocking(d->hub, &hub) < 0) return;
  d->stop = 1;
  green__wake_one(&d->wakeup, NULL);
}

green_t *green_deferred_processor(const green_deferred_t *d) {
  return d != NULL ? d->processor : NULL;
}

size_t green_deferred_pending(const green_deferred_t *d) {
  return d != NULL ? d->pending : 0;
}
