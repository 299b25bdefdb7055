"""The registers the model reads, with their fields named once (Arm ARM D19:
TCR_EL1, SCTLR_EL1, MAIR_EL1, TTBRn_EL1, ID_AA64MMFRn_EL1; for the EL2
regime with HCR_EL2.E2H = 0, TCR_EL2 and SCTLR_EL2 in their EL2 layouts;
HCR_EL2), and the walk parameters stage 1 derives from them for one VA range
(AArch64.GetS1TTWParams).

The EL2&0 regime (FEAT_VHE, HCR_EL2.E2H = 1) is read from EL1&0's fields:
with E2H = 1 TCR_EL2, SCTLR_EL2, MAIR_EL2 and TTBRn_EL2 have TCR_EL1's,
SCTLR_EL1's, MAIR_EL1's and TTBRn_EL1's layouts, and the kernel reports them
under the same names (docs/protocol.md, `regs`).

Registers holds raw 64-bit values; everything decoded from them is computed
once per (Registers, VA range) and cached, since a generator translates
thousands of accesses per second through a handful of register sets.
"""
from dataclasses import dataclass
from functools import lru_cache

from harness import features
from harness.esr import Field
from harness.geometry import IPS_ENCODING

# TCR_EL1
TCR_T0SZ = Field(0, 6)
TCR_EPD0 = Field(7, 1)
TCR_SH0 = Field(12, 2)
TCR_TG0 = Field(14, 2)
TCR_T1SZ = Field(16, 6)
TCR_A1 = Field(22, 1)                   # TTBR1_EL1.ASID is the current ASID
TCR_EPD1 = Field(23, 1)
TCR_SH1 = Field(28, 2)
TCR_TG1 = Field(30, 2)
TCR_IPS = Field(32, 3)
TCR_AS = Field(36, 1)                   # 16-bit ASIDs
TCR_TBI0 = Field(37, 1)
TCR_TBI1 = Field(38, 1)
TCR_HA = Field(39, 1)
TCR_HD = Field(40, 1)
TCR_HPD0 = Field(41, 1)
TCR_HPD1 = Field(42, 1)
TCR_TBID0 = Field(51, 1)
TCR_TBID1 = Field(52, 1)
TCR_E0PD0 = Field(55, 1)
TCR_E0PD1 = Field(56, 1)
TCR_DS = Field(59, 1)

# TCR_EL2 with HCR_EL2.E2H = 0 (one VA range, no ASID): its own layout.  RES1: bits 31 and 23.
TCR_EL2_T0SZ = Field(0, 6)
TCR_EL2_SH0 = Field(12, 2)
TCR_EL2_TG0 = Field(14, 2)
TCR_EL2_PS = Field(16, 3)
TCR_EL2_TBI = Field(20, 1)
TCR_EL2_HA = Field(21, 1)
TCR_EL2_HD = Field(22, 1)
TCR_EL2_HPD = Field(24, 1)
TCR_EL2_TBID = Field(29, 1)
TCR_EL2_DS = Field(32, 1)
TCR_EL2_RES1 = 1 << 31 | 1 << 23

# Granule shift by TG0 and by TG1 encoding (they differ: TCR_EL1 field descriptions).
TG0_GRANULE = {0b00: 12, 0b01: 16, 0b10: 14}
TG1_GRANULE = {0b10: 12, 0b11: 16, 0b01: 14}

# SCTLR_EL1
SCTLR_M = Field(0, 1)
SCTLR_A = Field(1, 1)
SCTLR_C = Field(2, 1)
SCTLR_NAA = Field(6, 1)                 # FEAT_LSE2: unaligned load-acquire/store-release across 16 bytes allowed
SCTLR_I = Field(12, 1)
SCTLR_WXN = Field(19, 1)
SCTLR_SPAN = Field(23, 1)
SCTLR_EPAN = Field(57, 1)
SCTLR_UCI = Field(26, 1)                # EL0 may execute DC CVAC/CIVAC/IVAC, IC IVAU (the kernel sets it)
SCTLR_CMOW = Field(32, 1)               # FEAT_CMOW: EL0's DC CIVAC and IC IVAU need write permission too
SCTLR_DZE = Field(14, 1)                # EL0 may execute DC ZVA (0: it traps, EC 0x18; C5.3.38)

