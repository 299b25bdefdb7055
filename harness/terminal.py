"""The suite's terminal summary (a pytest plugin conftest.py registers): short by default.

    FAILED <id>: <what failed first>; rerun: <command>   one line per failing instance
    UNJUDGED <id>: step <n>: <the model's reason>; rerun: <command>
                                                          one per instance the model could not judge
    known bugs of QEMU 7.2.22: 18 bugs, 61 instances xfailed (-v: each instance's reason)
      <bug>  <rule>: <n> xfailed (<id> (<steps it excuses>), ...) ...
                                                          one line per known bug
    skipped <n>: <reason> (<ids>)                         one line per reason
    <n> of <m> verdicts are from a rerun alone ...        (-v: which)
    ... pytest's own counts ...
    MMU conformance: 738 passed, ... ; results in ...     the suite's summary, last

With -v pytest's own short summary (each xfail's and skip's reason, -rsx in
pytest.ini) is printed as well, and the lists are not cut.  The data are the
results entries (harness/results.py) and the cases' known-bug marks; a step
the model explains by a known bug names it in the entry's steps
(`known_bugs`), so an instance that passes its own checks while a known bug
shows in a step it does not check is counted under that bug too.
"""
import shlex
from pathlib import Path
from collections import defaultdict

import pytest

from harness.results import describe_excused, excused_steps

ROOT = Path(__file__).resolve().parent.parent
SHOWN = 3           # instance IDs a line names before "+N more" (without -v)
UNJUDGED_SHOWN = 10 # unjudged instances listed one a line (without -v)


def rerun_command(python, file, nodeid, qemu, cpu, options=()):
    """The command that reruns one case instance (of the case file `file`, pytest's `nodeid`)
    from the repository's root: `options` are (option, value) pairs not at their defaults
    (--cases, --build).  A case file outside the repository is named by its path, with the
    repository's conftest.py named as a plugin (pytest looks for it only above its arguments)."""
    file = Path(file).resolve()
    if ROOT in file.parents:
        head = [python, "-m", "pytest", nodeid]
    else:
        head = [python, "-m", "pytest", "-c", "pytest.ini", "--noconftest", "-p", "conftest",
                f"{file}::{nodeid.split('::', 1)[1]}"]
    return (f"{shlex.join(head)} --qemu={shlex.quote(qemu)} --cpu={cpu}"
            + "".join(f" {opt}={value}" for opt, value in options))


def _ids(ids, verbose):
    ids = list(ids)
    if verbose or len(ids) <= SHOWN:
        return ", ".join(ids)
    return f"{', '.join(ids[:SHOWN])} +{len(ids) - SHOWN} more"


def first_problem(entry):
    """What failed first in a results entry, in a line."""
    for step in entry.get("steps") or ():
        if step.get("problems"):
            return f"step {step['n']} {step['op']} va={step['va']}: {step['problems'][0]}"
    if entry.get("problems"):
        return entry["problems"][0]
    return entry.get("reason") or "failed (see its report above)"


def unjudged_step(entry):
    """The first step of a results entry the model could not judge (its `unjudged` reason), or None."""
    return next((s for s in entry.get("steps") or () if s.get("unjudged")), None)


def step_bugs(entry):
    """The known bugs the model names for the entry's steps (in step order, each once)."""
    names = entry.get("known_bugs")
    if isinstance(names, dict):         # the case's own summary of them, where the results carry it
        return list(names)
    return list(dict.fromkeys(b for s in entry.get("steps") or () for b in s.get("known_bugs") or ()))


def group_by_bug(entries, marks):
    """{bug name: {"xfailed": [ids], "seen": [ids]}}: each xfailed instance under the bugs the
    model names for its steps (else its mark, `marks`: {case id: bug name}), and each passed
    instance with a step a known bug explains under that bug ("seen": it checks something else)."""
    groups = defaultdict(lambda: {"xfailed": [], "seen": []})
    for e in entries:
        if e["outcome"] == "xfailed":
            for bug in step_bugs(e) or [marks.get(e["id"]) or "(unnamed)"]:
                groups[bug]["xfailed"].append(e["id"])
        elif e["outcome"] == "passed":
            for bug in step_bugs(e):
                groups[bug]["seen"].append(e["id"])
    return dict(sorted(groups.items()))


