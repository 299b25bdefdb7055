"""Step sequences that change translations: a descriptor write (stage 1's, or stage 2's under a
stage 2), an ASID or VMID switch, with or without the barriers and TLB maintenance that
make the change certain, then accesses through what changed.  The model's TLB judges them: it
gives the set of outcomes a TLB may give (the old translation until the TLBI and its DSB, the
new after).

What a change may touch is kept as safe as the layout it changes (harness.fuzz.generate): a
mapping is rewritten to its own frame (new attributes, or invalid) or to another frame that
stores may reach and no fetch runs from; a rewritten slot takes no fetch after (its stub was
planted where the old translation led).  Maintenance steps need the case's tables reachable by
the kernel, so a regime whose kernel runs from its TTBR1 alias gets none (cases._check_layout).
"""
from dataclasses import replace

from harness import geometry
from harness.cases import (LOADS, RANGE_TLBI, S2_RANGE_TLBI, S2_TLBI_OPS, STORES, TLBI_EL2_OPS, TLBI_OPS, Expect,
                           Step, TlbiRange, op_features, range_unit)
from harness.ops import RETRYABLE

OK = Expect("ok")
# TLBIs of EL1&0 by operand: every form the kernel issues (kernel/maint.c).
EL1_TLBI = tuple(op for op in TLBI_OPS if op not in TLBI_EL2_OPS)
# How often each kind of change is drawn (stage 2's only in a case with a stage 2; a switch to another
# address space and a fault fix-up where they may be: SPACE_MODES, FIXUP_MODES).
CHANGES = {"protect": 3, "unmap": 2, "remap": 2, "write_desc": 2, "asid": 2, "s2_change": 3, "vmid": 1,
           "space": 2, "fixup": 2}
# Where the kernel switches TTBR0 between table sets (the EL1&0 regime; the EL2 regime's TTBR0_EL2 is left out),
# and where it makes fix-ups (kernel/fixup.c: stage 1 faults taken to EL1, no stage 2: cases/validation.py).
SPACE_MODES = ("el1", "stage2")
FIXUP_MODES = ("el1",)


def possible(layout):
    """Whether the case may have maintenance steps at all."""
    return not layout.regime.kernel_high


def _changeable(layout):
    """Stage 1 slots a descriptor step may rewrite: leaf mappings of their own (not part of a
    contiguous run, not a zeroed table frame's read-only page), each with a frame."""
    table_pages = {(m.va, m.level) for m in layout.table_frame_maps}
    return [s for s in layout.slots if s.kind == "map" and s.oa is not None and s.frame is not None
            and s.window is None and (s.va, s.level) not in table_pages]


def _store_safe(layout, slot):
    return not slot.code and not any(slot.frame[0] < pa + size and pa < slot.frame[0] + slot.frame[1]
                                     for pa, size in layout.no_store)


def _tlbi_ops(layout):
    """The TLBIs a case's steps may run where they run (cases.EL2_REFUSED_OPS: no ASID forms in the
    EL2 regime, whose TLBIs are EL2's; EL2's only at EL2), range forms with FEAT_TLBIRANGE."""
    mode, cpu = layout.mode, layout.cpu
    ops = [op for op in TLBI_OPS if op not in TLBI_EL2_OPS] if mode in ("el1", "stage2") else \
        list(TLBI_EL2_OPS) if mode == "nvhe" else list(TLBI_OPS)
    # Range forms with FEAT_TLBIRANGE, nXS forms with FEAT_XS (cases.op_features).
    return [op for op in ops if all(cpu.has(f) for f in op_features(op))]


def _asid(rng, layout):
    """An ASID for a TLBI or a TTBR write: the one in use most often, sometimes another."""
    if rng.random() < 0.7:
        return layout.asid
    return rng.randrange(1 << (16 if layout.regime.asid16 else 8))


def _range(rng):
    return TlbiRange(num=rng.choice((0, 0, 1, rng.randrange(32))), scale=rng.choice((0, 0, 1, rng.randrange(4))),
                     ttl=rng.choice((0, 0, rng.randrange(4))))


