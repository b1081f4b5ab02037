/*
** context.h: the registers a greenlet keeps while it is switched out.
**
** green__switch(from, to) pushes the caller's callee-saved registers and
** floating-point control state onto its own stack as a green__frame, stores
** the stack pointer in *from, and resumes *to by popping its frame. The
** frame layouts below mirror the slot tables at the top of the .S files; the
** static assertions keep the two in step.
*/

#ifndef GREEN_CONTEXT_H
#define GREEN_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#if defined(GREEN_SWITCH_UCONTEXT)
#  include <ucontext.h>
typedef struct {
  ucontext_t uc;
} green__context;

#elif defined(__x86_64__)
/* What green__switch leaves at a suspended context's stack pointer. */
typedef struct {
  uint32_t mxcsr;     /* SSE control and status */
  uint16_t fpucw;     /* x87 control word */
  uint16_t unused;
  void *r15, *r14, *r13, *r12, *rbx, *rbp;
  void *resume;       /* popped by ret */
} green__frame;
_Static_assert(offsetof(green__frame, mxcsr) == 0, "FRAME_MXCSR");
_Static_assert(offsetof(green__frame, fpucw) == 4, "FRAME_FPUCW");
_Static_assert(offsetof(green__frame, r15) == 8, "FRAME_R15");
_Static_assert(offsetof(green__frame, r12) == 32, "FRAME_R12");
_Static_assert(offsetof(green__frame, r13) == 24, "FRAME_R13");
_Static_assert(offsetof(green__frame, rbp) == 48, "FRAME_RBP");
_Static_assert(offsetof(green__frame, resume) == 56, "FRAME_RESUME");
_Static_assert(sizeof(green__frame) == 64, "FRAME_SIZE");

#elif defined(__aarch64__)
/* What green__switch leaves at a suspended context's stack pointer. */
typedef struct {
  uint64_t d[8];      /* d8..d15, the low halves of v8..v15 */
  uint64_t x[10];     /* x19..x28 */
  uint64_t fp, lr;    /* x29, x30: lr is where the context resumes */
  uint64_t fpcr;      /* floating-point control */
  uint64_t unused;    /* keeps sp 16-byte aligned */
} green__frame;
_Static_assert(offsetof(green__frame, d) == 0, "FRAME_D8");
_Static_assert(offsetof(green__frame, x) == 64, "FRAME_X19");
_Static_assert(offsetof(green__frame, fp) == 144, "FRAME_FP");
_Static_assert(offsetof(green__frame, lr) == 152, "FRAME_LR");
_Static_assert(offsetof(green__frame, fpcr) == 160, "FRAME_FPCR");
_Static_assert(sizeof(green__frame) == 176, "FRAME_SIZE");

#else
#  error "no assembly switch for this architecture: build with SWITCH=ucontext"
#endif

#if !defined(GREEN_SWITCH_UCONTEXT)
/* A suspended context is its stack pointer; the registers are in the
   green__frame it points at. */
typedef struct {
  green__frame *sp;
} green__context;
_Static_assert(offsetof(green__context, sp) == 0, "CTX_SP");
#endif

/* Prepare ctx so that switching to it calls entry(arg) on the stack
   [stack_lo, stack_lo + size). When entry returns, its context is finished:
   the context it returns is resumed, and this one is not saved (a NULL
   return aborts). */
void green__context_init(green__context *ctx, void *stack_lo, size_t size,
                         green__context *(*entry)(void *), void *arg);

void green__switch(green__context *from, green__context *to);

#endif
