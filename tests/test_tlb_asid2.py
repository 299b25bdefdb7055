"""FEAT_ASID2 in the TLB model (harness/model/tlb.py, registers.py): with TCR2_EL1.A2 each VA
range has its own ASID (J1.1.4.48 AArch64.TLBContextEL10; D8.16 R_XPSGZ), a TLBI's scope is
unchanged (I_NWLMM), and TCR2_EL1.FNGn makes a range's translations non-global (J1.1.4.75
AArch64.S1Walk's walkparams.fng; R_KDVGW)."""
from dataclasses import replace

import pytest

from harness.cases import load_file
from harness.model import Completes
from harness.model.registers import TCR2_A2, TCR2_FNG0, TCR2_FNG1, TCR_A1, walk_params
from harness.model.tlb import current_asid
from harness.predict import predict_case
from tests.test_tlb import MAX, REGS

A, B = 0xAAAA, 0xBBBB
LOWER, UPPER = 0x8000_0000, 0xFFFF_0000_8000_0000


@pytest.mark.parametrize("a2, a1, lower, upper", [
    (False, False, 1, 1), (False, True, 2, 2),       # one ASID for both ranges, TCR_EL1.A1's
    (True, False, 1, 2), (True, True, 1, 2),         # A2: each range its TTBR's, A1 ignored
])
def test_the_asid_of_each_va_range(a2, a1, lower, upper):
    regs = replace(REGS, ttbr0=1 << 48, ttbr1=2 << 48, tcr=TCR_A1.mask if a1 else 0, tcr2=TCR2_A2.mask if a2 else 0)
    assert (current_asid(regs, False), current_asid(regs, True)) == (lower, upper)


def test_fng_is_read_per_range_and_not_in_the_el2_regime():
    regs = replace(REGS, tcr2=TCR2_FNG1.mask)
    assert (walk_params(regs, False).fng, walk_params(regs, True).fng) == (False, True)
    regs = replace(REGS, tcr2=TCR2_FNG0.mask)
    assert (walk_params(regs, False).fng, walk_params(regs, True).fng) == (True, False)


def _loads(tmp_path, regime, ng, steps):
    """Pages of both ranges used under TTBR0.ASID 1 and TTBR1.ASID 2, remapped without TLBI, then
    `steps`: the values the model allows for a load of each (lower, upper) afterwards."""
    path = tmp_path / "asid2.toml"
    path.write_text(f'''feature = "asid2 tests"
[case.c]
summary = "s"
requires = ["FEAT_ASID2"]
regime = {regime}
map = [
  {{ va = 0x8010_0000, to = "frame_a", level = 3 }},
  {{ va = 0x8010_1000, to = "frame_b", level = 3 }},
  {{ va = {LOWER:#x}, to = "frame_a", level = 3, ng = {ng} }},
  {{ va = {UPPER:#x}, to = "frame_a", level = 3, ng = {ng} }},
]
steps = [
  {{ do = "store64", va = 0x8010_0000, value = 0xaaaa, expect = "ok" }},
  {{ do = "store64", va = 0x8010_1000, value = 0xbbbb, expect = "ok" }},
  {{ do = "set_ttbr0", asid = 1 }},
  {{ do = "set_ttbr1", asid = 2 }},
  {{ do = "isb" }},
  {{ do = "load64", va = {LOWER:#x}, expect = {{ value = 0xaaaa }} }},
  {{ do = "load64", va = {UPPER:#x}, expect = {{ value = 0xaaaa }} }},
  {{ do = "map", va = {LOWER:#x}, level = 3, to = "frame_b", ng = {ng} }},
  {{ do = "map", va = {UPPER:#x}, level = 3, to = "frame_b", ng = {ng} }},
  {{ do = "dsb" }},
''' + "".join(f"  {s},\n" for s in steps) + f'''  {{ do = "isb" }},
  {{ do = "load64", va = {LOWER:#x}, expect = {{ value = 0xbbbb }} }},
  {{ do = "load64", va = {UPPER:#x}, expect = {{ value = 0xbbbb }} }},
]
''')
    predictions = predict_case(load_file(path)[0], MAX)
    return [{o.value for o in p if isinstance(o, Completes)} for p in predictions[-2:]]


@pytest.mark.parametrize("regime, ng, steps, seen", [
    # A2: a TTBR1 ASID write switches the upper range only, a TTBR0 one the lower only.
    ("{ a2 = true }", "true", ['{ do = "set_ttbr1", asid = 3 }'], [{A, B}, {B}]),
    ("{ a2 = true }", "true", ['{ do = "set_ttbr0", asid = 3 }'], [{B}, {A, B}]),
    # Without A2 (A1 = 0) TTBR0's ASID is both ranges': a TTBR1 write switches nothing, a TTBR0 one both.
    ("{ a1 = false }", "true", ['{ do = "set_ttbr1", asid = 3 }'], [{A, B}, {A, B}]),
    ("{ a1 = false }", "true", ['{ do = "set_ttbr0", asid = 3 }'], [{B}, {B}]),
    # TLBI ASIDE1 removes one ASID's entries, of whichever range (I_NWLMM).
    ("{ a2 = true }", "true", ['{ do = "tlbi_aside1", asid = 2 }', '{ do = "dsb" }'], [{A, B}, {B}]),
    ("{ a2 = true }", "true", ['{ do = "tlbi_aside1", asid = 1 }', '{ do = "dsb" }'], [{B}, {A, B}]),
    # Global pages stay global across a switch, unless FNGn forces their range's translations non-global.
    ("{ a2 = true }", "false", ['{ do = "set_ttbr0", asid = 3 }', '{ do = "set_ttbr1", asid = 4 }'],
     [{A, B}, {A, B}]),
    ("{ a2 = true, fng1 = true }", "false", ['{ do = "set_ttbr0", asid = 3 }', '{ do = "set_ttbr1", asid = 4 }'],
     [{A, B}, {B}]),
    ("{ fng0 = true }", "false", ['{ do = "tlbi_aside1", asid = 1 }', '{ do = "dsb" }'], [{B}, {A, B}]),
])
def test_two_asids_and_forced_non_global_entries(tmp_path, regime, ng, steps, seen):
    assert _loads(tmp_path, regime, ng, steps) == seen
