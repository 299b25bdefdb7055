"""Compare what a case expects with what the kernel reported, step by step: the
case's intent (the fields it names).  Every other bit of what the step reports is
judged by the model (harness/oracle.py), which must also agree with the intent.

Every expectation is turned into the same decoded text the observation gets,
so a failure reads as the Arm ARM's words side by side:
    expected permission fault, level 3 (DFSC 0x0f); got translation fault, level 2 (DFSC 0x06)
"""
import re
from dataclasses import dataclass, replace

from harness import esr, par
from harness.cases import DESC_FIELDS, HWDEF
from harness.observation import describe as observed_text
from harness.ops import (
    ALL_AT_OPS, FETCH_MAGIC, LS_SYNDROME, MAINT_OPS, RETURNS, STORES, at_aborts, describe_syndrome,
    system_trap_iss,
)


@dataclass(frozen=True)
class StepVerdict:
    n: int
    op: str
    va: int
    expected: str
    observed: str
    problems: tuple         # what fails the step: one "expected ...; got ..." line per mismatch no known bug explains
    model: str = None       # the reference model's allowed outcomes (harness/crosscheck.py)
    walk: tuple = ()        # the kernel's walk of the step's VA, one line per level
    known_bugs: tuple = ()  # names of the known QEMU bugs that explain the step's departures
    explained: tuple = ()   # the departures from the architecture those bugs explain (moved out of problems)
    unjudged: str = None    # why the model could not judge the step (None: it did, or it is not an MMU probe)
    amalgamation: bool = False  # what it could not judge is an amalgamation of TLB entries (D8.17.1) alone

    @property
    def ok(self):
        """The step is what the architecture permits: nothing fails it, no known bug excuses it."""
        return not self.problems and not self.explained

    @property
    def verdict(self):
        """'failed', 'known_bug' (every departure explained by known_bugs), 'unjudged' (the case's
        expectation holds, the model could not say), 'amalgamation' (the observation is none of the
        whole-entry outcomes of a lookup several TLB entries match, and may be their amalgamation,
        D8.17.1, which neither the model nor the case can bound) or 'ok'."""
        return ("failed" if self.problems else "known_bug" if self.explained
                else "amalgamation" if self.unjudged and self.amalgamation else "unjudged" if self.unjudged else "ok")


def _reports_par(step):
    """Whether the step reports in PAR_EL1: an AT instruction, unless it is taken to EL2 (at_aborts)."""
    return step.op in ALL_AT_OPS and not at_aborts(step.op, step.expect)


def _fault_label(step):
    """What the fault status field is called where this step reports it."""
    return "FST" if _reports_par(step) else "IFSC" if step.op == "fetch" else "DFSC"


def isv_text(step):
    """What a fault expectation says of ESR_ELx.ISV: ', ISV=1 (SAS=3 SSE=0 SRT=0 SF=1 AR=0)', ', ISV=0' or ''."""
    if step.expect.isv is None:
        return ""
    if not step.expect.isv:
        return ", ISV=0"
    return f", ISV=1 ({describe_syndrome(LS_SYNDROME[step.op])})"


def _fault_text(fault, level, label):
    if level is None:
        return f"{fault.replace('_', ' ')} fault (level not checked)"
    return esr.describe_fsc(esr.fault_status(fault, level), label)


def _choices(step):
    """The step once for each outcome a one_of expectation permits."""
    return [replace(step, expect=choice) for choice in step.expect.choices]


def desc_text(value, mask):
    """A descriptor, or the fields of one a case checks, by name."""
    if mask == 2**64 - 1:
        return f"descriptor {value:#x}"
    parts = [f"{key.upper()}={int(bool(value & HWDEF[define]))}" for key, define in DESC_FIELDS.items()
             if mask & HWDEF[define]]
    if mask & HWDEF["PTE_AP_MASK"]:
        parts.append(f"AP[2:1]={(value & HWDEF['PTE_AP_MASK']) >> HWDEF['PTE_AP_SHIFT']:#04b}")
    oa_mask = mask & ~HWDEF["PTE_AP_MASK"] & ~sum(HWDEF[d] for d in DESC_FIELDS.values())
    if oa_mask:
        parts.append(f"OA {value & oa_mask:#x}")
    return "descriptor with " + ", ".join(parts)


