/*
 * The exception frame (struct frame in exception.h), saved and restored by
 * the EL1 vectors (vectors.S) and the EL2 ones (el2_vectors.S) alike: el is
 * the EL whose ELR, SPSR and ESR the frame holds.
 */
#ifndef MMUT_FRAME_MACROS_H
#define MMUT_FRAME_MACROS_H

#define FRAME_SIZE (34 * 8)        /* sizeof(struct frame) */

/* Save x2-x30, ELR, SPSR, ESR above x0/x1, which the vector entry saved. */
.macro save_frame el
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
	mrs	x2, elr_el\el
	stp	x30, x2, [sp, #16 * 15]
	mrs	x2, spsr_el\el
	mrs	x3, esr_el\el
	stp	x2, x3, [sp, #16 * 16]
.endm

/* Restore the frame (the handler may have changed ELR and SPSR) and return from the exception. */
.macro restore_frame_eret el
	ldp	x2, x3, [sp, #16 * 16]
	msr	spsr_el\el, x2
	ldp	x30, x2, [sp, #16 * 15]
	msr	elr_el\el, x2
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
.endm

#endif
