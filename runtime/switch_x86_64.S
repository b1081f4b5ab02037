/*
** switch_x86_64.S: greenlet context switch for the x86-64 System V ABI.
**
** Saved slots of green__context (context.h checks the same offsets):
**
**   offset  slot    why it is saved
**   0       rsp     stack pointer; (rsp) holds the address to resume at
**   8       rbx     callee-saved
**   16      rbp     callee-saved
**   24      r12     callee-saved; entry function of a new context
**   32      r13     callee-saved; its argument
**   40      r14     callee-saved
**   48      r15     callee-saved
**   56      mxcsr   SSE control bits are callee-saved (rounding, DAZ, FTZ)
**   60      fpucw   x87 control word is callee-saved
**
** Everything else is caller-saved, so the C caller has already spilled it.
** The switch resumes with `ret`, not an indirect jump, so resume points need
** no endbr64 under IBT.
*/

#define CTX_RSP    0
#define CTX_RBX    8
#define CTX_RBP    16
#define CTX_R12    24
#define CTX_R13    32
#define CTX_R14    40
#define CTX_R15    48
#define CTX_MXCSR  56
#define CTX_FPUCW  60

        .text

/* void green__switch(green__context *from (rdi), green__context *to (rsi)) */
        .globl  green__switch
        .hidden green__switch
        .type   green__switch, @function
        .p2align 4
green__switch:
        .cfi_startproc
        endbr64
        movq    %rsp, CTX_RSP(%rdi)
        movq    %rbx, CTX_RBX(%rdi)
        movq    %rbp, CTX_RBP(%rdi)
        movq    %r12, CTX_R12(%rdi)
        movq    %r13, CTX_R13(%rdi)
        movq    %r14, CTX_R14(%rdi)
        movq    %r15, CTX_R15(%rdi)
        stmxcsr CTX_MXCSR(%rdi)
        fnstcw  CTX_FPUCW(%rdi)

        movq    CTX_RBX(%rsi), %rbx
        movq    CTX_RBP(%rsi), %rbp
        movq    CTX_R12(%rsi), %r12
        movq    CTX_R13(%rsi), %r13
        movq    CTX_R14(%rsi), %r14
        movq    CTX_R15(%rsi), %r15
        ldmxcsr CTX_MXCSR(%rsi)
        fldcw   CTX_FPUCW(%rsi)
        movq    CTX_RSP(%rsi), %rsp
        ret
        .cfi_endproc
        .size   green__switch, .-green__switch

/*
** First code of every greenlet, reached by green__switch's `ret` with rsp
** 16-byte aligned, so the call below gives the entry function the alignment
** the ABI promises (rsp + 8 a multiple of 16). rip is marked undefined so
** debuggers and profilers end the backtrace here.
*/
        .globl  green__trampoline
        .hidden green__trampoline
        .type   green__trampoline, @function
        .p2align 4
green__trampoline:
        .cfi_startproc
        .cfi_undefined rip
        endbr64
        xorl    %ebp, %ebp
        movq    %r13, %rdi
        callq   *%r12
        /* The entry function returned, and there is no frame to return to. */
        callq   green__context_returned
        ud2
        .cfi_endproc
        .size   green__trampoline, .-green__trampoline

/* No executable stack. */
        .section .note.GNU-stack, "", @progbits

/*
** CET property: IBT (every function entry above is an endbr64). SHSTK is
** deliberately not claimed: with shadow stacks enforced, each greenlet would
** need its own shadow stack and a token switch, which this file does not do.
*/
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                   /* name size */
        .long   16                  /* descriptor size */
        .long   5                   /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002          /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4
        .long   1                   /* GNU_PROPERTY_X86_FEATURE_1_IBT */
        .p2align 3
