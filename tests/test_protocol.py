"""harness/protocol.py: record lines to Records, garbage and other lines, per-case grouping."""
import re
from pathlib import Path

import pytest

from harness.protocol import PROTOCOL_VERSION, ProtocolError, parse_output, parse_record

DOC = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"

BOOT = "MMUT 1 boot el=1 midr=0xf0510 mmfr0=0x1 mmfr1=0x2 mmfr2=0x3 cases=2"


def doc_example():
    """The example run in docs/protocol.md: the indented MMUT lines after "Example:"."""
    example = DOC.read_text().split("Example:", 1)[1]
    lines = re.findall(r"^ {4}(MMUT .*)$", example, re.MULTILINE)
    assert lines
    return "\n".join(lines) + "\n"


def test_version_comes_from_record_h():
    assert PROTOCOL_VERSION == 1


def test_doc_example():
    out = parse_output(doc_example())
    assert out.garbage == [] and out.other == []
    assert out.boot.num("el") == 1 and out.boot.num("mmfr2") == 0x1021011010011011
    assert out.exit_status == 0
    demo = out.cases()["demo"]
    assert demo.begin and demo.end and demo.error is None and demo.exception is None
    assert demo.problems == []
    assert sorted(demo.steps) == [0, 1, 3, 5]
    assert demo.steps[0].word("result") == "ok" and "value" not in demo.steps[0].fields
    assert demo.steps[1].num("value") == 0xDEADBEEF
    fault = demo.steps[3]
    assert (fault.num("esr"), fault.num("far"), fault.num("elr")) == (0x96000007, 0x80001000, 0x400810F0)
    assert demo.steps[5].num("par") == 0xFF00000041000B80


def test_crlf_and_other_lines():
    text = "QEMU noise\r\n" + BOOT + "\r\nMMUT 1 exit status=3\r\n"
    out = parse_output(text)
    assert out.other == ["QEMU noise"]
    assert out.boot.line == BOOT
    assert out.exit_status == 3 and out.garbage == []


def test_truncated_last_line():
    whole = parse_output(BOOT + "\nMMUT 1 begin case=a")
    assert [r.event for r in whole.records] == ["boot", "begin"] and whole.garbage == []
    cut = parse_output(BOOT + "\nMMUT 1 step case=a n=0 va=0x1000 result=fau")
    assert [g.line for g in cut.garbage] == ["MMUT 1 step case=a n=0 va=0x1000 result=fau"]
    assert "result=fau" in cut.garbage[0].reason


