"""Host tests of harness.fuzz.known: each known QEMU bug is the model changed to do what that
QEMU does, and the change does change the model's answer on the cases the suite marks with it."""
from harness.cases import load_file
from harness.declared import TABLE_POOL_BASE
from harness.features import missing
from harness.fuzz.known import (KNOWN_BUGS, RAM, KnownBug, RunEnds, VariantError, allowed_on_the_board, explain,
                                fewest_explaining, in_force)
from harness.kdefs import REPO
from harness.predict import predict_case
from harness.model.outcome import Completes, Outcomes
from harness.observation import observe
from harness.protocol import parse_record

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

# The versions of Debian's builds (tools/qemus.py), whose behaviour each bug's shapes were checked on.
DEBIAN_BUILDS = ("7.2.22", "10.0.2", "10.0.13", "11.1.3")

# QEMU 7.2.22's ID registers (its -cpu max boot record, ID_AA64ISAR1_EL1.LRCPC = 2), and a CPU without FEAT_LPA; and 11.1.3 -cpu max's boot record,
# for the cases of its features (FEAT_S1PIE, FEAT_S2PIE ...), and 10.0.13 -cpu max's.
# DCZID_EL0, CLIDR_EL1 and CTR_EL0 after them (7.2.22: LoC = 2, DIC = 0; 11.1.3: LoC = 0, DIC = 1).
IDS = [(0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120, 0x0, 0x0, 0x1000021, 0x11111101211012, 0x0,
        0x4, 0x2000023, 0x8444c004),
       (0x1124, 0x0, 0x0, 0x11120),
       (0x2100032310201126, 0x110112010312122, 0x1221011112011011, 0x1221111110312120, 0x1000000011001111, 0x100,
        0x10101012000121, 0x111211110211502, 0x1120000000110012, 0x4, 0x123, 0xb444c004),
       # 10.0.13 -cpu max's boot record: FEAT_CMOW with LoC = 2 (access_kinds_cmo.cmow_dc_civac_el0, dc_by_va_nop)
       (0x2100032310201126, 0x110112010312122, 0x1221011112011011, 0x1221111110212120, 0x1000000000000000, 0x0,
        0x1001000121, 0x111211110211502, 0x110012, 0x4, 0x2000023, 0xb444c004)]


def _marked(bug):
    """The suite's cases marked with this bug, each with ID registers of a CPU it runs on."""
    out = []
    for case in load_file(REPO / bug.case_file):
        if case.xfail is not None and case.xfail.name == bug.name:
            ids = next(ids for ids in IDS if not missing((*case.requires, *case.xfail.features), *ids))
            out.append((case, ids))
    return out


def _bug_tables():
    """{(bug name, its table's QEMU range): [case files that hold such a table]} of every case file."""
    out = {}
    for path in sorted((REPO / "cases").glob("*.toml")):
        for name, table in tomllib.loads(path.read_text()).get("bug", {}).items():
            out.setdefault((name, table["qemu"]), []).append(f"cases/{path.name}")
    return out


def test_every_mark_has_a_model_variant_and_every_variant_a_mark():
    """Both ways: a [bug.*] table no variant models would leave its cases' departures unexplained (they
    fail), and a variant no table marks would explain steps under a range nobody wrote down."""
    tables = _bug_tables()
    variants = {bug.name: bug for bug in KNOWN_BUGS}
    for (name, qemu), files in tables.items():
        assert name in variants, f"[bug.{name}] of {', '.join(files)} has no model variant in harness/fuzz/known.py"
        # One range per bug: the variant's range (its case file's table) is the one every mark of it says.
        assert qemu == variants[name].qemu, f"[bug.{name}] of {', '.join(files)}: qemu = {qemu!r}, " \
            f"{variants[name].case_file} says {variants[name].qemu!r}"
    for bug in KNOWN_BUGS:
        assert (bug.name, bug.qemu) in tables and bug.case_file in tables[bug.name, bug.qemu], bug.name
        assert _marked(bug), f"no case of {bug.case_file} is marked with [bug.{bug.name}]"


def _answer(bug, version, case, ids):
    try:
        with bug.model(version):
            return predict_case(case, ids, TABLE_POOL_BASE)
    except RunEnds as e:
        return f"the run ends: {e}"


