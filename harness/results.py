"""results/<qemu-version>-<cpu>.json: every case instance's outcome, step by step.

Written once, at the end of the session, to a temporary file renamed into
place: an interrupted run leaves the previous file or a complete new one
(marked interrupted), never half a file.
"""
import json
import os
import time
from collections import Counter
from pathlib import Path


def case_entry(case, nodeid, judgement, outcome, reason=None):
    entry = {
        "id": case.id, "nodeid": nodeid, "file": str(case.path), "summary": " ".join(case.summary.split()),
        "outcome": outcome, "reason": reason, "wall": None, "batch_size": None, "fresh_boot": None, "rerun": None,
        "steps": [], "problems": [],
    }
    if judgement is not None:
        entry.update(
            wall=round(judgement.wall, 4), batch_size=judgement.batch_size, fresh_boot=judgement.fresh_boot,
            rerun=judgement.rerun, problems=list(judgement.problems),
            steps=[{"n": s.n, "op": s.op, "va": f"{s.va:#x}", "expected": s.expected, "observed": s.observed,
                    "ok": s.ok, "problems": list(s.problems), "model": s.model, "walk": list(s.walk),
                    "known_bugs": list(s.known_bugs)} for s in judgement.steps],
        )
    return entry


def _lines(doc):
    """The document as JSON with one case instance a line: greppable, and a fifth smaller than
    indented JSON (2.5 MB instead of 3.1 MB for 807 instances)."""
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"}, indent=1)[:-2]
    cases = ",\n".join(json.dumps(c, separators=(",", ":")) for c in doc["cases"])
    return f'{head},\n "cases": [\n{cases}\n]}}\n'


class ResultsWriter:
    def __init__(self, path, qemu, version, cpu):
        self.path = Path(path)
        self.header = {"qemu": qemu, "qemu_version": version, "cpu": cpu,
                       "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.start = time.monotonic()
        self.entries = []

    def add(self, entry):
        self.entries.append(entry)

    def counts(self):
        return Counter(e["outcome"] for e in self.entries)

    def write(self, interrupted=False):
        if not self.entries:
            return
        doc = {**self.header, "duration": round(time.monotonic() - self.start, 3), "interrupted": interrupted,
               "counts": dict(sorted(self.counts().items())),
               "cases": sorted(self.entries, key=lambda e: e["nodeid"])}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(_lines(doc))
        os.replace(tmp, self.path)

    def summary_line(self):
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items())) or "no case ran"
        return (f"MMU conformance: {counts} on QEMU {self.header['qemu_version']} -cpu {self.header['cpu']}; "
                f"results in {self.path} and {self.path.with_suffix('.xml')}")
