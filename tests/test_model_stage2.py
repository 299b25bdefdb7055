"""The model's stage 2 (harness/model/stage2.py) rule by rule, on hand-built
tables: the walk's start level and concatenated start table, S2AP and XN
(with and without FEAT_XNX), S2CombineS1MemAttrs, and a stage 1 walk whose
descriptor read faults at stage 2."""
import pytest

from harness import esr, par
from harness.model import Abort, Access, Completes, Memory, Par, Registers, Unknown, full_translate
from harness.model.attributes import MemAttrs, NC, WB, WT
from harness.model.stage2 import (
    S2_AP, S2_MEMATTR, S2_XN, S2AP_W, s2_apply_fwb_mem_attrs, s2_bad_start_level, s2_combine_mem_attrs,
    s2_decode_mem_attrs, s2_params,
)

MAX_IDS = dict(mmfr0=0x32310201126, mmfr1=0x11010211122, mmfr2=0x1021011010011011)
A53_IDS = dict(mmfr0=0x1122, mmfr1=0, mmfr2=0)
S1_ROOT, S1_L1, S1_L2, S1_L3 = 0x4010_0000, 0x4010_1000, 0x4010_2000, 0x4010_3000
S2_ROOT, S2_L2, S2_L3 = 0x4020_0000, 0x4020_2000, 0x4020_3000    # S2 root: two concatenated level 1 tables
S2_L2_TABLES = 0x4020_4000      # the stage 2 level 2 table that maps stage 1's tables at IPA = PA
TCR = 16 | 1 << 8 | 1 << 10 | 3 << 12 | 16 << 16 | 2 << 30 | 5 << 32      # 48-bit VA, 4K, IPS 48
SCTLR = 1 | 1 << 2 | 1 << 12
MAIR = 0xFF00                   # AttrIndx 1: Normal Write-Back; 0: Device-nGnRnE
VTCR = 1 << 31 | 24 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 5 << 16       # 40-bit IPA, SL0 = 1 (level 1), PS 48
PAGE = 0b11 | 1 << 10                                                     # valid page, AF


def s1_page(pa, attrindx=1):
    return pa | PAGE | attrindx << 2 | 3 << 8


def s2_page(pa, s2ap=0b11, xn=0, memattr=0xF, af=True, dbm=False):
    return (pa | PAGE & ~(0 if af else 1 << 10) | memattr << S2_MEMATTR.shift | s2ap << S2_AP.shift | 3 << 8
            | xn << S2_XN.shift | dbm << 51)


def tables(s1_leaf, s2_leaf, va=0x8000_0000, ipa=0x80_0000_0000):
    """Stage 1 maps va -> ipa (a page), stage 2 maps ipa -> PA 0x4100_0000 (a page), both through 4K tables."""
    words = {
        S1_ROOT + 8 * (va >> 39 & 511): S1_L1 | 0b11,
        S1_L1 + 8 * (va >> 30 & 511): S1_L2 | 0b11,
        S1_L2 + 8 * (va >> 21 & 511): S1_L3 | 0b11,
        S1_L3 + 8 * (va >> 12 & 511): s1_leaf,
        # Level 1 resolves IPA bits [39:30]: 1024 entries over the two concatenated tables.
        S2_ROOT + 8 * (ipa >> 30 & 1023): S2_L2 | 0b11,
        S2_L2 + 8 * (ipa >> 21 & 511): S2_L3 | 0b11,
        S2_L3 + 8 * (ipa >> 12 & 511): s2_leaf,
    }
    # Stage 1's tables are read through stage 2 too: IPA = PA for them.
    words[S2_ROOT + 8 * (S1_ROOT >> 30 & 1023)] = S2_L2_TABLES | 0b11
    words[S2_L2_TABLES + 8 * (S1_ROOT >> 21 & 511)] = 0x4000_0000 | 0b01 | 1 << 10 | 0xF << 2 | 0b11 << 6 | 3 << 8
    return Memory(words, [(S1_ROOT, S1_ROOT + 0x4000), (S2_ROOT, S2_ROOT + 0x6000)])


def regs(ids=MAX_IDS, vtcr=VTCR):
    return Registers(tcr=TCR, mair=MAIR, sctlr=SCTLR, ttbr0=S1_ROOT, ttbr1=0, hcr=1 << 31 | 1, vtcr=vtcr,
                     vttbr=S2_ROOT, **ids)


