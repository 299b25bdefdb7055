/*
 * The case blob: checked as a whole before any case runs, so that a blob cut
 * short, from another version, or with an offset out of bounds is reported
 * (an error record, a non-zero exit) and never read out of bounds.  Pure
 * logic over memory, like pgtable.c: the host tests run it too.
 */
#include "blob.h"
#include "layout.h"

#define MAP_FLAGS       (MAP_AF | MAP_NG | MAP_PXN | MAP_UXN | MAP_CONTIG | MAP_DBM)
#define REGIME_FLAGS    (REGIME_EPD0 | REGIME_EPD1 | REGIME_TBI0 | REGIME_TBI1 | REGIME_DS | REGIME_HA | \
			 REGIME_HD | REGIME_SCTLR_A | REGIME_KERNEL_HIGH | REGIME_RAW_TTBR1 | REGIME_WXN | \
			 REGIME_SPAN0 | REGIME_EPAN | REGIME_PAN | REGIME_HPD0 | REGIME_HPD1 | REGIME_E0PD0 | \
			 REGIME_E0PD1 | REGIME_AS | REGIME_A1 | REGIME_EL2 | REGIME_EL20 | \
			 REGIME_NV | REGIME_NV1 | REGIME_FNXS | REGIME_DZE | REGIME_CMOW)
#define TABLE_ATTR_FLAGS (TABLE_ATTR_PXN | TABLE_ATTR_UXN)

static const struct blob_case *case_records(const void *base)
{
	return (const struct blob_case *)((const u8 *)base + sizeof(struct blob_header));
}

/* An array of n records of size bytes at offset lies inside the blob, aligned. */
static bool array_fits(u32 offset, u32 n, u64 size, u64 blob_size)
{
	return offset % BLOB_ALIGN == 0 && offset + (u64)n * size <= blob_size;
}

static bool granule_ok(u8 shift)
{
	return shift == 12 || shift == 14 || shift == 16;
}

/* The sizes pgtable.c handles: 16 to 52 VA bits (the architecture's TxSZ range, FEAT_TTST and FEAT_LVA included). */
static bool txsz_ok(u8 txsz)
{
	return txsz >= 12 && txsz <= 48;
}

/*
 * The kernel's own mappings need a home the regime keeps: its window in
 * TTBR0's range with TTBR0 walks on, or, for a kernel_high case, its alias in
 * the range of TTBR1 tables the kernel builds (layout.h).
 */
static bool kernel_home_ok(const struct blob_regime *r)
{
	if (!(r->flags & REGIME_KERNEL_HIGH))
		return !(r->flags & REGIME_EPD0) &&
		       (u64)KERNEL_WINDOW_BASE + KERNEL_WINDOW_SIZE <= 1ULL << (64 - r->t0sz);
	return !(r->flags & (REGIME_EPD1 | REGIME_RAW_TTBR1)) &&
	       (u64)KERNEL_ALIAS_BASE >= -(1ULL << (64 - r->t1sz));
}

static bool regime_ok(const struct blob_regime *r)
{
	return granule_ok(r->tg0) && granule_ok(r->tg1) && txsz_ok(r->t0sz) && txsz_ok(r->t1sz) &&
	       r->ips <= 7 && !(r->flags & ~REGIME_FLAGS) && kernel_home_ok(r) &&
	       (r->flags & (REGIME_EL2 | REGIME_EL20)) != (REGIME_EL2 | REGIME_EL20);
}

/* 1 to BLOB_ID_MAX printable characters, none a space or '=' (the protocol's separators), then a NUL. */
static bool id_ok(const u8 *base, u32 offset, u32 len, u64 blob_size)
{
	if (len == 0 || len > BLOB_ID_MAX || offset + (u64)len + 1 > blob_size)
		return false;
	for (u32 i = 0; i < len; i++) {
		u8 ch = base[offset + i];

		if (ch <= ' ' || ch > '~' || ch == '=')
			return false;
	}
	return base[offset + len] == '\0';
}

#define STAGE2_FLAGS    (STAGE2_FWB | STAGE2_HA | STAGE2_HD | STAGE2_VS | STAGE2_DS | STAGE2_SL2 | STAGE2_S2PIE | \
			 STAGE2_TDZ | STAGE2_TPCP | STAGE2_TPU)
#define S2MAP_FLAGS     (S2MAP_AF | S2MAP_CONTIG | S2MAP_DBM)
#define STEP_FLAGS      STEP_NXS

/*
 * A stage 2 the kernel can build and run under: its window must stay mapped
 * (identity, in the IPA range: stage2.c), so never with the TTBR1 alias.
 */
