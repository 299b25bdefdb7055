"""The walk digest (docs/protocol.md): a step whose walk records are left out has the
digest of the descriptors the kernel's walk read (kernel/pgtable.h pgt_walk_digest)
folded into its case's end record, which the harness checks against the same fold of
the walks of the case's declared tables (harness/declared.py step_walks).  Where they
differ, the case is rerun with its walks in full (harness/runner.py).
"""
from harness import declared
from harness.ops import MAINT_OPS
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


def case_digest(step_digests):
    """The end record's walk: the digests of a case's steps, in step order, folded as digest()
    folds a read's words (kernel/record.c record_walk_digest)."""
    return digest((d,) for d in step_digests)


def digested(case, records):
    """The steps of a case's records (protocol.CaseRecords) whose walks the end record's digest
    holds, in order: the access steps whose record announces no walk records (no walks=)."""
    return [n for n, step in sorted(records.steps.items())
            if n < len(case.steps) and case.steps[n].op not in MAINT_OPS
            and step.word("result") != "error" and "walks" not in step.fields]


def departures(case, records):
    """The steps whose walks a case's end record's digest holds (digested), when it is not the
    digest of the declared tables' walks of the same steps: [] when it agrees, or there is none."""
    if records is None or records.regs is None or records.error is not None or records.walk_digest is None:
        return []
    steps = digested(case, records)
    walks = declared.step_walks(case, records.regs.num("ttbr0") & ~0xFFFF)
    if any(n not in walks for n in steps) or case_digest(digest(walks[n]) for n in steps) != records.walk_digest:
        return steps
    return []
