"""Batch mode (many cases per boot) against one boot per case, and the isolation of parallel runs."""
import json
import re
import subprocess
import sys

import pytest

from harness.cases import load_dir
from harness.qemu import qemu_command, qemu_version
from harness.runner import Runner, Settings
from suite_run import ROOT, qemu_processes, suite_command

CASES = ROOT / "cases"
# A batch with crashing cases in its middle (see the file's comment).
CRASHES = ROOT / "tests" / "fixtures" / "batch"


@pytest.fixture(scope="module")
def qemu(request):
    return request.config.getoption("--qemu", default="qemu-system-aarch64")


@pytest.fixture(scope="module")
def cpu(request):
    return request.config.getoption("--cpu", default="max")


def build_kernel(cases, work):
    """work/build/kernel.elf, with the blob of the cases of `cases` next to it, where a suite run in `work` finds them."""
    make = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), "kernel",
                           f"PYTHON={sys.executable}", f"CASES={cases}", f"BUILD={work / 'build'}"],
                          capture_output=True, text=True)
    assert make.returncode == 0, make.stderr
    return work / "build" / "kernel.elf"


def run_parallel(cases, work, qemu, cpu):
    """The suite on `cases` as `make run` runs it, with -n 2, in `work` (build/, results/), and with
    temporary directories of its own: (results directory, those directories, pytest's exit status)."""
    tmp, basetemp = work / "tmp", work / "basetemp"
    tmp.mkdir()
    argv, env = suite_command(work, "-q", "-n", "2", f"--basetemp={basetemp}", cases=cases, qemu=qemu, cpu=cpu)
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**env, "TMPDIR": str(tmp), "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode in (0, 1), run.stdout + run.stderr      # 1: a case failed, as crash_unexpected does
    assert qemu_processes(work) == []
    return work / "results", (tmp, basetemp), run.returncode


@pytest.fixture(scope="module")
def suite(qemu, cpu, tmp_path_factory):
    """The real suite, built and run once for the tests below: (kernel, results directory, temp dirs)."""
    work = tmp_path_factory.mktemp("suite")
    kernel = build_kernel(CASES, work)
    results, temps, _ = run_parallel(CASES, work, qemu, cpu)
    return kernel, results, temps


def in_batches(runner, cases):
    """{case id: Judgement}, judged as the suite's --batch mode does: in order, each with the cases after it."""
    return {c.id: runner.run_batch(c, cases[i + 1:]) for i, c in enumerate(cases)}


def steps_of(judgement):
    return [(s.n, s.ok, s.observed, list(s.problems)) for s in judgement.steps]


@pytest.fixture(scope="module")
def batch_vs_alone(suite, qemu, cpu):
    """{case id: (batch, alone)}, each ([(n, ok, observed, problems) per step], the run's problems): the
    case as batch mode judges it, and as the default mode (a boot per case: the suite's results) did."""
    kernel, results, _ = suite
    doc = json.loads((results / f"{qemu_version(qemu)}-{cpu}.json").read_text())
    alone = {e["id"]: ([(s["n"], s["ok"], s["observed"], s["problems"]) for s in e["steps"]], e["problems"])
             for e in doc["cases"] if e["outcome"] != "skipped"}
    batched = in_batches(Runner(Settings(qemu, cpu, kernel)), load_dir(CASES))
    assert qemu_processes(kernel.parent) == []
    # All but the cases that end a run are judged from a boot they share.
    assert max(j.batch_size for j in batched.values()) > 1
    return {case_id: ((steps_of(batched[case_id]), batched[case_id].problems), alone[case_id]) for case_id in alone}


def test_batch_gives_the_same_verdicts_as_a_boot_per_case(batch_vs_alone):
    def verdicts(judged):
        steps, problems = judged
        return [(n, ok, step_problems) for n, ok, _, step_problems in steps], problems

    for case_id, (batch, alone) in batch_vs_alone.items():
        assert verdicts(batch) == verdicts(alone), case_id


