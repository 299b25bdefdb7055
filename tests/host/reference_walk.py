"""
An independent model of the VMSAv8-64 stage 1 walk (Arm ARM D8.2, the
AArch64.S1Walk() pseudocode) for checking kernel/pgtable.c.  It is written
from the architecture's tables, not from pgtable.c: each level is the VA bit
range it resolves, and the start level is the level that holds the top VA bit.

Base architecture only: 48-bit output addresses, no FEAT_LPA/FEAT_LPA2, so no
level 0 or level -1 blocks, and no 64K level 1 blocks (those need a 52-bit PA).
"""
from typing import NamedTuple, Optional

# VA bits (msb, lsb) resolved at each level, by granule shift (Arm ARM D8.2).
# The level holding the top VA bit resolves only the bits below va_bits.
LEVEL_BITS = {
    12: {0: (47, 39), 1: (38, 30), 2: (29, 21), 3: (20, 12)},
    14: {0: (47, 47), 1: (46, 36), 2: (35, 25), 3: (24, 14)},
    16: {1: (51, 42), 2: (41, 29), 3: (28, 16)},
}

# Levels where a block descriptor (bits[1:0] = 0b01) is valid (AArch64.BlockDescSupported
# with DS = 0 and PAMax() = 48); anywhere else it is a translation fault.
BLOCK_LEVELS = {12: {1, 2}, 14: {2}, 16: {2}}

OA_TOP = 47


def start_level(granule_shift, va_bits):
    top = va_bits - 1
    for level, (msb, lsb) in LEVEL_BITS[granule_shift].items():
        if lsb <= top <= msb:
            return level
    raise ValueError(f"no level resolves VA bit {top} with granule 2^{granule_shift}")


def va_index(granule_shift, va_bits, va, level):
    """The table index at level: VA[msb:lsb], msb capped at the top VA bit."""
    msb, lsb = LEVEL_BITS[granule_shift][level]
    msb = min(msb, va_bits - 1)
    return (va >> lsb) & ((1 << (msb - lsb + 1)) - 1)


def bits(value, msb, lsb):
    """value[msb:lsb] kept in place."""
    return value & ((1 << (msb + 1)) - (1 << lsb))


class Translation(NamedTuple):
    valid: bool
    level: int              # level of the last descriptor read
    pa: Optional[int]       # output address when valid
    slot: int               # address of the last descriptor read


def reference_walk(tables, va):
    """Walk the tables for va, reading descriptors with tables.read().

    The caller has already chosen the TTBR (by VA bit 55), so only the bits
    below va_bits matter here, as for a TTBR0 or a TTBR1 VA alike.
    """
    granule, va_bits = tables.granule_shift, tables.va_bits
    table = tables.root
    level = start_level(granule, va_bits)
    while True:
        slot = table + 8 * va_index(granule, va_bits, va, level)
        desc = tables.read(slot)
        kind = desc & 0b11
        if kind == 0b11 and level < 3:
            # Next-level table address: desc[47:granule].
            table = bits(desc, OA_TOP, granule)
            level += 1
            continue
        leaf = (kind == 0b11 and level == 3) or (kind == 0b01 and level in BLOCK_LEVELS[granule])
        if not leaf:
            return Translation(False, level, None, slot)
        lsb = LEVEL_BITS[granule][level][1]
        return Translation(True, level, bits(desc, OA_TOP, lsb) | bits(va, lsb - 1, 0), slot)
