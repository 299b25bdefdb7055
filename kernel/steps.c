/*
 * A case's steps, one after another, each reported in a step record: the
 * accesses and AT instructions through the probes (at EL1, EL0 or EL2), the
 * maintenance steps (maint.c) and fix-ups (fixup.c), and the walk of each
 * step's VA, in full or as its digest (docs/protocol.md).
 */
#include "steps.h"
#include "cmdline.h"
#include "el0.h"
#include "exception.h"
#include "fixup.h"
#include "hvc.h"
#include "layout.h"
#include "maint.h"
#include "probe.h"
#include "record.h"
#include "sysreg.h"
#include "tables.h"

/*
 * What a software walk may read: the kernel's window, the only memory mapped
 * (identity, or at the alias) while the steps run.  It holds the table pool
 * and the frames; a raw table descriptor pointing elsewhere ends the walk.
 */
const struct walk_memory window = { KERNEL_WINDOW_BASE, KERNEL_WINDOW_SIZE, 0 };
const struct walk_memory window_alias = { KERNEL_WINDOW_BASE, KERNEL_WINDOW_SIZE, ALIAS_OFFSET };

/* What a data access's step record reports: the value loaded, the two registers of a pair load, or nothing. */
enum access_result { LOADS_VALUE, LOADS_PAIR32, LOADS_PAIR64, STORES };

/*
 * The data accesses, one row each: the probe at EL1 (or EL2), its twin at EL0
 * (el0.S; NULL where the op has none: LDTR/STTR, which are EL1's unprivileged
 * forms), and what the record reports.  A pair stores value and its second
 * register (second_register); a pair load of two W registers reports them as
 * one value, the second above the first, as they lie in memory.
 */
