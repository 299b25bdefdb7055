/* Probes (probe.S) and the state the exception handler shares with them. */
#ifndef MMUT_PROBE_H
#define MMUT_PROBE_H

#include "types.h"

/* PROBE_EL0: a step running at EL0 (el0.c), whatever its access. */
enum probe_kind { PROBE_NONE, PROBE_DATA, PROBE_FETCH, PROBE_EL0 };

/* What the handler recorded of a probe's fault. */
struct probe_fault {
	bool taken;
	u64 esr, far, elr;
};

struct probe_state {
	enum probe_kind armed;
	u64 fetch_target;
	struct probe_fault fault;
};

extern volatile struct probe_state probe;

/* Two registers, returned in x0 and x1 (AAPCS64's composite return): a pair load's. */
struct reg_pair {
	u64 first, second;
};

/*
 * The data probes (probe.S, accesses.h), one type for all: x0 = va, x1 = value (the first register
 * stored), x2 = second (a pair's second register stored); a load returns what it loaded
 * in .first (x0), a pair load its second register in .second (x1).
 */
typedef struct reg_pair data_probe(u64 va, u64 value, u64 second);
data_probe probe_load8, probe_load16, probe_load32, probe_load64;
data_probe probe_store8, probe_store16, probe_store32, probe_store64;
data_probe probe_ldtr64, probe_sttr64;
data_probe probe_ldp32, probe_ldp64, probe_stp32, probe_stp64;
data_probe probe_ldar64, probe_stlr64;
data_probe probe_ldxr64, probe_ldaxr64, probe_ldadd64, probe_swp64, probe_cas64;
data_probe probe_ldapr64, probe_ldadda64, probe_ldaddl64, probe_ldaddal64, probe_swpa64, probe_swpl64, probe_swpal64;
data_probe probe_casa64, probe_casl64, probe_casal64;
data_probe probe_vload8, probe_vload16, probe_vload32, probe_vload64, probe_vload128;
data_probe probe_vstore8, probe_vstore16, probe_vstore32, probe_vstore64, probe_vstore128;
data_probe probe_ldxp32, probe_ldxp64, probe_ldaxp64;
data_probe probe_stxr64, probe_stlxr64, probe_stxp32, probe_stxp64, probe_stlxp64, probe_dc_zva;
data_probe probe_dc_civac, probe_dc_cvac, probe_dc_ivac, probe_ic_ivau;
data_probe probe_gcsstr, probe_gcssttr, probe_gcspushm, probe_gcspopm, probe_gcsss1, probe_gcsss2;
data_probe probe_gcspushx, probe_gcspopx, probe_gcspopcx;

u64 probe_at_s1e1r(u64 va);
u64 probe_at_s1e1w(u64 va);
u64 probe_at_s1e0r(u64 va);
u64 probe_at_s1e0w(u64 va);
u64 probe_at_s1e1rp(u64 va);
u64 probe_at_s1e1wp(u64 va);
u64 probe_at_s1e2r(u64 va);
u64 probe_at_s1e2w(u64 va);
u64 probe_at_s1e1a(u64 va);
u64 probe_at_s1e2a(u64 va);
u64 probe_fetch(u64 va);

extern const char __probes_start[], __probes_end[];
/* AT probes, which fault only at stage 2 (to EL2), and the return point of probe_fetch's branch. */
extern const char __at_probes_start[], __at_probes_end[], probe_fetch_return[];

/*
 * The stub planted at a fetch probe's target: MOVZ X0, #FETCH_MAGIC; RET.
 * The probe returns FETCH_MAGIC when the fetch executed it.
 */
#define FETCH_MAGIC         0xf00d
#define A64_MOVZ_X0(imm16)  (0xd2800000u | ((u32)(imm16) << 5))
#define A64_RET             0xd65f03c0u

#endif
