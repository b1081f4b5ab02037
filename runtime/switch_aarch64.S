/*
** switch_aarch64.S: greenlet context switch for AAPCS64.
**
** Saved slots of green__context (context.h checks the same offsets):
**
**   offset  slot        why it is saved
**   0       x19..x28    callee-saved; x19 and x20 carry a new context's
**                       entry function and argument
**   80      x29 (fp)    callee-saved frame pointer
**   88      x30 (lr)    where the context resumes
**   96      sp          stack pointer
**   104     d8..d15     low 64 bits of v8..v15 are callee-saved
**   168     fpcr        floating-point control (rounding, flush-to-zero)
**
** The switch resumes with `ret`, which BTI does not check.
*/

#define CTX_X19    0
#define CTX_FP     80
#define CTX_SP     96
#define CTX_D8     104
#define CTX_FPCR   168

        .text

/* void green__switch(green__context *from (x0), green__context *to (x1)) */
        .globl  green__switch
        .hidden green__switch
        .type   green__switch, %function
        .p2align 4
green__switch:
        .cfi_startproc
        hint    #34                 /* bti c */
        stp     x19, x20, [x0, #CTX_X19 + 0]
        stp     x21, x22, [x0, #CTX_X19 + 16]
        stp     x23, x24, [x0, #CTX_X19 + 32]
        stp     x25, x26, [x0, #CTX_X19 + 48]
        stp     x27, x28, [x0, #CTX_X19 + 64]
        stp     x29, x30, [x0, #CTX_FP]
        mov     x9, sp
        str     x9, [x0, #CTX_SP]
        stp     d8, d9, [x0, #CTX_D8 + 0]
        stp     d10, d11, [x0, #CTX_D8 + 16]
        stp     d12, d13, [x0, #CTX_D8 + 32]
        stp     d14, d15, [x0, #CTX_D8 + 48]
        mrs     x9, fpcr
        str     x9, [x0, #CTX_FPCR]

        ldp     x19, x20, [x1, #CTX_X19 + 0]
        ldp     x21, x22, [x1, #CTX_X19 + 16]
        ldp     x23, x24, [x1, #CTX_X19 + 32]
        ldp     x25, x26, [x1, #CTX_X19 + 48]
        ldp     x27, x28, [x1, #CTX_X19 + 64]
        ldp     x29, x30, [x1, #CTX_FP]
        ldr     x9, [x1, #CTX_SP]
        mov     sp, x9
        ldp     d8, d9, [x1, #CTX_D8 + 0]
        ldp     d10, d11, [x1, #CTX_D8 + 16]
        ldp     d12, d13, [x1, #CTX_D8 + 32]
        ldp     d14, d15, [x1, #CTX_D8 + 48]
        ldr     x9, [x1, #CTX_FPCR]
        msr     fpcr, x9
        ret
        .cfi_endproc
        .size   green__switch, .-green__switch

/*
** First code of every greenlet, reached by green__switch's `ret` with sp at
** the 16-byte aligned top of the new stack. x30 is marked undefined so
** debuggers and profilers end the backtrace here.
*/
        .globl  green__trampoline
        .hidden green__trampoline
        .type   green__trampoline, %function
        .p2align 4
green__trampoline:
        .cfi_startproc
        .cfi_undefined x30
        hint    #34                 /* bti c */
        mov     x29, #0
        mov     x0, x20
        blr     x19
        /* The entry function returned, and there is no frame to return to. */
        bl      green__context_returned
        brk     #0
        .cfi_endproc
        .size   green__trampoline, .-green__trampoline

/* No executable stack. */
        .section .note.GNU-stack, "", %progbits

/* BTI property: both entry points above start with a landing pad. */
        .section .note.gnu.property, "a"
        .p2align 3
        .long   4                   /* name size */
        .long   16                  /* descriptor size */
        .long   5                   /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000          /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4
        .long   1                   /* GNU_PROPERTY_AARCH64_FEATURE_1_BTI */
        .p2align 3
