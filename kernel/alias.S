/*
 * run_in_alias(offset, enter, leave, fn, arg): call fn(arg) from the kernel's
 * TTBR1 alias (layout.h) with the case's TCR_EL1 and TTBR0_EL1 in force.
 *
 * The caller has enabled the MMU with a transition regime: the kernel's
 * identity map in TTBR0 (T0SZ = 16) and the case's TTBR1 tables, which hold
 * the alias.  Here the PC, both stacks and VBAR_EL1 move to the alias, the
 * case's TTBR0 side goes in, fn runs, and everything is undone in reverse.
 * The TTBR1 side of TCR_EL1 is the same in both regimes, so the code running
 * from the alias keeps its translation throughout.
 *
 * x0 = offset (alias VA - PA), x1 = enter {tcr, ttbr0}, x2 = leave {tcr, ttbr0},
 * x3 = fn (alias address), x4 = arg (alias address).
 */
.macro switch_ttbr0 regs
	ldp	x9, x10, [\regs]
	msr	tcr_el1, x9
	msr	ttbr0_el1, x10
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
.endm

	.text
	.global run_in_alias
	.type run_in_alias, %function
run_in_alias:
	stp	x29, x30, [sp, #-32]!
	stp	x19, x20, [sp, #16]
	mov	x19, x0
	add	x20, x2, x19                /* leave, as seen from the alias */
	add	x1, x1, x19

	mrs	x9, vbar_el1
	add	x9, x9, x19
	msr	vbar_el1, x9
	add	sp, sp, x19                 /* SP_EL0: the kernel stack */
	msr	spsel, #1
	add	sp, sp, x19                 /* SP_EL1: the exception stack */
	msr	spsel, #0
	adr	x9, 1f
	add	x9, x9, x19
	br	x9
1:	switch_ttbr0 x1
	mov	x0, x4
	blr	x3
	switch_ttbr0 x20
	adr	x9, 2f
	sub	x9, x9, x19
	br	x9
2:	msr	spsel, #1
	sub	sp, sp, x19
	msr	spsel, #0
	sub	sp, sp, x19
	mrs	x9, vbar_el1
	sub	x9, x9, x19
	msr	vbar_el1, x9
	isb
	ldp	x19, x20, [sp, #16]
	ldp	x29, x30, [sp], #32
	ret
