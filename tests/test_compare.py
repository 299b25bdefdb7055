"""harness/compare.py: what differs between two runs, and which side is right."""
from harness.compare import differences


def run(outcome, observed, ok):
    return {"cases": [{"id": "f.c", "outcome": outcome, "steps": [
        {"n": 0, "op": "load64", "va": "0x1000", "expected": "completes", "observed": observed, "ok": ok}]}]}


def test_same_runs_do_not_differ():
    assert differences(run("passed", "completes", True), run("passed", "completes", True)) == []


def test_a_changed_step_says_which_side_is_right():
    diffs = differences(run("failed", "translation fault", False), run("passed", "completes", True))
    assert diffs[0] == ("f.c", "outcome failed -> passed")
    assert "second right" in diffs[1][1] and "'translation fault' -> 'completes'" in diffs[1][1]


def test_a_case_in_one_run_only():
    assert differences(run("passed", "x", True), {"cases": []}) == [("f.c", "only in the first run")]
