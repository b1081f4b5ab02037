/*
** context.h: the registers a greenlet keeps while it is switched out.
**
** green__switch(from, to) saves the caller's callee-saved registers, stack
** pointer and floating-point control state into *from and resumes *to. The
** layouts below mirror the slot tables at the top of the .S files; the
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
typedef struct {
  void *rsp;          /* points at the address to resume at */
  void *rbx, *rbp, *r12, *r13, *r14, *r15;
  uint32_t mxcsr;     /* SSE control and status */
  uint16_t fpucw;     /* x87 control word */
  uint16_t unused;
} green__context;
_Static_assert(offsetof(green__context, rsp) == 0, "CTX_RSP");
_Static_assert(offsetof(green__context, rbx) == 8, "CTX_RBX");
_Static_assert(offsetof(green__context, rbp) == 16, "CTX_RBP");
_Static_assert(offsetof(green__context, r12) == 24, "CTX_R12");
_Static_assert(offsetof(green__context, r13) == 32, "CTX_R13");
_Static_assert(offsetof(green__context, r14) == 40, "CTX_R14");
_Static_assert(offsetof(green__context, r15) == 48, "CTX_R15");
_Static_assert(offsetof(green__context, mxcsr) == 56, "CTX_MXCSR");
_Static_assert(offsetof(green__context, fpucw) == 60, "CTX_FPUCW");
_Static_assert(sizeof(green__context) == 64, "CTX_SIZE");

#elif defined(__aarch64__)
typedef struct {
  uint64_t x[10];     /* x19..x28 */
  uint64_t fp, lr;    /* x29, x30: lr is where the context resumes */
  uint64_t sp;
  uint64_t d[8];      /* d8..d15, the low halves of v8..v15 */
  uint64_t fpcr;
} green__context;
_Static_assert(offsetof(green__context, x) == 0, "CTX_X19");
_Static_assert(offsetof(green__context, fp) == 80, "CTX_FP");
_Static_assert(offsetof(green__context, lr) == 88, "CTX_LR");
_Static_assert(offsetof(green__context, sp) == 96, "CTX_SP");
_Static_assert(offsetof(green__context, d) == 104, "CTX_D8");
_Static_assert(offsetof(green__context, fpcr) == 168, "CTX_FPCR");
_Static_assert(sizeof(green__context) == 176, "CTX_SIZE");

#else
#  error "no assembly switch for this architecture: build with SWITCH=ucontext"
#endif

/* Prepare ctx so that switching to it calls entry(arg) on the stack
   [stack_lo, stack_lo + size). entry must never return. */
void green__context_init(green__context *ctx, void *stack_lo, size_t size,
                         void (*entry)(void *), void *arg);

void green__switch(green__context *from, green__context *to);

#endif
