/*
 * Cases as data: the case blob harness/blob.py writes (build/cases.bin) and
 * QEMU loads at CASE_BLOB_BASE (layout.h), and the kernel's view of one case.
 *
 * The blob is little-endian and read in place:
 *
 *   struct blob_header                  at offset 0
 *   struct blob_case[ncases]            right after the header
 *   maps, tables, raws, steps, IDs      at the offsets the case records give
 *
 * Every record is naturally aligned (offsets of arrays are multiples of
 * BLOB_ALIGN): the kernel reads the blob with the MMU off too, where memory is
 * Device and an unaligned access faults.  blob.c checks all of it before any
 * case runs.  The harness reads the #defines below (harness/kdefs.py), so
 * each number is written once; a change to any record's layout bumps
 * BLOB_VERSION.
 */
#ifndef MMUT_CASE_H
#define MMUT_CASE_H

#include "pgtable.h"

#define BLOB_MAGIC          0x42554d4d  /* "MMUB" */
#define BLOB_VERSION        7
#define BLOB_ALIGN          8

/* Sizes of the records, checked against the structs below at compile time. */
#define BLOB_HEADER_SIZE    16
#define BLOB_CASE_SIZE      112
#define BLOB_MAP_SIZE       24
#define BLOB_TABLE_SIZE     16
#define BLOB_RAW_SIZE       24
#define BLOB_STEP_SIZE      32
#define BLOB_STAGE2_SIZE    32
#define BLOB_S2MAP_SIZE     24

/*
 * TTBR0 table sets (address spaces) a case may have: set 0 is the one TTBR0
 * points at when the steps start, each maps the kernel as set 0 does, and a
 * set_ttbr0 step switches between them (a context switch between processes).
 */
#define MAX_SPACES          4

/* Longest case ID (without its NUL). */
#define BLOB_ID_MAX         255

struct blob_header {
	u32 magic;
	u32 version;
	u32 ncases;
	u32 size;               /* bytes of the whole blob */
};

/* blob_regime.flags */
#define REGIME_EPD0         0x001   /* disable walks through TTBR0 */
#define REGIME_EPD1         0x002
#define REGIME_TBI0         0x004   /* top byte ignore */
#define REGIME_TBI1         0x008
#define REGIME_DS           0x010   /* FEAT_LPA2 52-bit formats (4K, 16K) */
#define REGIME_HA           0x020   /* hardware Access flag updates (FEAT_HAFDBS) */
#define REGIME_HD           0x040   /* and dirty state */
#define REGIME_SCTLR_A      0x080   /* SCTLR_EL1.A: alignment checks */
#define REGIME_KERNEL_HIGH  0x100   /* run the steps from the kernel's TTBR1 alias (layout.h) */
#define REGIME_RAW_TTBR1    0x200   /* write ttbr1 to TTBR1_EL1 instead of the case's TTBR1 tables */
#define REGIME_WXN          0x400   /* SCTLR_EL1.WXN: writable implies execute-never */
#define REGIME_SPAN0        0x800   /* SCTLR_EL1.SPAN = 0 (FEAT_PAN): exception entry to EL1 sets PSTATE.PAN */
#define REGIME_EPAN         0x1000  /* SCTLR_EL1.EPAN (FEAT_PAN3): PAN covers EL0-executable memory too */
#define REGIME_PAN          0x2000  /* PSTATE.PAN = 1 when the steps start (FEAT_PAN) */
#define REGIME_HPD0         0x4000  /* TCR_EL1.HPD0/HPD1 (FEAT_HPDS): hierarchical permissions disabled */
#define REGIME_HPD1         0x8000
#define REGIME_E0PD0        0x10000 /* TCR_EL1.E0PD0/E0PD1 (FEAT_E0PD): EL0 accesses through TTBRn fault */
#define REGIME_E0PD1        0x20000
#define REGIME_AS           0x40000 /* TCR_EL1.AS: 16-bit ASIDs */
#define REGIME_A1           0x80000 /* TCR_EL1.A1: TTBR1_EL1.ASID is the current ASID */
#define REGIME_EL2          0x100000 /* the steps run at EL2 in the EL2 regime (HCR_EL2.E2H = 0): TTBR0_EL2, TCR_EL2 */
#define REGIME_EL20         0x200000 /* the EL2&0 regime (FEAT_VHE): steps at EL2 with E2H = TGE = 1, in +vhe boots only */
/* HCR_EL2.NV and NV1 (FEAT_NV) while each AT step runs at EL1 (steps.c: the case's only steps are AT's) */
#define REGIME_NV           0x400000
#define REGIME_NV1          0x800000
/* HCRX_EL2.FnXS (FEAT_XS, FEAT_HCX) while the steps run: EL1's plain TLBIs act as their nXS forms */
#define REGIME_FNXS         0x1000000
/* SCTLR_EL1.DZE (SCTLR_EL2.DZE in the EL2&0 regime): EL0 may execute DC ZVA; 0 traps it (EC 0x18, C5.3.38) */
#define REGIME_DZE          0x2000000
/* SCTLR_EL1.CMOW (FEAT_CMOW): EL0's DC CIVAC and IC IVAU need write permission (J1.1.4.26) */
#define REGIME_CMOW         0x4000000

