"""AArch64.S1Translate for one access of the regime the steps run in (Registers.regime:
EL1&0, EL2's own, or EL2&0, whose checks are EL1&0's with EL2 for EL1): the VA range and
TxSZ checks, the walk, the memory-type alignment check, the permission check,
the hardware Access flag and dirty state updates, and the outcome in the
terms an observer sees (ESR_EL1 and FAR_EL1 for an abort, PAR_EL1 for AT)."""
from dataclasses import dataclass, replace

from harness import esr, features, par
from harness.ops import (
    ACQUIRE_RELEASE, AT_OPS, AT_S1E2_OPS, AT_S12_OPS, ATOMICS, CACHE_MAINT, DC_ZERO, EXCLUSIVE_LOADS,
    EXCLUSIVE_STORES, GCS_ACCESSES, GCS_EX_POPS, GCS_SWITCHES, LOADS,
    PAIRS, RCPC_LOADS, STORES, SYSTEM_OPS, UNPRIVILEGED_OPS, atomic_ordering, system_trap_iss,
)
from harness.model.attributes import (
    NORMAL_NC, SH_CODES, decode_shareability, encode_par_attrs, mair_attr, par_encode_shareability,
    s1_decode_mem_attrs,
)
from harness.model.descriptors import AP2, DESC_AF, DESC_AP, DESC_ATTRINDX, DESC_ATTRINDX3, DESC_CONTIG, DESC_DBM, \
    DESC_NT, DESC_SH, FINAL_LEVEL, contiguous_size
from harness.model.outcome import EC_PC_ALIGNMENT, EC_SYSTEM_TRAP, Unknown, Abort, Completes, Outcomes, Par, abort_class
from harness.model.permissions import (
    DIRTY, AccessKind, check_alignment, is_wb_shareable, s1_check_permissions, s1_has_alignment_fault,
)
from harness.model.registers import (
    HCR_TDZ, HCR_TPCP, HCR_TPU, REGIME_EL10, SCTLR_DZE, SCTLR_M, effective_nv1, walk_params,
)
from harness.model.walk import NT_RULE, WalkFault, level_lsb, lpa_choices, nt_choices, s1_walk, \
    txsz_choices, va_is_out_of_range

MASK64 = (1 << 64) - 1


# J1.3.3 AccessDescriptor of one step (op, VA, EL, PSTATE.PAN)
@dataclass(frozen=True)
class Access:
    """One step: op (a harness.cases op name), va, value (stores), the EL it
    runs at (el: 0 or 1; harness.cases EL0_OPS at 0), and PSTATE.PAN then."""
    op: str
    va: int
    value: int = 0
    el: int = 1
    pan: bool = False


# J1.3.3 AccessDescriptor of each op, as the instruction's decode builds it (CreateAccDescGPR,
# CreateAccDescAcqRel, CreateAccDescExLDST, CreateAccDescAtomicOp): PSTATE.PAN applies to EL1's own
# loads and stores and to AT S1E1RP/WP (accdesc.pan), never to fetches, AT S1E1R/W or S1E0*; to
# LDTR/STTR it makes no difference (checked as EL0).  A pair (ispair) moves two registers; LDAR and
# STLR are acqsc and relsc, LDAPR (FEAT_LRCPC) acqpc; LDXR exclusive, LDAXR exclusive and acqsc; an atomic
# reads and writes, acqsc and relsc as its ordering (LDADDA, LDADDL, LDADDAL ...; CreateAccDescAtomicOp);
# STXR and STXP a write, exclusive, STLXR and STLXP exclusive and relsc (CreateAccDescExLDST).
# GCSSTR, GCSSTTR and GCSPUSHM (J1.3.3 CreateAccDescGCS, MemOp_STORE): AccessType_GCS writes, GCSPOPM
# (MemOp_LOAD) an AccessType_GCS read, PAN not applied (NewAccDesc's pan), GCSSTTR unprivileged (el0) as STTR.
ACCESS_KINDS = {
    **{op: AccessKind(read=True, write=False, fetch=False, at=False, el0=op == "ldtr64", size=size,
                      pan=op not in GCS_ACCESSES, pair=op in PAIRS, ordered=op in ACQUIRE_RELEASE, acqpc=op in RCPC_LOADS,
                      exclusive=op in EXCLUSIVE_LOADS, gcs=op in GCS_ACCESSES)
       for op, size in LOADS.items() if op not in ATOMICS},
    **{op: AccessKind(read=True, write=True, fetch=False, at=False, el0=False, size=size, pan=True, atomic=True,
                      ordered=any(atomic_ordering(op))) for op, size in ATOMICS.items()},
    **{op: AccessKind(read=False, write=True, fetch=False, at=False, el0=op in UNPRIVILEGED_OPS, size=size,
                      pan=op not in GCS_ACCESSES, pair=op in PAIRS, ordered=op in ACQUIRE_RELEASE, gcs=op in GCS_ACCESSES,
                      exclusive=op in EXCLUSIVE_STORES, dczero=op in DC_ZERO)
       for op, size in STORES.items() if op not in GCS_SWITCHES and op not in CACHE_MAINT and op not in GCS_EX_POPS},
    # GCSPOPX and GCSPOPCX (J1.1.3.63, J1.1.3.53 CheckGCSExRecord: CreateAccDescGCS(MemOp_LOAD)): GCS reads of the
    # record's doublewords, the first at the step's VA (harness/ops.py lists them with the stores: no register back).
    **{op: AccessKind(read=True, write=False, fetch=False, at=False, el0=False, size=size, pan=False, gcs=True)
       for op, size in GCS_EX_POPS.items()},
    # DC CIVAC, CVAC, IVAC and IC IVAU (J1.3.3.281 CreateAccDescDC, J1.3.3.291 CreateAccDescIC: NewAccDesc's, neither
    # a read nor a write, no pan), translated aligned with no size (J1.1.3.32 AArch64.DC, J1.1.3.81 AArch64.IC:
    # aligned = TRUE; DC IVAC's VA aligned down to DataCacheWatchpointSize(), a line in the same page, so the model
    # translates the register's VA, which FAR reports).
    **{op: AccessKind(read=False, write=False, fetch=False, at=False, el0=False, size=0, cacheop=cacheop)
       for op, cacheop in CACHE_MAINT.items()},
    # GCSSS1 (J1.3.3 CreateAccDescGCSSS1): a GCS read and write (its compare-and-swap; not an atomic's memory-type
    # rule but a GCS access's, D11.9 R_FFJDX), so a fault's WnR is NoFault's 0 but the dirty state's.
    **{op: AccessKind(read=True, write=True, fetch=False, at=False, el0=False, size=size, pan=False, gcs=True)
       for op, size in GCS_SWITCHES.items()},
    "fetch": AccessKind(read=False, write=False, fetch=True, at=False, el0=False, size=0),
    # AT S1E1A (FEAT_ATS1A; J1.3.3.278 CreateAccDescAT, ATAccess_Any): neither read nor write, so
    # AArch64.S1CheckPermissions checks nothing of it.
    **{op: AccessKind(read=op in ("at_s1e1r", "at_s1e0r", "at_s1e1rp"), write=op in ("at_s1e1w", "at_s1e0w", "at_s1e1wp"),
                      fetch=False, at=True, el0=op.startswith("at_s1e0"), size=0, pan=op.endswith("p"))
       for op in AT_OPS},
    # The two-stage ATs, executed at EL2 for the EL1&0 regime: their stage 1 checks are AT S1E1*'s and S1E0*'s.
    **{op: AccessKind(read=op.endswith("r"), write=op.endswith("w"), fetch=False, at=True,
                      el0=op.startswith("at_s12e0"), size=0) for op in AT_S12_OPS},
    # AT S1E2R/W: the EL2 or EL2&0 regime's translation, with its (privileged) read or write permission;
    # AT S1E2A (FEAT_ATS1A, ATAccess_Any) with neither.
    **{op: AccessKind(read=op.endswith("r"), write=op.endswith("w"), fetch=False, at=True, el0=False, size=0)
       for op in AT_S1E2_OPS},
}

