/* Running a case's steps (steps.c). */
#ifndef MMUT_STEPS_H
#define MMUT_STEPS_H

#include "case.h"
#include "pgtable.h"

/* A case's steps and what their walks read, as seen from where they run (the alias or the identity map). */
struct step_run {
	const char *id;
	const struct step *steps;
	unsigned n;
	const struct regime *regime;
	struct pgtable *spaces, *tt1;           /* TTBR0's table sets and TTBR1's tables (maintenance steps change them) */
	unsigned nspaces;
	const struct walk_memory *memory;
	u64 el0_code;                           /* where the EL0 code page is mapped */
	struct pgtable *s2;                     /* the stage 2 tables, or NULL: EL2 takes the steps' stage 2 faults */
	bool s2_updates;                        /* VTCR_EL2.HA or HD: stage 2 hardware updates */
	unsigned first_change;                  /* the first step that changes tables or registers, or n */
	u64 code_offset;                        /* added to a link address to reach the code from here: 0 or ALIAS_OFFSET */
	u64 traps;                              /* HCR_EL2.{TDZ, TPCP, TPU} while each access step runs (HVC_SET_TRAPS) */
};

/* What a walk may read, from the identity map and from the alias. */
extern const struct walk_memory window, window_alias;

unsigned first_change(const struct mmut_case *c);
/* HCR_EL2.NV and NV1 as a case's AT steps run with them (REGIME_NV, REGIME_NV1), else 0. */
u64 nested_hcr(const struct regime *r);
/* Run the steps of a struct step_run (arg), one record each; called from the alias too (run_in_alias). */
void run_steps(const void *arg);

#endif
