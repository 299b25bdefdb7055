/*
 * Exception vectors.  Every entry saves a full frame (struct frame in
 * exception.h) and calls handle_exception(frame, vector); the handler may
 * change the saved ELR to resume a probe at its fixup.
 *
 * Kernel code runs on SP_EL0 (start.S), so an exception from it arrives at
 * the "current EL, SP0" vectors with SP_EL1 as its stack, and an exception
 * inside the handler arrives at the "current EL, SPx" vectors: nesting is
 * told apart by the hardware, not by a flag the fault may have corrupted.
 */
#include "exit_status.h"
#include "frame_macros.h"
#include "sysreg.h"


/* Exceptions from kernel code: a probe's fault, or an unexpected one. */
.macro entry_sp0 vector
	.balign 0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp]
	mov	x1, #\vector
	b	exception_sp0
.endm

/* The handler is running: report from a stack of its own. */
.macro entry_spx vector
	.balign 0x80
	msr	tpidr_el1, x0
	mov	x0, #\vector
	b	exception_spx
.endm

	.section .text.vectors, "ax"
	.balign 0x800
	.global vectors
vectors:
	entry_sp0 0     /* current EL, SP0: sync, IRQ, FIQ, SError */
	entry_sp0 1
	entry_sp0 2
	entry_sp0 3
	entry_spx 4     /* current EL, SPx: nested */
	entry_spx 5
	entry_spx 6
	entry_spx 7
	entry_sp0 8     /* lower EL, AArch64: the end of an EL0 step (el0.c), else unexpected */
	entry_sp0 9
	entry_sp0 10
	entry_sp0 11
	entry_sp0 12    /* lower EL, AArch32 */
	entry_sp0 13
	entry_sp0 14
	entry_sp0 15

exception_sp0:
	save_frame 1
	/* A GCSPUSHM, GCSPOPM or GCSSS1 step runs with the Guarded Control Stack on at EL1 (probe.S gcs_probe): off
	 * before the handler's first BL, which would push to it (gcs_step_gcscr: GCSCR_EL1 without PCRSEL). */
	adrp	x2, gcs_step_gcscr
	ldr	x2, [x2, :lo12:gcs_step_gcscr]
	cbz	x2, 1f
	msr	GCSCR_EL1, x2
	isb
1:	mov	x0, sp
	bl	handle_exception
	restore_frame_eret 1

/*
 * x0 = vector, the interrupted x0 in TPIDR_EL1.  TPIDR_EL0 counts entries
 * here: a second one means even reporting failed, so stop at once with the
 * status that says so.
 */
exception_spx:
	msr	tpidrro_el0, x1
	mrs	x1, tpidr_el0
	cbnz	x1, nested_twice
	mov	x1, #1
	msr	tpidr_el0, x1
	adrp	x1, nested_stack_top        /* PC-relative: works from the TTBR1 alias too */
	add	x1, x1, :lo12:nested_stack_top
	mov	sp, x1
	sub	sp, sp, #FRAME_SIZE
	mrs	x1, tpidr_el1
	str	x1, [sp, #0]
	mrs	x1, tpidrro_el0
	str	x1, [sp, #8]
	mov	x1, x0
	save_frame 1
	mov	x0, sp
	bl	handle_exception        /* reports and exits */
nested_twice:
	mov	w0, #EXIT_NESTED_TWICE
	bl	semihost_exit
	b	.

	.section .bss
	.balign 16
	.space	4096
nested_stack_top:
