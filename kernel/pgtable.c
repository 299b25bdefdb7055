/*
 * Translation tables for any granule and start level.  With a granule of
 * 2^g bytes a table holds 2^(g-3) descriptors, so each level resolves g-3
 * VA bits; the start level is the one whose table resolves the top VA bits
 * (Arm ARM D8.2, the AArch64.S1StartLevel() computation).
 */
#include "pgtable.h"

unsigned pgt_level_shift(unsigned granule_shift, int level)
{
	return granule_shift + (granule_shift - 3) * (3 - level);
}

int pgt_start_level(unsigned granule_shift, unsigned va_bits)
{
	unsigned stride = granule_shift - 3;
	unsigned levels = (va_bits - granule_shift + stride - 1) / stride;

	return 4 - (int)levels;
}

/* Index bits at the start level are what is left of the VA above the next level. */
static unsigned index_bits(const struct pgtable *pt, int level)
{
	if (level == pt->start_level)
		return pt->va_bits - pgt_level_shift(pt->granule_shift, level);
	return pt->granule_shift - 3;
}

unsigned pgt_index(const struct pgtable *pt, u64 va, int level)
{
	return (va >> pgt_level_shift(pt->granule_shift, level)) &
	       ((1ULL << index_bits(pt, level)) - 1);
}

u64 pte_prot_bits(const struct pte_prot *prot)
{
	return PTE_ATTRINDX(prot->attrindx) | PTE_AP(prot->ap) | PTE_SH(prot->sh) |
	       (prot->af ? PTE_AF : 0) | (prot->ng ? PTE_NG : 0) |
	       (prot->pxn ? PTE_PXN : 0) | (prot->uxn ? PTE_UXN : 0) |
	       (prot->contig ? PTE_CONT : 0) | (prot->dbm ? PTE_DBM : 0);
}

/* An output or next-level table address as a descriptor holds it. */
static u64 oa_encode(const struct pgtable *pt, u64 pa)
{
	switch (pt->oa_format) {
	case OA_52_LPA:
		return (pa & DESC_OA_MASK(pt->granule_shift)) |
		       ((pa >> 48 << DESC_OA52_LPA_SHIFT) & DESC_OA52_LPA_MASK);
	case OA_52_DS:
		return (pa & DESC_OA_DS_MASK(pt->granule_shift)) |
		       ((pa >> 50 << DESC_OA52_DS_SHIFT) & DESC_OA52_DS_MASK);
	default:
		return pa & DESC_OA_MASK(pt->granule_shift);
	}
}

static u64 oa_decode(const struct pgtable *pt, u64 desc)
{
	switch (pt->oa_format) {
	case OA_52_LPA:
		return (desc & DESC_OA_MASK(pt->granule_shift)) |
		       (desc & DESC_OA52_LPA_MASK) >> DESC_OA52_LPA_SHIFT << 48;
	case OA_52_DS:
		return (desc & DESC_OA_DS_MASK(pt->granule_shift)) |
		       (desc & DESC_OA52_DS_MASK) >> DESC_OA52_DS_SHIFT << 50;
	default:
		return desc & DESC_OA_MASK(pt->granule_shift);
	}
}

/*
 * A block descriptor above level 3, a page descriptor at level 3.  With
 * TCR_EL1.DS = 1 bits[9:8] hold OA[51:50] and TCR_EL1.SHx gives the shareability.
 */
static u64 leaf_with_attrs(const struct pgtable *pt, u64 pa, int level, u64 attrs)
{
	u64 type = level == 3 ? DESC_VALID | DESC_PAGE : DESC_VALID;

	if (pt->oa_format == OA_52_DS)
		attrs &= ~DESC_OA52_DS_MASK;
	return oa_encode(pt, pa) | attrs | type;
}

u64 pte_leaf(const struct pgtable *pt, u64 pa, int level, const struct pte_prot *prot)
{
	return leaf_with_attrs(pt, pa, level, pte_prot_bits(prot));
}

/* Stage 2 shares SH, AF, Contiguous and DBM with stage 1 (pgtable-hwdef.h). */
u64 s2_prot_bits(const struct s2_prot *prot)
{
	u64 bits = S2_MEMATTR(prot->memattr) | S2_AP(prot->s2ap) | PTE_SH(prot->sh) | S2_XN(prot->xn);

	if (prot->af)
		bits |= PTE_AF;
	if (prot->contig)
		bits |= PTE_CONT;
	if (prot->dbm)
		bits |= PTE_DBM;
	return bits;
}

void pool_reset(struct table_pool *pool)
{
	pool->used = 0;
}

