"""Trapped System instructions (EC 0x18).  DC ZVA at EL0 (C5.3.38's execution): with SCTLR_EL1.DZE = 0 trapped before it translates, EC 0x18 with the
instruction's encoding in the ISS (D24.2.45: Op0 1, Op1 3, CRn 7, CRm 4, Op2 1, Rt, Direction 0), FAR UNKNOWN; with
DZE = 1 made as at EL1 with EL0's permissions.  The model's outcome, the loader's `fault = "system_trap"`, the
verdict on a recorded trap, and the kernel's SCTLR_EL1.DZE from the case's regime.dze.  HCR_EL2.TDZ, TPCP and TPU:
DC ZVA, DC CIVAC/CVAC/IVAC and IC IVAU at EL1 and EL0 trapped to EL2, the NOP beside it where the CPU may treat the
op as one (J1.1.3.31 AArch64.CanTrapDC, AArch64.CanTrapIC)."""
from dataclasses import replace

from harness import declared, esr
from harness.cases import Expect, Step, load_file
from harness.model import Abort, Access, Completes, full_translate
from harness.model.registers import HCR_TDZ, HCR_TPCP, HCR_TPU, SCTLR_DZE
from harness.model.translate import DC_ZVA_TRAP_RULE, TRAP_OR_NOP_RULE
from harness.observation import observe
from harness.ops import EL0_OPS
from harness.protocol import PROTOCOL_VERSION, parse_record
from harness.verdict import judge_step
from suite_run import ROOT
from tests.test_model import PAGE, PAGE_DESC, VA, chain, fault_of, memory, one, regs

DC_ZVA_X0_ISS = 0x12DC08            # Op0 0b01, Op2 0b001, Op1 0b011, CRn 0b0111, Rt 0, CRm 0b0100, Direction 0
EL0_RW, EL0_RO = PAGE_DESC | 0b01 << 6, PAGE_DESC | 0b11 << 6      # AP[2:1] 0b01, 0b11


def zva(el, dze, leaf=EL0_RW, mapped=True):
    r = replace(regs(), dczid=4)
    r = replace(r, sctlr=r.sctlr | SCTLR_DZE.mask if dze else r.sctlr & ~SCTLR_DZE.mask)
    words = chain(VA, leaf | PAGE, 3) if mapped else chain(VA, 0, 3)
    return full_translate(r, memory(words), Access("dc_zva", VA + 0x31, el=el))


def test_the_iss_names_dc_zva_x0():
    assert esr.system_trap_iss(esr.SYS_DC_ZVA, 0) == DC_ZVA_X0_ISS
    assert esr.describe_system_trap(DC_ZVA_X0_ISS) == f"DC ZVA, x0, write (ISS {DC_ZVA_X0_ISS:#x})"
    assert "dc_zva" in EL0_OPS


def test_at_el0_with_dze_0_it_traps_before_it_translates():
    for mapped in (True, False):
        trap = one(zva(0, False, mapped=mapped))
        assert isinstance(trap, Abort) and trap.fault == (esr.SYSTEM_TRAP, None) and trap.rule == DC_ZVA_TRAP_RULE
        assert trap.esr().value == 0x18 << 26 | 1 << 25 | DC_ZVA_X0_ISS and trap.esr().mask == (1 << 64) - 1
        assert trap.far_register().mask == 0 and not trap.updates       # FAR UNKNOWN; nothing written


def test_at_el0_with_dze_1_it_is_made_with_el0s_permissions():
    done = one(zva(0, True))
    assert isinstance(done, Completes) and done.spans == ((PAGE + ((VA + 0x31) & 0xFC0), 64),)
    assert fault_of(one(zva(0, True, leaf=EL0_RO)))[0] == "permission"
    assert fault_of(one(zva(0, True, leaf=PAGE_DESC)))[0] == "permission"      # AP 0b00: EL0 has no access
    assert fault_of(one(zva(0, True, mapped=False)))[0] == "translation"


def test_at_el1_dze_changes_nothing():
    assert zva(1, False) == zva(1, True) and isinstance(one(zva(1, False)), Completes)