static const struct access_kind {
	data_probe *probe;
	void (*el0)(void);
	enum access_result result;
} access_kinds[OP_COUNT] = {
	[OP_LOAD8] = { probe_load8, el0_load8, LOADS_VALUE },
	[OP_LOAD16] = { probe_load16, el0_load16, LOADS_VALUE },
	[OP_LOAD32] = { probe_load32, el0_load32, LOADS_VALUE },
	[OP_LOAD64] = { probe_load64, el0_load64, LOADS_VALUE },
	[OP_STORE8] = { probe_store8, el0_store8, STORES },
	[OP_STORE16] = { probe_store16, el0_store16, STORES },
	[OP_STORE32] = { probe_store32, el0_store32, STORES },
	[OP_STORE64] = { probe_store64, el0_store64, STORES },
	[OP_LDTR64] = { probe_ldtr64, NULL, LOADS_VALUE },
	[OP_STTR64] = { probe_sttr64, NULL, STORES },
	[OP_LDP32] = { probe_ldp32, el0_ldp32, LOADS_PAIR32 },
	[OP_LDP64] = { probe_ldp64, el0_ldp64, LOADS_PAIR64 },
	[OP_STP32] = { probe_stp32, el0_stp32, STORES },
	[OP_STP64] = { probe_stp64, el0_stp64, STORES },
	[OP_LDAR64] = { probe_ldar64, el0_ldar64, LOADS_VALUE },
	[OP_STLR64] = { probe_stlr64, el0_stlr64, STORES },
	[OP_LDXR64] = { probe_ldxr64, el0_ldxr64, LOADS_VALUE },
	[OP_LDAXR64] = { probe_ldaxr64, el0_ldaxr64, LOADS_VALUE },
	[OP_LDADD64] = { probe_ldadd64, el0_ldadd64, LOADS_VALUE },     /* the old contents */
	[OP_SWP64] = { probe_swp64, el0_swp64, LOADS_VALUE },
	[OP_CAS64] = { probe_cas64, el0_cas64, LOADS_VALUE },
	[OP_LDAPR64] = { probe_ldapr64, el0_ldapr64, LOADS_VALUE },
	[OP_LDADDA64] = { probe_ldadda64, el0_ldadda64, LOADS_VALUE },
	[OP_LDADDL64] = { probe_ldaddl64, el0_ldaddl64, LOADS_VALUE },
	[OP_LDADDAL64] = { probe_ldaddal64, el0_ldaddal64, LOADS_VALUE },
	[OP_SWPA64] = { probe_swpa64, el0_swpa64, LOADS_VALUE },
	[OP_SWPL64] = { probe_swpl64, el0_swpl64, LOADS_VALUE },
	[OP_SWPAL64] = { probe_swpal64, el0_swpal64, LOADS_VALUE },
	[OP_CASA64] = { probe_casa64, el0_casa64, LOADS_VALUE },
	[OP_CASL64] = { probe_casl64, el0_casl64, LOADS_VALUE },
	[OP_CASAL64] = { probe_casal64, el0_casal64, LOADS_VALUE },
	[OP_GCSSTR] = { probe_gcsstr, el0_gcsstr, STORES },
	[OP_GCSSTTR] = { probe_gcssttr, NULL, STORES },
	[OP_VLOAD8] = { probe_vload8, el0_vload8, LOADS_VALUE },
	[OP_VLOAD16] = { probe_vload16, el0_vload16, LOADS_VALUE },
	[OP_VLOAD32] = { probe_vload32, el0_vload32, LOADS_VALUE },
	[OP_VLOAD64] = { probe_vload64, el0_vload64, LOADS_VALUE },
	[OP_VLOAD128] = { probe_vload128, el0_vload128, LOADS_PAIR64 },
	[OP_VSTORE8] = { probe_vstore8, el0_vstore8, STORES },
	[OP_VSTORE16] = { probe_vstore16, el0_vstore16, STORES },
	[OP_VSTORE32] = { probe_vstore32, el0_vstore32, STORES },
	[OP_VSTORE64] = { probe_vstore64, el0_vstore64, STORES },
	[OP_VSTORE128] = { probe_vstore128, el0_vstore128, STORES },
	[OP_LDXP32] = { probe_ldxp32, el0_ldxp32, LOADS_PAIR32 },
	[OP_LDXP64] = { probe_ldxp64, el0_ldxp64, LOADS_PAIR64 },
	[OP_LDAXP64] = { probe_ldaxp64, el0_ldaxp64, LOADS_PAIR64 },
	[OP_GCSPUSHM] = { probe_gcspushm, el0_gcspushm, STORES },
	[OP_GCSPOPM] = { probe_gcspopm, el0_gcspopm, LOADS_VALUE },
	[OP_GCSSS1] = { probe_gcsss1, el0_gcsss1, STORES },
	[OP_STXR64] = { probe_stxr64, el0_stxr64, LOADS_VALUE },        /* the status */
	[OP_STLXR64] = { probe_stlxr64, el0_stlxr64, LOADS_VALUE },
	[OP_STXP32] = { probe_stxp32, el0_stxp32, LOADS_VALUE },
	[OP_STXP64] = { probe_stxp64, el0_stxp64, LOADS_VALUE },
	[OP_STLXP64] = { probe_stlxp64, el0_stlxp64, LOADS_VALUE },
	[OP_DC_ZVA] = { probe_dc_zva, el0_dc_zva, STORES },
	[OP_DC_CIVAC] = { probe_dc_civac, el0_dc_civac, STORES },
	[OP_DC_CVAC] = { probe_dc_cvac, el0_dc_cvac, STORES },
	[OP_DC_IVAC] = { probe_dc_ivac, NULL, STORES },       /* UNDEFINED at EL0 (C5.3.37) */
	[OP_IC_IVAU] = { probe_ic_ivau, el0_ic_ivau, STORES },
	[OP_GCSSS2] = { probe_gcsss2, el0_gcsss2, LOADS_VALUE },       /* Xt: the outgoing stack's cap entry */
	[OP_GCSPUSHX] = { probe_gcspushx, NULL, STORES },              /* UNDEFINED at EL0 (C5.9.5) */
	[OP_GCSPOPX] = { probe_gcspopx, NULL, STORES },
	[OP_GCSPOPCX] = { probe_gcspopcx, NULL, STORES },
};

/* GCSCR_EL1 without PCRSEL while a step of the Guarded Control Stack (is_gcs_enabled_op) runs at EL1, else 0: what the vectors write
 * before the handler's first BL (vectors.S). */
