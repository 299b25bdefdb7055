"""Whole-register verdicts (harness/oracle.py over model.outcome's predictions): an observation
the model allows, changed in any single bit the architecture defines, fails the step, register
by register (ESR_ELx, FAR_ELx, HPFAR_EL2, PAR_EL1); a bit the architecture leaves UNKNOWN or
IMPLEMENTATION DEFINED may take either value."""
from dataclasses import replace

import pytest

from harness import esr, par
from harness.cases import Expect, Step
from harness.model import Abort, Par
from harness.model.outcome import Outcomes
from harness.observation import Observation
from harness.oracle import observation_allowed
from harness.ops import LS_SYNDROME

VA, IPA = 0x8000_1018, 0x8000_1000
STORE = Step("store64", VA, 4, Expect("fault", fault="translation", level=3, far=VA, wnr=True))

ABORTS = {
    # A stage 1 Data Abort taken to EL1: ISV = 0, ISS[23:14] RES0.
    "stage1_data": Abort(ec=esr.EC.DABT_CUR, fsc=0x07, wnr=True, s1ptw=False, far=VA, rule="r"),
    # A stage 2 Data Abort with the store's instruction syndrome (ISV = 1) and a valid IPA.
    "stage2_data": Abort(ec=esr.EC.DABT_LOW, fsc=0x07, wnr=True, s1ptw=False, far=VA, rule="r", stage=2, ipa=IPA,
                         syndrome=LS_SYNDROME["store64"]),
    # A stage 2 fault on a stage 1 walk of an AT: CM = 1, WnR = 1.
    "stage2_at_walk": Abort(ec=esr.EC.DABT_LOW, fsc=0x06, wnr=True, s1ptw=True, far=VA, rule="r", stage=2,
                            ipa=IPA, cm=True),
    # An Instruction Abort: CM, WnR and ISV RES0.
    "instruction": Abort(ec=esr.EC.IABT_CUR, fsc=0x0F, wnr=False, s1ptw=False, far=VA, rule="r"),
    # A PC alignment fault: the ISS RES0.
    "pc_alignment": Abort(ec=esr.EC.PC_ALIGN, fsc=None, wnr=False, s1ptw=False, far=VA | 2, rule="r"),
}


def _observed(abort):
    """The observation the abort predicts, its free bits 0."""
    return Observation("fault", esr=esr.decode_esr(abort.esr().value), far=abort.far_register().value,
                       to_el2=abort.stage == 2, hpfar=abort.hpfar().value if abort.stage == 2 else None)


def _flips(register):
    """Each single bit of a 64-bit register (named for the reader of a failure)."""
    return [1 << bit for bit in range(64)]


@pytest.mark.parametrize("name", ABORTS)
def test_esr_every_defined_bit_is_judged(name):
    abort = ABORTS[name]
    outcomes, obs = Outcomes({abort}), _observed(abort)
    assert observation_allowed(STORE, outcomes, obs) == []
    mask = abort.esr().mask
    for flip in _flips("ESR"):
        changed = replace(obs, esr=esr.decode_esr(obs.esr.raw ^ flip))
        if mask & flip:
            assert observation_allowed(STORE, outcomes, changed), f"ESR bit {flip.bit_length() - 1} of {name}"
        else:
            assert observation_allowed(STORE, outcomes, changed) == []


def test_esr_leaves_wnr_free_only_where_the_rule_does():
    open_wnr = replace(ABORTS["stage2_data"], wnr=None, s1ptw=True, syndrome=None)
    assert open_wnr.esr().mask == 2**64 - 1 - esr.ESR_ISS_WNR.mask
    assert all(a.esr().mask == 2**64 - 1 for a in ABORTS.values())


@pytest.mark.parametrize("name", ABORTS)
def test_far_every_bit_is_judged(name):
    abort = ABORTS[name]
    outcomes, obs = Outcomes({abort}), _observed(abort)
    for flip in _flips("FAR"):
        assert observation_allowed(STORE, outcomes, replace(obs, far=obs.far ^ flip)), f"FAR bit {flip.bit_length() - 1}"


def test_hpfar_every_bit_is_judged_where_the_ipa_is_valid():
    abort = ABORTS["stage2_data"]
    outcomes, obs = Outcomes({abort}), _observed(abort)
    assert obs.hpfar == (IPA >> 12) << 4
    for flip in _flips("HPFAR"):
        assert observation_allowed(STORE, outcomes, replace(obs, hpfar=obs.hpfar ^ flip)), \
            f"HPFAR_EL2 bit {flip.bit_length() - 1}"


@pytest.mark.parametrize("pa_bits", [40, 44, 48])
def test_hpfar_fipa_bits_at_and_above_the_implemented_pa_size_are_res0(pa_bits):
    """D24.2.76: FIPA's bits for address bits the implementation does not have read 0, whatever the
    IPA: a stage 2 fault of an IPA with bit pa_bits set (as the model's records may hold it) predicts
    HPFAR_EL2 with that bit clear, and an observation that sets it, or any FIPA bit above, fails."""
    abort = replace(ABORTS["stage2_data"], ipa=IPA | 1 << pa_bits, pa_bits=pa_bits)
    assert abort.hpfar().value == (IPA >> 12) << 4
    outcomes, obs = Outcomes({abort}), _observed(abort)
    assert observation_allowed(STORE, outcomes, obs) == []
    for bit in range(pa_bits, 52):
        flipped = replace(obs, hpfar=obs.hpfar | 1 << (bit - 12 + esr.HPFAR_FIPA.shift))
        assert observation_allowed(STORE, outcomes, flipped), f"HPFAR_EL2.FIPA bit for PA bit {bit}"


