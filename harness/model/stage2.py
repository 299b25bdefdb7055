"""Stage 2 of the EL1&0 regime (HCR_EL2.VM = 1): AArch64.S2Translate over
AArch64.S1Translate.  Every stage 1 descriptor address is an IPA that stage 2
translates before the walk reads it (a fault there is a stage 2 fault with
S1PTW = 1), and the access's IPA is translated in turn: AArch64.S2Walk,
AArch64.S2CheckPermissions, AArch64.S2HasAlignmentFault, the descriptor
updates of VTCR_EL2.HA/HD (AF, and S2AP[1] through DBM), and the attributes
of both stages combined (S2CombineS1MemAttrs; with HCR_EL2.FWB = 1
S2ApplyFWBMemAttrs).

full_translate(regs, memory, access) (AArch64.FullTranslate) is the entry for both cases: stage 1 alone
(s1_translate) when HCR_EL2.VM = 0.  An AT S1E* whose stage 1 walk faults at
stage 2 is taken to EL2 as a Data Abort (_s2_abort).  Not modelled, said so
by an Unknown outcome: stage 1 hardware updates under stage 2.
"""
from dataclasses import dataclass, replace
from functools import lru_cache

from harness import esr, features, par
from harness.ops import AT_S12_OPS, LS_SYNDROME
from harness.model.attributes import (
    DEVICE_TYPES, NC, NORMAL_NC, SH_CODES, WB, WT, MemAttrs, decode_shareability, encode_par_attrs,
    par_encode_shareability, s1_decode_mem_attrs,
)
from harness.model.descriptors import (
    DESC_AF, DESC_CONTIG, DESC_DBM, DESC_NT, DESC_SH, FINAL_LEVEL, INVALID, TABLE, contiguous_size,
    decode_descriptor_type, desc_oa,
)
from harness.model.indirect import DESC_S2DIRTY, pir_field, s2_indirect_base_permissions
from harness.model.permissions import (
    DIRTY, IC_EL0_RULE, cache_maintenance_permissions, is_wb_shareable, s1_has_alignment_fault as s2_has_alignment_fault,
)
from harness.model.outcome import EC_DATA_ABORT_LOW, EC_INSTRUCTION_ABORT_LOW, Abort, Completes, Outcomes, Par, Unknown
from harness.model.registers import (
    HCR_TGE, IPS_BITS, MMFR1_XNX, MMFR2_BBM, MMFR2_ST, TCR_HA, TG0_GRANULE, max_txsz, pa_max, walk_params,
)
from harness.model.translate import (
    ACCESS_KINDS, ATOMIC_MMU_RULE, CMO_AF_RULE, FSC_UNSUPPORTED_ATOMIC, MASK64, PAGE_CROSSING_RULE, branch_addr,
    cache_maintenance_nop_rule, data_mem_zero_far, instruction_trap,
    hw_update_choices, s1_translate,
)
from harness.model.walk import NT_RULE, level_lsb, lpa_choices, nt_choices, nt_faults
from harness.esr import Field
from harness.geometry import s2_start_level

# The ID register fields stage 2's parameters depend on (harness/features.py names their places).
MMFR0_TGRAN4, MMFR0_TGRAN16 = Field(features.TGRAN4, 4), Field(features.TGRAN16, 4)
MMFR0_TGRAN4_2, MMFR0_TGRAN16_2 = Field(features.TGRAN4_2, 4), Field(features.TGRAN16_2, 4)
MMFR1_HAFDBS, MMFR2_FWB = Field(features.HAFDBS, 4), Field(features.FWB, 4)
SL_RULE = ("VTCR_EL2.SL0 (and SL2) name a start level the IPA size or the implemented PA size does not "
           "allow (AArch64.S2InvalidSL, AArch64.S2InconsistentSL): a Translation fault at level 0")
TXSZ_FAULT_RULE = ("VTCR_EL2.T0SZ below AArch64.S2MinTxSZ with FEAT_LPA: a Translation fault at level 0 "
                   "(AArch64.S2TxSZFaults)")
TXSZ_IMPDEF_RULE = ("VTCR_EL2.T0SZ outside AArch64.S2MinTxSZ..AArch64.MaxTxSZ: IMPLEMENTATION DEFINED "
                    "Translation fault at level 0 or the nearest limit used (AArch64.S2TxSZFaults, "
                    "AArch64.S2Translate's clamp)")
IPA_RANGE_RULE = "IPA above VTCR_EL2.T0SZ's input size: a Translation fault at level 0 (AArch64.IPAIsOutOfRange)"
VTTBR_RULE = ("VTTBR_EL2's base above the output size: an Address size fault at level 0 (AArch64.S2Walk, "
              "AArch64.S2OAOutOfRange)")
S2_LPA_RULE = ("stage 2 descriptor bits[15:12] with the 64K granule and PAMax below 52 bits: IMPLEMENTATION "
               "DEFINED whether they are OA[51:48] (AArch64.S2LeafBase, R_WDZFC)")
S2_AF_ON_S1_FAULT_RULE = ("with VTCR_EL2.HA, a stage 1 fault that does not permit the access may set the "
                          "stage 2 AF of the IPA stage 1 gave (permitted, not required: D8.5, I_MYQJN)")
MISALIGNED_BASE_RULE = ("VTTBR_EL2's base with RES0 bits below the start table's alignment set: CONSTRAINED "
                        "UNPREDICTABLE, the bits treated as 0 or the walk's address corrupted in them (K1.2.5)")
PTW_RULE = ("HCR_EL2.PTW = 1 and a stage 1 translation table in memory stage 2 makes Device: a stage 2 "
            "Permission fault (AArch64.S2CheckPermissions)")

# HCR_EL2, VTCR_EL2, VTTBR_EL2 (Arm ARM D24.2)
HCR_VM = Field(0, 1)
HCR_PTW = Field(2, 1)
HCR_DC = Field(12, 1)
HCR_CD = Field(32, 1)
HCR_ID = Field(33, 1)
HCR_FWB = Field(46, 1)
VTCR_T0SZ = Field(0, 6)
VTCR_SL0 = Field(6, 2)
VTCR_TG0 = Field(14, 2)
VTCR_PS = Field(16, 3)
VTCR_SH0 = Field(12, 2)
VTCR_VS = Field(19, 1)
VTCR_HA = Field(21, 1)
VTCR_HD = Field(22, 1)
VTCR_DS = Field(32, 1)
VTCR_SL2 = Field(33, 1)
VTCR_S2PIE = Field(36, 1)               # FEAT_S2PIE: stage 2 permissions through S2PIR_EL2
VTTBR_BADDR = Field(1, 47)
VTTBR_BADDR_HI = Field(2, 4)            # BADDR[51:48] with a 52-bit base (DS, or 64K with PS = 52)
VTTBR_VMID = Field(48, 16)
VTCR_TG0_GRANULE = TG0_GRANULE         # VTCR_EL2.TG0 encodes granules as TCR_EL1.TG0 does

# Stage 2 block and page attributes (kernel/pgtable-hwdef.h names them for the kernel)
S2_MEMATTR = Field(2, 4)
S2_AP = Field(6, 2)
S2_XN = Field(53, 2)
S2AP_W = 0b10 << S2_AP.shift    # S2AP[1]: write permission, the dirty state with DBM (FEAT_HAFDBS)

S2_DEVICE_RULE = "stage 2 MemAttr[3:2] = 0b00: Device memory of type MemAttr[1:0] (S2DecodeMemAttrs)"
S2_RESERVED_RULE = ("a reserved stage 2 MemAttr (Normal with MemAttr[1:0] = 0b00): CONSTRAINED UNPREDICTABLE "
                    "(S2DecodeMemAttrs)")
S2_FETCH_DEVICE_RULE = ("an instruction fetch from memory stage 2 makes Device: "
                        "ConstrainUnpredictable(Unpredictable_INSTRDEVICE): a stage 2 Permission fault, or the "
                        "fetch made as to Normal Non-cacheable memory")


