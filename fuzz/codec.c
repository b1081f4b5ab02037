/*
** fuzz/codec.c: libFuzzer target for bindings/codec.c (make fuzz).
**
** Every input is decoded as an untrusted message: it must give values or
** raise "corrupt message", never crash or read out of bounds. Values that
** do decode are encoded again, and that message must decode (trusted) to
** as many values: what the decoder builds, the encoder can send.
*/

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lgreen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int round_trip(lua_State *L) {
  const char *message = lua_touserdata(L, 1);
  size_t len = (size_t)lua_tointeger(L, 2);
  lgreen_buffer b;
  int n, again, base;
  lua_settop(L, 0);
  n = lgreen_decode(L, message, len, 0);
  lgreen_buffer_init(L, &b);
  lgreen_encode(L, 1, n, "value", 1, &b);
  base = lua_gettop(L);
  again = lgreen_decode(L, b.data, b.len, 1);
  if (again != n) {
    fprintf(stderr, "decoded %d values, re-encoded %d\n", n, again);
    abort();
  }
  lua_settop(L, base);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  if (L == NULL) {
    L = luaL_newstate();
    luaL_openlibs(L);
  }
  lua_pushcfunction(L, round_trip);
  lua_pushlightuserdata(L, (void *)data);
  lua_pushinteger(L, (lua_Integer)size);
  lua_pcall(L, 2, 0, 0);          /* a corrupt message is an error: fine */
  lua_settop(L, 0);
  return 0;
}
