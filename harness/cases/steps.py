"""A case's steps: accesses, AT, maintenance (descriptor writes, TLBI, register writes), the
fix-up and retry of a faulting access, and the outcome each step expects."""
from dataclasses import replace

from harness import esr, geometry
from harness.cases.fields import Fields, did_you_mean, no_unknown
from harness.cases.names import (
    ALL_AT_OPS, AP_NAMES, AT_OPS, AT_S12_OPS, EL0_OPS, FIXUP_KINDS, HWDEF, LOADS, MAINT_OPS, OPS, RANGE_TLBI, S2_RANGE_TLBI,
    SELFTESTS, SH_NAMES, STORES, SYSREG_WRITES,
)
from harness.ops import ATOMICS, CAS_OPS, DC_ZERO, LS_SYNDROME, NO_VALUE, RETRYABLE, RETURNS, SYSTEM_OPS
from harness.cases.schema import (
    CaseError, DESC_FIELDS, Expect, FAULT_KEYS, FRAME_NAME, MAINT_KEYS, MAP_KEYS, PAR_KEYS, S2_DESC_EXPECT_KEYS,
    STEP_KEYS, TLB_CONFLICT, UNDER_KEYS, S2Under, Step, TlbiRange,
)
from harness.cases.translation import read_mapping, read_s2_mapping, read_space

def _maint_step(path, name, i, op, table, names):
    where = f"steps[{i}]"
    keys = MAINT_KEYS.get(op, set())
    f = Fields(path, name, where, table, {"do", "expect"} | keys, names)
    level = f.int("level", required=True, signed=True) if "level" in keys else None
    # A stage 2 step names its slot or its TLBI's address by IPA, held where a stage 1 step holds its VA.
    va = f.int("va", required=True) if "va" in keys else f.int("ipa", required=True) if "ipa" in keys else 0
    asid = f.int("asid", 0)
    if not 0 <= asid < 1 << 16:
        raise f.error("asid", f"{asid:#x} is not a 16-bit ASID")
    mapping = value = mask = None
    if op in ("s2_map", "s2_protect"):
        to = table.get("to")
        if op == "s2_map" and isinstance(to, str) and FRAME_NAME.match(to) and to not in names:
            raise f.error("to", f"frame {to!r} is not one of the case's frames{did_you_mean(to, names)}: name it in a "
                          "`map` or `s2map` entry")
        fields = {k: v for k, v in table.items() if k not in ("do", "expect")}
        mapping = read_s2_mapping(path, name, where, {**fields, "to": 0} if op == "s2_protect" else fields, names)
    elif op == "s2_write_desc":
        value = f.int("desc", required=True)
    elif op == "set_vmid":
        value = f.int("vmid", required=True)
        if not 0 <= value < 1 << 16:
            raise f.error("vmid", f"{value:#x} is not a 16-bit VMID")
    elif op in ("map", "protect"):
        to = table.get("to")
        if op == "map" and isinstance(to, str) and FRAME_NAME.match(to) and to not in names:
            raise f.error("to", f"frame {to!r} is not one of the case's frames{did_you_mean(to, names)}: name it in a "
                          "`map` entry")
        mapping = read_mapping(path, name, i, {**table, "to": table.get("to", 0)}
                           if op == "protect" else table, names, where)
    elif op == "write_desc":
        value = f.int("desc", required=True)
    elif op in ("link", "s2_link"):
        value = f.int("table_of", required=True)
        if level > 2:
            raise f.error("level", "a table descriptor is at level 0, 1 or 2 (level 3 holds pages)")
        if op != "s2_link" and value >> 55 & 1 != va >> 55 & 1:
            raise f.error("table_of", f"{value:#x} is in the other TTBR's half than va {va:#x}")
    elif op in SYSREG_WRITES:
        value, mask = f.int("value", required=True), f.int("mask", required=True)
        if value & ~mask:
            raise f.error("value", f"sets bits outside mask ({value & ~mask:#x})")
    tlbi_range = None
    if op in RANGE_TLBI or op in S2_RANGE_TLBI:
        tlbi_range = TlbiRange(num=f.int("num", 0), scale=f.int("scale", 0), ttl=f.int("ttl", 0),
                               tg=geometry.GRANULES[f.choice("tg", geometry.GRANULES)] if "tg" in table else None)
        for key, top in (("num", 31), ("scale", 3), ("ttl", 3)):
            if not 0 <= getattr(tlbi_range, key) <= top:
                raise f.error(key, f"{getattr(tlbi_range, key)} is outside the operand field's 0..{top}")
    spec = table.get("expect")
    if op == "s2_read_desc" and isinstance(spec, dict) and set(spec) - S2_DESC_EXPECT_KEYS:
        # The stage 1 names (ap, ng, pxn, uxn, dbm) would mislead about a stage 2 descriptor's bits.
        named = ", ".join(sorted(S2_DESC_EXPECT_KEYS - {"desc", "one_of"}))
        raise f.error("expect", f"an s2_read_desc expects {{ desc = N }} or {named}")
    expect = _desc_expect(path, name, f"{where}.expect", va, table.get("expect"), names, f) \
        if op in ("read_desc", "s2_read_desc") else _maint_expect(path, name, f"{where}.expect",
                                                                  table.get("expect", "ok"))
    return Step(op, va & (2**64 - 1), value or 0, expect, level=level, mapping=mapping, mask=mask or 0, asid=asid,
                tlbi_range=tlbi_range, space=read_space(f) if "space" in keys else 0)