# J1.1.4.88 AArch64.NSS2TTWParams: S2TTWParams, as the model reads them
@dataclass(frozen=True)
class S2Params:
    """S2TTWParams of VTCR_EL2 and VTTBR_EL2 (J1.1.4.88 AArch64.NSS2TTWParams), as the descriptor
    helpers of stage 1 read them (granule, ds, lpa, pamax), after AArch64.S2Translate's TxSZ check
    and clamp (t0sz is the value the walk uses)."""
    granule: int
    t0sz: int
    start: int              # None where the SL fields name no level
    base: int
    oasize: int             # AArch64.PhysicalAddressSize: Min(PS, PAMax), 48 at most with the 48-bit format
    pamax: int
    xnx: bool               # FEAT_XNX: XN[0] distinguishes EL1 from EL0 execution
    ha: bool = False        # VTCR_EL2.HA, HD: hardware Access flag and dirty state updates
    hd: bool = False
    fwb: bool = False       # HCR_EL2.FWB: stage 2 MemAttr in the FEAT_S2FWB encoding
    ds: bool = False        # VTCR_EL2.DS, where the granule has 52-bit stage 2 addresses (FEAT_LPA2)
    lpa: bool = False       # the 64K granule with a 52-bit PAMax: descriptor bits[15:12] are OA[51:48]
    sh: int = 0b11          # VTCR_EL2.SH0: the shareability of every block and page with DS
    bad_sl: bool = False    # AArch64.S2InvalidSL or AArch64.S2InconsistentSL
    txsz_faults: tuple = (False,)   # AArch64.S2TxSZFaults: (True,), (False,) or both (IMPLEMENTATION DEFINED)
    ptw: bool = False       # HCR_EL2.PTW (HCR_EL2.TGE = 0): walks into stage 2 Device memory fault
    s2pie: bool = False     # VTCR_EL2.S2PIE (FEAT_S2PIE): permissions through S2PIR_EL2 (indirect.py)
    s2pir: int = 0          # S2PIR_EL2
    misaligned: int = 0     # VTTBR_EL2's RES0 base bits below the start table's alignment that are set (K1.2.5)
    start_bits: tuple = (None,)     # s2_walk's start_bits choices for them (_start_bits_choices)
    bbml1: bool = False     # FEAT_BBML1 (ID_AA64MMFR2_EL1.BBM >= 1): a block's bit 16 is nT (walk.nt_choices)
    nt_faults: bool = False # the IMPLEMENTATION DEFINED "nT bit causes Translation Fault" (J1.1.4.71)


# J1.1.4.88 AArch64.NSS2TTWParams: IsFeatureImplemented(FEAT_LPA2) for DS, read per granule
# (ID_AA64MMFR0_EL1.TGranX_2)
def _s2_lpa2(granule, mmfr0):
    """Whether stage 2 has 52-bit addresses with this granule (ID_AA64MMFR0_EL1.TGranX_2 = 0b0011,
    or 0b0000 and stage 1's TGranX says so): VTCR_EL2.DS has its effect only there
    (AArch64.NSS2TTWParams: IsFeatureImplemented(FEAT_LPA2), read per granule)."""
    if granule == 12:
        field, stage1 = MMFR0_TGRAN4_2.get(mmfr0), MMFR0_TGRAN4.get(mmfr0) == 0b0001
    elif granule == 14:
        field, stage1 = MMFR0_TGRAN16_2.get(mmfr0), MMFR0_TGRAN16.get(mmfr0) == 0b0010
    else:
        return False
    return field == 0b0011 or field == 0 and stage1


# J1.1.4.40 AArch64.S2InvalidSL
def s2_invalid_sl(granule, sl0, sl2, ds, pamax, ttst):
    """Whether SL2:SL0 name no start level here, or one the implemented PA size does not allow
    (4K: 1x1, 11x never, 100 below 52 bits, 010 below 44, 011 without FEAT_TTST; 16K: 11 without
    DS or below 52 bits, 10 below 42; 64K: 11 never, 10 below 44)."""
    if granule == 12:
        if sl2:
            return sl0 != 0 or pamax < 52
        return {2: pamax < 44, 3: not ttst}.get(sl0, False)
    if granule == 14:
        return {3: not ds or pamax < 52, 2: pamax < 42}.get(sl0, False)
    return {3: True, 2: pamax < 44}.get(sl0, False)


# J1.1.4.38 AArch64.S2InconsistentSL
def s2_inconsistent_sl(granule, start, ipa_bits):
    """Whether the start level's table, up to 16 of them concatenated, does not resolve the IPA
    size exactly: at least one bit more than the levels below resolve, at most a stride and four
    bits (16 tables) more."""
    stride = granule - 3
    least = (3 - start) * stride + granule + 1
    return not least <= ipa_bits <= least + stride - 1 + 4


# J1.1.4.40 AArch64.S2InvalidSL || J1.1.4.38 AArch64.S2InconsistentSL, as J1.1.4.57 AArch64.S2Translate tests them
def s2_bad_start_level(granule, sl0, sl2, ds, ipa_bits, pamax, ttst=False):
    """AArch64.S2InvalidSL or AArch64.S2InconsistentSL (AArch64.S2Translate tests them together)."""
    return s2_invalid_sl(granule, sl0, sl2, ds, pamax, ttst) or s2_inconsistent_sl(
        granule, s2_start_level(granule, sl0, sl2), ipa_bits)


# J1.1.4.107 AArch64.S2MinTxSZ.  Simplified: EL1 is AArch64 (s1aarch64), no FEAT_D128.
def s2_min_txsz(granule, ds, pamax):
    """The smallest VTCR_EL2.T0SZ: 64 - PAMax, with a 52-bit PAMax 64 - 52 only for the 64K
    granule or DS (else 64 - 48)."""
    return 64 - ((52 if granule == 16 or ds else 48) if pamax == 52 else pamax)


# J1.1.4.43 AArch64.S2TxSZFaults
def s2_txsz_faults(t0sz, mintxsz, maxtxsz, feat_lpa):
    """Whether the T0SZ check faults: (True,), (False,), or (True, False) where it is
    IMPLEMENTATION DEFINED (below the minimum without FEAT_LPA, above the maximum)."""
    if t0sz < mintxsz:
        return (True,) if feat_lpa else (True, False)
    if t0sz > maxtxsz:
        return (True, False)
    return (False,)


# J1.1.4.19 AArch64.S2TTBaseAddress
def s2_tt_base_address(vttbr, granule, t0sz, start, wide):
    """VTTBR_EL2.BADDR aligned to the start table's size (concatenated tables included); with a
    52-bit base (wide: DS, or 64K with PS = 52 and FEAT_LPA) BADDR[51:48] from VTTBR_EL2[5:2]
    and at least 64-byte aligned."""
    base = VTTBR_BADDR.get(vttbr) << 1
    if wide:
        base = base & ((1 << 48) - 1) | VTTBR_BADDR_HI.get(vttbr) << 48
    return base & ~((1 << _s2_tsize(granule, t0sz, start, wide)) - 1)


# J1.1.4.19 AArch64.S2TTBaseAddress's tsize
def _s2_tsize(granule, t0sz, start, wide):
    """log2 of the start table's alignment: its size, concatenated tables included (64 bytes at
    least with a 52-bit base)."""
    tsize = (64 - t0sz) - level_lsb(granule, start) + 3
    return max(tsize, 6) if wide else tsize


# K1.2.5 Translation table base address alignment, of J1.1.4.19 AArch64.S2TTBaseAddress's base
def s2_tt_base_misaligned(vttbr, granule, t0sz, start, wide):
    """The bits of VTTBR_EL2's base address below the start table's alignment that are set
    (RES0, which AArch64.S2TTBaseAddress's Align drops): K1.2.5 lets them be treated as 0, or
    corrupt those bits of the walk's address (s2_walk's start_bits)."""
    low = VTTBR_BADDR.get(vttbr) << 1 & ((1 << _s2_tsize(granule, t0sz, start, wide)) - 1)
    return low & ~VTTBR_BADDR_HI.mask if wide else low


