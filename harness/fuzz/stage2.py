"""A generated case's stage 2: VTCR_EL2's geometry and controls, and stage 2 entries for the
frames stage 1 reaches through their alias IPAs (generate.Layout.output).

Every IPA a stage 2 entry maps is IPA_ALIAS + PA of the same frame (the alias is linear), so
what stage 1's layout keeps safe (stores away from code and table frames, nothing near the
kernel) stays so under any stage 2 the draw makes.  The frame pool is in the kernel's window,
which the kernel maps at IPA = PA itself (cases.kernel_ipa_ranges): frames reached there are
translated by that mapping, the rest by these entries, or by none (a stage 2 Translation fault).
"""
from harness import geometry
from harness.cases import S2AP_NAMES, SH_NAMES, Raw, S2Mapping, Stage2, kernel_ipa_ranges
from harness.cases.validation import PA_AT_LEAST

# Granules at stage 2 by the feature that has them, and how often each is drawn (64K costs most).
S2_GRANULES = {12: "s2granule4k", 14: "s2granule16k", 16: "s2granule64k"}
S2_GRANULE_WEIGHTS = {12: 2, 14: 2, 16: 1}
# Under stage 2, stage 1 reaches a frame at its PA or at this IPA above it (generate.Layout.output):
# an IPA range clear of the kernel's own stage 2 mappings, below 4 GiB.
IPA_ALIAS = 1 << 30
# The largest T0SZ: the aliases (below 4 GiB) must be in the IPA range.
MAX_T0SZ = 32


def _geometries(cpu, tg, ds, ps_bits):
    """(t0sz, sl0, sl2) this CPU can walk: the start levels whose tables resolve 1..tg+1 bits
    (at most 16 concatenated tables) and whose PA size the CPU implements (AArch64.S2InvalidSL;
    16K's SL0 = 3, level 0, with DS only).  4K's SL0 = 3 (level 3, FEAT_TTST) resolves at most 25
    IPA bits, below the kernel's own IPAs (1 GiB up): no case could run under it, so none has it.
    QEMU 7.2.22 refuses some of these (known bug s2_geometry_ps: the case stops before its first step)."""
    min_t0sz = 12 if ds or tg == 16 and ps_bits == 52 else 16
    out = []
    for t0sz in range(min_t0sz, MAX_T0SZ + 1):
        ipa_bits = 64 - t0sz
        for sl0 in (0, 1, 2, 3):
            for sl2 in (False, True):
                if sl2 and not (tg == 12 and ds and sl0 == 0) or tg == 14 and sl0 == 3 and not ds:
                    continue
                bits = ipa_bits - geometry.level_shift(tg, geometry.s2_start_level(tg, sl0, sl2))
                pa_bits = geometry.s2_sl_min_pa_bits(tg, sl0, sl2)
                if 1 <= bits <= tg + 1 and (not pa_bits or any(cpu.has(f) for f in PA_AT_LEAST[pa_bits])):
                    out.append((t0sz, sl0, sl2))
    return out


def random_geometry(rng, cpu):
    """(tg, t0sz, sl0, sl2, ds, ps_bits) of VTCR_EL2, every granule and start level the CPU has."""
    granules = [g for g, feature in S2_GRANULES.items() if cpu.has(feature)]
    while True:
        tg = rng.choices(granules, [S2_GRANULE_WEIGHTS[g] for g in granules])[0]
        ds = tg != 16 and cpu.has("FEAT_LPA2") and cpu.lpa2(tg) and rng.random() < 0.15
        ps_bits = rng.choice([32, 36, 40, 42, 44, 48, 48, 48, 52])
        # An IPA size above PS, or a start level whose least PA size is above PS, are drawn too: M.a.a
        # bounds the IPA by T0SZ alone and checks the start level against PAMax (AArch64.S2InvalidSL).
        # An IPA size above both PS and PAMax is not: T0SZ is then below AArch64.S2MinTxSZ, whose fault
        # is IMPLEMENTATION DEFINED, and the model's TLB cannot tell which stage 2 translation its
        # entries were walked with (Unknown) in too many of them.
        options = [o for o in _geometries(cpu, tg, ds, ps_bits) if 64 - o[0] <= max(ps_bits, cpu.pa_bits)]
        # Mostly within PS all the same: QEMU 7.2.22 runs no case beyond it (known bug s2_geometry_ps).
        within = [o for o in options
                  if 64 - o[0] <= ps_bits and (geometry.s2_sl_min_pa_bits(tg, o[1], o[2]) or 0) <= ps_bits]
        if within and rng.random() < 0.85:
            options = within
        if options:
            # Every start level as often as the others, then any T0SZ that gives it.
            starts = sorted({geometry.s2_start_level(tg, sl0, sl2) for _, sl0, sl2 in options})
            start = rng.choice(starts)
            t0sz, sl0, sl2 = rng.choice([o for o in options if geometry.s2_start_level(tg, o[1], o[2]) == start])
            return tg, t0sz, sl0, sl2, ds, ps_bits


