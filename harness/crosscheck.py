"""The second and third opinions on a step: the reference model, and the case's layout.

The case's expectation is the first oracle (harness/verdict.py).  Here each
step is also evaluated by the reference model (harness/model) over what the
MMU really walked: the descriptors the kernel's own walk read for the step's
VA (protocol v2 `walk` records) and the registers it programmed (`regs`).
Each check is a problem of its own when it fails:

- the observation must be an outcome the model allows.  Where it is not (or
  where the case's own expectation fails it), a known bug of this QEMU version
  may explain it (harness/fuzz/known.py: the model changed as that QEMU behaves,
  over the case's steps up to this one): the step's departures then move to its
  `explained` list, under the bugs' names, and no longer fail it.  A step whose
  observation the model cannot judge (none of its predicted outcomes, beside an
  Unknown or an Amalgamation: harness/oracle.py) is `unjudged`, with the model's
  reason: never allowed by the model, never explained by a bug.  Where what it
  leaves open is an amalgamation of TLB entries (D8.17.1) alone, a known bug
  that explains the observation still does (QEMU's TLB makes no amalgamation);
  where none does, the step is unjudged for that reason (`amalgamation`), and
  the case's own expectation, which cannot name one, does not fail it either;
- the case's expectation must be what the model allows, no more and no less
  (a disagreement is a defect of this suite: the case or the model is wrong);
- after a step with hardware updates, the descriptors must read as the model
  says the update leaves them;
- the registers the kernel programmed and the descriptors it walked must be
  those the case declares (harness/declared.py): a kernel table-builder bug
  shows here even where QEMU and the model agree with each other.
"""
import functools
from dataclasses import dataclass, replace

from harness import declared, features, model
from harness.cases import MAINT_OPS
from harness.ops import EXCLUSIVE_STORES, GCS_MEMORY_OPS
from harness.fuzz.known import KNOWN_BUGS, MODEL_LOCK, explain
from harness.observation import observe
from harness.oracle import (
    amalgamation, describe_outcomes, expectation_agrees, observation_allowed, unjudged, unjudged_observation,
)
from harness.predict import predict_case, step_accesses
from harness.model.descriptors import AP2, DESC_AF, DESC_AP
from harness.model.registers import REGIME_EL2, REGIME_EL10, REGIME_EL20
from harness.model.stage2 import S2AP_W
from harness.model.translate import ACCESS_KINDS
from harness.walk_text import describe_walk

# The EL2 registers a stage 2 case's `regs` record adds (docs/protocol.md); an EL2&0 case's adds HCR_EL2.
EL2_REGISTERS = ("hcr", "vtcr", "vttbr")
# The later features' registers: in a regs record where the CPU has them (kernel/main.c report_extended_regs).
EXTENDED_REGISTERS = ("tcr2", "pir", "pire0", "mair2", "s2pir")
SUITE_DEFECT = "case and model disagree (a defect of this suite, in the case or the model)"
KERNEL_DEFECT = "the kernel's tables are not the case's (a defect of the kernel's table builder)"


@dataclass(frozen=True)
class ModelView:
    """What the model and the walk say of one step, for the report and results."""
    model: str = None       # the model's allowed outcomes, decoded (None: not evaluated)
    walk: tuple = ()        # the kernel's walk of the step's VA, one line per level
    problems: tuple = ()    # what fails the step, no known bug explaining it
    known_bugs: tuple = ()  # the known QEMU bugs (KnownBug) that explain the step's departures
    explained: tuple = ()   # the model's lines on the departures they explain
    unjudged: str = None    # why the model cannot judge the step (None: it judged it)
    amalgamation: bool = False  # what it cannot judge is an amalgamation of TLB entries (D8.17.1) alone


