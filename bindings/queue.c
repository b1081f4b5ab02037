/*
** queue.c: green.Queue, LifoQueue, PriorityQueue, JoinableQueue and
** Channel: Lua values passed between greenlets.
**
** The waiting is the runtime's (green_waitq_t); the items live in a table
** in the queue's user value. An item is never copied through C: a putter
** that finds a getter waiting pushes the item straight onto the getter's
** Lua stack, and a getter that frees a slot takes the first waiting
** putter's item from the top of that putter's stack. Both wait inside a C
** function with stack room reserved, so their stacks are safe to touch
** until they run again, and the item is always in exactly one place.
*/

#include <string.h>

#include "lgreen.h"

enum { FIFO, LIFO, PRIORITY, CHANNEL };
static const char *const class_names[] = {
  "green.Queue", "green.LifoQueue", "green.PriorityQueue", "green.Channel",
  "green.JoinableQueue"
};
#define JOINABLE_CLASS 4

/* User value slots. */
enum { UV_ITEMS = 1, UV_KEYS, UV_KEYFN, UV_SLOTS = UV_KEYFN };

/* What every queue's marker field points at, so one check serves every
   class. */
static const char queue_marker = 'q';

typedef struct lqueue {
  const char *marker;       /* &queue_marker */
  green_waitq_t *getters;   /* self: the getter's lua_State */
  green_waitq_t *putters;   /* self: the putter's lua_State, item on top */
  green_waitq_t *watchers;  /* wait(), peek(): woken when it may be ready */
  green_waitq_t *joiners;   /* JoinableQueue:join() */
  lua_Integer maxsize;      /* < 0: unbounded; 0: a Channel */
  lua_Integer head, count, capacity;   /* a ring for FIFO */
  lua_Integer unfinished;   /* JoinableQueue: items not yet task_done() */
  int kind, joinable, closed;
  int sorting;              /* a PriorityQueue comparison is running */
} lqueue;

/* A queue is a full userdata of our size whose marker field points at
   queue_marker: two cheap calls instead of a metatable lookup on every
   put and get (the Channel handoff is a fast path). A light userdata has
   no size (lua_rawlen is 0), so it never passes for one. */
static lqueue *check_queue(lua_State *L) {
  lqueue *q = lua_touserdata(L, 1);
  if (q == NULL || lua_rawlen(L, 1) != sizeof *q ||
      q->marker != &queue_marker)
    luaL_typeerror(L, 1, "Queue");
  if (q->getters == NULL) luaL_error(L, "the queue was collected");
  if (q->sorting)
    luaL_error(L, "PriorityQueue used while one of its comparisons blocked");
  return q;
}

/* Results of an expected failure: nil and a short reason. */
static int fail(lua_State *L, const char *why) {
  lua_pushnil(L);
  lua_pushstring(L, why);
  return 2;
}


/* The last argument a blocking call reads: it must leave room on the stack
   for what a waker pushes, before anyone can see it waiting. */
static void prepare_to_wait(lua_State *L, const char *what) {
  lgreen_check_can_block(L, what);
  if (!lua_checkstack(L, 4)) luaL_error(L, "%s: stack overflow", what);
}


/* ---------------------------------------------------------------- storage */

static int push_uv(lua_State *L, int slot) {
  lua_getiuservalue(L, 1, slot);
  return lua_gettop(L);
}

/* FIFO: a ring in items[1..capacity], grown by doubling when full. */
static void ring_grow(lua_State *L, lqueue *q, int items) {
  lua_Integer i, capacity = q->capacity * 2;
  lua_createtable(L, (int)capacity, 0);
  for (i = 0; i < q->count; i++) {
    lua_rawgeti(L, items, (q->head + i) % q->capacity + 1);
    lua_rawseti(L, -2, i + 1);
  }
  lua_copy(L, -1, items);
  lua_setiuservalue(L, 1, UV_ITEMS);
  q->head = 0;
  q->capacity = capacity;
}

/* Sift the heap of keys[1..count] (items moving along) from `at`, up or
   down. A comparison may raise; the heap then stays a permutation of its
   items, so nothing is lost, only order. */