/* size bytes, aligned to size (a power of two): a table, or a start level's concatenated tables. */
static u64 *table_alloc_size(struct table_pool *pool, size_t size)
{
	size_t start = (pool->used + size - 1) & ~(size - 1);
	u64 *table;

	if (start + size > pool->size)
		return NULL;
	pool->used = start + size;
	table = (u64 *)(pool->base + start);
	for (size_t i = 0; i < size / sizeof(u64); i++)
		table[i] = 0;
	return table;
}

static u64 *table_alloc(struct table_pool *pool, unsigned granule_shift)
{
	return table_alloc_size(pool, (size_t)1 << granule_shift);
}

int pgt_init(struct pgtable *pt, struct table_pool *pool, unsigned granule_shift, unsigned va_bits,
	     enum oa_format oa_format)
{
	pt->oa_format = oa_format;
	pt->pool = pool;
	pt->granule_shift = granule_shift;
	pt->va_bits = va_bits;
	pt->start_level = pgt_start_level(granule_shift, va_bits);
	/* A whole granule for the root, so it meets any TTBR alignment. */
	pt->root = table_alloc(pool, granule_shift);
	return pt->root ? PGT_OK : PGT_NO_MEMORY;
}

/*
 * Tables whose start level is given, not derived from the VA size: stage 2,
 * where VTCR_EL2.SL0 names it and the start level may resolve up to four
 * more bits than a table holds, by concatenating up to 16 tables, aligned to
 * their total size (Arm ARM D8.2.7 "Concatenated translation tables").
 */
int pgt_init_level(struct pgtable *pt, struct table_pool *pool, unsigned granule_shift, unsigned va_bits,
		   int start_level, enum oa_format oa_format)
{
	unsigned bits = va_bits - pgt_level_shift(granule_shift, start_level);
	size_t size = (size_t)8 << bits;

	pt->oa_format = oa_format;
	pt->pool = pool;
	pt->granule_shift = granule_shift;
	pt->va_bits = va_bits;
	pt->start_level = start_level;
	pt->root = table_alloc_size(pool, size < ((size_t)1 << granule_shift) ? (size_t)1 << granule_shift : size);
	return pt->root ? PGT_OK : PGT_NO_MEMORY;
}

static bool is_table(u64 desc, int level)
{
	return level < 3 && (desc & (DESC_VALID | DESC_TABLE)) == (DESC_VALID | DESC_TABLE);
}

/* The TTBRn_EL1 value for these tables (ASID 0, CnP 0). */
u64 pgt_ttbr(const struct pgtable *pt)
{
	u64 base = (u64)(uintptr_t)pt->root;

	if (pt->oa_format == OA_48)
		return base;
	return (base & GENMASK(47, 1)) | (base >> 48 << TTBR_BADDR52_SHIFT);
}

/* The table address a TTBRn_EL1 value holds (BADDR, without ASID and CnP): pgt_ttbr's inverse. */
u64 pgt_ttbr_table(const struct pgtable *pt, u64 ttbr)
{
	if (pt->oa_format == OA_48)
		return ttbr & GENMASK(47, 1);
	return (ttbr & GENMASK(47, 6)) | (ttbr & GENMASK(5, TTBR_BADDR52_SHIFT)) >> TTBR_BADDR52_SHIFT << 48;
}

static u64 *table_at(const struct pgtable *pt, u64 desc)
{
	return (u64 *)(uintptr_t)oa_decode(pt, desc);
}

/*
 * Find the descriptor slot for va at level, making the tables above it.
 * Anything but an empty slot or a table descriptor on the way is in the way.
 */
const char *pgt_error_name(int err)
{
	static const char *const names[] = {
		[-PGT_NO_MEMORY] = "no_memory", [-PGT_BAD_LEVEL] = "bad_level",
		[-PGT_MISALIGNED] = "misaligned", [-PGT_OCCUPIED] = "occupied", [-PGT_NOT_TABLE] = "not_table",
	};

	return names[-err];
}

int pgt_slot(struct pgtable *pt, u64 va, int level, u64 **slot)
{
	u64 *table = pt->root;

	if (level < pt->start_level || level > 3)
		return PGT_BAD_LEVEL;
	for (int l = pt->start_level; l < level; l++) {
		u64 *entry = &table[pgt_index(pt, va, l)];

		if (*entry == 0) {
			u64 *next = table_alloc(pt->pool, pt->granule_shift);

			if (!next)
				return PGT_NO_MEMORY;
			*entry = oa_encode(pt, (u64)(uintptr_t)next) | DESC_TABLE | DESC_VALID;
		} else if (!is_table(*entry, l)) {
			return PGT_OCCUPIED;
		}
		table = table_at(pt, *entry);
	}
	*slot = &table[pgt_index(pt, va, level)];
	return PGT_OK;
}

