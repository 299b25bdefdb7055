"""VMSAv8-64 stage 1 descriptor fields (Arm ARM D8.3 "Translation table
descriptor formats"), named once; the shifts the kernel's header defines as
numbers are read from it (kernel/pgtable-hwdef.h).

The output-address formats: OA[47:shift] in place (48-bit); with FEAT_LPA
(64K granule, 52-bit IPS) OA[51:48] in bits[15:12]; with FEAT_LPA2 (DS = 1)
OA[49:48] join the field and OA[51:50] sit in bits[9:8], where SH was.
"""
from harness.esr import Field
from harness.kdefs import kernel_header, read_defines

_HW = read_defines(kernel_header("pgtable-hwdef.h"))

DESC_VALID = Field(0, 1)
DESC_TYPE = Field(1, 1)                 # 1: table (levels 0-2) or page (level 3); 0: block
DESC_ATTRINDX = Field(_HW["PTE_ATTRINDX_SHIFT"], 3)
DESC_ATTRINDX3 = Field(_HW["PTE_ATTRINDX3_SHIFT"], 1)   # FEAT_AIE: AttrIndx[3] with TCR2_ELx.AIE
DESC_AP = Field(_HW["PTE_AP_SHIFT"], 2)         # AP[2:1]
DESC_SH = Field(_HW["PTE_SH_SHIFT"], 2)
DESC_AF = Field(10, 1)
DESC_NT = Field(16, 1)                  # Block[16]: nT with FEAT_BBML1 (RES0 without; D8.3, D8.7.3)
DESC_NG = Field(11, 1)
DESC_DBM = Field(51, 1)
DESC_CONTIG = Field(52, 1)
DESC_PXN = Field(53, 1)
DESC_UXN = Field(54, 1)
TABLE_PXN = Field(59, 1)
TABLE_UXN = Field(60, 1)
TABLE_AP = Field(_HW["TABLE_AP_SHIFT"], 2)      # APTable[1:0]
DESC_OA_LPA_HI = Field(_HW["DESC_OA52_LPA_SHIFT"], 4)  # OA[51:48], FEAT_LPA
DESC_OA_DS_HI = Field(_HW["DESC_OA52_DS_SHIFT"], 2)    # OA[51:50], FEAT_LPA2

AP2 = 0b10                              # AP[2] within AP[2:1]: read-only

# AP[2:1] and APTable[1:0] by the names cases give them (enum ap, enum aptable in pgtable-hwdef.h).
AP_VALUES = {"rw_el1": 0b00, "rw_all": 0b01, "ro_el1": 0b10, "ro_all": 0b11}
APTABLE_VALUES = {"none": 0b00, "no_el0": 0b01, "ro": 0b10, "ro_no_el0": 0b11}

FINAL_LEVEL = 3


# J1.3 bit-slice helper (descriptor<msb:lsb>) for J1.1.4.9/11/16 NextTableBase, S1LeafBase, S2LeafBase
def _mask(msb, lsb):
    return (1 << (msb + 1)) - (1 << lsb)


# J1.1.4.9 AArch64.NextTableBase, J1.1.4.11 AArch64.S1LeafBase, J1.1.4.16 AArch64.S2LeafBase (no D128)
def desc_oa(params, desc, lsb):
    """The address a table, block or page descriptor holds, bits below `lsb`
    cleared (AArch64.NextTableBase, AArch64.BlockBase / the leaf's OA)."""
    if params.ds:
        return desc & _mask(49, lsb) | DESC_OA_DS_HI.get(desc) << 50
    oa = desc & _mask(47, lsb)
    if params.lpa:
        oa |= DESC_OA_LPA_HI.get(desc) << 48
    return oa


# J1.1.4.65 AArch64.BlockDescSupported (no D128)
def block_desc_supported(params, level):
    """AArch64.BlockDescSupported: the levels where bits[1:0] = 0b01 is a block
    (D128 is not implemented here): 4K levels 1-2 (and 0 with DS), 16K level 2
    (and 1 with DS), 64K level 2 (and 1 when AArch64.PAMax() is 52)."""
    if params.granule == 12:
        return level in (1, 2) or level == 0 and params.ds
    if params.granule == 14:
        return level == 2 or level == 1 and params.ds
    return level == 2 or level == 1 and params.pamax >= 52


TABLE, LEAF, INVALID = "table", "leaf", "invalid"


# J1.1.4.67 AArch64.DecodeDescriptorType (no D128)
def decode_descriptor_type(params, desc, level):
    """AArch64.DecodeDescriptorType: invalid (bit[0] = 0, or a block where
    blocks are not supported, or bits[1:0] = 0b01 at level 3), table, or leaf."""
    if not DESC_VALID.get(desc):
        return INVALID
    if level == FINAL_LEVEL:
        return LEAF if DESC_TYPE.get(desc) else INVALID
    if DESC_TYPE.get(desc):
        return TABLE
    return LEAF if block_desc_supported(params, level) else INVALID


# J1.3.5.63 ContiguousSize (no D128)
def contiguous_size(granule, level):
    """ContiguousSize: log2 of the number of entries a Contiguous group spans."""
    if granule == 12:
        return 4
    if granule == 14:
        return 5 if level == 2 else 7
    return 5
