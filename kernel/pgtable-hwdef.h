/*
 * VMSAv8-64 stage 1 translation table descriptor fields, named once.
 * Arm ARM D8.3 "Translation table descriptor formats".
 */
#ifndef MMUT_PGTABLE_HWDEF_H
#define MMUT_PGTABLE_HWDEF_H

#include "types.h"

/* Descriptor type: bits[1:0] */
#define DESC_VALID      BIT(0)
#define DESC_TABLE      BIT(1)          /* levels 0-2: 1 = table, 0 = block */
#define DESC_PAGE       BIT(1)          /* level 3: must be 1 for a page */

/* Lower attributes of block and page descriptors */
#define PTE_ATTRINDX_SHIFT  2
#define PTE_ATTRINDX3_SHIFT 59          /* FEAT_AIE: AttrIndx[3] with TCR2_ELx.AIE (MAIR2_ELx's indices 8-15) */
#define PTE_ATTRINDX(i)     ((u64)((i) & 7) << PTE_ATTRINDX_SHIFT | (u64)((i) >> 3 & 1) << PTE_ATTRINDX3_SHIFT)
#define PTE_ATTRINDX_MASK   GENMASK(4, 2)
#define PTE_NS              BIT(5)
#define PTE_AP_SHIFT        6           /* AP[2:1] */
#define PTE_AP(ap)          ((u64)(ap) << PTE_AP_SHIFT)
#define PTE_AP_MASK         GENMASK(7, 6)
#define PTE_SH_SHIFT        8
#define PTE_SH(sh)          ((u64)(sh) << PTE_SH_SHIFT)
#define PTE_SH_MASK         GENMASK(9, 8)
#define PTE_AF              BIT(10)
#define PTE_NG              BIT(11)

/* Upper attributes of block and page descriptors */
#define PTE_DBM             BIT(51)
#define PTE_CONT            BIT(52)
#define PTE_PXN             BIT(53)
#define PTE_UXN             BIT(54)

/* Hierarchical attributes of table descriptors */
#define TABLE_PXN           BIT(59)
#define TABLE_UXN           BIT(60)
#define TABLE_AP_SHIFT      61
#define TABLE_AP(ap)        ((u64)(ap) << TABLE_AP_SHIFT)
#define TABLE_AP_MASK       GENMASK(62, 61)
#define TABLE_NS            BIT(63)

/* APTable values: limits on every access below the table (Arm ARM D8.4.1.3 "Hierarchical permissions") */
enum aptable { APTABLE_NONE = 0, APTABLE_NO_EL0 = 1, APTABLE_RO = 2, APTABLE_RO_NO_EL0 = 3 };

/* AP[2:1] values (Arm ARM D8.4.1.2 "Data access permissions") */
enum ap { AP_RW_EL1 = 0, AP_RW_ALL = 1, AP_RO_EL1 = 2, AP_RO_ALL = 3 };
/* SH[1:0] values */
enum sh { SH_NON = 0, SH_OUTER = 2, SH_INNER = 3 };

/*
 * Stage 2 block and page descriptors (Arm ARM D8.3.2, "Stage 2 attributes"):
 * the same type bits, output address, SH, AF, DBM and Contiguous as stage 1;
 * MemAttr[3:0] in place of AttrIndx and NS, S2AP[1:0] in place of AP[2:1],
 * and XN[1:0] (FEAT_XNX: XN[0] in bit 53) in place of PXN and UXN.
 */
#define S2_MEMATTR_SHIFT    2
#define S2_MEMATTR(m)       ((u64)(m) << S2_MEMATTR_SHIFT)
#define S2_MEMATTR_MASK     GENMASK(5, 2)
#define S2_AP_SHIFT         6
#define S2_AP(ap)           ((u64)(ap) << S2_AP_SHIFT)
#define S2_AP_MASK          GENMASK(7, 6)
#define S2_XN_SHIFT         53
#define S2_XN(xn)           ((u64)(xn) << S2_XN_SHIFT)
#define S2_XN_MASK          GENMASK(54, 53)

/* S2AP values (Arm ARM D8.4.3 "Stage 2 data access permissions") */
enum s2ap { S2AP_NONE = 0, S2AP_RO = 1, S2AP_WO = 2, S2AP_RW = 3 };
/* MemAttr values the kernel's own stage 2 mappings use (without HCR_EL2.FWB) */
#define S2_MEMATTR_DEVICE_NGNRE 0x1
#define S2_MEMATTR_NORMAL_WB    0xf
/* XN[1:0] = 0b10: execute-never at EL1 and EL0 */
#define S2_XN_ALL           2

/* Output address bits held in a descriptor: OA[47:granule shift] at bits[47:shift]. */
#define DESC_OA_MASK(shift) GENMASK(47, (shift))
/*
 * 52-bit output addresses (also next-level table addresses): with FEAT_LPA and
 * the 64K granule OA[51:48] sit in bits[15:12]; with FEAT_LPA2 (TCR_EL1.DS = 1)
 * OA[49:48] join the field above and OA[51:50] sit in bits[9:8], where SH was.
 */
#define DESC_OA52_LPA_SHIFT 12
#define DESC_OA52_LPA_MASK  GENMASK(15, 12)
#define DESC_OA_DS_MASK(shift) GENMASK(49, (shift))
#define DESC_OA52_DS_SHIFT  8
#define DESC_OA52_DS_MASK   GENMASK(9, 8)
/* TTBRn_EL1.BADDR[51:48] in bits[5:2] with either 52-bit format */
#define TTBR_BADDR52_SHIFT  2

#endif
