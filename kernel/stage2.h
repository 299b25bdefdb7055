/* A case's stage 2 translation of EL1&0: its tables (built at EL1, MMU off) and the EL2 registers that select them. */
#ifndef MMUT_STAGE2_H
#define MMUT_STAGE2_H

#include "case.h"

/* What stage2_build could not make: the kernel's own mappings, a case's map or raw descriptor (index). */
enum stage2_part { STAGE2_ROOT, STAGE2_KERNEL, STAGE2_MAP, STAGE2_RAW };

struct stage2_error {
	enum stage2_part part;
	unsigned index;
};

int stage2_start_level(unsigned granule_shift, unsigned sl0, bool sl2);
int stage2_build(const struct mmut_case *c, struct pgtable *s2, struct table_pool *pool, struct stage2_error *error);
u64 vtcr_from_stage2(const struct blob_stage2 *s);
u64 vttbr_from_stage2(const struct blob_stage2 *s, const struct pgtable *s2);
u64 hcr_from_stage2(const struct blob_stage2 *s);
u64 hcr_step_traps(const struct blob_stage2 *s);

#endif
