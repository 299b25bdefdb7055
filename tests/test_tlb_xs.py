"""FEAT_XS in the TLB model (harness/model/tlb.py): an nXS TLBI (TLBI VAE1NXS ...) names
the entries its plain form names, but may leave those whose XS attribute is 1 (C5.5;
J1.1.3.449 TLBIMatch's TLBI_ExcludeXS), the XS attribute being S1DecodeMemAttrs' (J1.3.5.15)
for a stage 1 entry and NOT FnXS for a stage 2 one (J1.1.4.79 AArch64.S2Walk)."""
import pytest

from harness.cases import CaseError, load_file
from harness.model import Completes
from harness.model.attributes import s1_xs
from harness.predict import predict_case
from tests.test_tlb import MAX, S2_CASE

A, B = 0xAAAA, 0xBBBB


XS_HCX = '["FEAT_XS", "FEAT_HCX"]'     # HCRX_EL2.FnXS: FEAT_XS's field of FEAT_HCX's register


def _case(tmp_path, mem, steps, requires='["FEAT_XS"]', regime="{}"):
    """0x8000_0000 mapped to frame A as `mem`, remapped to frame B, then `steps`, and a load of it."""
    path = tmp_path / "xs.toml"
    path.write_text(f'''feature = "xs tests"
[case.c]
summary = "s"
requires = {requires}
regime = {regime}
map = [
  {{ va = 0x8010_0000, to = "frame_a", level = 3 }},
  {{ va = 0x8010_1000, to = "frame_b", level = 3 }},
  {{ va = 0x8000_0000, to = "frame_a", level = 3, mem = "{mem}" }},
]
steps = [
  {{ do = "store64", va = 0x8010_0000, value = 0xaaaa, expect = "ok" }},
  {{ do = "store64", va = 0x8010_1000, value = 0xbbbb, expect = "ok" }},
  {{ do = "load64", va = 0x8000_0000, expect = {{ value = 0xaaaa }} }},
  {{ do = "map", va = 0x8000_0000, level = 3, to = "frame_b", mem = "{mem}" }},
  {{ do = "dsb" }},
''' + "".join(f"  {s},\n" for s in steps) + '''  { do = "isb" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } },
]
''')
    return load_file(path)[0]


def last_load(case):
    return {o.value for o in predict_case(case, MAX)[-1] if isinstance(o, Completes)}


@pytest.mark.parametrize("attr, xs", [
    (0xFF, False), (0xEE, False), (0x40, False), (0xA0, False),         # Write-Back; FEAT_XS's NC and WT
    (0x44, True), (0xBB, True), (0x4F, True),                            # Non-cacheable, Write-Through, mixed
    (0x00, True), (0x04, True), (0x0C, True), (0x01, False), (0x0D, False),   # Device: NOT Attr<0>
    (0x02, None), (0x70, None),                                          # reserved: any allocated encoding
])
def test_the_xs_attribute_of_a_mair_encoding(attr, xs):
    # S1DecodeMemAttrs (J1.3.5.15): memattrs.xs; D8.7.4's list of the encodings with XS = 0.
    assert s1_xs(attr) is xs


@pytest.mark.parametrize("mem, tlbi, seen", [
    ("normal", '{ do = "tlbi_vae1nxs", va = 0x8000_0000 }', {B}),        # XS = 0: removed as by VAE1
    ("normal", '{ do = "tlbi_vmalle1isnxs" }', {B}),
    ("normal", '{ do = "tlbi_vaale1nxs", va = 0x8000_0000 }', {B}),
    ("normal_nc", '{ do = "tlbi_vae1nxs", va = 0x8000_0000 }', {A, B}),  # XS = 1: may stay
    ("device_ngnre", '{ do = "tlbi_vmalle1nxs" }', {A, B}),
    ("normal_wt", '{ do = "tlbi_vaae1isnxs", va = 0x8000_0000 }', {A, B}),
    ("normal_nc", '{ do = "tlbi_vae1", va = 0x8000_0000 }', {B}),        # the plain form removes it
    ("normal_nc", '{ do = "tlbi_vae1nxs", va = 0x8000_1000 }', {A, B}),  # another page
])
def test_an_nxs_tlbi_may_leave_entries_whose_xs_attribute_is_1(tmp_path, mem, tlbi, seen):
    assert last_load(_case(tmp_path, mem, [tlbi, '{ do = "dsb" }'])) == seen


