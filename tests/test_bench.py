"""make bench (harness/bench.py) times only runs it checked: a boot that ran nothing, a suite run in
which cases never started, or a campaign whose cases did not run stop it with the reason; and what
it prints comes from what it measured on this machine, nothing else."""
import shutil
import subprocess
import sys
from argparse import Namespace

import pytest

from harness import bench
from harness.cases import load_dir
from harness.qemu import qemu_version, run_kernel
from suite_run import ROOT, shell_script
from suite_run import cpu, qemu, real_qemu  # noqa: F401  (fixtures)

KERNEL = ROOT / "build" / "kernel.elf"
CASES = load_dir(ROOT / "cases")


def dies_on_case_boots(path, real):
    """A QEMU that runs boots without a case, and exits 1 at once on any boot that names one."""
    return shell_script(path, f"""
for a in "$@"; do case "$a" in enable=on*) config="$a";; esac; done
case "$config" in *arg=[!+]*) exit 1;; esac
exec {real} "$@"
""")


def runs_nothing(path, real):
    """A QEMU whose kernel is given no case whatever the harness asks: every boot runs none and exits 0."""
    path.write_text(f"""#!{sys.executable}
import os, re, sys
args = [re.sub(r",arg=[^+,][^,]*", "", a) for a in sys.argv[1:]]
args = [a + ",arg=" if a.startswith("enable=on") and ",arg=" not in a else a for a in args]
os.execv({real!r}, [{real!r}, *args])
""")
    path.chmod(0o755)
    return path


@pytest.fixture
def kernel():
    if not KERNEL.is_file():
        pytest.skip(f"no {KERNEL}: run `make kernel`")
    return KERNEL


@pytest.fixture
def small(tmp_path):
    """A case directory of two hand-written families, and its kernel built: (cases dir, build dir)."""
    cases = tmp_path / "cases"
    cases.mkdir()
    for name in ("demo.toml", "translation.toml"):
        shutil.copy(ROOT / "cases" / name, cases)
    bench.build(cases, tmp_path / "build")
    return cases, tmp_path / "build"


def args_for(qemu, cpu, **more):
    return Namespace(qemu=str(qemu), cpu=cpu, jobs=2, rate_cases=40, **more)


def test_a_boot_that_refused_its_command_line_is_not_timed(qemu, cpu, kernel):
    """The old bench's "all instances in one boot": 807 IDs overflow the command line, and the kernel
    stops at once (exit 1, `cmdline_too_long`)."""
    run = run_kernel(qemu, cpu, kernel, [c.id for c in CASES], timeout=60)
    with pytest.raises(bench.BenchError, match="cmdline_too_long"):
        bench.check_boot(run, CASES, "one boot")


def test_a_boot_that_ran_none_of_its_cases_is_not_timed(qemu, cpu, kernel, real_qemu, tmp_path):
    """A boot that exits 0 having run nothing is caught by its record count."""
    fake = runs_nothing(tmp_path / "qemu-system-aarch64", real_qemu)
    args = args_for(fake, cpu)
    with pytest.raises(bench.BenchError, match=r"0 of the boot's \d+ cases ran"):
        bench.kernel_alone(args, kernel, bench.suite_cases(args, kernel, CASES), "uart")


def test_a_floor_boot_that_failed_is_not_timed(cpu, kernel, real_qemu, tmp_path):
    fake = shell_script(tmp_path / "qemu-system-aarch64", f'[ "$1" = --version ] && exec {real_qemu} --version\nexit 1')
    with pytest.raises(bench.BenchError, match="a boot that runs no case did not end as one: exit status 1"):
        bench.check_floor(run_kernel(str(fake), cpu, kernel, []))


def test_kernel_alone_runs_every_instance_the_suite_runs(qemu, cpu, kernel):
    """In as many boots as the command line and the boot modes need, every boot checked."""
    args = args_for(qemu, cpu)
    chosen = bench.suite_cases(args, kernel, CASES)
    cases = chosen.cases
    boots = bench.boots(cases, chosen.indices)
    assert sorted(c.id for _, _, members in boots for c in members) == sorted(c.id for c in cases)
    assert all(len({c.boot for c in members}) == 1 for _, _, members in boots)
    seconds, runs = bench.kernel_alone(args, kernel, chosen, "uart")
    # A case whose known bug ends QEMU's run (a marked case, e.g. block_level_minus1 on 7.2.22) has a
    # boot of its own, checked to end so; every other case shares the checked boots.
    ending = {c.id for c in cases if bench.ends_the_run(c, qemu_version(qemu), chosen.ids)}
    assert all(c.xfail for c in cases if c.id in ending)
    shared = [c.id for _, members in runs for c in members]
    assert seconds > 0 and sorted(shared + sorted(ending)) == sorted(c.id for c in cases)


def test_a_suite_run_whose_cases_never_started_is_not_timed(cpu, real_qemu, small, tmp_path):
    """The old bench accepted pytest's exit status 1 as "a full run" and read whatever results file
    was there: with a QEMU that dies on every case boot it timed 19 failures."""
    cases, build = small
    fake = dies_on_case_boots(tmp_path / "qemu-system-aarch64", real_qemu)
    ids = [c.id for c in load_dir(cases)]
    with pytest.raises(bench.BenchError, match="did not run cleanly.*the kernel never started this case"):
        bench.suite(args_for(fake, cpu), cases, build, tmp_path / "results", ids)