def _draw_tlbi(rng, ops, own=()):
    """One of ops: the plain forms (neither Inner Shareable nor nXS) as often as all the others, and the
    regime's own forms (own, where given) most of the time: those that act on the entries the steps use,
    each drawn often enough that a kernel which leaves one out is caught (tests/test_fuzz_mutants.py)."""
    if own and rng.random() < 0.7:
        ops = [op for op in ops if op in own] or ops
    plain = [op for op in ops if not op.endswith(("is", "nxs"))]
    return rng.choice(plain if plain and rng.random() < 0.5 else ops)


def tlbi_step(rng, layout, va):
    """A TLBI of the case's regime, its operand the VA of what changed (or another), with an ASID
    where its form takes one."""
    op = _draw_tlbi(rng, _tlbi_ops(layout), TLBI_EL2_OPS if layout.mode == "vhe" else ())
    takes_va, takes_asid = TLBI_OPS[op]
    # EL2's TLBIs by VA take an ASID in the EL2&0 regime (cases.TLBI_EL20_ASID_OPS).
    takes_asid = takes_asid or layout.mode == "vhe" and op in TLBI_EL2_OPS and takes_va
    if rng.random() < 0.15:
        va = rng.choice(layout.slots).va if layout.slots else va
    step = Step(op, va if takes_va else 0, 0, OK, asid=_asid(rng, layout) if takes_asid else 0,
                tlbi_range=_range(rng) if op in RANGE_TLBI else None)
    if op in RANGE_TLBI:
        unit = 1 << range_unit(layout.regime, step)
        step = Step(op, step.va - step.va % unit, 0, OK, asid=step.asid, tlbi_range=step.tlbi_range)
    return step


def _maintenance(rng, layout, va, steps):
    """DSB, TLBI, DSB, ISB: each now and then left out (the TLB may then keep the old entry)."""
    if rng.random() < 0.8:
        steps.append(Step("dsb", 0, 0, OK))
    if rng.random() < 0.8:
        steps.append(tlbi_step(rng, layout, va))
    if rng.random() < 0.85:
        steps.append(Step("dsb", 0, 0, OK))
    if rng.random() < 0.8:
        steps.append(Step("isb", 0, 0, OK))


def _stage1_change(rng, layout, kind, slot, steps):
    """Rewrite slot's descriptor (kind: protect, unmap, remap, write_desc); False if it cannot."""
    from harness.fuzz.generate import _leaf_attr_bits, _mapping, encode_oa
    regime = layout.regime
    if kind == "protect":
        steps.append(Step("protect", slot.va, 0, OK, level=slot.level,
                          mapping=_mapping(rng, regime, slot.va, 0, slot.level)))
    elif kind == "unmap":
        steps.append(Step("unmap", slot.va, 0, OK, level=slot.level))
    elif kind == "remap":
        others = [s for s in _changeable(layout) if s is not slot and s.size == slot.size
                  and s.frame[1] == slot.frame[1] and _store_safe(layout, s)]
        if not others or not _store_safe(layout, slot):
            return False
        other = rng.choice(others)
        steps.append(Step("map", slot.va, 0, OK, level=slot.level,
                          mapping=_mapping(rng, regime, slot.va, other.oa, slot.level)))
        slot.frame, slot.oa = other.frame, other.oa
    else:
        g = slot.half.granule_shift
        if rng.random() < 0.3:
            desc = rng.getrandbits(64) & ~1
        else:
            ds_sh_mask = 0x300 if regime.ds and g != 16 else 0
            desc = encode_oa(regime, g, slot.oa) | (_leaf_attr_bits(rng) & ~ds_sh_mask) | \
                (0b11 if slot.level == 3 else 0b01)
        steps.append(Step("write_desc", slot.va, desc, OK, level=slot.level))
    slot.changed = True
    return True


