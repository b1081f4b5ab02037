/*
** greenlet.c: the Greenlet type. A Lua greenlet is a Lua thread run with
** lua_pcall on a C greenlet's own stack, so a blocking call anywhere in it
** (pcall, metamethods, sort comparators, coroutines) is a C-level switch.
*/

#include <string.h>

#include "lgreen.h"

#define MAIN_KEY  "green.main"
#define GRAVE_KEY "green.finished"
#define GRAVE_TRIM 256

/* Link kinds. */
enum { LINK_ANY, LINK_VALUE, LINK_EXCEPTION };

lgreen *lgreen_check(lua_State *L, int index) {
  return luaL_checkudata(L, index, LGREEN_GREENLET);
}

static void init_record(lgreen *lg) {
  memset(lg, 0, sizeof *lg);
  lg->self_ref = lg->thread_ref = lg->pending_ref = LUA_NOREF;
}

/* Push the handle of the running greenlet, making the main greenlet's on
   first use. Returns its record. */
lgreen *lgreen_push_current(lua_State *L) {
  green_t *g = green_current();
  lgreen *lg = green_data(g);
  if (lg != NULL && lg->self_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, lg->self_ref);
    return lg;
  }
  if (lua_getfield(L, LUA_REGISTRYINDEX, MAIN_KEY) != LUA_TNIL)
    return lua_touserdata(L, -1);
  lua_pop(L, 1);
  lg = lua_newuserdatauv(L, sizeof *lg, 1);
  init_record(lg);
  lg->g = g;
  lg->T = L;
  lg->started = 1;
  luaL_setmetatable(L, LGREEN_GREENLET);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "main");
  lua_setfield(L, -2, "name");
  lua_setiuservalue(L, -2, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, MAIN_KEY);
  green_set_data(g, lg);
  return lg;
}

lgreen *lgreen_current(lua_State *L) {
  lgreen *lg = lgreen_push_current(L);
  lua_pop(L, 1);
  return lg;
}


/* ---------------------------------------------------------------- death */

/* The Lua thread and handle of a finished greenlet must stay reachable
   until its C greenlet has left them: no collector step may free the
   thread that finish() still runs on. They go to a list that a later
   spawn empties, when the C greenlet is long gone. */
static void bury(lua_State *T, lgreen *lg, int ud) {
  lua_Integer n;
  if (lua_getfield(T, LUA_REGISTRYINDEX, GRAVE_KEY) != LUA_TTABLE) {
    lua_pop(T, 1);
    lua_newtable(T);
    lua_pushvalue(T, -1);
    lua_setfield(T, LUA_REGISTRYINDEX, GRAVE_KEY);
  }
  n = (lua_Integer)lua_rawlen(T, -1);
  lua_pushvalue(T, ud);
  lua_rawseti(T, -2, n + 1);
  lua_pushthread(T);
  lua_rawseti(T, -2, n + 2);
  lua_pop(T, 1);
  luaL_unref(T, LUA_REGISTRYINDEX, lg->self_ref);
  luaL_unref(T, LUA_REGISTRYINDEX, lg->thread_ref);
  lg->self_ref = lg->thread_ref = LUA_NOREF;
}

static void empty_graveyard(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, GRAVE_KEY) == LUA_TTABLE &&
      lua_rawlen(L, -1) > GRAVE_TRIM) {
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, GRAVE_KEY);
  }
  lua_pop(L, 1);
}

static int spawn_common(lua_State *L, double delay, int fn_index, int raw);

/* Start every link whose kind matches, each in a greenlet of its own, with
   the dead greenlet as argument. */
static void fire_links(lua_State *L, lgreen *lg, int ud, int env) {
  lua_Integer i, n;
  if (lua_getfield(L, env, "links") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = 1; i <= n; i++) {
    int kind, top = lua_gettop(L);
    lua_rawgeti(L, top, i);               /* {fn, kind} */
    lua_rawgeti(L, -1, 2);
    kind = (int)lua_tointeger(L, -1);
    if (kind == LINK_ANY || (kind == LINK_VALUE && !lg->failed) ||
        (kind == LINK_EXCEPTION && lg->failed)) {
      lua_rawgeti(L, top + 1, 1);         /* fn */
      lua_pushvalue(L, ud);
      spawn_common(L, 0, top + 3, 1);
    }
    lua_settop(L, top);
  }
  lua_pop(L, 1);
}

/* Record how the greenlet ended: its nres results (status LUA_OK) or its
   error, found from stack index `first`. GreenletExit counts as success. */
