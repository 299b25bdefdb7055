"""make bench: how long the suite takes, and what holds it back.

    python -m harness.bench --qemu=Q --cpu=C --build=build --cases=cases --jobs=auto

The boot floor (a boot that runs no case); the kernel alone: every instance
the suite runs, in as many boots as the command line needs, as the default
run boots them (walk digests), on each channel of the records (the UART, and
semihosting); the default run (`make run`: many cases per boot, a QEMU per CPU
at a time, failures rerun alone), on each channel; one boot per case
(`--isolated -n JOBS`); the line `default run / kernel alone: R` (both on the
UART); ms per instance; the generated-cases rate of a fuzz campaign; peak
memory; then how the default run's time grows from 256 to 1024 to 4096
instances, on cases from harness.fuzz's generator with the model's
expectations.

Every figure comes from runs the bench checked: QEMU's or pytest's exit
status, and that every instance ran (its begin and end records and a record
per step; an entry in the results file the run wrote, without a problem of
the run itself: a hang, a crash, a case the kernel never started).  A run that
fails a check stops the bench with the reason (exit status 1): a failed run is
never timed.  Speed is measured and shown, never asserted: it depends on the
machine and on what else runs on it, so the load average is printed too.
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
from dataclasses import dataclass, replace
from pathlib import Path

from harness import features, options
from harness.cases import SELFTESTS, CaseError, load_dir, load_file
from harness.errors import HarnessError
from harness.fuzz import campaign, known
from harness.fuzz.known import KNOWN_BUGS
from harness.fuzz.generate import FEATURE, case_name, generate_case
from harness.fuzz.toml_writer import case_text
from harness.model import UnknownMemory
from harness.oracle import unjudged
from harness.predict import predict_case
from harness.protocol import parse_output
from harness.qemu import CONSOLES, boot_tokens, qemu_version, run_kernel
from harness.qemu_builds import resolve_qemu
from harness.runner import CMDLINE_SIZE

ROOT = Path(__file__).resolve().parent.parent
# Seconds a kernel-alone boot may take per case it runs, beyond the harness's case timeout.
SECONDS_PER_CASE = 0.05

# Known bugs by name, for the cases whose known bug ends the run (ends_the_run).
_BUGS = {bug.name: bug for bug in KNOWN_BUGS}


class BenchError(Exception):
    """A run the bench would have timed failed a check: why."""


def _jobs(text):
    return text if text == "auto" else options.positive_count(text)


def _scales(text):
    return [] if text == "none" else [options.positive_count(k) for k in text.split(",")]


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__.split("\n")[0])
    p.add_argument("--qemu", default="qemu-system-aarch64",
                   help="QEMU (QEMU=): a build fetched by make qemus (bookworm, sid ...), `system`, or a path")
    p.add_argument("--cpu", default="max")
    p.add_argument("--build", type=Path, default=ROOT / "build", help="build directory of the kernel")
    p.add_argument("--cases", type=Path, default=ROOT / "cases")
    p.add_argument("--jobs", default="auto", type=_jobs, help="pytest-xdist workers of the --isolated row; auto: one per CPU")
    p.add_argument("--boots", type=options.positive_count, default=10, help="boots measured for the floor")
    p.add_argument("--repeat", type=options.positive_count, default=3,
                   help="runs of the ratio's rows (the kernel alone on each channel, the default run on the UART); "
                        "the other rows run once")
    p.add_argument("--rate-cases", type=options.positive_count, default=2000, help="generated cases of the rate's campaign")
    p.add_argument("--scales", default=[256, 1024, 4096], type=_scales,
                   help="generated instances the scale section runs (default: 256,1024,4096; none: no scale rows)")
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
    the timed runs; seconds it took.  BenchError with make's message if it fails."""
    start = time.monotonic()
    made = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), "kernel",
                           f"PYTHON={sys.executable}", f"CASES={cases}", f"BUILD={build_dir}"],
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise BenchError(f"make kernel CASES={cases} failed (exit {made.returncode}):\n"
                         f"{(made.stdout + made.stderr)[-2000:]}")
    return time.monotonic() - start


# ---------------------------------------------------------------- QEMU and the kernel alone

