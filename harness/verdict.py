"""Compare what a case expects with what the kernel reported, step by step.

Every expectation is turned into the same decoded text the observation gets,
so a failure reads as the Arm ARM's words side by side:
    expected permission fault, level 3 (DFSC 0x0f); got translation fault, level 2 (DFSC 0x06)
"""
from dataclasses import dataclass, replace

from harness import esr, par
from harness.cases import ALL_AT_OPS, DESC_FIELDS, HWDEF, LOADS, MAINT_OPS, STORES
from harness.kdefs import kernel_header, read_defines

FETCH_MAGIC = read_defines(kernel_header("probe.h"))["FETCH_MAGIC"]

# ESR bits checked on top of EC, the fault status and WnR: what a plain stage 1
# fault on a load, store or fetch must show.  ISV and the syndrome it validates
# (ESR[23:14]) are not checked: the Arm ARM leaves ISV = 0 permitted for these
# aborts, so a check of them would not be a conformance check.
_QUIET_BITS = (("IL", "il", 1), ("CM", "cm", 0), ("EA", "ea", 0), ("FnV", "fnv", 0))


# The probes' load and store instructions (kernel/probe.S): a single general-purpose
# register, no writeback, so a stage 2 data abort on the access (not on a stage 1
# walk) reports their instruction syndrome, ISV = 1 (AArch64.FaultSyndrome:
# IsSecondStage(fault) && !s2fs1walk -> LSInstructionSyndrome()): the transfer
# register (loads x0/w0, stores x1/w1) and whether it is 64-bit.
PROBE_SYNDROME = {
    **{op: (size, 0, size == 8) for op, size in LOADS.items() if op != "ldtr64"},
    **{op: (size, 1, size == 8) for op, size in STORES.items() if op != "sttr64"},
}


@dataclass(frozen=True)
class StepVerdict:
    n: int
    op: str
    va: int
    expected: str
    observed: str
    problems: tuple         # one "expected ...; got ..." line per mismatch
    model: str = None       # the reference model's allowed outcomes (harness/crosscheck.py)
    walk: tuple = ()        # the kernel's walk of the step's VA, one line per level
    known_bugs: tuple = ()  # names of the known QEMU bugs the model says explain the observation

    @property
    def ok(self):
        return not self.problems


def _fault_label(step):
    """What the fault status field is called where this step reports it."""
    return "FST" if step.op in ALL_AT_OPS else "IFSC" if step.op == "fetch" else "DFSC"


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
        fault = _fault_text(e.fault, e.level, _fault_label(step))
        if step.op in ALL_AT_OPS:
            return f"PAR_EL1.F=1: {fault}, PTW={int(e.s1ptw)}, stage {e.stage}"
        wnr = "" if e.wnr is None else f", WnR={int(e.wnr)}"
        if e.stage == 2:
            ipa = f", IPA {e.ipa & ~0xFFF:#x} in HPFAR_EL2" if e.ipa is not None and hpfar_valid(e) else ""
            s1ptw = ", S1PTW=1" if e.s1ptw else ""
            return f"{_abort_class(step).text} taken to EL2, stage 2: {fault}{wnr}{s1ptw}, FAR_EL2 {e.far:#x}{ipa}"
        return f"{_abort_class(step).text}: {fault}{wnr}, FAR {e.far:#x}"
    return e.kind.replace("_", " ")


def observed_text(step, record):
    if record is None:
        return "no record: the kernel stopped before this step"
    result = record.word("result")
    if result == "fault":
        syndrome = esr.decode_esr(record.num("esr"))
        if record.fields.get("el") == 2:
            return (f"taken to EL2: {esr.describe(syndrome)}, FAR_EL2 {record.num('far'):#x}, "
                    f"HPFAR_EL2 {record.num('hpfar'):#x} (IPA {esr.hpfar_ipa(record.num('hpfar')):#x})")
        return f"{esr.describe(syndrome)}, FAR {record.num('far'):#x}"
    if result == "par":
        return par.describe(par.decode_par(record.num("par")))
    if result == "error":
        return f"the kernel could not reach the descriptor ({record.word('error')})"
    if "desc" in record.fields:
        return f"completes, descriptor {record.num('desc'):#x}"
    value = record.fields.get("value")
    return "completes" if value is None else f"completes, value {record.num('value'):#x}"


def hpfar_holds_ipa(fault, s1ptw):
    """Whether HPFAR_EL2 must hold the faulting IPA of a stage 2 fault of class `fault`:
    for Translation, Access flag and Address size faults, and for a Permission fault
    only on a stage 1 walk (Arm ARM D19.2 HPFAR_EL2; Linux's
    arch/arm64/kvm/hyp/include/hyp/fault.h resolves the IPA with AT for the others)."""
    return fault in ("translation", "access_flag", "address_size") or bool(s1ptw)


def hpfar_valid(expect):
    return hpfar_holds_ipa(expect.fault, expect.s1ptw)


