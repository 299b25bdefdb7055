"""Results files handed to harness.compare, harness.matrix --show (which writes the HTML report)
and make bugs (harness.bugs --show), mutated (tests/bad_inputs.py): truncated JSON, fields
missing or of another type, another schema version, bytes that are not UTF-8.  Every outcome is
the tool's normal answer, or exit status 2 with one line on stderr naming the file; never a
traceback."""
import contextlib
import io
import json
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bad_inputs import BAD, Escapes, budget, mutate_doc, spoil_text, time_limit
from harness import bugs, compare, matrix
from harness.results import SCHEMA, ResultsError, read

FAULT = "data abort (same EL): translation fault, level 3 (DFSC 0x07), WnR=0, FAR 0x80000000"
CORPUS = sorted((BAD / "results").glob("*.json"))


def valid_doc(version="7.2.22"):
    """A small results document as the suite writes it (harness/results.py)."""
    step = {"n": 0, "op": "load64", "va": "0x80000000", "expected": FAULT, "observed": FAULT, "ok": True,
            "problems": [], "model": FAULT, "walk": ["L0[0] table 0x40102000"], "known_bugs": []}
    cases = [{"id": f"tlb.case{i}[x]", "nodeid": f"cases/tlb.toml::case{i}[x]", "file": "cases/tlb.toml",
              "summary": "A rule", "outcome": outcome, "reason": None, "wall": 0.1, "batch_size": 1,
              "fresh_boot": True, "rerun": None, "problems": [], "steps": [step] if outcome != "skipped" else []}
             for i, outcome in enumerate(("passed", "xfailed", "skipped"))]
    return {"schema": SCHEMA, "qemu": "qemu-system-aarch64", "qemu_version": version, "cpu": "max",
            "started": "2026-12-07T08:00:00+0000", "duration": 1.0, "interrupted": False,
            "counts": {"passed": 1, "xfailed": 1, "skipped": 1}, "cases": cases}


def tools(first, second, tmp_path):
    """(tool, argv) of every reader of results files, each given first and second."""
    cases = tmp_path / "cases"
    if not cases.exists():
        cases.mkdir()
        (cases / "tlb.toml").write_text((BAD.parent.parent.parent / "cases" / "at_par.toml").read_text())
    return [(compare.main, [str(first), str(second)]),
            (matrix.main, ["--show", str(first), str(second), "--cases", str(cases), "--results", str(tmp_path),
                           "--report", str(tmp_path / "report.html")]),
            (bugs.main, ["--show", str(first), str(second), "--cases", str(cases), "--results", str(tmp_path)])]


def judge(path, other, tmp_path):
    """Run every reader on (path, other): "refused" (exit 2, one line naming path) or "read"."""
    outcomes = set()
    for tool, argv in tools(path, other, tmp_path):
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), time_limit(60):
            status = tool(argv)
        if status == 2:
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), \
                f"{tool.__module__}: exit 2 without one line naming {path}:\n{err.getvalue()}"
            outcomes.add("refused")
        else:
            assert status in (0, 1), f"{tool.__module__} exited {status}"
            outcomes.add("read")
    assert len(outcomes) == 1, f"the tools disagree about {path}: {outcomes}"
    return outcomes.pop()


def test_a_valid_results_file_is_read(tmp_path):
    path, other = tmp_path / "a.json", tmp_path / "b.json"
    path.write_text(json.dumps(valid_doc()))
    other.write_text(json.dumps(valid_doc("11.1.3")))
    assert read(path)["cases"][0]["id"] == "tlb.case0[x]"
    assert judge(path, other, tmp_path) == "read"


@pytest.mark.parametrize("doc, message", [
    ({**valid_doc(), "schema": 2}, "schema version 2, this suite reads version 1"),
    ({k: v for k, v in valid_doc().items() if k != "schema"}, "no schema version"),
    ({**valid_doc(), "cases": {}}, "cases must be an array, not an object"),
    ([], "not a results document (an array, not an object)"),
])
def test_named_problems(tmp_path, doc, message):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(path)


def test_truncated_results_file(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(valid_doc())[:500])
    with pytest.raises(ResultsError, match=r"not a complete JSON document \(line 1, column \d+"):
        read(path)


def test_mutated_results_files_are_refused_or_read(tmp_path):
    tally, escapes = Counter(), Escapes(tmp_path / "escapes")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(valid_doc("11.1.3")))

    @budget(60)
    @given(st.data())
    def one(data):
        doc = valid_doc()
        done = [mutate_doc(data, doc) for _ in range(data.draw(st.integers(1, 3)))]
        raw = json.dumps(doc, default=str).encode()
        if data.draw(st.integers(0, 4)) == 0:
            raw, kind = spoil_text(data, raw.decode())
            done.append(kind)
        path = tmp_path / "mutated.json"
        path.write_bytes(raw)
        try:
            tally[judge(path, other, tmp_path)] += 1
        except Exception as e:      # the property: anything else is an escape, kept and told below
            tally["escaped"] += 1
            escapes.keep(e, "results.json", raw, done)

    one()
    print(f"\n{sum(tally.values())} mutated results files: {tally['refused']} refused in one line, "
          f"{tally['read']} read, {tally['escaped']} escapes")
    assert not escapes, escapes.report()


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_results_that_once_escaped_are_refused(path):
    with pytest.raises(ResultsError, match=f"^{path}: "):
        read(path)