/*
 * The TCR_EL1, MAIR_EL1 and SCTLR_EL1 fields a case sets, as the blob holds
 * them; and the registers of later features whole (the kernel writes each
 * only on a CPU that has it, mmu.c: a case needing one requires its feature).
 */
struct blob_regime {
	u8 tg0, tg1;            /* granule shift of TTBR0 / TTBR1 tables: 12, 14 or 16 */
	u8 t0sz, t1sz;
	u8 ips;                 /* TCR_EL1.IPS encoding */
	u8 reserved[3];
	u32 flags;              /* REGIME_* */
	u32 reserved2;
	u64 ttbr1;
	u64 mair;
	u64 tcr2;               /* TCR2_ELx (FEAT_TCR2) */
	u64 pir, pire0;         /* PIR_ELx, PIRE0_ELx (FEAT_S1PIE) */
	u64 mair2;              /* MAIR2_ELx (FEAT_AIE) */
};

struct blob_case {
	u32 id, id_len;         /* offset of the NUL-terminated ID, and its length */
	struct blob_regime regime;
	u32 maps, nmaps;        /* offset of each array, and its element count */
	u32 tables, ntables;
	u32 raws, nraws;
	u32 steps, nsteps;
	u32 stage2, nstage2;    /* the case's stage 2 (struct blob_stage2): nstage2 is 0 or 1 */
};

/* blob_stage2.flags */
#define STAGE2_FWB          0x01    /* HCR_EL2.FWB (FEAT_S2FWB) */
#define STAGE2_HA           0x02    /* VTCR_EL2.HA */
#define STAGE2_HD           0x04    /* VTCR_EL2.HD */
#define STAGE2_VS           0x08    /* VTCR_EL2.VS: 16-bit VMID */
#define STAGE2_DS           0x10    /* VTCR_EL2.DS (FEAT_LPA2) */
#define STAGE2_SL2          0x20    /* VTCR_EL2.SL2 (FEAT_LPA2) */
#define STAGE2_S2PIE        0x40    /* VTCR_EL2.S2PIE (FEAT_S2PIE): s2pir gives the permissions */
#define STAGE2_TDZ          0x80    /* HCR_EL2.TDZ: DC ZVA at EL1 and EL0 trapped to EL2 (C5.3.38) */
#define STAGE2_TPCP         0x100   /* HCR_EL2.TPCP: DC CIVAC, CVAC, IVAC (to the PoC) trapped to EL2 */
#define STAGE2_TPU          0x200   /* HCR_EL2.TPU: IC IVAU (to the PoU) trapped to EL2 */

/*
 * Stage 2 translation of EL1&0 (EL2 owns it: el2.c): the VTCR_EL2 fields a
 * case sets, the VMID, and the stage 2 mappings of IPAs.  The kernel maps its
 * own window and UART at their physical addresses besides (stage2.c).
 */
struct blob_stage2 {
	u8 tg;                  /* granule shift: 12, 14 or 16 */
	u8 t0sz;                /* VTCR_EL2.T0SZ */
	u8 sl0;                 /* VTCR_EL2.SL0 */
	u8 ps;                  /* VTCR_EL2.PS */
	u16 flags;              /* STAGE2_* */
	u16 vmid;
	u32 maps, nmaps;        /* struct s2_map */
	u32 raws, nraws;        /* struct raw, va being the IPA */
	u64 s2pir;              /* S2PIR_EL2 (FEAT_S2PIE) */
};

/* s2_map.flags */
#define S2MAP_AF            0x01
#define S2MAP_CONTIG        0x02
#define S2MAP_DBM           0x04

