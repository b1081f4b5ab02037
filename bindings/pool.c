/*
** pool.c: Lua threads of finished greenlets, kept for the next spawn.
**
** Every thread made for a greenlet is anchored in a registry table for as
** long as it may run or wait in the pool: a thread must stay reachable
** while C code still runs on it, so one is only ever dropped from the pool
** by another thread, never by itself.
*/

#include "lgreen.h"

#define THREADS_KEY "green.threads"
#define POOL_KEY    "green.pool"

/* An idle thread, or a new one anchored in the registry. */
lua_State *lgreen_pool_take(lua_State *L, lgreen_pool *pool) {
  lua_State *T;
  if (pool->count > 0) return pool->idle[--pool->count];
  T = lua_newthread(L);
  lua_getfield(L, LUA_REGISTRYINDEX, THREADS_KEY);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 2);
  return T;
}

/* Return T, whose greenlet has finished, to the pool, with an empty stack.
   When the pool is full, an idle thread (never T itself) is dropped to
   make room. */
void lgreen_pool_give(lua_State *T, lgreen_pool *pool) {
  if (pool->count == LGREEN_POOL_MAX) {
    lua_State *old = pool->idle[--pool->count];
    if (!lua_checkstack(T, 3) || !lua_checkstack(old, 1)) {
      pool->count++;                        /* no memory: keep it, leak T */
      return;
    }
    lua_getfield(T, LUA_REGISTRYINDEX, THREADS_KEY);
    lua_pushthread(old);
    lua_xmove(old, T, 1);
    lua_pushnil(T);
    lua_rawset(T, -3);
    lua_pop(T, 1);
  }
  pool->idle[pool->count++] = T;
}

lgreen_pool *lgreen_pool_open(lua_State *L) {
  lgreen_pool *pool;
  if (lua_getfield(L, LUA_REGISTRYINDEX, POOL_KEY) == LUA_TUSERDATA) {
    pool = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return pool;
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, THREADS_KEY);
  pool = lua_newuserdatauv(L, sizeof *pool, 0);
  pool->count = 0;
  lua_setfield(L, LUA_REGISTRYINDEX, POOL_KEY);
  return pool;
}
