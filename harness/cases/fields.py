"""Typed reading of one table of a case file: every value checked for its type where it is read,
every error naming the file, the case and the field, and the type that was expected; a name
that is not known gets the closest known ones ("did you mean")."""
import difflib

from harness.cases.schema import CaseError
from harness.expr import ExprError, evaluate

def type_name(value):
    """What a TOML value is, in words: "the string 'two'", "the boolean true", "an array"."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}" if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, (float, str)):
        return f"the {'float' if isinstance(value, float) else 'string'} {value!r}"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"the {type(value).__name__} {value}"        # TOML's dates and times


def did_you_mean(word, known):
    """' (did you mean 'x'?)' for the known names closest to `word`, ignoring case; '' if none is close."""
    if not isinstance(word, str):
        return ""
    lowered = {str(k).lower(): str(k) for k in known}
    close = [lowered[k] for k in difflib.get_close_matches(word.lower(), lowered, n=3, cutoff=0.6)]
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def no_unknown(path, case, where, table, allowed):
    """A table (else CaseError) with no key outside `allowed`."""
    if not isinstance(table, dict):
        raise CaseError(path, f"must be a table, not {type_name(table)}", case, where)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        prefix = f"{where}." if where else ""
        raise CaseError(path, f"unknown key{did_you_mean(unknown[0], allowed)}; allowed: {', '.join(sorted(allowed))}",
                        case, prefix + unknown[0])


def subtable(path, case, where, table, key):
    """table[key] as a table ({} when absent)."""
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise CaseError(path, f"must be a table, not {type_name(value)}", case, f"{where}.{key}" if where else key)
    return value


def table_list(path, name, body, key):
    """body[key] as an array of tables ([] when absent)."""
    value = body.get(key, [])
    if not isinstance(value, list):
        raise CaseError(path, f"must be an array of tables, not {type_name(value)}", name, key)
    for i, x in enumerate(value):
        if not isinstance(x, dict):
            raise CaseError(path, f"must be a table, not {type_name(x)}", name, f"{key}[{i}]")
    return value


class Fields:
    """Typed access to one table of a case, naming the field in every error."""

    def __init__(self, path, case, where, table, allowed, names):
        no_unknown(path, case, where, table, allowed)
        self.path, self.case, self.where, self.table, self.names = path, case, where, table, names

    def error(self, key, message):
        return CaseError(self.path, message, self.case, f"{self.where}.{key}" if self.where else key)

    def _get(self, key, default, required, expected):
        """The value of key, a string evaluated as an expression over the case's names."""
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        if isinstance(value, str):
            try:
                value = evaluate(value, self.names)
            except ExprError as e:
                if e.unknown is None:
                    raise self.error(key, f"must be {expected}; the string {value!r} is an expression that does not "
                                     f"evaluate: {e}") from None
                names = ", ".join(sorted(self.names)) or "this case has none"
                raise self.error(key, f"must be {expected}, not the string {value!r} (a string here is an expression "
                                 f"over the case's matrix parameters and frame names: {names})"
                                 f"{did_you_mean(e.unknown, self.names)}") from None
        return value

    def int(self, key, default=None, required=False, signed=False, bits=64):
        """An integer that fits in a 64-bit register, or `bits` bits (a pair of registers: 128)
        (signed: may be negative, as a level or a sign-extended VA)."""
        value = self._get(key, default, required, "an integer")
        if value is None:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, not {type_name(value)}")
        if not (-(1 << 63) if signed else 0) <= value < 1 << bits:
            raise self.error(key, f"{value:#x} does not fit in {bits} bits" if value >= 0 or signed else
                             f"must not be negative ({value})")
        return value

    def bool(self, key, default=False):
        value = self._get(key, default, False, "true or false")
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {type_name(value)}")
        return value

    def choice(self, key, choices, default=None, required=False):
        """One of the names `choices` (a string)."""
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        if not isinstance(value, str):
            raise self.error(key, f"must be a string (one of: {', '.join(map(str, choices))}), not {type_name(value)}")
        if value not in choices:
            hint = did_you_mean(value, choices)
            listed = f"the {len(choices)} known" if hint and len(choices) > 12 else ", ".join(map(str, choices))
            raise self.error(key, f"{value!r} is not one of {listed}{hint}")
        return value

    def text(self, key, required=False):
        value = self.table.get(key)
        if value is None and required:
            raise self.error(key, "is required")
        if value is not None and not isinstance(value, str):
            raise self.error(key, f"must be a string, not {type_name(value)}")
        return value
