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
import resource
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

# harness.model before harness.declared: declared imports the model, which imports declared back.
from harness.predict import TooManyStates, predict_case  # isort: skip
from harness import blob, esr, par
from harness.cases import ALL_AT_OPS, AT_OPS, LOADS, STORES, CaseError
from harness.cases.schema import TLB_CONFLICT
from harness.declared import LayoutError
from harness.errors import HarnessError
from harness.fuzz import known
from harness import features
from harness.features import boot_ids
from harness.fuzz.generate import FEATURE, Cpu, GeneratorBug, case_name, generate_case
from harness.fuzz.mix import MIX_COUNT, coverage, missing
from harness.fuzz.shrink import shrink
from harness.fuzz.toml_writer import case_text, write_case_file
from harness.oracle import describe, observation_allowed, unjudged
from harness.model.outcome import (
    EC_GCS, EC_PC_ALIGNMENT, EC_SYSTEM_TRAP, Abort, Amalgamation, Completes, Done, Par, Unknown,
)
from harness.protocol import parse_output
from harness.observation import describe as observed_text, observe
from harness.walk_text import describe_walk
from harness.qemu import NM, qemu_version, run_kernel

# Where the CPU time of a campaign goes: the Python phases of the workers, and QEMU's own
# ("qemu", its processes' CPU time; "run" is the worker's while it reads QEMU's output).
PHASES = ("generate", "model", "encode", "run", "qemu", "parse", "judge")
# Seconds a batch may take per case, on top of a boot, before its QEMU is stopped as hung.
TIMEOUT_PER_CASE = 0.05
BOOT_TIMEOUT = 10.0
# The channel of a campaign's records: semihosting, opted into (harness.qemu.CONSOLES), as a
# generated case's records cost QEMU about four times the CPU over the UART (make bench).
CONSOLE = "semihosting"
# Cases of one failure run alone, one after another, while each of them does not fail alone.
FLAKY_TRIES = 3
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
    batch: int = 2000
    shrink: bool = True
    # The CPU whose ID registers the cases are generated for (None: the one under test).  A differential
    # campaign generates every build's cases for one CPU; a build without a case's `requires` skips it.
    gen_cpu: Cpu = None


@dataclass
class Mismatch:
    """A step whose observation the model does not allow."""
    index: int
    step: int
    problems: list
    observed: str
    expected: str
    known: str = None           # the known bugs (names joined by +) that explain it
    observation: object = None  # the step's Observation (None: there was no record)
    kind: tuple = ()            # failure_kind: what the model said and what happened, in classes

    @property
    def fingerprint(self):
        """What a smaller case must still show to count as the same failure: its kind and the
        known bugs that explain it."""
        return self.known, self.kind


@dataclass
class ChunkResult:
    first: int
    count: int
    mismatches: list = field(default_factory=list)
    unknown_steps: int = 0      # steps the model could not predict (not judged)
    unpredicted: int = 0        # cases beyond the model (too many translation states): not run
    skipped: int = 0            # cases generated for another CPU (Settings.gen_cpu) needing what this one lacks
    steps: int = 0
    coverage: Counter = field(default_factory=Counter)     # coverage(): what the judged cases held
    times: dict = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    errors: list = field(default_factory=list)      # generator bugs, model errors: one line each


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _outcome_kind(o):
    if isinstance(o, Completes):
        return "completes"
    if isinstance(o, Abort):
        return o.fault[0]
    if isinstance(o, Par):
        return f"PAR.F=1 {esr.decode_fsc(par.PAR_FST.get(o.value))[0]}" if par.PAR_F.get(o.value) else "PAR.F=0"
    return "unknown"


