"""Known-bug marks of any implementation (harness/implementation.py): a bugs file names the
suite's cases by ID, for an emulator other than QEMU (--implementation NAME/VERSION) or for
QEMU with a -cpu model, and leaves the case files as they are."""
import pytest

from harness.cases import CaseError, load_dir
from harness.implementation import Implementation, case_mark, load_bugs, marks_for, mark_reason
from harness.matrix import Run, bug_range_findings
from harness.qemu import qemu_version
from harness.versions import in_range
from harness.cases import load_file
from suite_run import ROOT, run_suite
from tests.test_model_agreement import CPUS
from suite_run import suite_options  # noqa: F401  (fixtures)

BUGS = '''
[bug.l0_block]
implementation = "fastsim"
versions = "<2.3"
rule = "J1.1.4.65 AArch64.BlockDescSupported"
reason = "fastsim takes a block descriptor at level 0 as a 512 GiB block"
cases = ["translation.block_at_level0"]

[bug.invalid_a57]
implementation = "qemu"
cpu = ["cortex-a57"]
reason = "a bug this test makes up, of QEMU with -cpu cortex-a57 alone"
cases = ["translation.invalid_descriptor"]
'''
IDS = ["translation.block_at_level0", "translation.invalid_descriptor[l1]", "translation.invalid_descriptor[l2]"]


def bugs_file(tmp_path, text=BUGS):
    path = tmp_path / "fastsim-bugs.toml"
    path.write_text(text)
    return path


def test_a_mark_covers_its_implementation_versions_and_cpu_models(tmp_path):
    marks = load_bugs(bugs_file(tmp_path), IDS)
    fastsim = Implementation.of("fastsim/2.1", "7.2.22", "max")
    assert [m.name for m in marks_for(marks, "translation.block_at_level0", fastsim)] == ["l0_block"]
    assert marks_for(marks, "translation.block_at_level0", Implementation.of("fastsim/2.3", None, "max")) == []
    assert marks_for(marks, "translation.block_at_level0", Implementation.of(None, "7.2.22", "max")) == []
    # A case's name marks every instance of it; the CPU model narrows QEMU's mark.
    assert [m.name for m in marks_for(marks, "translation.invalid_descriptor[l2]",
                                      Implementation.of(None, "11.1.3", "cortex-a57"))] == ["invalid_a57"]
    assert marks_for(marks, "translation.invalid_descriptor[l2]", Implementation.of(None, "11.1.3", "max")) == []
    assert marks[0].scope == "fastsim <2.3" and marks[1].scope == "QEMU with -cpu cortex-a57"


@pytest.mark.parametrize("change, message", [
    (('cases = ["translation.block_at_level0"]', 'cases = ["translation.block_at_levl0"]'),
     "bug.l0_block.cases\\[0\\]'.*no case 'translation.block_at_levl0' in CASES \\(did you mean 'translation.block_at_level0'"),
    (('versions = "<2.3"', 'versions = "before 2.3"'), "bug.l0_block.versions'.*bad version range"),
    (('versions = "<2.3"', 'version = "<2.3"'), "bug.l0_block.version'.*unknown key \\(did you mean 'versions'"),
    (('reason = "fastsim takes', 'why = "fastsim takes'), "unknown key"),
    (('cpu = ["cortex-a57"]', 'cpu = 57'), "bug.invalid_a57.cpu'.*must be a string or an array of strings, not the integer 57"),
])
def test_a_bad_bugs_file_names_the_field(tmp_path, change, message):
    with pytest.raises(CaseError, match=message):
        load_bugs(bugs_file(tmp_path, BUGS.replace(*change)), IDS)


def test_an_implementation_is_name_and_version():
    with pytest.raises(ValueError, match="NAME/VERSION"):
        Implementation.of("fastsim", "7.2.22", "max")
    assert str(Implementation.of("FastSim/2.1", "7.2.22", "max")) == "fastsim 2.1"


def run(tmp_path, suite_options, *args):
    return run_suite(tmp_path, *args, cases=ROOT / "cases", select=[str(ROOT / "cases" / "translation.toml")],
                     **suite_options)


