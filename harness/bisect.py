"""The first QEMU commit that changed some cases' outcome: `git bisect run` over a QEMU tree.

    python -m harness.bisect --src ~/qemu --good v9.2.0 --bad v10.0.0 at_par.memory_type[normal_nc] ...

It configures the tree once, for aarch64-softmmu only, in <src>/build
(`../configure --target-list=aarch64-softmmu`), then builds each revision
incrementally (`make -j<CPUs>`); both commands can be replaced
(--configure, --make, run in the build directory).  At each revision it
runs only the named cases on the binary it built and compares what they
observed, step by step, with what they observed at the good revision:
the same is good, anything else is bad, and a revision that does not build
is skipped.  It prints the first commit whose outcome differs, with the
steps that changed, and leaves the checkout as it found it (`git bisect
reset`).

An outcome is what the cases observed (each step's decoded observation,
the run's problems, or the skip), not pytest's verdict: a version number
that crosses a known-bug mark's range changes an xfail into a pass with
nothing observed changing.

It refuses, before building anything, a tree with uncommitted changes to
tracked files, a bisect already under way, a revision that does not
exist, and a case ID the suite does not have; and, after building both
ends, cases whose outcome is the same on both.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import case_paths
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent
GOOD, BAD, SKIP, ABORT = 0, 1, 125, 255      # what `git bisect run` reads from the driver's exit status
DEFAULT_CONFIGURE = "../configure --target-list=aarch64-softmmu"
# Where QEMU's build puts the binary: since 5.2 in the build directory, before it under the target's.
BINARIES = ("qemu-system-aarch64", "aarch64-softmmu/qemu-system-aarch64")


def default_make():
    return f"make -j{os.cpu_count() or 1}"


def git(src, *args, check=True):
    """git in `src`; its stdout, stripped.  A failing command is a HarnessError with git's message."""
    proc = subprocess.run(["git", "-C", str(src), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise HarnessError(f"git {' '.join(args)} in {src} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def commit_of(src, rev):
    """The full hash of revision `rev`, or a HarnessError saying it does not exist."""
    proc = subprocess.run(["git", "-C", str(src), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise HarnessError(f"revision {rev!r} does not exist in {src}")
    return proc.stdout.strip()


def subject(src, commit):
    return git(src, "show", "-s", "--format=%h %s", commit)


def check_tree(src):
    """Refuse a directory that is not a git checkout, one with changes to tracked files, or one mid-bisect."""
    if not (Path(src) / ".git").exists():
        raise HarnessError(f"{src} is not the top of a git checkout (no .git)")
    dirty = git(src, "status", "--porcelain", "--untracked-files=no")
    if dirty:
        raise HarnessError(f"the checkout {src} has uncommitted changes; commit or stash them first:\n{dirty}")
    if subprocess.run(["git", "-C", str(src), "bisect", "log"], capture_output=True).returncode == 0:
        raise HarnessError(f"a git bisect is already under way in {src}: finish it with `git bisect reset`")


def case_nodes(case_ids, paths):
    """{case ID: its pytest node, <case file>::<name>} of the cases `paths` (CASES=) hold; an
    unknown ID is a HarnessError naming the closest."""
    cases = case_paths.load(paths)
    found = [case_paths.find(cases, text) for text in case_ids]
    return {c.id: f"{c.path}::{c.id.split('.', 1)[1]}" for c in found}


def outcome(doc, case_ids):
    """{case id: [what it observed]}: each step's observation and the run's problems, or its skip."""
    entries = {e["id"]: e for e in doc["cases"]}
    out = {}
    for case_id in case_ids:
        e = entries.get(case_id)
        if e is None:
            out[case_id] = ["not in the results"]
        elif e["outcome"] == "skipped":
            out[case_id] = [f"skipped: {e['reason']}"]
        else:
            out[case_id] = [f"step {s['n']} {s['op']} va={s['va']}: {s['observed']}" for s in e["steps"]] + \
                           [f"run: {p}" for p in e["problems"]]
    return out


def differences(before, after):
    """The lines of `after` that `before` does not have, by case."""
    lines = []
    for case_id in after:
        old, new = before.get(case_id, []), after[case_id]
        changed = [(o, n) for o, n in zip(old, new) if o != n] + \
                  [(o, None) for o in old[len(new):]] + [(None, n) for n in new[len(old):]]
        for o, n in changed:
            lines.append(f"  {case_id}: {o or '(nothing)'}\n  {' ' * len(case_id)}  -> {n or '(nothing)'}")
    return lines


# ------------------------------------------------------------------ one revision


def build(state, log):
    """Build the checked-out revision incrementally; whether it built (the output goes to `log`)."""
    with open(log, "w") as f:
        proc = subprocess.run(state["make"], shell=True, cwd=state["build_dir"], stdout=f, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    return proc.returncode == 0


def binary(state):
    build_dir = Path(state["build_dir"])
    if state.get("binary"):
        return build_dir / state["binary"]
    return next((build_dir / b for b in BINARIES if (build_dir / b).exists()), build_dir / BINARIES[0])


def run_cases(state, results):
    """Run the state's cases on the built binary; their outcome, or a HarnessError saying why there is none."""
    qemu = binary(state)
    if not os.access(qemu, os.X_OK):
        raise HarnessError(f"the build made no executable {qemu}")
    results.mkdir(parents=True, exist_ok=True)
    cmd = [state["python"], "-m", "pytest", "-q", "-p", "no:cacheprovider", *state["nodes"].values(),
           f"--qemu={qemu}", f"--cpu={state['cpu']}", *(f"--cases={p}" for p in state["cases_paths"]),
           f"--build={state['kernel_build']}", f"--results={results}"]
    log = results / "pytest.log"
    with open(log, "w") as f:
        status = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    found = sorted(results.glob("*.json"))
    if status not in (0, 1) or not found:
        raise HarnessError(f"the suite did not run the cases (pytest exit status {status}; log: {log})")
    return outcome(json.loads(found[0].read_text()), state["cases"])


def evaluate(state, commit):
    """(answer, outcome or None, why) for the checked-out revision `commit`."""
    state_dir = Path(state["dir"])
    log = state_dir / f"build-{commit[:12]}.log"
    if not build(state, log):
        return SKIP, None, f"the build failed (log: {log})"
    try:
        got = run_cases(state, state_dir / f"results-{commit[:12]}")
    except HarnessError as e:
        return SKIP, None, str(e)
    (state_dir / f"outcome-{commit}.json").write_text(json.dumps(got))
    if state.get("good") is None:
        return GOOD, got, "an end"
    return (GOOD, got, "the same outcome as the good revision") if got == state["good"] else \
        (BAD, got, "its outcome differs from the good revision's")


def step(state_path):
    """`git bisect run`'s driver: build, run, answer good (0), bad (1) or skip (125); 255 aborts."""
    try:
        state = json.loads(Path(state_path).read_text())
        commit = git(state["src"], "rev-parse", "HEAD")
        answer, _, why = evaluate(state, commit)
    except Exception as e:      # anything unforeseen stops the bisect rather than answer wrongly
        print(f"bisect driver: {e!r}: stopping the bisect", flush=True)
        return ABORT
    print(f"bisect: {subject(state['src'], commit)}: {['good', 'bad'][answer] if answer in (GOOD, BAD) else 'skip'}"
          f" ({why})", flush=True)
    return answer


# ------------------------------------------------------------------ the whole bisect


def checkout(src, commit):
    git(src, "checkout", "-q", "--detach", commit)


def bisect(src, good, bad, case_ids, configure=DEFAULT_CONFIGURE, make=None, build_dir=None, binary_path=None,
           cpu="max", cases_paths=(ROOT / "cases",), kernel_build=ROOT / "build", python=sys.executable, out=print,
           logs=None):
    """Find the first commit between `good` and `bad` whose outcome of `case_ids` differs from good's;
    the builds' and runs' logs go to `logs` (default: a new temporary directory, kept).
    Returns (its hash, or None when git names several it could be, and its outcome)."""
    src = Path(src).resolve()
    check_tree(src)
    good_commit, bad_commit = commit_of(src, good), commit_of(src, bad)
    nodes = case_nodes(case_ids, [Path(p).resolve() for p in cases_paths])
    case_ids = list(nodes)
    branch = git(src, "symbolic-ref", "-q", "--short", "HEAD", check=False)
    original = branch or git(src, "rev-parse", "HEAD")
    state_dir = Path(logs) if logs else Path(tempfile.mkdtemp(prefix="mmu-bisect-"))
    state_dir.mkdir(parents=True, exist_ok=True)
    build_dir = Path(build_dir or src / "build").resolve()
    state = {"src": str(src), "dir": str(state_dir), "build_dir": str(build_dir), "make": make or default_make(),
             "binary": binary_path, "cpu": cpu, "cases": case_ids, "nodes": nodes,
             "cases_paths": [str(Path(p).resolve()) for p in cases_paths],
             "kernel_build": str(Path(kernel_build).resolve()), "python": python, "good": None}
    out(f"bisecting {src} from {subject(src, good_commit)} (good) to {subject(src, bad_commit)} (bad) "
        f"on {', '.join(case_ids)}; logs in {state_dir}")
    started = False
    try:
        checkout(src, good_commit)
        build_dir.mkdir(parents=True, exist_ok=True)
        out(f"configuring once in {build_dir}: {configure}")
        log = state_dir / "configure.log"
        with open(log, "w") as f:
            if subprocess.run(configure, shell=True, cwd=build_dir, stdout=f, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode != 0:
                raise HarnessError(f"configure failed at the good revision (log: {log})")
        ends = {}
        for name, commit in (("good", good_commit), ("bad", bad_commit)):
            checkout(src, commit)
            answer, got, why = evaluate(state, commit)
            if got is None:
                raise HarnessError(f"the {name} revision {subject(src, commit)} cannot be judged: {why}")
            ends[name] = got
            out(f"{name} revision {subject(src, commit)}: built and ran the cases")
        if ends["good"] == ends["bad"]:
            raise HarnessError(f"the cases' outcome is the same at {good} and at {bad}: nothing to bisect\n"
                               + "\n".join(f"  {c}: {'; '.join(lines)}" for c, lines in ends["good"].items()))
        state["good"] = ends["good"]
        state_path = state_dir / "state.json"
        state_path.write_text(json.dumps(state))
        git(src, "bisect", "start", bad_commit, good_commit)
        started = True
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        driver = [python, "-m", "harness.bisect", "--step", str(state_path)]
        proc = subprocess.Popen(["git", "-C", str(src), "bisect", "run", *driver], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env, stdin=subprocess.DEVNULL)
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("bisect: ") or line.startswith("bisect driver: "):
                out(line.rstrip("\n"))
        proc.wait()
        text = "\n".join(lines)
        first = re.search(r"^([0-9a-f]{40}) is the first bad commit", text, re.M)
        if first:
            commit = first.group(1)
            got = json.loads((state_dir / f"outcome-{commit}.json").read_text())
            out(f"\nfirst commit whose outcome differs: {git(src, 'show', '-s', '--format=%H%n  %an, %ad%n  %s', commit)}")
            out("what changed (at the good revision -> at that commit):")
            for line in differences(ends["good"], got):
                out(line)
            return commit, got
        several = re.search(r"The first bad commit could be any of:\n((?:[0-9a-f]{40}\n?)+)", text)
        if several:
            out("\nthe first commit whose outcome differs is one of these (the others between them did not build):")
            for commit in several.group(1).split():
                out(f"  {subject(src, commit)}")
            return None, None
        raise HarnessError(f"git bisect run ended without a first bad commit (exit status {proc.returncode}):\n"
                           + "\n".join(lines[-15:]))
    finally:
        if started:
            git(src, "bisect", "reset", check=False)
        git(src, "checkout", "-q", original, check=False)
        out(f"checkout restored: {original}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", metavar="CASE_ID", help="case instance IDs, as `make run` reports them")
    parser.add_argument("--src", help="the QEMU git checkout")
    parser.add_argument("--good", help="a revision where the cases behave as before")
    parser.add_argument("--bad", help="a revision where they do not")
    parser.add_argument("--configure", default=DEFAULT_CONFIGURE,
                        help=f"run once in the build directory (default: {DEFAULT_CONFIGURE})")
    parser.add_argument("--make", default=None, help="builds a revision, in the build directory "
                                                     "(default: make -j<CPUs>)")
    parser.add_argument("--build-dir", default=None, help="QEMU's build directory (default: <src>/build)")
    parser.add_argument("--binary", default=None, help="the built QEMU, relative to the build directory "
                                                       f"(default: the first of {', '.join(BINARIES)})")
    parser.add_argument("--cpu", default="max")
    parser.add_argument("--cases", action="append", dest="cases_paths",
                        help="case directories and files (CASES=; default: cases/)")
    parser.add_argument("--build", default=str(ROOT / "build"), help="the suite's kernel build directory")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--step", metavar="STATE", help=argparse.SUPPRESS)     # git bisect run's driver
    args = parser.parse_args(argv)
    if args.step:
        return step(args.step)
    if not (args.src and args.good and args.bad and args.cases):
        parser.error("give --src, --good, --bad and at least one case ID "
                     "(make bisect QEMU_SRC=... GOOD=... BAD=... CASE=...)")
    try:
        commit, _ = bisect(args.src, args.good, args.bad, args.cases, args.configure, args.make, args.build_dir,
                           args.binary, args.cpu, case_paths.split(args.cases_paths), args.build, args.python,
                           out=lambda text: print(text, flush=True))
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if commit else 1


if __name__ == "__main__":
    sys.exit(main())
