"""The default run (many cases per boot, failures rerun alone) against one boot per case, the
scheduling of shared boots under xdist, and the isolation of parallel runs."""
import json
import re
import shutil
import subprocess
import sys
from xml.etree import ElementTree

import pytest

from harness.cases import load_dir
from harness.qemu import qemu_command, qemu_version
from harness.runner import Runner, Settings
from suite_run import ROOT, qemu_processes, shell_script, suite_command
from test_mutants import mutant_repository
from suite_run import cpu, qemu, real_qemu  # noqa: F401  (fixtures)

CASES = ROOT / "cases"
# A batch with crashing cases in its middle (see the file's comment).
CRASHES = ROOT / "tests" / "fixtures" / "batch"
# Two cases, the second reading the frame the first wrote (see the file's comment).
INTERFERENCE = ROOT / "tests" / "fixtures" / "interference"


def build_kernel(cases, work, root=ROOT):
    """work/build/kernel.elf, with the blob of the cases of `cases` next to it, where a suite run in `work` finds them."""
    make = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(root), "kernel",
                           f"PYTHON={sys.executable}", f"CASES={cases}", f"BUILD={work / 'build'}"],
                          capture_output=True, text=True)
    assert make.returncode == 0, make.stderr
    return work / "build" / "kernel.elf"


