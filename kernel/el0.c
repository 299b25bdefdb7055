/*
 * The EL1 side of EL0 steps: every exception EL0 takes while a step runs
 * there ends the step.  The SVC at the end of an EL0 probe is the step's
 * normal end; anything else (an abort, a PC alignment fault) is recorded as
 * the step's fault, just as for EL1 probes.  Either way the handler returns to
 * el0_call's caller at EL1t (el0.S, el0_return), not to EL0.
 */
#include "el0.h"
#include "layout.h"
#include "probe.h"
#include "sysreg.h"

struct el0_context el0_context;

/*
 * The page is aligned to its size (linker/kernel.ld), so a probe's offset in
 * it is the low bits of its address: the same whether the compiler gave the
 * identity address or the TTBR1 alias's (a switch table holds link addresses).
 */
u64 el0_code_va(void (*probe)(void), u64 page_va)
{
	return page_va + ((u64)(uintptr_t)probe & (EL0_CODE_SIZE - 1));
}

/* Whether this CPU has PSTATE.PAN (FEAT_PAN): reading it is UNDEFINED otherwise. */
static bool have_pan(void)
{
	return ID_MMFR1_PAN(read_sysreg(id_aa64mmfr1_el1)) != 0;
}

u64 el0_call(u64 entry, u64 va, u64 value, u64 spsr);

/*
 * EL0 runs with the PSTATE.PAN EL1 had (SPSR_EL1.PAN), so that an exception
 * entry that leaves PAN alone (SCTLR_EL1.SPAN = 1) gives it back unchanged.
 */
u64 el0_run(u64 entry, u64 va, u64 value)
{
	return el0_call(entry, va, value, SPSR_EL0T_MASKED | (have_pan() ? read_pan() & SPSR_PAN : 0));
}

bool el0_step_exception(struct frame *f)
{
	if (probe.armed != PROBE_EL0)
		return false;
	/* EL0's x0 comes back as el0_call's result: the loaded value, or the fetch stub's. */
	if (ESR_EC(f->esr) != ESR_EC_SVC64) {
		probe.fault = (struct probe_fault){
			.taken = true, .esr = f->esr, .far = read_sysreg(far_el1), .elr = f->elr,
		};
	}
	probe.armed = PROBE_NONE;
	/*
	 * The kernel goes on with the PSTATE.PAN this exception entry gave it
	 * (set when SCTLR_EL1.SPAN = 0): what EL1 code after an exception from
	 * EL0 runs with, and what later EL1 steps of the case observe.
	 */
	f->elr = el0_context.resume;
	f->spsr = SPSR_EL1T_MASKED | (have_pan() ? read_pan() & SPSR_PAN : 0);
	return true;
}