def _record_kind(step, outcomes, obs):
    if obs is None:
        return "no record"
    if obs.result == "ok":
        return "completes"
    if obs.result == "fault":
        return obs.esr.fault or f"EC {obs.esr.ec:#x}"
    p = obs.par.raw
    if par.PAR_F.get(p):
        return f"PAR.F=1 {esr.decode_fsc(par.PAR_FST.get(p))[0]}"
    # Which fields differ from the model's nearest PAR, by name.
    fields = (("PA", par.PAR_PA.mask), ("ATTR", par.PAR_ATTR.mask), ("SH", par.PAR_SH.mask))
    diffs = [tuple(name for name, mask in fields if (p ^ o.value) & o.mask & mask)
             for o in outcomes if isinstance(o, Par) and not par.PAR_F.get(o.value)]
    return "PAR.F=0 " + ",".join(min(diffs, key=len)) if diffs else "PAR.F=0"


def failure_kind(step, outcomes, obs):
    """A failure in classes, not numbers: the step's kind of access, the kinds of outcome the
    model allows and the kind observed (for a PAR, which fields differ).  Shrinking keeps it."""
    op = "at" if step.op in AT_OPS else "fetch" if step.op == "fetch" else \
        "store" if step.op in STORES else "load"
    return op, tuple(sorted({_outcome_kind(o) for o in outcomes})), _record_kind(step, outcomes, obs)


RUN_FAILURE = ("run", (), "the kernel did not finish the case")


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
    return Cpu(*boot_ids(boot))


# ---------------------------------------------------------------- one chunk

def campaign_case(seed, index, cpu):
    """Case `index` of `seed` with the short ID campaigns give the kernel."""
    case = generate_case(seed, index, cpu)
    return replace(case, family=CAMPAIGN_FAMILY, name=f"n{index}")


def predict(case, cpu, pool_base):
    """The model's Outcomes for each step, or None for a case beyond what the model predicts
    (too many translation states: it is counted, not run); CampaignError naming the case for a
    layout the kernel would refuse (a generator bug) or a model that raises."""
    try:
        return predict_case(case, cpu.ids, pool_base)
    except TooManyStates:
        return None
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
        obs = observe(records.steps.get(n))
        if unjudged(outcomes):
            continue        # the model cannot judge it: counted in unknown_steps, never a mismatch nor a pass
        problems = observation_allowed(step, outcomes, obs)
        if problems:
            found.append((n, problems, observed_text(obs)))
    if records.exception is not None:
        e = records.exception
        found.append((len(records.steps), [f"the kernel took an {e.word('kind')} exception: "
                                           f"{esr.describe(esr.decode_esr(e.num('esr')))}"], "exception"))
    return found, None


def run_cases(settings, cases, workdir, tag, timeout=None, walks=False, until_stop=False):
    """Run cases in as few boots as they need: {index in cases: CaseRecords}.  Each boot mode's
    cases (Case.boot: EL1, under the EL2 half, or at EL2 in the EL2&0 regime) boot apart; a
    case that stops the kernel ends its boot, and the rest run in another (until_stop: they are
    left out of the answer, for a caller that may not want them run)."""
    results = {}
    for boot in dict.fromkeys(c.boot for c in cases):
        indices = [k for k, c in enumerate(cases) if c.boot == boot]
        records = _run_boot_mode(settings, [cases[k] for k in indices], workdir, f"{tag}-{boot}", boot, timeout, walks,
                                 until_stop)
        results.update({indices[k]: r for k, r in records.items()})
        if until_stop and any(r is None or not r.end for r in records.values()):
            break
    return results


def _run_boot_mode(settings, cases, workdir, tag, boot, timeout, walks, until_stop=False):
    path = Path(workdir) / f"{tag}.bin"
    blob.write(cases, path)
    results, start = {}, 0
    while start < len(cases):
        ids = [f"#{start}-{len(cases) - 1}"]
        run = run_kernel(settings.qemu, settings.cpu, settings.kernel, ids, blob=path, walks=walks, boot=boot,
                         console=CONSOLE,
                         timeout=timeout or BOOT_TIMEOUT + TIMEOUT_PER_CASE * (len(cases) - start))
        per_case = parse_output(run.output).cases()
        stopped = None
        for k in range(start, len(cases)):
            records = per_case.get(cases[k].id)
            results[k] = records
            if records is None or not records.end:
                stopped = k
                break
        if stopped is None or until_stop:
            break
        start = stopped + 1
    return results


