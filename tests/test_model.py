"""Unit tests of the reference model (harness/model) against outcomes derived
by hand from the ASL: each test's comment names the function or rule."""
from dataclasses import replace

import pytest

from harness import esr, par
from harness.cases import Expect, Step
from harness.model import Abort, Access, Completes, Memory, Par, Registers, UnknownMemory, s1_translate
from harness.oracle import describe, describe_outcomes, expectation_agrees, observation_allowed
from harness.model.registers import (
    REGIME_EL2, REGIME_EL10, REGIME_EL20, el_is_in_host,
    SCTLR_A, SCTLR_C, SCTLR_EPAN, SCTLR_I, SCTLR_M, SCTLR_WXN, TCR_DS, TCR_E0PD0, TCR_E0PD1, TCR_EPD0, TCR_EPD1,
    TCR_HA, TCR_HD, TCR_HPD0, TCR_HPD1, TCR_IPS, TCR_SH0, TCR_T0SZ, TCR_T1SZ, TCR_TBI0, TCR_TBI1, TCR_TG0, TCR_TG1,
)
from harness.observation import observe
from harness.protocol import PROTOCOL_VERSION, parse_record

# ID_AA64MMFR0_EL1: PARange 48 bits, 4K/16K/64K granules; with FEAT_LPA2 (TGran4 = 1, TGran16 = 2, PARange 52).
MMFR0_48 = 0x5 | 0x1 << 20
MMFR0_52 = 0x6 | 0x2 << 20 | 0x1 << 28
MMFR0_40 = 0x2 | 0x1 << 20
MMFR1_HAFDBS = 0x2
MMFR2_TTST = 0x1 << 28
MMFR2_LVA = 0x1 << 16

TG0 = {12: 0b00, 14: 0b10, 16: 0b01}
TG1 = {12: 0b10, 14: 0b01, 16: 0b11}
MAIR = 0xFF << 8 | 0x44 << 16 | 0x04 << 32      # 0: Device-nGnRnE, 1: Normal WB, 2: Normal NC, 4: Device-nGnRE
SCTLR = SCTLR_M.mask | SCTLR_C.mask | SCTLR_I.mask

ROOT = 0x1000_0000      # tables live here, one granule apart
PAGE = 0x4000_0000      # what the leaves map
AF, SH_INNER, NORMAL, DEVICE = 1 << 10, 3 << 8, 1 << 2, 0 << 2
PAGE_DESC = 0b11 | AF | SH_INNER | NORMAL
BLOCK_DESC = 0b01 | AF | SH_INNER | NORMAL


def regs(granule=12, t0sz=16, t1sz=16, ips=0b101, sctlr=SCTLR, mmfr0=MMFR0_48, mmfr1=0, mmfr2=0, ttbr0=ROOT,
         ttbr1=ROOT + 0x10_0000, **flags):
    tcr = (t0sz << TCR_T0SZ.shift | TG0[granule] << TCR_TG0.shift | t1sz << TCR_T1SZ.shift
           | TG1[granule] << TCR_TG1.shift | ips << TCR_IPS.shift | 3 << TCR_SH0.shift)
    fields = {"epd0": TCR_EPD0, "epd1": TCR_EPD1, "tbi0": TCR_TBI0, "tbi1": TCR_TBI1, "ha": TCR_HA, "hd": TCR_HD,
              "ds": TCR_DS, "hpd0": TCR_HPD0, "hpd1": TCR_HPD1, "e0pd0": TCR_E0PD0, "e0pd1": TCR_E0PD1}
    for name, on in flags.items():
        tcr |= fields[name].mask if on else 0
    return Registers(tcr=tcr, mair=MAIR, sctlr=sctlr, ttbr0=ttbr0, ttbr1=ttbr1, mmfr0=mmfr0, mmfr1=mmfr1,
                     mmfr2=mmfr2)


def chain(va, leaf, leaf_level, granule=12, start=0, root=ROOT, tables=(), oa_bits=48):
    """Table descriptors from the start level down to leaf_level for va, each
    table one granule after the last, and the leaf: {descriptor PA: value}.
    tables: extra bits per table level {level: bits}."""
    tables = dict(tables)
    words, base = {}, root
    for level in range(start, leaf_level + 1):
        lsb = granule + (granule - 3) * (3 - level)
        width = (64 - 16 if oa_bits == 48 else 52) - lsb if level == start else granule - 3
        slot = base + 8 * (va >> lsb & ((1 << width) - 1))
        if level == leaf_level:
            words[slot] = leaf
        else:
            base = base + (1 << granule)
            words[slot] = base | 0b11 | tables.get(level, 0)
    return words


def memory(words, *more):
    table_span = (ROOT, ROOT + 0x20_0000)
    merged = dict(words)
    for m in more:
        merged.update(m)
    return Memory(merged, [table_span])


def one(outcomes):
    assert len(outcomes) == 1, outcomes
    return next(iter(outcomes))


def fault_of(outcome):
    fsc = outcome.fsc if isinstance(outcome, Abort) else par.PAR_FST.get(outcome.value)
    return esr.decode_fsc(fsc)


def translate(r, mem, op, va, value=0, el=1, pan=False):
    return s1_translate(r, mem, Access(op, va, value, el, pan))


VA = 0x8000_0123    # 4K, 48-bit: L0 index 0, L1 index 2, L2 index 0, L3 index 0


# ------------------------------------------------------------------ the walk

def test_page_translates_with_offset_and_attributes():
    # AArch64.S1Walk + StageOA: PA = OA[47:12]:VA[11:0]; EncodePARAttrs of MAIR.Attr1, SH from the descriptor.
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3))
    done = one(translate(regs(), mem, "load64", VA & ~7))
    assert (done.pa, done.attr, done.sh, done.updates) == (PAGE + 0x120, 0xFF, "inner", ())
    at = one(translate(regs(), mem, "at_s1e1r", VA))
    assert at.value & at.mask == 0xFF << 56 | PAGE | 3 << 7
    assert at.mask == par.PAR_F.mask | par.PAR_SH.mask | par.PAR_PA.mask | par.PAR_ATTR.mask


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_invalid_descriptor_is_a_translation_fault_at_its_level(level):
    # AArch64.DecodeDescriptorType: bit[0] = 0 is invalid at every level.
    mem = memory(chain(VA, 0, level))
    for op in ("load64", "store64", "fetch", "at_s1e1w"):
        assert fault_of(one(translate(regs(), mem, op, VA & ~7))) == ("translation", level)


def test_walk_never_guesses_a_descriptor():
    with pytest.raises(UnknownMemory):
        translate(regs(), Memory(), "load8", VA)


# Block levels (AArch64.BlockDescSupported): granule -> {level: block allowed (DS = 0, DS = 1)}.
BLOCK_LEVELS = {
    12: {0: (False, True), 1: (True, True), 2: (True, True)},
    14: {0: (False, False), 1: (False, True), 2: (True, True)},
}


@pytest.mark.parametrize("granule,level", [(g, lv) for g, levels in BLOCK_LEVELS.items() for lv in levels])
@pytest.mark.parametrize("ds", [False, True])
def test_block_levels_per_granule_and_ds(granule, level, ds):
    va = 1 << 47 if granule == 14 and level == 0 else 0x8000_0000 if level else 0x80_0000_0000
    r = regs(granule=granule, ds=ds, ips=0b110 if ds else 0b101, mmfr0=MMFR0_52 if ds else MMFR0_48)
    mem = memory(chain(va, BLOCK_DESC, level, granule=granule))
    outcome = one(translate(r, mem, "at_s1e1r", va))
    allowed = BLOCK_LEVELS[granule][level][ds]
    assert (not par.PAR_F.get(outcome.value)) == allowed
    if not allowed:
        assert fault_of(outcome) == ("translation", level)


