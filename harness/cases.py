"""Case files: load, validate, expand.

A case file (cases/<family>.toml) holds one family of cases; a case may
declare a parameter matrix that expands into named instances.  Everything is
checked here, before any kernel is built or run: a malformed or contradictory
case raises CaseError naming the file, the case and the field.  The schema is
documented in cases/README.md.
"""
import itertools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11 (Ubuntu 22.04): Debian's python3-tomli
    import tomli as tomllib

from harness import esr, geometry
from harness.expr import ExprError, evaluate, substitute
from harness.features import FEATURES
from harness.kdefs import kernel_header, read_constants, read_defines
from harness.ops import (  # noqa: F401  (the op names, for the loader and its readers)
    ALL_AT_OPS, AT_OPS, AT_S1E2_OPS, AT_S12_OPS, DESC_WRITES, EL0_OPS, LAST_LEVEL_TLBI, LOADS, MAINT_OPS, OPS,
    RANGE_TLBI, S2_DESC_WRITES, S2_RANGE_TLBI, S2_TLBI_OPS, SELFTESTS, STAGE2_MAINT_OPS, STORES, SYSREG_WRITES,
    TLBI_EL2_OPS, TLBI_EL20_ASID_OPS, TLBI_OPS, at_aborts, tlbi_takes_asid,
)
from harness.versions import parse_range

LAYOUT = read_defines(kernel_header("layout.h"))
HWDEF = read_constants(kernel_header("pgtable-hwdef.h"))

# Memory types by name, with the MAIR_EL1 index and attribute byte each has by
# default.  Indices 0 and 1 are the kernel's own (layout.h) and cannot change.
MEMORY_TYPES = {
    "device_ngnrne": (LAYOUT["KERNEL_ATTRIDX_DEVICE"], 0x00),
    "normal": (LAYOUT["KERNEL_ATTRIDX_NORMAL"], 0xFF),    # Write-Back, R/W-allocate
    "normal_nc": (2, 0x44),
    "normal_wt": (3, 0xBB),
    "device_ngnre": (4, 0x04),
    "device_ngre": (5, 0x08),
    "device_gre": (6, 0x0C),
    "normal_wb_ra": (7, 0xEE),                            # Write-Back, read-allocate only
}
APTABLE_NAMES = {"none": "APTABLE_NONE", "no_el0": "APTABLE_NO_EL0", "ro": "APTABLE_RO",
                 "ro_no_el0": "APTABLE_RO_NO_EL0"}
AP_NAMES = {"rw_el1": "AP_RW_EL1", "rw_all": "AP_RW_ALL", "ro_el1": "AP_RO_EL1", "ro_all": "AP_RO_ALL"}
SH_NAMES = {"non": "SH_NON", "outer": "SH_OUTER", "inner": "SH_INNER"}

# Where a case's steps may run at EL2 (`el2 = ...`): "nvhe", the EL2 regime with HCR_EL2.E2H = 0
# (TTBR0_EL2, TCR_EL2 and SCTLR_EL2 in their EL2 layouts; no EL0, no ASID); "vhe", the EL2&0
# regime with E2H = TGE = 1 (FEAT_VHE: TCR_EL2 and SCTLR_EL2 in the EL1 layouts, two VA ranges,
# ASIDs, EL0 steps under TGE), in a boot of its own (Case.boot).
EL2_MODES = ("nvhe", "vhe")

S2AP_NAMES = {"none": "S2AP_NONE", "ro": "S2AP_RO", "wo": "S2AP_WO", "rw": "S2AP_RW"}

# Fix-ups of a faulting access before its retry (kernel/fixup.c): demand paging (map the
# missing page), copy-on-write (copy the frame, map the copy writable, TLBI), the Access
# flag set in software.
FIXUP_KINDS = ("map", "copy", "set_af")


ID_CHARS = re.compile(r"^[A-Za-z0-9_.\-\[\]]+$")
FRAME_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class CaseError(Exception):
    """A case file is malformed or contradictory: names the file, the case and the field."""

    def __init__(self, path, message, case=None, where=None):
        self.path, self.case, self.where = path, case, where
        parts = [str(path)]
        if case:
            parts.append(f"case {case!r}")
        if where:
            parts.append(f"field {where!r}")
        super().__init__(": ".join(parts) + f": {message}")


@dataclass(frozen=True)
class Regime:
    tg0: int            # granule shift of TTBR0 tables
    tg1: int
    t0sz: int
    t1sz: int
    ips_bits: int
    epd0: bool
    epd1: bool
    tbi0: bool
    tbi1: bool
    ds: bool
    ha: bool
    hd: bool
    sctlr_a: bool
    ttbr1: int              # TTBR1_EL1 verbatim instead of the case's TTBR1 tables (None: the tables)
    mair: int
    wxn: bool = False       # SCTLR_EL1.WXN
    span: bool = True       # SCTLR_EL1.SPAN (FEAT_PAN; RES1 without it): False = exception entry sets PSTATE.PAN
    epan: bool = False      # SCTLR_EL1.EPAN (FEAT_PAN3)
    pan: bool = False       # PSTATE.PAN when the steps start (FEAT_PAN)
    hpd0: bool = False      # TCR_EL1.HPD0/HPD1 (FEAT_HPDS)
    hpd1: bool = False
    e0pd0: bool = False     # TCR_EL1.E0PD0/E0PD1 (FEAT_E0PD)
    e0pd1: bool = False
    asid16: bool = False    # TCR_EL1.AS: 16-bit ASIDs
    a1: bool = False        # TCR_EL1.A1: TTBR1_EL1's ASID is the current one

    @property
    def ips(self):
        return geometry.IPS_ENCODING[self.ips_bits]

    def pa_bits_held(self, granule_shift):
        """How many PA bits a descriptor of this granule can hold (Arm ARM D8.3)."""
        if granule_shift == 16:
            return 52 if self.ips_bits == 52 else 48
        return 52 if self.ds else 48

    @property
    def kernel_high(self):
        """Whether the kernel must run the steps from its TTBR1 alias (layout.h):
        when TTBR0's range cannot hold its identity-mapped window, or TTBR0 walks are off,
        or EL0 may not use TTBR0 (E0PD0), which leaves EL0 code no home there."""
        window_end = LAYOUT["KERNEL_WINDOW_BASE"] + LAYOUT["KERNEL_WINDOW_SIZE"]
        return self.epd0 or self.e0pd0 or window_end > 1 << (64 - self.t0sz)


@dataclass(frozen=True)
class Mapping:
    va: int
    pa: int
    level: int
    attrindx: int
    ap: str
    sh: str
    af: bool
    ng: bool
    pxn: bool
    uxn: bool
    contig: bool
    dbm: bool
    space: int = 0          # the TTBR0 table set (address space) it is in: 0 the case's first


@dataclass(frozen=True)
class TableAttrs:
    va: int
    level: int
    aptable: str
    pxntable: bool
    uxntable: bool = False
    space: int = 0


@dataclass(frozen=True)
class Raw:
    va: int
    level: int
    desc: int
    space: int = 0


@dataclass(frozen=True)
class Expect:
    """What a step must do.  kind: ok, value, fault, par, one_of, or a self-test's end
    (unexpected_exception, nested_exception, hang)."""
    kind: str
    value: int = None
    fault: str = None       # esr.FAULT_CLASSES
    level: int = None
    far: int = None
    wnr: bool = None
    s1ptw: bool = False
    pa: int = None          # AT success: PAR_EL1.PA, ATTR, SH
    attr: int = None
    sh: str = None
    choices: tuple = ()     # one_of: the outcomes the architecture permits
    mask: int = None        # desc: the descriptor bits checked (value holds them)
    stage: int = 1          # a fault: the stage that faults (2: taken to EL2, or PAR_EL1.S = 1)
    ipa: int = None         # a stage 2 fault: the faulting IPA (HPFAR_EL2, where the architecture makes it valid)


