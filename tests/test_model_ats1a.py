"""FEAT_ATS1A in the reference model: AT S1E1A and AT S1E2A translate stage 1 with
ATAccess_Any (J1.3.3.278 CreateAccDescAT: read, write and pan all FALSE), so
AArch64.S1CheckPermissions (J1.1.4.26) finds no Permission fault whatever the
permissions, while every fault of the walk itself stays (C5.4.7, C5.4.12: "ignoring
the permission checks").  Each test's comment names the rule."""
import pytest

from harness import par
from harness.model import Completes
from harness.model.registers import SCTLR_WXN
from tests.test_model import (
    AF, MMFR1_HAFDBS, MMFR1_PAN3, NORMAL, PAGE, PAGE_DESC, SCTLR, VA, chain, fault_of, memory, one, regs, translate,
)
from tests.test_model_el2 import AP_RO_ALL, AP_RO_EL1, XN, el2_regs

PXN, UXN, DBM = 1 << 53, 1 << 54, 1 << 51
APTABLE_RO_NO_EL0 = 0b11 << 61


def pa_of(outcome):
    assert not par.PAR_F.get(outcome.value), outcome
    return par.PAR_PA.get(outcome.value) << par.PAR_PA.shift


@pytest.mark.parametrize("leaf,tables,denied_to", [
    (PAGE_DESC | AP_RO_EL1 | PXN | UXN, {}, "at_s1e1w"),                 # read-only, never executable
    (PAGE_DESC | AP_RO_ALL, {1: APTABLE_RO_NO_EL0}, "at_s1e0r"),         # APTable takes EL0 and write away
    (PAGE_DESC | 0b01 << 6, {}, "at_s1e1rp"),                           # EL0-accessible: PAN denies EL1
])
def test_at_s1e1a_reports_the_translation_where_at_s1e1r_w_fault_on_permissions(leaf, tables, denied_to):
    # AArch64.S1CheckPermissions: with accdesc.read and accdesc.write FALSE no branch faults.
    mem = memory(chain(VA, PAGE | leaf, 3, tables=tables))
    r = regs(mmfr1=MMFR1_PAN3)
    assert fault_of(one(translate(r, mem, denied_to, VA, pan=True))) == ("permission", 3)
    assert pa_of(one(translate(r, mem, "at_s1e1a", VA, pan=True))) == PAGE


def test_at_s1e1a_keeps_the_faults_of_the_walk():
    # Translation and Access flag faults come from AArch64.S1Walk and AArch64.S1Translate, not from the
    # permission check: AT S1E1A reports them in PAR_EL1 as AT S1E1R does.
    assert fault_of(one(translate(regs(), memory(chain(VA, 0, 2)), "at_s1e1a", VA))) == ("translation", 2)
    no_af = memory(chain(VA, PAGE | PAGE_DESC & ~AF | AP_RO_EL1, 3))
    assert fault_of(one(translate(regs(), no_af, "at_s1e1a", VA))) == ("access_flag", 3)


def test_at_s1e1a_makes_no_dirty_update_and_its_af_update_is_implementation_defined():
    # AArch64.SetDirtyState only for a write (accdesc.write); AArch64.SetAccessFlag for AT: ImpDefBool("AT updates AF").
    leaf = PAGE | 0b11 | NORMAL | AP_RO_EL1 | DBM         # AF = 0, writable-clean
    words = chain(VA, leaf, 3)
    slot = next(k for k, v in words.items() if v == leaf)
    outcomes = translate(regs(ha=True, hd=True, mmfr1=MMFR1_HAFDBS), memory(words), "at_s1e1a", VA)
    assert {o.updates for o in outcomes} == {((slot, leaf, leaf | AF),), ()}
    assert "AT updates AF" in outcomes.rule


def test_at_s1e2a_ignores_the_el2_regimes_write_permission_and_wxn():
    # AT S1E2A (C5.4.12): the EL2 regime's translation, ATAccess_Any.
    mem = memory(chain(VA, PAGE | PAGE_DESC | AP_RO_ALL | XN, 3))
    r = el2_regs(sctlr=SCTLR | SCTLR_WXN.mask)
    assert fault_of(one(translate(r, mem, "at_s1e2w", VA))) == ("permission", 3)
    assert pa_of(one(translate(r, mem, "at_s1e2a", VA))) == PAGE
    assert fault_of(one(translate(r, memory(chain(VA, 0, 3)), "at_s1e2a", VA))) == ("translation", 3)


def test_an_at_s1e1a_load_is_no_access():
    # ATAccess_Any reads nothing: the outcome is a PAR, never Completes.
    out = one(translate(regs(), memory(chain(VA, PAGE | PAGE_DESC, 3)), "at_s1e1a", VA))
    assert not isinstance(out, Completes)