@pytest.mark.parametrize("pamax,allowed", [(48, False), (52, True)])
def test_64k_level1_block_needs_a_52_bit_pamax(pamax, allowed):
    # AArch64.BlockDescSupported: TGx_64KB level 1 when AArch64.PAMax() >= 52, whatever IPS.
    r = regs(granule=16, mmfr0=MMFR0_52 if pamax == 52 else MMFR0_48)
    mem = memory(chain(0x400_0000_0000, BLOCK_DESC, 1, granule=16, start=1))
    assert (not par.PAR_F.get(one(translate(r, mem, "at_s1e1r", 0x400_0000_0000)).value)) == allowed


def test_level3_block_encoding_is_reserved():
    # AArch64.DecodeDescriptorType: bits[1:0] = 0b01 at level 3 is invalid.
    mem = memory(chain(VA, PAGE | BLOCK_DESC, 3))
    assert fault_of(one(translate(regs(), mem, "load8", VA))) == ("translation", 3)


@pytest.mark.parametrize("granule,t0sz,start,va,pa", [
    (12, 16, 0, 0xFFFF_FFFF_F123, 0x4000_0123),
    (12, 25, 1, 0x7F_FFFF_F123, 0x4000_0123),
    (12, 34, 2, 0x3FFF_F123, 0x4000_0123),
    (14, 17, 1, 0x7FFF_FFFF_C123, 0x4000_0123),
    (14, 39, 3, 0x1FF_C123, 0x4000_0123),
    (16, 16, 1, 0xFFFF_FFFF_0123, 0x4000_0123),
    (16, 36, 3, 0xFFF_0123, 0x4000_0123),
])
def test_start_level_and_index_bits(granule, t0sz, start, va, pa):
    # AArch64.S1StartLevel and AArch64.TTEntryAddress: the start table is indexed by VA[IASize-1:lsb].
    words = {}
    base, lvl = ROOT, start
    while True:
        lsb = granule + (granule - 3) * (3 - lvl)
        msb = 63 - t0sz if lvl == start else lsb + granule - 4
        slot = base + 8 * (va >> lsb & ((1 << (msb - lsb + 1)) - 1))
        if lvl == 3:
            words[slot] = (pa & ~((1 << granule) - 1)) | PAGE_DESC
            break
        base += 1 << granule
        words[slot] = base | 0b11
        lvl += 1
    r = regs(granule=granule, t0sz=t0sz, mmfr2=MMFR2_TTST)
    assert one(translate(r, memory(words), "load8", va)).pa == pa


def test_level_minus_one_with_ds():
    # FEAT_LPA2: 4K, T0SZ = 12 starts at level -1 (AArch64.S1StartLevel); an invalid entry faults there (FSC 0x2b).
    r = regs(t0sz=12, ds=True, ips=0b110, mmfr0=MMFR0_52, mmfr2=MMFR2_LVA)
    outcome = one(translate(r, memory({}), "load64", 0x8_0000_0000_0000))
    assert outcome.fsc == 0b101011 and fault_of(outcome) == ("translation", -1)


# ------------------------------------------------------------------ output address formats

def test_lpa_64k_format_holds_oa_51_48_in_bits_15_12():
    r = regs(granule=16, ips=0b110, mmfr0=MMFR0_52)
    pa = 0xF_0000_1234_0000
    leaf = pa & ((1 << 48) - 1) | (pa >> 48) << 12 | PAGE_DESC
    mem = memory(chain(0x8000_0000, leaf, 3, granule=16, start=1))
    at = one(translate(r, mem, "at_s1e1r", 0x8000_0468))
    assert at.value & par.PAR_PA.mask == pa


def test_lpa2_format_holds_oa_51_50_in_bits_9_8_and_sh_from_tcr():
    # With DS = 1 bits[9:8] are OA[51:50]; shareability is TCR_EL1.SH0 (inner here).
    r = regs(ds=True, ips=0b110, mmfr0=MMFR0_52)
    pa = 0xF_F000_0000_C000
    leaf = pa & ((1 << 50) - (1 << 12)) | (pa >> 50) << 8 | 0b11 | AF | NORMAL
    mem = memory(chain(VA, leaf, 3))
    at = one(translate(r, mem, "at_s1e1r", VA))
    assert (at.value & par.PAR_PA.mask, par.SH_NAMES[par.PAR_SH.get(at.value)]) == (pa, "inner")


def test_ttbr_52_bit_base_in_bits_5_2():
    # AArch64.S1TTBaseAddress: with a 52-bit format BADDR[51:48] is TTBR[5:2].
    base = 0x1_0000_1000_0000
    r = regs(granule=16, ips=0b110, mmfr0=MMFR0_52, ttbr0=base & ((1 << 48) - 1) | 1 << 2)
    # The root (level 1) above 2^48, its entry 0 pointing at tables below.
    words = {base: ROOT | 0b11, **chain(0x8000_0000, PAGE | PAGE_DESC, 3, granule=16, start=2)}
    mem = Memory(words, [(ROOT, ROOT + 0x20_0000)])
    assert one(translate(r, mem, "load8", 0x8000_0000)).pa == PAGE


def test_block_oa_bits_below_the_block_size_are_ignored():
    # AArch64.BlockBase: a 2 MiB block's OA is OA[47:21].
    mem = memory(chain(0x8020_0000, 0x4000_0000 | 0x1E_F000 | BLOCK_DESC, 2))
    assert one(translate(regs(), mem, "load8", 0x8022_3456)).pa == 0x4002_3456


# ------------------------------------------------------------------ address size

@pytest.mark.parametrize("ips,pamax_mmfr0,limit", [(0b000, MMFR0_48, 32), (0b101, MMFR0_40, 40), (0b010, MMFR0_48, 40)])
def test_output_address_size_is_min_of_ips_and_parange(ips, pamax_mmfr0, limit):
    # AArch64.PhysicalAddressSize: Min(TCR_EL1.IPS, AArch64.PAMax()); AArch64.OAOutOfRange on the leaf's OA.
    r = regs(ips=ips, mmfr0=pamax_mmfr0)
    over = memory(chain(VA, (1 << limit) | PAGE_DESC, 3))
    under = memory(chain(VA, ((1 << limit) - 0x1000) | PAGE_DESC, 3))
    assert fault_of(one(translate(r, over, "load8", VA))) == ("address_size", 3)
    assert isinstance(one(translate(r, under, "load8", VA)), Completes)


def test_table_address_size_fault_at_the_level_of_the_table_descriptor():
    words = {ROOT: (ROOT + 0x1000) | 0b11, ROOT + 0x1000 + 8 * 3: (1 << 32) | 0b11}
    outcome = one(translate(regs(ips=0b000), memory(words), "load8", 0xC000_0000))
    assert fault_of(outcome) == ("address_size", 1)


def test_ttbr_above_the_oa_size_is_an_address_size_fault_at_level_0():
    outcome = one(translate(regs(ips=0b000, ttbr0=1 << 32), memory({}), "at_s1e1r", VA))
    assert fault_of(outcome) == ("address_size", 0)


def test_address_size_is_checked_before_the_access_flag():
    # AArch64.S1Walk: the OA check comes before the AF check.
    mem = memory(chain(VA, (1 << 40) | 0b11 | NORMAL, 3))
    assert fault_of(one(translate(regs(ips=0b010), mem, "load8", VA))) == ("address_size", 3)


