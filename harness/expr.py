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


class ExprError(ValueError):
    pass


def substitute(value, params):
    """Apply `{name}` templates throughout a TOML value (tables, lists, strings)."""
    if isinstance(value, dict):
        return {k: substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, str) and "{" in value:
        whole = _PLACEHOLDER.match(value)
        try:
            if whole:
                return params[whole.group(1)]
            return value.format_map(params)
        except KeyError as e:
            raise ExprError(f"unknown parameter {e.args[0]!r} in {value!r}") from None
        except (ValueError, IndexError) as e:
            raise ExprError(f"bad template {value!r}: {e}") from None
    return value


def evaluate(text, names):
    """Evaluate an integer/boolean expression over `names`."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ExprError(f"not an expression: {text!r}") from None
    return _eval(tree.body, names, text)


def _eval(node, names, text):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        known = ", ".join(sorted(names)) or "none"
        raise ExprError(f"unknown name {node.id!r} in {text!r} (known: {known})")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_eval(node.left, names, text), _eval(node.right, names, text))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand, names, text))
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _eval(node.left, names, text)
        for op, right_node in zip(node.ops, node.comparators):
            right = _eval(right_node, names, text)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, names, text) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.IfExp):
        branch = node.body if _eval(node.test, names, text) else node.orelse
        return _eval(branch, names, text)
    raise ExprError(f"unsupported syntax in {text!r}: {ast.dump(node)[:60]}")
