/*
** greenlet.c: the Greenlet type. A Lua greenlet is a Lua thread run with
** lua_pcall on a C greenlet's own stack, so a blocking call anywhere in it
** (pcall, metamethods, sort comparators, coroutines) is a C-level switch.
*/

#include <stdio.h>
#include <string.h>

#include "lgreen.h"

/* Registry key of the table {[green_t address] = handle} of greenlets Lua
   did not spawn. */
static const char adopted_key = 'a';


/* Link kinds. A raw link is called as its greenlet ends, on that
   greenlet, instead of in a greenlet of its own (gevent's rawlink). */
enum { LINK_ANY, LINK_VALUE, LINK_EXCEPTION, LINK_RAW };


/* Every record starts with this address: a userdata of a record's size
   that carries it is a Greenlet. Two API calls, where comparing
   metatables takes five and a registry lookup. */
static const char marker = 'g';

lgreen *lgreen_check(lua_State *L, int index) {
  lgreen *lg = lua_touserdata(L, index);
  if (lg == NULL || lua_rawlen(L, index) != sizeof *lg || lg->marker != &marker)
    luaL_typeerror(L, index, "Greenlet");
  return lg;
}

/*
** A handle shows fields (name, value, exception, ...) only once it has its
** user value table. Until then its metatable can be a bare one, whose
** __index is the methods table itself: a method lookup without a call into
** C, about 200 instructions fewer per g:join(). Raw greenlets start bare,
** as do the handles of greenlets Lua did not spawn; lgreen_push_env gives
** them the full metatable when it makes the table. Only getmetatable tells
** the two apart.
*/
static int starts_bare(const lgreen *lg) {
  return lg->raw || lg->adopted;
}

/* Give the handle at ud (an absolute index) the metatable its state asks
   for. */
static void set_metatable(lua_State *L, lgreen *lg, int ud) {
  int bare = starts_bare(lg) && !lg->has_env;
  lua_rawgeti(L, LUA_REGISTRYINDEX,
              bare ? lg->state->bare_metatable : lg->state->metatable);
  lua_setmetatable(L, ud);
}

static void init_record(lgreen *lg, lgreen_state *state) {
  memset(lg, 0, sizeof *lg);
  lg->marker = &marker;
  lg->state = state;
  lg->pending_ref = lg->displaced_ref = LUA_NOREF;
  lg->thread.anchor = lg->thread.handle = LUA_NOREF;
}

/* Push the UV_ENV table of the handle at ud (an absolute index), made on
   first use. */
int lgreen_push_env(lua_State *L, int ud) {
  if (lua_getiuservalue(L, ud, UV_ENV) != LUA_TTABLE) {
    lgreen *lg = lua_touserdata(L, ud);
    lua_pop(L, 1);
    lua_createtable(L, ENV_SLOTS, 0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, ud, UV_ENV);
    lg->has_env = 1;
    if (starts_bare(lg)) set_metatable(L, lg, ud);   /* it may have fields */
  }
  return lua_gettop(L);
}

/*
** Handles for greenlets that Lua did not spawn (the main greenlet, or a C
** host's) are kept in a registry table under the greenlet's address, so
** that the address names it alone, and have a registry slot of their own
** for the running greenlet's quick lookup. They hold a reference to the
** greenlet's record. Those of greenlets that died are let go of from time
** to time, and all of them when the state closes: the greenlets outlive it
** on the hub, and must not point into it. A handle let go of stays valid,
** dead.
*/
static void let_go(lua_State *L, lgreen *lg) {
  if (green_binding_data(lg->g) == lg) green_set_binding_data(lg->g, NULL);
  green_release(lg->g);
  lg->g = NULL;
  lg->done = 1;
  luaL_unref(L, LUA_REGISTRYINDEX, lg->thread.handle);
  lg->thread.handle = LUA_NOREF;
}

/* Let go of the adopted greenlets in the table at t that died, or of all. */
static void let_go_adopted(lua_State *L, int t, lgreen_state *state, int all) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lgreen *lg = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (all || green_state(lg->g) == GREEN_DEAD) {
      let_go(L, lg);
      lua_pushvalue(L, -1);
      lua_pushnil(L);
      lua_rawset(L, t);
      state->adopted--;
    }
  }
}

void lgreen_forget_adopted(lua_State *L) {
  lgreen_registry_table(L, &adopted_key, NULL);
  let_go_adopted(L, lua_gettop(L), lgreen_state_open(L), 1);
  lua_pop(L, 1);
}

