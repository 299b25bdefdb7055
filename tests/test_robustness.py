"""The suite stays trustworthy when things go wrong: a kernel that hangs or takes
an exception, a QEMU that crashes or prints garbage, a missing or too old tool,
and a run interrupted half-way.  Each test runs the real suite (tests/suite_run.py)
on the self-test cases of tests/fixtures/selftest.
"""
import json
import os
import re
import select
import signal
import subprocess
import time

import pytest

from harness.errors import HarnessError
from harness.qemu import CASE_TIMEOUT as DEFAULT_TIMEOUT, qemu_version
from suite_run import ROOT, SELFTEST, nodes, qemu_processes, shell_script, stop, suite_command
from suite_run import real_qemu, suite, suite_options  # noqa: F401  (fixtures)
from test_mutants import DEFECTS, mutant_repository


def problems(entry):
    return "\n".join(entry["problems"])


# ---------------------------------------------------------------- 1. hangs

def test_hang_is_stopped_by_the_progress_check_and_fails_only_its_case(suite):
    # The hanging case runs first: the cases after it must still run, in the same session.
    run = suite(select=nodes("hang_unexpected", "plain", "hang", "brk"))
    assert run.returncode == 1, run.output
    assert run.outcomes() == {"selftest.hang_unexpected": "failed", "selftest.plain": "passed",
                              "selftest.hang": "passed", "selftest.brk": "passed"}, run.output

    hang = run.case("selftest.hang_unexpected")
    # Where the CPU was (PC and symbol) and where the case's records stopped.
    assert re.search(r"the kernel made no progress \(no output for [0-9.]+ s and its registers unchanged over "
                     r"[0-9.]+ s\) and was stopped after [0-9.]+ s; the CPU was at PC 0x[0-9a-f]+ "
                     r"\(selftest_hang\+0x[0-9a-f]+\); the case's records stop after the record of step 1",
                     problems(hang)), problems(hang)
    assert [s["ok"] for s in hang["steps"]] == [True, True, False, False]
    assert "selftest_hang+0x" in run.output         # the report a user reads says so too
    assert "selftest.toml::hang_unexpected --qemu=" in run.output      # and how to rerun just this case,
    assert f"--cases={SELFTEST}" in run.output                          # from this case directory
    assert run.raw_log("selftest.hang_unexpected").is_file()
    # The progress check stopped both hangs (the message above says so), not the 10 s timeout:
    # bounded by the timeout alone, since how soon depends on the machine's load.
    assert hang["wall"] < DEFAULT_TIMEOUT and run.case("selftest.hang")["wall"] < DEFAULT_TIMEOUT


def test_hang_is_stopped_at_the_timeout_without_the_progress_check(suite):
    run = suite("--case-timeout=4", "--hang-check=0", "--isolated", select=nodes("hang_unexpected", "plain", "hang"))
    assert run.returncode == 1, run.output
    assert run.outcomes() == {"selftest.hang_unexpected": "failed", "selftest.plain": "passed",
                              "selftest.hang": "passed"}, run.output

    hang = run.case("selftest.hang_unexpected")
    assert re.search(r"did not finish within 4 s and was stopped; the CPU was at PC 0x[0-9a-f]+ "
                     r"\(selftest_hang\+0x[0-9a-f]+\); the case's records stop after the record of step 1",
                     problems(hang)), problems(hang)
    # The time limit is per case: --case-timeout, or the case's own `timeout` (1 s for selftest.hang);
    # each run lasts at least its limit, and the 1 s case is stopped well before the 4 s limit.
    assert 4 <= hang["wall"] < DEFAULT_TIMEOUT
    assert 1 <= run.case("selftest.hang")["wall"] < 4


# ---------------------------------------------------------------- 2. QEMU misbehaving

# What a broken QEMU does instead of running selftest.plain (a /bin/sh snippet), and
# what the failure must say.  Any other run is the real QEMU's.
BOOT = "MMUT 6 boot el=1 midr=0x0 mmfr0=0x0 mmfr1=0x0 mmfr2=0x0 isar0=0x0 cases=7"
MISBEHAVIOURS = {
    "garbage": (r"printf 'MMUT 6 boot el=one\n\377\376 not a record\nMMUT 6 begin\n'; exit 0", [
        r"the kernel never started this case \(QEMU exit status 0 before the kernel booted\)",
        r"malformed record \(boot lacks .*\): 'MMUT 6 boot el=one'",
        r"malformed record \(begin lacks case\)",
        r"QEMU's last lines: .* not a record"]),
    "truncated": (f"printf '{BOOT}\\nMMUT 6 begin case=selftest.plain\\n"
                  "MMUT 6 step n=0 va=0x80000000 result=ok\\n"
                  "MMUT 6 step n=1 va=0x8000'; exit 0", [
        r"the case's records stop after the record of step 0, before its end record: QEMU exit status 0",
        r"malformed record \(step lacks result\): 'MMUT 6 step n=1 va=0x8000'"]),
    "sigsegv": (f"echo '{BOOT}'; echo 'MMUT 6 begin case=selftest.plain'; kill -SEGV $$", [
        r"the case's records stop after its begin record, before its end record: "
        r"QEMU killed by SIGSEGV"]),
    "early_exit": ("echo 'qemu-system-aarch64: -semihosting-config: invalid parameter' >&2; exit 1", [
        r"the kernel never started this case \(QEMU exit status 1 before the kernel booted\)",
        r"QEMU's last lines: qemu-system-aarch64: -semihosting-config: invalid parameter"]),
}


