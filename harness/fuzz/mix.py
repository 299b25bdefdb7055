"""What a generated case covers, in names a campaign's summary counts: the regime its steps run
in, the controls and stage 2 features it sets, and the kind of each step.  A campaign's mix is
the sum over its judged cases (campaign.Report.coverage); `missing` names what a campaign on a
CPU should have reached and did not (CI's fixed-seed campaign must reach every kind).
"""
from collections import Counter

from harness.cases import (AT_OPS, AT_S12_OPS, AT_S1E2_OPS, DESC_WRITES, LOADS, RANGE_TLBI, S2_DESC_WRITES,
                           S2_TLBI_OPS, STORES, TLBI_EL2_OPS, TLBI_OPS)
from harness.ops import (ACQUIRE_RELEASE, ATOMICS, CACHE_MAINT, DC_ZERO, EXCLUSIVE_PAIRS, EXCLUSIVE_STORES,
                         GCS_ENABLED_OPS, GCS_STORES, PAIRS)

GROUPS = ("regime", "control", "stage 2", "step")
REGIMES = {None: "EL1&0", "stage2": "EL1&0 under stage 2", "nvhe": "EL2 (E2H=0)", "vhe": "EL2&0 (E2H=TGE=1)"}
CONTROLS = {"pan": "PSTATE.PAN", "span": None, "epan": "EPAN", "wxn": "WXN", "hpd0": "HPD0", "hpd1": "HPD1",
            "e0pd0": "E0PD0", "e0pd1": "E0PD1", "ha": "HA", "hd": "HD", "asid16": "16-bit ASID", "a1": "A1",
            "pie": "PIE", "aie": "AIE"}


def _at_kind(op):
    return "AT S1E0" if "s1e0" in op else "AT S1E1xP" if op.endswith("p") else "AT S1E1"


# The kinds of step, the first whose ops hold the step's op naming it (a name or a function of the op);
# an access at EL0 is named by _step_kind between the access kinds and the rest.
_ACCESS_KINDS = ((EXCLUSIVE_PAIRS, "LDXP/LDAXP"), (PAIRS, "LDP/STP"), (ATOMICS, "LSE atomic"),
                 (("ldxr64", "ldaxr64"), "LDXR/LDAXR"), (EXCLUSIVE_STORES, "STXR/STLXR"), (DC_ZERO, "DC ZVA"),
                 (CACHE_MAINT, "DC/IC by VA"),
                 (GCS_STORES, "GCS store"), (GCS_ENABLED_OPS, "GCS push/pop"), (ACQUIRE_RELEASE, "LDAR/STLR"))
_KINDS = ((("ldtr64", "sttr64"), "LDTR/STTR"), (LOADS, "load"), (STORES, "store"), (("fetch",), "fetch"),
          (AT_OPS, _at_kind), (AT_S12_OPS, "AT S12E*"), (AT_S1E2_OPS, "AT S1E2"),
          (DESC_WRITES, "descriptor write"), (S2_DESC_WRITES, "stage 2 descriptor write"),
          (("dsb", "isb"), "DSB/ISB"), (RANGE_TLBI, "TLBI range"), (TLBI_EL2_OPS, "TLBI EL2"),
          (TLBI_OPS, lambda op: "TLBI EL1" + (" by VA" if TLBI_OPS[op][0] else "")),
          (S2_TLBI_OPS, "TLBI stage 2"), (("set_ttbr0", "set_ttbr1"), "ASID/TTBR switch"),
          (("set_vmid",), "VMID switch"))


def _named(kinds, op):
    for ops, name in kinds:
        if op in ops:
            return name(op) if callable(name) else name
    return None


def _step_kind(step):
    op = step.op
    if step.fixup:
        return "fault fix-up and retry"
    if op == "set_ttbr0" and step.space:
        return "TTBR0 switch to another table set"
    kind = _named(_ACCESS_KINDS, op)
    if kind is None and step.el == 0:
        kind = "EL0 " + ("load" if op in LOADS else "store" if op in STORES else op)
    return kind or _named(_KINDS, op) or op


def coverage(case):
    """Counter of (group, name) for what the case holds: its regime once, each control and stage 2
    feature once, each step kind per step."""
    out = Counter()
    out["regime", REGIMES[case.el2 or ("stage2" if case.stage2 else None)]] += 1
    r = case.regime
    for key, name in CONTROLS.items():
        if key == "span":
            if not r.span:
                out["control", "SPAN=0"] += 1
        elif getattr(r, key):
            out["control", name] += 1
    for t in case.tables:
        for key, name in (("aptable", "APTable"), ("pxntable", "PXNTable"), ("uxntable", "UXNTable")):
            if getattr(t, key) not in (False, "none"):
                out["control", name] += 1
    s2 = case.stage2
    if s2 is not None:
        out["stage 2", f"{1 << (s2.tg - 10)}K from level {s2.start_level}"] += 1
        for key in ("fwb", "ha", "hd", "ds"):
            if getattr(s2, key):
                out["stage 2", key.upper()] += 1
        for m in s2.maps:
            if m.xn:
                out["stage 2", "XN"] += 1
            if m.s2ap != "rw":
                out["stage 2", f"S2AP {m.s2ap}"] += 1
            if m.dbm:
                out["stage 2", "DBM"] += 1
            if m.memattr != 0xF:
                out["stage 2", "MemAttr"] += 1
        if s2.raws:
            out["stage 2", "invalid entry"] += 1
    for s in case.steps:
        out["step", _step_kind(s)] += 1
    return out


# What every campaign of MIX_COUNT cases or more should reach, by the feature it needs (None: any CPU).
MIX_COUNT = 2000
EXPECTED = {
    ("regime", "EL1&0"): None, ("regime", "EL1&0 under stage 2"): None, ("regime", "EL2 (E2H=0)"): None,
    ("regime", "EL2&0 (E2H=TGE=1)"): "FEAT_VHE",
    ("control", "PSTATE.PAN"): "FEAT_PAN", ("control", "SPAN=0"): "FEAT_PAN", ("control", "EPAN"): "FEAT_PAN3",
    ("control", "WXN"): None, ("control", "HPD0"): "FEAT_HPDS", ("control", "HPD1"): "FEAT_HPDS",
    ("control", "E0PD0"): "FEAT_E0PD", ("control", "E0PD1"): "FEAT_E0PD", ("control", "APTable"): None,
    ("control", "PXNTable"): None, ("control", "UXNTable"): None,
    ("stage 2", "XN"): None, ("stage 2", "S2AP none"): None, ("stage 2", "S2AP ro"): None,
    ("stage 2", "S2AP wo"): None, ("stage 2", "MemAttr"): None, ("stage 2", "DBM"): None,
    ("stage 2", "FWB"): "FEAT_S2FWB", ("stage 2", "HA"): "FEAT_HAFDBS", ("stage 2", "HD"): "FEAT_HAFDBS_DIRTY",
    ("stage 2", "invalid entry"): None,
    **{("step", k): None for k in ("load", "store", "LDP/STP", "LDAR/STLR", "fetch", "LDTR/STTR", "EL0 load", "EL0 store", "EL0 fetch",
                                    "AT S1E1", "AT S1E0", "AT S12E*", "AT S1E2", "descriptor write",
                                    "stage 2 descriptor write", "DSB/ISB", "TLBI EL1", "TLBI EL1 by VA", "TLBI EL2",
                                    "TLBI stage 2", "ASID/TTBR switch", "VMID switch",
                                    "TTBR0 switch to another table set", "fault fix-up and retry")},
    ("step", "AT S1E1xP"): "FEAT_PAN2", ("step", "TLBI range"): "FEAT_TLBIRANGE",
    # The sid-only features (fuzz/frontier.py)
    ("control", "PIE"): "FEAT_S1PIE", ("control", "AIE"): "FEAT_AIE", ("step", "GCS store"): "FEAT_GCS",
    ("step", "GCS push/pop"): "FEAT_GCS",
}


def missing(coverage, cpu):
    """The EXPECTED names a campaign on cpu (generate.Cpu) did not reach."""
    return sorted(f"{group}: {name}" for (group, name), feature in EXPECTED.items()
                  if (feature is None or cpu.has(feature)) and not coverage[group, name])


def summary_lines(coverage):
    """One line per group: each name with its count, most first."""
    lines = []
    for group in GROUPS:
        items = sorted(((n, k) for (g, k), n in coverage.items() if g == group), key=lambda x: (-x[0], x[1]))
        if items:
            lines.append(f"  {group}: " + ", ".join(f"{k} {n}" for n, k in items))
    return lines
