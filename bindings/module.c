/*
** module.c: luaopen_green_core, the hub a Lua state uses, GreenletExit,
** and turning runtime results into Lua errors.
*/

#include <stdio.h>
#include <string.h>

#include "lgreen.h"

#define HUB_KEY     "green.hub"
#define ONERROR_KEY "green.on_error"

/* The hub this Lua state runs on: the thread's own if a host made one,
   else one made here and freed with the state (if nothing is left). */
typedef struct {
  green_hub_t *hub;
  int owned;
} hub_anchor;

static int hub_anchor_gc(lua_State *L) {
  hub_anchor *a = lua_touserdata(L, 1);
  lgreen_forget_adopted(L);
  if (a->owned && a->hub != NULL) green_hub_free(a->hub);  /* EBUSY: leave it */
  a->hub = NULL;
  return 0;
}

static void anchor_hub(lua_State *L) {
  hub_anchor *a;
  green_hub_t *hub = green_hub_current();
  int owned = 0, rc;
  if (lua_getfield(L, LUA_REGISTRYINDEX, HUB_KEY) != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  if (hub == NULL && lgreen_on_worker) return;   /* workers have no hub */
  if (hub == NULL) {
    if ((rc = green_hub_new(NULL, &hub)) < 0)
      luaL_error(L, "green: cannot create a hub: %s", green_strerror(rc));
    owned = 1;
  }
  a = lua_newuserdatauv(L, sizeof *a, 0);
  a->hub = hub;
  a->owned = owned;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, hub_anchor_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, HUB_KEY);
}


/* ---------------------------------------------------------------- classes */

/*
** Push the metatable `tname` (its __name is tname without the "green."
** prefix), made on first use: the methods are its __index, or the upvalue
** of `index` when that function decides, beside the other metamethods.
*/
void lgreen_new_class(lua_State *L, const char *tname, const luaL_Reg *methods,
                      lua_CFunction index, const luaL_Reg *metamethods) {
  if (!luaL_newmetatable(L, tname)) return;
  lua_pushstring(L, strchr(tname, '.') ? strchr(tname, '.') + 1 : tname);
  lua_setfield(L, -2, "__name");
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  if (index != NULL) lua_pushcclosure(L, index, 1);
  lua_setfield(L, -2, "__index");
  luaL_setfuncs(L, metamethods, 0);
}

/* Push the registry table under the address `key`, made on first use,
   with __mode `mode` if not NULL. */
void lgreen_registry_table(lua_State *L, const void *key, const char *mode) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, key) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  if (mode != NULL) {
    lua_createtable(L, 0, 1);
    lua_pushstring(L, mode);
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
  }
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}


/* ---------------------------------------------------------------- errors */

static const char exit_key = 'x';

void lgreen_push_exit(lua_State *L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &exit_key);
}

int lgreen_is_exit(lua_State *L, int index) {
  int same;
  index = lua_absindex(L, index);
  lgreen_push_exit(L);
  same = lua_rawequal(L, index, -1);
  lua_pop(L, 1);
  return same;
}

static int exit_tostring(lua_State *L) {
  lua_pushliteral(L, "GreenletExit");
  return 1;
}

static void make_exit(lua_State *L) {
  lua_createtable(L, 0, 0);
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, exit_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "GreenletExit");
  lua_setfield(L, -2, "__name");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &exit_key);
}

/* Raise what a kill asked for: the error given to kill, a Timeout, or
   GreenletExit. It is raised on L, the Lua thread that called the blocking
   function, which may be a coroutine inside the greenlet. */
