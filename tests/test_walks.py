"""regs and walk records of the real kernel under QEMU: every case of cases/ in one
boot with walk records and one without (the `+walks` option: walk digests) per boot mode: one with EL2
(virtualization=on) for the cases at EL1, with or without a stage 2, one +vhe boot for
the cases at EL2 (where the CPU has FEAT_VHE)."""
import itertools
from pathlib import Path

import pytest

from harness import bench, declared, features, walk_digest
from harness.cases import MAINT_OPS, load_dir
from harness.kdefs import kernel_header, read_constants
from harness.protocol import parse_output
from harness.qemu import qemu_version, run_kernel
from harness.walk_text import describe_walk

ROOT = Path(__file__).resolve().parent.parent
KERNEL = ROOT / "build" / "kernel.elf"
CASES = {c.id: c for c in load_dir(ROOT / "cases")}
SYSREG = read_constants(kernel_header("sysreg.h"))


@pytest.fixture(scope="module")
def runs(request):
    if not KERNEL.is_file():
        pytest.skip(f"no {KERNEL}: run `make kernel`")
    qemu = request.config.getoption("--qemu", default="qemu-system-aarch64")
    cpu = request.config.getoption("--cpu", default="max")
    out = {True: {}, False: {}}
    # Left out of the shared boots, as the suite and bench leave them (bench.suite_cases, ends_the_run):
    # a case whose requirements this CPU lacks (its instructions may be UNDEFINED here: xs on 7.2.22),
    # and one whose known bug ends this QEMU's run (block_level_minus1: 7.2.22 aborts), which would
    # end the boot and every case after it (it runs apart: tests/test_fuzz_known.py, bench).
    ids = features.boot_ids(parse_output(run_kernel(qemu, cpu, KERNEL, [], timeout=60).output).boot)
    version = qemu_version(qemu)
    unmet = {i for i, c in enumerate(CASES.values()) if features.missing(c.requires, *ids)}
    ending = {i for i, c in enumerate(CASES.values()) if i not in unmet and bench.ends_the_run(c, version, ids)}
    assert all(c.xfail for i, c in enumerate(CASES.values()) if i in ending)
    assert len(unmet | ending) < len(CASES) // 2, "most cases left out: is this the right CPU?"
    for boot, ranges in _ranges(unmet | ending).items():
        for walks in (True, False):
            run = run_kernel(qemu, cpu, KERNEL, ranges, timeout=60, walks=walks, boot=boot)
            parsed = parse_output(run.output)
            if boot == "vhe" and "kernel_el" not in parsed.boot.fields:
                break       # no FEAT_VHE: the kernel ran at EL1 and refused them
            assert parsed.garbage == [] and parsed.exit_status == 0, run.output[-3000:]
            out[walks].update(parsed.cases())
    return out


def _ranges(skip=frozenset()):
    """{boot mode: the blob index ranges of its cases}: "stage2" (EL2 there: the stage 2 cases need it,
    the others run at EL1 as without, and the nvhe cases move to EL2) for all but the "vhe" cases;
    the indices in `skip` left out (a range ends before each)."""
    modes = {}
    kept = [(i, c) for i, c in enumerate(CASES.values()) if i not in skip]
    # Consecutive kept indices of one boot mode share a range.
    key = lambda k_ic: ("vhe" if k_ic[1][1].boot == "vhe" else "stage2", k_ic[1][0] - k_ic[0])
    for (boot, _), group in itertools.groupby(enumerate(kept), key):
        indices = [i for _, (i, _) in group]
        modes.setdefault(boot, []).append(f"#{indices[0]}-{indices[-1]}")
    return modes


def test_every_case_has_its_registers(runs):
    for case_id, records in runs[True].items():
        r, regs = CASES[case_id].regime, records.regs
        assert regs is not None, case_id
        tcr = regs.num("tcr")
        if CASES[case_id].el2 == "nvhe":
            # TCR_EL2 in its EL2 layout (E2H = 0): one T0SZ, the RES1 bits, HA and DS where EL2 has them.
            assert tcr & 0x3F == r.t0sz and tcr & SYSREG["TCR_EL2_RES1"] == SYSREG["TCR_EL2_RES1"], case_id
            assert bool(tcr & SYSREG["TCR_EL2_HA"]) == r.ha and bool(tcr & SYSREG["TCR_EL2_DS"]) == r.ds, case_id
        else:
            assert (tcr & 0x3F, tcr >> 16 & 0x3F) == (r.t0sz, r.t1sz), case_id
            assert bool(tcr & SYSREG["TCR_HA"]) == r.ha and bool(tcr & SYSREG["TCR_DS"]) == r.ds, case_id
        assert regs.num("mair") == r.mair and bool(regs.num("sctlr") & SYSREG["SCTLR_A"]) == r.sctlr_a
        if r.ttbr1 is not None:
            assert regs.num("ttbr1") == r.ttbr1


def _ttbr0_at(case, n, ttbr0):
    """TTBR0 as step n finds it: table set 0's (the regs record's), or that of the set the last set_ttbr0
    before it chose (the kernel's walk follows TTBR0_EL1)."""
    space = next((s.space for s in reversed(case.steps[:n]) if s.op == "set_ttbr0"), 0)
    return declared.space_ttbrs(case, ttbr0 & ~0xFFFF)[space]


