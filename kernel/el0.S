/*
 * Steps that run at EL0.
 *
 * The EL0 probes live in a page of their own (.el0.text, linker/kernel.ld),
 * which tables.c maps read-only and EL0-executable at EL0_CODE_VA (layout.h):
 * each does its one access and returns to the kernel with SVC, the loaded
 * value (or the fetch stub's) in x0.  A fault in the access, or any other
 * exception, is taken to EL1 from the lower EL and ends the step the same
 * way (exception.c, el0_step_exception).
 *
 * el0_call(entry, va, value, spsr, second) enters EL0 at entry with x0 = va,
 * x1 = value, x2 = second by ERET (spsr: EL0t, interrupts masked; el0.c) and returns
 * EL0's x0.  The kernel stack pointer and the resume address are kept in
 * el0_context for the handler, which returns here by an ERET to el0_return
 * at EL1t.
 */
	.arch armv8.3-a         /* FEAT_LSE atomics, FEAT_LRCPC's LDAPR */
#include "sysreg.h"
#include "accesses.h"

	.section .el0.text, "ax"
	access_probes el0_, "svc #0"
	/* FEAT_GCS: GCSPUSHM x1 and GCSPOPM x0 (C5.9.4, C5.9.2), with GCSCRE0_EL1.PCRSEL set for the step (steps.c) */
	access_probe el0_, "svc #0", gcspushm, x0, sys #3, c7, c7, #0, x1
	access_probe el0_, "svc #0", gcspopm, x0, sysl x0, #3, c7, c7, #1
	access_probe el0_, "svc #0", gcsss1, x0, sys #3, c7, c7, #2, x0      /* GCSSS1 x0 (C5.9.6) */
	access_probe el0_, "svc #0", gcsss2, x0, sysl x0, #3, c7, c7, #3     /* GCSSS2 x0 (C5.9.7) */
	/* Cache maintenance by VA (C5.3.21, .25, .41), which SCTLR_EL1.UCI (mmu.c) lets EL0 execute (DC IVAC: UNDEFINED) */
	access_probe el0_, "svc #0", dc_civac, x0, dc civac, x0
	access_probe el0_, "svc #0", dc_cvac, x0, dc cvac, x0
	access_probe el0_, "svc #0", ic_ivau, x0, ic ivau, x0
	/* DC ZVA (C5.3.38), which SCTLR_EL1.DZE (REGIME_DZE) lets EL0 execute; trapped (EC 0x18) otherwise */
	access_probe el0_, "svc #0", dc_zva, x0, dc zva, x0
	/* The target's stub (probe.h) returns here through x30. */
	access_probe el0_, "svc #0", fetch, x0, blr x0
	/* Self-test: an EL0 step that never returns. */
	.global selftest_hang_el0
	.type selftest_hang_el0, %function
selftest_hang_el0:
	b	selftest_hang_el0

	.text
	.global el0_call
	.type el0_call, %function
el0_call:
	stp	x29, x30, [sp, #-96]!
	stp	x19, x20, [sp, #16]
	stp	x21, x22, [sp, #32]
	stp	x23, x24, [sp, #48]
	stp	x25, x26, [sp, #64]
	stp	x27, x28, [sp, #80]
	adrp	x9, el0_context             /* PC-relative: works from the TTBR1 alias too */
	add	x9, x9, :lo12:el0_context
	mov	x10, sp
	adr	x11, el0_return
	stp	x10, x11, [x9]
	msr	elr_el1, x0
	msr	spsr_el1, x3
	mov	x0, x1
	mov	x1, x2
	mov	x2, x4
	eret

el0_return:
	adrp	x9, el0_context
	add	x9, x9, :lo12:el0_context
	ldr	x10, [x9]
	mov	sp, x10
	ldp	x19, x20, [sp, #16]
	ldp	x21, x22, [sp, #32]
	ldp	x23, x24, [sp, #48]
	ldp	x25, x26, [sp, #64]
	ldp	x27, x28, [sp, #80]
	ldp	x29, x30, [sp], #96
	ret
