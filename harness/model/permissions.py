"""Stage 1 permissions and alignment (AArch64.S1DirectBasePermissions,
AArch64.S1CheckPermissions, AArch64.S1HasAlignmentFaultDueToMemType, and Mem's
AArch64.UnalignedAccessFaults), for each access kind's AccessDescriptor."""
from dataclasses import dataclass

from harness.model.attributes import WB
from harness.model.descriptors import AP2, DESC_AP, DESC_DBM, DESC_PXN, DESC_UXN
from harness.model.indirect import DESC_NDIRTY, s1_indirect_base_permissions

# A Permission fault of the dirty state (FaultRecord.dirtybit): s1_check_permissions's third answer.
DIRTY = "dirty"

DEVICE_FETCH_RULE = ("an instruction fetch from Device memory: ConstrainUnpredictable(Unpredictable_INSTRDEVICE) "
                     "(AArch64.S1CheckPermissions): a Permission fault, or the fetch made as to Normal "
                     "Non-cacheable memory (B2.10.2)")


# J1.3.3 AccessDescriptor (the fields the checks read: read, write, acctype, el, pan; TTW; ispair;
# acqsc, acqpc, relsc)
@dataclass(frozen=True)
class AccessKind:
    """The parts of an AccessDescriptor the stage 1 checks read."""
    read: bool
    write: bool
    fetch: bool
    at: bool
    el0: bool              # checked as EL0: LDTR/STTR, AT S1E0*, and every access made at EL0
    size: int              # bytes a load or store moves (0: fetch, AT); a pair's two registers
    pan: bool = False      # accdesc.pan: PSTATE.PAN applies (EL1 loads and stores, AT S1E1RP/WP)
    ttw: bool = False      # AccessType_TTW: a stage 1 walk's descriptor read, translated by stage 2
    pair: bool = False     # accdesc.ispair: LDP/STP, aligned by one register (size / 2: J1.1.3.112 Mem)
    ordered: bool = False  # accdesc.acqsc, acqpc or relsc: LDAR, STLR, LDAXR, LDAPR, LDADDA, SWPL ...
    acqpc: bool = False    # accdesc.acqpc (FEAT_LRCPC's LDAPR: ordered too, by the same alignment rules)
    exclusive: bool = False     # accdesc.exclusive: LDXR, LDAXR, LDXP, LDAXP, STXR, STLXR
    atomic: bool = False   # accdesc.atomicop: LDADD, SWP, CAS (read and write)
    gcs: bool = False      # AccessType_GCS: GCSSTR, GCSSTTR (a GCS data access)
    dczero: bool = False   # AccessType_DCZero: DC ZVA (CreateAccDescDCZero: a write, pan; aligned to its block)
    # AccessType_DC or AccessType_IC by VA (CreateAccDescDC/IC: neither read nor write, no pan): harness.ops.CACHE_MAINT's
    # CacheOp ("clean", "clean_invalidate", "invalidate"; "ic": IC IVAU's invalidate)
    cacheop: str = None

    # J1.1.3.112 Mem: "Check alignment on size of element accessed, not overall access size"
    @property
    def alignment(self):
        """The size the address must be a multiple of to be aligned: one register of a pair (not of
        an exclusive pair)."""
        return self.size // 2 if self.pair and not self.exclusive else self.size


# J1.1.4.27 AArch64.S1ComputePermissions's S1AccessControls (r, w, x)
@dataclass(frozen=True)
class S1Perms:
    """S1AccessControls: read, write and execute for the access's EL."""
    r: bool
    w: bool
    x: bool


