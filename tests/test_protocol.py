"""harness/protocol.py: record lines to Records, garbage and other lines, per-case grouping."""
import re
from pathlib import Path

import pytest

from harness.protocol import EVENTS, PROTOCOL_VERSION, ProtocolError, parse_output, parse_record

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"

BOOT = "MMUT 6 boot el=1 midr=0xf0510 mmfr0=0x1 mmfr1=0x2 mmfr2=0x3 isar0=0x4 cases=2"


def doc_example():
    """The example run in docs/protocol.md: the indented MMUT lines after "Example:"."""
    example = DOC.read_text().split("Example:", 1)[1]
    lines = re.findall(r"^ {4}(MMUT .*)$", example, re.MULTILINE)
    assert lines
    return "\n".join(lines) + "\n"


def test_version_comes_from_record_h():
    assert PROTOCOL_VERSION == 6


def test_doc_example():
    out = parse_output(doc_example())
    assert out.garbage == [] and out.other == []
    assert out.boot.num("el") == 1 and out.boot.num("mmfr2") == 0x1021011010011011
    assert out.exit_status == 0
    demo = out.cases()["demo"]
    assert demo.begin and demo.end and demo.error is None and demo.exception is None
    assert demo.problems == []
    assert demo.regs.num("tcr") == 0x185B5103510 and demo.regs.num("ttbr1") == 0x400A1000
    assert sorted(demo.walks) == [0, 3]
    before, after = demo.walks[0]["before"], demo.walks[0]["after"]
    assert [w.num("level") for w in before] == [0, 1, 2, 3] == [w.num("level") for w in after]
    assert (before[-1].num("desc"), after[-1].num("desc")) == (0x8000041000387, 0x8000041000707)
    assert [(w.num("table"), w.num("index")) for w in before] == \
        [(0x400A0000, 0), (0x400A2000, 2), (0x400A6000, 0), (0x400A7000, 0)]
    assert demo.walks[3]["after"][-1].num("desc") == 0 and demo.walks[3]["before"][-1].num("desc") == 0
    assert sorted(demo.steps) == [0, 3]
    assert demo.steps[0].word("result") == "ok" and "value" not in demo.steps[0].fields
    assert (demo.steps[0].num("walks"), demo.steps[0].num("after")) == (4, 4)
    fault = demo.steps[3]
    assert (fault.num("esr"), fault.num("far"), fault.num("elr")) == (0x96000007, 0x80001000, 0x400810F0)


def test_crlf_and_other_lines():
    text = "QEMU noise\r\n" + BOOT + "\r\nMMUT 6 exit status=3\r\n"
    out = parse_output(text)
    assert out.other == ["QEMU noise"]
    assert out.boot.line == BOOT
    assert out.exit_status == 3 and out.garbage == []


def test_truncated_last_line():
    whole = parse_output(BOOT + "\nMMUT 6 begin case=a")
    assert [r.event for r in whole.records] == ["boot", "begin"] and whole.garbage == []
    cut = parse_output(BOOT + "\nMMUT 6 step n=0 va=0x1000 result=fau")
    assert [g.line for g in cut.garbage] == ["MMUT 6 step n=0 va=0x1000 result=fau"]
    assert "result=fau" in cut.garbage[0].reason


@pytest.mark.parametrize("line, reason", [
    ("MMUT 1 begin case=a", "protocol version '1', expected 6"),
    ("MMUT 2 begin case=a", "protocol version '2', expected 6"),
    ("MMUT x begin case=a", "protocol version 'x', expected 6"),
    ("MMUT 6", "no event"),
    ("MMUT  2", "no event"),
    ("MMUT 6 reboot case=a", "unknown event 'reboot'"),
    ("MMUT 6 step n=0 va=0x1000 result=fault esr=0x96000007", "step lacks elr, far"),
    ("MMUT 6 step n=0 va=0x1000", "step lacks result"),
    ("MMUT 6 step n=0 va=0x1000 result=par", "step lacks par"),
    ("MMUT 6 step n=0 va=0x1000 result=ok par=0x1", "step does not take par"),
    ("MMUT 6 error what=map case=a", "error lacks error, index"),
    ("MMUT 6 begin case=a extra", "malformed key=value 'extra'"),
    ("MMUT 6 begin case=a=b", "malformed key=value 'case=a=b'"),
    ("MMUT 6 begin case=", "malformed key=value 'case='"),
    ("MMUT 6 begin case=a case=b", "key 'case' repeated"),
    ("MMUT 6 step n=0 va=1000 result=ok", "va=1000: expected 0x"),
    ("MMUT 6 step n=0 va=0x0g result=ok", "va=0x0g: expected 0x"),
    ("MMUT 6 step n=0 va=0x01 result=ok", "va=0x01: expected 0x"),
    ("MMUT 6 step n=0 va=0xABC result=ok", "va=0xABC: expected 0x"),
    ("MMUT 6 step n=0x1 va=0x0 result=ok", "n=0x1: expected a decimal number"),
    ("MMUT 6 step n=0 va=0x0 result=maybe", "result=maybe: expected one of error, fault, ok, par"),
    ("MMUT 6 exception kind=odd vector=0 esr=0x0 far=0x0 elr=0x0 spsr=0x0", "kind=odd: expected one of"),
])
def test_malformed(line, reason):
    with pytest.raises(ProtocolError, match=re.escape(reason)):
        parse_record(line)
    out = parse_output(line + "\n")
    assert out.records == [] and len(out.garbage) == 1 and out.garbage[0].line == line


