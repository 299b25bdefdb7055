/*
 * The case table: what the harness generates (harness/gen.py writes $(BUILD)/case_table.c) from
 * the case files and the kernel runs.  A case is data: a translation regime,
 * leaf mappings, raw descriptors and steps.
 */
#ifndef MMUT_CASE_H
#define MMUT_CASE_H

#include "pgtable.h"

/* The translation regime of a case: the TCR_EL1 and MAIR_EL1 fields a case sets. */
struct regime {
	u8 tg0, tg1;            /* granule shift of TTBR0 / TTBR1 tables: 12, 14 or 16 */
	u8 t0sz, t1sz;
	u8 ips;                 /* TCR_EL1.IPS encoding */
	bool epd0, epd1;        /* disable walks through TTBR0 / TTBR1 */
	bool tbi0, tbi1;        /* top byte ignore */
	bool ds;                /* 52-bit VAs and OAs with the 4K and 16K granules (FEAT_LPA2) */
	bool ha, hd;            /* hardware Access flag and dirty state updates (FEAT_HAFDBS) */
	bool sctlr_a;           /* SCTLR_EL1.A: alignment checks on every data access */
	bool wxn;               /* SCTLR_EL1.WXN: writable implies execute-never */
	bool span;              /* SCTLR_EL1.SPAN (FEAT_PAN): false = exception entry to EL1 sets PSTATE.PAN */
	bool epan;              /* SCTLR_EL1.EPAN (FEAT_PAN3) */
	bool pan;               /* PSTATE.PAN (FEAT_PAN) when the steps start */
	bool hpd0, hpd1;        /* TCR_EL1.HPDn (FEAT_HPDS): hierarchical permissions disabled */
	bool e0pd0, e0pd1;      /* TCR_EL1.E0PDn (FEAT_E0PD): EL0 accesses through TTBRn fault */
	bool kernel_high;       /* run the steps from the kernel's TTBR1 alias (layout.h) */
	bool raw_ttbr1;         /* write ttbr1 to TTBR1_EL1 instead of the case's TTBR1 tables */
	u64 ttbr1;
	u64 mair;
};

/* A block or page mapping: the leaf descriptor for va at level. */
struct map {
	u64 va, pa;
	s8 level;
	struct pte_prot prot;
};

/* Hierarchical attributes added to the table descriptor for va at level, after the maps. */
struct table_attrs {
	u64 va;
	s8 level;
	struct table_prot prot;
};

/* A descriptor written verbatim at the slot for va at level (tables above it are made). */
struct raw {
	u64 va, desc;
	s8 level;
};

enum op {
	OP_LOAD8, OP_LOAD16, OP_LOAD32, OP_LOAD64,
	OP_STORE8, OP_STORE16, OP_STORE32, OP_STORE64,
	OP_LDTR64, OP_STTR64,           /* unprivileged (EL0) access from EL1 */
	OP_FETCH,                       /* branch to va; a stub planted there returns */
	OP_AT_S1E1R, OP_AT_S1E1W, OP_AT_S1E0R, OP_AT_S1E0W,
	OP_AT_S1E1RP, OP_AT_S1E1WP,     /* FEAT_PAN2: AT that honours PSTATE.PAN */
	/* Self-tests of the kernel's own robustness (tests/), not MMU probes. */
	OP_SELFTEST_BRK,                /* an exception outside any probe */
	OP_SELFTEST_NESTED,             /* an exception inside the exception handler */
	OP_SELFTEST_HANG,               /* loop forever */
};

struct step {
	enum op op;
	u64 va, value;
	u8 el;                          /* where the step runs: 0 (el0.S) or 1 */
};

struct mmut_case {
	const char *id;
	struct regime regime;
	const struct map *maps;
	const struct table_attrs *tables;
	const struct raw *raws;
	const struct step *steps;
	u16 nmaps, ntables, nraws, nsteps;
};

extern const struct mmut_case mmut_cases[];
extern const unsigned mmut_ncases;

#endif