def only(outcomes):
    assert len(outcomes) == 1, outcomes
    return next(iter(outcomes))


def test_two_stages_translate_through_a_concatenated_start_table():
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000))
    done = only(full_translate(regs(), memory, Access("load64", 0x8000_0010)))
    assert isinstance(done, Completes) and done.pa == 0x4100_0010


@pytest.mark.parametrize("s2ap, op, faults", [
    (0b00, "load64", True), (0b01, "load64", False), (0b01, "store64", True),
    (0b10, "load64", True), (0b10, "store64", False), (0b11, "store64", False),
])
def test_s2ap(s2ap, op, faults):
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000, s2ap=s2ap))
    outcome = only(full_translate(regs(), memory, Access(op, 0x8000_0010)))
    if faults:
        assert isinstance(outcome, Abort) and outcome.stage == 2 and outcome.ec == esr.EC.DABT_LOW
        assert outcome.fault == ("permission", 3) and outcome.ipa == 0x80_0000_0010
    else:
        assert isinstance(outcome, Completes)


@pytest.mark.parametrize("xn, ids, faults", [
    (0b10, MAX_IDS, True), (0b01, MAX_IDS, True), (0b11, MAX_IDS, False), (0b00, MAX_IDS, False),
    (0b01, A53_IDS, False),         # without FEAT_XNX only XN[1] counts
])
def test_stage2_execute_never(xn, ids, faults):
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000, xn=xn))
    outcome = only(full_translate(regs(ids), memory, Access("fetch", 0x8000_0010)))
    assert isinstance(outcome, Abort) == faults
    if faults:
        assert outcome.ec == esr.EC.IABT_LOW and outcome.fault == ("permission", 3)


@pytest.mark.parametrize("xn, ids, el1_faults, el0_faults", [
    (0b00, MAX_IDS, False, False), (0b10, MAX_IDS, True, True),
    (0b01, MAX_IDS, True, False), (0b11, MAX_IDS, False, True),      # FEAT_XNX: XN[0] tells EL1 from EL0
    (0b11, A53_IDS, True, True),
])
def test_stage2_execute_never_at_el0(xn, ids, el1_faults, el0_faults):
    # An EL0 step is an EL0 access at stage 2 too (AArch64.S2CheckPermissions reads accdesc.el); its
    # stage 2 fault is taken to EL2 from the lower EL, as EL1's.  Stage 1: AP ro_all, PXN = UXN = 0.
    memory = tables(s1_page(0x80_0000_0000) | 0b11 << 6, s2_page(0x4100_0000, xn=xn))
    for el, faults in ((1, el1_faults), (0, el0_faults)):
        outcome = only(full_translate(regs(ids), memory, Access("fetch", 0x8000_0010, el=el)))
        assert isinstance(outcome, Abort) == faults
        if faults:
            assert outcome.stage == 2 and outcome.ec == esr.EC.IABT_LOW and outcome.fault == ("permission", 3)


def test_combined_attributes():
    wb, wt, nc = (WB, 3, False), (WT, 0, False), (NC, 0, False)
    normal_wb = MemAttrs(inner=wb, outer=wb)
    assert s2_decode_mem_attrs(0b1010) == MemAttrs(inner=wt, outer=wt)
    assert s2_combine_mem_attrs(normal_wb, s2_decode_mem_attrs(0b1010)) == MemAttrs(inner=(WT, 3, False),
                                                                                     outer=(WT, 3, False))
    assert s2_combine_mem_attrs(normal_wb, s2_decode_mem_attrs(0b0101)) == MemAttrs(inner=nc, outer=nc)
    assert s2_combine_mem_attrs(normal_wb, s2_decode_mem_attrs(0b0001)) == MemAttrs(device="nGnRE")
    assert s2_combine_mem_attrs(MemAttrs(device="GRE"), s2_decode_mem_attrs(0b0000)) == MemAttrs(device="nGnRnE")
    assert s2_decode_mem_attrs(0b0100).reserved         # Normal with MemAttr[1:0] = 0b00