# J1.1.4.83 AArch64.GetS2TTWParams -> J1.1.4.88 AArch64.NSS2TTWParams, with AArch64.S2Translate's
# (J1.1.4.57) TxSZ clamp.  Simplified: no FEAT_D128, S2PIE, THE, HAFT, HDBSS; HCR_EL2.DC, CD and ID
# are refused (full_translate), so walkparams.vm is HCR_EL2.VM.
@lru_cache(maxsize=1024)
def s2_params(regs):
    """The stage 2 parameters, or None when HCR_EL2.VM = 0."""
    if not HCR_VM.get(regs.hcr):
        return None
    vtcr = regs.vtcr
    granule = VTCR_TG0_GRANULE.get(VTCR_TG0.get(vtcr), 12)
    pamax = pa_max(regs.mmfr0)
    ds = bool(VTCR_DS.get(vtcr)) and _s2_lpa2(granule, regs.mmfr0)
    sl0, sl2 = VTCR_SL0.get(vtcr), ds and granule == 12 and bool(VTCR_SL2.get(vtcr))
    ps_bits = IPS_BITS.get(VTCR_PS.get(vtcr), 52)
    ttst = MMFR2_ST.get(regs.mmfr2) == 0b0001
    mintxsz, maxtxsz = s2_min_txsz(granule, ds, pamax), max_txsz(granule, ttst)
    t0sz = VTCR_T0SZ.get(vtcr)
    txsz_faults = s2_txsz_faults(t0sz, mintxsz, maxtxsz, feat_lpa=pamax == 52)
    t0sz = min(max(t0sz, mintxsz), maxtxsz)
    bad_sl = s2_bad_start_level(granule, sl0, sl2, ds, 64 - t0sz, pamax, ttst)
    start = None if bad_sl else s2_start_level(granule, sl0, sl2)
    wide = ds or granule == 16 and ps_bits == 52 and pamax == 52
    base = 0 if bad_sl else s2_tt_base_address(regs.vttbr, granule, t0sz, start, wide)
    misaligned = 0 if bad_sl else s2_tt_base_misaligned(regs.vttbr, granule, t0sz, start, wide)
    hafdbs = MMFR1_HAFDBS.get(regs.mmfr1)
    return S2Params(granule=granule, t0sz=t0sz, start=start, base=base,
                    oasize=min(ps_bits, pamax, 52 if ds or granule == 16 else 48), pamax=pamax,
                    xnx=MMFR1_XNX.get(regs.mmfr1) >= 1,
                    ha=bool(VTCR_HA.get(vtcr)) and hafdbs >= 1, hd=bool(VTCR_HD.get(vtcr)) and hafdbs >= 2,
                    fwb=bool(HCR_FWB.get(regs.hcr)) and MMFR2_FWB.get(regs.mmfr2) >= 1,
                    ds=ds, lpa=granule == 16 and pamax >= 52, sh=VTCR_SH0.get(vtcr), bad_sl=bad_sl,
                    txsz_faults=txsz_faults, ptw=bool(HCR_PTW.get(regs.hcr)) and not HCR_TGE.get(regs.hcr),
                    misaligned=misaligned, start_bits=_start_bits_choices(misaligned),
                    s2pie=bool(VTCR_S2PIE.get(vtcr)), s2pir=regs.s2pir, bbml1=MMFR2_BBM.get(regs.mmfr2) >= 0b0001)


# J1.3.5 FaultRecord of a stage 2 fault (statuscode, level, ipaddress)
@dataclass(frozen=True)
class S2Fault:
    """A stage 2 fault: its status code, the IPA, and the rule; dirtybit: a Permission fault of the
    dirty state under S2PIE (FaultRecord.dirtybit); write: FaultRecord.write where the check sets it
    (an atomic's Permission fault: a write's unless a read would fault too)."""
    fsc: int
    ipa: int
    rule: str
    dirtybit: bool = False
    write: bool = None


# J1.1.4.79 AArch64.S2Walk's result: TTWState of the leaf and J1.3.5.77 StageOA
@dataclass(frozen=True)
class S2Leaf:
    level: int
    desc: int
    pa: int                 # the output address of the IPA
    desc_pa: int            # where the descriptor is (hardware updates write it)
    group_pa: int = None    # with the Contiguous bit misprogrammed: StageOA's address by the group


# J1.1.4.79 AArch64.S2Walk, with the checks of J1.1.4.57 AArch64.S2Translate before it (the TxSZ
# check where it always faults, J1.1.4.40/38 the SL checks, J1.1.4.23 AArch64.IPAIsOutOfRange).
def s2_walk(params, memory, ipa, start_bits=None):
    """AArch64.S2Walk of ipa: an S2Leaf or an S2Fault (Translation, Address size, Access flag
    with VTCR_EL2.HA = 0: with HA = 1 an AF = 0 descriptor is used and AArch64.S2Translate sets
    AF).  Every fault found before a descriptor is read is at level 0.  start_bits: with a
    misaligned VTTBR_EL2 base (params.misaligned), the value those bits of the start-level
    descriptor address take where K1.2.5 lets the walk's address be corrupted in them (None:
    the base's RES0 bits treated as 0).  Raises UnknownMemory."""
    if params.txsz_faults == (True,):
        return S2Fault(esr.fault_status("translation", 0), ipa, TXSZ_FAULT_RULE)
    if params.bad_sl:
        return S2Fault(esr.fault_status("translation", 0), ipa, SL_RULE)
    if ipa >> (64 - params.t0sz):
        return S2Fault(esr.fault_status("translation", 0), ipa, IPA_RANGE_RULE)
    level, base = params.start, params.base
    while True:
        lsb = level_lsb(params.granule, level)
        msb = (64 - params.t0sz) - 1 if level == params.start else lsb + params.granule - 4
        desc_pa = base | (ipa >> lsb & ((1 << (msb - lsb + 1)) - 1)) << 3
        if level == params.start and start_bits is not None:
            desc_pa = desc_pa & ~params.misaligned | start_bits
        if level == params.start and desc_pa >> params.oasize:
            return S2Fault(esr.fault_status("address_size", 0), ipa, VTTBR_RULE)
        desc = memory.read64(desc_pa)
        kind = decode_descriptor_type(params, desc, level)
        if kind == INVALID:
            return S2Fault(esr.fault_status("translation", level), ipa,
                           "invalid stage 2 descriptor (AArch64.S2Walk, AArch64.DecodeDescriptorType)")
        if kind != TABLE:
            break
        base = desc_oa(params, desc, params.granule)
        if base >> params.oasize:
            return S2Fault(esr.fault_status("address_size", level), ipa,
                           "next-level stage 2 table above the PA size (AArch64.S2Walk)")
        level += 1
    if nt_faults(params, desc, level):     # J1.1.4.71 AArch64.nTFaults, before the output address and AF
        return S2Fault(esr.fault_status("translation", level), ipa, NT_RULE)
    oa = desc_oa(params, desc, lsb)
    if oa >> params.oasize:
        return S2Fault(esr.fault_status("address_size", level), ipa,
                       "stage 2 output address above VTCR_EL2.PS / the PA size (AArch64.S2Walk)")
    if not DESC_AF.get(desc) and not params.ha:
        return S2Fault(esr.fault_status("access_flag", level), ipa, "stage 2 AF = 0 with VTCR_EL2.HA = 0")
    group = None
    if DESC_CONTIG.get(desc):       # StageOA: the group's address, where misprogramming makes it differ
        top = lsb + contiguous_size(params.granule, level)
        group = oa & ~((1 << top) - 1) | ipa & ((1 << top) - 1)
    pa = oa | ipa & ((1 << lsb) - 1)
    return S2Leaf(level, desc, pa, desc_pa, None if group in (None, pa) else group)


# J1.3.5.21 S2DecodeMemAttrs
def s2_decode_mem_attrs(memattr):
    """S2DecodeMemAttrs (HCR_EL2.FWB = 0): MemAttr[3:2] = 0b00 Device of type
    MemAttr[1:0]; else Normal, outer MemAttr[3:2] and inner MemAttr[1:0]
    (0b01 Non-cacheable, 0b10 Write-Through, 0b11 Write-Back)."""
    outer, inner = memattr >> 2, memattr & 0b11
    if outer == 0:
        return MemAttrs(device=DEVICE_TYPES[inner])
    if inner == 0:
        return MemAttrs(reserved=True)
    kinds = {0b01: NC, 0b10: WT, 0b11: WB}
    return MemAttrs(inner=(kinds[inner], 0, False), outer=(kinds[outer], 0, False))


_DEVICE_ORDER = ("nGnRnE", "nGnRE", "nGRE", "GRE")


# J1.3.5.18 S2CombineS1MemAttrs, one cache level, with J1.3.5.16 S2CombineS1AttrHints
def _combine_cacheability(s1, s2):
    """One cache level of S2CombineS1MemAttrs: the weaker of the two, stage 1's hints kept."""
    kind = NC if NC in (s1[0], s2[0]) else WT if WT in (s1[0], s2[0]) else WB
    return (kind, 0, False) if kind == NC else (kind, s1[1], s1[2])


# J1.3.5.18 S2CombineS1MemAttrs with J1.3.5.17 S2CombineS1Device
def s2_combine_mem_attrs(s1, s2):
    """S2CombineS1MemAttrs: Device if either stage is (the more restrictive
    type), else Normal with each cache level the weaker of the two."""
    if s1.reserved or s2.reserved:
        return MemAttrs(reserved=True)
    if s1.is_device or s2.is_device:
        types = [m.device for m in (s1, s2) if m.is_device]
        return MemAttrs(device=min(types, key=_DEVICE_ORDER.index))
    return MemAttrs(inner=_combine_cacheability(s1.inner, s2.inner),
                    outer=_combine_cacheability(s1.outer, s2.outer))


_SH_ORDER = ("non", "inner", "outer")


# J1.1.4.45 AArch64.S2ApplyFWBMemAttrs, MemAttr[1:0] = 0b10 (one cache level)
def _force_write_back(s1_level, s1_is_normal):
    """One cache level forced Write-Back (S2ApplyFWBMemAttrs, MemAttr[1:0] = 0b10): stage 1's
    allocation hints kept where stage 1 is Normal and cacheable there, else read/write-allocate."""
    if s1_is_normal and s1_level[0] != NC:
        return (WB, s1_level[1], s1_level[2])
    return (WB, 0b11, False)