/* A stage 2 block or page: the leaf descriptor for ipa at level. */
struct s2_map {
	u64 ipa, pa;
	s8 level;
	u8 memattr;             /* MemAttr[3:0] */
	u8 s2ap;                /* enum s2ap */
	u8 sh;                  /* enum sh */
	u8 xn;                  /* XN[1:0] */
	u8 flags;               /* S2MAP_* */
	u8 reserved[2];
};

/* map.flags */
#define MAP_AF              0x01
#define MAP_NG              0x02
#define MAP_PXN             0x04
#define MAP_UXN             0x08
#define MAP_CONTIG          0x10
#define MAP_DBM             0x20

/* A block or page mapping: the leaf descriptor for va at level. */
struct map {
	u64 va, pa;
	s8 level;
	u8 attrindx;            /* MAIR_EL1 index; 8-15: MAIR2_EL1's (FEAT_AIE, descriptor bit 59) */
	u8 ap;                  /* enum ap */
	u8 sh;                  /* enum sh */
	u8 flags;               /* MAP_* */
	u8 space;               /* the TTBR0 table set (0 .. MAX_SPACES - 1; 0 for TTBR1's half) */
	u8 reserved[2];
};

/* table_attrs.flags */
#define TABLE_ATTR_PXN      0x01
#define TABLE_ATTR_UXN      0x02

/* Hierarchical attributes added to the table descriptor for va at level, after the maps. */
struct table_attrs {
	u64 va;
	s8 level;
	u8 aptable;             /* enum aptable */
	u8 flags;               /* TABLE_ATTR_* */
	u8 space;
	u8 reserved[4];
};

/* A descriptor written verbatim at the slot for va at level (tables above it are made). */
struct raw {
	u64 va, desc;
	s8 level;
	u8 space;               /* stage 1 only */
	u8 reserved[6];
};

/* step.op */
#define OP_LOAD8            0
#define OP_LOAD16           1
#define OP_LOAD32           2
#define OP_LOAD64           3
#define OP_STORE8           4
#define OP_STORE16          5
#define OP_STORE32          6
#define OP_STORE64          7
#define OP_LDTR64           8   /* unprivileged (EL0) access from EL1 */
#define OP_STTR64           9
#define OP_FETCH            10  /* branch to va; a stub planted there returns */
#define OP_AT_S1E1R         11
#define OP_AT_S1E1W         12
#define OP_AT_S1E0R         13
#define OP_AT_S1E0W         14
#define OP_AT_S1E1RP        15  /* FEAT_PAN2: AT S1E1R/W honouring PSTATE.PAN */
#define OP_AT_S1E1WP        16
/* Self-tests of the kernel's own robustness (tests/), not MMU probes. */
#define OP_SELFTEST_BRK     17  /* an exception outside any probe */
#define OP_SELFTEST_NESTED  18  /* an exception inside the exception handler */
#define OP_SELFTEST_HANG    19  /* loop forever */
/*
 * Two-stage address translation, executed at EL2 (el2.c) with the case's stage 1 and
 * stage 2 in force; or, where value is not 0, under VTCR_EL2 = value and VTTBR_EL2 with
 * the bits of mask flipped, for that AT alone (a geometry the kernel cannot run under).
 */
#define OP_AT_S12E1R        20
#define OP_AT_S12E1W        21
#define OP_AT_S12E0R        22
#define OP_AT_S12E0W        23
/*
 * Changing translations (maint.c): descriptor writes and reads at the slot
 * for va at level (tables above it are made as needed), barriers, TLB
 * maintenance with value as the TLBI operand (Xt), and system register writes.
 */
#define OP_WRITE_DESC       24  /* slot = (slot & ~mask) | value */
#define OP_READ_DESC        25
#define OP_DSB_ISH          26
#define OP_ISB              27
#define OP_TLBI_VMALLE1     28
#define OP_TLBI_VMALLE1IS   29
#define OP_TLBI_VAE1        30
#define OP_TLBI_VAE1IS      31
#define OP_TLBI_VALE1       32
#define OP_TLBI_VALE1IS     33
#define OP_TLBI_ASIDE1      34
#define OP_TLBI_ASIDE1IS    35
#define OP_TLBI_VAAE1       36
#define OP_TLBI_VAAE1IS     37
#define OP_TLBI_VAALE1      38
#define OP_TLBI_VAALE1IS    39
#define OP_SET_TTBR0        40  /* TTBR0_EL1 = the case's TTBR0 tables of set `space` | value (the ASID field) */
#define OP_SET_TTBR1        41
#define OP_SET_TCR          42  /* reg = (reg & ~mask) | value */
#define OP_SET_MAIR         43
#define OP_SET_SCTLR        44
/*
 * Fix-ups (fixup.c): the step after an access that faulted repairs the
 * fault as an OS handler would, then runs that access again.  Only after an
 * access step (blob.c checks it).  value and mask are the descriptor write at
 * the slot for va at level, as for OP_WRITE_DESC.
 */
