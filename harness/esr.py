"""ESR_EL1 decoder for the exceptions this suite sees (Arm ARM D19.2 "ESR_EL1,
Exception Syndrome Register (EL1)"; field names follow Linux's
arch/arm64/include/asm/esr.h).

The fault status code table (DFSC/IFSC, also PAR_EL1.FST) maps each code to a
fault class and a translation level, in both directions: cases name the fault
they expect as (class, level), the kernel reports the raw register.
"""
import enum
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    """Bits [shift + width - 1 : shift] of a register."""
    shift: int
    width: int
    # The field's bits in place (GENMASK(shift + width - 1, shift)), made once: the model reads
    # descriptor fields hundreds of thousands of times a campaign.
    mask: int = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "mask", ((1 << self.width) - 1) << self.shift)

    def get(self, raw):
        return (raw & self.mask) >> self.shift

    def put(self, value):
        """value in the field's place (value must fit)."""
        assert 0 <= value < 1 << self.width, (value, self.width)
        return value << self.shift


def differing_fields(fields, got, want, mask):
    """'SAS=2 (not 3), ISV=0 (not 1)': each named field of `fields` ((name, Field), ...) in
    which got and want differ under mask, and the other differing bits by number."""
    wrong = (got ^ want) & mask
    parts, named = [], 0
    for name, f in fields:
        if wrong & f.mask:
            parts.append(f"{name}={f.get(got):#x} (not {f.get(want):#x})" if f.width > 1
                         else f"{name}={f.get(got)} (not {f.get(want)})")
            named |= f.mask
    rest = wrong & ~named
    if rest:
        bits = [b for b in range(64) if rest >> b & 1]
        parts.append(f"bit{'s' if len(bits) > 1 else ''} {', '.join(map(str, reversed(bits)))} "
                     f"= {', '.join(str(got >> b & 1) for b in reversed(bits))}")
    return ", ".join(parts)


# ESR_ELx: exception class, instruction length, syndrome, and ISS2 (bits [55:32]: FEAT_LS64,
# FEAT_GCS, FEAT_S1PIE, FEAT_S1POE, FEAT_MTE ... information; 0 for the faults this suite makes).
ESR_EC = Field(26, 6)
ESR_IL = Field(25, 1)
ESR_ISS = Field(0, 25)
ESR_ISS2 = Field(32, 24)
ESR_RES0 = Field(56, 8)
# ISS2 of a Data Abort (D24.2.45 "ISS2 encoding for an exception from a Data Abort")
ESR_ISS2_DIRTYBIT = Field(37, 1)    # FEAT_S1PIE/S2PIE: a Permission fault of the dirty state
ESR_ISS2_GCS = Field(40, 1)         # FEAT_GCS: the abort of a Guarded Control Stack data access

# ISS of a data abort (Arm ARM D19.2, "ISS encoding for an exception from a
# Data Abort").  An instruction abort has SET, FnV, EA, S1PTW and IFSC at the
# same places; its other bits are RES0.
ESR_ISS_ISV = Field(24, 1)      # SAS..AR below are valid
ESR_ISS_SAS = Field(22, 2)      # access size: log2 bytes
ESR_ISS_SSE = Field(21, 1)      # sign-extended load
ESR_ISS_SRT = Field(16, 5)      # transfer register
ESR_ISS_SF = Field(15, 1)       # 64-bit register
ESR_ISS_AR = Field(14, 1)       # acquire/release
ESR_ISS_VNCR = Field(13, 1)     # FEAT_NV2 VNCR_EL2-relative access
ESR_ISS_SET = Field(11, 2)      # synchronous error type (FEAT_RAS)
ESR_ISS_FNV = Field(10, 1)      # FAR not valid
ESR_ISS_EA = Field(9, 1)        # external abort type
ESR_ISS_CM = Field(8, 1)        # cache maintenance or AT instruction
ESR_ISS_S1PTW = Field(7, 1)     # stage 2 fault on a stage 1 table walk
ESR_ISS_WNR = Field(6, 1)       # write, not read
ESR_ISS_FSC = Field(0, 6)       # DFSC / IFSC

