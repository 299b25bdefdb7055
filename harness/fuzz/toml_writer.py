"""A Case as a case file (cases/README.md's schema) that harness.cases.load_file
reads back to the same case: the form a shrunk mismatch is handed over in.

Only what differs from the schema's defaults is written, so a shrunk case
shows just the fields that matter.  Output and frame addresses are written as
numbers (a generated case places its own frames).
"""
from pathlib import Path

from harness.cases import (
    AP_NAMES, AT_OPS, AT_S12_OPS, DESC_FIELDS, HWDEF, MAINT_OPS, MEMORY_TYPES, S2_TLBI_OPS, STAGE2_MAINT_OPS, STORES,
    SYSREG_WRITES, TLBI_EL20_ASID_OPS, TLBI_OPS, CaseError, load_file,
)
from harness.cases.schema import TCR2_FIELDS
from harness.cases.translation import KERNEL_PI, KERNEL_S2PI
from harness.esr import PC_ALIGNMENT
from harness.ops import ATOMICS, CAS_OPS, NO_VALUE
from harness.geometry import GRANULES

GRANULE_NAMES = {shift: name for name, shift in GRANULES.items()}
DEFAULT_MAIR = {idx: attr for idx, attr in MEMORY_TYPES.values()}


import re

# Keys whose numbers are addresses, descriptors or register bytes: written in hex.
HEX_KEYS = frozenset({"va", "to", "desc", "value", "pa", "far", "ttbr1", "attr", "mask", "oa", "asid", "ipa", "table_of",
                      "memattr", *map(str, range(8))})


def _hex(value):
    return f"{value:#_x}" if value > 9 else str(value)


def toml_name(name):
    """A case name as a bare TOML key: a matrix instance's [a-b] becomes _a_b."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name).rstrip("_")


def _str(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _value(v, key=None):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return _hex(v) if key in HEX_KEYS else str(v)
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, dict):
        return _inline(v)
    if isinstance(v, (list, tuple)):
        return "[ " + ", ".join(_value(x, key) for x in v) + " ]"
    raise TypeError(f"cannot write {v!r} as TOML")


def _inline(table):
    return "{ " + ", ".join(f"{k} = {_value(v, k)}" for k, v in table.items()) + " }"


def _pi_table(value, kernel):
    """A PIR/PIRE0/S2PIR value as its case table: the nonzero encodings of the indices that are not
    the kernel's own (harness/cases/translation.py adds those back)."""
    return {str(idx): value >> (4 * idx) & 0xF for idx in range(16)
            if idx not in kernel and value >> (4 * idx) & 0xF}


def regime_table(regime, el2=None):
    """The regime's fields that differ from the schema's defaults; el2 (Case.el2) says which PI
    indices are the kernel's own."""
    r, out = regime, {}
    if r.tg0 != 12:
        out["granule"] = GRANULE_NAMES[r.tg0]
    if r.tg1 != r.tg0:
        out["granule1"] = GRANULE_NAMES[r.tg1]
    for key, default in (("t0sz", 16), ("t1sz", 16), ("ips_bits", 48)):
        if getattr(r, key) != default:
            out[key.replace("_bits", "")] = getattr(r, key)
    for key in ("epd0", "epd1", "tbi0", "tbi1", "ds", "ha", "hd", "sctlr_a", "wxn", "epan", "pan", "hpd0", "hpd1",
                "e0pd0", "e0pd1", "asid16", "a1", *TCR2_FIELDS, "nv", "nv1", "fnxs", "dze", "cmow"):
        if getattr(r, key):
            out[key] = True
    if not r.span:
        out["span"] = False
    if r.ttbr1 is not None:
        out["ttbr1"] = r.ttbr1
    mair = {str(idx): r.mair >> (8 * idx) & 0xFF for idx in range(8)
            if r.mair >> (8 * idx) & 0xFF != DEFAULT_MAIR[idx]}
    if mair:
        out["mair"] = mair
    if r.mair2:
        out["mair2"] = r.mair2
    if r.pir or r.pire0:
        out["pir"] = _pi_table(r.pir, KERNEL_PI[el2]["pir"])
        out["pire0"] = _pi_table(r.pire0, KERNEL_PI[el2]["pire0"])
    return out


