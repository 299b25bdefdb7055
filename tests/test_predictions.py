"""The prediction cache (harness/predictions.py): whatever is on disk, a run's verdicts are
the model's.  A file that is damaged, or was written by other sources, for another case or for
another CPU, is never used: the prediction is computed again and the file rewritten; and a
whole run's results are the same with the cache off, cold and warm."""
import hashlib
import pickle
import shutil
from dataclasses import replace

import pytest

from harness import declared, predictions
from harness.cases import load_file
from harness.predict import predict_case
from harness.predictions import MAGIC, PredictionCache, source_digest
from suite_run import ROOT, suite, suite_options  # noqa: F401  (fixtures)

IDS = (0x32310201126, 0x11010211122, 0x1021011010011011, 0x1221111110212120)     # QEMU 7.2.22 -cpu max
OTHER_IDS = (0x32310201125, 0x11010211122, 0x1021011010011011, 0x1221111110212120)
POOL = declared.TABLE_POOL_BASE


@pytest.fixture
def root(tmp_path):
    """A stand-in for the repository: one file of each kind SOURCES names."""
    root = tmp_path / "root"
    for name in ("harness/model/walk.py", "kernel/layout.h", "cases/translation.toml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"# {name}\n")
    return root


@pytest.fixture(scope="module")
def case():
    return load_file(ROOT / "cases" / "tlb.toml")[0]


def _cache(tmp_path, root):
    return PredictionCache(tmp_path / "predictions", root=root)


def _stored(tmp_path, root, case, value="first", ids=IDS):
    cache = _cache(tmp_path, root)
    cache.entry(case, ids, POOL).value(0, lambda: value)
    cache.save()
    return cache


def _asked(tmp_path, root, case, ids=IDS):
    """(the value a new cache gives for step 0 of case, whether it computed it, the cache)."""
    cache, computed = _cache(tmp_path, root), []
    value = cache.entry(case, ids, POOL).value(0, lambda: computed.append(1) or "computed")
    return value, bool(computed), cache


def _file(tmp_path):
    [path] = (tmp_path / "predictions").glob("*.pickle")
    return path


def test_a_stored_prediction_is_used(tmp_path, root, case):
    _stored(tmp_path, root, case)
    assert _asked(tmp_path, root, case)[:2] == ("first", False)


def test_the_models_outcomes_read_back_whole(tmp_path, case):
    """Outcomes (a frozenset with its rule) and everything in them come back equal, rules too."""
    want = predict_case(case, IDS, POOL)
    cache = PredictionCache(tmp_path / "predictions")
    cache.entry(case, IDS, POOL).value("case", lambda: want)
    cache.save()
    got = PredictionCache(tmp_path / "predictions").entry(case, IDS, POOL).value("case", lambda: None)
    assert got == want and [o.rule for o in got] == [o.rule for o in want]


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "no magic", "foreign type", "empty"])
def test_a_damaged_file_is_rebuilt(tmp_path, root, case, damage):
    _stored(tmp_path, root, case)
    path = _file(tmp_path)
    blob = path.read_bytes()
    if damage == "flipped byte":
        blob = blob[:-5] + bytes([blob[-5] ^ 1]) + blob[-4:]
    elif damage == "truncated":
        blob = blob[:len(blob) // 2]
    elif damage == "no magic":
        blob = blob[len(MAGIC):]
    elif damage == "foreign type":
        # A whole file, its digest right, whose pickle would build something no prediction holds.
        payload = pickle.dumps({"source": source_digest(root), "ids": IDS, "entries": {"k": shutil.rmtree}})
        blob = MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    else:
        blob = b""
    path.write_bytes(blob)
    value, computed, cache = _asked(tmp_path, root, case)
    assert (value, computed) == ("computed", True)
    assert [p for p, _ in cache.rebuilt] == [path]
    cache.save()
    assert _asked(tmp_path, root, case)[:2] == ("computed", False)     # rewritten whole


def test_changed_source_rebuilds(tmp_path, root, case):
    for name in ("harness/model/walk.py", "kernel/layout.h", "cases/translation.toml"):
        _stored(tmp_path, root, case)
        (root / name).write_text((root / name).read_text() + "# changed\n")
        assert _asked(tmp_path, root, case)[:2] == ("computed", True), name


def test_another_sources_files_are_removed_when_a_new_one_is_written(tmp_path, root, case):
    _stored(tmp_path, root, case)
    old = _file(tmp_path)
    (root / "kernel" / "layout.h").write_text("# changed\n")
    _stored(tmp_path, root, case)
    assert not old.exists() and _file(tmp_path) != old


def test_a_new_source_file_rebuilds(tmp_path, root, case):
    _stored(tmp_path, root, case)
    (root / "harness" / "new.py").write_text("")
    assert _asked(tmp_path, root, case)[:2] == ("computed", True)


def test_changed_case_rebuilds(tmp_path, root, case):
    _stored(tmp_path, root, case)
    changed = replace(case, steps=case.steps[:-1])
    assert _asked(tmp_path, root, changed)[:2] == ("computed", True)
    assert _asked(tmp_path, root, case)[:2] == ("first", False)


def test_changed_features_rebuild(tmp_path, root, case):
    _stored(tmp_path, root, case)
    assert _asked(tmp_path, root, case, ids=OTHER_IDS)[:2] == ("computed", True)


def test_another_source_file_under_the_same_name_is_not_trusted(tmp_path, root, case):
    """A file whose name is this source's and CPU's but whose contents say otherwise (copied, renamed)."""
    _stored(tmp_path, root, case)
    path = _file(tmp_path)
    (root / "kernel" / "layout.h").write_text("# changed\n")
    _stored(tmp_path, root, case, value="second")
    path.unlink(missing_ok=True)         # (writing the new one removed it)
    _file(tmp_path).rename(path)        # the new source's file under the old source's name
    (root / "kernel" / "layout.h").write_text("# kernel/layout.h\n")
    value, computed, cache = _asked(tmp_path, root, case)
    assert (value, computed) == ("computed", True)
    assert "another source" in cache.rebuilt[0][1]


# Case files whose verdicts go through every use of the cache on QEMU 7.2.22 and 11.1.3: known bugs
# of single steps (at_par, syndrome) and of steps after changes (vhe), cases that change their
# translations (tlb), and descriptors read back after hardware updates (hw_readback).
FILES = ("at_par", "vhe", "tlb", "hw_readback", "syndrome")


def _verdicts(run):
    """The results' cases with their timings left out."""
    assert run.results, run.output
    return [{k: v for k, v in c.items() if k != "wall"} for c in run.results["cases"]]


def test_verdicts_are_the_same_with_and_without_the_cache(suite, tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    for name in FILES:
        shutil.copy(ROOT / "cases" / f"{name}.toml", cases)
    off = suite("--prediction-cache=none", cases=cases, timeout=600)
    assert not (tmp_path / "build" / "predictions").exists()
    cold = suite(cases=cases, timeout=600)
    [path] = (tmp_path / "build" / "predictions").glob("*.pickle")
    stored = path.read_bytes()
    warm = suite(cases=cases, timeout=600)
    assert path.read_bytes() == stored        # every prediction the warm run needed was there
    assert off.returncode == cold.returncode == warm.returncode in (0, 1), off.output
    assert _verdicts(cold) == _verdicts(off)
    assert _verdicts(warm) == _verdicts(off)
    assert any(c["known_bugs"] for c in _verdicts(off)), \
        "no known bug explains a step in these files on this QEMU: the search's cache went untested"
