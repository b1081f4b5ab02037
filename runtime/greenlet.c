/*
** greenlet.c: greenlet records: spawn, kill, join, results and names.
**
** A record is reference counted. The hub holds one reference from spawn
** until the greenlet has died and its stack has been left; the spawner may
** hold another. Records and stacks are pooled by the hub, so a steady stream
** of spawns allocates nothing.
*/

#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RECORD_POOL_MAX 1024

/* green_t.stackless: where a new greenlet without a stack is. */
enum { STACKLESS_NO, STACKLESS_WAITING, STACKLESS_PROMOTED };

/* Ids are unique in the process. A hub takes them from the shared counter
   a block at a time, so that a spawn does not pay for a locked add (which
   also waits for the spawn's earlier stores). Within a hub they rise in
   spawn order. */
#define ID_BLOCK 1024

static _Atomic uint64_t last_id;

uint64_t green__next_id(green_hub_t *hub) {
  if (hub->next_id == hub->id_end) {
    hub->next_id = atomic_fetch_add_explicit(&last_id, ID_BLOCK,
                                             memory_order_relaxed) + 1;
    hub->id_end = hub->next_id + ID_BLOCK;
  }
  return hub->next_id++;
}


/* ---------------------------------------------------------------- records */

static green_t *record_new(green_hub_t *hub) {
  green__node *node = green__list_shift(&hub->free_records);
  green_t *g;
  if (node != NULL) {
    hub->free_record_count--;
    g = green__container(node, green_t, link);
  } else {
    g = malloc(sizeof *g);
    if (g == NULL) return NULL;
  }
  memset(g, 0, sizeof *g);
  g->hub = hub;
  green__list_init(&g->link);
  green__list_init(&g->all);
  green__list_init(&g->joiners);
  if (++hub->records_out > hub->records_peak)
    hub->records_peak = hub->records_out;
  return g;
}

static void record_recycle(green_t *g) {
  green_hub_t *hub = g->hub;
  free(g->name);
  g->name = NULL;
  hub->records_out--;
  if (hub->free_record_count < RECORD_POOL_MAX) {
    /* at the head: the next spawn takes the record still in the caches */
    green__list_unshift(&hub->free_records, &g->link);
    hub->free_record_count++;
  } else {
    free(g);
  }
}

void green__record_free_all(green_hub_t *hub) {
  green__node *node;
  while ((node = green__list_shift(&hub->free_records)) != NULL)
    free(green__container(node, green_t, link));
  hub->free_record_count = 0;
}

/* The main and hub greenlets live inside the hub and are not counted. */
static int is_builtin(const green_t *g) {
  return g == &g->hub->main || g == &g->hub->hubg;
}

void green_retain(green_t *g) {
  if (g != NULL && !is_builtin(g)) g->refs++;
}

void green_release(green_t *g) {
  if (g == NULL || is_builtin(g)) return;
  green__assert(g->refs > 0, "green_release without a reference");
  if (--g->refs == 0) record_recycle(g);
}


/* ---------------------------------------------------------------- life */

/* The greenlet is dead: record why, wake its joiners, leave the live set. */
static void mark_dead(green_t *g, int exit_status) {
  green_hub_t *hub = g->hub;
  g->state = GREEN_DEAD;
  g->exit_status = exit_status;
  green__list_remove(&g->all);
  hub->alive--;
  green__wake_all(&g->joiners, 0);
}

/* The first greenlet waiting for a stack tries again: ready, ahead of every
   greenlet spawned after it, so that starts keep their order. */
static void promote_stackless(green_hub_t *hub) {
  green_t *first;
  if (green__list_empty(&hub->stackless)) return;
  first = green__container(green__list_shift(&hub->stackless), green_t, link);
  first->stackless = STACKLESS_PROMOTED;
  green__list_unshift(&hub->ready, &first->link);
  hub->ready_count++;
}

/* Called once the dead greenlet's stack is no longer in use: the stack goes
   back to the pool, warm for the next greenlet to start, and the hub drops
   its reference. The first greenlet waiting for a stack is ready again. */