def test_a_range_nxs_tlbi_needs_both_features(tmp_path):
    tlbi = ['{ do = "tlbi_rvae1nxs", va = 0x8000_0000 }', '{ do = "dsb" }']
    with pytest.raises(CaseError, match="needs FEAT_TLBIRANGE"):
        _case(tmp_path, "normal", tlbi)
    with pytest.raises(CaseError, match="needs FEAT_XS"):
        _case(tmp_path, "normal", tlbi, requires='["FEAT_TLBIRANGE"]')
    assert last_load(_case(tmp_path, "normal", tlbi, requires='["FEAT_XS", "FEAT_TLBIRANGE"]')) == {B}


@pytest.mark.parametrize("maintenance, seen", [
    # A stage 2 entry with FnXS = 0 has XS = 1: IPAS2E1NXS and VMALLS12E1NXS may leave it.
    (['{ do = "tlbi_ipas2e1nxs", ipa = 0x8000_0000 }', '{ do = "dsb" }', '{ do = "tlbi_vmalle1" }', '{ do = "dsb" }'],
     {A, B}),
    (['{ do = "tlbi_vmalls12e1nxs" }', '{ do = "dsb" }'], {A, B}),
    (['{ do = "tlbi_vmalls12e1" }', '{ do = "dsb" }'], {B}),
])
def test_a_stage_2_entry_s_xs_attribute_is_not_fnxs(tmp_path, maintenance, seen):
    path = tmp_path / "s2.toml"
    path.write_text(S2_CASE.replace('requires = ["FEAT_TLBIRANGE"]', 'requires = ["FEAT_XS"]')
                    + "".join(f"  {s},\n" for s in maintenance)
                    + '  { do = "isb" },\n  { do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } },\n]\n')
    assert {o.value for o in predict_case(load_file(path)[0], MAX)[-1] if isinstance(o, Completes)} == seen



@pytest.mark.parametrize("mem, tlbi, seen", [
    ("normal", '{ do = "tlbi_vae1", va = 0x8000_0000 }', {B}),           # XS = 0: removed whatever FnXS
    ("normal_nc", '{ do = "tlbi_vae1", va = 0x8000_0000 }', {A, B}),     # XS = 1: the plain form is nXS now
    ("normal_nc", '{ do = "tlbi_vmalle1is" }', {A, B}),
    ("device_ngnre", '{ do = "tlbi_vaale1", va = 0x8000_0000 }', {A, B}),
])
def test_hcrx_fnxs_makes_el1s_plain_tlbis_their_nxs_forms(tmp_path, mem, tlbi, seen):
    """HCRX_EL2.FnXS = 1 (D24.2.63; C5.5's TLBI pseudocode: TLBI_ExcludeXS): a plain TLBI at EL1 may leave an
    entry whose XS attribute is 1; without FnXS the same TLBI removes it."""
    assert last_load(_case(tmp_path, mem, [tlbi, '{ do = "dsb" }'], requires=XS_HCX, regime="{ fnxs = true }")) == seen
    assert last_load(_case(tmp_path, mem, [tlbi, '{ do = "dsb" }'])) == {B}


def test_fnxs_is_a_regime_key_needing_feat_xs_and_feat_hcx_and_el1_steps(tmp_path):
    assert _case(tmp_path, "normal", [], requires=XS_HCX, regime="{ fnxs = true }").boot == "stage2"  # FnXS needs EL2
    with pytest.raises(CaseError, match="needs FEAT_XS"):
        _case(tmp_path, "normal", [], requires="[]", regime="{ fnxs = true }")
    # HCRX_EL2 is FEAT_HCX's: without it the kernel cannot set FnXS, where the model takes it as set.
    with pytest.raises(CaseError, match="needs FEAT_HCX"):
        _case(tmp_path, "normal", [], regime="{ fnxs = true }")