def test_walks_start_at_the_selected_ttbr_and_follow_table_descriptors(runs):
    """What the harness relies on, whatever the tables: a walk is a chain of
    table descriptors from the TTBR that VA bit 55 selects, one level at a time."""
    walked = 0
    for case_id, records in runs[True].items():
        case = CASES[case_id]
        for n, walks in records.walks.items():
            va = case.steps[n].va
            for both in walks.values():
                # A stage 2 case's stage 1 walk, then the stage 2 walk of its IPA from VTTBR_EL2's table.
                reads = [w for w in both if w.fields.get("stage") != 2]
                stage2 = [w for w in both if w.fields.get("stage") == 2]
                assert both == reads + stage2, (case_id, n)
                if stage2:
                    assert stage2[0].num("table") == records.regs.num("vttbr") & ((1 << 48) - 2), (case_id, n)
                    levels = [w.num("level") for w in stage2]
                    assert levels == list(range(levels[0], levels[0] + len(levels))) and levels[-1] <= 3
                if not reads:
                    continue
                walked += 1
                ttbr = records.regs.num("ttbr1") if va >> 55 & 1 else _ttbr0_at(case, n, records.regs.num("ttbr0"))
                assert reads[0].num("table") == ttbr & ((1 << 48) - 2), (case_id, n)
                levels = [w.num("level") for w in reads]
                assert levels == list(range(levels[0], levels[0] + len(levels))) and levels[-1] <= 3
                assert all(w.num("desc") & 3 == 3 for w in reads[:-1]), (case_id, n)
                assert all(w.num("index") < 1 << 13 for w in reads)
    assert walked > 500


def test_walks_after_the_step_only_with_hardware_updates(runs):
    for case_id, records in runs[True].items():
        r, s2 = CASES[case_id].regime, CASES[case_id].stage2
        afters = [n for n, w in records.walks.items() if w["after"]]
        if not (r.ha or r.hd or s2 is not None and (s2.ha or s2.hd)):
            assert afters == [], case_id
        else:
            assert [n for n, w in records.walks.items() if w["before"]] == afters, case_id


def test_a_hardware_update_shows_in_the_walk_after_the_step(runs):
    """hardware_update.ha_sets_af: AF = 0 before the first access, set after it (TCR_EL1.HA)."""
    case_id = next(i for i in runs[True] if i.startswith("hardware_update.ha_sets_af["))
    first = runs[True][case_id].walks[0]
    af = read_constants(kernel_header("pgtable-hwdef.h"))["PTE_AF"]
    assert not first["before"][-1].num("desc") & af and first["after"][-1].num("desc") & af


def _full_walks(case, n):
    """Whether the kernel reports step n's walks in full without +walks (docs/protocol.md)."""
    s2 = case.stage2
    return (case.regime.ha or case.regime.hd or s2 is not None and (s2.ha or s2.hd)
            or n >= declared.first_change(case))


def test_walks_off_gives_digests_of_the_same_walks_and_changes_nothing_else(runs):
    """With walks off a step's walk is its digest, folded into the case's end record: the fold of
    the digests of the walk records the same steps give with walks on, and of the walks of the
    declared tables; the kernel reports the walks in full where the declared tables cannot predict
    them.  Every step record is otherwise the same, but for a step where the architecture permits
    more than one outcome (a `one_of`: a TLB that may still hold the old entry), whichever QEMU
    gives in either run."""
    assert list(runs[False]) == list(runs[True])
    digested = 0
    for case_id, records in runs[False].items():
        case, full = CASES[case_id], runs[True][case_id]
        assert records.regs.fields == full.regs.fields
        digests, left_out = [], []
        for n, step in records.steps.items():
            if _full_walks(case, n) or case.steps[n].op in MAINT_OPS:
                assert records.walks.get(n) == full.walks.get(n), (case_id, n)
                # Walks in full in both runs: the same announcement (walks= and after=).
                assert [step.fields.get(k) for k in ("walks", "after")] == \
                    [full.steps[n].fields.get(k) for k in ("walks", "after")], (case_id, n)
                continue
            assert n not in records.walks, (case_id, n)
            # A digest, not an announcement of walk records (protocol 5: one or the other).
            assert "walks" not in step.fields and "after" not in step.fields, (case_id, n)
            digests.append(walk_digest.digest(walk_digest.record_reads(full.walks.get(n, {"before": []})["before"])))
            left_out.append(n)
            digested += 1
        assert walk_digest.digested(case, records) == left_out, case_id
        assert records.walk_digest == (walk_digest.case_digest(digests) if digests else None), case_id
        assert full.walk_digest is None, case_id
        assert walk_digest.departures(case, records) == [], case_id
        # How the walk is reported (walks= and after=, or the end record's digest) differs between the runs, checked above.
        decided = lambda recs: {n: {k: v for k, v in s.fields.items() if k not in ("walks", "after")}
                                for n, s in recs.items()
                                if case.steps[n].expect.kind != "one_of"}
        # A case a known bug marks is left out: what that QEMU does there need not repeat (7.2.22's
        # TLBI RVAE2 in vhe.range_el2 leaves one run the old entry and the next the new).
        if case.xfail is None:
            assert decided(records.steps) == decided(full.steps), case_id
    assert digested > 2000


def test_every_walk_reads_as_text(runs):
    """harness/walk_text.py decodes every walk the kernel reports, a line per descriptor."""
    for case_id, records in runs[True].items():
        case = CASES[case_id]
        for n, walks in records.walks.items():
            for reads in walks.values():
                lines = describe_walk(reads, case.regime, va=case.steps[n].va, stage2=case.stage2)
                assert len(lines) == len(reads) and all(
                    line.startswith(f"{'S2 ' if r.fields.get('stage') == 2 else ''}L{r.num('level')}[")
                    for line, r in zip(lines, reads)), case_id
