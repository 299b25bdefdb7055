"""The known-bug catalogue: every known QEMU bug the case files mark, and which runs show it.

    python -m harness.bugs                       the catalogue over results/*.json
    python -m harness.bugs --show A.json B.json  over those runs
    python -m harness.bugs --qemu PATH|BUILD     run the suite on that QEMU first, then say which
                                                 known bugs it has and which cases newly differ

A known bug is a `[bug.<name>]` table of a case file: the QEMU versions that
have it (`qemu`), the rule it breaks (`rule`: the M.a.a section and its ASL
function) and what QEMU does (`reason`); the cases that mark it with `xfail`
show it.  The known-bug model variants (harness/fuzz/known.py) say what the
QEMU does in one line.  Whether a run shows a bug is read from the model's
verdicts, step by step: a run shows it where a step's observation is one
the model explains by that bug (the results' `known_bugs`), not from the
xfail marks; where the marked cases depart from the architecture and no
step names the bug (no model variant, or a QEMU outside the bug's range),
the run says so.  `make compare` writes the same catalogue into
results/report.html.
"""
import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.matrix import BREAKS, MATCHES, NOT_RUN, ROOT, architecture, load_run
from harness.qemu_builds import qemus_tool, resolve_qemu
from harness.results import describe_excused, excused_steps
from harness.versions import parse_range, parse_version

SHOWS, FIXED, UNEXPLAINED = "shows it", "does not show it", "its cases depart, unexplained"


@dataclass
class KnownBug:
    name: str
    rule: str | None
    ranges: dict = field(default_factory=dict)      # {case file: QEMU range}: a bug may be marked in several
    reasons: dict = field(default_factory=dict)     # {case file: reason}
    cases: list = field(default_factory=list)       # the instances that mark it (xfail)
    does: str | None = None                         # the model variant's line: what QEMU does
    features: tuple = ()                            # the CPU features its marks name (cases.Xfail.features)

    @property
    def behaviour(self):
        return self.does or next(iter(self.reasons.values()))

    @property
    def first_fixed(self):
        """The first QEMU version the marks say is fixed (each range's upper bound), or None."""
        bounds = set()
        for spec in self.ranges.values():
            uppers = [(op.__name__, bound) for op, bound in parse_range(spec) if op.__name__ in ("lt", "le")]
            if not uppers:
                return None
            kind, bound = min(uppers, key=lambda u: u[1])
            if kind == "le":
                return None     # broken up to and with the newest version it names
            bounds.add(bound)
        return ".".join(map(str, max(bounds))) if bounds else None


@dataclass
class Seen:
    """What one run says about one known bug."""
    state: str                      # SHOWS, FIXED, UNEXPLAINED or NOT_RUN
    steps: list                     # [(case id, step n)] the model explains by this bug
    marked: dict                    # {case id: architecture verdict} of the marked cases in this run


def catalogue(cases):
    """[KnownBug] of the loaded cases' marks, by name, with the variants' descriptions."""
    from harness.fuzz.known import KNOWN_BUGS
    does = {b.name: b.does for b in KNOWN_BUGS}
    bugs = {}
    for case in cases:
        x = case.xfail
        if x is None:
            continue
        name = x.name or f"{case.id} (its own xfail table)"
        bug = bugs.setdefault(name, KnownBug(name, x.rule, does=does.get(name)))
        bug.rule = bug.rule or x.rule
        where = str(Path(case.path).name)
        bug.ranges[where] = x.qemu
        bug.features = tuple(dict.fromkeys((*bug.features, *x.features)))
        bug.reasons[where] = " ".join(x.reason.split())
        bug.cases.append(case.id)
    return sorted(bugs.values(), key=lambda b: b.name)


def build_of(run):
    """The name of the fetched build (tools/qemus.py) a run ran on, or None."""
    qemu = Path(run.doc.get("qemu") or "")
    return qemu.parent.name if qemu.parent.parent == qemus_tool().cache_dir() else None


def run_name(run):
    """A run's label, with the name of the fetched build it ran on, if it did."""
    build = build_of(run)
    return f"{run.label} ({build})" if build else run.label


def column_names(runs):
    """Short column heads: the QEMU version and its build's name, the CPU where the runs' differ."""
    cpus = {r.doc["cpu"] for r in runs}
    return [" ".join(filter(None, [r.doc["qemu_version"], build_of(r),
                                   f"-cpu {r.doc['cpu']}" if len(cpus) > 1 else None])) for r in runs]


