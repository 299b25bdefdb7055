"""The model's store-exclusive (STXR, STLXR): its AccessDescriptor (an exclusive write; STLXR relsc), its
alignment branch (J1.1.3.106 AArch64.UnalignedAccessFaults before everything, J1.1.4.29's exclusive branch
after IsExclusiveVA), its permission branch (a write: WnR = 1), and the status J1.1.3.37
AArch64.ExclusiveMonitorsPass gives by the local monitor's state (harness/model/exclusives.py), through a
case's steps (harness/predict.py)."""
import pytest

from harness import declared
from harness.cases import load_file
from harness.model import Abort, Access, Completes, s1_translate
from harness.model.exclusives import (
    ABORT_ORDER_RULE, NOT_TRANSLATED, OPEN_RULE, SET_RULE, STATUS_FAILED, STATUS_PASSED, store_exclusive,
)
from harness.model.permissions import ATOMIC_NO_LSE2_RULE, LSE2_ALIGNMENT_RULE
from harness.model.translate import ACCESS_KINDS, unaligned_access_aborts
from harness.ops import ACQUIRE_RELEASE, EXCLUSIVE_STORES, LS_SYNDROME, RETURNS
from harness.predict import predict_case
from suite_run import ROOT
from tests.test_model import AF, DEVICE, PAGE, PAGE_DESC, SH_INNER, VA, chain, fault_of, memory, one, regs

MMFR2_LSE2 = 0x1 << 32          # ID_AA64MMFR2_EL1.AT = 1: FEAT_LSE2
BASE = VA & ~0xFFF
READ_ONLY_EL1 = PAGE_DESC | 0b10 << 6          # AP[2:1] = 0b10
DEVICE_PAGE = 0b11 | AF | SH_INNER | DEVICE
IDS = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120)     # QEMU 7.2.22 -cpu max


def store_exclusive_of(op, va, leaf=PAGE_DESC, mmfr2=0, monitor=False):
    """The store-exclusive's Outcomes at va through one page (leaf's attributes and permissions)."""
    r = regs(mmfr2=mmfr2)
    access = Access(op, va, value=7)
    translated = s1_translate(r, memory(chain(va, leaf | PAGE, 3)), access)
    return translated, store_exclusive(translated, unaligned_access_aborts(r, access), monitor)


def statuses(outcomes):
    """Each completing outcome as (status, whether it writes); each abort as its fault."""
    return {(o.value, bool(o.spans)) if isinstance(o, Completes) else fault_of(o) for o in outcomes}


@pytest.mark.parametrize("op", EXCLUSIVE_STORES)
def test_a_store_exclusive_is_an_exclusive_write_with_a_32_bit_status_and_no_syndrome(op):
    kind = ACCESS_KINDS[op]
    release = op.startswith("stl")
    assert (kind.read, kind.write, kind.exclusive, kind.size, kind.ordered) == \
        (False, True, True, EXCLUSIVE_STORES[op], release)
    assert (op in ACQUIRE_RELEASE) == release
    assert RETURNS[op] == 4 and op not in LS_SYNDROME        # ISV = 0: "excluding ... Store Exclusive"


@pytest.mark.parametrize("monitor", [False, True])
def test_an_unaligned_store_exclusive_without_lse2_is_an_alignment_fault_whatever_the_monitor(monitor):
    translated, outcomes = store_exclusive_of("stxr64", BASE + 4, monitor=monitor)
    fault = one(outcomes)
    assert (fault_of(fault), fault.wnr, fault.far, fault.rule) == (("alignment", None), True, BASE + 4,
                                                                   ATOMIC_NO_LSE2_RULE)
    assert not outcomes.rule


def test_an_unaligned_store_exclusive_with_lse2_follows_mem_single_granule_then_the_monitor():
    _, within = store_exclusive_of("stxr64", BASE + 4, mmfr2=MMFR2_LSE2)
    assert statuses(within) == {(STATUS_FAILED, False)}
    _, across_16 = store_exclusive_of("stlxr64", BASE + 12, mmfr2=MMFR2_LSE2, monitor=True)
    assert statuses(across_16) == {("alignment", None), (STATUS_FAILED, False), (STATUS_PASSED, True)}