u64 gcs_step_gcscr;
/* GCSPR_ELx of the step's EL after a step of the Guarded Control Stack (is_gcs_enabled_op): its step record's gcspr. */
static u64 gcs_step_gcspr;

static bool is_gcs_enabled_op(u32 op)
{
	return op == OP_GCSPUSHM || op == OP_GCSPOPM || op == OP_GCSSS1 || (op >= OP_GCSSS2 && op <= OP_GCSPOPCX);
}

/*
 * A GCSPUSHM, GCSPOPM, GCSSS1, GCSSS2, GCSPUSHX, GCSPOPX or GCSPOPCX step, with the Guarded Control Stack
 * enabled at its EL for it alone (GCSEnabled: GCSCR_EL1.PCRSEL or GCSCRE0_EL1.PCRSEL; the kernel's own BL and
 * RET must not use it): GCSPR_ELx points just above va for a push (AddGCSRecord and AddGCSExRecord store first
 * at GCSPR - 8), at va for a pop and GCSSS2 (each loads first at GCSPR), and is value, the outgoing stack, for
 * GCSSS1 of va.
 */
static struct reg_pair run_gcs_enabled(const struct access_kind *k, const struct step *s, const struct step_run *c)
{
	u64 ptr = s->op == OP_GCSPUSHM || s->op == OP_GCSPUSHX ? s->va + 8 : s->op == OP_GCSSS1 ? s->value : s->va;
	struct reg_pair r;

	if (s->el == 0) {
		u64 gcscre0 = read_sysreg(GCSCRE0_EL1);

		write_sysreg(ptr, GCSPR_EL0);
		write_sysreg(gcscre0 | GCSCR_PCRSEL, GCSCRE0_EL1);
		isb();
		r.first = el0_run(el0_code_va(k->el0, c->el0_code), s->va, s->value, 0, &r.second);
		write_sysreg(gcscre0, GCSCRE0_EL1);
		isb();
		gcs_step_gcspr = read_sysreg(GCSPR_EL0);
		return r;
	}
	data_probe *probe = (data_probe *)((uintptr_t)k->probe + c->code_offset);

	gcs_step_gcscr = read_sysreg(GCSCR_EL1);
	write_sysreg(ptr, GCSPR_EL1);
	isb();
	r = probe(s->va, s->value, gcs_step_gcscr | GCSCR_PCRSEL);
	gcs_step_gcscr = 0;
	gcs_step_gcspr = read_sysreg(GCSPR_EL1);
	return r;
}

static const struct access_kind *access_kind(u32 op)
{
	return access_kinds[op].probe ? &access_kinds[op] : NULL;
}

/* The CAS forms, which take a compare value. */
static bool is_cas(u32 op)
{
	return op == OP_CAS64 || (op >= OP_CASA64 && op <= OP_CASAL64);
}

/* The second register a probe takes: OP_STP64's and OP_STXP64's, OP_STLXP64's (the step's mask field),
 * OP_VSTORE128's high half and a CAS's compare value (mask too), OP_STP32's and OP_STXP32's value's high half. */
static u64 second_register(const struct step *s)
{
	return s->op == OP_STP64 || s->op == OP_STXP64 || s->op == OP_STLXP64 || s->op == OP_VSTORE128 || is_cas(s->op) ?
	       s->mask : s->value >> 32;
}

/* The registers a data access leaves (nothing of a store's is reported). */
static struct reg_pair run_access(const struct access_kind *k, const struct step *s, const struct step_run *c)
{
	struct reg_pair r;

	if (is_gcs_enabled_op(s->op))
		return run_gcs_enabled(k, s, c);
	if (s->el == 0) {
		/* harness/cases (EL0_OPS) and blob.c allow EL0 only for ops with an EL0 twin */
		r.first = el0_run(el0_code_va(k->el0, c->el0_code), s->va, s->value, second_register(s), &r.second);
	} else {
		/* The table holds link addresses: from the TTBR1 alias the probe is at its alias. */
		data_probe *probe = (data_probe *)((uintptr_t)k->probe + c->code_offset);

		r = probe(s->va, s->value, second_register(s));
	}
	if (k->result == LOADS_PAIR32)
		r.first = (u32)r.first | r.second << 32;
	return r;
}

