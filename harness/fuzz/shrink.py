"""Shrink a failing case to a minimal one: fewest mappings, steps and set bits.

Generic over the failure: `still_fails(candidates)` answers, for a list of
smaller cases, which still fail the same way (a campaign runs them all in one
QEMU boot, so a round costs one boot however many candidates it has).  Each
round proposes every one-change reduction of the current case, most
reducing first, and keeps the first that still fails; it ends when none does.
Every candidate is strictly smaller by `measure`, so shrinking terminates.
"""
from dataclasses import replace

from harness.cases import MEMORY_TYPES, STORES
from harness.fuzz.toml_writer import DEFAULT_MAIR

MAP_DEFAULTS = {"attrindx": MEMORY_TYPES["normal"][0], "ap": "rw_el1", "sh": "inner", "af": True,
                "ng": False, "pxn": False, "uxn": False, "contig": False, "dbm": False}
REGIME_DEFAULTS = {"t0sz": 16, "t1sz": 16, "ips_bits": 48, "epd0": False, "epd1": False, "tbi0": False,
                   "tbi1": False, "ds": False, "ha": False, "hd": False, "sctlr_a": False}
TAG_MASK = (1 << 56) - 1


def _bits(value):
    return bin(value).count("1")


def _canonical(va):
    """va with its top byte a copy of bit 55: untagged."""
    return va & TAG_MASK | (0xFF << 56 if va >> 55 & 1 else 0)


def _tag(va):
    """The top-byte bits that differ from an untagged VA's."""
    return (va ^ _canonical(va)) >> 56


def measure(case):
    """What shrinking minimises, in order: descriptors and steps, then fields away from their
    defaults, then set bits (of raw descriptors, store values and VAs)."""
    r = case.regime
    parts = len(case.maps) + len(case.raws) + len(case.tables) + len(case.steps)
    fields = sum(getattr(r, k) != v for k, v in REGIME_DEFAULTS.items()) + (r.tg1 != r.tg0) + (r.tg0 != 12)
    fields += sum(r.mair >> (8 * i) & 0xFF != DEFAULT_MAIR[i] for i in range(8))
    fields += sum(getattr(m, k) != v for m in case.maps for k, v in MAP_DEFAULTS.items())
    fields += sum(t.aptable != "none" for t in case.tables) + sum(t.pxntable for t in case.tables)
    bits = sum(_bits(w.desc) for w in case.raws) + sum(_bits(s.value) + _bits(_tag(s.va)) for s in case.steps)
    return parts, fields, bits


def _without(items, k):
    return items[:k] + items[k + 1:]


def _regime_candidates(r):
    for key, default in REGIME_DEFAULTS.items():
        if getattr(r, key) != default:
            yield replace(r, **{key: default})
    if r.tg1 != r.tg0:
        yield replace(r, tg1=r.tg0)
    if r.tg0 != 12 and r.tg1 == r.tg0:
        yield replace(r, tg0=12, tg1=12)
    for i in range(8):
        if r.mair >> (8 * i) & 0xFF != DEFAULT_MAIR[i]:
            yield replace(r, mair=r.mair & ~(0xFF << (8 * i)) | DEFAULT_MAIR[i] << (8 * i))


def candidates(case):
    """Every one-change reduction of `case`, the most reducing kinds first."""
    steps, maps, raws, tables = list(case.steps), list(case.maps), list(case.raws), list(case.tables)
    if len(steps) > 1:
        # Whole halves first (delta debugging's first cut), then single steps.
        half = len(steps) // 2
        if half > 1:
            yield replace(case, steps=tuple(steps[:half]))
            yield replace(case, steps=tuple(steps[half:]))
        for k in range(len(steps)):
            yield replace(case, steps=tuple(_without(steps, k)))
    contiguous = [k for k, m in enumerate(maps) if m.contig]
    if len(contiguous) > 1:
        yield replace(case, maps=tuple(m for m in maps if not m.contig))
    for k in range(len(maps)):
        yield replace(case, maps=tuple(_without(maps, k)))
    for k in range(len(raws)):
        yield replace(case, raws=tuple(_without(raws, k)))
    for k in range(len(tables)):
        yield replace(case, tables=tuple(_without(tables, k)))
    for regime in _regime_candidates(case.regime):
        yield replace(case, regime=regime)
    for k, m in enumerate(maps):
        for key, default in MAP_DEFAULTS.items():
            if getattr(m, key) != default:
                yield replace(case, maps=tuple(maps[:k] + [replace(m, **{key: default})] + maps[k + 1:]))
    for k, t in enumerate(tables):
        for simpler in ({"aptable": "none"}, {"pxntable": False}):
            if replace(t, **simpler) != t:
                yield replace(case, tables=tuple(tables[:k] + [replace(t, **simpler)] + tables[k + 1:]))
    for k, s in enumerate(steps):
        simpler = []
        if _tag(s.va):
            simpler.append(replace(s, va=_canonical(s.va)))
        if s.op in STORES and s.value:
            simpler.append(replace(s, value=0))
        for step in simpler:
            yield replace(case, steps=tuple(steps[:k] + [step] + steps[k + 1:]))
    for k, w in enumerate(raws):
        # Bytes of set bits at once, then single bits.
        for byte in range(8):
            if w.desc >> (8 * byte) & 0xFF and _bits(w.desc >> (8 * byte) & 0xFF) > 1:
                yield replace(case, raws=tuple(raws[:k] + [replace(w, desc=w.desc & ~(0xFF << (8 * byte)))]
                                               + raws[k + 1:]))
        for bit in range(64):
            if w.desc >> bit & 1:
                yield replace(case, raws=tuple(raws[:k] + [replace(w, desc=w.desc & ~(1 << bit))] + raws[k + 1:]))


def shrink(case, still_fails, valid=lambda c: True, max_rounds=500, progress=None):
    """The smallest case reachable from `case` by reductions that `still_fails` keeps failing.
    `valid(candidate)` filters out candidates that may not be run at all (the loader or the
    kernel would refuse them); `still_fails(list)` returns one bool per candidate."""
    current = case
    for round_ in range(max_rounds):
        size = measure(current)
        proposed = [c for c in candidates(current) if measure(c) < size and valid(c)]
        if not proposed:
            break
        verdicts = still_fails(proposed)
        smaller = next((c for c, fails in zip(proposed, verdicts) if fails), None)
        if smaller is None:
            break
        current = smaller
        if progress:
            progress(round_, current)
    return current
