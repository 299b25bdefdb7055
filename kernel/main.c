/*
 * Boot, check the case blob, then for each case the semihosting command line
 * names (by ID, or a range of blob indices): build the case's tables, enable
 * the MMU, run its steps (one record each), and turn the MMU off again, so one
 * boot can run many cases (batch mode, campaigns).
 */
#include "blob.h"
#include "console.h"
#include "el0.h"
#include "exception.h"
#include "fixup.h"
#include "exit_status.h"
#include "hvc.h"
#include "layout.h"
#include "maint.h"
#include "mmu.h"
#include "probe.h"
#include "record.h"
#include "semihost.h"
#include "stage2.h"
#include "sysreg.h"

#define TABLE_POOL_SIZE     (4 << 20)

/* Tables are zeroed as they are allocated, so the pool needs no zeroing at boot. */
static u8 table_memory[TABLE_POOL_SIZE] __attribute__((aligned(1 << 16), section(".pool")));
static struct table_pool pool = { table_memory, sizeof(table_memory), 0 };
static char cmdline[CMDLINE_SIZE];
/* Command-line options: walk records before (and, with HA/HD, after) each step; records through semihosting. */
static bool walks, semihosting_console;
/* The kernel started at EL2, whose half (el2.c) a case's stage 2 needs. */
static bool have_el2;
/* The EL the kernel runs at: 1, or 2 in a +vhe boot on a CPU with FEAT_VHE. */
static u64 kernel_el;

#define CASE_BLOB ((const void *)CASE_BLOB_BASE)
static u32 ncases;          /* in the blob; 0 until it is checked */

extern const char __data_start[], __bss_end[];

/* The attributes of the kernel's own mappings (harness/declared.py mirrors them). */
struct kernel_prots {
	/* ram; under SCTLR_ELx.WXN writable memory cannot be executed: code read-only (text), the rest data */
	struct pte_prot ram, device, text, data;
	struct pte_prot el0_code;       /* EL0 runs it, nobody writes it, EL1 never executes it */
};

static const struct kernel_prots kernel_el1 = {
	.ram = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RW_EL1, .sh = SH_INNER, .af = true, .uxn = true },
	.device = { .attrindx = KERNEL_ATTRIDX_DEVICE, .ap = AP_RW_EL1, .af = true, .pxn = true, .uxn = true },
	.text = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RO_EL1, .sh = SH_INNER, .af = true, .uxn = true },
	.data = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RW_EL1, .sh = SH_INNER, .af = true, .pxn = true,
		  .uxn = true },
	.el0_code = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RO_ALL, .sh = SH_INNER, .af = true, .pxn = true },
};

/*
 * In the EL2 regime (HCR_EL2.E2H = 0) AP[1] is RES1 (the _ALL encodings),
 * bit 53 RES0 (no PXN) and bit 54 is XN (the UXN field): the kernel's code
 * must not have it.
 */
static const struct kernel_prots kernel_el2 = {
	.ram = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RW_ALL, .sh = SH_INNER, .af = true },
	.device = { .attrindx = KERNEL_ATTRIDX_DEVICE, .ap = AP_RW_ALL, .af = true, .uxn = true },
	.text = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RO_ALL, .sh = SH_INNER, .af = true },
	.data = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RW_ALL, .sh = SH_INNER, .af = true, .uxn = true },
	.el0_code = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RO_ALL, .sh = SH_INNER, .af = true },
};

static void report_boot(u64 boot_el)
{
	record_begin("boot");
	record_dec("el", boot_el);
	/* A boot that stays at EL2 (+vhe) says so, and with which HCR_EL2. */
	if (kernel_el == 2) {
		record_dec("kernel_el", kernel_el);
		record_hex("hcr", read_sysreg(hcr_el2));
	}
	record_hex("midr", read_sysreg(midr_el1));
	record_hex("mmfr0", read_sysreg(id_aa64mmfr0_el1));
	record_hex("mmfr1", read_sysreg(id_aa64mmfr1_el1));
	record_hex("mmfr2", read_sysreg(s3_0_c0_c7_2));     /* ID_AA64MMFR2_EL1 */
	record_hex("isar0", read_sysreg(id_aa64isar0_el1)); /* TLB: FEAT_TLBIRANGE */
	record_dec("cases", ncases);
	record_end();
}

static int report_error(const struct mmut_case *c, const char *what, unsigned index, int err)
{
	record_begin("error");
	record_str("case", c->id);
	record_str("what", what);
	record_dec("index", index);
	record_str("error", pgt_error_name(err));
	record_end();
	return EXIT_CASE_ERROR;
}

