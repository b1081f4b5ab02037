/*
** select.c: socket.select(recvt, sendt [, timeout]), waiting as a
** greenlet (green_poll) on anything with getfd(), as LuaSocket's select
** takes: its sockets, socket.tp objects, LuaSec's connections. An object
** whose dirty() is true has bytes buffered already: it is readable at
** once. poll(2) has no FD_SETSIZE limit, so neither has this select.
*/

#include <poll.h>

#include "lsocket.h"

/* One descriptor to watch: from which table (0 recvt, 1 sendt), the
   object's position in it, and whether it was listed as dirty. */
typedef struct {
  int table, position, dirty;
} origin;

/* Call obj:name() for the object on top, leaving the stack as it was:
   whether it has the method, and its result as a number (-1 if it is
   none) or as a boolean. */
static int call_method(lua_State *L, const char *name, lua_Number *number,
                       int *boolean) {
  lua_getfield(L, -1, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushvalue(L, -2);
  lua_call(L, 1, 1);
  if (number != NULL) *number = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
  if (boolean != NULL) *boolean = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return 1;
}

static int length(lua_State *L, int index) {
  if (lua_isnoneornil(L, index)) return 0;
  luaL_checktype(L, index, LUA_TTABLE);
  return (int)lua_rawlen(L, index);
}

/* Add obj at t[position] to the result table at index: t[#t+1] = obj and
   t[obj] = #t. */
static void add_result(lua_State *L, int result, int t, int position) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, result) + 1;
  lua_rawgeti(L, t, position);
  lua_pushvalue(L, -1);
  lua_rawseti(L, result, n);
  lua_pushinteger(L, n);
  lua_rawset(L, result);
}

int lsocket_select(lua_State *L) {
  int counts[2], n = 0, i, t, dirty = 0, rc;
  double timeout = luaL_optnumber(L, 3, -1);
  struct pollfd *fds;
  origin *from;
  lua_settop(L, 3);
  counts[0] = length(L, 1);
  counts[1] = length(L, 2);
  fds = lua_newuserdatauv(L, (size_t)(counts[0] + counts[1]) *
                          (sizeof *fds + sizeof *from) + 1, 0);
  from = (origin *)(void *)(fds + counts[0] + counts[1]);
  lua_newtable(L);                              /* readable: index 5 */
  lua_newtable(L);                              /* writable: index 6 */
  for (t = 0; t < 2; t++) {
    for (i = 1; i <= counts[t]; i++) {
      lua_Number fd = -1;
      int is_dirty = 0;
      if (lua_rawgeti(L, t + 1, i) == LUA_TNIL) {
        lua_pop(L, 1);
        break;
      }
      call_method(L, "getfd", &fd, NULL);
      if (fd >= 0 && t == 0 && call_method(L, "dirty", NULL, &is_dirty) &&
          is_dirty) {
        add_result(L, 5, 1, i);
        dirty++;
      }
      lua_pop(L, 1);
      if (fd < 0 || fd > 0x7fffffff) continue;
      fds[n].fd = (int)fd;
      fds[n].events = t == 0 ? POLLIN : POLLOUT;
      fds[n].revents = 0;
      from[n].table = t;
      from[n].position = i;
      from[n].dirty = is_dirty;
      n++;
    }
  }
  if (dirty > 0 || timeout == 0) timeout = 0;
  else if (!(timeout >= 0)) timeout = GREEN_FOREVER;
  if (timeout != 0) lgreen_check_can_block(L, "select");
  rc = green_poll(fds, (nfds_t)n, timeout);
  if (rc == GREEN_ECANCELED || rc == GREEN_EDEADLK || rc == GREEN_ESRCH ||
      rc == GREEN_EPERM)
    lgreen_check_result(L, rc, "select");
  else if (rc < 0 && rc != GREEN_ETIMEDOUT)
    return luaL_error(L, "select failed");
  for (i = 0; rc > 0 && i < n; i++) {
    short ready = fds[i].revents;
    if (from[i].dirty) continue;                      /* listed already */
    if (!(ready & (from[i].table == 0 ? POLLIN : POLLOUT)) &&
        !(ready & (POLLERR | POLLHUP | POLLNVAL)))
      continue;
    add_result(L, 5 + from[i].table, 1 + from[i].table, from[i].position);
  }
  if (lua_rawlen(L, 5) == 0 && lua_rawlen(L, 6) == 0) {
    lua_pushliteral(L, "timeout");
    return 3;
  }
  return 2;
}