static int sift(lua_State *L) {
  lua_Integer count = lua_tointeger(L, 3), at = lua_tointeger(L, 4), other;
  int up = lua_toboolean(L, 5);
  for (;;) {
    if (up) {
      if (at <= 1) break;
      other = at / 2;
      lua_rawgeti(L, 2, at);
      lua_rawgeti(L, 2, other);
      if (!lua_compare(L, -2, -1, LUA_OPLT)) break;   /* key < parent */
    } else {
      lua_Integer child = at * 2;
      if (child > count) break;
      if (child < count) {
        lua_rawgeti(L, 2, child + 1);
        lua_rawgeti(L, 2, child);
        if (lua_compare(L, -2, -1, LUA_OPLT)) child++;
        lua_pop(L, 2);
      }
      other = child;
      lua_rawgeti(L, 2, other);
      lua_rawgeti(L, 2, at);
      if (!lua_compare(L, -2, -1, LUA_OPLT)) break;   /* child < key */
    }
    lua_pop(L, 2);
    /* swap `at` and `other` in both tables */
    lua_rawgeti(L, 1, at);
    lua_rawgeti(L, 1, other);
    lua_rawseti(L, 1, at);
    lua_rawseti(L, 1, other);
    lua_rawgeti(L, 2, at);
    lua_rawgeti(L, 2, other);
    lua_rawseti(L, 2, at);
    lua_rawseti(L, 2, other);
    at = other;
  }
  return 0;
}

/* Run sift protected, so the `sorting` mark is cleared on error too. The
   error is raised, or dropped if `quiet` (the item is in the queue either
   way). */
static void reorder(lua_State *L, lqueue *q, int items, int keys,
                    lua_Integer count, lua_Integer at, int up, int quiet) {
  int rc;
  lua_pushcfunction(L, sift);
  lua_pushvalue(L, items);
  lua_pushvalue(L, keys);
  lua_pushinteger(L, count);
  lua_pushinteger(L, at);
  lua_pushboolean(L, up);
  q->sorting = 1;
  rc = lua_pcall(L, 5, 0, 0);
  q->sorting = 0;
  if (rc != LUA_OK && !quiet) lua_error(L);
  if (rc != LUA_OK) lua_pop(L, 1);
}

/* Store the item at `item` (its key at item + 1 for a PriorityQueue). A
   getter storing a waiting putter's item passes quiet: its own item must
   not be lost to a comparison error that put() already checked for. */
static void store(lua_State *L, lqueue *q, int item, int quiet) {
  int items = push_uv(L, UV_ITEMS), keys;
  switch (q->kind) {
    case FIFO:
      if (q->count == q->capacity) ring_grow(L, q, items);
      lua_pushvalue(L, item);
      lua_rawseti(L, items, (q->head + q->count) % q->capacity + 1);
      q->count++;
      break;
    case LIFO:
      lua_pushvalue(L, item);
      lua_rawseti(L, items, ++q->count);
      break;
    case PRIORITY:
      keys = push_uv(L, UV_KEYS);
      lua_pushvalue(L, item);
      lua_rawseti(L, items, q->count + 1);
      lua_pushvalue(L, item + 1);
      lua_rawseti(L, keys, q->count + 1);
      q->count++;
      reorder(L, q, items, keys, q->count, q->count, 1, quiet);
      lua_pop(L, 1);
      break;
  }
  lua_pop(L, 1);
  if (q->joinable) q->unfinished++;
}

/* Push the next item without removing it; the queue must not be empty. */
static void push_next(lua_State *L, lqueue *q) {
  push_uv(L, UV_ITEMS);
  lua_rawgeti(L, -1, q->kind == FIFO ? q->head + 1
                     : q->kind == LIFO ? q->count : 1);
  lua_remove(L, -2);
}

/* Remove the next item and push it. A PriorityQueue first moves its last
   entry to the root and re-sifts: only then is the old root taken, so a
   comparison that raises leaves the item in the queue. */
