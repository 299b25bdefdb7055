"""A case's steps through the model, offline: predict_case steps the
declared layout (harness/declared.py) through each step's outcomes, so that
hardware updates, stores, descriptor writes and the kernel's fetch stubs are
seen by the steps after them, and loads predict a value wherever the memory
is known; PSTATE.PAN through the case (step_accesses).  A TLB model
(harness/model/tlb.py) says which translations of earlier tables and
registers an access may still use."""
from dataclasses import replace

from harness.ops import (
    ATOMICS, DESC_WRITES, EXCLUSIVE_LOADS, EXCLUSIVE_STORES, GCS_EX_MAGIC, GCS_EX_POPS, GCS_EX_PUSHES, GCS_EX_SPSR,
    GCS_POPS, GCS_SS2, GCS_SWITCHES, S2_TLBI_OPS, LOADS, MAINT_OPS, S2_DESC_WRITES,
    SELFTESTS, STORES, SYSREG_WRITES, TLBI_OPS,
)
from harness import declared, esr
from harness.model.atomics import atomic_result
from harness.model.descriptors import DESC_AF
from harness.model.exclusives import store_exclusive
from harness.model.memory import UnknownMemory
from harness.model.outcome import EC_GCS, Abort, Amalgamation, Completes, Done, Outcomes, Unknown, union
from harness.model.registers import TTBR_ASID, walk_params
from harness.model.stage2 import VTTBR_VMID, full_translate, s2_params
from harness.model.tlb import (
    CONFLICT_RULE, STALE_RULE, UNSYNCED_RULE, WALK_CACHE_RULE, Invalidation, Tlb, amalgamation_outcomes, cached_outcome,
    conflict_outcomes,
    conflict_causes, current_asid, current_vmid, s1_copy,
    SPECULATIVE_AF_RULE, entry_registers, leaf, speculative_af,
    tlbi_regime,
)
from harness.model.translate import ACCESS_KINDS, Access, unaligned_access_aborts

# More translation states than this would mean choices piling up step on step;
# no case comes near it.
MAX_BRANCHES = 16


class TooManyStates(RuntimeError):
    """A case whose steps leave more than MAX_BRANCHES translation states: beyond what the model predicts."""


def _read(memory, spans):
    value, shift = 0, 0
    for pa, size in spans:
        value |= memory.read(pa, size) << shift
        shift += 8 * size
    return value


def _write(memory, spans, value):
    shift = 0
    for pa, size in spans:
        memory.write(pa, size, value >> shift)
        shift += 8 * size


def _effects(step, outcome, memory):
    """The outcome as observed (a load's value, a fetch's stub) and the memory after it."""
    after = memory
    written = getattr(outcome, "written", ())
    if outcome.updates or written or (step.op in STORES or step.op in ATOMICS or step.op in GCS_SS2) \
            and isinstance(outcome, Completes):
        after = memory.copy()
        for pa, _, new in outcome.updates:
            after.write64(pa, new)
        for pa, size in written:     # a store's abort on a later piece: the pieces before it UNKNOWN (D1.4.1.4)
            after.forget(pa, size)
    if not isinstance(outcome, Completes) or not outcome.spans:
        return outcome, after               # an abort, or a NOP (K1.2.13): nothing read or written
    if step.op in GCS_SWITCHES:
        return _gcs_switch(step, outcome, after), after
    if step.op in GCS_SS2:
        _write(after, outcome.spans, outcome.value & ~0xFFF | 1)     # the Valid cap entry at the outgoing pointer
        return outcome, after
    if step.op in GCS_EX_PUSHES:
        _gcs_push_record(step, outcome, after)
        return outcome, after
    if step.op in GCS_EX_POPS:
        return _gcs_pop_record(step, outcome, after), after
    if step.op in STORES:
        _write(after, outcome.spans, step.value)        # DC ZVA's: 0 (the loader takes no value for it)
        return outcome, after
    if step.op in ATOMICS:
        # The old contents come back, and what is written depends on them: on memory nobody declared the
        # model cannot say either, so, as for a load there, the atomic completes with no value predicted
        # (its translation is still judged) and those bytes stay unknown.
        try:
            old = _read(after, outcome.spans)
        except UnknownMemory:
            for pa, size in outcome.spans:
                after.forget(pa, size)
            return outcome, after
        _write(after, outcome.spans, atomic_result(step.op, old, step.value, step.mask))
        return replace(outcome, value=old), after
    if step.op in GCS_POPS:
        return _gcs_pop(outcome, after), after
    try:
        if step.op in LOADS:
            return replace(outcome, value=_read(after, outcome.spans)), after
        stub = after.read(outcome.pa, 4), after.read(outcome.pa + 4, 4)
        return replace(outcome, value=declared.FETCH_MAGIC if stub == declared.FETCH_STUB else None), after
    except UnknownMemory:
        return outcome, after


