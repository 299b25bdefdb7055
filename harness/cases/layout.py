"""Where a case's tables go and what they may not touch: frame placement, the kernel's own
mappings (stage 1 and stage 2) that a case must leave alone, levels, ranges and alignment of
every slot, and the address units of a TLBI by range."""
from harness import geometry
from harness.cases.names import LAYOUT, MAINT_OPS, RANGE_TLBI, S2_RANGE_TLBI, STAGE2_MAINT_OPS
from harness.cases.schema import CaseError, FRAME_NAME
from harness.expr import ExprError, evaluate

def range_tg(regime, step, stage2=None):
    """The granule (shift) a TLBI by range names: its `tg`, else that of the tables its VA
    selects (of stage2, the case's stage 2, for a range of IPAs)."""
    if step.tlbi_range.tg is not None:
        return step.tlbi_range.tg
    return stage2.tg if step.op in S2_RANGE_TLBI else table_for(regime, step.va)[0]


def range_unit(regime, step, stage2=None):
    """The VA (IPA) bit BaseADDR[0] holds (ASL TLBIRange): the granule's lowest, or 16 for
    52-bit addresses (HasLargeAddress: the 64K granule, or TCR_EL1.DS = 1; VTCR_EL2.DS for
    IPAs)."""
    tg = range_tg(regime, step, stage2)
    return 16 if tg == 16 or (stage2.ds if step.op in S2_RANGE_TLBI else regime.ds) else tg


def table_for(regime, va):
    """(granule shift, VA bits) of the TTBR that VA bit 55 selects."""
    if va >> 55 & 1:
        return regime.tg1, 64 - regime.t1sz
    return regime.tg0, 64 - regime.t0sz


