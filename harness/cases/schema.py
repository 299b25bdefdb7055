"""What a case file holds and what it loads into: the keys each table may have, the Case it
becomes (Regime, Mapping, Step, Expect, Stage2 ...), and CaseError, which names the file, the
case and the field of anything wrong.  The schema is documented in cases/README.md."""
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import geometry
from harness.cases.names import (
    LAYOUT, RANGE_TLBI, S2_RANGE_TLBI, S2_TLBI_OPS, SYSREG_WRITES, TLBI_EL20_ASID_OPS, TLBI_OPS,
)
from harness.kdefs import kernel_header, read_constants

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


SYSREG = read_constants(kernel_header("sysreg.h"))
# Regime keys that are TCR2_ELx bits (kernel/sysreg.h names each once).
TCR2_FIELDS = {"pie": SYSREG["TCR2_PIE"], "aie": SYSREG["TCR2_AIE"], "a2": SYSREG["TCR2_A2"], "fng0": SYSREG["TCR2_FNG0"],
               "fng1": SYSREG["TCR2_FNG1"]}


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
    # TCR2_ELx (FEAT_TCR2): its fields by name (TCR2_FIELDS); the register is tcr2 below.
    pie: bool = False       # TCR2.PIE (FEAT_S1PIE): stage 1 permissions through PIR/PIRE0
    aie: bool = False       # TCR2.AIE (FEAT_AIE): AttrIndx[3], MAIR2
    a2: bool = False        # TCR2.A2 (FEAT_ASID2): TTBR0's ASID for the lower range, TTBR1's for the upper
    fng0: bool = False      # TCR2.FNG0/FNG1 (FEAT_ASID2): TTBR0's / TTBR1's range non-global whatever nG
    fng1: bool = False
    # HCR_EL2.NV, NV1 (FEAT_NV) while each AT step runs (kernel/steps.c run_at_nested); the case needs EL2.
    nv: bool = False
    nv1: bool = False
    # HCRX_EL2.FnXS (FEAT_XS, FEAT_HCX) while the steps run (kernel/steps.c run_steps); the case needs EL2.
    fnxs: bool = False
    dze: bool = False       # SCTLR_EL1.DZE (SCTLR_EL2.DZE in the EL2&0 regime): EL0 may execute DC ZVA (C5.3.38)
    cmow: bool = False      # SCTLR_EL1.CMOW (FEAT_CMOW): EL0's DC CIVAC and IC IVAU need write permission
    # PIR_ELx and PIRE0_ELx (FEAT_S1PIE) whole, the kernel's own PI indices' included (kernel_pi)
    pir: int = 0
    pire0: int = 0
    mair2: int = 0          # MAIR2_ELx (FEAT_AIE): AttrIndx 8-15

    @property
    def tcr2(self):
        """TCR2_ELx as mmu.c writes it (the blob carries it whole)."""
        return sum(TCR2_FIELDS[key] for key in TCR2_FIELDS if getattr(self, key))

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
    isv: bool = None        # a load's or store's abort: ESR_ELx.ISV, with the probe's instruction syndrome when 1


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
    s2pie: bool = False     # VTCR_EL2.S2PIE (FEAT_S2PIE): stage 2 permissions through S2PIR_EL2
    s2pir: int = 0          # S2PIR_EL2 whole, the kernel's own S2PI indices' included (kernel_pi)
    tdz: bool = False       # HCR_EL2.TDZ: DC ZVA at EL1 and EL0 trapped to EL2 (C5.3.38)
    tpcp: bool = False      # HCR_EL2.TPCP: DC CIVAC, CVAC, IVAC trapped to EL2 (C5.3.21, .25, .37)
    tpu: bool = False       # HCR_EL2.TPU: IC IVAU trapped to EL2 (C5.3.41)

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
    s2_under: object = None # S2Under: an AT S12 step's own stage 2 geometry (None: the case's)