def map_table(m):
    out = {"va": m.va, "to": m.pa, "level": m.level}
    if m.attrindx != MEMORY_TYPES["normal"][0]:
        out["attrindx"] = m.attrindx
    if m.ap != "rw_el1":
        out["ap"] = m.ap
    if m.sh != "inner":
        out["sh"] = m.sh
    if not m.af:
        out["af"] = False
    for key in ("ng", "pxn", "uxn", "contig", "dbm"):
        if getattr(m, key):
            out[key] = True
    return _with_space(out, m)


def _with_space(out, entry):
    """out with the entry's TTBR0 table set, where it is not the first."""
    if entry.space:
        out["space"] = entry.space
    return out


def stage2_table(s2):
    """A Stage2's [stage2] fields that differ from the schema's defaults (SL0 always: it names the start level)."""
    out = {"sl0": s2.sl0}
    if s2.tg != 12:
        out["granule"] = GRANULE_NAMES[s2.tg]
    for key, default in (("t0sz", 24), ("ps_bits", 48), ("vmid", 0)):
        if getattr(s2, key) != default:
            out[key.replace("_bits", "")] = getattr(s2, key)
    for key in ("fwb", "ha", "hd", "vs", "ds", "sl2", "s2pie", "tdz", "tpcp", "tpu"):
        if getattr(s2, key):
            out[key] = True
    if s2.s2pir:
        out["s2pir"] = _pi_table(s2.s2pir, KERNEL_S2PI)
    return out


def s2map_table(m):
    out = {"ipa": m.ipa, "to": m.pa, "level": m.level}
    for key, default in (("memattr", 0xF), ("s2ap", "rw"), ("sh", "inner"), ("xn", 0), ("af", True),
                         ("contig", False), ("dbm", False)):
        if getattr(m, key) != default:
            out[key] = getattr(m, key)
    return out


def tables_table(t):
    out = {"va": t.va, "level": t.level}
    if t.aptable != "none":
        out["aptable"] = t.aptable
    for key in ("pxntable", "uxntable"):
        if getattr(t, key):
            out[key] = True
    return _with_space(out, t)


def expect_value(step, expect=None):
    """An Expect as the case schema writes it ("ok", or an inline table)."""
    e = expect or step.expect
    if e.kind == "ok":
        return "ok"
    if e.kind == "value":
        return {"value": e.value}
    if e.kind == "one_of":
        return {"one_of": [expect_value(step, c) for c in e.choices]}
    if e.kind == "desc":
        return desc_expect(e)
    if e.kind == "par":
        out = {"pa": e.pa}
        if e.attr is not None:
            out["attr"] = e.attr
        if e.sh is not None:
            out["sh"] = e.sh
        return out
    if e.kind == "fault" and e.fault == PC_ALIGNMENT:
        return {"fault": e.fault} if e.far == step.va else {"fault": e.fault, "far": e.far}
    if e.kind == "fault":
        out = {"fault": e.fault}
        if e.level is not None:
            out["level"] = e.level
        if step.op not in AT_OPS and step.op not in AT_S12_OPS:
            if e.far is not None and e.far != step.va:
                out["far"] = e.far
            # WnR defaults to the op's (unchecked on a stage 1 walk's stage 2 fault: harness/cases/steps.py).
            if e.wnr is not None and (e.s1ptw or e.wnr != (step.op in STORES)):
                out["wnr"] = e.wnr
        if e.s1ptw:
            out["s1ptw"] = True
        if e.stage != 1:
            out["stage"] = e.stage
        if e.ipa is not None:
            out["ipa"] = e.ipa
        if e.isv is not None:
            out["isv"] = e.isv
        return out
    return e.kind        # a self-test's end