def test_parse_record_needs_the_prefix():
    with pytest.raises(ProtocolError, match="not a record"):
        parse_record("1 begin case=a")


def test_error_variants():
    build = parse_record("MMUT 6 error case=a what=map index=3 error=occupied")
    assert (build.case, build.word("what"), build.num("index"), build.word("error")) == \
        ("a", "map", 3, "occupied")
    assert parse_record("MMUT 6 error what=unknown_case case=nope").case == "nope"
    assert parse_record("MMUT 6 error what=cmdline_too_long").case is None
    assert parse_record("MMUT 6 error what=bad_range range=#3-2").word("range") == "#3-2"
    bad = parse_record("MMUT 6 error what=bad_blob field=steps index=7")
    assert (bad.word("field"), bad.num("index"), bad.case) == ("steps", 7, None)
    assert "index" not in parse_record("MMUT 6 error what=bad_blob field=magic").fields
    with pytest.raises(ProtocolError, match="field=padding: expected one of"):
        parse_record("MMUT 6 error what=bad_blob field=padding")


def test_typed_accessors():
    record = parse_record("MMUT 6 begin case=a")
    with pytest.raises(TypeError):
        record.num("case")
    with pytest.raises(KeyError):
        record.word("what")


EXCEPTION = "MMUT 6 exception kind=unexpected vector=0 esr=0xf2000000 far=0x0 elr=0x40081000 spsr=0x3c5"


def test_exception_naming_its_case():
    out = parse_output("\n".join([BOOT, "MMUT 6 begin case=a", EXCEPTION + " case=a", ""]))
    a = out.cases()["a"]
    assert a.begin and not a.end and a.exception.word("kind") == "unexpected"
    assert a.exception.num("esr") == 0xF2000000


def test_exception_without_case_goes_to_the_open_case():
    out = parse_output("\n".join([BOOT, "MMUT 6 begin case=a", "MMUT 6 end case=a steps=0",
                                  "MMUT 6 begin case=b", EXCEPTION, ""]))
    cases = out.cases()
    assert cases["a"].exception is None
    assert cases["b"].exception.line == EXCEPTION
    assert out.exit_status is None


def test_exception_outside_cases_is_not_attached():
    out = parse_output("\n".join([BOOT, "MMUT 6 begin case=a", "MMUT 6 end case=a steps=0", EXCEPTION, ""]))
    assert out.cases()["a"].exception is None
    assert out.records[-1].event == "exception"


def test_unknown_case_error_is_attached():
    out = parse_output("MMUT 6 error what=unknown_case case=nope\nMMUT 6 exit status=1\n")
    nope = out.cases()["nope"]
    assert not nope.begin and nope.error.word("what") == "unknown_case" and nope.problems == []


def test_problems():
    out = parse_output("\n".join([
        "MMUT 6 step n=0 va=0x0 result=ok",
        "MMUT 6 begin case=a",
        "MMUT 6 step n=1 va=0x0 result=ok",
        "MMUT 6 step n=1 va=0x8 result=ok",
        "MMUT 6 end case=a steps=2",
        "MMUT 6 end case=a steps=2",
        "MMUT 6 regs tcr=0x1 mair=0x2 sctlr=0x3 ttbr0=0x4 ttbr1=0x5",
    ]))
    a = out.cases()["a"]
    assert a.problems == [
        "repeated: MMUT 6 step n=1 va=0x8 result=ok",
        "repeated: MMUT 6 end case=a steps=2",
        "outside begin..end: MMUT 6 end case=a steps=2",
    ]
    assert a.steps[1].num("va") == 0x8
    # A case's own records name no case: outside a case's begin..end they belong to none.
    assert [(g.line, g.reason) for g in out.garbage] == [
        ("MMUT 6 step n=0 va=0x0 result=ok", "a step record outside any case's begin..end"),
        ("MMUT 6 regs tcr=0x1 mair=0x2 sctlr=0x3 ttbr0=0x4 ttbr1=0x5", "a regs record outside any case's begin..end"),
    ]


