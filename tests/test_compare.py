"""harness/compare.py: what differs between two runs, and which side is right."""
import json

from harness.compare import differences, main
from harness.results import SCHEMA


def run(outcome, observed, ok, expected="completes", model="completes (PA 0x41000000)"):
    step = {"n": 0, "op": "load64", "va": "0x1000", "expected": expected, "observed": observed, "ok": ok,
            "model": model}
    return {"schema": SCHEMA, "qemu_version": "7.2.22", "cpu": "max",
            "cases": [{"id": "f.c", "summary": "s", "outcome": outcome, "problems": [], "steps": [step]}]}


def test_same_runs_do_not_differ():
    assert differences(run("passed", "completes", True), run("passed", "completes", True)) == []


def test_second_right():
    diffs = differences(run("failed", "translation fault", False), run("passed", "completes", True))
    assert diffs[0] == ("f.c", "outcome failed -> passed")
    assert "(second right;" in diffs[1][1] and "'translation fault' -> 'completes'" in diffs[1][1]


def test_first_right():
    diffs = differences(run("passed", "completes", True), run("failed", "translation fault", False))
    assert "(first right;" in diffs[1][1]


def test_both_wrong():
    diffs = differences(run("failed", "translation fault", False), run("failed", "permission fault", False))
    assert len(diffs) == 1 and "(both wrong;" in diffs[0][1]


def test_both_permitted_only_by_the_model_that_judged_every_bit():
    # Both runs pass: the model, which judges PAR_EL1 whole, permits either SH (the rule says why).
    expected = "PAR_EL1.F=0, PA 0x41000000, ATTR 0x00 (Device-nGnRnE)"
    model = ("PAR_EL1.F=0, PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH inner | PAR_EL1.F=0, PA 0x41000000, "
             "ATTR 0x00 (Device-nGnRnE), SH outer [a reserved SH encoding: either]")
    a = run("passed", "PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH inner (PAR 0x41000b80)", True, expected, model)
    b = run("passed", "PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH outer (PAR 0x41000b00)", True, expected, model)
    (diff,) = differences(a, b)
    assert f"(both permitted: each is an outcome the model permits: {model};" in diff[1]
    assert "does not check" not in diff[1] and "first right" not in diff[1]


def test_both_permitted_when_a_one_of_permits_both():
    expected = "one of: completes | data abort (same EL): alignment fault (level not checked)"
    model = "completes (PA 0x41000000) | data abort (same EL): alignment fault (DFSC 0x21), WnR=0, FAR 0x1000"
    (diff,) = differences(run("passed", "completes", True, expected, model),
                          run("passed", "data abort (same EL): alignment fault (DFSC 0x21)", True, expected, model))
    assert f"both permitted: each is an outcome the model permits: {model}" in diff[1]


def test_a_difference_the_model_did_not_judge_is_not_called_right():
    (diff,) = differences(run("passed", "completes", True, model=None),
                          run("passed", "completes, value 0x1", True, model=None))
    assert "both match the case; the model did not judge this step" in diff[1]


def test_a_case_in_one_run_only():
    assert differences(run("passed", "x", True), {"cases": []}) == [("f.c", "only in the first run")]


def test_cli_exit_status_and_unreadable_file(tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(run("passed", "completes", True)))
    second.write_text(json.dumps(run("failed", "translation fault", False)))
    assert main([str(first), str(first)]) == 0
    assert main([str(first), str(second)]) == 1
    assert "f.c: step 0 load64 va=0x1000" in capsys.readouterr().out
    assert main([str(first), str(tmp_path / "missing.json")]) == 2
    assert f"error: {tmp_path / 'missing.json'}: cannot be read: No such file or directory" in capsys.readouterr().err