/* The other probes: fetches, AT, the self-tests. */
static u64 run_probe(const struct step *s)
{
	switch (s->op) {
	case OP_FETCH: return probe_fetch(s->va);
	case OP_AT_S1E1R: return probe_at_s1e1r(s->va);
	case OP_AT_S1E1W: return probe_at_s1e1w(s->va);
	case OP_AT_S1E0R: return probe_at_s1e0r(s->va);
	case OP_AT_S1E0W: return probe_at_s1e0w(s->va);
	case OP_AT_S1E1RP: return probe_at_s1e1rp(s->va);
	case OP_AT_S1E1WP: return probe_at_s1e1wp(s->va);
	case OP_AT_S12E1R: case OP_AT_S12E1W: case OP_AT_S12E0R: case OP_AT_S12E0W:
		return hvc_call(HVC_AT_S12, s->op, s->va, s->value, s->mask).x0;
	case OP_AT_S1E2R: return probe_at_s1e2r(s->va);
	case OP_AT_S1E2W: return probe_at_s1e2w(s->va);
	case OP_AT_S1E1A: return probe_at_s1e1a(s->va);
	case OP_AT_S1E2A: return probe_at_s1e2a(s->va);
	case OP_SELFTEST_BRK: selftest_brk(); return 0;
	case OP_SELFTEST_NESTED: selftest_nested(); return 0;
	case OP_SELFTEST_HANG: selftest_hang();
	}
	return 0;
}

/* The EL0 code of a step other than a data access that may run at EL0 (harness/cases/steps.py EL0_OPS, blob.c). */
static void (*el0_probe(u32 op))(void)
{
	return op == OP_FETCH ? el0_fetch : selftest_hang_el0;   /* OP_SELFTEST_HANG */
}

/*
 * A step of a case with HCR_EL2.NV/NV1 (FEAT_NV): EL1 runs as a guest hypervisor's
 * EL2 for that step alone (EL2 sets them, and clears them after, each with TLBI
 * VMALLE1).  Under NV an exception return from EL1 traps to EL2, and under NV1 so do
 * EL1's accesses to ELR_EL1 and SPSR_EL1; CurrentEL reads EL2, so the handler reads
 * FAR_EL2, which traps too: the EL2 half emulates each (el2.c emulate_nested), so a
 * step's fault is taken at EL1, recorded and resumed as without NV.  With NV1 the
 * case's PSTATE.PAN is 1 for the step alone: tables.c kernel_nv leaves the kernel
 * EL0-executable, which PAN with SCTLR_EL1.EPAN would deny EL1 outside NV1.
 */
u64 nested_hcr(const struct regime *r)
{
	return (r->nv ? HCR_NV : 0) | (r->nv1 ? HCR_NV1 : 0);
}

static void set_nested(const struct regime *r, bool on)
{
	if (!on && r->pan && r->nv1)
		write_pan(0);
	hvc_call(HVC_SET_NV, on ? nested_hcr(r) : 0, 0, 0, 0);
	if (on && r->pan && r->nv1)
		write_pan(SPSR_PAN);
}

static bool is_at(u32 op)
{
	return (op >= OP_AT_S1E1R && op <= OP_AT_S1E1WP) || (op >= OP_AT_S12E1R && op <= OP_AT_S12E0W) ||
	       op == OP_AT_S1E2R || op == OP_AT_S1E2W || op == OP_AT_S1E1A || op == OP_AT_S1E2A;
}

/* The first of a case's steps that changes its tables or registers (a maintenance step, a fix-up), or nsteps. */
unsigned first_change(const struct mmut_case *c)
{
	unsigned n = 0;

	while (n < c->nsteps && !is_maint(c->steps[n].op) && !is_fixup(c->steps[n].op))
		n++;
	return n;
}

/*
 * The descriptors the kernel's software walk of a step's VA reads, one
 * record each (the case is the one begun).
 */
static void report_walk_reads(unsigned n, bool after, const struct walk *w, unsigned stage)
{
	for (unsigned i = 0; i < w->nreads; i++) {
		record_walk(n, after);
		if (stage == 2)
			record_dec("stage", 2);
		record_sdec("level", w->reads[i].level);
		record_hex("table", w->reads[i].table);
		record_dec("index", w->reads[i].index);
		record_hex("desc", w->reads[i].desc);
		record_end();
	}
}