static int raise_kill(lua_State *L) {
  lgreen *self = lgreen_current(L);
  if (self != NULL && self->pending_ref != LUA_NOREF && !self->kill_pending &&
      green_kill_pending(self->g)) {
    /* A Timeout's error, and a kill made since by other means (a C host's
       green_kill): the kill goes first, as a Lua kill's would (l_kill). */
    luaL_unref(L, LUA_REGISTRYINDEX, self->displaced_ref);
    self->displaced_ref = self->pending_ref;
    self->pending_ref = LUA_NOREF;
  }
  if (self != NULL && self->pending_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, self->pending_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, self->pending_ref);
    self->pending_ref = LUA_NOREF;
  } else {
    lgreen_push_exit(L);
  }
  if (self != NULL) {
    self->kill_pending = 0;
    if (self->displaced_ref != LUA_NOREF) {   /* the Timeout a kill beat */
      self->pending_ref = self->displaced_ref;
      self->displaced_ref = LUA_NOREF;
      green_kill(self->g);
    }
  }
  return lua_error(L);
}

/* lgreen_check_result's slow path (lgreen.h). */
int lgreen_raise_result(lua_State *L, int rc, const char *what) {
  switch (rc) {
    case GREEN_ECANCELED:
      return raise_kill(L);
    case GREEN_EDEADLK:
      return luaL_error(L, "%s would block forever: nothing is left that "
                        "could wake this greenlet", what);
    case GREEN_EPERM:
    case GREEN_ESRCH:
    case GREEN_EINVAL:
    case GREEN_ENOMEM:
      return luaL_error(L, "%s: %s", what, green_strerror(rc));
    default:
      return rc;
  }
}

/* The results of a wait that failed as waits may (nil, "timeout" or nil,
   "closed"), for the Lua convention of returning expected failures; any
   other failure raises. */
int lgreen_push_failure(lua_State *L, int rc, const char *what) {
  switch (rc) {
    case GREEN_ETIMEDOUT:
    case GREEN_EAGAIN:
      lua_pushnil(L);
      lua_pushliteral(L, "timeout");
      return 2;
    case GREEN_EPIPE:
      lua_pushnil(L);
      lua_pushliteral(L, "closed");
      return 2;
    default:
      lgreen_check_result(L, rc, what);
      return luaL_error(L, "%s: %s", what, green_strerror(rc));
  }
}

/* A number of seconds at index: at least 0, and not NaN. */
double lgreen_check_seconds(lua_State *L, int index) {
  double seconds = luaL_checknumber(L, index);
  luaL_argcheck(L, seconds == seconds, index, "must not be NaN");
  luaL_argcheck(L, seconds >= 0, index, "must not be negative");
  return seconds;
}

/* A timeout argument: nil or none means none (GREEN_FOREVER). */
double lgreen_opt_timeout(lua_State *L, int index) {
  return lua_isnoneornil(L, index) ? GREEN_FOREVER
                                   : lgreen_check_seconds(L, index);
}

/* The wait() that green.wait and green.iwait use, for types that wake a
   queue of watchers whenever they may have become ready: wait until
   ready(L, arg), at most timeout seconds. Returns 0, or GREEN_ETIMEDOUT;
   a kill raises. Each wake re-checks ready, so watchers are never owed
   anything and may be woken freely. */
int lgreen_wait_until(lua_State *L, green_waitq_t *watchers, double timeout,
                      int (*ready)(lua_State *L, void *arg), void *arg,
                      const char *what) {
  double deadline = timeout >= 0 ? green_now() + timeout : 0, left = timeout;
  int rc;
  while (!ready(L, arg)) {
    if (timeout >= 0 && (left = deadline - green_now()) <= 0)
      return GREEN_ETIMEDOUT;
    lgreen_check_can_block(L, what);
    rc = green_waitq_wait(watchers, left, NULL, NULL);
    if (rc == GREEN_ETIMEDOUT) return rc;
    if (rc < 0 && rc != GREEN_EPIPE) lgreen_check_result(L, rc, what);
  }
  return 0;
}

/* Why lgreen_check_can_block refused (lgreen.h). */
void lgreen_refuse_block(lua_State *L, const char *what) {
  if (lgreen_on_worker)
    luaL_error(L, "%s cannot block on a worker thread of a ThreadPool", what);
  if (lua_gc(L, LUA_GCCOUNT, 0) < 0)
    luaL_error(L, "%s cannot block inside a __gc finalizer", what);
  luaL_error(L, "%s: no hub on this thread", what);
}


