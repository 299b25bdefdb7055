"""Mutation self-check: a kernel whose page-table builder, or whose own TLB
maintenance, has a deliberate defect must fail the conformance suite.  A defect the suite let pass would mean its
cases do not check what they claim to.

Each defect is applied to a copy of the repository (kernel, harness, cases,
build files), which builds its own kernel and runs its own suite.
"""
import shutil

import pytest

from suite_run import ROOT, suite, suite_options  # noqa: F401  (fixtures)

# One textual change to kernel/pgtable.c each: (find, replace), `find` occurring exactly once.
DEFECTS = {
    "af_never_set": ("(prot->af ? PTE_AF : 0)", "0"),
    "af_always_set": ("(prot->af ? PTE_AF : 0)", "PTE_AF"),
    # AP[2] (read-only) and AP[1] (EL0 access) trade places.
    "ap_bits_swapped": ("PTE_AP(prot->ap)", "PTE_AP(((prot->ap & 1) << 1) | ((prot->ap >> 1) & 1))"),
    "index_shift_off_by_one": ("(va >> pgt_level_shift(pt->granule_shift, level))",
                               "(va >> (pgt_level_shift(pt->granule_shift, level) + 1))"),
    # Every block and page one level bigger than asked for.
    "block_size_one_level_up": ("(granule_shift - 3) * (3 - level)", "(granule_shift - 3) * (4 - level)"),
    # Next-level tables written as block descriptors (bit 1 clear).
    "table_bit_missing": ("*entry = oa_encode(pt, (u64)(uintptr_t)next) | DESC_TABLE | DESC_VALID;",
                          "*entry = oa_encode(pt, (u64)(uintptr_t)next) | DESC_VALID;"),
}

# Defects of the kernel's own maintenance (kernel/maint.c, kernel/fixup.c): (file, find,
# replace, the case files that must catch it).  QEMU's softmmu TLB keeps an entry until a
# TLBI removes it, so a TLBI or an ASID switch the kernel leaves out shows as a stale entry.
MAINTENANCE_DEFECTS = {
    # The seeds' unmap/remap without its TLBI: a stale entry where only the new one is permitted.
    "tlbi_vae1_missing": ("maint.c", "case OP_TLBI_VAE1: tlbi(vae1, xt); break;", "case OP_TLBI_VAE1: break;",
                          ("tlb.toml", "bbm.toml")),
    # A context switch that keeps the old ASID: nG entries of the old process are used.
    "ttbr0_asid_dropped": ("maint.c", "write_sysreg(pgt_ttbr(tt0) | TTBR_ASID(s->value), ttbr0_el1)",
                           "write_sysreg(pgt_ttbr(tt0), ttbr0_el1)", ("asid.toml",)),
    # A fault handler that writes no descriptor: the retry faults again.  (Copy-on-write
    # without its TLBI is no mutant here: QEMU walks again on a write its TLB entry does not
    # permit, so the architecture's permitted second Permission fault never shows.)
    "fixup_writes_nothing": ("fixup.c", "(*(volatile u64 *)slot & ~fix->mask) | fix->value",
                             "*(volatile u64 *)slot", ("fixup.toml",)),
    # protect loses the output address: the mask is ignored.
    "descriptor_write_ignores_mask": ("maint.c", "(*(volatile u64 *)slot & ~s->mask) | s->value", "s->value",
                                      ("tlb.toml",)),
}

COPIED = ["kernel", "linker", "harness", "cases", "Makefile", "conftest.py", "pytest.ini"]


def mutant_repository(directory, find, replace, source="pgtable.c"):
    """A copy of the repository with `find` replaced in kernel/<source>."""
    for name in COPIED:
        source_path, target = ROOT / name, directory / name
        if source_path.is_dir():
            shutil.copytree(source_path, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source_path, target)
    mutated = directory / "kernel" / source
    text = mutated.read_text()
    assert text.count(find) == 1, f"the defect's text is not in kernel/{source} once: {find!r}"
    mutated.write_text(text.replace(find, replace))
    return directory


@pytest.mark.parametrize("defect", DEFECTS)
def test_suite_fails_on_defective_page_tables(suite, tmp_path, defect):
    repo = mutant_repository(tmp_path / "repo", *DEFECTS[defect])
    # -x: one failed case is the answer.  A defect that breaks the kernel's own
    # mappings hangs it after the MMU is on, hence the short timeout.
    run = suite("-x", "--case-timeout=2", root=repo, cases=repo / "cases", work=tmp_path)
    # 1, not 2: the kernel built and ran, and a case failed (2 would be a build or set-up error).
    assert run.returncode == 1, run.output
    assert "failed" in run.outcomes().values(), run.output


@pytest.mark.parametrize("defect", MAINTENANCE_DEFECTS)
def test_suite_fails_on_defective_maintenance(suite, tmp_path, defect):
    source, find, replace, families = MAINTENANCE_DEFECTS[defect]
    repo = mutant_repository(tmp_path / "repo", find, replace, source)
    run = suite("--case-timeout=2", root=repo, cases=repo / "cases", work=tmp_path,
                select=[str(repo / "cases" / family) for family in families])
    assert run.returncode == 1, run.output
    assert "failed" in run.outcomes().values(), run.output
