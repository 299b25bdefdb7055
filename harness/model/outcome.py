"""What the model says an access or AT instruction may do: a set of outcomes.

More than one outcome means the architecture permits each of them; the set
carries the rule that allows the choice.  Every outcome also carries the
descriptor updates the hardware makes with it (FEAT_HAFDBS), as
(descriptor PA, old value, new value) in the order they are made.
"""
from dataclasses import dataclass, field

from harness import esr, par

ALL_BITS = 2**64 - 1


# J1.1.3.1 AArch64.FaultSyndrome / J1.1.3.11 AArch64.EncodePAR: a register value and the bits the architecture defines
@dataclass(frozen=True)
class Bits:
    """A 64-bit register as the model predicts it: the bits under mask must read as value's,
    the others are free (UNKNOWN or IMPLEMENTATION DEFINED where the rule says so)."""
    value: int
    mask: int

    # J1.1.3.1 AArch64.FaultSyndrome / J1.1.3.11 AArch64.EncodePAR: which defined bits differ
    def wrong(self, raw):
        """The bits of raw the prediction does not permit (0: raw is permitted)."""
        return (raw ^ self.value) & self.mask

EC_PC_ALIGNMENT = esr.EC.PC_ALIGN
EC_GCS = esr.EC.GCS
EC_SYSTEM_TRAP = esr.EC.SYS64


# J1.1.2.27 AArch64.ExceptionClass (Data/Instruction Abort, same or lower EL)
def abort_class(fetch, el):
    """ESR_EL1.EC of an abort taken to EL1: instruction or data, from EL0 (lower) or EL1 (same EL)."""
    if fetch:
        return esr.EC.IABT_LOW if el == 0 else esr.EC.IABT_CUR
    return esr.EC.DABT_LOW if el == 0 else esr.EC.DABT_CUR
# Stage 2 faults of EL1's accesses are taken to EL2: aborts from a lower EL.
EC_DATA_ABORT_LOW = esr.EC.DABT_LOW
EC_INSTRUCTION_ABORT_LOW = esr.EC.IABT_LOW


# J1.1.4.52 AArch64.FullTranslate's AddressDescriptor when no fault (PA, attributes), with J1.1.3.112 Mem's value
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


