"""The kernel mutants of tests/test_mutants.py, each caught by a fixed-seed campaign of generated
cases alone (no case file): the generator reaches what the hand-written cases check.

Each defect is applied to a copy of the repository, whose kernel is built in its own directory.
The campaign of seed SEED runs on it from case 0 in growing windows (WINDOWS: the first few
cases, then 250 at a time) until a window shows a catch, at most LIMIT cases: a mismatch that no
known QEMU bug explains, that happens again when its case runs alone on the mutant, and that does
not happen when that case runs on the unchanged kernel (else the catch would be a QEMU bug or a
generator one, not the defect).  Each mutant's outcome is printed (`-s`): the case that caught it,
or, where none did, the draw it needs (DRAWS) and how many of the campaign's cases drew it: none
is a coverage gap of the generator, some a draw that reaches the defect without showing it.

Opt-in (FUZZ_MUTANTS=1), not part of `make test`: a mutant costs a kernel build and as many
windows as its first catch needs, each mismatch on the mutant the known-bug search and a rerun
alone: af_never_set, caught by case 0, took 166 s (39 CPU seconds) on the shared 2-CPU machine at
load 9, and a mutant caught late or not at all costs the whole LIMIT-case campaign on the mutant
(a missing TLBI: tlbi_vae1_missing was case 2052 in one search; two mutants took 16 minutes).  The
thirty together are past CI's 90 minutes, of which `make test` takes about 30.  A test that ran
only the window holding each mutant's first catch would be quick, but every change to the
generator's draws (an op added to harness/ops.py moves every case) would break it.  What the
campaign of SEED draws for each (DRAWS, on 7.2.22 -cpu max's first 3000 cases): two mutants no
case reaches, gaps of the generator: ttbr0_space_ignored (no TTBR0 switch to another address
space) and fixup_writes_nothing (no fault fix-up step); some only a few cases reach
(tlbi_vae2_missing 4, uxn_never_set 6, tlbi_vmalls12e1_missing 12, wxn_never_set 18).  Run them
all with `FUZZ_MUTANTS=1 /usr/bin/python3 -m pytest tests/test_fuzz_mutants.py -s` (`-k tlbi` for
some).
"""
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness.cases import DESC_WRITES, S2_DESC_WRITES
from harness.fuzz.campaign import Settings, boot_cpu, campaign_case, run_campaign
from test_mutants import DEFECTS, MAINTENANCE_DEFECTS, _skip_unless_catchable, cpu_ids  # noqa: F401
from test_mutants import mutant_repository

SEED = 20261207
LIMIT = 3000
WINDOWS = [(0, 20)] + [(first, min(250, LIMIT - first)) for first in range(20, LIMIT, 250)]
MUTANTS = {**DEFECTS, **{name: spec[:3] for name, spec in MAINTENANCE_DEFECTS.items()}}



def _steps(*ops, el=None, regime=None):
    """A case with a step of `ops` (at `el`; in the EL2 regime `regime`: "nvhe", "vhe")."""
    return lambda c: (regime is None or c.el2 == regime) and any(
        s.op in ops and (el is None or s.el == el) for s in c.steps)


def _fetch_at(el):
    return _steps("fetch", el=el)


