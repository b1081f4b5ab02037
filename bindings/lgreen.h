/*
** lgreen.h: what the Lua binding files share. The bindings are thin: the
** scheduling is the runtime's (runtime/green.h); here Lua values are kept
** alive, errors are raised, and results are stored.
*/

#ifndef LGREEN_H
#define LGREEN_H

#include <lauxlib.h>
#include <lua.h>

#include "green.h"

#define LGREEN_GREENLET "green.Greenlet"
#define LGREEN_TIMEOUT "green.Timeout"

/* A Lua thread for greenlets, with its two registry slots (threads.c). */
typedef struct lgreen_thread {
  lua_State *T;
  int anchor;               /* registry: T itself, while it runs or idles */
  int handle;               /* registry: the handle of its greenlet */
} lgreen_thread;

/* What the module keeps per Lua state: finished greenlets' Lua threads,
   kept for reuse (as many as the runtime keeps stacks), oldest first; the
   Greenlet metatables; the count of adopted handles (greenlet.c). */
#define LGREEN_IDLE_MAX 1024
typedef struct lgreen_state {
  lgreen_thread idle[LGREEN_IDLE_MAX];
  int count;
  int low;                  /* fewest idle since the collector last ran */
  int threads;              /* made and not yet let go of: idle or running */
  int sentinel;             /* registry: the sentinel's metatable */
  int armed;                /* a sentinel waits for the next cycle */
  int metatable;            /* registry: the Greenlet metatable */
  int bare_metatable;       /* registry: the same for handles without
                               fields (greenlet.c) */
  const void *registry;     /* the state's: tells its handles from those
                               of other states on the same hub */
  int adopted;              /* handles of greenlets Lua did not spawn */
  int adopted_sweep_at;     /* let go of the dead ones at this count */
  lua_State *maker;         /* makes threads for greenlets as they start,
                               on whatever C stack that is (threads.c) */
} lgreen_state;

/*
** A Lua greenlet: a Lua thread run with lua_pcall on a C greenlet's stack.
** The userdata is the Lua handle. Until the greenlet starts it holds no
** thread: its function and arguments wait in user values past the UV_*
** ones, and a registry slot of its own holds the handle; once it starts,
** its thread's handle slot does. Its user values (UV_*) keep what is kept
** in Lua.
*/
typedef struct lgreen {
  const void *marker;       /* tells a Greenlet from other userdata */
  green_t *g;               /* C greenlet, referenced until it finished;
                               then NULL: the handle needs no finalizer */
  uint64_t id;
  lgreen_thread thread;     /* what it runs on; T NULL once it finished */
  lgreen_state *state;        /* where the thread goes back */
  int pending_ref;          /* registry: error to raise at the next kill */
  int displaced_ref;        /* registry: a Timeout's error a kill went
                               before; raised at the block after it */
  int site_line;            /* the line green.spawn was called from */
  unsigned started : 1, done : 1, failed : 1, raw : 1, adopted : 1;
  unsigned has_env : 1;     /* its UV_ENV table was made */
  unsigned is_spawner : 1;  /* the spawner table knows it (spawntree.c) */
  unsigned no_memory : 1;   /* failed with no memory to keep its end */
  unsigned kill_pending : 1;  /* killed, and the kill not yet raised: a
                                 Timeout due meanwhile waits (timeout.c) */
  unsigned nargs : 20;      /* arguments waiting for the start */
} lgreen;
_Static_assert(sizeof(lgreen) <= 64, "a raw handle outgrows the fast bins");

/*
** A handle's user values. A handle from spawn_raw has only UV_ENV: with
** Lua's 40-byte header, one user value and a 64-byte record it is a
** 120-byte allocation, the largest that glibc frees to its fast bins. (As a
** 200-byte one, spawn_raw(f):join() took 169 more instructions, most of
** them in malloc and free.) A handle of a greenlet Lua did not spawn has
** UV_LOCALS too; one from green.spawn has all of them: its spawn tree is
** kept apart from the table of results and links, so that a spawn makes
** no table.
*/
enum {
  UV_ENV = 1,         /* table of the ENV_* slots below, made when needed */
  UV_LOCALS,          /* spawn-tree locals, shared along the tree */
  UV_SPAWNER,         /* its spawner's id (spawntree.c) */
  UV_SITE,            /* the function it was spawned from; false from C */
  UV_SPAWNER_SITES,   /* its spawner's sites, shared with its siblings */
  UV_SITES,           /* its own sites, made when first needed */
  UV_COUNT = UV_SITES
};

/* Slots of the UV_ENV table: integer keys, so no string is hashed or
   compared when a greenlet ends. */
enum {
  ENV_VALUE = 1,      /* {n = count, results...} */
  ENV_EXCEPTION,
  ENV_TRACEBACK,
  ENV_NAME,
  ENV_LINKS,          /* {{fn, kind}, ...} */
  ENV_LOCALS,         /* spawn-tree locals of a handle without UV_LOCALS */
  ENV_SLOTS = ENV_LOCALS
};