static void record_end(lua_State *L, lgreen *lg, int status, int first,
                       int nres, int env) {
  int i;
  if (status == LUA_OK || lgreen_is_exit(L, first)) {
    if (!lg->raw) {
      lua_createtable(L, nres, 1);
      for (i = 0; i < nres; i++) {
        lua_pushvalue(L, first + i);
        lua_rawseti(L, -2, i + 1);
      }
      lua_pushinteger(L, nres);
      lua_setfield(L, -2, "n");
      lua_setfield(L, env, "value");
    }
  } else {
    lg->failed = 1;
    lua_pushvalue(L, first);
    lua_setfield(L, env, "exception");
  }
  lg->done = 1;
}

/* Runs on the greenlet's own thread T after its function returned. T holds
   [handler, results...] or [handler, error]. */
static void finish(lgreen *lg, int status) {
  lua_State *T = lg->T;
  int nres = lua_gettop(T) - 1, ud = nres + 2, env = nres + 3;
  lua_rawgeti(T, LUA_REGISTRYINDEX, lg->self_ref);
  lua_getiuservalue(T, ud, 1);
  record_end(T, lg, status, 2, nres, env);
  luaL_unref(T, LUA_REGISTRYINDEX, lg->pending_ref);
  lg->pending_ref = LUA_NOREF;
  if (lg->failed) {
    lua_getfield(T, env, "traceback");
    lgreen_report_error(T, ud, 2, -1);
    lua_pop(T, 1);
  }
  fire_links(T, lg, ud, env);
  bury(T, lg, ud);
  lua_settop(T, 0);
}

/* Message handler of a greenlet's pcall: keep the traceback beside the
   error, and the error itself untouched (it may be a Timeout object). */
static int keep_traceback(lua_State *L) {
  lgreen *lg = lua_touserdata(L, lua_upvalueindex(1));
  if (lgreen_is_exit(L, 1)) return 1;
  luaL_traceback(L, L, NULL, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, lg->self_ref);
  lua_getiuservalue(L, -1, 1);
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "traceback");
  lua_settop(L, 1);
  return 1;
}

static void *entry(void *arg) {
  lgreen *lg = arg;
  int status;
  lg->started = 1;
  status = lua_pcall(lg->T, lg->nargs, LUA_MULTRET, 1);
  finish(lg, status);
  return NULL;
}

/* A greenlet killed before it started never runs: end it from here. */
static void finish_unstarted(lua_State *L, lgreen *lg, int ud) {
  int env;
  ud = lua_absindex(L, ud);
  lua_getiuservalue(L, ud, 1);
  env = lua_gettop(L);
  lgreen_push_exit(L);
  record_end(L, lg, LUA_OK, env + 1, 1, env);
  lua_settop(L, env);
  luaL_unref(L, LUA_REGISTRYINDEX, lg->pending_ref);
  lg->pending_ref = LUA_NOREF;
  fire_links(L, lg, ud, env);
  lua_pop(L, 1);
  /* Not running on its thread: the references can simply go. */
  luaL_unref(L, LUA_REGISTRYINDEX, lg->self_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, lg->thread_ref);
  lg->self_ref = lg->thread_ref = LUA_NOREF;
}

/* ---------------------------------------------------------------- spawn */

static int spawn_common(lua_State *L, double delay, int fn_index, int raw) {
  int nargs = lua_gettop(L) - fn_index, rc;
  lgreen *lg;
  lua_State *T;
  luaL_checktype(L, fn_index, LUA_TFUNCTION);
  empty_graveyard(L);
  lg = lua_newuserdatauv(L, sizeof *lg, 1);
  init_record(lg);
  lg->raw = (unsigned char)raw;
  luaL_setmetatable(L, LGREEN_GREENLET);
  lua_createtable(L, 0, 2);
  lua_setiuservalue(L, -2, 1);
  T = lua_newthread(L);
  lg->thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lg->T = T;
  lg->nargs = nargs;
  lua_pushlightuserdata(T, lg);
  lua_pushcclosure(T, keep_traceback, 1);
  lua_rotate(L, fn_index, 1);             /* the handle below fn and args */
  lua_xmove(L, T, nargs + 1);
  lua_pushvalue(L, -1);
  lg->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  rc = delay > 0 ? green_spawn_later(delay, entry, lg, NULL, &lg->g)
                 : green_spawn(entry, lg, NULL, &lg->g);
  if (rc < 0) {
    luaL_unref(L, LUA_REGISTRYINDEX, lg->self_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, lg->thread_ref);
    lg->self_ref = lg->thread_ref = LUA_NOREF;
    return luaL_error(L, "spawn: %s", green_strerror(rc));
  }
  green_set_data(lg->g, lg);
  return 1;
}

