"""The same suite run on the same QEMU gives the same answers, case by case and
step by step, whatever the order and the worker each case lands on (-n 2)."""
from suite_run import ROOT, suite, suite_options  # noqa: F401  (fixtures)

RUNS = 3


def answers(run):
    """{case ID: (outcome, every step's observed text)}: what a run says about each case."""
    return {c["id"]: (c["outcome"], [s["observed"] for s in c["steps"]]) for c in run.results["cases"]}


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
