"""Run cases on the kernel and judge them: many per boot, or one boot per case.

Many per boot (the default, Runner.run_shared): a boot runs consecutive cases,
and a verdict from it stands only where the boot cannot have made it differ
from a fresh boot's; every other case is rerun alone on a fresh boot, and that
verdict is the one reported.

The judgement of a case is its steps' verdicts plus what went wrong with the
run itself (a hang, a crash, an unexpected exception, garbled records);
both end up in the report a user reads and in results/.
"""
import concurrent.futures
import itertools
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import crosscheck, declared, esr, features, walk_digest
from harness.fuzz import known
from harness.cases import MAINT_OPS, STORES
from harness.kdefs import kernel_header, read_defines
from harness.observation import observe
from harness.ops import REPORTED
from harness.protocol import PREFIX, PROTOCOL_VERSION, Record, parse_output
from harness.qemu import HANG_CHECK, boot_tokens, qemu_version, run_kernel, symbol_for
from harness.verdict import judge_step, never_ran
from harness.walk_text import describe_walk

# Exit statuses (kernel/exit_status.h), named for messages.
EXIT = read_defines(kernel_header("exit_status.h"))
CMDLINE_SIZE = read_defines(kernel_header("layout.h"))["CMDLINE_SIZE"]
_EXIT_TEXT = {
    EXIT["EXIT_OK"]: "all cases ran",
    EXIT["EXIT_CASE_ERROR"]: "a case could not be run",
    EXIT["EXIT_UNEXPECTED"]: "an unexpected exception",
    EXIT["EXIT_NESTED"]: "an exception inside the exception handler",
    EXIT["EXIT_NESTED_TWICE"]: "an exception while reporting a nested exception",
}

# Self-test expectations are about the run as a whole (cases.SELFTESTS).
_SELFTEST_END = {
    "unexpected_exception": ("unexpected", EXIT["EXIT_UNEXPECTED"]),
    "nested_exception": ("nested", EXIT["EXIT_NESTED"]),
}


@dataclass
class Judgement:
    case: object
    steps: list = field(default_factory=list)       # verdict.StepVerdict
    problems: list = field(default_factory=list)    # run-level: timeout, crash, exception
    run: object = None                              # qemu.RunResult
    wall: float = 0.0
    batch_size: int = 1                             # cases in the boot it was judged from
    fresh_boot: bool = True                         # nothing ran before it in that boot
    rerun: str = None       # why it was rerun alone after a boot it shared (None: it was not)
    explained: list = field(default_factory=list)   # run-level departures known bugs explain (QEMU aborting)
    known_bugs: tuple = ()                          # names of the known bugs that explain those

    @property
    def ok(self):
        """Everything is what the architecture permits: nothing failed, no known bug excused anything."""
        return not self.problems and not self.explained and all(s.ok for s in self.steps)

    @property
    def status(self):
        """'failed': something no known bug explains went wrong (a step, the run, the harness);
        'known_bug': every departure from the architecture is explained by known bugs; 'passed'."""
        if self.problems or any(s.problems for s in self.steps):
            return "failed"
        return "known_bug" if not self.ok else "passed"

    def explanations(self):
        """{known bug name: the steps (n) and run-level departures ('run') it explains}, in step order."""
        out = {}
        for s in self.steps:
            for bug in s.known_bugs:
                out.setdefault(bug, []).append(s.n)
        for bug in self.known_bugs:
            out.setdefault(bug, []).append("run")
        return out

    @property
    def unjudged(self):
        """The steps the model could not judge (StepVerdict.unjudged says why)."""
        return [s for s in self.steps if s.unjudged]

    @property
    def raw_output_matters(self):
        """True when the failure is the run's, not an outcome's: keep the raw output."""
        return bool(self.problems)


