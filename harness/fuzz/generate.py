"""Random cases within the reference model's domain, from (seed, index) alone.

Every case is built by construction to be one the loader accepts
(harness.cases: levels, ranges, alignment, no slot over the kernel's own
mappings) and one the kernel can build (no descriptor above another's slot,
tables that fit its pool): a layout that would break either is generated
away, never produced and rejected.  tests/test_fuzz.py round-trips thousands
of generated cases through the TOML writer and harness.cases.load_file.

What the steps may touch is kept safe for the kernel that runs them, whatever
the MMU under test does with a descriptor: every output address a leaf or raw
descriptor holds is either a frame of the case (the frame pool, or RAM above
the kernel's window), RAM's base rounded down to the block size for blocks
of 1 GiB and more (their steps then land in that RAM), or above the regime's PA size (an Address size fault).  Stores
never reach a frame that a fetch step runs a stub from or that a raw table
descriptor points at as a (zeroed, all-invalid) next-level table.

The same (seed, index) gives the same case on any machine: all choices come
from one random.Random seeded by a string (hashed with SHA-512, independent
of PYTHONHASHSEED), in a fixed order, over lists and dicts built in order.
"""
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import geometry
from harness.fuzz import frontier, sequences
from harness.fuzz import stage2 as gen_stage2
from harness.fuzz.stage2 import IPA_ALIAS
from harness.cases import (AP_NAMES, APTABLE_NAMES, AT_OPS, AT_S12_OPS, AT_S1E2_OPS, EL0_OPS, EL2_MODES, LAYOUT,
                           LOADS, MAINT_OPS, MEMORY_TYPES, SH_NAMES, STORES, Case, Expect, Mapping, Raw,
                           Regime, Step, TableAttrs, kernel_ranges, op_features)
from harness.cases.validation import PA_AT_LEAST, REGIME_FEATURES, STAGE2_FEATURES
from harness.features import PA_BITS, Ids, has as features_has
from harness.ops import (EXCLUSIVE_STORES, GCS_ENABLED_OPS, GCS_EX_PUSHES, GCS_EX_RECORD_BYTES, GCS_EX_RECORDS,
                         GCS_POINTER_OPS, GCS_STORES, NO_VALUE, UNPRIVILEGED_OPS)

FEATURE = "Generated cases (harness.fuzz): found by a campaign, shrunk"

# The expectation a generated step carries until the model's replaces it (campaign.with_model_expectations).
PLACEHOLDER = Expect("fault", fault="translation")

# Not the GCS ops that run with the Guarded Control Stack enabled, which frontier.draw_op draws (GCSPUSHM, GCSPOPM,
# GCSSS2 and the exception return records, at GCSPR_ELx's VA, a multiple of 8, a record in one page: _offset), nor
# GCSSS1 (its cap entries are drawn nowhere).  Not the
# store-exclusives yet: their status rests on the steps before them (harness/model/exclusives.py), which
# campaign.with_model_expectations does not state; nor DC ZVA (its block is the boot's DCZID_EL0), nor DC and
# IC by VA (not yet: their stage 2 checks are not modelled).
DATA_OPS = tuple(op for op in (*LOADS, *STORES) if op not in GCS_ENABLED_OPS and op not in EXCLUSIVE_STORES
                 and op not in NO_VALUE)
# Every access a generated step may make (access_ops: which, where).
ALL_OPS = (*DATA_OPS, "fetch", *AT_OPS, *AT_S12_OPS, *AT_S1E2_OPS)
OP_SIZE = {**LOADS, **STORES, "fetch": 4, **{op: 1 for op in (*AT_OPS, *AT_S12_OPS, *AT_S1E2_OPS)}}

# Where a case's steps run: EL1&0 (stage 1 alone, or under the case's stage 2), or at EL2 in the
# EL2 regime (E2H = 0) or the EL2&0 regime (E2H = TGE = 1; cases.EL2_MODES).  Weights keep every
# campaign's mix broad; the EL2 regimes need what MODE_NEEDS names.
MODES = ("el1", "stage2", "nvhe", "vhe")
MODE_WEIGHTS = {"el1": 4, "stage2": 3, "nvhe": 2, "vhe": 2}
MODE_NEEDS = {"el1": None, "stage2": None, "nvhe": None, "vhe": "FEAT_VHE"}
# The share of a case's step draws that is a translation-changing sequence (where one is possible).
CHANGE_SHARE = 0.3
# The share of accesses that are fetches, the one access of ALL_OPS' sixty that checks execute permissions
# (UXN, PXN, WXN, XNTable), and of those the share sent to a frame a stub is planted in (elsewhere a fetch
# gets no step).
FETCH_SHARE = 0.12
FETCH_TO_CODE = 0.7

RAM_END = LAYOUT["RAM_BASE"] + LAYOUT["RAM_SIZE"]
POOL = (LAYOUT["FRAME_POOL_BASE"], LAYOUT["FRAME_POOL_BASE"] + LAYOUT["FRAME_POOL_SIZE"])
BIG = (LAYOUT["BIG_FRAME_BASE"], RAM_END)
# Where a step through a block of 1 GiB or more may land: RAM that holds no kernel data.
SAFE_RAM = (POOL[0], RAM_END)
KERNEL_WINDOW_END = LAYOUT["KERNEL_WINDOW_BASE"] + LAYOUT["KERNEL_WINDOW_SIZE"]
ZEROED_FRAME_LIMIT = 1 << 21

# How often each granule is drawn.  The 64K granule costs most per case, in the kernel (its
# own window takes 512 pages, and each table 64 KiB to zero) and in the model's declared
# layout alike, so it is drawn half as often as the others.
GRANULE_WEIGHTS = {12: 2, 14: 2, 16: 1}

# Valid MAIR_EL1 attribute bytes for the indices cases may set (2..7): the four
# Device types and Normal with both nibbles one of the 15 cacheability encodings.
DEVICE_BYTES = (0x00, 0x04, 0x08, 0x0C)
NORMAL_NIBBLES = tuple(range(1, 16))

# Descriptor fields of block and page descriptors (kernel/pgtable-hwdef.h),
# for raw descriptors with random attributes.
ATTRINDX_SHIFT, AP_SHIFT, SH_SHIFT = 2, 6, 8
NS, AF, NG = 1 << 5, 1 << 10, 1 << 11
DBM, CONT, PXN, UXN = 1 << 51, 1 << 52, 1 << 53, 1 << 54
SOFTWARE = 0xF << 55            # bits[58:55]: ignored by the translation
TABLE_PXN, TABLE_UXN, TABLE_AP_SHIFT, TABLE_NS = 1 << 59, 1 << 60, 61, 1 << 63
TABLE_IGNORED = 0x7F << 52 | 0x3FC      # bits[58:52], [11:2] of a table descriptor (not with DS: [9:8])

# Entries of one contiguous run, by granule and level (Arm ARM D8.6.1, "The Contiguous bit").
CONTIG_ENTRIES = {(12, 3): 16, (12, 2): 16, (14, 3): 128, (14, 2): 32, (16, 3): 32, (16, 2): 32}


class GeneratorBug(Exception):
    """A generated case that the loader, the kernel or the model cannot take: a defect here."""


class Cpu(Ids):
    """What the generator needs of the CPU under test: its ID registers' features (features.Ids)."""
    __slots__ = ()

    @property
    def ids(self):
        return Ids(*self)

    def has(self, feature):
        return features_has(feature, *self.ids)

    @property
    def pa_bits(self):
        return PA_BITS.get(self.mmfr0 & 0xF, 32)

    @property
    def granules(self):
        return [shift for name, shift in (("granule4k", 12), ("granule16k", 14), ("granule64k", 16))
                if self.has(name)]

    def lpa2(self, granule_shift):
        """FEAT_LPA2 for this granule: TCR_EL1.DS may be set with it (TGran4 = 1, TGran16 = 2)."""
        tgran = self.mmfr0 >> {12: 28, 14: 20}[granule_shift] & 0xF
        return tgran == {12: 1, 14: 2}[granule_shift]


def case_rng(seed, index):
    """The random source of case `index` of campaign `seed`: a string seed is hashed
    with SHA-512, the same on every machine and independent of hash randomisation."""
    return random.Random(f"harness.fuzz:{seed}:{index}")


def case_name(seed, index):
    return f"s{seed}_n{index}"


# ---------------------------------------------------------------- the regime

def _tsz_range(cpu, granule_shift, ds):
    """TxSZ values within the architecture's supported range for this granule (D8.1.8)."""
    low = 12 if (granule_shift == 16 and cpu.has("FEAT_LVA")) or (granule_shift != 16 and ds) else 16
    # FEAT_TTST: down to 16-bit VAs, but 17 with the 64K granule (one page).
    high = (47 if granule_shift == 16 else 48) if cpu.has("FEAT_TTST") else 39
    return low, high


def _pick_tsz(rng, low, high):
    # The common sizes often, every size sometimes.
    if rng.random() < 0.4:
        return rng.choice([t for t in (16, 25, 32, 39) if low <= t <= high] or [low])
    return rng.randint(low, high)


def _mair_byte(rng):
    if rng.random() < 0.3:
        return rng.choice(DEVICE_BYTES)
    return rng.choice(NORMAL_NIBBLES) << 4 | rng.choice(NORMAL_NIBBLES)


def random_mode(rng, cpu):
    """Where the case's steps run (MODES), by MODE_WEIGHTS among those the CPU has."""
    modes = [m for m in MODES if MODE_NEEDS[m] is None or cpu.has(MODE_NEEDS[m])]
    return rng.choices(modes, [MODE_WEIGHTS[m] for m in modes])[0]


def _controls(rng, cpu, mode):
    """SCTLR, PSTATE.PAN and TCR controls of permissions (WXN, PAN, SPAN, EPAN, HPD, E0PD), each
    drawn where the CPU has its feature (else it is RES0: cases.REGIME_FEATURES) and the regime
    has it (the EL2 regime has no PAN, no E0PD and one HPD: cases.EL2_REGIME_KEYS)."""
    out = {"wxn": rng.random() < 0.2}
    if cpu.has("FEAT_HPDS"):
        out["hpd0"] = rng.random() < 0.15
    if mode == "nvhe":
        return out
    if cpu.has("FEAT_HPDS"):
        out["hpd1"] = rng.random() < 0.15
    if cpu.has("FEAT_PAN"):
        out["pan"] = rng.random() < 0.35
        out["span"] = rng.random() >= 0.2
    if cpu.has("FEAT_PAN3"):
        out["epan"] = rng.random() < 0.3
    if cpu.has("FEAT_E0PD"):
        # E0PD0 sends the kernel to its TTBR1 alias, which a stage 2 cannot have (kernel/blob.c).
        out["e0pd0"] = mode != "stage2" and rng.random() < 0.06
        out["e0pd1"] = rng.random() < 0.12
    if cpu.has("asid16"):
        out["asid16"] = rng.random() < 0.2
    out["a1"] = rng.random() < 0.1
    return out


def random_regime(rng, cpu, mode="el1"):
    granules = cpu.granules
    weights = [GRANULE_WEIGHTS[g] for g in granules]
    tg0 = rng.choices(granules, weights)[0]
    # The EL2 regime has one range: TTBR1's fields stay at their defaults.
    one_range = mode == "nvhe"
    tg1 = tg0 if one_range or rng.random() < 0.6 else rng.choices(granules, weights)[0]
    small = [g for g in (tg0, tg1) if g != 16]
    ds = bool(small) and all(cpu.lpa2(g) for g in small) and rng.random() < 0.2
    ips_bits = rng.choice([32, 36, 40, 42, 44, 48, 48, 48, 52, 52])
    controls = _controls(rng, cpu, mode)
    # The EL2 regime's one range must hold the kernel's identity window (cases._check_el2); under a
    # stage 2 the kernel runs from it too (its TTBR1 alias has no stage 2 mapping: kernel/blob.c).
    identity = one_range or mode == "stage2"
    epd0 = not identity and rng.random() < 0.08
    low0, high0 = _tsz_range(cpu, tg0, ds)
    t0sz = _pick_tsz(rng, low0, min(high0, 64 - KERNEL_WINDOW_END.bit_length()) if identity else high0)
    kernel_high = epd0 or controls.get("e0pd0", False) or KERNEL_WINDOW_END > 1 << (64 - t0sz)
    low1, high1 = _tsz_range(cpu, tg1, ds)
    if one_range:
        epd1, t1sz = False, 16
    elif kernel_high:
        # The kernel runs from its TTBR1 alias: TTBR1 must walk and reach it (harness/cases/layout.py check_layout).
        epd1, t1sz = False, _pick_tsz(rng, low1, min(high1, 34))
    else:
        epd1, t1sz = rng.random() < 0.12, _pick_tsz(rng, low1, high1)
    # Stage 1 hardware updates under stage 2 are outside the model (cases.py refuses them).
    ha = mode != "stage2" and cpu.has("FEAT_HAFDBS") and rng.random() < 0.3
    hd = mode != "stage2" and cpu.has("FEAT_HAFDBS_DIRTY") and rng.random() < (0.6 if ha else 0.05)
    mair = {idx: attr for idx, attr in MEMORY_TYPES.values()}
    for idx in range(2, 8):
        if rng.random() < 0.35:
            mair[idx] = _mair_byte(rng)
    return Regime(tg0=tg0, tg1=tg1, t0sz=t0sz, t1sz=t1sz, ips_bits=ips_bits, epd0=epd0, epd1=epd1,
                  tbi0=rng.random() < 0.3, tbi1=not one_range and rng.random() < 0.3, ds=ds, ha=ha, hd=hd,
                  sctlr_a=rng.random() < 0.2, ttbr1=None,
                  mair=sum(attr << (8 * idx) for idx, attr in sorted(mair.items())), **controls)


# ---------------------------------------------------------------- address geometry

@dataclass(frozen=True)
class Half:
    """One TTBR's VA range and table geometry."""
    upper: bool
    granule_shift: int
    va_bits: int

    @property
    def start_level(self):
        return geometry.start_level(self.granule_shift, self.va_bits)

    @property
    def lo(self):
        return 2**64 - (1 << self.va_bits) if self.upper else 0

    @property
    def hi(self):
        return 2**64 if self.upper else 1 << self.va_bits

    def size(self, level):
        return geometry.block_size(self.granule_shift, level)


def halves(regime):
    return (Half(False, regime.tg0, 64 - regime.t0sz), Half(True, regime.tg1, 64 - regime.t1sz))


def mapped_halves(regime, mode):
    """The halves a case may map: both, or TTBR0's alone in the EL2 regime (E2H = 0)."""
    lower, upper = halves(regime)
    return (lower,) if mode == "nvhe" else (lower, upper)


def oa_bits(regime, cpu, granule_shift):
    """Output address bits a descriptor of this granule holds, as the architecture reads it
    (D8.3): 52 with DS (4K, 16K) or with the 64K granule when the PA size is 52."""
    if granule_shift == 16:
        return 52 if regime.ips_bits == 52 and cpu.pa_bits == 52 else 48
    return 52 if regime.ds else 48


def pa_size(regime, cpu, granule_shift):
    """The output address size: TCR_EL1.IPS capped by the implemented PA size and the format."""
    return min(regime.ips_bits, cpu.pa_bits, oa_bits(regime, cpu, granule_shift))