def _boot_text(run):
    """How a run ended, for a BenchError: its exit status and last lines."""
    status = "stopped (a hang)" if run.stopped else f"exit status {run.exit_status}"
    return f"{status}; its last lines: " + " | ".join(run.output.strip().splitlines()[-3:])


def check_floor(run):
    """A boot that runs no case must print its boot and exit records, and nothing else, and exit 0."""
    events = [r.event for r in parse_output(run.output).records]
    if run.exit_status != 0 or events != ["boot", "exit"]:
        raise BenchError(f"a boot that runs no case did not end as one: {_boot_text(run)}")
    return run


def check_boot(run, cases, what):
    """A boot of `cases` must exit 0 with no malformed record, and every case must have run:
    begin and end records, no error, and a step record for each of its steps."""
    out = parse_output(run.output)
    if run.exit_status != 0 or out.garbage:
        why = f"malformed records ({out.garbage[0].reason})" if out.garbage else _boot_text(run)
        raise BenchError(f"{what}: the boot of {len(cases)} cases failed: {why}")
    per_case = out.cases()
    for c in cases:
        records = per_case.get(c.id)
        if records is None or not records.begin or not records.end or records.error is not None:
            ran = sum(1 for r in per_case.values() if r.begin and r.end and r.error is None)
            raise BenchError(f"{what}: {ran} of the boot's {len(cases)} cases ran; {c.id} did not "
                             f"({'its error: ' + records.error.line if records and records.error else 'no records'})")
        if len(records.steps) != len(c.steps):
            raise BenchError(f"{what}: {c.id} reported {len(records.steps)} step records for its {len(c.steps)} steps")
    return run


def boots(cases, indices, console="uart"):
    """[(boot mode, command-line tokens, its cases)]: `cases` (blob indices `indices`, ascending) in
    as few boots as their modes and the kernel's command line allow, as blob index ranges."""
    out = []
    for mode in sorted({c.boot for c in cases}):
        chosen = [(i, c) for i, c in zip(indices, cases) if c.boot == mode]
        tokens, members, length = [], [], sum(len(t) + 1 for t in boot_tokens(mode, console))
        k = 0
        while k < len(chosen):
            end = k
            while end + 1 < len(chosen) and chosen[end + 1][0] == chosen[end][0] + 1:
                end += 1
            token = f"#{chosen[k][0]}-{chosen[end][0]}"
            if length + len(token) + 1 >= CMDLINE_SIZE and tokens:
                out.append((mode, tokens, members))
                tokens, members, length = [], [], sum(len(t) + 1 for t in boot_tokens(mode, console))
            tokens.append(token)
            members += [c for _, c in chosen[k:end + 1]]
            length += len(token) + 1
            k = end + 1
        if tokens:
            out.append((mode, tokens, members))
    return out


@dataclass(frozen=True)
class SuiteCases:
    """The instances the suite runs on a QEMU and CPU (`cases`), their blob indices (`indices`), and
    the CPU's ID registers (`ids`, features.ID_REGISTERS) that chose them."""
    cases: list
    indices: list
    ids: tuple


def suite_cases(args, kernel, cases):
    """The SuiteCases of `cases` (all of a case directory, in blob order) on this QEMU and CPU: those
    whose features the CPU has, as a boot that runs no case reports them (each of its modes' boot
    checked), but the kernel's self-tests (a --cases directory may hold them: they end their boots
    on purpose)."""
    ids = features.boot_ids(parse_output(check_floor(run_kernel(args.qemu, args.cpu, kernel, [])).output).boot)
    el2 = parse_output(check_floor(run_kernel(args.qemu, args.cpu, kernel, [], boot="stage2")).output).boot
    chosen = [(i, c) for i, c in enumerate(cases) if not features.missing(c.requires, *ids)
              and (not c.needs_el2 or el2.num("el") == 2) and not any(s.op in SELFTESTS for s in c.steps)]
    return SuiteCases([c for _, c in chosen], [i for i, _ in chosen], ids)


def ends_the_run(case, version, ids):
    """Whether the known bug `case` is marked with ends QEMU `version`'s run in it (its variant
    raises known.RunEnds: QEMU aborts, or the kernel faults at stage 2 before the case's first
    step), as the default run's fresh boot of it then shows."""
    bug = _BUGS.get(case.xfail.name) if case.xfail else None
    if bug is None or not bug.affects(version):
        return False
    try:
        with bug.model(version):
            predict_case(case, ids)
    except known.RunEnds:
        return True
    except (ValueError, UnknownMemory):
        pass
    return False


