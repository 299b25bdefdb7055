/*
 * The kernel's EL2 half: it owns HCR_EL2, VTCR_EL2 and VTTBR_EL2, turns a
 * case's stage 2 on and off when the EL1 kernel asks (hvc.h), executes the
 * AT S12* instructions, the TLBIs of EL2 and the VMID switches (EL2 only)
 * for it, and takes the stage 2 faults of the EL1 kernel's probes and of its
 * EL0 steps: recorded raw (ESR_EL2, FAR_EL2, HPFAR_EL2) and the probe
 * resumed as exception.c resumes a stage 1 fault.  Any other exception
 * taken to EL2 from EL1 is reported and ends the run.  The half runs with
 * EL2's MMU off, except when the kernel itself has moved to EL2 for a case
 * in the EL2 regime (HVC_ENTER_EL2): exceptions from its code there (EL2t)
 * are the kernel's own, handled by exception.c as at EL1.
 */
#include "case.h"
#include "console.h"
#include "exception.h"
#include "exit_status.h"
#include "hvc.h"
#include "layout.h"
#include "probe.h"
#include "record.h"
#include "semihost.h"
#include "sysreg.h"

/* The last stage 2 fault of a probe, until the EL1 kernel takes it (HVC_TAKE_FAULT). */
static struct {
	bool taken;
	u64 esr, far, hpfar, elr;
} s2_fault;

void el2_handle(struct frame *f, u64 vector);

static u64 esr_ec(u64 esr)
{
	return (esr >> ESR_EC_SHIFT) & 0x3f;
}

static bool in(u64 pc, const char *start, const char *end)
{
	return pc >= (u64)(uintptr_t)start && pc < (u64)(uintptr_t)end;
}

/* Whether pc is in the EL0 code page, where EL0 steps run (el0.S; tables.c maps it at EL0_CODE_VA). */
static bool in_el0_code(u64 pc)
{
	return (pc & ~(u64)(EL0_CODE_SIZE - 1)) == EL0_CODE_VA;
}

/*
 * A data abort at a data probe's or an AT probe's instruction resumes after
 * it; an instruction abort of the fetch probe's branch target returns to the
 * probe through x30.  An EL0 step's probe (el0.S) is resumed the same way, at
 * EL0: after its access, or at its fetch's return, both the SVC that ends
 * the step at EL1 (el0.c).  The kernel's own code, data and stacks, and the
 * EL0 code page, are always mapped at stage 2, so nothing else faults at
 * stage 2.
 */
static bool resume_probe(struct frame *f)
{
	u64 ec = esr_ec(f->esr), elr = f->elr;
	bool from_el0 = (f->spsr & SPSR_M_MASK) == SPSR_M_EL0T;

	/* A stage 2 Data Abort of a probe, or its System instruction trapped by HCR_EL2 (TDZ, TPCP, TPU): resumed after it. */
	if ((ec == ESR_EC_DABT_LOW || ec == ESR_EC_SYS64) && (from_el0 ? in_el0_code(elr) :
				      (in(elr, __probes_start, __probes_end) ||
				       in(elr, __at_probes_start, __at_probes_end))))
		f->elr += 4;
	else if (ec == ESR_EC_IABT_LOW && (from_el0 ? in_el0_code(f->x[30]) :
					   f->x[30] == (u64)(uintptr_t)probe_fetch_return))
		f->elr = f->x[30];
	else
		return false;
	s2_fault.taken = true;
	s2_fault.esr = f->esr;
	s2_fault.far = read_sysreg(far_el2);
	s2_fault.hpfar = read_sysreg(hpfar_el2);
	s2_fault.elr = elr;
	return true;
}

/*
 * Every VMID's EL1&0 entries, both stages (TLBI ALLE1): a case may switch
 * VMIDs (OP_SET_VMID), so entries of an earlier case under any VMID must not
 * be there for it to meet.
 */
static void tlb_invalidate_stage2(void)
{
	dsb(ishst);
	__asm__ volatile("tlbi alle1");
	dsb(nsh);
	isb();
}

/* One TLBI of EL2's (its nXS form with nxs) and nothing else: the case's own DSB and ISB (at EL1) complete and
 * synchronize it. */
