"""The translation tables and registers a case declares, built in Python the
way the kernel builds them (kernel/tables.c build_tables and map_kernel,
kernel/pgtable.c, kernel/mmu.c), so the reference model can evaluate every
step of a case offline.

This is the case's layout, not the model: it mirrors the kernel's table
builder (and the kernel's own mappings: its window, the UART and its EL0 code
page, identity in TTBR0 or at their TTBR1 alias when the regime sends the
kernel there; under WXN the window in pages, code read-only and data
execute-never), its bump allocator, the frames it zeroes and the fetch stubs
it plants.
"""
from functools import lru_cache

from harness.cases import (
    LAYOUT, MAINT_OPS, RANGE_TLBI, S2_RANGE_TLBI, S2_TLBI_OPS, S2AP_NAMES, STAGE2_MAINT_OPS, TLBI_OPS, range_tg, range_unit,
    tlbi_takes_asid,
)
from harness.kdefs import kernel_header, read_constants, read_defines
from harness.model.attributes import SH_CODES
from harness.model.descriptors import (
    AP_VALUES, APTABLE_VALUES, DESC_AF, DESC_AP, DESC_ATTRINDX, DESC_ATTRINDX3, DESC_CONTIG, DESC_DBM, DESC_NG, DESC_OA_DS_HI,
    DESC_OA_LPA_HI, DESC_PXN, DESC_SH, DESC_UXN, TABLE_AP, TABLE_PXN, TABLE_UXN,
)
from harness.model.memory import Memory, UnknownMemory
from harness.model.registers import (
    SCTLR_A, SCTLR_C, SCTLR_CMOW, SCTLR_DZE, SCTLR_EPAN, SCTLR_I, SCTLR_M, SCTLR_SPAN, SCTLR_UCI, SCTLR_WXN, TCR_A1, TCR_AS, TCR_DS, TCR_E0PD0, TCR_E0PD1, TCR_EPD0,
    TCR_EPD1, TCR_HA, TCR_HD, TCR_HPD0, TCR_HPD1, TCR_IPS, TCR_SH0, TCR_SH1, TCR_T0SZ, TCR_T1SZ, TCR_TBI0, TCR_TBI1,
    TCR_TG0, TCR_TG1, TG0_GRANULE, TG1_GRANULE, TTBR_BADDR_HI, HCR_E2H, HCR_NV, HCR_NV1, HCRX_FNXS, HCR_RW, HCR_TDZ, HCR_TPCP, HCR_TPU, HCR_TGE, Registers,
    REGIME_EL2, REGIME_EL20, SCTLR_EL2_RES1, TCR_EL2_DS, TCR_EL2_HA, TCR_EL2_HD, TCR_EL2_HPD, TCR_EL2_PS, TCR_EL2_RES1,
    TCR_EL2_SH0, TCR_EL2_T0SZ, TCR_EL2_TBI, TCR_EL2_TG0,
)
from harness.model.stage2 import (
    HCR_FWB, HCR_VM, S2_AP, S2_MEMATTR, S2_XN, VTCR_DS, VTCR_HA, VTCR_HD, VTCR_PS, VTCR_S2PIE, VTCR_SL0, VTCR_SL2, VTCR_T0SZ,
    VTCR_TG0, VTCR_TG0_GRANULE, VTCR_VS,
)
from harness.model.walk import level_lsb, s1_start_level

_PROBE = read_defines(kernel_header("probe.h"))
FETCH_MAGIC = _PROBE["FETCH_MAGIC"]
FETCH_STUB = (0xD2800000 | FETCH_MAGIC << 5, 0xD65F03C0)   # A64_MOVZ_X0(FETCH_MAGIC), A64_RET (probe.h)

# Where the kernel's table pool is (layout.h; its first table is TTBR0's root).
TABLE_POOL_BASE = LAYOUT["TABLE_POOL_BASE"]

# TCR_EL1 bits mmu.c sets in every regime: IRGNn/ORGNn Write-Back, SHn Inner Shareable.
_TCR_WALK_ATTRS = 1 << 8 | 1 << 10 | 1 << 24 | 1 << 26
_TCR_EL2_WALK_ATTRS = 1 << 8 | 1 << 10         # TCR_EL2 (E2H = 0): IRGN0, ORGN0 only
_SH_INNER = SH_CODES["inner"]
# SCTLR_EL1 RES1 bits of Armv8.0 (sysreg.h SCTLR_RES1; bit 23 is SPAN with FEAT_PAN).
_SCTLR_RES1 = 1 << 29 | 1 << 28 | SCTLR_SPAN.mask | 1 << 22 | 1 << 20 | 1 << 11

_OA_48, _OA_52_LPA, _OA_52_DS = "48", "52_lpa", "52_ds"
_IPS_52 = 6


class LayoutError(ValueError):
    """The kernel would refuse to build this case (its `error` record)."""


