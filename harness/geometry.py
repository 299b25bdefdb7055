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
