/*
** switch.c: nanoseconds per context switch.
**
**   green__switch   the runtime's assembly switch, two contexts ping-ponging
**   minimal asm     the least a switch can do: push the callee-saved
**                   integer registers, swap stack pointers, pop, return;
**                   no floating-point control state (baseline)
**   minimal + fp    the same plus saving and loading MXCSR and the x87
**                   control word, which the ABI makes callee-saved and
**                   green__switch preserves (x86-64 only; baseline)
**   swapcontext     glibc's, which also saves the signal mask with a
**                   system call (baseline)
**   green_yield     two greenlets yielding to each other through the
**                   scheduler: a full sleep(0) round trip per switch
*/

#include <stdint.h>
#include <string.h>
#include <ucontext.h>

#include "bench.h"
#include "context.h"
#include "green.h"

#define STACK_BYTES (64 * 1024)
static char stack_a[STACK_BYTES] __attribute__((aligned(16)));
static char stack_b[STACK_BYTES] __attribute__((aligned(16)));


/* ---------------------------------------------------------------- green */

#if !defined(GREEN_SWITCH_UCONTEXT)
static green__context main_ctx, peer_ctx;

static green__context *green_peer(void *arg) {
  (void)arg;
  for (;;) green__switch(&peer_ctx, &main_ctx);
  return NULL;                              /* not reached */
}

static void run_green(long n) {
  long i;
  for (i = 0; i < n; i += 2) green__switch(&main_ctx, &peer_ctx);
}
#endif


/* ---------------------------------------------------------------- minimal */

#if defined(__x86_64__)
#  define HAVE_MINIMAL 1
void min_switch(void **save_sp, void *load_sp);
__asm__(
    ".text\n"
    ".p2align 4\n"
    "min_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n"
    "  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n"
    "  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n");
#  define MIN_SAVED_SLOTS 6
#  define HAVE_MINIMAL_FP 1
void min_switch_fp(void **save_sp, void *load_sp);
__asm__(
    ".text\n"
    ".p2align 4\n"
    "min_switch_fp:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n"
    "  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  subq $8, %rsp\n  stmxcsr (%rsp)\n  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n  fldcw 4(%rsp)\n  addq $8, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n"
    "  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n");
#elif defined(__aarch64__)
#  define HAVE_MINIMAL 1
void min_switch(void **save_sp, void *load_sp);
__asm__(
    ".text\n"
    ".p2align 4\n"
    "min_switch:\n"
    "  sub sp, sp, #160\n"
    "  stp x19, x20, [sp, #0]\n  stp x21, x22, [sp, #16]\n"
    "  stp x23, x24, [sp, #32]\n  stp x25, x26, [sp, #48]\n"
    "  stp x27, x28, [sp, #64]\n  stp x29, x30, [sp, #80]\n"
    "  stp d8, d9, [sp, #96]\n  stp d10, d11, [sp, #112]\n"
    "  stp d12, d13, [sp, #128]\n  stp d14, d15, [sp, #144]\n"
    "  mov x9, sp\n  str x9, [x0]\n  mov sp, x1\n"
    "  ldp x19, x20, [sp, #0]\n  ldp x21, x22, [sp, #16]\n"
    "  ldp x23, x24, [sp, #32]\n  ldp x25, x26, [sp, #48]\n"
    "  ldp x27, x28, [sp, #64]\n  ldp x29, x30, [sp, #80]\n"
    "  ldp d8, d9, [sp, #96]\n  ldp d10, d11, [sp, #112]\n"
    "  ldp d12, d13, [sp, #128]\n  ldp d14, d15, [sp, #144]\n"
    "  add sp, sp, #160\n"
    "  ret\n");
#endif

#ifdef HAVE_MINIMAL
static void *min_main_sp, *min_peer_sp;

static void (*min_fn)(void **, void *);

static void min_peer(void) {
  for (;;) min_fn(&min_peer_sp, min_main_sp);
}