/* Push a new handle for g, which L's state has none for. */
static lgreen *adopt(lua_State *L, green_t *g) {
  lgreen_state *state = lgreen_state_open(L);
  lgreen *lg;
  int t;
  lgreen_registry_table(L, &adopted_key, NULL);
  t = lua_gettop(L);
  if (state->adopted >= state->adopted_sweep_at) {
    let_go_adopted(L, t, state, 0);
    state->adopted_sweep_at = 2 * state->adopted + 64;
  }
  lg = lua_newuserdatauv(L, sizeof *lg, UV_LOCALS);
  init_record(lg, state);
  lg->g = g;                    /* no thread: it may run on any Lua thread */
  lg->id = green_id(g);
  lg->started = lg->adopted = 1;
  set_metatable(L, lg, lua_gettop(L));
  if (g == green_hub_main(green_hub_current())) {
    lgreen_push_env(L, lua_gettop(L));
    lua_pushliteral(L, "main");
    lua_rawseti(L, -2, ENV_NAME);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, -1);
  lg->thread.handle = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, t, g);         /* nothing can fail from here on */
  lua_remove(L, t);
  green_retain(g);
  if (green_binding_data(g) == NULL) green_set_binding_data(g, lg);
  state->adopted++;
  return lg;
}

void lgreen_push_handle(lua_State *L, lgreen *lg) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, lg->thread.handle);
}

/*
** Several Lua states may share a hub. A greenlet's binding data is the
** handle of the state that spawned it, or of the first that adopted it;
** another state finds its own handle for it in its table of adopted ones.
*/
static int in_state(lua_State *L, const lgreen *lg) {
  return lg->state->registry == lua_topointer(L, LUA_REGISTRYINDEX);
}

/* Push the handle L's state has for g and return its record; NULL, with
   nothing pushed, if it has none. */
lgreen *lgreen_push_known(lua_State *L, green_t *g) {
  lgreen *lg = green_binding_data(g);
  if (lg != NULL && in_state(L, lg)) {
    lgreen_push_handle(L, lg);
    return lg;
  }
  lgreen_registry_table(L, &adopted_key, NULL);
  if (lua_rawgetp(L, -1, g) == LUA_TUSERDATA) {
    lua_remove(L, -2);
    return lua_touserdata(L, -1);
  }
  lua_pop(L, 2);
  return NULL;
}

/* Push the handle of g in L's state, made if needed; return its record. */
lgreen *lgreen_push_greenlet(lua_State *L, green_t *g) {
  lgreen *lg = lgreen_push_known(L, g);
  return lg != NULL ? lg : adopt(L, g);
}

lgreen *lgreen_push_current(lua_State *L) {
  return lgreen_push_greenlet(L, green_current());
}

lgreen *lgreen_current(lua_State *L) {
  lgreen *lg = lgreen_push_current(L);
  lua_pop(L, 1);
  return lg;
}


/* ---------------------------------------------------------------- death */

static int spawn_common(lua_State *L, lgreen_state *state, double delay,
                        int fn_index, int raw);

/* Call the raw link at the top with the greenlet at ud; an error it raises
   is reported and stops nothing. */
static void call_raw_link(lua_State *L, int ud) {
  lua_pushvalue(L, ud);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "green: a rawlink callback failed: %s\n",
            lgreen_describe(L, -1));
    lua_pop(L, 2);
  }
}

/* Start every link whose kind matches, each in a greenlet of its own, with
   the dead greenlet as argument; call the raw ones. */
static void fire_links(lua_State *L, lgreen *lg, int ud, int env) {
  lua_Integer i, n;
  if (lua_rawgeti(L, env, ENV_LINKS) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = 1; i <= n; i++) {
    int kind, top = lua_gettop(L);
    lua_rawgeti(L, top, i);               /* {fn, kind} */
    lua_rawgeti(L, -1, 2);
    kind = (int)lua_tointeger(L, -1);
    lua_rawgeti(L, top + 1, 1);           /* fn */
    if (kind == LINK_RAW) {
      call_raw_link(L, ud);
    } else if (kind == LINK_ANY || (kind == LINK_VALUE && !lg->failed) ||
               (kind == LINK_EXCEPTION && lg->failed)) {
      lua_pushvalue(L, ud);
      spawn_common(L, lg->state, 0, top + 3, 1);
    }
    lua_settop(L, top);
  }
  lua_pop(L, 1);
}

/* Record how the greenlet ended: its nres results (status LUA_OK) or its
   error, found from stack index `first`. GreenletExit counts as success. */
