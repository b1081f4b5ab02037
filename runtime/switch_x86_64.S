/*
** switch_x86_64.S: greenlet context switch for the x86-64 System V ABI.
**
** The switch pushes a green__frame onto the current stack, stores the stack
** pointer, loads the other one and pops its frame. Slots, from the saved
** stack pointer up (context.h checks the same offsets):
**
**   offset  slot    why it is saved
**   0       mxcsr   SSE control bits are callee-saved (rounding, DAZ, FTZ)
**   4       fpucw   x87 control word is callee-saved
**   8       r15     callee-saved
**   16      r14     callee-saved
**   24      r13     callee-saved; argument of a new context's entry
**   32      r12     callee-saved; a new context's entry function
**   40      rbx     callee-saved
**   48      rbp     callee-saved
**   56      return  where the context resumes (pushed by the call)
**
** Everything else is caller-saved, so the C caller has already spilled it.
** Resuming with `ret`, not an indirect jump, means resume points need no
** endbr64 under IBT.
**
** The CPU predicts each `ret` from a stack of the return addresses its calls
** pushed. A `ret` into a context's first instruction pops one that no call
** will match, and every return after it is then mispredicted; so a new
** context is entered with a jump instead. A finished context is left the
** same way: its entry returns to the trampoline, which loads the next
** context without a call. When a greenlet spawns another and waits for it,
** the spawner's own return addresses are then still on the CPU's stack when
** it resumes, and its returns are predicted.
*/

#define FRAME_MXCSR  0
#define FRAME_FPUCW  4
#define FRAME_SAVED  8      /* bytes below the pushed registers */

        .text

/* void green__switch(green__context *from (rdi), green__context *to (rsi)) */
        .globl  green__switch
        .hidden green__switch
        .type   green__switch, @function
        .p2align 4
green__switch:
        .cfi_startproc
        endbr64
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $FRAME_SAVED, %rsp
        stmxcsr FRAME_MXCSR(%rsp)
        fnstcw  FRAME_FPUCW(%rsp)
        movq    %rsp, (%rdi)

        movq    (%rsi), %rsp
.Lresume:                           /* rsp: the frame of the context to run */
        ldmxcsr FRAME_MXCSR(%rsp)
        fldcw   FRAME_FPUCW(%rsp)
        addq    $FRAME_SAVED, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        leaq    green__trampoline(%rip), %rax
        cmpq    %rax, (%rsp)
        je      .Lenter
        ret
.Lenter:                            /* a new context: jump, do not return */
        addq    $8, %rsp
        jmp     green__trampoline
        .cfi_endproc
        .size   green__switch, .-green__switch

/*
** First code of every greenlet, reached from green__switch with rsp 16-byte
** aligned, so the call below gives the entry function the alignment the ABI
** promises (rsp + 8 a multiple of 16). rip is marked undefined so debuggers
** and profilers end the backtrace here. The entry returns the context to
** resume; this one is finished and is not saved.
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
        testq   %rax, %rax
        jz      1f
        movq    (%rax), %rsp
        jmp     .Lresume
1:      callq   green__context_returned
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
