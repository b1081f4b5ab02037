/*
** test_lua_host.c: green opened in a C host's lua_State, beside the host's
** own C greenlets, which keep their own green_set_data pointers.
*/

#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "green.h"
#include "green_lua.h"
#include "lgreen.h"

static green_hub_t *hub;
static lua_State *L;

/* `core` is green.core: the C module, without lua/green on the path. */
static const char helpers[] =
  "function describe_current()\n"
  "  local g = core.getcurrent()\n"
  "  core.sleep(0)\n"
  "  return tostring(g), g == core.getcurrent()\n"
  "end\n";

/* Open the standard libraries and green.core, as `core`, in a new state;
   and the helpers. */
static lua_State *open_state(lua_State *S) {
  luaL_openlibs(S);
  luaL_requiref(S, "green.core", luaopen_green_core, 0);
  lua_setglobal(S, "core");
  CHECK_INT(luaL_dostring(S, helpers), ==, LUA_OK);
  return S;
}

static void setup(void) {
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  L = open_state(luaL_newstate());
}

static void teardown(void) {
  lua_close(L);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* Call describe_current() on a Lua thread of its own; copy what it said of
   the current greenlet into out. */
static void describe_current(char *out, size_t size) {
  lua_State *T = lua_newthread(L);
  int anchor = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getglobal(T, "describe_current");
  CHECK_INT(lua_pcall(T, 0, 2, 0), ==, LUA_OK);
  CHECK(lua_toboolean(T, -1));              /* the same handle each time */
  snprintf(out, size, "%s", lua_tostring(T, -2));
  luaL_unref(L, LUA_REGISTRYINDEX, anchor);
}

static void test_main_keeps_the_hosts_data(void) {
  static int token;
  char said[128];
  setup();
  green_set_data(green_current(), &token);
  describe_current(said, sizeof said);
  CHECK(strcmp(said, "Greenlet \"main\" (running)") == 0);
  CHECK(green_data(green_current()) == &token);
  teardown();
}

typedef struct {
  green_t *self;
  uint64_t id;
  char said[128];
} c_greenlet_report;

/* A host's C greenlet whose data is no pointer at all, calling Lua. */
static void *c_greenlet_calls_lua(void *arg) {
  c_greenlet_report *report = arg;
  report->self = green_current();
  report->id = green_id(report->self);
  green_set_data(report->self, (void *)(intptr_t)42);
  describe_current(report->said, sizeof report->said);
  CHECK(green_data(report->self) == (void *)(intptr_t)42);
  return NULL;
}

static void check_report(const c_greenlet_report *report) {
  char expected[64];
  snprintf(expected, sizeof expected, "Greenlet #%llu (running)",
           (unsigned long long)report->id);
  if (strcmp(report->said, expected) != 0)
    fprintf(stderr, "said %s, expected %s\n", report->said, expected);
  CHECK(strcmp(report->said, expected) == 0);
}

static void test_c_greenlets_keep_the_hosts_data(void) {
  c_greenlet_report first, second;
  setup();
  CHECK_INT(green_spawn(c_greenlet_calls_lua, &first, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  check_report(&first);
  CHECK_INT(green_spawn(c_greenlet_calls_lua, &second, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  check_report(&second);
  teardown();               /* the handles let go of the records they held */
}

/* The handles of C greenlets that died are let go of as more come. */
static void test_dead_c_greenlets_handles_are_let_go_of(void) {
  c_greenlet_report report;
  int i, before = 0;
  setup();
  for (i = 1; i <= 2000; i++) {
    CHECK_INT(green_spawn(c_greenlet_calls_lua, &report, NULL, NULL), ==, 0);
    CHECK_INT(green_hub_run(hub), ==, 0);
    if (i == 200 || i == 2000) {
      lua_gc(L, LUA_GCCOLLECT);
      lua_gc(L, LUA_GCCOLLECT);
      if (i == 200) before = lua_gc(L, LUA_GCCOUNT);
    }
  }
  check_report(&report);
  /* Kept, 1800 more handles would take about 300 KiB. */
  CHECK_INT(lua_gc(L, LUA_GCCOUNT) - before, <, 64);
  teardown();
}

/* A host that reloads its scripts in a new lua_State, on the same hub. */
static void test_a_second_state_on_the_same_hub(void) {
  char said[128];
  setup();
  describe_current(said, sizeof said);
  lua_close(L);
  L = open_state(luaL_newstate());
  describe_current(said, sizeof said);
  CHECK(strcmp(said, "Greenlet \"main\" (running)") == 0);
  teardown();
}

/* Two states open at once on one hub: a host with a Lua state per
   subsystem, one calling into the other from a greenlet. */
static lua_State *other;

static int run_in_other(lua_State *from) {
  const char *chunk = luaL_checkstring(from, 1);
  if (luaL_dostring(other, chunk) != LUA_OK)
    return luaL_error(from, "other state: %s", lua_tostring(other, -1));
  lua_pushstring(from, lua_tostring(other, -1));
  lua_settop(other, 0);
  return 1;
}

static void test_two_states_open_on_the_same_hub(void) {
  static const char script[] =
    "local sleeper = core.spawn(function() core.sleep(60) end)\n"
    "core.sleep(0)\n"
    "local me, seen, info, processing\n"
    "local g = core.spawn(function()\n"
    "  me = core.getcurrent()\n"
    "  seen = run_in_other('return tostring(core.getcurrent())')\n"
    "  info = run_in_other('return core.run_info()')\n"
    "  processing = run_in_other(processor_check)\n"
    "  return me == core.getcurrent()\n"
    "end)\n"
    "g:join()\n"
    "sleeper:kill()\n"
    "return tostring(g.value) .. '|' .. seen .. '|' .. processing ..\n"
    "  '|' .. info\n";
  const char *said;
  setup();
  other = open_state(luaL_newstate());
  lua_register(L, "run_in_other", run_in_other);
  /* Run on a greenlet of L: it processes a queue of the other state, whose
     own greenlet asks who is processing. */
  lua_pushliteral(L,
    "local me, q, seen = core.getcurrent(), core.DeferredQueue()\n"
    "core.spawn(function() seen = q:processor(); q:stop() end)\n"
    "q:process(true)\n"
    "return tostring(seen == me)\n");
  lua_setglobal(L, "processor_check");
  CHECK_INT(luaL_dostring(L, script), ==, LUA_OK);
  said = lua_tostring(L, -1);
  /* The spawning state still knows its greenlet as its own. */
  CHECK(strncmp(said, "true|", 5) == 0);
  /* The other state has a handle of its own for it, running, and finds
     it as the processor of its queue. */
  CHECK(strstr(said, "|Greenlet #") != NULL);
  CHECK(strstr(said, " (running)|true|") != NULL);
  /* And tells the other state's greenlets from C ones. */
  CHECK(strstr(said, "Greenlet of another Lua state #") != NULL);
  lua_close(other);
  teardown();
}

/* An allocator that can be told to refuse to grow anything. */
static int refusing;

static void *refusing_alloc(void *ud, void *block, size_t old_size,
                            size_t size) {
  (void)ud;
  if (size == 0) {
    free(block);
    return NULL;
  }
  if (refusing && (block == NULL || size > old_size)) return NULL;
  return realloc(block, size);
}

/* Refuse from now on, and return as many values as fit on the stack
   without growing it: the greenlet's thread ends full. */
static int fill_and_refuse(lua_State *S) {
  refusing = 1;
  while (lua_checkstack(S, 1)) lua_pushboolean(S, 1);
  return lua_gettop(S);
}

static int stop_refusing(lua_State *S) {
  (void)S;
  refusing = 0;
  return 0;
}

/* A greenlet whose results do not fit, with no memory to grow: it counts
   as failed with Lua's memory error, its thread goes back to the pool, and
   the state goes on. */
static void test_no_memory_for_a_greenlets_results(void) {
  static const char script[] =
    "local g = core.spawn(fill_and_refuse)\n"
    "g.name = 'full'          -- its table of results is made beforehand\n"
    "g:join()\n"
    "stop_refusing()\n"
    "local ok, err = pcall(g.get, g)\n"
    "assert(not ok and err == 'not enough memory', err)\n"
    "assert(g.exception == err and not g:successful())\n"
    "assert(core.stats().lua_threads_idle == 1)\n"
    "return core.spawn(function(a) return a + 1 end, 41):get()\n";
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  L = open_state(lua_newstate(refusing_alloc, NULL));
  lua_register(L, "fill_and_refuse", fill_and_refuse);
  lua_register(L, "stop_refusing", stop_refusing);
  if (luaL_dostring(L, script) != LUA_OK)
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
  CHECK_INT(lua_tointeger(L, -1), ==, 42);
  teardown();
}

/* A C function that sleeps and ignores being killed. */
static int sleep_through_kills(lua_State *S) {
  (void)S;
  green_sleep(60);
  return 0;
}

/* A greenlet killed with an error that C code swallows ends normally; the
   error given to kill is let go of all the same. */
static void test_a_swallowed_kill_error_is_let_go_of(void) {
  static const char script[] =
    "local weak = setmetatable({}, {__mode = 'v'})\n"
    "local g = core.spawn(sleep_through_kills)\n"
    "core.sleep(0)                                 -- g sleeps in C\n"
    "weak.err = {}\n"
    "g:kill(weak.err)\n"
    "assert(g:successful(), 'ended normally')\n"
    "collectgarbage()\n"
    "collectgarbage()\n"
    "return weak.err == nil\n";
  setup();
  lua_register(L, "sleep_through_kills", sleep_through_kills);
  if (luaL_dostring(L, script) != LUA_OK)
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
  CHECK(lua_toboolean(L, -1));
  teardown();
}

/* write_byte(fd): a byte into fd, from C. */
static int write_byte(lua_State *S) {
  lua_pushboolean(S, write((int)luaL_checkinteger(S, 1), "x", 1) == 1);
  return 1;
}

/* green.wait_read and wait_write on a pipe, from Lua: the descriptors a
   host's own C library would do its I/O on. */
static void test_waits_on_descriptors(void) {
  static const char script[] =
    "local r, w = ...\n"
    "local function fails(f, ...) local ok, e = pcall(f, ...); assert(not ok); return e end\n"
    "assert(select(2, core.wait_read(r, 0.01)) == 'timeout')\n"
    "assert(core.wait_write(w) == true)\n"
    "local waiter = core.spawn(function() return core.wait_read({getfd = function() return r end}, 5) end)\n"
    "core.sleep(0)\n"
    "assert(write_byte(w))\n"
    "assert(waiter:get() == true)\n"
    "assert(core.wait_read(r, 0) == true)              -- the byte is still there\n"
    "assert(fails(core.wait_read, {getfd = function() return -1 end}):match('closed'))\n"
    "assert(fails(core.wait_read, 99999):match('bad file descriptor'))\n"
    "assert(fails(core.wait_read, 'x'):match('descriptor or object with getfd expected'))\n"
    "assert(fails(core.wait_write, w, -1):match('must not be negative'))\n"
    "local t = core.Timeout.start_new(0.01)\n"
    "local ok, err = pcall(core.wait_write, r)           -- a pipe's read end\n"
    "t:cancel()\n"
    "assert(not ok and err == t, tostring(err))\n"
    "local stuck = core.spawn(core.wait_write, r)\n"
    "core.sleep(0)\n"
    "stuck:kill()\n"
    "assert(stuck:get() == core.GreenletExit)\n"
    "return true\n";
  int p[2];
  setup();
  CHECK_INT(pipe(p), ==, 0);
  lua_register(L, "write_byte", write_byte);
  CHECK_INT(luaL_loadstring(L, script), ==, LUA_OK);
  lua_pushinteger(L, p[0]);
  lua_pushinteger(L, p[1]);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  CHECK(lua_toboolean(L, -1));
  close(p[0]);
  close(p[1]);
  teardown();
}

/* A C host's green_kill of a Lua greenlet wins over a Timeout of the
   greenlet's that falls due before the greenlet runs, as a Lua kill does:
   both when the kill comes before the hub fires the Timeout and after. */
static void kill_with_a_timeout_due(int timeout_fired_first) {
  static const char script[] =
    "return core.spawn(function()\n"
    "  local t = core.Timeout.start_new(0.2)\n"
    "  local ok, err = pcall(core.sleep, 1)\n"
    "  t:cancel()\n"
    "  if not ok then error(err, 0) end\n"
    "end)\n";
  lgreen *lg;
  double t0;
  setup();
  CHECK_INT(luaL_dostring(L, script), ==, LUA_OK);
  lg = lgreen_check(L, -1);
  CHECK_INT(green_yield(), ==, 0);          /* it waits in sleep */
  CHECK_INT(green_state(lg->g), ==, GREEN_BLOCKED);
  t0 = green_now();
  while (green_now() - t0 < 0.3) {}         /* due; the hub has not run */
  if (timeout_fired_first) {
    CHECK_INT(green_yield(), ==, 0);        /* the hub fires it; we go on */
    CHECK_INT(green_state(lg->g), ==, GREEN_READY);
  }
  CHECK_INT(green_kill(lg->g), ==, 0);
  CHECK_INT(green_join(lg->g, 5), ==, 0);
  CHECK(lg->done && !lg->failed);           /* GreenletExit, not the Timeout */
  teardown();
}

static void test_a_hosts_kill_wins_over_a_timeout(void) {
  kill_with_a_timeout_due(0);
}

static void test_a_hosts_kill_wins_over_a_timeout_that_fired(void) {
  kill_with_a_timeout_due(1);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_main_keeps_the_hosts_data),
  CHECK_TEST(test_c_greenlets_keep_the_hosts_data),
  CHECK_TEST(test_a_second_state_on_the_same_hub),
  CHECK_TEST(test_dead_c_greenlets_handles_are_let_go_of),
  CHECK_TEST(test_two_states_open_on_the_same_hub),
  CHECK_TEST(test_no_memory_for_a_greenlets_results),
  CHECK_TEST(test_a_swallowed_kill_error_is_let_go_of),
  CHECK_TEST(test_waits_on_descriptors),
  CHECK_TEST(test_a_hosts_kill_wins_over_a_timeout),
  CHECK_TEST(test_a_hosts_kill_wins_over_a_timeout_that_fired),
};

CHECK_MAIN(tests)