def run_chunk(job):
    """Generate, predict, run and judge cases [first, first + count) of a campaign (in a worker)."""
    settings, seed, first, count, cpu, pool_base, version = job
    result = ChunkResult(first, count)
    t, children = time.process_time(), _children_cpu()

    def lap(phase):
        nonlocal t, children
        now, now_children = time.process_time(), _children_cpu()
        result.times[phase] += now - t
        result.times["qemu"] += now_children - children
        t, children = now, now_children

    generated = [(i, campaign_case(seed, i, settings.gen_cpu or cpu)) for i in range(first, first + count)]
    if settings.gen_cpu is not None:
        runnable = [(i, c) for i, c in generated if not features.missing(c.requires, *cpu.ids)]
        result.skipped, generated = len(generated) - len(runnable), runnable
    lap("generate")
    try:
        predicted = [(i, c, predict(c, cpu, pool_base)) for i, c in generated]
    except (GeneratorBug, CampaignError) as e:
        result.errors.append(str(e))
        return result
    result.unpredicted = sum(p is None for _, _, p in predicted)
    predicted = [x for x in predicted if x[2] is not None]
    lap("model")
    with tempfile.TemporaryDirectory(prefix="mmu-fuzz-") as workdir:
        for boot in dict.fromkeys(c.boot for _, c, _ in predicted):
            _run_chunk_boot(settings, [x for x in predicted if x[1].boot == boot], boot, workdir, result, lap,
                            version, cpu, pool_base)
    return result


def _run_chunk_boot(settings, predicted, boot, workdir, result, lap, version, cpu, pool_base):
    """Run and judge a chunk's cases of one boot mode in one boot (more if one stops it)."""
    cases = [c for _, c, _ in predicted]
    path = Path(workdir) / f"chunk-{boot}.bin"
    blob.write(cases, path)
    lap("encode")
    run = run_kernel(settings.qemu, settings.cpu, settings.kernel, [f"#0-{len(cases) - 1}"], blob=path, boot=boot,
                     console=CONSOLE, timeout=BOOT_TIMEOUT + TIMEOUT_PER_CASE * len(cases), walks=False)
    lap("run")
    per_case = parse_output(run.output).cases()
    lap("parse")
    stopped = None
    for k, (index, case, preds) in enumerate(predicted):
        records = per_case.get(case.id)
        if records is None or not records.end:
            stopped = k
            break
        _judge_into(result, index, case, preds, records, version, cpu, pool_base)
    lap("judge")
    if stopped is not None:
        # The boot stopped in a case: judge that one alone, run the rest again.
        rest = run_cases(settings, cases[stopped:], workdir, "rest")
        lap("run")
        for k, records in rest.items():
            index, case, preds = predicted[stopped + k]
            _judge_into(result, index, case, preds, records, version, cpu, pool_base)
        lap("judge")


def _judge_into(result, index, case, predictions, records, version, cpu, pool_base):
    result.steps += len(case.steps)
    result.coverage.update(coverage(case))
    result.unknown_steps += sum(any(isinstance(o, Unknown) for o in p) for p in predictions)
    mismatches, bug = case_mismatches(index, case, predictions, records)
    if bug:
        result.errors.append(bug)
    classify(version, case, cpu, pool_base, mismatches)
    result.mismatches += mismatches


def case_mismatches(index, case, predictions, records):
    """(the Mismatches of a case's run, generator-bug line or None).  A run the kernel did not
    finish is one mismatch, at the step its records stop before (a hang, a crash of the kernel
    or of QEMU)."""
    if records is None or not records.end:
        n = len(records.steps) if records else 0
        how = "the kernel never started it" if records is None or not records.begin else \
            f"its records stop before step {n}"
        return [Mismatch(index, n, [f"run: {how} (a hang or a crash)"], "no end record", "",
                         kind=RUN_FAILURE)], None
    found, bug = judge_case(case, predictions, records)
    out = []
    for n, problems, observed in found:
        if n < len(case.steps):
            obs = observe(records.steps.get(n))
            expected = "; ".join(describe(o, case.steps[n].op) for o in sorted(predictions[n], key=repr))
            kind = failure_kind(case.steps[n], predictions[n], obs)
        else:
            obs, expected, kind = None, "", RUN_FAILURE
        out.append(Mismatch(index, n, problems, observed, expected, observation=obs, kind=kind))
    return out, bug