def test_the_memory_type_alignment_fault_comes_after_is_exclusive_va():
    # With FEAT_LSE2, unaligned within 16 bytes to Device memory: J1.1.4.29's exclusive branch
    # (CONSTRAINED UNPREDICTABLE, then the IMPLEMENTATION DEFINED Device rule) after the translation,
    # so the store may instead fail with status 1 and no translation.
    translated, outcomes = store_exclusive_of("stxr64", BASE + 4, leaf=DEVICE_PAGE, mmfr2=MMFR2_LSE2)
    assert LSE2_ALIGNMENT_RULE in translated.rule
    assert NOT_TRANSLATED in outcomes and ("alignment", None) in statuses(outcomes)
    assert ABORT_ORDER_RULE in outcomes.rule


@pytest.mark.parametrize("monitor", [False, True])
def test_a_store_exclusive_needs_write_permission_or_fails_first(monitor):
    _, outcomes = store_exclusive_of("stxr64", BASE + 8, leaf=READ_ONLY_EL1, monitor=monitor)
    fault = next(o for o in outcomes if isinstance(o, Abort))
    assert (fault_of(fault), fault.wnr, fault.syndrome) == (("permission", 3), True, None)
    assert set(outcomes) == {fault, NOT_TRANSLATED}
    assert ABORT_ORDER_RULE in outcomes.rule


def test_the_status_is_1_with_the_monitor_open_and_0_or_1_after_a_load_exclusive():
    _, open_ = store_exclusive_of("stxr64", BASE + 8)
    assert statuses(open_) == {(STATUS_FAILED, False)} and OPEN_RULE in open_.rule
    _, set_ = store_exclusive_of("stxr64", BASE + 8, monitor=True)
    assert statuses(set_) == {(STATUS_PASSED, True), (STATUS_FAILED, False)} and SET_RULE in set_.rule
    written = next(o for o in set_ if o.spans)
    assert written.spans == ((PAGE + 8, 8),)


def test_an_aligned_store_exclusive_to_device_memory_is_made_with_stage_1_on():
    # Fault_Exclusive (Unpredictable_Atomic_MMU_IMPDEF_FAULT) is an atomic's alone in AArch64.S1Translate.
    _, outcomes = store_exclusive_of("stlxr64", BASE + 8, leaf=DEVICE_PAGE, monitor=True)
    assert statuses(outcomes) == {(STATUS_PASSED, True), (STATUS_FAILED, False)}


def _predictions(name):
    case = next(c for c in load_file(ROOT / "cases" / "access_kinds_exclusive.toml") if c.id.endswith(name))
    return [{(o.value, bool(o.spans)) if isinstance(o, Completes) else fault_of(o) for o in p}
            for p in predict_case(case, IDS, declared.TABLE_POOL_BASE)]


def test_through_a_case_the_monitor_is_set_by_a_load_exclusive_and_cleared_by_an_exception_return():
    el1 = _predictions("store_exclusive_monitor_el1[stxr64]")
    assert el1[1] == {(STATUS_FAILED, False)}                         # CLREX as the case begins
    assert el1[4] == {(STATUS_PASSED, True), (STATUS_FAILED, False)}  # after the LDXR
    assert el1[5] == {(0x5555_6666_7777_8888, True), (0x1111_2222_3333_4444, True)}
    assert el1[6] == {(STATUS_FAILED, False)}                         # the store-exclusive cleared it
    el0 = _predictions("store_exclusive_monitor_el0[stxr64]")
    assert el0[3] == {(STATUS_FAILED, False)}                         # the ERET into the EL0 step
    stage2 = _predictions("store_exclusive_stage2")
    assert stage2[3] == {(STATUS_FAILED, False)}                      # the HVC after each step


@pytest.mark.parametrize("op,size", [("stxp32", 8), ("stxp64", 16), ("stlxp64", 16)])
def test_an_exclusive_store_pair_is_aligned_by_its_whole_access_and_writes_both(op, size):
    kind = ACCESS_KINDS[op]
    assert (kind.pair, kind.exclusive, kind.write, kind.size, kind.alignment) == (True, True, True, size, size)
    _, unaligned = store_exclusive_of(op, BASE + size // 2, monitor=True)
    assert statuses(unaligned) == {("alignment", None)}
    _, aligned = store_exclusive_of(op, BASE + size, monitor=True)
    assert {o.spans for o in aligned} == {(), ((PAGE + size, size),)}