def check_ended(run, case, what):
    """A boot of `case` alone, which its known bug ends (ends_the_run): checked that the case began
    and that the boot ended as no clean run does (a signal, or the kernel's non-zero exit status)."""
    records = parse_output(run.output).cases().get(case.id)
    began, ended = records is not None and records.begin, run.signal is not None or run.exit_status not in (None, 0)
    if not began or not ended:
        how = "never began" if not began else "hung" if run.exit_status is None else "ran cleanly"
        raise BenchError(f"{what}: {case.id}, whose known bug {case.xfail.name} ends QEMU's run, {how}")


def kernel_alone(args, kernel, suite, console):
    """(seconds QEMU and the kernel alone take to run the SuiteCases `suite`, one boot after another,
    as the default run boots them (walk digests), records on `console`; [(boot's RunResult, its
    cases)]), every boot checked.  A case whose known bug ends the run on this QEMU (ends_the_run)
    has a boot of its own, as the default run's rerun gives it, checked to end so; its records are
    not judged."""
    version = qemu_version(args.qemu)
    ending = [(i, c) for i, c in zip(suite.indices, suite.cases) if ends_the_run(c, version, suite.ids)]
    sharing = [(i, c) for i, c in zip(suite.indices, suite.cases) if (i, c) not in ending]
    total, runs = 0.0, []
    for mode, tokens, members in boots([c for _, c in sharing], [i for i, _ in sharing], console):
        run = run_kernel(args.qemu, args.cpu, kernel, tokens, boot=mode, walks=False, console=console,
                         timeout=10 + SECONDS_PER_CASE * len(members))
        check_boot(run, members, f"the kernel alone ({mode} boot, {console})")
        total += run.wall
        runs.append((run, members))
    for i, c in ending:
        run = run_kernel(args.qemu, args.cpu, kernel, [f"#{i}"], boot=c.boot, walks=False, console=console,
                         timeout=10 + SECONDS_PER_CASE)
        check_ended(run, c, f"the kernel alone ({c.boot} boot, {console})")
        total += run.wall
    return total, runs


# What judging the kernel-alone records costs, row by row: the case's intent alone (the fields it
# names), then the whole-register verdict of the model with every step evaluated, then with the
# predictions cached (harness/predictions.py, a cache the first of the two filled).
JUDGING = ("intent", "model", "cached")


def judging_cpu(args, kernel, runs):
    """{JUDGING row: CPU seconds the harness takes, in this process, to judge the records of the
    kernel-alone boots `runs` (checked)}, no QEMU: each step record decoded into its Observation
    and judged by the case's intent alone (verdict.judge_step), or by runner.judge (the intent and
    the model's whole-register verdict, with the known-bug search where a step departs) without
    and with the prediction cache.  CPU time, not wall time: what the verdicts cost, whatever
    else the machine runs."""
    from harness import predictions, runner     # the runner pulls in the model: these rows only
    parsed = [(run, parse_output(run.output), members) for run, members in runs]

    def cpu(judge_one):
        start = time.process_time()
        for run, output, members in parsed:
            records = output.cases()
            for case in members:
                judge_one(case, records[case.id], run, output.boot)
        return time.process_time() - start

    figures = {"intent": cpu(lambda case, records, run, boot: runner._step_verdicts(
        case, runner._observations(case, records)))}
    with tempfile.TemporaryDirectory(prefix="mmut-bench-predictions-") as where:
        for row, cache in (("model", None), ("cached", predictions.PredictionCache(where))):
            settings = runner.Settings(args.qemu, args.cpu, kernel, predictions=cache)
            if cache is not None:
                cpu(lambda case, records, run, boot: runner.judge(case, records, run, settings, True, boot))
            figures[row] = cpu(lambda case, records, run, boot: runner.judge(case, records, run, settings, True, boot))
    return figures


# ---------------------------------------------------------------- the suite under pytest

@dataclass
class SuiteRun:
    seconds: float
    rss: float              # MiB, the largest process of the run
    counts: dict            # outcome -> instances