# SCTLR_EL2 with HCR_EL2.E2H = 0: M, A, C, I and WXN where SCTLR_EL1 has them; its RES1
# bits are [29:28], [23:22], 18, 16, 11, [5:4] (no SPAN, EPAN: the regime has no EL0).
SCTLR_EL2_RES1 = 0b11 << 28 | 0b11 << 22 | 1 << 18 | 1 << 16 | 1 << 11 | 0b11 << 4

# Translation regimes (the ASL's Regime_EL10, Regime_EL2, Regime_EL20): which one the steps run in.
REGIME_EL10 = "EL10"
REGIME_EL2 = "EL2"
REGIME_EL20 = "EL20"

# HCR_EL2: the fields that put EL2 and EL0 in the host's EL2&0 regime (FEAT_VHE)
HCR_TGE = Field(27, 1)
HCR_TDZ = Field(28, 1)                  # DC ZVA at EL1 and EL0 trapped to EL2 (C5.3.38)
HCR_TPCP = Field(23, 1)                 # DC CIVAC, CVAC, IVAC at EL1 and EL0 trapped to EL2 (C5.3.21, .25, .37)
HCR_TPU = Field(24, 1)                  # IC IVAU at EL1 and EL0 trapped to EL2 (C5.3.41)
HCR_RW = Field(31, 1)
HCR_E2H = Field(34, 1)
# HCR_EL2.NV, NV1 (FEAT_NV; D24.2.62): with both, EL1&0's stage 1 reads its descriptors as EL2's
HCR_NV = Field(42, 1)
HCR_NV1 = Field(43, 1)
# HCRX_EL2.FnXS (FEAT_XS with FEAT_HCX; D24.2.63): EL1's TLBIs without nXS act as their nXS forms
HCRX_FNXS = Field(3, 1)

# TTBRn_EL1: BADDR[47:1]; with a 52-bit descriptor format BADDR[51:48] sit in bits[5:2].
TTBR_BADDR = Field(1, 47)
TTBR_ASID = Field(48, 16)
TTBR_BADDR_HI = Field(2, 4)

# ID_AA64MMFRn_EL1 (the field positions harness/features.py reads the boot record with)
MMFR0_PARANGE = Field(features.PARANGE, 4)
MMFR0_TGRAN16 = Field(features.TGRAN16, 4)
MMFR0_TGRAN4 = Field(features.TGRAN4, 4)
MMFR1_HAFDBS = Field(features.HAFDBS, 4)
MMFR1_HPDS = Field(features.HPDS, 4)
MMFR1_PAN = Field(features.PAN, 4)
MMFR1_XNX = Field(features.XNX, 4)
MMFR1_CMOW = Field(features.CMOW, 4)
MMFR1_VMIDBITS = Field(features.VMIDBITS, 4)
MMFR2_VARANGE = Field(features.VARANGE, 4)
MMFR2_ST = Field(features.ST, 4)
MMFR2_E0PD = Field(features.E0PD, 4)
MMFR2_AT = Field(features.AT, 4)        # FEAT_LSE2
MMFR2_BBM = Field(features.BBM, 4)      # 0b0001 FEAT_BBML1, 0b0010 FEAT_BBML2 (which implies BBML1)

IPS_BITS = {encoding: bits for bits, encoding in IPS_ENCODING.items()}


# TCR2_ELx (FEAT_TCR2; D24.2.190, D24.2.191): the same bits at EL1 and EL2 for these
TCR2_PIE = Field(1, 1)                  # FEAT_S1PIE
TCR2_AIE = Field(4, 1)                  # FEAT_AIE
TCR2_A2 = Field(16, 1)                  # FEAT_ASID2: two ASIDs, TTBR0's and TTBR1's, one per VA range
TCR2_FNG0 = Field(17, 1)                # FEAT_ASID2: TTBR0's range non-global whatever nG
TCR2_FNG1 = Field(18, 1)                # FEAT_ASID2: TTBR1's