def _maint_expect(path, name, where, spec):
    if spec != "ok":
        raise CaseError(path, "this step only completes: leave `expect` out or write \"ok\"", name, where)
    return Expect("ok")


def _desc_expect(path, name, where, va, spec, names, step_fields):
    """What a read_desc must find: { desc = N } (every bit), or fields by name
    (af, ng, dbm, pxn, uxn, valid: true/false; ap; oa: a PA or frame), or a one_of."""
    if isinstance(spec, dict) and "one_of" in spec:
        no_unknown(path, name, where, spec, {"one_of"})
        choices = spec["one_of"]
        if not isinstance(choices, list) or len(choices) < 2:
            raise CaseError(path, "one_of lists two or more outcomes", name, f"{where}.one_of")
        return Expect("one_of", choices=tuple(_desc_expect(path, name, f"{where}.one_of[{k}]", va, c, names,
                                                           step_fields) for k, c in enumerate(choices)))
    if not isinstance(spec, dict) or not spec:
        raise CaseError(path, "a read_desc expects { desc = N } or descriptor fields "
                        f"({', '.join(sorted({*DESC_FIELDS, 'ap', 'oa'}))})", name, where)
    f = Fields(path, name, where, spec, {"desc", "ap", "oa", *DESC_FIELDS}, names)
    if "desc" in spec:
        if len(spec) > 1:
            raise f.error("desc", "gives every bit: no other field with it")
        return Expect("desc", value=f.int("desc", required=True), mask=2**64 - 1)
    value = mask = 0
    for key, define in DESC_FIELDS.items():
        if key in spec:
            mask |= HWDEF[define]
            value |= HWDEF[define] if f.bool(key) else 0
    if "ap" in spec:
        mask |= HWDEF["PTE_AP_MASK"]
        value |= HWDEF[AP_NAMES[f.choice("ap", AP_NAMES)]] << HWDEF["PTE_AP_SHIFT"]
    if "oa" in spec:
        pa = f.int("oa")
        granule_shift = 12      # the 48-bit format's OA[47:12]; bits below the granule's are RES0 in a page
        oa_mask = HWDEF["DESC_OA_MASK"](granule_shift)
        if pa & ~oa_mask:
            raise f.error("oa", f"{pa:#x} is not a 4K-aligned PA below 2^48 (other formats: use desc)")
        mask |= oa_mask
        value |= pa
    return Expect("desc", value=value, mask=mask)