# J1.1.4.45 AArch64.S2ApplyFWBMemAttrs
def s2_apply_fwb_mem_attrs(s1, memattr):
    """AArch64.S2ApplyFWBMemAttrs (HCR_EL2.FWB = 1): the final attributes from stage 1's (s1)
    and stage 2's MemAttr.  MemAttr[2] = 0: Device of type MemAttr[1:0], the more restrictive
    of the two where stage 1 is Device too; MemAttr[2] = 1 and MemAttr[1:0] = 0b11: stage 1's
    attributes; 0b10: Normal Write-Back whatever stage 1 says (Device included); 0b01: Normal
    Non-cacheable, unless stage 1 is Device (0b00 too: the ASL's last branch).  MemAttr[3] is
    RES0 (the suite's CPUs: no FEAT_MTE_PERM), left open (reserved), as is a stage 1 encoding
    that is."""
    if memattr & 0b1000 or s1.reserved:
        return MemAttrs(reserved=True)
    if not memattr & 0b0100:
        s2_device = DEVICE_TYPES[memattr & 0b11]
        types = [s2_device] + ([s1.device] if s1.is_device else [])
        return MemAttrs(device=min(types, key=_DEVICE_ORDER.index))
    if memattr & 0b11 == 0b11:
        return s1
    if memattr & 0b11 == 0b10:
        normal = not s1.is_device
        return MemAttrs(inner=_force_write_back(s1.inner, normal), outer=_force_write_back(s1.outer, normal))
    return s1 if s1.is_device else NORMAL_NC


# J1.1.4.34 AArch64.S2CheckPermissions with J1.1.4.36 AArch64.S2DirectBasePermissions or J1.1.4.39
# S2IndirectBasePermissions, J1.1.4.70 S2ApplyOutputPerms. Simplified: no overlays, THE, AssuredOnly
def s2_permits(params, desc, acc):
    """AArch64.S2CheckPermissions: (permitted, rule) for the access: S2AP[0]
    reads, S2AP[1] writes (or, with VTCR_EL2.HA = HD = 1, DBM: the walk state
    of a writable-clean descriptor already permits the write that makes it
    dirty); execution by XN[1] (with FEAT_XNX, XN[1:0]: 0b01 not at EL1, 0b11
    not at EL0).  Stage 2 has no EL0/EL1 distinction for data.  Under S2PIE: s2_indirect_permits."""
    if params.s2pie:
        return s2_indirect_permits(params, desc, acc)
    s2ap, xn = S2_AP.get(desc), S2_XN.get(desc)
    if acc.fetch:
        if params.xnx:
            executable = {0b00: True, 0b01: acc.el0, 0b10: False, 0b11: not acc.el0}[xn]
        else:
            executable = not xn & 0b10
        return executable, "stage 2 execute permission (XN; AArch64.S2CheckPermissions)"
    if acc.read and not s2ap & 0b01:
        return False, "stage 2 read permission (S2AP[0]; AArch64.S2CheckPermissions)"
    if acc.write and not s2ap & 0b10 and not (params.ha and params.hd and DESC_DBM.get(desc)):
        return False, "stage 2 write permission (S2AP[1], DBM with VTCR_EL2.HD; AArch64.S2CheckPermissions)"
    return True, ""


# J1.1.4.34 AArch64.S2CheckPermissions with walkparams.s2pie = 1 (J1.1.4.39 S2IndirectBasePermissions)
def s2_indirect_permits(params, desc, acc):
    """AArch64.S2CheckPermissions under S2PIE: (permitted, rule).  A fetch needs the S2PI index's
    execute for its EL (px at EL1, ux at EL0); a stage 1 walk's read (AccessType_TTW) and any read
    need r; a write needs w, then (s2_dirty_fault) a Dirty descriptor (bit 7) where hardware does
    not manage the dirty state."""
    perms, index = s2_indirect_base_permissions(params.s2pir, desc)
    why = f"S2PI index {index}: S2PIR {pir_field(params.s2pir, index):#06b}"
    if acc.fetch:
        return (perms.ux if acc.el0 else perms.px), f"stage 2 execute permission under S2PIE ({why}; " \
                                                     "AArch64.S2IndirectBasePermissions)"
    if acc.read and not perms.r:
        return False, f"stage 2 read permission under S2PIE ({why}; AArch64.S2CheckPermissions)"
    if acc.write and not perms.w:
        return False, f"stage 2 write permission under S2PIE ({why}; AArch64.S2CheckPermissions)"
    if s2_dirty_fault(params, desc, acc):
        return False, S2_DIRTY_RULE
    return True, ""


# J1.1.4.34 AArch64.S2CheckPermissions' AccessType_DC and AccessType_IC branches
def s2_cache_maintenance_checks(params, desc, acc):
    """[(faults, rule)] of a DC or IC by VA at stage 2, by the branches stage 1 has too
    (permissions.cache_maintenance_permissions): r and w from S2AP (w also through DBM with VTCR_EL2.HA and HD, the
    walk state's) or, under S2PIE, from the S2PI index; DC IVAC's dirty-state fault under S2PIE where the
    descriptor's Dirty bit is 0 and walkparams.hd is 0.  Stage 2 tells EL0 from EL1 here (accdesc.el), unlike
    for loads and stores."""
    if params.s2pie:
        perms = s2_indirect_base_permissions(params.s2pir, desc)[0]
        r, w = perms.r, perms.w
        clean = not (params.ha and params.hd) and not DESC_S2DIRTY.get(desc)
    else:
        s2ap = S2_AP.get(desc)
        r, w, clean = bool(s2ap & 0b01), bool(s2ap & 0b10 or params.ha and params.hd and DESC_DBM.get(desc)), False
    return cache_maintenance_permissions(acc, r, w, clean, "AArch64.S2CheckPermissions")


S2_DIRTY_RULE = ("a write to a clean location (Dirty = 0) under S2PIE with the dirty state managed by software "
                 "(VTCR_EL2.HD = 0): a Permission fault, DirtyBit = 1 (AArch64.S2CheckPermissions)")


# J1.1.4.34 AArch64.S2CheckPermissions: the branch that sets fault.dirtybit
def s2_dirty_fault(params, desc, acc):
    """Whether a write that S2PIR permits still faults for the dirty state: S2PIE, the descriptor's
    Dirty bit (7) clear, and VTCR_EL2.HA and HD not both 1.  AT S12E1W and S12E0W too."""
    return (params.s2pie and acc.write and not (params.ha and params.hd) and not DESC_S2DIRTY.get(desc)
            and s2_indirect_base_permissions(params.s2pir, desc)[0].w)


# J1.1.4.57 AArch64.S2Translate's (FaultRecord, AddressDescriptor) of one permitted choice
@dataclass(frozen=True)
class _S2Result:
    """The stage 2 translation of one IPA for an access: pa, memattrs and shareabilities, or fault;
    the descriptor updates it makes either way."""
    pa: int = None
    memattrs: MemAttrs = None
    shares: tuple = ()
    fault: S2Fault = None
    updates: tuple = ()
    rule: str = ""          # the rule of a choice among permitted updates


# J1.1.4.57 AArch64.S2Translate's AF (J1.1.4.59 SetAccessFlag) and S2AP[1] (J1.1.4.60 SetDirtyState) updates
def _s2_updates(params, leaf, acc, fault_class):
    """The descriptor updates of AArch64.S2Translate: AF with VTCR_EL2.HA, and S2AP[1] set
    by a write through a DBM descriptor with HA and HD (never for AT)."""
    desc = leaf.desc
    dirty = None
    # AArch64.SetDirtyState(walkparams.hd, walkparams.s2pie OR descriptor<51>, ...): under S2PIE every
    # descriptor takes the update, setting Dirty (bit 7, where S2AP[1] is without S2PIE).
    if (params.ha and params.hd and (params.s2pie or DESC_DBM.get(desc)) and not desc & S2AP_W and acc.write
            and not acc.at):
        dirty = desc | S2AP_W
    return hw_update_choices(leaf.desc_pa, desc, params.ha, dirty, acc, fault_class)


S2_CONTIG_RULE = ("a stage 2 Contiguous-bit entry whose output address is not its place in an aligned group: "
                  "misprogramming of the Contiguous bit, CONSTRAINED UNPREDICTABLE (StageOA or the entry's own OA)")


