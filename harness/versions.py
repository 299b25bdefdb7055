"""QEMU version ranges for known-bug marks: "<8.1", ">=7.0,<8.1", "==7.2.22"."""
import operator
import re

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
_CLAUSE = re.compile(r"^\s*(<=|>=|==|<|>)\s*(\d+(?:\.\d+)*)\s*$")


def parse_version(text):
    """'7.2.22' -> (7, 2, 22)."""
    match = re.match(r"^(\d+(?:\.\d+)*)", text.strip())
    if not match:
        raise ValueError(f"not a version: {text!r}")
    return tuple(int(x) for x in match.group(1).split("."))


def parse_range(spec):
    clauses = []
    for part in spec.split(","):
        match = _CLAUSE.match(part)
        if not match:
            raise ValueError(f"bad version range {spec!r}: write clauses like '<8.1' or '>=7.0,<8.1'")
        clauses.append((_OPS[match.group(1)], parse_version(match.group(2))))
    return clauses


def in_range(version, spec):
    """Compare padded to equal length, so 7.2.22 < 8.1 and 7.2 == 7.2.0."""
    v = parse_version(version)
    for op, bound in parse_range(spec):
        width = max(len(v), len(bound))
        if not op(v + (0,) * (width - len(v)), bound + (0,) * (width - len(bound))):
            return False
    return True
