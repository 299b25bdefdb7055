"""The model as the oracle: does a case's expectation agree with what the
architecture permits, and does what the kernel observed (its Observation, every
bit of every register the step reports) match a permitted outcome?  Both answer
with a list of problem lines (empty: no problem).

Where the model cannot tell (an Unknown outcome: memory nobody declared, a
kernel self-test, a configuration it refuses; or an Amalgamation: a translation
by several TLB entries at once, D8.17.1, which it cannot bound) it has a third
answer: such an outcome allows no observation by itself, and a step whose
observation matches none of the set's other outcomes is not judged
(`unjudged_observation`), never passed; the caller reports it with the reason,
an amalgamation apart (`amalgamation`).  An observation that does match one of
them is judged: the architecture permits it whatever else the set leaves open."""
from dataclasses import replace

from harness import esr, par
from harness.model.outcome import (
    ALL_BITS, EC_DATA_ABORT_LOW, EC_GCS, EC_INSTRUCTION_ABORT_LOW, EC_PC_ALIGNMENT, EC_SYSTEM_TRAP, Abort, Amalgamation,
    Completes, Done, Par, Unknown, abort_class,
)
from harness.model.gcs import gcspr_after
from harness.ops import ALL_AT_OPS, EXCLUSIVE_STORES, FETCH_MAGIC, GCS_ENABLED_OPS, RETURNS, at_aborts, describe_syndrome
from harness.verdict import desc_text, expected_text, hpfar_valid


def _fault_label(op):
    return "FST" if op in ALL_AT_OPS else "IFSC" if op == "fetch" else "DFSC"


def describe(outcome, op):
    """An outcome in the words verdict.expected_text uses for an expectation."""
    if isinstance(outcome, (Unknown, Amalgamation)):
        return f"not predicted: {outcome.reason}"
    if isinstance(outcome, Done):
        return "completes" if outcome.desc is None else f"completes, descriptor {outcome.desc:#x}"
    if isinstance(outcome, Completes):
        if op == "fetch":
            text = (f"completes (fetch runs the stub: x0 = {FETCH_MAGIC:#x})" if outcome.value == FETCH_MAGIC
                    else "completes")
        elif op in EXCLUSIVE_STORES:
            text = f"completes, status {outcome.value} ({'written' if outcome.spans else 'nothing written'})"
        elif op in RETURNS and outcome.value is not None:
            text = f"completes, value {outcome.value:#x}"
        else:
            text = "completes"
        return text if outcome.pa is None else f"{text} (PA {outcome.pa:#x})"
    if isinstance(outcome, Abort):
        if outcome.ec == EC_PC_ALIGNMENT:
            return f"{EC_PC_ALIGNMENT.text} (EC {EC_PC_ALIGNMENT:#04x}), FAR {outcome.far:#x}"
        if outcome.ec == EC_GCS:
            return f"{EC_GCS.text} (EC {EC_GCS:#04x}): GCS Data Check, ISS {outcome.iss:#x}"
        if outcome.ec == EC_SYSTEM_TRAP:
            return f"{EC_SYSTEM_TRAP.text} (EC {EC_SYSTEM_TRAP:#04x}): {esr.describe_system_trap(outcome.iss)}"
        wnr = "" if op == "fetch" or outcome.wnr is None else f", WnR={int(outcome.wnr)}"
        if outcome.syndrome is not None:
            wnr += f", ISV=1 ({describe_syndrome(outcome.syndrome)})"
        fault = esr.describe_fsc(outcome.fsc, "DFSC" if outcome.cm else _fault_label(op))
        if outcome.stage == 2:
            s1ptw = ", S1PTW=1" if outcome.s1ptw else ""
            return (f"{esr.EC(outcome.ec).text} taken to EL2, stage 2: {fault}{wnr}{s1ptw}, "
                    f"FAR_EL2 {outcome.far:#x}, IPA {outcome.ipa & ~0xFFF:#x}")
        return f"{esr.EC(outcome.ec).text}: {fault}{wnr}, FAR {outcome.far:#x}"
    if par.PAR_F.get(outcome.value):
        fst = par.PAR_FST.get(outcome.value)
        return (f"PAR_EL1.F=1: {esr.describe_fsc(fst, 'FST')}, PTW={par.PAR_PTW.get(outcome.value)}, "
                f"stage {par.PAR_S.get(outcome.value) + 1}")
    parts = [f"PAR_EL1.F=0, PA {outcome.value & par.PAR_PA.mask:#x}"]
    if outcome.mask & par.PAR_ATTR.mask:
        attr = par.PAR_ATTR.get(outcome.value)
        parts.append(f"ATTR {attr:#04x} ({par.describe_attr(attr)})")
    if outcome.mask & par.PAR_SH.mask:
        parts.append(f"SH {par.SH_NAMES[par.PAR_SH.get(outcome.value)]}")
    return ", ".join(parts)