def _s2_tlbi_step(rng, layout, ipa):
    cpu, s2 = layout.cpu, layout.stage2
    ops = [op for op in S2_TLBI_OPS if all(cpu.has(f) for f in op_features(op))]
    op = _draw_tlbi(rng, ops)
    step = Step(op, ipa if S2_TLBI_OPS[op] else 0, 0, OK, tlbi_range=_range(rng) if op in S2_RANGE_TLBI else None)
    if op in S2_RANGE_TLBI:
        unit = 1 << range_unit(layout.regime, step, s2)
        step = Step(op, ipa - ipa % unit, 0, OK, tlbi_range=step.tlbi_range)
    return step


def _stage2_change(rng, layout, steps):
    """Rewrite a stage 2 entry (new S2AP, XN, MemAttr ...; invalid; or removed), then EL2's stage 2
    TLBI by IPA (or all of the VMID's) and a stage 1 TLBI (stage 2 entries may be combined into
    stage 1's), each barrier and TLBI now and then left out.  False if there is no entry."""
    from harness.fuzz.stage2 import random_entry
    s2 = layout.stage2
    if s2 is None or not s2.maps:
        return False
    entry = rng.choice(s2.maps)
    kind = rng.choice(("s2_protect", "s2_unmap", "s2_write_desc"))
    if kind == "s2_protect":
        new = random_entry(rng, entry.ipa, entry.level)
        steps.append(Step(kind, entry.ipa, 0, OK, level=entry.level, mapping=replace(new, pa=0)))
    elif kind == "s2_unmap":
        steps.append(Step(kind, entry.ipa, 0, OK, level=entry.level))
    else:
        steps.append(Step(kind, entry.ipa, rng.getrandbits(64) & ~1, OK, level=entry.level))
    if rng.random() < 0.8:
        steps.append(Step("dsb", 0, 0, OK))
    if rng.random() < 0.8:
        steps.append(_s2_tlbi_step(rng, layout, entry.ipa))
    if rng.random() < 0.8:
        steps.append(Step("dsb", 0, 0, OK))
    if rng.random() < 0.6:
        steps.append(Step(rng.choice(("tlbi_vmalle1", "tlbi_vmalle1is")), 0, 0, OK))
        steps.append(Step("dsb", 0, 0, OK))
    if rng.random() < 0.8:
        steps.append(Step("isb", 0, 0, OK))
    # Stage 1 slots whose frames that entry translates: no fetch from them after.
    for s in _changeable(layout):
        if entry.ipa <= s.oa < entry.ipa + geometry.block_size(s2.tg, entry.level):
            s.changed = True
    return True


def _space_switch(rng, layout, slot, steps):
    """A context switch: TTBR0 to the case's second table set (address space 1), a copy of the first's TTBR0
    half in which some mappings differ (other attributes, another frame stores may reach, or none:
    Layout.space1), or back to the first; with the current ASID (and now and then TLBI ASIDE1 of it, DSB,
    ISB) or another.  False where the case has no mapping the copy may change."""
    from harness.fuzz.generate import _mapping
    regime = layout.regime
    if layout.space1 is None:
        lower = [s for s in _changeable(layout) if not s.half.upper]
        if not lower:
            return False
        changed = rng.sample(lower, rng.randint(1, len(lower)))
        if slot in lower and slot not in changed:
            changed[0] = slot
        layout.space1 = {}
        for s in changed:
            how = rng.choice(("protect", "unmap", "remap"))
            others = [o for o in _changeable(layout) if o is not s and o.size == s.size and o.frame[1] == s.frame[1]
                      and _store_safe(layout, o)]
            if how == "remap" and others and _store_safe(layout, s):
                layout.space1[s.va, s.level] = _mapping(rng, regime, s.va, rng.choice(others).oa, s.level)
            elif how == "unmap":
                layout.space1[s.va, s.level] = None
            else:
                layout.space1[s.va, s.level] = _mapping(rng, regime, s.va, s.oa, s.level)
            s.changed = True        # its stub is not where space 1 leads: no fetch from it after
        space = 1
    else:
        space = rng.choice((0, 1))
    asid = _asid(rng, layout)
    steps.append(Step("set_ttbr0", 0, 0, OK, asid=asid, space=space))
    if rng.random() < 0.9:
        steps.append(Step("isb", 0, 0, OK))
    if asid == layout.asid and rng.random() < 0.5:
        steps += [Step("tlbi_aside1", 0, 0, OK, asid=asid), Step("dsb", 0, 0, OK), Step("isb", 0, 0, OK)]
    layout.asid = asid
    return True


