"""Permission indirection in the model (harness/model/indirect.py), encoding by encoding: every
PIR_ELx and PIRE0_ELx encoding (J1.1.4.30 AArch64.S1IndirectBasePermissions) and every S2PIR_EL2
encoding (J1.1.4.39 AArch64.S2IndirectBasePermissions) against the permissions the tables of the
Arm ARM M.a.a give them, written out here independently of the model's tables; the PI index bits;
the EL0-writable rule; PAN and WXN under PIE; the dirty state (nDirty, Dirty) managed by software
(a Permission fault, DirtyBit in ESR_ELx.ISS2 and PAR_EL1) and by hardware (HA and HD); AT; and
AttrIndx[3] with MAIR2 (FEAT_AIE)."""
import pytest

from harness import esr, par
from harness.model import Abort, Access, Completes, Par, full_translate
from harness.model.attributes import mair_attr
from harness.model.indirect import pi_index, pi_index_bits, s1_indirect, s2_indirect
from harness.model.registers import SCTLR_WXN, TCR2_AIE, TCR2_PIE
from tests.test_model import PAGE, PAGE_DESC, VA, chain, memory, one, regs, translate
from tests.test_model_stage2 import VTCR, S2_LEAF_PA, only, s1_page, s2_page, tables
from tests.test_model_stage2 import regs as s2_regs

# Stage 1, per the table of J1.1.4.30 (the same for PIR and PIRE0): the encodings that give read,
# write, execute (0b0110 is read, write and execute with WXN, so no execute), GCS; the reserved ones
# give nothing.
S1_READ = {0b0001, 0b0011, 0b0101, 0b0110, 0b0111, 0b1000, 0b1001, 0b1010, 0b1100, 0b1110}
S1_WRITE = {0b0101, 0b0110, 0b0111, 0b1100, 0b1110}
S1_EXECUTE = {0b0010, 0b0011, 0b0111, 0b1010, 0b1110}
S1_RESERVED = {0b0100, 0b1011, 0b1101, 0b1111}
# Stage 2, per the table of J1.1.4.39.
S2_READ = {0b0010, 0b0011, 0b0110, 0b0111, 0b1000, 0b1001, 0b1010, 0b1011, 0b1100, 0b1101, 0b1110, 0b1111}
S2_WRITE = {0b0100, 0b1100, 0b1101, 0b1110, 0b1111}
S2_EL1_EXECUTE = {0b1010, 0b1011, 0b1110, 0b1111}
S2_EL0_EXECUTE = {0b1001, 0b1011, 0b1101, 0b1111}
S2_MRO = {0b0010, 0b0011, 0b0110, 0b0111}         # read; a stage 1 walk's hardware updates may write
S2_RESERVED = {0b0001, 0b0101}

NDIRTY = 1 << 7
MMFR1_PAN, MMFR1_HAFDBS = 1 << 20, 0x2


def pie_regs(pir, pire0=0, tcr2=TCR2_PIE.mask, **kw):
    r = regs(**kw)
    return r.__class__(**{**r.__dict__, "tcr2": tcr2, "pir": pir, "pire0": pire0})


def leaf(index=0, ndirty=False, extra=0):
    """A page descriptor of PI index `index` (bits 54, 53, 51, 6), clean with ndirty."""
    return PAGE | PAGE_DESC | pi_index_bits(index) | (NDIRTY if ndirty else 0) | extra


def outcome_faults(outcome):
    assert isinstance(outcome, (Abort, Completes)), outcome
    return isinstance(outcome, Abort)


@pytest.mark.parametrize("index", range(16))
def test_the_pi_index_is_descriptor_bits_54_53_51_6(index):
    assert pi_index(pi_index_bits(index)) == index
    assert pi_index(1 << 54 | 1 << 51) == 0b1010 and pi_index(1 << 53 | 1 << 6) == 0b0101


@pytest.mark.parametrize("encoding", range(16))
def test_every_pir_encoding_at_el1(encoding):
    index = 3
    words = chain(VA, leaf(index), 3)
    r = pie_regs(pir=encoding << 4 * index)
    for op, va, allowed in (("load64", VA & ~7, S1_READ), ("store64", VA & ~7, S1_WRITE),
                            ("fetch", VA & ~3, S1_EXECUTE)):
        outcome = one(translate(r, memory(words), op, va))
        assert outcome_faults(outcome) == (encoding not in allowed), (op, bin(encoding))
        if outcome_faults(outcome):
            assert outcome.fault == ("permission", 3) and not outcome.dirtybit
    assert s1_indirect(encoding).reserved == (encoding in S1_RESERVED)
    assert s1_indirect(encoding).gcs == (encoding == 0b1001)


@pytest.mark.parametrize("encoding", range(16))
def test_every_pire0_encoding_at_el0_and_through_ldtr(encoding):
    index = 5
    words = chain(VA, leaf(index), 3)
    r = pie_regs(pir=0, pire0=encoding << 4 * index)
    for op, el, va, allowed in (("load64", 0, VA & ~7, S1_READ), ("store64", 0, VA & ~7, S1_WRITE),
                                ("fetch", 0, VA & ~3, S1_EXECUTE), ("ldtr64", 1, VA & ~7, S1_READ),
                                ("sttr64", 1, VA & ~7, S1_WRITE)):
        outcome = one(translate(r, memory(words), op, va, el=el))
        assert outcome_faults(outcome) == (encoding not in allowed), (op, el, bin(encoding))
    # EL1's own loads see PIR alone: nothing here.
    assert outcome_faults(one(translate(r, memory(words), "load64", VA & ~7)))


@pytest.mark.parametrize("pir, pire0, el1_fetch, el0_store", [
    (0b0111, 0b0101, False, False),     # EL1 may execute what EL0 may write: neither has any permission
    (0b1001, 0b0101, False, False),     # EL1's GCS with EL0's write: the same
    (0b0111, 0b1001, False, False),     # EL1's execute with EL0's GCS: the same
    (0b0101, 0b0101, False, True),      # EL1 cannot execute: EL0 keeps its write
    (0b0111, 0b0011, True, False),      # EL0 cannot write: EL1 keeps its execute
])
def test_an_el0_writable_location_el1_may_execute_has_no_permission(pir, pire0, el1_fetch, el0_store):
    words = chain(VA, leaf(2), 3)
    r = pie_regs(pir=pir << 8, pire0=pire0 << 8)
    assert not outcome_faults(one(translate(r, memory(words), "fetch", VA & ~3))) == el1_fetch
    assert not outcome_faults(one(translate(r, memory(words), "store64", VA & ~7, el=0))) == el0_store


@pytest.mark.parametrize("pire0, pan_faults", [(0b0000, False), (0b0010, True), (0b0001, True), (0b1000, True)])
def test_pan_takes_el1_data_access_wherever_pire0_grants_anything(pire0, pan_faults):
    """Under PIE PSTATE.PAN applies where PIRE0 gives EL0 any permission, execute-only too (no
    SCTLR_ELx.EPAN needed); never to fetches."""
    words = chain(VA, leaf(1), 3)
    r = pie_regs(pir=0b0111 << 4, pire0=pire0 << 4, mmfr1=MMFR1_PAN)
    load = one(translate(r, memory(words), "load64", VA & ~7, pan=True))
    assert outcome_faults(load) == pan_faults
    assert not outcome_faults(one(translate(r, memory(words), "load64", VA & ~7, pan=False)))
    assert not outcome_faults(one(translate(r, memory(words), "fetch", VA & ~3, pan=True)))


@pytest.mark.parametrize("encoding, wxn, fetch_faults", [
    (0b0111, True, False),      # SCTLR_ELx.WXN plays no part under PIE
    (0b0110, False, True),      # the encoding's own WXN: read and write, no execute
    (0b1110, True, False),
])
def test_wxn_under_pie_is_the_encoding_0b0110(encoding, wxn, fetch_faults):
    words = chain(VA, leaf(0), 3)
    r = pie_regs(pir=encoding, sctlr=regs().sctlr | (SCTLR_WXN.mask if wxn else 0))
    assert outcome_faults(one(translate(r, memory(words), "fetch", VA & ~3))) == fetch_faults
    assert not outcome_faults(one(translate(r, memory(words), "store64", VA & ~7)))


def test_table_descriptors_hierarchical_permissions_do_not_apply_under_pie():
    no_write_below = 0b10 << 61 | 1 << 59       # APTable[1] and PXNTable on every table descriptor
    words = chain(VA, leaf(0), 3, tables={0: no_write_below, 1: no_write_below, 2: no_write_below})
    r = pie_regs(pir=0b0111)
    assert not outcome_faults(one(translate(r, memory(words), "store64", VA & ~7)))
    assert not outcome_faults(one(translate(r, memory(words), "fetch", VA & ~3)))
    assert outcome_faults(one(translate(regs(), memory(words), "store64", VA & ~7)))   # without PIE they do


