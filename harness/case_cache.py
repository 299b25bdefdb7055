"""Case files' loaded cases, kept on disk between runs (the suite's collection, conftest.py).

Loading a case file (its TOML, the matrix's instances, every check of harness/cases) is the same
work each run while neither the file nor the harness changes: 0.94 s of CPU for the 58 files of
cases/, where reading the loaded cases back takes 0.09 s.  An entry holds one file's cases, keyed
by the file's path and bytes and by the digest of the harness's and the kernel headers' source (the
files the loader reads), in the prediction cache's file format (predictions.write and read: checked
against its own digest, read back by an unpickler that builds only the harness's types).  A file
that does not load is never kept (its CaseError comes every time); an entry that does not read back
is loaded afresh and rewritten: the cache is invisible to correctness.
"""
import hashlib
from pathlib import Path

from harness import predictions
from harness.cases import load_file
from harness.kdefs import REPO

# The files a case file's loading reads besides the case file itself.
SOURCES = ("harness/**/*.py", "kernel/*.h")


class CaseFileCache:
    """The loaded cases of case files, kept in `directory`."""

    def __init__(self, directory, root=REPO):
        self.directory = Path(directory)
        self.root = root
        self._source = None

    def load(self, path):
        """load_file(path)'s cases: read back where they were kept, else loaded and kept."""
        path = Path(path).resolve()
        if self._source is None:
            self._source = predictions.source_digest(self.root, SOURCES)
        try:
            ids = self._ids(path)
        except OSError:
            return load_file(path)      # its CaseError says why the file cannot be read
        where = self.directory / f"{self._source[:20]}-{hashlib.sha256(ids[0].encode()).hexdigest()[:24]}.pickle"
        entries, _ = predictions.read(where, self._source, ids)
        if entries is not None and isinstance(entries.get("cases"), list):
            return entries["cases"]
        cases = load_file(path)
        try:
            if self._ids(path) == ids:      # not changed while it loaded: the cases are those of `ids`
                predictions.write(where, self._source, ids, {"cases": cases})
        except OSError:
            pass        # a cache that cannot be written: the next run loads the file again
        return cases

    @staticmethod
    def _ids(path):
        return str(path), hashlib.sha256(path.read_bytes()).hexdigest()
