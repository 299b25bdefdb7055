"""The kernel mutants of tests/test_mutants.py, each caught by a fixed-seed campaign of generated
cases alone (no case file): the generator reaches what the hand-written cases check.

Each defect is applied to a copy of the repository, whose kernel is built in its own directory.
The campaign of seed SEED runs on it from case 0 in growing windows (WINDOWS: the first few
cases, then 250 at a time) until a window shows a catch, at most LIMIT cases: a mismatch that no
known QEMU bug explains, that happens again when its case runs alone on the mutant, and that does
not happen when that case runs on the unchanged kernel (else the catch would be a QEMU bug or a
generator one, not the defect).  `-s` prints the case that caught each mutant.

Opt-in (FUZZ_MUTANTS=1), not part of `make test`: a mutant costs a kernel build and as many
windows as its first catch needs, which is case 0 to 10 for mutants that break every case's tables
but two thousand cases and more for a missing TLBI (tlbi_vae1_missing: case 2052 in one search);
two mutants took 16 minutes on the shared 2-CPU machine.  A test that ran only the window holding
each mutant's first catch would be quick, but every change to the generator's draws (an op added
to harness/ops.py moves every case) would break it.  Run them all with
`FUZZ_MUTANTS=1 /usr/bin/python3 -m pytest tests/test_fuzz_mutants.py -s` (`-k tlbi` for some).
"""
import os
import subprocess
from pathlib import Path

import pytest

from harness.fuzz.campaign import Settings, run_campaign
from test_mutants import DEFECTS, MAINTENANCE_DEFECTS, _skip_unless_catchable, cpu_ids  # noqa: F401
from test_mutants import mutant_repository

SEED = 20261207
LIMIT = 3000
WINDOWS = [(0, 20)] + [(first, min(250, LIMIT - first)) for first in range(20, LIMIT, 250)]
MUTANTS = {**DEFECTS, **{name: spec[:3] for name, spec in MAINTENANCE_DEFECTS.items()}}

pytestmark = pytest.mark.skipif(os.environ.get("FUZZ_MUTANTS") != "1",
                                reason="a campaign per kernel mutant, minutes each: set FUZZ_MUTANTS=1 to run them")


def _settings(pytestconfig, kernel, results):
    return Settings(qemu=pytestconfig.getoption("--qemu"), cpu=pytestconfig.getoption("--cpu"), kernel=Path(kernel),
                    results=Path(results), shrink=False)


def _caught(settings, first, count):
    """The cases of [first, first + count) whose mismatch no known bug explains and which fail
    again alone (a batch stopped by a timeout under load is not a catch)."""
    report = run_campaign(settings, SEED, count, first=first)
    assert not report.errors, "\n".join(report.errors)
    return [f.index for f in report.new if f.reproduced]


@pytest.fixture(scope="module")
def baseline(pytestconfig, tmp_path_factory):
    """The unchanged kernel's settings."""
    kernel = Path(pytestconfig.getoption("--build")) / "kernel.elf"
    if not kernel.is_file():
        pytest.fail(f"no kernel at {kernel}: build it with `make kernel`")
    return _settings(pytestconfig, kernel, tmp_path_factory.mktemp("baseline"))


@pytest.mark.parametrize("defect", MUTANTS)
def test_campaign_catches_defective_kernel(pytestconfig, baseline, tmp_path, cpu_ids, defect):
    _skip_unless_catchable(defect, cpu_ids)
    repo = mutant_repository(tmp_path / "repo", *MUTANTS[defect])
    build = tmp_path / "build"
    run = subprocess.run(["make", "-C", str(repo), f"BUILD={build}", str(build / "kernel.elf")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    settings = _settings(pytestconfig, build / "kernel.elf", tmp_path / "results")
    on_both = []
    for first, count in WINDOWS:
        for index in _caught(settings, first, count):
            if not _caught(baseline, index, 1):
                print(f"{defect}: caught by case {index} of seed {SEED}")
                return
            on_both.append(index)
    pytest.fail(f"the campaign's first {LIMIT} generated cases (seed {SEED}) found nothing wrong with the kernel "
                f"mutant {defect} ({MUTANTS[defect][0]}) that the unchanged kernel does not show too "
                f"(cases {on_both} fail on both): /usr/bin/python3 -m harness.fuzz --seed {SEED} --count {LIMIT}")