GCS_DATA_CHECK_RULE = ("GCSPOPM takes a GCS Data Check exception (EC 0x2D) where the doubleword it loads has "
                       "bits [1:0] other than 0b00 (J1.1.3.62 GCSPOPM, J1.1.3.56 GCSDataCheckException; D11.3 R_QHJBM)")
# The GCS Data Check exception of the kernel's GCSPOPM x0, GCSSS1 x0, GCSSS2 x0, GCSPOPX and GCSPOPCX (kernel/probe.S,
# el0.S): taken to EL1 from EL1, and from EL0 with HCR_EL2.TGE = 0 (J1.1.3.56); ISS.IT the instruction's
# (esr.GCS_IT), ISS.Rn its Xt (x0), GCSPOPX's Rt field (0b11111), UNKNOWN for GCSSS2 and GCSPOPCX; the rest 0;
# FAR_ELx UNKNOWN.
GCS_PROBE_XT = 0
GCS_NO_RT = 0b11111


# J1.1.3.56 GCSDataCheckException
def _gcs_data_check(op, rule):
    if op in esr.GCS_RN_UNKNOWN:
        return Abort(ec=EC_GCS, fsc=None, wnr=False, s1ptw=False, far=0, rule=rule, iss=esr.GCS_IT[op],
                     iss_unknown=esr.ESR_ISS_GCS_RN.mask)
    rn = GCS_NO_RT if op == "gcspopx" else GCS_PROBE_XT
    return Abort(ec=EC_GCS, fsc=None, wnr=False, s1ptw=False, far=0, rule=rule,
                 iss=esr.GCS_IT[op] | esr.ESR_ISS_GCS_RN.put(rn))


# J1.1.3.62 GCSPOPM: the load's translation is judged (the outcome), then the check of the record it loads
def _gcs_pop(outcome, memory):
    """A GCSPOPM that translates: it completes with the doubleword loaded where bits [1:0] of it are 0b00,
    and takes the GCS Data Check exception where they are not (nothing popped: GCSPR_ELx unchanged); where
    memory nobody declared leaves it open, the model cannot tell (Unknown)."""
    try:
        value = _read(memory, outcome.spans)
    except UnknownMemory as e:
        return Unknown(f"{GCS_DATA_CHECK_RULE}; the doubleword is memory the case does not declare ({e})")
    if value & 0b11:
        return _gcs_data_check("gcspopm", GCS_DATA_CHECK_RULE)
    return replace(outcome, value=value)


GCS_SS1_RULE = ("GCSSS1 takes a GCS Data Check exception (EC 0x2D) where the doubleword at Xt is not the Valid "
                "cap entry Xt<63:12>:0x001 (J1.1.3.67 GCSSS1, J1.1.3.56 GCSDataCheckException)")


