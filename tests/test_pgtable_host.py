"""
Host tests of kernel/pgtable.c: the walk geometry, descriptor encoding and
table building, checked against the architecture (Arm ARM D8.2, D8.3) and an
independent reference walk (host/reference_walk.py) rather than the library's
own formulas.
"""
import ctypes
import random

import pytest

from host import reference_walk as ref
from host.pgtable_host import PgTable, PteProt, Tables, WalkMemory, build_library, load_library

PGT_OK, PGT_NO_MEMORY, PGT_BAD_LEVEL, PGT_MISALIGNED, PGT_OCCUPIED, PGT_NOT_TABLE = 0, -1, -2, -3, -4, -5
KB, MB, GB = 1 << 10, 1 << 20, 1 << 30
U64 = (1 << 64) - 1


def ttbr1_va(va, va_bits):
    """The same VA in the TTBR1 range: every bit above va_bits set."""
    return va | (U64 & ~((1 << va_bits) - 1))


def block_levels(granule, va_bits):
    """Levels where a leaf (page or block) is architecturally valid for this geometry."""
    start = ref.start_level(granule, va_bits)
    return [level for level in range(start, 4) if level == 3 or level in ref.BLOCK_LEVELS[granule]]


@pytest.fixture(scope="session")
def lib(tmp_path_factory):
    return load_library(build_library(tmp_path_factory.mktemp("pgtable")))


@pytest.fixture
def make_tables(lib):
    def make(granule, va_bits, pool_size=1 * MB):
        tables = Tables(lib, pool_size)
        assert tables.init(granule, va_bits) == PGT_OK
        return tables
    return make


# --- Geometry -------------------------------------------------------------

# (granule shift, VA bits, start level) read off the Arm ARM D8.2 lookup-level
# tables: the start level is the one whose index range holds VA bit va_bits-1.
START_LEVELS = [
    (12, 48, 0), (12, 40, 0), (12, 39, 1), (12, 31, 1), (12, 30, 2), (12, 25, 2),
    (12, 22, 2), (12, 21, 3),                   # 21..24 bits need FEAT_TTST
    (14, 48, 0), (14, 47, 1), (14, 37, 1), (14, 36, 2), (14, 26, 2), (14, 25, 3),
    (16, 52, 1), (16, 48, 1), (16, 43, 1), (16, 42, 2), (16, 30, 2), (16, 29, 3),
]


@pytest.mark.parametrize("granule, va_bits, level", START_LEVELS)
def test_start_level_matches_architecture(make_tables, granule, va_bits, level):
    tables = make_tables(granule, va_bits)
    assert tables.start_level(granule, va_bits) == level
    assert tables.pt.start_level == level
    assert ref.start_level(granule, va_bits) == level     # the reference agrees too


@pytest.mark.parametrize("granule, max_va_bits", [(12, 48), (14, 48), (16, 52)])
def test_start_level_every_va_size(make_tables, granule, max_va_bits):
    tables = make_tables(granule, 48)
    for va_bits in range(granule + 1, max_va_bits + 1):
        assert tables.start_level(granule, va_bits) == ref.start_level(granule, va_bits), va_bits


@pytest.mark.parametrize("granule", sorted(ref.LEVEL_BITS))
def test_level_shift(make_tables, granule):
    tables = make_tables(granule, 48)
    for level, (_, lsb) in ref.LEVEL_BITS[granule].items():
        assert tables.level_shift(granule, level) == lsb, level


# (granule, VA bits, entries in the root table): the start level resolves only
# the VA bits left above the next level, so its table can be narrower.
ROOT_ENTRIES = [
    (12, 48, 512), (12, 39, 512), (12, 40, 2), (12, 25, 16), (12, 21, 512),
    (14, 48, 2), (14, 47, 2048), (14, 36, 2048), (14, 40, 16),
    (16, 52, 1024), (16, 48, 64), (16, 42, 8192), (16, 29, 8192),
]


@pytest.mark.parametrize("granule, va_bits, entries", ROOT_ENTRIES)
def test_root_index_width(make_tables, granule, va_bits, entries):
    tables = make_tables(granule, va_bits)
    top = (1 << va_bits) - 1
    assert tables.index(top, tables.pt.start_level) == entries - 1
    # The bit just above the VA range is not part of any index.
    assert tables.index(1 << va_bits, tables.pt.start_level) == 0


