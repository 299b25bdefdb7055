/*
 * The fix-ups an OS makes in its fault handler before it returns to retry the
 * access, with the maintenance each needs (Arm ARM D8 "TLB maintenance
 * requirements"): a descriptor that was invalid or had AF = 0 gave a fault
 * that no TLB holds, so DSB and ISB make the new one seen; copy-on-write
 * replaces a valid read-only translation, which a TLB may hold, so it is
 * removed (TLBI VAE1 of the current ASID) before the retry.
 */
#include "fixup.h"
#include "probe.h"
#include "record.h"
#include "sysreg.h"

bool is_fixup(u32 op)
{
	return op >= OP_FIXUP_MAP && op <= OP_FIXUP_AF;
}

static void report_not_fixed(unsigned n, u64 va, const char *error)
{
	record_step(n, va);
	record_str("result", "error");
	record_str("error", error);
	record_end();
}

/* The current ASID: TTBR1_EL1's with TCR_EL1.A1, else TTBR0_EL1's (bits[63:48]). */
static u64 current_asid(void)
{
	return ((read_sysreg(tcr_el1) & TCR_A1) ? read_sysreg(ttbr1_el1) : read_sysreg(ttbr0_el1)) >> 48;
}

static void copy_page(u64 from, u64 to, u64 size)
{
	const volatile u64 *src = (const volatile u64 *)(uintptr_t)from;
	volatile u64 *dst = (volatile u64 *)(uintptr_t)to;

	for (u64 k = 0; k < size / sizeof(u64); k++)
		dst[k] = src[k];
}

bool apply_fixup(unsigned n, const struct step *fix, struct pgtable *pt,
		 const struct walk_memory *memory)
{
	u64 *slot, page = 1ULL << pt->granule_shift;
	struct walk old, new;
	int err;

	if (!probe.fault.taken) {
		report_not_fixed(n, fix->va, "not_faulted");
		return false;
	}
	err = pgt_slot(pt, fix->va, fix->level, &slot);
	if (err) {
		report_not_fixed(n, fix->va, pgt_error_name(err));
		return false;
	}
	pgt_walk(pt, fix->va, memory, &old);
	*(volatile u64 *)slot = (*(volatile u64 *)slot & ~fix->mask) | fix->value;
	if (fix->op == OP_FIXUP_COPY) {
		pgt_walk(pt, fix->va, memory, &new);
		if (old.valid && new.valid)
			copy_page(old.pa & ~(page - 1), new.pa & ~(page - 1), page);
	}
	dsb(ish);
	if (fix->op == OP_FIXUP_COPY) {
		__asm__ volatile("tlbi vae1, %0" : : "r"(current_asid() << 48 | (fix->va >> 12 & GENMASK(43, 0))) : "memory");
		dsb(ish);
	}
	isb();
	return true;
}
