"""Cases anywhere (CASES=: directories and single files, in an OS developer's own tree) and
one selection (CASES=, K=/-k) for make run, pytest, make compare and the blob build."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import case_paths
from harness.cases import CaseError
from harness.errors import HarnessError
from suite_run import qemu  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent

# Two small cases of one file, kept in "the user's tree".
MINE = '''feature = "My kernel's paging regressions"

[case.ro_block]
summary = "A store to a read-only 2 MiB block is a Permission fault at level 2 (AArch64.S1CheckPermissions)"
map = [ { va = 0x8000_0000, to = "blk", level = 2, ap = "ro_el1" } ]
steps = [
  { do = "load64", va = 0x8000_0000, expect = "ok" },
  { do = "store64", va = 0x8000_0008, value = 1, expect = { fault = "permission", level = 2 } },
]

[case.rw_page]
summary = "A store to a writable page completes (AArch64.S1CheckPermissions)"
map = [ { va = 0x8000_0000, to = "frame0", level = 3 } ]
steps = [ { do = "store64", va = 0x8000_0000, value = 7, expect = "ok" } ]
'''


@pytest.fixture
def tree(tmp_path):
    """An OS developer's tree: ~/src/mykernel/mmu-cases/paging.toml."""
    cases = tmp_path / "mykernel" / "mmu-cases"
    cases.mkdir(parents=True)
    (cases / "paging.toml").write_text(MINE)
    return cases


def test_paths_name_directories_and_single_files(tree):
    paths = case_paths.split([f"{tree} {ROOT / 'cases' / 'tbi.toml'}"])
    assert paths == [tree, ROOT / "cases" / "tbi.toml"]
    assert case_paths.split(None) == [ROOT / "cases"]
    ids = [c.id for c in case_paths.load(paths)]
    assert ids[:2] == ["paging.ro_block", "paging.rw_page"] and all(i.startswith("tbi.") for i in ids[2:])
    assert case_paths.is_case_file(tree / "paging.toml", paths)
    assert case_paths.is_case_file(ROOT / "cases" / "tbi.toml", paths)
    assert not case_paths.is_case_file(ROOT / "cases" / "vhe.toml", paths)


def test_a_stem_met_twice_or_a_missing_path_is_refused(tree, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "paging.toml").write_text(MINE)
    with pytest.raises(CaseError, match="rename one of the two files"):
        case_paths.load([tree, other])
    with pytest.raises(HarnessError, match="does not exist"):
        case_paths.load([tmp_path / "nowhere"])


def test_a_case_is_found_by_its_id_or_node_id_or_refused_with_the_closest(tree):
    cases = case_paths.load([tree])
    assert case_paths.find(cases, "paging.ro_block").name == "ro_block"
    assert case_paths.find(cases, f"{tree}/paging.toml::rw_page").name == "rw_page"
    with pytest.raises(HarnessError, match="the closest: paging.ro_block"):
        case_paths.find(cases, "paging.ro_blok")


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k not in ("CASES", "K")}


def _results(work):
    found = list((work / "results").glob("*.json"))
    assert len(found) == 1, found
    return {c["id"]: c["outcome"] for c in json.loads(found[0].read_text())["cases"]}