/* module.c */
void lgreen_new_class(lua_State *L, const char *tname, const luaL_Reg *methods,
                      lua_CFunction index, const luaL_Reg *metamethods);
void lgreen_registry_table(lua_State *L, const void *key, const char *mode);
int lgreen_raise_result(lua_State *L, int rc, const char *what);
int lgreen_push_failure(lua_State *L, int rc, const char *what);
void lgreen_refuse_block(lua_State *L, const char *what);
double lgreen_check_seconds(lua_State *L, int index);
double lgreen_opt_timeout(lua_State *L, int index);
void lgreen_check_callable(lua_State *L, int index);
int lgreen_wait_until(lua_State *L, green_waitq_t *watchers, double timeout,
                      int (*ready)(lua_State *L, void *arg), void *arg,
                      const char *what);
void lgreen_push_exit(lua_State *L);
int lgreen_is_exit(lua_State *L, int index);
void lgreen_report_error(lua_State *L, int greenlet, int err, int traceback);
const char *lgreen_describe(lua_State *L, int index);

/* greenlet.c */
void lgreen_open_greenlet(lua_State *L);
lgreen *lgreen_check(lua_State *L, int index);
lgreen *lgreen_current(lua_State *L);
lgreen *lgreen_push_current(lua_State *L);
lgreen *lgreen_push_known(lua_State *L, green_t *g);
lgreen *lgreen_push_greenlet(lua_State *L, green_t *g);
void lgreen_forget_adopted(lua_State *L);
int lgreen_spawn(lua_State *L, int fn_index);
int lgreen_spawn_raw(lua_State *L, int fn_index);
int lgreen_push_env(lua_State *L, int ud);
void lgreen_push_handle(lua_State *L, lgreen *lg);
const char *lgreen_state_name(const lgreen *lg);

/* spawntree.c */
void lgreen_record_spawn_tree(lua_State *L, int ud);
void lgreen_push_spawner(lua_State *L, int ud);
void lgreen_push_spawned_at(lua_State *L, int ud);
void lgreen_open_spawntree(lua_State *L);

/* timeout.c */
void lgreen_open_timeout(lua_State *L);

/* event.c */
void lgreen_open_event(lua_State *L);

/* queue.c */
void lgreen_open_queue(lua_State *L);

/* codec.c: Lua values as bytes, between lua_States (see codec.c) */
/* A message being written. Its bytes live in a plain userdata at stack
   index box, replaced by a larger one as it grows, so an error anywhere
   leaves nothing to free and no finalizer is needed. */
typedef struct lgreen_buffer {
  char *data;
  size_t len, cap;
  int box;
} lgreen_buffer;
void lgreen_buffer_init(lua_State *L, lgreen_buffer *b);   /* pushes box */
/* Values first.. first+n-1, numbered from `position` in refusals ("what
   position"; 0 is "the function"). */
void lgreen_encode(lua_State *L, int first, int n, const char *what,
                   int position, lgreen_buffer *out);
int lgreen_decode(lua_State *L, const char *data, size_t len, int trusted);
void lgreen_open_codec(lua_State *L);

/* threadpool.c */
/* Set on a worker thread of a ThreadPool. Read on every blocking call, so
   initial-exec, as the hub's own (see runtime/hub.c). */
extern __thread int lgreen_on_worker __attribute__((tls_model("initial-exec")));
void lgreen_open_threadpool(lua_State *L);

/* Raise if the caller may not block here; then the runtime's own checks
   follow. Inline, as every blocking call passes through it. Inside a
   finalizer lua_gc refuses every request (it returns -1): the one place
   where switching away would leave Lua's collector mid-step. */
static inline void lgreen_check_can_block(lua_State *L, const char *what) {
  if (lgreen_on_worker || lua_gc(L, LUA_GCCOUNT, 0) < 0 ||
      green_hub_current() == NULL)
    lgreen_refuse_block(L, what);
}

/* Turn the result of a blocking runtime call into a Lua error where it is
   one; return it otherwise (0, counts, GREEN_ETIMEDOUT) for the caller. */
static inline int lgreen_check_result(lua_State *L, int rc, const char *what) {
  return rc == 0 ? 0 : lgreen_raise_result(L, rc, what);
}

/* deferred.c */
void lgreen_open_deferred(lua_State *L);

/* semaphore.c */
void lgreen_open_semaphore(lua_State *L);

/* threads.c */
int lgreen_thread_take(lgreen_state *state, lgreen_thread *t);
void lgreen_thread_give(lua_State *L, lgreen_state *state, lgreen_thread t);
lgreen_state *lgreen_state_open(lua_State *L);

/* hub.c */
void lgreen_open_hub(lua_State *L);

/* io.c */
void lgreen_open_io(lua_State *L);

#endif
