/*
** sched.c: the ready queue, the switch between greenlets, and the one path
** by which a blocked greenlet is woken.
**
** A blocking call parks the current greenlet and switches straight to the
** next ready one; only when none is ready, or the switch interval has passed
** since the loop was last polled, does control go to the hub greenlet.
*/

#include <math.h>
#include <time.h>

#include "internal.h"

#ifdef GREEN_ASAN
#  include <sanitizer/common_interface_defs.h>
#endif
#ifdef GREEN_TSAN
#  include <sanitizer/tsan_interface.h>
#endif


/* ---------------------------------------------------------------- clock */

/* The coarse clock is read from the vDSO without a system call; its tick
   (a few ms) is fine enough for the switch interval. */
uint64_t green__coarse_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The clock is read at every switch: skipping reads would let one long
   greenlet followed by a few switches keep timers waiting. */
int green__poll_due(const green_hub_t *hub) {
  return green__coarse_ns() >= hub->poll_due_ns;
}

void green__polled(green_hub_t *hub) {
  hub->poll_due_ns = green__coarse_ns() + hub->switch_interval_ns;
  hub->stats.polls++;
}


/* ---------------------------------------------------------------- queue */

void green__ready_push(green_hub_t *hub, green_t *g) {
  green__list_push(&hub->ready, &g->link);
  hub->ready_count++;
}

void green__ready_remove(green_hub_t *hub, green_t *g) {
  green__list_remove(&g->link);
  hub->ready_count--;
}

green_t *green__ready_shift(green_hub_t *hub) {
  green__node *node = green__list_shift(&hub->ready);
  if (node == NULL) return NULL;
  hub->ready_count--;
  return green__container(node, green_t, link);
}


/* ---------------------------------------------------------------- switch */

/* Tell the sanitizers about a greenlet's stack before its first switch:
   ASan learns its bounds, TSan gets a fiber for it. The thread's own stack
   is adopted (ASan learns its bounds at the first switch away). */
void green__fiber_init(green_t *g, int adopt_thread) {
  if (!adopt_thread) {
    g->asan_bottom = g->stack->lo;
    g->asan_size = g->stack->size;
  }
#ifdef GREEN_TSAN
  g->tsan_fiber = adopt_thread ? __tsan_get_current_fiber()
                               : __tsan_create_fiber(0);
#endif
}

void green__fiber_destroy(green_t *g) {
#ifdef GREEN_TSAN
  if (g->tsan_fiber != NULL && g != &g->hub->main)
    __tsan_destroy_fiber(g->tsan_fiber);
  g->tsan_fiber = NULL;
#else
  (void)g;
#endif
}

/* The hub's and the sanitizers' side of a switch from the current
   greenlet to next; returns the current one. Always inlined: once TSan has
   switched fibers, no instrumented function may return before the switch. */
static inline __attribute__((always_inline))
green_t *switch_begin(green_hub_t *hub, green_t *next) {
  green_t *prev = hub->current;
  if (prev->stack != NULL && prev->stack->canary != NULL &&
      !green__stack_canary_ok(hub, prev->stack))
    green__report_overflow(prev, "the canary below its stack was overwritten",
                           prev->stack->canary);
  hub->previous = prev;
  hub->current = next;
  next->state = GREEN_RUNNING;
  hub->stats.switches++;
#ifdef GREEN_ASAN
  /* A dead greenlet never comes back: NULL lets ASan free its fake stack. */
  __sanitizer_start_switch_fiber(
      prev->state == GREEN_DEAD ? NULL : &prev->asan_fake_stack,
      next->asan_bottom, next->asan_size);
#endif
#ifdef GREEN_TSAN
  __tsan_switch_to_fiber(next->tsan_fiber, 0);
#endif
  return prev;
}

/*
** Switch from the current greenlet to next. The caller has already set the
** current greenlet's state (READY, BLOCKED or DEAD). Returns when something
** switches back.
*/
void green__switch_to(green_hub_t *hub, green_t *next) {
  green_t *prev = switch_begin(hub, next);
  green__switch(&prev->ctx, &next->ctx);
  green__switch_landed(hub);
}

