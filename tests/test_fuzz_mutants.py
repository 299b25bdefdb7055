"""The kernel mutants of tests/test_mutants.py, each caught by a fixed-seed campaign of generated
cases alone (no case file): the generator reaches what the hand-written cases check.

One campaign, cases [0, CASES) of seed SEED, is generated and predicted by the model once (the
model's outcomes depend on the case and the CPU, never on the kernel: every kernel's table pool is
at the linker's TABLE_POOL_BASE), run and judged on the unchanged kernel once (`campaign`), then
run on each mutant's kernel in windows of WINDOW cases, stopping at the first catch: a case whose
mismatches on the mutant differ from the unchanged kernel's, one of them no known QEMU bug
explains, that fails so again when it runs alone on the mutant (a batch stopped by a timeout under
load is not a catch), and that has no unexplained mismatch on the unchanged kernel (else the catch
would be a QEMU bug or a generator one, not the defect).  Each mutant's outcome is printed (`-s`):
the case that caught it, or, where none did, the draw it needs (DRAWS) and how many of the
campaign's cases drew it: none is a coverage gap of the generator, some a draw that reaches the
defect without showing it.

CASES is the fewest cases of SEED from 0 that catch every mutant not in GAPS, with a margin: on
QEMU 7.2.22 -cpu max (at 76f3972, FUZZ_MUTANTS_CASES=3000) the last first catch was case 2536
(tlbi_vae2_as_vae1, tlbi_vae2_missing; tlbi_rvae2_missing 2424, hcr_fwb_never_set 1568, vtcr_ha_never_set
1036, the other 20 before case 600: 25 of the 30 caught).  A change to the generator's draws moves every case, so it may
move a catch past CASES: the failure names the mutant and the draw it needs; measure again with
`FUZZ_MUTANTS_CASES=3000 /usr/bin/python3 -m pytest tests/test_fuzz_mutants.py -s` (which runs GAPS' too).

GAPS are the mutants no case of the first 3000 catches: each is skipped with the reason, a gap of the
generator to close (then it leaves GAPS).
"""
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cases import DESC_WRITES, S2_DESC_WRITES
from harness.fuzz.campaign import (BOOT_TIMEOUT, TIMEOUT_PER_CASE, Settings, boot_cpu, campaign_case,
                                   case_mismatches, classify, kernel_pool_base, predict, run_cases)
from harness.qemu import qemu_version
from test_mutants import DEFECTS, MAINTENANCE_DEFECTS, _skip_unless_catchable, cpu_ids  # noqa: F401
from test_mutants import mutant_repository

SEED = 20261207
CASES = int(os.environ.get("FUZZ_MUTANTS_CASES", 2700))
# Cases a mutant's kernel runs in one boot (per boot mode) before the catch is looked for: a boot costs QEMU
# about 0.15 CPU seconds, a case in it about 1 ms.
WINDOW = 500
# Cases the unchanged kernel runs in one boot (per boot mode): all are judged.
BATCH = 1000
MUTANTS = {**DEFECTS, **{name: spec[:3] for name, spec in MAINTENANCE_DEFECTS.items()}}
# The mutants the first 3000 cases of SEED do not catch (7.2.22 -cpu max, at 76f3972): what they drew, what is missing.
GAPS = {
    "tlbi_vae1_missing": "42 of 3000 cases draw TLBI VAE1, none with the TLB filled before the change and every "
                         "barrier after it (only then is the new translation alone permitted)",
    "tlbi_rvae1_missing": "43 of 3000 cases draw TLBI RVAE1, none so that the stale entry is all it removes",
    "ttbr0_asid_dropped": "202 of 3000 cases switch TTBR0's ASID, none after an nG entry was filled and its "
                          "descriptor changed without a TLBI (a new ASID as the invalidation)",
    "tlbi_vmalls12e1_missing": "11 of 3000 cases draw TLBI VMALLS12E1, none after a stage 2 change whose stale "
                               "combined entry only it removes",
    "set_vmid_ignored": "54 of 3000 cases switch the VMID, none after a stage 2 entry was filled and changed "
                        "without a TLBI (a new VMID as the invalidation)",
}


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
    "fixup_writes_nothing": ("a fault fix-up step", lambda c: any(s.fixup for s in c.steps)),
    "descriptor_write_ignores_mask": ("a descriptor write", lambda c: any(s.op in DESC_WRITES for s in c.steps)),
    "tlbi_vae2_missing": ("TLBI VAE2 in the EL2&0 regime", _steps("tlbi_vae2", regime="vhe")),
    "tlbi_vmalls12e1_missing": ("TLBI VMALLS12E1", _steps("tlbi_vmalls12e1")),
    "set_vmid_ignored": ("a VMID switch", _steps("set_vmid")),
    "descriptor_step_stages_swapped": ("stage 1 and stage 2 descriptor writes in one case",
                                       lambda c: any(s.op in DESC_WRITES for s in c.steps)
                                       and any(s.op in S2_DESC_WRITES for s in c.steps)),
}


@dataclass
class Campaign:
    """The campaign every kernel runs: its cases with the model's outcomes, and the unchanged kernel's verdicts."""
    settings: Settings          # the unchanged kernel's
    cpu: object
    pool_base: int
    version: str
    predicted: list             # (index, Case, outcomes per step)
    baseline: dict              # index: (the mismatches, generator-bug line) on the unchanged kernel, cases with one
    explained: dict             # index: whether known bugs explain the baseline's mismatches (asked for the first time)

    def clean(self, index, case):
        """Whether the case shows no unexplained mismatch on the unchanged kernel."""
        if index not in self.baseline:
            return True
        if index not in self.explained:
            self.explained[index] = not _unexplained(self, case, *self.baseline[index])
        return self.explained[index]