def test_a_case_s_records_belong_to_the_case_begun():
    out = parse_output("\n".join([
        "MMUT 6 begin case=a", "MMUT 6 step va=0x0 result=ok", "MMUT 6 end steps=1 walk=0x1234",
        "MMUT 6 begin case=b", "MMUT 6 step n=0 va=0x8 result=ok", "MMUT 6 end case=b steps=1",
    ]))
    cases = out.cases()
    assert cases["a"].steps[0].case == "a" and cases["a"].walk_digest == 0x1234 and cases["a"].end
    assert cases["b"].steps[0].case == "b" and cases["b"].walk_digest is None
    assert out.garbage == [] and cases["a"].problems == cases["b"].problems == []


WALK = "MMUT 6 walk n=0 when=before level=-1 table=0x400a0000 index=15 desc=0x400a7003"


def test_walk_and_regs_records():
    walk = parse_record(WALK)
    assert (walk.num("level"), walk.num("table"), walk.num("index"), walk.num("desc"), walk.word("when")) == \
        (-1, 0x400A0000, 15, 0x400A7003, "before")
    regs = parse_record("MMUT 6 regs tcr=0x5b5103510 mair=0xff00 sctlr=0x30d01805 ttbr0=0x400a0000 ttbr1=0x0")
    assert regs.num("sctlr") == 0x30D01805 and regs.num("ttbr1") == 0


@pytest.mark.parametrize("line, reason", [
    (WALK.replace("level=-1", "level=+1"), "level=+1: expected a signed decimal number"),
    (WALK.replace("level=-1", "level=-0"), "level=-0: expected a signed decimal number"),
    (WALK.replace("level=-1", "level=01"), "level=01: expected a signed decimal number"),
    (WALK.replace("level=-1", "level=0x1"), "level=0x1: expected a signed decimal number"),
    (WALK.replace("index=15", "index=-1"), "index=-1: expected a decimal number"),
    (WALK.replace("when=before", "when=during"), "when=during: expected one of after, before"),
    (WALK.replace(" desc=0x400a7003", ""), "walk lacks desc"),
    (WALK + " va=0x0", "walk does not take va"),
    (WALK + " case=a", "walk does not take case"),
    ("MMUT 6 regs tcr=0x0 mair=0x0 sctlr=0x0 ttbr0=0x0", "regs lacks ttbr1"),
    ("MMUT 6 regs tcr=0x0 mair=0x0 sctlr=0x0 ttbr0=0x0 ttbr1=0x0 level=1", "regs does not take level"),
    ("MMUT 6 error what=unknown_option", "error lacks option"),
])
def test_malformed_records(line, reason):
    with pytest.raises(ProtocolError, match=re.escape(reason)):
        parse_record(line)


def test_walks_group_by_step_and_when_in_walk_order():
    def walk(n, when, level, desc):
        return f"MMUT 6 walk n={n} when={when} level={level} table=0x1000 index=0 desc={desc:#x}"
    out = parse_output("\n".join([
        "MMUT 6 begin case=a",
        "MMUT 6 regs tcr=0x1 mair=0x2 sctlr=0x3 ttbr0=0x4 ttbr1=0x5",
        walk(0, "before", 2, 3), walk(0, "before", 3, 0x403),
        "MMUT 6 step n=0 va=0x0 walks=2 after=2 result=ok",
        walk(0, "after", 2, 3), walk(0, "after", 3, 0x407),
        walk(1, "before", 2, 0),
        "MMUT 6 step n=1 va=0x0 walks=1 result=ok",
        "MMUT 6 regs tcr=0x1 mair=0x2 sctlr=0x3 ttbr0=0x4 ttbr1=0x5",
        "MMUT 6 end case=a steps=2",
    ]))
    a = out.cases()["a"]
    assert a.regs.num("ttbr0") == 4
    assert [w.num("desc") for w in a.walks[0]["before"]] == [3, 0x403]
    assert [w.num("desc") for w in a.walks[0]["after"]] == [3, 0x407]
    assert [w.num("level") for w in a.walks[1]["before"]] == [2] and a.walks[1]["after"] == []
    assert a.problems == ["repeated: MMUT 6 regs tcr=0x1 mair=0x2 sctlr=0x3 ttbr0=0x4 ttbr1=0x5"]