def test_at_s12_reports_the_combined_attributes_and_stage2_faults():
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000, memattr=0b0001))
    outcome = only(full_translate(regs(), memory, Access("at_s12e1r", 0x8000_0010)))
    assert isinstance(outcome, Par)
    assert par.PAR_PA.get(outcome.value) << 12 == 0x4100_0000 and par.PAR_ATTR.get(outcome.value) == 0x04
    memory = tables(s1_page(0x80_0000_0000), 0)
    outcome = only(full_translate(regs(), memory, Access("at_s12e1w", 0x8000_0010)))
    assert par.PAR_F.get(outcome.value) and par.PAR_S.get(outcome.value) and not par.PAR_PTW.get(outcome.value)
    assert esr.decode_fsc(par.PAR_FST.get(outcome.value)) == ("translation", 3)


def test_at_s1e1r_reports_the_ipa():
    memory = tables(s1_page(0x80_0000_0000), 0)     # stage 2 would fault: AT S1E1R does not look
    outcome = only(full_translate(regs(), memory, Access("at_s1e1r", 0x8000_0010)))
    assert par.PAR_PA.get(outcome.value) << 12 == 0x80_0000_0000


def test_a_stage1_descriptor_read_that_faults_at_stage2():
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000))
    memory.write64(S1_L2 + 8 * (0x8000_0000 >> 21 & 511), 0x80_4000_0000 | 0b11)     # the L3 table at an unmapped IPA
    memory.write64(S2_ROOT + 8 * (0x80_4000_0000 >> 30 & 1023), 0)
    outcome = only(full_translate(regs(), memory, Access("store64", 0x8000_0010)))
    assert isinstance(outcome, Abort) and outcome.stage == 2 and outcome.s1ptw
    # WnR is the store's (review D17: fault.write comes from the instruction's AccessDescriptor).
    assert outcome.fault == ("translation", 1) and outcome.ipa == 0x80_4000_0000 and outcome.wnr is True
    assert outcome.far == 0x8000_0010
    at = only(full_translate(regs(), memory, Access("at_s12e1r", 0x8000_0010)))
    assert par.PAR_PTW.get(at.value) and par.PAR_S.get(at.value)
    # AT S1E* from EL1 does not report it in PAR_EL1: it is taken to EL2, a Data Abort with CM = WnR = 1.
    for op in ("at_s1e1r", "at_s1e0w"):
        abort = only(full_translate(regs(), memory, Access(op, 0x8000_0010)))
        assert isinstance(abort, Abort) and abort.stage == 2 and abort.s1ptw and abort.cm and abort.wnr
        assert abort.ec == esr.EC.DABT_LOW and abort.ipa == 0x80_4000_0000 and abort.far == 0x8000_0010


VTCR_HA, VTCR_HD = 1 << 21, 1 << 22
S2_LEAF_PA = S2_L3 + 8 * (0x80_0000_0000 >> 12 & 511)


@pytest.mark.parametrize("op", ["load64", "store64", "fetch"])
def test_vtcr_ha_sets_the_access_flag_instead_of_faulting(op):
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000, af=False))
    fault = only(full_translate(regs(), memory, Access(op, 0x8000_0010)))
    assert isinstance(fault, Abort) and fault.fault == ("access_flag", 3) and not fault.updates
    done = only(full_translate(regs(vtcr=VTCR | VTCR_HA), memory, Access(op, 0x8000_0010)))
    leaf = s2_page(0x4100_0000, af=False)
    assert isinstance(done, Completes) and done.updates == ((S2_LEAF_PA, leaf, leaf | 1 << 10),)


def test_vtcr_hd_makes_a_writable_clean_page_dirty_on_a_write_only():
    clean = s2_page(0x4100_0000, s2ap=0b01, dbm=True)
    memory = tables(s1_page(0x80_0000_0000), clean)
    dirty_regs = regs(vtcr=VTCR | VTCR_HA | VTCR_HD)
    store = only(full_translate(dirty_regs, memory, Access("store64", 0x8000_0010)))
    assert isinstance(store, Completes) and store.updates == ((S2_LEAF_PA, clean, clean | S2AP_W),)
    assert not only(full_translate(dirty_regs, memory, Access("load64", 0x8000_0010))).updates
    # AT S12E1W: the write permitted, no dirty update (AArch64.S2Translate excludes AccessType_AT).
    at = only(full_translate(dirty_regs, memory, Access("at_s12e1w", 0x8000_0010)))
    assert isinstance(at, Par) and not par.PAR_F.get(at.value) and not at.updates
    # Without HD (or HA) DBM grants nothing: a stage 2 Permission fault, no update.
    for vtcr in (VTCR | VTCR_HA, VTCR | VTCR_HD):
        fault = only(full_translate(regs(vtcr=vtcr), memory, Access("store64", 0x8000_0010)))
        assert isinstance(fault, Abort) and fault.fault == ("permission", 3) and not fault.updates