@dataclass(frozen=True)
class Settings:
    qemu: str
    cpu: str
    kernel: Path
    timeout: float = 10.0
    hang_check: float | None = HANG_CHECK   # qemu.run_kernel's progress check
    console: str = "uart"                   # the channel of the kernel's records (qemu.CONSOLES)
    predictions: object = None              # a predictions.PredictionCache (None: the model evaluates every step)
    # Whether QEMU's known bugs may explain a departure: not in a run that tests another
    # implementation (--implementation), whose bugs are its own (a bug of QEMU excuses nothing there).
    qemu_bugs: bool = True


def bugs_version(settings):
    """The QEMU version whose known bugs may explain departures in runs under `settings` (None: none may)."""
    return qemu_version(settings.qemu) if settings.qemu_bugs else None


def timeout_for(case, settings):
    """Seconds a run of `case` may take: its own `timeout`, or the harness's."""
    return case.timeout or settings.timeout


def _how_it_ended(run):
    """'QEMU exit status 3 (an unexpected exception)', 'QEMU killed by SIGSEGV', ..."""
    if run.stalled:
        return "QEMU stopped by the progress check"
    if run.timed_out:
        return "QEMU stopped at the timeout"
    if run.signal is not None:
        try:
            name = signal.Signals(run.signal).name
        except ValueError:
            name = f"signal {run.signal}"
        return f"QEMU killed by {name}"
    if parse_output(run.output).boot is None:
        # QEMU's own status (1 for a bad option, say), not one of the kernel's.
        return f"QEMU exit status {run.exit_status} before the kernel booted"
    return f"QEMU exit status {run.exit_status} ({_EXIT_TEXT.get(run.exit_status, 'QEMU itself failed')})"


def _records_stop(records):
    """Where a case's records stop, for a run that did not end it."""
    if records is None or not records.begin:
        return "before its begin record"
    if records.steps:
        return f"after the record of step {max(records.steps)}"
    return "after its begin record"


def _describe_exception(record, kernel):
    syndrome = esr.decode_esr(record.num("esr"))
    where = symbol_for(kernel, record.num("elr")) or "?"
    kind = record.word("kind")
    return (f"the kernel took {'an' if kind[0] in 'aeiou' else 'a'} {kind} exception: {esr.describe(syndrome)}, "
            f"ELR {record.num('elr'):#x} ({where}), FAR {record.num('far'):#x}, SPSR {record.num('spsr'):#x}")


def _observations(case, records):
    """{step n: Observation} of a case's step records, each decoded once (harness/observation.py),
    but a record that lacks what its step reports (_lacks): its step is judged as one without a record."""
    if not records:
        return {}
    return {n: observe(r) for n, r in records.steps.items() if _lacks(case, n, r) is None}


def _lacks(case, n, record):
    """The key (ops.REPORTED: a load's value, a descriptor read's desc) that step n's record lacks
    though its step reports it, or None.  Such a record is damaged: cut short at a key's end, or,
    in a case whose records stop before the end record that counts them (protocol.CaseRecords),
    the next step's record numbered as this step's after a lost one."""
    key = REPORTED.get(case.steps[n].op) if n < len(case.steps) else None
    return key if key is not None and record.word("result") == "ok" and key not in record.fields else None


def _step_verdicts(case, observations):
    """The verdicts on a case's steps (self-test steps about the run's end aside)."""
    return [judge_step(n, step, observations.get(n)) for n, step in enumerate(case.steps)
            if step.expect.kind not in (*_SELFTEST_END, "hang")]