/*
 * The kernel's own window, UART and EL0 code page, mapped with the granule of
 * the table that holds them: identity in TTBR0, or at the alias in TTBR1
 * (layout.h).  Under WXN the window is mapped with pages, code apart from data.
 */
static int map_kernel(struct pgtable *pt, u64 window_va, u64 uart_va, u64 el0_va, bool wxn,
		      const struct kernel_prots *p)
{
	/* Level-2 blocks where the granule's block fits the window (4K, 16K), else pages: fewer descriptors to write per case. */
	int level = wxn || (KERNEL_WINDOW_SIZE % (1ULL << pgt_level_shift(pt->granule_shift, 2))) ? 3 : 2;
	u64 size = 1ULL << pgt_level_shift(pt->granule_shift, level);
	int err = pgt_map(pt, uart_va, UART_BASE, 3, &p->device);

	if (!err)
		err = pgt_map(pt, el0_va, EL0_CODE_PA, 3, &p->el0_code);
	for (u64 off = 0; !err && off < KERNEL_WINDOW_SIZE; off += size) {
		u64 pa = KERNEL_WINDOW_BASE + off;
		bool text = pa >= KERNEL_BASE && pa < KERNEL_TEXT_END;

		err = pgt_map(pt, window_va + off, pa, level, !wxn ? &p->ram : text ? &p->text : &p->data);
	}
	return err;
}

#define ALIAS_OFFSET ((u64)KERNEL_ALIAS_BASE - KERNEL_WINDOW_BASE)
#define ALIAS(p) ((__typeof__(p))((uintptr_t)(p) + ALIAS_OFFSET))

/* The TTBR0 side of a regime, as run_in_alias switches it. */
struct ttbr0_regs {
	u64 tcr, ttbr0;
};

void run_in_alias(u64 offset, const struct ttbr0_regs *enter, const struct ttbr0_regs *leave,
		  void (*fn)(const void *), const void *arg);

/* VA bit 55 selects the TTBR (Arm ARM D8.1, AArch64.S1Translate's VA range); space, TTBR0's table set. */
static struct pgtable *table_for(u64 va, unsigned space, struct pgtable *spaces, struct pgtable *tt1)
{
	return (va & BIT(55)) ? tt1 : &spaces[space];
}

/*
 * A case whose TTBR0 cannot hold the kernel runs its steps from the alias in
 * TTBR1; the switch to it is made under a transition regime whose TTBR0 is
 * the kernel's identity map (`boot`, 48-bit) instead of the case's.
 */
static struct regime transition_regime(const struct regime *r)
{
	struct regime t = *r;

	t.t0sz = 16;
	t.epd0 = false;
	t.tbi0 = false;
	return t;
}

/* The descriptor format a regime gives tables of a granule (Arm ARM D8.3). */
static enum oa_format oa_format(const struct regime *r, unsigned granule_shift)
{
	if (granule_shift == 16)
		return r->ips == TCR_IPS_52BIT ? OA_52_LPA : OA_48;
	return r->ds ? OA_52_DS : OA_48;
}

static int build_tables(const struct mmut_case *c, struct pgtable *spaces, struct pgtable *tt1,
			struct pgtable *boot)
{
	const struct regime *r = &c->regime;
	/* The kernel's own mappings as the EL its steps run at reads them. */
	const struct kernel_prots *own = r->el2 ? &kernel_el2 : &kernel_el1;
	int err;

