/*
** internal.h: what the runtime's files share and a host never sees.
** Everything here is green__ prefixed and hidden from the shared library.
*/

#ifndef GREEN_INTERNAL_H
#define GREEN_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "context.h"
#include "green.h"
#include "list.h"

/* Built with AddressSanitizer (gcc says so one way, clang another). */
#if defined(__SANITIZE_ADDRESS__)
#  define GREEN_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define GREEN_ASAN 1
#  endif
#endif

/* Built with ThreadSanitizer. */
#if defined(__SANITIZE_THREAD__)
#  define GREEN_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define GREEN_TSAN 1
#  endif
#endif

#ifdef NDEBUG
#  define green__assert(cond, msg) ((void)0)
#else
#  define green__assert(cond, msg) \
     ((cond) ? (void)0 : green__assert_failed(msg, __FILE__, __LINE__))
#endif

/* Stack sizes a hub or a spawn may ask for. The default holds the deepest
   C recursion Lua 5.4 allows (200 nested C calls, 220 in a message
   handler) through its most stack-hungry functions, string.gsub callbacks
   among them, so Lua's own "C stack overflow" comes first;
   spec/hostile_spec.lua recurses through each to the limit. */
#define GREEN__STACK_DEFAULT (512u * 1024)
#define GREEN__STACK_MIN     (16u * 1024)
#define GREEN__STACK_MAX     ((size_t)1 << 30)

/*
** Bookkeeping of one stack, kept at its own top so that pooling needs no
** allocation. Usable stack is [lo, this header).
*/
typedef struct green__stack {
  green__node free_link;    /* in the hub's pool */
  struct green__arena *arena;   /* the arena it is a slot of, or NULL */
  char *lo;                 /* lowest usable byte */
  char *guard_lo;           /* guard page is [guard_lo, lo); empty if none */
  void *map;                /* own mapping to munmap; NULL in an arena */
  size_t map_size;
  size_t size;              /* usable size requested */
  const uint64_t *canary;   /* words just below lo, for arena stacks */
  unsigned valgrind_id;
  unsigned char is_default; /* of the hub's default size: may be pooled */
} green__stack;

struct green_greenlet {
  green__context ctx;
  green__node link;         /* ready queue, or the hub's record pool */
  green__node all;          /* every live greenlet of the hub */
  green_hub_t *hub;
  green__stack *stack;      /* NULL for the main greenlet, and until a
                               greenlet first runs (green__ready_next) */
  green_entry_t fn;
  void *arg;
  void *result;
  char *name;
  void *data;               /* green_set_data */
  void *binding_data;       /* green_set_binding_data */
  uint64_t id;
  green__node joiners;      /* green__waiter nodes of greenlets joining */
  ev_timer start_timer;     /* green_spawn_later */
  unsigned refs;
  green_state_t state;
  int wake_status;          /* what the blocking call returns */
  int exit_status;          /* 0 returned; GREEN_ECANCELED never started */
  unsigned char kill_pending;
  unsigned char stackless;  /* new and stackless: see greenlet.c */
  unsigned char joining;    /* blocked in green_join: waits on another */
  uint64_t blocked_at;      /* the hub's count of blocks when it blocked */
  void *asan_fake_stack;    /* sanitizer bookkeeping, see sched.c */
  const void *asan_bottom;
  size_t asan_size;
  void *tsan_fiber;
  size_t stack_size;        /* what it asked for, taken at its first run */
};

/* A greenlet waiting in a wait queue; lives on the waiter's stack. A waker
   that picks it may read `self` and hand it `value` (see green__wake_one). */
typedef struct green__waiter {
  green__node node;
  green_t *g;
  void *self;               /* the waiter's, for its waker */
  void *value;              /* the waker's, for the waiter */
} green__waiter;

/* A wait queue: its hub and its waiters. An event and a semaphore start
   with one, so one piece of code makes and frees all three. */
struct green_waitq {
  green_hub_t *hub;
  green__node waiters;      /* green__waiter nodes, FIFO */
};

/* Allocate size bytes that start with a wait queue on the caller's hub.
   NULL, with *rc GREEN_ESRCH or GREEN_ENOMEM, if it cannot. */
void *green__waitq_alloc(size_t size, int *rc);
/* Free the object that starts with q, unless greenlets wait on it
   (GREEN_EBUSY). */
int green__waitq_release(green_waitq_t *q);

#define GREEN__ARENA_SLOTS 64
#define GREEN__CANARY_WORDS 2

typedef struct green__arena {
  green__node link;         /* in the hub's list of arenas */
  void *map;
  size_t map_size;
  unsigned pooled;          /* slots in the pool */
  green__stack *slots[GREEN__ARENA_SLOTS];
} green__arena;

struct green_hub {
  struct ev_loop *loop;
  int own_loop;
  green_t *current;
  green_t main;             /* the thread's own stack, adopted */
  green_t hubg;             /* runs the loop */
  green_t *previous;        /* the greenlet switched away from last */
  green_t *run_waiter;      /* main greenlet inside green_hub_run* */

