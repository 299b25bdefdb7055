"""GCS data accesses in the model (FEAT_GCS: GCSSTR, GCSSTTR, GCSPUSHM, GCSPOPM, GCSSS1, GCSSS2, GCSPUSHX, GCSPOPX,
GCSPOPCX): the gcs permission alone
(J1.1.4.26 AArch64.S1CheckPermissions's AccessType_GCS branch) for every PIR_ELx and PIRE0_ELx
encoding, the direct scheme (no gcs permission, D11.5 I_MDFXL), the alignment check
(J1.1.3.106 AArch64.UnalignedAccessFaults), the dirty state, the memory-type choice (D11.9
R_FFJDX) and ESR_ELx whole (ISS2.GCS = 1, ISV = 0: J1.1.3.1 AArch64.FaultSyndrome, J1.1.3.2
AArch64.InstructionSyndromeValid)."""
import pytest

from harness import esr
from harness.model import Abort, Completes
from harness.model.memory import Memory
from harness.model.outcome import ALL_BITS, Bits, Unknown
from harness.model.registers import SCTLR_A
from harness.ops import EL0_OPS, LS_SYNDROME
from harness.cases.schema import Expect, Step
from harness.cases import load_file
from harness.model import Access
from harness.model.outcome import Outcomes
from harness.model.gcs import gcspr_after
from harness.model.translate import ACCESS_KINDS
from harness.observation import Observation
from harness.oracle import observation_allowed
from harness.ops import GCS_EX_SPSR
from harness.predict import _gcs_pop, _gcs_pop_record, _gcs_push_record, _gcs_ss2, _gcs_switch, predict_case
from suite_run import ROOT
from tests.test_model_agreement import CPUS as AGREEMENT_CPUS
from harness.cases.validation import EL2_REFUSED_OPS, NESTED_OPS, op_features
from tests.test_model import PAGE, PAGE_DESC, VA, chain, memory, one, regs, translate
from tests.test_model_indirect import MMFR1_HAFDBS, leaf, pie_regs

GCS = 0b1001    # the only encoding with gcs (J1.1.4.30's table)
ALIGNED = VA & ~7


@pytest.mark.parametrize("encoding", range(16))
def test_gcsstr_needs_the_gcs_permission_of_pir_whatever_else_it_grants(encoding):
    words = chain(VA, leaf(3), 3)
    r = pie_regs(pir=encoding << 4 * 3)
    outcome = one(translate(r, memory(words), "gcsstr", ALIGNED, value=5))
    if encoding == GCS:
        assert isinstance(outcome, Completes), outcome
    else:   # read/write encodings included: a GCS access never uses r or w
        assert isinstance(outcome, Abort) and outcome.fault == ("permission", 3) and outcome.wnr, (bin(encoding), outcome)
        assert outcome.gcs and not outcome.dirtybit


@pytest.mark.parametrize("encoding", range(16))
def test_gcssttr_at_el1_and_gcsstr_at_el0_need_pire0s_gcs(encoding):
    words = chain(VA, leaf(5), 3)
    r = pie_regs(pir=0, pire0=encoding << 4 * 5)
    for op, el in (("gcssttr", 1), ("gcsstr", 0)):
        outcome = one(translate(r, memory(words), op, ALIGNED, el=el))
        assert isinstance(outcome, Completes) == (encoding == GCS), (op, el, bin(encoding))
    # GCSSTR at EL1 sees PIR alone: nothing here.
    assert isinstance(one(translate(r, memory(words), "gcsstr", ALIGNED)), Abort)


def test_an_el0_gcs_location_el1_may_use_as_gcs_has_no_permission():
    """pgcs with ugcs: every permission cleared (J1.1.4.30), so neither GCS store completes."""
    words = chain(VA, leaf(2), 3)
    r = pie_regs(pir=GCS << 8, pire0=GCS << 8)
    assert isinstance(one(translate(r, memory(words), "gcsstr", ALIGNED)), Abort)
    assert isinstance(one(translate(r, memory(words), "gcsstr", ALIGNED, el=0)), Abort)


