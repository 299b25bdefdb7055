"""The suite on several (QEMU, CPU) pairs, and what differs between them.

    python -m harness.matrix --qemus bookworm,sid --cpus max,cortex-a57   run, then show
    python -m harness.matrix --show results/7.2.22-max.json results/11.1.3-max.json

Each pair's run writes results/<qemu-version>-<cpu>.json as `make run` does
(its pytest output goes to results/<qemu-version>-<cpu>.log).  The matrix
lists every case instance whose outcome or observed steps differ between the
runs and, for each cell, whether that run matches the architecture (every
step as the case expects), does not, or did not run the case.  It also checks
every known-bug mark's QEMU range against the runs: a run inside the range
that matches the architecture means the bug is fixed there; a run outside it
that does not is a bug the range misses.  The same runs are written as
results/report.html (harness/report.py).

A QEMU is named as a build fetched by tools/qemus.py (`make qemus`), as
`system` (the qemu-system-aarch64 on PATH), or as the path of any
qemu-system-aarch64, such as one built from source.
"""
import argparse
import concurrent.futures
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.qemu_builds import qemus_tool, resolve_qemu
from harness.results import excused_steps, partial_path, read as read_results
from harness.summary import summary_text
from harness.versions import in_range, parse_version

ROOT = Path(__file__).resolve().parent.parent

MATCHES, BREAKS, NOT_RUN = "matches", "breaks", "not run"
MARK = {MATCHES: "✓", BREAKS: "✗", NOT_RUN: "-"}
SHORT_OUTCOME = {"passed": "pass", "failed": "FAIL", "xfailed": "xfail", "xpassed": "XPASS",
                 "skipped": "skip", "error": "ERROR", None: "absent"}


@dataclass(frozen=True)
class Run:
    path: Path
    doc: dict

    @property
    def label(self):
        """Its column's name; a partial run (a selection, stopped early: harness/results.py) says so,
        as its absent instances are not run, not absent from the suite."""
        partial = " (partial)" if self.doc.get("partial") else ""
        tested = self.doc["implementation"].replace("/", " ") if self.tests_other else self.doc["qemu_version"]
        return f"{tested} -cpu {self.doc['cpu']}{partial}"

    @property
    def tests_other(self):
        """Whether the run tested another implementation than QEMU (--implementation): QEMU's known-bug
        ranges and releases say nothing about it."""
        return bool(self.doc.get("implementation"))

    def entries(self):
        return {c["id"]: c for c in self.doc["cases"]}


def load_run(path):
    """A run's results file, checked against the results schema (harness.results.read)."""
    return Run(Path(path), read_results(path))


def step_matches(step):
    """Whether a step's observation is what the architecture says: as the case
    expects (its `ok` holds the model's verdict too), and not one that the
    model explains only as a known bug of that QEMU, as where the bug shows in
    a field the case leaves unchecked (PAR_EL1.SH of an AT that checks the PA)."""
    return step["ok"] and not step.get("known_bugs")


def architecture(entry):
    """MATCHES when every step of the run was as the case expects and the run
    itself had no problem; BREAKS when any was not; NOT_RUN when the case was
    skipped or is missing.  Judged from the steps, not pytest's outcome: a
    strict xfail that passes is 'failed' to pytest yet matches the architecture."""
    if entry is None or not entry["steps"] and not entry["problems"]:
        return NOT_RUN
    if entry["problems"] or not all(step_matches(s) for s in entry["steps"]):
        return BREAKS
    return MATCHES


def step_map(entry):
    return {} if entry is None else {s["n"]: s for s in entry["steps"]}