int pgt_map(struct pgtable *pt, u64 va, u64 pa, int level, const struct pte_prot *prot)
{
	return pgt_map_attrs(pt, va, pa, level, pte_prot_bits(prot));
}

int pgt_map_attrs(struct pgtable *pt, u64 va, u64 pa, int level, u64 attrs)
{
	u64 size_mask, *slot;
	int err;

	if (level < pt->start_level || level > 3)
		return PGT_BAD_LEVEL;
	size_mask = (1ULL << pgt_level_shift(pt->granule_shift, level)) - 1;
	if ((va | pa) & size_mask)
		return PGT_MISALIGNED;
	err = pgt_slot(pt, va, level, &slot);
	if (err)
		return err;
	*slot = leaf_with_attrs(pt, pa, level, attrs);
	return PGT_OK;
}

/* Add hierarchical attributes to the table descriptor for va at level. */
int pgt_table_prot(struct pgtable *pt, u64 va, int level, const struct table_prot *prot)
{
	u64 *slot;
	int err = pgt_slot(pt, va, level, &slot);

	if (err)
		return err;
	if (!is_table(*slot, level))
		return PGT_NOT_TABLE;
	*slot |= TABLE_AP(prot->aptable) | (prot->pxntable ? TABLE_PXN : 0) | (prot->uxntable ? TABLE_UXN : 0);
	return PGT_OK;
}

/*
 * Whether a walk starts for va in the range of its TTBR (VA bit 55): every
 * bit from the top of the range up to bit 55 (top byte ignored, TBI) or
 * bit 63 must equal bit 55; otherwise the access faults at the start level
 * without a descriptor read (AArch64.S1Translate, AArch64.VAIsOutOfRange).
 */
bool pgt_va_in_range(unsigned va_bits, u64 va, bool tbi)
{
	u64 top = tbi ? GENMASK(55, va_bits) : GENMASK(63, va_bits);

	return (va & top) == ((va & BIT(55)) ? top : 0);
}

/*
 * The walk as the kernel built it, recording every descriptor it reads:
 * follows table descriptors (bits[1:0] = 0b11 above level 3, the next-level
 * address in the tables' OA format) and stops at anything else, or at a table
 * outside the memory it may read (a raw table descriptor may point anywhere).
 * w->valid is false unless it stopped at a block or page.  Like the
 * hardware, it reads only the VA bits the levels resolve, so a tag in the
 * top byte plays no part.
 */
void pgt_walk(const struct pgtable *pt, u64 va, const struct walk_memory *memory, struct walk *w)
{
	u64 table = (u64)(uintptr_t)pt->root;

	/* Field by field: reads[] beyond nreads is never looked at (and a freestanding build has no memset). */
	w->level = 0;
	w->desc = w->pa = 0;
	w->valid = false;
	w->nreads = 0;
	for (int l = pt->start_level; l <= 3; l++) {
		unsigned index = pgt_index(pt, va, l);
		u64 slot = table + index * sizeof(u64);
		u64 desc;

		if (slot < memory->base || slot + sizeof(u64) > memory->base + memory->size)
			return;
		desc = *(const volatile u64 *)(uintptr_t)(slot + memory->offset);
		w->reads[w->nreads++] = (struct walk_read){ .level = l, .table = table, .index = index, .desc = desc };
		w->level = l;
		w->desc = desc;
		if (is_table(desc, l)) {
			table = oa_decode(pt, desc);
			continue;
		}
		w->valid = (desc & DESC_VALID) && (l < 3 || (desc & DESC_PAGE));
		if (w->valid) {
			u64 size_mask = (1ULL << pgt_level_shift(pt->granule_shift, l)) - 1;

			w->pa = (oa_decode(pt, desc) & ~size_mask) | (va & size_mask);
		}
		return;
	}
}

static u64 digest_word(u64 digest, u64 word)
{
	return (digest ^ word) * WALK_DIGEST_PRIME;
}

u64 pgt_walk_digest(u64 digest, const struct walk *w, unsigned stage)
{
	for (unsigned i = 0; i < w->nreads; i++) {
		const struct walk_read *r = &w->reads[i];

		digest = digest_word(digest, stage);
		digest = digest_word(digest, (u64)(s64)r->level);
		digest = digest_word(digest, r->table);
		digest = digest_word(digest, r->index);
		digest = digest_word(digest, r->desc);
	}
	return digest;
}
