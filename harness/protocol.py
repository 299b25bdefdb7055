"""Parser of the kernel's record lines (docs/protocol.md):

    MMUT <version> <event> key=value key=value ...

A line starting "MMUT " must be a well-formed record of this protocol version,
or it is garbage (with the reason); any other line (QEMU's own output, say) is
kept as is.  The records of a case's tables, walks and steps (IN_CASE) name
no case: they belong to the case begun before them, whose ID the parser adds.  Values are typed by key: decimal (signed for `level`), hex (0x,
lower case, no leading zeros, as kernel/record.c prints them) or a word.
The kernel leaves out keys the records before a record give (Compaction);
parse_output fills them in, so a Record holds every key as if printed.
"""
import re
from dataclasses import dataclass, field

from harness.kdefs import kernel_header, read_defines

PROTOCOL_VERSION = read_defines(kernel_header("record.h"))["PROTOCOL_VERSION"]
PREFIX = "MMUT "

_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)$")
_SIGNED_DECIMAL = re.compile(r"^(0|-?[1-9][0-9]*)$")
_HEX = re.compile(r"^0x(0|[1-9a-f][0-9a-f]{0,15})$")      # 64 bits at most

DECIMAL_KEYS = frozenset({"n", "el", "kernel_el", "status", "vector", "cases", "index", "stage", "walks", "after",
                          "steps"})
SIGNED_DECIMAL_KEYS = frozenset({"level"})      # walk levels: -1 exists with TCR_EL1.DS = 1


@dataclass(frozen=True)
class Keys:
    """The keys of an event.  `by` names a word key whose value selects more
    keys from `variants`; the variants' names are that key's only values."""
    required: tuple = ()
    optional: tuple = ()
    by: str = None
    variants: dict = field(default_factory=dict)


_BUILD_ERROR = Keys(("case", "index", "error"))     # kernel/tables.c report_error

EVENTS = {
    # mmfr3 ... isar2: the ID registers of later features (absent from older kernels' records: 0, features.boot_ids)
    "boot": Keys(("el", "midr", "mmfr0", "mmfr1", "mmfr2", "isar0", "cases"),
                 optional=("kernel_el", "hcr", "mmfr3", "mmfr4", "pfr1", "isar1", "isar2", "dczid", "clidr", "ctr")),
    "begin": Keys(("case",)),
    # tcr2, pir, pire0, mair2, s2pir: on a CPU with the feature (kernel/main.c report_extended_regs)
    "regs": Keys(("tcr", "mair", "sctlr", "ttbr0", "ttbr1"),
                 optional=("el", "hcr", "vtcr", "vttbr", "tcr2", "pir", "pire0", "mair2", "s2pir")),
    "walk": Keys(("n", "when", "level", "table", "index", "desc"), optional=("stage",)),
    # An access step's record says how many walk records came before it (walks) and after it
    # (after) where its walk is reported in full (CaseRecords checks them); where it is not, its
    # walk's digest (kernel/pgtable.h pgt_walk_digest) is folded into the end record's walk.
    # gcspr: GCSPR_ELx of the step's EL after a step of the Guarded Control Stack (kernel/steps.c gcs_step_gcspr)
    "step": Keys(("n", "va", "result"), optional=("walks", "after", "gcspr"), by="result", variants={
        # desc: a descriptor step's slot, after it; value_hi: an LDP of two X registers' second
        "ok": Keys(optional=("value", "value_hi", "desc")),
        "fault": Keys(("esr", "far", "elr"), optional=("el", "hpfar")),
        "par": Keys(("par",)),
        "error": Keys(("error",)),                  # a descriptor step's slot cannot be reached, a fix-up's access did not fault
    }),
    "error": Keys(("what",), by="what", variants={
        "root": _BUILD_ERROR, "kernel": _BUILD_ERROR, "map": _BUILD_ERROR, "table": _BUILD_ERROR,
        "raw": _BUILD_ERROR,
        "s2root": _BUILD_ERROR, "s2kernel": _BUILD_ERROR, "s2map": _BUILD_ERROR, "s2raw": _BUILD_ERROR,
        "no_el2": Keys(("case",)),
        "boot_mode": Keys(("case",)),
        "unknown_case": Keys(("case",)),
        "bad_range": Keys(("range",)),
        "unknown_option": Keys(("option",)),
        "bad_blob": Keys(("field",), optional=("index",)),
        "cmdline_too_long": Keys(),
    }),
    # steps: the number of step records the kernel wrote for the case (CaseRecords checks it).
    "end": Keys(("case", "steps"), optional=("walk",)),
    "exception": Keys(("kind", "vector", "esr", "far", "elr", "spsr"), optional=("case", "el", "hpfar")),
    "exit": Keys(("status",)),
}

