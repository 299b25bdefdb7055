"""The model's cache maintenance by VA under stage 2 (HCR_EL2.VM = 1): J1.1.4.34 AArch64.S2CheckPermissions'
AccessType_DC and AccessType_IC branches (DC IVAC needs stage 2 write permission at any EL; the cleans and IC IVAU
none from EL1, stage 2 read at EL0, IC's IMPLEMENTATION DEFINED), J1.1.4.79 AArch64.S2Walk's IMPLEMENTATION DEFINED
Access flag fault, one IMPLEMENTATION DEFINED choice for both stages, and the stage 2 abort each reports (J1.1.3.1
AArch64.FaultSyndrome: CM = 1 and WnR = 1, on the stage 1 walk too with S1PTW = 1; ISV = 0; HPFAR_EL2 the IPA)."""
from dataclasses import replace

import pytest

from harness import esr
from harness.model import Abort, Access, Completes, full_translate
from harness.model.permissions import IC_EL0_RULE
from harness.model.translate import CMO_AF_RULE
from tests.test_model_cmo import CLIDR_LOC2, CTR_DIC0
from tests.test_model_stage2 import S1_L2, S2_ROOT, VTCR, s1_page, s2_page, tables
from tests.test_model_stage2 import regs as s2_regs

VA, IPA, PA = 0x8000_0010, 0x80_0000_0000, 0x4100_0000
EL0_RW = 0b01 << 6          # stage 1 AP[2:1] = 0b01: EL0 and EL1 read and write
S2AP_NONE, S2AP_RO, S2AP_WO, S2AP_RW = 0b00, 0b01, 0b10, 0b11
VTCR_HA, VTCR_HD = 1 << 21, 1 << 22


def regs(vtcr=VTCR):
    return replace(s2_regs(vtcr=vtcr), clidr=CLIDR_LOC2, ctr=CTR_DIC0)     # neither DC nor IC may be a NOP


def cmo(op, s2ap=S2AP_RW, el=1, s1_leaf=None, vtcr=VTCR, **s2):
    memory = tables(s1_page(IPA) | EL0_RW if s1_leaf is None else s1_leaf, s2_page(PA, s2ap=s2ap, **s2))
    return full_translate(regs(vtcr), memory, Access(op, VA, el=el))


def completes(outcomes):
    return len(outcomes) == 1 and isinstance(next(iter(outcomes)), Completes)


def assert_stage2_cm_abort(outcome, fault, ipa=IPA, s1ptw=False):
    """A stage 2 Data Abort taken to EL2 with CM = 1, WnR = 1, ISV = 0, FAR the register's VA."""
    assert isinstance(outcome, Abort) and outcome.stage == 2 and outcome.fault == fault
    syndrome = outcome.esr().value
    assert esr.ESR_EC.get(syndrome) == esr.EC.DABT_LOW
    assert (esr.ESR_ISS_CM.get(syndrome), esr.ESR_ISS_WNR.get(syndrome)) == (1, 1)
    assert (esr.ESR_ISS_ISV.get(syndrome), esr.ESR_ISS_S1PTW.get(syndrome)) == (0, int(s1ptw))
    assert outcome.far_register().value == VA and outcome.ipa >> 12 == ipa >> 12


@pytest.mark.parametrize("op", ("dc_civac", "dc_cvac", "ic_ivau"))
@pytest.mark.parametrize("s2ap", (S2AP_NONE, S2AP_RO, S2AP_WO))
def test_at_el1_the_cleans_and_ic_need_no_stage2_permission(op, s2ap):
    assert completes(cmo(op, s2ap))


@pytest.mark.parametrize("s2ap, faults", [(S2AP_NONE, True), (S2AP_RO, True), (S2AP_WO, False), (S2AP_RW, False)])
def test_dc_ivac_needs_stage2_write_permission(s2ap, faults):
    outcomes = cmo("dc_ivac", s2ap)
    if not faults:
        assert completes(outcomes)
        return
    (abort,) = outcomes
    assert_stage2_cm_abort(abort, ("permission", 3))
    assert "AArch64.S2CheckPermissions, CacheOp_Invalidate" in abort.rule
    assert abort.hpfar().mask == 0      # a stage 2 Permission fault not on a walk: HPFAR_EL2 UNKNOWN (IPAValid)