def desc_expect(e):
    """A read_desc's expectation: the whole descriptor, or its fields by name."""
    if e.mask == 2**64 - 1:
        return {"desc": e.value}
    out, rest = {}, e.mask
    for key, define in DESC_FIELDS.items():
        if e.mask & HWDEF[define]:
            out[key] = bool(e.value & HWDEF[define])
            rest &= ~HWDEF[define]
    if e.mask & HWDEF["PTE_AP_MASK"]:
        ap = (e.value & HWDEF["PTE_AP_MASK"]) >> HWDEF["PTE_AP_SHIFT"]
        out["ap"] = next(name for name, define in AP_NAMES.items() if HWDEF[define] == ap)
        rest &= ~HWDEF["PTE_AP_MASK"]
    if rest:
        out["oa"] = e.value & rest
    return out


def maint_table(step, expect=None):
    """A maintenance step (cases.MAINT_OPS) in the keys its op takes."""
    out = {"do": step.op}
    if step.op in ("map", "protect"):
        out.update(map_table(step.mapping))
        out["level"] = step.level
        if step.op == "protect":
            del out["to"]
    elif step.op in ("s2_map", "s2_protect"):
        out.update(s2map_table(step.mapping))
        out["level"] = step.level
        if step.op == "s2_protect":
            del out["to"]
    elif step.level is not None:
        out.update(_with_space({"ipa" if step.op in STAGE2_MAINT_OPS else "va": step.va, "level": step.level},
                               step))
    if step.op in ("write_desc", "s2_write_desc"):
        out["desc"] = step.value
    if step.op in ("link", "s2_link"):
        out["table_of"] = step.value
    if step.op == "set_vmid":
        out["vmid"] = step.value
    if S2_TLBI_OPS.get(step.op):
        out["ipa"] = step.va
    if step.op in TLBI_OPS:
        takes_va, takes_asid = TLBI_OPS[step.op]
        # EL2's by VA have one in the EL2&0 regime only (0 in EL2's, which the loader checks).
        takes_asid = takes_asid or step.op in TLBI_EL20_ASID_OPS and step.asid
        out.update({"va": step.va} if takes_va else {}, **({"asid": step.asid} if takes_asid else {}))
    if step.tlbi_range is not None:
        t = step.tlbi_range
        out.update({key: getattr(t, key) for key in ("num", "scale", "ttl") if getattr(t, key)})
        if t.tg is not None:
            out["tg"] = GRANULE_NAMES[t.tg]
    if step.op in ("set_ttbr0", "set_ttbr1"):
        out["asid"] = step.asid
        _with_space(out, step)
    if step.op in SYSREG_WRITES:
        out.update({"value": step.value, "mask": step.mask})
    expect = expect if expect is not None else expect_value(step)
    if expect != "ok":
        out["expect"] = expect
    return out


def fixup_table(step):
    """A retry step's fix-up as the `fixup` key of the access it retries."""
    out = {"kind": step.fixup, "level": step.level}
    if step.mapping is not None:
        out.update({k: v for k, v in map_table(step.mapping).items() if k not in ("va", "level")})
    return out


def step_table(step, expect=None):
    if step.op in MAINT_OPS:
        return maint_table(step, expect)
    out = {"do": step.op, "va": step.va}
    if step.el == 0:        # else the case's own EL, the default
        out["el"] = step.el
    if step.op in STORES and step.op not in NO_VALUE or step.op in ATOMICS:     # DC ZVA, DC and IC take none
        out["value"] = step.value
    if step.op in CAS_OPS:
        out["compare"] = step.mask      # CAS's compare value (harness/cases/steps.py)
    if step.s2_under is not None:
        out["under"] = under_table(step.s2_under)
    out["expect"] = expect if expect is not None else expect_value(step)
    return out


