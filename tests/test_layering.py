"""The model is the foundation: it imports nothing of the case loader, the runner or the
declared layout (DESIGN.md, "The oracle").  Checked on the import graph itself, in a fresh
interpreter, so that an import anywhere beneath harness.model, direct or not, shows."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ABOVE_THE_MODEL = ("harness.cases", "harness.runner", "harness.declared", "harness.predict", "harness.oracle",
                   "harness.verdict", "harness.crosscheck")


def _imported_by(module):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_model_imports_nothing_above_it():
    modules = [f"harness.model.{p.stem}" for p in (REPO / "harness" / "model").glob("*.py") if p.stem != "__init__"]
    for module in ["harness.model", *modules]:
        assert not _imported_by(module) & set(ABOVE_THE_MODEL), module


def test_the_check_sees_an_import_from_above():
    # The check would fail on a module that does import the loader.
    assert "harness.cases" in _imported_by("harness.predict")


# A section of the Arm ARM M.a.a: the J1 pseudocode, or the prose rule a function follows where J1 has none.
CITATION = re.compile(r"\b(J1\.\d|[A-K]\d+\.\d+)")


def _uncited(text):
    """The functions and classes of a module's text without a comment naming the section they follow in the
    comment lines just above them (decorators aside)."""
    lines = text.split("\n")
    missing = []
    for i, line in enumerate(lines):
        match = re.match(r"\s*(?:def|class) (\w+)", line)
        if not match:
            continue
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("@"):
            j -= 1
        above = []
        while j >= 0 and lines[j].strip().startswith("#"):
            above.append(lines[j])
            j -= 1
        if not any(CITATION.search(c) for c in above):
            missing.append(match.group(1))
    return missing


def test_every_model_function_names_the_section_it_follows():
    """Issue 16: every function and class in harness/model/ cites, in a comment above it, the J1 function
    (or the D8, K1, B2, C5 or D24 rule) it follows."""
    for path in sorted((REPO / "harness" / "model").glob("*.py")):
        assert _uncited(path.read_text()) == [], path.name


def test_the_citation_check_sees_a_function_without_one():
    assert _uncited("# J1.1.4.75 AArch64.S1Walk\ndef s1_walk():\n    pass\n\n# why\ndef helper():\n    pass\n") == \
        ["helper"]
