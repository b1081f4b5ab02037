/*
** deferred.c: green.core.DeferredQueue, the runtime's green_deferred_t
** carrying Lua calls. lua/green/deferred.lua builds green.deferred on it.
**
** Each call is a userdata record. A sync call's function and arguments
** stay on the caller's stack beside its record: the caller waits while the
** call is queued, so the processor copies them from there when the call
** starts and moves the results back when it ends. A one-way call keeps
** them in its record's user values, and the queue's anchor table holds the
** record until it has run; so does a sync call whose caller gave up while
** it ran (the runtime's detached mode: the caller leaves at once).
**
** The processor runs each call under lua_pcall, so no Lua error unwinds
** through the runtime. GreenletExit and Timeouts are not the call's
** failure but the processor's interruption (as in gevent, where both are
** BaseException): processing stops and the error is raised again in the
** processing greenlet, and a sync caller learns its call was interrupted.
*/

#include <stdarg.h>
#include <string.h>

#include "lgreen.h"

#define LGREEN_DEFERRED "green.DeferredQueue"

typedef struct {
  green_deferred_t *d;
  lua_State *L;             /* the processing Lua thread, while it runs */
  int handler;              /* L's stack index of the message handler */
  int interrupted;          /* L's top holds the error that stopped it */
} ldeferred;

typedef struct {
  green_deferred_call_t call;
  ldeferred *q;
  lua_State *caller;        /* sync: the Lua thread waiting; else NULL */
  int base;                 /* sync: caller's index of the function */
  int record;               /* sync: caller's index of this record */
  int nargs;                /* arguments after the function */
  int ref;                  /* in the anchor table, or LUA_NOREF */
  int nresults;
  const char *name;         /* the method's, for whitelists and messages */
  unsigned char started, finished, failed, interrupted, abandoned;
} lcall;

/* What the message handler returns for an error that is the call's own:
   the error and the traceback where it was raised, in a table marked as
   this one. */
static const char failure_key = 'f';

/* Raise a message without a position: luaL_error's would name a line of
   lua/green/deferred.lua, which called this binding for the user. */
static int raise_plain(lua_State *L, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  lua_pushvfstring(L, fmt, args);
  va_end(args);
  return lua_error(L);
}

static ldeferred *check_queue(lua_State *L) {
  ldeferred *q = luaL_checkudata(L, 1, LGREEN_DEFERRED);
  if (q->d == NULL) luaL_argerror(L, 1, "DeferredQueue is closed");
  return q;
}

static int is_interruption(lua_State *L, int index) {
  return lgreen_is_exit(L, index) ||
         luaL_testudata(L, index, LGREEN_TIMEOUT) != NULL;
}

static int keep_traceback(lua_State *L) {
  if (is_interruption(L, 1)) return 1;
  lua_createtable(L, 2, 0);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &failure_key);
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  luaL_traceback(L, L, NULL, 1);
  lua_rawseti(L, -2, 2);
  return 1;
}

/* Replace the failure at the top of L by its error and traceback. */
static void unpack_failure(lua_State *L) {
  int marked = 0;
  if (lua_getmetatable(L, -1)) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &failure_key);
    marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  if (!marked) {              /* the handler itself failed: no traceback */
    lua_pushnil(L);
    return;
  }
  lua_rawgeti(L, -1, 1);
  lua_rawgeti(L, -2, 2);
  lua_remove(L, -3);
}


/* ---------------------------------------------------------------- running */

/* Push the record, the function and its arguments onto L, the processor.
   Index 1 of L is the queue: this runs inside its process method. */
static int push_call(lua_State *L, lcall *c) {
  int i;
  if (!lua_checkstack(L, c->nargs + 8)) return 0;
  if (c->caller != NULL) {
    if (!lua_checkstack(c->caller, c->nargs + 2)) return 0;
    lua_pushvalue(c->caller, c->record);
    for (i = 0; i <= c->nargs; i++) lua_pushvalue(c->caller, c->base + i);
    lua_xmove(c->caller, L, c->nargs + 2);
    return 1;
  }
  lua_getiuservalue(L, 1, 1);
  lua_rawgeti(L, -1, c->ref);
  lua_remove(L, -2);
  for (i = 0; i <= c->nargs; i++) lua_getiuservalue(L, -1 - i, i + 2);
  return 1;
}

/* A one-way call's error goes to the on_error handler, as a greenlet's. */
static void report(lua_State *L) {
  int err = lua_gettop(L) - 1;
  lgreen_push_current(L);
  lgreen_report_error(L, -1, err, err + 1);
  lua_pop(L, 1);
}

/* Hand the outcome to a sync caller still waiting: the results, or the
   error and its traceback. `first` is L's index of the first value. */
