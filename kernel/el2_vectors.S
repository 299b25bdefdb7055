/*
 * EL2's vectors (VBAR_EL2, set by start.S when QEMU starts the kernel at
 * EL2).  EL2 runs no code of its own but these: HVC calls from the EL1
 * kernel (hvc.h) and the stage 2 faults of its probes arrive at the "lower
 * EL, AArch64" synchronous vector; anything else is unexpected.  Every entry
 * saves a full frame (struct frame, with ELR/SPSR/ESR_EL2) on SP_EL2 and
 * calls el2_handle(frame, vector), which may change the frame's x0-x3 (HVC
 * results) and ELR (a probe resumed).
 */
#include "frame_macros.h"

.macro el2_entry vector
	.balign 0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp]
	mov	x1, #\vector
	b	el2_exception
.endm

	.section .text.vectors, "ax"
	.balign 0x800
	.global el2_vectors
el2_vectors:
	el2_entry 0     /* current EL, SP0 */
	el2_entry 1
	el2_entry 2
	el2_entry 3
	el2_entry 4     /* current EL, SPx: EL2 itself faulted */
	el2_entry 5
	el2_entry 6
	el2_entry 7
	el2_entry 8     /* lower EL, AArch64: HVC calls and stage 2 faults */
	el2_entry 9
	el2_entry 10
	el2_entry 11
	el2_entry 12    /* lower EL, AArch32 */
	el2_entry 13
	el2_entry 14
	el2_entry 15

el2_exception:
	save_frame 2
	mov	x0, sp
	bl	el2_handle
	restore_frame_eret 2

	.section .bss
	.balign 16
	.global el2_stack_top
	.space	8192
el2_stack_top:
