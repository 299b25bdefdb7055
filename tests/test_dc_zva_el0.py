"""DC ZVA at EL0 (C5.3.38's execution): with SCTLR_EL1.DZE = 0 trapped before it translates, EC 0x18 with the
instruction's encoding in the ISS (D24.2.45: Op0 1, Op1 3, CRn 7, CRm 4, Op2 1, Rt, Direction 0), FAR UNKNOWN; with
DZE = 1 made as at EL1 with EL0's permissions.  The model's outcome, the loader's `fault = "system_trap"`, the
verdict on a recorded trap, and the kernel's SCTLR_EL1.DZE from the case's regime.dze."""
from dataclasses import replace

from harness import declared, esr
from harness.cases import Expect, Step, load_file
from harness.model import Abort, Access, Completes, full_translate
from harness.model.registers import SCTLR_DZE
from harness.model.translate import DC_ZVA_TRAP_RULE
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
    assert v.ok and v.expected == f"MSR/MRS/system instruction trap (EC 0x18): DC ZVA, x0, write (ISS {DC_ZVA_X0_ISS:#x})"
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