@dataclass(frozen=True)
class S2Mapping:
    """A stage 2 block or page: IPA to PA, with its stage 2 attributes."""
    ipa: int
    pa: int
    level: int
    memattr: int            # MemAttr[3:0]
    s2ap: str               # S2AP_NAMES
    sh: str
    xn: int                 # XN[1:0]
    af: bool
    contig: bool
    dbm: bool


@dataclass(frozen=True)
class Stage2:
    """Stage 2 translation of EL1&0 (VTCR_EL2, VTTBR_EL2, HCR_EL2 fields) and its mappings."""
    tg: int                 # granule shift
    t0sz: int
    sl0: int                # VTCR_EL2.SL0 as written
    ps_bits: int            # VTCR_EL2.PS, as a PA size
    fwb: bool
    ha: bool
    hd: bool
    vs: bool                # 16-bit VMID
    vmid: int
    maps: tuple             # S2Mapping
    raws: tuple             # Raw (va: the IPA)
    ds: bool = False        # VTCR_EL2.DS (FEAT_LPA2): 52-bit IPAs and descriptors with 4K and 16K
    sl2: bool = False       # VTCR_EL2.SL2 (FEAT_LPA2, 4K, DS): with SL0 = 0 the walk starts at level -1

    @property
    def ips_bits(self):
        return 64 - self.t0sz

    @property
    def oa52(self):
        """Whether the descriptors hold 52-bit addresses: DS, or the 64K granule with a 52-bit PS (FEAT_LPA)."""
        return self.ds or self.tg == 16 and self.ps_bits == 52

    @property
    def ps(self):
        return geometry.IPS_ENCODING[self.ps_bits]

    @property
    def start_level(self):
        return geometry.s2_start_level(self.tg, self.sl0, self.sl2)


@dataclass(frozen=True)
class Step:
    """One step.  For maintenance steps (MAINT_OPS): level and mapping (map,
    protect: the new attributes; protect keeps the output address) or value
    (write_desc: the descriptor; link: the VA whose next-level table the table
    descriptor points at; set_*: the bits under mask); asid for TLBI and TTBR writes."""
    op: str
    va: int
    value: int
    expect: Expect
    el: int = 1             # where the step runs: 0 (the kernel's EL0 code) or 1 (the kernel's EL: EL2 with `el2`)
    level: int = None
    mapping: object = None  # Mapping
    mask: int = 0
    asid: int = 0
    fixup: str = None       # FIXUP_KINDS: the retry of the access before it, after this fix-up
    tlbi_range: object = None   # TlbiRange: the range fields of a RANGE_TLBI step
    space: int = 0          # set_ttbr0 and descriptor steps: the TTBR0 table set they use


@dataclass(frozen=True)
class TlbiRange:
    """A TLBI by range's fields besides the VA (BaseADDR) and ASID: (num + 1) << (5 * scale + 1)
    granules of tg (a granule shift; None: the granule of the tables va selects), the TTL
    level hint ttl (0: none)."""
    num: int = 0
    scale: int = 0
    ttl: int = 0
    tg: int = None


@dataclass(frozen=True)
class Xfail:
    qemu: str               # version range, e.g. "<8.1" or ">=7.0,<8.1"
    reason: str


@dataclass(frozen=True)
class Case:
    path: Path
    family: str             # file stem
    feature: str            # what the file covers, for the README's table
    name: str               # case name, with [params] for a matrix instance
    summary: str
    regime: Regime
    maps: tuple
    raws: tuple
    tables: tuple           # TableAttrs
    steps: tuple
    requires: tuple = ()
    xfail: Xfail = None
    params: dict = field(default_factory=dict, compare=False)
    timeout: float = None   # seconds a run of it may take; None: the harness's --case-timeout
    stage2: Stage2 = None   # stage 2 translation for EL1&0 (the kernel keeps EL2: QEMU virtualization=on)
    el2: str = None         # EL2_MODES: the steps run at EL2 in that regime (None: at EL1 or EL0)

    @property
    def boot(self):
        """The boot mode the case runs in (harness.qemu.BOOT_MODES): its boot's cases all share it."""
        if self.el2 == "vhe":
            return "vhe"
        return "stage2" if self.stage2 is not None or self.el2 is not None else "el1"

    @property
    def needs_el2(self):
        """Whether the case needs EL2 (QEMU's virtualization=on, the kernel started at EL2)."""
        return self.boot != "el1"

    @property
    def spaces(self):
        """How many TTBR0 table sets (address spaces) the case has: 1 + the highest `space` it names."""
        return 1 + max((x.space for x in (*self.maps, *self.tables, *self.raws, *self.steps)), default=0)

    @property
    def id(self):
        """The ID the kernel knows the case by: unique across files."""
        return f"{self.family}.{self.name}"


# ---------------------------------------------------------------- file level

CASE_KEYS = {"summary", "regime", "matrix", "map", "tables", "raw", "steps", "requires", "xfail", "timeout",
             "stage2", "s2map", "s2raw", "el2"}
INSTANCE_KEYS = ("requires", "xfail")


def load_dir(directory):
    """All cases of every *.toml in a directory, in file order; IDs are unique."""
    cases, seen = [], {}
    for path in sorted(Path(directory).glob("*.toml")):
        for case in load_file(path):
            if case.id in seen:
                raise CaseError(path, f"duplicate case ID {case.id!r} (also in {seen[case.id]})")
            seen[case.id] = path
            cases.append(case)
    return cases


def load_file(path):
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise CaseError(path, f"not valid TOML: {e}") from None
    _no_unknown(path, None, None, doc, {"feature", "defaults", "case", "bug"})
    feature = doc.get("feature")
    if not isinstance(feature, str) or not feature.strip():
        raise CaseError(path, "every case file names the feature it covers, for the README's table",
                        None, "feature")
    bugs = doc.get("bug", {})
    for bug, table in bugs.items():
        _xfail(path, None, f"bug.{bug}", table)
    defaults = doc.get("defaults", {})
    _no_unknown(path, None, "defaults", defaults, {"regime"})
    cases = doc.get("case")
    if not isinstance(cases, dict) or not cases:
        raise CaseError(path, "no [case.<name>] tables")
    out = []
    for name, body in cases.items():
        if not isinstance(body, dict):
            raise CaseError(path, "a case must be a table", name)
        if not re.match(r"^[A-Za-z0-9_]+$", name):
            raise CaseError(path, "case names are letters, digits and _", name)
        _no_unknown(path, name, None, body, CASE_KEYS)
        for params, label in _expand_matrix(path, name, body.get("matrix")):
            instance = f"{name}[{label}]" if label else name
            # A matrix value may carry case fields for its instances alone (a known QEMU bug of some).
            own = {k: params.pop(k) for k in INSTANCE_KEYS if k in params}
            try:
                raw_body = substitute({**{k: v for k, v in body.items() if k != "matrix"}, **own}, params)
            except ExprError as e:
                raise CaseError(path, str(e), instance) from None
            out.append(_build_case(path, instance, raw_body, defaults, params, bugs, feature))
    return out


def _expand_matrix(path, name, matrix):
    """Cartesian product of the axes.  An axis value is a scalar (named by its
    text) or a table of parameters (named by its `name` key)."""
    if matrix is None:
        return [({}, "")]
    if not isinstance(matrix, dict) or not matrix:
        raise CaseError(path, "must be a table of axis = [values]", name, "matrix")
    axes = []
    for axis, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise CaseError(path, "an axis is a non-empty list", name, f"matrix.{axis}")
        choices = []
        for v in values:
            if isinstance(v, dict):
                if "name" not in v:
                    raise CaseError(path, "a table value needs a `name`", name, f"matrix.{axis}")
                params = {k: x for k, x in v.items() if k != "name"}
                params.setdefault(axis, v["name"])
                choices.append((params, str(v["name"])))
            else:
                choices.append(({axis: v}, str(v).lower() if isinstance(v, bool) else str(v)))
        axes.append(choices)
    expanded = []
    for combo in itertools.product(*axes):
        params = {}
        for p, _ in combo:
            params.update(p)
        label = "-".join(lbl for _, lbl in combo)
        if not ID_CHARS.match(label):
            raise CaseError(path, f"instance label {label!r} has characters other than letters, digits, _ . -", name, "matrix")
        expanded.append((params, label))
    return expanded