def differs(entries, cpus):
    """Whether one instance's entries (one per run; cpus[i] is run i's CPU) differ:
    in outcome or in a step's observation among the runs that ran it, or in
    whether it ran at all among the runs of one CPU (a CPU model whose
    features changed between QEMUs).  That a CPU lacks a feature another has
    is no difference: every run of it skips the case alike."""
    ran = [e for e in entries if e is not None and e["outcome"] != "skipped"]
    if len({e["outcome"] for e in ran}) > 1:
        return True
    steps = [step_map(e) for e in ran]
    if any(len({None if n not in s else s[n]["observed"] for s in steps}) > 1 for n in set().union(*steps)):
        return True
    runs_of = {}
    for e, cpu in zip(entries, cpus):
        runs_of.setdefault(cpu, set()).add(None if e is None else e["outcome"] == "skipped")
    return any(len(states) > 1 for states in runs_of.values())


def step_differences(entries):
    """[(n, op, va, expected, [(observed, matches, known bugs, model, [run index...]), ...])] for each
    step whose observation differs between the runs (runs that have no such step are left out);
    model: the outcomes the model permits for that run (None: the model did not judge the step)."""
    steps = [step_map(e) for e in entries]
    out = []
    for n in sorted(set().union(*steps)):
        groups = {}
        for i, s in enumerate(steps):
            if n in s:
                step = s[n]
                # A step the model left unjudged (an Unknown, or a possible amalgamation of TLB entries) has no
                # model verdict to show: agreement says the difference is unjudged.
                groups.setdefault((step["observed"], step_matches(step), tuple(step.get("known_bugs", ())),
                                   None if step.get("unjudged") else step.get("model")), []).append(i)
        if len(groups) > 1:
            first = next(s[n] for s in steps if n in s)
            out.append((n, first["op"], first["va"], first["expected"],
                        [(obs, ok, bugs, model, runs) for (obs, ok, bugs, model), runs in groups.items()]))
    return out


def why_all_right(models):
    """Why differing observations of one step, each matching its case, all match the architecture:
    the model judged each whole (every register bit) and permits each, with the rule that leaves
    the choice (harness/oracle.py).  None where the model did not judge one of them."""
    if not all(models):
        return None
    return "each is an outcome the model permits: " + " / ".join(dict.fromkeys(models))


def agreement(oks, models):
    """What a set of differing observations of one step says about the architecture,
    never guessing: all match it (each an outcome the model permits), none does, or
    some do (then each line says which).  models: the model's outcomes for each."""
    if all(oks):
        why = why_all_right(models)
        return (f"all match the architecture: {why}" if why else
                "all match the case's expectation; the model did not judge this step, so the difference is unjudged")
    if not any(oks):
        return "none matches the architecture"
    return None


def bug_range_findings(runs, cases):
    """[(case id, text)]: each known-bug range the runs contradict or can narrow
    down, and each regression (a run matches the architecture, a newer QEMU
    on the same CPU does not).  Runs of another implementation take no part:
    QEMU's ranges and releases say nothing of them."""
    by_id = {c.id: c for c in cases}
    run_entries = [r.entries() for r in runs]
    findings = []
    for case_id in sorted(set().union(*run_entries)):
        entries = [(r, e.get(case_id)) for r, e in zip(runs, run_entries)]
        case = by_id.get(case_id)
        # A mark that names CPU features says nothing of a run on a CPU without them, inside its QEMU range or
        # not (QEMU 7.2.22's -cpu max lacks FEAT_LSE2, so it cannot show lse2_alignment_wnr): that run is no
        # evidence for or against the range, nor of a regression against a newer QEMU whose max has them.
        judged = [(r, architecture(e)) for r, e in entries if architecture(e) != NOT_RUN and not r.tests_other
                  and not (case is not None and case.xfail is not None and _lacks_mark_features(case.xfail, r, e))]
        if case is not None and case.xfail is not None:
            findings += [(case_id, text) for text in _range_findings(case.xfail.qemu, judged)]
            # A departure inside the range is the bug's only where the model explains a step (or how the
            # run ended) by it: anything else is another departure the mark does not cover.
            findings += [(case_id, f"{r.label} departs from the architecture inside the known-bug range "
                                   f"qemu = \"{case.xfail.qemu}\", but [bug.{case.xfail.name}] explains none "
                                   "of its steps: another departure, not this bug")
                         for r, e in entries if architecture(e) == BREAKS and not r.tests_other
                         and in_range(r.doc["qemu_version"], case.xfail.qemu) and not excused_steps(e, case.xfail.name)]
        for cpu in sorted({r.doc["cpu"] for r, _ in judged}):
            ordered = sorted(((r, a) for r, a in judged if r.doc["cpu"] == cpu),
                             key=lambda ra: parse_version(ra[0].doc["qemu_version"]))
            for (older, a_old), (newer, a_new) in zip(ordered, ordered[1:]):
                if (a_old, a_new) == (MATCHES, BREAKS):
                    findings.append((case_id, f"regression: {older.label} matches the architecture, "
                                              f"{newer.label} does not"))
    return findings