class TerminalSummary:
    """Writes the summary above at the session's end (the controller's, under xdist)."""

    def __init__(self, writer, rerun, bug_marks=(), implementation=None):
        self.writer = writer
        self.rerun = rerun          # (case file, nodeid) -> the command that reruns it
        self.bug_marks = bug_marks  # the bugs files' marks that cover this run (harness/implementation.py)
        self.implementation = implementation
        self.session = None

    @pytest.hookimpl
    def pytest_sessionstart(self, session):
        self.session = session

    def cases(self, entries):
        """{case id: Case} of `entries`: the session's items, or (an xdist controller collects
        none) the entries' case files loaded again."""
        items = getattr(self.session, "items", ())       # an xdist controller's session has none
        cases = {i.case.id: i.case for i in items if hasattr(i, "case")}
        if not cases:
            from harness.cases import CaseError, load_file
            for path in sorted({e["file"] for e in entries}):
                try:
                    cases.update((c.id, c) for c in load_file(path))
                except (CaseError, OSError):
                    continue        # changed since: the lines go without its marks' rules
        return cases

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter, config):
        verbose = config.getoption("verbose") > 0
        if not verbose:
            # pytest.ini's -rsx lists every xfail's and skip's reason: the lines below group them.
            terminalreporter.reportchars = "".join(c for c in terminalreporter.reportchars if c not in "sx")
        entries = sorted(self.writer.entries, key=lambda e: e["nodeid"])
        write = terminalreporter.write_line
        failing = [e for e in entries if e["outcome"] in ("failed", "xpassed", "error")]
        unjudged = [e for e in entries if e not in failing and unjudged_step(e)]
        bugged = [e for e in entries if e["outcome"] == "xfailed" or (e["outcome"] == "passed" and step_bugs(e))]
        skipped = [e for e in entries if e["outcome"] == "skipped"]
        if not (failing or unjudged or bugged or skipped):
            return
        terminalreporter.section("MMU conformance summary", sep="=")
        for e in failing:
            write(f"{'FAILED' if e['outcome'] != 'xpassed' else 'XPASS'} {e['id']}: {first_problem(e)}; "
                  f"rerun: {self.rerun(e['file'], e['nodeid'])}")
        for e in unjudged if verbose else unjudged[:UNJUDGED_SHOWN]:
            step = unjudged_step(e)
            write(f"UNJUDGED {e['id']}: step {step['n']}: the model could not judge it: {step['unjudged']}; "
                  f"rerun: {self.rerun(e['file'], e['nodeid'])}")
        if len(unjudged) > UNJUDGED_SHOWN and not verbose:
            write(f"UNJUDGED +{len(unjudged) - UNJUDGED_SHOWN} more instances (-v lists them)")
        if bugged:
            self._known_bugs(write, bugged, verbose)
        reasons = defaultdict(list)
        for e in skipped:
            reasons[e.get("reason") or "no reason given"].append(e["id"])
        for reason, ids in sorted(reasons.items()):
            write(f"skipped {len(ids)}: {reason} ({_ids(ids, verbose)})")
        reruns = [e["id"] for e in entries if e.get("rerun")]
        if reruns:
            write(f"{len(reruns)} of {len(entries)} verdicts are from a rerun alone on a fresh boot, after their "
                  f"shared boot (\"rerun\" in the results{'' if verbose else '; -v lists them'})"
                  + (f": {', '.join(reruns)}" if verbose else ""))

    def _known_bugs(self, write, bugged, verbose):
        cases = self.cases(bugged)
        marks = {i: c.xfail.name for i, c in cases.items() if c.xfail is not None and c.xfail.name}
        rules = {c.xfail.name: c.xfail.rule for c in cases.values() if c.xfail is not None and c.xfail.name}
        for e in bugged:
            for m in self.bug_marks:
                if m.marks(e["id"]):
                    marks.setdefault(e["id"], m.name)
                    rules.setdefault(m.name, m.rule)
        groups = group_by_bug(bugged, marks)
        xfailed = sum(e["outcome"] == "xfailed" for e in bugged)
        who = self.implementation or f"QEMU {self.writer.header['qemu_version']}"
        write(f"known bugs of {who}: {len(groups)} bugs, {xfailed} instances "
              f"xfailed{'' if verbose else ' (-v: each instance with its reason)'}:")
        width = max(map(len, groups))
        by_id = {e["id"]: e for e in bugged}
        for bug, g in groups.items():
            def excusing(ids):
                """Each instance with what the bug excuses in it (its steps, how its run ended)."""
                return [f"{i} ({describe_excused(x)})" if (x := excused_steps(by_id[i], bug)) else i for i in ids]
            parts = []
            if g["xfailed"]:
                parts.append(f"{len(g['xfailed'])} xfailed ({_ids(excusing(g['xfailed']), verbose)})")
            if g["seen"]:
                parts.append(f"{len(g['seen'])} passed their own checks with it in a step "
                             f"({_ids(excusing(g['seen']), verbose)})")
            rule = rules.get(bug)
            write(f"  {bug:{width}}  {rule + ': ' if rule else ''}{'; '.join(parts)}")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session):
        """The suite's summary after pytest's own counts: the last line of the run."""
        yield
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and self.writer.entries:
            reporter.write_line(self.writer.summary_line())