# J1.1.3.67 GCSSS1: MemAtomic's compare-and-swap (CASCompare) at Xt, then the check of what it read
def _gcs_switch(step, outcome, memory):
    """A GCSSS1 that translates: where the doubleword at its VA is the Valid cap entry for it (VA<63:12>:1),
    it writes the In-progress cap entry of the outgoing stack there (value<63:3>:0b101) and completes;
    otherwise nothing is written and it takes the GCS Data Check exception; memory nobody declared: Unknown.
    memory is the copy _effects made for the write."""
    try:
        old = _read(memory, outcome.spans)
    except UnknownMemory as e:
        return Unknown(f"{GCS_SS1_RULE}; the doubleword is memory the case does not declare ({e})")
    if old != step.va & ~0xFFF | 1:
        return _gcs_data_check("gcsss1", GCS_SS1_RULE)
    _write(memory, outcome.spans, step.value & ~0b111 | 0b101)
    return outcome


GCS_SS2_RULE = ("GCSSS2 takes a GCS Data Check exception (EC 0x2D) where the doubleword at GCSPR_ELx is not an "
                "In-progress cap entry (bits [2:0] 0b101; J1.1.3.68 GCSSS2, J1.1.3.56 GCSDataCheckException)")
MASK64 = (1 << 64) - 1


# J1.1.3.68 GCSSS2: the load at GCSPR_ELx, its check, then the store at the outgoing pointer the entry names
def _gcs_ss2(tlb, access, loads):
    """GCSSS2's outcomes from those of its load (loads): where the load translates and the doubleword is an
    In-progress cap entry, each outcome of its second access, a GCS store of the Valid cap entry at the
    outgoing pointer (the entry's bits [63:3] less one doubleword) translated as it is: completing with Xt that
    pointer and its spans the store's, or that store's abort (FAR the pointer, WnR 1); the load's hardware updates
    with either.  Not such an entry: the GCS Data Check exception."""
    outcomes, rules = set(), [loads.rule] if loads.rule else []
    for load in loads:
        if not isinstance(load, Completes) or not load.spans:
            outcomes.add(load)
            continue
        try:
            entry = _read(tlb.memory, load.spans)
        except UnknownMemory as e:
            outcomes.add(Unknown(f"{GCS_SS2_RULE}; the doubleword is memory the case does not declare ({e})"))
            continue
        if entry & 0b111 != 0b101:
            outcomes.add(replace(_gcs_data_check("gcsss2", GCS_SS2_RULE), updates=load.updates))
            continue
        pointer = ((entry >> 3) - 1 << 3) & MASK64
        stores = _access_outcomes(tlb, replace(access, op="gcspushm", va=pointer))    # a GCS store of 8 bytes
        rules += [stores.rule] if stores.rule else []
        for store in stores:
            if isinstance(store, Completes):
                store = replace(store, value=pointer)
            if not isinstance(store, Unknown):
                store = replace(store, updates=load.updates + store.updates)
            outcomes.add(store)
    return Outcomes(outcomes, "; ".join(dict.fromkeys(rules)) or None)


GCS_EX_RULE = ("GCSPOPX takes a GCS Data Check exception (EC 0x2D) where the record's lowest doubleword is not "
               "0b1001 (J1.1.3.63 GCSPOPX), GCSPOPCX where any doubleword differs from 0b1001, ELR_ELx, SPSR_ELx "
               "and LR in turn (J1.1.3.53 CheckGCSExRecord); J1.1.3.56 GCSDataCheckException")


def _gcs_ex_record(value):
    """The exception return record of the kernel's GCSPUSHX and GCSPOPCX (probe.S gcs_ex_probe), lowest
    doubleword first: 0b1001, ELR_EL1 (value), SPSR_EL1 (GCS_EX_SPSR), LR (~value)."""
    return GCS_EX_MAGIC, value, GCS_EX_SPSR, ~value & MASK64


