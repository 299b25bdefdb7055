"""Host tests of harness.fuzz.known: each known QEMU bug is the model changed to do what that
QEMU does, and the change does change the model's answer on the cases the suite marks with it."""
from harness.cases import load_file
from harness.declared import TABLE_POOL_BASE
from harness.features import missing
from harness.fuzz.known import KNOWN_BUGS, RAM, allowed_on_the_board, explain
from harness.kdefs import REPO
from harness.predict import predict_case
from harness.model.outcome import Completes, Outcomes
from harness.observation import observe
from harness.protocol import parse_record

# QEMU 7.2.22's ID registers (BRIEF.md): with and without FEAT_LPA.
IDS = [(0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120), (0x1124, 0x0, 0x0, 0x11120)]


def _marked(bug):
    """The suite's cases marked with this bug, each with ID registers of a CPU it runs on."""
    out = []
    for case in load_file(REPO / bug.case_file):
        if case.xfail is not None and (case.xfail.qemu, case.xfail.reason) == (bug.qemu, bug.reason):
            ids = next(ids for ids in IDS if not missing(case.requires, *ids))
            out.append((case, ids))
    return out


def test_every_known_bug_is_a_bug_table_of_the_suite():
    for bug in KNOWN_BUGS:
        assert bug.affects("7.2.22"), bug.name
        assert _marked(bug), f"no case of {bug.case_file} is marked with [bug.{bug.name}]"


def test_each_change_turns_the_model_into_the_qemu_it_names():
    for bug in KNOWN_BUGS:
        for case, ids in _marked(bug):
            plain = predict_case(case, ids, TABLE_POOL_BASE)
            try:
                with bug.model():
                    changed = predict_case(case, ids, TABLE_POOL_BASE)
            except ValueError:      # a fault with no encoding (the QEMU aborts there)
                changed = None
            assert plain != changed, f"{bug.name}: the change leaves {case.id} as the model has it"
            assert predict_case(case, ids, TABLE_POOL_BASE) == plain, "the model is itself again after"


def _record(line):
    """The Observation of a step record line."""
    return observe(parse_record(line))


def test_a_block_qemu_takes_outside_ram_may_end_in_an_external_abort():
    step = load_file(REPO / "cases/translation.toml")[0].steps[0]
    outside = Outcomes({Completes(pa=RAM[1] + 0x1000, attr=0xFF, sh="inner")})
    inside = Outcomes({Completes(pa=RAM[0] + 0x1000, attr=0xFF, sh="inner")})
    sea = _record(f"MMUT 3 step n=0 va={step.va:#x} result=fault esr=0x96000010 far={step.va:#x} elr=0x40080000")
    assert allowed_on_the_board(step, outside, sea)
    assert not allowed_on_the_board(step, inside, sea)


def test_explain_names_the_bug_of_a_marked_case_and_only_on_its_versions():
    bug = next(b for b in KNOWN_BUGS if b.name == "l0_block")
    case, ids = _marked(bug)[0]
    with bug.model():
        changed = predict_case(case, ids, TABLE_POOL_BASE)
    # What QEMU 7.2.22 does with the level-0 block: a load through it completes.
    assert any(isinstance(o, Completes) for o in changed[0])
    ok = _record(f"MMUT 3 step n=0 va={case.steps[0].va:#x} result=ok value=0x0")
    assert [b.name for b in explain("7.2.22", case, ids, TABLE_POOL_BASE, 0, ok)] == ["l0_block"]
    assert explain("99.0.0", case, ids, TABLE_POOL_BASE, 0, ok) == ()
