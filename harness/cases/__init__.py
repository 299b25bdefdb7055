"""Case files: loaded, validated and expanded before any kernel is built or run.

A case file (cases/<family>.toml) holds one family of cases; a malformed or contradictory case
raises CaseError naming the file, the case and the field.  One idea per module:

    names        the vocabulary: ops by kind, memory types, permission names
    schema       the keys each table may have, the Case it loads into, CaseError
    fields       typed reading of one table (each field's type checked where it is read)
    loader       files: TOML, matrices expanded into instances, known-bug tables
    translation  a case's regime, mappings and stage 2
    steps        a case's steps and the outcome each expects
    validation   one case assembled, and the rules that tie its fields together
    layout       frame placement and what a case's tables may not touch

The names other modules use are importable from here.  The schema is documented in cases/README.md.
"""
from harness.cases.layout import kernel_ipa_ranges, kernel_ranges, range_tg, range_unit
from harness.cases.loader import load_dir, load_file, load_files
from harness.cases.names import (
    ALL_AT_OPS, AP_NAMES, APTABLE_NAMES, AT_OPS, AT_S12_OPS, AT_S1E2_OPS, DESC_WRITES, EL0_OPS, EL2_MODES,
    FIXUP_KINDS, HWDEF, LAST_LEVEL_TLBI, LAYOUT, LOADS, MAINT_OPS, MEMORY_TYPES, OPS, RANGE_TLBI, S2_DESC_WRITES,
    S2_RANGE_TLBI, S2_TLBI_OPS, S2AP_NAMES, SELFTESTS, SH_NAMES, STAGE2_MAINT_OPS, STORES, SYSREG_WRITES,
    TLBI_EL2_OPS, TLBI_EL20_ASID_OPS, TLBI_OPS, NXS_TLBI, at_aborts, tlbi_plain, tlbi_takes_asid,
)
from harness.cases.schema import (
    DESC_FIELDS, Case, CaseError, Expect, Mapping, Raw, Regime, S2Mapping, Stage2, Step, TableAttrs, TlbiRange, Xfail,
)
from harness.cases.validation import OP_FEATURES, op_features

__all__ = [
    "load_dir", "load_file", "load_files", "CaseError", "Case", "Expect", "Mapping", "Raw", "Regime", "S2Mapping", "Stage2", "Step",
    "TableAttrs", "TlbiRange", "Xfail", "DESC_FIELDS", "OP_FEATURES", "op_features", "kernel_ipa_ranges", "kernel_ranges",
    "range_tg", "range_unit", "ALL_AT_OPS", "AP_NAMES", "APTABLE_NAMES", "AT_OPS", "AT_S12_OPS", "AT_S1E2_OPS",
    "DESC_WRITES", "EL0_OPS", "EL2_MODES", "FIXUP_KINDS", "HWDEF", "LAST_LEVEL_TLBI", "LAYOUT", "LOADS",
    "MAINT_OPS", "MEMORY_TYPES", "OPS", "RANGE_TLBI", "S2_DESC_WRITES", "S2_RANGE_TLBI", "S2_TLBI_OPS",
    "S2AP_NAMES", "SELFTESTS", "SH_NAMES", "STAGE2_MAINT_OPS", "STORES", "SYSREG_WRITES", "TLBI_EL2_OPS",
    "TLBI_EL20_ASID_OPS", "TLBI_OPS", "NXS_TLBI", "at_aborts", "tlbi_plain", "tlbi_takes_asid",
]
