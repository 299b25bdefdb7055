/*
 * Stage 2 tables for a case, with the same page-table library as stage 1:
 * any granule, the start level VTCR_EL2.SL0 names, concatenated start
 * tables where the IPA size needs them.  The kernel's window and UART are
 * mapped at IPA = PA, so the kernel runs at EL1 under stage 2 as it does
 * without it; the case maps its own IPAs besides (outside the window:
 * harness/cases/layout.py refuses a collision).
 */
#include "stage2.h"
#include "layout.h"
#include "sysreg.h"

static const struct s2_prot kernel_ram = {
	.memattr = S2_MEMATTR_NORMAL_WB, .s2ap = S2AP_RW, .sh = SH_INNER, .af = true,
};
static const struct s2_prot kernel_device = {
	.memattr = S2_MEMATTR_DEVICE_NGNRE, .s2ap = S2AP_RW, .af = true, .xn = S2_XN_ALL,
};

/*
 * VTCR_EL2.SL0 (Arm ARM D19.2, AArch64.S2StartLevel): with the 4K granule 0,
 * 1, 2 start at levels 2, 1, 0 (3: level 3, FEAT_TTST; SL2 = 1 with SL0 = 0:
 * level -1, FEAT_LPA2); with 16K and 64K 0, 1, 2, 3 start at levels 3, 2, 1, 0.
 */
int stage2_start_level(unsigned granule_shift, unsigned sl0, bool sl2)
{
	if (granule_shift == 12)
		return sl2 ? -1 : sl0 == 3 ? 3 : 2 - (int)sl0;
	return 3 - (int)sl0;
}

/* The descriptor format (Arm ARM D8.3): 52-bit with DS (4K, 16K) or with the 64K granule and a 52-bit PS. */
static enum oa_format stage2_oa_format(const struct blob_stage2 *s)
{
	if (s->tg == 16)
		return s->ps == TCR_IPS_52BIT ? OA_52_LPA : OA_48;
	return s->flags & STAGE2_DS ? OA_52_DS : OA_48;
}

static int map_kernel_ipa(struct pgtable *s2)
{
	/* Blocks where the granule's level 2 block divides the window (4K, 16K), else pages. */
	int level = (KERNEL_WINDOW_SIZE % (1ULL << pgt_level_shift(s2->granule_shift, 2))) ? 3 : 2;
	u64 size, ram = s2_prot_bits(&kernel_ram);
	int err;

	if (level < s2->start_level)
		level = s2->start_level;
	size = 1ULL << pgt_level_shift(s2->granule_shift, level);
	err = pgt_map_attrs(s2, UART_BASE, UART_BASE, 3, s2_prot_bits(&kernel_device));
	for (u64 off = 0; !err && off < KERNEL_WINDOW_SIZE; off += size)
		err = pgt_map_attrs(s2, KERNEL_WINDOW_BASE + off, KERNEL_WINDOW_BASE + off, level, ram);
	return err;
}

int stage2_build(const struct mmut_case *c, struct pgtable *s2, struct table_pool *pool, struct stage2_error *error)
{
	const struct blob_stage2 *s = c->stage2;
	int err;

	*error = (struct stage2_error){ STAGE2_ROOT, 0 };
	if ((err = pgt_init_level(s2, pool, s->tg, 64 - s->t0sz, stage2_start_level(s->tg, s->sl0, s->flags & STAGE2_SL2),
				  stage2_oa_format(s))))
		return err;
	error->part = STAGE2_KERNEL;
	if ((err = map_kernel_ipa(s2)))
		return err;
	error->part = STAGE2_MAP;
	for (unsigned i = 0; i < s->nmaps; i++) {
		const struct s2_map *m = &c->s2maps[i];
		struct s2_prot prot = {
			.memattr = m->memattr, .s2ap = m->s2ap, .sh = m->sh, .xn = m->xn,
			.af = m->flags & S2MAP_AF, .contig = m->flags & S2MAP_CONTIG, .dbm = m->flags & S2MAP_DBM,
		};

		error->index = i;
		if ((err = pgt_map_attrs(s2, m->ipa, m->pa, m->level, s2_prot_bits(&prot))))
			return err;
	}
	error->part = STAGE2_RAW;
	for (unsigned i = 0; i < s->nraws; i++) {
		const struct raw *w = &c->s2raws[i];
		u64 *slot;

		error->index = i;
		if ((err = pgt_slot(s2, w->va, w->level, &slot)))
			return err;
		*slot = w->desc;
	}
	return PGT_OK;
}

static u64 vtcr_tg0(unsigned shift)
{
	return shift == 16 ? VTCR_TG0_64K : shift == 14 ? VTCR_TG0_16K : VTCR_TG0_4K;
}

u64 vtcr_from_stage2(const struct blob_stage2 *s)
{
	return VTCR_RES1 | VTCR_T0SZ(s->t0sz) | VTCR_SL0(s->sl0) | VTCR_IRGN0_WBWA | VTCR_ORGN0_WBWA |
	       VTCR_SH0_INNER | vtcr_tg0(s->tg) | VTCR_PS(s->ps) |
	       (s->flags & STAGE2_VS ? VTCR_VS : 0) | (s->flags & STAGE2_HA ? VTCR_HA : 0) |
	       (s->flags & STAGE2_HD ? VTCR_HD : 0) | (s->flags & STAGE2_DS ? VTCR_DS : 0) |
	       (s->flags & STAGE2_SL2 ? VTCR_SL2 : 0) | (s->flags & STAGE2_S2PIE ? VTCR_S2PIE : 0);
}

u64 vttbr_from_stage2(const struct blob_stage2 *s, const struct pgtable *s2)
{
	return pgt_ttbr(s2) | (u64)s->vmid << VTTBR_VMID_SHIFT;
}

/*
 * HCR_EL2's traps a case sets (TDZ, TPCP, TPU): on while each of its access steps runs (steps.c), off
 * between them, where the kernel's own DC CIVAC and IC IVAU would trap too.
 */
u64 hcr_step_traps(const struct blob_stage2 *s)
{
	return (s->flags & STAGE2_TDZ ? HCR_TDZ : 0) | (s->flags & STAGE2_TPCP ? HCR_TPCP : 0) |
	       (s->flags & STAGE2_TPU ? HCR_TPU : 0);
}

/* HCR_EL2 while the case's steps run: EL1 is AArch64, stage 2 on, the case's traps. */
u64 hcr_from_stage2(const struct blob_stage2 *s)
{
	return HCR_RW | HCR_VM | (s->flags & STAGE2_FWB ? HCR_FWB : 0) | hcr_step_traps(s);
}
