/*
** test_stack.c: stack pooling, many greenlets, stack sizes, arenas, and
** overflow reports (in child processes, since an overflow ends one).
*/

#include <sys/resource.h>

#include "check.h"

#if defined(__has_include)
#  if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>
#  endif
#endif
#ifndef RUNNING_ON_VALGRIND
#  define RUNNING_ON_VALGRIND 0
#endif

#if defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#    define GREEN_TEST_SANITIZER 1
#  endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#  define GREEN_TEST_SANITIZER 1
#endif
#include "green.h"

static green_hub_t *hub;
static long finished;

static void *finish(void *arg) {
  finished++;
  return arg;
}

static void *sleep_then_finish(void *arg) {
  CHECK_INT(green_sleep(0.05), ==, 0);
  finished++;
  return arg;
}

static void test_stacks_are_reused(void) {
  green_hub_stats_t stats;
  green_t *g;
  int i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  for (i = 0; i < 100; i++) {
    CHECK_INT(green_spawn(finish, NULL, NULL, &g), ==, 0);
    CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
    green_release(g);
  }
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(finished, ==, 100);
  CHECK_INT(stats.stack_maps, ==, 2);          /* the hub's and one more */
  CHECK_INT(stats.stacks_reused, ==, 99);
  CHECK_INT(stats.stacks_pooled, ==, 1);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_ten_thousand_alive(void) {
  green_hub_stats_t stats;
  int i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  for (i = 0; i < 10000; i++)
    CHECK_INT(green_spawn(sleep_then_finish, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);             /* every one starts */
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(stats.alive, ==, 10000);
  CHECK_INT(finished, ==, 0);     /* woken sleepers queue behind main */
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(finished, ==, 10000);
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(stats.stacks_pooled, ==, 1024);    /* the pool's bound */
  CHECK_INT(stats.stacks_mapped, ==, 1025);    /* pool and the hub's own */
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_hundred_thousand_spawned(void) {
  green_hub_stats_t stats;
  int batch, i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  for (batch = 0; batch < 100; batch++) {
    for (i = 0; i < 1000; i++)
      CHECK_INT(green_spawn(finish, NULL, NULL, NULL), ==, 0);
    CHECK_INT(green_hub_run(hub), ==, 0);
  }
  CHECK_INT(finished, ==, 100000);
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(stats.spawned, ==, 100000);
  CHECK(stats.stack_maps <= 1001);             /* the rest came from the pool */
  CHECK(stats.stacks_reused >= 99000);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* Write `depth` KiB of stack, every byte of it. */
static int recurse(int depth) {
  volatile char frame[1024];
  int i;
  for (i = 0; i < 1024; i++) frame[i] = (char)depth;
  if (depth <= 1) return frame[0];
  return recurse(depth - 1) + frame[1023];
}

static void *use_stack(void *arg) {
  intptr_t kib = (intptr_t)arg;
  return (void *)(intptr_t)recurse((int)kib);
}

static void test_stack_sizes(void) {
  green_spawn_options_t big = {"big", 8u << 20}, small = {"small", 64u << 10};
  green_hub_options_t opts;
  green_t *g;
  memset(&opts, 0, sizeof opts);
  opts.stack_size = 128u << 10;
  CHECK_INT(green_hub_new(&opts, &hub), ==, 0);
  CHECK_INT(green_spawn(use_stack, (void *)(intptr_t)4096, &big, &g), ==, 0);
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  green_release(g);
  CHECK_INT(green_spawn(use_stack, (void *)(intptr_t)32, &small, &g), ==, 0);
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  green_release(g);
  CHECK_INT(green_spawn(use_stack, (void *)(intptr_t)100, NULL, &g), ==, 0);
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  green_release(g);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static void test_arenas_past_guarded_max(void) {
  green_hub_options_t opts;
  green_hub_stats_t stats;
  int i;
  memset(&opts, 0, sizeof opts);
  opts.guarded_max = 4;
  CHECK_INT(green_hub_new(&opts, &hub), ==, 0);
  for (i = 0; i < 300; i++)
    CHECK_INT(green_spawn(sleep_then_finish, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(stats.alive, ==, 300);
  CHECK_INT(stats.stacks_mapped, ==, 4);
  CHECK_INT(stats.stacks_in_arenas, ==, 320);   /* five arenas of 64 */
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(finished, ==, 300);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* 40,000 guard-paged stacks would need 80,000 mappings, past Linux's
   default vm.max_map_count of 65530: arenas take over at 16384. */
static void test_past_the_mapping_limit(void) {
  green_hub_stats_t stats;
  int i;
  if (RUNNING_ON_VALGRIND)
    CHECK_SKIP("valgrind's own segment table (VG_N_SEGMENTS) is too small");
#if defined(__has_feature)
#  if __has_feature(thread_sanitizer)
  CHECK_SKIP("TSan's shadow mappings use up the mapping limit first");
#  endif
#endif
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  for (i = 0; i < 40000; i++)
    CHECK_INT(green_spawn(sleep_then_finish, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(stats.alive, ==, 40000);
  CHECK_INT(stats.stacks_mapped, ==, 16384);
  CHECK(stats.stacks_in_arenas >= 40000 - 16384 + 1);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(finished, ==, 40000);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* The stack.c budget of kernel mappings for stacks. */
extern long green__stack_mapping_budget;

/* The order greenlets started in. */
static int started[200], starts;
static void *record_start_then_sleep(void *arg) {
  started[starts++] = (int)(intptr_t)arg;
  CHECK_INT(green_sleep(0.05), ==, 0);
  finished++;
  return arg;
}

/* Past the mappings kept for the rest of the process, no more stacks are
   mapped: new greenlets wait for one, and each starts when a greenlet
   that ran ends and gives its stack back, in the order they were
   spawned. */
static void test_mappings_are_kept_for_the_process(void) {
  green_hub_options_t opts;
  green_hub_stats_t stats;
  int i, fit = 7 + 2 * 64, n = fit + 20;
  memset(&opts, 0, sizeof opts);
  opts.guarded_max = 8;
  opts.stack_pool_max = 1;
  CHECK_INT(green_hub_new(&opts, &hub), ==, 0);
  /* Two kernel mappings per guarded stack (the hub's among the 8) and per
     arena of 64. */
  green__stack_mapping_budget = 8 * 2 + 2 * 2;
  for (i = 0; i < n; i++)
    CHECK_INT(green_spawn(record_start_then_sleep, (void *)(intptr_t)i, NULL,
                          NULL), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  CHECK_INT(starts, ==, fit);
  CHECK_INT(green_hub_stats(hub, &stats), ==, 0);
  CHECK_INT(stats.alive, ==, n);
  CHECK_INT(stats.stackless, ==, 20);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(finished, ==, n);
  for (i = 0; i < n; i++) CHECK_INT(started[i], ==, i);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* A burst of spawns and one join: each greenlet takes the stack the one
   before it gave back, so the burst maps none of its own. */
static void test_burst_maps_no_stack_per_greenlet(void) {
  green_hub_stats_t before, after;
  green_t *last = NULL;
  int i, n = RUNNING_ON_VALGRIND ? 100000 : 1000000;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(green_hub_stats(hub, &before), ==, 0);
  for (i = 0; i < n; i++) {
    green_release(last);
    CHECK_INT(green_spawn(finish, NULL, NULL, &last), ==, 0);
  }
  CHECK_INT(green_join(last, GREEN_FOREVER), ==, 0);
  green_release(last);
  CHECK_INT(finished, ==, n);
  CHECK_INT(green_hub_stats(hub, &after), ==, 0);
  /* The pool was empty: a dead greenlet's stack is given back only once
     the next one runs, so two take turns. */
  CHECK(after.stack_maps - before.stack_maps <= 2);
  CHECK(after.stacks_reused - before.stacks_reused >= (uint64_t)n - 2);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* Run fn in a child with stderr captured; return its wait status. */
static int run_capturing_stderr(void (*fn)(void), char *out, size_t size) {
  int pipefd[2], status;
  size_t len = 0;
  ssize_t n;
  pid_t pid;
  CHECK_INT(pipe(pipefd), ==, 0);
  fflush(NULL);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    dup2(pipefd[1], STDERR_FILENO);
    close(pipefd[0]);
    fn();
    _exit(0);
  }
  close(pipefd[1]);
  while ((n = read(pipefd[0], out + len, size - 1 - len)) > 0) {
    len += (size_t)n;
    if (len == size - 1) len = size / 2;   /* keep the start, drain the rest */
  }
  out[len] = '\0';
  close(pipefd[0]);
  waitpid(pid, &status, 0);
  return status;
}

static void overflow_guarded(void) {
  green_spawn_options_t opts = {"deep", 64u << 10};
  if (green_hub_new(NULL, &hub) != 0) _exit(3);
  if (green_spawn(use_stack, (void *)(intptr_t)100000, &opts, NULL) != 0)
    _exit(4);
  green_hub_run(hub);
  _exit(5);                           /* not reached: the overflow kills */
}

static void test_guard_page_overflow_is_reported(void) {
  char out[4096];
  int status = run_capturing_stderr(overflow_guarded, out, sizeof out);
#ifdef GREEN_TEST_SANITIZER
  /* The sanitizer's handler, which ours passes the fault on to, reports
     it too and exits instead. */
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 5);
  CHECK(strstr(out, "Sanitizer") != NULL);
#else
  CHECK(WIFSIGNALED(status));
  CHECK_INT(WTERMSIG(status), ==, SIGSEGV);
#endif
  CHECK(strstr(out, "green: stack overflow in greenlet 'deep' #") != NULL);
  CHECK(strstr(out, "hit the guard page") != NULL);
  CHECK(strstr(out, "; its stack is 0x") != NULL);
}

static void *overflow_a_little(void *arg) {
  recurse(300);                       /* 300 KiB into a 256 KiB stack */
  CHECK_INT(green_yield(), ==, 0);    /* the switch finds the canary gone */
  return arg;
}

/* The stack.c flag that says whether the kernel makes guard regions. */
extern _Atomic int green__guard_regions;

static void overflow_in_arena(void) {
  green_hub_options_t opts;
  green_spawn_options_t name = {"arena-deep", 0};
  memset(&opts, 0, sizeof opts);
  opts.guarded_max = 1;               /* only the hub's stack is guarded */
  opts.stack_size = 256u << 10;
  if (green_hub_new(&opts, &hub) != 0) _exit(3);
  /* The first arena stack sits on the arena's guard page; the second has
     its own guard page, and the first one's top, with the canary, below. */
  if (green_spawn(sleep_then_finish, NULL, NULL, NULL) != 0) _exit(4);
  if (green_spawn(overflow_a_little, NULL, &name, NULL) != 0) _exit(4);
  green_hub_run(hub);
  _exit(5);
}

/* As on a kernel without guard regions: the canaries are all there is. */
static void overflow_in_arena_without_guards(void) {
  green__guard_regions = 0;
  overflow_in_arena();
}

static void test_arena_overflow_hits_its_guard_page(void) {
  char out[4096];
  int status = run_capturing_stderr(overflow_in_arena, out, sizeof out);
  if (strstr(out, "canary below its stack was overwritten") != NULL)
    CHECK_SKIP("this kernel has no guard regions (Linux 6.13 and later)");
#ifdef GREEN_TEST_SANITIZER
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 5);
#else
  CHECK(WIFSIGNALED(status));
  CHECK_INT(WTERMSIG(status), ==, SIGSEGV);
#endif
  CHECK(strstr(out, "green: stack overflow in greenlet 'arena-deep' #") != NULL);
  CHECK(strstr(out, "hit the guard page") != NULL);
}

static void test_arena_canary_overwrite_is_reported(void) {
  char out[4096];
  int status = run_capturing_stderr(overflow_in_arena_without_guards, out,
                                    sizeof out);
  CHECK(WIFSIGNALED(status));
  CHECK_INT(WTERMSIG(status), ==, SIGABRT);
  CHECK(strstr(out, "green: stack overflow in greenlet 'arena-deep' #") != NULL);
  CHECK(strstr(out, "canary below its stack was overwritten") != NULL);
}

static long vm_size_bytes(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");
  CHECK(f != NULL);
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmSize: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib * 1024;
}

/* Out of address space: a greenlet whose stack cannot be mapped, when no
   other holds one that could come back, ends without running, with
   GREEN_ENOMEM; the hub goes on. */
static void test_out_of_memory_is_an_error(void) {
  green_spawn_options_t huge = {NULL, 512u << 20};
  struct rlimit limit;
  green_t *g;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  limit.rlim_cur = limit.rlim_max = (rlim_t)(vm_size_bytes() + (64 << 20));
  CHECK_INT(setrlimit(RLIMIT_AS, &limit), ==, 0);
  CHECK_INT(green_spawn(finish, NULL, &huge, &g), ==, 0);
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  CHECK_INT(green_result(g, NULL), ==, GREEN_ENOMEM);
  CHECK_INT(finished, ==, 0);
  green_release(g);
  CHECK_INT(green_spawn(finish, NULL, NULL, &g), ==, 0);
  CHECK_INT(green_join(g, GREEN_FOREVER), ==, 0);
  CHECK_INT(finished, ==, 1);
  green_release(g);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_stacks_are_reused),
  CHECK_TEST(test_ten_thousand_alive),
  CHECK_TEST(test_hundred_thousand_spawned),
  CHECK_TEST(test_stack_sizes),
  CHECK_TEST(test_arenas_past_guarded_max),
  CHECK_TEST(test_past_the_mapping_limit),
  CHECK_TEST(test_mappings_are_kept_for_the_process),
  CHECK_TEST(test_burst_maps_no_stack_per_greenlet),
  CHECK_TEST_NATIVE(test_guard_page_overflow_is_reported),
  CHECK_TEST_NATIVE(test_arena_overflow_hits_its_guard_page),
  CHECK_TEST_NATIVE(test_arena_canary_overwrite_is_reported),
  CHECK_TEST_NATIVE(test_out_of_memory_is_an_error),
};

CHECK_MAIN(tests)