# J1.1.4.57 AArch64.S2Translate, with J1.1.4.34 AArch64.S2CheckPermissions and J1.1.4.37
# AArch64.S2HasAlignmentFaultDueToMemType (S1HasAlignmentFaultDueToMemType's branches, with
# S2DCacheEnabled).  Simplified: no D128, S2PIE, overlays, MTE, LS64, atomics
# (the kernel issues none); a descriptor update that fails (AArch64.MemSwapTableDesc) is not modelled:
# the model's memory never changes under a walk.
def s2_translate(params, memory, ipa, acc, aligned=True, s1_attr=None):
    """AArch64.S2Translate of one IPA for an access (its checks in the ASL's order: TxSZ, SL and
    IPA range, walk, alignment, permissions, then the descriptor updates): a list of _S2Result, one
    per permitted outcome, each with the rules of the choices made.  s1_attr: stage 1's attributes
    (MAIR format; None: open), which with HCR_EL2.FWB = 1 the walk's attributes already combine
    (S2ApplyFWBMemAttrs); without FWB stage 2's own, combined afterwards (_combine)."""
    prior = []      # the rules of the choices made before the walk
    results = []
    if params.txsz_faults == (True, False):     # IMPLEMENTATION DEFINED: the fault, or the clamped T0SZ
        results.append(_S2Result(fault=S2Fault(esr.fault_status("translation", 0), ipa, TXSZ_IMPDEF_RULE),
                                 rule=TXSZ_IMPDEF_RULE))
        prior.append(TXSZ_IMPDEF_RULE)
    if params.misaligned:
        prior.append(MISALIGNED_BASE_RULE)
    for start_bits in params.start_bits:
        # J1.1.4.71 AArch64.nTFaults: with FEAT_BBML1, both of the implementation's choices for a block's nT bit
        # (IMPLEMENTATION DEFINED), where they differ.
        leaves = {s2_walk(params, memory, ipa, start_bits): params}
        if nt_choices(params) != (False,) and _may_be_nt(next(iter(leaves))):
            nt = replace(params, nt_faults=True)
            leaves.setdefault(s2_walk(nt, memory, ipa, start_bits), nt)
        for leaf, walked in leaves.items():
            results += _s2_translate_from(walked, memory, ipa, acc, aligned, s1_attr, start_bits, leaf,
                                          prior + [NT_RULE] if len(leaves) > 1 else prior)
    return list(dict.fromkeys(results))


# J1.1.4.71 AArch64.nTFaults: whether a stage 2 walk's answer may change under the choice that the nT bit faults
def _may_be_nt(leaf):
    """Whether s2_walk's answer is a block whose nT bit the implementation's choice may make fault: a leaf above
    the last level with bit 16 set, or a fault there after the nT check (the output address or the Access flag,
    whose descriptor the fault does not give)."""
    if isinstance(leaf, S2Fault):
        fault, level = esr.decode_fsc(leaf.fsc)
        return fault in ("address_size", "access_flag") and level is not None and level < FINAL_LEVEL
    return leaf.level < FINAL_LEVEL and bool(DESC_NT.get(leaf.desc))


# K1.2.5 Translation table base address alignment: the first address of J1.1.4.79 AArch64.S2Walk
def _start_bits_choices(misaligned):
    """s2_walk's start_bits choices for a VTTBR_EL2 base with the RES0 bits `misaligned` set:
    None (the bits treated as 0), and every value of those bits (the walk's address corrupted
    in them)."""
    if not misaligned:
        return (None,)
    bits = [1 << b for b in range(64) if misaligned >> b & 1]
    return (None, *(sum(b for k, b in enumerate(bits) if n >> k & 1) for n in range(1 << len(bits))))


# J1.1.4.57 AArch64.S2Translate from its AArch64.S2Walk on
def _s2_translate_from(params, memory, ipa, acc, aligned, s1_attr, start_bits, leaf, prior):
    """s2_translate's results from the walk on (leaf: s2_walk's answer under params and start_bits), after
    the choices whose rules are `prior`: the walk's fault, or the alignment and permission checks and the
    updates."""
    if isinstance(leaf, S2Fault) and acc.cacheop and esr.decode_fsc(leaf.fsc)[0] == "access_flag":
        # AArch64.S2Walk: AF = 0 (HA = 0) faults a DC or IC only where IMPLEMENTATION DEFINED; else the walk goes on
        # as if AF were 1, with no update (the checks below read params' HA = 0).
        prior = [*prior, CMO_AF_RULE]
        return ([_S2Result(fault=replace(leaf, rule=CMO_AF_RULE), rule="; ".join(prior))]
                + _s2_after_walk(params, s2_walk(replace(params, ha=True), memory, ipa, start_bits), ipa, acc, aligned,
                                 s1_attr, prior))
    if isinstance(leaf, S2Fault):
        return [_S2Result(fault=leaf, rule="; ".join(prior))]
    return _s2_after_walk(params, leaf, ipa, acc, aligned, s1_attr, prior)


# J1.1.4.57 AArch64.S2Translate after its AArch64.S2Walk: J1.1.4.37 S2HasAlignmentFaultDueToMemType, J1.1.4.34
# S2CheckPermissions, the updates, StageOA
def _s2_after_walk(params, leaf, ipa, acc, aligned, s1_attr, prior):
    """_s2_translate_from's results of the leaf the walk found."""
    if params.fwb:
        s1 = MemAttrs(reserved=True) if s1_attr is None else s1_decode_mem_attrs(s1_attr)
        memattrs = s2_apply_fwb_mem_attrs(s1, S2_MEMATTR.get(leaf.desc))
    else:
        memattrs = s2_decode_mem_attrs(S2_MEMATTR.get(leaf.desc))
    # With DS, bits[9:8] hold OA[51:50] and VTCR_EL2.SH0 gives the shareability.
    shares = decode_shareability(params.sh if params.ds else DESC_SH.get(leaf.desc))
    # IsWBShareable(memattrs) && S2DCacheEnabled() (HCR_EL2.CD = 0: the model refuses CD = 1)
    wb_cached = all(is_wb_shareable(memattrs, sh) for sh in shares)
    # (fault or None, its class, the rule of a choice between outcomes)
    checks = []
    for alignment_fault, open_rule in s2_has_alignment_fault(acc, aligned, memattrs, wb_cached):
        if alignment_fault:
            checks.append((S2Fault(esr.fault_status("alignment", None), ipa, open_rule), "alignment", open_rule))
            continue
        if acc.cacheop:
            checks += [(S2Fault(esr.fault_status("permission", leaf.level), ipa, rule, dirtybit=faults == DIRTY)
                        if faults else None, "permission" if faults else None, rule if rule == IC_EL0_RULE else open_rule)
                       for faults, rule in s2_cache_maintenance_checks(params, leaf.desc, acc)]
            continue
        ok, rule = s2_permits(params, leaf.desc, acc)
        if acc.ttw and params.ptw and memattrs.is_device:
            ok, rule = False, PTW_RULE
        fault = S2Fault(esr.fault_status("permission", leaf.level), ipa, rule, dirtybit=rule == S2_DIRTY_RULE)
        if not ok and acc.atomic:
            fault = replace(fault, write=s2_permits(params, leaf.desc, replace(acc, write=False))[0])
        if not ok:
            checks.append((fault, "permission", open_rule))
        elif acc.fetch and memattrs.is_device:
            checks += [(replace(fault, rule=S2_FETCH_DEVICE_RULE), "permission", S2_FETCH_DEVICE_RULE),
                       (None, None, S2_FETCH_DEVICE_RULE)]
        elif acc.atomic and not all(is_wb_shareable(memattrs, sh) for sh in shares):
            # AArch64.S2Translate's last check, after its updates: Unpredictable_Atomic_MMU_IMPDEF_FAULT
            checks += [(S2Fault(FSC_UNSUPPORTED_ATOMIC, ipa, ATOMIC_MMU_RULE), None, ATOMIC_MMU_RULE),
                       (None, None, ATOMIC_MMU_RULE)]
        else:
            checks.append((None, None, open_rule))
    pas = [leaf.pa] if leaf.group_pa is None else [leaf.pa, leaf.group_pa]
    results = []
    for fault, fault_class, check_rule in checks:
        for updates, update_rule in _s2_updates(params, leaf, acc, fault_class):
            rule = "; ".join(r for r in (*prior, check_rule, update_rule,
                                         S2_CONTIG_RULE if len(pas) > 1 else "") if r)
            if fault is not None:
                results.append(_S2Result(fault=fault, updates=updates, rule=rule))
                continue
            results += [_S2Result(pa=pa, memattrs=memattrs, shares=shares, updates=updates, rule=rule) for pa in pas]
    return results


