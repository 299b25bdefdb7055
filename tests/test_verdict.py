"""Verdicts on single steps: what a user reads when an outcome is wrong."""
from dataclasses import replace

from harness.cases import Expect, Step
from harness.observation import observe
from harness.protocol import parse_record
from harness.verdict import judge_step

VA = 0x8000_0123


def record(result):
    return observe(parse_record(f"MMUT 6 step n=0 va={VA:#x} result={result}"))


def fault(esr, far=VA):
    return record(f"fault esr={esr:#x} far={far:#x} elr=0x40081000")


PERM_L3 = Expect("fault", fault="permission", level=3, far=VA, wnr=True)
STORE = Step("store8", VA, 0x42, PERM_L3)


def test_a_matching_abort_passes():
    assert judge_step(0, STORE, fault(0x9600004f)).ok       # DABT_CUR, WnR, permission L3


def test_a_wrong_fault_reads_as_the_arm_arm_words():
    v = judge_step(0, STORE, fault(0x96000046))               # translation fault, level 2
    assert v.problems == ("expected permission fault, level 3 (DFSC 0x0f); got translation fault, level 2 (DFSC 0x06)",)


def test_wnr_and_far_are_checked_to_the_bit_and_byte():
    v = judge_step(0, STORE, fault(0x9600000f, far=VA + 1))
    assert "expected WnR=1 (write); got WnR=0" in v.problems
    assert f"expected FAR {VA:#x}; got FAR {VA + 1:#x}" in v.problems


def test_an_exception_where_none_was_expected():
    v = judge_step(0, Step("store8", VA, 1, Expect("ok")), fault(0x9600004f))
    assert v.problems[0].startswith("expected no exception; got data abort (same EL): permission fault, level 3")


def test_an_access_that_did_not_complete_is_no_pass_of_ok():
    """Audit finding 12: a store expected to complete passed on a record of result=error (a fix-up's
    access that did not fault) or result=par; a fetch's check read the value of such a record."""
    for op, value in (("store64", 1), ("load64", 0), ("fetch", 0)):
        for result in ("error error=not_faulted", "par par=0x0"):
            v = judge_step(0, Step(op, VA, value, Expect("ok")), record(result))
            assert not v.ok and v.problems[0].startswith("expected the access to complete; got "), (op, result, v)


def test_a_load_value_is_compared_at_its_width():
    step = Step("load16", VA, 0, Expect("value", value=0xbeef))
    assert judge_step(0, step, record("ok value=0xdeadbeef")).ok
    assert judge_step(0, step, record("ok value=0xbee0")).problems == ("expected value 0xbeef; got 0xbee0",)


def test_at_reports_pa_and_attributes():
    step = Step("at_s1e1r", VA, 0, Expect("par", pa=0x4100_0123, attr=0xFF, sh="inner"))
    assert judge_step(0, step, record("par par=0xff00000041000b80")).ok
    v = judge_step(0, step, record("par par=0x4400000041000b00"))
    assert "expected SH inner; got SH outer" in v.problems and any("ATTR 0xff" in p for p in v.problems)


def test_one_of_passes_on_any_permitted_outcome_and_fails_on_others():
    step = Step("load32", VA, 0, Expect("one_of", choices=(
        Expect("value", value=0x1234), Expect("fault", fault="alignment", far=VA, wnr=False))))
    assert judge_step(0, step, record("ok value=0x1234")).ok
    assert judge_step(0, step, fault(0x96000021)).ok
    v = judge_step(0, step, fault(0x96000007))
    assert not v.ok and v.expected.startswith("one of: ")
    assert all(p.startswith("matches no permitted outcome") for p in v.problems)


def test_a_missing_record_fails():
    assert judge_step(0, STORE, None).problems == ("expected a record of this step; got none",)


# ---------------------------------------------------------------- EL0 steps and PC alignment

EL0_STORE = Step("store8", VA, 0x42, PERM_L3, el=0)


def test_an_el0_step_expects_the_abort_from_the_lower_el():
    assert judge_step(0, EL0_STORE, fault(0x9200004f)).ok     # DABT_LOW, WnR, permission L3
    v = judge_step(0, EL0_STORE, fault(0x9600004f))             # the same abort, but from EL1
    assert v.problems == ("expected EC 0x24 (data abort (lower EL)); got EC 0x25 "
                          "(data abort (same EL): permission fault, level 3 (DFSC 0x0f), WnR=1)",)
    assert v.expected.startswith("data abort (lower EL): permission fault, level 3")