# J1.1.3.65 GCSPUSHX, J1.1.3.51 AddGCSExRecord: LR at GCSPR_ELx - 8 (the step's VA), then SPSR, ELR, 0b1001 below
def _gcs_push_record(step, outcome, memory):
    """The record a GCSPUSHX that translates writes: its four doublewords end at the one its translation
    gives (all in one page: harness/cases/validation.py), the highest first."""
    top = outcome.spans[0][0]
    for k, doubleword in enumerate(reversed(_gcs_ex_record(step.value))):
        memory.write(top - 8 * k, 8, doubleword)


# J1.1.3.63 GCSPOPX, J1.1.3.61 GCSPOPCX with J1.1.3.53 CheckGCSExRecord: the loads from GCSPR_ELx up, each checked
def _gcs_pop_record(step, outcome, memory):
    """A GCSPOPX or GCSPOPCX that translates: it completes where the record checks out (GCSPOPX: its lowest
    doubleword 0b1001; GCSPOPCX: each doubleword the register it is compared with, in turn) and takes the GCS
    Data Check exception at the first that does not; memory nobody declared before that: Unknown."""
    base = outcome.spans[0][0]
    record = _gcs_ex_record(step.value)[:1 if step.op == "gcspopx" else None]
    for k, want in enumerate(record):
        try:
            got = memory.read(base + 8 * k, 8)
        except UnknownMemory as e:
            return Unknown(f"{GCS_EX_RULE}; the record is memory the case does not declare ({e})")
        if got != want:
            return _gcs_data_check(step.op, GCS_EX_RULE)
    return outcome


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


def _access_outcomes(tlb, access):
    """What an access may do: a walk of any tables and registers it may see, or a
    TLB entry it may still hold (never one of a fault that is not cached)."""
    now = full_translate(tlb.regs, tlb.memory, access)
    if s2_params(tlb.regs) is not None:
        return tlb.two_stage_outcomes(access, now)
    sources = [(tlb.regs, tlb.memory)] + [(r, m) for r in tlb.regs_seen for m in tlb.memories_seen
                                         if (r, m) != (tlb.regs, tlb.memory)]
    sets = [now] + [full_translate(r, m, access) for r, m in sources[1:]]
    fresh = union(sets)
    stale, through_tables, held = set(), set(), []
    for entry, leaf_usable, tables in tlb.usable_entries(access.va):
        # The leaf entry gives what its walk gave, never a fault that is not cached; a walk through
        # a table entry reads the levels below it now, and may meet any fault there.
        walks = [(regs, entry.memory, True) for regs in entry_registers(entry.regs, tlb.regs_seen)] if leaf_usable \
            else []
        walks += [(regs, memory, False) for cached in tables
                  for regs, memory in tlb.through_walk_cache(entry, cached, bool(access.va >> 55 & 1))]
        for regs, memory, from_leaf in walks:
            translated = full_translate(regs, memory, access)
            held.append((translated, regs, memory))
            for outcome in translated:
                if from_leaf and not cached_outcome(outcome) or outcome in fresh:
                    continue
                if outcome.updates and from_leaf and replace(outcome, updates=()) in fresh:
                    # A walk that updates a descriptor (HA/HD) fills its entry from the update
                    # (J1.1.4.55 AArch64.S1Translate's AF and dirty updates, J1.1.4.53
                    # AArch64.MemSwapTableDesc): the entry gives what a walk of the tables as
                    # updated gives now, no more (harness.fuzz seed 20261201, case 4267).
                    continue
                if outcome.updates:
                    return Outcomes({Unknown("a hardware update through a TLB entry of earlier tables "
                                             "is not modelled")})
                (stale if from_leaf else through_tables).add(outcome)
    rules = [fresh.rule] if fresh.rule else []
    if set(fresh) != set(now):
        rules.append(UNSYNCED_RULE)
    if stale:
        rules.append(STALE_RULE)
    if through_tables - stale:
        rules.append(WALK_CACHE_RULE)
    held_copies = [s1_copy(access.va, *h) for h in held]
    walk_copies = [s1_copy(access.va, o, r, m) for o, (r, m) in zip(sets, sources)]
    causes = conflict_causes(held_copies + walk_copies, any(held_copies))
    conflict = conflict_outcomes(tlb.regs, access, causes, two_stage=False)
    if conflict:
        rules.append(CONFLICT_RULE)
    return Outcomes(set(fresh) | stale | through_tables | conflict | amalgamation_outcomes(causes),
                    "; ".join(dict.fromkeys(rules)) or None)