# J1.1.4.75 AArch64.S1Walk: a descriptor fetch (J1.3.5.69 FetchDescriptor) whose J1.1.4.57 AArch64.S2Translate faults
class WalkFaultedAtStage2(Exception):
    """A stage 1 descriptor read that faults at stage 2: the access ends there (results: the
    _S2Result of each permitted outcome, all faults)."""
    # J1.1.4.75 AArch64.S1Walk: the stage 2 fault of a descriptor fetch
    def __init__(self, results):
        super().__init__(results[0].fault)
        self.results = results


# J1.1.4.75 AArch64.S1Walk through a TLB's stage 2 entries: a choice the model does not follow (refused)
class WalkS2Uncertain(Exception):
    """A stage 1 descriptor read whose IPA the stage 2 translations a TLB may use (harness/model/tlb.py)
    translate differently: which table the walk reads is not modelled."""


# J1.1.4.75 AArch64.S1Walk / J1.3.5.69 FetchDescriptor under stage 2: each descriptor IPA through J1.1.4.57
# AArch64.S2Translate (AccessType_TTW)
class _Stage1WalkMemory:
    """The memory stage 1's walk reads: each descriptor address an IPA that
    stage 2 translates first, as a read (AArch64.S1Walk's descriptor fetch
    through AArch64.S2Translate); a stage 2 fault there ends the access.
    translate(ipa, acc, aligned) gives the stage 2 results (_S2Result) an IPA may have.
    updates: the stage 2 descriptor updates the walk's reads made (AF, with
    VTCR_EL2.HA: required for a read that does not fault), once each."""

    # J1.1.4.75 AArch64.S1Walk: descriptor fetches through J1.1.4.57 AArch64.S2Translate
    def __init__(self, translate, memory, cached=()):
        self.translate, self.memory, self.updates = translate, memory, ()
        self.cached = dict(cached)

    # J1.3.5.69 FetchDescriptor of a stage 1 descriptor at an IPA (J1.1.4.57 AArch64.S2Translate first), or a
    # stage 1 walk-cache TLBRecord's table descriptor (cached: {IPA: descriptor}), used as it was, no fetch made
    def read64(self, ipa):
        if ipa in self.cached:
            return self.cached[ipa]
        results = self.translate(ipa, _WALK_READ, True)
        # Faults that differ only in the rule that permits them are one outcome of the walk.
        if len({(r.pa, r.fault and (r.fault.fsc, r.fault.ipa)) for r in results}) > 1:
            raise WalkS2Uncertain(ipa)
        if results[0].fault is not None:
            raise WalkFaultedAtStage2(results)
        done = {pa for pa, _, _ in self.updates}
        self.updates += tuple(u for u in results[0].updates if u[0] not in done)
        return self.memory.read64(results[0].pa)


# J1.1.4.75 AArch64.S1Walk's descriptor fetches, with stage 2 where enabled
def s1_walk_memory(regs, memory, s1_tables=(), translate=None):
    """The memory a stage 1 walk of regs reads: memory itself, or under stage 2 through stage 2's
    walk of it (raises WalkFaultedAtStage2), but the walk-cache descriptors s1_tables (full_translate's).
    translate: s2_translate, or one memoised over the same arguments (harness/model/tlb.py)."""
    params = s2_params(regs)
    if params is None:
        return memory
    s2 = translate or s2_translate
    return _Stage1WalkMemory(lambda ipa, acc, aligned, s1_attr=None: s2(params, memory, ipa, acc, aligned),
                             memory, s1_tables)


_WALK_READ = replace(ACCESS_KINDS["load64"], ttw=True, pan=False)     # AccessType_TTW
# The stage 1 half of each two-stage AT (AArch64.AT: the same stage 1 checks).
_S1_OP = {op: op.replace("s12", "s1") for op in AT_S12_OPS}


# J1.1.2.4 AArch64.DataAbort / J1.1.2.6 AArch64.InstructionAbort with J1.1.3.1 AArch64.FaultSyndrome,
# for a stage 2 fault taken to EL2.
def _s2_abort(acc, far, fault, s1ptw, pamax, updates=()):
    """A stage 2 fault of a load, store or fetch, or of an AT S1E*'s stage 1 walk, taken to
    EL2, after the descriptor updates made.  WnR is the instruction's, also for a fault on its
    stage 1 walk (fault.write comes from the instruction's AccessDescriptor and survives
    AArch64.S2Translate; an atomic's is a read's, 0, but for a Permission fault of its write);
    an AT instruction's abort has CM = 1 and WnR = 1 (ESR_ELx.ISS: "for faults on
    cache maintenance and address translation instructions, this bit always returns a value
    of 1").  pamax: the implemented PA size, which bounds HPFAR_EL2.FIPA."""
    if acc.at:
        return Abort(ec=EC_DATA_ABORT_LOW, fsc=fault.fsc, wnr=True, s1ptw=s1ptw, far=far, stage=2, ipa=fault.ipa,
                     cm=True, updates=updates, pa_bits=pamax, rule=f"{fault.rule}; an AT S1E* whose stage 1 walk faults at "
                     "stage 2 is taken to EL2 as a Data Abort (Synchronous faults generated by address "
                     "translation instructions)")
    if acc.cacheop:
        # J1.1.3.1 AArch64.FaultSyndrome: AccessType_DC or AccessType_IC (the access's, on its stage 1 walk too),
        # CM = 1 and WnR = 1; no instruction syndrome (ISV = 0).
        return Abort(ec=EC_DATA_ABORT_LOW, fsc=fault.fsc, wnr=True, s1ptw=s1ptw, far=far, cm=True, rule=fault.rule,
                     stage=2, ipa=fault.ipa, updates=updates, pa_bits=pamax, dirtybit=fault.dirtybit)
    ec = EC_INSTRUCTION_ABORT_LOW if acc.fetch else EC_DATA_ABORT_LOW
    # J1.3.5 NoFault: write = !read && write, but where a Permission check set it; UNKNOWN for DFSC 0x35.
    if fault.fsc == FSC_UNSUPPORTED_ATOMIC:
        wnr = None
    elif fault.write is not None:
        wnr = fault.write
    else:
        wnr = acc.write and not acc.read
    return Abort(ec=ec, fsc=fault.fsc, wnr=wnr, s1ptw=s1ptw, far=far, rule=fault.rule,
                 stage=2, ipa=fault.ipa, updates=updates, pa_bits=pamax, dirtybit=fault.dirtybit)


# J1.1.3.11 AArch64.EncodePAR of a stage 2 fault (S = 1, PTW) of J1.1.3.10 AArch64.AT
def _s2_par(fault, s1ptw, updates=()):
    value = (fault.fsc << par.PAR_FST.shift | par.PAR_S.mask | (par.PAR_PTW.mask if s1ptw else 0)
             | fault.dirtybit << par.PAR_DIRTYBIT.shift | 1)
    return Par(value=value, mask=par.PAR_FAULT_FIELDS | par.PAR_DIRTYBIT.mask, rule=fault.rule, updates=updates)


# J1.3.5.18 S2CombineS1MemAttrs, J1.3.5.19 S2CombineS1Shareability, J1.3.5.3 PAREncodeShareability
def _combine(s1_attr, s1_sh, s2_memattrs, s2_sh, fwb):
    """The attribute byte and shareability (as PAR_EL1 reports them) of both stages
    combined: S2CombineS1MemAttrs (with HCR_EL2.FWB = 1, s2_memattrs are the combined
    ones already: S2ApplyFWBMemAttrs), and the more shareable of the two stages
    (S2CombineS1Shareability), reported outer for Device and Normal Non-cacheable
    (PAREncodeShareability).  None where either stage leaves it open."""
    if s1_attr is None:
        return None, None
    s1 = s1_decode_mem_attrs(s1_attr)
    memattrs = s2_memattrs if fwb else s2_combine_mem_attrs(s1, s2_memattrs)
    if memattrs.reserved:
        return None, None
    # Stage 1's shareability as PAR_EL1 reports it is outer for Device and Normal NC, which
    # S2CombineS1MemAttrs keeps Device or Non-cacheable: reported outer again, so nothing is lost.
    # FWB may make such memory cacheable: stage 1's shareability is then its descriptor's or its
    # effective one, IMPLEMENTATION DEFINED (AArch64.S1Translate), which the model leaves open.
    if s1_sh is None or fwb and (s1.is_device or s1.non_cacheable) and not (memattrs.is_device
                                                                          or memattrs.non_cacheable):
        return encode_par_attrs(memattrs), None
    return encode_par_attrs(memattrs), par_encode_shareability(memattrs, max(s1_sh, s2_sh, key=_SH_ORDER.index))


# J1.1.3.11 AArch64.EncodePAR: stage 1's ATTR in a PAR the model built
def _par_attr(value, mask):
    """Stage 1's attribute byte in a PAR_EL1 it leaves (None: open)."""
    return par.PAR_ATTR.get(value) if mask & par.PAR_ATTR.mask else None


