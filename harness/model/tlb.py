"""What a TLB may hold, and when a change to the tables or registers is
seen, for a case whose steps change translations (Arm ARM D8 "Translation
Lookaside Buffers", "TLB maintenance requirements", the TLBI instructions;
B2 on DSB and ISB).  The rules the model keeps:

- A TLB may hold any translation that a walk could have made, without a
  fault, from the tables as they were at any time while its context (the
  ASID, or any ASID for a global entry) was current: walks are made
  speculatively, so an entry need not come from an access the case made.
- A translation that faults with a Translation, Address size or Access
  flag fault is never held, so making an invalid descriptor valid needs no
  TLBI; a Permission fault comes from an entry that may be held.
- A descriptor write is seen by walks after a DSB, and by the instructions
  after an ISB that follows it; a system register write (TTBRn, TCR, MAIR,
  SCTLR) after the next ISB.  Until then both the old and the new are seen.
- A TLBI removes the entries it names once a DSB after it completes; until
  then, and from tables it could still have walked (a write not yet made
  visible by a DSB before the TLBI), entries may be filled again.
- TLBI by ASID removes only the non-global (nG) entries of that ASID; by VA
  with an ASID, the entries of the VA that are global or of that ASID; by VA
  for all ASIDs, every entry of the VA; VMALLE1, everything.  The Inner
  Shareable forms do the same on this PE.
- By range (FEAT_TLBIRANGE, TLBI RVAE1 ...): the entries whose VAs overlap
  [BaseADDR, BaseADDR + (NUM + 1) * 2^(5 * SCALE + 1) granules) (ASL
  TLBIRange); only entries of the granule TG names need go ("the instruction
  is only required to invalidate entries using the translation granule size
  in this field"), and with a TTL level hint only leaf entries at that level
  and table (non-leaf) entries of the levels above it ("The TTL hint is only
  guaranteed to invalidate: Non-leaf-level entries in the range up to but not
  including the level described by the TTL hint. Leaf-level entries in the
  range that match the level described by the TTL hint": C5.5, TLBI RVAE1).
- Walk caches: a TLB may also hold the table descriptors of a walk apart from
  its leaf (intermediate entries; the ASL's TLBRecord with walkstate.istable).
  A walk that uses one reads the levels below it from memory.  A TLBI of the
  last level (VALE1, VAALE1, RVALE1, RVAALE1; ASL TLBILevel_Last) "is only
  required to invalidate ... the last level of the translation table walk",
  so the table entries of a VA stay; the all-levels forms remove them too.
  A table entry belongs to the ASID current when it was made: it is used only
  under that ASID (else a switch to another root with another ASID, which
  needs no TLBI, could walk the old root's tables) and goes with a TLBI by
  ASID of it; a TLBI by VA with another ASID may leave it (whether it counts
  as global there is not said, so the model keeps it: old or new).
- A TLBI names one translation regime (tlbi_regime): the *E1 forms EL1&0's
  entries, the *E2 forms (VAE2, VALE2, ALLE2) the EL2 regime's; neither
  removes the other's.  At EL2 in the host (HCR_EL2.E2H = TGE = 1) both name
  the EL2&0 regime's, and the by-VA *E2 forms' operand has an ASID as
  VAE1's.  The EL2 regime (HCR_EL2.E2H = 0) has no ASID: its entries are
  global whatever nG (Linux's at.c: nG only where the regime is not EL2),
  and TLBI VAE2 removes every entry of the VA.

- The nXS forms (FEAT_XS: TLBI VAE1NXS, VMALLE1NXS, IPAS2E1NXS ...) name the
  entries their plain forms do, but whether they remove those whose XS
  attribute is 1 is IMPLEMENTATION SPECIFIC (C5.5; the ASL's TLBIMatch keeps
  them): such an entry may survive.  A stage 1 entry's XS is its leaf's MAIR
  attribute's (S1DecodeMemAttrs: 0 for Write-Back, 0x40, 0xa0 and Device
  0b0000dd01), taken as the combined entry's too (stage 2 can only clear it:
  S2CombineS1MemAttrs, FnXS); a stage 2 entry's is NOT its FnXS bit; a
  walk-cache entry has none the architecture names, so it may survive too.
  With HCRX_EL2.FnXS a plain TLBI executed at EL1 is its nXS form (C5.5's
  TLBI pseudocode: TLBI_ExcludeXS when FnXS is 1), so the same may survive it.

With stage 2 (Arm ARM D8.17 "TLB maintenance", D8.17.5.4 its scope,
D8.17.6.1 "Invalidating TLB entries from stage 2 translations"):

- Entries are tagged with the VMID (VMID[]: VTTBR_EL2.VMID, its upper 8 bits
  taken as 0 unless FEAT_VMID16 and VTCR_EL2.VS = 1) and are used only under
  it.  A TLB may hold stage 1 entries (VA to IPA), stage 2 entries (IPA to
  PA) and combined ones (VA to PA), each formed from entries it could hold at
  the same time: a combined entry of a stage 1 entry and a stage 2 entry of
  the same VMID formed while both were there.
- The EL1 TLBIs and VMALLE1 remove stage 1 and combined entries of the
  current VMID (never stage 2 entries); IPAS2E1 and IPAS2LE1 stage 2 entries
  of the IPA and the current VMID (RIPAS2E1 and RIPAS2LE1 of the IPAs of
  their range, ASL TLBIRange, with its TG and TTL), but are not required to
  remove combined ones; VMALLS12E1 every entry of the current VMID, ALLE1 of every VMID.  So
  a combined entry formed before the stage 1 TLBI that follows an IPAS2E1
  completed survives IPAS2E1, and IPAS2E1, DSB, VMALLE1 (or VAE1) is what
  removes a stage 2 translation.
- A stage 2 entry is kept as the registers and memory of its walk, as a
  stage 1 entry is; one object stands for both (its stage 1 and its stage 2
  walk of those tables), and its invalidations say which of the two they
  remove.  Its stage 2 walk of an IPA also gives stage 2 table (walk-cache)
  entries: IPAS2E1, VMALLS12E1 and ALLE1 remove them, IPAS2LE1 does not
  (J1.1.3.449 TLBIMatch, TLBIOp_IPAS2's level match), nor VMALLE1; a walk
  through one reads the levels below from memory.  RIPAS2LE1 leaves them as
  IPAS2LE1 does (C5.5.24 "from the leaf level"; the ASL's TLBIOp_RIPAS2 has
  no level term: the prose is taken, as for the TTL hint).  Stage 1 walk-cache
  entries are held under stage 2 too (review D22(b)): the table descriptors a
  stage 1 walk read, by IPA, as they were; a walk through one goes on from the
  level below through stage 2 as it is now (and the stage 2 entries of its VMID
  a TLB may hold), under the registers of the entry's ASID and VMID.

Where a TLB may hold two different copies of an address's translation (an entry
beside another entry or a new walk's, each holding something a TLB holds), a
lookup may hit both and take a TLB conflict abort (D8.17.1, D8.15.1.6 R_ZQNWZ:
IMPLEMENTATION DEFINED; K1.2.3 for register values a TLB caches): conflict_causes,
conflict_outcomes.  Under two stages the copies of stage 2 count too (the stage 2
entries of the IPA), and where FEAT_BBML1 is implemented a conflict due to a change
of block size or Contiguous bit alone is reported to EL2 only (R_QWTKL).  The
lookup may also be translated by an amalgamation of the entries (D8.17.1, K1.2.3),
which is the same translation where they differ in block size or Contiguous bit
alone, and which the model cannot bound elsewhere: amalgamation_outcomes offers it
there as an Amalgamation, which harness/oracle.py leaves unjudged where the
observation is no whole-entry outcome (docs/model.md, D8).

An entry is kept as the registers and the memory it was walked from; its
translation of a VA is AArch64.S1Translate over them, and its table entries'
is that walk's descriptors down to a level over the memory walks read now.
"""
from dataclasses import dataclass, field, replace

