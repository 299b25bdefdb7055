"""Compare two runs of the suite (results/*.json): which cases differ, and how.

    python -m harness.compare results/7.2.22-max.json results/9.2.0-max.json

For each case instance whose outcome or observed steps differ between the two
runs, one line per difference, with which side matches the architecture: the
run where that step's verdict is ok, which holds the model's judgement of every
register bit the step reports besides the case's intent.  "first right",
"second right", "both wrong", or "both permitted" when the model permits each
observation (the architecture leaves a choice: the model's outcomes and its
rule follow).  Exit status 1 when anything differs.  For more than two runs,
harness.matrix.
"""
import argparse
import sys

from harness.errors import HarnessError
from harness.matrix import load_run, step_matches, why_all_right


def which_right(first, second):
    """Which of two differing observations of a step (results step entries) matches the architecture."""
    first_ok, second_ok = step_matches(first), step_matches(second)
    if first_ok and second_ok:
        unjudged = "; ".join(dict.fromkeys(s["unjudged"] for s in (first, second) if s.get("unjudged")))
        if unjudged:
            return f"both match the case; the model did not judge this step: {unjudged}"
        why = why_all_right([first.get("model"), second.get("model")])
        return f"both permitted: {why}" if why else "both match the case; the model did not judge this step"
    return {(True, False): "first right", (False, True): "second right",
            (False, False): "both wrong"}[(bool(first_ok), bool(second_ok))]


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
                right = which_right(sa, sb)
                out.append((case_id, f"step {sa['n']} {sa['op']} va={sa['va']}: {sa['observed']!r} -> "
                                     f"{sb['observed']!r} ({right}; expected {sa['expected']})"))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="results JSON of one run")
    parser.add_argument("second", help="results JSON of another")
    args = parser.parse_args(argv)
    try:
        a, b = (load_run(path).doc for path in (args.first, args.second))
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"first:  QEMU {a['qemu_version']} -cpu {a['cpu']} ({args.first})")
    print(f"second: QEMU {b['qemu_version']} -cpu {b['cpu']} ({args.second})")
    diffs = differences(a, b)
    for case_id, text in diffs:
        print(f"{case_id}: {text}")
    print(f"{len({c for c, _ in diffs})} case instances differ" if diffs else "no differences")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
