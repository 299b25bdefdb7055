"""The model's access descriptor for each access kind the kernel issues beyond the single-register
load and store (pairs, load-acquire/store-release, LDAPR, load-exclusive, FEAT_LSE atomics in each ordering,
SIMD&FP registers of each size): the alignment each is checked for (J1.1.3.112 Mem, J1.1.3.106
AArch64.UnalignedAccessFaults), the memory-type branch (J1.1.4.29
AArch64.S1HasAlignmentFaultDueToMemType, J1.1.4.37 its stage 2 twin) and the syndrome (ISV and the
instruction syndrome: J1.1.3.2 AArch64.InstructionSyndromeValid, ESR_EL2.ISV in D24.2.46)."""
import pytest

from harness.model import Abort, Access, Completes, Memory, s1_translate
from harness.model.attributes import MemAttrs, NORMAL_NC, s1_decode_mem_attrs
from harness.esr import ESR_ISS_WNR
from harness.model.atomics import atomic_result
from harness.model.permissions import (
    ATOMIC_16_RULE, ATOMIC_NO_LSE2_RULE, LSE2_ALIGNMENT_RULE, ORDERED_16_RULE, ORDERED_NO_LSE2_RULE,
    s1_has_alignment_fault,
)
from harness.model.registers import SCTLR_A, SCTLR_C, SCTLR_NAA
from harness.model.stage2 import instruction_syndrome
from harness.model.translate import ACCESS_KINDS, ATOMIC_MMU_RULE, FSC_UNSUPPORTED_ATOMIC
from harness.ops import ASIMD_LOADS, ASIMD_STORES, ATOMICS, CAS_OPS, LS_SYNDROME, atomic_ordering
from tests.test_model import AF, DEVICE, PAGE, PAGE_DESC, SCTLR, SH_INNER, VA, chain, fault_of, memory, one, regs

MMFR2_LSE2 = 0x1 << 32          # ID_AA64MMFR2_EL1.AT = 1: FEAT_LSE2
BASE = VA & ~0xFFF              # a page: PAGE
NON_SHAREABLE_WB = PAGE | 0b11 | AF | 1 << 2        # AttrIndx 1 (Normal WB), SH = 0b00
NORMAL_NC_PAGE = PAGE | 0b11 | AF | SH_INNER | 2 << 2
DEVICE_PAGE = PAGE | 0b11 | AF | DEVICE


def outcomes_of(op, va, leaf=PAGE_DESC | PAGE, sctlr=SCTLR, mmfr2=0, mem=None):
    mem = mem if mem is not None else memory(chain(va, leaf, 3))
    return s1_translate(regs(sctlr=sctlr, mmfr2=mmfr2), mem, Access(op, va))


def kinds(outcomes):
    """Each outcome as the fault it takes, or "made"."""
    return {fault_of(o) if isinstance(o, Abort) else "made" for o in outcomes}


ALIGNMENT = ("alignment", None)


# ------------------------------------------------------------------ pairs (LDP/STP)

@pytest.mark.parametrize("op,offset,faults", [
    ("ldp64", 8, False), ("ldp64", 4, True), ("stp64", 8, False), ("stp64", 12, True),
    ("ldp32", 4, False), ("ldp32", 2, True), ("stp32", 12, False), ("stp32", 6, True),
])
def test_a_pair_is_aligned_by_one_register_not_the_pair(op, offset, faults):
    # Mem: "Check alignment on size of element accessed, not overall access size" (ispair, not exclusive):
    # with SCTLR_ELx.A = 1 an LDP of X registers at an 8-byte boundary is aligned.
    outcome = one(outcomes_of(op, BASE + offset, sctlr=SCTLR | SCTLR_A.mask))
    if faults:
        assert (fault_of(outcome), outcome.far, outcome.wnr) == (ALIGNMENT, BASE + offset, op.startswith("st"))
    else:
        assert isinstance(outcome, Completes)