# D8.17.1: an access made through an amalgamation of TLB entries, which may write a PA the model cannot bound
def _writes_memory(op):
    """Whether an access of op may change memory (a store, an atomic, a GCS write, DC ZVA; DC IVAC, which may
    discard a dirty line): made through an amalgamation, to a PA nobody can tell."""
    acc = ACCESS_KINDS[op]
    return acc.write or acc.atomic or acc.cacheop == "invalidate"


def _after_amalgamation(tlb):
    """What a step that reads memory may do after an access that wrote through an amalgamation (the
    branch's `amalgamated` step): not bounded either, the memory that access wrote being unbounded.  An
    Amalgamation, not an Unknown: the other branches' outcomes are whole, and judge what matches them."""
    return Amalgamation(f"an amalgamation (D8.17.1) the model cannot bound: this step reads memory after step "
                        f"{tlb.amalgamated}, which may have written through an amalgamation of TLB entries to a PA "
                        "nobody can tell (Arm ARM D8.17.1; K1.2.3)")


def _maintain(case, n, step, tlb, slots, ttbrs, pool_base):
    """A maintenance step's effect on the translation state, and its outcome.  ttbrs:
    TTBR0 of each table set (declared.space_ttbrs), TTBR1 of the case's tables;
    pool_base: where the kernel's tables are."""
    if step.level is not None:
        slot, made = slots[n]
        memory = tlb.memory.copy()
        for pa, desc in made:
            memory.write64(pa, desc)
        old = memory.read64(slot)
        if step.op in DESC_WRITES or step.op in S2_DESC_WRITES:
            value, mask = declared.descriptor_write(case, step, n, pool_base)
            memory.write64(slot, old & ~mask | value)
        if made or step.op in DESC_WRITES or step.op in S2_DESC_WRITES:
            tlb.write_memory(memory, descriptors=True)
        desc = memory.read64(slot)
        if step.op in ("read_desc", "s2_read_desc") and step.level is not None and speculative_af(
                tlb.regs_seen, memory, step.va, slot, desc, stage2=step.op == "s2_read_desc"):
            return Outcomes({Done(desc=desc), Done(desc=desc | DESC_AF.mask)}, SPECULATIVE_AF_RULE)
        return Done(desc=desc)
    if step.op == "dsb":
        tlb.dsb()
    elif step.op == "isb":
        tlb.isb()
    elif step.op in TLBI_OPS or step.op in S2_TLBI_OPS:
        # Of VTTBR_EL2's VMID in program order: harness/cases/validation.py asks for an ISB after a VMID switch.
        tlb.tlbi(Invalidation.of(step.op, declared.tlbi_operand(case, step), tlb.regs))
    elif step.op == "set_vmid":
        # el2.c: VTTBR_EL2 with its VMID field replaced.
        tlb.write_regs(replace(tlb.regs, vttbr=tlb.regs.vttbr & ~VTTBR_VMID.mask | step.value << VTTBR_VMID.shift))
    elif step.op in ("set_ttbr0", "set_ttbr1"):
        # maint.c: the case's tables (TTBR0's: the step's table set) with the ASID field replaced.
        name = step.op[4:]
        ttbr = (ttbrs["ttbr0"][step.space] if name == "ttbr0" else ttbrs["ttbr1"]) & ~TTBR_ASID.mask \
            | step.asid << TTBR_ASID.shift
        tlb.write_regs(replace(tlb.regs, **{name: ttbr}))
    elif step.op in SYSREG_WRITES:
        name = step.op[4:]
        tlb.write_regs(replace(tlb.regs, **{name: getattr(tlb.regs, name) & ~step.mask | step.value}))
    return Done()