def _no_unknown(path, case, where, table, allowed):
    if not isinstance(table, dict):
        raise CaseError(path, "must be a table", case, where)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        prefix = f"{where}." if where else ""
        raise CaseError(path, f"unknown key; allowed: {', '.join(sorted(allowed))}", case,
                        prefix + unknown[0])


# ---------------------------------------------------------------- one case

class _Fields:
    """Typed access to one table of a case, naming the field in every error."""

    def __init__(self, path, case, where, table, allowed, names):
        _no_unknown(path, case, where, table, allowed)
        self.path, self.case, self.where, self.table, self.names = path, case, where, table, names

    def error(self, key, message):
        return CaseError(self.path, message, self.case, f"{self.where}.{key}" if self.where else key)

    def _get(self, key, default, required):
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        if isinstance(value, str):
            try:
                value = evaluate(value, self.names)
            except ExprError as e:
                raise self.error(key, str(e)) from None
        return value

    def int(self, key, default=None, required=False):
        value = self._get(key, default, required)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.error(key, f"must be an integer, not {value!r}")
        return value

    def bool(self, key, default=False):
        value = self._get(key, default, False)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {value!r}")
        return value

    def choice(self, key, choices, default=None, required=False):
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of: {', '.join(map(str, choices))}")
        return value

    def text(self, key, required=False):
        value = self.table.get(key)
        if value is None and required:
            raise self.error(key, "is required")
        if value is not None and not isinstance(value, str):
            raise self.error(key, "must be a string")
        return value


REGIME_KEYS = {"granule", "granule1", "t0sz", "t1sz", "ips", "epd0", "epd1", "tbi0", "tbi1", "ds", "ha", "hd", "sctlr_a",
               "ttbr1", "mair", "wxn", "span", "epan", "pan", "hpd0", "hpd1", "e0pd0", "e0pd1",
               "asid16", "a1"}

# Regime keys and ops the CPU must have a feature for: a case using one lists it in `requires`.
REGIME_FEATURES = {"span": "FEAT_PAN", "pan": "FEAT_PAN", "epan": "FEAT_PAN3", "hpd0": "FEAT_HPDS",
                   "hpd1": "FEAT_HPDS", "e0pd0": "FEAT_E0PD", "e0pd1": "FEAT_E0PD", "asid16": "asid16"}
OP_FEATURES = {"at_s1e1rp": "FEAT_PAN2", "at_s1e1wp": "FEAT_PAN2", **{op: "FEAT_TLBIRANGE" for op in RANGE_TLBI + S2_RANGE_TLBI}}
# [stage2] keys likewise (any of the features listed): VTCR_EL2.HA/HD and HCR_EL2.FWB are RES0 without them.
STAGE2_FEATURES = {"ha": ("FEAT_HAFDBS", "FEAT_HAFDBS_DIRTY"), "hd": ("FEAT_HAFDBS_DIRTY",), "fwb": ("FEAT_S2FWB",),
                   "ds": ("FEAT_LPA2",)}
# A stage 2 start level valid only from an implemented PA size on (AArch64.S2InvalidSL): the
# features that promise it, so that no CPU with less runs the case (its every access would fault).
PA_AT_LEAST = {42: ("pa42", "pa44", "pa48", "parange44", "parange48", "parange52", "FEAT_LPA"),
               44: ("pa44", "pa48", "parange44", "parange48", "parange52", "FEAT_LPA"),
               52: ("parange52", "FEAT_LPA")}


def _build_case(path, name, body, defaults, params, bugs, feature):
    summary = body.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise CaseError(path, "every case needs a summary saying which rule it checks", name, "summary")

    regime = _regime(path, name, {**defaults.get("regime", {}), **body.get("regime", {})}, params)
    s2_table = body.get("stage2")
    if s2_table is None and ("s2map" in body or "s2raw" in body):
        raise CaseError(path, "stage 2 mappings need a [stage2] table", name, "s2map" if "s2map" in body else "s2raw")
    s2_geometry = _stage2_geometry(path, name, s2_table, params) if s2_table is not None else None
    frames = _frames(path, name, body.get("map", []), regime, params, body.get("steps", []),
                     s2_maps=body.get("s2map", []) if s2_geometry else [], s2_geometry=s2_geometry)
    names = {**params, **frames}
    names.update({k: frames[v] for k, v in params.items() if isinstance(v, str) and v in frames})
    maps = tuple(_mapping(path, name, i, m, names) for i, m in enumerate(_list(path, name, body, "map")))
    tables = tuple(_table_attrs(path, name, i, t, names) for i, t in enumerate(_list(path, name, body, "tables")))
    raws = tuple(_raw(path, name, i, r, names) for i, r in enumerate(_list(path, name, body, "raw")))
    steps = tuple(step for i, s in enumerate(_list(path, name, body, "steps")) for step in _step(path, name, i, s, names))
    if not steps:
        raise CaseError(path, "a case needs at least one step", name, "steps")
    stage2 = None
    if s2_geometry is not None:
        stage2 = _stage2(path, name, s2_table, s2_geometry, body, names, steps)
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
        if stage2 is not None and step.op == "link":
            raise CaseError(path, "link under stage 2 is not supported: the TLB model holds leaf entries only "
                            "under stage 2, not the walk-cache entries a changed table descriptor needs",
                            name, f"steps[{i}]")
        if stage2 is None and step.op in STAGE2_MAINT_OPS:
            raise CaseError(path, f"{step.op} changes stage 2 or is EL2's: it needs a [stage2] table", name,
                            f"steps[{i}]")
    if stage2 is not None:
        _check_vmid_synchronized(path, name, steps)

    el2 = body.get("el2")
    if el2 == "vhe":
        _check_el20(path, name, stage2)
    elif el2 is not None:
        if el2 not in EL2_MODES:
            raise CaseError(path, f"{el2!r} is not one of: {', '.join(EL2_MODES)}", name, "el2")
        _check_el2(path, name, body, regime, stage2, steps)
    else:
        for i, step in enumerate(steps):
            if step.op in AT_S1E2_OPS or step.op in TLBI_EL2_OPS:
                raise CaseError(path, f"{step.op} runs at EL2: the case needs el2 = \"nvhe\" or \"vhe\"", name,
                                f"steps[{i}]")

    requires = body.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise CaseError(path, "must be a list of feature names", name, "requires")
    for r in requires:
        if r.lstrip("!") not in FEATURES:
            raise CaseError(path, f"unknown feature {r!r}; known: {', '.join(sorted(FEATURES))}", name, "requires")
    _check_feature_use(path, name, regime, steps, requires)
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

    xfail = body.get("xfail")
    if isinstance(xfail, str):
        if xfail not in bugs:
            raise CaseError(path, f"no [bug.{xfail}] table in this file", name, "xfail")
        xfail = bugs[xfail]
    if xfail is not None:
        xfail = _xfail(path, name, "xfail", xfail)

    timeout = body.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise CaseError(path, f"must be a number of seconds above 0, not {timeout!r}", name, "timeout")

    case = Case(path, path.stem, feature, name, summary, regime, maps, raws, tables, steps, tuple(requires), xfail, params,
                timeout=timeout, stage2=stage2, el2=el2)
    _check_layout(case)
    if any(s.level is not None for s in steps):
        # The slots of descriptor steps, reached as the kernel reaches them (pgt_slot), from the
        # tables the steps before them leave.  Imported here: harness.declared builds on this module.
        from harness import declared
        try:
            declared.step_slots(case)
        except declared.LayoutError as e:
            raise CaseError(path, f"a descriptor step's slot cannot be reached: {e}", name, "steps") from None
    return case