def test_a_pair_moves_both_registers_across_a_page():
    # LDP X at the last 8 bytes of a page: the second register comes from the next page (Mem, two halves).
    words = chain(BASE, PAGE | PAGE_DESC, 3)
    words.update(chain(BASE + 0x1000, (PAGE + 0x5000) | PAGE_DESC, 3))
    done = one(outcomes_of("ldp64", BASE + 0xFF8, mem=memory(words)))
    assert done.spans == ((PAGE + 0xFF8, 8), (PAGE + 0x5000, 8))


def test_an_unaligned_pair_to_normal_memory_completes_and_to_device_memory_is_implementation_defined():
    assert kinds(outcomes_of("ldp64", BASE + 4)) == {"made"}
    device = outcomes_of("stp64", BASE + 4, leaf=DEVICE_PAGE)
    assert kinds(device) == {ALIGNMENT, "made"}
    assert "Device location supports unaligned access" in device.rule


def test_a_pair_has_no_instruction_syndrome_at_stage_2():
    # ESR_EL2.ISV: 1 only for a load or store of a single general-purpose register.
    fault = Abort(ec=0x24, fsc=0b000111, wnr=False, s1ptw=False, far=VA, rule="", stage=2, ipa=VA)
    for op in ("ldp32", "ldp64", "stp32", "stp64"):
        assert instruction_syndrome(regs(), Access(op, VA), fault).syndrome is None
        assert op not in LS_SYNDROME


# ------------------------------------------------------------------ load-acquire, store-release

def test_acquire_release_syndrome_sets_ar():
    fault = Abort(ec=0x24, fsc=0b000111, wnr=False, s1ptw=False, far=VA, rule="", stage=2, ipa=VA)
    # (SAS, SSE, SRT, SF, AR): LDAR X0 and STLR X1, 64-bit, acquire/release.
    assert instruction_syndrome(regs(), Access("ldar64", VA), fault).syndrome == (3, 0, 0, 1, 1)
    assert instruction_syndrome(regs(), Access("stlr64", VA), fault).syndrome == (3, 0, 1, 1, 1)


@pytest.mark.parametrize("op", ["ldar64", "stlr64"])
def test_unaligned_acquire_release_without_lse2_faults_before_translation(op):
    # B2.8.2.1.3: without FEAT_LSE2 an unaligned LDAR/STLR is an Alignment fault whatever SCTLR_ELx.A,
    # taken before the walk (the VA is unmapped here).
    outcome = one(outcomes_of(op, BASE + 4, mem=Memory()))
    assert (fault_of(outcome), outcome.wnr, outcome.rule) == (ALIGNMENT, op == "stlr64", ORDERED_NO_LSE2_RULE)
    assert isinstance(one(outcomes_of(op, BASE + 8)), Completes)


def test_lse2_lets_acquire_release_within_16_bytes_of_write_back_shareable_memory_complete():
    assert kinds(outcomes_of("ldar64", BASE + 4, mmfr2=MMFR2_LSE2)) == {"made"}
    assert kinds(outcomes_of("stlr64", BASE + 0x1F7, mmfr2=MMFR2_LSE2)) == {"made"}


@pytest.mark.parametrize("op", ["ldar64", "stlr64"])
def test_lse2_acquire_release_across_16_bytes_faults_before_translation_unless_naa(op):
    outcome = one(outcomes_of(op, BASE + 12, mmfr2=MMFR2_LSE2, mem=Memory()))
    assert (fault_of(outcome), outcome.rule) == (ALIGNMENT, ORDERED_16_RULE)
    # SCTLR_ELx.nAA = 1: no fault for the 16-byte rule; Normal WB Shareable memory: the access is made.
    assert kinds(outcomes_of(op, BASE + 12, sctlr=SCTLR | SCTLR_NAA.mask, mmfr2=MMFR2_LSE2)) == {"made"}
    # nAA is RES0 without FEAT_LSE2: it changes nothing there.
    assert kinds(outcomes_of(op, BASE + 12, sctlr=SCTLR | SCTLR_NAA.mask, mem=Memory())) == {ALIGNMENT}


