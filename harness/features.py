"""Features a case may require, read from the ID registers the kernel reports
at boot (ID_AA64MMFR0-4_EL1, ID_AA64ISAR0-2_EL1, ID_AA64PFR1_EL1, Arm ARM
D24.2).  A case whose CPU lacks one is skipped with the reason."""
from typing import NamedTuple

from harness.geometry import IPS_ENCODING


def _field(value, lsb):
    return value >> lsb & 0xF


# ID_AA64MMFR0_EL1
PARANGE, ASIDBITS, TGRAN16, TGRAN64, TGRAN4 = 0, 4, 20, 24, 28
TGRAN16_2, TGRAN64_2, TGRAN4_2 = 32, 36, 40    # stage 2 granules: 0 as stage 1's field, 1 none, 2 or 3 yes
# ID_AA64MMFR1_EL1 (HCX: FEAT_HCX, HCRX_EL2)
HAFDBS, VMIDBITS, VH, HPDS, PAN, XNX, HCX, CMOW = 0, 4, 8, 12, 20, 28, 40, 56
# ID_AA64MMFR2_EL1 (BBM: 0b0001 FEAT_BBML1, 0b0010 FEAT_BBML2)
CNP, VARANGE, AT, ST, FWB, BBM, E0PD = 0, 16, 32, 28, 40, 52, 60
# ID_AA64ISAR0_EL1: TLB = 0b0010 is FEAT_TLBIOS and FEAT_TLBIRANGE (0b0001: FEAT_TLBIOS alone); Atomic = 0b0010 FEAT_LSE
TLB, ATOMIC = 56, 20
# ID_AA64MMFR2_EL1.NV: 1 FEAT_NV, 2 FEAT_NV2
NV = 24
# ID_AA64MMFR3_EL1 (D24.2.91)
TCRX, SCTLRX, S1PIE, S2PIE, S1POE, S2POE, AIE = 0, 4, 8, 12, 16, 20, 24
# ID_AA64MMFR4_EL1 (D24.2.92): ASID2 (FEAT_ASID2), NV_frac (non-zero: FEAT_NV and FEAT_NV2 with MMFR2.NV 0), E2H0
ASID2, NV_FRAC, E2H0 = 8, 20, 24
# ID_AA64PFR1_EL1.GCS (D24.2.94), ID_AA64ISAR1_EL1.XS and LRCPC (D24.2.85), ID_AA64ISAR2_EL1.ATS1A (D24.2.86)
GCS, XS, LRCPC, ATS1A = 44, 56, 20, 60
# DCZID_EL0 (D24.2.44): BS, log2 of DC ZVA's block in words; DZP, DC ZVA prohibited (bits [7:5] RES0)
DCZID_BS, DCZID_DZP = 0, 4
# CLIDR_EL1.LoC (bits [26:24]) and CTR_EL0.DIC (bit 29): where 0 and 1, DC to the PoC and IC IVAU may be NOPs
CLIDR_LOC, CTR_DIC = 24, 29


class Ids(NamedTuple):
    """The ID registers of the boot record (kernel/main.c report_boot), in its order; those after
    isar0 are 0 in records of kernels before they were reported."""
    mmfr0: int
    mmfr1: int
    mmfr2: int
    isar0: int
    mmfr3: int = 0
    mmfr4: int = 0
    pfr1: int = 0
    isar1: int = 0
    isar2: int = 0
    dczid: int = 0          # DCZID_EL0: not an ID register, but what the CPU says of DC ZVA (BS, DZP)
    clidr: int = 0          # CLIDR_EL1 (LoC) and CTR_EL0 (DIC): whether DC to the PoC and IC IVAU may be NOPs
    ctr: int = 0


ID_REGISTERS = Ids._fields

# PARange uses TCR_EL1.IPS's encoding of PA sizes.
PA_BITS = {encoding: bits for bits, encoding in IPS_ENCODING.items()}

