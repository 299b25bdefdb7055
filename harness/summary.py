"""The runs at a glance: for each family of cases (a case file) and each run,
how many instances passed, failed only on a known QEMU bug, failed, or were
skipped.  `make compare` prints it first (harness/matrix.py) and
results/report.html opens with it (harness/report.py), from the same counts.

The kinds are pytest's outcomes as the results file records them: "xfailed"
is a case whose departures from the architecture the known-bug marks
explain; a strict XPASS, an error or any outcome this module does not know
counts as a failure, never as a pass.
"""
from collections import Counter

KINDS = ("pass", "known bug", "fail", "skip")
KIND_OF_OUTCOME = {"passed": "pass", "xfailed": "known bug", "skipped": "skip"}
ALL = "all"     # the row of every family together


def kind(outcome):
    """The summary's kind of a results entry's outcome: anything it does not know is a failure."""
    return KIND_OF_OUTCOME.get(outcome, "fail")


def family(case_id):
    return case_id.split(".", 1)[0]


def summary(runs):
    """(families, {family or ALL: [Counter of kinds, one per run]}): every family any run has."""
    families = sorted({family(e["id"]) for r in runs for e in r.doc["cases"]})
    counts = {f: [Counter() for _ in runs] for f in [*families, ALL]}
    for i, r in enumerate(runs):
        for e in r.doc["cases"]:
            k = kind(e["outcome"])
            counts[family(e["id"])][i][k] += 1
            counts[ALL][i][k] += 1
    return families, counts


def cell_text(counter):
    """"pass/known bug/fail/skip" counts of one cell."""
    return "/".join(str(counter[k]) for k in KINDS)


def summary_text(runs, names):
    """The terminal grid: families as rows, the runs (column `names`) as columns."""
    families, counts = summary(runs)
    rows = [(f, [cell_text(c) for c in counts[f]]) for f in [*families, ALL]]
    width = max(len(f) for f in ["family", *(f for f, _ in rows)])
    cell_w = max([len(n) for n in names] + [len(t) for _, cells in rows for t in cells], default=0)
    lines = [f"summary: instances per family and run ({'/'.join(KINDS)}):",
             f"{'family':<{width}}  " + "  ".join(f"{n:>{cell_w}}" for n in names)]
    for f, cells in rows:
        if f == ALL:
            lines.append("-" * (width + (cell_w + 2) * len(names)))
        lines.append(f"{f:<{width}}  " + "  ".join(f"{t:>{cell_w}}" for t in cells))
    return "\n".join(lines)
