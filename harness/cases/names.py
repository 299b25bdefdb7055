"""The vocabulary of a case file: its ops by kind (harness/ops.py, beneath the model too), memory
types and permission names, each with the kernel's definition it stands for (kernel/layout.h,
pgtable-hwdef.h)."""
from harness.kdefs import kernel_header, read_constants, read_defines
from harness.ops import (  # noqa: F401  (the ops by kind, for the loader and its readers)
    ALL_AT_OPS, AT_OPS, AT_S1E2_OPS, AT_S12_OPS, DESC_WRITES, EL0_OPS, LAST_LEVEL_TLBI, LOADS, MAINT_OPS, OPS,
    RANGE_TLBI, S2_DESC_WRITES, S2_RANGE_TLBI, S2_TLBI_OPS, SELFTESTS, STAGE2_MAINT_OPS, STORES, SYSREG_WRITES,
    TLBI_EL2_OPS, TLBI_EL20_ASID_OPS, TLBI_OPS, NXS_TLBI, at_aborts, tlbi_plain, tlbi_takes_asid,
)

LAYOUT = read_defines(kernel_header("layout.h"))
HWDEF = read_constants(kernel_header("pgtable-hwdef.h"))

# Memory types by name, with the MAIR_EL1 index and attribute byte each has by
# default.  Indices 0 and 1 are the kernel's own (layout.h) and cannot change.
MEMORY_TYPES = {
    "device_ngnrne": (LAYOUT["KERNEL_ATTRIDX_DEVICE"], 0x00),
    "normal": (LAYOUT["KERNEL_ATTRIDX_NORMAL"], 0xFF),    # Write-Back, R/W-allocate
    "normal_nc": (2, 0x44),
    "normal_wt": (3, 0xBB),
    "device_ngnre": (4, 0x04),
    "device_ngre": (5, 0x08),
    "device_gre": (6, 0x0C),
    "normal_wb_ra": (7, 0xEE),                            # Write-Back, read-allocate only
}
APTABLE_NAMES = {"none": "APTABLE_NONE", "no_el0": "APTABLE_NO_EL0", "ro": "APTABLE_RO",
                 "ro_no_el0": "APTABLE_RO_NO_EL0"}
AP_NAMES = {"rw_el1": "AP_RW_EL1", "rw_all": "AP_RW_ALL", "ro_el1": "AP_RO_EL1", "ro_all": "AP_RO_ALL"}
SH_NAMES = {"non": "SH_NON", "outer": "SH_OUTER", "inner": "SH_INNER"}

S2AP_NAMES = {"none": "S2AP_NONE", "ro": "S2AP_RO", "wo": "S2AP_WO", "rw": "S2AP_RW"}
# Where a case's steps may run at EL2 (`el2 = ...`): "nvhe", the EL2 regime with HCR_EL2.E2H = 0
# (TTBR0_EL2, TCR_EL2 and SCTLR_EL2 in their EL2 layouts; no EL0, no ASID); "vhe", the EL2&0
# regime with E2H = TGE = 1 (FEAT_VHE: TCR_EL2 and SCTLR_EL2 in the EL1 layouts, two VA ranges,
# ASIDs, EL0 steps under TGE), in a boot of its own (Case.boot).
EL2_MODES = ("nvhe", "vhe")
# Fix-ups of a faulting access before its retry (kernel/fixup.c): demand paging (map the
# missing page), copy-on-write (copy the frame, map the copy writable, TLBI), the Access
# flag set in software.
FIXUP_KINDS = ("map", "copy", "set_af")