def _with_model(verdicts, case, records, observations, boot, settings):
    """The step verdicts with the reference model's view of each step added (harness/crosscheck.py),
    known bugs of the QEMU of `settings` explaining departures (none in a run of another
    implementation: bugs_version).  A step whose departures known bugs explain has its own
    expectation's failures explained too: they are the same departure, seen by the case."""
    version = bugs_version(settings)
    views = crosscheck.step_views(case, records, boot, version, observations,
                                  frozenset(v.n for v in verdicts if not v.ok), settings.predictions)
    out = []
    for v in verdicts:
        view = views.get(v.n)
        if view is None:
            out.append(v)
            continue
        text = view.model
        if view.known_bugs:
            text += "; what QEMU did is " + " and ".join(
                f"its known bug {bug.name} ({bug.qemu}: {bug.shape(version)[0]})" for bug in view.known_bugs)
            out.append(replace(v, model=text, walk=view.walk, problems=view.problems,
                               explained=v.problems + view.explained,
                               known_bugs=tuple(bug.name for bug in view.known_bugs)))
        elif view.amalgamation:
            # An amalgamation of TLB entries (D8.17.1) is no outcome a case can name: where the model leaves the
            # observation unjudged for one, the case's expectation (old, new or the conflict abort) does not fail
            # it either; what it says is kept in the reason.
            said = "; the case's expectation: " + "; ".join(v.problems) if v.problems else ""
            out.append(replace(v, model=text, walk=view.walk, problems=view.problems,
                               unjudged=view.unjudged + said, amalgamation=True))
        else:
            out.append(replace(v, model=text, walk=view.walk, problems=v.problems + view.problems,
                               unjudged=view.unjudged))
    return out


# The crosscheck tries QEMU's known bugs as variants of the model by patching its modules for the
# while (harness/fuzz/known.py): one judgement at a time, whichever thread runs it.
_JUDGING = threading.Lock()


def judge(case, records, run, settings, shares_run=False, boot=None):
    """Judge one case from its records (protocol.CaseRecords or None) in a run whose
    boot record is `boot`: by the case's expectations and by the reference model.
    A case that ended in a run it shares (batch mode) is not answerable for how that run ended."""
    with _JUDGING:
        return _judge(case, records, run, settings, shares_run, boot)


