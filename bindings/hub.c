/*
** hub.c: Lua functions that act on the hub: its clock, sleeping,
** yielding, the switch interval.
*/

#include "lgreen.h"

/* The seconds argument of sleep: a number, none or nil (0). */
static double check_seconds(lua_State *L) {
  int is_number;
  /* sleep(0), the usual way to yield: an integer is read without the
     conversion a number check calls out for. */
  if (lua_tointegerx(L, 1, &is_number) == 0 && is_number) return 0;
  return lua_isnoneornil(L, 1) ? 0 : lgreen_check_seconds(L, 1);
}

static int l_sleep(lua_State *L) {
  double seconds = check_seconds(L);
  lgreen_check_can_block(L, "sleep");
  lgreen_check_result(L, seconds == 0 ? green_yield() : green_sleep(seconds),
                      "sleep");
  return 0;
}

static int l_idle(lua_State *L) {
  lgreen_check_can_block(L, "idle");
  lgreen_check_result(L, green_idle(), "idle");
  return 0;
}

/* run(): from the main greenlet, wait until no greenlet is left. */
static int l_run(lua_State *L) {
  green_hub_t *hub = green_hub_current();
  int rc;
  lgreen_check_can_block(L, "run");
  rc = green_hub_run(hub);
  if (rc == GREEN_EPERM)
    return luaL_error(L, "run: only the main greenlet can run the hub");
  lgreen_check_result(L, rc, "run");
  return 0;
}

/* stats(): the hub's counters, for specs that look for leaks. */
static int l_stats(lua_State *L) {
  green_hub_stats_t st;
  green_hub_stats(green_hub_current(), &st);
  lua_createtable(L, 0, 11);
#define FIELD(name) lua_pushinteger(L, (lua_Integer)st.name); \
                    lua_setfield(L, -2, #name)
  FIELD(spawned);
  FIELD(switches);
  FIELD(polls);
  FIELD(alive);
  FIELD(ready);
  FIELD(stacks_mapped);
  FIELD(stacks_in_arenas);
  FIELD(stacks_pooled);
  FIELD(stacks_reused);
  FIELD(stack_maps);
#undef FIELD
  lua_pushinteger(L, lgreen_state_open(L)->count);
  lua_setfield(L, -2, "lua_threads_idle");
  return 1;
}

static int l_getswitchinterval(lua_State *L) {
  lua_pushnumber(L, green_hub_switch_interval(green_hub_current()));
  return 1;
}

static int l_setswitchinterval(lua_State *L) {
  double seconds = luaL_checknumber(L, 1);
  luaL_argcheck(L, seconds > 0 && seconds <= 3600, 1,
                "must be more than 0 and at most 3600 seconds");
  green_hub_set_switch_interval(green_hub_current(), seconds);
  return 0;
}

/* now(): the hub's clock, in seconds; readable without a hub too. */
static int l_now(lua_State *L) {
  lua_pushnumber(L, green_now());
  return 1;
}

void lgreen_open_hub(lua_State *L) {
  static const luaL_Reg functions[] = {
    {"now", l_now},
    {"sleep", l_sleep},
    {"idle", l_idle},
    {"run", l_run},
    {"stats", l_stats},
    {"getswitchinterval", l_getswitchinterval},
    {"setswitchinterval", l_setswitchinterval},
    {NULL, NULL}
  };
  luaL_setfuncs(L, functions, 0);
}
