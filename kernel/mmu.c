/*
 * The enable sequence of the seeds (and of Arm ARM D8.2 / B2.3 on ordering):
 * registers first, an ISB so they are in effect, TLBs invalidated, then
 * SCTLR_ELx.M with an ISB so the next instruction is fetched translated.
 * The kernel runs from an identity mapping, so the PC stays valid across it.
 * The registers are those of the regime the kernel runs in: EL1&0's, or at
 * EL2 (a case with regime.el2) EL2's own, in their EL2 layouts.
 */
#include "mmu.h"
#include "sysreg.h"

static u64 tg0(unsigned shift)
{
	return shift == 16 ? TCR_TG0_64K : shift == 14 ? TCR_TG0_16K : TCR_TG0_4K;
}

static u64 tg1(unsigned shift)
{
	return shift == 16 ? TCR_TG1_64K : shift == 14 ? TCR_TG1_16K : TCR_TG1_4K;
}

u64 tcr_from_regime(const struct regime *r)
{
	if (r->el2)
		return TCR_EL2_RES1 | TCR_T0SZ(r->t0sz) | tg0(r->tg0) |
		       TCR_IRGN0_WBWA | TCR_ORGN0_WBWA | TCR_SH0_INNER | TCR_EL2_PS(r->ips) |
		       (r->tbi0 ? TCR_EL2_TBI : 0) | (r->ha ? TCR_EL2_HA : 0) | (r->hd ? TCR_EL2_HD : 0) |
		       (r->hpd0 ? TCR_EL2_HPD : 0) | (r->ds ? TCR_EL2_DS : 0);
	return TCR_T0SZ(r->t0sz) | tg0(r->tg0) |
	       TCR_IRGN0_WBWA | TCR_ORGN0_WBWA | TCR_SH0_INNER |
	       TCR_T1SZ(r->t1sz) | tg1(r->tg1) |
	       TCR_IRGN1_WBWA | TCR_ORGN1_WBWA | TCR_SH1_INNER |
	       TCR_IPS(r->ips) |
	       (r->epd0 ? TCR_EPD0 : 0) | (r->epd1 ? TCR_EPD1 : 0) |
	       (r->tbi0 ? TCR_TBI0 : 0) | (r->tbi1 ? TCR_TBI1 : 0) | (r->ds ? TCR_DS : 0) |
	       (r->ha ? TCR_HA : 0) | (r->hd ? TCR_HD : 0) |
	       (r->hpd0 ? TCR_HPD0 : 0) | (r->hpd1 ? TCR_HPD1 : 0) |
	       (r->e0pd0 ? TCR_E0PD0 : 0) | (r->e0pd1 ? TCR_E0PD1 : 0) |
	       (r->as ? TCR_AS : 0) | (r->a1 ? TCR_A1 : 0);
}

/* SCTLR_EL1, or SCTLR_EL2 (E2H = 0: its own RES1 bits, no SPAN or EPAN, the regime having no EL0). */
u64 sctlr_from_regime(const struct regime *r)
{
	u64 sctlr = SCTLR_M | SCTLR_C | SCTLR_I | (r->sctlr_a ? SCTLR_A : 0) | (r->wxn ? SCTLR_WXN : 0);

	if (r->el2)
		return SCTLR_EL2_RES1 | sctlr;
	sctlr |= SCTLR_RES1 | SCTLR_UCI | (r->epan ? SCTLR_EPAN : 0) | (r->dze ? SCTLR_DZE : 0) |
		 (r->cmow ? SCTLR_CMOW : 0);
	return r->span ? sctlr : sctlr & ~SCTLR_SPAN;
}

/* Every entry of the regime the kernel runs in: EL1&0's (this VMID's), or EL2's. */
static void tlb_invalidate_all(void)
{
	dsb(ishst);
	if (current_el() == 2)
		__asm__ volatile("tlbi alle2");
	else
		__asm__ volatile("tlbi vmalle1");
	dsb(nsh);
	isb();
}

