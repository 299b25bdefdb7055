"""make bench: how long the suite takes, and what holds it back.

    python -m harness.bench --qemu=Q --cpu=C --build=build --cases=cases --jobs=auto

One table: the boot floor (a boot that runs no case), every case in one boot
(what QEMU and the kernel alone need), the suite in its default mode as `make
run` runs it (many cases per boot, a QEMU per CPU at a time, failures rerun
alone) and its fixed cost (the same command running one instance), the same
under pytest-xdist -n JOBS, one boot per case (--isolated -n JOBS, what the
default was), and peak memory; the generated-cases rate of a fuzz campaign; then
how the default run's time grows from 256 to 2560 to 25600 instances, on cases
from harness.fuzz's generator with the model's expectations.  Speed is measured and shown, never asserted: it depends on the
machine and on what else runs on it.
"""
import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from harness import options
from harness.cases import SELFTESTS, load_dir
from harness.errors import HarnessError
from harness.fuzz import campaign
from harness.fuzz.generate import FEATURE, case_name, generate_case
from harness.fuzz.toml_writer import case_text
from harness.protocol import parse_output
from harness.qemu import qemu_command, qemu_version, run_kernel
from harness.qemu_builds import resolve_qemu

ROOT = Path(__file__).resolve().parent.parent
# What the default run is measured against: one boot per case took 8.0 s for 256 instances on
# the 2-CPU machine this was written on (QEMU 7.2, -n 2); the default run is to be 5x faster.
ISOLATED_BEFORE, INSTANCES_BEFORE, TARGET_SPEEDUP = 8.0, 256, 5


def _jobs(text):
    return text if text == "auto" else options.positive_count(text)


def _scales(text):
    return [options.positive_count(k) for k in text.split(",")]


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__.split("\n")[0])
    p.add_argument("--qemu", default="qemu-system-aarch64",
                   help="QEMU (QEMU=): a build fetched by make qemus (bookworm, sid ...), `system`, or a path")
    p.add_argument("--cpu", default="max")
    p.add_argument("--build", type=Path, default=ROOT / "build", help="build directory of the kernel")
    p.add_argument("--cases", type=Path, default=ROOT / "cases")
    p.add_argument("--jobs", default="auto", type=_jobs, help="pytest-xdist workers of the xdist rows; auto: one per CPU")
    p.add_argument("--boots", type=options.positive_count, default=15, help="boots measured for the floor")
    p.add_argument("--repeat", type=options.positive_count, default=3,
                   help="runs of everything else but the larger scales")
    p.add_argument("--scales", default=[256, 2560, 25600], type=_scales,
                   help="generated instances the scale section runs (default: 256,2560,25600)")
    args = p.parse_args(argv)
    args.build, args.cases = args.build.resolve(), args.cases.resolve()
    try:
        args.qemu = resolve_qemu(args.qemu)
    except HarnessError as e:
        p.error(str(e))
    args.jobs = len(os.sched_getaffinity(0)) if args.jobs == "auto" else args.jobs
    return args


def _wait(command, **popen):
    """Run `command` to its end: (seconds, exit status, max RSS in MiB).  The RSS is
    that of its largest process, descendants included (what wait4 reports)."""
    start = time.monotonic()
    proc = subprocess.Popen(command, **popen)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)    # reaped here, not by Popen
    return time.monotonic() - start, proc.returncode, usage.ru_maxrss / 1024


def build(cases, build_dir):
    """The kernel of `cases` in `build_dir`, as the conftest would build it, so its make is a no-op in
    the timed runs; seconds it took."""
    start = time.monotonic()
    subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), "kernel", f"PYTHON={sys.executable}",
                    f"CASES={cases}", f"BUILD={build_dir}"], check=True)
    return time.monotonic() - start