from harness.esr import Field
from harness.ops import (
    AT_OPS, LAST_LEVEL_TLBI, LS_SYNDROME, S2_LAST_LEVEL_TLBI, NXS_TLBI, RANGE_TLBI, S2_RANGE_TLBI, S2_TLBI_OPS, TLBI_EL2_OPS, TLBI_OPS, tlbi_takes_asid,
)
from harness.model.attributes import s1_xs
from harness.model.descriptors import DESC_AF, DESC_CONTIG, DESC_NG
from harness.model.outcome import Abort, Amalgamation, Outcomes, Par, Unknown, abort_class
from harness.model.registers import (
    SCTLR_A, SCTLR_C, SCTLR_I, SCTLR_M, SCTLR_NAA, MMFR0_TGRAN4, MMFR2_BBM, MMFR0_TGRAN16, MMFR1_VMIDBITS, REGIME_EL2, REGIME_EL10,
    REGIME_EL20, TCR2_A2, TCR_A1, TCR_AS, TCR_DS, HCRX_FNXS,
    TCR_EL2_DS, TTBR_ASID, el_is_in_host,
    walk_params,
)
from harness.model.stage2 import (
    VTCR_DS, VTCR_VS, VTTBR_VMID, S2Leaf, WalkFaultedAtStage2, WalkS2Uncertain, full_translate, s1_walk_memory, s2_params,
    s2_translate, s2_walk,
)
from harness.model.walk import WalkFault, WalkState, level_lsb, s1_start_level, s1_walk, va_is_out_of_range
from harness.model.translate import ACCESS_KINDS, MASK64, branch_addr, leaf_attr
from harness import esr, par

# The VA bits a TLBI by VA names (its operand holds VA[55:12]).
VA_BITS_TLBI = (1 << 56) - 1
# The TLBI operand's fields (Arm ARM C5.5): by VA, ASID[63:48] and VA[55:12] in [43:0]; by range,
# ASID[63:48], TG[47:46], SCALE[45:44], NUM[43:39], TTL[38:37], BaseADDR[36:0].
TLBI_ASID_SHIFT, TLBI_VA_BITS = 48, 44
TLBIR_TG_SHIFT, TLBIR_SCALE_SHIFT, TLBIR_NUM_SHIFT, TLBIR_TTL_SHIFT, TLBIR_BADDR_BITS = 46, 44, 39, 37, 37
# TG: the granule by its shift (0b00 is reserved).
TLBIR_TG_GRANULE = {0b01: 12, 0b10: 14, 0b11: 16}

# Stage 2 Block and Page descriptors' FnXS (FEAT_XS; D8.7.4): 1 makes the XS attribute 0.
S2_FNXS_BIT = 11

# Faults no TLB entry can give (the translation was never cached).
UNCACHED_FAULTS = frozenset({"translation", "address_size", "access_flag"})

STALE_RULE = ("a TLB may hold the translation of a descriptor as it was before a change until a TLBI that "
              "removes it completes (Arm ARM D8 'Translation Lookaside Buffers', 'TLB maintenance requirements')")
WALK_CACHE_RULE = ("a TLB may hold the table descriptors of a walk (walk caches) until a TLBI of all levels "
                   "removes them; a last-level TLBI (VALE1, VAALE1, RVALE1, RVAALE1) need not (Arm ARM D8 'TLB "
                   "maintenance requirements', the TLBI instructions' Last level hint; ASL TLBILevel_Last)")
STALE_S2_RULE = ("a TLB may hold stage 2 and combined stage 1 and 2 entries of the current VMID: IPAS2E1 "
                 "and IPAS2LE1 need not remove combined ones and VMALLE1 removes no stage 2 ones, so only "
                 "IPAS2E1, DSB, VMALLE1 (or VMALLS12E1, ALLE1) removes a stage 2 translation (Arm ARM "
                 "D8.17.5.4, D8.17.6.1)")
S2_WALK_CACHE_RULE = ("a TLB may hold stage 2 table descriptors (walk caches) until an invalidation of all levels "
                      "removes them; TLBI IPAS2LE1 need not, so a walk may still go through the old next-level "
                      "table (J1.1.3.449 TLBIMatch, TLBIOp_IPAS2's level match; C5.5 TLBI IPAS2LE1)")
CONFLICT_RULE = ("a lookup that several TLB entries of the address match (a translation table entry changed without "
                 "the TLB maintenance it needs, so a TLB may hold an old copy beside another) may take a TLB "
                 "conflict abort: fault status 0b110000, the lookup address, no access made (Arm ARM D8.17.1; "
                 "D8.15.1.6 R_ZQNWZ: IMPLEMENTATION DEFINED whether it does, R_WJMZJ, R_QWTKL, I_DHRWD; K1.2.3)")
UNSYNCED_RULE = ("a descriptor write is seen by walks only after a DSB, and a system register write or the "
                 "DSB's effect by later instructions only after an ISB (Arm ARM D8 'Ordering of translation "
                 "table walks', B2 'Context synchronization event')")


# J1.1.4.48/50 AArch64.TLBContextEL10/EL20's asid (J1.3.3.371 ASID): TTBR0/TTBR1 by TCR2.A2 and TCR.A1, upper
# byte zero unless TCR.AS
def current_asid(regs, upper=False):
    """The ASID of the current context for the VA range `upper` selects: with TCR2_ELx.A2 = 1
    (FEAT_ASID2; D8.16 R_XPSGZ) TTBR0's for the lower range and TTBR1's for the upper, else
    TTBR1's with TCR_ELx.A1 = 1 and TTBR0's otherwise, for both; 8 bits unless TCR_ELx.AS = 1
    (the upper 8 are then ignored).  The EL2 regime has none (0)."""
    if regs.regime == REGIME_EL2:
        return 0
    if TCR2_A2.get(regs.tcr2):
        ttbr = regs.ttbr1 if upper else regs.ttbr0
    else:
        ttbr = regs.ttbr1 if TCR_A1.get(regs.tcr) else regs.ttbr0
    return TTBR_ASID.get(ttbr) & asid_mask(regs)


# J1.3.3.371 ASID: 16 bits with TCR_ELx.AS = 1, else 8
def asid_mask(regs):
    return 0xFFFF if TCR_AS.get(regs.tcr) else 0xFF


# J1.3.3.505 VMID
def current_vmid(regs):
    """VMID[] (the ASL): VTTBR_EL2.VMID, its upper 8 bits taken as 0 unless FEAT_VMID16 is
    implemented and VTCR_EL2.VS = 1."""
    vmid = VTTBR_VMID.get(regs.vttbr)
    return vmid if MMFR1_VMIDBITS.get(regs.mmfr1) == 0b0010 and VTCR_VS.get(regs.vtcr) else vmid & 0xFF


# J1.1.4.75 AArch64.S1Walk: the leaf of a walk without fault
def leaf(regs, memory, va, s1_tables=(), translate=None):
    """The leaf (WalkState) a walk of va finds from regs and memory, or None when
    it faults before one (so no TLB entry of va can come from them).  Under
    stage 2 the walk reads its tables through stage 2's walk of the same memory
    (but s1_tables: the stage 1 walk-cache descriptors it goes through; translate:
    s2_translate or a memoised one)."""
    params = walk_params(regs, bool(va >> 55 & 1))
    if va_is_out_of_range(va, params, False):
        return None
    try:
        walk = s1_walk(params, s1_walk_memory(regs, memory, s1_tables, translate), va, params.txsz)
    except WalkFaultedAtStage2:
        return None
    return None if isinstance(walk, WalkFault) else walk


# J1.1.3.451 TLBIRange (with J1.1.3.443 DecodeTLBITG)
def tlbi_range(xt, ds):
    """ASL TLBIRange: the VA range [start, end) and the granule (shift) of a TLBI by
    range's operand, or None for a reserved TG (no entry is then required to go).
    BaseADDR is the VA in units of the granule, or VA[52:16] where addresses are
    52-bit (HasLargeAddress: the 64K granule, or TCR_EL1.DS = 1); the range is
    (NUM + 1) << (5 * SCALE + 1) granules, saturated at bit 52."""
    granule = TLBIR_TG_GRANULE.get(xt >> TLBIR_TG_SHIFT & 0b11)
    if granule is None:
        return None
    scale, num = xt >> TLBIR_SCALE_SHIFT & 0b11, xt >> TLBIR_NUM_SHIFT & 0x1F
    unit = 16 if granule == 16 or ds else granule
    base = xt & ((1 << TLBIR_BADDR_BITS) - 1)
    top = TLBIR_BADDR_BITS - 1 + unit                     # the VA bit BaseADDR[36] gives, replicated above
    start = base << unit | (((1 << 64) - (1 << (top + 1))) if base >> (TLBIR_BADDR_BITS - 1) else 0)
    end = (start + ((num + 1) << (5 * scale + 1 + granule))) & ((1 << 64) - 1)
    if end >> 52 & 1 != start >> 52 & 1:
        end = (((1 << 64) - (1 << 52)) if start >> 52 & 1 else 0) | ((1 << 52) - 1)
    return start, end, granule


# SCTLR_ELx fields the model reads that a TLB may not cache: D24.2 SCTLR_EL1 names EPAN, MSCEn,
# LSMAOE, nTLSMD, EE and WXN as the fields "permitted to be cached in a TLB"; M, A, C, I and nAA (read by
# Mem's alignment check, not the translation) are not, so after their change and an ISB no entry uses
# their old values (R_VNRFW; review D7).
SCTLR_NOT_CACHED = SCTLR_M.mask | SCTLR_A.mask | SCTLR_C.mask | SCTLR_I.mask | SCTLR_NAA.mask


SPECULATIVE_AF_RULE = ("with hardware Access flag management a speculative access that translates may set AF "
                       "(R_LHQRX; review D15): a leaf with AF = 0 may read back with AF = 1 before any access")


# J1.1.4.55 AArch64.S1Translate / J1.1.4.57 AArch64.S2Translate made speculatively (R_LHQRX): SetAccessFlag
def speculative_af(regs_seen, memory, va, slot, desc, stage2):
    """Whether a read-back of the descriptor desc at slot (for va; an IPA for stage 2) may find AF set
    by a speculative access: AF = 0 there, hardware AF management (TCR_ELx.HA, VTCR_EL2.HA) on, and
    slot the leaf a walk of va finds without fault under registers an access may use now."""
    if DESC_AF.get(desc):
        return False
    for regs in regs_seen:
        if stage2:
            params = s2_params(regs)
            if params is not None and params.ha:
                found = s2_walk(params, memory, va)
                if isinstance(found, S2Leaf) and found.desc_pa == slot:
                    return True
        elif walk_params(regs, bool(va >> 55 & 1)).ha:
            found = leaf(regs, memory, va)
            if found is not None and found.desc_pa == slot:
                return True
    return False


# J1.1.4.46 AArch64.GetS1TLBContext: what a TLBRecord holds (R_VNRFW: not SCTLR.M, A, C, I)
def entry_registers(entry_regs, regs_seen):
    """The registers a TLB entry's translation is made with: its own, but SCTLR_NOT_CACHED taken from
    each register set an access may see now."""
    return list(dict.fromkeys(replace(entry_regs, sctlr=entry_regs.sctlr & ~SCTLR_NOT_CACHED
                                      | r.sctlr & SCTLR_NOT_CACHED) for r in regs_seen))


MMFR1_ETS = Field(36, 4)                # ID_AA64MMFR1_EL1.ETS: 0b0010 FEAT_ETS2


# J1.1.3.449 TLBIMatch's completion (R_BLDZX): FEAT_ETS2
def _has_ets2(regs):
    """FEAT_ETS2 (R_BLDZX): a TLBI may complete for the issuing PE at its DSB.  Simplified: the
    model takes the DSB for every translation (R_BLDZX's conditions on execute permission are not
    read); no CPU the suite runs has FEAT_ETS2."""
    return MMFR1_ETS.get(regs.mmfr1) >= 0b0010


# J1.1.3.445 HasLargeAddress (of J1.1.3.451 TLBIRange)
def has_large_address(regs, ds):
    """HasLargeAddress (J1.3, TLBIRange): FALSE without FEAT_LPA2, else the DS bit of the regime's TCR
    (ds: its value, read from the regime's own layout)."""
    return bool(ds) and (MMFR0_TGRAN4.get(regs.mmfr0) == 0b0001 or MMFR0_TGRAN16.get(regs.mmfr0) == 0b0010)


# J1.1.3.438 AArch64.TLBI_VA and siblings: the Regime an op names (ELIsInHost for the *E2 forms)
def tlbi_regime(op, regs):
    """The regime TLBI op invalidates, executed at the EL the steps of regs' regime run at: the *E2
    forms `if ELIsInHost(EL2) then ... Regime_EL20 else ... Regime_EL2` (TLBI VAE2), the others at
    EL2 `if ELIsInHost(EL0) then ... Regime_EL20` (TLBI VAE1, RVAE1, VMALLE1), else Regime_EL10."""
    if op in TLBI_EL2_OPS:
        return REGIME_EL20 if el_is_in_host(regs, 2) else REGIME_EL2
    return REGIME_EL20 if el_is_in_host(regs, 0) else REGIME_EL10


