"""The stage 1 translation table walk (AArch64.S1Walk) and the checks made
before it (AArch64.VAIsOutOfRange, AArch64.S1TxSZFaults), for the EL1&0
regime: 4K, 16K and 64K granules, any start level from -1 to 3, the 48-bit,
FEAT_LPA and FEAT_LPA2 address formats, hierarchical attributes.
"""
from dataclasses import dataclass

from harness.model.descriptors import (
    DESC_AF, DESC_NT, FINAL_LEVEL, INVALID, TABLE, TABLE_AP, TABLE_PXN, TABLE_UXN, decode_descriptor_type, desc_oa,
)
from harness.model.registers import TTBR_BADDR, TTBR_BADDR_HI

# Every fault found before a descriptor is read is reported at level 0: AArch64.S1Translate's
# TxSZ, VA range and E0PD checks and AArch64.S1Walk's EPDn check set fault.level = 0, and
# D8.15 ("... the IA is outside the range specified by the associated TTBR_ELx, or FEAT_E0PD
# ... then the fault is reported as a level 0 fault"), R_VZZSZ, I_ZFSYQ and R_SXWGM say so too.
# (This model once also allowed the start level, after Linux KVM's reading of R_YYVYV; the
# review of the model against M.a.a showed the Arm ARM does not.)
# J1.3.5 FaultRecord of J1.1.4.75 AArch64.S1Walk (statuscode, level)
@dataclass(frozen=True)
class WalkFault:
    fault: str              # esr.FAULT_CLASSES
    levels: tuple           # the level, or the levels the architecture leaves open
    rule: str


# J1.3.5 TTWState of J1.1.4.75 AArch64.S1Walk's leaf (J1.1.4.73 S1NextWalkStateLeaf)
@dataclass(frozen=True)
class WalkState:
    """What a successful walk found (TTWState): the leaf descriptor, where it
    is, its level, its output address and the hierarchical attributes."""
    level: int
    desc: int
    desc_pa: int
    oa: int                 # the leaf's output address (AArch64.BlockBase), below-block bits clear
    aptable: int
    pxntable: bool
    uxntable: bool


# J1.3.5.84 TranslationSize (no D128)
def level_lsb(granule, level):
    """The lowest VA bit resolved at `level`: a block or page there maps 1 << lsb bytes."""
    return granule + (granule - 3) * (FINAL_LEVEL - level)


# J1.1.4.13 AArch64.S1StartLevel (no D128)
def s1_start_level(granule, txsz):
    """AArch64.S1StartLevel: the level whose table resolves the top VA bit."""
    return FINAL_LEVEL - ((64 - txsz) - 1 - granule) // (granule - 3)


# J1.1.4.21 AArch64.AddrTop
def addr_top(params, fetch):
    """AArch64.AddrTop: the top VA bit translated, 55 with TBI (for fetches only
    when TBID is 0), else 63."""
    return 55 if params.tbi and (not params.tbid or not fetch) else 63


# J1.1.4.44 AArch64.VAIsOutOfRange (no FEAT_MTE_NO_ADDRESS_TAGS: mtx 0)
def va_is_out_of_range(va, params, fetch):
    """AArch64.VAIsOutOfRange: VA bits [AddrTop:IASize] must be all 0 (lower
    range) or all 1 (upper range); a regime with one range (EL2 with E2H = 0)
    has only the lower, whatever VA bit 55."""
    top, iasize = addr_top(params, fetch), 64 - params.txsz
    if top < iasize:
        return False
    bits = va >> iasize & ((1 << (top - iasize + 1)) - 1)
    return bits != (((1 << (top - iasize + 1)) - 1) if params.upper and params.two_ranges else 0)


# J1.1.4.33 AArch64.S1TxSZFaults, with AArch64.S1Translate's clamp (J1.1.4.55).
def txsz_choices(params):
    """The TnSZ the walk uses (clamped to AArch64.S1MinTxSZ..AArch64.MaxTxSZ) and whether the
    check faults: (True,), (False,), or (True, False) where it is IMPLEMENTATION DEFINED (below
    the minimum without FEAT_LVA, above the maximum).  Below the minimum with FEAT_LVA it
    always faults (R_SXWGM)."""
    if params.txsz < params.mintxsz:
        return params.mintxsz, (True,) if params.feat_lva else (True, False)
    if params.txsz > params.maxtxsz:
        return params.maxtxsz, (True, False)
    return params.txsz, (False,)


# J1.1.4.11 AArch64.S1LeafBase / J1.1.4.9 NextTableBase: an IMPLEMENTATION DEFINED choice whether a
# 64KB-granule descriptor's bits[15:12] are OA[51:48] (below a 52-bit PA size)
def lpa_choices(params):
    """Whether descriptor bits[15:12] are OA[51:48] (params.lpa): yes with the 64K granule and a
    52-bit PAMax whatever IPS/PS (AArch64.S1LeafBase, AArch64.S2LeafBase, AArch64.NextTableBase);
    with 64K and a smaller PAMax IMPLEMENTATION DEFINED ("descriptor[15:12] for 64KB granule are
    OA[51:48]"; R_WDZFC: deprecated not to fault), so both; never with 4K or 16K."""
    if params.granule == 16 and params.pamax < 52:
        return (True, False)
    return (params.lpa,)


