/* Steps that change translations: descriptor writes and reads, barriers, TLB maintenance, register writes. */
#ifndef MMUT_MAINT_H
#define MMUT_MAINT_H

#include "case.h"

bool is_maint(u32 op);
/*
 * Run a maintenance step on the case's tables (spaces: TTBR0's table sets, the
 * step's `space` choosing one; tt1: TTBR1's, for VA bit 55 set; s2: its stage
 * 2, or NULL) and print its step record.
 */
void run_maint(unsigned n, const struct step *s, const struct regime *r,
	       struct pgtable *spaces, struct pgtable *tt1, struct pgtable *s2);

#endif