# J1.3.3 TLBIRecord (op, regime, vmid, asid, address, end_address, level, ttl, tg) of J1.1.3.430-442 AArch64.TLBI_*
@dataclass(frozen=True)
class Invalidation:
    """What a TLBI removes: entries of the translation regime regime whose VAs overlap
    [start, end) (start None: every VA) that are non-global of asid (None: of every
    ASID), and global ones if globals; with last_level only leaf entries (walk-cache
    entries of table descriptors stay); with granule, only entries of that granule;
    with level, only entries whose leaf is at that level.  Of the VMID vmid (None: of
    every VMID): stage 1 and combined entries if stage1, stage 2 entries of the IPAs
    [ipa, ipa_end) (ipa None: every IPA) if stage2, with granule and level as for stage 1."""
    start: int
    end: int
    asid: int
    globals: bool
    last_level: bool = False
    granule: int = None
    level: int = None
    regime: str = REGIME_EL10
    vmid: int = None
    stage1: bool = True
    stage2: bool = False
    relax_regime: bool = False      # TLBIOp_ALL of EL2 or EL2&0 (ALLE2): entries of either regime (TLBIMatch)
    ipa: int = None
    ipa_end: int = None
    exclude_xs: bool = False        # an nXS form (TLBI_ExcludeXS): entries whose XS attribute is 1 may stay

    # J1.1.3.438 AArch64.TLBI_VA / J1.1.3.439 AArch64.TLBI_VAA
    @staticmethod
    def by_va(va, asid, last_level=False, regime=REGIME_EL10):
        """TLBI VAE1 (VALE1) of va with asid (None: VAAE1, VAALE1; VAE2, VALE2 of REGIME_EL2)."""
        start = va & ~0xFFF & VA_BITS_TLBI
        return Invalidation(start, start + 1, asid, True, last_level, regime=regime)

    # J1.1.3.430-442 AArch64.TLBI_ALL, _ASID, _IPAS, _RIPAS, _RVA, _RVAA, _VA, _VAA, _VMALL, _VMALLS: the
    # TLBIRecord of an op
    @staticmethod
    def _of(op, xt, regs):
        """The invalidation of TLBI op with operand xt (as the kernel executes it), under
        regs (their VMID): by VA (with an ASID or for all), by range, by ASID (nG entries
        only), or all; of the regime tlbi_regime names; of EL2 for EL1&0, by IPA
        (IPA[51:12] in Xt[39:0]: stage 2 entries only), VMALLS12E1 (both stages) or ALLE1
        (both stages, every VMID)."""
        vmid = current_vmid(regs)
        if op in S2_RANGE_TLBI:
            decoded = tlbi_range(xt, has_large_address(regs, VTCR_DS.get(regs.vtcr)))
            ttl = xt >> TLBIR_TTL_SHIFT & 0b11
            start, end, granule = decoded if decoded is not None else (0, 0, None)   # empty: nothing need go
            return Invalidation(None, None, None, True, op in S2_LAST_LEVEL_TLBI, granule, ttl or None, vmid=vmid,
                                stage1=False, stage2=True, ipa=start, ipa_end=end)
        if op in S2_TLBI_OPS:
            if S2_TLBI_OPS[op]:
                ipa = (xt & ((1 << 40) - 1)) << 12
                # TLBI IPAS2LE1 (TLBILevel_Last): TLBIMatch's level_match keeps stage 2 table entries.
                return Invalidation(None, None, None, True, op in S2_LAST_LEVEL_TLBI, vmid=vmid, stage1=False,
                                    stage2=True, ipa=ipa, ipa_end=ipa + 1)
            return Invalidation(None, None, None, True, vmid=None if op.startswith("tlbi_alle1") else vmid,
                                stage2=True)
        return replace(Invalidation._of_stage1(op, xt, regs), vmid=vmid)

    # J1.1.3.449 TLBIMatch's last term, `tlbi.attr == TLBI_ExcludeXS && tlb_entry.context.xs == '1'`; C5.5's TLBI
    # pseudocode (TLBI VAE1 ...: TLBI_ExcludeXS where IsHCRXEL2Enabled() and HCRX_EL2.FnXS is 1)
    @staticmethod
    def of(op, xt, regs):
        """Invalidation._of, marked for an nXS form (FEAT_XS; TLBI VAE1NXS ...), and for EL1's plain forms
        executed at EL1 with HCRX_EL2.FnXS = 1 (regs.hcrx): C5.5 and D8.17.5 leave it IMPLEMENTATION SPECIFIC
        whether such a TLBI removes entries whose XS attribute is 1 (the ASL's TLBIMatch does not), so such
        an entry may survive it.  EL2's TLBIs (executed at EL2) are not affected by FnXS."""
        at_el1 = regs.regime == REGIME_EL10 and op in TLBI_OPS and op not in TLBI_EL2_OPS
        fnxs = at_el1 and bool(HCRX_FNXS.get(regs.hcrx))
        return replace(Invalidation._of(op, xt, regs), exclude_xs=op in NXS_TLBI or fnxs)

    # J1.1.3.431 AArch64.TLBI_ASID, J1.1.3.436/437 _RVA/_RVAA, J1.1.3.438/439 _VA/_VAA, J1.1.3.440 _VMALL
    @staticmethod
    def _of_stage1(op, xt, regs):
        takes_va = TLBI_OPS[op][0]
        asid = xt >> TLBI_ASID_SHIFT if tlbi_takes_asid(op, regs.regime == REGIME_EL20) else None
        last_level = op in LAST_LEVEL_TLBI
        regime = tlbi_regime(op, regs)
        if op in RANGE_TLBI:
            # The regime's TCR: TCR_EL2 in its E2H = 0 layout holds DS at bit 32, TCR_EL1 (and TCR_EL2
            # with E2H = 1) at bit 59 (review D9).
            ds = TCR_EL2_DS.get(regs.tcr) if regs.regime == REGIME_EL2 else TCR_DS.get(regs.tcr)
            decoded = tlbi_range(xt, has_large_address(regs, ds))
            if decoded is None:
                return Invalidation(0, 0, asid, True, last_level, regime=regime)   # an empty range: nothing need go
            start, end, granule = decoded
            ttl = xt >> TLBIR_TTL_SHIFT & 0b11
            return Invalidation(start & VA_BITS_TLBI, end & VA_BITS_TLBI or 1 << 56, asid, True, last_level,
                                granule, ttl or None, regime)
        if takes_va:
            return Invalidation.by_va((xt & ((1 << TLBI_VA_BITS) - 1)) << 12, asid, last_level, regime)
        # TLBIMatch, TLBIOp_ALL: relax_regime when both the TLBI's and the entry's regimes are EL2 or EL2&0
        # (R_NWYRD: hardware need not tell EL2 from EL2&0 entries; review D20).
        relax = op.startswith("tlbi_alle2")
        return Invalidation(None, None, asid, globals=asid is None, regime=regime, relax_regime=relax)

    # J1.1.3.449 TLBIMatch (J1.3.3.501 TLBILevel for the last-level forms); the TTL hint as C5.5 words it, where
    # the ASL (ttl == walkstate.level for every entry) differs
    def removes(self, base, size, granule, level, asid, global_entry, regs, xs=None):
        """Whether this removes an entry of regs' regime of the VAs [base, base + size)
        (VA[55:0]) of granule at level (a leaf's level; for a table entry its table
        descriptor's), made under asid (global_entry: a global leaf; None: a table entry,
        of its ASID), whose XS attribute is xs (None: not known to be 0)."""
        same_regime = self.regime == regs.regime or self.relax_regime and regs.regime in (REGIME_EL2, REGIME_EL20)
        if not same_regime or not self.stage1 or not self.of_vmid(current_vmid(regs)):
            return False
        if self.exclude_xs and xs is not False:
            return False
        if self.start is not None and not (self.start < base + size and base < self.end):
            return False
        if self.granule is not None and self.granule != granule:
            return False
        # The TTL hint (C5.5, TLBI RVAE1 TTL; review D10): a leaf entry at its level, a table entry (level: the
        # table descriptor's) above it.
        if self.level is not None and (level >= self.level if global_entry is None else level != self.level):
            return False
        of_asid = self.asid is None or self.asid == asid     # Xt<63:48> whole (TLBIMatch; review D21)
        if global_entry is None:
            return not self.last_level and of_asid
        return self.globals if global_entry else of_asid

    # J1.1.3.449 TLBIMatch, TLBIOp_IPAS2 / TLBIOp_RIPAS2 / TLBIOp_VMALLS12 / TLBIOp_ALL, of a stage 2 walk-cache
    # TLBRecord (walkstate.istable)
    def removes_s2_table(self, base, size, granule, level, vmid):
        """Whether this removes a stage 2 table entry (walk cache) of vmid for the IPAs [base, base + size),
        its table descriptor at level of granule: a stage 2 invalidation of the VMID whose IPAs overlap
        them, unless a last-level one (IPAS2LE1, RIPAS2LE1: TLBIMatch's level_match, `tlbi.level == TLBILevel_Any ||
        !tlb_entry.walkstate.istable`), of another granule, or with a TTL naming this level or one above
        (as for stage 1, C5.5's TTL wording); an nXS form may leave it (it has no XS attribute to be 0)."""
        if not self.stage2 or not self.of_vmid(vmid) or self.last_level or self.exclude_xs:
            return False
        if self.ipa is not None and not (self.ipa < base + size and base < self.ipa_end):
            return False
        if self.granule is not None and self.granule != granule:
            return False
        return self.level is None or level < self.level

    # J1.1.3.449 TLBIMatch: the VMID term
    def of_vmid(self, vmid):
        return self.vmid is None or self.vmid == vmid


# J1.1.4.75 AArch64.S1Walk's descriptor fetches (J1.3.5.69 FetchDescriptor), recorded: the walk a TLBRecord may cache
class _Reads:
    """A walk's memory that keeps the descriptors read, in order: one per level from the start."""

    # J1.3.5.69 FetchDescriptor, recorded
    def __init__(self, memory):
        self.memory, self.reads = memory, []

    # J1.3.5.69 FetchDescriptor, recorded
    def read64(self, pa):
        desc = self.memory.read64(pa)
        self.reads.append((pa, desc))
        return desc


# J1.1.4.75 AArch64.S1Walk through walk-cache TLBRecords (walkstate.istable): cached table descriptors, the rest
# fetched
class _CachedTables:
    """The memory a walk reads through walk-cache entries: the cached descriptors
    (the table descriptors down to a level) as they were, the rest as it is."""

    # J1.3.5.69 FetchDescriptor through cached table descriptors
    def __init__(self, cached, memory):
        self.cached, self.memory = dict(cached), memory

    # J1.3.5.69 FetchDescriptor through cached table descriptors
    def read64(self, pa):
        return self.cached[pa] if pa in self.cached else self.memory.read64(pa)