# ------------------------------------------------------------------ VA range, TBI, EPD

@pytest.mark.parametrize("t0sz", [16, 25])
def test_out_of_range_va_is_a_level_0_fault_whatever_the_start_level(t0sz):
    # J1.1.4.44 AArch64.VAIsOutOfRange in AArch64.S1Translate: fault.level = 0 (R_VZZSZ; D8.15: "the IA is
    # outside the range specified by the associated TTBR_ELx ... reported as a level 0 fault").  The old
    # model also allowed the start level (1 with T0SZ = 25), after KVM's reading of R_YYVYV (review C).
    outcomes = translate(regs(t0sz=t0sz), memory({}), "load8", 1 << (64 - t0sz))
    assert {fault_of(o) for o in outcomes} == {("translation", 0)} and outcomes.rule is None


def test_epd_makes_no_walk():
    # I_ZFSYQ, AArch64.S1Walk: TCR_EL1.EPDn = 1, a level 0 Translation fault and no walk (review C).
    r = regs(granule=16, epd1=True)
    outcomes = translate(r, Memory(), "load8", 0xFFFF_0000_0000_0000)       # no memory read at all
    assert {fault_of(o) for o in outcomes} == {("translation", 0)}


def test_tbi_ignores_the_tag_and_far_keeps_it():
    tagged = 0x5A << 56 | VA
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3))
    assert one(translate(regs(tbi0=True), mem, "load8", tagged)).pa == PAGE + 0x123
    unmapped = 0x5A << 56 | (VA + 0x1000)
    assert one(translate(regs(tbi0=True), mem, "store8", unmapped)).far == unmapped
    # Without TBI the tag is part of the address: out of range, FAR the whole VA.
    assert {o.far for o in translate(regs(), mem, "load8", tagged)} == {tagged}


def test_tbi_branch_target_loses_its_tag():
    # AArch64.BranchAddr: the PC gets bits[63:56] = copies of bit 55, so FAR is the untagged VA.
    mem = memory({})
    outcomes = translate(regs(tbi0=True), mem, "fetch", 0x5A << 56 | VA)
    assert {o.far for o in outcomes} == {VA}


def test_txsz_above_the_maximum_is_implementation_defined():
    # AArch64.S1TxSZFaults: T0SZ 42 without FEAT_TTST: a Translation fault or the walk with T0SZ = 39.
    words = chain(0x3F_F000, PAGE | PAGE_DESC, 3, start=2)    # T0SZ 39: 25-bit VA, start level 2
    outcomes = translate(regs(t0sz=42), memory(words), "load8", 0x3F_F000)
    assert {type(o) for o in outcomes} == {Abort, Completes} and "S1TxSZFaults" in outcomes.rule
    assert {fault_of(o) for o in outcomes if isinstance(o, Abort)} == {("translation", 0)}
    # With FEAT_TTST, T0SZ 42 is in range: the walk starts at level 2 with a 22-bit VA.
    assert isinstance(one(translate(regs(t0sz=42, mmfr2=MMFR2_TTST), memory(words), "load8", 0x3F_F000)),
                      Completes)


# ------------------------------------------------------------------ access flag, HA, HD

def test_af_clear_is_an_access_flag_fault_without_ha():
    mem = memory(chain(VA, PAGE | 0b11 | NORMAL, 3))
    assert fault_of(one(translate(regs(), mem, "store8", VA))) == ("access_flag", 3)
    assert fault_of(one(translate(regs(), mem, "at_s1e1r", VA))) == ("access_flag", 3)


def test_ha_sets_af_for_accesses_and_may_for_at():
    # AArch64.S1Translate: new_desc<10> = '1' whenever HA = 1 and AArch64.SettingAccessFlagPermitted;
    # for AT, AArch64.SetAccessFlag leaves it IMPLEMENTATION DEFINED (ImpDefBool("AT updates AF")).
    words = chain(VA, PAGE | 0b11 | NORMAL, 3)
    slot = next(k for k, v in words.items() if v & 0xFFF == 0b11 | NORMAL)
    r = regs(ha=True, mmfr1=MMFR1_HAFDBS)
    set_af = ((slot, words[slot], words[slot] | AF),)
    assert one(translate(r, memory(words), "load8", VA)).updates == set_af
    at = translate(r, memory(words), "at_s1e1r", VA)
    assert {o.updates for o in at} == {set_af, ()} and "AT updates AF" in at.rule


def test_ha_af_update_on_a_permission_fault_is_constrained_unpredictable():
    words = chain(VA, PAGE | 0b11 | NORMAL | 0b10 << 6, 3)     # AF = 0, read-only
    outcomes = translate(regs(ha=True, mmfr1=MMFR1_HAFDBS), memory(words), "store8", VA)
    assert {fault_of(o) for o in outcomes} == {("permission", 3)}
    assert {bool(o.updates) for o in outcomes} == {True, False} and "AFUPDATE" in outcomes.rule


@pytest.mark.parametrize("hd,dbm,writes", [(True, True, True), (False, True, False), (True, False, False)])
def test_dirty_state(hd, dbm, writes):
    # DBM with HA and HD: a write through AP[2] = 1 is performed and clears AP[2]; else a Permission fault.
    leaf = PAGE | PAGE_DESC | 0b10 << 6 | (1 << 51 if dbm else 0)
    words = chain(VA, leaf, 3)
    r = regs(ha=True, hd=hd, mmfr1=MMFR1_HAFDBS)
    outcome = one(translate(r, memory(words), "store64", VA & ~7))
    if writes:
        slot = next(k for k, v in words.items() if v == leaf)
        assert isinstance(outcome, Completes) and outcome.updates == ((slot, leaf, leaf & ~(0b10 << 6)),)
        # AT S1E1W reports the page writable but makes no update.
        at = one(translate(r, memory(words), "at_s1e1w", VA))
        assert not par.PAR_F.get(at.value) and at.updates == ()
    else:
        assert fault_of(outcome) == ("permission", 3)


# ------------------------------------------------------------------ permissions

# AArch64.S1DirectBasePermissions: AP[2:1] -> (EL1 read, EL1 write, EL0 read, EL0 write).
AP_TABLE = {0b00: (1, 1, 0, 0), 0b01: (1, 1, 1, 1), 0b10: (1, 0, 0, 0), 0b11: (1, 0, 1, 0)}
OPS = {("el1", "r"): ("load64", "at_s1e1r"), ("el1", "w"): ("store64", "at_s1e1w"),
       ("el0", "r"): ("ldtr64", "at_s1e0r"), ("el0", "w"): ("sttr64", "at_s1e0w")}


@pytest.mark.parametrize("ap", list(AP_TABLE))
@pytest.mark.parametrize("aptable", [0b00, 0b01, 0b10, 0b11])
def test_permission_table(ap, aptable):
    # APTable[0] takes EL0 access away, APTable[1] write; a denied access is a Permission fault at the leaf.
    words = chain(VA, PAGE | PAGE_DESC | ap << 6 | 1 << 54, 3, tables={1: aptable << 61})
    allowed = dict(zip([("el1", "r"), ("el1", "w"), ("el0", "r"), ("el0", "w")], AP_TABLE[ap]))
    if aptable & 1:
        allowed[("el0", "r")] = allowed[("el0", "w")] = 0
    if aptable & 2:
        allowed[("el1", "w")] = allowed[("el0", "w")] = 0
    for key, (op, at) in OPS.items():
        for name in (op, at):
            outcome = one(translate(regs(), memory(words), name, VA & ~7))
            faulted = isinstance(outcome, Abort) or isinstance(outcome, Par) and par.PAR_F.get(outcome.value)
            assert faulted != bool(allowed[key]), (name, key)
            if faulted:
                assert fault_of(outcome) == ("permission", 3)
                if isinstance(outcome, Abort):
                    assert outcome.wnr == (key[1] == "w") and outcome.far == VA & ~7


