"""The walk digest (docs/protocol.md): a step record without its walk records carries a
digest of the descriptors the kernel's walk read (kernel/pgtable.h pgt_walk_digest), which
the harness checks against the digest of the walk of the case's declared tables
(harness/declared.py step_walks).  Where they differ, the case is rerun with its walks
in full (harness/runner.py).
"""
from harness import declared
from harness.kdefs import kernel_header, read_defines

_PGTABLE = read_defines(kernel_header("pgtable.h"))
SEED, PRIME = _PGTABLE["WALK_DIGEST_SEED"], _PGTABLE["WALK_DIGEST_PRIME"]
_WORD = (1 << 64) - 1


def digest(reads):
    """The digest of walk reads ((stage, level, table, index, descriptor), ...), each value a
    64-bit word (a level of -1 as two's complement)."""
    value = SEED
    for read in reads:
        for word in read:
            value = (value ^ word & _WORD) * PRIME & _WORD
    return value


def record_reads(walk_records):
    """The reads of a step's `walk` records (protocol.Record), as digest() takes them."""
    return tuple((r.fields.get("stage", 1), r.num("level"), r.num("table"), r.num("index"), r.num("desc"))
                 for r in walk_records)


def departures(case, records):
    """The steps of a case's records (protocol.CaseRecords) whose walk digest is not that of
    the declared tables' walk, in order: [] when every digest agrees, or there is none."""
    if records is None or records.regs is None or records.error is not None:
        return []
    digested = {n: step.num("walk") for n, step in sorted(records.steps.items()) if "walk" in step.fields}
    if not digested:
        return []
    walks = declared.step_walks(case, records.regs.num("ttbr0") & ~0xFFFF)
    return [n for n, value in digested.items() if n not in walks or digest(walks[n]) != value]
