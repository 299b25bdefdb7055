/* Programming the stage 1 MMU of EL1&0, or of EL2 (regime.el2, at EL2), from a case's regime. */
#ifndef MMUT_MMU_H
#define MMUT_MMU_H

#include "case.h"

u64 tcr_from_regime(const struct regime *r);
u64 sctlr_from_regime(const struct regime *r);
void mmu_enable(const struct regime *r, u64 ttbr0, u64 ttbr1);
void mmu_disable(void);
void cache_clean_inval(u64 start, u64 size);

#endif