# J1.3.3 TLBRecord (with its TLBContext, J1.1.4.46 AArch64.GetS1TLBContext): a walk a TLB may hold
@dataclass
class Entry:
    """A walk a TLB may hold: the registers and memory it was made with (and so the
    VMID, current_vmid of them), the ASID then current, the epoch of invalidations it
    was formed in (born), and the invalidations that have removed it since, with their
    epochs (for the VAs and IPAs they name).  It stands for the stage 1 entry and the
    stage 2 entries of that walk."""
    regs: object
    memory: object
    removed: list = field(default_factory=list)
    born: int = 0

    # J1.3.3.505 VMID of the TLBRecord's context
    @property
    def vmid(self):
        return current_vmid(self.regs)

    # J1.1.4.48/50 AArch64.TLBContextEL10/EL20: the ASID of the TLBRecord's context
    def asid(self, upper):
        """The ASID this entry's translations of the VA range `upper` selects belong to."""
        return current_asid(self.regs, upper)

    # J1.1.3.449 TLBIMatch against every invalidation since: the TLBRecords of this walk still held
    def usable(self, va, asids, vmids):
        """What of this entry a walk of va may use under any of the current ASIDs and VMIDs:
        (whether its leaf entry, [the table descriptors a walk-cache entry gives:
        those down to its level, as (PA, descriptor)] for each table entry left).  Under
        stage 2 its table descriptors are read through stage 2's walk."""
        params = walk_params(self.regs, bool(va >> 55 & 1))
        if va_is_out_of_range(va, params, False) or self.vmid not in vmids:
            return False, []
        asid = self.asid(params.upper)
        reads = _Reads(s1_walk_memory(self.regs, self.memory))
        try:
            walk = s1_walk(params, reads, va, params.txsz)
        except WalkFaultedAtStage2:
            return False, []
        start = s1_start_level(params.granule, params.txsz)
        leaf_level = walk.level if not isinstance(walk, WalkFault) else None
        tables = []
        # Table entries: the descriptors the walk went on from (each but the last read).
        for k in range(len(reads.reads) - 1):
            size = 1 << level_lsb(params.granule, start + k)
            base = va & ~(size - 1) & VA_BITS_TLBI
            if asid in asids and not any(inv.removes(base, size, params.granule, start + k, asid, None, self.regs)
                                         for _, inv in self.removed):
                tables.append(reads.reads[:k + 1])
        if leaf_level is None:
            return False, tables
        # AArch64.S1Walk: nG from the descriptor, or 1 with TCR2_ELx.FNGn (FEAT_ASID2; D8.16 R_KDVGW); a regime
        # without EL0 has no ASID (every entry global).
        global_entry = not (DESC_NG.get(walk.desc) or params.fng) or not params.unprivileged
        if not global_entry and asid not in asids:
            return False, tables
        size = 1 << level_lsb(params.granule, leaf_level)
        base = va & ~(size - 1) & VA_BITS_TLBI
        xs = s1_xs(leaf_attr(params, walk.desc))
        return not any(inv.removes(base, size, params.granule, leaf_level, asid, global_entry, self.regs, xs)
                       for _, inv in self.removed), tables

    # J1.1.4.47 AArch64.GetS2TLBContext: a stage 2 TLBRecord, J1.1.3.449 TLBIMatch
    def holds_ipa(self, ipa, vmids, born=None):
        """Whether this entry's stage 2 translation of ipa may be used under one of vmids: a
        stage 2 leaf (a stage 2 fault other than a Permission fault is never held) that no
        invalidation removed.  With born, as part of a combined entry with a stage 1 entry
        formed in that epoch: formed while both were there, and kept by invalidations of
        stage 2 entries alone (IPAS2E1 need not remove combined entries)."""
        params = s2_params(self.regs)
        if params is None or self.vmid not in vmids:
            return False
        found = s2_walk(params, self.memory, ipa)
        if not isinstance(found, S2Leaf):
            return False
        size = 1 << level_lsb(params.granule, found.level)
        base = ipa & ~(size - 1)
        for epoch, inv in self.removed:
            # A stage 2 entry's XS attribute is NOT FnXS (AArch64.S2Walk: nextstate.memattrs.xs).
            if inv.exclude_xs and not found.desc >> S2_FNXS_BIT & 1:
                continue
            if not inv.stage2 or not inv.of_vmid(self.vmid) or inv.ipa is not None and not (
                    inv.ipa < base + size and base < inv.ipa_end) or inv.granule not in (None, params.granule) \
                    or inv.level not in (None, found.level):
                continue
            if born is None or inv.stage1 or epoch <= born:
                return False
        return True



    # J1.1.4.79 AArch64.S2Walk's table descriptors as stage 2 walk-cache TLBRecords (walkstate.istable; J1.1.4.47
    # AArch64.GetS2TLBContext), J1.1.3.449 TLBIMatch against every invalidation since
    def s2_tables(self, ipa, vmids):
        """The stage 2 table entries of this entry's walk of ipa still held under one of vmids: for each
        table descriptor the walk went on from that no invalidation removed (removes_s2_table), the
        descriptors down to it as (PA, descriptor), as a walk through it reads them (the levels below
        come from memory)."""
        params = s2_params(self.regs)
        if params is None or self.vmid not in vmids:
            return []
        reads = _Reads(self.memory)
        s2_walk(params, reads, ipa)
        tables = []
        for k in range(len(reads.reads) - 1):
            level = params.start + k
            size = 1 << level_lsb(params.granule, level)
            base = ipa & ~(size - 1)
            if not any(inv.removes_s2_table(base, size, params.granule, level, self.vmid) for _, inv in self.removed):
                tables.append(tuple(reads.reads[:k + 1]))
        return tables


# R_XCLRD/R_JVXRH: which FaultRecords a TLBRecord may hold (J1.1.4.55 AArch64.S1Translate's faults)
def cached_outcome(outcome, stage=None):
    """Whether an outcome can come from a TLB entry: not a fault that is never cached
    (with stage, only a fault of that stage: the other's may come from a walk)."""
    if isinstance(outcome, Abort):
        return stage not in (None, outcome.stage) or esr.decode_fsc(outcome.fsc)[0] not in UNCACHED_FAULTS
    if isinstance(outcome, Par) and par.PAR_F.get(outcome.value):
        fault_stage = 2 if par.PAR_S.get(outcome.value) else 1
        return stage not in (None, fault_stage) or \
            esr.decode_fsc(par.PAR_FST.get(outcome.value))[0] not in UNCACHED_FAULTS
    return True


# Descriptor bits a change of block size or of the Contiguous bit alone keeps (D8.17.2 R_PVTFW: "without
# changing any other property"): the lower attributes [11:2] but AF, which hardware updates in place, and the
# upper [63:50] but Contiguous; the output address and the type bit follow the size, the translation of the
# address itself is compared whole.
SIZE_KEPT = ((1 << 12) - (1 << 2)) & ~DESC_AF.mask | ((1 << 64) - (1 << 50)) & ~DESC_CONTIG.mask

# What made two copies of a translation differ (conflict_causes): "resized" a change of block size or of the
# Contiguous bit alone (R_QWTKL's "changing the table or block or Contiguous bit"); "changed" a change that
# keeps both; "both" a change of size and of the translation at once (the rule does not say which it is).
RESIZED, CHANGED, BOTH = "resized", "changed", "both"


# J1.1.3.449 TLBIMatch read the other way, two TLBRecords of one lookup: what their conflict is due to (D8.17.2
# R_PVTFW, D8.15.1.6 R_QWTKL)
def _conflict_cause(a, b):
    """Why the copies a and b ((what it gives the access, its leaf: a WalkState or S2Leaf sans AF, or None
    where the model cannot tell) each) differ: RESIZED where the leaves differ in level or Contiguous bit and
    in nothing else (the same translation, the same attributes and, at stage 1, the same hierarchical ones),
    CHANGED where neither differs, BOTH otherwise."""
    (gives_a, leaf_a), (gives_b, leaf_b) = a, b
    if leaf_a is None or leaf_b is None:
        return BOTH
    resized = leaf_a.level != leaf_b.level or DESC_CONTIG.get(leaf_a.desc) != DESC_CONTIG.get(leaf_b.desc)
    if not resized:
        return CHANGED
    same = gives_a == gives_b and leaf_a.desc & SIZE_KEPT == leaf_b.desc & SIZE_KEPT and \
        replace(leaf_a, level=0, desc=0, **_oa(leaf_a)) == replace(leaf_b, level=0, desc=0, **_oa(leaf_b))
    return RESIZED if same else BOTH


# J1.1.4.75 AArch64.S1Walk's WalkState or J1.1.4.79 AArch64.S2Walk's leaf: the output address, which follows the size
def _oa(leaf):
    return {"oa": 0} if isinstance(leaf, WalkState) else {"pa": 0, "group_pa": None}


# J1.1.3.449 TLBIMatch read the other way: the TLBRecords one lookup may match, when they differ (D8.17.1, D8.15.1.6 R_ZQNWZ)
def conflict_causes(copies, held):
    """What several different copies of a translation a TLB may hold at once are due to (a set of
    _conflict_cause's answers, empty where there are not two): D8.17.1, "TLBs concurrently hold multiple
    different copies" after a change without the TLB maintenance it needs (K1.2.3 for a register value a
    TLB caches).  copies: (what it gives the access, its leaf) of each entry a TLB may hold and of each
    walk an access may make now (a walk that makes no entry adds none); held: whether one of them comes
    from an entry made before (else no two need be there at once).  Two entries of one copy are one."""
    copies = list(dict.fromkeys(c for c in copies if c is not None))
    if not held or len(copies) < 2:
        return frozenset()
    return frozenset(_conflict_cause(a, b) for k, a in enumerate(copies) for b in copies[k + 1:])


# J1.1.4.75 AArch64.S1Walk's TLBRecord (its leaf) with the translation it gives
def s1_copy(va, outcomes, regs, memory, s1_tables=(), leaf_of=leaf):
    """The copy of va's translation a stage 1 TLB entry made from regs and memory (and, under stage 2, the
    stage 1 walk-cache descriptors s1_tables) holds: what it gives the access (outcomes, but the faults no
    TLB holds: cached_outcome) and its leaf descriptor (the Access flag aside, which hardware updates in
    place); None where it gives nothing a TLB holds.  leaf_of: leaf, or a memoised one."""
    cached = frozenset(replace(o, updates=()) for o in outcomes if cached_outcome(o))
    if not cached:
        return None
    try:
        walk = leaf_of(regs, memory, va, s1_tables)
    except WalkS2Uncertain:
        walk = None
    return cached, walk and replace(walk, desc=walk.desc & ~DESC_AF.mask, desc_pa=None)


