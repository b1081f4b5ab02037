/*
** context.c: preparing a fresh context for the assembly switch: a
** green__frame at the top of the new stack whose registers make the switch
** "return" into green__trampoline, which calls entry(arg).
*/

#if !defined(GREEN_SWITCH_UCONTEXT)

#include <stdint.h>
#include <string.h>

#include "context.h"
#include "internal.h"

void green__trampoline(void);

#if defined(__x86_64__)
/* Initial MXCSR and x87 control word as the System V ABI defines them. */
#  define INITIAL_MXCSR 0x1F80
#  define INITIAL_FPUCW 0x037F
#endif

void green__context_init(green__context *ctx, void *stack_lo, size_t size,
                         green__context *(*entry)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
  /* Once the switch has popped the frame, sp is the aligned top. */
  green__frame *frame = (green__frame *)(top - sizeof(green__frame));
  memset(frame, 0, sizeof *frame);
#if defined(__x86_64__)
  frame->mxcsr = INITIAL_MXCSR;
  frame->fpucw = INITIAL_FPUCW;
  frame->r12 = (void *)entry;
  frame->r13 = arg;
  frame->resume = (void *)green__trampoline;
#elif defined(__aarch64__)
  frame->x[0] = (uint64_t)(uintptr_t)entry;   /* x19 */
  frame->x[1] = (uint64_t)(uintptr_t)arg;     /* x20 */
  frame->lr = (uint64_t)(uintptr_t)green__trampoline;
#endif
  ctx->sp = frame;
}

#endif /* !GREEN_SWITCH_UCONTEXT */