AF_UPDATE_RULE = ("the Access flag update on a faulting access: AArch64.SettingAccessFlagPermitted, "
                  "ConstrainUnpredictableBool(Unpredictable_AFUPDATE)")
AT_AF_UPDATE_RULE = ("the Access flag update by an AT instruction: IMPLEMENTATION DEFINED "
                     "(AArch64.SetAccessFlag, ImpDefBool(\"AT updates AF\"))")
CONTIG_RULE = ("a Contiguous-bit entry whose output address is not its place in an aligned group: "
               "misprogramming of the Contiguous bit, CONSTRAINED UNPREDICTABLE (StageOA or the entry's own OA)")
SH_RULE = "SH[1:0] = 0b01 is reserved: CONSTRAINED UNPREDICTABLE (DecodeShareability, Unpredictable_Shareability)"
RESMAIR_RULE = "a reserved MAIR_EL1 attribute encoding: CONSTRAINED UNPREDICTABLE (Unpredictable_RESMAIR)"
E0PD_RULE = "an access as EL0 to a range TCR_EL1.E0PDn = 1 disables (AArch64.S1Translate: fault.level = 0)"
PC_ALIGNMENT_RULE = "a misaligned PC, checked before the fetch is translated (AArch64.CheckPCAlignment)"
TXSZ_RULE = "TnSZ outside AArch64.S1MinTxSZ..AArch64.MaxTxSZ: IMPLEMENTATION DEFINED fault or clamp " \
            "(AArch64.S1TxSZFaults)"
TXSZ_FAULT_RULE = ("TnSZ below AArch64.S1MinTxSZ with FEAT_LVA: a level 0 Translation fault (AArch64.S1TxSZFaults, "
                   "R_SXWGM)")
LPA_RULE = ("descriptor bits[15:12] with the 64K granule and PAMax below 52 bits: IMPLEMENTATION DEFINED "
            "whether they are OA[51:48] (an Address size fault when nonzero; AArch64.S1LeafBase, R_WDZFC)")
PAGE_CROSSING_RULE = ("an unaligned access across a page boundary whose pages both fault: the abort of either "
                      "side (B2.8.2)")
ATOMIC_MMU_RULE = ("an atomic access to memory other than Normal Inner and Outer Write-Back Shareable: an "
                   "unsupported atomic access fault (DFSC 0x35, WnR UNKNOWN) or the access made, "
                   "ConstrainUnpredictableBool(Unpredictable_Atomic_MMU_IMPDEF_FAULT) (AArch64.S1Translate, "
                   "AArch64.S2Translate)")
FSC_UNSUPPORTED_ATOMIC = esr.fault_status("unsupported_atomic", None)     # EncodeLDFSC(Fault_Exclusive)
GCS_MEMORY_RULE = ("a GCS data access to memory other than Normal Inner and Outer Write-Back Shareable: "
                   "CONSTRAINED UNPREDICTABLE, a Data Abort for an unsupported access (DFSC 0x35) or the access made "
                   "(D11.9 R_FFJDX; the list of memory types it permits is taken as this, the widest reading)")