def test_pan_does_not_take_el1s_gcs_permission():
    """PSTATE.PAN clears pr and pw where PIRE0 grants anything, never pgcs; and GCSSTR's
    AccessDescriptor has no pan (D11.5 I_ZZMLZ)."""
    words = chain(VA, leaf(1), 3)
    r = pie_regs(pir=GCS << 4, pire0=0b0001 << 4, mmfr1=1 << 20)
    assert isinstance(one(translate(r, memory(words), "gcsstr", ALIGNED, pan=True)), Completes)
    assert isinstance(one(translate(r, memory(words), "load64", ALIGNED, pan=True)), Abort)


def test_no_gcs_permission_under_the_direct_scheme():
    words = chain(VA, PAGE | PAGE_DESC, 3)     # read/write at EL1 and EL0
    for el in (1, 0):
        outcome = one(translate(regs(), memory(words), "gcsstr", ALIGNED, el=el))
        assert isinstance(outcome, Abort) and outcome.fault == ("permission", 3) and outcome.gcs
    assert isinstance(one(translate(regs(), memory(words), "store64", ALIGNED)), Completes)


@pytest.mark.parametrize("offset", [1, 2, 4, 6])
def test_an_unaligned_gcs_store_always_takes_an_alignment_fault(offset):
    """Whatever SCTLR_ELx.A says, and before the permission check: an EL1 GCS page or a page
    without the gcs permission alike."""
    words = chain(VA, leaf(3), 3)
    for pir in (GCS << 12, 0b0101 << 12):
        outcome = one(translate(pie_regs(pir=pir), memory(words), "gcsstr", ALIGNED + offset))
        assert isinstance(outcome, Abort) and outcome.fault == ("alignment", None) and outcome.gcs and outcome.wnr
    # An ordinary store there completes (SCTLR_EL1.A = 0), and faults only with A = 1.
    assert isinstance(one(translate(pie_regs(pir=0b0101 << 12), memory(words), "store64", ALIGNED + offset)),
                      Completes)
    with_a = pie_regs(pir=GCS << 12, sctlr=regs().sctlr | SCTLR_A.mask)
    assert one(translate(with_a, memory(words), "gcsstr", ALIGNED + offset)).fault == ("alignment", None)


def test_a_gcs_store_to_a_clean_location_and_hardware_dirty_state():
    clean = leaf(0, ndirty=True)
    words = chain(VA, clean, 3)
    slot = next(k for k, v in words.items() if v == clean)
    fault = one(translate(pie_regs(pir=GCS), memory(words), "gcsstr", ALIGNED))
    assert isinstance(fault, Abort) and fault.fault == ("permission", 3) and fault.dirtybit and fault.gcs
    done = one(translate(pie_regs(pir=GCS, ha=True, hd=True, mmfr1=MMFR1_HAFDBS), memory(words), "gcsstr", ALIGNED))
    assert isinstance(done, Completes) and done.updates == ((slot, clean, clean & ~(1 << 7)),)


def test_a_gcs_abort_reports_iss2_gcs_and_no_instruction_syndrome():
    words = chain(VA, leaf(3), 3)
    for outcome in (one(translate(pie_regs(pir=0), memory(words), "gcsstr", ALIGNED)),
                    one(translate(pie_regs(pir=0), memory(words), "gcsstr", ALIGNED + 4)),
                    one(translate(pie_regs(pir=0), memory(chain(VA, 0, 3)), "gcsstr", ALIGNED))):
        value = outcome.esr().value
        assert esr.ESR_ISS2_GCS.get(value) == 1 and esr.ESR_ISS_ISV.get(value) == 0
        assert esr.ESR_ISS2.get(value) == 1 << (esr.ESR_ISS2_GCS.shift - esr.ESR_ISS2.shift)
    # An ordinary store's abort on the same page: GCS = 0.
    store = one(translate(pie_regs(pir=GCS << 12), memory(words), "store64", ALIGNED))
    assert esr.ESR_ISS2_GCS.get(store.esr().value) == 0
    assert "gcsstr" not in LS_SYNDROME and "gcssttr" not in LS_SYNDROME