@pytest.mark.parametrize("pxn,pxntable,ap,executes", [
    (0, 0, 0b00, True), (1, 0, 0b00, False), (0, 1, 0b00, False),
    (0, 0, 0b01, False),        # EL0-writable is never executable at EL1
    (0, 0, 0b11, True),         # EL0 read-only stays executable
])
def test_execute_permission(pxn, pxntable, ap, executes):
    leaf = PAGE | PAGE_DESC | ap << 6 | pxn << 53 | 1 << 54
    mem = memory(chain(VA, leaf, 3, tables={2: pxntable << 59}))
    outcome = one(translate(regs(), mem, "fetch", VA & ~3))
    assert isinstance(outcome, Completes) == executes
    if not executes:
        assert outcome.ec == esr.EC.IABT_CUR and fault_of(outcome) == ("permission", 3)


def test_wxn_removes_execute_from_writable():
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3))
    assert isinstance(one(translate(regs(sctlr=SCTLR | SCTLR_WXN.mask), mem, "fetch", VA & ~3)), Abort)


def test_device_fetch_with_pxn_0_is_a_choice():
    # AArch64.S1CheckPermissions: ConstrainUnpredictable(Unpredictable_INSTRDEVICE).
    mem = memory(chain(VA, PAGE | 0b11 | AF | DEVICE | 1 << 54, 3))
    outcomes = translate(regs(), mem, "fetch", VA & ~3)
    assert {type(o) for o in outcomes} == {Abort, Completes} and "INSTRDEVICE" in outcomes.rule
    assert {o.attr for o in outcomes if isinstance(o, Completes)} == {0x44}     # made as Normal Non-cacheable


# ID_AA64MMFR1_EL1.PAN = 2 (FEAT_PAN2) or 3 (FEAT_PAN3), HPDS = 1; ID_AA64MMFR2_EL1.E0PD = 1.
MMFR1_PAN2, MMFR1_PAN3, MMFR1_HPDS, MMFR2_E0PD = 0x2 << 20, 0x3 << 20, 0x1 << 12, 0x1 << 60


@pytest.mark.parametrize("uxn,uxntable,ap,executes", [
    (0, 0, 0b00, True),         # EL0 execution is UXN alone: AP = EL1-only does not stop it
    (0, 0, 0b10, True), (0, 0, 0b01, True), (1, 0, 0b11, False), (0, 1, 0b11, False),
])
def test_el0_execute_permission(uxn, uxntable, ap, executes):
    # AArch64.S1DirectBasePermissions: ux = NOT(UXN OR UXNTable); the abort comes from the lower EL (EC 0x20).
    leaf = PAGE | PAGE_DESC | ap << 6 | 1 << 53 | uxn << 54
    mem = memory(chain(VA, leaf, 3, tables={1: uxntable << 60}))
    outcome = one(translate(regs(), mem, "fetch", VA & ~3, el=0))
    assert isinstance(outcome, Completes) == executes
    if not executes:
        assert outcome.ec == esr.EC.IABT_LOW and fault_of(outcome) == ("permission", 3)


def test_el0_data_aborts_come_from_the_lower_el():
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3))        # AP = EL1 read/write only
    for op in ("load8", "store32"):
        outcome = one(translate(regs(), mem, op, VA & ~3, el=0))
        assert (outcome.ec, fault_of(outcome), outcome.wnr) == (esr.EC.DABT_LOW, ("permission", 3), op == "store32")
    # LDTR from EL1 is checked as EL0 but taken from the same EL.
    assert one(translate(regs(), mem, "ldtr64", VA & ~7)).ec == esr.EC.DABT_CUR


def test_wxn_at_el0_and_the_el0_writable_rule_after_aptable():
    # wxn = WXN AND w AND x for the fetching EL: EL0-writable at EL0, EL1-writable at EL1 only.
    wxn = regs(sctlr=SCTLR | SCTLR_WXN.mask)
    el1_rw = memory(chain(VA, PAGE | PAGE_DESC, 3))
    assert isinstance(one(translate(wxn, el1_rw, "fetch", VA & ~3)), Abort)
    assert isinstance(one(translate(wxn, el1_rw, "fetch", VA & ~3, el=0)), Completes)
    el0_rw = memory(chain(VA, PAGE | PAGE_DESC | 0b01 << 6, 3))
    assert isinstance(one(translate(wxn, el0_rw, "fetch", VA & ~3, el=0)), Abort)
    # APTable = ro leaves EL0 nothing to write: EL1 may execute (px = NOT(PXN OR PXNTable OR uw), uw after APTable).
    under_ro = memory(chain(VA, PAGE | PAGE_DESC | 0b01 << 6, 3, tables={2: 0b10 << 61}))
    assert isinstance(one(translate(regs(), under_ro, "fetch", VA & ~3)), Completes)


@pytest.mark.parametrize("ap,epan,denied", [
    (0b01, False, True), (0b11, False, True), (0b00, False, False),
    (0b00, True, True),         # EPAN: EL0-executable (UXN = 0) counts too
])
def test_pan(ap, epan, denied):
    # AArch64.S1DirectBasePermissions: pan = PSTATE.PAN AND (ur OR uw OR (EPAN AND ux)) takes pr and pw.
    sctlr = SCTLR | (SCTLR_EPAN.mask if epan else 0)
    r = regs(sctlr=sctlr, mmfr1=MMFR1_PAN3)
    mem = memory(chain(VA, PAGE | PAGE_DESC | ap << 6, 3))
    load = one(translate(r, mem, "load64", VA & ~7, pan=True))
    assert isinstance(load, Abort) == denied
    assert isinstance(one(translate(r, mem, "load64", VA & ~7)), Completes)         # PSTATE.PAN = 0
    rp = one(translate(r, mem, "at_s1e1rp", VA, pan=True))
    assert bool(par.PAR_F.get(rp.value)) == denied
    # PAN leaves AT S1E1R, unprivileged loads and fetches alone.
    assert not par.PAR_F.get(one(translate(r, mem, "at_s1e1r", VA, pan=True)).value)
    if ap & 1:
        assert isinstance(one(translate(r, mem, "ldtr64", VA & ~7, pan=True)), Completes)
    # Without FEAT_PAN3 SCTLR_EL1.EPAN has no effect; without FEAT_PAN PSTATE.PAN has none.
    assert isinstance(one(translate(regs(sctlr=sctlr, mmfr1=MMFR1_PAN2), mem, "load64", VA & ~7, pan=True)),
                      Abort) == (denied and not (epan and ap == 0b00))
    assert isinstance(one(translate(regs(sctlr=sctlr), mem, "load64", VA & ~7, pan=True)), Completes)


@pytest.mark.parametrize("upper", [False, True])
def test_hpd_ignores_the_table_limits_of_its_half(upper):
    # AArch64.S1Walk collects APTable, PXNTable, UXNTable only when walkparams.hpd = 0 (FEAT_HPDS).
    va = VA | (0xFFFF << 48 if upper else 0)
    root = ROOT + 0x10_0000 if upper else ROOT
    leaf = PAGE | PAGE_DESC | 0b01 << 6
    mem = memory(chain(va, leaf, 3, root=root, tables={1: 0b11 << 61 | 1 << 59 | 1 << 60}))
    on = {"hpd1" if upper else "hpd0": True}
    off = {"hpd0" if upper else "hpd1": True}
    for flags, mmfr1, limited in ((on, MMFR1_HPDS, False), (off, MMFR1_HPDS, True), (on, 0, True)):
        r = regs(mmfr1=mmfr1, **flags)
        outcomes = [one(translate(r, mem, "sttr64", va & ~7)), one(translate(r, mem, "fetch", va & ~3, el=0)),
                    one(translate(r, mem, "store64", va & ~7))]
        assert [isinstance(o, Abort) for o in outcomes] == [limited] * 3, (flags, mmfr1)