# J1.1.4.82 AArch64.GetS1TTWParams / J1.1.4.88 AArch64.NSS2TTWParams: the registers they read
@dataclass(frozen=True)
class Registers:
    """Raw register values: what the kernel programs (tcr, mair, sctlr, ttbr0,
    ttbr1; hcr, vtcr, vttbr for stage 2) and what the CPU reports (mmfr0..2,
    ID_AA64MMFRn_EL1).  regime: the translation regime the steps run in;
    for REGIME_EL2, tcr, mair, sctlr and ttbr0 are TCR_EL2, MAIR_EL2,
    SCTLR_EL2 and TTBR0_EL2 (ttbr1 unused)."""
    tcr: int
    mair: int
    sctlr: int
    ttbr0: int
    ttbr1: int
    mmfr0: int
    mmfr1: int = 0
    mmfr2: int = 0
    # EL2's view, for stage 2 (harness/model/stage2.py): HCR_EL2, VTCR_EL2, VTTBR_EL2; 0: no stage 2.
    hcr: int = 0
    vtcr: int = 0
    vttbr: int = 0
    regime: str = REGIME_EL10
    # Later features' registers, 0 on a CPU without them (the kernel neither writes nor reports them):
    # TCR2_ELx (FEAT_TCR2), PIR_ELx and PIRE0_ELx (FEAT_S1PIE), MAIR2_ELx (FEAT_AIE), S2PIR_EL2 (FEAT_S2PIE).
    tcr2: int = 0
    pir: int = 0
    pire0: int = 0
    mair2: int = 0
    s2pir: int = 0
    hcrx: int = 0           # HCRX_EL2 (FEAT_HCX): FnXS, the one field the model reads
    dczid: int = 0          # DCZID_EL0 (the boot record): DC ZVA's block size (BS) and DZP
    clidr: int = 0          # CLIDR_EL1 (the boot record): LoC, whether DC to the PoC may be a NOP
    ctr: int = 0            # CTR_EL0 (the boot record): DIC, whether IC IVAU may be a NOP


# J1.1.4.82 AArch64.GetS1TTWParams's S1TTWParams (the fields the model reads)
@dataclass(frozen=True)
class WalkParams:
    """One VA range's stage 1 walk parameters (AArch64.GetS1TTWParams, S1TTWParams)."""
    upper: bool             # VA bit 55 set: TTBR1_EL1's range
    granule: int            # granule shift: 12, 14 or 16
    txsz: int               # TnSZ as programmed
    epd: bool
    tbi: bool
    tbid: bool
    hpd: bool               # hierarchical permissions disabled (FEAT_HPDS)
    ha: bool
    hd: bool
    ds: bool                # FEAT_LPA2's 52-bit formats in effect
    lpa: bool               # descriptor bits[15:12] are OA[51:48] (64K, FEAT_LPA; see walk.lpa_choices)
    ttbr_wide: bool         # TTBR BADDR[51:48] in bits[5:2] (DS, or 64K with FEAT_LPA and IPS = 52 bits)
    oasize: int             # AArch64.PhysicalAddressSize: Min(IPS, PAMax)
    pamax: int              # AArch64.PAMax: the implemented PA size (PARange)
    mintxsz: int            # AArch64.S1MinTxSZ
    feat_lva: bool          # FEAT_LVA (ID_AA64MMFR2_EL1.VARange): TnSZ below the minimum always faults
    maxtxsz: int            # AArch64.MaxTxSZ
    tcr_sh: int             # TCR_EL1.SHn: shareability of leaves when DS = 1
    ttbr: int
    wxn: bool
    e0pd: bool              # TCR_EL1.E0PDn: EL0 may not use this range (FEAT_E0PD)
    pan: bool               # FEAT_PAN: PSTATE.PAN has its effect
    epan: bool              # SCTLR_EL1.EPAN with FEAT_PAN3: PAN covers EL0-executable memory
    a: bool                 # SCTLR_EL1.A
    c: bool                 # SCTLR_EL1.C
    i: bool                 # SCTLR_EL1.I
    lse2: bool              # FEAT_LSE2 (ID_AA64MMFR2_EL1.AT)
    naa: bool               # SCTLR_ELx.nAA with FEAT_LSE2 (RES0 without)
    mair: int
    unprivileged: bool = True   # HasUnprivileged(regime): EL1&0 has EL0, EL2 (E2H = 0) has not
    two_ranges: bool = True     # the regime has TTBR0 and TTBR1 ranges (VA bit 55 selects); EL2 has one
    pie: bool = False           # TCR2_ELx.PIE (FEAT_S1PIE): permissions through pir and pire0 (indirect.py)
    pir: int = 0                # PIR_ELx
    pire0: int = 0              # PIRE0_ELx (0 where the regime has no EL0)
    aie: bool = False           # TCR2_ELx.AIE (FEAT_AIE): AttrIndx[3] selects MAIR2_ELx (attributes.py)
    mair2: int = 0              # MAIR2_ELx
    fng: bool = False           # TCR2_ELx.FNGn (FEAT_ASID2): the range's translations are non-global
    cmow: bool = False          # SCTLR_ELx.CMOW (FEAT_CMOW): EL0's DC CIVAC and IC IVAU need write permission
    nv1: bool = False           # walkparams.nv1: EffectiveHCR_EL2_NVx()<1> of Regime_EL10 (FEAT_NV, HCR_EL2.NV1)
    bbml1: bool = False         # FEAT_BBML1 (ID_AA64MMFR2_EL1.BBM >= 1): a block's bit 16 is nT (walk.nt_choices)
    nt_faults: bool = False     # the IMPLEMENTATION DEFINED "nT bit causes Translation Fault" (walk.nt_choices)


