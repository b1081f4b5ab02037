/*
** switch_aarch64.S: greenlet context switch for AAPCS64.
**
** The switch stores a green__frame below the current stack pointer, saves
** the stack pointer, loads the other one and restores its frame. Slots,
** from the saved stack pointer up (context.h checks the same offsets):
**
**   offset  slot        why it is saved
**   0       d8..d15     low 64 bits of v8..v15 are callee-saved
**   64      x19..x28    callee-saved; x19 and x20 carry a new context's
**                       entry function and argument
**   144     x29 (fp)    callee-saved frame pointer
**   152     x30 (lr)    where the context resumes
**   160     fpcr        floating-point control (rounding, flush-to-zero)
**   168     unused      keeps the frame a multiple of 16 bytes
**
** Resuming with `ret`, which BTI does not check, means resume points need
** no landing pad. A new context is entered, and a finished one left, with
** a branch instead, for the reason switch_x86_64.S gives: a `ret` that no
** call matches would leave every later return mispredicted.
*/

#define FRAME_D8     0
#define FRAME_X19    64
#define FRAME_FP     144
#define FRAME_FPCR   160
#define FRAME_SIZE   176

        .text

/* void green__switch(green__context *from (x0), green__context *to (x1)) */
        .globl  green__switch
        .hidden green__switch
        .type   green__switch, %function
        .p2align 4
green__switch:
        .cfi_startproc
        hint    #34                 /* bti c */
        sub     sp, sp, #FRAME_SIZE
        stp     d8, d9, [sp, #FRAME_D8 + 0]
        stp     d10, d11, [sp, #FRAME_D8 + 16]
        stp     d12, d13, [sp, #FRAME_D8 + 32]
        stp     d14, d15, [sp, #FRAME_D8 + 48]
        stp     x19, x20, [sp, #FRAME_X19 + 0]
        stp     x21, x22, [sp, #FRAME_X19 + 16]
        stp     x23, x24, [sp, #FRAME_X19 + 32]
        stp     x25, x26, [sp, #FRAME_X19 + 48]
        stp     x27, x28, [sp, #FRAME_X19 + 64]
        stp     x29, x30, [sp, #FRAME_FP]
        mrs     x9, fpcr
        str     x9, [sp, #FRAME_FPCR]
        mov     x9, sp
        str     x9, [x0]

        ldr     x9, [x1]
        mov     sp, x9
.Lresume:                           /* sp: the frame of the context to run */
        ldp     d8, d9, [sp, #FRAME_D8 + 0]
        ldp     d10, d11, [sp, #FRAME_D8 + 16]
        ldp     d12, d13, [sp, #FRAME_D8 + 32]
        ldp     d14, d15, [sp, #FRAME_D8 + 48]
        ldp     x19, x20, [sp, #FRAME_X19 + 0]
        ldp     x21, x22, [sp, #FRAME_X19 + 16]
        ldp     x23, x24, [sp, #FRAME_X19 + 32]
        ldp     x25, x26, [sp, #FRAME_X19 + 48]
        ldp     x27, x28, [sp, #FRAME_X19 + 64]
        ldp     x29, x30, [sp, #FRAME_FP]
        ldr     x9, [sp, #FRAME_FPCR]
        msr     fpcr, x9
        add     sp, sp, #FRAME_SIZE
        adr     x9, green__trampoline
        cmp     x30, x9
        b.eq    green__trampoline   /* a new context: branch, do not return */
        ret
        .cfi_endproc
        .size   green__switch, .-green__switch

/*
** First code of every greenlet, reached from green__switch with sp at the
** 16-byte aligned top of the new stack. x30 is marked undefined so
** debuggers and profilers end the backtrace here. The entry returns the
** context to resume; this one is finished and is not saved.
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
        cbz     x0, 1f
        ldr     x9, [x0]
        mov     sp, x9
        b       .Lresume
1:      bl      green__context_returned
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