@pytest.mark.parametrize("upper", [False, True])
def test_e0pd_faults_el0_accesses_at_level_0_before_the_walk(upper):
    # AArch64.S1Translate: accdesc.el == EL0 with E0PDn = 1 is a Translation fault at level 0 (FEAT_E0PD).
    va = VA | (0xFFFF << 48 if upper else 0)
    r = regs(mmfr2=MMFR2_E0PD, **{"e0pd1" if upper else "e0pd0": True})
    mem = memory(chain(va, PAGE | PAGE_DESC | 0b01 << 6, 3, root=ROOT + 0x10_0000 if upper else ROOT))
    for op, el in (("load64", 0), ("fetch", 0), ("ldtr64", 1), ("at_s1e0r", 1)):
        assert fault_of(one(translate(r, Memory(), op, va & ~7, el=el))) == ("translation", 0), op
    assert isinstance(one(translate(r, mem, "load64", va & ~7)), Completes)
    assert not par.PAR_F.get(one(translate(r, mem, "at_s1e1w", va)).value)
    # The other half, and a CPU without FEAT_E0PD, are unaffected.
    assert isinstance(one(translate(regs(**{"e0pd1" if upper else "e0pd0": True}), mem, "load64", va & ~7, el=0)),
                      Completes)


@pytest.mark.parametrize("el", [0, 1])
def test_pc_alignment_comes_before_the_fetch_is_translated(el):
    # AArch64.CheckPCAlignment before the fetch in __FetchInstr: EC 0x22 whatever the target, FAR the PC.
    for offset in (1, 2, 3):
        outcome = one(translate(regs(), Memory(), "fetch", VA & ~3 | offset, el=el))
        assert (outcome.ec, outcome.far, outcome.fault) == (esr.EC.PC_ALIGN, VA & ~3 | offset, ("pc_alignment", None))
    s = step("fetch", VA, Expect("fault", fault="pc_alignment", far=VA))
    outcomes = translate(regs(), Memory(), "fetch", VA)
    assert expectation_agrees(s, outcomes) == []
    assert describe(one(outcomes), "fetch") == f"PC alignment fault (EC 0x22), FAR {VA:#x}"
    assert observation_allowed(s, outcomes, record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} "
                                                   f"result=fault esr=0x8a000000 far={VA:#x} elr=0x1")) == []


# ------------------------------------------------------------------ alignment

def test_sctlr_a_alignment_fault_comes_before_translation():
    # AArch64.CheckAlignment before AArch64.S1Translate (R_XCHFJ): even an unmapped VA.
    outcome = one(translate(regs(sctlr=SCTLR | SCTLR_A.mask), Memory(), "store32", VA))
    assert (fault_of(outcome), outcome.wnr, outcome.far) == (("alignment", None), True, VA)
    assert isinstance(one(translate(regs(sctlr=SCTLR | SCTLR_A.mask), memory(chain(VA, 0, 3)), "load8", VA)),
                      Abort)       # a byte is always aligned: the translation fault


def test_unaligned_normal_access_with_a_0_completes_across_pages():
    words = chain(VA, PAGE | PAGE_DESC, 3)
    words.update(chain(VA + 0x1000, (PAGE + 0x5000) | PAGE_DESC, 3))
    done = one(translate(regs(), memory(words), "load64", 0x8000_0FFC))
    assert done.spans == ((PAGE + 0xFFC, 4), (PAGE + 0x5000, 4))


def test_an_access_across_the_top_of_the_address_space_wraps_to_va_0():
    # The top page of TTBR1's range is mapped; VA 0, where the second byte goes, is not: the
    # fault is at VA 0 (bits(64) arithmetic), in TTBR0's range.
    top = 2**64 - 0x1000
    words = chain(top, PAGE | PAGE_DESC, 3, root=ROOT + 0x10_0000)
    fault = one(translate(regs(), memory(words), "load16", 2**64 - 1))
    assert (fault_of(fault), fault.far) == (("translation", 0), 0)


def test_unaligned_device_access_is_implementation_defined_after_the_walk_before_permissions():
    # AArch64.S1HasAlignmentFaultDueToMemType (J1.1.4.29, M.a.a): an unaligned access to Device
    # memory faults unless the location supports unaligned access (IMPLEMENTATION DEFINED);
    # checked after the walk (an AF fault wins) and before permissions (a Permission fault only
    # where the access is made).  The model before M.a.a gave the Alignment fault alone.
    device = PAGE | 0b11 | AF | DEVICE
    outcomes = translate(regs(), memory(chain(VA, device, 3)), "load32", VA)
    assert {fault_of(o) if isinstance(o, Abort) else "made" for o in outcomes} == {("alignment", None), "made"}
    assert "Device location supports unaligned access" in outcomes.rule
    readonly = memory(chain(VA, device | 0b10 << 6, 3))
    assert {fault_of(o) for o in translate(regs(), readonly, "store32", VA)} == {("alignment", None),
                                                                                ("permission", 3)}
    assert fault_of(one(translate(regs(), readonly, "store32", VA & ~3))) == ("permission", 3)
    no_af = memory(chain(VA, device & ~AF, 3))
    assert fault_of(one(translate(regs(), no_af, "load32", VA))) == ("access_flag", 3)
    assert not par.PAR_F.get(one(translate(regs(), memory(chain(VA, device, 3)), "at_s1e1r", VA)).value)


# ------------------------------------------------------------------ PAR_EL1 attributes

@pytest.mark.parametrize("attrindx,sh,attr,par_sh", [
    (1, 0b00, 0xFF, "non"), (1, 0b10, 0xFF, "outer"), (1, 0b11, 0xFF, "inner"),
    (2, 0b11, 0x44, "outer"),      # Normal Inner+Outer Non-cacheable: Outer Shareable (PAREncodeShareability)
    (0, 0b00, 0x00, "outer"), (4, 0b11, 0x04, "outer"),        # Device: Outer Shareable
])
def test_par_attr_and_shareability(attrindx, sh, attr, par_sh):
    mem = memory(chain(VA, PAGE | 0b11 | AF | attrindx << 2 | sh << 8, 3))
    at = one(translate(regs(), mem, "at_s1e1r", VA))
    assert (par.PAR_ATTR.get(at.value), par.SH_NAMES[par.PAR_SH.get(at.value)]) == (attr, par_sh)


def test_reserved_sh_is_a_choice():
    mem = memory(chain(VA, PAGE | 0b11 | AF | NORMAL | 0b01 << 8, 3))
    outcomes = translate(regs(), mem, "at_s1e1r", VA)
    assert {par.SH_NAMES[par.PAR_SH.get(o.value)] for o in outcomes} == {"non", "outer", "inner"}


def test_contiguous_group_translates_like_its_entries():
    # StageOA with the Contiguous bit: the group's offset; the same PA for a correctly programmed group.
    leaf = (PAGE + 0x3000) | PAGE_DESC | 1 << 52
    va = 0x8001_3456
    assert one(translate(regs(), memory(chain(va, leaf, 3)), "load8", va)).pa == PAGE + 0x3456
    bad = (PAGE + 0x5000) | PAGE_DESC | 1 << 52       # entry 3 of its group holding entry 5's OA
    assert {o.pa for o in translate(regs(), memory(chain(va, bad, 3)), "load8", va)} == {PAGE + 0x5456,
                                                                                          PAGE + 0x3456}


