"""Command-line options of the suite's tools with bad values: pytest's (what `make run` passes:
QEMU=, CPU=, PYTEST_ARGS=--case-timeout ...), harness.fuzz's, harness.bench's and tools/qemus.py's.
Every bad value is a usage error: exit status 2 and a message naming the option, before anything
runs; never a traceback, never a run with a value that makes no sense (no timeout of -1 s, no
zero QEMU processes)."""
import argparse
import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bad_inputs import ROOT, budget
from harness import bench, options
from harness.fuzz.__main__ import parser as fuzz_parser

sys.path.insert(0, str(ROOT / "tools"))
import qemus  # noqa: E402

# Text a user may type for a number: words, signs, exponents, NaN, infinities, huge values, nothing.
VALUES = st.one_of(st.text(max_size=8), st.integers().map(str), st.floats().map(str),
                   st.sampled_from(["", "-1", "0", "nan", "inf", "-inf", "1e999", "0x10", "1_000", "  3", "auto", "3.5",
                                    "9" * 400]))


def usage_error(parse, argv):
    """(status, stderr) of parse(argv), which may exit through argparse."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            parse(argv)
        except SystemExit as e:
            return e.code, err.getvalue()
    return 0, err.getvalue()


@pytest.mark.parametrize("kind", [options.seconds, options.positive_seconds, options.count, options.positive_count])
def test_option_types(kind):
    """The types of pytest's --case-timeout, --hang-check, --fuzz-seed, --fuzz-count and bench's numbers."""
    @budget(60)
    @given(VALUES)
    def one(value):
        try:
            parsed = kind(value)
        except argparse.ArgumentTypeError as e:
            assert repr(value) in str(e)
            return
        assert parsed == parsed and abs(parsed) != float("inf") and parsed >= 0
    one()


@pytest.mark.parametrize("option", ["--seed", "--count", "--first", "--jobs", "--batch"])
def test_fuzz_options(option):
    @budget(40)
    @given(VALUES)
    def one(value):
        status, err = usage_error(fuzz_parser().parse_args, [f"{option}={value}"])
        assert status in (0, 2), err
        if status == 2:
            assert f"argument {option}" in err and "Traceback" not in err, err
        else:
            parsed = getattr(fuzz_parser().parse_args([f"{option}={value}"]), option[2:])
            assert isinstance(parsed, int) and parsed >= (1 if option in ("--jobs", "--batch") else 0)
    one()


@pytest.mark.parametrize("option", ["--jobs", "--boots", "--repeat", "--scales"])
def test_bench_options(option):
    @budget(40)
    @given(VALUES)
    def one(value):
        status, err = usage_error(bench._parse, [f"{option}={value}", "--qemu=system"])
        assert status in (0, 2), err
        if status == 2:
            assert f"argument {option}" in err and "Traceback" not in err, err
    one()


def test_qemus_unknown_build_is_a_usage_error_before_any_fetch():
    @budget(40)
    @given(st.text(min_size=1, max_size=12).filter(lambda b: b not in qemus.BUILDS and not b.startswith("-")))
    def one(build):
        status, err = usage_error(qemus.main, ["fetch", build])
        assert status == 2 and "unknown build" in err, err
    one()


# Through pytest itself, as `make run` runs it: each bad value stops the session with a usage error.
# A subprocess each (seconds on a loaded machine): one per option; the values are the property tests' above.
@pytest.mark.parametrize("option", ["--case-timeout=-1", "--hang-check=inf", "--fuzz-count=0"])
def test_pytest_options(option, tmp_path):
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(ROOT / "tests" / "fixtures"
                                                                                          / "selftest"),
                          f"--cases={ROOT / 'tests' / 'fixtures' / 'selftest'}", f"--build={tmp_path / 'build'}",
                          f"--results={tmp_path / 'results'}", option, "--collect-only", "-q"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    name = option.split("=")[0]
    assert run.returncode == 4, run.stdout + run.stderr        # pytest's usage error
    assert f"error: argument {name}:" in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not Path(tmp_path / "build").exists()                # nothing was built or run