def _make(work, *args):
    return subprocess.run(["make", "-s", "--no-print-directory", f"BUILD={work / 'build'}", *args], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


def test_make_run_runs_cases_of_another_tree_with_a_selection(tree, tmp_path, qemu):
    run = _make(tmp_path, "run", f"CASES={tree} cases/tbi.toml", "K=ro_block or tbi0", f"QEMU={qemu}",
                f"PYTEST_ARGS=--results={tmp_path / 'results'}")
    assert run.returncode == 0, run.stdout + run.stderr
    outcomes = _results(tmp_path)
    assert outcomes["paging.ro_block"] == "passed"
    assert "paging.rw_page" not in outcomes                     # K= deselected it
    assert outcomes and all(i == "paging.ro_block" or i.startswith("tbi.") and "tbi0" in i for i in outcomes)


@pytest.mark.parametrize("one_file", [False, True], ids=["directory", "file"])
def test_pytest_with_cases_and_no_test_paths_runs_them(tree, tmp_path, qemu, one_file):
    """A directory or a single file outside the repository (whose cases pytest would give the node
    IDs '::name', which the batch grouping could not find: KeyError)."""
    cases = tree / "paging.toml" if one_file else tree
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--cases={cases}",
                          f"--qemu={qemu}", f"--build={tmp_path / 'build'}", f"--results={tmp_path / 'results'}"],
                         cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert _results(tmp_path) == {"paging.ro_block": "passed", "paging.rw_page": "passed"}


def test_the_blob_build_takes_several_paths(tree, tmp_path):
    run = _make(tmp_path, "kernel", f"CASES={tree} cases/tbi.toml")
    assert run.returncode == 0, run.stdout + run.stderr
    blob = (tmp_path / "build" / "cases.bin").read_bytes()
    assert b"paging.ro_block" in blob and b"tbi." in blob and b"vhe." not in blob


def test_make_compare_passes_the_selection_to_every_run(tmp_path):
    # What make compare runs (make -n): the CASES paths and K= reach harness.matrix, PYTEST_ARGS too.
    run = subprocess.run(["make", "-n", "compare", "CASES=/x/mine cases/tbi.toml", "K=ro_block",
                          "PYTEST_ARGS=--isolated"], cwd=ROOT, env=_env(), capture_output=True, text=True)
    command = next(line for line in run.stdout.replace("\\\n", " ").splitlines() if "harness.matrix" in line)
    assert "--cases=/x/mine --cases=cases/tbi.toml" in command
    assert "--pytest-args=\"-k 'ro_block' --isolated\"" in command


def test_compare_runs_only_the_selection(tree, tmp_path, qemu):
    run = subprocess.run([sys.executable, "-m", "harness.matrix", f"--qemus={qemu}", f"--cases={tree}",
                          f"--build={tmp_path / 'build'}", f"--results={tmp_path / 'results'}",
                          "--pytest-args=-k rw_page"], cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert _results(tmp_path) == {"paging.rw_page": "passed"}


def test_a_k_selection_is_matched_as_pytest_matches_it(tree):
    cases = case_paths.load([tree, ROOT / "cases" / "tbi.toml"])
    assert [c.id for c in case_paths.select(cases, "ro_block")] == ["paging.ro_block"]
    assert [c.id for c in case_paths.select(cases, "PAGING and not ro")] == ["paging.rw_page"]
    with pytest.raises(HarnessError, match="-k 'and and'"):
        case_paths.select(cases, "and and")


def test_make_fuzz_runs_the_selection_alone_judged_by_the_model(tree, tmp_path, qemu):
    run = _make(tmp_path, "fuzz", f"CASES={tree} cases/translation.toml", "K=ro_block or block_at_level0",
                f"QEMU={qemu}")
    assert run.returncode == 0, run.stdout + run.stderr
    verdicts = [line.replace(":", "").split()[:2] for line in run.stdout.splitlines()
                if line.split()[:1] in (["PASS"], ["KNOWN"])]
    assert ["PASS", "paging.ro_block"] in verdicts
    assert {case for _, case in verdicts} <= {"paging.ro_block", "translation.block_at_level0"}
    assert "paging.rw_page" not in run.stdout


@pytest.mark.parametrize("target", ["fuzz", "bench", "debug CASE=tbi.x", "bugs"])
def test_targets_that_run_no_pytest_refuse_pytest_args(tmp_path, target):
    run = _make(tmp_path, *target.split(), "PYTEST_ARGS=-k tbi")
    assert run.returncode != 0 and f"make {target.split()[0]} takes no PYTEST_ARGS" in run.stderr, run.stderr
