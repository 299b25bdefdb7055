"""harness/matrix.py on results documents made here: which instances differ,
what each cell says about the architecture, and the known-bug range checks."""
import re
from pathlib import Path
from types import SimpleNamespace

from harness.matrix import (BREAKS, MATCHES, NOT_RUN, Run, architecture, bug_range_findings, differs,
                            matrix_text)

FAULT = "data abort (same EL): translation fault, level 0 (DFSC 0x04), WnR=0, FAR 0x80000000"
PAR = "PAR_EL1.F=0, PA 0x41000000, ATTR 0x00 (Device-nGnRnE)"


def entry(outcome, *steps, problems=(), model="the model's outcomes"):
    return {"id": "f.c", "summary": "s", "outcome": outcome, "reason": None, "problems": list(problems),
            "steps": [{"n": n, "op": "load64", "va": "0x80000000", "expected": expected, "observed": observed,
                       "ok": ok, "problems": [], "model": model} for n, (expected, observed, ok) in enumerate(steps)]}


def run(version, *entries, cpu="max"):
    return Run(Path(f"results/{version}-{cpu}.json"),
               {"qemu_version": version, "cpu": cpu, "counts": {}, "cases": list(entries)})


BROKEN = entry("xfailed", (FAULT, "completes, value 0x0", False))
BROKEN["steps"][0]["known_bugs"] = ["b"]        # the model explains the step by the case's bug
FIXED = entry("passed", (FAULT, FAULT, True))
STRICT_XPASS = entry("failed", (FAULT, FAULT, True))


def test_architecture_is_judged_from_the_steps():
    assert architecture(FIXED) == MATCHES
    assert architecture(BROKEN) == BREAKS
    assert architecture(STRICT_XPASS) == MATCHES        # pytest's "failed", yet as the architecture says
    assert architecture(entry("skipped")) == NOT_RUN
    assert architecture(None) == NOT_RUN
    assert architecture(entry("failed", problems=["QEMU timed out"])) == BREAKS


def test_differs_by_outcome_or_observation():
    assert not differs([FIXED, FIXED], ["max", "max"])
    assert differs([BROKEN, FIXED], ["max", "max"])
    assert differs([FIXED, STRICT_XPASS], ["max", "max"])        # same steps, other outcome
    assert differs([FIXED, None], ["max", "max"])


def test_a_cpu_that_lacks_a_feature_is_no_difference():
    skipped = entry("skipped")
    assert not differs([FIXED, skipped, FIXED, skipped], ["max", "cortex-a53", "max", "cortex-a53"])
    # The same CPU model running it on one QEMU and skipping it on another is.
    assert differs([FIXED, skipped], ["cortex-a53", "cortex-a53"])


def test_matrix_says_which_runs_match():
    text = matrix_text([run("7.2.22", BROKEN), run("11.1.3", FIXED)])
    assert "1 of 1 case instances differ" in text
    assert re.search(r"^f\.c +xfail ✗ +pass ✓$", text, re.M)
    assert "✗ A: completes, value 0x0" in text and f"✓ B: {FAULT}" in text
    assert "all match" not in text and "none matches" not in text


def test_matrix_never_guesses_when_both_or_neither_match():
    model = "PAR_EL1.F=0, PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH inner | ..., SH outer [the rule]"
    sh_inner = entry("passed", (PAR, "PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH inner (PAR 0x41000b80)", True),
                     model=model)
    sh_outer = entry("passed", (PAR, "PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH outer (PAR 0x41000b00)", True),
                     model=model)
    text = matrix_text([run("7.2.22", sh_inner), run("11.1.3", sh_outer)])
    assert f"all match the architecture: each is an outcome the model permits: {model}" in text
    unjudged = [entry("passed", (PAR, observed, True), model=None) for observed in ("SH inner", "SH outer")]
    text = matrix_text([run("7.2.22", unjudged[0]), run("11.1.3", unjudged[1])])
    assert "the model did not judge this step, so the difference is unjudged" in text
    assert "all match the architecture" not in text
    wrong_a = entry("failed", (FAULT, "completes", False))
    wrong_b = entry("failed", (FAULT, "permission fault", False))
    assert "none matches the architecture" in matrix_text([run("7.2.22", wrong_a), run("11.1.3", wrong_b)])


