/*
 * EL2's vectors (VBAR_EL2, set by start.S when QEMU starts the kernel at
 * EL2).  EL2 runs no code of its own but these: HVC calls from the EL1
 * kernel (hvc.h) and the stage 2 faults of its probes arrive at the "lower
 * EL, AArch64" synchronous vector; anything else is unexpected.  Every entry
 * saves a full frame (struct frame, with ELR/SPSR/ESR_EL2) on SP_EL2 and
 * calls el2_handle(frame, vector), which may change the frame's x0-x3 (HVC
 * results) and ELR (a probe resumed).
 */
#define FRAME_SIZE (34 * 8)        /* sizeof(struct frame) */

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
	stp	x2, x3, [sp, #16 * 1]
	stp	x4, x5, [sp, #16 * 2]
	stp	x6, x7, [sp, #16 * 3]
	stp	x8, x9, [sp, #16 * 4]
	stp	x10, x11, [sp, #16 * 5]
	stp	x12, x13, [sp, #16 * 6]
	stp	x14, x15, [sp, #16 * 7]
	stp	x16, x17, [sp, #16 * 8]
	stp	x18, x19, [sp, #16 * 9]
	stp	x20, x21, [sp, #16 * 10]
	stp	x22, x23, [sp, #16 * 11]
	stp	x24, x25, [sp, #16 * 12]
	stp	x26, x27, [sp, #16 * 13]
	stp	x28, x29, [sp, #16 * 14]
	mrs	x2, elr_el2
	stp	x30, x2, [sp, #16 * 15]
	mrs	x2, spsr_el2
	mrs	x3, esr_el2
	stp	x2, x3, [sp, #16 * 16]
	mov	x0, sp
	bl	el2_handle
	ldp	x30, x2, [sp, #16 * 15]
	msr	elr_el2, x2
	ldp	x0, x1, [sp, #16 * 0]
	ldp	x2, x3, [sp, #16 * 1]
	ldp	x4, x5, [sp, #16 * 2]
	ldp	x6, x7, [sp, #16 * 3]
	ldp	x8, x9, [sp, #16 * 4]
	ldp	x10, x11, [sp, #16 * 5]
	ldp	x12, x13, [sp, #16 * 6]
	ldp	x14, x15, [sp, #16 * 7]
	ldp	x16, x17, [sp, #16 * 8]
	ldp	x18, x19, [sp, #16 * 9]
	ldp	x20, x21, [sp, #16 * 10]
	ldp	x22, x23, [sp, #16 * 11]
	ldp	x24, x25, [sp, #16 * 12]
	ldp	x26, x27, [sp, #16 * 13]
	ldp	x28, x29, [sp, #16 * 14]
	add	sp, sp, #FRAME_SIZE
	eret

	.section .bss
	.balign 16
	.global el2_stack_top
	.space	8192
el2_stack_top:
