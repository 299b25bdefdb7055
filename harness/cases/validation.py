"""One case from its table: its parts read (translation, steps), assembled into a Case, and the
rules that tie its fields together (a stage 2 for stage 2 ops, EL2's regime, the features it
requires, a known-bug mark), then its layout checked."""
import math
from dataclasses import replace

from harness import geometry
from harness.cases.fields import Fields, did_you_mean, subtable, table_list, type_name
from harness.cases.layout import check_layout, place_frames
from harness.cases.names import (
    AT_OPS, AT_S12_OPS, AT_S1E2_OPS, EL2_MODES, RANGE_TLBI, S2_RANGE_TLBI, S2_TLBI_OPS, STAGE2_MAINT_OPS,
    TLBI_EL20_ASID_OPS, TLBI_EL2_OPS, TLBI_OPS, NXS_TLBI, tlbi_plain,
)
from harness.cases.schema import CASE_KEYS, Case, CaseError, Mapping, Regime, Xfail
from harness.cases.steps import read_step
from harness.cases.translation import (
    read_mapping, read_raw, read_regime, read_stage2, read_stage2_geometry, read_table_attrs, regime_pi,
)
from harness.features import FEATURES
from harness.ops import (ATOMICS, GCS_ACCESSES, GCS_ENABLED_OPS, GCS_EX_PUSHES, GCS_EX_RECORD_BYTES, GCS_EX_RECORDS,
                         GCS_SWITCHES, LOADS, RCPC_LOADS, STORES, UNPRIVILEGED_OPS)
from harness.versions import parse_range

# Regime keys and ops the CPU must have a feature for: a case using one lists it in `requires`.
REGIME_FEATURES = {"span": "FEAT_PAN", "pan": "FEAT_PAN", "epan": "FEAT_PAN3", "hpd0": "FEAT_HPDS",
                   "hpd1": "FEAT_HPDS", "e0pd0": "FEAT_E0PD", "e0pd1": "FEAT_E0PD", "asid16": "asid16",
                   "pie": "FEAT_S1PIE", "pir": "FEAT_S1PIE", "pire0": "FEAT_S1PIE", "aie": "FEAT_AIE",
                   "mair2": "FEAT_AIE", "a2": "FEAT_ASID2", "fng0": "FEAT_ASID2", "fng1": "FEAT_ASID2",
                   "nv": "FEAT_NV", "nv1": "FEAT_NV", "fnxs": "FEAT_XS", "cmow": "FEAT_CMOW"}
OP_FEATURES = {"at_s1e1rp": "FEAT_PAN2", "at_s1e1wp": "FEAT_PAN2", "at_s1e1a": "FEAT_ATS1A", "at_s1e2a": "FEAT_ATS1A",
               **{op: "FEAT_TLBIRANGE" for op in RANGE_TLBI + S2_RANGE_TLBI},
               **{op: "FEAT_XS" for op in NXS_TLBI}, **{op: "FEAT_LSE" for op in ATOMICS},
               **{op: "FEAT_LRCPC" for op in RCPC_LOADS}, **{op: "FEAT_GCS" for op in GCS_ACCESSES}}


def op_features(op):
    """The features step op needs (a range TLBI's nXS form: FEAT_TLBIRANGE and FEAT_XS)."""
    return tuple(dict.fromkeys(f for f in (OP_FEATURES.get(tlbi_plain(op)), OP_FEATURES.get(op)) if f))
# [stage2] keys likewise (any of the features listed): VTCR_EL2.HA/HD and HCR_EL2.FWB are RES0 without them.
STAGE2_FEATURES = {"ha": ("FEAT_HAFDBS", "FEAT_HAFDBS_DIRTY"), "hd": ("FEAT_HAFDBS_DIRTY",), "fwb": ("FEAT_S2FWB",),
                   "ds": ("FEAT_LPA2",), "s2pie": ("FEAT_S2PIE",), "s2pir": ("FEAT_S2PIE",)}
# A stage 2 start level valid only from an implemented PA size on (AArch64.S2InvalidSL): the
# features that promise it, so that no CPU with less runs the case (its every access would fault).
PA_AT_LEAST = {42: ("pa42", "pa44", "pa48", "parange44", "parange48", "parange52", "FEAT_LPA"),
               44: ("pa44", "pa48", "parange44", "parange48", "parange52", "FEAT_LPA"),
               52: ("parange52", "FEAT_LPA")}



def build_case(path, name, body, defaults, params, bugs, feature):
    summary = body.get("summary")
    if summary is None:
        raise CaseError(path, "every case needs a summary saying which rule it checks", name, "summary")
    if not isinstance(summary, str) or not summary.strip():
        raise CaseError(path, f"must be a sentence saying which rule the case checks, not {type_name(summary)}",
                        name, "summary")

    regime = read_regime(path, name, {**subtable(path, None, "defaults", defaults, "regime"),
                                      **subtable(path, name, None, body, "regime")}, params)
    lists = {key: table_list(path, name, body, key) for key in ("map", "tables", "raw", "steps", "s2map", "s2raw")}
    s2_table = body.get("stage2")
    if s2_table is None and ("s2map" in body or "s2raw" in body):
        raise CaseError(path, "stage 2 mappings need a [stage2] table", name, "s2map" if "s2map" in body else "s2raw")
    s2_geometry = read_stage2_geometry(path, name, s2_table, params) if s2_table is not None else None
    frames = place_frames(path, name, lists["map"], regime, params, lists["steps"],
                          s2_maps=lists["s2map"] if s2_geometry else [], s2_geometry=s2_geometry)
    names = {**params, **frames}
    names.update({k: frames[v] for k, v in params.items() if isinstance(v, str) and v in frames})
    maps = tuple(read_mapping(path, name, i, m, names) for i, m in enumerate(lists["map"]))
    tables = tuple(read_table_attrs(path, name, i, t, names) for i, t in enumerate(lists["tables"]))
    raws = tuple(read_raw(path, name, i, r, names) for i, r in enumerate(lists["raw"]))
    steps = tuple(step for i, s in enumerate(lists["steps"]) for step in read_step(path, name, i, s, names,
                                                                                      s2_geometry is not None))
    for where, m in [*((f"map[{i}]", m) for i, m in enumerate(maps)),
                     *((f"steps[{i}]", s.mapping) for i, s in enumerate(steps) if isinstance(s.mapping, Mapping))]:
        if m.attrindx > 7 and not regime.aie:
            raise CaseError(path, "AttrIndx 8-15 (MAIR2's) need the regime's aie (TCR2_ELx.AIE, FEAT_AIE)", name,
                            f"{where}.attrindx")
    if not steps:
        raise CaseError(path, "a case needs at least one step", name, "steps")
    stage2 = None
    if s2_geometry is not None:
        stage2 = read_stage2(path, name, s2_table, s2_geometry, body, names, steps)
        if regime.ha or regime.hd:
            raise CaseError(path, "stage 1 hardware updates (TCR_EL1.HA/HD) under stage 2 are not supported: the "
                            "model does not cover their descriptor writes through stage 2 (harness/model/stage2.py)",
                            name, "regime.ha" if regime.ha else "regime.hd")
    retries = 0     # a fix-up's retry is a step of its own, written in its access's TOML step
    for n, step in enumerate(steps):
        retries += bool(step.fixup)
        i = n - retries
        if stage2 is None and (step.op in AT_S12_OPS or step.expect.stage == 2 or
                               any(c.stage == 2 for c in step.expect.choices)):
            raise CaseError(path, f"{step.op} with a stage 2 outcome needs a [stage2] table", name, f"steps[{i}]")
        if stage2 is not None and step.fixup:
            raise CaseError(path, "a fix-up under stage 2 is not supported: kernel/fixup.c repairs stage 1 "
                            "faults taken to EL1", name, f"steps[{i}].fixup")
        if stage2 is None and step.op in STAGE2_MAINT_OPS:
            raise CaseError(path, f"{step.op} changes stage 2 or is EL2's: it needs a [stage2] table", name,
                            f"steps[{i}]")
    if stage2 is not None:
        _check_vmid_synchronized(path, name, steps)

    el2 = Fields(path, name, None, body, CASE_KEYS, params).choice("el2", EL2_MODES)
    _check_gcs_push_pop(path, name, steps, el2, stage2)
    if el2 == "vhe":
        _check_el20(path, name, stage2)
    elif el2 is not None:
        _check_el2(path, name, body, regime, stage2, steps)
    else:
        for i, step in enumerate(steps):
            if step.op in AT_S1E2_OPS or step.op in TLBI_EL2_OPS:
                raise CaseError(path, f"{step.op} runs at EL2: the case needs el2 = \"nvhe\" or \"vhe\"", name,
                                f"steps[{i}]")

    regime = regime_pi(path, name, {**subtable(path, None, "defaults", defaults, "regime"),
                                    **subtable(path, name, None, body, "regime")}, params, regime, el2)
    requires = read_features(path, name, "requires", body.get("requires", []))
    _check_feature_use(path, name, regime, steps, requires)
    if regime.nv or regime.nv1:
        _check_nested(path, name, regime, stage2, el2, steps, requires)
    if regime.fnxs and el2 is not None:
        raise CaseError(path, "HCRX_EL2.FnXS changes the TLBIs EL1 executes: the steps run at EL1 (no el2)", name,
                        "regime.fnxs")
    if regime.fnxs and "FEAT_HCX" not in requires:
        # The model takes FnXS as set (declared.py); without FEAT_HCX there is no HCRX_EL2 to set it in, and the
        # TLBIs would remove what the model lets stay: a wider set than the CPU allows.
        raise CaseError(path, 'fnxs is HCRX_EL2.FnXS, which needs FEAT_HCX too (without it the kernel cannot set it): '
                        'add requires = ["FEAT_HCX"]', name, "requires")
    for key, features in STAGE2_FEATURES.items():
        if stage2 is not None and getattr(stage2, key) and not set(features) & set(requires):
            raise CaseError(path, f"{key} needs {features[-1]}: add requires = [\"{features[-1]}\"]", name,
                            f"stage2.{key}")
    pa_bits = stage2 and geometry.s2_sl_min_pa_bits(stage2.tg, stage2.sl0, stage2.sl2)
    if pa_bits and not set(PA_AT_LEAST[pa_bits]) & set(requires):
        raise CaseError(path, f"stage 2 start level {stage2.start_level} (sl0 = {stage2.sl0}) is valid only with "
                        f"an implemented PA size of {pa_bits} bits or more (AArch64.S2InvalidSL): add requires = "
                        f"[\"{PA_AT_LEAST[pa_bits][0]}\"]", name, "stage2.sl0")
    if el2 == "vhe" and "FEAT_VHE" not in requires:
        raise CaseError(path, 'el2 = "vhe" needs FEAT_VHE: list it in requires', name, "requires")

    xfail, bug = body.get("xfail"), None
    if xfail is not None and not isinstance(xfail, str):
        # A mark names its bug: the bug's model variant (harness/fuzz/known.py) must explain the case's steps.
        raise CaseError(path, "xfail names a [bug.<name>] table of this file (a known bug has a model variant of "
                        "that name in harness/fuzz/known.py)", name, "xfail")
    if isinstance(xfail, str):
        if xfail not in bugs:
            raise CaseError(path, f"no [bug.{xfail}] table in this file{did_you_mean(xfail, bugs)}", name, "xfail")
        xfail, bug = bugs[xfail], xfail
    if xfail is not None:
        xfail = read_xfail(path, name, "xfail", xfail, bug)

    timeout = body.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout < math.inf):
        raise CaseError(path, f"must be a number of seconds above 0, not {type_name(timeout)}", name, "timeout")

    case = Case(path, path.stem, feature, name, summary, regime, maps, raws, tables, steps, tuple(requires), xfail, params,
                timeout=timeout, stage2=stage2, el2=el2)
    check_layout(case)
    # The tables as the kernel builds them (harness.declared, as pgtable.c): every `tables` entry on a
    # table descriptor, no mapping under another's block, and the slots of descriptor steps reached as
    # the kernel reaches them (pgt_slot) from the tables the steps before them leave.  Imported
    # here: harness.declared builds on this package.
    from harness import declared
    try:
        declared.step_slots(case)
    except declared.LayoutError as e:
        what = str(e).split(":", 1)[0]
        where = "tables" if what == "tables" else "steps" if what == "link" else "map"
        descriptor_steps = any(s.level is not None for s in steps)
        if descriptor_steps and where != "tables" and _lays_out(declared, replace(
                case, steps=tuple(s for s in steps if s.level is None))):
            # The declared tables alone are fine: a descriptor step is what the kernel cannot reach.
            raise CaseError(path, f"a descriptor step's slot cannot be reached: {e}", name, "steps") from None
        raise CaseError(path, f"the kernel cannot build this case's tables: {e}", name, where) from None
    return case