# ESR_ELx of a Data Abort by field, for messages (an Instruction Abort's have the same places).
ESR_FIELDS = (("EC", ESR_EC), ("IL", ESR_IL), ("ISV", ESR_ISS_ISV), ("SAS", ESR_ISS_SAS), ("SSE", ESR_ISS_SSE),
              ("SRT", ESR_ISS_SRT), ("SF", ESR_ISS_SF), ("AR", ESR_ISS_AR), ("VNCR", ESR_ISS_VNCR),
              ("SET", ESR_ISS_SET), ("FnV", ESR_ISS_FNV), ("EA", ESR_ISS_EA), ("CM", ESR_ISS_CM),
              ("S1PTW", ESR_ISS_S1PTW), ("WnR", ESR_ISS_WNR), ("xFSC", ESR_ISS_FSC), ("DirtyBit", ESR_ISS2_DIRTYBIT),
              ("GCS", ESR_ISS2_GCS), ("ISS2", ESR_ISS2),
              ("RES0[63:56]", ESR_RES0))


# HPFAR_EL2 (Arm ARM D24.2.76): FIPA holds bits [51:12] of the faulting IPA of a
# stage 2 abort taken to EL2; NS (FEAT_SEL2) and the other bits are RES0 at Non-secure EL2.
HPFAR_FIPA = Field(4, 40)
HPFAR_NS = Field(63, 1)
HPFAR_FIELDS = (("FIPA", HPFAR_FIPA), ("NS", HPFAR_NS))


def hpfar_ipa(hpfar):
    """The faulting IPA's page (bits [51:12]) HPFAR_EL2 holds."""
    return HPFAR_FIPA.get(hpfar) << 12


def ipa_valid(fault, s1ptw):
    """Whether HPFAR_EL2 holds the faulting IPA of a stage 2 fault of class `fault`
    (J1.3.3.2 IPAValid): for Translation, Access flag and Address size faults, and for a
    Permission fault only on a stage 1 walk; UNKNOWN otherwise (Linux's
    arch/arm64/kvm/hyp/include/hyp/fault.h resolves the IPA with AT for those)."""
    return fault in ("translation", "access_flag", "address_size") or bool(s1ptw) and fault == "permission"


class EC(enum.IntEnum):
    """Exception classes (ESR_ELx.EC) with a description for messages."""

    def __new__(cls, code, text):
        member = int.__new__(cls, code)
        member._value_ = code
        member.text = text
        return member

    UNKNOWN = 0x00, "unknown reason"
    WFX = 0x01, "WFI/WFE"
    FP_ASIMD = 0x07, "SVE/SIMD/FP access trap"
    ILL = 0x0E, "illegal execution state"
    SVC64 = 0x15, "SVC (AArch64)"
    HVC64 = 0x16, "HVC (AArch64)"
    SYS64 = 0x18, "MSR/MRS/system instruction trap"
    IABT_LOW = 0x20, "instruction abort (lower EL)"
    IABT_CUR = 0x21, "instruction abort (same EL)"
    PC_ALIGN = 0x22, "PC alignment fault"
    DABT_LOW = 0x24, "data abort (lower EL)"
    DABT_CUR = 0x25, "data abort (same EL)"
    SP_ALIGN = 0x26, "SP alignment fault"
    GCS = 0x2D, "GCS exception"
    SERROR = 0x2F, "SError"
    BREAKPT_LOW = 0x30, "breakpoint (lower EL)"
    BREAKPT_CUR = 0x31, "breakpoint (same EL)"
    SOFTSTP_LOW = 0x32, "software step (lower EL)"
    SOFTSTP_CUR = 0x33, "software step (same EL)"
    WATCHPT_LOW = 0x34, "watchpoint (lower EL)"
    WATCHPT_CUR = 0x35, "watchpoint (same EL)"
    BRK64 = 0x3C, "BRK instruction"


DATA_ABORTS = frozenset({EC.DABT_LOW, EC.DABT_CUR})
INSTRUCTION_ABORTS = frozenset({EC.IABT_LOW, EC.IABT_CUR})
# Exception classes that leave FAR_ELx (and HPFAR_EL2) UNKNOWN: a GCS exception (J1.1.3.56: except.vaddress
# UNKNOWN) and a trapped System instruction (AArch64.SystemAccessTrap); what those registers hold then is
# whatever came before, neither judged nor part of what a step is observed to do.
FAR_UNKNOWN = frozenset({EC.SYS64, EC.GCS})

