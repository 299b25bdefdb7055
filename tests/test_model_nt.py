"""The nT bit of a Block descriptor (FEAT_BBML1): J1.1.4.71 AArch64.nTFaults in AArch64.S1Walk and S2Walk.
With FEAT_BBML1 a block whose bit 16 is set takes a Translation fault at its level where the implementation
says so ("nT bit causes Translation Fault", IMPLEMENTATION DEFINED: D8.7.3 R_MRRPW, D8.15 R_FDQJL), before
the output address and Access flag checks; without FEAT_BBML1 the bit is RES0 and nTFaults is FALSE."""
from pathlib import Path

import pytest

from harness import esr
from harness.cases import load_file
from harness.model.outcome import Abort, Completes, Par
from harness.model.walk import NT_RULE
from harness.predict import predict_case
from tests.test_tlb import MAX, NO_BBML1

REPO = Path(__file__).resolve().parent.parent


def _case(name):
    return next(c for c in load_file(REPO / "cases/bbm.toml") if c.id == f"bbm.{name}")


def _kinds(outcomes):
    """Each outcome as ('translation', level, stage), 'completes' or ('par', F)."""
    out = set()
    for o in outcomes:
        if isinstance(o, Abort):
            out.add((*esr.decode_fsc(o.fsc), o.stage))
        elif isinstance(o, Par):
            out.add(("par", o.value & 1))
        else:
            out.add("completes" if isinstance(o, Completes) else type(o).__name__)
    return out


@pytest.mark.parametrize("ids, faults", [(MAX, True), (NO_BBML1, False)])
def test_a_block_with_the_nt_bit_may_fault_with_bbml1_alone(ids, faults):
    """bbm.nt_block: the load and the AT after nT is set offer the level 2 Translation fault beside the block's
    translation where ID_AA64MMFR2_EL1.BBM >= 1 (with NT_RULE), the translation alone without it; once
    the bit is cleared again, the translation alone."""
    case = _case("nt_block")
    predictions = predict_case(case, ids)
    load, at, last = [n for n, s in enumerate(case.steps) if s.op in ("load64", "at_s1e1r")]
    assert _kinds(predictions[load]) == ({("translation", 2, 1)} if faults else set()) | {"completes"}
    assert _kinds(predictions[at]) == ({("par", 1)} if faults else set()) | {("par", 0)}
    assert (NT_RULE in (predictions[load].rule or "")) is faults
    assert _kinds(predictions[last]) == {"completes"}


@pytest.mark.parametrize("ids, faults", [(MAX, True), (NO_BBML1, False)])
def test_a_stage_2_block_with_the_nt_bit_may_fault_at_stage_2_with_bbml1_alone(ids, faults):
    """bbm.s2_nt_block: AArch64.S2Walk's nTFaults: a stage 2 Translation fault at level 2 (to EL2) or the block."""
    case = _case("s2_nt_block")
    predictions = predict_case(case, ids)
    load, last = [n for n, s in enumerate(case.steps) if s.op == "load64"]
    assert _kinds(predictions[load]) == ({("translation", 2, 2)} if faults else set()) | {"completes"}
    assert _kinds(predictions[last]) == {"completes"}


def test_the_nt_fault_comes_before_the_access_flag_check(tmp_path):
    """AArch64.S1Walk checks nTFaults before the Access flag: a block with nT = 1 and AF = 0 (HA = 0) gives the
    Translation fault where the implementation's nT faults, the Access flag fault where it does not."""
    text = (REPO / "cases/bbm.toml").read_text()
    text = text.replace('desc = "big | 0x10705"', 'desc = "big | 0x10305"')     # AF = 0
    path = tmp_path / "bbm.toml"
    path.write_text(text)
    case = next(c for c in load_file(path) if c.id == "bbm.nt_block")
    load = next(n for n, s in enumerate(case.steps) if s.op == "load64")
    assert _kinds(predict_case(case, MAX)[load]) == {("translation", 2, 1), ("access_flag", 2, 1)}
