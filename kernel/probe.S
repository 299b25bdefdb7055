/*
 * Probes: each performs one access that may fault.  A data probe's access is
 * the instruction just before its `ret`, so the handler resumes a faulting
 * probe at ELR + 4; the fetch probe's target returns through x30, so the
 * handler resumes a faulting fetch at the saved x30 (exception.c).
 *
 * x0 = va, x1 = value to store; returns the loaded value or PAR_EL1 in x0.
 */
	.arch armv8.1-a         /* the FEAT_LSE atomics (a step runs one only where the CPU has them) */
#include "sysreg.h"
.macro probe name, insn:vararg
	.global \name
	.type \name, %function
\name:
	\insn
	ret
.endm

/* A probe whose access leaves its result in \result, moved to x0 (a faulting access resumes at the move). */
.macro probe_result name, result, insn:vararg
	.global \name
	.type \name, %function
\name:
	\insn
	mov	x0, \result
	ret
.endm

	.section .text.probes, "ax"
	.global __probes_start
__probes_start:
	probe probe_load8,  ldrb w0, [x0]
	probe probe_load16, ldrh w0, [x0]
	probe probe_load32, ldr w0, [x0]
	probe probe_load64, ldr x0, [x0]
	probe probe_store8,  strb w1, [x0]
	probe probe_store16, strh w1, [x0]
	probe probe_store32, str w1, [x0]
	probe probe_store64, str x1, [x0]
	probe probe_ldtr64, ldtr x0, [x0]
	probe probe_sttr64, sttr x1, [x0]
	/* Pairs: x0 = va, the registers stored x1 and x2; a load returns its two in x0 and x1. */
	probe probe_ldp32, ldp w0, w1, [x0]
	probe probe_ldp64, ldp x0, x1, [x0]
	probe probe_stp32, stp w1, w2, [x0]
	probe probe_stp64, stp x1, x2, [x0]
	probe probe_ldar64, ldar x0, [x0]
	probe probe_stlr64, stlr x1, [x0]
	probe probe_ldxr64, ldxr x0, [x0]
	probe probe_ldaxr64, ldaxr x0, [x0]
	/* FEAT_LSE: the old contents to x0 (through x3 and x2: no register both address and result). */
	probe_result probe_ldadd64, x3, ldadd x1, x3, [x0]
	probe_result probe_swp64, x3, swp x1, x3, [x0]
	probe_result probe_cas64, x2, cas x2, x1, [x0]
	/* FEAT_GCS: GCSSTR x1, [x0] and GCSSTTR x1, [x0] by their encodings (C6.2.169, C6.2.170). */
	probe probe_gcsstr, .inst GCSSTR_X1_X0
	probe probe_gcssttr, .inst GCSSTTR_X1_X0
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
