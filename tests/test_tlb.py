"""The TLB model (harness/model/tlb.py) through predict_case, and the verdicts on
stale translations: the suite accepts an old translation exactly where the
architecture permits one, and fails a run that shows one where it does not."""

from dataclasses import replace

import pytest

from harness import declared, esr, par
from harness.cases import CaseError, load_file
from harness.esr import EC
from harness.model import Abort, Completes, Outcomes, Par
from harness.predict import predict_case
from harness.model.registers import REGIME_EL2, REGIME_EL10, REGIME_EL20, Registers
from harness.model.tlb import Invalidation, current_vmid, tlbi_range, tlbi_regime
from harness.observation import observe
from harness.oracle import expectation_agrees, observation_allowed, unjudged
from harness.protocol import parse_record
from harness.verdict import judge_step

MAX = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120)
REGS = Registers(tcr=0, mair=0, sctlr=0, ttbr0=0, ttbr1=0, mmfr0=MAX[0], mmfr1=MAX[1], mmfr2=MAX[2])  # 4K, 8-bit ASIDs
A, B = 0xAAAA, 0xBBBB

MAPS = '''map = [
  { va = 0x8010_0000, to = "frame_a", level = 3 },
  { va = 0x8010_1000, to = "frame_b", level = 3 },
  { va = 0x8000_0000, to = "frame_a", level = 3, ng = NG },
]
'''
FILL = '''  { do = "store64", va = 0x8010_0000, value = 0xaaaa, expect = "ok" },
  { do = "store64", va = 0x8010_1000, value = 0xbbbb, expect = "ok" },
  { do = "map", va = 0x8000_0000, level = 3, to = "frame_b", ng = NG },
'''


def _case(tmp_path, steps, ng=False, el2=False):
    """Frames A and B filled, 0x8000_0000 remapped from A to B, then `steps` (TOML lines),
    each load of 0x8000_0000 expecting either frame: the model decides.  el2: at EL2 in the
    EL2&0 regime."""
    either = '{ one_of = [ { value = 0xaaaa }, { value = 0xbbbb } ] }'
    host = 'el2 = "vhe"\nrequires = ["FEAT_VHE"]\n' if el2 else ""
    text = ('feature = "tlb tests"\n[case.c]\nsummary = "s"\n' + host + MAPS.replace("NG", str(ng).lower())
            + "steps = [\n" + FILL.replace("NG", str(ng).lower())
            + "".join(f"  {s.replace('EITHER', either)},\n" for s in steps) + "]\n")
    path = tmp_path / "tlb.toml"
    path.write_text(text)
    return load_file(path)[0]


def loads(case):
    """The values the model allows for each load of the remapped VA, in order."""
    out = []
    for step, outcomes in zip(case.steps, predict_case(case, MAX)):
        if step.op == "load64" and step.va == 0x8000_0000:
            out.append({o.value for o in outcomes if isinstance(o, Completes)})
    return out


LOAD = '{ do = "load64", va = 0x8000_0000, expect = EITHER }'
DSB, ISB = '{ do = "dsb" }', '{ do = "isb" }'


@pytest.mark.parametrize("maintenance, seen", [
    ([DSB, ISB], {A, B}),                                               # no TLBI: old or new
    ([DSB, '{ do = "tlbi_vae1", va = 0x8000_0000 }', DSB, ISB], {B}),   # the right sequence
    ([DSB, '{ do = "tlbi_vae1", va = 0x8000_0000 }', ISB], {A, B}),     # TLBI not completed by a DSB
    (['{ do = "tlbi_vae1", va = 0x8000_0000 }', DSB, ISB], {A, B}),     # the write not seen by walks before the TLBI
    ([DSB, '{ do = "tlbi_vae1", va = 0x8000_1000 }', DSB, ISB], {A, B}),  # another page
    ([DSB, '{ do = "tlbi_aside1", asid = 0 }', DSB, ISB], {A, B}),      # by ASID: global entries stay
    ([DSB, '{ do = "tlbi_vmalle1" }', DSB, ISB], {B}),
])
def test_what_a_global_page_may_translate_to_after_its_maintenance(tmp_path, maintenance, seen):
    assert loads(_case(tmp_path, maintenance + [LOAD])) == [seen]


@pytest.mark.parametrize("tlbi, seen", [
    ('{ do = "tlbi_vae2", va = 0x8000_0000 }', {B}),
    ('{ do = "tlbi_vale2is", va = 0x8000_0000 }', {B}),
    ('{ do = "tlbi_vae1", va = 0x8000_0000 }', {B}),      # at EL2 with E2H = TGE = 1: the EL2&0 regime
    ('{ do = "tlbi_vmalle1" }', {B}),
    ('{ do = "tlbi_vae2", va = 0x8000_1000 }', {A, B}),   # another page
])
def test_tlbi_at_el2_in_the_el20_regime(tmp_path, tlbi, seen):
    assert loads(_case(tmp_path, [DSB, tlbi, DSB, ISB, LOAD], el2=True)) == [seen]


def _regs(regime):
    return Registers(tcr=0, mair=0, sctlr=0, ttbr0=0, ttbr1=0, mmfr0=MAX[0], mmfr1=MAX[1], mmfr2=MAX[2],
                     regime=regime)


def test_a_tlbi_of_another_regime_removes_none_of_the_entries():
    page = (0x8000_0000, 0x1000, 12, 3, 0, True)        # a global page entry of ASID 0
    assert not Invalidation(None, None, None, True, regime=REGIME_EL10).removes(*page, _regs(REGIME_EL20))
    assert Invalidation(None, None, None, True, regime=REGIME_EL20).removes(*page, _regs(REGIME_EL20))


@pytest.mark.parametrize("op, steps_regime, regime", [
    ("tlbi_vae1", REGIME_EL10, REGIME_EL10),
    ("tlbi_vae1", REGIME_EL20, REGIME_EL20),        # at EL2, ELIsInHost(EL0)
    ("tlbi_vae1", REGIME_EL2, REGIME_EL10),         # at EL2 with E2H = 0: EL1&0's
    ("tlbi_rvae1is", REGIME_EL20, REGIME_EL20),
    ("tlbi_vmalle1", REGIME_EL20, REGIME_EL20),
    ("tlbi_vae2is", REGIME_EL20, REGIME_EL20),      # ELIsInHost(EL2)
    ("tlbi_vale2", REGIME_EL2, REGIME_EL2),
    ("tlbi_rvae2", REGIME_EL2, REGIME_EL2),         # TLBI RVAE2: else Regime_EL2
    ("tlbi_rvale2is", REGIME_EL20, REGIME_EL20),    # if ELIsInHost(EL2) then Regime_EL20
])
def test_the_regime_a_tlbi_invalidates(op, steps_regime, regime):
    assert tlbi_regime(op, _regs(steps_regime)) == regime


def test_el2s_tlbi_by_va_takes_an_asid_in_the_el20_regime_only():
    xt = 5 << 48 | 0x8000_0000 >> 12
    assert Invalidation.of("tlbi_vae2", xt, _regs(REGIME_EL20)).asid == 5
    assert Invalidation.of("tlbi_vae2", xt, _regs(REGIME_EL2)).asid is None
    assert Invalidation.of("tlbi_rvae2", xt, _regs(REGIME_EL20)).asid == 5
    assert Invalidation.of("tlbi_rvae2", xt, _regs(REGIME_EL2)).asid is None