/* First thing after every switch, on the stack switched to. */
void green__switch_landed(green_hub_t *hub) {
  green_t *prev = hub->previous;
#ifdef GREEN_ASAN
  const void *bottom;
  size_t size;
  __sanitizer_finish_switch_fiber(hub->current->asan_fake_stack, &bottom,
                                  &size);
  if (prev->asan_size == 0) {   /* the adopted thread stack, first switch */
    prev->asan_bottom = bottom;
    prev->asan_size = size;
  }
#endif
  if (prev->state == GREEN_DEAD) green__greenlet_reap(prev);
}

/* The next ready greenlet that can run: one that has not run yet gets its
   stack now (green__greenlet_equip), or waits in the stackless queue. */
static __attribute__((noinline)) green_t *equip_next(green_hub_t *hub,
                                                     green_t *next) {
  while (next != NULL && next->state == GREEN_NEW &&
         green__greenlet_equip(next) < 0)
    next = green__ready_shift(hub);
  return next;
}

green_t *green__ready_next(green_hub_t *hub) {
  green_t *next = green__ready_shift(hub);
  if (next == NULL || next->state != GREEN_NEW) return next;
  return equip_next(hub, next);
}

/* The next ready greenlet, or the hub if none is or a poll is due. */
static green_t *pick_next(green_hub_t *hub) {
  green_t *next = NULL;
  if (!green__poll_due(hub)) next = green__ready_next(hub);
  return next != NULL ? next : &hub->hubg;
}

static void schedule(green_hub_t *hub) {
  green__switch_to(hub, pick_next(hub));
}

/* For a dead greenlet's entry to return: the context to resume, which the
   trampoline loads without saving the dead one (context.h). Under TSan the
   switch is made here, for the reason switch_begin gives. */
green__context *green__schedule_final(green_hub_t *hub) {
  green_t *next = pick_next(hub), *prev = switch_begin(hub, next);
#ifdef GREEN_TSAN
  green__switch(&prev->ctx, &next->ctx);
  green__assert(0, "a dead greenlet was resumed");
#else
  (void)prev;
#endif
  return &next->ctx;
}


/* ---------------------------------------------------------------- wake */

/* Make a blocked greenlet ready; its blocking call will return status.
   The first wake wins: later ones (a timer and an fd in one loop
   iteration) find it no longer blocked and do nothing. */
void green__wake(green_t *g, int status) {
  if (g->state != GREEN_BLOCKED) return;
  g->wake_status = status;
  g->state = GREEN_READY;
  green__ready_push(g->hub, g);
}

/* Park the current greenlet until green__wake; return the wake status.
   A pending kill is delivered here instead of blocking. */
int green__block(green_hub_t *hub) {
  green_t *self = hub->current;
  if (self->kill_pending) {
    self->kill_pending = 0;
    return GREEN_ECANCELED;
  }
  self->state = GREEN_BLOCKED;
  self->wake_status = 0;
  self->blocked_at = ++hub->blocks;
  schedule(hub);
  return self->wake_status;
}

void green__timer_wake_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  green__wake(w->data, GREEN_ETIMEDOUT);
}

int green__has_deadline(double timeout) {
  return timeout >= 0 && !isinf(timeout);
}

/* Start a stack-local timer that wakes g with GREEN_ETIMEDOUT. The loop's
   clock is refreshed first: greenlets may have run long since the poll. */
void green__timer_start(green_hub_t *hub, ev_timer *t, green_t *g,
                        double timeout) {
  ev_now_update(hub->loop);
  ev_timer_init(t, green__timer_wake_cb, timeout, 0.);
  t->data = g;
  ev_timer_start(hub->loop, t);
}

/* Block on a wait queue until woken through it, the timeout passes or the
   greenlet is killed. The waiter and its timer live on this stack and are
   removed on every exit path. */
int green__wait(green_hub_t *hub, green__node *waitq, double timeout) {
  green__waiter waiter;
  waiter.self = NULL;
  return green__wait_as(hub, waitq, timeout, &waiter);
}