def explained_steps(run, name):
    """[(case id, n)]: the steps of a run whose observation the model explains by bug `name`, and
    (case id, "run") where it explains how a case's run ended (a QEMU that aborted), as the
    results' per-case `known_bugs` ({bug: [step numbers, "run"]}) say where they have it."""
    return [(e["id"], n) for e in run.doc["cases"] for n in excused_steps(e, name)]


def seen(bug, run):
    steps = explained_steps(run, bug.name)
    entries = run.entries()
    marked = {c: architecture(entries.get(c)) for c in bug.cases}
    ran = {c: a for c, a in marked.items() if a != NOT_RUN}
    if steps:
        state = SHOWS
    elif not ran:
        state = NOT_RUN
    elif all(a == MATCHES for a in ran.values()):
        state = FIXED
    else:
        state = UNEXPLAINED
    return Seen(state, steps, marked)


def plural(n, word):
    return f"{n} {word}{'s' * (n != 1)}"


SHORT = {SHOWS: "yes", FIXED: "no", UNEXPLAINED: "departs?", NOT_RUN: "not run"}


def seen_text(s):
    if s.state == SHOWS:
        steps = [c for c, n in s.steps if n != "run"]
        ended = [c for c, n in s.steps if n == "run"]
        return f"{SHOWS}: " + ", ".join(filter(None, [
            steps and f"{plural(len(steps), 'step')} in {plural(len(set(steps)), 'instance')}",
            ended and f"how {plural(len(ended), 'run')} ended"]))
    if s.state == FIXED:
        ran = [a for a in s.marked.values() if a != NOT_RUN]
        return f"{FIXED}: its {plural(len(ran), 'marked instance')} {'matches' if len(ran) == 1 else 'match'} " \
               f"the architecture"
    if s.state == UNEXPLAINED:
        broken = sorted(c for c, a in s.marked.items() if a == BREAKS)
        return f"{UNEXPLAINED}: {plural(len(broken), 'marked instance')} {'breaks' if len(broken) == 1 else 'break'} " \
               f"the architecture and no step is " \
               f"explained by this bug (no model variant, or outside its range): {', '.join(broken[:3])}" \
               f"{' ...' if len(broken) > 3 else ''}"
    return "not run: its marked instances were skipped or are not in this run"


def steps_lines(s):
    """The steps a run shows a bug in, a line per instance ("at_par.device: steps 0, 2")."""
    by_case = {}
    for case_id, n in s.steps:
        by_case.setdefault(case_id, []).append(n)
    return [f"{case_id}: {describe_excused(ns)}" for case_id, ns in by_case.items()]


def departures(entry):
    """The steps of an instance that depart from the architecture with no known bug to explain
    them, and its run's problems: [text]."""
    out = [f"step {s['n']} {s['op']} va={s['va']}: expected {s['expected']}; got {s['observed']}"
           for s in entry["steps"] if not s["ok"] and not s.get("known_bugs")]
    return out + list(entry["problems"])


def build_text(run, bugs, others=()):
    """Which known bugs one build has, and the instances that differ from the architecture where no
    known bug explains it: newly (another run matches the architecture there), or as on the others."""
    has = [b for b in bugs if seen(b, run).state == SHOWS]
    lines = [f"QEMU {run_name(run)}, {run.doc.get('qemu')}: {len(has)} of the {len(bugs)} known bugs"
             + (": " + ", ".join(b.name for b in has) if has else "")]
    other_entries = [(o, o.entries()) for o in others]
    new, old = [], []
    for e in run.doc["cases"]:
        if e["outcome"] == "skipped" or architecture(e) != BREAKS:
            continue
        problems = departures(e)
        if not problems:
            continue        # every departure is a known bug's
        matching = [run_name(o) for o, entries in other_entries if architecture(entries.get(e["id"])) == MATCHES]
        (new if matching or not others else old).append((e, problems, matching))
    if not new and not old:
        lines.append("no instance departs from the architecture but where a known bug explains it")
    elif not new:
        lines.append("no instance newly differs from the architecture (where another run matches it)")
    for group, title in ((new, "newly differ from the architecture (no known bug explains them"
                               + ("; other runs match the architecture there)" if others else ")")),
                         (old, "differ from the architecture as on every other run that ran them "
                               "(no known bug explains them)")):
        if group:
            lines.append(f"{plural(len(group), 'instance')} {title}:")
        for e, problems, matching in group:
            lines.append(f"  {e['id']} ({e['outcome']})" +
                         (f"; matches the architecture on {', '.join(matching)}" if matching else ""))
            lines += [f"      {p}" for p in problems]
    return "\n".join(lines)


