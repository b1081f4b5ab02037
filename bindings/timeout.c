/*
** timeout.c: green.Timeout. Started in a greenlet, it raises itself (or a
** given error) in that greenlet once its time has passed, at whatever
** blocking call the greenlet is in, as gevent's Timeout does.
*/

#include <math.h>
#include <string.h>

#include <ev.h>

#include "lgreen.h"


typedef struct {
  ev_timer timer;           /* first: the callback gets this pointer */
  lua_State *ML;            /* the main thread, for the hub-side callback */
  lgreen *target;           /* greenlet that started it; anchored in the
                               user value while the timer is active */
  int self_ref;             /* registry: this object while active */
  int err_ref;              /* registry: raise this instead of the Timeout */
  double seconds;           /* negative: never fires */
  unsigned char pending;
} ltimeout;

static ltimeout *check_timeout(lua_State *L, int index) {
  return luaL_checkudata(L, index, LGREEN_TIMEOUT);
}

/* Push what the timeout raises: its error, or itself. */
static void push_error(lua_State *L, ltimeout *t) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->err_ref != LUA_NOREF ? t->err_ref
                                                             : t->self_ref);
}

/* Protected, on the main thread: [t]. Hand the target the error. */
static int kill_target(lua_State *L) {
  ltimeout *t = lua_touserdata(L, 1);
  lgreen *target = t->target;
  luaL_unref(L, LUA_REGISTRYINDEX, target->pending_ref);
  target->pending_ref = LUA_NOREF;
  push_error(L, t);
  target->pending_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  green_kill(target->g);
  return 0;
}

/* On the hub: hand the error to the target and kill it with it. Runs with
   the main thread's stack, balanced, as libev callbacks in luv do, and
   protected: the main thread's innermost pcall is on another C stack. A
   kill waiting to be raised (a Lua kill, a C host's green_kill, another
   Timeout's) wins: the Timeout tries again a moment later,
   so that a target that catches the kill and blocks again gets the Timeout
   then. (Not at once: C code that swallows the kill would keep the mark,
   and the hub would spin.) */