# ------------------------------------------------------------------ the oracle

def step(op, va, expect):
    return Step(op, va, 0, expect)


def test_expectation_agrees_both_ways():
    mem = memory(chain(VA, 0, 3))
    outcomes = translate(regs(), mem, "load64", VA & ~7)
    good = step("load64", VA & ~7, Expect("fault", fault="translation", level=3, far=VA & ~7, wnr=False))
    assert expectation_agrees(good, outcomes) == []
    any_level = replace(good, expect=replace(good.expect, level=None))
    assert expectation_agrees(any_level, outcomes) == []
    wrong = replace(good, expect=replace(good.expect, level=2))
    assert len(expectation_agrees(wrong, outcomes)) == 2       # accepts what is not allowed, rejects what is
    choice = Expect("one_of", choices=(Expect("ok"), good.expect))
    assert "which the model does not allow" in expectation_agrees(replace(good, expect=choice), outcomes)[0]


def test_a_case_stricter_than_the_architecture_is_a_problem():
    outcomes = translate(regs(), memory({}), "load8", 1 << 48)     # level 0: one outcome
    strict = step("load8", 1 << 48, Expect("fault", fault="translation", level=0, far=1 << 48, wnr=False))
    assert expectation_agrees(strict, outcomes) == []
    # T0SZ 42 without FEAT_TTST: a level 0 Translation fault, or the walk with T0SZ 39 (IMPLEMENTATION DEFINED).
    words = chain(0x3F_F000, PAGE | PAGE_DESC, 3, start=2)
    outcomes = translate(regs(t0sz=42), memory(words), "load8", 0x3F_F000)
    strict = replace(strict, va=0x3F_F000, expect=replace(strict.expect, far=0x3F_F000))
    problems = expectation_agrees(strict, outcomes)
    assert len(problems) == 1 and "which the case does not accept" in problems[0] and "S1TxSZFaults" in problems[0]


def record(line):
    """The Observation of a step record line."""
    return observe(parse_record(line.replace("MMUT 1 ", f"MMUT {PROTOCOL_VERSION} ", 1)))


def test_observation_allowed():
    mem = memory(chain(VA, 0, 3))
    outcomes = translate(regs(), mem, "store8", VA)
    s = step("store8", VA, Expect("fault", fault="translation", level=3, far=VA, wnr=True))
    esr_value = 0x25 << 26 | 1 << 25 | 1 << 6 | 0x07
    ok = record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} result=fault esr={esr_value:#x} far={VA:#x} elr=0x1")
    assert observation_allowed(s, outcomes, ok) == []
    isv = record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} result=fault esr={esr_value | 1 << 24 | 3 << 22:#x} "
                 f"far={VA:#x} elr=0x1")
    # ISV = 0 for a stage 1 fault (AArch64.InstructionSyndromeValid), ISS[23:14] then RES0.
    (problem,) = observation_allowed(s, outcomes, isv)
    assert "ISV=1 (not 0), SAS=0x3 (not 0x0)" in problem
    level2 = record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} result=fault esr={esr_value - 1:#x} far={VA:#x} elr=0x1")
    assert "translation fault, level 2" in observation_allowed(s, outcomes, level2)[0]
    done = record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} result=ok")
    assert observation_allowed(s, outcomes, done) == [
        f"matches no outcome the model allows: ({describe(one(outcomes), 'store8')}) got result=ok"]


def test_par_observation_ignores_free_bits():
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3))
    outcomes = translate(regs(), mem, "at_s1e1r", VA)
    s = step("at_s1e1r", VA, Expect("par", pa=PAGE))
    value = 0xFF << 56 | PAGE | 3 << 7 | 1 << 11 | 1 << 10 | 1 << 9     # RES1; IMPDEF bit 10, NS (UNKNOWN)
    for free in (0, 1 << 10, 1 << 9):
        assert observation_allowed(s, outcomes, record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} "
                                                       f"result=par par={value ^ free:#x}")) == []
    for bit in (8, 11, 1, 4, 52):       # SH; RES1; RES0 bits [6:1] and [55:52] (AArch64.EncodePAR)
        assert observation_allowed(s, outcomes, record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} "
                                                       f"result=par par={value ^ 1 << bit:#x}"))


# ------------------------------------------------------------------ declared layout and predict_case

from harness.cases import LAYOUT, load_file  # noqa: E402
from harness.declared import TABLE_POOL_BASE, case_registers, declared_memory  # noqa: E402
from harness.predict import predict_case  # noqa: E402

MAX = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120)


def _case(tmp_path, text):
    path = tmp_path / "model.toml"
    path.write_text('feature = "model tests"\n' + text)
    return load_file(path)[0]


def test_declared_layout_holds_the_kernels_own_mappings(tmp_path):
    case = _case(tmp_path, '[case.c]\nsummary = "s"\nmap = [ { va = 0x8000_0000, to = "frame0", level = 3 } ]\n'
                           'steps = [ { do = "load64", va = 0x8000_0000, expect = "ok" } ]\n')
    memory, ttbr0, _ = declared_memory(case)
    assert ttbr0 == TABLE_POOL_BASE
    regs = case_registers(case, MAX)
    window = one(s1_translate(regs, memory, Access("load64", LAYOUT["KERNEL_WINDOW_BASE"] + 0x12_3450)))
    assert (window.pa, window.attr) == (LAYOUT["KERNEL_WINDOW_BASE"] + 0x12_3450, 0xFF)
    uart = one(s1_translate(regs, memory, Access("at_s1e1r", LAYOUT["UART_BASE"])))
    assert par.PAR_ATTR.get(uart.value) == 0x00 and isinstance(
        one(s1_translate(regs, memory, Access("fetch", LAYOUT["UART_BASE"]))), Abort)     # PXN


def test_declared_layout_at_the_ttbr1_alias_when_kernel_high(tmp_path):
    case = _case(tmp_path, '[case.c]\nsummary = "s"\nregime = { epd0 = true }\n'
                           'steps = [ { do = "load64", va = 0x8000_0000, expect = { fault = "translation" } } ]\n')
    memory, _, _ = declared_memory(case)
    regs = case_registers(case, MAX)
    alias = one(s1_translate(regs, memory, Access("load8", LAYOUT["KERNEL_ALIAS_BASE"] + 0x40)))
    assert alias.pa == LAYOUT["KERNEL_WINDOW_BASE"] + 0x40


def test_predict_case_steps_memory_through_stores_updates_and_stubs(tmp_path):
    case = _case(tmp_path, '''[case.c]
summary = "s"
regime = { ha = true }
map = [ { va = 0x8000_0000, to = "frame0", level = 3, af = false } ]
steps = [
  { do = "load64",  va = 0x8000_0010, expect = { value = 0 } },
  { do = "store16", va = 0x8000_0011, value = 0xbeef, expect = "ok" },
  { do = "load64",  va = 0x8000_0010, expect = { value = 0xbeef00 } },
  { do = "load64",  va = "frame0 + 0x10", expect = { value = 0xbeef00 } },
  { do = "fetch",   va = 0x8000_0400, expect = "ok" },
  { do = "load32",  va = 0x8000_0404, expect = { value = 0xd65f03c0 } },
  { do = "load64",  va = 0x4000_0000, expect = "ok" },
]
''')
    first, store, load, alias, fetch, stub, unknown = predict_case(case, MAX)
    assert one(first).value == 0 and one(first).updates          # HA sets AF on the first access...
    assert one(store).updates == ()                                 # ...and the later ones see it set
    assert one(load).value == one(alias).value == 0xBEEF00
    assert one(fetch).value == 0xF00D and one(stub).value == 0xD65F03C0
    assert one(unknown).value is None                               # the kernel's image: not known


