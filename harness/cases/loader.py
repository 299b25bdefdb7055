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

from harness.cases.fields import no_unknown, subtable, type_name
from harness.cases.schema import CASE_KEYS, ID_CHARS, CaseError
from harness.cases.validation import build_case, read_xfail
from harness.expr import ExprError, substitute

INSTANCE_KEYS = ("requires", "xfail")
# Instances one case's matrix may expand into (the largest in cases/ has 32): a bound, so that a
# mistaken matrix is an error and not hours of expansion.
MAX_INSTANCES = 1024


def read_toml(path):
    """A case file's TOML document; CaseError for a file that cannot be read, is not UTF-8, or is
    not TOML, with the line and column of the mistake."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CaseError(path, f"cannot be read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise CaseError(path, f"line {line}, column {column}: not UTF-8 text (byte {raw[e.start]:#04x}); "
                        "a case file is UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CaseError(path, toml_problem(text, str(e))) from None
    except (ValueError, RecursionError) as e:     # an integer of too many digits; arrays nested too deeply
        raise CaseError(path, f"not valid TOML: {e}") from None


def toml_problem(text, message):
    """tomllib's message as "line L, column C: not valid TOML: ...", with a hint for the mistakes
    case files invite: an inline table split across lines."""
    where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message) or re.search(r"\s*\(at end of document\)$", message)
    what = message[:where.start()] if where else message
    if where and where.lastindex:
        line, column = int(where.group(1)), int(where.group(2))
        lead = f"line {line}, column {column}: "
    else:
        line, lead = text.count("\n") + 1, "at the end: "
    hint = ""
    before = "\n".join(text.splitlines()[:line])
    # An inline table still open at the line of the mistake: TOML 1.0 keeps an inline table on one line.
    opened = re.sub(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*', "", before)
    if opened.count("{") > opened.count("}"):
        hint = " (an inline table { ... } must fit on one line in TOML 1.0: join its lines, or use an array of tables)"
    return f"{lead}not valid TOML: {what}{hint}"


def load_dir(directory):
    """All cases of every *.toml in a directory, in file order; IDs are unique."""
    return load_files(sorted(Path(directory).glob("*.toml")))


def load_files(paths):
    """All cases of the case files `paths`, in order; IDs are unique (CaseError naming both files)."""
    cases, seen = [], {}
    for path in paths:
        for case in load_file(path):
            if case.id in seen:
                raise CaseError(path, f"duplicate case ID {case.id!r} (also in {seen[case.id]})")
            seen[case.id] = path
            cases.append(case)
    return cases


def load_file(path):
    path = Path(path)
    doc = read_toml(path)
    no_unknown(path, None, None, doc, {"feature", "defaults", "case", "bug"})
    feature = doc.get("feature")
    if not isinstance(feature, str) or not feature.strip():
        raise CaseError(path, "every case file names the feature it covers, for the README's table",
                        None, "feature")
    bugs = subtable(path, None, None, doc, "bug")
    for bug, table in bugs.items():
        read_xfail(path, None, f"bug.{bug}", table)
    defaults = doc.get("defaults", {})
    no_unknown(path, None, "defaults", defaults, {"regime"})
    cases = subtable(path, None, None, doc, "case")
    if not cases:
        raise CaseError(path, "no [case.<name>] tables")
    out = []
    for name, body in cases.items():
        if not isinstance(body, dict):
            raise CaseError(path, f"a case must be a table, not {type_name(body)}", name)
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
        for i, v in enumerate(values):
            if isinstance(v, dict):
                if not isinstance(v.get("name"), (str, int)) or isinstance(v.get("name"), bool):
                    raise CaseError(path, "a table value needs a `name` (a string or an integer), its instances' label",
                                    name, f"matrix.{axis}[{i}].name")
                params = {k: x for k, x in v.items() if k != "name"}
                params.setdefault(axis, v["name"])
                choices.append((params, str(v["name"])))
            else:
                choices.append(({axis: v}, str(v).lower() if isinstance(v, bool) else str(v)))
        axes.append(choices)
    count = 1
    for choices in axes:
        count *= len(choices)
    if count > MAX_INSTANCES:
        raise CaseError(path, f"expands into {count} instances, more than the {MAX_INSTANCES} a case may have: split it",
                        name, "matrix")
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