static bool run_tlbi_el2(u64 op, u64 xt, bool nxs)
{
	switch (op) {
	case OP_TLBI_IPAS2E1: tlbi_or_nxs(nxs, ipas2e1, 4, 4, 1, xt); break;
	case OP_TLBI_IPAS2E1IS: tlbi_or_nxs(nxs, ipas2e1is, 4, 0, 1, xt); break;
	case OP_TLBI_IPAS2LE1: tlbi_or_nxs(nxs, ipas2le1, 4, 4, 5, xt); break;
	case OP_TLBI_IPAS2LE1IS: tlbi_or_nxs(nxs, ipas2le1is, 4, 0, 5, xt); break;
	case OP_TLBI_VMALLS12E1: tlbi_all_or_nxs(nxs, vmalls12e1, 4, 7, 6); break;
	case OP_TLBI_VMALLS12E1IS: tlbi_all_or_nxs(nxs, vmalls12e1is, 4, 3, 6); break;
	case OP_TLBI_ALLE1: tlbi_all_or_nxs(nxs, alle1, 4, 7, 4); break;
	case OP_TLBI_ALLE1IS: tlbi_all_or_nxs(nxs, alle1is, 4, 3, 4); break;
	case OP_TLBI_RIPAS2E1: tlbi_range_or_nxs(nxs, 4, 4, 2, xt); break;
	case OP_TLBI_RIPAS2E1IS: tlbi_range_or_nxs(nxs, 4, 0, 2, xt); break;
	case OP_TLBI_RIPAS2LE1: tlbi_range_or_nxs(nxs, 4, 4, 6, xt); break;
	case OP_TLBI_RIPAS2LE1IS: tlbi_range_or_nxs(nxs, 4, 0, 6, xt); break;
	default: return false;
	}
	return true;
}

static u64 at_s12(u64 op, u64 va)
{
	switch (op) {
	case OP_AT_S12E1R: __asm__ volatile("at s12e1r, %0" : : "r"(va)); break;
	case OP_AT_S12E1W: __asm__ volatile("at s12e1w, %0" : : "r"(va)); break;
	case OP_AT_S12E0R: __asm__ volatile("at s12e0r, %0" : : "r"(va)); break;
	case OP_AT_S12E0W: __asm__ volatile("at s12e0w, %0" : : "r"(va)); break;
	default: return ~0ULL;
	}
	isb();
	return read_sysreg(par_el1);
}

/*
 * At boot (start.S, EL2's MMU off): EL1 may use the registers of later
 * features the cases program (mmu.c), untrapped: HCRX_EL2.TCR2En and
 * SCTLR2En (FEAT_HCX; 0 makes TCR2_EL1 and SCTLR2_EL1 UNDEFINED at EL1), and
 * the fine-grained traps of PIR_EL1, PIRE0_EL1 and MAIR2_EL1 off (FEAT_FGT;
 * their bits trap while 0).  With FEAT_GCS, HCRX_EL2.GCSEn (0 disables GCS
 * at EL1 and EL0), the fine-grained traps of GCSCR_EL1, GCSCRE0_EL1 and of
 * EL1's GCSSTR, GCSSTTR, GCSPUSHM, GCSPUSHX and GCSPOPCX off (HFGxTR_EL2.nGCS_EL1, nGCS_EL0;
 * HFGITR_EL2.nGCSSTR_EL1, nGCSPUSHM_EL1, nGCSEPP): mmu.c enables the GCS stores and GCSPUSHM.
 */
void el2_boot_traps(void)
{
	bool gcs = ID_PFR1_GCS(read_sysreg(id_aa64pfr1_el1));
	u64 hfgxtr = HFGXTR_N_EL1_REGS | (gcs ? HFGXTR_N_GCS_REGS : 0);

	write_sysreg(CPTR_EL2_RES1, cptr_el2);
	if (ID_MMFR1_HCX(read_sysreg(id_aa64mmfr1_el1)))
		write_sysreg(HCRX_TCR2EN | HCRX_SCTLR2EN | (gcs ? HCRX_GCSEN : 0), HCRX_EL2);
	if (ID_MMFR0_FGT(read_sysreg(id_aa64mmfr0_el1))) {
		write_sysreg(read_sysreg(HFGRTR_EL2) | hfgxtr, HFGRTR_EL2);
		write_sysreg(read_sysreg(HFGWTR_EL2) | hfgxtr, HFGWTR_EL2);
		if (gcs)
			write_sysreg(read_sysreg(HFGITR_EL2) | HFGITR_NGCSSTR_EL1 | HFGITR_NGCSPUSHM_EL1 | HFGITR_NGCSEPP,
				     HFGITR_EL2);
	}
	isb();
}