static void record_end(lua_State *L, lgreen *lg, int status, int first,
                       int nres, int ud) {
  int i, env;
  lg->done = 1;
  if (status == LUA_OK || lgreen_is_exit(L, first)) {
    if (lg->raw || nres == 0) return;
    env = lgreen_push_env(L, ud);
    lua_createtable(L, nres, 1);
    for (i = 0; i < nres; i++) {
      lua_pushvalue(L, first + i);
      lua_rawseti(L, -2, i + 1);
    }
    lua_pushinteger(L, nres);
    lua_setfield(L, -2, "n");
    lua_rawseti(L, env, ENV_VALUE);
  } else {
    lg->failed = 1;
    env = lgreen_push_env(L, ud);
    lua_pushvalue(L, first);
    lua_rawseti(L, env, ENV_EXCEPTION);
  }
  lua_pop(L, 1);
}

/* Let go of the handle, empty the greenlet's thread and give it back to
   the pool. lg must not be touched afterwards. */
static void retire_thread(lua_State *L, lgreen *lg) {
  lgreen_thread thread = lg->thread;
  green_release(lg->g);         /* the hub keeps the record until reaped */
  lg->g = NULL;
  lg->thread.T = NULL;
  lg->thread.handle = lg->thread.anchor = LUA_NOREF;
  if (thread.T == NULL) {       /* it never started: the slot is its own */
    luaL_unref(L, LUA_REGISTRYINDEX, thread.handle);
    return;
  }
  lua_pushboolean(L, 0);
  lua_rawseti(L, LUA_REGISTRYINDEX, thread.handle);
  if (lua_status(thread.T) != LUA_OK) lua_resetthread(thread.T);  /* resumed */
  lua_settop(thread.T, 0);
  lgreen_thread_give(L, lg->state, thread);
}

/* Let go of the errors a dead greenlet will never raise. */
static void drop_pending(lua_State *L, lgreen *lg) {
  luaL_unref(L, LUA_REGISTRYINDEX, lg->pending_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, lg->displaced_ref);
  lg->pending_ref = lg->displaced_ref = LUA_NOREF;
}

/* After the greenlet's end is recorded: links, then its thread back to
   the pool. */
static void retire(lua_State *L, lgreen *lg, int ud) {
  drop_pending(L, lg);
  if (lg->has_env) {
    lua_getiuservalue(L, ud, UV_ENV);
    fire_links(L, lg, ud, lua_gettop(L));
    lua_pop(L, 1);
  }
  retire_thread(L, lg);
}

/* Protected, on the greenlet's thread: [lg, &recorded, status, results or
   error]. Record the end, report an error, start the links. */
static int end_protected(lua_State *T) {
  lgreen *lg = lua_touserdata(T, 1);
  int *recorded = lua_touserdata(T, 2);
  int status = (int)lua_tointeger(T, 3), nres = lua_gettop(T) - 3, ud;
  luaL_checkstack(T, 16, NULL);
  lgreen_push_handle(T, lg);
  ud = lua_gettop(T);
  record_end(T, lg, status, 4, nres, ud);
  *recorded = 1;
  if (lg->failed) {
    lua_getiuservalue(T, ud, UV_ENV);
    lua_rawgeti(T, -1, ENV_TRACEBACK);
    lgreen_report_error(T, ud, 4, -1);
    lua_pop(T, 2);
  }
  if (lg->has_env) {
    lua_getiuservalue(T, ud, UV_ENV);
    fire_links(T, lg, ud, lua_gettop(T));
  }
  return 0;
}

/* Runs on the greenlet's own thread T once its function has returned. T
   holds [handler, results...] or [handler, error]. What runs here is
   protected: T is in no call, so an error (a __tostring that raises, no
   memory) would jump to another stack's pcall. */
static void finish(lgreen *lg, int status) {
  lua_State *T = lg->thread.T;
  int nres = lua_gettop(T) - 1, recorded = 0;
  lg->done = 1;
  if (status == LUA_OK && (lg->raw || nres == 0) && !lg->has_env &&
      lg->pending_ref == LUA_NOREF && lg->displaced_ref == LUA_NOREF) {
    retire_thread(T, lg);       /* nothing to keep, no links to start */
    return;
  }
  if (lua_checkstack(T, 4)) {
    lua_pushcfunction(T, end_protected);
    lua_pushlightuserdata(T, lg);
    lua_pushlightuserdata(T, &recorded);
    lua_pushinteger(T, status);
    lua_rotate(T, 2, 4);        /* T: [handler, end, lg, &recorded, ...] */
    lua_pcall(T, nres + 3, 0, 0);
  }
  if (!recorded) lg->failed = lg->no_memory = 1;   /* no memory to keep it */
  lua_settop(T, 0);
  drop_pending(T, lg);
  retire_thread(T, lg);         /* the last use of lg and T */
}