void green__greenlet_reap(green_t *g) {
  green_hub_t *hub = g->hub;
  if (g->stack != NULL) {
    green__fiber_destroy(g);
    green__stack_release(hub, g->stack);
    g->stack = NULL;
    hub->stacks_held--;
    promote_stackless(hub);
  }
  green_release(g);
}

/* A new greenlet that can never have a stack: it ends as if killed before
   it started, with the reason as its exit status. The next one waiting
   tries then, as nothing else would make it. */
static void refuse_start(green_t *g, int rc) {
  green_hub_t *hub = g->hub;
  mark_dead(g, rc);
  green__greenlet_reap(g);
  if (hub->stacks_held == 0) promote_stackless(hub);
}

/* A greenlet's life on its own stack; returns what runs after it. */
static green__context *greenlet_main(void *arg) {
  green_t *g = arg;
  green_hub_t *hub = g->hub;
  green__switch_landed(hub);
  g->result = g->fn(g->arg);
  mark_dead(g, 0);
  return green__schedule_final(hub);
}

static int check_spawn(green_entry_t fn, const green_spawn_options_t *opts,
                       green_hub_t **hub, size_t *stack_size) {
  *hub = green__this_hub;
  if (*hub == NULL) return GREEN_ESRCH;
  if (fn == NULL) return GREEN_EINVAL;
  *stack_size = (*hub)->stack_size;
  if (opts != NULL && opts->stack_size != 0) {
    if (opts->stack_size < GREEN__STACK_MIN ||
        opts->stack_size > GREEN__STACK_MAX)
      return GREEN_EINVAL;
    *stack_size = opts->stack_size;
  }
  return 0;
}

/*
** Give a greenlet about to run for the first time its stack. A greenlet
** holds none until then, so a burst of spawns maps nothing: each takes
** the stack the last one to end gave back. Returns 0, or what stopped it:
** it then waits in the stackless queue until a greenlet gives a stack
** back (green__greenlet_reap), in the order it was spawned, or if none
** holds one that could, it ends with the reason. Greenlets spawned after
** one that waits wait behind it.
*/
int green__greenlet_equip(green_t *g) {
  green_hub_t *hub = g->hub;
  int promoted = g->stackless == STACKLESS_PROMOTED, rc;
  g->stackless = 0;
  if (!promoted && !green__list_empty(&hub->stackless))
    rc = GREEN_EAGAIN;
  else if ((rc = green__stack_acquire(hub, g->stack_size, &g->stack)) == 0) {
    hub->stacks_held++;
    green__fiber_init(g, 0);
    green__context_init(&g->ctx, g->stack->lo, g->stack->size, greenlet_main,
                        g);
    return 0;
  }
  if (hub->stacks_held == 0 && rc != GREEN_EAGAIN) {
    refuse_start(g, rc);
  } else {
    g->stackless = STACKLESS_WAITING;
    if (promoted) green__list_unshift(&hub->stackless, &g->link);
    else green__list_push(&hub->stackless, &g->link);
  }
  return rc;
}

static void start_later_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  green_t *g = w->data;
  (void)loop;
  (void)revents;
  green__ready_push(g->hub, g);
}

static int spawn(double delay, green_entry_t fn, void *arg,
                 const green_spawn_options_t *opts, green_t **out) {
  green_hub_t *hub;
  size_t stack_size;
  green_t *g;
  int rc = check_spawn(fn, opts, &hub, &stack_size);
  if (rc < 0) return rc;
  if (!(delay >= 0)) return GREEN_EINVAL;
  g = record_new(hub);
  if (g == NULL) return GREEN_ENOMEM;
  if (opts != NULL && opts->name != NULL &&
      (g->name = strdup(opts->name)) == NULL) {
    record_recycle(g);
    return GREEN_ENOMEM;
  }
  g->stack_size = stack_size;
  g->fn = fn;
  g->arg = arg;
  g->id = green__next_id(hub);
  g->state = GREEN_NEW;
  g->refs = out != NULL ? 2 : 1;
  green__list_push(&hub->all, &g->all);
  hub->alive++;
  hub->stats.spawned++;
  if (delay > 0) {
    ev_timer_init(&g->start_timer, start_later_cb, delay, 0.);
    g->start_timer.data = g;
    ev_timer_start(hub->loop, &g->start_timer);
  } else {
    green__ready_push(hub, g);
  }
  if (out != NULL) *out = g;
  return 0;
}