def _under_outcomes(case, step, tlb, access):
    """What an AT S12 under its own stage 2 (step.s2_under) may do: kernel/el2.c at_s12_under
    writes VTCR_EL2 and VTTBR_EL2, then completes a TLBI ALLE1 (DSB, ISB) before the AT, so the AT
    walks the tables as they are, under those registers, with no TLB entry to use."""
    regs = replace(tlb.regs, vtcr=declared.under_vtcr(case, step), vttbr=tlb.regs.vttbr ^ step.s2_under.vttbr_flip)
    return full_translate(regs, tlb.memory, access)


def _invalidate_el10(tlb):
    """kernel/el2.c at_s12_under after its AT: the case's VTCR_EL2 and VTTBR_EL2 back, then TLBI ALLE1
    completed by its DSB and ISB: no entry of either geometry survives."""
    tlb.tlbi(Invalidation.of("tlbi_alle1", 0, tlb.regs))
    tlb.dsb()
    tlb.isb()


def _fix(case, n, step, tlb, slots):
    """kernel/fixup.c's repair of the fault before a retry: the descriptor written (for
    copy-on-write the page copied to the new frame first), DSB, for copy-on-write TLBI
    VAE1 of the current ASID and DSB, ISB."""
    slot, made = slots[n]
    memory = tlb.memory.copy()
    for pa, desc in made:
        memory.write64(pa, desc)
    if step.fixup == "copy":
        old = leaf(tlb.regs, memory, step.va)
        if old is not None:
            page = 1 << walk_params(tlb.regs, bool(step.va >> 55 & 1)).granule
            for k in range(0, page, 8):
                memory.write(step.mapping.pa + k, 8, memory.read(old.oa + k, 8))
    value, mask = declared.descriptor_write(case, step)
    memory.write64(slot, memory.read64(slot) & ~mask | value)
    tlb.write_memory(memory, descriptors=True)
    tlb.dsb()
    if step.fixup == "copy":
        invalidation = Invalidation.by_va(step.va, current_asid(tlb.regs, bool(step.va >> 55 & 1)),
                                          regime=tlbi_regime("tlbi_vae1", tlb.regs))
        tlb.tlbi(replace(invalidation, vmid=current_vmid(tlb.regs)))
        tlb.dsb()
    tlb.isb()


def _monitor_kept(case, step, tlb):
    """Whether the local Exclusives monitor may still be in the Exclusive Access state at step's access
    (tlb.monitor: a Load-Exclusive completed before, and no exception return or store-exclusive since).  An
    exception return clears it (B2.12.5; J1.1.3.36 AArch64.ExceptionReturn's ClearExclusiveLocal): the kernel's
    ERET into an EL0 step, the HVCs around a step under HCR_EL2.NV/NV1 (kernel/steps.c set_nested) and after
    every step of a case with a stage 2 (HVC_TAKE_FAULT), and the return from any abort."""
    nested = case.regime.nv or case.regime.nv1
    return tlb.monitor and step.el != 0 and not nested and case.stage2 is None


