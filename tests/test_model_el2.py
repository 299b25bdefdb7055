"""The reference model's EL2 regime (HCR_EL2.E2H = 0, the ASL's Regime_EL2):
TCR_EL2's and SCTLR_EL2's own layouts, one VA range, permissions where
HasUnprivileged(regime) is FALSE, and TLB entries with no ASID; each test's
comment names the ASL function or rule.  The EL1&0 reading of the same bits
is checked next to it, so a regime mix-up shows."""
import pytest

from harness import declared
from harness.cases import CaseError, load_file
from harness.model import Abort, Completes, Registers
from harness.predict import predict_case
from harness.model.registers import (
    REGIME_EL2, SCTLR_EL2_RES1, SCTLR_WXN, TCR_EL2_HPD, TCR_EL2_PS, TCR_EL2_RES1, TCR_EL2_T0SZ, TCR_EL2_TBI,
    walk_params,
)
from harness.model.tlb import Entry, Invalidation
from tests.test_model import _case as model_case
from tests.test_model import (
    AF, MAIR, MMFR0_48, PAGE, PAGE_DESC, ROOT, SCTLR, VA, chain, fault_of, memory, one, regs, translate,
)

XN, BIT53, XNTABLE, PXNTABLE = 1 << 54, 1 << 53, 1 << 60, 1 << 59
AP_RO_EL1, AP_RW_ALL, AP_RO_ALL = 0b10 << 6, 0b01 << 6, 0b11 << 6
APTABLE_RO, APTABLE_NO_EL0 = 0b10 << 61, 0b01 << 61


def el2_regs(t0sz=16, ps=0b101, sctlr=SCTLR, mmfr1=0, **flags):
    """TCR_EL2 (E2H = 0) for a 4K granule: T0SZ, PS at [18:16], SH0 inner, RES1 bits; flags: TBI, HPD."""
    tcr = TCR_EL2_RES1 | t0sz << TCR_EL2_T0SZ.shift | ps << TCR_EL2_PS.shift | 3 << 12
    for field, on in (("tbi", TCR_EL2_TBI), ("hpd", TCR_EL2_HPD)):
        tcr |= on.mask if flags.get(field) else 0
    return Registers(tcr=tcr, mair=MAIR, sctlr=SCTLR_EL2_RES1 | sctlr, ttbr0=ROOT, ttbr1=0, mmfr0=MMFR0_48,
                     mmfr1=mmfr1, regime=REGIME_EL2)


def test_tcr_el2_layout():
    # AArch64.GetS1TTWParams(Regime_EL2): PS at [18:16] (IPS at [34:32] is TCR_EL1's), TBI at bit 20, one range.
    p = walk_params(el2_regs(t0sz=24, ps=0b010, tbi=True), False)
    assert (p.txsz, p.oasize, p.tbi, p.epd, p.two_ranges, p.unprivileged, p.pan) == (24, 40, True, False, False,
                                                                                      False, False)
    assert walk_params(el2_regs(ps=0b000), False).oasize == 32


def test_ps_gives_address_size_faults():
    # AArch64.S1Walk, AArch64.OAOutOfRange with TCR_EL2.PS = 32 bits: an OA of 2^32 faults at the leaf's level.
    mem = memory(chain(VA, 1 << 32 | PAGE_DESC, 3))
    assert fault_of(one(translate(el2_regs(ps=0b000), mem, "load64", VA))) == ("address_size", 3)
    assert isinstance(one(translate(el2_regs(), mem, "load64", VA & ~7)), Completes)


def test_one_va_range():
    # AArch64.VAIsOutOfRange: a regime without two ranges has only the lower; VA bit 55 set is out of range.
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3))
    upper = 0xFFFF_0000_8000_0120
    assert {fault_of(o)[0] for o in translate(el2_regs(), mem, "load64", upper)} == {"translation"}
    # With TBI the tag is ignored but bit 55 still is an address bit of the one range.
    assert isinstance(one(translate(el2_regs(tbi=True), mem, "load64", 0x5A00_0000_8000_0120)), Completes)
    assert {fault_of(o)[0] for o in translate(el2_regs(tbi=True), mem, "load64", 0x0080_0000_8000_0120)} \
        == {"translation"}


@pytest.mark.parametrize("ap, writable", [(0, True), (AP_RW_ALL, True), (AP_RO_EL1, False), (AP_RO_ALL, False)])
def test_ap1_is_not_read(ap, writable):
    # AArch64.S1ApplyOutputPerms: ap<2:1> = desc<7>:'1' where HasUnprivileged is FALSE: AP[2] alone decides.
    mem = memory(chain(VA, PAGE | PAGE_DESC | ap, 3))
    store = one(translate(el2_regs(), mem, "store64", VA & ~7))
    assert isinstance(store, Completes) == writable
    assert isinstance(one(translate(el2_regs(), mem, "load64", VA & ~7)), Completes)


