/*
 * Maintenance steps, the seeds' map/unmap/protect/TLB API as data: each does
 * exactly one thing (a descriptor store, one barrier, one TLBI, one MSR) and
 * nothing implied, so a case spells out the sequence the Arm ARM requires
 * (D8.15 "TLB maintenance", break-before-make) and can leave a part out.
 * A descriptor store is a single 64-bit store (single-copy atomic, as the
 * architecture needs for a live table); the walks are coherent with it
 * (TCR_EL1 IRGN/ORGN Write-Back, Inner Shareable, mmu.c).
 */
#include "hvc.h"
#include "maint.h"
#include "record.h"
#include "sysreg.h"

bool is_maint(u32 op)
{
	return (op >= OP_WRITE_DESC && op <= OP_SET_SCTLR) || (op >= OP_TLBI_ALLE2 && op <= OP_TLBI_VALE2IS) ||
	       (op >= OP_TLBI_RVAE1 && op <= OP_TLBI_RVAALE1IS) || (op >= OP_S2_WRITE_DESC && op <= OP_SET_VMID) ||
	       (op >= OP_TLBI_RVAE2 && op <= OP_TLBI_RIPAS2LE1IS);
}

/* The register of the regime the kernel runs in (EL1&0's, or EL2's at EL2: sysreg.h). */
#define set_bits(reg, value, mask) write_sysreg_elx((read_sysreg_elx(reg) & ~(mask)) | (value), reg)

/*
 * A TLBI and its Inner Shareable form, one case each (op, op##IS), by their encodings (C5.5):
 * CRm 7 and 3 (by range: 6 and 2), the same op1 and op2.
 */
#define TLBI_AND_IS(OP, insn, op1, op2) \
	case OP: tlbi_or_nxs(nxs, insn, op1, 7, op2, xt); break; \
	case OP##IS: tlbi_or_nxs(nxs, insn##is, op1, 3, op2, xt); break
#define TLBI_ALL_AND_IS(OP, insn, op1) \
	case OP: tlbi_all_or_nxs(nxs, insn, op1, 7, 0); break; \
	case OP##IS: tlbi_all_or_nxs(nxs, insn##is, op1, 3, 0); break
#define TLBI_RANGE_AND_IS(OP, op1, op2) \
	case OP: tlbi_range_or_nxs(nxs, op1, 6, op2, xt); break; \
	case OP##IS: tlbi_range_or_nxs(nxs, op1, 2, op2, xt); break

/* One TLBI, its nXS form with nxs (FEAT_XS: STEP_NXS). */
static void run_tlbi(u32 op, u64 xt, bool nxs)
{
	switch (op) {
	TLBI_ALL_AND_IS(OP_TLBI_VMALLE1, vmalle1, 0);
	TLBI_AND_IS(OP_TLBI_VAE1, vae1, 0, 1);
	TLBI_AND_IS(OP_TLBI_VALE1, vale1, 0, 5);
	TLBI_AND_IS(OP_TLBI_ASIDE1, aside1, 0, 2);
	TLBI_AND_IS(OP_TLBI_VAAE1, vaae1, 0, 3);
	TLBI_AND_IS(OP_TLBI_VAALE1, vaale1, 0, 7);
	TLBI_RANGE_AND_IS(OP_TLBI_RVAE1, 0, 1);
	TLBI_RANGE_AND_IS(OP_TLBI_RVALE1, 0, 5);
	TLBI_RANGE_AND_IS(OP_TLBI_RVAAE1, 0, 3);
	TLBI_RANGE_AND_IS(OP_TLBI_RVAALE1, 0, 7);
	/* The EL2 regime's, at EL2 (harness/cases/validation.py allows them in a case whose steps run there only). */
	TLBI_ALL_AND_IS(OP_TLBI_ALLE2, alle2, 4);
	TLBI_AND_IS(OP_TLBI_VAE2, vae2, 4, 1);
	TLBI_AND_IS(OP_TLBI_VALE2, vale2, 4, 5);
	TLBI_RANGE_AND_IS(OP_TLBI_RVAE2, 4, 1);
	TLBI_RANGE_AND_IS(OP_TLBI_RVALE2, 4, 5);
	}
}

/* The TTBRn_EL1.ASID field: bits[63:48]. */
#define TTBR_ASID(asid) ((u64)(asid) << 48)