# J1.1.2.4 AArch64.DataAbort / J1.1.2.6 AArch64.InstructionAbort of a FaultRecord
@dataclass(frozen=True)
class Abort:
    """A Data or Instruction Abort taken to EL1 from EL1 or EL0 (or, a stage 2
    fault, to EL2: stage, ipa), or a PC
    alignment fault (EC 0x22, fsc None), or GCSPOPM's GCS Data Check exception (EC 0x2D, fsc None, its
    ISS in iss, FAR_ELx UNKNOWN): ESR_ELx.EC, the fault status code,
    WnR, S1PTW, CM, the instruction syndrome (syndrome: LSInstructionSyndrome's
    (SAS, SSE, SRT, SF, AR) when ISV = 1, None for ISV = 0), and FAR_ELx as it
    must read.  esr(), far_register() and hpfar() give each register whole, every
    bit the architecture defines.  rule: the ASL function or rule the fault comes from."""
    ec: int
    fsc: int
    wnr: bool               # None: left open (a stage 2 fault on a stage 1 walk)
    s1ptw: bool
    far: int
    rule: str
    updates: tuple = ()
    stage: int = 1          # 2: a stage 2 fault, taken to EL2 (ESR_EL2, FAR_EL2)
    ipa: int = None         # a stage 2 fault: the faulting IPA (HPFAR_EL2 holds its page)
    cm: bool = False        # an AT instruction's abort (CM = 1, WnR = 1): harness.ops.at_aborts
    syndrome: tuple = None  # ISV = 1: (SAS, SSE, SRT, SF, AR) of the instruction (harness.ops.LS_SYNDROME)
    dirtybit: bool = False  # a Permission fault of the dirty state under PIE (ISS2.DirtyBit; indirect.py)
    gcs: bool = False       # the abort of a GCS data access (ISS2.GCS: AccessType_GCS, J1.1.3.1 AArch64.FaultSyndrome)
    pa_bits: int = 52       # a stage 2 fault: the implemented PA size (AArch64.PAMax), which bounds HPFAR_EL2.FIPA
    iss: int = 0            # an exception that is no abort (fsc None): its ISS (a GCS exception's; PC alignment: 0)
    iss_unknown: int = 0    # the bits of iss the architecture leaves UNKNOWN (GCSSS2's and GCSPOPCX's ISS.Rn)
    # A stage 1 fault on a later piece of an access that crosses pages: ((IPA, size) spans of the pieces
    # before it, their stage 1 attributes), which stage 2 translates too (stage2.full_translate).
    before: tuple = field(default=(), compare=False, repr=False)
    # A stage 1 fault after the walk (Permission, memory-type Alignment): the output addresses (IPAs
    # under stage 2) the walk gave, whose stage 2 Access flag may be set (I_MYQJN: stage2.full_translate).
    outputs: tuple = field(default=(), compare=False, repr=False)
    # A store's abort on a later piece of an access that crosses pages: the (PA, bytes) spans of the pieces
    # before it, whose memory may be UNKNOWN after (D1.4.1.4: harness/predict.py forgets it).
    written: tuple = field(default=(), compare=False, repr=False)

    # J1.3.5 FaultRecord.statuscode and level, decoded
    @property
    def fault(self):
        if self.fsc is None:
            return {EC_GCS: esr.GCS_DATA_CHECK, EC_SYSTEM_TRAP: esr.SYSTEM_TRAP}.get(self.ec, esr.PC_ALIGNMENT), None
        return esr.decode_fsc(self.fsc)

    # J1.1.3.1 AArch64.FaultSyndrome, with ESR_ELx's field descriptions (D24.2.45, D24.2.46).
    # The model makes no External abort, no LS64, MOPS, NV2, tag or overlay access, so
    # SET, LST, VNCR, FnV, EA, PFV, FnP, TopLevel and ISS2 are all 0 but ISS2.DirtyBit (a
    # dirty-state fault under permission indirection) and ISS2.GCS (a GCS data access's Data
    # Abort, whatever its fault; its ISV is 0: AArch64.InstructionSyndromeValid); FAR_ELx is
    # valid for every fault it makes.
    # IL is 1: an A64 instruction, or a Data
    # Abort with ISV = 0.  ISS[23:14] are RES0 when ISV = 0.
    def esr(self):
        """ESR_ELx whole: every bit fixed but WnR where the rule leaves it open."""
        value = self.ec << esr.ESR_EC.shift | esr.ESR_IL.mask
        mask = ALL_BITS
        if self.fsc is None:            # PC alignment: the ISS is RES0; a GCS exception's (J1.1.3.56)
            return Bits(value | self.iss, mask & ~self.iss_unknown)
        value |= self.fsc << esr.ESR_ISS_FSC.shift | int(self.s1ptw) << esr.ESR_ISS_S1PTW.shift
        if self.ec not in esr.DATA_ABORTS:
            return Bits(value, mask)    # an Instruction Abort: CM, WnR and ISV are RES0
        value |= int(self.cm) << esr.ESR_ISS_CM.shift
        if self.cm:
            value |= esr.ESR_ISS_WNR.mask       # DC, IC and AT: WnR = 1
        elif self.wnr is None or self.fsc == esr.fault_status("atomic_hw_update", None):
            mask &= ~esr.ESR_ISS_WNR.mask       # left open (the rule), or bit UNKNOWN (Fault_HWUpdateAccessFlag)
        elif self.wnr:
            value |= esr.ESR_ISS_WNR.mask
        value |= int(self.dirtybit) << esr.ESR_ISS2_DIRTYBIT.shift | int(self.gcs) << esr.ESR_ISS2_GCS.shift
        if self.syndrome is not None:
            sas, sse, srt, sf, ar = self.syndrome
            value |= (esr.ESR_ISS_ISV.mask | sas << esr.ESR_ISS_SAS.shift | sse << esr.ESR_ISS_SSE.shift
                      | srt << esr.ESR_ISS_SRT.shift | sf << esr.ESR_ISS_SF.shift | ar << esr.ESR_ISS_AR.shift)
        return Bits(value, mask)

    # J1.1.2.28 AArch64.ReportException: FAR_ELx
    def far_register(self):
        """FAR_ELx: the faulting VA (the PC of a PC alignment fault), valid (FnV = 0), whole; UNKNOWN after a
        GCS exception (J1.1.3.56: except.vaddress UNKNOWN) or a trapped System instruction (AArch64.SystemAccessTrap)."""
        if self.ec in esr.FAR_UNKNOWN:
            return Bits(0, 0)
        return Bits(self.far, ALL_BITS)

    # J1.1.2.28 AArch64.ReportException: HPFAR_EL2 (D24.2.76)
    def hpfar(self):
        """HPFAR_EL2 of a stage 2 fault (D24.2.76): FIPA the faulting IPA's bits [51:12] where
        J1.3.3.2 IPAValid (Translation, Access flag and Address size faults, and Permission faults on
        a stage 1 walk), NS and the other bits RES0 (Non-secure EL2); UNKNOWN otherwise.  FIPA's
        bits for address bits at and above the implemented PA size (pa_bits) are RES0 too
        ("For implementations with fewer than 52 physical address bits, the corresponding upper
        bits in this field are RES0"; without FEAT_LPA FIPA is bits [39:4] and [43:40] RES0)."""
        if self.stage != 2 or not esr.ipa_valid(self.fault[0], self.s1ptw):
            return Bits(0, 0)
        return Bits(esr.HPFAR_FIPA.put((self.ipa & ((1 << self.pa_bits) - 1)) >> 12), ALL_BITS)