def test_an_el0_fetch_expects_an_instruction_abort_from_the_lower_el():
    step = Step("fetch", VA, 0, Expect("fault", fault="permission", level=3, far=VA), el=0)
    assert judge_step(0, step, fault(0x8200000f)).ok            # IABT_LOW, permission L3
    assert judge_step(0, step, fault(0x8600000f)).problems[0].startswith("expected EC 0x20 (instruction abort (lower EL))")


PC_ALIGN = Step("fetch", VA, 0, Expect("fault", fault="pc_alignment", far=VA))


def test_a_pc_alignment_fault_is_its_exception_class_and_the_pc_in_far():
    v = judge_step(0, PC_ALIGN, fault(0x8a000000))              # EC 0x22, IL=1
    assert v.ok and v.expected == f"PC alignment fault (EC 0x22), FAR {VA:#x}"
    v = judge_step(0, PC_ALIGN, fault(0x8a000000, far=VA & ~3))
    assert v.problems == (f"expected FAR {VA:#x} (the misaligned PC); got FAR {VA & ~3:#x}",)
    v = judge_step(0, PC_ALIGN, fault(0x8600000f))              # the target's own permission fault instead
    assert v.problems[0].startswith("expected EC 0x22 (PC alignment fault); got EC 0x21")


def test_a_read_back_descriptor_is_checked_in_the_fields_the_case_names():
    af_ro = Expect("desc", value=0x400 | 0x80, mask=0x400 | 0xC0)      # AF=1, AP[2:1]=0b10
    step = Step("read_desc", VA, 0, af_ro, level=3)
    assert judge_step(0, step, record("ok desc=0x41000787")).ok
    v = judge_step(0, step, record("ok desc=0x41000707"))
    assert v.problems == ("expected descriptor with AF=1, AP[2:1]=0b10; got descriptor 0x41000707",)
    v = judge_step(0, step, record("error error=occupied"))
    assert v.problems == ("expected the step to complete; got the kernel could not reach the descriptor (occupied)",)


def test_isv_is_checked_where_the_case_names_it():
    # A stage 2 fault of STR w1 (store32): ISV = 1, SAS 2, SRT 1, SF 0 (LSInstructionSyndrome).
    step = Step("store32", VA, 3, Expect("fault", fault="translation", level=3, far=VA, wnr=True, stage=2, isv=True))
    with_syndrome = 0x92000047 | 1 << 24 | 2 << 22 | 1 << 16
    v = judge_step(0, step, record(f"fault esr={with_syndrome:#x} far={VA:#x} elr=0x1 el=2 hpfar=0x800010"))
    assert v.ok and "ISV=1 (SAS=2 SSE=0 SRT=1 SF=0 AR=0)" in v.expected
    v = judge_step(0, step, record(f"fault esr={with_syndrome ^ 1 << 16:#x} far={VA:#x} elr=0x1 el=2 hpfar=0x800010"))
    assert v.problems == (f"expected ISV=1 (SAS=2 SSE=0 SRT=1 SF=0 AR=0); got ISV=1 (SAS=2 SSE=0 SRT=0 SF=0 AR=0) "
                          f"(ESR {with_syndrome ^ 1 << 16:#x})",)
    no_isv = replace(step, expect=replace(step.expect, isv=False))
    assert judge_step(0, no_isv, record(f"fault esr={with_syndrome:#x} far={VA:#x} elr=0x1 el=2 hpfar=0x800010")).problems


def test_a_step_that_never_ran_says_so_for_each_outcome_of_a_one_of():
    """A step left without a record (a run a known bug ended before it: runner._explain_the_abort) is
    recognised by its problems, a one_of's per outcome too (make bench's scale rows on 7.2.22 failed
    11 generated cases whose one_of steps s2_geometry_ps's run end left without records)."""
    from harness.verdict import NO_RECORD, never_ran
    assert never_ran((NO_RECORD,))
    assert never_ran((f"matches no permitted outcome: (outcome 1) {NO_RECORD}",
                      f"matches no permitted outcome: (outcome 2) {NO_RECORD}"))
    assert not never_ran(())
    assert not never_ran((NO_RECORD, "expected value 0x1; got value 0x2"))
    assert not never_ran(("matches no permitted outcome: (outcome 1) expected value 0x1; got value 0x2",))
