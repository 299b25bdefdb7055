"""
ctypes binding to kernel/pgtable.c built for the host, so the table library's
pure logic (geometry, descriptor encoding, table building, the software walk)
is tested without QEMU.  On the host a table's "physical address" is its host
pointer, which the library stores in table descriptors as is.
"""
import ctypes
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# The largest granule: table_alloc() aligns tables relative to the pool base,
# so the base itself must be aligned for 64K-granule tables to be.
POOL_ALIGN = 1 << 16


class BuildError(RuntimeError):
    pass


def build_library(out_dir, source="pgtable.c") -> Path:
    """Compile kernel/<source> (pure logic over memory) into a shared library in out_dir."""
    lib = Path(out_dir) / f"lib{Path(source).stem}.so"
    cmd = ["gcc", "-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
           "-Ikernel", f"kernel/{source}", "-o", str(lib)]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed:\n{result.stderr}")
    return lib


class PteProt(ctypes.Structure):
    _fields_ = [("attrindx", ctypes.c_uint8), ("ap", ctypes.c_uint8), ("sh", ctypes.c_uint8),
                ("af", ctypes.c_bool), ("ng", ctypes.c_bool), ("pxn", ctypes.c_bool),
                ("uxn", ctypes.c_bool), ("contig", ctypes.c_bool), ("dbm", ctypes.c_bool)]


class TableProt(ctypes.Structure):
    _fields_ = [("aptable", ctypes.c_uint8), ("pxntable", ctypes.c_bool), ("uxntable", ctypes.c_bool)]


class S2Prot(ctypes.Structure):
    _fields_ = [("memattr", ctypes.c_uint8), ("s2ap", ctypes.c_uint8), ("sh", ctypes.c_uint8), ("xn", ctypes.c_uint8),
                ("af", ctypes.c_bool), ("contig", ctypes.c_bool), ("dbm", ctypes.c_bool)]


class TablePool(ctypes.Structure):
    _fields_ = [("base", ctypes.POINTER(ctypes.c_uint8)), ("size", ctypes.c_size_t),
                ("used", ctypes.c_size_t)]


class PgTable(ctypes.Structure):
    _fields_ = [("root", ctypes.POINTER(ctypes.c_uint64)), ("pool", ctypes.POINTER(TablePool)),
                ("granule_shift", ctypes.c_uint), ("va_bits", ctypes.c_uint),
                ("start_level", ctypes.c_int), ("oa_format", ctypes.c_int)]


class WalkMemory(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("size", ctypes.c_uint64), ("offset", ctypes.c_uint64)]


class WalkRead(ctypes.Structure):
    _fields_ = [("level", ctypes.c_int), ("table", ctypes.c_uint64), ("index", ctypes.c_uint),
                ("desc", ctypes.c_uint64)]


PGT_WALK_LEVELS = 5     # pgtable.h


class Walk(ctypes.Structure):
    _fields_ = [("level", ctypes.c_int), ("desc", ctypes.c_uint64), ("pa", ctypes.c_uint64),
                ("valid", ctypes.c_bool), ("nreads", ctypes.c_uint), ("reads", WalkRead * PGT_WALK_LEVELS)]


