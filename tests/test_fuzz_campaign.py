"""A fixed-seed campaign of generated cases on the QEMU under test (--qemu, --cpu):
a mismatch that no known QEMU bug explains fails, showing the shrunk case file
and the command that reruns it.  --fuzz-seed and --fuzz-count run another."""
from pathlib import Path

import pytest

from harness.fuzz.campaign import Settings, judged_problems, rerun_command, run_campaign

# CI's campaign: fixed, so a failure there is a failure anywhere.
CI_SEED = 20261201
CI_COUNT = 5000


def _describe(finding, settings):
    m = next(x for x in finding.mismatches if x.known is None)
    lines = [f"case {finding.index} step {m.step}: {m.problems[0]}"]
    if finding.file:
        lines += [f"  shrunk to {finding.file}", f"  rerun: {rerun_command(finding.file, settings)}"]
    if finding.same:
        lines.append(f"  and {len(finding.same)} more case(s) the same way: {finding.same[:10]}")
    return "\n".join(lines)


def test_generated_cases_show_no_unknown_mismatch(pytestconfig):
    kernel = Path(pytestconfig.getoption("--build")) / "kernel.elf"
    if not kernel.is_file():
        pytest.fail(f"no kernel at {kernel}: build it with `make kernel`")
    seed = pytestconfig.getoption("--fuzz-seed")
    count = pytestconfig.getoption("--fuzz-count")
    settings = Settings(qemu=pytestconfig.getoption("--qemu"), cpu=pytestconfig.getoption("--cpu"),
                        kernel=kernel, results=Path(pytestconfig.getoption("--results")))
    report = run_campaign(settings, CI_SEED if seed is None else seed, CI_COUNT if count is None else count)
    assert not report.errors, "\n".join(report.errors)
    new = [f for f in report.new if f.reproduced]
    assert not new, (f"{len(new)} mismatch(es) between QEMU {report.version} -cpu {report.cpu} and the model "
                     "that no known QEMU bug explains:\n" + "\n".join(_describe(f, settings) for f in new))
    # A mismatch that did not come back when its case ran alone is a batch-isolation problem.
    flaky = [f.index for f in report.new if not f.reproduced]
    assert not flaky, f"cases {flaky} mismatched in their batch but not alone"
    # No mismatch means something only if the model judged the steps, and the mix reached every kind.
    assert not judged_problems(report), "\n".join(judged_problems(report))


def test_a_pc_alignment_fault_is_stated_as_one():
    """A fetch's PC alignment fault (EC 0x22, no fault status: AArch64.CheckPCAlignment) is stated as the
    case files state it, fault = "pc_alignment", FAR where it is not the step's VA; not as an "unknown" fault."""
    from harness.cases.schema import Expect, Step
    from harness.fuzz.campaign import _outcome_value
    from harness.model.outcome import EC_PC_ALIGNMENT, Abort
    step = Step("fetch", 0x8000_0402, 0, Expect("ok"))
    fault = Abort(ec=EC_PC_ALIGNMENT, fsc=None, wnr=False, s1ptw=False, far=0x8000_0402, rule="")
    assert _outcome_value(step, fault) == {"fault": "pc_alignment"}
    assert _outcome_value(step, Abort(ec=EC_PC_ALIGNMENT, fsc=None, wnr=False, s1ptw=False, far=0x8000_0400,
                                      rule="")) == {"fault": "pc_alignment", "far": 0x8000_0400}