def run_parallel(cases, work, qemu, cpu, *options, jobs=2):
    """The suite on `cases` as `make run` runs it, with -n `jobs`, in `work` (build/, results/), and with
    temporary directories of its own: (results, those directories, pytest's exit status)."""
    tmp, basetemp = work / "tmp", work / "basetemp"
    for temp in (tmp, basetemp):
        shutil.rmtree(temp, ignore_errors=True)
    tmp.mkdir()
    argv, env = suite_command(work, "-q", "-n", str(jobs), f"--basetemp={basetemp}", *options,
                              cases=cases, qemu=qemu, cpu=cpu)
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900,
                         env={**env, "TMPDIR": str(tmp), "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode in (0, 1), run.stdout + run.stderr      # 1: a case failed, as crash_unexpected does
    assert qemu_processes(work) == []
    doc = json.loads((work / "results" / f"{qemu_version(qemu)}-{cpu}.json").read_text())
    return doc, (tmp, basetemp), run.returncode


@pytest.fixture(scope="module")
def suite(qemu, cpu, tmp_path_factory):
    """The real suite, built once and run as `make run` runs it (no xdist: one pytest process
    booting a QEMU per CPU at a time): (kernel, results, temp dirs)."""
    work = tmp_path_factory.mktemp("suite")
    kernel = build_kernel(CASES, work)
    doc, temps, _ = run_parallel(CASES, work, qemu, cpu, jobs=0)
    return kernel, doc, temps


@pytest.fixture(scope="module")
def default_vs_isolated(suite, qemu, cpu):
    """{case id: (default, isolated)}: each case's results entry from the default run, and from a run
    with one boot per case (--isolated), of the same kernel."""
    kernel, default, _ = suite
    isolated, _, _ = run_parallel(CASES, kernel.parent.parent, qemu, cpu, "--isolated")
    assert all(e["batch_size"] in (1, None) for e in isolated["cases"])
    by_id = {e["id"]: e for e in isolated["cases"]}
    assert by_id.keys() == {e["id"] for e in default["cases"]}
    return {e["id"]: (e, by_id[e["id"]]) for e in default["cases"]}


def verdict(entry):
    """What a run says about a case: its outcome, each step's verdict (and the known bugs that
    explain it), the run's problems.  Of a step a known bug explains, not its problem lines: what
    such a QEMU does can differ from one run to the next (a block QEMU takes at level 0 sends the
    access to the board's high MMIO windows)."""
    return entry["outcome"], [(s["n"], s.get("verdict"), s.get("known_bugs"),
                               s["problems"] if s.get("verdict") != "known_bug" else None)
                              for s in entry["steps"]], entry["problems"]


def observed(entry, case):
    """What the kernel reported of each step that has one permitted outcome.  Not of a step a known bug
    explains (as above), nor of one whose case permits several (a one_of): which one QEMU gives may
    differ from one run to the next (7.2.22's TLBI RVAE2 in vhe.range_el2 leaves one boot the old entry
    and the next the new, fresh boots alike); the verdicts above say each was permitted."""
    return [(s["n"], s["observed"] if s.get("verdict") != "known_bug" and case.steps[s["n"]].expect.kind != "one_of"
             else None) for s in entry["steps"]]


def test_the_default_run_gives_the_verdicts_and_observations_of_a_boot_per_case(default_vs_isolated):
    differ = {case_id: (verdict(default), verdict(isolated))
              for case_id, (default, isolated) in default_vs_isolated.items() if verdict(default) != verdict(isolated)}
    assert differ == {}
    # Each case starts from zeroed frames (kernel/tables.c), so a shared boot observes what fresh boots do.
    cases = {c.id: c for c in load_dir(CASES)}
    differ = {case_id: (observed(default, cases[case_id]), observed(isolated, cases[case_id]))
              for case_id, (default, isolated) in default_vs_isolated.items()
              if observed(default, cases[case_id]) != observed(isolated, cases[case_id])}
    assert differ == {}
    # ... and it judged most cases from shared boots, and every failure (xfails too) from a fresh one.
    defaults = [default for default, _ in default_vs_isolated.values()]
    assert sum(e["batch_size"] > 1 for e in defaults if e["batch_size"]) > len(defaults) / 2
    assert all(e["fresh_boot"] for e in defaults if e["outcome"] == "failed")
    # A known-bug verdict stands from a shared boot (runner._known_bug_stands), with the walk its digest
    # showed (the declared tables'), as a fresh boot's does: the verdicts and observations above, and
    # each step a known bug explains reports the walk a boot of its own reports (none where the kernel
    # read no descriptor: a VA out of range, a read_desc, a step the run never reached).
    assert any(not e["fresh_boot"] for e in defaults if e["outcome"] == "xfailed")
    walks = lambda e: [(s["n"], s["walk"]) for s in e["steps"] if s.get("verdict") == "known_bug"]
    differ = {case_id: (walks(default), walks(isolated))
              for case_id, (default, isolated) in default_vs_isolated.items() if walks(default) != walks(isolated)}
    assert differ == {}
    assert sum(bool(w) for default in defaults for _, w in walks(default)) > 100


@pytest.mark.parametrize("jobs", [2, 3])
def test_each_case_runs_on_one_worker_and_is_reported_once(qemu, cpu, suite, tmp_path, real_qemu, jobs):
    kernel, default, _ = suite
    # QEMU as a script that logs which xdist worker started it, with which cases, then runs the real one.
    log = tmp_path / "boots.log"
    wrapper = shell_script(tmp_path / "qemu-system-aarch64", f"""
[ "$1" = --version ] || echo "${{PYTEST_XDIST_WORKER:-main}} $*" >> {log}
exec {real_qemu} "$@"
""")
    doc, _, _ = run_parallel(CASES, kernel.parent.parent, str(wrapper), cpu, jobs=jobs)
    ids = [e["id"] for e in doc["cases"]]
    assert sorted(ids) == sorted({c.id for c in load_dir(CASES)})     # each case reported once
    workers = {}
    for line in log.read_text().splitlines():
        worker, *args = line.split()
        config = args[args.index("-semihosting-config") + 1]
        for case_id in re.findall(r"arg=([^,+][^,]*)", config):     # not the kernel's options (+walks)
            workers.setdefault(case_id, set()).add(worker)
    skipped = {e["id"] for e in doc["cases"] if e["outcome"] == "skipped"}
    assert {case_id for case_id in ids if case_id not in skipped} == workers.keys()
    assert {case_id: w for case_id, w in workers.items() if len(w) > 1} == {}
    assert len(set().union(*workers.values())) == jobs
    # The verdicts do not depend on how the cases were shared out.
    assert {e["id"]: verdict(e) for e in doc["cases"]} == {e["id"]: verdict(e) for e in default["cases"]}


@pytest.fixture(scope="module")
def crashes(tmp_path_factory):
    """A work directory whose build/ holds a kernel of the crashing batch."""
    work = tmp_path_factory.mktemp("crashes")
    build_kernel(CRASHES, work)
    return work


@pytest.mark.parametrize("console", ["uart", "semihosting"])
def test_a_crash_in_a_shared_boot_ends_it_and_the_cases_after_it_are_judged(qemu, cpu, crashes, console):
    """On either channel of the records (harness.qemu.CONSOLES)."""
    cases = load_dir(CRASHES)
    runner = Runner(Settings(qemu, cpu, crashes / "build" / "kernel.elf", console=console))
    judged = {c.id: runner.run_shared(c, cases[i + 1:]) for i, c in enumerate(cases)}

    assert list(judged) == [c.id for c in cases]
    for case_id in ("batch.before", "batch.crash", "batch.after_crash", "batch.last"):
        j = judged[case_id]
        assert j.ok, (case_id, j.problems, [(s.observed, s.problems) for s in j.steps if not s.ok])
    # The crash ended the boot it shared with batch.before; the cases after it had boots of their own.
    assert (judged["batch.before"].batch_size, judged["batch.crash"].fresh_boot) == (5, False)
    assert judged["batch.after_crash"].fresh_boot and judged["batch.after_crash"].batch_size == 3
    # A case that crashes unexpectedly fails, and says why, from the boot it began.
    failed = judged["batch.crash_unexpected"]
    assert not failed.ok and any("unexpected exception" in p for p in failed.problems), failed.problems
    assert failed.rerun is not None
    command = failed.run.command
    assert command[command.index("-semihosting-config") + 1].endswith(
        {"uart": "chardev=semihosting,arg=+walks,arg=batch.crash_unexpected",
         "semihosting": "chardev=console,arg=+semihosting,arg=+walks,arg=batch.crash_unexpected"}[console])
    assert qemu_processes(crashes) == []


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
    """The kernel of the interference cases with a defect: it leaves a case's frames as the case
    before wrote them (kernel/main.c zeroes them before each case's steps)."""
    work = tmp_path_factory.mktemp("leaky")
    repo = mutant_repository(work / "repo", "main.c", "for_each_frame(c, spaces, &tt1, zero_frame);", "")
    return build_kernel(INTERFERENCE, work, root=repo)


def test_what_an_earlier_case_of_a_shared_boot_left_is_not_taken_for_the_case(qemu, cpu, leaky):
    """A case that fails in a boot it shares because of what an earlier case left behind is judged
    from a fresh boot of its own: the shared boot's verdict does not stand."""
    cases = load_dir(INTERFERENCE)
    runner = Runner(Settings(qemu, cpu, leaky))
    judged = {c.id: runner.run_shared(c, cases[i + 1:]) for i, c in enumerate(cases)}
    writes, reads = judged["interference.writes"], judged["interference.reads"]
    assert writes.ok and (writes.batch_size, writes.rerun) == (2, None)
    # In the shared boot it read the first case's 0x1111; alone, the zero of a fresh boot's frame.
    assert reads.rerun == "failed in a boot shared with 1 other cases", reads.rerun
    assert reads.ok and reads.fresh_boot and reads.batch_size == 1, [s.observed for s in reads.steps]
    shared = runner._shared_boot(iter(cases))["interference.reads"]
    assert [s.observed for s in shared.steps] == ["completes, value 0x1111"] and shared.rerun is not None
    assert qemu_processes(leaky.parent.parent) == []


def test_qemu_opens_no_port_or_file_but_the_kernel_and_its_case_blob():
    command = qemu_command("qemu-system-aarch64", "max", "k.elf", ["a", "b"], monitor_fd=5)
    # The monitor is on a socket pair QEMU inherits (fd=), which no other process can reach.
    assert "socket,id=monitor,fd=5" in command and command[command.index("-monitor") + 1] == "chardev:monitor"
    shared = re.compile(r"tcp:|udp:|unix:|telnet:|host=|port=|file[:=]|path=|^-(gdb|s|S|pidfile|D|qmp)$")
    assert [arg for arg in command if shared.search(arg)] == [command[command.index("-device") + 1]]
    assert command[command.index("-device") + 1].startswith("loader,file=cases.bin,")


def check_only_results_written(cases, doc, results, temps):
    """The results, one raw log per case ID whose run failed, and nothing else, anywhere we can see."""
    assert len(doc["cases"]) == len(load_dir(cases))
    stem = f"{doc['qemu_version']}-{doc['cpu']}"
    raw = {f"raw/{e['id']}.log" for e in doc["cases"] if e["problems"]}
    assert {str(p.relative_to(results)) for p in results.rglob("*") if p.is_file()} == {f"{stem}.json",
                                                                                       f"{stem}.xml", *raw}
    for temp in temps:
        assert [p for p in temp.rglob("*") if p.is_file()] == []
    # The JUnit XML: a testcase per instance, without the results entry again (the JSON has it).
    xml = ElementTree.parse(results / f"{stem}.xml")
    assert len(xml.findall(".//testcase")) == len(doc["cases"]) and xml.findall(".//property") == []
    return raw


def test_parallel_runs_of_the_suite_share_no_file(suite):
    kernel, doc, temps = suite
    check_only_results_written(CASES, doc, kernel.parent.parent / "results", temps)


def test_parallel_runs_keep_a_raw_log_per_failed_case(qemu, cpu, crashes):
    doc, temps, status = run_parallel(CRASHES, crashes, qemu, cpu)
    assert status == 1
    assert check_only_results_written(CRASHES, doc, crashes / "results", temps) == {"raw/batch.crash_unexpected.log"}
    # The log is the case's own fresh boot, not the boot it shared.
    assert re.findall(r"begin case=(\S+)", (crashes / "results" / "raw" / "batch.crash_unexpected.log").read_text()) \
        == ["batch.crash_unexpected"]
