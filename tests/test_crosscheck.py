"""The model's and the declared layout's verdicts on a step (harness/crosscheck.py),
from records as the kernel prints them, without QEMU: each problem a user can meet."""
from harness import crosscheck, declared
from harness.cases import load_file
from harness.protocol import PROTOCOL_VERSION, parse_output

MAX_IDS = "mmfr0=0x32310201126 mmfr1=0x11010211122 mmfr2=0x1021011010011011 isar0=0x1221111110212120"
CASE = """
feature = "crosscheck"
[case.t]
summary = "a page, AT on it, and a store to a read-only page (AArch64.S1CheckPermissions)"
regime = { ha = true }
map = [ { va = 0x8000_0000, to = "f", level = 3, mem = "device_ngnrne" },
        { va = 0x8000_1000, to = "g", level = 3, ap = "ro_el1", af = false } ]
steps = [
  { do = "at_s1e1r", va = 0x8000_0000, expect = { pa = "f" } },
  { do = "store8", va = 0x8000_1000, expect = { fault = "permission", level = 3 } },
]
"""


def _case(tmp_path, text=CASE):
    path = tmp_path / "crosscheck.toml"
    path.write_text(text)
    return load_file(path)[0]


def _walk_lines(case, n, va, when="before", memory=None, change=None):
    """The walk records the kernel prints for va (4K granule, 48-bit VA: levels 0-3)."""
    memory = memory or declared.declared_memory(case)[0]
    table = declared.declared_memory(case)[1]
    lines = []
    for level in range(4):
        index = va >> (12 + 9 * (3 - level)) & 0x1FF
        desc = memory.read64(table + 8 * index)
        if change and level == 3:
            desc = change(desc)
        lines.append(f"walk n={n} when={when} level={level} table={table:#x} index={index} desc={desc:#x}")
        if level == 3 or desc & 3 != 3:
            break
        table = desc & ((1 << 48) - 1) & ~0xFFF
    return lines


def _records(case, steps, *, walks=None, regs=None):
    """A run's records for case: boot, regs (as declared unless given), walks, steps."""
    want = declared.case_registers(case, (0, 0, 0, 0))
    regs = regs or {k: getattr(want, k) for k in ("tcr", "mair", "sctlr", "ttbr0", "ttbr1")}
    lines = [f"boot el=1 midr=0x1 {MAX_IDS} cases=1", f"begin case={case.id}",
             "regs " + " ".join(f"{k}={v:#x}" for k, v in regs.items())]
    for n, step in enumerate(case.steps):
        lines += walks[n] if walks and n in walks else _walk_lines(case, n, step.va)
        lines.append(f"step n={n} va={step.va:#x} result={steps[n]}")
    lines.append(f"end case={case.id} steps={len(case.steps)}")
    output = parse_output("\n".join(f"MMUT {PROTOCOL_VERSION} {line}" for line in lines))
    return output.cases()[case.id], output.boot


DEVICE_PAR_INNER = "par par=0x41000b80"      # PA 0x41000000, SH 0b11 (Inner), ATTR 0x00, RES1 bit 11
PERMISSION_L3 = "fault esr=0x9600004f far=0x80001000 elr=0x40080000"


def _par(value):
    """A successful AT's PAR_EL1 record: value with its RES1 bit 11 (AArch64.EncodePAR)."""
    return f"par par={value | 1 << 11:#x}"


def test_a_run_the_model_allows_has_no_problem_and_shows_model_and_walk(tmp_path):
    case = _case(tmp_path)
    records, boot = _records(case, {0: _par(0x41000000 | 2 << 7), 1: PERMISSION_L3})
    views = crosscheck.step_views(case, records, boot, "9.0.0")
    assert all(not v.problems for v in views.values()), views
    assert "SH outer" in views[0].model and views[0].walk[-1].startswith("L3[0] page 0x41000000")
    assert "permission fault, level 3" in views[1].model


def test_an_observation_outside_the_model_fails_and_a_known_bug_explains_it_on_its_versions(tmp_path):
    case = _case(tmp_path)
    records, boot = _records(case, {0: _par(0x41000000 | 3 << 7), 1: PERMISSION_L3})
    newer = crosscheck.step_views(case, records, boot, "9.0.0")[0]
    assert newer.problems and newer.problems[0].startswith("model: matches no outcome the model allows")
    older = crosscheck.step_views(case, records, boot, "7.2.22")[0]
    assert not older.problems and [b.name for b in older.known_bugs] == ["par_sh"]