MIXED_PAGES_RULE = ("an access across a page boundary into another memory type (Normal, Device) or "
                    "Shareability: CONSTRAINED UNPREDICTABLE, each page's own attributes, an Alignment fault "
                    "caused by the memory type, or a NOP (K1.2.13)")
VA_RANGE_RULE = "VA outside the TTBR's range (AArch64.VAIsOutOfRange): a level 0 Translation fault (R_VZZSZ)"



# J1.1.4.55 AArch64.S1Translate's AddressDescriptor of one piece
@dataclass(frozen=True)
class _Translated:
    """One translated piece of an access."""
    pa: int
    attr: int               # None: open (reserved MAIR encoding)
    sh: str                 # None: open
    end: int                # the first VA past the leaf's mapping
    updates: tuple


# J1.1.4.55 AArch64.S1Translate's FaultRecord of one piece
@dataclass(frozen=True)
class _Faulted:
    fsc: int
    rule: str
    updates: tuple = ()
    outputs: tuple = ()     # a fault after the walk: the output addresses it gave (Abort.outputs)
    dirtybit: bool = False  # a Permission fault of the dirty state under PIE (FaultRecord.dirtybit)
    write: bool = None      # FaultRecord.write where the check sets it (an atomic's Permission fault); None: NoFault's


# J1.3.3.261 AArch64.BranchAddr
def branch_addr(params, va):
    """AArch64.BranchAddr: with TBI (and TBID = 0) the tag of a branch target
    becomes copies of bit 55 before it reaches the PC (at EL0 and EL1; at EL2
    outside a host, one range, zeros)."""
    if params.tbi and not params.tbid:
        return va & ((1 << 56) - 1) | (0xFF << 56 if va >> 55 & 1 and params.two_ranges else 0)
    return va


# J1.1.4.59 AArch64.SetAccessFlag, J1.1.4.60 AArch64.SetDirtyState, J1.1.4.61
# AArch64.SettingAccessFlagPermitted, J1.1.4.62 AArch64.SettingDirtyStatePermitted: the updates of
# AArch64.S1Translate and AArch64.S2Translate (J1.1.4.55, J1.1.4.57).
def hw_update_choices(desc_pa, desc, ha, dirty, acc, fault_class):
    """The descriptor updates one stage's translation may make: AF set with HA (on an
    Alignment or Permission fault CONSTRAINED UNPREDICTABLE, Unpredictable_AFUPDATE; for AT
    IMPLEMENTATION DEFINED), and `dirty`, the descriptor made dirty (stage 1: AP[2] cleared;
    stage 2: S2AP[1] set), or None where the access makes no dirty update (not HA and HD with
    DBM, not a write, an AT, or already dirty).  The dirty update is made only when the access
    takes no fault: AArch64.SettingDirtyStatePermitted returns FALSE when fault_perm, the
    permission check of a fault record that already holds any fault, is not Fault_None (M.a.a;
    an older ASL left an Alignment fault's update CONSTRAINED UNPREDICTABLE).  fault_class: the
    fault the access takes after the walk, or None.  [(updates, rule)], one per permitted choice."""
    af = ha and not DESC_AF.get(desc)
    af_choices = [af] if fault_class is None else [True, False] if af else [False]
    make_dirty = fault_class is None and dirty is not None
    if (acc.at or acc.cacheop) and af:
        af_choices = [True, False]      # AArch64.SetAccessFlag: ImpDefBool("AT updates AF"), and DC/IC's
    af_rule = AT_AF_UPDATE_RULE if acc.at else CMO_AF_RULE if acc.cacheop else AF_UPDATE_RULE
    choices = []
    for set_af in af_choices:
        new = (dirty if make_dirty else desc) | (DESC_AF.mask if set_af else 0)
        choices.append((((desc_pa, desc, new),) if new != desc else (), af_rule if len(af_choices) > 1 else ""))
    return choices


CMO_AF_RULE = ("the Access flag of a DC or IC by VA: IMPLEMENTATION DEFINED whether AF = 0 faults and whether "
               "hardware sets it (AArch64.S1Walk, AArch64.S2Walk, AArch64.SetAccessFlag: \"Generate access flag fault "
               "on IC/DC operations\")")


# J1.1.4.55 AArch64.S1Translate: J1.1.4.59 SetAccessFlag, J1.1.4.60 SetDirtyState
def _updates(params, walk, acc, fault_class):
    """The descriptor updates AArch64.S1Translate may make: AF (TCR_EL1.HA)
    and AP[2] cleared for a write through a DBM descriptor (HA and HD; never
    for AT, whose AF update is IMPLEMENTATION DEFINED)."""
    desc = walk.desc
    dirty = None
    # AArch64.SetDirtyState(walkparams.hd, walkparams.pie OR descriptor<51>, ...): under PIE every
    # descriptor takes the update, clearing nDirty (bit 7, where AP[2] is without PIE).
    if (params.ha and params.hd and (params.pie or DESC_DBM.get(desc)) and DESC_AP.get(desc) & AP2 and acc.write
            and not acc.at):
        dirty = desc & ~(AP2 << DESC_AP.shift)
    return hw_update_choices(walk.desc_pa, desc, params.ha, dirty, acc, fault_class)