/* ---------------------------------------------------------------- on_error */

static int to_string(lua_State *L) {
  luaL_tolstring(L, 1, NULL);
  return 1;
}

static int to_plain_string(lua_State *L) {
  lua_pushfstring(L, "(a %s value whose __tostring failed)",
                  luaL_typename(L, 1));
  return 1;
}

/* Push a string for the value at index and return it, never raising: what
   its __tostring gives, called protected, or if that fails a description
   that calls no metamethod. Needs three free stack slots. */
const char *lgreen_describe(lua_State *L, int index) {
  static const lua_CFunction ways[] = {to_string, to_plain_string};
  size_t i;
  index = lua_absindex(L, index);
  for (i = 0; i < sizeof ways / sizeof ways[0]; i++) {
    lua_pushcfunction(L, ways[i]);
    lua_pushvalue(L, index);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_type(L, -1) == LUA_TSTRING)
      return lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  return "(a value that could not be described: not enough memory)";
}

/* The default report, on standard error. */
static void print_report(lua_State *L, int greenlet, int err, int traceback) {
  const char *who = lgreen_describe(L, greenlet);
  const char *what = lgreen_describe(L, err);
  fprintf(stderr, "green: unhandled error in %s: %s\n%s\n", who, what,
          lua_type(L, traceback) == LUA_TSTRING ? lua_tostring(L, traceback)
                                                : "");
  lua_pop(L, 2);
}

static void push_report(lua_State *L, int greenlet, int err, int traceback) {
  lua_pushvalue(L, greenlet);
  lua_pushvalue(L, err);
  lua_pushvalue(L, traceback);
}

/* The on_error handler's own greenlet: [handler, greenlet, err, traceback].
   Nothing raised here escapes; a handler that fails (other than by being
   killed) is reported with the error it was given. */
static int call_handler(lua_State *L) {
  lua_settop(L, 4);
  lua_pushvalue(L, 1);
  push_report(L, 2, 3, 4);
  if (lua_pcall(L, 3, 0, 0) != LUA_OK && !lgreen_is_exit(L, -1)) {
    fprintf(stderr, "green: the on_error handler failed: %s\n",
            lgreen_describe(L, -1));
    print_report(L, 2, 3, 4);
  }
  return 0;
}

/* [call_handler, handler, greenlet, err, traceback] */
static int spawn_handler(lua_State *L) {
  return lgreen_spawn_raw(L, 1);
}

/*
** Report a greenlet's unhandled error: the on_error handler if one is set,
** else standard error. The handler runs in a greenlet of its own, so that
** the failed one is dead, and its joiners free to go, before any handler
** runs, and a handler may block. Nothing raised here escapes.
*/
void lgreen_report_error(lua_State *L, int greenlet, int err, int traceback) {
  int top = lua_gettop(L);
  greenlet = lua_absindex(L, greenlet);
  err = lua_absindex(L, err);
  traceback = lua_absindex(L, traceback);
  if (!lua_checkstack(L, 10)) {
    fputs("green: unhandled error in a greenlet (not enough memory to "
          "describe it)\n", stderr);
    return;
  }
  if (lua_getfield(L, LUA_REGISTRYINDEX, ONERROR_KEY) != LUA_TFUNCTION) {
    lua_settop(L, top);
    print_report(L, greenlet, err, traceback);
    return;
  }
  lua_pushcfunction(L, spawn_handler);
  lua_pushcfunction(L, call_handler);
  lua_pushvalue(L, top + 1);
  push_report(L, greenlet, err, traceback);
  if (lua_pcall(L, 5, 0, 0) != LUA_OK) {      /* no greenlet: call it here */
    lua_settop(L, top);
    lua_pushcfunction(L, call_handler);
    lua_getfield(L, LUA_REGISTRYINDEX, ONERROR_KEY);
    push_report(L, greenlet, err, traceback);
    if (lua_pcall(L, 4, 0, 0) != LUA_OK)
      print_report(L, greenlet, err, traceback);
  }
  lua_settop(L, top);
}

