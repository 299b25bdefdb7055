"""D8.17.1's amalgamation: where a TLB may hold copies of a translation that differ beyond block size and
Contiguous bit, a lookup may be translated by "an amalgamation of more than one of the matching entries",
which the rule bounds only by "permissions or attributes that would not be possible" (K1.2.3).  The model
offers it as an Amalgamation: an observation that is one of the whole-entry outcomes (old, new, the TLB
conflict abort) is judged; one that is none of them is not judged, with the reason, and counted apart,
never passed and never failed by a case that cannot name an amalgamation."""
from dataclasses import replace

from harness.compare import differences
from harness.model.outcome import Amalgamation, Completes, Outcomes, Unknown
from harness.observation import Observation
from harness.oracle import amalgamation, expectation_agrees, observation_allowed, unjudged, unjudged_observation
from harness.predict import predict_case
from harness.results import ResultsWriter
from harness.verdict import StepVerdict
from tests.test_compare import run
from tests.test_tlb import A, B, DSB, ISB, LOAD, MAX, _case, _resize_case

TLBI = '{ do = "tlbi_vae1", va = 0x8000_0000 }'
CONFLICT_LOAD = '{ do = "load64", va = 0x8000_0000, expect = { one_of = [ EITHER_A, EITHER_B, "tlb_conflict" ] } }'


def _conflict_case(tmp_path, steps):
    """0x8000_0000 remapped from frame A to frame B (tests/test_tlb.py _case), then steps."""
    return _case(tmp_path, [s.replace("EITHER_A", "{ value = 0xaaaa }").replace("EITHER_B", "{ value = 0xbbbb }")
                            for s in steps])


def _amalgamations(outcomes):
    return [o for o in outcomes if isinstance(o, Amalgamation)]


def test_a_lookup_of_two_different_copies_may_be_an_amalgamation(tmp_path):
    """A remap without TLBI: the old entry beside the new walk's, so the lookup may be translated by their
    amalgamation (D8.17.1); after TLBI, DSB, ISB there is one copy, and no amalgamation."""
    (open_,) = _amalgamations(predict_case(_conflict_case(tmp_path, [DSB, ISB, CONFLICT_LOAD]), MAX)[-1])
    assert "D8.17.1" in open_.reason and "cannot bound" in open_.reason
    assert not _amalgamations(predict_case(_conflict_case(tmp_path, [DSB, TLBI, DSB, ISB, LOAD]), MAX)[-1])


def test_copies_that_differ_in_block_size_alone_are_no_amalgamation(tmp_path):
    """A stage 2 block split into pages of the same PAs without TLBI: the copies give the same translation,
    attributes and permissions, so any amalgamation of them is that translation (the conflict abort stays)."""
    case = _resize_case(tmp_path, '{ va = 0x8000_0000, to = 0x8000_0000, level = 3 }',
                        '{ ipa = 0x8000_0000, to = "big", level = 2 }, { ipa = 0x8020_0000, to = "big", level = 3 }',
                        ['{ do = "s2_link", ipa = 0x8000_0000, level = 2, table_of = 0x8020_0000 }'])
    outcomes = predict_case(case, MAX)[-1]
    assert not _amalgamations(outcomes) and not unjudged(outcomes)


def test_an_observation_that_is_no_whole_entry_outcome_is_not_judged_and_says_why(tmp_path):
    """Without TLBI, a load that reads neither frame's value is not failed: it may be an amalgamation
    (D8.17.1).  It is not passed either: observation_allowed's lines end with the reason, and
    unjudged_observation names it.  The old and new values are judged (allowed).  After TLBI, DSB, ISB the
    same value is a failure, judged."""
    case = _conflict_case(tmp_path, [DSB, ISB, CONFLICT_LOAD, TLBI, DSB, ISB, LOAD])
    predictions = predict_case(case, MAX)
    before, after = [n for n, s in enumerate(case.steps) if s.op == "load64" and s.va == 0x8000_0000]
    step, outcomes = case.steps[before], predictions[before]
    for value in (A, B):
        obs = Observation("ok", value=value)
        assert observation_allowed(step, outcomes, obs) == [] and unjudged_observation(step, outcomes, obs) is None
    mixed = Observation("ok", value=0xCCCC)
    reason = unjudged_observation(step, outcomes, mixed)
    assert reason.startswith("an amalgamation (D8.17.1) the model cannot bound") and amalgamation(outcomes)
    assert observation_allowed(step, outcomes, mixed)[-1] == f"not judged by the model: {reason}"
    step, outcomes = case.steps[after], predictions[after]
    assert unjudged_observation(step, outcomes, mixed) is None and observation_allowed(step, outcomes, mixed)


