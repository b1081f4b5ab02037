/*
** threadpool.c: green.core.ThreadPool, Lua functions run on the worker
** threads of the runtime's green_threadpool_t while the calling greenlet
** waits.
**
** Each worker thread keeps a lua_State of its own, made with the standard
** libraries on its first task and closed when the thread ends. A task
** carries its function and arguments encoded by codec.c, and the caller's
** package.path and package.cpath, so `require` finds the same modules on
** the worker; the worker sends back the results, or the error with the
** worker's traceback, the same way. A caller killed while its task runs
** leaves at once: the task finishes on the worker, which frees it and its
** result (the runtime's abandon).
*/

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "lgreen.h"

#define LGREEN_THREADPOOL "green.ThreadPool"

__thread int lgreen_on_worker __attribute__((tls_model("initial-exec")));

typedef struct {
  green_threadpool_t *pool;
} lpool;

/* A caller's package.path and package.cpath, shared by its tasks until
   they change: a worker sets its own only when the generation differs
   from the one it last set. */
typedef struct {
  atomic_int refs;
  long long generation;     /* unique in the process */
  char *path, *cpath;       /* NULL: not a string */
} paths;

typedef struct {
  green_work_t work;
  char *request, *reply;    /* codec messages */
  size_t request_len, reply_len;
  int failed;               /* reply holds the error, not results */
  int plain;                /* reply is a bare message: encoding failed */
  paths *paths;
} task;

static void release_paths(paths *p) {
  if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1) return;
  free(p->path);
  free(p->cpath);
  free(p);
}

/* Tasks allocated and not yet freed, for the specs: a task its caller
   abandoned must still be freed, by its worker. */
static atomic_long live_tasks;

static void free_task(task *t) {
  atomic_fetch_sub(&live_tasks, 1);
  free(t->request);
  free(t->reply);
  release_paths(t->paths);
  free(t);
}

static void abandon_task(green_work_t *work) {
  free_task((task *)work);
}


/* ---------------------------------------------------------------- workers */

static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void close_state(void *L) {
  lua_close(L);
}

static void make_state_key(void) {
  pthread_key_create(&state_key, close_state);
}

static int open_libs(lua_State *L) {
  luaL_openlibs(L);
  return 0;
}

/* The generation of paths this worker thread's state has set. */
static __thread long long paths_set;

/* This worker thread's lua_State, made on its first task. */
static lua_State *worker_state(void) {
  lua_State *L;
  pthread_once(&state_once, make_state_key);
  if ((L = pthread_getspecific(state_key)) != NULL) return L;
  if ((L = luaL_newstate()) == NULL) return NULL;
  lgreen_on_worker = 1;
  lua_pushcfunction(L, open_libs);
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    lua_close(L);
    return NULL;
  }
  pthread_setspecific(state_key, L);
  return L;
}

static void set_path(lua_State *L, const char *field, const char *value) {
  if (value == NULL) return;
  lua_getglobal(L, "package");
  if (lua_istable(L, -1)) {
    lua_pushstring(L, value);
    lua_setfield(L, -2, field);
  }
  lua_pop(L, 1);
}

static void set_paths(lua_State *L, const paths *p) {
  if (p->generation == paths_set) return;
  set_path(L, "path", p->path);
  set_path(L, "cpath", p->cpath);
  paths_set = p->generation;
}

/* The worker's message handler: strings get the worker's traceback. */
static int worker_traceback(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING)
    luaL_traceback(L, L, lua_pushfstring(L, "%s\n(on the worker thread)",
                                         lua_tostring(L, 1)), 1);
  return 1;
}

/* Run a task's function on L; the reply is what it returned or raised. */
static int run_protected(lua_State *L) {
  task *t = lua_touserdata(L, 1);
  lgreen_buffer b;
  int n, status;
  set_paths(L, t->paths);
  lua_pushcfunction(L, worker_traceback);
  n = lgreen_decode(L, t->request, t->request_len, 1);
  status = lua_pcall(L, n - 1, LUA_MULTRET, 2);
  n = lua_gettop(L) - 2;
  lgreen_buffer_init(L, &b);
  t->failed = status != LUA_OK;
  lgreen_encode(L, 3, n, t->failed ? "error" : "result", 1, &b);
  if ((t->reply = malloc(b.len)) == NULL)
    return luaL_error(L, "not enough memory for the reply");
  memcpy(t->reply, b.data, b.len);
  t->reply_len = b.len;
  return 0;
}

static void fail_plain(task *t, const char *message) {
  free(t->reply);
  t->reply = strdup(message ? message : "an error on the worker thread");
  t->reply_len = t->reply ? strlen(t->reply) : 0;
  t->plain = 1;
}

