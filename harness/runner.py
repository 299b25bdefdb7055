"""Run cases on the kernel and judge them: one boot per case, or many per boot.

The judgement of a case is its steps' verdicts plus what went wrong with the
run itself (a timeout, a crash, an unexpected exception, garbled records);
both end up in the report a user reads and in results/.
"""
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import esr
from harness.protocol import parse_output
from harness.qemu import run_kernel, symbol_for
from harness.verdict import judge_step

# Exit statuses (kernel/exit_status.h), named for messages.
from harness.kdefs import kernel_header, read_defines

EXIT = read_defines(kernel_header("exit_status.h"))
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


def _describe_exception(record, kernel):
    syndrome = esr.decode_esr(record.num("esr"))
    where = symbol_for(kernel, record.num("elr")) or "?"
    return (f"the kernel took an {record.word('kind')} exception: {esr.describe(syndrome)}, "
            f"ELR {record.num('elr'):#x} ({where}), FAR {record.num('far'):#x}, SPSR {record.num('spsr'):#x}")


def judge(case, records, run, settings):
    """Judge one case from its records (protocol.CaseRecords or None) in a run."""
    j = Judgement(case, run=run, wall=run.wall)
    selftest = case.steps[-1].expect.kind if case.steps[-1].expect.kind in (*_SELFTEST_END, "hang") else None
    steps = records.steps if records else {}
    for n, step in enumerate(case.steps):
        if step.expect.kind in (*_SELFTEST_END, "hang"):
            continue
        j.steps.append(judge_step(n, step, steps.get(n)))

    exception = records.exception if records else None
    if selftest == "hang":
        if not run.timed_out:
            j.problems.append(f"expected the kernel to hang until the timeout; it exited with status {run.exit_status}")
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
        j.problems.append(f"QEMU did not finish within {settings.timeout:g} s and was stopped; the CPU was at {where}")
    if exception is not None:
        j.problems.append(_describe_exception(exception, settings.kernel))
    if records and records.error is not None:
        e = records.error
        detail = ", ".join(f"{k}={v}" for k, v in e.fields.items() if k != "case")
        j.problems.append(f"the kernel could not build this case's tables: {detail}")
    if records is None or not records.begin:
        if not run.timed_out and exception is None:
            j.problems.append(f"the kernel never started this case (QEMU exit status {run.exit_status})")
    elif not records.end and not run.timed_out and exception is None:
        j.problems.append("the case's records stop before its end record (QEMU exited or output was truncated)")
    if records is not None:
        j.problems.extend(records.problems)
    if run.exit_status not in (None, EXIT["EXIT_OK"]) and not j.problems:
        text = _EXIT_TEXT.get(run.exit_status, "QEMU itself failed")
        j.problems.append(f"QEMU exited with status {run.exit_status} ({text})")
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
        run = run_kernel(s.qemu, s.cpu, s.kernel, [case.id], timeout=s.timeout)
        output = parse_output(run.output)
        j = judge(case, output.cases().get(case.id), run, s)
        j.problems.extend(_garbage(output))
        return j

    def run_batch(self, case, following):
        """Judge `case`, booting once for it and every not yet judged case after it.
        A case the kernel did not finish in the batch is run again on its own."""
        if case.id in self._cache:
            return self._cache.pop(case.id)
        batch = [case] + [c for c in following if c.id not in self._cache]
        s = self.settings
        start = time.monotonic()
        run = run_kernel(s.qemu, s.cpu, s.kernel, [c.id for c in batch],
                         timeout=s.timeout + 0.05 * len(batch))
        output = parse_output(run.output)
        per_case = output.cases()
        done = [c for c in batch if c.id in per_case and per_case[c.id].end and per_case[c.id].exception is None]
        share = (time.monotonic() - start) / max(len(done), 1)
        for c in done:
            j = judge(c, per_case[c.id], run, s)
            # The run's own status speaks for the case that ended it, not for these.
            j.problems = [p for p in j.problems if not p.startswith("QEMU exited")]
            j.wall, j.batch_size = share, len(batch)
            self._cache[c.id] = j
        if case.id in self._cache:
            return self._cache.pop(case.id)
        return self.run_one(case)


def _garbage(output):
    return [f"malformed record ({g.reason}): {g.line!r}" for g in output.garbage]
