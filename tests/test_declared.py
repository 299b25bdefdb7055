"""harness/declared.py against the kernel's own table builder: for every
hand-written case, tables.c's build order (declared.build_tables, and for a
stage 2 case stage2.c's, declared.build_stage2) is run once over
kernel/pgtable.c built for the host and once over declared's Python mirror of
it, on the same pool address; the pools must hold the same words,
and the kernel's software walk (pgt_walk, which places the fetch stubs) must
agree with the mirror's."""
import ctypes

import pytest

from harness import declared
from harness.cases import load_dir
from harness.kdefs import REPO
from harness.model import UnknownMemory
from harness.model.descriptors import (
    DESC_AF, DESC_AP, DESC_ATTRINDX, DESC_ATTRINDX3, DESC_CONTIG, DESC_DBM, DESC_NG, DESC_PXN, DESC_SH, DESC_UXN,
    TABLE_AP, TABLE_PXN, TABLE_UXN,
)
from harness.model.stage2 import S2_AP, S2_MEMATTR, S2_XN
from host.pgtable_host import (
    POOL_ALIGN, PgTable, PteProt, S2Prot, TablePool, TableProt, Walk, WalkMemory, build_library, load_library,
)

POOL_SIZE = 4 << 20     # tables.c TABLE_POOL_SIZE
OA_FORMATS = {"48": 0, "52_lpa": 1, "52_ds": 2}     # enum oa_format
CASES = load_dir(REPO / "cases")


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return load_library(build_library(tmp_path_factory.mktemp("pgtable")))


@pytest.fixture(scope="module")
def pool(lib):
    memory = ctypes.create_string_buffer(POOL_SIZE + POOL_ALIGN)
    base = (ctypes.addressof(memory) + POOL_ALIGN - 1) & ~(POOL_ALIGN - 1)
    return memory, base, TablePool(ctypes.cast(base, ctypes.POINTER(ctypes.c_uint8)), POOL_SIZE, 0)


class KernelTables:
    """One struct pgtable of the host-built pgtable.c, with _Tables' methods."""

    def __init__(self, lib, pool, granule, va_bits, oa_format):
        self.lib, self.pt, self.granule = lib, PgTable(), granule
        # The kernel's walk reads the table pool only (steps.c's walk window).
        self.memory = WalkMemory(ctypes.cast(pool.base, ctypes.c_void_p).value, pool.size, 0)
        assert lib.pgt_init(ctypes.byref(self.pt), ctypes.byref(pool), granule, va_bits, OA_FORMATS[oa_format]) == 0

    def map(self, va, pa, level, bits):
        attrindx = DESC_ATTRINDX.get(bits) | DESC_ATTRINDX3.get(bits) << 3     # AttrIndx[3]: FEAT_AIE's bit 59
        prot = PteProt(attrindx, DESC_AP.get(bits), DESC_SH.get(bits), DESC_AF.get(bits),
                       DESC_NG.get(bits), DESC_PXN.get(bits), DESC_UXN.get(bits), DESC_CONTIG.get(bits),
                       DESC_DBM.get(bits))
        assert self.lib.pgt_map(ctypes.byref(self.pt), va, pa, level, ctypes.byref(prot)) == 0

    def map_run(self, va, pa, level, bits, count):
        """pgt_map of each leaf in turn, as map_kernel's loop calls it."""
        size = 1 << declared.level_lsb(self.granule, level)
        for k in range(count):
            self.map(va + k * size, pa + k * size, level, bits)

    def table_prot(self, va, level, bits):
        prot = TableProt(TABLE_AP.get(bits), TABLE_PXN.get(bits), TABLE_UXN.get(bits))
        assert self.lib.pgt_table_prot(ctypes.byref(self.pt), va, level, ctypes.byref(prot)) == 0

    def raw(self, va, level, desc):
        slot = ctypes.POINTER(ctypes.c_uint64)()
        assert self.lib.pgt_slot(ctypes.byref(self.pt), va, level, ctypes.byref(slot)) == 0
        slot[0] = desc

    def walk(self, va, memory):
        w = Walk()
        self.lib.pgt_walk(ctypes.byref(self.pt), va, ctypes.byref(memory), ctypes.byref(w))
        return w.pa if w.valid else None


class KernelStage2Tables(KernelTables):
    """stage2.c's struct pgtable of the host-built pgtable.c (pgt_init_level, s2_prot_bits, pgt_map_attrs)."""

    def __init__(self, lib, pool, stage2):
        self.lib, self.pt, self.granule = lib, PgTable(), stage2.tg
        assert lib.pgt_init_level(ctypes.byref(self.pt), ctypes.byref(pool), stage2.tg, stage2.ips_bits,
                                  stage2.start_level, OA_FORMATS[declared.s2_oa_format(stage2)]) == 0

    def map(self, ipa, pa, level, bits):
        prot = S2Prot(S2_MEMATTR.get(bits), S2_AP.get(bits), DESC_SH.get(bits), S2_XN.get(bits), DESC_AF.get(bits),
                      DESC_CONTIG.get(bits), DESC_DBM.get(bits))
        assert self.lib.s2_prot_bits(ctypes.byref(prot)) == bits
        assert self.lib.pgt_map_attrs(ctypes.byref(self.pt), ipa, pa, level, bits) == 0


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_declared_tables_are_the_kernels(case, lib, pool):
    _, base, table_pool = pool
    ctypes.memset(base, 0, table_pool.used)        # the last case's tables, so gaps between tables read 0
    lib.pool_reset(ctypes.byref(table_pool))
    halves = declared.build_tables(case, lambda g, bits, fmt: KernelTables(lib, table_pool, g, bits, fmt))
    if case.stage2 is not None:
        declared.build_stage2(case, KernelStage2Tables(lib, table_pool, case.stage2))
    kernel_words = (ctypes.c_uint64 * (table_pool.used // 8)).from_address(base)
    memory, ttbr0, _ = declared.declared_memory(case, pool_base=base)
    assert ttbr0 == ctypes.cast(halves[0].pt.root, ctypes.c_void_p).value     # host pools sit below 2^48
    mismatches = []
    for k, word in enumerate(kernel_words):
        try:
            known = memory.read64(base + 8 * k)
        except UnknownMemory:       # between tables, where alignment left a gap the kernel never reads
            known = None
        if known != word and (word or known is not None):
            mismatches.append(f"pool + {8 * k:#x}: kernel {word:#x}, declared {known}")
    assert not mismatches, "\n".join(mismatches[:20])
    # The software walk, both reading the pool only (the kernel's reads its window).
    python_pool, words = declared._Pool(base), {}
    python_halves = declared.build_tables(case, lambda g, bits, fmt: declared._Tables(python_pool, words, g, bits, fmt))
    window = WalkMemory(base, POOL_SIZE, 0)

    def read(pa):
        return words.get(pa, 0) if base <= pa < base + POOL_SIZE else None

    for step in case.steps:
        half = step.va >> 55 & 1
        assert halves[half].walk(step.va, window) == python_halves[half].walk(step.va, read), \
            f"pgt_walk of {step.va:#x}"
