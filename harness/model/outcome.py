"""What the model says an access or AT instruction may do: a set of outcomes.

More than one outcome means the architecture permits each of them; the set
carries the rule that allows the choice.  Every outcome also carries the
descriptor updates the hardware makes with it (FEAT_HAFDBS), as
(descriptor PA, old value, new value) in the order they are made.
"""
from dataclasses import dataclass, field

from harness import esr

EC_PC_ALIGNMENT = esr.EC.PC_ALIGN


def abort_class(fetch, el):
    """ESR_EL1.EC of an abort taken to EL1: instruction or data, from EL0 (lower) or EL1 (same EL)."""
    if fetch:
        return esr.EC.IABT_LOW if el == 0 else esr.EC.IABT_CUR
    return esr.EC.DABT_LOW if el == 0 else esr.EC.DABT_CUR
# Stage 2 faults of EL1's accesses are taken to EL2: aborts from a lower EL.
EC_DATA_ABORT_LOW = esr.EC.DABT_LOW
EC_INSTRUCTION_ABORT_LOW = esr.EC.IABT_LOW


@dataclass(frozen=True)
class Completes:
    """A load, store or fetch that completes.  pa: the first byte's PA; spans:
    (pa, bytes) of each translated piece, in VA order (an unaligned access may
    cross into another page); attr: the MAIR-format attributes it is made with
    (EncodePARAttrs; None where a reserved MAIR encoding leaves them open); sh:
    the shareability as PAR_EL1.SH would report it; value: what a load returns
    or, for a fetch, what the code it runs returns, when the model knows the
    memory (None: not known)."""
    pa: int
    attr: int
    sh: str
    updates: tuple = ()
    spans: tuple = ()
    value: int = None


@dataclass(frozen=True)
class Abort:
    """A Data or Instruction Abort taken to EL1 from EL1 or EL0 (or, a stage 2
    fault, to EL2: stage, ipa), or a PC
    alignment fault (EC 0x22, fsc None): ESR_EL1.EC, the fault status code,
    WnR and S1PTW (IL = 1, EA = FnV = 0 always here, CM = 0 but for cm; ISV and ISS[23:14]
    are left free, the architecture permitting ISV = 0), and FAR_EL1 as it
    must read.  rule: the ASL function or rule the fault comes from."""
    ec: int
    fsc: int
    wnr: bool               # None: left open (a stage 2 fault on a stage 1 walk)
    s1ptw: bool
    far: int
    rule: str
    updates: tuple = ()
    stage: int = 1          # 2: a stage 2 fault, taken to EL2 (ESR_EL2, FAR_EL2)
    ipa: int = None         # a stage 2 fault: the faulting IPA (HPFAR_EL2 holds its page)
    cm: bool = False        # an AT instruction's abort (CM = 1, WnR = 1): harness.cases.at_aborts
    # A stage 1 fault on a later piece of an access that crosses pages: ((IPA, size) spans of the pieces
    # before it, their stage 1 attributes), which stage 2 translates too (stage2.full_translate).
    before: tuple = field(default=(), compare=False, repr=False)

    @property
    def fault(self):
        return (esr.PC_ALIGNMENT, None) if self.fsc is None else esr.decode_fsc(self.fsc)


@dataclass(frozen=True)
class Par:
    """The PAR_EL1 an AT instruction leaves: the bits under mask are fixed,
    the others free (IMPLEMENTATION DEFINED, UNKNOWN or RES1)."""
    value: int
    mask: int
    rule: str
    updates: tuple = ()


@dataclass(frozen=True)
class Done:
    """A maintenance step (a descriptor write or read, a barrier, a TLBI, a
    register write) completes; desc: the descriptor a write leaves or a read
    returns."""
    desc: int = None
    updates: tuple = ()


@dataclass(frozen=True)
class Unknown:
    """The model cannot tell: the step needs memory nobody declared, or is not
    an MMU probe at all (the kernel's self-tests)."""
    reason: str
    updates: tuple = ()


class Outcomes(frozenset):
    """A non-empty set of outcomes; rule names what permits more than one."""

    def __new__(cls, outcomes, rule=None):
        self = super().__new__(cls, outcomes)
        if not self:
            raise ValueError("a set of outcomes is never empty")
        self.rule = rule
        return self

    def __repr__(self):
        return f"Outcomes({sorted(map(repr, self))}, rule={self.rule!r})"


def union(sets):
    """One Outcomes of several, the rules of each choice kept."""
    outcomes, rules = set(), []
    for s in sets:
        outcomes |= s
        if s.rule and s.rule not in rules:
            rules.append(s.rule)
    return Outcomes(outcomes, "; ".join(rules) or None)