def test_a_write_to_a_clean_location_under_pie_is_a_permission_fault_of_the_dirty_state():
    clean = leaf(0, ndirty=True)
    words = chain(VA, clean, 3)
    r = pie_regs(pir=0b0101)
    store = one(translate(r, memory(words), "store64", VA & ~7))
    assert isinstance(store, Abort) and store.fault == ("permission", 3) and store.wnr and store.dirtybit
    assert esr.ESR_ISS2_DIRTYBIT.get(store.esr().value) == 1
    assert not outcome_faults(one(translate(r, memory(words), "load64", VA & ~7)))
    # AT S1E1W likewise: PAR_EL1.F = 1, FST a level 3 Permission fault, DirtyBit = 1.
    at = one(translate(r, memory(words), "at_s1e1w", VA))
    assert isinstance(at, Par) and par.PAR_F.get(at.value) and par.PAR_DIRTYBIT.get(at.register().value) == 1
    assert esr.decode_fsc(par.PAR_FST.get(at.value)) == ("permission", 3)
    # A location without write permission faults for that, not its dirty state.
    store = one(translate(pie_regs(pir=0b0001), memory(words), "store64", VA & ~7))
    assert store.fault == ("permission", 3) and not store.dirtybit


def test_hardware_dirty_state_under_pie_clears_ndirty_on_every_writable_descriptor():
    """With HA and HD every descriptor is dirty-managed under PIE (descriptor bit 51 is part of the
    index, no DBM): a store through a clean writable one clears nDirty; AT S1E1W neither faults nor
    updates; a store without write permission neither."""
    clean = leaf(0, ndirty=True)
    words = chain(VA, clean, 3)
    slot = next(k for k, v in words.items() if v == clean)
    r = pie_regs(pir=0b0101, ha=True, hd=True, mmfr1=MMFR1_HAFDBS)
    store = one(translate(r, memory(words), "store64", VA & ~7))
    assert isinstance(store, Completes) and store.updates == ((slot, clean, clean & ~NDIRTY),)
    at = one(translate(r, memory(words), "at_s1e1w", VA))
    assert isinstance(at, Par) and not par.PAR_F.get(at.value) and not at.updates
    denied = one(translate(pie_regs(pir=0b0001, ha=True, hd=True, mmfr1=MMFR1_HAFDBS), memory(words), "store64",
                           VA & ~7))
    assert isinstance(denied, Abort) and not denied.updates and not denied.dirtybit
    # HD without HA manages nothing: the dirty-state fault.
    assert one(translate(pie_regs(pir=0b0101, hd=True, mmfr1=MMFR1_HAFDBS), memory(words), "store64",
                         VA & ~7)).dirtybit


def test_aie_selects_mair2_through_attrindx_3():
    assert mair_attr(0xFF << 8, 1) == 0xFF and mair_attr(0, 9, 0x44 << 8) == 0x44
    words = chain(VA, PAGE | PAGE_DESC | 1 << 59, 3)         # AttrIndx 1 (MAIR: Normal WB), bit 59 set
    plain = one(translate(regs(), memory(words), "at_s1e1r", VA))
    assert par.PAR_ATTR.get(plain.value) == 0xFF              # without AIE bit 59 is ignored
    r = pie_regs(pir=0, tcr2=TCR2_AIE.mask)
    r = r.__class__(**{**r.__dict__, "mair2": 0x44 << 8})     # MAIR2.Attr1 (AttrIndx 9): Normal Non-cacheable
    aie = one(translate(r, memory(words), "at_s1e1r", VA))
    assert par.PAR_ATTR.get(aie.value) == 0x44


# ------------------------------------------------------------------ stage 2

S2_INDEX = 2                        # S2PI index 2: descriptor bit 51 alone
S2_TABLES_INDEX = 0b1111 << 4       # index 1 (S2AP[0] as bit 6): stage 1's tables, read by its walks
DIRTY = 1 << 7
VTCR_S2PIE, VTCR_HA, VTCR_HD = 1 << 36, 1 << 21, 1 << 22


def s2pie_regs(encoding, vtcr=VTCR | VTCR_S2PIE):
    r = s2_regs(vtcr=vtcr)
    return r.__class__(**{**r.__dict__, "s2pir": S2_TABLES_INDEX | encoding << 4 * S2_INDEX})


