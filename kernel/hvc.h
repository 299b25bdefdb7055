/*
 * The calls the EL1 kernel makes to its EL2 half (el2.c) with HVC #0:
 * x0 = function, x1-x4 = arguments; results come back in x0-x4.  EL2 keeps
 * its state to itself (it runs with its MMU off, so nothing it writes is in
 * a cache line EL1 could see stale).
 */
#ifndef MMUT_HVC_H
#define MMUT_HVC_H

#include "types.h"

#define HVC_STAGE2_ON       1   /* x1 = VTCR_EL2, x2 = VTTBR_EL2, x3 = HCR_EL2, x4 = S2PIR_EL2 */
#define HVC_STAGE2_OFF      2
#define HVC_TAKE_FAULT      3   /* -> x0 = 1 if a probe faulted to EL2 since, x1 = ESR_EL2, x2 = FAR_EL2, x3 = HPFAR_EL2, x4 = ELR_EL2 */
/*
 * x1 = OP_AT_S12E1R..OP_AT_S12E0W, x2 = VA -> x0 = PAR_EL1.  x3 = 0: under the case's
 * stage 2; else VTCR_EL2 for this AT alone, with x4 = the bits of VTTBR_EL2 flipped for it.
 */
#define HVC_AT_S12          4
/*
 * The kernel itself moves to EL2 for a case whose steps run in the EL2
 * regime, and back: the call returns after the HVC, at EL2 (on SP_EL0, the
 * same stack, as EL2t) or, called there, at EL1 (EL1t).
 */
#define HVC_ENTER_EL2       5
#define HVC_LEAVE_EL2       6
#define HVC_TLBI            7   /* x1 = OP_TLBI_IPAS2E1..OP_TLBI_ALLE1IS or OP_TLBI_RIPAS2*, x2 = Xt, x3 = its nXS form:
                                   that TLBI alone (no barrier) */
#define HVC_SET_VMID        8   /* x1 = VMID: VTTBR_EL2.VMID replaced, nothing else (no ISB) */
/*
 * x1 = HCR_EL2.{NV, NV1} (FEAT_NV), replacing them, then TLBI VMALLE1 and DSB: NV1 may be
 * cached in a TLB (D24.2.62), so no entry made under the other value stays (the return
 * to EL1 synchronizes the change).
 */
#define HVC_SET_NV          9
/* x1 = HCRX_EL2.FnXS (FEAT_XS with FEAT_HCX), replacing it (the return to EL1 synchronizes the change) */
#define HVC_SET_FNXS        10
/* x1 = HCR_EL2.{TDZ, TPCP, TPU}, replacing them (the return to EL1 synchronizes the change) */
#define HVC_SET_TRAPS       11

#ifndef __ASSEMBLER__
struct hvc_result {
	u64 x0, x1, x2, x3, x4;
};

static inline struct hvc_result hvc_call(u64 fn, u64 a1, u64 a2, u64 a3, u64 a4)
{
	register u64 x0 __asm__("x0") = fn;
	register u64 x1 __asm__("x1") = a1;
	register u64 x2 __asm__("x2") = a2;
	register u64 x3 __asm__("x3") = a3;
	register u64 x4 __asm__("x4") = a4;

	__asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4) : : "memory");
	return (struct hvc_result){ x0, x1, x2, x3, x4 };
}
#endif

#endif