/* Message handler of a greenlet's pcall: keep the traceback beside the
   error, and the error itself untouched (it may be a Timeout object). */
static int keep_traceback(lua_State *L) {
  lgreen *lg = green_binding_data(green_current());
  if (lgreen_is_exit(L, 1) || lg == NULL || lg->adopted) return 1;
  luaL_traceback(L, L, NULL, 1);
  lgreen_push_handle(L, lg);
  lgreen_push_env(L, lua_gettop(L));
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, ENV_TRACEBACK);
  lua_settop(L, 1);
  return 1;
}

/*
** A greenlet spawned while the pool has an idle thread takes it at once,
** and until it starts the thread holds [handler, fn, args..., guard].
** Code that kept the thread of an earlier greenlet (coroutine.running())
** could resume it as a coroutine, which calls the top value: the guard,
** which refuses. What the resume or a coroutine.close did to the thread is
** then found here, and the greenlet fails with a clear error instead of
** running what is left.
*/
static int refuse_resume(lua_State *L) {
  return luaL_error(L, "cannot resume a greenlet's Lua thread as a "
                    "coroutine");
}

/* A resume called the guard, which left T dead; a close emptied it. */
static int thread_intact(lua_State *T) {
  return lua_status(T) == LUA_OK && lua_gettop(T) >= 3;
}

static __attribute__((noinline, cold)) void fail_taken(lgreen *lg) {
  lua_State *T = lg->thread.T;
  lua_resetthread(T);                     /* may leave the error behind */
  lua_settop(T, 0);
  lua_pushnil(T);
  lua_pushliteral(T, "the greenlet's Lua thread was resumed or closed as "
                     "a coroutine before it started");
  finish(lg, LUA_ERRRUN);
}

/* The start of a greenlet that took its thread at its spawn. */
static void start_on_own_thread(lgreen *lg) {
  lua_State *T = lg->thread.T;
  int nargs;
  if (!thread_intact(T)) {
    fail_taken(lg);
    return;
  }
  nargs = lua_gettop(T) - 3;              /* [handler, fn, args, guard] */
  lua_settop(T, -2);
  finish(lg, lua_pcall(T, nargs, LUA_MULTRET, 1));
}

/* The first user value of the function and arguments a greenlet waits to
   start with, when none was idle at its spawn. */
static int start_values(const lgreen *lg) {
  return (lg->raw ? UV_ENV : UV_COUNT) + 1;
}

/* Let go of them: nil in their user values (the handle at ud). */
static void drop_start_values(lua_State *L, const lgreen *lg, int ud) {
  int first = start_values(lg), i;
  if (lg->thread.T != NULL) return;       /* they are on its thread */
  for (i = 0; i <= (int)lg->nargs; i++) {
    lua_pushnil(L);
    lua_setiuservalue(L, ud, first + i);
  }
}

/* No memory for a thread to start on: the greenlet ends failed, with no
   memory to keep more of its end (the maker is the one thread at hand). */
static __attribute__((noinline, cold)) void fail_start(lgreen *lg) {
  lua_State *M = lg->state->maker;
  lg->done = lg->failed = lg->no_memory = 1;
  drop_pending(M, lg);
  green_release(lg->g);
  lg->g = NULL;
  luaL_unref(M, LUA_REGISTRYINDEX, lg->thread.handle);
  lg->thread.handle = LUA_NOREF;
}

/* The start of one that took no thread at its spawn (a burst had taken the
   idle ones): a thread from the pool now, to whose slot its handle moves,
   and on whose stack go its function and arguments, [handler, fn,
   args...]; then the call. Nothing here raises: each push has room, and
   the slots written exist already. So a burst needs as many threads as
   run at once, not one per spawn. */
static void start_on_late_thread(lgreen *lg) {
  lgreen_thread t;
  lua_State *T;
  int first = start_values(lg), nargs = (int)lg->nargs, i;
  if (!lgreen_thread_take(lg->state, &t)) {
    fail_start(lg);
    return;
  }
  if (!lua_checkstack(t.T, nargs + 4)) {
    lgreen_thread_give(t.T, lg->state, t);
    fail_start(lg);
    return;
  }
  T = t.T;
  lua_pushcfunction(T, keep_traceback);   /* T: [handler] */
  lgreen_push_handle(T, lg);              /* T: [handler, handle] */
  lua_pushvalue(T, 2);
  lua_rawseti(T, LUA_REGISTRYINDEX, t.handle);
  luaL_unref(T, LUA_REGISTRYINDEX, lg->thread.handle);
  lg->thread = t;
  for (i = 0; i <= nargs; i++) lua_getiuservalue(T, 2, first + i);
  drop_start_values(T, lg, 2);
  lua_remove(T, 2);                       /* T: [handler, fn, args...] */
  finish(lg, lua_pcall(T, nargs, LUA_MULTRET, 1));
}