/* S2PIR_EL2 for the next stage 2, on a CPU with FEAT_S2PIE (0 where the case sets none). */
static void set_s2pir(u64 s2pir)
{
	if (ID_MMFR3_S2PIE(read_sysreg(ID_AA64MMFR3_EL1)))
		write_sysreg(s2pir, S2PIR_EL2);
}

/*
 * An AT S12* under another stage 2 geometry, for a case's probe of VTCR_EL2's
 * and VTTBR_EL2's checks (a geometry the EL1 kernel could not itself run
 * under): VTCR_EL2 = vtcr and VTTBR_EL2 with the bits of vttbr_flip flipped
 * for the AT alone.  A TLB may hold VTCR_EL2's fields, so every EL1&0 entry
 * goes before the AT, and after it (none made under the other geometry may
 * outlive it).
 */
static u64 at_s12_under(u64 op, u64 va, u64 vtcr, u64 vttbr_flip)
{
	u64 vtcr_was = read_sysreg(vtcr_el2), vttbr_was = read_sysreg(vttbr_el2), par;

	write_sysreg(vtcr, vtcr_el2);
	write_sysreg(vttbr_was ^ vttbr_flip, vttbr_el2);
	isb();
	tlb_invalidate_stage2();
	par = at_s12(op, va);
	write_sysreg(vtcr_was, vtcr_el2);
	write_sysreg(vttbr_was, vttbr_el2);
	isb();
	tlb_invalidate_stage2();
	return par;
}

/*
 * What the EL1 kernel's exception handling does under HCR_EL2.NV/NV1 (a case's
 * nested steps, steps.c), which traps to EL2 and is emulated here as a host
 * hypervisor would for its guest hypervisor, so that a step's fault is taken
 * at EL1, recorded and resumed as without NV (D24.2.62):
 *  - ERET (EC 0x1A, NV): return to ELR_EL1 with SPSR_EL1, whose M[3:2] say EL2
 *    for an exception taken from EL1 under NV (AArch64.TakeException: spsr<3:2>
 *    = '10'), the EL1 the kernel ran at, or EL0 for an EL0 step (el0.S el0_call;
 *    el0.c returns from its end as EL2t under NV, CurrentEL reading EL2);
 *  - MRS/MSR ELR_EL1 and SPSR_EL1 (EC 0x18, NV1 traps them), and MRS FAR_EL2
 *    (under NV CurrentEL reads EL2, so exception.c reads FAR_EL2: a guest
 *    hypervisor's EL2 register, trapped), which reads the fault's FAR_EL1.
 * Nothing else traps while the steps run; anything else is unexpected.
 */
static bool emulate_nested(struct frame *f)
{
	u64 iss = f->esr & 0x1ffffff, reg = ESR_SYS64_REG(iss), rt = ESR_SYS64_RT(iss), value = 0;
	bool read = ESR_SYS64_READ(iss);

	if (!(read_sysreg(hcr_el2) & HCR_NV))
		return false;
	if (esr_ec(f->esr) == ESR_EC_ERET) {
		u64 spsr = read_sysreg(spsr_el1);

		if ((spsr & SPSR_M_EL_MASK) == SPSR_M_EL2)
			spsr = (spsr & ~SPSR_M_EL_MASK) | SPSR_M_EL1;
		f->elr = read_sysreg(elr_el1);
		f->spsr = spsr;
		return true;
	}
	if (esr_ec(f->esr) != ESR_EC_SYS64)
		return false;
	if (!read)
		value = rt == 31 ? 0 : f->x[rt];
	if (reg == ESR_SYS64_ENC(3, 0, 4, 0, 1)) {              /* ELR_EL1 */
		if (read)
			value = read_sysreg(elr_el1);
		else
			write_sysreg(value, elr_el1);
	} else if (reg == ESR_SYS64_ENC(3, 0, 4, 0, 0)) {       /* SPSR_EL1 */
		if (read)
			value = read_sysreg(spsr_el1);
		else
			write_sysreg(value, spsr_el1);
	} else if (reg == ESR_SYS64_ENC(3, 4, 6, 0, 0) && read) {  /* FAR_EL2 */
		value = read_sysreg(far_el1);
	} else {
		return false;
	}
	if (read && rt != 31)
		f->x[rt] = value;
	f->elr += 4;
	return true;
}

