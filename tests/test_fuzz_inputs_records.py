"""The record parser (harness/protocol.py, through its entry parse_output) and the runner's
verdict on what it parses (harness/runner.py judge), against a real run's output damaged as a
UART or a crashing kernel damages it: records cut mid-line, lines lost, duplicated, swapped,
interleaved with another case's, bytes flipped.  Every outcome is a verdict: never an exception
(run_one's own catch-all is not used here), and never a wrong pass: a case passes only when its
begin, regs, step and end records are exactly those of the valid run (in whatever order)."""
import dataclasses
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bad_inputs import BAD, ROOT, Escapes, budget, time_limit
from harness.cases import load_dir
from harness.protocol import PROTOCOL_VERSION, parse_output
from harness.qemu import run_kernel
from harness.runner import Runner, Settings, judge
from suite_run import cpu, qemu  # noqa: F401  (fixtures)

KERNEL = ROOT / "build" / "kernel.elf"
CORPUS = sorted((BAD / "records").glob("*.txt"))
# Cases of the plain boot mode whose every step is judged: a load, a store, an AT, a fault, a one_of.
WANTED = ("access_flag.af_clear[l1_block-load]", "at_par.memory_type[normal]", "at_par.unmapped[l1]",
          "blocks.first_last_byte[l2_2m]", "tlb.changed_then_tlbi_all[tlbi_vmalle1]")


@pytest.fixture(scope="module")
def valid_run(qemu, cpu):  # noqa: F811
    """(cases, run, settings) of one boot of a few cases that all pass."""
    if not KERNEL.is_file():
        pytest.skip(f"no {KERNEL}: run `make kernel`")
    by_id = {c.id: c for c in load_dir(ROOT / "cases")}
    cases = [by_id[i] for i in WANTED if i in by_id and by_id[i].boot == "el1" and by_id[i].xfail is None]
    cases = cases or [c for c in by_id.values() if c.boot == "el1" and c.xfail is None][:4]
    settings = Settings(qemu=qemu, cpu=cpu, kernel=KERNEL)
    run = run_kernel(qemu, cpu, KERNEL, [c.id for c in cases], timeout=30)
    output = parse_output(run.output)
    passing = [c for c in cases if judge(c, output.cases().get(c.id), run, settings, boot=output.boot).ok]
    if not passing:
        pytest.skip(f"none of {[c.id for c in cases]} passes on this QEMU")
    return passing, run, settings


def own_records(output, case_id):
    """The lines the verdict on case_id rests on: its begin, regs, step and end records (in any
    order: steps swapped are each still the kernel's, judged by their n)."""
    return sorted(r.line for r in output.records if r.case == case_id and r.event in ("begin", "regs", "step", "end"))


def damage(data, text):
    lines = text.split("\n")
    done = []
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["cut", "cut line", "drop", "duplicate", "swap", "interleave", "flip",
                                          "flip", "noise"]))
        done.append(kind)
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        if kind == "cut":                   # the run stops mid-record
            joined = "\n".join(lines)
            lines = joined[:data.draw(st.integers(0, len(joined)))].split("\n")
        elif kind == "cut line":            # a record loses its end, the next line goes on
            lines[i] = lines[i][:data.draw(st.integers(0, len(lines[i])))]
        elif kind == "drop":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "interleave":          # a line of another place, in the middle of this one
            j = data.draw(st.integers(0, len(lines) - 1))
            at = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + lines[j] + lines[i][at:]
        elif kind == "flip" and lines[i]:
            at = data.draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:at] + chr(data.draw(st.sampled_from([0x20, 0x3D, 0x30, 0x31, 0x66, 0x78, 0x0D, 0,
                                                                     0xFF, 0x2603]))) + lines[i][at + 1:]
        elif kind == "noise":
            lines.insert(i, data.draw(st.sampled_from(["MMUT", "MMUT 2", "MMUT 2 step", "MMUT 9 end case=x",
                                                       "\x1b[2J", "MMUT 2 step case=x n=99999999999999999999"])))
    return "\n".join(lines), done