def encode_oa(regime, granule_shift, pa):
    """An output or next-level table address as a descriptor of this regime holds it
    (the kernel's oa_encode in pgtable.c, for raw descriptors)."""
    if granule_shift == 16 and regime.ips_bits == 52:
        return (pa & ((1 << 48) - 1) & ~((1 << 16) - 1)) | (pa >> 48 & 0xF) << 12
    if granule_shift != 16 and regime.ds:
        return (pa & ((1 << 50) - 1) & ~((1 << granule_shift) - 1)) | (pa >> 50 & 0x3) << 8
    return pa & ((1 << 48) - 1) & ~((1 << granule_shift) - 1)


# ---------------------------------------------------------------- the layout

@dataclass
class Slot:
    """A descriptor slot the case fills: a leaf mapping, one entry of a contiguous run, or a raw."""
    half: Half
    level: int
    va: int                 # the slot's base VA
    kind: str               # "map", "raw"
    frame: tuple = None     # (pa, size) the steps through it reach; None: no memory (high OA, invalid)
    window: tuple = None    # (lo, hi) offsets into the slot steps may use (blocks at OA 0)
    code: bool = False      # fetch steps run a stub from its frame: stores keep out
    oa: int = None          # the output address its descriptor holds (an IPA under stage 2)
    changed: bool = False   # a descriptor step rewrote it: no fetch after (its stub is where it was)

    @property
    def size(self):
        return self.half.size(self.level)


