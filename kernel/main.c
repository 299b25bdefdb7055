/*
 * The boot and the case loop: check the case blob, then for each case the
 * semihosting command line names (cmdline.c: by ID, or a range of blob
 * indices) build its memory (tables.c), enable the MMU, run its steps
 * (steps.c, one record each), and turn the MMU off again, so one boot can run
 * many cases (batch mode, campaigns).  The records go to the console
 * (console.c).
 */
#include "blob.h"
#include "cmdline.h"
#include "console.h"
#include "exception.h"
#include "exit_status.h"
#include "hvc.h"
#include "layout.h"
#include "mmu.h"
#include "record.h"
#include "stage2.h"
#include "steps.h"
#include "sysreg.h"
#include "tables.h"

/* The kernel started at EL2, whose half (el2.c) a case's stage 2 needs. */
static bool have_el2;
/* The EL the kernel runs at: 1, or 2 in a +vhe boot on a CPU with FEAT_VHE. */
static u64 kernel_el;

#define CASE_BLOB ((const void *)CASE_BLOB_BASE)
static u32 ncases;          /* in the blob; 0 until it is checked */

extern const char __data_start[], __bss_end[];

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
	/* The ID registers of later features (Armv8.7 on; RES0, so 0, before them) */
	record_hex("mmfr3", read_sysreg(ID_AA64MMFR3_EL1));
	record_hex("mmfr4", read_sysreg(ID_AA64MMFR4_EL1));
	record_hex("pfr1", read_sysreg(id_aa64pfr1_el1));
	record_hex("isar1", read_sysreg(id_aa64isar1_el1));
	record_hex("isar2", read_sysreg(ID_AA64ISAR2_EL1));
	record_hex("dczid", read_sysreg(dczid_el0));        /* DC ZVA's block size (BS) and DZP */
	record_hex("clidr", read_sysreg(clidr_el1));        /* LoC: whether DC to the PoC may be a NOP */
	record_hex("ctr", read_sysreg(ctr_el0));            /* DIC: whether IC IVAU may be a NOP */
	record_dec("cases", ncases);
	record_end();
}

/* The TTBR0 side of a regime, as run_in_alias switches it. */
struct ttbr0_regs {
	u64 tcr, ttbr0;
};

void run_in_alias(u64 offset, const struct ttbr0_regs *enter, const struct ttbr0_regs *leave,
		  void (*fn)(const void *), const void *arg);

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
		ALIAS(&window_alias), EL0_CODE_ALIAS_VA, NULL, false, first_change(c), ALIAS_OFFSET, 0,
	};

	mmu_enable(&transition, boot_root, tt1_root);
	current_case_id = run.id;
	console_set_uart(UART_ALIAS_BASE);
	run_in_alias(ALIAS_OFFSET, &enter, &leave, ALIAS(&run_steps), ALIAS(&run));
	console_set_uart(UART_BASE);
	current_case_id = c->id;
}

/* The registers of later features mmu.c and el2.c write: those the CPU has. */
static void report_extended_regs(const struct regime *r, const struct blob_stage2 *s2)
{
	u64 mmfr3 = read_sysreg(ID_AA64MMFR3_EL1);

	if (ID_MMFR3_TCRX(mmfr3))
		record_hex("tcr2", r->tcr2);
	if (ID_MMFR3_S1PIE(mmfr3)) {
		record_hex("pir", r->pir);
		record_hex("pire0", r->pire0);
	}
	if (ID_MMFR3_AIE(mmfr3))
		record_hex("mair2", r->mair2);
	if (s2 && ID_MMFR3_S2PIE(mmfr3))
		record_hex("s2pir", s2->s2pir);
}

/*
 * The five registers every regs record holds, as the boot's last regs record
 * gave them: a record leaves out those that have not changed (docs/protocol.md).
 */
enum { REG_TCR, REG_MAIR, REG_SCTLR, REG_TTBR0, REG_TTBR1, NREGS };
static u64 last_regs[NREGS];
static bool regs_reported;

static void report_reg(unsigned i, const char *key, u64 value)
{
	if (!regs_reported || value != last_regs[i])
		record_hex(key, value);
	last_regs[i] = value;
}

