"""The model's DC ZVA (C5.3.38; J1.1.3.33 AArch64.MemZero, J1.1.3.20 AArch64.DataMemZero): the block it
zeroes (DCZID_EL0.BS, the VA aligned down), its permission branch (a write: WnR = 1, CM = 0), its alignment
branch (AccessType_DCZero in J1.1.4.29 AArch64.S1HasAlignmentFaultDueToMemType: any Device memory, after the
walk and before the permissions), FAR the register's VA, and the boot record's DCZID_EL0 reaching the model."""
from dataclasses import replace

import pytest

from harness import declared, features, protocol
from harness.cases import load_file
from harness.model import Access, Completes, s1_translate
from harness.model.permissions import DCZERO_DEVICE_RULE
from harness.model.stage2 import full_translate
from harness.model.translate import ACCESS_KINDS, zva_block_size
from harness.ops import DC_ZERO, EL0_OPS, LS_SYNDROME
from harness.predict import predict_case
from suite_run import ROOT
from tests.test_model import AF, DEVICE, PAGE, PAGE_DESC, SH_INNER, VA, chain, fault_of, memory, one, regs

BASE = VA & ~0xFFF
READ_ONLY_EL1 = PAGE_DESC | 0b10 << 6          # AP[2:1] = 0b10
DEVICE_PAGE = 0b11 | AF | SH_INNER | DEVICE
DCZID_64 = 4                                   # BS = 4: 16 words


def zva(va, leaf=PAGE_DESC, dczid=DCZID_64):
    r = replace(regs(), dczid=dczid)
    return full_translate(r, memory(chain(va, leaf | PAGE, 3)), Access("dc_zva", va))


def test_dc_zva_is_a_write_of_zeros_at_each_el_with_no_syndrome():
    kind = ACCESS_KINDS["dc_zva"]
    assert (kind.read, kind.write, kind.dczero, kind.pan) == (False, True, True, True)
    assert "dc_zva" in DC_ZERO and "dc_zva" in EL0_OPS and "dc_zva" not in LS_SYNDROME     # EL0's: test_dc_zva_el0.py


@pytest.mark.parametrize("bs,size", [(0, 4), (4, 64), (9, 2048)])
def test_the_block_is_dczid_bs_words_aligned_down_from_the_va(bs, size):
    assert zva_block_size(replace(regs(), dczid=bs)) == size
    va = BASE + 0x800 + size // 2 + 1 if size > 4 else BASE + 0x803
    done = one(zva(va, dczid=bs))
    assert isinstance(done, Completes) and done.spans == ((PAGE + ((va - BASE) & ~(size - 1)), size),)


def test_dc_zva_needs_write_permission_and_reports_the_registers_va():
    fault = one(zva(BASE + 0x123, leaf=READ_ONLY_EL1))
    assert (fault_of(fault), fault.wnr, fault.cm, fault.far, fault.syndrome) == (("permission", 3), True, False,
                                                                                BASE + 0x123, None)


def test_dc_zva_to_device_memory_is_an_alignment_fault_before_the_permissions():
    for leaf in (DEVICE_PAGE, DEVICE_PAGE | 0b10 << 6):
        fault = one(zva(BASE + 0x40, leaf=leaf))
        assert (fault_of(fault), fault.wnr, fault.far, fault.rule) == (("alignment", None), True, BASE + 0x40,
                                                                       DCZERO_DEVICE_RULE)


def test_dc_zva_aligned_to_normal_memory_has_no_alignment_fault():
    # aligned = TRUE (DataMemZero): the unaligned-access branches never apply, whatever SCTLR_ELx.A.
    direct = s1_translate(replace(regs(), dczid=DCZID_64), memory(chain(BASE, PAGE_DESC | PAGE, 3)),
                          Access("dc_zva", BASE + 0x7))
    assert isinstance(one(direct), Completes)


def test_the_boot_records_dczid_reaches_the_model():
    boot = protocol.parse_record(f"MMUT {protocol.PROTOCOL_VERSION} boot el=1 midr=0x0 mmfr0=0x1122 mmfr1=0x0 "
                                 "mmfr2=0x0 isar0=0x0 dczid=0x4 cases=1")
    ids = features.boot_ids(boot)
    assert ids.dczid == DCZID_64
    assert features.has("dczva64", *ids) and not features.has("dczva64", *ids._replace(dczid=0x14))
    case = next(c for c in load_file(ROOT / "cases" / "access_kinds_dczva.toml") if c.id.endswith("dc_zva_block"))
    assert declared.case_registers(case, ids).dczid == DCZID_64
    predictions = predict_case(case, ids, declared.TABLE_POOL_BASE)
    assert [{o.value for o in predictions[n]} for n in (7, 8, 9, 10)] == \
        [{0x5555_6666_7777_8888}, {0}, {0}, {0x0123_4567_89ab_cdef}]
