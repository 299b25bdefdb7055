"""A campaign: generated cases, the model's expectations, batch runs on
parallel QEMUs, and every mismatch judged, matched to a known QEMU bug or
shrunk and written to results/fuzz/<seed>-<n>.toml.

Cases reach the kernel as data (harness/blob.py): each worker process
generates a chunk of cases, asks the model for every step's outcomes, writes
the chunk's blob and boots QEMU once for all of it (`#first-last`), so a
campaign never rebuilds the kernel.  Workers run in parallel (one QEMU each);
the parent only collects.  Time is accounted per phase (generation, model,
encoding, QEMU, parsing, judging) for measure_rate and the summary.
"""
import multiprocessing
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import blob
from harness.cases import AT_OPS, LOADS, STORES, CaseError
from harness.declared import LayoutError
from harness.errors import HarnessError
from harness.fuzz import known
from harness.fuzz.generate import FEATURE, Cpu, GeneratorBug, case_name, generate_case
from harness.fuzz.shrink import shrink
from harness.fuzz.toml_writer import case_text, write_case_file
from harness.model import predict_case
from harness.model.oracle import describe, observation_allowed
from harness.model.outcome import Abort, Completes, Par, Unknown
from harness import esr, par
from harness.protocol import parse_output
from harness.qemu import NM, qemu_version, run_kernel

PHASES = ("generate", "model", "encode", "qemu", "parse", "judge")
# Seconds a batch may take per case, on top of a boot, before its QEMU is stopped as hung.
TIMEOUT_PER_CASE = 0.05
BOOT_TIMEOUT = 10.0
# The case ID a generated case has in a campaign's blobs (the kernel prints it on every record: short).
CAMPAIGN_FAMILY = "fz"


class CampaignError(Exception):
    """A campaign cannot go on: bad input, a generator bug, a model that raises.  One line."""


@dataclass(frozen=True)
class Settings:
    qemu: str
    cpu: str
    kernel: Path
    results: Path = Path("results")
    jobs: int = 2
    batch: int = 250
    shrink: bool = True


@dataclass
class Mismatch:
    """A step whose observation the model does not allow."""
    index: int
    step: int
    problems: list
    observed: str
    expected: str
    known: str = None           # the known bug (known.KnownBug.name) that explains it

    @property
    def fingerprint(self):
        """What a smaller case must still show to count as the same failure."""
        return failure_fingerprint(self.known, self.problems)


@dataclass
class ChunkResult:
    first: int
    count: int
    mismatches: list = field(default_factory=list)
    unknown_steps: int = 0      # steps the model could not predict (not judged)
    steps: int = 0
    times: dict = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    errors: list = field(default_factory=list)      # generator bugs, model errors: one line each


def failure_fingerprint(known_bug, problems):
    numbers = re.compile(r"0x[0-9a-f]+|\b\d+\b")
    return known_bug, tuple(sorted(numbers.sub("N", p) for p in problems))


# ---------------------------------------------------------------- the kernel's side