# Fault status codes (Arm ARM D19.2, DFSC/IFSC).  Classes with a level: the
# code for level L (0-3) is base + L; FEAT_LPA2 adds level -1 where noted.
_LEVELLED = {
    "address_size": (0b000000, 0b101001),
    "translation": (0b000100, 0b101011),
    "access_flag": (0b001000, None),        # level 0 only with FEAT_LPA2
    "permission": (0b001100, None),
    "external_walk": (0b010100, 0b010011),
}
_UNLEVELLED = {
    "external": 0b010000,                   # synchronous external abort, not on a walk
    "alignment": 0b100001,
    "tlb_conflict": 0b110000,
    "atomic_hw_update": 0b110001,           # unsupported atomic hardware update (FEAT_HAFDBS)
    # EncodeLDFSC(Fault_Exclusive), IMPLEMENTATION DEFINED: an unsupported exclusive or atomic access (an
    # atomic's Unpredictable_Atomic_MMU_IMPDEF_FAULT, J1.1.4.55)
    "unsupported_atomic": 0b110101,
}
# IMPLEMENTATION DEFINED: lockdown (Fault_Lockdown).
_IMPDEF = (0b110100,)

FAULT_CLASSES = (*_LEVELLED, *_UNLEVELLED)

# Not a fault status but an exception class of its own (EC 0x22): a branch to a
# misaligned PC faults before the target is fetched (AArch64.CheckPCAlignment).
PC_ALIGNMENT = "pc_alignment"
# Nor this (EC 0x2D, FEAT_GCS): the GCS Data Check exception of GCSPOPM (the doubleword it pops), GCSSS1 (the cap
# entry it swaps), GCSSS2 (the In-progress cap entry it loads), GCSPOPCX and GCSPOPX (the exception return record
# they load) (J1.1.3.56 GCSDataCheckException): ISS.IT the instruction, ISS.Rn its Xt (GCSPOPX's Rt field, 0b11111:
# ThisInstr()<4:0>), UNKNOWN for GCSSS2 and GCSPOPCX, ISS[24:10] 0; FAR_ELx UNKNOWN.
GCS_DATA_CHECK = "gcs_data_check"
ESR_ISS_GCS_IT = Field(0, 5)    # the GCS instruction whose check failed
ESR_ISS_GCS_RN = Field(5, 5)
GCS_IT_POPM, GCS_IT_SS1, GCS_IT_SS2, GCS_IT_POPCX, GCS_IT_POPX = 0b00001, 0b00100, 0b00101, 0b01000, 0b01001
GCS_IT = {"gcspopm": GCS_IT_POPM, "gcsss1": GCS_IT_SS1, "gcsss2": GCS_IT_SS2, "gcspopcx": GCS_IT_POPCX,
          "gcspopx": GCS_IT_POPX}
GCS_RN_UNKNOWN = ("gcsss2", "gcspopcx")
# Nor this (EC 0x18): a trapped MSR, MRS or System instruction, e.g. DC ZVA at EL0 with SCTLR_EL1.DZE = 0 (C5.3.38,
# AArch64.SystemAccessTrap).  Its ISS (D24.2.45 "ISS encoding for an exception from MSR, MRS, or System instruction
# execution in AArch64 state") names the instruction: Op0, Op2, Op1, CRn, Rt, CRm and Direction (1: a read, MRS);
# bits [24:22] RES0; IL 1; FAR_ELx UNKNOWN.
SYSTEM_TRAP = "system_trap"
ESR_ISS_SYS_OP0 = Field(20, 2)
ESR_ISS_SYS_OP2 = Field(17, 3)
ESR_ISS_SYS_OP1 = Field(14, 3)
ESR_ISS_SYS_CRN = Field(10, 4)
ESR_ISS_SYS_RT = Field(5, 5)
ESR_ISS_SYS_CRM = Field(1, 4)
ESR_ISS_SYS_READ = Field(0, 1)
SYS_FIELDS = (("Op0", ESR_ISS_SYS_OP0), ("Op2", ESR_ISS_SYS_OP2), ("Op1", ESR_ISS_SYS_OP1), ("CRn", ESR_ISS_SYS_CRN),
              ("Rt", ESR_ISS_SYS_RT), ("CRm", ESR_ISS_SYS_CRM), ("Direction", ESR_ISS_SYS_READ))