def _lays_out(declared, case):
    try:
        declared.step_slots(case)
    except declared.LayoutError:
        return False
    return True


# What the EL2 regime (HCR_EL2.E2H = 0) does not have: a second VA range, EL0, ASIDs, PAN.
EL2_REGIME_KEYS = {"granule1", "t1sz", "epd0", "epd1", "tbi1", "ttbr1", "span", "epan", "pan", "hpd1", "e0pd0", "e0pd1",
                   "asid16", "a1", "a2", "fng0", "fng1", "dze", "cmow"}
# Steps the EL2 regime has no use for: EL1&0's own AT (S1E1*, S1E0*: they translate another regime),
# unprivileged loads and stores, TLBI by ASID, a TTBR1.
EL2_REFUSED_OPS = {*AT_OPS, *AT_S12_OPS, *UNPRIVILEGED_OPS, "set_ttbr1",
                   *(op for op, (_, takes_asid) in TLBI_OPS.items() if takes_asid)}


def _check_gcs_push_pop(path, name, steps, el2, stage2):
    """GCSPUSHM, GCSPOPM, GCSSS2 and the exception return records access the doubleword at GCSPR_ELx (or just
    below it), which holds a multiple of 8 (bits [2:0] RES0, D24.11.5): their VA is one.  A record's 32 bytes
    lie in one 4KB page, so that its four accesses share the translation the model judges (docs/model.md).  The
    kernel enables the Guarded Control Stack for them at EL1 and EL0 of the EL1&0 regime (kernel/steps.c
    run_gcs_enabled), not at EL2, and the model judges no GCS access under stage 2 (docs/model.md).  GCSSS1's
    `value` is the GCSPR_ELx it starts from: a multiple of 8."""
    for i, step in enumerate(steps):
        if step.op not in GCS_ENABLED_OPS:
            continue
        if step.op in GCS_SWITCHES and step.value % 8:
            raise CaseError(path, f"{step.op}'s value is GCSPR_ELx before it, a multiple of 8: {step.value:#x} is not",
                            name, f"steps[{i}].value")
        if step.op not in GCS_SWITCHES and step.va % 8:
            raise CaseError(path, f"{step.op} accesses the doubleword GCSPR_ELx points at (or just below), a "
                            f"multiple of 8: va {step.va:#x} is not", name, f"steps[{i}].va")
        low = step.va - (GCS_EX_RECORD_BYTES - 8) if step.op in GCS_EX_PUSHES else step.va
        if step.op in GCS_EX_RECORDS and low >> 12 != (low + GCS_EX_RECORD_BYTES - 1) >> 12:
            raise CaseError(path, f"{step.op}'s exception return record ({low:#x} to "
                            f"{low + GCS_EX_RECORD_BYTES - 1:#x}) crosses a 4KB page: the model judges the four "
                            "accesses of one record by one translation", name, f"steps[{i}].va")
        if el2 is not None or stage2 is not None:
            raise CaseError(path, f"{step.op} runs with the Guarded Control Stack of EL1 or EL0 of the EL1&0 "
                            "regime, without a stage 2: not in a case with el2 or [stage2]", name, f"steps[{i}].do")