@dataclass(frozen=True)
class S2Under:
    """The stage 2 geometry an AT S12 step runs under instead of its case's, for that AT alone
    (kernel/el2.c at_s12_under): VTCR_EL2's TG0, T0SZ, SL0 and PS replaced where given (None:
    the case's), and the bits of vttbr_flip flipped in VTTBR_EL2."""
    tg: int = None
    t0sz: int = None
    sl0: int = None
    ps_bits: int = None
    vttbr_flip: int = 0

    def applied(self, stage2):
        """The case's Stage2 with these fields in its place."""
        return replace(stage2, **{k: v for k, v in (("tg", self.tg), ("t0sz", self.t0sz), ("sl0", self.sl0),
                                                    ("ps_bits", self.ps_bits)) if v is not None})


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
    rule: str = None        # the rule it breaks: the M.a.a section and its ASL function
    name: str = None        # of its [bug.<name>] table (None: a table in the case itself)
    features: tuple = ()    # the CPU features it shows with (harness.features names, `!` for lacking one)

    @property
    def scope(self):
        """Whose bug, in words: 'QEMU >=10.0.2 with FEAT_LSE2'."""
        return f"QEMU {self.qemu}" + (f" with {', '.join(self.features)}" if self.features else "")


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
        # HCR_EL2.NV/NV1 and HCRX_EL2.FnXS: EL2 owns them (FnXS's Effective value is 0 without EL2)
        nested = self.regime.nv or self.regime.nv1 or self.regime.fnxs
        return "stage2" if self.stage2 is not None or self.el2 is not None or nested else "el1"

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



CASE_KEYS = {"summary", "regime", "matrix", "map", "tables", "raw", "steps", "requires", "xfail", "timeout",
             "stage2", "s2map", "s2raw", "el2"}
REGIME_KEYS = {"granule", "granule1", "t0sz", "t1sz", "ips", "epd0", "epd1", "tbi0", "tbi1", "ds", "ha", "hd", "sctlr_a",
               "ttbr1", "mair", "wxn", "span", "epan", "pan", "hpd0", "hpd1", "e0pd0", "e0pd1",
               "asid16", "a1", *TCR2_FIELDS, "nv", "nv1", "fnxs", "pir", "pire0", "mair2", "dze", "cmow"}
STAGE2_KEYS = {"granule", "t0sz", "sl0", "sl2", "ps", "ds", "fwb", "ha", "hd", "vs", "vmid", "s2pie", "s2pir", "tdz", "tpcp", "tpu"}
S2MAP_KEYS = {"ipa", "to", "level", "memattr", "s2ap", "sh", "xn", "af", "contig", "dbm"}
MAP_KEYS = {"va", "to", "level", "mem", "attrindx", "ap", "sh", "af", "ng", "pxn", "uxn", "contig", "dbm", "space"}
# TTBR0 table sets a case may have (kernel/case.h MAX_SPACES): its address spaces.
MAX_SPACES = read_constants(kernel_header("case.h"))["MAX_SPACES"]

STEP_KEYS = {"do", "va", "value", "compare", "expect", "el", "under"}
UNDER_KEYS = {"granule", "t0sz", "sl0", "ps", "vttbr_flip"}
# A one_of's outcome "tlb_conflict": a TLB conflict abort, as the step reports it (harness/cases/steps.py).
TLB_CONFLICT = "tlb_conflict"
FAULT_KEYS = {"fault", "level", "far", "wnr", "s1ptw", "stage", "ipa", "isv"}
PAR_KEYS = {"pa", "attr", "sh"}


MAINT_KEYS = {"map": MAP_KEYS, "unmap": {"va", "level", "space"}, "protect": MAP_KEYS - {"to"},
              "write_desc": {"va", "level", "desc", "space"}, "link": {"va", "level", "table_of", "space"},
              "read_desc": {"va", "level", "space"}, "set_ttbr0": {"asid", "space"},
              "set_ttbr1": {"asid"}, **{op: {"value", "mask"} for op in SYSREG_WRITES},
              **{op: ({"va"} if takes_va else set()) | ({"asid"} if takes_asid or op in TLBI_EL20_ASID_OPS else set())
                 | ({"num", "scale", "ttl", "tg"} if op in RANGE_TLBI else set())
                 for op, (takes_va, takes_asid) in TLBI_OPS.items()},
              "s2_map": S2MAP_KEYS, "s2_unmap": {"ipa", "level"}, "s2_protect": S2MAP_KEYS - {"to"},
              "s2_write_desc": {"ipa", "level", "desc"}, "s2_link": {"ipa", "level", "table_of"}, "s2_read_desc": {"ipa", "level"}, "set_vmid": {"vmid"},
              **{op: ({"ipa"} if takes_ipa else set()) | ({"num", "scale", "ttl", "tg"} if op in S2_RANGE_TLBI else set())
                 for op, takes_ipa in S2_TLBI_OPS.items()}}
# What an s2_read_desc may check: the bits stage 2 descriptors share with stage 1's (pgtable-hwdef.h).
S2_DESC_EXPECT_KEYS = {"desc", "valid", "af", "oa", "one_of"}
# The descriptor fields a read_desc may check by name (pgtable-hwdef.h).
DESC_FIELDS = {"valid": "DESC_VALID", "af": "PTE_AF", "ng": "PTE_NG", "dbm": "PTE_DBM", "pxn": "PTE_PXN",
               "uxn": "PTE_UXN"}