# J1.1.4.1 AArch64.MAIRAttr of a leaf descriptor's AttrIndx (J1.1.4.73 AArch64.S1NextWalkStateLeaf)
def leaf_attr(params, desc):
    """The MAIR (or MAIR2) attribute byte of a leaf: with TCR2_ELx.AIE, AttrIndx[3] is descriptor bit 59."""
    attrindx = DESC_ATTRINDX.get(desc) | (DESC_ATTRINDX3.get(desc) << 3 if params.aie else 0)
    return mair_attr(params.mair, attrindx, params.mair2)


# J1.1.4.55 AArch64.S1Translate's attributes: J1.1.4.56 AArch64.S1TreatAsNormalNC, J1.1.4.91/97
# S1DCacheEnabled/S1ICacheEnabled
def _memattrs(params, walk, acc):
    """The attributes the access is made with: MAIR_EL1.Attr<AttrIndx>, made
    Normal Non-cacheable for a fetch from Device memory or with SCTLR_EL1.I = 0,
    and for Normal data with SCTLR_EL1.C = 0 (AArch64.S1Translate)."""
    memattrs = s1_decode_mem_attrs(leaf_attr(params, walk.desc))
    if memattrs.reserved:
        return memattrs, memattrs
    if acc.fetch and (memattrs.is_device or not params.i):
        return memattrs, NORMAL_NC
    if not acc.fetch and not params.c and not memattrs.is_device:
        return memattrs, NORMAL_NC
    return memattrs, memattrs


# J1.3.5.77 StageOA (J1.1.4.66 AArch64.ContiguousBit; misprogramming CONSTRAINED UNPREDICTABLE)
def _output_addresses(params, walk, va):
    """StageOA: the descriptor's OA with the VA's offset; with the Contiguous
    bit, the offset within the whole group."""
    lsb = level_lsb(params.granule, walk.level)
    own = walk.oa | va & ((1 << lsb) - 1)
    if not DESC_CONTIG.get(walk.desc):
        return [own]
    msb = lsb + contiguous_size(params.granule, walk.level)
    group = walk.oa & ~((1 << msb) - 1) | va & ((1 << msb) - 1)
    return [own] if group == own else [own, group]


# J1.1.4.55 AArch64.S1Translate of one piece: J1.1.4.33 S1TxSZFaults, J1.1.4.44 VAIsOutOfRange, E0PD, J1.1.4.75
# S1Walk. Simplified: no D128, SVE NFD, MTE
def _translate_piece(regs, memory, acc, va, aligned, rules, pan):
    """AArch64.S1Translate of one piece: a list of _Translated or _Faulted, one
    per permitted outcome; the rules of the choices made are added to rules."""
    params = walk_params(regs, bool(va >> 55 & 1))
    txsz, txsz_faults = txsz_choices(params)
    if txsz_faults == (True,):
        return [_Faulted(esr.fault_status("translation", 0), TXSZ_FAULT_RULE)]
    results = []
    if True in txsz_faults:
        rules.append(TXSZ_RULE)
        results.append(_Faulted(esr.fault_status("translation", 0), TXSZ_RULE))
    if va_is_out_of_range(va, params, acc.fetch):
        return results + [_Faulted(esr.fault_status("translation", 0), VA_RANGE_RULE)]
    if acc.el0 and params.e0pd:
        return results + [_Faulted(esr.fault_status("translation", 0), E0PD_RULE)]
    # J1.1.4.11 AArch64.S1LeafBase, J1.1.4.9 AArch64.NextTableBase: with the 64K granule and a PAMax
    # below 52 bits, whether descriptor bits[15:12] are OA[51:48] (so nonzero ones are out of range, an
    # Address size fault) is IMPLEMENTATION DEFINED (R_WDZFC): both walks, where they differ.
    walks = list(dict.fromkeys(s1_walk(replace(params, lpa=lpa), memory, va, txsz) for lpa in lpa_choices(params)))
    lpa_differs = len(walks) > 1
    # J1.1.4.71 AArch64.nTFaults: with FEAT_BBML1 a Block descriptor's nT bit faults where the implementation
    # says so (IMPLEMENTATION DEFINED): both walks, where they differ.
    nt = [s1_walk(replace(params, lpa=lpa, nt_faults=True), memory, va, txsz)
          for lpa in lpa_choices(params) for faults in nt_choices(params) if faults] if any(map(_may_be_nt, walks)) else []
    if set(nt) - set(walks):
        rules.append(NT_RULE)
        walks = list(dict.fromkeys(walks + nt))
    if acc.cacheop and any(isinstance(w, WalkFault) and w.fault == "access_flag" for w in walks):
        # AArch64.S1Walk: AF = 0 (HA = 0) faults a DC or IC only where IMPLEMENTATION DEFINED; else the walk goes on
        # as if AF were 1 (HA = 1's walk, with no update: _updates reads params' HA = 0).
        rules.append(CMO_AF_RULE)
        walks += [s1_walk(replace(params, lpa=lpa, ha=True), memory, va, txsz) for lpa in lpa_choices(params)]
        walks = list(dict.fromkeys(walks))
    if lpa_differs:
        rules.append(LPA_RULE)
    for walk in walks:
        results += _after_walk(params, walk, acc, va, aligned, rules, pan)
    return results


# J1.1.4.71 AArch64.nTFaults: whether a walk's answer may change under the choice that the nT bit faults
def _may_be_nt(walk):
    """Whether walk ended at a block whose nT bit the implementation's choice may make fault: a leaf above
    the last level with bit 16 set, or a fault there after the nT check (the output address or the Access
    flag, whose descriptor the fault does not give)."""
    if isinstance(walk, WalkFault):
        return walk.fault in ("address_size", "access_flag") and min(walk.levels) < FINAL_LEVEL
    return walk.level < FINAL_LEVEL and bool(DESC_NT.get(walk.desc))


