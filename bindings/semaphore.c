/*
** semaphore.c: green.Semaphore, BoundedSemaphore, Lock and RLock, over
** the runtime's green_semaphore_t (FIFO, permits handed to the longest
** waiter). Each object is also closeable: `local held <close> =
** lock:hold()` releases it when the scope ends, by error or kill too.
*/

#include <string.h>

#include "lgreen.h"

enum { SEMAPHORE, BOUNDED, LOCK, RLOCK };
static const char *const class_names[] = {
  "green.Semaphore", "green.BoundedSemaphore", "green.Lock", "green.RLock"
};

static const char sem_marker = 's';

typedef struct lsem {
  green_semaphore_t *sem;
  green_waitq_t *watchers;  /* wait(): until a permit is free */
  uint64_t owner;           /* RLock: id of the holding greenlet, or 0 */
  lua_Integer depth;        /* RLock: acquisitions by the owner */
  int kind;
} lsem;

static lsem *check_sem(lua_State *L) {
  lsem *s = lua_touserdata(L, 1);
  int ok = 0;
  if (s != NULL && lua_getmetatable(L, 1)) {
    ok = lua_rawgetp(L, -1, &sem_marker) == LUA_TBOOLEAN;
    lua_pop(L, 2);
  }
  if (!ok) luaL_typeerror(L, 1, "Semaphore");
  if (s->sem == NULL) luaL_error(L, "the semaphore was collected");
  return s;
}

static uint64_t current_id(void) {
  return green_id(green_current());
}

/* Take a permit; 0, GREEN_ETIMEDOUT or GREEN_EAGAIN (timeout 0). */
static int acquire(lua_State *L, lsem *s, double timeout, const char *what) {
  int rc;
  if (s->kind == RLOCK && s->owner != 0 && s->owner == current_id()) {
    s->depth++;
    return 0;
  }
  if (timeout != 0 && green_semaphore_value(s->sem) == 0)
    lgreen_check_can_block(L, what);
  rc = green_semaphore_acquire(s->sem, timeout);
  if (rc == 0 && s->kind == RLOCK) {
    s->owner = current_id();
    s->depth = 1;
  }
  if (rc == GREEN_ETIMEDOUT || rc == GREEN_EAGAIN) return GREEN_ETIMEDOUT;
  lgreen_check_result(L, rc, what);
  return rc;
}

/* Acquire with the timeout at index 2; push `success` (a boolean, or the
   object itself) or nil, "timeout". */
static int acquire_and_push(lua_State *L, const char *what, int push_self) {
  lsem *s = check_sem(L);
  if (acquire(L, s, lgreen_opt_timeout(L, 2), what) < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
  }
  if (push_self) lua_pushvalue(L, 1);
  else lua_pushboolean(L, 1);
  return 1;
}

/* acquire(timeout): true once a permit is held; nil, "timeout" if the time
   ran out (timeout 0: at once), and then nothing is held. Raises if the
   greenlet is killed while it waits. */
static int l_acquire(lua_State *L) {
  return acquire_and_push(L, "acquire", 0);
}

/* hold(timeout): acquire, and return the object itself for `<close>`; or
   nil, "timeout". */
static int l_hold(lua_State *L) {
  return acquire_and_push(L, "hold", 1);
}

/* release(): give a permit back. Raises for a BoundedSemaphore or Lock
   released more often than acquired, and for an RLock not held by the
   calling greenlet. */
static int l_release(lua_State *L) {
  lsem *s = check_sem(L);
  int rc;
  if (s->kind == RLOCK) {
    if (s->owner == 0 || s->owner != current_id())
      return luaL_error(L, "release: this RLock is not held by this greenlet");
    if (--s->depth > 0) return 0;
    s->owner = 0;
  }
  rc = green_semaphore_release(s->sem);
  if (rc == GREEN_EOVERFLOW)
    return luaL_error(L, "release: %s released more times than acquired",
                      class_names[s->kind] + 6);
  lgreen_check_result(L, rc, "release");
  if (green_semaphore_value(s->sem) > 0) green_waitq_wake_all(s->watchers, 0);
  return 0;
}

