/*
** hub.c: the hub greenlet and its libev loop, host entry points, and the
** thread-safe wake.
**
** The hub greenlet runs this loop:
**   1. poll the loop (without waiting if greenlets are ready);
**   2. if nothing is ready and no watcher is active, nothing can wake the
**      blocked greenlets: one of them gets GREEN_EDEADLK (or, if none is
**      blocked, a green_hub_run caller learns that nothing is left);
**   3. switch to the first ready greenlet; control comes back when the
**      greenlets have run out of work or the switch interval has passed.
*/

#include <math.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#  include <malloc.h>
#endif

#include "internal.h"

#define DEFAULT_POOL_MAX        1024u
#define DEFAULT_GUARDED_MAX     16384u
#define DEFAULT_SWITCH_INTERVAL 0.005

__thread green_hub_t *green__this_hub __attribute__((tls_model("initial-exec")));

green_hub_t *green_hub_current(void) {
  return green__this_hub;
}

green_t *green_hub_main(green_hub_t *hub) {
  return hub != NULL ? &hub->main : NULL;
}


/* ---------------------------------------------------------------- loop */

/* Whether a, blocked, should hear of a deadlock before b: one that waits
   for another greenlet (a join) can do nothing about it, so the others
   come first; then the one that has waited longest. */
static int stuck_before(const green_t *a, const green_t *b) {
  if (a->joining != b->joining) return b->joining;
  return a->blocked_at < b->blocked_at;
}

/* Nothing can wake a blocked greenlet: tell one, the main greenlet first
   if it waits, and let it run; the others wait on, and hear in turn if
   still nothing wakes them. With none blocked, a green_hub_run caller
   learns that nothing is left. */
void green__wake_stuck(green_hub_t *hub) {
  green__node *node;
  green_t *first = NULL;
  if (hub->main.state == GREEN_BLOCKED && hub->run_waiter != &hub->main) {
    green__wake(&hub->main, GREEN_EDEADLK);
    return;
  }
  for (node = hub->all.next; node != &hub->all; node = node->next) {
    green_t *g = green__container(node, green_t, all);
    if (g->state == GREEN_BLOCKED && (first == NULL || stuck_before(g, first)))
      first = g;
  }
  if (first != NULL)
    green__wake(first, GREEN_EDEADLK);
  else if (hub->run_waiter != NULL)
    green__wake(hub->run_waiter, 0);
}

/*
** After a burst of greenlets has ended, what they and their Lua threads
** took lies freed in the middle of malloc's heap, where glibc keeps it
** (1.1 GB after 200,000 Lua greenlets). The first time the hub has nothing
** to run once fewer than a quarter of the burst's greenlets are left, it
** asks glibc to give those pages back. Bursts smaller than this do not
** count: trimming walks the whole heap.
*/
#define TRIM_AFTER_BURST 4096u

static void trim_after_burst(green_hub_t *hub) {
  if (hub->records_peak < TRIM_AFTER_BURST ||
      hub->records_out >= hub->records_peak / 4)
    return;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  hub->records_peak = hub->records_out;
}

/* The hub greenlet: polls the loop and runs what it woke. Never returns. */
green__context *green__hub_loop(void *arg) {
  green_hub_t *hub = arg;
  green__switch_landed(hub);
  for (;;) {
    green_t *next;
    int alive;
    green__polled(hub);
    if (hub->ready_count == 0) trim_after_burst(hub);
    alive = ev_run(hub->loop, hub->ready_count > 0 ? EVRUN_NOWAIT : EVRUN_ONCE);
    if (hub->ready_count == 0 && !alive) green__wake_stuck(hub);
    /* Events may have woken nobody (a host watcher, a post): poll again. */
    if ((next = green__ready_next(hub)) != NULL) green__switch_to(hub, next);
  }
}


/* ---------------------------------------------------------------- posts */

static void run_posted(struct ev_loop *loop, ev_async *w, int revents) {
  green_hub_t *hub = w->data;
  green_call_t *calls, *reversed = NULL;
  (void)loop;
  (void)revents;
  calls = atomic_exchange_explicit(&hub->posted, NULL, memory_order_acquire);
  while (calls != NULL) {               /* newest first: reverse to FIFO */
    green_call_t *next = calls->next;
    calls->next = reversed;
    reversed = calls;
    calls = next;
  }
  while (reversed != NULL) {
    green_call_t *call = reversed;
    reversed = call->next;
    call->fn(call);                     /* may free call */
  }
}

