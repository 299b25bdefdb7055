"""The walk digest (harness/walk_digest.py, docs/protocol.md): computed as the kernel computes it,
and checked against the walk of the declared tables."""
from pathlib import Path

from harness import walk_digest
from harness.cases import load_dir
from harness.protocol import parse_output

ROOT = Path(__file__).resolve().parent.parent
DEMO = next(c for c in load_dir(ROOT / "cases") if c.id == "demo.seed_demo")
# What the kernel prints for demo.seed_demo's first steps without +walks (docs/protocol.md).
DEMO_RUN = """MMUT 6 begin case=demo.seed_demo
MMUT 6 regs tcr=0x5b5103510 mair=0xee0c0804bb44ff00 sctlr=0x30d01805 ttbr0=0x40100000 ttbr1=0x40101000
MMUT 6 step va=0x80000000 result=ok
MMUT 6 step result=ok value=0xdeadbeef
MMUT 6 step va=0x41000000 result=ok value=0xdeadbeef
MMUT 6 end steps=3 walk=0x2ebf8c75ce0bfa9a
"""

def test_the_digest_of_the_documented_walk():
    reads = [(1, 0, 0x40100000, 0, 0x40102003), (1, 1, 0x40102000, 2, 0x40106003),
             (1, 2, 0x40106000, 0, 0x40107003), (1, 3, 0x40107000, 0, 0x41000707)]
    assert walk_digest.digest(reads) == 0xD5DE860DF2742567
    assert walk_digest.digest(()) == walk_digest.SEED
    # Order, stage and a level of -1 (two's complement) all count.
    assert walk_digest.digest(reads[::-1]) != walk_digest.digest(reads)
    assert walk_digest.digest([(2, *r[1:]) for r in reads]) != walk_digest.digest(reads)
    assert walk_digest.digest([(1, -1, 0, 0, 0)]) == walk_digest.digest([(1, (1 << 64) - 1, 0, 0, 0)])


def test_the_case_digest_folds_its_steps_digests():
    steps = [0xD5DE860DF2742567, 0xD5DE860DF2742567, 0x26774D4D66F4DA8D]
    assert walk_digest.case_digest(steps) == 0x2EBF8C75CE0BFA9A == walk_digest.digest((d,) for d in steps)
    assert walk_digest.case_digest(steps[::-1]) != walk_digest.case_digest(steps)


def test_digests_as_declared_depart_nowhere():
    assert walk_digest.departures(DEMO, parse_output(DEMO_RUN).cases()[DEMO.id]) == []


def test_a_walk_that_read_other_descriptors_departs():
    """The kernel walked tables other than the declared ones: its digest departs (and the case is
    rerun with its walks in full, harness/runner.py)."""
    text = DEMO_RUN.replace("walk=0x2ebf8c75ce0bfa9a", "walk=0x2ebf8c75ce0bfa9b")
    assert walk_digest.departures(DEMO, parse_output(text).cases()[DEMO.id]) == [0, 1, 2]


def test_records_without_digests_are_not_checked():
    text = DEMO_RUN.replace(" walk=0x2ebf8c75ce0bfa9a", "")
    assert walk_digest.departures(DEMO, parse_output(text).cases()[DEMO.id]) == []