def _signature(mismatches, bug):
    return frozenset((m.step, m.observed) for m in mismatches) | ({("error", bug)} if bug else set())


def _judged(settings, window, workdir, tag):
    """[(index, case, outcomes, mismatches, generator-bug line)] of the window's cases run on settings' kernel,
    in order of their runs: a case that stops the kernel (a hang, a crash) is judged before the rest run in
    another boot (a mutant may stop every case: it is caught at the first)."""
    rest = list(window)
    while rest:
        records = run_cases(settings, [case for _, case, _ in rest], workdir, tag, until_stop=True,
                            timeout=BOOT_TIMEOUT + TIMEOUT_PER_CASE * len(rest))
        for k in sorted(records):
            index, case, outcomes = rest[k]
            yield (index, case, outcomes, *case_mismatches(index, case, outcomes, records[k]))
        rest = [x for k, x in enumerate(rest) if k not in records]


def _unexplained(campaign, case, mismatches, bug):
    """Whether known QEMU bugs leave some of the case's mismatches (or its generator-bug line) unexplained."""
    return bool(bug) or bool(mismatches) and classify(campaign.version, case, campaign.cpu, campaign.pool_base,
                                                      mismatches) is None


def first_catch(campaign, settings, workdir):
    """The index of the campaign's first case that catches the kernel of `settings` (the module's
    docstring), or None; and how many cases departed from the unchanged kernel's verdicts before it."""
    departed = 0
    for start in range(0, len(campaign.predicted), WINDOW):
        window = campaign.predicted[start:start + WINDOW]
        for index, case, outcomes, mismatches, bug in _judged(settings, window, workdir, f"w{start}"):
            if _signature(mismatches, bug) == _signature(*campaign.baseline.get(index, ([], None))):
                continue
            departed += 1
            if not _unexplained(campaign, case, mismatches, bug) or not campaign.clean(index, case):
                continue
            [(_, _, _, again, again_bug)] = list(_judged(settings, [(index, case, outcomes)], workdir, "alone"))
            if _unexplained(campaign, case, again, again_bug):
                return index, departed
    return None, departed


@pytest.fixture(scope="module")
def campaign(pytestconfig, tmp_path_factory):
    """Cases [0, CASES) of SEED predicted once, and run and judged on the unchanged kernel."""
    kernel = Path(pytestconfig.getoption("--build")) / "kernel.elf"
    if not kernel.is_file():
        pytest.fail(f"no kernel at {kernel}: build it with `make kernel`")
    settings = _settings(pytestconfig, kernel)
    workdir = tmp_path_factory.mktemp("baseline")
    cpu = boot_cpu(settings, workdir)
    pool_base = kernel_pool_base(kernel)
    predicted = []
    for index in range(CASES):
        case = campaign_case(SEED, index, cpu)
        outcomes = predict(case, cpu, pool_base)
        if outcomes is not None:        # None: beyond the model (a campaign counts it, runs it not)
            predicted.append((index, case, outcomes))
    result = Campaign(settings, cpu, pool_base, qemu_version(settings.qemu), predicted, {}, {})
    for start in range(0, len(predicted), BATCH):
        for index, case, _, mismatches, bug in _judged(settings, predicted[start:start + BATCH], workdir, "baseline"):
            if mismatches or bug:
                result.baseline[index] = (mismatches, bug)
    return result


def _settings(pytestconfig, kernel):
    return Settings(qemu=pytestconfig.getoption("--qemu"), cpu=pytestconfig.getoption("--cpu"), kernel=Path(kernel),
                    shrink=False)


def _drawn(campaign, defect):
    """Why a campaign may miss the defect: the draw it needs and the cases of the campaign that drew it."""
    what, drew = DRAWS[defect]
    hits = [i for i, case, _ in campaign.predicted if drew(case)]
    return (f"it needs {what}: " + (f"{len(hits)} of the {CASES} cases drew it (first: case {hits[0]}), none showed the "
                                   "defect" if hits else f"none of the {CASES} cases drew it (a gap of the generator)"))


def build_mutant(directory, defect):
    """The kernel of the repository copy with `defect` applied, built in directory/build."""
    repo = mutant_repository(directory / "repo", *MUTANTS[defect])
    build = directory / "build"
    run = subprocess.run(["make", "-C", str(repo), f"BUILD={build}", str(build / "kernel.elf")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return build / "kernel.elf"


@pytest.mark.parametrize("defect", MUTANTS)
def test_campaign_catches_defective_kernel(pytestconfig, campaign, tmp_path, cpu_ids, defect):
    _skip_unless_catchable(defect, cpu_ids)
    if defect in GAPS and "FUZZ_MUTANTS_CASES" not in os.environ:
        pytest.skip(f"a gap of the generator: {GAPS[defect]}")
    settings = _settings(pytestconfig, build_mutant(tmp_path, defect))
    index, departed = first_catch(campaign, settings, tmp_path)
    if index is not None:
        print(f"{defect}: CAUGHT by case {index} of seed {SEED} ({departed} cases departed from the unchanged "
              f"kernel's verdicts by then): /usr/bin/python3 -m harness.fuzz --seed {SEED} --first {index} --count 1")
        return
    why = _drawn(campaign, defect)
    print(f"{defect}: NOT caught in {CASES} cases of seed {SEED} ({departed} departed): {why}")
    pytest.fail(f"the campaign's first {CASES} generated cases (seed {SEED}) found nothing wrong with the kernel "
                f"mutant {defect} ({MUTANTS[defect][0]}) that the unchanged kernel does not show too; {why}: "
                f"/usr/bin/python3 -m harness.fuzz --seed {SEED} --count {CASES}")


def test_every_mutant_names_the_draw_it_needs():
    assert set(DRAWS) == set(MUTANTS)