def test_the_case_is_checked_against_the_whole_entry_outcomes_alone(tmp_path):
    """No case can name an amalgamation: the case's one_of (old, new, the abort) agrees with the model, and
    one that leaves out the new value still does not."""
    case = _conflict_case(tmp_path, [DSB, ISB, CONFLICT_LOAD])
    outcomes = predict_case(case, MAX)[-1]
    assert expectation_agrees(case.steps[-1], outcomes) == []
    narrow = _conflict_case(tmp_path, [DSB, ISB, CONFLICT_LOAD.replace("EITHER_B, ", "")])
    (problem,) = expectation_agrees(narrow.steps[-1], outcomes)
    assert "value 0xbbbb" in problem and "which the case does not accept" in problem


def test_after_a_store_through_an_amalgamation_what_memory_holds_is_open(tmp_path):
    """A store to the remapped VA without TLBI may go through an amalgamation to any PA the rule allows, so a
    later load of frame A (through another VA) may read anything: the whole-entry branches (the store went to
    A, or to B) still judge what matches them (the value stored, or A's own), anything else is not judged."""
    store = '{ do = "store64", va = 0x8000_0000, value = 0x5555, expect = { one_of = [ "ok", "tlb_conflict" ] } }'
    read_a = '{ do = "load64", va = 0x8010_0000, expect = { one_of = [ { value = 0x5555 }, { value = 0xaaaa } ] } }'
    case = _conflict_case(tmp_path, [DSB, ISB, store, DSB, read_a])
    outcomes = predict_case(case, MAX)[-1]
    assert {o.value for o in outcomes if isinstance(o, Completes)} == {0x5555, A}
    (open_,) = _amalgamations(outcomes)
    assert f"after step {len(case.steps) - 3}" in open_.reason
    step = case.steps[-1]
    assert unjudged_observation(step, outcomes, Observation("ok", value=A)) is None
    assert "D8.17.1" in unjudged_observation(step, outcomes, Observation("ok", value=0x7777))
    assert expectation_agrees(step, outcomes) == []


def test_an_unknown_beside_predicted_outcomes_leaves_only_what_they_do_not_match_unjudged(tmp_path):
    """An Unknown (what the model refuses) leaves the set open: an observation one of the predicted outcomes
    matches is judged (the architecture permits it), any other is not; a case is then held to accepting
    every predicted outcome (an alternative beyond them may be one the model cannot predict)."""
    case = _conflict_case(tmp_path, [DSB, TLBI, DSB, ISB, LOAD])
    step, whole = case.steps[-1], predict_case(case, MAX)[-1]
    partial = Outcomes(set(whole) | {Unknown("refused for the test")})
    assert unjudged_observation(step, partial, Observation("ok", value=B)) is None
    assert unjudged_observation(step, partial, Observation("ok", value=A)) == "refused for the test"
    assert expectation_agrees(step, partial) == []         # EITHER accepts 0xaaaa, which only the Unknown may be
    assert expectation_agrees(replace(step, expect=step.expect.choices[0]), partial)     # 0xbbbb left out


def test_an_amalgamation_step_is_its_own_verdict_counted_apart_and_named_in_a_comparison(tmp_path):
    """The step verdict 'amalgamation' (unjudged for that reason, not failed), the results' summary line
    counting those steps apart, and harness.compare calling a difference there unjudged, with the reason."""
    reason = "an amalgamation (D8.17.1) the model cannot bound: ..."
    verdict = StepVerdict(n=3, op="load64", va=0x8000_0000, expected="one of", observed="value 0xcccc",
                          problems=(), unjudged=reason, amalgamation=True)
    assert verdict.verdict == "amalgamation" and verdict.ok
    assert replace(verdict, amalgamation=False).verdict == "unjudged"
    writer = ResultsWriter(tmp_path / "r.json", "qemu", "7.2.22", "max")
    writer.add({"outcome": "passed", "steps": [{"n": 3, "verdict": "amalgamation", "unjudged": reason},
                                               {"n": 4, "verdict": "unjudged", "unjudged": "memory"}]})
    assert ("2 steps in 1 cases not judged by the model, 1 of them for a possible amalgamation of TLB entries "
            "(D8.17.1)") in writer.summary_line()
    a, b = run("passed", "value 0xaaaa", True), run("passed", "value 0xcccc", True)
    b["cases"][0]["steps"][0]["unjudged"] = reason
    (diff,) = differences(a, b)
    assert f"both match the case; the model did not judge this step: {reason}" in diff[1]
