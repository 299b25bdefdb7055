"""harness/bugs.py, the known-bug catalogue: the case files' marks, and which runs show each bug,
read from the model's per-step explanations rather than from the xfail marks."""
import json
import re
from pathlib import Path

import pytest

from harness import bugs
from harness.bugs import FIXED, SHOWS, UNEXPLAINED, KnownBug, build_text, catalogue, catalogue_text, seen
from harness.cases import load_dir
from harness.matrix import NOT_RUN, Run
from harness.results import SCHEMA

ROOT = Path(__file__).resolve().parent.parent
SH = "PA 0x41000000, ATTR 0x00 (Device-nGnRnE), SH inner (PAR 0x41000b80)"


def step(n, observed, ok, known_bugs=()):
    return {"n": n, "op": "at_s1e1r", "va": "0x80000000", "expected": "PAR_EL1.F=0, SH outer", "observed": observed,
            "ok": ok, "problems": [], "known_bugs": list(known_bugs)}


def entry(case_id, outcome, *steps, problems=()):
    return {"id": case_id, "summary": "s", "outcome": outcome, "reason": None, "problems": list(problems),
            "steps": list(steps)}


def run(version, *entries):
    return Run(Path(f"results/{version}-max.json"), {"schema": SCHEMA, "qemu_version": version, "cpu": "max", "qemu": "q",
                                                     "counts": {}, "cases": list(entries)})


PAR_SH = KnownBug("par_sh", "J1.3.5.3 PAREncodeShareability", {"at_par.toml": "<8.2"}, {"at_par.toml": "r"},
                  ["at_par.device"], "reports the descriptor's SH")


def test_every_mark_of_the_case_files_is_catalogued_with_its_rule():
    cases = load_dir(ROOT / "cases")
    found = catalogue(cases)
    marked = {c.xfail.name for c in cases if c.xfail is not None}
    assert {b.name for b in found} == marked
    for b in found:
        assert b.rule and re.match(r"^J\d+(\.\d+)+ ", b.rule), f"[bug.{b.name}] names no M.a.a section: {b.rule}"
        assert b.cases and b.behaviour
    par_sh = next(b for b in found if b.name == "par_sh")
    assert par_sh.first_fixed == "8.2" and "at_par.toml" in par_sh.ranges and "el2.toml" in par_sh.ranges


@pytest.mark.parametrize("ranges, fixed", [(["<8.2"], "8.2"), (["<=11.1.3"], None), ([">7.2.22,<10.0.13"], "10.0.13"),
                                           (["<8.2", "<9.0"], "9.0"), ([">=7.0"], None)])
def test_first_fixed_is_the_ranges_upper_bound(ranges, fixed):
    assert KnownBug("b", None, {f"f{i}.toml": r for i, r in enumerate(ranges)}).first_fixed == fixed


def test_a_run_shows_a_bug_where_the_model_explains_a_step_by_it():
    # Not xfailed (the case checks no SH), yet the model explains the step by par_sh: shown.
    passed = run("7.2.22", entry("at_par.device", "passed", step(0, SH, True, ["par_sh"])))
    assert seen(PAR_SH, passed).state == SHOWS and seen(PAR_SH, passed).steps == [("at_par.device", 0)]
    # Two bugs at once explain a step: each is shown.
    both = run("7.2.22", entry("other.case", "xfailed", step(0, SH, False, ["l0_block+par_sh"])))
    assert seen(PAR_SH, both).state == SHOWS
    # The model explains how a run ended (QEMU aborted): the results' per-case known_bugs say "run".
    aborted = entry("at_par.device", "xfailed", step(0, "no record", False), problems=["QEMU killed by SIGABRT"])
    aborted["known_bugs"] = {"par_sh": ["run"]}
    assert seen(PAR_SH, run("10.0.2", aborted)).steps == [("at_par.device", "run")]
    assert bugs.seen_text(seen(PAR_SH, run("10.0.2", aborted))) == "shows it: how 1 run ended"
    assert bugs.steps_lines(seen(PAR_SH, run("10.0.2", aborted))) == ["at_par.device: how the run ended"]
    two = run("7.2.22", entry("at_par.device", "xfailed", step(0, SH, False, ["par_sh"]), step(2, SH, False, ["par_sh"])))
    assert bugs.steps_lines(seen(PAR_SH, two)) == ["at_par.device: steps 0, 2"]