def suite(args, cases, build_dir, results, *options, select=None):
    """(seconds, max RSS in MiB, results document) of one pytest run of the suite, as `make run` runs it
    (`options` added)."""
    command = [sys.executable, "-m", "pytest", str(select or cases), "-q", *options,
               f"--qemu={args.qemu}", f"--cpu={args.cpu}", f"--cases={cases}",
               f"--build={build_dir}", f"--results={results}"]
    if ROOT not in Path(cases).parents:
        # pytest finds conftest.py only above its arguments: a case directory elsewhere names it.
        command[3:3] = ["-c", str(ROOT / "pytest.ini"), "--noconftest", "-p", "conftest"]
    with tempfile.TemporaryFile() as log:
        wall, status, rss = _wait(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        # 1 is "some case failed": still a full run, as far as time goes.
        if status not in (0, 1):
            log.seek(0)
            sys.exit(f"bench: {' '.join(command)} failed (exit {status}):\n{log.read().decode()[-4000:]}")
    doc = json.loads((Path(results) / f"{qemu_version(args.qemu)}-{args.cpu}.json").read_text())
    return wall, rss, doc


# Generated cases per case file of the scale section, and the campaign seed they come from.
CASES_PER_FILE, SEED = 256, 1


def generated_cases(args, kernel, count, into):
    """A case directory of `count` cases from harness.fuzz's generator (seed SEED), each with the
    reference model's expectations, as a campaign writes its findings: seconds it took."""
    start = time.monotonic()
    into.mkdir(parents=True, exist_ok=True)
    settings = campaign.Settings(qemu=args.qemu, cpu=args.cpu, kernel=kernel)
    cpu = campaign.boot_cpu(settings, into)
    pool_base = campaign.kernel_pool_base(kernel)
    for first in range(0, count, CASES_PER_FILE):
        texts = []
        for index in range(first, min(first + CASES_PER_FILE, count)):
            case = generate_case(SEED, index, cpu)
            expectations = [campaign.expectation(step, outcomes)
                            for step, outcomes in zip(case.steps, campaign.predict(case, cpu, pool_base))]
            text = case_text(replace(case, name=case_name(SEED, index)), feature=FEATURE, expectations=expectations)
            # One `feature` line per file: each case's text after its own.
            texts.append(text if not texts else text.split("\n", 1)[1])
        (into / f"generated_{first // CASES_PER_FILE:03}.toml").write_text("\n".join(texts))
    (into / "empty.bin").unlink()
    return time.monotonic() - start


def judging_cpu(args, kernel, cases):
    """(CPU seconds, instances): the harness judging the records of every instance but the kernel's
    self-tests, in this process: each step record decoded into its Observation, the case's intent
    and the model's whole-register verdict (harness/verdict.py, harness/oracle.py through
    runner.judge).  The records come from boots made first, as many cases a boot as its command
    line holds; CPU time, not wall time: what the verdicts cost, whatever else the machine runs."""
    from harness.runner import CMDLINE_SIZE, Settings, judge     # the runner pulls in the model: this row only
    settings = Settings(args.qemu, args.cpu, kernel)
    runs, batch = [], []
    for case in sorted((c for c in cases if not any(s.op in SELFTESTS for s in c.steps)), key=lambda c: c.boot):
        if batch and (case.boot != batch[0].boot or sum(len(c.id) + 1 for c in batch) + len(case.id) > CMDLINE_SIZE // 2):
            runs.append(batch)
            batch = []
        batch.append(case)
    boots = []
    for batch in runs + [batch]:
        run = run_kernel(args.qemu, args.cpu, kernel, [c.id for c in batch], boot=batch[0].boot, timeout=60)
        output = parse_output(run.output)
        records = output.cases()
        boots += [(c, records[c.id], run, output.boot) for c in batch if c.id in records and records[c.id].end]
    start = time.process_time()
    for case, records, run, boot in boots:
        judge(case, records, run, settings, shares_run=True, boot=boot)
    return time.process_time() - start, len(boots)


def _row(label, times, unit="s"):
    print(f"{label:52}{statistics.median(times):8.3f}{unit}{min(times):8.3f}{max(times):8.3f}{len(times):6}")


def main(argv=None):
    args = _parse(argv)
    kernel = args.build / "kernel.elf"
    instances = len(load_dir(args.cases))
    ids = [c.id for c in load_dir(args.cases)]
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mmut-bench-") as work:
        work = Path(work)
        build(args.cases, args.build)
        floor = [run_kernel(args.qemu, args.cpu, kernel, []).wall for _ in range(args.boots)]
        one_boot = [run_kernel(args.qemu, args.cpu, kernel, ids, timeout=60).wall for _ in range(args.repeat)]
        # The kernel prints every step's walk records, character by character through the UART.
        no_walks = [run_kernel(args.qemu, args.cpu, kernel, ids, timeout=60, walks=False).wall
                    for _ in range(args.repeat)]
        _, _, qemu_rss = _wait(qemu_command(args.qemu, args.cpu, kernel, ids), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        judging = [judging_cpu(args, kernel, load_dir(args.cases)) for _ in range(args.repeat)]
        runs = [suite(args, args.cases, args.build, work / "results") for _ in range(args.repeat)]
        default = [wall for wall, _, _ in runs]
        first = load_dir(args.cases)[0]
        fixed = [suite(args, args.cases, args.build, work / "results", select=f"{first.path}::{first.name}")[0]
                 for _ in range(args.repeat)]
        xdist = ("-n", str(args.jobs))
        under_xdist = [suite(args, args.cases, args.build, work / "results", *xdist)[0] for _ in range(args.repeat)]
        isolated = [suite(args, args.cases, args.build, work / "results", "--isolated", *xdist)[0]
                    for _ in range(args.repeat)]
        doc = runs[-1][2]
        reruns = sum(1 for e in doc["cases"] if e["rerun"])

        rate = campaign.measure_rate(args.qemu, args.cpu, kernel, count=2000, jobs=args.jobs)

        scale = []
        for count in args.scales:
            cases, build_dir = work / f"cases-{count}", work / f"build-{count}"
            generated = generated_cases(args, kernel, count, cases)
            try:
                built = build(cases, build_dir)
            except subprocess.CalledProcessError:
                # make said why (a blob larger than CASE_BLOB_SIZE, say); the other rows still count.
                scale.append((count, generated, None, None, None, {"not built": count}))
                continue
            wall, rss, scaled = suite(args, cases, build_dir, work / f"results-{count}")
            outcomes = collections.Counter(e["outcome"] for e in scaled["cases"])
            scale.append((count, generated, built, wall, rss, outcomes))

    print(f"QEMU {qemu_version(args.qemu)} ({args.qemu}) -cpu {args.cpu}: {instances} case instances, "
          f"{os.cpu_count()} CPUs (xdist rows: -n {args.jobs}), load average {load:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"{'':52}{'median':>9}{'min':>8}{'max':>8}{'runs':>6}")
    _row("boot floor: a boot that runs no case", floor)
    _row(f"all {instances} instances in one boot (QEMU and kernel alone)", one_boot)
    _row("  the same without walk records", no_walks)
    _row("default run (make run): pytest, many cases per boot", default)
    _row(f"  judging the {judging[0][1]} instances of one boot (CPU, no QEMU)", [cpu for cpu, _ in judging])
    _row("  the same, one instance (the fixed cost)", fixed)
    _row(f"  the same under xdist: pytest -n {args.jobs}", under_xdist)
    _row(f"one boot per case: pytest -n {args.jobs} --isolated", isolated)
    print()
    # The suite has grown since the 8.0 s of one boot per case for 256 instances: compared per instance.
    before = ISOLATED_BEFORE / INSTANCES_BEFORE
    speedup = before * instances / statistics.median(default)
    print(f"default run: {1000 * statistics.median(default) / instances:.1f} ms an instance, {speedup:.1f}x faster "
          f"than one boot per case before it ({ISOLATED_BEFORE} s for {INSTANCES_BEFORE}: {1000 * before:.1f} ms), "
          f"target >= {TARGET_SPEEDUP}x: {'met' if speedup >= TARGET_SPEEDUP else 'NOT met'}; "
          f"{statistics.median(isolated) / statistics.median(default):.1f}x faster than --isolated today")
    cpus = len(os.sched_getaffinity(0))
    print(f"  of its {statistics.median(default):.2f} s: {statistics.median(fixed):.2f} s fixed cost (pytest's start, "
          f"collection, one boot), {statistics.median(one_boot) / cpus:.2f} s the kernel's share of one boot per "
          f"CPU, and {reruns} verdicts rerun alone on a fresh boot ({reruns} x {statistics.median(floor):.3f} s "
          f"floor / {cpus} CPUs = {reruns * statistics.median(floor) / cpus:.2f} s)")
    print(f"  per instance in one boot: {1000 * statistics.median(one_boot) / instances:.2f} ms, "
          f"{1000 * statistics.median(no_walks) / instances:.2f} ms without walk records "
          f"(boot floor {1000 * statistics.median(floor):.0f} ms)")
    print(f"max RSS: QEMU running all instances {qemu_rss:.0f} MiB; the largest process of a default run "
          f"{max(rss for _, rss, _ in runs):.0f} MiB")
    print()
    phases = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in rate["phases"].items())
    print(f"generated cases (harness.fuzz campaign, {rate['cases']} cases, -j {args.jobs}, no shrinking): "
          f"{rate['rate']:.0f} cases/s ({rate['seconds']:.1f} s; CPU by phase: {phases})")
    print()
    print(f"scale: the default run on generated cases (seed {SEED}) with the model's expectations, one run each")
    print(f"{'instances':>10}{'generate':>10}{'build':>8}{'run':>9}{'ms/instance':>13}{'vs linear':>11}"
          f"{'max RSS':>10}  outcomes")
    base = scale[0][3] / scale[0][0]
    for count, generated, built, wall, rss, outcomes in scale:
        if built is None:
            print(f"{count:10}{generated:9.1f}s  not built (see make's message above)")
            continue
        print(f"{count:10}{generated:9.1f}s{built:7.1f}s{wall:8.1f}s{1000 * wall / count:13.2f}"
              f"{wall / count / base:10.2f}x{rss:7.0f}MiB  {', '.join(f'{n} {k}' for k, n in sorted(outcomes.items()))}")


if __name__ == "__main__":
    main()