@pytest.mark.parametrize("leaf,sctlr", [
    (NON_SHAREABLE_WB, SCTLR),                  # Write-Back but Non-shareable
    (NORMAL_NC_PAGE, SCTLR),                    # Non-cacheable
    (PAGE | PAGE_DESC, SCTLR & ~SCTLR_C.mask),  # the data cache off: AArch64.S1DCacheEnabled FALSE
])
def test_lse2_unaligned_acquire_release_elsewhere_is_constrained_unpredictable(leaf, sctlr):
    outcomes = outcomes_of("ldar64", BASE + 4, leaf=leaf, sctlr=sctlr, mmfr2=MMFR2_LSE2)
    assert kinds(outcomes) == {ALIGNMENT, "made"}
    assert "Unpredictable_LSE2_ALIGNMENT_FAULT" in outcomes.rule


def test_lse2_unaligned_acquire_release_to_device_memory_may_fault_either_way():
    outcomes = outcomes_of("stlr64", BASE + 4, leaf=DEVICE_PAGE, mmfr2=MMFR2_LSE2)
    assert kinds(outcomes) == {ALIGNMENT, "made"}


# ------------------------------------------------------------------ the memory-type branch itself

WB_INNER = s1_decode_mem_attrs(0xFF)


@pytest.mark.parametrize("op,memattrs,wb_cached,want", [
    ("load64", WB_INNER, True, {(False, "")}),
    ("load64", NORMAL_NC, False, {(False, "")}),       # a plain access to Normal memory: never
    ("ldp64", NORMAL_NC, False, {(False, "")}),
    ("ldar64", WB_INNER, True, {(False, "")}),
    ("ldar64", NORMAL_NC, False, {(True, LSE2_ALIGNMENT_RULE), (False, LSE2_ALIGNMENT_RULE)}),
    ("stlr64", WB_INNER, False, {(True, LSE2_ALIGNMENT_RULE), (False, LSE2_ALIGNMENT_RULE)}),
    ("fetch", MemAttrs(device="nGnRnE"), False, {(False, "")}),
])
def test_unaligned_memory_type_branches(op, memattrs, wb_cached, want):
    assert set(s1_has_alignment_fault(ACCESS_KINDS[op], False, memattrs, wb_cached)) == want


def test_an_aligned_access_never_faults_for_its_memory_type():
    for op in ("load64", "ldp64", "ldar64", "stlr64"):
        assert s1_has_alignment_fault(ACCESS_KINDS[op], True, MemAttrs(device="nGnRnE"), False) == [(False, "")]


# ------------------------------------------------------------------ exclusives and atomics

@pytest.mark.parametrize("op", ["ldxr64", "ldaxr64", "ldadd64", "swp64", "cas64"])
def test_unaligned_exclusive_or_atomic_without_lse2_faults_before_translation(op):
    # B2.8.2.1.2: without FEAT_LSE2 an unaligned exclusive or atomic access is an Alignment fault.
    outcome = one(outcomes_of(op, BASE + 4, mem=Memory()))
    assert (fault_of(outcome), outcome.wnr, outcome.rule) == (ALIGNMENT, False, ATOMIC_NO_LSE2_RULE)


@pytest.mark.parametrize("op", ["ldxr64", "ldaxr64", "ldadd64"])
def test_lse2_exclusive_or_atomic_alignment_follows_mem_single_granule(op):
    # Within 16 bytes: made (Normal WB Shareable).  Across 16 bytes but within a 4096-byte block: the
    # IMPLEMENTATION DEFINED MemSingleGranule (16 to 4096) decides.  Across 4096 bytes: always a fault.
    assert kinds(outcomes_of(op, BASE + 4, mmfr2=MMFR2_LSE2)) == {"made"}
    across_16 = outcomes_of(op, BASE + 12, mmfr2=MMFR2_LSE2)
    assert kinds(across_16) == {ALIGNMENT, "made"}
    assert ATOMIC_16_RULE in across_16.rule
    words = chain(BASE, PAGE | PAGE_DESC, 3)
    words.update(chain(BASE + 0x1000, (PAGE + 0x5000) | PAGE_DESC, 3))
    assert kinds(outcomes_of(op, BASE + 0xFFC, mmfr2=MMFR2_LSE2, mem=memory(words))) == {ALIGNMENT}


