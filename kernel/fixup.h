/* Fault fix-up and retry: what an OS's fault handler does for demand paging, copy-on-write and a software Access flag. */
#ifndef MMUT_FIXUP_H
#define MMUT_FIXUP_H

#include "case.h"

bool is_fixup(u32 op);
/*
 * Repair the fault of the access step before fix (the probe state still holds
 * it) in the case's tables; false, with an error record for step n, if that
 * access did not fault or the slot cannot be reached.
 */
bool apply_fixup(unsigned n, const struct step *fix, struct pgtable *pt,
		 const struct walk_memory *memory);

#endif
