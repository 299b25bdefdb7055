"""The terminal summary (harness/terminal.py): a line and its rerun command per failing
instance, one line per known bug, the suite's summary last; -v for every reason."""
import os
import subprocess
import sys
from pathlib import Path

from harness.terminal import group_by_bug, rerun_command
from suite_run import run_suite
from suite_run import qemu, suite_options  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent

# A case whose expectation is wrong (the block is at level 2, the fault too): it fails.
WRONG = '''feature = "A newcomer's regression case, with a wrong expectation"

[case.ro_block]
summary = "A store to a read-only 2 MiB block is a Permission fault at level 2 (AArch64.S1CheckPermissions)"
map = [ { va = 0x8000_0000, to = "blk", level = 2, ap = "ro_el1" } ]
steps = [ { do = "store64", va = 0x8000_0008, value = 1, expect = { fault = "permission", level = 3 } } ]
'''


def entry(case_id, outcome, *step_bugs):
    return {"id": case_id, "outcome": outcome, "steps": [{"n": 0, "known_bugs": list(step_bugs)}]}


def test_instances_are_grouped_under_the_bugs_their_steps_show():
    groups = group_by_bug([entry("a.x", "xfailed", "par_sh"), entry("a.y", "xfailed"),
                           entry("b.z", "passed", "par_sh"), entry("b.w", "passed")], {"a.y": "l0_block"})
    assert groups == {"l0_block": {"xfailed": ["a.y"], "seen": []},
                      "par_sh": {"xfailed": ["a.x"], "seen": ["b.z"]}}


def test_each_instance_names_the_steps_its_known_bug_excuses():
    from harness.results import describe_excused, excused_steps
    e = {"id": "a.x", "outcome": "xfailed", "known_bugs": {"par_sh": [0, 3, "run"], "l0_block": [1]},
         "steps": [{"n": 0, "known_bugs": ["par_sh"]}, {"n": 1, "known_bugs": ["l0_block"]}, {"n": 2, "known_bugs": []},
                   {"n": 3, "known_bugs": ["l0_block+par_sh"]}]}
    assert excused_steps(e, "par_sh") == [0, 3, "run"] and excused_steps(e, "l0_block") == [1, 3]
    assert describe_excused([0, 3, "run"]) == "steps 0, 3 and how the run ended"
    assert describe_excused([1]) == "step 1" and describe_excused(["run"]) == "how the run ended"


def test_the_rerun_command_names_the_options_not_at_their_defaults():
    assert rerun_command("/usr/bin/python3", ROOT / "cases" / "t.toml", "cases/t.toml::a[x y]", "sid", "max") == \
        "/usr/bin/python3 -m pytest 'cases/t.toml::a[x y]' --qemu=sid --cpu=max"
    # A case file elsewhere: its path, and the repository's conftest.py as a plugin.
    assert rerun_command("/usr/bin/python3", "/my/cases/t.toml", "t.toml::a", "sid", "max", [("--cases", "/my/cases")]) \
        == "/usr/bin/python3 -m pytest -c pytest.ini --noconftest -p conftest /my/cases/t.toml::a --qemu=sid --cpu=max " \
           "--cases=/my/cases"


def test_a_failure_a_known_bug_and_the_summary_last(tmp_path, suite_options):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "newcomer.toml").write_text(WRONG)
    translation = ROOT / "cases" / "translation.toml"
    common = dict(cases=mine, select=[str(mine), str(translation)], **suite_options)
    run = run_suite(tmp_path, f"--cases={translation}", **common)
    assert run.returncode == 1, run.output
    lines = run.output.rstrip("\n").splitlines()
    assert lines[-1].startswith("MMU conformance: ") and "1 failed" in lines[-1], lines[-3:]
    (failed,) = [line for line in lines if line.startswith("FAILED newcomer.ro_block: step 0")]
    assert f"; rerun: {sys.executable} -m pytest " in failed
    rerun = failed.split("; rerun: ", 1)[1]
    assert f"{mine}/newcomer.toml::ro_block" in rerun and f"--cases='{mine} {translation}'" in rerun
    # The command, as printed, reruns that one instance, from the repository's root.
    again = subprocess.run(rerun + f" --results={tmp_path / 'again'}", shell=True, cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")})
    assert again.returncode == 1 and "1 failed" in again.stdout, again.stdout + again.stderr
    if run.outcomes().get("translation.block_at_level0") == "xfailed":     # QEMU < 10.0.2
        bug = [line for line in lines if line.strip().startswith("l0_block ")]
        assert bug == ["  l0_block  J1.1.4.65 AArch64.BlockDescSupported: 1 xfailed "
                       "(translation.block_at_level0 (steps 0, 1))"]
        assert not any(line.startswith("XFAIL ") for line in lines)         # the reasons: with -v
        verbose = run_suite(tmp_path, f"--cases={translation}", "-v", **common)
        assert any(line.startswith("XFAIL ") and "block_at_level0" in line for line in verbose.output.splitlines())
        assert verbose.output.rstrip("\n").splitlines()[-1].startswith("MMU conformance: ")


def test_make_run_prints_under_150_lines_with_the_summary_last(tmp_path, qemu):
    # A line per case file (58), a line per known bug the build shows (28 on 7.2.22) and per skip reason
    # (20), the header and the summary: 123 lines on 7.2.22 with this session's case files.
    run = subprocess.run(["make", "-s", "--no-print-directory", "run", f"QEMU={qemu}", f"BUILD={tmp_path / 'build'}",
                          f"PYTEST_ARGS=--results={tmp_path / 'results'}"], cwd=ROOT, capture_output=True, text=True,
                         timeout=900, stdin=subprocess.DEVNULL,
                         env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")})
    lines = (run.stdout + run.stderr).rstrip("\n").splitlines()
    assert run.returncode == 0, "\n".join(lines[-40:])
    assert len(lines) < 150, "\n".join(lines)
    assert lines[-1].startswith("MMU conformance: "), lines[-3:]


def test_an_instance_the_model_could_not_judge_gets_a_line(capsys):
    from harness.terminal import TerminalSummary

    class Reporter:
        reportchars = "sx"

        def section(self, title, sep):
            print(f"== {title}")

        def write_line(self, line):
            print(line)

    class Config:
        def getoption(self, name):
            return 0

    writer = type("W", (), {"entries": [
        {"id": "a.x", "nodeid": "cases/a.toml::x", "file": str(ROOT / "cases" / "a.toml"), "outcome": "passed",
         "steps": [{"n": 0, "known_bugs": []}, {"n": 1, "known_bugs": [], "unjudged": "the AT's PAR.SH is Unknown"}]},
        {"id": "a.y", "nodeid": "cases/a.toml::y", "file": str(ROOT / "cases" / "a.toml"), "outcome": "passed",
         "steps": [{"n": 0}]}], "header": {"qemu_version": "7.2.22"}})()
    TerminalSummary(writer, lambda file, nodeid: f"pytest {nodeid}").pytest_terminal_summary(Reporter(), Config())
    out = capsys.readouterr().out.splitlines()
    assert out == ["== MMU conformance summary",
                   "UNJUDGED a.x: step 1: the model could not judge it: the AT's PAR.SH is Unknown; "
                   "rerun: pytest cases/a.toml::x"]