#define OP_FIXUP_MAP        45  /* demand paging: write the descriptor; DSB, ISB (a fault is never cached) */
#define OP_FIXUP_COPY       46  /* copy-on-write: copy the page to the new descriptor's; DSB, TLBI, DSB, ISB */
#define OP_FIXUP_AF         47  /* the Access flag in software: write the descriptor; DSB, ISB */
/*
 * EL2's own (a case whose steps run at EL2: REGIME_EL2 or REGIME_EL20; UNDEFINED at
 * EL1): AT, and TLBI with value as Xt (with E2H = 1 the operand has an ASID, as TLBI
 * VAE1's).
 */
#define OP_AT_S1E2R         48
#define OP_AT_S1E2W         49
#define OP_TLBI_ALLE2       50
#define OP_TLBI_ALLE2IS     51
#define OP_TLBI_VAE2        52
#define OP_TLBI_VAE2IS      53
#define OP_TLBI_VALE2       54
#define OP_TLBI_VALE2IS     55
/* TLB maintenance by range of VAs (FEAT_TLBIRANGE, maint.c), value the operand as for OP_TLBI_*. */
#define OP_TLBI_RVAE1       56
#define OP_TLBI_RVAE1IS     57
#define OP_TLBI_RVALE1      58
#define OP_TLBI_RVALE1IS    59
#define OP_TLBI_RVAAE1      60
#define OP_TLBI_RVAAE1IS    61
#define OP_TLBI_RVAALE1     62
#define OP_TLBI_RVAALE1IS   63
/*
 * Changing stage 2 (maint.c; a case with a stage 2 only): descriptor writes
 * and reads at the stage 2 slot for the IPA in va at level, written by the EL1
 * kernel through its window (the tables are in the pool, mapped at both
 * stages); TLB maintenance of EL2 with value as Xt, and a VMID switch
 * (value: the new VTTBR_EL2.VMID), each executed by the EL2 half (hvc.h).
 */
#define OP_S2_WRITE_DESC    64  /* slot = (slot & ~mask) | value */
#define OP_S2_READ_DESC     65
#define OP_TLBI_IPAS2E1     66
#define OP_TLBI_IPAS2E1IS   67
#define OP_TLBI_IPAS2LE1    68
#define OP_TLBI_IPAS2LE1IS  69
#define OP_TLBI_VMALLS12E1  70
#define OP_TLBI_VMALLS12E1IS 71
#define OP_TLBI_ALLE1       72
#define OP_TLBI_ALLE1IS     73
#define OP_SET_VMID         74
/* EL2's TLBI by range (FEAT_TLBIRANGE; at EL2 only, as OP_TLBI_VAE2), value the operand as for OP_TLBI_RVAE1. */
#define OP_TLBI_RVAE2       75
#define OP_TLBI_RVAE2IS     76
#define OP_TLBI_RVALE2      77
#define OP_TLBI_RVALE2IS    78
/* Stage 2's TLBI by range of IPAs (FEAT_TLBIRANGE), executed by the EL2 half as OP_TLBI_IPAS2E1 (hvc.h). */
#define OP_TLBI_RIPAS2E1    79
#define OP_TLBI_RIPAS2E1IS  80
#define OP_TLBI_RIPAS2LE1   81
#define OP_TLBI_RIPAS2LE1IS 82
/*
 * Access kinds beyond the single-register load and store (probe.S, el0.S; the model's
 * AccessDescriptor for each: harness/model/translate.py ACCESS_KINDS): LDP/STP of two W
 * or two X registers (the first register at va, the second after it), and the
 * load-acquire and store-release of one X register (LDAR, STLR).
 */
