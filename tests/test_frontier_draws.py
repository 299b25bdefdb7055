"""The generator's draws of the frontier features (harness/fuzz/frontier.py): on QEMU 11.1.3's
-cpu max it draws PIE (every PIR/PIRE0 encoding, the kernel's indices kept), AIE with MAIR2 and
AttrIndx 8-15, and GCS data accesses (stores, GCSPUSHM, GCSPOPM), in cases the loader takes back and the model predicts; on a CPU
without those features it draws nothing of them and no random number for them."""
import collections

from harness.cases.translation import KERNEL_PI
from harness.fuzz.generate import Cpu, generate_case
from harness.fuzz.toml_writer import case_text, write_case_file
from harness.model import Abort, Completes
from harness.model.outcome import EC_GCS
from harness.model.indirect import pir_field
from harness.predict import TooManyStates, predict_case
from harness.ops import GCS_ACCESSES, GCS_EX_RECORDS, GCS_POINTER_OPS, GCS_PUSH_POP
from tests.test_model_agreement import CPUS

SID = Cpu(*CPUS["max-11.1.3"])
MAX_7_2 = Cpu(*CPUS["max"])
N = 200


def test_a_cpu_without_the_features_draws_none_of_them():
    for i in range(N):
        case = generate_case(9, i, MAX_7_2)
        assert not case.regime.pie and not case.regime.aie and not case.regime.mair2
        assert not any(s.op in GCS_ACCESSES for s in case.steps)


def test_qemu_11_1_3_draws_pie_aie_and_gcs_stores_in_cases_that_load_back(tmp_path):
    seen = collections.Counter()
    encodings = set()
    for i in range(N):
        case = generate_case(9, i, SID)
        r = case.regime
        back, = write_case_file(tmp_path / f"{i}.toml", case_text(case))
        assert (back.regime, back.maps, back.requires) == (r, case.maps, case.requires)
        if r.pie:
            seen["pie"] += 1
            assert "FEAT_S1PIE" in case.requires
            kernel = KERNEL_PI[case.el2]
            assert all(pir_field(r.pir, i) == e for i, e in kernel["pir"].items())
            assert all(pir_field(r.pire0, i) == e for i, e in kernel["pire0"].items())
            encodings |= {pir_field(r.pir, i) for i in range(16)}
        if r.aie:
            seen["aie"] += 1
            seen["attrindx 8-15"] += any(m.attrindx > 7 for m in case.maps)
        gcs = [s for s in case.steps if s.op in ("gcsstr", "gcssttr")]
        if gcs:
            seen["gcs"] += 1
            assert "FEAT_GCS" in case.requires and case.stage2 is None     # not under stage 2 (beyond the model)
    assert seen["pie"] > N // 10 and seen["aie"] > N // 10 and seen["attrindx 8-15"] and seen["gcs"]
    assert encodings == set(range(16))      # every encoding, reserved ones included


def test_some_drawn_gcs_stores_complete_on_a_gcs_page():
    """The model's prediction for the drawn GCS stores: some complete (a GCS page under PIE),
    most fault; every fault, a TLB conflict abort's too, has ESR_ELx.ISS2.GCS = 1."""
    complete = faults = 0
    for i in range(400):
        case = generate_case(7, i, SID)
        if not any(s.op.startswith("gcs") for s in case.steps):
            continue
        try:
            predictions = predict_case(case, SID.ids)
        except TooManyStates:
            continue
        for step, outcomes in zip(case.steps, predictions):
            if step.op.startswith("gcs"):
                complete += any(isinstance(o, Completes) for o in outcomes)
                aborts = [o for o in outcomes if hasattr(o, "gcs")]
                faults += bool(aborts)
                assert all(o.gcs for o in aborts)
    assert complete and faults


def test_drawn_gcs_stack_ops_use_the_el10_regimes_gcs_at_gcsprs_va(tmp_path):
    """GCSPUSHM, GCSPOPM, GCSSS2 and the exception return records (GCSPUSHX, GCSPOPX, GCSPOPCX: at EL1, a record
    in one page), drawn only in the EL1&0 regime without a stage 2 (whose Guarded Control Stack the kernel enables
    for the step), at a multiple of 8 (GCSPR_ELx's VA), untagged, in cases the loader takes back; the model's
    prediction for them: some complete, most fault, every Data Abort with ISS2.GCS = 1 (a GCS Data Check is rare
    for GCSPOPM: cases/gcs.toml pop_data_check makes one)."""
    kinds, ops = collections.Counter(), collections.Counter()
    for seed in (7, 9):
        for i in range(1500):
            case = generate_case(seed, i, SID)
            steps = [n for n, s in enumerate(case.steps) if s.op in GCS_POINTER_OPS]
            if not steps:
                continue
            assert case.el2 is None and case.stage2 is None and "FEAT_GCS" in case.requires
            back, = write_case_file(tmp_path / f"{seed}-{i}.toml", case_text(case))
            assert [(s.op, s.va, s.el) for s in back.steps] == [(s.op, s.va, s.el) for s in case.steps]
            for n in steps:
                step = case.steps[n]
                ops[step.op] += 1
                low = step.va - 24 if step.op == "gcspushx" else step.va
                assert step.op not in GCS_EX_RECORDS or (step.el == 1 and low >> 12 == (low + 31) >> 12), step
                assert step.op != "gcspopx" or step.value == 0, step
            try:
                predictions = predict_case(case, SID.ids)
            except TooManyStates:
                continue
            for n in steps:
                assert case.steps[n].va % 8 == 0 and case.steps[n].va >> 56 in (0, 0xFF), case.steps[n]
                for o in predictions[n]:
                    kind = type(o).__name__ if not isinstance(o, Abort) else o.fault[0]
                    kinds[kind] += 1
                    assert not isinstance(o, Abort) or o.ec == EC_GCS or o.gcs, o
    assert kinds["Completes"] and kinds["permission"], kinds
    assert set(ops) == set(GCS_POINTER_OPS), ops


def test_the_campaign_mix_counts_the_frontier_draws():
    """fuzz/mix.py names them (PIE, AIE, GCS store, GCS push/pop: GCSPUSHM and GCSPOPM are neither a plain store
    nor a plain load) and expects them of a campaign on a CPU with the features."""
    from collections import Counter
    from harness.fuzz.mix import _step_kind, coverage, missing
    total = sum((coverage(generate_case(9, i, SID)) for i in range(N)), Counter())
    frontier = {"control: PIE", "control: AIE", "step: GCS store", "step: GCS push/pop"}
    assert total["control", "PIE"] and total["control", "AIE"] and total["step", "GCS store"]
    assert total["step", "GCS push/pop"]
    assert not frontier & set(missing(total, SID))
    assert not frontier & set(missing(Counter(), MAX_7_2))
    assert {_step_kind(s) for i in range(N) for s in generate_case(9, i, SID).steps
            if s.op in GCS_PUSH_POP} == {"GCS push/pop"}
