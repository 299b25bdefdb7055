"""Permission indirection (FEAT_S1PIE, FEAT_S2PIE): the descriptor names a permission index, and
PIR_ELx/PIRE0_ELx (stage 1) or S2PIR_EL2 (stage 2) give that index's permissions.

Read beside Arm ARM M.a.a J1.1.4.68 AArch64.S1ApplyOutputPerms and J1.1.4.70
AArch64.S2ApplyOutputPerms (the index: descriptor bits 54, 53, 51 and 6, and the dirty state in
bit 7), J1.1.4.30 AArch64.S1IndirectBasePermissions and J1.1.4.39
AArch64.S2IndirectBasePermissions (each 4-bit encoding).  What the rest of the checks do with
the result (the dirty-state Permission fault, hardware dirty state updates through bit 7) is in
permissions.py, stage2.py and translate.py, beside the ASL functions that do it.

Not modelled: permission overlays (FEAT_S1POE, FEAT_S2POE: POR_ELx, S2POR_EL1), which the ASL
applies after these base permissions; the encodings' overlay bits are decoded but unused.  The
128-bit descriptors (FEAT_D128), whose index is elsewhere.  The gcs permission computed here is
what the GCS stores (GCSSTR, GCSSTTR) need (permissions.py); to ordinary loads, stores, fetches
and AT it changes nothing.
"""
from dataclasses import dataclass

from harness.esr import Field

# J1.1.4.68 AArch64.S1ApplyOutputPerms, J1.1.4.70 AArch64.S2ApplyOutputPerms (64-bit descriptors)
PI_INDEX_BITS = (54, 53, 51, 6)         # PIIndex[3:0] / S2PIIndex[3:0], most significant first
DESC_NDIRTY = Field(7, 1)               # stage 1 with PIE: nDirty (1: clean)
DESC_S2DIRTY = Field(7, 1)              # stage 2 with S2PIE: Dirty (0: clean)


# J1.1.4.68 AArch64.S1ApplyOutputPerms / J1.1.4.70 AArch64.S2ApplyOutputPerms: pi_index
def pi_index(desc):
    """The permission index of a 64-bit page or block descriptor: bits 54, 53, 51, 6 (both stages)."""
    index = 0
    for bit in PI_INDEX_BITS:
        index = index << 1 | desc >> bit & 1
    return index


# J1.1.4.68 AArch64.S1ApplyOutputPerms / J1.1.4.70 AArch64.S2ApplyOutputPerms: pi_index read backwards
def pi_index_bits(index):
    """The descriptor bits that make permission index `index` (pi_index's inverse)."""
    return sum(1 << bit for k, bit in enumerate(PI_INDEX_BITS) if index >> (3 - k) & 1)


# J1.1.4.30 AArch64.S1IndirectBasePermissions / J1.1.4.39 AArch64.S2IndirectBasePermissions: Elem[pir, index, 4]
def pir_field(pir, index):
    """Elem[pir, index, 4]: the 4-bit encoding of one index of PIR_ELx, PIRE0_ELx or S2PIR_EL2."""
    return pir >> 4 * index & 0xF


# J1.1.4.30 AArch64.S1IndirectBasePermissions: one encoding's base permissions (the same table for
# PIR_ELx, privileged, and PIRE0_ELx, unprivileged)
@dataclass(frozen=True)
class S1Indirect:
    """r, w, x, gcs of one PIR or PIRE0 encoding; reserved: a reserved encoding (all 0);
    wxn: 0b0110 (read, write, and execute removed by WXN); overlay: encoding<3> = 0 (POE
    may apply)."""
    r: bool
    w: bool
    x: bool
    gcs: bool
    reserved: bool = False
    wxn: bool = False
    overlay: bool = False


# J1.1.4.30 AArch64.S1IndirectBasePermissions: one row of its table
def _s1(r, w, x, gcs=0, reserved=False):
    return r, w, x, gcs, reserved


_S1_ENCODINGS = {
    0b0000: _s1(0, 0, 0),               # no access
    0b0001: _s1(1, 0, 0),               # read
    0b0010: _s1(0, 0, 1),               # execute
    0b0011: _s1(1, 0, 1),               # read, execute
    0b0100: _s1(0, 0, 0, reserved=True),
    0b0101: _s1(1, 1, 0),               # read, write
    0b0110: _s1(1, 1, 1),               # read, write, execute, with WXN
    0b0111: _s1(1, 1, 1),               # read, write, execute
    0b1000: _s1(1, 0, 0),               # read (no overlay)
    0b1001: _s1(1, 0, 0, gcs=1),        # read and GCS: a Guarded Control Stack page
    0b1010: _s1(1, 0, 1),               # read, execute (no overlay)
    0b1011: _s1(0, 0, 0, reserved=True),
    0b1100: _s1(1, 1, 0),               # read, write (no overlay)
    0b1101: _s1(0, 0, 0, reserved=True),
    0b1110: _s1(1, 1, 1),               # read, write, execute (no overlay)
    0b1111: _s1(0, 0, 0, reserved=True),
}


# J1.1.4.30 AArch64.S1IndirectBasePermissions: the case over permissions.ppi / permissions.upi
def s1_indirect(encoding):
    """The S1Indirect of a 4-bit PIR_ELx or PIRE0_ELx encoding."""
    r, w, x, gcs, reserved = _S1_ENCODINGS[encoding]
    return S1Indirect(bool(r), bool(w), bool(x), bool(gcs), reserved, wxn=encoding == 0b0110,
                      overlay=not encoding & 0b1000)