#define OP_LDP32            83  /* the step record's value: the second register : the first */
#define OP_LDP64            84  /* value: the first register, value_hi the second */
#define OP_STP32            85  /* stores value's low and high halves */
#define OP_STP64            86  /* stores value, then mask (the second register) */
#define OP_LDAR64           87
#define OP_STLR64           88
/*
 * FEAT_ATS1A: AT S1E1A (at EL1, or at EL2 in the EL2&0 regime) and AT S1E2A (EL2's, at EL2 as
 * OP_AT_S1E2R): stage 1 translation without permission checks (ATAccess_Any).
 */
#define OP_AT_S1E1A         89
#define OP_AT_S1E2A         90
/*
 * Load-exclusive (LDXR; LDAXR, with acquire) and the FEAT_LSE atomics of one X register,
 * each reporting the old contents as the step record's value: LDADD and SWP of value,
 * CAS of value where memory holds mask (the compare value, Xs).
 */
#define OP_LDXR64           91
#define OP_LDAXR64          92
#define OP_LDADD64          93
#define OP_SWP64            94
#define OP_CAS64            95
/*
 * FEAT_GCS's Guarded Control Stack stores of one X register (GCSSTR; GCSSTTR, EL1's
 * unprivileged form): GCS data accesses (AccessType_GCS), which need a GCS page's gcs
 * permission (PIE's encoding 0b1001) and report ESR_ELx.ISS2.GCS = 1 when they abort.
 * The kernel's EL2 enables them at boot (el2.c, GCSCR_EL1/GCSCRE0_EL1.STREn).
 */
#define OP_GCSSTR           96
#define OP_GCSSTTR          97
/*
 * FEAT_LRCPC's LDAPR of one X register, and the FEAT_LSE atomics with acquire (A), release (L)
 * or both (AL), as OP_LDADD64, OP_SWP64 and OP_CAS64.
 */
#define OP_LDAPR64          98
#define OP_LDADDA64         99
#define OP_LDADDL64         100
#define OP_LDADDAL64        101
#define OP_SWPA64           102
#define OP_SWPL64           103
#define OP_SWPAL64          104
#define OP_CASA64           105
#define OP_CASL64           106
#define OP_CASAL64          107
/*
 * SIMD&FP loads and stores of one B, H, S, D or Q register (LDR/STR Bt ... Qt): a load's value
 * the register's low bits (OP_VLOAD128: value, and value_hi its high half), a store's value
 * (OP_VSTORE128: value, then mask the high half).
 */
#define OP_VLOAD8           108
#define OP_VLOAD16          109
#define OP_VLOAD32          110
#define OP_VLOAD64          111
#define OP_VLOAD128         112
#define OP_VSTORE8          113
#define OP_VSTORE16         114
#define OP_VSTORE32         115
#define OP_VSTORE64         116
#define OP_VSTORE128        117
/* Load-exclusive pairs (LDXP of two W or two X registers; LDAXP of X, with acquire), reported as OP_LDP32, OP_LDP64. */
#define OP_LDXP32           118
#define OP_LDXP64           119
#define OP_LDAXP64          120
/*
 * FEAT_GCS's GCSPUSHM of value and GCSPOPM (reporting the doubleword popped), with the Guarded
 * Control Stack enabled at the step's EL for that step alone (GCSCR_EL1/GCSCRE0_EL1.PCRSEL):
 * va is the doubleword they access, so the kernel sets GCSPR_ELx to va + 8 (push) or va (pop).
 */
#define OP_GCSPUSHM         121
#define OP_GCSPOPM          122
/*
 * Store-exclusives of one X register (STXR; STLXR, with release) and of pairs (STXP of two W or two X
 * registers, as OP_STP32/OP_STP64 take them; STLXP of X): value the data; the record's value the status.
 */
#define OP_STXR64           123
#define OP_STLXR64          124
#define OP_STXP32           125
#define OP_STXP64           126
#define OP_STLXP64          127
/*
 * FEAT_GCS's GCSSS1 of va (Xt, the incoming stack's pointer), with the Guarded Control Stack enabled as for
 * OP_GCSPUSHM and GCSPR_ELx set to value (the outgoing stack's pointer) first.
 */
