/*
** switch_ucontext.c: the portable context switch, for architectures without
** an assembly one. swapcontext also saves the signal mask with a system
** call, so this is several times slower than the assembly switch.
*/

#if defined(GREEN_SWITCH_UCONTEXT)

#include <fenv.h>
#include <stdint.h>
#include <string.h>

#include "context.h"
#include "internal.h"

/* makecontext passes int arguments only: pointers travel in two halves. */
static void *join_halves(unsigned hi, unsigned lo) {
  return (void *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo);
}

static void trampoline(unsigned entry_hi, unsigned entry_lo,
                       unsigned arg_hi, unsigned arg_lo) {
  green__context *(*entry)(void *), *next;
  void *fn = join_halves(entry_hi, entry_lo);
  memcpy(&entry, &fn, sizeof entry);
  fesetenv(FE_DFL_ENV);   /* as the assembly switches: the ABI's defaults */
  next = entry(join_halves(arg_hi, arg_lo));
  if (next != NULL) setcontext(&next->uc);
  green__context_returned();
}

void green__context_init(green__context *ctx, void *stack_lo, size_t size,
                         green__context *(*entry)(void *), void *arg) {
  uintptr_t e = 0, a = (uintptr_t)arg;
  void (*start)(void);
  memcpy(&e, &entry, sizeof entry);
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = stack_lo;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = NULL;
  start = (void (*)(void))(void (*)(unsigned, unsigned, unsigned, unsigned))
      trampoline;
  makecontext(&ctx->uc, start, 4, (unsigned)(e >> 16 >> 16), (unsigned)e,
              (unsigned)(a >> 16 >> 16), (unsigned)a);
}

void green__switch(green__context *from, green__context *to) {
  swapcontext(&from->uc, &to->uc);
}

#endif