# Events that belong to the case begun before them, and so name none.
IN_CASE = frozenset({"regs", "walk", "step"})

# Word keys and their values (None: any word); `result` and `what` take the
# names of their event's variants.  Keys in neither set are hex.
WORD_VALUES = {
    "case": None,
    "kind": frozenset({"unexpected", "nested"}),
    "error": frozenset({"no_memory", "bad_level", "misaligned", "occupied", "not_table", "kernel_high",
                         "not_faulted"}),
    "range": None,
    "option": None,
    "when": frozenset({"before", "after"}),
    # What kernel/blob.c finds wrong with a case blob.
    "field": frozenset({"magic", "version", "size", "id", "regime", "maps", "tables", "raws", "steps",
                        "stage2"}),
    **{keys.by: frozenset(keys.variants) for keys in EVENTS.values() if keys.by},
}


class ProtocolError(ValueError):
    """A line starting "MMUT " that is not a well-formed record."""


@dataclass(frozen=True)
class Record:
    """One record: fields hold ints for decimal and hex keys, str for word keys; an IN_CASE
    record's `case` is the case begun before it (parse_output)."""
    event: str
    fields: dict = field(hash=False)
    line: str

    @property
    def case(self):
        """The case ID, or None for records without one."""
        return self.fields.get("case")

    def num(self, key):
        """A decimal or hex field (KeyError when absent)."""
        value = self.fields[key]
        if not isinstance(value, int):
            raise TypeError(f"{key} is a word, not a number")
        return value

    def word(self, key):
        """A word field (KeyError when absent)."""
        value = self.fields[key]
        if not isinstance(value, str):
            raise TypeError(f"{key} is a number, not a word")
        return value


def _not_one_of(key, text, allowed):
    return ProtocolError(f"{key}={text}: expected one of {', '.join(sorted(allowed))}")


def _value(key, text):
    if key in DECIMAL_KEYS:
        if not _DECIMAL.match(text):
            raise ProtocolError(f"{key}={text}: expected a decimal number")
        return int(text)
    if key in SIGNED_DECIMAL_KEYS:
        if not _SIGNED_DECIMAL.match(text):
            raise ProtocolError(f"{key}={text}: expected a signed decimal number")
        return int(text)
    if key in WORD_VALUES:
        allowed = WORD_VALUES[key]
        if allowed is not None and text not in allowed:
            raise _not_one_of(key, text, allowed)
        return text
    if not _HEX.match(text):
        raise ProtocolError(f"{key}={text}: expected 0x and up to 16 lower-case hex digits, "
                            "no leading zeros")
    return int(text, 16)