@pytest.mark.parametrize("bits, executes", [(0, True), (BIT53, True), (XN, False), (AP_RW_ALL, True)])
def test_xn_is_bit_54(bits, executes):
    # AArch64.S1ApplyOutputPerms: xn = desc<54>, desc<53> RES0; no uw to take execution away (EL1&0: px = NOT uw).
    mem = memory(chain(VA, PAGE | PAGE_DESC | bits, 3))
    fetch = one(translate(el2_regs(), mem, "fetch", VA & ~3))
    assert isinstance(fetch, Completes) == executes
    if bits in (BIT53, AP_RW_ALL):      # EL1 reads the same descriptor as PXN, or as EL0-writable
        assert isinstance(one(translate(regs(), mem, "fetch", VA & ~3)), Abort)


@pytest.mark.parametrize("table, store_ok, fetch_ok", [
    (APTABLE_RO, False, True), (APTABLE_NO_EL0, True, True), (PXNTABLE, True, True), (XNTABLE, True, False),
])
def test_table_attributes(table, store_ok, fetch_ok):
    # AArch64.S1ApplyTablePerms: ap_table = desc<62>:'0', xn_table = desc<60> (PXNTable RES0).
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3, tables={1: table}))
    assert isinstance(one(translate(el2_regs(), mem, "store64", VA & ~7)), Completes) == store_ok
    assert isinstance(one(translate(el2_regs(), mem, "fetch", VA & ~3)), Completes) == fetch_ok
    # TCR_EL2.HPD (FEAT_HPDS: ID_AA64MMFR1_EL1.HPDS = 1) disables both.
    hpd = el2_regs(hpd=True, mmfr1=1 << 12)
    assert isinstance(one(translate(hpd, mem, "store64", VA & ~7)), Completes)
    assert isinstance(one(translate(hpd, mem, "fetch", VA & ~3)), Completes)


def test_wxn():
    # AArch64.S1DirectBasePermissions: x = x AND NOT(wxn AND w), SCTLR_EL2.WXN.
    mem = memory(chain(VA, PAGE | PAGE_DESC, 3))
    wxn = el2_regs(sctlr=SCTLR | SCTLR_WXN.mask)
    assert fault_of(one(translate(wxn, mem, "fetch", VA & ~3))) == ("permission", 3)
    ro = memory(chain(VA, PAGE | PAGE_DESC | AP_RO_ALL, 3))
    assert isinstance(one(translate(wxn, ro, "fetch", VA & ~3)), Completes)


def test_at_s1e2():
    # AArch64.AT for AT S1E2R/W: the EL2 regime's read or write permission, reported in PAR_EL1.
    mem = memory(chain(VA, PAGE | PAGE_DESC | AP_RO_ALL, 3))
    assert one(translate(el2_regs(), mem, "at_s1e2r", VA)).value & 1 == 0
    assert fault_of(one(translate(el2_regs(), mem, "at_s1e2w", VA))) == ("permission", 3)
    unmapped = memory(chain(VA, 0, 3))
    assert fault_of(one(translate(el2_regs(), unmapped, "at_s1e2r", VA))) == ("translation", 3)
    no_af = memory(chain(VA, PAGE | PAGE_DESC & ~AF, 3))
    assert fault_of(one(translate(el2_regs(), no_af, "at_s1e2r", VA))) == ("access_flag", 3)


def test_tlb_entries_have_no_asid_and_name_their_regime():
    # The EL2 regime has no ASID: an nG entry is removed by TLBI VAE2 like a global one, whatever ASID it was made
    # under; a TLBI of EL1&0 (VMALLE1, VAAE1) leaves it, and TLBI VAE2 leaves EL1&0's.
    mem = memory(chain(VA, PAGE | PAGE_DESC | 1 << 11, 3))
    def leaf_held(entry, asids):
        return entry.usable(VA, asids, {0})[0]

    everything_el2 = Invalidation(None, None, None, True, regime=REGIME_EL2)
    for inv, removed in ((Invalidation.by_va(VA, None, regime=REGIME_EL2), True), (everything_el2, True),
                         (Invalidation(None, None, None, True), False), (Invalidation.by_va(VA, None), False)):
        assert leaf_held(Entry(el2_regs(), mem, [(1, inv)]), {0}) != removed, inv
    assert leaf_held(Entry(el2_regs(), mem), {5})
    el1 = memory(chain(VA, PAGE | PAGE_DESC, 3))
    assert leaf_held(Entry(regs(), el1, [(1, Invalidation.by_va(VA, None, regime=REGIME_EL2))]), {0})


