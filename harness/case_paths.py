"""Where the cases are: CASES= paths (case directories and single case files, in the
repository or anywhere), the case files they name, and a case found by its ID.

A directory stands for its *.toml files, a file for itself.  A case's ID is
<file stem>.<name>, so two files of one stem (in different directories) are
refused, as is a case ID given twice.  Every tool that takes CASES= (pytest,
the blob build, make compare, make debug, make fuzz) reads it here.
"""
import difflib
import re
from pathlib import Path

from harness.cases import CaseError, load_files
from harness.errors import HarnessError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "cases"


def split(values):
    """CASES= as given (a list of strings, each holding paths separated by spaces or ':')
    -> the paths, resolved.  Nothing given: the repository's cases/."""
    paths = [Path(p).expanduser().resolve() for v in values or () for p in re.split(r"[\s:]+", str(v)) if p]
    return paths or [DEFAULT]


def case_files(paths):
    """The case files `paths` name, each once, in order: a directory's *.toml sorted, a file itself."""
    files = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
        elif path.is_file() and path.suffix == ".toml":
            found = [path]
        elif path.exists():
            raise HarnessError(f"CASES names {path}, which is neither a directory nor a .toml case file")
        else:
            raise HarnessError(f"CASES names {path}, which does not exist")
        files += [f.resolve() for f in found if f.resolve() not in files]
    return files


def is_case_file(file_path, paths):
    """Whether `file_path` is one of the case files `paths` name (a .toml in a named
    directory, or a named file)."""
    file_path = Path(file_path).resolve()
    return file_path.suffix == ".toml" and any(
        file_path == p or file_path.parent == p for p in map(Path, paths))


def load(paths):
    """Every case of the case files `paths` name, in order.  IDs are unique: a file stem
    met twice, or a case ID met twice, is a CaseError naming both files."""
    files, stems = case_files(paths), {}
    for path in files:
        if path.stem in stems:
            raise CaseError(path, f"its cases' IDs would be those of {stems[path.stem]} "
                                  f"(a case ID is <file stem>.<name>): rename one of the two files")
        stems[path.stem] = path
    return load_files(files)


def case_id(text):
    """A case ID from what a user may type: the ID itself (`stage2.translation_fault[l2]`)
    or pytest's node ID (`cases/stage2.toml::translation_fault[l2]`)."""
    if "::" in text:
        file, _, name = text.partition("::")
        return f"{Path(file).stem}.{name}"
    return text


def find(cases, text):
    """The case `text` names (case_id's forms); an unknown one is a HarnessError naming the
    closest IDs."""
    wanted = case_id(text)
    by_id = {c.id: c for c in cases}
    if wanted in by_id:
        return by_id[wanted]
    close = difflib.get_close_matches(wanted, by_id, n=5, cutoff=0.5)
    if not close:   # a family or case name alone: the IDs that hold it
        close = [i for i in by_id if wanted.lower() in i.lower()][:5]
    hint = f"; the closest: {', '.join(close)}" if close else ""
    raise HarnessError(f"no case {wanted!r} in the {len(cases)} case instances of CASES{hint} "
                       f"(an ID is <file stem>.<case name>[<matrix values>], as a failure's report prints it)")


def select(cases, expression):
    """The cases pytest's -k `expression` selects (K=), matched as pytest matches it: a name
    selects the instances whose file, case name or ID holds it, whatever its case."""
    from _pytest.mark.expression import Expression, ParseError
    try:
        compiled = Expression.compile(expression)
    except ParseError as e:
        raise HarnessError(f"-k {expression!r}: {e}") from None

    def keep(case):
        names = [case.path.name, case.name, case.id]
        return compiled.evaluate(lambda sub: any(sub.lower() in n.lower() for n in names))
    return [c for c in cases if keep(c)]