def read_step(path, name, i, table, names, two_stage=False):
    f = Fields(path, name, f"steps[{i}]", table, STEP_KEYS | {"fixup", "retry"} | set().union(*MAINT_KEYS.values()),
                names)
    op = f.choice("do", OPS, required=True)
    if op in MAINT_OPS:
        return (_maint_step(path, name, i, op, table, names),)
    f = Fields(path, name, f"steps[{i}]", table, STEP_KEYS | {"fixup", "retry"}, names)
    va = f.int("va", 0 if op in SELFTESTS else None, required=op not in SELFTESTS)
    if op in NO_VALUE and "value" in table:
        raise f.error("value", f"{op} writes {'zeros' if op in DC_ZERO else 'nothing'}: it takes no value")
    if op in STORES:
        value = f.int("value", 0, bits=max(64, 8 * STORES[op]))     # a pair of X registers: 128 bits
    elif op in ATOMICS:
        value = f.int("value", 0)           # LDADD's addend, SWP's and CAS's new contents
    elif "value" in table:
        raise f.error("value", f"only stores and atomics take a value, not {op}")
    else:
        value = 0
    if "compare" in table and op not in CAS_OPS:
        raise f.error("compare", f"only the CAS forms ({', '.join(CAS_OPS)}) compare, not {op}")
    compare = f.int("compare", 0)           # CAS: what memory must hold for the new value to be written
    el = f.int("el", 1)
    if el not in (0, 1):
        raise f.error("el", f"a step runs at EL0 or EL1 (el = 0 or 1), not {el}")
    if el == 0 and op not in EL0_OPS:
        raise f.error("el", f"{op} cannot run at EL0; at EL0 a step is one of: {', '.join(EL0_OPS)}")
    expect = read_expect(path, name, f"steps[{i}].expect", op, va, table.get("expect"), names, two_stage)
    step = Step(op, va & (2**64 - 1), value, expect, el, s2_under=_under(path, name, i, op, table, names), mask=compare)
    if "fixup" not in table:
        if "retry" in table:
            raise f.error("retry", "a retry needs a fixup")
        return (step,)
    return step, _retry(path, name, i, step, table, names)


def _under(path, name, i, op, table, names):
    """An AT S12 step's `under`: the stage 2 geometry (VTCR_EL2's granule, t0sz, sl0, ps; VTTBR_EL2's
    bits in vttbr_flip flipped) it runs under for itself alone (kernel/el2.c), or None.  Any value
    the fields can hold: the geometry is there to be wrong."""
    if "under" not in table:
        return None
    where = f"steps[{i}].under"
    if op not in AT_S12_OPS:
        raise CaseError(path, f"only an AT S12 step ({', '.join(AT_S12_OPS)}) runs under its own stage 2, "
                        f"not {op}", name, where)
    spec = table["under"]
    if not isinstance(spec, dict) or not spec:
        raise CaseError(path, f"must be a table of one or more of {', '.join(sorted(UNDER_KEYS))}", name, where)
    f = Fields(path, name, where, spec, UNDER_KEYS, names)
    under = S2Under(tg=geometry.GRANULES[f.choice("granule", geometry.GRANULES)] if "granule" in spec else None,
                    t0sz=f.int("t0sz") if "t0sz" in spec else None, sl0=f.int("sl0") if "sl0" in spec else None,
                    ps_bits=f.int("ps") if "ps" in spec else None, vttbr_flip=f.int("vttbr_flip", 0))
    if under.t0sz is not None and not 0 <= under.t0sz < 64:
        raise f.error("t0sz", f"{under.t0sz} does not fit VTCR_EL2.T0SZ (0..63)")
    if under.sl0 is not None and not 0 <= under.sl0 <= 3:
        raise f.error("sl0", f"{under.sl0} does not fit VTCR_EL2.SL0 (0..3)")
    if under.ps_bits is not None and under.ps_bits not in geometry.IPS_ENCODING:
        raise f.error("ps", f"PA size {under.ps_bits} is not one of {sorted(geometry.IPS_ENCODING)}")
    if not 0 <= under.vttbr_flip < 1 << 48:
        raise f.error("vttbr_flip", f"{under.vttbr_flip:#x} flips bits beyond VTTBR_EL2.BADDR (bits[47:0])")
    if under == S2Under():
        raise CaseError(path, "changes nothing: name a field that differs", name, where)
    return under


