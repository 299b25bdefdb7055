"""Run cases on the kernel and judge them: one boot per case, or many per boot.

The judgement of a case is its steps' verdicts plus what went wrong with the
run itself (a timeout, a crash, an unexpected exception, garbled records);
both end up in the report a user reads and in results/.
"""
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness import crosscheck, esr
from harness.kdefs import kernel_header, read_defines
from harness.protocol import parse_output
from harness.qemu import WALKS_OPTION, qemu_version, run_kernel, symbol_for
from harness.verdict import judge_step

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
    batch_size: int = 1

    @property
    def ok(self):
        return not self.problems and all(s.ok for s in self.steps)

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


def timeout_for(case, settings):
    """Seconds a run of `case` may take: its own `timeout`, or the harness's."""
    return case.timeout or settings.timeout


def _how_it_ended(run):
    """'QEMU exit status 3 (an unexpected exception)', 'QEMU killed by SIGSEGV', ..."""
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


def _with_model(verdicts, case, records, boot, qemu):
    """The step verdicts with the reference model's view of each step added (harness/crosscheck.py)."""
    views = crosscheck.step_views(case, records, boot, qemu_version(qemu))
    out = []
    for v in verdicts:
        view = views.get(v.n)
        if view is None:
            out.append(v)
            continue
        text = view.model
        if view.known_bugs:
            text += "; what QEMU did is " + " and ".join(
                f"its known bug {bug.name} ({bug.qemu}: {bug.does})" for bug in view.known_bugs)
        out.append(replace(v, model=text, walk=view.walk, problems=v.problems + view.problems))
    return out


def judge(case, records, run, settings, shares_run=False, boot=None):
    """Judge one case from its records (protocol.CaseRecords or None) in a run whose
    boot record is `boot`: by the case's expectations and by the reference model.
    A case that ended in a run it shares (batch mode) is not answerable for how that run ended."""
    j = Judgement(case, run=run, wall=run.wall)
    selftest = case.steps[-1].expect.kind if case.steps[-1].expect.kind in (*_SELFTEST_END, "hang") else None
    steps = records.steps if records else {}
    for n, step in enumerate(case.steps):
        if step.expect.kind in (*_SELFTEST_END, "hang"):
            continue
        j.steps.append(judge_step(n, step, steps.get(n)))
    j.steps = _with_model(j.steps, case, records, boot, settings.qemu)

    exception = records.exception if records else None
    if selftest == "hang":
        if not run.timed_out:
            j.problems.append(f"expected the kernel to hang until the timeout; it ended: {_how_it_ended(run)}")
        elif not (run.symbol or "").startswith("selftest_hang"):
            j.problems.append(f"expected the CPU in selftest_hang at the timeout; it was at {run.symbol or '?'}")
        return j
    if selftest:
        kind, status = _SELFTEST_END[selftest]
        if exception is None or exception.word("kind") != kind or run.exit_status != status:
            got = _describe_exception(exception, settings.kernel) if exception else "no exception record"
            j.problems.append(f"expected an {kind} exception reported with exit status {status}; "
                              f"got {got}, exit status {run.exit_status}")
        return j

    if run.timed_out:
        where = f"PC {run.pc:#x} ({run.symbol or 'no symbol'})" if run.pc is not None else "PC unknown"
        j.problems.append(f"QEMU did not finish within {timeout_for(case, settings):g} s and was stopped; "
                          f"the CPU was at {where}; the case's records stop {_records_stop(records)}")
    if exception is not None:
        j.problems.append(f"{_describe_exception(exception, settings.kernel)}; {_how_it_ended(run)}")
    if records and records.error is not None:
        e = records.error
        detail = ", ".join(f"{k}={v}" for k, v in e.fields.items() if k != "case")
        j.problems.append(f"the kernel could not build this case's tables: {detail}")
    if not run.timed_out and exception is None:
        if records is None or not records.begin:
            j.problems.append(f"the kernel never started this case ({_how_it_ended(run)})")
        elif not records.end:
            j.problems.append(f"the case's records stop {_records_stop(records)}, "
                              f"before its end record: {_how_it_ended(run)}")
        elif run.signal is not None and not shares_run:
            j.problems.append(f"{_how_it_ended(run)} after the case's end record")
    if records is not None:
        j.problems.extend(records.problems)
    if run.exit_status not in (None, EXIT["EXIT_OK"]) and not j.problems and not shares_run:
        j.problems.append(_how_it_ended(run))
    return j


class Runner:
    """Runs cases, one boot each, or (batch) many per boot with results cached."""

    def __init__(self, settings):
        self.settings = settings
        self._cache = {}            # case id -> Judgement (batch mode)

    def boot(self):
        """A boot that runs no case: the CPU's ID registers, and the boot floor's time."""
        s = self.settings
        run = run_kernel(s.qemu, s.cpu, s.kernel, [], timeout=s.timeout)
        return run, parse_output(run.output)

    def run_one(self, case):
        s = self.settings
        run = run_kernel(s.qemu, s.cpu, s.kernel, [case.id], timeout=timeout_for(case, s))
        output = parse_output(run.output)
        j = judge(case, output.cases().get(case.id), run, s, boot=output.boot)
        j.problems.extend(_garbage(output))
        if output.boot is None and output.other:
            # QEMU's own complaint (a bad option, a missing firmware) is the likeliest cause.
            j.problems.append("QEMU's last lines: " + " | ".join(output.other[-3:]))
        return j

    def run_batch(self, case, following):
        """Judge `case`, booting once for it and every not yet judged case after it
        (as many as the kernel's command line holds).  The case the kernel did not
        finish in the batch is run again on its own."""
        if case.id in self._cache:
            return self._cache.pop(case.id)
        batch, length = [], len(WALKS_OPTION) + 1
        for c in [case] + [c for c in following if c.id not in self._cache]:
            length += len(c.id) + 1
            if length >= CMDLINE_SIZE:
                break
            batch.append(c)
        s = self.settings
        start = time.monotonic()
        run = run_kernel(s.qemu, s.cpu, s.kernel, [c.id for c in batch],
                         timeout=max(timeout_for(c, s) for c in batch) + 0.05 * len(batch))
        output = parse_output(run.output)
        per_case = output.cases()
        done = [c for c in batch if c.id in per_case and per_case[c.id].end and per_case[c.id].exception is None]
        share = (time.monotonic() - start) / max(len(done), 1)
        for c in done:
            j = judge(c, per_case[c.id], run, s, shares_run=True, boot=output.boot)
            j.wall, j.batch_size = share, len(batch)
            self._cache[c.id] = j
        # The boot stopped in the first case it did not finish: run that one alone now, as a
        # batch starting with it would only stop again (a hang: after another whole timeout).
        stopped = next((c for c in batch if c.id not in self._cache), None)
        if stopped is not None:
            self._cache[stopped.id] = self.run_one(stopped)
        return self._cache.pop(case.id)


def _garbage(output):
    return [f"malformed record ({g.reason}): {g.line!r}" for g in output.garbage]
