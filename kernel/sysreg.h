/* System registers and their fields, named once (Arm ARM D17/D19). */
#ifndef MMUT_SYSREG_H
#define MMUT_SYSREG_H

#include "types.h"

#ifndef __ASSEMBLER__
#define read_sysreg(r) ({ u64 __v; __asm__ volatile("mrs %0, " #r : "=r"(__v)); __v; })
#define write_sysreg(v, r) __asm__ volatile("msr " #r ", %0" : : "r"((u64)(v)))
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")
#endif

/* TCR_EL1 */
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
#define TCR_DS              BIT(59)

/* SCTLR_EL1 */
#define SCTLR_M             BIT(0)
#define SCTLR_A             BIT(1)
#define SCTLR_C             BIT(2)
#define SCTLR_SA            BIT(3)
#define SCTLR_SA0           BIT(4)
#define SCTLR_I             BIT(12)
#define SCTLR_WXN           BIT(19)
/* RES1 bits of SCTLR_EL1 in Armv8.0 (bits 29, 28, 23, 22, 20, 11) */
#define SCTLR_RES1          (BIT(29) | BIT(28) | BIT(23) | BIT(22) | BIT(20) | BIT(11))

/* MAIR_EL1: one attribute byte per index */
#define MAIR_ATTR(idx, attr) ((u64)(attr) << ((idx) * 8))

/* HCR_EL2 */
#define HCR_VM              BIT(0)      /* stage 2 translation for EL1&0 */
#define HCR_RW              BIT(31)
#define HCR_FWB             BIT(46)     /* FEAT_S2FWB: stage 2 forces Write-Back */

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

/* VTTBR_EL2 */
#define VTTBR_VMID_SHIFT    48

/* ESR_ELx.EC values the EL2 handler acts on */
#define ESR_EC_SHIFT        26
#define ESR_EC_IABT_LOW     0x20
#define ESR_EC_DABT_LOW     0x24
#define ESR_EC_HVC64        0x16

/* SPSR: EL1h with D, A, I, F masked */
#define SPSR_EL1H_MASKED    0x3c5

/* CurrentEL */
#define CURRENTEL_EL(v)     (((v) >> 2) & 3)

#endif