# J1.3.3.411 ELIsInHost
def el_is_in_host(regs, el):
    """ELIsInHost(el) where the steps run in regs.regime: EL2, and EL0 (TGE = 1), are in the host
    exactly in the EL2&0 regime (the kernel's +vhe boot sets E2H and TGE together)."""
    return regs.regime == REGIME_EL20 and el in (0, 2)


# J1.1.4.87 AArch64.MaxTxSZ
def max_txsz(granule, ttst):
    """The largest TxSZ of either stage: 48 (4K, 16K) or 47 (64K) with FEAT_TTST, else 39."""
    return (47 if granule == 16 else 48) if ttst else 39


# J1.1.4.89 AArch64.PAMax
def pa_max(mmfr0):
    """AArch64.PAMax(): the implemented PA size in bits (ID_AA64MMFR0_EL1.PARange)."""
    return IPS_BITS.get(MMFR0_PARANGE.get(mmfr0), 52)


# J1.1.4.102/103/104 AArch64.S1TTWParamsEL10/EL2/EL20: one VA range's TCR_ELx fields
@dataclass(frozen=True)
class _RegimeFields:
    """The TCR_ELx fields of one VA range, as the regime's own layout holds them."""
    granule: int
    txsz: int
    ips: int                # IPS (TCR_EL1) or PS (TCR_EL2) encoding
    epd: int
    tbi: int
    tbid: int
    hpd: int
    sh: int
    ttbr: int
    e0pd: int
    ha: int
    hd: int
    ds: int