def test_a_recorded_trap_is_judged_by_its_exception_class_and_iss():
    step = Step("dc_zva", VA, 0, Expect("fault", fault=esr.SYSTEM_TRAP), el=0)

    def trap(raw):
        return observe(parse_record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} result=fault esr={raw:#x} far=0x0 elr=0x40081000"))
    v = judge_step(0, step, trap(0x18 << 26 | 1 << 25 | DC_ZVA_X0_ISS))
    assert v.ok and v.expected == f"MSR/MRS/system instruction trap (EC 0x18) taken to EL1: DC ZVA, x0, write (ISS {DC_ZVA_X0_ISS:#x})"
    v = judge_step(0, step, trap(0x18 << 26 | 1 << 25 | DC_ZVA_X0_ISS | 1 << 5))       # Rt = x1
    assert v.problems == (f"expected the trap of DC ZVA, x0, write (ISS {DC_ZVA_X0_ISS:#x}); got DC ZVA, x1, write "
                          f"(ISS {DC_ZVA_X0_ISS | 1 << 5:#x})",)
    v = judge_step(0, step, trap(0x9200004f))        # made, and faulted, where it should have trapped
    assert v.problems[0].startswith("expected EC 0x18 (MSR/MRS/system instruction trap); got EC 0x24")


def test_the_cases_regime_dze_sets_sctlr_el1_dze_and_the_loader_takes_system_trap():
    cases = {c.id.split(".")[-1]: c for c in load_file(ROOT / "cases" / "access_kinds_dczva.toml")}
    assert cases["dc_zva_el0_trapped"].steps[1].expect == Expect("fault", fault=esr.SYSTEM_TRAP)
    ids = (0x1122, 0, 0, 0)
    assert SCTLR_DZE.get(declared.case_registers(cases["dc_zva_el0"], ids).sctlr)
    assert not SCTLR_DZE.get(declared.case_registers(cases["dc_zva_el0_trapped"], ids).sctlr)


# HCR_EL2.TDZ, TPCP and TPU (C5.3.38, .21, .25, .37, .41's execution): trapped to EL2 before the translation.
HCR_VM_RW = 1 << 31      # HCR_EL2.RW (stage 2 off: the traps need EL2 enabled alone)


def trapped(op, el, hcr, clidr=0x0200_0023, ctr=0x8444_c004, dze=True):
    r = replace(regs(), dczid=4, hcr=hcr, clidr=clidr, ctr=ctr)
    r = replace(r, sctlr=r.sctlr | SCTLR_DZE.mask if dze else r.sctlr & ~SCTLR_DZE.mask)
    return full_translate(r, memory(chain(VA, 0, 3)), Access(op, VA, el=el))     # an unmapped VA: no translation


def test_hcr_el2_traps_go_to_el2_with_each_instructions_iss():
    for op, bit, encoding in (("dc_zva", HCR_TDZ, esr.SYS_DC_ZVA), ("dc_civac", HCR_TPCP, esr.SYS_DC_CIVAC),
                              ("dc_cvac", HCR_TPCP, esr.SYS_DC_CVAC), ("dc_ivac", HCR_TPCP, esr.SYS_DC_IVAC),
                              ("ic_ivau", HCR_TPU, esr.SYS_IC_IVAU)):
        for el in (0, 1) if op != "dc_ivac" else (1,):
            trap = one(trapped(op, el, HCR_VM_RW | bit.mask))
            assert isinstance(trap, Abort) and trap.stage == 2 and trap.fault == (esr.SYSTEM_TRAP, None)
            assert trap.esr().value == 0x18 << 26 | 1 << 25 | esr.system_trap_iss(encoding, 0)
            assert trap.hpfar().mask == 0 and trap.far_register().mask == 0
        assert fault_of(one(trapped(op, 1, HCR_VM_RW)))[0] == "translation"     # without the bit: translated
    # Another op's bit traps nothing here.
    assert fault_of(one(trapped("ic_ivau", 1, HCR_VM_RW | HCR_TPCP.mask)))[0] == "translation"


def test_dze_0s_trap_to_el1_comes_before_tdz():
    trap = one(trapped("dc_zva", 0, HCR_VM_RW | HCR_TDZ.mask, dze=False))
    assert trap.stage == 1 and trap.rule == DC_ZVA_TRAP_RULE


def test_where_the_op_may_be_a_nop_the_trap_is_implementation_defined():
    outcomes = trapped("dc_civac", 1, HCR_VM_RW | HCR_TPCP.mask, clidr=0x123)        # LoC = 0
    assert TRAP_OR_NOP_RULE in outcomes.rule and {type(o) for o in outcomes} == {Abort, Completes}
    outcomes = trapped("ic_ivau", 0, HCR_VM_RW | HCR_TPU.mask, ctr=0xb444_c004)        # DIC = 1
    assert TRAP_OR_NOP_RULE in outcomes.rule and {type(o) for o in outcomes} == {Abort, Completes}


def test_a_trap_to_el2_is_judged_by_the_el_it_is_taken_to():
    step = Step("dc_civac", VA, 0, Expect("fault", fault=esr.SYSTEM_TRAP, stage=2))
    raw = 0x18 << 26 | 1 << 25 | esr.system_trap_iss(esr.SYS_DC_CIVAC, 0)

    def record(el):
        return observe(parse_record(f"MMUT {PROTOCOL_VERSION} step n=0 va={VA:#x} result=fault esr={raw:#x} far=0x0 elr=0x40081000"
                                    + (" el=2 hpfar=0x0" if el == 2 else "")))
    assert judge_step(0, step, record(2)).ok
    assert judge_step(0, step, record(1)).problems == ("expected the trap taken to EL2; got it taken to EL1",)
