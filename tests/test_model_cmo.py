"""The model's cache maintenance by VA (DC CIVAC, DC CVAC, DC IVAC: C5.3.21, C5.3.25, C5.3.37; IC IVAU: C5.3.41):
J1.1.4.26 AArch64.S1CheckPermissions' AccessType_DC and AccessType_IC branches (DC IVAC needs write permission at
any EL, the cleans and IC none from EL1, read permission at EL0, IC's at EL0 IMPLEMENTATION DEFINED), their faults'
CM = 1, WnR = 1 and FAR the register's VA (J1.1.3.32 AArch64.DC, J1.1.3.81 AArch64.IC, J1.1.3.1
AArch64.FaultSyndrome), no Alignment fault (aligned = TRUE), the IMPLEMENTATION DEFINED Access flag fault
(J1.1.4.75 AArch64.S1Walk), the NOPs CLIDR_EL1.LoC and CTR_EL0.DIC permit (J1.1.3.34, J1.1.3.82), nothing
read or written, and the boot record's CLIDR_EL1 and CTR_EL0 reaching the model."""
from dataclasses import replace

import pytest

from harness import declared, esr, features, protocol
from harness.cases import load_file
from harness.model import Access, Completes
from harness.model.outcome import Abort
from harness.model.permissions import DIRTY, IC_EL0_RULE, cache_maintenance_permissions
from harness.model.stage2 import full_translate
from harness.model.translate import ACCESS_KINDS, CMO_AF_RULE, DC_NOP_RULE, IC_NOP_RULE
from harness.ops import CACHE_MAINT, EL0_OPS, LS_SYNDROME, NO_VALUE
from harness.predict import predict_case
from suite_run import ROOT
from tests.test_model import AF, DEVICE, PAGE, PAGE_DESC, SH_INNER, VA, chain, fault_of, memory, one, regs

CLIDR_LOC2, CTR_DIC0 = 0x0200_0023, 0x8444_c004       # QEMU 7.2.22 -cpu max's: neither may be a NOP
CLIDR_LOC0, CTR_DIC1 = 0x0000_0123, 0xb444_c004       # QEMU 11.1.3 -cpu max's: both may be
READ_ONLY_EL1 = PAGE_DESC | 0b10 << 6                 # AP[2:1] = 0b10
DEVICE_PAGE = 0b11 | AF | SH_INNER | DEVICE
DC_OPS = ("dc_civac", "dc_cvac", "dc_ivac")


def cmo(op, va=VA + 0x43, leaf=PAGE_DESC, clidr=CLIDR_LOC2, ctr=CTR_DIC0, mapped=True, **flags):
    r = replace(regs(**flags), clidr=clidr, ctr=ctr)
    words = chain(VA, leaf | PAGE, 3) if mapped else chain(VA, 0, 3)
    return full_translate(r, memory(words), Access(op, va))


def assert_cm_abort(outcome, fault, va):
    assert isinstance(outcome, Abort) and fault_of(outcome)[0] == fault
    syndrome = outcome.esr().value
    assert esr.ESR_ISS_CM.get(syndrome) == 1 and esr.ESR_ISS_WNR.get(syndrome) == 1
    assert esr.ESR_ISS_ISV.get(syndrome) == 0 and outcome.far_register().value == va


def test_cache_maintenance_neither_reads_nor_writes_takes_no_value_and_but_dc_ivac_runs_at_el0():
    for op, cacheop in CACHE_MAINT.items():
        kind = ACCESS_KINDS[op]
        assert (kind.read, kind.write, kind.pan, kind.size, kind.cacheop) == (False, False, False, 0, cacheop)
        assert op in NO_VALUE and op not in LS_SYNDROME
        assert (op in EL0_OPS) == (op != "dc_ivac")     # UNDEFINED at EL0 (C5.3.37); the others with SCTLR_EL1.UCI


@pytest.mark.parametrize("op", CACHE_MAINT)
def test_on_a_writable_page_each_completes_and_moves_no_data(op):
    done = one(cmo(op))
    assert isinstance(done, Completes) and done.spans == () and done.pa == PAGE + ((VA + 0x43) & 0xFFF)


