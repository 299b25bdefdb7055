"""The kernel mutants of tests/test_mutants.py, each caught by a fixed-seed campaign of generated
cases alone (no case file): the generator reaches what the hand-written cases check.

Each defect is applied to a copy of the repository, whose kernel is built in its own directory;
the campaign runs on it without shrinking, and must show a mismatch that no known QEMU bug
explains and that happens again when its case runs alone.  The same campaign on the unchanged kernel shows none (else a catch would mean
nothing).

A campaign per mutant costs a kernel build and a few thousand cases each (about half an hour of
CPU for all of them on the 2-CPU machine): the test runs where FUZZ_MUTANTS=1 is set, e.g.
`FUZZ_MUTANTS=1 /usr/bin/python3 -m pytest tests/test_fuzz_mutants.py -k tlbi`.
"""
import os
import subprocess
from pathlib import Path

import pytest

from harness.fuzz.campaign import Settings, run_campaign
from test_mutants import DEFECTS, MAINTENANCE_DEFECTS, _skip_unless_catchable, cpu_ids, mutant_repository  # noqa: F401

SEED = 20261207
COUNT = 2000
MUTANTS = {**DEFECTS, **{name: spec[:3] for name, spec in MAINTENANCE_DEFECTS.items()}}

pytestmark = pytest.mark.skipif(os.environ.get("FUZZ_MUTANTS") != "1",
                                reason="a campaign per kernel mutant: set FUZZ_MUTANTS=1 to run them")


def _campaign(pytestconfig, kernel, results):
    settings = Settings(qemu=pytestconfig.getoption("--qemu"), cpu=pytestconfig.getoption("--cpu"), kernel=kernel,
                        results=results, shrink=False)
    # Mismatches are run again alone (a batch stopped by a timeout under load is not a catch), not shrunk.
    report = run_campaign(settings, SEED, COUNT)
    assert not report.errors, "\n".join(report.errors)
    return report


def _caught(report):
    """The cases whose mismatch no known bug explains and which fail again alone."""
    return [f.index for f in report.new if f.reproduced]


@pytest.fixture(scope="module")
def baseline(pytestconfig, tmp_path_factory):
    kernel = Path(pytestconfig.getoption("--build")) / "kernel.elf"
    if not kernel.is_file():
        pytest.fail(f"no kernel at {kernel}: build it with `make kernel`")
    report = _campaign(pytestconfig, kernel, tmp_path_factory.mktemp("baseline"))
    assert not _caught(report), (f"the campaign (seed {SEED}, {COUNT} cases) shows unexplained mismatches on the "
                                 f"unchanged kernel, cases {_caught(report)}: python -m harness.fuzz --seed {SEED} "
                                 f"--count {COUNT}")
    return report


@pytest.mark.parametrize("defect", MUTANTS)
def test_campaign_catches_defective_kernel(pytestconfig, baseline, tmp_path, cpu_ids, defect):
    _skip_unless_catchable(defect, cpu_ids)
    repo = mutant_repository(tmp_path / "repo", *MUTANTS[defect])
    build = tmp_path / "build"
    run = subprocess.run(["make", "-C", str(repo), "kernel", f"BUILD={build}"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    report = _campaign(pytestconfig, build / "kernel.elf", tmp_path / "results")
    assert _caught(report), (f"a campaign of {COUNT} generated cases (seed {SEED}) found nothing wrong "
                             f"with the kernel mutant {defect} ({MUTANTS[defect][0]})")
