/*
** event.c: green.Event, over the runtime's green_event_t.
*/

#include "lgreen.h"

#define LGREEN_EVENT "green.Event"

typedef struct {
  green_event_t *event;
} levent;

static green_event_t *check_event(lua_State *L) {
  levent *e = luaL_checkudata(L, 1, LGREEN_EVENT);
  if (e->event == NULL) luaL_argerror(L, 1, "Event is closed");
  return e->event;
}

static int l_new(lua_State *L) {
  levent *e = lua_newuserdatauv(L, sizeof *e, 0);
  int rc;
  e->event = NULL;
  luaL_setmetatable(L, LGREEN_EVENT);
  if ((rc = green_event_new(&e->event)) < 0)
    return luaL_error(L, "Event: %s", green_strerror(rc));
  return 1;
}

static int l_set(lua_State *L) {
  green_event_set(check_event(L));
  return 0;
}

static int l_clear(lua_State *L) {
  green_event_clear(check_event(L));
  return 0;
}

static int l_is_set(lua_State *L) {
  lua_pushboolean(L, green_event_is_set(check_event(L)));
  return 1;
}

/* wait(timeout): true once set; false if the time ran out. */
static int l_wait(lua_State *L) {
  green_event_t *event = check_event(L);
  double timeout = lgreen_opt_timeout(L, 2);
  int rc;
  lgreen_check_can_block(L, "wait");
  rc = lgreen_check_result(L, green_event_wait(event, timeout), "wait");
  lua_pushboolean(L, rc == 0);
  return 1;
}

static int l_gc(lua_State *L) {
  levent *e = luaL_checkudata(L, 1, LGREEN_EVENT);
  green_event_free(e->event);
  e->event = NULL;
  return 0;
}

void lgreen_open_event(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"set", l_set},
    {"clear", l_clear},
    {"is_set", l_is_set},
    {"ready", l_is_set},
    {"wait", l_wait},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__gc", l_gc},
    {NULL, NULL}
  };
  lgreen_new_class(L, LGREEN_EVENT, methods, NULL, metamethods);
  lua_pop(L, 1);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "Event");
}