def judgements(cases, run, settings, text):
    """{case id: Judgement} as Runner.run_one judges `text`, a boot's output."""
    runner = Runner(settings)
    bad_run = dataclasses.replace(run, output=text)
    runner._run = lambda *args, **kwargs: bad_run
    out = {}
    for case in cases:
        with time_limit(60):
            j = runner.run_one(case)
        # run_one turns an exception while judging into a failure of the case: here it is an escape.
        raised = [p for p in j.problems if p.startswith("judging this case's records raised")]
        assert not raised, raised[0]
        out[case.id] = j
    return out


def verdicts(cases, run, settings, text):
    """{case id: (passed, its own records)} as Runner.run_one judges `text`, a boot's output."""
    output = parse_output(text)
    return {case_id: (j.ok, own_records(output, case_id))
            for case_id, j in judgements(cases, run, settings, text).items()}


def test_the_valid_run_passes(valid_run):
    cases, run, settings = valid_run
    assert all(ok for ok, _ in verdicts(cases, run, settings, run.output).values())


def _step_lines(lines, case_id):
    """The indices of case_id's step records in a boot's output lines."""
    begin = lines.index(f"MMUT {PROTOCOL_VERSION} begin case={case_id}")
    end = next(i for i in range(begin, len(lines)) if lines[i].startswith(f"MMUT {PROTOCOL_VERSION} end "))
    return [i for i in range(begin, end) if lines[i].startswith(f"MMUT {PROTOCOL_VERSION} step ")], end


def test_a_lost_step_record_is_named_not_judged_on_the_wrong_step(valid_run):
    """Protocol 6: a step record is numbered by those before it, so after a lost one the later ones
    would stand on the wrong steps; the end record counts them, and where it did not arrive (the run
    cut short) a record without the value= or desc= its step reports is read as damaged."""
    cases, run, settings = valid_run
    lines = run.output.replace("\r\n", "\n").split("\n")
    for case in cases:
        steps, end = _step_lines(lines, case.id)
        lost = [line for i, line in enumerate(lines) if i != steps[0]]
        j = judgements([case], run, settings, "\n".join(lost))[case.id]
        assert not j.ok and any(p.startswith(f"the end record counts {len(steps)} step record") for p in j.problems), \
            j.problems
        # The same loss with the run cut before the case's end record: no count; a failure all the same.
        cut = judgements([case], run, settings, "\n".join(lost[:end - 1]))[case.id]
        assert not cut.ok, cut.problems
        # A step record cut short where its value= began.
        valued = next((i for i in steps if " value=" in lines[i]), None)
        if valued is not None:
            short = [line.split(" value=")[0] if i == valued else line for i, line in enumerate(lines)]
            j = judgements([case], run, settings, "\n".join(short))[case.id]
            assert not j.ok and any("record lacks the value= a " in p for p in j.problems), j.problems


def test_damaged_records_get_a_verdict_never_a_traceback_or_a_wrong_pass(valid_run, tmp_path):
    cases, run, settings = valid_run
    original = {c.id: own_records(parse_output(run.output), c.id) for c in cases}
    tally, escapes = Counter(), Escapes(tmp_path / "escapes")

    @budget(100)
    @given(st.data())
    def one(data):
        text, done = damage(data, run.output)
        try:
            for case_id, (ok, records) in verdicts(cases, run, settings, text).items():
                assert not ok or records == original[case_id], \
                    f"{case_id} passes though its records are not the valid run's:\n" + "\n".join(records)
                tally["passed" if ok else "failed"] += 1
        except Exception as e:      # the property: anything else is an escape, kept and told below
            tally["escaped"] += 1
            escapes.keep(e, "output.txt", text.encode("utf-8", "surrogateescape"), done)

    one()
    print(f"\n{sum(tally.values())} verdicts on damaged output: {tally['failed']} failed, {tally['passed']} passed "
          f"(records intact), {tally['escaped']} escapes")
    assert not escapes, escapes.report()


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_records_that_once_escaped_get_a_verdict(valid_run, path):
    cases, run, settings = valid_run
    assert not any(ok for ok, _ in verdicts(cases, run, settings, path.read_text()).values())