/* __close(value, err): release what hold() took, also on error or kill. */
static int l_close(lua_State *L) {
  lua_settop(L, 1);
  return l_release(L);
}

/* wait(timeout): true once a permit is free, without taking it; false if
   the time runs out. For green.wait and green.iwait. */
static int permit_free(lua_State *L, void *sem) {
  (void)L;
  return green_semaphore_value(sem) > 0;
}

static int l_wait(lua_State *L) {
  lsem *s = check_sem(L);
  double timeout = lgreen_opt_timeout(L, 2);
  lua_pushboolean(L, lgreen_wait_until(L, s->watchers, timeout, permit_free,
                                       s->sem, "wait") == 0);
  return 1;
}

static int l_ready(lua_State *L) {
  lua_pushboolean(L, green_semaphore_value(check_sem(L)->sem) > 0);
  return 1;
}

static int l_locked(lua_State *L) {
  lua_pushboolean(L, green_semaphore_value(check_sem(L)->sem) == 0);
  return 1;
}

/* value(): permits free now (gevent's counter). */
static int l_value(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)green_semaphore_value(check_sem(L)->sem));
  return 1;
}

static int l_tostring(lua_State *L) {
  lsem *s = check_sem(L);
  lua_pushfstring(L, "%s (%d free): %p", class_names[s->kind] + 6,
                  (int)green_semaphore_value(s->sem), lua_topointer(L, 1));
  return 1;
}

/* Greenlets still wait only when the Lua state closes under them: the
   runtime objects are then left to the process (GREEN_EBUSY). */
static void free_sem(lsem *s) {
  if (s->sem != NULL && green_semaphore_free(s->sem) == 0) s->sem = NULL;
  green_waitq_free(s->watchers);
  s->watchers = NULL;
}

static int l_gc(lua_State *L) {
  free_sem(lua_touserdata(L, 1));
  return 0;
}

static int new_sem(lua_State *L, int kind, lua_Integer value) {
  lsem *s = lua_newuserdatauv(L, sizeof *s, 0);
  unsigned bound = kind == SEMAPHORE ? 0 : (unsigned)value;
  int rc;
  memset(s, 0, sizeof *s);
  s->kind = kind;
  luaL_setmetatable(L, class_names[kind]);
  rc = green_semaphore_new((unsigned)value, bound, &s->sem);
  if (rc == 0) rc = green_waitq_new(&s->watchers);
  if (rc < 0) {
    free_sem(s);
    return luaL_error(L, "%s: %s", class_names[kind] + 6, green_strerror(rc));
  }
  return 1;
}

static lua_Integer check_count(lua_State *L) {
  lua_Integer value = luaL_optinteger(L, 1, 1);
  luaL_argcheck(L, value >= 0 && value <= 0x7fffffff, 1,
                "must be between 0 and 2^31-1");
  return value;
}

static int l_semaphore(lua_State *L) {
  return new_sem(L, SEMAPHORE, check_count(L));
}

static int l_bounded(lua_State *L) {
  lua_Integer value = check_count(L);
  luaL_argcheck(L, value > 0, 1, "must be at least 1");
  return new_sem(L, BOUNDED, value);
}

static int l_lock(lua_State *L) {
  return new_sem(L, LOCK, 1);
}

static int l_rlock(lua_State *L) {
  return new_sem(L, RLOCK, 1);
}

void lgreen_open_semaphore(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"acquire", l_acquire}, {"release", l_release}, {"hold", l_hold},
    {"wait", l_wait}, {"ready", l_ready}, {"locked", l_locked},
    {"value", l_value},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__gc", l_gc}, {"__close", l_close}, {"__tostring", l_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg constructors[] = {
    {"Semaphore", l_semaphore}, {"BoundedSemaphore", l_bounded},
    {"Lock", l_lock}, {"RLock", l_rlock},
    {NULL, NULL}
  };
  size_t i;
  for (i = 0; i < sizeof class_names / sizeof class_names[0]; i++) {
    lgreen_new_class(L, class_names[i], methods, NULL, metamethods);
    lua_pushboolean(L, 1);
    lua_rawsetp(L, -2, &sem_marker);
    lua_pop(L, 1);
  }
  luaL_setfuncs(L, constructors, 0);
}