def predict_case(case, ids, pool_base=None):
    """One Outcomes per step of case on a CPU with ID registers ids =
    (mmfr0, mmfr1, mmfr2, isar0).  Where the architecture leaves a choice that changes
    memory (a hardware update made or not), the later steps get the union over
    every state the choices lead to."""
    if pool_base is None:
        pool_base = declared.TABLE_POOL_BASE
    regs = declared.case_registers(case, ids, pool_base)
    slots = declared.step_slots(case, pool_base)
    ttbrs = {"ttbr0": declared.space_ttbrs(case, pool_base), "ttbr1": regs.ttbr1}
    branches = [Tlb(regs, declared.declared_memory(case, pool_base)[0])]
    predictions = []
    for n, (step, access) in enumerate(zip(case.steps, step_accesses(case))):
        if step.op in SELFTESTS:
            predictions.append(Outcomes({Unknown(f"{step.op} is a self-test of the kernel, not an MMU probe")}))
            continue
        if step.op in MAINT_OPS:
            outcomes, rules = set(), []
            for tlb in branches:
                if tlb.amalgamated is not None and step.level is not None:
                    outcomes.add(_after_amalgamation(tlb))
                    continue
                try:
                    done = _maintain(case, n, step, tlb, slots, ttbrs, pool_base)
                    outcomes |= done if isinstance(done, Outcomes) else {done}
                    rules += [done.rule] if isinstance(done, Outcomes) and done.rule else []
                except UnknownMemory as e:
                    outcomes.add(Unknown(f"the step reads memory the case does not declare ({e})"))
            predictions.append(Outcomes(outcomes, "; ".join(dict.fromkeys(rules)) or None))
            continue
        step_sets, next_branches = [], []
        for tlb in branches:
            if tlb.amalgamated is not None:
                step_sets.append(Outcomes({_after_amalgamation(tlb)}))
                next_branches.append(tlb)
                continue
            if step.fixup and not tlb.faulted:
                step_sets.append(Outcomes({Unknown("the access before the fix-up did not fault: the kernel "
                                                   "makes no fix-up and no retry")}))
                next_branches.append(tlb)
                continue
            try:
                if step.fixup:
                    tlb = tlb.copy()
                    _fix(case, n, step, tlb, slots)
                if step.el == 0:
                    tlb = tlb.copy()
                    tlb.complete_tlbis()        # the exception return to EL0 is a Context synchronization event
                outcomes = _access_outcomes(tlb, access) if step.s2_under is None else \
                    _under_outcomes(case, step, tlb, access)
            except UnknownMemory as e:
                step_sets.append(Outcomes({Unknown(f"the walk reads memory the case does not declare ({e})", pa=e.pa)}))
                next_branches.append(tlb)
                continue
            if step.op in GCS_SS2:
                outcomes = _gcs_ss2(tlb, access, outcomes)
            if step.op in EXCLUSIVE_STORES:
                outcomes = store_exclusive(outcomes, unaligned_access_aborts(tlb.regs, access),
                                           _monitor_kept(case, step, tlb))
            seen, effects = set(), {}
            for outcome in outcomes:
                if isinstance(outcome, Amalgamation):
                    seen.add(outcome)
                    if _writes_memory(step.op):
                        effects["amalgamation"] = branch = tlb.copy()
                        branch.amalgamated = n
                    continue
                observed, after = _effects(step, outcome, tlb.memory)
                seen.add(observed)
                faulted = isinstance(observed, Abort)     # GCSPOPM's data check: an exception after a translation
                key = (faulted, outcome.updates,
                       getattr(outcome, "spans", ()) if step.op in STORES or step.op in ATOMICS or step.op in GCS_SS2
                       else (),
                       getattr(outcome, "written", ()))
                if key in effects:
                    continue
                effects[key] = branch = tlb.copy()
                branch.faulted = faulted
                branch.monitor = step.op in EXCLUSIVE_LOADS and isinstance(outcome, Completes) or \
                    step.op not in EXCLUSIVE_STORES and not faulted and _monitor_kept(case, step, tlb)
                if faulted or step.el == 0:
                    branch.complete_tlbis()     # taking the exception is a Context synchronization event
                if outcome.updates:
                    branch.hardware_update(after)
                elif after is not tlb.memory:
                    branch.write_memory(after, descriptors=False)
                if step.s2_under is not None:
                    _invalidate_el10(branch)
            step_sets.append(Outcomes(seen, outcomes.rule))
            next_branches += effects.values()
        predictions.append(union(step_sets))
        branches = next_branches
        if len(branches) > MAX_BRANCHES:
            raise TooManyStates(f"{case.id}: more than {MAX_BRANCHES} translation states the architecture permits")
    return predictions
