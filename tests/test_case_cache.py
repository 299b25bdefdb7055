"""The collection's cache of loaded case files (harness/case_cache.py): whatever is on disk, the
cases are the loader's.  An entry is used only for the same file bytes under the same harness
source; a damaged entry is loaded afresh and rewritten; a file that does not load is never kept."""
import shutil

import pytest

from harness import case_cache
from harness.case_cache import CaseFileCache
from harness.cases import CaseError, load_file
from suite_run import ROOT

SOURCE = ROOT / "cases" / "tlb.toml"


@pytest.fixture
def root(tmp_path):
    """A stand-in for the repository: one file of each kind case_cache.SOURCES names."""
    root = tmp_path / "root"
    for name in ("harness/cases/loader.py", "kernel/layout.h"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"# {name}\n")
    return root


@pytest.fixture
def case_file(tmp_path):
    path = tmp_path / "cases" / "tlb.toml"
    path.parent.mkdir()
    shutil.copy(SOURCE, path)
    return path


def _loads(monkeypatch):
    """The case files load_file really loads from here on (the cache's misses)."""
    loaded = []
    real = case_cache.load_file
    monkeypatch.setattr(case_cache, "load_file", lambda path: loaded.append(path) or real(path))
    return loaded


def test_a_kept_file_reads_back_as_the_loader_loads_it(tmp_path, root, case_file, monkeypatch):
    loaded = _loads(monkeypatch)
    cold = CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    warm = CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    assert loaded == [case_file] and len(list((tmp_path / "collection").glob("*.pickle"))) == 1
    assert [repr(c) for c in warm] == [repr(c) for c in cold] == [repr(c) for c in load_file(case_file)]


def test_a_changed_file_or_harness_is_loaded_again(tmp_path, root, case_file, monkeypatch):
    loaded = _loads(monkeypatch)
    CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    case_file.write_text(case_file.read_text().replace("[case.", "[case.renamed_", 1))
    changed = CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    assert changed[0].name.startswith("renamed_") and len(loaded) == 2
    (root / "harness" / "cases" / "loader.py").write_text("# changed\n")
    CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    assert len(loaded) == 3
    # The other source's entries can never be used again: they go.
    assert len(list((tmp_path / "collection").glob("*.pickle"))) == 1


@pytest.mark.parametrize("damage", [lambda b: b[:len(b) // 2], lambda b: b[:-1] + bytes([b[-1] ^ 1]), lambda b: b""])
def test_a_damaged_entry_is_loaded_afresh_and_rewritten(tmp_path, root, case_file, monkeypatch, damage):
    loaded = _loads(monkeypatch)
    CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    [entry] = (tmp_path / "collection").glob("*.pickle")
    entry.write_bytes(damage(entry.read_bytes()))
    again = CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    assert [repr(c) for c in again] == [repr(c) for c in load_file(case_file)] and len(loaded) == 2
    CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    assert len(loaded) == 2     # rewritten whole


def test_a_file_that_does_not_load_is_never_kept(tmp_path, root, case_file):
    case_file.write_text("feature = 'x'\n[case.bad]\nsummary = 1\n")
    for _ in range(2):
        with pytest.raises(CaseError):
            CaseFileCache(tmp_path / "collection", root=root).load(case_file)
    assert not list((tmp_path / "collection").glob("*.pickle"))
