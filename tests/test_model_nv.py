"""FEAT_NV in the reference model: with HCR_EL2.{NV, NV1} = {1, 1} EL1&0's stage 1 walks with
walkparams.nv1 (J1.3.3.418 EffectiveHCR_EL2_NVx, J1.1.4.102 AArch64.S1TTWParamsEL10) and reads
its descriptors as EL2's (J1.1.4.68/69 AArch64.S1ApplyOutputPerms/S1ApplyTablePerms; D24.2.62
HCR_EL2.NV1): AP[1] taken as 0, bit 54 PXN, UXN 0, bit 53 RES0, APTable[0] taken as 0, bit 60
PXNTable; PSTATE.PAN without effect (J1.1.4.28 AArch64.S1DirectBasePermissions)."""
from dataclasses import replace

import pytest

from harness import par
from harness.model import Abort, Completes
from harness.model.registers import HCR_NV, HCR_NV1, HCR_RW, REGIME_EL20, SCTLR_EPAN, walk_params
from tests.test_model import MMFR1_PAN3, PAGE, PAGE_DESC, SCTLR, VA, chain, fault_of, memory, one, regs, translate

NESTED = HCR_RW.mask | HCR_NV.mask | HCR_NV1.mask
BIT53, BIT54, BIT60, BIT61 = 1 << 53, 1 << 54, 1 << 60, 1 << 61
AP_RW_ALL, AP_RO_ALL = 0b01 << 6, 0b11 << 6


def nested(hcr=NESTED, **kw):
    return replace(regs(**kw), hcr=hcr)


@pytest.mark.parametrize("hcr, nv1", [
    (NESTED, True), (HCR_RW.mask | HCR_NV.mask, False), (HCR_RW.mask, False)])
def test_nv1_is_walkparams_nv1_of_the_el10_regime_only(hcr, nv1):
    assert walk_params(nested(hcr), False).nv1 is nv1
    assert walk_params(replace(nested(hcr), regime=REGIME_EL20), False).nv1 is False


def test_ap1_is_taken_as_0_so_el0_has_no_data_access():
    for ap in (AP_RW_ALL, AP_RO_ALL):
        mem = memory(chain(VA, PAGE | PAGE_DESC | ap, 3))
        assert not par.PAR_F.get(one(translate(regs(), mem, "at_s1e0r", VA)).value)
        assert fault_of(one(translate(nested(), mem, "at_s1e0r", VA))) == ("permission", 3)
        # LDTR at EL1 is privileged there (J1.1.3.98 AArch64.IsUnprivAccessPriv: NVx<1:0> = '11').
        assert isinstance(one(translate(nested(), mem, "ldtr64", VA & ~7)), Completes)
        assert isinstance(one(translate(nested(), memory(chain(VA, PAGE | PAGE_DESC, 3)), "ldtr64", VA & ~7)),
                          Completes)
        assert isinstance(one(translate(regs(), memory(chain(VA, PAGE | PAGE_DESC, 3)), "ldtr64", VA & ~7)), Abort)
        # EL1's own write permission is AP[2]'s alone.
        assert bool(par.PAR_F.get(one(translate(nested(), mem, "at_s1e1w", VA)).value)) == (ap == AP_RO_ALL)


@pytest.mark.parametrize("bits, executes", [(0, True), (BIT54, False), (BIT53, True), (BIT54 | BIT53, False)])
def test_bit_54_is_pxn_and_bit_53_res0(bits, executes):
    mem = memory(chain(VA, PAGE | PAGE_DESC | bits, 3))
    assert isinstance(one(translate(nested(), mem, "fetch", VA & ~3)), Completes) == executes


@pytest.mark.parametrize("table, el1_fetch, el1_write", [
    (BIT60, False, True),           # bit 60: PXNTable
    (1 << 59, True, True),          # bit 59: RES0 (PXNTable without NV1)
    (BIT61, True, True),            # APTable[0] taken as 0 (EL0 has no access anyway)
    (1 << 62, True, False),         # APTable[1]: still no write below
])
def test_table_bits_read_as_el2s(table, el1_fetch, el1_write):
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3, tables={1: table}))
    assert isinstance(one(translate(nested(), mem, "fetch", VA & ~3)), Completes) == el1_fetch
    assert (not par.PAR_F.get(one(translate(nested(), mem, "at_s1e1w", VA)).value)) == el1_write


def test_pan_has_no_effect_with_nv1():
    # EPAN: PAN denies EL1 data access to EL0-executable memory (UXN = 0); with NV1 it applies to nothing.
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3))
    epan = dict(sctlr=SCTLR | SCTLR_EPAN.mask, mmfr1=MMFR1_PAN3)
    assert fault_of(one(translate(nested(HCR_RW.mask | HCR_NV.mask, **epan), mem, "at_s1e1rp", VA, pan=True))) \
        == ("permission", 3)
    assert not par.PAR_F.get(one(translate(nested(**epan), mem, "at_s1e1rp", VA, pan=True)).value)


def test_an_el0_writable_page_is_el1_executable_with_nv1():
    """AP = rw_all: without NV1 EL0 may write it, so EL1 may not execute it (AArch64.S1DirectBasePermissions);
    with NV1 AP[1] is taken as 0, so it is not EL0-writable and EL1 may (cases/nv.toml nv1_accesses).  STTR is
    privileged with NV1 (J1.1.3.98): to an EL1-only page it completes."""
    mem = memory(chain(VA, PAGE | PAGE_DESC | AP_RW_ALL, 3))
    assert isinstance(one(translate(regs(), mem, "fetch", VA & ~3)), Abort)
    assert isinstance(one(translate(nested(), mem, "fetch", VA & ~3)), Completes)
    el1_only = memory(chain(VA, PAGE | PAGE_DESC, 3))
    assert isinstance(one(translate(nested(), el1_only, "sttr64", VA & ~7)), Completes)
    assert isinstance(one(translate(regs(), el1_only, "sttr64", VA & ~7)), Abort)


@pytest.mark.parametrize("ap", [AP_RW_ALL, AP_RO_ALL])
@pytest.mark.parametrize("bits", [0, BIT54, BIT53, BIT54 | BIT53])
def test_el0s_own_accesses_read_the_descriptor_as_el2s(ap, bits):
    """walkparams.nv1 is EffectiveHCR_EL2_NVx()<1> whatever the EL of the access (J1.1.4.102), so EL0's own
    loads and stores take a Permission fault (AP[1] taken as 0) and EL0 may fetch whatever bit 54 says (it is
    PXN, UXN 0); without NV1 bit 54 is UXN and EL0 reads and (rw_all) writes (cases/nv.toml el0_steps)."""
    mem = memory(chain(VA, PAGE | PAGE_DESC | ap | bits, 3))
    for op in ("load64", "store64"):
        fault = one(translate(nested(), mem, op, VA & ~7, el=0))
        assert isinstance(fault, Abort) and fault.fault == ("permission", 3) and fault.wnr == (op == "store64")
    assert isinstance(one(translate(nested(), mem, "fetch", VA & ~3, el=0)), Completes)
    nv_only = nested(HCR_RW.mask | HCR_NV.mask)
    assert isinstance(one(translate(nv_only, mem, "load64", VA & ~7, el=0)), Completes)
    assert isinstance(one(translate(nv_only, mem, "store64", VA & ~7, el=0)), Completes) == (ap == AP_RW_ALL)
    assert isinstance(one(translate(nv_only, mem, "fetch", VA & ~3, el=0)), Completes) == (not bits & BIT54)
