"""Run the conformance suite (pytest + conftest.py) in a subprocess, for the
project's own tests of how the suite behaves: on hangs, crashes, bad input,
interruption, and from one run to the next.

Every run gets a build and a results directory of its own (never the shared
build/ and results/ that other runs use), and is checked to leave no QEMU
process behind.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SELFTEST = ROOT / "tests" / "fixtures" / "selftest"     # cases using the kernel's self-test ops


@dataclass
class SuiteRun:
    returncode: int
    output: str             # stdout and stderr
    results: dict | None    # results/<qemu>-<cpu>.json, None if the run wrote none
    results_dir: Path
    wall: float

    def case(self, case_id):
        """The results entry of one case instance."""
        entries = [c for c in self.results["cases"] if c["id"] == case_id]
        assert len(entries) == 1, f"{case_id} is not in the results once:\n{self.output}"
        return entries[0]

    def outcomes(self):
        """{case ID: outcome} of every case in the results."""
        return {c["id"]: c["outcome"] for c in (self.results or {}).get("cases", [])}

    def raw_log(self, case_id):
        return self.results_dir / "raw" / f"{case_id}.log"


def nodes(*names, cases=SELFTEST, family="selftest"):
    """pytest node arguments selecting some cases of a case file."""
    return [f"{cases / family}.toml::{name}" for name in names]


def suite_command(work, *args, cases=SELFTEST, select=None, root=ROOT, qemu=None, cpu=None):
    """(argv, env) of a suite run on `cases` (or on the `select`ed nodes of it),
    building in work/build and writing work/results, from the repository `root`."""
    cases = Path(cases).resolve()
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
            *(select or [str(cases)]), f"--cases={cases}",
            f"--build={work / 'build'}", f"--results={work / 'results'}"]
    if root not in cases.parents:
        # pytest loads conftest.py only from the directories of its arguments
        # and their parents: a case directory outside the repository (tmp_path)
        # needs the repository's conftest.py named as a plugin.
        argv[3:3] = ["-c", str(root / "pytest.ini"), "--noconftest", "-p", "conftest"]
    if qemu:
        argv.append(f"--qemu={qemu}")
    if cpu:
        argv.append(f"--cpu={cpu}")
    argv += args
    # The outer pytest's variables (PYTEST_CURRENT_TEST, xdist's worker IDs) are not the inner run's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return argv, env


def run_suite(work, *args, timeout=120, root=ROOT, **kwargs):
    """Run the suite to its end; a SuiteRun.  Fails the calling test if it leaves a QEMU running."""
    work = Path(work)
    results_dir = work / "results"
    for old in results_dir.glob("*.json"):
        old.unlink()            # a results file read below is this run's
    argv, env = suite_command(work, *args, root=root, **kwargs)
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise
    wall = time.monotonic() - start
    assert qemu_processes(work) == [], f"QEMU left running after:\n{output}"
    found = sorted(results_dir.glob("*.json"))
    assert len(found) <= 1, found
    results = json.loads(found[0].read_text()) if found else None
    return SuiteRun(proc.returncode, output, results, results_dir, wall)


def stop(proc):
    """Interrupt a suite run started with start_new_session=True, as Ctrl-C would, then kill it."""
    for sig, grace in ((signal.SIGINT, 15), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return              # ended and reaped: its process group ID is no longer ours to signal
        try:
            os.killpg(proc.pid, sig)
            proc.wait(grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def _runs_qemu(names):
    """Whether a command line (the base names of its words) runs QEMU: qemu-system-* itself, or
    a fetched build's own loader running it (tools/qemus.py: ld-linux-*.so.2 ... qemu-system-aarch64)."""
    return names[0].startswith("qemu-system") or \
        names[0].startswith("ld-linux") and any(n.startswith("qemu-system") for n in names[1:])


def qemu_processes(*markers):
    """PIDs of live QEMU processes whose command line holds every marker (a run's
    unique work directory, which QEMU's -kernel is in; a case ID as arg=<id>)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue            # exited while we looked
        # A zombie's command line is empty, and it runs nothing: only live QEMUs count.
        text = b" ".join(argv).decode(errors="replace")
        if _runs_qemu([Path(a.decode(errors="replace")).name for a in argv]) \
                and all(str(m) in text for m in markers):
            pids.append(int(cmdline.parent.name))
    return pids


def shell_script(path, body):
    """An executable /bin/sh script at `path`: a fake QEMU, or a tool that lacks something."""
    path = Path(path)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def qemu(request):
    """The QEMU the outer run tests (its --qemu, when conftest.py provides the option)."""
    return request.config.getoption("--qemu", default="qemu-system-aarch64")


@pytest.fixture(scope="session")
def cpu(request):
    """The -cpu model the outer run tests (its --cpu)."""
    return request.config.getoption("--cpu", default="max")


@pytest.fixture
def real_qemu(request):
    """The path of the QEMU the outer run tests (its --qemu), for fakes that wrap it."""
    qemu = shutil.which(request.config.getoption("--qemu", default="qemu-system-aarch64"))
    if qemu is None:
        pytest.skip("no QEMU to wrap")
    return qemu


@pytest.fixture
def suite_options(request):
    """The outer run's --qemu and --cpu, for the runs it starts: they test the same QEMU."""
    return {"qemu": request.config.getoption("--qemu", default=None),
            "cpu": request.config.getoption("--cpu", default=None)}


@pytest.fixture
def suite(suite_options, tmp_path):
    """run_suite in this test's tmp_path (or work=DIR), with the outer run's --qemu and --cpu."""
    def run(*args, **kwargs):
        return run_suite(kwargs.pop("work", tmp_path), *args, **{**suite_options, **kwargs})
    return run