def _judge(case, records, run, settings, shares_run, boot):
    observations = _observations(case, records)
    j = Judgement(case, steps=_with_model(_step_verdicts(case, observations), case, records, observations, boot,
                                          settings), run=run, wall=run.wall)
    selftest = case.steps[-1].expect.kind if case.steps[-1].expect.kind in (*_SELFTEST_END, "hang") else None
    exception = records.exception if records else None
    if selftest == "hang":
        if not run.stopped:
            j.problems.append(f"expected the kernel to hang until it was stopped; it ended: {_how_it_ended(run)}")
        elif not (run.symbol or "").startswith("selftest_hang"):
            j.problems.append(f"expected the CPU in selftest_hang when it was stopped; it was at {run.symbol or '?'}")
        return j
    if selftest:
        kind, status = _SELFTEST_END[selftest]
        if exception is None or exception.word("kind") != kind or run.exit_status != status:
            got = _describe_exception(exception, settings.kernel) if exception else "no exception record"
            j.problems.append(f"expected an {kind} exception reported with exit status {status}; "
                              f"got {got}, exit status {run.exit_status}")
        return j

    if run.stopped and not shares_run:
        where = f"PC {run.pc:#x} ({run.symbol or 'no symbol'})" if run.pc is not None else "PC unknown"
        why = (f"the kernel made no progress ({run.stalled}) and was stopped after {run.wall:.1f} s" if run.stalled
               else f"QEMU did not finish within {run.timeout:g} s and was stopped")
        j.problems.append(f"{why}; the CPU was at {where}; the case's records stop {_records_stop(records)}")
    if exception is not None:
        stop = f"{_describe_exception(exception, settings.kernel)}; {_how_it_ended(run)}"
        bugs = _run_end_explained(case, records, run, boot, settings, shares_run)
        if bugs:
            _explain_the_abort(j, stop, bugs)
        else:
            j.problems.append(stop)
    if records and records.error is not None:
        e = records.error
        detail = ", ".join(f"{k}={v}" for k, v in e.fields.items() if k != "case")
        j.problems.append(f"the kernel could not build this case's tables: {detail}")
    if not run.stopped and exception is None:
        if records is None or not records.begin:
            j.problems.append(f"the kernel never started this case ({_how_it_ended(run)})")
        elif not records.end:
            stop = (f"the case's records stop {_records_stop(records)}, "
                    f"before its end record: {_how_it_ended(run)}")
            bugs = _run_end_explained(case, records, run, boot, settings, shares_run)
            if bugs:
                _explain_the_abort(j, stop, bugs)
            else:
                j.problems.append(stop)
        elif run.signal is not None and not shares_run:
            j.problems.append(f"{_how_it_ended(run)} after the case's end record")
    if records is not None:
        j.problems.extend(records.problems)
        # A step record echoes its step's VA: another is a damaged record, whatever else it says.
        j.problems.extend(f"step {n}'s record names va={record.num('va'):#x}, not the step's {case.steps[n].va:#x} "
                          "(garbled output): rerun it" for n, record in sorted(records.steps.items())
                          if n < len(case.steps) and record.num("va") != case.steps[n].va)
        j.problems.extend(f"step {n}'s record lacks the {key}= a {case.steps[n].op} step reports (a damaged record, "
                          "or the next step's after a lost one): rerun it" for n, record in sorted(records.steps.items())
                          if (key := _lacks(case, n, record)) is not None)
        # An access step's record says how many walk records it sent (walks=), or leaves its walk to
        # the end record's digest (docs/protocol.md): one without either is a damaged record, and
        # a walk whose records were all lost would otherwise read as one that read nothing.
        left_out = walk_digest.digested(case, records)
        if records.end and records.error is None and bool(left_out) != (records.walk_digest is not None):
            j.problems.append(
                f"step {left_out[0]}'s record does not say how many walk records it sent (walks=), and the end "
                "record carries no walk digest: a damaged record: rerun it" if left_out else
                "the end record carries a walk digest, but every step's record says how many walk records it "
                "sent (walks=): a damaged record: rerun it")
        if boot is None:
            # Without the boot record the model cannot judge (it needs the CPU's ID registers): a
            # garbled output, never a pass on the case's expectations alone.
            j.problems.append("the run's output has this case's records but no boot record (garbled output): rerun it")
        if records.end and records.error is None and records.regs is None:
            # The kernel reports the registers of every case it runs (with +walks, always here): without
            # them the model judged none of its steps, which must not read as a pass.
            j.problems.append("the kernel reported no regs record for this case: the model could not judge its steps")
    if run.exit_status not in (None, EXIT["EXIT_OK"]) and not j.problems and not j.explained and not shares_run:
        j.problems.append(_how_it_ended(run))
    return j


def _run_end_explained(case, records, run, boot, settings, shares_run):
    """The known bugs (names) under whose variant the run ends (known.RunEnds) at the first step of
    `case` left without a record, where the run did end so there: QEMU killed by a signal, or the
    kernel's exception record inside the case; () otherwise."""
    exception = records.exception
    if shares_run or boot is None or records.regs is None or run.signal is None and exception is None:
        return ()
    n = next((k for k in range(len(case.steps)) if k not in records.steps), None)
    if n is None:
        return ()
    ended = known.RunEnd(signal=run.signal, esr=esr.decode_esr(exception.num("esr")) if exception else None,
                         el=exception.fields.get("el") if exception else None)
    pool_base, ids, version = records.regs.num("ttbr0") & ~0xFFFF, features.boot_ids(boot), bugs_version(settings)

    def search():
        return tuple(bug.name for bug in known.explain(version, case, ids, pool_base, n, None, ended=ended))
    if settings.predictions is None:
        return search()
    # The search (a model run per bug and per pair of bugs) depends on nothing else besides the case: kept.
    return settings.predictions.entry(case, ids, pool_base).value(("run ended", n, version, repr(ended)), search)


