/*
 * Entry: QEMU starts us at EL1 (or EL2 with virtualization=on) with the MMU
 * off.  At EL2, install EL2's vectors and stack (el2_vectors.S) and ask
 * el2_boot_hcr (cmdline.c) where this boot runs its cases: in a `+vhe` boot the
 * kernel stays at EL2 with HCR_EL2.E2H = TGE = 1 (the EL2&0 regime, whose
 * *_EL1 register names reach the *_EL2 registers from EL2, so the code
 * below and the kernel's are the same at either EL); otherwise drop to
 * EL1h.  Then give the kernel two stacks and go to C.
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
	b.ne	kernel_entry
	/*
	 * EL2: keep it for stage 2 (el2.c): its vectors and stack; EL1 is
	 * AArch64, no stage 2 until a case asks; return to kernel_entry in EL1h
	 * (or, in a +vhe boot, go there at EL2).
	 * el2_boot_hcr is C on EL2's stack with the MMU off; it writes no
	 * memory but the command-line buffer, which kernel_main reads again.
	 */
	adr	x0, el2_vectors
	msr	vbar_el2, x0
	ldr	x0, =el2_stack_top
	mov	sp, x0
	bl	el2_boot_traps
	bl	el2_boot_hcr
	cbz	x0, 3f
	msr	hcr_el2, x0             /* E2H takes effect for what follows: the redirections */
	isb
	b	kernel_entry
3:	mov	x0, #HCR_RW
	msr	hcr_el2, x0
	mov	x0, #SPSR_EL1H_MASKED
	msr	spsr_el2, x0
	adr	x0, kernel_entry
	msr	elr_el2, x0
	isb
	eret

/* At the kernel's EL: in a +vhe boot VBAR_EL1 and SP_EL1 are VBAR_EL2 and SP_EL2 (E2H). */
kernel_entry:
	mov	x0, #CPACR_FPEN
	msr	cpacr_el1, x0
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