	pool_reset(&pool);
	if ((err = pgt_init(&spaces[0], &pool, r->tg0, 64 - r->t0sz, oa_format(r, r->tg0))) ||
	    (err = pgt_init(tt1, &pool, r->tg1, 64 - r->t1sz, oa_format(r, r->tg1))))
		return report_error(c, "root", 0, err);
	if (!r->kernel_high)
		err = map_kernel(&spaces[0], KERNEL_WINDOW_BASE, UART_BASE, EL0_CODE_VA, r->wxn, own);
	else if (!(err = pgt_init(boot, &pool, r->tg0, 48, oa_format(r, r->tg0))) &&
		 !(err = map_kernel(boot, KERNEL_WINDOW_BASE, UART_BASE, EL0_CODE_VA, r->wxn, &kernel_el1)))
		err = map_kernel(tt1, KERNEL_ALIAS_BASE, UART_ALIAS_BASE, EL0_CODE_ALIAS_VA, r->wxn, &kernel_el1);
	/* Every further TTBR0 table set maps the kernel as set 0 does, so a switch to it keeps the kernel running. */
	for (unsigned k = 1; !err && k < c->nspaces; k++) {
		if (!(err = pgt_init(&spaces[k], &pool, r->tg0, 64 - r->t0sz, oa_format(r, r->tg0))))
			err = map_kernel(&spaces[k], KERNEL_WINDOW_BASE, UART_BASE, EL0_CODE_VA, r->wxn, own);
	}
	if (err)
		return report_error(c, "kernel", 0, err);
	for (unsigned i = 0; i < c->nmaps; i++) {
		const struct map *m = &c->maps[i];

		struct pte_prot prot = {
			.attrindx = m->attrindx, .ap = m->ap, .sh = m->sh,
			.af = m->flags & MAP_AF, .ng = m->flags & MAP_NG, .pxn = m->flags & MAP_PXN,
			.uxn = m->flags & MAP_UXN, .contig = m->flags & MAP_CONTIG, .dbm = m->flags & MAP_DBM,
		};

		err = pgt_map(table_for(m->va, m->space, spaces, tt1), m->va, m->pa, m->level, &prot);
		if (err)
			return report_error(c, "map", i, err);
	}
	for (unsigned i = 0; i < c->ntables; i++) {
		const struct table_attrs *t = &c->tables[i];
		struct table_prot prot = {
			.aptable = t->aptable, .pxntable = t->flags & TABLE_ATTR_PXN, .uxntable = t->flags & TABLE_ATTR_UXN,
		};

		err = pgt_table_prot(table_for(t->va, t->space, spaces, tt1), t->va, t->level, &prot);
		if (err)
			return report_error(c, "table", i, err);
	}
	for (unsigned i = 0; i < c->nraws; i++) {
		const struct raw *w = &c->raws[i];
		u64 *slot;

		err = pgt_slot(table_for(w->va, w->space, spaces, tt1), w->va, w->level, &slot);
		if (err)
			return report_error(c, "raw", i, err);
		*slot = w->desc;
	}
	return EXIT_OK;
}

static void frame_if_in_pool(u64 pa, u64 size, void (*fn)(u64 pa, u64 size))
{
	if (pa >= FRAME_POOL_BASE && pa + size <= (u64)FRAME_POOL_BASE + FRAME_POOL_SIZE)
		fn(pa, size);
}

/* Calls fn(pa, size) for each of the case's mappings (of either stage) onto the frame pool. */
static void for_each_frame(const struct mmut_case *c, struct pgtable *tt0, struct pgtable *tt1,
			   void (*fn)(u64 pa, u64 size))
{
	for (unsigned i = 0; i < c->nmaps; i++) {
		const struct map *m = &c->maps[i];

		frame_if_in_pool(m->pa, 1ULL << pgt_level_shift(table_for(m->va, 0, tt0, tt1)->granule_shift, m->level), fn);
	}
	for (unsigned i = 0; c->stage2 && i < c->stage2->nmaps; i++)
		frame_if_in_pool(c->s2maps[i].pa, 1ULL << pgt_level_shift(c->stage2->tg, c->s2maps[i].level), fn);
}

/*
 * Every case starts from the memory a fresh boot gives it (zeroes), whichever
 * cases ran before it in the same boot.
 */
static void zero_frame(u64 pa, u64 size)
{
	volatile u64 *frame = (volatile u64 *)(uintptr_t)pa;

	for (u64 k = 0; k < size / sizeof(u64); k++)
		frame[k] = 0;
}

/*
 * What a software walk may read: the kernel's window, the only memory mapped
 * (identity, or at the alias) while the steps run.  It holds the table pool
 * and the frames; a raw table descriptor pointing elsewhere ends the walk.
 */
static const struct walk_memory window = { KERNEL_WINDOW_BASE, KERNEL_WINDOW_SIZE, 0 };
static const struct walk_memory window_alias = { KERNEL_WINDOW_BASE, KERNEL_WINDOW_SIZE, ALIAS_OFFSET };

/*
 * Plant the fetch stub wherever the tables (both stages, with stage 2) send a
 * fetch step, if that is a case frame.  The walks follow only the pool's
 * tables (a raw table descriptor elsewhere places no stub), as
 * harness/declared.py models it.
 */
static void plant_fetch_stubs(const struct mmut_case *c, struct pgtable *tt0, struct pgtable *tt1,
			      const struct pgtable *s2)
{
	const struct walk_memory tables = { (u64)(uintptr_t)pool.base, pool.size, 0 };

	for (unsigned i = 0; i < c->nsteps; i++) {
		struct walk w;

		if (c->steps[i].op != OP_FETCH)
			continue;
		pgt_walk(table_for(c->steps[i].va, 0, tt0, tt1), c->steps[i].va, &tables, &w);
		if (w.valid && s2)
			pgt_walk(s2, w.pa, &tables, &w);
		if (w.valid && w.pa >= FRAME_POOL_BASE && w.pa + 8 <= (u64)RAM_BASE + RAM_SIZE && !(w.pa & 3)) {
			volatile u32 *stub = (volatile u32 *)(uintptr_t)w.pa;

			stub[0] = A64_MOVZ_X0(FETCH_MAGIC);
			stub[1] = A64_RET;
		}
	}
}