# J1.1.4.28 AArch64.S1DirectBasePermissions with J1.1.4.68/69 S1ApplyOutputPerms, S1ApplyTablePerms (and their
# walkparams.nv1 branch, FEAT_NV). Simplified: no FEAT_S1PIE/POE (indirect permissions, overlays), no GCS
def s1_direct_base_permissions(params, walk, el0, pan=False):
    """AArch64.S1DirectBasePermissions: AP[2:1] (with the dirty state: a
    writable-clean DBM page is writable when TCR_EL1.HA and HD are 1), then
    APTable, then PXN/UXN and PXNTable/UXNTable; a location EL0 can write is
    never executable at EL1; with FEAT_PAN, pan (PSTATE.PAN, for an access
    PAN applies to) takes read and write from EL1 where EL0 may read or write
    (or, with EPAN, execute); SCTLR_EL1.WXN removes execute from writable."""
    ap = DESC_AP.get(walk.desc)
    if params.ha and params.hd and DESC_DBM.get(walk.desc):
        ap &= ~AP2      # hardware dirty state: the walk state already permits the write (AArch64.S1Translate)
    if not params.unprivileged:
        return _one_privilege_permissions(params, walk, ap)
    aptable, pxn, pxntable, uxn, uxntable = \
        walk.aptable, DESC_PXN.get(walk.desc), walk.pxntable, DESC_UXN.get(walk.desc), walk.uxntable
    if params.nv1:
        # J1.1.4.68/69 with walkparams.nv1 (HCR_EL2.{NV, NV1} = {1, 1}; D24.2.62): AP[2:1] = desc<7>:'0' (no EL0
        # data access), PXN from desc<54> (UXN 0, desc<53> RES0), APTable = desc<62>:'0', PXNTable from desc<60>.
        ap &= AP2
        aptable, pxn, pxntable, uxn, uxntable = walk.aptable & 0b10, DESC_UXN.get(walk.desc), walk.uxntable, 0, 0
    pr, pw = True, not ap & AP2
    ur, uw = bool(ap & 0b01), ap == 0b01
    if aptable & 0b01:          # APTable[0]: no EL0 access below
        ur = uw = False
    if aptable & 0b10:          # APTable[1]: no write below
        pw = uw = False
    px = not (pxn or pxntable or uw)
    ux = not (uxn or uxntable)
    # PAN applies except to EL1&0 with walkparams.nv1 (the Effective PSTATE.PAN is 0 there, D24.2.62).
    if params.pan and pan and not params.nv1 and (ur or uw or params.epan and ux):
        pr = pw = False
    if el0:
        r, w, x = ur, uw, ux
    else:
        r, w, x = pr, pw, px
    if params.wxn and w:
        x = False
    return S1Perms(r, w, x)


# J1.1.4.28 AArch64.S1DirectBasePermissions where HasUnprivileged (J1.3.5) is FALSE: J1.1.4.68/69
def _one_privilege_permissions(params, walk, ap):
    """AArch64.S1DirectBasePermissions where HasUnprivileged(regime) is FALSE (EL2
    with E2H = 0): AArch64.S1ApplyOutputPerms reads AP[2:1] as desc<7>:'1' (AP[1]
    RES1, ignored) and XN from desc<54> (where EL1&0 has UXN; desc<53> is RES0),
    AArch64.S1ApplyTablePerms APTable as desc<62>:'0' and XNTable from desc<60>
    (PXNTable RES0).  Read-only by AP[2] or APTable[1]; executable unless XN or
    XNTable, or writable under SCTLR_EL2.WXN."""
    w = not ap & AP2 and not walk.aptable & 0b10
    x = not (DESC_UXN.get(walk.desc) or walk.uxntable)
    return S1Perms(True, w, x and not (params.wxn and w))


GCS_DIRECT_RULE = ("a GCS data access under the direct permission scheme: no encoding grants the gcs permission "
                   "without PIE (D11.5 I_MDFXL; AArch64.S1DirectBasePermissions leaves s1perms.gcs unset), so "
                   "AArch64.S1CheckPermissions faults it")


# J1.1.4.26 AArch64.S1CheckPermissions. Simplified: no overlays, atomics
def s1_check_permissions(params, walk, acc, memattrs, pan=False):
    """AArch64.S1CheckPermissions: the permission faults the access may take,
    as [(faults, rule)] where faults is True, False or DIRTY (a Permission fault
    of the dirty state under PIE: ESR_ELx.ISS2.DirtyBit, PAR_EL1.DirtyBit); two
    entries where the architecture leaves it open.  pan: PSTATE.PAN."""
    if params.pie:
        return _s1_check_indirect(params, walk, acc, memattrs, pan)
    if acc.gcs:
        return [(True, GCS_DIRECT_RULE)]
    perms = s1_direct_base_permissions(params, walk, acc.el0, pan and acc.pan)
    if acc.cacheop:
        return cache_maintenance_permissions(acc, perms.r, perms.w, False, cmow=params.cmow and acc.el0)
    if acc.fetch:
        if not perms.x:
            return [(True, "execute permission (PXN, PXNTable, EL0-writable; UXN, UXNTable at EL0; WXN; "
                           "AArch64.S1CheckPermissions)")]
        if memattrs.is_device:
            return [(True, DEVICE_FETCH_RULE), (False, DEVICE_FETCH_RULE)]
        return [(False, "")]
    if acc.read and not perms.r:
        return [(True, "read permission (AP[2:1], APTable, PAN; AArch64.S1CheckPermissions)")]
    if acc.write and not perms.w:
        return [(True, "write permission (AP[2:1], APTable, PAN; AArch64.S1CheckPermissions)")]
    return [(False, "")]