@pytest.mark.parametrize("granule, va_bits", [(g, v) for g, v, _ in ROOT_ENTRIES])
def test_index_every_level(make_tables, granule, va_bits):
    tables = make_tables(granule, va_bits)
    rng = random.Random(granule * 100 + va_bits)
    vas = [0, (1 << va_bits) - 1] + [rng.randrange(1 << va_bits) for _ in range(30)]
    for va in vas:
        for level in range(tables.pt.start_level, 4):
            expected = ref.va_index(granule, va_bits, va, level)
            assert tables.index(va, level) == expected, (hex(va), level)
            # TTBR1 VAs index their own table exactly as the low VA does.
            assert tables.index(ttbr1_va(va, va_bits), level) == expected, (hex(va), level)


# --- Descriptor encoding (Arm ARM D8.3) -------------------------------------

PROT_FIELDS = (
    [("attrindx", i, i << 2) for i in range(8)] +       # AttrIndx, bits[4:2]
    [("ap", ap, ap << 6) for ap in range(4)] +          # AP[2:1], bits[7:6]
    [("sh", sh, sh << 8) for sh in (0, 2, 3)] +         # SH[1:0], bits[9:8]
    [("af", True, 1 << 10), ("ng", True, 1 << 11),
     ("contig", True, 1 << 52), ("pxn", True, 1 << 53), ("uxn", True, 1 << 54), ("dbm", True, 1 << 51)]
)


@pytest.mark.parametrize("field, value, bits", PROT_FIELDS)
def test_prot_field(make_tables, field, value, bits):
    tables = make_tables(12, 48)
    assert tables.prot_bits(PteProt(**{field: value})) == bits


ALL_PROT = PteProt(attrindx=7, ap=3, sh=3, af=True, ng=True, pxn=True, uxn=True, contig=True, dbm=True)


@pytest.mark.parametrize("granule, level, type_bits", [
    (12, 3, 0b11), (12, 2, 0b01), (12, 1, 0b01),
    (14, 3, 0b11), (14, 2, 0b01),
    (16, 3, 0b11), (16, 2, 0b01),
])
def test_leaf_type_bits(make_tables, granule, level, type_bits):
    tables = make_tables(granule, 48)
    pa = 1 << 40
    assert tables.leaf(pa, level, ALL_PROT) == pa | tables.prot_bits(ALL_PROT) | type_bits


@pytest.mark.parametrize("granule", [12, 14, 16])
def test_leaf_output_address_mask(make_tables, granule):
    # Only OA[47:granule] has a place in the descriptor; the rest must not leak into attributes.
    tables = make_tables(granule, 48)
    oa_field = ref.bits(U64, 47, granule)
    assert tables.leaf(U64, 3, PteProt()) == oa_field | 0b11


# --- Table building -----------------------------------------------------------

# (granule, VA bits, level, size): a page per granule and a block per block level.
LEAVES = [
    (12, 48, 3, 4 * KB), (14, 48, 3, 16 * KB), (16, 48, 3, 64 * KB),
    (12, 48, 2, 2 * MB), (14, 47, 2, 32 * MB), (16, 42, 2, 512 * MB), (12, 39, 1, 1 * GB),
]


def leaf_va_pa(va_bits, size):
    # Top VA bit set so the start-level index is not 0; entry 5 of its table
    # so both neighbours are in the same table.
    return (1 << (va_bits - 1)) + 5 * size, (1 << 40) + 7 * size


def assert_walks(tables, va, valid, level, pa=None):
    """pgt_walk and the reference walk both find (valid, level, pa) for va."""
    found = ref.reference_walk(tables, va)
    walk = tables.walk(va)
    assert (found.valid, found.level) == (valid, level), hex(va)
    assert (walk["valid"], walk["level"]) == (valid, level), hex(va)
    if valid:
        assert found.pa == walk["pa"] == pa, hex(va)