static void take(lua_State *L, lqueue *q) {
  int items = push_uv(L, UV_ITEMS), keys;
  switch (q->kind) {
    case FIFO:
      lua_rawgeti(L, items, q->head + 1);
      lua_pushnil(L);
      lua_rawseti(L, items, q->head + 1);
      q->head = (q->head + 1) % q->capacity;
      break;
    case LIFO:
      lua_rawgeti(L, items, q->count);
      lua_pushnil(L);
      lua_rawseti(L, items, q->count);
      break;
    case PRIORITY:
      keys = push_uv(L, UV_KEYS);
      /* swap root and last, then sift the new root among the others */
      lua_rawgeti(L, items, 1);
      lua_rawgeti(L, items, q->count);
      lua_rawseti(L, items, 1);
      lua_rawseti(L, items, q->count);
      lua_rawgeti(L, keys, 1);
      lua_rawgeti(L, keys, q->count);
      lua_rawseti(L, keys, 1);
      lua_rawseti(L, keys, q->count);
      if (q->count > 2) reorder(L, q, items, keys, q->count - 1, 1, 0, 0);
      lua_pushnil(L);
      lua_rawseti(L, keys, q->count);
      lua_pop(L, 1);
      lua_rawgeti(L, items, q->count);
      lua_pushnil(L);
      lua_rawseti(L, items, q->count);
      break;
  }
  lua_remove(L, items);
  q->count--;
}


/* ---------------------------------------------------------------- put */

/* How many values a waiting putter keeps on top of its stack. */
static int offered(const lqueue *q) {
  return q->kind == PRIORITY ? 2 : 1;
}

static int has_room(const lqueue *q) {
  return q->maxsize < 0 || q->count < q->maxsize;
}

/* A PriorityQueue pushes the key of the item at index 2: the key
   function's result, or the item itself. A key that cannot be compared
   with the others raises here, before anything changes. The key function
   may block, so the queue is checked again after it; other kinds push
   nothing and pay for nothing. */
static lqueue *push_key(lua_State *L, lqueue *q) {
  if (q->kind != PRIORITY) return q;
  lua_settop(L, 2);
  if (lua_getiuservalue(L, 1, UV_KEYFN) == LUA_TNIL) {
    lua_pop(L, 1);
    lua_pushvalue(L, 2);
  } else {
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) luaL_error(L, "the key function returned nil");
    q = check_queue(L);
  }
  if (q->count > 0) {
    lua_getiuservalue(L, 1, UV_KEYS);
    lua_rawgeti(L, -1, 1);
    lua_compare(L, 3, -1, LUA_OPLT);        /* nothing is half-done yet */
    lua_pop(L, 2);
  }
  return q;
}

/* Put the item at index 2, waiting at most timeout (0: not at all).
   nowait_reason is what a full queue returns when not waiting. Results are
   pushed on top, over whatever else the caller passed. */
static int put(lua_State *L, lqueue *q, double timeout, const char *what,
               const char *nowait_reason) {
  void *self;
  int rc;
  luaL_argcheck(L, !lua_isnoneornil(L, 2), 2, "nil cannot be an item");
  q = push_key(L, q);                       /* [q, item, key?] */
  if (q->closed) return fail(L, "closed");
  if (green_waitq_wake_one(q->getters, NULL, &self) == 1) {
    lua_pushvalue(L, 2);
    lua_xmove(L, (lua_State *)self, 1);
    if (q->joinable) q->unfinished++;
    lua_pushboolean(L, 1);
    return 1;
  }
  if (has_room(q)) {
    store(L, q, 2, 0);
    green_waitq_wake_all(q->watchers, 0);
    lua_pushboolean(L, 1);
    return 1;
  }
  if (timeout == 0) return fail(L, nowait_reason);
  prepare_to_wait(L, what);
  lua_pushvalue(L, 2);                      /* what a getter takes: */
  if (q->kind == PRIORITY) lua_pushvalue(L, 3);     /* [item, key?] */
  if (q->kind == CHANNEL) green_waitq_wake_all(q->watchers, 0);
  rc = green_waitq_wait(q->putters, timeout, L, NULL);
  if (rc < 0) return lgreen_push_failure(L, rc, what);
  lua_pushboolean(L, 1);
  return 1;
}

