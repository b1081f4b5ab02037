/*
** channel.c: a host's green_channel_t seen from Lua, so C greenlets and
** Lua greenlets exchange pointers through one channel. Items are light
** userdata; the host gives Lua whatever functions make sense of them.
** The channel stays the host's: it must outlive every use from Lua.
*/

#include "green_lua.h"
#include "lgreen.h"

#define LGREEN_CCHANNEL "green.CChannel"

static green_channel_t *check_channel(lua_State *L) {
  return *(green_channel_t **)luaL_checkudata(L, 1, LGREEN_CCHANNEL);
}

/* put(pointer, timeout): true once taken or buffered; nil, "timeout" or
   nil, "closed" (nothing was added). */
static int l_put(lua_State *L) {
  green_channel_t *ch = check_channel(L);
  double timeout;
  int rc;
  luaL_checktype(L, 2, LUA_TLIGHTUSERDATA);
  timeout = lgreen_opt_timeout(L, 3);
  if (timeout != 0) lgreen_check_can_block(L, "put");
  rc = green_channel_send(ch, lua_touserdata(L, 2), timeout);
  if (rc < 0) return lgreen_push_failure(L, rc, "put");
  lua_pushboolean(L, 1);
  return 1;
}

/* get(timeout): the next pointer; nil, "timeout" or nil, "closed". */
static int l_get(lua_State *L) {
  green_channel_t *ch = check_channel(L);
  double timeout = lgreen_opt_timeout(L, 2);
  void *item = NULL;
  int rc;
  if (timeout != 0) lgreen_check_can_block(L, "get");
  rc = green_channel_recv(ch, &item, timeout);
  if (rc < 0) return lgreen_push_failure(L, rc, "get");
  lua_pushlightuserdata(L, item);
  return 1;
}

static int l_close(lua_State *L) {
  green_channel_close(check_channel(L));
  return 0;
}

static int l_closed(lua_State *L) {
  lua_pushboolean(L, green_channel_is_closed(check_channel(L)));
  return 1;
}

static int l_qsize(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)green_channel_count(check_channel(L)));
  return 1;
}

static int next_item(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  return l_get(L) == 1 ? 1 : 0;
}

/* iter(): for p in ch:iter() do ... end, until closed and empty. */
static int l_iter(lua_State *L) {
  check_channel(L);
  lua_settop(L, 1);
  lua_pushcclosure(L, next_item, 1);
  return 1;
}

__attribute__((visibility("default"))) void
green_lua_push_channel(lua_State *L, green_channel_t *ch) {
  static const luaL_Reg methods[] = {
    {"put", l_put}, {"get", l_get}, {"iter", l_iter},
    {"close", l_close}, {"closed", l_closed}, {"qsize", l_qsize},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {{NULL, NULL}};
  green_channel_t **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = ch;
  lgreen_new_class(L, LGREEN_CCHANNEL, methods, NULL, metamethods);
  lua_setmetatable(L, -2);
}