def _check_el20(path, name, stage2):
    """A case whose steps run in the EL2&0 regime (el2 = "vhe"): all EL1&0's keys and steps mean
    the same there, at EL2; a stage 2 (EL1&0's) it cannot have."""
    if stage2 is not None:
        raise CaseError(path, "a stage 2 translates EL1&0, not the EL2&0 regime the steps run in", name, "stage2")


def _check_el2(path, name, body, regime, stage2, steps):
    """A case whose steps run in the EL2 regime (el2 = "nvhe"): TTBR0_EL2 and TCR_EL2's one range,
    with the kernel's identity map in it; no EL0, no ASID, no stage 2 (which is EL1&0's)."""
    if stage2 is not None:
        raise CaseError(path, "a stage 2 translates EL1&0, not the EL2 regime the steps run in", name, "stage2")
    table = {**body.get("regime", {})}
    for key in sorted(EL2_REGIME_KEYS & set(table)):
        raise CaseError(path, f"the EL2 regime (HCR_EL2.E2H = 0) has one VA range, no EL0, no ASIDs and no PAN: "
                        f"{key} has no meaning there", name, f"regime.{key}")
    if regime.kernel_high:
        raise CaseError(path, f"t0sz={regime.t0sz} leaves TTBR0_EL2's one range no room for the kernel's window "
                        "(needs t0sz <= 33)", name, "regime.t0sz")
    for what in ("map", "raw", "tables"):
        for i, m in enumerate(body.get(what, [])):
            va = m.get("va") if isinstance(m, dict) else None
            if isinstance(va, int) and va >> 55 & 1:
                raise CaseError(path, f"va {va:#x} has bit 55 set: the EL2 regime has no TTBR1 range", name,
                                f"{what}[{i}].va")
    retries = 0
    for n, step in enumerate(steps):
        retries += bool(step.fixup)
        i = n - retries
        if step.el == 0:
            raise CaseError(path, "the EL2 regime has no EL0", name, f"steps[{i}].el")
        if step.op in EL2_REFUSED_OPS:
            raise CaseError(path, f"{step.op} has no place in the EL2 regime (no EL0, no ASID, no TTBR1; "
                            "AT S1E2R/W translate it)", name, f"steps[{i}].do")
        if step.fixup:
            raise CaseError(path, "fix-ups (kernel/fixup.c) invalidate by ASID, which the EL2 regime has not",
                            name, f"steps[{i}].fixup")
        if step.op == "set_ttbr0" and step.asid:
            raise CaseError(path, "TTBR0_EL2 has no ASID with HCR_EL2.E2H = 0", name, f"steps[{i}].asid")
        if step.op in TLBI_EL20_ASID_OPS and step.asid:
            raise CaseError(path, f"{step.op}'s operand has no ASID with HCR_EL2.E2H = 0", name, f"steps[{i}].asid")