# J1.1.4.102 AArch64.S1TTWParamsEL10 (and J1.1.4.104 EL20, the same layout with E2H = 1)
def _el10_fields(regs, upper):
    """TCR_EL1's fields for TTBR0_EL1's range or (upper) TTBR1_EL1's."""
    tcr = regs.tcr
    common = dict(ips=TCR_IPS.get(tcr), ha=TCR_HA.get(tcr), hd=TCR_HD.get(tcr), ds=TCR_DS.get(tcr))
    if upper:
        return _RegimeFields(granule=TG1_GRANULE.get(TCR_TG1.get(tcr), 12), txsz=TCR_T1SZ.get(tcr),
                             epd=TCR_EPD1.get(tcr), tbi=TCR_TBI1.get(tcr), tbid=TCR_TBID1.get(tcr),
                             hpd=TCR_HPD1.get(tcr), sh=TCR_SH1.get(tcr), ttbr=regs.ttbr1, e0pd=TCR_E0PD1.get(tcr),
                             **common)
    return _RegimeFields(granule=TG0_GRANULE.get(TCR_TG0.get(tcr), 12), txsz=TCR_T0SZ.get(tcr),
                         epd=TCR_EPD0.get(tcr), tbi=TCR_TBI0.get(tcr), tbid=TCR_TBID0.get(tcr),
                         hpd=TCR_HPD0.get(tcr), sh=TCR_SH0.get(tcr), ttbr=regs.ttbr0, e0pd=TCR_E0PD0.get(tcr),
                         **common)


# J1.1.4.103 AArch64.S1TTWParamsEL2
def _el2_fields(regs):
    """TCR_EL2's fields with HCR_EL2.E2H = 0 (Regime_EL2): one range, TTBR0_EL2, no EPD or E0PD."""
    tcr = regs.tcr
    return _RegimeFields(granule=TG0_GRANULE.get(TCR_EL2_TG0.get(tcr), 12), txsz=TCR_EL2_T0SZ.get(tcr),
                         ips=TCR_EL2_PS.get(tcr), epd=0, tbi=TCR_EL2_TBI.get(tcr), tbid=TCR_EL2_TBID.get(tcr),
                         hpd=TCR_EL2_HPD.get(tcr), sh=TCR_EL2_SH0.get(tcr), ttbr=regs.ttbr0, e0pd=0,
                         ha=TCR_EL2_HA.get(tcr), hd=TCR_EL2_HD.get(tcr), ds=TCR_EL2_DS.get(tcr))