# J1.1.4.55 AArch64.S1Translate after the walk: J1.1.4.29 S1HasAlignmentFaultDueToMemType, J1.1.4.26
# S1CheckPermissions, updates, StageOA
def _after_walk(params, walk, acc, va, aligned, rules, pan):
    """The rest of AArch64.S1Translate after the walk (walk: a WalkState or WalkFault): the
    memory-type alignment check, the permissions, the descriptor updates and the output."""
    results = []
    if isinstance(walk, WalkFault):
        if len(walk.levels) > 1:
            rules.append(walk.rule)
        return results + [_Faulted(esr.fault_status(walk.fault, level), walk.rule) for level in walk.levels]
    declared, memattrs = _memattrs(params, walk, acc)
    sh_field = params.tcr_sh if params.ds else DESC_SH.get(walk.desc)
    # IsWBShareable(walkstate.memattrs) && AArch64.S1DCacheEnabled: the descriptor's attributes, SCTLR_ELx.C
    wb_cached = params.c and all(is_wb_shareable(declared, sh) for sh in decode_shareability(sh_field))
    # An atomic's Permission fault is a write's (WnR = 1) where a read would not fault (ESR_ELx.WnR; the
    # FaultRecord.write AArch64.S1CheckPermissions sets).
    permission_write = acc.write and not (acc.read and s1_check_permissions(
        params, walk, replace(acc, write=False), declared, pan)[0][0])
    # The last check of AArch64.S1Translate, on the attributes the access is made with.
    wb_made = not memattrs.reserved and all(is_wb_shareable(memattrs, sh) for sh in decode_shareability(sh_field))
    checks = []
    for alignment_fault, alignment_rule in s1_has_alignment_fault(acc, aligned, declared, wb_cached):
        if alignment_fault:
            checks.append(("alignment", alignment_rule, False))
            continue
        for faults, rule in s1_check_permissions(params, walk, acc, declared, pan):
            if faults:
                checks.append(("permission", rule or alignment_rule, faults == DIRTY))
            elif acc.atomic and not wb_made:
                checks += [("unsupported_atomic", ATOMIC_MMU_RULE, False), (None, ATOMIC_MMU_RULE, False)]
            elif acc.gcs and not wb_made:
                checks += [("unsupported_atomic", GCS_MEMORY_RULE, False), (None, GCS_MEMORY_RULE, False)]
            else:
                checks.append((None, rule or alignment_rule, False))
    if len(checks) > 1:
        rules.append(RESMAIR_RULE if declared.reserved else next(rule for _, rule, _ in checks if rule))
    lsb = level_lsb(params.granule, walk.level)
    end = (va | ((1 << lsb) - 1)) + 1
    for fault_class, rule, dirtybit in checks:
        # Fault_Exclusive is set after the updates a completing access makes (AArch64.S1Translate's last check).
        made_as = None if fault_class == "unsupported_atomic" else fault_class
        for updates, update_rule in _updates(params, walk, acc, made_as):
            if update_rule:
                rules.append(update_rule)
            if fault_class == "unsupported_atomic":
                results.append(_Faulted(FSC_UNSUPPORTED_ATOMIC, rule, updates, tuple(_output_addresses(params, walk, va))))
                continue
            if fault_class is not None:
                level = None if fault_class == "alignment" else walk.level
                write = permission_write if fault_class == "permission" else acc.write and not acc.read
                results.append(_Faulted(esr.fault_status(fault_class, level), rule, updates,
                                        tuple(_output_addresses(params, walk, va)), dirtybit, write=write))
                continue
            pas = _output_addresses(params, walk, va)
            if len(pas) > 1:
                rules.append(CONTIG_RULE)
            if memattrs.reserved:
                shares, attr = (None,), None
            else:
                shares = decode_shareability(sh_field)
                if len(shares) > 1:
                    rules.append(SH_RULE)
                attr = encode_par_attrs(memattrs)
            for pa in pas:
                for share in shares:
                    sh = None if share is None else par_encode_shareability(memattrs, share)
                    results.append(_Translated(pa, attr, sh, end, updates))
    return results


# J1.1.2.4 AArch64.DataAbort / J1.1.2.6 AArch64.InstructionAbort of a stage 1 fault
def _abort(acc, el, far, piece, updates):
    """The abort of a faulting piece: WnR as the FaultRecord's write (J1.3.5 NoFault: a write that does
    not read, so an atomic's fault is a read's unless its write permission failed; None: UNKNOWN)."""
    if acc.cacheop:
        wnr = True              # J1.1.3.1 AArch64.FaultSyndrome: AccessType_DC or AccessType_IC, WnR = 1 (and CM = 1)
    elif piece.fsc == FSC_UNSUPPORTED_ATOMIC:
        wnr = None              # UNKNOWN (ESR_ELx.WnR: DFSC 0b110101)
    elif piece.write is not None:
        wnr = piece.write
    else:
        wnr = acc.write and not acc.read
    return Abort(ec=abort_class(acc.fetch, el), fsc=piece.fsc, wnr=wnr, s1ptw=False, far=far, rule=piece.rule,
                 updates=updates, outputs=piece.outputs, dirtybit=piece.dirtybit, gcs=acc.gcs,
                 cm=acc.cacheop is not None)     # J1.1.3.1 AArch64.FaultSyndrome: DC and IC, CM = 1 and WnR = 1


