"""The reference model of stage 1 (and stage 2) translation (the second oracle), written
from the Arm ARM's pseudocode: functions carry the ASL's names.  It knows the
architecture's names (harness/ops.py, esr.py, par.py) and nothing of the case loader, the
runner or the declared layout: a case goes through it in harness/predict.py, and is judged
with it in harness/oracle.py.

    s1_translate(regs, memory, access) -> Outcomes     one access or AT, stage 1
    full_translate(regs, memory, access) -> Outcomes   the same, with stage 2 when HCR_EL2.VM = 1
"""
from harness.model.memory import Memory, UnknownMemory
from harness.model.outcome import Abort, Completes, Outcomes, Par, Unknown
from harness.model.registers import Registers
from harness.model.translate import Access, s1_translate
from harness.model.stage2 import full_translate

__all__ = ["Abort", "Access", "Completes", "Memory", "Outcomes", "Par", "Registers", "Unknown", "UnknownMemory",
           "full_translate", "s1_translate"]