int green_spawn(green_entry_t fn, void *arg, const green_spawn_options_t *opts,
                green_t **out) {
  return spawn(0, fn, arg, opts, out);
}

int green_spawn_later(double seconds, green_entry_t fn, void *arg,
                      const green_spawn_options_t *opts, green_t **out) {
  return spawn(seconds, fn, arg, opts, out);
}


/* ---------------------------------------------------------------- control */

/* The hub of the caller, if g may be acted on from here. */
static int check_target(const green_t *g, green_hub_t **out) {
  green_hub_t *hub = green__this_hub;
  if (hub == NULL) return GREEN_ESRCH;
  if (g == NULL) return GREEN_EINVAL;
  if (g->hub != hub) return GREEN_EXDEV;
  if (g == &hub->hubg) return GREEN_EINVAL;
  *out = hub;
  return 0;
}

int green_kill(green_t *g) {
  green_hub_t *hub;
  int rc = check_target(g, &hub);
  if (rc < 0) return rc;
  switch (g->state) {
    case GREEN_DEAD:
      break;
    case GREEN_NEW:       /* never runs, and holds no stack */
      if (ev_is_active(&g->start_timer)) {
        ev_timer_stop(hub->loop, &g->start_timer);
      } else if (g->stackless == STACKLESS_WAITING) {
        green__list_remove(&g->link);
        g->stackless = 0;
      } else {
        green__ready_remove(hub, g);
      }
      mark_dead(g, GREEN_ECANCELED);
      green__greenlet_reap(g);
      break;
    case GREEN_BLOCKED:
      green__wake(g, GREEN_ECANCELED);
      break;
    case GREEN_READY:
    case GREEN_RUNNING:
      g->kill_pending = 1;
      break;
  }
  return 0;
}

int green_cancel_kill(green_t *g) {
  green_hub_t *hub;
  int rc = check_target(g, &hub), was = 0;
  if (rc < 0) return rc;
  was = g->kill_pending;
  g->kill_pending = 0;
  return was;
}

int green_kill_pending(const green_t *g) {
  return g != NULL && (g->kill_pending || (g->state == GREEN_READY &&
                                           g->wake_status == GREEN_ECANCELED));
}

int green_join(green_t *g, double timeout) {
  green_hub_t *hub;
  int rc = check_target(g, &hub);
  if (rc < 0) return rc;
  if ((rc = green__check_timeout(timeout)) < 0) return rc;
  if ((rc = green__check_blocking(&hub)) < 0) return rc;
  if (g->state == GREEN_DEAD) return 0;
  if (g == hub->current) return GREEN_EDEADLK;
  hub->current->joining = 1;
  rc = green__wait(hub, &g->joiners, timeout);
  hub->current->joining = 0;
  return rc;
}

green_t *green_current(void) {
  green_hub_t *hub = green__this_hub;
  return hub != NULL ? hub->current : NULL;
}

green_state_t green_state(const green_t *g) {
  return g->state;
}

int green_result(const green_t *g, void **result) {
  if (g == NULL) return GREEN_EINVAL;
  if (g->state != GREEN_DEAD) return GREEN_EAGAIN;
  if (g->exit_status < 0) return g->exit_status;
  if (result != NULL) *result = g->result;
  return 0;
}

const char *green_name(const green_t *g) {
  return g != NULL ? g->name : NULL;
}

int green_set_name(green_t *g, const char *name) {
  char *copy = NULL;
  if (g == NULL) return GREEN_EINVAL;
  if (name != NULL && (copy = strdup(name)) == NULL) return GREEN_ENOMEM;
  free(g->name);
  g->name = copy;
  return 0;
}

uint64_t green_id(const green_t *g) {
  return g != NULL ? g->id : 0;
}

void green_set_data(green_t *g, void *data) {
  if (g != NULL) g->data = data;
}

void *green_data(const green_t *g) {
  return g != NULL ? g->data : NULL;
}

void green_set_binding_data(green_t *g, void *data) {
  if (g != NULL) g->binding_data = data;
}

void *green_binding_data(const green_t *g) {
  return g != NULL ? g->binding_data : NULL;
}