# J1.1.4.79 AArch64.S2Walk's TLBRecord (its leaf)
def s2_copy(found):
    """The copy of an IPA's translation a stage 2 TLB entry holds: its leaf (the Access flag aside), the
    output address of the IPA in it; None for a fault (a stage 2 entry is never one: holds_ipa)."""
    if not isinstance(found, S2Leaf):
        return None
    return (found.pa,), replace(found, desc=found.desc & ~DESC_AF.mask, desc_pa=None)


# J1.1.4.75 AArch64.S1Walk / J1.3.5.84 TranslationSize: the IPA a stage 1 leaf gives va
def _ipa(va, regs, walk):
    size = 1 << level_lsb(walk_params(regs, bool(va >> 55 & 1)).granule, walk.level)
    return walk.oa | va & (size - 1)


# J1.1.3 IsFeatureImplemented(FEAT_BBML1): ID_AA64MMFR2_EL1.BBM
def has_bbml1(regs):
    return MMFR2_BBM.get(regs.mmfr2) >= 0b0001


# J1.1.2.4 AArch64.DataAbort / J1.1.2.6 AArch64.InstructionAbort / J1.1.3.11 AArch64.EncodePAR of a
# Fault_TLBConflict FaultRecord (J1.3.4 EncodeLDFSC: 0b110000), D8.15.1.6
def conflict_outcomes(regs, access, causes, two_stage):
    """The TLB conflict aborts a lookup of access may take (D8.15.1.6), where its copies differ for
    causes (conflict_causes; none: no abort): FAR_ELx the lookup address (I_JYDXJ), WnR the FaultRecord's
    write (NoFault: a write that does not read), ISV 0 (not a stage 2 fault).  An AT S1E0* or S1E1* (of
    the EL1&0 regime, executed from EL1 here) reports it in PAR_EL1 (FST 0b110000); any other AT never
    takes it (I_DHRWD).  Under two stages (R_QWTKL) it is reported to EL2 where FEAT_BBML1 is implemented
    and the copies differ in block size or Contiguous bit alone (RESIZED), else to EL1 or EL2,
    IMPLEMENTATION DEFINED; where they differ in both at once (BOTH) under FEAT_BBML1 the rule does not say
    which applies, and the model refuses (Unknown).  Taken to EL2 it is a Data or Instruction Abort from a
    lower EL whose ISV the text leaves open (AArch64.InstructionSyndromeValid asks whether the fault is a
    stage 2 one), so both are offered; for an AT, a Data Abort (R_WJMZJ: CM = 1, WnR = 1, as its other
    aborts there)."""
    acc = ACCESS_KINDS[access.op]
    if not causes or acc.at and (access.op not in AT_OPS or regs.regime != REGIME_EL10):
        return set()
    if two_stage and has_bbml1(regs) and BOTH in causes:
        return {Unknown(f"a TLB conflict under two stages with FEAT_BBML1 (ID_AA64MMFR2_EL1.BBM = "
                        f"{MMFR2_BBM.get(regs.mmfr2)}) between TLB entries that differ in block size or Contiguous "
                        "bit and in the translation too: whether R_QWTKL's 'due to changing the table or block or "
                        "Contiguous bit' (reported to EL2) or its 'Otherwise' (EL1 or EL2) applies is not said; "
                        "not modelled")}
    to_el1 = not two_stage or not has_bbml1(regs) or causes != {RESIZED}
    fsc = esr.fault_status("tlb_conflict", None)
    if acc.at:
        at = {Par(value=fsc << par.PAR_FST.shift | 1, mask=par.PAR_FAULT_FIELDS | par.PAR_DIRTYBIT.mask,
                  rule=CONFLICT_RULE)} if to_el1 else set()
        return at | {Abort(ec=abort_class(False, 0), fsc=fsc, wnr=True, s1ptw=False, far=access.va & MASK64, stage=2,
                           ipa=0, cm=True, rule=CONFLICT_RULE)} if two_stage else at
    va = access.va & MASK64
    if acc.fetch:
        va = branch_addr(walk_params(regs, bool(va >> 55 & 1)), va)
    # A GCS data access's: ISS2.GCS = 1 (J1.1.3.1 AArch64.FaultSyndrome, whatever the fault).
    el1 = Abort(ec=abort_class(acc.fetch, 0 if access.el == 0 else 1), fsc=fsc, wnr=acc.write and not acc.read,
                s1ptw=False, far=va, rule=CONFLICT_RULE, gcs=acc.gcs)
    if not two_stage:
        return {el1}
    el2 = replace(el1, ec=abort_class(acc.fetch, 0), stage=2, ipa=0)
    return ({el1} if to_el1 else set()) | {el2} | (
        {replace(el2, syndrome=LS_SYNDROME[access.op])} if access.op in LS_SYNDROME else set())


AMALGAMATION_RULE = ("an amalgamation (D8.17.1) the model cannot bound: a lookup that several TLB entries match "
                     "whose copies differ beyond block size and Contiguous bit may be translated by \"an amalgamation "
                     "of more than one of the matching entries\" (Arm ARM D8.17.1; K1.2.3), bounded only by "
                     "\"permissions or attributes that would not be possible\" at this Exception level, with no field "
                     "named that may or may not mix")


# D8.17.1 / K1.2.3: the CONSTRAINED UNPREDICTABLE translation by an amalgamation of the TLBRecords one lookup
# matches (AArch64.TLBLookup is not in the ASL)
def amalgamation_outcomes(causes):
    """The amalgamation a lookup whose copies differ for causes (conflict_causes) may be translated by:
    none where there are no two copies, and none where they differ in block size or Contiguous bit alone
    (RESIZED: the same translation, attributes and permissions, whatever mix of them); else an Amalgamation,
    which the model cannot bound (the text names no fields that may mix, and bounds the mix only by what
    "would not be possible" at the current Exception level: at EL1 any Non-secure memory with any
    permission and attributes, under stage 2 whatever stage 2 permits)."""
    if not causes - {RESIZED}:
        return set()
    return {Amalgamation(AMALGAMATION_RULE)}


# A TLB conflict on the stage 2 lookup of a stage 1 walk's descriptor fetch (the IPA of a stage 1 table whose stage 2
# copies a TLB may hold differ): D8.15.1.6 says how a conflict abort is reported (R_WJMZJ, R_QWTKL, I_JYDXJ: "the
# lookup address") but not whether ESR_EL2.S1PTW, defined "for a stage 2 fault", is set for it, nor whether FAR and
# HPFAR_EL2 give the access's VA and the descriptor's IPA: refused.
S1PTW_CONFLICT_REFUSED = ("a TLB conflict on the stage 2 translation of a stage 1 walk's descriptor fetch: D8.15.1.6 "
                          "(R_WJMZJ, R_QWTKL, I_JYDXJ) does not say whether ESR_EL2.S1PTW (defined for stage 2 faults) "
                          "is set, nor what FAR_ELx and HPFAR_EL2 report for it; not modelled")


# J1.1.4.57 AArch64.S2Translate, memoised for the judging of one access (Tlb.two_stage_outcomes)
def _memo_s2_translate(memo, params, memory, key, ipa, acc, aligned, s1_attr):
    """s2_translate(params, memory, ipa, acc, aligned, s1_attr), worked out once in memo: memory named by
    key, an id of an object alive while memo is (nothing an access is translated from changes while it is
    judged, and every stage 1 source of the access, its entries and its copies ask the same)."""
    k = ("s2", params, key, ipa, acc, aligned, s1_attr)
    if k not in memo:
        memo[k] = s2_translate(params, memory, ipa, acc, aligned, s1_attr)
    return memo[k]


