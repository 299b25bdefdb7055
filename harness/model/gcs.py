"""GCSPR_ELx around a step of the Guarded Control Stack (FEAT_GCS): where the kernel points it before the step
(kernel/steps.c run_gcs_enabled) and what the instruction leaves in it (J1.1.3.74 SetCurrentGCSPointer, as each
instruction's pseudocode calls it).  An instruction that takes an exception before its SetCurrentGCSPointer (a
Data Abort on any of its accesses, its GCS Data Check) leaves GCSPR_ELx as it was: each calls it last."""
from harness.ops import GCS_EX_RECORD_BYTES

# The Guarded Control Stack pointer before the step: just above the VA for a push (the first store is at
# GCSPR_ELx - 8), GCSSS1's `value` (the outgoing stack's), the VA for the others (their first load is there).
_BEFORE = {"gcspushm": lambda va, value: va + 8, "gcspushx": lambda va, value: va + 8,
           "gcsss1": lambda va, value: value}
# What a step that completes leaves, from the pointer before it (ptr) and its VA.
_AFTER = {
    "gcspushm": lambda ptr, va: ptr - 8,                         # J1.1.3.52 AddGCSRecord
    "gcspushx": lambda ptr, va: ptr - GCS_EX_RECORD_BYTES,       # J1.1.3.51 AddGCSExRecord
    "gcspopm": lambda ptr, va: ptr + 8,                          # J1.1.3.62 GCSPOPM
    "gcsss1": lambda ptr, va: va & ~0b111,                       # J1.1.3.67 GCSSS1: incoming_pointer<63:3>:'000'
    "gcsss2": lambda ptr, va: ptr + 8,                           # J1.1.3.68 GCSSS2: incoming_pointer + 8
    "gcspopx": lambda ptr, va: ptr + GCS_EX_RECORD_BYTES,        # J1.1.3.63 GCSPOPX
    "gcspopcx": lambda ptr, va: ptr + GCS_EX_RECORD_BYTES,       # J1.1.3.53 CheckGCSExRecord
}


# J1.1.3.74 SetCurrentGCSPointer, as each GCS instruction above calls it
def gcspr_after(op, va, value, completed):
    """GCSPR_ELx after a step of op (a harness.ops GCS_ENABLED_OPS name) at va with value: moved by the
    instruction where it completed, as the kernel set it where it took an exception."""
    before = _BEFORE.get(op, lambda va, value: va)(va, value) & (1 << 64) - 1
    return _AFTER[op](before, va) & (1 << 64) - 1 if completed else before