def test_the_model_gives_a_stage2_fault_the_cpus_pa_size():
    """The stage 2 aborts the model makes carry the CPU's PAMax (ID_AA64MMFR0_EL1.PARange)."""
    from test_model_stage2 import A53_IDS, regs, s1_page, s2_page, tables
    from harness.model import Access, full_translate
    memory = tables(s1_page(0x80_0000_0000), s2_page(0x4100_0000, af=False))
    for ids, bits in ((A53_IDS, 40), ({**A53_IDS, "mmfr0": 0x1125}, 48)):
        aborts = [o for o in full_translate(regs(ids), memory, Access("load64", 0x8000_0000)) if isinstance(o, Abort)]
        assert aborts and {a.pa_bits for a in aborts} == {bits}


def test_hpfar_is_unknown_for_a_stage2_permission_fault_not_on_a_walk():
    # IPAValid: a Permission fault not on a stage 1 walk leaves HPFAR_EL2 UNKNOWN.
    abort = replace(ABORTS["stage2_data"], fsc=0x0F)
    outcomes, obs = Outcomes({abort}), _observed(abort)
    for flip in _flips("HPFAR"):
        assert observation_allowed(STORE, outcomes, replace(obs, hpfar=obs.hpfar ^ flip)) == []


AT = Step("at_s1e1r", VA, 0, Expect("par", pa=0x4100_0000))
PARS = {
    # F = 0: PA, ATTR and SH given; NS UNKNOWN and bit 10 IMPLEMENTATION DEFINED.
    "translated": Par(value=0xFF << 56 | 0x4100_0000 | 3 << 7, mask=par.PAR_OK_FIELDS, rule="r"),
    # F = 0 with SH left open by the rule (a reserved MAIR encoding, say).
    "sh_open": Par(value=0xFF << 56 | 0x4100_0000, mask=par.PAR_OK_FIELDS & ~par.PAR_SH.mask, rule="r"),
    # F = 1: FST, PTW and S; bits [63:48] IMPLEMENTATION DEFINED.
    "fault": Par(value=0x07 << 1 | 1, mask=par.PAR_FAULT_FIELDS, rule="r"),
}
FREE = {"translated": par.PAR_NS.mask | par.PAR_IMPDEF_OK.mask,
        "sh_open": par.PAR_NS.mask | par.PAR_IMPDEF_OK.mask | par.PAR_SH.mask,
        "fault": par.PAR_IMPDEF_FAULT.mask}


@pytest.mark.parametrize("name", PARS)
def test_par_every_defined_bit_is_judged(name):
    outcome = PARS[name]
    outcomes = Outcomes({outcome})
    raw = outcome.register().value
    assert raw & par.PAR_RES1.mask
    obs = Observation("par", par=par.decode_par(raw))
    assert observation_allowed(AT, outcomes, obs) == []
    for flip in _flips("PAR"):
        changed = Observation("par", par=par.decode_par(raw ^ flip))
        if FREE[name] & flip:
            assert observation_allowed(AT, outcomes, changed) == [], f"PAR_EL1 bit {flip.bit_length() - 1} is free"
        else:
            assert observation_allowed(AT, outcomes, changed), f"PAR_EL1 bit {flip.bit_length() - 1} of {name}"


CASE = """
feature = "decoded once"
[case.t]
summary = "a store to a read-only page: a Permission fault at level 3 (AArch64.S1CheckPermissions)"
map = [ { va = 0x8000_0000, to = "f", level = 3, ap = "ro_el1" } ]
steps = [ { do = "store8", va = 0x8000_0010, value = 1, expect = { fault = "permission", level = 3 } } ]
"""


def test_a_record_is_decoded_once_for_the_case_check_and_the_model(tmp_path, monkeypatch):
    from harness import crosscheck, declared, runner
    from harness.cases import load_file
    from harness.protocol import PROTOCOL_VERSION, parse_output
    path = tmp_path / "once.toml"
    path.write_text(CASE)
    (case,) = load_file(path)
    want = declared.case_registers(case, (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120))
    regs = " ".join(f"{k}={getattr(want, k):#x}" for k in ("tcr", "mair", "sctlr", "ttbr0", "ttbr1"))
    lines = ["boot el=1 midr=0x1 mmfr0=0x32310201126 mmfr1=0x11010211122 mmfr2=0x1021011010011011 "
             "isar0=0x1221111110212120 cases=1", f"begin case={case.id}", f"regs {regs}",
             f"step n=0 va=0x80000010 result=fault esr=0x9600004f far=0x80000010 elr=0x1",
             f"end case={case.id} steps=1"]
    output = parse_output("\n".join(f"MMUT {PROTOCOL_VERSION} {line}" for line in lines))
    records = output.cases()[case.id]
    decoded = []
    real = esr.decode_esr
    monkeypatch.setattr(esr, "decode_esr", lambda raw: decoded.append(raw) or real(raw))
    observations = runner._observations(case, records)
    (verdict,) = runner._step_verdicts(case, observations)
    views = crosscheck.step_views(case, records, output.boot, "9.0.0", observations)
    assert verdict.ok and views[0].model and not views[0].problems
    assert decoded == [0x9600004F]      # once, for the case's check and the model's alike
