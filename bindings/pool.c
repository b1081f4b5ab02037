/*
** pool.c: Lua threads of finished greenlets, kept for the next spawn.
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
*/

#include <string.h>

#include "lgreen.h"

#define POOL_KEY "green.pool"

/* An idle thread, or a new one with slots of its own. */
lgreen_thread lgreen_pool_take(lua_State *L, lgreen_pool *pool) {
  lgreen_thread t;
  if (pool->count > 0) {
    t = pool->idle[--pool->count];
    if (pool->count < pool->low) pool->low = pool->count;
    return t;
  }
  t.T = lua_newthread(L);
  t.anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushboolean(L, 0);
  t.handle = luaL_ref(L, LUA_REGISTRYINDEX);
  return t;
}

/* Let the collector have an idle thread: it is no longer anchored. */
static void drop(lua_State *L, lgreen_thread t) {
  luaL_unref(L, LUA_REGISTRYINDEX, t.handle);
  luaL_unref(L, LUA_REGISTRYINDEX, t.anchor);
}

/* Take back t, whose greenlet has finished and whose stack is empty; L is
   any thread of the state (t.T itself too). When the pool is full, an idle
   thread, never t.T, is dropped to make room. */
void lgreen_pool_give(lua_State *L, lgreen_pool *pool, lgreen_thread t) {
  if (pool->count == LGREEN_POOL_MAX) {
    if (!lua_checkstack(L, 2)) return;      /* no memory: t stays, unused */
    if (pool->count == LGREEN_POOL_MAX) {   /* a collection may have trimmed */
      drop(L, pool->idle[--pool->count]);
      if (pool->low > pool->count) pool->low = pool->count;
    }
  }
  pool->idle[pool->count++] = t;
}

/* Drop half the threads that stayed idle since the last trim, the oldest:
   the newest are the ones still warm in the caches. */
static void trim(lua_State *L, lgreen_pool *pool) {
  int n = (pool->low + 1) / 2, i;
  if (n > 0) {
    for (i = 0; i < n; i++) drop(L, pool->idle[i]);
    memmove(pool->idle, pool->idle + n,
            (size_t)(pool->count - n) * sizeof pool->idle[0]);
    pool->count -= n;
  }
  pool->low = pool->count;
}

/* The finalizer of a garbage userdata, the sentinel: it trims the pool
   (upvalue 1) and marks the sentinel for finalization again, so that it
   runs once per cycle, as Lua's own testes/tracegc.lua does. Making a new
   sentinel each cycle instead cost 2.6% of a coroutine.create + resume. */
static int on_collect(lua_State *L) {
  trim(L, lua_touserdata(L, lua_upvalueindex(1)));
  lua_getiuservalue(L, lua_upvalueindex(1), 1);   /* its metatable */
  lua_setmetatable(L, 1);
  return 0;
}

lgreen_pool *lgreen_pool_open(lua_State *L) {
  lgreen_pool *pool;
  if (lua_getfield(L, LUA_REGISTRYINDEX, POOL_KEY) == LUA_TUSERDATA) {
    pool = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return pool;
  }
  lua_pop(L, 1);
  pool = lua_newuserdatauv(L, sizeof *pool, 1);
  pool->count = pool->low = 0;
  pool->metatable = LUA_NOREF;
  lua_createtable(L, 0, 1);                 /* the sentinel's metatable */
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, on_collect, 1);
  lua_setfield(L, -2, "__gc");
  lua_setiuservalue(L, -2, 1);
  lua_newuserdatauv(L, 0, 0);               /* the sentinel, garbage */
  lua_getiuservalue(L, -2, 1);
  lua_setmetatable(L, -2);
  lua_pop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, POOL_KEY);
  return pool;
}
