"""Docs that must match the code."""
from harness import coverage


def test_readme_coverage_table_is_current():
    readme = (coverage.ROOT / "README.md").read_text()
    current = readme.split(coverage.BEGIN)[1].split(coverage.END)[0].strip()
    assert current == coverage.table(), "the README's coverage table is stale: run `make coverage`"