static bool stage2_ok(const u8 *base, const struct blob_stage2 *s, u32 regime_flags, u64 size)
{
	/* txsz_ok first: a T0SZ above 64 would make the shift below undefined. */
	if (!granule_ok(s->tg) || !txsz_ok(s->t0sz) ||
	    (u64)KERNEL_WINDOW_BASE + KERNEL_WINDOW_SIZE > 1ULL << (64 - s->t0sz) ||
	    s->sl0 > 3 || s->ps > 6 ||
	    (s->flags & ~STAGE2_FLAGS) || (regime_flags & (REGIME_KERNEL_HIGH | REGIME_EL20)))
		return false;
	if (!array_fits(s->maps, s->nmaps, sizeof(struct s2_map), size) ||
	    !array_fits(s->raws, s->nraws, sizeof(struct raw), size))
		return false;
	for (u32 i = 0; i < s->nmaps; i++) {
		const struct s2_map *m = (const struct s2_map *)(base + s->maps) + i;

		if (m->memattr > 15 || m->s2ap > S2AP_RW || m->sh > SH_INNER || m->xn > 3 || (m->flags & ~S2MAP_FLAGS))
			return false;
	}
	return true;
}

/* What el0.S can run at EL0 (steps.c): loads, stores, pairs, acquire/release, exclusives, atomics, GCSSTR,
 * GCSPUSHM, GCSPOPM, GCSSS1, GCSSS2, DC CIVAC, DC CVAC, IC IVAU, DC ZVA, fetches, the hang self-test. */
static bool el0_op(u32 op)
{
	return op <= OP_STORE64 || (op >= OP_LDP32 && op <= OP_STLR64) ||     /* OP_LOAD8 is 0 */
	       (op >= OP_LDXR64 && op <= OP_CAS64) || op == OP_GCSSTR || (op >= OP_LDAPR64 && op <= OP_GCSSS1) ||
	       op == OP_DC_CIVAC || op == OP_DC_CVAC || op == OP_IC_IVAU || op == OP_GCSSS2 || op == OP_DC_ZVA ||
	       op == OP_FETCH || op == OP_SELFTEST_HANG;
}

/* The ops only EL2 has (UNDEFINED at EL1): in a case whose steps run at EL2 only. */
static bool el2_op(u32 op)
{
	return (op >= OP_AT_S1E2R && op <= OP_TLBI_VALE2IS) || (op >= OP_TLBI_RVAE2 && op <= OP_TLBI_RVALE2IS) ||
	       op == OP_AT_S1E2A;
}

/* The TLBIs, which have nXS forms (STEP_NXS). */
static bool tlbi_op(u32 op)
{
	return (op >= OP_TLBI_VMALLE1 && op <= OP_TLBI_VAALE1IS) || (op >= OP_TLBI_ALLE2 && op <= OP_TLBI_VALE2IS) ||
	       (op >= OP_TLBI_RVAE1 && op <= OP_TLBI_RVAALE1IS) || (op >= OP_TLBI_IPAS2E1 && op <= OP_TLBI_ALLE1IS) ||
	       (op >= OP_TLBI_RVAE2 && op <= OP_TLBI_RIPAS2LE1IS);
}

/* count = at least 1 + the `space` of each of the n records. */
#define COUNT_SPACES(records, n, count)                         \
	for (u32 i_ = 0; i_ < (n); i_++) {                      \
		if ((records)[i_].space >= (count))             \
			(count) = (records)[i_].space + 1u;     \
	}

static const char *case_problem(const u8 *base, const struct blob_case *c, u64 size)
{
	if (!id_ok(base, c->id, c->id_len, size))
		return "id";
	if (!regime_ok(&c->regime))
		return "regime";
	if (!array_fits(c->maps, c->nmaps, sizeof(struct map), size))
		return "maps";
	for (u32 i = 0; i < c->nmaps; i++) {
		const struct map *m = (const struct map *)(base + c->maps) + i;

		if (m->attrindx > 15 || m->ap > AP_RO_ALL || m->sh > SH_INNER || (m->flags & ~MAP_FLAGS) ||
		    m->space >= MAX_SPACES)
			return "maps";
	}
	if (!array_fits(c->tables, c->ntables, sizeof(struct table_attrs), size))
		return "tables";
	for (u32 i = 0; i < c->ntables; i++) {
		const struct table_attrs *t = (const struct table_attrs *)(base + c->tables) + i;

		if (t->aptable > APTABLE_RO_NO_EL0 || (t->flags & ~TABLE_ATTR_FLAGS) || t->space >= MAX_SPACES)
			return "tables";
	}
	if (!array_fits(c->raws, c->nraws, sizeof(struct raw), size))
		return "raws";
	for (u32 i = 0; i < c->nraws; i++) {
		if (((const struct raw *)(base + c->raws))[i].space >= MAX_SPACES)
			return "raws";
	}
	if (!array_fits(c->steps, c->nsteps, sizeof(struct step), size))
		return "steps";
	bool at_el2 = c->regime.flags & (REGIME_EL2 | REGIME_EL20);

	for (u32 i = 0; i < c->nsteps; i++) {
		const struct step *s = (const struct step *)(base + c->steps) + i;

		if (s->op >= OP_COUNT || s->el > 1 || (s->el == 0 && !el0_op(s->op)) || (el2_op(s->op) && !at_el2) ||
		    s->space >= MAX_SPACES || (s->flags & ~STEP_FLAGS) || ((s->flags & STEP_NXS) && !tlbi_op(s->op)))
			return "steps";
		/* A fix-up retries the load or store before it. */
		if (s->op >= OP_FIXUP_MAP && s->op <= OP_FIXUP_AF && (i == 0 || s[-1].op > OP_STTR64))
			return "steps";
	}
	if (c->nstage2 > 1 || !array_fits(c->stage2, c->nstage2, sizeof(struct blob_stage2), size) ||
	    (c->nstage2 && !stage2_ok(base, (const struct blob_stage2 *)(base + c->stage2), c->regime.flags, size)))
		return "stage2";
	return 0;
}