static void run_task(green_work_t *work) {
  task *t = (task *)work;
  lua_State *L = worker_state();
  if (L == NULL) {
    fail_plain(t, "cannot make a Lua state on the worker thread");
    return;
  }
  lua_pushcfunction(L, run_protected);
  lua_pushlightuserdata(L, t);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) fail_plain(t, lua_tostring(L, -1));
  lua_settop(L, 0);
}


/* ---------------------------------------------------------------- callers */

/* Push package[field] if it is a string, else nil. */
static void push_package_field(lua_State *L, const char *field) {
  lua_getglobal(L, "package");
  if (!lua_istable(L, -1) || lua_getfield(L, -1, field) != LUA_TSTRING) {
    lua_settop(L, lua_gettop(L) - 1);
    lua_pushnil(L);
  }
  lua_remove(L, -2);
}

static char *copy_string(lua_State *L, int index, int *ok) {
  char *copy;
  if (!lua_isstring(L, index)) return NULL;
  if ((copy = strdup(lua_tostring(L, index))) == NULL) *ok = 0;
  return copy;
}

/* The paths a caller's state last sent, in a registry userdata whose user
   values are the strings they were copied from. */
static const char paths_key = 'p';

static int paths_gc(lua_State *L) {
  paths **current = lua_touserdata(L, 1);
  release_paths(*current);
  *current = NULL;
  return 0;
}

static paths **push_paths_cache(lua_State *L) {
  paths **current;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &paths_key) == LUA_TUSERDATA)
    return lua_touserdata(L, -1);
  lua_pop(L, 1);
  current = lua_newuserdatauv(L, sizeof *current, 2);
  *current = NULL;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, paths_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &paths_key);
  return current;
}

/* Whether user value `slot` of the paths cache at `cache` is the string
   (or nil) at `index`; the same string object compares at once. */
static int same_as_sent(lua_State *L, int cache, int slot, int index) {
  int same;
  lua_getiuservalue(L, cache, slot);
  same = lua_rawequal(L, -1, index);
  lua_pop(L, 1);
  return same;
}

/* The caller's current paths, with a reference for a task: the last ones
   sent if package.path and cpath are the same strings, else a copy. */
static paths *current_paths(lua_State *L) {
  static atomic_llong last_generation;
  paths **current, *p;
  int ok = 1, path = lua_gettop(L) + 1, cpath = path + 1, cache = path + 2;
  push_package_field(L, "path");
  push_package_field(L, "cpath");
  current = push_paths_cache(L);
  if (*current == NULL || !same_as_sent(L, cache, 1, path) ||
      !same_as_sent(L, cache, 2, cpath)) {
    if ((p = calloc(1, sizeof *p)) == NULL) return NULL;
    p->path = copy_string(L, path, &ok);
    p->cpath = copy_string(L, cpath, &ok);
    if (!ok) {
      release_paths(p);
      return NULL;
    }
    atomic_init(&p->refs, 1);
    p->generation = atomic_fetch_add(&last_generation, 1) + 1;
    release_paths(*current);
    *current = p;
    lua_pushvalue(L, path);
    lua_setiuservalue(L, cache, 1);
    lua_pushvalue(L, cpath);
    lua_setiuservalue(L, cache, 2);
  }
  lua_pop(L, 3);
  atomic_fetch_add(&(*current)->refs, 1);
  return *current;
}

/* A task for the function at `fn` and the arguments above it. What may
   raise (encoding, reading the paths) comes before the first malloc. */
static task *new_task(lua_State *L, int fn) {
  int n = lua_gettop(L) - fn + 1;
  lgreen_buffer b;
  paths *p;
  task *t;
  lgreen_buffer_init(L, &b);
  lgreen_encode(L, fn, n, "argument", 0, &b);
  p = current_paths(L);
  t = p != NULL ? calloc(1, sizeof *t) : NULL;
  if (t == NULL) {
    release_paths(p);
    luaL_error(L, "cpu_bound: not enough memory");
    return NULL;
  }
  atomic_fetch_add(&live_tasks, 1);
  t->work.fn = run_task;
  t->work.abandon = abandon_task;
  t->paths = p;
  if ((t->request = malloc(b.len)) == NULL) {
    free_task(t);
    luaL_error(L, "cpu_bound: not enough memory");
  }
  memcpy(t->request, b.data, b.len);
  t->request_len = b.len;
  lua_pop(L, 1);                        /* the buffer */
  return t;
}

static int copy_reply(lua_State *L) {
  const task *t = lua_touserdata(L, 1);
  memcpy(lua_newuserdatauv(L, t->reply_len, 0), t->reply, t->reply_len);
  return 1;
}

/* Push what the worker sent back, or raise it. The reply is copied into
   Lua's memory first, under pcall, and the task freed whatever happens,
   so nothing leaks if copying or decoding raises. */