# J1.1.4.26 AArch64.S1CheckPermissions with walkparams.pie = 1: J1.1.4.30 S1IndirectBasePermissions (indirect.py).
# Simplified as s1_check_permissions (and no overlays: FEAT_S1POE is not modelled)
def _s1_check_indirect(params, walk, acc, memattrs, pan):
    """AArch64.S1CheckPermissions under PIE for a fetch, a load or store, or an AT: execute, read
    and write from the PI index's encodings; then a write (AT S1E1W and S1E0W too) to a clean
    location (nDirty, descriptor bit 7, set) where hardware does not manage the dirty state
    (walkparams.hd = 0: TCR_ELx.HA and HD not both 1) is a Permission fault of the dirty state."""
    perms = s1_indirect_base_permissions(params.pir, params.pire0, walk.desc, params.unprivileged, acc.el0,
                                         params.pan and pan and acc.pan)
    if acc.cacheop:
        return cache_maintenance_permissions(acc, perms.r, perms.w,
                                             not (params.ha and params.hd) and DESC_NDIRTY.get(walk.desc),
                                             cmow=params.cmow and acc.el0)
    if acc.gcs:
        # AccessType_GCS: the gcs permission alone (not r or w), then the dirty state of a write.
        if not perms.gcs:
            return [(True, f"GCS permission under PIE ({perms.why}; only the encoding 0b1001 grants it: "
                           "AArch64.S1IndirectBasePermissions, AArch64.S1CheckPermissions)")]
        if acc.write and not (params.ha and params.hd) and DESC_NDIRTY.get(walk.desc):
            return [(DIRTY, "a GCS write to a clean location (nDirty = 1) with the dirty state managed by software "
                            "(TCR_ELx.HD = 0): a Permission fault, DirtyBit = 1 (AArch64.S1CheckPermissions)")]
        return [(False, "")]
    if acc.fetch:
        if not perms.x:
            return [(True, f"execute permission under PIE ({perms.why}; AArch64.S1IndirectBasePermissions)")]
        if memattrs.is_device:
            return [(True, DEVICE_FETCH_RULE), (False, DEVICE_FETCH_RULE)]
        return [(False, "")]
    if acc.read and not perms.r:
        return [(True, f"read permission under PIE ({perms.why}; AArch64.S1IndirectBasePermissions)")]
    if acc.write and not perms.w:
        return [(True, f"write permission under PIE ({perms.why}; AArch64.S1IndirectBasePermissions)")]
    if acc.write and not (params.ha and params.hd) and DESC_NDIRTY.get(walk.desc):
        return [(DIRTY, "a write to a clean location (nDirty = 1) under PIE with the dirty state managed by "
                        "software (TCR_ELx.HD = 0): a Permission fault, DirtyBit = 1 (AArch64.S1CheckPermissions)")]
    return [(False, "")]


IC_EL0_RULE = ("IC IVAU at EL0 without read permission: a Permission fault or none, IMPLEMENTATION DEFINED "
               "(\"Permission fault on EL0 IC_IVAU execution\": the AccessType_IC branches of "
               "AArch64.S1CheckPermissions and AArch64.S2CheckPermissions, one choice for both stages)")