def _lacks_mark_features(mark, run, entry):
    """Whether `run`'s CPU lacks a feature the case's mark names (its entry says so; results from before
    entries said it: inside the mark's range, a mark that does not apply)."""
    if not mark.features:
        return False
    recorded = entry.get("mark") or {}
    if "cpu_has_features" in recorded:
        return recorded["cpu_has_features"] is False
    return in_range(run.doc["qemu_version"], mark.qemu) and recorded.get("applies") is False


def _range_findings(rng, judged):
    version = lambda r: r.doc["qemu_version"]
    out = []
    for r, a in judged:
        inside = in_range(version(r), rng)
        if inside and a == MATCHES:
            out.append(f"known-bug range qemu = \"{rng}\" covers {r.label}, which matches the architecture "
                       f"(strict XPASS): the bug is fixed there")
        elif not inside and a == BREAKS:
            out.append(f"{r.label} does not match the architecture and is outside the known-bug range "
                       f"qemu = \"{rng}\"")
    broken = sorted((parse_version(version(r)), version(r)) for r, a in judged if a == BREAKS)
    fixed = sorted((parse_version(version(r)), version(r)) for r, a in judged if a == MATCHES)
    if not (broken and fixed):
        return out
    if broken[-1][0] < fixed[0][0]:
        first_fixed = fixed[0][1]
        # A range pinned to the newest broken run (`<=7.2.22`, `==7.2.22`) says
        # only what was seen; the runs narrow it down to the first fixed release.
        pinned = [f"<={broken[-1][1]}", f"=={broken[-1][1]}"]
        if out or rng.replace(" ", "") in pinned:
            out.append(f"the runs show it broken up to {broken[-1][1]} and fixed from {first_fixed}: "
                       f"write qemu = \"<{first_fixed}\"")
        return out
    # Broken in one stretch of releases (a regression, fixed later or not): the range that says so, asked for
    # only where the runs contradict the mark's range.  Broken, fixed and broken again is no one range.
    before = [v for v in fixed if v[0] < broken[0][0]]
    after = [v for v in fixed if v[0] > broken[-1][0]]
    if len(before) + len(after) == len(fixed):
        if out:
            bounds = ([f">{before[-1][1]}"] if before else []) + ([f"<{after[0][1]}"] if after else [])
            out.append(f"the runs show it broken from {broken[0][1]} to {broken[-1][1]}, fixed in the runs before "
                       f"and after: write qemu = \"{','.join(bounds)}\"")
        return out
    out.append("the runs show it broken and fixed in no single version order: "
               + ", ".join(f"{version(r)} {a}" for r, a in judged))
    return out


def column_names(n):
    return [chr(ord("A") + i) if n <= 26 else str(i + 1) for i in range(n)]