@pytest.mark.parametrize("misbehaviour", MISBEHAVIOURS)
def test_broken_qemu_fails_the_case_clearly(suite, tmp_path, real_qemu, misbehaviour):
    action, messages = MISBEHAVIOURS[misbehaviour]
    qemu = shell_script(tmp_path / "qemu-system-aarch64", f"""
case " $* " in *"arg=selftest.plain,"* | *"arg=selftest.plain "*) {action};; esac
exec {real_qemu} "$@"
""")
    run = suite(qemu=qemu, select=nodes("plain", "brk", "nested"))
    assert run.returncode == 1, run.output
    # The rest of the run goes on: only the case QEMU broke fails.
    assert run.outcomes() == {"selftest.plain": "failed", "selftest.brk": "passed", "selftest.nested": "passed"}
    plain = run.case("selftest.plain")
    for message in messages:
        assert re.search(message, problems(plain)), problems(plain)
    # What QEMU printed is kept for a post-mortem, and the report says where.
    raw = run.raw_log("selftest.plain")
    assert raw.is_file() and str(raw) in run.output
    assert "MMUT 6 exit" not in raw.read_text()
    if misbehaviour != "early_exit":
        assert "MMUT 6 boot" in raw.read_text()


# ---------------------------------------------------------------- 3. exceptions

def test_exceptions_are_reported_with_syndrome_and_status(suite):
    run = suite(select=nodes("brk", "nested", "brk_unexpected", "nested_unexpected"))
    assert run.returncode == 1, run.output
    # The self-tests pass only with the right kind of exception and exit status (3, 4) ...
    assert run.outcomes() == {"selftest.brk": "passed", "selftest.nested": "passed",
                              "selftest.brk_unexpected": "failed", "selftest.nested_unexpected": "failed"}
    # ... and a case that meets one unexpectedly says what it was, decoded, and where.
    assert re.search(r"the kernel took an unexpected exception: BRK instruction \(EC 0x3c\), ISS 0x0, "
                     r"ELR 0x[0-9a-f]+ \(selftest_brk\+0x0\).*; QEMU exit status 3 \(an unexpected exception\)",
                     problems(run.case("selftest.brk_unexpected")))
    assert re.search(r"the kernel took a nested exception: data abort \(same EL\): .*"
                     r"ELR 0x[0-9a-f]+ \(handle_exception\+0x[0-9a-f]+\).*; QEMU exit status 4 ",
                     problems(run.case("selftest.nested_unexpected")))
    # Never a silent hang: each run ends by itself, inside the 10 s default timeout.
    assert all(c["wall"] < DEFAULT_TIMEOUT for c in run.results["cases"])


# ---------------------------------------------------------------- 5. missing or old tools

def test_old_qemu_is_refused(tmp_path):
    qemu = shell_script(tmp_path / "qemu-system-aarch64", 'echo "QEMU emulator version 5.0.0"')
    with pytest.raises(HarnessError, match=r"QEMU 5\.0\.0, older than 6\.2.*apt-get install qemu-system-arm"):
        qemu_version(str(qemu))


@pytest.mark.parametrize("kind", ["missing", "too_old"])
def test_unusable_qemu_stops_the_run_with_the_fix(suite, tmp_path, kind):
    if kind == "missing":
        qemu, said = "/nonexistent/qemu-system-aarch64", "QEMU '/nonexistent/qemu-system-aarch64' is not an executable file"
    else:
        # Answers --version only; anything else would be a boot, which must not happen.
        qemu = shell_script(tmp_path / "qemu-system-aarch64", f"""
[ "$1" = --version ] && echo "QEMU emulator version 5.0.0" && exit 0
touch {tmp_path}/booted; exit 1""")
        said = "is QEMU 5.0.0, older than 6.2, the oldest the suite supports"
    run = suite(qemu=qemu, select=nodes("plain"))
    assert run.returncode == 2, run.output
    assert said in run.output and "apt-get install qemu-system-arm" in run.output, run.output
    assert run.results is None and not (tmp_path / "booted").exists()