static void *entry(void *arg) {
  lgreen *lg = arg;
  lg->started = 1;
  if (lg->thread.T != NULL) start_on_own_thread(lg);
  else start_on_late_thread(lg);
  return NULL;
}

/* A greenlet killed before it started never runs: end it from here. Its
   thread, if it took one at its spawn, is idle, so it can be emptied from
   here too. */
static void finish_unstarted(lua_State *L, lgreen *lg, int ud) {
  ud = lua_absindex(L, ud);
  drop_start_values(L, lg, ud);
  lgreen_push_exit(L);
  record_end(L, lg, LUA_OK, lua_gettop(L), 1, ud);
  lua_pop(L, 1);
  retire(L, lg, ud);
}

/* A greenlet the runtime ended before it started: killed from C, or no
   stack could be had for it (green__greenlet_equip). Ended here when a
   join or ready() finds it so. */
static void finish_ended_unstarted(lua_State *L, lgreen *lg, int ud) {
  int rc = green_result(lg->g, NULL);
  if (rc == GREEN_ECANCELED) {
    finish_unstarted(L, lg, ud);
    return;
  }
  ud = lua_absindex(L, ud);
  drop_start_values(L, lg, ud);
  lua_pushfstring(L, "the greenlet could not start: %s", green_strerror(rc));
  record_end(L, lg, LUA_ERRRUN, lua_gettop(L), 1, ud);
  lua_pop(L, 1);
  retire(L, lg, ud);
}

static int ended_unstarted(const lgreen *lg) {
  return !lg->done && !lg->started && lg->g != NULL &&
         green_state(lg->g) == GREEN_DEAD;
}

/* ---------------------------------------------------------------- spawn */

/* The most arguments a spawn keeps for the start (lgreen.nargs). */
#define MAX_ARGS ((1 << 20) - 1)

/* The most arguments a spawn keeps for a late start (lgreen.nargs). */
#define MAX_ARGS ((1 << 20) - 1)

/* Put the function and its arguments where the greenlet starts from: on
   an idle thread, taken now, or in user values of the handle at ud. */
static int keep_start(lua_State *L, lgreen *lg, int ud, int fn_index,
                      int nargs) {
  int first = start_values(lg), i;
  lua_State *T;
  if (lg->thread.T == NULL) {
    for (i = 0; i <= nargs; i++) {
      lua_pushvalue(L, fn_index + i);
      lua_setiuservalue(L, ud, first + i);
    }
    lua_pushvalue(L, ud);
    lg->thread.handle = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
  }
  T = lg->thread.T;
  if (!lua_checkstack(T, nargs + 3)) return 0;
  lua_pushcfunction(T, keep_traceback);   /* T: [handler] */
  lua_pushvalue(L, ud);
  lua_rawseti(L, LUA_REGISTRYINDEX, lg->thread.handle);
  lua_remove(L, ud);                      /* L: [fn, args...] */
  lua_xmove(L, T, nargs + 1);             /* T: [handler, fn, args] */
  lua_pushcfunction(T, refuse_resume);    /* T: [..., guard] */
  lgreen_push_handle(L, lg);
  return 1;
}

/* Undo keep_start for a spawn that failed. */
static void unkeep_start(lua_State *L, lgreen *lg) {
  if (lg->thread.T == NULL) {
    luaL_unref(L, LUA_REGISTRYINDEX, lg->thread.handle);
  } else {
    lua_pushboolean(L, 0);
    lua_rawseti(L, LUA_REGISTRYINDEX, lg->thread.handle);
    lua_settop(lg->thread.T, 0);
    lgreen_thread_give(L, lg->state, lg->thread);
  }
  lg->thread.T = NULL;
  lg->thread.handle = LUA_NOREF;
  lg->done = 1;
}