def describe_outcomes(outcomes, op):
    """All the outcomes the model allows, one line: 'A | B [the rule that permits the choice]'."""
    text = " | ".join(describe(o, op) for o in sorted(outcomes, key=repr))
    return f"{text} [{outcomes.rule}]" if outcomes.rule else text


def _alternatives(step):
    e = step.expect
    return [replace(step, expect=c) for c in e.choices] if e.kind == "one_of" else [step]


def _level_ok(expect, fsc):
    cls, level = esr.decode_fsc(fsc)
    return cls == expect.fault and (expect.level is None or level == expect.level)


def _rejects(step, outcome):
    """Why the step's (single) expectation does not accept outcome, or None."""
    e, op = step.expect, step.op
    if isinstance(outcome, Done):
        if e.kind == "desc" and (outcome.desc ^ e.value) & e.mask:
            return f"the descriptor is {outcome.desc:#x}, not {desc_text(e.value, e.mask)}"
        return None if e.kind in ("ok", "desc") else "the step completes"
    if isinstance(outcome, Completes):
        if e.kind == "ok":
            if op == "fetch" and outcome.value not in (None, FETCH_MAGIC):
                return "the fetched code is not the kernel's stub"
            return None
        if e.kind == "value":
            if outcome.value is not None and outcome.value != e.value:
                return f"the step returns {outcome.value:#x}, not {e.value:#x}"
            return None
        return "the access completes"
    if isinstance(outcome, Abort):
        if e.kind != "fault" or op in ALL_AT_OPS and not at_aborts(op, e):
            return "the access aborts" if op not in ALL_AT_OPS else "the AT instruction is taken to EL2"
        if e.fault == esr.SYSTEM_TRAP:
            want_ec = EC_SYSTEM_TRAP
        elif e.stage == 2:
            want_ec = EC_INSTRUCTION_ABORT_LOW if op == "fetch" else EC_DATA_ABORT_LOW
        else:
            want_ec = ({esr.PC_ALIGNMENT: EC_PC_ALIGNMENT, esr.GCS_DATA_CHECK: EC_GCS}.get(e.fault)
                       or abort_class(op == "fetch", step.el))
        if outcome.stage != e.stage:
            return f"a stage {outcome.stage} fault, not stage {e.stage}"
        if outcome.ec != want_ec:
            return f"EC {outcome.ec:#04x}, not {want_ec:#04x}"
        if want_ec == EC_PC_ALIGNMENT:
            return None if outcome.far == e.far else f"FAR {outcome.far:#x}, not {e.far:#x}"
        if want_ec in (EC_GCS, EC_SYSTEM_TRAP):
            return None     # its ISS is the instruction's alone (J1.1.3.56; D24.2.45), judged whole against the observation
        if not _level_ok(e, outcome.fsc):
            return f"a different fault ({esr.describe_fsc(outcome.fsc, _fault_label(op))})"
        if e.wnr is not None and outcome.wnr is None:
            return "WnR is left open here, the case checks it"
        if e.wnr is not None and outcome.wnr != e.wnr:
            return f"WnR={int(outcome.wnr)}"
        if e.stage == 2 and e.ipa is not None and hpfar_valid(e) and (outcome.ipa ^ e.ipa) & ~0xFFF:
            return f"IPA {outcome.ipa & ~0xFFF:#x}"
        if outcome.s1ptw != e.s1ptw:
            return f"S1PTW={int(outcome.s1ptw)}"
        if e.isv is not None and (outcome.syndrome is not None) != e.isv:
            return f"ISV={int(outcome.syndrome is not None)} (AArch64.InstructionSyndromeValid)"
        if outcome.far != e.far:
            return f"FAR {outcome.far:#x}, not {e.far:#x}"
        return None
    if isinstance(outcome, Par):
        value, mask = outcome.value, outcome.mask
        if at_aborts(op, e):
            return "AT reports in PAR_EL1, not by an exception to EL2"
        if par.PAR_F.get(value):
            if e.kind != "fault":
                return "AT reports a fault"
            if not _level_ok(e, par.PAR_FST.get(value)):
                return f"a different fault ({esr.describe_fsc(par.PAR_FST.get(value), 'FST')})"
            if par.PAR_PTW.get(value) != e.s1ptw or par.PAR_S.get(value) != e.stage - 1:
                return "a different PTW or stage"
            return None
        if e.kind != "par":
            return "AT translates"
        if (value ^ e.pa) & par.PAR_PA.mask:
            return f"PA {value & par.PAR_PA.mask:#x}"
        if e.attr is not None:
            if not mask & par.PAR_ATTR.mask:
                return "the architecture leaves PAR_EL1.ATTR open here, the case checks it"
            if par.PAR_ATTR.get(value) != e.attr:
                return f"ATTR {par.PAR_ATTR.get(value):#04x}"
        if e.sh is not None:
            if not mask & par.PAR_SH.mask:
                return "the architecture leaves PAR_EL1.SH open here, the case checks it"
            if par.SH_NAMES[par.PAR_SH.get(value)] != e.sh:
                return f"SH {par.SH_NAMES[par.PAR_SH.get(value)]}"
        return None
    return None


