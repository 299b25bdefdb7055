"""Mutation self-check: a kernel whose page-table builder has a deliberate defect
must fail the conformance suite.  A defect the suite let pass would mean its
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
    # Stage 2 block and page descriptors with the Access flag inverted (kernel/stage2.c builds with pgtable.c).
    "s2_af_inverted": ("if (prot->af)\n\t\tbits |= PTE_AF;", "if (!prot->af)\n\t\tbits |= PTE_AF;"),
    "table_bit_missing": ("*entry = oa_encode(pt, (u64)(uintptr_t)next) | DESC_TABLE | DESC_VALID;",
                          "*entry = oa_encode(pt, (u64)(uintptr_t)next) | DESC_VALID;"),
}

COPIED = ["kernel", "linker", "harness", "cases", "Makefile", "conftest.py", "pytest.ini"]


def mutant_repository(directory, find, replace):
    """A copy of the repository with `find` replaced in kernel/pgtable.c."""
    for name in COPIED:
        source, target = ROOT / name, directory / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    pgtable = directory / "kernel" / "pgtable.c"
    text = pgtable.read_text()
    assert text.count(find) == 1, f"the defect's text is not in kernel/pgtable.c once: {find!r}"
    pgtable.write_text(text.replace(find, replace))
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