@pytest.mark.parametrize("op", ("dc_civac", "dc_cvac", "ic_ivau"))
def test_at_el1_the_cleans_and_ic_need_no_permission(op):
    assert isinstance(one(cmo(op, leaf=READ_ONLY_EL1)), Completes)


def test_dc_ivac_needs_write_permission_cm_and_wnr_1_far_the_registers_va():
    assert_cm_abort(one(cmo("dc_ivac", leaf=READ_ONLY_EL1)), "permission", VA + 0x43)


@pytest.mark.parametrize("op", CACHE_MAINT)
def test_a_translation_fault_has_cm_and_wnr_1_and_far_the_registers_va(op):
    assert_cm_abort(one(cmo(op, mapped=False)), "translation", VA + 0x43)


@pytest.mark.parametrize("op", CACHE_MAINT)
def test_device_memory_at_an_unaligned_va_takes_no_alignment_fault(op):
    assert isinstance(one(cmo(op, va=VA + 0x83, leaf=DEVICE_PAGE)), Completes)


@pytest.mark.parametrize("op", CACHE_MAINT)
def test_af_0_is_an_access_flag_fault_or_none_implementation_defined(op):
    outcomes = cmo(op, leaf=PAGE_DESC & ~AF)
    assert CMO_AF_RULE in outcomes.rule
    faults = [o for o in outcomes if isinstance(o, Abort)]
    assert len(outcomes) == 2 and len(faults) == 1
    assert_cm_abort(faults[0], "access_flag", VA + 0x43)


def test_a_plain_load_with_af_0_still_faults():
    outcomes = cmo("load64", leaf=PAGE_DESC & ~AF)
    assert fault_of(one(outcomes))[0] == "access_flag"


@pytest.mark.parametrize("op", DC_OPS)
def test_dc_to_the_poc_may_be_a_nop_only_where_clidr_loc_is_0(op):
    assert all(isinstance(o, Abort) for o in cmo(op, mapped=False, ctr=CTR_DIC1))
    outcomes = cmo(op, mapped=False, clidr=CLIDR_LOC0)
    assert DC_NOP_RULE in outcomes.rule
    assert {type(o) for o in outcomes} == {Abort, Completes}


def test_ic_ivau_may_be_a_nop_only_where_ctr_dic_is_1():
    assert all(isinstance(o, Abort) for o in cmo("ic_ivau", mapped=False, clidr=CLIDR_LOC0))
    outcomes = cmo("ic_ivau", mapped=False, ctr=CTR_DIC1)
    assert IC_NOP_RULE in outcomes.rule and {type(o) for o in outcomes} == {Abort, Completes}


def test_the_permission_branches_at_el0_and_under_pie():
    def el0(cacheop, at_el0=True):
        return replace(ACCESS_KINDS["dc_cvac"], cacheop=cacheop, el0=at_el0)
    # DC IVAC: write permission at any EL, then (PIE, HD = 0) the dirty state.
    assert cache_maintenance_permissions(el0("invalidate", False), True, False, False)[0][0] is True
    assert cache_maintenance_permissions(el0("invalidate"), True, True, True)[0][0] == DIRTY
    assert cache_maintenance_permissions(el0("invalidate"), False, True, False) == [(False, "")]
    # The cleans: nothing from EL1, read permission at EL0 (SCTLR_EL1.CMOW = 0: not write).
    for cacheop in ("clean", "clean_invalidate"):
        assert cache_maintenance_permissions(el0(cacheop, False), False, False, True) == [(False, "")]
        assert cache_maintenance_permissions(el0(cacheop), False, True, False)[0][0] is True
        assert cache_maintenance_permissions(el0(cacheop), True, False, False) == [(False, "")]
    # IC IVAU: nothing from EL1; at EL0 without read permission IMPLEMENTATION DEFINED.
    assert cache_maintenance_permissions(el0("ic", False), False, False, False) == [(False, "")]
    assert cache_maintenance_permissions(el0("ic"), False, False, False) == [(True, IC_EL0_RULE), (False, IC_EL0_RULE)]
    assert cache_maintenance_permissions(el0("ic"), True, False, False) == [(False, "")]