def _explain_the_abort(j, stop, bugs):
    """How the run ended (`stop`) and the steps that never ran are explained by `bugs`."""
    j.explained.append(stop)
    j.known_bugs = bugs
    j.steps = [replace(s, problems=(), explained=s.problems, known_bugs=bugs)
               if never_ran(s.problems) else s for s in j.steps]


class Runner:
    """Runs cases: one boot each (run_one), or many per boot with reruns (run_shared), in
    up to `parallel` QEMUs at a time."""

    def __init__(self, settings, parallel=1):
        self.settings = settings
        self.parallel = parallel
        self._shared = {}           # case id -> Judgement from a shared boot, not yet taken
        self._ahead = {}            # case id -> Future of its Judgement, judged by another thread
        self._pool = None
        self._stop = threading.Event()

    def close(self):
        """Stop the threads judging ahead, and the QEMUs they run, and wait for them; write
        back the predictions the run added."""
        self._stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self.settings.predictions is not None:
            self.settings.predictions.save()

    def _run(self, case_ids, timeout, watch=None, boot="el1", walks=True):
        s = self.settings
        return run_kernel(s.qemu, s.cpu, s.kernel, case_ids, timeout=timeout, hang_check=s.hang_check, watch=watch,
                          stop=self._stop, boot=boot, console=s.console, walks=walks)

    def boot(self, boot="el1"):
        """A boot of mode `boot` (qemu.BOOT_MODES) that runs no case: the CPU's ID registers, and
        the boot floor's time; its boot record says at which EL the kernel started and runs."""
        run = self._run([], self.settings.timeout, boot=boot)
        return run, parse_output(run.output)

    def run_one(self, case):
        """Judge `case` on a fresh boot that runs it alone, with its walks in full."""
        run = self._run([case.id], timeout_for(case, self.settings), boot=case.boot)
        output = parse_output(run.output)
        try:
            j = judge(case, output.cases().get(case.id), run, self.settings, boot=output.boot)
        except Exception as e:
            # The harness's defect (the model's crosscheck, say), shown as this case's failure with its raw output.
            j = Judgement(case, run=run, wall=run.wall,
                          problems=[f"judging this case's records raised {type(e).__name__}: {e}"])
        j.problems.extend(_run_problems(output))
        return j

    def run_shared(self, case, following):
        """Judge `case` as the default mode does: on a boot it shares with the cases of
        `following` (an iterable, taken lazily) not yet judged (as many as the kernel's
        command line holds), and,
        where that verdict cannot stand for a fresh boot's (see _shared_boot), again on
        a fresh boot of its own, whose verdict it then is."""
        if case.id in self._ahead:
            return self._ahead.pop(case.id).result()
        if self.parallel > 1 and self._pool is None:
            self._judge_ahead([case, *following])
        if case.id not in self._shared:
            self._shared.update(self._shared_boot(itertools.chain([case], (
                c for c in following if c.id not in self._shared and c.id not in self._ahead))))
        return self._final(case, self._shared.pop(case.id))

    def _final(self, case, shared):
        """The verdict on `case` given its verdict from a shared boot: that one, or a rerun's."""
        if shared.rerun is None:
            return shared
        j = self.run_one(case)
        j.rerun = shared.rerun
        return j

    def _judge_ahead(self, cases):
        """Cut `cases` into `parallel` runs of consecutive cases: this thread goes on with the
        first, and a thread each judges one of the others, boot by boot, meanwhile."""
        self._pool = concurrent.futures.ThreadPoolExecutor(self.parallel - 1, thread_name_prefix="mmut-boots")
        size = -(-len(cases) // self.parallel)
        for part in (cases[k:k + size] for k in range(size, len(cases), size)):
            futures = {c.id: concurrent.futures.Future() for c in part}
            self._ahead.update(futures)
            self._pool.submit(self._judge_run, part, futures)

    def _judge_run(self, cases, futures):
        """Judge `cases` as run_shared would, one after another, into `futures`."""
        pending = list(cases)
        try:
            while pending and not self._stop.is_set():
                judged = self._shared_boot(iter(pending))
                for c in pending:
                    if c.id in judged and not self._stop.is_set():
                        futures[c.id].set_result(self._final(c, judged[c.id]))
                pending = [c for c in pending if c.id not in judged]
        except BaseException as e:      # the item waiting for a case reports it
            for f in futures.values():
                if not f.done():
                    f.set_exception(e)
            raise
        for f in futures.values():
            f.cancel()      # those left when the session stopped

    def _shared_boot(self, cases):
        """{case id: Judgement} of the cases one boot runs, from the first of `cases` (an iterable) up to
        where the boot ended: a crash or a hang ends it in a case, and the harness cuts it
        short after a case that failed while it could write memory (_may_write_memory), as
        that case may have written where the kernel's reset between cases does not reach.
        The boot runs cases of the first one's boot mode; the others are left for later boots.
        A judgement whose `rerun` is set cannot stand for a fresh boot's, and says why:
        the case failed (a departure no known bug explains: _known_bug_stands) and a case
        ran before it in the boot, or the boot printed malformed records, so none of its
        records is beyond doubt; or its end record carries a walk digest (the boot runs
        without walk records) that is not that of the declared tables, or the case
        failed: its rerun gives the walks in full."""
        batch, length = [], None
        for c in cases:
            if length is None:
                length = sum(len(t) + 1 for t in boot_tokens(c.boot, self.settings.console))
            # A boot has one mode (where its cases run: qemu.BOOT_MODES): a case of another mode waits
            # for a boot of its own mode (a boot ended at each change of mode cost a boot each time).
            if batch and c.boot != batch[0].boot:
                continue
            length += len(c.id) + 1
            if length >= CMDLINE_SIZE:
                break
            batch.append(c)
        cutter = _CutAfterWriterFails(batch)
        start = time.monotonic()
        run = self._run([c.id for c in batch],
                        max(timeout_for(c, self.settings) for c in batch) + 0.05 * len(batch),
                        watch=cutter, boot=batch[0].boot, walks=False)
        # A boot cut short is killed wherever it is, perhaps in the middle of a line: the records are its whole lines.
        output = parse_output(run.output[:run.output.rfind("\n") + 1] if run.cut else run.output)
        per_case = output.cases()
        # The boot reached the cases up to the one it was cut after, or else the last that printed
        # a record; later ones wait for the next boot.
        reached = 1 + (batch.index(cutter.failed) if run.cut else
                       max((i for i, c in enumerate(batch) if c.id in per_case), default=0))
        share = (time.monotonic() - start) / reached
        judged = {}
        for i, c in enumerate(batch[:reached]):
            records = per_case.get(c.id)
            finished = records is not None and records.end and records.exception is None
            try:
                j = judge(c, records, run, self.settings, shares_run=finished, boot=output.boot)
                if not finished:
                    j.problems.extend(_run_problems(output))
                departed = walk_digest.departures(c, records)
                if output.garbage:
                    j.rerun = "its shared boot printed malformed records"
                elif departed:
                    j.rerun = (f"the walk digest of its steps {', '.join(map(str, departed))} is not that of the "
                               "declared tables: rerun with its walks in full")
                elif _known_bug_stands(j, finished):
                    j = _with_declared_walks(j, records)
                elif not j.ok:
                    j.rerun = (f"failed in a boot shared with {len(batch) - 1} other cases" if i > 0 else
                               "failed in a boot without walk records: rerun with its walks in full")
            except Exception as e:
                # Judging these records failed (the model's crosscheck, say): the case's fresh boot
                # is judged in its own item, so the error is that case's alone, not its boot's.
                j = Judgement(c, run=run, rerun=f"raised {type(e).__name__} when judged from its shared boot ({e})")
            j.wall, j.batch_size, j.fresh_boot = share, len(batch), i == 0
            judged[c.id] = j
        return judged


def _known_bug_stands(j, finished):
    """Whether a verdict from a shared boot that known bugs explain stands as a fresh boot's would,
    without a rerun (docs/integrity.md, "Known bugs in shared boots").  The rerun exists to tell
    what an earlier case of the boot left behind from the case's own behaviour; a known-bug
    verdict stands on the same footing as a pass does: the case ran whole (its end record, no
    exception, so the boot went on), every departing step is exactly what a known bug's variant
    of the model predicts over the case's declared tables and registers (the regs record and
    the case's walk digest checked against them: a case whose digest differs is rerun before
    this is asked), and nothing else departs.  A departure no known bug explains, or how a run ended,
    is still rerun on a fresh boot."""
    return finished and j.status == "known_bug" and not j.explained


def _with_declared_walks(j, records):
    """`j` with the walk of each step a known bug explains, as the report shows a failing step's:
    the declared tables' walk, which the case's walk digest showed the kernel read (a rerun would
    have printed the same descriptors)."""
    walks = declared.step_walks(j.case, records.regs.num("ttbr0") & ~0xFFFF)
    case = j.case
    steps = [replace(s, walk=tuple(describe_walk(
                [Record("walk", dict(zip(("stage", "level", "table", "index", "desc"), read)), "")
                 for read in walks[s.n]], case.regime, case.steps[s.n].va, case.stage2)))
             if s.explained and not s.walk and s.n in walks else s for s in j.steps]
    return replace(j, steps=steps)


class _CutAfterWriterFails:
    """qemu.run_kernel's `watch` for a shared boot: the reason to stop it, once a case that
    may write memory (_may_write_memory) has ended with records that fail it."""

    def __init__(self, cases):
        self.writers = {c.id: c for c in cases if _may_write_memory(c)}
        self.failed = None      # the case it stopped the boot after
        self.partial = ""       # the output's last line, until it is whole
        self.lines = []         # the records of the case running, up to its end record
        self._begin = f"{PREFIX}{PROTOCOL_VERSION} begin case="

    def __call__(self, text):
        *whole, self.partial = (self.partial + text).replace("\r\n", "\n").split("\n")
        for line in whole:
            self.lines.append(line)
            if not line.startswith(f"{PREFIX}{PROTOCOL_VERSION} end "):
                continue
            segment, self.lines = self.lines, []
            # Only a case that may write memory can cut the boot: the others' records wait for the boot's verdicts.
            if not any(s.startswith(self._begin) and s[len(self._begin):] in self.writers for s in segment):
                continue
            records = parse_output("\n".join(segment)).cases()
            for case_id, case_records in records.items():
                case = self.writers.get(case_id)
                if case is not None and case_records.end and (
                        case_records.error is not None or case_records.problems
                        or not all(v.ok for v in _step_verdicts(case, _observations(case, case_records)))):
                    self.failed = case
                    return f"{case_id} failed while it could write memory"
        return None


def _may_write_memory(case):
    """Whether a case's steps can change memory beyond its own frames and tables, which the kernel
    resets for each case, when the MMU translates them wrongly."""
    return (case.regime.ha or case.regime.hd or case.stage2 is not None and (case.stage2.ha or case.stage2.hd)
            or any(step.op in STORES or step.op == "fetch" for step in case.steps))


def _run_problems(output):
    """What is wrong with a run as a whole: malformed records, and QEMU's complaint if the kernel never booted."""
    problems = _garbage(output)
    if output.boot is None and output.other:
        # QEMU's own complaint (a bad option, a missing firmware) is the likeliest cause.
        problems.append("QEMU's last lines: " + " | ".join(output.other[-3:]))
    return problems


def _garbage(output):
    return [f"malformed record ({g.reason}): {g.line!r}" for g in output.garbage]
