"""harness/walk_text.py: walk records in the Arm ARM's words (descriptor formats: Arm ARM D8.3)."""
import dataclasses

import pytest

from harness.cases import load_dir
from harness.protocol import parse_record
from harness.walk_text import describe_walk, output_address
from harness.kdefs import REPO

# A 4K, 48-bit regime as a case file gives it; the variants below change what they test.
BASE = next(c.regime for c in load_dir(REPO / "cases") if c.id == "demo.seed_demo")


def walk(*reads):
    """walk Records of (level, index, descriptor) tuples."""
    return [parse_record(f"MMUT 6 walk n=0 when=before level={level} table=0x400a0000 index={index} "
                         f"desc={desc:#x}") for level, index, desc in reads]


def test_a_page_walk():
    reads = walk((0, 0, 0x4100_2003), (1, 2, 0x4100_3003), (2, 0, 0x4100_4003),
                 (3, 0, 0x0020_0000_4100_0000 | 0b10 << 6 | 0b11 << 8 | 1 << 2 | 0b11))
    assert describe_walk(reads, BASE) == [
        "L0[0] table 0x41002000", "L1[2] table 0x41003000", "L2[0] table 0x41004000",
        "L3[0] page 0x41000000 AttrIndx=1 SH=inner AF=0 AP=ro_el1 PXN",
    ]


def test_block_attributes_and_flags():
    desc = 0x4020_0000 | 0x123 << 12 | 1 << 10 | 1 << 11 | 1 << 51 | 1 << 52 | 1 << 54 | 0b01 << 6 | 3 << 2 | 0b01
    # OA bits below the 2 MiB block size are not part of the block's address (they are ignored, AArch64.BlockBase).
    assert describe_walk(walk((2, 1, desc)), BASE) == [
        "L2[1] block 0x40200000 AttrIndx=3 SH=non AF=1 AP=rw_all nG DBM Contiguous UXN"]


def test_table_attributes():
    desc = 0x4100_2003 | 0b10 << 61 | 1 << 59 | 1 << 60 | 1 << 63
    assert describe_walk(walk((1, 0, desc)), BASE) == ["L1[0] table 0x41002000 APTable=ro PXNTable UXNTable NSTable"]


def test_invalid_and_reserved():
    assert describe_walk(walk((1, 5, 0), (2, 0, 0x4100_0002), (3, 7, 0x4100_0701)), BASE) == [
        "L1[5] invalid", "L2[0] invalid (0x41000002)", "L3[7] reserved (0x41000701: bits[1:0] = 0b01 at level 3)"]


def test_reserved_shareability():
    assert "SH=reserved(0b01)" in describe_walk(walk((3, 0, 0x4100_0403 | 0b01 << 8)), BASE)[0]


def test_lpa2_format():
    """DS = 1: OA[51:50] in bits[9:8], no SH in the descriptor; levels from -1."""
    ds = dataclasses.replace(BASE, ds=True, ips_bits=52)
    reads = walk((-1, 15, 0x4100_2003 | 0b10 << 8), (3, 0, 0x3_0000_4100_0403 | 0b01 << 8))
    assert describe_walk(reads, ds) == ["L-1[15] table 0x8000041002000",
                                        "L3[0] page 0x7000041000000 AttrIndx=0 AF=1 AP=rw_el1"]


def test_lpa_format_64k():
    """64K granule, IPS = 52: OA[51:48] in bits[15:12]."""
    lpa = dataclasses.replace(BASE, tg0=16, tg1=16, ips_bits=52)
    assert output_address(0x4100_0000 | 0xA << 12 | 0x703, lpa, 16) == 0xA_0000_4100_0000
    assert output_address(0x4100_0000 | 0xA << 12 | 0x703, BASE, 16) == 0x4100_0000   # IPS 48: bits[15:12] RES0


def test_granule_follows_the_ttbr_of_the_va():
    mixed = dataclasses.replace(BASE, tg0=12, tg1=16)
    reads = walk((2, 0, 0x4100_0000 | 0x400 | 0b01))
    with pytest.raises(ValueError, match="name the step's VA"):
        describe_walk(reads, mixed)
    # A 4K level-2 block is 2 MiB, a 64K one 512 MiB.
    assert describe_walk(reads, mixed, va=0x8000_0000)[0].startswith("L2[0] block 0x41000000 ")
    assert describe_walk(reads, mixed, va=0xFFFF_0000_0000_0000)[0].startswith("L2[0] block 0x40000000 ")


def test_no_descriptor_read():
    assert describe_walk([], BASE) == []