static u64 run_probe(const struct step *s)
{
	switch (s->op) {
	case OP_LOAD8: return probe_load8(s->va);
	case OP_LOAD16: return probe_load16(s->va);
	case OP_LOAD32: return probe_load32(s->va);
	case OP_LOAD64: return probe_load64(s->va);
	case OP_STORE8: return probe_store8(s->va, s->value);
	case OP_STORE16: return probe_store16(s->va, s->value);
	case OP_STORE32: return probe_store32(s->va, s->value);
	case OP_STORE64: return probe_store64(s->va, s->value);
	case OP_LDTR64: return probe_ldtr64(s->va);
	case OP_STTR64: return probe_sttr64(s->va, s->value);
	case OP_FETCH: return probe_fetch(s->va);
	case OP_AT_S1E1R: return probe_at_s1e1r(s->va);
	case OP_AT_S1E1W: return probe_at_s1e1w(s->va);
	case OP_AT_S1E0R: return probe_at_s1e0r(s->va);
	case OP_AT_S1E0W: return probe_at_s1e0w(s->va);
	case OP_AT_S1E1RP: return probe_at_s1e1rp(s->va);
	case OP_AT_S1E1WP: return probe_at_s1e1wp(s->va);
	case OP_AT_S12E1R: case OP_AT_S12E1W: case OP_AT_S12E0R: case OP_AT_S12E0W:
		return hvc_call(HVC_AT_S12, s->op, s->va, 0).x0;
	case OP_AT_S1E2R: return probe_at_s1e2r(s->va);
	case OP_AT_S1E2W: return probe_at_s1e2w(s->va);
	case OP_SELFTEST_BRK: selftest_brk(); return 0;
	case OP_SELFTEST_NESTED: selftest_nested(); return 0;
	case OP_SELFTEST_HANG: selftest_hang();
	}
	return 0;
}

/* The EL0 probe of an op a case may run at EL0 (harness/cases.py allows no other). */
static void (*el0_probe(u32 op))(void)
{
	switch (op) {
	case OP_LOAD8: return el0_load8;
	case OP_LOAD16: return el0_load16;
	case OP_LOAD32: return el0_load32;
	case OP_LOAD64: return el0_load64;
	case OP_STORE8: return el0_store8;
	case OP_STORE16: return el0_store16;
	case OP_STORE32: return el0_store32;
	case OP_STORE64: return el0_store64;
	case OP_FETCH: return el0_fetch;
	default: return selftest_hang_el0;     /* OP_SELFTEST_HANG */
	}
}

static bool is_at(u32 op)
{
	return (op >= OP_AT_S1E1R && op <= OP_AT_S1E1WP) || (op >= OP_AT_S12E1R && op <= OP_AT_S12E0W) ||
	       op == OP_AT_S1E2R || op == OP_AT_S1E2W;
}

static bool is_store(u32 op)
{
	return (op >= OP_STORE8 && op <= OP_STORE64) || op == OP_STTR64;
}

/* A case's steps and what their walks read, as seen from where they run (the alias or the identity map). */
struct step_run {
	const char *id;
	const struct step *steps;
	unsigned n;
	const struct regime *regime;
	struct pgtable *spaces, *tt1;           /* TTBR0's table sets and TTBR1's tables (maintenance steps change them) */
	unsigned nspaces;
	const struct walk_memory *memory;
	u64 el0_code;                           /* where the EL0 code page is mapped */
	struct pgtable *s2;                     /* the stage 2 tables, or NULL: EL2 takes the steps' stage 2 faults */
	bool s2_updates;                        /* VTCR_EL2.HA or HD: stage 2 hardware updates */
	unsigned first_change;                  /* the first step that changes tables or registers, or n */
};