def _retry(path, name, i, step, table, names):
    """The step after an access with a `fixup`: the kernel repairs the access's fault
    (FIXUP_KINDS) and runs the access again, which must meet `retry`."""
    where = f"steps[{i}].fixup"
    spec = table["fixup"]
    if step.op not in RETRYABLE:
        raise CaseError(path, f"{step.op} cannot be retried after a fix-up (only single-register loads and "
                        f"stores are: {', '.join(RETRYABLE)})", name, where)
    if not isinstance(spec, dict):
        raise CaseError(path, "must be a table: { kind = ..., level = ..., ... }", name, where)
    kind = spec.get("kind")
    if kind not in FIXUP_KINDS:
        raise CaseError(path, f"{kind!r} is not one of: {', '.join(FIXUP_KINDS)}", name, f"{where}.kind")
    keys = {"kind", "level"} | (MAP_KEYS - {"va"} if kind != "set_af" else set())
    f = Fields(path, name, where, spec, keys, names)
    level = f.int("level", required=True, signed=True)
    mapping = None
    if kind != "set_af":
        mapping = read_mapping(path, name, i, {**{k: v for k, v in spec.items() if k != "kind"}, "va": step.va}, names,
                           where)
    if "retry" not in table:
        raise CaseError(path, "a fixup needs the retry's expected outcome", name, f"steps[{i}].retry")
    expect = read_expect(path, name, f"steps[{i}].retry", step.op, step.va, table["retry"], names)
    return replace(step, expect=expect, level=level, mapping=mapping, fixup=kind)



# D8.17.1, D8.15.1.6: a one_of's "tlb_conflict"
def tlb_conflict_choices(path, name, where, op, va, names, two_stage):
    """The expectations a one_of's "tlb_conflict" stands for: the TLB conflict abort (fault status
    0b110000, FAR the lookup address: D8.15.1.6 I_JYDXJ) as this step reports it.  An AT S1E0* or S1E1*
    reports it in PAR_EL1; no other AT takes it (I_DHRWD).  Under two stages it is reported to EL1 or
    to EL2, IMPLEMENTATION DEFINED (R_QWTKL), an AT S1E0*/S1E1* to EL2 as a Data Abort (R_WJMZJ)."""
    if op in ALL_AT_OPS and op not in AT_OPS:
        raise CaseError(path, f"{op} never takes a TLB conflict abort (Arm ARM D8.15.1.6 I_DHRWD: only AT S1E0* "
                        "and S1E1* executed from EL1 do)", name, where)
    choices = [read_expect(path, name, where, op, va, {"fault": "tlb_conflict"}, names)]
    if two_stage:
        choices.append(Expect("fault", fault="tlb_conflict", far=va, wnr=True, stage=2) if op in AT_OPS else
                       read_expect(path, name, where, op, va, {"fault": "tlb_conflict", "stage": 2}, names))
    return choices