def test_an_exclusive_pair_would_be_aligned_by_the_whole_access():
    # Mem: "if accdesc.ispair && !accdesc.exclusive then size DIV 2 else size".
    from dataclasses import replace
    assert replace(ACCESS_KINDS["ldp64"], exclusive=True).alignment == 16
    assert ACCESS_KINDS["ldp64"].alignment == 8


def test_an_atomic_needs_read_and_write_permission_and_wnr_says_which_failed():
    read_only = PAGE | PAGE_DESC | 0b10 << 6            # AP = 0b10: EL1 read-only
    for op in ("ldadd64", "swp64", "cas64"):
        fault = one(outcomes_of(op, BASE + 8, leaf=read_only))
        assert (fault_of(fault), fault.wnr) == (("permission", 3), True)   # a read would not fault
    # EL0 on an EL1-only page: the read faults too, WnR = 0 (ESR_ELx.WnR for atomics; NoFault's write).
    el0 = s1_translate(regs(), memory(chain(BASE, PAGE | PAGE_DESC, 3)), Access("ldadd64", BASE + 8, el=0))
    assert (fault_of(one(el0)), one(el0).wnr) == (("permission", 3), False)
    unmapped = one(outcomes_of("swp64", BASE + 8, mem=memory(chain(BASE, 0, 3))))
    assert (fault_of(unmapped), unmapped.wnr) == (("translation", 3), False)


@pytest.mark.parametrize("leaf", [NORMAL_NC_PAGE, NON_SHAREABLE_WB, DEVICE_PAGE])
def test_an_atomic_elsewhere_than_write_back_shareable_memory_may_be_unsupported(leaf):
    # AArch64.S1Translate's last check: Unpredictable_Atomic_MMU_IMPDEF_FAULT, DFSC 0b110101 with WnR UNKNOWN.
    outcomes = outcomes_of("ldadd64", BASE + 8, leaf=leaf)
    faults = [o for o in outcomes if isinstance(o, Abort)]
    assert len(faults) == 1 and faults[0].fsc == FSC_UNSUPPORTED_ATOMIC and faults[0].wnr is None
    assert faults[0].esr().mask & ESR_ISS_WNR.mask == 0
    assert kinds(outcomes) == {("unsupported_atomic", None), "made"}
    assert ATOMIC_MMU_RULE in outcomes.rule
    # Exclusives are not atomicop: no such fault.
    assert kinds(outcomes_of("ldxr64", BASE + 8, leaf=leaf)) == {"made"}


def test_exclusives_and_atomics_have_no_instruction_syndrome():
    fault = Abort(ec=0x24, fsc=0b000111, wnr=False, s1ptw=False, far=VA, rule="", stage=2, ipa=VA)
    for op in ("ldxr64", "ldaxr64", "ldadd64", "swp64", "cas64"):
        assert instruction_syndrome(regs(), Access(op, VA), fault).syndrome is None


@pytest.mark.parametrize("op,old,value,compare,new", [
    ("ldadd64", 0xFFFF_FFFF_FFFF_FFFF, 2, 0, 1),
    ("swp64", 5, 7, 0, 7),
    ("cas64", 5, 7, 5, 7),
    ("cas64", 5, 7, 6, 5),
])
def test_what_an_atomic_writes(op, old, value, compare, new):
    assert atomic_result(op, old, value, compare) == new


# ------------------------------------------------------------------ LDAPR (FEAT_LRCPC: acqpc)

def test_ldapr_is_an_ordered_read_by_acqpc():
    kind = ACCESS_KINDS["ldapr64"]
    assert (kind.read, kind.write, kind.ordered, kind.acqpc, kind.exclusive, kind.atomic) == \
        (True, False, True, True, False, False)
    assert not ACCESS_KINDS["ldar64"].acqpc      # LDAR is acqsc