/* put(item, timeout): true once the item is in the queue or handed to a
   getter; nil, "timeout" or nil, "closed" if not, and then it was not
   added. Raises if the greenlet is killed while it waits. */
static int l_put(lua_State *L) {
  lqueue *q = check_queue(L);
  double timeout = lgreen_opt_timeout(L, 3);
  return put(L, q, timeout, "put", "timeout");
}

/* put_nowait(item): true, or nil, "full" / nil, "closed" at once. */
static int l_put_nowait(lua_State *L) {
  return put(L, check_queue(L), 0, "put_nowait", "full");
}


/* ---------------------------------------------------------------- get */

/* After a slot freed up: move the first waiting putter's item in. */
static void admit_putter(lua_State *L, lqueue *q) {
  void *self;
  int top = lua_gettop(L);
  if (green_waitq_wake_one(q->putters, NULL, &self) != 1) return;
  lua_xmove((lua_State *)self, L, offered(q));
  store(L, q, top + 1, 1);
  lua_settop(L, top);
}

/* Get an item, waiting at most timeout (0: not at all). The results are
   pushed on top. */
static int get(lua_State *L, lqueue *q, double timeout, const char *what,
               const char *nowait_reason) {
  void *self;
  int rc;
  if (q->count > 0) {
    take(L, q);
    admit_putter(L, q);
    return 1;
  }
  if (green_waitq_wake_one(q->putters, NULL, &self) == 1) {  /* a Channel */
    lua_xmove((lua_State *)self, L, offered(q));
    lua_pop(L, offered(q) - 1);             /* a PriorityQueue's key */
    if (q->joinable) q->unfinished++;
    return 1;
  }
  if (q->closed) return fail(L, "closed");
  if (timeout == 0) return fail(L, nowait_reason);
  prepare_to_wait(L, what);
  rc = green_waitq_wait(q->getters, timeout, L, NULL);
  if (rc < 0) return lgreen_push_failure(L, rc, what);
  return 1;                                 /* the putter pushed it */
}

/* get(timeout): the next item; nil, "timeout" or nil, "closed" (closed
   and empty) if none, and then nothing was taken. Raises if the greenlet is
   killed while it waits. */
static int l_get(lua_State *L) {
  lqueue *q = check_queue(L);
  double timeout = lgreen_opt_timeout(L, 2);
  return get(L, q, timeout, "get", "timeout");
}

/* get_nowait(): the next item, or nil, "empty" / nil, "closed" at once. */
static int l_get_nowait(lua_State *L) {
  return get(L, check_queue(L), 0, "get_nowait", "empty");
}

static int iter_next(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  return get(L, check_queue(L), GREEN_FOREVER, "iter", "timeout") == 1 ? 1 : 0;
}

/* iter(): for item in q:iter() do ... end, until the queue is closed and
   empty. */
static int l_iter(lua_State *L) {
  check_queue(L);
  lua_settop(L, 1);
  lua_pushcclosure(L, iter_next, 1);
  return 1;
}


/* ---------------------------------------------------------------- readiness */

/* Whether get would return at once. */
static int is_ready(const lqueue *q) {
  return q->count > 0 || q->closed || green_waitq_peek(q->putters, NULL);
}

/* For lgreen_wait_until: the queue is checked again after each wake, as a
   PriorityQueue may be in the middle of a comparison that blocked. */
static int ready_again(lua_State *L, void *arg) {
  (void)arg;
  return is_ready(check_queue(L));
}

/* Wait until is_ready; 0, or GREEN_ETIMEDOUT. */
static int wait_ready(lua_State *L, lqueue *q, double timeout,
                      const char *what) {
  return lgreen_wait_until(L, q->watchers, timeout, ready_again, NULL, what);
}

/* peek(timeout): the next item, left in place; waits for one unless
   timeout is 0. nil, "timeout" / nil, "empty" / nil, "closed" if none. */