def test_each_change_turns_the_model_into_the_qemu_it_names():
    """In each of the bug's shapes (the versions of its range that behave alike): the QEMU builds
    `make qemus` fetches, those in the bug's range."""
    for bug in KNOWN_BUGS:
        versions = [v for v in DEBIAN_BUILDS if bug.affects(v)]
        assert versions, f"{bug.name}: no Debian build in its range {bug.qemu}"
        for case, ids in _marked(bug):
            plain = predict_case(case, ids, TABLE_POOL_BASE)
            for version in versions:
                changed = _answer(bug, version, case, ids)
                assert plain != changed, f"{bug.name} on {version}: the change leaves {case.id} as the model has it"
            assert predict_case(case, ids, TABLE_POOL_BASE) == plain, "the model is itself again after"


def test_each_bug_applies_to_the_cases_it_marks():
    """KnownBug.applies, the condition under which the search tries a bug, holds for every case the bug
    marks (a condition too strict would leave its departures unexplained)."""
    for bug in KNOWN_BUGS:
        for case, _ in _marked(bug):
            assert bug.applies is None or bug.applies(case), f"{bug.name}: its condition excludes {case.id}"


def test_a_bug_that_changed_shape_has_one_variant_per_shape():
    """at_dirty_update: 7.2.22 to 10.0.13 clear AP[2] for AT S1E1W, 11.1.3 reports a Permission fault."""
    bug = next(b for b in KNOWN_BUGS if b.name == "at_dirty_update")
    case, ids = next((c, i) for c, i in _marked(bug) if c.steps[0].op == "at_s1e1w")
    old, new = _answer(bug, "10.0.13", case, ids), _answer(bug, "11.1.3", case, ids)
    assert any(o.updates for o in old[0]) and not any(o.updates and o.updates[0][2] & (1 << 7) == 0 for o in new[0])
    assert bug.shape("7.2.22")[0] != bug.shape("11.1.3")[0]


def _record(line):
    """The Observation of a step record line."""
    return observe(parse_record(line))


def test_a_block_qemu_takes_outside_ram_may_end_in_an_external_abort():
    step = load_file(REPO / "cases/translation.toml")[0].steps[0]
    outside = Outcomes({Completes(pa=RAM[1] + 0x1000, attr=0xFF, sh="inner")})
    inside = Outcomes({Completes(pa=RAM[0] + 0x1000, attr=0xFF, sh="inner")})
    sea = _record(f"MMUT 6 step n=0 va={step.va:#x} result=fault esr=0x96000010 far={step.va:#x} elr=0x40080000")
    assert allowed_on_the_board(step, outside, sea)
    assert not allowed_on_the_board(step, inside, sea)


def test_explain_names_the_bug_of_a_marked_case_and_only_on_its_versions():
    bug = next(b for b in KNOWN_BUGS if b.name == "l0_block")
    case, ids = _marked(bug)[0]
    with bug.model():
        changed = predict_case(case, ids, TABLE_POOL_BASE)
    # What QEMU 7.2.22 does with the level-0 block: a load through it completes.
    assert any(isinstance(o, Completes) for o in changed[0])
    ok = _record(f"MMUT 6 step n=0 va={case.steps[0].va:#x} result=ok value=0x0")
    assert [b.name for b in explain("7.2.22", case, ids, TABLE_POOL_BASE, 0, ok)] == ["l0_block"]
    assert explain("99.0.0", case, ids, TABLE_POOL_BASE, 0, ok) == ()


def test_a_variant_that_cannot_predict_a_step_explains_nothing():
    """ds_ips sends ds_table_address_above_ips's walk to memory the case does not declare: the
    variant cannot predict the load, so it explains no value, no other fault, no missing record
    (audit finding 2); the board's external abort on that walk it does explain."""
    from harness.esr import decode_esr
    from harness.observation import Observation
    bug = next(b for b in KNOWN_BUGS if b.name == "ds_ips")
    case, ids = next((c, i) for c, i in _marked(bug) if c.name == "ds_table_address_above_ips")
    step = case.steps[0]
    value = Observation("ok", value=0x1234)
    permission = Observation("fault", esr=decode_esr(0x9600004F), far=step.va)
    walk_sea = Observation("fault", esr=decode_esr(0x96000017), far=step.va)
    for obs in (value, permission, None):
        assert explain("7.2.22", case, ids, TABLE_POOL_BASE, 0, obs) == (), obs
    assert [b.name for b in explain("7.2.22", case, ids, TABLE_POOL_BASE, 0, walk_sea)] == ["ds_ips"]


def test_an_unknown_outcome_allows_no_observation():
    from harness.model.outcome import Unknown
    from harness.observation import Observation
    from harness.oracle import observation_allowed, unjudged
    step = load_file(REPO / "cases/translation.toml")[0].steps[0]
    outcomes = Outcomes({Unknown("memory nobody declared")})
    assert unjudged(outcomes) == "memory nobody declared"
    assert observation_allowed(step, outcomes, Observation("ok", value=0)) == [
        "not judged by the model: memory nobody declared"]


