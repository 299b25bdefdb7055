/*
 * A stage 1 translation table library for any granule (4K, 16K, 64K) and any
 * start level.  Pure logic over memory: the kernel runs it with the MMU off
 * (so addresses are physical), and the host tests run it on host memory.
 */
#ifndef MMUT_PGTABLE_H
#define MMUT_PGTABLE_H

#include "types.h"
#include "pgtable-hwdef.h"

/* Attributes of a block or page, by field. */
struct pte_prot {
	u8 attrindx;            /* MAIR_EL1 index */
	u8 ap;                  /* enum ap: AP[2:1] */
	u8 sh;                  /* enum sh */
	bool af, ng, pxn, uxn, contig, dbm;
};

/* Attributes of a stage 2 block or page, by field (pgtable-hwdef.h). */
struct s2_prot {
	u8 memattr;             /* MemAttr[3:0] */
	u8 s2ap;                /* enum s2ap */
	u8 sh;                  /* enum sh */
	u8 xn;                  /* XN[1:0] */
	bool af, contig, dbm;
};

/* Table memory: a bump allocator the kernel resets between cases. */
struct table_pool {
	u8 *base;
	size_t size, used;
};

/* How descriptors hold output and table addresses (pgtable-hwdef.h). */
enum oa_format {
	OA_48,                          /* OA[47:granule shift] in place */
	OA_52_LPA,                      /* 64K granule, 52-bit IPS (FEAT_LPA) */
	OA_52_DS,                       /* 4K or 16K granule, TCR_EL1.DS = 1 (FEAT_LPA2) */
};

struct pgtable {
	u64 *root;
	struct table_pool *pool;
	unsigned granule_shift;         /* 12, 14 or 16 */
	unsigned va_bits;               /* 64 - TxSZ */
	int start_level;
	enum oa_format oa_format;
};

enum pgt_error {
	PGT_OK = 0,
	PGT_NO_MEMORY = -1,             /* table pool exhausted */
	PGT_BAD_LEVEL = -2,             /* level outside start level .. 3 */
	PGT_MISALIGNED = -3,            /* va or pa not aligned to the mapping size */
	PGT_OCCUPIED = -4,              /* a block, page or raw descriptor is above the slot */
	PGT_NOT_TABLE = -5,             /* hierarchical attributes for a slot that holds no table */
};

/* Hierarchical attributes of a table descriptor, by field. */
struct table_prot {
	u8 aptable;                     /* enum aptable */
	bool pxntable, uxntable;
};

/*
 * Physical memory a software walk may read: [base, base + size), reached at
 * pa + offset (the kernel reads its window through its TTBR1 alias while a
 * kernel_high case's steps run, and the host tests read host memory).
 */
struct walk_memory {
	u64 base, size, offset;
};

/* Levels -1 (with TCR_EL1.DS = 1) to 3. */
#define PGT_WALK_LEVELS 5

/* One descriptor a walk read: table[index] at level. */
struct walk_read {
	int level;
	u64 table;                      /* physical address of the table */
	unsigned index;
	u64 desc;
};

/* The outcome of a software walk, and every descriptor it read, in order. */
struct walk {
	int level;                      /* level of the last descriptor read */
	u64 desc;                       /* that descriptor */
	u64 pa;                         /* output address when valid */
	bool valid;                     /* a block or page was found */
	unsigned nreads;
	struct walk_read reads[PGT_WALK_LEVELS];
};

/* Geometry of the walk (Arm ARM D8.2 "Translation table walk"). */
unsigned pgt_level_shift(unsigned granule_shift, int level);
int pgt_start_level(unsigned granule_shift, unsigned va_bits);
unsigned pgt_index(const struct pgtable *pt, u64 va, int level);

u64 pte_prot_bits(const struct pte_prot *prot);
u64 pte_leaf(const struct pgtable *pt, u64 pa, int level, const struct pte_prot *prot);

/* The protocol's word for an enum pgt_error (below 0). */
const char *pgt_error_name(int err);
u64 s2_prot_bits(const struct s2_prot *prot);

void pool_reset(struct table_pool *pool);
int pgt_init(struct pgtable *pt, struct table_pool *pool, unsigned granule_shift, unsigned va_bits,
	     enum oa_format oa_format);
int pgt_init_level(struct pgtable *pt, struct table_pool *pool, unsigned granule_shift, unsigned va_bits,
		   int start_level, enum oa_format oa_format);
u64 pgt_ttbr(const struct pgtable *pt);
u64 pgt_ttbr_table(const struct pgtable *pt, u64 ttbr);
int pgt_slot(struct pgtable *pt, u64 va, int level, u64 **slot);
int pgt_map(struct pgtable *pt, u64 va, u64 pa, int level, const struct pte_prot *prot);
int pgt_map_attrs(struct pgtable *pt, u64 va, u64 pa, int level, u64 attrs);
int pgt_table_prot(struct pgtable *pt, u64 va, int level, const struct table_prot *prot);
bool pgt_va_in_range(unsigned va_bits, u64 va, bool tbi);
void pgt_walk(const struct pgtable *pt, u64 va, const struct walk_memory *memory, struct walk *w);

/*
 * A digest of the descriptors walks read (the step record's `walk`, docs/protocol.md;
 * harness/walk_digest.py computes the declared tables' the same way): from
 * WALK_DIGEST_SEED, each read's stage, level, table, index and descriptor, a
 * 64-bit word each, folded in as FNV-1a folds bytes (xor, then multiply by
 * WALK_DIGEST_PRIME).
 */
#define WALK_DIGEST_SEED    0xcbf29ce484222325
#define WALK_DIGEST_PRIME   0x100000001b3
u64 pgt_walk_digest(u64 digest, const struct walk *w, unsigned stage);

#endif
