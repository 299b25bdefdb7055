"""Which implementation a run tests, and the known-bug marks of any implementation.

A case file's `[bug.*]` tables mark QEMU's bugs by QEMU version range.  Anyone
else -- an emulator other than QEMU, a fork, a QEMU's particular -cpu model --
keeps their implementation's known bugs in a bugs file of their own (BUGS=,
--bugs), naming the suite's cases by ID, so the cases need no copy:

    [bug.l0_block]
    implementation = "fastsim"        # the run's --implementation name (IMPL=); "qemu" for QEMU
    versions = "<2.3"                 # the versions that have it (optional: all)
    cpu = ["cortex-a72"]              # only with these -cpu models (optional: all)
    rule = "J1.1.4.65 AArch64.BlockDescSupported"
    reason = "fastsim takes a block descriptor at level 0 as a 512 GiB block"
    cases = ["translation.block_at_level0", "granule16k.block_not_allowed"]

A `cases` entry names an instance by its ID, or every instance of a case (its
ID without `[...]`).  A run tests `--implementation NAME/VERSION` (IMPL=),
by default `qemu/<the version --qemu reports>`, on `--cpu`; a mark whose
implementation, versions and CPU models all cover the run makes its cases
strict xfails there, as a case file's own mark does for QEMU.
"""
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ImportError:                 # Python < 3.11
    import tomli as tomllib

from harness import features
from harness.cases.fields import did_you_mean, no_unknown, type_name
from harness.cases.schema import CaseError
from harness.versions import in_range, parse_range

QEMU = "qemu"
BUG_KEYS = {"implementation", "versions", "cpu", "rule", "reason", "cases"}


@dataclass(frozen=True)
class Implementation:
    """What a run tests: an implementation's name and version, with a -cpu model."""
    name: str
    version: str
    cpu: str

    @classmethod
    def of(cls, spec, qemu_version, cpu):
        """From --implementation (`NAME/VERSION`, or None: QEMU at `qemu_version`)."""
        if not spec:
            return cls(QEMU, qemu_version, cpu)
        name, slash, version = spec.partition("/")
        if not name or not slash or not version:
            raise ValueError(f"--implementation {spec!r}: write NAME/VERSION, such as fastsim/2.1")
        parse_range(f"=={version}")     # a version of numbers and dots, as the ranges compare them
        return cls(name.lower(), version, cpu)

    def __str__(self):
        return f"{'QEMU' if self.name == QEMU else self.name} {self.version}"


@dataclass(frozen=True)
class BugMark:
    """A known bug of an implementation, from a bugs file: the instances it marks."""
    name: str
    implementation: str
    versions: str | None            # a version range (None: every version)
    cpus: tuple                     # -cpu models (empty: every one)
    rule: str | None
    reason: str
    cases: tuple                    # case IDs, or case names without their [matrix values]
    path: Path

    def covers(self, impl):
        """Whether `impl` (an Implementation) has this bug."""
        return (impl.name == self.implementation
                and (self.versions is None or in_range(impl.version, self.versions))
                and (not self.cpus or impl.cpu in self.cpus))

    def marks(self, case_id):
        return any(case_id == c or case_id.startswith(c + "[") for c in self.cases)

    @property
    def scope(self):
        """Whose bug, in words: 'fastsim <2.3 with -cpu cortex-a72'."""
        who = "QEMU" if self.implementation == QEMU else self.implementation
        return " ".join([who, *([self.versions] if self.versions else []),
                         *([f"with -cpu {', '.join(self.cpus)}"] if self.cpus else [])])


def _text(path, bug, table, key, required=False):
    value = table.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else type_name(value)
        raise CaseError(path, f"must be a non-empty string, not {got}", None, f"bug.{bug}.{key}")
    return " ".join(value.split())


def _strings(path, bug, table, key):
    value = table.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CaseError(path, f"must be a string or an array of strings, not {type_name(table[key])}", None,
                        f"bug.{bug}.{key}")
    return tuple(value)


def load_bugs(path, case_ids=None):
    """The BugMarks of a bugs file; every field checked, and every case it names one of
    `case_ids` (else a CaseError naming the closest; None: not checked)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as e:
        raise CaseError(path, f"cannot read the bugs file: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise CaseError(path, f"not valid TOML: {e}") from None
    no_unknown(path, None, None, doc, {"bug"})
    bugs = doc.get("bug")
    if not isinstance(bugs, dict) or not bugs:
        raise CaseError(path, "a bugs file holds [bug.<name>] tables, and this one none")
    names = None if case_ids is None else set(case_ids) | {i.split("[", 1)[0] for i in case_ids}
    marks = []
    for bug, table in bugs.items():
        no_unknown(path, None, f"bug.{bug}", table, BUG_KEYS)
        versions = _text(path, bug, table, "versions")
        if versions is not None:
            try:
                parse_range(versions)
            except ValueError as e:
                raise CaseError(path, str(e), None, f"bug.{bug}.versions") from None
        cases = _strings(path, bug, table, "cases")
        if not cases:
            raise CaseError(path, "names no case: the case IDs the bug breaks", None, f"bug.{bug}.cases")
        for i, c in enumerate(cases):
            if names is not None and c not in names:
                raise CaseError(path, f"no case {c!r} in CASES{did_you_mean(c, names)}",
                                None, f"bug.{bug}.cases[{i}]")
        marks.append(BugMark(bug, _text(path, bug, table, "implementation", required=True).lower(), versions,
                             _strings(path, bug, table, "cpu"), _text(path, bug, table, "rule"),
                             _text(path, bug, table, "reason", required=True), cases, path))
    return marks


def marks_for(marks, case_id, impl):
    """The bug marks of `case_id` that cover `impl`."""
    return [m for m in marks if m.marks(case_id) and m.covers(impl)]


def applicable_mark(case, impl, marks):
    """The known-bug mark of `case` that covers `impl` (None: none, or the implementation is
    unknown): the case file's own (cases.Xfail: QEMU's, by version range; its features, which need
    the CPU's boot record, case_mark checks) where `impl` is QEMU, else the first of the bugs files'
    `marks` for the case."""
    if impl is None:
        return None
    if case.xfail is not None and impl.name == QEMU and in_range(impl.version, case.xfail.qemu):
        return case.xfail
    found = marks_for(marks, case.id, impl)
    return found[0] if found else None


def case_mark(case, impl, cpu_ids):
    """The case file's own mark of `case` (cases.Xfail) where it covers `impl` on a CPU with the ID registers
    cpu_ids (features.ID_REGISTERS): QEMU, at a version in its range, with every feature it names (read as a
    case's requires, features.missing); else None."""
    mark = case.xfail
    if mark is None or impl is None or impl.name != QEMU or not in_range(impl.version, mark.qemu):
        return None
    return None if mark.features and features.missing(mark.features, *cpu_ids) else mark


def mark_reason(mark):
    """An xfail's reason for a mark applicable_mark gave."""
    if isinstance(mark, BugMark):
        return f"known bug {mark.name} of {mark.scope}: {mark.reason}"
    return f"known bug of {mark.scope}: {mark.reason}"
