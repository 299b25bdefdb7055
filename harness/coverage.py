"""The README's coverage table, from the case files themselves.

    python -m harness.coverage            print the table
    python -m harness.coverage --update   rewrite it in README.md (make coverage)

tests/test_docs.py fails when the README's table is not what this prints.
"""
import argparse
import sys
from collections import defaultdict
from pathlib import Path

from harness.cases import load_dir

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"


def table(cases_dir=ROOT / "cases"):
    families = defaultdict(list)
    for case in load_dir(cases_dir):
        families[(case.feature, case.family)].append(case)
    rows = ["| feature | file | cases | instances |", "| --- | --- | --- | --- |"]
    for (feature, family), cases in families.items():
        names = {c.name.split("[")[0] for c in cases}
        rows.append(f"| {feature} | `cases/{family}.toml` | {len(names)} | {len(cases)} |")
    total = sum(len(c) for c in families.values())
    rows.append(f"| **all** | {len(families)} files | | **{total}** |")
    return "\n".join(rows)


def update(readme=ROOT / "README.md"):
    text = readme.read_text()
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    readme.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args(argv)
    if args.update:
        update()
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