def _registers(regs, boot, case):
    """The model's Registers from the kernel's `regs` record and its boot record's ID registers,
    in the translation regime the case's steps run in (an `el2` case's are EL2's registers)."""
    el2 = {name: regs.num(name) for name in EL2_REGISTERS + EXTENDED_REGISTERS if name in regs.fields}
    regime = {"nvhe": REGIME_EL2, "vhe": REGIME_EL20}.get(case.el2, REGIME_EL10)
    return model.Registers(tcr=regs.num("tcr"), mair=regs.num("mair"), sctlr=regs.num("sctlr"),
                           ttbr0=regs.num("ttbr0"), ttbr1=regs.num("ttbr1"),
                           mmfr0=boot.num("mmfr0"), mmfr1=boot.num("mmfr1"), mmfr2=boot.num("mmfr2"), regime=regime,
                           **{name: boot.num(name) if name in boot.fields else 0 for name in ("dczid", "clidr", "ctr")},
                           **el2)


def _slot(record):
    return record.num("table") + 8 * record.num("index")


def _walked_memory(walk, declared_memory):
    """The memory the model reads: the descriptors the kernel's walk read, by
    physical address, over the case's declared layout.  The kernel walks the
    step's VA only; the declared layout (checked against every walk, below)
    answers for the rest: the next page of an access that crosses pages."""
    memory = declared_memory.copy()
    for r in walk:
        memory.write64(_slot(r), r.num("desc"))
    return memory


def _hardware_bits(case):
    """Descriptor bits the hardware may change under this regime (AF with HA;
    AP[2] with HA and HD; at stage 2 AF with VTCR_EL2.HA, S2AP[1] with HA and HD),
    which the declared layout no longer predicts after a step."""
    s2 = case.stage2
    bits = DESC_AF.mask if case.regime.ha or s2 is not None and s2.ha else 0
    if case.regime.ha and case.regime.hd:
        bits |= AP2 << DESC_AP.shift
    if s2 is not None and s2.ha and s2.hd:
        bits |= S2AP_W
    return bits


def _first_change(case):
    """The index of the first step that changes the tables or registers (MAINT_OPS, a fix-up), or None."""
    return next((n for n, step in enumerate(case.steps) if step.op in MAINT_OPS or step.fixup), None)


def _against_declaration(case, records, want, layout):
    """Problems of the kernel's registers and walks against the case's declared layout (its
    Registers `want`, its tables' Memory `layout()`), the walks of the steps before the case
    first changes its tables: the layout is what the steps start from."""
    regs = records.regs
    el = "EL2" if case.el2 is not None else "EL1"
    problems = [f"{KERNEL_DEFECT}: {name.upper()}_{el} programmed {regs.num(name):#x}, the case declares "
                f"{getattr(want, name):#x}" for name in ("tcr", "mair", "sctlr", "ttbr0", "ttbr1")
                if regs.num(name) != getattr(want, name)]
    if regs.fields.get("el", 1) != (1 if case.el2 is None else 2):
        problems.append(f"{KERNEL_DEFECT}: the steps ran at EL{regs.fields.get('el', 1)}, the case's are at {el}")
    problems += [f"{KERNEL_DEFECT}: {name.upper()}_EL2 programmed {regs.fields.get(name, 0):#x}, the case "
                 f"declares {getattr(want, name):#x}" for name in EL2_REGISTERS
                 if regs.fields.get(name, 0) != getattr(want, name)]
    problems += [f"{KERNEL_DEFECT}: {name.upper()}_{'EL2' if name == 's2pir' else el} programmed "
                 f"{regs.num(name):#x}, the case declares {getattr(want, name):#x}" for name in EXTENDED_REGISTERS
                 if name in regs.fields and regs.num(name) != getattr(want, name)]
    free = _hardware_bits(case)
    seen = set()
    changed = _first_change(case)
    for n in sorted(records.walks):
        if changed is not None and n >= changed:
            break
        for r in records.walks[n]["before"]:
            slot = _slot(r)
            if slot in seen:
                continue
            seen.add(slot)
            try:
                declared_desc = layout().read64(slot)
            except model.UnknownMemory:
                problems.append(f"{KERNEL_DEFECT}: step {n}'s walk read L{r.num('level')}[{r.num('index')}] at "
                                f"PA {slot:#x} = {r.num('desc'):#x}, where the case declares no table")
                continue
            if (declared_desc ^ r.num("desc")) & ~free:
                problems.append(f"{KERNEL_DEFECT}: step {n}'s walk read L{r.num('level')}[{r.num('index')}] "
                                f"= {r.num('desc'):#x} at PA {slot:#x}; the case declares {declared_desc:#x}")
    return problems