def test_a_permission_fault_may_or_may_not_set_the_access_flag():
    leaf = s2_page(0x4100_0000, s2ap=0b01, af=False)
    memory = tables(s1_page(0x80_0000_0000), leaf)
    outcomes = full_translate(regs(vtcr=VTCR | VTCR_HA), memory, Access("store64", 0x8000_0010))
    assert {o.updates for o in outcomes} == {(), ((S2_LEAF_PA, leaf, leaf | 1 << 10),)}
    assert all(isinstance(o, Abort) and o.fault == ("permission", 3) for o in outcomes) and outcomes.rule


def test_fwb_mem_attrs():
    # AArch64.S2ApplyFWBMemAttrs: stage 2 overrides stage 1 instead of combining with it.
    wb_ra, nc = MemAttrs(inner=(WB, 0b10, False), outer=(WB, 0b10, False)), MemAttrs(inner=(NC, 0, False),
                                                                                  outer=(NC, 0, False))
    rwa = MemAttrs(inner=(WB, 0b11, False), outer=(WB, 0b11, False))
    assert s2_apply_fwb_mem_attrs(wb_ra, 0b0110) == wb_ra                   # forced WB keeps stage 1's hints
    assert s2_apply_fwb_mem_attrs(nc, 0b0110) == rwa                        # ... or read/write-allocates
    assert s2_apply_fwb_mem_attrs(MemAttrs(device="nGnRnE"), 0b0110) == rwa  # even over Device
    assert s2_apply_fwb_mem_attrs(MemAttrs(device="GRE"), 0b0111) == MemAttrs(device="GRE")
    assert s2_apply_fwb_mem_attrs(wb_ra, 0b0101) == nc
    assert s2_apply_fwb_mem_attrs(MemAttrs(device="nGnRE"), 0b0101) == MemAttrs(device="nGnRE")
    assert s2_apply_fwb_mem_attrs(MemAttrs(device="nGnRnE"), 0b0011) == MemAttrs(device="nGnRnE")
    assert s2_apply_fwb_mem_attrs(wb_ra, 0b1110).reserved                   # MemAttr[3] is RES0


def test_at_s12_with_fwb_reports_the_forced_attributes():
    memory = tables(s1_page(0x80_0000_0000, attrindx=0), s2_page(0x4100_0000, memattr=0b0110))  # stage 1 Device
    fwb_regs = Registers(**{**regs().__dict__, "hcr": 1 << 31 | 1 | 1 << 46})
    at = only(full_translate(fwb_regs, memory, Access("at_s12e1r", 0x8000_0010)))
    assert par.PAR_ATTR.get(at.value) == 0xFF and not at.mask & par.PAR_SH.mask     # SH: stage 1's is IMP DEF
    without = only(full_translate(regs(), memory, Access("at_s12e1r", 0x8000_0010)))
    assert par.PAR_ATTR.get(without.value) == 0x00                                  # Device wins without FWB


