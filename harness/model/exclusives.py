"""What a store-exclusive does (STXR, STLXR): J1.1.3.37 AArch64.ExclusiveMonitorsPass over the store's
translation, with the local Exclusives monitor's state machine (B2.12.1).

The store-exclusive checks alignment first (AArch64.UnalignedAccessFaults: its Alignment fault always
stands); then asks J1.1.3.38 AArch64.IsExclusiveVA, an IMPLEMENTATION DEFINED test that may return FALSE
(the store fails, status 1, no translation and so no fault) where the VA is not within the region the last
Load-Exclusive marked, and "it is IMPLEMENTATION DEFINED whether the detection of memory aborts happens
before or after the check on the local Exclusives monitor" (the function's own comment): so a store-exclusive
whose translation faults may instead fail with status 1, and the model cannot tell the two apart by the
monitor's state.  A translation that completes writes only where the monitors pass: with the local monitor
in the Open Access state never (status 1); in the Exclusive Access state the store occurs at the marked
address, and at another address IMPLEMENTATION DEFINED (B2.12.1), and the monitor may have gone to Open
Access at any time in between (B2.12.1.1, B2.12.5: the kernel runs code between two steps), so either
status 0 (written) or 1 (not).
"""
from dataclasses import replace

from harness.model.outcome import Abort, Completes, Outcomes

STATUS_PASSED, STATUS_FAILED = 0, 1
OPEN_RULE = ("a store-exclusive with the local monitor in the Open Access state: no store, status 1 "
             "(AArch64.ExclusiveMonitorsPass, IsExclusiveLocal; B2.12.1)")
SET_RULE = ("a store-exclusive after a Load-Exclusive, with code between them: the monitor may have left the "
            "Exclusive Access state (B2.12.1.1, B2.12.5), so status 0 and the store made, or status 1 and none "
            "(AArch64.ExclusiveMonitorsPass)")
ABORT_ORDER_RULE = ("a store-exclusive whose translation faults: the abort, or status 1 and no store where "
                    "AArch64.IsExclusiveVA returns FALSE or the monitor is checked before the abort "
                    "(IMPLEMENTATION DEFINED, AArch64.ExclusiveMonitorsPass)")

# The store that does not happen: nothing translated (IsExclusiveVA FALSE, or the monitor first), nothing written.
NOT_TRANSLATED = Completes(pa=None, attr=None, sh=None, spans=(), value=STATUS_FAILED)


# J1.1.3.37 AArch64.ExclusiveMonitorsPass (J1.1.3.38 AArch64.IsExclusiveVA, B2.12.1 the local monitor)
def store_exclusive(translated, before, monitor):
    """The Outcomes of a store-exclusive from those of its translation as a store (`translated`:
    stage2.full_translate's).  before: the Alignment faults AArch64.UnalignedAccessFaults gives ahead of
    everything (translate.unaligned_access_aborts); monitor: whether the local monitor may be in the
    Exclusive Access state (a Load-Exclusive completed since the last exception return, store-exclusive or
    CLREX).  A completing outcome carries its status as value: 0 with the store's spans (written), 1 with
    none (nothing written)."""
    outcomes, rules = set(), [translated.rule] if translated.rule else []
    for outcome in translated:
        if isinstance(outcome, Abort):
            outcomes.add(outcome)
            if replace(outcome, syndrome=None) not in before:
                outcomes.add(NOT_TRANSLATED)
                rules.append(ABORT_ORDER_RULE)
        elif isinstance(outcome, Completes):
            # A failing store writes nothing; the translation's Access flag and dirty state updates are made
            # all the same (AArch64.ExclusiveMonitorsPass translates the write before it checks the monitors),
            # or none where IsExclusiveVA returned FALSE before any translation.
            outcomes.add(replace(outcome, spans=(), value=STATUS_FAILED))
            if outcome.updates:
                outcomes.add(NOT_TRANSLATED)
            if monitor:
                outcomes.add(replace(outcome, value=STATUS_PASSED))
            rules.append(SET_RULE if monitor else OPEN_RULE)
        else:
            outcomes.add(outcome)       # Unknown: not judged
    return Outcomes(outcomes, "; ".join(dict.fromkeys(rules)) or None)
