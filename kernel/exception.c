/*
 * A fault in an armed probe is recorded and the probe resumed, so one case
 * runs many steps (the idea of Linux's exception tables).  Anything else is
 * reported with its syndrome and ends the run: never a silent hang.
 */
#include "el0.h"
#include "exception.h"
#include "exit_status.h"
#include "probe.h"
#include "record.h"
#include "semihost.h"
#include "sysreg.h"

volatile struct probe_state probe;
const char *current_case_id;
static volatile bool fault_in_handler;

static bool resume_probe(struct frame *f)
{
	u64 elr = f->elr;

	if (probe.armed == PROBE_DATA && ((elr >= (u64)__probes_start && elr < (u64)__probes_end) ||
					  (elr >= (u64)__at_probes_start && elr < (u64)__at_probes_end))) {
		f->elr = elr + 4;
	} else if (probe.armed == PROBE_FETCH && !((elr ^ probe.fetch_target) & GENMASK(55, 0))) {
		/* A branch through a tagged pointer leaves the tag out of the PC (AArch64.BranchAddr). */
		f->elr = f->x[30];
	} else {
		return false;
	}
	probe.fault = (struct probe_fault){
		.taken = true, .esr = f->esr, .far = read_sysreg_elx(far), .elr = elr,
	};
	probe.armed = PROBE_NONE;
	return true;
}

void handle_exception(struct frame *f, u64 vector)
{
	bool nested = VECTOR_IS_NESTED(vector);

	if (!nested && fault_in_handler) {
		/* Self-test: fault here, outside the VA range of any regime. */
		fault_in_handler = false;
		(void)*(volatile u64 *)0x00ff000000000000ULL;
	}
	if (vector == VECTOR_CURRENT_SP0_SYNC && resume_probe(f))
		return;
	if (vector == VECTOR_LOWER_A64_SYNC && el0_step_exception(f))
		return;

	record_begin("exception");
	record_str("kind", nested ? "nested" : "unexpected");
	record_dec("vector", vector);
	record_hex("esr", f->esr);
	record_hex("far", read_sysreg_elx(far));
	record_hex("elr", f->elr);
	record_hex("spsr", f->spsr);
	if (current_case_id)
		record_str("case", current_case_id);
	record_end();
	semihost_exit(nested ? EXIT_NESTED : EXIT_UNEXPECTED);
}

void selftest_brk(void)
{
	__asm__ volatile("brk #0");
}

void selftest_nested(void)
{
	fault_in_handler = true;
	__asm__ volatile("brk #0");
}

void selftest_hang(void)
{
	for (;;)
		__asm__ volatile("wfi");
}