class _Pool:
    """pgtable.c's table_pool: a bump allocator of zeroed, granule-aligned tables."""

    def __init__(self, base):
        self.base, self.used = base, 0
        self.zero = []

    def alloc(self, granule):
        return self.alloc_bytes(1 << granule)

    def alloc_bytes(self, size):
        """table_alloc_size: size bytes (a power of two), aligned to size."""
        start = -(-self.used // size) * size
        self.used = start + size
        self.zero.append((self.base + start, self.base + start + size))
        return self.base + start


def _oa_encode(granule, oa_format, pa):
    """pgtable.c oa_encode: an output or table address as a descriptor of the format holds it."""
    field = pa & ((1 << 48) - (1 << granule))
    if oa_format == _OA_52_LPA:
        return field | (pa >> 48 << DESC_OA_LPA_HI.shift) & DESC_OA_LPA_HI.mask
    if oa_format == _OA_52_DS:
        field = pa & ((1 << 50) - (1 << granule))
        return field | (pa >> 50 << DESC_OA_DS_HI.shift) & DESC_OA_DS_HI.mask
    return field


def _leaf(granule, oa_format, pa, level, prot):
    """pte_leaf: a block above level 3, a page at level 3; with DS, bits[9:8] hold OA, not SH."""
    if oa_format == _OA_52_DS:
        prot &= ~DESC_SH.mask
    return _oa_encode(granule, oa_format, pa) | prot | (0b11 if level == 3 else 0b01)


class _Tables:
    """pgtable.c's struct pgtable: one TTBR's tables."""

    def __init__(self, pool, words, granule, va_bits, oa_format):
        self.pool, self.words, self.granule, self.va_bits, self.oa_format = pool, words, granule, va_bits, oa_format
        self.start = s1_start_level(granule, 64 - va_bits)
        self.root = pool.alloc(granule)
        self.made = []          # (pa, descriptor) of each table descriptor slot() made, in order

    def index(self, va, level):
        shift = level_lsb(self.granule, level)
        bits = self.va_bits - shift if level == self.start else self.granule - 3
        return va >> shift & ((1 << bits) - 1)

    def oa_encode(self, pa):
        return _oa_encode(self.granule, self.oa_format, pa)

    def oa_decode(self, desc):
        if self.oa_format == _OA_52_LPA:
            return desc & ((1 << 48) - (1 << self.granule)) | DESC_OA_LPA_HI.get(desc) << 48
        if self.oa_format == _OA_52_DS:
            return desc & ((1 << 50) - (1 << self.granule)) | DESC_OA_DS_HI.get(desc) << 50
        return desc & ((1 << 48) - (1 << self.granule))

    def ttbr(self):
        """pgt_ttbr: the root, with BADDR[51:48] in bits[5:2] for a 52-bit format."""
        if self.oa_format == _OA_48:
            return self.root
        return self.root & ((1 << 48) - 2) | self.root >> 48 << TTBR_BADDR_HI.shift

    def slot(self, va, level):
        """pgt_slot: the descriptor address for va at level, making the tables above it."""
        if not self.start <= level <= 3:
            raise LayoutError(f"level {level} outside {self.start}..3")
        table = self.root
        for lv in range(self.start, level):
            entry_pa = table + 8 * self.index(va, lv)
            entry = self.words.get(entry_pa, 0)
            if entry == 0:
                entry = self.oa_encode(self.pool.alloc(self.granule)) | 0b11
                self.words[entry_pa] = entry
                self.made.append((entry_pa, entry))
            elif entry & 0b11 != 0b11:
                raise LayoutError(f"occupied: a leaf or raw descriptor above {va:#x} at level {lv}")
            table = self.oa_decode(entry)
        return table + 8 * self.index(va, level)

    def table_at(self, va, level):
        """The table that holds the level `level` descriptor of va, as the tables are now
        (none made: a `link` step points at a table that exists)."""
        table = self.root
        for lv in range(self.start, level):
            entry = self.words.get(table + 8 * self.index(va, lv), 0)
            if entry & 0b11 != 0b11:
                raise LayoutError(f"link: no level {level} table for {va:#x} (level {lv} holds no table descriptor)")
            table = self.oa_decode(entry)
        return table

    def table_prot(self, va, level, bits):
        """pgt_table_prot: hierarchical attributes added to the table descriptor for va at level."""
        slot = self.slot(va, level)
        if self.words.get(slot, 0) & 0b11 != 0b11:
            raise LayoutError(f"tables: no table descriptor for {va:#x} at level {level}")
        self.words[slot] |= bits

    def raw(self, va, level, desc):
        """A raw descriptor at the slot for va at level (tables.c build_tables)."""
        self.words[self.slot(va, level)] = desc

    def map(self, va, pa, level, prot):
        """pgt_map with pte_leaf: a block above level 3, a page at level 3; with DS, bits[9:8] hold OA."""
        size = 1 << level_lsb(self.granule, level)
        if (va | pa) & (size - 1):
            raise LayoutError(f"misaligned mapping {va:#x} -> {pa:#x}")
        self.words[self.slot(va, level)] = _leaf(self.granule, self.oa_format, pa, level, prot)

    def map_run(self, va, pa, level, prot, count):
        """map() of `count` consecutive leaves from va -> pa, as map_kernel's loop makes them, at a
        table's cost rather than a leaf's: each table's first slot found (and the tables above it
        made) once, then its leaves written in a row.  Leaf k is leaf 0 plus k sizes while the
        output addresses stay inside the descriptor's OA field (checked on the last leaf)."""
        size = 1 << level_lsb(self.granule, level)
        if (va | pa) & (size - 1):
            raise LayoutError(f"misaligned mapping {va:#x} -> {pa:#x}")
        first = _leaf(self.granule, self.oa_format, pa, level, prot)
        if _leaf(self.granule, self.oa_format, pa + (count - 1) * size, level, prot) != first + (count - 1) * size:
            raise ValueError(f"map_run: {pa:#x} + {count} x {size:#x} leaves the output address field")
        per_table = 1 << (self.va_bits - level_lsb(self.granule, level) if level == self.start else self.granule - 3)
        done = 0
        while done < count:
            here = va + done * size
            n = min(count - done, per_table - self.index(here, level))
            slot, leaf = self.slot(here, level), first + done * size
            self.words.update(zip(range(slot, slot + 8 * n, 8), range(leaf, leaf + n * size, size)))
            done += n

    def walk(self, va, read, reads=None):
        """pgt_walk, the kernel's own walk: the PA of va, or None.  read(pa) gives
        the descriptor at pa, or None where the kernel's walk may not read; each
        descriptor read is appended to `reads` as (level, table, index, descriptor)."""
        table = self.root
        for level in range(self.start, 4):
            desc = read(table + 8 * self.index(va, level))
            if desc is None:
                return None
            if reads is not None:
                reads.append((level, table, self.index(va, level), desc))
            if level < 3 and desc & 0b11 == 0b11:
                table = self.oa_decode(desc)
                continue
            if desc & 1 and (level < 3 or desc & 0b10):
                size = 1 << level_lsb(self.granule, level)
                return self.oa_decode(desc) & ~(size - 1) | va & (size - 1)
            return None
        return None


class _S2Tables(_Tables):
    """stage2.c's tables (pgt_init_level): the start level VTCR_EL2.SL0 (and SL2) names, its
    table as large as the IPA bits it resolves (concatenated tables), in the format
    stage2_oa_format gives: 52-bit with DS, or with 64K and a 52-bit PS."""

    def __init__(self, pool, words, granule, ipa_bits, start, oa_format):
        self.pool, self.words, self.granule, self.va_bits, self.oa_format = pool, words, granule, ipa_bits, oa_format
        self.start = start
        self.root = pool.alloc_bytes(max(1 << granule, 8 << (ipa_bits - level_lsb(granule, start))))
        self.made = []


def _s2_prot(memattr, s2ap, sh, xn=0, af=True, contig=False, dbm=False):
    """s2_prot_bits."""
    return (memattr << S2_MEMATTR.shift | S2AP_VALUES[s2ap] << S2_AP.shift | SH_CODES[sh] << DESC_SH.shift
            | xn << S2_XN.shift | af * DESC_AF.mask | contig * DESC_CONTIG.mask | dbm * DESC_DBM.mask)


_HWDEF = read_constants(kernel_header("pgtable-hwdef.h"))
S2AP_VALUES = {name: _HWDEF[define] for name, define in S2AP_NAMES.items()}
_S2_KERNEL_RAM = _s2_prot(_HWDEF["S2_MEMATTR_NORMAL_WB"], "rw", "inner")
_S2_KERNEL_DEVICE = _s2_prot(_HWDEF["S2_MEMATTR_DEVICE_NGNRE"], "rw", "non", xn=_HWDEF["S2_XN_ALL"])


def build_stage2(case, tables):
    """stage2.c stage2_build after the root: the kernel's window and UART at IPA = PA
    (map_kernel_ipa: the UART page, then level-2 blocks where they divide the window,
    else pages, never above the start level), then the case's s2map and s2raw."""
    level = 3 if LAYOUT["KERNEL_WINDOW_SIZE"] % (1 << level_lsb(tables.granule, 2)) else 2
    level = max(level, case.stage2.start_level)
    size = 1 << level_lsb(tables.granule, level)
    tables.map(LAYOUT["UART_BASE"], LAYOUT["UART_BASE"], 3, _S2_KERNEL_DEVICE)
    tables.map_run(LAYOUT["KERNEL_WINDOW_BASE"], LAYOUT["KERNEL_WINDOW_BASE"], level, _S2_KERNEL_RAM,
                   LAYOUT["KERNEL_WINDOW_SIZE"] // size)
    for m in case.stage2.maps:
        tables.map(m.ipa, m.pa, m.level, _s2_prot(m.memattr, m.s2ap, m.sh, m.xn, m.af, m.contig, m.dbm))
    for w in case.stage2.raws:
        tables.raw(w.va, w.level, w.desc)


def _prot(attrindx, ap="rw_el1", sh="non", af=True, ng=False, pxn=False, uxn=False, contig=False, dbm=False):
    """pte_prot_bits."""
    return ((attrindx & 7) << DESC_ATTRINDX.shift | (attrindx >> 3) << DESC_ATTRINDX3.shift
            | AP_VALUES[ap] << DESC_AP.shift | SH_CODES[sh] << DESC_SH.shift
            | af * DESC_AF.mask | ng * DESC_NG.mask | pxn * DESC_PXN.mask | uxn * DESC_UXN.mask
            | contig * DESC_CONTIG.mask | dbm * DESC_DBM.mask)


# tables.c's kernel_prots: (ram, device, text, data, EL0 code page) in the EL1&0 regime, and in the EL2
# regime (E2H = 0), where AP[1] is RES1, desc<53> RES0 and desc<54> is XN.
_NORMAL = LAYOUT["KERNEL_ATTRIDX_NORMAL"]
_KERNEL_PROTS = (
    _prot(_NORMAL, sh="inner", uxn=True), _prot(LAYOUT["KERNEL_ATTRIDX_DEVICE"], pxn=True, uxn=True),
    _prot(_NORMAL, ap="ro_el1", sh="inner", uxn=True), _prot(_NORMAL, sh="inner", pxn=True, uxn=True),
    _prot(_NORMAL, ap="ro_all", sh="inner", pxn=True),
)
# ... and in a case with HCR_EL2.NV1 (tables.c kernel_nv): code without UXN, which NV1 reads as PXN.
_KERNEL_PROTS_NV = (
    _prot(_NORMAL, sh="inner"), _prot(LAYOUT["KERNEL_ATTRIDX_DEVICE"], pxn=True, uxn=True),
    _prot(_NORMAL, ap="ro_el1", sh="inner"), _prot(_NORMAL, sh="inner", pxn=True, uxn=True),
    _prot(_NORMAL, ap="ro_all", sh="inner", pxn=True),
)
_KERNEL_PROTS_EL2 = (
    _prot(_NORMAL, ap="rw_all", sh="inner"), _prot(LAYOUT["KERNEL_ATTRIDX_DEVICE"], ap="rw_all", uxn=True),
    _prot(_NORMAL, ap="ro_all", sh="inner"), _prot(_NORMAL, ap="rw_all", sh="inner", uxn=True),
    _prot(_NORMAL, ap="ro_all", sh="inner"),
)


def _map_kernel(tables, window_va, uart_va, el0_va, wxn, prots=_KERNEL_PROTS):
    """tables.c map_kernel: the UART page, the EL0 code page, then the window in
    level-2 blocks where they fit, else pages (always pages under WXN, the
    code read-only, the rest execute-never)."""
    ram, device, text_prot, data, el0_code = prots
    level = 3 if wxn or LAYOUT["KERNEL_WINDOW_SIZE"] % (1 << level_lsb(tables.granule, 2)) else 2
    size = 1 << level_lsb(tables.granule, level)
    tables.map(uart_va, LAYOUT["UART_BASE"], 3, device)
    tables.map(el0_va, LAYOUT["EL0_CODE_PA"], 3, el0_code)
    base, end = LAYOUT["KERNEL_WINDOW_BASE"], LAYOUT["KERNEL_WINDOW_BASE"] + LAYOUT["KERNEL_WINDOW_SIZE"]
    runs = ([(base, LAYOUT["KERNEL_BASE"], data), (LAYOUT["KERNEL_BASE"], LAYOUT["KERNEL_TEXT_END"], text_prot),
             (LAYOUT["KERNEL_TEXT_END"], end, data)] if wxn else [(base, end, ram)])
    for lo, hi, prot in runs:
        tables.map_run(window_va + lo - base, lo, level, prot, (hi - lo) // size)


def s2_oa_format(stage2):
    """stage2.c stage2_oa_format: 52-bit with DS, or with 64K and a 52-bit PS."""
    return (_OA_52_LPA if stage2.tg == 16 else _OA_52_DS) if stage2.oa52 else _OA_48


def _oa_format(regime, granule):
    """tables.c oa_format."""
    if granule == 16:
        return _OA_52_LPA if regime.ips == _IPS_52 else _OA_48
    return _OA_52_DS if regime.ds else _OA_48


def build_tables(case, new_tables):
    """tables.c build_tables: the roots, the kernel's own mappings, each further TTBR0
    table set (case.spaces) with the kernel's mappings, then the case's maps, table
    attributes and raw descriptors, in that order.  new_tables(granule, va_bits,
    oa_format) makes one TTBR's tables (a _Tables, or another builder with its
    methods).  Returns (tt0, tt1, spaces): the tables VA bit 55 selects as the steps
    start, and TTBR0's table sets (spaces[0] is tt0)."""
    r = case.regime
    tt0 = new_tables(r.tg0, 64 - r.t0sz, _oa_format(r, r.tg0))
    tt1 = new_tables(r.tg1, 64 - r.t1sz, _oa_format(r, r.tg1))
    low = (LAYOUT["KERNEL_WINDOW_BASE"], LAYOUT["UART_BASE"], LAYOUT["EL0_CODE_VA"], r.wxn)
    prots = _KERNEL_PROTS_EL2 if case.el2 == "nvhe" else _KERNEL_PROTS_NV if r.nv1 else _KERNEL_PROTS
    if not r.kernel_high:
        _map_kernel(tt0, *low, prots)
    else:
        boot = new_tables(r.tg0, 48, _oa_format(r, r.tg0))
        _map_kernel(boot, *low)
        _map_kernel(tt1, LAYOUT["KERNEL_ALIAS_BASE"], LAYOUT["UART_ALIAS_BASE"], LAYOUT["EL0_CODE_ALIAS_VA"], r.wxn)
    spaces = [tt0]
    for _ in range(1, case.spaces):
        spaces.append(new_tables(r.tg0, 64 - r.t0sz, _oa_format(r, r.tg0)))
        _map_kernel(spaces[-1], *low, prots)

    def tables(entry):
        return tt1 if entry.va >> 55 & 1 else spaces[entry.space]

    for m in case.maps:
        prot = _prot(m.attrindx, m.ap, m.sh, m.af, m.ng, m.pxn, m.uxn, m.contig, m.dbm)
        tables(m).map(m.va, m.pa, m.level, prot)
    for t in case.tables:
        bits = APTABLE_VALUES[t.aptable] << TABLE_AP.shift | t.pxntable * TABLE_PXN.mask | t.uxntable * TABLE_UXN.mask
        tables(t).table_prot(t.va, t.level, bits)
    for w in case.raws:
        tables(w).raw(w.va, w.level, w.desc)
    return tt0, tt1, spaces


def _half_format(case, va):
    """(granule shift, descriptor format) of the tables VA bit 55 selects."""
    r = case.regime
    granule = r.tg1 if va >> 55 & 1 else r.tg0
    return granule, _oa_format(r, granule)


def _oa_mask(granule, oa_format):
    """The descriptor bits that hold the output address in a leaf of the format."""
    return _oa_encode(granule, oa_format, (1 << 52) - 1)


def descriptor_write(case, step, n=None, pool_base=TABLE_POOL_BASE):
    """(value, mask) of a descriptor-write step (cases.DESC_WRITES, S2_DESC_WRITES; n:
    its index in the case; pool_base: where the kernel's tables are, for `link`), as
    kernel/maint.c applies it to the slot: slot = (slot & ~mask) | value.
    map writes pte_leaf's descriptor, unmap 0, write_desc its desc, link the table
    descriptor of the next-level table of its `table_of` as the steps before it left
    the tables; protect replaces every bit but the output address and the descriptor
    type (bits[1:0]); the s2_ forms likewise with stage 2's attributes.  So do fix-ups
    (a retry step's `fixup`): map and copy write the leaf, set_af sets AF."""
    every = 2**64 - 1
    if step.fixup == "set_af":
        return DESC_AF.mask, DESC_AF.mask
    if step.op in ("unmap", "s2_unmap"):
        return 0, every
    if step.op in ("link", "s2_link"):
        return _layout(case, pool_base)[5][n], every
    if step.op in ("write_desc", "s2_write_desc"):
        return step.value, every
    m = step.mapping
    if step.op in ("s2_map", "s2_protect"):
        # stage2.c's s2_prot_bits in pte_leaf's 48-bit format (stage 2 tables hold no other here).
        prot = _s2_prot(m.memattr, m.s2ap, m.sh, m.xn, m.af, m.contig, m.dbm)
        leaf = _leaf(case.stage2.tg, _OA_48, m.pa if step.op == "s2_map" else 0, step.level, prot)
        if step.op == "s2_map":
            return leaf, every
        mask = every & ~_oa_mask(case.stage2.tg, _OA_48) & ~0b11
        return leaf & mask, mask
    granule, fmt = _half_format(case, step.va)
    prot = _prot(m.attrindx, m.ap, m.sh, m.af, m.ng, m.pxn, m.uxn, m.contig, m.dbm)
    if step.op == "map" or step.fixup:
        return _leaf(granule, fmt, m.pa, step.level, prot), every
    mask = every & ~_oa_mask(granule, fmt) & ~0b11
    return _leaf(granule, fmt, 0, step.level, prot) & mask, mask


# TLBI by range's TG field, by granule shift (Arm ARM C5.5; 0b00 is reserved).
_TLBIR_TG = {12: 0b01, 14: 0b10, 16: 0b11}


def tlbi_operand(case, step):
    """Xt of a TLBI step as kernel/maint.c executes it (Arm ARM C5.5, the TLBI operands).
    By VA and/or ASID: ASID in bits[63:48], VA[55:12] in bits[43:0] (Linux's __TLBI_VADDR).
    By range (FEAT_TLBIRANGE): ASID[63:48], TG[47:46], SCALE[45:44], NUM[43:39],
    TTL[38:37] and BaseADDR[36:0], the VA in units of range_unit (Linux's __TLBI_VADDR_RANGE).
    EL2's TLBI IPAS2*: IPA[51:12] in bits[39:0], TTL 0 (Linux's __kvm_tlb_flush_vmid_ipa passes
    ipa >> 12); VMALLS12E1, ALLE1: none; RIPAS2*: the range fields, BaseADDR the IPA in units
    of range_unit (of stage 2's granule), NS[63] 0 (Linux's __kvm_tlb_flush_vmid_range)."""
    if step.op in S2_TLBI_OPS and step.op not in S2_RANGE_TLBI:
        return step.va >> 12 & ((1 << 40) - 1) if S2_TLBI_OPS[step.op] else 0
    asid = step.asid << 48 if step.op in TLBI_OPS and tlbi_takes_asid(step.op, case.el2 == "vhe") else 0
    if step.op in RANGE_TLBI or step.op in S2_RANGE_TLBI:
        t = step.tlbi_range
        base = step.va >> range_unit(case.regime, step, case.stage2) & ((1 << 37) - 1)
        return (asid | _TLBIR_TG[range_tg(case.regime, step, case.stage2)] << 46 | t.scale << 44 | t.num << 39
                | t.ttl << 37 | base)
    takes_va = TLBI_OPS[step.op][0]
    return asid | (step.va >> 12 & ((1 << 44) - 1) if takes_va else 0)


def _step_slots(case, spaces, tt1, s2=None):
    """The descriptor steps run on the tables the build left, in order:
    ({step n: (slot PA, table descriptors pgt_slot made for it)}, {link step n:
    its descriptor}).  The tables it makes come from the pool after the build's
    (maint.c calls pgt_slot); a stage 2 step's slot is in s2, the stage 2 tables,
    for its IPA."""
    slots, links, words = {}, {}, dict(tt1.words)
    for tables in (*spaces, tt1, *([s2] if s2 is not None else [])):
        tables.words = words
    for n, step in enumerate(case.steps):
        if step.level is None:
            continue
        tables = s2 if step.op in STAGE2_MAINT_OPS else tt1 if step.va >> 55 & 1 else spaces[step.space]
        tables.made = []
        slot = tables.slot(step.va, step.level)
        slots[n] = (slot, tuple(tables.made))
        if step.op in ("link", "s2_link"):
            links[n] = words[slot] = tables.oa_encode(tables.table_at(step.value, step.level + 1)) | 0b11
        elif step.op not in ("read_desc", "s2_read_desc"):
            value, mask = descriptor_write(case, step)
            words[slot] = words.get(slot, 0) & ~mask | value
    return slots, links


# A case's layout is asked for while that case is loaded and judged (its walk digest, the model's
# memory, its declared walks), a few cases at a time: 512 kept alive held 14 MB of a run's peak.
@lru_cache(maxsize=32)
def _layout(case, pool_base):
    """build_tables, the frames run_case zeroes and the stubs it plants:
    (memory, ttbr0, ttbr1, vttbr, step slots, link steps' descriptors, each TTBR0
    table set's TTBR0 (ASID 0))."""
    r = case.regime
    pool, words = _Pool(pool_base), {}
    tt0, tt1, spaces = build_tables(case, lambda granule, va_bits, fmt: _Tables(pool, words, granule, va_bits, fmt))

    def table_for(va):
        return tt1 if va >> 55 & 1 else tt0

    s2 = None
    if case.stage2 is not None:
        s = case.stage2
        s2 = _S2Tables(pool, words, s.tg, s.ips_bits, s.start_level, s2_oa_format(s))
        build_stage2(case, s2)
    # The steps run after the stage 2 is built; the tables they make are zeroed when made,
    # and nothing reads them before.
    slots, links = _step_slots(case, spaces, tt1, s2)
    zero = list(pool.zero)
    frame_lo, frame_hi = LAYOUT["FRAME_POOL_BASE"], LAYOUT["FRAME_POOL_BASE"] + LAYOUT["FRAME_POOL_SIZE"]
    leaves = [(m.pa, 1 << level_lsb(table_for(m.va).granule, m.level)) for m in case.maps]
    if s2 is not None:
        leaves += [(m.pa, 1 << level_lsb(s2.granule, m.level)) for m in case.stage2.maps]
    for pa, size in leaves:
        if frame_lo <= pa and pa + size <= frame_hi:
            zero.append((pa, pa + size))
    memory = Memory(words, zero)
    ram_end = LAYOUT["RAM_BASE"] + LAYOUT["RAM_SIZE"]
    window_lo, window_hi = LAYOUT["KERNEL_WINDOW_BASE"], LAYOUT["KERNEL_WINDOW_BASE"] + LAYOUT["KERNEL_WINDOW_SIZE"]

    def read(pa):
        """What the kernel's walk reads: its window only (steps.c `window`); what the
        model does not know of the window (not tables, not zeroed frames) ends the walk."""
        if not window_lo <= pa < window_hi:
            return None
        try:
            return memory.read64(pa)
        except UnknownMemory:
            return None

    for step in case.steps:
        if step.op == "fetch":
            pa = table_for(step.va).walk(step.va, read)
            if pa is not None and s2 is not None:
                pa = s2.walk(pa, read)
            if pa is not None and pa >= frame_lo and pa + 8 <= ram_end and not pa & 3:
                memory.write(pa, 4, FETCH_STUB[0])
                memory.write(pa + 4, 4, FETCH_STUB[1])
    ttbr1 = r.ttbr1 if r.ttbr1 is not None else tt1.ttbr()
    vttbr = None if s2 is None else s2.root | case.stage2.vmid << 48
    if r.ttbr1 is not None:
        # A verbatim TTBR1_EL1 points the upper half's walks elsewhere (pgtable.c pgt_ttbr_table).
        tt1.root = (r.ttbr1 & ((1 << 48) - 2) if tt1.oa_format == _OA_48 else
                    r.ttbr1 & ((1 << 48) - (1 << 6)) | TTBR_BADDR_HI.get(r.ttbr1) << 48)
    walks = {n: _step_walk(case, step.va, tt0, tt1, s2, read) for n, step in enumerate(case.steps[:first_change(case)])}
    return memory, tt0.ttbr(), ttbr1, vttbr, slots, links, tuple(t.ttbr() for t in spaces), walks


def first_change(case):
    """The index of the first step that changes the tables or registers (MAINT_OPS, a fix-up),
    or the number of steps: the declared layout is what the steps before it walk."""
    return next((n for n, step in enumerate(case.steps) if step.op in MAINT_OPS or step.fixup), len(case.steps))


def _step_walk(case, va, tt0, tt1, s2, read):
    """steps.c walk_step: the descriptors the kernel's walk of va reads, ((stage, level, table,
    index, descriptor), ...): none where the hardware reads none (the EL2 regime's upper half,
    walks disabled by EPDn, the VA outside its TTBR's range)."""
    r = case.regime
    upper = va >> 55 & 1
    tables = tt1 if upper else tt0
    top = ((1 << 56) if (r.tbi1 if upper else r.tbi0) else (1 << 64)) - (1 << tables.va_bits)
    if upper and case.el2 == "nvhe" or (r.epd1 if upper else r.epd0) or va & top != (top if upper else 0):
        return ()
    reads = []
    pa = tables.walk(va, read, reads)
    walk = [(1, *read_) for read_ in reads]
    if s2 is not None and pa is not None:
        reads = []
        s2.walk(pa, read, reads)
        walk += [(2, *read_) for read_ in reads]
    return tuple(walk)


def declared_memory(case, pool_base=TABLE_POOL_BASE):
    """(Memory, ttbr0, ttbr1): the tables the kernel builds for the case, the
    case's zeroed frames and the fetch stubs, as the steps start.  The Memory
    is the caller's to change."""
    memory, ttbr0, ttbr1, *_ = _layout(case, pool_base)
    return memory.copy(), ttbr0, ttbr1


def space_ttbrs(case, pool_base=TABLE_POOL_BASE):
    """TTBR0_EL1 (ASID 0) of each of the case's TTBR0 table sets, as set_ttbr0 writes it."""
    return _layout(case, pool_base)[6]


def step_walks(case, pool_base=TABLE_POOL_BASE):
    """{step n: ((stage, level, table, index, descriptor), ...)}: what the kernel's walk of
    each step's VA reads in the declared tables, for the steps before the first that changes
    them (first_change)."""
    return _layout(case, pool_base)[7]


def step_slots(case, pool_base=TABLE_POOL_BASE):
    """{step n: (descriptor PA, ((table descriptor PA, value), ...))} for each
    descriptor step (write or read): the slot kernel/maint.c reaches and the
    table descriptors it makes on the way (pgt_slot), written at that step."""
    return _layout(case, pool_base)[4]


def _tcr(r):
    """mmu.c tcr_from_regime."""
    tg0 = {g: code for code, g in TG0_GRANULE.items()}[r.tg0]
    tg1 = {g: code for code, g in TG1_GRANULE.items()}[r.tg1]
    return (r.t0sz << TCR_T0SZ.shift | tg0 << TCR_TG0.shift | _SH_INNER << TCR_SH0.shift
            | r.t1sz << TCR_T1SZ.shift | tg1 << TCR_TG1.shift | _SH_INNER << TCR_SH1.shift | _TCR_WALK_ATTRS
            | r.ips << TCR_IPS.shift | r.epd0 << TCR_EPD0.shift | r.epd1 << TCR_EPD1.shift
            | r.tbi0 << TCR_TBI0.shift | r.tbi1 << TCR_TBI1.shift | r.ds << TCR_DS.shift
            | r.ha << TCR_HA.shift | r.hd << TCR_HD.shift | r.hpd0 << TCR_HPD0.shift | r.hpd1 << TCR_HPD1.shift
            | r.e0pd0 << TCR_E0PD0.shift | r.e0pd1 << TCR_E0PD1.shift
            | r.asid16 << TCR_AS.shift | r.a1 << TCR_A1.shift)


def case_registers(case, ids, pool_base=TABLE_POOL_BASE):
    """The Registers a case runs its steps with: TCR_EL1, MAIR_EL1 and SCTLR_EL1
    (TCR_EL2, ... for a case at EL2) as mmu.c programs them, the TTBRs of its declared tables,
    HCR_EL2 where it has one, and the CPU's ID registers ids = (mmfr0, mmfr1, mmfr2, isar0)
    (features.ID_REGISTERS; the walks need the MMFRs only)."""
    _, ttbr0, ttbr1, vttbr, *_ = _layout(case, pool_base)
    r = case.regime
    sctlr = (_SCTLR_RES1 | SCTLR_M.mask | SCTLR_C.mask | SCTLR_I.mask | SCTLR_UCI.mask | r.sctlr_a * SCTLR_A.mask
             | r.wxn * SCTLR_WXN.mask | r.epan * SCTLR_EPAN.mask | r.dze * SCTLR_DZE.mask
             | r.cmow * SCTLR_CMOW.mask) & ~((not r.span) * SCTLR_SPAN.mask)
    mmfr0, mmfr1, mmfr2, *_ = ids
    # The later features' registers mmu.c writes whole (a case setting one requires its feature); DCZID_EL0, the
    # boot record's last (features.Ids), for DC ZVA's block.
    # CLIDR_EL1 and CTR_EL0 after it, for the NOPs a DC or IC by VA may be.
    extended = dict(tcr2=r.tcr2, pir=r.pir, pire0=r.pire0, mair2=r.mair2, dczid=ids[9] if len(ids) > 9 else 0,
                    clidr=ids[10] if len(ids) > 10 else 0, ctr=ids[11] if len(ids) > 11 else 0)
    if case.el2 == "nvhe":
        # The EL2 regime: TCR_EL2, SCTLR_EL2 in their own layouts, MAIR_EL2, TTBR0_EL2 (no TTBR1).
        sctlr = SCTLR_EL2_RES1 | SCTLR_M.mask | SCTLR_C.mask | SCTLR_I.mask | r.sctlr_a * SCTLR_A.mask \
            | r.wxn * SCTLR_WXN.mask
        return Registers(tcr=_tcr_el2(r), mair=r.mair, sctlr=sctlr, ttbr0=ttbr0, ttbr1=0,
                         mmfr0=mmfr0, mmfr1=mmfr1, mmfr2=mmfr2, regime=REGIME_EL2, **extended)
    if case.el2 == "vhe":
        # The EL2&0 regime: TCR_EL2, SCTLR_EL2, MAIR_EL2, TTBRn_EL2 in the EL1 layouts; HCR_EL2 as main.c's
        # el2_boot_hcr sets it.
        return Registers(tcr=_tcr(r), mair=r.mair, sctlr=sctlr, ttbr0=ttbr0, ttbr1=ttbr1, mmfr0=mmfr0,
                         mmfr1=mmfr1, mmfr2=mmfr2, hcr=HCR_E2H.mask | HCR_TGE.mask | HCR_RW.mask,
                         regime=REGIME_EL20, **extended)
    el2 = {} if case.stage2 is None else dict(hcr=_hcr(case.stage2), vtcr=_vtcr(case.stage2), vttbr=vttbr,
                                              s2pir=case.stage2.s2pir)
    if r.nv or r.nv1:
        # kernel/steps.c set_nested: HCR_EL2.NV/NV1 while each step runs.
        el2 = dict(hcr=HCR_RW.mask | r.nv * HCR_NV.mask | r.nv1 * HCR_NV1.mask)
    if r.fnxs:
        # kernel/steps.c run_steps: HCRX_EL2.FnXS while the steps run.
        el2["hcrx"] = HCRX_FNXS.mask
    return Registers(tcr=_tcr(r), mair=r.mair, sctlr=sctlr, ttbr0=ttbr0, ttbr1=ttbr1,
                     mmfr0=mmfr0, mmfr1=mmfr1, mmfr2=mmfr2, **el2, **extended)


def _tcr_el2(r):
    """mmu.c tcr_from_regime for the EL2 regime (HCR_EL2.E2H = 0): T0SZ, TG0, IRGN0/ORGN0 Write-Back,
    SH0 Inner Shareable, PS, TBI, HA, HD, HPD, DS, and the RES1 bits."""
    tg0 = {g: code for code, g in TG0_GRANULE.items()}[r.tg0]
    return (TCR_EL2_RES1 | r.t0sz << TCR_EL2_T0SZ.shift | tg0 << TCR_EL2_TG0.shift | _SH_INNER << TCR_EL2_SH0.shift
            | _TCR_EL2_WALK_ATTRS | r.ips << TCR_EL2_PS.shift | r.tbi0 << TCR_EL2_TBI.shift | r.ha << TCR_EL2_HA.shift
            | r.hd << TCR_EL2_HD.shift | r.hpd0 << TCR_EL2_HPD.shift | r.ds << TCR_EL2_DS.shift)


# VTCR_EL2 bits stage2.c sets for every stage 2: RES1 bit 31, IRGN0/ORGN0 Write-Back, SH0 Inner Shareable.
_VTCR_FIXED = 1 << 31 | 1 << 8 | 1 << 10 | _SH_INNER << 12


def _vtcr(s2):
    """stage2.c vtcr_from_stage2."""
    tg0 = {g: code for code, g in VTCR_TG0_GRANULE.items()}[s2.tg]
    return (_VTCR_FIXED | s2.t0sz << VTCR_T0SZ.shift | s2.sl0 << VTCR_SL0.shift | tg0 << VTCR_TG0.shift
            | s2.ps << VTCR_PS.shift | s2.vs << VTCR_VS.shift | s2.ha << VTCR_HA.shift | s2.hd << VTCR_HD.shift
            | s2.ds << VTCR_DS.shift | s2.sl2 << VTCR_SL2.shift | s2.s2pie << VTCR_S2PIE.shift)


def under_vtcr(case, step):
    """VTCR_EL2 for an AT S12 step with its own stage 2 geometry (step.s2_under), as kernel/el2.c
    at_s12_under writes it: the case's with the step's fields in their place."""
    return _vtcr(step.s2_under.applied(case.stage2))


def _hcr(s2):
    """stage2.c hcr_from_stage2: RW, VM, and FWB, TDZ, TPCP, TPU when the case sets them."""
    return (HCR_RW.mask | HCR_VM.mask | s2.fwb * HCR_FWB.mask | s2.tdz * HCR_TDZ.mask | s2.tpcp * HCR_TPCP.mask
            | s2.tpu * HCR_TPU.mask)