def test_a_gcs_store_to_device_memory_may_abort_as_unsupported():
    """D11.9 R_FFJDX: to memory other than Normal Write-Back, a Data Abort for an unsupported access
    (DFSC 0x35) or the access made; ISS2.GCS = 1 on the abort."""
    device = leaf(3) & ~(0b111 << 2)        # AttrIndx 0: the test MAIR's Device-nGnRnE
    outcomes = translate(pie_regs(pir=GCS << 12), memory(chain(VA, device, 3)), "gcsstr", ALIGNED)
    kinds = {type(o) for o in outcomes}
    assert kinds == {Abort, Completes}, outcomes
    abort = next(o for o in outcomes if isinstance(o, Abort))
    assert abort.fsc == esr.fault_status("unsupported_atomic", None) and abort.gcs


def test_the_gcs_stores_where_they_may_run():
    assert op_features("gcsstr") == ("FEAT_GCS",) and op_features("gcssttr") == ("FEAT_GCS",)
    assert "gcsstr" in EL0_OPS and "gcssttr" not in EL0_OPS       # GCSSTTR is EL1's unprivileged form
    assert "gcssttr" in EL2_REFUSED_OPS and "gcsstr" not in EL2_REFUSED_OPS


# GCSPUSHM and GCSPOPM (J1.1.3.64 with J1.1.3.52 AddGCSRecord; J1.1.3.62): GCS data accesses through
# CreateAccDescGCS(MemOp_STORE / MemOp_LOAD), the push a write and the pop a read.
@pytest.mark.parametrize("encoding", range(16))
def test_gcspushm_and_gcspopm_need_the_gcs_permission_alone(encoding):
    """At EL1 PIR_EL1's encoding, at EL0 PIRE0_EL1's: only 0b1001 lets either complete, whatever read or
    write the others grant; each abort is a level 3 Permission fault with WnR as the access, ISS2.GCS = 1
    and no instruction syndrome."""
    words = chain(VA, leaf(5), 3)
    for el, r in ((1, pie_regs(pir=encoding << 4 * 5)), (0, pie_regs(pir=0, pire0=encoding << 4 * 5))):
        for op, write in (("gcspushm", True), ("gcspopm", False)):
            outcome = one(translate(r, memory(words), op, ALIGNED, value=8, el=el))
            if encoding == GCS:
                assert isinstance(outcome, Completes), (op, el, outcome)
                continue
            assert isinstance(outcome, Abort) and outcome.fault == ("permission", 3), (op, el, bin(encoding))
            assert outcome.wnr == write and outcome.gcs and outcome.syndrome is None, (op, el, outcome)
            value = outcome.esr().value
            assert esr.ESR_ISS2_GCS.get(value) == 1 and esr.ESR_ISS_ISV.get(value) == 0
    assert "gcspushm" not in LS_SYNDROME and "gcspopm" not in LS_SYNDROME


def test_gcspushm_and_gcspopm_without_pie_and_with_pan():
    """No gcs permission in the direct scheme (D11.5 I_MDFXL); PSTATE.PAN does not apply to them (NewAccDesc's
    pan is not set by CreateAccDescGCS) where it takes an ordinary load's permission."""
    words = chain(VA, PAGE | PAGE_DESC, 3)
    for op in ("gcspushm", "gcspopm"):
        outcome = one(translate(regs(), memory(words), op, ALIGNED))
        assert isinstance(outcome, Abort) and outcome.fault == ("permission", 3) and outcome.gcs
    pan_words = chain(VA, leaf(1), 3)
    r = pie_regs(pir=GCS << 4, pire0=0b0001 << 4, mmfr1=1 << 20)
    for op in ("gcspushm", "gcspopm"):
        assert isinstance(one(translate(r, memory(pan_words), op, ALIGNED, pan=True)), Completes), op


def test_gcspushm_to_a_clean_gcs_location_faults_on_the_dirty_state_and_gcspopm_does_not():
    words = chain(VA, leaf(0, ndirty=True), 3)
    push = one(translate(pie_regs(pir=GCS), memory(words), "gcspushm", ALIGNED))
    assert isinstance(push, Abort) and push.dirtybit and push.gcs and push.wnr
    assert isinstance(one(translate(pie_regs(pir=GCS), memory(words), "gcspopm", ALIGNED)), Completes)