def _fixup(rng, layout, slot, steps):
    """The Access flag in software: slot's descriptor rewritten with AF = 0 (and other attributes) and the
    change made certain (DSB, TLBI VAAE1 of its VA, DSB, ISB), then a load or store through it, which faults;
    the kernel sets AF (kernel/fixup.c: DSB, ISB) and retries it.  False where no such access may go."""
    from harness.fuzz.generate import PLACEHOLDER, _mapping, access_ops, _slot_step_va
    ops = [op for op in RETRYABLE if op in access_ops(layout)]
    op = rng.choice(ops)
    va = _slot_step_va(rng, layout, op, slot)
    if va is None:
        op = next(op for op in ops if op in LOADS)
        va = _slot_step_va(rng, layout, op, slot)
    if va is None:
        return False
    steps += [Step("protect", slot.va, 0, OK, level=slot.level,
                   mapping=replace(_mapping(rng, layout.regime, slot.va, 0, slot.level), af=False)),
              Step("dsb", 0, 0, OK), Step("tlbi_vaae1", slot.va, 0, OK), Step("dsb", 0, 0, OK), Step("isb", 0, 0, OK)]
    access = Step(op, va, rng.getrandbits(8 * STORES[op]) if op in STORES else 0, PLACEHOLDER, 1)
    steps += [access, replace(access, level=slot.level, fixup="set_af")]
    layout.fixups = True
    return True


def add(rng, layout, steps):
    """A change and the accesses after it, appended to steps (nothing where none fits)."""
    from harness.fuzz.generate import access_step
    layout.changed = True
    kinds = dict(CHANGES)
    if layout.mode != "stage2":
        del kinds["s2_change"], kinds["vmid"]
    if layout.mode == "nvhe":
        del kinds["asid"]           # TTBR0_EL2 has no ASID with E2H = 0
    # Fix-ups act on the first table set alone (cases/layout.py): a case has a second or fix-ups.
    if layout.mode not in SPACE_MODES or layout.fixups or layout.regime.tg0 == 16:    # 64K: two sets' tables
        del kinds["space"]
    if layout.mode not in FIXUP_MODES or layout.space1 is not None or layout.regime.ha:  # HA: no AF fault
        del kinds["fixup"]
    slots = _changeable(layout)
    kind = rng.choices(list(kinds), list(kinds.values()))[0]
    slot = rng.choice(slots) if slots else None
    if slot is not None and rng.random() < 0.6:
        first = access_step(rng, layout, slot=slot)       # fills the TLB with the old translation
        if first is not None:
            steps.append(first)
    if kind == "fixup":
        if slot is None or not _fixup(rng, layout, slot, steps):
            return
        slot.changed = True
    elif kind == "space":
        if not _space_switch(rng, layout, slot, steps):
            return
    elif kind == "asid":
        layout.asid = _asid(rng, layout)
        steps.append(Step(rng.choice(("set_ttbr0", "set_ttbr0", "set_ttbr1")), 0, 0, OK, asid=layout.asid))
        if rng.random() < 0.8:
            steps.append(Step("isb", 0, 0, OK))
    elif kind == "vmid":
        steps.append(Step("set_vmid", 0, rng.randrange(256), OK))
        steps.append(Step("isb", 0, 0, OK))     # before any TLBI (cases._check_vmid_synchronized)
    elif kind == "s2_change":
        if not _stage2_change(rng, layout, steps):
            return
    else:
        if slot is None or not _stage1_change(rng, layout, kind, slot, steps):
            return
        _maintenance(rng, layout, slot.va, steps)
    for _ in range(rng.choice((1, 1, 2, 3))):
        after = access_step(rng, layout, slot=slot if slot is not None and rng.random() < 0.7 else None)
        if after is not None:
            steps.append(after)