/* The first of a case's steps that changes its tables or registers (a maintenance step, a fix-up), or nsteps. */
static unsigned first_change(const struct mmut_case *c)
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
static void report_walk_reads(unsigned n, const char *when, const struct walk *w, unsigned stage)
{
	for (unsigned i = 0; i < w->nreads; i++) {
		record_begin("walk");
		record_dec("n", n);
		record_str("when", when);
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

/*
 * The walk of step n's VA, from the TTBR that VA bit 55 selects, and under
 * stage 2 the stage 2 walk of the IPA it gives (stage 1's own tables are at
 * IPA = PA): printed as walk records (report = true), and its digest
 * (pgt_walk_digest) returned.  Nothing is read where the hardware reads
 * nothing: walks of that half disabled (EPDn), or the VA outside its range
 * (with TBI the top byte is not part of it).
 */
static u64 walk_step(const struct step_run *c, unsigned n, const char *when, bool report)
{
	u64 va = c->steps[n].va;
	bool upper = va & BIT(55);
	const struct pgtable *pt = upper ? c->tt1 : current_tt0(c);
	u64 digest = WALK_DIGEST_SEED;
	struct walk w;

	/* The EL2 regime has one range, TTBR0_EL2's: a VA with bit 55 set is outside it. */
	if ((upper && c->regime->el2) || (upper ? c->regime->epd1 : c->regime->epd0) ||
	    !pgt_va_in_range(pt->va_bits, va, upper ? c->regime->tbi1 : c->regime->tbi0))
		return digest;
	pgt_walk(pt, va, c->memory, &w);
	digest = pgt_walk_digest(digest, &w, 1);
	if (report)
		report_walk_reads(n, when, &w, 1);
	if (c->s2 && w.valid) {
		struct walk w2;

		pgt_walk(c->s2, w.pa, c->memory, &w2);
		digest = pgt_walk_digest(digest, &w2, 2);
		if (report)
			report_walk_reads(n, when, &w2, 2);
	}
	return digest;
}

/*
 * Whether step n's walks are reported in full rather than as a digest: with
 * +walks, and where the declared tables cannot predict them: under hardware
 * updates (of either stage), and from the first step that changes tables or
 * registers (a maintenance step, a fix-up) on.
 */
static bool full_walks(const struct step_run *c, unsigned n)
{
	return walks || c->regime->ha || c->regime->hd || c->s2_updates || n >= c->first_change;
}

static void run_step(const struct step_run *c, unsigned n)
{
	const struct step *s = &c->steps[n];
	struct hvc_result el2_fault = { 0 };
	u64 result;

	if (is_maint(s->op)) {
		run_maint(n, s, c->regime, c->spaces, c->tt1, c->s2);
		return;
	}
	if (is_fixup(s->op)) {
		/* A case with fix-ups has one TTBR0 table set (harness/cases.py). */
		if (!apply_fixup(n, s, table_for(s->va, 0, c->spaces, c->tt1), c->memory))
			return;
		s = &c->steps[n - 1];   /* the retry: the access that faulted, again */
	}
	bool full = full_walks(c, n);
	u64 digest = walk_step(c, n, "before", full);

	probe.fault.taken = false;
	probe.fetch_target = s->va;
	if (s->el == 0) {
		probe.armed = PROBE_EL0;
		result = el0_run(el0_code_va(el0_probe(s->op), c->el0_code), s->va, s->value);
	} else {
		probe.armed = s->op == OP_FETCH ? PROBE_FETCH : is_at(s->op) ? PROBE_NONE : PROBE_DATA;
		result = run_probe(s);
	}
	probe.armed = PROBE_NONE;
	if (c->s2)
		el2_fault = hvc_call(HVC_TAKE_FAULT, 0, 0, 0);

	record_begin("step");
	record_dec("n", n);
	record_hex("va", s->va);
	if (!full)
		record_hex("walk", digest);
	if (el2_fault.x0) {
		/* Taken to EL2: its syndrome, fault address and faulting IPA register, raw. */
		record_str("result", "fault");
		record_dec("el", 2);
		record_hex("esr", el2_fault.x1);
		record_hex("far", el2_fault.x2);
		record_hex("hpfar", el2_fault.x3);
		record_hex("elr", el2_fault.x4);
	} else if (probe.fault.taken) {
		record_str("result", "fault");
		record_hex("esr", probe.fault.esr);
		record_hex("far", probe.fault.far);
		record_hex("elr", probe.fault.elr);
	} else if (is_at(s->op)) {
		record_str("result", "par");
		record_hex("par", result);
	} else {
		record_str("result", "ok");
		if (!is_store(s->op))
			record_hex("value", result);
	}
	record_end();
	/* Hardware Access flag and dirty state updates (of either stage) may have written descriptors of the walk. */
	if (c->regime->ha || c->regime->hd || c->s2_updates)
		walk_step(c, n, "after", true);
}

static void run_steps(const void *arg)
{
	const struct step_run *run = arg;

	/* Only cases that require FEAT_PAN set it (harness/cases.py): PSTATE.PAN is UNDEFINED without it. */
	if (run->regime->pan)
		write_pan(SPSR_PAN);
	for (unsigned n = 0; n < run->n; n++)
		run_step(run, n);
}

/* Back to PSTATE.PAN = 0 for the next case, however the steps left it (SCTLR_EL1.SPAN = 0 sets it). */
static void reset_pan(void)
{
	if (ID_MMFR1_PAN(read_sysreg(id_aa64mmfr1_el1)))
		write_pan(0);
}

/* Run the steps from the kernel's TTBR1 alias, with the case's TTBR0 side in force. */
static void run_steps_from_alias(const struct mmut_case *c, struct pgtable *tt0, struct pgtable *tt1,
				 u64 tt1_root, u64 boot_root)
{
	struct regime transition = transition_regime(&c->regime);
	struct ttbr0_regs enter = { tcr_from_regime(&c->regime), pgt_ttbr(tt0) };
	struct ttbr0_regs leave = { tcr_from_regime(&transition), boot_root };
	struct step_run run = {
		ALIAS(c->id), ALIAS(c->steps), c->nsteps, ALIAS(&c->regime), ALIAS(tt0), ALIAS(tt1), 1,
		ALIAS(&window_alias), EL0_CODE_ALIAS_VA, NULL, false, first_change(c),
	};

	mmu_enable(&transition, boot_root, tt1_root);
	current_case_id = run.id;
	console_set_uart(UART_ALIAS_BASE);
	run_in_alias(ALIAS_OFFSET, &enter, &leave, ALIAS(&run_steps), ALIAS(&run));
	console_set_uart(UART_BASE);
	current_case_id = c->id;
}

/* The registers as the steps see them (for a kernel_high case, the case's TTBR0 side as run_in_alias sets it). */
static void report_regs(const struct mmut_case *c, u64 ttbr0, u64 ttbr1, const struct pgtable *s2)
{
	record_begin("regs");
	record_hex("tcr", tcr_from_regime(&c->regime));
	record_hex("mair", c->regime.mair);
	record_hex("sctlr", sctlr_from_regime(&c->regime));
	record_hex("ttbr0", ttbr0);
	record_hex("ttbr1", c->regime.el2 ? 0 : ttbr1);     /* the EL2 regime has no TTBR1 */
	if (c->regime.el2 || c->regime.el20) {
		/* The registers above are EL2's (for EL2&0, E2H = 1: TTBR1_EL2 too, in the EL1 layouts). */
		record_dec("el", 2);
		if (c->regime.el20)
			record_hex("hcr", read_sysreg(hcr_el2));
	}
	if (c->stage2) {
		record_hex("hcr", hcr_from_stage2(c->stage2));
		record_hex("vtcr", vtcr_from_stage2(c->stage2));
		record_hex("vttbr", vttbr_from_stage2(c->stage2, s2));
	}
	record_end();
}

static const char *const stage2_part_names[] = {
	[STAGE2_ROOT] = "s2root", [STAGE2_KERNEL] = "s2kernel", [STAGE2_MAP] = "s2map", [STAGE2_RAW] = "s2raw",
};

/* The case's stage 2 tables, after its stage 1 tables in the same pool. */
static int build_stage2(const struct mmut_case *c, struct pgtable *s2)
{
	struct stage2_error e;
	int err = stage2_build(c, s2, &pool, &e);

	return err ? report_error(c, stage2_part_names[e.part], e.index, err) : EXIT_OK;
}

/*
 * Why this boot cannot run a case, or NULL.  Without EL2 an HVC is no call of
 * el2.c's (QEMU's virt board may even answer it as PSCI), and the EL2&0
 * regimes are not there; a case runs only in a boot of its own mode (EL2&0
 * cases in +vhe boots, every other case from EL1, which moves to EL2 for
 * the EL2 regime's: HVC_ENTER_EL2).
 */
static const char *refusal(const struct mmut_case *c)
{
	if ((c->stage2 || c->regime.el2 || c->regime.el20) && !have_el2)
		return "no_el2";
	if (c->regime.el20 != (kernel_el == 2))
		return "boot_mode";
	return NULL;
}

static int run_case(const struct mmut_case *c)
{
	struct pgtable spaces[MAX_SPACES], tt1, boot, s2;
	int status;

	current_case_id = c->id;
	record_begin("begin");
	record_str("case", c->id);
	record_end();
	const char *refused = refusal(c);

	if (refused) {
		record_begin("error");
		record_str("case", c->id);
		record_str("what", refused);
		record_end();
		status = EXIT_CASE_ERROR;
	} else {
		status = build_tables(c, spaces, &tt1, &boot);
	}
	if (status == EXIT_OK && c->stage2)
		status = build_stage2(c, &s2);
	if (status == EXIT_OK) {
		u64 tt0_root = pgt_ttbr(&spaces[0]);
		u64 tt1_root = c->regime.raw_ttbr1 ? c->regime.ttbr1 : pgt_ttbr(&tt1);

		/* A verbatim TTBR1_EL1 points the walks of the upper half elsewhere. */
		if (c->regime.raw_ttbr1)
			tt1.root = (u64 *)(uintptr_t)pgt_ttbr_table(&tt1, tt1_root);
		report_regs(c, tt0_root, tt1_root, &s2);

		/* No dirty line of an earlier case may be written back over what is written here. */
		for_each_frame(c, spaces, &tt1, cache_clean_inval);
		for_each_frame(c, spaces, &tt1, zero_frame);
		plant_fetch_stubs(c, spaces, &tt1, c->stage2 ? &s2 : NULL);
		cache_clean_inval((u64)(uintptr_t)pool.base, pool.used);
		if (c->regime.kernel_high) {
			run_steps_from_alias(c, spaces, &tt1, tt1_root, pgt_ttbr(&boot));
		} else {
			struct step_run run = { c->id, c->steps, c->nsteps, &c->regime, spaces, &tt1, c->nspaces, &window,
						EL0_CODE_VA, c->stage2 ? &s2 : NULL,
						c->stage2 && (c->stage2->flags & (STAGE2_HA | STAGE2_HD)), first_change(c) };

			if (c->stage2)
				hvc_call(HVC_STAGE2_ON, vtcr_from_stage2(c->stage2), vttbr_from_stage2(c->stage2, &s2),
					 hcr_from_stage2(c->stage2));
			/* The steps of an EL2-regime case run at EL2: the kernel moves there (mmu.c then programs EL2's MMU). */
			if (c->regime.el2)
				hvc_call(HVC_ENTER_EL2, 0, 0, 0);
			mmu_enable(&c->regime, tt0_root, tt1_root);
			run_steps(&run);
		}
		reset_pan();
		/*
		 * What was written with the MMU on may sit in dirty cache lines,
		 * which must reach memory before caching stops: the kernel's data
		 * and stacks, read again with the MMU off, and the tables, which
		 * hardware Access flag and dirty state updates write, so that no
		 * dirty line is written back over the next case's tables.  The
		 * case's frames are cleaned when they are next used.  Code and
		 * read-only data are never written.
		 */
		cache_clean_inval((u64)(uintptr_t)__data_start, (u64)(__bss_end - __data_start));
		cache_clean_inval((u64)(uintptr_t)pool.base, pool.used);
		mmu_disable();
		if (c->regime.el2)
			hvc_call(HVC_LEAVE_EL2, 0, 0, 0);
		if (c->stage2)
			hvc_call(HVC_STAGE2_OFF, 0, 0, 0);
	}
	record_begin("end");
	record_str("case", c->id);
	record_end();
	current_case_id = 0;
	return status;
}

/* The blob index of the case with this ID, or -1. */
static long find_case(const char *id, size_t len)
{
	for (u32 i = 0; i < ncases; i++) {
		const char *name = blob_id(CASE_BLOB, i);
		size_t k = 0;

		while (k < len && name[k] == id[k])
			k++;
		if (k == len && name[k] == '\0')
			return i;
	}
	return -1;
}

static void put_token(const char *token, size_t len)
{
	while (len--)
		console_putc(*token++);
}

static int report_bad_token(const char *what, const char *key, const char *token, size_t len)
{
	record_begin("error");
	record_str("what", what);
	console_puts(" ");
	console_puts(key);
	console_puts("=");
	put_token(token, len);
	record_end();
	return EXIT_CASE_ERROR;
}

/* A decimal number of the whole of [p, end); false if it is not one or overflows 32 bits. */
static bool parse_index(const char *p, const char *end, u32 *value)
{
	u64 v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (u64)(*p - '0');
		if (v > 0xffffffffULL)
			return false;
	}
	*value = (u32)v;
	return true;
}

/* "#first-last" or "#index": blob indices, inclusive, so a batch of thousands fits the command line. */
static bool parse_range(const char *token, size_t len, u32 *first, u32 *last)
{
	const char *end = token + len, *dash = token + 1;

	while (dash < end && *dash != '-')
		dash++;
	if (!parse_index(token + 1, dash, first))
		return false;
	if (dash == end)
		*last = *first;
	else if (!parse_index(dash + 1, end, last))
		return false;
	return *first <= *last && *last < ncases;
}

static int run_index(u32 index)
{
	struct mmut_case c;

	blob_case(CASE_BLOB, index, &c);
	return run_case(&c);
}

/* Whether the token [token, token + len) is the option `name`. */
static bool is_option(const char *token, size_t len, const char *name)
{
	size_t k = 0;

	while (k < len && name[k] == token[k])
		k++;
	return k == len && name[k] == '\0';
}

/*
 * The boot's options: "+walks", walk records for every step; "+semihosting",
 * records through semihosting rather than the UART; "+vhe", the boot mode,
 * which start.S has acted on before C runs (el2_boot_hcr).
 */
static const struct {
	const char *name;
	bool *flag;             /* NULL: nothing to set here */
} options[] = {
	{ "+walks", &walks },
	{ "+semihosting", &semihosting_console },
	{ "+vhe", NULL },
};

static bool set_option(const char *token, size_t len)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (is_option(token, len, options[i].name)) {
			if (options[i].flag)
				*options[i].flag = true;
			return true;
		}
	}
	return false;
}

