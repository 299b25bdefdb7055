"""A case's steps through the model, offline: predict_case steps the
declared layout (harness/declared.py) through each step's outcomes, so that
hardware updates, stores and the kernel's fetch stubs are seen by the steps
after them, and loads predict a value wherever the memory is known; and
PSTATE.PAN through the case (step_accesses)."""
from dataclasses import replace

from harness.cases import LOADS, SELFTESTS, STORES
# harness.declared builds on the model's field names, so it is imported as a module:
# either may be imported first.
from harness import declared
from harness.model.memory import UnknownMemory
from harness.model.outcome import Completes, Outcomes, Unknown, union
from harness.model.translate import Access, s1_translate

# More memory states than this would mean choices piling up step on step;
# no case comes near it.
MAX_BRANCHES = 16


def _read(memory, spans):
    value, shift = 0, 0
    for pa, size in spans:
        value |= memory.read(pa, size) << shift
        shift += 8 * size
    return value


def _effects(step, outcome, memory):
    """The outcome as observed (a load's value, a fetch's stub) and the memory after it."""
    after = memory
    if outcome.updates or step.op in STORES and isinstance(outcome, Completes):
        after = memory.copy()
        for pa, _, new in outcome.updates:
            after.write64(pa, new)
    if not isinstance(outcome, Completes):
        return outcome, after
    if step.op in STORES:
        value, shift = step.value, 0
        for pa, size in outcome.spans:
            after.write(pa, size, value >> shift)
            shift += 8 * size
        return outcome, after
    try:
        if step.op in LOADS:
            return replace(outcome, value=_read(after, outcome.spans)), after
        stub = after.read(outcome.pa, 4), after.read(outcome.pa + 4, 4)
        return replace(outcome, value=declared.FETCH_MAGIC if stub == declared.FETCH_STUB else None), after
    except UnknownMemory:
        return outcome, after


def step_accesses(case):
    """The Access of each step of case, in order: its op, VA, value and EL, and
    PSTATE.PAN as the step finds it: the regime's at first; an EL0 step ends in
    an exception taken to EL1 (its SVC, or its fault), which with
    SCTLR_EL1.SPAN = 0 sets PSTATE.PAN, and the kernel keeps it (kernel/el0.c)."""
    pan = case.regime.pan
    for step in case.steps:
        yield Access(step.op, step.va, step.value, step.el, pan)
        if step.el == 0 and not case.regime.span:
            pan = True


def predict_case(case, ids, pool_base=None):
    """One Outcomes per step of case on a CPU with ID registers ids =
    (mmfr0, mmfr1, mmfr2).  Where the architecture leaves a choice that changes
    memory (a hardware update made or not), the later steps get the union over
    every memory state the choices lead to."""
    if pool_base is None:
        pool_base = declared.TABLE_POOL_BASE
    regs = declared.case_registers(case, ids, pool_base)
    branches = [declared.declared_memory(case, pool_base)[0]]
    predictions = []
    for step, access in zip(case.steps, step_accesses(case)):
        if step.op in SELFTESTS:
            predictions.append(Outcomes({Unknown(f"{step.op} is a self-test of the kernel, not an MMU probe")}))
            continue
        step_sets, next_branches = [], {}
        for memory in branches:
            try:
                outcomes = s1_translate(regs, memory, access)
            except UnknownMemory as e:
                step_sets.append(Outcomes({Unknown(f"the walk reads memory the case does not declare ({e})")}))
                next_branches.setdefault(("unknown", id(memory)), memory)
                continue
            seen = set()
            for outcome in outcomes:
                observed, after = _effects(step, outcome, memory)
                seen.add(observed)
                key = (outcome.updates, getattr(outcome, "spans", ()) if step.op in STORES else ())
                next_branches.setdefault((key, id(memory)), after)
            step_sets.append(Outcomes(seen, outcomes.rule))
        predictions.append(union(step_sets))
        branches = list(next_branches.values())
        if len(branches) > MAX_BRANCHES:
            raise RuntimeError(f"{case.id}: more than {MAX_BRANCHES} memory states the architecture permits")
    return predictions