def test_ng_entries_belong_to_their_asid(tmp_path):
    steps = [DSB, '{ do = "set_ttbr0", asid = 2 }', ISB, LOAD,          # ASID 2 never saw the old page
             '{ do = "tlbi_vae1", va = 0x8000_0000, asid = 2 }', DSB,  # removes none of ASID 0's
             '{ do = "set_ttbr0", asid = 0 }', ISB, LOAD,
             '{ do = "tlbi_aside1", asid = 0 }', DSB, ISB, LOAD]
    assert loads(_case(tmp_path, steps, ng=True)) == [{B}, {A, B}, {B}]


def test_a_register_write_is_seen_after_an_isb(tmp_path):
    # Before the ISB, the ASID switch may not be in effect: ASID 0's stale nG entry may be used.
    steps = [DSB, '{ do = "set_ttbr0", asid = 2 }', LOAD, ISB, LOAD]
    assert loads(_case(tmp_path, steps, ng=True)) == [{A, B}, {B}]


def test_a_faulting_translation_is_never_cached(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text('''feature = "f"
[case.c]
summary = "s"
map = [ { va = 0x8010_0000, to = "frame_a", level = 3 }, { va = 0x8000_0000, to = "frame_a", level = 3, af = false } ]
steps = [
  { do = "load64", va = 0x8000_0000, expect = { fault = "access_flag", level = 3 } },
  { do = "protect", va = 0x8000_0000, level = 3 },
  { do = "dsb" }, { do = "isb" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0 } },
]
''')
    case = load_file(path)[0]
    *_, last = predict_case(case, MAX)
    assert {type(o) for o in last} == {Completes}


def step_record(n, value):
    return observe(parse_record(f"MMUT 6 step n={n} va=0x80000000 result=ok value={value:#x}"))


def test_the_suite_accepts_a_stale_translation_only_where_it_is_permitted(tmp_path):
    """QEMU keeps TLB entries until a TLBI: a stale value where the architecture permits
    one passes both the case and the model; after TLBI + DSB + ISB it fails both."""
    case = _case(tmp_path, [DSB, ISB, LOAD, '{ do = "tlbi_vae1", va = 0x8000_0000 }', DSB, ISB,
                            '{ do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } }'])
    outcomes = predict_case(case, MAX)
    permitted, forbidden = [n for n, s in enumerate(case.steps) if s.op == "load64"]
    for n in (permitted, forbidden):
        new = step_record(n, B)
        assert judge_step(n, case.steps[n], new).ok and not observation_allowed(case.steps[n], outcomes[n], new)
    stale = step_record(permitted, A)
    assert judge_step(permitted, case.steps[permitted], stale).ok
    assert not observation_allowed(case.steps[permitted], outcomes[permitted], stale)
    stale = step_record(forbidden, A)
    assert judge_step(forbidden, case.steps[forbidden], stale).problems == ("expected value 0xbbbb; got 0xaaaa",)
    assert observation_allowed(case.steps[forbidden], outcomes[forbidden], stale)


def test_a_descriptor_step_below_a_block_is_refused_naming_it(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('''feature = "f"
[case.c]
summary = "s"
map = [ { va = 0x8020_0000, to = "big", level = 2 } ]
steps = [ { do = "map", va = 0x8020_1000, level = 3, to = "big" } ]
''')
    with pytest.raises(CaseError, match=r"case 'c': field 'steps': a descriptor step's slot cannot be reached: "
                                        r"occupied: a leaf or raw descriptor above 0x80201000 at level 2"):
        load_file(path)


@pytest.mark.parametrize("stage2, steps, message", [
    # kernel/fixup.c repairs stage 1 faults taken to EL1 only.
    ('stage2 = { t0sz = 24 }', '{ do = "load64", va = 0x8000_0000, expect = { fault = "translation", level = 3 }, '
     'fixup = { kind = "map", level = 3, to = "frame0" }, retry = "ok" }',
     r"field 'steps\[0\]\.fixup': a fix-up under stage 2 is not supported"),
    ('', '{ do = "tlbi_ipas2e1", ipa = 0x8000_0000 }', r"field 'steps\[0\]': tlbi_ipas2e1 changes stage 2 or is "
     r"EL2's: it needs a \[stage2\] table"),
    ('', '{ do = "s2_unmap", ipa = 0x8000_0000, level = 3 }', r"field 'steps\[0\]': s2_unmap .* needs a \[stage2\]"),
    # Until an ISB the TLBI may use the old VMID or the new.
    ('stage2 = { t0sz = 24 }', '{ do = "set_vmid", vmid = 2 }, { do = "dsb" }, { do = "tlbi_vmalle1" }',
     r"field 'steps\[2\]': tlbi_vmalle1 after a set_vmid needs an isb between them"),
    ('stage2 = { t0sz = 24 }', '{ do = "s2_unmap", ipa = 0x4000_0000, level = 3 }',
     r"field 'steps\[0\]\.ipa': the stage 2 level 3 descriptor for 0x40000000 collides with the kernel's own"),
    ('stage2 = { t0sz = 24 }', '{ do = "s2_unmap", ipa = 0x8000_0000, level = 0 }',
     r"field 'steps\[0\]\.level': level 0 is outside this stage 2's levels 1..3"),
    ('stage2 = { t0sz = 24 }', '{ do = "set_vmid", vmid = 0x1_0000 }', r"field 'steps\[0\]\.vmid': 0x10000 is not"),
    ('stage2 = { t0sz = 24 }', '{ do = "s2_read_desc", ipa = 0x8000_0000, level = 3, expect = { ap = "rw_el1" } }',
     r"field 'steps\[0\]\.expect': an s2_read_desc expects \{ desc = N \} or af, oa, valid"),
])
def test_stage_2_maintenance_is_refused_where_it_cannot_run(tmp_path, stage2, steps, message):
    """Stage 2 steps need a stage 2; a slot of the kernel's own stage 2 mappings is refused, and so is a
    TLBI whose VMID is in doubt."""
    path = tmp_path / "bad.toml"
    path.write_text(f'''feature = "f"
[case.c]
summary = "s"
{stage2}
map = [ {{ va = 0x8000_1000, to = "frame0", level = 3 }} ]
steps = [ {steps} ]
''')
    with pytest.raises(CaseError, match=rf"case 'c': {message}"):
        load_file(path)


# ------------------------------------------------------------------ TLBI by range: the operand, both ways

def _range_step(tmp_path, tlbi, regime=""):
    """The case and the TLBI step of a one-step case running `tlbi` (a TOML inline table)."""
    text = (f'feature = "f"\n[case.c]\nsummary = "s"\nrequires = ["FEAT_TLBIRANGE"]\n{regime}\n'
            f'steps = [ {tlbi} ]\n')
    path = tmp_path / "range.toml"
    path.write_text(text)
    case = load_file(path)[0]
    return case, case.steps[0]


def test_range_operand_fields(tmp_path):
    """ASID[63:48], TG[47:46], SCALE[45:44], NUM[43:39], TTL[38:37], BaseADDR[36:0] = VA[48:12]
    with 4K (Arm ARM C5.5 TLBI RVAE1; Linux's __TLBI_VADDR_RANGE)."""
    case, step = _range_step(tmp_path, '{ do = "tlbi_rvae1", va = 0x8000_0000, asid = 5, num = 3, scale = 2, ttl = 3 }')
    assert declared.tlbi_operand(case, step) == 5 << 48 | 0b01 << 46 | 2 << 44 | 3 << 39 | 3 << 37 | 0x8000_0000 >> 12
    case, step = _range_step(tmp_path, '{ do = "tlbi_rvaae1is", va = 0x8000_0000 }')
    assert declared.tlbi_operand(case, step) == 0b01 << 46 | 0x8000_0000 >> 12


@pytest.mark.parametrize("regime, tg, va, unit", [
    ("", None, 0x8000_0000, 12),
    ('regime = { granule = "16K" }', None, 0x8000_0000, 14),
    ('regime = { granule = "64K" }', None, 0x8000_0000, 16),
    ("", "64K", 0x8000_0000, 16),                             # TG names another granule than the tables'
    ('regime = { ds = true }', None, 0x8000_0000, 16),       # 52-bit addresses: BaseADDR = VA[52:16]
    ("", None, 0xFFFF_FFFF_8000_0000, 12),                   # TTBR1's half: BaseADDR[36] replicated above
])
def test_range_decodes_to_what_was_encoded(tmp_path, regime, tg, va, unit):
    """tlb.tlbi_range (ASL TLBIRange) of declared.tlbi_operand gives back [va, va + range) and the granule."""
    tg_key = f', tg = "{tg}"' if tg else ""
    for num, scale in ((0, 0), (5, 1), (31, 3)):
        case, step = _range_step(tmp_path, f'{{ do = "tlbi_rvae1", va = {va:#x}, num = {num}, scale = {scale}{tg_key} }}',
                                 regime)
        granule = {"4K": 12, "16K": 14, "64K": 16}[tg] if tg else case.regime.tg0
        start, end, got_granule = tlbi_range(declared.tlbi_operand(case, step), case.regime.ds)
        assert (start, got_granule) == (va, granule)
        assert end == min(va + ((num + 1) << (5 * scale + 1 + granule)), va | ((1 << 52) - 1)), "saturated at bit 52"
        assert declared.tlbi_operand(case, step) & ((1 << 37) - 1) == va >> unit & ((1 << 37) - 1)


def test_range_va_must_be_a_multiple_of_its_unit(tmp_path):
    with pytest.raises(CaseError, match=r"steps\[0\].va.*not a multiple of 0x10000"):
        _range_step(tmp_path, '{ do = "tlbi_rvae1", va = 0x8000_1000, tg = "64K" }')
    with pytest.raises(CaseError, match=r"steps\[0\].num.*outside the operand field's 0..31"):
        _range_step(tmp_path, '{ do = "tlbi_rvae1", va = 0x8000_0000, num = 32 }')


def test_range_needs_its_feature(tmp_path):
    path = tmp_path / "range.toml"
    path.write_text('feature = "f"\n[case.c]\nsummary = "s"\nsteps = [ { do = "tlbi_rvae1", va = 0 } ]\n')
    with pytest.raises(CaseError, match="FEAT_TLBIRANGE"):
        load_file(path)


def test_reserved_tg_requires_nothing():
    """TG = 0b00 is reserved: no entry is required to go (the range is empty)."""
    assert tlbi_range(0x8_0000, False) is None
    assert not Invalidation.of("tlbi_rvae1", 0x8_0000, REGS).removes(0x8000_0000, 0x1000, 12, 3, 0, True, REGS)


@pytest.mark.parametrize("op, xt, granule, level, removed", [
    ("tlbi_rvae1", 0b01 << 46 | 0x8_0000, 12, 3, True),               # the page's granule, any level
    ("tlbi_rvae1", 0b11 << 46 | 0x8000, 12, 3, False),                # TG 64K: a 4K entry need not go
    ("tlbi_rvae1", 0b01 << 46 | 3 << 37 | 0x8_0000, 12, 3, True),     # TTL 3: the leaf's level
    ("tlbi_rvae1", 0b01 << 46 | 2 << 37 | 0x8_0000, 12, 3, False),    # TTL 2, a wrong hint: nothing need go
    ("tlbi_rvae1", 0b01 << 46 | 0x8_0002, 12, 3, False),              # the range starts two pages on
])
def test_range_removes(op, xt, granule, level, removed):
    regs = REGS
    assert Invalidation.of(op, xt, regs).removes(0x8000_0000, 0x1000, granule, level, 0, True, regs) == removed


# ------------------------------------------------------------------ walk caches

@pytest.mark.parametrize("op, removes_tables", [("tlbi_vae1", True), ("tlbi_vale1", False), ("tlbi_vaale1is", False),
                                                ("tlbi_vaae1", True), ("tlbi_rvale1", False), ("tlbi_rvae1", True)])
def test_last_level_leaves_table_entries(op, removes_tables):
    """A table entry (global_entry None) goes with an all-levels TLBI by VA or range, never with a last-level one;
    the leaf entry goes with both."""
    regs = REGS
    xt = (0b01 << 46 if op.startswith("tlbi_r") else 0) | 0x8_0000
    inv = Invalidation.of(op, xt, regs)
    assert inv.removes(0x8000_0000, 1 << 21, 12, 3, 0, None, regs) == removes_tables
    assert inv.removes(0x8000_0000, 0x1000, 12, 3, 0, True, regs)


def test_table_entries_belong_to_their_asid():
    regs = REGS
    assert Invalidation.of("tlbi_aside1", 1 << 48, regs).removes(0x8000_0000, 1 << 21, 12, 3, 1, None, regs)
    assert not Invalidation.of("tlbi_aside1", 2 << 48, regs).removes(0x8000_0000, 1 << 21, 12, 3, 1, None, regs)
    assert not Invalidation.of("tlbi_vae1", 2 << 48 | 0x8_0000, regs).removes(0x8000_0000, 1 << 21, 12, 3, 1, None,
                                                                             regs)


LINK_CASE = '''feature = "f"
[case.c]
summary = "s"
map = [
  { va = 0x8040_0000, to = "frame_b", level = 3 },
  { va = 0x8040_1000, to = "frame_c", level = 3 },
  { va = 0x8000_0000, to = "frame_a", level = 3 },
  { va = 0x8020_0000, to = "frame_b", level = 3 },
]
steps = [
  { do = "store64", va = 0x8040_0000, value = 0xbbbb, expect = "ok" },
  { do = "store64", va = 0x8040_1000, value = 0xcccc, expect = "ok" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0 } },
  { do = "map", va = 0x8000_0000, level = 3, to = "frame_c" },
  { do = "link", va = 0x8000_0000, level = 2, table_of = 0x8020_0000 },
  { do = "dsb" },
  { do = "OP", va = 0x8000_0000 },
  { do = "dsb" },
  { do = "isb" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } },
]
'''


@pytest.mark.parametrize("op, seen", [("tlbi_vale1", {0xCCCC, 0xBBBB}), ("tlbi_vae1", {0xBBBB})])
def test_walk_through_a_cached_table_descriptor(tmp_path, op, seen):
    """After a level 2 table descriptor is pointed at another table, a last-level TLBI leaves the old table
    descriptor cached: the walk reads the old level 3 table as it is now (frame_c), never the removed leaf
    entry's frame_a (0); an all-levels TLBI leaves only the new table (frame_b)."""
    path = tmp_path / "link.toml"
    path.write_text(LINK_CASE.replace("OP", op))
    case = load_file(path)[0]
    last = predict_case(case, MAX)[-1]
    assert {o.value for o in last if isinstance(o, Completes)} == seen


S2_LINK1_CASE = '''feature = "f"
[case.c]
summary = "s"
stage2 = { t0sz = 24 }
map = [
  { va = 0x8040_0000, to = 0x8040_0000, level = 3 },
  { va = 0x8040_1000, to = 0x8040_1000, level = 3 },
  { va = 0x8000_0000, to = 0x8000_0000, level = 3 },
  { va = 0x8020_0000, to = 0x8040_0000, level = 3 },
]
s2map = [
  { ipa = 0x8040_0000, to = "frame_b", level = 3 },
  { ipa = 0x8040_1000, to = "frame_c", level = 3 },
  { ipa = 0x8000_0000, to = "frame_a", level = 3 },
]
steps = [
  { do = "store64", va = 0x8040_0000, value = 0xbbbb, expect = "ok" },
  { do = "store64", va = 0x8040_1000, value = 0xcccc, expect = "ok" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0 } },
  { do = "map", va = 0x8000_0000, level = 3, to = 0x8040_1000 },
  { do = "link", va = 0x8000_0000, level = 2, table_of = 0x8020_0000 },
  { do = "dsb" },
  OP,
  { do = "dsb" },
  { do = "isb" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } },
]
'''


@pytest.mark.parametrize("op, seen", [
    ('{ do = "tlbi_vale1", va = 0x8000_0000 }', {0xCCCC, 0xBBBB}),     # last level: the table entry may stay
    ('{ do = "tlbi_vaale1is", va = 0x8000_0000 }', {0xCCCC, 0xBBBB}),
    ('{ do = "tlbi_vae1", va = 0x8000_0000 }', {0xBBBB}),              # all levels: only the new table
    ('{ do = "tlbi_vmalle1" }', {0xBBBB}),
    ('{ do = "tlbi_ipas2e1", ipa = 0x8000_0000 }', {0, 0xCCCC, 0xBBBB}),  # stage 2's: the old leaf stays too
])
def test_a_stage_1_walk_through_a_cached_table_descriptor_under_stage_2(tmp_path, op, seen):
    """Review D22(b): under stage 2 too a TLB may hold a stage 1 walk's table descriptors (the IPA of each and
    its value); a walk through one reads the level below through stage 2 as it is now (the old level 3
    table's entry, changed to frame_c), never the removed leaf entry's frame_a (0).  Where both the cached
    table's walk and the new table's may be held, a TLB conflict abort too (D8.17.1, I_HYQMB)."""
    path = tmp_path / "s2link1.toml"
    path.write_text(S2_LINK1_CASE.replace("OP", op))
    last = last_outcomes(load_file(path)[0])
    assert {o.value for o in last if isinstance(o, Completes)} == seen
    assert bool(conflicts(last)) is (len(seen) > 1)


def test_link_needs_an_existing_table(tmp_path):
    path = tmp_path / "link.toml"
    path.write_text(LINK_CASE.replace("0x8020_0000 }", "0x8060_0000 }").replace("OP", "tlbi_vae1"))
    with pytest.raises(CaseError, match="link: no level 3 table for 0x80600000"):
        load_file(path)


# A stage 2 case up to its change: VA = IPA; IPA 0x8000_0000 on frame_a, loaded once; frames a, b and c
# filled with 0xaaaa, 0xbbbb and 0xcccc through pages of their own; IPA 0x8020_0000 (another level 3 table's)
# on frame_b.  The test's steps follow, then "]".
S2_HEAD = '''feature = "tlb tests"
[case.c]
summary = "s"
stage2 = { t0sz = 24, vmid = 1 }
requires = ["FEAT_TLBIRANGE"]
map = [
  { va = 0x8000_0000, to = 0x8000_0000, level = 3 },
  { va = 0x8010_0000, to = 0x8010_0000, level = 3 },
  { va = 0x8010_1000, to = 0x8010_1000, level = 3 },
  { va = 0x8010_2000, to = 0x8010_2000, level = 3 },
]
s2map = [
  { ipa = 0x8000_0000, to = "frame_a", level = 3 },
  { ipa = 0x8010_0000, to = "frame_a", level = 3 },
  { ipa = 0x8010_1000, to = "frame_b", level = 3 },
  { ipa = 0x8010_2000, to = "frame_c", level = 3 },
  { ipa = 0x8020_0000, to = "frame_b", level = 3 },
]
steps = [
  { do = "store64", va = 0x8010_0000, value = 0xaaaa, expect = "ok" },
  { do = "store64", va = 0x8010_1000, value = 0xbbbb, expect = "ok" },
  { do = "store64", va = 0x8010_2000, value = 0xcccc, expect = "ok" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0xaaaa } },
'''
S2_CASE = S2_HEAD + '''  { do = "s2_map", ipa = 0x8000_0000, level = 3, to = "frame_b" },
  { do = "dsb" },
'''
IPAS2 = '{ do = "tlbi_ipas2e1", ipa = 0x8000_0000 }'
VMALLE1 = '{ do = "tlbi_vmalle1" }'


@pytest.mark.parametrize("maintenance, seen", [
    ([ISB], {A, B}),                                                    # no TLBI: the old combined entry
    ([IPAS2, DSB, VMALLE1, DSB, ISB], {B}),                             # Arm ARM D8.17.6.1's sequence
    ([IPAS2, DSB, '{ do = "tlbi_vae1", va = 0x8000_0000 }', DSB, ISB], {B}),
    ([IPAS2, DSB, ISB], {A, B}),                                        # IPAS2E1 keeps combined entries
    ([VMALLE1, DSB, ISB], {A, B}),                                      # VMALLE1 keeps stage 2 entries
    ([IPAS2, VMALLE1, DSB, ISB], {A, B}),                               # no DSB between: combined again
    ([VMALLE1, DSB, IPAS2, DSB, ISB], {A, B}),                          # the wrong order
    ([IPAS2, DSB, VMALLE1, ISB], {A, B}),                               # the stage 1 TLBI not completed
    (['{ do = "tlbi_ipas2e1", ipa = 0x8000_1000 }', DSB, VMALLE1, DSB, ISB], {A, B}),    # another IPA
    (['{ do = "tlbi_vmalls12e1" }', DSB, ISB], {B}),
    (['{ do = "tlbi_alle1is" }', DSB, ISB], {B}),
    # By range of IPAs (RIPAS2E1): the IPAs of the range, of its TG and TTL.
    (['{ do = "tlbi_ripas2e1", ipa = 0x8000_0000 }', DSB, VMALLE1, DSB, ISB], {B}),
    (['{ do = "tlbi_ripas2le1is", ipa = 0x8000_0000, ttl = 3 }', DSB, VMALLE1, DSB, ISB], {B}),
    (['{ do = "tlbi_ripas2e1", ipa = 0x8000_1000, num = 3 }', DSB, VMALLE1, DSB, ISB], {A, B}),   # after the IPA
    (['{ do = "tlbi_ripas2e1", ipa = 0x8000_0000, ttl = 2 }', DSB, VMALLE1, DSB, ISB], {A, B}),   # a wrong level
    (['{ do = "tlbi_ripas2e1", ipa = 0x8000_0000, tg = "16K" }', DSB, VMALLE1, DSB, ISB], {A, B}),  # another TG
    # VMIDs: none of VMID 1's entries under VMID 2; back under VMID 1 they may be used again,
    # unless a TLBI of VMID 1 (or of every VMID) removed them.
    (['{ do = "set_vmid", vmid = 2 }', ISB], {B}),
    (['{ do = "set_vmid", vmid = 2 }'], {A, B}),                        # the switch not synchronized
    (['{ do = "set_vmid", vmid = 2 }', ISB, '{ do = "tlbi_vmalls12e1" }', DSB, '{ do = "set_vmid", vmid = 1 }',
      ISB], {A, B}),
    (['{ do = "set_vmid", vmid = 2 }', ISB, '{ do = "tlbi_alle1" }', DSB, '{ do = "set_vmid", vmid = 1 }',
      ISB], {B}),
    (['{ do = "set_vmid", vmid = 2 }', ISB, '{ do = "set_vmid", vmid = 1 }', ISB, '{ do = "tlbi_vmalls12e1" }',
      DSB, ISB], {B}),
])
def test_the_tlb_model_holds_stage_2_and_combined_entries_by_vmid(tmp_path, maintenance, seen):
    """A changed stage 2 page: stage 1, stage 2 and combined entries each removed only by the TLBIs
    that apply to them, of their VMID (harness/model/tlb.py)."""
    path = tmp_path / "s2.toml"
    path.write_text(S2_CASE + "".join(f"  {s},\n" for s in maintenance)
                    + '  { do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } },\n]\n')
    case = load_file(path)[0]
    last = predict_case(case, MAX)[-1]
    assert {o.value for o in last if isinstance(o, Completes)} == seen


@pytest.mark.parametrize("vs, vmid16, vmid", [(True, True, 0x0101), (False, True, 0x01), (True, False, 0x01)])
def test_vmid_is_8_bits_unless_vmid16_and_vs(vs, vmid16, vmid):
    """VMID[]: VTTBR_EL2.VMID[15:8] count only with FEAT_VMID16 (ID_AA64MMFR1_EL1.VMIDBits = 0b0010) and
    VTCR_EL2.VS = 1."""
    regs = Registers(tcr=0, mair=0, sctlr=0, ttbr0=0, ttbr1=0, mmfr0=0, mmfr1=0b0010 << 4 if vmid16 else 0,
                     vtcr=vs << 19, vttbr=0x0101 << 48)
    assert current_vmid(regs) == vmid


def test_a_stage_1_table_whose_ipa_stage_2_may_translate_two_ways_is_not_modelled(tmp_path):
    """A stage 1 table at an IPA whose stage 2 page changed without a TLBI: the walk may read the
    table at either PA, which the model does not follow (an Unknown, never a guess); after
    VMALLS12E1, DSB, ISB only the new one is left, and the walk is modelled again."""
    path = tmp_path / "s1ptw.toml"
    path.write_text('''feature = "f"
[case.c]
summary = "s"
stage2 = { t0sz = 24 }
raw = [ { va = 0x80_0000_0000, level = 0, desc = "0x8000_0000 | 0x3" } ]
s2map = [ { ipa = 0x8000_0000, to = "table_a", level = 3 }, { ipa = 0x8000_1000, to = "table_b", level = 3 } ]
steps = [
  { do = "s2_map", ipa = 0x8000_0000, level = 3, to = "table_b" },
  { do = "dsb" },
  { do = "isb" },
  { do = "load64", va = 0x80_0000_0018, expect = { fault = "translation", level = 1 } },
  { do = "tlbi_vmalls12e1" },
  { do = "dsb" },
  { do = "isb" },
  { do = "load64", va = 0x80_0000_0018, expect = { fault = "translation", level = 1 } },
]
''')
    predictions = predict_case(load_file(path)[0], MAX)
    stale, fresh = predictions[3], predictions[7]
    assert [type(o).__name__ for o in stale] == ["Unknown"] and "not modelled" in next(iter(stale)).reason
    assert {o.fault for o in fresh} == {("translation", 1)}


def test_range_in_the_el2_regime_reads_ds_from_tcr_el2s_own_layout():
    # Review D9: TLBIRange -> HasLargeAddress(Regime_EL2) reads TCR_EL2.DS, bit 32 with E2H = 0 (TCR_EL1's
    # DS is bit 59); with DS, BaseADDR is VA[52:16]: 0x8000 -> 0x8000_0000.  Without FEAT_LPA2, FALSE.
    el2 = replace(REGS, tcr=1 << 32, regime=REGIME_EL2)
    inv = Invalidation.of("tlbi_rvae2", 0b01 << 46 | 0x8000, el2)
    assert (inv.start, inv.end) == (0x8000_0000, 0x8000_2000)
    assert inv.removes(0x8000_0000, 0x1000, 12, 3, 0, True, el2)
    no_lpa2 = replace(el2, mmfr0=0x1122)
    assert Invalidation.of("tlbi_rvae2", 0b01 << 46 | 0x8000, no_lpa2).start == 0x800_0000


def test_sctlr_fields_a_tlb_may_not_cache_take_their_new_values_after_an_isb(tmp_path):
    # Review D7 (R_VNRFW; D24.2 SCTLR_EL1: only EPAN, MSCEn, LSMAOE, nTLSMD, EE and WXN may be cached in a
    # TLB): after SCTLR_EL1.A = 1 and an ISB, an unaligned load through a page a TLB may still hold from
    # before is an Alignment fault only; the old model replayed the entry's whole old SCTLR (completes too).
    path = tmp_path / "sctlr.toml"
    path.write_text('feature = "f"\n[case.c]\nsummary = "s"\n'
                    'map = [ { va = 0x8000_0000, to = "frame_a", level = 3 } ]\nsteps = [\n'
                    '  { do = "load64", va = 0x8000_0000, expect = "ok" },\n'
                    '  { do = "set_sctlr", value = 0x2, mask = 0x2 },\n  { do = "isb" },\n'
                    '  { do = "load64", va = 0x8000_0004, expect = { fault = "alignment" } },\n]\n')
    case = load_file(path)[0]
    outcomes = predict_case(case, MAX)[-1]
    assert {o.fsc for o in outcomes} == {0b100001}


def test_a_tlbi_completes_for_this_pes_accesses_only_after_a_context_synchronization_event(tmp_path):
    # Review D11: R_BLDZX: without FEAT_ETS2 a TLBI is complete for the issuing PE's TLB after a DSB
    # followed by a Context synchronization event; an access between the DSB and the ISB may still use the
    # old entry.  The old model removed it at the DSB.
    tlbi = '{ do = "tlbi_vae1", va = 0x8000_0000 }'
    assert loads(_case(tmp_path, [DSB, ISB, tlbi, DSB, LOAD])) == [{A, B}]
    assert loads(_case(tmp_path, [DSB, ISB, tlbi, DSB, ISB, LOAD])) == [{B}]


def test_the_tlbi_asid_is_compared_whole_even_with_8_bit_asids():
    # Review D21: J1.1.3.438 AArch64.TLBI_VA takes r.asid = Xt<63:48>, and J1.1.3.449 TLBIMatch compares it
    # with the entry's context ASID, whose upper byte is zero with TCR_EL1.AS = 0: an operand ASID of 0x100
    # matches no ASID 0 entry.  The old model masked the operand to 8 bits first.
    inv = Invalidation.of("tlbi_vae1", 0x100 << 48 | 0x8_0000, REGS)
    assert not inv.removes(0x8000_0000, 0x1000, 12, 3, 0, False, REGS)
    assert Invalidation.of("tlbi_vae1", 0x8_0000, REGS).removes(0x8000_0000, 0x1000, 12, 3, 0, False, REGS)


def test_alle2_removes_the_entries_of_both_el2_regimes():
    # Review D20: J1.1.3.449 TLBIMatch, TLBIOp_ALL: relax_regime when the TLBI's and the entry's regimes are
    # both EL2 or EL2&0 (R_NWYRD); the old model required the same regime.  VAE2 keeps to its own.
    el2, el20 = replace(REGS, regime=REGIME_EL2), replace(REGS, regime=REGIME_EL20)
    alle2 = Invalidation.of("tlbi_alle2", 0, el2)
    assert alle2.removes(0x8000_0000, 0x1000, 12, 3, 0, True, el20) and alle2.removes(0x8000_0000, 0x1000, 12, 3, 0,
                                                                                       True, el2)
    assert not alle2.removes(0x8000_0000, 0x1000, 12, 3, 0, True, REGS)          # EL1&0's stay
    assert not Invalidation.of("tlbi_vae2", 0x8_0000, el2).removes(0x8000_0000, 0x1000, 12, 3, 0, True, el20)


def test_a_range_tlbi_ttl_hint_removes_the_table_entries_above_its_level():
    # Review D10: C5.5 TLBI RVAE1, TTL: "only guaranteed to invalidate: Non-leaf-level entries in the range up
    # to but not including the level described by the TTL hint. Leaf-level entries in the range that match the
    # level described by the TTL hint."  TTL 2 with a level 3 leaf: the level 0 and 1 table entries go; the
    # level 2 table entry and the level 3 leaf need not.  The old model kept every entry of a level 3 walk.
    inv = Invalidation.of("tlbi_rvae1", 0b01 << 46 | 2 << 37 | 0x8_0000, REGS)
    assert inv.removes(0x8000_0000, 1 << 30, 12, 1, 0, None, REGS)          # level 1 table entry
    assert not inv.removes(0x8000_0000, 1 << 21, 12, 2, 0, None, REGS)      # level 2 table entry
    assert not inv.removes(0x8000_0000, 0x1000, 12, 3, 0, True, REGS)       # level 3 leaf
    assert inv.removes(0x8000_0000, 1 << 21, 12, 2, 0, True, REGS)          # a level 2 block


def test_with_hardware_af_a_leaf_may_read_back_with_af_set_before_any_access(tmp_path):
    # Review D15: R_LHQRX: with hardware Access flag management a speculative access that translates may set
    # AF, so a read-back of a leaf with AF = 0 may find it set before any access; without HA it may not.
    for ha, allowed in ((True, {0, 1}), (False, {0})):
        path = tmp_path / f"af{ha}.toml"
        path.write_text('feature = "f"\n[case.c]\nsummary = "s"\nrequires = ["FEAT_HAFDBS"]\n'
                        f'regime = {{ ha = {str(ha).lower()} }}\n'
                        'map = [ { va = 0x8000_0000, to = "frame_a", level = 3, af = false } ]\nsteps = [\n'
                        '  { do = "read_desc", va = 0x8000_0000, level = 3, expect = { one_of = [ { af = false }, '
                        '{ af = true } ] } },\n]\n')
        done = predict_case(load_file(path)[0], MAX)[0]
        assert {o.desc >> 10 & 1 for o in done} == allowed


S2_LINK_CASE = S2_HEAD + '''  { do = "s2_map", ipa = 0x8000_0000, level = 3, to = "frame_c" },
  { do = "s2_link", ipa = 0x8000_0000, level = 2, table_of = 0x8020_0000 },
  { do = "dsb" },
  OP,
  { do = "dsb" },
  { do = "tlbi_vmalle1" },
  { do = "dsb" },
  { do = "isb" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } },
]
'''


@pytest.mark.parametrize("op, seen", [
    ('{ do = "tlbi_ipas2le1", ipa = 0x8000_0000 }', {0xCCCC, 0xBBBB}),   # the table entry may survive
    ('{ do = "tlbi_ipas2le1is", ipa = 0x8000_0000 }', {0xCCCC, 0xBBBB}),
    ('{ do = "tlbi_ripas2le1", ipa = 0x8000_0000 }', {0xCCCC, 0xBBBB}),  # C5.5.24: "from the leaf level"
    ('{ do = "tlbi_ripas2e1", ipa = 0x8000_0000 }', {0xBBBB}),
    ('{ do = "tlbi_ipas2e1", ipa = 0x8000_0000 }', {0xBBBB}),             # all levels: only the new table
    ('{ do = "tlbi_ipas2e1", ipa = 0x8040_0000 }', {A, 0xBBBB, 0xCCCC}),  # another IPA: the old leaf too
    ('{ do = "tlbi_vmalls12e1" }', {0xBBBB}),
    ('{ do = "tlbi_alle1" }', {0xBBBB}),
    ('{ do = "isb" }', {A, 0xBBBB, 0xCCCC}),                               # no stage 2 TLBI
])
def test_a_stage_2_walk_through_a_cached_table_descriptor(tmp_path, op, seen):
    """Review D22(a): a stage 2 level 2 table descriptor pointed at another level 3 table.  TLBI IPAS2LE1
    removes the IPA's stage 2 leaf entry (frame_a) but may leave its table entries (J1.1.3.449 TLBIMatch,
    TLBIOp_IPAS2: `tlbi.level == TLBILevel_Any || !tlb_entry.walkstate.istable`), so a walk may read the
    old level 3 table as it is now (frame_c) or the new one (frame_b); IPAS2E1, VMALLS12E1 and ALLE1
    remove them too."""
    path = tmp_path / "s2link.toml"
    path.write_text(S2_LINK_CASE.replace("OP", op))
    case = load_file(path)[0]
    last = predict_case(case, MAX)[-1]
    assert {o.value for o in last if isinstance(o, Completes)} == seen


@pytest.mark.parametrize("op, removes_tables", [
    ("tlbi_ipas2e1", True), ("tlbi_ipas2e1is", True), ("tlbi_ipas2le1", False), ("tlbi_ipas2le1is", False),
    ("tlbi_ipas2le1nxs", False), ("tlbi_vmalls12e1", True), ("tlbi_alle1", True), ("tlbi_vmalle1", False),
])
def test_a_last_level_ipas2_leaves_stage_2_table_entries(op, removes_tables):
    """J1.1.3.449 TLBIMatch: a stage 2 table entry (level 2, the 2MB of IPA 0x8000_0000) goes with the
    all-levels IPAS2E1 of an IPA in it and with VMALLS12E1 and ALLE1, not with IPAS2LE1 nor VMALLE1."""
    inv = Invalidation.of(op, 0x8000_0000 >> 12, REGS)
    assert inv.removes_s2_table(0x8000_0000, 1 << 21, 12, 2, current_vmid(REGS)) is removes_tables


# D8: the TLB conflict abort (Arm ARM D8.17.1, D8.15.1.6)
TLB_CONFLICT = esr.fault_status("tlb_conflict", None)


def conflicts(outcomes):
    """The TLB conflict aborts among outcomes: (stage, EC or None for PAR_EL1, FAR or None)."""
    found = set()
    for o in outcomes:
        if isinstance(o, Abort) and o.fsc == TLB_CONFLICT:
            found.add((o.stage, o.ec, o.far))
        elif isinstance(o, Par) and par.PAR_F.get(o.value) and par.PAR_FST.get(o.value) == TLB_CONFLICT:
            found.add((1, None, None))
    return found


def last_outcomes(case):
    return predict_case(case, MAX)[-1]


@pytest.mark.parametrize("maintenance, conflict", [
    ([DSB, ISB], True),                                                 # no TLBI: the old entry beside the new
    ([DSB, '{ do = "tlbi_vae1", va = 0x8000_0000 }', DSB, ISB], False),  # the right sequence
    ([DSB, '{ do = "tlbi_vae1", va = 0x8000_0000 }', ISB], True),       # TLBI not completed by a DSB
    ([DSB, '{ do = "tlbi_vae1", va = 0x8000_1000 }', DSB, ISB], True),  # another page
    ([DSB, '{ do = "tlbi_vmalle1" }', DSB, ISB], False),
])
def test_a_tlb_conflict_abort_is_offered_where_a_tlb_may_hold_two_translations(tmp_path, maintenance, conflict):
    """D8.17.1: a translation changed without the TLB maintenance it needs may leave TLBs with "multiple
    different copies"; a lookup that hits several may take a TLB conflict abort (R_ZQNWZ): a Data Abort
    to EL1 from EL1, fault status 0b110000, FAR the lookup address (I_JYDXJ).  Not once the maintenance
    is complete."""
    case = _case(tmp_path, maintenance + [LOAD])
    want = {(1, EC.DABT_CUR, 0x8000_0000)} if conflict else set()
    assert conflicts(last_outcomes(case)) == want


def test_no_tlb_conflict_where_only_one_entry_can_be_held(tmp_path):
    """An unmapped page (no TLBI): the old entry or a Translation fault, which no TLB holds, so never two
    entries and no conflict; a change that leaves the VA's translation as it was adds no second copy."""
    assert conflicts(last_outcomes(_case(tmp_path, [
        DSB, '{ do = "tlbi_vae1", va = 0x8000_0000 }', DSB, ISB, LOAD, '{ do = "unmap", va = 0x8000_0000, level = 3 }',
        DSB, ISB,
        '{ do = "load64", va = 0x8000_0000, expect = { one_of = [ { value = 0xbbbb }, { fault = "translation", '
        'level = 3 } ] } }']))) == set()
    assert conflicts(last_outcomes(_case(tmp_path, [
        DSB, '{ do = "tlbi_vae1", va = 0x8000_0000 }', DSB, ISB, LOAD,
        '{ do = "map", va = 0x8000_1000, level = 3, to = "frame_a" }', DSB, ISB, LOAD]))) == set()


@pytest.mark.parametrize("op, regime, reported", [
    ("at_s1e1r", "", True),                     # AT S1E1* from EL1: PAR_EL1.FST 0b110000
    ("at_s1e0w", "", True),
    ("at_s1e1r", 'el2 = "vhe"\nrequires = ["FEAT_VHE"]\n', False),  # in the host: EL2&0's, from EL2 (I_DHRWD)
    ("at_s1e2r", 'el2 = "vhe"\nrequires = ["FEAT_VHE"]\n', False),
])
def test_an_at_reports_a_tlb_conflict_in_par_only_when_executed_from_el1(tmp_path, op, regime, reported):
    """D8.15.1.6 I_DHRWD: an AT other than AT S1E0*/S1E1* executed from EL1 takes no TLB conflict abort."""
    path = tmp_path / "at.toml"
    path.write_text('feature = "f"\n[case.c]\nsummary = "s"\n' + regime + MAPS.replace("NG", "false")
                    + "steps = [\n" + FILL.replace("NG", "false") + f"  {DSB},\n  {ISB},\n"
                    + f'  {{ do = "{op}", va = 0x8000_0000, expect = {{ pa = 0 }} }},\n]\n')
    assert conflicts(last_outcomes(load_file(path)[0])) == ({(1, None, None)} if reported else set())


def test_under_two_stages_a_tlb_conflict_is_reported_to_el1_or_el2(tmp_path):
    """R_QWTKL: with both stages enabled, the abort goes to EL1 or to EL2, IMPLEMENTATION DEFINED; a stage 2
    page changed without IPAS2E1, DSB, VMALLE1 leaves the old combined entry beside the new."""
    path = tmp_path / "s2.toml"
    path.write_text(S2_CASE + f"  {ISB},\n" + '  { do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } },\n]\n')
    assert conflicts(last_outcomes(load_file(path)[0])) == {(1, EC.DABT_CUR, 0x8000_0000),
                                                            (2, EC.DABT_LOW, 0x8000_0000)}


def test_a_one_of_names_the_tlb_conflict_abort_as_the_step_reports_it(tmp_path):
    """A one_of's "tlb_conflict" is the TLB conflict abort where this step reports it: a fault of stage 1,
    and under two stages of stage 2 too (harness/cases/steps.py); alone, or on an AT that never takes it,
    it is refused naming the file, case and field."""
    case = _case(tmp_path, [DSB, ISB, '{ do = "load64", va = 0x8000_0000, expect = { one_of = [ '
                                      '{ value = 0xaaaa }, { value = 0xbbbb }, "tlb_conflict" ] } }'])
    choices = case.steps[-1].expect.choices
    assert [(c.kind, c.fault, c.stage, c.far) for c in choices[2:]] == [("fault", "tlb_conflict", 1, 0x8000_0000)]
    path = tmp_path / "s2.toml"
    path.write_text(S2_CASE + f"  {ISB},\n" + '  { do = "load64", va = 0x8000_0000, expect = { one_of = [ '
                    '{ value = 0xaaaa }, { value = 0xbbbb }, "tlb_conflict" ] } },\n]\n')
    assert [c.stage for c in load_file(path)[0].steps[-1].expect.choices if c.kind == "fault"] == [1, 2]
    for expect, message in [('"tlb_conflict"', "is an outcome of a one_of"),
                            ('{ one_of = [ { pa = 0 }, "tlb_conflict" ] }', "never takes a TLB conflict abort")]:
        op = "at_s12e1r" if "pa" in expect else "load64"
        path.write_text(S2_CASE + f'  {{ do = "{op}", va = 0x8000_0000, expect = {expect} }},\n]\n')
        with pytest.raises(CaseError, match=message) as error:
            load_file(path)
        assert "s2.toml" in str(error.value) and "'c'" in str(error.value) and "steps[" in str(error.value)


def test_the_suite_accepts_a_tlb_conflict_abort_only_where_the_case_and_the_model_permit_it(tmp_path):
    """An implementation that takes the abort after a change without TLBI passes; after TLBI, DSB, ISB it fails
    both the case and the model."""
    case = _case(tmp_path, [DSB, ISB, '{ do = "load64", va = 0x8000_0000, expect = { one_of = [ '
                                      '{ value = 0xaaaa }, { value = 0xbbbb }, "tlb_conflict" ] } }',
                            '{ do = "tlbi_vae1", va = 0x8000_0000 }', DSB, ISB,
                            '{ do = "load64", va = 0x8000_0000, expect = { value = 0xbbbb } }'])
    outcomes = predict_case(case, MAX)
    permitted, forbidden = [n for n, s in enumerate(case.steps) if s.op == "load64"][-2:]
    for n, ok in ((permitted, True), (forbidden, False)):
        record = observe(parse_record(f"MMUT 6 step n={n} va=0x80000000 result=fault esr={TLB_CONFLICT | 0x96000000:#x} "
                                      "far=0x80000000 elr=0x1"))
        assert judge_step(n, case.steps[n], record).ok is ok
        assert (not observation_allowed(case.steps[n], outcomes[n], record)) is ok


# R_QWTKL: under two stages, where FEAT_BBML1 is implemented (ID_AA64MMFR2_EL1.BBM, 2 on MAX), a TLB conflict
# abort due to changing the table or block size or the Contiguous bit is reported to EL2 only; other conflicts,
# and every conflict without FEAT_BBML1, to EL1 or EL2 (IMPLEMENTATION DEFINED).
NO_BBML1 = (MAX[0], MAX[1], MAX[2] & ~(0xF << 52), MAX[3])
EL1_OR_EL2 = {(1, EC.DABT_CUR, 0x8000_0000), (2, EC.DABT_LOW, 0x8000_0000)}
EL2_ONLY = {(2, EC.DABT_LOW, 0x8000_0000)}
RESIZE_HEAD = '''feature = "tlb tests"
[case.c]
summary = "s"
stage2 = { t0sz = 24 }
map = [ S1MAP ]
s2map = [ S2MAP ]
steps = [
  { do = "store64", va = 0x8000_0000, value = 0x5151, expect = "ok" },
  { do = "load64", va = 0x8000_0000, expect = { value = 0x5151 } },
'''
RESIZE_LOAD = '  { do = "load64", va = 0x8000_0000, expect = { one_of = [ VALUES, "tlb_conflict" ] } },\n]\n'
S2_CONTIG = ", ".join(f'{{ ipa = {0x8000_0000 + k * 0x1000:#x}, to = "grp + {k * 0x1000:#x}", level = 3 }}'
                      for k in range(16)) + ', { ipa = 0x8020_0000, to = "grp", level = 2 }'


def _resize_case(tmp_path, s1map, s2map, steps, values="{ value = 0x5151 }"):
    """A stage 2 case: VA 0x8000_0000 through s1map and s2map, 0x5151 stored there, then steps (TOML
    lines), DSB, ISB (no TLBI), and a load of VA 0x8000_0000 that may read values or take a TLB conflict abort."""
    path = tmp_path / "resize.toml"
    path.write_text(RESIZE_HEAD.replace("S1MAP", s1map).replace("S2MAP", s2map)
                    + "".join(f"  {s},\n" for s in steps + [DSB, ISB]) + RESIZE_LOAD.replace("VALUES", values))
    return load_file(path)[0]


@pytest.mark.parametrize("ids, where", [(MAX, EL2_ONLY), (NO_BBML1, EL1_OR_EL2)])
def test_a_stage_2_block_split_without_break_may_conflict_to_el2_alone_with_bbml1(tmp_path, ids, where):
    """A stage 2 2 MiB block replaced by a table of pages of the same PAs, attributes and permissions, without
    TLBI: a TLB may hold the block's stage 2 entry beside the page's (D8.17.2 I_HYQMB: "multiple translation
    table entries that all translate the same IA"), so a lookup may take a TLB conflict abort though both give
    the same translation; with FEAT_BBML1 it is reported to EL2 (R_QWTKL), else to EL1 or EL2."""
    case = _resize_case(tmp_path, '{ va = 0x8000_0000, to = 0x8000_0000, level = 3 }',
                        '{ ipa = 0x8000_0000, to = "big", level = 2 }, { ipa = 0x8020_0000, to = "big", level = 3 }',
                        ['{ do = "s2_link", ipa = 0x8000_0000, level = 2, table_of = 0x8020_0000 }'])
    assert conflicts(predict_case(case, ids)[-1]) == where


@pytest.mark.parametrize("ids, where", [(MAX, EL2_ONLY), (NO_BBML1, EL1_OR_EL2)])
def test_a_stage_2_contiguous_bit_set_without_break_may_conflict_to_el2_alone_with_bbml1(tmp_path, ids, where):
    """Sixteen stage 2 pages given the Contiguous bit (the accessed one last, so no walk of it meets a
    misprogrammed group), without TLBI: the page's old entry beside the group's (R_FCPSG), to EL2 with
    FEAT_BBML1 (R_QWTKL), else to EL1 or EL2."""
    case = _resize_case(tmp_path, '{ va = 0x8000_0000, to = 0x8000_0000, level = 3 }', S2_CONTIG,
                        [f'{{ do = "s2_map", ipa = {0x8000_0000 + k * 0x1000:#x}, level = 3, '
                         f'to = "grp + {k * 0x1000:#x}", contig = true }}' for k in reversed(range(16))])
    assert conflicts(predict_case(case, ids)[-1]) == where


@pytest.mark.parametrize("ids, where", [(MAX, EL2_ONLY), (NO_BBML1, EL1_OR_EL2)])
def test_a_stage_1_block_split_under_stage_2_may_conflict_to_el2_alone_with_bbml1(tmp_path, ids, where):
    """The same at stage 1: a 2 MiB block replaced by a table of pages of the same IPAs (R_QWTKL's 'changing the
    table or block' is of either stage)."""
    case = _resize_case(tmp_path, '{ va = 0x8000_0000, to = 0x8000_0000, level = 2 }, '
                        '{ va = 0x8040_0000, to = 0x8000_0000, level = 3 }',
                        '{ ipa = 0x8000_0000, to = "big", level = 2 }',
                        ['{ do = "link", va = 0x8000_0000, level = 2, table_of = 0x8040_0000 }'])
    assert conflicts(predict_case(case, ids)[-1]) == where


def test_a_conflict_of_a_block_size_and_a_translation_change_with_bbml1_is_refused(tmp_path):
    """A stage 1 block replaced by a table whose page maps another IPA: the entries differ in size and in
    translation, and R_QWTKL does not say whether that conflict is 'due to changing the table or block' (EL2)
    or not (EL1 or EL2): with FEAT_BBML1 the model refuses it, naming the rule; without, EL1 or EL2."""
    case = _resize_case(tmp_path, '{ va = 0x8000_0000, to = 0x8000_0000, level = 2 }, '
                        '{ va = 0x8040_0000, to = 0x8000_1000, level = 3 }',
                        '{ ipa = 0x8000_0000, to = "big", level = 2 }',
                        ['{ do = "link", va = 0x8000_0000, level = 2, table_of = 0x8040_0000 }'])
    reason = unjudged(predict_case(case, MAX)[-1])
    assert reason and "R_QWTKL" in reason and "FEAT_BBML1" in reason
    assert conflicts(predict_case(case, NO_BBML1)[-1]) == EL1_OR_EL2


def test_a_one_of_tlb_conflict_agrees_with_a_model_that_reports_it_to_el2_alone(tmp_path):
    """A one_of's "tlb_conflict" stands for the abort wherever the model takes it: a case that names it agrees
    with a model whose conflict goes to EL2 alone (R_QWTKL), and not with one that allows no conflict."""
    case = _resize_case(tmp_path, '{ va = 0x8000_0000, to = 0x8000_0000, level = 3 }',
                        '{ ipa = 0x8000_0000, to = "big", level = 2 }, { ipa = 0x8020_0000, to = "big", level = 3 }',
                        ['{ do = "s2_link", ipa = 0x8000_0000, level = 2, table_of = 0x8020_0000 }'])
    outcomes = predict_case(case, MAX)[-1]
    assert expectation_agrees(case.steps[-1], outcomes) == []
    without = Outcomes({o for o in outcomes if not conflicts({o})})
    assert [p for p in expectation_agrees(case.steps[-1], without) if "tlb conflict" in p] == [
        "the case accepts data abort (same EL): tlb conflict fault (level not checked), WnR=0, FAR 0x80000000, which "
        "the model does not allow: the model allows completes, value 0x5151 (PA 0x41000000)"]


def test_a_tlb_conflict_on_a_stage_1_walks_own_stage_2_translation_is_refused(tmp_path, monkeypatch):
    """A stage 1 walk's descriptor fetch is translated by stage 2 too; where the stage 2 copies of that
    descriptor's IPA a TLB may hold differ (here made to by patching Tlb._s2_conflict_causes for the IPAs of
    the walk's reads: no case can change the stage 2 mapping of the kernel's table pool), its lookup may
    conflict, and D8.15.1.6 does not say whether ESR_EL2.S1PTW is set for it nor what FAR and HPFAR_EL2 give:
    the model refuses the access (Unknown naming the rule), where it offered the data IPA's conflict alone."""
    from harness.model.tlb import RESIZED, S1PTW_CONFLICT_REFUSED, Tlb
    case = _resize_case(tmp_path, '{ va = 0x8000_0000, to = 0x8000_0000, level = 3 }',
                        '{ ipa = 0x8000_0000, to = "big", level = 2 }, { ipa = 0x8020_0000, to = "big", level = 3 }',
                        ['{ do = "s2_link", ipa = 0x8000_0000, level = 2, table_of = 0x8020_0000 }'])
    assert conflicts(predict_case(case, MAX)[-1]) == EL2_ONLY and not unjudged(predict_case(case, MAX)[-1])
    pool = declared.TABLE_POOL_BASE
    real = Tlb._s2_conflict_causes
    monkeypatch.setattr(Tlb, "_s2_conflict_causes", lambda self, ipa, borns: frozenset({RESIZED})
                        if pool <= ipa < pool + 0x100_0000 else real(self, ipa, borns))
    reason = unjudged(predict_case(case, MAX)[-1])
    assert reason.startswith(S1PTW_CONFLICT_REFUSED)
    assert pool <= int(reason.rsplit("(IPA ", 1)[1].rstrip(")"), 16) < pool + 0x100_0000     # a stage 1 table's IPA
