/*
** test_switch.c: the context switch itself (internal API), and the state
** a greenlet keeps across switches.
*/

#include <fenv.h>
#include <sys/mman.h>

#include "check.h"
#include "context.h"
#include "green.h"

static green__context main_ctx, other_ctx, third_ctx;
static char other_stack[64 * 1024] __attribute__((aligned(16)));
static int entry_calls;
static uintptr_t seen_alignment;

static green__context *entry(void *arg) {
  _Alignas(16) volatile char probe[16];
  probe[0] = 1;
  seen_alignment = (uintptr_t)probe % 16;
  entry_calls += (int)(intptr_t)arg;
  green__switch(&other_ctx, &main_ctx);
  entry_calls += 10;
  green__switch(&other_ctx, &main_ctx);
  CHECK(0);                                 /* never resumed a third time */
  return NULL;
}

static void test_switch_round_trips(void) {
  green__context_init(&other_ctx, other_stack, sizeof other_stack, entry,
                      (void *)(intptr_t)1);
  green__switch(&main_ctx, &other_ctx);
  CHECK_INT(entry_calls, ==, 1);
  CHECK_INT(seen_alignment, ==, 0);
  green__switch(&main_ctx, &other_ctx);
  CHECK_INT(entry_calls, ==, 11);
}

/* Values live across a call sit in callee-saved registers when the compiler
   can put them there; a register the switch lost shows as a wrong sum.
   between() is green_yield in a greenlet, and a plain call for the
   expected result. */
static int no_switch(void) {
  return 0;
}

static long mix(long seed, int (*between)(void)) {
  long a = seed + 1, b = seed * 3, c = seed ^ 5, d = seed + 7, e = seed * 11,
       f = seed - 13, g = seed + 17, h = seed * 19;
  double x = (double)seed * 0.5, y = (double)seed + 0.25;
  int i;
  for (i = 0; i < 3; i++) {
    CHECK_INT(between(), ==, 0);
    a += b; b += c; c += d; d += e; e += f; f += g; g += h; h += a;
    x = x * 1.5 + y;
    y = y - x * 0.25;
  }
  return a + b + c + d + e + f + g + h + (long)x + (long)y;
}

static void *many_live_values(void *arg) {
  return (void *)(intptr_t)mix((long)(intptr_t)arg, green_yield);
}

static long expected_sum(long seed) {
  return mix(seed, no_switch);
}

static void test_registers_survive_switches(void) {
  green_hub_t *hub;
  green_t *g[4];
  int i;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  for (i = 0; i < 4; i++)
    CHECK_INT(green_spawn(many_live_values, (void *)(intptr_t)(i * 1000 + 3),
                          NULL, &g[i]), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  for (i = 0; i < 4; i++) {
    void *sum;
    CHECK_INT(green_result(g[i], &sum), ==, 0);
    CHECK_INT((long)(intptr_t)sum, ==, expected_sum(i * 1000 + 3));
    green_release(g[i]);
  }
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* The rounding mode is floating-point control state: each greenlet keeps
   its own, and a new greenlet starts with the ABI's default. */
static int rounding_seen[4];

static void *round_upward(void *arg) {
  rounding_seen[0] = fegetround();
  CHECK_INT(fesetround(FE_UPWARD), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  rounding_seen[1] = fegetround();
  return arg;
}

static void *round_downward(void *arg) {
  rounding_seen[2] = fegetround();
  CHECK_INT(fesetround(FE_DOWNWARD), ==, 0);
  CHECK_INT(green_yield(), ==, 0);
  rounding_seen[3] = fegetround();
  return arg;
}

static void test_fp_control_is_per_greenlet(void) {
  green_hub_t *hub;
  CHECK_INT(green_hub_new(NULL, &hub), ==, 0);
  CHECK_INT(fesetround(FE_TOWARDZERO), ==, 0);
  CHECK_INT(green_spawn(round_upward, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_spawn(round_downward, NULL, NULL, NULL), ==, 0);
  CHECK_INT(green_hub_run(hub), ==, 0);
  CHECK_INT(fegetround(), ==, FE_TOWARDZERO);
  CHECK_INT(rounding_seen[0], ==, FE_TONEAREST);
  CHECK_INT(rounding_seen[1], ==, FE_UPWARD);
  CHECK_INT(rounding_seen[2], ==, FE_TONEAREST);
  CHECK_INT(rounding_seen[3], ==, FE_DOWNWARD);
  CHECK_INT(green_hub_free(hub), ==, 0);
}

/* A finished context's entry names the context to resume: here a new one,
   entered straight from the finished one, which then resumes main. The new
   one's stack is mapped apart: valgrind takes a move of the stack pointer
   between two neighbouring arrays for a frame, not for a switch. */
#define THIRD_STACK_BYTES (64 * 1024)
static char *third_stack;
static int finished_order[2], finished_count;

static green__context *third_entry(void *arg) {
  finished_order[finished_count++] = (int)(intptr_t)arg;
  return &main_ctx;
}

static green__context *handing_over_entry(void *arg) {
  finished_order[finished_count++] = (int)(intptr_t)arg;
  green__context_init(&third_ctx, third_stack, THIRD_STACK_BYTES,
                      third_entry, (void *)(intptr_t)2);
  return &third_ctx;
}

static void test_finished_entry_resumes_what_it_returns(void) {
  third_stack = mmap(NULL, THIRD_STACK_BYTES, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(third_stack != MAP_FAILED);
  green__context_init(&other_ctx, other_stack, sizeof other_stack,
                      handing_over_entry, (void *)(intptr_t)1);
  green__switch(&main_ctx, &other_ctx);
  CHECK_INT(finished_count, ==, 2);
  CHECK_INT(finished_order[0], ==, 1);
  CHECK_INT(finished_order[1], ==, 2);
  munmap(third_stack, THIRD_STACK_BYTES);
}

static green__context *returning_entry(void *arg) {
  (void)arg;
  return NULL;
}

static void test_entry_returning_no_context_aborts(void) {
  int pipefd[2], status;
  char out[512] = {0};
  pid_t pid;
  CHECK_INT(pipe(pipefd), ==, 0);
  fflush(NULL);
  pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], STDERR_FILENO);
    green__context_init(&other_ctx, other_stack, sizeof other_stack,
                        returning_entry, NULL);
    green__switch(&main_ctx, &other_ctx);
    _exit(0);
  }
  close(pipefd[1]);
  CHECK(read(pipefd[0], out, sizeof out - 1) > 0);
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
  CHECK_INT(WTERMSIG(status), ==, SIGABRT);
  CHECK(strstr(out, "returned no context to resume") != NULL);
}

static const check_test_t tests[] = {
  CHECK_TEST(test_switch_round_trips),
  CHECK_TEST(test_registers_survive_switches),
  CHECK_TEST(test_fp_control_is_per_greenlet),
  CHECK_TEST(test_finished_entry_resumes_what_it_returns),
  CHECK_TEST_NATIVE(test_entry_returning_no_context_aborts),
};

CHECK_MAIN(tests)