# ---------------------------------------------------------------- expectations for the case file

def expectation(step, outcomes):
    """The model's outcomes as a case-schema expectation (one value, or one_of).  A TLB conflict
    abort, reported where the architecture lets it be (EL1 or EL2 under two stages, PAR_EL1 for an
    AT S1E0*/S1E1*), is the one_of's "tlb_conflict", which stands for each of them."""
    values = []
    for o in sorted(outcomes, key=repr):
        if isinstance(o, Amalgamation):
            continue        # no case can name one (D8.17.1): the oracle leaves what only it may give unjudged
        v = _outcome_value(step, o)
        if isinstance(v, dict) and v.get("fault") == TLB_CONFLICT:
            v = TLB_CONFLICT
        if v not in values:
            values.append(v)
    return values[0] if len(values) == 1 else {"one_of": values}


def _outcome_value(step, o):
    if isinstance(o, Done):
        # A descriptor step's Done holds the slot's descriptor: only a read checks it.
        return {"desc": o.desc} if step.op in ("read_desc", "s2_read_desc") else "ok"
    if isinstance(o, Completes):
        if step.op in LOADS and o.value is not None:
            return {"value": o.value}
        return "ok"
    if isinstance(o, Abort) and o.ec == EC_GCS:
        return {"fault": esr.GCS_DATA_CHECK}    # GCSPOPM's: no fault status, FAR UNKNOWN (J1.1.3.56)
    if isinstance(o, Abort) and o.ec == EC_SYSTEM_TRAP:
        return {"fault": esr.SYSTEM_TRAP}       # DC ZVA's at EL0: no fault status, FAR UNKNOWN (C5.3.38)
    if isinstance(o, Abort) and o.ec == EC_PC_ALIGNMENT:
        # A PC alignment fault (EC 0x22): no fault status, FAR the misaligned PC (AArch64.CheckPCAlignment).
        return {"fault": esr.PC_ALIGNMENT, **({} if o.far == step.va else {"far": o.far})}
    if isinstance(o, Abort):
        fault, level = esr.decode_fsc(o.fsc)
        out = {"fault": fault}
        if level is not None:
            out["level"] = level
        # An AT instruction's abort (a stage 2 fault on its walk) always has WnR = 1 and FAR the VA.
        at = step.op in ALL_AT_OPS
        if o.far != step.va and not at:
            out["far"] = o.far
        if step.op != "fetch" and not at and o.wnr is not None and o.wnr != (step.op in STORES):
            out["wnr"] = o.wnr
        if o.s1ptw:
            out["s1ptw"] = True
        if o.stage != 1:
            out["stage"] = o.stage
        if o.ipa is not None:
            out["ipa"] = o.ipa
        return out
    if isinstance(o, Par):
        if par.PAR_F.get(o.value):
            fault, level = esr.decode_fsc(par.PAR_FST.get(o.value))
            out = {"fault": fault}
            if level is not None:
                out["level"] = level
            if par.PAR_PTW.get(o.value):
                out["s1ptw"] = True
            if par.PAR_S.get(o.value):
                out["stage"] = 2
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
    mismatches: list            # Mismatch: from the run alone for new ones, from the batch for known ones
    reproduced: bool
    known: str = None           # the known bug that explains every mismatch, if one does
    file: Path = None           # the shrunk case file (new mismatches)
    shrunk_steps: int = None
    same: list = field(default_factory=list)    # indices of cases that fail the same way


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
    unpredicted: int = 0
    skipped: int = 0
    coverage: Counter = field(default_factory=Counter)
    times: dict = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    findings: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    mismatching: int = 0        # cases with a mismatch, known or not
    unexplained: int = 0        # cases with a mismatch no known bug explains (before any rerun alone)
    cpu_ids: Cpu = None         # the ID registers the cases were generated for
    run_failures: int = 0       # cases the kernel did not finish (never started, or their records stop)
    unexplained_run_failures: int = 0   # of those, the ones no known QEMU bug explains

    @property
    def rate(self):
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def new(self):
        return [f for f in self.findings if f.known is None]

    @property
    def known(self):
        return [f for f in self.findings if f.known is not None]