@dataclass
class Layout:
    """The frames, slots and reserved VA ranges of a case being generated."""
    regime: Regime
    cpu: Cpu
    mode: str = "el1"
    slots: list = field(default_factory=list)
    pool_next: int = POOL[0]
    big_next: int = BIG[0]
    no_store: list = field(default_factory=list)    # (pa, size) stores keep out of: code and table frames
    table_frame_maps: list = field(default_factory=list)
    aliased: list = field(default_factory=list)     # (ipa, size): frames stage 1 reaches at IPA_ALIAS + PA
    stage2: object = None   # the case's cases.Stage2 (mode "stage2"), once drawn
    asid: int = 0           # the ASID the steps run with (sequences: set_ttbr0/1)
    changed: bool = False   # a sequence has changed a translation (no access across pages after: _offset)
    # The second TTBR0 table set (sequences: a switch to address space 1), a copy of the first's TTBR0 half
    # but for these mappings: {(va, level): its Mapping there, or None for none}; None: the case has one set.
    space1: dict = None
    fixups: bool = False    # a step has a fix-up (which acts on the first table set alone)

    def __post_init__(self):
        self.kernel = kernel_ranges(self.regime)
        self.kernel_half = 1 if self.regime.kernel_high else 0
        self.halves = mapped_halves(self.regime, self.mode)

    def frame(self, size):
        """A new frame of `size` bytes, aligned to it: in the pool (which the kernel zeroes
        per case) while it fits, else in RAM above the window; None if neither has room.
        Frames of a block (2 MiB and more) go above the window from the start: zeroing them
        would cost the kernel more than the rest of a case, and their contents are then simply
        not known (a load from them completes, its value not predicted)."""
        start = -(-self.pool_next // size) * size
        if size < ZEROED_FRAME_LIMIT and start + size <= POOL[1]:
            self.pool_next = start + size
            return start
        start = -(-self.big_next // size) * size
        if start + size <= BIG[1]:
            self.big_next = start + size
            return start
        return None

    @property
    def may_cross(self):
        """Whether a load may cross into the next page: not once a translation changed (the model's
        TLB judges a whole access by the entries of its first VA, tlb.usable_entries(access.va), not
        each page by its own), nor under stage 2 (the model's choices for the first page's stage 2
        are not all there yet: harness.fuzz seed 20261201, case 922 with crossing under stage 2
        drawn, on 7.2.22 and still on this model: an LDP across a page of stage 1 Device memory
        whose first IPA has stage 2 AF = 0, the model allowing the Device Alignment fault or the
        second page's fault, QEMU giving the first page's stage 2 Access flag fault, which the
        IMPLEMENTATION DEFINED choice of no Alignment fault (J1.1.4.29) permits)."""
        return not self.changed and self.mode != "stage2"

    def output(self, rng, pa, size):
        """The output address stage 1 gives a frame: its PA, or under stage 2 sometimes its
        alias IPA_ALIAS + PA, which the case's own stage 2 maps (or leaves unmapped).  The
        frame pool is in the kernel's window, which the kernel maps at IPA = PA itself; frames
        above it are always aliased.  The alias is linear: what stores keep out of stays the same."""
        if self.mode != "stage2" or (pa < POOL[1] and rng.random() < 0.4):
            return pa
        self.aliased.append((pa + IPA_ALIAS, size))
        return pa + IPA_ALIAS

    def table_frame(self, rng, half):
        """A zeroed frame for a raw table descriptor to point at, mapped read-only (so the
        kernel zeroes it) at a free page of `half`; its PA, or None."""
        size = 1 << half.granule_shift
        va = self.pick_slot_va(rng, half, 3)
        pa = va is not None and self.frame(size)
        if not pa:
            return None
        self.table_frame_maps.append(Mapping(va=va, pa=pa, level=3, attrindx=1, ap="ro_el1", sh="inner", af=True,
                                             ng=False, pxn=True, uxn=True, contig=False, dbm=False))
        self.slots.append(Slot(half, 3, va, "map", (pa, size)))
        self.no_store.append((pa, size))
        return pa

    def collides_with_kernel(self, half, lo, size):
        if int(half.upper) != self.kernel_half:
            return False
        return any(lo < end and start < lo + size for start, end in self.kernel)

    def free(self, half, level, va):
        """Whether a descriptor at (level, va) of this half is neither above nor below another's
        slot, nor over the kernel's mappings."""
        size = half.size(level)
        if self.collides_with_kernel(half, va, size):
            return False
        for s in self.slots:
            if s.half == half and va < s.va + s.size and s.va < va + size:
                return False
        return True

    def pick_slot_va(self, rng, half, level):
        """A free slot at `level`: near an existing slot of the half (sharing its tables) or anywhere."""
        size = half.size(level)
        for _ in range(12):
            near = [s for s in self.slots if s.half == half]
            if near and rng.random() < 0.6:
                anchor = rng.choice(near)
                parent_level = rng.randint(half.start_level, level)
                parent = half.size(parent_level - 1) if parent_level > half.start_level else half.hi - half.lo
                base = anchor.va - (anchor.va - half.lo) % parent
                va = base + size * rng.randrange(max(parent // size, 1))
            else:
                va = half.lo + size * rng.randrange((half.hi - half.lo) // size)
            if half.lo <= va < half.hi and self.free(half, level, va):
                return va
        return None

    def leaf_target(self, rng, half, level):
        """(descriptor OA, frame, window) for a block or page at `level`: a frame, OA 0 for blocks
        too big for RAM (steps land in SAFE_RAM), or above the PA size (an Address size fault)."""
        size = half.size(level)
        bits = oa_bits(self.regime, self.cpu, half.granule_shift)
        low = pa_size(self.regime, self.cpu, half.granule_shift)
        if rng.random() < 0.12 and (1 << bits) > max(size, 1 << low):
            first = -(-(1 << low) // size)
            pa = size * rng.randrange(first, (1 << bits) // size)
            return pa, None, None
        if size >= 1 << 30:
            # Too big for a frame: the block holds RAM (at OA 0 when it is bigger than RAM's
            # alignment), and its steps go to offsets that land in SAFE_RAM.
            oa = LAYOUT["RAM_BASE"] - LAYOUT["RAM_BASE"] % size
            return oa, (oa, size), (SAFE_RAM[0] - oa, SAFE_RAM[1] - oa)
        pa = self.frame(size)
        if pa is None:
            return None
        return self.output(rng, pa, size), (pa, size), None


def _mapping(rng, regime, va, pa, level, contig=False, attrs=None):
    if attrs is None:
        attrindx = frontier.draw_attrindx(rng, regime, rng.choice((1, 1, 1, 0, 2, 3, 4, 5, 6, 7)))
        attrs = dict(attrindx=attrindx, ap=rng.choice(list(AP_NAMES)), sh=rng.choice(list(SH_NAMES)),
                     af=rng.random() < 0.85, ng=rng.random() < 0.2, pxn=rng.random() < 0.25,
                     uxn=rng.random() < 0.3, dbm=rng.random() < 0.25)
    return Mapping(va=va, pa=pa, level=level, contig=contig, **attrs)


def _leaf_level(rng, half):
    """Mostly pages, blocks at every level of the regime sometimes (allowed there or not)."""
    levels = list(range(half.start_level, 4))
    return 3 if rng.random() < 0.55 else rng.choice(levels)


def _add_maps(rng, layout, maps):
    regime = layout.regime
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        half = rng.choice(layout.halves)
        level = _leaf_level(rng, half)
        va = layout.pick_slot_va(rng, half, level)
        target = va is not None and layout.leaf_target(rng, half, level)
        if not target:
            continue
        pa, frame, window = target
        code = frame is not None and window is None and rng.random() < 0.3
        maps.append(_mapping(rng, regime, va, pa, level))
        layout.slots.append(Slot(half, level, va, "map", frame, window, code, oa=pa))
        if code:
            layout.no_store.append(frame)
        if frame is not None and window is None and rng.random() < 0.15:
            # An alias: another VA for the same frame, with attributes of its own.
            level_alias = level
            va2 = layout.pick_slot_va(rng, half, level_alias)
            if va2 is not None:
                maps.append(_mapping(rng, regime, va2, pa, level_alias))
                layout.slots.append(Slot(half, level_alias, va2, "map", frame, None, code, oa=pa))


def _add_contiguous_run(rng, layout, maps):
    """A whole, consistent contiguous run: every entry of an aligned group with the Contiguous
    bit, the same attributes and adjacent output addresses (D8.6.1)."""
    regime = layout.regime
    half = rng.choice(layout.halves)
    level = rng.choice([lv for lv in (2, 3) if lv >= half.start_level])
    entries = CONTIG_ENTRIES[(half.granule_shift, level)]
    size = half.size(level)
    run = size * entries
    if run > 1 << 25 or run > half.hi - half.lo:
        return
    for _ in range(8):
        va = half.lo + run * rng.randrange((half.hi - half.lo) // run)
        if all(layout.free(half, level, va + k * size) for k in range(entries)):
            break
    else:
        return
    pa = layout.frame(run)
    if pa is None:
        return
    attrs = dict(attrindx=rng.choice((1, 3, 7)), ap=rng.choice(list(AP_NAMES)), sh="inner",
                 af=rng.random() < 0.9, ng=False, pxn=rng.random() < 0.5, uxn=True, dbm=False)
    for k in range(entries):
        maps.append(_mapping(rng, regime, va + k * size, pa + k * size, level, contig=True, attrs=attrs))
        layout.slots.append(Slot(half, level, va + k * size, "map", (pa + k * size, size)))


def _leaf_attr_bits(rng):
    bits = rng.randrange(8) << ATTRINDX_SHIFT | rng.randrange(4) << AP_SHIFT | rng.choice((0, 2, 3)) << SH_SHIFT
    for bit, p in ((AF, 0.8), (NG, 0.2), (DBM, 0.2), (PXN, 0.3), (UXN, 0.3), (NS, 0.1)):
        if rng.random() < p:
            bits |= bit
    if rng.random() < 0.2:
        bits |= rng.getrandbits(64) & SOFTWARE
    return bits


def _raw_descriptor(rng, layout, slot):
    """A raw descriptor for `slot`, filling in the frame and window its steps reach; None if
    there is no room for what it needs."""
    half, level = slot.half, slot.level
    regime, g = layout.regime, half.granule_shift
    kind = rng.choice(("invalid", "invalid", "leaf", "leaf", "leaf", "table", "arbitrary"))
    ds_sh_mask = 0x300 if regime.ds and g != 16 else 0      # with DS bits[9:8] hold OA[51:50]
    if kind == "invalid":
        # bit 0 clear: invalid whatever the other bits say (random, or zero)
        return rng.getrandbits(64) & ~1 if rng.random() < 0.7 else 0
    if kind == "table" and level < 3:
        bits = oa_bits(regime, layout.cpu, g)
        low = pa_size(regime, layout.cpu, g)
        attrs = rng.randrange(4) << TABLE_AP_SHIFT
        for bit, p in ((TABLE_PXN, 0.3), (TABLE_UXN, 0.2), (TABLE_NS, 0.1)):
            if rng.random() < p:
                attrs |= bit
        if rng.random() < 0.3:
            attrs |= rng.getrandbits(64) & TABLE_IGNORED & ~ds_sh_mask
        if bits > low and rng.random() < 0.5:
            # A next-level table above the PA size: an Address size fault at this level.
            table = (rng.randrange(1 << low, 1 << bits) >> g) << g
        else:
            # A zeroed frame as the next-level table (every entry invalid): the kernel zeroes a
            # frame only when a mapping holds it, so a read-only page maps it, and stores keep out.
            table = layout.table_frame(rng, half)
            if table is None:
                return None
            table = layout.output(rng, table, 1 << g)
        return encode_oa(regime, g, table) | attrs | 0b11
    target = layout.leaf_target(rng, half, level)
    if not target:
        return None
    pa, slot.frame, slot.window = target
    if kind == "arbitrary":
        # Any bits at all outside the output address, with the type bits of a block or page.
        attrs = rng.getrandbits(64) & ~(encode_oa(regime, g, 2**64 - 1) | 0b11)
    else:
        attrs = _leaf_attr_bits(rng) & ~ds_sh_mask
    # A block (bits[1:0] = 0b01) at any level: at level 3 that encoding is reserved (invalid), and
    # above it allowed or not by the granule, the level and DS (AArch64.BlockDescSupported).
    type_bits = 0b11 if level == 3 and rng.random() < 0.6 else 0b01
    # Output-address bits below the block size are ignored (AArch64.BlockBase): set some.
    low_bits = rng.getrandbits(64) & (half.size(level) - 1) & ~((1 << g) - 1) if rng.random() < 0.2 else 0
    return encode_oa(regime, g, pa | low_bits) | attrs | type_bits


def _add_raws(rng, layout, maps, raws):
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
        half = rng.choice(layout.halves)
        level = rng.randint(half.start_level, 3)
        va = layout.pick_slot_va(rng, half, level)
        if va is None:
            continue
        slot = Slot(half, level, va, "raw")
        layout.slots.append(slot)       # before a table frame's page is placed: it must keep out
        desc = _raw_descriptor(rng, layout, slot)
        if desc is None:
            layout.slots.remove(slot)
            continue
        raws.append(Raw(va=va, level=level, desc=desc))
    maps.extend(layout.table_frame_maps)


def _add_table_attrs(rng, layout, maps, tables):
    """APTable/PXNTable/UXNTable on table descriptors above some mappings (they are tables: the maps made them)."""
    regime = layout.regime
    for m in maps:
        if rng.random() >= 0.2:
            continue
        half = halves(regime)[m.va >> 55 & 1]
        if m.level <= half.start_level:
            continue
        level = rng.randint(half.start_level, m.level - 1)
        size = half.size(level)
        base = m.va - (m.va - half.lo) % size
        if layout.collides_with_kernel(half, base, size):
            continue
        if any(t.va == base and t.level == level for t in tables):
            continue
        tables.append(TableAttrs(va=base, level=level, aptable=rng.choice(list(APTABLE_NAMES)),
                                 pxntable=rng.random() < 0.4, uxntable=rng.random() < 0.3))


# ---------------------------------------------------------------- steps

def _tbi(regime, va):
    return regime.tbi1 if va >> 55 & 1 else regime.tbi0


def _untagged(regime, va):
    """The VA translation sees: with TBI the top byte is a copy of bit 55."""
    if not _tbi(regime, va):
        return va
    return va & ((1 << 56) - 1) | (0xFF << 56 if va >> 55 & 1 else 0)


def _with_tag(rng, va):
    return va & ((1 << 56) - 1) | rng.randrange(1, 256) << 56


def _offset(rng, op, span, cross=True):
    """A byte offset into a span of `span` bytes for an access by op: aligned to its size or not.
    Only loads cross a 4 KiB boundary (into the next page, which may translate otherwise or
    not at all): a store across it could reach a frame that stores keep out of.  Not with cross
    False (Layout.may_cross)."""
    size = OP_SIZE[op]
    where = rng.choice(("start", "end", "any", "any"))
    if where == "start":
        offset = 0
    elif where == "end":
        offset = span - 0x1000
    else:
        offset = rng.randrange(span) & ~0xFFF
    page_off = rng.randrange(0x1000 - size + 1)
    if op in LOADS and op not in GCS_POINTER_OPS and size > 1 and rng.random() < 0.1 and cross:
        page_off = 0x1000 - rng.randrange(1, size)
    elif op == "fetch" or op in GCS_POINTER_OPS or rng.random() < 0.6:     # GCSPR_ELx's VA: a multiple of 8
        page_off &= ~(size - 1)
    if op in GCS_EX_RECORDS:        # an exception return record lies in one page (cases/validation.py)
        below = GCS_EX_RECORD_BYTES - 8 if op in GCS_EX_PUSHES else 0
        page_off = min(max(page_off, below), 0x1000 - GCS_EX_RECORD_BYTES + below)
    return max(offset, 0) + page_off


def _safe_for(layout, op, va):
    """Whether a step may go to va: never into the kernel's own mappings."""
    regime = layout.regime
    for v in {va, _untagged(regime, va)}:
        half = halves(regime)[v >> 55 & 1]
        if layout.collides_with_kernel(half, v - v % 0x1000, 0x1000):
            return False
    return True


def _slot_step_va(rng, layout, op, slot):
    """A VA in a slot for op, or None where op must keep out of it."""
    if op in STORES and slot.frame is not None and any(
            slot.frame[0] < end and start < slot.frame[0] + slot.frame[1] for start, end in
            ((lo, lo + size) for lo, size in layout.no_store)):
        if slot.window is None:
            return None
    if op == "fetch" and slot.kind == "raw":
        return None
    if op == "fetch" and slot.frame is not None and (not slot.code or slot.changed) and slot.window is None:
        return None
    if slot.window is not None:
        lo, hi = slot.window
        for _ in range(8):
            off = lo + (rng.randrange(hi - lo) & ~0xFFF) + _offset(rng, op, 0x1000, layout.may_cross)
            pa = slot.frame[0] + off
            if op in STORES and any(start <= pa < start + size for start, size in layout.no_store):
                continue
            if op == "fetch":
                return None     # no stub is planted outside the case's frames it knows
            return slot.va + off
        return None
    return slot.va + _offset(rng, op, slot.size, layout.may_cross)


def _random_step_va(rng, layout, op):
    regime = layout.regime
    lower, upper = halves(regime)
    kind = rng.random()
    if layout.slots and kind < 0.7:
        va = _slot_step_va(rng, layout, op, rng.choice(layout.slots))
        if va is None:
            return None
    elif kind < 0.85:
        half = rng.choice((lower, upper))
        va = half.lo + (rng.randrange(half.hi - half.lo) & ~0xFFF) + _offset(rng, op, 0x1000, layout.may_cross)
    else:
        # Outside both VA ranges: between the halves, bit 55 clear or set.
        if rng.random() < 0.5 and lower.hi < 1 << 55:
            va = rng.randrange(lower.hi, 1 << 55)
        elif upper.lo > 0xFF80 << 48:
            va = rng.randrange(0xFF80 << 48, upper.lo)
        else:
            return None
        va = va & ~0xFFF | _offset(rng, op, 0x1000, layout.may_cross)
    if op not in GCS_POINTER_OPS and rng.random() < 0.2:      # GCSPUSHM, GCSPOPM ...: GCSPR_ELx's VA, untagged
        va = _with_tag(rng, va)
    return va if _safe_for(layout, op, va) else None


def access_ops(layout):
    """The accesses a case's steps may make where they run (cases.py: EL2_REFUSED_OPS, the AT of
    each regime; AT S1E1RP/WP only with FEAT_PAN2, AT S1E1A/S1E2A with FEAT_ATS1A, the atomics with
    FEAT_LSE)."""
    mode, cpu = layout.mode, layout.cpu
    ats = [op for op in AT_OPS if all(cpu.has(f) for f in op_features(op))]
    el2_ats = [op for op in AT_S1E2_OPS if all(cpu.has(f) for f in op_features(op))]    # S1E2A: FEAT_ATS1A
    data = [op for op in DATA_OPS if all(cpu.has(f) for f in op_features(op))      # the atomics: FEAT_LSE
            and not (mode == "stage2" and op in GCS_STORES)]    # beyond the model under stage 2 (docs/model.md)
    if mode == "nvhe":
        return (*(op for op in data if op not in UNPRIVILEGED_OPS), "fetch", *el2_ats)
    return (*data, "fetch", *ats, *(el2_ats if mode == "vhe" else ()),
            *(AT_S12_OPS if mode == "stage2" else ()))


def el0_allowed(layout):
    """Whether steps may run at EL0: not in the EL2 regime (no EL0), nor where the kernel's EL0
    code runs from TTBR1 and E0PD1 denies EL0 that range (cases._check_layout)."""
    r = layout.regime
    return layout.mode != "nvhe" and not (r.e0pd1 and r.kernel_high)


def access_step(rng, layout, op=None, slot=None):
    """One access (a load, store, fetch or AT) at a VA the layout allows for it, at EL0 or at the
    case's EL; None where the drawn op may not go.  A fetch is drawn as often as FETCH_SHARE says and
    goes mostly to a frame with a stub (FETCH_TO_CODE)."""
    ops = access_ops(layout)
    op = op or frontier.draw_op(rng, layout, ops) or ("fetch" if rng.random() < FETCH_SHARE else rng.choice(ops))
    if op == "fetch" and slot is None and rng.random() < FETCH_TO_CODE:
        code = [s for s in layout.slots if s.code and not s.changed]
        slot = rng.choice(code) if code else None
    el = 0 if op in EL0_OPS and el0_allowed(layout) and rng.random() < 0.3 else 1
    va = _slot_step_va(rng, layout, op, slot) if slot is not None else _random_step_va(rng, layout, op)
    if va is None or not _safe_for(layout, op, va):
        return None
    value = rng.getrandbits(8 * STORES[op]) if op in STORES and op not in NO_VALUE else 0    # GCSPOPX: none
    return Step(op, va, value, PLACEHOLDER, el)


def _add_steps(rng, layout, steps):
    """Accesses, and now and then a sequence that changes a translation and its TLB entries
    (harness.fuzz.sequences) with accesses after it."""
    changes = sequences.possible(layout)
    for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 5, 6))):
        if changes and rng.random() < CHANGE_SHARE:
            sequences.add(rng, layout, steps)
            continue
        step = access_step(rng, layout)
        if step is not None:
            steps.append(step)


# ---------------------------------------------------------------- the case

def requirements(case, cpu):
    """The features a generated case uses, as `requires` (so that a rerun on a CPU without them
    skips it, and the loader's checks of feature use hold): its granules, controls, ops, stage 2
    and EL2 regime."""
    r, s2 = case.regime, case.stage2
    need = {f"granule{1 << (g - 10)}k" for g in {r.tg0, r.tg1}}
    defaults = Regime.__dataclass_fields__
    need |= {feature for key, feature in REGIME_FEATURES.items() if getattr(r, key) != defaults[key].default}
    need |= {f for s in case.steps for f in op_features(s.op)}
    if case.el2 == "vhe":
        need.add("FEAT_VHE")
    if s2 is not None:
        need.add(f"s2granule{1 << (s2.tg - 10)}k")
        need |= {next(f for f in features if cpu.has(f)) for key, features in STAGE2_FEATURES.items()
                 if getattr(s2, key)}
        pa_bits = geometry.s2_sl_min_pa_bits(s2.tg, s2.sl0, s2.sl2)
        if pa_bits:
            need.add(next(f for f in PA_AT_LEAST[pa_bits] if cpu.has(f)))
    return tuple(sorted(need))


def generate_case(seed, index, cpu, path=None):
    """Case `index` of campaign `seed` for this CPU, with PLACEHOLDER expectations (the
    model's replace them).  Deterministic: the same arguments give the same case."""
    rng = case_rng(seed, index)
    while True:
        mode = random_mode(rng, cpu)
        regime = frontier.draw_regime(rng, cpu, mode, random_regime(rng, cpu, mode), _mair_byte)
        layout = Layout(regime, cpu, mode)
        maps, raws, tables, steps = [], [], [], []
        if rng.random() < 0.06:
            _add_contiguous_run(rng, layout, maps)
        _add_maps(rng, layout, maps)
        _add_raws(rng, layout, maps, raws)
        _add_table_attrs(rng, layout, maps, tables)
        if mode == "stage2":
            layout.stage2 = gen_stage2.random_stage2(rng, layout)
        _add_steps(rng, layout, steps)
        if any(s.op not in MAINT_OPS for s in steps):
            break
    if layout.space1 is not None:
        # The second table set: the first's TTBR0 half, but for the mappings Layout.space1 changes.
        lower = [layout.space1.get((m.va, m.level), m) for m in maps if not m.va >> 55 & 1]
        maps += [replace(m, space=1) for m in lower if m is not None]
        raws += [replace(r, space=1) for r in raws if not r.va >> 55 & 1]
        size = halves(regime)[0].size
        # A table's attributes where a mapping of the set still makes the table (build_tables: before the raws).
        tables += [replace(t, space=1) for t in tables if not t.va >> 55 & 1 and any(
            m is not None and m.level > t.level and t.va <= m.va < t.va + size(t.level) for m in lower)]
    path = Path(path or f"results/fuzz/{seed}-{index}.toml")
    case = Case(path=path, family=path.stem, feature=FEATURE, name=case_name(seed, index), summary="generated",
                regime=regime, maps=tuple(maps), raws=tuple(raws), tables=tuple(tables), steps=tuple(steps),
                stage2=layout.stage2, el2=mode if mode in EL2_MODES else None)
    return replace(case, requires=requirements(case, cpu))