static int l_peek(lua_State *L) {
  lqueue *q = check_queue(L);
  double timeout = lgreen_opt_timeout(L, 2);
  void *self;
  if (timeout != 0 && wait_ready(L, q, timeout, "peek") < 0)
    return fail(L, "timeout");
  if (q->count > 0) {
    push_next(L, q);
    return 1;
  }
  if (green_waitq_peek(q->putters, &self)) {            /* a Channel */
    lua_State *P = self;
    lua_pushvalue(P, -offered(q));
    lua_xmove(P, L, 1);
    return 1;
  }
  return fail(L, q->closed ? "closed" : "empty");
}

/* wait(timeout): true once get would not wait, without taking anything;
   false if the time runs out. For green.wait and green.iwait. */
static int l_wait(lua_State *L) {
  lqueue *q = check_queue(L);
  double timeout = lgreen_opt_timeout(L, 2);
  lua_pushboolean(L, wait_ready(L, q, timeout, "wait") == 0);
  return 1;
}

static int l_ready(lua_State *L) {
  lua_pushboolean(L, is_ready(check_queue(L)));
  return 1;
}


/* ---------------------------------------------------------------- state */

static int l_qsize(lua_State *L) {
  lua_pushinteger(L, check_queue(L)->count);
  return 1;
}

/* A Channel holds nothing: it is always empty and always full (gevent). */
static int l_empty(lua_State *L) {
  lua_pushboolean(L, check_queue(L)->count == 0);
  return 1;
}

static int l_full(lua_State *L) {
  lua_pushboolean(L, !has_room(check_queue(L)));
  return 1;
}

/* close(): no more puts; every waiting getter and putter gets nil,
   "closed". Items already in the queue can still be taken. */
static int l_close(lua_State *L) {
  lqueue *q = check_queue(L);
  q->closed = 1;
  green_waitq_wake_all(q->getters, GREEN_EPIPE);
  green_waitq_wake_all(q->putters, GREEN_EPIPE);
  green_waitq_wake_all(q->watchers, GREEN_EPIPE);
  return 0;
}

static int l_closed(lua_State *L) {
  lua_pushboolean(L, check_queue(L)->closed);
  return 1;
}

/* task_done(): one item got from a JoinableQueue is fully processed. */
static int l_task_done(lua_State *L) {
  lqueue *q = check_queue(L);
  if (q->unfinished == 0)
    return luaL_error(L, "task_done() called more times than items were put");
  if (--q->unfinished == 0) green_waitq_wake_all(q->joiners, 0);
  return 0;
}

/* join(timeout): true once every item put has been task_done(); false if
   the time runs out. */
static int l_join(lua_State *L) {
  lqueue *q = check_queue(L);
  double timeout = lgreen_opt_timeout(L, 2);
  int rc = 0;
  if (q->unfinished > 0) {
    prepare_to_wait(L, "join");
    rc = green_waitq_wait(q->joiners, timeout, NULL, NULL);
    if (rc != GREEN_ETIMEDOUT) lgreen_check_result(L, rc, "join");
  }
  lua_pushboolean(L, rc == 0);
  return 1;
}

static int l_unfinished_tasks(lua_State *L) {
  lua_pushinteger(L, check_queue(L)->unfinished);
  return 1;
}

static int l_len(lua_State *L) {
  return l_qsize(L);
}

static int l_tostring(lua_State *L) {
  lqueue *q = check_queue(L);
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "__name");
  lua_pushfstring(L, "%s (%I items%s): %p", lua_tostring(L, -1),
                  (LUAI_UACINT)q->count, q->closed ? ", closed" : "",
                  lua_topointer(L, 1));
  return 1;
}

/* Greenlets still wait only when the Lua state closes under them; their
   wait queues are then left to the process (GREEN_EBUSY). */
static void free_waitqs(lqueue *q) {
  green_waitq_free(q->getters);
  green_waitq_free(q->putters);
  green_waitq_free(q->watchers);
  green_waitq_free(q->joiners);
  q->getters = q->putters = q->watchers = q->joiners = NULL;
}

static int l_gc(lua_State *L) {
  free_waitqs(lua_touserdata(L, 1));
  return 0;
}


/* ---------------------------------------------------------------- new */

