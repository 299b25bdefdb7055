"""Bad input, made on purpose: structured mutations of the project's own case files (and of the
other inputs the suite reads) as hypothesis strategies, for the property tests of every parser
(tests/test_fuzz_inputs_*.py) and `make fuzz-inputs`.

A case file is parsed, changed where it means something (a value of another type, a key deleted
or misspelled, a value out of range, a matrix value with a parameter missing or extra, an
expression that does not evaluate, a huge integer), written back as TOML, and sometimes spoilt
as text (emptied, cut, a key duplicated, bytes that are not UTF-8).

The test budget: FUZZ_INPUTS_EXAMPLES examples per property (default: a small one, for
`make test`), from the seed FUZZ_INPUTS_SEED (default fixed, so that CI is repeatable).
"""
import copy
import datetime
import json
import os
import re
import signal
import tomllib
from contextlib import contextmanager
from pathlib import Path

import tempfile

from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps a cache (the Unicode tables of st.text) in its home: outside the repository.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), f"mmu-suite-hypothesis-{os.getuid()}"))

ROOT = Path(__file__).resolve().parent.parent
CASE_FILES = sorted((ROOT / "cases").glob("*.toml"))
BAD = ROOT / "tests" / "fixtures" / "bad"


def budget(default):
    """Hypothesis settings and seed of a property test: `default` examples unless
    FUZZ_INPUTS_EXAMPLES says otherwise; no example database (CI runs on a clean clone)."""
    examples = int(os.environ.get("FUZZ_INPUTS_EXAMPLES", default))
    chosen = settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                      suppress_health_check=list(HealthCheck), print_blob=True)
    fixed = seed(int(os.environ.get("FUZZ_INPUTS_SEED", "20261207")))
    return lambda test: fixed(chosen(test))


class Hang(Exception):
    """A parser that took longer than it may: an escape too."""