def _collides(slots, lo, size):
    """Whether [lo, lo + size) overlaps a stage 2 slot already placed or the kernel's own."""
    if any(lo < end and start < lo + size for start, end in kernel_ipa_ranges()):
        return True
    return any(lo < s_lo + s_size and s_lo < lo + size for s_lo, s_size in slots)


def random_entry(rng, ipa, level):
    memattr = 0xF if rng.random() < 0.5 else rng.randrange(16)
    s2ap = "rw" if rng.random() < 0.5 else rng.choice(list(S2AP_NAMES))
    return S2Mapping(ipa=ipa, pa=ipa - IPA_ALIAS, level=level, memattr=memattr, s2ap=s2ap,
                     sh=rng.choice(list(SH_NAMES)), xn=rng.randrange(4) if rng.random() < 0.4 else 0,
                     af=rng.random() < 0.85, contig=False, dbm=rng.random() < 0.25)


def random_stage2(rng, layout):
    """A cases.Stage2 for the layout's aliased frames: for each, a stage 2 page or block at a level
    of this geometry (or an invalid descriptor there, or nothing), with random S2AP, XN, MemAttr,
    SH, AF and DBM; FWB, HA and HD where the CPU has them."""
    cpu = layout.cpu
    tg, t0sz, sl0, sl2, ds, ps_bits = random_geometry(rng, cpu)
    start = geometry.s2_start_level(tg, sl0, sl2)
    maps, raws, slots = [], [], []
    for ipa, size in layout.aliased:
        if rng.random() < 0.1:
            continue        # left unmapped: a stage 2 Translation fault at the level its walk stops
        levels = [lv for lv in range(max(start, 1), 4)]
        level = 3 if rng.random() < 0.6 else rng.choice(levels)
        block = geometry.block_size(tg, level)
        lo = ipa - ipa % block
        if block > 1 << 30 or _collides(slots, lo, block):
            continue
        slots.append((lo, block))
        if rng.random() < 0.12:
            raws.append(Raw(va=lo, level=level, desc=rng.getrandbits(64) & ~1 if rng.random() < 0.7 else 0))
        else:
            maps.append(random_entry(rng, lo, level))
    ha = cpu.has("FEAT_HAFDBS") and rng.random() < 0.3
    return Stage2(tg=tg, t0sz=t0sz, sl0=sl0, ps_bits=ps_bits, fwb=cpu.has("FEAT_S2FWB") and rng.random() < 0.3,
                  ha=ha, hd=ha and cpu.has("FEAT_HAFDBS_DIRTY") and rng.random() < 0.5, vs=False,
                  vmid=rng.randrange(256) if rng.random() < 0.5 else 0, maps=tuple(maps), raws=tuple(raws),
                  ds=ds, sl2=sl2)


def s2_slots(stage2):
    """(ipa, level, kind) of each stage 2 entry: what a stage 2 change may rewrite."""
    return [(m.ipa, m.level, "map") for m in stage2.maps] + [(w.va, w.level, "raw") for w in stage2.raws]