# J1.1.4.26 AArch64.S1CheckPermissions' and J1.1.4.34 AArch64.S2CheckPermissions' AccessType_DC and AccessType_IC
# branches (the same at both stages but for where CMOW applies: SCTLR_ELx.CMOW at stage 1 for EL0 alone,
# HCRX_EL2.CMOW at stage 2 for EL1 and EL0).  Simplified: no overlays (FEAT_S1POE, S2POE); HCRX_EL2.CMOW = 0
# (the kernel never sets it)
def cache_maintenance_permissions(acc, r, w, clean_under_pie, check="AArch64.S1CheckPermissions", cmow=False):
    """The Permission faults of a DC or IC by VA, [(faults, rule)]: a DC invalidate needs write permission at any EL
    (and under PIE a dirty location, clean_under_pie: nDirty = 1 with TCR_ELx.HD = 0, or at stage 2 Dirty = 0
    with VTCR_EL2.HD = 0, a dirty-state fault); a clean or clean and invalidate none from EL1 or EL2, read
    permission at EL0; IC IVAU none from EL1 or EL2, at EL0 without read permission a fault only where
    IMPLEMENTATION DEFINED.  With cmow (walkparams.cmow, FEAT_CMOW; at stage 1 it is asked at EL0 alone) a DC CIVAC
    and an IC IVAU need write permission too, and under PIE a dirty location, after the read checks.
    check: the function whose branches these are, for the rules (stage 1's or stage 2's)."""
    if acc.cacheop == "invalidate":
        if not w:
            return [(True, f"DC IVAC needs write permission ({check}, CacheOp_Invalidate)")]
        if clean_under_pie:
            return [(DIRTY, f"DC IVAC of a clean location under PIE with the dirty state managed by software: a "
                            f"Permission fault, DirtyBit = 1 ({check}, CacheOp_Invalidate)")]
        return [(False, "")]
    cmow_rule = (f"with CMOW (FEAT_CMOW), {'IC IVAU' if acc.cacheop == 'ic' else 'DC CIVAC'} needs write permission "
                 f"({check}, walkparams.cmow)")
    cmow_fault = cmow and acc.cacheop in ("ic", "clean_invalidate") and (not w or clean_under_pie)
    after_read = [(True if not w else DIRTY, cmow_rule)] if cmow_fault else [(False, "")]
    if not acc.el0 or r:
        return after_read
    if acc.cacheop == "ic":
        # Without the IMPLEMENTATION DEFINED read fault, CMOW's write check still comes.
        return list(dict.fromkeys([(True, IC_EL0_RULE), (after_read[0][0], IC_EL0_RULE)]))
    return [(True, f"DC CVAC or CIVAC at EL0 needs read permission ({check}, AccessType_DC)")]


ALIGNMENT_RULE = "SCTLR_ELx.A = 1 and the address not aligned (AArch64.UnalignedAccessFaults: AlignmentEnforced)"
GCS_ALIGNMENT_RULE = ("an unaligned GCS data access: always an Alignment fault (AArch64.UnalignedAccessFaults: "
                      "AccessType_GCS; D11.9 R_ZMNSV)")
ORDERED_16_RULE = ("a load-acquire or store-release not within one aligned 16-byte quantity, SCTLR_ELx.nAA = 0 "
                   "(AArch64.UnalignedAccessFaults; B2.8.2)")
ORDERED_NO_LSE2_RULE = ("an unaligned load-acquire or store-release without FEAT_LSE2: an Alignment fault "
                        "(B2.8.2.1.3; docs/model.md: J1.1.3.106 as written would let one within 16 bytes complete)")
ATOMIC_NO_LSE2_RULE = ("an unaligned exclusive or atomic access without FEAT_LSE2: an Alignment fault "
                       "(AArch64.UnalignedAccessFaults; B2.8.2.1.2)")
ATOMIC_16_RULE = ("an unaligned exclusive or atomic access not within one aligned 16-byte quantity: an Alignment "
                  "fault unless it lies within MemSingleGranule(), IMPLEMENTATION DEFINED \"Aligned quantity for "
                  "atomic access\" (16 to 4096 bytes) (AArch64.UnalignedAccessFaults, B2.8.2.1.2)")


# J1.1.3.112 Mem's alignment check: J1.1.3.106 AArch64.UnalignedAccessFaults with J1.3.3.266 AlignmentEnforced
# (SCTLR_ELx.A), J1.1.3.108 AllInAlignedQuantity and MemSingleGranule.  Simplified: no RCW or LS64 accesses
# (the kernel issues none)
def check_alignment(params, acc, va):
    """Mem's check before any translation (R_XCHFJ: above every MMU fault): (aligned, faults,
    rule), faults (True,), (False,) or (True, False) where the architecture leaves it open.
    aligned: the address is a multiple of one register's size (a pair's too: Mem checks the
    element).  An unaligned access faults with SCTLR_ELx.A = 1; an exclusive or atomic one
    without FEAT_LSE2, and with it when its bytes leave the aligned MemSingleGranule()
    (IMPLEMENTATION DEFINED, 16 to 4096 bytes: within 16 never, across 4096 always); a
    load-acquire or store-release with FEAT_LSE2 when its bytes are not within one aligned
    16-byte quantity and SCTLR_ELx.nAA = 0 (a pair: each register's), without FEAT_LSE2
    always (B2.8.2.1.3)."""
    aligned = acc.size == 0 or va % acc.alignment == 0
    if aligned:
        return True, (False,), ""
    if params.a:
        return False, (True,), ALIGNMENT_RULE
    if acc.gcs:
        return False, (True,), GCS_ALIGNMENT_RULE
    if acc.exclusive or acc.atomic:
        if not params.lse2:
            return False, (True,), ATOMIC_NO_LSE2_RULE
        if all_in_aligned_quantity(va, acc.size, 16):
            return False, (False,), ""
        return False, (True, False) if all_in_aligned_quantity(va, acc.size, 4096) else (True,), ATOMIC_16_RULE
    if acc.ordered:
        if not params.lse2:
            return False, (True,), ORDERED_NO_LSE2_RULE
        half = acc.size // 2
        pieces = ((va, half), (va + half, half)) if acc.pair else ((va, acc.size),)
        if not params.naa and not all(all_in_aligned_quantity(a, n, 16) for a, n in pieces):
            return False, (True,), ORDERED_16_RULE
    return False, (False,), ""