@pytest.mark.parametrize("granule, sl0, sl2, ds, ipa_bits, pamax, bad", [
    (12, 1, False, False, 40, 40, False),   # level 1, two concatenated tables
    (12, 2, False, False, 40, 40, True),    # level 0 needs PAMax >= 44 (AArch64.S2InvalidSL)
    (12, 2, False, False, 40, 44, False),
    (12, 0, True, True, 52, 52, False),     # level -1 (SL2): PAMax 52
    (12, 0, True, True, 52, 48, True),
    (12, 1, True, True, 52, 52, True),      # SL2:SL0 = 0b101 names no level
    (12, 1, False, False, 44, 48, True),    # level 1 resolves at most 9 + 4 bits above 30 (S2InconsistentSL)
    (12, 0, False, False, 36, 48, True),    # level 2 resolves at most 8 + 4 bits above 21
    (14, 3, False, True, 48, 52, False),    # 16K level 0 with DS
    (14, 3, False, False, 48, 52, True),
    (16, 3, False, False, 48, 52, True),    # 64K SL0 = 3 names no level
    (12, 3, False, False, 24, 48, True),    # 4K SL0 = 3 (level 3) needs FEAT_TTST (review D5) ...
    (12, 2, True, True, 52, 52, True),      # SL2:SL0 = 0b110 names no level
    (14, 2, False, False, 47, 40, True),    # 16K level 1 needs PAMax >= 42
    (14, 2, False, False, 47, 42, False),
    (16, 2, False, False, 48, 40, True),    # 64K level 1 needs PAMax >= 44
    (16, 2, False, False, 48, 44, False),
    (16, 1, False, False, 29, 48, True),    # 64K level 2 resolves at least 1 bit above 29
    (16, 1, False, False, 30, 48, False),
])
def test_start_level_validity(granule, sl0, sl2, ds, ipa_bits, pamax, bad):
    # J1.1.4.40 AArch64.S2InvalidSL, J1.1.4.38 AArch64.S2InconsistentSL: every branch.
    assert s2_bad_start_level(granule, sl0, sl2, ds, ipa_bits, pamax) == bad


def test_4k_sl0_3_is_level_3_with_feat_ttst():
    # Review D5: J1.1.4.18 AArch64.S2StartLevel: 4K SL2:SL0 = 0b011 is level 3 (FEAT_TTST), valid with
    # a 24-bit IPA (T0SZ = 40: 12 + 9 + 1 .. 12 + 9 + 12 bits); the old model decoded it as level -1.
    assert not s2_bad_start_level(12, 3, False, False, 24, 48, ttst=True)
    ttst = dict(MAX_IDS, mmfr2=MAX_IDS["mmfr2"] & ~(0xF << 28) | 1 << 28)
    params = s2_params(regs(ttst, vtcr=VTCR & ~0x3F & ~(3 << 6) | 40 | 3 << 6))
    assert params.start == 3 and not params.bad_sl


def test_an_ipa_above_the_input_size_is_a_level_0_translation_fault():
    # Review D1: J1.1.4.23 AArch64.IPAIsOutOfRange in AArch64.S2Translate: fault.level = 0 (D8.1.10:
    # "a stage 2 level 0 Translation fault"), whatever the start level (here 1).
    memory = tables(s1_page(0x100_0000_0000), s2_page(0x4100_0000))
    fault = only(full_translate(regs(), memory, Access("load64", 0x8000_0010)))
    assert (fault.stage, fault.fault, fault.s1ptw, fault.ipa) == (2, ("translation", 0), False, 0x100_0000_0010)


def test_vttbr_base_above_the_output_size_is_a_level_0_address_size_fault():
    # Review D2: J1.1.4.79 AArch64.S2Walk checks the start-level descriptor address with
    # AArch64.S2OAOutOfRange: an Address size fault at level 0; here on stage 1's first descriptor
    # read (S1PTW = 1, the IPA of stage 1's root descriptor).
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000))
    ps40 = VTCR & ~(7 << 16) | 2 << 16
    high = Registers(**{**regs(vtcr=ps40).__dict__, "vttbr": S2_ROOT | 1 << 40})
    fault = only(full_translate(high, memory, Access("load64", 0x8000_0010)))
    assert (fault.stage, fault.fault, fault.s1ptw, fault.ipa) == (2, ("address_size", 0), True, S1_ROOT)


def test_vttbr_52_bit_base_reads_baddr_51_48_from_bits_5_2():
    # Review D2: J1.1.4.19 AArch64.S2TTBaseAddress with DS (or 64K, PS = 52 and FEAT_LPA):
    # tablebase<51:6> = VTTBR<5:2>:VTTBR<47:6>.
    vtcr = 1 << 31 | 12 | 3 << 12 | 6 << 16 | 1 << 32 | 1 << 33
    params = s2_params(Registers(**{**regs(vtcr=vtcr).__dict__, "vttbr": 0x4020_0000 | 0b0011 << 2}))
    assert params.base == 3 << 48 | 0x4020_0000


