"""Typed reading of one table of a case file: every value checked for its type where it is read,
every error naming the file, the case and the field."""
from harness.cases.schema import CaseError
from harness.expr import ExprError, evaluate

def no_unknown(path, case, where, table, allowed):
    if not isinstance(table, dict):
        raise CaseError(path, "must be a table", case, where)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        prefix = f"{where}." if where else ""
        raise CaseError(path, f"unknown key; allowed: {', '.join(sorted(allowed))}", case,
                        prefix + unknown[0])



class Fields:
    """Typed access to one table of a case, naming the field in every error."""

    def __init__(self, path, case, where, table, allowed, names):
        no_unknown(path, case, where, table, allowed)
        self.path, self.case, self.where, self.table, self.names = path, case, where, table, names

    def error(self, key, message):
        return CaseError(self.path, message, self.case, f"{self.where}.{key}" if self.where else key)

    def _get(self, key, default, required):
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        if isinstance(value, str):
            try:
                value = evaluate(value, self.names)
            except ExprError as e:
                raise self.error(key, str(e)) from None
        return value

    def int(self, key, default=None, required=False):
        value = self._get(key, default, required)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.error(key, f"must be an integer, not {value!r}")
        return value

    def bool(self, key, default=False):
        value = self._get(key, default, False)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {value!r}")
        return value

    def choice(self, key, choices, default=None, required=False):
        if key not in self.table:
            if required:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of: {', '.join(map(str, choices))}")
        return value

    def text(self, key, required=False):
        value = self.table.get(key)
        if value is None and required:
            raise self.error(key, "is required")
        if value is not None and not isinstance(value, str):
            raise self.error(key, "must be a string")
        return value


def table_list(path, name, body, key):
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise CaseError(path, "must be a list of tables", name, key)
    return value