def _after_updates(walks, outcomes):
    """Problems of the descriptors read after a step against the updates of the model's outcomes."""
    before = {_slot(r): r.num("desc") for r in walks["before"]}
    after = {_slot(r): r.num("desc") for r in walks["after"]}
    expected = []
    for outcome in outcomes:
        state = dict(before)
        for pa, _, new in outcome.updates:
            state[pa] = new
        expected.append(state)
    if any(all(state.get(pa, desc) == desc for pa, desc in after.items()) for state in expected):
        return []
    changed = ", ".join(f"PA {pa:#x}: {before.get(pa, 0):#x} -> {desc:#x}" for pa, desc in after.items()
                        if before.get(pa) != desc) or "no descriptor changed"
    wanted = " | ".join(", ".join(f"PA {pa:#x} -> {new:#x}" for pa, _, new in o.updates) or "no update"
                        for o in sorted(outcomes, key=repr))
    return [f"model: after the step the descriptors read {changed}; the model allows: {wanted}"]


def step_views(case, records, boot, version=None, observations=None, failing=frozenset(), cache=None):
    """{step n: ModelView} of a case's records (see _step_views), with the model to itself: no
    other thread's known-bug variant in force meanwhile.  observations: the records' step
    Observations as the runner decoded them (decoded here when not given); cache: a
    predictions.PredictionCache, or None to evaluate everything."""
    if observations is None:
        observations = {n: observe(r) for n, r in records.steps.items()} if records else {}
    with MODEL_LOCK:
        return _step_views(case, records, observations, boot, version, failing, cache)


class _Uncached:
    """A predictions.CaseEntry that keeps nothing: every prediction computed when asked for."""

    @staticmethod
    def value(key, compute):
        return compute()


_BUGS = {bug.name: bug for bug in KNOWN_BUGS}


def _declared_walk(walk, layout):
    """Whether the descriptors a walk read are the declared layout's (layout(): its Memory) at
    their addresses."""
    try:
        return all(layout().read64(_slot(r)) == r.num("desc") for r in walk)
    except model.UnknownMemory:
        return False


def _translate(regs, memory, access):
    """The model's Outcomes of an access; None where its walk reads memory nobody declared."""
    try:
        return model.full_translate(regs, memory, access)
    except model.UnknownMemory:
        return None


