"""Run a campaign of generated cases, or rerun one case file a campaign wrote.

    python -m harness.fuzz --seed 1 --count 5000 [--qemu Q] [--cpu C] [--jobs 2]
    python -m harness.fuzz --rerun results/fuzz/1-417.toml [--qemu Q] [--cpu C]
    python -m harness.fuzz --seed 1 --count 3000 --qemus bookworm sid   (a differential campaign)
    python -m harness.fuzz --seed 1 --show 19      case 19 of seed 1 as a case file (TOML)

Exit status: 0 no new mismatch (known QEMU bugs are listed, not failures),
1 a new mismatch (each written, shrunk, to results/fuzz/<seed>-<n>.toml) or one
seen in a batch that did not happen again alone (flaky), or a campaign that judged
little (the model could not predict its steps, or its mix missed a kind of case),
2 bad input or a defect of the harness (a generator bug, a model that raises):
one line naming what and where.
"""
import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from harness import case_paths
from harness.cases import CaseError
from harness.errors import HarnessError
from harness.fuzz.campaign import (CampaignError, Settings, classify, _rerun_alone, boot_cpu, describe_outcomes,
                                   expectation, judged_problems, kernel_pool_base, predict, rerun_command, run_campaign,
                                   walk_lines)
from harness.fuzz.differential import Build, disagreements, run_differential
from harness.fuzz.generate import FEATURE, GeneratorBug, case_name, generate_case
from harness.fuzz.mix import summary_lines
from harness.fuzz.toml_writer import case_text
from harness.qemu import qemu_version
from harness.qemu_builds import resolve_qemu

ROOT = Path(__file__).resolve().parent.parent.parent


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"error: {message} (python -m harness.fuzz --help)\n")


def _number(what, least=0):
    def parse(text):
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} {text!r} is not a number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{what} {text!r} is " + ("negative" if least == 0 else f"below {least}"))
        return value
    return parse


def parser():
    p = _Parser(prog="python -m harness.fuzz", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=_number("the seed (SEED=)"),
                   help="campaign seed (default: from the clock, printed)")
    p.add_argument("--count", type=_number("the number of cases (COUNT=)"), default=1000,
                   help="generated cases to run (default: 1000)")
    p.add_argument("--first", type=_number("the first case's index"), default=0,
                   help="index of the first case to run (default: 0): --first N --count 1 runs case N")
    p.add_argument("--qemu", default="qemu-system-aarch64",
                   help="QEMU (QEMU=): a build fetched by make qemus (bookworm, sid ...), `system`, or a path")
    p.add_argument("--qemus", nargs="+", default=[], metavar="BUILD",
                   help="a differential campaign: the same cases on each of these QEMU builds (QEMUS=; a build "
                        "`make qemus` fetched, `system`, or a binary's path), reporting where their verdicts differ")
    p.add_argument("--cpu", default="max", help="QEMU -cpu model (CPU=)")
    p.add_argument("--jobs", type=_number("the number of QEMU processes (JOBS=)", least=1), default=2,
                   help="QEMU processes run side by side, of the one QEMU build (default: 2)")
    p.add_argument("--batch", type=_number("the batch size", least=1), default=2000,
                   help="cases per QEMU boot at most (default: 2000)")
    p.add_argument("--build", type=Path, default=ROOT / "build", help="the kernel's build directory")
    p.add_argument("--results", type=Path, default=ROOT / "results", help="where results/fuzz/ goes")
    p.add_argument("--no-shrink", action="store_true", help="report mismatches without shrinking them")
    p.add_argument("--show", type=_number("the case's index"), metavar="N",
                   help="print generated case N of --seed as a case file, with the model's expectations (SHOW=)")
    p.add_argument("--rerun", type=Path, nargs="+", metavar="CASES", help="run the cases of case files (or "
                   "directories: CASES=) alone, each judged by the model")
    p.add_argument("-k", dest="keyword", metavar="EXPR",
                   help="with --rerun: only the case instances pytest's -k EXPR selects (K=)")
    return p


