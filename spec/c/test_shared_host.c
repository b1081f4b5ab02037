/*
** test_shared_host.c: a C host that links libgreen.so, makes its hub and
** spawns a C greenlet, then opens the Lua module as require does: both
** use one runtime, so the module takes the host's hub, and the host's
** greenlet runs while Lua waits.
*/

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "check.h"
#include "green.h"

static int ticks;

static void *ticker(void *arg) {
  while (green_sleep(0.002) == 0) ticks++;
  return arg;
}

static void run_lua(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    CHECK(0);
  }
}

static void test_one_runtime_for_host_and_module(void) {
  green_hub_t *hub;
  green_t *t;
  lua_State *L;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_spawn(ticker, NULL, NULL, &t), ==, 0);
  L = luaL_newstate();
  luaL_openlibs(L);
  run_lua(L, "package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path\n"
             "package.cpath = '" GREEN_BUILD_DIR "/?.so;' .. package.cpath");
  /* The module's green.stats() counts the host's greenlet, and the host's
     greenlet runs during a Lua green.sleep. */
  run_lua(L, "local green = require 'green'\n"
             "local alive = green.stats().alive\n"
             "green.sleep(0.05)\n"
             "return alive");
  CHECK_INT(lua_tointeger(L, -1), ==, 1);
  CHECK(ticks > 0);
  CHECK_INT(green_kill(t), ==, 0);
  CHECK_INT(green_join(t, 5), ==, 0);
  green_release(t);
  lua_close(L);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_one_runtime_for_host_and_module),
};

CHECK_MAIN(tests)