# name -> (what it means, predicate over the boot record's ID_REGISTERS)
FEATURES = {
    "granule4k": ("4K granule", lambda r: _field(r.mmfr0, TGRAN4) != 0xF),
    "granule16k": ("16K granule", lambda r: _field(r.mmfr0, TGRAN16) != 0x0),
    "granule64k": ("64K granule", lambda r: _field(r.mmfr0, TGRAN64) != 0xF),
    "pa48": ("48-bit physical addresses", lambda r: PA_BITS.get(_field(r.mmfr0, PARANGE), 0) >= 48),
    "FEAT_LPA": ("52-bit PA with the 64K granule", lambda r: _field(r.mmfr0, PARANGE) == 6),
    "FEAT_LPA2": ("52-bit VAs and PAs with the 4K and 16K granules, TCR_EL1.DS",
                  lambda r: _field(r.mmfr0, TGRAN4) == 1 or _field(r.mmfr0, TGRAN16) == 2),
    "FEAT_LVA": ("52-bit VA with the 64K granule", lambda r: _field(r.mmfr2, VARANGE) == 1),
    "FEAT_TTST": ("small translation tables", lambda r: _field(r.mmfr2, ST) == 1),
    "FEAT_BBML1": ("block size changes with the nT bit (block descriptor bit 16)", lambda r: _field(r.mmfr2, BBM) >= 1),
    "FEAT_HAFDBS": ("hardware Access flag update", lambda r: _field(r.mmfr1, HAFDBS) >= 1),
    "FEAT_HAFDBS_DIRTY": ("hardware Access flag and dirty state update",
                          lambda r: _field(r.mmfr1, HAFDBS) >= 2),
    "FEAT_TTCNP": ("common not private translations", lambda r: _field(r.mmfr2, CNP) == 1),
    "FEAT_PAN": ("Privileged Access Never, PSTATE.PAN", lambda r: _field(r.mmfr1, PAN) >= 1),
    "FEAT_PAN2": ("AT S1E1RP/S1E1WP", lambda r: _field(r.mmfr1, PAN) >= 2),
    "FEAT_PAN3": ("SCTLR_EL1.EPAN: PAN for EL0-executable memory", lambda r: _field(r.mmfr1, PAN) >= 3),
    "FEAT_HPDS": ("TCR_EL1.HPD0/HPD1: hierarchical permissions disabled", lambda r: _field(r.mmfr1, HPDS) >= 1),
    "FEAT_E0PD": ("TCR_EL1.E0PD0/E0PD1: EL0 access to a half faults", lambda r: _field(r.mmfr2, E0PD) >= 1),
    "asid16": ("16-bit ASIDs (TCR_EL1.AS)", lambda r: _field(r.mmfr0, ASIDBITS) == 0b0010),
}


def _s2_granule(m0, stage2_lsb, stage1_lsb, stage1_supported):
    """ID_AA64MMFR0_EL1.TGranX_2: a granule stage 2 supports (0b0000: as stage 1's TGranX says)."""
    field = _field(m0, stage2_lsb)
    return field >= 2 if field else stage1_supported(_field(m0, stage1_lsb))


FEATURES.update({
    "pa42": ("42-bit physical addresses or more", lambda r: PA_BITS.get(_field(r.mmfr0, PARANGE), 0) >= 42),
    "pa44": ("44-bit physical addresses or more", lambda r: PA_BITS.get(_field(r.mmfr0, PARANGE), 0) >= 44),
    "s2granule4k": ("the 4K granule at stage 2",
                    lambda r: _s2_granule(r.mmfr0, TGRAN4_2, TGRAN4, lambda f: f != 0xF)),
    "s2granule16k": ("the 16K granule at stage 2",
                     lambda r: _s2_granule(r.mmfr0, TGRAN16_2, TGRAN16, lambda f: f != 0x0)),
    "s2granule64k": ("the 64K granule at stage 2",
                     lambda r: _s2_granule(r.mmfr0, TGRAN64_2, TGRAN64, lambda f: f != 0xF)),
    "FEAT_XNX": ("stage 2 XN[0]: execute-never for EL1 or EL0 alone", lambda r: _field(r.mmfr1, XNX) >= 1),
    "FEAT_VMID16": ("16-bit VMIDs (VTCR_EL2.VS)", lambda r: _field(r.mmfr1, VMIDBITS) == 2),
    "FEAT_TLBIRANGE": ("TLBI by range of VAs (TLBI RVAE1 ...)", lambda r: _field(r.isar0, TLB) >= 2),
    "FEAT_S2FWB": ("HCR_EL2.FWB: stage 2 forced write-back", lambda r: _field(r.mmfr2, FWB) >= 1),
    "FEAT_VHE": ("the EL2&0 regime, HCR_EL2.E2H (ID_AA64MMFR1_EL1.VH)", lambda r: _field(r.mmfr1, VH) >= 1),
    "FEAT_LSE2": ("unaligned atomics, load-acquire and store-release within 16 bytes, SCTLR_ELx.nAA",
                  lambda r: _field(r.mmfr2, AT) >= 1),
    "FEAT_LSE": ("the atomic instructions LDADD, SWP, CAS", lambda r: _field(r.isar0, ATOMIC) >= 2),
})