static void deliver(lua_State *L, lcall *c, int first) {
  int n = lua_gettop(L) - first + 1;
  if (!lua_checkstack(c->caller, n + 1)) {
    lua_settop(L, first - 1);
    lua_pushliteral(L, "too many results to return");
    lua_pushnil(L);
    c->failed = 1;
    n = 2;
  }
  lua_xmove(L, c->caller, n);
  c->nresults = n;
}

static void forget(lua_State *L, lcall *c) {
  lua_getiuservalue(L, 1, 1);
  luaL_unref(L, -1, c->ref);
  lua_pop(L, 1);
  c->ref = LUA_NOREF;
}

static void run(green_deferred_call_t *call) {
  lcall *c = (lcall *)call;
  ldeferred *q = c->q;
  lua_State *L = q->L;
  int top = lua_gettop(L), status;
  c->started = 1;
  if (!push_call(L, c)) {
    lua_settop(L, top);
    lua_pushnil(L);                   /* where the record would be */
    lua_pushliteral(L, "stack overflow starting a deferred call");
    status = LUA_ERRRUN;
  } else {
    status = lua_pcall(L, c->nargs, LUA_MULTRET, q->handler);
  }
  if (status != LUA_OK && is_interruption(L, -1)) {
    c->failed = c->interrupted = 1;
    if (c->caller != NULL && !c->abandoned) {
      lua_pushvalue(L, -1);
      deliver(L, c, lua_gettop(L));
    }
    lua_replace(L, top + 1);          /* kept for process to raise */
    lua_settop(L, top + 1);
    q->interrupted = 1;
    green_deferred_stop(q->d);
  } else {
    if (status != LUA_OK) {
      c->failed = 1;
      unpack_failure(L);
      if (c->caller == NULL) report(L);
    }
    if (c->caller != NULL && !c->abandoned)
      deliver(L, c, top + 2);
    lua_settop(L, top);
  }
  c->finished = 1;
  if (c->ref != LUA_NOREF) forget(L, c);
}


/* ---------------------------------------------------------------- calling */

/* A record for the call on the stack: queue, name, function, arguments. */
static lcall *new_call(lua_State *L, ldeferred *q, int nuv) {
  int nargs = lua_gettop(L) - 3;
  lcall *c = lua_newuserdatauv(L, sizeof *c, nuv);
  memset(c, 0, sizeof *c);
  c->call.fn = run;
  c->call.detach = 1;
  c->q = q;
  c->ref = LUA_NOREF;
  c->nargs = nargs;
  c->name = lua_tostring(L, 2);
  return c;
}

/* Keep a record the processor still runs after its caller left. */
static void anchor(lua_State *L, lcall *c, int record) {
  record = lua_absindex(L, record);
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, record);
  c->ref = luaL_ref(L, -2);
  lua_pop(L, 1);
}

/* The caller's stack ends with what run() delivered: the interruption, or
   the error and its traceback. */
static int raise_failure(lua_State *L, lcall *c) {
  if (c->interrupted)
    return raise_plain(L, "deferred call '%s' was interrupted: the processing "
                      "greenlet stopped with %s", c->name,
                      luaL_tolstring(L, -1, NULL));
  if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
    lua_pushfstring(L, "%s\n(in the processing greenlet) %s",
                    lua_tostring(L, -2), lua_tostring(L, -1));
    return lua_error(L);
  }
  lua_pop(L, 1);
  return lua_error(L);
}

/* call(name, fn, ...): run fn(...) on the processor, wait, return its
   results or raise its error. */
static int l_call(lua_State *L) {
  ldeferred *q = check_queue(L);
  lcall *c;
  int rc;
  luaL_checkstring(L, 2);
  luaL_checkany(L, 3);
  lgreen_check_can_block(L, "deferred call");
  c = new_call(L, q, 0);
  c->caller = L;
  c->base = 3;
  c->record = lua_gettop(L);
  rc = green_deferred_call(q->d, &c->call, GREEN_FOREVER);
  if (rc < 0 && c->started && !c->finished) {
    c->abandoned = 1;
    anchor(L, c, c->record);
  }
  if (rc == GREEN_EDEADLK && green_deferred_processor(q->d) == green_current())
    return raise_plain(L, "deferred call '%s' made while processing the same "
                      "object would wait for itself", c->name);
  if (rc < 0) {
    lgreen_check_result(L, rc, "deferred call");
    return luaL_error(L, "deferred call: %s", green_strerror(rc));
  }
  if (c->failed) return raise_failure(L, c);
  return c->nresults;
}