def test_dc_ivac_on_a_writable_clean_dbm_page_is_permitted_and_makes_no_update():
    # The walk state of a DBM descriptor with VTCR_EL2.HA and HD permits writes; DC IVAC is no write, so nothing is set.
    outcomes = cmo("dc_ivac", S2AP_RO, vtcr=VTCR | VTCR_HA | VTCR_HD, dbm=True)
    assert completes(outcomes) and next(iter(outcomes)).updates == ()


@pytest.mark.parametrize("op", ("dc_civac", "dc_cvac"))
@pytest.mark.parametrize("s2ap, faults", [(S2AP_NONE, True), (S2AP_WO, True), (S2AP_RO, False), (S2AP_RW, False)])
def test_at_el0_the_cleans_need_stage2_read_permission(op, s2ap, faults):
    outcomes = cmo(op, s2ap, el=0)
    if faults:
        (abort,) = outcomes
        assert_stage2_cm_abort(abort, ("permission", 3))
        assert "DC CVAC or CIVAC at EL0 needs read permission (AArch64.S2CheckPermissions" in abort.rule
    else:
        assert completes(outcomes)


def test_ic_ivau_at_el0_without_stage2_read_permission_is_implementation_defined():
    outcomes = cmo("ic_ivau", S2AP_WO, el=0)
    assert IC_EL0_RULE in outcomes.rule and {type(o) for o in outcomes} == {Abort, Completes}
    assert_stage2_cm_abort(next(o for o in outcomes if isinstance(o, Abort)), ("permission", 3))
    assert completes(cmo("ic_ivau", S2AP_RO, el=0))


def test_stage2_af_0_faults_a_dc_or_ic_only_where_implementation_defined():
    for op in ("dc_civac", "dc_cvac", "dc_ivac", "ic_ivau"):
        outcomes = cmo(op, af=False)
        assert CMO_AF_RULE in outcomes.rule and {type(o) for o in outcomes} == {Abort, Completes}
        abort = next(o for o in outcomes if isinstance(o, Abort))
        assert_stage2_cm_abort(abort, ("access_flag", 3))
        assert abort.hpfar().mask      # an Access flag fault: HPFAR_EL2.FIPA valid
    # Without the Access flag fault the permissions still apply: DC IVAC on a read-only page faults there.
    outcomes = cmo("dc_ivac", S2AP_RO, af=False)
    assert {o.fault for o in outcomes} == {("access_flag", 3), ("permission", 3)}


def test_one_implementation_defined_choice_for_both_stages():
    # IC IVAU at EL0 where neither stage grants EL0 read: stage 1's fault, or (no fault by that choice) completion;
    # never a stage 2 fault after stage 1 let it through.
    outcomes = cmo("ic_ivau", S2AP_NONE, el=0, s1_leaf=s1_page(IPA))
    assert {(type(o), getattr(o, "stage", None)) for o in outcomes} == {(Abort, 1), (Completes, None)}
    # AF = 0 at both stages: stage 1's Access flag fault, or completion.
    outcomes = cmo("dc_cvac", s1_leaf=s1_page(IPA) & ~(1 << 10), af=False)
    assert {(type(o), getattr(o, "stage", None)) for o in outcomes} == {(Abort, 1), (Completes, None)}
    # Where stage 1 makes no such choice, stage 2's stays open.
    assert len(cmo("ic_ivau", S2AP_NONE, el=0)) == 2


@pytest.mark.parametrize("op", ("dc_civac", "dc_ivac", "ic_ivau"))
def test_a_stage1_walk_that_faults_at_stage2_reports_cm_wnr_and_s1ptw(op):
    memory = tables(s1_page(IPA), s2_page(PA))
    memory.write64(S1_L2 + 8 * (VA >> 21 & 511), 0x80_4000_0000 | 0b11)     # the L3 table at an unmapped IPA
    memory.write64(S2_ROOT + 8 * (0x80_4000_0000 >> 30 & 1023), 0)
    (abort,) = full_translate(regs(), memory, Access(op, VA))
    assert_stage2_cm_abort(abort, ("translation", 1), ipa=0x80_4000_0000 | (VA >> 12 & 511) * 8, s1ptw=True)
