"""Compare two runs of the suite (results/*.json): which cases differ, and how.

    python -m harness.compare results/7.2.22-max.json results/9.2.0-max.json

For each case instance whose outcome or observed steps differ between the two
runs, one line per difference, with which side matches the architecture
(the run where that step's verdict is ok).  Exit status 1 when anything differs.
"""
import argparse
import json
import sys


def differences(a, b):
    """[(case id, text)] for what differs between results documents a and b."""
    cases_a = {c["id"]: c for c in a["cases"]}
    cases_b = {c["id"]: c for c in b["cases"]}
    out = []
    for case_id in sorted(cases_a.keys() | cases_b.keys()):
        ca, cb = cases_a.get(case_id), cases_b.get(case_id)
        if ca is None or cb is None:
            out.append((case_id, f"only in {'the first' if cb is None else 'the second'} run"))
            continue
        if ca["outcome"] != cb["outcome"]:
            out.append((case_id, f"outcome {ca['outcome']} -> {cb['outcome']}"))
        steps_b = {s["n"]: s for s in cb["steps"]}
        for sa in ca["steps"]:
            sb = steps_b.get(sa["n"])
            if sb is not None and sa["observed"] != sb["observed"]:
                right = "both wrong" if not (sa["ok"] or sb["ok"]) else "first right" if sa["ok"] else "second right"
                out.append((case_id, f"step {sa['n']} {sa['op']} va={sa['va']}: {sa['observed']!r} -> "
                                     f"{sb['observed']!r} ({right}; expected {sa['expected']})"))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="results JSON of one run")
    parser.add_argument("second", help="results JSON of another")
    args = parser.parse_args(argv)
    docs = []
    for path in (args.first, args.second):
        try:
            with open(path) as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as e:
            print(f"error: cannot read {path}: {e}", file=sys.stderr)
            return 2
    a, b = docs
    print(f"first:  QEMU {a['qemu_version']} -cpu {a['cpu']} ({args.first})")
    print(f"second: QEMU {b['qemu_version']} -cpu {b['cpu']} ({args.second})")
    diffs = differences(a, b)
    for case_id, text in diffs:
        print(f"{case_id}: {text}")
    print(f"{len({c for c, _ in diffs})} case instances differ" if diffs else "no differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