static int spawn_common(lua_State *L, lgreen_state *state, double delay,
                        int fn_index, int raw) {
  int nargs = lua_gettop(L) - fn_index, rc, ud, late = state->count == 0;
  lgreen *lg;
  lgreen_check_callable(L, fn_index);
  if (late && nargs > MAX_ARGS)
    return luaL_error(L, "spawn: too many arguments");
  lg = lua_newuserdatauv(L, sizeof *lg, (raw ? UV_ENV : UV_COUNT) +
                                        (late ? 1 + nargs : 0));
  init_record(lg, state);
  lg->raw = raw != 0;
  lg->nargs = late ? (unsigned)nargs : 0;
  ud = lua_gettop(L);
  set_metatable(L, lg, ud);
  if (!raw) lgreen_record_spawn_tree(L, ud);
  if (!late) lgreen_thread_take(state, &lg->thread);
  if (!keep_start(L, lg, ud, fn_index, nargs)) {
    lgreen_thread_give(L, state, lg->thread);
    lg->thread.T = NULL;
    lg->thread.handle = LUA_NOREF;
    lg->done = 1;
    return luaL_error(L, "spawn: too many arguments");
  }
  rc = delay > 0 ? green_spawn_later(delay, entry, lg, NULL, &lg->g)
                 : green_spawn(entry, lg, NULL, &lg->g);
  if (rc < 0) {
    unkeep_start(L, lg);
    return luaL_error(L, "spawn: %s", green_strerror(rc));
  }
  green_set_binding_data(lg->g, lg);
  lg->id = green_id(lg->g);
  return 1;
}

/* Spawn the function at fn_index with the values above it (for C hosts). */
int lgreen_spawn(lua_State *L, int fn_index) {
  return spawn_common(L, lgreen_state_open(L), 0, fn_index, 0);
}

int lgreen_spawn_raw(lua_State *L, int fn_index) {
  return spawn_common(L, lgreen_state_open(L), 0, fn_index, 1);
}

#define STATE(L) ((lgreen_state *)lua_touserdata(L, lua_upvalueindex(1)))

static int l_spawn(lua_State *L) {
  return spawn_common(L, STATE(L), 0, 1, 0);
}

static int l_spawn_raw(lua_State *L) {
  return spawn_common(L, STATE(L), 0, 1, 1);
}

static int l_spawn_later(lua_State *L) {
  double seconds = lgreen_check_seconds(L, 1);
  return spawn_common(L, STATE(L), seconds, 2, 0);
}

/* is_greenlet(v): whether v is a Greenlet. */
static int l_is_greenlet(lua_State *L) {
  const lgreen *lg = lua_touserdata(L, 1);
  lua_pushboolean(L, lg != NULL && lua_rawlen(L, 1) == sizeof *lg &&
                     lg->marker == &marker);
  return 1;
}

static int l_getcurrent(lua_State *L) {
  lgreen_push_current(L);
  return 1;
}


/* ---------------------------------------------------------------- control */

/* Wait for lg to die. Returns 0 once it has; pushes nil, "timeout" and
   returns 2 if the time ran out. */