# J1.1.3.10 AArch64.AT / J1.1.3.11 AArch64.EncodePAR of a two-stage AT that translates
def _combined_par(s1_value, s1_mask, result, fwb):
    """PAR_EL1 of a two-stage AT that translates: the final PA, the combined
    attributes and shareability."""
    s1_attr = _par_attr(s1_value, s1_mask)
    s1_sh = par.SH_NAMES[par.PAR_SH.get(s1_value)] if s1_mask & par.PAR_SH.mask else None
    outs = []
    for s2_sh in result.shares:
        attr, sh = _combine(s1_attr, s1_sh, result.memattrs, s2_sh, fwb)
        value, mask = result.pa & par.PAR_PA.mask, par.PAR_F.mask | par.PAR_PA.mask
        if attr is not None:
            value, mask = value | attr << par.PAR_ATTR.shift, mask | par.PAR_ATTR.mask
        if sh is not None:
            value, mask = value | SH_CODES[sh] << par.PAR_SH.shift, mask | par.PAR_SH.mask
        outs.append(Par(value=value, mask=mask, rule="AArch64.AT: S2ApplyFWBMemAttrs, PAREncodeShareability" if fwb
                        else "AArch64.AT: S2CombineS1MemAttrs, PAREncodeShareability"))
    return outs


# J1.1.4.88 AArch64.NSS2TTWParams fields the model refuses (HCR_EL2.DC, CD, ID) and stage 1 HW updates under stage 2
def _not_modelled(regs):
    """What of the registers the model does not cover under stage 2 (it refuses rather than guesses)."""
    if TCR_HA.get(regs.tcr):
        return "stage 1 hardware updates (TCR_EL1.HA) under stage 2"
    for field, name in ((HCR_DC, "HCR_EL2.DC"), (HCR_CD, "HCR_EL2.CD"), (HCR_ID, "HCR_EL2.ID")):
        if field.get(regs.hcr):
            return f"{name} = 1 (stage 2 cacheability controls)"
    return None


# J1.1.4.52 AArch64.FullTranslate
def full_translate(regs, memory, access, s2=None, s1_tables=()):
    """AArch64.FullTranslate: the Outcomes of one step in the EL1&0 regime, with stage 2 when HCR_EL2.VM = 1,
    each abort with its instruction syndrome where ISV = 1 (instruction_syndrome).
    s2(ipa, acc, aligned, s1_attr): the stage 2 results an IPA may have (a TLB's choice of stage 2 translations,
    harness/model/tlb.py); by default the stage 2 walk of regs and memory.  Where VTCR_EL2.T0SZ's check
    (AArch64.S2TxSZFaults) or the meaning of descriptor bits[15:12] (64K, PAMax below 52 bits:
    AArch64.S2LeafBase) is IMPLEMENTATION DEFINED, the implementation makes one choice for every
    translation: the outcomes of each, their union.  A misaligned VTTBR_EL2 base (K1.2.5) is taken
    the same way, one choice for every descriptor read of a translation (simplified: K1.2.5 allows
    a choice per read; a translation whose reads would choose differently is not modelled).
    s1_tables: (IPA, descriptor) of the stage 1 table descriptors a walk-cache entry gives, read as they
    were (harness/model/tlb.py), the levels below through stage 2 as they are."""
    trapped = instruction_trap(regs, access)
    if trapped is not None:
        return trapped
    outcomes = _stages(regs, memory, access, s2, s1_tables)
    if ACCESS_KINDS[access.op].dczero:
        outcomes = data_mem_zero_far(outcomes, access.va & MASK64)
    if ACCESS_KINDS[access.op].cacheop:
        # J1.1.3 AArch64.DC / AArch64.IC: the translation's PA goes to the cache, nothing is read or written.
        # Where the CPU may treat it as a NOP (J1.1.3.34 TreatDCAsNOP, J1.1.3.82 TreatICAsNOP), also nothing at all.
        nop = cache_maintenance_nop_rule(regs, ACCESS_KINDS[access.op])
        done = {replace(o, spans=()) if isinstance(o, Completes) else o for o in outcomes}
        outcomes = Outcomes(done | {Completes(pa=None, attr=None, sh=None)}, "; ".join(
            r for r in (nop, outcomes.rule) if r)) if nop else Outcomes(done, outcomes.rule)
    return Outcomes({instruction_syndrome(regs, access, o) for o in outcomes}, outcomes.rule)


# J1.1.4.52 AArch64.FullTranslate before J1.1.3.1 AArch64.FaultSyndrome: one set of stage 2 choices per implementation
def _stages(regs, memory, access, s2, s1_tables=()):
    """J1.1.4.52 AArch64.FullTranslate before the syndrome: stage 1, and stage 2 where enabled."""
    params = s2_params(regs)
    if params is None:
        if s1_tables:
            raise ValueError("stage 1 walk-cache entries without stage 2: tlb._CachedTables reads them")
        return s1_translate(regs, memory, replace(access, op=_S1_OP.get(access.op, access.op)))
    why = _not_modelled(regs)
    if ACCESS_KINDS[access.op].gcs:
        why = ("a GCS data access under stage 2 (R_FFJDX's memory-type abort at each stage or after both is "
               "IMPLEMENTATION DEFINED, and VTCR_EL2.GCSH's check, J1.1.4.34 AArch64.S2CheckPermissions)")
    if why:
        return Outcomes({Unknown(f"the model does not cover {why}")})
    variants = [replace(params, txsz_faults=(faults,), lpa=lpa, start_bits=(start,)) for faults in params.txsz_faults
                for lpa in lpa_choices(params) for start in params.start_bits]
    if s2 is None and len(variants) > 1:
        outcomes = [_full_translate(regs, memory, access, variant, None, s1_tables) for variant in variants]
        if all(set(o) == set(outcomes[0]) for o in outcomes):
            return outcomes[0]
        rules = [TXSZ_IMPDEF_RULE if len(params.txsz_faults) > 1 else
                 MISALIGNED_BASE_RULE if params.misaligned else S2_LPA_RULE] + [o.rule for o in outcomes if o.rule]
        return Outcomes(set().union(*outcomes), "; ".join(dict.fromkeys(rules)))
    return _full_translate(regs, memory, access, params, s2, s1_tables)


# J1.1.4.52 AArch64.FullTranslate with one choice of stage 2 parameters: J1.1.4.55 S1Translate, then J1.1.4.57
# S2Translate
def _full_translate(regs, memory, access, params, s2, s1_tables=()):
    """full_translate with the stage 2 parameters params."""
    translate = s2 or (lambda ipa, acc, aligned, s1_attr=None: s2_translate(params, memory, ipa, acc, aligned,
                                                                           s1_attr))
    acc = ACCESS_KINDS[access.op]
    if access.el == 0:
        acc = replace(acc, el0=True)    # an EL0 step: stage 2's XN[0] tells EL0 from EL1 (FEAT_XNX)
    # A fetch is from the PC the branch made (J1.3.3.261 AArch64.BranchAddr: a tag replaced), which a stage 2
    # abort's FAR reports as stage 1's does (harness.fuzz seed 20261201, case 3310).
    va = branch_addr(walk_params(regs, bool(access.va >> 55 & 1)), access.va) if acc.fetch else access.va
    two_stage_at = access.op in AT_S12_OPS
    walk_memory = _Stage1WalkMemory(translate, memory, s1_tables)
    rules = []
    try:
        first = s1_translate(regs, walk_memory, replace(access, op=_S1_OP.get(access.op, access.op)))
    except WalkS2Uncertain as e:
        return Outcomes({Unknown(f"the stage 1 walk reads IPA {e.args[0]:#x}, which the stage 2 translations a "
                                 "TLB may hold translate differently: not modelled")})
    except WalkFaultedAtStage2 as e:
        rules += [r.rule for r in e.results if len(e.results) > 1 and r.rule]
        updates = [walk_memory.updates + r.updates for r in e.results]
        faults = [_s2_par(r.fault, True, u) if two_stage_at else _s2_abort(acc, va, r.fault, True, params.pamax, u)
                  for r, u in zip(e.results, updates)]
        return Outcomes(set(faults), "; ".join(dict.fromkeys(rules)) or None)
    outcomes = set()
    if first.rule:
        rules.append(first.rule)
        translate = _one_choice_for_both_stages(translate, acc, first.rule)
    for outcome in first:
        outcome = replace(outcome, updates=walk_memory.updates + outcome.updates)
        if isinstance(outcome, Par):
            if not two_stage_at or par.PAR_F.get(outcome.value):
                outcomes.add(outcome)       # stage 1's PAR: the IPA (AT S1E*), or a stage 1 fault
                continue
            ipa = outcome.value & par.PAR_PA.mask | access.va & 0xFFF
            results = translate(ipa, acc, True, _par_attr(outcome.value, outcome.mask))
            rules += [r.rule for r in results if len(results) > 1 and r.rule]
            for result in results:
                updates = outcome.updates + result.updates
                if result.fault is not None:
                    outcomes.add(_s2_par(result.fault, False, updates))
                else:
                    outcomes.update(replace(p, updates=updates)
                                    for p in _combined_par(outcome.value, outcome.mask, result, params.fwb))
            continue
        if not isinstance(outcome, Completes):
            outcomes.add(outcome)           # a stage 1 abort, taken to EL1
            if isinstance(outcome, Abort) and outcome.before:
                outcomes.update(_earlier_pieces_aborts(translate, acc, va, outcome, rules, params.pamax))
                outcomes = {_written_at_pas(translate, acc, va, o) if o is outcome else o for o in outcomes}
            if isinstance(outcome, Abort) and outcome.outputs and params.ha:
                outcomes.update(_s2_af_beside_a_stage1_fault(translate, acc, outcome, rules))
            continue
        if not outcome.spans:
            outcomes.add(outcome)           # a NOP (K1.2.13): it accesses nothing, stage 2 translates nothing
            continue
        outcomes.update(_second_stage(translate, acc, va, outcome, rules, params))
    return Outcomes(outcomes, "; ".join(dict.fromkeys(rules)) or None)


