"""An AT S12 step under a stage 2 geometry of its own (`under`: kernel/el2.c at_s12_under): the
loader's checks, the blob record the kernel reads, and the model's prediction under the step's
VTCR_EL2/VTTBR_EL2 (the checks of AArch64.S2Translate and AArch64.S2Walk made before any stage 2
descriptor is read), with the case's own stage 2 back for the steps after it."""
import pytest

from harness import blob, declared, esr, par
from harness.cases import CaseError, load_file
from harness.kdefs import REPO
from harness.model.outcome import Par
from harness.predict import predict_case

# QEMU -cpu max (7.2.22): PARange 52 (FEAT_LPA), FEAT_TTST; and a 40-bit PA CPU without either.
MAX = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120)
NO_LPA = (0x1122, 0x0, 0x0, 0x11120)

CASE = """feature = "f"
[case.c]
summary = "s"
stage2 = { t0sz = 24 }
map = [ { va = 0x8000_0000, to = 0x8000_0000, level = 3 } ]
s2map = [ { ipa = 0x8000_0000, to = "frame0", level = 3 } ]
steps = [
  STEP,
  { do = "at_s12e1r", va = 0x8000_0010, expect = { pa = "frame0 + 0x10" } },
]
"""
FAULT = '{ fault = "FAULT", level = 0, stage = 2, s1ptw = true }'


def _case(tmp_path, step):
    path = tmp_path / "g.toml"
    path.write_text(CASE.replace("STEP", step))
    return load_file(path)[0]


def _pars(outcomes):
    """(F, S, PTW, FST) of each PAR_EL1 the outcomes allow; (0, 0, 0, 0) for a translation."""
    return {(1, par.PAR_S.get(o.value), par.PAR_PTW.get(o.value), par.PAR_FST.get(o.value))
            if par.PAR_F.get(o.value) else (0, 0, 0, 0) for o in outcomes if isinstance(o, Par)}


@pytest.mark.parametrize("under, fault, ids", [
    ('{ sl0 = 3, granule = "64K" }', "translation", MAX),     # S2InvalidSL: 64K never starts at level 0
    ('{ sl0 = 0 }', "translation", MAX),                      # S2InconsistentSL: level 2 cannot resolve 40 bits
    ('{ t0sz = 12 }', "translation", MAX),                    # S2TxSZFaults with FEAT_LPA
    ('{ ps = 40, vttbr_flip = 0x100_0000_0000 }', "address_size", MAX),    # S2Walk: the base above PS
    ('{ ps = 32, vttbr_flip = 0x8_0000_0000 }', "address_size", NO_LPA),
])
def test_an_at_under_a_bad_geometry_faults_at_level_0_on_stage_1s_first_descriptor(tmp_path, under, fault, ids):
    """Each check precedes the walk: the stage 1 root's IPA faults, PAR_EL1 S = 1, PTW = 1, level 0;
    the next AT, under the case's stage 2 again, translates.  Without `under` the first AT translates
    too (the model reads the step's registers, not the case's)."""
    case = _case(tmp_path, f'{{ do = "at_s12e1r", va = 0x8000_0010, under = {under}, expect = '
                           f'{FAULT.replace("FAULT", fault)} }}')
    first, after = predict_case(case, ids)
    assert _pars(first) == {(1, 1, 1, esr.fault_status(fault, 0))}
    assert _pars(after) == {(0, 0, 0, 0)}
    plain = _case(tmp_path, '{ do = "at_s12e1r", va = 0x8000_0010, expect = { pa = "frame0 + 0x10" } }')
    assert _pars(predict_case(plain, ids)[0]) == {(0, 0, 0, 0)}


def test_a_misaligned_vttbr_base_is_treated_as_aligned_or_corrupts_the_walks_address(tmp_path):
    """K1.2.5: VTTBR_EL2's RES0 base bit 12 (below the 8 KiB pair of level 1 tables) is treated as
    0, or the walk's address takes it: stage 1's tables (IPA 0x4010_0000, level 1 index 1) are then
    read through entry 513, empty: a stage 2 Translation fault at level 1 on the walk."""
    case = _case(tmp_path, '{ do = "at_s12e1r", va = 0x8000_0010, under = { vttbr_flip = 0x1000 }, expect = '
                           '{ one_of = [ { pa = "frame0 + 0x10" }, ' + FAULT.replace("FAULT", "translation")
                           .replace("level = 0", "level = 1") + ' ] } }')
    first, after = predict_case(case, MAX)
    assert _pars(first) == {(0, 0, 0, 0), (1, 1, 1, esr.fault_status("translation", 1))}
    assert "K1.2.5" in first.rule
    assert _pars(after) == {(0, 0, 0, 0)}


def test_the_blob_step_carries_the_vtcr_and_the_vttbr_bits_to_flip(tmp_path):
    case = _case(tmp_path, '{ do = "at_s12e1r", va = 0x8000_0010, under = { sl0 = 0, vttbr_flip = 0x1000 }, '
                           'expect = ' + FAULT.replace("FAULT", "translation") + ' }')
    blob.encode([case])         # the whole blob checks
    va, value, mask, *_ = blob._STEP.unpack(blob._step(case, 0, case.steps[0]))
    assert value == declared.under_vtcr(case, case.steps[0]) and value >> 6 & 3 == 0 and value & 63 == 24
    assert value ^ declared.case_registers(case, MAX).vtcr == 1 << 6      # SL0 1 -> 0, nothing else
    assert mask == 0x1000
    # The step after it runs under the case's stage 2: value 0.
    assert blob._STEP.unpack(blob._step(case, 1, case.steps[1]))[1:3] == (0, 0)


@pytest.mark.parametrize("step, field, message", [
    ('{ do = "load64", va = 0x8000_0010, under = { sl0 = 0 }, expect = "ok" }', "steps[0].under", "only an AT S12"),
    ('{ do = "at_s12e1r", va = 0x8000_0010, under = { sl0 = 4 }, expect = { pa = "frame0" } }', "steps[0].under", "SL0"),
    ('{ do = "at_s12e1r", va = 0x8000_0010, under = { ps = 33 }, expect = { pa = "frame0" } }', "steps[0].under", "PA size"),
    ('{ do = "at_s12e1r", va = 0x8000_0010, under = { tg = 1 }, expect = { pa = "frame0" } }', "steps[0].under", "tg"),
    ('{ do = "at_s12e1r", va = 0x8000_0010, under = { vttbr_flip = 0 }, expect = { pa = "frame0" } }', "steps[0].under",
     "changes nothing"),
])
def test_the_loader_refuses_an_under_it_cannot_run(tmp_path, step, field, message):
    with pytest.raises(CaseError) as e:
        _case(tmp_path, step)
    assert field in str(e.value) and message in str(e.value)


def test_the_suites_geometry_cases_agree_with_the_model():
    """cases/s2_geometry.toml: each instance's expectations are what the model predicts on -cpu max."""
    from harness.features import missing
    from harness.oracle import expectation_agrees
    for case in load_file(REPO / "cases/s2_geometry.toml"):
        if missing(case.requires, *MAX):
            continue
        for step, outcomes in zip(case.steps, predict_case(case, MAX)):
            assert expectation_agrees(step, outcomes) == [], case.id
