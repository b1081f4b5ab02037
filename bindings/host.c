/*
** host.c: the C entry points of green_lua.h.
*/

#include "green_lua.h"
#include "lgreen.h"

static int spawn_from_host(lua_State *L) {
  return lgreen_spawn(L, 1);
}

__attribute__((visibility("default"))) int green_lua_spawn(lua_State *L,
                                                           int nargs) {
  int fn = lua_gettop(L) - nargs;
  if (nargs < 0 || fn < 1) {
    lua_pushliteral(L, "green_lua_spawn: no function below the arguments");
    return LUA_ERRRUN;
  }
  lua_pushcfunction(L, spawn_from_host);
  lua_insert(L, fn);
  return lua_pcall(L, nargs + 1, 1, 0);
}