/* The TTBR0 table set TTBR0_EL1 points at now (set_ttbr0 steps switch between them). */
static const struct pgtable *current_tt0(const struct step_run *c)
{
	u64 root = read_sysreg_elx(ttbr0) & ~TTBR_ASID_MASK;

	for (unsigned k = 1; k < c->nspaces; k++) {
		if (pgt_ttbr(&c->spaces[k]) == root)
			return &c->spaces[k];
	}
	return &c->spaces[0];
}

/* A step's walk: stage 1's, and under stage 2 the stage 2 walk of the IPA it gives. */
struct step_walk {
	bool walked;            /* false: the hardware reads nothing for this VA */
	bool has_s2;
	struct walk s1, s2;
};

/*
 * The walk of step n's VA, from the TTBR that VA bit 55 selects, and under
 * stage 2 the stage 2 walk of the IPA it gives (stage 1's own tables are at
 * IPA = PA).  Nothing is read where the hardware reads nothing: walks of that
 * half disabled (EPDn), or the VA outside its range (with TBI the top byte is
 * not part of it).
 */
static void walk_step(const struct step_run *c, unsigned n, struct step_walk *sw)
{
	u64 va = c->steps[n].va;
	bool upper = va & BIT(55);
	const struct pgtable *pt = upper ? c->tt1 : current_tt0(c);

	sw->walked = sw->has_s2 = false;
	/* The EL2 regime has one range, TTBR0_EL2's: a VA with bit 55 set is outside it. */
	if ((upper && c->regime->el2) || (upper ? c->regime->epd1 : c->regime->epd0) ||
	    !pgt_va_in_range(pt->va_bits, va, upper ? c->regime->tbi1 : c->regime->tbi0))
		return;
	pgt_walk(pt, va, c->memory, &sw->s1);
	sw->walked = true;
	if (c->s2 && sw->s1.valid) {
		pgt_walk(c->s2, sw->s1.pa, c->memory, &sw->s2);
		sw->has_s2 = true;
	}
}

/* How many walk records a step's walk is reported in: the step record says it (walks=, after=). */
static unsigned walk_reads(const struct step_walk *sw)
{
	return (sw->walked ? sw->s1.nreads : 0) + (sw->has_s2 ? sw->s2.nreads : 0);
}

/* The walk's digest (pgt_walk_digest): what the step record carries where its walk records are left out. */
static u64 walk_digest(const struct step_walk *sw)
{
	u64 digest = WALK_DIGEST_SEED;

	if (sw->walked)
		digest = pgt_walk_digest(digest, &sw->s1, 1);
	if (sw->has_s2)
		digest = pgt_walk_digest(digest, &sw->s2, 2);
	return digest;
}

static void report_walk(unsigned n, bool after, const struct step_walk *sw)
{
	if (sw->walked)
		report_walk_reads(n, after, &sw->s1, 1);
	if (sw->has_s2)
		report_walk_reads(n, after, &sw->s2, 2);
}

/*
 * Whether step n's walks are reported in full rather than as a digest: with
 * +walks, and where the declared tables cannot predict them: under hardware
 * updates (of either stage), and from the first step that changes tables or
 * registers (a maintenance step, a fix-up) on.
 */
static bool full_walks(const struct step_run *c, unsigned n)
{
	return options.walks || c->regime->ha || c->regime->hd || c->s2_updates || n >= c->first_change;
}