def catalogue_text(bugs, runs):
    """At a glance (a row per bug, a column per run: yes, no, departs? or not run), then each bug."""
    seen_by = {b.name: [seen(b, r) for r in runs] for b in bugs}
    lines = [f"{len(bugs)} known QEMU bugs marked in the case files, on {len(runs)} runs "
             f"(yes: the model explains steps of that run by the bug; no: its marked cases match the "
             f"architecture; departs?: they do not, and no step is explained by it):"]
    width = max(len(b.name) for b in [KnownBug("bug", None), *bugs])
    names = column_names(runs)
    cell_w = max(len(n) for n in names)
    lines.append(f"{'bug':<{width}}  {'first fixed':<11}  " + "  ".join(f"{n:<{cell_w}}" for n in names).rstrip())
    for b in bugs:
        lines.append(f"{b.name:<{width}}  {b.first_fixed or '-':<11}  " +
                     "  ".join(f"{SHORT[s.state]:<{cell_w}}" for s in seen_by[b.name]).rstrip())
    for b in bugs:
        ranges = sorted(set(b.ranges.values()))
        lines += ["", f"{b.name}",
                  f"  rule broken: {b.rule or '(no rule = in its [bug] table)'}",
                  f"  QEMU does:   {b.behaviour}",
                  f"  versions:    qemu = {' / '.join(repr(r) for r in ranges)}; first fixed: "
                  f"{b.first_fixed or 'none known'}"
                  + (f"; only with {', '.join(b.features)}" if b.features else ""),
                  f"  cases ({len(b.cases)}): {', '.join(b.cases[:4])}{' ...' if len(b.cases) > 4 else ''}"]
        for name, s in zip(names, seen_by[b.name]):
            lines.append(f"  QEMU {name:<{cell_w}}  {seen_text(s)}")
            lines += [f"      {line}" for line in steps_lines(s)]
    return "\n".join(lines)


def sorted_runs(runs):
    """Oldest QEMU first."""
    return sorted(runs, key=lambda r: (parse_version(r.doc["qemu_version"]), r.doc["cpu"]))


def main(argv=None):
    from harness import case_paths
    from harness.cases import CaseError
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", nargs="+", metavar="RESULTS_JSON", help="these runs (default: results/*.json)")
    parser.add_argument("--qemu", help="run the suite on this QEMU (a binary, a fetched build's name, `system`) "
                                       "first and say which known bugs it has")
    parser.add_argument("--cpu", default="max")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--results", default=str(ROOT / "results"))
    parser.add_argument("--cases", action="append", help="case directories and files (CASES=; default: cases/)")
    parser.add_argument("--build", default=str(ROOT / "build"))
    args = parser.parse_args(argv)
    try:
        paths = case_paths.split(args.cases)
        bugs = catalogue(case_paths.load(paths))
        build = None
        if args.qemu:
            from harness.matrix import run_pair
            from harness.qemu import qemu_version
            binary = resolve_qemu(args.qemu)
            version = qemu_version(binary)
            print(f"running the suite on QEMU {version} ({binary}) -cpu {args.cpu}", flush=True)
            status, out, log, _ = run_pair(args.python, binary, version, args.cpu, Path(args.results),
                                           paths, Path(args.build), 0)
            if out is None:
                raise HarnessError(f"the run on {binary} wrote no results (pytest exit status {status}; log: {log})")
            build = load_run(out)
        runs = sorted_runs([load_run(p) for p in args.show]) if args.show else sorted_runs(
            [load_run(p) for p in sorted(Path(args.results).glob("*.json"))])
    except (HarnessError, CaseError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    runs = [r for r in runs if not r.tests_other]     # QEMU's known bugs say nothing of other implementations
    if not runs:
        print(f"error: no results in {args.results} (of QEMU): run `make run` or `make compare` first, or give --show",
              file=sys.stderr)
        return 2
    print(catalogue_text(bugs, runs))
    if build is not None:
        others = [r for r in runs if r.path.resolve() != build.path.resolve()]
        print("\n" + build_text(build, bugs, others))
    return 0


if __name__ == "__main__":
    sys.exit(main())