# The share of a campaign's steps the model may leave unjudged (Unknown) and of its cases it may
# leave unrun (too many translation states) before the campaign says little: it then fails.
MAX_UNJUDGED = 0.01


def judged_problems(report):
    """Why a campaign that found no mismatch still shows little: steps the model did not judge
    (an oracle that answers Unknown passes everything), cases it left unrun, no steps at all, or a
    mix that misses a kind of case this CPU has (mix.missing).  [] when it judged what it ran."""
    problems = []
    if report.steps < report.count - report.unpredicted - report.skipped or not report.steps:
        problems.append(f"{report.steps} steps judged in {report.count} cases: every case has at least one")
    if report.unknown_steps > MAX_UNJUDGED * report.steps:
        problems.append(f"the model could not predict {report.unknown_steps} of {report.steps} steps "
                        f"(more than {MAX_UNJUDGED:.0%}): they were not judged")
    # One case is a share only of a campaign of 1 / MAX_UNJUDGED cases or more (a 20-case one may have one).
    if report.unpredicted > max(1, MAX_UNJUDGED * report.count):
        problems.append(f"{report.unpredicted} of {report.count} cases were beyond the model (not run)")
    if report.cpu_ids is not None and report.count >= MIX_COUNT:
        gaps = missing(report.coverage, report.cpu_ids)
        if gaps:
            problems.append(f"the campaign reached no case of: {', '.join(gaps)}")
    return problems