def test_the_gcs_pop_check():
    """J1.1.3.62 GCSPOPM: a doubleword whose bits [1:0] are not 0b00 takes a GCS Data Check exception (J1.1.3.56):
    ESR_ELx EC 0x2D, IL 1, ISS.IT 0b00001 (GCSPOPM), ISS.Rn the kernel's Xt (x0), the rest 0, FAR_ELx UNKNOWN;
    0b00 completes with the doubleword; memory nobody declared leaves it open (Unknown)."""
    done = Completes(pa=0x4000_0100, attr=0xFF, sh="inner", spans=((0x4000_0100, 8),))
    assert _gcs_pop(done, Memory({0x4000_0100: 0x1234_5678})).value == 0x1234_5678
    for low in (1, 2, 3):
        check = _gcs_pop(done, Memory({0x4000_0100: 0x1234_5678 | low}))
        assert isinstance(check, Abort) and check.fault == (esr.GCS_DATA_CHECK, None), check
        assert check.esr() == Bits(0x2D << 26 | 1 << 25 | 0b00001, ALL_BITS)
        assert check.far_register().mask == 0 and "J1.1.3.62" in check.rule
    unknown = _gcs_pop(done, Memory({}))
    assert isinstance(unknown, Unknown) and "GCS Data Check" in unknown.reason


def test_gcspushm_and_gcspopm_where_they_may_run():
    assert op_features("gcspushm") == ("FEAT_GCS",) and op_features("gcspopm") == ("FEAT_GCS",)
    assert "gcspushm" in EL0_OPS and "gcspopm" in EL0_OPS
    assert "gcspushm" not in NESTED_OPS and "gcspopm" not in NESTED_OPS


# GCSSS1 (J1.1.3.67): a GCS compare-and-swap at Xt, CreateAccDescGCSSS1's read and write.
def test_gcsss1_permissions_wnr_and_alignment():
    """The gcs permission alone; its Permission fault has WnR = 0 (FaultRecord.write is NoFault's: read and
    write, J1.3.5), the dirty state's WnR = 1 (J1.1.4.26's GCS branch sets write); unaligned: an Alignment
    fault whatever SCTLR_ELx.A (J1.1.3.106)."""
    words = chain(VA, leaf(3), 3)
    assert isinstance(one(translate(pie_regs(pir=GCS << 12), memory(words), "gcsss1", ALIGNED, value=8)), Completes)
    fault = one(translate(pie_regs(pir=0b0101 << 12), memory(words), "gcsss1", ALIGNED, value=8))
    assert fault.fault == ("permission", 3) and fault.wnr is False and fault.gcs and fault.syndrome is None
    unaligned = one(translate(pie_regs(pir=GCS << 12), memory(words), "gcsss1", ALIGNED + 4, value=8))
    assert unaligned.fault == ("alignment", None) and unaligned.wnr is False and unaligned.gcs
    dirty = one(translate(pie_regs(pir=GCS), memory(chain(VA, leaf(0, ndirty=True), 3)), "gcsss1", ALIGNED, value=8))
    assert dirty.fault == ("permission", 3) and dirty.dirtybit and dirty.wnr is True


def test_the_gcsss1_compare_and_swap_and_its_check():
    """The Valid cap entry for Xt (Xt<63:12>:0x001) becomes the outgoing stack's In-progress cap entry
    (GCSPR<63:3>:0b101); anything else: nothing written, a GCS Data Check with ISS.IT 0b00100 (GCSSS1), Rn the
    kernel's x0, FAR UNKNOWN (J1.1.3.56); memory nobody declared: Unknown."""
    va, pa = 0x8000_0FF8, 0x4000_0FF8
    done = Completes(pa=pa, attr=0xFF, sh="inner", spans=((pa, 8),))
    step = Step("gcsss1", va, 0x8000_0403, Expect("ok"))
    mem = Memory({pa: 0x8000_0001})
    assert _gcs_switch(step, done, mem) is done and mem.read(pa, 8) == 0x8000_0405
    for other in (0x8000_0000, 0x8000_0005, 0x8000_1001):
        mem = Memory({pa: other})
        check = _gcs_switch(step, done, mem)
        assert check.fault == (esr.GCS_DATA_CHECK, None) and check.esr() == Bits(0x2D << 26 | 1 << 25 | 0b00100, ALL_BITS)
        assert check.far_register().mask == 0 and mem.read(pa, 8) == other
    assert isinstance(_gcs_switch(step, done, Memory({})), Unknown)