# J1.1.4.82 AArch64.GetS1TTWParams (J1.1.4.102-104 S1TTWParamsEL10/EL2/EL20). Simplified: no D128, POE, MTX, NFD,
# HAFT; refused elsewhere where they matter
@lru_cache(maxsize=4096)
def walk_params(regs, upper):
    """AArch64.GetS1TTWParams for the regime the steps run in (Regime_EL10, or
    Regime_EL20 with the same fields, or Regime_EL2: HasUnprivileged FALSE, one VA
    range, no PAN) and the VA range `upper` selects (EL1&0, EL2&0: EL2 has one)."""
    el2 = regs.regime == REGIME_EL2
    f = _el2_fields(regs) if el2 else _el10_fields(regs, upper)
    granule = f.granule
    pamax = pa_max(regs.mmfr0)
    hafdbs = MMFR1_HAFDBS.get(regs.mmfr1)
    # TCR_ELx.DS has its effect only where the granule supports 52-bit addresses
    # (ID_AA64MMFR0_EL1.TGran4 = 0b0001, TGran16 = 0b0010: FEAT_LPA2).
    lpa2 = (granule == 12 and MMFR0_TGRAN4.get(regs.mmfr0) == 0b0001 or
            granule == 14 and MMFR0_TGRAN16.get(regs.mmfr0) == 0b0010)
    ds = bool(f.ds) and lpa2
    ips_bits = IPS_BITS.get(f.ips, 52)
    # Descriptor bits[15:12] are OA[51:48] with 64K and a 52-bit PAMax whatever IPS (AArch64.S1LeafBase;
    # review D6); the TTBR's BADDR[51:48] only with IPS = 52 bits too (AArch64.S1TTBaseAddress).
    lpa = granule == 16 and pamax >= 52
    ttbr_wide = ds or lpa and ips_bits == 52
    feat_lva = MMFR2_VARANGE.get(regs.mmfr2) >= 0b0001
    small = MMFR2_ST.get(regs.mmfr2) == 0b0001
    pan = MMFR1_PAN.get(regs.mmfr1)
    # TCR2_ELx (the kernel writes it only on a CPU with FEAT_TCR2, and a case setting PIE or AIE
    # requires FEAT_S1PIE or FEAT_AIE: Registers.tcr2 is 0 elsewhere).
    pie, aie = bool(TCR2_PIE.get(regs.tcr2)), bool(TCR2_AIE.get(regs.tcr2))
    return WalkParams(
        upper=upper, granule=granule, txsz=f.txsz, epd=bool(f.epd), tbi=bool(f.tbi), tbid=bool(f.tbid),
        # PIE and AIE disable the hierarchical permissions as HPD does (walkparams.hpd forced to 1).
        hpd=bool(f.hpd) and MMFR1_HPDS.get(regs.mmfr1) >= 1 or pie or aie,
        # FEAT_HAFDBS: HA needs HAFDBS >= 1, HD needs HAFDBS >= 2; HD without HA updates nothing
        # (AArch64.S1Translate tests walkparams.ha and walkparams.hd together).
        ha=bool(f.ha) and hafdbs >= 1, hd=bool(f.hd) and hafdbs >= 2,
        ds=ds, lpa=lpa, ttbr_wide=ttbr_wide,
        # With 48-bit descriptor formats no OA above 48 bits can be expressed.
        oasize=min(ips_bits, pamax, 52 if ds or lpa else 48),
        pamax=pamax,
        # AArch64.S1MinTxSZ (J1.1.4.98; no FEAT_LVA3, D128): 12 with FEAT_LVA for 64K or DS, else 16.
        mintxsz=12 if feat_lva and (ds or granule == 16) else 16, feat_lva=feat_lva,
        bbml1=MMFR2_BBM.get(regs.mmfr2) >= 0b0001,
        maxtxsz=max_txsz(granule, small),
        tcr_sh=f.sh, ttbr=f.ttbr,
        wxn=bool(SCTLR_WXN.get(regs.sctlr)),
        e0pd=bool(f.e0pd) and MMFR2_E0PD.get(regs.mmfr2) >= 1,
        # PSTATE.PAN has no effect in a regime without EL0 (AArch64.S1DirectBasePermissions).
        pan=not el2 and pan >= 1,
        epan=not el2 and bool(SCTLR_EPAN.get(regs.sctlr)) and pan >= 3,
        a=bool(SCTLR_A.get(regs.sctlr)),
        c=bool(SCTLR_C.get(regs.sctlr)), i=bool(SCTLR_I.get(regs.sctlr)),
        lse2=MMFR2_AT.get(regs.mmfr2) >= 1, naa=MMFR2_AT.get(regs.mmfr2) >= 1 and bool(SCTLR_NAA.get(regs.sctlr)),
        mair=regs.mair,
        unprivileged=not el2, two_ranges=not el2,
        pie=pie, pir=regs.pir, pire0=0 if el2 else regs.pire0, aie=aie, mair2=regs.mair2,
        # TCR2_ELx.FNG0/FNG1 (FEAT_ASID2; TCR2 is 0 on a CPU without it, and a case setting them requires it).
        fng=not el2 and bool((TCR2_FNG1 if upper else TCR2_FNG0).get(regs.tcr2)),
        nv1=effective_nv1(regs),
        cmow=bool(SCTLR_CMOW.get(regs.sctlr)) and MMFR1_CMOW.get(regs.mmfr1) >= 1,
    )


# J1.3.3.418 EffectiveHCR_EL2_NVx()<1>, as J1.1.4.102 AArch64.S1TTWParamsEL10 reads it (walkparams.nv1).  Simplified:
# NV1 with NV only (NV1 alone, CONSTRAINED UNPREDICTABLE Unpredictable_NVNV1, is refused by the case loader), FEAT_E2H0
# taken as implemented (without it NV1 may be RAZ: the loader makes such a case require FEAT_E2H0), and FEAT_NV
# present wherever HCR_EL2 has the bits (a case setting them requires it).
def effective_nv1(regs):
    """Whether EL1&0's stage 1 walks with nv1: HCR_EL2.{NV, NV1} = {1, 1} in the EL1&0 regime."""
    return regs.regime == REGIME_EL10 and bool(HCR_NV.get(regs.hcr)) and bool(HCR_NV1.get(regs.hcr))
