/*
** context.c: preparing a fresh context for the assembly switch.
*/

#if !defined(GREEN_SWITCH_UCONTEXT)

#include <stdint.h>
#include <string.h>

#include "context.h"
#include "internal.h"

void green__trampoline(void);

#if defined(__x86_64__)

/* Initial MXCSR and x87 control word as the System V ABI defines them. */
#define INITIAL_MXCSR 0x1F80
#define INITIAL_FPUCW 0x037F

void green__context_init(green__context *ctx, void *stack_lo, size_t size,
                         void (*entry)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
  void **resume_at = (void **)(top - sizeof(void *));
  *resume_at = (void *)green__trampoline;   /* popped by green__switch's ret */
  memset(ctx, 0, sizeof *ctx);
  ctx->rsp = resume_at;
  ctx->r12 = (void *)entry;
  ctx->r13 = arg;
  ctx->mxcsr = INITIAL_MXCSR;
  ctx->fpucw = INITIAL_FPUCW;
}

#elif defined(__aarch64__)

void green__context_init(green__context *ctx, void *stack_lo, size_t size,
                         void (*entry)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
  memset(ctx, 0, sizeof *ctx);
  ctx->sp = top;
  ctx->lr = (uint64_t)(uintptr_t)green__trampoline;
  ctx->x[0] = (uint64_t)(uintptr_t)entry;   /* x19 */
  ctx->x[1] = (uint64_t)(uintptr_t)arg;     /* x20 */
}

#endif

#endif /* !GREEN_SWITCH_UCONTEXT */