def check_suite(doc, status, instances, what):
    """A pytest run of the suite (its results document, None if it wrote none, and exit status) must
    have an entry for each of the `instances` (case IDs), none with a problem of the run itself
    (a hang, a crash, a case the kernel never started, malformed records; whatever its outcome),
    and exit 0, or 1 where a case failed."""
    if doc is None:
        raise BenchError(f"{what}: pytest exited {status} and wrote no results")
    entries = {e["id"]: e for e in doc["cases"]}
    missing = [i for i in instances if i not in entries]
    if missing:
        raise BenchError(f"{what}: {len(missing)} of {len(instances)} instances have no result "
                         f"(first: {missing[0]}); pytest exited {status}")
    broken = [e for e in doc["cases"] if e["problems"]]
    if broken:
        raise BenchError(f"{what}: {len(broken)} instances did not run cleanly; {broken[0]['id']} "
                         f"({broken[0]['outcome']}): {broken[0]['problems'][0]}")
    counts = collections.Counter(e["outcome"] for e in doc["cases"])
    if status not in (0, 1) or status == 1 and not counts["failed"] or status == 0 and counts["failed"]:
        raise BenchError(f"{what}: pytest exited {status} with {dict(counts)}")
    return dict(counts)


def suite(args, cases, build_dir, results, instances, *options, what="the default run"):
    """A SuiteRun of one pytest run of the suite, as `make run` runs it (`options` added), checked
    (check_suite) against `instances`, the case IDs it must judge."""
    command = [sys.executable, "-m", "pytest", str(cases), "-q", "-p", "no:cacheprovider", *options,
               f"--qemu={args.qemu}", f"--cpu={args.cpu}", f"--cases={cases}",
               f"--build={build_dir}", f"--results={results}"]
    if ROOT not in Path(cases).parents:
        # pytest finds conftest.py only above its arguments: a case directory elsewhere names it.
        command[3:3] = ["-c", str(ROOT / "pytest.ini"), "--noconftest", "-p", "conftest"]
    path = Path(results) / f"{qemu_version(args.qemu)}-{args.cpu}.json"
    path.unlink(missing_ok=True)        # a results file left by an earlier run is never read as this one's
    with tempfile.TemporaryFile() as log:
        wall, status, rss = _wait(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        doc = json.loads(path.read_text()) if path.is_file() else None
        try:
            counts = check_suite(doc, status, instances, what)
        except BenchError as e:
            log.seek(0)
            raise BenchError(f"{e}\n{' '.join(command)}:\n{log.read().decode()[-3000:]}") from None
    return SuiteRun(wall, rss, counts)


def generated_rate(args, kernel):
    """The generated-cases rate of a campaign without shrinking (campaign.measure_rate), checked: a
    campaign in which a case did not run (the kernel never started it, or its records stop: a hang,
    a crash) that no known QEMU bug explains is not a rate."""
    rate = campaign.measure_rate(args.qemu, args.cpu, kernel, count=args.rate_cases, jobs=args.jobs)
    if rate["unexplained_run_failures"]:
        raise BenchError(f"the campaign of {rate['cases']} generated cases: {rate['unexplained_run_failures']} did "
                         "not run (the kernel never started them, or their records stop), and no known QEMU bug "
                         "explains it")
    return rate


# Generated cases per case file of the scale section, and the campaign seed they come from.
CASES_PER_FILE, SEED = 256, 1


def generated_cases(args, kernel, count, into):
    """A case directory of `count` cases from harness.fuzz's generator (seed SEED), each with the
    reference model's expectations, as a campaign writes its findings: (seconds it took, their IDs,
    [the loader's message on each generated case whose written file it refuses: left out])."""
    start = time.monotonic()
    into.mkdir(parents=True, exist_ok=True)
    settings = campaign.Settings(qemu=args.qemu, cpu=args.cpu, kernel=kernel)
    cpu = campaign.boot_cpu(settings, into)
    pool_base = campaign.kernel_pool_base(kernel)
    index = written = 0
    refused = []
    while written < count:
        texts = []
        while len(texts) < CASES_PER_FILE and written < count:
            case = generate_case(SEED, index, cpu)
            index += 1
            predictions = campaign.predict(case, cpu, pool_base)
            # A case beyond the model, or with a step it leaves unjudged, has no expectation to write:
            # a campaign does not run it either, and the next one is drawn.
            if predictions is None or any(unjudged(outcomes) for outcomes in predictions):
                continue
            expectations = [campaign.expectation(step, outcomes) for step, outcomes in zip(case.steps, predictions)]
            named = replace(case, name=case_name(SEED, index - 1))
            text = case_text(named, feature=FEATURE, expectations=expectations)
            # A case file the loader refuses would stop the run before any case: the generator's
            # writer is wrong there (harness.fuzz), which the scale rows say, and the next is drawn.
            check = into / "check.toml"
            check.write_text(text)
            try:
                load_file(check)
            except CaseError as e:
                refused.append(str(e))
                continue
            # One `feature` line per file: each case's text after its own.
            texts.append(text if not texts else text.split("\n", 1)[1])
            written += 1
        (into / f"generated_{(written - 1) // CASES_PER_FILE:03}.toml").write_text("\n".join(texts))
    (into / "empty.bin").unlink()
    (into / "check.toml").unlink(missing_ok=True)
    return time.monotonic() - start, [c.id for c in load_dir(into)], refused


# ---------------------------------------------------------------- the report

@dataclass
class Figures:
    """What the bench measured (seconds unless said), every figure from checked runs."""
    qemu: str
    version: str
    cpu: str
    instances: int          # the instances the suite runs here (the CPU's features allow)
    cpus: int
    jobs: int
    load: tuple             # load average at the start and at the end
    floor: list
    alone: dict             # console -> [seconds]
    judging: dict           # JUDGING row -> [CPU seconds judging every instance's records of the kernel-alone boots]
    default: dict           # console -> [SuiteRun]
    isolated: list          # [SuiteRun]
    rate: dict              # campaign.measure_rate's
    scale: list             # (instances, generate s, build s, SuiteRun, [loader's messages on generated cases left out])


def _row(label, times, unit="s"):
    return f"{label:56}{statistics.median(times):8.3f}{unit}{min(times):8.3f}{max(times):8.3f}{len(times):6}"


def _counts(run):
    return ", ".join(f"{n} {k}" for k, n in sorted(run.counts.items()))


def report(f):
    """The bench's lines, from its Figures alone."""
    walls = {console: [r.seconds for r in runs] for console, runs in f.default.items()}
    lines = [f"QEMU {f.version} ({f.qemu}) -cpu {f.cpu}: {f.instances} case instances run, {f.cpus} CPUs "
             f"(--isolated -n {f.jobs}), load average {f.load[0]:.2f} at the start, {f.load[1]:.2f} at the end",
             f"{'':56}{'median':>9}{'min':>8}{'max':>8}{'runs':>6}",
             _row("boot floor: a boot that runs no case", f.floor)]
    for console in CONSOLES:
        lines.append(_row(f"kernel alone, all {f.instances} instances ({console})", f.alone[console]))
    lines += [_row("  judging their records (the harness's CPU, no QEMU): the case's intent", f.judging["intent"]),
              _row("    + the model, whole registers, every step evaluated", f.judging["model"]),
              _row("    + the model, whole registers, predictions cached", f.judging["cached"])]
    for console in CONSOLES:
        lines.append(_row(f"default run (make run), {console}: {_counts(f.default[console][-1])}", walls[console]))
    lines.append(_row(f"one boot per case: --isolated -n {f.jobs}: {_counts(f.isolated[-1])}",
                      [r.seconds for r in f.isolated]))
    default, alone = statistics.median(walls["uart"]), statistics.median(f.alone["uart"])
    isolated = statistics.median(r.seconds for r in f.isolated)
    lines += ["",
              f"default run / kernel alone: {default / alone:.2f}",
              f"default run: {1000 * default / f.instances:.2f} ms an instance on the UART "
              f"({1000 * statistics.median(walls['semihosting']) / f.instances:.2f} ms with --console semihosting); "
              f"--isolated: {1000 * isolated / f.instances:.2f} ms, {isolated / default:.1f}x the default run's time",
              f"kernel alone: {1000 * alone / f.instances:.2f} ms an instance on the UART, "
              f"{1000 * statistics.median(f.alone['semihosting']) / f.instances:.2f} ms with semihosting "
              f"(boot floor {1000 * statistics.median(f.floor):.0f} ms)",
              f"peak memory: the largest process of a default run {max(r.rss for r in f.default['uart']):.0f} MiB "
              f"(of --isolated {max(r.rss for r in f.isolated):.0f} MiB)",
              ""]
    phases = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in f.rate["phases"].items())
    ran = (f"all ran" if not f.rate["run_failures"] else
           f"all but {f.rate['run_failures']} ran, which known QEMU bugs stop")
    lines.append(f"generated cases (harness.fuzz campaign, {f.rate['cases']} cases, {ran}, -j {f.jobs}, no "
                 f"shrinking): {f.rate['rate']:.0f} cases/s ({f.rate['seconds']:.1f} s; "
                 f"{f.rate['rate_per_cpu']:.0f} cases per CPU second; CPU by phase: {phases})")
    if f.scale:
        lines += ["", f"scale: the default run on generated cases (seed {SEED}) with the model's expectations, one run each",
                  f"{'instances':>10}{'generate':>10}{'build':>8}{'run':>9}{'ms/instance':>13}{'vs linear':>11}"
                  f"{'max RSS':>10}  outcomes"]
        base = f.scale[0][3].seconds / f.scale[0][0]
        for count, generated, built, run, _ in f.scale:
            lines.append(f"{count:10}{generated:9.1f}s{built:7.1f}s{run.seconds:8.1f}s{1000 * run.seconds / count:13.2f}"
                         f"{run.seconds / count / base:10.2f}x{run.rss:7.0f}MiB  {_counts(run)}")
        refused = [message for *_, messages in f.scale for message in messages]
        if refused:
            lines.append(f"  left out, drawn again: {len(refused)} generated cases whose written case file the loader "
                         f"refuses (a defect of the generator's writer; first: {refused[0]})")
    return lines


