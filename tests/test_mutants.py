"""Mutation self-check: a kernel with a deliberate defect (in its page-table
builder, in how it programs WXN, PAN, SPAN, HPD and E0PD, in its EL2 half's
stage 2, or in its own TLB maintenance) must fail the conformance suite.  A defect the suite let pass would mean its cases do not
check what they claim to.

Each defect is applied to a copy of the repository (kernel, harness, cases,
build files), which builds its own kernel and runs its own suite.
"""
import shutil

import pytest

from harness import features
from harness.runner import Runner, Settings
from suite_run import ROOT, suite, suite_options  # noqa: F401  (fixtures)

# One textual change to one kernel file each: (file, find, replace), `find` occurring there exactly once.
DEFECTS = {
    "af_never_set": ("pgtable.c", "(prot->af ? PTE_AF : 0)", "0"),
    "af_always_set": ("pgtable.c", "(prot->af ? PTE_AF : 0)", "PTE_AF"),
    # AP[2] (read-only) and AP[1] (EL0 access) trade places.
    "ap_bits_swapped": ("pgtable.c", "PTE_AP(prot->ap)", "PTE_AP(((prot->ap & 1) << 1) | ((prot->ap >> 1) & 1))"),
    "index_shift_off_by_one": ("pgtable.c", "(va >> pgt_level_shift(pt->granule_shift, level))",
                               "(va >> (pgt_level_shift(pt->granule_shift, level) + 1))"),
    # Every block and page one level bigger than asked for.
    "block_size_one_level_up": ("pgtable.c", "(granule_shift - 3) * (3 - level)", "(granule_shift - 3) * (4 - level)"),
    # Stage 2 block and page descriptors with the Access flag inverted (kernel/stage2.c builds with pgtable.c).
    "s2_af_inverted": ("pgtable.c", "if (prot->af)\n\t\tbits |= PTE_AF;", "if (!prot->af)\n\t\tbits |= PTE_AF;"),
    # Next-level tables written as block descriptors (bit 1 clear).
    "table_bit_missing": ("pgtable.c", "*entry = oa_encode(pt, (u64)(uintptr_t)next) | DESC_TABLE | DESC_VALID;",
                          "*entry = oa_encode(pt, (u64)(uintptr_t)next) | DESC_VALID;"),
    # Execute permissions: UXN never set (EL0 may run everything), UXNTable and PXNTable swapped.
    "uxn_never_set": ("pgtable.c", "(prot->uxn ? PTE_UXN : 0)", "0"),
    "xntable_swapped": ("pgtable.c", "(prot->pxntable ? TABLE_PXN : 0) | (prot->uxntable ? TABLE_UXN : 0)",
                        "(prot->pxntable ? TABLE_UXN : 0) | (prot->uxntable ? TABLE_PXN : 0)"),
    "wxn_never_set": ("mmu.c", "(r->wxn ? SCTLR_WXN : 0)", "0"),
    # The kernel's own PSTATE.PAN setting ignored; SCTLR_EL1.SPAN always left at its reset value.
    "pan_never_set": ("steps.c", "!run->regime->nv1)\n\t\twrite_pan(SPSR_PAN);", "!run->regime->nv1)\n\t\twrite_pan(0);"),
    "span_ignored": ("mmu.c", "return r->span ? sctlr : sctlr & ~SCTLR_SPAN;", "return sctlr;"),
    # HPD0 written to HPD1's bit (and HPD1 to HPD0's).
    "hpd_bits_swapped": ("mmu.c", "(r->hpd0 ? TCR_HPD0 : 0) | (r->hpd1 ? TCR_HPD1 : 0)",
                         "(r->hpd0 ? TCR_HPD1 : 0) | (r->hpd1 ? TCR_HPD0 : 0)"),
    "e0pd_never_set": ("mmu.c", "(r->e0pd0 ? TCR_E0PD0 : 0) | (r->e0pd1 ? TCR_E0PD1 : 0)", "0"),
    # The EL2 half: an EL0 step's stage 2 fault not resumed (taken as unexpected); VTCR_EL2.HA,
    # HCR_EL2.FWB never set; stage 2 tables in the 48-bit format whatever VTCR_EL2.DS says.
    "el0_stage2_fault_not_resumed": ("el2.c", "from_el0 ? in_el0_code(elr) :", "from_el0 ? false :"),
    "vtcr_ha_never_set": ("stage2.c", "(s->flags & STAGE2_HA ? VTCR_HA : 0)", "0"),
    "hcr_fwb_never_set": ("stage2.c", "(s->flags & STAGE2_FWB ? HCR_FWB : 0)", "(s->flags & 0)"),
    "stage2_ds_format_ignored": ("stage2.c", "return s->flags & STAGE2_DS ? OA_52_DS : OA_48;", "return OA_48;"),
}