/* Wait for lg, at index ud, to die. */
static int join(lua_State *L, lgreen *lg, int ud, double timeout) {
  int rc;
  if (lg->done) return 0;
  lgreen_check_can_block(L, "join");
  rc = lgreen_check_result(L, green_join(lg->g, timeout), "join");
  if (ended_unstarted(lg)) finish_ended_unstarted(L, lg, ud);
  if (rc == GREEN_ETIMEDOUT) {
    luaL_pushfail(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  return 0;
}

static int l_join(lua_State *L) {
  int n = join(L, lgreen_check(L, 1), 1, lgreen_opt_timeout(L, 2));
  if (n > 0) return n;
  lua_pushboolean(L, 1);
  return 1;
}

/* Push the error the greenlet at ud died of, or nil. One that had no
   memory to keep its end gets Lua's own message for that. */
static void push_exception(lua_State *L, const lgreen *lg, int ud) {
  if (lg->no_memory) {
    lua_pushliteral(L, "not enough memory");
  } else if (lua_getiuservalue(L, ud, UV_ENV) == LUA_TTABLE) {
    lua_rawgeti(L, -1, ENV_EXCEPTION);
    lua_remove(L, -2);
  }                             /* else the nil pushed for no table */
}

static int l_get(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  int n = join(L, lg, 1, lgreen_opt_timeout(L, 2)), i;
  if (n > 0) return n;
  if (lg->failed) {
    push_exception(L, lg, 1);
    return lua_error(L);
  }
  if (lua_getiuservalue(L, 1, UV_ENV) != LUA_TTABLE ||
      lua_rawgeti(L, -1, ENV_VALUE) != LUA_TTABLE)
    return 0;                             /* no results */
  lua_getfield(L, -1, "n");
  n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, n, "too many results");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  return n;
}

/* kill(g, err, {block = true, timeout = s}): err (default GreenletExit) is
   raised in g at its blocking point. Killing oneself raises at once. */
static int l_kill(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  int block = 1, rc;
  double timeout = GREEN_FOREVER;
  if (lua_istable(L, 3)) {
    if (lua_getfield(L, 3, "block") != LUA_TNIL) block = lua_toboolean(L, -1);
    if (lua_getfield(L, 3, "timeout") != LUA_TNIL) {
      int is_number;
      timeout = (double)lua_tonumberx(L, -1, &is_number);
      luaL_argcheck(L, is_number && timeout >= 0, 3,
                    "field 'timeout' must be a number of seconds, at least 0");
    }
    lua_pop(L, 2);
  } else if (!lua_isnoneornil(L, 3)) {
    luaL_typeerror(L, 3, "table");
  }
  if (lg->done) return 0;
  if (lg->g == green_current()) {
    if (lua_isnoneornil(L, 2)) lgreen_push_exit(L); else lua_pushvalue(L, 2);
    return lua_error(L);
  }
  if (lg->pending_ref != LUA_NOREF && !lg->kill_pending) {
    /* a Timeout's error not yet raised: the kill goes first, it after */
    luaL_unref(L, LUA_REGISTRYINDEX, lg->displaced_ref);
    lg->displaced_ref = lg->pending_ref;
  } else {
    luaL_unref(L, LUA_REGISTRYINDEX, lg->pending_ref);
  }
  lg->pending_ref = LUA_NOREF;
  if (!lua_isnoneornil(L, 2)) {
    lua_pushvalue(L, 2);
    lg->pending_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  rc = green_kill(lg->g);
  if (rc < 0) return luaL_error(L, "kill: %s", green_strerror(rc));
  lg->kill_pending = 1;
  if (green_state(lg->g) == GREEN_DEAD && !lg->done) finish_unstarted(L, lg, 1);
  if (block) return join(L, lg, 1, timeout);
  return 0;
}

/* cancel(): kill only a greenlet that has not started; true if it was. */
static int l_cancel(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  if (lg->started || lg->done) {
    lua_pushboolean(L, 0);
    return 1;
  }
  green_kill(lg->g);
  finish_unstarted(L, lg, 1);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_ready(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  if (ended_unstarted(lg)) finish_ended_unstarted(L, lg, 1);
  lua_pushboolean(L, lg->done);
  return 1;
}

static int l_successful(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  lua_pushboolean(L, lg->done && !lg->failed);
  return 1;
}

static int add_link(lua_State *L, int kind) {
  lgreen *lg = lgreen_check(L, 1);
  lgreen_check_callable(L, 2);
  if (lg->done && kind == LINK_RAW) {      /* already dead: call it now */
    lua_settop(L, 2);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 0);
    return 0;
  }
  if (lg->done) {                 /* already dead: call it soon */
    if (kind == LINK_ANY || (kind == LINK_VALUE) == !lg->failed) {
      lua_settop(L, 2);
      lua_pushvalue(L, 1);
      spawn_common(L, lg->state, 0, 2, 1);
    }
    return 0;
  }
  lgreen_push_env(L, 1);
  if (lua_rawgeti(L, -1, ENV_LINKS) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, ENV_LINKS);
  }
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, kind);
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

static int l_link(lua_State *L) { return add_link(L, LINK_ANY); }
static int l_link_value(lua_State *L) { return add_link(L, LINK_VALUE); }
static int l_link_exception(lua_State *L) { return add_link(L, LINK_EXCEPTION); }
static int l_rawlink(lua_State *L) { return add_link(L, LINK_RAW); }

/* Remove entry i of the sequence on top, keeping the others' order:
   what table.remove does, without reaching it through the globals a
   script may have changed. */
static void remove_entry(lua_State *L, lua_Integer i, lua_Integer n) {
  for (; i < n; i++) {
    lua_rawgeti(L, -1, i + 1);
    lua_rawseti(L, -2, i);
  }
  lua_pushnil(L);
  lua_rawseti(L, -2, n);
}

static int l_unlink(lua_State *L) {
  lua_Integer i, n;
  lgreen_check(L, 1);
  lgreen_check_callable(L, 2);
  if (lua_getiuservalue(L, 1, UV_ENV) != LUA_TTABLE ||
      lua_rawgeti(L, -1, ENV_LINKS) != LUA_TTABLE)
    return 0;
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = n; i >= 1; i--) {
    int same;
    lua_rawgeti(L, -1, i);
    lua_rawgeti(L, -1, 1);
    same = lua_rawequal(L, -1, 2);
    lua_pop(L, 2);
    if (same) remove_entry(L, i, n--);
  }
  return 0;
}