def _check_stage2_abort(step, record, s, problems):
    """What a stage 2 abort taken to EL2 shows beyond the fault status: the faulting IPA,
    and the instruction syndrome (ISV)."""
    e = step.expect
    if record.fields.get("el") != 2:
        problems.append("expected the abort taken to EL2 (a stage 2 fault); the kernel's EL1 handler took it")
        return
    if e.ipa is not None and hpfar_valid(e):
        got = esr.hpfar_ipa(record.num("hpfar"))
        if got != e.ipa & ~0xFFF:
            problems.append(f"expected HPFAR_EL2 to hold IPA {e.ipa & ~0xFFF:#x}; got {got:#x} "
                            f"(HPFAR_EL2 {record.num('hpfar'):#x})")
    if step.op in PROBE_SYNDROME and not e.s1ptw:
        size, srt, sf = PROBE_SYNDROME[step.op]
        want = dict(isv=1, sas=size.bit_length() - 1, sse=0, srt=srt, sf=int(sf), ar=0)
        got = {k: getattr(s, k) for k in want}
        if got != want:
            problems.append("expected the instruction syndrome of the probe's access (ISV=1 "
                            + " ".join(f"{k.upper()}={v}" for k, v in want.items() if k != "isv")
                            + "); got " + (" ".join(f"{k.upper()}={v}" for k, v in got.items() if v is not None)))
    elif e.s1ptw and s.isv:
        problems.append("expected ISV=0: a stage 2 fault on a stage 1 walk has no instruction syndrome "
                        f"(AArch64.FaultSyndrome); got ISV=1 (ESR {s.raw:#x})")


def _abort_class(step):
    """The exception class of the step's abort: instruction or data, from EL0 (lower) or EL1 (same EL);
    a stage 2 fault is taken to EL2, from a lower EL."""
    if step.expect.stage == 2:
        return esr.EC.IABT_LOW if step.op == "fetch" else esr.EC.DABT_LOW
    if step.op == "fetch":
        return esr.EC.IABT_LOW if step.el == 0 else esr.EC.IABT_CUR
    return esr.EC.DABT_LOW if step.el == 0 else esr.EC.DABT_CUR


def _check_abort(step, record, problems):
    e = step.expect
    s = esr.decode_esr(record.num("esr"))
    want_ec = esr.EC.PC_ALIGN if e.fault == esr.PC_ALIGNMENT else _abort_class(step)
    if s.ec != want_ec:
        problems.append(f"expected EC {want_ec:#04x} ({want_ec.text}); got EC {s.ec:#04x} ({esr.describe(s)})")
        return
    if want_ec == esr.EC.PC_ALIGN:
        # The ISS is RES0; what identifies the fault is the PC, which FAR_EL1 holds.
        if s.il != 1:
            problems.append(f"expected IL=1; got IL={s.il} (ESR {s.raw:#x})")
        if record.num("far") != e.far:
            problems.append(f"expected FAR {e.far:#x} (the misaligned PC); got FAR {record.num('far'):#x}")
        return
    label = _fault_label(step)
    want = _fault_text(e.fault, e.level, label)
    if s.fault != e.fault or (e.level is not None and s.level != e.level):
        problems.append(f"expected {want}; got {esr.describe_fsc(s.fsc, label)}")
    if e.wnr is not None and s.wnr != e.wnr:
        problems.append(f"expected WnR={int(e.wnr)} ({'write' if e.wnr else 'read'}); got WnR={int(s.wnr)}")
    if s.s1ptw != e.s1ptw:
        problems.append(f"expected S1PTW={int(e.s1ptw)}; got S1PTW={int(s.s1ptw)}")
    for name, attr, want_bit in _QUIET_BITS:
        got = getattr(s, attr)
        if got is not None and got != want_bit:
            problems.append(f"expected {name}={want_bit}; got {name}={int(got)} (ESR {s.raw:#x})")
    if not s.fnv and record.num("far") != e.far:
        problems.append(f"expected FAR {e.far:#x}; got FAR {record.num('far'):#x}")
    if e.stage == 2:
        _check_stage2_abort(step, record, s, problems)
    elif record.fields.get("el") == 2:
        problems.append("expected a stage 1 fault, taken to EL1; got one taken to EL2 (a stage 2 fault)")


def _check_par(step, record, problems):
    e = step.expect
    p = par.decode_par(record.num("par"))
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


def judge_step(n, step, record):
    """The verdict on one step from its `step` record (None if there is none)."""
    problems = []
    e = step.expect
    if e.kind == "one_of":
        verdicts = [judge_step(n, s, record) for s in _choices(step)]
        if not any(v.ok for v in verdicts):
            problems = [f"matches no permitted outcome: (outcome {k + 1}) {p}"
                        for k, v in enumerate(verdicts) for p in v.problems]
    elif record is None:
        problems.append("expected a record of this step; got none")
    elif step.op in MAINT_OPS:
        if record.word("result") != "ok":
            problems.append(f"expected the step to complete; got {observed_text(step, record)}")
        elif e.kind == "desc" and (record.num("desc") ^ e.value) & e.mask:
            problems.append(f"expected {desc_text(e.value, e.mask)}; got descriptor {record.num('desc'):#x}")
    elif step.op in ALL_AT_OPS:
        if record.word("result") != "par":
            problems.append(f"expected PAR_EL1 from AT; got result={record.word('result')}")
        else:
            _check_par(step, record, problems)
    elif e.kind == "fault":
        if record.word("result") != "fault":
            problems.append(f"expected {expected_text(step)}; got no exception ({observed_text(step, record)})")
        else:
            _check_abort(step, record, problems)
    elif record.word("result") == "fault":
        problems.append(f"expected no exception; got {observed_text(step, record)}")
    elif step.op == "fetch" and record.num("value") != FETCH_MAGIC:
        problems.append(f"expected the fetched stub to return {FETCH_MAGIC:#x}; got {record.num('value'):#x}")
    elif e.kind == "value":
        width = 8 * LOADS[step.op]
        got = record.num("value") & ((1 << width) - 1)
        if got != e.value:
            problems.append(f"expected value {e.value:#x}; got {got:#x}")
    return StepVerdict(n, step.op, step.va, expected_text(step), observed_text(step, record), tuple(problems))


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