# (op0, op1, CRn, CRm, op2) of the System instructions a step may trap on (C5.3's encoding tables)
SYS_DC_ZVA = (0b01, 0b011, 0b0111, 0b0100, 0b001)
SYS_DC_CIVAC = (0b01, 0b011, 0b0111, 0b1110, 0b001)
SYS_DC_CVAC = (0b01, 0b011, 0b0111, 0b1010, 0b001)
SYS_DC_IVAC = (0b01, 0b000, 0b0111, 0b0110, 0b001)
SYS_IC_IVAU = (0b01, 0b011, 0b0111, 0b0101, 0b001)


SYS_NAMES = {SYS_DC_ZVA: "DC ZVA", SYS_DC_CIVAC: "DC CIVAC", SYS_DC_CVAC: "DC CVAC", SYS_DC_IVAC: "DC IVAC",
             SYS_IC_IVAU: "IC IVAU"}


def describe_system_trap(iss):
    """'DC ZVA, x0 (ISS 0x...)': the trapped instruction an EC 0x18 ISS names."""
    encoding = tuple(f.get(iss) for f in (ESR_ISS_SYS_OP0, ESR_ISS_SYS_OP1, ESR_ISS_SYS_CRN, ESR_ISS_SYS_CRM,
                                          ESR_ISS_SYS_OP2))
    name = SYS_NAMES.get(encoding, "op0={:#x} op1={:#x} CRn={:#x} CRm={:#x} op2={:#x}".format(*encoding))
    way = "read" if ESR_ISS_SYS_READ.get(iss) else "write"
    return f"{name}, x{ESR_ISS_SYS_RT.get(iss)}, {way} (ISS {iss:#x})"


def system_trap_iss(encoding, rt, read=False):
    """The ISS of a trapped System instruction or register access: encoding (op0, op1, CRn, CRm, op2), Rt, Direction."""
    op0, op1, crn, crm, op2 = encoding
    return (ESR_ISS_SYS_OP0.put(op0) | ESR_ISS_SYS_OP2.put(op2) | ESR_ISS_SYS_OP1.put(op1) | ESR_ISS_SYS_CRN.put(crn)
            | ESR_ISS_SYS_RT.put(rt) | ESR_ISS_SYS_CRM.put(crm) | ESR_ISS_SYS_READ.put(int(read)))

_FAULT_TEXT = {
    "address_size": "address size fault",
    "translation": "translation fault",
    "access_flag": "access flag fault",
    "permission": "permission fault",
    "external": "synchronous external abort",
    "external_walk": "synchronous external abort on table walk",
    "alignment": "alignment fault",
    "tlb_conflict": "TLB conflict abort",
    "atomic_hw_update": "unsupported atomic hardware update fault",
    "unsupported_atomic": "unsupported exclusive or atomic access fault",
    "impdef": "IMPLEMENTATION DEFINED fault",
    "unknown": "unknown fault",
}


def _encodings():
    """{(class, level): code} for every class a case may name."""
    codes = {}
    for cls, (base, minus1) in _LEVELLED.items():
        codes.update({(cls, level): base + level for level in range(4)})
        if minus1 is not None:
            codes[cls, -1] = minus1
    codes.update({(cls, None): code for cls, code in _UNLEVELLED.items()})
    return codes


_ENCODE = _encodings()
_DECODE = {code: key for key, code in _ENCODE.items()}
_DECODE.update({code: ("impdef", None) for code in _IMPDEF})


def decode_fsc(fsc):
    """(class, level) of a 6-bit fault status code; level is None for classes
    without one.  AArch32-only and unlisted codes decode as ("unknown", None)."""
    return _DECODE.get(fsc, ("unknown", None))


def fault_status(cls, level):
    """The 6-bit fault status code of a fault class at a level (None for
    classes without one): the inverse of decode_fsc."""
    if cls not in FAULT_CLASSES:
        raise ValueError(f"unknown fault class {cls!r}; expected one of {', '.join(FAULT_CLASSES)}")
    if cls in _UNLEVELLED:
        if level is not None:
            raise ValueError(f"fault {cls!r} has no level (got level {level})")
        return _ENCODE[cls, None]
    if (cls, level) not in _ENCODE:
        levels = ", ".join(str(lv) for c, lv in sorted(_ENCODE) if c == cls)
        if level is None:
            raise ValueError(f"fault {cls!r} needs a level ({levels})")
        raise ValueError(f"fault {cls!r} has no level {level} (levels: {levels})")
    return _ENCODE[cls, level]