const char *lgreen_state_name(const lgreen *lg) {
  if (lg->done) return lg->failed ? "failed" : "dead";
  if (!lg->started) return "not started";
  switch (green_state(lg->g)) {
    case GREEN_RUNNING: return "running";
    case GREEN_READY: return "ready";
    default: return "blocked";
  }
}

static int l_tostring(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  if (lua_getiuservalue(L, 1, UV_ENV) == LUA_TTABLE)
    lua_rawgeti(L, -1, ENV_NAME);
  if (lua_isstring(L, -1))
    lua_pushfstring(L, "Greenlet \"%s\" (%s)", lua_tostring(L, -1),
                    lgreen_state_name(lg));
  else
    lua_pushfstring(L, "Greenlet #%I (%s)", (lua_Integer)lg->id,
                    lgreen_state_name(lg));
  return 1;
}

/* ---------------------------------------------------------------- fields */

/* Fields: name, value (the first result), exception, traceback, spawner,
   spawned_at; and the methods. */
static int l_index(lua_State *L) {
  const char *key;
  lgreen *lg;
  lua_pushvalue(L, 2);                    /* methods first: the hot path */
  if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
  key = luaL_checkstring(L, 2);
  lg = lgreen_check(L, 1);
  if (strcmp(key, "spawner") == 0) return lgreen_push_spawner(L, 1), 1;
  if (strcmp(key, "spawned_at") == 0)     /* its site, then its ancestors' */
    return lgreen_push_spawned_at(L, 1), 1;
  if (strcmp(key, "exception") == 0) return push_exception(L, lg, 1), 1;
  if (lua_getiuservalue(L, 1, UV_ENV) != LUA_TTABLE) return 0;
  if (strcmp(key, "value") == 0) {
    if (lua_rawgeti(L, -1, ENV_VALUE) == LUA_TTABLE) lua_rawgeti(L, -1, 1);
    return 1;
  }
  if (strcmp(key, "name") == 0) return lua_rawgeti(L, -1, ENV_NAME), 1;
  if (strcmp(key, "traceback") == 0)
    return lua_rawgeti(L, -1, ENV_TRACEBACK), 1;
  return 0;
}

static int l_newindex(lua_State *L) {
  const char *key = luaL_checkstring(L, 2);
  lgreen *lg = lgreen_check(L, 1);
  if (strcmp(key, "name") != 0)
    return luaL_error(L, "cannot set field '%s' of a greenlet", key);
  if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TSTRING);
  lgreen_push_env(L, 1);
  lua_pushvalue(L, 3);
  lua_rawseti(L, -2, ENV_NAME);
  if (!lg->done) green_set_name(lg->g, lua_tostring(L, 3));
  return 0;
}

void lgreen_open_greenlet(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"join", l_join},
    {"get", l_get},
    {"kill", l_kill},
    {"cancel", l_cancel},
    {"ready", l_ready},
    {"dead", l_ready},
    {"successful", l_successful},
    {"link", l_link},
    {"link_value", l_link_value},
    {"link_exception", l_link_exception},
    {"rawlink", l_rawlink},
    {"unlink", l_unlink},
    {NULL, NULL}
  };
  static const luaL_Reg functions[] = {
    {"spawn", l_spawn},
    {"spawn_raw", l_spawn_raw},
    {"spawn_later", l_spawn_later},
    {"getcurrent", l_getcurrent},
    {"is_greenlet", l_is_greenlet},
    {"kill", l_kill},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__newindex", l_newindex},
    {"__tostring", l_tostring},
    {NULL, NULL}
  };
  lgreen_state *state = lgreen_state_open(L);
  lgreen_new_class(L, LGREEN_GREENLET, methods, l_index, metamethods);
  if (state->bare_metatable == LUA_NOREF) {
    lua_createtable(L, 0, 4);
    luaL_setfuncs(L, metamethods, 0);
    lua_getfield(L, -2, "__name");
    lua_setfield(L, -2, "__name");
    lua_getfield(L, -2, "__index");
    lua_getupvalue(L, -1, 1);             /* the methods */
    lua_setfield(L, -3, "__index");
    lua_pop(L, 1);
    state->bare_metatable = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (state->metatable == LUA_NOREF)
    state->metatable = luaL_ref(L, LUA_REGISTRYINDEX);
  else                                  /* green opened again */
    lua_rawseti(L, LUA_REGISTRYINDEX, state->metatable);
  lua_pushlightuserdata(L, state);
  luaL_setfuncs(L, functions, 1);
}