def place_frames(path, name, maps, regime, params, steps=(), s2_maps=(), s2_geometry=None):
    """Place the named frames that mappings (of stage 1, and of stage 2) point at: in
    the frame pool, or above the kernel's window when too big, each aligned to the
    largest mapping of it (a `map` step's too: a frame its `map` entries name may be
    mapped bigger later)."""
    sizes = {}
    entries = [("map", "va", i, m, None) for i, m in enumerate(maps)]
    mapped = {m.get("to") for m in maps if isinstance(m.get("to"), str)}
    entries += [("steps", "va", i, s, None) for i, s in enumerate(steps)
                if s.get("do") == "map" and isinstance(s.get("to"), str) and s.get("to") in mapped]
    entries += [("s2map", "ipa", i, m, s2_geometry) for i, m in enumerate(s2_maps)]
    for where, address, i, m, stage2 in entries:
        to = m.get("to")
        if isinstance(to, str) and FRAME_NAME.match(to) and to not in params:
            try:
                va, level = (evaluate(m[key], params) if isinstance(m.get(key), str) else m.get(key)
                             for key in (address, "level"))
            except ExprError:
                continue    # read_mapping reports it, with the frames' names known
            if not all(isinstance(x, int) and not isinstance(x, bool) for x in (va, level)) or not -1 <= level <= 3:
                continue    # read_mapping reports it
            granule_shift, va_bits = table_for(regime, va) if stage2 is None else (stage2[0], 64 - stage2[1])
            first = geometry.start_level(granule_shift, va_bits) if stage2 is None else stage2[3]
            if not first <= level <= 3:
                sizes.setdefault(to, 1 << granule_shift)    # placed all the same: check_layout reports the level
                continue
            sizes[to] = max(sizes.get(to, 0), geometry.block_size(granule_shift, level))
    frames, pool_next = {}, LAYOUT["FRAME_POOL_BASE"]
    big_next = LAYOUT["BIG_FRAME_BASE"]
    ram_end = LAYOUT["RAM_BASE"] + LAYOUT["RAM_SIZE"]
    for frame, size in sizes.items():
        start = -(-pool_next // size) * size
        if start + size <= LAYOUT["FRAME_POOL_BASE"] + LAYOUT["FRAME_POOL_SIZE"]:
            frames[frame], pool_next = start, start + size
            continue
        start = -(-big_next // size) * size
        if start + size > ram_end:
            raise CaseError(path, f"frame {frame!r} ({size:#x} bytes) does not fit in RAM; "
                            "map it to an explicit physical address instead", name, "map")
        frames[frame], big_next = start, start + size
    return frames



def kernel_ipa_ranges():
    """IPA ranges the kernel maps at stage 2 for itself (kernel/stage2.c): its window and UART, at IPA = PA."""
    return [(LAYOUT["KERNEL_WINDOW_BASE"], LAYOUT["KERNEL_WINDOW_BASE"] + LAYOUT["KERNEL_WINDOW_SIZE"]),
            (LAYOUT["UART_BASE"], LAYOUT["UART_BASE"] + 0x1000)]



def check_stage2_layout(path, name, s2, steps=()):
    """The stage 2 mappings, raw descriptors and descriptor steps (a case with a stage 2 has no
    fix-ups, so a step's index is its TOML index): at a level of this stage 2, in its IPA range,
    aligned (a mapping with its PA), and clear of the kernel's own stage 2 mappings."""
    ipa_bits = 64 - s2.t0sz
    slots = [(f"s2map[{i}]", m.ipa, m.level, m.pa) for i, m in enumerate(s2.maps)]
    slots += [(f"s2raw[{i}]", w.va, w.level, None) for i, w in enumerate(s2.raws)]
    slots += [(f"steps[{n}]", s.va, s.level, s.mapping.pa if s.op == "s2_map" else None)
              for n, s in enumerate(steps) if s.level is not None and s.op in STAGE2_MAINT_OPS]
    for where, ipa, level, pa in slots:
        if not s2.start_level <= level <= 3:
            raise CaseError(path, f"level {level} is outside this stage 2's levels {s2.start_level}..3",
                            name, f"{where}.level")
        if ipa >> ipa_bits:
            raise CaseError(path, f"ipa {ipa:#x} is outside the {ipa_bits}-bit IPA range", name, f"{where}.ipa")
        size = geometry.block_size(s2.tg, level)
        if pa is not None and pa >> (52 if s2.oa52 else 48):
            raise CaseError(path, f"pa {pa:#x} does not fit in the {52 if s2.oa52 else 48} bits this stage 2's "
                            "descriptors hold (52 needs ds, or the 64K granule with ps = 52)", name, f"{where}.to")
        if pa is not None and (ipa | pa) % size:
            raise CaseError(path, f"ipa {ipa:#x} and pa {pa:#x} must be aligned to the {size:#x}-byte size "
                            f"of a level {level} {'page' if level == 3 else 'block'}", name, f"{where}.ipa")
        lo = ipa - ipa % size
        for start, end in kernel_ipa_ranges():
            if lo < end and start < lo + size:
                raise CaseError(path, f"the stage 2 level {level} descriptor for {ipa:#x} collides with the "
                                f"kernel's own stage 2 mapping {start:#x}-{end - 1:#x}", name, f"{where}.ipa")



def kernel_ranges(regime):
    """VA ranges the kernel maps for itself (tables.c, map_kernel): identity in
    TTBR0, or at its alias in TTBR1 when the regime sends it there; the window,
    the UART page and the EL0 code page."""
    if regime.kernel_high:
        window, uart, el0 = LAYOUT["KERNEL_ALIAS_BASE"], LAYOUT["UART_ALIAS_BASE"], LAYOUT["EL0_CODE_ALIAS_VA"]
        granule = 1 << regime.tg1
    else:
        window, uart, el0 = LAYOUT["KERNEL_WINDOW_BASE"], LAYOUT["UART_BASE"], LAYOUT["EL0_CODE_VA"]
        granule = 1 << regime.tg0
    return [(window, window + LAYOUT["KERNEL_WINDOW_SIZE"]), (uart, uart + granule), (el0, el0 + granule)]


def check_layout(case):
    """Refuse what the kernel could not build, or what would unmap the kernel."""
    r = case.regime
    if r.kernel_high:
        # The kernel's alias must be in TTBR1's range, and TTBR1 walks on.
        if r.epd1:
            raise CaseError(case.path, "epd1 cannot be set when the kernel runs from TTBR1 "
                            f"(t0sz={r.t0sz}, epd0={str(r.epd0).lower()} leave it no home in TTBR0)",
                            case.name, "regime.epd1")
        if LAYOUT["KERNEL_ALIAS_BASE"] < 2**64 - (1 << (64 - r.t1sz)):
            raise CaseError(case.path, f"t1sz={r.t1sz} leaves no room for the kernel's TTBR1 home at "
                            f"{LAYOUT['KERNEL_ALIAS_BASE']:#x} (needs t1sz <= 34)", case.name, "regime.t1sz")
    if r.ttbr1 is not None and (r.kernel_high or any(m.va >> 55 & 1 for m in case.maps)
                                or any(w.va >> 55 & 1 for w in case.raws)):
        raise CaseError(case.path, "a verbatim TTBR1_EL1 leaves no TTBR1 tables: no upper-half mappings, "
                        "and the kernel must be able to run from TTBR0", case.name, "regime.ttbr1")
    if r.e0pd1 and r.kernel_high and any(s.el == 0 for s in case.steps):
        raise CaseError(case.path, "EL0 steps run the kernel's EL0 code from TTBR1 here (the kernel runs from "
                        "its TTBR1 home), which e0pd1 forbids EL0 to use", case.name, "regime.e0pd1")
    reserved = kernel_ranges(r)
    reserved_half = 1 if r.kernel_high else 0
    if case.spaces > 1:
        where = next(f"{what}[{i}].space" for what, xs in (("map", case.maps), ("tables", case.tables),
                                                          ("raw", case.raws), ("steps", case.steps))
                     for i, x in enumerate(xs) if x.space)
        if r.kernel_high:
            raise CaseError(case.path, "a second TTBR0 table set needs the kernel's identity home in TTBR0 "
                            "(not t0sz above 33, epd0 or e0pd0): it is mapped in every set", case.name, where)
        for what, xs in (("map", case.maps), ("tables", case.tables), ("raw", case.raws), ("steps", case.steps)):
            for i, x in enumerate(xs):
                if x.space and x.va >> 55 & 1:
                    raise CaseError(case.path, f"va {x.va:#x} is in TTBR1's half, which has one table set",
                                    case.name, f"{what}[{i}].space")
                if getattr(x, "fixup", None):
                    # Named by its TOML step, the access's (a retry is a step of its own after it).
                    toml_index = i - sum(1 for s in case.steps[:i + 1] if s.fixup)
                    raise CaseError(case.path, "fix-ups act on the first table set: a case with several is "
                                    "not supported", case.name, f"steps[{toml_index}].fixup")

    def check_slot(what, va, level, must_align_pa=None, va_in_mapping=False):
        """va_in_mapping: va is any address of the mapping (a fix-up's access), not its start."""
        granule_shift, va_bits = table_for(r, va)
        start = geometry.start_level(granule_shift, va_bits)
        if not start <= level <= 3:
            raise CaseError(case.path, f"level {level} is outside this regime's levels {start}..3 "
                            f"(granule {1 << granule_shift >> 10}K, {va_bits}-bit VA)", case.name, f"{what}.level")
        size = geometry.block_size(granule_shift, level)
        if va_in_mapping:
            va -= va % size
        in_range = va < 1 << va_bits if not va >> 55 & 1 else va >= 2**64 - (1 << va_bits)
        if not in_range:
            raise CaseError(case.path, f"va {va:#x} is outside the {va_bits}-bit range of its TTBR",
                            case.name, f"{what}.va")
        if must_align_pa is not None and (va | must_align_pa) % size:
            raise CaseError(case.path, f"va {va:#x} and pa {must_align_pa:#x} must be aligned to the "
                            f"{size:#x}-byte size of a level {level} {'page' if level == 3 else 'block'}",
                            case.name, f"{what}.va" if va % size else f"{what}.to")
        lo = va - va % size
        if va >> 55 & 1 == reserved_half:
            for start_r, end_r in reserved:
                if lo < end_r and start_r < lo + size:
                    raise CaseError(case.path, f"the level {level} descriptor for {va:#x} covers "
                                    f"{lo:#x}-{lo + size - 1:#x}, which collides with the kernel's own "
                                    f"mapping {start_r:#x}-{end_r - 1:#x}", case.name, f"{what}.va")

    for i, m in enumerate(case.maps):
        check_slot(f"map[{i}]", m.va, m.level, m.pa)
        held = r.pa_bits_held(table_for(r, m.va)[0])
        if m.pa >> held:
            raise CaseError(case.path, f"pa {m.pa:#x} does not fit in the {held} bits this regime's "
                            "descriptors hold (52 needs ips = 52 with 64K, or ds = true with 4K/16K)",
                            case.name, f"map[{i}].to")
    for i, w in enumerate(case.raws):
        check_slot(f"raw[{i}]", w.va, w.level)
    for i, t in enumerate(case.tables):
        check_slot(f"tables[{i}]", t.va, t.level)
    for i, s in enumerate(case.steps):
        if s.op not in MAINT_OPS and not s.fixup:
            continue
        if r.kernel_high:
            raise CaseError(case.path, f"{s.op} changes the case's tables, which the kernel cannot reach while it "
                            "runs from its TTBR1 alias (t0sz above 33 or epd0)", case.name, f"steps[{i}].do")
        if s.level is not None and s.op not in STAGE2_MAINT_OPS:     # stage 2's: check_stage2_layout
            check_slot(f"steps[{i}]", s.va, s.level, s.mapping.pa if s.op == "map" or s.fixup in ("map", "copy")
                       else None, va_in_mapping=bool(s.fixup))
        if s.op in RANGE_TLBI or s.op in S2_RANGE_TLBI:
            unit, key = 1 << range_unit(r, s, case.stage2), "ipa" if s.op in S2_RANGE_TLBI else "va"
            if s.va % unit:
                raise CaseError(case.path, f"{key} {s.va:#x} is not a multiple of {unit:#x}: BaseADDR holds the address "
                                "in units of the granule TG names (64K where addresses are 52-bit: the 64K granule, "
                                "or ds; ASL TLBIRange)", case.name, f"steps[{i}].{key}")
        if s.op == "set_ttbr1" and r.ttbr1 is not None:
            raise CaseError(case.path, "set_ttbr1 points TTBR1_EL1 at the case's TTBR1 tables, which a verbatim "
                            "regime.ttbr1 leaves out", case.name, f"steps[{i}].do")