def _print(text):
    print(text, flush=True)


def rerun(settings, paths, keyword=None):
    """Run each case of the case files `paths` (directories, files: CASES=), or those -k
    `keyword` selects, alone and judge it by the model: 0 all agree or known QEMU bugs explain
    the rest, 1 a mismatch."""
    cases = case_paths.load(paths)
    if keyword:
        cases = case_paths.select(cases, keyword)
    if not cases:
        raise CampaignError(f"no case in {' '.join(map(str, paths))}" + (f" matches -k {keyword!r}" if keyword else ""))
    version = qemu_version(settings.qemu)
    status = 0
    with tempfile.TemporaryDirectory(prefix="mmu-fuzz-") as workdir:
        cpu = boot_cpu(settings, workdir)
        pool_base = kernel_pool_base(settings.kernel)
        for case in cases:
            mismatches, predictions, records = _rerun_alone(settings, case, cpu, pool_base, workdir, "rerun",
                                                            walks=True)
            for n, step in enumerate(case.steps):
                _print(f"  step {n}: {step.op} va={step.va:#x}: model: {describe_outcomes(step, predictions[n])}")
                for line in walk_lines(case, n, records):
                    _print(f"    {line}")
            if not mismatches:
                _print(f"PASS  {case.id}: QEMU does what the model allows at every step")
            classify(version, case, cpu, pool_base, mismatches)
            for m in mismatches:
                if m.known:
                    _print(f"KNOWN {case.id} step {m.step}: QEMU {version}'s known bug {m.known}: observed {m.observed}")
                    continue
                status = 1
                _print(f"FAIL  {case.id} step {m.step}: observed {m.observed}")
                for problem in m.problems:
                    _print(f"      {problem}")
    return status


def show(settings, seed, index):
    """Case `index` of campaign `seed` as a case file (the model's expectations on this CPU's ID
    registers): what the campaign ran as case `index`."""
    with tempfile.TemporaryDirectory(prefix="mmu-fuzz-") as workdir:
        cpu = boot_cpu(settings, workdir)
    case = generate_case(seed, index, cpu)
    pool_base = kernel_pool_base(settings.kernel)
    expectations = [expectation(step, outcomes) for step, outcomes in zip(case.steps, predict(case, cpu, pool_base))]
    _print(case_text(replace(case, name=case_name(seed, index)), feature=FEATURE, expectations=expectations))
    return 0


def summarise(report, settings):
    phases = ", ".join(f"{k} {v:.1f}" for k, v in report.times.items())
    cpu = sum(report.times.values())
    _print(f"fuzz: seed {report.seed}: {report.count} cases, {report.steps} steps in {report.seconds:.1f} s: "
           f"{report.rate:.0f} cases/s ({report.count / cpu if cpu else 0:.0f} per CPU second; CPU seconds: "
           f"{phases}); {report.unknown_steps} steps the model could not predict, {report.unpredicted} cases "
           "beyond it (too many translation states: not run)")
    _print("fuzz: the mix (cases per regime, control and stage 2 feature; steps per kind):")
    for line in summary_lines(report.coverage):
        _print(line)
    unjudged = judged_problems(report)
    for problem in unjudged:
        _print(f"fuzz: {problem}")
    known_by = {}
    for f in report.known:
        bugs = ", ".join(sorted({name for part in f.known.split(", ") for name in part.split("+")}))
        known_by.setdefault(bugs, []).append(f.index)
    for bugs, indices in sorted(known_by.items()):
        shown = ", ".join(map(str, indices[:8])) + (", ..." if len(indices) > 8 else "")
        _print(f"KNOWN {len(indices)} case(s): QEMU bug(s) {bugs} (the case files' [bug.*]): cases {shown}")
    for f in report.new:
        if not f.reproduced:
            m = f.mismatches[0] if f.mismatches else None
            _print(f"FLAKY case {f.index}: mismatched in its batch, not when run alone"
                   + (f": {m.problems[0]}" if m else "")
                   + f" (again: python -m harness.fuzz --seed {report.seed} --first {f.index} --count 1)")
        else:
            m = next(x for x in f.mismatches if x.known is None)
            _print(f"NEW   case {f.index} step {m.step}: {m.problems[0]}")
            if f.file:
                _print(f"      written ({f.shrunk_steps} step(s)): {f.file}")
                _print(f"      rerun: {rerun_command(f.file, settings)}")
        if f.same:
            shown = ", ".join(map(str, f.same[:8])) + (", ..." if len(f.same) > 8 else "")
            _print(f"      {len(f.same)} more case(s) failed the same way in their batch: {shown}")
    new = [f for f in report.new if f.reproduced]
    flaky = len(report.new) - len(new)
    _print(f"fuzz: {len(new)} new mismatch(es), {len(report.known)} explained by known QEMU bugs, "
           f"{flaky} not reproduced alone")
    # A mismatch seen only in a shared boot is still a mismatch (state one case leaves for the next,
    # in QEMU or in the kernel): it fails the campaign as a new one does.
    return 1 if new or flaky or unjudged else 0