# J1.1.3.11 AArch64.EncodePAR (J1.1.3.12 AArch64.PARFaultStatus) of J1.1.3.10 AArch64.AT.  J1.3.5.4
# ReportedPARAttrs and J1.3.5.5 ReportedPARShareability, IMPLEMENTATION DEFINED functions, are the identity
# here: an implementation that implements every attribute as given (docs/model.md, review D14).
def _par(piece):
    if isinstance(piece, _Faulted):
        return Par(value=piece.fsc << par.PAR_FST.shift | piece.dirtybit << par.PAR_DIRTYBIT.shift | 1,
                   mask=par.PAR_FAULT_FIELDS | par.PAR_DIRTYBIT.mask, rule=piece.rule, updates=piece.updates)
    mask = par.PAR_OK_FIELDS
    value = piece.pa & par.PAR_PA.mask
    if piece.attr is None:
        mask &= ~par.PAR_ATTR.mask
    else:
        value |= piece.attr << par.PAR_ATTR.shift
    if piece.sh is None:
        mask &= ~par.PAR_SH.mask
    else:
        value |= SH_CODES[piece.sh] << par.PAR_SH.shift
    return Par(value=value, mask=mask, rule="AArch64.AT: EncodePARAttrs, PAREncodeShareability",
               updates=piece.updates)


# J1.1.2.7 AArch64.PCAlignmentFault
def pc_alignment_fault(pc):
    """AArch64.PCAlignmentFault: EC 0x22, FAR_EL1 the PC."""
    return Abort(ec=EC_PC_ALIGNMENT, fsc=None, wnr=False, s1ptw=False, far=pc, rule=PC_ALIGNMENT_RULE)


# J1.1.2.3 AArch64.CheckPCAlignment
def check_pc_alignment(pc, fetch):
    """__FetchInstr: AArch64.CheckPCAlignment, then the fetch (`fetch()`, its
    Outcomes): a misaligned PC faults whatever the fetch's translation would give."""
    if pc & 0b11:
        return Outcomes({pc_alignment_fault(pc)})
    return fetch()


# J1.1.3.112 Mem (alignment, then J1.1.3.100 AArch64.MemSingle byte by byte across pages) over J1.1.4.55
# AArch64.S1Translate; for a fetch J1.1.2.3 AArch64.CheckPCAlignment
def s1_translate(regs, memory, access):
    """AArch64.S1Translate (with AArch64.CheckAlignment before it, as Mem[]
    makes it, or for a fetch AArch64.CheckPCAlignment) for one step: the
    Outcomes the architecture permits.  An unaligned access is made a byte at
    a time (Mem[]), so one that leaves its page is translated again where it
    enters the next.  Raises UnknownMemory when the walk needs a descriptor
    the memory does not hold."""
    if not SCTLR_M.get(regs.sctlr):
        raise ValueError("SCTLR_EL1.M = 0: stage 1 disabled, which the model does not cover")
    acc = ACCESS_KINDS[access.op]
    if access.el == 0:
        acc = replace(acc, el0=True)
    elif access.op in UNPRIVILEGED_OPS and effective_nv1(regs):
        # J1.1.3.98 AArch64.IsUnprivAccessPriv: at EL1 with EffectiveHCR_EL2_NVx()<1:0> = '11' LDTR/STTR (and
        # GCSSTTR, C6.2.170) are privileged.
        acc = replace(acc, el0=False)
    va = access.va & MASK64
    params = walk_params(regs, bool(va >> 55 & 1))
    if acc.dczero:
        # J1.1.3.33 AArch64.MemZero: the block holding the VA, translated as one aligned write; a fault's FAR is
        # the register's VA (J1.1.3.20 AArch64.DataMemZero: fault.vaddress = regval).
        size = zva_block_size(regs)
        acc = replace(acc, size=size)
        outcomes = _s1_translate(regs, memory, access, acc, params, va & ~(size - 1))
        return data_mem_zero_far(outcomes, va)
    if acc.fetch:
        pc = branch_addr(params, va)
        return check_pc_alignment(pc, lambda: _s1_translate(regs, memory, access, acc, params, pc))
    return _s1_translate(regs, memory, access, acc, params, va)


DC_NOP_RULE = ("DC to the PoC with CLIDR_EL1.LoC = 0: a NOP or not, IMPLEMENTATION DEFINED (\"DC to PoC is treated as a "
               "NOP\": J1.1.3.34 AArch64.TreatDCAsNOP, in C5.3.21/25/37's execution)")
IC_NOP_RULE = ("IC IVAU with CTR_EL0.DIC = 1: a NOP or not, IMPLEMENTATION DEFINED (\"IC is treated as NOP\": J1.1.3.82 "
               "AArch64.TreatICAsNOP, in C5.3.41's execution)")


# J1.1.3.34 AArch64.TreatDCAsNOP (CLIDR_EL1.LoC, D24.2) and J1.1.3.82 AArch64.TreatICAsNOP (CTR_EL0.DIC), which
# C5.3.21, C5.3.25, C5.3.37 and C5.3.41 ask before J1.1.3.32 AArch64.DC or J1.1.3.81 AArch64.IC translates
def cache_maintenance_nop_rule(regs, acc):
    """The rule that lets a DC or IC by VA be a NOP on this CPU (nothing translated, no fault), or None: DC CIVAC,
    CVAC and IVAC (to the PoC) where CLIDR_EL1.LoC is 0, IC IVAU (to the PoU) where CTR_EL0.DIC is 1."""
    ids = features.Ids(0, 0, 0, 0, clidr=regs.clidr, ctr=regs.ctr)
    if acc.cacheop == "ic":
        return None if features.has("ic_ivau_translates", *ids) else IC_NOP_RULE
    return None if features.has("dc_poc_translates", *ids) else DC_NOP_RULE


