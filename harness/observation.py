"""What the kernel reported of one step, decoded once: the Observation that the case's
check (harness/verdict.py), the model's check (harness/oracle.py), the known-bug search
and every report read.

A `step` record (docs/protocol.md) holds raw registers; observe() decodes them here and
nowhere else: ESR_ELx (harness/esr.py), PAR_EL1 (harness/par.py), and where the exception
was taken (`el=2`: the kernel's EL2 half, with ESR_EL2, FAR_EL2 and HPFAR_EL2).
"""
from dataclasses import dataclass

from harness import esr, par
from harness.esr import Esr
from harness.par import Par


@dataclass(frozen=True)
class Observation:
    """One step as observed.  result: "ok" (value: x0 after a load or fetch, the whole
    register; after a pair load of two X registers, x1:x0, the second above the first; desc: the descriptor a descriptor step leaves or reads), "fault" (esr decoded,
    far, to_el2 and, taken to EL2, hpfar), "par" (par decoded) or "error" (error: why the
    kernel could not do the step)."""
    result: str
    value: int = None
    desc: int = None
    esr: Esr = None
    far: int = None
    hpfar: int = None
    to_el2: bool = False
    par: Par = None
    error: str = None
    gcspr: int = None       # GCSPR_ELx after a step of the Guarded Control Stack (its record's gcspr=)

    def describe(self):
        """The observation in the Arm ARM's words, one line (every failure message's 'got')."""
        return self._describe() + ("" if self.gcspr is None else f", GCSPR_ELx {self.gcspr:#x} after")

    def _describe(self):
        if self.result == "fault":
            if self.esr.ec in esr.FAR_UNKNOWN:
                return f"{'taken to EL2: ' if self.to_el2 else ''}{esr.describe(self.esr)}"
            if self.to_el2:
                return (f"taken to EL2: {esr.describe(self.esr)}, FAR_EL2 {self.far:#x}, "
                        f"HPFAR_EL2 {self.hpfar:#x} (IPA {esr.hpfar_ipa(self.hpfar):#x})")
            return f"{esr.describe(self.esr)}, FAR {self.far:#x}"
        if self.result == "par":
            return par.describe(self.par)
        if self.result == "error":
            return f"the kernel could not reach the descriptor ({self.error})"
        if self.desc is not None:
            return f"completes, descriptor {self.desc:#x}"
        return "completes" if self.value is None else f"completes, value {self.value:#x}"


NOT_RECORDED = "no record: the kernel stopped before this step"


def observe(record):
    """The Observation of a protocol `step` record (None for None: the step never ran)."""
    if record is None:
        return None
    result = record.word("result")
    gcspr = record.num("gcspr") if "gcspr" in record.fields else None
    if result == "fault":
        to_el2 = record.fields.get("el") == 2
        return Observation(result, esr=esr.decode_esr(record.num("esr")), far=record.num("far"), to_el2=to_el2,
                           hpfar=record.num("hpfar") if to_el2 else None, gcspr=gcspr)
    if result == "par":
        return Observation(result, par=par.decode_par(record.num("par")))
    if result == "error":
        return Observation(result, error=record.word("error"))
    fields = record.fields
    value = record.num("value") if "value" in fields else None
    if "value_hi" in fields and value is not None:
        value |= record.num("value_hi") << 64
    return Observation(result, value=value,
                       desc=record.num("desc") if "desc" in fields else None, gcspr=gcspr)


def describe(observation):
    """observation.describe(), or what a missing record means."""
    return NOT_RECORDED if observation is None else observation.describe()
