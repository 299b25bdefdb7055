"""harness/summary.py: the families x runs counts that `make compare` and the report open with."""
import re
from pathlib import Path

from harness.matrix import Run, matrix_text
from harness.summary import ALL, KINDS, kind, summary, summary_text


def run(version, outcomes):
    cases = [{"id": case_id, "summary": "s", "outcome": outcome, "reason": None, "problems": [], "steps": []}
             for case_id, outcome in outcomes.items()]
    counts = {}
    for c in cases:
        counts[c["outcome"]] = counts.get(c["outcome"], 0) + 1
    return Run(Path(f"results/{version}-max.json"), {"qemu_version": version, "cpu": "max", "counts": counts,
                                                     "cases": cases})


OLDER = run("7.2.22", {"a.x": "passed", "a.y": "xfailed", "b.z": "skipped", "b.w": "failed"})
NEWER = run("11.1.3", {"a.x": "passed", "a.y": "passed", "b.z": "passed", "b.w": "error", "c.v": "xpassed"})


def test_kinds_never_count_an_unknown_outcome_as_a_pass():
    assert [kind(o) for o in ("passed", "xfailed", "skipped", "failed", "error", "xpassed", "unjudged")] == \
        ["pass", "known bug", "skip", "fail", "fail", "fail", "fail"]


def test_the_counts_are_the_results():
    families, counts = summary([OLDER, NEWER])
    assert families == ["a", "b", "c"]
    assert [counts["a"][0][k] for k in KINDS] == [1, 1, 0, 0]
    assert [counts["b"][1][k] for k in KINDS] == [1, 0, 1, 0]
    assert counts["c"][0] == {}                 # not in the older run
    for i, r in enumerate((OLDER, NEWER)):      # the "all" row sums to the results' own counts
        by_kind = dict.fromkeys(KINDS, 0)
        for outcome, n in r.doc["counts"].items():
            by_kind[kind(outcome)] += n
        assert {k: counts[ALL][i][k] for k in KINDS} == by_kind


def test_compare_leads_with_the_summary():
    text = summary_text([OLDER, NEWER], ["A", "B"])
    assert re.search(r"^a +1/1/0/0 +2/0/0/0$", text, re.M)
    assert re.search(r"^all +1/1/1/1 +3/0/2/0$", text, re.M)
    matrix = matrix_text([OLDER, NEWER])
    assert matrix.index(text) < matrix.index("case instances differ")