def expected_text(step):
    e = step.expect
    if e.kind == "desc":
        return desc_text(e.value, e.mask)
    if e.kind == "one_of":
        return "one of: " + " | ".join(expected_text(s) for s in _choices(step))
    if e.kind == "ok":
        return f"completes (fetch runs the stub: x0 = {FETCH_MAGIC:#x})" if step.op == "fetch" else "completes"
    if e.kind == "value":
        return f"completes, value {e.value:#x}"
    if e.kind == "par":
        parts = [f"PAR_EL1.F=0, PA {e.pa & par.PAR_PA.mask:#x}"]
        if e.attr is not None:
            parts.append(f"ATTR {e.attr:#04x} ({par.describe_attr(e.attr)})")
        if e.sh is not None:
            parts.append(f"SH {e.sh}")
        return ", ".join(parts)
    if e.kind == "fault":
        if e.fault == esr.PC_ALIGNMENT:
            return f"{esr.EC.PC_ALIGN.text} (EC {esr.EC.PC_ALIGN:#04x}), FAR {e.far:#x}"
        if e.fault == esr.GCS_DATA_CHECK:
            return f"{esr.EC.GCS.text} (EC {esr.EC.GCS:#04x}): GCS Data Check of {step.op.upper()}"
        if e.fault == esr.SYSTEM_TRAP:
            return (f"{esr.EC.SYS64.text} (EC {esr.EC.SYS64:#04x}) taken to EL{e.stage}: "
                    f"{esr.describe_system_trap(system_trap_iss(step.op))}")
        fault = _fault_text(e.fault, e.level, _fault_label(step))
        if _reports_par(step):
            return f"PAR_EL1.F=1: {fault}, PTW={int(e.s1ptw)}, stage {e.stage}"
        wnr = ("" if e.wnr is None else f", WnR={int(e.wnr)}") + isv_text(step)
        if e.stage == 2:
            ipa = f", IPA {e.ipa & ~0xFFF:#x} in HPFAR_EL2" if e.ipa is not None and hpfar_valid(e) else ""
            s1ptw = ", S1PTW=1" if e.s1ptw else ""
            return f"{_abort_class(step).text} taken to EL2, stage 2: {fault}{wnr}{s1ptw}, FAR_EL2 {e.far:#x}{ipa}"
        return f"{_abort_class(step).text}: {fault}{wnr}, FAR {e.far:#x}"
    return e.kind.replace("_", " ")


def hpfar_valid(expect):
    """Whether HPFAR_EL2 holds the IPA of the stage 2 fault an expectation names (esr.ipa_valid)."""
    return esr.ipa_valid(expect.fault, expect.s1ptw)


def _check_stage2_abort(step, obs, problems):
    """Where a stage 2 abort is taken (EL2) and the faulting IPA HPFAR_EL2 holds."""
    e = step.expect
    if not obs.to_el2:
        problems.append("expected the abort taken to EL2 (a stage 2 fault); the kernel's EL1 handler took it")
        return
    if e.ipa is not None and hpfar_valid(e):
        got = esr.hpfar_ipa(obs.hpfar)
        if got != e.ipa & ~0xFFF:
            problems.append(f"expected HPFAR_EL2 to hold IPA {e.ipa & ~0xFFF:#x}; got {got:#x} "
                            f"(HPFAR_EL2 {obs.hpfar:#x})")


def _abort_class(step):
    """The exception class of the step's abort: instruction or data, from EL0 (lower) or EL1 (same EL);
    a stage 2 fault is taken to EL2, from a lower EL."""
    if step.expect.stage == 2:
        return esr.EC.IABT_LOW if step.op == "fetch" else esr.EC.DABT_LOW
    if step.op == "fetch":
        return esr.EC.IABT_LOW if step.el == 0 else esr.EC.IABT_CUR
    return esr.EC.DABT_LOW if step.el == 0 else esr.EC.DABT_CUR


