"""make debug (harness/debug.py): the case is checked before anything boots, and every
case boots in the mode it needs, here under gdb-multiarch in batch mode."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from suite_run import qemu_processes
from suite_run import qemu  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
KERNEL = ROOT / "build" / "kernel.elf"


def debug(*args, qemu="qemu-system-aarch64", timeout=120):
    return subprocess.run([sys.executable, "-m", "harness.debug", f"--qemu={qemu}", f"--kernel={KERNEL}", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_an_unknown_case_is_refused_with_the_closest_ids():
    run = debug("stage2.translaton_fault[l2]")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "no case 'stage2.translaton_fault[l2]'" in run.stderr
    assert "the closest: stage2.translation_fault[l2]" in run.stderr
    assert "MMUT" not in run.stdout         # nothing booted


def test_make_debug_refuses_an_unknown_case_with_a_failing_status():
    run = subprocess.run(["make", "-s", "--no-print-directory", "debug", "CASE=tbi.no_such_case"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert run.returncode != 0 and "no case 'tbi.no_such_case'" in run.stderr, run.stdout + run.stderr


@pytest.fixture
def gdb(qemu, tmp_path):
    if shutil.which("gdb-multiarch") is None:
        pytest.skip("no gdb-multiarch")
    if not KERNEL.exists():
        pytest.skip("no kernel: make kernel")
    script = tmp_path / "steps.gdb"
    # At the kernel's first instruction: run to the case's steps and say at which EL they run; then,
    # the breakpoints gone, on (harness.debug's last `continue`) to the kernel's exit, so that every
    # record of the case is out before gdb detaches and QEMU is killed (stopped in handle_exception,
    # the rest of the case raced the kill and lost under load: its end record missing).
    script.write_text('continue\nprintf "steps at EL%d\\n", ($cpsr >> 2) & 3\ndelete\nbreak semihost_exit\n')

    def run(case):
        out = debug(f"--gdb-args=-batch -x {script}", case, qemu=qemu)
        assert qemu_processes(KERNEL.parent, "gdb") == []
        return out
    return run


@pytest.mark.parametrize("case, el", [
    ("cases/stage2.toml::translation_fault[l2]", 1),     # pytest's node ID; stage 2: EL1 under EL2
    ("vhe.translation_el2[l3]", 2),                      # the EL2&0 regime: the steps at EL2
    ("el2.translates[4k_39]", 2),                         # EL2's own regime
])
def test_an_el2_case_runs_in_its_boot_mode_in_batch_gdb(gdb, case, el):
    run = gdb(case)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "what=no_el2" not in out and "MMUT 6 error" not in out, out
    assert "Breakpoint 1" in out and "run_steps" in out, out
    assert f"steps at EL{el}" in out, out
    case_id = case.replace("cases/stage2.toml::", "stage2.")
    assert f"MMUT 6 begin case={case_id}" in out and any(line.startswith("MMUT 6 end steps=") for line in out.splitlines()), out
    assert "semihost_exit (status=0)" in out, out      # stopped at the kernel's clean exit (the gdb fixture)