/*
 * Tables and data written with the MMU off went straight to memory; make
 * sure no stale cache line hides them from the cacheable walks that follow.
 */
void cache_clean_inval(u64 start, u64 size)
{
	u64 line = 4ULL << ((read_sysreg(ctr_el0) >> 16) & 0xf);  /* CTR_EL0.DminLine */

	for (u64 va = start & ~(line - 1); va < start + size; va += line)
		__asm__ volatile("dc civac, %0" : : "r"(va) : "memory");
	dsb(sy);
}

/*
 * The registers of later features, on a CPU that has them, whatever the
 * case (0 where it sets none, so no case inherits an earlier one's): TCR2
 * (FEAT_TCR2), PIR and PIRE0 (FEAT_S1PIE), MAIR2 (FEAT_AIE), and GCSCR_ELx and
 * GCSCRE0_EL1 with STREn and PUSHMEn (FEAT_GCS: GCSSTR, GCSSTTR and GCSPUSHM enabled, PCRSEL 0 so that
 * BL and RET make no GCS access).  The EL2 regime's PIRE0_EL2 is written too: it has no
 * EL0, so it is unused there.
 */
static void write_extended_regs(const struct regime *r)
{
	u64 mmfr3 = read_sysreg(ID_AA64MMFR3_EL1);
	bool el2 = current_el() == 2;

	if (ID_MMFR3_TCRX(mmfr3)) {
		if (el2)
			write_sysreg(r->tcr2, TCR2_EL2);
		else
			write_sysreg(r->tcr2, TCR2_EL1);
	}
	if (ID_MMFR3_S1PIE(mmfr3)) {
		if (el2) {
			write_sysreg(r->pir, PIR_EL2);
			write_sysreg(r->pire0, PIRE0_EL2);
		} else {
			write_sysreg(r->pir, PIR_EL1);
			write_sysreg(r->pire0, PIRE0_EL1);
		}
	}
	if (ID_MMFR3_AIE(mmfr3)) {
		if (el2)
			write_sysreg(r->mair2, MAIR2_EL2);
		else
			write_sysreg(r->mair2, MAIR2_EL1);
	}
	if (ID_PFR1_GCS(read_sysreg(id_aa64pfr1_el1))) {
		/*
		 * The GCS stores and GCSPUSHM run untrapped at each EL (CheckGCSSTREnabled, PUSHMEn); the
		 * Guarded Control Stack itself stays off (PCRSEL 0) but around a GCSPUSHM, GCSPOPM or GCSSS1 step.
		 */
		if (el2)
			write_sysreg(GCSCR_STREN | GCSCR_PUSHMEN, GCSCR_EL2);
		else
			write_sysreg(GCSCR_STREN | GCSCR_PUSHMEN, GCSCR_EL1);
		write_sysreg(GCSCR_STREN | GCSCR_PUSHMEN, GCSCRE0_EL1);
	}
}

void mmu_enable(const struct regime *r, u64 ttbr0, u64 ttbr1)
{
	write_sysreg_elx(r->mair, mair);
	write_extended_regs(r);
	write_sysreg_elx(tcr_from_regime(r), tcr);
	write_sysreg_elx(ttbr0, ttbr0);
	if (!r->el2)
		write_sysreg(ttbr1, ttbr1_el1);     /* the EL2 regime has one range; at EL2 with E2H = 1 this is TTBR1_EL2 */
	isb();
	tlb_invalidate_all();
	__asm__ volatile("ic iallu");
	dsb(nsh);
	write_sysreg_elx(sctlr_from_regime(r), sctlr);
	isb();
}

void mmu_disable(void)
{
	write_sysreg_elx(in_el2_regime() ? SCTLR_EL2_RES1 : SCTLR_RES1, sctlr);
	isb();
	tlb_invalidate_all();
}