# What the EL2 regime (HCR_EL2.E2H = 0) does not have: a second VA range, EL0, ASIDs, PAN.
EL2_REGIME_KEYS = {"granule1", "t1sz", "epd0", "epd1", "tbi1", "ttbr1", "span", "epan", "pan", "hpd1", "e0pd0", "e0pd1",
                   "asid16", "a1"}
# Steps the EL2 regime has no use for: EL1&0's own AT (S1E1*, S1E0*: they translate another regime),
# unprivileged loads and stores, TLBI by ASID, a TTBR1.
EL2_REFUSED_OPS = {*AT_OPS, *AT_S12_OPS, "ldtr64", "sttr64", "set_ttbr1",
                   *(op for op, (_, takes_asid) in TLBI_OPS.items() if takes_asid)}


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


def _xfail(path, name, where, table):
    """A known QEMU bug: the QEMU versions that have it and what it breaks."""
    f = _Fields(path, name, where, table, {"qemu", "reason"}, {})
    xfail = Xfail(f.text("qemu", required=True), f.text("reason", required=True))
    try:
        parse_range(xfail.qemu)
    except ValueError as e:
        raise f.error("qemu", str(e)) from None
    return xfail


def _list(path, name, body, key):
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise CaseError(path, "must be a list of tables", name, key)
    return value


def _regime(path, name, table, params):
    f = _Fields(path, name, "regime", table, REGIME_KEYS, params)
    granule = f.choice("granule", geometry.GRANULES, "4K")
    granule1 = f.choice("granule1", geometry.GRANULES, granule)
    ips_bits = f.int("ips", 48)
    if ips_bits not in geometry.IPS_ENCODING:
        raise f.error("ips", f"PA size {ips_bits} is not one of {sorted(geometry.IPS_ENCODING)}")
    mair = {idx: attr for idx, attr in MEMORY_TYPES.values()}
    overrides = table.get("mair", {})
    if not isinstance(overrides, dict):
        raise f.error("mair", "must be a table of index = attribute byte")
    for idx, attr in overrides.items():
        if not idx.isdigit() or int(idx) > 7 or not isinstance(attr, int) or not 0 <= attr <= 0xFF:
            raise f.error(f"mair.{idx}", "entries are index (0-7) = attribute byte (0x00-0xff)")
        if int(idx) in (LAYOUT["KERNEL_ATTRIDX_DEVICE"], LAYOUT["KERNEL_ATTRIDX_NORMAL"]):
            raise f.error(f"mair.{idx}", "indices 0 and 1 are the kernel's own mappings' (kernel/layout.h)")
        mair[int(idx)] = attr
    regime = Regime(
        tg0=geometry.GRANULES[granule], tg1=geometry.GRANULES[granule1],
        t0sz=f.int("t0sz", 16), t1sz=f.int("t1sz", 16), ips_bits=ips_bits,
        epd0=f.bool("epd0"), epd1=f.bool("epd1"), tbi0=f.bool("tbi0"), tbi1=f.bool("tbi1"),
        ds=f.bool("ds"), ha=f.bool("ha"), hd=f.bool("hd"), sctlr_a=f.bool("sctlr_a"),
        asid16=f.bool("asid16"), a1=f.bool("a1"), ttbr1=f.int("ttbr1"),
        mair=sum(attr << (8 * idx) for idx, attr in mair.items()),
        wxn=f.bool("wxn"), span=f.bool("span", True), epan=f.bool("epan"), pan=f.bool("pan"),
        hpd0=f.bool("hpd0"), hpd1=f.bool("hpd1"), e0pd0=f.bool("e0pd0"), e0pd1=f.bool("e0pd1"),
    )
    for key in ("t0sz", "t1sz"):
        tsz = getattr(regime, key)
        # Below 16 (VAs above 48 bits) only FEAT_LPA2 (DS) or FEAT_LVA (64K) go.
        if not 12 <= tsz <= 48:
            raise f.error(key, f"{tsz} is outside 12..48")
    return regime


def range_tg(regime, step, stage2=None):
    """The granule (shift) a TLBI by range names: its `tg`, else that of the tables its VA
    selects (of stage2, the case's stage 2, for a range of IPAs)."""
    if step.tlbi_range.tg is not None:
        return step.tlbi_range.tg
    return stage2.tg if step.op in S2_RANGE_TLBI else _table_for(regime, step.va)[0]


def range_unit(regime, step, stage2=None):
    """The VA (IPA) bit BaseADDR[0] holds (ASL TLBIRange): the granule's lowest, or 16 for
    52-bit addresses (HasLargeAddress: the 64K granule, or TCR_EL1.DS = 1; VTCR_EL2.DS for
    IPAs)."""
    tg = range_tg(regime, step, stage2)
    return 16 if tg == 16 or (stage2.ds if step.op in S2_RANGE_TLBI else regime.ds) else tg


def _table_for(regime, va):
    """(granule shift, VA bits) of the TTBR that VA bit 55 selects."""
    if va >> 55 & 1:
        return regime.tg1, 64 - regime.t1sz
    return regime.tg0, 64 - regime.t0sz