#define OP_GCSSS1           128
/* DC ZVA of the block holding va (DCZID_EL0.BS), at EL1, EL2 or EL0 (where REGIME_DZE is clear, EL0's traps). */
#define OP_DC_ZVA           129
/* Cache maintenance by VA (C5.3.21, C5.3.25, C5.3.37, C5.3.41) of va, at EL1, EL2 or (but DC IVAC) EL0: SCTLR_ELx.UCI is 1. */
#define OP_DC_CIVAC         130
#define OP_DC_CVAC          131
#define OP_DC_IVAC          132
#define OP_IC_IVAU          133
/*
 * FEAT_GCS's GCSSS2 (reporting Xt, the outgoing stack's Valid cap entry address), GCSPUSHX of an exception
 * return record (ELR_EL1 value, SPSR_EL1 GCS_EX_SPSR, LR ~value), GCSPOPX and GCSPOPCX (comparing the record
 * with ELR_EL1 value, SPSR_EL1 GCS_EX_SPSR, LR ~value), with the Guarded Control Stack enabled as for
 * OP_GCSPUSHM: GCSPR_ELx is va + 8 for GCSPUSHX (va is the record's top doubleword, LR's, as GCSPUSHM's),
 * va for the others.  The exception return records are EL1's only (UNDEFINED at EL0).
 */
#define OP_GCSSS2           134
#define OP_GCSPUSHX         135
#define OP_GCSPOPX          136
#define OP_GCSPOPCX         137
#define OP_COUNT            138

struct step {
	u64 va, value;
	u64 mask;               /* OP_WRITE_DESC, OP_SET_*: the bits value replaces; OP_AT_S12*: VTTBR_EL2's flipped;
	                           OP_STP64: the second register; OP_CAS*: the compare value */
	u32 op;                 /* OP_* */
	u8 el;                  /* where the step runs: 0 (el0.S; loads, stores, fetches), or the case's EL: 1, 2 with REGIME_EL20 */
	s8 level;               /* OP_WRITE_DESC, OP_READ_DESC, OP_FIXUP_*: the descriptor's level */
	u8 space;               /* OP_WRITE_DESC, OP_READ_DESC, OP_SET_TTBR0: the TTBR0 table set */
	u8 flags;               /* STEP_* */
};

/* step.flags */
#define STEP_NXS            0x01    /* an OP_TLBI_*: its nXS form (FEAT_XS: TLBI VAE1NXS ...) */

#ifndef __ASSEMBLER__
_Static_assert(sizeof(struct blob_header) == BLOB_HEADER_SIZE, "blob header");
_Static_assert(sizeof(struct blob_case) == BLOB_CASE_SIZE, "blob case record");
_Static_assert(sizeof(struct map) == BLOB_MAP_SIZE, "blob map record");
_Static_assert(sizeof(struct table_attrs) == BLOB_TABLE_SIZE, "blob table record");
_Static_assert(sizeof(struct raw) == BLOB_RAW_SIZE, "blob raw record");
_Static_assert(sizeof(struct step) == BLOB_STEP_SIZE, "blob step record");
_Static_assert(sizeof(struct blob_stage2) == BLOB_STAGE2_SIZE, "blob stage 2 record");
_Static_assert(sizeof(struct s2_map) == BLOB_S2MAP_SIZE, "blob stage 2 map record");
#endif

/* The regime of a case as the kernel programs it (mmu.c). */
struct regime {
	u8 tg0, tg1, t0sz, t1sz, ips;
	bool epd0, epd1, tbi0, tbi1, ds, ha, hd, sctlr_a, kernel_high, raw_ttbr1, as, a1, el20;
	bool wxn, span, epan, pan, hpd0, hpd1, e0pd0, e0pd1;   /* REGIME_* above (span: SCTLR_EL1.SPAN) */
	bool nv, nv1;           /* REGIME_NV, REGIME_NV1 */
	bool fnxs;              /* REGIME_FNXS */
	bool dze;               /* REGIME_DZE */
	bool cmow;              /* REGIME_CMOW */
	bool el2;               /* REGIME_EL2: TCR_EL2/SCTLR_EL2/MAIR_EL2/TTBR0_EL2 at EL2 (tg0, t0sz, ips as PS, tbi0 as TBI, hpd0 as HPD) */
	u64 ttbr1;
	u64 mair;
	u64 tcr2, pir, pire0, mair2;    /* as blob_regime's */
};

/* One case of a checked blob, its arrays read in place. */
struct mmut_case {
	const char *id;
	struct regime regime;
	const struct map *maps;
	const struct table_attrs *tables;
	const struct raw *raws;
	const struct step *steps;
	u32 nmaps, ntables, nraws, nsteps;
	u32 nspaces;                            /* TTBR0 table sets: 1 + the highest `space` of its records */
	const struct blob_stage2 *stage2;       /* NULL: no stage 2 */
	const struct s2_map *s2maps;
	const struct raw *s2raws;
};

#endif