/* Raise Lua's standard error unless the value at index can be called: a
   function, or a value whose metatable has __call (gevent takes any
   callable). */
void lgreen_check_callable(lua_State *L, int index) {
  if (lua_type(L, index) == LUA_TFUNCTION) return;
  if (luaL_getmetafield(L, index, "__call") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  luaL_typeerror(L, index, "function");
}

static int l_on_error(lua_State *L) {
  if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_getfield(L, LUA_REGISTRYINDEX, ONERROR_KEY);  /* the previous one */
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, ONERROR_KEY);
  return 1;
}


/* ---------------------------------------------------------------- workers */

/*
** A worker thread of a ThreadPool has its own Lua state and no hub. There
** only the functions below work as on the hub; every other function of
** green.core raises one clear error that names it, instead of each
** finding out in its own way that no hub is there.
*/
static const char *const worker_safe[] = {
  "now", "is_timeout", "on_worker", "_cpu_tasks", "_codec_encode",
  "_codec_decode", NULL
};

static int is_worker_safe(const char *name) {
  int i;
  for (i = 0; worker_safe[i] != NULL; i++)
    if (strcmp(worker_safe[i], name) == 0) return 1;
  return 0;
}

static int refuse_on_worker(lua_State *L) {
  return luaL_error(L, "green.%s cannot be used on a worker thread of a "
                    "ThreadPool (a cpu_bound function has no hub)",
                    lua_tostring(L, lua_upvalueindex(1)));
}

static void push_refusal(lua_State *L, const char *prefix, const char *name) {
  lua_pushfstring(L, "%s%s", prefix, name);
  lua_pushcclosure(L, refuse_on_worker, 1);
}

/* Replace the functions of the table at t by refusals, and those of the
   tables in it (green.Timeout), with the __call of their metatables. */
static void guard_table(lua_State *L, int t, const char *prefix) {
  t = lua_absindex(L, t);
  lua_pushnil(L);
  while (lua_next(L, t)) {                  /* key, value */
    const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                      : NULL;
    if (name != NULL && lua_type(L, -1) == LUA_TFUNCTION &&
        !is_worker_safe(name)) {
      lua_pushvalue(L, -2);
      push_refusal(L, prefix, name);
      lua_rawset(L, t);
    } else if (name != NULL && lua_type(L, -1) == LUA_TTABLE && *prefix == 0) {
      lua_pushfstring(L, "%s.", name);
      guard_table(L, -2, lua_tostring(L, -1));
      lua_pop(L, 1);
      if (luaL_getmetafield(L, -1, "__call") != LUA_TNIL) {
        lua_pop(L, 1);
        lua_getmetatable(L, -1);
        push_refusal(L, "", name);
        lua_setfield(L, -2, "__call");
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
}

/* ---------------------------------------------------------------- open */

#include "green_lua.h"

__attribute__((visibility("default"))) int luaopen_green_core(lua_State *L) {
  anchor_hub(L);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &exit_key) == LUA_TNIL) make_exit(L);
  lua_pop(L, 1);
  lua_newtable(L);
  lgreen_open_hub(L);
  lgreen_open_io(L);
  lgreen_open_greenlet(L);
  lgreen_open_spawntree(L);
  lgreen_open_timeout(L);
  lgreen_open_event(L);
  lgreen_open_queue(L);
  lgreen_open_semaphore(L);
  lgreen_open_deferred(L);
  lgreen_open_codec(L);
  lgreen_open_threadpool(L);
  lgreen_push_exit(L);
  lua_setfield(L, -2, "GreenletExit");
  lua_pushcfunction(L, l_on_error);
  lua_setfield(L, -2, "on_error");
  if (lgreen_on_worker && green_hub_current() == NULL) guard_table(L, -1, "");
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_green_socket_core);
  lua_setfield(L, -2, "green.socket.core");
  lua_pop(L, 1);
  return 1;
}