# J1.1.3.108 AllInAlignedQuantity
def all_in_aligned_quantity(address, size, alignment):
    """Whether the size bytes at address lie in one block of `alignment` bytes aligned to its size."""
    return address // alignment == (address + size - 1) // alignment


DEVICE_UNALIGNED_RULE = ("an unaligned access to Device memory: IMPLEMENTATION DEFINED whether the location "
                         "supports it (AArch64.S1HasAlignmentFaultDueToMemType, "
                         "AArch64.S2HasAlignmentFaultDueToMemType: \"Device location supports unaligned access\"; "
                         "B2.8.2): an Alignment fault, or the access made")
LSE2_ALIGNMENT_RULE = ("an unaligned exclusive, atomic, load-acquire or store-release access to memory other than "
                       "Normal Inner and Outer "
                       "Write-Back Shareable with the data cache on: ConstrainUnpredictableBool"
                       "(Unpredictable_LSE2_ALIGNMENT_FAULT) (AArch64.S1HasAlignmentFaultDueToMemType, "
                       "B2.8.2.1.3): an Alignment fault, or the access made")


# J1.1.4.29 AArch64.S1HasAlignmentFaultDueToMemType (and J1.1.4.37, its stage 2 twin, the same
# branches).  Simplified: no DC ZVA, tag or A32 accesses (the kernel issues none)
def s1_has_alignment_fault(acc, aligned, memattrs, wb_cached):
    """AArch64.S1HasAlignmentFaultDueToMemType: [(fault, rule)], one per outcome the
    architecture permits (rule: what leaves it open, where it is).  Never for an instruction
    fetch or an AT (no access).  An unaligned exclusive, atomic, load-acquire or store-release
    access (one Mem let through: FEAT_LSE2) faults or not, CONSTRAINED UNPREDICTABLE, unless wb_cached: the memory is Normal
    Inner and Outer Write-Back Shareable (IsWBShareable) and the stage's data cache is on
    (J1.1.4.91 S1DCacheEnabled: SCTLR_ELx.C; S2DCacheEnabled).  Then only Device memory faults: an unaligned access
    unless the location supports unaligned access, IMPLEMENTATION DEFINED per location (M.a.a;
    older revisions of the pseudocode made it an Alignment fault always).  A reserved MAIR
    encoding leaves the memory type open, so both."""
    if acc.dczero:
        # AccessType_DCZero: any Device memory (C5.3.38), whatever the alignment; a reserved MAIR encoding leaves it open.
        if memattrs.reserved:
            return [(True, DCZERO_DEVICE_RULE), (False, DCZERO_DEVICE_RULE)]
        return [(memattrs.is_device, DCZERO_DEVICE_RULE if memattrs.is_device else "")]
    if acc.fetch or acc.at or aligned:
        return [(False, "")]
    choices = []
    if (acc.ordered or acc.exclusive or acc.atomic) and not wb_cached:
        choices.append((True, LSE2_ALIGNMENT_RULE))
    if memattrs.reserved or memattrs.is_device:
        choices += [(True, DEVICE_UNALIGNED_RULE), (False, DEVICE_UNALIGNED_RULE)]
    elif choices:
        choices.append((False, LSE2_ALIGNMENT_RULE))
    else:
        choices.append((False, ""))
    return list(dict.fromkeys(choices))


DCZERO_DEVICE_RULE = ("DC ZVA to any type of Device memory: an Alignment fault, prioritized as the memory type's "
                      "(AArch64.S1HasAlignmentFaultDueToMemType / S2HasAlignmentFaultDueToMemType, AccessType_DCZero; "
                      "C5.3.38)")


# J1.3.5.12 IsWBShareable
def is_wb_shareable(memattrs, shareability):
    """IsWBShareable: Normal memory, Inner and Outer Write-Back, Inner or Outer Shareable."""
    return (not memattrs.is_device and not memattrs.reserved and memattrs.inner[0] == WB
            and memattrs.outer[0] == WB and shareability in ("inner", "outer"))