def test_a_run_that_ends_is_explained_only_by_the_ending_its_variant_names():
    """s2_geometry_ps on s2_pa52.lpa2_ipa52[l0-16k]: QEMU 7.2.22 refuses a 16K level 0 stage 2 start,
    and the kernel's own fetch faults at stage 2 before the case's first step.  The missing records
    are explained only where the run did end so: the kernel's exception record, a stage 2
    Translation fault at level 0 taken to EL2 from EL1; not a QEMU that aborted, not another fault,
    not on a fixed QEMU."""
    import signal
    from harness.esr import decode_esr
    from harness.fuzz.known import QemuAborts, RunEnd
    bug = next(b for b in KNOWN_BUGS if b.name == "s2_geometry_ps")
    case = next(c for c in load_file(REPO / "cases/s2_pa52.toml") if c.id == "s2_pa52.lpa2_ipa52[l0-16k]")
    assert case.xfail.name == bug.name
    ids = next(ids for ids in IDS if not missing(case.requires, *ids))
    iabt_s2_l0 = RunEnd(esr=decode_esr(0x82000004), el=2)           # EC 0x20: IABT from a lower EL, IFSC 0x04
    for ended in (iabt_s2_l0, None):
        assert [b.name for b in explain("7.2.22", case, ids, TABLE_POOL_BASE, 0, None, ended=ended)] == [bug.name]
    assert explain("10.0.2", case, ids, TABLE_POOL_BASE, 0, None, ended=iabt_s2_l0) == ()
    for other in (RunEnd(signal=signal.SIGABRT), RunEnd(esr=decode_esr(0x82000005), el=2),
                  RunEnd(esr=decode_esr(0x86000004), el=None), RunEnd(esr=decode_esr(0x82000084), el=2)):
        assert explain("7.2.22", case, ids, TABLE_POOL_BASE, 0, None, ended=other) == (), other
    # And the abort of a QEMU assertion is not a kernel's exception.
    assert not QemuAborts("x").matches(iabt_s2_l0)


class _Bug(KnownBug):
    """A known bug of every QEMU, of a test's own module (no case file holds it)."""

    def affects(self, version):
        return True


def test_the_search_computes_only_answers_a_bug_can_change():
    """fewest_explaining skips a combination with a bug none of whose functions the model calls under
    the combination's other bugs: it answers as the smaller combination did.  Here `b` is called only
    once `a` is changed and `c` never: the search finds (b, a) after computing four answers, where every
    combination in order is six, and finds what that order finds."""
    import types
    m = types.ModuleType("model")
    m.a, m.b, m.c = (lambda: 0), (lambda: 0), (lambda: 0)
    a, b, c = (_Bug(name, "", "", lambda name=name, value=value: [(m, name, lambda: value)])
               for name, value in (("a", 1), ("b", 2), ("c", 4)))
    computed = []

    def evaluate():
        computed.append(in_force())
        return m.a() + (m.b() if m.a() else 0)
    assert fewest_explaining("1.0", evaluate, lambda answer: answer == 3, (c, b, a)) == (b, a)
    assert computed == [("c",), (), ("a",), ("b", "a")]
    # Where the unchanged model's answer explains, the first bug that changes nothing names it, as
    # trying every bug in order would.
    computed.clear()
    assert fewest_explaining("1.0", evaluate, lambda answer: answer == 0, (a, b, c)) == (b,)
    assert computed == [("a",), ()]
    assert fewest_explaining("1.0", evaluate, lambda answer: answer == 8, (b, a, c)) == ()
    # A bug the case does not meet the condition of (KnownBug.applies) is never put in force.
    computed.clear()
    assert fewest_explaining("1.0", evaluate, lambda answer: answer == 3, (c, b, a), inapplicable={a}) == ()
    assert computed == [("c",), ()]
    assert (m.a(), m.b(), m.c()) == (0, 0, 0), "the model is itself again after"


def test_a_variant_that_raises_is_named_not_a_traceback():
    import types
    import pytest
    m = types.ModuleType("model")
    m.f = lambda: 0

    def broken():
        raise TypeError("no such field")
    bug = _Bug("broken", "", "", lambda: [(m, "f", broken)])
    with pytest.raises(VariantError, match=r"known bug\(s\) broken behave raised TypeError: no such field"):
        fewest_explaining("1.0", lambda: m.f(), lambda answer: False, (bug,))
    assert m.f() == 0
