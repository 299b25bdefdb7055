"""Numbers the kernel's C headers define, read so that each is written once (in C).

`read_defines` takes only `#define NAME <integer literal>` lines, with an
optional trailing comment.  `read_constants` also evaluates what the
descriptor and register headers write as expressions: object-like macros
over literals, other macros of the header, BIT() and GENMASK() (types.h),
`(u64)` casts and the integer operators; function-like macros such as
`DESC_OA_MASK(shift)` become Python functions; and `enum { NAME = <literal> }`
constants.  Anything else (strings, statements, macros of other headers) is
skipped.
"""
import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# C integer literals: hex, octal (a leading 0) or decimal, with an optional U/L suffix.
_LITERAL = r"(?:0[xX](?P<hex>[0-9a-fA-F]+)|(?P<oct>0[0-7]*)|(?P<dec>[1-9][0-9]*))[uUlL]*"
_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+" + _LITERAL + r"\s*(?:/[*/].*)?$")
# Any #define: name, parameters of a function-like macro, body (comments are stripped before).
_ANY_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)(?:\(([^)]*)\))?\s+(.+?)\s*$")
_ENUM = re.compile(r"\benum\s+\w*\s*\{([^}]*)\}", re.DOTALL)
_ENUM_ITEM = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*" + _LITERAL + r"\s*$")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_C_LITERAL = re.compile(r"\b(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]+\b")
_CAST = re.compile(r"\(\s*(?:u8|u16|u32|u64|s8|int|unsigned)\s*\)")

U64 = (1 << 64) - 1


def kernel_header(name):
    """Path of kernel/<name> in this repository."""
    return REPO / "kernel" / name


def _literal(match):
    if match["hex"]:
        return int(match["hex"], 16)
    if match["oct"]:
        return int(match["oct"], 8)
    return int(match["dec"])


def read_defines(path):
    """{NAME: value} for every `#define NAME <integer literal>` line of a header."""
    defines = {}
    for line in Path(path).read_text().splitlines():
        match = _DEFINE.match(line)
        if match:
            defines[match[1]] = _literal(match)
    return defines


def _bit(n):
    return 1 << n


def _genmask(hi, lo):
    return (U64 >> (63 - hi)) & ~((1 << lo) - 1) & U64


_OPERATORS = {
    ast.BitOr: lambda a, b: a | b, ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b,
    ast.LShift: lambda a, b: (a << b) & U64, ast.RShift: lambda a, b: a >> b,
    ast.Add: lambda a, b: (a + b) & U64, ast.Sub: lambda a, b: (a - b) & U64,
    ast.Mult: lambda a, b: (a * b) & U64,
}


class _Unknown(Exception):
    """An expression this reader does not evaluate (the macro is skipped)."""


def _evaluate(node, names):
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.Name) and node.id in names and isinstance(names[node.id], int):
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return ~_evaluate(node.operand, names) & U64    # C's ~ on a u64
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and callable(names.get(node.func.id)):
        return names[node.func.id](*(_evaluate(a, names) for a in node.args))
    raise _Unknown(ast.dump(node))


def _python_expression(body):
    """A C integer expression as Python source: casts and literal suffixes dropped."""
    text = _CAST.sub("", _C_LITERAL.sub(r"\1", body))
    return ast.parse(text.replace("0X", "0x"), mode="eval").body


def _function_macro(params, tree, names):
    def expand(*args):
        if len(args) != len(params):
            raise TypeError(f"takes {len(params)} arguments")
        return _evaluate(tree, {**names, **dict(zip(params, args))})
    return expand


def read_constants(path):
    """{NAME: int or function} for the integer macros and enum constants of a header."""
    text = _COMMENT.sub(" ", Path(path).read_text())
    names = {"BIT": _bit, "GENMASK": _genmask}
    for line in text.splitlines():
        match = _ANY_DEFINE.match(line)
        if not match:
            continue
        name, params, body = match[1], match[2], match[3]
        try:
            tree = _python_expression(body)
            if params is None:
                names[name] = _evaluate(tree, names)
            else:
                names[name] = _function_macro([p.strip() for p in params.split(",")], tree, names)
        except (SyntaxError, _Unknown):
            continue
    for body in _ENUM.findall(text):
        for item in body.split(","):
            match = _ENUM_ITEM.match(item)
            if match:
                names[match[1]] = _literal(match)
    return {name: value for name, value in names.items() if name not in ("BIT", "GENMASK")}