def unjudged(outcomes):
    """Why the model cannot predict everything a step whose outcomes these are may do (the reasons of
    their Unknown outcomes: a configuration it refuses, memory nobody declared), or None when it can.
    An Amalgamation is not one: the set is whole but for what the rule leaves unbounded."""
    return "; ".join(sorted({o.reason for o in outcomes if isinstance(o, Unknown)})) or None


_OPEN = (Unknown, Amalgamation)


def _known(outcomes):
    """The outcomes the model predicts (not Unknown, not an Amalgamation), in a fixed order."""
    return sorted((o for o in outcomes if not isinstance(o, _OPEN)), key=repr)


def unjudged_observation(step, outcomes, obs):
    """Why the model cannot judge the observation obs of step (the reasons of the set's Unknown and
    Amalgamation outcomes), or None where it can: where obs matches an outcome it predicts (the
    architecture permits it, whatever else the set leaves open), and where the set leaves nothing
    open.  obs None (no record): judged only where the set leaves nothing open."""
    reasons = sorted({o.reason for o in outcomes if isinstance(o, _OPEN)})
    if not reasons or obs is not None and any(_mismatch(step, o, obs) is None for o in _known(outcomes)):
        return None
    return "; ".join(reasons)


def amalgamation(outcomes):
    """Whether the set's open part is an amalgamation alone (D8.17.1: the case cannot name one, so a
    step whose observation the model leaves unjudged for it is not failed by the case's expectation
    either)."""
    return any(isinstance(o, Amalgamation) for o in outcomes) and not unjudged(outcomes)


def expectation_agrees(step, outcomes):
    """Problems with a case step's expectation against the model's outcomes:
    every alternative the case accepts must be an outcome the model allows, and
    every outcome the model allows must be accepted by the case (a case
    stricter than the architecture is a defect too).  Not checked where the model
    cannot tell at all.  Where it leaves part of the set open: an Amalgamation, which no case can name,
    takes no part; beside an Unknown only the second holds (an alternative the case accepts may be one
    of what the model cannot predict)."""
    outcomes_in, partly = outcomes, unjudged(outcomes)
    outcomes = _known(outcomes)
    if not outcomes:
        return []
    alternatives = _alternatives(step)
    allowed = describe_outcomes(outcomes_in, step.op)
    rule = f" [{outcomes_in.rule}]" if outcomes_in.rule else ""
    problems = []
    # A one_of's "tlb_conflict" stands for the abort wherever it may be taken (EL1 or EL2 under two stages):
    # which of those the architecture allows is the model's to say (R_QWTKL), so the case accepts it if any
    # (and a problem with it is one).
    conflicts = [alt for alt in alternatives if alt.expect.fault == "tlb_conflict"]
    for alt in [alt for alt in alternatives if alt not in conflicts[1:] and not partly]:
        if all(_rejects(a, o) for a in (conflicts if alt in conflicts else [alt]) for o in outcomes):
            rules = "; ".join(dict.fromkeys(getattr(o, "rule", "") for o in outcomes if getattr(o, "rule", "")))
            problems.append(f"the case accepts {expected_text(alt)}, which the model does not allow: "
                            f"the model allows {allowed}" + (f" (rule: {rules})" if rules else ""))
    for outcome in outcomes:
        if all(_rejects(alt, outcome) for alt in alternatives):
            own = getattr(outcome, "rule", "")
            problems.append(f"the model allows {describe(outcome, step.op)}" + (f" ({own})" if own else "")
                            + f"{rule}, which the case does not accept (it expects {expected_text(step)})")
    return problems