/*
 * The step's effect; false with *err set if the descriptor slot cannot be reached.
 * Stage 2's tables are in the pool, which the kernel's window maps at both
 * stages as Normal Write-Back, Inner Shareable, as VTCR_EL2 has the stage 2
 * walks read them: so EL1 writes them with one coherent 64-bit store, as it
 * writes stage 1's (EL2 runs with its MMU off, and its stores would bypass
 * the caches the walks may read through).  The TLBIs of EL2 and the VMID
 * switch are EL2's alone: executed there by an HVC.
 */
static bool maint(const struct step *s, struct pgtable *spaces, struct pgtable *tt1, struct pgtable *s2, u64 *desc,
		  int *err)
{
	bool stage2 = s->op == OP_S2_WRITE_DESC || s->op == OP_S2_READ_DESC;
	u64 *slot;

	switch (s->op) {
	case OP_WRITE_DESC:
	case OP_READ_DESC:
	case OP_S2_WRITE_DESC:
	case OP_S2_READ_DESC:
		*err = pgt_slot(stage2 ? s2 : (s->va & BIT(55)) ? tt1 : &spaces[s->space], s->va, s->level, &slot);
		if (*err)
			return false;
		if (s->op == OP_WRITE_DESC || s->op == OP_S2_WRITE_DESC)
			*(volatile u64 *)slot = (*(volatile u64 *)slot & ~s->mask) | s->value;
		*desc = *(volatile u64 *)slot;
		return true;
	case OP_SET_VMID: hvc_call(HVC_SET_VMID, s->value, 0, 0, 0); break;
	case OP_TLBI_IPAS2E1: case OP_TLBI_IPAS2E1IS: case OP_TLBI_IPAS2LE1: case OP_TLBI_IPAS2LE1IS:
	case OP_TLBI_VMALLS12E1: case OP_TLBI_VMALLS12E1IS: case OP_TLBI_ALLE1: case OP_TLBI_ALLE1IS:
	case OP_TLBI_RIPAS2E1: case OP_TLBI_RIPAS2E1IS: case OP_TLBI_RIPAS2LE1: case OP_TLBI_RIPAS2LE1IS:
		hvc_call(HVC_TLBI, s->op, s->value, s->flags & STEP_NXS, 0);
		break;
	case OP_DSB_ISH: dsb(ish); break;
	case OP_ISB: isb(); break;
	case OP_SET_TTBR0: write_sysreg_elx(pgt_ttbr(&spaces[s->space]) | TTBR_ASID(s->value), ttbr0); break;
	case OP_SET_TTBR1: write_sysreg(pgt_ttbr(tt1) | TTBR_ASID(s->value), ttbr1_el1); break;
	case OP_SET_TCR: set_bits(tcr, s->value, s->mask); break;
	case OP_SET_MAIR: set_bits(mair, s->value, s->mask); break;
	case OP_SET_SCTLR: set_bits(sctlr, s->value, s->mask); break;
	default: run_tlbi(s->op, s->value, s->flags & STEP_NXS);
	}
	return true;
}

void run_maint(unsigned n, const struct step *s, const struct regime *r,
	       struct pgtable *spaces, struct pgtable *tt1, struct pgtable *s2)
{
	u64 desc = 0;
	int err = PGT_OK;
	bool has_desc = s->op == OP_WRITE_DESC || s->op == OP_READ_DESC || s->op == OP_S2_WRITE_DESC ||
			s->op == OP_S2_READ_DESC;
	/* Without a stage 2 there is no EL2 half to ask, nor stage 2 tables (the harness refuses such cases). */
	bool no_stage2 = !s2 && ((s->op >= OP_S2_WRITE_DESC && s->op <= OP_SET_VMID) || s->op >= OP_TLBI_RIPAS2E1);
	/* From the TTBR1 alias the tables' physical addresses are not mapped: the harness refuses such cases. */
	bool done = !r->kernel_high && !no_stage2 && maint(s, spaces, tt1, s2, &desc, &err);

	record_step(n, s->va);
	if (done) {
		record_str("result", "ok");
		if (has_desc)
			record_hex("desc", desc);
	} else {
		record_str("result", "error");
		record_str("error", r->kernel_high ? "kernel_high" : no_stage2 ? "no_stage2" : pgt_error_name(err));
	}
	record_end();
}