@contextmanager
def time_limit(seconds):
    """Raise Hang in the block after `seconds` (a parser must never hang on any input)."""
    def expire(*_):
        raise Hang(f"no answer after {seconds} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- TOML, written back

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(k):
    return k if _BARE.match(k) else _string(k)


def _string(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("?")          # a lone surrogate is not text: TOML cannot hold it
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if v != v else "inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def dump(doc, prefix=()):
    """TOML text of a parsed document: a table's plain values, then its sub-tables under headers."""
    lines = [f"{_key(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for k, v in doc.items():
        if isinstance(v, dict):
            header = ".".join(_key(p) for p in (*prefix, k))
            lines += ["", f"[{header}]", dump(v, (*prefix, k))]
    return "\n".join(lines)


# ---------------------------------------------------------------- mutations

def _paths(node, path=()):
    """Every place in a document: (path of keys and indices)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*path, k)
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*path, i)
            yield from _paths(v, (*path, i))


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


NAMES = st.sampled_from(["va", "pa", "to", "level", "do", "expect", "fault", "name", "summary", "map", "steps",
                         "granule", "frame0", "base", "x", "regime", "matrix", "requires", "xfail", "one_of"])
EXPRESSIONS = st.sampled_from([
    "1 // 0", "1 % 0", "2 ** 100000000", "1 << 100000000", "1 << -1", "-1 >> -3", "2 ** -1", "(", "1 +", "",
    "   ", "x", "undefined + 1", "__import__('os')", "[1][0]", "'a' + 1", "1 if 2", "0x", "1e3", "1.5", "True",
    "not 0", "level + 1", "va * 2", "name", "{", "{va}", "{nope}", "{0}", "{}", "{va!r}", "{va:>99999999}",
    "granule", "4K", "64K", "frame0", "a.b", "f()", "lambda: 0", "1 < 2 < 3", "~0", "-(2**64)",
])
HUGE = st.sampled_from([2**63, 2**64, 2**64 - 1, -(2**63) - 1, 10**30, -(10**30), 2**200])
EDGE_INTS = st.sampled_from([-1, 0, 1, 2, 3, 4, 5, 7, 8, 12, 15, 16, 31, 32, 47, 48, 52, 63, 64, 255, 256,
                             0xFFFF, 0x10000, 2**48, 2**52, 2**55, 2**63 - 1])
SCALARS = st.one_of(
    st.integers(), EDGE_INTS, HUGE, st.booleans(), st.floats(allow_nan=True), EXPRESSIONS, NAMES,
    st.text(max_size=12), st.just(datetime.datetime(2026, 12, 7, 8, 0)), st.just(datetime.date(2026, 12, 7)),
    st.just(datetime.time(8, 0)),
)
# st.just gives the same object every time: copied, so that a mutation of one example's document
# never changes the strategy for the next (hypothesis would report inconsistent data generation).
VALUES = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(NAMES, SCALARS, max_size=3),
    st.sampled_from([[], {}, [{}], [[1]], {"name": "x"}]).map(copy.deepcopy),
)


def _misspell(data, key):
    k = str(key)
    how = data.draw(st.sampled_from(["drop", "swap", "add", "case"]))
    if how == "drop" and len(k) > 1:
        i = data.draw(st.integers(0, len(k) - 1))
        return k[:i] + k[i + 1:]
    if how == "swap" and len(k) > 1:
        i = data.draw(st.integers(0, len(k) - 2))
        return k[:i] + k[i + 1] + k[i] + k[i + 2:]
    if how == "case":
        return k.upper() if k != k.upper() else k.lower() + "x"
    return k + data.draw(st.sampled_from(["s", "_", "x", "1"]))


def mutate_doc(data, doc):
    """One structured change somewhere in a parsed case file; the kind of change it was."""
    places = list(_paths(doc))
    matrix_places = [p for p in places if "matrix" in p]
    if matrix_places and data.draw(st.integers(0, 3)) == 0:
        places = matrix_places          # matrices get their share: parameters missing or extra
    if not places:
        doc[data.draw(NAMES)] = data.draw(VALUES)
        return "key added"
    path = data.draw(st.sampled_from(places))
    parent, key = _get(doc, path[:-1]), path[-1]
    value = parent[key]
    kinds = ["replaced", "deleted", "added"]
    if isinstance(parent, dict):
        kinds.append("misspelt")
    if isinstance(value, int) and not isinstance(value, bool):
        kinds += ["out of range", "out of range"]
    if isinstance(value, str):
        kinds += ["expression", "misspelt value"]
    if isinstance(value, list):
        kinds += ["duplicated", "emptied"]
    kind = data.draw(st.sampled_from(kinds))
    if kind == "replaced":
        parent[key] = data.draw(VALUES)
    elif kind == "deleted":
        del parent[key]
    elif kind == "added":
        if isinstance(parent, dict):
            parent[data.draw(NAMES)] = data.draw(VALUES)
        else:
            parent.insert(key, data.draw(VALUES))
    elif kind == "misspelt":
        new = _misspell(data, key)
        items = [(new if k == key else k, v) for k, v in parent.items()]
        parent.clear()
        parent.update(items)
    elif kind == "out of range":
        parent[key] = data.draw(st.one_of(EDGE_INTS, HUGE, st.sampled_from([value + 1, value - 1, -value,
                                                                            value << 12, value ^ (1 << 55)])))
    elif kind == "expression":
        parent[key] = data.draw(EXPRESSIONS)
    elif kind == "misspelt value":
        parent[key] = _misspell(data, value)
    elif kind == "duplicated":
        if value:
            value.append(value[data.draw(st.integers(0, len(value) - 1))])
    elif kind == "emptied":
        value.clear()
    return kind


def spoil_text(data, text):
    """Text-level damage (bytes out): emptied, cut, a line duplicated (a duplicate key), not UTF-8."""
    raw = text.encode()
    kind = data.draw(st.sampled_from(["empty", "cut", "duplicate line", "not utf-8", "byte"]))
    if kind == "empty":
        return b"", kind
    if kind == "cut":
        return raw[:data.draw(st.integers(0, len(raw)))], kind
    if kind == "duplicate line":
        lines = text.splitlines()
        keyed = [i for i, line in enumerate(lines) if re.match(r"^\s*[A-Za-z0-9_\"]+\s*=", line)] or [0]
        i = data.draw(st.sampled_from(keyed))
        lines.insert(i + 1, lines[i])
        return "\n".join(lines).encode(), kind
    at = data.draw(st.integers(0, len(raw)))
    if kind == "not utf-8":
        return raw[:at] + data.draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"])) + raw[at:], kind
    return raw[:at] + bytes([data.draw(st.integers(0, 255))]) + raw[at:], kind


def mutated_case_file(data):
    """(file name, bytes, what was done) of one of cases/*.toml with 1-3 mutations."""
    path = data.draw(st.sampled_from(CASE_FILES))
    doc = tomllib.loads(path.read_text())
    done = [mutate_doc(data, doc) for _ in range(data.draw(st.integers(1, 3)))]
    text = dump(doc) + "\n"
    if data.draw(st.integers(0, 9)) == 0:
        raw, kind = spoil_text(data, text)
        done.append(kind)
    else:
        raw = text.encode()
    return path.name, raw, done


def describe(raw, limit=4000):
    """The input, for a failure message."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = repr(raw)
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text)} characters)"


def json_text(value):
    return json.dumps(value, indent=1)


class Escapes:
    """The inputs that escaped a parser, kept under `directory` (one file each) and grouped by
    where they escaped, so that one run shows every distinct escape."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.groups = {}

    def keep(self, error, name, raw, done):
        import traceback
        frames = traceback.extract_tb(error.__traceback__)
        ours = [f for f in frames if "/harness/" in f.filename] or frames
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
        key = (type(error).__name__, where)
        if key not in self.groups:
            self.directory.mkdir(parents=True, exist_ok=True)
            kept = self.directory / f"{len(self.groups):03d}-{name}"
            kept.write_bytes(raw)
            self.groups[key] = [kept, f"{type(error).__name__}: {str(error)[:300]}", ", ".join(done), 0]
        self.groups[key][3] += 1

    def __bool__(self):
        return bool(self.groups)

    def report(self):
        return f"{sum(g[3] for g in self.groups.values())} escapes, {len(self.groups)} distinct:\n" + "\n".join(
            f"  {where} ({n}x, e.g. after {done}): {message}\n    input kept: {kept}"
            for (_, where), (kept, message, done, n) in self.groups.items())
