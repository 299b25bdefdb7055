"""
ctypes binding to kernel/blob.c built for the host: the kernel's own check of
a case blob (what it refuses, and where), run on bytes the harness encoded.
"""
import ctypes

from host.pgtable_host import build_library


class Problem(ctypes.Structure):
    _fields_ = [("field", ctypes.c_char_p), ("in_case", ctypes.c_bool), ("index", ctypes.c_uint32)]


def blob_library(out_dir):
    """kernel/blob.c as a shared library in out_dir, blob_check's signature declared."""
    lib = ctypes.CDLL(str(build_library(out_dir, "blob.c")))
    lib.blob_check.restype = ctypes.c_bool
    lib.blob_check.argtypes = [ctypes.c_char_p, ctypes.c_uint64, ctypes.POINTER(Problem)]
    return lib


def blob_check(lib, data, capacity=None):
    """(ok, field, index or None) as the kernel's blob_check finds `data` in an area of `capacity` bytes."""
    problem = Problem()
    ok = lib.blob_check(data, len(data) if capacity is None else capacity, ctypes.byref(problem))
    field = problem.field and problem.field.decode()
    return ok, field, problem.index if problem.in_case else None