# What a campaign case must draw to reach each mutant's defect: (what, predicate on a generated Case).
DRAWS = {
    "af_never_set": ("a stage 1 mapping", lambda c: bool(c.maps)),
    "af_always_set": ("a stage 1 mapping with AF = 0", lambda c: any(not m.af for m in c.maps)),
    "ap_bits_swapped": ("a mapping with AP rw_all or ro_el1", lambda c: any(m.ap in ("rw_all", "ro_el1") for m in c.maps)),
    "index_shift_off_by_one": ("a stage 1 mapping", lambda c: bool(c.maps)),
    "block_size_one_level_up": ("a stage 1 mapping", lambda c: bool(c.maps)),
    "s2_af_inverted": ("a stage 2 mapping", lambda c: c.stage2 is not None and bool(c.stage2.maps)),
    "table_bit_missing": ("a stage 1 mapping", lambda c: bool(c.maps)),
    "uxn_never_set": ("an EL0 fetch and a mapping with UXN", lambda c: any(m.uxn for m in c.maps) and _fetch_at(0)(c)),
    "xntable_swapped": ("a fetch under a table with PXNTable or UXNTable",
                        lambda c: any(t.pxntable or t.uxntable for t in c.tables) and _steps("fetch")(c)),
    "wxn_never_set": ("SCTLR_EL1.WXN with a fetch", lambda c: c.regime.wxn and _steps("fetch")(c)),
    "pan_never_set": ("PSTATE.PAN", lambda c: c.regime.pan),
    "span_ignored": ("SCTLR_EL1.SPAN = 0 with an EL0 step", lambda c: not c.regime.span and any(s.el == 0 for s in c.steps)),
    "hpd_bits_swapped": ("HPD0 or HPD1 with a table attribute", lambda c: (c.regime.hpd0 or c.regime.hpd1) and bool(c.tables)),
    "e0pd_never_set": ("E0PD0 or E0PD1 with an EL0 step", lambda c: (c.regime.e0pd0 or c.regime.e0pd1)
                       and any(s.el == 0 for s in c.steps)),
    "el0_stage2_fault_not_resumed": ("an EL0 step under stage 2", lambda c: c.stage2 is not None
                                     and any(s.el == 0 for s in c.steps)),
    "vtcr_ha_never_set": ("VTCR_EL2.HA", lambda c: c.stage2 is not None and c.stage2.ha),
    "hcr_fwb_never_set": ("HCR_EL2.FWB", lambda c: c.stage2 is not None and c.stage2.fwb),
    "stage2_ds_format_ignored": ("VTCR_EL2.DS", lambda c: c.stage2 is not None and c.stage2.ds),
    "tlbi_vae1_missing": ("TLBI VAE1", _steps("tlbi_vae1")),
    "ttbr0_asid_dropped": ("a TTBR0 switch", _steps("set_ttbr0")),
    "ttbr0_space_ignored": ("a TTBR0 switch to another address space",
                            lambda c: any(s.op == "set_ttbr0" and s.space for s in c.steps)),
    "tlbi_rvae1_missing": ("TLBI RVAE1", _steps("tlbi_rvae1")),
    "tlbi_rvae2_missing": ("TLBI RVAE2 in the EL2 regime", _steps("tlbi_rvae2", regime="nvhe")),
    "tlbi_vae2_as_vae1": ("TLBI VAE2 in the EL2 regime", _steps("tlbi_vae2", regime="nvhe")),
    "fixup_writes_nothing": ("a fault fix-up step (the generator draws none)", lambda c: any(s.fixup for s in c.steps)),
    "descriptor_write_ignores_mask": ("a descriptor write", lambda c: any(s.op in DESC_WRITES for s in c.steps)),
    "tlbi_vae2_missing": ("TLBI VAE2 in the EL2&0 regime", _steps("tlbi_vae2", regime="vhe")),
    "tlbi_vmalls12e1_missing": ("TLBI VMALLS12E1", _steps("tlbi_vmalls12e1")),
    "set_vmid_ignored": ("a VMID switch", _steps("set_vmid")),
    "descriptor_step_stages_swapped": ("stage 1 and stage 2 descriptor writes in one case",
                                       lambda c: any(s.op in DESC_WRITES for s in c.steps)
                                       and any(s.op in S2_DESC_WRITES for s in c.steps)),
}


def _drawn(settings, defect):
    """Why a campaign may miss the defect: the draw it needs and the cases of the campaign that drew it."""
    what, drew = DRAWS[defect]
    with tempfile.TemporaryDirectory() as workdir:
        cpu = boot_cpu(settings, workdir)
    hits = [i for i in range(LIMIT) if drew(campaign_case(SEED, i, cpu))]
    return (f"it needs {what}: " + (f"{len(hits)} of the {LIMIT} cases drew it (first: case {hits[0]}), none showed the "
                                   "defect" if hits else f"none of the {LIMIT} cases drew it (a gap of the generator)"))


opt_in = pytest.mark.skipif(os.environ.get("FUZZ_MUTANTS") != "1",
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


@opt_in
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
                print(f"{defect}: CAUGHT by case {index} of seed {SEED} "
                      f"(/usr/bin/python3 -m harness.fuzz --seed {SEED} --first {index} --count 1)")
                return
            on_both.append(index)
    why = _drawn(settings, defect)
    print(f"{defect}: NOT caught in {LIMIT} cases of seed {SEED}: {why}")
    pytest.fail(f"the campaign's first {LIMIT} generated cases (seed {SEED}) found nothing wrong with the kernel "
                f"mutant {defect} ({MUTANTS[defect][0]}) that the unchanged kernel does not show too "
                f"(cases {on_both} fail on both); {why}: /usr/bin/python3 -m harness.fuzz --seed {SEED} --count {LIMIT}")


def test_every_mutant_names_the_draw_it_needs():
    assert set(DRAWS) == set(MUTANTS)