def kernel_pool_base(kernel):
    """Where the kernel's table pool starts (its `table_memory`), for the model's table addresses."""
    try:
        out = subprocess.run([NM, str(kernel)], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise HarnessError(f"cannot read the symbols of {kernel} with {NM}: {e}") from None
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[2] == "table_memory":
            return int(fields[0], 16)
    raise HarnessError(f"{kernel} has no table_memory symbol: is it the suite's kernel?")


def boot_cpu(settings, workdir):
    """The CPU's ID registers, from a boot that runs no case."""
    path = Path(workdir) / "empty.bin"
    blob.write([], path)
    run = run_kernel(settings.qemu, settings.cpu, settings.kernel, [], timeout=BOOT_TIMEOUT, blob=path)
    boot = parse_output(run.output).boot
    if boot is None:
        raise HarnessError(f"QEMU {settings.qemu} -cpu {settings.cpu} printed no boot record: "
                           + " | ".join(run.output.splitlines()[-3:]))
    return Cpu(boot.num("mmfr0"), boot.num("mmfr1"), boot.num("mmfr2"))


# ---------------------------------------------------------------- one chunk

def campaign_case(seed, index, cpu):
    """Case `index` of `seed` with the short ID campaigns give the kernel."""
    case = generate_case(seed, index, cpu)
    return replace(case, family=CAMPAIGN_FAMILY, name=f"n{index}")


def predict(case, cpu, pool_base):
    """The model's Outcomes for each step; CampaignError naming the case for a layout the kernel
    would refuse (a generator bug) or a model that raises."""
    try:
        return predict_case(case, cpu.ids, pool_base)
    except LayoutError as e:
        raise GeneratorBug(f"generated case {case.name}: the kernel would refuse its layout: {e}") from None
    except Exception as e:      # the model's defect, reported with the case that shows it
        raise CampaignError(f"the model raised {type(e).__name__} on generated case {case.name} "
                            f"({case.path}): {e}") from None


def judge_case(case, predictions, records):
    """(mismatching steps as (n, problems, observed text), generator-bug line or None)."""
    if records is None or not records.begin:
        return [], None
    if records.error is not None:
        detail = ", ".join(f"{k}={v}" for k, v in records.error.fields.items() if k != "case")
        return [], f"generator bug: the kernel could not build generated case {case.name}: {detail}"
    found = []
    for n, (step, outcomes) in enumerate(zip(case.steps, predictions)):
        record = records.steps.get(n)
        problems = observation_allowed(step, outcomes, record)
        if problems:
            found.append((n, problems, observed_text(step, record)))
    if records.exception is not None:
        e = records.exception
        found.append((len(records.steps), [f"the kernel took an {e.word('kind')} exception: "
                                           f"{esr.describe(esr.decode_esr(e.num('esr')))}"], "exception"))
    return found, None


def observed_text(step, record):
    from harness.verdict import observed_text as text
    return text(step, record)


def run_cases(settings, cases, workdir, tag, timeout=None):
    """Run cases in as few boots as they need: {index in cases: CaseRecords}.  A case that stops
    the kernel ends its boot; the rest run in another."""
    path = Path(workdir) / f"{tag}.bin"
    blob.write(cases, path)
    results, start = {}, 0
    while start < len(cases):
        ids = [f"#{start}-{len(cases) - 1}"]
        run = run_kernel(settings.qemu, settings.cpu, settings.kernel, ids, blob=path,
                         timeout=timeout or BOOT_TIMEOUT + TIMEOUT_PER_CASE * (len(cases) - start))
        per_case = parse_output(run.output).cases()
        stopped = None
        for k in range(start, len(cases)):
            records = per_case.get(cases[k].id)
            results[k] = records
            if records is None or not records.end:
                stopped = k
                break
        if stopped is None:
            break
        start = stopped + 1
    return results


def run_chunk(job):
    """Generate, predict, run and judge cases [first, first + count) of a campaign (in a worker)."""
    settings, seed, first, count, cpu, pool_base, version = job
    result = ChunkResult(first, count)
    t = time.perf_counter()

    def lap(phase):
        nonlocal t
        now = time.perf_counter()
        result.times[phase] += now - t
        t = now

    cases = [campaign_case(seed, i, cpu) for i in range(first, first + count)]
    lap("generate")
    try:
        predictions = [predict(c, cpu, pool_base) for c in cases]
    except (GeneratorBug, CampaignError) as e:
        result.errors.append(str(e))
        return result
    lap("model")
    with tempfile.TemporaryDirectory(prefix="mmu-fuzz-") as workdir:
        path = Path(workdir) / "chunk.bin"
        blob.write(cases, path)
        lap("encode")
        run = run_kernel(settings.qemu, settings.cpu, settings.kernel, [f"#0-{count - 1}"], blob=path,
                         timeout=BOOT_TIMEOUT + TIMEOUT_PER_CASE * count)
        lap("qemu")
        per_case = parse_output(run.output).cases()
        lap("parse")
        stopped = None
        for k, (case, preds) in enumerate(zip(cases, predictions)):
            records = per_case.get(case.id)
            if records is None or not records.end:
                stopped = k
                break
            _judge_into(result, first + k, case, preds, records)
        lap("judge")
        if stopped is not None:
            # The boot stopped in a case: judge that one alone, run the rest again.
            rest = run_cases(settings, cases[stopped:], workdir, "rest")
            lap("qemu")
            for k, records in rest.items():
                _judge_into(result, first + stopped + k, cases[stopped + k], predictions[stopped + k],
                            records, alone=k == 0)
            lap("judge")
    return result


def _judge_into(result, index, case, predictions, records, alone=False):
    result.steps += len(case.steps)
    result.unknown_steps += sum(any(isinstance(o, Unknown) for o in p) for p in predictions)
    if records is None or not records.end:
        if records is None or not records.begin:
            how = "the kernel never started it"
        else:
            how = "its records stop before its end record"
        result.mismatches.append(Mismatch(index, len(records.steps) if records else 0,
                                          [f"run: {how} (a hang or a crash of the kernel)"], "no end record",
                                          ""))
        return
    found, bug = judge_case(case, predictions, records)
    if bug:
        result.errors.append(bug)
    for n, problems, observed in found:
        expected = "; ".join(describe(o, case.steps[n].op) for o in sorted(predictions[n], key=repr)) \
            if n < len(case.steps) else ""
        result.mismatches.append(Mismatch(index, n, problems, observed, expected))


# ---------------------------------------------------------------- expectations for the case file

def expectation(step, outcomes):
    """The model's outcomes as a case-schema expectation (one value, or one_of)."""
    values = []
    for o in sorted(outcomes, key=repr):
        v = _outcome_value(step, o)
        if v not in values:
            values.append(v)
    return values[0] if len(values) == 1 else {"one_of": values}


def _outcome_value(step, o):
    if isinstance(o, Completes):
        if step.op in LOADS and o.value is not None:
            return {"value": o.value}
        return "ok"
    if isinstance(o, Abort):
        fault, level = esr.decode_fsc(o.fsc)
        out = {"fault": fault}
        if level is not None:
            out["level"] = level
        if o.far != step.va:
            out["far"] = o.far
        if step.op != "fetch" and o.wnr != (step.op in STORES):
            out["wnr"] = o.wnr
        if o.s1ptw:
            out["s1ptw"] = True
        return out
    if isinstance(o, Par):
        if par.PAR_F.get(o.value):
            fault, level = esr.decode_fsc(par.PAR_FST.get(o.value))
            out = {"fault": fault}
            if level is not None:
                out["level"] = level
            if par.PAR_PTW.get(o.value):
                out["s1ptw"] = True
            return out
        out = {"pa": o.value & par.PAR_PA.mask}
        if o.mask & par.PAR_ATTR.mask:
            out["attr"] = par.PAR_ATTR.get(o.value)
        if o.mask & par.PAR_SH.mask:
            out["sh"] = par.SH_NAMES[par.PAR_SH.get(o.value)]
        return out
    raise ValueError(f"no case-schema expectation for {o!r}")


def _rules(outcomes):
    rules = [getattr(o, "rule", None) for o in outcomes] + [outcomes.rule]
    return "; ".join(dict.fromkeys(r for r in rules if r)) or "AArch64.S1Translate"


# ---------------------------------------------------------------- the campaign

@dataclass
class Finding:
    """One generated case that mismatched, after it was run again alone."""
    index: int
    mismatches: list            # Mismatch, from the run alone (or the batch's when it did not reproduce)
    reproduced: bool
    known: str = None           # the known bug that explains every mismatch, if one does
    file: Path = None           # the shrunk case file (new mismatches)
    shrunk_steps: int = None


@dataclass
class Report:
    seed: int
    count: int
    qemu: str
    version: str
    cpu: str
    seconds: float = 0.0
    steps: int = 0
    unknown_steps: int = 0
    times: dict = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    findings: list = field(default_factory=list)
    errors: list = field(default_factory=list)

    @property
    def rate(self):
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def new(self):
        return [f for f in self.findings if f.known is None]

    @property
    def known(self):
        return [f for f in self.findings if f.known is not None]


def chunks(count, batch, jobs):
    """(first, count) of each chunk: batches of at most `batch`, at least one per job."""
    size = max(1, min(batch, -(-count // jobs)))
    return [(first, min(size, count - first)) for first in range(0, count, size)]


def run_campaign(settings, seed, count, progress=None, shrink_findings=None):
    """Run `count` generated cases of `seed`; a Report.  progress(text) gets a line now and then."""
    version = qemu_version(settings.qemu)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mmu-fuzz-") as workdir:
        cpu = boot_cpu(settings, workdir)
        pool_base = kernel_pool_base(settings.kernel)
        report = Report(seed, count, settings.qemu, version, settings.cpu)
        jobs = [(settings, seed, first, n, cpu, pool_base, version)
                for first, n in chunks(count, settings.batch, settings.jobs)]
        done, last = 0, time.monotonic()
        raw = []
        context = multiprocessing.get_context("fork")
        with context.Pool(settings.jobs) as pool:
            for result in pool.imap_unordered(run_chunk, jobs):
                done += result.count
                report.steps += result.steps
                report.unknown_steps += result.unknown_steps
                for phase, seconds in result.times.items():
                    report.times[phase] += seconds
                report.errors += result.errors
                raw += result.mismatches
                if progress and (time.monotonic() - last > 2 or done == count):
                    last = time.monotonic()
                    elapsed = last - started
                    progress(f"fuzz: {done}/{count} cases, {done / elapsed:.0f} cases/s, "
                             f"{len({m.index for m in raw})} mismatching")
        report.seconds = time.monotonic() - started
        if report.errors:
            return report
        for index in sorted({m.index for m in raw}):
            batch_mismatches = [m for m in raw if m.index == index]
            report.findings.append(_follow_up(settings, seed, index, cpu, pool_base, version, workdir,
                                              batch_mismatches,
                                              settings.shrink if shrink_findings is None else shrink_findings,
                                              progress))
    return report


def _rerun_alone(settings, case, cpu, pool_base, workdir, tag):
    """(mismatches, predictions, records) of case run alone in a fresh boot."""
    predictions = predict(case, cpu, pool_base)
    records = run_cases(settings, [case], workdir, tag)[0]
    mismatches = []
    if records is None or not records.end:
        mismatches.append(Mismatch(-1, 0, ["run: the kernel did not finish the case"], "no end record", ""))
        return mismatches, predictions, records
    found, bug = judge_case(case, predictions, records)
    if bug:
        raise GeneratorBug(bug)
    for n, problems, observed in found:
        expected = "; ".join(describe(o, case.steps[n].op) for o in sorted(predictions[n], key=repr)) \
            if n < len(case.steps) else ""
        mismatches.append(Mismatch(-1, n, problems, observed, expected))
    return mismatches, predictions, records


def _classify(version, case, cpu, pool_base, mismatches, records):
    """Mark each mismatch with the known bug that explains it; the bug explaining all, or None."""
    for m in mismatches:
        if m.step < len(case.steps) and records is not None:
            bug = known.explain(version, case, cpu.ids, pool_base, m.step, records.steps.get(m.step))
            m.known = bug.name if bug else None
    names = {m.known for m in mismatches}
    return names.pop() if len(names) == 1 and None not in names else None


def _follow_up(settings, seed, index, cpu, pool_base, version, workdir, batch_mismatches, do_shrink, progress):
    case = campaign_case(seed, index, cpu)
    mismatches, predictions, records = _rerun_alone(settings, case, cpu, pool_base, workdir, f"alone{index}")
    finding = Finding(index, mismatches or batch_mismatches, reproduced=bool(mismatches))
    if not mismatches:
        return finding
    finding.known = _classify(version, case, cpu, pool_base, mismatches, records)
    if finding.known is not None or not do_shrink:
        return finding
    target = next(m for m in mismatches if m.known is None)
    if progress:
        progress(f"fuzz: shrinking case {index} ({target.problems[0][:100]})")
    small = shrink_case(settings, case, cpu, pool_base, version, workdir, target.fingerprint)
    finding.file = write_finding(settings, seed, index, small, cpu, pool_base, version, workdir)
    finding.shrunk_steps = len(small.steps)
    return finding


def _loads(case, workdir):
    """Whether the loader takes the case as written (a shrink candidate must)."""
    try:
        write_case_file(Path(workdir) / "candidate.toml", case_text(replace(case, name="candidate")))
        return True
    except CaseError:
        return False


def shrink_case(settings, case, cpu, pool_base, version, workdir, fingerprint):
    """The smallest case that still shows the failure `fingerprint`."""
    def valid(candidate):
        return _loads(candidate, workdir)

    def still_fails(candidates):
        runnable, predicted = [], []
        for c in candidates:
            try:
                p = predict_case(c, cpu.ids, pool_base)
            except Exception:       # a candidate the model or the layout cannot take: not a smaller failure
                p = None
            if p is not None and not any(isinstance(o, Unknown) for s in p for o in s):
                runnable.append(c)
                predicted.append(p)
        ids = [replace(c, name=f"c{k}") for k, c in enumerate(runnable)]
        results = run_cases(settings, ids, workdir, "shrink") if ids else {}
        fails = {}
        for k, (c, p) in enumerate(zip(ids, predicted)):
            records = results.get(k)
            if records is None or not records.end:
                continue
            found, bug = judge_case(c, p, records)
            if bug:
                continue
            for n, problems, _ in found:
                if n >= len(c.steps):
                    continue
                explained = known.explain(version, c, cpu.ids, pool_base, n, records.steps.get(n))
                if failure_fingerprint(explained.name if explained else None, problems) == fingerprint:
                    fails[id(runnable[k])] = True
                    break
        return [fails.get(id(c), False) for c in candidates]

    return shrink(case, still_fails, valid)


def rerun_command(path, settings):
    return (f"/usr/bin/python3 -m harness.fuzz --rerun {path} --qemu={settings.qemu} --cpu={settings.cpu}")


def write_finding(settings, seed, index, case, cpu, pool_base, version, workdir):
    """The shrunk case as results/fuzz/<seed>-<index>.toml, with the model's expectations; it must
    load back (a file the loader rejects is a CampaignError)."""
    path = Path(settings.results) / "fuzz" / f"{seed}-{index}.toml"
    predictions = predict(case, cpu, pool_base)
    mismatches, _, records = _rerun_alone(settings, case, cpu, pool_base, workdir, "final")
    expectations = [expectation(s, p) for s, p in zip(case.steps, predictions)]
    failing = mismatches[0] if mismatches else None
    n = failing.step if failing else 0
    step, outcomes = case.steps[n], predictions[n]
    summary = (f"Generated (harness.fuzz seed {seed}, case {index}), shrunk: step {n} ({step.op} "
               f"va={step.va:#x}) must give {describe_outcomes(step, outcomes)} "
               f"(the model, after {_rules(outcomes)}); QEMU {version} -cpu {settings.cpu} gave "
               f"{failing.observed if failing else 'that (the failure did not reproduce when written)'}")
    comments = [
        f"Found by: /usr/bin/python3 -m harness.fuzz --seed {seed} --count {index + 1} "
        f"--qemu={settings.qemu} --cpu={settings.cpu}",
        f"Rerun:    {rerun_command(path, settings)}",
        f"QEMU {version}, -cpu {settings.cpu}: {'; '.join(failing.problems) if failing else 'no mismatch'}",
        "",
        "If QEMU is wrong here, mark it as a known bug of that version before committing:",
        f"  [bug.<name>] qemu = \"<={version}\", reason = \"<the rule> ... QEMU {version} <does what>\"",
    ]
    text = case_text(replace(case, name=case_name(seed, index)), feature=FEATURE, summary=summary,
                     expectations=expectations, comments=comments)
    try:
        write_case_file(path, text)
    except CaseError as e:
        raise CampaignError(str(e)) from None
    return path


def describe_outcomes(step, outcomes):
    texts = [describe(o, step.op) for o in sorted(outcomes, key=repr)]
    return texts[0] if len(texts) == 1 else "one of: " + " | ".join(texts)


def measure_rate(qemu, cpu, kernel, count=2000, seed=1, jobs=2, batch=1000):
    """Generated cases per second of wall time for a campaign without shrinking, and where
    the time goes: {"cases", "seconds", "rate", "phases" (CPU seconds per phase, summed over
    workers), "mismatching"}.  For `make bench` (harness/bench.py)."""
    settings = Settings(qemu=qemu, cpu=cpu, kernel=Path(kernel), jobs=jobs, batch=batch, shrink=False)
    report = run_campaign(settings, seed, count, shrink_findings=False)
    if report.errors:
        raise CampaignError(report.errors[0])
    return {"cases": count, "seconds": report.seconds, "rate": report.rate, "phases": dict(report.times),
            "mismatching": len(report.findings)}