@pytest.mark.parametrize("t0sz, ids, faults", [
    (12, MAX_IDS, (True,)),         # 4K without DS: minimum 16; FEAT_LPA (PAMax 52): fault
    (16, A53_IDS, (True, False)),   # PAMax 40: minimum 24; no FEAT_LPA: IMPLEMENTATION DEFINED
    (24, A53_IDS, (False,)),
    (40, A53_IDS, (True, False)),   # above MaxTxSZ (39 without FEAT_TTST): IMPLEMENTATION DEFINED
])
def test_s2_txsz_below_the_minimum_or_above_the_maximum(t0sz, ids, faults):
    # Review D3: J1.1.4.43 AArch64.S2TxSZFaults, J1.1.4.107 AArch64.S2MinTxSZ, J1.1.4.87 AArch64.MaxTxSZ,
    # and AArch64.S2Translate's clamp before the SL checks.
    vtcr = VTCR & ~0x3F & ~(3 << 6) | t0sz | (2 if t0sz <= 16 else 1) << 6
    assert s2_params(regs(ids, vtcr=vtcr)).txsz_faults == faults


def test_s2_txsz_clamp_happens_before_the_sl_check():
    # Review D3, converse: PAMax 40, T0SZ = 16, SL0 = 1: clamped to 24, level 1 is consistent, so an
    # implementation that clamps translates; one that faults gives a level 0 Translation fault.
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000))
    outcomes = full_translate(regs(A53_IDS, vtcr=VTCR & ~0x3F | 16), memory, Access("at_s12e1r", 0x8000_0010))
    assert {bool(par.PAR_F.get(o.value)) for o in outcomes} == {True, False} and "S2TxSZFaults" in outcomes.rule


def test_hcr_ptw_faults_a_walk_into_stage_2_device_memory():
    # Review D4: J1.1.4.34 AArch64.S2CheckPermissions: walkparams.ptw (HCR_EL2.PTW, TGE = 0) and a
    # stage 1 table in memory stage 2 makes Device: a stage 2 Permission fault, S1PTW = 1.
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000))
    memory.write64(S2_L2_TABLES + 8 * (S1_ROOT >> 21 & 511),
                   0x4000_0000 | 0b01 | 1 << 10 | 0b0001 << 2 | 0b11 << 6 | 3 << 8)     # Device-nGnRE
    ptw = Registers(**{**regs().__dict__, "hcr": 1 << 31 | 1 | 1 << 2})
    fault = only(full_translate(ptw, memory, Access("load64", 0x8000_0010)))
    assert (fault.stage, fault.fault, fault.s1ptw) == (2, ("permission", 2), True)
    assert isinstance(only(full_translate(regs(), memory, Access("load64", 0x8000_0010))), Completes)


def test_hcr_cache_controls_are_refused():
    # HCR_EL2.DC, CD, ID change stage 2's cacheability, which the model does not cover: it says so.
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000))
    for bit in (12, 32, 33):
        cd = Registers(**{**regs().__dict__, "hcr": 1 << 31 | 1 | 1 << bit})
        assert all(isinstance(o, Unknown) for o in full_translate(cd, memory, Access("load64", 0x8000_0010)))


def test_stage2_contiguous_misprogramming_allows_the_group_address():
    # Review D18: StageOA uses the Contiguous group's address; a misprogrammed entry (its OA not its
    # place in the group) is CONSTRAINED UNPREDICTABLE: its own OA or the group's, as at stage 1.
    memory = tables(s1_page(0x80_0000_1000), s2_page(0x4100_0000) | 1 << 52, ipa=0x80_0000_1000)
    outcomes = full_translate(regs(), memory, Access("load64", 0x8000_0010))
    assert {o.pa for o in outcomes} == {0x4100_0010, 0x4100_1010} and "Contiguous" in outcomes.rule