/* green__wait with the caller's waiter, whose self the caller has set; on
   a return of 0 through green__wake_one, waiter->value is the waker's. */
int green__wait_as(green_hub_t *hub, green__node *waitq, double timeout,
                   green__waiter *waiter) {
  ev_timer timer;
  int status;
  waiter->g = hub->current;
  waiter->value = NULL;
  green__list_push(waitq, &waiter->node);
  if (green__has_deadline(timeout)) green__timer_start(hub, &timer, waiter->g, timeout);
  status = green__block(hub);
  if (green__has_deadline(timeout)) ev_timer_stop(hub->loop, &timer);
  green__list_remove(&waiter->node);
  return status;
}

/* Wait on waitq as often as it takes until done(arg) holds: for a caller
   that may not leave yet because its memory is in use elsewhere. A kill
   that comes meanwhile, or that already ended its wait (status), is kept
   for the caller's next blocking call. */
void green__wait_out(green_hub_t *hub, green__node *waitq,
                     int (*done)(const void *arg), const void *arg,
                     int status) {
  green__waiter waiter;
  int killed = status == GREEN_ECANCELED;
  while (!done(arg))
    if (green__wait_as(hub, waitq, GREEN_FOREVER, &waiter) == GREEN_ECANCELED)
      killed = 1;
  if (killed) hub->current->kill_pending = 1;
}

/* Wake the longest waiting greenlet that is still blocked on waitq, handing
   it value, and return its waiter (valid until that greenlet runs), or NULL
   if none waits. Waiters already woken another way (their timeout, a kill)
   are dropped on the way: they will not take what this wake hands over. */
green__waiter *green__wake_one(green__node *waitq, void *value) {
  green__node *node;
  while ((node = green__list_shift(waitq)) != NULL) {
    green__waiter *waiter = green__container(node, green__waiter, node);
    if (waiter->g->state == GREEN_BLOCKED) {
      waiter->value = value;
      green__wake(waiter->g, 0);
      return waiter;
    }
  }
  return NULL;
}

void green__wake_all(green__node *waitq, int status) {
  green__node *node;
  while ((node = green__list_shift(waitq)) != NULL)
    green__wake(green__container(node, green__waiter, node)->g, status);
}


/* ---------------------------------------------------------------- checks */

/* The hub of a caller that may block, or why it may not. */
int green__check_blocking(green_hub_t **out) {
  green_hub_t *hub = green__this_hub;
  if (hub == NULL) return GREEN_ESRCH;
  if (hub->current == &hub->hubg) return GREEN_EPERM;
  *out = hub;
  return 0;
}

/* As green__check_blocking, for a wait on an object that belongs to the
   hub owner. */
int green__check_blocking_on(green_hub_t *owner, green_hub_t **out) {
  int rc = green__check_blocking(out);
  if (rc < 0) return rc;
  return *out == owner ? 0 : GREEN_EXDEV;
}

/* The hub of a caller that only wakes others, which may be the hub greenlet
   (a libev callback), if owner is that hub. */
int green__check_nonblocking(green_hub_t *owner, green_hub_t **out) {
  green_hub_t *hub = green__this_hub;
  if (hub == NULL) return GREEN_ESRCH;
  if (hub != owner) return GREEN_EXDEV;
  *out = hub;
  return 0;
}

int green__check_timeout(double timeout) {
  if (timeout == GREEN_FOREVER) return 0;
  if (!(timeout >= 0)) return GREEN_EINVAL;   /* negative or NaN */
  return 0;
}


/* ---------------------------------------------------------------- yield */

int green_yield(void) {
  green_hub_t *hub;
  green_t *self;
  int rc = green__check_blocking(&hub);
  if (rc < 0) return rc;
  self = hub->current;
  if (!self->kill_pending && hub->ready_count == 0 && !green__poll_due(hub))
    return 0;
  if (!self->kill_pending) {
    self->state = GREEN_READY;
    green__ready_push(hub, self);
    schedule(hub);
  }
  if (self->kill_pending) {
    self->kill_pending = 0;
    return GREEN_ECANCELED;
  }
  return 0;
}