def test_an_xfail_mark_alone_shows_no_bug():
    # xfailed, but no step explained by the bug (a QEMU that never ran the case): it departs, unexplained.
    never = run("7.2.22", entry("at_par.device", "xfailed", step(0, "no record", False),
                                problems=["the kernel never started this case"]))
    assert seen(PAR_SH, never).state == UNEXPLAINED
    fixed = run("11.1.3", entry("at_par.device", "passed", step(0, "SH outer", True)))
    assert seen(PAR_SH, fixed).state == FIXED
    assert seen(PAR_SH, run("11.1.3", entry("at_par.device", "skipped"))).state == NOT_RUN


def test_the_catalogue_lists_each_bug_with_the_runs_that_show_it():
    runs = [run("7.2.22", entry("at_par.device", "xfailed", step(0, SH, False, ["par_sh"]))),
            run("11.1.3", entry("at_par.device", "passed", step(0, "SH outer", True)))]
    text = catalogue_text([PAR_SH], runs)
    assert re.search(r"^par_sh +8\.2 +yes +no$", text, re.M)
    assert "rule broken: J1.3.5.3 PAREncodeShareability" in text
    assert re.search(r"^  QEMU 7\.2\.22 +shows it: 1 step in 1 instance\n      at_par\.device: step 0$", text, re.M)
    assert re.search(r"^  QEMU 11\.1\.3 +does not show it: its 1 marked instance matches the architecture$", text, re.M)


def test_a_build_says_its_known_bugs_and_what_newly_differs():
    older = run("7.2.22", entry("at_par.device", "xfailed", step(0, SH, False, ["par_sh"])),
                entry("tlb.new", "passed", step(0, "completes, value 0xbbbb", True)))
    build = run("9.9.9", entry("at_par.device", "xfailed", step(0, SH, False, ["par_sh"])),
                entry("tlb.new", "failed", step(0, "completes, value 0xaaaa", False)))
    text = build_text(build, [PAR_SH], [older])
    assert "1 of the 1 known bugs: par_sh" in text
    assert "1 instance newly differ" in text
    assert re.search(r"^  tlb\.new \(failed\); matches the architecture on 7\.2\.22 -cpu max$", text, re.M)
    assert "step 0 at_s1e1r va=0x80000000: expected PAR_EL1.F=0, SH outer; got completes, value 0xaaaa" in text
    assert "at_par.device" not in text.split("newly differ")[1]      # its departure is par_sh's
    # A departure every other run has too is no news: listed apart.
    both = build_text(build, [PAR_SH], [run("7.2.22", entry("tlb.new", "failed", step(0, "x", False)))])
    assert "no instance newly differs" in both and "1 instance differ from the architecture as on every other run" in both


def test_make_bugs_on_results_files(tmp_path, capsys):
    for r in (run("7.2.22", entry("at_par.memory_type[device_ngnrne]", "xfailed", step(0, SH, False, ["par_sh"]))),
              run("11.1.3", entry("at_par.memory_type[device_ngnrne]", "passed", step(0, "SH outer", True)))):
        (tmp_path / r.path.name).write_text(json.dumps(r.doc))
    assert bugs.main(["--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^par_sh +8\.2 +yes +no$", out, re.M)
    assert re.search(r"^block_level_16k +10\.0\.2 +not run +not run$", out, re.M)
    assert bugs.main(["--results", str(tmp_path / "none")]) == 2
    assert "no results in" in capsys.readouterr().err


def test_the_catalogue_says_which_cpu_features_a_bug_shows_with():
    """[bug.lse2_alignment_wnr] names FEAT_LSE2 (cases.Xfail.features): make bugs says so beside its versions."""
    lse2 = next(b for b in catalogue(load_dir(ROOT / "cases")) if b.name == "lse2_alignment_wnr")
    assert lse2.features == ("FEAT_LSE2",)
    assert re.search(r"^  versions: +qemu = '>=10\.0\.2'; first fixed: none known; only with FEAT_LSE2$",
                     catalogue_text([lse2], [run("11.1.3")]), re.M)
