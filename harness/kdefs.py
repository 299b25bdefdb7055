"""Numbers the kernel's C headers define, read so that each is written once (in C).

Only `#define NAME <integer literal>` lines count, with an optional trailing
comment; anything else (expressions, macros with arguments, strings) is skipped.
"""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# C integer literals: hex, octal (a leading 0) or decimal, with an optional U/L suffix.
_DEFINE = re.compile(
    r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+"
    r"(?:0[xX](?P<hex>[0-9a-fA-F]+)|(?P<oct>0[0-7]*)|(?P<dec>[1-9][0-9]*))"
    r"[uUlL]*\s*(?:/[*/].*)?$")


def kernel_header(name):
    """Path of kernel/<name> in this repository."""
    return REPO / "kernel" / name


def read_defines(path):
    """{NAME: value} for every `#define NAME <integer literal>` line of a header."""
    defines = {}
    for line in Path(path).read_text().splitlines():
        match = _DEFINE.match(line)
        if match:
            if match["hex"]:
                defines[match[1]] = int(match["hex"], 16)
            elif match["oct"]:
                defines[match[1]] = int(match["oct"], 8)
            else:
                defines[match[1]] = int(match["dec"])
    return defines