# J1.1.4.52 AArch64.FullTranslate through a TLB: the TLBRecords it may hold (D8.17)
class Tlb:
    """The translation state of one run of a case's steps: the registers and
    memory an access may be translated from, what walks may read, and the
    entries a TLB may hold."""

    # J1.1.4.52 AArch64.FullTranslate through a TLB: the state at a case's start
    def __init__(self, regs, memory):
        self.regs, self.memory = regs, memory     # in program order
        self.regs_seen = [regs]                   # registers an access may use (writes not yet synchronized)
        self.memories_seen = [memory]             # tables an access may be translated from
        self.walk_memories = [memory]             # tables a walk may read (writes not yet completed by a DSB)
        self.dsb_since_write = True
        self.pending = []                         # (Invalidation, tables walks could read meanwhile)
        self.before_cse = []                      # entries as they were before a DSB completed TLBIs, until a CSE
        self.entries = []
        self.epoch = 0                            # DSBs that completed invalidations so far
        self.faulted = False                      # whether the last access aborted (a fix-up follows one)
        self.monitor = False                      # the local Exclusives monitor may be set (predict._monitor_kept)
        self.amalgamated = None                   # the step whose write may have gone through an amalgamation (D8.17.1)
        self.s2_walk_cache_used = False           # whether the last two_stage_outcomes used a stage 2 table entry
        self._fill()

    # J1.1.4.52 AArch64.FullTranslate through a TLB: a state the model may branch on
    def copy(self):
        other = Tlb.__new__(Tlb)
        other.__dict__.update({k: list(v) if isinstance(v, list) else v for k, v in self.__dict__.items()})
        other.entries = [Entry(e.regs, e.memory, list(e.removed), e.born) for e in self.entries]
        other.before_cse = [Entry(e.regs, e.memory, list(e.removed), e.born) for e in self.before_cse]
        return other

    # J1.1.4.75 AArch64.S1Walk made speculatively: the TLBRecords a walk may make now
    def _fill(self, memories=None, born=None):
        """Entries a walk may make now (or, born, in that epoch), from every registers and tables it may use."""
        have = {(id(e.regs), id(e.memory)) for e in self.entries if not e.removed}
        for regs in self.regs_seen:
            for memory in memories or self.walk_memories:
                if (id(regs), id(memory)) not in have:
                    self.entries.append(Entry(regs, memory, born=self.epoch if born is None else born))
                    have.add((id(regs), id(memory)))

    # J1.1.3.102 AArch64.MemSingleWrite of descriptors (seen by walks after a DSB)
    def write_memory(self, memory, descriptors):
        """The tables change (a descriptor step: descriptors True) or only data does (a store)."""
        old = self.memory
        self.memory = memory
        if not descriptors:
            # The same tables: every view of them, entries too, is the new memory.
            self.memories_seen = [memory if m is old else m for m in self.memories_seen]
            self.walk_memories = [memory if m is old else m for m in self.walk_memories]
            for entry in self.entries:
                if entry.memory is old:
                    entry.memory = memory
            return
        self.memories_seen.append(memory)
        self.walk_memories.append(memory)
        self.dsb_since_write = False
        self._fill()

    # J1.1.4.53 AArch64.MemSwapTableDesc of J1.1.4.55 AArch64.S1Translate's AF/dirty updates
    def hardware_update(self, memory):
        """The walk of an access updated descriptors (HA/HD): every view of the tables as
        they were is the updated one, entries too (a walk that updates a descriptor
        fills its entry from the update, AArch64.S1Translate's AF and dirty updates)."""
        old = self.memory
        self.memory = memory
        self.memories_seen = [memory if m is old else m for m in self.memories_seen]
        self.walk_memories = [memory if m is old else m for m in self.walk_memories]
        for entry in self.entries + self.before_cse:
            if entry.memory is old:
                entry.memory = memory
        self._fill()

    # J1.1.3.423 AArch64.SysRegWrite (seen after a Context synchronization event)
    def write_regs(self, regs):
        self.regs = regs
        self.regs_seen.append(regs)
        self._fill()

    # J1.1.3.430-442 AArch64.TLBI_*: an invalidation issued, complete at a later DSB
    def tlbi(self, invalidation):
        self.pending.append((invalidation, list(self.walk_memories)))

    # J1.1.3.16 MemBarrierOp DSB: completes TLBIs (R_BLDZX) and makes descriptor writes visible to walks
    def dsb(self):
        self.walk_memories = [self.memory]
        self.dsb_since_write = True
        if self.pending:
            self.epoch += 1
            if not _has_ets2(self.regs):
                # R_BLDZX: without FEAT_ETS2 the TLBIs are complete for this PE's own accesses only after a
                # Context synchronization event: until one, an access may still use the entries as they were.
                self.before_cse += [Entry(e.regs, e.memory, list(e.removed), e.born) for e in self.entries]
        for inv, memories in self.pending:
            for entry in self.entries:
                entry.removed.append((self.epoch, inv))
            # Walks made while the TLBI was in progress may have filled entries again, before this DSB.
            self._fill(memories, born=self.epoch - 1)
        self.pending = []
        self._fill()

    # R_BLDZX: a Context synchronization event after the DSB (no FEAT_ETS2)
    # J1.1.3.449 TLBIMatch completed: R_BLDZX, a Context synchronization event after the DSB
    def complete_tlbis(self):
        """A Context synchronization event (an ISB, taking an exception, an exception return): the
        TLBIs a DSB completed are complete for this PE's own accesses too (R_BLDZX)."""
        self.before_cse = []

    # ISB: a Context synchronization event (system register writes, R_BLDZX)
    # ISB: J1.3.3.451 InstructionSynchronizationBarrier, J1.3.3.482 SynchronizeContext: system register writes
    # seen, TLBIs complete (R_BLDZX)
    def isb(self):
        self.complete_tlbis()
        self.regs_seen = [self.regs]
        self.memories_seen = list(self.walk_memories)
        self._fill()

    # J1.1.3.449 TLBIMatch: the TLBRecords a walk of va may use now
    def usable_entries(self, va):
        """(entry, whether its leaf entry is usable, [cached table descriptors of each
        usable table entry]) for the entries a walk of va may use now."""
        asids = {current_asid(r, bool(va >> 55 & 1)) for r in self.regs_seen}
        vmids = {current_vmid(r) for r in self.regs_seen}
        return [(e, *e.usable(va, asids, vmids)) for e in self.entries + self.before_cse]

    # J1.1.4.75 AArch64.S1Walk from a walk-cache TLBRecord (walkstate.istable)
    def through_walk_cache(self, entry, cached, upper):
        """The (registers, memory) pairs a walk through a table entry of `entry` (of the VA
        range `upper` selects) may use: the cached descriptors as they were (and so the walk
        from the TTBRs they were walked from), the levels below from the tables accesses may
        be translated from now, under the registers accesses may use now whose ASID for that
        range is the entry's."""
        ttbrs = dict(ttbr0=entry.regs.ttbr0, ttbr1=entry.regs.ttbr1)
        return [(replace(regs, **ttbrs), _CachedTables(cached, memory)) for regs in self.regs_seen
                if current_asid(regs, upper) == entry.asid(upper) for memory in self.memories_seen]

    # J1.1.4.57 AArch64.S2Translate or a stage 2 TLBRecord (J1.1.4.47 AArch64.GetS2TLBContext)
    def _stage2_choices(self, memo, vmids=(), born=None):
        """translate(ipa, acc, aligned, s1_attr) for stage2.full_translate: the stage 2 results an IPA may
        have, from a walk of any registers and tables an access may use, or from a stage 2 entry
        of one of vmids (with born: one that could combine with a stage 1 entry formed then).
        memo: a dict for one access's judging (two_stage_outcomes), in which the walks, the entries
        held and their stage 2 table entries are each worked out once: nothing they read changes
        while one access is judged, and every stage 1 source of the access asks the same."""
        fresh = [(s2_params(r), m) for r in self.regs_seen for m in self.memories_seen]

        # J1.1.4.57 AArch64.S2Translate's questions, each answered once for this access
        def once(key, work):
            if key not in memo:
                memo[key] = work()
            return memo[key]

        # J1.1.4.57 AArch64.S2Translate, memoised
        def s2(params, memory, key, ipa, acc, aligned, s1_attr):
            return _memo_s2_translate(memo, params, memory, key, ipa, acc, aligned, s1_attr)

        # J1.1.4.57 AArch64.S2Translate, or a stage 2 TLBRecord still held
        def translate(ipa, acc, aligned, s1_attr=None):
            if acc.ttw:     # a stage 1 walk's descriptor fetch: its stage 2 lookup may conflict (two_stage_outcomes)
                memo.setdefault("walk_ipas", set()).add(ipa)
            results, through_cache = once(("translate", frozenset(vmids), born, ipa, acc, aligned, s1_attr),
                                          lambda: choices(ipa, acc, aligned, s1_attr))
            if through_cache:
                self.s2_walk_cache_used = True
            return results

        # J1.1.4.57 AArch64.S2Translate or a stage 2 TLBRecord: translate's answer, and whether a stage 2 table entry
        # gave one a walk of memory does not
        def choices(ipa, acc, aligned, s1_attr):
            vmids_key = frozenset(vmids)
            held = [(s2_params(e.regs), e.memory) for e in self.entries
                    if vmids and once(("holds", id(e), ipa, vmids_key, born), lambda: e.holds_ipa(ipa, vmids, born))]
            # J1.1.4.79 AArch64.S2Walk through a stage 2 walk-cache TLBRecord: the cached table descriptors as they
            # were, the levels below from the tables an access may be translated from now.
            cached = [(s2_params(e.regs), tables, m) for e in (self.entries if vmids else ())
                      for tables in dict.fromkeys(once(("tables", id(e), ipa, vmids_key),
                                                       lambda: e.s2_tables(ipa, vmids)))
                      for m in self.memories_seen]
            results = [r for params, m in fresh + held for r in s2(params, m, id(m), ipa, acc, aligned, s1_attr)]
            through = [r for params, tables, m in cached
                       for r in s2(params, _CachedTables(tables, m), (tables, id(m)), ipa, acc, aligned, s1_attr)]
            return tuple(dict.fromkeys(results + through)), bool(set(through) - set(results))
        return translate

    # J1.1.4.47 AArch64.GetS2TLBContext, J1.1.3.449 TLBIMatch read the other way: stage 2 TLBRecords of one IPA
    def _s2_conflict_causes(self, ipa, borns):
        """conflict_causes of the stage 2 translations of ipa a TLB may hold at once (D8.17.2 I_HYQMB: "multiple
        translation table entries that all translate the same IA"): the stage 2 entries still held (alone, or
        as part of a combined entry with a stage 1 entry formed in an epoch of borns), walks through stage 2
        table entries still held, and the walks of any registers and tables an access may use now, of each
        VMID an access may use."""
        causes = frozenset()
        walks = {}

        # J1.1.4.79 AArch64.S2Walk of ipa, once per registers and tables (entries share them)
        def copy(regs, memory, key):
            k = (s2_params(regs), key)
            if k not in walks:
                walks[k] = s2_copy(s2_walk(k[0], memory, ipa))
            return walks[k]
        entries = self.entries + self.before_cse
        # Every registers and tables an entry or a walk may come from translate ipa alike: one copy, whichever a TLB
        # holds (a walk through a stage 2 table entry reads descriptors one of them holds), so no conflict.
        sources = {(id(regs), id(memory)): (regs, memory) for regs, memory in
                   [(e.regs, e.memory) for e in entries] + [(r, m) for r in self.regs_seen for m in self.memories_seen]
                   if s2_params(regs) is not None}
        if len({copy(regs, memory, id(memory)) for regs, memory in sources.values()} - {None}) < 2:
            return causes
        for vmid in {current_vmid(r) for r in self.regs_seen}:
            held = [copy(e.regs, e.memory, id(e.memory)) for e in entries
                    if any(e.holds_ipa(ipa, {vmid}, born) for born in borns)]
            held += [copy(e.regs, _CachedTables(tables, m), (tables, id(m))) for e in entries
                     for tables in dict.fromkeys(e.s2_tables(ipa, {vmid})) for m in self.memories_seen]
            if not any(held):
                continue        # no entry made before: no two copies need be there at once (conflict_causes)
            fresh = [copy(r, m, id(m)) for r in self.regs_seen
                     if current_vmid(r) == vmid and s2_params(r) is not None for m in self.memories_seen]
            causes |= conflict_causes(held + fresh, held=any(held))
        return causes

    # J1.1.4.52 AArch64.FullTranslate with stage 2 through a TLB
    def two_stage_outcomes(self, access, now):
        """What an access under stage 2 may do (now: its translation by the registers and
        tables in program order): stage 1 from a walk of any registers and tables it may see
        or from a stage 1 entry it may still hold, each with the stage 2 translations that
        may go with it (_stage2_choices)."""
        self.s2_walk_cache_used = False
        # One access is translated in one context: a walk under the VMID of the registers it uses.
        sources = [(r, m) for r in self.regs_seen for m in self.memories_seen]
        memo = {}
        walked = [full_translate(r, m, access, s2=self._stage2_choices(memo, {current_vmid(r)})) for r, m in sources]
        fresh = [full_translate(r, m, access, s2=self._stage2_choices(memo)) for r, m in sources]
        # Stage 1 leaf and table entries (below), stage 2 leaf and table entries (_stage2_choices).
        # An entry whose translation gives nothing a TLB holds (it faults under the stage 2 it may
        # combine with now) supplies no outcome.
        try:
            usable = self.usable_entries(access.va)
        except WalkS2Uncertain as e:
            return Outcomes({Unknown(f"whether a TLB entry is usable reads IPA {e.args[0]:#x}, which the stage 2 "
                                     "translations a TLB may hold translate differently: not modelled")})
        held_sources = [(r, e) for e, leaf_usable, _ in usable if leaf_usable
                        for r in entry_registers(e.regs, self.regs_seen)]
        held = [{o for o in full_translate(r, e.memory, access, s2=self._stage2_choices(memo, {e.vmid}, e.born))
                 if cached_outcome(o, stage=1)} for r, e in held_sources]
        # Stage 1 walk-cache entries (review D22(b)): a walk through an entry's cached table descriptors as they
        # were (IPA and descriptor), from its TTBRs, under the registers now of its ASID and VMID, the levels
        # below read now through stage 2 (and the stage 2 entries of that VMID a TLB may hold).
        upper = bool(access.va >> 55 & 1)
        through_sources = [(replace(r, ttbr0=e.regs.ttbr0, ttbr1=e.regs.ttbr1), m, tuple(cached))
                           for e, _, tables in usable for cached in tables for r in self.regs_seen
                           if current_asid(r, upper) == e.asid(upper) and current_vmid(r) == e.vmid
                           for m in self.memories_seen]
        through = [full_translate(r, m, access, s2=self._stage2_choices(memo, {current_vmid(r)}), s1_tables=cached)
                   for r, m, cached in through_sources]
        everything = set().union(*walked, *held, *through)
        unknown = [o for o in everything if isinstance(o, Unknown)]
        if unknown:
            return Outcomes({unknown[0]})
        # Entries a TLB may hold: stage 1 ones, and stage 2 ones where a walk through them differs from a fresh one.
        entries = [(h, r, e.memory) for h, (r, e) in zip(held, held_sources)] + \
            [(w, r, m) for w, f, (r, m) in zip(walked, fresh, sources) if set(w) != set(f)] + \
            [(t, r, m, cached) for t, (r, m, cached) in zip(through, through_sources)]
        leaves = {}

        # J1.1.4.75 AArch64.S1Walk: a leaf, walked once for this access (the same registers and tables recur),
        # its descriptor reads through the stage 2 walks memo holds
        def leaf_of(regs, memory, va, s1_tables):
            key = (regs, id(memory), s1_tables)
            if key not in leaves:
                leaves[key] = leaf(regs, memory, va, s1_tables, translate=lambda params, m, ipa, acc, aligned:
                                   _memo_s2_translate(memo, params, m, id(m), ipa, acc, aligned, None))
            return leaves[key]
        held_copies = [s1_copy(access.va, *e, leaf_of=leaf_of) for e in entries]
        walk_copies = [s1_copy(access.va, f, r, m, leaf_of=leaf_of) for f, (r, m) in zip(fresh, sources)]
        causes = conflict_causes(held_copies + walk_copies, held=any(held_copies))
        ipas = {_ipa(access.va, r, c[1]) for c, r in zip(held_copies + walk_copies,
                                                          [e[1] for e in entries] + [r for r, _ in sources])
                if c is not None and c[1] is not None}
        borns = {None} | {e.born for e, leaf_usable, _ in usable if leaf_usable}

        # J1.1.4.47 AArch64.GetS2TLBContext's TLBRecords of one IPA, worked out once for this access
        def s2_conflicts(ipa):
            key = ("s2_conflicts", ipa, frozenset(borns))
            if key not in memo:
                memo[key] = self._s2_conflict_causes(ipa, borns)
            return memo[key]
        for ipa in ipas:
            causes |= s2_conflicts(ipa)
        conflict = conflict_outcomes(self.regs, access, causes, two_stage=True)
        refused = [o for o in conflict if isinstance(o, Unknown)] + [
            Unknown(f"{S1PTW_CONFLICT_REFUSED} (IPA {ipa:#x})") for ipa in sorted(memo.get("walk_ipas", ()))
            if s2_conflicts(ipa)][:1]
        if refused:
            return Outcomes(refused)
        seen = set().union(*fresh)
        rules = [o.rule for o in walked if o.rule]
        if seen != set(now):
            rules.append(UNSYNCED_RULE)
        if set().union(*walked, *held) != seen:
            rules.append(STALE_S2_RULE)
        if set().union(*through) - set().union(*walked, *held):
            rules.append(WALK_CACHE_RULE)
        if self.s2_walk_cache_used:
            rules.append(S2_WALK_CACHE_RULE)
        if conflict:
            rules.append(CONFLICT_RULE)
        return Outcomes(everything | conflict | amalgamation_outcomes(causes), "; ".join(dict.fromkeys(rules)) or None)