# tools/deps.sh with something missing, as `make deps` runs it: it must print the
# exact command that installs it.  MMU_DEPS_NO_INSTALL=1: report, never install.
@pytest.mark.parametrize("kind", ["cross_compiler", "python_without_pytest"])
def test_deps_names_the_install_command(tmp_path, kind):
    python, cc, package = "/usr/bin/python3", "aarch64-linux-gnu-gcc", "python3-pytest"
    if kind == "cross_compiler":
        cc, package = "aarch64-nonexistent-gcc", "gcc-aarch64-linux-gnu"
    else:
        # A real Python without its site packages: it has no pytest, pexpect or xdist.
        python = str(shell_script(tmp_path / "python3", 'exec /usr/bin/python3 -S "$@"'))
    out = subprocess.run([ROOT / "tools" / "deps.sh", python, "qemu-system-aarch64", cc],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "MMU_DEPS_NO_INSTALL": "1"})
    assert out.returncode != 0
    assert re.search(r"install them with:  sudo apt-get update && sudo apt-get install -y "
                     rf"--no-install-recommends [a-z0-9 .-]*\b{package}\b", out.stderr), out.stderr
    if kind == "python_without_pytest":
        assert f"make sure PYTHON={python} can import pytest" in out.stderr


# ---------------------------------------------------------------- 6. interruption

@pytest.mark.parametrize("jobs", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_interrupt_leaves_no_qemu_and_no_half_results(tmp_path, suite_options, jobs):
    # The hang is left to the timeout; the crash in selftest.brk ends the boot that plain shares with it.
    argv, env = suite_command(tmp_path, "--case-timeout=60", "--hang-check=0", *jobs,
                              select=nodes("plain", "brk", "hang_unexpected"), **suite_options)
    # Ctrl-C as at a terminal: a shell starts a background job with SIGINT ignored, and Python keeps an
    # ignored SIGINT ignored, so a `make test` run in the background would make the inner run deaf to it.
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # Wait for the hanging case's QEMU and for selftest.plain and selftest.brk to be reported (their
        # two dots, after the file name or, under xdist, on a line of their own: on a loaded machine brk's
        # rerun on a fresh boot can take seconds), then Ctrl-C: SIGINT to pytest's process group (its xdist workers too; QEMU has its own session).
        deadline, seen = time.monotonic() + 60, ""
        while not (qemu_processes(tmp_path, "arg=selftest.hang_unexpected") and re.search(r"(selftest\.toml |\n)\.\.", seen)):
            assert proc.poll() is None and time.monotonic() < deadline, seen + proc.communicate()[0]
            if select.select([proc.stdout], [], [], 0.05)[0]:
                seen += os.read(proc.stdout.fileno(), 4096).decode(errors="replace")
        time.sleep(1)       # brk's results entry is written after its dot (at its teardown's report)
        os.killpg(proc.pid, signal.SIGINT)
        output = seen + proc.communicate(timeout=30)[0]
    finally:
        stop(proc)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert qemu_processes(tmp_path) == [], output
    # The results file is whole, says the run was interrupted, and holds the case that finished.
    results = list((tmp_path / "results").glob("*.json"))
    assert len(results) == 1, output
    doc = json.loads(results[0].read_text())
    assert doc["interrupted"] is True
    assert {c["id"]: c["outcome"] for c in doc["cases"]} == {"selftest.plain": "passed", "selftest.brk": "passed"}
    assert not list((tmp_path / "results").glob(".*.tmp"))


# ---------------------------------------------------------------- 7. a kernel that hangs in every case

def test_a_kernel_hanging_in_every_case_costs_about_a_second_each(suite, tmp_path):
    # The page-table builder's index off by one: once the MMU is on, the kernel's own code is not
    # where its tables say, and the kernel loops in its exception vectors, in every case.
    repo = mutant_repository(tmp_path / "repo", *DEFECTS["index_shift_off_by_one"])
    select = [str(repo / "cases" / name) for name in ("translation.toml", "permission.toml")]
    run = suite("-n", "2", root=repo, cases=repo / "cases", select=select, work=tmp_path)
    assert run.returncode == 1, run.output
    cases = run.results["cases"]
    # Every case fails, a known-bug case's too: its bug explains no hang.
    assert len(cases) == 20 and {c["outcome"] for c in cases} == {"failed"}, run.output
    for case in cases:
        assert re.search(r"the kernel made no progress \(.*\) and was stopped after [0-9.]+ s; the CPU was at PC "
                         r"0x[0-9a-f]+", problems(case)), problems(case)
        # Stopped by the progress check each time (the message), not by the 10 s timeout.
        assert case["wall"] < DEFAULT_TIMEOUT and case["fresh_boot"]
