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
  Shareable forms do the same on this PE; the last-level forms are modelled
  as their all-levels forms (the model holds whole walks, not walk-cache
  entries of table descriptors, so it predicts nothing of walk caches).
- Entries belong to a translation regime, and a TLBI removes those of the
  regime it names (the TLBI instructions' pseudocode): the *E1 forms at EL1
  EL1&0's, and at EL2 with HCR_EL2.E2H = TGE = 1 the EL2&0 regime's
  (ELIsInHost(EL0)); the *E2 forms EL2&0's with E2H = 1 (ELIsInHost(EL2)),
  else EL2's.  A case's steps translate in one regime (its TLB's).
  The EL2 regime (HCR_EL2.E2H = 0) has no ASID: its entries are global
  whatever nG (Linux's at.c: nG only where the regime is not EL2), and TLBI
  VAE2 removes every entry of the VA.

An entry is kept as the registers and the memory it was walked from; its
translation of a VA is AArch64.S1Translate over them.
"""
from dataclasses import dataclass, field

from harness.cases import EL2_OPS, TLBI_OPS
from harness.model.descriptors import DESC_NG
from harness.model.outcome import Abort, Par
from harness.model.registers import REGIME_EL2, REGIME_EL10, REGIME_EL20, TCR_A1, TCR_AS, TTBR_ASID, \
    el_is_in_host, walk_params
from harness.model.walk import WalkFault, level_lsb, s1_walk, va_is_out_of_range
from harness import esr, par

# The VA bits a TLBI by VA names (its operand holds VA[55:12]).
VA_BITS_TLBI = (1 << 56) - 1

# Faults no TLB entry can give (the translation was never cached).
UNCACHED_FAULTS = frozenset({"translation", "address_size", "access_flag"})

STALE_RULE = ("a TLB may hold the translation of a descriptor as it was before a change until a TLBI that "
              "removes it completes (Arm ARM D8 'Translation Lookaside Buffers', 'TLB maintenance requirements')")
UNSYNCED_RULE = ("a descriptor write is seen by walks only after a DSB, and a system register write or the "
                 "DSB's effect by later instructions only after an ISB (Arm ARM D8 'Ordering of translation "
                 "table walks', B2 'Context synchronization event')")


def current_asid(regs):
    """The ASID of the current context: TTBR1_EL1's with TCR_EL1.A1 = 1, else TTBR0_EL1's;
    8 bits unless TCR_EL1.AS = 1 (the upper 8 are then ignored).  The EL2 regime has none (0)."""
    if regs.regime == REGIME_EL2:
        return 0
    ttbr = regs.ttbr1 if TCR_A1.get(regs.tcr) else regs.ttbr0
    return TTBR_ASID.get(ttbr) & asid_mask(regs)


def asid_mask(regs):
    return 0xFFFF if TCR_AS.get(regs.tcr) else 0xFF


def leaf(regs, memory, va):
    """The leaf (WalkState) a walk of va finds from regs and memory, or None when
    it faults before one (so no TLB entry of va can come from them)."""
    params = walk_params(regs, bool(va >> 55 & 1))
    if va_is_out_of_range(va, params, False):
        return None
    walk = s1_walk(params, memory, va, params.txsz)
    return None if isinstance(walk, WalkFault) else walk


def tlbi_regime(op, regs, el):
    """The regime a TLBI executed at `el` invalidates: for the *E1 forms at EL2, `if
    ELIsInHost(EL0) then ... Regime_EL20` (TLBI VAE1 and the others), for the *E2 forms
    `if ELIsInHost(EL2) then ... Regime_EL20 else ... Regime_EL2` (TLBI VAE2)."""
    if op in EL2_OPS:
        return REGIME_EL20 if el_is_in_host(regs, 2) else REGIME_EL2
    return REGIME_EL20 if el == 2 and el_is_in_host(regs, 0) else REGIME_EL10


@dataclass(frozen=True)
class Invalidation:
    """What a TLBI removes: entries of va (None: every VA) that are non-global of
    asid (None: of every ASID), and global ones if globals, of the regime named."""
    va: int
    asid: int
    globals: bool
    regime: str = REGIME_EL10

    @staticmethod
    def of(step, regs, el):
        """The invalidation of a TLBI step executed at `el` under `regs`: by VA (with an ASID or for
        all), by ASID (nG entries only), or all, in the regime tlbi_regime names."""
        takes_va, takes_asid = TLBI_OPS[step.op]
        return Invalidation(step.va if takes_va else None, step.asid if takes_asid else None,
                            globals=takes_va or not takes_asid, regime=tlbi_regime(step.op, regs, el))


@dataclass
class Entry:
    """A walk a TLB may hold: the registers and memory it was made with, the ASID then
    current, and the invalidations that have removed it since (for the VAs they name)."""
    regs: object
    memory: object
    asid: int
    removed: list = field(default_factory=list)

    def holds(self, va, asids):
        """Whether this entry may translate va under any of the current ASIDs."""
        found = leaf(self.regs, self.memory, va)
        if found is None:
            return False
        params = walk_params(self.regs, bool(va >> 55 & 1))
        global_entry = not DESC_NG.get(found.desc) or not params.unprivileged
        if not global_entry and self.asid not in asids:
            return False
        size = 1 << level_lsb(params.granule, found.level)
        base = va & ~(size - 1) & VA_BITS_TLBI
        for inv in self.removed:
            if inv.va is not None and not base <= inv.va & ~0xFFF & VA_BITS_TLBI < base + size:
                continue
            if inv.globals if global_entry else inv.asid is None or inv.asid & asid_mask(self.regs) == self.asid:
                return False
        return True


def cached_outcome(outcome):
    """Whether an outcome can come from a TLB entry: not a fault that is never cached."""
    if isinstance(outcome, Abort):
        return esr.decode_fsc(outcome.fsc)[0] not in UNCACHED_FAULTS
    if isinstance(outcome, Par) and par.PAR_F.get(outcome.value):
        return esr.decode_fsc(par.PAR_FST.get(outcome.value))[0] not in UNCACHED_FAULTS
    return True


class Tlb:
    """The translation state of one run of a case's steps: the registers and
    memory an access may be translated from, what walks may read, and the
    entries a TLB may hold, all of one translation regime."""

    def __init__(self, regs, memory, regime=REGIME_EL10):
        self.regs, self.memory = regs, memory     # in program order
        self.regime = regime
        self.regs_seen = [regs]                   # registers an access may use (writes not yet synchronized)
        self.memories_seen = [memory]             # tables an access may be translated from
        self.walk_memories = [memory]             # tables a walk may read (writes not yet completed by a DSB)
        self.dsb_since_write = True
        self.pending = []                         # (Invalidation, tables walks could read meanwhile)
        self.entries = []
        self.faulted = False                      # whether the last access aborted (a fix-up follows one)
        self._fill()

    def copy(self):
        other = Tlb.__new__(Tlb)
        other.__dict__.update({k: list(v) if isinstance(v, list) else v for k, v in self.__dict__.items()})
        other.entries = [Entry(e.regs, e.memory, e.asid, list(e.removed)) for e in self.entries]
        return other

    def _fill(self, memories=None):
        """Entries a walk may make now, from every registers and tables it may use."""
        have = {(id(e.regs), id(e.memory)) for e in self.entries if not e.removed}
        for regs in self.regs_seen:
            for memory in memories or self.walk_memories:
                if (id(regs), id(memory)) not in have:
                    self.entries.append(Entry(regs, memory, current_asid(regs)))
                    have.add((id(regs), id(memory)))

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

    def hardware_update(self, memory):
        """The walk of an access updated descriptors (HA/HD): every view of the tables as
        they were is the updated one, entries too (a walk that updates a descriptor
        fills its entry from the update, AArch64.S1Translate's AF and dirty updates)."""
        old = self.memory
        self.memory = memory
        self.memories_seen = [memory if m is old else m for m in self.memories_seen]
        self.walk_memories = [memory if m is old else m for m in self.walk_memories]
        for entry in self.entries:
            if entry.memory is old:
                entry.memory = memory
        self._fill()

    def write_regs(self, regs):
        self.regs = regs
        self.regs_seen.append(regs)
        self._fill()

    def tlbi(self, invalidation):
        if invalidation.regime != self.regime:
            return      # none of this TLB's entries: they are another regime's
        self.pending.append((invalidation, list(self.walk_memories)))

    def dsb(self):
        self.walk_memories = [self.memory]
        self.dsb_since_write = True
        for inv, memories in self.pending:
            for entry in self.entries:
                entry.removed.append(inv)
            # Walks made while the TLBI was in progress may have filled entries again.
            self._fill(memories)
        self.pending = []
        self._fill()

    def isb(self):
        self.regs_seen = [self.regs]
        self.memories_seen = list(self.walk_memories)
        self._fill()

    def usable_entries(self, va):
        asids = {current_asid(r) for r in self.regs_seen}
        return [e for e in self.entries if e.holds(va, asids)]
