"""The model's predictions for the hand-written cases, cached on disk between runs.

What the model says of a step over the case's declared tables and registers
does not change from run to run: it depends on the case, the CPU's ID
registers and the harness's source alone.  So it is computed once, and a run
evaluates the model only where what the kernel reports departs from it:

- step n's Outcomes over the declared tables and registers (harness/predict.py
  for a case that changes its translations, the model's translation of each
  step's VA otherwise), and the declared registers: harness/crosscheck.py
  takes them only where the kernel's registers and the descriptors its walk
  read are the declared ones, and evaluates the model itself elsewhere;
- the known bugs that explain one departure (a step's Observation, and the
  descriptors read back after it where the check of hardware updates needs
  them), searched once per distinct departure (harness/fuzz/known.py's search
  is the costliest thing a verdict needs).

The cache is invisible to correctness.  A file holds the entries of one
CPU (its ID registers) under one source: its name and its contents are keyed
by the digest of every source file a prediction reads (SOURCES: the harness,
the kernel's headers it reads the layout from, the case files whose `[bug.*]`
tables the known-bug search reads), and an entry by the case's whole content
and the kernel's table pool.  A file that does not read back whole (torn,
truncated, changed: its own digest does not match), or was written for
another source or CPU, is never used: the cache starts empty and the file is
rewritten.  Entries are only ever computed by the code they are keyed by.
"""
import hashlib
import io
import os
import pickle
import tempfile
from pathlib import Path

from harness.kdefs import REPO

# The files whose content a prediction depends on: a change to any of them makes a new cache.
SOURCES = ("harness/**/*.py", "kernel/*.h", "cases/*.toml")
MAGIC = b"mmut-predictions 1\n"
# The option's value that turns the cache off.
OFF = "none"


def source_digest(root=REPO, sources=SOURCES):
    """The digest of every file `sources` names under root (names and contents)."""
    h = hashlib.sha256()
    for pattern in sources:
        for path in sorted(root.glob(pattern)):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def case_key(case, pool_base):
    """An entry's key: the case's whole content (its dataclass repr: every field, its file's
    path too) and where the kernel's table pool is."""
    return hashlib.sha256(f"{case!r} pool={pool_base:#x}".encode()).hexdigest()


class CaseEntry:
    """The cached predictions of one case, filled as they are asked for (harness/crosscheck.py):
    the declared registers ("registers"), the case's Outcomes step by step ("case", for a case
    that changes its translations) or step n's (n), and the names of the known bugs that explain
    a departure (("explained", departure): a key that says all the search depends on besides
    the case)."""

    def __init__(self, data):
        self._data = data
        self.changed = False

    def value(self, key, compute):
        """The cached value of key, or compute()'s, then cached.  None is a value too: a step
        whose prediction is not cacheable (the model's walk reads memory nobody declared) says
        so at once, and is evaluated every time."""
        if key not in self._data:
            self._data[key] = compute()
            self.changed = True
        return self._data[key]


class PredictionCache:
    """The cache in `directory` for the CPU with ID registers `ids`, loaded on first use and
    written back by save()."""

    def __init__(self, directory, root=REPO):
        self.directory = Path(directory)
        self.root = root
        self._source = None
        self._files = {}        # ids -> {case key: entry data}
        self._entries = {}      # (ids, case key) -> CaseEntry
        self.rebuilt = []       # (path, why) of the files found unusable and started afresh

    def _path(self, ids):
        return self.directory / f"{self._source[:20]}-{'-'.join(f'{i:x}' for i in ids)}.pickle"

    def _load(self, ids):
        if self._source is None:
            self._source = source_digest(self.root)
        if ids not in self._files:
            self._files[ids] = self._read(self._path(ids), ids)
        return self._files[ids]

    def _read(self, path, ids):
        """The entries of the file at path, or {} if it is missing or cannot be trusted."""
        entries, why = read(path, self._source, ids)
        if why:
            if why != "missing":
                self.rebuilt.append((path, why))
            return {}
        return entries

    def entry(self, case, ids, pool_base):
        """The CaseEntry of `case` on the CPU with ID registers `ids`, its tables at pool_base."""
        ids = tuple(ids)
        key = case_key(case, pool_base)
        if (ids, key) not in self._entries:
            entries = self._load(ids)
            self._entries[ids, key] = CaseEntry(entries.setdefault(key, {}))
        return self._entries[ids, key]

    def save(self):
        """Write back each file whose entries grew, merged with what another process wrote there
        meanwhile (xdist workers share a file), whole or not at all (a rename)."""
        for ids, entries in self._files.items():
            if not any(e.changed for (i, _), e in self._entries.items() if i == ids):
                continue
            path = self._path(ids)
            merged = self._read(path, ids)
            merged.update(entries)
            write(path, self._source, ids, merged)
            for (i, _), e in self._entries.items():
                if i == ids:
                    e.changed = False


def write(path, source, ids, entries):
    """Write a cache file of `entries` (a dict) for `source` and `ids`, whole or not at all (a
    rename), and remove the directory's files of other sources: they can never be used again."""
    payload = pickle.dumps({"source": source, "ids": ids, "entries": entries}, protocol=pickle.HIGHEST_PROTOCOL)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as f:
        f.write(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    os.replace(f.name, path)
    for stale in path.parent.glob("*.pickle"):
        if not stale.name.startswith(source[:20]):
            stale.unlink(missing_ok=True)


def read(path, source, ids):
    """(the entries of the cache file at path, None), or (None, why they cannot be used): missing,
    unreadable, torn, or written for another source or `ids`."""
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except OSError as e:
        return None, f"unreadable: {e}"
    return _decode(blob, source, ids)


def _decode(blob, source, ids):
    """(the entries of a cache file's bytes, None), or (None, why they cannot be trusted)."""
    if not blob.startswith(MAGIC):
        return None, "not a prediction cache file (or one of another format)"
    digest, payload = blob[len(MAGIC):len(MAGIC) + 64], blob[len(MAGIC) + 65:]
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        return None, "its contents do not match their digest (torn or changed)"
    try:
        data = _Restricted(io.BytesIO(payload)).load()
    except Exception as e:      # whatever a damaged pickle raises
        return None, f"it does not read back ({type(e).__name__})"
    if not isinstance(data, dict) or data.get("source") != source or data.get("ids") != ids:
        return None, "written for another source or CPU"
    if not isinstance(data.get("entries"), dict):
        return None, "no entries"
    return data["entries"], None


class _Restricted(pickle.Unpickler):
    """An unpickler that builds only the harness's own types and Python's plain ones (and paths)."""

    def find_class(self, module, name):
        if module.startswith("harness.") or module in ("builtins", "copyreg", "collections") or \
                (module, name) == ("pathlib", "PosixPath"):      # a case's file (harness/case_cache.py)
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is no type a prediction holds")
