"""Features a case may require, read from the ID registers the kernel reports
at boot (ID_AA64MMFR0/1/2_EL1, ID_AA64ISAR0_EL1, Arm ARM D19).  A case whose
CPU lacks one is skipped with the reason."""

from harness.geometry import IPS_ENCODING


def _field(value, lsb):
    return value >> lsb & 0xF


# ID_AA64MMFR0_EL1
PARANGE, ASIDBITS, TGRAN16, TGRAN64, TGRAN4 = 0, 4, 20, 24, 28
TGRAN16_2, TGRAN64_2, TGRAN4_2 = 32, 36, 40    # stage 2 granules: 0 as stage 1's field, 1 none, 2 or 3 yes
# ID_AA64MMFR1_EL1
HAFDBS, VMIDBITS, VH, HPDS, PAN, XNX = 0, 4, 8, 12, 20, 28
# ID_AA64MMFR2_EL1
CNP, VARANGE, ST, FWB, E0PD = 0, 16, 28, 40, 60
# ID_AA64ISAR0_EL1: TLB = 0b0010 is FEAT_TLBIOS and FEAT_TLBIRANGE (0b0001: FEAT_TLBIOS alone)
TLB = 56

# The ID registers of the boot record (kernel/main.c report_boot), in the order predicates take them.
ID_REGISTERS = ("mmfr0", "mmfr1", "mmfr2", "isar0")

# PARange uses TCR_EL1.IPS's encoding of PA sizes.
PA_BITS = {encoding: bits for bits, encoding in IPS_ENCODING.items()}

# name -> (what it means, predicate over the boot record's ID_REGISTERS)
FEATURES = {
    "granule4k": ("4K granule", lambda m0, m1, m2, i0: _field(m0, TGRAN4) != 0xF),
    "granule16k": ("16K granule", lambda m0, m1, m2, i0: _field(m0, TGRAN16) != 0x0),
    "granule64k": ("64K granule", lambda m0, m1, m2, i0: _field(m0, TGRAN64) != 0xF),
    "pa48": ("48-bit physical addresses", lambda m0, m1, m2, i0: PA_BITS.get(_field(m0, PARANGE), 0) >= 48),
    "FEAT_LPA": ("52-bit PA with the 64K granule", lambda m0, m1, m2, i0: _field(m0, PARANGE) == 6),
    "FEAT_LPA2": ("52-bit VAs and PAs with the 4K and 16K granules, TCR_EL1.DS",
                  lambda m0, m1, m2, i0: _field(m0, TGRAN4) == 1 or _field(m0, TGRAN16) == 2),
    "FEAT_LVA": ("52-bit VA with the 64K granule", lambda m0, m1, m2, i0: _field(m2, VARANGE) == 1),
    "FEAT_TTST": ("small translation tables", lambda m0, m1, m2, i0: _field(m2, ST) == 1),
    "FEAT_HAFDBS": ("hardware Access flag update", lambda m0, m1, m2, i0: _field(m1, HAFDBS) >= 1),
    "FEAT_HAFDBS_DIRTY": ("hardware Access flag and dirty state update",
                          lambda m0, m1, m2, i0: _field(m1, HAFDBS) >= 2),
    "FEAT_TTCNP": ("common not private translations", lambda m0, m1, m2, i0: _field(m2, CNP) == 1),
    "FEAT_PAN": ("Privileged Access Never, PSTATE.PAN", lambda m0, m1, m2, i0: _field(m1, PAN) >= 1),
    "FEAT_PAN2": ("AT S1E1RP/S1E1WP", lambda m0, m1, m2, i0: _field(m1, PAN) >= 2),
    "FEAT_PAN3": ("SCTLR_EL1.EPAN: PAN for EL0-executable memory", lambda m0, m1, m2, i0: _field(m1, PAN) >= 3),
    "FEAT_HPDS": ("TCR_EL1.HPD0/HPD1: hierarchical permissions disabled", lambda m0, m1, m2, i0: _field(m1, HPDS) >= 1),
    "FEAT_E0PD": ("TCR_EL1.E0PD0/E0PD1: EL0 access to a half faults", lambda m0, m1, m2, i0: _field(m2, E0PD) >= 1),
    "asid16": ("16-bit ASIDs (TCR_EL1.AS)", lambda m0, m1, m2, i0: _field(m0, ASIDBITS) == 0b0010),
}


def _s2_granule(m0, stage2_lsb, stage1_lsb, stage1_supported):
    """ID_AA64MMFR0_EL1.TGranX_2: a granule stage 2 supports (0b0000: as stage 1's TGranX says)."""
    field = _field(m0, stage2_lsb)
    return field >= 2 if field else stage1_supported(_field(m0, stage1_lsb))