static void min_init(void (*fn)(void **, void *), int fp_slot) {
  void **sp = (void **)(void *)(stack_b + STACK_BYTES);
#  if defined(__x86_64__)
  *--sp = NULL;                                  /* keeps alignment */
  *--sp = (void *)min_peer;                      /* popped by ret */
  sp -= MIN_SAVED_SLOTS;
  memset(sp, 0, MIN_SAVED_SLOTS * sizeof *sp);
  if (fp_slot) {
    uint32_t initial[2] = {0x1F80, 0x037F};     /* MXCSR, x87 control word */
    memcpy(--sp, initial, sizeof initial);
  }
#  else
  (void)fp_slot;
  sp -= 20;
  memset(sp, 0, 20 * sizeof *sp);
  sp[11] = (void *)min_peer;                     /* x30 slot */
#  endif
  min_peer_sp = sp;
  min_fn = fn;
}

static void run_minimal(long n) {
  long i;
  for (i = 0; i < n; i += 2) min_fn(&min_main_sp, min_peer_sp);
}
#endif


/* ---------------------------------------------------------------- ucontext */

static ucontext_t uc_main, uc_peer;

static void uc_peer_fn(void) {
  for (;;) swapcontext(&uc_peer, &uc_main);
}

static void run_swapcontext(long n) {
  long i;
  for (i = 0; i < n; i += 2) swapcontext(&uc_main, &uc_peer);
}


/* ---------------------------------------------------------------- yield */

static long yields_left;

static void *yielder(void *arg) {
  while (yields_left-- > 0) green_yield();
  return arg;
}

static void run_yield(long n) {
  green_hub_t *hub;
  yields_left = n;
  if (green_hub_new(NULL, &hub) != 0) abort();
  green_spawn(yielder, NULL, NULL, NULL);
  green_spawn(yielder, NULL, NULL, NULL);
  green_hub_run(hub);
  green_hub_free(hub);
}

int main(void) {
  long n = 20000000;
  double green_ns = 0, min_ns = 0, min_fp_ns = 0, uc_ns, yield_ns;
  getcontext(&uc_peer);
  uc_peer.uc_stack.ss_sp = stack_a;
  uc_peer.uc_stack.ss_size = STACK_BYTES;
  makecontext(&uc_peer, uc_peer_fn, 0);
  uc_ns = bench_median_ns(run_swapcontext, n / 20);
  yield_ns = bench_median_ns(run_yield, n / 4);
#if !defined(GREEN_SWITCH_UCONTEXT)
  green__context_init(&peer_ctx, stack_a, STACK_BYTES, green_peer, NULL);
  green_ns = bench_median_ns(run_green, n);
#endif
#ifdef HAVE_MINIMAL
  min_init(min_switch, 0);
  min_ns = bench_median_ns(run_minimal, n);
#endif
#ifdef HAVE_MINIMAL_FP
  min_init(min_switch_fp, 1);
  min_fp_ns = bench_median_ns(run_minimal, n);
#endif
  printf("switch       green__switch %6.2f ns   minimal asm %6.2f ns   "
         "ratio %.2fx   (target <= 1.2x)\n",
         green_ns, min_ns, min_ns > 0 ? green_ns / min_ns : 0.0);
  printf("switch       green__switch %6.2f ns   minimal + fp %5.2f ns   "
         "ratio %.2fx\n",
         green_ns, min_fp_ns, min_fp_ns > 0 ? green_ns / min_fp_ns : 0.0);
  printf("switch       swapcontext   %6.2f ns   green is %.1fx faster\n",
         uc_ns, green_ns > 0 ? uc_ns / green_ns : 0.0);
  printf("yield        green_yield   %6.2f ns per switch through the "
         "scheduler, %.2fx the minimal switch\n",
         yield_ns, min_ns > 0 ? yield_ns / min_ns : 0.0);
  return 0;
}