static void run_step(const struct step_run *c, unsigned n)
{
	const struct step *s = &c->steps[n];
	struct hvc_result el2_fault = { 0 };

	if (is_maint(s->op)) {
		run_maint(n, s, c->regime, c->spaces, c->tt1, c->s2);
		return;
	}
	if (is_fixup(s->op)) {
		/* A case with fix-ups has one TTBR0 table set (harness/cases/layout.py). */
		if (!apply_fixup(n, s, table_for(s->va, 0, c->spaces, c->tt1), c->memory))
			return;
		s = &c->steps[n - 1];   /* the retry: the access that faulted, again */
	}
	bool full = full_walks(c, n);
	/* Hardware Access flag and dirty state updates (of either stage) may write descriptors of the walk. */
	bool after = c->regime->ha || c->regime->hd || c->s2_updates;
	struct step_walk before_walk, after_walk;

	walk_step(c, n, &before_walk);
	if (full)
		report_walk(n, false, &before_walk);

	const struct access_kind *access = access_kind(s->op);
	struct reg_pair loaded = { 0, 0 };

	/* An EL0 step under NV/NV1 too: EL1's ERET to EL0 traps to EL2, which makes it (el2.c emulate_nested). */
	bool nested = c->regime->nv || c->regime->nv1;

	probe.fault.taken = false;
	probe.fetch_target = s->va;
	if (nested)
		set_nested(c->regime, true);
	if (c->traps)
		hvc_call(HVC_SET_TRAPS, c->traps, 0, 0, 0);
	if (s->el == 0) {
		probe.armed = PROBE_EL0;
		if (access) {
			loaded = run_access(access, s, c);
		} else {
			u64 x1;

			loaded.first = el0_run(el0_code_va(el0_probe(s->op), c->el0_code), s->va, s->value, 0, &x1);
		}
	} else {
		/* An AT is armed too: AArch64.AT_S1Ex takes a synchronous External abort on its walk
		 * as a Data Abort (J1.1.3), which is that step's outcome, not the end of the run. */
		probe.armed = s->op == OP_FETCH ? PROBE_FETCH : PROBE_DATA;
		if (access)
			loaded = run_access(access, s, c);
		else
			loaded.first = run_probe(s);
	}
	if (c->traps)
		hvc_call(HVC_SET_TRAPS, 0, 0, 0, 0);
	if (nested)
		set_nested(c->regime, false);
	probe.armed = PROBE_NONE;
	if (c->s2)
		el2_fault = hvc_call(HVC_TAKE_FAULT, 0, 0, 0, 0);
	if (after)
		walk_step(c, n, &after_walk);

	/* The step record says how many walk records came before it (and after it), so that a lost
	 * one is seen lost; without them, its walk's digest goes into the case's (the end record's). */
	record_step(n, s->va);
	if (full)
		record_dec("walks", walk_reads(&before_walk));
	else
		record_walk_digest(walk_digest(&before_walk));
	if (after)
		record_dec("after", walk_reads(&after_walk));
	if (el2_fault.x0) {
		/* Taken to EL2: its syndrome, fault address and faulting IPA register, raw. */
		record_fault(el2_fault.x1, el2_fault.x2, el2_fault.x4);
		record_dec("el", 2);
		record_hex("hpfar", el2_fault.x3);
	} else if (probe.fault.taken) {
		record_fault(probe.fault.esr, probe.fault.far, probe.fault.elr);
	} else if (is_at(s->op)) {
		record_str("result", "par");
		record_hex("par", loaded.first);
	} else {
		record_str("result", "ok");
		if (!access || access->result != STORES)
			record_hex("value", loaded.first);
		if (access && access->result == LOADS_PAIR64)
			record_hex("value_hi", loaded.second);
	}
	if (is_gcs_enabled_op(s->op))
		record_hex("gcspr", gcs_step_gcspr);
	record_end();
	if (after)
		report_walk(n, true, &after_walk);
}

void run_steps(const void *arg)
{
	const struct step_run *run = arg;

	/* The local Exclusives monitor open, whatever an earlier case left in it (harness/model/exclusives.py). */
	__asm__ volatile("clrex" ::: "memory");
	/* Only cases that require FEAT_PAN set it (harness/cases/validation.py): PSTATE.PAN is UNDEFINED without it. */
	if (run->regime->pan && !run->regime->nv1)
		write_pan(SPSR_PAN);
	/* HCRX_EL2.FnXS for these steps alone (harness/cases/validation.py: such a case runs under EL2). */
	if (run->regime->fnxs)
		hvc_call(HVC_SET_FNXS, 1, 0, 0, 0);
	for (unsigned n = 0; n < run->n; n++)
		run_step(run, n);
	if (run->regime->fnxs)
		hvc_call(HVC_SET_FNXS, 0, 0, 0, 0);
}
