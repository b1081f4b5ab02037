/*
** pool.c: Lua threads of finished greenlets, kept for the next spawn.
**
** Every thread made for a greenlet has two registry slots of its own, taken
** once with luaL_ref when it is made: one anchors the thread itself for as
** long as it may run or wait in the pool (a thread must stay reachable
** while C code still runs on it), the other holds the handle of the
** greenlet running on it. Reusing the slots makes a spawn two rawseti on
** the registry's array instead of a luaL_ref and a luaL_unref.
*/

#include "lgreen.h"

#define POOL_KEY "green.pool"

/* An idle thread, or a new one with slots of its own. */
lgreen_thread lgreen_pool_take(lua_State *L, lgreen_pool *pool) {
  lgreen_thread t;
  if (pool->count > 0) return pool->idle[--pool->count];
  t.T = lua_newthread(L);
  t.anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushboolean(L, 0);
  t.handle = luaL_ref(L, LUA_REGISTRYINDEX);
  return t;
}

/* Take back t, whose greenlet has finished and whose stack is empty; L is
   any thread of the state (t.T itself too). When the pool is full, an idle
   thread, never t.T, is dropped to make room. */
void lgreen_pool_give(lua_State *L, lgreen_pool *pool, lgreen_thread t) {
  if (pool->count == LGREEN_POOL_MAX) {
    lgreen_thread old;
    if (!lua_checkstack(L, 2)) return;      /* no memory: t stays, unused */
    old = pool->idle[--pool->count];
    luaL_unref(L, LUA_REGISTRYINDEX, old.handle);
    luaL_unref(L, LUA_REGISTRYINDEX, old.anchor);
  }
  pool->idle[pool->count++] = t;
}

lgreen_pool *lgreen_pool_open(lua_State *L) {
  lgreen_pool *pool;
  if (lua_getfield(L, LUA_REGISTRYINDEX, POOL_KEY) == LUA_TUSERDATA) {
    pool = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return pool;
  }
  lua_pop(L, 1);
  pool = lua_newuserdatauv(L, sizeof *pool, 0);
  pool->count = 0;
  pool->metatable = LUA_NOREF;
  lua_setfield(L, LUA_REGISTRYINDEX, POOL_KEY);
  return pool;
}