def chunks(count, batch, jobs, first=0):
    """(first, count) of each chunk: one per job (each job's cases in as few boots as the kernel's
    boot modes need: a boot costs QEMU about 0.15 CPU seconds, a case in it about 1 ms), at most
    `batch` cases."""
    size = max(1, min(batch, -(-count // jobs)))
    return [(start, min(size, first + count - start)) for start in range(first, first + count, size)]


def run_campaign(settings, seed, count, progress=None, shrink_findings=None, follow=True, first=0):
    """Run `count` generated cases of `seed` from index `first`; a Report.  progress(text) gets
    a line now and then.
    follow=False leaves the mismatches uninvestigated (no rerun, no shrinking): for measuring."""
    version = qemu_version(settings.qemu)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mmu-fuzz-") as workdir:
        cpu = boot_cpu(settings, workdir)
        pool_base = kernel_pool_base(settings.kernel)
        report = Report(seed, count, settings.qemu, version, settings.cpu, cpu_ids=cpu)
        jobs = [(settings, seed, start, n, cpu, pool_base, version)
                for start, n in chunks(count, settings.batch, settings.jobs, first)]
        done, last = 0, time.monotonic()
        raw = []
        context = multiprocessing.get_context("fork")
        with context.Pool(settings.jobs) as pool:
            for result in pool.imap_unordered(run_chunk, jobs):
                done += result.count
                report.steps += result.steps
                report.unknown_steps += result.unknown_steps
                report.unpredicted += result.unpredicted
                report.skipped += result.skipped
                report.coverage.update(result.coverage)
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
        report.mismatching = len({m.index for m in raw})
        report.unexplained = len({m.index for m in raw if m.known is None})
        report.run_failures = len({m.index for m in raw if m.kind == RUN_FAILURE})
        report.unexplained_run_failures = len({m.index for m in raw if m.kind == RUN_FAILURE and not m.known})
        if report.errors or not follow:
            return report
        do_shrink = settings.shrink if shrink_findings is None else shrink_findings
        report.findings = follow_up(settings, seed, cpu, pool_base, version, workdir, raw, do_shrink, progress)
    return report


def _rerun_alone(settings, case, cpu, pool_base, workdir, tag, walks=False):
    """(mismatches, predictions, records) of case run alone in a fresh boot (with walk records)."""
    predictions = predict(case, cpu, pool_base)
    records = run_cases(settings, [case], workdir, tag, walks=walks)[0]
    mismatches, bug = case_mismatches(-1, case, predictions, records)
    if bug:
        raise GeneratorBug(bug)
    return mismatches, predictions, records


# The known bugs in the order a process tries them: each bug that explained a step moves to the
# front, so a campaign's frequent bugs are tried first (a try is a model run of the case so far).
# Where two bugs each explain a step alone, the one tried first names it.
_TRY_ORDER = list(known.KNOWN_BUGS)


def classify(version, case, cpu, pool_base, mismatches):
    """Mark each mismatch with the known bugs that explain it; the bugs that explain all of
    them (names joined), or None when one is not explained."""
    for m in mismatches:
        if m.step < len(case.steps):
            bugs = known.explain(version, case, cpu.ids, pool_base, m.step, m.observation, bugs=tuple(_TRY_ORDER))
            for bug in reversed(bugs):
                _TRY_ORDER.remove(bug)
                _TRY_ORDER.insert(0, bug)
            m.known = known.names(bugs)
    bugs = sorted({m.known for m in mismatches if m.known})
    return ", ".join(bugs) if all(m.known for m in mismatches) else None


def follow_up(settings, seed, cpu, pool_base, version, workdir, mismatches, do_shrink, progress=None):
    """Findings from a campaign's mismatches.  A case every mismatch of which known bugs explain
    is reported as those bugs.  Of the others, the first case of each failure (fingerprint) is
    run again alone and, when it fails again, shrunk and written to results/fuzz/; the cases
    that fail the same way are listed with it.  When that first case does not fail alone
    (flaky), the next case that failed the same way is run alone too, up to FLAKY_TRIES of
    them; cases after those are listed with the last."""
    findings, first_of, flaky_tries = [], {}, {}
    for index in sorted({m.index for m in mismatches}):
        ms = [m for m in mismatches if m.index == index]
        bugs = sorted({m.known for m in ms if m.known})
        if all(m.known for m in ms):
            findings.append(Finding(index, ms, reproduced=True, known=", ".join(bugs)))
            continue
        target = next(m for m in ms if m.known is None)
        first = first_of.get(target.fingerprint)
        tried = flaky_tries.get(target.fingerprint, 0)
        if first is not None and (first.reproduced or tried >= FLAKY_TRIES):
            first.same.append(index)
            continue
        # The first case of a failure, or the next one after a case that did not fail alone:
        # a flaky first case must not hide the others (they may reproduce).
        finding = _new_finding(settings, seed, index, cpu, pool_base, version, workdir, do_shrink, progress)
        if not finding.reproduced:
            flaky_tries[target.fingerprint] = tried + 1
        first_of[target.fingerprint] = finding
        findings.append(finding)
    return findings


def _new_finding(settings, seed, index, cpu, pool_base, version, workdir, do_shrink, progress):
    case = campaign_case(seed, index, settings.gen_cpu or cpu)
    mismatches, _, _ = _rerun_alone(settings, case, cpu, pool_base, workdir, f"alone{index}")
    classify(version, case, cpu, pool_base, mismatches)
    target = next((m for m in mismatches if m.known is None), None)
    finding = Finding(index, mismatches, reproduced=target is not None)
    if target is None:
        return finding
    small = case
    if do_shrink:
        if progress:
            progress(f"fuzz: shrinking case {index} ({target.problems[0][:100]})")
        started = time.monotonic()
        small = shrink_case(settings, case, cpu, pool_base, version, workdir, target.fingerprint)
        if progress:
            progress(f"fuzz: case {index} shrunk to {len(small.steps)} step(s), {len(small.maps)} mapping(s), "
                     f"{len(small.raws)} raw descriptor(s) in {time.monotonic() - started:.1f} s")
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
        # shrink() keeps the first candidate that fails: look no further than that one (telling
        # a failure's known bugs apart costs a model run per combination of bugs).
        for k, (c, p) in enumerate(zip(ids, predicted)):
            mismatches, bug = case_mismatches(k, c, p, results.get(k))
            for m in ([] if bug else mismatches):
                if m.kind != fingerprint[1] or m.step >= len(c.steps):
                    continue
                explained = known.names(known.explain(version, c, cpu.ids, pool_base, m.step, m.observation))
                if explained == fingerprint[0]:
                    first = runnable[k]
                    return [c is first for c in candidates]
        return [False] * len(candidates)

    return shrink(case, still_fails, valid)


def rerun_command(path, settings):
    return (f"/usr/bin/python3 -m harness.fuzz --rerun {path} --qemu={settings.qemu} --cpu={settings.cpu}")


def write_finding(settings, seed, index, case, cpu, pool_base, version, workdir):
    """The shrunk case as results/fuzz/<seed>-<index>.toml, with the model's expectations; it must
    load back (a file the loader rejects is a CampaignError)."""
    path = Path(settings.results) / "fuzz" / f"{seed}-{index}.toml"
    predictions = predict(case, cpu, pool_base)
    mismatches, _, records = _rerun_alone(settings, case, cpu, pool_base, workdir, "final", walks=True)
    expectations = [expectation(s, p) for s, p in zip(case.steps, predictions)]
    failing = mismatches[0] if mismatches else None
    n = failing.step if failing else 0
    step, outcomes = case.steps[n], predictions[n]
    summary = (f"Generated (harness.fuzz seed {seed}, case {index}), shrunk: step {n} ({step.op} "
               f"va={step.va:#x}) must give {describe_outcomes(step, outcomes)} "
               f"(the model, after {_rules(outcomes)}); QEMU {version} -cpu {settings.cpu} gave "
               f"{failing.observed if failing else 'that (the failure did not reproduce when written)'}")
    comments = [
        f"Found by: /usr/bin/python3 -m harness.fuzz --seed {seed} --first {index} --count 1 "
        f"--qemu={settings.qemu} --cpu={settings.cpu}",
        f"Rerun:    {rerun_command(path, settings)}",
        f"QEMU {version}, -cpu {settings.cpu}: {'; '.join(failing.problems) if failing else 'no mismatch'}",
        *walk_lines(case, n, records),
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


def walk_lines(case, n, records):
    """The kernel's software walk of step n's VA (its walk records), for the case file's comments."""
    walks = records.walks.get(n, {}) if records is not None else {}
    lines = []
    for when in ("before", "after"):
        if walks.get(when):
            text = describe_walk(walks[when], case.regime, case.steps[n].va, case.stage2)
            lines.append(f"Walk of step {n} ({when} it, the kernel's software walk): " + "; ".join(text))
    return lines


def describe_outcomes(step, outcomes):
    texts = [describe(o, step.op) for o in sorted(outcomes, key=repr)]
    return texts[0] if len(texts) == 1 else "one of: " + " | ".join(texts)


def measure_rate(qemu, cpu, kernel, count=2000, seed=1, jobs=2, batch=2000):
    """Generated cases per second for a campaign without shrinking, and where the time goes,
    for `make bench` (harness/bench.py):
        {"cases", "seconds" (wall), "rate" (cases per wall second), "cpu_seconds",
         "rate_per_cpu" (cases per CPU second, the rate an idle machine gets per CPU),
         "phases" ({phase: CPU seconds}, PHASES), "mismatching" (cases), "run_failures" (cases that
         did not run to their end), "unexplained_run_failures" (those no known QEMU bug explains)}.
    Under load from other work the wall rate falls and the CPU figures do not."""
    settings = Settings(qemu=qemu, cpu=cpu, kernel=Path(kernel), jobs=jobs, batch=batch, shrink=False)
    report = run_campaign(settings, seed, count, follow=False)
    if report.errors:
        raise CampaignError(report.errors[0])
    cpu_seconds = sum(report.times.values())
    return {"cases": count, "seconds": report.seconds, "rate": report.rate, "cpu_seconds": cpu_seconds,
            "rate_per_cpu": count / cpu_seconds if cpu_seconds else 0.0, "phases": dict(report.times),
            "mismatching": report.mismatching, "run_failures": report.run_failures,
            "unexplained_run_failures": report.unexplained_run_failures}