@pytest.mark.parametrize("line, reason", [
    ("MMUT 2 begin case=a", "protocol version '2', expected 1"),
    ("MMUT x begin case=a", "protocol version 'x', expected 1"),
    ("MMUT 1", "no event"),
    ("MMUT  1", "no event"),
    ("MMUT 1 reboot case=a", "unknown event 'reboot'"),
    ("MMUT 1 step case=a n=0 va=0x1000 result=fault esr=0x96000007", "step lacks elr, far"),
    ("MMUT 1 step case=a n=0 va=0x1000", "step lacks result"),
    ("MMUT 1 step case=a n=0 va=0x1000 result=par", "step lacks par"),
    ("MMUT 1 step case=a n=0 va=0x1000 result=ok par=0x1", "step does not take par"),
    ("MMUT 1 error what=map case=a", "error lacks error, index"),
    ("MMUT 1 begin case=a extra", "malformed key=value 'extra'"),
    ("MMUT 1 begin case=a=b", "malformed key=value 'case=a=b'"),
    ("MMUT 1 begin case=", "malformed key=value 'case='"),
    ("MMUT 1 begin case=a case=b", "key 'case' repeated"),
    ("MMUT 1 step case=a n=0 va=1000 result=ok", "va=1000: expected 0x"),
    ("MMUT 1 step case=a n=0 va=0x0g result=ok", "va=0x0g: expected 0x"),
    ("MMUT 1 step case=a n=0 va=0x01 result=ok", "va=0x01: expected 0x"),
    ("MMUT 1 step case=a n=0 va=0xABC result=ok", "va=0xABC: expected 0x"),
    ("MMUT 1 step case=a n=0x1 va=0x0 result=ok", "n=0x1: expected a decimal number"),
    ("MMUT 1 step case=a n=0 va=0x0 result=maybe", "result=maybe: expected one of fault, ok, par"),
    ("MMUT 1 exception kind=odd vector=0 esr=0x0 far=0x0 elr=0x0 spsr=0x0", "kind=odd: expected one of"),
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
    build = parse_record("MMUT 1 error case=a what=map index=3 error=occupied")
    assert (build.case, build.word("what"), build.num("index"), build.word("error")) == \
        ("a", "map", 3, "occupied")
    assert parse_record("MMUT 1 error what=unknown_case case=nope").case == "nope"
    assert parse_record("MMUT 1 error what=cmdline_too_long").case is None
    assert parse_record("MMUT 1 error what=bad_range range=#3-2").word("range") == "#3-2"
    bad = parse_record("MMUT 1 error what=bad_blob field=steps index=7")
    assert (bad.word("field"), bad.num("index"), bad.case) == ("steps", 7, None)
    assert "index" not in parse_record("MMUT 1 error what=bad_blob field=magic").fields
    with pytest.raises(ProtocolError, match="field=padding: expected one of"):
        parse_record("MMUT 1 error what=bad_blob field=padding")


def test_typed_accessors():
    record = parse_record("MMUT 1 begin case=a")
    with pytest.raises(TypeError):
        record.num("case")
    with pytest.raises(KeyError):
        record.word("what")


EXCEPTION = "MMUT 1 exception kind=unexpected vector=0 esr=0xf2000000 far=0x0 elr=0x40081000 spsr=0x3c5"


def test_exception_naming_its_case():
    out = parse_output("\n".join([BOOT, "MMUT 1 begin case=a", EXCEPTION + " case=a", ""]))
    a = out.cases()["a"]
    assert a.begin and not a.end and a.exception.word("kind") == "unexpected"
    assert a.exception.num("esr") == 0xF2000000


def test_exception_without_case_goes_to_the_open_case():
    out = parse_output("\n".join([BOOT, "MMUT 1 begin case=a", "MMUT 1 end case=a",
                                  "MMUT 1 begin case=b", EXCEPTION, ""]))
    cases = out.cases()
    assert cases["a"].exception is None
    assert cases["b"].exception.line == EXCEPTION
    assert out.exit_status is None


def test_exception_outside_cases_is_not_attached():
    out = parse_output("\n".join([BOOT, "MMUT 1 begin case=a", "MMUT 1 end case=a", EXCEPTION, ""]))
    assert out.cases()["a"].exception is None
    assert out.records[-1].event == "exception"


def test_unknown_case_error_is_attached():
    out = parse_output("MMUT 1 error what=unknown_case case=nope\nMMUT 1 exit status=1\n")
    nope = out.cases()["nope"]
    assert not nope.begin and nope.error.word("what") == "unknown_case" and nope.problems == []


def test_problems():
    out = parse_output("\n".join([
        "MMUT 1 step case=a n=0 va=0x0 result=ok",
        "MMUT 1 begin case=a",
        "MMUT 1 step case=a n=1 va=0x0 result=ok",
        "MMUT 1 step case=a n=1 va=0x8 result=ok",
        "MMUT 1 end case=a",
        "MMUT 1 end case=a",
    ]))
    a = out.cases()["a"]
    assert a.problems == [
        "outside begin..end: MMUT 1 step case=a n=0 va=0x0 result=ok",
        "repeated: MMUT 1 step case=a n=1 va=0x8 result=ok",
        "repeated: MMUT 1 end case=a",
        "outside begin..end: MMUT 1 end case=a",
    ]
    assert a.steps[1].num("va") == 0x8
