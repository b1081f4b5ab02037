/*
** lua_channel.c: C greenlets and Lua greenlets exchange values through one
** green_channel_t. A C greenlet sends requests (pointers to C structs);
** Lua greenlets take them, read them through functions the host gives
** Lua, fill in the answer and send the pointer back on a second channel,
** where another C greenlet checks every answer.
**
**   build/default/examples/lua_channel [requests]
*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "green_lua.h"

typedef struct request {
  int id;
  char question[32];
  char answer[32];
} request;

static green_channel_t *requests, *answers;
static int count, checked, wrong;

static request *check_request(lua_State *L) {
  luaL_checktype(L, 1, LUA_TLIGHTUSERDATA);
  return lua_touserdata(L, 1);
}

/* host.question(p) -> string */
static int host_question(lua_State *L) {
  lua_pushstring(L, check_request(L)->question);
  return 1;
}

/* host.answer(p, text) */
static int host_answer(lua_State *L) {
  request *r = check_request(L);
  const char *text = luaL_checkstring(L, 2);
  snprintf(r->answer, sizeof r->answer, "%s", text);
  return 0;
}

static void *ask(void *arg) {
  request *all = arg;
  int i;
  for (i = 0; i < count; i++) {
    all[i].id = i;
    snprintf(all[i].question, sizeof all[i].question, "hello %d", i);
    if (green_channel_send(requests, &all[i], GREEN_FOREVER) < 0) break;
  }
  green_channel_close(requests);            /* ends the Lua workers' loops */
  return NULL;
}

static void *check_answers(void *arg) {
  void *item;
  (void)arg;
  while (checked < count &&
         green_channel_recv(answers, &item, GREEN_FOREVER) == 0) {
    request *r = item;
    char expected[32];
    snprintf(expected, sizeof expected, "HELLO %d", r->id);
    if (strcmp(r->answer, expected) != 0) wrong++;
    checked++;
  }
  return NULL;
}

static const char *workers =
  "local green = require 'green'\n"
  "local requests, answers = ...\n"
  "local served = {}\n"
  "for id = 1, 3 do\n"
  "  served[id] = 0\n"
  "  green.spawn(function()\n"
  "    for p in requests:iter() do\n"
  "      green.sleep(0.001 * id)            -- some work, in blocking style\n"
  "      host.answer(p, host.question(p):upper())\n"
  "      assert(answers:put(p))\n"
  "      served[id] = served[id] + 1\n"
  "    end\n"
  "  end)\n"
  "end\n"
  "return served\n";

int main(int argc, char **argv) {
  green_hub_t *hub;
  request *all;
  lua_State *L;
  int id;

  count = argc > 1 ? atoi(argv[1]) : 12;
  if (count < 1 || (all = calloc((size_t)count, sizeof *all)) == NULL) return 1;
  if (green_hub_new(NULL, &hub) < 0) return 1;
  if (green_channel_new(0, &requests) < 0) return 1;
  if (green_channel_new(4, &answers) < 0) return 1;

  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "green.core", luaopen_green_core, 0);
  lua_pop(L, 1);
  luaL_newlib(L, ((const luaL_Reg[]){{"question", host_question},
                                     {"answer", host_answer},
                                     {NULL, NULL}}));
  lua_setglobal(L, "host");
  if (luaL_dostring(L, "package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path")
      != LUA_OK || luaL_loadstring(L, workers) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  green_lua_push_channel(L, requests);
  green_lua_push_channel(L, answers);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }

  green_spawn(ask, all, NULL, NULL);
  green_spawn(check_answers, NULL, NULL, NULL);
  if (green_hub_run(hub) < 0) return 1;

  printf("%d requests, %d answers checked, %d wrong\n", count, checked, wrong);
  for (id = 1; id <= 3; id++) {
    lua_rawgeti(L, -1, id);
    printf("lua worker %d served %d\n", id, (int)lua_tointeger(L, -1));
    lua_pop(L, 1);
  }
  lua_close(L);
  green_channel_free(requests);
  green_channel_free(answers);
  green_hub_free(hub);
  free(all);
  return checked == count && wrong == 0 ? 0 : 1;
}