def read_expect(path, name, where, op, va, spec, names, two_stage=False):
    """A step's expectation (two_stage: the case has a stage 2 translation)."""
    if spec is None:
        raise CaseError(path, "every step needs an expected outcome", name, where)
    if op in SELFTESTS:
        # "ok" makes a case that the kernel fails unexpectedly: the harness's own tests use it
        # to see how a real case that hangs or takes an exception is reported.
        if spec not in (SELFTESTS[op], "ok"):
            raise CaseError(path, f"{op} can only expect {SELFTESTS[op]!r} (or \"ok\", which it fails)",
                            name, where)
        return Expect(spec)
    if spec == "ok":
        if op in ALL_AT_OPS:
            raise CaseError(path, "an AT step expects { pa = ... } or { fault = ... }", name, where)
        return Expect("ok")
    if spec == TLB_CONFLICT:
        raise CaseError(path, f"\"{TLB_CONFLICT}\" is an outcome of a one_of: a TLB conflict abort is permitted "
                        "beside the translations several TLB entries give (Arm ARM D8.17.1)", name, where)
    if not isinstance(spec, dict):
        raise CaseError(path, f"{spec!r} is not an outcome: use \"ok\", {{ value = ... }}, "
                        "{ fault = ... }, for AT { pa = ... }, or { one_of = [...] }", name, where)
    if "one_of" in spec:
        # The architecture permits several outcomes (CONSTRAINED UNPREDICTABLE, IMPLEMENTATION DEFINED).
        no_unknown(path, name, where, spec, {"one_of"})
        choices = spec["one_of"]
        if not isinstance(choices, list) or len(choices) < 2:
            raise CaseError(path, "one_of lists two or more outcomes", name, f"{where}.one_of")
        return Expect("one_of", choices=tuple(
            e for k, c in enumerate(choices)
            for e in (tlb_conflict_choices(path, name, f"{where}.one_of[{k}]", op, va, names, two_stage)
                      if c == TLB_CONFLICT else
                      [read_expect(path, name, f"{where}.one_of[{k}]", op, va, c, names, two_stage)])))
    if spec.get("fault") == esr.PC_ALIGNMENT:
        # Its own exception class, no fault status: only the faulting PC, in FAR_EL1.
        f = Fields(path, name, where, spec, {"fault", "far"}, names)
        if op != "fetch":
            raise f.error("fault", "a PC alignment fault comes from a fetch (a branch to a misaligned target)")
        return Expect("fault", fault=esr.PC_ALIGNMENT, far=f.int("far", va))
    if spec.get("fault") == esr.GCS_DATA_CHECK:
        # Its own exception class (EC 0x2D), no fault status, FAR_ELx UNKNOWN: GCSPOPM's check of what it pops.
        f = Fields(path, name, where, spec, {"fault"}, names)
        if op not in esr.GCS_IT:
            raise f.error("fault", "a GCS Data Check exception comes from the check of what GCSPOPM pops (J1.1.3.62), "
                          "of the cap entry GCSSS1 or GCSSS2 switches to (J1.1.3.67, J1.1.3.68), or of the exception "
                          "return record GCSPOPX or GCSPOPCX loads (J1.1.3.63, J1.1.3.53)")
        return Expect("fault", fault=esr.GCS_DATA_CHECK)
    if spec.get("fault") == esr.SYSTEM_TRAP:
        # Its own exception class (EC 0x18), no fault status, FAR_ELx UNKNOWN: the instruction trapped before it ran,
        # to EL1 (stage = 1, DC ZVA at EL0 with SCTLR_EL1.DZE = 0) or to EL2 (stage = 2: HCR_EL2.TDZ, TPCP, TPU).
        f = Fields(path, name, where, spec, {"fault", "stage"}, names)
        if op not in SYSTEM_OPS:
            raise f.error("fault", "a trapped System instruction (EC 0x18) comes from DC ZVA (SCTLR_EL1.DZE, "
                          "HCR_EL2.TDZ), DC CIVAC, DC CVAC, DC IVAC (HCR_EL2.TPCP) or IC IVAU (HCR_EL2.TPU)")
        stage = f.int("stage", 1)
        if stage not in (1, 2):
            raise f.error("stage", "a trap is taken to EL1 (stage = 1) or to EL2 (stage = 2)")
        return Expect("fault", fault=esr.SYSTEM_TRAP, stage=stage)
    if "fault" in spec:
        f = Fields(path, name, where, spec, FAULT_KEYS, names)
        fault = f.choice("fault", (*esr.FAULT_CLASSES, esr.PC_ALIGNMENT), required=True)
        level = f.int("level", signed=True)
        try:
            esr.fault_status(fault, level)
        except ValueError as e:
            if level is not None:   # a fault class with levels, given none: the level is not checked
                raise f.error("level", str(e)) from None
        stage = f.int("stage", 1)
        if stage not in (1, 2):
            raise f.error("stage", "a fault is of stage 1 or stage 2")
        # An AT S1E* meets stage 2 only on its stage 1 walk, and is taken to EL2 for it (at_aborts).
        if stage == 2 and op in AT_OPS and spec.get("s1ptw") is not True:
            raise f.error("s1ptw", f"{op} translates stage 1 alone: its only stage 2 fault is on its stage 1 "
                          "walk (s1ptw = true), taken to EL2 as a Data Abort")
        at_abort = stage == 2 and op in AT_OPS
        at = op in ALL_AT_OPS and not at_abort
        if at_abort and ("wnr" in spec or "far" in spec):
            raise f.error("wnr" if "wnr" in spec else "far", f"{op}'s abort always has WnR = 1 and FAR_EL2 the "
                          "VA it was given")
        # WnR of a stage 2 fault on a stage 1 walk: whether it shows the walk's read or the access is not
        # settled here (the suite is unsure of the rule), so it is checked only where a case gives it.
        s1ptw_default = None if spec.get("s1ptw") is True else op in STORES
        if fault == "unsupported_atomic":
            if "wnr" in spec:
                raise f.error("wnr", "WnR is UNKNOWN for an unsupported exclusive or atomic access fault (DFSC 0x35)")
            s1ptw_default = None
        wnr = (f.bool("wnr", s1ptw_default) if "wnr" in spec else s1ptw_default) if not at and op != "fetch" else None
        if at_abort:
            wnr = True
        if at and "wnr" in spec or op == "fetch" and "wnr" in spec:
            raise f.error("wnr", "WnR is reported for data aborts only")
        if at and "far" in spec:
            raise f.error("far", "AT does not write FAR_EL1")
        far = None if at else f.int("far", va)
        if stage == 1 and "ipa" in spec:
            raise f.error("ipa", "only a stage 2 fault reports a faulting IPA (HPFAR_EL2, PAR_EL1)")
        if "isv" in spec and op not in LOADS and op not in STORES:
            raise f.error("isv", "ISV and the instruction syndrome are reported for a load's or store's Data Abort")
        if spec.get("isv") is True and op not in LS_SYNDROME:
            raise f.error("isv", f"{op} never has a valid instruction syndrome (ISV = 1 only for a load or store "
                          "of a single general-purpose register: ESR_EL2.ISV, D24.2.46)")
        return Expect("fault", fault=fault, level=level, far=far, wnr=wnr, s1ptw=f.bool("s1ptw"), stage=stage,
                      ipa=f.int("ipa"), isv=f.bool("isv") if "isv" in spec else None)
    if op in ALL_AT_OPS:
        f = Fields(path, name, where, spec, PAR_KEYS, names)
        return Expect("par", pa=f.int("pa", required=True), attr=f.int("attr"), sh=f.choice("sh", SH_NAMES))
    f = Fields(path, name, where, spec, {"value"}, names)
    if op not in RETURNS:
        raise f.error("value", f"{op} returns no value; expect \"ok\" or a fault")
    value = f.int("value", required=True, bits=max(64, 8 * RETURNS[op]))   # a pair of X registers: 128 bits
    if not 0 <= value < 1 << (8 * RETURNS[op]):
        kind = "load" if op in LOADS else "status"
        raise f.error("value", f"{value:#x} does not fit in a {8 * RETURNS[op]}-bit {kind}")
    return Expect("value", value=value)