class Compaction:
    """The keys a run's records leave out (docs/protocol.md, "Compact records"), as the records
    before them give them: fill() puts them back into a record's key=value texts before it is
    checked, seen() takes in the record once it is.  A record that leaves out a key nothing
    before it gives is garbage, as one that lacks it is."""
    REGS = ("tcr", "mair", "sctlr", "ttbr0", "ttbr1")     # those every regs record holds

    def __init__(self):
        self.regs = {}          # the last regs record's REGS, of the whole boot
        self.current = None     # the case begun and not yet ended
        self._case(None)

    def _case(self, case_id):
        self.current, self.next_n, self.step_va, self.fault = case_id, 0, None, {}

    def fill(self, event, raw):
        """`raw` ({key: text} of one record) with the keys it leaves out."""
        given = {}
        if event == "regs":
            given = self.regs
        elif event == "step":
            given = {"n": str(self.next_n), "va": self.step_va}
            if raw.get("result") == "fault":
                va = raw.get("va", self.step_va)
                given = {**given, **self.fault, "far": va}
        elif event == "walk":
            after = raw.get("when") == "after"
            given = {"n": str(self.next_n - 1 if after else self.next_n), "when": "before"}
        elif event == "end":
            given = {"case": self.current}
        return {**{k: v for k, v in given.items() if v is not None}, **raw}

    def seen(self, record, raw):
        """Take in `record`, checked, whose texts were `raw` (filled)."""
        if record.event == "begin":
            self._case(record.case)
        elif record.event == "end" and record.case == self.current:
            self._case(None)
        elif record.event == "regs":
            self.regs = {k: raw[k] for k in self.REGS}
        elif record.event == "step":
            self.next_n, self.step_va = record.num("n") + 1, raw["va"]
            if record.word("result") == "fault":
                self.fault = {"esr": raw["esr"], "elr": raw["elr"]}


def parse_record(line, compaction=None):
    """The Record of one line (without its line end) that starts "MMUT ";
    raises ProtocolError saying what is wrong with it.  Without `compaction` (the records
    before it) the line must hold every key its event requires."""
    if not line.startswith(PREFIX):
        raise ProtocolError(f"not a record: it does not start {PREFIX!r}")
    # The kernel prints printable ASCII: anything else is a damaged line (a \r
    # inside it would otherwise split a value in two, each part well-formed).
    bad = next((ch for ch in line if not " " <= ch <= "~"), None)
    if bad is not None:
        raise ProtocolError(f"a character the kernel does not print ({bad!r})")
    tokens = line.split()
    if len(tokens) < 3:
        raise ProtocolError("no event")
    _, version, event, *pairs = tokens
    if version != str(PROTOCOL_VERSION):
        raise ProtocolError(f"protocol version {version!r}, expected {PROTOCOL_VERSION}")
    if event not in EVENTS:
        raise ProtocolError(f"unknown event {event!r}")
    raw = {}
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not key or not eq or not text or "=" in text:
            raise ProtocolError(f"malformed key=value {pair!r}")
        if key in raw:
            raise ProtocolError(f"key {key!r} repeated")
        raw[key] = text
    if compaction is not None:
        raw = compaction.fill(event, raw)

    keys = EVENTS[event]
    required, optional = set(keys.required), set(keys.optional)
    if keys.by in raw:
        variant = keys.variants.get(raw[keys.by])
        if variant is None:
            raise _not_one_of(keys.by, raw[keys.by], keys.variants)
        required |= set(variant.required)
        optional |= set(variant.optional)
    missing = required - raw.keys()
    if missing:
        raise ProtocolError(f"{event} lacks {', '.join(sorted(missing))}")
    unexpected = raw.keys() - required - optional
    if unexpected:
        raise ProtocolError(f"{event} does not take {', '.join(sorted(unexpected))}")
    record = Record(event, {key: _value(key, text) for key, text in raw.items()}, line)
    if compaction is not None:
        compaction.seen(record, raw)
    return record


@dataclass(frozen=True)
class Garbage:
    """A line starting "MMUT " that is not a well-formed record, and why."""
    line: str
    reason: str


@dataclass
class CaseRecords:
    """The records of one case.  problems lists records out of order or
    repeated (a repeated one replaces the earlier)."""
    begin: bool = False
    regs: Record = None
    steps: dict = field(default_factory=dict)       # n -> step Record
    # n -> {"before": [walk Record, ...], "after": [...]}: the descriptors read, in walk order
    walks: dict = field(default_factory=dict)
    error: Record = None
    end: bool = False
    # The end record's walk: the steps' walk digests it folds, of those reported without walk records.
    walk_digest: int = None
    step_records: int = 0       # the step records that arrived, repeated ones too
    steps_said: int = None      # the end record's count of them
    exception: Record = None
    problems: list = field(default_factory=list)