def test_a_bugs_file_marks_another_implementations_cases(tmp_path, suite_options):
    qemu_has_it = in_range(qemu_version(suite_options["qemu"] or "qemu-system-aarch64"), "<10.0.2")   # l0_block's
    path = bugs_file(tmp_path)
    fastsim = run(tmp_path, suite_options, f"--bugs={path}", "--implementation=fastsim/2.1")
    # Not QEMU: the case file's own QEMU mark is not fastsim's; the bugs file's is.
    if qemu_has_it:
        assert fastsim.case("translation.block_at_level0")["outcome"] == "xfailed", fastsim.output
        assert "known bug l0_block of fastsim <2.3" in fastsim.case("translation.block_at_level0")["reason"]
        assert "l0_block  J1.1.4.65 AArch64.BlockDescSupported: 1 xfailed" in fastsim.output
        assert "known bugs of fastsim 2.1" in fastsim.output
    else:       # what fastsim is said to get wrong, this QEMU gets right: the strict mark fails
        assert fastsim.case("translation.block_at_level0")["outcome"] == "failed", fastsim.output
    # Its results are named by it (QEMU's run of the same version keeps its own file).
    assert [f.name for f in fastsim.results_dir.glob("*.json")] == [f"fastsim-2.1-{suite_options['cpu']}.partial.json"]
    assert fastsim.results["implementation"] == "fastsim/2.1" and "on fastsim 2.1 (" in fastsim.output
    fixed = run(tmp_path, suite_options, f"--bugs={path}", "--implementation=fastsim/2.3")
    assert fixed.case("translation.block_at_level0")["outcome"] == ("failed" if qemu_has_it else "passed")
    # A bug of QEMU (the case file's l0_block and its model variant) explains nothing of fastsim's.
    for r in (fastsim, fixed):
        entry = r.case("translation.block_at_level0")
        assert not entry["known_bugs"] and not any(s["known_bugs"] for s in entry["steps"]), entry


def test_a_bugs_file_marks_qemu_with_one_cpu_model(tmp_path, suite_options):
    path = bugs_file(tmp_path)
    a57 = run(tmp_path, suite_options, f"--bugs={path}", "--cpu=cortex-a57")
    # The made-up bug is not there: its strict mark turns the instances red on cortex-a57 alone.
    assert {a57.case(i)["outcome"] for i in IDS[1:]} == {"failed"}, a57.output
    assert a57.returncode == 1 and "XPASS(strict)" in a57.output
    other = run(tmp_path, {**suite_options, "cpu": "cortex-a53"}, f"--bugs={path}")
    assert {other.case(i)["outcome"] for i in IDS[1:]} == {"passed"}, other.output


def test_a_bugs_file_naming_no_case_stops_the_run(tmp_path, suite_options):
    path = bugs_file(tmp_path, BUGS.replace("translation.block_at_level0", "translation.no_such_case"))
    out = run(tmp_path, suite_options, f"--bugs={path}")
    assert out.returncode == 2 and "no case 'translation.no_such_case' in CASES" in out.output, out.output


def test_qemus_known_bug_ranges_say_nothing_of_another_implementation():
    cases = [c for c in load_dir(ROOT / "cases") if c.id == "translation.block_at_level0"]   # l0_block, <10.0.2
    def doc(version, implementation=None):
        d = {"qemu_version": version, "cpu": "max", "cases": [{"id": cases[0].id, "outcome": "passed", "problems": [],
                                                      "steps": [{"n": 0, "ok": True}]}]}
        return {**d, "implementation": implementation} if implementation else d
    qemu = Run(ROOT / "q.json", doc("7.2.22"))
    other = Run(ROOT / "f.json", doc("7.2.22", "fastsim/2.1"))
    assert other.label == "fastsim 2.1 -cpu max" and qemu.label == "7.2.22 -cpu max"
    assert any("strict XPASS" in text for _, text in bug_range_findings([qemu], cases))
    assert bug_range_findings([other], cases) == []


def test_a_case_file_mark_naming_features_covers_a_cpu_with_them_alone():
    """[bug.lse2_alignment_wnr] (QEMU >= 10.0.2) shows only with FEAT_LSE2: it covers QEMU 11.1.3 -cpu max
    (ID_AA64MMFR2_EL1.AT = 1), not -cpu neoverse-n1 (AT = 0), where its case runs as any other."""
    case = next(c for c in load_file(ROOT / "cases" / "access_kinds.toml")
                if c.id == "access_kinds.atomic_sctlr_a_across_16")
    assert case.xfail.features == ("FEAT_LSE2",) and "FEAT_LSE2" not in case.requires
    qemu_11 = Implementation.of(None, "11.1.3", "max")
    assert case_mark(case, qemu_11, CPUS["max-11.1.3"]) is case.xfail
    assert case_mark(case, qemu_11, CPUS["neoverse-n1"]) is None
    assert case_mark(case, Implementation.of(None, "7.2.22", "max"), CPUS["max"]) is None      # outside its range
    assert case_mark(case, Implementation.of("fastsim/2.1", "7.2.22", "max"), CPUS["max-11.1.3"]) is None
    assert mark_reason(case.xfail).startswith("known bug of QEMU >=10.0.2 with FEAT_LSE2: ")