def test_a_known_bug_in_a_field_the_case_leaves_unchecked_is_no_match():
    """The case checks the PA alone, so both runs pass; the model names run A's SH as its known bug."""
    sh_inner = entry("passed", (PAR, "PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH inner (PAR 0x41000b80)", True))
    sh_reserved = entry("passed", (PAR, "PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH 0b01 (PAR 0x41000a80)", True))
    sh_reserved["steps"][0]["known_bugs"] = ["par_sh"]
    assert architecture(sh_reserved) == BREAKS
    text = matrix_text([run("7.2.22", sh_reserved), run("11.1.3", sh_inner)])
    assert re.search(r"^f\.c +pass ✗ +pass ✓$", text, re.M)
    assert "✗ A: PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH 0b01 (PAR 0x41000a80) (the model: known bug par_sh)" in text
    assert "all match" not in text


def test_no_differences():
    assert "no case instance differs between the runs (1 instances)" in \
        matrix_text([run("7.2.22", FIXED), run("11.1.3", FIXED)])


def bug(rng, features=()):
    return [SimpleNamespace(id="f.c", xfail=SimpleNamespace(name="b", qemu=rng, features=features))]


def test_a_range_pinned_to_the_broken_run_is_narrowed_to_the_first_fixed_release():
    runs = [run("7.2.22", BROKEN), run("10.0.2", FIXED), run("11.1.3", FIXED)]
    (finding,) = bug_range_findings(runs, bug("<=7.2.22"))
    assert finding == ("f.c", 'the runs show it broken up to 7.2.22 and fixed from 10.0.2: write qemu = "<10.0.2"')


def test_a_range_from_a_known_fix_is_left_alone():
    runs = [run("7.2.22", BROKEN), run("10.0.2", FIXED)]
    assert bug_range_findings(runs, bug("<8.2")) == []


def test_a_range_covering_a_fixed_run_is_reported():
    runs = [run("7.2.22", BROKEN), run("10.0.2", STRICT_XPASS)]
    findings = [text for _, text in bug_range_findings(runs, bug("<11"))]
    assert any("covers 10.0.2 -cpu max, which matches the architecture (strict XPASS)" in t for t in findings)
    assert any('write qemu = "<10.0.2"' in t for t in findings)


def test_a_broken_run_outside_the_range_is_reported():
    runs = [run("7.2.22", BROKEN), run("11.1.3", entry("failed", (FAULT, "completes", False)))]
    findings = [text for _, text in bug_range_findings(runs, bug("<8.2"))]
    assert findings == ['11.1.3 -cpu max does not match the architecture and is outside the known-bug range '
                        'qemu = "<8.2"']


def test_a_departure_inside_the_range_that_the_bug_does_not_explain_is_reported():
    """Audit finding 1: any departure inside a bug's range read as the bug."""
    other = entry("failed", (FAULT, "completes, value 0x0", False))      # no step explained by the bug
    findings = [text for _, text in bug_range_findings([run("7.2.22", other), run("10.0.2", FIXED)], bug("<10.0.2"))]
    assert findings == ['7.2.22 -cpu max departs from the architecture inside the known-bug range qemu = "<10.0.2", '
                        'but [bug.b] explains none of its steps: another departure, not this bug']
    assert bug_range_findings([run("7.2.22", BROKEN), run("10.0.2", FIXED)], bug("<10.0.2")) == []


def test_a_regression_on_the_same_cpu():
    broken = entry("failed", (FAULT, "completes", False))
    findings = bug_range_findings([run("11.1.3", broken), run("7.2.22", FIXED), run("10.0.2", FIXED)], [])
    assert findings == [("f.c", "regression: 10.0.2 -cpu max matches the architecture, 11.1.3 -cpu max does not")]
    # Another CPU is another machine, not a newer QEMU.
    assert bug_range_findings([run("7.2.22", FIXED), run("11.1.3", broken, cpu="cortex-a53")], []) == []


