/*
** cpu.c: round trips to a worker thread and back to a waiting caller, and
** the throughput of many small tasks, against a bare round trip written
** here in the same run: a pthread worker fed under a mutex and condition
** variable that answers through a libev async watcher, the caller running
** the loop until the answer arrives (what green_threadpool_run does,
** without greenlets).
**
** Figures: a trivial C task through green_threadpool_run; a trivial Lua
** function through green.cpu_bound (a lua_State in this process, with the
** green module linked in, as a C host has it); 100,000 small Lua tasks
** from 100 greenlets on a pool with a thread per CPU.
*/

#include <ev.h>
#include <pthread.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>

#include "bench.h"
#include "green.h"
#include "green_lua.h"


/* ---------------------------------------------------------------- bare */

static struct {
  pthread_mutex_t lock;
  pthread_cond_t asked;
  struct ev_loop *loop;
  ev_async answered;
  long requests, answers;
  int stop, got_answer;
} bare;

static void *bare_worker(void *arg) {
  pthread_mutex_lock(&bare.lock);
  for (;;) {
    while (bare.answers == bare.requests && !bare.stop)
      pthread_cond_wait(&bare.asked, &bare.lock);
    if (bare.stop) break;
    bare.answers++;                         /* the trivial task */
    pthread_mutex_unlock(&bare.lock);
    ev_async_send(bare.loop, &bare.answered);
    pthread_mutex_lock(&bare.lock);
  }
  pthread_mutex_unlock(&bare.lock);
  return arg;
}

static void on_answer(struct ev_loop *loop, ev_async *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents;
  bare.got_answer = 1;
}

static void run_bare(long n) {
  long i;
  for (i = 0; i < n; i++) {
    bare.got_answer = 0;
    pthread_mutex_lock(&bare.lock);
    bare.requests++;
    pthread_mutex_unlock(&bare.lock);
    pthread_cond_signal(&bare.asked);       /* as green does: after unlock */
    while (!bare.got_answer) ev_run(bare.loop, EVRUN_ONCE);
  }
}


/* ---------------------------------------------------------------- green */

static green_threadpool_t *one_thread;

static void trivial(green_work_t *work) {
  (void)work;
}

static void run_c_tasks(long n) {
  green_work_t work = {0};
  long i;
  work.fn = trivial;
  for (i = 0; i < n; i++)
    if (green_threadpool_run(one_thread, &work, GREEN_FOREVER) != 0) abort();
}

static lua_State *L;

/* Call the global Lua function `name` with n. */
static void call_lua(const char *name, long n) {
  lua_getglobal(L, name);
  lua_pushinteger(L, n);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
}

static void run_lua_calls(long n) {
  call_lua("lua_calls", n);
}

static void run_lua_throughput(long n) {
  call_lua("lua_throughput", n);
}

/* The three round trips take their runs in turns, so that the slow and
   fast spells of a shared machine (its wakeups between cores swing tenfold
   here) weigh on each alike; each figure is the median of its runs. Runs,
   not single trips, take turns: a worker left idle between single trips
   sleeps deeper, and that would be measured instead. */
#define RUNS 9

static void round_trips(long n, double *bare_ns, double *c_ns, double *lua_ns) {
  static void (*const fns[3])(long) = {run_bare, run_c_tasks, run_lua_calls};
  double runs[3][RUNS], *out[3];
  int r, k;
  out[0] = bare_ns;
  out[1] = c_ns;
  out[2] = lua_ns;
  for (r = 0; r < RUNS; r++)
    for (k = 0; k < 3; k++) {
      double start = bench_now();
      fns[k](n);
      runs[k][r] = (bench_now() - start) * 1e9 / (double)n;
    }
  for (k = 0; k < 3; k++) {
    qsort(runs[k], RUNS, sizeof runs[k][0], bench_cmp);
    *out[k] = runs[k][RUNS / 2];
  }
}

static const char lua_code[] =
  "local green = require 'green'\n"
  "local one = green.threadpool(1)\n"
  "local echo = green.cpu_bound(function(x) return x end, one)\n"
  "function lua_calls(n)\n"
  "  for i = 1, n do assert(echo(i) == i) end\n"
  "end\n"
  "local square = green.cpu_bound(function(x) return x * x end)\n"
  "function lua_throughput(n)\n"
  "  local group = green.Group()\n"
  "  for g = 1, 100 do\n"
  "    group:spawn(function()\n"
  "      for i = g, n, 100 do assert(square(i) == i * i) end\n"
  "    end)\n"
  "  end\n"
  "  group:join()\n"
  "end\n";

static void open_lua(void) {
  L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "green.core", luaopen_green_core, 0);
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_pushliteral(L, "lua/?.lua;lua/?/init.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  if (luaL_dostring(L, lua_code) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    abort();
  }
}

int main(void) {
  green_hub_t *hub;
  pthread_t worker;
  double bare_ns, c_ns, lua_ns, many_ns;
  if (green_hub_new(NULL, &hub) != 0) abort();
  if (green_threadpool_new(1, &one_thread) != 0) abort();
  pthread_mutex_init(&bare.lock, NULL);
  pthread_cond_init(&bare.asked, NULL);
  bare.loop = ev_loop_new(EVFLAG_AUTO);
  ev_async_init(&bare.answered, on_answer);
  ev_async_start(bare.loop, &bare.answered);
  if (pthread_create(&worker, NULL, bare_worker, NULL) != 0) abort();
  open_lua();                   /* on the hub made above */

  round_trips(2000, &bare_ns, &c_ns, &lua_ns);
  many_ns = bench_median_ns(run_lua_throughput, 100000);

  printf("cpu   bare pthread+ev_async round trip %8.0f ns\n", bare_ns);
  printf("cpu   C task round trip                %8.0f ns   %.2fx bare   (target <= 1.2x)\n",
         c_ns, c_ns / bare_ns);
  printf("cpu   Lua cpu_bound call round trip    %8.0f ns   %.2fx bare   (target <= 1.5x)\n",
         lua_ns, lua_ns / bare_ns);
  printf("cpu   100,000 small Lua tasks, 100 greenlets, a thread per CPU: %.0f ns a task, "
         "%.0f tasks/s (%.1fx the serial bare rate)\n",
         many_ns, 1e9 / many_ns, bare_ns / many_ns);

  pthread_mutex_lock(&bare.lock);
  bare.stop = 1;
  pthread_cond_signal(&bare.asked);
  pthread_mutex_unlock(&bare.lock);
  pthread_join(worker, NULL);
  lua_close(L);
  ev_async_stop(bare.loop, &bare.answered);
  ev_loop_destroy(bare.loop);
  green_threadpool_free(one_thread);
  green_hub_free(hub);
  return 0;
}
