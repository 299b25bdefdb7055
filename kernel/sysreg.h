/* System registers and their fields, named once (Arm ARM D17/D19). */
#ifndef MMUT_SYSREG_H
#define MMUT_SYSREG_H

#include "types.h"

#ifndef __ASSEMBLER__
/* r is a register name, or a macro naming one by its encoding (TCR2_EL1 below): expanded before it is a string. */
#define read_sysreg(r) read_sysreg_(r)
#define read_sysreg_(r) ({ u64 __v; __asm__ volatile("mrs %0, " #r : "=r"(__v)); __v; })
#define write_sysreg(v, r) write_sysreg_(v, r)
#define write_sysreg_(v, r) __asm__ volatile("msr " #r ", %0" : : "r"((u64)(v)))
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")
/* One TLBI: by its operand Xt, or of everything it names (no operand). */
#define tlbi(op, xt) __asm__ volatile("tlbi " #op ", %0" : : "r"((u64)(xt)) : "memory")
#define tlbi_all(op) __asm__ volatile("tlbi " #op ::: "memory")
/*
 * TLBI by range (FEAT_TLBIRANGE, Armv8.4) as SYS op1, C8, CRm, op2: the
 * assembler needs no -march for it.  op1 0 the *E1 forms (CRm 2 Inner
 * Shareable, 6 local; op2 1 RVAE1, 3 RVAAE1, 5 RVALE1, 7 RVAALE1), op1 4 the
 * *E2 ones (the same CRm; op2 1 RVAE2, 5 RVALE2) and stage 2's (CRm 0 Inner
 * Shareable, 4 local; op2 2 RIPAS2E1, 6 RIPAS2LE1).
 */