/* The registers as the steps see them (for a kernel_high case, the case's TTBR0 side as run_in_alias sets it). */
static void report_regs(const struct mmut_case *c, u64 ttbr0, u64 ttbr1, const struct pgtable *s2)
{
	record_begin("regs");
	report_reg(REG_TCR, "tcr", tcr_from_regime(&c->regime));
	report_reg(REG_MAIR, "mair", c->regime.mair);
	report_reg(REG_SCTLR, "sctlr", sctlr_from_regime(&c->regime));
	report_reg(REG_TTBR0, "ttbr0", ttbr0);
	report_reg(REG_TTBR1, "ttbr1", c->regime.el2 ? 0 : ttbr1);     /* the EL2 regime has no TTBR1 */
	regs_reported = true;
	report_extended_regs(&c->regime, c->stage2);
	if (c->regime.el2 || c->regime.el20) {
		/* The registers above are EL2's (for EL2&0, E2H = 1: TTBR1_EL2 too, in the EL1 layouts). */
		record_dec("el", 2);
		if (c->regime.el20)
			record_hex("hcr", read_sysreg(hcr_el2));
	}
	if (nested_hcr(&c->regime))     /* HCR_EL2 while each of the case's AT steps runs (steps.c run_at_nested) */
		record_hex("hcr", HCR_RW | nested_hcr(&c->regime));
	if (c->stage2) {
		record_hex("hcr", hcr_from_stage2(c->stage2));
		record_hex("vtcr", vtcr_from_stage2(c->stage2));
		record_hex("vttbr", vttbr_from_stage2(c->stage2, s2));
	}
	record_end();
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
	record_case_begin(c->id);
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
						c->stage2 && (c->stage2->flags & (STAGE2_HA | STAGE2_HD)), first_change(c), 0,
						c->stage2 ? hcr_step_traps(c->stage2) : 0 };

			if (c->stage2)
				hvc_call(HVC_STAGE2_ON, vtcr_from_stage2(c->stage2), vttbr_from_stage2(c->stage2, &s2),
					 hcr_from_stage2(c->stage2) & ~hcr_step_traps(c->stage2), c->stage2->s2pir);
			/* The steps of an EL2-regime case run at EL2: the kernel moves there (mmu.c then programs EL2's MMU). */
			if (c->regime.el2)
				hvc_call(HVC_ENTER_EL2, 0, 0, 0, 0);
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
			hvc_call(HVC_LEAVE_EL2, 0, 0, 0, 0);
		if (c->stage2)
			hvc_call(HVC_STAGE2_OFF, 0, 0, 0, 0);
	}
	record_case_end();
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

static int run_index(u32 index)
{
	struct mmut_case c;

	blob_case(CASE_BLOB, index, &c);
	return run_case(&c);
}

static int run_token(const char *token, size_t len)
{
	int status = EXIT_OK;

	if (token[0] == '#') {
		u32 first, last;

		if (!parse_range(token, len, ncases, &first, &last))
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

int kernel_main(u64 boot_el)
{
	int status = EXIT_OK;
	struct blob_problem problem;
	bool blob_ok = blob_check(CASE_BLOB, CASE_BLOB_SIZE, &problem);
	const char *cmdline = cmdline_read();
	const char *p = cmdline ? cmdline : "", *token;
	/* Options first, wherever they are: they hold for every case of the boot, the console's from its first record. */
	bool options_ok = set_options(p);
	size_t len;

	console_init();
	if (options.semihosting)
		console_use_semihosting();
	if (blob_ok)
		ncases = blob_ncases(CASE_BLOB);
	have_el2 = boot_el == 2;
	kernel_el = CURRENTEL_EL(read_sysreg(CurrentEL));
	report_boot(boot_el);
	if (!blob_ok) {
		status = report_bad_blob(&problem);
		p = "";
	} else if (!cmdline) {
		record_begin("error");
		record_str("what", "cmdline_too_long");
		record_end();
		status = EXIT_CASE_ERROR;
	}
	for (const char *q = cmdline ? cmdline : ""; !options_ok && (len = next_token(&q, &token));) {
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