  green__node ready;        /* FIFO of green_t.link */
  unsigned ready_count;
  green__node stackless;    /* new greenlets no stack could be had for yet,
                               FIFO of green_t.link (greenlet.c) */
  unsigned stacks_held;     /* stacks greenlets hold: while any does, one
                               will come back for the stackless */
  green__node all;          /* green_t.all of live spawned greenlets */
  unsigned alive;
  green__node free_records;
  unsigned free_record_count;
  unsigned records_out;     /* spawned records not yet recycled */
  unsigned records_peak;    /* most out at once since memory was trimmed */
  uint64_t next_id, id_end; /* ids this hub may give, see green__next_id */

  uint64_t blocks;          /* greenlets that blocked, for blocked_at */
  uint64_t poll_due_ns;     /* coarse clock: poll the loop once past this */
  uint64_t switch_interval_ns;

  /* Waits on descriptors (io.c), per descriptor a list of them, so that
     green_cancel_fd finds a descriptor's waiters without a search. */
  struct green__fdwait **fd_waits;
  int fd_waits_len;

  ev_async wake;            /* green_hub_post from other threads */
  _Atomic(green_call_t *) posted;
  _Atomic unsigned posting; /* posters still touching the hub */

  /* stack pool, see stack.c */
  size_t stack_size;
  unsigned stack_pool_max, guarded_max;
  green__node free_stacks;  /* green__stack free_link, warmest first */
  unsigned free_stack_count;
  unsigned guarded_mapped, arena_slots;
  green__node arenas;
  uint64_t canary[GREEN__CANARY_WORDS];
  void *altstack;           /* signal stack for overflow reports */
  size_t altstack_size;

  green_hub_stats_t stats;
};

#define green__container(ptr, type, member) \
  ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* sched.c: the ready queue, switching, and the one wake-up path */
void green__switch_to(green_hub_t *hub, green_t *next);
void green__switch_landed(green_hub_t *hub);
void green__fiber_init(green_t *g, int adopt_thread);
void green__fiber_destroy(green_t *g);
void green__ready_push(green_hub_t *hub, green_t *g);
void green__ready_remove(green_hub_t *hub, green_t *g);
green_t *green__ready_shift(green_hub_t *hub);
green_t *green__ready_next(green_hub_t *hub);
void green__wake(green_t *g, int status);
int green__block(green_hub_t *hub);
int green__wait(green_hub_t *hub, green__node *waitq, double timeout);
int green__wait_as(green_hub_t *hub, green__node *waitq, double timeout,
                   green__waiter *waiter);
void green__wait_out(green_hub_t *hub, green__node *waitq,
                     int (*done)(const void *arg), const void *arg,
                     int status);
green__waiter *green__wake_one(green__node *waitq, void *value);
void green__wake_all(green__node *waitq, int status);
int green__check_nonblocking(green_hub_t *owner, green_hub_t **hub);
int green__check_blocking(green_hub_t **hub);
int green__check_blocking_on(green_hub_t *owner, green_hub_t **hub);
int green__check_timeout(double timeout);
int green__has_deadline(double timeout);
int green__poll_due(const green_hub_t *hub);
void green__polled(green_hub_t *hub);
void green__timer_wake_cb(struct ev_loop *loop, ev_timer *w, int revents);
void green__timer_start(green_hub_t *hub, ev_timer *t, green_t *g,
                        double timeout);

green__context *green__schedule_final(green_hub_t *hub);

/* greenlet.c */
void green__greenlet_reap(green_t *g);
int green__greenlet_equip(green_t *g);
void green__record_free_all(green_hub_t *hub);
uint64_t green__next_id(green_hub_t *hub);

/* hub.c */
/* The hub of this thread. Initial-exec: one instruction to read, no
   __tls_get_addr call, even in the Lua module that is loaded with dlopen
   (a pointer fits in the static TLS space glibc keeps for such modules). */
extern __thread green_hub_t *green__this_hub
    __attribute__((tls_model("initial-exec")));
green__context *green__hub_loop(void *arg);
void green__wake_stuck(green_hub_t *hub);

/* stack.c */
void green__stack_pool_init(green_hub_t *hub);
extern _Atomic int green__guard_regions;   /* stack.c */
extern long green__stack_mapping_budget;  /* stack.c */
int green__stack_acquire(green_hub_t *hub, size_t size, green__stack **out);
void green__stack_release(green_hub_t *hub, green__stack *stack);
void green__stack_pool_free(green_hub_t *hub);

/* Checked at every switch away from an arena stack, so inline and without
   memcmp. */
static inline int green__stack_canary_ok(const green_hub_t *hub,
                                         const green__stack *stack) {
  uint64_t diff = 0;
  int i;
  for (i = 0; i < GREEN__CANARY_WORDS; i++)
    diff |= stack->canary[i] ^ hub->canary[i];
  return diff == 0;
}

/* overflow.c */
void green__overflow_install(void);
int green__altstack_enable(green_hub_t *hub);
void green__altstack_disable(green_hub_t *hub);
void green__report_overflow(const green_t *g, const char *what,
                            const void *addr);

/* clock */
uint64_t green__coarse_ns(void);

void green__context_returned(void) __attribute__((noreturn));
void green__assert_failed(const char *msg, const char *file, int line)
    __attribute__((noreturn));

#endif