static int l_spawn(lua_State *L) {
  return spawn_common(L, 0, 1, 0);
}

static int l_spawn_raw(lua_State *L) {
  return spawn_common(L, 0, 1, 1);
}

static int l_spawn_later(lua_State *L) {
  double seconds = luaL_checknumber(L, 1);
  luaL_argcheck(L, seconds >= 0, 1, "must not be negative");
  return spawn_common(L, seconds, 2, 0);
}

static int l_getcurrent(lua_State *L) {
  lgreen_push_current(L);
  return 1;
}


/* ---------------------------------------------------------------- control */

static double check_timeout(lua_State *L, int index) {
  double timeout;
  if (lua_isnoneornil(L, index)) return GREEN_FOREVER;
  timeout = luaL_checknumber(L, index);
  luaL_argcheck(L, timeout >= 0, index, "must not be negative");
  return timeout;
}

/* Wait for lg to die. Returns 0 once it has; pushes nil, "timeout" and
   returns 2 if the time ran out. */
static int join(lua_State *L, lgreen *lg, double timeout) {
  int rc;
  if (lg->done) return 0;
  lgreen_check_can_block(L, "join");
  rc = lgreen_check_result(L, green_join(lg->g, timeout), "join");
  if (rc == GREEN_ETIMEDOUT) {
    luaL_pushfail(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  return 0;
}

static int l_join(lua_State *L) {
  int n = join(L, lgreen_check(L, 1), check_timeout(L, 2));
  if (n > 0) return n;
  lua_pushboolean(L, 1);
  return 1;
}

static int l_get(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  int n = join(L, lg, check_timeout(L, 2)), i;
  if (n > 0) return n;
  lua_getiuservalue(L, 1, 1);
  if (lg->failed) {
    lua_getfield(L, -1, "exception");
    return lua_error(L);
  }
  if (lua_getfield(L, -1, "value") != LUA_TTABLE) return 0;
  lua_getfield(L, -1, "n");
  n = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  luaL_checkstack(L, n, "too many results");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  return n;
}

/* kill(g, err, {block = true, timeout = s}): err (default GreenletExit) is
   raised in g at its blocking point. Killing oneself raises at once. */
static int l_kill(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  int block = 1, rc;
  double timeout = GREEN_FOREVER;
  if (lua_istable(L, 3)) {
    if (lua_getfield(L, 3, "block") != LUA_TNIL) block = lua_toboolean(L, -1);
    lua_getfield(L, 3, "timeout");
    timeout = check_timeout(L, -1);
    lua_pop(L, 2);
  } else if (!lua_isnoneornil(L, 3)) {
    luaL_typeerror(L, 3, "table");
  }
  if (lg->done) return 0;
  if (lg->g == green_current()) {
    if (lua_isnoneornil(L, 2)) lgreen_push_exit(L); else lua_pushvalue(L, 2);
    return lua_error(L);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, lg->pending_ref);
  lg->pending_ref = LUA_NOREF;
  if (!lua_isnoneornil(L, 2)) {
    lua_pushvalue(L, 2);
    lg->pending_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  rc = green_kill(lg->g);
  if (rc < 0) return luaL_error(L, "kill: %s", green_strerror(rc));
  if (green_state(lg->g) == GREEN_DEAD && !lg->done) finish_unstarted(L, lg, 1);
  if (block) return join(L, lg, timeout);
  return 0;
}

/* cancel(): kill only a greenlet that has not started; true if it was. */
static int l_cancel(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  if (lg->started || lg->done) {
    lua_pushboolean(L, 0);
    return 1;
  }
  green_kill(lg->g);
  finish_unstarted(L, lg, 1);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_ready(lua_State *L) {
  lua_pushboolean(L, lgreen_check(L, 1)->done);
  return 1;
}

static int l_successful(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  lua_pushboolean(L, lg->done && !lg->failed);
  return 1;
}

static int add_link(lua_State *L, int kind) {
  lgreen *lg = lgreen_check(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  if (lg->done) {                 /* already dead: call it soon */
    if (kind == LINK_ANY || (kind == LINK_VALUE) == !lg->failed) {
      lua_settop(L, 2);
      lua_pushvalue(L, 1);
      spawn_common(L, 0, 2, 1);
    }
    return 0;
  }
  lua_getiuservalue(L, 1, 1);
  if (lua_getfield(L, -1, "links") != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "links");
  }
  lua_createtable(L, 2, 0);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 1);
  lua_pushinteger(L, kind);
  lua_rawseti(L, -2, 2);
  lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  return 0;
}

static int l_link(lua_State *L) { return add_link(L, LINK_ANY); }
static int l_link_value(lua_State *L) { return add_link(L, LINK_VALUE); }
static int l_link_exception(lua_State *L) { return add_link(L, LINK_EXCEPTION); }

static int l_unlink(lua_State *L) {
  lua_Integer i, n;
  lgreen_check(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_getiuservalue(L, 1, 1);
  if (lua_getfield(L, -1, "links") != LUA_TTABLE) return 0;
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = n; i >= 1; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawgeti(L, -1, 1);
    if (lua_rawequal(L, -1, 2)) {
      lua_pop(L, 2);
      lua_getglobal(L, "table");          /* table.remove keeps order */
      lua_getfield(L, -1, "remove");
      lua_pushvalue(L, -3);
      lua_pushinteger(L, i);
      lua_call(L, 2, 0);
      lua_pop(L, 1);
    } else {
      lua_pop(L, 2);
    }
  }
  return 0;
}


/* ---------------------------------------------------------------- fields */

static const char *state_name(const lgreen *lg) {
  if (lg->done) return lg->failed ? "failed" : "dead";
  if (!lg->started) return "not started";
  switch (green_state(lg->g)) {
    case GREEN_RUNNING: return "running";
    case GREEN_READY: return "ready";
    default: return "blocked";
  }
}

static int l_tostring(lua_State *L) {
  lgreen *lg = lgreen_check(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_getfield(L, -1, "name");
  if (lua_isstring(L, -1))
    lua_pushfstring(L, "Greenlet \"%s\" (%s)", lua_tostring(L, -1),
                    state_name(lg));
  else
    lua_pushfstring(L, "Greenlet #%I (%s)", (lua_Integer)green_id(lg->g),
                    state_name(lg));
  return 1;
}

/* Fields: name, value (the first result), exception, traceback; and the
   methods. */
static int l_index(lua_State *L) {
  const char *key = luaL_checkstring(L, 2);
  lgreen_check(L, 1);
  if (lua_getfield(L, lua_upvalueindex(1), key) != LUA_TNIL) return 1;
  lua_getiuservalue(L, 1, 1);
  if (strcmp(key, "value") == 0) {
    if (lua_getfield(L, -1, "value") == LUA_TTABLE) lua_rawgeti(L, -1, 1);
    return 1;
  }
  if (strcmp(key, "name") == 0 || strcmp(key, "exception") == 0 ||
      strcmp(key, "traceback") == 0) {
    lua_getfield(L, -1, key);
    return 1;
  }
  return 0;
}

static int l_newindex(lua_State *L) {
  const char *key = luaL_checkstring(L, 2);
  lgreen *lg = lgreen_check(L, 1);
  if (strcmp(key, "name") != 0)
    return luaL_error(L, "cannot set field '%s' of a greenlet", key);
  if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TSTRING);
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 3);
  lua_setfield(L, -2, "name");
  if (!lg->done) green_set_name(lg->g, lua_tostring(L, 3));
  return 0;
}

static int l_gc(lua_State *L) {
  lgreen *lg = lua_touserdata(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, lg->pending_ref);
  lg->pending_ref = LUA_NOREF;
  if (lg->g != NULL && green_hub_current() != NULL) green_release(lg->g);
  lg->g = NULL;
  return 0;
}

void lgreen_open_greenlet(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"join", l_join},
    {"get", l_get},
    {"kill", l_kill},
    {"cancel", l_cancel},
    {"ready", l_ready},
    {"dead", l_ready},
    {"successful", l_successful},
    {"link", l_link},
    {"link_value", l_link_value},
    {"link_exception", l_link_exception},
    {"unlink", l_unlink},
    {NULL, NULL}
  };
  static const luaL_Reg functions[] = {
    {"spawn", l_spawn},
    {"spawn_raw", l_spawn_raw},
    {"spawn_later", l_spawn_later},
    {"getcurrent", l_getcurrent},
    {"kill", l_kill},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, LGREEN_GREENLET)) {
    lua_pushliteral(L, "Greenlet");
    lua_setfield(L, -2, "__name");
    luaL_newlib(L, methods);
    lua_pushcclosure(L, l_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, l_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, functions, 0);
}
