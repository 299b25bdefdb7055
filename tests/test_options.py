"""The suite's options can be discovered (`pytest --help`, with their Makefile variables), and
QEMU builds have one naming everywhere (harness/qemu_builds.py): a fetched build's name,
`system`, a path, or a command on PATH."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cases import load_file
from harness.errors import HarnessError
from harness.fuzz.generate import case_name
from harness.qemu import qemu_version
from harness.qemu_builds import resolve_qemu
from suite_run import real_qemu  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent


def test_pytest_help_lists_the_suites_options_with_their_make_variables():
    run = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    help_text = " ".join(run.stdout.split())        # argparse wraps the help text
    for option, variable in (("--qemu", "QEMU="), ("--cpu", "CPU="), ("--cases", "CASES="), ("--build", "BUILD="),
                             ("--isolated", "PYTEST_ARGS=--isolated"), ("--results", "PYTEST_ARGS=--results")):
        assert option in help_text, option
        start = help_text.index(f"{option}")
        assert variable in help_text[start:start + 400], (option, variable)


@pytest.fixture
def cache(tmp_path, monkeypatch, real_qemu):
    """A QEMU build cache (QEMUS_CACHE) holding a `sid` build whose wrapper is the QEMU under test."""
    monkeypatch.setenv("QEMUS_CACHE", str(tmp_path / "qemus"))
    build = tmp_path / "qemus" / "sid"
    build.mkdir(parents=True)
    # A whole manifest (tools/qemus.py refuses a damaged one), naming the QEMU under test's version.
    (build / "build.json").write_text(json.dumps({"wrapper": real_qemu, "qemu_version": qemu_version(real_qemu),
                                                  "debian_version": "the QEMU under test"}))
    return tmp_path / "qemus"


def test_qemu_names_are_resolved_or_refused(cache, tmp_path, real_qemu):
    assert resolve_qemu("sid") == real_qemu
    assert resolve_qemu(real_qemu) == real_qemu
    assert resolve_qemu("qemu-system-aarch64").endswith("/qemu-system-aarch64")
    assert resolve_qemu("system") == resolve_qemu("qemu-system-aarch64")
    with pytest.raises(HarnessError, match="'trixie' is not fetched in .*make qemus QEMUS=trixie"):
        resolve_qemu("trixie")
    with pytest.raises(HarnessError, match="not an executable"):
        resolve_qemu(str(tmp_path / "nothing"))
    with pytest.raises(HarnessError, match="neither a build \\(fetched: sid"):
        resolve_qemu("sidd")


def _env(cache):
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}, "QEMUS_CACHE": str(cache)}


def test_a_build_name_runs_the_suite_and_debug(cache, tmp_path):
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "cases/tbi.toml", "--qemu=sid",
                          f"--build={tmp_path / 'build'}", f"--results={tmp_path / 'results'}"],
                         cwd=ROOT, env=_env(cache), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "passed" in run.stdout, run.stdout + run.stderr
    refused = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "cases/tbi.toml",
                              "--qemu=trixie", f"--build={tmp_path / 'build'}", f"--results={tmp_path / 'results'}"],
                             cwd=ROOT, env=_env(cache), capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "make qemus QEMUS=trixie" in refused.stderr, refused.stdout + refused.stderr
    debug = subprocess.run([sys.executable, "-m", "harness.debug", "--qemu=trixie", "tbi.no_case"], cwd=ROOT,
                           env=_env(cache), capture_output=True, text=True, timeout=60)
    assert debug.returncode == 2 and "no case 'tbi.no_case'" in debug.stderr


def test_fuzz_takes_a_build_name_and_says_processes(cache):
    run = subprocess.run([sys.executable, "-m", "harness.fuzz", "--qemu=sid", "--seed=1", "--count=20"], cwd=ROOT,
                         env=_env(cache), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 QEMU processes" in run.stdout
    assert f"again: {sys.executable} -m harness.fuzz --seed 1 --first 0 --count 20 --qemu=sid" in run.stdout
    refused = subprocess.run([sys.executable, "-m", "harness.fuzz", "--qemu=trixie", "--count=1"], cwd=ROOT,
                             env=_env(cache), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "make qemus QEMUS=trixie" in refused.stderr


def test_fuzz_shows_a_generated_case_as_a_case_file(tmp_path):
    run = subprocess.run([sys.executable, "-m", "harness.fuzz", "--seed=1", "--show=24"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    path = tmp_path / "shown.toml"
    path.write_text(run.stdout)
    (case,) = load_file(path)                 # a case file the loader takes
    assert case.name == case_name(1, 24) and case.steps
    assert "expect" in run.stdout             # with the model's expectations
    again = subprocess.run([sys.executable, "-m", "harness.fuzz", "--seed=1", "--show=24"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert again.stdout == run.stdout         # the same seed and index: the same case
    unseeded = subprocess.run([sys.executable, "-m", "harness.fuzz", "--show=24"], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
    assert unseeded.returncode == 2 and "needs the campaign's --seed" in unseeded.stderr