def load_library(path):
    """Load the library and declare its prototypes (ctypes would default to int)."""
    lib = ctypes.CDLL(str(path))
    u64, c_int, c_uint = ctypes.c_uint64, ctypes.c_int, ctypes.c_uint
    pt_p, prot_p = ctypes.POINTER(PgTable), ctypes.POINTER(PteProt)
    signatures = {
        "pgt_level_shift": (c_uint, [c_uint, c_int]),
        "pgt_start_level": (c_int, [c_uint, c_uint]),
        "pgt_index": (c_uint, [pt_p, u64, c_int]),
        "pte_prot_bits": (u64, [prot_p]),
        "pte_leaf": (u64, [pt_p, u64, c_int, prot_p]),
        "pool_reset": (None, [ctypes.POINTER(TablePool)]),
        "pgt_init": (c_int, [pt_p, ctypes.POINTER(TablePool), c_uint, c_uint, c_int]),
        "pgt_slot": (c_int, [pt_p, u64, c_int, ctypes.POINTER(ctypes.POINTER(u64))]),
        "pgt_map": (c_int, [pt_p, u64, u64, c_int, prot_p]),
        "pgt_table_prot": (c_int, [pt_p, u64, c_int, ctypes.POINTER(TableProt)]),
        "pgt_walk": (None, [pt_p, u64, ctypes.POINTER(WalkMemory), ctypes.POINTER(Walk)]),
        "pgt_va_in_range": (ctypes.c_bool, [c_uint, u64, ctypes.c_bool]),
        "pgt_ttbr": (u64, [pt_p]),
        "pgt_ttbr_table": (u64, [pt_p, u64]),
        "s2_prot_bits": (u64, [ctypes.POINTER(S2Prot)]),
        "pgt_init_level": (c_int, [pt_p, ctypes.POINTER(TablePool), c_uint, c_uint, c_int, c_int]),
        "pgt_map_attrs": (c_int, [pt_p, u64, u64, c_int, u64]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


class Tables:
    """One struct pgtable over a pool of host memory owned by this object."""

    def __init__(self, lib, pool_size=1 << 20):
        self.lib = lib
        # Oversized so a 64 KiB-aligned base still leaves pool_size bytes.
        self._memory = ctypes.create_string_buffer(pool_size + POOL_ALIGN)
        raw = ctypes.addressof(self._memory)
        self.pool_base = (raw + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1)
        self.pool_size = pool_size
        self.pool = TablePool(ctypes.cast(self.pool_base, ctypes.POINTER(ctypes.c_uint8)), pool_size, 0)
        self.pt = PgTable()

    def init(self, granule_shift, va_bits, oa_format=0):
        """Start afresh: an empty pool and a new root table.  Returns the pgt_init error."""
        self.lib.pool_reset(ctypes.byref(self.pool))
        return self.lib.pgt_init(ctypes.byref(self.pt), ctypes.byref(self.pool), granule_shift, va_bits,
                                 oa_format)

    @property
    def granule_shift(self):
        return self.pt.granule_shift

    @property
    def va_bits(self):
        return self.pt.va_bits

    @property
    def root(self):
        """Host address of the root table."""
        return ctypes.cast(self.pt.root, ctypes.c_void_p).value

    def map(self, va, pa, level, prot=None):
        return self.lib.pgt_map(ctypes.byref(self.pt), va, pa, level, ctypes.byref(prot or PteProt()))

    def slot(self, va, level):
        """(error, host address of the descriptor slot, or None on error)."""
        slot = ctypes.POINTER(ctypes.c_uint64)()
        err = self.lib.pgt_slot(ctypes.byref(self.pt), va, level, ctypes.byref(slot))
        return err, (ctypes.cast(slot, ctypes.c_void_p).value if err == 0 else None)

    def table_prot(self, va, level, aptable=0, pxntable=False, uxntable=False):
        prot = TableProt(aptable, pxntable, uxntable)
        return self.lib.pgt_table_prot(ctypes.byref(self.pt), va, level, ctypes.byref(prot))

    def walk(self, va, memory=None):
        """The walk of va reading only the pool (or `memory`: a WalkMemory); the
        descriptors read as `reads`, (level, table address, index, descriptor) each."""
        w = Walk()
        memory = memory or WalkMemory(self.pool_base, self.pool_size, 0)
        self.lib.pgt_walk(ctypes.byref(self.pt), va, ctypes.byref(memory), ctypes.byref(w))
        reads = [(r.level, r.table, r.index, r.desc) for r in w.reads[:w.nreads]]
        return {"valid": w.valid, "level": w.level, "desc": w.desc, "pa": w.pa, "reads": reads}

    def _check_addr(self, addr):
        # A stray table address would otherwise crash the whole test run.
        if addr % 8 or not self.pool_base <= addr < self.pool_base + self.pool_size:
            raise ValueError(f"descriptor address {addr:#x} is not in the table pool")

    def read(self, addr):
        """The descriptor at a host address inside the pool."""
        self._check_addr(addr)
        return ctypes.c_uint64.from_address(addr).value

    def write(self, addr, desc):
        """Plant a raw descriptor, as the kernel does for a case's raw entries."""
        self._check_addr(addr)
        ctypes.c_uint64.from_address(addr).value = desc

    def level_shift(self, granule_shift, level):
        return self.lib.pgt_level_shift(granule_shift, level)

    def start_level(self, granule_shift, va_bits):
        return self.lib.pgt_start_level(granule_shift, va_bits)

    def index(self, va, level):
        return self.lib.pgt_index(ctypes.byref(self.pt), va, level)

    def prot_bits(self, prot):
        return self.lib.pte_prot_bits(ctypes.byref(prot))

    def leaf(self, pa, level, prot):
        return self.lib.pte_leaf(ctypes.byref(self.pt), pa, level, ctypes.byref(prot))