def measure(args):
    """The Figures of a bench run; BenchError at the first run that fails its check.  The rows of the
    ratio (the kernel alone, the default run on the UART) are run `args.repeat` times; the others,
    which no ratio divides (the default run on semihosting, --isolated, the scales), once, so that
    the whole bench takes minutes."""
    kernel = args.build / "kernel.elf"
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mmut-bench-") as work:
        work = Path(work)
        build(args.cases, args.build)
        all_cases = load_dir(args.cases)
        chosen = suite_cases(args, kernel, all_cases)
        instances = [c.id for c in all_cases]
        floor = [check_floor(run_kernel(args.qemu, args.cpu, kernel, [])).wall for _ in range(args.boots)]
        alone, judging = {console: [] for console in CONSOLES}, {row: [] for row in JUDGING}
        for _ in range(args.repeat):
            for console in CONSOLES:
                seconds, runs = kernel_alone(args, kernel, chosen, console)
                alone[console].append(seconds)
        for row, seconds in judging_cpu(args, kernel, runs).items():
            judging[row].append(seconds)

        def default_run(console):
            return suite(args, args.cases, args.build, work / "results", instances, f"--console={console}",
                         what=f"the default run ({console})")
        default = {"uart": [default_run("uart") for _ in range(args.repeat)], "semihosting": [default_run("semihosting")]}
        isolated = [suite(args, args.cases, args.build, work / "results", instances, "--isolated", "-n",
                          str(args.jobs), what="the --isolated run")]
        rate = generated_rate(args, kernel)
        scale = []
        for count in args.scales:
            generated_dir, build_dir = work / f"cases-{count}", work / f"build-{count}"
            generated, ids, refused = generated_cases(args, kernel, count, generated_dir)
            built = build(generated_dir, build_dir)
            scale.append((count, generated, built, suite(args, generated_dir, build_dir, work / f"results-{count}", ids,
                                                         what=f"the scale run of {count} generated instances"), refused))
    return Figures(args.qemu, qemu_version(args.qemu), args.cpu, len(chosen.cases), os.cpu_count(), args.jobs,
                   (load, os.getloadavg()[0]), floor, alone, judging, default, isolated, rate, scale)


def main(argv=None):
    args = _parse(argv)
    try:
        figures = measure(args)
    except (BenchError, HarnessError, campaign.CampaignError) as e:
        print(f"bench: stopped, a run failed its check: {e}", file=sys.stderr)
        return 1
    print("\n".join(report(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