static int deliver(lua_State *L, task *t) {
  int failed = t->failed, plain = t->plain, status, top, n;
  size_t len = t->reply_len;
  const char *reply;
  if (t->reply == NULL) {
    free_task(t);
    return luaL_error(L, "cpu_bound: not enough memory");
  }
  lua_pushcfunction(L, copy_reply);
  lua_pushlightuserdata(L, t);
  status = lua_pcall(L, 1, 1, 0);
  free_task(t);
  if (status != LUA_OK) return lua_error(L);
  reply = lua_touserdata(L, -1);
  top = lua_gettop(L);
  if (plain) {
    lua_pushlstring(L, reply, len);
    return lua_error(L);
  }
  n = lgreen_decode(L, reply, len, 1);
  if (failed) return lua_error(L);
  lua_remove(L, top);
  return n;
}

static int run_on(lua_State *L, green_threadpool_t *pool, int fn) {
  task *t;
  int rc;
  luaL_checktype(L, fn, LUA_TFUNCTION);
  if (lgreen_on_worker) {               /* already on a worker: inline */
    lua_call(L, lua_gettop(L) - fn, LUA_MULTRET);
    return lua_gettop(L) - fn + 1;
  }
  lgreen_check_can_block(L, "cpu_bound");
  t = new_task(L, fn);
  lua_settop(L, fn - 1);
  rc = green_threadpool_run(pool, &t->work, GREEN_FOREVER);
  if (rc < 0) {                         /* the task is abandon()'s now */
    lgreen_check_result(L, rc, "cpu_bound");
    return luaL_error(L, "cpu_bound: %s", green_strerror(rc));
  }
  return deliver(L, t);
}


/* ---------------------------------------------------------------- pools */

static lpool *check_pool(lua_State *L) {
  lpool *p = luaL_checkudata(L, 1, LGREEN_THREADPOOL);
  if (p->pool == NULL) luaL_argerror(L, 1, "ThreadPool is closed");
  return p;
}

/* pool:run(fn, ...): fn(...) on a worker; its results, or its error. */
static int l_run(lua_State *L) {
  return run_on(L, check_pool(L)->pool, 2);
}

static int l_threads(lua_State *L) {
  lua_pushinteger(L, green_threadpool_threads(check_pool(L)->pool));
  return 1;
}

/* close(): stop the workers once their tasks end, and wait for them as a
   greenlet, so that other greenlets run meanwhile. */
static int l_close(lua_State *L) {
  lpool *p = luaL_checkudata(L, 1, LGREEN_THREADPOOL);
  int rc;
  if (p->pool == NULL) return 0;
  lgreen_check_can_block(L, "close");
  if ((rc = green_threadpool_close(p->pool)) == GREEN_EBUSY)
    return luaL_error(L, "close: tasks are still waiting for a worker");
  if (rc < 0) return luaL_error(L, "close: %s", green_strerror(rc));
  p->pool = NULL;
  return 0;
}

static int l_gc(lua_State *L) {
  lpool *p = luaL_checkudata(L, 1, LGREEN_THREADPOOL);
  if (p->pool != NULL && green_threadpool_free(p->pool) == 0) p->pool = NULL;
  return 0;
}

/* ThreadPool(threads): threads workers (nil or 0: one per CPU). */
static int l_new(lua_State *L) {
  lua_Integer threads = luaL_optinteger(L, 1, 0);
  lpool *p;
  int rc;
  luaL_argcheck(L, threads >= 0 && threads <= 4096, 1, "must be 0 to 4096");
  if (lgreen_on_worker)
    return luaL_error(L, "ThreadPool: not on a worker thread of the cpu pool");
  p = lua_newuserdatauv(L, sizeof *p, 0);
  p->pool = NULL;
  luaL_setmetatable(L, LGREEN_THREADPOOL);
  if ((rc = green_threadpool_new((unsigned)threads, &p->pool)) < 0)
    return luaL_error(L, "ThreadPool: %s", green_strerror(rc));
  return 1;
}

static int l_live_tasks(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)atomic_load(&live_tasks));
  return 1;
}

static int l_on_worker(lua_State *L) {
  lua_pushboolean(L, lgreen_on_worker);
  return 1;
}

void lgreen_open_threadpool(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"run", l_run}, {"threads", l_threads}, {"close", l_close},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__gc", l_gc}, {"__close", l_close},
    {NULL, NULL}
  };
  lgreen_new_class(L, LGREEN_THREADPOOL, methods, NULL, metamethods);
  lua_pop(L, 1);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "ThreadPool");
  lua_pushcfunction(L, l_on_worker);
  lua_setfield(L, -2, "on_worker");
  lua_pushcfunction(L, l_live_tasks);
  lua_setfield(L, -2, "_cpu_tasks");
}
