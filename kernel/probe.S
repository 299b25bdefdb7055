/*
 * Probes: each performs one access that may fault.  A data probe's access is
 * its first instruction, so the handler resumes a faulting probe at ELR + 4 (its
 * `ret`, or the move of its result); the fetch probe's target returns through x30, so the
 * handler resumes a faulting fetch at the saved x30 (exception.c).
 *
 * x0 = va, x1 = value to store; returns the loaded value or PAR_EL1 in x0.
 */
	.arch armv8.3-a         /* FEAT_LSE atomics, FEAT_LRCPC's LDAPR (a step runs one only where the CPU has it) */
#include "sysreg.h"
#include "accesses.h"

/*
 * A Guarded Control Stack probe (FEAT_GCS): the Guarded Control Stack is enabled at EL1 (x2: GCSCR_EL1 with
 * PCRSEL) around its one instruction alone, since the kernel's own BL and RET would push to it and check
 * against it: a faulting one resumes at the write that puts GCSCR_EL1 back (x3), and the vectors turn it off
 * before the handler's first BL (vectors.S, gcs_step_gcscr; steps.c sets GCSPR_EL1).
 */
.macro gcs_probe name, insn:vararg
	.global probe_\name
	.type probe_\name, %function
probe_\name:
	mrs	x3, GCSCR_EL1
	msr	GCSCR_EL1, x2
	isb
	\insn
	msr	GCSCR_EL1, x3
	isb
	ret
.endm

/*
 * A GCS exception return record probe (GCSPUSHX, GCSPOPCX, GCSPOPX; EL1's only): as gcs_probe, with the
 * registers the record holds set first, ELR_EL1 to x1, SPSR_EL1 to GCS_EX_SPSR and LR to ~x1 (the kernel's
 * own LR kept in x5, which the handler's frame restores on a fault).
 */
.macro gcs_ex_probe name, insn:vararg
	.global probe_\name
	.type probe_\name, %function
probe_\name:
	mrs	x3, GCSCR_EL1
	msr	ELR_EL1, x1
	mov	x4, #GCS_EX_SPSR
	msr	SPSR_EL1, x4
	mov	x5, x30
	mvn	x30, x1
	msr	GCSCR_EL1, x2
	isb
	\insn
	msr	GCSCR_EL1, x3
	isb
	mov	x30, x5
	ret
.endm

	.section .text.probes, "ax"
	.global __probes_start
__probes_start:
	access_probes probe_, ret
	/* EL1's unprivileged forms (no EL0 twin) */
	access_probe probe_, ret, ldtr64, x0, ldtr x0, [x0]
	access_probe probe_, ret, sttr64, x0, sttr x1, [x0]
	/* DC ZVA: a write of zeros to the block (C5.3.38); EL0's is el0.S's */
	access_probe probe_, ret, dc_zva, x0, dc zva, x0
	/* Cache maintenance by VA (C5.3.21, .25, .37, .41): translated, nothing moved (EL0's in el0.S) */
	access_probe probe_, ret, dc_civac, x0, dc civac, x0
	access_probe probe_, ret, dc_cvac, x0, dc cvac, x0
	access_probe probe_, ret, dc_ivac, x0, dc ivac, x0
	access_probe probe_, ret, ic_ivau, x0, ic ivau, x0
	/* FEAT_GCS: GCSSTTR x1, [x0], EL1's unprivileged form, by its encoding (C6.2.170; GCSSTR in accesses.h) */
	access_probe probe_, ret, gcssttr, x0, .inst GCSSTTR_X1_X0
	/* FEAT_GCS: GCSPUSHM x1 and GCSPOPM x0 (SYS and SYSL #3, C7, C7, #0 and #1: C5.9.4, C5.9.2) */
	gcs_probe gcspushm, sys #3, c7, c7, #0, x1
	gcs_probe gcspopm, sysl x0, #3, c7, c7, #1
	gcs_probe gcsss1, sys #3, c7, c7, #2, x0        /* GCSSS1 x0 (C5.9.6) */
	gcs_probe gcsss2, sysl x0, #3, c7, c7, #3       /* GCSSS2 x0 (C5.9.7) */
	/* GCSPUSHX, GCSPOPX, GCSPOPCX (SYS #0, C7, C7, #4, #6, #5 with Rt 0b11111: C5.9.5, C5.9.3, C5.9.1) */
	gcs_ex_probe gcspushx, sys #0, c7, c7, #4
	gcs_ex_probe gcspopx, sys #0, c7, c7, #6
	gcs_ex_probe gcspopcx, sys #0, c7, c7, #5
	.global __probes_end
__probes_end:

/* Address translation instructions report through PAR_EL1; the few aborts an AT takes
 * (a synchronous External abort on its walk: AArch64.AT_S1Ex) resume at the isb, as a
 * data probe's do, and the step records the fault. */
.macro at_probe name, insn:vararg
	.global \name
	.type \name, %function
\name:
	\insn
	isb
	mrs	x0, par_el1
	ret
.endm

	.global __at_probes_start
__at_probes_start:
	at_probe probe_at_s1e1r, at s1e1r, x0
	at_probe probe_at_s1e1w, at s1e1w, x0
	at_probe probe_at_s1e0r, at s1e0r, x0
	at_probe probe_at_s1e0w, at s1e0w, x0
	/* FEAT_PAN2's AT S1E1RP/S1E1WP, which honour PSTATE.PAN, by their SYS encoding (op1 0, C7, C9, op2 0/1). */
	at_probe probe_at_s1e1rp, sys #0, c7, c9, #0, x0
	at_probe probe_at_s1e1wp, sys #0, c7, c9, #1, x0
	/* EL2's own, run at EL2 (a case with regime.el2 or regime.el20) */
	at_probe probe_at_s1e2r, at s1e2r, x0
	at_probe probe_at_s1e2w, at s1e2w, x0
	/* FEAT_ATS1A's AT S1E1A and S1E2A (no permission checks) by their SYS encoding (op1 0 and 4, C7, C9, op2 2):
	 * an Armv8.0 assembler takes it. */
	at_probe probe_at_s1e1a, sys #0, c7, c9, #2, x0
	at_probe probe_at_s1e2a, sys #4, c7, c9, #2, x0
	.global __at_probes_end
__at_probes_end:

	.global probe_fetch
	.type probe_fetch, %function
probe_fetch:
	stp	x29, x30, [sp, #-16]!
	blr	x0
	.global probe_fetch_return      /* where a fetch that faults at stage 2 resumes (el2.c) */
probe_fetch_return:
	ldp	x29, x30, [sp], #16
	ret