def test_fwb_memattr_100_is_non_cacheable_unless_stage_1_is_device():
    # Review D19: J1.1.4.45 AArch64.S2ApplyFWBMemAttrs sends MemAttr[2:0] = 0b100 to its last branch.
    nc = MemAttrs(inner=(NC, 0, False), outer=(NC, 0, False))
    assert s2_apply_fwb_mem_attrs(MemAttrs(inner=(WB, 3, False), outer=(WB, 3, False)), 0b0100) == nc
    assert s2_apply_fwb_mem_attrs(MemAttrs(device="GRE"), 0b0100) == MemAttrs(device="GRE")


def test_an_invalid_start_level_faults_every_access_at_level_0():
    # SL0 = 2 (level 0) on a CPU with 40-bit PAs: AArch64.S2InvalidSL, a Translation fault at level 0.
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000))
    a53 = regs(A53_IDS, vtcr=VTCR & ~(3 << 6) | 2 << 6)
    assert s2_params(a53).bad_sl
    fault = only(full_translate(a53, memory, Access("load64", 0x8000_0010)))
    assert isinstance(fault, Abort) and fault.stage == 2 and fault.fault == ("translation", 0) and fault.s1ptw


def test_ds_at_stage2_starts_at_level_minus_1_with_sl2():
    # VTCR_EL2: 4K, T0SZ = 12, SL0 = 0, SL2 = 1, DS = 1, PS 52: a 16-entry level -1 table for IPA[51:48].
    vtcr = 1 << 31 | 12 | 3 << 12 | 6 << 16 | 1 << 32 | 1 << 33
    params = s2_params(regs(vtcr=vtcr))
    assert params.start == -1 and params.ds and params.oasize == 52 and not params.bad_sl
    # Without FEAT_LPA2 at stage 2 (TGran4_2 = 0b0010) DS and SL2 have no effect, and T0SZ = 12 is
    # below AArch64.S2MinTxSZ (16): with FEAT_LPA (PAMax 52) every access faults at level 0 (review D3).
    no_lpa2 = dict(MAX_IDS, mmfr0=MAX_IDS["mmfr0"] & ~(0xF << 40) | 0b0010 << 40)
    params = s2_params(regs(no_lpa2, vtcr=vtcr))
    assert not params.ds and params.txsz_faults == (True,)


def test_an_unaligned_access_to_memory_stage_2_makes_device_is_implementation_defined():
    # AArch64.S2HasAlignmentFaultDueToMemType (J1.1.4.37, M.a.a): a stage 2 Alignment fault unless
    # the Device location supports unaligned access (IMPLEMENTATION DEFINED); S2AP is checked only
    # where the access is made.  The model before M.a.a gave the Alignment fault alone.
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000, s2ap=0b01, memattr=0b0001))
    outcomes = full_translate(regs(), memory, Access("store32", 0x8000_0012))
    assert {o.fault for o in outcomes} == {("alignment", None), ("permission", 3)}
    assert all(o.stage == 2 for o in outcomes) and "Device location supports unaligned access" in outcomes.rule


def test_stage2_64k_descriptor_bits_15_12_with_a_52_bit_pamax_and_ps_48():
    # Review D6 at stage 2: J1.1.4.16 AArch64.S2LeafBase, no PS term: OA[51:48] = 0b0001 is above PS 48 bits,
    # a stage 2 Address size fault at the leaf's level.  VTCR: 64K, T0SZ 24 (40-bit IPA), SL0 = 1 (level 2).
    s2_root = 0x4020_0000
    vtcr = 1 << 31 | 24 | 1 << 6 | 3 << 12 | 1 << 14 | 5 << 16
    s1_tables = {S1_ROOT + 8 * (0x8000_0000 >> 39 & 511): S1_L1 | 0b11,
                 S1_L1 + 8 * (0x8000_0000 >> 30 & 511): S1_L2 | 0b11,
                 S1_L2 + 8 * (0x8000_0000 >> 21 & 511): S1_L3 | 0b11,
                 S1_L3 + 8 * (0x8000_0000 >> 12 & 511): s1_page(0x80_0000_0000)}
    words = dict(s1_tables)
    words[s2_root + 8 * (0x80_0000_0000 >> 29 & 2047)] = 0x4100_0000 | 0b0001 << 12 | 0b01 | 1 << 10 | 0xF << 2 | 3 << 6
    words[s2_root + 8 * (S1_ROOT >> 29 & 2047)] = 0x4000_0000 | 0b01 | 1 << 10 | 0xF << 2 | 3 << 6
    memory = Memory(words, [(S1_ROOT, S1_ROOT + 0x4000), (s2_root, s2_root + 0x1_0000)])
    r = Registers(**{**regs(vtcr=vtcr).__dict__, "vttbr": s2_root})
    fault = only(full_translate(r, memory, Access("load64", 0x8000_0010)))
    assert (fault.stage, fault.fault, fault.s1ptw) == (2, ("address_size", 2), False)


