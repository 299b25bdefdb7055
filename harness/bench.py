"""make bench: how long the suite takes, against what QEMU alone needs.

    python -m harness.bench --qemu=Q --cpu=C --build=build --cases=cases --jobs=auto

One table: the boot floor (a boot that runs no case), the suite in its default
mode (one boot per case, pytest-xdist -n JOBS) and its ratio to the ideal
instances x floor / jobs, the part of it that is a fixed cost (the same command
running one instance), one boot per case against all cases in one boot, batch
mode through pytest, and peak memory.  Speed is measured and shown, never
asserted: it depends on the machine and on what else runs on it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.cases import load_dir
from harness.qemu import qemu_command, qemu_version
from harness.runner import Runner, Settings

ROOT = Path(__file__).resolve().parent.parent


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__.split("\n")[0])
    p.add_argument("--qemu", default="qemu-system-aarch64")
    p.add_argument("--cpu", default="max")
    p.add_argument("--build", type=Path, default=ROOT / "build", help="build directory of the kernel")
    p.add_argument("--cases", type=Path, default=ROOT / "cases")
    p.add_argument("--jobs", default="auto", help="pytest-xdist workers; auto: one per CPU")
    p.add_argument("--boots", type=int, default=15, help="boots measured for the floor")
    p.add_argument("--repeat", type=int, default=3, help="runs of everything else")
    args = p.parse_args(argv)
    args.build, args.cases = args.build.resolve(), args.cases.resolve()
    args.jobs = len(os.sched_getaffinity(0)) if args.jobs == "auto" else int(args.jobs)
    return args


def _wait(command, **popen):
    """Run `command` to its end: (seconds, exit status, max RSS in MiB).  The RSS is
    that of its largest process, descendants included (what wait4 reports)."""
    start = time.monotonic()
    proc = subprocess.Popen(command, **popen)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)    # reaped here, not by Popen
    return time.monotonic() - start, proc.returncode, usage.ru_maxrss / 1024


class Suite:
    """The suite run as `make run` runs it, into a results directory of its own."""

    def __init__(self, args, results):
        self.args, self.results = args, Path(results)

    def build(self):
        """The kernel, as the conftest would build it, so its make is a no-op in the timed runs."""
        a = self.args
        subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), "kernel", f"PYTHON={sys.executable}",
                        f"CASES={a.cases}", f"BUILD={a.build}"], check=True)

    def run(self, *options, select=None):
        """(seconds, max RSS in MiB, case instances in the results) of one pytest run."""
        a = self.args
        command = [sys.executable, "-m", "pytest", str(select or a.cases), "-q", *options,
                   f"--qemu={a.qemu}", f"--cpu={a.cpu}", f"--cases={a.cases}",
                   f"--build={a.build}", f"--results={self.results}"]
        with tempfile.TemporaryFile() as log:
            wall, status, rss = _wait(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            # 1 is "some case failed": still a full run, as far as time goes.
            if status not in (0, 1):
                log.seek(0)
                sys.exit(f"bench: {' '.join(command)} failed (exit {status}):\n{log.read().decode()[-4000:]}")
        doc = json.loads((self.results / f"{qemu_version(a.qemu)}-{a.cpu}.json").read_text())
        return wall, rss, len(doc["cases"])


def _timed(repeat, fn):
    """Seconds each of `repeat` calls of fn() takes."""
    times = []
    for _ in range(repeat):
        start = time.monotonic()
        fn()
        times.append(time.monotonic() - start)
    return times


def main(argv=None):
    args = _parse(argv)
    kernel = args.build / "kernel.elf"
    cases = load_dir(args.cases)
    runner = Runner(Settings(args.qemu, args.cpu, kernel))
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mmut-bench-") as results:
        suite = Suite(args, results)
        suite.build()

        floor = [runner.boot()[0].wall for _ in range(args.boots)]
        _, _, qemu_rss = _wait(qemu_command(args.qemu, args.cpu, kernel, []), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        default = [suite.run("-n", str(args.jobs)) for _ in range(args.repeat)]
        # The same command running one instance: pytest's and the workers' start-up, collection, results.
        first = cases[0]
        fixed = [suite.run("-n", str(args.jobs), select=f"{first.path}::{first.name}")[0]
                 for _ in range(args.repeat)]
        one_each = _timed(args.repeat, lambda: [runner.run_one(c) for c in cases])
        batch = _timed(args.repeat, lambda: [runner.run_batch(c, cases[i + 1:]) for i, c in enumerate(cases)])
        pytest_batch = [suite.run("--batch", "-n", "0")[0] for _ in range(args.repeat)]

    instances = default[-1][2]
    suite_times = [wall for wall, _, _ in default]
    jobs = max(args.jobs, 1)

    print(f"QEMU {qemu_version(args.qemu)} ({args.qemu}) -cpu {args.cpu}: {instances} case instances, "
          f"{args.jobs} jobs on {os.cpu_count()} CPUs, load average {load:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"{'':46}{'median':>9}{'min':>8}{'max':>8}{'runs':>6}")
    rows = [
        ("boot floor: a boot that runs no case", floor),
        (f"suite, default: pytest -n {args.jobs}, a boot per case", suite_times),
        ("  the same, one instance (the fixed cost)", fixed),
        ("a boot per case, one after another (Runner)", one_each),
        ("all cases in one boot (Runner.run_batch)", batch),
        ("batch mode through pytest (--batch -n 0)", pytest_batch),
    ]
    for label, times in rows:
        print(f"{label:46}{statistics.median(times):8.3f}s{min(times):8.3f}{max(times):8.3f}{len(times):6}")
    print()
    print(f"ratio: suite / ({instances} x floor / {jobs}), target <= 1.3; less the fixed cost: "
          f"(suite - one instance) / ({instances - 1} x floor / {jobs});")
    print("speed-up: a boot per case / all cases in one boot, target >= 10x")
    print(f"{'':24}{'ratio':>8}{'less the fixed cost':>22}{'speed-up':>11}")
    # From the medians, and from the best runs: other work on the machine only ever adds time.
    for name, pick in (("from the medians", statistics.median), ("from the best runs", min)):
        f, s, x = pick(floor), pick(suite_times), pick(fixed)
        print(f"{name:24}{s / (instances * f / jobs):8.2f}{(s - x) / (max(instances - 1, 1) * f / jobs):22.2f}"
              f"{pick(one_each) / pick(batch):10.1f}x")
    print(f"max RSS: QEMU {qemu_rss:.0f} MiB; the largest process of a default suite run "
          f"{max(rss for _, rss, _ in default):.0f} MiB")


if __name__ == "__main__":
    main()
