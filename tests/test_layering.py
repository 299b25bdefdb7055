"""The model is the foundation: it imports nothing of the case loader, the runner or the
declared layout (DESIGN.md, "The oracle").  Checked on the import graph itself, in a fresh
interpreter, so that an import anywhere beneath harness.model, direct or not, shows."""
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
