"""PAR_EL1 decoder, 64-bit format (Arm ARM D19.2 "PAR_EL1, Physical Address
Register"): the result of an AT instruction.

The fault status (FST) uses the DFSC encoding, so it is decoded by esr.py.
"""
from dataclasses import dataclass

from harness.esr import Field, decode_fsc, describe_fsc

PAR_F = Field(0, 1)         # 1: the translation aborted

# PAR_EL1.F == 0: the translation succeeded.
PAR_SH = Field(7, 2)
PAR_NS = Field(9, 1)
PAR_IMPDEF_OK = Field(10, 1)    # IMPLEMENTATION DEFINED ("Non-Faulting PAR")
PAR_RES1 = Field(11, 1)     # RES1 in both forms (AArch64.EncodePAR)
PAR_PA = Field(12, 40)      # PA[51:12] in place (PA[51:48] with 52-bit PAs)
PAR_ATTR = Field(56, 8)     # MAIR_ELx-format attribute byte

# PAR_EL1.F == 1: the translation aborted.
PAR_FST = Field(1, 6)       # DFSC encoding
PAR_PTW = Field(8, 1)       # stage 2 fault on a stage 1 table walk
PAR_S = Field(9, 1)         # 0: stage 1, 1: stage 2
PAR_IMPDEF_FAULT = Field(48, 16)    # IMPLEMENTATION DEFINED ("Faulting PAR")
PAR_DIRTYBIT = Field(15, 1)     # FEAT_S1PIE/S2PIE: a Permission fault of the dirty state (D24.2.142)

# The fields a translation gives, in each form: PAR_EL1 by field, for messages.
PAR_OK_FIELDS = PAR_F.mask | PAR_SH.mask | PAR_PA.mask | PAR_ATTR.mask
PAR_FAULT_FIELDS = PAR_F.mask | PAR_FST.mask | PAR_PTW.mask | PAR_S.mask
PAR_OK_NAMES = (("F", PAR_F), ("SH", PAR_SH), ("NS", PAR_NS), ("IMPDEF[10]", PAR_IMPDEF_OK), ("RES1[11]", PAR_RES1),
                ("PA", PAR_PA), ("ATTR", PAR_ATTR))
PAR_FAULT_NAMES = (("F", PAR_F), ("FST", PAR_FST), ("PTW", PAR_PTW), ("S", PAR_S), ("DirtyBit", PAR_DIRTYBIT),
                   ("RES1[11]", PAR_RES1),
                   ("IMPDEF[63:48]", PAR_IMPDEF_FAULT))

# SH encodings; Device and Normal Non-cacheable memory report outer.
SH_NAMES = {0b00: "non", 0b01: "reserved", 0b10: "outer", 0b11: "inner"}

# MAIR_ELx attribute bytes with Attr<7:4> == 0b0000: Device memory.
_DEVICE = {0x00: "Device-nGnRnE", 0x04: "Device-nGnRE", 0x08: "Device-nGRE", 0x0C: "Device-GRE"}
# Normal bytes whose inner nibble is 0b0000, which a Normal nibble cannot be.
_SPECIAL_NORMAL = {
    0x40: "Normal, Inner/Outer Non-cacheable, XS=0",   # FEAT_XS
    0xA0: "Normal, Inner/Outer Write-Through, XS=0",   # FEAT_XS
    0xF0: "Tagged Normal, Inner/Outer Write-Back",     # FEAT_MTE2
}
# Allocation hints of a cacheable nibble (R = bit 1, W = bit 0); RW = 0b11 goes unsaid.
_ALLOC = {0b11: "", 0b10: " read-allocate", 0b01: " write-allocate", 0b00: " no-allocate"}


def _describe_nibble(nibble):
    """One cacheability nibble of a Normal attribute byte (MAIR_ELx Attr<n>)."""
    if nibble == 0b0100:
        return "Non-cacheable"
    if nibble == 0b0000:
        return "reserved"
    kind = "Write-Back" if nibble & 0b0100 else "Write-Through"
    if not nibble & 0b1000:
        kind += " transient"
    return kind + _ALLOC[nibble & 0b11]


def describe_attr(byte):
    """A MAIR_ELx attribute byte: 'Device-nGnRE', 'Normal, Inner/Outer Write-Back',
    'Normal, Inner Non-cacheable, Outer Write-Through'."""
    if byte in _DEVICE:
        return _DEVICE[byte]
    if byte in _SPECIAL_NORMAL:
        return _SPECIAL_NORMAL[byte]
    outer, inner = byte >> 4, byte & 0xF
    if outer == 0:      # Device with Attr<1:0> != 0b00
        return "reserved"
    if outer == inner:
        return f"Normal, Inner/Outer {_describe_nibble(inner)}"
    return f"Normal, Inner {_describe_nibble(inner)}, Outer {_describe_nibble(outer)}"


@dataclass(frozen=True)
class Par:
    """A decoded PAR_EL1.  pa, attr, sh, ns and res1 are set when f == 0;
    fst, fault, level, ptw and stage when f == 1."""
    raw: int
    f: int
    pa: int = None
    attr: int = None
    sh: str = None      # SH_NAMES
    ns: int = None
    res1: int = None
    fst: int = None
    fault: str = None   # esr.decode_fsc class
    level: int = None
    ptw: int = None
    stage: int = None   # 1 or 2


def decode_par(raw):
    """Decode a raw PAR_EL1 value."""
    if not PAR_F.get(raw):
        return Par(raw=raw, f=0, pa=raw & PAR_PA.mask, attr=PAR_ATTR.get(raw),
                   sh=SH_NAMES[PAR_SH.get(raw)], ns=PAR_NS.get(raw), res1=PAR_RES1.get(raw))
    fst = PAR_FST.get(raw)
    fault, level = decode_fsc(fst)
    return Par(raw=raw, f=1, fst=fst, fault=fault, level=level, ptw=PAR_PTW.get(raw),
               stage=PAR_S.get(raw) + 1)


def describe(par):
    """One line for failure messages:
    'PA 0x41000000, ATTR 0xff (Normal, Inner/Outer Write-Back), SH inner (PAR 0x...)',
    'fault: translation fault, level 1 (FST 0x05), stage 1, PTW 0 (PAR 0x...)'."""
    if par.f:
        return f"fault: {describe_fsc(par.fst, 'FST')}, stage {par.stage}, PTW {par.ptw} (PAR {par.raw:#x})"
    return (f"PA {par.pa:#x}, ATTR {par.attr:#04x} ({describe_attr(par.attr)}), SH {par.sh} "
            f"(PAR {par.raw:#x})")
