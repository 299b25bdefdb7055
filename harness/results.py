"""results/<qemu-version>-<cpu>.json: every case instance's outcome, step by step.

Written once, at the end of the session, to a temporary file renamed into
place: an interrupted run leaves the previous file or a complete new one
(marked interrupted), never half a file.  Read back (harness.compare, harness.matrix --show,
the report, make bugs) through read(), which checks the document once against the schema its
readers rely on: a file that is not one is a one-line error naming it.
"""
import json
import os
import time
from collections import Counter
from pathlib import Path

from harness.errors import HarnessError
from harness.versions import parse_version

# The results document's schema: bumped when a field its readers use changes.
SCHEMA = 1


def case_entry(case, nodeid, judgement, outcome, reason=None, applies=None, cpu_has_features=None):
    """A case's entry.  Per step: `verdict` ('ok', 'failed', 'known_bug', 'unjudged', 'amalgamation': see
    verdict.StepVerdict), `problems` (what fails it), `known_bugs` (names) and `explained` (the
    departures from the architecture they explain), `unjudged` (the model's reason, or null),
    `ok` (the step is what the architecture permits).  Per case: `known_bugs`, {bug name: [the
    step numbers it explains, and "run" for how the run ended]}; `explained`, the run-level
    departures they explain; `mark`, the case's [bug.*] mark ({"name", "qemu", "features", "applies":
    whether it covers this run, its QEMU version and CPU features, and "cpu_has_features": whether this
    run's CPU has every feature the mark names, whatever its QEMU version; or null)."""
    mark = case.xfail
    entry = {
        "id": case.id, "nodeid": nodeid, "file": str(case.path), "summary": " ".join(case.summary.split()),
        "outcome": outcome, "reason": reason, "wall": None, "batch_size": None, "fresh_boot": None, "rerun": None,
        "mark": None if mark is None else {"name": mark.name, "qemu": mark.qemu, "features": list(mark.features),
                                           "applies": applies, "cpu_has_features": cpu_has_features},
        "steps": [], "problems": [], "explained": [], "known_bugs": {},
    }
    if judgement is not None:
        entry.update(
            wall=round(judgement.wall, 4), batch_size=judgement.batch_size, fresh_boot=judgement.fresh_boot,
            rerun=judgement.rerun, problems=list(judgement.problems), explained=list(judgement.explained),
            known_bugs=judgement.explanations(),
            steps=[{"n": s.n, "op": s.op, "va": f"{s.va:#x}", "expected": s.expected, "observed": s.observed,
                    "verdict": s.verdict, "ok": s.ok, "problems": list(s.problems), "model": s.model,
                    "walk": list(s.walk), "known_bugs": list(s.known_bugs), "explained": list(s.explained),
                    "unjudged": s.unjudged} for s in judgement.steps],
        )
    return entry


def excused_steps(entry, name):
    """What known bug `name` excuses in a results entry: its step numbers whose departures the model
    explains by it (alone or with other bugs), and "run" where it explains how the run ended."""
    steps = [s["n"] for s in entry.get("steps") or ()
             if any(name in bugs.split("+") for bugs in s.get("known_bugs") or ())]
    per_case = entry.get("known_bugs")
    ended = isinstance(per_case, dict) and "run" in per_case.get(name, ())
    return steps + ["run"] * ended


def describe_excused(excused):
    """'steps 0, 3 and how the run ended' for excused_steps' list."""
    steps = [str(n) for n in excused if n != "run"]
    parts = [f"step{'s' * (len(steps) > 1)} {', '.join(steps)}"] if steps else []
    return " and ".join(parts + ["how the run ended"] * ("run" in excused))


def _lines(doc):
    """The document as JSON with one case instance a line: greppable, and a fifth smaller than
    indented JSON (2.5 MB instead of 3.1 MB for 807 instances)."""
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"}, indent=1)[:-2]
    cases = ",\n".join(json.dumps(c, separators=(",", ":")) for c in doc["cases"])
    return f'{head},\n "cases": [\n{cases}\n]}}\n'


class ResultsWriter:
    """The results of one session.  A session that ran every case instance of its case paths to its
    end writes <stem>.json; any other (a selection: -k, a file, node IDs; -x or --maxfail stopping
    it; an interruption; cases missing) writes <stem>.partial.json, marked `partial` with what it
    ran of what, and never replaces a whole run's file."""

    def __init__(self, path, qemu, version, cpu, implementation=None):
        self.path = Path(path)
        self.header = {"schema": SCHEMA, "qemu": qemu, "qemu_version": version, "cpu": cpu,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        if implementation:
            self.header["implementation"] = implementation      # NAME/VERSION: what `qemu` runs, not QEMU
        self.start = time.monotonic()
        self.entries = []
        self.partial = None     # what write() found partial about the run, or None

    @property
    def partial_path(self):
        return partial_path(self.path)

    @property
    def written(self):
        """The file this session's results go to (or went to)."""
        return self.path if self.partial is None else self.partial_path

    def add(self, entry):
        self.entries.append(entry)

    def counts(self):
        return Counter(e["outcome"] for e in self.entries)

    def unjudged(self):
        """(steps the model could not judge, in how many cases, how many of those steps for a possible
        amalgamation of TLB entries, D8.17.1)."""
        per_case = [sum(1 for s in e["steps"] if s.get("unjudged")) for e in self.entries]
        amalgamations = sum(1 for e in self.entries for s in e["steps"] if s.get("verdict") == "amalgamation")
        return sum(per_case), sum(1 for n in per_case if n), amalgamations

    def write(self, interrupted=False, partial=None):
        """Write the results: `partial` ({"instances", "collected", "ran", "selection", "why"}) for a
        session that did not run every instance to its end, None for one that did."""
        self.partial = partial if partial is not None or interrupted else None
        if interrupted and self.partial is None:
            self.partial = {"why": ["interrupted"]}
        doc = {**self.header, "duration": round(time.monotonic() - self.start, 3), "interrupted": interrupted,
               "partial": self.partial or False, "counts": dict(sorted(self.counts().items())),
               "unjudged_steps": self.unjudged()[0], "amalgamation_steps": self.unjudged()[2],
               "cases": sorted(self.entries, key=lambda e: e["nodeid"])}
        path = self.written
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(_lines(doc))
        os.replace(tmp, path)

    def summary_line(self):
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items())) or "no case ran"
        steps, cases, amalgamations = self.unjudged()
        amalgamated = (f", {amalgamations} of them for a possible amalgamation of TLB entries (D8.17.1)"
                       if amalgamations else "")
        unjudged = (f"; {steps} steps in {cases} cases not judged by the model{amalgamated} (--strict-model fails them)"
                    if steps else "")
        partial = ""
        if self.partial is not None:
            p = self.partial
            partial = (f"; PARTIAL ({', '.join(p.get('why', []))}"
                       + (f": {p['ran']} of {p['instances']} instances" if "instances" in p else "") + ")")
        xml = self.written.with_name(self.written.name[:-len(".json")] + ".xml")
        tested = (f"{self.header['implementation'].replace('/', ' ')} ({self.header['qemu']})"
                  if "implementation" in self.header else f"QEMU {self.header['qemu_version']}")
        return (f"MMU conformance: {counts}{unjudged} on {tested} -cpu {self.header['cpu']}"
                f"{partial}; results in {self.written} and {xml}")


def partial_path(path):
    """<stem>.partial.json beside <stem>.json."""
    path = Path(path)
    return path.with_name(path.name[:-len(".json")] + ".partial.json")


class ResultsError(HarnessError):
    """A results file that cannot be read as one: the message names the file and what is wrong."""


# What readers take from a document, a case entry and a step: key -> the types it may have.
_TOP = {"qemu_version": (str,), "cpu": (str,), "cases": (list,)}
_TOP_OPTIONAL = {"qemu": (str,), "counts": (dict,), "interrupted": (bool,), "partial": (bool, dict),
                 "unjudged_steps": (int,), "amalgamation_steps": (int,)}
_CASE = {"id": (str,), "outcome": (str,), "summary": (str,), "problems": (list,), "steps": (list,)}
_CASE_OPTIONAL = {"reason": (str, type(None)), "nodeid": (str,), "file": (str,), "known_bugs": (dict,),
                  "explained": (list,), "mark": (dict, type(None))}
_STEP = {"n": (int,), "op": (str,), "va": (str,), "expected": (str, type(None)), "observed": (str, type(None)),
         "ok": (bool,)}
_STEP_OPTIONAL = {"problems": (list,), "model": (str, type(None)), "walk": (list,), "known_bugs": (list,),
                  "verdict": (str,), "explained": (list,), "unjudged": (str, type(None))}
_JSON_TYPES = {str: "a string", int: "an integer", bool: "true or false", list: "an array", dict: "an object",
               type(None): "null"}


def read(path):
    """The results document at path, checked against the schema (ResultsError if it is not one)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise ResultsError(f"{path}: cannot be read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise ResultsError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ResultsError(f"{path}: not a complete JSON document (line {e.lineno}, column {e.colno}: {e.msg}); "
                           "an interrupted copy?") from None
    except (ValueError, RecursionError) as e:     # numbers of too many digits, nesting too deep
        raise ResultsError(f"{path}: not a results document: {e}") from None
    _check(path, doc)
    return doc


def _check(path, doc):
    if not isinstance(doc, dict):
        raise ResultsError(f"{path}: not a results document ({_type(doc)}, not an object)")
    if doc.get("schema") != SCHEMA:
        found = "no schema version" if "schema" not in doc else f"schema version {doc['schema']!r}"
        raise ResultsError(f"{path}: {found}, this suite reads version {SCHEMA}: written by another version of "
                           "the suite; run it again to compare")
    _fields(path, "", doc, _TOP, _TOP_OPTIONAL)
    try:
        parse_version(doc["qemu_version"])
    except ValueError as e:
        raise ResultsError(f"{path}: qemu_version: {e}") from None
    for i, case in enumerate(doc["cases"]):
        where = f"cases[{i}]"
        _fields(path, where, case, _CASE, _CASE_OPTIONAL)
        _strings(path, f"{where}.problems", case["problems"])
        for k, step in enumerate(case["steps"]):
            _fields(path, f"{where}.steps[{k}]", step, _STEP, _STEP_OPTIONAL)
            for key in ("problems", "walk", "known_bugs"):
                _strings(path, f"{where}.steps[{k}].{key}", step.get(key, []))


def _fields(path, where, table, required, optional):
    if not isinstance(table, dict):
        raise ResultsError(f"{path}: {where} must be an object, not {_type(table)}")
    prefix = f"{where}." if where else ""
    for key, types in (*required.items(), *optional.items()):
        if key not in table:
            if key in required:
                raise ResultsError(f"{path}: {prefix}{key} is missing: not a results document of this suite")
            continue
        value = table[key]
        if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
            raise ResultsError(f"{path}: {prefix}{key} must be {' or '.join(_JSON_TYPES[t] for t in types)}, "
                               f"not {_type(value)}")


def _strings(path, where, values):
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise ResultsError(f"{path}: {where}[{i}] must be a string, not {_type(v)}")


def _type(value):
    return next((words for kind, words in _JSON_TYPES.items() if type(value) is kind), type(value).__name__)