def _case(tmp_path, body):
    return model_case(tmp_path, '[case.c]\nsummary = "s"\nel2 = "nvhe"\n' + body)


def test_declared_registers_and_kernel_mappings(tmp_path):
    # mmu.c for the EL2 regime: TCR_EL2's layout and RES1 bits, SCTLR_EL2's RES1 bits; tables.c kernel_el2: the
    # kernel's code without XN, AP[1] = 1.
    case = _case(tmp_path, 'regime = { ips = 40, tbi0 = true }\nmap = [ { va = 0x8000_0000, to = "f", level = 3 } ]\n'
                           'steps = [ { do = "load64", va = 0x8000_0000, expect = { value = 0 } } ]\n')
    r = declared.case_registers(case, (MMFR0_48, 0, 0, 0))
    assert r.regime == REGIME_EL2 and r.ttbr1 == 0
    assert r.tcr & TCR_EL2_RES1 == TCR_EL2_RES1 and TCR_EL2_PS.get(r.tcr) == 0b010 and TCR_EL2_TBI.get(r.tcr)
    assert r.sctlr & SCTLR_EL2_RES1 == SCTLR_EL2_RES1
    mem, ttbr0, _ = declared.declared_memory(case)
    kernel_code = 0x4008_0000
    fetch = one(translate(r, mem, "fetch", kernel_code))
    assert isinstance(fetch, Completes), fetch


def test_stale_el2_entry_until_tlbi_vae2(tmp_path):
    case = _case(tmp_path, '''map = [ { va = 0x8000_0000, to = "a", level = 3 }, { va = 0x8010_0000, to = "b", level = 3 } ]
steps = [
  { do = "load64", va = 0x8000_0000, expect = { value = 0 } },
  { do = "map", va = 0x8000_0000, level = 3, to = "b" },
  { do = "dsb" }, { do = "isb" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0 } },
  { do = "tlbi_vmalle1" }, { do = "dsb" }, { do = "isb" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0 } },
  { do = "tlbi_vae2", va = 0x8000_0000 }, { do = "dsb" }, { do = "isb" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0 } },
]
''')
    predictions = predict_case(case, (MMFR0_48, 0, 0, 0))
    pas = [{o.pa for o in predictions[n] if isinstance(o, Completes)} for n in (4, 8, 12)]
    frame_a, frame_b = case.maps[0].pa, case.maps[1].pa
    assert pas == [{frame_a, frame_b}, {frame_a, frame_b}, {frame_b}]
    # Where both may be held, a TLB conflict abort too (D8.17.1), taken to EL2 from EL2.
    assert [{o.fsc for o in predictions[n] if isinstance(o, Abort)} for n in (4, 8, 12)] == [{0b110000}, {0b110000}, set()]


@pytest.mark.parametrize("body, field", [
    ('regime = { t1sz = 20 }\nsteps = [ { do = "load64", va = 0x8000_0000, expect = "ok" } ]\n', "regime.t1sz"),
    ('steps = [ { do = "load64", el = 0, va = 0x8000_0000, expect = "ok" } ]\n', "steps[0].el"),
    ('steps = [ { do = "at_s1e1r", va = 0x8000_0000, expect = { pa = 0 } } ]\n', "steps[0].do"),
    ('steps = [ { do = "tlbi_aside1", asid = 1 } ]\n', "steps[0].do"),
    ('steps = [ { do = "set_ttbr0", asid = 1 } ]\n', "steps[0].asid"),
    ('map = [ { va = 0xffff_0000_8000_0000, to = "f", level = 3 } ]\n'
     'steps = [ { do = "load64", va = 0x8000_0000, expect = "ok" } ]\n', "map[0].va"),
    ('regime = { t0sz = 40 }\nsteps = [ { do = "load64", va = 0x8000, expect = "ok" } ]\n', "regime.t0sz"),
])
def test_el2_case_refuses_what_the_regime_has_not(tmp_path, body, field):
    with pytest.raises(CaseError) as e:
        _case(tmp_path, body)
    assert e.value.where == field, e.value


def test_el2_ops_need_an_el2_case(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('feature = "x"\n[case.c]\nsummary = "s"\nsteps = [ { do = "tlbi_alle2" } ]\n')
    with pytest.raises(CaseError, match="needs el2") as e:
        load_file(path)
    assert e.value.where == "steps[0]"
    path.write_text('feature = "x"\n[case.c]\nsummary = "s"\nel2 = "vhe2"\nsteps = [ { do = "isb" } ]\n')
    with pytest.raises(CaseError, match="not one of") as e:
        load_file(path)
    assert e.value.where == "el2"