def test_only_a_stage2_fault_of_the_access_has_the_instruction_syndrome():
    # AArch64.InstructionSyndromeValid: ISV = 1 with LSInstructionSyndrome for a stage 2 fault not on
    # a stage 1 walk (STRH w1: SAS 1, SRT 1, SF 0), ISV = 0 for a stage 1 fault of the same store.
    at_stage2 = only(full_translate(regs(), tables(s1_page(0x80_0000_0000), 0), Access("store16", 0x8000_0002)))
    assert (at_stage2.stage, at_stage2.s1ptw, at_stage2.syndrome) == (2, False, (1, 0, 1, 0, 0))
    syndrome = esr.decode_esr(at_stage2.esr().value)
    assert (syndrome.isv, syndrome.sas, syndrome.srt, syndrome.sf, syndrome.wnr) == (1, 1, 1, 0, 1)
    at_stage1 = only(full_translate(regs(), tables(0, s2_page(0x4100_0000)), Access("store16", 0x8000_0002)))
    assert (at_stage1.stage, at_stage1.syndrome) == (1, None)
    assert esr.decode_esr(at_stage1.esr().value).isv == 0


def test_a_stage1_permission_fault_may_set_the_stage2_af_of_its_ipa():
    """D8.5 I_MYQJN (review D15, the other stage): with VTCR_EL2.HA = 1, a store that stage 1 does not
    permit (AP[2] = 1: read-only) faults at stage 1, and the stage 2 descriptor of the IPA stage 1
    gave, with AF = 0, may have its AF set or not; never its dirty state.  Without HA, no update."""
    s2_leaf = s2_page(0x4100_0000, af=False)
    memory = tables(s1_page(0x80_0000_0000) | 1 << 7, s2_leaf)
    store = Access("store64", 0x8000_0000, value=1)
    s2_leaf_pa = S2_L3 + 8 * (0x80_0000_0000 >> 12 & 511)
    outcomes = full_translate(regs(vtcr=VTCR | 1 << 21), memory, store)
    assert all(isinstance(o, Abort) and o.stage == 1 and esr.decode_fsc(o.fsc) == ("permission", 3) for o in outcomes)
    assert {o.updates for o in outcomes} == {(), ((s2_leaf_pa, s2_leaf, s2_leaf | 1 << 10),)}
    assert "I_MYQJN" in outcomes.rule
    assert {o.updates for o in full_translate(regs(), memory, store)} == {()}


def test_a_page_crossing_access_whose_pages_both_fault_at_stage2_may_report_either_side():
    """Review D13(d) with (a): B2.8.2's either side holds at stage 2 too: a load across a page
    boundary whose two IPAs both have no stage 2 page reports the first page's stage 2 fault (ISV = 1:
    its lowest address) or the second's (FAR the second page's first byte); the old model gave the
    first alone (it stopped at the first stage 2 fault)."""
    va, ipa = 0x8000_0000, 0x80_0000_0000
    memory = tables(s1_page(ipa), 0, va=va, ipa=ipa)        # stage 2: an empty level 3 slot for the IPA
    words = dict(memory._words)
    words[S1_L3 + 8 * 1] = s1_page(ipa + 0x1000)            # the next VA page, to the next IPA page: empty too
    memory = Memory(words, [(S1_ROOT, S1_ROOT + 0x4000), (S2_ROOT, S2_ROOT + 0x6000)])
    outcomes = full_translate(regs(), memory, Access("load64", va + 0xFFC))
    assert {(o.stage, o.far, esr.decode_fsc(o.fsc)) for o in outcomes} == {
        (2, va + 0xFFC, ("translation", 3)), (2, va + 0x1000, ("translation", 3))}
    assert {o.far: o.syndrome is not None for o in outcomes} == {va + 0xFFC: True, va + 0x1000: False}