static int run_token(const char *token, size_t len)
{
	int status = EXIT_OK;

	if (token[0] == '#') {
		u32 first, last;

		if (!parse_range(token, len, &first, &last))
			return report_bad_token("bad_range", "range", token, len);
		for (u32 i = first; i <= last; i++) {
			int s = run_index(i);

			if (s != EXIT_OK)
				status = s;
		}
		return status;
	}
	long index = find_case(token, len);

	return index < 0 ? report_bad_token("unknown_case", "case", token, len) : run_index((u32)index);
}

static int report_bad_blob(const struct blob_problem *problem)
{
	record_begin("error");
	record_str("what", "bad_blob");
	record_str("field", problem->field);
	if (problem->in_case)
		record_dec("index", problem->index);
	record_end();
	return EXIT_CASE_ERROR;
}

/* The next space-separated token of *p: its length, 0 at the end. */
static size_t next_token(const char **p, const char **token)
{
	size_t len = 0;

	while (**p == ' ')
		(*p)++;
	*token = *p;
	while ((*p)[len] && (*p)[len] != ' ')
		len++;
	*p += len;
	return len;
}

/*
 * Called by start.S at EL2 with the MMU off, before the BSS is zeroed: the
 * HCR_EL2 to stay at EL2 with, or 0 to run the kernel at EL1.  A +vhe boot
 * on a CPU with FEAT_VHE stays, with E2H (EL2 is a host: the EL2&0 regime,
 * TTBR1_EL2, and EL2's accesses to the *_EL1 names reach the *_EL2
 * registers, so the kernel runs unchanged) and TGE (EL0's exceptions go to
 * EL2).  Without FEAT_VHE, E2H is RES0: the kernel runs at EL1 and refuses
 * the boot's EL2&0 cases.
 */