# J1.1.4.27 AArch64.S1ComputePermissions's S1AccessControls with the indirect base permissions
@dataclass(frozen=True)
class S1IndirectPerms:
    """The stage 1 permissions of one access under PIE: r, w, x (WXN applied), gcs, and what
    decided them (for the rule a fault names)."""
    r: bool
    w: bool
    x: bool
    gcs: bool
    why: str


# J1.1.4.30 AArch64.S1IndirectBasePermissions, with J1.1.4.27 S1ComputePermissions's WXN (no overlays)
def s1_indirect_base_permissions(pir, pire0, desc, unprivileged, el0, pan):
    """AArch64.S1IndirectBasePermissions and S1ComputePermissions (no overlays: FEAT_S1POE is not
    modelled): the encodings PIR[index] (privileged) and, where the regime has EL0, PIRE0[index]
    (unprivileged); a location EL0 may write (or use as GCS) that EL1 may execute (or use as GCS)
    gets no permission at all; with FEAT_PAN, `pan` (PSTATE.PAN for an access PAN applies to)
    takes EL1's read and write wherever PIRE0 grants anything; the encoding 0b0110 removes
    execute (its WXN: SCTLR_ELx.WXN plays no part under PIE).  Table descriptors' hierarchical
    permissions are not applied under PIE (AArch64.S1Walk, J1.1.4.75)."""
    index = pi_index(desc)
    ppi = pir_field(pir, index)
    upi = pir_field(pire0, index) if unprivileged else 0b0000
    p, u = s1_indirect(ppi), s1_indirect(upi)
    pr, pw, px, pgcs = p.r, p.w, p.x, p.gcs
    ur, uw, ux, ugcs = u.r, u.w, u.x, u.gcs
    why = f"PI index {index}: PIR {ppi:#06b}" + (f", PIRE0 {upi:#06b}" if unprivileged else "")
    if (px or pgcs) and (uw or ugcs):
        pr = pw = px = pgcs = ur = uw = ux = ugcs = False
        why += " (EL0-writable and EL1-executable: no access)"
    if pan and upi != 0b0000:
        pr = pw = False
        why += " (PSTATE.PAN with PIRE0 granting access)"
    if el0:
        r, w, x, gcs, wxn = ur, uw, ux, ugcs, u.wxn
    else:
        r, w, x, gcs, wxn = pr, pw, px, pgcs, p.wxn
    return S1IndirectPerms(r, w, x and not wxn, gcs, why)


# J1.1.4.39 AArch64.S2IndirectBasePermissions: one S2PIR_EL2 encoding
@dataclass(frozen=True)
class S2Indirect:
    """r, w, px (EL1 execute), ux (EL0 execute) of one S2PIR_EL2 encoding; w_mmu: the write a stage
    1 walk's hardware update makes (MRO: granted where w is not); reserved: a reserved encoding."""
    r: bool
    w: bool
    px: bool
    ux: bool
    w_mmu: bool
    reserved: bool = False


_S2_ENCODINGS = {       # (r, w, px, ux, w_mmu)
    0b0000: (0, 0, 0, 0, 0),            # no access
    0b0001: (0, 0, 0, 0, 0),            # reserved
    0b0010: (1, 0, 0, 0, 1),            # MRO: read; writes by hardware updates of stage 1 only
    0b0011: (1, 0, 0, 0, 1),            # MRO-TL1
    0b0100: (0, 1, 0, 0, 0),            # write only
    0b0101: (0, 0, 0, 0, 0),            # reserved
    0b0110: (1, 0, 0, 0, 1),            # MRO-TL0
    0b0111: (1, 0, 0, 0, 1),            # MRO-TL01
    0b1000: (1, 0, 0, 0, 0),            # read only
    0b1001: (1, 0, 0, 1, 0),            # read, EL0 execute
    0b1010: (1, 0, 1, 0, 0),            # read, EL1 execute
    0b1011: (1, 0, 1, 1, 0),            # read, all execute
    0b1100: (1, 1, 0, 0, 1),            # read, write
    0b1101: (1, 1, 0, 1, 1),            # read, write, EL0 execute
    0b1110: (1, 1, 1, 0, 1),            # read, write, EL1 execute
    0b1111: (1, 1, 1, 1, 1),            # read, write, all execute
}


# J1.1.4.39 AArch64.S2IndirectBasePermissions: the case over permissions.s2pi
def s2_indirect(encoding):
    """The S2Indirect of a 4-bit S2PIR_EL2 encoding."""
    r, w, px, ux, w_mmu = (bool(b) for b in _S2_ENCODINGS[encoding])
    return S2Indirect(r, w, px, ux, w_mmu, reserved=encoding in (0b0001, 0b0101))


# J1.1.4.70 AArch64.S2ApplyOutputPerms with J1.1.4.39 AArch64.S2IndirectBasePermissions
def s2_indirect_base_permissions(s2pir, desc):
    """The S2Indirect of a stage 2 descriptor under S2PIE, and its S2PI index."""
    index = pi_index(desc)
    return s2_indirect(pir_field(s2pir, index)), index