# Each case starts from zeroed frames (kernel/main.c), so a batch observes what fresh boots do.
def test_batch_observes_what_a_boot_per_case_does(batch_vs_alone):
    def observed(judged):
        return [(n, text) for n, _, text, _ in judged[0]]

    differ = {case_id: (observed(batch), observed(alone))
              for case_id, (batch, alone) in batch_vs_alone.items() if observed(batch) != observed(alone)}
    assert differ == {}


@pytest.fixture(scope="module")
def crashes(tmp_path_factory):
    """A work directory whose build/ holds a kernel of the crashing batch."""
    work = tmp_path_factory.mktemp("crashes")
    build_kernel(CRASHES, work)
    return work


def test_a_crash_in_a_batch_is_rerun_alone_and_the_cases_after_it_judged(qemu, cpu, crashes):
    cases = load_dir(CRASHES)
    judged = in_batches(Runner(Settings(qemu, cpu, crashes / "build" / "kernel.elf")), cases)

    assert list(judged) == [c.id for c in cases]
    for case_id in ("batch.before", "batch.crash", "batch.after_crash", "batch.last"):
        j = judged[case_id]
        assert j.ok, (case_id, j.problems, [(s.observed, s.problems) for s in j.steps if not s.ok])
    # Each crash was judged from a boot that ran it alone, the case after the first from a batch.
    for case_id in ("batch.crash", "batch.crash_unexpected"):
        command = judged[case_id].run.command
        assert command[command.index("-semihosting-config") + 1].endswith(f"native,arg=+walks,arg={case_id}")
    assert judged["batch.after_crash"].batch_size > 1
    # A case that crashes unexpectedly fails, and says why.
    failed = judged["batch.crash_unexpected"]
    assert not failed.ok and any("unexpected exception" in p for p in failed.problems), failed.problems
    assert qemu_processes(crashes) == []


def test_qemu_opens_no_socket_port_or_file_but_the_kernel_and_its_case_blob():
    command = qemu_command("qemu-system-aarch64", "max", "k.elf", ["a", "b"])
    shared = re.compile(r"tcp:|udp:|unix:|telnet:|socket|file[:=]|path=|^-(gdb|s|S|pidfile|D|qmp|monitor|chardev)$")
    assert [arg for arg in command if shared.search(arg)] == [command[command.index("-device") + 1]]
    assert command[command.index("-device") + 1].startswith("loader,file=cases.bin,")


def check_only_results_written(cases, results, temps, qemu, cpu):
    """The results, one raw log per case ID whose run failed, and nothing else, anywhere we can see."""
    stem = f"{qemu_version(qemu)}-{cpu}"
    doc = json.loads((results / f"{stem}.json").read_text())
    assert len(doc["cases"]) == len(load_dir(cases))
    raw = {f"raw/{e['id']}.log" for e in doc["cases"] if e["problems"]}
    assert {str(p.relative_to(results)) for p in results.rglob("*") if p.is_file()} == {f"{stem}.json",
                                                                                       f"{stem}.xml", *raw}
    for name in raw:    # a case's own output, not a neighbour's
        assert re.findall(r"begin case=(\S+)", (results / name).read_text()) == [name[len("raw/"):-len(".log")]]
    for temp in temps:
        assert [p for p in temp.rglob("*") if p.is_file()] == []
    return raw


def test_parallel_runs_of_the_suite_share_no_file(suite, qemu, cpu):
    _, results, temps = suite
    check_only_results_written(CASES, results, temps, qemu, cpu)


def test_parallel_runs_keep_a_raw_log_per_failed_case(qemu, cpu, crashes):
    results, temps, status = run_parallel(CRASHES, crashes, qemu, cpu)
    assert status == 1
    assert check_only_results_written(CRASHES, results, temps, qemu, cpu) == {"raw/batch.crash_unexpected.log"}