def test_ldapr_syndrome_is_a_single_register_load_with_acquire():
    # D24.2.46 ESR_EL2.ISV: a load of one general-purpose register "including those with Acquire/Release
    # semantics"; AR = 1 (SAS 3, SSE 0, SRT 0: x0, SF 1).
    fault = Abort(ec=0x24, fsc=0b000111, wnr=False, s1ptw=False, far=VA, rule="", stage=2, ipa=VA)
    assert instruction_syndrome(regs(), Access("ldapr64", VA), fault).syndrome == (3, 0, 0, 1, 1)


def test_unaligned_ldapr_without_lse2_faults_before_translation():
    outcome = one(outcomes_of("ldapr64", BASE + 4, mem=Memory()))
    assert (fault_of(outcome), outcome.wnr, outcome.rule) == (ALIGNMENT, False, ORDERED_NO_LSE2_RULE)
    assert isinstance(one(outcomes_of("ldapr64", BASE + 8)), Completes)


def test_ldapr_with_lse2_follows_the_16_byte_rule_and_naa():
    assert kinds(outcomes_of("ldapr64", BASE + 4, mmfr2=MMFR2_LSE2)) == {"made"}
    outcome = one(outcomes_of("ldapr64", BASE + 12, mmfr2=MMFR2_LSE2, mem=Memory()))
    assert (fault_of(outcome), outcome.rule) == (ALIGNMENT, ORDERED_16_RULE)
    assert kinds(outcomes_of("ldapr64", BASE + 12, sctlr=SCTLR | SCTLR_NAA.mask, mmfr2=MMFR2_LSE2)) == {"made"}


@pytest.mark.parametrize("leaf", [NORMAL_NC_PAGE, NON_SHAREABLE_WB, DEVICE_PAGE])
def test_unaligned_ldapr_with_lse2_elsewhere_may_fault(leaf):
    outcomes = outcomes_of("ldapr64", BASE + 4, leaf=leaf, mmfr2=MMFR2_LSE2)
    assert kinds(outcomes) == {ALIGNMENT, "made"}


def test_ldapr_needs_read_permission_only():
    read_only = PAGE | PAGE_DESC | 0b10 << 6            # AP = 0b10: EL1 read-only
    assert isinstance(one(outcomes_of("ldapr64", BASE + 8, leaf=read_only)), Completes)
    el0 = one(s1_translate(regs(), memory(chain(BASE, PAGE | PAGE_DESC, 3)), Access("ldapr64", BASE + 8, el=0)))
    assert (fault_of(el0), el0.wnr) == (("permission", 3), False)


# ------------------------------------------------------------------ atomics with acquire and release

ORDERED_ATOMICS = [op for op in ATOMICS if op not in ("ldadd64", "swp64", "cas64")]


def test_each_atomic_comes_in_four_orderings():
    assert len(ORDERED_ATOMICS) == 9
    assert atomic_ordering("ldadd64") == (False, False) and atomic_ordering("swpa64") == (True, False)
    assert atomic_ordering("casl64") == (False, True) and atomic_ordering("ldaddal64") == (True, True)
    assert set(CAS_OPS) == {"cas64", "casa64", "casl64", "casal64"}


@pytest.mark.parametrize("op", ORDERED_ATOMICS)
def test_an_ordered_atomic_is_atomic_and_ordered(op):
    kind = ACCESS_KINDS[op]
    assert (kind.read, kind.write, kind.atomic, kind.ordered, kind.exclusive) == (True, True, True, True, False)