def read_features(path, name, where, value):
    """A list of feature names (harness.features; `!FEAT_X`: the CPU lacks it), as a case's `requires` or a
    bug mark's `features` gives it: a tuple, every name checked."""
    if not isinstance(value, list):
        raise CaseError(path, f"must be an array of feature names, not {type_name(value)}", name, where)
    for i, r in enumerate(value):
        if not isinstance(r, str):
            raise CaseError(path, f"must be a feature name (a string), not {type_name(r)}", name, f"{where}[{i}]")
        if r.lstrip("!") not in FEATURES:
            hint = did_you_mean(r.lstrip("!"), FEATURES)
            raise CaseError(path, f"unknown feature {r!r}{hint}" + ("" if hint else f"; known: {', '.join(sorted(FEATURES))}"),
                            name, f"{where}[{i}]")
    return tuple(value)


def read_xfail(path, name, where, table, bug=None):
    """A known QEMU bug (`bug`: its table's name): the QEMU versions that have it, the CPU features it shows
    with (`features`: only on a CPU that has them all, as the case's `requires` reads them), what it breaks."""
    f = Fields(path, name, where, table, {"qemu", "reason", "rule", "features"}, {})
    xfail = Xfail(f.text("qemu", required=True), f.text("reason", required=True), f.text("rule"), bug,
                  read_features(path, name, f"{where}.features", table.get("features", [])))
    try:
        parse_range(xfail.qemu)
    except ValueError as e:
        raise f.error("qemu", str(e)) from None
    return xfail