NT_RULE = ("a Block descriptor with the nT bit (bit 16) set, FEAT_BBML1 implemented: IMPLEMENTATION DEFINED "
           "\"nT bit causes Translation Fault\" (J1.1.4.71 AArch64.nTFaults; D8.7.3 R_MRRPW, D8.15 R_FDQJL), a "
           "Translation fault at the block's level before the output address and Access flag checks, or the block "
           "used")


# J1.1.4.71 AArch64.nTFaults: the IMPLEMENTATION DEFINED "nT bit causes Translation Fault" (no D128)
def nt_choices(params):
    """The implementation's choices of whether a block's nT bit faults: none without FEAT_BBML1
    (AArch64.nTFaults returns FALSE: bit 16 is RES0), either with it (params: WalkParams or S2Params).
    A walk under the choice True differs from one under False only where it meets such a block."""
    return (False, True) if params.bbml1 else (False,)


# J1.1.4.71 AArch64.nTFaults (no D128): descriptor<16> of a Block descriptor
def nt_faults(params, desc, level):
    """Whether the leaf desc found at level faults for its nT bit under the implementation's choice
    params.nt_faults (AArch64.S1Walk / S2Walk: walkstate.level < FINAL_LEVEL, a Block descriptor)."""
    return params.nt_faults and params.bbml1 and level < FINAL_LEVEL and bool(DESC_NT.get(desc))


# J1.1.4.24 AArch64.OAOutOfRange
def oa_out_of_range(params, address):
    """AArch64.OAOutOfRange: bits set at or above the output address size."""
    return address >> params.oasize != 0


# J1.1.4.14 AArch64.S1TTBaseAddress (no D128)
def s1_tt_base_address(params, txsz, start):
    """AArch64.S1TTBaseAddress: TTBRn_EL1.BADDR, aligned to the size of the
    start-level table (64 bytes at least with a 52-bit format)."""
    ttbr, granule = params.ttbr, params.granule
    stride = granule - 3
    tsize = (64 - txsz) - ((FINAL_LEVEL - start) * stride + granule) + 3
    base = TTBR_BADDR.get(ttbr) << 1
    if params.ttbr_wide:
        tsize = max(tsize, 6)
        base = base & ((1 << 48) - 1) | TTBR_BADDR_HI.get(ttbr) << 48
    return base & ~((1 << tsize) - 1)


# J1.1.4.12 AArch64.S1SLTTEntryAddress / J1.1.4.15 AArch64.S1TTEntryAddress (no D128)
def tt_entry_address(params, txsz, start, level, va, base):
    """AArch64.TTEntryAddress: the descriptor for va at level in the table at base."""
    lsb = level_lsb(params.granule, level)
    msb = (64 - txsz) - 1 if level == start else lsb + params.granule - 4
    index = va >> lsb & ((1 << (msb - lsb + 1)) - 1)
    return base | index << 3


# J1.1.4.75 AArch64.S1Walk (J1.1.4.95 AArch64.S1EPD, J1.1.4.72 S1InitialTTWState, J1.1.4.74 S1NextWalkStateTable).
# Simplified: no D128, HAFT, PIE; nT (J1.1.4.71) by params.nt_faults, the implementation's choice
def s1_walk(params, memory, va, txsz):
    """AArch64.S1Walk: the walk for va (already range-checked) with the given
    TnSZ; a WalkState, or a WalkFault of class translation, address_size or
    access_flag (the Access flag check is made here, with TCR_EL1.HA = 0).
    Raises UnknownMemory for a descriptor the memory does not hold."""
    start = s1_start_level(params.granule, txsz)
    if params.epd:
        # TCR_EL1.EPDn: a TLB miss makes no walk (I_ZFSYQ: a level 0 Translation fault).
        return WalkFault("translation", (0,), "TCR_EL1.EPDn = 1 (AArch64.S1Walk: fault.level = 0)")
    base = s1_tt_base_address(params, txsz, start)
    if oa_out_of_range(params, base):
        return WalkFault("address_size", (0,), "TTBRn_EL1 base address above the OA size "
                         "(AArch64.S1Walk: fault.level = 0)")
    aptable, pxntable, uxntable = 0, False, False
    level = start
    while True:
        desc_pa = tt_entry_address(params, txsz, start, level, va, base)
        desc = memory.read64(desc_pa)
        kind = decode_descriptor_type(params, desc, level)
        if kind == INVALID:
            return WalkFault("translation", (level,), "invalid descriptor (AArch64.DecodeDescriptorType, "
                             "AArch64.BlockDescSupported)")
        if kind != TABLE:
            break
        if not params.hpd:
            aptable |= TABLE_AP.get(desc)
            pxntable |= bool(TABLE_PXN.get(desc))
            uxntable |= bool(TABLE_UXN.get(desc))
        base = desc_oa(params, desc, params.granule)
        if oa_out_of_range(params, base):
            return WalkFault("address_size", (level,), "next-level table address above the OA size "
                             "(AArch64.S1Walk, AArch64.OAOutOfRange)")
        level += 1
    if nt_faults(params, desc, level):
        return WalkFault("translation", (level,), NT_RULE)
    oa = desc_oa(params, desc, level_lsb(params.granule, level))
    if oa_out_of_range(params, oa):
        return WalkFault("address_size", (level,), "output address above the OA size "
                         "(AArch64.S1Walk, AArch64.OAOutOfRange)")
    if not DESC_AF.get(desc) and not params.ha:
        return WalkFault("access_flag", (level,), "AF = 0 with TCR_EL1.HA = 0 (AArch64.S1Walk)")
    return WalkState(level, desc, desc_pa, oa, aptable, pxntable, uxntable)