static lqueue *new_queue(lua_State *L, int kind, lua_Integer maxsize,
                         int class_index) {
  lqueue *q = lua_newuserdatauv(L, sizeof *q, UV_SLOTS);
  green_waitq_t **waitqs[4];
  int i, rc = 0;
  memset(q, 0, sizeof *q);
  q->marker = &queue_marker;
  waitqs[0] = &q->getters;
  waitqs[1] = &q->putters;
  waitqs[2] = &q->watchers;
  waitqs[3] = &q->joiners;
  q->kind = kind;
  q->maxsize = maxsize;
  q->joinable = class_index == JOINABLE_CLASS;
  q->capacity = maxsize > 0 && maxsize < 8 ? maxsize : 8;
  luaL_setmetatable(L, class_names[class_index]);
  for (i = 0; i < 4 && rc == 0; i++) rc = green_waitq_new(waitqs[i]);
  if (rc < 0) {
    free_waitqs(q);
    luaL_error(L, "%s: %s", class_names[class_index] + 6, green_strerror(rc));
  }
  lua_createtable(L, (int)q->capacity, 0);
  lua_setiuservalue(L, -2, UV_ITEMS);
  if (kind == PRIORITY) {
    lua_createtable(L, (int)q->capacity, 0);
    lua_setiuservalue(L, -2, UV_KEYS);
  }
  return q;
}

/* maxsize: nil, or <= 0, means no bound (gevent). */
static lua_Integer opt_maxsize(lua_State *L) {
  lua_Integer maxsize = luaL_optinteger(L, 1, 0);
  return maxsize > 0 ? maxsize : -1;
}

static int l_queue(lua_State *L) {
  new_queue(L, FIFO, opt_maxsize(L), FIFO);
  return 1;
}

static int l_lifo_queue(lua_State *L) {
  new_queue(L, LIFO, opt_maxsize(L), LIFO);
  return 1;
}

static int l_joinable_queue(lua_State *L) {
  new_queue(L, FIFO, opt_maxsize(L), JOINABLE_CLASS);
  return 1;
}

/* PriorityQueue(maxsize, key): the smallest item first, by `<` on the items
   or on key(item). */
static int l_priority_queue(lua_State *L) {
  lua_Integer maxsize = opt_maxsize(L);
  lua_settop(L, 2);                       /* [maxsize, key] */
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TFUNCTION);
  new_queue(L, PRIORITY, maxsize, PRIORITY);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, UV_KEYFN);
  return 1;
}

static int l_channel(lua_State *L) {
  luaL_argcheck(L, lua_isnone(L, 1), 1,
                "a Channel has no buffer; Queue(n) holds n items");
  new_queue(L, CHANNEL, 0, CHANNEL);
  return 1;
}

void lgreen_open_queue(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"put", l_put}, {"put_nowait", l_put_nowait},
    {"get", l_get}, {"get_nowait", l_get_nowait},
    {"peek", l_peek}, {"iter", l_iter},
    {"wait", l_wait}, {"ready", l_ready},
    {"qsize", l_qsize}, {"empty", l_empty}, {"full", l_full},
    {"close", l_close}, {"closed", l_closed},
    {"task_done", l_task_done}, {"join", l_join},
    {"unfinished_tasks", l_unfinished_tasks},
    {NULL, NULL}
  };
  static const luaL_Reg metamethods[] = {
    {"__gc", l_gc}, {"__len", l_len}, {"__tostring", l_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg constructors[] = {
    {"Queue", l_queue}, {"LifoQueue", l_lifo_queue},
    {"PriorityQueue", l_priority_queue}, {"Channel", l_channel},
    {"JoinableQueue", l_joinable_queue},
    {NULL, NULL}
  };
  size_t i;
  for (i = 0; i < sizeof class_names / sizeof class_names[0]; i++) {
    lgreen_new_class(L, class_names[i], methods, NULL, metamethods);
    if (i != JOINABLE_CLASS) {      /* join belongs to JoinableQueue only */
      lua_getfield(L, -1, "__index");
      lua_pushnil(L);
      lua_setfield(L, -2, "task_done");
      lua_pushnil(L);
      lua_setfield(L, -2, "join");
      lua_pushnil(L);
      lua_setfield(L, -2, "unfinished_tasks");
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  luaL_setfuncs(L, constructors, 0);
}