static void fire(struct ev_loop *loop, ev_timer *w, int revents) {
  ltimeout *t = (ltimeout *)(void *)w;
  lua_State *L = t->ML;
  lgreen *target = t->target;
  (void)revents;
  if (!target->done &&
      (target->kill_pending || green_kill_pending(target->g))) {
    ev_timer_set(&t->timer, 0.001, 0.);
    ev_timer_start(loop, &t->timer);
    return;
  }
  t->pending = 0;
  if (!target->done && lua_checkstack(L, 4)) {    /* else no memory: */
    lua_pushcfunction(L, kill_target);           /* it cannot fire */
    lua_pushlightuserdata(L, t);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
  t->self_ref = LUA_NOREF;
}

#define SECONDS_EXPECTED "must be a finite number of seconds, at least 0"

static int is_seconds(lua_State *L, int index) {
  int is_number;
  double seconds = (double)lua_tonumberx(L, index, &is_number);
  return is_number && seconds >= 0 && !isinf(seconds);
}

static int l_new(lua_State *L) {
  ltimeout *t;
  double seconds = -1;
  lua_settop(L, 2);                       /* [seconds, err] */
  if (!lua_isnoneornil(L, 1)) {
    luaL_argcheck(L, is_seconds(L, 1), 1, SECONDS_EXPECTED);
    seconds = lua_tonumber(L, 1);
  }
  t = lua_newuserdatauv(L, sizeof *t, 1);
  ev_timer_init(&t->timer, fire, 0., 0.);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  t->ML = lua_tothread(L, -1);
  lua_pop(L, 1);
  t->target = NULL;
  t->self_ref = t->err_ref = LUA_NOREF;
  t->seconds = seconds;
  t->pending = 0;
  luaL_setmetatable(L, LGREEN_TIMEOUT);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushvalue(L, 2);
    t->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  return 1;
}

/* green.Timeout(seconds, err) is called with the Timeout table first; a
   call through __call has no name Lua can find, so it is given one. */
static int l_call(lua_State *L) {
  lua_remove(L, 1);
  if (!lua_isnoneornil(L, 1) && !is_seconds(L, 1))
    return luaL_error(L, "bad argument #1 to 'Timeout' (%s)", SECONDS_EXPECTED);
  return l_new(L);
}

static int l_start(lua_State *L) {
  ltimeout *t = check_timeout(L, 1);
  struct ev_loop *loop = green_hub_loop(green_hub_current());
  if (t->pending) return luaL_error(L, "this Timeout is already started");
  if (t->seconds < 0) return 0;             /* never fires */
  if (loop == NULL) return luaL_error(L, "Timeout: no hub on this thread");
  t->target = lgreen_push_current(L);
  lua_setiuservalue(L, 1, 1);               /* keep the target alive */
  lua_pushvalue(L, 1);
  t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  ev_now_update(loop);
  ev_timer_set(&t->timer, t->seconds, 0.);
  ev_timer_start(loop, &t->timer);
  t->pending = 1;
  lua_settop(L, 1);
  return 1;
}

static int l_start_new(lua_State *L) {
  l_new(L);
  lua_replace(L, 1);
  lua_settop(L, 1);
  return l_start(L);
}

/* Stop the timer; if it already fired but the target has not raised it
   yet (the target is running: it is the one cancelling), withdraw it. */
static int l_cancel(lua_State *L) {
  ltimeout *t = check_timeout(L, 1);
  struct ev_loop *loop = green_hub_loop(green_hub_current());
  lgreen *target = t->target;
  if (t->pending) {
    ev_timer_stop(loop, &t->timer);
    t->pending = 0;
  } else if (target != NULL && target->pending_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, target->pending_ref);
    if (t->err_ref != LUA_NOREF)
      lua_rawgeti(L, LUA_REGISTRYINDEX, t->err_ref);
    else
      lua_pushvalue(L, 1);
    if (lua_rawequal(L, -1, -2) && green_cancel_kill(target->g) == 1) {
      luaL_unref(L, LUA_REGISTRYINDEX, target->pending_ref);
      target->pending_ref = LUA_NOREF;
    }
    lua_pop(L, 2);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
  t->self_ref = LUA_NOREF;
  lua_pushnil(L);
  lua_setiuservalue(L, 1, 1);
  t->target = NULL;
  return 0;
}

static int l_index(lua_State *L) {
  ltimeout *t = check_timeout(L, 1);
  const char *key = luaL_checkstring(L, 2);
  if (strcmp(key, "pending") == 0) {
    lua_pushboolean(L, t->pending);
    return 1;
  }
  if (strcmp(key, "seconds") == 0) {
    if (t->seconds < 0) lua_pushnil(L); else lua_pushnumber(L, t->seconds);
    return 1;
  }
  lua_getfield(L, lua_upvalueindex(1), key);
  return 1;
}

static int l_tostring(lua_State *L) {
  ltimeout *t = check_timeout(L, 1);
  if (t->seconds < 0)
    lua_pushliteral(L, "Timeout(never)");
  else
    lua_pushfstring(L, "Timeout(%f seconds)", t->seconds);
  return 1;
}

static int l_gc(lua_State *L) {
  ltimeout *t = check_timeout(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, t->err_ref);
  t->err_ref = LUA_NOREF;
  return 0;
}

static int l_is_timeout(lua_State *L) {
  lua_pushboolean(L, luaL_testudata(L, 1, LGREEN_TIMEOUT) != NULL);
  return 1;
}

void lgreen_open_timeout(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"start", l_start},
    {"cancel", l_cancel},
    {"close", l_cancel},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__tostring", l_tostring},
    {"__close", l_cancel},
    {"__gc", l_gc},
    {NULL, NULL}
  };
  lgreen_new_class(L, LGREEN_TIMEOUT, methods, l_index, metamethods);
  lua_pop(L, 1);
  /* green.Timeout: a table that constructs when called */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_start_new);
  lua_setfield(L, -2, "start_new");
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_call);
  lua_setfield(L, -2, "__call");
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, "Timeout");
  lua_pushcfunction(L, l_is_timeout);
  lua_setfield(L, -2, "is_timeout");
}