def s2_leaf(dirty=True):
    return s2_page(0x4100_0000, s2ap=0) | pi_index_bits(S2_INDEX) | (DIRTY if dirty else 0)


@pytest.mark.parametrize("encoding", range(16))
def test_every_s2pir_encoding(encoding):
    # Stage 1 lets each access through: EL1 read/write (and execute), or EL0 read/write (and execute).
    memories = {1: tables(s1_page(0x80_0000_0000), s2_leaf()),
                0: tables(s1_page(0x80_0000_0000) | 0b01 << 6, s2_leaf())}
    r = s2pie_regs(encoding)
    for op, el, allowed in (("load64", 1, S2_READ), ("store64", 1, S2_WRITE), ("fetch", 1, S2_EL1_EXECUTE),
                            ("fetch", 0, S2_EL0_EXECUTE), ("load64", 0, S2_READ), ("store64", 0, S2_WRITE)):
        outcome = only(full_translate(r, memories[el], Access(op, 0x8000_0010, el=el)))
        assert isinstance(outcome, Abort) == (encoding not in allowed), (op, el, bin(encoding))
        if isinstance(outcome, Abort):
            assert outcome.stage == 2 and outcome.fault == ("permission", 3) and not outcome.dirtybit
    perms = s2_indirect(encoding)
    assert perms.reserved == (encoding in S2_RESERVED)
    assert perms.w_mmu == (encoding in S2_MRO or encoding in S2_WRITE - {0b0100})


def test_a_write_to_a_clean_stage2_location_under_s2pie():
    clean = s2_leaf(dirty=False)
    memory = tables(s1_page(0x80_0000_0000), clean)
    store = only(full_translate(s2pie_regs(0b1100), memory, Access("store64", 0x8000_0010)))
    assert isinstance(store, Abort) and store.stage == 2 and store.fault == ("permission", 3) and store.dirtybit
    assert esr.ESR_ISS2_DIRTYBIT.get(store.esr().value) == 1
    at = only(full_translate(s2pie_regs(0b1100), memory, Access("at_s12e1w", 0x8000_0010)))
    assert isinstance(at, Par) and par.PAR_S.get(at.value) and par.PAR_DIRTYBIT.get(at.register().value) == 1
    # With VTCR_EL2.HA and HD the store sets Dirty; a load changes nothing.
    hw = s2pie_regs(0b1100, vtcr=VTCR | VTCR_S2PIE | VTCR_HA | VTCR_HD)
    store = only(full_translate(hw, memory, Access("store64", 0x8000_0010)))
    assert isinstance(store, Completes) and store.updates == ((S2_LEAF_PA, clean, clean | DIRTY),)
    assert not only(full_translate(hw, memory, Access("load64", 0x8000_0010))).updates


# ------------------------------------------------------------------ the kernel's own indices

def test_the_kernels_own_mappings_keep_what_they_need_under_pie_and_s2pie():
    """harness/cases/translation.py's KERNEL_PI and KERNEL_S2PI against the kernel's own mappings
    (harness/declared.py mirrors kernel/tables.c and stage2.c; tests/test_declared.py checks the
    mirror): each mapping's PI index has the permissions the kernel uses it for, so that a case
    turning PIE on keeps the kernel running."""
    from harness import declared
    from harness.cases.translation import KERNEL_PI, KERNEL_S2PI
    # (ram, device, text, data, el0_code): what EL1 (EL2) needs of each, and EL0 of the EL0 code page
    needs = ("rwx", "rw", "rx", "rw", "")
    for prots, el2 in ((declared._KERNEL_PROTS, None), (declared._KERNEL_PROTS_EL2, "nvhe")):
        pir, pire0 = KERNEL_PI[el2]["pir"], KERNEL_PI[el2]["pire0"]
        for prot, need in zip(prots, needs):
            perms = s1_indirect(pir[pi_index(prot)])
            assert all(getattr(perms, p) for p in need), (el2, hex(prot), need)
        if el2 is None:
            el0 = s1_indirect(pire0[pi_index(prots[4])])
            assert el0.r and el0.x and not el0.w
            assert all(pire0[pi_index(p)] == 0 for p in prots[:4])    # EL0 gets nothing of the kernel's own
    for prot, need in ((declared._S2_KERNEL_RAM, ("r", "w", "px", "ux")), (declared._S2_KERNEL_DEVICE, ("r", "w"))):
        perms = s2_indirect(KERNEL_S2PI[pi_index(prot)])
        assert all(getattr(perms, p) for p in need), (hex(prot), need)