# J1.1.4.75 AArch64.S1Walk and J1.1.4.79 AArch64.S2Walk ("Generate access flag fault on IC/DC operations"), J1.1.4.26
# and J1.1.4.34 S1/S2CheckPermissions ("Permission fault on EL0 IC_IVAU execution"): one IMPLEMENTATION DEFINED choice
def _one_choice_for_both_stages(translate, acc, s1_rule):
    """translate, for a DC or IC whose stage 1 made one of the IMPLEMENTATION DEFINED choices both stages share
    (its rule in s1_rule): stage 1 completes only where the implementation takes no fault, so its stage 2 takes
    none either (the results that fault by that choice left out)."""
    shared = [rule for rule in (CMO_AF_RULE, IC_EL0_RULE) if acc.cacheop and rule in s1_rule]
    if not shared:
        return translate

    # J1.1.4.57 AArch64.S2Translate, the results that fault by stage 1's choice left out
    def no_fault_by_choice(ipa, acc, aligned, s1_attr=None):
        return [r for r in translate(ipa, acc, aligned, s1_attr) if r.fault is None or r.fault.rule not in shared]
    return no_fault_by_choice


# D8.5 I_MYQJN (J1.1.4.57 AArch64.S2Translate's J1.1.4.59 SetAccessFlag of a translation stage 1 denied)
def _s2_af_beside_a_stage1_fault(translate, acc, outcome, rules):
    """With VTCR_EL2.HA, where stage 1 does not permit the access (a Permission or memory-type
    Alignment fault, after a walk that gave an IPA) "it is permitted, but not required, for the
    stage 2 AF to be updated" (I_MYQJN): the stage 1 abort, beside it as the model has it, with
    each Access flag update a stage 2 walk of that IPA would make (never a dirty update: nothing
    is accessed)."""
    extra = set()
    for ipa in outcome.outputs:
        for result in translate(ipa, acc, True, None):
            af = tuple((pa, old, old | DESC_AF.mask) for pa, old, new in result.updates
                       if new & DESC_AF.mask and not old & DESC_AF.mask)
            if af:
                extra.add(replace(outcome, updates=outcome.updates + af))
    if extra:
        rules.append(S2_AF_ON_S1_FAULT_RULE)
    return extra


# J1.1.3.112 Mem across a page boundary under stage 2 (J1.1.4.57 AArch64.S2Translate of the earlier pieces; B2.8.2)
def _earlier_pieces_aborts(translate, acc, va, outcome, rules, pamax):
    """An access that crosses pages "can generate an abort on either side of the page boundary"
    (Arm ARM B2.8, single-copy atomicity): beside a stage 1 fault on a later piece, the stage 2
    faults of the pieces before it (outcome.before), each with the updates made before it (and
    for a store the PA spans before it, Abort.written)."""
    spans, attr = outcome.before
    aborts, partial, offset = [], [((), outcome.updates)], 0
    for ipa, size in spans:
        pieces = translate(ipa, acc, acc.size == 0 or va % acc.size == 0, attr)
        rules += [p.rule for p in pieces if len(pieces) > 1 and p.rule]
        aborts += [replace(_s2_abort(acc, va + offset, p.fault, False, pamax, updates + p.updates),
                           written=done if acc.write else ())
                   for done, updates in partial for p in pieces if p.fault is not None]
        partial = [(done + ((p.pa, size),), updates + p.updates) for done, updates in partial for p in pieces
                   if p.fault is None]
        offset += size
    return aborts


# D1.4.1.4 (precise exceptions) of J1.1.3.112 Mem under stage 2: what a store's stage 1 abort on a later piece wrote
def _written_at_pas(translate, acc, va, outcome):
    """The stage 1 abort of a store's later piece with Abort.written the PAs stage 2 gives the pieces
    before it (every one a choice may give: their memory may be UNKNOWN after), not their IPAs."""
    if not outcome.written:
        return outcome
    spans, attr = outcome.before
    pas = tuple((p.pa, size) for ipa, size in spans
                for p in translate(ipa, acc, acc.size == 0 or va % acc.size == 0, attr) if p.fault is None)
    return replace(outcome, written=tuple(dict.fromkeys(pas)))


# J1.1.3.2 AArch64.InstructionSyndromeValid, J1.3.3.11 LSInstructionSyndrome
def instruction_syndrome(regs, access, outcome):
    """J1.1.3.2 AArch64.InstructionSyndromeValid: the outcome, an abort with ISV = 1 and the
    instruction's syndrome (J1.3.3.11 LSInstructionSyndrome) where it is valid: a stage 2 fault
    not on a stage 1 walk of a load or store of a single general-purpose register
    (harness.ops.LS_SYNDROME), on the access's lowest address (the first page of one that
    crosses pages; a fault on the next reports ISV = 0).  A stage 1 fault has ISV = 0, taken
    to EL1 or to EL2 alike (ESR_EL2.ISV: "For other faults reported in ESR_EL2, ISV is 0
    except for the following stage 2 aborts").  The model makes no External abort (ISV = 0
    with FEAT_RAS)."""
    if (isinstance(outcome, Abort) and outcome.stage == 2 and not outcome.s1ptw and access.op in LS_SYNDROME
            and outcome.far == access.va):
        return replace(outcome, syndrome=LS_SYNDROME[access.op])
    return outcome


# J1.1.4.52 AArch64.FullTranslate: J1.1.4.57 AArch64.S2Translate of each IPA an access (J1.1.3.112 Mem, piece by
# piece) reaches
def _second_stage(translate, acc, va, outcome, rules, params):
    """The stage 2 translation of a completed stage 1 access, span by span
    (an access that crosses pages has one IPA span per page, made in order):
    its aborts, and its completions with the final PAs, the combined
    attributes and the descriptor updates of every span."""
    partial = [((), outcome.updates)]   # PA spans so far, each with its stage 2 result; the updates made
    # Paths on which an earlier piece faulted: a later piece's fault may be the one reported (either
    # side's abort, B2.8.2), with the updates made on the way and the spans that did not fault.
    past_fault = []
    done, offset = [], 0
    for ipa, size in outcome.spans:
        pieces = translate(ipa, acc, acc.size == 0 or va % acc.size == 0, outcome.attr)
        rules += [p.rule for p in pieces if len(pieces) > 1 and p.rule]
        faults, other_side = ([replace(_s2_abort(acc, va + offset, p.fault, False, params.pamax, updates + p.updates),
                                       written=tuple((q.pa, n) for q, n in spans) if acc.write else ())
                               for spans, updates in paths for p in pieces if p.fault is not None]
                              for paths in (partial, past_fault))
        if other_side:
            rules.append(PAGE_CROSSING_RULE)
        done += faults + other_side
        past_fault = [(spans + ((p, size),) if p.fault is None else spans, updates + p.updates)
                      for spans, updates in past_fault for p in pieces] + \
                     [(spans, updates + p.updates) for spans, updates in partial for p in pieces if p.fault is not None]
        partial = [(spans + ((p, size),), updates + p.updates)
                   for spans, updates in partial for p in pieces if p.fault is None]
        offset += size
    for spans, updates in partial:
        first = spans[0][0]
        for share in first.shares:
            attr, sh = _combine(outcome.attr, outcome.sh, first.memattrs, share, params.fwb)
            done.append(replace(outcome, pa=first.pa, spans=tuple((p.pa, size) for p, size in spans), attr=attr,
                                sh=sh, updates=updates))
    return done
