"""The case loader against mutated case files (tests/bad_inputs.py): every outcome is either a
CaseError that names the file (and the case and field, where the mistake is in one), or cases
that the kernel's blob checker (kernel/blob.c, on the host) accepts and the reference model can
judge, each step's expectation agreed or its disagreement told in words (what a run reports as
"case and model disagree").  Never another exception, never a hang.

The inputs that once escaped are kept in tests/fixtures/bad/cases/ and must stay refused."""
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bad_inputs import BAD, Escapes, budget, mutated_case_file, time_limit
from harness import blob
from harness.cases import CaseError, load_file
from harness.features import missing
from harness.predict import predict_case
from harness.oracle import expectation_agrees
from host.blob_host import blob_check as check, blob_library

# ID_AA64MMFR0/1/2_EL1 and ID_AA64ISAR0_EL1 of QEMU 7.2.22's -cpu max (its boot record).
MAX_IDS = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120)
CORPUS = sorted((BAD / "cases").glob("*.toml"))


@pytest.fixture(scope="module")
def blob_check(tmp_path_factory):
    lib = blob_library(tmp_path_factory.mktemp("blob"))
    return lambda data: check(lib, data)[:2]


def judge(path, blob_check):
    """What loading `path` gives: "refused" or "accepted"; an escape fails the test."""
    try:
        with time_limit(20):
            cases = load_file(path)
    except CaseError as e:
        message = str(e)
        assert e.path == path and message.startswith(f"{path}: "), message
        if e.case is not None:
            assert f"case {e.case!r}" in message, message
        if e.where is not None:
            assert f"field {e.where!r}" in message, message
        assert "\n" not in message.strip() and "Traceback" not in message, message
        return "refused"
    # Accepted: the kernel must take it and the model judge it.
    data = blob.encode(cases)
    assert blob_check(data) == (True, None), f"the kernel's blob checker refuses an accepted case file: {blob_check(data)}"
    with time_limit(60):
        for case in cases:
            if missing(case.requires, *MAX_IDS):
                continue
            for step, outcomes in zip(case.steps, predict_case(case, MAX_IDS)):
                assert all(isinstance(p, str) for p in expectation_agrees(step, outcomes))
    return "accepted"


def test_mutated_case_files_are_refused_or_judged(tmp_path, blob_check):
    tally, escapes = Counter(), Escapes(tmp_path / "escapes")

    @budget(150)
    @given(st.data())
    def one(data):
        name, raw, done = mutated_case_file(data)
        path = tmp_path / name
        path.write_bytes(raw)
        try:
            tally[judge(path, blob_check)] += 1
        except Exception as e:      # the property: anything else is an escape, kept and told below
            tally["escaped"] += 1
            escapes.keep(e, name, raw, done)

    one()
    print(f"\n{sum(tally.values())} mutated case files: {tally['refused']} refused with a CaseError, "
          f"{tally['accepted']} accepted (blob checked, model judged), {tally['escaped']} escapes")
    assert not escapes, escapes.report()


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_inputs_that_once_escaped_are_refused(path):
    with pytest.raises(CaseError) as e:
        load_file(path)
    assert str(e.value).startswith(f"{path}: ")