DC_ZVA_TRAP_RULE = ("DC ZVA at EL0 with SCTLR_EL1.DZE = 0: trapped to EL1 before it translates, EC 0x18 with the "
                    "instruction's encoding in the ISS, FAR UNKNOWN (C5.3.38's execution: AArch64.SystemAccessTrap; "
                    "D24.2.45)")
HCR_TRAP_RULE = ("{name} at EL{el} with HCR_EL2.{bit} = 1: trapped to EL2 before it translates, EC 0x18 with the "
                 "instruction's encoding in the ISS, FAR UNKNOWN ({section}'s execution: AArch64.SystemAccessTrap(EL2, "
                 "0x18); D24.2.45)")
TRAP_OR_NOP_RULE = ("where the CPU may treat it as a NOP, whether it is still trapped is IMPLEMENTATION DEFINED "
                    "(J1.1.3.31 AArch64.CanTrapDC, AArch64.CanTrapIC)")
# The HCR_EL2 control that traps each op at EL1 and EL0, and the section of its execution.
HCR_TRAPS = {"dc_zva": (HCR_TDZ, "TDZ", "C5.3.38"), "dc_civac": (HCR_TPCP, "TPCP", "C5.3.21"),
             "dc_cvac": (HCR_TPCP, "TPCP", "C5.3.25"), "dc_ivac": (HCR_TPCP, "TPCP", "C5.3.37"),
             "ic_ivau": (HCR_TPU, "TPU", "C5.3.41")}


# C5.3.21, .25, .37, .38, .41 (the execution of DC CIVAC, CVAC, IVAC, ZVA, IC IVAU) before their AArch64.DC,
# AArch64.IC or AArch64.MemZero: the traps.  Simplified: the EL1&0 regime (not the EL2&0 host's SCTLR_EL2.DZE);
# SCTLR_EL1.UCI is 1 (the kernel sets it); no FEAT_FGT traps (HFGITR_EL2: the kernel leaves it 0).
def instruction_trap(regs, access):
    """The Outcomes of a trapped DC ZVA, DC by VA or IC IVAU, or None where none traps: at EL0 DC ZVA with
    SCTLR_EL1.DZE = 0 to EL1; at EL0 and EL1, with EL2 enabled, HCR_EL2.TDZ (DC ZVA), TPCP (DC to the PoC) or TPU
    (IC IVAU) to EL2 -- where the CPU may treat the DC or IC as a NOP, the NOP beside the trap (CanTrapDC/IC)."""
    if access.op not in SYSTEM_OPS or access.el not in (0, 1):
        return None
    if regs.regime != REGIME_EL10:
        if access.op in DC_ZERO and access.el == 0:
            return Outcomes({Unknown("DC ZVA at EL0 of the EL2&0 regime (SCTLR_EL2.DZE's trap to EL2) is not modelled")})
        return None
    iss = system_trap_iss(access.op)
    if access.op in DC_ZERO and access.el == 0 and not SCTLR_DZE.get(regs.sctlr):
        return Outcomes({Abort(ec=EC_SYSTEM_TRAP, fsc=None, wnr=False, s1ptw=False, far=0, rule=DC_ZVA_TRAP_RULE,
                               iss=iss)})
    field, bit, section = HCR_TRAPS[access.op]
    if not field.get(regs.hcr):
        return None
    rule = HCR_TRAP_RULE.format(name=access.op.replace("_", " ").upper(), el=access.el, bit=bit, section=section)
    trap = Abort(ec=EC_SYSTEM_TRAP, fsc=None, wnr=False, s1ptw=False, far=0, rule=rule, iss=iss, stage=2)
    nop = cache_maintenance_nop_rule(regs, ACCESS_KINDS[access.op]) if access.op in CACHE_MAINT else None
    if nop:
        return Outcomes({trap, Completes(pa=None, attr=None, sh=None)}, f"{nop}; {TRAP_OR_NOP_RULE}")
    return Outcomes({trap})


# J1.1.3.33 AArch64.MemZero: DCZID_EL0.BS
def zva_block_size(regs):
    """DC ZVA's block, in bytes: 4 << DCZID_EL0.BS (log2 of the size in words)."""
    return 4 << (regs.dczid & 0xF)


# J1.1.3.20 AArch64.DataMemZero: memaddrdesc.fault.vaddress = regval
def data_mem_zero_far(outcomes, regval):
    """DC ZVA's outcomes with each abort's FAR the register's VA, not the aligned block's (both stages)."""
    return Outcomes({replace(o, far=regval) if isinstance(o, Abort) else o for o in outcomes}, outcomes.rule)


# K1.2.13 Crossing a page boundary with different memory types or Shareability attributes, in J1.1.3.112 Mem
def _differ(attr, sh, first_attr, first_sh):
    """Whether a piece's memory type (Normal or Device: MAIR attribute bits[7:4] = 0) or shareability
    differs from the first piece's (None, left open by a reserved encoding: not known to differ)."""
    if None in (attr, first_attr):
        return False
    return (attr >> 4 == 0) != (first_attr >> 4 == 0) or sh != first_sh