/* post(name, fn, ...): queue fn(...) and return at once. */
static int l_post(lua_State *L) {
  ldeferred *q = check_queue(L);
  int n = lua_gettop(L), i, rc;
  lcall *c;
  luaL_checkstring(L, 2);
  luaL_checkany(L, 3);
  c = new_call(L, q, n - 1);
  for (i = 2; i <= n; i++) {
    lua_pushvalue(L, i);
    lua_setiuservalue(L, -2, i - 1);
  }
  anchor(L, c, -1);
  if ((rc = green_deferred_post(q->d, &c->call)) < 0) {
    forget(L, c);
    return luaL_error(L, "deferred call: %s", green_strerror(rc));
  }
  return 0;
}


/* ---------------------------------------------------------------- processing */

typedef struct {
  const char **names;
  lua_Integer count;
} whitelist;

static int accept_named(const green_deferred_call_t *call, void *arg) {
  const whitelist *w = arg;
  const char *name = ((const lcall *)call)->name;
  lua_Integer i;
  for (i = 0; i < w->count; i++)
    if (strcmp(w->names[i], name) == 0) return 1;
  return 0;
}

/* The whitelist table at index `t`, as C strings anchored by that table. */
static void check_whitelist(lua_State *L, int t, whitelist *w) {
  lua_Integer i;
  luaL_checktype(L, t, LUA_TTABLE);
  w->count = luaL_len(L, t);
  w->names = lua_newuserdatauv(L, (size_t)w->count * sizeof(char *) + 1, 0);
  for (i = 0; i < w->count; i++) {
    if (lua_rawgeti(L, t, i + 1) != LUA_TSTRING)
      raise_plain(L, "process: whitelist item %d is not a method name",
                 (int)i + 1);
    w->names[i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
}

static int refuse_busy(lua_State *L, ldeferred *q) {
  if (green_deferred_processor(q->d) == green_current())
    return raise_plain(L, "process: called from inside a call it is processing");
  return raise_plain(L, "process: another greenlet is processing this object");
}

/* process(forever, whitelist): the number of calls run. */
static int l_process(lua_State *L) {
  ldeferred *q = check_queue(L);
  green_deferred_options_t opts = {0, NULL, NULL};
  whitelist names;
  int rc;
  opts.forever = lua_toboolean(L, 2);
  if (!lua_isnoneornil(L, 3)) {
    check_whitelist(L, 3, &names);
    opts.accept = accept_named;
    opts.accept_arg = &names;
  }
  lgreen_check_can_block(L, "process");
  if (green_deferred_processor(q->d) != NULL) return refuse_busy(L, q);
  lua_pushcfunction(L, keep_traceback);
  q->handler = lua_gettop(L);
  q->L = L;
  q->interrupted = 0;
  rc = green_deferred_process(q->d, &opts);
  q->L = NULL;
  if (q->interrupted) return lua_error(L);
  lgreen_check_result(L, rc, "process");
  if (rc < 0) return luaL_error(L, "process: %s", green_strerror(rc));
  lua_pushinteger(L, rc);
  return 1;
}

static int l_stop(lua_State *L) {
  green_deferred_stop(check_queue(L)->d);
  return 0;
}

static int l_pending(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)green_deferred_pending(check_queue(L)->d));
  return 1;
}

/* The greenlet processing now, or nil. */
static int l_processor(lua_State *L) {
  green_t *g = green_deferred_processor(check_queue(L)->d);
  if (g == NULL) return 0;
  if (g == green_current()) lgreen_push_current(L);
  else if (lgreen_push_known(L, g) == NULL) return 0;
  return 1;
}

static int l_new(lua_State *L) {
  ldeferred *q = lua_newuserdatauv(L, sizeof *q, 1);
  int rc;
  memset(q, 0, sizeof *q);
  lua_newtable(L);                  /* the anchor table */
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, LGREEN_DEFERRED);
  if ((rc = green_deferred_new(&q->d)) < 0)
    return luaL_error(L, "DeferredQueue: %s", green_strerror(rc));
  return 1;
}

/* Queued one-way calls die with the queue; a queue with waiting callers
   or a processor is never garbage, except when the state closes. */
static int l_gc(lua_State *L) {
  ldeferred *q = luaL_checkudata(L, 1, LGREEN_DEFERRED);
  if (green_deferred_free(q->d) == 0) q->d = NULL;
  return 0;
}

void lgreen_open_deferred(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"call", l_call}, {"post", l_post},
    {"process", l_process}, {"stop", l_stop},
    {"pending", l_pending}, {"processor", l_processor},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__gc", l_gc},
    {NULL, NULL}
  };
  lgreen_new_class(L, LGREEN_DEFERRED, methods, NULL, metamethods);
  lua_pop(L, 1);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &failure_key);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "DeferredQueue");
}