#define tlbi_range(op1, crm, op2, xt) \
	__asm__ volatile("sys #" #op1 ", c8, c" #crm ", #" #op2 ", %0" : : "r"((u64)(xt)) : "memory")
/*
 * FEAT_XS's nXS form of a TLBI (TLBI VAE1NXS, RVAE1NXS, IPAS2E1NXS ...): its plain
 * form's SYS encoding with CRn = 9 for 8 (Arm ARM C5.5), by op1, CRm and op2, with
 * Xt or, for the forms without an operand (VMALLE1NXS ...), none (Rt = 31).
 */
#define tlbi_nxs(op1, crm, op2, xt) \
	__asm__ volatile("sys #" #op1 ", c9, c" #crm ", #" #op2 ", %0" : : "r"((u64)(xt)) : "memory")
#define tlbi_nxs_all(op1, crm, op2) __asm__ volatile("sys #" #op1 ", c9, c" #crm ", #" #op2 ::: "memory")
/* A TLBI, or with nxs its nXS form (op1, CRm, op2 its encoding's): by Xt, of everything, by range. */
#define tlbi_or_nxs(nxs, op, op1, crm, op2, xt) \
	do { if (nxs) tlbi_nxs(op1, crm, op2, xt); else tlbi(op, xt); } while (0)
#define tlbi_all_or_nxs(nxs, op, op1, crm, op2) \
	do { if (nxs) tlbi_nxs_all(op1, crm, op2); else tlbi_all(op); } while (0)
#define tlbi_range_or_nxs(nxs, op1, crm, op2, xt) \
	do { if (nxs) tlbi_nxs(op1, crm, op2, xt); else tlbi_range(op1, crm, op2, xt); } while (0)
/*
 * The kernel runs at EL1, or at EL2 for a case whose steps run in the EL2
 * regime (HCR_EL2.E2H = 0, where the *_EL1 names reach EL1's registers, not
 * EL2's): the registers of the regime it runs in, chosen by CurrentEL.
 */
#define current_el() CURRENTEL_EL(read_sysreg(CurrentEL))
#define read_sysreg_elx(r) (current_el() == 2 ? read_sysreg(r##_el2) : read_sysreg(r##_el1))
#define write_sysreg_elx(v, r) do { if (current_el() == 2) write_sysreg(v, r##_el2); else write_sysreg(v, r##_el1); } while (0)
/*
 * In a +vhe boot the kernel runs at EL2 with HCR_EL2.E2H = 1 (the EL2&0 regime):
 * there the *_EL1 names reach the *_EL2 registers too, and TCR_EL2 and SCTLR_EL2
 * have the EL1 layouts; their EL2 layouts are EL2's own regime's (E2H = 0).
 */
#define in_el2_regime() (current_el() == 2 && !(read_sysreg(hcr_el2) & HCR_E2H))
#ifndef __ASSEMBLER__
/* PSTATE.PAN, by its system register name (S3_0_C4_C2_3) so that an Armv8.0 assembler takes it */
#define read_pan() read_sysreg(s3_0_c4_c2_3)
#define write_pan(v) write_sysreg(v, s3_0_c4_c2_3)
#endif

#endif

/* TCR_EL1 */
/* TTBRn_EL1.ASID: bits[63:48]. */
#define TTBR_ASID(asid)     ((u64)(asid) << 48)
#define TTBR_ASID_MASK      TTBR_ASID(0xffff)

#define TCR_T0SZ(n)         ((u64)(n) << 0)
#define TCR_EPD0            BIT(7)
#define TCR_IRGN0_WBWA      (1ULL << 8)
#define TCR_ORGN0_WBWA      (1ULL << 10)
#define TCR_SH0_INNER       (3ULL << 12)
#define TCR_TG0_SHIFT       14
#define TCR_TG0_4K          (0ULL << TCR_TG0_SHIFT)
#define TCR_TG0_64K         (1ULL << TCR_TG0_SHIFT)
#define TCR_TG0_16K         (2ULL << TCR_TG0_SHIFT)
#define TCR_T1SZ(n)         ((u64)(n) << 16)
#define TCR_A1              BIT(22)
#define TCR_EPD1            BIT(23)
#define TCR_IRGN1_WBWA      (1ULL << 24)
#define TCR_ORGN1_WBWA      (1ULL << 26)
#define TCR_SH1_INNER       (3ULL << 28)
#define TCR_TG1_SHIFT       30
#define TCR_TG1_16K         (1ULL << TCR_TG1_SHIFT)
#define TCR_TG1_4K          (2ULL << TCR_TG1_SHIFT)
#define TCR_TG1_64K         (3ULL << TCR_TG1_SHIFT)
#define TCR_IPS_SHIFT       32
#define TCR_IPS(n)          ((u64)(n) << TCR_IPS_SHIFT)
#define TCR_IPS_52BIT       6
#define TCR_AS              BIT(36)
#define TCR_TBI0            BIT(37)
#define TCR_TBI1            BIT(38)
#define TCR_HA              BIT(39)
#define TCR_HD              BIT(40)
#define TCR_HPD0            BIT(41)     /* FEAT_HPDS: hierarchical permissions disabled, TTBR0 tables */
#define TCR_HPD1            BIT(42)
#define TCR_E0PD0           BIT(55)     /* FEAT_E0PD: EL0 accesses through TTBR0 fault */
#define TCR_E0PD1           BIT(56)
#define TCR_DS              BIT(59)

/* TCR_EL2 with HCR_EL2.E2H = 0: its own layout (T0SZ, IRGN0, ORGN0, SH0, TG0 as TCR_EL1's) */
#define TCR_EL2_PS(n)       ((u64)(n) << 16)
#define TCR_EL2_TBI         BIT(20)
#define TCR_EL2_HA          BIT(21)
#define TCR_EL2_HD          BIT(22)
#define TCR_EL2_HPD         BIT(24)     /* FEAT_HPDS */
#define TCR_EL2_DS          BIT(32)     /* FEAT_LPA2 */
#define TCR_EL2_RES1        (BIT(31) | BIT(23))

/* SCTLR_EL1 */
#define SCTLR_M             BIT(0)
#define SCTLR_A             BIT(1)
#define SCTLR_C             BIT(2)
#define SCTLR_SA            BIT(3)
#define SCTLR_SA0           BIT(4)
#define SCTLR_I             BIT(12)
#define SCTLR_WXN           BIT(19)     /* writable implies execute-never */
#define SCTLR_SPAN          BIT(23)     /* FEAT_PAN: 0 = exception entry to EL1 sets PSTATE.PAN */
#define SCTLR_EPAN          BIT(57)     /* FEAT_PAN3: PAN also covers EL0-executable memory */
#define SCTLR_UCI           BIT(26)     /* EL0 may execute DC CVAC, CIVAC, IVAC and IC IVAU (C5.3) */
#define SCTLR_CMOW          BIT(32)     /* FEAT_CMOW: EL0's DC CIVAC and IC IVAU need write permission */
#define SCTLR_DZE           BIT(14)     /* EL0 may execute DC ZVA (0: it traps, EC 0x18; C5.3.38) */
/* RES1 bits of SCTLR_EL1 in Armv8.0 (bits 29, 28, 23, 22, 20, 11); bit 23 is SPAN with FEAT_PAN */
#define SCTLR_RES1          (BIT(29) | BIT(28) | SCTLR_SPAN | BIT(22) | BIT(20) | BIT(11))

/* SCTLR_EL2 with HCR_EL2.E2H = 0: M, A, C, I, WXN as SCTLR_EL1's; RES1 [29:28], [23:22], 18, 16, 11, [5:4] */
#define SCTLR_EL2_RES1      (BIT(29) | BIT(28) | BIT(23) | BIT(22) | BIT(18) | BIT(16) | BIT(11) | BIT(5) | BIT(4))

/* MAIR_EL1: one attribute byte per index */
#define MAIR_ATTR(idx, attr) ((u64)(attr) << ((idx) * 8))

/*
 * CPACR_EL1.FPEN = 0b11: SIMD&FP instructions at EL1 and EL0 untrapped (the SIMD&FP load and store steps);
 * in the EL2&0 regime CPTR_EL2 has this layout and the *_EL1 name.  CPTR_EL2 with HCR_EL2.E2H = 0: its RES1
 * bits (13, 9, 7:0) and TFP (bit 10) 0, so EL2's own and EL1's SIMD&FP instructions are not trapped to EL2.
 */
#define CPACR_FPEN          (BIT(21) | BIT(20))
#define CPTR_EL2_RES1       (BIT(13) | BIT(9) | 0xff)

/* HCR_EL2 */
#define HCR_VM              BIT(0)      /* stage 2 translation for EL1&0 */
#define HCR_TPCP            BIT(23)     /* DC CIVAC, CVAC, IVAC (to the PoC) at EL1 and EL0 trapped to EL2 */
#define HCR_TPU             BIT(24)     /* IC IVAU, DC CVAU (to the PoU) at EL1 and EL0 trapped to EL2 */
#define HCR_TGE             BIT(27)     /* trap general exceptions: EL0's exceptions go to EL2 */
#define HCR_TDZ             BIT(28)     /* DC ZVA at EL1 and EL0 trapped to EL2 */
#define HCR_STEP_TRAPS      (HCR_TDZ | HCR_TPCP | HCR_TPU)      /* the traps a case's steps may run with */
#define HCR_RW              BIT(31)
#define HCR_E2H             BIT(34)     /* FEAT_VHE: EL2 is a host, EL2&0 regime, *_EL1 names reach *_EL2 at EL2 */
#define HCR_FWB             BIT(46)     /* FEAT_S2FWB: stage 2 forces Write-Back */
#define HCR_NV              BIT(42)     /* FEAT_NV: EL1 runs a guest hypervisor (traps EL2's registers, ERET) */
#define HCR_NV1             BIT(43)     /* FEAT_NV: with NV, EL1&0 stage 1 descriptors read as EL2's (D24.2.62) */

/* VTCR_EL2: the stage 2 translation of EL1&0 (Arm ARM D19.2) */
#define VTCR_T0SZ(n)        ((u64)(n) << 0)
#define VTCR_SL0(n)         ((u64)(n) << 6)
#define VTCR_IRGN0_WBWA     (1ULL << 8)
#define VTCR_ORGN0_WBWA     (1ULL << 10)
#define VTCR_SH0_INNER      (3ULL << 12)
#define VTCR_TG0_4K         (0ULL << 14)
#define VTCR_TG0_64K        (1ULL << 14)
#define VTCR_TG0_16K        (2ULL << 14)
#define VTCR_PS(n)          ((u64)(n) << 16)
#define VTCR_VS             BIT(19)     /* 16-bit VMID */
#define VTCR_HA             BIT(21)
#define VTCR_HD             BIT(22)
#define VTCR_RES1           BIT(31)
#define VTCR_DS             BIT(32)     /* FEAT_LPA2: 52-bit IPAs and OAs with 4K and 16K */
#define VTCR_SL2            BIT(33)     /* FEAT_LPA2, 4K, DS = 1: with SL0 = 0, start at level -1 */

/* VTTBR_EL2 */
#define VTTBR_VMID_SHIFT    48
#define VTTBR_VMID_MASK     (0xffffULL << VTTBR_VMID_SHIFT)

/* ESR_ELx.EC values the EL2 handler acts on */
#define ESR_EC_SHIFT        26
#define ESR_EC_IABT_LOW     0x20
#define ESR_EC_DABT_LOW     0x24
#define ESR_EC_HVC64        0x16
#define ESR_EC_SYS64        0x18        /* a trapped MSR, MRS or System instruction */
#define ESR_EC_ERET         0x1a        /* a trapped ERET, ERETAA or ERETAB (HCR_EL2.NV) */
/* ESR_ELx.ISS of EC 0x18 (D24.2.45): the register by its encoding, Rt, and the direction (1: MRS, a read) */
#define ESR_SYS64_REG(iss)  ((iss) & 0x3ffc1e)  /* Op0 [21:20], Op2 [19:17], Op1 [16:14], CRn [13:10], CRm [4:1] */
#define ESR_SYS64_ENC(op0, op1, crn, crm, op2) \
	((u64)(op0) << 20 | (u64)(op2) << 17 | (u64)(op1) << 14 | (u64)(crn) << 10 | (u64)(crm) << 1)
#define ESR_SYS64_RT(iss)   (((iss) >> 5) & 0x1f)
#define ESR_SYS64_READ(iss) ((iss) & 1)

/* SPSR: EL1h, EL1t, EL0t with D, A, I, F masked; PSTATE.PAN (FEAT_PAN) */
#define SPSR_EL1H_MASKED    0x3c5
#define SPSR_EL1T_MASKED    0x3c4
#define SPSR_EL0T_MASKED    0x3c0
#define SPSR_EL2T_MASKED    0x3c8       /* EL2 on SP_EL0: the kernel's own code at EL2 (el2.c) */
#define SPSR_PAN            BIT(22)
/* SPSR.M[3:0]: the Exception level and stack pointer an exception was taken from */
#define SPSR_M_MASK         0xf
#define SPSR_M_EL_MASK      0xc         /* M[3:2]: the Exception level */
#define SPSR_M_EL1          0x4
#define SPSR_M_EL2          0x8
#define SPSR_M_EL0T         0x0

/*
 * Registers of Armv8.7 and later by their encodings (S3_op1_Cn_Cm_op2), so that
 * an Armv8.0 assembler takes them (Arm ARM D24.2 gives each one's encoding).
 */
#define ID_AA64MMFR3_EL1    s3_0_c0_c7_3
#define ID_AA64MMFR4_EL1    s3_0_c0_c7_4
#define ID_AA64ISAR2_EL1    s3_0_c0_c6_2
#define TCR2_EL1            s3_0_c2_c0_3    /* FEAT_TCR2; TCR2_EL2 at EL2 with E2H = 1 */
#define TCR2_EL2            s3_4_c2_c0_3
#define PIR_EL1             s3_0_c10_c2_3   /* FEAT_S1PIE */
#define PIR_EL2             s3_4_c10_c2_3
#define PIRE0_EL1           s3_0_c10_c2_2
#define PIRE0_EL2           s3_4_c10_c2_2
#define MAIR2_EL1           s3_0_c10_c2_1   /* FEAT_AIE */
#define MAIR2_EL2           s3_4_c10_c1_1
#define S2PIR_EL2           s3_4_c10_c2_5   /* FEAT_S2PIE */
#define HCRX_EL2            s3_4_c1_c2_2    /* FEAT_HCX */
#define HFGRTR_EL2          s3_4_c1_c1_4    /* FEAT_FGT */
#define HFGWTR_EL2          s3_4_c1_c1_5
#define HFGITR_EL2          s3_4_c1_c1_6
#define GCSCR_EL1           s3_0_c2_c5_0    /* FEAT_GCS (D24.11) */
#define GCSCRE0_EL1         s3_0_c2_c5_2
#define GCSCR_EL2           s3_4_c2_c5_0
#define GCSPR_EL1           s3_0_c2_c5_1
#define GCSPR_EL0           s3_3_c2_c5_1

/*
 * FEAT_GCS's stores by their encodings (C6.2.169 GCSSTR, C6.2.170 GCSSTTR: Rn bits [9:5],
 * Rt [4:0]), so that an assembler without FEAT_GCS takes them: GCSSTR and GCSSTTR x1, [x0].
 */
#define GCSSTR_X1_X0        0xd91f0c01
#define GCSSTTR_X1_X0       0xd91f1c01
/* GCSCR_ELx and GCSCRE0_EL1.STREn, bit 9: GCSSTR and GCSSTTR at that EL do not trap (CheckGCSSTREnabled) */
#define GCSCR_STREN         BIT(9)
/* GCSCR_ELx and GCSCRE0_EL1.PUSHMEn, bit 8: GCSPUSHM at that EL does not trap (C5.9.4) */
#define GCSCR_PUSHMEN       BIT(8)
/* GCSCR_ELx and GCSCRE0_EL1.PCRSEL, bit 0: the Guarded Control Stack is enabled at that EL (GCSEnabled):
 * BL pushes to it and RET checks against it, so the kernel sets it around a GCSPUSHM, GCSPOPM or GCSSS1 step alone */
#define GCSCR_PCRSEL        BIT(0)
/* The SPSR_EL1 a GCSPUSHX or GCSPOPCX step runs with (probe.S gcs_ex_probe): EL1h with DAIF masked, a value
 * an exception return to EL1 could use (harness/ops.py GCS_EX_SPSR) */
#define GCS_EX_SPSR         0x3c5
/* HCRX_EL2.GCSEn, bit 22: GCS not disabled at EL1 and EL0 by EL2 */
#define HCRX_GCSEN          BIT(22)
/* HCRX_EL2.FnXS, bit 3 (FEAT_XS): EL1's TLBIs without nXS behave as their nXS forms (D24.2.63) */
#define HCRX_FNXS           BIT(3)
/* HFGITR_EL2.nGCSEPP, bit 59 (FEAT_FGT): 0 traps EL1's GCSPUSHX and GCSPOPCX to EL2 (C5.9.5, C5.9.1) */
#define HFGITR_NGCSEPP      BIT(59)
/* HFGITR_EL2.nGCSSTR_EL1, bit 58 (FEAT_FGT): 0 traps EL1's GCSSTR and GCSSTTR to EL2 */
#define HFGITR_NGCSSTR_EL1  BIT(58)
/* HFGITR_EL2.nGCSPUSHM_EL1, bit 57: 0 traps EL1's GCSPUSHM to EL2 */
#define HFGITR_NGCSPUSHM_EL1 BIT(57)
/* ID_AA64PFR1_EL1.GCS, bits [47:44]: FEAT_GCS */
#define ID_PFR1_GCS(v)      (((v) >> 44) & 0xf)

/* TCR2_EL1 (and TCR2_EL2: the same bits for these) */
#define TCR2_PIE            BIT(1)      /* FEAT_S1PIE: stage 1 permission indirection */
#define TCR2_AIE            BIT(4)      /* FEAT_AIE: AttrIndx[3], MAIR2 */
#define TCR2_A2             BIT(16)     /* FEAT_ASID2: TTBR0's ASID for the lower range, TTBR1's for the upper */
#define TCR2_FNG0           BIT(17)     /* FEAT_ASID2: TTBR0's range non-global whatever nG */
#define TCR2_FNG1           BIT(18)     /* FEAT_ASID2: TTBR1's */

/* VTCR_EL2.S2PIE (FEAT_S2PIE) */
#define VTCR_S2PIE          BIT(36)

/* HCRX_EL2: EL1's access to TCR2_EL1 and SCTLR2_EL1 (0: UNDEFINED, trapped to EL2) */
#define HCRX_TCR2EN         BIT(14)
#define HCRX_SCTLR2EN       BIT(15)

/*
 * HFGRTR_EL2 / HFGWTR_EL2 (FEAT_FGT): the negative-polarity bits that trap
 * EL1's reads and writes of these registers to EL2 while they are 0.
 */
#define HFGXTR_NPIRE0_EL1   BIT(57)
#define HFGXTR_NPIR_EL1     BIT(58)
#define HFGXTR_NMAIR2_EL1   BIT(62)
#define HFGXTR_N_EL1_REGS   (HFGXTR_NPIRE0_EL1 | HFGXTR_NPIR_EL1 | HFGXTR_NMAIR2_EL1)
/* FEAT_GCS: nGCS_EL0 (GCSCRE0_EL1, GCSPR_EL0), nGCS_EL1 (GCSCR_EL1, GCSPR_EL1) */
#define HFGXTR_N_GCS_REGS   (BIT(52) | BIT(53))

/* ID_AA64MMFR0_EL1.FGT, bits [59:56]: FEAT_FGT */
#define ID_MMFR0_FGT(v)     (((v) >> 56) & 0xf)
/* ID_AA64MMFR1_EL1.HCX, bits [43:40]: FEAT_HCX */
#define ID_MMFR1_HCX(v)     (((v) >> 40) & 0xf)
/* ID_AA64MMFR3_EL1: TCRX [3:0] FEAT_TCR2, S1PIE [11:8], S2PIE [15:12], AIE [27:24] */
#define ID_MMFR3_TCRX(v)    ((v) & 0xf)
#define ID_MMFR3_S1PIE(v)   (((v) >> 8) & 0xf)
#define ID_MMFR3_S2PIE(v)   (((v) >> 12) & 0xf)
#define ID_MMFR3_AIE(v)     (((v) >> 24) & 0xf)

/* ID_AA64MMFR1_EL1.VH, bits [11:8]: 1 FEAT_VHE */
#define ID_MMFR1_VH(v)      (((v) >> 8) & 0xf)

/* ID_AA64MMFR1_EL1.PAN, bits [23:20]: 1 FEAT_PAN, 2 FEAT_PAN2, 3 FEAT_PAN3 */
#define ID_MMFR1_PAN(v)     (((v) >> 20) & 0xf)

/* ESR_EL1.EC, and the class of the SVC that ends an EL0 step */
#define ESR_EC(esr)         (((esr) >> 26) & 0x3f)
#define ESR_EC_SVC64        0x15

/* CurrentEL */
#define CURRENTEL_EL(v)     (((v) >> 2) & 3)

#ifndef __ASSEMBLER__
/* PSTATE.PAN, by its system register name (S3_0_C4_C2_3) so that an Armv8.0 assembler takes it */
#define read_pan() read_sysreg(s3_0_c4_c2_3)
#define write_pan(v) write_sysreg(v, s3_0_c4_c2_3)
#endif

#endif