@pytest.mark.parametrize("op", ORDERED_ATOMICS)
def test_an_ordered_atomic_takes_the_atomic_alignment_branch(op):
    # J1.1.3.106: the exclusive/atomic branch comes before the acquire/release one.  Without FEAT_LSE2:
    # always a fault (WnR 0); with it, across 16 bytes MemSingleGranule() decides even with nAA = 1 (the
    # 16-byte acquire/release rule, which nAA lifts, is never reached), and across 4096 bytes it faults.
    outcome = one(outcomes_of(op, BASE + 4, mem=Memory()))
    assert (fault_of(outcome), outcome.wnr, outcome.rule) == (ALIGNMENT, False, ATOMIC_NO_LSE2_RULE)
    assert kinds(outcomes_of(op, BASE + 4, mmfr2=MMFR2_LSE2)) == {"made"}
    across_16 = outcomes_of(op, BASE + 12, sctlr=SCTLR | SCTLR_NAA.mask, mmfr2=MMFR2_LSE2)
    assert kinds(across_16) == {ALIGNMENT, "made"} and ATOMIC_16_RULE in across_16.rule
    words = chain(BASE, PAGE | PAGE_DESC, 3)
    words.update(chain(BASE + 0x1000, (PAGE + 0x5000) | PAGE_DESC, 3))
    across_page = outcomes_of(op, BASE + 0xFFC, sctlr=SCTLR | SCTLR_NAA.mask, mmfr2=MMFR2_LSE2, mem=memory(words))
    assert kinds(across_page) == {ALIGNMENT}


@pytest.mark.parametrize("op", ORDERED_ATOMICS)
def test_an_ordered_atomic_needs_both_permissions_and_has_no_syndrome(op):
    read_only = PAGE | PAGE_DESC | 0b10 << 6
    fault = one(outcomes_of(op, BASE + 8, leaf=read_only))
    assert (fault_of(fault), fault.wnr) == (("permission", 3), True)
    el0 = one(s1_translate(regs(), memory(chain(BASE, PAGE | PAGE_DESC, 3)), Access(op, BASE + 8, el=0)))
    assert (fault_of(el0), el0.wnr) == (("permission", 3), False)
    stage2 = Abort(ec=0x24, fsc=0b000111, wnr=False, s1ptw=False, far=VA, rule="", stage=2, ipa=VA)
    assert instruction_syndrome(regs(), Access(op, VA), stage2).syndrome is None
    outcomes = outcomes_of(op, BASE + 8, leaf=NORMAL_NC_PAGE)
    assert kinds(outcomes) == {("unsupported_atomic", None), "made"}


@pytest.mark.parametrize("op,old,value,compare,new", [
    ("ldaddal64", 0xFFFF_FFFF_FFFF_FFFF, 2, 0, 1), ("ldadda64", 1, 2, 0, 3), ("ldaddl64", 1, 2, 0, 3),
    ("swpa64", 5, 7, 0, 7), ("swpl64", 5, 7, 0, 7), ("swpal64", 5, 7, 0, 7),
    ("casa64", 5, 7, 5, 7), ("casl64", 5, 7, 6, 5), ("casal64", 5, 7, 5, 7), ("casal64", 5, 7, 4, 5),
])
def test_what_an_ordered_atomic_writes(op, old, value, compare, new):
    assert atomic_result(op, old, value, compare) == new


# ------------------------------------------------------------------ SIMD&FP loads and stores (AccessType_ASIMD)

SIMD_OPS = [*ASIMD_LOADS, *ASIMD_STORES]


