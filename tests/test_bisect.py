"""harness/bisect.py end to end, on a small git repository made here whose "QEMU" is a script
wrapping the real one (as the fakes of tests/suite_run.py do): its own configure (aarch64-softmmu
only, counted) and Makefile, a commit from which the wrapper changes what one case observes, and a
commit that does not build.  No QEMU is built."""
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import bisect
from harness.errors import HarnessError
from suite_run import qemu_processes, real_qemu  # noqa: F401  (fixture)

CASE = "demo.seed_demo"
# demo.seed_demo runs alone; its first step record with that value is step 1's (protocol 5 leaves out its
# n= and va=, which the records before it give)
CHANGED = r"0,/\(step .*value=\)0xdeadbeef/s//\10xbadcafe/"

CONFIGURE = """#!/bin/sh
# As QEMU's, run in the build directory; this one knows the aarch64-softmmu target only.
[ "$*" = "--target-list=aarch64-softmmu" ] || { echo "configure: unexpected options: $*" >&2; exit 1; }
src=$(cd "$(dirname "$0")" && pwd)
echo configured >> "$src/../configure.count"
printf 'all:\\n\\ttest ! -e %s/broken\\n\\tcp %s/qemu.sh qemu-system-aarch64\\n\\tchmod +x qemu-system-aarch64\\n' \
    "$src" "$src" > Makefile
"""


def wrapper(real, regressed):
    """The "QEMU" a commit builds: the real one, or from the regression on, the real one whose
    record of demo.seed_demo's step 1 reads another value (the load's result)."""
    if not regressed:
        return f'#!/bin/sh\nexec {real} "$@"\n'
    return (f'#!/bin/bash\n[ "$1" = --version ] && exec {real} "$@"\nset -o pipefail\n'
            f'{real} "$@" | sed -u \'{CHANGED}\'\n')


def commit(repo, message, files=(), remove=()):
    for name, text in files:
        (repo / name).write_text(text)
        if text.startswith("#!"):
            (repo / name).chmod(0o755)
        subprocess.run(["git", "-C", repo, "add", name], check=True)
    for name in remove:
        subprocess.run(["git", "-C", repo, "rm", "-q", name], check=True)
    subprocess.run(["git", "-C", repo, "-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-q",
                    "-m", message], check=True)
    return subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


@pytest.fixture
def qemu_tree(tmp_path, real_qemu):
    """c0..c6: c2 changes the case's outcome, c3 does not build (c4 fixes it), the rest change nothing.
    git bisect tests c3 first (the middle), so the skip is exercised."""
    repo = tmp_path / "qemu"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "master", repo], check=True)
    commits = [commit(repo, "c0: a QEMU", [(".gitignore", "/build/\n"), ("configure", CONFIGURE),
                                            ("qemu.sh", wrapper(real_qemu, False)), ("notes", "0\n")])]
    commits.append(commit(repo, "c1: notes", [("notes", "1\n")]))
    commits.append(commit(repo, "c2: the regression", [("qemu.sh", wrapper(real_qemu, True))]))
    commits.append(commit(repo, "c3: breaks the build", [("broken", "")]))
    commits.append(commit(repo, "c4: fixes the build", remove=["broken"]))
    commits.append(commit(repo, "c5: notes", [("notes", "5\n")]))
    commits.append(commit(repo, "c6: notes", [("notes", "6\n")]))
    return repo, commits


def head(repo):
    branch = subprocess.run(["git", "-C", repo, "symbolic-ref", "-q", "--short", "HEAD"], capture_output=True, text=True)
    return branch.stdout.strip()


def test_bisect_finds_the_commit_that_changed_the_outcome(qemu_tree, tmp_path):
    repo, commits = qemu_tree
    said = []
    first, got = bisect.bisect(repo, commits[0], "master", [CASE], out=said.append, logs=tmp_path / "logs")
    text = "\n".join(said)
    assert first == commits[2], text
    assert "c3: breaks the build: skip (the build failed" in text             # a build failure is skipped
    assert "c2: the regression: bad" in text and "c1: notes: good" in text
    assert "first commit whose outcome differs: " + commits[2] in text
    assert "step 1 load64 va=0x80000000: completes, value 0xdeadbeef" in text     # good's observation ...
    assert "-> step 1 load64 va=0x80000000: completes, value 0xbadcafe" in text    # ... and the change
    assert (tmp_path / "configure.count").read_text() == "configured\n"          # configured once
    # The checkout is as it was: on its branch, clean, no bisect under way.
    assert head(repo) == "master"
    assert subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                          capture_output=True, text=True).stdout == ""
    assert subprocess.run(["git", "-C", repo, "bisect", "log"], capture_output=True).returncode != 0
    assert qemu_processes(repo) == []


def test_bisect_refuses_bad_input_before_building(qemu_tree, tmp_path, capsys):
    repo, commits = qemu_tree
    with pytest.raises(HarnessError, match=r"revision 'v99\.0' does not exist"):
        bisect.bisect(repo, "v99.0", "master", [CASE], out=print)
    with pytest.raises(HarnessError, match=r"no case 'demo\.nope' in the .* case instances of CASES"):
        bisect.bisect(repo, commits[0], "master", ["demo.nope"], out=print)
    (repo / "notes").write_text("an edit\n")
    with pytest.raises(HarnessError, match="has uncommitted changes"):
        bisect.bisect(repo, commits[0], "master", [CASE], out=print)
    # The command line says the same, with exit status 2.
    assert bisect.main(["--src", str(repo), "--good", commits[0], "--bad", "master", CASE]) == 2
    assert "error: the checkout" in capsys.readouterr().err
    assert not (tmp_path / "configure.count").exists()                           # nothing was built


def test_bisect_refuses_ends_with_the_same_outcome(qemu_tree, tmp_path):
    repo, commits = qemu_tree
    with pytest.raises(HarnessError, match=r"the cases' outcome is the same at .* nothing to bisect"):
        bisect.bisect(repo, commits[0], commits[1], [CASE], out=print, logs=tmp_path / "logs")
    assert head(repo) == "master"


def test_outcomes_are_observations_not_verdicts():
    """A version crossing a known-bug range turns an xfail into a pass with nothing observed changing."""
    step = {"n": 0, "op": "load64", "va": "0x80000000", "observed": "completes, value 0x1", "ok": False}
    before = {"cases": [{"id": "f.c", "outcome": "xfailed", "reason": None, "steps": [step], "problems": []}]}
    after = {"cases": [{"id": "f.c", "outcome": "failed", "reason": None, "steps": [dict(step, ok=True)],
                        "problems": []}]}
    assert bisect.outcome(before, ["f.c"]) == bisect.outcome(after, ["f.c"])
    assert bisect.outcome({"cases": []}, ["f.c"]) == {"f.c": ["not in the results"]}


def test_the_defaults_are_qemus():
    assert bisect.DEFAULT_CONFIGURE == "../configure --target-list=aarch64-softmmu"
    assert bisect.default_make().startswith("make -j")
    assert shutil.which("git")