# GCSSS2 (J1.1.3.68): a GCS load at GCSPR_ELx, then a GCS store at the outgoing pointer the loaded entry names.
def _gcs_case(name):
    case = next(c for c in load_file(ROOT / "cases" / "gcs.toml") if c.id == f"gcs.{name}")
    return case, predict_case(case, AGREEMENT_CPUS["max-11.1.3"])


def test_gcsss2_stores_at_the_pointer_its_load_gives_and_judges_that_store_on_its_own():
    """Xt is the outgoing pointer (the In-progress cap entry's bits [63:3] less one doubleword), where the Valid cap
    entry lands (the load after it reads it); that store's translation is its own: on a read/write page a
    Permission fault with WnR 1 and FAR the pointer, unmapped a Translation fault; an entry whose bits [2:0] are
    not 0b101 the GCS Data Check with ISS.IT 0b00101 and ISS.Rn UNKNOWN (J1.1.3.56)."""
    case, predictions = _gcs_case("switch_stack_2")
    (ss2,) = predictions[2]
    assert isinstance(ss2, Completes) and ss2.value == 0x8000_03F8
    assert [o.value for o in predictions[3]] == [0x8000_0001]
    (check,) = predictions[4]
    assert check.esr() == Bits(0x2D << 26 | 1 << 25 | 0b00101, ALL_BITS & ~esr.ESR_ISS_GCS_RN.mask)
    (store_fault,) = predictions[8]
    assert store_fault.fault == ("permission", 3) and store_fault.wnr and store_fault.far == 0x8000_23F8
    assert store_fault.gcs and store_fault.syndrome is None
    (unmapped,) = predictions[10]
    assert unmapped.fault == ("translation", 3) and unmapped.far == 0x8000_33F8
    (load_fault,) = predictions[11]
    assert load_fault.fault == ("permission", 3) and not load_fault.wnr and load_fault.far == 0x8000_2100


def test_gcsss2_of_memory_nobody_declared_is_unknown():
    """The second access's address is what the first loads: memory no case declares leaves it open."""
    va, pa = 0x8000_0FF8, 0x4000_0FF8
    load = Completes(pa=pa, attr=0xFF, sh="inner", spans=((pa, 8),))

    class Undeclared:
        memory = Memory({})
    (outcome,) = _gcs_ss2(Undeclared, Access("gcsss2", va), Outcomes({load}))
    assert isinstance(outcome, Unknown) and "In-progress cap entry" in outcome.reason


# The exception return records (J1.1.3.51 AddGCSExRecord, J1.1.3.53 CheckGCSExRecord, J1.1.3.63 GCSPOPX).
TOP, BASE = 0x4000_0118, 0x4000_0100
RECORD = {BASE: 0b1001, BASE + 8: 0x1234, BASE + 16: GCS_EX_SPSR, BASE + 24: ~0x1234 & (1 << 64) - 1}


def test_gcspushx_writes_the_record_from_its_top_doubleword_down():
    mem = Memory({pa: 0 for pa in RECORD})
    _gcs_push_record(Step("gcspushx", 0x8000_0118, 0x1234, Expect("ok")),
                     Completes(pa=TOP, attr=0xFF, sh="inner", spans=((TOP, 8),)), mem)
    assert {pa: mem.read(pa, 8) for pa in RECORD} == RECORD


