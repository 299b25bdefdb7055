/*
 * The data accesses that run at EL1 (or EL2) and at EL0 alike, for assembler sources
 * only: probe.S makes each a probe (probe_<name>, returning to the kernel by RET),
 * el0.S an EL0 probe (el0_<name>, returning by SVC), both by `access_probes`.
 *
 * x0 = va, x1 = value (the first register stored), x2 = second (a pair's second register,
 * CAS's compare value); a pair load's second register comes back in x1.  The atomics'
 * old contents go through x3 (CAS: x2), so no register is both address and result.
 */

/*
 * One probe, <prefix><name>: the access insn, its result moved to x0 (unless it is there
 * already), then exit.  The access is the probe's first instruction: a faulting probe
 * resumes at the next one (exception.c).
 */
.macro access_probe prefix, exit, name, result, insn:vararg
	.global \prefix\()\name
	.type \prefix\()\name, %function
\prefix\()\name:
	\insn
	.ifnc \result, x0
	mov	x0, \result
	.endif
	\exit
.endm

/* The FEAT_LSE atomics of one ordering (order: a, l, al or none). */
.macro access_atomics prefix, exit, order
	access_probe \prefix, \exit, ldadd\order\()64, x3, ldadd\order x1, x3, [x0]
	access_probe \prefix, \exit, swp\order\()64, x3, swp\order x1, x3, [x0]
	access_probe \prefix, \exit, cas\order\()64, x2, cas\order x2, x1, [x0]
.endm

/*
 * A SIMD&FP load or store of one register of `reg` (b, h, s, d or q), through v0: a load's register
 * comes back in x0 (low half) and x1 (high half; 0 but for a Q register); a store's register is x1
 * (low half) and x2 (high half).  A store's access is the probe's third instruction: a faulting one
 * resumes at the exit.
 */
.macro vector_load prefix, exit, name, reg
	.global \prefix\()\name
	.type \prefix\()\name, %function
\prefix\()\name:
	ldr	\reg\()0, [x0]
	fmov	x0, d0
	mov	x1, v0.d[1]
	\exit
.endm

.macro vector_store prefix, exit, name, reg
	.global \prefix\()\name
	.type \prefix\()\name, %function
\prefix\()\name:
	fmov	d0, x1
	mov	v0.d[1], x2
	str	\reg\()0, [x0]
	\exit
.endm

.macro access_probes prefix, exit
	access_probe \prefix, \exit, load8, x0, ldrb w0, [x0]
	access_probe \prefix, \exit, load16, x0, ldrh w0, [x0]
	access_probe \prefix, \exit, load32, x0, ldr w0, [x0]
	access_probe \prefix, \exit, load64, x0, ldr x0, [x0]
	access_probe \prefix, \exit, store8, x0, strb w1, [x0]
	access_probe \prefix, \exit, store16, x0, strh w1, [x0]
	access_probe \prefix, \exit, store32, x0, str w1, [x0]
	access_probe \prefix, \exit, store64, x0, str x1, [x0]
	access_probe \prefix, \exit, ldp32, x0, ldp w0, w1, [x0]
	access_probe \prefix, \exit, ldp64, x0, ldp x0, x1, [x0]
	access_probe \prefix, \exit, stp32, x0, stp w1, w2, [x0]
	access_probe \prefix, \exit, stp64, x0, stp x1, x2, [x0]
	access_probe \prefix, \exit, ldar64, x0, ldar x0, [x0]
	access_probe \prefix, \exit, stlr64, x0, stlr x1, [x0]
	access_probe \prefix, \exit, ldapr64, x0, ldapr x0, [x0]       /* FEAT_LRCPC */
	access_probe \prefix, \exit, ldxr64, x0, ldxr x0, [x0]
	access_probe \prefix, \exit, ldaxr64, x0, ldaxr x0, [x0]
	access_probe \prefix, \exit, ldxp32, x0, ldxp w0, w1, [x0]
	access_probe \prefix, \exit, ldxp64, x0, ldxp x0, x1, [x0]
	access_probe \prefix, \exit, ldaxp64, x0, ldaxp x0, x1, [x0]
	/* Store-exclusives: the status (0 written, 1 not) in w3, apart from the address and data (C6.2.370 STXR) */
	access_probe \prefix, \exit, stxr64, x3, stxr w3, x1, [x0]
	access_probe \prefix, \exit, stlxr64, x3, stlxr w3, x1, [x0]
	access_probe \prefix, \exit, stxp32, x3, stxp w3, w1, w2, [x0]
	access_probe \prefix, \exit, stxp64, x3, stxp w3, x1, x2, [x0]
	access_probe \prefix, \exit, stlxp64, x3, stlxp w3, x1, x2, [x0]
	access_probe \prefix, \exit, gcsstr, x0, .inst GCSSTR_X1_X0    /* FEAT_GCS: GCSSTR x1, [x0] (C6.2.169; sysreg.h) */
	/* FEAT_LSE, in each ordering: none, A (acquire), L (release), AL (both) */
	access_atomics \prefix, \exit
	access_atomics \prefix, \exit, a
	access_atomics \prefix, \exit, l
	access_atomics \prefix, \exit, al
	/* SIMD&FP: LDR/STR of a B, H, S, D and Q register */
	vector_load \prefix, \exit, vload8, b
	vector_load \prefix, \exit, vload16, h
	vector_load \prefix, \exit, vload32, s
	vector_load \prefix, \exit, vload64, d
	vector_load \prefix, \exit, vload128, q
	vector_store \prefix, \exit, vstore8, b
	vector_store \prefix, \exit, vstore16, h
	vector_store \prefix, \exit, vstore32, s
	vector_store \prefix, \exit, vstore64, d
	vector_store \prefix, \exit, vstore128, q
.endm