def _check_abort(step, obs, problems):
    e = step.expect
    s = obs.esr
    want_ec = {esr.PC_ALIGNMENT: esr.EC.PC_ALIGN, esr.GCS_DATA_CHECK: esr.EC.GCS,
               esr.SYSTEM_TRAP: esr.EC.SYS64}.get(e.fault) or _abort_class(step)
    if s.ec != want_ec:
        problems.append(f"expected EC {want_ec:#04x} ({want_ec.text}); got EC {s.ec:#04x} ({esr.describe(s)})")
        return
    if want_ec == esr.EC.GCS:
        # What identifies it is the instruction type, ISS.IT (J1.1.3.56).
        if esr.ESR_ISS_GCS_IT.get(s.iss) != esr.GCS_IT[step.op]:
            problems.append(f"expected ISS.IT {esr.GCS_IT[step.op]:#07b} ({step.op.upper()}); got ISS {s.iss:#x}")
        return
    if want_ec == esr.EC.SYS64:
        # What identifies it is the trapped instruction, its encoding in the ISS (D24.2.45).
        if s.iss != system_trap_iss(step.op):
            problems.append(f"expected the trap of {esr.describe_system_trap(system_trap_iss(step.op))}; got "
                            f"{esr.describe_system_trap(s.iss)}")
        if obs.to_el2 != (e.stage == 2):
            problems.append(f"expected the trap taken to EL{e.stage}; got it taken to EL{2 if obs.to_el2 else 1}")
        return
    if want_ec == esr.EC.PC_ALIGN:
        # What identifies the fault is the PC, which FAR_EL1 holds.
        if obs.far != e.far:
            problems.append(f"expected FAR {e.far:#x} (the misaligned PC); got FAR {obs.far:#x}")
        return
    label = _fault_label(step)
    want = _fault_text(e.fault, e.level, label)
    if s.fault != e.fault or (e.level is not None and s.level != e.level):
        problems.append(f"expected {want}; got {esr.describe_fsc(s.fsc, label)}")
    if e.wnr is not None and s.wnr != e.wnr:
        problems.append(f"expected WnR={int(e.wnr)} ({'write' if e.wnr else 'read'}); got WnR={int(s.wnr)}")
    if s.s1ptw != e.s1ptw:
        problems.append(f"expected S1PTW={int(e.s1ptw)}; got S1PTW={int(s.s1ptw)}")
    if e.isv is not None:
        got = (s.sas, s.sse, s.srt, s.sf, s.ar) if s.isv else None
        want = LS_SYNDROME[step.op] if e.isv else None
        if (s.isv, got) != (int(e.isv), want):
            problems.append(f"expected {isv_text(step)[2:]}; got ISV={s.isv}"
                            + (f" ({describe_syndrome(got)})" if got else "") + f" (ESR {s.raw:#x})")
    if obs.far != e.far:
        problems.append(f"expected FAR {e.far:#x}; got FAR {obs.far:#x}")
    if e.stage == 2:
        _check_stage2_abort(step, obs, problems)
    elif obs.to_el2:
        problems.append("expected a stage 1 fault, taken to EL1; got one taken to EL2 (a stage 2 fault)")


def _check_par(step, obs, problems):
    e = step.expect
    p = obs.par
    if e.kind == "fault":
        if not p.f:
            problems.append(f"expected PAR_EL1.F=1 ({_fault_text(e.fault, e.level, 'FST')}); got F=0, PA {p.pa:#x}")
            return
        if p.fault != e.fault or (e.level is not None and p.level != e.level):
            problems.append(f"expected {_fault_text(e.fault, e.level, 'FST')}; got {esr.describe_fsc(p.fst, 'FST')}")
        if p.ptw != e.s1ptw:
            problems.append(f"expected PAR_EL1.PTW={int(e.s1ptw)}; got PTW={int(p.ptw)}")
        if p.stage != e.stage:
            problems.append(f"expected a stage {e.stage} fault (PAR_EL1.S={e.stage - 1}); got stage {p.stage}")
        return
    if p.f:
        problems.append(f"expected a translation to PA {e.pa & par.PAR_PA.mask:#x}; "
                        f"got PAR_EL1.F=1, {esr.describe_fsc(p.fst, 'FST')}")
        return
    if p.pa != e.pa & par.PAR_PA.mask:
        problems.append(f"expected PA {e.pa & par.PAR_PA.mask:#x}; got PA {p.pa:#x}")
    if e.attr is not None and p.attr != e.attr:
        problems.append(f"expected ATTR {e.attr:#04x} ({par.describe_attr(e.attr)}); "
                        f"got ATTR {p.attr:#04x} ({par.describe_attr(p.attr)})")
    if e.sh is not None and p.sh != e.sh:
        problems.append(f"expected SH {e.sh}; got SH {p.sh}")


