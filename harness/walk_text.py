"""A step's walk records (docs/protocol.md) in the Arm ARM's words, one line per level:

    L0[0] table 0x400a2000
    L1[2] table 0x400a6000
    L2[0] table 0x400a7000
    L3[0] page 0x41000000 AttrIndx=1 SH=inner AF=0 AP=ro_el1 DBM

Descriptor fields are decoded with the names of kernel/pgtable-hwdef.h (read
through harness/kdefs.py), in the descriptor format of the regime and the
granule of the table walked (FEAT_LPA's with the 64K granule and a 52-bit
IPS, FEAT_LPA2's with DS = 1; Arm ARM D8.3).  The text describes what the
descriptors say, not whether the hardware may use them (which levels may hold
a block is the model's business).
"""
from harness import geometry
from harness.cases import AP_NAMES, APTABLE_NAMES, S2AP_NAMES, SH_NAMES
from harness.kdefs import kernel_header, read_constants

HW = read_constants(kernel_header("pgtable-hwdef.h"))

_AP = {HW[c]: name for name, c in AP_NAMES.items()}
_APTABLE = {HW[c]: name for name, c in APTABLE_NAMES.items()}
_SH = {HW[c]: name for name, c in SH_NAMES.items()}
_S2AP = {HW[c]: name for name, c in S2AP_NAMES.items()}

# Single-bit attributes shown by name when set, in descriptor bit order.
_LEAF_FLAGS = (("PTE_NG", "nG"), ("PTE_DBM", "DBM"), ("PTE_CONT", "Contiguous"), ("PTE_PXN", "PXN"),
               ("PTE_UXN", "UXN"))
_TABLE_FLAGS = (("TABLE_PXN", "PXNTable"), ("TABLE_UXN", "UXNTable"), ("TABLE_NS", "NSTable"))


def _field(desc, mask):
    return (desc & mask) >> ((mask & -mask).bit_length() - 1)


def _granule(regime, va):
    """The granule shift of the tables that walk VA: TTBR1's when bit 55 is set."""
    if regime.tg0 != regime.tg1 and va is None:
        raise ValueError("TTBR0 and TTBR1 tables have different granules here: name the step's VA")
    return regime.tg1 if va is not None and va >> 55 & 1 else regime.tg0


def output_address(desc, regime, granule_shift):
    """The output (or next-level table) address a descriptor holds, in the regime's format."""
    if granule_shift == 16 and regime.ips_bits == 52:
        return (desc & HW["DESC_OA_MASK"](granule_shift)) | \
            _field(desc, HW["DESC_OA52_LPA_MASK"]) << 48
    if granule_shift != 16 and regime.ds:
        return (desc & HW["DESC_OA_DS_MASK"](granule_shift)) | \
            _field(desc, HW["DESC_OA52_DS_MASK"]) << 50
    return desc & HW["DESC_OA_MASK"](granule_shift)


def _flags(desc, names):
    return [text for name, text in names if desc & HW[name]]


def _leaf(kind, desc, level, regime, granule_shift):
    base = output_address(desc, regime, granule_shift) & ~(geometry.block_size(granule_shift, level) - 1)
    words = [f"{kind} {base:#x}", f"AttrIndx={_field(desc, HW['PTE_ATTRINDX_MASK'])}"]
    if not (granule_shift != 16 and regime.ds):      # with DS, bits[9:8] are OA[51:50] and TCR_EL1.SHx applies
        sh = _field(desc, HW["PTE_SH_MASK"])
        words.append(f"SH={_SH.get(sh, f'reserved({sh:#04b})')}")
    words += [f"AF={int(bool(desc & HW['PTE_AF']))}", f"AP={_AP[_field(desc, HW['PTE_AP_MASK'])]}"]
    return " ".join(words + _flags(desc, _LEAF_FLAGS))


def _descriptor(desc, level, regime, granule_shift):
    valid, type_bit = desc & HW["DESC_VALID"], desc & HW["DESC_TABLE"]
    if not valid:
        return "invalid" if desc == 0 else f"invalid ({desc:#x})"
    if level < 3 and type_bit:
        words = [f"table {output_address(desc, regime, granule_shift):#x}"]
        aptable = _field(desc, HW["TABLE_AP_MASK"])
        if aptable:
            words.append(f"APTable={_APTABLE[aptable]}")
        return " ".join(words + _flags(desc, _TABLE_FLAGS))
    if level < 3:
        return _leaf("block", desc, level, regime, granule_shift)
    if type_bit:
        return _leaf("page", desc, level, regime, granule_shift)
    return f"reserved ({desc:#x}: bits[1:0] = 0b01 at level 3)"


def _s2_descriptor(desc, level, granule_shift):
    """A stage 2 descriptor (48-bit format): MemAttr, S2AP, SH, AF and XN in place of stage 1's fields."""
    if not desc & HW["DESC_VALID"]:
        return "invalid" if desc == 0 else f"invalid ({desc:#x})"
    oa = desc & HW["DESC_OA_MASK"](granule_shift)
    if level < 3 and desc & HW["DESC_TABLE"]:
        return f"table {oa:#x}"
    if level == 3 and not desc & HW["DESC_PAGE"]:
        return f"reserved ({desc:#x}: bits[1:0] = 0b01 at level 3)"
    base = oa & ~(geometry.block_size(granule_shift, level) - 1)
    sh = _field(desc, HW["PTE_SH_MASK"])
    words = [f"{'page' if level == 3 else 'block'} {base:#x}", f"MemAttr={_field(desc, HW['S2_MEMATTR_MASK']):#x}",
             f"S2AP={_S2AP[_field(desc, HW['S2_AP_MASK'])]}", f"SH={_SH.get(sh, f'reserved({sh:#04b})')}",
             f"AF={int(bool(desc & HW['PTE_AF']))}", f"XN={_field(desc, HW['S2_XN_MASK']):#04b}"]
    return " ".join(words + _flags(desc, (("PTE_DBM", "DBM"), ("PTE_CONT", "Contiguous"))))


def describe_walk(records, regime, va=None, stage2=None):
    """One line per walk record (protocol Records of event `walk`, in walk order)
    of `regime` (harness.cases.Regime); `va`, the step's VA, picks the TTBR's
    granule when TTBR0 and TTBR1 differ.  Records of the stage 2 walk of the
    IPA (`stage=2`) are described with the case's stage 2 (harness.cases.Stage2),
    "S2 L1[2] ...".  [] when no descriptor was read."""
    granule_shift = _granule(regime, va)
    lines = []
    for r in records:
        level = r.num("level")
        if r.fields.get("stage") == 2:
            lines.append(f"S2 L{level}[{r.num('index')}] {_s2_descriptor(r.num('desc'), level, stage2.tg)}")
        else:
            lines.append(f"L{level}[{r.num('index')}] {_descriptor(r.num('desc'), level, regime, granule_shift)}")
    return lines