def _step_views(case, records, observations, boot, version, failing, cache):
    """{step n: ModelView} for a case's records (protocol.CaseRecords) and their step
    Observations (harness/observation.py) of a run on QEMU `version` whose boot record is
    `boot`; `failing`: the steps whose case expectation fails (a known bug may explain them
    too).  {} when the case never began; a case that began with no regs record is the
    runner's problem (the kernel reports one for every case).

    The model's outcomes over the declared layout and the known bugs that explain a
    departure come from `cache` (harness/predictions.py) where it holds them: they are
    what the model gives for the same case, CPU and records.  A step whose registers or
    walked descriptors are not the declared ones is evaluated over what the kernel reports."""
    if records is None or boot is None or records.regs is None:
        return {}
    ids = features.boot_ids(boot)
    views = {}
    regs = _registers(records.regs, boot, case)
    pool_base = records.regs.num("ttbr0") & ~0xFFFF        # the case's TTBR0 root is the pool's first table
    entry = cache.entry(case, ids, pool_base) if cache is not None else _Uncached
    want = entry.value("registers", lambda: declared.case_registers(case, ids, pool_base))

    @functools.cache
    def layout():
        """The declared tables, built only for the walk records there are (a digest needs none);
        read, never written (_walked_memory copies them)."""
        return declared.declared_memory(case, pool_base)[0]
    layout_problems = _against_declaration(case, records, want, layout)
    # A case that changes its translations is judged by the model over its steps in
    # order, with the TLB: an access may use what a TLB still holds, which no walk
    # of the tables as they are now shows; so is one with an AT under its own stage 2 (kernel/el2.c
    # at_s12_under), whose registers are not the case's and whose invalidations the TLB model follows.
    # So is one with a store-exclusive, whose status depends on the Load-Exclusives and exception returns
    # before it (harness/model/exclusives.py), and one with a GCS op whose GCS Data Check (or GCSSS2's second
    # address) depends on the memory the steps before it left (ops.GCS_MEMORY_OPS; predict._gcs_pop ...).
    # Over the declared layout and registers alone: the prediction is the case's, whatever the records.
    predictions = entry.value("case", lambda: predict_case(case, ids, pool_base)) \
        if _first_change(case) is not None or any(s.s2_under or s.op in EXCLUSIVE_STORES or s.op in GCS_MEMORY_OPS
                                                  for s in case.steps) \
        else None
    for n, (step, access) in enumerate(zip(case.steps, step_accesses(case))):
        obs = observations.get(n)
        walk_text = ()
        if predictions is not None and obs is not None and step.op in MAINT_OPS:
            outcomes = predictions[n]
            departures = [f"model: {p}" for p in observation_allowed(step, outcomes, obs)]
        elif step.op not in ACCESS_KINDS or obs is None:
            continue        # a self-test of the kernel, not an MMU probe; or a step that never ran
        else:
            # No walk record: the walk's digest is folded into the end record's instead (the runner
            # checks it against the declared walks'), or the step record says its walk read no descriptor (walks=0: a VA out of
            # range, a walk disabled by EPDn); a walk record lost is the records' problem (protocol.py).
            walks = records.walks.get(n, {"before": [], "after": []})
            walk_text = tuple(describe_walk(walks["before"], case.regime, step.va, case.stage2))
            outcomes = predictions[n] if predictions is not None else None
            if outcomes is None and regs == want and _declared_walk(walks["before"], layout):
                # What the model gives over the declared layout: the memory the walk read is it.
                outcomes = entry.value(n, lambda: _translate(want, layout(), access))
            if outcomes is None:
                try:
                    outcomes = model.full_translate(regs, _walked_memory(walks["before"], layout()), access)
                except model.UnknownMemory as e:
                    views[n] = ModelView(walk=walk_text, problems=(
                        f"the model's walk reads PA {e.pa:#x}, which neither the kernel's walk of this VA nor the "
                        "case's declared layout holds (a defect of this suite)",))
                    continue
            departures = [f"model: {p}" for p in observation_allowed(step, outcomes, obs)]
            if walks["after"] and not unjudged(outcomes):
                departures += _after_updates(walks, outcomes)
        reason = unjudged_observation(step, outcomes, obs)
        amalgamated = reason is not None and amalgamation(outcomes)
        if reason and not amalgamated:
            # Not judged by the model: its lines on the observation say only that.
            views[n] = ModelView(describe_outcomes(outcomes, step.op), walk_text, unjudged=reason)
            continue
        defects = tuple(f"{SUITE_DEFECT}: {p}" for p in expectation_agrees(step, outcomes))
        after = walks["after"] if step.op in ACCESS_KINDS else []
        bugs = ()
        if (departures or n in failing) and not defects:
            # All the search depends on besides the case: the step, QEMU's version, the observation,
            # and the descriptors read back where there are some (the check of hardware updates).
            read = [tuple((_slot(r), r.num("desc")) for r in walks[when]) for when in ("before", "after")] if after \
                else ()
            departure = (n, version, repr(obs), *read)

            def search():
                return tuple(bug.name for bug in explain(
                    version, case, ids, pool_base, n, obs,
                    agrees=lambda outcomes: not after or not _after_updates(walks, outcomes)))
            bugs = tuple(_BUGS[name] for name in entry.value(("explained", departure), search))
        if bugs:
            views[n] = ModelView(describe_outcomes(outcomes, step.op), walk_text, (), bugs, tuple(departures))
        elif amalgamated:
            # None of the whole-entry outcomes, no known bug: it may be an amalgamation of the TLB entries
            # (D8.17.1), which the model cannot bound.  Not judged, and not passed: the reason says so.
            views[n] = ModelView(describe_outcomes(outcomes, step.op), walk_text, defects, unjudged=reason,
                                 amalgamation=True)
        else:
            views[n] = ModelView(describe_outcomes(outcomes, step.op), walk_text, tuple(departures) + defects)
    if layout_problems:
        first = min(views, default=0)
        view = views.get(first, ModelView())
        views[first] = replace(view, problems=view.problems + tuple(layout_problems))
    return views