def matrix_text(runs, findings=()):
    """The terminal matrix: the runs as columns, first the summary of every family
    (harness/summary.py), then each differing instance as a row, and under it each
    differing step with which runs saw what."""
    names = column_names(len(runs))
    lines = ["runs (columns):"]
    for name, r in zip(names, runs):
        counts = ", ".join(f"{n} {k}" for k, n in sorted(r.doc.get("counts", {}).items()))
        lines.append(f"  {name}  QEMU {r.label:<24} {counts}  ({r.path})")
    lines += ["", summary_text(runs, names)]
    run_entries = [r.entries() for r in runs]
    ids = sorted(set().union(*run_entries))
    rows = [(i, [e.get(i) for e in run_entries]) for i in ids]
    cpus = [r.doc["cpu"] for r in runs]
    rows = [(i, es) for i, es in rows if differs(es, cpus)]
    lines.append("")
    if not rows:
        lines.append(f"no case instance differs between the runs ({len(ids)} instances)")
    else:
        lines.append(f"{len(rows)} of {len(ids)} case instances differ "
                     f"(✓ matches the architecture, ✗ does not, - not run):")
        width = max(len("instance"), *(len(i) for i, _ in rows))
        cell_w = 8
        lines.append(f"{'instance':<{width}}  " + "  ".join(f"{n:<{cell_w}}" for n in names).rstrip())
        for case_id, entries in rows:
            cells = [f"{SHORT_OUTCOME.get(e and e['outcome'], e and e['outcome'])} {MARK[architecture(e)]}"
                     for e in entries]
            lines.append(f"{case_id:<{width}}  " + "  ".join(f"{c:<{cell_w}}" for c in cells).rstrip())
            for n, op, va, expected, groups in step_differences(entries):
                lines.append(f"    step {n} {op} va={va}: expected {expected}")
                for observed, ok, bugs, _, where in groups:
                    known = f" (the model: known bug {', '.join(bugs)})" if bugs else ""
                    lines.append(f"      {MARK[MATCHES if ok else BREAKS]} {' '.join(names[w] for w in where)}: "
                                 f"{observed}{known}")
                verdict = agreement([ok for _, ok, _, _, _ in groups], [model for _, _, _, model, _ in groups])
                if verdict:
                    lines.append(f"      ({verdict})")
            for e, name in zip(entries, names):
                if e is not None and e["problems"]:
                    lines.append(f"    {name}: " + "; ".join(e["problems"]))
    if findings:
        lines += ["", "known-bug marks and regressions against these runs:"]
        lines += [f"  {case_id}: {text}" for case_id, text in findings]
    return "\n".join(lines)


# ------------------------------------------------------------------ running


