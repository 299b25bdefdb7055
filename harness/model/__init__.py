"""The reference model of stage 1 (and stage 2) translation (the second oracle), written
from the Arm ARM's pseudocode: functions carry the ASL's names.

    s1_translate(regs, memory, access) -> Outcomes     one access or AT, stage 1
    full_translate(regs, memory, access) -> Outcomes   the same, with stage 2 when HCR_EL2.VM = 1
    predict_case(case, ids) -> [Outcomes]              every step of a case, offline
"""
from harness.model.memory import Memory, UnknownMemory
from harness.model.outcome import Abort, Completes, Outcomes, Par, Unknown
from harness.model.registers import Registers
from harness.model.translate import Access, s1_translate
from harness.model.stage2 import full_translate
from harness.model.case import predict_case

__all__ = ["Abort", "Access", "Completes", "Memory", "Outcomes", "Par", "Registers", "Unknown", "UnknownMemory",
           "predict_case", "full_translate", "s1_translate"]
