/*
** threads.c: Lua threads of finished greenlets, kept for the next greenlet to
** start. A greenlet takes its thread when it first runs, so a burst of
** spawns needs as many threads as run at once, not one per spawn.
**
** Every thread made for a greenlet has two registry slots of its own, taken
** once with luaL_ref when it is made: one anchors the thread itself for as
** long as it may run or wait in the pool (a thread must stay reachable
** while C code still runs on it), the other holds the handle of the
** greenlet running on it. Reusing the slots makes a spawn two rawseti on
** the registry's array instead of a luaL_ref and a luaL_unref.
**
** Idle threads are not free to keep. The collector guards no thread with
** write barriers, so each of its cycles (each minor cycle, in generational
** mode) walks every thread again, idle ones too: 1000 idle threads left by
** a burst made coroutine.create + resume about twice as slow in a small
** script. So once per cycle a finalizer lets go of half the threads that
** stayed idle since the cycle before: threads reused between cycles stay,
** a burst's leftovers decay. (In generational mode a thread let go of is
** still walked until the next major cycle frees it.)
**
** The finalizer is a sentinel's: a garbage userdata, made anew for each
** cycle while the state has threads for greenlets. A sentinel marked again
** from its own finalizer would turn old, and in generational mode run only
** at major cycles; making one costs about 2.6% of a coroutine.create +
** resume in a small script, and nothing once the threads are all gone.
*/

#include <string.h>

#include "lgreen.h"

#define STATE_KEY "green.state"

/* A garbage userdata whose finalizer runs at the next collection cycle. */
static void arm(lua_State *L, lgreen_state *state) {
  lua_newuserdatauv(L, 0, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, state->sentinel);
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  state->armed = 1;
}

/* Make a thread with slots of its own: [pool, &t] on the maker. */
static int make_thread(lua_State *M) {
  lgreen_state *state = lua_touserdata(M, 1);
  lgreen_thread *t = lua_touserdata(M, 2);
  if (!state->armed) arm(M, state);
  t->T = lua_newthread(M);
  t->anchor = luaL_ref(M, LUA_REGISTRYINDEX);
  lua_pushboolean(M, 0);
  t->handle = luaL_ref(M, LUA_REGISTRYINDEX);
  state->threads++;
  return 0;
}

/*
** A thread for a greenlet that starts: an idle one, or a new one. Called
** on the greenlet's own C stack, in no Lua call, so the new one is made on
** the pool's maker thread, protected: 1, or 0 with no memory for it. An
** idle thread that code kept and resumed as a coroutine meanwhile is
** emptied first.
*/
int lgreen_thread_take(lgreen_state *state, lgreen_thread *t) {
  lua_State *M = state->maker;
  int ok;
  if (state->count > 0) {
    *t = state->idle[--state->count];
    if (state->count < state->low) state->low = state->count;
    if (lua_status(t->T) != LUA_OK) lua_resetthread(t->T);
    lua_settop(t->T, 0);
    return 1;
  }
  lua_pushcfunction(M, make_thread);
  lua_pushlightuserdata(M, state);
  lua_pushlightuserdata(M, t);
  ok = lua_pcall(M, 2, 0, 0) == LUA_OK;
  lua_settop(M, 0);
  return ok;
}

/* Let the collector have an idle thread: it is no longer anchored. */
static void drop(lua_State *L, lgreen_state *state, lgreen_thread t) {
  luaL_unref(L, LUA_REGISTRYINDEX, t.handle);
  luaL_unref(L, LUA_REGISTRYINDEX, t.anchor);
  state->threads--;
}

/* Take back t, whose greenlet has finished and whose stack is empty; L is
   any thread of the state (t.T itself too). When the pool is full, an idle
   thread, never t.T, is dropped to make room. */
void lgreen_thread_give(lua_State *L, lgreen_state *state, lgreen_thread t) {
  if (state->count == LGREEN_IDLE_MAX) {
    if (!lua_checkstack(L, 2)) return;      /* no memory: t stays, unused */
    if (state->count == LGREEN_IDLE_MAX) {   /* a collection may have trimmed */
      drop(L, state, state->idle[--state->count]);
      if (state->low > state->count) state->low = state->count;
    }
  }
  state->idle[state->count++] = t;
}

/* Drop half the threads that stayed idle since the last trim, the oldest:
   the newest are the ones still warm in the caches. */
static void trim(lua_State *L, lgreen_state *state) {
  int n = (state->low + 1) / 2, i;
  if (n > 0) {
    for (i = 0; i < n; i++) drop(L, state, state->idle[i]);
    memmove(state->idle, state->idle + n,
            (size_t)(state->count - n) * sizeof state->idle[0]);
    state->count -= n;
  }
  state->low = state->count;
}

/* The sentinel's finalizer: trim the pool (upvalue 1), and leave a new
   sentinel for the next cycle while there are threads to look after. */
static int on_collect(lua_State *L) {
  lgreen_state *state = lua_touserdata(L, lua_upvalueindex(1));
  state->armed = 0;
  trim(L, state);
  if (state->threads > 0) arm(L, state);
  return 0;
}

lgreen_state *lgreen_state_open(lua_State *L) {
  lgreen_state *state;
  if (lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY) == LUA_TUSERDATA) {
    state = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return state;
  }
  lua_pop(L, 1);
  state = lua_newuserdatauv(L, sizeof *state, 1);
  state->count = state->low = state->threads = state->armed = 0;
  state->metatable = state->bare_metatable = LUA_NOREF;
  state->registry = lua_topointer(L, LUA_REGISTRYINDEX);
  state->adopted = 0;
  state->adopted_sweep_at = 64;
  lua_createtable(L, 0, 1);                 /* the sentinel's metatable */
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, on_collect, 1);
  lua_setfield(L, -2, "__gc");
  state->sentinel = luaL_ref(L, LUA_REGISTRYINDEX);
  state->maker = lua_newthread(L);
  lua_setiuservalue(L, -2, 1);      /* the pool keeps its maker */
  lua_setfield(L, LUA_REGISTRYINDEX, STATE_KEY);
  return state;
}