# What the outer run's CPU must have for the suite to be able to catch a defect:
# without it the cases that would are skipped, and the mutant cannot be judged.
NEEDS = {"pan_never_set": "FEAT_PAN", "span_ignored": "FEAT_PAN", "hpd_bits_swapped": "FEAT_HPDS",
         "e0pd_never_set": "FEAT_E0PD", "tlbi_rvae1_missing": "FEAT_TLBIRANGE",
         "tlbi_rvae2_missing": "FEAT_TLBIRANGE", "tlbi_vae2_missing": "FEAT_VHE",
         "vtcr_ha_never_set": "FEAT_HAFDBS", "hcr_fwb_never_set": "FEAT_S2FWB", "stage2_ds_format_ignored": "FEAT_LPA2"}


def only_the_is_form(op, plain, inner_shareable):
    """kernel/maint.c's TLBI_AND_IS/TLBI_RANGE_AND_IS pair written out, `plain` in place of the op's own
    form and its Inner Shareable form as the macro has it: a defect of the one form alone."""
    return f"case {op}: {plain} case {op}IS: {inner_shareable}"


# Defects of the kernel's own maintenance (kernel/maint.c, kernel/fixup.c, kernel/el2.c): (file, find,
# replace, the case files that must catch it).  QEMU's softmmu TLB keeps an entry until a
# TLBI removes it, so a TLBI or an ASID switch the kernel leaves out shows as a stale entry.
MAINTENANCE_DEFECTS = {
    # The seeds' unmap/remap without its TLBI: a stale entry where only the new one is permitted.
    "tlbi_vae1_missing": ("maint.c", "TLBI_AND_IS(OP_TLBI_VAE1, vae1, 0, 1);",
                          only_the_is_form("OP_TLBI_VAE1", "break;", "tlbi_or_nxs(nxs, vae1is, 0, 3, 1, xt); break;"),
                          ("tlb.toml", "bbm.toml")),
    # A context switch that keeps the old ASID: nG entries of the old process are used.
    "ttbr0_asid_dropped": ("maint.c", "write_sysreg_elx(pgt_ttbr(&spaces[s->space]) | TTBR_ASID(s->value), ttbr0)",
                           "write_sysreg_elx(pgt_ttbr(&spaces[s->space]), ttbr0)", ("asid.toml",)),
    # A context switch that keeps the old table root: process 2 runs on process 1's tables.
    "ttbr0_space_ignored": ("maint.c", "pgt_ttbr(&spaces[s->space]) | TTBR_ASID", "pgt_ttbr(&spaces[0]) | TTBR_ASID",
                            ("address_spaces.toml",)),
    # A range invalidation left out: the range's stale entries stay.
    "tlbi_rvae1_missing": ("maint.c", "TLBI_RANGE_AND_IS(OP_TLBI_RVAE1, 0, 1);",
                           only_the_is_form("OP_TLBI_RVAE1", "break;", "tlbi_range_or_nxs(nxs, 0, 2, 1, xt); break;"),
                           ("tlb_range.toml",)),
    # EL2's range invalidation left out (E2H = 0): the range's stale EL2 entries stay.
    "tlbi_rvae2_missing": ("maint.c", "TLBI_RANGE_AND_IS(OP_TLBI_RVAE2, 4, 1);",
                           only_the_is_form("OP_TLBI_RVAE2", "break;", "tlbi_range_or_nxs(nxs, 4, 2, 1, xt); break;"), ("el2.toml",)),
    # TLBI VAE2 made as EL1&0's VAE1 (as a kernel that kept the *_EL1 forms at EL2 would): the EL2 regime's entry
    # stays where after TLBI VAE2, DSB, ISB only the new translation is permitted.
    "tlbi_vae2_as_vae1": ("maint.c", "TLBI_AND_IS(OP_TLBI_VAE2, vae2, 4, 1);",
                          only_the_is_form("OP_TLBI_VAE2", "tlbi_or_nxs(nxs, vae1, 0, 7, 1, xt); break;",
                                           "tlbi_or_nxs(nxs, vae2is, 4, 3, 1, xt); break;"), ("el2.toml",)),
    # A fault handler that writes no descriptor: the retry faults again.  (Copy-on-write
    # without its TLBI is no mutant here: QEMU walks again on a write its TLB entry does not
    # permit, so the architecture's permitted second Permission fault never shows.)
    "fixup_writes_nothing": ("fixup.c", "(*(volatile u64 *)slot & ~fix->mask) | fix->value",
                             "*(volatile u64 *)slot", ("fixup.toml",)),
    # protect loses the output address: the mask is ignored.
    "descriptor_write_ignores_mask": ("maint.c", "(*(volatile u64 *)slot & ~s->mask) | s->value", "s->value",
                                      ("tlb.toml",)),
    # EL2's TLBI by VA in the EL2&0 regime left out: the remapped page's stale entry is used.
    "tlbi_vae2_missing": ("maint.c", "TLBI_AND_IS(OP_TLBI_VAE2, vae2, 4, 1);",
                          only_the_is_form("OP_TLBI_VAE2", "break;", "tlbi_or_nxs(nxs, vae2is, 4, 3, 1, xt); break;"),
                          ("vhe.toml",)),
    # The EL2 half's VMALLS12E1 left out: the old combined entry where only the new is permitted.  (IPAS2E1
    # left out is no mutant here: QEMU's stage 1 TLBI after it removes the combined entry on its own.)
    "tlbi_vmalls12e1_missing": ("el2.c", "case OP_TLBI_VMALLS12E1: tlbi_all_or_nxs(nxs, vmalls12e1, 4, 7, 6); break;",
                                "case OP_TLBI_VMALLS12E1: break;", ("s2tlb.toml",)),
    # A VMID switch that keeps the old VMID: the old VMID's entries are used under the "new" one.
    "set_vmid_ignored": ("el2.c", "write_sysreg((read_sysreg(vttbr_el2) & ~VTTBR_VMID_MASK) | f->x[1] << "
                         "VTTBR_VMID_SHIFT, vttbr_el2);", "(void)0;", ("s2tlb.toml",)),
    # The stages' tables swapped: a stage 2 descriptor step in stage 1's slot for the same number, and back.
    # One case of s2tlb: judging the departures of the others (the known-bug search over each departing
    # step) took past 120 s a case on a 2-CPU machine, the whole file past the run's 400 s.
    "descriptor_step_stages_swapped": ("maint.c", "pgt_slot(stage2 ? s2 :", "pgt_slot(!stage2 ? s2 :",
                                       ("s2tlb.toml::s2_break_before_make",)),
}