def under_table(under):
    """An AT S12 step's own stage 2 geometry (S2Under) as its `under` table: the fields it gives."""
    out = {} if under.tg is None else {"granule": GRANULE_NAMES[under.tg]}
    for key, name in (("t0sz", "t0sz"), ("sl0", "sl0"), ("ps_bits", "ps")):
        if getattr(under, key) is not None:
            out[name] = getattr(under, key)
    if under.vttbr_flip:
        out["vttbr_flip"] = under.vttbr_flip
    return out


def _array(key, items):
    if not items:
        return []
    return [f"{key} = ["] + [f"  {_inline(item)}," for item in items] + ["]"]


def case_text(case, feature=None, summary=None, expectations=None, bugs=None, comments=()):
    """The case file text of one case.  `expectations` (one schema value per step) replace the
    steps' own; `bugs` ({name: {"qemu":, "reason":, and optionally "rule":, "features":}}) become [bug.*] tables;
    `comments` lead."""
    lines = [f"# {c}" if c else "#" for c in comments]
    lines.append(f"feature = {_str(feature or case.feature)}")
    bugs = dict(bugs or {})
    if case.xfail is not None:      # its mark names its [bug.*] table
        bugs.setdefault(case.xfail.name, {"qemu": case.xfail.qemu, "reason": case.xfail.reason, "rule": case.xfail.rule,
                                          "features": case.xfail.features})
    for name, bug in bugs.items():
        lines += ["", f"[bug.{name}]", f"qemu = {_str(bug['qemu'])}", f"reason = {_str(bug['reason'])}"]
        if bug.get("rule"):
            lines.append(f"rule = {_str(bug['rule'])}")
        if bug.get("features"):         # the CPU features it shows with (cases/README.md)
            lines.append(f"features = {_value(list(bug['features']))}")
    lines += ["", f"[case.{toml_name(case.name)}]", f"summary = {_str(summary or case.summary)}"]
    if case.xfail is not None:
        lines.append(f"xfail = {_str(case.xfail.name)}")
    if case.requires:
        lines.append(f"requires = {_value(list(case.requires))}")
    if case.timeout is not None:
        lines.append(f"timeout = {case.timeout!r}")
    if case.el2 is not None:
        lines.append(f"el2 = {_str(case.el2)}")
    regime = regime_table(case.regime, case.el2)
    if regime:
        lines.append(f"regime = {_inline(regime)}")
    lines += _array("map", [map_table(m) for m in case.maps])
    lines += _array("tables", [tables_table(t) for t in case.tables])
    lines += _array("raw", [_with_space({"va": w.va, "level": w.level, "desc": w.desc}, w) for w in case.raws])
    if case.stage2 is not None:
        lines.append(f"stage2 = {_inline(stage2_table(case.stage2))}")
        lines += _array("s2map", [s2map_table(m) for m in case.stage2.maps])
        lines += _array("s2raw", [{"ipa": w.va, "level": w.level, "desc": w.desc} for w in case.stage2.raws])
    if expectations is None:
        expectations = [None] * len(case.steps)
    steps = []
    for s, e in zip(case.steps, expectations):
        if s.fixup:     # the retry of the step before: its fixup and retry keys
            steps[-1].update(fixup=fixup_table(s), retry=e if e is not None else expect_value(s))
        else:
            steps.append(step_table(s, e))
    lines += _array("steps", steps)
    return "\n".join(lines) + "\n"


def write_case_file(path, text):
    """Write a case file and load it back: the cases it holds.  A file the loader rejects is
    the writer's (or the generator's) defect: CaseError names the file, the case and the field
    (the file stays, to be looked at)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    try:
        return load_file(path)
    except CaseError as e:
        raise CaseError(path, f"harness.fuzz wrote a case file the loader rejects: {e}") from None