# Armv8.7 on: the registers and translation features of the frontier (docs/model.md says which are modelled).
FEATURES.update({
    "FEAT_TCR2": ("TCR2_ELx", lambda r: _field(r.mmfr3, TCRX) >= 1),
    "FEAT_SCTLR2": ("SCTLR2_ELx", lambda r: _field(r.mmfr3, SCTLRX) >= 1),
    "FEAT_S1PIE": ("stage 1 permission indirection (TCR2_ELx.PIE, PIR_ELx, PIRE0_ELx)",
                   lambda r: _field(r.mmfr3, S1PIE) >= 1),
    "FEAT_S2PIE": ("stage 2 permission indirection (VTCR_EL2.S2PIE, S2PIR_EL2)", lambda r: _field(r.mmfr3, S2PIE) >= 1),
    "FEAT_S1POE": ("stage 1 permission overlays (POR_ELx)", lambda r: _field(r.mmfr3, S1POE) >= 1),
    "FEAT_AIE": ("AttrIndx[3] and MAIR2_ELx (TCR2_ELx.AIE)", lambda r: _field(r.mmfr3, AIE) >= 1),
    "FEAT_GCS": ("Guarded Control Stack", lambda r: _field(r.pfr1, GCS) >= 1),
    "FEAT_ASID2": ("TCR2_EL1.A2: two ASIDs, FNG0/FNG1", lambda r: _field(r.mmfr4, ASID2) >= 1),
    "FEAT_ATS1A": ("AT S1E1A, AT S1E2A", lambda r: _field(r.isar2, ATS1A) >= 1),
    "FEAT_XS": ("the XS attribute, nXS TLBI forms", lambda r: _field(r.isar1, XS) >= 1),
    "FEAT_HCX": ("HCRX_EL2 (its FnXS with FEAT_XS)", lambda r: _field(r.mmfr1, HCX) >= 1),
    "FEAT_CMOW": ("SCTLR_ELx.CMOW: EL0's DC CIVAC and IC IVAU need write permission",
                  lambda r: _field(r.mmfr1, CMOW) >= 1),
    "FEAT_LRCPC": ("LDAPR, the load-acquire RCpc", lambda r: _field(r.isar1, LRCPC) >= 1),
    "FEAT_NV": ("HCR_EL2.NV", lambda r: _field(r.mmfr2, NV) >= 1 or _field(r.mmfr4, NV_FRAC) >= 1),
    "FEAT_NV2": ("HCR_EL2.NV2", lambda r: _field(r.mmfr2, NV) >= 2 or _field(r.mmfr4, NV_FRAC) >= 1),
    "FEAT_E2H0": ("HCR_EL2.E2H may be 0", lambda r: _field(r.mmfr4, E2H0) == 0),
    "dczva64": ("DC ZVA permitted, zeroing 64-byte blocks",
                lambda r: _field(r.dczid, DCZID_BS) == 4 and _field(r.dczid, DCZID_DZP) == 0),
    # J1.1.3.34 AArch64.TreatDCAsNOP, J1.1.3.82 AArch64.TreatICAsNOP: where absent, each may be a NOP
    "dc_poc_translates": ("DC to the PoC is no NOP (CLIDR_EL1.LoC != 0)", lambda r: r.clidr >> CLIDR_LOC & 0b111 != 0),
    "ic_ivau_translates": ("IC IVAU is no NOP (CTR_EL0.DIC = 0)", lambda r: not r.ctr >> CTR_DIC & 1),
})


# The implemented PA size, exactly: for expectations that depend on it.
FEATURES.update({
    f"parange{bits}": (f"implemented PA size of exactly {bits} bits",
                       lambda r, bits=bits: PA_BITS.get(_field(r.mmfr0, PARANGE)) == bits)
    for bits in (40, 44, 48, 52)
})


# The ID register fields each feature is read from (register index in ID_REGISTERS, field name, lsb[, width]):
# a skip names them and their values.
_REGISTER_NAMES = ("ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1", "ID_AA64ISAR0_EL1", "ID_AA64MMFR3_EL1",
                   "ID_AA64MMFR4_EL1", "ID_AA64PFR1_EL1", "ID_AA64ISAR1_EL1", "ID_AA64ISAR2_EL1", "DCZID_EL0",
                   "CLIDR_EL1", "CTR_EL0")