def differential_summary(builds, settings):
    """Each build's summary, then every case whose verdict differs between builds: 0 every build agrees
    with the model (known bugs aside), 1 a build has a new or flaky mismatch, 2 a build could not run."""
    status = 0
    for b in builds:
        _print(f"==== {b.name} (QEMU {b.version or '?'})")
        if b.error:
            _print(f"error: {b.error}")
            status = 2
            continue
        if b.report.errors:
            for line in dict.fromkeys(b.report.errors):
                _print(f"error: {line}")
            status = 2
            continue
        if b.report.skipped:
            _print(f"fuzz: {b.report.skipped} cases skipped: this CPU lacks what they require")
        status = max(status, summarise(b.report, replace(settings, qemu=b.qemu)))
    ran = [b for b in builds if b.report is not None and not b.report.errors]
    if len(ran) > 1:
        differ = disagreements(ran)
        _print(f"fuzz: {len(differ)} case(s) whose verdicts differ between "
               + ", ".join(f"{b.name} ({b.version})" for b in ran))
        for index, seen in differ:
            _print(f"  case {index}:")
            for name, verdict in seen.items():
                _print(f"    {name}: {verdict[:200]}")
    return status


def _split(names):
    return [x for part in names for x in part.replace(",", " ").split()]


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        qemu = resolve_qemu(args.qemu)
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    settings = Settings(qemu=qemu, cpu=args.cpu, kernel=args.build / "kernel.elf", results=args.results,
                        jobs=max(1, args.jobs), batch=max(1, args.batch), shrink=not args.no_shrink)
    try:
        if args.rerun:
            return rerun(settings, args.rerun, args.keyword)
        if args.show is not None:
            if args.seed is None:
                raise CampaignError("--show N needs the campaign's --seed (SEED=)")
            return show(settings, args.seed, args.show)
        seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
        _print(f"fuzz: seed {seed}, {args.count} cases from {args.first}, {args.qemu} -cpu {args.cpu}, "
               f"{settings.jobs} QEMU processes (again: {sys.executable} -m harness.fuzz --seed {seed} "
               f"--first {args.first} --count {args.count} --qemu={args.qemu} --cpu={args.cpu})")
        if args.qemus:
            builds = [Build(name, resolve_qemu(name)) for name in dict.fromkeys(_split(args.qemus))]
            return differential_summary(run_differential(settings, builds, seed, args.count, _print, args.first),
                                        settings)
        report = run_campaign(settings, seed, args.count, progress=_print, first=args.first)
        if report.errors:
            for line in dict.fromkeys(report.errors):
                print(f"error: {line}", file=sys.stderr)
            return 2
        return summarise(report, settings)
    except (CaseError, CampaignError, GeneratorBug, HarnessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