FEATURES.update({
    "pa42": ("42-bit physical addresses or more", lambda m0, m1, m2, i0: PA_BITS.get(_field(m0, PARANGE), 0) >= 42),
    "pa44": ("44-bit physical addresses or more", lambda m0, m1, m2, i0: PA_BITS.get(_field(m0, PARANGE), 0) >= 44),
    "s2granule4k": ("the 4K granule at stage 2",
                    lambda m0, m1, m2, i0: _s2_granule(m0, TGRAN4_2, TGRAN4, lambda f: f != 0xF)),
    "s2granule16k": ("the 16K granule at stage 2",
                     lambda m0, m1, m2, i0: _s2_granule(m0, TGRAN16_2, TGRAN16, lambda f: f != 0x0)),
    "s2granule64k": ("the 64K granule at stage 2",
                     lambda m0, m1, m2, i0: _s2_granule(m0, TGRAN64_2, TGRAN64, lambda f: f != 0xF)),
    "FEAT_XNX": ("stage 2 XN[0]: execute-never for EL1 or EL0 alone", lambda m0, m1, m2, i0: _field(m1, XNX) >= 1),
    "FEAT_VMID16": ("16-bit VMIDs (VTCR_EL2.VS)", lambda m0, m1, m2, i0: _field(m1, VMIDBITS) == 2),
    "FEAT_TLBIRANGE": ("TLBI by range of VAs (TLBI RVAE1 ...)", lambda m0, m1, m2, i0: _field(i0, TLB) >= 2),
    "FEAT_S2FWB": ("HCR_EL2.FWB: stage 2 forced write-back", lambda m0, m1, m2, i0: _field(m2, FWB) >= 1),
    "FEAT_VHE": ("the EL2&0 regime, HCR_EL2.E2H (ID_AA64MMFR1_EL1.VH)", lambda m0, m1, m2, i0: _field(m1, VH) >= 1),
})


# The implemented PA size, exactly: for expectations that depend on it.
FEATURES.update({
    f"parange{bits}": (f"implemented PA size of exactly {bits} bits",
                       lambda m0, m1, m2, i0, bits=bits: PA_BITS.get(_field(m0, PARANGE)) == bits)
    for bits in (40, 44, 48, 52)
})


# The ID register fields each feature is read from (register index in ID_REGISTERS, field name, lsb):
# a skip names them and their values.
_REGISTER_NAMES = ("ID_AA64MMFR0_EL1", "ID_AA64MMFR1_EL1", "ID_AA64MMFR2_EL1", "ID_AA64ISAR0_EL1")
FIELDS = {
    "granule4k": ((0, "TGran4", TGRAN4),), "granule16k": ((0, "TGran16", TGRAN16),),
    "granule64k": ((0, "TGran64", TGRAN64),),
    "FEAT_LPA2": ((0, "TGran4", TGRAN4), (0, "TGran16", TGRAN16)), "FEAT_LVA": ((2, "VARange", VARANGE),),
    "FEAT_TTST": ((2, "ST", ST),), "FEAT_HAFDBS": ((1, "HAFDBS", HAFDBS),), "FEAT_HAFDBS_DIRTY": ((1, "HAFDBS", HAFDBS),),
    "FEAT_TTCNP": ((2, "CnP", CNP),), "FEAT_PAN": ((1, "PAN", PAN),), "FEAT_PAN2": ((1, "PAN", PAN),),
    "FEAT_PAN3": ((1, "PAN", PAN),), "FEAT_HPDS": ((1, "HPDS", HPDS),), "FEAT_E0PD": ((2, "E0PD", E0PD),),
    "asid16": ((0, "ASIDBits", ASIDBITS),),
    "s2granule4k": ((0, "TGran4_2", TGRAN4_2), (0, "TGran4", TGRAN4)),
    "s2granule16k": ((0, "TGran16_2", TGRAN16_2), (0, "TGran16", TGRAN16)),
    "s2granule64k": ((0, "TGran64_2", TGRAN64_2), (0, "TGran64", TGRAN64)),
    "FEAT_XNX": ((1, "XNX", XNX),), "FEAT_VMID16": ((1, "VMIDBits", VMIDBITS),), "FEAT_TLBIRANGE": ((3, "TLB", TLB),),
    "FEAT_S2FWB": ((2, "FWB", FWB),), "FEAT_VHE": ((1, "VH", VH),),
    **{name: ((0, "PARange", PARANGE),) for name in FEATURES if name.startswith(("pa", "FEAT_LPA"))
       and name != "FEAT_LPA2"},
}


def fields_text(name, ids):
    """The ID register fields feature `name` is read from, with their values: 'ID_AA64MMFR1_EL1.PAN = 0x2'."""
    return ", ".join(f"{_REGISTER_NAMES[reg]}.{field} = {_field(ids[reg], lsb):#x}" for reg, field, lsb in FIELDS[name])


def boot_ids(boot):
    """The ID registers of a boot record (harness.protocol), as the predicates take them."""
    return tuple(boot.num(name) for name in ID_REGISTERS)


def missing(requires, *ids):
    """The requirements a CPU with these ID registers (ID_REGISTERS) does not meet, each said of the
    CPU: 'lacks NAME (...)', or for "!NAME" (NAME's absence required) 'has NAME, which the case
    requires absent (...)'."""
    unmet = []
    for req in requires:
        name = req.lstrip("!")
        present = FEATURES[name][1](*ids)
        if req.startswith("!") and present:
            unmet.append(f"has {name}, which the case requires absent ({FEATURES[name][0]}; {fields_text(name, ids)})")
        elif not req.startswith("!") and not present:
            unmet.append(f"lacks {name} ({FEATURES[name][0]}; {fields_text(name, ids)})")
    return unmet
