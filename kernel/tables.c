/*
 * A case's memory as its steps start: its translation tables (the kernel's
 * own mappings in each, then the case's maps, table attributes and raw
 * descriptors; its stage 2), its frames zeroed, and the fetch stubs planted
 * where its fetch steps land.  harness/declared.py builds the same offline.
 */
#include "tables.h"
#include "exit_status.h"
#include "layout.h"
#include "mmu.h"
#include "probe.h"
#include "record.h"
#include "stage2.h"
#include "sysreg.h"

#define TABLE_POOL_SIZE     (4 << 20)

/* Tables are zeroed as they are allocated, so the pool needs no zeroing at boot. */
static u8 table_memory[TABLE_POOL_SIZE] __attribute__((aligned(1 << 16), section(".pool")));
struct table_pool pool = { table_memory, sizeof(table_memory), 0 };

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

/*
 * With HCR_EL2.{NV, NV1} = {1, 1} (a case's AT steps, steps.c run_at_nested) EL1&0's
 * descriptors read as EL2's: bit 54 is PXN and AP[1] is taken as 0.  The kernel's code
 * must run under both readings: no bit 54 (UXN) on it, nor AP[1] (EL0 reads nothing of
 * the kernel either way; it may execute the window, with no EL0 step to do so).
 */
static const struct kernel_prots kernel_nv = {
	.ram = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RW_EL1, .sh = SH_INNER, .af = true },
	.device = { .attrindx = KERNEL_ATTRIDX_DEVICE, .ap = AP_RW_EL1, .af = true, .pxn = true, .uxn = true },
	.text = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RO_EL1, .sh = SH_INNER, .af = true },
	.data = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RW_EL1, .sh = SH_INNER, .af = true, .pxn = true,
		  .uxn = true },
	.el0_code = { .attrindx = KERNEL_ATTRIDX_NORMAL, .ap = AP_RO_ALL, .sh = SH_INNER, .af = true, .pxn = true },
};

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

/* VA bit 55 selects the TTBR (Arm ARM D8.1, AArch64.S1Translate's VA range); space, TTBR0's table set. */
struct pgtable *table_for(u64 va, unsigned space, struct pgtable *spaces, struct pgtable *tt1)
{
	return (va & BIT(55)) ? tt1 : &spaces[space];
}

/*
 * A case whose TTBR0 cannot hold the kernel runs its steps from the alias in
 * TTBR1; the switch to it is made under a transition regime whose TTBR0 is
 * the kernel's identity map (`boot`, 48-bit) instead of the case's.
 */
struct regime transition_regime(const struct regime *r)
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

int build_tables(const struct mmut_case *c, struct pgtable *spaces, struct pgtable *tt1,
			struct pgtable *boot)
{
	const struct regime *r = &c->regime;
	/* The kernel's own mappings as the EL its steps run at reads them. */
	const struct kernel_prots *own = r->el2 ? &kernel_el2 : r->nv1 ? &kernel_nv : &kernel_el1;
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

static const char *const stage2_part_names[] = {
	[STAGE2_ROOT] = "s2root", [STAGE2_KERNEL] = "s2kernel", [STAGE2_MAP] = "s2map", [STAGE2_RAW] = "s2raw",
};

/* The case's stage 2 tables, after its stage 1 tables in the same pool. */
int build_stage2(const struct mmut_case *c, struct pgtable *s2)
{
	struct stage2_error e;
	int err = stage2_build(c, s2, &pool, &e);

	return err ? report_error(c, stage2_part_names[e.part], e.index, err) : EXIT_OK;
}

static void frame_if_in_pool(u64 pa, u64 size, void (*fn)(u64 pa, u64 size))
{
	if (pa >= FRAME_POOL_BASE && pa + size <= (u64)FRAME_POOL_BASE + FRAME_POOL_SIZE)
		fn(pa, size);
}

/* Calls fn(pa, size) for each of the case's mappings (of either stage) onto the frame pool. */
void for_each_frame(const struct mmut_case *c, struct pgtable *tt0, struct pgtable *tt1,
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
void zero_frame(u64 pa, u64 size)
{
	volatile u64 *frame = (volatile u64 *)(uintptr_t)pa;

	for (u64 k = 0; k < size / sizeof(u64); k++)
		frame[k] = 0;
}

/*
 * Plant the fetch stub wherever the tables (both stages, with stage 2) send a
 * fetch step, if that is a case frame.  The walks follow only the pool's
 * tables (a raw table descriptor elsewhere places no stub), as
 * harness/declared.py models it.
 */
void plant_fetch_stubs(const struct mmut_case *c, struct pgtable *tt0, struct pgtable *tt1,
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