# K1.2.13 in J1.1.3.112 Mem: the choices beside each page's own attributes (J1.1.2.4 AArch64.DataAbort of one)
def _mixed_pages_choices(acc, el, va, pa, attr, sh, updates):
    """An access that crosses into another memory type or shareability may instead take an
    Alignment fault caused by the memory type (to EL1: stage 1 made the mismatch) or execute as a
    NOP: neither accesses memory, so neither makes the dirty update; the walks' Access flag
    updates may have been made or not (a fault's, Unpredictable_AFUPDATE).  A NOP is a Completes
    with no spans (nothing read or written; a load's register keeps what it held)."""
    af_only = tuple((at, old, old | DESC_AF.mask) for at, old, new in updates
                    if new & DESC_AF.mask and not old & DESC_AF.mask)
    fault = _Faulted(esr.fault_status("alignment", None), MIXED_PAGES_RULE)
    choices = set()
    for made in {(), af_only}:
        choices.add(_abort(acc, el, va, fault, made))
        choices.add(Completes(pa=pa, attr=attr, sh=sh, updates=made, spans=()))
    return choices


# J1.1.3.112 Mem across a page boundary: either side's fault (B2.8.2)
def _other_side_faults(regs, memory, access, acc, params, va, size, aligned, rules):
    """An access whose first page faults may report the fault of the next page instead, where that
    page faults too (B2.8.2, Note: "an unaligned access that occurs across a page boundary can
    generate an abort on either side of the page boundary"; review D13).  The page is the
    granule: a fault names no larger block."""
    page_end = (va | ((1 << params.granule) - 1)) + 1
    if va + size <= page_end:
        return set()
    other = page_end & MASK64
    faults = {_abort(acc, access.el, other, piece, piece.updates)
              for piece in _translate_piece(regs, memory, acc, other, aligned, [], access.pan)
              if isinstance(piece, _Faulted)}
    if faults:
        rules.append(PAGE_CROSSING_RULE)
    return faults


# J1.1.3.106 AArch64.UnalignedAccessFaults, checked before any translation (by Mem, and by J1.1.3.37
# AArch64.ExclusiveMonitorsPass before the monitors)
def unaligned_access_aborts(regs, access):
    """The Alignment fault the check before translation gives the step: a set, empty where it gives none (the
    same Abort s1_translate reports for it, whichever outcomes stand beside it)."""
    acc = ACCESS_KINDS[access.op]
    va = access.va & MASK64
    _, faults, rule = check_alignment(walk_params(regs, bool(va >> 55 & 1)), acc, va)
    if True not in faults:
        return set()
    return {_abort(acc, access.el, va, _Faulted(esr.fault_status("alignment", None), rule), ())}


# J1.1.3.112 Mem: J1.1.3.106 AArch64.UnalignedAccessFaults, then J1.1.4.55 AArch64.S1Translate of each page an
# access touches
def _s1_translate(regs, memory, access, acc, params, va):
    """s1_translate of the access at va (a branch target already made the PC)."""
    aligned, alignment_faults, alignment_rule = check_alignment(params, acc, va)
    rules, outcomes = [], set()
    if True in alignment_faults:
        outcomes.add(_abort(acc, access.el, va, _Faulted(esr.fault_status("alignment", None), alignment_rule), ()))
        if False not in alignment_faults:
            return Outcomes(outcomes)
        rules.append(alignment_rule)
    # Pieces still to translate: (va, bytes left, spans so far, updates so far, attr, sh, whether a piece's
    # memory type or shareability differs from the first's)
    pending = [(va, max(acc.size, 1), (), (), None, None, False)]
    while pending:
        piece_va, left, spans, updates, attr, sh, mixed = pending.pop()
        for piece in _translate_piece(regs, memory, acc, piece_va, aligned, rules, access.pan):
            if isinstance(piece, _Faulted):
                outcome = _par(piece) if acc.at else _abort(acc, access.el, piece_va, piece, updates + piece.updates)
                if spans and not acc.at:
                    # The pieces before it: stage 2 translates them too (stage2.full_translate), and a
                    # store's may have been written, leaving their memory UNKNOWN (D1.4.1.4).
                    outcome = replace(outcome, before=(spans, attr), written=spans if acc.write else ())
                outcomes.add(outcome)
                if not spans and not acc.at:
                    outcomes |= _other_side_faults(regs, memory, access, acc, params, piece_va, left, aligned, rules)
                continue
            if acc.at:
                outcomes.add(_par(piece))
                continue
            here = min(left, piece.end - piece_va)
            new_spans = spans + ((piece.pa, here),)
            new_updates = updates + piece.updates
            first_attr, first_sh = (piece.attr, piece.sh) if not spans else (attr, sh)
            mixed = mixed or bool(spans) and _differ(piece.attr, piece.sh, attr, sh)
            if here < left:
                # The next byte's VA wraps as the ASL's bits(64) arithmetic does: past the top is VA 0.
                pending.append(((piece_va + here) & MASK64, left - here, new_spans, new_updates, first_attr, first_sh,
                                mixed))
                continue
            outcomes.add(Completes(pa=new_spans[0][0], attr=first_attr, sh=first_sh, updates=new_updates,
                                   spans=new_spans))
            if mixed:
                rules.append(MIXED_PAGES_RULE)
                outcomes |= _mixed_pages_choices(acc, access.el, va, new_spans[0][0], first_attr, first_sh,
                                                 new_updates)
    return Outcomes(outcomes, "; ".join(dict.fromkeys(r for r in rules if r)) or None)
