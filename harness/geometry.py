"""Stage 1 walk geometry (Arm ARM D8.2): the same arithmetic as kernel/pgtable.c,
used to validate cases before any kernel runs."""

GRANULES = {"4K": 12, "16K": 14, "64K": 16}

# TCR_EL1.IPS encodings by physical address size in bits.
IPS_ENCODING = {32: 0, 36: 1, 40: 2, 42: 3, 44: 4, 48: 5, 52: 6}


def level_shift(granule_shift, level):
    """Lowest VA bit a descriptor at `level` resolves: its block or page size is 1 << shift."""
    return granule_shift + (granule_shift - 3) * (3 - level)


def start_level(granule_shift, va_bits):
    stride = granule_shift - 3
    return 4 - -(-(va_bits - granule_shift) // stride)


def block_size(granule_shift, level):
    return 1 << level_shift(granule_shift, level)


def s2_start_level(granule_shift, sl0, sl2=False):
    """The stage 2 start level VTCR_EL2.SL0 names (J1.1.4.18 AArch64.S2StartLevel): with 4K,
    SL2:SL0 = 000, 001, 010 are levels 2, 1, 0, 011 level 3 (FEAT_TTST) and 100 level -1
    (FEAT_LPA2); with 16K and 64K, SL0 = 0, 1, 2, 3 are levels 3, 2, 1, 0.  None for an
    encoding that names no level (4K: SL2:SL0 = 1x1, 11x)."""
    if granule_shift == 12:
        if sl2:
            return -1 if sl0 == 0 else None
        return {0: 2, 1: 1, 2: 0, 3: 3}[sl0]
    return 3 - sl0


def s2_sl0(granule_shift, level):
    """The VTCR_EL2.SL0 value that starts stage 2 at `level`: s2_start_level's inverse
    (level -1 is SL0 = 0 with SL2 = 1; 4K level 3 is SL0 = 3, FEAT_TTST)."""
    if granule_shift == 12:
        return {-1: 0, 0: 2, 1: 1, 2: 0, 3: 3}[level]
    return 3 - level


def s2_sl_min_pa_bits(granule_shift, sl0, sl2=False):
    """The implemented PA size a stage 2 start level needs (J1.1.4.40 AArch64.S2InvalidSL: below
    it the start level is invalid, a Translation fault at level 0 for every access), or None."""
    if granule_shift == 12:
        return 52 if sl2 else 44 if sl0 == 2 else None
    if granule_shift == 14:
        return {3: 52, 2: 42}.get(sl0)
    return 44 if sl0 == 2 else None


def s2_default_start_level(granule_shift, ipa_bits):
    """The deepest stage 2 start level an IPA size allows: at most 16 tables concatenated
    there (Arm ARM D8.2.7), so the fewest levels, as Linux's KVM chooses (ARM64_HW_PGTABLE_LEVELS(ipa - 4))."""
    level = 3
    while ipa_bits - level_shift(granule_shift, level) > granule_shift - 3 + 4:
        level -= 1
    return level