def test_a_run_that_collects_no_tests_is_a_failure(tmp_path, monkeypatch, capsys):
    from harness.matrix import main
    qemu = tmp_path / "qemu-system-aarch64"
    qemu.write_text("#!/bin/sh\necho 'QEMU emulator version 9.9.9'\n")
    qemu.chmod(0o755)
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexit 5\n")      # pytest's status when it collected no tests
    python.chmod(0o755)
    status = main(["--qemus", str(qemu), "--cpus", "max", "--python", str(python),
                   "--results", str(tmp_path / "results")])
    out = capsys.readouterr().out
    assert status == 1
    assert "-cpu max: pytest exit status 5" in out and "wrote no results" in out


def test_a_run_on_a_cpu_without_the_marks_features_is_no_evidence_about_its_range():
    """A case-file mark that names CPU features (`features`) does not apply to a run on a CPU without them
    (its entry's mark says so): the case passing there inside the range asks nothing of the range."""
    lacking = {**STRICT_XPASS, "outcome": "passed", "mark": {"name": "b", "qemu": "<11", "applies": False}}
    runs = [run("7.2.22", BROKEN), run("10.0.2", lacking, cpu="neoverse-n1")]
    assert bug_range_findings(runs, bug("<11", ("FEAT_LSE2",))) == []
    applying = {**STRICT_XPASS, "mark": {"name": "b", "qemu": "<11", "applies": True}}
    findings = [text for _, text in bug_range_findings([run("7.2.22", BROKEN), run("10.0.2", applying)],
                                                        bug("<11", ("FEAT_LSE2",)))]
    assert any("covers 10.0.2 -cpu max, which matches the architecture" in t for t in findings)


def test_a_run_on_a_cpu_without_the_marks_features_outside_its_range_is_no_evidence_either():
    """QEMU 7.2.22's -cpu max lacks FEAT_LSE2, so it passes a case marked with a FEAT_LSE2 bug of ">=10.0.2":
    that says nothing of the bug's history (no "broken and fixed in no single version order") nor of a
    regression in 10.0.2, whose max has the feature."""
    without = {**FIXED, "mark": {"name": "b", "qemu": ">=10.0.2", "applies": False, "cpu_has_features": False}}
    broken = {**BROKEN, "mark": {"name": "b", "qemu": ">=10.0.2", "applies": True, "cpu_has_features": True}}
    runs = [run("7.2.22", without), run("10.0.2", broken), run("11.1.3", broken)]
    assert bug_range_findings(runs, bug(">=10.0.2", ("FEAT_LSE2",))) == []
    # The same runs on CPUs that all have the feature: 7.2.22 matching is evidence, the regression is named.
    has = {**FIXED, "mark": {**without["mark"], "cpu_has_features": True}}
    findings = [text for _, text in bug_range_findings([run("7.2.22", has), run("10.0.2", broken)],
                                                        bug(">=10.0.2", ("FEAT_LSE2",)))]
    assert any(t.startswith("regression: 7.2.22 -cpu max matches the architecture") for t in findings)


def test_a_bug_broken_in_one_stretch_of_releases_is_one_range():
    """A regression fixed later (at_s12_permission_abort: 7.2.22 right, 10.0.2 wrong, 10.0.13 right) or not yet
    (11.1.3 alone wrong) is one stretch of releases: nothing to say where the mark's range is that stretch, the
    range to write where it is not; only broken, fixed and broken again is no single order."""
    fixed = {**FIXED, "mark": {"name": "b", "qemu": ">7.2.22,<10.0.13", "applies": False}}
    runs = [run("7.2.22", fixed), run("10.0.2", BROKEN), run("10.0.13", fixed), run("11.1.3", fixed)]
    assert [t for _, t in bug_range_findings(runs, bug(">7.2.22,<10.0.13")) if "regression" not in t] == []
    findings = [t for _, t in bug_range_findings(runs, bug("<10.0.13"))]
    assert any('broken from 10.0.2 to 10.0.2, fixed in the runs before and after: write qemu = ">7.2.22,<10.0.13"'
               in t for t in findings)
    suffix = [run("10.0.13", fixed), run("11.1.3", BROKEN)]
    assert any('write qemu = ">10.0.13"' in t for _, t in bug_range_findings(suffix, bug(">=11.2")))
    again = [run("7.2.22", BROKEN), run("10.0.2", fixed), run("11.1.3", BROKEN)]
    assert any("no single version order" in t for _, t in bug_range_findings(again, bug("<=11.1.3")))