def test_the_boot_records_clidr_and_ctr_reach_the_model():
    boot = protocol.parse_record(f"MMUT {protocol.PROTOCOL_VERSION} boot el=1 midr=0x0 mmfr0=0x1122 mmfr1=0x0 "
                                 f"mmfr2=0x0 isar0=0x0 dczid=0x4 clidr={CLIDR_LOC2:#x} ctr={CTR_DIC0:#x} cases=1")
    ids = features.boot_ids(boot)
    assert (ids.clidr, ids.ctr) == (CLIDR_LOC2, CTR_DIC0)
    assert features.has("dc_poc_translates", *ids) and features.has("ic_ivau_translates", *ids)
    sid = ids._replace(clidr=CLIDR_LOC0, ctr=CTR_DIC1)
    assert not features.has("dc_poc_translates", *sid) and not features.has("ic_ivau_translates", *sid)
    assert features.fields_text("ic_ivau_translates", sid) == "CTR_EL0.DIC = 0x1"
    case = next(c for c in load_file(ROOT / "cases" / "access_kinds_cmo.toml")
                if c.id.endswith("cmo_moves_no_data[dc_ivac]"))
    r = declared.case_registers(case, ids)
    assert (r.clidr, r.ctr) == (CLIDR_LOC2, CTR_DIC0)
    predictions = predict_case(case, ids, declared.TABLE_POOL_BASE)
    assert {o.value for o in predictions[-1]} == {0x1111_2222_3333_4444}      # DC IVAC wrote nothing


def test_cmow_makes_el0s_dc_civac_and_ic_ivau_need_write_permission():
    def kind(cacheop, at_el0=True):
        return replace(ACCESS_KINDS["dc_cvac"], cacheop=cacheop, el0=at_el0)
    # J1.1.4.26 with walkparams.cmow: after the read checks, DC CIVAC and IC IVAU need write (under PIE, a dirty
    # location); DC CVAC does not.
    faults = cache_maintenance_permissions(kind("clean_invalidate"), True, False, False, cmow=True)
    assert faults[0][0] is True and "CMOW" in faults[0][1]
    assert cache_maintenance_permissions(kind("clean_invalidate"), True, True, True, cmow=True)[0][0] == DIRTY
    assert cache_maintenance_permissions(kind("clean"), True, False, False, cmow=True) == [(False, "")]
    assert cache_maintenance_permissions(kind("ic"), True, False, False, cmow=True)[0][0] is True
    # IC IVAU without read permission: the IMPLEMENTATION DEFINED fault, or else CMOW's: a fault either way.
    assert {f for f, _ in cache_maintenance_permissions(kind("ic"), False, False, False, cmow=True)} == {True}


EL0_READ_ONLY = PAGE_DESC | 0b11 << 6      # AP[2:1] = 0b11
MMFR1_CMOW = 1 << features.CMOW
SCTLR_CMOW = 1 << 32


@pytest.mark.parametrize("op", ("dc_civac", "ic_ivau"))
def test_sctlr_cmow_faults_el0_on_a_read_only_page_with_feat_cmow_alone(op):
    def run(el, mmfr1, sctlr_cmow=SCTLR_CMOW):
        base = regs()
        r = replace(base, clidr=CLIDR_LOC2, ctr=CTR_DIC0, mmfr1=base.mmfr1 | mmfr1, sctlr=base.sctlr | sctlr_cmow)
        return full_translate(r, memory(chain(VA, EL0_READ_ONLY | PAGE, 3)), Access(op, VA + 0x43, el=el))
    assert_cm_abort(one(run(0, MMFR1_CMOW)), "permission", VA + 0x43)
    assert isinstance(one(run(0, MMFR1_CMOW, sctlr_cmow=0)), Completes)
    assert isinstance(one(run(0, 0)), Completes)                   # no FEAT_CMOW: SCTLR_EL1 bit 32 is RES0
    assert isinstance(one(run(1, MMFR1_CMOW)), Completes)          # stage 1's CMOW is asked at EL0 alone
