/*
 * The kernel's side of EL0 steps (at EL1; at EL2 in a +vhe boot, where
 * HCR_EL2.TGE takes EL0's exceptions to EL2): every exception EL0 takes
 * while a step runs there ends the step.  The SVC at the end of an EL0 probe
 * is the step's normal end; anything else (an abort, a PC alignment fault)
 * is recorded as the step's fault, just as for the kernel's own probes.
 * Either way the handler returns to el0_call's caller at EL1t (EL2t) (el0.S,
 * el0_return), not to EL0.
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

u64 el0_call(u64 entry, u64 va, u64 value, u64 spsr, u64 second);

/* EL0's x1 at the SVC that ended its step. */
static u64 el0_x1;

/*
 * The kernel's own PSTATE to return to: EL1t, or EL2t where it runs at EL2
 * (a +vhe boot: with HCR_EL2.TGE = 1 a return to EL1 would be an illegal
 * exception return).
 */
static u64 kernel_spsr(void)
{
	return current_el() == 2 ? SPSR_EL2T_MASKED : SPSR_EL1T_MASKED;
}

/*
 * EL0 runs with the PSTATE.PAN EL1 had (SPSR_EL1.PAN), so that an exception
 * entry that leaves PAN alone (SCTLR_EL1.SPAN = 1) gives it back unchanged.
 */
u64 el0_run(u64 entry, u64 va, u64 value, u64 second, u64 *x1)
{
	u64 x0 = el0_call(entry, va, value, SPSR_EL0T_MASKED | (have_pan() ? read_pan() & SPSR_PAN : 0), second);

	*x1 = el0_x1;
	return x0;
}

bool el0_step_exception(struct frame *f)
{
	if (probe.armed != PROBE_EL0)
		return false;
	/* EL0's x0 comes back as el0_call's result: the loaded value, or the fetch stub's; x1 in el0_x1. */
	el0_x1 = f->x[1];
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
	f->spsr = kernel_spsr() | (have_pan() ? read_pan() & SPSR_PAN : 0);
	return true;
}