def _register(name, fields, got, bits, decoded=None):
    """Why register `name` as read (got; decoded: its text) is not one the prediction
    (model.outcome.Bits) permits, or None."""
    if not bits.wrong(got):
        return None
    free = "" if bits.mask == ALL_BITS else f" (bits {ALL_BITS & ~bits.mask:#x} free)"
    return (f"got {name} {got:#x}{f' ({decoded})' if decoded else ''}, where the model has {bits.value:#x}{free}: "
            + esr.differing_fields(fields, got, bits.value, bits.mask))


def _gcspr(step, obs, completed):
    """Why GCSPR_ELx after a step of the Guarded Control Stack (obs.gcspr) is not what the instruction leaves
    (harness/model/gcs.py: moved where it completed, unchanged where it took an exception), or None."""
    if step.op not in GCS_ENABLED_OPS:
        return None
    if obs.gcspr is None:
        return "got a record without gcspr="
    want = gcspr_after(step.op, step.va, step.value, completed)
    if obs.gcspr != want:
        return (f"got GCSPR_ELx {obs.gcspr:#x} after the step, where the model has {want:#x} "
                f"({'moved by the instruction' if completed else 'unchanged: it took an exception'})")
    return None


def _mismatch(step, outcome, obs):
    """Why obs (the step's Observation) is not outcome, or None: every register the step
    reports, whole (the bits the architecture leaves UNKNOWN or IMPLEMENTATION DEFINED
    aside, as the outcome says)."""
    if isinstance(outcome, Done):
        if obs.result != "ok":
            return f"got result={obs.result}"
        if outcome.desc is not None and obs.desc != outcome.desc:
            return f"got descriptor {obs.desc:#x}"
        return None
    if isinstance(outcome, Completes):
        if obs.result != "ok":
            return f"got result={obs.result}"
        if step.op == "fetch" and outcome.value == FETCH_MAGIC and obs.value != FETCH_MAGIC:
            return f"the fetched stub returned {obs.value:#x}"
        if step.op in RETURNS and outcome.value is not None:
            got = obs.value & ((1 << (8 * RETURNS[step.op])) - 1)
            if got != outcome.value:
                return f"got value {got:#x}"
        return _gcspr(step, obs, completed=True)
    if isinstance(outcome, Abort):
        if obs.result != "fault":
            return f"got result={obs.result}"
        if obs.to_el2 != (outcome.stage == 2):
            return f"got an abort taken to EL{2 if obs.to_el2 else 1}"
        el = "EL2" if outcome.stage == 2 else "ELx"
        return (_register(f"ESR_{el}", esr.ESR_FIELDS, obs.esr.raw, outcome.esr(), esr.describe(obs.esr))
                or _register(f"FAR_{el}", (), obs.far, outcome.far_register())
                or outcome.stage == 2 and _register("HPFAR_EL2", esr.HPFAR_FIELDS, obs.hpfar, outcome.hpfar())
                or _gcspr(step, obs, completed=False))
    if obs.result != "par":
        return f"got result={obs.result}"
    fields = par.PAR_FAULT_NAMES if par.PAR_F.get(outcome.value) else par.PAR_OK_NAMES
    return _register("PAR_EL1", fields, obs.par.raw, outcome.register(), par.describe(obs.par))


def observation_allowed(step, outcomes, obs):
    """Problems with what the kernel observed (the step's Observation) against the
    model: it must match one of the outcomes the model allows, bit for bit.  An Unknown or
    Amalgamation outcome allows nothing: an observation none of the others matches is a
    problem, the model's reason for not judging it named (`unjudged_observation` tells the
    caller)."""
    if obs is None:
        return ["expected a record of this step; got none"]
    ordered = _known(outcomes)
    misses = [_mismatch(step, o, obs) for o in ordered]
    if any(m is None for m in misses):
        return []
    reason = unjudged_observation(step, outcomes, obs)
    return [f"matches no outcome the model allows: ({describe(o, step.op)}) {m}" for o, m in zip(ordered, misses)] \
        + ([f"not judged by the model: {reason}"] if reason else [])