def describe_fsc(fsc, label):
    """'translation fault, level 3 (DFSC 0x07)'; label names the field (DFSC, IFSC, FST)."""
    cls, level = decode_fsc(fsc)
    at = "" if level is None else f", level {level}"
    return f"{_FAULT_TEXT[cls]}{at} ({label} {fsc:#04x})"


@dataclass(frozen=True)
class Esr:
    """A decoded ESR_EL1.  The abort fields are None for other exception
    classes; isv, cm and wnr are also None for instruction aborts."""
    raw: int
    ec: int
    ec_name: str        # EC member name in lower case ("dabt_cur"), or "unlisted"
    il: int
    iss: int
    fsc: int = None
    fault: str = None   # a class of decode_fsc
    level: int = None
    wnr: int = None
    s1ptw: int = None
    cm: int = None
    ea: int = None
    fnv: int = None
    isv: int = None
    sas: int = None     # the instruction syndrome (ISV = 1): access size as log2 bytes,
    sse: int = None     # sign extension, transfer register, 64-bit register, acquire/release
    srt: int = None
    sf: int = None
    ar: int = None

    @property
    def is_abort(self):
        return self.ec in DATA_ABORTS or self.ec in INSTRUCTION_ABORTS


def decode_esr(raw):
    """Decode a raw ESR_EL1 value."""
    ec, iss = ESR_EC.get(raw), ESR_ISS.get(raw)
    try:
        ec_name = EC(ec).name.lower()
    except ValueError:
        ec_name = "unlisted"
    common = dict(raw=raw, ec=ec, ec_name=ec_name, il=ESR_IL.get(raw), iss=iss)
    if ec not in DATA_ABORTS and ec not in INSTRUCTION_ABORTS:
        return Esr(**common)
    fsc = ESR_ISS_FSC.get(iss)
    fault, level = decode_fsc(fsc)

    def data_only(field):       # RES0 in an instruction abort's ISS
        return field.get(iss) if ec in DATA_ABORTS else None

    syndrome = {}
    if ec in DATA_ABORTS and ESR_ISS_ISV.get(iss):
        syndrome = dict(sas=ESR_ISS_SAS.get(iss), sse=ESR_ISS_SSE.get(iss), srt=ESR_ISS_SRT.get(iss),
                        sf=ESR_ISS_SF.get(iss), ar=ESR_ISS_AR.get(iss))
    return Esr(**common, fsc=fsc, fault=fault, level=level,
               wnr=data_only(ESR_ISS_WNR), s1ptw=ESR_ISS_S1PTW.get(iss), cm=data_only(ESR_ISS_CM),
               ea=ESR_ISS_EA.get(iss), fnv=ESR_ISS_FNV.get(iss), isv=data_only(ESR_ISS_ISV), **syndrome)


def describe(esr):
    """One line for failure messages:
    'data abort (same EL): translation fault, level 3 (DFSC 0x07), WnR=0',
    'instruction abort (same EL): permission fault, level 3 (IFSC 0x0f)',
    'BRK instruction (EC 0x3c), ISS 0x0'.
    Abort flags other than WnR are shown only when set."""
    text = EC(esr.ec).text if esr.ec_name != "unlisted" else "unlisted exception class"
    if esr.ec == EC.SYS64:
        return f"{text} (EC {esr.ec:#04x}): {describe_system_trap(esr.iss)}"
    if not esr.is_abort:
        return f"{text} (EC {esr.ec:#04x}), ISS {esr.iss:#x}"
    data = esr.ec in DATA_ABORTS
    parts = [f"{text}: {describe_fsc(esr.fsc, 'DFSC' if data else 'IFSC')}"]
    if data:
        parts.append(f"WnR={esr.wnr}")
    flags = {"S1PTW": esr.s1ptw, "CM": esr.cm, "EA": esr.ea, "FnV": esr.fnv, "ISV": esr.isv}
    parts += [f"{name}=1" for name, bit in flags.items() if bit]
    if esr.isv:
        parts.append(f"SAS={esr.sas} SSE={esr.sse} SRT={esr.srt} SF={esr.sf} AR={esr.ar}")
    return ", ".join(parts)