@pytest.mark.parametrize("granule, va_bits, level, size", LEAVES)
def test_map_leaf(make_tables, granule, va_bits, level, size):
    tables = make_tables(granule, va_bits)
    va, pa = leaf_va_pa(va_bits, size)
    assert tables.map(va, pa, level, ALL_PROT) == PGT_OK
    assert_walks(tables, va, True, level, pa)
    assert_walks(tables, va + size - 1, True, level, pa + size - 1)
    assert_walks(tables, va - 1, False, level)
    assert_walks(tables, va + size, False, level)
    assert tables.walk(va)["desc"] == tables.leaf(pa, level, ALL_PROT)


@pytest.mark.parametrize("granule, va_bits, level, size", LEAVES)
def test_map_misaligned(make_tables, granule, va_bits, level, size):
    tables = make_tables(granule, va_bits)
    va, pa = leaf_va_pa(va_bits, size)
    for offset in (1, size // 2):
        assert tables.map(va + offset, pa, level) == PGT_MISALIGNED
        assert tables.map(va, pa + offset, level) == PGT_MISALIGNED
    # Refused before any table was made.
    assert tables.pool.used == 1 << granule


@pytest.mark.parametrize("granule, va_bits, level", [
    (12, 39, 0), (12, 48, -1), (12, 48, 4), (12, 25, 1), (14, 36, 1), (16, 48, 0), (16, 42, 1),
])
def test_bad_level(make_tables, granule, va_bits, level):
    tables = make_tables(granule, va_bits)
    assert tables.map(0, 0, level) == PGT_BAD_LEVEL
    assert tables.slot(0, level) == (PGT_BAD_LEVEL, None)


def test_map_under_block_is_occupied(make_tables):
    tables = make_tables(12, 48)
    va, pa = leaf_va_pa(48, 2 * MB)
    assert tables.map(va, pa, 2) == PGT_OK
    assert tables.map(va + 4 * KB, 0, 3) == PGT_OCCUPIED
    assert tables.slot(va + 4 * KB, 3) == (PGT_OCCUPIED, None)
    assert_walks(tables, va + 4 * KB, True, 2, pa + 4 * KB)     # the block is untouched


def test_map_under_raw_descriptor_is_occupied(make_tables):
    # A non-zero invalid descriptor (here a table bit without the valid bit) is in the way too.
    tables = make_tables(12, 48)
    err, slot = tables.slot(0, 2)
    assert err == PGT_OK
    tables.write(slot, 0b10)
    assert tables.map(0, 0, 3) == PGT_OCCUPIED
    assert_walks(tables, 0, False, 2)


def test_reinit_starts_from_empty_tables(make_tables):
    # The kernel resets the pool between cases; old descriptors must not survive.
    tables = make_tables(12, 48)
    assert tables.map(0, 1 << 30, 3) == PGT_OK
    assert tables.init(12, 48) == PGT_OK
    assert tables.map(4 * KB, 1 << 31, 3) == PGT_OK
    assert_walks(tables, 0, False, 3)


def test_mixed_granules_share_a_pool(make_tables, lib):
    # The kernel builds TTBR0 and TTBR1 tables of different granules in one pool,
    # so each table must still be aligned to its own granule.
    tables = make_tables(12, 48)
    assert tables.map(0, 0, 3) == PGT_OK
    pt64 = PgTable()
    assert lib.pgt_init(ctypes.byref(pt64), ctypes.byref(tables.pool), 16, 48, 0) == PGT_OK
    root64 = ctypes.cast(pt64.root, ctypes.c_void_p).value
    # Past the 4K root and its three tables for VA 0, and 64K aligned.
    assert root64 % (64 * KB) == 0 and root64 >= tables.pool_base + 4 * (4 * KB)


def test_pool_smaller_than_root(lib):
    tables = Tables(lib, pool_size=2 * KB)
    assert tables.init(12, 48) == PGT_NO_MEMORY


@pytest.mark.parametrize("granule, va_bits", [(12, 48), (16, 48)])
def test_pool_exhaustion(lib, granule, va_bits):
    # Room for the root and one table per level down to level 2 (2 for 4K, 1 for 64K).
    tables_needed = 2 - ref.start_level(granule, va_bits) + 1
    tables = Tables(lib, pool_size=tables_needed << granule)
    assert tables.init(granule, va_bits) == PGT_OK
    block = 1 << ref.LEVEL_BITS[granule][2][1]
    assert tables.map(0, 0, 2) == PGT_OK
    assert tables.map(block, block, 2) == PGT_OK               # the same level 2 table
    assert tables.map(2 * block, 0, 3) == PGT_NO_MEMORY        # needs a level 3 table
    assert tables.map(1 << (va_bits - 1), 0, 2) == PGT_NO_MEMORY
    assert_walks(tables, block, True, 2, block)


@pytest.mark.parametrize("granule, level", [(12, 0), (14, 0), (14, 1), (16, 1)])
def test_reference_rejects_disallowed_blocks(make_tables, granule, level):
    # Without FEAT_LPA/LPA2 a block descriptor here is a translation fault.  pgt_walk
    # reports these as valid: it describes what was written, not what hardware does.
    tables = make_tables(granule, 48)
    err, slot = tables.slot(0, level)
    assert err == PGT_OK
    tables.write(slot, 0b01)
    assert ref.reference_walk(tables, 0)[:2] == (False, level)


@pytest.mark.parametrize("granule", [12, 14, 16])
def test_reserved_level3_descriptor_is_invalid(make_tables, granule):
    # bits[1:0] = 0b01 at level 3 is reserved, not a page.
    tables = make_tables(granule, 48)
    err, slot = tables.slot(0, 3)
    assert err == PGT_OK
    tables.write(slot, 0b01)
    assert_walks(tables, 0, False, 3)


# --- Random mappings against the reference walk --------------------------------

# Granule and VA sizes covering every start level of every granule.
RANDOM_CONFIGS = [(12, 48), (12, 39), (12, 30), (12, 25), (14, 48), (14, 47), (14, 36),
                  (16, 52), (16, 48), (16, 42), (16, 29)]
ATTEMPTS = 50


def random_va(rng, granule, va_bits, level):
    """A VA aligned for level, built index by index; favouring indices 0, 1 and
    the last makes mappings share tables and exercises the top index bits."""
    va = 0
    for l in range(ref.start_level(granule, va_bits), level + 1):
        msb, lsb = ref.LEVEL_BITS[granule][l]
        entries = 1 << (min(msb, va_bits - 1) - lsb + 1)
        va |= rng.choice([0, 1, entries - 1, rng.randrange(entries)]) << lsb
    return va


def random_prot(rng):
    return PteProt(attrindx=rng.randrange(8), ap=rng.randrange(4), sh=rng.choice([0, 2, 3]),
                   af=rng.random() < 0.5, ng=rng.random() < 0.5, pxn=rng.random() < 0.5,
                   uxn=rng.random() < 0.5, contig=rng.random() < 0.5)


@pytest.mark.parametrize("granule, va_bits", RANDOM_CONFIGS)
def test_random_mappings_match_reference(lib, granule, va_bits):
    rng = random.Random(f"{granule}/{va_bits}")
    ttbr1 = rng.random() < 0.5
    # Enough for every attempt to need a new table at every level.
    tables = Tables(lib, pool_size=(1 + 3 * ATTEMPTS) << granule)
    assert tables.init(granule, va_bits) == PGT_OK

    mappings = []           # (low VA, size, PA, level, prot), non-overlapping
    for _ in range(ATTEMPTS):
        level = rng.choice(block_levels(granule, va_bits))
        size = 1 << ref.LEVEL_BITS[granule][level][1]
        low = random_va(rng, granule, va_bits, level)
        if any(low < v + s and v < low + size for v, s, *_ in mappings):
            continue
        pa = rng.randrange(1 << 48) & ~(size - 1)
        prot = random_prot(rng)
        va = ttbr1_va(low, va_bits) if ttbr1 else low
        assert tables.map(va, pa, level, prot) == PGT_OK, (hex(va), level)
        mappings.append((low, size, pa, level, prot))

    def expected(low):
        for v, s, pa, level, _ in mappings:
            if v <= low < v + s:
                return pa + low - v
        return None

    def check(low):
        va = ttbr1_va(low, va_bits) if ttbr1 else low
        found, walk = ref.reference_walk(tables, va), tables.walk(va)
        pa = expected(low)
        assert found.valid == walk["valid"] == (pa is not None), hex(va)
        assert found.level == walk["level"], hex(va)
        if pa is not None:
            assert found.pa == walk["pa"] == pa, hex(va)

    for low, size, pa, level, prot in mappings:
        for offset in (0, size - 1, rng.randrange(size)):
            check(low + offset)
        for neighbour in (low - 1, low + size):
            if 0 <= neighbour < 1 << va_bits:
                check(neighbour)
        va = ttbr1_va(low, va_bits) if ttbr1 else low
        err, slot = tables.slot(va, level)
        assert err == PGT_OK and slot == ref.reference_walk(tables, va).slot
        assert tables.read(slot) == tables.leaf(pa, level, prot)
    for _ in range(100):
        check(rng.randrange(1 << va_bits))


def test_table_prot_sets_aptable_pxntable_uxntable_on_the_table_descriptor_only(make_tables):
    """APTable is bits[62:61], UXNTable bit 60, PXNTable bit 59 of a table descriptor
    (Arm ARM D8.3); the walk below is unchanged, and a slot holding no table is refused."""
    tables = make_tables(12, 48)
    va = 0x8000_0000
    assert tables.map(va, 0x4000_0000, 3) == PGT_OK
    before = tables.walk(va)
    assert tables.table_prot(va, 2, aptable=0b10, pxntable=True) == PGT_OK
    _, slot = tables.slot(va, 2)
    desc = tables.read(slot)
    assert desc >> 61 & 3 == 0b10 and desc >> 59 & 3 == 0b01 and desc & 3 == 3
    after = tables.walk(va)
    # The walk below is unchanged; it reads the level-2 table descriptor with its new attributes.
    assert {k: v for k, v in after.items() if k != "reads"} == {k: v for k, v in before.items() if k != "reads"}
    assert [r[:3] for r in after["reads"]] == [r[:3] for r in before["reads"]]
    assert [r[3] for r in after["reads"]] == [desc if r[0] == 2 else r[3] for r in before["reads"]]
    assert tables.table_prot(va, 1, uxntable=True) == PGT_OK
    _, slot = tables.slot(va, 1)
    desc = tables.read(slot)
    assert desc >> 59 & 0xf == 0b0010 and desc & 3 == 3
    assert tables.table_prot(va, 3, aptable=1) == PGT_NOT_TABLE


# --- The walk's record of what it read (walk records, docs/protocol.md) ---------

def reference_reads(tables, va):
    """(level, table, index, descriptor) of every descriptor the reference walk reads for va."""
    granule, va_bits = tables.granule_shift, tables.va_bits
    table, level, reads = tables.root, ref.start_level(granule, va_bits), []
    while True:
        index = ref.va_index(granule, va_bits, va, level)
        desc = tables.read(table + 8 * index)
        reads.append((level, table, index, desc))
        if desc & 0b11 != 0b11 or level == 3:
            return reads
        table, level = ref.bits(desc, ref.OA_TOP, granule), level + 1


@pytest.mark.parametrize("granule, va_bits", RANDOM_CONFIGS)
def test_walk_reads_every_descriptor_in_order(lib, granule, va_bits):
    rng = random.Random(f"reads {granule}/{va_bits}")
    tables = Tables(lib, pool_size=64 << granule)
    assert tables.init(granule, va_bits) == PGT_OK
    for _ in range(10):
        level = rng.choice(block_levels(granule, va_bits))
        va = random_va(rng, granule, va_bits, level)
        tables.map(va, rng.randrange(1 << 40) & ~((1 << ref.LEVEL_BITS[granule][level][1]) - 1), level)
    for _ in range(40):
        va = random_va(rng, granule, va_bits, 3) | rng.randrange(1 << granule)
        walk = tables.walk(va)
        assert walk["reads"] == reference_reads(tables, va), hex(va)
        assert walk["reads"][0][:2] == (tables.pt.start_level, tables.root)
        assert (walk["level"], walk["desc"]) == (walk["reads"][-1][0], walk["reads"][-1][3])


def test_walk_stops_at_a_table_outside_the_memory_it_may_read(make_tables):
    tables = make_tables(12, 48)
    err, slot = tables.slot(0x8000_0000, 2)
    assert err == PGT_OK
    outside = tables.pool_base + tables.pool_size          # just past the pool
    tables.write(slot, outside | 0b11)
    reads = tables.walk(0x8000_0000)["reads"]
    assert [r[0] for r in reads] == [0, 1, 2] and reads[-1][3] == outside | 0b11
    # The root itself outside: nothing is read.
    assert tables.walk(0, memory=WalkMemory(outside, 4096, 0))["reads"] == []


def test_walk_reads_through_the_memory_offset(make_tables):
    """The kernel reads its tables through its TTBR1 alias: PA + offset.  A copy of the
    pool read through the offset gives the copy's descriptors at the original's addresses."""
    tables = make_tables(12, 48)
    assert tables.map(0x8000_0000, 0x4100_0000, 3) == PGT_OK
    copy = ctypes.create_string_buffer(tables.pool_size)
    ctypes.memmove(copy, tables.pool_base, tables.pool_size)
    offset = ctypes.addressof(copy) - tables.pool_base
    _, slot = tables.slot(0x8000_0000, 3)
    ctypes.c_uint64.from_address(slot + offset).value = 0x4200_0003
    walk = tables.walk(0x8000_0000, memory=WalkMemory(tables.pool_base, tables.pool_size, offset % (1 << 64)))
    assert walk["reads"][-1] == (3, slot & ~0xFFF, (slot & 0xFFF) // 8, 0x4200_0003) and walk["pa"] == 0x4200_0000


def test_walk_from_level_minus_one_with_ds(make_tables):
    """4K granule, 52-bit VA, DS = 1: the walk starts at level -1 (Arm ARM D8.2)."""
    tables = make_tables(12, 52)
    assert tables.init(12, 52, oa_format=2) == PGT_OK        # OA_52_DS
    va = 0xF_FFFF_FFFF_F000
    assert tables.map(va, 0x4100_0000, 3) == PGT_OK
    reads = tables.walk(va)["reads"]
    assert [r[0] for r in reads] == [-1, 0, 1, 2, 3]
    assert [r[2] for r in reads] == [15, 511, 511, 511, 511]
    assert reads[0][1] == tables.root


# (VA bits, VA, TBI, in range): the bits above the range, up to bit 55 with TBI or 63 without, equal bit 55.
VA_RANGES = [
    (48, 0x0000_FFFF_FFFF_FFFF, False, True), (48, 0x0001_0000_0000_0000, False, False),
    (48, 0xFFFF_0000_0000_0000, False, True), (48, 0xFFFE_FFFF_FFFF_FFFF, False, False),
    (48, 0x5A00_FFFF_FFFF_F000, False, False), (48, 0x5A00_FFFF_FFFF_F000, True, True),
    (48, 0x00FF_0000_0000_0000, True, True), (48, 0x00FF_0000_0000_0000, False, False),
    (48, 0x5A7F_0000_0000_0000, True, False), (39, 0x0000_0080_0000_0000, False, False),
    (52, 0x000F_FFFF_FFFF_FFF8, False, True), (52, 0xFFF0_0000_0000_0000, False, True),
    (16, 0xFFFF, False, True), (16, 0x10000, False, False),
]


@pytest.mark.parametrize("va_bits, va, tbi, in_range", VA_RANGES)
def test_va_in_range(lib, va_bits, va, tbi, in_range):
    assert lib.pgt_va_in_range(va_bits, va, tbi) == in_range


@pytest.mark.parametrize("oa_format, ttbr, table", [
    (0, 0x4000_1000, 0x4000_1000),
    (0, 0x0005_0000_4000_1001, 0x4000_1000),                    # ASID and CnP are not the address
    (1, 0x0000_4000_1000 | 0xA << 2, 0xA_0000_4000_1000),      # BADDR[51:48] in bits[5:2]
    (2, 0x0007_8000_0000_0040 | 0x3 << 2, 0x3_8000_0000_0040),
])
def test_ttbr_table(lib, oa_format, ttbr, table):
    pt = PgTable(oa_format=oa_format)
    assert lib.pgt_ttbr_table(ctypes.byref(pt), ttbr) == table


@pytest.mark.parametrize("oa_format", [0, 1, 2])
def test_ttbr_table_inverts_pgt_ttbr(make_tables, oa_format):
    tables = make_tables(16 if oa_format == 1 else 12, 48)
    tables.init(tables.granule_shift, 48, oa_format)
    assert tables.lib.pgt_ttbr_table(ctypes.byref(tables.pt), tables.lib.pgt_ttbr(ctypes.byref(tables.pt))) == tables.root