@pytest.mark.parametrize("offset", [0, 8, 16, 24])
def test_gcspopcx_compares_every_doubleword_and_gcspopx_the_lowest_alone(offset):
    done = Completes(pa=BASE, attr=0xFF, sh="inner", spans=((BASE, 8),))
    popcx, popx = Step("gcspopcx", 0x8000_0100, 0x1234, Expect("ok")), Step("gcspopx", 0x8000_0100, 0, Expect("ok"))
    assert _gcs_pop_record(popcx, done, Memory(dict(RECORD))) is done
    wrong = Memory({**RECORD, BASE + offset: RECORD[BASE + offset] ^ 4})
    check = _gcs_pop_record(popcx, done, wrong)
    assert check.fault == (esr.GCS_DATA_CHECK, None) and check.far_register().mask == 0
    assert check.esr() == Bits(0x2D << 26 | 1 << 25 | 0b01000, ALL_BITS & ~esr.ESR_ISS_GCS_RN.mask)
    popped = _gcs_pop_record(popx, done, wrong)
    if offset:
        assert popped is done       # GCSPOPX loads the other three but checks none of them
    else:
        assert popped.esr() == Bits(0x2D << 26 | 1 << 25 | 0b11111 << 5 | 0b01001, ALL_BITS)
    assert isinstance(_gcs_pop_record(popcx, done, Memory({BASE: 0b1001})), Unknown)


def test_the_exception_return_records_are_gcs_accesses_of_el1_alone():
    assert ACCESS_KINDS["gcspushx"].write and ACCESS_KINDS["gcspushx"].gcs
    for op in ("gcspopx", "gcspopcx"):
        assert ACCESS_KINDS[op].read and not ACCESS_KINDS[op].write and ACCESS_KINDS[op].gcs
    for op in ("gcspushx", "gcspopx", "gcspopcx", "gcsss2"):
        assert op_features(op) == ("FEAT_GCS",) and op not in NESTED_OPS and op not in LS_SYNDROME
        assert (op in EL0_OPS) == (op == "gcsss2")
    words = chain(VA, leaf(3), 3)
    fault = one(translate(pie_regs(pir=0b0101 << 12), memory(words), "gcspopcx", ALIGNED, value=8))
    assert fault.fault == ("permission", 3) and fault.wnr is False and fault.gcs


# GCSPR_ELx after a step (J1.1.3.74 SetCurrentGCSPointer, each instruction's last act): the step record's gcspr.
@pytest.mark.parametrize("op, va, value, moved", [
    ("gcspushm", 0x8000_0108, 0, 0x8000_0108),      # from va + 8, one doubleword down
    ("gcspushx", 0x8000_0118, 0, 0x8000_0100),      # from va + 8, one record (32 bytes) down
    ("gcspopm", 0x8000_0108, 0, 0x8000_0110),
    ("gcsss1", 0x8000_0FF8, 0x8000_0400, 0x8000_0FF8),  # from value to Xt<63:3>:000
    ("gcsss2", 0x8000_0FF8, 0, 0x8000_1000),
    ("gcspopx", 0x8000_0100, 0, 0x8000_0120),
    ("gcspopcx", 0x8000_0100, 0x1234, 0x8000_0120),
])
def test_gcspr_after_a_step_moves_where_it_completes_and_stays_where_it_faults(op, va, value, moved):
    before = value if op == "gcsss1" else va + 8 if op in ("gcspushm", "gcspushx") else va
    assert gcspr_after(op, va, value, completed=True) == moved
    assert gcspr_after(op, va, value, completed=False) == before


def test_the_oracle_judges_gcspr_and_asks_for_it():
    step = Step("gcspopm", 0x8000_0108, 0, Expect("ok"))
    done = Completes(pa=0x4000_0108, attr=0xFF, sh="inner", spans=((0x4000_0108, 8),), value=4)
    assert observation_allowed(step, Outcomes({done}), Observation("ok", value=4, gcspr=0x8000_0110)) == []
    (wrong,) = observation_allowed(step, Outcomes({done}), Observation("ok", value=4, gcspr=0x8000_0108))
    assert "GCSPR_ELx 0x80000108" in wrong and "0x80000110" in wrong
    (missing,) = observation_allowed(step, Outcomes({done}), Observation("ok", value=4))
    assert "without gcspr=" in missing
    load = Step("load64", 0x8000_0108, 0, Expect("ok"))
    assert observation_allowed(load, Outcomes({done}), Observation("ok", value=4)) == []