/* Once a call is pushed, the hub may run it before ev_async_send below
   (woken by an earlier post), and what it wakes may free the hub: so a
   poster counts itself in hub->posting until its last touch of the hub,
   and green_hub_free waits for the count to drop to 0. */
int green_hub_post(green_hub_t *hub, green_call_t *call) {
  green_call_t *head;
  if (hub == NULL || call == NULL || call->fn == NULL) return GREEN_EINVAL;
  atomic_fetch_add_explicit(&hub->posting, 1, memory_order_relaxed);
  head = atomic_load_explicit(&hub->posted, memory_order_relaxed);
  do {
    call->next = head;
  } while (!atomic_compare_exchange_weak_explicit(
      &hub->posted, &head, call, memory_order_release, memory_order_relaxed));
  ev_async_send(hub->loop, &hub->wake);
  atomic_fetch_sub_explicit(&hub->posting, 1, memory_order_release);
  return 0;
}


/* ---------------------------------------------------------------- create */

static int check_options(const green_hub_options_t *opts) {
  if (opts == NULL) return 0;
  if (opts->stack_size != 0 && (opts->stack_size < GREEN__STACK_MIN ||
                                opts->stack_size > GREEN__STACK_MAX))
    return GREEN_EINVAL;
  if (!(opts->switch_interval >= 0) || opts->switch_interval > 3600)
    return GREEN_EINVAL;
  return 0;
}

static void apply_options(green_hub_t *hub, const green_hub_options_t *opts) {
  green_hub_options_t none;
  memset(&none, 0, sizeof none);
  if (opts == NULL) opts = &none;
  hub->stack_size = opts->stack_size ? opts->stack_size : GREEN__STACK_DEFAULT;
  hub->stack_pool_max = opts->stack_pool_max ? opts->stack_pool_max
                                             : DEFAULT_POOL_MAX;
  hub->guarded_max = opts->guarded_max ? opts->guarded_max
                                       : DEFAULT_GUARDED_MAX;
  green_hub_set_switch_interval(hub, opts->switch_interval > 0
                                         ? opts->switch_interval
                                         : DEFAULT_SWITCH_INTERVAL);
  hub->loop = opts->loop;
}

static void init_builtin(green_hub_t *hub, green_t *g) {
  g->hub = hub;
  g->id = green__next_id(hub);
  green__list_init(&g->link);
  green__list_init(&g->all);
  green__list_init(&g->joiners);
}

static void free_partial(green_hub_t *hub) {
  green__fiber_destroy(&hub->hubg);
  if (hub->hubg.stack != NULL) green__stack_release(hub, hub->hubg.stack);
  green__stack_pool_free(hub);
  if (hub->own_loop) ev_loop_destroy(hub->loop);
  free(hub->fd_waits);
  free(hub);
}

int green_hub_new(const green_hub_options_t *opts, green_hub_t **out) {
  green_hub_t *hub;
  int rc;
  if (out == NULL) return GREEN_EINVAL;
  if ((rc = check_options(opts)) < 0) return rc;
  if (green__this_hub != NULL) return GREEN_EEXIST;
  if ((hub = calloc(1, sizeof *hub)) == NULL) return GREEN_ENOMEM;
  apply_options(hub, opts);
  green__stack_pool_init(hub);
  green__list_init(&hub->ready);
  green__list_init(&hub->stackless);
  green__list_init(&hub->all);
  green__list_init(&hub->free_records);
  if (hub->loop == NULL) {
    hub->loop = ev_loop_new(EVFLAG_AUTO);
    hub->own_loop = 1;
    if (hub->loop == NULL) {
      free(hub);
      return GREEN_ENOMEM;
    }
  }
  init_builtin(hub, &hub->main);
  init_builtin(hub, &hub->hubg);
  rc = green__stack_acquire(hub, hub->stack_size, &hub->hubg.stack);
  if (rc == 0) rc = green__altstack_enable(hub);
  if (rc < 0) {
    free_partial(hub);
    return rc;
  }
  hub->main.state = GREEN_RUNNING;
  hub->hubg.state = GREEN_NEW;
  green__fiber_init(&hub->main, 1);
  green__fiber_init(&hub->hubg, 0);
  green__context_init(&hub->hubg.ctx, hub->hubg.stack->lo,
                      hub->hubg.stack->size, green__hub_loop, hub);
  hub->current = &hub->main;
  hub->previous = &hub->main;

  ev_async_init(&hub->wake, run_posted);
  hub->wake.data = hub;
  ev_async_start(hub->loop, &hub->wake);
  ev_unref(hub->loop);                  /* a post is not a reason to live */
  green__overflow_install();
  hub->poll_due_ns = green__coarse_ns() + hub->switch_interval_ns;
  green__this_hub = hub;
  *out = hub;
  return 0;
}