u64 el2_boot_hcr(void)
{
	const char *p = cmdline, *token;
	size_t len;

	if (!ID_MMFR1_VH(read_sysreg(id_aa64mmfr1_el1)) || !semihost_cmdline(cmdline, sizeof(cmdline)))
		return 0;
	while ((len = next_token(&p, &token))) {
		if (is_option(token, len, "+vhe"))
			return HCR_E2H | HCR_TGE | HCR_RW;
	}
	return 0;
}

/* Set the options of the command line p; false if one is unknown. */
static bool set_options(const char *p)
{
	const char *token;
	size_t len;
	bool known = true;

	while ((len = next_token(&p, &token))) {
		if (token[0] == '+' && !set_option(token, len))
			known = false;
	}
	return known;
}

int kernel_main(u64 boot_el)
{
	int status = EXIT_OK;
	struct blob_problem problem;
	bool blob_ok = blob_check(CASE_BLOB, CASE_BLOB_SIZE, &problem);
	bool cmdline_ok = semihost_cmdline(cmdline, sizeof(cmdline));
	const char *p = cmdline_ok ? cmdline : "", *token;
	/* Options first, wherever they are: they hold for every case of the boot, the console's from its first record. */
	bool options_ok = set_options(p);
	size_t len;

	console_init();
	if (semihosting_console)
		console_use_semihosting();
	if (blob_ok)
		ncases = blob_ncases(CASE_BLOB);
	have_el2 = boot_el == 2;
	kernel_el = CURRENTEL_EL(read_sysreg(CurrentEL));
	report_boot(boot_el);
	if (!blob_ok) {
		status = report_bad_blob(&problem);
		p = "";
	} else if (!cmdline_ok) {
		record_begin("error");
		record_str("what", "cmdline_too_long");
		record_end();
		status = EXIT_CASE_ERROR;
	}
	for (const char *q = cmdline_ok ? cmdline : ""; !options_ok && (len = next_token(&q, &token));) {
		if (token[0] == '+' && !set_option(token, len))
			status = report_bad_token("unknown_option", "option", token, len);
	}
	while ((len = next_token(&p, &token))) {
		int s = token[0] == '+' ? EXIT_OK : run_token(token, len);

		if (s != EXIT_OK)
			status = s;
	}
	record_begin("exit");
	record_dec("status", (u64)status);
	record_end();
	return status;
}