def test_predict_case_unions_memory_states_the_architecture_leaves_open(tmp_path):
    # A permission fault with HA and AF = 0 may or may not set AF (Unpredictable_AFUPDATE): the AT
    # after it sees either descriptor, and both translate alike.
    case = _case(tmp_path, '''[case.c]
summary = "s"
regime = { ha = true }
map = [ { va = 0x8000_0000, to = "frame0", level = 3, af = false, ap = "ro_el1" } ]
steps = [
  { do = "store64", va = 0x8000_0010, expect = { fault = "permission", level = 3 } },
  { do = "at_s1e1r", va = 0x8000_0010, expect = { pa = "frame0" } },
]
''')
    store, at = predict_case(case, MAX)
    assert len(store) == 2 and "AFUPDATE" in store.rule
    assert {bool(o.updates) for o in at} == {True, False}           # AF still clear in one state
    assert len({o.value for o in at}) == 1


def test_declared_layout_holds_the_el0_code_page_and_splits_the_window_under_wxn(tmp_path):
    case = _case(tmp_path, '[case.c]\nsummary = "s"\nregime = { wxn = true }\n'
                           'steps = [ { do = "fetch", va = 0x8000_0000, expect = { fault = "translation" } } ]\n')
    memory, _, _ = declared_memory(case)
    regs = case_registers(case, MAX)
    el0_code = LAYOUT["EL0_CODE_VA"] + 0x40
    assert one(s1_translate(regs, memory, Access("fetch", el0_code, el=0))).pa == LAYOUT["EL0_CODE_PA"] + 0x40
    assert isinstance(one(s1_translate(regs, memory, Access("fetch", el0_code))), Abort)          # PXN
    assert isinstance(one(s1_translate(regs, memory, Access("store8", el0_code, el=0))), Abort)   # read-only
    # Under WXN the kernel's code stays executable (read-only), its data is not.
    text, data = LAYOUT["KERNEL_BASE"] + 0x1_0000, LAYOUT["KERNEL_TEXT_END"]
    assert isinstance(one(s1_translate(regs, memory, Access("fetch", text))), Completes)
    assert isinstance(one(s1_translate(regs, memory, Access("store8", text))), Abort)
    assert isinstance(one(s1_translate(regs, memory, Access("fetch", data))), Abort)
    assert isinstance(one(s1_translate(regs, memory, Access("store8", data))), Completes)


@pytest.mark.parametrize("span,pan_after", [(False, True), (True, False)])
def test_predict_case_sets_pan_after_an_el0_step_when_span_is_0(tmp_path, span, pan_after):
    # Exception entry to EL1 sets PSTATE.PAN when SCTLR_EL1.SPAN = 0; an EL1 fault's return restores it.
    case = _case(tmp_path, f'''[case.c]
summary = "s"
requires = ["FEAT_PAN"]
regime = {{ span = {str(span).lower()} }}
map = [ {{ va = 0x8000_0000, to = "frame0", level = 3, ap = "rw_all" }} ]
steps = [
  {{ do = "load64", va = 0x8000_1000, expect = {{ fault = "translation", level = 3 }} }},
  {{ do = "load64", va = 0x8000_0000, expect = "ok" }},
  {{ do = "load64", el = 0, va = 0x8000_0000, expect = "ok" }},
  {{ do = "load64", va = 0x8000_0000, expect = "ok" }},
]
''')
    last = one(predict_case(case, MAX)[3])
    assert isinstance(last, Abort) == pan_after
    assert isinstance(one(predict_case(case, MAX)[1]), Completes)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_leaf_faults_report_the_leaf_level(level):
    # Access flag, Address size and Permission faults name the level of the block or page (AArch64.S1Walk,
    # AArch64.S1CheckPermissions), for 1 GiB and 2 MiB blocks as for pages.
    kind = 0b11 if level == 3 else 0b01
    va = 0x8000_0000
    cases = {
        ("access_flag", "load8"): PAGE | kind | NORMAL | SH_INNER,
        ("address_size", "load8"): 1 << 40 | kind | AF | NORMAL,
        ("permission", "store8"): PAGE | kind | AF | NORMAL | 0b10 << 6,
    }
    for (fault, op), leaf in cases.items():
        outcome = one(translate(regs(ips=0b010), memory(chain(va, leaf, level)), op, va))
        assert fault_of(outcome) == (fault, level)



def test_el2_and_el0_in_the_host_translate_as_el1_and_el0_do():
    """The EL2&0 regime's walk and permissions are EL1&0's with EL2 for EL1 (HasUnprivileged,
    the same fields): every access of the kernel's EL and of EL0 has EL1&0's outcome; EL2 and
    EL0 are in the host there (ELIsInHost)."""
    el10 = regs()
    host = replace(el10, regime=REGIME_EL20)
    for ap, pxn in ((0b00, 0), (0b01, 1 << 53), (0b11, 0)):     # EL2-only RW; EL0 RW, PXN; read-only for both
        mem = memory(chain(VA, PAGE | PAGE_DESC | ap << 6 | pxn, 3))
        for op, el in (("load64", 1), ("store64", 1), ("load64", 0), ("store64", 0), ("fetch", 1), ("fetch", 0),
                       ("at_s1e1w", 1), ("at_s1e0r", 1), ("ldtr64", 1)):
            assert translate(host, mem, op, VA, el=el) == translate(el10, mem, op, VA, el=el), (ap, op, el)
        assert translate(host, mem, "at_s1e2w", VA) == translate(el10, mem, "at_s1e1w", VA)
    assert [el_is_in_host(host, el) for el in (0, 1, 2)] == [True, False, True]
    assert not any(el_is_in_host(replace(el10, regime=r), el) for r in (REGIME_EL10, REGIME_EL2) for el in (0, 2))


def test_no_dirty_state_update_on_a_memory_type_alignment_fault():
    # J1.1.4.62 AArch64.SettingDirtyStatePermitted (M.a.a): fault_perm, S1CheckPermissions of the
    # fault record that already holds the Alignment fault, is not Fault_None: no dirty update.  (The
    # older ASL left it CONSTRAINED UNPREDICTABLE, Unpredictable_DBUPDATE.)  The AF update on an
    # Alignment fault stays CONSTRAINED UNPREDICTABLE (AArch64.SettingAccessFlagPermitted).
    leaf = PAGE | 0b11 | DEVICE | 0b10 << 6 | 1 << 51       # writable-clean (DBM, AP[2] = 1), AF = 0
    r = regs(ha=True, hd=True, mmfr1=MMFR1_HAFDBS)
    outcomes = translate(r, memory(chain(VA, leaf, 3)), "store64", VA)
    faults = [o for o in outcomes if isinstance(o, Abort)]
    assert faults and all(fault_of(o) == ("alignment", None) for o in faults)
    assert {tuple(new & (1 << 7) for _, _, new in o.updates) for o in faults} <= {(), (1 << 7,)}
    assert {bool(o.updates) for o in faults} == {True, False}        # AF set, or not