static bool hvc(struct frame *f)
{
	switch (f->x[0]) {
	case HVC_STAGE2_ON:
		set_s2pir(f->x[4]);
		write_sysreg(f->x[1], vtcr_el2);
		write_sysreg(f->x[2], vttbr_el2);
		isb();
		tlb_invalidate_stage2();
		write_sysreg(f->x[3], hcr_el2);
		isb();
		break;
	case HVC_STAGE2_OFF:
		write_sysreg(HCR_RW, hcr_el2);
		isb();
		tlb_invalidate_stage2();
		break;
	case HVC_TAKE_FAULT:
		f->x[0] = s2_fault.taken;
		f->x[1] = s2_fault.esr;
		f->x[2] = s2_fault.far;
		f->x[3] = s2_fault.hpfar;
		f->x[4] = s2_fault.elr;
		s2_fault.taken = false;
		break;
	case HVC_AT_S12:
		f->x[0] = f->x[3] ? at_s12_under(f->x[1], f->x[2], f->x[3], f->x[4]) : at_s12(f->x[1], f->x[2]);
		break;
	case HVC_TLBI:
		return run_tlbi_el2(f->x[1], f->x[2], f->x[3]);
	case HVC_SET_VMID:
		write_sysreg((read_sysreg(vttbr_el2) & ~VTTBR_VMID_MASK) | f->x[1] << VTTBR_VMID_SHIFT, vttbr_el2);
		break;
	case HVC_SET_NV:
		write_sysreg((read_sysreg(hcr_el2) & ~(HCR_NV | HCR_NV1)) | (f->x[1] & (HCR_NV | HCR_NV1)), hcr_el2);
		isb();
		tlbi_all(vmalle1);
		dsb(ish);
		break;
	case HVC_SET_TRAPS:
		write_sysreg((read_sysreg(hcr_el2) & ~HCR_STEP_TRAPS) | (f->x[1] & HCR_STEP_TRAPS), hcr_el2);
		break;
	case HVC_SET_FNXS:
		/* HCRX_EL2 is UNDEFINED without FEAT_HCX: a case with fnxs requires it (harness/cases/validation.py). */
		if (ID_MMFR1_HCX(read_sysreg(id_aa64mmfr1_el1)))
			write_sysreg((read_sysreg(HCRX_EL2) & ~HCRX_FNXS) | (f->x[1] ? HCRX_FNXS : 0), HCRX_EL2);
		break;
	case HVC_ENTER_EL2:
		f->spsr = SPSR_EL2T_MASKED;
		break;
	default:
		return false;
	}
	return true;
}

void el2_handle(struct frame *f, u64 vector)
{
	if (vector < VECTOR_LOWER_A64_SYNC) {
		/* From the kernel at EL2 (or the handler itself): its HVC back to EL1, else exception.c's. */
		if (vector == VECTOR_CURRENT_SP0_SYNC && esr_ec(f->esr) == ESR_EC_HVC64 && f->x[0] == HVC_LEAVE_EL2)
			f->spsr = SPSR_EL1T_MASKED;
		else
			handle_exception(f, vector);
		return;
	}
	if (vector == VECTOR_LOWER_A64_SYNC) {
		if (esr_ec(f->esr) == ESR_EC_HVC64 ? hvc(f) : resume_probe(f) || emulate_nested(f))
			return;
	}
	console_set_uart(UART_BASE);    /* EL2's MMU is off here: the UART at its PA */
	record_begin("exception");
	record_str("kind", "unexpected");
	record_dec("el", 2);
	record_dec("vector", vector);
	record_hex("esr", f->esr);
	record_hex("far", read_sysreg(far_el2));
	record_hex("hpfar", read_sysreg(hpfar_el2));
	record_hex("elr", f->elr);
	record_hex("spsr", f->spsr);
	if (current_case_id)
		record_str("case", current_case_id);
	record_end();
	semihost_exit(EXIT_UNEXPECTED);
}
