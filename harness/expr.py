"""Matrix parameters in case files: `{name}` templates and small expressions.

A string that is exactly `{name}` becomes the parameter's value, whatever its
type; other strings have `{name}` replaced by the parameter's text.  A number
or flag written as a string is an expression over the parameters and the
case's frame names: `"base + block - 1"`, `"0x1000 if af else 0"`.  Only
arithmetic, bitwise, comparison and conditional operators are allowed.
"""
import ast
import operator
import re

_PLACEHOLDER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_WIDE = re.compile(r"\{[^{}]*:[^{}]*\d{4}")

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift,
    ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
}
_UNARY = {ast.USub: operator.neg, ast.Invert: operator.invert, ast.Not: operator.not_}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}


# The widest value an expression may make: a register is 64 bits, and a bound keeps `2 ** 10 ** 9`
# from taking the machine's memory.
MAX_BITS = 256
MAX_LENGTH = 1000


class ExprError(ValueError):
    """An expression that does not evaluate; unknown: the name it does not know, if that is why."""

    def __init__(self, message, unknown=None):
        super().__init__(message)
        self.unknown = unknown


def substitute(value, params):
    """Apply `{name}` templates throughout a TOML value (tables, lists, strings)."""
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, str) and "{" in value:
        whole = _PLACEHOLDER.match(value)
        if _WIDE.search(value):
            raise ExprError(f"bad template {value!r}: a field width of four digits or more")
        try:
            if whole:
                return params[whole.group(1)]
            return value.format_map(params)
        except KeyError as e:
            raise ExprError(f"unknown parameter {e.args[0]!r} in {value!r}") from None
        except (ValueError, IndexError, TypeError, AttributeError) as e:   # {x:bad spec}, {x[0]}, {x.y}
            raise ExprError(f"bad template {value!r}: {e}") from None
    return value


def evaluate(text, names):
    """Evaluate an integer/boolean expression over `names`."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"{text[:40]!r}... is longer than the {MAX_LENGTH} characters an expression may have")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError):   # a literal of more digits than Python converts; deep nesting
        raise ExprError(f"not an expression: {text!r}") from None
    try:
        return _eval(tree.body, names, text)
    except RecursionError:
        raise ExprError(f"{text[:40]!r}... is nested too deeply") from None


def _eval(node, names, text):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        known = ", ".join(sorted(names)) or "none"
        raise ExprError(f"unknown name {node.id!r} in {text!r} (known: {known})", unknown=node.id)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _operand(node.left, names, text), _operand(node.right, names, text)
        if isinstance(node.op, ast.Pow) and right > 0 and abs(left) > 1 and abs(left).bit_length() * right > MAX_BITS \
                or isinstance(node.op, (ast.LShift, ast.RShift)) and right > MAX_BITS:
            raise ExprError(f"{text!r} makes a number wider than {MAX_BITS} bits")
        try:
            value = _BINARY[type(node.op)](left, right)
        except (ArithmeticError, ValueError) as e:      # division by zero, a negative shift
            raise ExprError(f"{text!r}: {e}") from None
        if isinstance(value, int) and value.bit_length() > MAX_BITS:
            raise ExprError(f"{text!r} makes a number wider than {MAX_BITS} bits")
        return value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_operand(node.operand, names, text))
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _operand(node.left, names, text)
        for op, right_node in zip(node.ops, node.comparators):
            right = _operand(right_node, names, text)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = [_operand(v, names, text) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.IfExp):
        branch = node.body if _operand(node.test, names, text) else node.orelse
        return _eval(branch, names, text)
    raise ExprError(f"unsupported syntax in {text!r}: {ast.dump(node)[:60]}")


def _operand(node, names, text):
    """The value of an operand: operators take integers and booleans only."""
    value = _eval(node, names, text)
    if not isinstance(value, int):
        raise ExprError(f"{ast.unparse(node)!r} in {text!r} is {type(value).__name__} {value!r}, not a number")
    return value
