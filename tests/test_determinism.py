"""The same suite run on the same QEMU gives the same answers, case by case and
step by step, whatever the order and the worker each case lands on (-n 2)."""
from harness.cases import load_dir
from suite_run import ROOT, suite, suite_options  # noqa: F401  (fixtures)
from test_batch import observed

RUNS = 3


def answers(run):
    """{case ID: (outcome, every step's verdict, what the kernel reported of each step that has one
    permitted outcome)}: what a run says about each case.  Of a step whose case permits several (a
    one_of), which one QEMU gives may differ from run to run (7.2.22 evicts TLB entries by what ran
    before: tlb_range.range_bounds' page past the range gave the old value in one run, the new in the
    next), so its verdict is compared, not its observation (tests/test_batch.py does the same)."""
    cases = {c.id: c for c in load_dir(ROOT / "cases")}
    return {c["id"]: (c["outcome"], [s.get("verdict") for s in c["steps"]], observed(c, cases[c["id"]]))
            for c in run.results["cases"]}


def test_three_runs_agree(suite):
    # One work directory: the kernel is built once, and each run's results are read before the next.
    runs = [suite("-n", "2", cases=ROOT / "cases") for _ in range(RUNS)]
    first = answers(runs[0])
    assert first, runs[0].output
    for n, run in enumerate(runs[1:], 2):
        assert run.returncode == runs[0].returncode, run.output
        differ = {case: (first.get(case), got) for case, got in answers(run).items() if first.get(case) != got}
        assert answers(run).keys() == first.keys()
        assert not differ, f"run {n} differs from run 1 (run 1, run {n}): {differ}"