def _check_vmid_synchronized(path, name, steps):
    """A TLBI applies to the VMID of VTTBR_EL2 as the instruction sees it, which after a
    VMID switch is the old or the new one until a context synchronization event: the
    suite asks for an ISB between them, so that what the TLBI removes is known."""
    switched = False
    for i, step in enumerate(steps):
        if step.op == "set_vmid":
            switched = True
        elif step.op == "isb":
            switched = False
        elif switched and (step.op in TLBI_OPS or step.op in S2_TLBI_OPS):
            raise CaseError(path, f"{step.op} after a set_vmid needs an isb between them: until one, the TLBI "
                            "may apply to the old VMID or the new", name, f"steps[{i}]")



# What a step of a case with HCR_EL2.NV/NV1 may be: what EL1 does under them (kernel/steps.c set_nested).
NESTED_OPS = (*(op for op in (*LOADS, *STORES) if op not in GCS_ENABLED_OPS), "fetch", *AT_OPS)


def _check_nested(path, name, regime, stage2, el2, steps, requires):
    """A case with HCR_EL2.NV/NV1 (FEAT_NV): accesses (at EL1 or EL0), fetches and AT steps alone, each run
    with them set (kernel/steps.c set_nested; the EL2 half emulates the ERET and the register
    accesses of a fault's handling that trap, el2.c emulate_nested, and EL1's ERET to an EL0 step);
    no maintenance steps; NV1 with NV (NV1 alone is CONSTRAINED
    UNPREDICTABLE, Unpredictable_NVNV1, not modelled); FEAT_E2H0, without which NV1 may be RAZ
    (EffectiveHCR_EL2_NVx, J1.3.3.418)."""
    if el2 is not None or stage2 is not None:
        raise CaseError(path, "HCR_EL2.NV/NV1 change EL1&0's stage 1 as EL1 sees it: no el2, no stage 2", name,
                        "regime.nv")
    if regime.nv1 and not regime.nv:
        raise CaseError(path, "NV1 without NV is CONSTRAINED UNPREDICTABLE (Unpredictable_NVNV1): not modelled",
                        name, "regime.nv1")
    if regime.nv1 and "FEAT_E2H0" not in requires:
        raise CaseError(path, 'nv1 needs FEAT_E2H0 (without it NV1 may be RAZ): add requires = ["FEAT_E2H0"]', name,
                        "requires")
    for i, step in enumerate(steps):
        if step.op not in NESTED_OPS:
            raise CaseError(path, "a case with HCR_EL2.NV runs EL1's accesses, fetches and AT steps alone, "
                            f"not {step.op}", name, f"steps[{i}].do")


def _check_feature_use(path, name, regime, steps, requires):
    """A case that sets a control of an optional feature, or runs its instruction, requires the
    feature: without it the control is RES0 (or PSTATE.PAN's MSR UNDEFINED), and the case says nothing."""
    defaults = Regime.__dataclass_fields__
    for key, feature in REGIME_FEATURES.items():
        if getattr(regime, key) != defaults[key].default and feature not in requires:
            raise CaseError(path, f"{key} needs {feature}: add requires = [\"{feature}\"]", name, f"regime.{key}")
    for i, step in enumerate(steps):
        for feature in op_features(step.op):
            if feature not in requires:
                raise CaseError(path, f"{step.op} needs {feature}: add requires = [\"{feature}\"]", name,
                                f"steps[{i}].do")


