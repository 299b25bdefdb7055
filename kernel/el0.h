/* Steps at EL0 (el0.S): the EL0 probes, the call into EL0 and the return from it. */
#ifndef MMUT_EL0_H
#define MMUT_EL0_H

#include "exception.h"
#include "types.h"

/* The EL0 probes: link addresses in the EL0 code page, entered at el0_code_va(). */
void el0_load8(void), el0_load16(void), el0_load32(void), el0_load64(void);
void el0_store8(void), el0_store16(void), el0_store32(void), el0_store64(void);
void el0_ldp32(void), el0_ldp64(void), el0_stp32(void), el0_stp64(void), el0_ldar64(void), el0_stlr64(void);
void el0_ldxr64(void), el0_ldaxr64(void), el0_ldadd64(void), el0_swp64(void), el0_cas64(void);
void el0_ldapr64(void), el0_ldadda64(void), el0_ldaddl64(void), el0_ldaddal64(void);
void el0_swpa64(void), el0_swpl64(void), el0_swpal64(void), el0_casa64(void), el0_casl64(void), el0_casal64(void);
void el0_vload8(void), el0_vload16(void), el0_vload32(void), el0_vload64(void), el0_vload128(void);
void el0_vstore8(void), el0_vstore16(void), el0_vstore32(void), el0_vstore64(void), el0_vstore128(void);
void el0_ldxp32(void), el0_ldxp64(void), el0_ldaxp64(void);
void el0_stxr64(void), el0_stlxr64(void), el0_stxp32(void), el0_stxp64(void), el0_stlxp64(void);
void el0_gcsstr(void);
void el0_gcspushm(void);
void el0_gcspopm(void);
void el0_gcsss1(void);
void el0_gcsss2(void);
void el0_dc_civac(void), el0_dc_cvac(void), el0_ic_ivau(void), el0_dc_zva(void);
void el0_fetch(void), selftest_hang_el0(void);

/* What the return from EL0 restores: the kernel stack and el0_call's resume address. */
struct el0_context {
	u64 sp, resume;
};

extern struct el0_context el0_context;

/*
 * Run the EL0 code at entry (a VA of the EL0 code page) with x0 = va, x1 = value, x2 = second;
 * returns EL0's x0, and its x1 in *x1 (a pair load's second register).
 */
u64 el0_run(u64 entry, u64 va, u64 value, u64 second, u64 *x1);

/* The VA where probe runs at EL0, given where the EL0 code page is mapped. */
u64 el0_code_va(void (*probe)(void), u64 page_va);

/* An exception from EL0 during an EL0 step: record it (unless it is the SVC that ends the step) and return to the kernel. */
bool el0_step_exception(struct frame *f);

#endif