COPIED = ["kernel", "linker", "harness", "cases", "Makefile", "conftest.py", "pytest.ini"]


def mutant_repository(directory, kernel_file, find, replace):
    """A copy of the repository with `find` replaced in kernel/`kernel_file`."""
    for name in COPIED:
        source, target = ROOT / name, directory / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    mutated = directory / "kernel" / kernel_file
    text = mutated.read_text()
    assert text.count(find) == 1, f"the defect's text is not in kernel/{kernel_file} once: {find!r}"
    mutated.write_text(text.replace(find, replace))
    return directory


@pytest.fixture(scope="module")
def cpu_ids(request):
    """The ID registers (features.ID_REGISTERS) of the outer run's QEMU and CPU, from one boot of the built kernel."""
    kernel = ROOT / "build" / "kernel.elf"
    if not kernel.is_file():
        pytest.skip(f"no {kernel}: run `make kernel`")
    settings = Settings(request.config.getoption("--qemu", default="qemu-system-aarch64"),
                        request.config.getoption("--cpu", default="max"), kernel)
    _, output = Runner(settings).boot()
    assert output.boot is not None, "the kernel printed no boot record"
    return features.boot_ids(output.boot)


def _skip_unless_catchable(defect, cpu_ids):
    unmet = features.missing([NEEDS[defect]], *cpu_ids) if defect in NEEDS else []
    if unmet:
        pytest.skip(f"this CPU {' and '.join(unmet)}: the cases that catch {defect} are skipped")


@pytest.mark.parametrize("defect", DEFECTS)
def test_suite_fails_on_defective_kernel(suite, tmp_path, cpu_ids, defect):
    _skip_unless_catchable(defect, cpu_ids)
    repo = mutant_repository(tmp_path / "repo", *DEFECTS[defect])
    # -x: one failed case is the answer.  A defect that breaks the kernel's own
    # mappings hangs it after the MMU is on, hence the short timeout.
    # The whole suite, one process: a defect caught only by a late family (s2_hw_update for
    # vtcr_ha_never_set) needs most of it, past run_suite's default bound of 120 s.
    run = suite("-x", "--case-timeout=2", root=repo, cases=repo / "cases", work=tmp_path, timeout=400)
    # 1, not 2: the kernel built and ran, and a case failed (2 would be a build or set-up error).
    assert run.returncode == 1, run.output
    assert "failed" in run.outcomes().values(), run.output


@pytest.mark.parametrize("defect", MAINTENANCE_DEFECTS)
def test_suite_fails_on_defective_maintenance(suite, tmp_path, cpu_ids, defect):
    _skip_unless_catchable(defect, cpu_ids)
    kernel_file, find, replace, families = MAINTENANCE_DEFECTS[defect]
    repo = mutant_repository(tmp_path / "repo", kernel_file, find, replace)
    # -x as above: one failed case is the answer (a defect that hangs every case of a family would
    # otherwise cost each its timeout and its rerun on a fresh boot, past the run's own bound).
    # 400 s, as above: a mutant's departing steps each cost the known-bug search, nearly all of a run's
    # time (descriptor_step_stages_swapped's one case of s2tlb: 47 s on a 2-CPU machine).
    run = suite("-x", "--case-timeout=2", root=repo, cases=repo / "cases", work=tmp_path,
                select=[str(repo / "cases" / family) for family in families], timeout=400)
    assert run.returncode == 1, run.output
    assert "failed" in run.outcomes().values(), run.output