NO_RECORD = "expected a record of this step; got none"


def never_ran(problems):
    """Whether a step's problems say only that it has no record: for each outcome of a one_of too."""
    return bool(problems) and all(re.fullmatch(r"(matches no permitted outcome: \(outcome \d+\) )?" + re.escape(NO_RECORD),
                                               p) for p in problems)


def judge_step(n, step, obs):
    """The verdict on one step's intent from its Observation (None if the kernel reported none)."""
    problems = []
    e = step.expect
    if e.kind == "one_of":
        verdicts = [judge_step(n, s, obs) for s in _choices(step)]
        if not any(v.ok for v in verdicts):
            problems = [f"matches no permitted outcome: (outcome {k + 1}) {p}"
                        for k, v in enumerate(verdicts) for p in v.problems]
    elif obs is None:
        problems.append(NO_RECORD)
    elif step.op in MAINT_OPS:
        if obs.result != "ok":
            problems.append(f"expected the step to complete; got {obs.describe()}")
        elif e.kind == "desc" and (obs.desc ^ e.value) & e.mask:
            problems.append(f"expected {desc_text(e.value, e.mask)}; got descriptor {obs.desc:#x}")
    elif _reports_par(step):
        if obs.result != "par":
            problems.append(f"expected PAR_EL1 from AT; got result={obs.result}")
        else:
            _check_par(step, obs, problems)
    elif e.kind == "fault":
        if obs.result != "fault":
            problems.append(f"expected {expected_text(step)}; got no exception ({obs.describe()})")
        else:
            _check_abort(step, obs, problems)
    elif obs.result == "fault":
        problems.append(f"expected no exception; got {obs.describe()}")
    elif obs.result != "ok":
        # A fix-up's access that did not fault (result=error), an access answered with a PAR: not the
        # access completing, whatever the model says of it (audit finding 12).
        problems.append(f"expected the access to complete; got {obs.describe()}")
    elif step.op == "fetch" and obs.value != FETCH_MAGIC:
        problems.append(f"expected the fetched stub to return {FETCH_MAGIC:#x}; got {obs.value:#x}")
    elif e.kind == "value":
        width = 8 * RETURNS[step.op]
        got = obs.value & ((1 << width) - 1)
        if got != e.value:
            problems.append(f"expected value {e.value:#x}; got {got:#x}")
    return StepVerdict(n, step.op, step.va, expected_text(step), observed_text(obs), tuple(problems))


def describe_step(step):
    value = f" value={step.value:#x}" if step.op in STORES else ""
    if step.op in MAINT_OPS:
        return describe_maint(step)
    if step.fixup:
        where = " at EL0" if step.el == 0 else ""
        return f"{step.op} va={step.va:#x}{value}{where} again, after the {step.fixup} fix-up at level {step.level}"
    where = " at EL0" if step.el == 0 else ""
    return f"{step.op} va={step.va:#x}{value}{where}"


def describe_maint(step):
    """A maintenance step in the words of its case file."""
    parts = [step.op]
    if step.level is not None:
        parts.append(f"va={step.va:#x} level={step.level}")
    elif step.op.startswith("tlbi_") and step.va:
        parts.append(f"va={step.va:#x}")
    if step.op == "map":
        parts.append(f"to={step.mapping.pa:#x}")
    if step.op == "write_desc":
        parts.append(f"desc={step.value:#x}")
    if step.op.startswith("set_tt") or step.op.startswith("tlbi_") and "asid" in step.op or \
            step.op in ("tlbi_vae1", "tlbi_vae1is", "tlbi_vale1", "tlbi_vale1is"):
        parts.append(f"asid={step.asid}")
    if step.op in ("set_tcr", "set_mair", "set_sctlr"):
        parts.append(f"value={step.value:#x} mask={step.mask:#x}")
    return " ".join(parts)