# A case of two access steps reported in full: step 0 walks nothing (walks=0), step 1 reads three
# descriptors before it and three after it.
WHOLE = ["MMUT 6 begin case=a", "MMUT 6 regs tcr=0x1 mair=0x2 sctlr=0x3 ttbr0=0x4 ttbr1=0x5",
         "MMUT 6 step n=0 va=0x0 walks=0 result=ok",
         *(f"MMUT 6 walk n=1 when=before level={lv} table=0x1000 index=0 desc=0x3" for lv in (1, 2, 3)),
         "MMUT 6 step n=1 va=0x0 walks=3 after=3 result=ok",
         *(f"MMUT 6 walk n=1 when=after level={lv} table=0x1000 index=0 desc=0x3" for lv in (1, 2, 3)),
         "MMUT 6 end case=a steps=2"]


def test_a_lost_walk_record_is_a_problem_not_a_shorter_walk():
    """Audit finding 7: a walk record lost on the way read as a walk that read fewer descriptors,
    and all of a step's lost as "the walk read nothing".  The step record says how many came."""
    assert parse_output("\n".join(WHOLE)).cases()["a"].problems == []
    walk_lines = [i for i, line in enumerate(WHOLE) if " walk " in line]
    for lost in ([walk_lines[0]], walk_lines[:3], [walk_lines[-1]], walk_lines):
        damaged = [line for i, line in enumerate(WHOLE) if i not in lost]
        problems = parse_output("\n".join(damaged)).cases()["a"].problems
        assert problems and all("arrived (records lost or garbled)" in p for p in problems), (lost, problems)
    # A walk record no step record announces (a step record garbled into the digest form, say).
    extra = WHOLE[:3] + ["MMUT 6 walk n=0 when=before level=0 table=0x1000 index=0 desc=0x0"] + WHOLE[3:]
    assert parse_output("\n".join(extra)).cases()["a"].problems == [
        "step 0's record says 0 walk records before it; 1 arrived (records lost or garbled): rerun it"]
    digest = [line.replace(" walks=3 after=3", "") for line in WHOLE]
    assert "announces no walk records before it; 3 arrived" in parse_output("\n".join(digest)).cases()["a"].problems[0]


def test_every_record_line_of_the_doc_parses_and_every_event_is_shown():
    lines = re.findall(r"^ {4}(MMUT [0-9].*)$", DOC.read_text(), re.MULTILINE)     # not the format line
    out = parse_output("\n".join(lines))
    assert out.garbage == []
    assert {r.event for r in out.records} == set(EVENTS)
    errors = {r.word("what") for r in out.records if r.event == "error"}
    assert errors == set(EVENTS["error"].variants) - {"root", "kernel", "table", "raw", "s2root", "s2kernel", "s2raw"}


def test_descriptor_steps_and_their_errors():
    """The step records of steps that change translations (docs/protocol.md)."""
    written = parse_record("MMUT 6 step n=3 va=0x80000000 result=ok desc=0x41001707")
    assert written.num("desc") == 0x41001707
    assert parse_record("MMUT 6 step n=4 va=0x0 result=ok").fields.get("desc") is None
    for error in ("occupied", "not_faulted", "kernel_high"):
        assert parse_record(f"MMUT 6 step n=5 va=0x1000 result=error error={error}").word("error") == error
    with pytest.raises(ProtocolError, match="step lacks error"):
        parse_record("MMUT 6 step n=5 va=0x1000 result=error")


# A case as the kernel prints it (docs/protocol.md, "Compact records"), and each record with every key.
COMPACT = ["MMUT 6 begin case=a",
           "MMUT 6 regs tcr=0x1 mair=0x2 sctlr=0x3 ttbr0=0x4 ttbr1=0x5",
           "MMUT 6 step va=0x1000 result=ok",
           "MMUT 6 step result=ok value=0x7",
           "MMUT 6 step va=0x2000 result=fault esr=0x96000007 elr=0x40080000",
           "MMUT 6 step n=4 result=fault far=0x2008",
           "MMUT 6 step va=0x3000 result=fault esr=0x9600000f",
           "MMUT 6 walk level=3 table=0x1000 index=0 desc=0x3",
           "MMUT 6 step walks=1 after=1 result=par par=0x800",
           "MMUT 6 walk when=after level=3 table=0x1000 index=0 desc=0x403",
           "MMUT 6 end steps=6 walk=0x99",
           "MMUT 6 begin case=b",
           "MMUT 6 regs ttbr0=0x8",
           "MMUT 6 step va=0x1000 result=fault esr=0x96000007 elr=0x40080000",
           "MMUT 6 end steps=1"]