@pytest.mark.parametrize("op", SIMD_OPS)
def test_a_simd_access_is_aligned_by_its_whole_size(op):
    # Mem: alignment = size (no ispair); with SCTLR_ELx.A = 1 a Q register needs 16 bytes, a B register none.
    size = (ASIMD_LOADS | ASIMD_STORES)[op]
    kind = ACCESS_KINDS[op]
    assert (kind.read, kind.write, kind.size, kind.alignment) == (op in ASIMD_LOADS, op in ASIMD_STORES, size, size)
    assert isinstance(one(outcomes_of(op, BASE + 16, sctlr=SCTLR | SCTLR_A.mask)), Completes)
    if size > 1:
        outcome = one(outcomes_of(op, BASE + size // 2, sctlr=SCTLR | SCTLR_A.mask, mem=Memory()))
        assert (fault_of(outcome), outcome.wnr) == (ALIGNMENT, op in ASIMD_STORES)


@pytest.mark.parametrize("op", ["vload128", "vstore32"])
def test_an_unaligned_simd_access_to_normal_memory_completes_and_to_device_memory_is_implementation_defined(op):
    assert kinds(outcomes_of(op, BASE + 3)) == {"made"}
    device = outcomes_of(op, BASE + 3, leaf=DEVICE_PAGE)
    assert kinds(device) == {ALIGNMENT, "made"} and "Device location supports unaligned access" in device.rule
    # FEAT_LSE2's rules are for ordered, exclusive and atomic accesses: a SIMD&FP one is none of them.
    assert kinds(outcomes_of(op, BASE + 12, leaf=NORMAL_NC_PAGE, mmfr2=MMFR2_LSE2)) == {"made"}


def test_simd_accesses_have_no_instruction_syndrome():
    # D24.2.46 ESR_EL2.ISV: only loads and stores of a single general-purpose register.
    fault = Abort(ec=0x24, fsc=0b000111, wnr=False, s1ptw=False, far=VA, rule="", stage=2, ipa=VA)
    for op in SIMD_OPS:
        assert op not in LS_SYNDROME
        assert instruction_syndrome(regs(), Access(op, VA), fault).syndrome is None


def test_a_simd_load_is_a_read_and_a_store_a_write():
    read_only = PAGE | PAGE_DESC | 0b10 << 6            # AP = 0b10: EL1 read-only
    assert isinstance(one(outcomes_of("vload128", BASE + 16, leaf=read_only)), Completes)
    fault = one(outcomes_of("vstore8", BASE + 16, leaf=read_only))
    assert (fault_of(fault), fault.wnr) == (("permission", 3), True)


def test_a_q_register_across_a_page_moves_both_pieces():
    words = chain(BASE, PAGE | PAGE_DESC, 3)
    words.update(chain(BASE + 0x1000, (PAGE + 0x5000) | PAGE_DESC, 3))
    done = one(outcomes_of("vload128", BASE + 0xFF8, mem=memory(words)))
    assert done.spans == ((PAGE + 0xFF8, 8), (PAGE + 0x5000, 8))


# ------------------------------------------------------------------ load-exclusive pairs (LDXP, LDAXP)

@pytest.mark.parametrize("op,size", [("ldxp32", 8), ("ldxp64", 16), ("ldaxp64", 16)])
def test_an_exclusive_pair_is_aligned_by_its_whole_access(op, size):
    # Mem: ispair && exclusive: the whole size.  Without FEAT_LSE2 one register's alignment is not enough.
    kind = ACCESS_KINDS[op]
    assert (kind.pair, kind.exclusive, kind.size, kind.alignment, kind.ordered) == \
        (True, True, size, size, op == "ldaxp64")
    outcome = one(outcomes_of(op, BASE + size // 2, mem=Memory()))
    assert (fault_of(outcome), outcome.wnr, outcome.rule) == (ALIGNMENT, False, ATOMIC_NO_LSE2_RULE)
    assert isinstance(one(outcomes_of(op, BASE + size)), Completes)


def test_an_exclusive_pair_with_lse2_follows_mem_single_granule():
    assert kinds(outcomes_of("ldxp32", BASE + 4, mmfr2=MMFR2_LSE2)) == {"made"}
    across_16 = outcomes_of("ldxp64", BASE + 8, mmfr2=MMFR2_LSE2)
    assert kinds(across_16) == {ALIGNMENT, "made"} and ATOMIC_16_RULE in across_16.rule
    words = chain(BASE, PAGE | PAGE_DESC, 3)
    words.update(chain(BASE + 0x1000, (PAGE + 0x5000) | PAGE_DESC, 3))
    assert kinds(outcomes_of("ldxp64", BASE + 0xFF8, mmfr2=MMFR2_LSE2, mem=memory(words))) == {ALIGNMENT}


def test_an_exclusive_pair_has_no_instruction_syndrome():
    fault = Abort(ec=0x24, fsc=0b000111, wnr=False, s1ptw=False, far=VA, rule="", stage=2, ipa=VA)
    for op in ("ldxp32", "ldxp64", "ldaxp64"):
        assert op not in LS_SYNDROME
        assert instruction_syndrome(regs(), Access(op, VA), fault).syndrome is None