def run_pair(python, qemu, version, cpu, results, cases, build, workers, pytest_args=()):
    """Run the suite once on the case paths `cases` (no test paths: the session runs them, wherever
    they are), with `pytest_args` (a selection: -k ...); returns (pytest exit status, results path,
    log path, seconds)."""
    stem = f"{version}-{cpu}"
    log = results / f"{stem}.log"
    cmd = [python, "-m", "pytest", f"--qemu={qemu}", f"--cpu={cpu}", *(f"--cases={c}" for c in cases),
           f"--build={build}", f"--results={results}", "--strict-model", "-q", "-p", "no:cacheprovider",
           "-n", str(workers),
           *pytest_args]
    start = time.time()
    with open(log, "w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        status = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    # A selection writes <stem>.partial.json (harness/results.py); a file older than this run is a
    # previous run's: this one wrote none.
    fresh = [out for out in (results / f"{stem}.json", partial_path(results / f"{stem}.json"))
             if out.exists() and out.stat().st_mtime >= start]
    return status, fresh[0] if fresh else None, log, time.time() - start


def run_matrix(qemus, cpus, python, results, cases, build, parallel, pytest_args=()):
    """Run every (QEMU, CPU) pair; returns ([Run], [problem text])."""
    from harness.qemu import qemu_version
    pairs, versions = [], {}
    for name in qemus:
        binary = resolve_qemu(name)
        version = qemu_version(binary)
        if version in versions:
            raise HarnessError(f"QEMUS names {versions[version]} and {name}, both QEMU {version}: their results "
                               f"would share results/{version}-<cpu>.json; name one of them")
        versions[version] = name
        pairs += [(name, binary, version, cpu) for cpu in cpus]
    results.mkdir(parents=True, exist_ok=True)
    cpu_count = os.cpu_count() or 1
    parallel = max(1, min(parallel or cpu_count, len(pairs)))
    # Runs side by side share the CPUs; each gets its share as pytest-xdist
    # workers, or runs in-process (-n 0) when its share is one CPU.
    share = cpu_count // parallel
    workers = share if share > 1 else 0
    print(f"running the suite on {len(pairs)} (QEMU, CPU) pairs, {parallel} at a time", flush=True)
    problems, runs = [], []
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        futures = {pool.submit(run_pair, python, binary, version, cpu, results, cases, build, workers, pytest_args):
                   (name, version, cpu) for name, binary, version, cpu in pairs}
        done = {}
        for future in concurrent.futures.as_completed(futures):
            name, version, cpu = futures[future]
            status, out, log, wall = future.result()
            verdict = {0: "all as expected", 1: "some cases failed"}.get(status, f"pytest exit status {status}")
            print(f"  {name} (QEMU {version}) -cpu {cpu}: {verdict}, {wall:.0f} s; log {log}", flush=True)
            if status != 0:
                problems.append(f"{name} (QEMU {version}) -cpu {cpu}: {verdict} (log: {log})")
            if out is None:
                problems.append(f"{name} (QEMU {version}) -cpu {cpu} wrote no results (log: {log})")
            else:
                done[(name, version, cpu)] = run = load_run(out)
                if run.doc.get("partial") and not pytest_args:
                    problems.append(f"{name} (QEMU {version}) -cpu {cpu}: a partial run "
                                    f"({', '.join(run.doc['partial'].get('why', []))}; log: {log})")
    runs = [done[(name, version, cpu)] for name, _, version, cpu in pairs if (name, version, cpu) in done]
    return runs, problems


def _split(text):
    return [x for part in text for x in part.replace(",", " ").split()]


def main(argv=None):
    from harness import case_paths
    from harness.bugs import catalogue
    from harness.cases import CaseError
    from harness.report import write_report
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qemus", nargs="+", default=[],
                        help="QEMUs: fetched build names, `system`, or binary paths (comma or space separated; "
                             "default: the builds `make qemus` fetches)")
    parser.add_argument("--cpus", nargs="+", default=["max"], help="CPU models (default: max)")
    parser.add_argument("--show", nargs="+", metavar="RESULTS_JSON", help="show existing results instead of running")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--results", default=str(ROOT / "results"))
    parser.add_argument("--cases", action="append",
                        help="case directories and files (CASES=; repeat it; default: cases/)")
    parser.add_argument("--pytest-args", default="",
                        help="more pytest arguments for every run, such as a selection (K=: -k EXPR; PYTEST_ARGS=)")
    parser.add_argument("--build", default=str(ROOT / "build"))
    parser.add_argument("--parallel", type=int, default=0, help="runs at a time (default: one per CPU)")
    parser.add_argument("--report", default=None, help="HTML report path (default: <results>/report.html)")
    args = parser.parse_args(argv)
    problems = []
    try:
        paths = case_paths.split(args.cases)
        cases = case_paths.load(paths)
        if args.show:
            runs = [load_run(p) for p in args.show]
        else:
            qemus = _split(args.qemus) or qemus_tool().DEFAULT_SET
            runs, problems = run_matrix(qemus, _split(args.cpus), args.python, Path(args.results),
                                        paths, Path(args.build), args.parallel, shlex.split(args.pytest_args))
    except (HarnessError, CaseError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    findings = bug_range_findings(runs, cases)
    print(matrix_text(runs, findings))
    report = Path(args.report or Path(args.results) / "report.html")
    write_report(report, runs, findings, catalogue(cases))
    print(f"\nHTML report: {report}")
    for p in problems:
        print(f"problem: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