@dataclass
class Output:
    """A run's output: records in order, garbage, and other (non-record) lines."""
    records: list = field(default_factory=list)
    garbage: list = field(default_factory=list)     # Garbage
    other: list = field(default_factory=list)       # str

    def _first(self, event):
        return next((r for r in self.records if r.event == event), None)

    @property
    def boot(self):
        return self._first("boot")

    @property
    def exit_status(self):
        record = self._first("exit")
        return None if record is None else record.num("status")

    def cases(self):
        """{case ID: CaseRecords} in order of first appearance.  An exception
        record belongs to the case it names or, naming none, to the case begun
        and not yet ended, if any."""
        cases = {}
        current = None      # begun, not yet ended
        for record in self.records:
            case_id = record.case
            if record.event == "exception" and case_id is None:
                case_id = current
            if case_id is None:     # boot, exit, or an error or exception outside cases
                continue
            case = cases.setdefault(case_id, CaseRecords())
            if record.event == "step":
                repeated = record.num("n") in case.steps
            elif record.event == "walk":
                repeated = False    # one record per descriptor read
            else:       # begin and end are flags, regs, error and exception None until seen
                repeated = bool(getattr(case, record.event))
            if repeated:
                case.problems.append(f"repeated: {record.line}")
            if record.event in ("regs", "walk", "step", "end") and current != case_id:
                case.problems.append(f"outside begin..end: {record.line}")

            if record.event == "begin":
                case.begin, current = True, case_id
            elif record.event == "end":
                case.end, case.walk_digest, case.steps_said = True, record.fields.get("walk"), record.num("steps")
                if current == case_id:
                    current = None
            elif record.event == "step":
                case.steps[record.num("n")] = record
                case.step_records += 1
            elif record.event == "walk":
                when = case.walks.setdefault(record.num("n"), {"before": [], "after": []})
                when[record.word("when")].append(record)
            else:
                setattr(case, record.event, record)
        for case in cases.values():
            lost = _step_records_lost(case)
            if lost:    # the step records (and their walks', numbered the same way) stand on the wrong steps
                case.problems.append(lost)
                case.steps, case.walks = {}, {}
            case.problems.extend(_walks_missing_or_extra(case))
        return cases


def _step_records_lost(case):
    """What is wrong where the step records that arrived are not as many as the end record counts
    (None where they are, or no end record came).  A step record is numbered by the records before
    it (docs/protocol.md, "Compact records"), so after one lost or repeated the later ones stand on
    the wrong steps: the loss is named rather than judged."""
    said, got = case.steps_said, case.step_records
    if said is None or got == said:
        return None
    return (f"the end record counts {said} step record{'s' if said != 1 else ''}; {got} arrived "
            "(records lost or repeated): no step record can be placed on its step: rerun it")


def _walks_missing_or_extra(case):
    """The walk records of a case that its step records do not account for: a step record says
    how many it sent before it (walks=) and after it (after=), so a lost walk record is a problem
    of the run, never read as a walk that read fewer descriptors (or none)."""
    problems = []
    for n, record in sorted(case.steps.items()):
        walks = case.walks.get(n, {"before": [], "after": []})
        for when, key in (("before", "walks"), ("after", "after")):
            got, said = len(walks[when]), record.fields.get(key)
            if got != (said or 0):
                says = (f"says {said} walk record{'s' if said != 1 else ''} {when} it" if said is not None
                        else f"announces no walk records {when} it")
                problems.append(f"step {n}'s record {says}; {got} arrived (records lost or garbled): rerun it")
    return problems


def parse_output(text):
    """Parse a run's output (from a pty: lines may end in \\r\\n; the last may
    lack a line end and is parsed all the same)."""
    out = Output()
    compaction = Compaction()
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line.startswith(PREFIX):
            try:
                current = compaction.current
                record = parse_record(line, compaction)
                if record.event in IN_CASE:
                    if current is None:
                        raise ProtocolError(f"a {record.event} record outside any case's begin..end")
                    record = Record(record.event, {"case": current, **record.fields}, line)
                out.records.append(record)
            except ProtocolError as e:
                out.garbage.append(Garbage(line, str(e)))
        elif line.strip():
            out.other.append(line)
    return out
