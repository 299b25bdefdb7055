"""What an atomic memory operation writes (J1.1.3.115 MemAtomicInt, J1.1.3.109 CASCompare): the
FEAT_LSE atomics the kernel issues, of one X register, in each ordering (acquire and release order
the access; they change nothing it writes)."""
from harness.ops import atomic_op

MASK64 = (1 << 64) - 1


# J1.1.3.115 MemAtomicInt (MemAtomicOp_ADD, MemAtomicOp_SWP, MemAtomicOp_CAS with J1.1.3.109 CASCompare)
def atomic_result(op, old, value, compare):
    """The 64-bit value an atomic leaves in memory, given the old contents: LDADD adds value, SWP
    writes value, CAS writes value only where the old contents equal compare (else the old
    contents, unchanged).  Every one returns old to its register."""
    base = atomic_op(op)
    if base == "ldadd":
        return (old + value) & MASK64
    if base == "swp":
        return value
    return value if old == compare else old     # cas