# J1.1.3.11 AArch64.EncodePAR (and J1.1.3.12 AArch64.PARFaultStatus) of an AT
@dataclass(frozen=True)
class Par:
    """The PAR_EL1 an AT instruction leaves: value and mask hold the fields the
    translation gives (F, PA, ATTR, SH; or F, FST, PTW, S), the bits out of the mask
    open where the rule leaves them so; register() is the whole register."""
    value: int
    mask: int
    rule: str
    updates: tuple = ()

    # J1.1.3.11 AArch64.EncodePAR (64-bit PAR, no FEAT_RME, Non-secure): PAR_EL1 starts from
    # zeros, bit 11 is RES1 in both forms; F = 0: NS is UNKNOWN and bit 10 IMPLEMENTATION DEFINED
    # ("Non-Faulting PAR"); F = 1: bits [63:48] IMPLEMENTATION DEFINED ("Faulting PAR"), Overlay,
    # TopLevel and AssuredOnly 0 (no overlays or FEAT_THE here), DirtyBit 0 but where mask has it
    # (a dirty-state fault under permission indirection).
    _FREE_OK = par.PAR_NS.mask | par.PAR_IMPDEF_OK.mask
    _FREE_FAULT = par.PAR_IMPDEF_FAULT.mask

    # J1.1.3.11 AArch64.EncodePAR
    def register(self):
        """PAR_EL1 whole: the fields above, the RES1 and zero bits fixed, the UNKNOWN and
        IMPLEMENTATION DEFINED bits free."""
        free = self._FREE_FAULT if par.PAR_F.get(self.value) else self._FREE_OK
        fields = par.PAR_FAULT_FIELDS if par.PAR_F.get(self.value) else par.PAR_OK_FIELDS
        open_fields = fields & ~self.mask       # ATTR or SH where the architecture leaves them open
        return Bits(self.value & self.mask | par.PAR_RES1.mask, ALL_BITS & ~free & ~open_fields)


# J1.1.3.10 AArch64.AT and system instructions that translate nothing: no fault
@dataclass(frozen=True)
class Done:
    """A maintenance step (a descriptor write or read, a barrier, a TLBI, a
    register write) completes; desc: the descriptor a write leaves or a read
    returns."""
    desc: int = None
    updates: tuple = ()


# J1.3.3.507 ConstrainUnpredictable and IMPLEMENTATION_DEFINED aside: an outcome the model does not judge (a
# configuration it refuses, memory it does not know)
@dataclass(frozen=True)
class Unknown:
    """The model cannot tell: the step needs memory nobody declared (pa: the walk's read of it,
    where that is what stopped the model), or is not an MMU probe at all (the kernel's self-tests)."""
    reason: str
    updates: tuple = ()
    pa: int = None


# D8.17.1 and K1.2.3 (no J1 function: AArch64.TLBLookup is not in the ASL): a translation by an amalgamation
# of several TLB entries a lookup matches
@dataclass(frozen=True)
class Amalgamation:
    """The access or AT is made as translated by an amalgamation of more than one of the TLB entries its
    lookup matches, which differ beyond block size and Contiguous bit (D8.17.1: CONSTRAINED UNPREDICTABLE;
    K1.2.3).  The rule bounds it only by "permissions or attributes that would not be possible" at the
    current Exception level and Security state, and names no field that may or may not mix, so the model
    cannot say what it gives: it allows no observation by itself, and an observation that is none of the
    set's other (whole-entry) outcomes is not judged (harness/oracle.py), never passed.  reason: which
    entries, with the rule."""
    reason: str
    updates: tuple = ()


# J1.3.3.507-511 ConstrainUnpredictable*, IMPLEMENTATION_DEFINED: the set of outcomes the architecture permits
class Outcomes(frozenset):
    """A non-empty set of outcomes; rule names what permits more than one."""

    # J1.3.3.507 ConstrainUnpredictable: never an empty set of outcomes
    def __new__(cls, outcomes, rule=None):
        self = super().__new__(cls, outcomes)
        if not self:
            raise ValueError("a set of outcomes is never empty")
        self.rule = rule
        return self

    # J1.3.3.507 ConstrainUnpredictable: the set, with the rule permitting it
    def __repr__(self):
        return f"Outcomes({sorted(map(repr, self))}, rule={self.rule!r})"


# J1.3.3.507-511 ConstrainUnpredictable*, IMPLEMENTATION_DEFINED: the outcomes of every choice, with their rules
def union(sets):
    """One Outcomes of several, the rules of each choice kept."""
    outcomes, rules = set(), []
    for s in sets:
        outcomes |= s
        if s.rule and s.rule not in rules:
            rules.append(s.rule)
    return Outcomes(outcomes, "; ".join(rules) or None)
