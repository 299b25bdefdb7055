/* A case's memory as its steps start: tables, frames, fetch stubs (tables.c). */
#ifndef MMUT_TABLES_H
#define MMUT_TABLES_H

#include "case.h"
#include "pgtable.h"

/* The kernel's home in TTBR1 (layout.h): its window at KERNEL_ALIAS_BASE, and a pointer's alias there. */
#define ALIAS_OFFSET ((u64)KERNEL_ALIAS_BASE - KERNEL_WINDOW_BASE)
#define ALIAS(p) ((__typeof__(p))((uintptr_t)(p) + ALIAS_OFFSET))

/* The table pool every case's tables come from, reset for each. */
extern struct table_pool pool;

/* The case's stage 1 tables: TTBR0's table sets, TTBR1's, and for a kernel_high case the transition's; an exit status. */
int build_tables(const struct mmut_case *c, struct pgtable *spaces, struct pgtable *tt1, struct pgtable *boot);
/* The case's stage 2 tables, after its stage 1 tables in the same pool; an exit status. */
int build_stage2(const struct mmut_case *c, struct pgtable *s2);
struct pgtable *table_for(u64 va, unsigned space, struct pgtable *spaces, struct pgtable *tt1);
struct regime transition_regime(const struct regime *r);
void for_each_frame(const struct mmut_case *c, struct pgtable *tt0, struct pgtable *tt1, void (*fn)(u64 pa, u64 size));
void zero_frame(u64 pa, u64 size);
void plant_fetch_stubs(const struct mmut_case *c, struct pgtable *tt0, struct pgtable *tt1, const struct pgtable *s2);

#endif