int green_hub_free(green_hub_t *hub) {
  if (hub == NULL) return GREEN_EINVAL;
  if (hub != green__this_hub) return GREEN_EXDEV;
  if (hub->current != &hub->main) return GREEN_EPERM;
  if (hub->alive > 0 || hub->records_out > 0) return GREEN_EBUSY;
  while (atomic_load_explicit(&hub->posting, memory_order_acquire) != 0)
    sched_yield();              /* a poster's last steps, see green_hub_post */
  ev_ref(hub->loop);
  ev_async_stop(hub->loop, &hub->wake);
  green__altstack_disable(hub);
  green__record_free_all(hub);
  green__this_hub = NULL;
  free_partial(hub);
  return 0;
}


/* ---------------------------------------------------------------- run */

static int check_host(green_hub_t *hub) {
  if (hub == NULL) return GREEN_EINVAL;
  if (hub != green__this_hub) return GREEN_EXDEV;
  if (hub->current != &hub->main) return GREEN_EPERM;
  return 0;
}

/* Block the main greenlet until nothing is left, or the budget is spent
   (budget < 0: no budget). The deadline timer is unreferenced so that it
   does not count as work. */
static int run_main(green_hub_t *hub, double budget) {
  ev_timer deadline;
  int status;
  if (budget >= 0) {
    green__timer_start(hub, &deadline, &hub->main, budget);
    ev_unref(hub->loop);
  }
  hub->run_waiter = &hub->main;
  status = green__block(hub);
  hub->run_waiter = NULL;
  if (budget >= 0) {
    ev_ref(hub->loop);
    ev_timer_stop(hub->loop, &deadline);
  }
  return status;
}

int green_hub_run(green_hub_t *hub) {
  int rc = check_host(hub);
  if (rc < 0) return rc;
  return run_main(hub, -1);
}

int green_hub_run_slice(green_hub_t *hub, double seconds) {
  int rc = check_host(hub);
  if (rc < 0) return rc;
  if (!(seconds >= 0) || isinf(seconds)) return GREEN_EINVAL;
  rc = run_main(hub, seconds);
  if (rc == GREEN_ETIMEDOUT) return 1;
  return rc;
}


/* ---------------------------------------------------------------- misc */

struct ev_loop *green_hub_loop(green_hub_t *hub) {
  return hub != NULL ? hub->loop : NULL;
}

void green_hub_ref(green_hub_t *hub) {
  if (hub != NULL) ev_ref(hub->loop);
}

void green_hub_unref(green_hub_t *hub) {
  if (hub != NULL) ev_unref(hub->loop);
}

int green_hub_set_switch_interval(green_hub_t *hub, double seconds) {
  if (hub == NULL || !(seconds > 0) || seconds > 3600) return GREEN_EINVAL;
  hub->switch_interval_ns = (uint64_t)(seconds * 1e9);
  return 0;
}

double green_hub_switch_interval(green_hub_t *hub) {
  return hub != NULL ? (double)hub->switch_interval_ns / 1e9 : 0.0;
}

int green_hub_stats(green_hub_t *hub, green_hub_stats_t *stats) {
  if (hub == NULL || stats == NULL) return GREEN_EINVAL;
  *stats = hub->stats;
  stats->alive = hub->alive;
  stats->ready = hub->ready_count;
  stats->stacks_mapped = hub->guarded_mapped;
  stats->stacks_in_arenas = hub->arena_slots;
  stats->stacks_pooled = hub->free_stack_count;
  stats->stackless = (unsigned)green__list_length(&hub->stackless);
  return 0;
}

int green_hub_foreach(green_hub_t *hub, int (*fn)(green_t *g, void *arg),
                      void *arg) {
  green__node *node;
  if (hub == NULL || fn == NULL) return GREEN_EINVAL;
  for (node = hub->all.next; node != &hub->all; node = node->next) {
    int rc = fn(green__container(node, green_t, all), arg);
    if (rc != 0) return rc;
  }
  return 0;
}