bool blob_check(const void *base, u64 capacity, struct blob_problem *problem)
{
	const struct blob_header *h = base;

	*problem = (struct blob_problem){ 0 };
	if (capacity < sizeof(*h) || h->magic != BLOB_MAGIC)
		problem->field = "magic";
	else if (h->version != BLOB_VERSION)
		problem->field = "version";
	else if (h->size > capacity || h->size < sizeof(*h) + (u64)h->ncases * sizeof(struct blob_case))
		problem->field = "size";
	if (problem->field)
		return false;
	for (u32 i = 0; i < h->ncases; i++) {
		problem->field = case_problem(base, &case_records(base)[i], h->size);
		if (problem->field) {
			problem->in_case = true;
			problem->index = i;
			return false;
		}
	}
	return true;
}

const char *blob_id(const void *base, u32 index)
{
	return (const char *)base + case_records(base)[index].id;
}

u32 blob_ncases(const void *base)
{
	return ((const struct blob_header *)base)->ncases;
}

void blob_case(const void *base, u32 index, struct mmut_case *c)
{
	const u8 *b = base;
	const struct blob_case *r = &case_records(base)[index];
	const struct blob_regime *g = &r->regime;
	const struct blob_stage2 *s2 = r->nstage2 ? (const struct blob_stage2 *)(b + r->stage2) : 0;

	*c = (struct mmut_case){
		.id = blob_id(base, index),
		.regime = {
			.tg0 = g->tg0, .tg1 = g->tg1, .t0sz = g->t0sz, .t1sz = g->t1sz, .ips = g->ips,
			.epd0 = g->flags & REGIME_EPD0, .epd1 = g->flags & REGIME_EPD1,
			.tbi0 = g->flags & REGIME_TBI0, .tbi1 = g->flags & REGIME_TBI1,
			.ds = g->flags & REGIME_DS, .ha = g->flags & REGIME_HA, .hd = g->flags & REGIME_HD,
			.sctlr_a = g->flags & REGIME_SCTLR_A, .kernel_high = g->flags & REGIME_KERNEL_HIGH,
			.raw_ttbr1 = g->flags & REGIME_RAW_TTBR1,
			.as = g->flags & REGIME_AS, .a1 = g->flags & REGIME_A1, .el20 = g->flags & REGIME_EL20,
			.nv = g->flags & REGIME_NV, .nv1 = g->flags & REGIME_NV1,
			.fnxs = g->flags & REGIME_FNXS, .dze = g->flags & REGIME_DZE,
			.cmow = g->flags & REGIME_CMOW,
			.wxn = g->flags & REGIME_WXN, .span = !(g->flags & REGIME_SPAN0),
			.epan = g->flags & REGIME_EPAN, .pan = g->flags & REGIME_PAN,
			.hpd0 = g->flags & REGIME_HPD0, .hpd1 = g->flags & REGIME_HPD1,
			.e0pd0 = g->flags & REGIME_E0PD0, .e0pd1 = g->flags & REGIME_E0PD1,
			.el2 = g->flags & REGIME_EL2,
			.ttbr1 = g->ttbr1, .mair = g->mair,
			.tcr2 = g->tcr2, .pir = g->pir, .pire0 = g->pire0, .mair2 = g->mair2,
		},
		.maps = (const struct map *)(b + r->maps),
		.tables = (const struct table_attrs *)(b + r->tables),
		.raws = (const struct raw *)(b + r->raws),
		.steps = (const struct step *)(b + r->steps),
		.nmaps = r->nmaps, .ntables = r->ntables, .nraws = r->nraws, .nsteps = r->nsteps, .nspaces = 1,
		.stage2 = s2,
		.s2maps = s2 ? (const struct s2_map *)(b + s2->maps) : 0,
		.s2raws = s2 ? (const struct raw *)(b + s2->raws) : 0,
	};
	/* The table sets: 1 + the highest its maps, tables, raws and steps name (checked below MAX_SPACES). */
	COUNT_SPACES(c->maps, c->nmaps, c->nspaces);
	COUNT_SPACES(c->tables, c->ntables, c->nspaces);
	COUNT_SPACES(c->raws, c->nraws, c->nspaces);
	COUNT_SPACES(c->steps, c->nsteps, c->nspaces);
}