def test_a_case_that_asks_more_or_less_than_the_architecture_is_a_suite_defect(tmp_path):
    case = _case(tmp_path, CASE.replace('expect = { pa = "f" }', 'expect = { pa = "f", sh = "inner" }'))
    records, boot = _records(case, {0: _par(0x41000000 | 2 << 7), 1: PERMISSION_L3})
    problems = crosscheck.step_views(case, records, boot, "9.0.0")[0].problems
    assert problems and all(p.startswith(crosscheck.SUITE_DEFECT) for p in problems)


def test_a_walked_descriptor_the_case_does_not_declare_is_a_kernel_defect(tmp_path):
    case = _case(tmp_path)
    # The kernel built the read-only page writable: QEMU and the model would agree the store completes.
    walk = _walk_lines(case, 1, 0x8000_1000, change=lambda desc: desc & ~(1 << 7))
    records, boot = _records(case, {0: _par(0x41000000 | 2 << 7), 1: "ok"}, walks={1: walk})
    problems = [p for v in crosscheck.step_views(case, records, boot, "9.0.0").values() for p in v.problems]
    assert any(p.startswith(crosscheck.KERNEL_DEFECT) and "L3[1]" in p for p in problems), problems


def test_registers_the_case_does_not_declare_are_a_kernel_defect(tmp_path):
    case = _case(tmp_path)
    want = declared.case_registers(case, (0, 0, 0, 0))
    regs = {"tcr": want.tcr ^ 1 << 39, "mair": want.mair, "sctlr": want.sctlr, "ttbr0": want.ttbr0,
            "ttbr1": want.ttbr1}     # HA dropped
    records, boot = _records(case, {0: _par(0x41000000 | 2 << 7), 1: PERMISSION_L3}, regs=regs)
    problems = crosscheck.step_views(case, records, boot, "9.0.0")[0].problems
    assert any(p.startswith(f"{crosscheck.KERNEL_DEFECT}: TCR_EL1 programmed") for p in problems), problems


def test_descriptors_after_a_step_must_show_the_models_hardware_update(tmp_path):
    case = _case(tmp_path)
    va = 0x8000_1000
    # HA = 1 and AF = 0: a Permission fault may or may not set AF, but nothing else may change.
    before = _walk_lines(case, 1, va)
    for after, ok in ((lambda d: d | 1 << 10, True), (lambda d: d, True), (lambda d: d | 1 << 54, False)):
        walks = {1: before + _walk_lines(case, 1, va, when="after", change=after)}
        records, boot = _records(case, {0: _par(0x41000000 | 2 << 7), 1: PERMISSION_L3}, walks=walks)
        problems = crosscheck.step_views(case, records, boot, "9.0.0")[1].problems
        assert (not problems) == ok, problems


def test_a_run_without_walks_is_not_judged_by_the_model(tmp_path):
    case = _case(tmp_path)
    output = parse_output("\n".join(f"MMUT {PROTOCOL_VERSION} {line}" for line in (
        f"boot el=1 midr=0x1 {MAX_IDS} cases=1", f"begin case={case.id}",
        f"step n=0 va=0x80000000 result={DEVICE_PAR_INNER}", f"end case={case.id} steps=1")))
    assert crosscheck.step_views(case, output.cases()[case.id], output.boot, "9.0.0") == {}


def test_a_fault_before_the_pc_alignment_check_is_the_known_bug_of_qemu_7_2(tmp_path):
    # QEMU 7.2 translates a misaligned branch target first (cases/pc_alignment.toml, bug.fault_before_alignment).
    case = _case(tmp_path, """
feature = "crosscheck"
[case.t]
summary = "a misaligned branch to an unmapped VA (AArch64.CheckPCAlignment before the fetch)"
map = [ { va = 0x8000_0000, to = "f", level = 3 } ]
steps = [ { do = "fetch", va = 0x8000_1102, expect = { fault = "pc_alignment" } } ]
""")
    qemu_72 = "fault esr=0x86000007 far=0x80001102 elr=0x80001102"     # IABT_CUR, translation fault, level 3
    records, boot = _records(case, {0: qemu_72})
    fixed = crosscheck.step_views(case, records, boot, "11.1.3")[0]
    assert fixed.problems and fixed.problems[0].startswith("model: matches no outcome the model allows")
    assert "PC alignment fault (EC 0x22), FAR 0x80001102" in fixed.model
    older = crosscheck.step_views(case, records, boot, "7.2.22")[0]
    assert not older.problems and [b.name for b in older.known_bugs] == ["fault_before_alignment"]
