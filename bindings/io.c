/*
** io.c: green.wait_read and green.wait_write, for descriptors that other
** code does its I/O on: a non-blocking C library's socket, a foreign event
** loop's descriptor (a cqueues controller's pollfd()), anything with
** getfd(), as LuaSocket's objects have.
*/

#include "lgreen.h"

/* Whether the value at index can be indexed without an error. */
static int has_fields(lua_State *L, int index) {
  if (lua_type(L, index) == LUA_TTABLE) return 1;
  if (lua_type(L, index) != LUA_TUSERDATA ||
      luaL_getmetafield(L, index, "__index") == LUA_TNIL)
    return 0;
  lua_pop(L, 1);
  return 1;
}

/* The descriptor at index: a whole number, or what the object's getfd()
   returns (LuaSocket's and LuaSec's give floats). */
static int check_fd(lua_State *L, int index) {
  lua_Integer fd;
  int whole;
  if (lua_type(L, index) == LUA_TNUMBER) {
    fd = lua_tointegerx(L, index, &whole);
    if (!whole) luaL_argerror(L, index, "descriptor must be a whole number");
  } else {
    if (!has_fields(L, index) || lua_getfield(L, index, "getfd") == LUA_TNIL)
      luaL_typeerror(L, index, "descriptor or object with getfd");
    lua_pushvalue(L, index);
    lua_call(L, 1, 1);
    fd = lua_tointegerx(L, -1, &whole);
    if (!whole) luaL_argerror(L, index, "its getfd() gave no whole number");
    lua_pop(L, 1);
  }
  luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, index,
                fd < 0 ? "closed (descriptor -1)" : "descriptor out of range");
  return (int)fd;
}

/* wait(fd_or_object, timeout): true once ready, or nil, "timeout". A kill
   or a green.Timeout raises; a descriptor not open is an error. */
static int wait_fd(lua_State *L, int events, const char *what) {
  int fd = check_fd(L, 1), rc;
  double timeout = lgreen_opt_timeout(L, 2);
  lgreen_check_can_block(L, what);
  rc = green_wait_fd(fd, events, timeout);
  if (rc == GREEN_EBADF) return luaL_argerror(L, 1, "bad file descriptor");
  if (rc < 0) return lgreen_push_failure(L, rc, what);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_wait_read(lua_State *L) {
  return wait_fd(L, GREEN_READABLE, "wait_read");
}

static int l_wait_write(lua_State *L) {
  return wait_fd(L, GREEN_WRITABLE, "wait_write");
}

void lgreen_open_io(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"wait_read", l_wait_read},
    {"wait_write", l_wait_write},
    {NULL, NULL}
  };
  luaL_setfuncs(L, functions, 0);
}