FIELDS = {
    "granule4k": ((0, "TGran4", TGRAN4),), "granule16k": ((0, "TGran16", TGRAN16),),
    "granule64k": ((0, "TGran64", TGRAN64),),
    "FEAT_LPA2": ((0, "TGran4", TGRAN4), (0, "TGran16", TGRAN16)), "FEAT_LVA": ((2, "VARange", VARANGE),),
    "FEAT_TTST": ((2, "ST", ST),), "FEAT_BBML1": ((2, "BBM", BBM),), "FEAT_HAFDBS": ((1, "HAFDBS", HAFDBS),), "FEAT_HAFDBS_DIRTY": ((1, "HAFDBS", HAFDBS),),
    "FEAT_TTCNP": ((2, "CnP", CNP),), "FEAT_PAN": ((1, "PAN", PAN),), "FEAT_PAN2": ((1, "PAN", PAN),),
    "FEAT_PAN3": ((1, "PAN", PAN),), "FEAT_HPDS": ((1, "HPDS", HPDS),), "FEAT_E0PD": ((2, "E0PD", E0PD),),
    "asid16": ((0, "ASIDBits", ASIDBITS),),
    "s2granule4k": ((0, "TGran4_2", TGRAN4_2), (0, "TGran4", TGRAN4)),
    "s2granule16k": ((0, "TGran16_2", TGRAN16_2), (0, "TGran16", TGRAN16)),
    "s2granule64k": ((0, "TGran64_2", TGRAN64_2), (0, "TGran64", TGRAN64)),
    "FEAT_XNX": ((1, "XNX", XNX),), "FEAT_VMID16": ((1, "VMIDBits", VMIDBITS),), "FEAT_TLBIRANGE": ((3, "TLB", TLB),),
    "FEAT_S2FWB": ((2, "FWB", FWB),), "FEAT_VHE": ((1, "VH", VH),), "FEAT_LSE2": ((2, "AT", AT),), "FEAT_LSE": ((3, "Atomic", ATOMIC),),
    "FEAT_TCR2": ((4, "TCRX", TCRX),), "FEAT_SCTLR2": ((4, "SCTLRX", SCTLRX),), "FEAT_S1PIE": ((4, "S1PIE", S1PIE),),
    "FEAT_S2PIE": ((4, "S2PIE", S2PIE),), "FEAT_S1POE": ((4, "S1POE", S1POE),), "FEAT_AIE": ((4, "AIE", AIE),),
    "FEAT_GCS": ((6, "GCS", GCS),), "FEAT_ASID2": ((5, "ASID2", ASID2),), "FEAT_ATS1A": ((8, "ATS1A", ATS1A),),
    "FEAT_XS": ((7, "XS", XS),), "FEAT_HCX": ((1, "HCX", HCX),), "FEAT_CMOW": ((1, "CMOW", CMOW),), "FEAT_LRCPC": ((7, "LRCPC", LRCPC),), "FEAT_NV": ((2, "NV", NV), (5, "NV_frac", NV_FRAC)),
    "FEAT_NV2": ((2, "NV", NV), (5, "NV_frac", NV_FRAC)), "FEAT_E2H0": ((5, "E2H0", E2H0),),
    "dczva64": ((9, "BS", DCZID_BS), (9, "DZP", DCZID_DZP)),
    "dc_poc_translates": ((10, "LoC", CLIDR_LOC, 3),), "ic_ivau_translates": ((11, "DIC", CTR_DIC, 1),),
    **{name: ((0, "PARange", PARANGE),) for name in FEATURES if name.startswith(("pa", "FEAT_LPA"))
       and name != "FEAT_LPA2"},
}


def fields_text(name, ids):
    """The ID register fields feature `name` is read from, with their values: 'ID_AA64MMFR1_EL1.PAN = 0x2'."""
    ids = Ids(*ids)
    # (register, field, lsb) of a 4-bit ID field, (register, field, lsb, width) of another width (LoC, DIC)
    return ", ".join(f"{_REGISTER_NAMES[reg]}.{field} = {ids[reg] >> lsb & ((1 << (width or [4])[0]) - 1):#x}"
                     for reg, field, lsb, *width in FIELDS[name])


def boot_ids(boot):
    """The ID registers of a boot record (harness.protocol), as the predicates take them (Ids;
    0 for a register the record does not have)."""
    return Ids(*(boot.num(name) if name in boot.fields else 0 for name in ID_REGISTERS))


def has(name, *ids):
    """Whether a CPU with these ID registers (ID_REGISTERS, in order; the later ones may be left out)
    has feature `name`."""
    return FEATURES[name][1](Ids(*ids))


def missing(requires, *ids):
    """The requirements a CPU with these ID registers (ID_REGISTERS) does not meet, each said of the
    CPU: 'lacks NAME (...)', or for "!NAME" (NAME's absence required) 'has NAME, which the case
    requires absent (...)'."""
    unmet = []
    for req in requires:
        name = req.lstrip("!")
        present = has(name, *ids)
        if req.startswith("!") and present:
            unmet.append(f"has {name}, which the case requires absent ({FEATURES[name][0]}; {fields_text(name, ids)})")
        elif not req.startswith("!") and not present:
            unmet.append(f"lacks {name} ({FEATURES[name][0]}; {fields_text(name, ids)})")
    return unmet