def test_a_results_file_of_another_run_is_not_read(cpu, real_qemu, small, tmp_path):
    """A results file left in place by an earlier run is removed before the run, so a run that
    writes none (pytest stopped before any case: here no QEMU boots) is refused."""
    cases, build = small
    qemu = shell_script(tmp_path / "qemu-system-aarch64", f'[ "$1" = --version ] && exec {real_qemu} --version\nexit 1')
    results = tmp_path / "results"
    results.mkdir()
    (results / "7.2.22-max.json").write_text('{"cases": []}')
    with pytest.raises(bench.BenchError):
        bench.suite(args_for(qemu, cpu), cases, build, results, [c.id for c in load_dir(cases)])


def test_check_suite_counts_every_instance():
    entry = {"id": "a", "outcome": "passed", "problems": []}
    assert bench.check_suite({"cases": [entry]}, 0, ["a"], "run") == {"passed": 1}
    with pytest.raises(bench.BenchError, match="1 of 2 instances have no result"):
        bench.check_suite({"cases": [entry]}, 0, ["a", "b"], "run")
    with pytest.raises(bench.BenchError, match="wrote no results"):
        bench.check_suite(None, 1, ["a"], "run")
    # An xfailed case whose run failed is a failed run all the same.
    broken = {"id": "a", "outcome": "xfailed", "problems": ["QEMU killed by SIGABRT"]}
    with pytest.raises(bench.BenchError, match="SIGABRT"):
        bench.check_suite({"cases": [broken]}, 0, ["a"], "run")
    with pytest.raises(bench.BenchError, match="exited 1"):
        bench.check_suite({"cases": [entry]}, 1, ["a"], "run")


def test_a_campaign_whose_cases_did_not_run_gives_no_rate(cpu, kernel, real_qemu, tmp_path):
    """The old bench printed "11 cases/s" for a campaign in which not one case ran."""
    fake = dies_on_case_boots(tmp_path / "qemu-system-aarch64", real_qemu)
    # Every case the campaign ran did not run (a case beyond the model is never run: the count may be below 40).
    with pytest.raises(bench.BenchError, match=r"of 40 generated cases: \d+ did not run"):
        bench.generated_rate(args_for(fake, cpu), kernel)


def figures(**more):
    run = bench.SuiteRun(seconds=4.0, rss=90.0, counts={"passed": 10})
    return bench.Figures(**{
        "qemu": "q", "version": "7.2.22", "cpu": "max", "instances": 10, "cpus": 2, "jobs": 2, "load": (1.0, 2.0),
        "floor": [0.05], "alone": {"uart": [2.0], "semihosting": [1.0]}, "judging": {"intent": [0.5], "model": [1.5], "cached": [0.7]},
        "default": {"uart": [run], "semihosting": [bench.SuiteRun(3.0, 80.0, {"passed": 10})]},
        "isolated": [bench.SuiteRun(12.0, 70.0, {"passed": 10})],
        "rate": {"cases": 40, "rate": 100.0, "seconds": 0.4, "rate_per_cpu": 60.0, "phases": {"run": 0.3},
                 "run_failures": 0},
        "scale": [], **more})


def test_the_report_compares_measured_figures_only():
    """The ratio line in its one form, per-instance figures and the comparison with --isolated from
    this run's figures; no verdict against a number from another machine."""
    lines = bench.report(figures())
    assert "default run / kernel alone: 2.00" in lines
    text = "\n".join(lines)
    assert "default run: 400.00 ms an instance on the UART (300.00 ms with --console semihosting)" in text
    assert "--isolated: 1200.00 ms, 3.0x the default run's time" in text
    assert "kernel alone: 200.00 ms an instance on the UART, 100.00 ms with semihosting" in text
    assert "the largest process of a default run 90 MiB" in text
    assert "target" not in text and "before" not in text
    assert [line for line in lines if line.startswith("default run / kernel alone:")] == \
        ["default run / kernel alone: 2.00"]


def test_make_bench_stops_at_a_failed_run_and_says_why(cpu, real_qemu, small, tmp_path):
    cases, build = small
    fake = dies_on_case_boots(tmp_path / "qemu-system-aarch64", real_qemu)
    run = subprocess.run([sys.executable, "-m", "harness.bench", f"--qemu={fake}", f"--cpu={cpu}",
                          f"--cases={cases}", f"--build={build}", "--repeat=1", "--boots=1", "--rate-cases=40",
                          "--scales=none"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and run.stdout == "", run.stdout + run.stderr
    assert run.stderr.startswith("bench: stopped, a run failed its check: the kernel alone"), run.stderr


def test_make_bench_on_a_few_cases(qemu, cpu, small):
    """Every row, from runs that all passed their checks (a few cases, one run each)."""
    cases, build = small
    run = subprocess.run([sys.executable, "-m", "harness.bench", f"--qemu={qemu}", f"--cpu={cpu}",
                          f"--cases={cases}", f"--build={build}", "--repeat=1", "--boots=1", "--rate-cases=40",
                          "--scales=8"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    for label in ("boot floor", "kernel alone, all", "(uart)", "(semihosting)", "judging their records", "every step evaluated", "predictions cached",
                  "default run (make run), uart",
                  "default run (make run), semihosting", "one boot per case: --isolated", "default run / kernel alone: ",
                  "ms an instance", "generated cases", "peak memory", "scale:"):
        assert label in run.stdout, (label, run.stdout)