@pytest.mark.parametrize("t0sz, mmfr2, faults", [
    (12, MMFR2_LVA, {("translation", 0)}),          # FEAT_LVA, 4K without DS: minimum 16, always a fault
    (12, 0, {("translation", 0), None}),            # no FEAT_LVA: IMPLEMENTATION DEFINED fault or clamp to 16
])
def test_s1_txsz_below_the_minimum(t0sz, mmfr2, faults):
    # Review C: J1.1.4.33 AArch64.S1TxSZFaults: `IsFeatureImplemented(FEAT_LVA) || IMPLEMENTATION_DEFINED`
    # (R_SXWGM); J1.1.4.98 AArch64.S1MinTxSZ.  The old model allowed the clamp with FEAT_LVA too.
    words = chain(VA, PAGE | PAGE_DESC, 3)
    outcomes = translate(regs(t0sz=t0sz, mmfr2=mmfr2), memory(words), "load8", VA)
    assert {fault_of(o) if isinstance(o, Abort) else None for o in outcomes} == faults


def test_s1_min_txsz_is_12_only_with_feat_lva():
    # J1.1.4.98 AArch64.S1MinTxSZ: 12 for 64K (or DS) with FEAT_LVA, else 16.
    words = chain(0x8000_0000, PAGE | PAGE_DESC, 3, granule=16, start=1)
    with_lva = translate(regs(granule=16, t0sz=12, mmfr2=MMFR2_LVA), memory({}), "load8", 0x8000_0000)
    assert {fault_of(o) for o in with_lva} == {("translation", 1)}      # a 52-bit VA walk: level 1's empty table
    without = translate(regs(granule=16, t0sz=12), memory(words), "load8", 0x8000_0000)
    assert {fault_of(o) if isinstance(o, Abort) else None for o in without} == {("translation", 0), None}


def test_64k_descriptor_bits_15_12_are_oa_51_48_whatever_ips_with_a_52_bit_pamax():
    # Review D6: J1.1.4.11 AArch64.S1LeafBase takes descriptor<15:12> as OA[51:48] with 64K when
    # AArch64.PAMax() >= 52, with no IPS term; with IPS = 48 bits the OA is then out of range: an Address
    # size fault at the leaf's level (the old model ignored the bits and translated).
    leaf = PAGE | 0b0001 << 12 | PAGE_DESC
    mem = memory(chain(0x8000_0000, leaf, 3, granule=16, start=1))
    outcome = one(translate(regs(granule=16, ips=0b101, mmfr0=MMFR0_52), mem, "load64", 0x8000_0008))
    assert fault_of(outcome) == ("address_size", 3)


def test_64k_descriptor_bits_15_12_below_a_52_bit_pamax_are_implementation_defined():
    # R_WDZFC, AArch64.S1LeafBase's IMPLEMENTATION DEFINED "descriptor[15:12] for 64KB granule are OA[51:48]":
    # with PAMax 48, nonzero bits[15:12] give an Address size fault or are ignored.
    leaf = PAGE | 0b0001 << 12 | PAGE_DESC
    mem = memory(chain(0x8000_0000, leaf, 3, granule=16, start=1))
    outcomes = translate(regs(granule=16, ips=0b101), mem, "load64", 0x8000_0008)
    assert {fault_of(o) if isinstance(o, Abort) else o.pa for o in outcomes} == {("address_size", 3), PAGE + 8}
    assert "R_WDZFC" in outcomes.rule
    assert isinstance(one(translate(regs(granule=16, ips=0b101), memory(chain(
        0x8000_0000, PAGE | PAGE_DESC, 3, granule=16, start=1)), "load64", 0x8000_0008)), Completes)


def test_a_page_crossing_access_whose_pages_both_fault_may_report_either_side():
    # Review D13(a): B2.8.2 Note: "an unaligned access that occurs across a page boundary can generate an
    # abort on either side of the page boundary"; the old model reported the lower page's alone.
    outcomes = translate(regs(), memory(chain(VA, 0, 3)), "load64", 0x8000_0FFC)
    assert {(fault_of(o), o.far) for o in outcomes} == {(("translation", 3), 0x8000_0FFC),
                                                        (("translation", 3), 0x8000_1000)}
    # Only the lower page faults: its fault alone.
    words = chain(VA, 0, 3)
    words.update(chain(VA + 0x1000, (PAGE + 0x5000) | PAGE_DESC, 3))
    assert one(translate(regs(), memory(words), "load64", 0x8000_0FFC)).far == 0x8000_0FFC


@pytest.mark.parametrize("second", [(PAGE_DESC & ~NORMAL) | DEVICE,          # Normal -> Device
                                    PAGE_DESC & ~SH_INNER | 2 << 8])         # Inner -> Outer Shareable
def test_a_page_crossing_access_into_another_memory_type_or_shareability(second):
    # Review D13(c), K1.2.13: each page's own attributes, an Alignment fault caused by the memory type
    # (taken to EL1: stage 1 made the mismatch), or a NOP; the old model gave the first alone.
    words = chain(VA, PAGE | PAGE_DESC, 3)
    words.update(chain(VA + 0x1000, (PAGE + 0x5000) | second, 3))
    outcomes = translate(regs(), memory(words), "store64", 0x8000_0FFC, value=1)
    made = {o for o in outcomes if isinstance(o, Completes) and o.spans}
    assert {o.spans for o in made} == {((PAGE + 0xFFC, 4), (PAGE + 0x5000, 4))}
    assert {fault_of(o) for o in outcomes if isinstance(o, Abort)} == {("alignment", None)}
    # The access's own address (the Device page's unaligned piece may fault on its own too, at 0x8000_1000).
    assert 0x8000_0FFC in {o.far for o in outcomes if isinstance(o, Abort)}
    assert any(isinstance(o, Completes) and not o.spans for o in outcomes)     # the NOP
    assert "K1.2.13" in outcomes.rule
    # The same memory type and shareability on both sides: the access alone.
    words.update(chain(VA + 0x1000, (PAGE + 0x5000) | PAGE_DESC, 3))
    assert one(translate(regs(), memory(words), "store64", 0x8000_0FFC, value=1)).spans


def test_a_store_whose_later_page_faults_leaves_the_earlier_bytes_unknown(tmp_path):
    # Review D13(b), D1.4.1.4: an instruction that makes more than one single-copy atomic access and takes a
    # precise Data Abort may leave the memory its non-faulting accesses touched UNKNOWN.  The abort carries the
    # earlier piece's PA span; a load of those bytes after it may read any value (the old model: the old bytes).
    words = chain(VA, PAGE | PAGE_DESC, 3)
    outcomes = translate(regs(), memory(words), "store64", 0x8000_0FFC, value=0x1122_3344_5566_7788)
    assert {(fault_of(o), o.far, o.written) for o in outcomes} == {(("translation", 3), 0x8000_1000,
                                                                   ((PAGE + 0xFFC, 4),))}
    from harness.cases import load_file
    from harness.predict import predict_case
    path = tmp_path / "d13b.toml"
    path.write_text('''feature = "f"
[case.c]
summary = "s"
map = [ { va = 0x8000_0000, to = "lo", level = 3 } ]
steps = [
  { do = "store64", va = 0x8000_0ffc, value = 0x1122_3344_5566_7788, expect = { fault = "translation", level = 3, far = 0x8000_1000 } },
  { do = "load32",  va = 0x8000_0ffc, expect = "ok" },
  { do = "load32",  va = 0x8000_0ff8, expect = { value = 0 } },
]
''')
    case = load_file(path)[0]
    ids = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120)
    _, unknown, untouched = predict_case(case, ids)
    assert {o.value for o in unknown} == {None}         # any value: not the zero it held
    assert {o.value for o in untouched} == {0}           # the bytes beside it stay known