def test_compact_records_read_as_if_every_key_were_printed():
    out = parse_output("\n".join(COMPACT))
    assert out.garbage == []
    a, b = out.cases()["a"], out.cases()["b"]
    assert a.problems == b.problems == [] and a.end and b.end
    steps = [{k: v for k, v in r.fields.items() if k != "case"} for r in a.steps.values()]
    assert steps == [
        {"n": 0, "va": 0x1000, "result": "ok"},
        {"n": 1, "va": 0x1000, "result": "ok", "value": 7},
        {"n": 2, "va": 0x2000, "result": "fault", "esr": 0x96000007, "far": 0x2000, "elr": 0x40080000},
        {"n": 4, "va": 0x2000, "result": "fault", "esr": 0x96000007, "far": 0x2008, "elr": 0x40080000},
        {"n": 5, "va": 0x3000, "result": "fault", "esr": 0x9600000F, "far": 0x3000, "elr": 0x40080000},
        {"n": 6, "va": 0x3000, "result": "par", "par": 0x800, "walks": 1, "after": 1},
    ]
    assert [w.num("desc") for w in a.walks[6]["before"]] == [3] and [w.num("desc") for w in a.walks[6]["after"]] == [0x403]
    assert a.walk_digest == 0x99 and b.walk_digest is None
    # The registers carry over from case to case (the boot's last regs record); a fault's esr and elr do not.
    assert b.regs.fields == {"case": "b", "tcr": 1, "mair": 2, "sctlr": 3, "ttbr0": 8, "ttbr1": 5}
    assert b.steps[0].num("n") == 0 and b.steps[0].num("far") == 0x1000


@pytest.mark.parametrize("lines, reason", [
    (["MMUT 6 begin case=a", "MMUT 6 regs tcr=0x1 mair=0x2 sctlr=0x3 ttbr0=0x4"], "regs lacks ttbr1"),
    (["MMUT 6 begin case=a", "MMUT 6 step result=ok"], "step lacks va"),
    (["MMUT 6 begin case=a", "MMUT 6 step va=0x0"], "step lacks result"),
    (["MMUT 6 begin case=a", "MMUT 6 step va=0x0 result=fault esr=0x1"], "step lacks elr"),
    # A fault's esr and elr carry over within a case only.
    (["MMUT 6 begin case=a", "MMUT 6 step va=0x0 result=fault esr=0x1 elr=0x2", "MMUT 6 end steps=1",
      "MMUT 6 begin case=b", "MMUT 6 step va=0x0 result=fault"], "step lacks elr, esr"),
    (["MMUT 6 end steps=0"], "end lacks case"),
    (["MMUT 6 begin case=a", "MMUT 6 end"], "end lacks steps"),
    (["MMUT 6 begin case=a", "MMUT 6 walk when=after level=3 table=0x0 index=0 desc=0x0"], "n=-1: expected a decimal"),
])
def test_a_key_left_out_that_no_record_before_gives_is_garbage(lines, reason):
    out = parse_output("\n".join(lines))
    assert out.garbage[-1].line == lines[-1] and reason in out.garbage[-1].reason


def test_a_lost_or_repeated_step_record_is_named_not_judged_on_the_wrong_step():
    """A step record leaves out its n where it is the previous one's + 1, so after a lost (or
    repeated) step record the later ones would stand on the wrong steps: the end record counts
    the case's step records, and where they differ none is placed on a step."""
    step_lines = [i for i, line in enumerate(COMPACT[:11]) if " step " in line]
    for lost in step_lines:
        out = parse_output("\n".join(line for i, line in enumerate(COMPACT) if i != lost))
        a, got = out.cases()["a"], 5 - len(out.garbage)    # the first's loss leaves the next without its va
        assert a.problems == [f"the end record counts 6 step records; {got} arrived (records lost or repeated): "
                              "no step record can be placed on its step: rerun it"], lost
        assert a.steps == {} and a.walks == {}
    repeated = COMPACT[:4] + COMPACT[3:]
    cases = parse_output("\n".join(repeated)).cases()
    assert cases["a"].problems == ["the end record counts 6 step records; 7 arrived (records lost or repeated): "
                                   "no step record can be placed on its step: rerun it"]
    assert cases["b"].problems == [] and cases["b"].steps    # the next case counts its own
