"""Case files: read, expanded into instances, and loaded case by case.

A case file (cases/<family>.toml) holds one family of cases; a case may declare a parameter
matrix that expands into named instances.  Everything is checked before any kernel is built or
run: a malformed or contradictory case raises CaseError naming the file, the case and the field."""
import itertools
import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11 (Ubuntu 22.04): Debian's python3-tomli
    import tomli as tomllib

from harness.cases.fields import no_unknown
from harness.cases.schema import CASE_KEYS, ID_CHARS, CaseError
from harness.cases.validation import build_case, read_xfail
from harness.expr import ExprError, substitute

INSTANCE_KEYS = ("requires", "xfail")


def load_dir(directory):
    """All cases of every *.toml in a directory, in file order; IDs are unique."""
    cases, seen = [], {}
    for path in sorted(Path(directory).glob("*.toml")):
        for case in load_file(path):
            if case.id in seen:
                raise CaseError(path, f"duplicate case ID {case.id!r} (also in {seen[case.id]})")
            seen[case.id] = path
            cases.append(case)
    return cases


def load_file(path):
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise CaseError(path, f"not valid TOML: {e}") from None
    no_unknown(path, None, None, doc, {"feature", "defaults", "case", "bug"})
    feature = doc.get("feature")
    if not isinstance(feature, str) or not feature.strip():
        raise CaseError(path, "every case file names the feature it covers, for the README's table",
                        None, "feature")
    bugs = doc.get("bug", {})
    for bug, table in bugs.items():
        read_xfail(path, None, f"bug.{bug}", table)
    defaults = doc.get("defaults", {})
    no_unknown(path, None, "defaults", defaults, {"regime"})
    cases = doc.get("case")
    if not isinstance(cases, dict) or not cases:
        raise CaseError(path, "no [case.<name>] tables")
    out = []
    for name, body in cases.items():
        if not isinstance(body, dict):
            raise CaseError(path, "a case must be a table", name)
        if not re.match(r"^[A-Za-z0-9_]+$", name):
            raise CaseError(path, "case names are letters, digits and _", name)
        no_unknown(path, name, None, body, CASE_KEYS)
        for params, label in _expand_matrix(path, name, body.get("matrix")):
            instance = f"{name}[{label}]" if label else name
            # A matrix value may carry case fields for its instances alone (a known QEMU bug of some).
            own = {k: params.pop(k) for k in INSTANCE_KEYS if k in params}
            try:
                raw_body = substitute({**{k: v for k, v in body.items() if k != "matrix"}, **own}, params)
            except ExprError as e:
                raise CaseError(path, str(e), instance) from None
            out.append(build_case(path, instance, raw_body, defaults, params, bugs, feature))
    return out


def _expand_matrix(path, name, matrix):
    """Cartesian product of the axes.  An axis value is a scalar (named by its
    text) or a table of parameters (named by its `name` key)."""
    if matrix is None:
        return [({}, "")]
    if not isinstance(matrix, dict) or not matrix:
        raise CaseError(path, "must be a table of axis = [values]", name, "matrix")
    axes = []
    for axis, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise CaseError(path, "an axis is a non-empty list", name, f"matrix.{axis}")
        choices = []
        for v in values:
            if isinstance(v, dict):
                if "name" not in v:
                    raise CaseError(path, "a table value needs a `name`", name, f"matrix.{axis}")
                params = {k: x for k, x in v.items() if k != "name"}
                params.setdefault(axis, v["name"])
                choices.append((params, str(v["name"])))
            else:
                choices.append(({axis: v}, str(v).lower() if isinstance(v, bool) else str(v)))
        axes.append(choices)
    expanded = []
    for combo in itertools.product(*axes):
        params = {}
        for p, _ in combo:
            params.update(p)
        label = "-".join(lbl for _, lbl in combo)
        if not ID_CHARS.match(label):
            raise CaseError(path, f"instance label {label!r} has characters other than letters, digits, _ . -", name, "matrix")
        expanded.append((params, label))
    return expanded


