/*
 * Entry: QEMU starts us at EL1 (or EL2 with virtualization=on) with the MMU
 * off.  At EL2, install EL2's vectors and stack (el2_vectors.S); drop to
 * EL1h, give the kernel two stacks and go to C.
 *
 * Kernel code runs on SP_EL0 (SPSel = 0); exceptions switch to SP_EL1.  So an
 * exception from kernel code arrives at the "current EL, SP0" vectors and an
 * exception inside the handler at the "current EL, SPx" vectors: nesting is
 * told apart by the hardware, not by a flag the fault may have corrupted.
 */
#include "exit_status.h"
#include "sysreg.h"

	.section .text.boot, "ax"
	.global _start
_start:
	mrs	x19, CurrentEL          /* kept for kernel_main(boot_el) */
	lsr	x19, x19, #2
	cmp	x19, #2
	b.ne	el1_entry
	/*
	 * EL2: keep it for stage 2 (el2.c): its vectors and stack; EL1 is
	 * AArch64, no stage 2 until a case asks; return to el1_entry in EL1h.
	 */
	adr	x0, el2_vectors
	msr	vbar_el2, x0
	ldr	x0, =el2_stack_top
	mov	sp, x0
	mov	x0, #HCR_RW
	msr	hcr_el2, x0
	mov	x0, #SPSR_EL1H_MASKED
	msr	spsr_el2, x0
	adr	x0, el1_entry
	msr	elr_el2, x0
	isb
	eret

el1_entry:
	adr	x0, vectors
	msr	vbar_el1, x0
	ldr	x0, =exception_stack_top
	mov	sp, x0
	msr	spsel, #0
	ldr	x0, =kernel_stack_top
	mov	sp, x0
	isb
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	mov	x0, x19
	bl	kernel_main
	b	semihost_exit           /* with kernel_main's status in w0 */
