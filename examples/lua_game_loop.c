/*
** lua_game_loop.c: a C host with a fixed-step frame loop (60 frames a
** second) that runs Lua entity scripts written in blocking style and a C
** greenlet on the same hub, giving the hub one slice per frame. It prints
** what the entities did and exits after N frames (default 60).
**
**   build/default/examples/lua_game_loop [frames]
*/

#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lualib.h>

#include "green_lua.h"

#define ENTITIES 3
#define FRAME (1.0 / 60)

static struct {
  long x, moves;
} entity[ENTITIES + 1];

static int world_move(lua_State *L) {
  lua_Integer id = luaL_checkinteger(L, 1);
  luaL_argcheck(L, id >= 1 && id <= ENTITIES, 1, "no such entity");
  entity[id].x += (long)luaL_checkinteger(L, 2);
  entity[id].moves++;
  return 0;
}

/* A C greenlet beside the Lua ones: a wave every 0.25 s. */
static int waves;
static void *wave_maker(void *arg) {
  while (green_sleep(0.25) == 0) waves++;
  return arg;
}

static int fail(lua_State *L, const char *what) {
  fprintf(stderr, "%s: %s\n", what, lua_tostring(L, -1));
  return 1;
}

int main(int argc, char **argv) {
  int frames = argc > 1 ? atoi(argv[1]) : 60, frame, id;
  green_hub_t *hub;
  green_t *waver;
  lua_State *L;

  if (green_hub_new(NULL, &hub) < 0) return 1;
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "green.core", luaopen_green_core, 0);
  lua_pop(L, 1);
  luaL_newlib(L, ((const luaL_Reg[]){{"move", world_move}, {NULL, NULL}}));
  lua_setglobal(L, "world");
  if (luaL_dostring(L, "package.path = 'lua/?.lua;lua/?/init.lua;examples/?.lua;'"
                       " .. package.path; return (require 'entities')") != LUA_OK)
    return fail(L, "loading entities.lua");

  lua_newtable(L);                          /* the entity greenlets */
  for (id = 1; id <= ENTITIES; id++) {
    lua_pushvalue(L, -2);                   /* the entity function */
    lua_pushinteger(L, id);
    lua_pushinteger(L, id);                 /* step */
    lua_pushnumber(L, 0.1 * id);            /* pause */
    if (green_lua_spawn(L, 3) != LUA_OK) return fail(L, "spawning");
    lua_rawseti(L, -2, id);
  }
  lua_setglobal(L, "entities");
  lua_pop(L, 1);
  green_spawn(wave_maker, NULL, NULL, &waver);

  for (frame = 1; frame <= frames; frame++) {
    /* ... simulate and render the frame here ... */
    green_hub_run_slice(hub, FRAME);
    if (frame % 30 == 0)
      printf("frame %3d: x = %ld, %ld, %ld; waves %d\n", frame, entity[1].x,
             entity[2].x, entity[3].x, waves);
  }

  if (luaL_dostring(L, "for _, g in ipairs(entities) do g:kill() end") != LUA_OK)
    return fail(L, "stopping the entities");
  green_kill(waver);
  green_join(waver, GREEN_FOREVER);
  green_release(waver);
  for (id = 1; id <= ENTITIES; id++)
    printf("entity %d moved %ld times to x = %ld\n", id, entity[id].moves,
           entity[id].x);
  printf("C greenlet made %d waves\n", waves);
  lua_close(L);
  return green_hub_free(hub) == 0 ? 0 : 1;
}
