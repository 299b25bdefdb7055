"""Memory attributes: MAIR_EL1 decoding (AArch64.S1DecodeMemAttrs, MAIR_ELx
Attr<n>), the shareability a descriptor gives (DecodeShareability), and how
PAR_EL1 reports them (EncodePARAttrs, PAREncodeShareability)."""
from dataclasses import dataclass

from harness.par import SH_NAMES

DEVICE_TYPES = {0b00: "nGnRnE", 0b01: "nGnRE", 0b10: "nGRE", 0b11: "GRE"}
SH_CODES = {name: code for code, name in SH_NAMES.items() if name != "reserved"}

NC, WT, WB = "NC", "WT", "WB"


# J1.3.5 MemoryAttributes (the fields S1DecodeMemAttrs, S2DecodeMemAttrs fill): type, cacheability, hints
@dataclass(frozen=True)
class MemAttrs:
    """MemoryAttributes: device is a DEVICE_TYPES name for Device memory, else
    None and inner/outer are (attrs, hints, transient) of Normal memory."""
    device: str = None
    inner: tuple = None
    outer: tuple = None
    reserved: bool = False      # a reserved MAIR encoding: CONSTRAINED UNPREDICTABLE

    # J1.3.5 MemoryAttributes.memtype == MemType_Device
    @property
    def is_device(self):
        return self.device is not None

    # J1.3.5 MemAttr_NC at both cache levels (as S2CombineS1MemAttrs and PAREncodeShareability test it)
    @property
    def non_cacheable(self):
        """Normal memory Non-cacheable inside and out."""
        return self.device is None and self.inner[0] == NC and self.outer[0] == NC


NORMAL_NC = MemAttrs(inner=(NC, 0, False), outer=(NC, 0, False))


# J1.3.5.7 DecodeLDFAttr (one MAIR nibble: cacheability, allocation hints, transience)
def _decode_nibble(nibble):
    """One cacheability nibble of a Normal Attr<n> (MAIR_ELx): (attrs, hints, transient), or None if reserved."""
    if nibble == 0b0100:
        return (NC, 0, False)
    if nibble == 0b0000:
        return None
    kind = WB if nibble & 0b0100 else WT
    return (kind, nibble & 0b11, not nibble & 0b1000)


# J1.1.4.1 AArch64.MAIRAttr (no FEAT_AIE: index < 8, MAIR alone)
def mair_attr(mair, attrindx, mair2=0):
    """AArch64.MAIRAttr (J1.1.4.1): the attribute byte MAIR_ELx.Attr<attrindx>, or for an index
    of 8 to 15 (FEAT_AIE) MAIR2_ELx.Attr<attrindx - 8>."""
    if attrindx > 7:
        return mair2 >> (8 * (attrindx - 8)) & 0xFF
    return mair >> (8 * attrindx) & 0xFF


# J1.3.5.15 S1DecodeMemAttrs (no FEAT_XS/MTE attributes: the suite's cases use none)
def s1_decode_mem_attrs(attr):
    """AArch64.S1DecodeMemAttrs of one MAIR attribute byte.  The FEAT_XS and
    FEAT_MTE2 encodings (0x40, 0xa0, 0xf0, Device 0bxxxx01) depend on features
    whose ID registers the model does not read, so they count as reserved."""
    if attr >> 4 == 0:
        if attr & 0b11:
            return MemAttrs(reserved=True)
        return MemAttrs(device=DEVICE_TYPES[attr >> 2 & 0b11])
    inner, outer = _decode_nibble(attr & 0xF), _decode_nibble(attr >> 4)
    if inner is None or outer is None:
        return MemAttrs(reserved=True)
    return MemAttrs(inner=inner, outer=outer)


# J1.3.5.15 S1DecodeMemAttrs: memattrs.xs (FEAT_XS; D8.7.4 "XS attribute modifier")
def s1_xs(attr):
    """The XS attribute of a stage 1 MAIR attribute byte, or None where it is open: 0 for
    Device 0b0000dd01, Normal Write-Back inside and out, and the FEAT_XS encodings 0x40 (Normal
    Non-cacheable) and 0xa0 (Write-Through); 1 for every other Device or Normal encoding.  A
    reserved encoding stands for any allocated one (Unpredictable_RESMAIR): None."""
    if attr >> 4 == 0:
        return None if attr & 0b10 else not attr & 0b01
    if attr in (0x40, 0xA0):
        return False
    inner, outer = _decode_nibble(attr & 0xF), _decode_nibble(attr >> 4)
    if inner is None or outer is None:
        return None
    return not (inner[0] == WB and outer[0] == WB)


# J1.3.5.2 EncodePARAttrs (one cache level's nibble)
def _encode_nibble(hints):
    attrs, alloc, transient = hints
    if attrs == NC:
        return 0b0100
    if attrs == WT:
        return (0b0000 if transient else 0b1000) | alloc
    return (0b0100 if transient else 0b1100) | alloc


# J1.3.5.2 EncodePARAttrs
def encode_par_attrs(memattrs):
    """EncodePARAttrs: the MAIR-format byte PAR_EL1.ATTR reports."""
    if memattrs.is_device:
        code = {name: code for code, name in DEVICE_TYPES.items()}[memattrs.device]
        return code << 2
    return _encode_nibble(memattrs.outer) << 4 | _encode_nibble(memattrs.inner)


# J1.3.5.9 DecodeShareability (0b01 reserved: ConstrainUnpredictable(Unpredictable_Shareability), both kept)
def decode_shareability(sh):
    """DecodeShareability of a descriptor's SH[1:0] (or TCR_EL1.SHn): the
    shareability names that may result; 0b01 is reserved, and CONSTRAINED
    UNPREDICTABLE (Unpredictable_Shareability) as one of the others."""
    if sh == 0b01:
        return ("non", "outer", "inner")
    return (SH_NAMES[sh],)


# J1.3.5.3 PAREncodeShareability
def par_encode_shareability(memattrs, shareability):
    """PAREncodeShareability: Device memory and Normal Inner and Outer
    Non-cacheable memory are reported Outer Shareable, whatever the descriptor
    says; anything else reports its shareability."""
    if memattrs.is_device or memattrs.non_cacheable:
        return "outer"
    return shareability