def _frames(path, name, maps, regime, params, steps=(), s2_maps=(), s2_geometry=None):
    """Place the named frames that mappings (of stage 1, and of stage 2) point at: in
    the frame pool, or above the kernel's window when too big, each aligned to the
    largest mapping of it (a `map` step's too: a frame its `map` entries name may be
    mapped bigger later)."""
    sizes = {}
    entries = [("map", "va", i, m, None) for i, m in enumerate(maps if isinstance(maps, list) else [])]
    mapped = {m.get("to") for _, _, _, m, _ in entries if isinstance(m, dict)}
    entries += [("steps", "va", i, s, None) for i, s in enumerate(steps if isinstance(steps, list) else [])
                if isinstance(s, dict) and s.get("do") == "map" and s.get("to") in mapped]
    entries += [("s2map", "ipa", i, m, s2_geometry) for i, m in enumerate(s2_maps if isinstance(s2_maps, list) else [])]
    for where, address, i, m, stage2 in entries:
        to = m.get("to") if isinstance(m, dict) else None
        if isinstance(to, str) and FRAME_NAME.match(to) and to not in params:
            values = {}
            for key in (address, "level"):
                try:
                    values[key] = evaluate(m[key], params) if isinstance(m.get(key), str) else m.get(key)
                except ExprError as e:
                    raise CaseError(path, str(e), name, f"{where}[{i}].{key}") from None
            va, level = values[address], values["level"]
            if not isinstance(va, int) or not isinstance(level, int) or not -1 <= level <= 3:
                continue  # _mapping reports it
            granule_shift, va_bits = _table_for(regime, va) if stage2 is None else (stage2[0], 64 - stage2[1])
            first = geometry.start_level(granule_shift, va_bits) if stage2 is None else stage2[3]
            if not first <= level <= 3:
                sizes.setdefault(to, 1 << granule_shift)    # placed all the same: _check_layout reports the level
                continue
            sizes[to] = max(sizes.get(to, 0), geometry.block_size(granule_shift, level))
    frames, pool_next = {}, LAYOUT["FRAME_POOL_BASE"]
    big_next = LAYOUT["BIG_FRAME_BASE"]
    ram_end = LAYOUT["RAM_BASE"] + LAYOUT["RAM_SIZE"]
    for frame, size in sizes.items():
        start = -(-pool_next // size) * size
        if start + size <= LAYOUT["FRAME_POOL_BASE"] + LAYOUT["FRAME_POOL_SIZE"]:
            frames[frame], pool_next = start, start + size
            continue
        start = -(-big_next // size) * size
        if start + size > ram_end:
            raise CaseError(path, f"frame {frame!r} ({size:#x} bytes) does not fit in RAM; "
                            "map it to an explicit physical address instead", name, "map")
        frames[frame], big_next = start, start + size
    return frames


STAGE2_KEYS = {"granule", "t0sz", "sl0", "sl2", "ps", "ds", "fwb", "ha", "hd", "vs", "vmid"}
S2MAP_KEYS = {"ipa", "to", "level", "memattr", "s2ap", "sh", "xn", "af", "contig", "dbm"}


def _stage2_geometry(path, name, table, params):
    """(granule shift, T0SZ, SL0, start level) of a [stage2] table, checked: the kernel
    runs under this stage 2, so its window must be in the IPA range (identity-mapped,
    kernel/stage2.c) and the start level one whose tables the walk can use."""
    f = _Fields(path, name, "stage2", table, STAGE2_KEYS, params)
    tg = geometry.GRANULES[f.choice("granule", geometry.GRANULES, "4K")]
    ds, sl2 = f.bool("ds"), f.bool("sl2")
    if ds and tg == 16:
        raise f.error("ds", "VTCR_EL2.DS is for the 4K and 16K granules; 64K has 52 bits with ps = 52 (FEAT_LPA)")
    # AArch64.S2MinTxSZ: a 52-bit IPA with DS, or with the 64K granule and a 52-bit PS.
    min_t0sz = 12 if ds or tg == 16 and f.int("ps", 48) == 52 else 16
    t0sz = f.int("t0sz", 24)
    window_end = LAYOUT["KERNEL_WINDOW_BASE"] + LAYOUT["KERNEL_WINDOW_SIZE"]
    if not min_t0sz <= t0sz or window_end > 1 << (64 - t0sz):
        raise f.error("t0sz", f"{t0sz} is outside {min_t0sz}..{64 - window_end.bit_length()}: the IPA range must "
                      f"hold the kernel's window (up to {window_end - 1:#x}), mapped at IPA = PA (12 needs ds, or "
                      "the 64K granule with ps = 52)")
    ipa_bits = 64 - t0sz
    sl0 = f.int("sl0", geometry.s2_sl0(tg, geometry.s2_default_start_level(tg, ipa_bits)))
    if not (0 <= sl0 <= 2 or sl0 == 3 and tg == 14 and ds):
        raise f.error("sl0", f"{sl0} is not 0, 1 or 2 (3 is level 0 with 16K and ds; FEAT_TTST's level 3 with "
                      "4K is not supported here)")
    if sl2 and not (tg == 12 and ds and sl0 == 0):
        raise f.error("sl2", "VTCR_EL2.SL2 starts the walk at level -1 with the 4K granule, ds and sl0 = 0 only")
    level = geometry.s2_start_level(tg, sl0, sl2)
    bits = ipa_bits - geometry.level_shift(tg, level)
    if not 1 <= bits <= tg - 3 + 4:
        raise f.error("sl0", f"start level {level} with a {ipa_bits}-bit IPA resolves {bits} bits, not 1..{tg + 1}"
                      " (at most 16 concatenated tables): every access, the kernel's own, would fault")
    return tg, t0sz, sl0, level


def _stage2(path, name, table, s2_geometry, body, names, steps):
    tg, t0sz, sl0, level = s2_geometry
    f = _Fields(path, name, "stage2", table, STAGE2_KEYS, names)
    ps_bits = f.int("ps", 48)
    if ps_bits not in geometry.IPS_ENCODING:
        raise f.error("ps", f"PA size {ps_bits} is not one of {sorted(geometry.IPS_ENCODING)}")
    vs = f.bool("vs")
    vmid = f.int("vmid", 0)
    if not 0 <= vmid < 1 << (16 if vs else 8):
        raise f.error("vmid", f"{vmid:#x} does not fit in a {16 if vs else 8}-bit VMID")
    maps = tuple(_s2_mapping(path, name, f"s2map[{i}]", m, names)
                 for i, m in enumerate(_list(path, name, body, "s2map")))
    raws = []
    for i, r in enumerate(_list(path, name, body, "s2raw")):
        g = _Fields(path, name, f"s2raw[{i}]", r, {"ipa", "level", "desc"}, names)
        raws.append(Raw(va=g.int("ipa", required=True), level=g.int("level", required=True),
                        desc=g.int("desc", required=True)))
    stage2 = Stage2(tg=tg, t0sz=t0sz, sl0=sl0, ps_bits=ps_bits, fwb=f.bool("fwb"), ha=f.bool("ha"), hd=f.bool("hd"),
                    vs=vs, vmid=vmid, maps=maps, raws=tuple(raws), ds=f.bool("ds"), sl2=f.bool("sl2"))
    _check_stage2_layout(path, name, stage2, steps)
    return stage2


def _s2_mapping(path, name, where, table, names):
    f = _Fields(path, name, where, table, S2MAP_KEYS, names)
    ipa, level = f.int("ipa", required=True), f.int("level", required=True)
    to = table.get("to")
    pa = names[to] if isinstance(to, str) and to in names and FRAME_NAME.match(to) else f.int("to", required=True)
    memattr, xn = f.int("memattr", 0xF), f.int("xn", 0)
    if not 0 <= memattr <= 0xF:
        raise f.error("memattr", "MemAttr[3:0] is 0..15")
    if not 0 <= xn <= 3:
        raise f.error("xn", "XN[1:0] is 0..3")
    return S2Mapping(ipa=ipa, pa=pa, level=level, memattr=memattr, s2ap=f.choice("s2ap", S2AP_NAMES, "rw"),
                     sh=f.choice("sh", SH_NAMES, "inner"), xn=xn, af=f.bool("af", True),
                     contig=f.bool("contig"), dbm=f.bool("dbm"))


def kernel_ipa_ranges():
    """IPA ranges the kernel maps at stage 2 for itself (kernel/stage2.c): its window and UART, at IPA = PA."""
    return [(LAYOUT["KERNEL_WINDOW_BASE"], LAYOUT["KERNEL_WINDOW_BASE"] + LAYOUT["KERNEL_WINDOW_SIZE"]),
            (LAYOUT["UART_BASE"], LAYOUT["UART_BASE"] + 0x1000)]


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


def _check_stage2_layout(path, name, s2, steps=()):
    """The stage 2 mappings, raw descriptors and descriptor steps (a case with a stage 2 has no
    fix-ups, so a step's index is its TOML index): at a level of this stage 2, in its IPA range,
    aligned (a mapping with its PA), and clear of the kernel's own stage 2 mappings."""
    ipa_bits = 64 - s2.t0sz
    slots = [(f"s2map[{i}]", m.ipa, m.level, m.pa) for i, m in enumerate(s2.maps)]
    slots += [(f"s2raw[{i}]", w.va, w.level, None) for i, w in enumerate(s2.raws)]
    slots += [(f"steps[{n}]", s.va, s.level, s.mapping.pa if s.op == "s2_map" else None)
              for n, s in enumerate(steps) if s.level is not None and s.op in STAGE2_MAINT_OPS]
    for where, ipa, level, pa in slots:
        if not s2.start_level <= level <= 3:
            raise CaseError(path, f"level {level} is outside this stage 2's levels {s2.start_level}..3",
                            name, f"{where}.level")
        if ipa >> ipa_bits:
            raise CaseError(path, f"ipa {ipa:#x} is outside the {ipa_bits}-bit IPA range", name, f"{where}.ipa")
        size = geometry.block_size(s2.tg, level)
        if pa is not None and pa >> (52 if s2.oa52 else 48):
            raise CaseError(path, f"pa {pa:#x} does not fit in the {52 if s2.oa52 else 48} bits this stage 2's "
                            "descriptors hold (52 needs ds, or the 64K granule with ps = 52)", name, f"{where}.to")
        if pa is not None and (ipa | pa) % size:
            raise CaseError(path, f"ipa {ipa:#x} and pa {pa:#x} must be aligned to the {size:#x}-byte size "
                            f"of a level {level} {'page' if level == 3 else 'block'}", name, f"{where}.ipa")
        lo = ipa - ipa % size
        for start, end in kernel_ipa_ranges():
            if lo < end and start < lo + size:
                raise CaseError(path, f"the stage 2 level {level} descriptor for {ipa:#x} collides with the "
                                f"kernel's own stage 2 mapping {start:#x}-{end - 1:#x}", name, f"{where}.ipa")


MAP_KEYS = {"va", "to", "level", "mem", "attrindx", "ap", "sh", "af", "ng", "pxn", "uxn", "contig", "dbm", "space"}
# TTBR0 table sets a case may have (kernel/case.h MAX_SPACES): its address spaces.
MAX_SPACES = read_constants(kernel_header("case.h"))["MAX_SPACES"]


def _mapping(path, name, i, table, names, where=None):
    f = _Fields(path, name, where or f"map[{i}]", table, MAP_KEYS | ({"do", "expect"} if where else set()), names)
    if "mem" in table and "attrindx" in table:
        raise f.error("attrindx", "give either mem (a memory type name) or attrindx, not both")
    attrindx = f.int("attrindx") if "attrindx" in table else \
        MEMORY_TYPES[f.choice("mem", MEMORY_TYPES, "normal")][0]
    if not 0 <= attrindx <= 7:
        raise f.error("attrindx", "must be 0..7")
    # va and level first: a frame is placed only for a valid level, so a bad level is the error to report.
    va, level = f.int("va", required=True), f.int("level", required=True)
    to = table.get("to")
    pa = names[to] if isinstance(to, str) and to in names and FRAME_NAME.match(to) else f.int("to", required=True)
    return Mapping(
        va=va, pa=pa, level=level,
        attrindx=attrindx, ap=f.choice("ap", AP_NAMES, "rw_el1"), sh=f.choice("sh", SH_NAMES, "inner"),
        af=f.bool("af", True), ng=f.bool("ng"), pxn=f.bool("pxn"), uxn=f.bool("uxn"), contig=f.bool("contig"),
        dbm=f.bool("dbm"), space=_space(f),
    )


def _space(f):
    """The `space` of a map, raw, tables entry or step: which TTBR0 table set (address space) it is in."""
    space = f.int("space", 0)
    if not 0 <= space < MAX_SPACES:
        raise f.error("space", f"{space} is not a table set 0..{MAX_SPACES - 1} (kernel/case.h MAX_SPACES)")
    return space


def _table_attrs(path, name, i, table, names):
    f = _Fields(path, name, f"tables[{i}]", table, {"va", "level", "aptable", "pxntable", "uxntable", "space"}, names)
    t = TableAttrs(va=f.int("va", required=True), level=f.int("level", required=True),
                   aptable=f.choice("aptable", APTABLE_NAMES, "none"), pxntable=f.bool("pxntable"),
                   uxntable=f.bool("uxntable"), space=_space(f))
    if t.level == 3:
        raise f.error("level", "level 3 holds pages, not table descriptors")
    return t


def _raw(path, name, i, table, names):
    f = _Fields(path, name, f"raw[{i}]", table, {"va", "level", "desc", "space"}, names)
    return Raw(va=f.int("va", required=True), level=f.int("level", required=True),
               desc=f.int("desc", required=True), space=_space(f))


STEP_KEYS = {"do", "va", "value", "expect", "el"}
FAULT_KEYS = {"fault", "level", "far", "wnr", "s1ptw", "stage", "ipa"}
PAR_KEYS = {"pa", "attr", "sh"}


MAINT_KEYS = {"map": MAP_KEYS, "unmap": {"va", "level", "space"}, "protect": MAP_KEYS - {"to"},
              "write_desc": {"va", "level", "desc", "space"}, "link": {"va", "level", "table_of", "space"},
              "read_desc": {"va", "level", "space"}, "set_ttbr0": {"asid", "space"},
              "set_ttbr1": {"asid"}, **{op: {"value", "mask"} for op in SYSREG_WRITES},
              **{op: ({"va"} if takes_va else set()) | ({"asid"} if takes_asid or op in TLBI_EL20_ASID_OPS else set())
                 | ({"num", "scale", "ttl", "tg"} if op in RANGE_TLBI else set())
                 for op, (takes_va, takes_asid) in TLBI_OPS.items()},
              "s2_map": S2MAP_KEYS, "s2_unmap": {"ipa", "level"}, "s2_protect": S2MAP_KEYS - {"to"},
              "s2_write_desc": {"ipa", "level", "desc"}, "s2_read_desc": {"ipa", "level"}, "set_vmid": {"vmid"},
              **{op: ({"ipa"} if takes_ipa else set()) | ({"num", "scale", "ttl", "tg"} if op in S2_RANGE_TLBI else set())
                 for op, takes_ipa in S2_TLBI_OPS.items()}}
# What an s2_read_desc may check: the bits stage 2 descriptors share with stage 1's (pgtable-hwdef.h).
S2_DESC_EXPECT_KEYS = {"desc", "valid", "af", "oa", "one_of"}
# The descriptor fields a read_desc may check by name (pgtable-hwdef.h).
DESC_FIELDS = {"valid": "DESC_VALID", "af": "PTE_AF", "ng": "PTE_NG", "dbm": "PTE_DBM", "pxn": "PTE_PXN",
               "uxn": "PTE_UXN"}


def _maint_step(path, name, i, op, table, names):
    where = f"steps[{i}]"
    keys = MAINT_KEYS.get(op, set())
    f = _Fields(path, name, where, table, {"do", "expect"} | keys, names)
    level = f.int("level", required=True) if "level" in keys else None
    # A stage 2 step names its slot or its TLBI's address by IPA, held where a stage 1 step holds its VA.
    va = f.int("va", required=True) if "va" in keys else f.int("ipa", required=True) if "ipa" in keys else 0
    asid = f.int("asid", 0)
    if not 0 <= asid < 1 << 16:
        raise f.error("asid", f"{asid:#x} is not a 16-bit ASID")
    mapping = value = mask = None
    if op in ("s2_map", "s2_protect"):
        to = table.get("to")
        if op == "s2_map" and isinstance(to, str) and FRAME_NAME.match(to) and to not in names:
            raise f.error("to", f"frame {to!r} is not one of the case's frames: name it in a `map` or `s2map` entry")
        fields = {k: v for k, v in table.items() if k not in ("do", "expect")}
        mapping = _s2_mapping(path, name, where, {**fields, "to": 0} if op == "s2_protect" else fields, names)
    elif op == "s2_write_desc":
        value = f.int("desc", required=True)
    elif op == "set_vmid":
        value = f.int("vmid", required=True)
        if not 0 <= value < 1 << 16:
            raise f.error("vmid", f"{value:#x} is not a 16-bit VMID")
    elif op in ("map", "protect"):
        to = table.get("to")
        if op == "map" and isinstance(to, str) and FRAME_NAME.match(to) and to not in names:
            raise f.error("to", f"frame {to!r} is not one of the case's frames: name it in a `map` entry")
        mapping = _mapping(path, name, i, {**table, "to": table.get("to", 0)}
                           if op == "protect" else table, names, where)
    elif op == "write_desc":
        value = f.int("desc", required=True)
    elif op == "link":
        value = f.int("table_of", required=True)
        if level > 2:
            raise f.error("level", "a table descriptor is at level 0, 1 or 2 (level 3 holds pages)")
        if value >> 55 & 1 != va >> 55 & 1:
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
                tlbi_range=tlbi_range, space=_space(f) if "space" in keys else 0)


def _maint_expect(path, name, where, spec):
    if spec != "ok":
        raise CaseError(path, "this step only completes: leave `expect` out or write \"ok\"", name, where)
    return Expect("ok")


def _desc_expect(path, name, where, va, spec, names, step_fields):
    """What a read_desc must find: { desc = N } (every bit), or fields by name
    (af, ng, dbm, pxn, uxn, valid: true/false; ap; oa: a PA or frame), or a one_of."""
    if isinstance(spec, dict) and "one_of" in spec:
        _no_unknown(path, name, where, spec, {"one_of"})
        choices = spec["one_of"]
        if not isinstance(choices, list) or len(choices) < 2:
            raise CaseError(path, "one_of lists two or more outcomes", name, f"{where}.one_of")
        return Expect("one_of", choices=tuple(_desc_expect(path, name, f"{where}.one_of[{k}]", va, c, names,
                                                           step_fields) for k, c in enumerate(choices)))
    if not isinstance(spec, dict) or not spec:
        raise CaseError(path, "a read_desc expects { desc = N } or descriptor fields "
                        f"({', '.join(sorted({*DESC_FIELDS, 'ap', 'oa'}))})", name, where)
    f = _Fields(path, name, where, spec, {"desc", "ap", "oa", *DESC_FIELDS}, names)
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
        to = spec["oa"]
        pa = names[to] if isinstance(to, str) and to in names and FRAME_NAME.match(to) else f.int("oa")
        granule_shift = 12      # the 48-bit format's OA[47:12]; bits below the granule's are RES0 in a page
        oa_mask = HWDEF["DESC_OA_MASK"](granule_shift)
        if pa & ~oa_mask:
            raise f.error("oa", f"{pa:#x} is not a 4K-aligned PA below 2^48 (other formats: use desc)")
        mask |= oa_mask
        value |= pa
    return Expect("desc", value=value, mask=mask)


def _step(path, name, i, table, names):
    f = _Fields(path, name, f"steps[{i}]", table, STEP_KEYS | {"fixup", "retry"} | set().union(*MAINT_KEYS.values()),
                names)
    op = f.choice("do", OPS, required=True)
    if op in MAINT_OPS:
        return (_maint_step(path, name, i, op, table, names),)
    f = _Fields(path, name, f"steps[{i}]", table, STEP_KEYS | {"fixup", "retry"}, names)
    va = f.int("va", 0 if op in SELFTESTS else None, required=op not in SELFTESTS)
    if op in STORES:
        value = f.int("value", 0)
    elif "value" in table:
        raise f.error("value", f"only stores take a value, not {op}")
    else:
        value = 0
    el = f.int("el", 1)
    if el not in (0, 1):
        raise f.error("el", f"a step runs at EL0 or EL1 (el = 0 or 1), not {el}")
    if el == 0 and op not in EL0_OPS:
        raise f.error("el", f"{op} cannot run at EL0; at EL0 a step is one of: {', '.join(EL0_OPS)}")
    expect = _expect(path, name, f"steps[{i}].expect", op, va, table.get("expect"), names)
    step = Step(op, va & (2**64 - 1), value, expect, el)
    if "fixup" not in table:
        if "retry" in table:
            raise f.error("retry", "a retry needs a fixup")
        return (step,)
    return step, _retry(path, name, i, step, table, names)


def _retry(path, name, i, step, table, names):
    """The step after an access with a `fixup`: the kernel repairs the access's fault
    (FIXUP_KINDS) and runs the access again, which must meet `retry`."""
    where = f"steps[{i}].fixup"
    spec = table["fixup"]
    if step.op in SELFTESTS or step.op == "fetch" or step.op in ALL_AT_OPS:
        raise CaseError(path, f"{step.op} cannot be retried after a fix-up (only loads and stores fault "
                        "into the kernel's handler and return)", name, where)
    if not isinstance(spec, dict):
        raise CaseError(path, "must be a table: { kind = ..., level = ..., ... }", name, where)
    kind = spec.get("kind")
    if kind not in FIXUP_KINDS:
        raise CaseError(path, f"{kind!r} is not one of: {', '.join(FIXUP_KINDS)}", name, f"{where}.kind")
    keys = {"kind", "level"} | (MAP_KEYS - {"va"} if kind != "set_af" else set())
    f = _Fields(path, name, where, spec, keys, names)
    level = f.int("level", required=True)
    mapping = None
    if kind != "set_af":
        mapping = _mapping(path, name, i, {**{k: v for k, v in spec.items() if k != "kind"}, "va": step.va}, names,
                           where)
    if "retry" not in table:
        raise CaseError(path, "a fixup needs the retry's expected outcome", name, f"steps[{i}].retry")
    expect = _expect(path, name, f"steps[{i}].retry", step.op, step.va, table["retry"], names)
    return replace(step, expect=expect, level=level, mapping=mapping, fixup=kind)


def _check_feature_use(path, name, regime, steps, requires):
    """A case that sets a control of an optional feature, or runs its instruction, requires the
    feature: without it the control is RES0 (or PSTATE.PAN's MSR UNDEFINED), and the case says nothing."""
    defaults = Regime.__dataclass_fields__
    for key, feature in REGIME_FEATURES.items():
        if getattr(regime, key) != defaults[key].default and feature not in requires:
            raise CaseError(path, f"{key} needs {feature}: add requires = [\"{feature}\"]", name, f"regime.{key}")
    for i, step in enumerate(steps):
        feature = OP_FEATURES.get(step.op)
        if feature and feature not in requires:
            raise CaseError(path, f"{step.op} needs {feature}: add requires = [\"{feature}\"]", name, f"steps[{i}].do")


def _expect(path, name, where, op, va, spec, names):
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
    if not isinstance(spec, dict):
        raise CaseError(path, f"{spec!r} is not an outcome: use \"ok\", {{ value = ... }}, "
                        "{ fault = ... }, for AT { pa = ... }, or { one_of = [...] }", name, where)
    if "one_of" in spec:
        # The architecture permits several outcomes (CONSTRAINED UNPREDICTABLE, IMPLEMENTATION DEFINED).
        _no_unknown(path, name, where, spec, {"one_of"})
        choices = spec["one_of"]
        if not isinstance(choices, list) or len(choices) < 2:
            raise CaseError(path, "one_of lists two or more outcomes", name, f"{where}.one_of")
        return Expect("one_of", choices=tuple(_expect(path, name, f"{where}.one_of[{k}]", op, va, c, names)
                                              for k, c in enumerate(choices)))
    if spec.get("fault") == esr.PC_ALIGNMENT:
        # Its own exception class, no fault status: only the faulting PC, in FAR_EL1.
        f = _Fields(path, name, where, spec, {"fault", "far"}, names)
        if op != "fetch":
            raise f.error("fault", "a PC alignment fault comes from a fetch (a branch to a misaligned target)")
        return Expect("fault", fault=esr.PC_ALIGNMENT, far=f.int("far", va))
    if "fault" in spec:
        f = _Fields(path, name, where, spec, FAULT_KEYS, names)
        fault = f.choice("fault", (*esr.FAULT_CLASSES, esr.PC_ALIGNMENT), required=True)
        level = f.int("level")
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
        return Expect("fault", fault=fault, level=level, far=far, wnr=wnr, s1ptw=f.bool("s1ptw"), stage=stage,
                      ipa=f.int("ipa"))
    if op in ALL_AT_OPS:
        f = _Fields(path, name, where, spec, PAR_KEYS, names)
        return Expect("par", pa=f.int("pa", required=True), attr=f.int("attr"), sh=f.choice("sh", SH_NAMES))
    f = _Fields(path, name, where, spec, {"value"}, names)
    if op not in LOADS:
        raise f.error("value", f"{op} returns no value; expect \"ok\" or a fault")
    value = f.int("value", required=True)
    if not 0 <= value < 1 << (8 * LOADS[op]):
        raise f.error("value", f"{value:#x} does not fit in a {8 * LOADS[op]}-bit load")
    return Expect("value", value=value)


# ---------------------------------------------------------------- layout checks

def kernel_ranges(regime):
    """VA ranges the kernel maps for itself (main.c, map_kernel): identity in
    TTBR0, or at its alias in TTBR1 when the regime sends it there; the window,
    the UART page and the EL0 code page."""
    if regime.kernel_high:
        window, uart, el0 = LAYOUT["KERNEL_ALIAS_BASE"], LAYOUT["UART_ALIAS_BASE"], LAYOUT["EL0_CODE_ALIAS_VA"]
        granule = 1 << regime.tg1
    else:
        window, uart, el0 = LAYOUT["KERNEL_WINDOW_BASE"], LAYOUT["UART_BASE"], LAYOUT["EL0_CODE_VA"]
        granule = 1 << regime.tg0
    return [(window, window + LAYOUT["KERNEL_WINDOW_SIZE"]), (uart, uart + granule), (el0, el0 + granule)]


def _check_layout(case):
    """Refuse what the kernel could not build, or what would unmap the kernel."""
    r = case.regime
    if r.kernel_high:
        # The kernel's alias must be in TTBR1's range, and TTBR1 walks on.
        if r.epd1:
            raise CaseError(case.path, "epd1 cannot be set when the kernel runs from TTBR1 "
                            f"(t0sz={r.t0sz}, epd0={str(r.epd0).lower()} leave it no home in TTBR0)",
                            case.name, "regime.epd1")
        if LAYOUT["KERNEL_ALIAS_BASE"] < 2**64 - (1 << (64 - r.t1sz)):
            raise CaseError(case.path, f"t1sz={r.t1sz} leaves no room for the kernel's TTBR1 home at "
                            f"{LAYOUT['KERNEL_ALIAS_BASE']:#x} (needs t1sz <= 34)", case.name, "regime.t1sz")
    if r.ttbr1 is not None and (r.kernel_high or any(m.va >> 55 & 1 for m in case.maps)
                                or any(w.va >> 55 & 1 for w in case.raws)):
        raise CaseError(case.path, "a verbatim TTBR1_EL1 leaves no TTBR1 tables: no upper-half mappings, "
                        "and the kernel must be able to run from TTBR0", case.name, "regime.ttbr1")
    if r.e0pd1 and r.kernel_high and any(s.el == 0 for s in case.steps):
        raise CaseError(case.path, "EL0 steps run the kernel's EL0 code from TTBR1 here (the kernel runs from "
                        "its TTBR1 home), which e0pd1 forbids EL0 to use", case.name, "regime.e0pd1")
    reserved = kernel_ranges(r)
    reserved_half = 1 if r.kernel_high else 0
    if case.spaces > 1:
        where = next(f"{what}[{i}].space" for what, xs in (("map", case.maps), ("tables", case.tables),
                                                          ("raw", case.raws), ("steps", case.steps))
                     for i, x in enumerate(xs) if x.space)
        if r.kernel_high:
            raise CaseError(case.path, "a second TTBR0 table set needs the kernel's identity home in TTBR0 "
                            "(not t0sz above 33, epd0 or e0pd0): it is mapped in every set", case.name, where)
        for what, xs in (("map", case.maps), ("tables", case.tables), ("raw", case.raws), ("steps", case.steps)):
            for i, x in enumerate(xs):
                if x.space and x.va >> 55 & 1:
                    raise CaseError(case.path, f"va {x.va:#x} is in TTBR1's half, which has one table set",
                                    case.name, f"{what}[{i}].space")
                if getattr(x, "fixup", None):
                    # Named by its TOML step, the access's (a retry is a step of its own after it).
                    toml_index = i - sum(1 for s in case.steps[:i + 1] if s.fixup)
                    raise CaseError(case.path, "fix-ups act on the first table set: a case with several is "
                                    "not supported", case.name, f"steps[{toml_index}].fixup")

    def check_slot(what, va, level, must_align_pa=None, va_in_mapping=False):
        """va_in_mapping: va is any address of the mapping (a fix-up's access), not its start."""
        granule_shift, va_bits = _table_for(r, va)
        start = geometry.start_level(granule_shift, va_bits)
        if not start <= level <= 3:
            raise CaseError(case.path, f"level {level} is outside this regime's levels {start}..3 "
                            f"(granule {1 << granule_shift >> 10}K, {va_bits}-bit VA)", case.name, f"{what}.level")
        size = geometry.block_size(granule_shift, level)
        if va_in_mapping:
            va -= va % size
        in_range = va < 1 << va_bits if not va >> 55 & 1 else va >= 2**64 - (1 << va_bits)
        if not in_range:
            raise CaseError(case.path, f"va {va:#x} is outside the {va_bits}-bit range of its TTBR",
                            case.name, f"{what}.va")
        if must_align_pa is not None and (va | must_align_pa) % size:
            raise CaseError(case.path, f"va {va:#x} and pa {must_align_pa:#x} must be aligned to the "
                            f"{size:#x}-byte size of a level {level} {'page' if level == 3 else 'block'}",
                            case.name, f"{what}.va" if va % size else f"{what}.to")
        lo = va - va % size
        if va >> 55 & 1 == reserved_half:
            for start_r, end_r in reserved:
                if lo < end_r and start_r < lo + size:
                    raise CaseError(case.path, f"the level {level} descriptor for {va:#x} covers "
                                    f"{lo:#x}-{lo + size - 1:#x}, which collides with the kernel's own "
                                    f"mapping {start_r:#x}-{end_r - 1:#x}", case.name, f"{what}.va")

    for i, m in enumerate(case.maps):
        check_slot(f"map[{i}]", m.va, m.level, m.pa)
        held = r.pa_bits_held(_table_for(r, m.va)[0])
        if m.pa >> held:
            raise CaseError(case.path, f"pa {m.pa:#x} does not fit in the {held} bits this regime's "
                            "descriptors hold (52 needs ips = 52 with 64K, or ds = true with 4K/16K)",
                            case.name, f"map[{i}].to")
    for i, w in enumerate(case.raws):
        check_slot(f"raw[{i}]", w.va, w.level)
    for i, t in enumerate(case.tables):
        check_slot(f"tables[{i}]", t.va, t.level)
    for i, s in enumerate(case.steps):
        if s.op not in MAINT_OPS and not s.fixup:
            continue
        if r.kernel_high:
            raise CaseError(case.path, f"{s.op} changes the case's tables, which the kernel cannot reach while it "
                            "runs from its TTBR1 alias (t0sz above 33 or epd0)", case.name, f"steps[{i}].do")
        if s.level is not None and s.op not in STAGE2_MAINT_OPS:     # stage 2's: _check_stage2_layout
            check_slot(f"steps[{i}]", s.va, s.level, s.mapping.pa if s.op == "map" or s.fixup in ("map", "copy")
                       else None, va_in_mapping=bool(s.fixup))
        if s.op in RANGE_TLBI or s.op in S2_RANGE_TLBI:
            unit, key = 1 << range_unit(r, s, case.stage2), "ipa" if s.op in S2_RANGE_TLBI else "va"
            if s.va % unit:
                raise CaseError(case.path, f"{key} {s.va:#x} is not a multiple of {unit:#x}: BaseADDR holds the address "
                                "in units of the granule TG names (64K where addresses are 52-bit: the 64K granule, "
                                "or ds; ASL TLBIRange)", case.name, f"steps[{i}].{key}")
        if s.op == "set_ttbr1" and r.ttbr1 is not None:
            raise CaseError(case.path, "set_ttbr1 points TTBR1_EL1 at the case's TTBR1 tables, which a verbatim "
                            "regime.ttbr1 leaves out", case.name, f"steps[{i}].do")
